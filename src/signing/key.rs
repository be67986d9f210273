//! Key-file signers: ECDSA (P-256/384/521), Ed25519 and RSA (2048/3072/4096) keys in
//! PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM,
//! and cosign/sigstore encrypted keys.
//!
//! Encrypted keys use cosign's format (scrypt + nacl/secretbox around a PKCS#8 DER
//! key, PEM label `ENCRYPTED COSIGN PRIVATE KEY` or `ENCRYPTED SIGSTORE PRIVATE KEY`);
//! decryption and key parsing come from the `sigstore` crate.
//!
//! Ed25519 signs pure Ed25519 (RFC 8032), which DSSE verifiers (securesystemslib,
//! in-toto) check; Tekton Chains loads cosign Ed25519 keys as Ed25519ph, whose
//! signatures those verifiers reject. RSA signs PKCS#1 v1.5 with SHA-256, as cosign
//! does.
//!
//! ECDSA signatures are deterministic (RFC 6979, RustCrypto `p256`/`p384`/`p521`),
//! ASN.1 DER, hashed as cosign does: P-256 → SHA-256, P-384 → SHA-384,
//! P-521 → SHA-512. Deterministic signing needs no random numbers, which keeps a
//! short-lived process from paying for entropy-pool seeding (about 60 ms of CPU in
//! aws-lc, measured) and makes re-signing the same payload give the same envelope,
//! so storage stays idempotent. Verifiers cannot tell the difference.

use std::fmt;
use std::path::Path;

use async_trait::async_trait;
use p256::pkcs8::DecodePrivateKey as _;
use sigstore::crypto::signing_key::ecdsa::{ECDSAKeys, EllipticCurve};
use sigstore::crypto::signing_key::rsa::keypair::RSAKeys;
use sigstore::crypto::signing_key::{SigStoreKeyPair, kdf};
use sigstore::crypto::{SigStoreSigner, SigningScheme};

use super::settings::PasswordSource;
use super::{Error, PublicKey, Signature, Signer, keyid};
use crate::secret::SecretBytes;

const LABEL_PKCS8: &str = "PRIVATE KEY";
const LABEL_COSIGN: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const LABEL_SIGSTORE: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
const LABEL_SEC1: &str = "EC PRIVATE KEY";
const LABEL_PKCS1: &str = "RSA PRIVATE KEY";

/// A signer backed by a private key loaded from a file.
pub struct KeyFileSigner {
    key: LocalKey,
    public: PublicKey,
}

enum LocalKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    /// Ed25519 (pure, RFC 8032) and RSA (PKCS#1 v1.5, SHA-256) through aws-lc.
    Other(SigStoreSigner),
}

impl LocalKey {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        use p256::ecdsa::signature::Signer as _;
        Ok(match self {
            Self::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            Self::P384(k) => {
                let sig: p384::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            Self::P521(k) => {
                let sig: p521::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            Self::Other(signer) => signer
                .sign(message)
                .map_err(|e| Error::Sign(e.to_string()))?,
        })
    }
}

impl fmt::Debug for KeyFileSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFileSigner")
            .field("key_id", &self.public.key_id)
            .field("algorithm", &self.public.algorithm)
            .finish_non_exhaustive()
    }
}

/// Read the password configured for an encrypted key.
pub fn read_password(source: &PasswordSource) -> Result<Option<SecretBytes>, Error> {
    Ok(match source {
        PasswordSource::None => None,
        PasswordSource::Value(v) => Some(SecretBytes::from(v.clone())),
        PasswordSource::File(path) => {
            Some(SecretBytes::new(std::fs::read(path).map_err(|source| {
                Error::ReadPassword {
                    path: path.clone(),
                    source,
                }
            })?))
        }
    })
}

impl KeyFileSigner {
    /// Load a key file; `password` is needed for encrypted keys.
    pub fn load(path: &Path, password: Option<&SecretBytes>) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::ReadKey {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem(path, &bytes, password)
    }

