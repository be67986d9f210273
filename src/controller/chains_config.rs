//! Tekton Chains' `chains-config` ConfigMap, key by key with Chains' defaults and
//! validation rules (pkg/config/config.go): a value outside a key's allowed list makes
//! the whole ConfigMap invalid; storage keys are comma-separated sets (`""` disables
//! the artifact type); an unparsable boolean keeps the default.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::config::OciEncoding;
use crate::provenance::{BuildType, Format};
use crate::secret::SecretString;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// `storage.oci.repository.insecure`.
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
    /// `transparency.enabled`: `true` (on), `manual`, else off.
    pub transparency: crate::transparency::Mode,
    /// `transparency.url`.
    pub transparency_url: String,
}

/// Keyless signing settings (`signers.x509.fulcio.enabled: "true"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulcio {
    /// `signers.x509.fulcio.address`.
    pub address: String,
    /// `signers.x509.identity.token.file`; else the projected token at Chains' path.
    pub token_file: Option<String>,
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

impl ChainsConfig {
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
        let get = |k: &str| {
            data.get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let oci_encoding = match get("storage.oci.encoding-format").as_deref() {
            None | Some("dsse") => OciEncoding::Dsse,
            Some("sigstore-bundle") => OciEncoding::SigstoreBundle,
            Some(other) => {
                return Err(invalid(
                    "storage.oci.encoding-format",
                    other,
                    "dsse, sigstore-bundle",
                ));
            }
        };
        let build_type = match get("builddefinition.buildtype") {
            None => BuildType::Slsa,
            Some(v) => v.parse().map_err(|e: crate::provenance::UnknownName| {
                invalid("builddefinition.buildtype", &v, &e.to_string())
            })?,
        };
        let fulcio = boolean(data, "signers.x509.fulcio.enabled", false).then(|| Fulcio {
            address: get("signers.x509.fulcio.address")
                .unwrap_or_else(|| crate::keyless::DEFAULT_FULCIO_URL.into()),
            token_file: get("signers.x509.identity.token.file"),
        });
        let transparency = match get("transparency.enabled").as_deref() {
            Some("manual") => crate::transparency::Mode::Manual,
            _ if boolean(data, "transparency.enabled", false) => crate::transparency::Mode::On,
            _ => crate::transparency::Mode::Off,
        };
        Ok(Self {
            fulcio,
            transparency,
            transparency_url: get("transparency.url")
                .unwrap_or_else(|| crate::transparency::DEFAULT_REKOR_URL.into()),
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
            builder_id: get("builder.id").unwrap_or_else(|| crate::cli::DEFAULT_BUILDER_ID.into()),
            build_type,
            managed_by: get("filter.managed-by")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
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
    fn managed_by_filter() {
        let c =
            ChainsConfig::parse(&map(&[("filter.managed-by", "a.example/x, b")])).expect("valid");
        assert!(c.manages(None));
        assert!(c.manages(Some("tekton.dev/pipeline")));
        assert!(c.manages(Some("b")));
        assert!(!c.manages(Some("kueue.x-k8s.io/multikueue")));
    }
}
