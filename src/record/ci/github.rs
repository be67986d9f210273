//! A GitHub Actions job, read the way `actions/attest` reads it: from the claims of
//! a verified OIDC token when the job may request one (`id-token: write`), else from
//! the default environment variables (`job_workflow_ref` exists only as a claim, so
//! without a token the builder id is taken from `GITHUB_WORKFLOW_REF`, which differs
//! only for reusable workflows).

use tracing::{info, warn};

use super::{Environment, Error, Platform};
use crate::env_vars::EnvVars;
use crate::oidc::{self, Claims};

/// The variables read (and nothing else is copied from the environment).
pub const VARS: &[&str] = &[
    EnvVars::GITHUB_ACTIONS,
    EnvVars::GITHUB_SERVER_URL,
    EnvVars::GITHUB_REPOSITORY,
    EnvVars::GITHUB_REPOSITORY_ID,
    EnvVars::GITHUB_REPOSITORY_OWNER_ID,
    EnvVars::GITHUB_SHA,
    EnvVars::GITHUB_REF,
    EnvVars::GITHUB_EVENT_NAME,
    EnvVars::GITHUB_WORKFLOW_REF,
    EnvVars::GITHUB_RUN_ID,
    EnvVars::GITHUB_RUN_ATTEMPT,
    EnvVars::RUNNER_ENVIRONMENT,
    EnvVars::GITHUB_OUTPUT,
    EnvVars::GITHUB_STEP_SUMMARY,
    EnvVars::GITHUB_ARTIFACTS_LIST,
    EnvVars::GITHUB_EVENT_PATH,
];

/// What the provenance of a GitHub Actions job needs (the claim names of
/// `actions/attest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubRun {
    /// `GITHUB_SERVER_URL`, e.g. `https://github.com`.
    pub server_url: String,
    /// `owner/repo`.
    pub repository: String,
    /// Numeric id, as a string.
    pub repository_id: String,
    /// Numeric id, as a string.
    pub repository_owner_id: String,
    /// The commit built.
    pub sha: String,
    /// `refs/heads/main`, `refs/tags/v1`, …
    pub git_ref: String,
    /// `push`, `release`, `workflow_dispatch`, …
    pub event_name: String,
    /// `owner/repo/.github/workflows/x.yml@refs/heads/main`.
    pub workflow_ref: String,
    /// The workflow file the job runs in (differs for reusable workflows).
    pub job_workflow_ref: String,
    /// Run id.
    pub run_id: String,
    /// Run attempt.
    pub run_attempt: String,
    /// `github-hosted` or `self-hosted`.
    pub runner_environment: String,
    /// Whether the fields came from a verified OIDC token.
    pub from_token: bool,
}

/// (field, claim, environment variable).
const FIELDS: &[(&str, &str)] = &[
    ("repository", EnvVars::GITHUB_REPOSITORY),
    ("repository_id", EnvVars::GITHUB_REPOSITORY_ID),
    ("repository_owner_id", EnvVars::GITHUB_REPOSITORY_OWNER_ID),
    ("sha", EnvVars::GITHUB_SHA),
    ("ref", EnvVars::GITHUB_REF),
    ("event_name", EnvVars::GITHUB_EVENT_NAME),
    ("workflow_ref", EnvVars::GITHUB_WORKFLOW_REF),
    ("run_id", EnvVars::GITHUB_RUN_ID),
    ("run_attempt", EnvVars::GITHUB_RUN_ATTEMPT),
    ("runner_environment", EnvVars::RUNNER_ENVIRONMENT),
];

impl GithubRun {
    /// Read the job: from a verified token's `claims` when given, else from `env`.
    pub fn read(env: &Environment, claims: Option<&Claims>) -> Result<Self, Error> {
        let get = |claim: &'static str, var: &'static str| -> Result<String, Error> {
            match claims {
                Some(c) => c.string(claim).ok_or(Error::MissingClaim(claim)),
                None => env.require(Platform::Github, var).map(str::to_owned),
            }
        };
        let mut values = FIELDS
            .iter()
            .map(|(claim, var)| get(claim, var))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        let mut next = || values.next().unwrap_or_default();
        let server_url = env
            .get(EnvVars::GITHUB_SERVER_URL)
            .unwrap_or("https://github.com")
            .trim_end_matches('/')
            .to_owned();
        let (repository, repository_id, repository_owner_id, sha, git_ref) =
            (next(), next(), next(), next(), next());
        let (event_name, workflow_ref, run_id, run_attempt, runner_environment) =
            (next(), next(), next(), next(), next());
        let job_workflow_ref = match claims {
            Some(c) => c
                .string("job_workflow_ref")
                .ok_or(Error::MissingClaim("job_workflow_ref"))?,
            None => workflow_ref.clone(),
        };
        Ok(Self {
            server_url,
            repository,
            repository_id,
            repository_owner_id,
            sha,
            git_ref,
            event_name,
            workflow_ref,
            job_workflow_ref,
            run_id,
            run_attempt,
            runner_environment,
            from_token: claims.is_some(),
        })
    }

    /// Read the job, requesting and verifying an ID token when the job may have one.
    pub async fn collect(env: &Environment, issuer: &str) -> Result<Self, Error> {
        let Some((url, token)) = &env.id_token_request else {
            warn!(
                "no GitHub OIDC token (the job lacks `permissions: id-token: write`): the build is described from the job's variables, and the builder id names the calling workflow even inside a reusable workflow"
            );
            return Self::read(env, None);
        };
        let id_token = oidc::github_token(url, token, oidc::CLAIMS_AUDIENCE).await?;
        let now = jiff::Timestamp::now().as_second();
        let claims = oidc::verify(&id_token, issuer, oidc::CLAIMS_AUDIENCE, now).await?;
        info!(issuer, "build described from a verified GitHub OIDC token");
        Self::read(env, Some(&claims))
    }
}
