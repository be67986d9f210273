//! Offline verification of keyless Sigstore bundles (v0.1–v0.3 with a DSSE envelope)
//! against a trusted root (`trusted_root.json`, the Sigstore TrustedRoot format):
//!
//! 0. the envelope has exactly one signature, which everything below is about;
//! 1. the leaf certificate chains to a certificate authority of the root and is
//!    for code signing (extended key usage id-kp-codeSigning);
//! 2. the leaf carries a signed certificate timestamp from a CT log of the root;
//! 3. the transparency log entry, when there is one, is signed by a log of the root
//!    (the inclusion promise, or SET), its inclusion proof (required for Rekor v2)
//!    leads to the root hash of a checkpoint the log signed, and its body is this
//!    envelope, signed by this certificate: a `dsse` v0.0.1 entry (Rekor v1) or a
//!    `hashedrekord` v0.0.2 entry over the envelope's PAE (Rekor v2);
//! 4. the signing times are the log's integrated time, only when the SET covers it
//!    (the bundle's own `integratedTime` is unauthenticated; Rekor v2 gives none),
//!    and the time of every RFC 3161 timestamp ([`super::timestamp`]), each of which
//!    must verify; at least one is needed. A bundle without a log entry (timestamp
//!    only) is checked on its timestamps alone;
//! 5. at every signing time the certificate was valid, and the CA, the log and the
//!    CT log were inside their `validFor` windows of the trusted root;
//! 6. the envelope's signature verifies with the certificate's key;
//! 7. the certificate names the expected identity and OIDC issuer;
//! 8. the payload is an in-toto Statement ([`super::Verified`]).
//!
//! Every check must pass; the first failure is reported.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::asn1::{Any, OctetString};
use der::{Decode as _, Encode as _, Tag, TagNumber, Tagged as _};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sigstore::crypto::{CosignVerificationKey, Signature};
use thiserror::Error;
use x509_cert::Certificate;
use x509_cert::ext::Extension;

use super::timestamp::Authority;
use super::{StatementError, Verified};
use crate::envelope::Envelope;
use crate::signing::keyless::CertificateChain;
use crate::valid_for::Window;

