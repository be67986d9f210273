//! Tekton Chains' `chains-config` ConfigMap, key by key with Chains' defaults and
//! validation rules (pkg/config/config.go): a value outside a key's allowed list makes
//! the whole ConfigMap invalid; storage keys are comma-separated sets (`""` disables
//! the artifact type); an unparsable boolean keeps the default.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::provenance::{BuildType, Format};
use crate::secret::SecretString;
use crate::storage::settings::OciEncoding;

/// An invalid ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("chains-config `{key}` is `{value}`: {allowed}")]
pub struct Error {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

/// A storage backend Chains names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Backend {
    /// Annotations on the run.
    Tekton,
    /// OCI registry.
    Oci,
    /// GCS bucket `storage.gcs.bucket`.
    Gcs,
    /// Archivista at `storage.archivista.url`.
    Archivista,
    /// A document database at `storage.docdb.url`.
    DocDb,
    /// Grafeas project `storage.grafeas.projectid`.
    Grafeas,
    /// Accepted by Chains, not (yet) by chainseal: refused when a run needs it.
    Unsupported(&'static str),
}

/// Which key signs an artifact type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignerKind {
    /// The `signing-secrets` Secret (`x509.pem` or `cosign.key`).
    X509,
    /// `signers.kms.kmsref`.
    Kms,
}

/// One artifact type's settings; `None` when it is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Payload format.
    pub format: Format,
    /// Where its signed payloads go.
    pub storage: Vec<Backend>,
    /// The signer.
    pub signer: SignerKind,
}

/// The parsed ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainsConfig {
    /// TaskRun attestations.
    pub taskrun: Option<Artifact>,
    /// PipelineRun attestations.
    pub pipelinerun: Option<Artifact>,
    /// Image signatures (simple signing).
    pub oci: Option<Artifact>,
    /// `artifacts.pipelinerun.enable-deep-inspection`.
    pub deep_inspection: bool,
    /// `storage.oci.repository`.
    pub oci_repository: Option<String>,
    /// `storage.oci.repository.insecure`: every registry (the run's images and the
    /// storage repository) without TLS verification, or over plain HTTP.
    pub oci_insecure: bool,
    /// `storage.oci.encoding-format`.
    pub oci_encoding: OciEncoding,
    /// `signers.kms.kmsref`.
    pub kms_ref: Option<String>,
    /// `storage.gcs.bucket`.
    pub gcs_bucket: Option<String>,
    /// `storage.archivista.url`.
    pub archivista_url: Option<String>,
    /// `storage.docdb.url` (a `mongodb://` URL may hold a password).
    pub docdb_url: Option<SecretString>,
    /// `storage.docdb.mongo-server-url`.
    pub mongo_server_url: Option<SecretString>,
    /// `storage.docdb.mongo-server-url-dir`.
    pub mongo_server_url_dir: Option<String>,
    /// `storage.docdb.mongo-server-url-path`.
    pub mongo_server_url_path: Option<String>,
    /// `storage.grafeas.projectid`.
    pub grafeas_project: Option<String>,
    /// `storage.grafeas.noteid`.
    pub grafeas_note_id: Option<String>,
    /// `storage.grafeas.notehint`.
    pub grafeas_note_hint: Option<String>,
    /// `signers.kms.auth.*`, by the suffix after `signers.kms.auth.`.
    pub kms_auth: BTreeMap<String, String>,
    /// `builder.id`.
    pub builder_id: String,
    /// `builddefinition.buildtype`.
    pub build_type: BuildType,
    /// `filter.managed-by`: extra `spec.managedBy` values to process.
    pub managed_by: Vec<String>,
    /// `signers.x509.fulcio.*`: keyless signing for the `x509` signer, when enabled.
    pub fulcio: Option<Fulcio>,
    /// `signers.x509.fulcio.address` (Chains' default when unset), enabled or not: the
    /// Fulcio of keyless tenants too.
    pub fulcio_address: String,
    /// `transparency.enabled`: `true` (on), `manual`, else off.
    pub transparency: crate::transparency::Mode,
    /// `transparency.url`.
    pub transparency_url: String,
    /// `chainseal.tsa.url` (chainseal's own key): RFC 3161 timestamp authorities'
    /// endpoints, comma-separated.
    pub tsa_urls: Vec<String>,
    /// `chainseal.signing-config` (chainseal's own key): a SigningConfig v0.2 file or
    /// https URL, replacing `signers.x509.fulcio.address`, `transparency.url` and
    /// `chainseal.tsa.url`.
    pub signing_config: Option<String>,
}

