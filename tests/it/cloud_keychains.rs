//! The registries' cloud keychains (`src/oci/cloud_keychains.rs`): ECR, Google and ACR
//! credentials from the process's cloud identity, as k8schain and cosign find them.
//!
//! One real registry (distribution, htpasswd with the three clouds' users) stands
//! behind `tests/doubles/cloud_registry.py`, a double that chainseal reaches as its
//! `HTTP_PROXY`: every cloud registry host goes to the real registry, and the double
//! logs which host got which user. ECR's `GetAuthorizationToken` is answered by moto
//! (its token is `AWS:<account>-auth-token`); Google's OAuth2 refresh, Azure App
//! Service's managed identity and ACR's `/oauth2/exchange` by the double.
//!
//! Needs `REGISTRY_BIN`, `INTEROP_PYTHON` and `MOTO_SERVER`, and skopeo and htpasswd
//! (scripts/test provides them); skipped outside CI, with a message, when unset.
#![cfg(all(feature = "aws", feature = "gcp", feature = "azure"))]

use serde_json::Value;

use crate::common::registry::TestRegistry;
use crate::common::{self, Run, Service, assert_error, chainseal, repo, run, tool};

const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const GOOGLE: &str = "europe-docker.pkg.dev";
const ACR: &str = "chainsealtest.azurecr.io";
/// moto's account and the password its `GetAuthorizationToken` gives.
const ECR_PASSWORD: &str = "123456789012-auth-token";
const GOOGLE_TOKEN: &str = "ya29.double-access-token";
const ACR_REFRESH: &str = "acr-double-refresh-token";
const ACR_USER: &str = "00000000-0000-0000-0000-000000000000";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

struct Scene {
    dir: tempfile::TempDir,
    reg: TestRegistry,
    env: Vec<(&'static str, String)>,
    log: std::path::PathBuf,
    _services: Vec<Service>,
}

impl Scene {
    fn new(what: &str) -> Option<Self> {
        let bin = tool("REGISTRY_BIN", what)?;
        let python = tool("INTEROP_PYTHON", what)?;
        let dir = tempfile::tempdir().expect("tmp");
        let (moto, moto_url) = common::moto(dir.path(), what)?;
        let reg = TestRegistry::start_with_users(
            &bin,
            &dir.path().join("registry"),
            true,
            &[
                ("AWS", ECR_PASSWORD),
                ("oauth2accesstoken", GOOGLE_TOKEN),
                (ACR_USER, ACR_REFRESH),
            ],
        );
        let log = dir.path().join("cloud.jsonl");
        let (double, url) = common::http_double(
            &python,
            "cloud_registry.py",
            &[
                &reg.host,
                &log.display().to_string(),
                "--google-token",
                GOOGLE_TOKEN,
                "--acr-refresh",
                ACR_REFRESH,
                "--google-bad-first",
            ],
        );
        let adc = common::google_adc(dir.path(), &format!("{url}/token"));
        let env = vec![
            ("HOME", dir.path().display().to_string()),
            ("HTTP_PROXY", url.clone()),
            ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
            (
                "CHAINSEAL_INSECURE_REGISTRIES",
                format!("{ECR},{GOOGLE},{ACR}"),
            ),
            // ECR: moto, with any static credentials.
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL_ECR", moto_url),
            // Google: Application Default Credentials refreshed at the double.
            ("GOOGLE_APPLICATION_CREDENTIALS", adc.display().to_string()),
            // Azure: App Service managed identity at the double.
            ("IDENTITY_ENDPOINT", format!("{url}/msi/token")),
            ("IDENTITY_HEADER", "double-identity-secret".to_owned()),
        ];
        Some(Self {
            dir,
            reg,
            env,
            log,
            _services: vec![moto, double],
        })
    }

    /// Push a test image to `repository` of the real registry; its name under `host`.
    fn image(&self, host: &str, repository: &str) -> String {
        let digest = self
            .reg
            .push_image(repository, "v1", &repository.replace('/', "-"));
        format!("{host}/{repository}@{digest}")
    }

