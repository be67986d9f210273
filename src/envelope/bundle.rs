//! Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`) around a
//! DSSE envelope, in the protobuf-JSON form Tekton Chains and cosign write: the
//! verification material is the signing certificate (keyless) or a public-key hint
//! (standard base64 of the SHA-256 of the DER public key), the envelope's signatures
//! carry no key id, and `tlogEntries` holds the Rekor entry (with its inclusion
//! promise and proof) when the signature was logged, else is empty.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use super::{Envelope, EnvelopeSignature};
use crate::signing::keyless::CertificateChain;
use crate::transparency::{LogEntry, Timestamp};

/// The bundle media type.
pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// What verifies a bundle's signature.
#[derive(Debug, Clone, Copy)]
pub struct Material<'a> {
    /// The signer's DER SubjectPublicKeyInfo.
    pub public_key_der: &'a [u8],
    /// The certificate for that key (keyless signing).
    pub certificate: Option<&'a CertificateChain>,
    /// The transparency log entry of the signature.
    pub tlog: Option<&'a LogEntry>,
    /// RFC 3161 timestamps over the signature.
    pub timestamps: &'a [Timestamp],
}

/// The bundle JSON for `envelope`.
pub fn to_json(envelope: &Envelope, material: Material<'_>) -> Vec<u8> {
    let signatures: Vec<Value> = envelope
        .signatures
        .iter()
        .map(|s| json!({"sig": STANDARD.encode(&s.sig)}))
        .collect();
    let mut verification = match material.certificate {
        Some(chain) => json!({"certificate": {"rawBytes": STANDARD.encode(&chain.leaf_der)}}),
        None => json!({
            "publicKey": {"hint": STANDARD.encode(Sha256::digest(material.public_key_der))},
        }),
    };
    if let Some(entry) = material.tlog
        && let Some(v) = verification.as_object_mut()
    {
        v.insert("tlogEntries".into(), json!([entry.bundle_entry()]));
    }
    if !material.timestamps.is_empty()
        && let Some(v) = verification.as_object_mut()
    {
        let signed: Vec<Value> = material
            .timestamps
            .iter()
            .map(|t| json!({"signedTimestamp": STANDARD.encode(&t.token)}))
            .collect();
        v.insert(
            "timestampVerificationData".into(),
            json!({"rfc3161Timestamps": signed}),
        );
    }
    let bundle = json!({
        "mediaType": MEDIA_TYPE,
        "verificationMaterial": verification,
        "dsseEnvelope": {
            "payload": STANDARD.encode(&envelope.payload),
            "payloadType": envelope.payload_type,
            "signatures": signatures,
        },
    });
    serde_json::to_vec(&bundle).unwrap_or_default()
}

/// Why a bundle holds no usable DSSE envelope.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not JSON.
    #[error("the bundle is not JSON")]
    NotJson(#[source] serde_json::Error),
    /// Another media type.
    #[error("not a Sigstore bundle (mediaType `{0}`)")]
    MediaType(String),
    /// A bundle of a message signature.
    #[error("the bundle holds no DSSE envelope (a message signature?)")]
    NoEnvelope,
    /// A field that is not base64.
    #[error("bundle {what} is not base64")]
    Base64 {
        /// `signature` or `payload`.
        what: &'static str,
        /// The decoder's complaint.
        #[source]
        source: base64::DecodeError,
    },
}

/// The DSSE envelope inside a bundle (any v0.x media type), or why there is none.
pub fn envelope(bundle: &[u8]) -> Result<Envelope, BundleError> {
    let value: Value = serde_json::from_slice(bundle).map_err(BundleError::NotJson)?;
    envelope_of(&value)
}

/// [`envelope`] of a bundle already parsed.
pub fn envelope_of(value: &Value) -> Result<Envelope, BundleError> {
    let media_type = value
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !media_type.starts_with("application/vnd.dev.sigstore.bundle") {
        return Err(BundleError::MediaType(media_type.to_owned()));
    }
    let dsse = value.get("dsseEnvelope").ok_or(BundleError::NoEnvelope)?;
    let decode = |v: &Value, what: &'static str| {
        let text = v.as_str().unwrap_or_default();
        STANDARD
            .decode(text)
            .map_err(|source| BundleError::Base64 { what, source })
    };
    let signatures = dsse["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            Ok(EnvelopeSignature {
                keyid: s["keyid"].as_str().unwrap_or_default().to_owned(),
                sig: decode(&s["sig"], "signature")?,
            })
        })
        .collect::<Result<Vec<_>, BundleError>>()?;
    Ok(Envelope {
        payload_type: dsse["payloadType"].as_str().unwrap_or_default().to_owned(),
        payload: decode(&dsse["payload"], "payload")?,
        signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_round_trip_and_hint_the_key() {
        let env = Envelope {
            payload_type: "application/vnd.in-toto+json".into(),
            payload: b"{}".to_vec(),
            signatures: vec![EnvelopeSignature {
                keyid: "SHA256:x".into(),
                sig: vec![1, 2, 3],
            }],
        };
        let json = to_json(
            &env,
            Material {
                public_key_der: b"der",
                certificate: None,
                tlog: None,
                timestamps: &[],
            },
        );
        let v: Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(v["mediaType"], MEDIA_TYPE);
        assert_eq!(
            v["verificationMaterial"]["publicKey"]["hint"],
            STANDARD.encode(Sha256::digest(b"der"))
        );
        assert!(v["dsseEnvelope"]["signatures"][0].get("keyid").is_none());
        assert!(v.get("tlogEntries").is_none());
        let back = envelope(&json).expect("parses");
        assert_eq!(back.payload, env.payload);
        assert_eq!(back.signatures[0].sig, vec![1, 2, 3]);
        assert!(envelope(br#"{"mediaType":"x"}"#).is_err());
    }
}
