"""Tekton Chains' controller and chainseal's controller, one after the other, on one
real kube-apiserver with the same `chains-config`, the same signing secret and the
same completed TaskRuns and PipelineRuns; then what each wrote, compared.

    python side_by_side.py CHAINS_BIN CHAINSEAL_BIN WORKDIR REPORT.json
        [--generated N] [--formats slsa/v2alpha4,slsa/v1] [--oci N]

Runs: the e2e records (tests/fixtures/e2e/records, one namespace per record file,
ownerReferences pointing at the PipelineRun's UID the server gave), plus N generated
TaskRuns. For each format: Chains signs everything; its annotations are read; every
chains.tekton.dev/* annotation and finalizer is removed; chainseal signs the same
objects (same UIDs); its annotations are read. Then, per run: the annotation names
(the UID replaced by <uid>), `signed`, each payload (decoded, compared field by field)
and each signature (verified with the public key; the signature bytes themselves
differ, ECDSA being randomised).

REPORT.json: {"formats": {...: {"runs": N, "chains_seconds": s, "chainseal_seconds": s,
"differences": [{"run": ..., "what": ..., "chains": ..., "chainseal": ...}],
"verified": {"chains": n, "chainseal": n}, "self_check": {...}}}, "oci": {...}}.
Exit status 0 when both controllers signed every run (`signed: "true"`); the
differences are for the caller to judge.
"""

import argparse
import base64
import concurrent.futures
import copy
import glob
import json
import os
import signal
import subprocess
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube_cluster import Cluster  # noqa: E402
import oci_side_by_side as oci  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM_NS = "tekton-chains"
CHAINS_TOKEN = "chains-token"
CHAINSEAL_TOKEN = "chainseal-token"
PREFIX = "chains.tekton.dev/"


