//! Kyverno, the admission controller users put in front of their clusters, proves
//! chainseal's registry pushes: the Kyverno CLI (`KYVERNO_BIN`, `kubectl-kyverno`
//! built by scripts/peers) runs `kyverno apply <ClusterPolicy> --resource <Pod>`
//! with a `verifyImages` rule on a Pod that names an image by tag in the local
//! `docker-registry`, which chainseal signed and attested with `--storage oci`.
//!
//! Kyverno resolves the tag, reads the cosign `.sig`/`.att` tags with its own
//! go-containerregistry and sigstore/cosign code, checks the signature with the
//! policy's key (or, keyless, the Sigstore double's Fulcio root, Rekor key and CT log
//! key written into the policy) and evaluates the policy's conditions on the SLSA
//! predicate. Each check has a case Kyverno must refuse, asserted by its own words.
//!
//! Offline: HOME, DOCKER_CONFIG, KUBECONFIG, TUF_ROOT and the XDG directories point
//! into the test's temporary directory, no `--cluster` is given, and every key and
//! root is in the policy, so Kyverno never asks TUF or the public Sigstore for one
//! (the tests assert it never created `$TUF_ROOT`; docs/testing.md, "Peers").

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::common::registry::TestRegistry;
use crate::common::{self, chainseal, repo, run, tool};

/// The builder id chainseal writes for Tekton records (Chains' default).
const TEKTON_BUILDER: &str = "https://tekton.dev/chains/v2";
/// Chainseal's default SLSA v1 build type for Tekton records.
const TEKTON_BUILD_TYPE: &str = "https://tekton.dev/chains/v2/slsa";
const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

/// The example TaskRun record naming `host/repo_name@digest`, written to `dir`.
fn record(dir: &Path, host: &str, repo_name: &str, digest: &str) -> PathBuf {
    crate::common::cosign::taskrun_record(
        dir,
        &format!("{host}/{repo_name}@{digest}"),
        &format!("{}.taskrun.yaml", repo_name.replace('/', "-")),
    )
}

/// `chainseal attest --storage oci` of the record naming `host/repo_name@digest`,
/// with `env` (key, builder id, keyless settings) on top of the insecure registry.
fn attest(dir: &Path, reg: &TestRegistry, repo_name: &str, digest: &str, env: &[(&str, &str)]) {
    let mut cmd = chainseal(dir);
    cmd.env(
        "CHAINSEAL_RECORD",
        record(dir, &reg.host, repo_name, digest),
    )
    .env("CHAINSEAL_STORAGE", "oci")
    .env("CHAINSEAL_INSECURE_REGISTRIES", &reg.host);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "attest {repo_name}: {}{}", r.stdout, r.stderr);
}

/// One attestor entry of a `verifyImages` rule.
enum Attestor<'a> {
    /// `keys.publicKeys` (PEM), transparency log and SCT ignored: chainseal's keyed
    /// pushes log nothing by default.
    Keyed(&'a str),
    /// `keys.publicKeys` (PEM) and the Sigstore double's Rekor (URL and key): the
    /// layer's Rekor bundle is checked, the SCT ignored (a key has no certificate).
    KeyedLogged(&'a str, &'a Trust),
    /// `keyless`: `subject` and `issuer`, with the double's Fulcio root (`roots`),
    /// Rekor URL and key, and CT log key, so nothing is looked up in TUF; nothing
    /// ignored.
    Keyless(&'a str, &'a Trust),
}

impl Attestor<'_> {
    /// The `attestors` list (one set, one entry).
    fn json(&self) -> Value {
        let entry = match self {
            Attestor::Keyed(pem) => json!({"keys": {
                "publicKeys": pem,
                "rekor": {"ignoreTlog": true, "url": "https://rekor.invalid"},
                "ctlog": {"ignoreSCT": true},
            }}),
            Attestor::KeyedLogged(pem, trust) => json!({"keys": {
                "publicKeys": pem,
                "rekor": {"url": trust.url, "pubkey": trust.rekor_key},
                "ctlog": {"ignoreSCT": true},
            }}),
            Attestor::Keyless(subject, trust) => json!({"keyless": {
                "subject": subject,
                "issuer": ISSUER,
                "roots": trust.fulcio_root,
                "rekor": {"url": trust.url, "pubkey": trust.rekor_key},
                "ctlog": {"pubkey": trust.ctlog_key},
            }}),
        };
        json!([{"entries": [entry]}])
    }
}

