//! Keyless signing as the run's own ServiceAccount, for tenants with `keyless: true`:
//! a token for the run's ServiceAccount from the TokenRequest API (audience
//! `sigstore`, as Fulcio wants), certified by Fulcio, so each team's attestations carry
//! its own identity (`https://kubernetes.io/namespaces/<ns>/serviceaccounts/<sa>` from
//! a real Fulcio) and never the controller's.
//!
//! A ServiceAccount's certified key is reused for [`REUSED_FOR`] (the attestation and
//! the image signatures of one run, and runs close together, share it; a Fulcio
//! certificate lives ten minutes), at most [`MAX_REMEMBERED`] ServiceAccounts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kube::Cluster;
use crate::signing::Signer;
use crate::signing::keyless::KeylessSigner;
use crate::signing::keyless::token::IdentityToken;

/// The audience of the requested tokens (Fulcio's).
pub const AUDIENCE: &str = "sigstore";
/// How long the requested tokens live: the TokenRequest API's shortest.
pub const TOKEN_SECONDS: i64 = 600;
/// How long a ServiceAccount's certified key is reused.
pub const REUSED_FOR: Duration = Duration::from_secs(60);
/// How many ServiceAccounts' keys are remembered.
const MAX_REMEMBERED: usize = 1024;

/// Why a run's ServiceAccount got no certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TokenRequest failed (RBAC: `create` on `serviceaccounts/token`).
    #[error("no token for the run's ServiceAccount {namespace}/{name}: {source}")]
    Token {
        /// The run's namespace.
        namespace: String,
        /// Its ServiceAccount.
        name: String,
        /// What the API said.
        #[source]
        source: crate::kube::Error,
    },
    /// The token is not one Fulcio could take, or Fulcio refused.
    #[error(transparent)]
    Keyless(#[from] crate::signing::keyless::Error),
    /// The token is not a JWT.
    #[error(transparent)]
    Malformed(#[from] crate::signing::keyless::token::Error),
    /// The run names a ServiceAccount that cannot exist (not a DNS subdomain).
    #[error("the run's ServiceAccount `{}` is not a valid ServiceAccount name", crate::error_text::shown(.0))]
    BadName(String),
    /// The API server answered a token for another subject.
    #[error("the TokenRequest for {expected} answered a token for `{}`", crate::error_text::shown(.found))]
    OtherSubject {
        /// `system:serviceaccount:<namespace>:<name>`.
        expected: String,
        /// The token's `sub`.
        found: String,
    },
}

impl Error {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> crate::error_kind::Kind {
        match self {
            Self::Token { source, .. } => source.kind(),
            Self::Keyless(e) => e.kind(),
            Self::Malformed(e) => e.kind(),
            Self::BadName(_) => crate::error_kind::Kind::Invalid,
            Self::OtherSubject { .. } => crate::error_kind::Kind::Invalid,
        }
    }
}

/// One ServiceAccount's signer and when it was made (its own lock: a slow Fulcio
/// holds up only the ServiceAccount it certifies).
type Slot = Arc<tokio::sync::Mutex<Option<(Arc<dyn Signer>, Instant)>>>;

/// Keyless signers per run ServiceAccount, certified by the Fulcio at `fulcio_url`.
pub struct PerServiceAccount {
    fulcio_url: String,
    remembered: std::sync::Mutex<HashMap<(String, String), Slot>>,
}

impl std::fmt::Debug for PerServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerServiceAccount")
            .field("fulcio_url", &self.fulcio_url)
            .finish_non_exhaustive()
    }
}

impl PerServiceAccount {
    /// Signers certified by the Fulcio at `fulcio_url`.
    pub fn new(fulcio_url: String) -> Self {
        Self {
            fulcio_url,
            remembered: std::sync::Mutex::default(),
        }
    }

    /// A signer certified for `namespace/service_account` (one made less than
    /// [`REUSED_FOR`] ago, else a new one).
    pub async fn signer(
        &self,
        cluster: &Cluster,
        namespace: &str,
        service_account: &str,
    ) -> Result<Arc<dyn Signer>, Error> {
        // The name comes from the run: it goes into the request's path only as a name.
        if !is_dns_subdomain(service_account) {
            return Err(Error::BadName(service_account.to_owned()));
        }
        let slot = {
            let mut remembered = self
                .remembered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if remembered.len() >= MAX_REMEMBERED {
                // Forget the slots nobody is using.
                remembered.retain(|_, slot| Arc::strong_count(slot) > 1);
                if remembered.len() >= MAX_REMEMBERED {
                    remembered.clear();
                }
            }
            remembered
                .entry((namespace.to_owned(), service_account.to_owned()))
                .or_default()
                .clone()
        };
        // Held while a certificate is made: runs of one ServiceAccount signed at once
        // wait for it and share it (a run's attestation and image signatures too).
        let mut held = slot.lock().await;
        if let Some((signer, at)) = held.as_ref()
            && at.elapsed() < REUSED_FOR
        {
            return Ok(signer.clone());
        }
        let jwt = cluster
            .service_account_token(namespace, service_account, AUDIENCE, TOKEN_SECONDS)
            .await
            .map_err(|source| Error::Token {
                namespace: namespace.to_owned(),
                name: service_account.to_owned(),
                source,
            })?;
        let now = jiff::Timestamp::now().as_second();
        let token = IdentityToken::parse(
            jwt,
            format!("the TokenRequest for ServiceAccount {namespace}/{service_account}"),
            now,
        )?;
        let expected = format!("system:serviceaccount:{namespace}:{service_account}");
        if token.subject != expected {
            return Err(Error::OtherSubject {
                expected,
                found: token.subject,
            });
        }
        let signer: Arc<dyn Signer> =
            Arc::new(KeylessSigner::certify(&self.fulcio_url, &token).await?);
        *held = Some((signer.clone(), Instant::now()));
        Ok(signer)
    }
}

/// Whether `name` is a DNS subdomain (RFC 1123), what Kubernetes names a ServiceAccount
/// with: at most 253 characters of lower-case letters, digits, `-` and `.`, starting and
/// ending with a letter or digit.
fn is_dns_subdomain(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_service_account_names_reach_the_token_request() {
        for good in ["default", "builder", "team-a.ci", "a", "x1"] {
            assert!(is_dns_subdomain(good), "{good}");
        }
        for bad in [
            "",
            "../../kube-system/serviceaccounts/admin",
            "a/b",
            "Builder",
            "-a",
            "a-",
            "a..b",
            "a?b",
            "a%2fb",
            &"a".repeat(254),
        ] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
    }
}
