//! Transparency and timestamps: Rekor uploads and RFC 3161 timestamps.
//!
//! Rekor v1, as Tekton Chains uses it: a `dsse` v0.0.1 entry for each attestation
//! (the envelope, and the certificate or public key that verifies it) and a
//! `hashedrekord` v0.0.1 entry for each image signature. A 409 ("already exists")
//! counts as success: the existing entry is read back. Rekor v2 ([`rekor_v2`]):
//! `hashedrekord` v0.0.2 entries for both, a DSSE envelope logged over its PAE. The
//! API version is given (a signing config) or detected once per client.
//!
//! The `sigstore` crate's Rekor client has no `dsse` kind (neither to send nor to
//! parse) and no Rekor v2, so the few calls are made here with reqwest.

pub mod instance;
pub mod rekor_v2;
pub mod rfc3161;
pub mod signing_config;
pub mod tsa;

pub use signing_config::{Selected, Services, SigningConfig};
pub use tsa::{Timestamp, Tsa};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::envelope::Envelope;
use crate::error_kind::Kind;

/// The public-good Rekor.
pub const DEFAULT_REKOR_URL: &str = "https://rekor.sigstore.dev";

/// When to upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Never.
    #[default]
    Off,
    /// Always.
    On,
    /// Only runs annotated `chains.tekton.dev/transparency-upload: "true"`.
    Manual,
}

/// A `CHAINSEAL_TRANSPARENCY` value that is no [`Mode`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`CHAINSEAL_TRANSPARENCY` is `{0}`: use on, off or manual")]
pub struct UnknownMode(pub String);

impl std::str::FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" => Ok(Self::On),
            "off" | "false" => Ok(Self::Off),
            "manual" => Ok(Self::Manual),
            other => Err(UnknownMode(other.to_owned())),
        }
    }
}

impl Mode {
    /// Whether a run's signatures are logged: always (`on`), never (`off`), or
    /// (`manual`, as Chains) when the run's `chains.tekton.dev/transparency-upload`
    /// annotation (`upload`) is `"true"` and it has no log entry yet (`logged`).
    pub fn wants(self, upload: Option<&str>, logged: bool) -> bool {
        match self {
            Self::On => true,
            Self::Off => false,
            Self::Manual => upload == Some("true") && !logged,
        }
    }
}

/// Transparency settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// When to upload.
    pub mode: Mode,
    /// Rekor's base URL (the shortcut for a one-log signing config).
    pub url: String,
    /// Timestamp authorities' endpoints (the shortcut for TSAs of a signing config).
    pub tsa_urls: Vec<String>,
    /// A SigningConfig (file or https URL) that replaces the shortcuts.
    pub signing_config: Option<String>,
    /// Write Sigstore bundles in file storage.
    pub bundle: bool,
}

/// The largest signing config read.
const MAX_SIGNING_CONFIG_BYTES: u64 = 1 << 20;

impl Settings {
    /// The services to sign with: the signing config's selection at this moment, or
    /// the shortcuts' (`url`, `tsa_urls`).
    pub async fn services(&self) -> Result<Services, Error> {
        let services = self.select().await?;
        let fulcio = services.fulcio.iter().map(|u| (u, "Fulcio"));
        let logs = services
            .logs
            .candidates
            .iter()
            .map(|(u, _)| (u, "transparency log"));
        let tsas = (services.tsas.candidates.iter()).map(|(u, _)| (u, "timestamp authority"));
        if let Some((_, what)) = fulcio
            .chain(logs)
            .chain(tsas)
            .find(|(u, _)| crate::http::has_credentials(u))
        {
            return Err(Error::Credentials { what });
        }
        Ok(services)
    }

