//! RFC 3161 timestamps of Sigstore bundles (`timestampVerificationData`), checked
//! against the timestamp authorities of a trusted root: the token's message imprint
//! is a hash of the signature, its `TSTInfo` is what the signed attributes' message
//! digest covers, those attributes are signed by the authority's certificate (for
//! time stamping, valid then), and the time is inside the authority's `validFor`.
//! What a verified token gives is its time: a signing time that a verifier may trust.

use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _, Tag, Tagged as _};
use thiserror::Error;
use x509_cert::Certificate;

use crate::transparency::rfc3161;
use crate::valid_for::Window;

/// id-kp-timeStamping.
const TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// id-messageDigest (RFC 5652).
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// id-contentType.
const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");

/// Why a timestamp does not verify.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The token cannot be read.
    #[error(transparent)]
    Token(#[from] rfc3161::TokenError),
    /// A hash other than SHA-256/384/512.
    #[error("the timestamp uses a hash other than SHA-256, SHA-384 or SHA-512")]
    Hash,
    /// The imprint is of something else.
    #[error("the timestamp is over another message than the bundle's signature")]
    OtherMessage,
    /// Not one signer.
    #[error("the timestamp token has {0} signers, expected 1")]
    Signers(usize),
    /// No signed attributes, or no message digest among them.
    #[error("the timestamp token's signer has no signed message digest")]
    NoDigest,
    /// The message digest is not the TSTInfo's.
    #[error("the timestamp token's signed message digest is not its TSTInfo's")]
    DigestMismatch,
    /// The signed content type is missing or not TSTInfo.
    #[error("the timestamp token's signed content type is missing or not TSTInfo")]
    ContentType,
    /// Malformed DER inside the token.
    #[error("the timestamp token is malformed: {0}")]
    Der(#[from] der::Error),
    /// The trusted root names no timestamp authority.
    #[error(
        "the bundle has an RFC 3161 timestamp but the trusted root names no timestamp authority (`timestampAuthorities`)"
    )]
    NoAuthority,
    /// No authority of the root signed it (at its time).
    #[error(
        "the timestamp is not signed by a timestamp authority of the trusted root valid at {0} (its certificate, for time stamping, and its validFor)"
    )]
    NotTrusted(String),
}

/// A certificate authority or timestamp authority of a trusted root.
#[derive(Debug, Clone)]
pub struct Authority {
    /// The chain: a CA's issuer-first (intermediates, then root); a timestamp
    /// authority's leaf (the signing certificate) first, root last.
    pub certs: Vec<Vec<u8>>,
    /// When it is trusted.
    pub window: Window,
}

/// The hash of `message` by the algorithm `oid`.
fn hash(oid: &ObjectIdentifier, message: &[u8]) -> Result<Vec<u8>, TimestampError> {
    use sha2::Digest as _;
    Ok(match *oid {
        rfc3161::SHA256 => sha2::Sha256::digest(message).to_vec(),
        rfc3161::SHA384 => sha2::Sha384::digest(message).to_vec(),
        rfc3161::SHA512 => sha2::Sha512::digest(message).to_vec(),
        _ => return Err(TimestampError::Hash),
    })
}

/// The signature OID of the signer's signature: `signature_algorithm` when it names
/// the hash (ecdsa-with-SHA256, sha256WithRSAEncryption, …), else (a bare
/// id-ecPublicKey or rsaEncryption) the one made of it and `digest`.
fn signature_oid(signature_algorithm: &ObjectIdentifier, digest: &ObjectIdentifier) -> String {
    let by_digest = |ec: &str, rsa: &str| match signature_algorithm.to_string().as_str() {
        "1.2.840.10045.2.1" => ec.to_owned(),
        "1.2.840.113549.1.1.1" => rsa.to_owned(),
        other => other.to_owned(),
    };
    match *digest {
        rfc3161::SHA256 => by_digest("1.2.840.10045.4.3.2", "1.2.840.113549.1.1.11"),
        rfc3161::SHA384 => by_digest("1.2.840.10045.4.3.3", "1.2.840.113549.1.1.12"),
        rfc3161::SHA512 => by_digest("1.2.840.10045.4.3.4", "1.2.840.113549.1.1.13"),
        _ => signature_algorithm.to_string(),
    }
}