/// Keyless signing settings (`signers.x509.fulcio.enabled: "true"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulcio {
    /// `signers.x509.fulcio.address`.
    pub address: String,
    /// `signers.x509.identity.token.file`; else the projected token at Chains' path.
    pub token_file: Option<String>,
    /// `signers.x509.fulcio.provider`: where the identity token comes from; `None`:
    /// the token file.
    pub provider: Option<TokenProvider>,
    /// `signers.x509.fulcio.issuer`: the issuer the identity token must have; `None`
    /// when unset or Chains' default (which only cosign's interactive flows use).
    pub issuer: Option<String>,
}

/// A cosign identity-token provider (`signers.x509.fulcio.provider`) chainseal has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProvider {
    /// `filesystem`: the projected token at Chains' path, or
    /// `signers.x509.identity.token.file` when set (as Chains).
    Filesystem,
    /// `filesystem-custom-path` (Chains' own): `signers.x509.identity.token.file`,
    /// else Chains' path.
    FilesystemCustomPath,
    /// `github-actions`: GitHub Actions' ID-token request (`ACTIONS_ID_TOKEN_REQUEST_URL`
    /// and `_TOKEN` in the controller's environment).
    GithubActions,
    /// `envvar`: the controller's `SIGSTORE_ID_TOKEN`.
    Envvar,
}

impl TokenProvider {
    /// Each provider chainseal has, by its cosign name.
    pub const ALL: [(&'static str, Self); 4] = [
        ("filesystem", Self::Filesystem),
        ("filesystem-custom-path", Self::FilesystemCustomPath),
        ("github-actions", Self::GithubActions),
        ("envvar", Self::Envvar),
    ];

    /// The provider named `name`, if chainseal has it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
}

/// What an unknown `signers.x509.fulcio.provider` is told.
const PROVIDERS_ALLOWED: &str = "one of filesystem, filesystem-custom-path, github-actions, envvar (cosign's spiffe, google-workload-identity, google-impersonate and buildkite-agent are not supported by chainseal)";

/// Chains' default `signers.x509.fulcio.issuer` (public-good Sigstore's interactive
/// login, never the issuer of a workload token).
pub const DEFAULT_FULCIO_ISSUER: &str = "https://oauth2.sigstore.dev/auth";

/// Chains' default `signers.x509.tuf.mirror.url` (sigstore's `tuf.DefaultRemoteRoot`).
pub const DEFAULT_TUF_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";

/// A Chains key chainseal reads but does not act on, with what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredKey {
    /// The key.
    pub key: &'static str,
    /// What to do instead.
    pub instead: &'static str,
}

/// The Chains keys set in `data` that chainseal ignores (each is logged as a warning
/// whenever the settings are built): `signers.x509.tuf.mirror.url` other than the
/// default, and `signers.kms.auth.spire.*`.
pub fn ignored_keys(data: &BTreeMap<String, String>) -> Vec<IgnoredKey> {
    let set = |k: &str| crate::values::non_empty(data.get(k).map(String::as_str));
    let mut out = Vec::new();
    if set("signers.x509.tuf.mirror.url")
        .is_some_and(|v| v.trim_end_matches('/') != DEFAULT_TUF_MIRROR)
    {
        out.push(IgnoredKey {
            key: "signers.x509.tuf.mirror.url",
            instead: "chainseal fetches no TUF trust root when signing; verify with `chainseal verify --trusted-root` (`CHAINSEAL_TRUSTED_ROOT`) given the mirror's `trusted_root.json`",
        });
    }
    for key in [
        "signers.kms.auth.spire.sock",
        "signers.kms.auth.spire.audience",
    ] {
        if set(key).is_some() {
            out.push(IgnoredKey {
                key,
                instead: "chainseal gets no SPIFFE JWT-SVID; give the KMS a token with `signers.kms.auth.token-path` or `signers.kms.auth.oidc.token-path` (a JWT-SVID the SPIFFE helper writes to a file works)",
            });
        }
    }
    out
}

const FORMATS: &str = "in-toto, slsa/v1, slsa/v2alpha3, slsa/v2alpha4";

fn invalid(key: &str, value: &str, allowed: &str) -> Error {
    Error {
        key: key.to_owned(),
        value: value.to_owned(),
        allowed: allowed.to_owned(),
    }
}

