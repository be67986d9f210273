//! Verification of DSSE envelopes: signature over PAE, then the Statement's shape.
//!
//! Signatures are checked before the payload is parsed, and only the verified bytes
//! are parsed (DSSE `protocol.md`). `keyid` hints are ignored: every signature is
//! tried against the key.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sigstore::crypto::{CosignVerificationKey, Signature};

pub mod keyless;
pub mod registry;
use thiserror::Error;

use crate::envelope::{Envelope, IN_TOTO_PAYLOAD_TYPE};

/// Errors that stop verification from starting (exit status 2).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The key or an input file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The key is not a usable public key.
    #[error("`{path}` is not a PEM public key (`-----BEGIN PUBLIC KEY-----`): {reason}")]
    Key {
        /// File.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An input that holds no envelopes.
    #[error("`{0}` holds no DSSE envelope")]
    Empty(PathBuf),
}

/// What signatures are checked against: a public key, or (keyless) a trust root
/// and the identity the signing certificate must name.
pub struct Verifier {
    check: Check,
}

enum Check {
    Key(CosignVerificationKey),
    Keyless(Box<(keyless::TrustedRoot, keyless::Identity)>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

/// What a verified envelope says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `predicateType`.
    pub predicate_type: String,
    /// Subjects as `name` and `alg:hex` digests.
    pub subjects: Vec<(String, Vec<String>)>,
    /// Builder id (SLSA v1 `runDetails.builder.id` or v0.2 `builder.id`).
    pub builder_id: Option<String>,
}

/// The outcome for one envelope of a file.
#[derive(Debug)]
pub struct Outcome {
    /// Where: `file` or `file:line`.
    pub location: String,
    /// Verified content, or why it failed.
    pub result: Result<Verified, String>,
}

impl Verifier {
    /// Load a PEM public key.
    pub fn from_pem_file(path: &Path) -> Result<Self, Error> {
        let pem = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let key = CosignVerificationKey::try_from_pem(&pem).map_err(|e| Error::Key {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            check: Check::Key(key),
        })
    }

    /// Keyless: bundles and registry attestations whose certificate chains to `root`
    /// and names `identity`.
    pub fn keyless(root: keyless::TrustedRoot, identity: keyless::Identity) -> Self {
        Self {
            check: Check::Keyless(Box::new((root, identity))),
        }
    }

    /// Verify one envelope with the key (a keyless verifier needs the certificate and
    /// log entry too: [`keyless::verify_bundle`]).
    pub fn verify(&self, envelope: &Envelope) -> Result<Verified, String> {
        let Check::Key(key) = &self.check else {
            return Err("keyless verification needs the certificate and the log entry, not a bare envelope: verify the Sigstore bundle".into());
        };
        if envelope.signatures.is_empty() {
            return Err("the envelope has no signatures".into());
        }
        let pae = envelope.pae();
        let valid = envelope
            .signatures
            .iter()
            .any(|s| key.verify_signature(Signature::Raw(&s.sig), &pae).is_ok());
        if !valid {
            return Err(format!(
                "no signature verifies with this key ({} tried)",
                envelope.signatures.len()
            ));
        }
        read_payload(envelope)
    }

    /// Verify every envelope in a file (one JSON envelope, or JSON Lines).
    pub fn verify_file(&self, path: &Path) -> Result<Vec<Outcome>, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let shown = path.display().to_string();
        let outcomes: Vec<Outcome> = match serde_json::from_str::<Envelope>(&text) {
            Ok(env) => vec![Outcome {
                location: shown,
                result: self.verify(&env),
            }],
            Err(_) => text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, line)| Outcome {
                    location: format!("{shown}:{}", i + 1),
                    result: serde_json::from_str::<Envelope>(line)
                        .map_err(|e| format!("not a DSSE envelope: {e}"))
                        .and_then(|env| self.verify(&env)),
                })
                .collect(),
        };
        if outcomes.is_empty() {
            return Err(Error::Empty(path.to_owned()));
        }
        Ok(outcomes)
    }
}

/// The verified envelope's in-toto Statement (only called once a signature verified).
fn read_payload(envelope: &Envelope) -> Result<Verified, String> {
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "payload type is `{}`, expected `{IN_TOTO_PAYLOAD_TYPE}`",
            envelope.payload_type
        ));
    }
    let statement: Value = serde_json::from_slice(&envelope.payload)
        .map_err(|e| format!("the signed payload is not JSON: {e}"))?;
    read_statement(&statement)
}

fn read_statement(statement: &Value) -> Result<Verified, String> {
    let statement_type = statement.get("_type").and_then(Value::as_str).unwrap_or("");
    if !statement_type.starts_with("https://in-toto.io/Statement/") {
        return Err(format!(
            "the payload is not an in-toto Statement (`_type` is `{statement_type}`)"
        ));
    }
    let predicate_type = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .ok_or("the Statement has no predicateType")?
        .to_owned();
    let mut subjects = Vec::new();
    for s in statement
        .get("subject")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = s
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let digests: Vec<String> = s
            .get("digest")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(alg, hex)| format!("{alg}:{}", hex.as_str().unwrap_or("")))
            .collect();
        if digests.is_empty() {
            return Err(format!("subject `{name}` has no digest"));
        }
        subjects.push((name, digests));
    }
    let builder_id = statement
        .pointer("/predicate/runDetails/builder/id")
        .or_else(|| statement.pointer("/predicate/builder/id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Verified {
        predicate_type,
        subjects,
        builder_id,
    })
}
