//! Key ids as Tekton Chains writes them into DSSE signatures: the OpenSSH SHA256
//! fingerprint of the public key (`ssh.FingerprintSHA256`, `SHA256:<unpadded base64>`).
//!
//! For ECDSA the fingerprinted blob is the SSH wire encoding (RFC 5656 §3.1):
//! `string "ecdsa-sha2-<curve>" || string "<curve>" || string Q`, Q the uncompressed point.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::{Digest, Sha256};
use spki::der::Decode;
use spki::der::asn1::ObjectIdentifier;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The SSH SHA256 fingerprint of an ECDSA public key given as DER
/// SubjectPublicKeyInfo, or `None` for keys SSH cannot represent.
pub fn ssh_fingerprint(spki_der: &[u8]) -> Option<String> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).ok()?;
    if spki.algorithm.oid != EC_PUBLIC_KEY {
        return None;
    }
    let curve_oid: ObjectIdentifier = spki.algorithm.parameters?.decode_as().ok()?;
    let curve = match curve_oid {
        c if c == P256 => "nistp256",
        c if c == P384 => "nistp384",
        c if c == P521 => "nistp521",
        _ => return None,
    };
    let point = spki.subject_public_key.as_bytes()?;
    let mut blob = Vec::with_capacity(point.len() + 48);
    for field in [
        format!("ecdsa-sha2-{curve}").as_bytes(),
        curve.as_bytes(),
        point,
    ] {
        blob.extend_from_slice(&u32::try_from(field.len()).ok()?.to_be_bytes());
        blob.extend_from_slice(field);
    }
    Some(format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(Sha256::digest(&blob))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    /// Tekton Chains' e2e public key (`test/testdata/cosign.pub`).
    const CHAINS_PUB_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBOiqYumsujclXOl4CGGdW46tRjs42oi8XEki9rNijnEekF6egMrTGZaHmbCTyz2B4VzdRZDD0/7TO4mHleqBDw==";

    #[test]
    fn fingerprint_matches_ssh_keygen() {
        // `ssh-keygen -l -f <(ssh-keygen -i -m PKCS8 -f cosign.pub)` prints this fingerprint.
        let der = STANDARD.decode(CHAINS_PUB_B64).expect("b64");
        assert_eq!(
            ssh_fingerprint(&der).as_deref(),
            Some(EXPECTED_CHAINS_FINGERPRINT)
        );
    }

    const EXPECTED_CHAINS_FINGERPRINT: &str = "SHA256:yYS4pD9tqWXZw5+maNJ3gWm9HyoAB0qH0ef0FkIWfYs";

    #[test]
    fn non_ec_keys_have_no_fingerprint() {
        assert_eq!(ssh_fingerprint(b"not der"), None);
    }
}
