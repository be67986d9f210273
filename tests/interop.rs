//! Interop: envelopes written by the real binary are verified by python
//! `securesystemslib`, and a tampered envelope is rejected by it.
//!
//! Needs `INTEROP_PYTHON` (a python with `tests/interop/requirements.txt`; the test
//! script sets it up). Outside CI the test is skipped, with a message, when it is
//! unset; in CI (`CI` set) that is a failure.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{EXAMPLE_KEY, chainseal, repo, run};

fn python() -> Option<PathBuf> {
    common::tool("INTEROP_PYTHON", "securesystemslib interop")
}

#[test]
fn securesystemslib_verifies_every_key_type() {
    let Some(python) = python() else { return };
    for (key, public) in [
        ("examples/demo.key", "examples/demo.pub"),
        (
            "tests/fixtures/keys/p384-sec1.pem",
            "tests/fixtures/keys/p384.pub",
        ),
        (
            "tests/fixtures/keys/ed25519.pem",
            "tests/fixtures/keys/ed25519.pub",
        ),
        (
            "tests/fixtures/keys/rsa2048.pem",
            "tests/fixtures/keys/rsa2048.pub",
        ),
        (
            "tests/fixtures/keys/rsa2048-pkcs1.pem",
            "tests/fixtures/keys/rsa2048.pub",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let r = run(chainseal(dir.path())
            .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .env("CHAINSEAL_KEY", repo(key)));
        assert_eq!(r.code, 0, "{key}: {}", r.stderr);
        let file = dir
            .path()
            .join(format!("attestations/{EXAMPLE_KEY}.intoto.jsonl"));
        let (ok, said) = common::securesystemslib_verifies(&python, &file, &repo(public));
        assert!(ok, "{key}: securesystemslib rejected the envelope:\n{said}");
        let v = common::verify(dir.path(), repo(public), &file);
        assert_eq!(v.code, 0, "{key}: chainseal verify: {}", v.stdout);
    }
}

#[test]
fn securesystemslib_verifies_our_envelopes_and_rejects_tampering() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", repo("examples/demo.key")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = dir
        .path()
        .join(format!("attestations/{EXAMPLE_KEY}.intoto.jsonl"));
    let script = repo("tests/interop/verify_dsse.py");

    let out = Command::new(&python)
        .arg(&script)
        .arg(&file)
        .arg(repo("examples/demo.pub"))
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "securesystemslib rejected our envelope:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "https://slsa.dev/provenance/v1");

    let line = std::fs::read_to_string(&file).expect("stored");
    let mut env: serde_json::Value = serde_json::from_str(&line).expect("json");
    let mut payload = env["payload"].as_str().expect("payload").to_owned();
    payload.replace_range(10..11, if &payload[10..11] == "A" { "B" } else { "A" });
    env["payload"] = serde_json::Value::String(payload);
    let tampered = dir.path().join("tampered.jsonl");
    std::fs::write(&tampered, format!("{env}\n")).expect("write");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&tampered)
        .arg(repo("examples/demo.pub"))
        .output()
        .expect("python runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
