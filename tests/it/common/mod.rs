//! Helpers shared by the integration tests: run the real binary with a clean
//! environment in a temporary directory.
#![allow(dead_code)]

pub mod cosign;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path below the repository root.
pub fn repo(rel: &str) -> PathBuf {
    root().join(rel)
}

/// `chainseal` with no inherited `CHAINSEAL_*` settings, run in `cwd`.
pub fn chainseal(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chainseal"));
    cmd.env_clear().current_dir(cwd);
    cmd
}

/// Output decoded, for assertions.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("binary runs");
    let r = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked"),
        "the binary panicked:\n{}",
        r.stderr
    );
    r
}

/// Assert a failed run: exit 2, exactly one `error:` line naming `needle`.
pub fn assert_error(r: &Run, needle: &str) {
    assert_eq!(r.code, 2, "exit code; stderr:\n{}", r.stderr);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{}", r.stderr);
    assert!(
        errors[0].contains(needle),
        "error should mention `{needle}`:\n{}",
        r.stderr
    );
}

/// `chainseal verify --key KEY FILE` in `cwd`.
pub fn verify(
    cwd: &Path,
    key: impl AsRef<std::ffi::OsStr>,
    file: impl AsRef<std::ffi::OsStr>,
) -> Run {
    run(chainseal(cwd).args(["verify", "--key"]).arg(key).arg(file))
}

/// Every file below `dir` (relative names), sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                for f in files_below(&p) {
                    out.push(format!("{}/{f}", e.file_name().to_string_lossy()));
                }
            } else {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// The storage file the example PipelineRun is written to.
pub const EXAMPLE_KEY: &str = "pipelinerun-4f9c2a2e-6d1b-4c1e-9a57-1f0d3b7e8a21";

/// The digest of the image the example record names (`examples/pipelinerun.yaml`).
pub const EXAMPLE_DIGEST: &str =
    "sha256:6a1f0d6f8c2c4b0e9f3d2a1b7c5e8d9f0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// Set to `1` to let tests whose tool is missing skip (outside CI only).
pub const SKIP_MISSING: &str = "CHAINSEAL_TEST_SKIP_MISSING";
/// A file every skip appends one line to (scripts/test sets it and prints them).
pub const SKIP_LOG: &str = "CHAINSEAL_TEST_SKIP_LOG";

/// A tool path from `var` (set by scripts/test). An unset variable fails the test,
/// unless `CHAINSEAL_TEST_SKIP_MISSING=1` opts in to skipping outside CI: then
/// `None`, and the skip is printed and recorded ([`record_skip`]). In CI (`CI` set)
/// it always fails.
pub fn tool(var: &str, what: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    if std::env::var_os("CI").is_some() {
        panic!("{var} is not set in CI: run the tests with scripts/test");
    }
    if std::env::var_os(SKIP_MISSING).is_none_or(|v| v != "1") {
        panic!(
            "{var} is unset ({what} needs it): run the tests with scripts/test, or set {SKIP_MISSING}=1 to skip what needs it"
        );
    }
    record_skip(&format!("{what}: {var} is unset"));
    None
}

/// Report a skipped test: `SKIPPED <binary>::<test>: <why>` on stderr (written
/// directly, so the test harness does not swallow it) and appended to the file
/// `CHAINSEAL_TEST_SKIP_LOG` names, when set.
pub fn record_skip(why: &str) {
    use std::io::Write as _;
    // The test binary is `<name>-<hash>`.
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let binary = exe.rsplit_once('-').map_or(exe.as_str(), |(name, _)| name);
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let line = format!("{binary}::{test}: {why}");
    let _ = writeln!(std::io::stderr(), "SKIPPED {line}");
    if let Some(path) = std::env::var_os(SKIP_LOG) {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{SKIP_LOG}: cannot append to {path:?}: {e}"));
        log.write_all(format!("{line}\n").as_bytes())
            .unwrap_or_else(|e| panic!("{SKIP_LOG}: cannot append to {path:?}: {e}"));
    }
}

/// A background process stopped on drop (a local service or a test double).
pub struct Service(pub std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawn `cmd` (a local service or double) and return it with the first line it
/// prints, which says it is ready and where it listens.
pub fn spawn_ready(cmd: &mut Command, what: &str) -> (Service, String) {
    use std::io::BufRead as _;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let service = Service(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{what} printed no ready line: {e}"));
    (service, line.trim().to_owned())
}

/// Start `tests/interop/kms_double.py MODE DIR` and return it with the JSON line it
/// prints when ready (its addresses).
pub fn kms_double(python: &Path, mode: &str, dir: &Path) -> (Service, serde_json::Value) {
    let (service, line) = spawn_ready(
        Command::new(python)
            .arg(repo("tests/interop/kms_double.py"))
            .arg(mode)
            .arg(dir),
        "the KMS double",
    );
    let info = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("the KMS double printed {line:?}: {e}"));
    (service, info)
}

/// Start the Kubernetes API double (`tests/doubles/kube_api.py`) with `config`
/// (tokens, seed files, request log, history), written to `dir`; returns its port.
pub fn kube_double(python: &Path, dir: &Path, config: &serde_json::Value) -> (Service, u16) {
    let path = dir.join("kube-double.json");
    std::fs::write(&path, config.to_string()).expect("write double config");
    let (service, line) = spawn_ready(
        Command::new(python)
            .arg(repo("tests/doubles/kube_api.py"))
            .arg(&path),
        "the Kubernetes API double",
    );
    let ready: serde_json::Value = serde_json::from_str(&line).expect("JSON ready line");
    let port = ready["port"].as_u64().and_then(|p| u16::try_from(p).ok());
    (service, port.expect("port"))
}

/// A kubeconfig in `dir` for the API double on `port`, as `token`, namespace `ci`.
pub fn kubeconfig(dir: &Path, port: u16, token: &str) -> PathBuf {
    let path = dir.join(format!("kubeconfig-{token}"));
    let config = serde_json::json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "double",
        "clusters": [{"name": "double", "cluster": {"server": format!("http://127.0.0.1:{port}")}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "sa", "namespace": "ci"}}],
    });
    std::fs::write(&path, config.to_string()).expect("write kubeconfig");
    path
}