/// The most RFC 3161 timestamps a bundle may carry.
const MAX_TIMESTAMPS: usize = 32;
/// The embedded SCT list extension (RFC 6962).
const SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
/// id-kp-codeSigning (RFC 5280).
const CODE_SIGNING: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// Why a trusted root is unusable, or why a keyless bundle does not verify; the
/// first failed check.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The trusted root is not JSON.
    #[error("not JSON")]
    RootNotJson(#[source] serde_json::Error),
    /// The trusted root lists no certificate authority with a certificate.
    #[error("it names no certificate authority")]
    NoAuthority,
    /// The trusted root lists no transparency log.
    #[error("it names no transparency log")]
    NoTransparencyLog,
    /// A `validFor` window that is malformed.
    #[error(transparent)]
    Window(#[from] crate::valid_for::WindowError),
    /// A required field is absent.
    #[error("{what} is missing")]
    Missing {
        /// The field.
        what: String,
    },
    /// A field that should be base64 is not.
    #[error("{what} is not base64")]
    NotBase64 {
        /// The field.
        what: String,
        /// Cause.
        #[source]
        source: base64::DecodeError,
    },
    /// A number field holds something else.
    #[error("{what} is not a number")]
    NotNumber {
        /// The field.
        what: String,
    },
    /// A number field holds a number that is not an integer.
    #[error("{what} is not an integer")]
    NotInteger {
        /// The field.
        what: String,
    },
    /// A public key of the root that cannot verify anything.
    #[error("{what} is not a usable public key")]
    Key {
        /// Whose key.
        what: &'static str,
        /// Cause.
        #[source]
        source: sigstore::errors::SigstoreError,
    },
    /// A certificate that is not DER X.509.
    #[error("{what} is malformed")]
    Certificate {
        /// Which certificate.
        what: &'static str,
        /// Cause.
        #[source]
        source: der::Error,
    },
    /// The leaf chains to no certificate authority of the root.
    #[error("the certificate does not chain to a certificate authority of the trusted root")]
    Unchained,
    /// The leaf's extended key usage cannot be read.
    #[error("the certificate's extended key usage is malformed or repeated")]
    KeyUsageMalformed(#[source] der::Error),
    /// The leaf has no extended key usage.
    #[error(
        "the certificate has no extended key usage, so it is not for code signing (id-kp-codeSigning, 1.3.6.1.5.5.7.3.3): it cannot sign attestations"
    )]
    NoKeyUsage,
    /// The leaf is not for code signing.
    #[error(
        "the certificate's extended key usage does not include code signing (id-kp-codeSigning, 1.3.6.1.5.5.7.3.3): it cannot sign attestations"
    )]
    NotCodeSigning,
    /// DER re-encoding failed (of what a CT log signed).
    #[error("{what} cannot be re-encoded")]
    Reencode {
        /// What was re-encoded.
        what: &'static str,
        /// Cause.
        #[source]
        source: der::Error,
    },
    /// The leaf carries no SCT list.
    #[error("the certificate has no signed certificate timestamp")]
    NoSct,
    /// The SCT list extension is not an OCTET STRING.
    #[error("the SCT list is malformed")]
    SctMalformed(#[source] der::Error),
    /// The SCT list ends early.
    #[error("the SCT list is truncated")]
    SctTruncated,
    /// A leaf too large for an SCT's 24-bit length.
    #[error("the certificate is too large")]
    CertificateTooLarge,
    /// No SCT is signed by a CT log of the root.
    #[error("no signed certificate timestamp verifies with a CT log of the trusted root")]
    NoSctVerifies,
    /// The checkpoint has no signature block.
    #[error("the checkpoint is not a signed note")]
    CheckpointNotNote,
    /// The checkpoint is not signed by the entry's log.
    #[error("the checkpoint is not signed by the transparency log")]
    CheckpointNotSigned,
    /// The entry's log is not in the root.
    #[error("the entry is from a transparency log the trusted root does not name")]
    UnknownLog,
    /// The entry has no `canonicalizedBody`.
    #[error("the entry has no body")]
    NoBody,
    /// The entry has neither a SET nor an inclusion proof.
    #[error("the entry has neither an inclusion promise nor an inclusion proof")]
    NotLogged,
    /// The SET does not verify with the log's key.
    #[error("the inclusion promise is not signed by the transparency log")]
    PromiseNotSigned,
    /// The inclusion proof's index or tree size is negative.
    #[error("the inclusion proof has negative numbers")]
    NegativeProof,
    /// The inclusion proof does not hash up to its root hash.
    #[error("the inclusion proof does not lead to its root hash")]
    ProofMismatch,
    /// The inclusion proof has no checkpoint.
    #[error("the inclusion proof has no checkpoint")]
    NoCheckpoint,
    /// The checkpoint's tree size or root hash differs from the proof's.
    #[error("the checkpoint is for another tree than the inclusion proof")]
    CheckpointOtherTree,
    /// The logged body is not JSON.
    #[error("the entry body is not JSON")]
    BodyNotJson(#[source] serde_json::Error),
    /// The logged entry is of another kind than its version has (`dsse` for Rekor
    /// v1, `hashedrekord` 0.0.2 for Rekor v2).
    #[error(
        "the entry is a `{0}` entry, expected `dsse` (Rekor v1) or `hashedrekord 0.0.2` (Rekor v2)"
    )]
    EntryKind(String),
    /// The logged entry hashes another payload.
    #[error("the log entry is for another payload")]
    OtherPayload,
    /// The logged entry names another signature or certificate.
    #[error("the log entry's signature or certificate differs from the bundle's")]
    EntryDiffers,
    /// A bundle's envelope with other than one signature.
    #[error(
        "the bundle's envelope has {0} signatures: a Sigstore bundle carries exactly one (its log entry and timestamps are about that one)"
    )]
    SignatureCount(usize),
    /// More timestamps than anyone signs with.
    #[error(
        "the bundle has {0} RFC 3161 timestamps: more than 32 are refused (as sigstore-python does), each costs a signature check"
    )]
    TooManyTimestamps(usize),
    /// An RFC 3161 timestamp that does not verify.
    #[error(transparent)]
    Timestamp(#[from] super::timestamp::TimestampError),
    /// No authenticated signing time.
    #[error(
        "the bundle has no signed entry timestamp (SET) or RFC 3161 timestamp, so the signing time cannot be trusted: its log entry needs an `inclusionPromise` (the log's `integratedTime` alone is unauthenticated), or the bundle a timestamp (`timestampVerificationData`)"
    )]
    NoSignedTime,
    /// The log's key was outside its `validFor` at the signing time.
    #[error(
        "the transparency log's key is not trusted at the signing time {at}: the trusted root limits it to {window}"
    )]
    LogNotTrusted {
        /// The signing time.
        at: String,
        /// The window.
        window: String,
    },
    /// Every CA the leaf chains to was outside its `validFor` at the signing time.
    #[error(
        "the certificate authority that issued the certificate is not trusted at the signing time {at}: the trusted root limits it to {windows}"
    )]
    AuthorityNotTrusted {
        /// The signing time.
        at: String,
        /// The windows, comma-separated.
        windows: String,
    },
    /// Every CT log that signed an SCT was outside its `validFor` at the signing time.
    #[error(
        "the CT log that signed the certificate's timestamp is not trusted at the signing time {at}: the trusted root limits it to {windows}"
    )]
    CtLogNotTrusted {
        /// The signing time.
        at: String,
        /// The windows, comma-separated.
        windows: String,
    },
    /// A cosign `.att` layer that is not a DSSE envelope.
    #[error("the layer is not a DSSE envelope")]
    LayerNotEnvelope(#[source] serde_json::Error),
    /// A cosign `.att` layer without a certificate.
    #[error("the layer has no certificate (signed with a key: verify with --key)")]
    LayerWithoutCertificate,
    /// The certificate annotation is not PEM.
    #[error("the certificate annotation is not PEM")]
    CertificateNotPem(#[source] pem::PemError),
    /// A cosign `.att` layer without cosign's Rekor bundle.
    #[error(
        "the layer has no transparency log bundle (`dev.sigstore.cosign/bundle`): one logged in Rekor v2 or only timestamped is verified through its Sigstore bundle (CHAINSEAL_OCI_ENCODING=sigstore-bundle)"
    )]
    LayerWithoutLogBundle,
    /// cosign's Rekor bundle annotation is not JSON.
    #[error("the transparency log bundle is not JSON")]
    LogBundleNotJson(#[source] serde_json::Error),
    /// cosign's Rekor bundle has a log id that is not hex.
    #[error("the log id is not hex")]
    LogIdNotHex(#[source] hex::FromHexError),
    /// The bundle is not JSON.
    #[error("the bundle is not JSON")]
    BundleNotJson(#[source] serde_json::Error),
    /// The bundle holds no usable DSSE envelope (`envelope::bundle`'s reason).
    #[error(transparent)]
    Envelope(crate::envelope::bundle::BundleError),
    /// The bundle carries a public key hint instead of a certificate.
    #[error("the bundle is signed with a key, not a certificate: verify it with --key")]
    SignedWithKey,
    /// The chosen certificate authority lists no certificate.
    #[error("the certificate authority has no certificate")]
    EmptyAuthority,
    /// Not exactly one transparency log entry.
    #[error(
        "a bundle may carry one transparency log entry (it has {0}): chainseal signs with one log"
    )]
    EntryCount(usize),
    /// The signing time is outside the leaf's validity.
    #[error(
        "the entry was logged at {signed}, outside the certificate's validity ({from}..{until})"
    )]
    OutsideValidity {
        /// The signing time, Unix seconds.
        signed: u64,
        /// `notBefore`, Unix seconds.
        from: u64,
        /// `notAfter`, Unix seconds.
        until: u64,
    },
    /// The leaf cannot be read as a Fulcio certificate (`keyless::certificate`'s reason).
    #[error(transparent)]
    Leaf(crate::signing::keyless::certificate::ChainError),
    /// No envelope signature verifies with the leaf's key.
    #[error("the envelope's signature does not verify with the certificate's key")]
    SignatureMismatch,
    /// The leaf names another identity.
    #[error("the certificate is for `{found}`, not `{expected}`")]
    WrongIdentity {
        /// What the certificate names.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// The leaf names another OIDC issuer (or none).
    #[error("the certificate's OIDC issuer is `{found}`, not `{expected}`")]
    WrongIssuer {
        /// What the certificate names, `(none)` when nothing.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// The verified payload is not a usable in-toto Statement.
    #[error(transparent)]
    Statement(#[from] StatementError),
}

/// One log or CT log of a trusted root.
#[derive(Debug, Clone)]
struct LogKey {
    key_id: Vec<u8>,
    spki: Vec<u8>,
    window: Window,
}

/// The trust material bundles are checked against.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    authorities: Vec<Authority>,
    tlogs: Vec<LogKey>,
    ctlogs: Vec<LogKey>,
    tsas: Vec<Authority>,
}

/// What the certificate must say.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The subject alternative name (email or URI).
    pub identity: IdentityMatch,
    /// The OIDC issuer, exactly.
    pub issuer: String,
}

