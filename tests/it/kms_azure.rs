//! Azure Key Vault signing (`azurekms://`) against a loopback HTTPS double
//! (`tests/interop/kms_double.py azure`): no Key Vault emulator exists, so the double
//! speaks the REST API the official `azure_security_keyvault_keys` client calls
//! (including the 401 challenge it starts with) and the App Service managed identity
//! endpoint `azure_identity` fetches tokens from. It serves TLS with a test CA
//! (trusted through `SSL_CERT_FILE`, as Azure clients refuse to send tokens over plain
//! HTTP), holds real keys and returns raw `r‖s` ECDSA signatures as Key Vault does.
//!
//! Needs `INTEROP_PYTHON`; skipped outside CI (with a message) when it is unset.
#![cfg(feature = "azure")]

use crate::common::{
    assert_error, assert_oracle_verified, attest_and_verify_with, attest_example, double_requests,
    kms_double, oracle, tool,
};

#[test]
fn key_vault_keys_sign_verifiable_attestations() {
    let Some(python) = tool("INTEROP_PYTHON", "Azure Key Vault test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let keys = dir.path().join("double");
    std::fs::create_dir(&keys).expect("mkdir");
    let (_double, info) = kms_double(&python, "azure", &keys);
    let (vault, env) = key_vault_env(&info);
    for (key, public, extra) in [
        ("ec256", "ec256.pub", None),
        ("ec256", "ec256-0ld0ld.pub", Some("0ld0ld")),
        ("ec384", "ec384.pub", None),
        ("ec521", "ec521.pub", None),
        ("rsa2048", "rsa2048.pub", None),
    ] {
        let mut env = env.clone();
        if let Some(version) = extra {
            env.push(("CHAINSEAL_KMS_KEY_VERSION", version.to_owned()));
        }
        attest_and_verify_with(
            dir.path(),
            &python,
            &format!("azurekms://{vault}/{key}"),
            &env,
            &keys.join(public),
            &format!("{key}-{}", extra.unwrap_or("current")),
        );
    }

    // Each sign call is pinned to the version whose public key was read.
    let requests = double_requests(&keys);
    let sign_paths: Vec<String> = requests
        .iter()
        .filter(|r| r["method"] == "POST")
        .filter_map(|r| r["path"].as_str())
        .map(|p| p.split('?').next().unwrap_or(p).to_owned())
        .collect();
    assert_eq!(
        sign_paths,
        [
            "/keys/ec256/c0ffee/sign",
            "/keys/ec256/0ld0ld/sign",
            "/keys/ec384/a1/sign",
            "/keys/ec521/b2/sign",
            "/keys/rsa2048/c3/sign",
        ]
    );
    let algs: Vec<&str> = requests
        .iter()
        .filter(|r| r["method"] == "POST")
        .filter_map(|r| r["body"]["alg"].as_str())
        .collect();
    assert_eq!(algs, ["ES256", "ES256", "ES384", "ES512", "RS256"]);

    // chainseal signs RSA keys with RS256 (PKCS#1 v1.5, checked above by
    // securesystemslib). Key Vault RSA keys also sign PS256/384/512; the double does so
    // with RSASSA-PSS (salt = digest length) and python `cryptography` checks every
    // PS*/RS* algorithm against the published key (`kms_double_check.py`).
    let check = oracle(
        &python,
        "kms_double_check.py",
        &[
            "azure",
            &info.to_string(),
            &keys.display().to_string(),
            "rsa2048",
        ],
    );
    assert_oracle_verified(&check, "the Azure double's RSA signatures");

    let attest = |key: &str, env: &[(&str, String)]| {
        attest_example(dir.path(), key, &dir.path().join("errors"), env)
    };
    assert_error(
        &attest(&format!("azurekms://{vault}/missing"), &env),
        "not found: check the vault host and key name",
    );
    assert_error(
        &attest(&format!("azurekms://{vault}/denied"), &env),
        "permission denied",
    );
    let mut wrong_version = env.clone();
    wrong_version.push(("CHAINSEAL_KMS_KEY_VERSION", "nope".into()));
    assert_error(
        &attest(&format!("azurekms://{vault}/ec256"), &wrong_version),
        "not found",
    );
    assert_error(
        &attest(&format!("azurekms://{vault}"), &env),
        "expected `azurekms://<vault host>/<key name>`",
    );
    // The managed identity endpoint refuses the request.
    let mut bad_identity = env.clone();
    bad_identity[1].1 = "wrong-secret".into();
    let r = attest(&format!("azurekms://{vault}/ec256"), &bad_identity);
    assert_error(&r, "managed identity");
    assert!(!r.stderr.contains("wrong-secret"), "secret in output");
    // A vault whose certificate is not trusted.
    let untrusted: Vec<(&str, String)> = env[..2].to_vec();
    assert_error(
        &attest(&format!("azurekms://{vault}/ec256"), &untrusted),
        "TLS certificate is not trusted",
    );
    assert!(
        !dir.path().join("errors").exists(),
        "failed runs must not write storage"
    );
}

/// cosign v3 verifies what Key Vault keys (the double's EC P-256, P-384, P-521 and RSA
/// 2048, signed ES256/ES384/ES512/RS256) sign into `--storage oci`, with the public
/// keys the double publishes (`common::cosign::SignerScene::check`: `.att` and `.sig`,
/// another key and a flipped bit refused). P-384 and P-521 sign over SHA-384 and
/// SHA-512, which cosign checks only when told (`--signature-digest-algorithm`).
#[test]
fn cosign_v3_verifies_what_key_vault_keys_push() {
    use crate::common::cosign::{Signer, SignerScene};
    let Some(python) = tool("INTEROP_PYTHON", "Key Vault with cosign") else {
        return;
    };
    let Some(scene) = SignerScene::new("Key Vault with cosign") else {
        return;
    };
    let keys = scene.dir.path().join("double");
    std::fs::create_dir(&keys).expect("mkdir");
    let (_double, info) = kms_double(&python, "azure", &keys);
    let (vault, env) = key_vault_env(&info);
    let other = crate::common::repo("examples/demo.pub");
    for (key, flags) in [
        ("ec256", &[][..]),
        ("ec384", &["--signature-digest-algorithm=sha384"][..]),
        ("ec521", &["--signature-digest-algorithm=sha512"][..]),
        ("rsa2048", &[][..]),
    ] {
        scene.check(
            &Signer {
                label: &format!("azure-{key}"),
                key: &format!("azurekms://{vault}/{key}"),
                env: &env,
                public: &keys.join(format!("{key}.pub")),
                cosign_flags: flags,
            },
            &other,
        );
    }
}

/// The vault's host and the environment chainseal authenticates to the Key Vault
/// double with (managed identity, the double's CA), from what the double printed.
fn key_vault_env(info: &serde_json::Value) -> (String, Vec<(&'static str, String)>) {
    let text = |k: &str| info[k].as_str().expect("double info").to_owned();
    let env = vec![
        ("IDENTITY_ENDPOINT", text("identity_endpoint")),
        ("IDENTITY_HEADER", text("identity_header")),
        ("SSL_CERT_FILE", text("ca")),
    ];
    (text("vault_host"), env)
}
