"""Verify an image signature kept in Tekton Chains' `tekton` storage (annotations on the
TaskRun) the way a Chains user would, with python `cryptography` (nothing of chainseal).

usage: verify_tekton_image_signature.py RUN.json REPOSITORY IMAGE_DIGEST --key PUBLIC.pem

RUN.json is the TaskRun as the Kubernetes API returns it. For the short key (the first
12 hex digits of IMAGE_DIGEST's hex) the run must carry exactly Chains' four
annotations `chains.tekton.dev/payload-<key>`, `signature-<key>`, `cert-<key>` and
`chain-<key>` (Chains' pkg/chains/storage/tekton): the payload is base64 (standard
alphabet) of a `cosign container image signature` naming REPOSITORY and IMAGE_DIGEST;
the signature is base64 of the raw signature over the payload bytes, by the key; cert
and chain are empty (key-based signing). Exit 0, 1 (`rejected: <why>`) or 2 (crash),
as oracle.py says.
"""

import argparse
import json

from oracle import Rejected, b64decode, load_public_key, main, verify_signature

PREFIX = "chains.tekton.dev/"


def check_payload(payload: bytes, repository: str, digest: str) -> None:
    """The payload is cosign's simple signing claim about `repository@digest`."""
    try:
        critical = json.loads(payload)["critical"]
        kind = critical["type"]
        named = critical["identity"]["docker-reference"]
        signed = critical["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError) as e:
        raise Rejected(f"not a simple signing payload: {e!r}") from None
    if kind != "cosign container image signature":
        raise Rejected(f"payload type is {kind!r}")
    if (named, signed) != (repository, digest):
        raise Rejected(f"the payload names {named}@{signed}, not {repository}@{digest}")


def run():
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("repository")
    parser.add_argument("image_digest")
    parser.add_argument("--key", required=True)
    args = parser.parse_args()

    with open(args.run, encoding="utf-8") as f:
        annotations = (json.load(f).get("metadata") or {}).get("annotations") or {}
    short = args.image_digest.split(":", 1)[1][:12]
    names = {part: f"{PREFIX}{part}-{short}" for part in ("payload", "signature", "cert", "chain")}
    missing = [name for name in names.values() if name not in annotations]
    if missing:
        raise Rejected(f"the run has no annotation {', '.join(missing)}")
    payload = b64decode(annotations[names["payload"]], names["payload"])
    signature = b64decode(annotations[names["signature"]], names["signature"])
    for part in ("cert", "chain"):
        if annotations[names[part]] != "":
            raise Rejected(f"{names[part]} is not empty for a key-based signature")
    check_payload(payload, args.repository, args.image_digest)
    verify_signature(load_public_key(args.key), signature, payload, names["signature"])
    print(f"verified the tekton-stored signature of {args.repository}@{args.image_digest}")


if __name__ == "__main__":
    main(run)