/// Every request a KMS double recorded (`DIR/requests.jsonl`), oldest first.
pub fn double_requests(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("requests.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("request log line is JSON"))
        .collect()
}

/// Attest the example record with `key` (plus `env`), then check the envelope against
/// `public` (a PEM the key's service gave out) with `chainseal verify` and with python
/// securesystemslib, and that `chainseal public-key` prints the same key. Returns the
/// envelope file.
pub fn attest_and_verify_with(
    dir: &Path,
    python: &Path,
    key: &str,
    env: &[(&str, String)],
    public: &Path,
    label: &str,
) -> PathBuf {
    let out = dir.join(format!("out-{label}"));
    let mut pk = chainseal(dir);
    pk.args(["public-key", "--key", key]);
    for (k, v) in env {
        pk.env(k, v);
    }
    let r = run(&mut pk);
    assert_eq!(r.code, 0, "{label}: public-key: {}", r.stderr);
    let expected = std::fs::read_to_string(public).expect("service public key");
    assert_eq!(
        pem_der(&r.stdout),
        pem_der(&expected),
        "{label}: public-key must print the service's key"
    );

    let r = attest_example(dir, key, &out, env);
    assert_eq!(r.code, 0, "{label}: attest: {}", r.stderr);
    let file = out.join(format!("{EXAMPLE_KEY}.intoto.jsonl"));
    let v = verify(dir, public, &file);
    assert_eq!(
        v.code, 0,
        "{label}: chainseal verify: {}{}",
        v.stdout, v.stderr
    );
    let py = Command::new(python)
        .arg(repo("tests/interop/verify_dsse.py"))
        .arg(&file)
        .arg(public)
        .output()
        .expect("python runs");
    assert!(
        py.status.success(),
        "{label}: securesystemslib rejected the envelope: {}",
        String::from_utf8_lossy(&py.stdout)
    );

    // A changed payload must fail both verifiers.
    let tampered = dir.join(format!("tampered-{label}.intoto.jsonl"));
    let line = std::fs::read_to_string(&file).expect("envelope");
    let mut envelope: serde_json::Value = serde_json::from_str(line.trim()).expect("JSON");
    let payload = envelope["payload"].as_str().expect("payload").to_owned();
    let flipped = if payload.starts_with('e') { "f" } else { "e" };
    envelope["payload"] = format!("{flipped}{}", &payload[1..]).into();
    std::fs::write(&tampered, format!("{envelope}\n")).expect("write tampered");
    assert_eq!(
        verify(dir, public, &tampered).code,
        1,
        "{label}: chainseal verify accepted a tampered payload"
    );
    let why = securesystemslib_rejects(python, &tampered, public);
    assert!(
        why.contains("does not verify"),
        "{label}: securesystemslib rejected a tampered payload for another reason: {why}"
    );
    file
}

/// Whether python securesystemslib (`tests/interop/verify_dsse.py`) verifies every
/// signature of every envelope in `file` with `public`, and what it printed. `false`
/// only for a rejection (exit 1, `rejected: <why>`); a check that could not run (a
/// crash, a missing file, exit 2) fails the test instead.
pub fn securesystemslib_verifies(python: &Path, file: &Path, public: &Path) -> (bool, String) {
    let (code, said) = verify_dsse(python, file, public);
    match code {
        Some(0) => (true, said),
        Some(1) if said.lines().any(|l| l.starts_with("rejected: ")) => (false, said),
        _ => panic!(
            "verify_dsse.py neither verified nor rejected {} (exit {code:?}):\n{said}",
            file.display()
        ),
    }
}

/// Assert that python securesystemslib rejects `file` with `public` (exit 1 and a
/// `rejected: <why>` line, not a crash) and return that line.
pub fn securesystemslib_rejects(python: &Path, file: &Path, public: &Path) -> String {
    let (code, said) = verify_dsse(python, file, public);
    let line = said.lines().find(|l| l.starts_with("rejected: "));
    match (code, line) {
        (Some(1), Some(line)) => line.to_owned(),
        _ => panic!(
            "securesystemslib should reject {} (exit 1, `rejected: …`), got exit {code:?}:\n{said}",
            file.display()
        ),
    }
}

/// Run `tests/interop/verify_dsse.py FILE PUBLIC`: its exit code and its output.
fn verify_dsse(python: &Path, file: &Path, public: &Path) -> (Option<i32>, String) {
    let py = Command::new(python)
        .arg(repo("tests/interop/verify_dsse.py"))
        .arg(file)
        .arg(public)
        .output()
        .expect("python runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&py.stdout),
        String::from_utf8_lossy(&py.stderr)
    );
    (py.status.code(), said)
}

/// `statement` as a DSSE envelope (compact JSON, one line) signed with
/// examples/demo.key through chainseal's own signer.
pub fn demo_envelope(statement: &serde_json::Value) -> String {
    let signer = chainseal::signing::KeyFileSigner::load(&repo("examples/demo.key"), None)
        .expect("demo key");
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(chainseal::envelope::Envelope::sign(
            chainseal::envelope::IN_TOTO_PAYLOAD_TYPE,
            statement.to_string().into_bytes(),
            &signer,
        ))
        .expect("signs")
        .to_json()
}

/// `chainseal` attesting the example record with `key` into `storage`, with `env`.
pub fn attest_example(dir: &Path, key: &str, storage: &Path, env: &[(&str, String)]) -> Run {
    let mut cmd = chainseal(dir);
    cmd.env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", key)
        .env("CHAINSEAL_STORAGE", storage);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The DER inside the first PEM block of `text` (ignores anything after it).
fn pem_der(text: &str) -> Vec<u8> {
    let start = text.find("-----BEGIN").expect("a PEM block");
    pem::parse(&text[start..])
        .expect("valid PEM")
        .into_contents()
}

/// The Sigstore double (`tests/doubles/sigstore/server.js`: Fulcio, Rekor and the
/// trust root) and its base URL; `None` (skipped) outside CI without it.
pub fn sigstore_double(what: &str) -> Option<(Service, String)> {
    let server = tool("SIGSTORE_DOUBLE", what)?;
    let (double, line) = spawn_ready(
        Command::new("node").arg(server).arg("0"),
        "the Sigstore double",
    );
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line");
    Some((double, ready["url"].as_str().expect("url").to_owned()))
}

/// An OIDC identity token with `claims`, signed (RS256) by the test issuers' key the
/// Sigstore double's Fulcio trusts (`tests/doubles/sigstore/oidc-issuer-test-key.pem`),
/// valid for ten minutes unless `claims` says otherwise.
pub fn identity_token(claims: serde_json::Value) -> String {
    let pem = std::fs::read_to_string(repo(TEST_ISSUER_KEY)).expect("the test issuer key");
    identity_token_signed_by(claims, &pem_der(&pem))
}

/// The key the Sigstore double trusts for its test issuers (PKCS#8 PEM).
pub const TEST_ISSUER_KEY: &str = "tests/doubles/sigstore/oidc-issuer-test-key.pem";

/// An OIDC identity token with `claims` (`exp` ten minutes ahead unless given),
/// signed RS256 by the RSA key `pkcs8` (DER) with the test issuer's key id.
pub fn identity_token_signed_by(claims: serde_json::Value, pkcs8: &[u8]) -> String {
    use base64::Engine as _;
    let part = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut claims = claims;
    if claims.get("exp").is_none() {
        claims["exp"] = serde_json::json!(now + 600);
    }
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "chainseal-test-issuer"});
    let signing_input = format!(
        "{}.{}",
        part(header.to_string().as_bytes()),
        part(claims.to_string().as_bytes())
    );
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(pkcs8).expect("an RSA PKCS#8 key");
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .expect("RS256 signing");
    format!("{signing_input}.{}", part(&signature))
}