    async fn select(&self) -> Result<Services, Error> {
        let Some(location) = &self.signing_config else {
            return Ok(Services::from_urls(&self.url, &self.tsa_urls));
        };
        // Shown without credentials; fetched with them.
        let origin = &crate::http::redacted(location);
        let bytes = if location.starts_with("https://") || is_loopback_http(location) {
            let client = crate::http::client().map_err(|source| Error::Unreachable {
                service: "signing config",
                url: origin.clone(),
                source,
            })?;
            let reply = send_with_retry("signing config", origin, MAX_SIGNING_CONFIG_BYTES, || {
                client.get(location)
            })
            .await?;
            if !reply.status.is_success() {
                return Err(Error::Refused {
                    service: "signing config",
                    url: origin.clone(),
                    action: "fetching the signing config: ".into(),
                    status: reply.status,
                    message: format!(": {}", reply.message()),
                });
            }
            reply.body
        } else if location.starts_with("http://") {
            return Err(Error::SigningConfig {
                origin: origin.clone(),
                source: signing_config::Error::Insecure,
            });
        } else {
            std::fs::read(location).map_err(|source| Error::SigningConfigUnreadable {
                origin: origin.clone(),
                source,
            })?
        };
        let wrap = |source| Error::SigningConfig {
            origin: origin.clone(),
            source,
        };
        SigningConfig::from_json(&bytes)
            .and_then(|c| c.select(jiff::Timestamp::now().as_second()))
            .map_err(wrap)
    }
}

/// `http://` to this machine (a test's or a sidecar's server).
fn is_loopback_http(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
    })
}

/// Upload failures.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Rekor's reply is not what was asked for.
    #[error("transparency log {url}: {detail}")]
    Rekor {
        /// The endpoint.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The service answered with an error status.
    #[error("{service} {url}: {action}HTTP {status}{message}")]
    Refused {
        /// `transparency log`, `timestamp authority` or `signing config`.
        service: &'static str,
        /// The endpoint.
        url: String,
        /// What was being done (empty, or `reading the existing entry …: `).
        action: String,
        /// The status.
        status: reqwest::StatusCode,
        /// What Rekor said (empty, or `: …`).
        message: String,
    },
    /// The service could not be reached or its reply not read.
    #[error("{service} {url} (is it reachable?)")]
    Unreachable {
        /// `transparency log`, `timestamp authority` or `signing config`.
        service: &'static str,
        /// The endpoint.
        url: String,
        /// Cause.
        #[source]
        source: crate::http::Error,
    },
    /// A timestamp authority's reply is not a usable timestamp.
    #[error("timestamp authority {url}: {detail}")]
    Tsa {
        /// The endpoint.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The signing config cannot be read or used.
    #[error("signing config {origin}")]
    SigningConfig {
        /// The file or URL.
        origin: String,
        /// Cause.
        #[source]
        source: signing_config::Error,
    },
    /// The signing config file cannot be read.
    #[error("cannot read the signing config {origin}")]
    SigningConfigUnreadable {
        /// The file.
        origin: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A service URL with a user name or password in it.
    #[error(
        "the {what} URL carries credentials (`user:password@`): Sigstore services take none there, and chainseal would show them in messages; remove them"
    )]
    Credentials {
        /// `Fulcio`, `transparency log` or `timestamp authority`.
        what: &'static str,
    },
    /// Keyless signing logged in Rekor v2 without a timestamp authority.
    #[error(
        "{0} is a Rekor v2 log, which gives no signed time: keyless signatures logged there need an RFC 3161 timestamp, so set CHAINSEAL_TSA_URL (or list a TSA in the signing config)"
    )]
    NeedsTimestamp(String),
    /// Rekor's reply is not a log entry.
    #[error("transparency log {url}")]
    Entry {
        /// The endpoint.
        url: String,
        /// Cause.
        #[source]
        source: EntryError,
    },
}

impl Error {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> Kind {
        match self {
            Self::Rekor { .. }
            | Self::Entry { .. }
            | Self::Tsa { .. }
            | Self::SigningConfig { .. }
            | Self::Credentials { .. }
            | Self::NeedsTimestamp(_) => Kind::Invalid,
            Self::SigningConfigUnreadable { source, .. } => Kind::from_io(source.kind()),
            Self::Refused { status, .. } => Kind::from_http_status(status.as_u16()),
            Self::Unreachable { source, .. } => source.kind(),
        }
    }
}

