//! HashiCorp Vault / OpenBao transit signer: `hashivault://<key>` (the cosign and
//! Tekton Chains URI form).
//!
//! * Server and token from the standard variables: `VAULT_ADDR`, `VAULT_TOKEN` (else
//!   the token file `~/.vault-token`), `VAULT_CACERT`, `VAULT_SKIP_VERIFY`,
//!   `VAULT_NAMESPACE`; the transit mount from `TRANSIT_SECRET_ENGINE_PATH` (default
//!   `transit`), as cosign reads them.
//! * The address and token may also come from Tekton Chains' `signers.kms.auth.*`
//!   equivalents (`CHAINSEAL_KMS_AUTH_ADDRESS`, `_TOKEN`, `_TOKEN_PATH`), and a JWT
//!   login (`CHAINSEAL_KMS_AUTH_OIDC_PATH`, `_ROLE`, `_TOKEN_PATH`: the pod's service
//!   account token by default) replaces the token, in Chains' order: token file, token,
//!   JWT login, `VAULT_TOKEN`, `~/.vault-token`.
//! * The public key of the chosen version (`CHAINSEAL_KMS_KEY_VERSION`, default the
//!   latest) is read when the signer is created, so the key id is known and a missing
//!   key or a denied token fails before any work; signing is pinned to that version.
//! * ECDSA keys sign a digest computed here (prehashed, SHA-256/384/512 by curve, ASN.1
//!   DER); RSA keys PKCS#1 v1.5 over SHA-256; Ed25519 keys sign the message itself.
//! * Every request has a 30 s timeout.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use vaultrs::api::transit::requests::SignDataRequest;
use vaultrs::api::transit::responses::ReadKeyData;
use vaultrs::api::transit::{HashAlgorithm, KeyType, MarshalingAlgorithm, SignatureAlgorithm};
use vaultrs::client::{Client as _, VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use super::{Error, PublicKey, Signature, Signer};
use crate::config::{KmsOptions, VaultJwtLogin};
use crate::secret::SecretBytes;

/// How the signer authenticates to Vault.
enum Credential {
    Token(SecretBytes),
    Jwt(VaultJwtLogin),
}

/// The credential, in Tekton Chains' order: token file, token, JWT login, then the
/// standard `VAULT_TOKEN` and `~/.vault-token`.
fn token(options: &KmsOptions) -> Result<Option<Credential>, String> {
    if let Some(path) = &options.token_path {
        let token = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the Vault token file `{}`: {e}", path.display()))?;
        return Ok(Some(Credential::Token(SecretBytes::new(
            token.trim_end().as_bytes().to_vec(),
        ))));
    }
    if let Some(token) = &options.token {
        return Ok(Some(Credential::Token(token.clone().into())));
    }
    if let Some(login) = &options.oidc {
        return Ok(Some(Credential::Jwt(login.clone())));
    }
    if let Some(token) = std::env::var("VAULT_TOKEN").ok().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::Token(SecretBytes::new(
            token.into_bytes(),
        ))));
    }
    let file = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".vault-token"));
    Ok(file
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|t| Credential::Token(SecretBytes::new(t.trim().as_bytes().to_vec()))))
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// How the key signs.
#[derive(Debug, Clone, Copy)]
enum Scheme {
    Ecdsa(HashAlgorithm),
    Rsa,
    Ed25519,
}

/// A signer backed by a Vault transit key.
pub struct VaultSigner {
    client: VaultClient,
    mount: String,
    key: String,
    version: u64,
    scheme: Scheme,
    public: PublicKey,
}

impl fmt::Debug for VaultSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSigner")
            .field("mount", &self.mount)
            .field("key", &self.key)
            .field("version", &self.version)
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