    /// Parse a PEM key; `origin` names it in errors.
    pub fn from_pem(
        origin: &Path,
        pem_bytes: &[u8],
        password: Option<&SecretBytes>,
    ) -> Result<Self, Error> {
        let block = pem::parse(pem_bytes).map_err(|_| Error::NotPem {
            path: origin.to_owned(),
        })?;
        let pair = match block.tag() {
            LABEL_PKCS8 => pkcs8_pair(origin, block.contents())?,
            LABEL_COSIGN | LABEL_SIGSTORE => {
                let password = password.ok_or_else(|| Error::PasswordRequired {
                    path: origin.to_owned(),
                })?;
                let der = decrypt(origin, block.contents(), password.expose())?;
                pkcs8_pair(origin, &der)?
            }
            LABEL_SEC1 => {
                let pkcs8 = sec1_to_pkcs8(block.contents()).ok_or_else(|| Error::Malformed {
                    path: origin.to_owned(),
                    reason: "not a SEC1 ECDSA key on P-256, P-384 or P-521".into(),
                })?;
                pkcs8_pair(origin, &pkcs8)?
            }
            LABEL_PKCS1 => {
                let keys = RSAKeys::from_pem(pem_bytes).map_err(|e| Error::Malformed {
                    path: origin.to_owned(),
                    reason: e.to_string(),
                })?;
                SigStoreKeyPair::RSA(keys)
            }
            other => {
                return Err(Error::UnsupportedPem {
                    path: origin.to_owned(),
                    label: other.to_owned(),
                    hint: unsupported_label_hint(other),
                });
            }
        };
        Self::from_key_pair(origin, &pair)
    }

    fn from_key_pair(origin: &Path, pair: &SigStoreKeyPair) -> Result<Self, Error> {
        let malformed = |e: sigstore::errors::SigstoreError| Error::Malformed {
            path: origin.to_owned(),
            reason: e.to_string(),
        };
        let bad = |e: p256::pkcs8::Error| Error::Malformed {
            path: origin.to_owned(),
            reason: e.to_string(),
        };
        let (key, algorithm) = match pair {
            SigStoreKeyPair::ECDSA(ec) => {
                let pkcs8 = pair.private_key_to_der().map_err(malformed)?;
                match ec {
                    ECDSAKeys::P256(_) => (
                        LocalKey::P256(
                            p256::ecdsa::SigningKey::from_pkcs8_der(&pkcs8).map_err(bad)?,
                        ),
                        "ECDSA_P256_SHA256_ASN1".to_owned(),
                    ),
                    ECDSAKeys::P384(_) => (
                        LocalKey::P384(
                            p384::ecdsa::SigningKey::from_pkcs8_der(&pkcs8).map_err(bad)?,
                        ),
                        "ECDSA_P384_SHA384_ASN1".to_owned(),
                    ),
                    ECDSAKeys::P521(_) => (
                        LocalKey::P521(
                            p521::ecdsa::SigningKey::from_pkcs8_der(&pkcs8).map_err(bad)?,
                        ),
                        "ECDSA_P521_SHA512_ASN1".to_owned(),
                    ),
                }
            }
            SigStoreKeyPair::ED25519(_) => (
                LocalKey::Other(
                    pair.to_sigstore_signer(&SigningScheme::ED25519)
                        .map_err(malformed)?,
                ),
                "ED25519".to_owned(),
            ),
            SigStoreKeyPair::RSA(_) => {
                let der = pair.public_key_to_der().map_err(malformed)?;
                let bits = keyid::rsa_modulus_bits(&der).unwrap_or(0);
                if !matches!(bits, 2048 | 3072 | 4096) {
                    return Err(Error::UnsupportedKeyType {
                        path: origin.to_owned(),
                        kind: format!(
                            "an RSA key of {bits} bits (2048, 3072 or 4096 are supported)"
                        ),
                    });
                }
                let scheme = SigningScheme::RSA_PKCS1_SHA256(bits);
                (
                    LocalKey::Other(pair.to_sigstore_signer(&scheme).map_err(malformed)?),
                    format!("RSA_PKCS1_SHA256_{bits}"),
                )
            }
        };
        let der = pair.public_key_to_der().map_err(malformed)?;
        let public = PublicKey::from_spki_der(der, algorithm).ok_or_else(|| Error::Malformed {
            path: origin.to_owned(),
            reason: "the public key has no SSH fingerprint".into(),
        })?;
        Ok(Self { key, public })
    }