/// A Merkle inclusion proof, as Rekor v1 returns it (hashes in hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's index in the tree.
    pub log_index: i64,
    /// The tree size the proof is for.
    pub tree_size: i64,
    /// The root hash, hex.
    pub root_hash: String,
    /// The sibling hashes, hex.
    pub hashes: Vec<String>,
    /// The signed checkpoint (note format).
    pub checkpoint: String,
}

/// A log entry, as the log returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Rekor's base URL.
    pub url: String,
    /// The entry UUID.
    pub uuid: String,
    /// The entry's index in the log.
    pub log_index: i64,
    /// The log's id (hex SHA-256 of its public key).
    pub log_id: String,
    /// When it was integrated (seconds).
    pub integrated_time: i64,
    /// The canonicalised entry body, base64.
    pub body: String,
    /// The entry kind (`dsse`, `hashedrekord`).
    pub kind: String,
    /// The kind's version (`0.0.1` from Rekor v1, `0.0.2` from Rekor v2).
    pub version: String,
    /// The signed entry timestamp (inclusion promise), base64.
    pub signed_entry_timestamp: Option<String>,
    /// The inclusion proof.
    pub inclusion_proof: Option<InclusionProof>,
}

impl LogEntry {
    /// Where the entry is: Chains' `chains.tekton.dev/transparency` value. Rekor v2
    /// has no entry read API (entries are read from its tiles): its value names the
    /// log and index in the same shape, `…/api/v2/log/entries?logIndex=<n>`.
    pub fn location(&self) -> String {
        let api = if self.is_v2() { "v2" } else { "v1" };
        format!(
            "{}/api/{api}/log/entries?logIndex={}",
            self.url.trim_end_matches('/'),
            self.log_index
        )
    }

    /// Whether Rekor v2 made it (no signed entry timestamp, no integrated time).
    pub fn is_v2(&self) -> bool {
        self.version == "0.0.2"
    }

    /// cosign's `dev.sigstore.cosign/bundle` layer annotation (the Rekor bundle).
    pub fn cosign_bundle(&self) -> Value {
        json!({
            "SignedEntryTimestamp": self.signed_entry_timestamp.clone().unwrap_or_default(),
            "Payload": {
                "body": self.body,
                "integratedTime": self.integrated_time,
                "logIndex": self.log_index,
                "logID": self.log_id,
            },
        })
    }

    /// The entry as a Sigstore bundle v0.3 `TransparencyLogEntry` (protobuf JSON:
    /// 64-bit integers as strings, hashes and ids in base64).
    pub fn bundle_entry(&self) -> Value {
        let hex_to_b64 = |h: &str| STANDARD.encode(hex::decode(h).unwrap_or_default());
        let mut entry = json!({
            "logIndex": self.log_index.to_string(),
            "logId": {"keyId": hex_to_b64(&self.log_id)},
            "kindVersion": {"kind": self.kind, "version": self.version},
            "integratedTime": self.integrated_time.to_string(),
            "canonicalizedBody": self.body,
        });
        if let Some(set) = &self.signed_entry_timestamp {
            entry["inclusionPromise"] = json!({"signedEntryTimestamp": set});
        }
        if let Some(p) = &self.inclusion_proof {
            entry["inclusionProof"] = json!({
                "logIndex": p.log_index.to_string(),
                "rootHash": hex_to_b64(&p.root_hash),
                "treeSize": p.tree_size.to_string(),
                "hashes": p.hashes.iter().map(|h| hex_to_b64(h)).collect::<Vec<_>>(),
                "checkpoint": {"envelope": p.checkpoint},
            });
        }
        entry
    }
}

/// A Rekor API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/api/v1` (rekor): `dsse` and `hashedrekord` v0.0.1 entries, with a SET.
    V1,
    /// `/api/v2` (rekor-tiles): `hashedrekord` v0.0.2 entries, no SET.
    V2,
}

