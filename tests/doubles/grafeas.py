"""Loopback double of the Grafeas v1 REST API (what Google's Container Analysis
serves at https://containeranalysis.googleapis.com), for the grafeas:// storage tests.

Speaks the REST mapping of grafeas.proto (v1):

    POST /v1/projects/{p}/notes?noteId={id}     CreateNote (409 ALREADY_EXISTS if taken)
    GET  /v1/projects/{p}/notes/{id}            GetNote
    POST /v1/projects/{p}/occurrences           CreateOccurrence
    GET  /v1/projects/{p}/occurrences           ListOccurrences (filter: resourceUrl="…")
    GET  /v1/projects/{p}/notes/{id}/occurrences  ListNoteOccurrences (same filter; pages
                                                of pageSize, default 2, with nextPageToken)

Request bodies are checked as the real server's JSON transcoding does: every field must
exist in the proto message (proto3 JSON names, or the original snake_case names), with
the right JSON type (bytes as base64, Timestamps as RFC 3339, Struct as an object,
enums by name); an unknown field or wrong type is a 400 INVALID_ARGUMENT naming the
field. An occurrence must name an existing note of the same kind (BUILD details need a
BUILD note). Errors use Google's JSON error shape.

    python grafeas.py [up|down|deny] [token]   # prints {"port": N} when ready

`down` answers 503 to everything, `deny` 403 PERMISSION_DENIED; in every mode, projects
whose id starts with `denied` get 403 PERMISSION_DENIED (credentials without a role on
them); with a token, requests without `Authorization: Bearer <token>` get 401
UNAUTHENTICATED.
"""

import base64
import datetime
import http.server
import json
import re
import sys
import threading
import urllib.parse
import uuid

from loopback import serve

MODE = sys.argv[1] if len(sys.argv) > 1 else "up"
TOKEN = sys.argv[2] if len(sys.argv) > 2 else None
LOCK = threading.Lock()
NOTES = {}  # name -> note
OCCURRENCES = []  # in creation order

# proto message -> {json name: (snake name, type)}; a type is a message name, a scalar
# ("string", "bool", "bytes", "timestamp", "struct", "value", "enum:A|B") or
# "map:<type>" / "list:<type>".
S = "string"
SCHEMA = {
    "Note": {
        "name": S, "shortDescription": S, "longDescription": S, "kind": "enum:BUILD|ATTESTATION",
        "relatedUrl": "list:RelatedUrl", "expirationTime": "timestamp", "createTime": "timestamp",
        "updateTime": "timestamp", "relatedNoteNames": "list:string",
        "build": "BuildNote", "attestation": "AttestationNote",
    },
    "RelatedUrl": {"url": S, "label": S},
    "BuildNote": {"builderVersion": S},
    "AttestationNote": {"hint": "Hint"},
    "Hint": {"humanReadableName": S},
    "Occurrence": {
        "name": S, "resourceUri": S, "noteName": S, "kind": "enum:BUILD|ATTESTATION",
        "remediation": S, "createTime": "timestamp", "updateTime": "timestamp",
        "build": "BuildOccurrence", "attestation": "AttestationOccurrence", "envelope": "Envelope",
    },
    "BuildOccurrence": {
        "provenance": "struct", "provenanceBytes": S, "intotoProvenance": "struct",
        "intotoStatement": "InTotoStatement", "inTotoSlsaProvenanceV1": "InTotoSlsaProvenanceV1",
    },
    "AttestationOccurrence": {
        "serializedPayload": "bytes", "signatures": "list:Signature", "jwts": "list:struct",
    },
    "Signature": {"signature": "bytes", "publicKeyId": S},
    "Envelope": {"payload": "bytes", "payloadType": S, "signatures": "list:EnvelopeSignature"},
    "EnvelopeSignature": {"sig": "bytes", "keyid": S},
    "InTotoStatement": {
        "_type": S, "subject": "list:Subject", "predicateType": S,
        "provenance": "struct", "slsaProvenance": "struct",
        "slsaProvenanceZeroTwo": "SlsaProvenanceZeroTwo",
    },
    "Subject": {"name": S, "digest": "map:string"},
    "SlsaProvenanceZeroTwo": {
        "builder": "SlsaBuilder", "buildType": S, "invocation": "SlsaInvocation",
        "buildConfig": "struct", "metadata": "SlsaMetadata", "materials": "list:SlsaMaterial",
    },
    "SlsaBuilder": {"id": S},
    "SlsaMaterial": {"uri": S, "digest": "map:string"},
    "SlsaInvocation": {"configSource": "SlsaConfigSource", "parameters": "struct", "environment": "struct"},
    "SlsaConfigSource": {"uri": S, "digest": "map:string", "entryPoint": S},
    "SlsaMetadata": {
        "buildInvocationId": S, "buildStartedOn": "timestamp", "buildFinishedOn": "timestamp",
        "completeness": "SlsaCompleteness", "reproducible": "bool",
    },
    "SlsaCompleteness": {"parameters": "bool", "environment": "bool", "materials": "bool"},
    "InTotoSlsaProvenanceV1": {
        "_type": S, "subject": "list:Subject", "predicateType": S, "predicate": "SlsaProvenanceV1",
    },
    "SlsaProvenanceV1": {"buildDefinition": "BuildDefinition", "runDetails": "RunDetails"},
    "BuildDefinition": {
        "buildType": S, "externalParameters": "struct", "internalParameters": "struct",
        "resolvedDependencies": "list:ResourceDescriptor",
    },
    "ResourceDescriptor": {
        "name": S, "uri": S, "digest": "map:string", "content": "bytes",
        "downloadLocation": S, "mediaType": S, "annotations": "map:value",
    },
    "RunDetails": {"builder": "ProvenanceBuilder", "metadata": "BuildMetadata", "byproducts": "list:ResourceDescriptor"},
    "ProvenanceBuilder": {"id": S, "version": "map:string", "builderDependencies": "list:ResourceDescriptor"},
    "BuildMetadata": {"invocationId": S, "startedOn": "timestamp", "finishedOn": "timestamp"},
}


def snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


class Invalid(Exception):
    pass


def check(value, typ, path):
    """Raise Invalid naming `path` when `value` is not valid JSON for `typ`."""
    if typ.startswith("list:"):
        if not isinstance(value, list):
            raise Invalid(f"Invalid value at '{path}', expected a list")
        for i, v in enumerate(value):
            check(v, typ[5:], f"{path}[{i}]")
    elif typ.startswith("map:"):
        if not isinstance(value, dict):
            raise Invalid(f"Invalid value at '{path}', expected a map")
        for k, v in value.items():
            check(v, typ[4:], f"{path}[{k}]")
    elif typ.startswith("enum:"):
        if value not in typ[5:].split("|"):
            raise Invalid(f"Invalid value at '{path}', unknown enum value {value!r}")
    elif typ == "string":
        if not isinstance(value, str):
            raise Invalid(f"Invalid value at '{path}' (TYPE_STRING), {json.dumps(value)}")
    elif typ == "bool":
        if not isinstance(value, bool):
            raise Invalid(f"Invalid value at '{path}' (TYPE_BOOL), {json.dumps(value)}")
    elif typ == "bytes":
        try:
            base64.b64decode(value, validate=True)
        except Exception:
            raise Invalid(f"Invalid value at '{path}' (TYPE_BYTES), not base64")
    elif typ == "timestamp":
        if not isinstance(value, str) or not TIMESTAMP.match(value):
            raise Invalid(f"Invalid value at '{path}' (type.googleapis.com/google.protobuf.Timestamp), Field '{path}', Invalid time format")
    elif typ == "struct":
        if not isinstance(value, dict):
            raise Invalid(f"Invalid value at '{path}' (type.googleapis.com/google.protobuf.Struct), {json.dumps(value)[:40]}")
    elif typ == "value":
        pass
    else:
        if not isinstance(value, dict):
            raise Invalid(f"Invalid value at '{path}' (type.googleapis.com/grafeas.v1.{typ}), expected an object")
        fields = SCHEMA[typ]
        by_snake = {snake(k): k for k in fields}
        for k, v in value.items():
            name = k if k in fields else by_snake.get(k)
            if name is None:
                raise Invalid(f"Invalid JSON payload received. Unknown name \"{k}\" at '{path}': Cannot find field.")
            check(v, fields[name], f"{path}.{name}")


def error(code, status, message):
    return code, {"error": {"code": code, "message": message, "status": status}}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def kind_of(body):
    kinds = [k for k in ("build", "attestation") if k in body]
    return kinds[0].upper() if len(kinds) == 1 else None


