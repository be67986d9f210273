//! GCP Cloud KMS signing (`gcpkms://`) against a loopback HTTP double
//! (`tests/interop/kms_double.py gcp`): no Cloud KMS emulator exists, so the double
//! speaks the REST API the official `google-cloud-kms-v1` client calls and the OAuth2
//! refresh endpoint `google-cloud-auth` calls for Application Default Credentials of
//! type `authorized_user`. It holds real keys and signs what it is sent, so the
//! envelopes below only verify if chainseal sent the right digest.
//!
//! Needs `INTEROP_PYTHON`; skipped outside CI (with a message) when it is unset.
#![cfg(feature = "gcp")]

use std::path::Path;

use crate::common::{
    assert_error, assert_oracle_verified, attest_and_verify_with, attest_example, double_requests,
    kms_double, oracle, tool,
};

const KEYS: &str = "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys";

#[test]
fn cloud_kms_keys_sign_verifiable_attestations() {
    let Some(python) = tool("INTEROP_PYTHON", "GCP Cloud KMS test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let keys = dir.path().join("double");
    std::fs::create_dir(&keys).expect("mkdir");
    let (_double, info) = kms_double(&python, "gcp", &keys);
    let endpoint = info["endpoint"].as_str().expect("endpoint").to_owned();
    let adc = crate::common::google_adc(dir.path(), info["token_uri"].as_str().expect("token_uri"));
    let env = vec![
        ("GOOGLE_APPLICATION_CREDENTIALS", adc.display().to_string()),
        ("CHAINSEAL_KMS_ENDPOINT", endpoint.clone()),
    ];

    // Without a version the newest ENABLED one is used (ec256 has 1, 2 enabled and a
    // disabled 3).
    for (key, public) in [
        ("ec256", "ec256.pub"),
        ("ec256/cryptoKeyVersions/1", "ec256-v1.pub"),
        ("ec384", "ec384.pub"),
        ("rsa2048", "rsa2048.pub"),
        ("ed25519", "ed25519.pub"),
    ] {
        attest_and_verify_with(
            dir.path(),
            &python,
            &format!("{KEYS}/{key}"),
            &env,
            &keys.join(public),
            &key.replace('/', "-"),
        );
    }

    // What went over the wire: a token first, every KMS call authorised with it,
    // digests (not payloads) with their CRC32C for hashing keys, the message for
    // Ed25519.
    let requests = double_requests(&keys);
    assert_eq!(requests[0]["path"], "/token", "ADC refresh comes first");
    let signs: Vec<&serde_json::Value> = requests
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.contains(":asymmetricSign"))
        })
        .collect();
    assert_eq!(signs.len(), 5, "one sign call per attestation");
    for r in requests.iter().filter(|r| r["path"] != "/token") {
        assert_eq!(r["authorized"], true, "unauthorised call {r}");
    }
    for r in &signs {
        let path = r["path"].as_str().unwrap_or_default();
        let body = &r["body"];
        if path.contains("/ed25519/") {
            assert!(
                body["data"].is_string() && body["dataCrc32c"].is_string(),
                "{r}"
            );
        } else {
            assert!(
                body["data"].is_null(),
                "a hashing key must get a digest: {r}"
            );
            assert!(body["digestCrc32c"].is_string(), "{r}");
            let field = if path.contains("/ec384/") {
                "sha384"
            } else {
                "sha256"
            };
            assert!(body["digest"][field].is_string(), "{r}");
        }
    }
    assert!(
        signs.iter().any(|r| r["path"]
            .as_str()
            .is_some_and(|p| p.contains("/ec256/cryptoKeyVersions/2:"))),
        "the newest enabled version (2) signs by default"
    );

    errors(dir.path(), &env, &endpoint);
    pss_keys_are_refused_before_signing(dir.path(), &python, &info, &keys, &env);
}

/// chainseal does not sign with RSA_SIGN_PSS_* keys: it must say so when it reads the
/// key, before any sign call. The double itself signs a PSS key version with
/// RSASSA-PSS (salt = digest length), which python `cryptography` checks
/// (`kms_double_check.py`), so a later PSS signer is tested against the real scheme.
fn pss_keys_are_refused_before_signing(
    dir: &Path,
    python: &Path,
    info: &serde_json::Value,
    keys: &Path,
    env: &[(&str, String)],
) {
    let r = attest_example(dir, &format!("{KEYS}/pss"), &dir.join("errors"), env);
    assert_error(
        &r,
        "key algorithm RSA_SIGN_PSS_2048_SHA256 is not supported",
    );
    assert!(
        r.stderr.contains("RSA_SIGN_PKCS1_*"),
        "the refusal names what is supported: {}",
        r.stderr
    );
    let pss_signs = double_requests(keys)
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.contains("/cryptoKeys/pss/") && p.contains(":asymmetricSign"))
        })
        .count();
    assert_eq!(
        pss_signs, 0,
        "a PSS key must be refused before any sign call"
    );
    let info = info.to_string();
    let check = oracle(
        python,
        "kms_double_check.py",
        &["gcp", &info, &keys.display().to_string(), "pss", "rsa2048"],
    );
    assert_oracle_verified(&check, "the GCP double's RSA signatures");
}

