//! Rekor v2 (rekor-tiles): one write endpoint, `POST /api/v2/log/entries`, taking a
//! `hashedRekordRequestV002` and answering a `TransparencyLogEntry` (kind
//! `hashedrekord`, version `0.0.2`) with an inclusion proof and a signed checkpoint,
//! but no signed entry timestamp. A DSSE envelope is logged as a hashedrekord over
//! the digest of its PAE, with the envelope's signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::Decode as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::{EntryError, InclusionProof, LogEntry, Verifier};

/// id-ecPublicKey.
const EC_PUBLIC_KEY: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// The NIST curves.
const P256: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.35");
/// rsaEncryption.
const RSA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The hash a key signs with, as Rekor v2 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The digest of `message`.
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(message).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(message).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(message).to_vec(),
        }
    }

    /// Its protobuf name (`SHA2_256`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA2_256",
            Self::Sha384 => "SHA2_384",
            Self::Sha512 => "SHA2_512",
        }
    }
}

/// The `keyDetails` (a Sigstore `PublicKeyDetails` name) and hash of a DER
/// SubjectPublicKeyInfo, or why Rekor v2 cannot log its signatures.
pub fn key_details(spki_der: &[u8]) -> Result<(String, Hash), String> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| format!("the signer's public key is malformed ({e})"))?;
    let oid = spki.algorithm.oid;
    if oid == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
        return match curve {
            Some(c) if c == P256 => Ok(("PKIX_ECDSA_P256_SHA_256".into(), Hash::Sha256)),
            Some(c) if c == P384 => Ok(("PKIX_ECDSA_P384_SHA_384".into(), Hash::Sha384)),
            Some(c) if c == P521 => Ok(("PKIX_ECDSA_P521_SHA_512".into(), Hash::Sha512)),
            _ => Err("the signer's elliptic curve is not P-256, P-384 or P-521".into()),
        };
    }
    if oid == RSA {
        let bits = crate::signing::keyid::rsa_modulus_bits(spki_der).unwrap_or(0);
        return match bits {
            2048 | 3072 | 4096 => Ok((format!("PKIX_RSA_PKCS1V15_{bits}_SHA256"), Hash::Sha256)),
            _ => Err(format!(
                "Rekor v2 logs RSA keys of 2048, 3072 or 4096 bits, not {bits}"
            )),
        };
    }
    Err("Rekor v2 does not log Ed25519 (or other non-ECDSA, non-RSA) signatures: use an ECDSA key, or Rekor v1".into())
}

/// The request body logging `signature` over `message`.
pub fn request(message: &[u8], signature: &[u8], verifier: &Verifier<'_>) -> Result<Value, String> {
    let (details, hash) = key_details(verifier.public_key_der)?;
    let key = match verifier.certificate_der {
        Some(cert) => json!({"x509Certificate": {"rawBytes": STANDARD.encode(cert)}}),
        None => json!({"publicKey": {"rawBytes": STANDARD.encode(verifier.public_key_der)}}),
    };
    let mut verifier_json = key;
    verifier_json["keyDetails"] = json!(details);
    Ok(json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(hash.digest(message)),
        "signature": {"content": STANDARD.encode(signature), "verifier": verifier_json},
    }}))
}