/// What a policy's `verifyImages` rule checks.
enum Check<'a> {
    /// The image signature only (`attestors`, no `attestations`).
    Signature,
    /// An attestation of `predicate_type` whose predicate's `runDetails.builder.id`
    /// is `builder` and whose `buildDefinition.buildType` is chainseal's Tekton one.
    Provenance {
        predicate_type: &'a str,
        builder: &'a str,
    },
}

/// A ClusterPolicy named `name` with one `verifyImages` rule for the loopback
/// registry's images: Enforce, `required`, the digest mutated into the Pod and
/// verified, no cache; `bundle` reads Sigstore bundle referrers (`type:
/// SigstoreBundle`) instead of cosign's `.sig`/`.att` tags. Written as JSON (YAML's
/// subset) to `<name>.policy.yaml`: Kyverno skips a policy file named `.json`.
fn policy(
    dir: &Path,
    name: &str,
    attestor: &Attestor<'_>,
    check: &Check<'_>,
    bundle: bool,
) -> PathBuf {
    let mut verify = json!({
        "imageReferences": ["127.0.0.1:*"],
        "failureAction": "Enforce",
        "mutateDigest": true,
        "verifyDigest": true,
        "required": true,
        "useCache": false,
    });
    if bundle {
        verify["type"] = "SigstoreBundle".into();
    }
    match check {
        Check::Signature => verify["attestors"] = attestor.json(),
        Check::Provenance {
            predicate_type,
            builder,
        } => {
            verify["attestations"] = json!([{
                "type": predicate_type,
                "attestors": attestor.json(),
                "conditions": [{"all": [
                    {
                        "key": "{{ runDetails.builder.id }}",
                        "operator": "Equals",
                        "value": builder,
                        "message": format!("runDetails.builder.id is not {builder}"),
                    },
                    {
                        "key": "{{ buildDefinition.buildType }}",
                        "operator": "Equals",
                        "value": TEKTON_BUILD_TYPE,
                        "message": format!("buildDefinition.buildType is not {TEKTON_BUILD_TYPE}"),
                    },
                ]}],
            }]);
        }
    }
    let policy = json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": name},
        "spec": {
            "background": false,
            "rules": [{
                "name": name,
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "verifyImages": [verify],
            }],
        },
    });
    let path = dir.join(format!("{name}.policy.yaml"));
    std::fs::write(&path, serde_json::to_string_pretty(&policy).expect("JSON"))
        .expect("write policy");
    path
}

/// A Pod running `image` (by tag), written to `dir`.
fn pod(dir: &Path, name: &str, image: &str) -> PathBuf {
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": image}]},
    });
    let path = dir.join(format!("{name}.pod.yaml"));
    std::fs::write(&path, pod.to_string()).expect("write pod");
    path
}

/// The Kyverno CLI with nothing of the machine's: HOME, DOCKER_CONFIG, KUBECONFIG
/// (a file that does not exist), TUF_ROOT and the XDG directories in `home`; no
/// proxy, no PATH.
struct Kyverno {
    bin: PathBuf,
    home: PathBuf,
}

/// What `kyverno apply --policy-report --output-format json` said: its exit code and
/// each result of the report as `(result, message)`.
struct Verdict {
    code: i32,
    results: Vec<(String, String)>,
    said: String,
}

impl Kyverno {
    /// Assert that Kyverno never initialised TUF (it creates `$TUF_ROOT` first):
    /// every key and root came from the policy.
    fn assert_no_tuf(&self) {
        assert!(
            !self.home.join(".sigstore").exists(),
            "Kyverno went to the Sigstore TUF repository"
        );
    }

