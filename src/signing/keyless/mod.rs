//! Keyless signing (`CHAINSEAL_KEY=keyless`): an ephemeral ECDSA P-256 key, certified
//! by Fulcio for the workload's OIDC identity; the key lives only in memory for one
//! run (one signing session in the controller) and the certificate chain travels with
//! every signature.

pub mod certificate;
pub mod fulcio;
pub mod token;

use async_trait::async_trait;
use thiserror::Error;

pub use certificate::CertificateChain;

use crate::signing::{self, KeyFileSigner, PublicKey, Signature, Signer};

/// The public-good Fulcio.
pub const DEFAULT_FULCIO_URL: &str = "https://fulcio.sigstore.dev";

/// Keyless failures.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable identity token.
    #[error(transparent)]
    Token(#[from] token::Error),
    /// Fulcio refused or could not be reached.
    #[error("Fulcio ({url}): {detail}")]
    Fulcio {
        /// The endpoint.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The ephemeral key could not be made.
    #[error("cannot generate an ephemeral key: {0}")]
    Key(String),
}

/// Where keyless signing gets its certificate.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Fulcio's base URL.
    pub fulcio_url: String,
    /// Identity token sources.
    pub tokens: token::Sources,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            fulcio_url: DEFAULT_FULCIO_URL.into(),
            tokens: token::Sources {
                default_file: Some(token::DEFAULT_TOKEN_FILE.into()),
                ..Default::default()
            },
        }
    }
}

/// An ephemeral key and its Fulcio certificate.
#[derive(Debug)]
pub struct KeylessSigner {
    key: KeyFileSigner,
    chain: CertificateChain,
}

impl KeylessSigner {
    /// Get a token, make a key and have Fulcio certify it.
    pub async fn connect(settings: &Settings) -> Result<Self, Error> {
        let now = jiff::Timestamp::now().as_second();
        let token = settings.tokens.get(now).await?;
        let (key, _) = KeyFileSigner::generate().map_err(|e| Error::Key(e.to_string()))?;
        let client = crate::http::client().map_err(|e| Error::Fulcio {
            url: settings.fulcio_url.clone(),
            detail: e.detail(),
        })?;
        let chain =
            fulcio::request_certificate(&client, &settings.fulcio_url, &token, &key).await?;
        tracing::info!(
            identity = chain.identity,
            issuer = chain.issuer.as_deref().unwrap_or(""),
            "Fulcio certified an ephemeral key"
        );
        Ok(Self { key, chain })
    }
}

#[async_trait]
impl Signer for KeylessSigner {
    async fn sign(&self, message: &[u8]) -> Result<Signature, signing::Error> {
        self.key.sign(message).await
    }

    fn public_key(&self) -> Option<&PublicKey> {
        self.key.public_key()
    }

    fn certificate(&self) -> Option<&CertificateChain> {
        Some(&self.chain)
    }
}