/// What verifies a logged signature: the signer's certificate (keyless) or public key.
#[derive(Debug, Clone, Copy)]
pub struct Verifier<'a> {
    /// The certificate or public key, PEM (Rekor v1 entries carry PEM).
    pub pem: &'a str,
    /// The signer's DER SubjectPublicKeyInfo.
    pub public_key_der: &'a [u8],
    /// The certificate, DER, when the signer has one.
    pub certificate_der: Option<&'a [u8]>,
}

/// A Rekor client (v1 or v2).
#[derive(Debug, Clone)]
pub struct Rekor {
    url: String,
    client: reqwest::Client,
    version: tokio::sync::OnceCell<ApiVersion>,
}

/// Send the request `make` builds, retrying as [`crate::http::send_retrying`] does;
/// a request that got no whole reply is [`Error::Unreachable`] for `service` at `url`.
pub(crate) async fn send_with_retry(
    service: &'static str,
    url: &str,
    limit: u64,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<crate::http::Reply, Error> {
    crate::http::send_retrying(url, limit, make)
        .await
        .map_err(|source| Error::Unreachable {
            service,
            url: url.to_owned(),
            source,
        })
}

impl Rekor {
    /// A client for the log at `url`, its API version detected on first use (the
    /// public-good log is v1).
    pub fn new(url: &str) -> Result<Self, Error> {
        let known = (url.trim_end_matches('/') == DEFAULT_REKOR_URL).then_some(ApiVersion::V1);
        Self::with_version(url, known)
    }

    /// A client for the log at `url`, of API version `version` (`None`: detected).
    pub fn with_version(url: &str, version: Option<ApiVersion>) -> Result<Self, Error> {
        let client = crate::http::client().map_err(|source| Error::Unreachable {
            service: "transparency log",
            url: url.to_owned(),
            source,
        })?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            client,
            version: match version {
                Some(v) => tokio::sync::OnceCell::new_with(Some(v)),
                None => tokio::sync::OnceCell::new(),
            },
        })
    }

    /// The log's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The log's API version: given, or detected once (`GET /api/v1/log` answers on
    /// Rekor v1 only).
    pub async fn version(&self) -> Result<ApiVersion, Error> {
        self.version
            .get_or_try_init(|| async {
                let url = format!("{}/api/v1/log", self.url);
                let reply =
                    send_with_retry("transparency log", &url, 1 << 20, || self.client.get(&url))
                        .await?;
                match reply.status.as_u16() {
                    200..=299 => Ok(ApiVersion::V1),
                    404 | 405 | 501 => Ok(ApiVersion::V2),
                    _ => Err(Error::Refused {
                        service: "transparency log",
                        url: url.clone(),
                        action: "detecting the API version: ".into(),
                        status: reply.status,
                        message: format!(": {}", reply.message()),
                    }),
                }
            })
            .await
            .copied()
    }

    /// Log a DSSE envelope, verified by `verifier`: a `dsse` entry (v1), or a
    /// `hashedrekord` over the envelope's PAE with its signature (v2).
    pub async fn upload_dsse(
        &self,
        envelope: &Envelope,
        verifier: &Verifier<'_>,
    ) -> Result<LogEntry, Error> {
        match self.version().await? {
            ApiVersion::V1 => {
                let entry = json!({
                    "apiVersion": "0.0.1",
                    "kind": "dsse",
                    "spec": {"proposedContent": {
                        "envelope": envelope.to_json(),
                        "verifiers": [STANDARD.encode(verifier.pem)],
                    }},
                });
                self.upload_v1(&entry, "dsse").await
            }
            ApiVersion::V2 => {
                self.upload_v2(&envelope.pae(), envelope.first_signature(), verifier)
                    .await
            }
        }
    }

    /// Log a signature over `payload` (e.g. a simple-signing payload).
    pub async fn upload_hashedrekord(
        &self,
        payload: &[u8],
        signature: &[u8],
        verifier: &Verifier<'_>,
    ) -> Result<LogEntry, Error> {
        match self.version().await? {
            ApiVersion::V1 => {
                let entry = json!({
                    "apiVersion": "0.0.1",
                    "kind": "hashedrekord",
                    "spec": {
                        "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}},
                        "signature": {
                            "content": STANDARD.encode(signature),
                            "publicKey": {"content": STANDARD.encode(verifier.pem)},
                        },
                    },
                });
                self.upload_v1(&entry, "hashedrekord").await
            }
            ApiVersion::V2 => self.upload_v2(payload, signature, verifier).await,
        }
    }

    async fn upload_v2(
        &self,
        message: &[u8],
        signature: &[u8],
        verifier: &Verifier<'_>,
    ) -> Result<LogEntry, Error> {
        let url = format!("{}/api/v2/log/entries", self.url);
        let body =
            rekor_v2::request(message, signature, verifier).map_err(|detail| Error::Rekor {
                url: url.clone(),
                detail,
            })?;
        let reply = send_with_retry(
            "transparency log",
            &url,
            crate::http::MAX_REPLY_BYTES as u64,
            || self.client.post(&url).json(&body),
        )
        .await?;
        if !reply.status.is_success() {
            return Err(Error::Refused {
                service: "transparency log",
                url,
                action: String::new(),
                status: reply.status,
                message: format!(": {}", reply.message()),
            });
        }
        rekor_v2::parse_entry(&self.url, &reply.body).map_err(|source| Error::Entry { url, source })
    }

    async fn upload_v1(&self, entry: &Value, kind: &str) -> Result<LogEntry, Error> {
        let url = format!("{}/api/v1/log/entries", self.url);
        let fail = |detail: String| Error::Rekor {
            url: url.clone(),
            detail,
        };
        let reply = send_with_retry(
            "transparency log",
            &url,
            crate::http::MAX_REPLY_BYTES as u64,
            || self.client.post(&url).json(entry),
        )
        .await?;
        let status = reply.status;
        let body = if status.as_u16() == 409 {
            // Already logged: read the existing entry.
            let Some(location) = reply.location else {
                return Err(fail(
                    "HTTP 409: the entry already exists, but Rekor gave no Location".into(),
                ));
            };
            let existing = if location.starts_with("http") {
                location
            } else {
                format!("{}{location}", self.url)
            };
            let found = send_with_retry(
                "transparency log",
                &existing,
                crate::http::MAX_REPLY_BYTES as u64,
                || self.client.get(&existing),
            )
            .await?;
            if !found.status.is_success() {
                return Err(Error::Refused {
                    service: "transparency log",
                    url: url.clone(),
                    action: format!("reading the existing entry {existing}: "),
                    status: found.status,
                    message: String::new(),
                });
            }
            found.body
        } else if !status.is_success() {
            return Err(Error::Refused {
                service: "transparency log",
                url: url.clone(),
                action: String::new(),
                status,
                message: format!(": {}", reply.message()),
            });
        } else {
            reply.body
        };
        parse_entry(&self.url, kind, &body).map_err(|source| Error::Entry { url, source })
    }
}

