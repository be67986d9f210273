//! Interop: envelopes written by the real binary are verified by python
//! `securesystemslib`, and a tampered envelope is rejected by it; the wrapper
//! (`tests/interop/verify_dsse.py`) itself rejects what it cannot verify. cosign v3
//! (`COSIGN_BIN`, scripts/peers) verifies the Sigstore bundles of directory storage.
//!
//! Needs `INTEROP_PYTHON` (a python with `tests/interop/requirements.txt`; the test
//! script sets it up). Unset, the tests fail, unless `CHAINSEAL_TEST_SKIP_MISSING=1`
//! (outside CI only) skips them, with a message; this file also tests that rule.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{EXAMPLE_KEY, chainseal, repo, run};

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
    let why = common::securesystemslib_rejects(&python, &tampered, &repo("examples/demo.pub"));
    assert!(
        why.contains("envelope 1: signature 1 does not verify"),
        "{why}"
    );
}

/// The example envelope, attested with the demo key in `dir`, as JSON.
fn example_envelope(dir: &Path) -> serde_json::Value {
    let r = run(chainseal(dir)
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", repo("examples/demo.key")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = dir.join(format!("attestations/{EXAMPLE_KEY}.intoto.jsonl"));
    serde_json::from_str(&std::fs::read_to_string(file).expect("stored")).expect("json")
}

/// `envelopes`, one a line, written to `dir/name`.
fn write_lines(dir: &Path, name: &str, envelopes: &[&serde_json::Value]) -> PathBuf {
    let path = dir.join(name);
    let text: String = envelopes.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&path, text).expect("write");
    path
}

/// A copy of the envelope's only signature with one byte of `sig` flipped, under
/// `keyid` (a hint: every signature must verify whatever it names).
fn corrupted_signature(envelope: &serde_json::Value, keyid: &str) -> serde_json::Value {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut sig = b64
        .decode(envelope["signatures"][0]["sig"].as_str().expect("sig"))
        .expect("base64");
    sig[10] ^= 0x01;
    serde_json::json!({"keyid": keyid, "sig": b64.encode(sig)})
}

/// The wrapper must not pass what it should not: an empty file, an envelope without
/// signatures, a bad second signature (under the same or another key id), a bad
/// second envelope, a wrong key. Each is a rejection (exit 1, `rejected: …`),
/// which a broken harness (a missing key file: exit 2) is not.
#[test]
fn verify_dsse_rejects_what_it_cannot_verify_and_tells_rejection_from_error() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let public = repo("examples/demo.pub");
    let good = example_envelope(d);
    let keyid = good["signatures"][0]["keyid"]
        .as_str()
        .expect("keyid")
        .to_owned();

    // Control: the envelope twice, and with its signature twice, verify.
    for (name, envelopes) in [
        ("two-envelopes.jsonl", vec![&good, &good]),
        ("good.jsonl", vec![&good]),
    ] {
        let file = write_lines(d, name, &envelopes);
        let (ok, said) = common::securesystemslib_verifies(&python, &file, &public);
        assert!(ok, "{name}: {said}");
    }
    let mut doubled = good.clone();
    doubled["signatures"]
        .as_array_mut()
        .expect("signatures")
        .push(good["signatures"][0].clone());
    let file = write_lines(d, "doubled.jsonl", &[&doubled]);
    let (ok, said) = common::securesystemslib_verifies(&python, &file, &public);
    assert!(ok, "the same signature twice: {said}");

    let mut unsigned = good.clone();
    unsigned["signatures"] = serde_json::json!([]);
    let mut bad_second_same_id = good.clone();
    let mut bad_second_other_id = good.clone();
    for (envelope, id) in [
        (&mut bad_second_same_id, keyid.as_str()),
        (&mut bad_second_other_id, "another-key"),
    ] {
        let sig = corrupted_signature(&good, id);
        envelope["signatures"]
            .as_array_mut()
            .expect("signatures")
            .push(sig);
    }
    let mut bad_payload = good.clone();
    bad_payload["payload"] = serde_json::Value::String(
        good["payload"]
            .as_str()
            .expect("payload")
            .replacen('e', "f", 1),
    );
    let cases: [(&str, Vec<&serde_json::Value>, &str); 5] = [
        ("empty.jsonl", vec![], "rejected: no envelopes in"),
        (
            "unsigned.jsonl",
            vec![&unsigned],
            "envelope 1 has no signatures",
        ),
        (
            "bad-second-same-id.jsonl",
            vec![&bad_second_same_id],
            "envelope 1: signature 2 does not verify",
        ),
        (
            "bad-second-other-id.jsonl",
            vec![&bad_second_other_id],
            "envelope 1: signature 2 does not verify",
        ),
        (
            "bad-second-envelope.jsonl",
            vec![&good, &bad_payload],
            "envelope 2: signature 1 does not verify",
        ),
    ];
    for (name, envelopes, needle) in cases {
        let file = write_lines(d, name, &envelopes);
        let why = common::securesystemslib_rejects(&python, &file, &public);
        assert!(
            why.contains(needle),
            "{name}: expected `{needle}`, got: {why}"
        );
    }
    let file = write_lines(d, "good-again.jsonl", &[&good]);
    let why =
        common::securesystemslib_rejects(&python, &file, &repo("tests/fixtures/keys/p384.pub"));
    assert!(
        why.contains("signature 1 does not verify"),
        "wrong key: {why}"
    );

    // A harness failure is exit 2 with `error:`, never a rejection.
    let out = Command::new(&python)
        .arg(repo("tests/interop/verify_dsse.py"))
        .arg(&file)
        .arg(d.join("no-such-key.pub"))
        .output()
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "missing key: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("rejected"));
}

