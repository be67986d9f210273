"""A loopback double of the Kubernetes API server, for tests of chainseal's Tekton
record source, `tekton` storage and controller (no API server runs on the test
machines).

    python kube_api.py CONFIG.json

CONFIG: {"tokens": {"<bearer token>": {"serviceAccount": "<namespace>/<name>", "client": "replica-a"}
                                    | {"user": "admin", "groups": ["system:masters"]}},
         "rbac": [{"file": "examples/controller/controller.yaml"},
                  {"file": "examples/tekton/rbac.yaml", "namespace": "ci"}],
         "serviceAccounts": ["ci/nobody"],   # ServiceAccounts besides those the files define
         "token_issuer_key": "key.pem",       # signs TokenRequest tokens (RS256, PKCS#8 PEM)
         "seed": ["objects.json", ...], "log": "requests.jsonl", "history": 1000,
         "fail_patches": {"<object name>": N},   # the first N storage patches fail (500)
         "concurrent_annotations": {"<object name>": {"key": "value"}}}
         # another writer adds these annotations just before the first patch of the object

It keeps objects in memory and speaks the REST API the official clients use, with
the semantics they rely on:

* resources: tekton.dev/v1 taskruns and pipelineruns, v1 configmaps, secrets and serviceaccounts
  (and their `token` subresource: the TokenRequest API, tokens signed with `token_issuer_key`),
  coordination.k8s.io/v1 leases, events.k8s.io/v1 and v1 events; namespaced paths and cluster-wide lists;
* get, list (labelSelector with `=`, `==`, `!=`, existence; fieldSelector
  `metadata.name`/`metadata.namespace`; `limit` + `continue` pages), create (409 AlreadyExists), update (409
  Conflict on a stale resourceVersion), delete (finalizers hold the object with a
  deletionTimestamp until they are removed);
* patch: JSON merge patch, strategic merge (as merge), JSON patch (RFC 6902 add,
  remove, replace, test), server-side apply (fieldManager required; fields owned by
  another manager conflict with 409 unless `force=true`; tracked per top-level
  metadata key: labels, annotations, finalizers, and per spec/status key);
* watch streams (`watch=true`) from a resourceVersion, with ADDED / MODIFIED /
  DELETED events, BOOKMARKs when `allowWatchBookmarks=true`, `timeoutSeconds`, and
  410 Gone for a resourceVersion older than the event history kept;
* authentication by bearer token (401): a token is a ServiceAccount's (user
  `system:serviceaccount:<ns>:<name>`, groups `system:serviceaccounts`,
  `system:serviceaccounts:<ns>`, `system:authenticated`; the ServiceAccount must be
  defined in an RBAC file or listed in `serviceAccounts`) or a named user with groups;
* authorization as the API server's RBAC authorizer does it, from the Role,
  ClusterRole, RoleBinding and ClusterRoleBinding documents of the `rbac` YAML files
  (`namespace` is where `kubectl apply -n` would put namespaced documents that name
  none; "default" otherwise): the request's verb (get, list, watch, create, update,
  patch, delete; a list or watch with the fieldSelector `metadata.name=X` is for the
  name X), API group, resource and subresource (`taskruns/status`), resourceNames and
  namespace (a Role grants only in its namespace; a ClusterRole everywhere through a
  ClusterRoleBinding, in one namespace through a RoleBinding); `system:masters` may
  do anything. Refusals are the API server's 403 Forbidden Status;
* validation: an object's annotations (keys plus values) may total 256 KiB
  (262144 bytes) on create, update and patch, else 422 Invalid as the API server says;
* every resourceVersion is a global counter, as etcd's revision is.

Prints one JSON line `{"port": N}` when ready; appends each request to the log
(`user`: the token's `client` name, else the user name; `username`: the user name).
For tests that wait on events: GET /debug/writes lists every write applied, in order
(who, the `chains.tekton.dev/*` annotations set, a Lease's holder); POST /debug/hold
{"marks": N, "user": client} holds that client's marks after N (see RECORD).
"""

import base64
import bisect
import copy
import datetime
import http.client
import http.server
import json
import sys
import threading
import time
import urllib.parse
import uuid

import yaml

RESOURCES = {
    ("tekton.dev", "v1", "taskruns"): "TaskRun",
    ("tekton.dev", "v1", "pipelineruns"): "PipelineRun",
    ("", "v1", "configmaps"): "ConfigMap",
    ("", "v1", "secrets"): "Secret",
    ("", "v1", "serviceaccounts"): "ServiceAccount",
    ("", "v1", "namespaces"): "Namespace",  # cluster-scoped: /api/v1/namespaces/<name>
    ("coordination.k8s.io", "v1", "leases"): "Lease",
    ("events.k8s.io", "v1", "events"): "Event",
    ("", "v1", "events"): "Event",  # the core group's Events (RBAC tells the groups apart)
}
KIND_TO_RESOURCE = {kind: key for key, kind in RESOURCES.items()}
CLUSTER_SCOPED = {("", "v1", "namespaces")}
HISTORY = 1000  # events kept for watches

