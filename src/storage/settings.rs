//! What storage is made from: the destinations ([`StorageTarget`]) and what the
//! backends need to reach them ([`Settings`]). Both front doors fill them in — the CLI
//! from `CHAINSEAL_STORAGE` and its companions, the controller from `chains-config` —
//! and [`super::Factory`] makes the backends.

use std::path::PathBuf;

use thiserror::Error;

use crate::secret::without_password;

/// A storage destination that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A storage URI this build cannot write to.
    #[error(
        "unsupported storage `{0}`: use `file:///dir`, a directory path, `gs://<bucket>[/prefix]`, `s3://<bucket>[/prefix]`, `mongodb://<host>/<db>/<collection>`, `mongo://<db>/<collection>`, `dynamodb://<table>`, `grafeas://projects/<project>`, `archivista+https://<host>`, `github` (GitHub's attestation store), `oci`, `oci://<registry>/<repository>` or `tekton`"
    )]
    Unsupported(String),
    /// An `oci://` storage without a repository, or with a tag or digest.
    #[error(
        "`{0}`: expected `oci://<registry>/<repository>` (no tag or digest), e.g. `oci://ghcr.io/org/attestations`"
    )]
    OciRepository(String),
}

/// Everything the storage backends are made from, besides the destinations.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// How OCI storage encodes what it pushes.
    pub oci_encoding: OciEncoding,
    /// Registry access (insecure registries, credential files).
    pub registry: crate::oci::Settings,
    /// Where `gs://` and `s3://` storage is reached instead of the cloud's endpoint.
    pub object_endpoint: Option<String>,
    /// Whether directory and object storage also keep each attestation's Sigstore
    /// bundle.
    pub bundles: bool,
    /// Grafeas: the server, and the note id and hint (a URI's query overrides them).
    pub grafeas: super::grafeas::Options,
    /// Where a `mongo://` collection's server connection string comes from.
    pub mongo_server: super::docdb::ServerUrl,
    /// The namespace `tekton` storage finds a run in when the record names none.
    pub namespace: Option<String>,
    /// GitHub's attestation store: the API, repository, token and storage records.
    pub github: super::github::Options,
}

/// One storage destination (`Debug` never shows a password a URI carries).
#[derive(Clone, PartialEq, Eq)]
pub enum StorageTarget {
    /// A local directory.
    Dir(PathBuf),
    /// An OCI registry: next to each image, or in one repository
    /// (`oci://<registry>/<repo>`, Chains' `storage.oci.repository`).
    Oci {
        /// The repository override.
        repository: Option<String>,
    },
    /// Tekton Chains' annotations on the run itself.
    Tekton,
    /// A bucket: `gs://bucket[/prefix]` or `s3://bucket[/prefix]`.
    Object(String),
    /// An Archivista server: `archivista+https://host[/path]`.
    Archivista(String),
    /// A document database: a MongoDB collection (`mongodb://host/<db>/<collection>`,
    /// `mongodb+srv://…`, Chains' `mongo://<db>/<collection>` with the server from
    /// `MONGO_SERVER_URL`) or a DynamoDB table (`dynamodb://<table>`).
    DocDb(String),
    /// A Grafeas project: `grafeas://projects/<project>[?noteid=…]`.
    Grafeas(String),
    /// GitHub's attestation store: `github` (the job's repository) or
    /// `github://<owner>/<repo>`.
    GitHub {
        /// The repository the URI names, `owner/repo`.
        repository: Option<String>,
    },
}

impl std::fmt::Debug for StorageTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let uri = |name: &str, f: &mut std::fmt::Formatter<'_>, u: &str| {
            f.debug_tuple(name).field(&without_password(u)).finish()
        };
        match self {
            Self::Dir(d) => f.debug_tuple("Dir").field(d).finish(),
            Self::Oci { repository } => f
                .debug_struct("Oci")
                .field("repository", repository)
                .finish(),
            Self::Tekton => f.write_str("Tekton"),
            Self::Object(u) => uri("Object", f, u),
            Self::Archivista(u) => uri("Archivista", f, u),
            Self::DocDb(u) => uri("DocDb", f, u),
            Self::Grafeas(u) => uri("Grafeas", f, u),
            Self::GitHub { repository } => f
                .debug_struct("GitHub")
                .field("repository", repository)
                .finish(),
        }
    }
}

impl StorageTarget {
    /// Parse one storage URI (an entry of `CHAINSEAL_STORAGE`).
    pub fn parse(s: &str) -> Result<Self, Error> {
        if let Some(path) = s.strip_prefix("file://") {
            if path.is_empty() {
                return Err(Error::Unsupported(s.to_owned()));
            }
            return Ok(Self::Dir(PathBuf::from(path)));
        }
        if s == "oci" {
            return Ok(Self::Oci { repository: None });
        }
        if let Some(repo) = s.strip_prefix("oci://") {
            let repo = repo.trim_end_matches('/');
            if !repo.contains('/')
                || repo.contains('@')
                || repo
                    .rsplit('/')
                    .next()
                    .is_some_and(|last| last.contains(':'))
            {
                return Err(Error::OciRepository(without_password(s)));
            }
            return Ok(Self::Oci {
                repository: Some(repo.to_owned()),
            });
        }
        if s == "tekton" {
            return Ok(Self::Tekton);
        }
        if s == "github" {
            return Ok(Self::GitHub { repository: None });
        }
        if let Some(repo) = s.strip_prefix("github://") {
            return Ok(Self::GitHub {
                repository: Some(repo.trim_end_matches('/').to_owned()),
            });
        }
        if s.starts_with("gs://") || s.starts_with("s3://") {
            return Ok(Self::Object(s.trim_end_matches('/').to_owned()));
        }
        if s.starts_with("archivista+https://") || s.starts_with("archivista+http://") {
            return Ok(Self::Archivista(s.trim_end_matches('/').to_owned()));
        }
        if ["mongodb://", "mongodb+srv://", "mongo://"]
            .iter()
            .any(|p| s.starts_with(p))
        {
            return Ok(Self::DocDb(s.to_owned()));
        }
        if s.starts_with("grafeas://") {
            return Ok(Self::Grafeas(s.to_owned()));
        }
        if s.starts_with("dynamodb://") {
            return Ok(Self::DocDb(s.to_owned()));
        }
        if s.contains("://") || matches!(s, "docdb" | "gcs" | "grafeas") {
            return Err(Error::Unsupported(without_password(s)));
        }
        Ok(Self::Dir(PathBuf::from(s)))
    }
}

/// How OCI storage stores signed items (Chains' `storage.oci.encoding-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OciEncoding {
    /// cosign tags: `sha256-<hex>.att` (DSSE layers) and `.sig` (simple signing).
    #[default]
    Dsse,
    /// Sigstore bundles v0.3 as OCI 1.1 referrers.
    SigstoreBundle,
}

impl OciEncoding {
    /// The encoding named `name` (`dsse`, `sigstore-bundle`; empty is the default).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "" | "dsse" => Some(Self::Dsse),
            "sigstore-bundle" => Some(Self::SigstoreBundle),
            _ => None,
        }
    }
}