/// How the certificate's identity is matched.
#[derive(Debug, Clone)]
pub enum IdentityMatch {
    /// Exactly this (`--certificate-identity`).
    Exact(String),
    /// The whole identity matches this regular expression
    /// (`--certificate-identity-regexp`; anchored at both ends, unlike cosign's).
    Regexp(regex::Regex),
}

impl From<&str> for IdentityMatch {
    fn from(identity: &str) -> Self {
        Self::Exact(identity.to_owned())
    }
}

impl IdentityMatch {
    /// A regular expression the whole identity must match: `^(?:<re>)$`, so
    /// `https://github.com/acme/.*` cannot match `https://evil.example/?https://github.com/acme/x`.
    pub fn regexp(pattern: &str) -> Result<Self, regex::Error> {
        regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(1 << 20)
            .build()
            .map(Self::Regexp)
    }

    /// Whether `identity` matches.
    pub fn matches(&self, identity: &str) -> bool {
        match self {
            Self::Exact(want) => identity == want,
            Self::Regexp(re) => re.is_match(identity),
        }
    }

    /// What is expected, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Exact(want) => want.clone(),
            Self::Regexp(re) => format!("an identity matching {}", re.as_str()),
        }
    }
}

/// A base64 string field.
fn b64(v: &Value, what: &str) -> Result<Vec<u8>, Error> {
    let text = v.as_str().ok_or_else(|| Error::Missing {
        what: what.to_owned(),
    })?;
    STANDARD.decode(text).map_err(|source| Error::NotBase64 {
        what: what.to_owned(),
        source,
    })
}

/// An integer field, as a JSON number or a decimal string (protobuf JSON's int64).
fn int(v: &Value, what: &str) -> Result<i64, Error> {
    let what = || what.to_owned();
    match v {
        Value::String(s) => s.parse().map_err(|_| Error::NotNumber { what: what() }),
        Value::Number(n) => n.as_i64().ok_or_else(|| Error::NotInteger { what: what() }),
        _ => Err(Error::Missing { what: what() }),
    }
}

/// An int64 field of a bundle, which protobuf's JSON form leaves out when it is 0: the
/// `logIndex` of the first leaf of a tree, as sigstore-go (cosign 3) writes bundles.
fn int_or_zero(v: &Value, what: &str) -> Result<i64, Error> {
    if v.is_null() { Ok(0) } else { int(v, what) }
}

impl TrustedRoot {
    /// Parse a `trusted_root.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let root: Value = serde_json::from_slice(bytes).map_err(Error::RootNotJson)?;
        let logs = |name: &str| -> Result<Vec<LogKey>, Error> {
            root[name]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    Ok(LogKey {
                        key_id: b64(&l["logId"]["keyId"], &format!("{name} logId.keyId"))?,
                        spki: b64(&l["publicKey"]["rawBytes"], &format!("{name} publicKey"))?,
                        window: Window::parse(&l["publicKey"]["validFor"], name)?,
                    })
                })
                .collect()
        };
        let authorities = |name: &str, cert: &str, window: &str| {
            root[name]
                .as_array()
                .into_iter()
                .flatten()
                .map(|ca| {
                    Ok(Authority {
                        certs: ca["certChain"]["certificates"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|c| b64(&c["rawBytes"], cert))
                            .collect::<Result<Vec<_>, _>>()?,
                        window: Window::parse(&ca["validFor"], window)?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()
        };
        let tsas = authorities(
            "timestampAuthorities",
            "a timestamp authority certificate",
            "a timestamp authority's",
        )?;
        let authorities = authorities(
            "certificateAuthorities",
            "a CA certificate",
            "a certificate authority's",
        )?;
        let out = Self {
            authorities,
            tlogs: logs("tlogs")?,
            ctlogs: logs("ctlogs")?,
            tsas,
        };
        if out.authorities.iter().all(|a| a.certs.is_empty()) {
            return Err(Error::NoAuthority);
        }
        if out.tlogs.is_empty() {
            return Err(Error::NoTransparencyLog);
        }
        Ok(out)
    }
}

/// A public key of the root, DER SubjectPublicKeyInfo.
fn key(spki: &[u8], what: &'static str) -> Result<CosignVerificationKey, Error> {
    CosignVerificationKey::try_from_der(spki).map_err(|source| Error::Key { what, source })
}

fn verifies(spki: &[u8], sig: &[u8], msg: &[u8]) -> bool {
    CosignVerificationKey::try_from_der(spki)
        .is_ok_and(|k| k.verify_signature(Signature::Raw(sig), msg).is_ok())
}

/// A DER certificate.
fn parse_cert(der: &[u8], what: &'static str) -> Result<Certificate, Error> {
    Certificate::from_der(der).map_err(|source| Error::Certificate { what, source })
}

/// The aws-lc algorithm for a certificate signature: its signature algorithm (which
/// fixes the hash, e.g. a P-256 key signing with SHA-384) and the issuer key's type.
fn certificate_algorithm(
    signature_oid: &str,
    key: &x509_cert::spki::SubjectPublicKeyInfoOwned,
) -> Option<&'static dyn aws_lc_rs::signature::VerificationAlgorithm> {
    use aws_lc_rs::signature as s;
    let curve = key
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    Some(match (signature_oid, curve.as_deref()) {
        ("1.2.840.10045.4.3.2", Some("1.2.840.10045.3.1.7")) => &s::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", Some("1.2.840.10045.3.1.7")) => &s::ECDSA_P256_SHA384_ASN1,
        ("1.2.840.10045.4.3.2", Some("1.3.132.0.34")) => &s::ECDSA_P384_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", Some("1.3.132.0.34")) => &s::ECDSA_P384_SHA384_ASN1,
        ("1.2.840.10045.4.3.4", Some("1.3.132.0.35")) => &s::ECDSA_P521_SHA512_ASN1,
        ("1.2.840.113549.1.1.11", _) => &s::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.113549.1.1.12", _) => &s::RSA_PKCS1_2048_8192_SHA384,
        ("1.2.840.113549.1.1.13", _) => &s::RSA_PKCS1_2048_8192_SHA512,
        ("1.3.101.112", _) => &s::ED25519,
        _ => return None,
    })
}

/// Whether `cert` is signed by the key of `issuer`.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let key = issuer.tbs_certificate().subject_public_key_info();
    let oid = cert.signature_algorithm().oid.to_string();
    let Some(algorithm) = certificate_algorithm(&oid, key) else {
        return false;
    };
    cert.tbs_certificate().issuer() == issuer.tbs_certificate().subject()
        && aws_lc_rs::signature::UnparsedPublicKey::new(
            algorithm,
            key.subject_public_key.raw_bytes(),
        )
        .verify(&tbs, cert.signature().raw_bytes())
        .is_ok()
}

