"""Loopback double of Archivista's HTTP API, for the archivista+ storage tests.

The Archivista client (`in-toto/archivista` pkg/api) POSTs a DSSE envelope as JSON to
`<base>/upload` and reads `{"gitoid": "<hex>"}` back (HTTP 200; any other status is an
error whose body is the message); `GET <base>/download/<gitoid>` returns the envelope.
Archivista names content by its gitoid (the SHA-256 git blob id of the bytes), so the
same envelope uploaded twice has one gitoid. This double does the same, refuses bodies
that are not DSSE envelopes with 400, and answers 503 while `MODE` is `down`.

    python archivista.py [down]      # prints {"port": N} when ready
"""

import hashlib
import http.server
import json
import sys
import threading

from loopback import serve

LOCK = threading.Lock()
STORED = {}
MODE = sys.argv[1] if len(sys.argv) > 1 else "up"


def gitoid(data: bytes) -> str:
    return hashlib.sha256(b"blob %d\0" % len(data) + data).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, code, body, content_type="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
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