fn errors(dir: &Path, env: &[(&str, String)], endpoint: &str) {
    let attest =
        |key: &str, env: &[(&str, String)]| attest_example(dir, key, &dir.join("errors"), env);
    assert_error(
        &attest(&format!("{KEYS}/missing"), env),
        "not found: check the project",
    );
    assert_error(
        &attest(&format!("{KEYS}/denied/cryptoKeyVersions/1"), env),
        "permission denied",
    );
    assert_error(
        &attest(&format!("{KEYS}/ec256/cryptoKeyVersions/3"), env),
        "is the key version enabled?",
    );
    assert_error(
        &attest("gcpkms://projects/p/keyRings/r", env),
        "expected `gcpkms://projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>",
    );
    // A refresh token the token endpoint refuses.
    let bad_adc = dir.join("bad-adc.json");
    std::fs::write(
        &bad_adc,
        serde_json::json!({
            "type": "authorized_user", "client_id": "c", "client_secret": "s",
            "refresh_token": "revoked", "token_uri": format!("{endpoint}/token"),
        })
        .to_string(),
    )
    .expect("write");
    let r = attest(
        &format!("{KEYS}/ec256/cryptoKeyVersions/1"),
        &[
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                bad_adc.display().to_string(),
            ),
            ("CHAINSEAL_KMS_ENDPOINT", endpoint.to_owned()),
        ],
    );
    assert_error(&r, "GOOGLE_APPLICATION_CREDENTIALS");
    assert!(!r.stderr.contains("not-a-secret") && !r.stderr.contains("revoked"));
    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    assert_error(
        &attest(
            &format!("{KEYS}/ec256/cryptoKeyVersions/1"),
            &[
                ("GOOGLE_APPLICATION_CREDENTIALS", env[0].1.clone()),
                ("CHAINSEAL_KMS_ENDPOINT", format!("http://{closed}")),
            ],
        ),
        "reachable",
    );
    assert!(
        !dir.join("errors").exists(),
        "failed runs must not write storage"
    );
}

/// cosign v3 verifies what Cloud KMS keys (the double's EC P-256, P-384, RSA 2048
/// PKCS#1 and Ed25519 versions) sign into `--storage oci`, with the public keys the
/// double publishes (`common::cosign::SignerScene::check`: `.att` and `.sig`, another
/// key and a flipped bit refused). P-384 keys sign over SHA-384
/// (`EC_SIGN_P384_SHA384`), which cosign checks only when told
/// (`--signature-digest-algorithm sha384`).
#[test]
fn cosign_v3_verifies_what_cloud_kms_keys_push() {
    use crate::common::cosign::{Signer, SignerScene};
    let Some(python) = tool("INTEROP_PYTHON", "Cloud KMS with cosign") else {
        return;
    };
    let Some(scene) = SignerScene::new("Cloud KMS with cosign") else {
        return;
    };
    let dir = scene.dir.path();
    let keys = dir.join("double");
    std::fs::create_dir(&keys).expect("mkdir");
    let (_double, info) = kms_double(&python, "gcp", &keys);
    let adc = crate::common::google_adc(dir, info["token_uri"].as_str().expect("token_uri"));
    let env = vec![
        ("GOOGLE_APPLICATION_CREDENTIALS", adc.display().to_string()),
        (
            "CHAINSEAL_KMS_ENDPOINT",
            info["endpoint"].as_str().expect("endpoint").to_owned(),
        ),
    ];
    let other = crate::common::repo("examples/demo.pub");
    for (key, flags) in [
        ("ec256", &[][..]),
        ("ec384", &["--signature-digest-algorithm=sha384"][..]),
        ("rsa2048", &[][..]),
        ("ed25519", &[][..]),
    ] {
        scene.check(
            &Signer {
                label: &format!("gcp-{key}"),
                key: &format!("{KEYS}/{key}"),
                env: &env,
                public: &keys.join(format!("{key}.pub")),
                cosign_flags: flags,
            },
            &other,
        );
    }
}
