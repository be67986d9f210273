//! OCI registry access for storage and verification, on `oci-client`.
//!
//! [`Registry`] adds what the product needs around the client: credentials from
//! docker config files ([`auth`]), plain HTTP only for the registries listed as
//! insecure, bounded retries with backoff and jitter on 5xx, 429 and connection
//! errors, and errors that name the registry and the fix. [`cosign`] writes and reads
//! cosign's tag layout (`sha256-<hex>.att` / `.sig`), [`referrers`] OCI 1.1 referrers
//! (Sigstore bundles).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::{Client, Reference};
use thiserror::Error;
use tracing::{debug, warn};

pub mod auth;
pub mod cosign;
pub mod referrers;

/// Registry errors. Messages name the registry and what to check.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry wants credentials it did not get, or refused them.
    #[error(
        "{registry}: {action}: not authorized ({detail}); credentials were looked for in {searched} (found: {source_used})"
    )]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// What was being done.
        action: String,
        /// The registry's words.
        detail: String,
        /// Where credentials were looked for.
        searched: String,
        /// Which credentials were used.
        source_used: String,
    },
    /// The registry could not be reached (after retries).
    #[error(
        "{registry}: {action}: {detail} (is the registry reachable? for plain HTTP list it in `CHAINSEAL_INSECURE_REGISTRIES`)"
    )]
    Unreachable {
        /// Registry host.
        registry: String,
        /// What was being done.
        action: String,
        /// Cause.
        detail: String,
    },
    /// Any other refusal by the registry (after retries, for transient ones).
    #[error("{registry}: {action}: {detail}")]
    Registry {
        /// Registry host.
        registry: String,
        /// What was being done.
        action: String,
        /// The registry's answer.
        detail: String,
    },
    /// Not a usable image reference.
    #[error("`{reference}` is not a valid image reference: {reason}")]
    InvalidReference {
        /// The text.
        reference: String,
        /// Why.
        reason: String,
    },
    /// A credentials file could not be used.
    #[error("registry credentials `{path}`: {reason}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Content read from the registry is not what it should be.
    #[error("{location}: {reason}")]
    Content {
        /// Where.
        location: String,
        /// What is wrong.
        reason: String,
    },
}

/// Registry settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Hosts (`host[:port]`) reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Docker config / `.dockerconfigjson` files read before the docker configuration.
    pub auth_files: Vec<PathBuf>,
}

/// Retry bounds: attempts and total time.
const ATTEMPTS: u32 = 5;
const RETRY_BUDGET: Duration = Duration::from_secs(60);

/// A registry client with credentials, retries and readable errors.
pub struct Registry {
    client: Client,
    keychain: auth::Keychain,
    /// Registries whose credentials were handed to the client already. An async
    /// lock, held while credentials are stored, so concurrent writes to a registry
    /// never start before its credentials are in place.
    authed: tokio::sync::Mutex<BTreeSet<String>>,
    /// Where each registry's credentials came from.
    sources: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    /// The in-process locks of [`Registry::lock`]: one per tag being read, changed and
    /// written back (cosign tags, the referrers tag schema's index) and per blob being
    /// uploaded, so this process's own concurrent writes never collide.
    locks: Locks,
    /// Blobs this process uploaded lately (`<registry>/<repository>@<digest>` → when),
    /// so a blob several writes share (one envelope for subjects in one repository, the
    /// empty config) is uploaded once: distribution 2.8 rewrites a blob's link on every
    /// upload, and refuses a manifest naming the blob at that moment as unknown.
    uploaded: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
}

/// How long an upload is remembered: longer than one run's writes take, retries
/// included (`RETRY_BUDGET`), and short, since a blob remembered but gone (a repository
/// deleted and made again) fails the manifests naming it until it is forgotten.
const UPLOADS_REMEMBERED: Duration = Duration::from_secs(120);

type Locks =
    std::sync::Mutex<std::collections::BTreeMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>;

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

/// What a failed attempt means.
enum Failure {
    /// Worth another attempt.
    Transient(OciDistributionError),
    /// Final.
    Permanent(OciDistributionError),
}

