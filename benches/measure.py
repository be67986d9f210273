"""What the whole-process benchmarks measure, shared by keyless_bench.py and
verify_bench.py: hyperfine's median wall time and the median peak RSS (`/usr/bin/time`)
of one shell command."""

import json
import os
import statistics
import subprocess


def hyperfine(command, runs, work, name, env=None):
    """Median wall time of `command` in ms (hyperfine: 3 warm-up runs, no shell,
    its JSON export kept in `work/<name>.json`); a failing run stops the bench."""
    out = os.path.join(work, f"{name}.json")
    subprocess.run(
        ["hyperfine", "--warmup", "3", "--runs", str(runs), "-N", "--export-json", out, command],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    with open(out) as f:
        return statistics.median(json.load(f)["results"][0]["times"]) * 1000


def peak_rss(command, env=None, runs=10):
    """Median peak RSS of `command` in MiB over `runs` runs; a failing run stops the
    bench."""
    peaks = []
    for _ in range(runs):
        r = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "sh", "-c", f"exec {command}"],
            env=env, capture_output=True, text=True,
        )
        if r.returncode != 0:
            raise SystemExit(f"{command} failed:\n{r.stderr}")
        peaks.append(int(r.stderr.strip().splitlines()[-1]))
    return statistics.median(peaks) / 1024
