//! Azure Key Vault signer: `azurekms://<vault host>/<key name>` (the cosign and Tekton
//! Chains URI form; the vault is `https://<vault host>/`), through the official
//! `azure_security_keyvault_keys` client.
//!
//! * Credentials: [`crate::cloud::azure::credential`]'s chain.
//! * The key (version `CHAINSEAL_KMS_KEY_VERSION`, default the current one) is read when
//!   the signer is created; its JSON Web Key gives the public key and key id, and
//!   signing is pinned to the version read.
//! * ECDSA P-256/P-384/P-521 (ES256/384/512) and RSA (RS256) keys sign a digest
//!   computed here. Key Vault returns ECDSA signatures as raw `r‖s`; they are converted
//!   to ASN.1 DER, the form DSSE verifiers and cosign expect.
//! * Every call has a 30 s timeout.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use azure_security_keyvault_keys::models::{
    CurveName, JsonWebKey, KeyClientGetKeyOptions, KeyClientSignOptions, KeyType, SignParameters,
    SignatureAlgorithm,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions, ResourceExt as _};
use der::Encode as _;
use der::asn1::{BitString, UintRef};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use super::settings::KmsOptions;
use super::{Error, PublicKey, Signature, Signer};
use crate::error_kind::{Kind, Reply};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A signer backed by an Azure Key Vault key.
pub struct AzureKmsSigner {
    client: KeyClient,
    uri: String,
    name: String,
    version: Option<String>,
    algorithm: SignatureAlgorithm,
    public: PublicKey,
}

impl fmt::Debug for AzureKmsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureKmsSigner")
            .field("uri", &self.uri)
            .field("version", &self.version)
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

/// `(vault URL, key name)` from the part after `azurekms://`.
fn parse(rest: &str) -> Option<(String, String)> {
    let (host, name) = rest.trim_end_matches('/').split_once('/')?;
    if host.is_empty() || name.is_empty() || name.contains('/') {
        return None;
    }
    Some((format!("https://{host}/"), name.to_owned()))
}

/// The kind of a failed call, from the client's typed error: the HTTP status, a
/// credential failure, an I/O failure.
fn kind_of(e: &azure_core::Error) -> Kind {
    use azure_core::error::ErrorKind;
    match e.kind() {
        ErrorKind::HttpResponse { status, .. } => Kind::from_http_status(u16::from(*status)),
        ErrorKind::Credential => Kind::Unauthenticated,
        ErrorKind::Io => Kind::Unavailable,
        _ => Kind::of_chain(e),
    }
}

/// Whether the TLS handshake refused the server's certificate.
fn untrusted_certificate(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        crate::error_kind::tls_error(e),
        Some(rustls::Error::InvalidCertificate(_))
    )
}

/// What to check, by kind (`credential`: which credential was used).
fn hint(kind: Kind, untrusted: bool, credential: &str) -> String {
    if untrusted {
        return " (the vault's TLS certificate is not trusted: for a private CA set SSL_CERT_FILE)"
            .to_owned();
    }
    match kind {
        Kind::PermissionDenied => {
            " (permission denied: the identity needs the `get` and `sign` key permissions, e.g. the Key Vault Crypto User role)".to_owned()
        }
        Kind::NotFound => " (not found: check the vault host and key name)".to_owned(),
        Kind::Unauthenticated => format!(
            " (no token from {credential}: set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, use workload or managed identity, or AZURE_AUTH_METHOD=cli)"
        ),
        Kind::Unavailable => " (is the vault reachable?)".to_owned(),
        Kind::Invalid | Kind::Other => String::new(),
    }
}

/// The first lines of the error and its causes (the rest is long help text), without
/// repeats.
fn first_lines(e: &azure_core::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        let line = err
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        if !line.is_empty() && !parts.iter().any(|p| p.contains(&line)) {
            parts.push(line);
        }
        next = err.source();
    }
    parts.join(": ")
}

/// A failed call `action` on `uri` with `credential`: kind and hint from the typed
/// error, its first lines as the cause.
fn call_failed(uri: &str, action: &str, e: &azure_core::Error, credential: &str) -> Error {
    let kind = kind_of(e);
    let hint = match e.kind() {
        azure_core::error::ErrorKind::HttpResponse { status, .. } if u16::from(*status) == 401 => {
            format!(" (not authenticated with {credential})")
        }
        _ => hint(kind, untrusted_certificate(e), credential),
    };
    Error::KmsCall {
        uri: uri.to_owned(),
        action: action.to_owned(),
        kind,
        hint,
        source: Box::new(Reply(first_lines(e))),
    }
}

