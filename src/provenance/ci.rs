//! SLSA v1.0 provenance of CI builds that are not Tekton runs. Pure: the record and
//! the subjects in, the Statement out.
//!
//! * GitHub Actions: GitHub's buildType `https://actions.github.io/buildtypes/workflow/v1`,
//!   field for field what `actions/attest` (`buildSLSAProvenancePredicate`) writes.
//! * GitLab CI: the layout of GitLab's runner provenance under chainseal's own
//!   buildType ([`GITLAB_BUILD_TYPE`], `docs/buildtypes/gitlab-ci-v1.md`).
//! * Generic: the subjects and the builder id the user names ([`GENERIC_BUILD_TYPE`]).

use serde_json::{Map, Value, json};

use super::statement::{STATEMENT_V1, sorted};
use super::{ResourceDescriptor, Statement};
use crate::record::ci::{Build, GithubRun, GitlabJob};

/// SLSA v1 predicate type.
pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";

/// GitHub's workflow buildType.
pub const GITHUB_BUILD_TYPE: &str = "https://actions.github.io/buildtypes/workflow/v1";

/// chainseal's buildType for GitLab CI jobs.
pub const GITLAB_BUILD_TYPE: &str =
    "https://github.com/chainseal/chainseal/blob/main/docs/buildtypes/gitlab-ci-v1.md";

/// chainseal's buildType for generic builds.
pub const GENERIC_BUILD_TYPE: &str =
    "https://github.com/chainseal/chainseal/blob/main/docs/buildtypes/generic-v1.md";

/// The Statement for `build` about `subjects`.
pub fn statement(build: &Build, subjects: Vec<ResourceDescriptor>) -> Statement {
    let predicate = match build {
        Build::Github(run) => github(run),
        Build::Gitlab(job) => gitlab(job),
        Build::Generic { builder_id } => json!({
            "buildDefinition": {
                "buildType": GENERIC_BUILD_TYPE,
                "externalParameters": {},
            },
            "runDetails": {"builder": {"id": builder_id}},
        }),
    };
    Statement {
        statement_type: STATEMENT_V1.to_owned(),
        subject: subjects,
        predicate_type: SLSA_V1.to_owned(),
        predicate: sorted(predicate),
    }
}

fn github(run: &GithubRun) -> Value {
    let server = &run.server_url;
    // `owner/repo/.github/workflows/x.yml@refs/heads/main` → the path (a ref may
    // itself contain `@`, so cut at the first one after the path). The workflow's
    // ref is the `ref` claim, as `actions/attest` writes it since @actions/attest
    // 1.6.0 (actions/toolkit#1969), not the part of `workflow_ref` after the `@`.
    let workflow = run
        .workflow_ref
        .strip_prefix(&format!("{}/", run.repository))
        .unwrap_or(&run.workflow_ref);
    let path = workflow.split_once('@').map_or(workflow, |(path, _)| path);
    json!({
        "buildDefinition": {
            "buildType": GITHUB_BUILD_TYPE,
            "externalParameters": {
                "workflow": {
                    "ref": run.git_ref,
                    "repository": format!("{server}/{}", run.repository),
                    "path": path,
                },
            },
            "internalParameters": {
                "github": {
                    "event_name": run.event_name,
                    "repository_id": run.repository_id,
                    "repository_owner_id": run.repository_owner_id,
                    "runner_environment": run.runner_environment,
                },
            },
            "resolvedDependencies": [{
                "uri": format!("git+{server}/{}@{}", run.repository, run.git_ref),
                "digest": {"gitCommit": run.sha},
            }],
        },
        "runDetails": {
            "builder": {"id": format!("{server}/{}", run.job_workflow_ref)},
            "metadata": {
                "invocationId": format!(
                    "{server}/{}/actions/runs/{}/attempts/{}",
                    run.repository, run.run_id, run.run_attempt
                ),
            },
        },
    })
}

fn gitlab(job: &GitlabJob) -> Value {
    let variables: Map<String, Value> = job
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut internal = Map::new();
    internal.insert("job".into(), json!(job.job_id));
    for (key, value) in [
        ("name", &job.runner_description),
        ("architecture", &job.runner_arch),
    ] {
        if let Some(v) = value {
            internal.insert(key.into(), json!(v));
        }
    }
    let mut builder = json!({"id": format!("{}/-/runners/{}", job.project_url, job.runner_id)});
    if let Some(version) = &job.runner_version {
        builder["version"] = json!({"gitlab-runner": version});
    }
    let mut metadata = json!({"invocationId": job.job_url});
    if let Some(started) = &job.started_at {
        metadata["startedOn"] = json!(started);
    }
    json!({
        "buildDefinition": {
            "buildType": GITLAB_BUILD_TYPE,
            "externalParameters": {
                "source": job.project_url,
                "entryPoint": job.job_name,
                "variables": variables,
            },
            "internalParameters": internal,
            "resolvedDependencies": [{
                "uri": format!("git+{}@{}", job.project_url, job.git_ref),
                "digest": {"gitCommit": job.sha},
            }],
        },
        "runDetails": {"builder": builder, "metadata": metadata},
    })
}
