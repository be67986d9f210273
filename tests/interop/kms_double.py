"""Loopback HTTP doubles of GCP Cloud KMS and Azure Key Vault for the signer tests.

No emulator exists for either service, so this file speaks the REST wire API that the
official Rust clients call (google-cloud-kms-v1, azure_security_keyvault_keys) and
the token endpoints their credential libraries call (google-cloud-auth's authorized
user refresh; azure_identity's App Service managed identity). It holds real keys made
at start-up and produces real signatures with python `cryptography`, so a signature
is only accepted by a verifier if the client sent the right digest.

    python kms_double.py gcp   DIR    # HTTP; serves Cloud KMS v1 and an OAuth2 token endpoint
    python kms_double.py azure DIR    # HTTPS vault (test CA in DIR/ca.pem) + HTTP identity endpoint

It writes DIR/<key>.pub (PEM public key of the version a client should pick),
appends every API request to DIR/requests.jsonl, and prints one line of JSON with
its addresses when ready. It is a double: only the calls and fields the signers use
are implemented, with the services' error shapes for the failures the tests provoke.

Keys sign as their type says: RSA_SIGN_PSS_* versions (Cloud KMS) and PS256/384/512
requests (Key Vault) with RSASSA-PSS (MGF1 with the digest's hash, salt as long as the
digest), RSA_SIGN_PKCS1_* and RS256/384/512 with PKCS#1 v1.5; `kms_double_check.py`
checks that independently.
"""

import base64
import datetime
import http.server
import ipaddress
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.x509.oid import NameOID

TOKENS = set()
LOCK = threading.Lock()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as Cloud KMS computes it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def pem_public(key) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    out_dir = "."

    def log_message(self, *args):  # keep test output quiet
        pass

    def record(self, body):
        entry = {
            "method": self.command,
            "path": self.path,
            "authorized": self.headers.get("Authorization") is not None,
            "body": body,
        }
        with LOCK, open(os.path.join(self.out_dir, "requests.jsonl"), "a") as f:
            f.write(json.dumps(entry) + "\n")

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def bearer_ok(self):
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in TOKENS


# ---------------------------------------------------------------- GCP Cloud KMS

GCP_RING = "projects/p/locations/global/keyRings/r/cryptoKeys"


def gcp_keys():
    """key name -> {version number -> (algorithm, state, private key)}."""
    p256 = lambda: ec.generate_private_key(ec.SECP256R1())  # noqa: E731
    return {
        # Three versions: the newest ENABLED one (2) is the default.
        "ec256": {
            1: ("EC_SIGN_P256_SHA256", "ENABLED", p256()),
            2: ("EC_SIGN_P256_SHA256", "ENABLED", p256()),
            3: ("EC_SIGN_P256_SHA256", "DISABLED", p256()),
        },
        "ec384": {1: ("EC_SIGN_P384_SHA384", "ENABLED", ec.generate_private_key(ec.SECP384R1()))},
        "rsa2048": {
            1: (
                "RSA_SIGN_PKCS1_2048_SHA256",
                "ENABLED",
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
            )
        },
        "ed25519": {1: ("EC_SIGN_ED25519", "ENABLED", ed25519.Ed25519PrivateKey.generate())},
        "pss": {
            1: (
                "RSA_SIGN_PSS_2048_SHA256",
                "ENABLED",
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
            )
        },
    }


# Enum numbers of google.cloud.kms.v1, for clients asking `$alt=json;enum-encoding=int`.
GCP_ENUMS = {
    "RSA_SIGN_PSS_2048_SHA256": 2,
    "RSA_SIGN_PSS_3072_SHA256": 3,
    "RSA_SIGN_PSS_4096_SHA256": 4,
    "RSA_SIGN_PSS_4096_SHA512": 15,
    "RSA_SIGN_PKCS1_2048_SHA256": 5,
    "RSA_SIGN_PKCS1_3072_SHA256": 6,
    "RSA_SIGN_PKCS1_4096_SHA256": 7,
    "RSA_SIGN_PKCS1_4096_SHA512": 16,
    "EC_SIGN_P256_SHA256": 12,
    "EC_SIGN_P384_SHA384": 13,
    "EC_SIGN_ED25519": 40,
    "ENABLED": 1,
    "DISABLED": 2,
    "SOFTWARE": 1,
}


HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


def pss(hash_alg):
    """RSASSA-PSS as Cloud KMS (RSA_SIGN_PSS_*) and Key Vault (PS256/384/512) sign:
    MGF1 with the message digest's hash, salt as long as the digest."""
    return padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)


