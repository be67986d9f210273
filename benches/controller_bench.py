"""Benchmarks of `chainseal controller` against the Kubernetes API double.

    python benches/controller_bench.py BINARY PYTHON_WITH_CRYPTOGRAPHY

Three measurements (issue #8), each with a fresh double and controller:

1. throughput: N completed, unsigned TaskRuns present at start; runs signed per second
   from the controller's start to the last `signed` mark (tekton storage, in-toto);
2. memory: 50,000 completed runs present (already signed, as in a busy cluster), and
   10,000 unsigned ones; the controller's peak RSS (VmHWM) once its lists are done
   and, for the unsigned ones, once every run is signed;
3. latency: 10,000 old runs waiting; a run completing now is signed how fast.

With TENANTS=1 (issue #24), every run's namespace (ns-0 … ns-19) is a tenant of its own
in the `chainseal-tenants` ConfigMap, with its own key (a Secret in tekton-chains) and
repository prefix, and its `default` ServiceAccount names a pull secret of its own.

The double is single-process Python: its CPU time is printed beside each result, since
it bounds what the controller can be seen doing.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN, PY = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def taskrun(i, signed=False, completed="2026-11-20T10:04:30Z"):
    tr = {
        "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
        "metadata": {"name": "tr-%06d" % i, "namespace": "ns-%d" % (i % 20), "uid": "uid-%06d" % i,
                     "labels": {"app": "bench"}, "annotations": {}},
        "spec": {"taskRef": {"name": "build"}, "params": [{"name": "revision", "value": "main"}]},
        "status": {"startTime": "2026-11-20T10:00:00Z", "completionTime": completed,
                   "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
                   "podName": "tr-%06d-pod" % i,
                   "steps": [{"name": "build", "container": "step-build",
                              "imageID": "docker.io/library/golang@sha256:" + "a" * 64}],
                   "results": [{"name": "commit", "value": "9f2d7c1e0b4a6f8e3d5c7b9a1e2f4d6c8b0a1c3e"}]},
    }
    if signed:
        tr["metadata"]["annotations"]["chains.tekton.dev/signed"] = "true"
    return tr


def tenant_objects(namespaces=20):
    """A tenants ConfigMap, one key Secret per tenant, and per namespace a
    ServiceAccount naming a pull secret of its own."""
    import base64
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    b64 = lambda b: base64.b64encode(b).decode()
    objects, tenants = [], []
    for n in range(namespaces):
        ns = "ns-%d" % n
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "key-%s" % ns, "namespace": "tekton-chains"},
                        "data": {"x509.pem": b64(pem)}})
        docker = json.dumps({"auths": {"registry.example": {"auth": b64(("user-%d:pw" % n).encode())}}}).encode()
        objects.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                        "metadata": {"name": "regcred", "namespace": ns}, "data": {".dockerconfigjson": b64(docker)}})
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns},
                        "imagePullSecrets": [{"name": "regcred"}]})
        tenants.append("  - name: t%d\n    namespaces: [%s]\n    signer: {secret: key-%s}\n    repositories: [registry.example/%s/]\n"
                       % (n, ns, ns, ns))
    objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "chainseal-tenants", "namespace": "tekton-chains"},
                    "data": {"tenants.yaml": "tenants:\n" + "".join(tenants)}})
    return objects


class Scene:
    def __init__(self, objects):
        if os.environ.get("TENANTS") == "1":
            objects = objects + tenant_objects()
        self.dir = tempfile.mkdtemp(prefix="chainseal-bench-")
        seed = os.path.join(self.dir, "seed.json")
        with open(seed, "w") as f:
            json.dump(objects + [{
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "chains-config", "namespace": "tekton-chains"},
                "data": {"artifacts.oci.storage": ""}}], f)
        cfg = os.path.join(self.dir, "double.json")
        with open(cfg, "w") as f:
            json.dump({"tokens": {TOKEN: {"user": "bench", "groups": ["system:masters"]}}, "seed": [seed],
                       "history": 200000}, f)
        self.double = subprocess.Popen([PY, os.path.join(ROOT, "tests/doubles/kube_api.py"), cfg],
                                       stdout=subprocess.PIPE, text=True)
        self.port = json.loads(self.double.stdout.readline())["port"]
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "d",
                       "clusters": [{"name": "d", "cluster": {"server": "http://127.0.0.1:%d" % self.port}}],
                       "users": [{"name": "u", "user": {"token": TOKEN}}],
                       "contexts": [{"name": "d", "context": {"cluster": "d", "user": "u", "namespace": "ci"}}]}, f)
        secrets = os.path.join(self.dir, "secrets")
        os.mkdir(secrets)
        with open(os.path.join(ROOT, "examples/demo.key")) as src, open(os.path.join(secrets, "x509.pem"), "w") as dst:
            dst.write(src.read())
        self.secrets = secrets
        self.controller = None

    def start(self, workers=int(os.environ.get("WORKERS", "8"))):
        self.metrics_port = free_port()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": self.dir, "KUBECONFIG": self.kubeconfig,
               "CHAINSEAL_SIGNING_SECRETS": self.secrets, "CHAINSEAL_LEADER_ELECTION": "false",
               "CHAINSEAL_WORKERS": str(workers), "CHAINSEAL_LOG_LEVEL": "warn",
               "CHAINSEAL_METRICS_ADDR": "127.0.0.1:%d" % self.metrics_port}
        # As the container image runs it (Dockerfile); MIMALLOC_* from the caller win.
        env["MIMALLOC_ARENA_EAGER_COMMIT"] = "0"
        env.update({k: v for k, v in os.environ.items() if k.startswith("MIMALLOC_")})
        self.started = time.monotonic()
        self.controller = subprocess.Popen([BIN, "controller"], env=env, stdout=subprocess.DEVNULL,
                                           stderr=open(os.path.join(self.dir, "controller.log"), "w"))

    def http(self, path, port=None, method="GET", body=None):
        port = port or self.port
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method, data=body,
                                     headers={"Authorization": "Bearer " + TOKEN,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()

    def metric(self, name):
        try:
            _, text = self.http("/metrics", port=self.metrics_port)
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def wait(self, predicate, timeout):
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            v = predicate()
            if v:
                return v
            time.sleep(0.05)
        raise SystemExit("timed out; see %s/controller.log" % self.dir)

    def ready(self):
        try:
            return self.http("/readyz", port=self.metrics_port)[0] == 200
        except OSError:
            return False

    def rss_peak_kib(self):
        with open("/proc/%d/status" % self.controller.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

    def double_cpu(self):
        with open("/proc/%d/stat" % self.double.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def controller_cpu(self):
        with open("/proc/%d/stat" % self.controller.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        for p in (self.controller, self.double):
            if p:
                p.terminate()
                p.wait()


def throughput(n):
    scene = Scene([taskrun(i) for i in range(n)])
    cpu0 = scene.double_cpu()
    scene.start()
    scene.wait(lambda: (scene.metric("watcher_taskrun_marked_signed_total") or 0) >= n, 600)
    elapsed = time.monotonic() - scene.started
    print("throughput: %d runs signed in %.2f s = %.0f runs/s (controller CPU %.1f s, double CPU %.1f s), peak RSS %.1f MiB"
          % (n, elapsed, n / elapsed, scene.controller_cpu(), scene.double_cpu() - cpu0, scene.rss_peak_kib() / 1024))
    scene.close()


def memory(present, unsigned):
    objects = [taskrun(i, signed=True) for i in range(present)]
    objects += [taskrun(present + i) for i in range(unsigned)]
    scene = Scene(objects)
    scene.start()
    scene.wait(scene.ready, 600)
    listed = time.monotonic() - scene.started
    rss_listed = scene.rss_peak_kib()
    if unsigned:
        scene.wait(lambda: (scene.metric("watcher_taskrun_marked_signed_total") or 0) >= unsigned, 900)
    print("memory: %d signed + %d unsigned runs present: lists done in %.1f s, peak RSS %.1f MiB then; %.1f MiB after signing"
          % (present, unsigned, listed, rss_listed / 1024, scene.rss_peak_kib() / 1024))
    scene.close()


def latency(backlog, samples=5):
    scene = Scene([taskrun(i) for i in range(backlog)])
    scene.start()
    scene.wait(scene.ready, 600)
    times = []
    for k in range(samples):
        i = 900000 + k
        tr = taskrun(i, completed=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        ns = tr["metadata"]["namespace"]
        created = time.monotonic()
        scene.http("/apis/tekton.dev/v1/namespaces/%s/taskruns" % ns, method="POST", body=json.dumps(tr).encode())

        def signed():
            _, body = scene.http("/apis/tekton.dev/v1/namespaces/%s/taskruns/%s" % (ns, tr["metadata"]["name"]))
            return json.loads(body)["metadata"].get("annotations", {}).get("chains.tekton.dev/signed") == "true"
        scene.wait(signed, 60)
        times.append(time.monotonic() - created)
        time.sleep(0.2)
    left = backlog - (scene.metric("watcher_taskrun_marked_signed_total") or 0) + samples
    print("latency: with %d old runs waiting, new runs signed in %s s (median %.3f s); %d of the backlog still waiting at the end"
          % (backlog, ", ".join("%.3f" % t for t in times), sorted(times)[len(times) // 2], left))
    scene.close()


if __name__ == "__main__":
    which = sys.argv[3:] or ["throughput", "memory", "latency"]
    if "throughput" in which:
        throughput(int(os.environ.get("RUNS", "5000")))
    if "memory" in which:
        memory(50000, 0)
        memory(0, 10000)
    if "latency" in which:
        latency(10000)
