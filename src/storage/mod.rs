//! Storage backends: where signed attestations go.
//!
//! Each backend implements [`Storage`] in its own file and is chosen by the URI in
//! `CHAINSEAL_STORAGE` or chains-config ([`StorageTarget`]); [`Factory`] makes them
//! from [`Settings`], for both front doors. Backends know nothing of
//! provenance formats: they receive a key, a signed envelope and its subjects, and
//! (backends that keep them, like OCI) image signatures.

use std::fmt::{Debug, Display};
use std::path::PathBuf;

use async_trait::async_trait;
use thiserror::Error;

use crate::envelope::{Envelope, bundle};
use crate::error_kind::{Cause, Kind};
use crate::reference::DigestReference;
use crate::signing::PublicKey;
use crate::signing::keyless::CertificateChain;
use crate::transparency::{LogEntry, Timestamp};

pub mod archivista;
pub mod docdb;
#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod file;
pub mod github;
pub mod grafeas;
#[cfg(feature = "mongodb")]
pub mod mongo;
pub mod object;
pub mod oci;
pub mod settings;
pub mod tekton;

pub use file::FileStorage;
pub use oci::OciStorage;
pub use settings::{OciEncoding, Settings, StorageTarget};

/// A Statement subject that has a SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Name (for images, the repository).
    pub name: String,
    /// Hex SHA-256.
    pub sha256: String,
}

/// One signed attestation to store.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// Storage key, e.g. `taskrun-<uid>` or `pipelinerun-<uid>` (Chains' short key).
    pub key: &'a str,
    /// The signed DSSE envelope.
    pub envelope: &'a Envelope,
    /// The Statement's predicate type.
    pub predicate_type: &'a str,
    /// The Statement's subjects with SHA-256 digests.
    pub subjects: &'a [Subject],
    /// The signer's public key, when it has one.
    pub public_key: Option<&'a PublicKey>,
    /// The signer's certificate chain (keyless signing).
    pub certificate: Option<&'a CertificateChain>,
    /// The attestation's transparency log entry, when it was logged.
    pub tlog: Option<&'a LogEntry>,
    /// RFC 3161 timestamps over the envelope's signature.
    pub timestamps: &'a [Timestamp],
    /// The run the attestation is about (for storage on the run itself).
    pub run: Option<&'a RunId>,
}

impl Signed<'_> {
    /// The Sigstore bundle, when a backend keeps bundles: asked to (`wanted`), or
    /// always for certificates (keyless signing).
    pub fn bundle_if(&self, wanted: bool) -> Result<Option<Vec<u8>>, Error> {
        if wanted || self.certificate.is_some() {
            self.bundle().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The Sigstore bundle of the attestation.
    pub fn bundle(&self) -> Result<Vec<u8>, Error> {
        let key = self.public_key.ok_or(Error::NoPublicKey)?;
        Ok(bundle::to_json(
            self.envelope,
            bundle::Material {
                public_key_der: &key.der,
                certificate: self.certificate,
                tlog: self.tlog,
                timestamps: self.timestamps,
            },
        ))
    }
}

/// A Tekton run: kind, name and namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunId {
    /// `TaskRun` or `PipelineRun`.
    pub kind: crate::kube::TektonKind,
    /// Name.
    pub name: String,
    /// Namespace, when the record names one.
    pub namespace: Option<String>,
}

/// One signed image (cosign's image signature).
#[derive(Debug, Clone, Copy)]
pub struct SignedImage<'a> {
    /// The image.
    pub image: &'a DigestReference,
    /// The simple-signing payload.
    pub payload: &'a [u8],
    /// The signature over `payload` (what cosign's `.sig` layers carry).
    pub signature: &'a [u8],
    /// The same claim as cosign 3 signs it for Sigstore bundles: a DSSE envelope of an
    /// in-toto Statement about the image digest
    /// (predicate type `https://sigstore.dev/cosign/sign/v1`).
    pub statement: &'a Envelope,
    /// The signer's public key, when it has one.
    pub public_key: Option<&'a PublicKey>,
    /// The signer's certificate chain (keyless signing).
    pub certificate: Option<&'a CertificateChain>,
    /// The signature's transparency log entry (`hashedrekord`), when it was logged.
    pub tlog: Option<&'a LogEntry>,
    /// The Statement's transparency log entry (`dsse`), when it was logged.
    pub statement_tlog: Option<&'a LogEntry>,
    /// RFC 3161 timestamps over `signature`.
    pub timestamps: &'a [Timestamp],
    /// RFC 3161 timestamps over the Statement's signature.
    pub statement_timestamps: &'a [Timestamp],
    /// The run whose results named the image.
    pub run: Option<&'a RunId>,
}

