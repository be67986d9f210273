//! A GitLab CI job, read from its predefined variables.

use super::{Environment, Error, Platform};
use crate::env_vars::EnvVars;

/// Variables copied into `externalParameters.variables` when set: the predefined
/// variables that say what was built and why. Never the job's own variables, which
/// may be secrets (GitLab's runner lists those with masked values; chainseal cannot
/// tell which are masked, so it lists none).
pub const RECORDED: &[&str] = &[
    EnvVars::CI_COMMIT_BRANCH,
    EnvVars::CI_COMMIT_REF_NAME,
    EnvVars::CI_COMMIT_REF_PROTECTED,
    EnvVars::CI_COMMIT_SHA,
    EnvVars::CI_COMMIT_TAG,
    EnvVars::CI_CONFIG_PATH,
    EnvVars::CI_DEFAULT_BRANCH,
    EnvVars::CI_JOB_ID,
    EnvVars::CI_JOB_NAME,
    EnvVars::CI_JOB_STAGE,
    EnvVars::CI_PIPELINE_ID,
    EnvVars::CI_PIPELINE_SOURCE,
    EnvVars::CI_PIPELINE_URL,
    EnvVars::CI_PROJECT_ID,
    EnvVars::CI_PROJECT_PATH,
    EnvVars::CI_PROJECT_VISIBILITY,
    EnvVars::CI_SERVER_URL,
];

/// The variables read besides [`RECORDED`].
const ALSO_READ: &[&str] = &[
    EnvVars::GITLAB_CI,
    EnvVars::CI_JOB_STARTED_AT,
    EnvVars::CI_JOB_URL,
    EnvVars::CI_PROJECT_URL,
    EnvVars::CI_RUNNER_DESCRIPTION,
    EnvVars::CI_RUNNER_EXECUTABLE_ARCH,
    EnvVars::CI_RUNNER_ID,
    EnvVars::CI_RUNNER_VERSION,
];

/// Whether chainseal reads the variable `name` on GitLab.
pub fn reads(name: &str) -> bool {
    RECORDED.contains(&name) || ALSO_READ.contains(&name)
}

/// What the provenance of a GitLab CI job needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitlabJob {
    /// `CI_PROJECT_URL`.
    pub project_url: String,
    /// `CI_COMMIT_SHA`.
    pub sha: String,
    /// The full git ref: `refs/tags/<tag>` for tag pipelines, else
    /// `refs/heads/<CI_COMMIT_REF_NAME>`.
    pub git_ref: String,
    /// `CI_JOB_ID`.
    pub job_id: String,
    /// `CI_JOB_NAME`.
    pub job_name: String,
    /// `CI_JOB_URL` (else built from the project URL and job id).
    pub job_url: String,
    /// `CI_JOB_STARTED_AT`, when set.
    pub started_at: Option<String>,
    /// `CI_RUNNER_ID`.
    pub runner_id: String,
    /// `CI_RUNNER_DESCRIPTION`, when set.
    pub runner_description: Option<String>,
    /// `CI_RUNNER_VERSION`, when set.
    pub runner_version: Option<String>,
    /// `CI_RUNNER_EXECUTABLE_ARCH`, when set.
    pub runner_arch: Option<String>,
    /// The [`RECORDED`] variables that are set.
    pub variables: Vec<(String, String)>,
}

impl GitlabJob {
    /// Read the job from its variables.
    pub fn read(env: &Environment) -> Result<Self, Error> {
        let need = |name| env.require(Platform::Gitlab, name).map(str::to_owned);
        let project_url = need(EnvVars::CI_PROJECT_URL)?
            .trim_end_matches('/')
            .to_owned();
        let sha = need(EnvVars::CI_COMMIT_SHA)?;
        let job_id = need(EnvVars::CI_JOB_ID)?;
        let git_ref = match env.get(EnvVars::CI_COMMIT_TAG) {
            Some(tag) => format!("refs/tags/{tag}"),
            None => format!("refs/heads/{}", need(EnvVars::CI_COMMIT_REF_NAME)?),
        };
        let opt = |name| env.get(name).map(str::to_owned);
        Ok(Self {
            job_url: opt(EnvVars::CI_JOB_URL)
                .unwrap_or_else(|| format!("{project_url}/-/jobs/{job_id}")),
            project_url,
            sha,
            git_ref,
            job_name: need(EnvVars::CI_JOB_NAME)?,
            job_id,
            started_at: opt(EnvVars::CI_JOB_STARTED_AT),
            runner_id: need(EnvVars::CI_RUNNER_ID)?,
            runner_description: opt(EnvVars::CI_RUNNER_DESCRIPTION),
            runner_version: opt(EnvVars::CI_RUNNER_VERSION),
            runner_arch: opt(EnvVars::CI_RUNNER_EXECUTABLE_ARCH),
            variables: RECORDED
                .iter()
                .filter_map(|n| Some(((*n).to_owned(), opt(n)?)))
                .collect(),
        })
    }
}
