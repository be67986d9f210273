"""Verify chainseal's DSSE envelopes with python securesystemslib (code we did not write).

usage: verify_dsse.py ENVELOPES.jsonl PUBLIC_KEY.pem

Every signature of every envelope (one JSON object a line) must verify with the key.
Prints the predicate type of each verified envelope.

Exit status (tests tell a rejection from a broken harness by it):
  0  every envelope verified (and there was at least one);
  1  rejected: one line "rejected: <why>" (no envelopes, no signatures, a signature
     that does not verify, an envelope or payload that is not what DSSE/in-toto says);
  2  the check itself could not run (usage, unreadable file or key, unsupported key
     type, a crash): "error: <what>".
"""
import binascii
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey


class Rejected(Exception):
    """The envelopes were read and judged: they do not verify."""


def scheme_for(key) -> str:
    """The securesystemslib scheme matching how chainseal signs with this key type."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ecdsa-sha2-nistp256", "secp384r1": "ecdsa-sha2-nistp384", "secp521r1": "ecdsa-sha2-nistp521"}[key.curve.name]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa-pkcs1v15-sha256"
    raise ValueError(f"unsupported key type {type(key)}")


def load_key(pub_path: str) -> SSlibKey:
    """The public key, as securesystemslib sees it (keyid set per signature later)."""
    with open(pub_path, "rb") as f:
        crypto_key = serialization.load_pem_public_key(f.read())
    return SSlibKey.from_crypto(crypto_key, scheme=scheme_for(crypto_key))


def verify_signature(data: dict, index: int, base: SSlibKey) -> bytes:
    """Verify signature `index` of envelope `data` on its own, with `base`; return
    the payload it signs."""
    signature = data["signatures"][index]
    if not isinstance(signature, dict) or not isinstance(signature.get("sig"), str):
        raise Rejected(f"signature {index + 1} has no `sig` string")
    keyid = signature.get("keyid", "")
    # securesystemslib only tries keys whose keyid equals the signature's
    # (securesystemslib#416); DSSE says keyid is a hint, so bind it here. One
    # signature at a time: securesystemslib stops at the threshold, and refuses two
    # signatures with one keyid.
    key = SSlibKey(keyid, base.keytype, base.scheme, base.keyval)
    single = dict(data, signatures=[dict(signature)])
    try:
        envelope = Envelope.from_dict(single)
        accepted = envelope.verify([key], 1)
    except (VerificationError, ValueError, binascii.Error) as e:
        raise Rejected(f"signature {index + 1} does not verify: {e}") from e
    if keyid not in accepted:
        raise Rejected(f"signature {index + 1} does not verify: key not accepted")
    return envelope.payload


def verify_envelope(line: str, number: int, base: SSlibKey) -> str:
    """Verify every signature of one envelope; return its predicate type."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise Rejected(f"envelope {number} is not JSON: {e}") from e
    if not isinstance(data, dict) or not all(k in data for k in ("payload", "payloadType", "signatures")):
        raise Rejected(f"envelope {number} is not a DSSE envelope (payload, payloadType, signatures)")
    if not isinstance(data["signatures"], list) or not data["signatures"]:
        raise Rejected(f"envelope {number} has no signatures")
    try:
        payloads = [verify_signature(data, i, base) for i in range(len(data["signatures"]))]
    except Rejected as e:
        raise Rejected(f"envelope {number}: {e}") from e
    try:
        statement = json.loads(payloads[0])
        return statement["predicateType"]
    except (ValueError, KeyError, TypeError) as e:
        raise Rejected(f"envelope {number}: the payload is not an in-toto Statement: {e}") from e


def main(envelopes_path: str, pub_path: str) -> int:
    base = load_key(pub_path)
    with open(envelopes_path, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    try:
        if not lines:
            raise Rejected(f"no envelopes in {envelopes_path}")
        types = [verify_envelope(line, n, base) for n, line in enumerate(lines, 1)]
    except Rejected as e:
        print(f"rejected: {e}")
        return 1
    for t in types:
        print(t)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("error: usage: verify_dsse.py ENVELOPES.jsonl PUBLIC_KEY.pem", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(main(sys.argv[1], sys.argv[2]))
    except Exception as e:  # noqa: BLE001 - anything else is the harness failing, not a rejection
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