def gcp_sign(algorithm, key, digest, hash_alg):
    """Sign `digest` as the key version's algorithm says (ECDSA, RSA PSS or PKCS#1)."""
    if algorithm.startswith("EC_SIGN"):
        return key.sign(digest, ec.ECDSA(utils.Prehashed(hash_alg)))
    if algorithm.startswith("RSA_SIGN_PSS_"):
        return key.sign(digest, pss(hash_alg), utils.Prehashed(hash_alg))
    if algorithm.startswith("RSA_SIGN_PKCS1_"):
        return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hash_alg))
    raise ValueError(f"the double cannot sign with {algorithm}")


class Gcp(Handler):
    keys = {}

    def enum(self, name):
        """An enum value as the client asked for it: its name, or its number."""
        alt = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("$alt", [""])[0]
        return GCP_ENUMS[name] if "enum-encoding=int" in alt else name

    def gcp_error(self, status, code, message):
        self.reply(status, {"error": {"code": status, "message": message, "status": code}})

    def version(self, name):
        """(key, number, entry) for `GCP_RING/<key>/cryptoKeyVersions/<n>`."""
        if not name.startswith(GCP_RING + "/"):
            return None
        parts = name[len(GCP_RING) + 1 :].split("/")
        if len(parts) != 3 or parts[1] != "cryptoKeyVersions" or not parts[2].isdigit():
            return None
        entry = self.keys.get(parts[0], {}).get(int(parts[2]))
        return (parts[0], int(parts[2]), entry) if entry else None

    def usable_version(self, name, permission):
        """The (algorithm, key) of an enabled version, or None after an error reply."""
        if "/cryptoKeys/denied/" in name:
            self.gcp_error(403, "PERMISSION_DENIED", f"Permission 'cloudkms.cryptoKeyVersions.{permission}' denied on resource '{name}'.")
            return None
        found = self.version(name)
        if not found:
            self.gcp_error(404, "NOT_FOUND", f"CryptoKeyVersion {name} not found.")
            return None
        _, _, (algorithm, state, key) = found
        if state != "ENABLED":
            self.gcp_error(400, "FAILED_PRECONDITION", f"{name} is not enabled, current state is: {state}.")
            return None
        return algorithm, key

    def do_POST(self):
        body = self.body()
        self.record(body)
        path = urllib.parse.urlparse(self.path).path
        if path == "/token":
            if (body or {}).get("grant_type") != "refresh_token" or body.get("refresh_token") != "double-refresh":
                return self.reply(400, {"error": "invalid_grant"})
            token = "gcp-" + secrets.token_hex(8)
            TOKENS.add(token)
            return self.reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})
        if not self.bearer_ok():
            return self.gcp_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if not path.startswith("/v1/") or not path.endswith(":asymmetricSign"):
            return self.gcp_error(404, "NOT_FOUND", f"no route {path}")
        name = path[4 : -len(":asymmetricSign")]
        usable = self.usable_version(name, "useToSign")
        if not usable:
            return
        algorithm, key = usable
        if algorithm == "EC_SIGN_ED25519":
            data = base64.b64decode(body.get("data", ""))
            verified = "dataCrc32c" in body and int(body["dataCrc32c"]) == crc32c(data)
            sig = key.sign(data)
            fields = {"verifiedDataCrc32c": verified}
        else:
            digest_field = body.get("digest") or {}
            want = algorithm.rsplit("_", 1)[-1].lower()  # ..._SHA256 -> sha256
            if list(digest_field) != [want]:
                return self.gcp_error(400, "INVALID_ARGUMENT", f"The digest type must be {want} for {algorithm}.")
            digest = base64.b64decode(digest_field[want])
            hash_alg = HASHES[want]
            if len(digest) != hash_alg.digest_size:
                return self.gcp_error(400, "INVALID_ARGUMENT", f"The {want} digest must be {hash_alg.digest_size} bytes.")
            verified = "digestCrc32c" in body and int(body["digestCrc32c"]) == crc32c(digest)
            sig = gcp_sign(algorithm, key, digest, hash_alg)
            fields = {"verifiedDigestCrc32c": verified}
        self.reply(
            200,
            {
                "signature": b64(sig),
                "signatureCrc32c": str(crc32c(sig)),
                "name": name,
                "protectionLevel": self.enum("SOFTWARE"),
                **fields,
            },
        )

    def do_GET(self):
        self.record(None)
        url = urllib.parse.urlparse(self.path)
        if not self.bearer_ok():
            return self.gcp_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        path = url.path
        if path.endswith("/publicKey"):
            name = path[4 : -len("/publicKey")]
            usable = self.usable_version(name, "viewPublicKey")
            if not usable:
                return
            algorithm, key = usable
            pem = pem_public(key)
            return self.reply(
                200,
                {
                    "pem": pem,
                    "algorithm": self.enum(algorithm),
                    "pemCrc32c": str(crc32c(pem.encode())),
                    "name": name,
                    "protectionLevel": self.enum("SOFTWARE"),
                },
            )
        if path.endswith("/cryptoKeyVersions"):
            parent = path[4 : -len("/cryptoKeyVersions")]
            key = parent[len(GCP_RING) + 1 :] if parent.startswith(GCP_RING + "/") else None
            if key == "denied":
                return self.gcp_error(403, "PERMISSION_DENIED", f"Permission 'cloudkms.cryptoKeyVersions.list' denied on resource '{parent}'.")
            if key not in self.keys:
                return self.gcp_error(404, "NOT_FOUND", f"CryptoKey {parent} not found.")
            wanted = urllib.parse.parse_qs(url.query).get("filter", [""])[0]
            versions = [
                {"name": f"{parent}/cryptoKeyVersions/{n}", "state": self.enum(state), "algorithm": self.enum(algorithm)}
                for n, (algorithm, state, _) in sorted(self.keys[key].items())
                if wanted in ("", f"state={state}")
            ]
            return self.reply(200, {"cryptoKeyVersions": versions, "totalSize": len(versions)})
        self.gcp_error(404, "NOT_FOUND", f"no route {path}")


