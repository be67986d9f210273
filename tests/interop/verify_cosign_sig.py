"""Verify cosign image signatures (`<repo>:sha256-<hex>.sig`) the way cosign does,
with python `cryptography` and plain HTTP reads of the registry (nothing of chainseal).

usage: verify_cosign_sig.py HOST REPO TAG IMAGE_DIGEST (--key PUBLIC.pem | --certificate)

For every layer of the tag's manifest: the media type is cosign's simple signing; the
blob hashes to the layer digest; the payload is a `cosign container image signature`
naming IMAGE_DIGEST; and the `dev.cosignproject.cosign/signature` annotation (base64)
is a signature over the payload bytes by the key (ECDSA P-256 over SHA-256 for cosign
keys), or with --certificate by the key of the layer's
`dev.sigstore.cosign/certificate` annotation. Exit 0, 1 (`rejected: <why>`) or 2
(crash), as oracle.py says.
"""

import argparse
import json

from cryptography import x509

from oracle import Registry, Rejected, b64decode, load_public_key, main, verify_signature

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


def check_payload(blob: bytes, image_digest: str, where: str) -> None:
    try:
        payload = json.loads(blob)
        critical = payload["critical"]
        kind, digest = critical["type"], critical["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError) as e:
        raise Rejected(f"{where}: not a simple signing payload: {e!r}") from None
    if kind != "cosign container image signature":
        raise Rejected(f"{where}: payload type is {kind!r}")
    if digest != image_digest:
        raise Rejected(f"{where}: the payload names {digest}, not {image_digest}")


def run():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("repo")
    parser.add_argument("tag")
    parser.add_argument("image_digest")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--key")
    group.add_argument("--certificate", action="store_true")
    args = parser.parse_args()

    registry = Registry(args.host)
    manifest = registry.manifest(args.repo, args.tag)
    layers = manifest.get("layers") or []
    if not layers:
        raise Rejected(f"{args.repo}:{args.tag} has no signature layer")
    for i, layer in enumerate(layers):
        where = f"{args.repo}:{args.tag} layer {i}"
        if layer.get("mediaType") != SIMPLE_SIGNING:
            raise Rejected(f"{where}: media type {layer.get('mediaType')!r}")
        notes = layer.get("annotations") or {}
        signature = b64decode(notes.get("dev.cosignproject.cosign/signature", ""), f"{where}: the signature")
        if not signature:
            raise Rejected(f"{where}: no signature annotation")
        if args.certificate:
            cert = notes.get("dev.sigstore.cosign/certificate", "")
            if "BEGIN CERTIFICATE" not in cert:
                raise Rejected(f"{where}: no certificate annotation")
            key = x509.load_pem_x509_certificate(cert.encode()).public_key()
        else:
            key = load_public_key(args.key)
        blob = registry.blob(args.repo, layer["digest"])
        check_payload(blob, args.image_digest, where)
        verify_signature(key, signature, blob, where)
    print(f"verified {len(layers)} cosign signature(s) of {args.image_digest}")


if __name__ == "__main__":
    main(run)
