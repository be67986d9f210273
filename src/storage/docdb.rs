//! The document Tekton Chains' `docdb` backend writes, shared by the document
//! database backends ([`super::mongo`], [`super::dynamodb`]).
//!
//! Chains puts one document per storage key (its "short key", e.g. `taskrun-<uid>`)
//! and replaces it on every run. The fields keep the Go struct's names:
//!
//! | field | content |
//! | --- | --- |
//! | `Name` | the storage key (also the document id) |
//! | `Signed` | the signed payload, the in-toto Statement, as raw bytes |
//! | `Signature` | base64 of the DSSE envelope JSON (Chains' "signature string") |
//! | `Cert`, `Chain` | the signing certificate and its chain, PEM (empty for keys) |
//! | `Object` | the Statement as a document (queryable: `Object.subject.digest.sha256`) |

use serde_json::Value;

use super::{Error, Signed};
use base64::Engine as _;

/// One Chains docdb document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `Name`: the storage key.
    pub name: String,
    /// `Signed`: the Statement bytes.
    pub signed: Vec<u8>,
    /// `Signature`: base64 of the envelope JSON.
    pub signature: String,
    /// `Cert`: PEM, empty without a certificate.
    pub cert: String,
    /// `Chain`: PEM, empty without a certificate.
    pub chain: String,
    /// `Object`: the Statement parsed as JSON.
    pub object: Value,
}

impl Document {
    /// The document for one signed attestation.
    pub fn new(item: &Signed<'_>) -> Result<Self, Error> {
        super::check_key(item.key)?;
        let object = serde_json::from_slice(&item.envelope.payload)
            .map_err(|e| Error::InvalidPayload(format!("the signed payload is not JSON ({e})")))?;
        let (cert, chain) = item
            .certificate
            .map_or((String::new(), String::new()), |c| {
                (c.leaf_pem.clone(), c.chain_pem.clone())
            });
        Ok(Self {
            name: item.key.to_owned(),
            signed: item.envelope.payload.clone(),
            signature: base64::engine::general_purpose::STANDARD.encode(item.envelope.to_json()),
            cert,
            chain,
            object,
        })
    }
}

/// A database error message with the cause chain, for [`Error::Database`].
#[cfg(any(feature = "aws", feature = "mongodb"))]
pub(crate) fn failed(
    backend: &'static str,
    target: &str,
    action: &str,
    detail: impl std::fmt::Display,
) -> Error {
    Error::Database {
        backend,
        target: target.to_owned(),
        detail: format!("{action}: {detail}"),
    }
}

/// The value of query parameter `name` in `query` (`a=b&c=d`), percent-decoding not
/// needed for the parameters read here.
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        assert_eq!(query_param("id_field=name&x=1", "id_field"), Some("name"));
        assert_eq!(query_param("x=1", "id_field"), None);
        assert_eq!(query_param("", "id_field"), None);
    }
}
