//! The ASN.1 of RFC 3161 (the Time-Stamp Protocol): the request a client sends, the
//! response a timestamp authority answers, and the `TSTInfo` its signed token
//! carries, as `der` types. The token itself is CMS `SignedData` (the `cms` crate).

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::{Any, Int, ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _, Sequence};
use thiserror::Error;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// SHA-256 (the only imprint hash chainseal asks for).
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// SHA-384.
pub const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// SHA-512.
pub const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// id-signedData (RFC 5652).
pub const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-ct-TSTInfo (RFC 3161).
pub const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// `MessageImprint`: the hash of what is timestamped.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    /// The hash algorithm.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// The hash.
    pub hashed_message: OctetString,
}

/// `TimeStampReq`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq {
    /// `v1` (1).
    pub version: u8,
    /// What to timestamp.
    pub message_imprint: MessageImprint,
    /// A policy, when one is asked for.
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    /// A nonce the reply must repeat.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// Ask for the TSA's certificate in the token.
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
}

/// `PKIStatusInfo`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    /// 0 granted, 1 granted with modifications, 2 rejection, 3 waiting, 4 revocation
    /// warning, 5 revocation notification.
    pub status: u8,
    /// Free text.
    #[asn1(optional = "true")]
    pub status_string: Option<Any>,
    /// Why it failed.
    #[asn1(optional = "true")]
    pub fail_info: Option<Any>,
}

/// `TimeStampResp`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    /// The status.
    pub status: PkiStatusInfo,
    /// The token (a `ContentInfo` of `SignedData`), when granted.
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<Any>,
}

/// `TSTInfo`: what the authority signed.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    /// `v1` (1).
    pub version: u8,
    /// The authority's policy.
    pub policy: ObjectIdentifier,
    /// What was timestamped.
    pub message_imprint: MessageImprint,
    /// The token's serial number.
    pub serial_number: Int,
    /// When (a GeneralizedTime, perhaps with fractions of a second: read by
    /// [`gen_time_seconds`]).
    pub gen_time: Any,
    /// The accuracy.
    #[asn1(optional = "true")]
    pub accuracy: Option<Any>,
    /// Ordering.
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    /// The request's nonce.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// The authority's name.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<Any>,
    /// Extensions.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<x509_cert::ext::Extensions>,
}

/// Why a timestamp token cannot be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not DER of the expected shape.
    #[error("the timestamp token is malformed: {0}")]
    Der(#[from] der::Error),
    /// Not CMS `SignedData`.
    #[error("the timestamp token is not CMS SignedData")]
    NotSignedData,
    /// `SignedData` of something else.
    #[error("the timestamp token does not hold a TSTInfo")]
    NotTstInfo,
    /// Not a `TimeStampResp`.
    #[error("the timestamp is not an RFC 3161 TimeStampResp: {0}")]
    NotResponse(der::Error),
    /// The authority did not grant it.
    #[error("the timestamp was refused (PKIStatus {0})")]
    Refused(u8),
    /// Granted, but no token.
    #[error("the timestamp response was granted but holds no token")]
    NoToken,
    /// A generation time that is no GeneralizedTime.
    #[error("the timestamp token's time is malformed")]
    Time,
}

/// A timestamp token, read.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token's DER (a `ContentInfo`).
    pub der: Vec<u8>,
    /// The CMS `SignedData`.
    pub signed_data: SignedData,
    /// The DER of `TSTInfo` (what `signed_data` signs).
    pub tst_info_der: Vec<u8>,
    /// `TSTInfo`.
    pub tst_info: TstInfo,
    /// The generation time, Unix seconds.
    pub time: i64,
}

/// Read a DER `TimeStampResp` (what Sigstore bundles carry): granted, with a token.
pub fn read_response(der: &[u8]) -> Result<Token, TokenError> {
    let resp = TimeStampResp::from_der(der).map_err(TokenError::NotResponse)?;
    if resp.status.status > 1 {
        return Err(TokenError::Refused(resp.status.status));
    }
    let token = resp.time_stamp_token.ok_or(TokenError::NoToken)?;
    read_token(&token.to_der()?)
}

