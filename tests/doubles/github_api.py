"""Loopback double of GitHub's attestations REST API, for `github` storage and for
`gh attestation verify --owner/--repo`.

It speaks the requests and replies of GitHub's REST API (docs.github.com, "Artifact
attestations" and "Artifact metadata"), as actions/attest and gh use them:

* `POST /repos/{owner}/{repo}/attestations` with `{"bundle": <Sigstore bundle>}`
  → 201 `{"id": N}`; a body that is not a Sigstore bundle with a DSSE envelope of an
  in-toto Statement → 422 `{"message": …}`;
* `GET /repos/{owner}/{repo}/attestations/{alg:hex}` and
  `GET /orgs/{owner}/attestations/{alg:hex}` (`?per_page=`, `&predicate_type=`) →
  200 `{"attestations": [{"bundle": …, "repository_id": …, "bundle_url": "",
  "initiator": "user"}]}`,
  matched on the Statement's subject digests;
* `GET /repos/{owner}/{repo}` → the repository, its `owner.type` from `--owner-type`;
* `POST /orgs/{owner}/artifacts/metadata/storage-record` → 200
  `{"total_count": 1, "storage_records": [{"id": N, …}]}`.

Authorization is `Bearer <token>` (or `token <token>`): `--token` may read and write,
`--read-token` may only read (a write answers 403 "Resource not accessible by
integration", as a job without `attestations: write` gets), anything else is 401.
`--ghes` answers 404 to every attestations path, as GitHub Enterprise Server, which has
no such API. `--fail-first N` answers 503 to the first N POSTs (retries).
`--redirect URL` answers every POST with 307 to URL (a client must not follow it
with its token).

It also serves as gh's HTTP proxy: gh talks to `http://api.github.localhost/` when
`GH_HOST=github.localhost`, and with `HTTP_PROXY` pointing here the request line
carries that absolute URL, which is read as its path.

    python github_api.py --token T [--read-token R] [--owner-type Organization|User]
                         [--ghes] [--fail-first N] [--log FILE]   # prints {"port": N}

With `--log`, every request (method, path, headers with lower-case names, body) is
appended to FILE as one JSON line.
"""

import argparse
import base64
import http.server
import json
import re
import threading
import urllib.parse

from loopback import log_request, serve

_parser = argparse.ArgumentParser()
_parser.add_argument("--token", required=True)
_parser.add_argument("--read-token")
_parser.add_argument("--owner-type", default="Organization")
_parser.add_argument("--ghes", action="store_true")
_parser.add_argument("--fail-first", type=int, default=0)
_parser.add_argument("--redirect")
_parser.add_argument("--log")
ARGS = _parser.parse_args()

LOCK = threading.Lock()
ATTESTATIONS = []  # {"id", "owner", "repo", "bundle", "digests", "predicate_type"}
RECORDS = []
STATE = {"posts": 0}
NAME = r"[A-Za-z0-9._-]+"
DIGEST = r"[a-z0-9]+:[0-9a-f]+"