/// `python -m sigstore verify identity --offline` (sigstore-python, an independent
/// verifier) of `bundle` for `artifact` (a file or `sha256:<hex>`), signed by
/// `identity` from `issuer`, against the trust root of the Sigstore double at
/// `sigstore_url` (its `client_trust_config.json`, written to `dir`): whether it
/// verified, and what it printed.
pub fn sigstore_python_verifies(
    python: &Path,
    sigstore_url: &str,
    dir: &Path,
    bundle: &Path,
    (identity, issuer): (&str, &str),
    artifact: &str,
) -> (bool, String) {
    let config = dir.join("trust_config.json");
    download(&format!("{sigstore_url}/client_trust_config.json"), &config);
    let out = Command::new(python)
        .args(["-m", "sigstore", "--trust-config"])
        .arg(&config)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(bundle)
        .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
        .arg(artifact)
        .output()
        .expect("python sigstore runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// GET `url` into `path` (curl), failing the test when it cannot.
pub fn download(url: &str, path: &Path) {
    let ok = Command::new("curl")
        .args(["-sf", url, "-o"])
        .arg(path)
        .status()
        .expect("curl runs");
    assert!(ok.success(), "GET {url} failed");
}

/// Start a loopback HTTP double (`tests/doubles/<file>` with `args`) and return it
/// with its base URL.
pub fn http_double(python: &Path, file: &str, args: &[&str]) -> (Service, String) {
    let (service, line) = spawn_ready(
        Command::new(python)
            .arg(repo(&format!("tests/doubles/{file}")))
            .args(args),
        file,
    );
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line");
    (service, format!("http://127.0.0.1:{}", ready["port"]))
}

/// Application Default Credentials of type `authorized_user` refreshed at
/// `token_uri` (a double's OAuth2 endpoint, which wants the refresh token
/// `double-refresh`), written to `dir/adc.json`.
pub fn google_adc(dir: &Path, token_uri: &str) -> PathBuf {
    let adc = dir.join("adc.json");
    std::fs::write(
        &adc,
        serde_json::json!({
            "type": "authorized_user",
            "client_id": "chainseal-test",
            "client_secret": "not-a-secret",
            "refresh_token": "double-refresh",
            "token_uri": token_uri,
        })
        .to_string(),
    )
    .expect("write ADC");
    adc
}

/// Start moto (`MOTO_SERVER`: AWS KMS, S3, DynamoDB, ECR) in `dir` on a port it
/// picks; return it with its endpoint. `None` (skipped, said) outside CI when unset.
pub fn moto(dir: &Path, what: &str) -> Option<(Service, String)> {
    let bin = tool("MOTO_SERVER", what)?;
    // Port 0: moto (werkzeug) picks one and says `Running on http://127.0.0.1:<port>`.
    let (service, port) = spawn_reporting_port(
        Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .current_dir(dir)
            .stdout(std::process::Stdio::null()),
        "Running on http://127.0.0.1:",
        "moto",
    );
    Some((service, format!("http://127.0.0.1:{port}")))
}

/// Start SecantusDB (`secantusd-py`, a MongoDB wire-protocol server) in memory on a
/// port it picks (it logs `secantus listening on 127.0.0.1:<port>` once it listens);
/// return it with the port.
pub fn secantusdb(bin: &Path) -> (Service, u16) {
    spawn_reporting_port(
        Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--storage-path", ":memory:", "--standalone"])
            .stdout(std::process::Stdio::null()),
        "listening on 127.0.0.1:",
        "SecantusDB",
    )
}

/// Run the independent oracle `tests/interop/<script>` with `args`. Oracles exit 0
/// when everything verified, 1 after a `rejected: <why>` line, 2+ when they crashed
/// (see `tests/interop/oracle.py`).
pub fn oracle<S: AsRef<std::ffi::OsStr>>(python: &Path, script: &str, args: &[S]) -> Run {
    let out = Command::new(python)
        .arg(repo(&format!("tests/interop/{script}")))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Assert that an oracle verified (exit 0); `what` names the check.
pub fn assert_oracle_verified(r: &Run, what: &str) {
    assert_eq!(
        r.code, 0,
        "{what}: the independent verifier did not verify:\n{}{}",
        r.stdout, r.stderr
    );
}

/// Assert that an oracle rejected (exit 1 with `rejected: …` naming `needle`), not
/// crashed and not accepted.
pub fn assert_oracle_rejected(r: &Run, needle: &str, what: &str) {
    assert_eq!(
        r.code, 1,
        "{what}: expected a rejection (exit 1), got exit {}:\n{}{}",
        r.code, r.stdout, r.stderr
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("rejected: ") && l.contains(needle)),
        "{what}: the rejection should mention `{needle}`:\n{}",
        r.stdout
    );
}

/// The port in `line` right after `marker` (e.g. `listening on 127.0.0.1:`), if any.
pub fn port_after(line: &str, marker: &str) -> Option<u16> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Spawn `cmd`, a service told to listen on port 0, and return it with the port it
/// chose, read from its stderr: the number right after `marker` on the first line that
/// has one. Its stderr is drained afterwards so that it never blocks on a full pipe. A
/// service that exits first, or names no port within 60 s, fails the test with what it
/// printed.
pub fn spawn_reporting_port(cmd: &mut Command, marker: &str, what: &str) -> (Service, u16) {
    use std::io::BufRead as _;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let stderr = child.stderr.take().expect("piped stderr");
    let service = Service(child);
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = marker.to_owned();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut found = false;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if found {
                continue;
            }
            match port_after(&line, &wanted) {
                Some(port) => {
                    found = tx.send(Ok(port)).is_ok();
                }
                None => seen.push_str(&format!("{line}\n")),
            }
        }
        if !found {
            let _ = tx.send(Err(seen));
        }
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(Ok(port)) => (service, port),
        Ok(Err(seen)) => panic!("{what} exited before naming its port:\n{seen}"),
        Err(_) => panic!("{what} named no port (`{marker}…`) within 60 s"),
    }
}

