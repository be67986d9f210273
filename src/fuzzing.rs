//! Entry points for the fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/it/fuzz_corpus.rs`): one function per target, each feeding arbitrary bytes to
//! the real parsing code the way chainseal reads that input, and ignoring the result.
//! A panic (or a sanitizer report) is the only failure. Not part of the public API.
//!
//! See `docs/fuzzing.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::envelope::Envelope;
use crate::provenance::{BuildType, Format, Options};
use crate::record::tekton::hints::{self, Finding, SubjectRules};
use crate::record::tekton::model::RunResult;
use crate::secret::{SecretBytes, SecretString};
use crate::signing::key::KeyFileSigner;
use crate::verify::Verifier;
use crate::verify::keyless::{Identity, TrustedRoot};

/// The password given to cosign-encrypted keys (the test fixtures' password).
const KEY_PASSWORD: &[u8] = b"p";
/// The issuer OIDC tokens are checked against: a URL scheme no HTTP client sends
/// to, so a token that passes the claim checks fails at discovery with no network.
const OIDC_ISSUER: &str = "chainseal-fuzz:";
/// The audience OIDC tokens are checked against.
const OIDC_AUDIENCE: &str = "sigstore";
/// "Now" for expiry checks (2025-01-01T00:00:00Z): fixed, so runs reproduce.
const NOW: i64 = 1_735_689_600;
/// A fixed signing key, so verified envelopes reach the payload checks.
const SIGNING_KEY: &[u8] = include_bytes!("../tests/fixtures/keys/ed25519.pem");
/// Its public key.
const VERIFY_KEY: &[u8] = include_bytes!("../tests/fixtures/keys/ed25519.pub");

/// A file under the temp directory, unique to this process, holding `data` for
/// parsers that read files (`attest --record`, `verify FILE`); removed on drop, so
/// a fuzzing run leaves nothing behind.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn scratch(name: &str, data: &[u8]) -> Option<Scratch> {
    let path = std::env::temp_dir().join(format!("chainseal-fuzz-{}-{name}", std::process::id()));
    let file = Scratch(path);
    std::fs::write(&file.0, data).ok()?;
    Some(file)
}

/// One single-threaded runtime for the async entry points.
fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()
    })
    .as_ref()
}

fn signer() -> Option<&'static KeyFileSigner> {
    static SIGNER: OnceLock<Option<KeyFileSigner>> = OnceLock::new();
    SIGNER
        .get_or_init(|| KeyFileSigner::from_pem(Path::new("ed25519.pem"), SIGNING_KEY, None).ok())
        .as_ref()
}

fn verifier() -> Option<&'static Verifier> {
    static VERIFIER: OnceLock<Option<Verifier>> = OnceLock::new();
    VERIFIER
        .get_or_init(|| {
            let file = scratch("verify.pub", VERIFY_KEY)?;
            Verifier::from_pem_file(&file.0).ok()
        })
        .as_ref()
}

/// Record loading as `attest --record FILE` does it (JSON or YAML Tekton records),
/// then provenance in every format; and the same bytes as a CI environment
/// (`NAME=value` lines) read as a GitHub Actions and a GitLab CI record.
pub fn record(data: &[u8]) {
    if let Some(file) = scratch("record", data)
        && let Ok(record) = crate::record::tekton::load(std::slice::from_ref(&file.0))
    {
        for format in [
            Format::SlsaV1,
            Format::V2Alpha4,
            Format::V2Alpha3,
            Format::SlsaV02,
        ] {
            for (build_type, deep) in [(BuildType::Slsa, false), (BuildType::SlsaTekton, true)] {
                let options = Options {
                    format,
                    build_type,
                    deep_inspection: deep,
                    ..Options::new("https://fuzz.example/builder")
                };
                let _ = crate::provenance::generate(&record, &options);
            }
        }
    }
    ci_env(data);
}

fn ci_env(data: &[u8]) {
    use crate::record::ci::{Environment, GithubRun, GitlabJob};
    let text = String::from_utf8_lossy(data);
    let vars = text.lines().filter_map(|l| {
        l.split_once('=')
            .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
    });
    let env = Environment::capture(vars);
    let _ = env.detect();
    let _ = GithubRun::read(&env, None);
    let _ = GitlabJob::read(&env);
}