def statement_of(bundle):
    """The in-toto Statement a bundle's DSSE envelope carries, or None."""
    if not isinstance(bundle, dict):
        return None
    if not str(bundle.get("mediaType", "")).startswith("application/vnd.dev.sigstore.bundle"):
        return None
    if not isinstance(bundle.get("verificationMaterial"), dict):
        return None
    env = bundle.get("dsseEnvelope")
    if not isinstance(env, dict) or env.get("payloadType") != "application/vnd.in-toto+json":
        return None
    if not env.get("signatures"):
        return None
    try:
        statement = json.loads(base64.b64decode(env.get("payload", ""), validate=True))
    except (ValueError, TypeError):
        return None
    if not isinstance(statement, dict) or not isinstance(statement.get("subject"), list):
        return None
    return statement


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def record(self, data):
        log_request(ARGS.log, self, data)

    def route(self):
        """The path and query, the proxy form's scheme and host, and GHES's `/api/v3`, removed."""
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path.startswith("/api/v3/"):
            path = path[len("/api/v3"):]
        return path, urllib.parse.parse_qs(url.query)

    def access(self):
        """`write`, `read`, or None (401 sent)."""
        auth = self.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        if auth.split(" ", 1)[0].lower() in ("bearer", "token"):
            if token == ARGS.token:
                return "write"
            if ARGS.read_token and token == ARGS.read_token:
                return "read"
        self.reply(401, {"message": "Bad credentials", "status": "401"})
        return None

    def do_GET(self):
        self.record(b"")
        path, query = self.route()
        if self.access() is None:
            return
        m = re.fullmatch(rf"/repos/({NAME})/({NAME})", path)
        if m:
            self.reply(200, {
                "id": 1, "name": m[2], "full_name": f"{m[1]}/{m[2]}",
                "owner": {"login": m[1], "type": ARGS.owner_type},
            })
            return
        by_repo = re.fullmatch(rf"/repos/({NAME})/({NAME})/attestations/({DIGEST})", path)
        by_owner = re.fullmatch(rf"/orgs/({NAME})/attestations/({DIGEST})", path)
        if ARGS.ghes or not (by_repo or by_owner):
            self.reply(404, {"message": "Not Found", "status": "404"})
            return
        if by_repo:
            owner, repo, digest = by_repo[1], by_repo[2], by_repo[3]
        else:
            owner, repo, digest = by_owner[1], None, by_owner[2]
        wanted_type = query.get("predicate_type", [None])[0]
        per_page = int(query.get("per_page", ["30"])[0])
        with LOCK:
            found = [
                a for a in ATTESTATIONS
                if a["owner"].lower() == owner.lower()
                and (repo is None or a["repo"].lower() == repo.lower())
                and digest in a["digests"]
                and (wanted_type is None or a["predicate_type"] == wanted_type)
            ][:per_page]
        self.reply(200, {"attestations": [
            # `initiator` "user": made through this API (gh keeps only those).
            {"bundle": a["bundle"], "repository_id": 1, "bundle_url": "", "initiator": "user"}
            for a in found
        ]})

    def do_POST(self):
        data = self.body()
        self.record(data)
        path, _ = self.route()
        access = self.access()
        if access is None:
            return
        with LOCK:
            STATE["posts"] += 1
            failing = STATE["posts"] <= ARGS.fail_first
        if failing:
            self.reply(503, {"message": "Service Unavailable"})
            return
        if ARGS.redirect:
            self.send_response(307)
            self.send_header("Location", ARGS.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        attest = re.fullmatch(rf"/repos/({NAME})/({NAME})/attestations", path)
        record = re.fullmatch(rf"/orgs/({NAME})/artifacts/metadata/storage-record", path)
        if (ARGS.ghes and attest) or not (attest or record):
            self.reply(404, {"message": "Not Found", "status": "404"})
            return
        if access != "write":
            self.reply(403, {"message": "Resource not accessible by integration", "status": "403"})
            return
        try:
            body = json.loads(data)
        except ValueError:
            self.reply(400, {"message": "Problems parsing JSON", "status": "400"})
            return
        if record:
            if not isinstance(body, dict) or not all(body.get(k) for k in ("name", "digest", "registry_url")):
                self.reply(422, {"message": "Invalid request: name, digest and registry_url are required", "status": "422"})
                return
            with LOCK:
                RECORDS.append(body)
                n = len(RECORDS)
            self.reply(200, {"total_count": 1, "storage_records": [dict(body, id=n)]})
            return
        bundle = body.get("bundle") if isinstance(body, dict) else None
        statement = statement_of(bundle)
        if statement is None:
            self.reply(422, {"message": "Invalid request: bundle is not a valid Sigstore bundle", "status": "422"})
            return
        digests = {
            f"{alg}:{value}"
            for s in statement["subject"] if isinstance(s, dict)
            for alg, value in (s.get("digest") or {}).items()
        }
        with LOCK:
            n = len(ATTESTATIONS) + 1
            ATTESTATIONS.append({
                "id": n, "owner": attest[1], "repo": attest[2], "bundle": bundle,
                "digests": digests, "predicate_type": statement.get("predicateType"),
            })
        self.reply(201, {"id": n})


if __name__ == "__main__":
    serve(Handler)