/// Whether `cert`'s key made `signature` over `message` with the signature algorithm
/// `oid` (a timestamp token's signer).
pub(super) fn verifies_with(
    cert: &Certificate,
    oid: &str,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let key = cert.tbs_certificate().subject_public_key_info();
    certificate_algorithm(oid, key).is_some_and(|algorithm| {
        aws_lc_rs::signature::UnparsedPublicKey::new(algorithm, key.subject_public_key.raw_bytes())
            .verify(message, signature)
            .is_ok()
    })
}

/// The root's authorities `leaf` chains to (the same chain may be listed more than
/// once, with different `validFor` windows); at least one.
fn chains<'a>(root: &'a TrustedRoot, leaf: &Certificate) -> Result<Vec<&'a Authority>, Error> {
    let mut found = Vec::new();
    for authority in &root.authorities {
        let certs = authority
            .certs
            .iter()
            .map(|d| parse_cert(d, "a CA certificate"))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = certs.first() else { continue };
        let linked = certs.windows(2).all(|w| match w {
            [cert, issuer] => signed_by(cert, issuer),
            _ => false,
        });
        if signed_by(leaf, first) && linked {
            found.push(authority);
        }
    }
    if found.is_empty() {
        return Err(Error::Unchained);
    }
    Ok(found)
}

/// The leaf's extended key usage must include code signing, as Fulcio's do: a CA
/// that also issues certificates for other purposes cannot sign attestations.
fn check_code_signing(leaf: &Certificate) -> Result<(), Error> {
    use x509_cert::ext::pkix::ExtendedKeyUsage;
    let (_, usages) = leaf
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
        .map_err(Error::KeyUsageMalformed)?
        .ok_or(Error::NoKeyUsage)?;
    if !usages.0.contains(&CODE_SIGNING) {
        return Err(Error::NotCodeSigning);
    }
    Ok(())
}

/// The leaf's TBS certificate without its SCT list: what a CT log signed.
fn precertificate_tbs(leaf: &Certificate) -> Result<Vec<u8>, Error> {
    let bad = |source| Error::Reencode {
        what: "the certificate",
        source,
    };
    let tbs = leaf.tbs_certificate().to_der().map_err(bad)?;
    let fields: Vec<Any> = Vec::from_der(&tbs).map_err(bad)?;
    let extensions_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(3),
    };
    let fields = fields
        .into_iter()
        .map(|f| {
            if f.tag() != extensions_tag {
                return Ok(f);
            }
            let list: Vec<Extension> = Vec::from_der(f.value()).map_err(bad)?;
            let kept: Vec<Extension> = list
                .into_iter()
                .filter(|e| e.extn_id.to_string() != SCT_LIST)
                .collect();
            Any::new(extensions_tag, kept.to_der().map_err(bad)?).map_err(bad)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    fields.to_der().map_err(bad)
}

/// Read `n` bytes of a TLS structure.
fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], Error> {
    if data.len() < n {
        return Err(Error::SctTruncated);
    }
    let (head, rest) = data.split_at(n);
    *data = rest;
    Ok(head)
}

fn number(bytes: &[u8]) -> usize {
    bytes.iter().fold(0, |n, b| (n << 8) | usize::from(*b))
}

/// At least one embedded SCT of `leaf` is signed by a CT log of the root; returns
/// the CT logs whose SCTs verified.
fn check_sct<'a>(
    root: &'a TrustedRoot,
    leaf: &Certificate,
    issuer_der: &[u8],
) -> Result<Vec<&'a LogKey>, Error> {
    let ext = leaf
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == SCT_LIST)
        .ok_or(Error::NoSct)?;
    let inner = OctetString::from_der(ext.extn_value.as_bytes()).map_err(Error::SctMalformed)?;
    let mut list = inner.as_bytes();
    let total = number(take(&mut list, 2)?);
    let mut list = take(&mut list, total)?;
    let issuer = parse_cert(issuer_der, "the issuer certificate")?;
    let issuer_key_hash = Sha256::digest(
        issuer
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|source| Error::Reencode {
                what: "the issuer certificate's public key",
                source,
            })?,
    );
    let tbs = precertificate_tbs(leaf)?;
    let mut signers = Vec::new();
    while !list.is_empty() {
        let len = number(take(&mut list, 2)?);
        let mut sct = take(&mut list, len)?;
        let version = take(&mut sct, 1)?.first().copied().unwrap_or_default();
        let log_id = take(&mut sct, 32)?;
        let timestamp = take(&mut sct, 8)?;
        let ext_len = number(take(&mut sct, 2)?);
        let extensions = take(&mut sct, ext_len)?;
        take(&mut sct, 2)?; // hash and signature algorithms
        let sig_len = number(take(&mut sct, 2)?);
        let sig = take(&mut sct, sig_len)?;
        // Only an SCT of a CT log of the root is worth rebuilding the signed data for.
        if !root.ctlogs.iter().any(|l| l.key_id == log_id) {
            continue;
        }
        let tbs_len = u32::try_from(tbs.len()).map_err(|_| Error::CertificateTooLarge)?;
        let mut signed = vec![version, 0];
        signed.extend_from_slice(timestamp);
        signed.extend_from_slice(&[0, 1]); // precert_entry
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&u16::try_from(ext_len).unwrap_or(0).to_be_bytes());
        signed.extend_from_slice(extensions);
        signers.extend(
            root.ctlogs
                .iter()
                .filter(|l| l.key_id == log_id && verifies(&l.spki, sig, &signed)),
        );
    }
    if signers.is_empty() {
        return Err(Error::NoSctVerifies);
    }
    Ok(signers)
}

