"""The clouds' registries on loopback, for the registry keychain tests (a double).

Asked as a forward HTTP proxy (chainseal's `HTTP_PROXY`), it sends every request for
any host (`<account>.dkr.ecr.<region>.amazonaws.com`, `<region>-docker.pkg.dev`,
`<name>.azurecr.io`, ...) to one real registry (distribution, `UPSTREAM`), keeping the
`Host` header, and logs which host was asked with which basic-auth user. On an ACR
host it answers ACR's token exchange (`POST /oauth2/exchange`: an Entra ID access
token for a refresh token) itself, as ACR does.

Asked directly, it is the clouds' token endpoints: Google's OAuth2 refresh
(`POST /token`, for `authorized_user` Application Default Credentials) and Azure App
Service's managed identity endpoint (`GET /msi/token`, header `X-IDENTITY-HEADER`).

    python cloud_registry.py UPSTREAM LOG --google-token T --acr-refresh R
        [--google-bad-first]     # the first Google token is one the registry refuses

Prints {"port": N} when ready. LOG gets one JSON line per request.
"""

import argparse
import base64
import http.client
import http.server
import json
import secrets
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, __import__("os").path.dirname(__file__))
from loopback import Server  # noqa: E402

IDENTITY_HEADER = "double-identity-secret"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ACR_RESOURCE = "https://containerregistry.azure.net"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}

ARGS = None
LOCK = threading.Lock()
ISSUED = set()  # Entra ID tokens the identity endpoint gave
GOOGLE_ASKED = [0]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def basic_user(header):
    if not header or not header.startswith("Basic "):
        return None
    try:
        return base64.b64decode(header[6:]).decode().split(":", 1)[0]
    except Exception:  # noqa: BLE001 - logged as unreadable
        return "?"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log(self, **entry):
        with LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, body, content_type="application/json"):
        data = json.dumps(body).encode() if content_type == "application/json" else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        data = self.body()
        if self.path.startswith("http://"):
            url = urllib.parse.urlsplit(self.path)
            path = url.path + (f"?{url.query}" if url.query else "")
            if url.hostname.endswith(".azurecr.io") and url.path == "/oauth2/exchange":
                return self.exchange(url.hostname, data)
            return self.forward(url.netloc, path, data)
        if self.path == "/token" and self.command == "POST":
            return self.google_token(data)
        if self.path.startswith("/msi/token") and self.command == "GET":
            return self.azure_identity()
        self.log(kind="unknown", method=self.command, path=self.path)
        self.reply(404, {"error": "not here"})

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    def forward(self, host, path, data):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
        headers["Host"] = host
        upstream = http.client.HTTPConnection(ARGS.upstream, timeout=30)
        upstream.request(self.command, path, body=data or None, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        self.log(
            kind="registry",
            host=host,
            method=self.command,
            path=path,
            user=basic_user(self.headers.get("Authorization")),
            status=answer.status,
        )
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        length = answer.getheader("Content-Length")
        self.send_header("Content-Length", length if self.command == "HEAD" and length else str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        upstream.close()

    def exchange(self, host, data):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(data.decode()).items()}
        token_ok = form.get("access_token") in ISSUED
        self.log(
            kind="exchange",
            host=host,
            grant_type=form.get("grant_type"),
            service=form.get("service"),
            tenant=form.get("tenant"),
            issued_token=token_ok,
        )
        if form.get("grant_type") != "access_token" or form.get("service") != host or not token_ok:
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad exchange"}]})
        self.reply(200, {"refresh_token": ARGS.acr_refresh})

    def google_token(self, data):
        # google-cloud-auth posts JSON; other clients post a form.
        try:
            form = json.loads(data)
        except ValueError:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(data.decode()).items()}
        with LOCK:
            GOOGLE_ASKED[0] += 1
            first = GOOGLE_ASKED[0] == 1
        self.log(kind="google-token", grant_type=form.get("grant_type"))
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != "double-refresh":
            return self.reply(400, {"error": "invalid_grant"})
        token = "revoked-" + ARGS.google_token if first and ARGS.google_bad_first else ARGS.google_token
        self.reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def azure_identity(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        resource = (query.get("resource") or [""])[0]
        self.log(kind="azure-identity", resource=resource)
        if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return self.reply(401, {"error": "invalid_request", "error_description": "bad X-IDENTITY-HEADER"})
        if resource != ACR_RESOURCE:
            return self.reply(400, {"error": "invalid_resource", "error_description": f"unexpected resource {resource}"})
        claims = {"aud": resource, "tid": TENANT, "nonce": secrets.token_hex(8)}
        token = f"{b64url(b'{}')}.{b64url(json.dumps(claims).encode())}.c2ln"
        with LOCK:
            ISSUED.add(token)
        self.reply(
            200,
            {"access_token": token, "expires_on": str(int(time.time()) + 3600), "token_type": "Bearer", "resource": resource},
        )


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream")
    parser.add_argument("log")
    parser.add_argument("--google-token", required=True)
    parser.add_argument("--acr-refresh", required=True)
    parser.add_argument("--google-bad-first", action="store_true")
    ARGS = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
