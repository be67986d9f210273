//! The OIDC identity token keyless signing exchanges for a certificate.
//!
//! Sources, first match wins:
//! 1. `CHAINSEAL_IDENTITY_TOKEN`: the token itself;
//! 2. `CHAINSEAL_IDENTITY_TOKEN_FILE`: a file holding it (re-read on every signing, as
//!    projected service-account tokens rotate); when unset, the Tekton/Kubernetes
//!    projected token at [`DEFAULT_TOKEN_FILE`] if that file exists (where Chains'
//!    Deployment mounts it);
//! 3. GitHub Actions: `ACTIONS_ID_TOKEN_REQUEST_URL` / `_TOKEN` (the job needs
//!    `permissions: id-token: write`), audience `sigstore`;
//! 4. GitLab CI: `SIGSTORE_ID_TOKEN` (an `id_tokens:` entry with `aud: sigstore`).
//!
//! The token is checked for shape, expiry and, when one is expected (the controller's
//! `signers.x509.fulcio.issuer`), its issuer before it is sent (Fulcio does the
//! signature check); it never appears in logs or errors.

use std::path::PathBuf;

use serde_json::Value;
use thiserror::Error;

use crate::env_vars::EnvVars;
use crate::secret::SecretString;

/// Where Chains' Deployment mounts the projected service-account token for Sigstore.
pub const DEFAULT_TOKEN_FILE: &str = "/var/run/sigstore/cosign/oidc-token";

/// The audience Sigstore expects.
pub const AUDIENCE: &str = "sigstore";

/// Token problems; messages name the source, never the token.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// No source has a token.
    #[error(
        "keyless signing needs an OIDC identity token and none was found: set `CHAINSEAL_IDENTITY_TOKEN_FILE` (in Tekton, a projected service-account token with audience `sigstore`, by default at {DEFAULT_TOKEN_FILE}) or `CHAINSEAL_IDENTITY_TOKEN`; in GitHub Actions grant `permissions: id-token: write`; in GitLab CI add `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`"
    )]
    None,
    /// The token file could not be read.
    #[error("cannot read the identity token file `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The token is not a usable JWT.
    #[error("the identity token from {source_name} is malformed: {reason}")]
    Malformed {
        /// Where it came from.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// The token has expired.
    #[error(
        "the identity token from {source_name} expired at {expired} (now {now}): get a fresh token (projected tokens are refreshed by the kubelet; CI tokens last one job)"
    )]
    Expired {
        /// Where it came from.
        source_name: String,
        /// Its `exp`.
        expired: jiff::Timestamp,
        /// The time of the check.
        now: jiff::Timestamp,
    },
    /// Fetching the GitHub Actions token failed.
    #[error(transparent)]
    Github(#[from] crate::oidc::Error),
    /// The token is from another issuer than the one expected.
    #[error(
        "the identity token from {source_name} was issued by `{issuer}`, not by the expected issuer `{expected}` (chains-config `signers.x509.fulcio.issuer`): use a token from that issuer, or set the key to the token's issuer or remove it"
    )]
    WrongIssuer {
        /// Where it came from.
        source_name: String,
        /// Its `iss`.
        issuer: String,
        /// The issuer expected.
        expected: String,
    },
}

impl Error {
    /// What kind of failure this is (see [`crate::error_kind`]).
    pub fn kind(&self) -> crate::error_kind::Kind {
        use crate::error_kind::Kind;
        match self {
            Self::None | Self::Expired { .. } | Self::WrongIssuer { .. } => Kind::Unauthenticated,
            Self::Read { source, .. } => Kind::from_io(source.kind()),
            Self::Malformed { .. } => Kind::Invalid,
            Self::Github(e) => e.kind(),
        }
    }
}

/// Where tokens may come from (see the module docs for the order).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `CHAINSEAL_IDENTITY_TOKEN`.
    pub token: Option<SecretString>,
    /// `CHAINSEAL_IDENTITY_TOKEN_FILE`.
    pub file: Option<PathBuf>,
    /// The file tried when `file` is unset (normally [`DEFAULT_TOKEN_FILE`]).
    pub default_file: Option<PathBuf>,
    /// GitHub Actions' ID-token request URL and bearer token.
    pub github: Option<(String, SecretString)>,
    /// GitLab's `SIGSTORE_ID_TOKEN`.
    pub gitlab: Option<SecretString>,
    /// The issuer the token must have (`signers.x509.fulcio.issuer`); `None`: any.
    pub expected_issuer: Option<String>,
}

/// A token and what it claims.
#[derive(Debug, Clone)]
pub struct IdentityToken {
    /// The JWT.
    pub jwt: SecretString,
    /// Where it came from, for messages.
    pub source_name: String,
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `email`, when the token has one.
    pub email: Option<String>,
}

impl IdentityToken {
    /// What Fulcio's proof of possession signs: the email for email identities, else
    /// the subject.
    pub fn challenge(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.subject)
    }

    /// Decode `jwt`'s claims and check it has not expired at `now` (seconds).
    pub fn parse(jwt: SecretString, source_name: String, now: i64) -> Result<Self, Error> {
        let malformed = |reason: &str| Error::Malformed {
            source_name: source_name.clone(),
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(jwt.expose()).map_err(|_| malformed("not UTF-8"))?;
        let claims = crate::oidc::unverified_claims(text).map_err(malformed)?;
        let string = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let issuer = string("iss").ok_or_else(|| malformed("no `iss` claim"))?;
        let subject = string("sub").ok_or_else(|| malformed("no `sub` claim"))?;
        if let Some(exp) = claims.get("exp").and_then(Value::as_i64)
            && exp <= now
        {
            return Err(Error::Expired {
                source_name,
                expired: jiff::Timestamp::from_second(exp).unwrap_or_default(),
                now: jiff::Timestamp::from_second(now).unwrap_or_default(),
            });
        }
        Ok(Self {
            jwt: SecretString::new(text.trim().to_owned()),
            source_name,
            issuer,
            subject,
            email: string("email"),
        })
    }
}

