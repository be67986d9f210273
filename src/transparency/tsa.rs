//! An RFC 3161 timestamp authority client: a timestamp over a signature's bytes
//! (what Sigstore bundles carry in `timestampVerificationData.rfc3161Timestamps`),
//! asked with a nonce and the authority's certificate, and checked before it is kept:
//! granted, a token over exactly this signature, repeating the nonce.

use sha2::{Digest as _, Sha256};

use super::{Error, rfc3161};

/// The public-good timestamp authority.
pub const PUBLIC_GOOD_TSA_URL: &str = "https://timestamp.sigstore.dev/api/v1/timestamp";

/// The largest timestamp reply read (a token with its certificate chain is a few KiB).
const MAX_REPLY_BYTES: u64 = 256 << 10;

/// A timestamp authority.
#[derive(Debug, Clone)]
pub struct Tsa {
    url: String,
    client: reqwest::Client,
}

/// A timestamp, as a bundle carries it (Sigstore's `signedTimestamp`: the
/// authority's whole DER `TimeStampResp`, not only its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// The authority's URL.
    pub url: String,
    /// The DER `TimeStampResp`, as the authority sent it.
    pub token: Vec<u8>,
    /// Its generation time, Unix seconds.
    pub time: i64,
}

impl Tsa {
    /// A client for the authority whose timestamp endpoint is `url` (e.g.
    /// `https://timestamp.sigstore.dev/api/v1/timestamp`).
    pub fn new(url: &str) -> Result<Self, Error> {
        let client = crate::http::client().map_err(|source| Error::Unreachable {
            service: "timestamp authority",
            url: url.to_owned(),
            source,
        })?;
        Ok(Self {
            url: url.to_owned(),
            client,
        })
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A timestamp over `signature` (its SHA-256 is the message imprint).
    pub async fn timestamp(&self, signature: &[u8]) -> Result<Timestamp, Error> {
        let imprint = Sha256::digest(signature);
        let nonce = fastrand::u64(1..);
        let fail = |detail: String| Error::Tsa {
            url: self.url.clone(),
            detail,
        };
        let request = rfc3161::request(&imprint, nonce)
            .map_err(|e| fail(format!("cannot encode the request: {e}")))?;
        let reply =
            super::send_with_retry("timestamp authority", &self.url, MAX_REPLY_BYTES, || {
                self.client
                    .post(&self.url)
                    .header("Content-Type", "application/timestamp-query")
                    .body(request.clone())
            })
            .await?;
        if !reply.status.is_success() {
            return Err(Error::Refused {
                service: "timestamp authority",
                url: self.url.clone(),
                action: String::new(),
                status: reply.status,
                message: format!(": {}", reply.message()),
            });
        }
        let read = rfc3161::read_response(&reply.body).map_err(|e| fail(e.to_string()))?;
        let info = &read.tst_info;
        if info.message_imprint.hash_algorithm.oid != rfc3161::SHA256
            || info.message_imprint.hashed_message.as_bytes() != imprint.as_slice()
        {
            return Err(fail(
                "the token is for another message than the signature sent".into(),
            ));
        }
        let expected = rfc3161::nonce_int(nonce).map_err(|e| fail(e.to_string()))?;
        if info.nonce.as_ref() != Some(&expected) {
            return Err(fail("the token does not repeat the request's nonce".into()));
        }
        Ok(Timestamp {
            url: self.url.clone(),
            token: reply.body,
            time: read.time,
        })
    }
}