/// RFC 9162 §2.1.3.2: `leaf` at `index` of a tree of `size` hashes up to `root`.
fn inclusion_holds(index: u64, size: u64, leaf: [u8; 32], path: &[Vec<u8>], root: &[u8]) -> bool {
    if index >= size {
        return false;
    }
    let node = |l: &[u8], r: &[u8]| -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().into()
    };
    let (mut f, mut s, mut r) = (index, size - 1, leaf);
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r.as_slice() == root
}

/// A signed note (checkpoint) verifies with `spki`; returns its body lines.
fn checkpoint_lines(note: &str, spki: &[u8]) -> Result<Vec<String>, Error> {
    let (body, signatures) = note.split_once("\n\n").ok_or(Error::CheckpointNotNote)?;
    let message = format!("{body}\n");
    let signed = signatures.lines().any(|line| {
        line.strip_prefix("\u{2014} ")
            .and_then(|rest| rest.rsplit_once(' '))
            .and_then(|(_, sig)| STANDARD.decode(sig).ok())
            .is_some_and(|raw| raw.len() > 4 && verifies(spki, &raw[4..], message.as_bytes()))
    });
    if !signed {
        return Err(Error::CheckpointNotSigned);
    }
    Ok(body.lines().map(str::to_owned).collect())
}

/// What a verified transparency log entry vouches for.
struct Logged<'a> {
    /// The integrated time, only when the signed entry timestamp (SET) covers it.
    signed_time: Option<i64>,
    /// The log (of the root) that signed the entry.
    log: &'a LogKey,
}

/// The transparency log entry: signed by a log of the root (SET and/or a signed
/// checkpoint with an inclusion proof), and about this envelope signed by this
/// certificate.
fn check_tlog<'a>(
    root: &'a TrustedRoot,
    entry: &Value,
    envelope: &Envelope,
    leaf_der: &[u8],
) -> Result<Logged<'a>, Error> {
    let key_id = b64(&entry["logId"]["keyId"], "the log id")?;
    let log = root
        .tlogs
        .iter()
        .find(|l| l.key_id == key_id)
        .ok_or(Error::UnknownLog)?;
    key(&log.spki, "the transparency log's key")?;
    let body_b64 = entry["canonicalizedBody"].as_str().ok_or(Error::NoBody)?;
    let body = STANDARD
        .decode(body_b64)
        .map_err(|source| Error::NotBase64 {
            what: "the entry body".to_owned(),
            source,
        })?;
    let v2 = entry["kindVersion"]["version"] == "0.0.2";
    // Rekor v2 signs no entry timestamp: a promise on a v2 entry is not the log's.
    let signed_time = match v2 {
        true => None,
        false => check_promise(log, entry, body_b64)?,
    };
    let proven = !entry["inclusionProof"].is_null();
    if proven {
        check_proof(log, &entry["inclusionProof"], &body)?;
    }
    if (signed_time.is_none() || v2) && !proven {
        return Err(Error::NotLogged);
    }
    match v2 {
        true => check_body_v2(&body, envelope, leaf_der)?,
        false => check_body(&body, envelope, leaf_der)?,
    }
    Ok(Logged { signed_time, log })
}

/// The inclusion promise (SET), if the entry has one: signed by `log` over the body,
/// integrated time, log id and index. Returns the integrated time it covers.
fn check_promise(log: &LogKey, entry: &Value, body_b64: &str) -> Result<Option<i64>, Error> {
    let Some(set) = entry["inclusionPromise"]["signedEntryTimestamp"].as_str() else {
        return Ok(None);
    };
    let set = STANDARD.decode(set).map_err(|source| Error::NotBase64 {
        what: "the inclusion promise".to_owned(),
        source,
    })?;
    let integrated = int(&entry["integratedTime"], "integratedTime")?;
    let index = int_or_zero(&entry["logIndex"], "logIndex")?;
    let payload = format!(
        "{{\"body\":{},\"integratedTime\":{integrated},\"logID\":\"{}\",\"logIndex\":{index}}}",
        Value::String(body_b64.to_owned()),
        hex::encode(&log.key_id)
    );
    if !verifies(&log.spki, &set, payload.as_bytes()) {
        return Err(Error::PromiseNotSigned);
    }
    Ok(Some(integrated))
}

/// The inclusion proof leads from the body to the root hash of a checkpoint `log`
/// signed.
fn check_proof(log: &LogKey, proof: &Value, body: &[u8]) -> Result<(), Error> {
    let leaf: [u8; 32] = {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(body);
        h.finalize().into()
    };
    let path = proof["hashes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| b64(h, "a proof hash"))
        .collect::<Result<Vec<_>, _>>()?;
    let root_hash = b64(&proof["rootHash"], "the proof's root hash")?;
    let (pi, size) = (
        int_or_zero(&proof["logIndex"], "the proof's logIndex")?,
        int(&proof["treeSize"], "treeSize")?,
    );
    let (Ok(pi), Ok(size)) = (u64::try_from(pi), u64::try_from(size)) else {
        return Err(Error::NegativeProof);
    };
    if !inclusion_holds(pi, size, leaf, &path, &root_hash) {
        return Err(Error::ProofMismatch);
    }
    let note = proof["checkpoint"]["envelope"]
        .as_str()
        .ok_or(Error::NoCheckpoint)?;
    let lines = checkpoint_lines(note, &log.spki)?;
    if lines.get(1).map(String::as_str) != Some(size.to_string().as_str())
        || lines
            .get(2)
            .and_then(|r| STANDARD.decode(r).ok())
            .as_deref()
            != Some(&root_hash[..])
    {
        return Err(Error::CheckpointOtherTree);
    }
    Ok(())
}

/// The logged body is a `dsse` entry about this envelope, signed by this certificate.
fn check_body(body: &[u8], envelope: &Envelope, leaf_der: &[u8]) -> Result<(), Error> {
    let logged: Value = serde_json::from_slice(body).map_err(Error::BodyNotJson)?;
    if logged["kind"] != "dsse" {
        return Err(Error::EntryKind(
            logged["kind"].as_str().unwrap_or("?").to_owned(),
        ));
    }
    let spec = &logged["spec"];
    if spec["payloadHash"]["value"].as_str()
        != Some(&hex::encode(Sha256::digest(&envelope.payload)))
    {
        return Err(Error::OtherPayload);
    }
    let leaf_pem = crate::signing::keyless::certificate::to_pem("CERTIFICATE", leaf_der);
    let matches = spec["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            let verifier = b64(&s["verifier"], "verifier").ok();
            let sig = b64(&s["signature"], "signature").ok();
            let same_cert = verifier.is_some_and(|v| {
                pem::parse(&v).is_ok_and(|p| p.contents() == leaf_der) || v == leaf_pem.as_bytes()
            });
            same_cert && sig.is_some_and(|sig| envelope.signatures.iter().any(|e| e.sig == sig))
        });
    if !matches {
        return Err(Error::EntryDiffers);
    }
    Ok(())
}

