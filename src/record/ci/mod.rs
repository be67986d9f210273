//! CI builds that are not Tekton runs: a GitHub Actions job, a GitLab CI job, or a
//! generic build that names only its subjects. The record is the job's environment
//! (and, on GitHub, the claims of a verified OIDC token).

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

use crate::env_vars::EnvVars;
use crate::secret::SecretString;

pub mod github;
pub mod gitlab;

pub use github::GithubRun;
pub use gitlab::GitlabJob;

/// Where a build record comes from (`CHAINSEAL_SOURCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// GitHub Actions.
    Github,
    /// GitLab CI.
    Gitlab,
    /// Anything else: only the subjects are known.
    Generic,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Generic => "generic",
        })
    }
}

/// The variables a CI record is read from: only the names chainseal uses (no job
/// secrets are copied), and the GitHub ID-token request credentials kept secret.
#[derive(Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub id_token_request: Option<(String, SecretString)>,
    /// `SIGSTORE_ID_TOKEN`: a GitLab `id_tokens` token for Sigstore (keyless signing).
    pub sigstore_id_token: Option<SecretString>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("vars", &self.vars)
            .field(
                "id_token_request",
                &self.id_token_request.as_ref().map(|(url, _)| url),
            )
            .field(
                "sigstore_id_token",
                &self.sigstore_id_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Environment {
    /// The relevant variables of `vars` (e.g. `std::env::vars()`).
    pub fn capture(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut env = Self::default();
        let mut url = None;
        let mut token = None;
        for (name, value) in vars {
            match name.as_str() {
                EnvVars::ACTIONS_ID_TOKEN_REQUEST_URL => url = Some(value),
                EnvVars::ACTIONS_ID_TOKEN_REQUEST_TOKEN => token = Some(SecretString::new(value)),
                EnvVars::SIGSTORE_ID_TOKEN if !value.trim().is_empty() => {
                    env.sigstore_id_token = Some(SecretString::new(value.trim().to_owned()));
                }
                n if github::VARS.contains(&n) || gitlab::reads(n) => {
                    env.vars.insert(name, value);
                }
                _ => {}
            }
        }
        env.id_token_request = match (url, token) {
            (Some(u), Some(t)) if !u.is_empty() && !t.expose().is_empty() => Some((u, t)),
            _ => None,
        };
        env
    }

    /// A variable, `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A variable that must be set.
    pub fn require(&self, platform: Platform, name: &'static str) -> Result<&str, Error> {
        self.get(name).ok_or(Error::MissingVar { platform, name })
    }

    /// The platform `auto` detection picks: GitHub when `GITHUB_ACTIONS=true`, GitLab
    /// when `GITLAB_CI=true`, else generic.
    pub fn detect(&self) -> Platform {
        if self.get(EnvVars::GITHUB_ACTIONS) == Some("true") {
            Platform::Github
        } else if self.get(EnvVars::GITLAB_CI) == Some("true") {
            Platform::Gitlab
        } else {
            Platform::Generic
        }
    }
}

/// A CI record that cannot be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A variable the platform always sets is missing.
    #[error(
        "`{name}` is not set: chainseal reads the {platform} build from the job's variables; run it inside the job (a docker action or job step), or set `CHAINSEAL_SOURCE` to the platform you are on"
    )]
    MissingVar {
        /// The platform.
        platform: Platform,
        /// The variable.
        name: &'static str,
    },
    /// The ID token could not be had or verified.
    #[error("GitHub OIDC token")]
    Oidc(#[from] crate::oidc::Error),
    /// A claim the provenance needs is missing from a verified token.
    #[error("the GitHub OIDC token has no `{0}` claim")]
    MissingClaim(&'static str),
}

/// A CI build's record.
#[derive(Debug, Clone, PartialEq)]
pub enum Build {
    /// A GitHub Actions job.
    Github(GithubRun),
    /// A GitLab CI job.
    Gitlab(GitlabJob),
    /// A generic build: the builder id given by the user.
    Generic {
        /// `CHAINSEAL_BUILDER_ID`.
        builder_id: String,
    },
}

impl Build {
    /// The storage key prefix: `github-<run id>-<attempt>`, `gitlab-<job id>`, `generic`.
    pub fn key_prefix(&self) -> String {
        match self {
            Self::Github(r) => format!("github-{}-{}", r.run_id, r.run_attempt),
            Self::Gitlab(j) => format!("gitlab-{}", j.job_id),
            Self::Generic { .. } => "generic".into(),
        }
    }
}