/// The transparency log signatures go to: the selected logs, tried in order until
/// one takes the entry (a signing config's `ANY` with fallbacks; one log otherwise).
#[derive(Debug, Clone)]
pub struct Log {
    logs: Vec<Rekor>,
}

impl Log {
    /// The clients for `selected` (an API version of 0 is detected).
    pub fn new(selected: &Selected) -> Result<Self, Error> {
        let logs = selected
            .candidates
            .iter()
            .map(|(url, version)| match version {
                1 => Rekor::with_version(url, Some(ApiVersion::V1)),
                2 => Rekor::with_version(url, Some(ApiVersion::V2)),
                _ => Rekor::new(url),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if logs.is_empty() {
            return Err(Error::Rekor {
                url: String::new(),
                detail: "no transparency log is selected (the signing config lists none valid now with API version 1 or 2): set CHAINSEAL_TRANSPARENCY=off to sign without one".into(),
            });
        }
        Ok(Self { logs })
    }

    /// One log.
    pub fn single(rekor: Rekor) -> Self {
        Self { logs: vec![rekor] }
    }

    /// The first log's URL.
    pub fn url(&self) -> &str {
        self.logs.first().map(Rekor::url).unwrap_or_default()
    }

    /// The API version of the first log (detected if need be).
    pub async fn version(&self) -> Result<ApiVersion, Error> {
        match self.logs.first() {
            Some(l) => l.version().await,
            None => Ok(ApiVersion::V1),
        }
    }

    /// [`Rekor::upload_dsse`] on the first log that takes it.
    pub async fn upload_dsse(
        &self,
        envelope: &Envelope,
        verifier: &Verifier<'_>,
    ) -> Result<LogEntry, Error> {
        self.first_taking(|log| Box::pin(log.upload_dsse(envelope, verifier)))
            .await
    }

    /// [`Rekor::upload_hashedrekord`] on the first log that takes it.
    pub async fn upload_hashedrekord(
        &self,
        payload: &[u8],
        signature: &[u8],
        verifier: &Verifier<'_>,
    ) -> Result<LogEntry, Error> {
        self.first_taking(|log| Box::pin(log.upload_hashedrekord(payload, signature, verifier)))
            .await
    }

    /// `upload` on each log in turn until one takes the entry; the first failure
    /// when none does.
    async fn first_taking<'a>(
        &'a self,
        upload: impl Fn(&'a Rekor) -> futures::future::BoxFuture<'a, Result<LogEntry, Error>>,
    ) -> Result<LogEntry, Error> {
        let mut first = None;
        for log in &self.logs {
            match upload(log).await {
                Ok(e) => return Ok(e),
                Err(e) => {
                    tracing::warn!("{}", crate::error_text::joined(&e));
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.unwrap_or_else(|| Error::Rekor {
            url: String::new(),
            detail: "no transparency log is selected".into(),
        }))
    }
}

/// The timestamp authorities signatures are timestamped by: `required` of them, tried
/// in order.
#[derive(Debug, Clone)]
pub struct Timestamping {
    tsas: Vec<Tsa>,
    required: usize,
}

impl Timestamping {
    /// The clients for `selected`; `None` when nothing is required.
    pub fn new(selected: &Selected) -> Result<Option<Self>, Error> {
        if selected.required == 0 {
            return Ok(None);
        }
        let tsas = selected
            .candidates
            .iter()
            .map(|(url, _)| Tsa::new(url))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Self {
            tsas,
            required: selected.required,
        }))
    }

    /// Timestamps over `signature`, from `required` authorities (the next one is asked
    /// when one fails); an error when fewer answered.
    pub async fn timestamp(&self, signature: &[u8]) -> Result<Vec<Timestamp>, Error> {
        let mut out = Vec::new();
        let mut first = None;
        for tsa in &self.tsas {
            if out.len() == self.required {
                break;
            }
            match tsa.timestamp(signature).await {
                Ok(t) => out.push(t),
                Err(e) => {
                    tracing::warn!("{}", crate::error_text::joined(&e));
                    first.get_or_insert(e);
                }
            }
        }
        match (out.len() >= self.required, first) {
            (true, _) => Ok(out),
            (false, Some(e)) => Err(e),
            (false, None) => Err(Error::Tsa {
                url: String::new(),
                detail: format!(
                    "{} timestamps are required but only {} authorities are selected",
                    self.required,
                    self.tsas.len()
                ),
            }),
        }
    }
}

/// Why Rekor's reply is not a log entry.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Not JSON.
    #[error("the reply is not a log entry")]
    NotJson(#[source] serde_json::Error),
    /// An empty object.
    #[error("the reply holds no log entry")]
    Empty,
    /// A field of the entry is missing.
    #[error("the log entry has no {0}")]
    Missing(&'static str),
    /// The inclusion proof has no root hash.
    #[error("the proof has no root hash")]
    NoRootHash,
}

/// Parse Rekor's `{uuid: entry}` reply.
fn parse_entry(url: &str, kind: &str, bytes: &[u8]) -> Result<LogEntry, EntryError> {
    let reply: serde_json::Map<String, Value> =
        serde_json::from_slice(bytes).map_err(EntryError::NotJson)?;
    let (uuid, e) = reply.into_iter().next().ok_or(EntryError::Empty)?;
    let int = |v: &Value, what: &'static str| v.as_i64().ok_or(EntryError::Missing(what));
    let string = |v: &Value| v.as_str().map(str::to_owned);
    let verification = &e["verification"];
    let inclusion_proof = match &verification["inclusionProof"] {
        Value::Null => None,
        p => Some(InclusionProof {
            log_index: int(&p["logIndex"], "proof log index")?,
            tree_size: int(&p["treeSize"], "proof tree size")?,
            root_hash: string(&p["rootHash"]).ok_or(EntryError::NoRootHash)?,
            hashes: p["hashes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect(),
            checkpoint: string(&p["checkpoint"]).unwrap_or_default(),
        }),
    };
    Ok(LogEntry {
        url: url.to_owned(),
        uuid,
        log_index: int(&e["logIndex"], "log index")?,
        log_id: string(&e["logID"]).ok_or(EntryError::Missing("log id"))?,
        integrated_time: int(&e["integratedTime"], "integrated time")?,
        body: string(&e["body"]).ok_or(EntryError::Missing("body"))?,
        kind: kind.to_owned(),
        version: "0.0.1".to_owned(),
        signed_entry_timestamp: string(&verification["signedEntryTimestamp"]),
        inclusion_proof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn service_urls_with_credentials_are_refused_and_never_shown() {
        let settings = Settings {
            url: "https://robot:s3cret@rekor.example".into(),
            ..Settings::default()
        };
        let e = settings.services().await.expect_err("credentials");
        assert!(
            matches!(
                e,
                Error::Credentials {
                    what: "transparency log"
                }
            ),
            "{e}"
        );
        assert!(!e.to_string().contains("s3cret"));
        let settings = Settings {
            signing_config: Some("https://robot:s3cret@127.0.0.1:9/sc.json".into()),
            ..Settings::default()
        };
        let e = settings.services().await.expect_err("unreachable");
        assert!(!crate::error_text::joined(&e).contains("s3cret"), "{e}");
    }

    #[test]
    fn entries_parse_and_convert_for_bundles() {
        let reply = json!({"24296fb2": {
            "body": "e30=", "integratedTime": 1700000000, "logID": "00ff", "logIndex": 42,
            "verification": {"signedEntryTimestamp": "c2V0",
                "inclusionProof": {"logIndex": 3, "treeSize": 4, "rootHash": "0a0b",
                                   "hashes": ["0c"], "checkpoint": "cp\n"}}}});
        let e = parse_entry("http://r", "dsse", reply.to_string().as_bytes()).expect("parses");
        assert_eq!(e.location(), "http://r/api/v1/log/entries?logIndex=42");
        let b = e.bundle_entry();
        assert_eq!(b["logIndex"], "42");
        assert_eq!(b["logId"]["keyId"], STANDARD.encode([0u8, 255]));
        assert_eq!(b["inclusionProof"]["rootHash"], STANDARD.encode([10u8, 11]));
        assert_eq!(b["inclusionProof"]["hashes"][0], STANDARD.encode([12u8]));
        assert_eq!(b["inclusionPromise"]["signedEntryTimestamp"], "c2V0");
        assert_eq!(e.cosign_bundle()["Payload"]["logIndex"], 42);
        assert!(parse_entry("http://r", "dsse", b"{}").is_err());
        assert!("sometimes".parse::<Mode>().is_err());
        assert_eq!("manual".parse::<Mode>(), Ok(Mode::Manual));
        assert!(Mode::Manual.wants(Some("true"), false));
        assert!(!Mode::Manual.wants(Some("true"), true), "logged already");
        assert!(!Mode::Manual.wants(None, false));
        assert!(Mode::On.wants(None, true) && !Mode::Off.wants(Some("true"), false));
    }
}
