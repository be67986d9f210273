//! Rekor v1 transparency log uploads, as Tekton Chains makes them: a `dsse` v0.0.1
//! entry for each attestation (the envelope, and the certificate or public key that
//! verifies it) and a `hashedrekord` v0.0.1 entry for each image signature. A 409
//! ("already exists") counts as success: the existing entry is read back.
//!
//! The `sigstore` crate's Rekor client has no `dsse` kind (neither to send nor to
//! parse), so the few calls are made here with reqwest.

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
    /// Rekor's base URL.
    pub url: String,
    /// Write Sigstore bundles in file storage.
    pub bundle: bool,
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
    /// Rekor answered with an error status.
    #[error("transparency log {url}: {action}HTTP {status}{message}")]
    Refused {
        /// The endpoint.
        url: String,
        /// What was being done (empty, or `reading the existing entry …: `).
        action: String,
        /// The status.
        status: reqwest::StatusCode,
        /// What Rekor said (empty, or `: …`).
        message: String,
    },
    /// Rekor could not be reached or its reply not read.
    #[error("transparency log {url} (is Rekor reachable?)")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// Cause.
        #[source]
        source: crate::http::Error,
    },
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
            Self::Rekor { .. } | Self::Entry { .. } => Kind::Invalid,
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
    /// The signed entry timestamp (inclusion promise), base64.
    pub signed_entry_timestamp: Option<String>,
    /// The inclusion proof.
    pub inclusion_proof: Option<InclusionProof>,
}

impl LogEntry {
    /// Where the entry can be read: Chains' `chains.tekton.dev/transparency` value.
    pub fn location(&self) -> String {
        format!(
            "{}/api/v1/log/entries?logIndex={}",
            self.url.trim_end_matches('/'),
            self.log_index
        )
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
            "kindVersion": {"kind": self.kind, "version": "0.0.1"},
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

/// A Rekor v1 client.
#[derive(Debug, Clone)]
pub struct Rekor {
    url: String,
    client: reqwest::Client,
}

impl Rekor {
    /// A client for the log at `url`.
    pub fn new(url: &str) -> Result<Self, Error> {
        let client = crate::http::client().map_err(|source| Error::Unreachable {
            url: url.to_owned(),
            source,
        })?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            client,
        })
    }

    /// Log a DSSE envelope, verified by `verifier_pem` (a certificate or public key).
    pub async fn upload_dsse(
        &self,
        envelope: &Envelope,
        verifier_pem: &str,
    ) -> Result<LogEntry, Error> {
        let entry = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {
                "envelope": envelope.to_json(),
                "verifiers": [STANDARD.encode(verifier_pem)],
            }},
        });
        self.upload(&entry, "dsse").await
    }

    /// Log a signature over `payload` (e.g. a simple-signing payload).
    pub async fn upload_hashedrekord(
        &self,
        payload: &[u8],
        signature: &[u8],
        verifier_pem: &str,
    ) -> Result<LogEntry, Error> {
        let entry = json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}},
                "signature": {
                    "content": STANDARD.encode(signature),
                    "publicKey": {"content": STANDARD.encode(verifier_pem)},
                },
            },
        });
        self.upload(&entry, "hashedrekord").await
    }

    async fn upload(&self, entry: &Value, kind: &str) -> Result<LogEntry, Error> {
        let url = format!("{}/api/v1/log/entries", self.url);
        let fail = |detail: String| Error::Rekor {
            url: url.clone(),
            detail,
        };
        let unreachable = |source| Error::Unreachable {
            url: url.clone(),
            source,
        };
        let reply = crate::http::send(self.client.post(&url).json(entry))
            .await
            .map_err(unreachable)?;
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
            let found = crate::http::send(self.client.get(&existing))
                .await
                .map_err(unreachable)?;
            if !found.status.is_success() {
                return Err(Error::Refused {
                    url: url.clone(),
                    action: format!("reading the existing entry {existing}: "),
                    status: found.status,
                    message: String::new(),
                });
            }
            found.body
        } else if !status.is_success() {
            return Err(Error::Refused {
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
        signed_entry_timestamp: string(&verification["signedEntryTimestamp"]),
        inclusion_proof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
