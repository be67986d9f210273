//! OCI registry access for storage and verification.
//!
//! [`Registry`] is what the rest of chainseal uses: credentials from docker config
//! files ([`auth`]), read again after a refusal and every few minutes; plain HTTP only
//! for the registries listed as insecure (or, with [`Settings::insecure_everywhere`],
//! any registry without TLS verification or over plain HTTP); bounded retries with backoff and jitter on
//! 5xx, 429 and connection errors; and errors that name the registry, the action and
//! the status (never a response body). The HTTP side is chainseal's own
//! ([`transport`]): registries are named by untrusted runs, so redirects, token
//! services, addresses and reply sizes are checked there. Documents are typed
//! ([`manifest`]). [`cosign`] writes and reads cosign's tag layout
//! (`sha256-<hex>.att` / `.sig`), [`referrers`] OCI 1.1 referrers (Sigstore bundles).
//! `oci-client` provides the reference and credential types.

// Everything here reads what runs, registries and the cluster return.
#![warn(clippy::indexing_slicing)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oci_client::Reference;
use thiserror::Error;
use tracing::{debug, warn};

use crate::env_vars::EnvVars;
use crate::error_kind::Kind;

pub mod auth;
pub mod cloud_keychains;
pub mod cosign;
pub mod manifest;
pub mod referrers;
pub mod transport;

/// The most read of a registry's reply to a write (an upload or a manifest put): the
/// body is never needed, only the status and headers.
const WRITE_REPLY_BYTES: u64 = 64 << 10;

/// Registry errors. Messages name the registry and what to check.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry wants credentials it did not get, or refused them.
    #[error(
        "{registry}: {action}: not authorized; credentials were looked for in {searched} (found: {source_used})"
    )]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// What was being done.
        action: String,
        /// Where credentials were looked for.
        searched: String,
        /// Which credentials were used.
        source_used: String,
        /// The credentials were anonymous because a cloud keychain failed in passing:
        /// the refusal is a passing failure too ([`Kind::Unavailable`]).
        passing: bool,
        /// The registry's answer.
        #[source]
        failure: Box<transport::Failure>,
    },
    /// The registry could not be reached (after retries).
    #[error(
        "{registry}: {action} (is the registry reachable? for plain HTTP list it in `CHAINSEAL_INSECURE_REGISTRIES`)"
    )]
    Unreachable {
        /// Registry host.
        registry: String,
        /// What was being done.
        action: String,
        /// Cause.
        #[source]
        failure: Box<transport::Failure>,
    },
    /// Any other refusal by the registry (after retries, for transient ones).
    #[error("{registry}: {action}")]
    Registry {
        /// Registry host.
        registry: String,
        /// What was being done.
        action: String,
        /// The registry's answer.
        #[source]
        failure: Box<transport::Failure>,
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

impl Error {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> Kind {
        match self {
            Self::Unauthorized { passing: true, .. } => Kind::Unavailable,
            Self::Unauthorized { failure, .. }
            | Self::Unreachable { failure, .. }
            | Self::Registry { failure, .. } => failure.kind(),
            Self::InvalidReference { .. } | Self::Content { .. } => Kind::Invalid,
            Self::Credentials { .. } => Kind::Unauthenticated,
        }
    }
}

/// Registry settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Hosts (`host[:port]`) reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Every other registry is reached over https without certificate verification,
    /// or over plain HTTP when it does not speak https (Chains'
    /// `storage.oci.repository.insecure`: go-containerregistry's `name.Insecure` with
    /// an `InsecureSkipVerify` transport). Dangerous; the redirect and address checks
    /// of [`transport`] still apply.
    pub insecure_everywhere: bool,
    /// Docker config / `.dockerconfigjson` files read before the docker configuration.
    pub auth_files: Vec<PathBuf>,
    /// The cloud keychains asked when nothing else has credentials for a registry
    /// (`CHAINSEAL_REGISTRY_KEYCHAINS`; none by default here, all from the settings).
    pub keychains: Vec<cloud_keychains::Cloud>,
}