/// Where a stored item went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Backend name, e.g. `file`.
    pub backend: &'static str,
    /// Location, e.g. a path or URI.
    pub location: String,
    /// `false` when an identical envelope was already there and nothing was written.
    pub written: bool,
}

impl Stored {
    /// Whether this is a place the attestation went (not a record made about it,
    /// such as a GitHub storage record).
    pub fn is_place(&self) -> bool {
        self.backend != github::STORAGE_RECORD
    }
}

/// A place attestations are written to.
#[async_trait]
pub trait Storage: Display + Debug + Send + Sync {
    /// Store one attestation; every place it lands is listed (none when the
    /// backend has nowhere to put it, e.g. OCI without image subjects).
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error>;

    /// Whether this backend keeps image signatures (then `attest` makes them).
    fn keeps_image_signatures(&self) -> bool {
        false
    }

    /// Whether a write lands only later, with the run's mark (the controller's
    /// `tekton` storage, written in the same patch as `signed: "true"`).
    fn deferred(&self) -> bool {
        false
    }

    /// Store one image signature.
    async fn store_image(&self, _item: &SignedImage<'_>) -> Result<Vec<Stored>, Error> {
        Ok(Vec::new())
    }

    /// This backend writing through `registry` instead (a run's own credentials), when
    /// it writes to registries; `None` for backends that do not.
    fn through(
        &self,
        _registry: &std::sync::Arc<crate::oci::Registry>,
    ) -> Option<Box<dyn Storage>> {
        None
    }

    /// The repositories (`<registry>/<repository>`) this backend would write `subjects`
    /// (image references with a digest) to: for a repository policy to check before
    /// anything is pushed; empty for backends that do not write to registries.
    fn repositories(&self, _images: &[String]) -> Vec<String> {
        Vec::new()
    }
}

/// Storage errors. Messages name the destination and the fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed.
    #[error("cannot {action} `{path}`{}", fs_hint(source))]
    Io {
        /// What was being done, e.g. `create directory`.
        action: &'static str,
        /// Path involved.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A remote backend (object storage, a database, Grafeas, Archivista) refused or
    /// could not be reached.
    #[error("{backend} `{target}`: {detail}")]
    Backend {
        /// The kind of backend, e.g. `object storage`, `MongoDB`, `Grafeas`.
        backend: &'static str,
        /// The bucket, collection, table, project or URL (never with credentials).
        target: String,
        /// What failed, and the hint chosen by `kind`.
        detail: String,
        /// What kind of failure it is (decided from the client's typed error).
        kind: Kind,
        /// The client's error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// A backend that stores the Statement as a document got a payload it cannot read.
    #[error("{0}")]
    InvalidPayload(String),
    /// A `storage.docdb.url` of a document store chainseal does not write to.
    #[error(
        "document store `{0}` is not supported: use `mongo://<db>/<collection>`, `mongodb://<host>/<db>/<collection>` or `dynamodb://<table>` (Firestore is not supported)"
    )]
    UnsupportedDocDb(String),
    /// A storage this binary was built without.
    #[error("`{uri}`: this build has no {what} storage; rebuild with `--features {feature}`")]
    NotBuilt {
        /// The storage URI.
        uri: String,
        /// The kind of storage.
        what: &'static str,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// A storage key that is not safe as a file name.
    #[error("storage key `{0}` is not a safe name (letters, digits, `.`, `_`, `-` only)")]
    InvalidKey(String),
    /// A registry operation failed.
    #[error(transparent)]
    Oci(Box<crate::oci::Error>),
    /// The Kubernetes API failed.
    #[error(transparent)]
    Kube(Box<crate::kube::Error>),
    /// `tekton` storage for an attestation without a run.
    #[error("`tekton` storage needs a Tekton run to annotate")]
    NoRun,
    /// The annotations would exceed Kubernetes' limit.
    #[error(
        "{run}: with this attestation its annotations would be {size} bytes, over Kubernetes' 256 KiB limit; nothing was patched. Store large attestations elsewhere, e.g. `CHAINSEAL_STORAGE=oci`"
    )]
    AnnotationsTooLarge {
        /// The run.
        run: String,
        /// The size the annotations would have.
        size: usize,
    },
    /// Sigstore bundles need the signer's public key (for the key hint).
    #[error("`CHAINSEAL_OCI_ENCODING=sigstore-bundle` needs a signer with a public key")]
    NoPublicKey,
    /// Existing content that cannot be extended safely.
    #[error("`{path}` exists but is not an `.intoto.jsonl` file; move it away")]
    Corrupt {
        /// Path of the file.
        path: PathBuf,
        /// Why it was rejected.
        #[source]
        source: NotJsonLine,
    },
}

