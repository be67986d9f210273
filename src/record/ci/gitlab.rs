//! A GitLab CI job, read from its predefined variables.

use super::{Environment, Error, Platform};

/// Variables copied into `externalParameters.variables` when set: the predefined
/// variables that say what was built and why. Never the job's own variables, which
/// may be secrets (GitLab's runner lists those with masked values; chainseal cannot
/// tell which are masked, so it lists none).
pub const RECORDED: &[&str] = &[
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME",
    "CI_COMMIT_REF_PROTECTED",
    "CI_COMMIT_SHA",
    "CI_COMMIT_TAG",
    "CI_CONFIG_PATH",
    "CI_DEFAULT_BRANCH",
    "CI_JOB_ID",
    "CI_JOB_NAME",
    "CI_JOB_STAGE",
    "CI_PIPELINE_ID",
    "CI_PIPELINE_SOURCE",
    "CI_PIPELINE_URL",
    "CI_PROJECT_ID",
    "CI_PROJECT_PATH",
    "CI_PROJECT_VISIBILITY",
    "CI_SERVER_URL",
];

/// The variables read besides [`RECORDED`].
const ALSO_READ: &[&str] = &[
    "GITLAB_CI",
    "CI_JOB_STARTED_AT",
    "CI_JOB_URL",
    "CI_PROJECT_URL",
    "CI_RUNNER_DESCRIPTION",
    "CI_RUNNER_EXECUTABLE_ARCH",
    "CI_RUNNER_ID",
    "CI_RUNNER_VERSION",
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
        let project_url = need("CI_PROJECT_URL")?.trim_end_matches('/').to_owned();
        let sha = need("CI_COMMIT_SHA")?;
        let job_id = need("CI_JOB_ID")?;
        let git_ref = match env.get("CI_COMMIT_TAG") {
            Some(tag) => format!("refs/tags/{tag}"),
            None => format!("refs/heads/{}", need("CI_COMMIT_REF_NAME")?),
        };
        let opt = |name| env.get(name).map(str::to_owned);
        Ok(Self {
            job_url: opt("CI_JOB_URL").unwrap_or_else(|| format!("{project_url}/-/jobs/{job_id}")),
            project_url,
            sha,
            git_ref,
            job_name: need("CI_JOB_NAME")?,
            job_id,
            started_at: opt("CI_JOB_STARTED_AT"),
            runner_id: need("CI_RUNNER_ID")?,
            runner_description: opt("CI_RUNNER_DESCRIPTION"),
            runner_version: opt("CI_RUNNER_VERSION"),
            runner_arch: opt("CI_RUNNER_EXECUTABLE_ARCH"),
            variables: RECORDED
                .iter()
                .filter_map(|n| Some(((*n).to_owned(), opt(n)?)))
                .collect(),
        })
    }
}
