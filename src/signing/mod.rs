//! Signers: sign bytes, expose the public key and its key id.
//!
//! The [`Signer`] trait is deliberately small (the rustls `SigningKey` shape) so that
//! key files, cloud KMS keys and keyless certificates can all implement it. Signers
//! never see provenance or storage.

use std::fmt::Debug;
use std::path::PathBuf;

use async_trait::async_trait;

use thiserror::Error;

use crate::error_kind::{Cause, Kind};

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "gcp")]
pub mod gcp;
pub mod key;
pub mod keyid;
pub mod keyless;
pub mod settings;
#[cfg(feature = "vault")]
pub mod vault;

pub use key::KeyFileSigner;
pub use settings::{KeyRef, KmsOptions, PasswordSource, Settings};

/// Load the configured signer.
///
/// A `signing-secrets` directory is read as Tekton Chains reads it: `x509.pem`
/// (unencrypted) if present, else `cosign.key` with the password in `cosign.password`
/// (read as is), unless a password is configured explicitly.
pub async fn load(cfg: &Settings) -> Result<Box<dyn Signer>, Error> {
    match &cfg.key {
        #[cfg(feature = "vault")]
        KeyRef::Vault(key) => Ok(Box::new(vault::VaultSigner::connect(key, &cfg.kms).await?)),
        #[cfg(feature = "aws")]
        KeyRef::AwsKms(rest) => Ok(Box::new(aws::AwsKmsSigner::connect(rest, &cfg.kms).await?)),
        #[cfg(feature = "gcp")]
        KeyRef::GcpKms(rest) => Ok(Box::new(gcp::GcpKmsSigner::connect(rest, &cfg.kms).await?)),
        #[cfg(feature = "azure")]
        KeyRef::AzureKms(rest) => Ok(Box::new(
            azure::AzureKmsSigner::connect(rest, &cfg.kms).await?,
        )),
        #[cfg(not(feature = "vault"))]
        KeyRef::Vault(_) => Err(Error::ProviderNotBuilt {
            scheme: "hashivault",
            feature: "vault",
        }),
        #[cfg(not(feature = "aws"))]
        KeyRef::AwsKms(_) => Err(Error::ProviderNotBuilt {
            scheme: "awskms",
            feature: "aws",
        }),
        #[cfg(not(feature = "gcp"))]
        KeyRef::GcpKms(_) => Err(Error::ProviderNotBuilt {
            scheme: "gcpkms",
            feature: "gcp",
        }),
        #[cfg(not(feature = "azure"))]
        KeyRef::AzureKms(_) => Err(Error::ProviderNotBuilt {
            scheme: "azurekms",
            feature: "azure",
        }),
        KeyRef::Keyless => Ok(Box::new(
            crate::signing::keyless::KeylessSigner::connect(&cfg.keyless).await?,
        )),
        KeyRef::File(path) => {
            let password = key::read_password(&cfg.password)?;
            Ok(Box::new(KeyFileSigner::load(path, password.as_ref())?))
        }
        KeyRef::SigningSecrets(dir) => {
            let x509 = dir.join("x509.pem");
            if x509.exists() {
                return Ok(Box::new(KeyFileSigner::load(&x509, None)?));
            }
            let cosign = dir.join("cosign.key");
            if !cosign.exists() {
                return Err(Error::NoKeyInSecrets { dir: dir.clone() });
            }
            let password = match &cfg.password {
                PasswordSource::None => PasswordSource::File(dir.join("cosign.password")),
                explicit => explicit.clone(),
            };
            let password = key::read_password(&password)?;
            Ok(Box::new(KeyFileSigner::load(&cosign, password.as_ref())?))
        }
    }
}

/// `http://host` for loopback hosts (local test servers), `https://host` otherwise.
#[cfg(feature = "aws")]
pub(crate) fn host_url(host: &str) -> String {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.split(':').next().unwrap_or(host),
    };
    let loopback = name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{host}")
}

/// A signature and the id of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Signature bytes (ASN.1 DER for ECDSA).
    pub sig: Vec<u8>,
    /// Key id as Tekton Chains writes it (`SHA256:<ssh fingerprint>`).
    pub key_id: String,
}

/// A public key in the forms verifiers need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// DER SubjectPublicKeyInfo.
    pub der: Vec<u8>,
    /// PEM (`PUBLIC KEY`).
    pub pem: String,
    /// Key id (`SHA256:<ssh fingerprint>`).
    pub key_id: String,
    /// Signature algorithm, e.g. `ECDSA_P256_SHA256_ASN1`.
    pub algorithm: String,
}

impl PublicKey {
    /// A signature made with this key, carrying its key id.
    pub fn signature(&self, sig: Vec<u8>) -> Signature {
        Signature {
            sig,
            key_id: self.key_id.clone(),
        }
    }

