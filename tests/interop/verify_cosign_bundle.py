"""Verify cosign's Rekor bundle annotation (`dev.sigstore.cosign/bundle`) on every layer
of a `.sig` or `.att` tag, as cosign does, with python `cryptography` and plain HTTP
reads of the registry (nothing of chainseal).

usage: verify_cosign_bundle.py HOST REPO TAG (--trusted-root trusted_root.json | --rekor-key PUBLIC.pem)

Per layer:
* the SignedEntryTimestamp is the log's ECDSA P-256/SHA-256 signature over the
  canonical JSON (keys sorted, no spaces) of {body, integratedTime, logID, logIndex};
  the log key is the trusted root's tlog whose key id is `logID` (or --rekor-key, which
  must then hash to `logID`);
* the entry body belongs to this layer: `hashedrekord` (a `.sig` layer): the data hash
  is the layer blob's SHA-256, the signature is the layer's signature annotation, the
  public key is its certificate; `dsse` (an `.att` layer): the payload hash is the
  envelope payload's SHA-256, the signatures are the envelope's, each with the
  certificate as verifier.
Exit 0, 1 (`rejected: <why>`) or 2 (crash), as oracle.py says.
"""

import argparse
import json

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from oracle import (
    Registry,
    Rejected,
    b64decode,
    load_public_key,
    main,
    public_der,
    sha256_hex,
    trusted_root_log_keys,
    verify_signature,
)


def log_keys(args):
    """log id (hex) -> log public key."""
    if args.rekor_key:
        key = load_public_key(args.rekor_key)
        return {sha256_hex(public_der(key)): key}
    return trusted_root_log_keys(args.trusted_root)


def certificate_der(pem_text: str, where: str) -> bytes:
    try:
        return x509.load_pem_x509_certificate(pem_text.encode()).public_bytes(serialization.Encoding.DER)
    except ValueError as e:
        raise Rejected(f"{where}: not a PEM certificate: {e}") from None


def check_set(bundle: dict, keys: dict, where: str) -> dict:
    """Verify the SignedEntryTimestamp; return the decoded entry body."""
    try:
        payload = bundle["Payload"]
        signed = {
            "body": payload["body"],
            "integratedTime": payload["integratedTime"],
            "logID": payload["logID"],
            "logIndex": payload["logIndex"],
        }
        set_sig = b64decode(bundle["SignedEntryTimestamp"], f"{where}: the SignedEntryTimestamp")
    except (KeyError, TypeError) as e:
        raise Rejected(f"{where}: the bundle lacks {e}") from None
    if not all(isinstance(signed[k], int) for k in ("integratedTime", "logIndex")):
        raise Rejected(f"{where}: integratedTime and logIndex must be integers")
    key = keys.get(signed["logID"])
    if key is None:
        raise Rejected(f"{where}: the entry was logged by an unknown log {signed['logID']}")
    canonical = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    verify_signature(key, set_sig, canonical, f"{where}: SignedEntryTimestamp")
    try:
        return json.loads(b64decode(signed["body"], f"{where}: the body"))
    except ValueError as e:
        raise Rejected(f"{where}: the body is not JSON: {e}") from None


def check_hashedrekord(body: dict, blob: bytes, notes: dict, cert_der: bytes, where: str) -> None:
    spec = body.get("spec") or {}
    data_hash = (spec.get("data") or {}).get("hash") or {}
    if data_hash != {"algorithm": "sha256", "value": sha256_hex(blob)}:
        raise Rejected(f"{where}: the entry's data hash {data_hash} is not the layer's")
    signature = spec.get("signature") or {}
    if b64decode(signature.get("content", ""), f"{where}: entry signature") != b64decode(
        notes.get("dev.cosignproject.cosign/signature", ""), f"{where}: signature annotation"
    ):
        raise Rejected(f"{where}: the entry's signature is not the layer's")
    logged = b64decode((signature.get("publicKey") or {}).get("content", ""), f"{where}: entry key").decode()
    if certificate_der(logged, where) != cert_der:
        raise Rejected(f"{where}: the entry's certificate is not the layer's")


def check_dsse(body: dict, blob: bytes, cert_der: bytes, where: str) -> None:
    spec = body.get("spec") or {}
    try:
        envelope = json.loads(blob)
        payload = b64decode(envelope["payload"], f"{where}: envelope payload")
        sigs = [s["sig"] for s in envelope["signatures"]]
    except (ValueError, KeyError, TypeError) as e:
        raise Rejected(f"{where}: the layer is not a DSSE envelope: {e!r}") from None
    if spec.get("payloadHash") != {"algorithm": "sha256", "value": sha256_hex(payload)}:
        raise Rejected(f"{where}: the entry's payload hash {spec.get('payloadHash')} is not the envelope's")
    logged = spec.get("signatures") or []
    if [s.get("signature") for s in logged] != sigs:
        raise Rejected(f"{where}: the entry's signatures are not the envelope's")
    for s in logged:
        verifier = b64decode(s.get("verifier", ""), f"{where}: entry verifier").decode()
        if certificate_der(verifier, where) != cert_der:
            raise Rejected(f"{where}: the entry's verifier is not the layer's certificate")


def run():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("repo")
    parser.add_argument("tag")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--trusted-root")
    group.add_argument("--rekor-key")
    args = parser.parse_args()

    keys = log_keys(args)
    registry = Registry(args.host)
    layers = registry.manifest(args.repo, args.tag).get("layers") or []
    if not layers:
        raise Rejected(f"{args.repo}:{args.tag} has no layer")
    for i, layer in enumerate(layers):
        where = f"{args.repo}:{args.tag} layer {i}"
        notes = layer.get("annotations") or {}
        if not notes.get("dev.sigstore.cosign/bundle"):
            raise Rejected(f"{where}: no dev.sigstore.cosign/bundle annotation")
        try:
            bundle = json.loads(notes["dev.sigstore.cosign/bundle"])
        except ValueError as e:
            raise Rejected(f"{where}: the bundle annotation is not JSON: {e}") from None
        body = check_set(bundle, keys, where)
        cert_der = certificate_der(notes.get("dev.sigstore.cosign/certificate", ""), where)
        blob = registry.blob(args.repo, layer["digest"])
        kind = body.get("kind")
        if kind == "hashedrekord":
            check_hashedrekord(body, blob, notes, cert_der, where)
        elif kind == "dsse":
            check_dsse(body, blob, cert_der, where)
        else:
            raise Rejected(f"{where}: unexpected entry kind {kind!r}")
        print(f"verified {where}: {kind} entry {bundle['Payload']['logIndex']}")


if __name__ == "__main__":
    main(run)