/// `common::tool` fails a test whose tool is missing unless skipping is asked for
/// (`CHAINSEAL_TEST_SKIP_MISSING=1`, never in CI), and a skip is printed and recorded
/// in `CHAINSEAL_TEST_SKIP_LOG`. Runs one test of this binary in a child process
/// with a controlled environment.
#[test]
fn a_missing_tool_fails_unless_skipping_is_asked_for_and_every_skip_is_recorded() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("skipped.log");
    let child = |env: &[(&str, &str)]| {
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "interop::securesystemslib_verifies_every_key_type",
                "--exact",
            ])
            .env_clear()
            .env(common::SKIP_LOG, &log)
            .envs(env.iter().copied())
            .output()
            .expect("the test binary runs");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), said)
    };

    let (ok, said) = child(&[]);
    assert!(!ok, "a missing tool passed without the opt-in:\n{said}");
    assert!(
        said.contains("INTEROP_PYTHON is unset") && said.contains(common::SKIP_MISSING),
        "{said}"
    );
    let (ok, said) = child(&[(common::SKIP_MISSING, "1"), ("CI", "true")]);
    assert!(!ok, "skipped in CI:\n{said}");
    assert!(said.contains("INTEROP_PYTHON is not set in CI"), "{said}");
    assert!(!log.exists(), "a failure was recorded as a skip");

    let (ok, said) = child(&[(common::SKIP_MISSING, "1")]);
    assert!(ok, "the opt-in did not skip:\n{said}");
    let line = "it::interop::securesystemslib_verifies_every_key_type: securesystemslib interop: INTEROP_PYTHON is unset";
    assert!(said.contains(&format!("SKIPPED {line}")), "{said}");
    assert_eq!(
        std::fs::read_to_string(&log).expect("skip log"),
        format!("{line}\n")
    );
}

/// The bundle directory storage keeps for the example record signed with the demo key
/// (`CHAINSEAL_BUNDLE=true`, plus `env`), under `dir`.
fn key_signed_bundle(dir: &Path, env: &[(&str, String)]) -> PathBuf {
    let out = dir.join("att");
    let key = repo("examples/demo.key").display().to_string();
    let mut env = env.to_vec();
    env.push(("CHAINSEAL_BUNDLE", "true".into()));
    let r = common::attest_example(dir, &key, &out, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = out.join(format!("{EXAMPLE_KEY}.sigstore.json"));
    assert!(bundle.is_file(), "no bundle: {}", r.stdout);
    bundle
}

/// The example image's digest without its algorithm (cosign's `--digest`).
fn image_digest_hex() -> &'static str {
    common::EXAMPLE_DIGEST.trim_start_matches("sha256:")
}

