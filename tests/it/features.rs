//! The fallback branches of a build without the optional providers
//! (`cargo test --no-default-features --test it -- features::`, which scripts/test runs): a
//! KMS key or a storage whose cargo feature is off fails with one error line naming
//! the feature to build with, and nothing is stored. In the default build every
//! provider is present and each test here is compiled out (their real branches are
//! tested in `tests/it/kms_*.rs` and `tests/it/storage.rs`).

#[allow(unused_imports)]
use crate::common;

use std::path::Path;

#[allow(unused_imports)]
use crate::common::{Run, assert_error, chainseal, repo, run};

/// `chainseal public-key --key KEY` in `dir`.
#[allow(dead_code)]
fn public_key(dir: &Path, key: &str) -> Run {
    run(chainseal(dir).args(["public-key", "--key", key]))
}

/// Assert that `key` is refused as a KMS provider this build lacks (`feature`).
#[allow(dead_code)]
fn assert_kms_not_built(key: &str, scheme: &str, feature: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let r = public_key(dir.path(), key);
    assert_error(
        &r,
        &format!(
            "`{scheme}://` keys are not supported by this build: rebuild with `cargo build --features {feature}`"
        ),
    );
}

/// Attest the example record into `storage` (plus `env`) and assert one error line
/// with `needle`, and that nothing was stored locally.
#[allow(dead_code)]
fn assert_storage_not_built(storage: &str, env: &[(&str, &str)], needle: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut cmd = chainseal(dir.path());
    cmd.env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", repo("examples/demo.key"))
        .env("CHAINSEAL_STORAGE", storage)
        .envs(env.iter().copied());
    let r = run(&mut cmd);
    assert_error(&r, needle);
    assert!(
        !dir.path().join("attestations").exists(),
        "{storage}: something was stored"
    );
}

#[cfg(not(feature = "vault"))]
#[test]
fn vault_keys_need_the_vault_feature() {
    assert_kms_not_built("hashivault://release", "hashivault", "vault");
}

#[cfg(not(feature = "aws"))]
#[test]
fn aws_kms_keys_need_the_aws_feature() {
    assert_kms_not_built(
        "awskms:///arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "awskms",
        "aws",
    );
}

#[cfg(not(feature = "gcp"))]
#[test]
fn gcp_kms_keys_need_the_gcp_feature() {
    assert_kms_not_built(
        "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
        "gcpkms",
        "gcp",
    );
}

#[cfg(not(feature = "azure"))]
#[test]
fn azure_keys_need_the_azure_feature() {
    assert_kms_not_built(
        "azurekms://chainseal.vault.azure.net/release",
        "azurekms",
        "azure",
    );
}

#[cfg(not(feature = "aws"))]
#[test]
fn s3_and_dynamodb_storage_need_the_aws_feature() {
    assert_storage_not_built(
        "s3://attestations/ci",
        &[],
        "`s3://attestations/ci`: this build has no S3 storage; rebuild with `--features aws`",
    );
    assert_storage_not_built(
        "dynamodb://attestations",
        &[],
        "`dynamodb://attestations`: this build has no DynamoDB storage; rebuild with `--features aws`",
    );
}

#[cfg(not(feature = "gcp"))]
#[test]
fn gcs_storage_and_google_credentials_need_the_gcp_feature() {
    assert_storage_not_built(
        "gs://attestations/ci",
        &[],
        "`gs://attestations/ci`: this build has no GCS storage; rebuild with `--features gcp`",
    );
    assert_storage_not_built(
        "grafeas://projects/release",
        &[],
        "this build has no Google credentials: rebuild with `--features gcp`",
    );
}

#[cfg(not(feature = "mongodb"))]
#[test]
fn mongodb_storage_needs_the_mongodb_feature() {
    assert_storage_not_built(
        "mongodb://127.0.0.1:1/chains/attestations",
        &[],
        "this build has no MongoDB storage; rebuild with `--features mongodb`",
    );
}

/// A cloud registry's keychain this build lacks: the registry is tried anonymously and
/// the warning names the feature (here the push then finds no registry: the proxy it
/// is sent through is closed).
#[cfg(not(all(feature = "aws", feature = "gcp", feature = "azure")))]
#[test]
fn cloud_keychains_need_their_features() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    for (host, feature, keychain) in [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "aws", "ECR"),
        ("europe-docker.pkg.dev", "gcp", "Google"),
        ("team.azurecr.io", "azure", "ACR"),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let record = common::cosign::taskrun_record(
            dir.path(),
            &format!("{host}/team/app@{}", common::EXAMPLE_DIGEST),
            "taskrun.yaml",
        );
        let r = run(chainseal(dir.path())
            .env("CHAINSEAL_RECORD", &record)
            .env("CHAINSEAL_KEY", repo("examples/demo.key"))
            .env("CHAINSEAL_STORAGE", "oci")
            .env("CHAINSEAL_INSECURE_REGISTRIES", host)
            .env("HTTP_PROXY", format!("http://127.0.0.1:{closed}")));
        assert_ne!(r.code, 0, "{host}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "this build has no {keychain} keychain (the `{feature}` feature)"
            )),
            "{host}: {}",
            r.stderr
        );
    }
}
