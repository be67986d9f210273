"""Shared by the small HTTP doubles: serve a handler on a free loopback port."""

import http.server
import json
import threading

_LOG_LOCK = threading.Lock()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(handler):
    """Serve `handler` on 127.0.0.1 (any free port); print {"port": N} once ready."""
    server = Server(("127.0.0.1", 0), handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


def log_request(path, handler, data=b""):
    """Append the request `handler` is serving (method, path, headers with lower-case
    names, body) to the file `path` as one JSON line; nothing when `path` is None."""
    if not path:
        return
    line = {
        "method": handler.command,
        "path": handler.path,
        "headers": {k.lower(): v for k, v in handler.headers.items()},
        "body": data.decode("utf-8", "replace"),
    }
    with _LOG_LOCK, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
