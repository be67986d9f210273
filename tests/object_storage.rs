//! `gs://` and `s3://` storage: S3 against moto, GCS against a double of its XML API
//! (`tests/doubles/gcs_xml.py`: fake-gcs-server cannot take `object_store`'s XML `PUT`). One suite runs against both: store, read back and verify with
//! securesystemslib, re-store (idempotent), concurrent stores of different envelopes
//! under one key (conditional appends), and failures that name the target while the
//! run's other backends still store.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{EXAMPLE_KEY, Run, Service, chainseal, repo, run, securesystemslib_verifies, tool};

/// Chains' object prefix of the example PipelineRun.
const RUN_DIR: &str = "pipelinerun-ci-build-and-push-x7k2p";
const BUCKET: &str = "provenance";
/// curl's SigV4 signing with moto's test credentials.
const SIGV4: [&str; 4] = [
    "--aws-sigv4",
    "aws:amz:us-east-1:s3",
    "--user",
    "testing:testing",
];

/// A running emulator and how to reach it.
struct Backend {
    _service: Service,
    /// `gs` or `s3`.
    scheme: &'static str,
    endpoint: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn curl(args: &[&str]) -> (bool, Vec<u8>) {
    let out = Command::new("curl")
        .arg("-sf")
        .args(args)
        .output()
        .expect("curl runs");
    (out.status.success(), out.stdout)
}

impl Backend {
    /// GCS: the XML API double (`tests/doubles/gcs_xml.py`; fake-gcs-server has no XML
    /// `PUT`, which `object_store` uses).
    fn gcs(python: &Path) -> Self {
        let (service, line) = common::spawn_ready(
            Command::new(python).arg(repo("tests/doubles/gcs_xml.py")),
            "the GCS double",
        );
        let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line");
        Self {
            _service: service,
            scheme: "gs",
            endpoint: format!("http://127.0.0.1:{}", ready["port"]),
        }
    }

