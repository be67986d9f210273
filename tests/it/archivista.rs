//! `archivista+http://` storage against a double of Archivista's HTTP API
//! (`tests/doubles/archivista.py`): upload, the gitoid as the stored location, read
//! back and verified with securesystemslib; a failing server beside a working backend.

use crate::common;

use std::path::Path;
use std::process::Command;

use crate::common::{EXAMPLE_KEY, Service, attest_example, repo, securesystemslib_verifies, tool};
use sha2::{Digest as _, Sha256};

fn archivista(python: &Path, mode: &str) -> (Service, String) {
    archivista_with(python, mode, &[])
}

/// The double in `mode` with extra arguments (`--auth USER:PASS`, `--log FILE`).
fn archivista_with(python: &Path, mode: &str, args: &[&str]) -> (Service, String) {
    let (service, line) = common::spawn_ready(
        Command::new(python)
            .arg(repo("tests/doubles/archivista.py"))
            .arg(mode)
            .args(args),
        "the Archivista double",
    );
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line");
    (service, format!("http://127.0.0.1:{}", ready["port"]))
}

/// The double (in `mode`), a scratch directory, and storage into both Archivista and a
/// local directory.
struct Scene {
    python: std::path::PathBuf,
    dir: tempfile::TempDir,
    _server: Service,
    base: String,
    local: std::path::PathBuf,
    storage: String,
}

impl Scene {
    fn start(mode: &str) -> Option<Self> {
        let python = tool("INTEROP_PYTHON", "Archivista storage test")?;
        let dir = tempfile::tempdir().expect("tmp");
        let (server, base) = archivista(&python, mode);
        let local = dir.path().join("local");
        let storage = format!("archivista+{base},{}", local.display());
        Some(Self {
            python,
            dir,
            _server: server,
            base,
            local,
            storage,
        })
    }
}

/// The example record attested with the demo key into `storage`.
fn attest_demo(dir: &Path, storage: &str) -> common::Run {
    attest_example(
        dir,
        &repo("examples/demo.key").display().to_string(),
        Path::new(storage),
        &[],
    )
}

#[test]
fn envelopes_are_uploaded_and_named_by_gitoid() {
    let Some(Scene {
        python,
        dir,
        _server,
        base,
        local,
        storage,
    }) = Scene::start("up")
    else {
        return;
    };
    let r = attest_demo(dir.path(), &storage);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let location = r
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("archivista: "))
        .unwrap_or_else(|| panic!("no Archivista location: {}", r.stdout))
        .to_owned();
    // The gitoid is Archivista's name for exactly the envelope stored locally.
    let envelope = std::fs::read_to_string(local.join(format!("{EXAMPLE_KEY}.intoto.jsonl")))
        .expect("local copy");
    let envelope = envelope.lines().next().expect("one envelope");
    let mut blob = format!("blob {}\0", envelope.len()).into_bytes();
    blob.extend_from_slice(envelope.as_bytes());
    assert_eq!(
        location,
        format!("{base}/download/{}", hex::encode(Sha256::digest(&blob)))
    );
    let file = dir.path().join("downloaded.json");
    common::download(&location, &file);
    let (ok, said) = securesystemslib_verifies(&python, &file, &repo("examples/demo.pub"));
    assert!(ok, "securesystemslib: {said}");
    // Again: the same content, the same gitoid.
    let r = attest_demo(dir.path(), &storage);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&location), "{}", r.stdout);
}

#[test]
fn a_failing_archivista_fails_the_run_but_not_the_other_backends() {
    let Some(Scene {
        dir,
        _server,
        base: _,
        local,
        storage,
        ..
    }) = Scene::start("down")
    else {
        return;
    };
    let r = attest_demo(dir.path(), &storage);
    common::assert_error(&r, "Archivista");
    assert!(r.stderr.contains("503"), "{}", r.stderr);
    assert!(r.stderr.contains("database is down"), "{}", r.stderr);
    assert!(local.join(format!("{EXAMPLE_KEY}.intoto.jsonl")).exists());
    // Not a URL Archivista can be reached at.
    let r = attest_demo(dir.path(), "archivista+ftp://x");
    assert_ne!(r.code, 0);
}

/// `archivista+http://user:password@host`: the credentials go out as HTTP Basic
/// authorization and appear nowhere else: not in stdout (text or JSON), stderr, the
/// result-locations file or the stored locations, also when the server fails.
#[test]
fn uri_credentials_are_sent_as_basic_auth_and_never_shown() {
    let Some(python) = tool("INTEROP_PYTHON", "Archivista credentials test") else {
        return;
    };
    const PASSWORD: &str = "arch-pass-Zq81";
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("requests.jsonl");
    for mode in ["up", "down"] {
        let (_server, base) = archivista_with(
            &python,
            mode,
            &[
                "--auth",
                &format!("ci:{PASSWORD}"),
                "--log",
                &log.display().to_string(),
            ],
        );
        let uri = base.replace("http://", &format!("archivista+http://ci:{PASSWORD}@"));
        for output in ["text", "json"] {
            let locations = dir.path().join(format!("locations-{mode}-{output}"));
            let r = attest_example(
                dir.path(),
                &repo("examples/demo.key").display().to_string(),
                Path::new(&uri),
                &[
                    ("CHAINSEAL_OUTPUT", output.to_owned()),
                    (
                        "CHAINSEAL_RESULT_LOCATIONS",
                        locations.display().to_string(),
                    ),
                    ("CHAINSEAL_LOG_LEVEL", "trace".to_owned()),
                ],
            );
            let written = std::fs::read_to_string(&locations).unwrap_or_default();
            for (what, text) in [
                ("stdout", &r.stdout),
                ("stderr", &r.stderr),
                ("locations", &written),
            ] {
                assert!(
                    !text.contains(PASSWORD),
                    "{mode}/{output}: password in {what}:\n{text}"
                );
            }
            if mode == "up" {
                assert_eq!(r.code, 0, "{}", r.stderr);
                assert!(
                    r.stdout.contains(&format!("{base}/download/")),
                    "{}",
                    r.stdout
                );
            } else {
                common::assert_error(&r, "Archivista");
            }
        }
    }
    // Every request carried the credentials, as Basic authorization only.
    let requests = std::fs::read_to_string(&log).expect("request log");
    assert!(requests.lines().count() >= 4, "{requests}");
    for line in requests.lines() {
        let request: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert!(
            request["headers"]["authorization"]
                .as_str()
                .is_some_and(|a| a.starts_with("Basic ")),
            "{line}"
        );
        assert!(
            !request["path"]
                .as_str()
                .unwrap_or_default()
                .contains(PASSWORD),
            "{line}"
        );
    }
}
