"""A hostile OCI registry for the #18 regression tests (a double: it speaks just
enough of the distribution API to reach chainseal's parsing and limits).

The first repository path component picks the behaviour, for every request to it:

  array/...     manifests are the JSON `[]` (valid JSON, wrong type)
  string/...    manifests are the JSON string "x"
  trickle/...   manifests are sent one byte every 2 s, forever
  huge/...      manifests claim (and stream) 64 MiB
  errorbody/... every request fails 400 with an error body carrying a marker text
  redirect/...  asks for basic credentials, then redirects manifest reads to the
                same server under another host name (`localhost`), path `/v2/landed/`
  landed/...    manifests are unknown (where `redirect/` sends them)
  downgrade/... manifest reads are redirected to plain http (serve it with `--tls DIR`)
  auth/...      asks for basic credentials; with them, manifests are unknown
  realm/...     asks for a bearer token from a token service on another host name
                over plain HTTP (`http://localhost:<port>/token`), which answers one

Every request line is appended to the log file given as the first argument.
With `--tls DIR` it serves https with a test CA written to `DIR/ca.pem` (the KMS
double's), for a client trusting it through `SSL_CERT_FILE`. With `--dual DIR` it is
an https-only registry that also answers plain HTTP on the same port, as a registry's
port 80 does: every plain request is redirected (301) to the same URL over https; and
its first TLS connection has a hiccup: closed before the handshake, or with
`--hiccup plain` answered in plain HTTP (as a load balancer's error page could be).
Log lines carry the scheme each request came over.
"""

import json
import os
import socket
import ssl
import sys
import time

import loopback

MARKER = "HOSTILE-REGISTRY-BODY-7f3a"
ARGS = sys.argv[1:]
TLS_DIR = None
if "--tls" in ARGS:
    i = ARGS.index("--tls")
    TLS_DIR = ARGS[i + 1]
    del ARGS[i : i + 2]
DUAL = "--dual" in ARGS
if DUAL:
    i = ARGS.index("--dual")
    TLS_DIR = ARGS[i + 1]
    del ARGS[i : i + 2]
HICCUP = "drop"
if "--hiccup" in ARGS:
    i = ARGS.index("--hiccup")
    HICCUP = ARGS[i + 1]
    del ARGS[i : i + 2]
LOG = ARGS[0] if ARGS else None


class Handler(loopback.http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self):
        if LOG:
            with open(LOG, "a") as f:
                scheme = "https" if isinstance(self.request, ssl.SSLSocket) else "http"
                f.write(json.dumps({"method": self.command, "path": self.path, "scheme": scheme,
                                    "authorization": self.headers.get("Authorization")}) + "\n")

    def reply(self, status, body, content_type="application/json", extra=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        self.record()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = self.path.split("/")
        if DUAL and not isinstance(self.request, ssl.SSLSocket):
            port = self.server.server_address[1]
            return self.reply(301, "", extra={"Location": f"https://127.0.0.1:{port}{self.path}"})
        if self.path in ("/v2/", "/v2"):
            return self.reply(200, "{}")
        if self.path.startswith("/token"):
            return self.reply(200, '{"token": "stolen-token"}')
        mode = parts[2] if len(parts) > 2 else ""
        if mode == "errorbody":
            body = {"errors": [{"code": "DENIED", "message": MARKER, "detail": MARKER}]}
            return self.reply(400, json.dumps(body))
        if "/manifests/" not in self.path:
            # Blobs and uploads: accept everything, as a permissive registry would.
            if self.command == "POST" and "digest=" in self.path:
                # A monolithic upload in one POST, as distribution accepts it.
                return self.reply(201, "", extra={"Location": self.path.split("?")[0]})
            if self.command == "POST":
                return self.reply(202, "", extra={"Location": self.path.split("?")[0] + "upload-1"})
            if self.command == "PUT":
                return self.reply(201, "", extra={"Location": self.path.split("?")[0]})
            if self.command == "HEAD":
                return self.reply(404, "")
            return self.reply(404, '{"errors":[{"code":"BLOB_UNKNOWN"}]}')
        if self.command not in ("GET", "HEAD"):
            return self.reply(201, "")
        if mode == "downgrade":
            target = "http://127.0.0.1:9/v2/landed/" + "/".join(parts[3:])
            return self.reply(307, "", extra={"Location": target})
        if mode == "realm":
            port = self.server.server_address[1]
            challenge = f'Bearer realm="http://localhost:{port}/token",service="hostile"'
            return self.reply(401, "{}", extra={"WWW-Authenticate": challenge})
        if mode == "auth":
            if not self.headers.get("Authorization"):
                return self.reply(401, "{}", extra={"WWW-Authenticate": 'Basic realm="hostile"'})
            return self.reply(404, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        if mode == "redirect":
            if not self.headers.get("Authorization"):
                return self.reply(401, "{}", extra={"WWW-Authenticate": 'Basic realm="hostile"'})
            port = self.server.server_address[1]
            target = f"http://localhost:{port}/v2/landed/" + "/".join(parts[3:])
            return self.reply(307, "", extra={"Location": target})
        if mode == "array":
            return self.reply(200, "[]", "application/vnd.oci.image.manifest.v1+json")
        if mode == "string":
            return self.reply(200, '"x"', "application/vnd.oci.image.manifest.v1+json")
        if mode == "huge":
            size = 64 << 20
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b" " * (1 << 20)
            try:
                for _ in range(64):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        if mode == "trickle":
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(2)
            except OSError:
                return
        return self.reply(404, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = handle_any


class DualServer(loopback.Server):
    """TLS and plain HTTP on one port, told apart by the first byte (0x16 starts a
    TLS handshake); the first TLS connection is closed unanswered, or answered in
    plain HTTP (`--hiccup plain`)."""

    context = None
    hiccups = 1

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(30)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except OSError:
            sock.close()
            raise
        sock.settimeout(None)
        if first != b"\x16":
            return sock, addr
        if self.hiccups > 0:
            self.hiccups -= 1
            if HICCUP == "plain":
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            sock.close()
            raise OSError("hiccup: the first TLS connection is dropped")
        return self.context.wrap_socket(sock, server_side=True), addr


if __name__ == "__main__":
    if TLS_DIR is None:
        loopback.serve(Handler)
    elif DUAL:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
        from kms_double import test_ca

        _, chain = test_ca(TLS_DIR)
        server = DualServer(("127.0.0.1", 0), Handler)
        server.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.context.load_cert_chain(chain)
        print(json.dumps({"port": server.server_address[1]}), flush=True)
        server.serve_forever()
    else:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
        from kms_double import test_ca

        _, chain = test_ca(TLS_DIR)
        server = loopback.Server(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        print(json.dumps({"port": server.server_address[1]}), flush=True)
        server.serve_forever()