def create_note(project, query, body):
    note_id = (query.get("noteId") or query.get("note_id") or [""])[0]
    if not note_id:
        return error(400, "INVALID_ARGUMENT", "a note id is required")
    check(body, "Note", "note")
    kind = kind_of(body)
    if kind is None:
        return error(400, "INVALID_ARGUMENT", "a note must have exactly one kind")
    name = f"projects/{project}/notes/{note_id}"
    with LOCK:
        if name in NOTES:
            return error(409, "ALREADY_EXISTS", f"note with name {name} already exists")
        note = dict(body, name=name, kind=kind, createTime=now(), updateTime=now())
        NOTES[name] = note
    return 200, note


def create_occurrence(project, body):
    check(body, "Occurrence", "occurrence")
    if not body.get("resourceUri"):
        return error(400, "INVALID_ARGUMENT", "resource URI is required")
    kind = kind_of(body)
    if kind is None:
        return error(400, "INVALID_ARGUMENT", "an occurrence must have exactly one kind of details")
    with LOCK:
        note = NOTES.get(body.get("noteName", ""))
        if note is None:
            return error(400, "INVALID_ARGUMENT", f"note {body.get('noteName')!r} does not exist")
        if note["kind"] != kind:
            return error(400, "INVALID_ARGUMENT", f"occurrence kind {kind} does not match note kind {note['kind']}")
        occ = dict(body, name=f"projects/{project}/occurrences/{uuid.uuid4()}", kind=kind,
                   createTime=now(), updateTime=now())
        OCCURRENCES.append(occ)
    return 200, occ


def list_occurrences(project, query, note=None):
    wanted = re.findall(r'resourceUrl\s*=\s*"([^"]*)"', (query.get("filter") or [""])[0])
    prefix = f"projects/{project}/"
    with LOCK:
        found = [o for o in OCCURRENCES if o["name"].startswith(prefix)
                 and (not wanted or o["resourceUri"] in wanted)
                 and (note is None or o["noteName"] == note)]
    if note is None:
        return 200, {"occurrences": found}
    # Small pages, so clients must follow nextPageToken.
    size = int((query.get("pageSize") or ["2"])[0])
    size = min(size, 2)
    start = int((query.get("pageToken") or ["0"])[0])
    body = {"occurrences": found[start:start + size]}
    if start + size < len(found):
        body["nextPageToken"] = str(start + size)
    return 200, body


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, method):
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if MODE == "down":
            return error(503, "UNAVAILABLE", "The service is currently unavailable.")
        if TOKEN is not None and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if MODE == "deny" or self.path.startswith("/v1/projects/denied"):
            return error(403, "PERMISSION_DENIED", "Permission 'containeranalysis.notes.create' denied on resource")
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        m = re.fullmatch(r"/v1/projects/([^/]+)/notes/([^/]+)/occurrences", url.path)
        if m and method == "GET":
            note = f"projects/{m.group(1)}/notes/{m.group(2)}"
            if note not in NOTES:
                return error(404, "NOT_FOUND", f"note {note} not found")
            return list_occurrences(m.group(1), query, note)
        m = re.fullmatch(r"/v1/projects/([^/]+)/(notes|occurrences)(?:/([^/]+))?", url.path)
        if not m:
            return error(404, "NOT_FOUND", f"no such method {url.path}")
        project, collection, item = m.groups()
        try:
            if method == "POST" and item is None:
                try:
                    body = json.loads(data)
                except ValueError:
                    return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
                if collection == "notes":
                    return create_note(project, query, body)
                return create_occurrence(project, body)
            if method == "GET" and collection == "notes" and item:
                note = NOTES.get(f"projects/{project}/notes/{item}")
                return (200, note) if note else error(404, "NOT_FOUND", "note not found")
            if method == "GET" and collection == "occurrences" and item is None:
                return list_occurrences(project, query)
        except Invalid as e:
            return error(400, "INVALID_ARGUMENT", str(e))
        return error(405, "UNIMPLEMENTED", f"{method} {url.path}")

    def do_POST(self):
        self.reply(*self.route("POST"))

    def do_GET(self):
        self.reply(*self.route("GET"))


if __name__ == "__main__":
    serve(Handler)
