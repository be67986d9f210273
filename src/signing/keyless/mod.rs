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

use crate::error_kind::Kind;
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
    /// Fulcio answered with an error status.
    #[error("Fulcio ({url}): HTTP {status}: {message}{hint}")]
    FulcioRefused {
        /// The endpoint.
        url: String,
        /// The status.
        status: reqwest::StatusCode,
        /// What Fulcio said.
        message: String,
        /// What to check, chosen by kind (empty or ` (…)`).
        hint: String,
        /// What kind of refusal it is (decided from the status and Fulcio's error).
        kind: Kind,
    },
    /// Fulcio could not be reached or its reply not read.
    #[error("Fulcio ({url})")]
    FulcioUnreachable {
        /// The endpoint.
        url: String,
        /// Cause.
        #[source]
        source: crate::http::Error,
    },
    /// Fulcio's reply is not what was asked for.
    #[error("Fulcio ({url}): {detail}")]
    Fulcio {
        /// The endpoint.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// Fulcio's certificate chain cannot be used.
    #[error("Fulcio ({url})")]
    Chain {
        /// The endpoint.
        url: String,
        /// Cause.
        #[source]
        source: certificate::ChainError,
    },
    /// The proof of possession could not be signed.
    #[error("Fulcio ({url}): signing the proof of possession")]
    Proof {
        /// The endpoint.
        url: String,
        /// Cause.
        #[source]
        source: Box<signing::Error>,
    },
    /// The ephemeral key could not be made.
    #[error("cannot generate an ephemeral key")]
    Key(#[source] Box<signing::Error>),
}

impl Error {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> Kind {
        match self {
            Self::Token(e) => e.kind(),
            Self::FulcioRefused { kind, .. } => *kind,
            Self::FulcioUnreachable { source, .. } => source.kind(),
            Self::Fulcio { .. } | Self::Chain { .. } => Kind::Invalid,
            Self::Proof { source, .. } | Self::Key(source) => source.kind(),
        }
    }
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
        Self::certify(&settings.fulcio_url, &token).await
    }

    /// Make a key and have the Fulcio at `fulcio_url` certify it for `token`.
    pub async fn certify(fulcio_url: &str, token: &token::IdentityToken) -> Result<Self, Error> {
        let key = KeyFileSigner::ephemeral_p256().map_err(|e| Error::Key(Box::new(e)))?;
        let client = crate::http::client().map_err(|source| Error::FulcioUnreachable {
            url: fulcio_url.to_owned(),
            source,
        })?;
        let chain = fulcio::request_certificate(&client, fulcio_url, token, &key).await?;
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
