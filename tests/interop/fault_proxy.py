"""A loopback HTTP proxy that injects faults in front of an OCI registry.

    python fault_proxy.py UPSTREAM_HOST:PORT SEED RATE [reject-manifests] LOG

Each distinct request (method and path, upload session ids and query left out) is,
the first time it is seen and with probability RATE (seeded), either answered with
a 500 without reaching the registry, or reset before reaching it, or forwarded and
then reset so the client never sees the registry's answer (the write happened, the
client must retry it safely). A request that failed once is forwarded from then on,
so a client that retries each request a few times always gets through, and the test
is deterministic. Everything is forwarded unchanged, Host header included, so the
registry's Location headers point back at the proxy.
With `reject-manifests`, every manifest PUT is refused with 400 MANIFEST_INVALID,
as a registry that does not accept a media type would.

Prints its port when ready; appends one line per request to LOG:
`<fault> <method> <path>`.
"""

import http.client
import http.server
import random
import re
import socket
import struct
import sys
import threading

UPSTREAM, SEED, RATE = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
REJECT_MANIFESTS = "reject-manifests" in sys.argv[4:-1]
LOG = sys.argv[-1]
RNG = random.Random(SEED)
LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


FAILED = set()
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def pick(method, path):
    key = (method, UUID.sub("*", path.split("?")[0]))
    with LOCK:
        if key in FAILED or RNG.random() >= RATE:
            return "ok"
        FAILED.add(key)
        return RNG.choice(["error500", "reset-before", "reset-after"])


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def note(self, fault):
        with LOCK, open(LOG, "a") as f:
            f.write(f"{fault} {self.command} {self.path}\n")

    def reset(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if REJECT_MANIFESTS and self.command == "PUT" and "/manifests/" in self.path:
            self.note("reject")
            data = b'{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"media type not accepted"}]}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        fault = pick(self.command, self.path)
        self.note(fault)
        if fault == "error500":
            data = b'{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if fault == "reset-before":
            return self.reset()
        conn = http.client.HTTPConnection(UPSTREAM, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if fault == "reset-after":
            return self.reset()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and (k.lower() != "content-length" or self.command == "HEAD"):
                self.send_header(k, v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
