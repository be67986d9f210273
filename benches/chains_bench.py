"""Tekton Chains' controller against chainseal's, on one real kube-apiserver (etcd and
kube-apiserver from scripts/peers; tests/peers/kube_cluster.py), same machine, same
run set, same chains-config (tekton storage, slsa/v2alpha4, x509 key, OCI image
signatures to tekton storage), one controller at a time.

    python benches/chains_bench.py CHAINS_BIN CHAINSEAL_BIN [throughput|memory|latency|all]

Each measurement starts a fresh cluster:

* throughput: N unsigned completed TaskRuns (one image each) present at start; runs
  signed per second from the controller's start to the last `signed` mark.
  Chains at its defaults (2 threads per controller, client QPS 5 / burst 10, so
  THROUGHPUT_DEFAULT_RUNS runs, default 500) and tuned (--threads-per-controller 8,
  --kube-api-qps 500, --kube-api-burst 1000, THROUGHPUT_RUNS runs, default 2,000);
  chainseal at its defaults.
* memory: MEMORY_RUNS (default 10000,50000) runs present, already signed (a busy
  cluster's history), plus one new run; peak RSS (VmHWM) once the new run is signed
  (one cluster per size; Chains at its defaults, Chains tuned, chainseal in turn, so
  the later ones find the finalizers Chains put on the runs; given up after
  MEMORY_LIMIT seconds, default 1,800).
* latency: LATENCY_BACKLOG (default 10,000) unsigned runs waiting; the controller
  starts, a run completing then is signed how many seconds later (given up after
  LATENCY_LIMIT seconds, default 600, reporting how much backlog was left).

Prints one JSON line per result; environment ETCD_BIN, KUBE_APISERVER_BIN.
"""

import concurrent.futures
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests/peers"))
import side_by_side as sbs  # noqa: E402

CHAINS, CHAINSEAL = sys.argv[1], sys.argv[2]
WHAT = sys.argv[3] if len(sys.argv) > 3 else "all"
CHAINS_DEFAULT = []
CHAINS_TUNED = sbs.CHAINS_TUNED


def cluster(work):
    c = sbs.cluster_with_controllers(os.path.join(work, "cluster"), sbs.controller_tokens())
    try:
        c.create({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "chains-config", "namespace": sbs.SYSTEM_NS},
                  "data": {"artifacts.taskrun.format": "slsa/v2alpha4", "artifacts.taskrun.storage": "tekton",
                           "artifacts.oci.storage": "tekton"}})
        for i in range(4):
            c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gen-%d" % i}})
    except BaseException:
        c.stop()
        raise
    return c


def create_runs(c, start, count, signed=False):
    def one(i):
        tr = sbs.generated(i)
        if signed:
            tr["metadata"]["annotations"] = {"chains.tekton.dev/signed": "true"}
        return c.create(tr)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in pool.map(one, range(start, start + count))]


def start(label, c, work, flags):
    log = open(os.path.join(work, label + ".log"), "w")
    secrets, _ = sbs.write_secrets(work)
    if label == "chains":
        proc = sbs.start_chains(CHAINS, c, work, secrets, log, flags)
    else:
        proc = sbs.start_chainseal(CHAINSEAL, c, work, secrets, log)
    return proc


def controller_pid(proc):
    """The controller's own PID (Chains runs under unshare/sh, which exec it)."""
    return proc.pid