/// Debug builds only (the integration tests' controller processes, whose registries
/// listen on loopback): `TEST_CHAINSEAL_UNVERIFIED_INTERNAL=1` gives registries on
/// internal addresses `insecure_everywhere`'s treatment too. Release builds ignore it.
fn test_seam(transport: transport::Transport) -> transport::Transport {
    if cfg!(debug_assertions)
        && std::env::var(EnvVars::TEST_CHAINSEAL_UNVERIFIED_INTERNAL).as_deref() == Ok("1")
    {
        transport.unverified_internal_for_tests()
    } else {
        transport
    }
}

/// Retry bounds: attempts and total time.
const ATTEMPTS: u32 = 5;
const RETRY_BUDGET: Duration = Duration::from_secs(60);
/// How long credentials read for a registry are used before they are read again (a
/// rotated Secret is picked up); a refusal re-reads them at once.
const CREDENTIALS_FRESH: Duration = Duration::from_secs(300);

/// A registry client with credentials, retries and readable errors.
pub struct Registry {
    transport: transport::Transport,
    keychain: auth::Keychain,
    /// The cloud keychains, shared by every client of the process.
    cloud: Arc<cloud_keychains::CloudKeychains>,
    /// Each registry's credentials, where they came from, and when they were read.
    credentials: tokio::sync::Mutex<HashMap<String, (auth::Found, Instant)>>,
    /// One credential lookup per registry at a time, of this client only: a run's
    /// client whose pull secret answers never waits for another's cloud fetch.
    lookups: Locks,
    /// The in-process locks of [`Registry::lock`]: one per tag being read, changed and
    /// written back (cosign tags, the referrers tag schema's index) and per blob being
    /// uploaded, so this process's own concurrent writes never collide.
    locks: Arc<Locks>,
    /// Blobs this process uploaded lately (`<registry>/<repository>@<digest>` → when),
    /// so a blob several writes share (one envelope for subjects in one repository, the
    /// empty config) is uploaded once: distribution 2.8 rewrites a blob's link on every
    /// upload, and refuses a manifest naming the blob at that moment as unknown.
    uploaded: Arc<std::sync::Mutex<HashMap<String, Instant>>>,
}

/// How long an upload is remembered: longer than one run's writes take, retries
/// included (`RETRY_BUDGET`), and short, since a blob remembered but gone (a repository
/// deleted and made again) fails the manifests naming it until it is forgotten.
const UPLOADS_REMEMBERED: Duration = Duration::from_secs(120);

pub(crate) type Locks =
    std::sync::Mutex<std::collections::BTreeMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>;

/// Hold the lock named `key` of `locks` (made on first use; locks nobody holds or
/// waits for are forgotten, since a controller runs for months).
pub(crate) async fn hold(locks: &Locks, key: String) -> tokio::sync::OwnedMutexGuard<()> {
    let lock = {
        let mut locks = locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
        locks.entry(key).or_default().clone()
    };
    lock.lock_owned().await
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
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

/// A reply's `Location` with `digest=` added: where an upload's bytes go.
fn upload_target(reply: &transport::Reply, digest: &str) -> Result<String, transport::Failure> {
    let location = reply
        .headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            transport::Failure::Refused("the registry gave no upload location".into())
        })?;
    let join = if location.contains('?') { '&' } else { '?' };
    Ok(format!("{location}{join}digest={digest}"))
}

impl Registry {
    /// Hold the in-process lock named `key` (a whole tag reference, or a blob's
    /// repository and digest) while what it names is read, changed and written back.
    pub(crate) async fn lock(&self, key: String) -> tokio::sync::OwnedMutexGuard<()> {
        hold(&self.locks, key).await
    }

