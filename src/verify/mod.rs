//! Verification of DSSE envelopes: signature over PAE, then the Statement's shape.
//!
//! Signatures are checked before the payload is parsed, and only the verified bytes
//! are parsed (DSSE `protocol.md`). `keyid` hints are ignored: every signature is
//! tried against the key.
//!
//! [`request`] runs a whole `verify` (files or an image, with a key or keyless) and
//! [`outcome`] judges it: which items count, and whether it passed. [`keyless`] checks
//! Sigstore bundles against a trusted root; [`registry`] what a registry holds for an
//! image. Malformed input is an [`Error`](enum@Error) (exit status 2); an item that does not
//! verify is a [`Rejection`] recorded in the [`Report`] (exit status 1).

use std::path::{Path, PathBuf};

use serde_json::Value;
use sigstore::crypto::{CosignVerificationKey, Signature};
use thiserror::Error;

pub mod keyless;
pub mod outcome;
pub mod policy;
pub mod registry;
pub mod request;
pub mod timestamp;
pub mod vsa;

pub use outcome::{Report, Signer, Verdict};
pub use request::{Request, Target, Trust, run};

use crate::envelope::{Envelope, IN_TOTO_PAYLOAD_TYPE};

/// Errors that stop verification from starting (exit status 2).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The key, the trusted root or an input file could not be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The key is not a usable public key.
    #[error("`{}` is not a PEM public key (`-----BEGIN PUBLIC KEY-----`)", path.display())]
    Key {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: sigstore::errors::SigstoreError,
    },
    /// Neither a key nor a keyless identity was given.
    #[error(
        "set `CHAINSEAL_VERIFY_KEY` (`--key`), or `--certificate-identity` for keyless bundles"
    )]
    MissingKey,
    /// Keyless verification without a trusted root.
    #[error(
        "keyless verification needs `CHAINSEAL_TRUSTED_ROOT` (`--trusted-root`): the `trusted_root.json` of the Sigstore deployment that signed (for the public-good instance: `sigstore-python trust-root`, `cosign trusted-root create`, or the TUF repository's `trusted_root.json`)"
    )]
    MissingTrustedRoot,
    /// The trusted root cannot be used.
    #[error("`{}` is not a usable trusted root", path.display())]
    TrustedRoot {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: keyless::Error,
    },
    /// A bundle (or, keyless, any input) that is not a Sigstore bundle with a DSSE
    /// envelope.
    #[error(
        "`{}` is not a Sigstore bundle with a DSSE envelope (keyless verification takes `.sigstore.json` bundles; with a key, bundles or envelopes)",
        path.display()
    )]
    NotBundle {
        /// File.
        path: PathBuf,
        /// Why.
        #[source]
        reason: crate::envelope::bundle::BundleError,
    },
    /// The registry could not be reached or read (`--image`).
    #[error(transparent)]
    Registry(#[from] crate::oci::Error),
    /// An input that holds no envelopes.
    #[error(
        "`{0}` holds no DSSE envelope: give a DSSE envelope as JSON, or `.intoto.jsonl` with one envelope per line"
    )]
    Empty(PathBuf),
    /// An input (or one line of it) that is not a DSSE envelope.
    #[error(
        "`{location}` is not a DSSE envelope (give a DSSE envelope as JSON, `.intoto.jsonl` with one envelope per line, or a Sigstore bundle)"
    )]
    Malformed {
        /// `file` or `file:line`.
        location: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A `--type` that is neither a known short name nor a URI.
    #[error("invalid `CHAINSEAL_VERIFY_TYPE` (`--type`) `{0}`: use a predicate type URI, one of cosign's short names ({names}), or `any`", names = SHORT_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "))]
    PredicateType(String),
}

/// Why a verified envelope's payload is not a usable in-toto Statement.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StatementError {
    /// Another payload type than in-toto's.
    #[error("payload type is `{0}`, expected `{IN_TOTO_PAYLOAD_TYPE}`")]
    PayloadType(String),
    /// The payload is not JSON.
    #[error("the signed payload is not JSON")]
    NotJson(#[source] serde_json::Error),
    /// The payload's `_type` is not an in-toto Statement's.
    #[error("the payload is not an in-toto Statement (`_type` is `{0}`)")]
    NotStatement(String),
    /// No `predicateType`.
    #[error("the Statement has no predicateType")]
    NoPredicateType,
    /// A subject without digests.
    #[error("subject `{0}` has no digest")]
    SubjectWithoutDigest(String),
}

