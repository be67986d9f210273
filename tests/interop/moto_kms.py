"""Helpers for the AWS KMS signer test against a moto server.

usage:
  moto_kms.py create ENDPOINT            -> prints "<spec> <key id>" for an ECC_NIST_P256 and an RSA_2048 key
  moto_kms.py public-key ENDPOINT KEY_ID -> prints the key's PEM, from boto3 `get_public_key` (DER)
  moto_kms.py check ENVELOPES PUB RECORDING KEY_ID
      Checks, for the envelope's signature, what real AWS KMS would do. moto ignores
      MessageType=DIGEST and hashes the message again, so a moto signature is a valid
      signature over sha256(digest) and never verifies as a DSSE signature. This checks
      instead that (1) every recorded Sign request carried MessageType=DIGEST, the
      expected SigningAlgorithm and Message = hash(PAE) of our envelope, and (2) moto's
      signature verifies over that digest, i.e. it was made with this key over exactly
      hash(PAE). On real AWS, which signs a DIGEST message without hashing it again, the
      same request yields a standard signature over PAE.
"""
import base64
import hashlib
import json
import sys

import boto3
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def client(endpoint: str):
    return boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def create(endpoint: str) -> None:
    kms = client(endpoint)
    for spec in ("ECC_NIST_P256", "RSA_2048"):
        key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        print(spec, key)


def public_key(endpoint: str, key_id: str) -> None:
    """The key's public key as the service gives it out (DER SubjectPublicKeyInfo), as PEM."""
    der = client(endpoint).get_public_key(KeyId=key_id)["PublicKey"]
    key = serialization.load_der_public_key(der)
    sys.stdout.write(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())


def check(envelopes: str, pub: str, recording: str, key_id: str) -> int:
    with open(pub, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    with open(envelopes, encoding="utf-8") as f:
        env = json.loads(f.readline())
    payload = base64.b64decode(env["payload"])
    ptype = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    digest = hashlib.sha256(pae).digest()
    sig = base64.b64decode(env["signatures"][0]["sig"])
    want_alg = "ECDSA_SHA_256" if isinstance(key, ec.EllipticCurvePublicKey) else "RSASSA_PKCS1_V1_5_SHA_256"

    signs = []
    with open(recording, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec["headers"].get("X-Amz-Target") != "TrentService.Sign":
                continue
            body = rec["body"]
            if rec.get("body_encoded"):
                body = base64.b64decode(body).decode()
            signs.append(json.loads(body))
    ours = [s for s in signs if s.get("KeyId") == key_id and base64.b64decode(s["Message"]) == digest]
    if not ours:
        print(f"no recorded Sign request carried hash(PAE) ({len(signs)} Sign requests)")
        return 1
    for s in ours:
        if s.get("MessageType") != "DIGEST" or s.get("SigningAlgorithm") != want_alg:
            print(f"unexpected Sign request: MessageType={s.get('MessageType')} SigningAlgorithm={s.get('SigningAlgorithm')}")
            return 1
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, digest, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(sig, digest, ec.ECDSA(hashes.SHA256()))
    except Exception as e:  # noqa: BLE001
        print(f"moto's signature does not cover hash(PAE): {e!r}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "create":
        create(sys.argv[2])
    elif sys.argv[1] == "public-key":
        public_key(sys.argv[2], sys.argv[3])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