/// Start a service that must be given its port and cannot report one it chose
/// (`start(port)` builds its command). The port is one nobody listened on a moment
/// ago, so another process may take it first: the service then exits (it cannot
/// bind) and is started again on another port, 5 attempts in all. The port counts as
/// the service's only once its own process listens on it (`/proc`), never because
/// something else answers there.
pub fn spawn_on_free_port(what: &str, start: impl Fn(u16) -> Command) -> (Service, u16) {
    let mut failures = Vec::new();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a port to try");
        let mut service = Service(
            start(port)
                .stdin(std::process::Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{what} does not start: {e}")),
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = service.0.try_wait() {
                failures.push(format!("port {port}: exited ({status})"));
                break;
            }
            if listening_ports(service.0.id()).contains(&port) {
                return (service, port);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what} did not listen on port {port} within 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    panic!("{what} could not listen on a free port: {failures:?}");
}

/// The TCP ports process `pid` listens on, from `/proc` (its socket inodes, matched
/// against the kernel's table of listening sockets).
pub fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; state 0A is LISTEN; field 9 the inode.
            let (Some(local), Some(&"0A"), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if inodes.contains(*inode)
                && let Some(port) = local
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            {
                ports.push(port);
            }
        }
    }
    ports
}

/// The GCS double (`tests/doubles/gcs_xml.py DIR`), which authenticates every request.
pub struct GcsDouble {
    /// The double's process.
    pub service: Service,
    /// Its base URL (`CHAINSEAL_STORAGE_ENDPOINT`).
    pub endpoint: String,
    /// The service-account JSON key file it made (`GOOGLE_APPLICATION_CREDENTIALS`).
    pub credentials: PathBuf,
    /// A bearer token for the tests' own requests.
    pub token: String,
}