    /// An ephemeral ECDSA P-256 key that lives only in memory (keyless signing): its
    /// scalar from the operating system's random source (`getrandom`), so making it
    /// does not seed aws-lc's own generator (CPU-jitter entropy, tens of milliseconds
    /// of CPU per process); it signs deterministically (RFC 6979), as file keys do.
    pub fn ephemeral_p256() -> Result<Self, Error> {
        use p256::pkcs8::EncodePublicKey as _;
        let origin = Path::new("(ephemeral)");
        let key = loop {
            let mut scalar = zeroize::Zeroizing::new([0u8; 32]);
            getrandom::fill(scalar.as_mut_slice())
                .map_err(|e| Error::Sign(format!("no randomness for an ephemeral key: {e}")))?;
            // Not zero and below the group order: almost always the first time.
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(scalar.as_slice()) {
                break key;
            }
        };
        let der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| Error::Malformed {
                path: origin.to_owned(),
                reason: e.to_string(),
            })?
            .into_vec();
        let public = PublicKey::from_spki_der(der, "ECDSA_P256_SHA256_ASN1".to_owned())
            .ok_or_else(|| Error::Malformed {
                path: origin.to_owned(),
                reason: "the public key has no SSH fingerprint".into(),
            })?;
        Ok(Self {
            key: LocalKey::P256(key),
            public,
        })
    }

    /// Generate a new ECDSA P-256 key pair.
    pub fn generate() -> Result<(Self, SigStoreKeyPair), Error> {
        let keys = ECDSAKeys::new(EllipticCurve::P256).map_err(|e| Error::Sign(e.to_string()))?;
        let pair = SigStoreKeyPair::ECDSA(keys);
        let signer = Self::from_key_pair(Path::new("(generated)"), &pair)?;
        Ok((signer, pair))
    }
}

/// Parse a PKCS#8 key; when that fails, say which kind of key it is.
fn pkcs8_pair(origin: &Path, der: &[u8]) -> Result<SigStoreKeyPair, Error> {
    SigStoreKeyPair::from_der(der).map_err(|e| {
        use p256::pkcs8::PrivateKeyInfoRef;
        use spki::der::Decode as _;
        let kind = PrivateKeyInfoRef::from_der(der).ok().map(|info| {
            match info.algorithm.oid.to_string().as_str() {
                "1.2.840.113549.1.1.1" => {
                    match keyid::rsa_private_modulus_bits(info.private_key.as_bytes()) {
                        Some(bits) => format!("an RSA key of {bits} bits"),
                        None => "a malformed RSA key".to_owned(),
                    }
                }
                "1.2.840.10045.2.1" => "an ECDSA key on an unsupported curve".to_owned(),
                oid => format!("a key of algorithm {oid}"),
            }
        });
        match kind {
            Some(kind) => Error::UnsupportedKeyType {
                path: origin.to_owned(),
                kind,
            },
            None => Error::Malformed {
                path: origin.to_owned(),
                reason: e.to_string(),
            },
        }
    })
}

/// A SEC1 `EC PRIVATE KEY` re-encoded as PKCS#8 (the curve follows from the key).
fn sec1_to_pkcs8(der: &[u8]) -> Option<Vec<u8>> {
    use p256::pkcs8::EncodePrivateKey as _;
    let doc = if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
        k.to_pkcs8_der()
    } else if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
        k.to_pkcs8_der()
    } else {
        p521::SecretKey::from_sec1_der(der).ok()?.to_pkcs8_der()
    };
    doc.ok().map(|d| d.as_bytes().to_vec())
}