fn vault_error(uri: &str, action: &str, e: ClientError) -> Error {
    let hint = match &e {
        ClientError::APIError { code: 403, .. } => {
            " (permission denied: check `VAULT_TOKEN` and its policy: transit read and sign on this key)"
        }
        ClientError::APIError { code: 404, .. } => {
            " (not found: check the key name and `TRANSIT_SECRET_ENGINE_PATH`)"
        }
        ClientError::RestClientError { .. } => " (is `VAULT_ADDR` right and the server reachable?)",
        _ => "",
    };
    let detail = match &e {
        ClientError::APIError { code, errors } if errors.is_empty() => format!("HTTP {code}"),
        ClientError::APIError { code, errors } => format!("HTTP {code}: {}", errors.join("; ")),
        other => other.to_string(),
    };
    Error::Kms {
        uri: uri.to_owned(),
        message: format!("{action} failed: {detail}{hint}"),
    }
}

impl VaultSigner {
    /// Connect to Vault and read the public key of `key` (the part after
    /// `hashivault://`).
    pub async fn connect(key: &str, options: &KmsOptions) -> Result<Self, Error> {
        let uri = format!("hashivault://{key}");
        let kms = |message: String| Error::Kms {
            uri: uri.clone(),
            message,
        };
        if key.is_empty() || key.contains('/') {
            return Err(kms("expected `hashivault://<key name>`".into()));
        }
        let address = options
            .address
            .clone()
            .or_else(|| std::env::var("VAULT_ADDR").ok().filter(|a| !a.is_empty()))
            .ok_or_else(|| {
                kms("no Vault address: set `CHAINSEAL_KMS_AUTH_ADDRESS` or `VAULT_ADDR`".into())
            })?;
        let mut settings = VaultClientSettingsBuilder::default();
        settings.timeout(Some(TIMEOUT)).address(&address);
        let token = token(options).map_err(kms)?;
        if let Some(Credential::Token(token)) = &token {
            settings.token(String::from_utf8_lossy(token.expose()).into_owned());
        }
        let settings = settings
            .build()
            .map_err(|e| kms(format!("invalid Vault settings: {e}")))?;
        let mut client = VaultClient::new(settings)
            .map_err(|e| kms(format!("cannot create the Vault client: {e}")))?;
        match token {
            Some(Credential::Jwt(login)) => {
                let jwt = std::fs::read_to_string(&login.token_path).map_err(|e| {
                    kms(format!(
                        "cannot read the JWT for the Vault login `{}`: {e}",
                        login.token_path.display()
                    ))
                })?;
                let auth = vaultrs::auth::oidc::login(
                    &client,
                    &login.mount,
                    jwt.trim(),
                    Some(login.role.clone()),
                )
                .await
                .map_err(|e| {
                    vault_error(
                        &uri,
                        &format!(
                            "JWT login at `auth/{}` as role `{}`",
                            login.mount, login.role
                        ),
                        e,
                    )
                })?;
                client.set_token(&auth.client_token);
            }
            Some(Credential::Token(_)) => {}
            None => {
                return Err(kms(
                    "no Vault token: set `CHAINSEAL_KMS_AUTH_TOKEN`, `CHAINSEAL_KMS_AUTH_TOKEN_PATH`, `VAULT_TOKEN`, a JWT login (`CHAINSEAL_KMS_AUTH_OIDC_PATH` + `_ROLE`), or write `~/.vault-token`".into(),
                ));
            }
        }
        let mount =
            std::env::var("TRANSIT_SECRET_ENGINE_PATH").unwrap_or_else(|_| "transit".to_owned());

        let info = vaultrs::transit::key::read(&client, &mount, key)
            .await
            .map_err(|e| vault_error(&uri, "reading the key", e))?;
        let scheme = match info.key_type {
            KeyType::EcdsaP256 => Scheme::Ecdsa(HashAlgorithm::Sha2_256),
            KeyType::EcdsaP384 => Scheme::Ecdsa(HashAlgorithm::Sha2_384),
            KeyType::EcdsaP521 => Scheme::Ecdsa(HashAlgorithm::Sha2_512),
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => Scheme::Rsa,
            KeyType::Ed25519 => Scheme::Ed25519,
            other => return Err(kms(format!("key type {other:?} cannot sign"))),
        };
        let ReadKeyData::Asymmetric(versions) = info.keys else {
            return Err(kms("the key has no public keys".into()));
        };
        let wanted = match &options.key_version {
            Some(v) => Some(v.trim_start_matches('v').parse::<u64>().map_err(|_| {
                kms(format!(
                    "`CHAINSEAL_KMS_KEY_VERSION` must be a version number, got `{v}`"
                ))
            })?),
            None => None,
        };
        let mut available: Vec<(u64, &str)> = versions
            .iter()
            .filter_map(|(v, entry)| Some((v.parse::<u64>().ok()?, entry.public_key.as_str())))
            .collect();
        available.sort_unstable_by_key(|(v, _)| *v);
        let (version, latest) = match wanted {
            Some(w) => available
                .iter()
                .find(|(v, _)| *v == w)
                .copied()
                .ok_or_else(|| {
                    let have: Vec<String> = available.iter().map(|(v, _)| v.to_string()).collect();
                    kms(format!(
                        "key version {w} does not exist or is below the key's minimum decryption version (available: {})",
                        have.join(", ")
                    ))
                })?,
            None => available
                .last()
                .copied()
                .ok_or_else(|| kms("the key has no versions".into()))?,
        };
        let latest = latest.to_owned();
        let der = match scheme {
            // Vault returns Ed25519 public keys as base64 of the raw 32 bytes.
            Scheme::Ed25519 => {
                let raw = STANDARD
                    .decode(latest.trim())
                    .map_err(|e| kms(format!("unreadable Ed25519 public key: {e}")))?;
                let mut der = vec![
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ];
                der.extend_from_slice(&raw);
                der
            }
            _ => pem::parse(latest.as_bytes())
                .map_err(|e| kms(format!("unreadable public key: {e}")))?
                .into_contents(),
        };
        let public = PublicKey::from_spki_der(der, format!("hashivault {:?}", info.key_type))
            .ok_or_else(|| kms("the public key has no SSH fingerprint".into()))?;
        Ok(Self {
            client,
            mount,
            key: key.to_owned(),
            version,
            scheme,
            public,
        })
    }
}