fn classify(e: OciDistributionError) -> Failure {
    match &e {
        OciDistributionError::ServerError { code, .. } if *code >= 500 || *code == 429 => {
            Failure::Transient(e)
        }
        // `MANIFEST_BLOB_UNKNOWN` for a manifest whose blobs were just uploaded: another
        // process uploading the same blob makes distribution 2.8 rewrite its link, and
        // a manifest checked at that moment is refused; it is accepted again after.
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|x| {
                matches!(
                    x.code,
                    OciErrorCode::Toomanyrequests | OciErrorCode::ManifestBlobUnknown
                )
            }) =>
        {
            Failure::Transient(e)
        }
        OciDistributionError::RequestError(r)
            if r.is_connect()
                || r.is_timeout()
                || r.is_request()
                || r.is_body()
                // A bare status (oci-client's `HEAD` of a blob reports one).
                || r.status().is_some_and(|s| s.is_server_error() || s.as_u16() == 429) =>
        {
            Failure::Transient(e)
        }
        OciDistributionError::IoError(_) => Failure::Transient(e),
        _ => Failure::Permanent(e),
    }
}

/// Whether an error says the manifest or repository does not exist.
pub fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code: 404, .. } => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|x| {
            matches!(
                x.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound
            )
        }),
        _ => false,
    }
}

fn is_unauthorized(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 401 || *code == 403,
        OciDistributionError::RequestError(r) => r
            .status()
            .is_some_and(|s| s.as_u16() == 401 || s.as_u16() == 403),
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|x| matches!(x.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)),
        _ => false,
    }
}

/// The first line of an error chain, joined with its causes.
fn detail(e: &OciDistributionError) -> String {
    crate::error_text::joined(e)
}

/// How many manifests or blobs of one image are read at once (a tag's layers, an
/// image's referrers).
pub(crate) const READ_AT_ONCE: usize = 8;

/// What is known of a blob before it is uploaded (see [`Registry::push_blob`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blob {
    /// Probably in the registry already (a well-known blob such as the empty config).
    Shared,
    /// Probably new (a just-signed envelope, a config listing it).
    Fresh,
}