/// Chains' `strconv.ParseBool`; anything else keeps `default`.
fn boolean(data: &BTreeMap<String, String>, key: &str, default: bool) -> bool {
    match data.get(key).map(String::as_str) {
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => true,
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => false,
        _ => default,
    }
}

fn artifact(
    data: &BTreeMap<String, String>,
    kind: &str,
    formats: &[&str],
    storage_allowed: &[&str],
    default_storage: &str,
) -> Result<Option<Artifact>, Error> {
    let key = |k: &str| format!("artifacts.{kind}.{k}");
    let get = |k: &str| data.get(&key(k)).map(|v| v.trim().to_owned());
    let format_name = get("format")
        .or_else(|| formats.first().map(|f| (*f).to_owned()))
        .unwrap_or_default();
    if !formats.contains(&format_name.as_str()) {
        return Err(invalid(&key("format"), &format_name, &formats.join(", ")));
    }
    let format = match format_name.as_str() {
        // `simplesigning` (the oci type's only format) has no provenance format.
        "simplesigning" => Format::SlsaV02,
        name => name
            .parse()
            .map_err(|_| invalid(&key("format"), name, FORMATS))?,
    };
    let storage_value = get("storage").unwrap_or_else(|| default_storage.to_owned());
    let mut storage = Vec::new();
    if !storage_value.is_empty() {
        for item in storage_value.split(',').map(str::trim) {
            if !storage_allowed.contains(&item) {
                return Err(invalid(
                    &key("storage"),
                    &storage_value,
                    &format!("a comma-separated set of {}", storage_allowed.join(", ")),
                ));
            }
            let backend = match item {
                "tekton" => Backend::Tekton,
                "oci" => Backend::Oci,
                "gcs" => Backend::Gcs,
                "docdb" => Backend::DocDb,
                "grafeas" => Backend::Grafeas,
                "kafka" => Backend::Unsupported("kafka"),
                _ => Backend::Archivista,
            };
            if !storage.contains(&backend) {
                storage.push(backend);
            }
        }
    }
    let signer_value = get("signer").unwrap_or_else(|| "x509".to_owned());
    let signer = match signer_value.as_str() {
        "x509" => Some(SignerKind::X509),
        "kms" => Some(SignerKind::Kms),
        "none" => None,
        other => return Err(invalid(&key("signer"), other, "x509, kms, none")),
    };
    // Enabled unless its signer is `none` or its storage is exactly "".
    Ok(match signer {
        Some(signer) if !storage.is_empty() => Some(Artifact {
            format,
            storage,
            signer,
        }),
        _ => None,
    })
}