/// `f`, or a failed `action` on `uri` when no answer comes within [`TIMEOUT`].
async fn timed<T>(
    uri: &str,
    action: &str,
    f: impl std::future::Future<Output = azure_core::Result<T>>,
) -> Result<azure_core::Result<T>, Error> {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .map_err(|elapsed| Error::KmsCall {
            uri: uri.to_owned(),
            action: action.to_owned(),
            kind: Kind::Unavailable,
            hint: format!(
                " (no answer within {} s: is the vault reachable?)",
                TIMEOUT.as_secs()
            ),
            source: Box::new(elapsed),
        })
}

/// DER SubjectPublicKeyInfo and signing algorithm of a JSON Web Key.
fn spki_of(jwk: &JsonWebKey) -> Result<(Vec<u8>, SignatureAlgorithm), String> {
    match jwk.kty.as_ref() {
        Some(KeyType::Ec | KeyType::EcHsm) => {
            let (Some(x), Some(y)) = (&jwk.x, &jwk.y) else {
                return Err("the EC key has no x/y coordinates".into());
            };
            let mut point = vec![0x04];
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            use p256::pkcs8::EncodePublicKey as _;
            let bad = |e: &dyn fmt::Display| format!("invalid EC public key: {e}");
            let (der, alg) = match jwk.crv.as_ref() {
                Some(CurveName::P256) => (
                    p256::PublicKey::from_sec1_bytes(&point)
                        .map_err(|e| bad(&e))?
                        .to_public_key_der(),
                    SignatureAlgorithm::Es256,
                ),
                Some(CurveName::P384) => (
                    p384::PublicKey::from_sec1_bytes(&point)
                        .map_err(|e| bad(&e))?
                        .to_public_key_der(),
                    SignatureAlgorithm::Es384,
                ),
                Some(CurveName::P521) => (
                    p521::PublicKey::from_sec1_bytes(&point)
                        .map_err(|e| bad(&e))?
                        .to_public_key_der(),
                    SignatureAlgorithm::Es512,
                ),
                other => return Err(format!("curve {other:?} is not supported")),
            };
            Ok((der.map_err(|e| bad(&e))?.into_vec(), alg))
        }
        Some(KeyType::Rsa | KeyType::RsaHsm) => {
            let (Some(n), Some(e)) = (&jwk.n, &jwk.e) else {
                return Err("the RSA key has no modulus/exponent".into());
            };
            Ok((rsa_spki(n, e)?, SignatureAlgorithm::Rs256))
        }
        other => Err(format!("key type {other:?} cannot sign")),
    }
}

/// DER SubjectPublicKeyInfo of an RSA public key (RFC 8017 `RSAPublicKey`).
fn rsa_spki(n: &[u8], e: &[u8]) -> Result<Vec<u8>, String> {
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        modulus: UintRef<'a>,
        public_exponent: UintRef<'a>,
    }
    let bad = |e: der::Error| format!("invalid RSA public key: {e}");
    let key = RsaPublicKey {
        modulus: UintRef::new(n).map_err(bad)?,
        public_exponent: UintRef::new(e).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)?;
    let spki = spki::SubjectPublicKeyInfoOwned {
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
            parameters: Some(der::asn1::Null.into()),
        },
        subject_public_key: BitString::from_bytes(&key).map_err(bad)?,
    };
    spki.to_der().map_err(bad)
}

/// ASN.1 DER of a raw `r‖s` ECDSA signature.
fn der_signature(algorithm: &SignatureAlgorithm, raw: &[u8]) -> Result<Vec<u8>, String> {
    let bad =
        |e: p256::ecdsa::Error| format!("Key Vault returned a malformed ECDSA signature: {e}");
    Ok(match algorithm {
        SignatureAlgorithm::Es256 => p256::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec(),
        SignatureAlgorithm::Es384 => p384::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec(),
        SignatureAlgorithm::Es512 => p521::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec(),
        _ => raw.to_vec(),
    })
}

