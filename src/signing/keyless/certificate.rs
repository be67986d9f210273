//! A Fulcio certificate chain: the leaf that certifies the ephemeral key, and what it
//! says about the signer (subject alternative name and OIDC issuer).

use der::{Decode as _, Encode as _};
use thiserror::Error;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// Fulcio's OIDC issuer extension (v2: a DER UTF8String).
const ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
/// Fulcio's legacy OIDC issuer extension (v1: the raw string).
const ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";

/// Fulcio's CI claims (extensions `1.3.6.1.4.1.57264.1.9`–`.22`, each a DER
/// UTF8String), by the names Fulcio's `docs/oid-info.md` gives them. GitHub and
/// GitLab tokens fill them; gh checks `--signer-workflow` and
/// `--deny-self-hosted-runners` against them.
const CLAIMS: [(&str, &str); 14] = [
    ("1.3.6.1.4.1.57264.1.9", "buildSignerURI"),
    ("1.3.6.1.4.1.57264.1.10", "buildSignerDigest"),
    ("1.3.6.1.4.1.57264.1.11", "runnerEnvironment"),
    ("1.3.6.1.4.1.57264.1.12", "sourceRepositoryURI"),
    ("1.3.6.1.4.1.57264.1.13", "sourceRepositoryDigest"),
    ("1.3.6.1.4.1.57264.1.14", "sourceRepositoryRef"),
    ("1.3.6.1.4.1.57264.1.15", "sourceRepositoryIdentifier"),
    ("1.3.6.1.4.1.57264.1.16", "sourceRepositoryOwnerURI"),
    ("1.3.6.1.4.1.57264.1.17", "sourceRepositoryOwnerIdentifier"),
    ("1.3.6.1.4.1.57264.1.18", "buildConfigURI"),
    ("1.3.6.1.4.1.57264.1.19", "buildConfigDigest"),
    ("1.3.6.1.4.1.57264.1.20", "buildTrigger"),
    ("1.3.6.1.4.1.57264.1.21", "runInvocationURI"),
    (
        "1.3.6.1.4.1.57264.1.22",
        "sourceRepositoryVisibilityAtSigning",
    ),
];

/// Why certificates do not make a chain.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChainError {
    /// Not PEM.
    #[error("a certificate is not PEM")]
    Pem(#[source] pem::PemError),
    /// A PEM block of another kind.
    #[error("expected a CERTIFICATE, got a `{0}` block")]
    NotACertificate(String),
    /// No certificate at all.
    #[error("no certificate was returned")]
    Empty,
    /// The leaf is not a certificate.
    #[error("the leaf certificate is malformed")]
    Leaf(#[source] der::Error),
    /// The leaf's public key cannot be encoded.
    #[error("the leaf's public key is malformed")]
    PublicKey(#[source] der::Error),
    /// The leaf's subject alternative name extension is malformed.
    #[error("the leaf's subject alternative name is malformed")]
    SubjectAltName(#[source] der::Error),
    /// The leaf names no identity.
    #[error("the leaf certificate names no email or URI identity")]
    NoIdentity,
}

/// A leaf certificate and the certificates that chain it to a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateChain {
    /// The leaf, DER.
    pub leaf_der: Vec<u8>,
    /// The leaf, PEM (64-column lines, LF, as `cryptography` and Go write it).
    pub leaf_pem: String,
    /// The intermediates and root, PEM, concatenated (empty when none were given).
    pub chain_pem: String,
    /// The rest of the chain, DER, leaf-to-root.
    pub chain_der: Vec<Vec<u8>>,
    /// The leaf's DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// The signer identity: the leaf's first email or URI subject alternative name.
    pub identity: String,
    /// The OIDC issuer Fulcio recorded in the leaf.
    pub issuer: Option<String>,
    /// Fulcio's CI claims the leaf carries, by name (`buildSignerURI`,
    /// `runnerEnvironment`, `sourceRepositoryURI`, …); a malformed one is left out.
    pub claims: std::collections::BTreeMap<String, String>,
}

/// PEM with 64-column lines and LF endings.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

impl CertificateChain {
    /// Parse a chain of PEM certificates, leaf first.
    pub fn from_pems(pems: &[String]) -> Result<Self, ChainError> {
        let mut ders = Vec::new();
        for text in pems {
            for block in pem::parse_many(text.as_bytes()).map_err(ChainError::Pem)? {
                if block.tag() != "CERTIFICATE" {
                    return Err(ChainError::NotACertificate(block.tag().to_owned()));
                }
                ders.push(block.into_contents());
            }
        }
        let mut ders = ders.into_iter();
        let leaf_der = ders.next().ok_or(ChainError::Empty)?;
        Self::from_ders(leaf_der, ders.collect())
    }

    /// A chain from DER certificates.
    pub fn from_ders(leaf_der: Vec<u8>, chain_der: Vec<Vec<u8>>) -> Result<Self, ChainError> {
        let leaf = Certificate::from_der(&leaf_der).map_err(ChainError::Leaf)?;
        let tbs = leaf.tbs_certificate();
        let public_key_der = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(ChainError::PublicKey)?;
        let identity = tbs
            .get_extension::<SubjectAltName>()
            .map_err(ChainError::SubjectAltName)?
            .and_then(|(_, san)| {
                san.0.into_iter().find_map(|name| match name {
                    GeneralName::Rfc822Name(s) | GeneralName::UniformResourceIdentifier(s) => {
                        Some(s.to_string())
                    }
                    _ => None,
                })
            })
            .ok_or(ChainError::NoIdentity)?;
        let mut issuer = None;
        let mut claims = std::collections::BTreeMap::new();
        for ext in tbs.extensions().into_iter().flatten() {
            let oid = ext.extn_id.to_string();
            let bytes = ext.extn_value.as_bytes();
            if let Some((_, name)) = CLAIMS.iter().find(|(o, _)| *o == oid) {
                if let Ok(value) = der::asn1::Utf8StringRef::from_der(bytes) {
                    claims.insert((*name).to_owned(), value.as_str().to_owned());
                }
            } else if oid == ISSUER_V2 {
                issuer = der::asn1::Utf8StringRef::from_der(bytes)
                    .ok()
                    .map(|s| s.as_str().to_owned());
            } else if oid == ISSUER_V1 && issuer.is_none() {
                issuer = std::str::from_utf8(bytes).ok().map(str::to_owned);
            }
        }
        let chain_pem = chain_der
            .iter()
            .map(|d| to_pem("CERTIFICATE", d))
            .collect::<String>();
        Ok(Self {
            leaf_pem: to_pem("CERTIFICATE", &leaf_der),
            leaf_der,
            chain_pem,
            chain_der,
            public_key_der,
            identity,
            issuer,
            claims,
        })
    }
}