/// Why one envelope, bundle or registry item failed verification (a rejected item,
/// exit status 1, unlike [`Error`](enum@Error)).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Rejection {
    /// A keyless verifier was given a bare envelope.
    #[error(
        "keyless verification needs the certificate and the log entry, not a bare envelope: verify the Sigstore bundle"
    )]
    BareEnvelope,
    /// The envelope carries no signatures.
    #[error("the envelope has no signatures")]
    NoSignatures,
    /// None of the envelope's signatures verifies with the key.
    #[error("no signature verifies with this key ({0} tried)")]
    NoSignatureVerifies(usize),
    /// Signed, but not a usable in-toto Statement.
    #[error(transparent)]
    Statement(#[from] StatementError),
    /// A keyless bundle that does not verify against the trusted root.
    #[error(transparent)]
    Keyless(#[from] keyless::Error),
    /// A registry item that does not verify or is not about the image.
    #[error(transparent)]
    Registry(#[from] registry::Error),
}

/// The predicate types counted when `--type` is not set: SLSA provenance.
pub const SLSA_PROVENANCE: [&str; 2] = [SLSA_V1, SLSA_V02];

const SLSA_V1: &str = crate::provenance::slsa_v1::PREDICATE_TYPE;
const SLSA_V02: &str = crate::provenance::slsa_v02::PREDICATE_TYPE;

/// cosign's `--type` short names and the predicate types they stand for.
pub const SHORT_NAMES: [(&str, &str); 11] = [
    ("slsaprovenance", SLSA_V02),
    ("slsaprovenance02", SLSA_V02),
    ("slsaprovenance1", SLSA_V1),
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
    ("link", "https://in-toto.io/Link/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
    ("vsa", policy::vsa_checks::VSA_PREDICATE_TYPE),
];

/// The predicate types whose attestations count (`--type`); others are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PredicateTypes {
    /// Every type (`--type any` or `*`).
    Any,
    /// Only these (full URIs).
    Only(Vec<String>),
}

impl Default for PredicateTypes {
    fn default() -> Self {
        Self::Only(SLSA_PROVENANCE.iter().map(|t| (*t).to_owned()).collect())
    }
}

impl PredicateTypes {
    /// Parse `--type`: comma-separated URIs or cosign short names, or `any` / `*`;
    /// unset or empty is SLSA provenance (v1 and v0.2).
    pub fn parse(text: Option<&str>) -> Result<Self, Error> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Self::default());
        };
        let mut types = Vec::new();
        for item in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if item == "any" || item == "*" {
                return Ok(Self::Any);
            }
            let uri = predicate_type_alias(item);
            if !looks_like_uri(uri) {
                return Err(Error::PredicateType(item.to_owned()));
            }
            // cosign's SPDX name, and the versioned type actions/attest (and
            // `--sbom-path`) write.
            let versioned =
                matches!(item, "spdx" | "spdxjson").then_some(crate::provenance::custom::SPDX);
            for uri in std::iter::once(uri).chain(versioned) {
                if !types.iter().any(|t| t == uri) {
                    types.push(uri.to_owned());
                }
            }
        }
        if types.is_empty() {
            return Err(Error::PredicateType(text.to_owned()));
        }
        Ok(Self::Only(types))
    }

    /// Whether an attestation of `predicate_type` counts.
    pub fn wants(&self, predicate_type: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(types) => types.iter().any(|t| t == predicate_type),
        }
    }

    /// The wanted types, for messages: `any type`, or the URIs joined by `or`.
    pub fn describe(&self) -> String {
        match self {
            Self::Any => "any type".to_owned(),
            Self::Only(types) => types.join(" or "),
        }
    }
}

/// The predicate type a cosign short name stands for; anything else unchanged.
pub fn predicate_type_alias(name: &str) -> &str {
    SHORT_NAMES
        .iter()
        .find(|(short, _)| *short == name)
        .map_or(name, |(_, uri)| uri)
}

/// `scheme:rest`, RFC 3986's scheme syntax, no whitespace.
pub(crate) fn looks_like_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !text.chars().any(char::is_whitespace)
}

/// What signatures are checked against: a public key, or (keyless) a trust root
/// and the identity the signing certificate must name.
pub struct Verifier {
    check: Check,
    /// With a key: its DER SubjectPublicKeyInfo (empty for keyless).
    key_spki: Vec<u8>,
    /// With a key: the trusted root key-signed bundles' log entries and timestamps
    /// are checked against.
    key_bundles: Option<Box<keyless::TrustedRoot>>,
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
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// `predicateType`.
    pub predicate_type: String,
    /// Subjects as `name` and `alg:hex` digests.
    pub subjects: Vec<(String, Vec<String>)>,
    /// Builder id (SLSA v1 `runDetails.builder.id` or v0.2 `builder.id`).
    pub builder_id: Option<String>,
    /// The verified Statement (`Null` for an image signature's payload).
    pub statement: Value,
    /// The SHA-256 of the signed payload (`sha256:<hex>`).
    pub payload_digest: String,
    /// Who the certificate says signed (keyless); `None` for a key.
    pub signer: Option<Signer>,
}

