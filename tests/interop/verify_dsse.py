"""Verify chainseal's DSSE envelopes with python securesystemslib (code we did not write).

usage: verify_dsse.py ENVELOPES.jsonl PUBLIC_KEY.pem
Prints the predicate type of each verified envelope; exits 1 on the first failure.
"""
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey


def scheme_for(key) -> str:
    """The securesystemslib scheme matching how chainseal signs with this key type."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ecdsa-sha2-nistp256", "secp384r1": "ecdsa-sha2-nistp384", "secp521r1": "ecdsa-sha2-nistp521"}[key.curve.name]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa-pkcs1v15-sha256"
    raise ValueError(f"unsupported key type {type(key)}")


def main(envelopes_path: str, pub_path: str) -> int:
    with open(pub_path, "rb") as f:
        crypto_key = serialization.load_pem_public_key(f.read())
    base = SSlibKey.from_crypto(crypto_key, scheme=scheme_for(crypto_key))
    with open(envelopes_path, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    for line in lines:
        data = json.loads(line)
        keyid = data["signatures"][0].get("keyid", "")
        # securesystemslib only tries keys whose keyid equals the signature's
        # (securesystemslib#416); DSSE says keyid is a hint, so bind it here.
        key = SSlibKey(keyid, base.keytype, base.scheme, base.keyval)
        envelope = Envelope.from_dict(data)
        try:
            accepted = envelope.verify([key], 1)
        except VerificationError as e:
            print(f"REJECTED: {e}")
            return 1
        if keyid not in accepted:
            print("REJECTED: key not accepted")
            return 1
        statement = json.loads(envelope.payload)
        print(statement["predicateType"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