/// Read a `TransparencyLogEntry` (protobuf JSON) from Rekor v2.
pub fn parse_entry(url: &str, bytes: &[u8]) -> Result<LogEntry, EntryError> {
    let e: Value = serde_json::from_slice(bytes).map_err(EntryError::NotJson)?;
    if !e.is_object() {
        return Err(EntryError::Empty);
    }
    let int = |v: &Value, what: &'static str| -> Result<i64, EntryError> {
        match v {
            Value::Null => Ok(0),
            Value::String(s) => s.parse().map_err(|_| EntryError::Missing(what)),
            Value::Number(n) => n.as_i64().ok_or(EntryError::Missing(what)),
            _ => Err(EntryError::Missing(what)),
        }
    };
    let b64_hex = |v: &Value, what: &'static str| -> Result<String, EntryError> {
        let text = v.as_str().ok_or(EntryError::Missing(what))?;
        STANDARD
            .decode(text)
            .map(hex::encode)
            .map_err(|_| EntryError::Missing(what))
    };
    let p = &e["inclusionProof"];
    if !p.is_object() {
        return Err(EntryError::Missing("inclusion proof"));
    }
    let inclusion_proof = InclusionProof {
        log_index: int(&p["logIndex"], "proof log index")?,
        tree_size: int(&p["treeSize"], "proof tree size")?,
        root_hash: b64_hex(&p["rootHash"], "proof root hash")
            .map_err(|_| EntryError::NoRootHash)?,
        hashes: p["hashes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| b64_hex(h, "proof hash"))
            .collect::<Result<_, _>>()?,
        checkpoint: p["checkpoint"]["envelope"]
            .as_str()
            .ok_or(EntryError::Missing("checkpoint"))?
            .to_owned(),
    };
    let kind = e["kindVersion"]["kind"].as_str().unwrap_or_default();
    let version = e["kindVersion"]["version"].as_str().unwrap_or_default();
    if kind != "hashedrekord" || version != "0.0.2" {
        return Err(EntryError::Missing("hashedrekord 0.0.2 kind"));
    }
    Ok(LogEntry {
        url: url.to_owned(),
        uuid: String::new(),
        log_index: int(&e["logIndex"], "log index")?,
        log_id: b64_hex(&e["logId"]["keyId"], "log id")?,
        integrated_time: int(&e["integratedTime"], "integrated time")?,
        body: e["canonicalizedBody"]
            .as_str()
            .ok_or(EntryError::Missing("body"))?
            .to_owned(),
        kind: kind.to_owned(),
        version: version.to_owned(),
        signed_entry_timestamp: None,
        inclusion_proof: Some(inclusion_proof),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_rekor_key_details() {
        let (key, _) = crate::signing::KeyFileSigner::generate().expect("key");
        let der = crate::signing::Signer::public_key(&key)
            .expect("public key")
            .der
            .clone();
        assert_eq!(
            key_details(&der),
            Ok(("PKIX_ECDSA_P256_SHA_256".to_owned(), Hash::Sha256))
        );
        assert!(key_details(b"junk").is_err());
        let ed25519 = pem::parse(
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
        )
        .expect("pem");
        let e = key_details(ed25519.contents()).expect_err("Ed25519 refused");
        assert!(e.contains("Ed25519"), "{e}");
    }

    /// A reply as rekor-tiles v2.3.0 gives it (a real one, shortened hashes).
    #[test]
    fn entries_parse_from_rekor_tiles_replies() {
        let reply = json!({
            "logIndex": "3", "logId": {"keyId": "FmyBCw=="},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "integratedTime": "0", "inclusionPromise": null,
            "inclusionProof": {"logIndex": "3", "rootHash": "AQI=", "treeSize": "4",
                "hashes": ["AwQ="], "checkpoint": {"envelope": "rekor.test\n4\nAQI=\n\n— rekor.test FmyBCw==\n"}},
            "canonicalizedBody": "e30="});
        let e = parse_entry("http://r", reply.to_string().as_bytes()).expect("parses");
        assert_eq!((e.log_index, e.integrated_time), (3, 0));
        assert_eq!(e.log_id, "166c810b");
        assert_eq!(e.version, "0.0.2");
        let b = e.bundle_entry();
        assert_eq!(b["kindVersion"]["version"], "0.0.2");
        assert_eq!(b["logId"]["keyId"], "FmyBCw==");
        assert_eq!(b["inclusionProof"]["hashes"][0], "AwQ=");
        assert!(b.get("inclusionPromise").is_none());
        let mut no_proof = reply.clone();
        no_proof["inclusionProof"] = Value::Null;
        assert!(parse_entry("http://r", no_proof.to_string().as_bytes()).is_err());
        assert!(parse_entry("http://r", b"[]").is_err());
    }
}