impl Sources {
    /// The token from the first source that has one, checked at `now` (seconds) and
    /// against the expected issuer, if any.
    pub async fn get(&self, now: i64) -> Result<IdentityToken, Error> {
        let token = self.first(now).await?;
        match &self.expected_issuer {
            Some(expected) if !crate::oidc::same_issuer(&token.issuer, expected) => {
                Err(Error::WrongIssuer {
                    source_name: token.source_name,
                    issuer: token.issuer,
                    expected: expected.clone(),
                })
            }
            _ => Ok(token),
        }
    }

    /// The token from the first source that has one, checked at `now` (seconds).
    async fn first(&self, now: i64) -> Result<IdentityToken, Error> {
        if let Some(token) = &self.token {
            return IdentityToken::parse(
                token.clone(),
                EnvVars::CHAINSEAL_IDENTITY_TOKEN.into(),
                now,
            );
        }
        let file = self
            .file
            .clone()
            .or_else(|| self.default_file.clone().filter(|p| p.exists()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            return IdentityToken::parse(
                SecretString::new(text),
                format!("the file {}", path.display()),
                now,
            );
        }
        if let Some((url, bearer)) = &self.github {
            let jwt = crate::oidc::github_token(url, bearer, AUDIENCE).await?;
            return IdentityToken::parse(jwt, "GitHub Actions".into(), now);
        }
        if let Some(token) = &self.gitlab {
            return IdentityToken::parse(token.clone(), EnvVars::SIGSTORE_ID_TOKEN.into(), now);
        }
        Err(Error::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> SecretString {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let part = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        SecretString::new(format!(
            "{}.{}.sig",
            part(&serde_json::json!({"alg": "RS256"})),
            part(&claims)
        ))
    }

    #[test]
    fn tokens_are_read_and_checked() {
        let t = IdentityToken::parse(
            jwt(serde_json::json!({"iss": "https://i", "sub": "s", "exp": 200})),
            "test".into(),
            100,
        )
        .expect("valid");
        assert_eq!((t.issuer.as_str(), t.challenge()), ("https://i", "s"));
        let e = IdentityToken::parse(
            jwt(serde_json::json!({"iss": "https://i", "sub": "s", "email": "a@b", "exp": 200})),
            "test".into(),
            100,
        )
        .expect("valid");
        assert_eq!(e.challenge(), "a@b");
        let expired = IdentityToken::parse(
            jwt(serde_json::json!({"iss": "https://i", "sub": "s", "exp": 50})),
            "test".into(),
            100,
        )
        .expect_err("expired");
        assert!(expired.to_string().contains("expired"), "{expired}");
        for bad in ["", "a.b", "a.!!!.c"] {
            let err = IdentityToken::parse(SecretString::new(bad.into()), "test".into(), 0)
                .expect_err("malformed");
            assert!(err.to_string().contains("malformed"), "{err}");
        }
        let no_sub = IdentityToken::parse(jwt(serde_json::json!({"iss": "x"})), "t".into(), 0);
        assert!(no_sub.is_err());
    }

    #[tokio::test]
    async fn sources_are_tried_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("token");
        std::fs::write(
            &file,
            jwt(serde_json::json!({"iss": "f", "sub": "file"})).expose(),
        )
        .expect("write");
        let given = jwt(serde_json::json!({"iss": "g", "sub": "given"}));
        let lab = jwt(serde_json::json!({"iss": "l", "sub": "gitlab"}));
        let mut s = Sources {
            token: Some(given),
            file: None,
            default_file: Some(file.clone()),
            github: None,
            gitlab: Some(lab),
            expected_issuer: None,
        };
        assert_eq!(s.get(0).await.expect("token").subject, "given");
        s.token = None;
        assert_eq!(s.get(0).await.expect("token").subject, "file");
        s.default_file = Some(dir.path().join("absent"));
        assert_eq!(s.get(0).await.expect("token").subject, "gitlab");
        s.gitlab = None;
        assert!(matches!(s.get(0).await, Err(Error::None)));
        s.file = Some(dir.path().join("absent"));
        assert!(matches!(s.get(0).await, Err(Error::Read { .. })));
    }

    #[tokio::test]
    async fn an_expected_issuer_is_checked() {
        let mut s = Sources {
            token: Some(jwt(
                serde_json::json!({"iss": "https://kubernetes.default.svc", "sub": "s"}),
            )),
            expected_issuer: Some("https://kubernetes.default.svc/".into()),
            ..Sources::default()
        };
        assert_eq!(s.get(0).await.expect("same issuer").subject, "s");
        s.expected_issuer = Some("https://gitlab.com".into());
        let err = s.get(0).await.expect_err("another issuer");
        assert!(matches!(err, Error::WrongIssuer { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("`https://kubernetes.default.svc`")
                && text.contains("`https://gitlab.com`")
                && text.contains("signers.x509.fulcio.issuer"),
            "{text}"
        );
    }
}