LOCK = threading.Condition()
# Paged lists in progress: (resource, namespace, selectors, rv) -> the selected keys.
LISTINGS = {}
STATE = {"rv": 0, "objects": {}, "wire": {}, "events": [], "first_event_rv": 1, "managers": {}}
CONFIG = {}
DATE = [0, ""]

# What the double saw, for tests that wait on events instead of sleeping (see
# docs/testing.md, "Timing and isolation"): every committed write in the order it was
# applied (GET /debug/writes), and the mark gate (POST /debug/hold {"marks": N,
# "user": client}: the client's next N `chains.tekton.dev/signed` patches pass, later
# ones are held, never applied, until the client goes away).
RECORD = {"writes": [], "hold": None}
CHAINS_PREFIX = "chains.tekton.dev/"
WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def chains_annotations(obj):
    """An object's `chains.tekton.dev/*` annotations."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    return {k: v for k, v in annotations.items() if k.startswith(CHAINS_PREFIX)}


def annotations_in(body):
    """The annotation keys a patch body sets or removes (merge, strategic, apply or
    JSON patch)."""
    prefix = "/metadata/annotations"
    if isinstance(body, list):
        keys = set()
        for op in body:
            path = str(op.get("path", "")) if isinstance(op, dict) else ""
            if path == prefix and isinstance(op.get("value"), dict):
                keys |= set(op["value"])
            elif path.startswith(prefix + "/"):
                keys.add(path[len(prefix) + 1:].replace("~1", "/").replace("~0", "~"))
        return keys
    if isinstance(body, dict):
        return set(((body.get("metadata") or {}).get("annotations") or {}))
    return set()


def short(value):
    """An annotation value as recorded: long ones (payloads, signatures) by size."""
    return value if value is None or len(str(value)) <= 80 else f"<{len(str(value))} bytes>"


def record(entry):
    """Append to the record (caller holds LOCK)."""
    entry.update(seq=len(RECORD["writes"]), time=time.time())
    RECORD["writes"].append(entry)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_version(group, version):
    return f"{group}/{version}" if group else version


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


ANNOTATIONS_LIMIT = 256 * 1024  # bytes of keys plus values (apimachinery's TotalAnnotationSizeLimitB)
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
# Loaded RBAC: roles by (namespace, name), cluster roles by name, bindings as documents.
RBAC = {"roles": {}, "clusterroles": {}, "rolebindings": [], "clusterrolebindings": [], "serviceaccounts": set()}


def load_rbac(path, namespace=None):
    """Load the RBAC documents (and ServiceAccounts) of a YAML file, as `kubectl apply
    [-n namespace] -f path` would create them; refuse what kubectl or the API server's
    validation refuses."""
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        kind, meta = doc.get("kind"), doc.get("metadata") or {}
        if kind not in RBAC_KINDS + ("ServiceAccount",):
            continue
        ns = None
        if kind in ("Role", "RoleBinding", "ServiceAccount"):
            ns = meta.get("namespace") or namespace or "default"
            if namespace and ns != namespace:
                raise SystemExit(f"{path}: {kind} {meta.get('name')}: the namespace from the provided object "
                                 f"\"{ns}\" does not match the namespace \"{namespace}\"")
        if kind == "ServiceAccount":
            RBAC["serviceaccounts"].add((ns, meta["name"]))
        elif kind == "Role":
            RBAC["roles"][(ns, meta["name"])] = doc.get("rules") or []
        elif kind == "ClusterRole":
            RBAC["clusterroles"][meta["name"]] = doc.get("rules") or []
        else:
            ref = doc.get("roleRef") or {}
            if ref.get("kind") not in (("ClusterRole",) if kind == "ClusterRoleBinding" else ("Role", "ClusterRole")):
                raise SystemExit(f"{path}: {kind} {meta.get('name')}: roleRef.kind {ref.get('kind')!r} is not supported")
            for subject in doc.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount" and not subject.get("namespace") and kind == "ClusterRoleBinding":
                    raise SystemExit(f"{path}: {kind} {meta.get('name')}: subjects[].namespace: Required value")
            binding = {"name": meta.get("name"), "namespace": ns, "roleRef": ref, "subjects": doc.get("subjects") or []}
            RBAC["rolebindings" if kind == "RoleBinding" else "clusterrolebindings"].append(binding)


def user_of(entry):
    """(user name, groups) of a token's config entry, as the authenticator sets them."""
    if "serviceAccount" in entry:
        ns, _, name = entry["serviceAccount"].partition("/")
        return (f"system:serviceaccount:{ns}:{name}",
                ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"])
    return entry["user"], list(entry.get("groups", [])) + ["system:authenticated"]


def applies_to(subject, user, groups, binding_namespace):
    """Whether a binding's subject is this user (rbac's appliesToUser)."""
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user
    if kind == "Group":
        return subject.get("name") in groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return user == f"system:serviceaccount:{ns}:{subject.get('name')}"
    return False


def rule_allows(rule, verb, group, resource, sub, name):
    """Whether one PolicyRule allows the request (rbac's RuleAllows)."""
    def has(key, value):
        values = rule.get(key) or []
        return "*" in values or value in values
    combined = f"{resource}/{sub}" if sub else resource
    resources = rule.get("resources") or []
    resource_ok = "*" in resources or combined in resources or (sub and f"*/{sub}" in resources)
    names = rule.get("resourceNames") or []
    return has("verbs", verb) and has("apiGroups", group) and resource_ok and (not names or name in names)


def rules_for(user, groups, ns):
    """Every rule granted to the user in namespace `ns` (None: cluster scope), and the
    reasons why a referenced role could not be found (the RBAC authorizer reports those)."""
    rules, missing = [], []

    def resolve(ref, binding_ns):
        if ref.get("kind") == "Role":
            found = RBAC["roles"].get((binding_ns, ref.get("name")))
            what = f'role.rbac.authorization.k8s.io "{ref.get("name")}" not found'
        else:
            found = RBAC["clusterroles"].get(ref.get("name"))
            what = f'clusterrole.rbac.authorization.k8s.io "{ref.get("name")}" not found'
        if found is None:
            missing.append(what)
            return []
        return found

    for b in RBAC["clusterrolebindings"]:
        if any(applies_to(s, user, groups, None) for s in b["subjects"]):
            rules += resolve(b["roleRef"], None)
    if ns:
        for b in RBAC["rolebindings"]:
            if b["namespace"] == ns and any(applies_to(s, user, groups, ns) for s in b["subjects"]):
                rules += resolve(b["roleRef"], ns)
    return rules, missing


def forbidden(user, verb, res, ns, name, sub, missing):
    """The API server's 403 Status (apiserver's forbiddenMessage and errors.NewForbidden)."""
    group, resource = res[0], res[2]
    shown = f"{resource}/{sub}" if sub else resource
    scope = f' in the namespace "{ns}"' if ns else " at the cluster scope"
    reason = f'User "{user}" cannot {verb} resource "{shown}" in API group "{group}"{scope}'
    if missing:
        reason += ": RBAC: [" + ", ".join(missing) + "]"
    what = f"{resource}.{group}" if group else resource
    named = f' "{name}"' if name else ""
    return status(403, "Forbidden", f"{what}{named} is forbidden: {reason}",
                  {"name": name or "", "group": group, "kind": resource})


def annotations_size(obj):
    """Bytes of an object's annotation keys and values, as the API server counts them."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())


def invalid(res, name, obj):
    """The 422 Invalid Status for an object the API server's validation refuses, or None."""
    if annotations_size(obj) <= ANNOTATIONS_LIMIT:
        return None
    group, kind = res[0], RESOURCES[res]
    detail = f"Too long: must have at most {ANNOTATIONS_LIMIT} bytes"
    qualified = f"{kind}.{group}" if group else kind
    return status(422, "Invalid", f'{qualified} "{name}" is invalid: metadata.annotations: {detail}',
                  {"name": name or "", "group": group, "kind": kind,
                   "causes": [{"reason": "FieldValueTooLong", "message": detail, "field": "metadata.annotations"}]})


def key_of(res, ns, name):
    return (res, ns or "", name)


def bump(obj):
    """Give obj the next resourceVersion (caller holds LOCK)."""
    STATE["rv"] += 1
    obj.setdefault("metadata", {})["resourceVersion"] = str(STATE["rv"])
    return STATE["rv"]


def wire(obj):
    """An object's JSON, made once per write and sent by every read and watch."""
    return json.dumps(obj).encode()


def record_event(kind, res, obj, data=None):
    """Keep the event as sent (JSON bytes), with the fields watch filters read."""
    meta = obj.get("metadata", {})
    slim = {"metadata": {k: meta.get(k) for k in ("name", "namespace", "labels")}}
    data = data if data is not None else wire(obj)
    STATE["events"].append((int(meta["resourceVersion"]), kind, res, slim, data))
    if len(STATE["events"]) > CONFIG.get("history", HISTORY):
        STATE["events"].pop(0)
        STATE["first_event_rv"] = STATE["events"][0][0]
    LOCK.notify_all()


def events_after(cursor):
    """The recorded events newer than resourceVersion `cursor` (caller holds LOCK);
    events are kept in resourceVersion order, so a binary search finds the start."""
    events = STATE["events"]
    return events[bisect.bisect_right(events, cursor, key=lambda e: e[0]):]


def put_object(res, obj, event):
    meta = obj.setdefault("metadata", {})
    if "uid" not in meta:
        meta["uid"] = str(uuid.uuid4())
    if "creationTimestamp" not in meta:
        meta["creationTimestamp"] = now()
    meta.setdefault("generation", 1)
    group, version, _ = res
    obj["apiVersion"] = api_version(group, version)
    obj["kind"] = RESOURCES[res]
    bump(obj)
    key = key_of(res, meta.get("namespace"), meta["name"])
    STATE["objects"][key] = obj
    STATE["wire"][key] = wire(obj)
    record_event(event, res, obj, STATE["wire"][key])


def seed(path):
    with open(path) as f:
        data = json.load(f)
    items = data if isinstance(data, list) else data.get("items", [data]) if data.get("kind", "").endswith("List") else [data]
    for obj in items:
        group, _, version = obj["apiVersion"].rpartition("/")
        res = (group, version, KIND_TO_RESOURCE[obj["kind"]][2])
        if res not in CLUSTER_SCOPED:
            obj["metadata"].setdefault("namespace", "default")
        put_object(res, obj, "ADDED")


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_pointer(doc, pointer):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    parent = doc
    for p in parts[:-1]:
        parent = parent[int(p)] if isinstance(parent, list) else parent[p]
    return parent, parts[-1] if parts else None


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        parent, last = json_pointer(doc, op["path"])
        if op["op"] == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
        elif op["op"] in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif op["op"] == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                if op["op"] == "replace" and last not in parent:
                    raise ValueError(f"replace of missing {op['path']}")
                parent[last] = op["value"]
        elif op["op"] == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                del parent[last]
        else:
            raise ValueError(f"unsupported op {op['op']}")
    return doc


def owned_fields(obj):
    """The SSA field units of an applied object: metadata.<labels|annotations> keys,
    finalizers entries, and spec/status top-level keys."""
    fields = set()
    meta = obj.get("metadata", {})
    for m in ("labels", "annotations"):
        for k in (meta.get(m) or {}):
            fields.add(f"metadata.{m}.{k}")
    for f in meta.get("finalizers") or []:
        fields.add(f"metadata.finalizers.{f}")
    for top in ("spec", "status", "data"):
        for k in (obj.get(top) or {}):
            fields.add(f"{top}.{k}")
    return fields


def matches_labels(obj, selector):
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def matches_fields(obj, selector):
    meta = obj.get("metadata", {})
    for term in filter(None, (t.strip() for t in selector.split(","))):
        k, v = term.replace("==", "=").split("=", 1)
        if {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}.get(k) != v:
            return False
    return True


class Headers(dict):
    """Request headers by lower-case name. http.server parses headers with the email
    package, which cost a fifth of the double's CPU under the controller benchmark."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name):
        return dict.get(self, name.lower())

    def __contains__(self, name):
        return dict.__contains__(self, name.lower())


def parse_headers(fp, _class=None):
    headers = Headers()
    for line in http.client._read_headers(fp):
        name, _, value = line.decode("iso-8859-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


http.client.parse_headers = parse_headers


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, each
    # response would wait for the client's delayed ACK (40 ms). Go's API server sets
    # TCP_NODELAY too.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):
        # The Date header, formatted once a second rather than per response.
        second = int(time.time() if timestamp is None else timestamp)
        if DATE[0] != second:
            DATE[:] = [second, super().date_time_string(second)]
        return DATE[1]

    def send_json(self, code, body):
        self.send_bytes(code, json.dumps(body).encode())

    def send_bytes(self, code, data):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_request_line(self, verb, resource, body=None):
        if CONFIG.get("log"):
            entry = self.token_entry()
            username = user_of(entry)[0] if entry else None
            with LOCK, open(CONFIG["log"], "a") as f:
                f.write(json.dumps({"verb": verb, "path": self.path, "resource": resource,
                                    "user": (entry or {}).get("client", username), "username": username,
                                    "contentType": self.headers.get("Content-Type"), "body": body}) + "\n")

    def parse(self):
        url = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        ns = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        if not rest:
            return None
        res = (group, version, rest[0])
        if res not in RESOURCES:
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        return res, ns, name, sub, q

    def token_entry(self):
        """The config entry of the request's bearer token (None: unauthenticated)."""
        auth = self.headers.get("Authorization", "")
        entry = CONFIG.get("tokens", {}).get(auth[7:] if auth.startswith("Bearer ") else None)
        if entry and "serviceAccount" in entry:
            ns, _, name = entry["serviceAccount"].partition("/")
            if (ns, name) not in RBAC["serviceaccounts"]:
                return None  # the token of a ServiceAccount that does not exist
        return entry

    def authorize(self, verb, res, ns, name, sub=None):
        """Authenticate the bearer token (401) and authorize the request by RBAC (403)."""
        entry = self.token_entry()
        if entry is None:
            self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            return False
        user, groups = user_of(entry)
        if "system:masters" in groups:
            return True
        rules, missing = rules_for(user, groups, ns)
        if any(rule_allows(r, verb, res[0], res[2], sub, name) for r in rules):
            return True
        self.send_json(403, forbidden(user, verb, res, ns, name, sub, missing))
        return False

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.sent = json.loads(self.rfile.read(length)) if length else None  # for record_write
        return self.sent

    def not_found(self, res, name):
        group = res[0]
        what = f"{res[2]}.{group}" if group else res[2]
        self.send_json(404, status(404, "NotFound", f'{what} "{name}" not found', {"name": name, "group": group, "kind": res[2]}))

    def do_GET(self):
        if self.path.startswith("/debug/"):
            return self.debug()
        if self.path.startswith("/version"):
            return self.send_json(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0-double"})
        parsed = self.parse()
        if not parsed:
            return self.send_json(404, status(404, "NotFound", f"no route {self.path}"))
        res, ns, name, sub, q = parsed
        watching = q.get("watch") in ("true", "1")
        verb = "get" if name else ("watch" if watching else "list")
        self.log_request_line(verb, res[2])
        # A list or watch of one name (fieldSelector metadata.name=X) is authorized as
        # a request for X, so resourceNames rules can allow it (apiserver's RequestInfo).
        selected = None if name else dict(t.replace("==", "=").split("=", 1) for t in
                                          q.get("fieldSelector", "").split(",") if "=" in t and "!=" not in t).get("metadata.name")
        if not self.authorize(verb, res, ns, name or selected, sub):
            return
        if name:
            with LOCK:
                data = STATE["wire"].get(key_of(res, ns, name))
            if data is None:
                return self.not_found(res, name)
            return self.send_bytes(200, data)
        if watching:
            return self.watch(res, ns, q)
        # Pagination (`limit` + `continue`), as the API server pages large lists.
        limit = int(q.get("limit") or 0)
        start, rv = 0, None
        if q.get("continue"):
            token = json.loads(base64.b64decode(q["continue"]))
            start, rv = token["start"], token["rv"]
        with LOCK:
            # A paged list is one snapshot (as etcd serves it): the keys selected for
            # the first page are kept for the pages after it, so a list of n objects
            # costs O(n) once, not once per page.
            listing = (res, ns, q.get("labelSelector", ""), q.get("fieldSelector", ""), rv)
            selected = LISTINGS.get(listing) if start else None
            if selected is None:
                keys = [k for k in sorted(STATE["objects"]) if k[0] == res and (ns is None or k[1] == ns)]
                selected = [k for k in keys if matches_labels(STATE["objects"][k], q.get("labelSelector", ""))
                            and matches_fields(STATE["objects"][k], q.get("fieldSelector", ""))]
                rv = rv if rv is not None else STATE["rv"]
                if limit and limit < len(selected):
                    while len(LISTINGS) >= 16:
                        LISTINGS.pop(next(iter(LISTINGS)))
                    LISTINGS[listing[:-1] + (rv,)] = selected
            page = selected[start:start + limit] if limit else selected[start:]
            page = [k for k in page if k in STATE["wire"]]
            items = b", ".join(STATE["wire"][k] for k in page)
        meta = {"resourceVersion": str(rv)}
        if limit and start + limit < len(selected):
            meta["continue"] = base64.b64encode(json.dumps({"start": start + limit, "rv": rv}).encode()).decode()
        group, version, plural = res
        head = json.dumps({"kind": RESOURCES[res] + "List", "apiVersion": api_version(group, version), "metadata": meta})
        self.send_bytes(200, head[:-1].encode() + b', "items": [' + items + b"]}")

    def watch(self, res, ns, q):
        since = q.get("resourceVersion", "")
        timeout = float(q.get("timeoutSeconds", "300"))
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send_raw(data):
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def send(event):
            send_raw((json.dumps(event) + "\n").encode())

        def wanted(r, obj):
            return r == res and (ns is None or obj["metadata"].get("namespace") == ns) \
                and matches_labels(obj, q.get("labelSelector", "")) and matches_fields(obj, q.get("fieldSelector", ""))

        deadline = time.time() + timeout
        try:
            with LOCK:
                if since in ("", "0"):
                    initial = [copy.deepcopy(o) for (r, _, _), o in sorted(STATE["objects"].items()) if wanted(r, o)]
                    cursor = STATE["rv"]
                else:
                    cursor = int(since)
                    initial = []
                    if cursor < STATE["first_event_rv"] - 1:
                        gone = status(410, "Expired", f"too old resource version: {cursor} ({STATE['first_event_rv'] - 1})")
                        send({"type": "ERROR", "object": gone})
                        self.wfile.write(b"0\r\n\r\n")
                        return
            for obj in initial:
                send({"type": "ADDED", "object": obj})
            last_bookmark = time.time()
            while time.time() < deadline:
                with LOCK:
                    events = events_after(cursor)
                    if not events:
                        LOCK.wait(timeout=0.2)
                        events = events_after(cursor)
                    current = STATE["rv"]
                for rv, kind, r, slim, data in events:
                    cursor = rv
                    if wanted(r, slim):
                        send_raw(b'{"type": "' + kind.encode() + b'", "object": ' + data + b"}\n")
                if not events:
                    cursor = max(cursor, current)
                if bookmarks and time.time() - last_bookmark > 1.0:
                    group, version, _ = res
                    send({"type": "BOOKMARK", "object": {"kind": RESOURCES[res], "apiVersion": api_version(group, version),
                                                         "metadata": {"resourceVersion": str(cursor)}}})
                    last_bookmark = time.time()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def do_POST(self):
        if self.path.startswith("/debug/"):
            return self.debug()
        parsed = self.parse()
        if not parsed:
            return self.send_json(404, status(404, "NotFound", f"no route {self.path}"))
        res, ns, target, sub, _ = parsed
        obj = self.body() or {}
        if res == ("", "v1", "serviceaccounts") and sub == "token":
            return self.token_request(res, ns, target, obj)
        self.log_request_line("create", res[2], obj)
        name = obj.get("metadata", {}).get("name")
        # A create names no object in its URL: resourceNames rules cannot allow it.
        if not self.authorize("create", res, ns, None):
            return
        obj.setdefault("metadata", {})["namespace"] = ns
        refused = invalid(res, name, obj)
        if refused:
            return self.send_json(422, refused)
        with LOCK:
            if key_of(res, ns, name) in STATE["objects"]:
                return self.send_json(409, status(409, "AlreadyExists", f'{res[2]} "{name}" already exists'))
            self.record_write(res, ns, name, None, obj)
            put_object(res, obj, "ADDED")
        self.send_json(201, obj)

    def token_request(self, res, ns, name, obj):
        """TokenRequest (`create` on `serviceaccounts/token`): a JWT for the
        ServiceAccount, signed RS256 by CONFIG["token_issuer_key"] (PKCS#8 PEM) as the
        API server's service-account issuer (`token_issuer`, default
        https://kubernetes.default.svc) signs it, with the requested audiences and the
        `kubernetes.io` claims a projected token has."""
        self.log_request_line("create", "serviceaccounts/token", obj)
        if not self.authorize("create", res, ns, name, "token"):
            return
        exists = (ns, name) in RBAC["serviceaccounts"] or key_of(res, ns, name) in STATE["objects"]
        if not exists:
            return self.not_found(res, name)
        if not CONFIG.get("token_issuer_key"):
            return self.send_json(500, status(500, "InternalError", "the double has no token_issuer_key"))
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        spec = obj.get("spec") or {}
        seconds = max(600, int(spec.get("expirationSeconds") or 3600))
        audiences = spec.get("audiences") or ["https://kubernetes.default.svc"]
        now = int(time.time())
        issuer = CONFIG.get("token_issuer", "https://kubernetes.default.svc")
        claims = {
            "iss": issuer, "sub": f"system:serviceaccount:{ns}:{name}", "aud": audiences,
            "iat": now, "nbf": now, "exp": now + seconds,
            "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ns}/{name}"))}},
        }
        b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
        header = {"alg": "RS256", "kid": CONFIG.get("token_issuer_kid", "chainseal-test-issuer")}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        with open(CONFIG["token_issuer_key"], "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        expires = datetime.datetime.fromtimestamp(now + seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
            "spec": {**spec, "audiences": audiences, "expirationSeconds": seconds},
            "status": {"token": f"{signing_input}.{b64(signature)}", "expirationTimestamp": expires},
        }
        self.send_json(201, answer)

    def do_PUT(self):
        parsed = self.parse()
        if not parsed:
            return self.send_json(404, status(404, "NotFound", f"no route {self.path}"))
        res, ns, name, sub, _ = parsed
        obj = self.body() or {}
        self.log_request_line("update", res[2], obj)
        if not self.authorize("update", res, ns, name, sub):
            return
        with LOCK:
            cur = STATE["objects"].get(key_of(res, ns, name))
            if cur is None:
                return self.not_found(res, name)
            want = obj.get("metadata", {}).get("resourceVersion")
            if want and want != cur["metadata"]["resourceVersion"]:
                return self.send_json(409, status(409, "Conflict", f'Operation cannot be fulfilled on {res[2]} "{name}": the object has been modified; please apply your changes to the latest version and try again'))
            if sub == "status":
                new = copy.deepcopy(cur)
                new["status"] = obj.get("status")
            else:
                new = obj
                new["metadata"]["uid"] = cur["metadata"]["uid"]
                new["metadata"]["creationTimestamp"] = cur["metadata"]["creationTimestamp"]
            new["metadata"]["namespace"] = ns
            self.finish_write(res, ns, name, new)

    def finish_write(self, res, ns, name, new):
        """Store an updated object (caller holds LOCK), honouring finalizers on delete;
        refuse an invalid one (422) as the API server's validation does."""
        refused = invalid(res, name, new)
        if refused:
            return self.send_json(422, refused)
        self.record_write(res, ns, name, STATE["objects"].get(key_of(res, ns, name)), new)
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            bump(new)
            del STATE["objects"][key_of(res, ns, name)]
            del STATE["wire"][key_of(res, ns, name)]
            record_event("DELETED", res, new)
            self.send_json(200, new)
        else:
            put_object(res, new, "MODIFIED")
            self.send_bytes(200, STATE["wire"][key_of(res, ns, name)])

    def do_PATCH(self):
        parsed = self.parse()
        if not parsed:
            return self.send_json(404, status(404, "NotFound", f"no route {self.path}"))
        res, ns, name, sub, q = parsed
        patch = self.body()
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        self.log_request_line("patch", res[2], patch)
        if not self.authorize("patch", res, ns, name, sub):
            return
        self.concurrent_write(res, ns, name)
        if self.held(name, patch):
            return
        # Fault injection: the first N storage writes (patches carrying a
        # `chains.tekton.dev/payload-*` annotation) to object `name` fail with a 500.
        if CONFIG.get("fail_patches") and "chains.tekton.dev/payload-" in json.dumps(patch):
            with LOCK:
                left = CONFIG.get("fail_patches", {}).get(name, 0)
                if left > 0:
                    CONFIG["fail_patches"][name] = left - 1
                    return self.send_json(500, status(500, "InternalError", "injected fault: etcdserver: request timed out"))
        with LOCK:
            cur = STATE["objects"].get(key_of(res, ns, name))
            if cur is None:
                return self.not_found(res, name)
            try:
                if ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                    new = merge_patch(cur, patch)
                    self.take_ownership(res, ns, name, cur, new, q.get("fieldManager"))
                elif ctype == "application/json-patch+json":
                    new = json_patch(cur, patch)
                    self.take_ownership(res, ns, name, cur, new, q.get("fieldManager"))
                elif ctype == "application/apply-patch+yaml":
                    manager = q.get("fieldManager")
                    if not manager:
                        return self.send_json(400, status(400, "BadRequest", "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests"))
                    managers = STATE["managers"].setdefault(key_of(res, ns, name), {})
                    applied = owned_fields(patch)
                    conflicts = sorted(f for other, fields in managers.items() if other != manager for f in fields if f in applied
                                       and self.field_value(cur, f) != self.field_value(patch, f))
                    if conflicts and q.get("force") not in ("true", "1"):
                        return self.send_json(409, status(409, "Conflict", f"Apply failed with {len(conflicts)} conflict(s): " + "; ".join(
                            f'conflict with "{o}": .{f}' for o, fs in managers.items() for f in conflicts if f in fs)))
                    for other in managers:
                        if other != manager:
                            managers[other] = [f for f in managers[other] if f not in applied]
                    previous = set(managers.get(manager, []))
                    new = merge_patch(cur, {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")})
                    # finalizers is a set list: applied entries join the others.
                    if "finalizers" in (patch.get("metadata") or {}):
                        kept = cur.get("metadata", {}).get("finalizers") or []
                        new["metadata"]["finalizers"] = kept + [f for f in patch["metadata"]["finalizers"] or [] if f not in kept]
                    for f in previous - applied:  # fields the manager no longer applies are removed
                        self.remove_field(new, f)
                    managers[manager] = sorted(applied)
                else:
                    return self.send_json(415, status(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"))
            except (ValueError, KeyError, IndexError) as e:
                return self.send_json(422, status(422, "Invalid", f"patch failed: {e}"))
            new["metadata"]["uid"] = cur["metadata"]["uid"]
            new["metadata"]["name"] = name
            new["metadata"]["namespace"] = ns
            self.finish_write(res, ns, name, new)

    def who(self):
        """The client a request's token names (`client`, else its user), for the record."""
        auth = self.headers.get("Authorization", "")
        entry = CONFIG.get("tokens", {}).get(auth[7:] if auth.startswith("Bearer ") else None) or {}
        return entry.get("client") or entry.get("user") or entry.get("serviceAccount")

    def record_write(self, res, ns, name, old, new):
        """Record a write about to be applied (caller holds LOCK): who, to what, which
        `chains.tekton.dev/*` annotations it set or removed (a patch naming a key with
        its current value counts: a run marked twice is seen), and a Lease's holder."""
        verb = WRITE_VERBS.get(self.command, self.command)
        before, after = chains_annotations(old), chains_annotations(new)
        keys = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        if verb == "patch":
            keys |= {k for k in annotations_in(getattr(self, "sent", None)) if k.startswith(CHAINS_PREFIX)}
        entry = {"verb": verb, "resource": res[2], "namespace": ns, "name": name, "user": self.who(),
                 "annotations": {k: short(after.get(k)) for k in sorted(keys)}}
        if res[2] == "leases":
            spec = (new or {}).get("spec") or {}
            entry["lease"] = {k: spec.get(k) for k in ("holderIdentity", "acquireTime", "renewTime",
                                                       "leaseDurationSeconds", "leaseTransitions")}
            renew = spec.get("renewTime")
            entry["lease"]["renewEpoch"] = datetime.datetime.fromisoformat(renew.replace("Z", "+00:00")).timestamp() if renew else None
        record(entry)

    def held(self, name, patch):
        """The mark gate: once the armed number of the armed client's marks has passed,
        hold this `signed` patch of that client (never applied) until the client goes
        away. True when held."""
        if RECORD["hold"] is None or CHAINS_PREFIX + "signed" not in annotations_in(patch):
            return False
        with LOCK:
            hold = RECORD["hold"]
            if hold is None or hold.get("user") not in (None, self.who()):
                return False
            if hold["left"] > 0:
                hold["left"] -= 1
                return False
            record({"verb": "held", "name": name, "user": self.who()})
        try:
            while self.connection.recv(4096):
                pass
        except OSError:
            pass
        with LOCK:
            record({"verb": "dropped", "name": name, "user": self.who()})
        self.close_connection = True
        return True

    def debug(self):
        """GET /debug/writes: the record; POST /debug/hold {"marks": N, "user": client}:
        arm the gate."""
        if self.command == "GET" and self.path.split("?")[0] == "/debug/writes":
            with LOCK:
                data = json.dumps({"writes": RECORD["writes"]}).encode()
            return self.send_bytes(200, data)
        if self.command == "POST" and self.path == "/debug/hold":
            body = self.body() or {}
            marks = int(body.get("marks", 0))
            with LOCK:
                RECORD["hold"] = {"left": marks, "user": body.get("user")}
            return self.send_json(200, {"armed": marks})
        return self.send_json(404, status(404, "NotFound", f"no route {self.path}"))

    @staticmethod
    def concurrent_write(res, ns, name):
        """Fault injection: another writer adds the configured annotations to `name`
        just before its first patch is applied (between a client's read and its write)."""
        with LOCK:
            extra = CONFIG.get("concurrent_annotations", {}).pop(name, None)
            cur = STATE["objects"].get(key_of(res, ns, name))
            if extra and cur is not None:
                new = copy.deepcopy(cur)
                new["metadata"].setdefault("annotations", {}).update(extra)
                put_object(res, new, "MODIFIED")

    def take_ownership(self, res, ns, name, cur, new, manager):
        """A non-apply write, as the API server tracks it: every field it changed or
        removed leaves its applier; the fields it set now belong to the writer's
        manager (its `fieldManager`, else a per-writer default)."""
        managers = STATE["managers"].setdefault(key_of(res, ns, name), {})
        changed = {f for f in owned_fields(cur) | owned_fields(new)
                   if self.field_value(cur, f) != self.field_value(new, f)}
        if not changed:
            return
        for other in list(managers):
            managers[other] = [f for f in managers[other] if f not in changed]
        writer = manager or "before-first-apply"
        present = {f for f in changed if self.field_value(new, f) is not None}
        managers[writer] = sorted(set(managers.get(writer, [])) | present)

    @staticmethod
    def field_value(obj, field):
        parts = field.split(".")
        if parts[0] == "metadata" and parts[1] in ("labels", "annotations"):
            return (obj.get("metadata", {}).get(parts[1]) or {}).get(".".join(parts[2:]))
        if parts[:2] == ["metadata", "finalizers"]:
            return ".".join(parts[2:]) in (obj.get("metadata", {}).get("finalizers") or [])
        return (obj.get(parts[0]) or {}).get(".".join(parts[1:]))

    @staticmethod
    def remove_field(obj, field):
        parts = field.split(".")
        meta = obj.get("metadata", {})
        if parts[0] == "metadata" and parts[1] in ("labels", "annotations"):
            (meta.get(parts[1]) or {}).pop(".".join(parts[2:]), None)
        elif parts[:2] == ["metadata", "finalizers"]:
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != ".".join(parts[2:])]
        else:
            (obj.get(parts[0]) or {}).pop(".".join(parts[1:]), None)

    def do_DELETE(self):
        parsed = self.parse()
        if not parsed:
            return self.send_json(404, status(404, "NotFound", f"no route {self.path}"))
        res, ns, name, sub, _ = parsed
        self.body()  # DeleteOptions, if any: read so the connection stays in step
        self.log_request_line("delete", res[2])
        if not self.authorize("delete" if name else "deletecollection", res, ns, name, sub):
            return
        with LOCK:
            cur = STATE["objects"].get(key_of(res, ns, name))
            if cur is None:
                return self.not_found(res, name)
            new = copy.deepcopy(cur)
            new["metadata"].setdefault("deletionTimestamp", now())
            self.finish_write(res, ns, name, new)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client killed mid-request (the controller restart test) is expected.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    with open(sys.argv[1]) as f:
        CONFIG.update(json.load(f))
    for entry in CONFIG.get("rbac", []):
        load_rbac(entry["file"], entry.get("namespace"))
    for account in CONFIG.get("serviceAccounts", []):
        RBAC["serviceaccounts"].add(tuple(account.split("/", 1)))
    with LOCK:
        for path in CONFIG.get("seed", []):
            seed(path)
    server = Server(("127.0.0.1", 0), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
