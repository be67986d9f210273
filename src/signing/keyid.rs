//! Key ids as Tekton Chains writes them into DSSE signatures: the OpenSSH SHA256
//! fingerprint of the public key (`ssh.FingerprintSHA256`, `SHA256:<unpadded base64>`).
//!
//! The fingerprinted blob is the SSH wire encoding of the public key:
//! * ECDSA (RFC 5656 §3.1): `string "ecdsa-sha2-<curve>" || string "<curve>" || string Q`;
//! * Ed25519 (RFC 8709 §4): `string "ssh-ed25519" || string A`;
//! * RSA (RFC 4253 §6.6): `string "ssh-rsa" || mpint e || mpint n`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::{Digest, Sha256};
use spki::der::Decode;
use spki::der::asn1::ObjectIdentifier;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The SSH SHA256 fingerprint of a public key given as DER SubjectPublicKeyInfo, or
/// `None` for keys SSH cannot represent.
pub fn ssh_fingerprint(spki_der: &[u8]) -> Option<String> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).ok()?;
    let key = spki.subject_public_key.as_bytes()?;
    let mut blob = Vec::with_capacity(key.len() + 48);
    match spki.algorithm.oid {
        oid if oid == EC_PUBLIC_KEY => {
            let curve_oid: ObjectIdentifier = spki.algorithm.parameters?.decode_as().ok()?;
            let curve = match curve_oid {
                c if c == P256 => "nistp256",
                c if c == P384 => "nistp384",
                c if c == P521 => "nistp521",
                _ => return None,
            };
            string(&mut blob, format!("ecdsa-sha2-{curve}").as_bytes())?;
            string(&mut blob, curve.as_bytes())?;
            string(&mut blob, key)?;
        }
        oid if oid == ED25519 => {
            string(&mut blob, b"ssh-ed25519")?;
            string(&mut blob, key)?;
        }
        oid if oid == RSA => {
            let (n, e) = rsa_public_key(key)?;
            string(&mut blob, b"ssh-rsa")?;
            mpint(&mut blob, e)?;
            mpint(&mut blob, n)?;
        }
        _ => return None,
    }
    Some(format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(Sha256::digest(&blob))
    ))
}

/// The modulus size in bits of an RSA public key given as DER SubjectPublicKeyInfo.
pub fn rsa_modulus_bits(spki_der: &[u8]) -> Option<usize> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).ok()?;
    if spki.algorithm.oid != RSA {
        return None;
    }
    let (n, _) = rsa_public_key(spki.subject_public_key.as_bytes()?)?;
    bit_length(n)
}

/// The modulus size in bits of a PKCS#1 `RSAPrivateKey` (DER).
pub fn rsa_private_modulus_bits(pkcs1_der: &[u8]) -> Option<usize> {
    use spki::der::{Reader as _, SliceReader, asn1::UintRef};
    let mut reader = SliceReader::new(pkcs1_der).ok()?;
    let n = reader
        .sequence(|r| {
            let _version = UintRef::decode(r)?;
            let n = UintRef::decode(r)?;
            // The remaining fields are not needed.
            let rest = r.remaining_len();
            r.read_slice(rest)?;
            Ok::<_, spki::der::Error>(n.as_bytes())
        })
        .ok()?;
    bit_length(n)
}

fn bit_length(unsigned: &[u8]) -> Option<usize> {
    let i = unsigned.iter().position(|b| *b != 0)?;
    let n = &unsigned[i..];
    Some((n.len() - 1) * 8 + (8 - n[0].leading_zeros() as usize))
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` →
/// (n, e) as unsigned big-endian bytes.
fn rsa_public_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    use spki::der::{Reader as _, SliceReader, asn1::UintRef};
    let mut reader = SliceReader::new(der).ok()?;
    reader
        .sequence(|r| {
            let n = UintRef::decode(r)?;
            let e = UintRef::decode(r)?;
            Ok::<_, spki::der::Error>((n.as_bytes(), e.as_bytes()))
        })
        .ok()
}

fn string(out: &mut Vec<u8>, field: &[u8]) -> Option<()> {
    out.extend_from_slice(&u32::try_from(field.len()).ok()?.to_be_bytes());
    out.extend_from_slice(field);
    Some(())
}

/// An SSH mpint of an unsigned big-endian integer: leading zeros dropped, one zero
/// byte added when the top bit is set.
fn mpint(out: &mut Vec<u8>, unsigned: &[u8]) -> Option<()> {
    let trimmed: &[u8] = match unsigned.iter().position(|b| *b != 0) {
        Some(i) => &unsigned[i..],
        None => &[],
    };
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v = Vec::with_capacity(trimmed.len() + 1);
        v.push(0);
        v.extend_from_slice(trimmed);
        string(out, &v)
    } else {
        string(out, trimmed)
    }
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