/// The JSON inside a cosign-encrypted key (go-tuf's `encrypted` format).
#[derive(serde::Deserialize)]
struct CosignKey {
    kdf: CosignKdf,
    cipher: CosignCipher,
    ciphertext: String,
}

#[derive(serde::Deserialize)]
struct CosignKdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(serde::Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(serde::Deserialize)]
struct CosignCipher {
    name: String,
    nonce: String,
}

/// Salt length cosign writes (go-tuf `saltSize`).
const COSIGN_SALT_LEN: usize = 32;
/// XSalsa20 nonce length (nacl/secretbox).
const COSIGN_NONCE_LEN: usize = 24;
/// The Poly1305 tag every secretbox ciphertext carries.
const SECRETBOX_TAG_LEN: usize = 16;
/// The scrypt settings cosign (go-tuf) writes and reads: N = 2^15 or 2^16, r = 8,
/// p = 1. Anything else is refused before any work, so a hostile key cannot make
/// scrypt burn minutes of CPU or gigabytes of memory.
const SCRYPT_N: [u64; 2] = [1 << 15, 1 << 16];
const SCRYPT_R: u64 = 8;
const SCRYPT_P: u64 = 1;

/// Check every field of a cosign-encrypted key before anything uses it: the
/// decryption code asserts lengths and would panic on a wrong salt or nonce.
fn check_cosign_key(origin: &Path, data: &[u8]) -> Result<(), Error> {
    use base64::Engine as _;
    let bad = |reason: String| Error::Malformed {
        path: origin.to_owned(),
        reason: format!("cosign-encrypted key: {reason}"),
    };
    let mut json = serde_json::Deserializer::from_slice(data);
    let key: CosignKey = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let at = e.path().to_string();
        if at == "." {
            bad("not cosign's JSON".to_owned())
        } else {
            bad(format!(
                "not cosign's JSON: `{at}` is missing or of the wrong type"
            ))
        }
    })?;
    let decode = |field: &str, value: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| bad(format!("{field} is not base64")))
    };
    if key.kdf.name != "scrypt" {
        return Err(bad(format!(
            "kdf `{}` is not supported (cosign uses `scrypt`)",
            key.kdf.name.escape_debug()
        )));
    }
    let ScryptParams { n, r, p } = key.kdf.params;
    if !SCRYPT_N.contains(&n) || r != SCRYPT_R || p != SCRYPT_P {
        return Err(bad(format!(
            "scrypt N={n} r={r} p={p} is not cosign's setting (N 32768 or 65536, r 8, p 1)"
        )));
    }
    let salt = decode("salt", &key.kdf.salt)?;
    if salt.len() != COSIGN_SALT_LEN {
        return Err(bad(format!(
            "salt of {} bytes, expected {COSIGN_SALT_LEN}",
            salt.len()
        )));
    }
    if key.cipher.name != "nacl/secretbox" {
        return Err(bad(format!(
            "cipher `{}` is not supported (cosign uses `nacl/secretbox`)",
            key.cipher.name.escape_debug()
        )));
    }
    let nonce = decode("nonce", &key.cipher.nonce)?;
    if nonce.len() != COSIGN_NONCE_LEN {
        return Err(bad(format!(
            "nonce of {} bytes, expected {COSIGN_NONCE_LEN}",
            nonce.len()
        )));
    }
    let ciphertext = decode("ciphertext", &key.ciphertext)?;
    if ciphertext.len() <= SECRETBOX_TAG_LEN {
        return Err(bad(format!(
            "ciphertext of {} bytes is too short to hold a key",
            ciphertext.len()
        )));
    }
    Ok(())
}

