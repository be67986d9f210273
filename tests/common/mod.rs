//! Helpers shared by the integration tests: run the real binary with a clean
//! environment in a temporary directory.
#![allow(dead_code)]

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

/// A tool path from `var` (set by scripts/test). Outside CI, `None` with a message
/// saying what was skipped; in CI an unset variable is a failure.
pub fn tool(var: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set in CI: run the tests with scripts/test")
        }
        None => {
            eprintln!("SKIPPED {what}: {var} is unset (scripts/test sets it)");
            None
        }
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
    assert!(
        !securesystemslib_verifies(python, &tampered, public).0,
        "{label}: securesystemslib accepted a tampered payload"
    );
    file
}

/// Whether python securesystemslib (`tests/interop/verify_dsse.py`) verifies every
/// envelope in `file` with `public`, and what it printed.
pub fn securesystemslib_verifies(python: &Path, file: &Path, public: &Path) -> (bool, String) {
    let py = Command::new(python)
        .arg(repo("tests/interop/verify_dsse.py"))
        .arg(file)
        .arg(public)
        .output()
        .expect("python runs");
    (
        py.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&py.stdout),
            String::from_utf8_lossy(&py.stderr)
        ),
    )
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

/// An OIDC identity token with `claims` (the double's Fulcio does not check the
/// signature), valid for ten minutes unless `claims` says otherwise.
pub fn identity_token(claims: serde_json::Value) -> String {
    use base64::Engine as _;
    let part = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut claims = claims;
    if claims.get("exp").is_none() {
        claims["exp"] = serde_json::json!(now + 600);
    }
    format!(
        "{}.{}.c2ln",
        part(&serde_json::json!({"alg": "RS256", "kid": "k"})),
        part(&claims)
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

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Wait until something listens on loopback `port` (30 s at most).
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not start within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
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

/// Start SecantusDB (`secantusd-py`, a MongoDB wire-protocol server) in memory on a
/// free port; return it with the port once it listens.
pub fn secantusdb(bin: &Path) -> (Service, u16) {
    let port = free_port();
    let service = Service(
        Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--storage-path", ":memory:", "--standalone"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("SecantusDB starts"),
    );
    wait_for_port(port, "SecantusDB");
    (service, port)
}
