"""`chainseal verify` of one attestation, whole process (issue #23): without a policy,
with a 10-rule policy (plain keys and CEL rules), and with the same policy writing a
signed VSA; slsa-verifier `verify-vsa` checking that VSA, and `chainseal verify --type
vsa` doing the same, beside them.

    python verify_bench.py CHAINSEAL [--runs N] [--slsa-verifier BIN]

The attestation is examples/pipelinerun.yaml attested with the demo key (file storage).
Time: hyperfine's median of `--runs` runs after 3 warm-ups. Memory: the median peak RSS
(GNU time's %M) of 10 runs. Prints a Markdown table.
"""

import argparse
import base64
import glob
import json
import os
import subprocess
import tempfile

from measure import hyperfine, peak_rss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = os.path.join(ROOT, "examples/demo.key")
PUB = os.path.join(ROOT, "examples/demo.pub")

POLICY = """\
builderId: https://tekton.dev/chains/v2
buildType: https://tekton.dev/chains/v2/slsa
predicateType: slsaprovenance1
params:
  IMAGE: registry.example.com/team/hello-service
rules:
  - name: image-param-is-ours
    expr: build.params.IMAGE.startsWith('registry.example.com/team/')
  - name: subjects-have-sha256
    expr: subjects.all(s, has(s.digest.sha256))
  - name: one-or-more-subjects
    expr: size(subjects) >= 1
  - name: signed-with-a-key
    expr: signer.kind == 'key'
  - name: builder-is-chains
    expr: build.builderId.startsWith('https://tekton.dev/')
  - name: no-oci-dependency-from-elsewhere
    expr: predicate.buildDefinition.resolvedDependencies.all(d, !has(d.uri) || !d.uri.startsWith('oci://evil'))
"""


def run_ok(command, what):
    r = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{what} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chainseal")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--slsa-verifier")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="verify-bench-")
    cs = args.chainseal
    out = os.path.join(work, "att")
    run_ok(f"CHAINSEAL_RECORD={ROOT}/examples/pipelinerun.yaml CHAINSEAL_KEY={KEY} "
           f"CHAINSEAL_STORAGE={out} CHAINSEAL_FORMAT=slsa/v1.0 {cs} attest", "attest")
    att = glob.glob(os.path.join(out, "*.intoto.jsonl"))[0]
    policy = os.path.join(work, "policy.yaml")
    with open(policy, "w") as f:
        f.write(POLICY)
    vsas = os.path.join(work, "vsas")
    base = f"{cs} verify --key {PUB}"
    run_ok(f"{base} --policy {policy} {att}", "verify with the policy")
    run_ok(f"{base} --policy {policy} --vsa --vsa-key {KEY} --storage {vsas} {att}", "--vsa")
    vsa = glob.glob(os.path.join(vsas, "*.intoto.jsonl"))[0]
    with open(vsa) as f:
        envelope = json.loads(f.read())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    subject = "sha256:" + statement["subject"][0]["digest"]["sha256"]
    verifier_id = statement["predicate"]["verifier"]["id"]
    resource = statement["predicate"]["resourceUri"]
    rows = []
    cases = [
        ("chainseal verify, no policy", f"{base} {att}"),
        ("chainseal verify, 10-rule policy (4 keys, 6 CEL rules)", f"{base} --policy {policy} {att}"),
        ("chainseal verify, 10-rule policy, signed VSA written",
         f"{base} --policy {policy} --vsa --vsa-key {KEY} --storage {vsas} {att}"),
        ("chainseal verify --type vsa (check the VSA)",
         f"{base} --type vsa --verifier-id {verifier_id} --verified-level SLSA_BUILD_LEVEL_2 "
         f"--subject-digest {subject} {vsa}"),
    ]
    if args.slsa_verifier:
        key_id = envelope["signatures"][0]["keyid"]
        cases.append(("slsa-verifier v2.7.1 verify-vsa (check the VSA)",
                      f"{args.slsa_verifier} verify-vsa --attestation-path {vsa} "
                      f"--public-key-path {PUB} --public-key-id {key_id} --verifier-id {verifier_id} "
                      f"--resource-uri {resource} --subject-digest {subject} "
                      f"--verified-level SLSA_BUILD_LEVEL_2"))
    for i, (name, command) in enumerate(cases):
        run_ok(command, name)
        rows.append((name, hyperfine(command, args.runs, work, f"c{i}"), peak_rss(command)))
    print("| command | median time | peak RSS |")
    print("| --- | --- | --- |")
    for name, ms, mib in rows:
        print(f"| {name} | {ms:.1f} ms | {mib:.1f} MiB |")


if __name__ == "__main__":
    main()