/// Decrypt a cosign-encrypted key. A password read from a file that ends in a
/// newline is also tried without it, since `echo pw > file` is the common mistake.
fn decrypt(origin: &Path, ciphertext: &[u8], password: &[u8]) -> Result<Vec<u8>, Error> {
    check_cosign_key(origin, ciphertext)?;
    let wrong = |hint| Error::WrongPassword {
        path: origin.to_owned(),
        hint,
    };
    match kdf::decrypt(ciphertext, password) {
        Ok(der) => Ok(der),
        Err(_) => {
            let trimmed = password
                .strip_suffix(b"\n")
                .map(|p| p.strip_suffix(b"\r").unwrap_or(p));
            match trimmed {
                Some(p) => kdf::decrypt(ciphertext, p).map_err(|_| {
                    wrong(" (also tried without the trailing newline of the password)")
                }),
                None => Err(wrong(
                    ": check `CHAINSEAL_KEY_PASSWORD` / `CHAINSEAL_KEY_PASSWORD_FILE`",
                )),
            }
        }
    }
}

fn unsupported_label_hint(label: &str) -> &'static str {
    match label {
        "PUBLIC KEY" => "this is a public key; `--key` needs the private key",
        "ENCRYPTED PRIVATE KEY" => {
            "decrypt it to PKCS#8 with `openssl pkcs8 -in KEY -out KEY.pk8`, or use a cosign-encrypted key"
        }
        _ => "use a PKCS#8 `PRIVATE KEY` or a cosign-encrypted key",
    }
}

