//! DSSE v1.0 envelopes (secure-systems-lab/dsse `protocol.md`, `envelope.md`).
//!
//! * What is signed is `PAE(payloadType, payload)` =
//!   `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
//! * The JSON form uses standard base64 with padding when written; when read, both
//!   standard and URL-safe base64 are accepted, as the spec asks of verifiers.
//! * `keyid` is written as Tekton Chains writes it (the SSH SHA256 fingerprint of the
//!   public key) and is never used to decide whether a signature is valid.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::signing::{self, Signer};

/// The payload type of in-toto Statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Media type of the payload.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The payload bytes (base64 in JSON).
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    /// Signatures over `PAE(payloadType, payload)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of a DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key hint; not used for security decisions.
    #[serde(default)]
    pub keyid: String,
    /// The signature bytes (base64 in JSON); ECDSA signatures are ASN.1 DER.
    #[serde(with = "b64")]
    pub sig: Vec<u8>,
}

/// Pre-Authentication Encoding of DSSE v1.
///
/// ```
/// use chainseal::envelope::dsse::pae;
/// assert_eq!(
///     pae("http://example.com/HelloWorld", b"hello world"),
///     b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
/// );
/// ```
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Sign `payload` with `signer` and wrap it.
    pub async fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        signer: &dyn Signer,
    ) -> Result<Self, signing::Error> {
        let signature = signer.sign(&pae(payload_type, &payload)).await?;
        Ok(Self {
            payload_type: payload_type.to_owned(),
            payload,
            signatures: vec![EnvelopeSignature {
                keyid: signature.key_id,
                sig: signature.sig,
            }],
        })
    }

    /// The first signature's bytes (empty when unsigned): what a Sigstore bundle's log
    /// entry and timestamps are about.
    pub fn first_signature(&self) -> &[u8] {
        self.signatures
            .first()
            .map(|s| s.sig.as_slice())
            .unwrap_or_default()
    }

    /// The bytes the signatures are over.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Compact JSON, the form written to `.intoto.jsonl` files.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and byte vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

mod b64 {
    use super::*;

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim();
        STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE.decode(text))
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_test_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn json_uses_standard_padded_base64_and_reads_url_safe() {
        let env = Envelope {
            payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
            payload: vec![0xfb, 0xff, 0x01],
            signatures: vec![EnvelopeSignature {
                keyid: "k".into(),
                sig: vec![0xff, 0xee],
            }],
        };
        let json = env.to_json();
        assert_eq!(
            json,
            r#"{"payloadType":"application/vnd.in-toto+json","payload":"+/8B","signatures":[{"keyid":"k","sig":"/+4="}]}"#
        );
        let url_safe = json.replace("+/8B", "-_8B").replace("/+4=", "_-4");
        let back: Envelope = serde_json::from_str(&url_safe).expect("url-safe base64 is accepted");
        assert_eq!(back, env);
    }
}