    /// For tests on loopback only: see [`transport::Transport::unverified_internal_for_tests`].
    #[doc(hidden)]
    #[must_use]
    pub fn unverified_internal_for_tests(mut self) -> Self {
        self.transport = self.transport.unverified_internal_for_tests();
        self
    }

    /// A client for `settings`.
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        Ok(Self {
            transport: test_seam(
                transport::Transport::new(settings.insecure.clone())
                    .insecure_everywhere(settings.insecure_everywhere),
            ),
            keychain: auth::Keychain::new(settings.auth_files.clone()),
            cloud: Arc::new(cloud_keychains::CloudKeychains::new(
                settings.keychains.clone(),
            )),
            credentials: Default::default(),
            lookups: Default::default(),
            locks: Default::default(),
            uploaded: Default::default(),
        })
    }

    /// The same client with a run's pull secrets looked up first (their `auths` only):
    /// the registry clients, tag locks and upload memory are shared, the credentials
    /// and the tokens exchanged for them are its own.
    pub fn with_pull_secrets(&self, secrets: Vec<auth::PullSecret>) -> Self {
        Self {
            transport: self.transport.sharing_hosts(),
            keychain: self.keychain.clone().with_pull_secrets(secrets),
            cloud: self.cloud.clone(),
            credentials: Default::default(),
            lookups: Default::default(),
            locks: self.locks.clone(),
            uploaded: self.uploaded.clone(),
        }
    }

    /// The credentials for `registry`: read again when older than
    /// [`CREDENTIALS_FRESH`] or when `stale` (the registry refused them).
    async fn credentials(&self, registry: &str, stale: bool) -> Result<auth::Found, Error> {
        // One lookup per registry at a time: calls arriving meanwhile find it cached.
        let _lookup = hold(&self.lookups, registry.to_owned()).await;
        if !stale
            && let Some((found, at)) = self.credentials.lock().await.get(registry)
            && at.elapsed() < CREDENTIALS_FRESH
        {
            return Ok(found.clone());
        }
        // Files and credential helpers (processes with their own timeout) are read off
        // the async threads and without holding the map, so one slow helper holds up
        // only the registry it is for (whose callers wait for this one lookup).
        let (keychain, name) = (self.keychain.clone(), registry.to_owned());
        let found = tokio::task::spawn_blocking(move || keychain.lookup(&name))
            .await
            .map_err(|e| Error::Credentials {
                path: PathBuf::from(registry),
                reason: format!("the credential lookup stopped: {e}"),
            })??;
        // Nothing configured for it: its cloud's keychain, when it is a cloud registry.
        let found = if found.auth == oci_client::secrets::RegistryAuth::Anonymous
            && let Some(cloud) = self.cloud.lookup(&self.transport, registry, stale).await
        {
            cloud
        } else {
            found
        };
        debug!(registry, source = %found.source, "registry credentials");
        let mut known = self.credentials.lock().await;
        if known
            .get(registry)
            .is_some_and(|(old, _)| old.auth != found.auth)
        {
            self.transport.forget_tokens(registry);
        }
        // Registries are named by runs: keep the map bounded.
        if known.len() >= 256 {
            known.clear();
        }
        known.insert(registry.to_owned(), (found.clone(), Instant::now()));
        Ok(found)
    }

    /// Send `req` for `r`'s registry with bounded retries; `action` names it in errors.
    /// A refusal of the credentials reads them again and tries once more.
    async fn call(
        &self,
        r: &Reference,
        action: &str,
        req: transport::Request<'_>,
    ) -> Result<transport::Reply, Error> {
        self.call_or_absent(r, action, req, false)
            .await?
            .ok_or_else(|| Error::Registry {
                registry: r.resolve_registry().to_owned(),
                action: action.to_owned(),
                failure: Box::new(transport::Failure::Status {
                    status: 404,
                    code: None,
                }),
            })
    }

    /// [`Registry::call`]; with `absent_ok`, "not found" is `None`.
    async fn call_or_absent(
        &self,
        r: &Reference,
        action: &str,
        req: transport::Request<'_>,
        absent_ok: bool,
    ) -> Result<Option<transport::Reply>, Error> {
        let registry = r.resolve_registry();
        let start = Instant::now();
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        // `reread`: the credentials were refused once (one more try with them read
        // again); `refresh`: read them again for this attempt only.
        let mut reread = false;
        let mut refresh = false;
        loop {
            let found = self
                .credentials(registry, std::mem::take(&mut refresh))
                .await?;
            match self.transport.send(registry, &req, &found.auth).await {
                Ok(reply) => return Ok(Some(reply)),
                Err(e) if absent_ok && e.is_not_found() => return Ok(None),
                Err(e) if e.is_unauthorized() && !reread => {
                    debug!(registry, "{action}: {e}; reading the credentials again");
                    reread = true;
                    refresh = true;
                }
                Err(e)
                    if e.is_transient()
                        && attempt < ATTEMPTS
                        && start.elapsed() + delay < RETRY_BUDGET =>
                {
                    // Full jitter: a random wait up to the current backoff step.
                    let wait = delay.mul_f64(0.5 + fastrand::f64() / 2.0);
                    warn!(registry, attempt, "{action}: {e} (retrying in {wait:?})");
                    tokio::time::sleep(wait).await;
                    delay = (delay * 3).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(e) => return Err(self.error(r, action, e, Some(&found))),
            }
        }
    }

    fn error(
        &self,
        r: &Reference,
        action: &str,
        e: transport::Failure,
        found: Option<&auth::Found>,
    ) -> Error {
        let registry = r.resolve_registry().to_owned();
        if e.is_unauthorized() {
            let cloud = self
                .cloud
                .searched(&registry)
                .map(|k| format!(", {k}"))
                .unwrap_or_default();
            return Error::Unauthorized {
                registry,
                action: action.to_owned(),
                failure: Box::new(e),
                searched: format!(
                    "{}{cloud} (set `CHAINSEAL_REGISTRY_AUTH_FILES` to a mounted `.dockerconfigjson`)",
                    self.keychain.searched(),
                ),
                source_used: found.map(|f| f.source.clone()).unwrap_or_default(),
                passing: found.is_some_and(|f| f.passing),
            };
        }
        if e.is_unreachable() {
            return Error::Unreachable {
                registry,
                action: action.to_owned(),
                failure: Box::new(e),
            };
        }
        Error::Registry {
            registry,
            action: action.to_owned(),
            failure: Box::new(e),
        }
    }

    /// The manifest at `r` (tag or digest) and its digest; `None` when absent. At most
    /// [`manifest::MAX_MANIFEST_BYTES`] are read; one asked for by digest must match it.
    pub async fn manifest(
        &self,
        r: &Reference,
        accept: &[&str],
    ) -> Result<Option<(Vec<u8>, String)>, Error> {
        let action = format!("reading manifest {}", r.whole());
        let wanted = tag_or_digest(r);
        let req = transport::Request {
            method: http::Method::GET,
            repository: r.repository(),
            path: format!("manifests/{wanted}"),
            accept,
            content_type: None,
            body: None,
            limit: manifest::MAX_MANIFEST_BYTES as u64,
            op: transport::Op::Pull,
        };
        let Some(reply) = self.call_or_absent(r, &action, req, true).await? else {
            return Ok(None);
        };
        let digest = sha256_digest(&reply.body);
        if let Some(expected) = r.digest()
            && expected != digest
        {
            return Err(Error::Content {
                location: r.whole(),
                reason: format!("the registry returned a manifest whose digest is {digest}"),
            });
        }
        Ok(Some((reply.body, digest)))
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
        let digest = sha256_digest(data);
        let key = format!("{}/{}@{digest}", r.resolve_registry(), r.repository());
        let _held = self.lock(key.clone()).await;
        if self.uploaded_lately(&key, false) {
            return Ok(digest);
        }
        let mut check = kind == Blob::Shared;
        let mut attempt = 1;
        loop {
            let result = async {
                if check && self.has_blob(r, &digest).await? {
                    return Ok(());
                }
                self.upload(r, data, &digest).await
            }
            .await;
            match result {
                Ok(()) => break,
                // Each step retries on its own; one more round re-checks the blob, since
                // a failed upload may have landed.
                Err(e @ (Error::Registry { .. } | Error::Unreachable { .. })) if attempt < 2 => {
                    debug!("{e}; checking the blob before uploading again");
                    check = true;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
        self.uploaded_lately(&key, true);
        Ok(digest)
    }

    /// A monolithic upload: `POST` for a location, `PUT` the bytes there.
    async fn upload(&self, r: &Reference, data: &[u8], digest: &str) -> Result<(), Error> {
        let action = format!("uploading blob {digest} to {}", r.repository());
        let started = self
            .call(
                r,
                &action,
                transport::Request {
                    method: http::Method::POST,
                    repository: r.repository(),
                    path: "blobs/uploads/".into(),
                    accept: &[],
                    content_type: None,
                    body: None,
                    limit: WRITE_REPLY_BYTES,
                    op: transport::Op::Push,
                },
            )
            .await?;
        let put = upload_target(&started, digest).map_err(|e| self.error(r, &action, e, None))?;
        self.call(
            r,
            &action,
            transport::Request {
                method: http::Method::PUT,
                repository: r.repository(),
                path: put,
                accept: &[],
                content_type: Some("application/octet-stream"),
                body: Some(bytes::Bytes::copy_from_slice(data)),
                limit: WRITE_REPLY_BYTES,
                op: transport::Op::Push,
            },
        )
        .await?;
        Ok(())
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
        let action = format!("looking for blob {digest} in {}", r.repository());
        let req = transport::Request {
            method: http::Method::HEAD,
            repository: r.repository(),
            path: format!("blobs/{digest}"),
            accept: &[],
            content_type: None,
            body: None,
            limit: 0,
            op: transport::Op::Pull,
        };
        Ok(self.call_or_absent(r, &action, req, true).await?.is_some())
    }

    /// Upload a manifest to `r` (a tag or digest reference); returns its digest.
    pub async fn push_manifest(
        &self,
        r: &Reference,
        body: &[u8],
        media_type: &str,
    ) -> Result<String, Error> {
        let action = format!("writing manifest {}", r.whole());
        let wanted = tag_or_digest(r);
        self.call(
            r,
            &action,
            transport::Request {
                method: http::Method::PUT,
                repository: r.repository(),
                path: format!("manifests/{wanted}"),
                accept: &[],
                content_type: Some(media_type),
                body: Some(bytes::Bytes::copy_from_slice(body)),
                limit: WRITE_REPLY_BYTES,
                op: transport::Op::Push,
            },
        )
        .await?;
        Ok(sha256_digest(body))
    }

    /// Download a blob of `r`'s repository, checking its digest; at most `size` bytes
    /// (its descriptor's) and never more than [`manifest::MAX_BLOB_BYTES`].
    pub async fn blob(&self, r: &Reference, digest: &str, size: u64) -> Result<Vec<u8>, Error> {
        let action = format!("reading blob {digest} from {}", r.repository());
        if !manifest::is_sha256_digest(digest) {
            return Err(Error::Content {
                location: r.whole(),
                reason: "a descriptor names a blob by something other than `sha256:<hex>`".into(),
            });
        }
        if size > manifest::MAX_BLOB_BYTES {
            return Err(Error::Content {
                location: format!("{} blob {digest}", r.whole()),
                reason: format!(
                    "its descriptor says {size} bytes, over the {} byte limit",
                    manifest::MAX_BLOB_BYTES
                ),
            });
        }
        let reply = self
            .call(
                r,
                &action,
                transport::Request {
                    method: http::Method::GET,
                    repository: r.repository(),
                    path: format!("blobs/{digest}"),
                    accept: &[],
                    content_type: None,
                    body: None,
                    limit: size,
                    op: transport::Op::Pull,
                },
            )
            .await?;
        if sha256_digest(&reply.body) != digest {
            return Err(Error::Content {
                location: format!("{} blob {digest}", r.whole()),
                reason: "the registry returned content with another digest".into(),
            });
        }
        Ok(reply.body)
    }

    /// The OCI 1.1 referrers of `r` (a digest reference) with `artifact_type`: the
    /// referrers API where the registry has it, else the referrers tag schema.
    pub async fn referrers(
        &self,
        r: &Reference,
        artifact_type: Option<&str>,
    ) -> Result<manifest::ImageIndex, Error> {
        let action = format!("listing referrers of {}", r.whole());
        let digest = r.digest().ok_or_else(|| Error::InvalidReference {
            reference: r.whole(),
            reason: "referrers need a digest reference".into(),
        })?;
        let mut path = format!("referrers/{digest}");
        if let Some(t) = artifact_type {
            path.push_str("?artifactType=");
            path.push_str(
                &percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC)
                    .to_string(),
            );
        }
        let req = transport::Request {
            method: http::Method::GET,
            repository: r.repository(),
            path,
            accept: &[manifest::OCI_INDEX],
            content_type: None,
            body: None,
            limit: manifest::MAX_MANIFEST_BYTES as u64,
            op: transport::Op::Pull,
        };
        let body = match self.call_or_absent(r, &action, req, true).await? {
            Some(reply) => Some(reply.body),
            // No referrers API: the referrers tag schema.
            None => {
                let tag = referrers::fallback_tag(r, digest);
                self.manifest(&tag, &[manifest::OCI_INDEX])
                    .await?
                    .map(|(body, _)| body)
            }
        };
        let mut index = match body {
            Some(body) => manifest::ImageIndex::parse(&body).map_err(|e| Error::Content {
                location: format!("referrers of {}", r.whole()),
                reason: e.to_string(),
            })?,
            None => manifest::ImageIndex {
                schema_version: 2,
                media_type: Some(manifest::OCI_INDEX.into()),
                manifests: Vec::new(),
            },
        };
        if let Some(t) = artifact_type {
            index
                .manifests
                .retain(|m| m.artifact_type.as_deref().is_none_or(|a| a == t));
        }
        Ok(index)
    }
}

/// What names `r`'s manifest in a request path: its digest, else its tag.
fn tag_or_digest(r: &Reference) -> &str {
    r.digest().or(r.tag()).unwrap_or("latest")
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Parse an image reference (`registry/repo@sha256:…`, `registry/repo[:tag]`),
/// normalised as go-containerregistry does ([`crate::reference`]).
///
/// `oci-client`'s own parser compiles the full Docker reference grammar as one
/// Unicode regex on first use, which measured 40–60 ms of CPU per process: more than
/// all the rest of an `attest` run. This parser builds the same references directly.
pub fn parse_reference(text: &str) -> Result<Reference, Error> {
    let r = crate::reference::ImageReference::parse(text).map_err(|e| Error::InvalidReference {
        reference: text.to_owned(),
        reason: e.reason.to_owned(),
    })?;
    Ok(match r.sha256 {
        Some(hex) => Reference::with_digest(r.registry, r.repository, format!("sha256:{hex}")),
        None => Reference::with_tag(
            r.registry,
            r.repository,
            r.tag.unwrap_or_else(|| "latest".to_owned()),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (#18): registry credentials were read once for the client's life, so
    /// a rotated `.dockerconfigjson` was never used. They are read again when the
    /// registry refuses them (`stale`) and when older than `CREDENTIALS_FRESH`.
    #[tokio::test]
    async fn credentials_are_read_again_when_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.json");
        let write = |auth: &str| {
            std::fs::write(
                &file,
                format!(r#"{{"auths":{{"reg.example.com":{{"auth":"{auth}"}}}}}}"#),
            )
            .expect("write")
        };
        write("b2xkOm9sZA=="); // old:old
        let registry = Registry::new(&Settings {
            auth_files: vec![file.clone()],
            ..Settings::default()
        })
        .expect("registry");
        let basic = |found: auth::Found| match found.auth {
            oci_client::secrets::RegistryAuth::Basic(user, _) => user,
            _ => String::new(),
        };
        let first = registry
            .credentials("reg.example.com", false)
            .await
            .expect("read");
        assert_eq!(basic(first), "old");
        write("bmV3Om5ldw=="); // new:new (the Secret was rotated)
        let cached = registry
            .credentials("reg.example.com", false)
            .await
            .expect("read");
        assert_eq!(basic(cached), "old", "fresh credentials are not read again");
        let refused = registry
            .credentials("reg.example.com", true)
            .await
            .expect("read");
        assert_eq!(basic(refused), "new");
        // And after `CREDENTIALS_FRESH` without a refusal.
        write("b2xkOm9sZA==");
        if let Some((_, at)) = registry.credentials.lock().await.get_mut("reg.example.com") {
            *at = Instant::now()
                .checked_sub(CREDENTIALS_FRESH * 2)
                .expect("past");
        }
        let aged = registry
            .credentials("reg.example.com", false)
            .await
            .expect("read");
        assert_eq!(basic(aged), "old");
    }

    /// Review of #24: a run's client looked its credentials up under a lock shared by
    /// every client of the process, so a run whose pull secret answers waited for
    /// another client's cloud fetch (up to 20 s) for the same registry.
    #[tokio::test]
    async fn a_run_s_credential_lookup_waits_for_no_other_client() {
        let base = Registry::new(&Settings::default()).expect("registry");
        let data = std::collections::BTreeMap::from([(
            ".dockerconfigjson".to_owned(),
            crate::secret::SecretBytes::new(
                br#"{"auths":{"reg.example.com":{"auth":"cnVuOnJ1bg=="}}}"#.to_vec(),
            ),
        )]);
        let secret =
            auth::PullSecret::from_secret_data("team/regcred".into(), &data).expect("secret");
        let run = base.with_pull_secrets(vec![secret]);
        // The base client is in the middle of a lookup for the same registry.
        let _busy = hold(&base.lookups, "reg.example.com".to_owned()).await;
        let found = tokio::time::timeout(
            Duration::from_secs(5),
            run.credentials("reg.example.com", false),
        )
        .await
        .expect("not held up by the other client's lookup")
        .expect("found");
        assert!(
            matches!(found.auth, oci_client::secrets::RegistryAuth::Basic(ref u, _) if u == "run"),
            "{}",
            found.source
        );
    }

    /// Review of #24: a refusal of anonymous credentials that a cloud keychain's
    /// passing failure left is itself passing (retried as unavailable), not a
    /// credentials error.
    #[test]
    fn a_refusal_after_a_passing_keychain_failure_is_unavailable() {
        let base = Registry::new(&Settings::default()).expect("registry");
        let r = parse_reference("gcr.io/p/app:v1").expect("reference");
        let refused = || transport::Failure::Status {
            status: 401,
            code: Some("UNAUTHORIZED".into()),
        };
        let mut found = auth::Found {
            auth: oci_client::secrets::RegistryAuth::Anonymous,
            source: "anonymous (the Google keychain gave none: HTTP 503)".into(),
            passing: true,
        };
        let e = base.error(&r, "pushing", refused(), Some(&found));
        assert_eq!(e.kind(), Kind::Unavailable, "{e}");
        assert!(e.to_string().contains("HTTP 503"), "{e}");
        found.passing = false;
        let e = base.error(&r, "pushing", refused(), Some(&found));
        assert_eq!(e.kind(), Kind::Unauthenticated, "{e}");
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