def rss(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmHWM", "VmRSS")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) / 1024
    return out


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def signed_count(c):
    """Runs marked `signed: "true"`; a run marked "failed" stops the measurement."""
    n = 0
    for obj in c.list_all("/apis/tekton.dev/v1/taskruns", limit=2000, metadata_only=True):
        mark = (obj["metadata"].get("annotations") or {}).get("chains.tekton.dev/signed")
        if mark == "failed":
            raise RuntimeError("%s was marked failed" % obj["metadata"]["name"])
        n += mark == "true"
    return n


def is_signed(c, ns, name):
    obj = c.get("/apis/tekton.dev/v1/namespaces/%s/taskruns/%s" % (ns, name))
    mark = (obj["metadata"].get("annotations") or {}).get("chains.tekton.dev/signed")
    if mark == "failed":
        raise RuntimeError("%s was marked failed" % name)
    return mark == "true"


def wait_for(c, ns, name, proc, label, poll, limit=None):
    """Wait until the run `ns/name` is signed (or the controller dies); False when
    `limit` seconds passed first."""
    t0 = time.time()
    while not is_signed(c, ns, name):
        if proc.poll() is not None:
            raise RuntimeError("%s exited; see its log" % label)
        if limit is not None and time.time() - t0 > limit:
            return False
        time.sleep(poll)
    return True


def emit(**result):
    print(json.dumps(result), flush=True)


def throughput(label, flags, runs):
    with tempfile.TemporaryDirectory(prefix="chains-bench-") as work:
        c = cluster(work)
        try:
            create_runs(c, 0, runs)
            t0 = time.time()
            proc = start(label, c, work, flags)
            try:
                while signed_count(c) < runs:
                    if proc.poll() is not None:
                        raise RuntimeError("%s exited; see its log" % label)
                    time.sleep(0.5)
                elapsed = time.time() - t0
                mem, cpu = rss(controller_pid(proc)), cpu_seconds(controller_pid(proc))
            finally:
                sbs.stop(proc)
            emit(measure="throughput", controller=label, flags=" ".join(flags) or "defaults", runs=runs,
                 seconds=round(elapsed, 1), runs_per_second=round(runs / elapsed, 1),
                 cpu_seconds=round(cpu, 1), peak_rss_mib=round(mem["VmHWM"], 1))
        finally:
            c.stop()


def memory(present, controllers):
    """One cluster with `present` signed runs; each controller in turn: start, then a
    new run, then its peak RSS once that run is signed."""
    with tempfile.TemporaryDirectory(prefix="chains-bench-") as work:
        c = cluster(work)
        try:
            create_runs(c, 0, present, signed=True)
            for i, (label, flags) in enumerate(controllers):
                proc = start(label, c, work, flags)
                try:
                    t0 = time.time()
                    (ns, name), = create_runs(c, present + 1 + i, 1)
                    limit = float(os.environ.get("MEMORY_LIMIT", 1800))
                    done = wait_for(c, ns, name, proc, label, 0.2, limit)
                    signed_after = time.time() - t0
                    time.sleep(2)
                    mem = rss(controller_pid(proc))
                finally:
                    sbs.stop(proc)
                emit(measure="memory", controller=label, flags=" ".join(flags) or "defaults",
                     present=present,
                     new_run_signed_after_s=round(signed_after, 1) if done else "> %d" % limit,
                     peak_rss_mib=round(mem["VmHWM"], 1), rss_mib=round(mem["VmRSS"], 1))
        finally:
            c.stop()


def latency(label, flags, backlog):
    with tempfile.TemporaryDirectory(prefix="chains-bench-") as work:
        c = cluster(work)
        try:
            create_runs(c, 0, backlog)
            proc = start(label, c, work, flags)
            try:
                time.sleep(1)
                t0 = time.time()
                (ns, name), = create_runs(c, backlog, 1)
                limit = float(os.environ.get("LATENCY_LIMIT", 600))
                done = wait_for(c, ns, name, proc, label, 0.1, limit)
                lat = time.time() - t0
                behind = backlog - signed_count(c) if not done else 0
            finally:
                sbs.stop(proc)
            emit(measure="latency", controller=label, flags=" ".join(flags) or "defaults", backlog=backlog,
                 new_run_signed_after_s=round(lat, 2) if done else "> %d" % limit,
                 backlog_left_unsigned=behind)
        finally:
            c.stop()


def main():
    env = os.environ
    plan = []
    if WHAT in ("throughput", "all"):
        plan += [(throughput, "chains", CHAINS_DEFAULT, int(env.get("THROUGHPUT_DEFAULT_RUNS", 500))),
                 (throughput, "chains", CHAINS_TUNED, int(env.get("THROUGHPUT_RUNS", 2000))),
                 (throughput, "chainseal", [], int(env.get("THROUGHPUT_RUNS", 2000)))]
    if WHAT in ("memory", "all"):
        for n in [int(x) for x in env.get("MEMORY_RUNS", "10000,50000").split(",")]:
            plan += [(memory, n, [("chains", CHAINS_DEFAULT), ("chains", CHAINS_TUNED), ("chainseal", [])])]
    if WHAT in ("latency", "all"):
        n = int(env.get("LATENCY_BACKLOG", 10000))
        plan += [(latency, "chains", CHAINS_DEFAULT, n), (latency, "chains", CHAINS_TUNED, n),
                 (latency, "chainseal", [], n)]
    for step in plan:
        step[0](*step[1:])


if __name__ == "__main__":
    main()
