"""Keyless `attest` of one record, whole process, against the loopback Sigstore double
(issue #22): chainseal with Rekor v1, chainseal with Rekor v2 and an RFC 3161
timestamp, chainseal with a timestamp only, npm `@sigstore/cli attest` (timestamp only)
and cosign v3 `attest-blob` on the same double.

    python keyless_bench.py CHAINSEAL [--runs N] [--tsa TIMESTAMP_SERVER]
                            [--sigstore-cli DIR] [--cosign COSIGN]

Fulcio and Rekor v1 are the double's (tests/doubles/sigstore/server.js); Rekor v2 is
the double's `/v2` prefix (npm @sigstore/mock's v2 handler: the real rekor-tiles
takes about 0.8 s to integrate an entry, which would hide the client); the TSA is the
real timestamp-authority (`--tsa`, scripts/peers). Time: hyperfine's median of
`--runs` runs after 3 warm-ups. Memory: the median peak RSS (GNU time's %M) of 10
runs. Prints a Markdown table.
"""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from measure import hyperfine, peak_rss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def identity_token():
    """A token the double's Fulcio accepts (the test issuer's key), valid an hour."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    with open(os.path.join(ROOT, "tests/doubles/sigstore/oidc-issuer-test-key.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": "chainseal-test-issuer"}
    claims = {"iss": ISSUER, "sub": SUBJECT, "aud": "sigstore", "iat": now, "exp": now + 3600}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(sig)}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_double():
    proc = subprocess.Popen(
        ["node", os.path.join(ROOT, "tests/doubles/sigstore/server.js"), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return proc, json.loads(proc.stdout.readline())["url"]


def start_tsa(binary):
    port = free_port()
    proc = subprocess.Popen(
        [binary, "serve", "--timestamp-signer", "memory", "--host", "127.0.0.1",
         "--port", str(port), "--disable-ntp-monitoring"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/api/v1/timestamp/certchain", timeout=1)
            return proc, f"{url}/api/v1/timestamp"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the timestamp authority did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chainseal")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--tsa")
    ap.add_argument("--sigstore-cli", help="a directory with node_modules/.bin/sigstore")
    ap.add_argument("--cosign")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="keyless-bench-")
    double, url = start_double()
    tsa_proc, tsa = start_tsa(args.tsa) if args.tsa else (None, None)
    token = identity_token()
    rows = []
    try:
        base = dict(os.environ)
        base.update({
            "CHAINSEAL_KEY": "keyless",
            "CHAINSEAL_RECORD": os.path.join(ROOT, "examples/pipelinerun.yaml"),
            "CHAINSEAL_FULCIO_URL": url,
            "CHAINSEAL_IDENTITY_TOKEN": token,
            "CHAINSEAL_LOG_LEVEL": "warn",
        })
        cases = [("chainseal attest, Rekor v1", {"CHAINSEAL_REKOR_URL": url})]
        if tsa:
            cases.append(("chainseal attest, Rekor v2 + RFC 3161 timestamp",
                          {"CHAINSEAL_REKOR_URL": f"{url}/v2", "CHAINSEAL_TSA_URL": tsa}))
            cases.append(("chainseal attest, RFC 3161 timestamp only",
                          {"CHAINSEAL_TRANSPARENCY": "off", "CHAINSEAL_TSA_URL": tsa}))
        for name, extra in cases:
            env = dict(base, **extra, CHAINSEAL_STORAGE=os.path.join(work, f"out-{len(rows)}"))
            command = f"{args.chainseal} attest"
            rows.append((name, hyperfine(command, args.runs, work, f"c{len(rows)}", env),
                         peak_rss(command, env)))

        statement = os.path.join(work, "statement.json")
        dry = subprocess.run([args.chainseal, "attest", "--dry-run"], env=base,
                             capture_output=True, check=True)
        with open(statement, "wb") as f:
            f.write(dry.stdout)

        if args.sigstore_cli and tsa:
            # @sigstore/cli 0.8 logs DSSE as `intoto` entries, which the double's Rekor
            # (as a dsse/hashedrekord-only Rekor) refuses: compared in timestamp-only
            # mode, Fulcio and the TSA, against chainseal's same mode.
            cli = os.path.join(args.sigstore_cli, "node_modules/.bin/sigstore")
            # With `CI` set it takes the token from SIGSTORE_ID_TOKEN (else a browser flow).
            env = dict(os.environ, SIGSTORE_ID_TOKEN=token, CI="true")
            tsa_base = tsa.removesuffix("/api/v1/timestamp")
            command = (f"{cli} attest {statement} --fulcio-url {url} --no-tlog-upload "
                       f"--tsa-server-url {tsa_base} -o {work}/sigstore-cli.json")
            rows.append(("@sigstore/cli 0.8 attest (node), RFC 3161 timestamp only",
                         hyperfine(command, args.runs, work, "cli", env), peak_rss(command, env)))

        if args.cosign:
            root = os.path.join(work, "trusted_root.json")
            with urllib.request.urlopen(f"{url}/trusted_root.json") as r, open(root, "wb") as f:
                f.write(r.read())
            config = os.path.join(work, "signing_config.json")
            with urllib.request.urlopen(f"{url}/client_trust_config.json") as r:
                signing = json.load(r)["signingConfig"]
            with open(config, "w") as f:
                json.dump(signing, f)
            predicate = os.path.join(work, "predicate.json")
            with open(statement) as f, open(predicate, "w") as p:
                json.dump(json.load(f)["predicate"], p)
            env = dict(os.environ, HOME=work)
            command = (f"{args.cosign} attest-blob --yes --predicate {predicate} "
                       f"--type slsaprovenance1 --identity-token {token} "
                       f"--signing-config {config} --trusted-root {root} "
                       f"--bundle {work}/cosign.sigstore.json {statement}")
            probe = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True)
            if probe.returncode == 0:
                rows.append(("cosign v3 attest-blob (Go), Rekor v1",
                             hyperfine(command, args.runs, work, "cosign", env),
                             peak_rss(command, env)))
            else:
                print(f"cosign v3 did not attest against the double:\n{probe.stderr}",
                      file=sys.stderr)
    finally:
        double.kill()
        if tsa_proc:
            tsa_proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    print("| command | median time | peak RSS (median of 10) |")
    print("| --- | --- | --- |")
    for name, ms, mib in rows:
        print(f"| {name} | {ms:.1f} ms | {mib:.1f} MiB |")


if __name__ == "__main__":
    main()
