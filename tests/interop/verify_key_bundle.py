"""Verify a key-signed Sigstore bundle (verification material `publicKey`, no
certificate) with python `cryptography`, nothing of chainseal.

sigstore-python 4.x verifies only certificate bundles (`Bundle.from_json` refuses a
bundle without a certificate: "expected certificate in bundle"), so this checks what
cosign's key-based bundle verification checks:

usage: verify_key_bundle.py BUNDLE PUBLIC.pem [--subject-digest sha256:HEX] [--trusted-root trusted_root.json]

* the media type is a Sigstore bundle v0.x and the material is a public-key hint that
  is the base64 SHA-256 of the key's DER (the key named is this key);
* every DSSE signature verifies over PAE(payloadType, payload) with the key;
* with --subject-digest, the in-toto Statement names that digest among its subjects;
* each tlog entry (required to be there, and checked, when --trusted-root is given):
  its inclusion promise (SignedEntryTimestamp) verifies with the log key the trusted
  root names for its log id, over the canonical JSON of {body, integratedTime, logID,
  logIndex}; its `dsse` body has the envelope's payload hash and signatures, with this
  key as verifier.
Exit 0, 1 (`rejected: <why>`) or 2 (crash), as oracle.py says.
"""

import argparse
import base64
import hashlib
import json

from cryptography.hazmat.primitives import serialization

from oracle import (
    Rejected,
    b64decode,
    load_public_key,
    main,
    pae,
    public_der,
    sha256_hex,
    trusted_root_log_keys,
    verify_signature,
)
from verify_cosign_bundle import check_set


def check_tlog(entry: dict, envelope: dict, payload: bytes, key, keys: dict, where: str) -> None:
    kind = (entry.get("kindVersion") or {}).get("kind")
    if kind != "dsse":
        raise Rejected(f"{where}: entry kind {kind!r}, not dsse")
    try:
        promise = {
            "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
            "Payload": {
                "body": entry["canonicalizedBody"],
                "integratedTime": int(entry["integratedTime"]),
                "logID": base64.b64decode(entry["logId"]["keyId"]).hex(),
                "logIndex": int(entry["logIndex"]),
            },
        }
    except (KeyError, TypeError, ValueError) as e:
        raise Rejected(f"{where}: the entry lacks {e!r}") from None
    body = check_set(promise, keys, where)
    spec = body.get("spec") or {}
    if spec.get("payloadHash") != {"algorithm": "sha256", "value": sha256_hex(payload)}:
        raise Rejected(f"{where}: the entry's payload hash is not the envelope's")
    logged = spec.get("signatures") or []
    if [s.get("signature") for s in logged] != [s["sig"] for s in envelope["signatures"]]:
        raise Rejected(f"{where}: the entry's signatures are not the envelope's")
    for s in logged:
        verifier = b64decode(s.get("verifier", ""), f"{where}: entry verifier")
        if public_der(serialization.load_pem_public_key(verifier)) != public_der(key):
            raise Rejected(f"{where}: the entry's verifier is not the bundle's key")


def run():
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle")
    parser.add_argument("key")
    parser.add_argument("--subject-digest")
    parser.add_argument("--trusted-root")
    args = parser.parse_args()

    key = load_public_key(args.key)
    with open(args.bundle, encoding="utf-8") as f:
        bundle = json.load(f)
    media_type = bundle.get("mediaType", "")
    if not media_type.startswith("application/vnd.dev.sigstore.bundle"):
        raise Rejected(f"media type {media_type!r} is not a Sigstore bundle")
    material = bundle.get("verificationMaterial") or {}
    if "certificate" in material or "x509CertificateChain" in material:
        raise Rejected("the bundle carries a certificate: not a key-signed bundle")
    hint = (material.get("publicKey") or {}).get("hint")
    if hint != base64.b64encode(hashlib.sha256(public_der(key)).digest()).decode():
        raise Rejected(f"the bundle's public-key hint {hint!r} does not name this key")

    envelope = bundle.get("dsseEnvelope") or {}
    payload = b64decode(envelope.get("payload", ""), "the envelope payload")
    signatures = envelope.get("signatures") or []
    if not signatures:
        raise Rejected("the envelope has no signature")
    for i, s in enumerate(signatures):
        sig = b64decode(s.get("sig", ""), f"signature {i}")
        verify_signature(key, sig, pae(envelope.get("payloadType", ""), payload), f"DSSE signature {i}")

    if args.subject_digest:
        algorithm, _, value = args.subject_digest.partition(":")
        subjects = json.loads(payload).get("subject") or []
        if not any((s.get("digest") or {}).get(algorithm) == value for s in subjects):
            raise Rejected(f"no subject of the Statement has digest {args.subject_digest}")

    entries = material.get("tlogEntries") or []
    if args.trusted_root:
        if not entries:
            raise Rejected("the bundle has no tlog entry")
        keys = trusted_root_log_keys(args.trusted_root)
        for i, entry in enumerate(entries):
            check_tlog(entry, envelope, payload, key, keys, f"tlog entry {i}")
    print(f"verified {len(signatures)} DSSE signature(s), {len(entries) if args.trusted_root else 0} tlog entry(ies)")


if __name__ == "__main__":
    main(run)
