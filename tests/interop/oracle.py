"""Shared plumbing of the independent oracles in tests/interop/ (verify_cosign_sig.py,
verify_cosign_bundle.py, verify_key_bundle.py, kms_double_check.py).

Every oracle ends the same way so that a test can tell a verdict from a crash:
exit 0 after printing what it verified; exit 1 after one line
`rejected: <why>` when what it checks does not verify; exit 2 or more when it
could not check at all (bad arguments, unreachable registry, a bug: a traceback).
"""

import base64
import hashlib
import json
import sys
import traceback
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa


class Rejected(Exception):
    """What was checked does not verify (exit 1), as opposed to a crash (exit 2)."""


def main(run) -> None:
    """Run `run()` and exit 0, 1 (`rejected: <why>`) or 2 (a traceback)."""
    try:
        run()
    except Rejected as e:
        print(f"rejected: {e}", flush=True)
        sys.exit(1)
    except SystemExit:
        raise
    except BaseException:  # noqa: BLE001 - any other failure is a crash, not a verdict
        traceback.print_exc()
        sys.exit(2)
    sys.exit(0)


def load_public_key(path: str):
    """A PEM public key, or the public key of a PEM certificate."""
    with open(path, "rb") as f:
        data = f.read()
    if b"BEGIN CERTIFICATE" in data:
        from cryptography import x509

        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def verify_signature(key, signature: bytes, data: bytes, what: str) -> None:
    """Check `signature` over `data` the way cosign and DSSE verifiers do for this key
    type (ECDSA and RSA PKCS#1 v1.5 over SHA-256 for P-256 and RSA, SHA-384/512 for
    P-384/521, Ed25519 over the message); raise Rejected naming `what` otherwise."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            digest = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]
            key.verify(signature, data, ec.ECDSA(digest))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            raise Rejected(f"{what}: unsupported key type {type(key).__name__}")
    except InvalidSignature:
        raise Rejected(f"{what}: the signature does not verify with the given key") from None


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as e:
        raise Rejected(f"{what} is not base64: {e}") from None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Registry:
    """A plain-HTTP OCI distribution registry read with urllib (no chainseal, no
    skopeo): manifests by tag or digest, blobs checked against their digest."""

    def __init__(self, host: str):
        self.base = f"http://{host}/v2"

    def _get(self, url: str, accept: str = "") -> bytes:
        request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def manifest(self, repo: str, reference: str) -> dict:
        accept = "application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json"
        return json.loads(self._get(f"{self.base}/{repo}/manifests/{reference}", accept))

    def blob(self, repo: str, digest: str) -> bytes:
        data = self._get(f"{self.base}/{repo}/blobs/{digest}")
        if "sha256:" + sha256_hex(data) != digest:
            raise Rejected(f"blob {digest} does not hash to its digest")
        return data


def trusted_root_log_keys(path: str) -> dict:
    """Transparency log id (hex) -> log public key, from a Sigstore trusted_root.json."""
    with open(path, encoding="utf-8") as f:
        root = json.load(f)
    return {
        base64.b64decode(t["logId"]["keyId"]).hex(): serialization.load_der_public_key(
            base64.b64decode(t["publicKey"]["rawBytes"])
        )
        for t in root.get("tlogs", [])
    }