def records():
    """(namespace, [objects]) per e2e record file, PipelineRun first."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/e2e/records/*.json"))):
        ns = "e2e-" + os.path.basename(path)[:-5]
        items = json.load(open(path))["items"]
        out.append((ns, items))
    return out


def generated(i):
    """A completed TaskRun that built and pushed one image (IMAGE_URL/IMAGE_DIGEST)."""
    digest = "%064x" % (0xC0FFEE00 + i)
    return {
        "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
        "metadata": {"name": "gen-%05d" % i, "namespace": "gen-%d" % (i % 4),
                     "labels": {"app.kubernetes.io/managed-by": "tekton-pipelines"}},
        "spec": {"taskRef": {"name": "build", "kind": "Task"},
                 "params": [{"name": "revision", "value": "main"}],
                 "serviceAccountName": "default"},
        "status": {"startTime": "2026-11-20T10:00:00Z", "completionTime": "2026-11-20T10:04:30Z",
                   "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded",
                                   "lastTransitionTime": "2026-11-20T10:04:30Z"}],
                   "podName": "gen-%05d-pod" % i,
                   "provenance": {"featureFlags": {"enableAPIFields": "beta", "resultExtractionMethod": "termination-message"}},
                   "taskSpec": {"params": [{"name": "revision", "type": "string"}],
                                "results": [{"name": "IMAGE_URL", "type": "string"},
                                            {"name": "IMAGE_DIGEST", "type": "string"}],
                                "steps": [{"name": "build", "image": "golang:1.26"}]},
                   "steps": [{"name": "build", "container": "step-build",
                              "imageID": "docker.io/library/golang@sha256:" + "a" * 64,
                              "terminated": {"exitCode": 0, "reason": "Completed",
                                             "startedAt": "2026-11-20T10:00:01Z",
                                             "finishedAt": "2026-11-20T10:04:29Z"}}],
                   "results": [{"name": "IMAGE_URL", "type": "string",
                                "value": "registry.example/team/app-%d" % i},
                               {"name": "IMAGE_DIGEST", "type": "string",
                                "value": "sha256:" + digest}]},
    }


def strip_server_fields(obj):
    obj = copy.deepcopy(obj)
    for k in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
        obj["metadata"].pop(k, None)
    return obj


def load_runs(cluster, generated_count):
    """Create every run; return [(plural, namespace, name)]."""
    runs = []
    namespaces = {ns for ns, _ in records()} | {"gen-%d" % i for i in range(min(4, generated_count))}
    for ns in sorted(namespaces):
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        cluster.create({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "default", "namespace": ns}})
    for ns, items in records():
        owner_uid = None
        for obj in items:
            obj = strip_server_fields(obj)
            obj["metadata"]["namespace"] = ns
            for ref in obj["metadata"].get("ownerReferences", []):
                ref["uid"] = owner_uid
            created = cluster.create(obj)
            if obj["kind"] == "PipelineRun":
                owner_uid = created["metadata"]["uid"]
            runs.append((obj["kind"].lower() + "s", ns, obj["metadata"]["name"]))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for obj in pool.map(cluster.create, (generated(i) for i in range(generated_count))):
            runs.append(("taskruns", obj["metadata"]["namespace"], obj["metadata"]["name"]))
    return runs


def run_path(plural, ns, name):
    return "/apis/tekton.dev/v1/namespaces/%s/%s/%s" % (ns, plural, name)


def chains_marks(cluster, runs):
    """{run: {annotation: value}} of chains.tekton.dev/* annotations, plus finalizers."""
    out = {}
    for plural in ("taskruns", "pipelineruns"):
        for obj in cluster.list_all("/apis/tekton.dev/v1/%s" % plural, metadata_only=True):
            m = obj["metadata"]
            key = (plural, m["namespace"], m["name"])
            out[key] = {
                "uid": m["uid"],
                "annotations": {k: v for k, v in (m.get("annotations") or {}).items() if k.startswith(PREFIX)},
                "finalizers": [f for f in m.get("finalizers") or [] if f.startswith("chains.tekton.dev")],
            }
    return {k: out[k] for k in runs}


def wait_signed(cluster, runs, proc, label, timeout):
    deadline = time.time() + timeout
    while True:
        marks = chains_marks(cluster, runs)
        done = [k for k, v in marks.items() if v["annotations"].get(PREFIX + "signed") in ("true", "failed")]
        if len(done) == len(runs):
            return marks
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s before signing every run" % (label, proc.returncode))
        if time.time() > deadline:
            missing = sorted(set(runs) - set(done))[:5]
            raise RuntimeError("%s signed %d of %d runs in %d s (e.g. not %s)" % (
                label, len(done), len(runs), timeout, missing))
        time.sleep(1.5)


def reset(cluster, runs):
    """Remove every chains.tekton.dev/* annotation and finalizer, as before any signer."""
    def one(key):
        plural, ns, name = key
        obj = cluster.get(run_path(*key))
        m = obj["metadata"]
        patch = {"metadata": {
            "annotations": {k: None for k in (m.get("annotations") or {}) if k.startswith(PREFIX)},
            "finalizers": [f for f in m.get("finalizers") or [] if not f.startswith("chains.tekton.dev")],
            "resourceVersion": m["resourceVersion"]}}
        cluster.request("PATCH", run_path(*key), patch, "application/merge-patch+json")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, runs))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# Chains tuned (its defaults are 2 threads per controller and client QPS 5 / burst 10).
CHAINS_TUNED = ["--threads-per-controller", "8", "--kube-api-qps", "500", "--kube-api-burst", "1000"]


def start_chains(binary, cluster, work, secrets, log, flags=CHAINS_TUNED):
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "KUBECONFIG": cluster.kubeconfig(CHAINS_TOKEN),
           "SYSTEM_NAMESPACE": SYSTEM_NS, "METRICS_DOMAIN": "tekton.dev/chains",
           "CONFIG_OBSERVABILITY_NAME": "tekton-chains-config-observability",
           "CONFIG_LEADERELECTION_NAME": "tekton-chains-config-leader-election",
           "PROFILING_PORT": "0", "METRICS_PROMETHEUS_PORT": "0"}
    # Chains reads its keys from the Secret mounted at /etc/signing-secrets (a fixed
    # path): a private mount namespace shows it ours there, and only to it.
    script = 'mkdir -p /etc/signing-secrets && mount --bind "$1" /etc/signing-secrets && shift && exec "$@"'
    return subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", secrets, binary] + flags,
        env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)


def start_chainseal(binary, cluster, work, secrets, log, env_extra=None):
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "KUBECONFIG": cluster.kubeconfig(CHAINSEAL_TOKEN),
           "CHAINSEAL_SIGNING_SECRETS": secrets, "CHAINSEAL_METRICS_ADDR": "off"}
    env.update(env_extra or {})
    return subprocess.Popen([binary, "controller"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)


def b64json(text):
    try:
        return json.loads(base64.b64decode(text))
    except ValueError:
        return None


def verify_signature(public, signature, payload):
    """True when a `signature-*` annotation verifies with `public`: base64 of a DSSE
    envelope (attestations), or base64 of a raw signature over the base64-encoded
    `payload-*` annotation's bytes (image signatures, simplesigning)."""
    def ok(sig, data):
        try:
            public.verify(sig, data, ec.ECDSA(hashes.SHA256()))
            return True
        except (InvalidSignature, ValueError):
            return False
    env = b64json(signature)
    if isinstance(env, dict) and "payload" in env:
        body = base64.b64decode(env["payload"])
        ptype = env["payloadType"].encode()
        pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(body), body)
        return any(ok(base64.b64decode(s["sig"]), pae) for s in env.get("signatures") or [])
    try:
        return payload is not None and ok(base64.b64decode(signature), base64.b64decode(payload))
    except ValueError:
        return False


def diff(a, b, path, out, limit=50):
    """Field-by-field differences of two JSON values into `out`; past `limit` one
    `(truncated)` entry says more were left out (never a silent cut)."""
    if len(out) >= limit:
        if not out[-1]["what"].endswith("(truncated)"):
            out.append({"what": path + " (truncated)", "chains": None, "chainseal": None})
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append({"what": path + "/" + k, "chains": a.get(k, "<absent>"), "chainseal": b.get(k, "<absent>")})
            else:
                diff(a[k], b[k], path + "/" + k, out, limit)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, "%s/%d" % (path, i), out, limit)
    elif a != b:
        out.append({"what": path, "chains": a, "chainseal": b})


def normalise(marks):
    """Annotation names with the UID replaced by <uid>."""
    uid = marks["uid"]
    return {k.replace(uid, "<uid>"): v for k, v in marks["annotations"].items()}


def compare(runs, chains, chainseal, public):
    differences, verified = [], {"chains": 0, "chainseal": 0}
    for key in runs:
        name = "/".join(key)
        a, b = normalise(chains[key]), normalise(chainseal[key])
        if sorted(a) != sorted(b):
            differences.append({"run": name, "what": "annotation names",
                                "chains": sorted(set(a) - set(b)), "chainseal": sorted(set(b) - set(a))})
        if chains[key]["finalizers"] != chainseal[key]["finalizers"]:
            differences.append({"run": name, "what": "finalizers", "chains": chains[key]["finalizers"],
                                "chainseal": chainseal[key]["finalizers"]})
        for k in sorted(set(a) & set(b)):
            if k.startswith(PREFIX + "signature-"):
                for who, marks in (("chains", a), ("chainseal", b)):
                    if verify_signature(public, marks[k], marks.get(k.replace("/signature-", "/payload-", 1))):
                        verified[who] += 1
                    else:
                        differences.append({"run": name, "what": k + " does not verify", who: marks[k][:80]})
                pa, pb = b64json(a[k]), b64json(b[k])
                if isinstance(pa, dict) and isinstance(pb, dict):
                    found = []
                    diff({x: y for x, y in pa.items() if x != "signatures"},
                         {x: y for x, y in pb.items() if x != "signatures"}, k, found)
                    differences.extend(dict(d, run=name) for d in found)
            elif k.startswith(PREFIX + "payload-"):
                pa, pb = b64json(a[k]), b64json(b[k])
                if pa is None or pb is None:
                    if a[k] != b[k]:
                        differences.append({"run": name, "what": k, "chains": a[k][:200], "chainseal": b[k][:200]})
                else:
                    found = []
                    diff(pa, pb, k, found)
                    differences.extend(dict(d, run=name) for d in found)
            elif a[k] != b[k]:
                differences.append({"run": name, "what": k, "chains": a[k], "chainseal": b[k]})
    return differences, verified


def self_check(runs, chains, chainseal, public):
    """Proof that the comparison can fail: one chainseal payload with one field
    changed, and one signature with one bit flipped, must each be reported."""
    key = next(k for k in runs if k[0] == "taskruns"
               and any(a.startswith(PREFIX + "payload-taskrun-") for a in chainseal[k]["annotations"]))
    def altered(change):
        marks = copy.deepcopy(chainseal)
        notes = marks[key]["annotations"]
        name = next(a for a in notes if a.startswith(PREFIX + "payload-taskrun-"))
        change(notes, name)
        return compare([key], chains, marks, public)[0]
    def payload(notes, name):
        statement = b64json(notes[name])
        statement["predicateType"] += "-changed"
        notes[name] = base64.b64encode(json.dumps(statement).encode()).decode()
    def signature(notes, name):
        sig_name = name.replace("/payload-", "/signature-", 1)
        env = b64json(notes[sig_name])
        raw = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
        raw[len(raw) // 2] ^= 1
        env["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
        notes[sig_name] = base64.b64encode(json.dumps(env).encode()).decode()
    return {
        "changed_payload_reported": any(d["what"].endswith("/predicateType") for d in altered(payload)),
        "flipped_signature_reported": any(d["what"].endswith("does not verify") for d in altered(signature)),
    }


def write_secrets(work):
    """The `signing-secrets` Secret as mounted (`x509.pem`: the demo key) under `work`;
    returns its directory and the public key."""
    secrets = os.path.join(work, "signing-secrets")
    os.makedirs(secrets, exist_ok=True)
    with open(os.path.join(ROOT, "examples/demo.key"), "rb") as f:
        key_pem = f.read()
    with open(os.path.join(secrets, "x509.pem"), "wb") as f:
        f.write(key_pem)
    return secrets, serialization.load_pem_private_key(key_pem, None).public_key()


def controller_tokens():
    """Bearer tokens of the two controllers' ServiceAccounts in tekton-chains."""
    sa = "system:serviceaccount:%s:" % SYSTEM_NS
    sa_groups = ["system:serviceaccounts", "system:serviceaccounts:" + SYSTEM_NS, "system:authenticated"]
    return {
        # Chains' own ClusterRole is not ours to ship: it runs as a cluster admin.
        CHAINS_TOKEN: (sa + "tekton-chains-controller", sa_groups + ["system:masters"]),
        # chainseal with exactly the RBAC of examples/controller/controller.yaml.
        CHAINSEAL_TOKEN: (sa + "chainseal-controller", sa_groups),
    }


def cluster_with_controllers(work, tokens):
    """A fresh cluster with chainseal's RBAC applied (examples/controller/controller.yaml)."""
    import yaml
    cluster = Cluster(work, tokens)
    cluster.start()
    try:
        cluster.apply([d for d in yaml.safe_load_all(open(os.path.join(ROOT, "examples/controller/controller.yaml")))
                       if d and d["kind"] != "NetworkPolicy"])
    except BaseException:
        cluster.stop()
        raise
    return cluster


def oci_phase(args, work, secrets, public, tokens, count):
    """`oci` storage for attestations and image signatures, N runs whose images are
    really in a loopback registry; returns the phase's report."""
    registry = oci.Registry(work)
    cluster = None
    try:
        registry.start()
        cluster = cluster_with_controllers(os.path.join(work, "cluster-oci"), tokens)
        images = []
        for i in range(count):
            repo = "team/oci-app-%d" % i
            images.append((repo, registry.push_image(repo, i)))
        registry.snapshot()
        for obj in ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "oci"}},
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "oci"}},
                    {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "chains-config", "namespace": SYSTEM_NS},
                     "data": {"artifacts.taskrun.format": "slsa/v2alpha4", "artifacts.taskrun.storage": "oci",
                              "artifacts.pipelinerun.storage": "", "artifacts.oci.storage": "oci",
                              "artifacts.oci.format": "simplesigning"}}):
            cluster.create(obj)
        runs = []
        for i, (_, digest) in enumerate(images):
            cluster.create(oci.oci_run(i, registry.host, digest))
            runs.append(("taskruns", "oci", "oci-%03d" % i))
        result = {"runs": len(runs)}
        seen = {}
        # Chains (go-containerregistry) speaks plain HTTP to a loopback, private or
        # `.local` registry by itself; chainseal only to those listed (difference S4).
        plain = {"CHAINSEAL_INSECURE_REGISTRIES": registry.host}
        starts = (("chains", start_chains),
                  ("chainseal", lambda *a: start_chainseal(*a, env_extra=plain)))
        for label, start in starts:
            with open(os.path.join(work, "%s-oci.log" % label), "w") as log:
                t = time.time()
                proc = start(getattr(args, label), cluster, work, secrets, log)
                try:
                    marks = wait_signed(cluster, runs, proc, label, 300)
                finally:
                    stop(proc)
                result[label + "_seconds"] = round(time.time() - t, 2)
            not_signed = [k for k, v in marks.items() if v["annotations"].get(PREFIX + "signed") != "true"]
            if not_signed:
                raise RuntimeError("%s did not sign %s (see %s-oci.log)" % (label, not_signed[:3], label))
            seen[label] = oci.pushes(registry, images)
            reset(cluster, runs)
            registry.restore()

        def verify(layer, who):
            content = base64.b64decode(layer["content"])
            if layer["mediaType"] == "application/vnd.dsse.envelope.v1+json":
                return verify_signature(public, base64.b64encode(content).decode(), None)
            sig = (layer.get("annotations") or {}).get(oci.SIGNATURE, "")
            return verify_signature(public, sig, base64.b64encode(content).decode())
        result["differences"], result["verified"] = oci.compare(seen["chains"], seen["chainseal"], verify, diff, b64json)
        result["tags"] = {who: sum(len(t) for t in seen[who].values()) for who in seen}
        print("side-by-side oci: chains %.1f s, chainseal %.1f s, %d differences" % (
            result["chains_seconds"], result["chainseal_seconds"], len(result["differences"])), file=sys.stderr)
        return result
    finally:
        if cluster:
            cluster.stop()
        registry.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chains")
    ap.add_argument("chainseal")
    ap.add_argument("workdir")
    ap.add_argument("report")
    ap.add_argument("--generated", type=int, default=1000)
    ap.add_argument("--formats", default="slsa/v2alpha4,slsa/v1")
    ap.add_argument("--oci", type=int, default=0, help="runs for the `oci` storage phase (0: none)")
    args = ap.parse_args()
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    secrets, public = write_secrets(work)
    tokens = controller_tokens()
    report = {"formats": {}}
    cluster = cluster_with_controllers(os.path.join(work, "cluster"), tokens)
    with cluster:
        t0 = time.time()
        runs = load_runs(cluster, args.generated)
        print("side-by-side: %d runs created in %.1f s" % (len(runs), time.time() - t0), file=sys.stderr)
        config = None
        for fmt in args.formats.split(","):
            data = {"artifacts.taskrun.format": fmt, "artifacts.taskrun.storage": "tekton",
                    "artifacts.pipelinerun.format": fmt, "artifacts.pipelinerun.storage": "tekton",
                    "artifacts.oci.storage": "tekton", "artifacts.oci.format": "simplesigning",
                    "artifacts.pipelinerun.enable-deep-inspection": "true"}
            cm = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "chains-config", "namespace": SYSTEM_NS}, "data": data}
            if config is None:
                config = cluster.create(cm)
            else:
                config = cluster.request("PUT", "/api/v1/namespaces/%s/configmaps/chains-config" % SYSTEM_NS,
                                         dict(cm, metadata=dict(cm["metadata"], resourceVersion=config["metadata"]["resourceVersion"])))
            tag = fmt.replace("/", "-")
            result = {"runs": len(runs)}
            marks = {}
            for label, start in (("chains", start_chains), ("chainseal", start_chainseal)):
                with open(os.path.join(work, "%s-%s.log" % (label, tag)), "w") as log:
                    t = time.time()
                    proc = start(getattr(args, label), cluster, work, secrets, log)
                    try:
                        marks[label] = wait_signed(cluster, runs, proc, label, 600)
                    finally:
                        stop(proc)
                    not_signed = [k for k, v in marks[label].items()
                                  if v["annotations"].get(PREFIX + "signed") != "true"]
                    if not_signed:
                        raise RuntimeError("%s marked %d runs failed, e.g. %s (see %s-%s.log)" % (
                            label, len(not_signed), not_signed[:3], label, tag))
                    result[label + "_seconds"] = round(time.time() - t, 2)
                reset(cluster, runs)
            result["differences"], result["verified"] = compare(runs, marks["chains"], marks["chainseal"], public)
            result["self_check"] = self_check(runs, marks["chains"], marks["chainseal"], public)
            report["formats"][fmt] = result
            print("side-by-side %s: chains %.1f s, chainseal %.1f s, %d differences" % (
                fmt, result["chains_seconds"], result["chainseal_seconds"], len(result["differences"])),
                file=sys.stderr)
    if args.oci:
        report["oci"] = oci_phase(args, work, secrets, public, tokens, args.oci)
    with open(args.report, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