impl From<crate::kube::Error> for Error {
    fn from(e: crate::kube::Error) -> Self {
        Self::Kube(Box::new(e))
    }
}

impl From<crate::oci::Error> for Error {
    fn from(e: crate::oci::Error) -> Self {
        Self::Oci(Box::new(e))
    }
}

fn fs_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            " (choose a writable directory with `CHAINSEAL_STORAGE`)"
        }
        _ => "",
    }
}

impl Error {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> Kind {
        match self {
            Self::Io { source, .. } => Kind::from_io(source.kind()),
            Self::Backend { kind, .. } => *kind,
            Self::InvalidPayload(_)
            | Self::UnsupportedDocDb(_)
            | Self::NotBuilt { .. }
            | Self::InvalidKey(_)
            | Self::NoRun
            | Self::AnnotationsTooLarge { .. }
            | Self::NoPublicKey
            | Self::Corrupt { .. } => Kind::Invalid,
            Self::Oci(e) => e.kind(),
            Self::Kube(e) => e.kind(),
        }
    }
}

/// An [`Error::Backend`] without a cause: `backend` failed on `target` because of
/// `detail` (a usage error or what the service answered).
pub(crate) fn failed(backend: &'static str, target: &str, detail: impl Display) -> Error {
    Error::Backend {
        backend,
        target: target.to_owned(),
        detail: detail.to_string(),
        kind: Kind::Other,
        source: None,
    }
}

/// An [`Error::Backend`] of `kind` caused by `source`: `backend` failed `detail` (what
/// was being done, and the hint) on `target`.
pub(crate) fn failed_by(
    backend: &'static str,
    target: &str,
    detail: impl Display,
    kind: Kind,
    source: impl Into<Cause>,
) -> Error {
    Error::Backend {
        backend,
        target: target.to_owned(),
        detail: detail.to_string(),
        kind,
        source: Some(source.into()),
    }
}

/// The `key=value` pairs of a URI's query (`a=b&c`; a bare key has an empty value).
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
}

/// The value of query parameter `name` in `query`.
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query_pairs(query).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// Refuse storage keys that are not safe as file or object names.
pub(crate) fn check_key(key: &str) -> Result<(), Error> {
    let safe = !key.is_empty()
        && !key.starts_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if safe {
        Ok(())
    } else {
        Err(Error::InvalidKey(key.to_owned()))
    }
}

/// A line of a JSON Lines file that is not JSON.
#[derive(Debug, Error)]
#[error("line `{start}` is not JSON")]
pub struct NotJsonLine {
    /// The start of the line (40 characters at most).
    pub start: String,
    /// Cause.
    #[source]
    pub source: serde_json::Error,
}