    fn attest(&self, image: &str, name: &str, extra: &[(&str, &str)]) -> Run {
        let record = common::cosign::taskrun_record(self.dir.path(), image, name);
        let mut cmd = chainseal(self.dir.path());
        cmd.env("CHAINSEAL_RECORD", &record)
            .env("CHAINSEAL_KEY", repo("examples/demo.key"))
            .env("CHAINSEAL_STORAGE", "oci")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        // An empty value unsets the variable.
        for (k, v) in extra {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        run(&mut cmd)
    }

    fn logged(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line"))
            .collect()
    }

    /// The basic-auth users the registry saw for `host`.
    fn users_for(&self, host: &str) -> Vec<String> {
        let mut users: Vec<String> = self
            .logged()
            .iter()
            .filter(|e| e["kind"] == "registry" && e["host"] == host)
            .filter_map(|e| e["user"].as_str().map(str::to_owned))
            .collect();
        users.sort();
        users.dedup();
        users
    }
}

fn hex_of(image: &str) -> String {
    image.rsplit_once("@sha256:").expect("digest").1.to_owned()
}

#[test]
fn cloud_registries_get_the_credentials_of_their_cloud_identity() {
    let Some(scene) = Scene::new("registry cloud keychains test") else {
        return;
    };
    let cases = [
        (ECR, "team/app-ecr", "AWS"),
        (GOOGLE, "project/repo/app-google", "oauth2accesstoken"),
        (ACR, "team/app-acr", ACR_USER),
    ];
    for (host, repository, user) in cases {
        let image = scene.image(host, repository);
        let r = scene.attest(&image, &format!("{repository}.yaml").replace('/', "-"), &[]);
        assert_eq!(r.code, 0, "attest {image}: {}", r.stderr);
        let hex = hex_of(&image);
        for suffix in ["sig", "att"] {
            assert!(
                scene
                    .reg
                    .inspect_raw(repository, &format!("sha256-{hex}.{suffix}"))
                    .is_some(),
                "the .{suffix} of {image} is in the registry"
            );
        }
        // Only the host's own cloud credentials went to it: never another cloud's.
        assert_eq!(scene.users_for(host), [user], "users sent to {host}");
        // Read back through the keychain too.
        let mut verify = chainseal(scene.dir.path());
        verify
            .args(["verify", "--key"])
            .arg(repo("examples/demo.pub"))
            .args(["--image", &image])
            .envs(scene.env.iter().map(|(k, v)| (k, v)));
        let v = run(&mut verify);
        assert_eq!(v.code, 0, "verify {image}: {} {}", v.stdout, v.stderr);
        for secret in [ECR_PASSWORD, GOOGLE_TOKEN, ACR_REFRESH] {
            assert!(
                !r.stderr.contains(secret) && !r.stdout.contains(secret),
                "a registry credential was printed"
            );
        }
    }
    let logged = scene.logged();
    // Google's first token was refused (`--google-bad-first`): chainseal asked for a new
    // one at once and the push went through with it.
    let google_tokens = logged
        .iter()
        .filter(|e| e["kind"] == "google-token")
        .count();
    assert!(
        google_tokens >= 2,
        "a refused Google token is replaced: {google_tokens} asked"
    );
    assert!(
        logged.iter().any(|e| e["kind"] == "registry"
            && e["host"] == GOOGLE
            && e["status"] == 401
            && e["user"] == "oauth2accesstoken"),
        "the revoked Google token was offered once and refused"
    );
    // ACR: an Entra ID token for ACR's audience, exchanged with its tenant.
    let identity: Vec<&Value> = logged
        .iter()
        .filter(|e| e["kind"] == "azure-identity")
        .collect();
    assert!(!identity.is_empty(), "the managed identity was asked");
    assert!(
        identity
            .iter()
            .all(|e| e["resource"] == "https://containerregistry.azure.net"),
        "{identity:?}"
    );
    let exchanges: Vec<&Value> = logged.iter().filter(|e| e["kind"] == "exchange").collect();
    assert!(!exchanges.is_empty(), "the ACR token exchange happened");
    for e in exchanges {
        assert_eq!(e["grant_type"], "access_token");
        assert_eq!(e["service"], ACR);
        assert_eq!(e["tenant"], TENANT);
        assert_eq!(
            e["issued_token"], true,
            "the identity's own token was exchanged"
        );
    }
}

#[test]
fn a_keychain_turned_off_or_finding_no_identity_says_so_and_pushes_nothing() {
    let Some(scene) = Scene::new("registry cloud keychains refusals test") else {
        return;
    };
    let image = scene.image(ECR, "team/refused");
    let hex = hex_of(&image);
    // Turned off: anonymous, refused; the message does not name the keychain.
    let r = scene.attest(
        &image,
        "off.yaml",
        &[("CHAINSEAL_REGISTRY_KEYCHAINS", "google,acr")],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert_error(&r, ECR);
    assert!(!r.stderr.contains("ECR keychain"), "{}", r.stderr);
    // On, but no AWS identity at all: the error says which keychain found nothing.
    let r = scene.attest(
        &image,
        "no-identity.yaml",
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert_error(&r, "the ECR keychain (AWS credentials) gave none");
    assert!(
        scene
            .reg
            .inspect_raw("team/refused", &format!("sha256-{hex}.sig"))
            .is_none(),
        "nothing was pushed"
    );
    // A keychain the setting does not know stops the run before anything is signed.
    let r = scene.attest(
        &image,
        "bad-setting.yaml",
        &[("CHAINSEAL_REGISTRY_KEYCHAINS", "ecr,quay")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_error(&r, "`CHAINSEAL_REGISTRY_KEYCHAINS` names `quay`");
}