/// Start the GCS double, its service account's key file written to `dir`.
pub fn gcs_double(python: &Path, dir: &Path) -> GcsDouble {
    let (service, line) = spawn_ready(
        Command::new(python)
            .arg(repo("tests/doubles/gcs_xml.py"))
            .arg(dir),
        "the GCS double",
    );
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line");
    let text = |k: &str| ready[k].as_str().expect("GCS double info").to_owned();
    GcsDouble {
        service,
        endpoint: format!("http://127.0.0.1:{}", ready["port"]),
        credentials: PathBuf::from(text("credentials")),
        token: text("token"),
    }
}

impl GcsDouble {
    /// The header for the tests' own requests, as curl's `-H` argument.
    pub fn auth_header(&self) -> String {
        format!("Authorization: Bearer {}", self.token)
    }

    /// Create `bucket` with the JSON API.
    pub fn create_bucket(&self, bucket: &str) {
        let ok = Command::new("curl")
            .args(["-sf", "-X", "POST", "-H", &self.auth_header()])
            .args(["--data", &format!("{{\"name\":\"{bucket}\"}}")])
            .arg(format!("{}/storage/v1/b?project=test", self.endpoint))
            .status()
            .expect("curl runs");
        assert!(ok.success(), "creating bucket {bucket}");
    }

    /// Read object `name` of `bucket` with the JSON API (`None`: it failed).
    pub fn read(&self, bucket: &str, name: &str) -> Option<Vec<u8>> {
        let out = Command::new("curl")
            .args(["-sf", "-H", &self.auth_header()])
            .arg(format!(
                "{}/storage/v1/b/{bucket}/o/{}?alt=media",
                self.endpoint,
                name.replace('/', "%2F")
            ))
            .output()
            .expect("curl runs");
        out.status.success().then_some(out.stdout)
    }
}

/// `text` (standard base64) with the lowest bit of its decoded byte `byte` flipped (the
/// last byte when `byte` is past the end: inside an ECDSA signature's `s`, so the DER
/// still parses and the verification itself fails).
pub fn flip_bit_b64(text: &str, byte: usize) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(text).expect("base64");
    let at = byte.min(bytes.len() - 1);
    bytes[at] ^= 1;
    b64.encode(bytes)
}
