"""Shared by the small HTTP doubles: serve a handler on a free loopback port."""

import http.server
import json


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(handler):
    """Serve `handler` on 127.0.0.1 (any free port); print {"port": N} once ready."""
    server = Server(("127.0.0.1", 0), handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()