/// The outcome for one envelope of a file.
#[derive(Debug)]
pub struct Outcome {
    /// Where: `file` or `file:line`.
    pub location: String,
    /// Verified content, or why it failed.
    pub result: Result<Verified, Rejection>,
}

impl Verifier {
    /// Load a PEM public key.
    pub fn from_pem_file(path: &Path) -> Result<Self, Error> {
        let pem = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let key = CosignVerificationKey::try_from_pem(&pem).map_err(|source| Error::Key {
            path: path.to_owned(),
            source,
        })?;
        let key_spki = pem::parse(&pem)
            .map(pem::Pem::into_contents)
            .map_err(|e| Error::Key {
                path: path.to_owned(),
                source: sigstore::errors::SigstoreError::KeyParsingError(e.to_string()),
            })?;
        Ok(Self {
            check: Check::Key(key),
            key_spki,
            key_bundles: None,
        })
    }

    /// With a key: also check the transparency log entry and RFC 3161 timestamps of
    /// key-signed Sigstore bundles against `root`.
    pub fn with_trusted_root(mut self, root: keyless::TrustedRoot) -> Self {
        self.key_bundles = Some(Box::new(root));
        self
    }

    /// Verify the envelope of a key-signed bundle, and, with a trusted root, the
    /// bundle's log entry and timestamps.
    pub fn verify_bundle(
        &self,
        bundle: &Value,
        envelope: &Envelope,
    ) -> Result<Verified, Rejection> {
        let verified = self.verify(envelope)?;
        if let Some(root) = &self.key_bundles {
            keyless::verify_key_material(bundle, envelope, &self.key_spki, root)?;
        }
        Ok(verified)
    }

    /// Keyless: bundles and registry attestations whose certificate chains to `root`
    /// and names `identity`.
    pub fn keyless(root: keyless::TrustedRoot, identity: keyless::Identity) -> Self {
        Self {
            check: Check::Keyless(Box::new((root, identity))),
            key_spki: Vec::new(),
            key_bundles: None,
        }
    }

    /// Verify one envelope with the key (a keyless verifier needs the certificate and
    /// log entry too: [`keyless::verify_bundle`]).
    pub fn verify(&self, envelope: &Envelope) -> Result<Verified, Rejection> {
        let Check::Key(key) = &self.check else {
            return Err(Rejection::BareEnvelope);
        };
        if envelope.signatures.is_empty() {
            return Err(Rejection::NoSignatures);
        }
        let pae = envelope.pae();
        let valid = envelope
            .signatures
            .iter()
            .any(|s| key.verify_signature(Signature::Raw(&s.sig), &pae).is_ok());
        if !valid {
            return Err(Rejection::NoSignatureVerifies(envelope.signatures.len()));
        }
        Ok(read_payload(envelope)?)
    }

    /// Verify every envelope in a file (one JSON envelope, or JSON Lines).
    pub fn verify_file(&self, path: &Path) -> Result<Vec<Outcome>, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let outcomes = read_envelopes(path, &text)?
            .into_iter()
            .map(|(location, env, bundle)| Outcome {
                location,
                result: match &bundle {
                    Some(b) => self.verify_bundle(b, &env),
                    None => self.verify(&env),
                },
            })
            .collect();
        Ok(outcomes)
    }
}

/// An envelope of a file: where, the envelope, and the Sigstore bundle it came in.
type FileEnvelope = (String, Envelope, Option<Value>);

/// The envelopes of a file with their locations: the whole file as one JSON
/// envelope or Sigstore bundle (with a DSSE envelope), else one envelope per non-blank
/// line. Anything that is not an envelope makes the whole input malformed (exit status
/// 2), before any signature is checked.
fn read_envelopes(path: &Path, text: &str) -> Result<Vec<FileEnvelope>, Error> {
    let shown = path.display().to_string();
    // One JSON document (perhaps over many lines): it is the envelope, or nothing is.
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        if value.get("mediaType").is_some() {
            let envelope = crate::envelope::bundle::envelope_of(&value).map_err(|reason| {
                Error::NotBundle {
                    path: path.to_owned(),
                    reason,
                }
            })?;
            return Ok(vec![(shown, envelope, Some(value))]);
        }
        return match serde_json::from_value::<Envelope>(value) {
            Ok(env) => Ok(vec![(shown, env, None)]),
            Err(source) => Err(Error::Malformed {
                location: shown,
                source,
            }),
        };
    }
    let envelopes = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let location = format!("{shown}:{}", i + 1);
            match serde_json::from_str::<Envelope>(line) {
                Ok(env) => Ok((location, env, None)),
                Err(source) => Err(Error::Malformed { location, source }),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if envelopes.is_empty() {
        return Err(Error::Empty(path.to_owned()));
    }
    Ok(envelopes)
}

