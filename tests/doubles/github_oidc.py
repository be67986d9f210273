"""Loopback double of the GitHub Actions OIDC token service, for the CI-source tests.

GitHub's runner gives a job `ACTIONS_ID_TOKEN_REQUEST_URL` and
`ACTIONS_ID_TOKEN_REQUEST_TOKEN`; `GET $URL&audience=<aud>` with
`Authorization: bearer $TOKEN` returns `{"value": "<JWT>"}`. The issuer publishes
its keys through OpenID discovery (`/.well-known/openid-configuration` → `jwks_uri`).
This double serves those three endpoints on 127.0.0.1 with a real RSA key made at
start-up, signing RS256 tokens whose claims come from a JSON file (plus `iss`, `aud`,
`iat`, `nbf`, `exp`), the way token.actions.githubusercontent.com does.

    python github_oidc.py CLAIMS.json REQUEST_TOKEN [MODE]

MODE: `good` (default); `wrong-key` signs with a key the JWKS does not publish;
`expired` issues a token that expired an hour ago. Prints one JSON line when ready:
{"issuer": ..., "request_url": ...}. Every request is appended to CLAIMS.json.log.
"""

import base64
import http.server
import json
import sys
import threading
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CLAIMS_PATH, REQUEST_TOKEN = sys.argv[1], sys.argv[2]
MODE = sys.argv[3] if len(sys.argv) > 3 else "good"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "chainseal-test-key"
LOCK = threading.Lock()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def jwt(claims: dict) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": KID}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    key = OTHER if MODE == "wrong-key" else KEY
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        issuer = "http://%s:%d" % self.server.server_address
        with LOCK, open(CLAIMS_PATH + ".log", "a") as log:
            log.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization", "")}) + "\n")
        path, _, query = self.path.partition("?")
        if path == "/.well-known/openid-configuration":
            return self.reply(200, {"issuer": issuer, "jwks_uri": issuer + "/jwks"})
        if path == "/jwks":
            pub = KEY.public_key().public_numbers()
            return self.reply(200, {"keys": [{
                "kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID,
                "n": b64url(int_bytes(pub.n)), "e": b64url(int_bytes(pub.e)),
            }]})
        if path == "/token":
            if self.headers.get("Authorization", "").lower() != "bearer " + REQUEST_TOKEN.lower():
                return self.reply(401, {"message": "Bad credentials"})
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            with open(CLAIMS_PATH) as f:
                claims = json.load(f)
            now = int(time.time())
            if MODE == "expired":
                now -= 7200
            claims.update({"iss": issuer, "aud": params.get("audience", ""),
                           "iat": now, "nbf": now, "exp": now + 300})
            return self.reply(200, {"count": 1, "value": jwt(claims)})
        self.reply(404, {"message": "Not Found"})


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
base = "http://%s:%d" % server.server_address
print(json.dumps({"issuer": base, "request_url": base + "/token?api-version=2.0"}), flush=True)
server.serve_forever()