def serve_gcp(out_dir):
    Gcp.keys = gcp_keys()
    Gcp.out_dir = out_dir
    for key, versions in Gcp.keys.items():
        newest = max(n for n, (_, state, _) in versions.items() if state == "ENABLED")
        for n, (_, _, private) in versions.items():
            with open(os.path.join(out_dir, f"{key}-v{n}.pub"), "w") as f:
                f.write(pem_public(private))
        with open(os.path.join(out_dir, f"{key}.pub"), "w") as f:
            f.write(pem_public(versions[newest][2]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gcp)
    port = server.server_address[1]
    print(json.dumps({"endpoint": f"http://127.0.0.1:{port}", "token_uri": f"http://127.0.0.1:{port}/token"}), flush=True)
    server.serve_forever()


# ------------------------------------------------------------ Azure Key Vault

VAULT_RESOURCE = "https://vault.azure.net"
IDENTITY_HEADER = "double-identity-secret"


class AzureIdentity(Handler):
    """App Service managed identity endpoint (`IDENTITY_ENDPOINT`)."""

    def do_GET(self):
        self.record(None)
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return self.reply(401, {"error": "invalid_request", "error_description": "bad X-IDENTITY-HEADER"})
        if query.get("resource") != [VAULT_RESOURCE]:
            return self.reply(400, {"error": "invalid_resource", "error_description": f"unexpected resource {query.get('resource')}"})
        token = "azure-" + secrets.token_hex(8)
        TOKENS.add(token)
        self.reply(
            200,
            {"access_token": token, "expires_on": str(int(time.time()) + 3600), "token_type": "Bearer", "resource": VAULT_RESOURCE},
        )


def azure_keys():
    """key name -> [(version, private key)], oldest first; the last is current."""
    return {
        "ec256": [("0ld0ld", ec.generate_private_key(ec.SECP256R1())), ("c0ffee", ec.generate_private_key(ec.SECP256R1()))],
        "ec384": [("a1", ec.generate_private_key(ec.SECP384R1()))],
        "ec521": [("b2", ec.generate_private_key(ec.SECP521R1()))],
        "rsa2048": [("c3", rsa.generate_private_key(public_exponent=65537, key_size=2048))],
    }


def jwk(kid, key):
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        size = (public.curve.key_size + 7) // 8
        numbers = public.public_numbers()
        crv = {256: "P-256", 384: "P-384", 521: "P-521"}[public.curve.key_size]
        return {"kid": kid, "kty": "EC", "crv": crv, "x": b64url(numbers.x.to_bytes(size, "big")), "y": b64url(numbers.y.to_bytes(size, "big")), "key_ops": ["sign", "verify"]}
    numbers = public.public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    return {"kid": kid, "kty": "RSA", "n": b64url(n), "e": b64url(numbers.e.to_bytes(3, "big")), "key_ops": ["sign", "verify"]}


class Azure(Handler):
    keys = {}
    base = ""

    def vault_error(self, status, code, message):
        self.reply(status, {"error": {"code": code, "message": message}})

    def authorize(self):
        if self.bearer_ok():
            return True
        self.vault_error(
            401,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        )
        return False

    def send_response(self, code, message=None):
        super().send_response(code, message)
        if code == 401:
            self.send_header(
                "WWW-Authenticate",
                f'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="{VAULT_RESOURCE}"',
            )

    def find(self, name, version):
        versions = self.keys.get(name)
        if not versions:
            return None
        if not version:
            return versions[-1]
        return next((v for v in versions if v[0] == version), None)

    def route(self):
        url = urllib.parse.urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = urllib.parse.parse_qs(url.query)
        return parts, query

    def do_GET(self):
        self.record(None)
        if not self.authorize():
            return
        parts, _ = self.route()
        if len(parts) not in (2, 3) or parts[0] != "keys":
            return self.vault_error(404, "NotFound", f"no route {self.path}")
        if parts[1] == "denied":
            return self.vault_error(403, "Forbidden", "The user, group or application does not have keys get permission on key vault.")
        found = self.find(parts[1], parts[2] if len(parts) == 3 else "")
        if not found:
            return self.vault_error(404, "KeyNotFound", f"A key with (name/id) {'/'.join(parts[1:])} was not found in this key vault.")
        version, key = found
        self.reply(200, {"key": jwk(f"{self.base}/keys/{parts[1]}/{version}", key), "attributes": {"enabled": True}})

    def do_POST(self):
        body = self.body()
        self.record(body)
        if not self.authorize():
            return
        parts, _ = self.route()
        if len(parts) not in (3, 4) or parts[0] != "keys" or parts[-1] != "sign":
            return self.vault_error(404, "NotFound", f"no route {self.path}")
        found = self.find(parts[1], parts[2] if len(parts) == 4 else "")
        if not found:
            return self.vault_error(404, "KeyNotFound", f"A key with (name/id) {parts[1]} was not found in this key vault.")
        version, key = found
        alg = (body or {}).get("alg")
        digest = unb64url((body or {}).get("value", ""))
        hash_alg = HASHES.get("sha" + str(alg)[2:]) if str(alg)[:2] in ("ES", "RS", "PS") else None
        if hash_alg is None or len(digest) != hash_alg.digest_size:
            return self.vault_error(400, "BadParameter", f"Invalid algorithm {alg} or digest length {len(digest)}.")
        if isinstance(key, ec.EllipticCurvePrivateKey):
            expected = {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]
            if alg != expected:
                return self.vault_error(400, "BadParameter", f"Key and signing algorithm are incompatible: {alg}.")
            r, s = utils.decode_dss_signature(key.sign(digest, ec.ECDSA(utils.Prehashed(hash_alg))))
            size = (key.curve.key_size + 7) // 8
            sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")  # raw r||s, as Key Vault returns it
        elif alg.startswith("PS"):
            sig = key.sign(digest, pss(hash_alg), utils.Prehashed(hash_alg))
        elif alg.startswith("RS"):
            sig = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hash_alg))
        else:
            return self.vault_error(400, "BadParameter", f"Key and signing algorithm are incompatible: {alg}.")
        self.reply(200, {"kid": f"{self.base}/keys/{parts[1]}/{version}", "value": b64url(sig)})


