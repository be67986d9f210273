"""Loopback double of Archivista's HTTP API, for the archivista+ storage tests.

The Archivista client (`in-toto/archivista` pkg/api) POSTs a DSSE envelope as JSON to
`<base>/upload` and reads `{"gitoid": "<hex>"}` back (HTTP 200; any other status is an
error whose body is the message); `GET <base>/download/<gitoid>` returns the envelope.
Archivista names content by its gitoid (the SHA-256 git blob id of the bytes), so the
same envelope uploaded twice has one gitoid. This double does the same, refuses bodies
that are not DSSE envelopes with 400, and answers 503 while `MODE` is `down`.

    python archivista.py [down] [--auth USER:PASS] [--log FILE]   # prints {"port": N}

With `--auth`, every request must carry that HTTP Basic authorization (else 401).
With `--log`, every request (method, path, headers with lower-case names, body) is appended to FILE as one
JSON line, so tests can search what was sent.
"""

import argparse
import base64
import hashlib
import http.server
import json
import threading

from loopback import log_request, serve

LOCK = threading.Lock()
STORED = {}
_parser = argparse.ArgumentParser()
_parser.add_argument("mode", nargs="?", default="up", choices=["up", "down"])
_parser.add_argument("--auth")
_parser.add_argument("--log")
ARGS = _parser.parse_args()
MODE = ARGS.mode


def gitoid(data: bytes) -> str:
    return hashlib.sha256(b"blob %d\0" % len(data) + data).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def record(self, data=b""):
        log_request(ARGS.log, self, data)

    def authorized(self):
        if not ARGS.auth:
            return True
        expected = "Basic " + base64.b64encode(ARGS.auth.encode()).decode()
        if self.headers.get("Authorization") == expected:
            return True
        self.reply(401, b"unauthorized", "text/plain")
        return False

    def reply(self, code, body, content_type="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.record(data)
        if not self.authorized():
            return
        if not self.path.rstrip("/").endswith("/upload"):
            return self.reply(404, b"404 page not found", "text/plain")
        if MODE == "down":
            return self.reply(503, b"service unavailable: database is down", "text/plain")
        try:
            env = json.loads(data)
            assert isinstance(env["payload"], str) and isinstance(env["payloadType"], str)
            assert isinstance(env["signatures"], list) and env["signatures"]
        except (ValueError, KeyError, AssertionError, TypeError):
            return self.reply(400, b"failed to parse dsse envelope", "text/plain")
        oid = gitoid(data)
        with LOCK:
            STORED[oid] = data
        self.reply(200, json.dumps({"gitoid": oid}).encode())

    def do_GET(self):
        self.record()
        if not self.authorized():
            return
        prefix = "/download/"
        if prefix not in self.path:
            return self.reply(404, b"404 page not found", "text/plain")
        oid = self.path.split(prefix, 1)[1]
        with LOCK:
            data = STORED.get(oid)
        if data is None:
            return self.reply(404, b"not found", "text/plain")
        self.reply(200, data)


if __name__ == "__main__":
    serve(Handler)