impl AzureKmsSigner {
    /// Connect to the vault and read the key (`rest` is the part after `azurekms://`).
    pub async fn connect(rest: &str, options: &KmsOptions) -> Result<Self, Error> {
        let uri = format!("azurekms://{rest}");
        let kms = |message: String| Error::Kms {
            uri: uri.clone(),
            message,
        };
        let (vault, name) = parse(rest)
            .ok_or_else(|| kms("expected `azurekms://<vault host>/<key name>`".into()))?;
        let (credential, source) = crate::cloud::azure::credential()
            .map_err(|e| call_failed(&uri, "choosing an Azure credential", &e, "Azure"))?;
        let host_is_azure = vault.contains(".vault.azure.")
            || vault.contains(".vault.usgovcloudapi.")
            || vault.contains(".vault.azure.cn")
            || vault.contains(".managedhsm.azure.");
        let client_options = KeyClientOptions {
            // The challenge's resource is checked against Azure's vault domains; a
            // private or local endpoint cannot match them.
            verify_challenge_resource: Some(host_is_azure),
            client_options: crate::cloud::azure::client_options(),
            ..Default::default()
        };
        let client = KeyClient::new(&vault, credential, Some(client_options))
            .map_err(|e| call_failed(&uri, "creating the Key Vault client", &e, source))?;
        let get = KeyClientGetKeyOptions {
            key_version: options.key_version.clone(),
            ..Default::default()
        };
        let key = timed(&uri, "reading the key", client.get_key(&name, Some(get)))
            .await?
            .and_then(|r| r.into_model())
            .map_err(|e| call_failed(&uri, "reading the key", &e, source))?;
        // The key id (`https://<vault>/keys/<name>/<version>`) names the version read.
        let version = key
            .resource_id()
            .ok()
            .and_then(|id| id.version)
            .or_else(|| options.key_version.clone());
        let jwk = key
            .key
            .ok_or_else(|| kms("Key Vault returned no key material".into()))?;
        let (der, algorithm) = spki_of(&jwk).map_err(&kms)?;
        let public = PublicKey::from_spki_der(der, format!("azurekms {algorithm}"))
            .ok_or_else(|| kms("the public key has no SSH fingerprint".into()))?;
        Ok(Self {
            client,
            uri,
            name,
            version,
            algorithm,
            public,
        })
    }
}

#[async_trait]
impl Signer for AzureKmsSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature, Error> {
        let kms = |message: String| Error::Kms {
            uri: self.uri.clone(),
            message,
        };
        let digest = match self.algorithm {
            SignatureAlgorithm::Es384 => Sha384::digest(message).to_vec(),
            SignatureAlgorithm::Es512 => Sha512::digest(message).to_vec(),
            _ => Sha256::digest(message).to_vec(),
        };
        let parameters = SignParameters {
            algorithm: Some(self.algorithm.clone()),
            value: Some(digest),
        }
        .try_into()
        .map_err(|e| kms(format!("cannot encode the sign request: {e}")))?;
        let options = KeyClientSignOptions {
            key_version: self.version.clone(),
            ..Default::default()
        };
        let sign = self.client.sign(&self.name, parameters, Some(options));
        let out = timed(&self.uri, "signing", sign)
            .await?
            .and_then(|r| r.into_model())
            .map_err(|e| call_failed(&self.uri, "signing", &e, "the credential"))?;
        let raw = out
            .result
            .ok_or_else(|| kms("Key Vault returned no signature".into()))?;
        let sig = der_signature(&self.algorithm, &raw).map_err(&kms)?;
        Ok(self.public.signature(sig))
    }

    fn public_key(&self) -> Option<&PublicKey> {
        Some(&self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_like_cosign() {
        assert_eq!(
            parse("myvault.vault.azure.net/mykey"),
            Some(("https://myvault.vault.azure.net/".into(), "mykey".into()))
        );
        assert_eq!(
            parse("127.0.0.1:8443/k/"),
            Some(("https://127.0.0.1:8443/".into(), "k".into()))
        );
        assert_eq!(parse("myvault.vault.azure.net"), None);
        assert_eq!(parse("myvault.vault.azure.net/a/b"), None);
        assert_eq!(parse("/key"), None);
    }

    #[test]
    fn raw_ecdsa_signatures_become_der() {
        let raw = [1u8; 64];
        let der = der_signature(&SignatureAlgorithm::Es256, &raw).expect("valid");
        assert_eq!(der[0], 0x30, "DER SEQUENCE");
        assert_eq!(
            p256::ecdsa::Signature::from_der(&der)
                .expect("parses")
                .to_bytes()[..],
            raw[..]
        );
        assert!(der_signature(&SignatureAlgorithm::Es256, &[1u8; 63]).is_err());
    }

    #[test]
    fn rsa_jwk_becomes_spki() {
        // A 2048-bit key from the fixtures: its SPKI must round-trip through n and e.
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keys/rsa2048.pub"
        ))
        .expect("fixture");
        let der = pem::parse(pem).expect("pem").into_contents();
        let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice()).expect("spki");
        #[derive(der::Sequence)]
        struct Rsa<'a> {
            n: UintRef<'a>,
            e: UintRef<'a>,
        }
        use der::Decode as _;
        let key = Rsa::from_der(info.subject_public_key.raw_bytes()).expect("rsa");
        assert_eq!(
            rsa_spki(key.n.as_bytes(), key.e.as_bytes()).expect("encodes"),
            der
        );
    }
}
