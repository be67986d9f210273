//! AWS KMS signing (`awskms://`) against a real moto server on loopback.
//!
//! moto ignores `MessageType=DIGEST` (it hashes the digest again), so an envelope signed
//! through moto never verifies as DSSE. The test therefore checks what makes it verify
//! on real AWS: every `Sign` request chainseal sent (read from moto's request recorder)
//! has `MessageType=DIGEST`, the right algorithm and `Message = sha256(PAE)`, and moto's
//! signature is a valid signature by the key over exactly that digest
//! (`tests/interop/moto_kms.py`), with the public key moto gives out (boto3
//! `get_public_key`, not chainseal's). Plus `public-key` (it must print that key), and
//! the errors for a missing key, a missing region and an unreachable endpoint.
//!
//! Needs `MOTO_SERVER` and `INTEROP_PYTHON` (scripts/test sets them); skipped with a
//! message outside CI when unset, a failure in CI.
#![cfg(feature = "aws")]

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{EXAMPLE_KEY, assert_error, chainseal, repo, run, tool};

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn aws<'a>(cmd: &'a mut Command, endpoint_region: Option<&str>) -> &'a mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if let Some(region) = endpoint_region {
        cmd.env("AWS_REGION", region);
    }
    cmd
}

#[test]
fn aws_kms_keys_sign_the_pae_digest() {
    let (Some(moto), Some(python)) = (
        tool("MOTO_SERVER", "AWS KMS test"),
        tool("INTEROP_PYTHON", "AWS KMS test"),
    ) else {
        return;
    };
    let work = tempfile::tempdir().expect("tmp");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let _server = Moto(
        Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(work.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    let py = |args: &[&str]| moto_kms(&python, args);
    let recorder = |action: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-X",
                "POST",
                &format!("{endpoint}/moto-api/recorder/{action}"),
            ])
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "recorder {action}");
    };
    let keys = py(&["create", &endpoint]);
    recorder("start-recording");
    for line in keys.lines() {
        let (spec, id) = line.split_once(' ').expect("spec and id");
        let key = format!("awskms://127.0.0.1:{port}/{id}");
        let dir = work.path().join(spec);
        std::fs::create_dir(&dir).expect("mkdir");
        // The verifying key comes from the service (boto3 `get_public_key`), and
        // `chainseal public-key` must print the same key.
        let service_pem = py(&["public-key", &endpoint, id]);
        let public = dir.join("key.pub");
        std::fs::write(&public, &service_pem).expect("write pub");
        let r = run(aws(
            chainseal(&dir).args(["public-key", "--key", &key]),
            Some("us-east-1"),
        ));
        assert_eq!(r.code, 0, "{spec}: {}", r.stderr);
        assert_eq!(
            pem::parse(&r.stdout).expect("chainseal PEM").contents(),
            pem::parse(&service_pem).expect("service PEM").contents(),
            "{spec}: chainseal public-key must print the key AWS KMS gives out"
        );
        let r = run(aws(
            chainseal(&dir)
                .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
                .env("CHAINSEAL_KEY", &key),
            Some("us-east-1"),
        ));
        assert_eq!(r.code, 0, "{spec}: {}", r.stderr);
        let file = dir.join(format!("attestations/{EXAMPLE_KEY}.intoto.jsonl"));
        let recording = work.path().join("moto_recording");
        let ok = py(&[
            "check",
            file.to_str().expect("utf-8"),
            public.to_str().expect("utf-8"),
            recording.to_str().expect("utf-8"),
            id,
        ]);
        assert_eq!(ok.trim(), "ok", "{spec}");
    }
    recorder("stop-recording");

    let dir = work.path();
    let attest = |key: String, region: Option<&str>| {
        run(aws(
            chainseal(dir)
                .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
                .env("CHAINSEAL_KEY", key)
                .env("CHAINSEAL_STORAGE", dir.join("errors")),
            region,
        ))
    };
    let r = attest(
        format!("awskms://127.0.0.1:{port}/alias/missing"),
        Some("us-east-1"),
    );
    assert_error(&r, "not found");
    let r = attest(format!("awskms://127.0.0.1:{port}/alias/missing"), None);
    assert_error(&r, "AWS_REGION");
    let closed = TcpListener::bind("127.0.0.1:0").expect("port");
    let dead = closed.local_addr().expect("addr");
    drop(closed);
    let r = attest(format!("awskms://{dead}/alias/x"), Some("us-east-1"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("GetPublicKey failed"), "{}", r.stderr);
    assert!(!dir.join("errors").exists(), "nothing stored on failure");
}

/// cosign v3 verifies what AWS KMS keys (ECC_NIST_P256, RSA_2048) sign into
/// `--storage oci`, with the public key the service gives out (boto3
/// `get_public_key`), through `common::cosign::SignerScene::check` (`.att` and `.sig`,
/// another key and a flipped bit refused). moto signs a `MessageType=DIGEST` message
/// as AWS does only through `tests/interop/moto_digest_server.py` (plain moto hashes
/// it again, so nothing it signs for chainseal verifies anywhere).
#[test]
fn cosign_v3_verifies_what_aws_kms_keys_push() {
    use crate::common::cosign::{Signer, SignerScene};
    let Some(python) = tool("INTEROP_PYTHON", "AWS KMS with cosign") else {
        return;
    };
    let Some(scene) = SignerScene::new("AWS KMS with cosign") else {
        return;
    };
    // Port 0: moto (werkzeug) picks one and says `Running on http://127.0.0.1:<port>`.
    let (_moto, port) = crate::common::spawn_reporting_port(
        Command::new(&python)
            .arg(repo("tests/interop/moto_digest_server.py"))
            .args(["-H", "127.0.0.1", "-p", "0"])
            .current_dir(scene.dir.path())
            .stdout(Stdio::null()),
        "Running on http://127.0.0.1:",
        "moto (DIGEST as AWS signs it)",
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let py = |args: &[&str]| moto_kms(&python, args);
    let env = vec![
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ];
    let other = repo("examples/demo.pub");
    for line in py(&["create", &endpoint]).lines() {
        let (spec, id) = line.split_once(' ').expect("spec and id");
        let public = scene.dir.path().join(format!("aws-{spec}.pub"));
        std::fs::write(&public, py(&["public-key", &endpoint, id])).expect("write pub");
        scene.check(
            &Signer {
                label: &format!("aws-{}", spec.to_ascii_lowercase().replace('_', "-")),
                key: &format!("awskms://127.0.0.1:{port}/{id}"),
                env: &env,
                public: &public,
                cosign_flags: &[],
            },
            &other,
        );
    }
}

/// `tests/interop/moto_kms.py ARGS` (boto3 against moto); its stdout. A failure fails
/// the test with what it printed.
fn moto_kms(python: &Path, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg(repo("tests/interop/moto_kms.py"))
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "moto_kms.py {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