/// A JSON Lines file's `content` with `line` appended: `Ok(None)` when the line is
/// there already; `Err` (the start of the bad line) when a line is not JSON.
pub(crate) fn append_line(content: &str, line: &str) -> Result<Option<String>, NotJsonLine> {
    if content.lines().any(|l| l == line) {
        return Ok(None);
    }
    for l in content.lines().filter(|l| !l.is_empty()) {
        if let Err(source) = serde_json::from_str::<serde_json::Value>(l) {
            return Err(NotJsonLine {
                start: l.chars().take(40).collect(),
                source,
            });
        }
    }
    let mut out = content.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    Ok(Some(out))
}

/// Chains' storage key of an image signature: the first 12 hex digits of its digest.
pub(crate) fn image_key(item: &SignedImage<'_>) -> String {
    item.image.sha256.chars().take(12).collect()
}

/// The certificate and chain PEM (empty strings without a certificate, as Chains).
pub(crate) fn certificate_pem(certificate: Option<&CertificateChain>) -> (String, String) {
    certificate.map_or((String::new(), String::new()), |c| {
        (c.leaf_pem.clone(), c.chain_pem.clone())
    })
}

/// Makes storage backends from [`Settings`]: the one way both front doors get them.
/// One registry client is shared by every OCI backend it makes.
#[derive(Debug)]
pub struct Factory {
    settings: Settings,
    registry: std::sync::OnceLock<std::sync::Arc<crate::oci::Registry>>,
}

impl Factory {
    /// A factory for `settings`.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            registry: std::sync::OnceLock::new(),
        }
    }

    /// The registry client every OCI backend of this factory shares, made on first use.
    pub fn shared_registry(&self) -> Result<std::sync::Arc<crate::oci::Registry>, Error> {
        if let Some(r) = self.registry.get() {
            return Ok(r.clone());
        }
        let made = std::sync::Arc::new(crate::oci::Registry::new(&self.settings.registry)?);
        Ok(self.registry.get_or_init(|| made).clone())
    }

    /// The backends for `targets`, in order.
    pub fn open(&self, targets: &[StorageTarget]) -> Result<Vec<Box<dyn Storage>>, Error> {
        // Storage records are for images pushed to their registries.
        let images_pushed = targets
            .iter()
            .any(|t| matches!(t, StorageTarget::Oci { repository: None }));
        targets
            .iter()
            .filter_map(|t| match self.open_one(t, images_pushed) {
                // GitHub's store added by default (not asked for) never stops a run.
                Err(e)
                    if self.settings.github.by_default
                        && matches!(t, StorageTarget::GitHub { .. }) =>
                {
                    tracing::warn!(
                        "GitHub's attestation store, which keyless signing in a GitHub job uses by default, is left out: {e}"
                    );
                    None
                }
                opened => Some(opened),
            })
            .collect()
    }

    /// The backend for one target (`images_pushed`: another target pushes to the
    /// images' own registries).
    fn open_one(
        &self,
        target: &StorageTarget,
        images_pushed: bool,
    ) -> Result<Box<dyn Storage>, Error> {
        let s = &self.settings;
        Ok(match target {
            StorageTarget::Dir(dir) => {
                Box::new(FileStorage::new(dir.clone()).with_bundles(s.bundles))
            }
            StorageTarget::Oci { repository } => Box::new(OciStorage::new(
                self.shared_registry()?,
                repository.clone(),
                s.oci_encoding,
            )?),
            StorageTarget::Object(uri) => Box::new(object::ObjectStorage::new(
                uri,
                s.object_endpoint.as_deref(),
                s.bundles,
            )?),
            StorageTarget::Archivista(uri) => Box::new(archivista::ArchivistaStorage::new(uri)?),
            StorageTarget::DocDb(uri) => docdb::open(uri, s.mongo_server.clone())?,
            StorageTarget::Grafeas(uri) => {
                Box::new(grafeas::GrafeasStorage::new(uri, s.grafeas.clone())?)
            }
            StorageTarget::Tekton => Box::new(tekton::TektonStorage::new(s.namespace.clone())),
            StorageTarget::GitHub { repository } => Box::new(github::GitHubStorage::new(
                repository.as_deref(),
                &s.github,
                images_pushed,
            )?),
        })
    }
}
