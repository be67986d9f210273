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
//!
//! Image signatures (Chains' `oci` artifacts) are documents too: `Name` is the first
//! 12 hex digits of the image digest, `Signed` and `Object` the simple-signing payload,
//! `Signature` base64 of the raw signature.

use serde_json::Value;

use super::{Error, Signed, SignedImage, Storage, Stored};
use base64::Engine as _;

/// Where a `mongo://` collection's server connection string comes from (Chains'
/// precedence: path, directory, value, environment).
#[derive(Debug, Clone, Default)]
pub enum ServerUrl {
    /// A file holding it (`storage.docdb.mongo-server-url-path`), read at each store.
    Path(std::path::PathBuf),
    /// A directory with a `MONGO_SERVER_URL` file (`…-url-dir`), read at each store.
    Dir(std::path::PathBuf),
    /// The value itself (`storage.docdb.mongo-server-url`).
    Value(crate::secret::SecretString),
    /// The `MONGO_SERVER_URL` environment variable.
    #[default]
    Env,
}

/// The backend for a document database URL: `mongodb://…`, `mongodb+srv://…`,
/// `mongo://<db>/<collection>` (its server from `server`) or `dynamodb://<table>`.
pub fn open(url: &str, server: ServerUrl) -> Result<Box<dyn super::Storage>, Error> {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    match scheme {
        "mongodb" | "mongodb+srv" | "mongo" => mongo(url, server),
        "dynamodb" => dynamodb(url),
        _ => Err(Error::UnsupportedDocDb(crate::secret::without_password(
            url,
        ))),
    }
}

#[cfg(feature = "mongodb")]
fn mongo(url: &str, server: ServerUrl) -> Result<Box<dyn super::Storage>, Error> {
    Ok(Box::new(super::mongo::MongoStorage::new(url, server)?))
}

#[cfg(not(feature = "mongodb"))]
fn mongo(url: &str, _server: ServerUrl) -> Result<Box<dyn super::Storage>, Error> {
    Err(Error::NotBuilt {
        uri: crate::secret::without_password(url),
        what: "MongoDB",
        feature: "mongodb",
    })
}

#[cfg(feature = "aws")]
fn dynamodb(url: &str) -> Result<Box<dyn super::Storage>, Error> {
    Ok(Box::new(super::dynamodb::DynamoDbStorage::new(url)?))
}

#[cfg(not(feature = "aws"))]
fn dynamodb(url: &str) -> Result<Box<dyn super::Storage>, Error> {
    Err(Error::NotBuilt {
        uri: url.to_owned(),
        what: "DynamoDB",
        feature: "aws",
    })
}

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
        let (cert, chain) = super::certificate_pem(item.certificate);
        Ok(Self {
            name: item.key.to_owned(),
            signed: item.envelope.payload.clone(),
            signature: base64::engine::general_purpose::STANDARD.encode(item.envelope.to_json()),
            cert,
            chain,
            object,
        })
    }

    /// The document for one image signature.
    pub fn image(item: &SignedImage<'_>) -> Result<Self, Error> {
        let object = serde_json::from_slice(item.payload).map_err(|e| {
            Error::InvalidPayload(format!("the simple-signing payload is not JSON ({e})"))
        })?;
        let (cert, chain) = super::certificate_pem(item.certificate);
        Ok(Self {
            name: super::image_key(item),
            signed: item.payload.to_vec(),
            signature: base64::engine::general_purpose::STANDARD.encode(item.signature),
            cert,
            chain,
            object,
        })
    }
}

/// A database (`backend`: `MongoDB`, `DynamoDB`) failed `action` on `target`.
#[cfg(any(feature = "aws", feature = "mongodb"))]
pub(crate) fn failed(
    backend: &'static str,
    target: &str,
    action: &str,
    detail: impl std::fmt::Display,
) -> Error {
    super::failed(backend, target, format!("{action}: {detail}"))
}

/// A document database: Chains' documents upserted by `Name`.
#[async_trait::async_trait]
pub(crate) trait DocumentStore: std::fmt::Display + std::fmt::Debug + Send + Sync {
    /// Upsert `doc` by name.
    async fn put(&self, doc: Document) -> Result<Stored, Error>;
}

#[async_trait::async_trait]
impl<T: DocumentStore> Storage for T {
    async fn store(&self, item: &Signed<'_>) -> Result<Vec<Stored>, Error> {
        Ok(vec![self.put(Document::new(item)?).await?])
    }

    fn keeps_image_signatures(&self) -> bool {
        true
    }

    async fn store_image(&self, item: &SignedImage<'_>) -> Result<Vec<Stored>, Error> {
        Ok(vec![self.put(Document::image(item)?).await?])
    }
}

#[cfg(test)]
mod tests {
    use super::super::query_param;

    #[test]
    fn query_params() {
        assert_eq!(query_param("id_field=name&x=1", "id_field"), Some("name"));
        assert_eq!(query_param("x=1", "id_field"), None);
        assert_eq!(query_param("", "id_field"), None);
    }
}