/// The logged body is a Rekor v2 `hashedrekord` v0.0.2 entry over this envelope's
/// PAE, with one of its signatures, verified by this certificate (or key).
fn check_body_v2(body: &[u8], envelope: &Envelope, verifier_der: &[u8]) -> Result<(), Error> {
    let logged: Value = serde_json::from_slice(body).map_err(Error::BodyNotJson)?;
    if logged["kind"] != "hashedrekord" || logged["apiVersion"] != "0.0.2" {
        return Err(Error::EntryKind(format!(
            "{} {}",
            logged["kind"].as_str().unwrap_or("?"),
            logged["apiVersion"].as_str().unwrap_or("?")
        )));
    }
    let spec = &logged["spec"]["hashedRekordV002"];
    let verifier = &spec["signature"]["verifier"];
    let (cert, spki) = match Certificate::from_der(verifier_der) {
        Ok(c) => (
            Some(verifier_der),
            c.tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .map_err(|source| Error::Reencode {
                    what: "the certificate's key",
                    source,
                })?,
        ),
        Err(_) => (None, verifier_der.to_vec()),
    };
    let (details, hash) =
        crate::transparency::rekor_v2::key_details(&spki).map_err(|_| Error::EntryDiffers)?;
    let same_key = match cert {
        Some(cert) => {
            b64(&verifier["x509Certificate"]["rawBytes"], "verifier")
                .ok()
                .as_deref()
                == Some(cert)
        }
        None => b64(&verifier["publicKey"]["rawBytes"], "verifier").ok() == Some(spki),
    };
    let sig = b64(&spec["signature"]["content"], "signature").ok();
    if !same_key
        || verifier["keyDetails"] != details
        || !sig.is_some_and(|sig| envelope.signatures.iter().any(|e| e.sig == sig))
    {
        return Err(Error::EntryDiffers);
    }
    if spec["data"]["algorithm"] != hash.name()
        || b64(&spec["data"]["digest"], "digest").ok() != Some(hash.digest(&envelope.pae()))
    {
        return Err(Error::OtherPayload);
    }
    Ok(())
}