/// cosign v3 (`COSIGN_BIN`, scripts/peers) `verify-blob-attestation --bundle` on the
/// Sigstore bundle directory storage keeps beside each attestation
/// (`CHAINSEAL_BUNDLE=true`, key-signed, no transparency log): it verifies against the
/// example image's digest, and another digest or another key is refused.
#[test]
fn cosign_v3_verifies_the_bundles_of_directory_storage() {
    let Some(cosign) = common::tool("COSIGN_BIN", "cosign blob interop") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = key_signed_bundle(dir.path(), &[]);
    let image_digest = image_digest_hex();
    let check = |public: &str, digest: &str| {
        let mut cmd = Command::new(&cosign);
        cmd.env_clear()
            .env("HOME", dir.path())
            .arg("verify-blob-attestation")
            .arg("--bundle")
            .arg(&bundle)
            .arg("--key")
            .arg(repo(public))
            .args(["--type", "slsaprovenance1", "--insecure-ignore-tlog=true"])
            .args(["--digestAlg", "sha256", "--digest", digest]);
        run(&mut cmd)
    };
    let ok = check("examples/demo.pub", image_digest);
    assert_eq!(ok.code, 0, "cosign verify-blob-attestation: {}", ok.stderr);
    let other_digest = "00".repeat(32);
    let wrong_subject = check("examples/demo.pub", &other_digest);
    assert_ne!(
        wrong_subject.code, 0,
        "another digest verified: {}",
        wrong_subject.stdout
    );
    let wrong_key = check("tests/fixtures/keys/cosign.pub", image_digest);
    assert_ne!(
        wrong_key.code, 0,
        "another key verified: {}",
        wrong_key.stdout
    );
    assert!(ok.stderr.contains("Verified OK"), "{}", ok.stderr);
    assert!(
        wrong_subject
            .stderr
            .contains("provided artifact digest does not match any digest in statement"),
        "{}",
        wrong_subject.stderr
    );
    assert!(
        wrong_key
            .stderr
            .contains("accepted signatures do not match threshold"),
        "{}",
        wrong_key.stderr
    );
}

/// The same with the transparency log on: the bundle's Rekor entry (from the Sigstore
/// double) is checked against the double's trusted root, nothing ignored; a bundle
/// whose signed entry timestamp lost one bit is refused ("not enough verified log
/// entries from transparency log": the entry no longer counts).
#[test]
fn cosign_v3_verifies_logged_bundles_of_directory_storage() {
    let what = "cosign blob interop with the transparency log";
    let Some(cosign) = common::tool("COSIGN_BIN", what) else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double(what) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("trusted_root.json");
    common::download(&format!("{url}/trusted_root.json"), &root);
    let bundle = key_signed_bundle(
        dir.path(),
        &[
            ("CHAINSEAL_TRANSPARENCY", "on".into()),
            ("CHAINSEAL_REKOR_URL", url.clone()),
        ],
    );
    let image_digest = image_digest_hex();
    let check = |bundle: &Path| {
        let mut cmd = Command::new(&cosign);
        cmd.env_clear()
            .env("HOME", dir.path())
            .arg("verify-blob-attestation")
            .arg("--bundle")
            .arg(bundle)
            .arg("--key")
            .arg(repo("examples/demo.pub"))
            .arg("--trusted-root")
            .arg(&root)
            .args(["--type", "slsaprovenance1"])
            .args(["--digestAlg", "sha256", "--digest", image_digest]);
        run(&mut cmd)
    };
    let ok = check(&bundle);
    assert_eq!(ok.code, 0, "cosign verify-blob-attestation: {}", ok.stderr);
    assert!(ok.stderr.contains("Verified OK"), "{}", ok.stderr);
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("JSON");
    let set = &mut doc["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"];
    let flipped = common::flip_bit_b64(set.as_str().expect("a logged bundle"), usize::MAX);
    *set = serde_json::Value::String(flipped);
    let tampered = dir.path().join("tampered.sigstore.json");
    std::fs::write(&tampered, doc.to_string()).expect("write");
    let refused = check(&tampered);
    assert_ne!(refused.code, 0, "a broken SET verified: {}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("not enough verified log entries from transparency log"),
        "{}",
        refused.stderr
    );
}