#[async_trait]
impl Signer for KeyFileSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature, Error> {
        Ok(self.public.signature(self.key.sign(message)?))
    }

    fn public_key(&self) -> Option<&PublicKey> {
        Some(&self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigstore::crypto::CosignVerificationKey;

    const CHAINS_KEY: &[u8] = include_bytes!("../../tests/fixtures/keys/cosign.key");
    const CHAINS_PUB: &[u8] = include_bytes!("../../tests/fixtures/keys/cosign.pub");

    fn pw(p: &[u8]) -> SecretBytes {
        SecretBytes::new(p.to_vec())
    }

    #[tokio::test]
    async fn chains_test_key_loads_and_signs_verifiably() {
        let signer = KeyFileSigner::from_pem(Path::new("cosign.key"), CHAINS_KEY, Some(&pw(b"p")))
            .expect("chains key loads");
        let public = signer.public_key().expect("has a public key");
        assert_eq!(
            public.key_id,
            "SHA256:yYS4pD9tqWXZw5+maNJ3gWm9HyoAB0qH0ef0FkIWfYs"
        );
        let sig = signer.sign(b"message").await.expect("signs");
        let vk = CosignVerificationKey::try_from_pem(CHAINS_PUB).expect("pub key");
        vk.verify_signature(sigstore::crypto::Signature::Raw(&sig.sig), b"message")
            .expect("verifies with the published cosign.pub");
        assert!(
            vk.verify_signature(sigstore::crypto::Signature::Raw(&sig.sig), b"other")
                .is_err()
        );
    }

    #[tokio::test]
    async fn signatures_are_deterministic_der_on_every_curve() {
        for curve in [
            EllipticCurve::P256,
            EllipticCurve::P384,
            EllipticCurve::P521,
        ] {
            let pair = SigStoreKeyPair::ECDSA(ECDSAKeys::new(curve).expect("generate"));
            let pem = pair.private_key_to_pem().expect("pem");
            let signer =
                KeyFileSigner::from_pem(Path::new("k"), pem.as_bytes(), None).expect("load");
            let a = signer.sign(b"payload").await.expect("sign");
            let b = signer.sign(b"payload").await.expect("sign");
            assert_eq!(a, b, "RFC 6979 signatures repeat");
            assert_eq!(a.sig[0], 0x30, "DER SEQUENCE");
            let vk = CosignVerificationKey::try_from_pem(
                signer.public_key().expect("public").pem.as_bytes(),
            )
            .expect("verification key");
            vk.verify_signature(sigstore::crypto::Signature::Raw(&a.sig), b"payload")
                .expect("aws-lc verifies the RustCrypto signature");
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keys")
            .join(name);
        std::fs::read(path).expect("fixture")
    }

    #[tokio::test]
    async fn every_key_format_loads_signs_and_has_the_ssh_key_id() {
        // Key ids from `ssh-keygen -l` on the OpenSSH form of each public key.
        for (key, public, algorithm, key_id) in [
            (
                "ed25519.pem",
                "ed25519.pub",
                "ED25519",
                "SHA256:xB1bp1GFkuBCMpaqTRiJj6hgKhpNScfLV+zqLYctR6U",
            ),
            (
                "rsa2048.pem",
                "rsa2048.pub",
                "RSA_PKCS1_SHA256_2048",
                "SHA256:EfU28gQHztpwTPtM5jjzpKHyKV7lyo4dpaumwiHvQsI",
            ),
            (
                "rsa2048-pkcs1.pem",
                "rsa2048.pub",
                "RSA_PKCS1_SHA256_2048",
                "SHA256:EfU28gQHztpwTPtM5jjzpKHyKV7lyo4dpaumwiHvQsI",
            ),
            (
                "p384-sec1.pem",
                "p384.pub",
                "ECDSA_P384_SHA384_ASN1",
                "SHA256:PV0Zrz/Q+/vyeC9MMUdGSeqtcKg1lL3nUuGu2JbMYvY",
            ),
        ] {
            let signer = KeyFileSigner::from_pem(Path::new(key), &fixture(key), None)
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            let p = signer.public_key().expect("public key");
            assert_eq!(p.algorithm, algorithm, "{key}");
            assert_eq!(p.key_id, key_id, "{key}");
            let sig = signer.sign(b"payload").await.expect("signs");
            let vk = CosignVerificationKey::try_from_pem(&fixture(public)).expect("pub");
            vk.verify_signature(sigstore::crypto::Signature::Raw(&sig.sig), b"payload")
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            assert!(
                vk.verify_signature(sigstore::crypto::Signature::Raw(&sig.sig), b"other")
                    .is_err()
            );
        }
        let sec1 = KeyFileSigner::from_pem(Path::new("k"), &fixture("p256-sec1.pem"), None)
            .expect("SEC1 P-256");
        assert_eq!(
            sec1.public_key().map(|p| p.algorithm.as_str()),
            Some("ECDSA_P256_SHA256_ASN1")
        );
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        let err = KeyFileSigner::from_pem(Path::new("k"), &fixture("rsa1024.pem"), None)
            .expect_err("1024-bit RSA");
        assert!(
            err.to_string().contains("is an RSA key of 1024 bits"),
            "{err}"
        );
        assert!(err.to_string().contains("RSA 2048/3072/4096"), "{err}");
    }

    #[test]
    fn wrong_password_and_missing_password_are_named() {
        let err = KeyFileSigner::from_pem(Path::new("k"), CHAINS_KEY, Some(&pw(b"nope")))
            .expect_err("wrong password");
        assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
        let err = KeyFileSigner::from_pem(Path::new("k"), CHAINS_KEY, None).expect_err("none");
        assert!(matches!(err, Error::PasswordRequired { .. }), "{err}");
    }

    #[test]
    fn password_with_trailing_newline_is_accepted() {
        assert!(KeyFileSigner::from_pem(Path::new("k"), CHAINS_KEY, Some(&pw(b"p\n"))).is_ok());
    }

    #[test]
    fn public_key_and_garbage_are_refused() {
        let err = KeyFileSigner::from_pem(Path::new("k"), CHAINS_PUB, None).expect_err("pub");
        assert!(err.to_string().contains("public key"), "{err}");
        let err = KeyFileSigner::from_pem(Path::new("k"), b"hello", None).expect_err("garbage");
        assert!(matches!(err, Error::NotPem { .. }));
    }

    #[test]
    fn generated_keys_round_trip_through_pem_and_encrypted_pem() {
        let (signer, pair) = KeyFileSigner::generate().expect("generate");
        let id = signer.public_key().map(|p| p.key_id.clone());
        let plain = pair.private_key_to_pem().expect("pem");
        let again = KeyFileSigner::from_pem(Path::new("k"), plain.as_bytes(), None).expect("load");
        assert_eq!(again.public_key().map(|p| p.key_id.clone()), id);
        let enc = pair.private_key_to_encrypted_pem(b"pw").expect("enc");
        let again = KeyFileSigner::from_pem(Path::new("k"), enc.as_bytes(), Some(&pw(b"pw")))
            .expect("load");
        assert_eq!(again.public_key().map(|p| p.key_id.clone()), id);
    }

    /// The Chains test key with one field of its JSON changed by `edit`.
    fn cosign_key_with(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let block = pem::parse(CHAINS_KEY).expect("pem");
        let mut json: serde_json::Value =
            serde_json::from_slice(block.contents()).expect("cosign JSON");
        edit(&mut json);
        pem::encode(&pem::Pem::new(LABEL_COSIGN, json.to_string().into_bytes())).into_bytes()
    }

    fn b64(n: usize) -> serde_json::Value {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(vec![7u8; n])
            .into()
    }

    #[test]
    fn every_field_of_a_cosign_key_is_checked_before_use() {
        use serde_json::json;
        type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "kdf `argon2`",
                Box::new(|j| j["kdf"]["name"] = json!("argon2")),
            ),
            (
                "scrypt N 1048576",
                Box::new(|j| j["kdf"]["params"]["N"] = json!(1u64 << 20)),
            ),
            (
                "scrypt N 3",
                Box::new(|j| j["kdf"]["params"]["N"] = json!(3)),
            ),
            (
                "scrypt r 4096",
                Box::new(|j| j["kdf"]["params"]["r"] = json!(4096)),
            ),
            (
                "scrypt p 64",
                Box::new(|j| j["kdf"]["params"]["p"] = json!(64)),
            ),
            ("salt of 16 bytes", Box::new(|j| j["kdf"]["salt"] = b64(16))),
            ("salt of 0 bytes", Box::new(|j| j["kdf"]["salt"] = b64(0))),
            (
                "salt is not base64",
                Box::new(|j| j["kdf"]["salt"] = json!("@@@")),
            ),
            (
                "cipher `aes-gcm`",
                Box::new(|j| j["cipher"]["name"] = json!("aes-gcm")),
            ),
            (
                "nonce of 12 bytes",
                Box::new(|j| j["cipher"]["nonce"] = b64(12)),
            ),
            (
                "nonce of 0 bytes",
                Box::new(|j| j["cipher"]["nonce"] = b64(0)),
            ),
            (
                "nonce of 25 bytes",
                Box::new(|j| j["cipher"]["nonce"] = b64(25)),
            ),
            (
                "ciphertext of 0 bytes",
                Box::new(|j| j["ciphertext"] = b64(0)),
            ),
            (
                "ciphertext of 16 bytes",
                Box::new(|j| j["ciphertext"] = b64(16)),
            ),
            ("no kdf", Box::new(|j| j["kdf"] = json!(null))),
            (
                "salt is a number",
                Box::new(|j| j["kdf"]["salt"] = json!(5)),
            ),
        ];
        for (expected, edit) in cases {
            let key = cosign_key_with(edit);
            let err =
                KeyFileSigner::from_pem(Path::new("k"), &key, Some(&pw(b"p"))).expect_err(expected);
            let text = err.to_string();
            assert!(matches!(err, Error::Malformed { .. }), "{expected}: {text}");
            let word = expected.split(' ').next().unwrap_or_default();
            assert!(text.contains(word), "{expected}: {text}");
        }
        let err = KeyFileSigner::from_pem(
            Path::new("k"),
            pem::encode(&pem::Pem::new(LABEL_SIGSTORE, b"not json".to_vec())).as_bytes(),
            Some(&pw(b"p")),
        )
        .expect_err("not JSON");
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
        // The untouched key still loads; N = 65536 (cosign's other setting) is allowed.
        assert!(
            KeyFileSigner::from_pem(Path::new("k"), &cosign_key_with(|_| {}), Some(&pw(b"p")))
                .is_ok()
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let (signer, _) = KeyFileSigner::generate().expect("generate");
        let dbg = format!("{signer:?}");
        assert!(
            dbg.starts_with("KeyFileSigner { key_id: \"SHA256:"),
            "{dbg}"
        );
        assert!(!dbg.contains("PRIVATE"));
    }
}