/// The items of a comma-separated value, trimmed, without empty ones.
fn comma_list(value: Option<String>) -> Vec<String> {
    value
        .iter()
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `transparency.enabled` as Chains reads it (pkg/config/config.go, `oneOf`): exactly
/// `true` is on and exactly `manual` is manual; anything else (`false`, empty, `True`,
/// `1`, ` true`) is off, never an error. A value other than `false` or empty is
/// logged: it reads as "on" to a person.
fn transparency_mode(data: &BTreeMap<String, String>) -> crate::transparency::Mode {
    use crate::transparency::Mode;
    match data.get("transparency.enabled").map(String::as_str) {
        Some("true") => Mode::On,
        Some("manual") => Mode::Manual,
        None | Some("" | "false") => Mode::Off,
        Some(other) => {
            tracing::warn!(
                "chains-config `transparency.enabled` is `{other}`: only `true` and `manual` turn the transparency log on (as in Chains), so it is off"
            );
            Mode::Off
        }
    }
}

/// The backends that can keep image signatures, for `artifacts.oci.storage`.
const IMAGE_STORAGE: &[&str] = &["tekton", "oci", "gcs", "docdb", "grafeas"];

/// Refuse an `artifacts.oci.storage` (of an enabled `oci` type) naming a backend
/// that cannot keep image signatures. Chains accepts `archivista` there and then
/// fails every image signature at store time (it takes DSSE envelopes only), and
/// `kafka` is unreachable; chainseal says so when the ConfigMap is read.
fn image_storage(data: &BTreeMap<String, String>) -> Result<(), Error> {
    const KEY: &str = "artifacts.oci.storage";
    let value = data.get(KEY).map_or("oci", |v| v.trim());
    match value
        .split(',')
        .map(str::trim)
        .find(|b| !IMAGE_STORAGE.contains(b))
    {
        Some(backend) => Err(invalid(
            KEY,
            value,
            &format!(
                "`{backend}` cannot keep image signatures; use a comma-separated set of {} (or `artifacts.oci.signer: none` to sign no images)",
                IMAGE_STORAGE.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

impl ChainsConfig {
    /// Each artifact type by name (`taskrun`, `pipelinerun`, `oci`), `None` when
    /// disabled.
    pub fn artifacts(&self) -> [(&'static str, Option<&Artifact>); 3] {
        [
            ("taskrun", self.taskrun.as_ref()),
            ("pipelinerun", self.pipelinerun.as_ref()),
            ("oci", self.oci.as_ref()),
        ]
    }

    /// Parse the ConfigMap's `data`.
    pub fn parse(data: &BTreeMap<String, String>) -> Result<Self, Error> {
        const ALL: &[&str] = &[
            "tekton",
            "oci",
            "gcs",
            "docdb",
            "grafeas",
            "kafka",
            "archivista",
        ];
        const PIPELINERUN: &[&str] = &["tekton", "oci", "gcs", "docdb", "grafeas", "archivista"];
        let formats = ["in-toto", "slsa/v1", "slsa/v2alpha3", "slsa/v2alpha4"];
        let taskrun = artifact(data, "taskrun", &formats, ALL, "tekton")?;
        let pipelinerun = artifact(data, "pipelinerun", &formats, PIPELINERUN, "tekton")?;
        let oci = artifact(data, "oci", &["simplesigning"], ALL, "oci")?;
        if oci.is_some() {
            image_storage(data)?;
        }
        let get = |k: &str| crate::values::non_empty_owned(data.get(k).cloned());
        let encoding = get("storage.oci.encoding-format").unwrap_or_default();
        let oci_encoding = OciEncoding::from_name(&encoding).ok_or_else(|| {
            invalid(
                "storage.oci.encoding-format",
                &encoding,
                "dsse, sigstore-bundle",
            )
        })?;
        let build_type = match get("builddefinition.buildtype") {
            None => BuildType::Slsa,
            Some(v) => v.parse().map_err(|e: crate::provenance::UnknownName| {
                invalid("builddefinition.buildtype", &v, &e.to_string())
            })?,
        };
        let fulcio_address = get("signers.x509.fulcio.address")
            .unwrap_or_else(|| crate::signing::keyless::DEFAULT_FULCIO_URL.into());
        let fulcio = match boolean(data, "signers.x509.fulcio.enabled", false) {
            false => None,
            true => Some(Fulcio {
                address: fulcio_address.clone(),
                token_file: get("signers.x509.identity.token.file"),
                provider: match get("signers.x509.fulcio.provider") {
                    None => None,
                    Some(name) => Some(TokenProvider::from_name(&name).ok_or_else(|| {
                        invalid("signers.x509.fulcio.provider", &name, PROVIDERS_ALLOWED)
                    })?),
                },
                issuer: get("signers.x509.fulcio.issuer")
                    .filter(|i| i.trim_end_matches('/') != DEFAULT_FULCIO_ISSUER),
            }),
        };
        let transparency = transparency_mode(data);
        Ok(Self {
            fulcio_address,
            fulcio,
            transparency,
            transparency_url: get("transparency.url")
                .unwrap_or_else(|| crate::transparency::DEFAULT_REKOR_URL.into()),
            tsa_urls: comma_list(get("chainseal.tsa.url")),
            signing_config: get("chainseal.signing-config"),
            taskrun,
            pipelinerun,
            oci,
            deep_inspection: boolean(data, "artifacts.pipelinerun.enable-deep-inspection", false),
            oci_repository: get("storage.oci.repository"),
            oci_insecure: boolean(data, "storage.oci.repository.insecure", false),
            oci_encoding,
            kms_ref: get("signers.kms.kmsref"),
            gcs_bucket: get("storage.gcs.bucket"),
            archivista_url: get("storage.archivista.url"),
            docdb_url: get("storage.docdb.url").map(SecretString::new),
            mongo_server_url: get("storage.docdb.mongo-server-url").map(SecretString::new),
            mongo_server_url_dir: get("storage.docdb.mongo-server-url-dir"),
            mongo_server_url_path: get("storage.docdb.mongo-server-url-path"),
            grafeas_project: get("storage.grafeas.projectid"),
            grafeas_note_id: get("storage.grafeas.noteid"),
            grafeas_note_hint: get("storage.grafeas.notehint"),
            kms_auth: data
                .iter()
                .filter_map(|(k, v)| {
                    Some((k.strip_prefix("signers.kms.auth.")?.to_owned(), v.clone()))
                })
                .collect(),
            builder_id: get("builder.id")
                .unwrap_or_else(|| crate::provenance::DEFAULT_BUILDER_ID.into()),
            build_type,
            managed_by: comma_list(get("filter.managed-by")),
        })
    }

    /// Whether a run with `spec.managedBy` = `managed_by` is processed: unset, empty
    /// and `tekton.dev/pipeline` always are, plus `filter.managed-by`.
    pub fn manages(&self, managed_by: Option<&str>) -> bool {
        match managed_by {
            None | Some("") | Some("tekton.dev/pipeline") => true,
            Some(other) => self.managed_by.iter().any(|m| m == other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_chains_defaults() {
        let c = ChainsConfig::parse(&BTreeMap::new()).expect("the empty map is valid");
        let tr = c.taskrun.clone().expect("taskrun enabled");
        assert_eq!(tr.format, Format::SlsaV02, "in-toto is the default format");
        assert_eq!(tr.storage, vec![Backend::Tekton]);
        assert_eq!(tr.signer, SignerKind::X509);
        assert_eq!(c.oci.clone().map(|o| o.storage), Some(vec![Backend::Oci]));
        assert_eq!(c.builder_id, "https://tekton.dev/chains/v2");
        assert!(!c.deep_inspection);
        assert_eq!(c.oci_encoding, OciEncoding::Dsse);
    }

    #[test]
    fn empty_storage_or_signer_none_disables_a_type() {
        let c = ChainsConfig::parse(&map(&[
            ("artifacts.taskrun.storage", ""),
            ("artifacts.oci.signer", "none"),
            ("artifacts.pipelinerun.storage", "tekton, oci"),
            ("artifacts.pipelinerun.format", "slsa/v2alpha4"),
        ]))
        .expect("valid");
        assert!(c.taskrun.is_none());
        assert!(c.oci.is_none());
        let pr = c.pipelinerun.expect("pipelinerun");
        assert_eq!(pr.storage, vec![Backend::Tekton, Backend::Oci]);
        assert_eq!(pr.format, Format::V2Alpha4);
    }

    #[test]
    fn an_invalid_value_invalidates_the_map_and_bools_fall_back() {
        for (k, v) in [
            ("artifacts.taskrun.format", "slsa/v9"),
            ("artifacts.taskrun.storage", "tekton,s3"),
            ("artifacts.pipelinerun.storage", "kafka"),
            ("artifacts.oci.signer", "fulcio"),
            ("storage.oci.encoding-format", "zip"),
        ] {
            let err = ChainsConfig::parse(&map(&[(k, v)])).expect_err(k);
            assert_eq!(err.key, k);
        }
        let c = ChainsConfig::parse(&map(&[(
            "artifacts.pipelinerun.enable-deep-inspection",
            "yes please",
        )]))
        .expect("valid");
        assert!(!c.deep_inspection);
        let c = ChainsConfig::parse(&map(&[(
            "artifacts.pipelinerun.enable-deep-inspection",
            "T",
        )]))
        .expect("valid");
        assert!(c.deep_inspection);
    }

    #[test]
    fn image_storage_must_keep_image_signatures() {
        for value in ["archivista", "tekton, kafka", "oci,archivista"] {
            let err =
                ChainsConfig::parse(&map(&[("artifacts.oci.storage", value)])).expect_err(value);
            assert_eq!(err.key, "artifacts.oci.storage");
            assert!(
                err.allowed.contains("cannot keep image signatures"),
                "{err}"
            );
        }
        let c =
            ChainsConfig::parse(&map(&[("artifacts.oci.storage", "tekton, gcs")])).expect("valid");
        assert_eq!(
            c.oci.map(|o| o.storage),
            Some(vec![Backend::Tekton, Backend::Gcs])
        );
        // A disabled type drops nothing: its storage is not looked at.
        ChainsConfig::parse(&map(&[
            ("artifacts.oci.storage", "archivista"),
            ("artifacts.oci.signer", "none"),
        ]))
        .expect("valid");
    }

    #[test]
    fn transparency_is_on_only_for_exactly_true_or_manual() {
        use crate::transparency::Mode;
        let mode = |v: &str| {
            ChainsConfig::parse(&map(&[("transparency.enabled", v)]))
                .expect("never an error")
                .transparency
        };
        assert_eq!(mode("true"), Mode::On);
        assert_eq!(mode("manual"), Mode::Manual);
        for off in [
            "false", "", "True", "TRUE", "1", "t", "on", "yes", " true", "Manual",
        ] {
            assert_eq!(mode(off), Mode::Off, "`{off}`");
        }
        let unset = ChainsConfig::parse(&BTreeMap::new()).expect("valid");
        assert_eq!(unset.transparency, Mode::Off);
    }

    #[test]
    fn fulcio_provider_and_issuer_are_read_and_unknown_providers_refused() {
        let keyless = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("signers.x509.fulcio.enabled", "true")];
            pairs.extend_from_slice(extra);
            ChainsConfig::parse(&map(&pairs)).map(|c| c.fulcio.expect("fulcio enabled"))
        };
        let unset = keyless(&[]).expect("valid");
        assert_eq!((unset.provider, unset.issuer), (None, None));
        for (name, provider) in TokenProvider::ALL {
            let f = keyless(&[("signers.x509.fulcio.provider", name)]).expect(name);
            assert_eq!(f.provider, Some(provider));
        }
        let f = keyless(&[("signers.x509.fulcio.issuer", "https://gitlab.com")]).expect("valid");
        assert_eq!(f.issuer.as_deref(), Some("https://gitlab.com"));
        // Chains' default issuer is what cosign's interactive login uses: no check.
        let f = keyless(&[("signers.x509.fulcio.issuer", DEFAULT_FULCIO_ISSUER)]).expect("valid");
        assert_eq!(f.issuer, None);
        for unknown in ["spiffe", "google", "github", "buildkite-agent", "vault"] {
            let err = keyless(&[("signers.x509.fulcio.provider", unknown)]).expect_err(unknown);
            assert_eq!(err.key, "signers.x509.fulcio.provider");
            let text = err.to_string();
            assert!(
                text.contains(&format!("`{unknown}`"))
                    && [
                        "filesystem",
                        "filesystem-custom-path",
                        "github-actions",
                        "envvar"
                    ]
                    .iter()
                    .all(|p| text.contains(p)),
                "{text}"
            );
        }
        // As in Chains, the provider matters only when Fulcio is enabled.
        let off = ChainsConfig::parse(&map(&[("signers.x509.fulcio.provider", "spiffe")]));
        assert_eq!(off.map(|c| c.fulcio), Ok(None));
    }

    #[test]
    fn keys_chainseal_ignores_are_listed() {
        let keys = |pairs: &[(&str, &str)]| -> Vec<&'static str> {
            ignored_keys(&map(pairs)).iter().map(|i| i.key).collect()
        };
        assert!(keys(&[]).is_empty());
        assert!(keys(&[("signers.x509.tuf.mirror.url", DEFAULT_TUF_MIRROR)]).is_empty());
        assert!(keys(&[("signers.kms.auth.spire.sock", " ")]).is_empty());
        assert_eq!(
            keys(&[
                ("signers.x509.tuf.mirror.url", "https://tuf.example.com"),
                ("signers.kms.auth.spire.sock", "unix:///spire.sock"),
                ("signers.kms.auth.spire.audience", "vault"),
                ("signers.kms.auth.token-path", "/var/run/vault-token"),
            ]),
            [
                "signers.x509.tuf.mirror.url",
                "signers.kms.auth.spire.sock",
                "signers.kms.auth.spire.audience"
            ]
        );
    }

    /// chainseal's own keys for timestamps and a signing config.
    #[test]
    fn timestamp_authorities_and_signing_configs_are_read() {
        let c = ChainsConfig::parse(&map(&[
            (
                "chainseal.tsa.url",
                "https://tsa.one/api/v1/timestamp, ,https://tsa.two/t",
            ),
            (
                "chainseal.signing-config",
                "/etc/sigstore/signing_config.json",
            ),
        ]))
        .expect("valid");
        assert_eq!(
            c.tsa_urls,
            ["https://tsa.one/api/v1/timestamp", "https://tsa.two/t"]
        );
        assert_eq!(
            c.signing_config.as_deref(),
            Some("/etc/sigstore/signing_config.json")
        );
        let none = ChainsConfig::parse(&map(&[])).expect("valid");
        assert!(none.tsa_urls.is_empty() && none.signing_config.is_none());
    }

    #[test]
    fn managed_by_filter() {
        let c =
            ChainsConfig::parse(&map(&[("filter.managed-by", "a.example/x, b")])).expect("valid");
        assert!(c.manages(None));
        assert!(c.manages(Some("tekton.dev/pipeline")));
        assert!(c.manages(Some("b")));
        assert!(!c.manages(Some("kueue.x-k8s.io/multikueue")));
    }
}