/// Tekton result type hints: a JSON list of results (`[{"name": …, "value": …}]`,
/// as in a run's `status.results`) through every hint rule.
pub fn hints(data: &[u8]) {
    let Ok(results) = serde_json::from_slice::<Vec<RunResult>>(data) else {
        return;
    };
    let mut findings: Vec<Finding> = Vec::new();
    for rules in [SubjectRules::BuildArtifacts, SubjectRules::Legacy] {
        let mut out = Vec::new();
        hints::subjects(&results, "fuzz", rules, &mut out, &mut findings);
        for d in &out {
            let _ = hints::describe(d);
        }
    }
    let _ = hints::images(&results, "fuzz", &mut findings);
    let mut inputs = Vec::new();
    hints::artifact_inputs(&results, "fuzz", "task", &mut inputs, &mut findings);
    for r in &results {
        let _ = hints::build_artifact(r);
        let _ = hints::is_image_hint(&r.name);
    }
    let git = hints::GitSource::from_run(&[], &Value::Null, &results);
    let _ = git.material("source");
}

/// Key parsing as `--key FILE` does it: every PEM form, cosign-encrypted keys with
/// the password `p`.
pub fn key(data: &[u8]) {
    let password = SecretBytes::new(KEY_PASSWORD.to_vec());
    let _ = KeyFileSigner::from_pem(Path::new("fuzz.key"), data, Some(&password));
}

/// DSSE envelopes as `verify --key K FILE` reads them (one envelope or JSON Lines),
/// the same payload signed so the Statement checks run, and Sigstore bundles as
/// keyless `verify` reads them (against a trust root made from the bundle's own
/// certificate, so the checks after the chain are reached).
pub fn envelope(data: &[u8]) {
    if let Some(verifier) = verifier() {
        if let Some(file) = scratch("envelope", data) {
            let _ = verifier.verify_file(&file.0);
        }
        if let Ok(env) = serde_json::from_slice::<Envelope>(data)
            && let (Some(signer), Some(rt)) = (signer(), runtime())
            && let Ok(signed) = rt.block_on(Envelope::sign(&env.payload_type, env.payload, signer))
        {
            let _ = verifier.verify(&signed);
        }
    }
    bundle(data);
}

fn bundle(data: &[u8]) {
    let _ = crate::envelope::bundle::envelope(data);
    let _ = TrustedRoot::from_json(data);
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let material = &value["verificationMaterial"];
    let cert = if material["certificate"].is_object() {
        material["certificate"]["rawBytes"].clone()
    } else {
        material["x509CertificateChain"]["certificates"][0]["rawBytes"].clone()
    };
    let log = material["tlogEntries"][0]["logId"]["keyId"].clone();
    let root = json!({
        "certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": cert}]}}],
        "tlogs": [{"logId": {"keyId": log}, "publicKey": {"rawBytes": cert}}],
        "ctlogs": [{"logId": {"keyId": log}, "publicKey": {"rawBytes": cert}}],
    });
    let Ok(root) = TrustedRoot::from_json(root.to_string().as_bytes()) else {
        return;
    };
    let identity = Identity {
        identity: "fuzz@example.com".into(),
        issuer: "https://fuzz.example".into(),
    };
    let _ = crate::verify::keyless::verify_bundle(data, &root, &identity);
}

