#!/usr/bin/env python3
"""Write a synthetic finished PipelineRun with N child TaskRuns.

usage: gen_pipelinerun.py N [json|yaml] > record

json (default): a Kubernetes `List`, as `kubectl get ... -o json` prints it.
yaml: a YAML stream, one document per object (flow style).

Each TaskRun has three steps with image ids, a git pair, a byproduct result and an
image result pair; the PipelineRun surfaces one image. Deterministic output.
"""
import hashlib
import json
import sys


def h(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def main(n: int, fmt: str) -> None:
    tasks = [f"task-{i:03d}" for i in range(n)]
    pr_name = "bench-pipeline-run"
    docs = [{
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": pr_name, "namespace": "bench", "uid": "00000000-0000-4000-8000-000000000000"},
        "spec": {
            "pipelineRef": {"name": "bench"},
            "params": [
                {"name": "CHAINS-GIT_URL", "value": "https://github.com/example/bench"},
                {"name": "CHAINS-GIT_COMMIT", "value": h("commit")[:40]},
            ],
        },
        "status": {
            "startTime": "2026-11-20T10:00:00Z",
            "completionTime": "2026-11-20T11:00:00Z",
            "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
            "pipelineSpec": {"tasks": [{"name": t} for t in tasks]},
            "results": [
                {"name": "IMAGE_URL", "value": "registry.example.com/bench/app"},
                {"name": "IMAGE_DIGEST", "value": "sha256:" + h("final")},
            ],
            "childReferences": [
                {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": f"{pr_name}-{t}", "pipelineTaskName": t}
                for t in tasks
            ],
        },
    }]
    for i, t in enumerate(tasks):
        docs.append({
            "apiVersion": "tekton.dev/v1",
            "kind": "TaskRun",
            "metadata": {
                "name": f"{pr_name}-{t}",
                "namespace": "bench",
                "uid": f"00000000-0000-4000-8000-{i + 1:012d}",
                "labels": {"tekton.dev/pipelineRun": pr_name, "tekton.dev/pipelineTask": t},
            },
            "spec": {"taskRef": {"name": "build"}, "params": [{"name": "IMAGE", "value": f"registry.example.com/bench/{t}"}]},
            "status": {
                "startTime": "2026-11-20T10:00:00Z",
                "completionTime": "2026-11-20T10:01:00Z",
                "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
                "steps": [
                    {"name": f"step-{s}", "container": f"step-step-{s}",
                     "imageID": f"docker-pullable://gcr.io/bench/tool-{s}@sha256:{h(t, s)}"}
                    for s in range(3)
                ],
                "results": [
                    {"name": "IMAGE_URL", "value": f"registry.example.com/bench/{t}"},
                    {"name": "IMAGE_DIGEST", "value": "sha256:" + h(t, "image")},
                    {"name": "CHAINS-GIT_URL", "value": "https://github.com/example/bench"},
                    {"name": "CHAINS-GIT_COMMIT", "value": h("commit")[:40]},
                    {"name": "summary", "value": f"built {t}"},
                ],
                "provenance": {"refSource": {"uri": "git+https://github.com/example/tasks", "digest": {"sha1": h("tasks")[:40]}, "entryPoint": "build.yaml"}},
            },
        })
    if fmt == "yaml":
        # JSON is valid (flow-style) YAML; one document per object.
        sys.stdout.write("\n---\n".join(json.dumps(d, indent=1) for d in docs) + "\n")
    else:
        sys.stdout.write(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=1) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "json")