impl Registry {
    /// Hold the in-process lock named `key` (a whole tag reference, or a blob's
    /// repository and digest) while what it names is read, changed and written back.
    pub(crate) async fn lock(&self, key: String) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Forget the locks nobody holds or waits for (a controller runs for months).
            locks.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
            locks.entry(key).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// A client for `settings`.
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(settings.insecure.clone()),
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(30)),
            user_agent: concat!("chainseal/", env!("CARGO_PKG_VERSION")),
            // Our blobs are small: POST + PUT instead of POST + PATCH + PUT saves a
            // round trip per blob.
            use_monolithic_push: true,
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|e| Error::Registry {
            registry: String::new(),
            action: "creating the registry client".into(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            client,
            keychain: auth::Keychain::new(settings.auth_files.clone()),
            authed: Default::default(),
            sources: Default::default(),
            locks: Default::default(),
            uploaded: Default::default(),
        })
    }

    /// The underlying client, with credentials for `r`'s registry in place.
    async fn client_for(&self, r: &Reference) -> Result<&Client, Error> {
        let registry = r.resolve_registry().to_owned();
        let mut authed = self.authed.lock().await;
        if !authed.contains(&registry) {
            let found = self.keychain.lookup(&registry)?;
            debug!(registry, source = %found.source, "registry credentials");
            if let Ok(mut sources) = self.sources.lock() {
                sources.insert(registry.clone(), found.source.clone());
            }
            self.client
                .store_auth_if_needed(&registry, &found.auth)
                .await;
            authed.insert(registry);
        }
        Ok(&self.client)
    }

    /// Run `op` with bounded retries; `action` names it in errors.
    async fn retry<T, F, Fut>(&self, r: &Reference, action: &str, op: F) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let start = Instant::now();
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match op().await.map_err(classify) {
                Ok(v) => return Ok(v),
                Err(Failure::Transient(e))
                    if attempt < ATTEMPTS && start.elapsed() + delay < RETRY_BUDGET =>
                {
                    // Full jitter: a random wait up to the current backoff step.
                    let wait = delay.mul_f64(0.5 + fastrand::f64() / 2.0);
                    warn!(
                        registry = r.resolve_registry(),
                        attempt,
                        "{action}: {} (retrying in {wait:?})",
                        detail(&e)
                    );
                    tokio::time::sleep(wait).await;
                    delay = (delay * 3).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(Failure::Transient(e) | Failure::Permanent(e)) => {
                    return Err(self.error(r, action, e));
                }
            }
        }
    }

    fn error(&self, r: &Reference, action: &str, e: OciDistributionError) -> Error {
        let registry = r.resolve_registry().to_owned();
        if is_unauthorized(&e) {
            let source_used = self
                .sources
                .lock()
                .ok()
                .and_then(|s| s.get(&registry).cloned())
                .unwrap_or_else(|| "anonymous".into());
            return Error::Unauthorized {
                registry,
                action: action.to_owned(),
                detail: detail(&e),
                searched: format!(
                    "{} (set `CHAINSEAL_REGISTRY_AUTH_FILES` to a mounted `.dockerconfigjson`)",
                    self.keychain.searched()
                ),
                source_used,
            };
        }
        if is_unreachable(&e) {
            return Error::Unreachable {
                registry,
                action: action.to_owned(),
                detail: detail(&e),
            };
        }
        Error::Registry {
            registry,
            action: action.to_owned(),
            detail: detail(&e),
        }
    }

    /// The manifest at `r` (tag or digest) and its digest; `None` when absent.
    pub async fn manifest(
        &self,
        r: &Reference,
        accept: &[&str],
    ) -> Result<Option<(Vec<u8>, String)>, Error> {
        let client = self.client_for(r).await?;
        let action = format!("reading manifest {}", r.whole());
        let got = self
            .retry(r, &action, || async {
                match client
                    .pull_manifest_raw(r, &oci_client::secrets::RegistryAuth::Anonymous, accept)
                    .await
                {
                    Ok((body, digest)) => Ok(Some((body.to_vec(), digest))),
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(got)
    }

    /// Upload `data` as a blob of `r`'s repository; returns its digest.
    ///
    /// With [`Blob::Shared`] the upload is skipped when the registry already has the
    /// blob (one `HEAD` first). A [`Blob::Fresh`] blob is uploaded straight away: for
    /// small blobs that are almost always new, the `HEAD` is a round trip spent for
    /// nothing. A retry checks first either way, since a failed attempt may have
    /// landed. Either way a blob this process uploaded lately is not uploaded again,
    /// and uploads of one blob take turns.
    pub async fn push_blob(&self, r: &Reference, data: &[u8], kind: Blob) -> Result<String, Error> {
        let client = self.client_for(r).await?;
        let digest = sha256_digest(data);
        let key = format!("{}/{}@{digest}", r.resolve_registry(), r.repository());
        let _held = self.lock(key.clone()).await;
        if self.uploaded_lately(&key, false) {
            return Ok(digest);
        }
        let action = format!("uploading blob {digest} to {}", r.repository());
        let check = std::sync::atomic::AtomicBool::new(kind == Blob::Shared);
        self.retry(r, &action, || async {
            if check.swap(true, std::sync::atomic::Ordering::Relaxed)
                && client.blob_exists(r, &digest).await.unwrap_or(false)
            {
                return Ok(());
            }
            client
                .push_blob(r, bytes::Bytes::copy_from_slice(data), &digest)
                .await
                .map(|_| ())
        })
        .await?;
        self.uploaded_lately(&key, true);
        Ok(digest)
    }

    /// Whether the blob `key` was uploaded by this process lately; `record`: it just
    /// was. Forgets old uploads.
    fn uploaded_lately(&self, key: &str, record: bool) -> bool {
        let mut uploaded = self
            .uploaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        uploaded.retain(|_, at| now.duration_since(*at) < UPLOADS_REMEMBERED);
        if record {
            uploaded.insert(key.to_owned(), now);
        }
        uploaded.contains_key(key)
    }

    /// Whether `r`'s repository has the blob `digest`.
    pub async fn has_blob(&self, r: &Reference, digest: &str) -> Result<bool, Error> {
        let client = self.client_for(r).await?;
        let action = format!("looking for blob {digest} in {}", r.repository());
        self.retry(r, &action, || client.blob_exists(r, digest))
            .await
    }

    /// Upload a manifest to `r` (a tag or digest reference); returns its digest.
    pub async fn push_manifest(
        &self,
        r: &Reference,
        body: &[u8],
        media_type: &str,
    ) -> Result<String, Error> {
        let client = self.client_for(r).await?;
        let action = format!("writing manifest {}", r.whole());
        let content_type = reqwest_header(media_type).map_err(|detail| Error::Registry {
            registry: r.resolve_registry().to_owned(),
            action: action.clone(),
            detail,
        })?;
        self.retry(r, &action, || async {
            client
                .push_manifest_raw(r, bytes::Bytes::copy_from_slice(body), content_type.clone())
                .await
        })
        .await?;
        Ok(sha256_digest(body))
    }

    /// Download a blob of `r`'s repository, checking its digest.
    pub async fn blob(&self, r: &Reference, digest: &str, size: i64) -> Result<Vec<u8>, Error> {
        let client = self.client_for(r).await?;
        let action = format!("reading blob {digest} from {}", r.repository());
        let descriptor = oci_client::manifest::OciDescriptor {
            digest: digest.to_owned(),
            size,
            ..Default::default()
        };
        self.retry(r, &action, || async {
            let mut out = Vec::new();
            client.pull_blob(r, &descriptor, &mut out).await?;
            Ok(out)
        })
        .await
    }

    /// The OCI 1.1 referrers of `r` (a digest reference) with `artifact_type`: the
    /// referrers API where the registry has it, else the referrers tag schema.
    pub async fn referrers(
        &self,
        r: &Reference,
        artifact_type: Option<&str>,
    ) -> Result<oci_client::manifest::OciImageIndex, Error> {
        let client = self.client_for(r).await?;
        let action = format!("listing referrers of {}", r.whole());
        self.retry(r, &action, || async {
            client.pull_referrers(r, artifact_type).await
        })
        .await
    }
}

/// Whether the registry was never reached (connection, timeout, I/O).
fn is_unreachable(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) => r.is_connect() || r.is_timeout(),
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

fn reqwest_header(media_type: &str) -> Result<http::HeaderValue, String> {
    http::HeaderValue::from_str(media_type).map_err(|e| format!("media type `{media_type}`: {e}"))
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", lower_hex(&sha2::Sha256::digest(data)))
}

/// Bytes as lower-case hex.
pub fn lower_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Parse an image reference (`registry/repo@sha256:…`, `registry/repo[:tag]`),
/// normalised as go-containerregistry does ([`crate::reference`]).
///
/// `oci-client`'s own parser compiles the full Docker reference grammar as one
/// Unicode regex on first use, which measured 40–60 ms of CPU per process: more than
/// all the rest of an `attest` run. This parser builds the same references directly.
pub fn parse_reference(text: &str) -> Result<Reference, Error> {
    use crate::reference::DigestReference;
    let invalid = |reason: String| Error::InvalidReference {
        reference: text.to_owned(),
        reason,
    };
    if text.contains("://") {
        return Err(invalid(
            "it is a URL, not `registry/repository@sha256:<hex>`".into(),
        ));
    }
    if text.contains('@') {
        let r = DigestReference::parse(text).map_err(|e| invalid(e.reason.to_owned()))?;
        return Ok(Reference::with_digest(
            r.registry.clone(),
            r.repository.clone(),
            r.digest(),
        ));
    }
    let (name, tag) = match text.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (text, None),
    };
    let tag = tag.unwrap_or("latest");
    if tag.is_empty()
        || tag.len() > 128
        || !tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(invalid(format!("`{tag}` is not a valid tag")));
    }
    let r = DigestReference::parse(&format!("{name}@sha256:{}", "0".repeat(64)))
        .map_err(|e| invalid(e.reason.to_owned()))?;
    Ok(Reference::with_tag(
        r.registry.clone(),
        r.repository.clone(),
        tag.to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (caught by the fault-proxy test): oci-client reports a failed `HEAD`
    /// of a blob as a bare status, which was neither retried (500) nor recognised as
    /// a credentials problem (401).
    #[test]
    fn bare_statuses_are_retried_or_name_the_credentials() {
        let status = |code: u16| {
            let response = http::Response::builder()
                .status(code)
                .body("")
                .expect("response");
            let e = reqwest::Response::from(response)
                .error_for_status()
                .expect_err("an error status");
            OciDistributionError::from(e)
        };
        assert!(matches!(classify(status(500)), Failure::Transient(_)));
        assert!(matches!(classify(status(503)), Failure::Transient(_)));
        assert!(matches!(classify(status(429)), Failure::Transient(_)));
        assert!(matches!(classify(status(404)), Failure::Permanent(_)));
        assert!(matches!(classify(status(401)), Failure::Permanent(_)));
        assert!(is_unauthorized(&status(401)));
        assert!(is_unauthorized(&status(403)));
        assert!(!is_unauthorized(&status(500)));
    }

    #[test]
    fn references_parse_without_the_regex_and_normalise_like_ggcr() {
        let hex = "a".repeat(64);
        let r = parse_reference(&format!("127.0.0.1:5000/team/app@sha256:{hex}")).expect("digest");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "team/app");
        assert_eq!(r.digest(), Some(format!("sha256:{hex}").as_str()));
        let r = parse_reference("busybox").expect("short name");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("index.docker.io", "library/busybox", Some("latest"))
        );
        let r = parse_reference("localhost:5000/x/y:v1").expect("tag with port");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("localhost:5000", "x/y", Some("v1"))
        );
        assert!(parse_reference("127.0.0.1:5000/Team/App").is_err());
        assert!(parse_reference("gs://bucket/file@sha256:0").is_err());
        assert!(parse_reference(&format!("gs://bucket/hello.tar.gz@sha256:{hex}")).is_err());
        assert!(parse_reference("reg.io/x:bad tag").is_err());
    }
}