#[async_trait]
impl Signer for VaultSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature, Error> {
        let mut request = SignDataRequest::builder();
        // Pin the version whose public key was read, so a rotation in between cannot
        // produce a signature that the recorded key id does not match.
        request.key_version(self.version);
        let input = match self.scheme {
            Scheme::Ecdsa(hash) => {
                let digest = match hash {
                    HashAlgorithm::Sha2_384 => Sha384::digest(message).to_vec(),
                    HashAlgorithm::Sha2_512 => Sha512::digest(message).to_vec(),
                    _ => Sha256::digest(message).to_vec(),
                };
                request
                    .prehashed(true)
                    .hash_algorithm(hash)
                    .marshaling_algorithm(MarshalingAlgorithm::Asn1);
                STANDARD.encode(digest)
            }
            Scheme::Rsa => {
                request
                    .prehashed(true)
                    .hash_algorithm(HashAlgorithm::Sha2_256)
                    .signature_algorithm(SignatureAlgorithm::Pkcs1v15);
                STANDARD.encode(Sha256::digest(message))
            }
            Scheme::Ed25519 => STANDARD.encode(message),
        };
        let uri = format!("hashivault://{}", self.key);
        let response = vaultrs::transit::data::sign(
            &self.client,
            &self.mount,
            &self.key,
            &input,
            Some(&mut request),
        )
        .await
        .map_err(|e| vault_error(&uri, "signing", e))?;
        // `vault:v<version>:<base64>`
        let encoded = response.signature.rsplit(':').next().unwrap_or_default();
        let sig = STANDARD.decode(encoded).map_err(|e| Error::Kms {
            uri,
            message: format!("unreadable signature from Vault: {e}"),
        })?;
        Ok(self.public.signature(sig))
    }

    fn public_key(&self) -> Option<&PublicKey> {
        Some(&self.public)
    }
}