    fn new(bin: PathBuf, dir: &Path) -> Self {
        let home = dir.join("kyverno-home");
        std::fs::create_dir_all(&home).expect("kyverno home");
        Self { bin, home }
    }

    /// `kyverno apply <policy> --resource <resource> --registry`, its policy report
    /// as JSON on stdout.
    fn apply(&self, policy: &Path, resource: &Path) -> Verdict {
        let home = &self.home;
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("HOME", home)
            .env("DOCKER_CONFIG", home.join(".docker"))
            .env("KUBECONFIG", home.join("no-kubeconfig"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("TUF_ROOT", home.join(".sigstore"))
            .current_dir(home)
            .arg("apply")
            .arg(policy)
            .arg("--resource")
            .arg(resource)
            .args(["--registry", "--remove-color", "--policy-report"])
            .args(["--output-format", "json"]);
        let r = run(&mut cmd);
        let said = format!("{}{}", r.stdout, r.stderr);
        // Its deprecation warning for kyverno.io/v1 comes first, on stdout too.
        let report = r
            .stdout
            .lines()
            .find(|l| l.starts_with('{'))
            .unwrap_or_default();
        let report: Value = serde_json::from_str(report)
            .unwrap_or_else(|e| panic!("Kyverno printed no JSON report ({e}):\n{said}"));
        let results = report["results"]
            .as_array()
            .unwrap_or_else(|| panic!("a report without results:\n{said}"))
            .iter()
            .map(|x| {
                let field = |k: &str| x[k].as_str().unwrap_or_default().to_owned();
                (field("result"), field("message"))
            })
            .collect();
        Verdict {
            code: r.code,
            results,
            said,
        }
    }
}

impl Verdict {
    /// Assert that Kyverno passed the Pod (exit 0): the rule said `message` and the
    /// image check that follows it (the digest mutated and verified, `required`)
    /// said "image verified"; nothing else.
    fn assert_passes(&self, what: &str, message: &str) {
        let pass = |m: &str| ("pass".to_owned(), m.to_owned());
        let mut results = self.results.clone();
        results.sort();
        let mut expected = vec![pass(message), pass("image verified")];
        expected.sort();
        assert_eq!(self.code, 0, "{what}: Kyverno refused:\n{}", self.said);
        assert_eq!(results, expected, "{what}:\n{}", self.said);
    }

    /// Assert that Kyverno refused the Pod (exit 1): one failure's message ends with
    /// `reason` (Kyverno's last words, the cause), the other is the image check,
    /// "unverified image <image@digest>", and nothing passed.
    fn assert_fails(&self, what: &str, reason: &str, unverified: &str) {
        assert_eq!(
            self.code, 1,
            "{what}: Kyverno did not refuse:\n{}",
            self.said
        );
        assert_eq!(self.results.len(), 2, "{what}:\n{}", self.said);
        assert!(
            self.results.iter().all(|(result, _)| result == "fail"),
            "{what}:\n{}",
            self.said
        );
        let said = |m: &str| self.results.iter().any(|(_, message)| message.ends_with(m));
        assert!(
            said(reason),
            "{what}: Kyverno's reason is not {reason:?}:\n{}",
            self.said
        );
        let unverified = format!("unverified image {unverified}");
        assert!(
            said(&unverified),
            "{what}: no {unverified:?}:\n{}",
            self.said
        );
    }
}

/// A test's scene: scratch directory, registry, the Kyverno CLI.
struct Scene {
    dir: tempfile::TempDir,
    reg: TestRegistry,
    kyverno: Kyverno,
}

impl Scene {
    fn new(what: &str) -> Option<Self> {
        let kyverno = tool("KYVERNO_BIN", what)?;
        let registry = tool("REGISTRY_BIN", what)?;
        let dir = tempfile::tempdir().expect("tmp");
        let reg = TestRegistry::start(&registry, &dir.path().join("registry"), false);
        let kyverno = Kyverno::new(kyverno, dir.path());
        Some(Self { dir, reg, kyverno })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Push a fresh image as `repo_name:v1`.
    fn push(&self, repo_name: &str) -> Image {
        let digest = self
            .reg
            .push_image(repo_name, "v1", &repo_name.replace('/', "-"));
        Image {
            tagged: format!("{}/{repo_name}:v1", self.reg.host),
            pinned: format!("{}/{repo_name}@{digest}", self.reg.host),
            repo: repo_name.to_owned(),
            digest,
        }
    }

    /// `chainseal attest --storage oci` for `image`, with `env`.
    fn attest(&self, image: &Image, env: &[(&str, &str)]) {
        attest(self.path(), &self.reg, &image.repo, &image.digest, env);
    }

    /// `kyverno apply` of `policy` on a Pod running `image` by tag.
    fn apply(&self, policy: &Path, image: &Image) -> Verdict {
        let resource = pod(self.path(), &image.repo.replace('/', "-"), &image.tagged);
        self.kyverno.apply(policy, &resource)
    }
}

/// An image pushed to the test registry.
struct Image {
    /// `host/repo:v1`, what the Pod names.
    tagged: String,
    /// `host/repo@digest`, what Kyverno mutates the Pod to.
    pinned: String,
    repo: String,
    digest: String,
}

/// Replace the `.att` tag of `repo_name@digest` by one whose first envelope's
/// statement had `from` replaced by `to` after signing (the signature kept).
fn tamper_attestation(
    reg: &TestRegistry,
    repo_name: &str,
    digest: &str,
    dir: &Path,
    from: &str,
    to: &str,
) {
    let tag = format!("{}.att", digest.replace(':', "-"));
    let mut manifest = reg.inspect_raw(repo_name, &tag).expect(".att tag");
    let layer = &mut manifest["layers"][0];
    let envelope = reg.blob(repo_name, layer["digest"].as_str().expect("layer digest"));
    let mut envelope: Value = serde_json::from_slice(&envelope).expect("envelope JSON");
    let statement = STANDARD
        .decode(envelope["payload"].as_str().expect("payload"))
        .expect("base64");
    let statement = String::from_utf8(statement).expect("UTF-8 statement");
    assert!(statement.contains(from), "{from} not in {statement}");
    envelope["payload"] = STANDARD.encode(statement.replace(from, to)).into();
    let bytes = envelope.to_string().into_bytes();
    layer["size"] = bytes.len().into();
    layer["digest"] = reg.put_blob(repo_name, &bytes, dir).into();
    reg.put_manifest(repo_name, &tag, &manifest, dir);
}

/// The Sigstore double's trust material, as Kyverno's keyless attestor takes it.
#[derive(Clone)]
struct Trust {
    url: String,
    fulcio_root: String,
    rekor_key: String,
    ctlog_key: String,
}

impl Trust {
    /// Read from the double's `trusted_root.json` (DER, base64) as PEM.
    fn of(url: &str, dir: &Path) -> Self {
        let file = dir.join("trusted_root.json");
        common::download(&format!("{url}/trusted_root.json"), &file);
        let root: Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON");
        let pem = |tag: &str, b64: &Value| {
            let der = STANDARD.decode(b64.as_str().expect("base64")).expect("DER");
            pem::encode(&pem::Pem::new(tag, der))
        };
        Self {
            url: url.to_owned(),
            fulcio_root: pem(
                "CERTIFICATE",
                &root["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"],
            ),
            rekor_key: pem("PUBLIC KEY", &root["tlogs"][0]["publicKey"]["rawBytes"]),
            ctlog_key: pem("PUBLIC KEY", &root["ctlogs"][0]["publicKey"]["rawBytes"]),
        }
    }
}

/// The SLSA v1 provenance check the tests' policies make: built by Chains' builder
/// id (chainseal's default for Tekton records).
const PROVENANCE: Check<'static> = Check::Provenance {
    predicate_type: SLSA_V1,
    builder: TEKTON_BUILDER,
};

/// Keyed: `kyverno apply` passes the image signature policy and the SLSA v1
/// provenance policy (key attestor, conditions on `runDetails.builder.id` and the
/// build type) for an image chainseal signed and attested with the demo key, and
/// refuses, in its own words: another key, a statement edited after signing,
/// another builder id (a differently built image, honestly signed), a predicate type
/// chainseal did not attest, and an image nobody signed.
#[test]
fn kyverno_passes_keyed_pushes_and_refuses_the_rest() {
    let Some(scene) = Scene::new("Kyverno verifyImages") else {
        return;
    };
    let dir = scene.path();
    let demo = std::fs::read_to_string(repo("examples/demo.pub")).expect("demo.pub");
    let other =
        std::fs::read_to_string(repo("tests/fixtures/keys/cosign.pub")).expect("cosign.pub");
    let key = repo("examples/demo.key").display().to_string();
    let keyed = [("CHAINSEAL_KEY", key.as_str())];

    let ours = scene.push("team/hello-service");
    scene.attest(&ours, &keyed);
    let elsewhere = scene.push("team/built-elsewhere");
    scene.attest(
        &elsewhere,
        &[
            ("CHAINSEAL_KEY", key.as_str()),
            (
                "CHAINSEAL_BUILDER_ID",
                "https://ci.example.com/other-builder",
            ),
        ],
    );
    let edited = scene.push("team/edited");
    scene.attest(&edited, &keyed);
    tamper_attestation(
        &scene.reg,
        &edited.repo,
        &edited.digest,
        dir,
        TEKTON_BUILDER,
        "https://tekton.dev/chains/v3",
    );
    let unsigned = scene.push("team/unsigned");

    let demo_key = Attestor::Keyed(&demo);
    let signature = policy(dir, "signature", &demo_key, &Check::Signature, false);
    let provenance = policy(dir, "provenance", &demo_key, &PROVENANCE, false);

    let signed_message = format!("verified image signatures for {}", ours.tagged);
    scene
        .apply(&signature, &ours)
        .assert_passes("the image signature", &signed_message);
    let attested_message = format!("verified image attestations for {}", ours.tagged);
    scene
        .apply(&provenance, &ours)
        .assert_passes("the SLSA v1 provenance", &attested_message);

    let other_key = Attestor::Keyed(&other);
    let other_signature = policy(
        dir,
        "other-key-signature",
        &other_key,
        &Check::Signature,
        false,
    );
    scene.apply(&other_signature, &ours).assert_fails(
        "the image signature, another key",
        "no matching signatures: invalid signature when validating ASN.1 encoded signature",
        &ours.pinned,
    );
    let other_provenance = policy(dir, "other-key-provenance", &other_key, &PROVENANCE, false);
    scene.apply(&other_provenance, &ours).assert_fails(
        "the provenance, another key",
        "no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1",
        &ours.pinned,
    );

    scene.apply(&provenance, &edited).assert_fails(
        "a statement edited after signing",
        "no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1",
        &edited.pinned,
    );

    scene.apply(&provenance, &elsewhere).assert_fails(
        "another builder",
        &format!(
            "attestation checks failed for {} and predicate {SLSA_V1}: runDetails.builder.id is not {TEKTON_BUILDER}",
            elsewhere.tagged
        ),
        &elsewhere.pinned,
    );
    let elsewhere_signed = format!("verified image signatures for {}", elsewhere.tagged);
    scene
        .apply(&signature, &elsewhere)
        .assert_passes("another builder's honest signature", &elsewhere_signed);

    let v02 = Check::Provenance {
        predicate_type: "https://slsa.dev/provenance/v0.2",
        builder: TEKTON_BUILDER,
    };
    let v02 = policy(dir, "provenance-v02", &demo_key, &v02, false);
    scene.apply(&v02, &ours).assert_fails(
        "a predicate type not attested",
        "attestions not found for predicate type https://slsa.dev/provenance/v0.2",
        &ours.pinned,
    );

    scene.apply(&signature, &unsigned).assert_fails(
        "an unsigned image, signature",
        "no signatures found",
        &unsigned.pinned,
    );
    scene.apply(&provenance, &unsigned).assert_fails(
        "an unsigned image, provenance",
        "verifiedCount: 0, requiredCount: 1, error: no matching attestations: ",
        &unsigned.pinned,
    );
    scene.kyverno.assert_no_tuf();
}

/// Keyless: chainseal signs with a Fulcio certificate from the Sigstore double and
/// logs in its Rekor; Kyverno verifies with the double's root, Rekor key and CT log
/// key in the policy, nothing ignored, offline (the Rekor bundle of each layer),
/// and refuses another subject, another Rekor key and another CT log key. Keyed with
/// the log on (`CHAINSEAL_TRANSPARENCY=on`), Kyverno checks the Rekor bundle too.
#[test]
fn kyverno_passes_keyless_and_logged_pushes_against_the_sigstore_double() {
    let Some(scene) = Scene::new("Kyverno keyless verifyImages") else {
        return;
    };
    let Some((sigstore, url)) = common::sigstore_double("Kyverno keyless") else {
        return;
    };
    let dir = scene.path();
    let token = dir.join("oidc-token");
    std::fs::write(
        &token,
        common::identity_token(json!({"iss": ISSUER, "sub": IDENTITY, "aud": "sigstore"})),
    )
    .expect("token");
    let token = token.display().to_string();
    let ours = scene.push("team/hello-service");
    scene.attest(
        &ours,
        &[
            ("CHAINSEAL_KEY", "keyless"),
            ("CHAINSEAL_FULCIO_URL", url.as_str()),
            ("CHAINSEAL_REKOR_URL", url.as_str()),
            ("CHAINSEAL_IDENTITY_TOKEN_FILE", token.as_str()),
        ],
    );
    let trust = Trust::of(&url, dir);
    let keyless = Attestor::Keyless(IDENTITY, &trust);
    let signature = policy(dir, "keyless-signature", &keyless, &Check::Signature, false);
    let provenance = policy(dir, "keyless-provenance", &keyless, &PROVENANCE, false);
    let signed_message = format!("verified image signatures for {}", ours.tagged);
    let attested_message = format!("verified image attestations for {}", ours.tagged);
    scene
        .apply(&signature, &ours)
        .assert_passes("the keyless image signature", &signed_message);
    scene
        .apply(&provenance, &ours)
        .assert_passes("the keyless provenance", &attested_message);

    let mallory = "https://github.com/mallory/app/.github/workflows/release.yml@refs/heads/main";
    let other_subject = Attestor::Keyless(mallory, &trust);
    let p = policy(dir, "other-subject", &other_subject, &PROVENANCE, false);
    scene.apply(&p, &ours).assert_fails(
        "another subject",
        &format!("subject mismatch: expected {mallory}, received {IDENTITY}"),
        &ours.pinned,
    );
    let demo = std::fs::read_to_string(repo("examples/demo.pub")).expect("demo.pub");
    let other_log = Trust {
        rekor_key: demo.clone(),
        ..trust.clone()
    };
    let p = policy(
        dir,
        "other-rekor",
        &Attestor::Keyless(IDENTITY, &other_log),
        &PROVENANCE,
        false,
    );
    scene.apply(&p, &ours).assert_fails(
        "another Rekor key",
        "rekor log public key not found for payload",
        &ours.pinned,
    );
    let other_ct = Trust {
        ctlog_key: demo.clone(),
        ..trust.clone()
    };
    let p = policy(
        dir,
        "other-ctlog",
        &Attestor::Keyless(IDENTITY, &other_ct),
        &PROVENANCE,
        false,
    );
    scene.apply(&p, &ours).assert_fails(
        "another CT log key",
        "ctfe public key not found for payload. Check your TUF root (see cosign initialize) or set a custom key with env var SIGSTORE_CT_LOG_PUBLIC_KEY_FILE",
        &ours.pinned,
    );

    // Keyed, logged in the double's Rekor: the Rekor bundle is checked with its key.
    let logged = scene.push("team/logged");
    let key = repo("examples/demo.key").display().to_string();
    scene.attest(
        &logged,
        &[
            ("CHAINSEAL_KEY", key.as_str()),
            ("CHAINSEAL_TRANSPARENCY", "on"),
            ("CHAINSEAL_REKOR_URL", url.as_str()),
        ],
    );
    for (name, check, message) in [
        (
            "logged-signature",
            Check::Signature,
            "verified image signatures for",
        ),
        (
            "logged-provenance",
            PROVENANCE,
            "verified image attestations for",
        ),
    ] {
        let p = policy(
            dir,
            name,
            &Attestor::KeyedLogged(&demo, &trust),
            &check,
            false,
        );
        scene
            .apply(&p, &logged)
            .assert_passes(name, &format!("{message} {}", logged.tagged));
        let p = policy(
            dir,
            &format!("{name}-other-rekor"),
            &Attestor::KeyedLogged(&demo, &other_log),
            &check,
            false,
        );
        scene.apply(&p, &logged).assert_fails(
            &format!("{name}, another Rekor key"),
            "rekor log public key not found for payload",
            &logged.pinned,
        );
    }
    // Offline: the Rekor bundles in the layers are all Kyverno needs.
    drop(sigstore);
    scene
        .apply(&provenance, &ours)
        .assert_passes("keyless, the double stopped", &attested_message);
    scene.kyverno.assert_no_tuf();
}

/// `CHAINSEAL_OCI_ENCODING=sigstore-bundle`: Kyverno's `type: SigstoreBundle` rule
/// reads the Sigstore bundles chainseal pushes as OCI 1.1 referrers (through the
/// tag-schema index: this registry has no referrers API) and verifies them with the
/// key, tlog and SCT ignored; another key is refused. (Keyless bundles are checked
/// against the public Sigstore TUF root only: docs/testing.md.)
#[test]
fn kyverno_reads_sigstore_bundle_referrers() {
    let Some(scene) = Scene::new("Kyverno SigstoreBundle") else {
        return;
    };
    let dir = scene.path();
    let key = repo("examples/demo.key").display().to_string();
    let ours = scene.push("team/hello-service");
    scene.attest(
        &ours,
        &[
            ("CHAINSEAL_KEY", key.as_str()),
            ("CHAINSEAL_OCI_ENCODING", "sigstore-bundle"),
        ],
    );
    let demo = std::fs::read_to_string(repo("examples/demo.pub")).expect("demo.pub");
    let other =
        std::fs::read_to_string(repo("tests/fixtures/keys/cosign.pub")).expect("cosign.pub");
    for (name, check, message) in [
        (
            "bundle-signature",
            Check::Signature,
            "verified image signatures for",
        ),
        (
            "bundle-provenance",
            PROVENANCE,
            "verified image attestations for",
        ),
    ] {
        let p = policy(dir, name, &Attestor::Keyed(&demo), &check, true);
        let v = scene.apply(&p, &ours);
        // The attestation rule names the image by the digest the bundle gave it.
        let image = if name == "bundle-provenance" {
            &ours.pinned
        } else {
            &ours.tagged
        };
        v.assert_passes(name, &format!("{message} {image}"));
        let p = policy(
            dir,
            &format!("{name}-other-key"),
            &Attestor::Keyed(&other),
            &check,
            true,
        );
        let v = scene.apply(&p, &ours);
        v.assert_fails(
            &format!("{name}, another key"),
            "sigstore bundle verification failed: no matching signatures found",
            &ours.pinned,
        );
    }
    scene.kyverno.assert_no_tuf();
}