/// OCI manifests and indexes as chainseal reads them from registries
/// (`oci::manifest`: image manifests, indexes, cosign config blobs, the declared media
/// type), the layers of a cosign `.att` manifest with their annotations (certificate,
/// Rekor bundle) turned into a Sigstore bundle as `verify --image` does, the
/// `oci-client` index the referrers API is decoded into, and image references.
pub fn oci(data: &[u8]) {
    use crate::oci::manifest::{self, CosignConfig, ImageIndex, ImageManifest};
    let _ = manifest::declared_media_type(data);
    if let Ok(index) = ImageIndex::parse(data) {
        let _ = ImageIndex::parse(&index.to_bytes());
    }
    if let Ok(config) = CosignConfig::parse(data) {
        let _ = CosignConfig::parse(&config.to_bytes());
    }
    let _ = serde_json::from_slice::<oci_client::manifest::OciImageIndex>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines().take(8) {
            let _ = crate::oci::parse_reference(line);
            let _ = crate::reference::DigestReference::parse(line);
            let _ = manifest::is_sha256_digest(line);
        }
    }
    let Ok(parsed) = ImageManifest::parse(data) else {
        return;
    };
    let _ = ImageManifest::parse(&parsed.to_bytes());
    // The blob is fetched by digest; here the manifest's own `layers` objects stand in
    // for the envelopes, so the annotations and the blob vary together.
    let blobs: Vec<String> = serde_json::from_slice::<Value>(data)
        .ok()
        .and_then(|v| v.get("layers").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .map(Value::to_string)
        .collect();
    for (i, layer) in parsed.layers.iter().take(8).enumerate() {
        let blob = blobs.get(i).map(String::as_bytes).unwrap_or_default();
        if let Ok(bundle) =
            crate::verify::keyless::bundle_from_cosign_layer(blob, &layer.annotations)
        {
            let _ = crate::envelope::bundle::envelope(&bundle);
        }
    }
}

/// `chains-config` parsing as the controller does it: a ConfigMap (YAML or JSON)
/// whose `data` is handed to the parser (a bare string map is taken as the data).
pub fn chains_config(data: &[u8]) {
    #[derive(serde::Deserialize)]
    struct ConfigMap {
        data: BTreeMap<String, String>,
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let map = serde_saphyr::from_str::<ConfigMap>(text)
        .map(|c| c.data)
        .or_else(|_| serde_saphyr::from_str::<BTreeMap<String, String>>(text));
    if let Ok(map) = map {
        let _ = crate::controller::chains_config::ChainsConfig::parse(&map);
    }
}

/// OIDC ID tokens: the keyless identity token's claims, and the verification of CI
/// tokens up to the point where the issuer's keys would be fetched.
pub fn oidc(data: &[u8]) {
    let token = String::from_utf8_lossy(data).into_owned();
    let _ = crate::signing::keyless::token::IdentityToken::parse(
        SecretString::new(token.clone()),
        "fuzz".into(),
        NOW,
    );
    if let Some(rt) = runtime() {
        let token = SecretString::new(token);
        let _ = rt.block_on(crate::oidc::verify(&token, OIDC_ISSUER, OIDC_AUDIENCE, NOW));
    }
}

/// What Sigstore services answer and what their trust files say, as chainseal reads
/// them: an RFC 3161 `TimeStampResp` (the TSA client's checks, and verification
/// against a timestamp authority whose certificate is the response's own first
/// embedded one), a Rekor v2 `TransparencyLogEntry`, and a SigningConfig v0.2 with
/// its selection.
pub fn sigstore(data: &[u8]) {
    use crate::transparency::{SigningConfig, rekor_v2, rfc3161};
    if let Ok(token) = rfc3161::read_response(data) {
        let certs: Vec<Vec<u8>> = token
            .signed_data
            .certificates
            .iter()
            .flat_map(|set| set.0.iter())
            .filter_map(|c| der::Encode::to_der(c).ok())
            .collect();
        let authority = crate::verify::timestamp::Authority {
            certs,
            window: crate::valid_for::Window::default(),
        };
        let signature = token.tst_info.message_imprint.hashed_message.as_bytes();
        let _ = crate::verify::timestamp::verify(data, signature, &[authority]);
    }
    let _ = rfc3161::read_token(data);
    let _ = rekor_v2::parse_entry("http://rekor.fuzz", data);
    if let Ok(config) = SigningConfig::from_json(data) {
        let _ = config.select(NOW);
    }
}

/// A fuzz target: parse the input, ignore the result.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus replay test.
pub const TARGETS: &[(&str, Target)] = &[
    ("record", record),
    ("hints", hints),
    ("key", key),
    ("envelope", envelope),
    ("oci", oci),
    ("chains_config", chains_config),
    ("oidc", oidc),
    ("sigstore", sigstore),
];