/// Read a DER `TimeStampToken` (a `ContentInfo`).
pub fn read_token(der: &[u8]) -> Result<Token, TokenError> {
    let info = ContentInfo::from_der(der)?;
    if info.content_type != SIGNED_DATA {
        return Err(TokenError::NotSignedData);
    }
    let signed_data: SignedData = info.content.decode_as()?;
    let encap = &signed_data.encap_content_info;
    if encap.econtent_type != TST_INFO {
        return Err(TokenError::NotTstInfo);
    }
    let octets: OctetString = encap
        .econtent
        .as_ref()
        .ok_or(TokenError::NotTstInfo)?
        .decode_as()?;
    let tst_info_der = octets.as_bytes().to_vec();
    let tst_info = TstInfo::from_der(&tst_info_der)?;
    let time = gen_time_seconds(&tst_info.gen_time)?;
    Ok(Token {
        der: der.to_vec(),
        signed_data,
        tst_info_der,
        tst_info,
        time,
    })
}

/// A GeneralizedTime (`YYYYMMDDHHMMSS[.f…]Z`) in Unix seconds; fractions are dropped.
pub fn gen_time_seconds(any: &Any) -> Result<i64, TokenError> {
    if der::Tagged::tag(any) != der::Tag::GeneralizedTime {
        return Err(TokenError::Time);
    }
    let text = std::str::from_utf8(any.value()).map_err(|_| TokenError::Time)?;
    let text = text.strip_suffix('Z').ok_or(TokenError::Time)?;
    let whole = text.split('.').next().unwrap_or_default();
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Time);
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &whole[0..4],
        &whole[4..6],
        &whole[6..8],
        &whole[8..10],
        &whole[10..12],
        &whole[12..14]
    );
    let at: jiff::Timestamp = rfc3339.parse().map_err(|_| TokenError::Time)?;
    Ok(at.as_second())
}

/// The DER of a request for a SHA-256 imprint of `message`, with `nonce`, asking for
/// the authority's certificate.
pub fn request(message_sha256: &[u8], nonce: u64) -> Result<Vec<u8>, der::Error> {
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: SHA256,
                parameters: None,
            },
            hashed_message: OctetString::new(message_sha256)?,
        },
        req_policy: None,
        nonce: Some(nonce_int(nonce)?),
        cert_req: true,
    };
    req.to_der()
}

/// A positive INTEGER of `nonce`.
pub fn nonce_int(nonce: u64) -> Result<Int, der::Error> {
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(&nonce.to_be_bytes());
    // Minimal encoding: drop leading zeros that the next byte does not need.
    while bytes.len() > 1 && bytes[0] == 0 && bytes[1] & 0x80 == 0 {
        bytes.remove(0);
    }
    Int::new(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_encode_as_rfc_3161_says() {
        let der = request(&[7u8; 32], 0x80).expect("encodes");
        let back = TimeStampReq::from_der(&der).expect("decodes");
        assert_eq!(back.version, 1);
        assert!(back.cert_req);
        assert_eq!(back.message_imprint.hashed_message.as_bytes(), &[7u8; 32]);
        assert_eq!(back.nonce.expect("nonce").as_bytes(), &[0, 0x80]);
        assert_eq!(nonce_int(1).expect("int").as_bytes(), &[1]);
    }

    #[test]
    fn generalized_times_may_have_fractions() {
        let t = |s: &str| {
            Any::new(der::Tag::GeneralizedTime, s.as_bytes())
                .map_err(TokenError::from)
                .and_then(|a| gen_time_seconds(&a))
        };
        assert_eq!(t("20240101000000Z").ok(), Some(1_704_067_200));
        assert_eq!(t("20240101000000.123Z").ok(), Some(1_704_067_200));
        assert!(t("20240101000000").is_err());
        assert!(t("2024010100000Z").is_err());
        assert!(t("20241301000000Z").is_err());
        assert!(read_token(b"\x30\x00").is_err());
    }
}