/// The signed attributes of the (one) signer exactly as the token encodes them,
/// re-tagged as the SET OF that was signed (RFC 5652 §5.4): re-encoding the parsed
/// attributes could reorder them.
fn signed_attributes_der(token: &[u8]) -> Result<Option<Vec<u8>>, TimestampError> {
    let content_info: Vec<Any> = Vec::from_der(token)?;
    let content = content_info
        .get(1)
        .ok_or(rfc3161::TokenError::NotSignedData)?;
    // [0] EXPLICIT SignedData
    let signed_data: Vec<Any> = Vec::from_der(content.value())?;
    let signer_infos = signed_data
        .last()
        .filter(|a| a.tag() == Tag::Set)
        .ok_or(rfc3161::TokenError::NotSignedData)?;
    let as_sequence = Any::new(Tag::Sequence, signer_infos.value())?.to_der()?;
    let infos: Vec<Any> = Vec::from_der(&as_sequence)?;
    let [info] = infos.as_slice() else {
        return Err(TimestampError::Signers(infos.len()));
    };
    let fields: Vec<Any> = Vec::from_der(&info.to_der()?)?;
    let attrs = fields.iter().find(|f| {
        f.tag()
            == Tag::ContextSpecific {
                constructed: true,
                number: der::TagNumber(0),
            }
    });
    attrs
        .map(|a| Any::new(Tag::Set, a.value()).and_then(|s| s.to_der()))
        .transpose()
        .map_err(TimestampError::from)
}

/// Verify a DER `TimeStampResp` (a bundle's `signedTimestamp`) over `signature`
/// against `authorities`; its time.
pub fn verify(
    response_der: &[u8],
    signature: &[u8],
    authorities: &[Authority],
) -> Result<i64, TimestampError> {
    let token = rfc3161::read_response(response_der)?;
    let token_der = token.der.as_slice();
    let imprint = &token.tst_info.message_imprint;
    if hash(&imprint.hash_algorithm.oid, signature)? != imprint.hashed_message.as_bytes() {
        return Err(TimestampError::OtherMessage);
    }
    let infos = &token.signed_data.signer_infos.0;
    let [info] = infos.as_slice() else {
        return Err(TimestampError::Signers(infos.len()));
    };
    let attrs = info.signed_attrs.as_ref().ok_or(TimestampError::NoDigest)?;
    let digest_of = |oid: &ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == *oid)
            .and_then(|a| a.values.iter().next())
    };
    let digest: OctetString = digest_of(&MESSAGE_DIGEST)
        .ok_or(TimestampError::NoDigest)?
        .decode_as()?;
    if hash(&info.digest_alg.oid, &token.tst_info_der)? != digest.as_bytes() {
        return Err(TimestampError::DigestMismatch);
    }
    // RFC 5652 §5.3: with signed attributes, the content type is one of them.
    let content_type = digest_of(&CONTENT_TYPE).ok_or(TimestampError::ContentType)?;
    if content_type.decode_as::<ObjectIdentifier>()? != rfc3161::TST_INFO {
        return Err(TimestampError::ContentType);
    }
    let signed = signed_attributes_der(token_der)?.ok_or(TimestampError::NoDigest)?;
    let oid = signature_oid(&info.signature_algorithm.oid, &info.digest_alg.oid);
    if authorities.is_empty() {
        return Err(TimestampError::NoAuthority);
    }
    let at = token.time;
    let trusted = authorities.iter().any(|authority| {
        authority.window.contains(at)
            && authority
                .certs
                .first()
                .and_then(|d| Certificate::from_der(d).ok())
                .is_some_and(|leaf| {
                    signs_timestamps(&leaf, at)
                        && super::keyless::verifies_with(
                            &leaf,
                            &oid,
                            &signed,
                            info.signature.as_bytes(),
                        )
                })
    });
    if !trusted {
        let shown =
            jiff::Timestamp::from_second(at).map_or_else(|_| at.to_string(), |t| t.to_string());
        return Err(TimestampError::NotTrusted(shown));
    }
    Ok(at)
}

/// The certificate is for time stamping and valid at `at`.
fn signs_timestamps(cert: &Certificate, at: i64) -> bool {
    use x509_cert::ext::pkix::ExtendedKeyUsage;
    let validity = cert.tbs_certificate().validity();
    let (from, until) = (
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    );
    let Ok(at) = u64::try_from(at) else {
        return false;
    };
    let stamps = matches!(
        cert.tbs_certificate().get_extension::<ExtendedKeyUsage>(),
        Ok(Some((_, usages))) if usages.0.contains(&TIME_STAMPING)
    );
    stamps && from <= at && at <= until
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_algorithms_name_their_hash() {
        let ec = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
        assert_eq!(signature_oid(&ec, &rfc3161::SHA384), "1.2.840.10045.4.3.3");
        let named = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
        assert_eq!(
            signature_oid(&named, &rfc3161::SHA256),
            "1.2.840.10045.4.3.2"
        );
        let rsa = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
        assert_eq!(
            signature_oid(&rsa, &rfc3161::SHA512),
            "1.2.840.113549.1.1.13"
        );
        assert!(matches!(
            hash(&ObjectIdentifier::new_unwrap("1.3.14.3.2.26"), b""),
            Err(TimestampError::Hash)
        ));
    }

    #[test]
    fn junk_is_no_timestamp() {
        for junk in [&b""[..], b"\x30\x03\x02\x01\x00", b"\x30\x80"] {
            assert!(verify(junk, b"sig", &[]).is_err());
        }
    }
}
