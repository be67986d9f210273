"""A real Kubernetes API server on loopback, for the side-by-side runs of Tekton Chains
and chainseal (tests/peers/side_by_side.py, benches/chains_bench.py).

etcd and kube-apiserver are the binaries scripts/peers builds from the Go module proxy
(ETCD_BIN, KUBE_APISERVER_BIN). Nothing else of a cluster runs: no controller-manager,
scheduler or kubelet, so no Pod ever runs and no ServiceAccount is made by itself;
Tekton's CRDs are tests/peers/tekton-crds.yaml (schema-less, status subresource).

Authentication is by static bearer tokens (`--token-auth-file`), authorization by RBAC:
the admin is in `system:masters`; a ServiceAccount's token authenticates as
`system:serviceaccount:<ns>:<name>`, so the RBAC of examples/controller/controller.yaml
applies to chainseal exactly as in a cluster.

    with Cluster(workdir, tokens={"chains-token": ("system:serviceaccount:...", [groups])}) as c:
        c.apply(objects); c.get(path); c.kubeconfig("chains-token")
"""

import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
ADMIN = "admin-token"
# A list of objects' metadata only, as kubectl and client-go metadata informers ask.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _write_pem(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _serving_certs(d):
    """A CA and a serving certificate for 127.0.0.1 signed by it (rustls refuses a CA
    certificate used as the server's own)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chainseal-test-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    _write_pem(os.path.join(d, "ca.crt"), ca.public_bytes(pem))
    _write_pem(os.path.join(d, "serving.crt"), leaf.public_bytes(pem))
    _write_pem(os.path.join(d, "serving.key"), key.private_bytes(pem, pkcs8, none))
    sa = ec.generate_private_key(ec.SECP256R1())
    _write_pem(os.path.join(d, "sa.key"), sa.private_bytes(pem, pkcs8, none))
    _write_pem(os.path.join(d, "sa.pub"), sa.public_key().public_bytes(
        pem, serialization.PublicFormat.SubjectPublicKeyInfo))


class ApiError(Exception):
    def __init__(self, code, body):
        super().__init__("HTTP %d: %s" % (code, body[:500]))
        self.code = code
        self.body = body


class Cluster:
    """etcd + kube-apiserver under `workdir`; `tokens` maps extra bearer tokens to
    (user, [groups])."""

    def __init__(self, workdir, tokens=None):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.tokens = {ADMIN: ("admin", ["system:masters"])}
        self.tokens.update(tokens or {})
        self.procs = []

    def __enter__(self):
        if not self.procs:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Start etcd and kube-apiserver and wait until they serve Tekton's resources;
        on any failure both are stopped before the error goes on."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        d = self.dir
        _serving_certs(d)
        with open(os.path.join(d, "tokens.csv"), "w") as f:
            for i, (token, (user, groups)) in enumerate(self.tokens.items()):
                f.write('%s,%s,uid-%d,"%s"\n' % (token, user, i, ",".join(groups)))
        client, peer = free_port(), free_port()
        self.etcd_log = open(os.path.join(d, "etcd.log"), "w")
        self.procs.append(subprocess.Popen([
            os.environ["ETCD_BIN"], "--data-dir", os.path.join(d, "etcd"),
            "--listen-client-urls", "http://127.0.0.1:%d" % client,
            "--advertise-client-urls", "http://127.0.0.1:%d" % client,
            "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
            "--initial-cluster", "default=http://127.0.0.1:%d" % peer,
            "--unsafe-no-fsync", "--quota-backend-bytes", str(8 << 30),
            "--listen-metrics-urls", "http://127.0.0.1:%d" % free_port(),
        ], stdout=self.etcd_log, stderr=subprocess.STDOUT))
        self.port = free_port()
        self.api_log = open(os.path.join(d, "kube-apiserver.log"), "w")
        self.procs.append(subprocess.Popen([
            os.environ["KUBE_APISERVER_BIN"],
            "--etcd-servers", "http://127.0.0.1:%d" % client,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(self.port),
            "--tls-cert-file", os.path.join(d, "serving.crt"),
            "--tls-private-key-file", os.path.join(d, "serving.key"),
            "--token-auth-file", os.path.join(d, "tokens.csv"),
            "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", os.path.join(d, "sa.pub"),
            "--service-account-signing-key-file", os.path.join(d, "sa.key"),
            "--service-cluster-ip-range", "10.96.0.0/24",
            "--disable-admission-plugins", "ServiceAccount",
            "--enable-priority-and-fairness=false",
            "--max-requests-inflight", "4000", "--max-mutating-requests-inflight", "2000",
            "--cert-dir", os.path.join(d, "certs"),
        ], stdout=self.api_log, stderr=subprocess.STDOUT))
        self.ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
        deadline = time.time() + 120
        while True:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError("%s exited (%s); logs in %s" % (p.args[0], p.returncode, d))
            try:
                if self.request("GET", "/readyz") == "ok":
                    break
            except (OSError, ApiError):
                pass
            if time.time() > deadline:
                raise RuntimeError("kube-apiserver not ready after 120 s; logs in %s" % d)
            time.sleep(0.3)
        self.apply(list(yaml.safe_load_all(open(os.path.join(HERE, "tekton-crds.yaml")))))
        for plural in ("taskruns", "pipelineruns"):
            self.wait_until(lambda p=plural: self.ok("/apis/tekton.dev/v1/%s?limit=1" % p), 60,
                            "the %s CRD to be served" % plural)

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        for log in (getattr(self, "etcd_log", None), getattr(self, "api_log", None)):
            if log:
                log.close()

    def kubeconfig(self, token, name=None):
        """A kubeconfig file for `token` (CA pinned, as a cluster's would be)."""
        path = os.path.join(self.dir, name or "kubeconfig-%s" % token)
        with open(os.path.join(self.dir, "ca.crt")) as f:
            import base64
            ca = base64.b64encode(f.read().encode()).decode()
        with open(path, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                       "clusters": [{"name": "c", "cluster": {
                           "server": "https://127.0.0.1:%d" % self.port,
                           "certificate-authority-data": ca}}],
                       "users": [{"name": "u", "user": {"token": token}}],
                       "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}, f)
        return path

    def request(self, method, path, body=None, content_type="application/json", token=ADMIN, accept=None):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method)
        req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if accept:
            req.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=60) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raise ApiError(e.code, e.read().decode()) from None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def ok(self, path):
        try:
            self.request("GET", path)
            return True
        except ApiError:
            return False

    def get(self, path):
        return self.request("GET", path)

    def wait_until(self, done, timeout, what):
        deadline = time.time() + timeout
        while not done():
            if time.time() > deadline:
                raise RuntimeError("timed out after %d s waiting for %s" % (timeout, what))
            time.sleep(0.2)

    def apply(self, objects):
        """Create each object (and its status, for kinds with a status subresource)."""
        for obj in objects:
            if obj:
                self.create(obj)

    def create(self, obj):
        path = collection_path(obj)
        status = obj.get("status")
        created = self.request("POST", path, obj)
        if status is not None and obj.get("apiVersion", "").startswith("tekton.dev/"):
            created["status"] = status
            created = self.request("PUT", "%s/%s/status" % (path, obj["metadata"]["name"]), created)
        return created

    def list_all(self, path, limit=500, metadata_only=False):
        """Every item of a list, page by page; with `metadata_only`, each item's
        metadata alone (PartialObjectMetadataList: far less for the server to send)."""
        items, cont = [], ""
        accept = METADATA_LIST if metadata_only else None
        while True:
            sep = "&" if "?" in path else "?"
            page = self.request("GET", "%s%slimit=%d%s" % (path, sep, limit, "&continue=" + cont if cont else ""),
                                accept=accept)
            items.extend(page.get("items") or [])
            cont = page.get("metadata", {}).get("continue")
            if not cont:
                return items


KINDS = {
    ("v1", "Namespace"): ("/api/v1", "namespaces", False),
    ("v1", "ConfigMap"): ("/api/v1", "configmaps", True),
    ("v1", "Secret"): ("/api/v1", "secrets", True),
    ("v1", "ServiceAccount"): ("/api/v1", "serviceaccounts", True),
    ("apps/v1", "Deployment"): ("/apis/apps/v1", "deployments", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    ("rbac.authorization.k8s.io/v1", "Role"): ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    ("tekton.dev/v1", "TaskRun"): ("/apis/tekton.dev/v1", "taskruns", True),
    ("tekton.dev/v1", "PipelineRun"): ("/apis/tekton.dev/v1", "pipelineruns", True),
}


def collection_path(obj):
    prefix, plural, namespaced = KINDS[(obj["apiVersion"], obj["kind"])]
    if namespaced:
        return "%s/namespaces/%s/%s" % (prefix, obj["metadata"].get("namespace", "default"), plural)
    return "%s/%s" % (prefix, plural)