def test_ca(out_dir):
    """A CA (written to ca.pem) and a server certificate for 127.0.0.1 it signed."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chainseal test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = os.path.join(out_dir, "ca.pem")
    with open(ca_pem, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    chain = os.path.join(out_dir, "server.pem")
    with open(chain, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_pem, chain


def serve_azure(out_dir):
    Azure.keys = azure_keys()
    Azure.out_dir = AzureIdentity.out_dir = out_dir
    for name, versions in Azure.keys.items():
        for version, key in versions:
            with open(os.path.join(out_dir, f"{name}-{version}.pub"), "w") as f:
                f.write(pem_public(key))
        with open(os.path.join(out_dir, f"{name}.pub"), "w") as f:
            f.write(pem_public(versions[-1][1]))
    ca_pem, chain = test_ca(out_dir)
    identity = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AzureIdentity)
    threading.Thread(target=identity.serve_forever, daemon=True).start()
    vault = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Azure)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    vault.socket = context.wrap_socket(vault.socket, server_side=True)
    host = f"127.0.0.1:{vault.server_address[1]}"
    Azure.base = f"https://{host}"
    print(
        json.dumps(
            {
                "vault_host": host,
                "identity_endpoint": f"http://127.0.0.1:{identity.server_address[1]}/msi/token",
                "identity_header": IDENTITY_HEADER,
                "ca": ca_pem,
            }
        ),
        flush=True,
    )
    vault.serve_forever()


if __name__ == "__main__":
    mode, directory = sys.argv[1], sys.argv[2]
    {"gcp": serve_gcp, "azure": serve_azure}[mode](directory)