/// The signing times: the log's integrated time when its SET covers it (without a
/// SET, the bundle's `integratedTime` is only the bundle's word), and the time of
/// every RFC 3161 timestamp over the envelope's signature, each verified against the
/// root's timestamp authorities. At least one is needed.
fn signing_times(
    material: &Value,
    signed_time: Option<i64>,
    envelope: &Envelope,
    root: &TrustedRoot,
) -> Result<Vec<i64>, Error> {
    let mut times: Vec<i64> = signed_time.into_iter().collect();
    let signature = envelope.first_signature();
    let timestamps = material["timestampVerificationData"]["rfc3161Timestamps"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if timestamps.len() > MAX_TIMESTAMPS {
        return Err(Error::TooManyTimestamps(timestamps.len()));
    }
    for t in timestamps {
        let token = b64(&t["signedTimestamp"], "an RFC 3161 timestamp")?;
        times.push(super::timestamp::verify(&token, signature, &root.tsas)?);
    }
    if times.is_empty() {
        return Err(Error::NoSignedTime);
    }
    Ok(times)
}

/// At the signing time `at`, the log, a CA the leaf chains to and a CT log that
/// signed its SCT were each inside their `validFor` window of the trusted root.
fn check_windows(
    at: i64,
    log: Option<&LogKey>,
    authorities: &[&Authority],
    ctlogs: &[&LogKey],
) -> Result<(), Error> {
    let shown =
        || jiff::Timestamp::from_second(at).map_or_else(|_| at.to_string(), |t| t.to_string());
    let described = |windows: &mut dyn Iterator<Item = &Window>| {
        windows.map(Window::describe).collect::<Vec<_>>().join(", ")
    };
    if let Some(log) = log
        && !log.window.contains(at)
    {
        return Err(Error::LogNotTrusted {
            at: shown(),
            window: log.window.describe(),
        });
    }
    if !authorities.iter().any(|a| a.window.contains(at)) {
        return Err(Error::AuthorityNotTrusted {
            at: shown(),
            windows: described(&mut authorities.iter().map(|a| &a.window)),
        });
    }
    if !ctlogs.iter().any(|l| l.window.contains(at)) {
        return Err(Error::CtLogNotTrusted {
            at: shown(),
            windows: described(&mut ctlogs.iter().map(|l| &l.window)),
        });
    }
    Ok(())
}

/// The Sigstore bundle equivalent of a cosign `.att` layer: the envelope (the blob),
/// the certificate (`dev.sigstore.cosign/certificate`) and cosign's Rekor bundle
/// (`dev.sigstore.cosign/bundle`: the inclusion promise, no proof), so it is checked
/// exactly as bundles are. (cosign's `.att` RFC 3161 annotation timestamps the
/// envelope's JSON, not its signature, and chainseal writes none there: a layer
/// logged in Rekor v2 or only timestamped has its proof of time in its Sigstore
/// bundle referrer.)
pub fn bundle_from_cosign_layer(
    blob: &[u8],
    annotations: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<u8>, Error> {
    let envelope: Value = serde_json::from_slice(blob).map_err(Error::LayerNotEnvelope)?;
    let cert = annotations
        .get(crate::oci::cosign::CERTIFICATE)
        .filter(|c| !c.is_empty())
        .ok_or(Error::LayerWithoutCertificate)?;
    let cert = pem::parse(cert).map_err(Error::CertificateNotPem)?;
    let rekor: Value = serde_json::from_str(
        annotations
            .get(crate::oci::cosign::BUNDLE)
            .ok_or(Error::LayerWithoutLogBundle)?,
    )
    .map_err(Error::LogBundleNotJson)?;
    let bundle = serde_json::json!({
        "mediaType": crate::envelope::bundle::MEDIA_TYPE,
        "verificationMaterial": {
            "certificate": {"rawBytes": STANDARD.encode(cert.contents())},
            "tlogEntries": [cosign_entry(&rekor)?],
        },
        "dsseEnvelope": {
            "payload": envelope["payload"],
            "payloadType": envelope["payloadType"],
            "signatures": envelope["signatures"],
        },
    });
    Ok(bundle.to_string().into_bytes())
}

/// A bundle's `TransparencyLogEntry` from cosign's Rekor bundle annotation.
fn cosign_entry(rekor: &Value) -> Result<Value, Error> {
    let payload = &rekor["Payload"];
    let body = payload["body"].as_str().unwrap_or_default();
    let kind = STANDARD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["kind"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let log_id =
        hex::decode(payload["logID"].as_str().unwrap_or_default()).map_err(Error::LogIdNotHex)?;
    Ok(serde_json::json!({
        "logIndex": payload["logIndex"].to_string(),
        "logId": {"keyId": STANDARD.encode(log_id)},
        "kindVersion": {"kind": kind, "version": "0.0.1"},
        "integratedTime": payload["integratedTime"].to_string(),
        "inclusionPromise": {"signedEntryTimestamp": rekor["SignedEntryTimestamp"]},
        "canonicalizedBody": body,
    }))
}

/// A bundle's envelope has exactly one signature (as sigstore-go and sigstore-python
/// require): the log entry, the timestamps and the signature check are all about it,
/// so an old timestamped signature cannot ride along with a new one.
fn one_signature(envelope: &Envelope) -> Result<(), Error> {
    match envelope.signatures.len() {
        1 => Ok(()),
        n => Err(Error::SignatureCount(n)),
    }
}

/// The bundle's transparency log entry (at most one), checked by [`check_tlog`]
/// against the certificate or key `verifier_der`; `None` when it has none.
fn logged_entry<'a>(
    root: &'a TrustedRoot,
    material: &Value,
    envelope: &Envelope,
    verifier_der: &[u8],
) -> Result<Option<Logged<'a>>, Error> {
    match material["tlogEntries"].as_array().map(Vec::as_slice) {
        None | Some([]) => Ok(None),
        Some([entry]) => check_tlog(root, entry, envelope, verifier_der).map(Some),
        Some(more) => Err(Error::EntryCount(more.len())),
    }
}

/// The log entry (at most one) and RFC 3161 timestamps of a key-signed bundle,
/// checked against `root` as a keyless bundle's are, with the key (DER
/// SubjectPublicKeyInfo `spki`) in place of the certificate: the entry is signed by a
/// log of the root and is about this envelope and key, and every timestamp verifies,
/// and the log was trusted at each signed time. A key has no validity period, so a
/// bundle with neither is accepted (its signature is what counts).
pub fn verify_key_material(
    bundle: &Value,
    envelope: &Envelope,
    spki: &[u8],
    root: &TrustedRoot,
) -> Result<(), Error> {
    let material = &bundle["verificationMaterial"];
    one_signature(envelope)?;
    let logged = logged_entry(root, material, envelope, spki)?;
    let signed_time = logged.as_ref().and_then(|l| l.signed_time);
    let times = match signing_times(material, signed_time, envelope, root) {
        Err(Error::NoSignedTime) => Vec::new(),
        other => other?,
    };
    if let Some(log) = logged.as_ref().map(|l| l.log) {
        for at in times {
            if !log.window.contains(at) {
                return Err(Error::LogNotTrusted {
                    at: jiff::Timestamp::from_second(at)
                        .map_or_else(|_| at.to_string(), |t| t.to_string()),
                    window: log.window.describe(),
                });
            }
        }
    }
    Ok(())
}

/// Verify a keyless bundle.
pub fn verify_bundle(
    bundle: &[u8],
    root: &TrustedRoot,
    expected: &Identity,
) -> Result<Verified, Error> {
    let value: Value = serde_json::from_slice(bundle).map_err(Error::BundleNotJson)?;
    let envelope = crate::envelope::bundle::envelope_of(&value).map_err(Error::Envelope)?;
    one_signature(&envelope)?;
    let material = &value["verificationMaterial"];
    let leaf_der = if material["certificate"].is_object() {
        b64(&material["certificate"]["rawBytes"], "the certificate")?
    } else if material["x509CertificateChain"].is_object() {
        b64(
            &material["x509CertificateChain"]["certificates"][0]["rawBytes"],
            "the certificate",
        )?
    } else {
        return Err(Error::SignedWithKey);
    };
    let leaf = parse_cert(&leaf_der, "the certificate")?;
    let authorities = chains(root, &leaf)?;
    check_code_signing(&leaf)?;
    let issuer = authorities
        .first()
        .and_then(|a| a.certs.first())
        .ok_or(Error::EmptyAuthority)?;
    let ctlogs = check_sct(root, &leaf, issuer)?;
    let logged = logged_entry(root, material, &envelope, &leaf_der)?;
    let times = signing_times(
        material,
        logged.as_ref().and_then(|l| l.signed_time),
        &envelope,
        root,
    )?;
    let validity = leaf.tbs_certificate().validity();
    let (from, until) = (
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    );
    for at in times {
        check_windows(at, logged.as_ref().map(|l| l.log), &authorities, &ctlogs)?;
        let signed = u64::try_from(at).unwrap_or(0);
        if signed < from || signed > until {
            return Err(Error::OutsideValidity {
                signed,
                from,
                until,
            });
        }
    }
    let chain = CertificateChain::from_ders(leaf_der, Vec::new()).map_err(Error::Leaf)?;
    let pae = envelope.pae();
    // `one_signature` made sure there is exactly one.
    if !verifies(&chain.public_key_der, envelope.first_signature(), &pae) {
        return Err(Error::SignatureMismatch);
    }
    if !expected.identity.matches(&chain.identity) {
        return Err(Error::WrongIdentity {
            found: chain.identity,
            expected: expected.identity.describe(),
        });
    }
    if chain.issuer.as_deref() != Some(expected.issuer.as_str()) {
        return Err(Error::WrongIssuer {
            found: chain.issuer.unwrap_or_else(|| "(none)".to_owned()),
            expected: expected.issuer.clone(),
        });
    }
    let mut verified = super::read_payload(&envelope)?;
    verified.signer = Some(super::Signer {
        identity: chain.identity,
        issuer: chain.issuer,
        claims: chain.claims,
    });
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(parts: &[&[u8]]) -> [u8; 32] {
        let mut d = Sha256::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().into()
    }

    #[test]
    fn an_int64_left_out_of_protobuf_json_is_zero() {
        assert_eq!(int_or_zero(&Value::Null, "logIndex").ok(), Some(0));
        assert_eq!(
            int_or_zero(&serde_json::json!("42"), "logIndex").ok(),
            Some(42)
        );
        assert!(int_or_zero(&serde_json::json!("x"), "logIndex").is_err());
        assert!(
            int(&Value::Null, "treeSize").is_err(),
            "other fields stay required"
        );
    }

    #[test]
    fn inclusion_proofs_follow_rfc_9162() {
        let leaves: Vec<[u8; 32]> = (0u8..5).map(|i| h(&[&[0], &[i]])).collect();
        let n = |l: &[u8; 32], r: &[u8; 32]| h(&[&[1], l, r]);
        // A tree of 5: ((0 1)(2 3)) 4
        let (n01, n23) = (n(&leaves[0], &leaves[1]), n(&leaves[2], &leaves[3]));
        let n0123 = n(&n01, &n23);
        let root = n(&n0123, &leaves[4]);
        let path2 = vec![leaves[3].to_vec(), n01.to_vec(), leaves[4].to_vec()];
        assert!(inclusion_holds(2, 5, leaves[2], &path2, &root));
        assert!(!inclusion_holds(3, 5, leaves[2], &path2, &root));
        assert!(!inclusion_holds(2, 5, leaves[1], &path2, &root));
        assert!(inclusion_holds(4, 5, leaves[4], &[n0123.to_vec()], &root));
        assert!(inclusion_holds(0, 1, leaves[0], &[], &leaves[0]));
        assert!(!inclusion_holds(1, 1, leaves[0], &[], &leaves[0]));
    }

    #[test]
    fn only_a_signed_time_is_a_signing_time() {
        let root = TrustedRoot {
            authorities: Vec::new(),
            tlogs: Vec::new(),
            ctlogs: Vec::new(),
            tsas: Vec::new(),
        };
        let env = Envelope {
            payload_type: String::new(),
            payload: Vec::new(),
            signatures: Vec::new(),
        };
        assert!(matches!(
            signing_times(&Value::Null, Some(7), &env, &root).as_deref(),
            Ok([7])
        ));
        assert!(matches!(
            signing_times(&serde_json::json!({}), None, &env, &root),
            Err(Error::NoSignedTime)
        ));
        let tsa = serde_json::json!({"timestampVerificationData": {"rfc3161Timestamps": [{"signedTimestamp": "AA=="}]}});
        assert!(
            matches!(
                signing_times(&tsa, Some(7), &env, &root),
                Err(Error::Timestamp(_))
            ),
            "a timestamp that does not verify rejects the bundle"
        );
    }

    /// TrustedRoot v0.2 (what Rekor v2 deployments publish) adds checkpoint key ids and
    /// operators to the logs and operators to the authorities: read as v0.1 is.
    #[test]
    fn trusted_roots_v0_1_and_v0_2_are_read_alike() {
        let log = |extra: serde_json::Value| {
            let mut l = serde_json::json!({
                "baseUrl": "https://log.example",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": "AQID", "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": "2026-01-01T00:00:00Z"}},
                "logId": {"keyId": "BAUG"},
            });
            l.as_object_mut()
                .expect("object")
                .extend(extra.as_object().cloned().unwrap_or_default());
            l
        };
        let root = |media_type: &str, extra: serde_json::Value| {
            serde_json::json!({
                "mediaType": media_type,
                "tlogs": [log(extra.clone())],
                "ctlogs": [log(extra.clone())],
                "certificateAuthorities": [{
                    "subject": {"organization": "example", "commonName": "example"},
                    "uri": "https://ca.example",
                    "certChain": {"certificates": [{"rawBytes": "BwgJ"}]},
                    "validFor": {"start": "2026-01-01T00:00:00Z"},
                    "operator": "example.org",
                }],
                "timestampAuthorities": [],
            })
            .to_string()
        };
        let v01 = TrustedRoot::from_json(
            root(
                "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                serde_json::json!({}),
            )
            .as_bytes(),
        )
        .expect("v0.1");
        let v02 = TrustedRoot::from_json(
            root(
                "application/vnd.dev.sigstore.trustedroot.v0.2+json",
                serde_json::json!({"checkpointKeyId": {"keyId": "CgsM"}, "operator": "example.org"}),
            )
            .as_bytes(),
        )
        .expect("v0.2");
        for r in [&v01, &v02] {
            assert_eq!(r.tlogs.len(), 1);
            assert_eq!(r.tlogs[0].key_id, vec![4, 5, 6]);
            assert_eq!(r.tlogs[0].spki, vec![1, 2, 3]);
            assert_eq!(r.ctlogs.len(), 1);
            assert_eq!(r.authorities[0].certs, vec![vec![7, 8, 9]]);
        }
    }

    /// An old timestamped signature beside a new one proves nothing about the new one:
    /// bundles carry exactly one signature.
    #[test]
    fn bundles_with_two_signatures_are_refused() {
        let root = TrustedRoot {
            authorities: Vec::new(),
            tlogs: Vec::new(),
            ctlogs: Vec::new(),
            tsas: Vec::new(),
        };
        let bundle = serde_json::json!({
            "mediaType": crate::envelope::bundle::MEDIA_TYPE,
            "verificationMaterial": {"certificate": {"rawBytes": "AA=="}},
            "dsseEnvelope": {"payload": "e30=", "payloadType": "application/vnd.in-toto+json",
                             "signatures": [{"sig": "AQ=="}, {"sig": "Ag=="}]},
        });
        let identity = Identity {
            identity: "x".into(),
            issuer: "y".into(),
        };
        let e = verify_bundle(bundle.to_string().as_bytes(), &root, &identity)
            .expect_err("two signatures");
        assert!(matches!(e, Error::SignatureCount(2)), "{e}");
        let env = crate::envelope::bundle::envelope_of(&bundle).expect("envelope");
        assert!(matches!(
            verify_key_material(&bundle, &env, b"", &root),
            Err(Error::SignatureCount(2))
        ));
    }

    #[test]
    fn trusted_roots_need_authorities_and_logs() {
        assert!(matches!(
            TrustedRoot::from_json(b"{}"),
            Err(Error::NoAuthority)
        ));
        assert!(matches!(
            TrustedRoot::from_json(b"["),
            Err(Error::RootNotJson(_))
        ));
    }
}