    fn s3(dir: &Path) -> Option<Self> {
        let bin = tool("MOTO_SERVER", "S3 storage test")?;
        let port = free_port();
        let service = Service(
            Command::new(bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("moto starts"),
        );
        wait_for_port(port, "moto");
        Some(Self {
            _service: service,
            scheme: "s3",
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }

    fn create_bucket(&self, name: &str) {
        let ok = match self.scheme {
            "gs" => {
                curl(&[
                    "-X",
                    "POST",
                    "-H",
                    "Content-Type: application/json",
                    "--data",
                    &format!("{{\"name\":\"{name}\"}}"),
                    &format!("{}/storage/v1/b?project=test", self.endpoint),
                ])
                .0
            }
            _ => {
                curl(&[
                    SIGV4[0],
                    SIGV4[1],
                    SIGV4[2],
                    SIGV4[3],
                    "-X",
                    "PUT",
                    &format!("{}/{name}", self.endpoint),
                ])
                .0
            }
        };
        assert!(ok, "creating bucket {name}");
    }

    /// An object's bytes, read with the emulator's own API.
    fn object(&self, name: &str) -> Option<Vec<u8>> {
        let url = match self.scheme {
            "gs" => format!(
                "{}/storage/v1/b/{BUCKET}/o/{}?alt=media",
                self.endpoint,
                name.replace('/', "%2F")
            ),
            _ => format!("{}/{BUCKET}/{name}", self.endpoint),
        };
        let (ok, body) = match self.scheme {
            "gs" => curl(&[&url]),
            // moto wants a SigV4-signed request (any credentials).
            _ => curl(&[SIGV4[0], SIGV4[1], SIGV4[2], SIGV4[3], &url]),
        };
        ok.then_some(body)
    }

    /// `chainseal attest` of the example record with `key` into `storage`, reaching
    /// this emulator.
    fn command(&self, dir: &Path, storage: &str, key: &Path) -> Command {
        let mut cmd = chainseal(dir);
        cmd.env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .env("CHAINSEAL_KEY", key)
            .env("CHAINSEAL_STORAGE", storage)
            .env("CHAINSEAL_STORAGE_ENDPOINT", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("CHAINSEAL_LOG_LEVEL", "warn");
        cmd
    }

    fn attest(&self, dir: &Path, storage: &str, key: &Path) -> Run {
        run(&mut self.command(dir, storage, key))
    }
}

fn keys(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let prefix = dir.join(format!("key{i}"));
            let r = run(chainseal(dir).args(["keygen", "--out"]).arg(&prefix));
            assert_eq!(r.code, 0, "{}", r.stderr);
            prefix.with_extension("key")
        })
        .collect()
}

fn conformance(backend: &Backend, dir: &Path, python: &Path) {
    backend.create_bucket(BUCKET);
    let storage = format!("{}://{BUCKET}/att", backend.scheme);
    let demo = repo("examples/demo.key");
    let base = format!("att/{RUN_DIR}/{EXAMPLE_KEY}");

    // Store: Chains' objects and our JSON Lines file; the envelope verifies.
    let r = backend.attest(dir, &storage, &demo);
    assert_eq!(r.code, 0, "{}: {}", backend.scheme, r.stderr);
    assert!(
        r.stdout
            .contains(&format!("{}://{BUCKET}/{base}.signature", backend.scheme)),
        "{}",
        r.stdout
    );
    let signature = backend
        .object(&format!("{base}.signature"))
        .expect(".signature");
    let file = dir.join("signature.json");
    std::fs::write(&file, &signature).expect("write");
    let (ok, said) = securesystemslib_verifies(python, &file, &repo("examples/demo.pub"));
    assert!(ok, "{}: securesystemslib: {said}", backend.scheme);
    let envelope: serde_json::Value = serde_json::from_slice(&signature).expect("JSON");
    let payload = backend
        .object(&format!("{base}.payload"))
        .expect(".payload");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(&payload),
        envelope["payload"].as_str().expect("payload")
    );
    assert_eq!(backend.object(&format!("{base}.cert")), Some(Vec::new()));
    assert_eq!(backend.object(&format!("{base}.chain")), Some(Vec::new()));
    let lines = |b: &Backend| {
        String::from_utf8(
            b.object(&format!("{base}.intoto.jsonl"))
                .expect(".intoto.jsonl"),
        )
        .expect("UTF-8")
        .lines()
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    assert_eq!(lines(backend).len(), 1);

    // Re-store: nothing new, and it says so.
    let r = backend.attest(dir, &storage, &demo);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("(already present)"), "{}", r.stdout);
    assert_eq!(lines(backend).len(), 1);

    // Concurrent stores of different envelopes under one key: every line lands once.
    let keys = keys(dir, 3);
    let children: Vec<_> = keys
        .iter()
        .map(|k| {
            backend
                .command(dir, &storage, k)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("chainseal starts")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("chainseal runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let all = lines(backend);
    assert_eq!(
        all.len(),
        4,
        "{}: lost or duplicated lines: {all:#?}",
        backend.scheme
    );

    // A missing bucket: a clear error naming the target; the file backend of the same
    // run still stores; the run fails.
    let local = dir.join("local");
    let both = format!(
        "{}://no-such-bucket/att,{}",
        backend.scheme,
        local.display()
    );
    let r = backend.attest(dir, &both, &demo);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr
            .contains(&format!("{}://no-such-bucket", backend.scheme)),
        "{}",
        r.stderr
    );
    assert!(
        local.join(format!("{EXAMPLE_KEY}.intoto.jsonl")).exists(),
        "the file backend did not store: {}",
        r.stderr
    );
}

#[test]
fn gcs_storage_conforms() {
    let Some(python) = tool("INTEROP_PYTHON", "GCS storage test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let backend = Backend::gcs(&python);
    conformance(&backend, dir.path(), &python);
}

#[test]
fn s3_storage_conforms() {
    let Some(python) = tool("INTEROP_PYTHON", "S3 storage test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let Some(backend) = Backend::s3(dir.path()) else {
        return;
    };
    conformance(&backend, dir.path(), &python);
}