/// The verified envelope's in-toto Statement (only called once a signature verified).
fn read_payload(envelope: &Envelope) -> Result<Verified, StatementError> {
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(StatementError::PayloadType(envelope.payload_type.clone()));
    }
    let statement: Value =
        serde_json::from_slice(&envelope.payload).map_err(StatementError::NotJson)?;
    let mut verified = read_statement(statement)?;
    verified.payload_digest = crate::oci::sha256_digest(&envelope.payload);
    Ok(verified)
}

/// The predicate type, subjects and builder id of an in-toto Statement.
fn read_statement(statement: Value) -> Result<Verified, StatementError> {
    let statement_type = statement.get("_type").and_then(Value::as_str).unwrap_or("");
    if !statement_type.starts_with("https://in-toto.io/Statement/") {
        return Err(StatementError::NotStatement(statement_type.to_owned()));
    }
    let predicate_type = statement
        .get("predicateType")
        .and_then(Value::as_str)
        .ok_or(StatementError::NoPredicateType)?
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
            return Err(StatementError::SubjectWithoutDigest(name));
        }
        subjects.push((name, digests));
    }
    let builder_id = statement
        .get("predicate")
        .and_then(policy::facts::builder_id)
        .map(str::to_owned);
    Ok(Verified {
        predicate_type,
        subjects,
        builder_id,
        statement,
        payload_digest: String::new(),
        signer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_types_default_to_slsa_provenance() {
        let default = PredicateTypes::parse(None).expect("default");
        assert_eq!(default, PredicateTypes::parse(Some(" ")).expect("empty"));
        assert!(default.wants("https://slsa.dev/provenance/v1"));
        assert!(default.wants("https://slsa.dev/provenance/v0.2"));
        assert!(!default.wants("https://cosign.sigstore.dev/attestation/v1"));
        assert!(!default.wants("https://sigstore.dev/cosign/sign/v1"));
    }

    #[test]
    fn predicate_types_take_cosign_short_names_uris_and_any() {
        let one = |t: &str| PredicateTypes::parse(Some(t)).expect(t);
        assert_eq!(
            one("slsaprovenance1"),
            PredicateTypes::Only(vec!["https://slsa.dev/provenance/v1".into()])
        );
        assert_eq!(one("slsaprovenance"), one("slsaprovenance02"));
        assert_eq!(
            one("custom"),
            one("https://cosign.sigstore.dev/attestation/v1")
        );
        assert_eq!(one("spdx"), one("spdxjson"));
        assert_eq!(one("any"), PredicateTypes::Any);
        assert_eq!(one("*"), PredicateTypes::Any);
        assert_eq!(one("custom,any"), PredicateTypes::Any);
        let two = one("slsaprovenance1, openvex");
        assert!(two.wants("https://openvex.dev/ns") && two.wants("https://slsa.dev/provenance/v1"));
        assert_eq!(
            two.describe(),
            "https://slsa.dev/provenance/v1 or https://openvex.dev/ns"
        );
        for bad in ["slsa", "slsa provenance", ":x", "1http://x", ","] {
            assert!(PredicateTypes::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_failed_envelope() {
        let p = Path::new("f.jsonl");
        let env = r#"{"payloadType":"t","payload":"eA==","signatures":[]}"#;
        assert_eq!(read_envelopes(p, env).expect("one").len(), 1);
        let pretty =
            "{\n  \"payloadType\": \"t\",\n  \"payload\": \"eA==\",\n  \"signatures\": []\n}";
        assert_eq!(read_envelopes(p, pretty).expect("pretty").len(), 1);
        assert_eq!(
            read_envelopes(p, &format!("{env}\n\n{env}\n"))
                .expect("lines")
                .iter()
                .map(|(l, _, _)| l.as_str())
                .collect::<Vec<_>>(),
            ["f.jsonl:1", "f.jsonl:3"]
        );
        assert!(matches!(read_envelopes(p, ""), Err(Error::Empty(_))));
        assert!(matches!(
            read_envelopes(p, "{\"a\": 1}"),
            Err(Error::Malformed { location, .. }) if location == "f.jsonl"
        ));
        assert!(matches!(
            read_envelopes(p, &format!("{env}\nnope")),
            Err(Error::Malformed { location, .. }) if location == "f.jsonl:2"
        ));
        // A Sigstore bundle is read for its envelope, and kept for its material.
        let bundle = format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{}},"dsseEnvelope":{env}}}"#
        );
        let read = read_envelopes(p, &bundle).expect("a bundle");
        assert!(matches!(&read[..], [(_, e, Some(_))] if e.payload == b"x"));
        assert!(matches!(
            read_envelopes(
                p,
                r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#
            ),
            Err(Error::NotBundle { .. })
        ));
    }
}