    /// A public key from DER SubjectPublicKeyInfo: PEM (LF line endings) and the SSH
    /// key id derived; `None` for key types SSH cannot represent.
    pub fn from_spki_der(der: Vec<u8>, algorithm: String) -> Option<Self> {
        let key_id = keyid::ssh_fingerprint(&der)?;
        let pem = pem::encode_config(
            &pem::Pem::new("PUBLIC KEY", der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        );
        Some(Self {
            der,
            pem,
            key_id,
            algorithm,
        })
    }
}

/// Something that signs bytes.
#[async_trait]
pub trait Signer: Debug + Send + Sync {
    /// Sign `message` (the signer hashes it as its algorithm requires).
    async fn sign(&self, message: &[u8]) -> Result<Signature, Error>;

    /// The public key, when the signer has one.
    fn public_key(&self) -> Option<&PublicKey>;

    /// The certificate chain that binds the key to an identity (keyless signing).
    fn certificate(&self) -> Option<&crate::signing::keyless::CertificateChain> {
        None
    }
}

/// Signing errors. Messages name the key and the fix, never secret material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The key file could not be read.
    #[error("cannot read key `{path}`")]
    ReadKey {
        /// Key path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The password file could not be read.
    #[error("cannot read password file `{path}`")]
    ReadPassword {
        /// Password file path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a PEM key.
    #[error(
        "`{path}` is not a PEM key file: expected `-----BEGIN PRIVATE KEY-----` or `-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----`"
    )]
    NotPem {
        /// Key path.
        path: PathBuf,
    },
    /// A PEM block this build cannot use as a signing key.
    #[error("`{path}` holds a `{label}` block, which cannot be used as a signing key: {hint}")]
    UnsupportedPem {
        /// Key path.
        path: PathBuf,
        /// PEM label.
        label: String,
        /// What to do instead.
        hint: &'static str,
    },
    /// An encrypted key without a password.
    #[error(
        "key `{path}` is encrypted: set `CHAINSEAL_KEY_PASSWORD` or `CHAINSEAL_KEY_PASSWORD_FILE`"
    )]
    PasswordRequired {
        /// Key path.
        path: PathBuf,
    },
    /// Decryption failed.
    #[error("wrong password for key `{path}`{hint}")]
    WrongPassword {
        /// Key path.
        path: PathBuf,
        /// Extra hint.
        hint: &'static str,
    },
    /// A key whose type this build cannot sign with.
    #[error(
        "key `{path}` is {kind}; supported: ECDSA P-256/P-384/P-521, Ed25519, RSA 2048/3072/4096"
    )]
    UnsupportedKeyType {
        /// Key path.
        path: PathBuf,
        /// What the key is.
        kind: String,
    },
    /// The key material is malformed.
    #[error("key `{path}` is malformed: {reason}")]
    Malformed {
        /// Key path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A KMS operation failed (the message names the key and the fix).
    #[error("{uri}: {message}")]
    Kms {
        /// The key URI.
        uri: String,
        /// What failed and what to check.
        message: String,
    },
    /// A KMS request failed: `action` and the hint chosen by `kind`; the service's
    /// answer or the transport failure is the source.
    #[error("{uri}: {action} failed{hint}")]
    KmsCall {
        /// The key URI.
        uri: String,
        /// The request, e.g. `GetPublicKey` or `signing`.
        action: String,
        /// What kind of failure it is (decided from the SDK's typed error).
        kind: Kind,
        /// What to check, chosen by `kind` (empty or ` (…)`).
        hint: String,
        /// The cause.
        #[source]
        source: Cause,
    },
    /// A KMS key could not be set up (its client, credentials or settings); the source
    /// says why.
    #[error("{uri}")]
    KmsSetup {
        /// The key URI.
        uri: String,
        /// What kind of failure it is.
        kind: Kind,
        /// The cause.
        #[source]
        source: Cause,
    },
    /// A `signing-secrets` directory without a key.
    #[error("no valid private key found in `{dir}`, looked for: [x509.pem, cosign.key]")]
    NoKeyInSecrets {
        /// The directory.
        dir: PathBuf,
    },
    /// A KMS provider this binary was built without.
    #[error(
        "`{scheme}://` keys are not supported by this build: rebuild with `cargo build --features {feature}` (the default build has every provider)"
    )]
    ProviderNotBuilt {
        /// The URI scheme.
        scheme: &'static str,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// The signing operation itself failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// Keyless signing could not get a certificate.
    #[error(transparent)]
    Keyless(#[from] Box<crate::signing::keyless::Error>),
}

impl Error {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> Kind {
        match self {
            Self::ReadKey { source, .. } | Self::ReadPassword { source, .. } => {
                Kind::from_io(source.kind())
            }
            Self::NotPem { .. }
            | Self::UnsupportedPem { .. }
            | Self::PasswordRequired { .. }
            | Self::WrongPassword { .. }
            | Self::UnsupportedKeyType { .. }
            | Self::Malformed { .. }
            | Self::ProviderNotBuilt { .. } => Kind::Invalid,
            Self::KmsCall { kind, .. } | Self::KmsSetup { kind, .. } => *kind,
            Self::NoKeyInSecrets { .. } => Kind::NotFound,
            Self::Kms { .. } | Self::Sign(_) => Kind::Other,
            Self::Keyless(e) => e.kind(),
        }
    }
}

impl From<crate::signing::keyless::Error> for Error {
    fn from(e: crate::signing::keyless::Error) -> Self {
        Self::Keyless(Box::new(e))
    }
}
