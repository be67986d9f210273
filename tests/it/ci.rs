//! CI builds that are not Tekton runs: GitHub Actions and GitLab CI jobs (recorded
//! environments in `tests/fixtures/ci/*.env`), generic builds, explicit subjects, the
//! step outputs, and `action.yml` checked against the variables the binary reads.
//!
//! The GitHub OIDC tests use a loopback double of GitHub's token service
//! (`tests/doubles/github_oidc.py`, real RS256 signatures); they need
//! `INTEROP_PYTHON` and are skipped outside CI, with a message, when it is unset.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Run, assert_error, chainseal, repo, run, spawn_ready, tool, verify};
use serde_json::Value;

const IMAGE_DIGEST: &str =
    "sha256:6a1f0d6f8c2c4b0e9f3d2a1b7c5e8d9f0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// The variables of a recorded CI environment file.
pub(crate) fn env_file(name: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo(&format!("tests/fixtures/ci/{name}"))).expect("env");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// `chainseal attest` in `dir` with a CI environment and extra settings.
pub(crate) fn attest(dir: &Path, ci: &[(String, String)], env: &[(&str, &str)]) -> Run {
    let mut cmd = chainseal(dir);
    cmd.envs(ci.iter().map(|(k, v)| (k, v)))
        .env("CHAINSEAL_KEY", repo("examples/demo.key"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The build's artifacts: two files in `dist/`.
pub(crate) fn artifacts(dir: &Path) {
    std::fs::create_dir_all(dir.join("dist")).expect("dist");
    std::fs::write(dir.join("dist/hello-linux-amd64"), b"binary one").expect("a");
    std::fs::write(dir.join("dist/hello-linux-arm64"), b"binary two").expect("b");
}

fn golden(name: &str) -> Value {
    let path = repo(&format!("tests/fixtures/ci/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

fn dry_run_statement(r: &Run) -> Value {
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).expect("statement JSON")
}

/// Every field GitHub's buildType `workflow/v1` marks required, with its type.
fn assert_github_schema(statement: &Value) {
    let p = &statement["predicate"];
    let bd = &p["buildDefinition"];
    assert_eq!(
        bd["buildType"],
        "https://actions.github.io/buildtypes/workflow/v1"
    );
    let workflow = &bd["externalParameters"]["workflow"];
    for field in ["ref", "repository", "path"] {
        assert!(
            workflow[field].as_str().is_some_and(|s| !s.is_empty()),
            "externalParameters.workflow.{field}: {workflow}"
        );
    }
    let github = &bd["internalParameters"]["github"];
    for field in [
        "event_name",
        "repository_id",
        "repository_owner_id",
        "runner_environment",
    ] {
        assert!(
            github[field].as_str().is_some_and(|s| !s.is_empty()),
            "internalParameters.github.{field} must be a string: {github}"
        );
    }
    let repository = workflow["repository"].as_str().unwrap_or_default();
    let deps = bd["resolvedDependencies"].as_array().expect("deps");
    assert!(
        deps.iter().any(|d| {
            d["uri"]
                .as_str()
                .is_some_and(|u| u.starts_with(&format!("git+{repository}@")))
                && d["digest"]["gitCommit"]
                    .as_str()
                    .is_some_and(|c| c.len() == 40)
        }),
        "resolvedDependencies must name the repository at its commit: {deps:?}"
    );
    assert!(
        p["runDetails"]["builder"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("https://"))
    );
    assert!(
        p["runDetails"]["metadata"]["invocationId"]
            .as_str()
            .is_some_and(|id| id.contains("/actions/runs/") && id.contains("/attempts/"))
    );
}

#[test]
fn github_actions_statement_matches_actions_attest() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let r = attest(
        dir.path(),
        &env_file("github.env"),
        &[
            ("CHAINSEAL_DRY_RUN", "true"),
            ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
            ("CHAINSEAL_SUBJECT_NAME", "ghcr.io/octo-org/hello-service"),
            ("CHAINSEAL_SUBJECT_DIGEST", IMAGE_DIGEST),
        ],
    );
    let statement = dry_run_statement(&r);
    assert_github_schema(&statement);
    assert_eq!(statement, golden("github.statement.json"));
    // Without a token the job's variables are used, and the run says so.
    assert!(r.stderr.contains("no GitHub OIDC token"), "{}", r.stderr);
}

#[test]
fn gitlab_ci_statement_follows_the_runner_layout() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let r = attest(
        dir.path(),
        &env_file("gitlab.env"),
        &[
            ("CHAINSEAL_DRY_RUN", "true"),
            (
                "CHAINSEAL_SUBJECT_PATH",
                "dist/hello-linux-amd64\ndist/hello-linux-arm64",
            ),
        ],
    );
    let statement = dry_run_statement(&r);
    assert_eq!(statement, golden("gitlab.statement.json"));
    // Job variables that are not predefined (they may be secrets) never appear.
    let mut with_secret = env_file("gitlab.env");
    with_secret.push(("DEPLOY_TOKEN".into(), "glpat-s3cret".into()));
    with_secret.push(("CI_JOB_TOKEN".into(), "job-s3cret".into()));
    let r = attest(
        dir.path(),
        &with_secret,
        &[
            ("CHAINSEAL_DRY_RUN", "true"),
            ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("s3cret"), "{}", r.stdout);
}

#[test]
fn github_run_signs_stores_and_writes_outputs_and_summary() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let output = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");
    let mut ci = env_file("github.env");
    ci.push(("GITHUB_OUTPUT".into(), output.display().to_string()));
    ci.push(("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()));
    let r = attest(dir.path(), &ci, &[("CHAINSEAL_SUBJECT_PATH", "dist/*")]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let outputs = std::fs::read_to_string(&output).expect("GITHUB_OUTPUT written");
    let value = |name: &str| -> String {
        let mut lines = outputs.lines();
        while let Some(line) = lines.next() {
            if let Some(v) = line.strip_prefix(&format!("{name}=")) {
                return v.to_owned();
            }
            if let Some(delim) = line.strip_prefix(&format!("{name}<<")) {
                return lines
                    .by_ref()
                    .take_while(|l| *l != delim)
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        panic!("no output {name} in {outputs}")
    };
    let path = PathBuf::from(value("attestation-path"));
    assert!(path.is_file(), "{}", path.display());
    let v = verify(dir.path(), repo("examples/demo.pub"), &path);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // attestation-digest is the digest of the signed Statement (the DSSE payload).
    let line = std::fs::read_to_string(&path).expect("envelope");
    let envelope: Value = serde_json::from_str(line.trim()).expect("envelope JSON");
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().expect("payload"))
        .expect("base64");
    use sha2::Digest as _;
    let hex = hex::encode(sha2::Sha256::digest(&payload));
    assert_eq!(value("attestation-digest"), format!("sha256:{hex}"));
    let subjects = value("subjects");
    assert_eq!(subjects.lines().count(), 2, "{subjects}");
    assert!(subjects.contains("hello-linux-amd64@sha256:"), "{subjects}");

    let md = std::fs::read_to_string(&summary).expect("summary written");
    assert!(md.contains("| `hello-linux-arm64` |"), "{md}");
    assert!(md.contains("chainseal verify --key"), "{md}");

    // `show-summary: false` writes none; JSON output on stdout.
    std::fs::remove_file(&summary).expect("rm");
    let r = attest(
        dir.path(),
        &ci,
        &[
            ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
            ("CHAINSEAL_SHOW_SUMMARY", "false"),
            ("CHAINSEAL_OUTPUT", "json"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!summary.exists());
    let json: Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert_eq!(json["attestation-path"], path.display().to_string());
    assert_eq!(json["subjects"].as_array().map(Vec::len), Some(2));
}

#[test]
fn gitlab_run_writes_the_dotenv_report() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let r = attest(
        dir.path(),
        &env_file("gitlab.env"),
        &[("CHAINSEAL_SUBJECT_PATH", "dist/*")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dotenv = std::fs::read_to_string(dir.path().join("chainseal.env")).expect("dotenv");
    let path = dotenv
        .lines()
        .find_map(|l| l.strip_prefix("CHAINSEAL_ATTESTATION_PATH="))
        .expect("path line");
    assert!(path.contains("gitlab-8765432109-"), "{dotenv}");
    let v = verify(dir.path(), repo("examples/demo.pub"), path);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        dotenv.contains("CHAINSEAL_SUBJECTS=hello-linux-amd64@sha256:"),
        "{dotenv}"
    );
}

/// The GitLab CI/CD component (`templates/attest.yml`) run as GitLab runs it: its
/// inputs interpolated (`$[[ inputs.… ]]`, defaults from `spec.inputs`), its variables
/// expanded and exported with the job's, its script run by `sh` with `chainseal` on
/// the PATH. The build's files (one subject each) and the image named by
/// `image-digest` (`$IMAGE_DIGEST` from a build job's dotenv report) are attested,
/// the dotenv report is written and the attestation verifies.
#[test]
fn gitlab_component_attests_the_build_artifacts_and_the_image() {
    let text = std::fs::read_to_string(repo("templates/attest.yml")).expect("template");
    let (spec, job) = text.split_once("\n---\n").expect("spec and job documents");
    let spec: Value = serde_saphyr::from_str(spec).expect("spec YAML");
    let job: Value = serde_saphyr::from_str(job).expect("job YAML");
    let job = &job["chainseal-attest"];
    let mut ci = env_file("gitlab.env");
    ci.push((
        "CI_REGISTRY_IMAGE".into(),
        "registry.gitlab.com/octo-org/hello-service".into(),
    ));
    ci.push(("IMAGE_DIGEST".into(), IMAGE_DIGEST.into()));
    let given = [
        ("artifacts", "dist/*".to_owned()),
        ("image-digest", "$IMAGE_DIGEST".to_owned()),
        ("key", repo("examples/demo.key").display().to_string()),
    ];
    let input = |given: &[(&str, String)], name: &str| -> String {
        given
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                spec["spec"]["inputs"][name]["default"]
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("input {name} has no default"))
    };
    // GitLab's two passes: inputs when the file is included, variables in the job.
    let interpolate = |given: &[(&str, String)], value: &str| -> String {
        let mut out = value.to_owned();
        while let Some(start) = out.find("$[[ inputs.") {
            let end = start + out[start..].find(" ]]").expect("closed") + 3;
            let name = out[start + "$[[ inputs.".len()..end - 3].to_owned();
            out.replace_range(start..end, &input(given, &name));
        }
        // Longest names first: `$CI_REGISTRY_IMAGE` is not `$CI` followed by text.
        let mut vars: Vec<&(String, String)> = ci.iter().collect();
        vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (k, v) in vars {
            out = out.replace(&format!("${k}"), v);
        }
        out
    };
    assert_eq!(
        interpolate(&given, job["stage"].as_str().expect("stage")),
        ".post"
    );
    assert_eq!(job["id_tokens"]["SIGSTORE_ID_TOKEN"]["aud"], "sigstore");
    let variables_for = |given: &[(&str, String)]| -> Vec<(String, String)> {
        job["variables"]
            .as_object()
            .expect("variables")
            .iter()
            .map(|(k, v)| (k.clone(), interpolate(given, v.as_str().expect("string"))))
            .collect()
    };
    let variables = variables_for(&given);
    let script: Vec<&str> = job["script"]
        .as_array()
        .expect("script")
        .iter()
        .map(|l| l.as_str().expect("line"))
        .collect();

    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let bin = Path::new(env!("CARGO_BIN_EXE_chainseal"))
        .parent()
        .expect("bin dir");
    let mut cmd = Command::new("sh");
    cmd.env_clear()
        .current_dir(dir.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .envs(ci.iter().map(|(k, v)| (k, v)))
        .envs(variables.iter().map(|(k, v)| (k, v)))
        .arg("-c")
        .arg(script.join("\n"));
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let dotenv = std::fs::read_to_string(dir.path().join("chainseal.env")).expect("dotenv");
    let path = dotenv
        .lines()
        .find_map(|l| l.strip_prefix("CHAINSEAL_ATTESTATION_PATH="))
        .expect("path line");
    assert!(
        dir.path()
            .join(path)
            .starts_with(dir.path().join("attestations")),
        "{path}"
    );
    let v = verify(dir.path(), repo("examples/demo.pub"), path);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let subjects = dotenv
        .lines()
        .find_map(|l| l.strip_prefix("CHAINSEAL_SUBJECTS="))
        .expect("subjects");
    let mut names: Vec<&str> = subjects
        .split(',')
        .map(|s| s.split_once('@').expect("name@digest").0)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "hello-linux-amd64",
            "hello-linux-arm64",
            "registry.gitlab.com/octo-org/hello-service"
        ]
    );
    assert!(subjects.contains(&format!(
        "registry.gitlab.com/octo-org/hello-service@{IMAGE_DIGEST}"
    )));
    // The image digest is optional (its default is empty): without it, the files only.
    let dir2 = tempfile::tempdir().expect("tmp");
    artifacts(dir2.path());
    let mut cmd = Command::new("sh");
    cmd.env_clear()
        .current_dir(dir2.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .envs(
            ci.iter()
                .filter(|(k, _)| k != "IMAGE_DIGEST")
                .map(|(k, v)| (k, v)),
        )
        .envs(variables_for(&[given[0].clone(), given[2].clone()]))
        .arg("-c")
        .arg(script.join("\n"));
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let dotenv = std::fs::read_to_string(dir2.path().join("chainseal.env")).expect("dotenv");
    assert!(!dotenv.contains("registry.gitlab.com"), "{dotenv}");
}

#[test]
fn generic_builds_take_subjects_checksums_and_merge_duplicates() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let sums = Command::new("sha256sum")
        .current_dir(dir.path().join("dist"))
        .args(["hello-linux-amd64", "hello-linux-arm64"])
        .output()
        .expect("sha256sum");
    std::fs::write(dir.path().join("SHA256SUMS"), &sums.stdout).expect("sums");
    let r = attest(
        dir.path(),
        &[],
        &[
            ("CHAINSEAL_DRY_RUN", "true"),
            (
                "CHAINSEAL_BUILDER_ID",
                "https://jenkins.example.com/job/release",
            ),
            // The same two files three ways: one subject each.
            ("CHAINSEAL_SUBJECT_PATH", "dist/*, dist/hello-linux-amd64"),
            ("CHAINSEAL_SUBJECT_CHECKSUMS", "SHA256SUMS"),
        ],
    );
    let statement = dry_run_statement(&r);
    let names: Vec<&str> = statement["subject"]
        .as_array()
        .expect("subjects")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["hello-linux-amd64", "hello-linux-arm64"]);
    let sums = String::from_utf8_lossy(&sums.stdout).into_owned();
    let amd64 = sums.split_whitespace().next().expect("hex");
    assert_eq!(statement["subject"][0]["digest"]["sha256"], amd64);
    assert_eq!(
        statement["predicate"]["runDetails"]["builder"]["id"],
        "https://jenkins.example.com/job/release"
    );

    // The limit: 1,025 subjects fail unless raised.
    let list: Vec<String> = (0..1025)
        .map(|i| format!("file-{i}@sha256:{:064x}", i))
        .collect();
    let list = list.join("\n");
    let base = [
        ("CHAINSEAL_DRY_RUN", "true"),
        ("CHAINSEAL_BUILDER_ID", "https://ci.example.com"),
        ("CHAINSEAL_SUBJECTS", list.as_str()),
    ];
    assert_error(
        &attest(dir.path(), &[], &base),
        "more than the limit of 1024",
    );
    let raised = [base.as_slice(), &[("CHAINSEAL_MAX_SUBJECTS", "2000")]].concat();
    let statement = dry_run_statement(&attest(dir.path(), &[], &raised));
    assert_eq!(statement["subject"].as_array().map(Vec::len), Some(1025));
}

#[test]
fn bad_ci_input_fails_clearly_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    std::fs::write(dir.path().join("BAD_SUMS"), "abc123  file\n").expect("sums");
    std::os::unix::fs::symlink(dir.path().join("missing"), dir.path().join("dist/dangling"))
        .expect("symlink");
    let github = env_file("github.env");
    let no_sha: Vec<_> = github
        .iter()
        .filter(|(k, _)| k != "GITHUB_SHA")
        .cloned()
        .collect();
    let builder = ("CHAINSEAL_BUILDER_ID", "https://ci.example.com");
    type Case<'a> = (Vec<(String, String)>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![],
            vec![builder, ("CHAINSEAL_SUBJECT_PATH", "out/*.zip")],
            "`out/*.zip` matches no file",
        ),
        (
            vec![],
            vec![builder, ("CHAINSEAL_SUBJECT_PATH", "dist/*")],
            "dist/dangling",
        ),
        (
            vec![],
            vec![builder, ("CHAINSEAL_SUBJECT_CHECKSUMS", "BAD_SUMS")],
            "line 1",
        ),
        (
            vec![],
            vec![builder, ("CHAINSEAL_SUBJECT_CHECKSUMS", "NOPE")],
            "cannot read `NOPE`",
        ),
        (
            vec![],
            vec![
                builder,
                ("CHAINSEAL_SUBJECT_NAME", "app"),
                ("CHAINSEAL_SUBJECT_DIGEST", "sha256:abcd"),
            ],
            "a sha256 digest is 64 hex characters, found 4",
        ),
        (
            vec![],
            vec![builder, ("CHAINSEAL_SUBJECT_NAME", "app")],
            "go together",
        ),
        (
            no_sha,
            vec![("CHAINSEAL_SUBJECT_PATH", "dist/hello-linux-amd64")],
            "`GITHUB_SHA` is not set",
        ),
        (github.clone(), vec![], "no subjects for the github build"),
        (
            github.clone(),
            vec![
                builder,
                ("CHAINSEAL_SUBJECT_PATH", "dist/hello-linux-amd64"),
            ],
            "does not apply to github builds",
        ),
        (
            github.clone(),
            vec![
                ("CHAINSEAL_SUBJECT_PATH", "dist/hello-linux-amd64"),
                ("CHAINSEAL_STORAGE", "tekton"),
            ],
            "this is a github build",
        ),
        (
            vec![],
            vec![("CHAINSEAL_SUBJECT_PATH", "dist/hello-linux-amd64")],
            "needs `CHAINSEAL_BUILDER_ID`",
        ),
        (
            github,
            vec![
                ("CHAINSEAL_SUBJECT_PATH", "dist/hello-linux-amd64"),
                ("CHAINSEAL_SOURCE", "gitlab"),
            ],
            "`CI_PROJECT_URL` is not set",
        ),
    ];
    for (ci, env, needle) in cases {
        let r = attest(dir.path(), &ci, &env);
        assert_error(&r, needle);
        assert!(
            !dir.path().join("attestations").exists(),
            "{needle}: something was stored"
        );
    }
}

/// The claims the OIDC double signs: a release job inside a reusable workflow, so
/// `job_workflow_ref` differs from `workflow_ref` (only the token says so).
fn claims() -> Value {
    serde_json::json!({
        "sub": "repo:octo-org/hello-service:ref:refs/tags/v1.4.0",
        "ref": "refs/tags/v1.4.0",
        "sha": "7d2c1f9e0b4a6f8e3d5c7b9a1e2f4d6c8b0a1c3e",
        "repository": "octo-org/hello-service",
        "repository_owner": "octo-org",
        "repository_id": "812345678",
        "repository_owner_id": "98765432",
        "run_id": "11223344557",
        "run_number": "58",
        "run_attempt": "1",
        "actor": "octocat",
        "workflow": "release",
        "event_name": "release",
        "ref_type": "tag",
        "workflow_ref": "octo-org/hello-service/.github/workflows/release.yml@refs/tags/v1.4.0",
        "workflow_sha": "7d2c1f9e0b4a6f8e3d5c7b9a1e2f4d6c8b0a1c3e",
        "job_workflow_ref": "octo-org/shared-workflows/.github/workflows/build.yml@refs/tags/v2",
        "job_workflow_sha": "0123456789abcdef0123456789abcdef01234567",
        "runner_environment": "github-hosted",
    })
}

/// The recorded GitHub job's variables plus the ID-token request credentials of the
/// OIDC double that printed `info`.
pub(crate) fn github_env_with_token(info: &Value) -> Vec<(String, String)> {
    let mut ci = env_file("github.env");
    ci.push((
        "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
        info["request_url"].as_str().expect("url").to_owned(),
    ));
    ci.push((
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
        "request-s3cret".into(),
    ));
    ci
}

fn oidc_double(python: &Path, dir: &Path, mode: &str) -> (common::Service, Value) {
    oidc_double_signing(python, dir, mode, &claims())
}

/// The GitHub OIDC double (`mode`) signing `claims` (written to `claims-<mode>.json`).
pub(crate) fn oidc_double_signing(
    python: &Path,
    dir: &Path,
    mode: &str,
    claims: &Value,
) -> (common::Service, Value) {
    let claims_path = dir.join(format!("claims-{mode}.json"));
    std::fs::write(&claims_path, claims.to_string()).expect("claims");
    let (service, line) = spawn_ready(
        Command::new(python)
            .arg(repo("tests/doubles/github_oidc.py"))
            .arg(&claims_path)
            .arg("request-s3cret")
            .arg(mode),
        "the GitHub OIDC double",
    );
    (service, serde_json::from_str(&line).expect("ready line"))
}

#[test]
fn github_oidc_claims_are_verified_and_win_over_variables() {
    let Some(python) = tool("INTEROP_PYTHON", "GitHub OIDC test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let (_double, info) = oidc_double(&python, dir.path(), "good");
    let ci = github_env_with_token(&info);
    let issuer = info["issuer"].as_str().expect("issuer").to_owned();
    let r = attest(
        dir.path(),
        &ci,
        &[
            ("CHAINSEAL_DRY_RUN", "true"),
            ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
            ("CHAINSEAL_GITHUB_OIDC_ISSUER", issuer.as_str()),
            ("CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE", "true"),
            ("CHAINSEAL_LOG_LEVEL", "debug"),
        ],
    );
    let statement = dry_run_statement(&r);
    assert_github_schema(&statement);
    assert_eq!(statement, golden("github-oidc.statement.json"));
    assert!(!r.stderr.contains("request-s3cret"), "secret in logs");
    let log = std::fs::read_to_string(dir.path().join("claims-good.json.log")).expect("log");
    assert!(log.contains("audience=nobody"), "{log}");
    assert!(
        log.contains("/jwks"),
        "the signature was not checked: {log}"
    );

    // A token signed by another key, an expired token, a token from another issuer:
    // each rejected, nothing stored.
    for (mode, issuer_override, needle) in [
        ("wrong-key", None, "signature does not verify"),
        ("expired", None, "expired"),
        ("good", Some(OTHER_ISSUER), "issuer"),
    ] {
        let (_d, info) = oidc_double(&python, dir.path(), mode);
        let ci = github_env_with_token(&info);
        let issuer = issuer_override.unwrap_or(info["issuer"].as_str().expect("issuer"));
        let r = attest(
            dir.path(),
            &ci,
            &[
                ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
                ("CHAINSEAL_GITHUB_OIDC_ISSUER", issuer),
                ("CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE", "true"),
            ],
        );
        assert_error(&r, needle);
        assert!(!r.stderr.contains("request-s3cret"));
        assert!(!dir.path().join("attestations").exists(), "{mode}: stored");
    }
}

const OTHER_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// actions/toolkit's own test of `buildSLSAProvenancePredicate` (the code
/// `actions/attest` runs): its job variables and token claims in, its Jest snapshot
/// out, with the test's subject, as `buildIntotoStatement` assembles them
/// (`tests/fixtures/ci/actions-toolkit-provenance.json`; source in the README there).
#[test]
fn github_statement_matches_the_actions_toolkit_snapshot() {
    let Some(python) = tool("INTEROP_PYTHON", "actions/toolkit snapshot test") else {
        return;
    };
    let fixture = golden("actions-toolkit-provenance.json");
    let dir = tempfile::tempdir().expect("tmp");
    let claims_path = dir.path().join("claims-toolkit.json");
    std::fs::write(&claims_path, fixture["claims"].to_string()).expect("claims");
    // The double replaces `iss` and `aud` with its own (chainseal checks both).
    let (_double, line) = spawn_ready(
        Command::new(&python)
            .arg(repo("tests/doubles/github_oidc.py"))
            .arg(&claims_path)
            .arg("request-s3cret"),
        "the GitHub OIDC double",
    );
    let info: Value = serde_json::from_str(&line).expect("ready line");
    let mut ci = github_env_with_token(&info);
    for (name, value) in fixture["env"].as_object().expect("env") {
        ci.retain(|(k, _)| k != name);
        ci.push((name.clone(), value.as_str().expect("string").to_owned()));
    }
    let subject = &fixture["subject"][0];
    let name = subject["name"].as_str().expect("name");
    let digest = format!(
        "sha256:{}",
        subject["digest"]["sha256"].as_str().expect("hex")
    );
    let issuer = info["issuer"].as_str().expect("issuer");
    let r = attest(
        dir.path(),
        &ci,
        &[
            ("CHAINSEAL_DRY_RUN", "true"),
            ("CHAINSEAL_SUBJECT_NAME", name),
            ("CHAINSEAL_SUBJECT_DIGEST", digest.as_str()),
            ("CHAINSEAL_GITHUB_OIDC_ISSUER", issuer),
            ("CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE", "true"),
        ],
    );
    let statement = dry_run_statement(&r);
    assert_github_schema(&statement);
    let expected = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": fixture["subject"],
        "predicateType": fixture["predicate"]["type"],
        "predicate": fixture["predicate"]["params"],
    });
    assert_eq!(
        statement, expected,
        "chainseal differs from actions/toolkit's snapshot"
    );
}

#[test]
fn a_foreign_github_oidc_issuer_needs_the_explicit_opt_in() {
    let Some(python) = tool("INTEROP_PYTHON", "GitHub OIDC issuer test") else {
        return;
    };
    // An earlier step writes `CHAINSEAL_GITHUB_OIDC_ISSUER=<its own issuer>` to
    // $GITHUB_ENV: tokens it mints would describe any repository. Refused before any
    // request, under GitHub Actions, unless the override says the issuer is meant.
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let (_double, info) = oidc_double(&python, dir.path(), "good");
    let ci = github_env_with_token(&info);
    let issuer = info["issuer"].as_str().expect("issuer").to_owned();
    let settings = [
        ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
        ("CHAINSEAL_GITHUB_OIDC_ISSUER", issuer.as_str()),
    ];
    for opt_in in [None, Some("false"), Some("")] {
        let mut env = settings.to_vec();
        env.extend(opt_in.map(|v| ("CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE", v)));
        let r = attest(dir.path(), &ci, &env);
        assert_error(&r, "CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE=true");
        assert!(r.stderr.contains(&issuer), "{}", r.stderr);
        assert!(!dir.path().join("attestations").exists(), "stored");
        assert!(
            !dir.path().join("claims-good.json.log").exists(),
            "a token was requested"
        );
    }
    // Confirmed: the double's tokens are verified and describe the build.
    let mut env = settings.to_vec();
    env.push(("CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE", "true"));
    env.push(("CHAINSEAL_DRY_RUN", "true"));
    let r = attest(dir.path(), &ci, &env);
    assert_eq!(dry_run_statement(&r), golden("github-oidc.statement.json"));
}

/// Every variable `chainseal attest` (the image's default command) reads.
fn attest_env_vars() -> Vec<String> {
    let mut vars: Vec<String> = chainseal::cli::command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    vars.sort();
    vars.dedup();
    vars
}

/// The `inputs.<id>` an expression in `runs.env` reads.
fn input_refs(value: &str) -> Vec<String> {
    value
        .match_indices("inputs.")
        .map(|(i, m)| {
            value[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn action_yml_pins_every_setting_and_maps_inputs_to_settings_the_binary_reads() {
    let text = std::fs::read_to_string(repo("action.yml")).expect("action.yml");
    let action: Value = serde_saphyr::from_str(&text).expect("action.yml is YAML");
    assert_eq!(action["runs"]["using"], "docker");
    let known = chainseal::cli::known_env_vars();
    let env = action["runs"]["env"].as_object().expect("runs.env");
    let inputs = action["inputs"].as_object().expect("inputs");
    // An earlier step can set any variable for the rest of the job through
    // $GITHUB_ENV, and a docker action inherits it unless `runs.env` sets it: every
    // setting `attest` reads is pinned, to an input or to "" (unset).
    let attest = attest_env_vars();
    assert!(attest.contains(&"CHAINSEAL_GITHUB_OIDC_ISSUER".to_owned()));
    let unpinned: Vec<&String> = attest.iter().filter(|v| !env.contains_key(*v)).collect();
    assert!(
        unpinned.is_empty(),
        "action.yml runs.env leaves {unpinned:?} to whatever an earlier step set: pin each to an input or \"\""
    );
    // Every variable set is one the binary reads, and is an input, empty, or a
    // constant the action owns.
    for (name, value) in env {
        assert!(
            known.contains(name),
            "runs.env sets {name}, which chainseal does not read"
        );
        let value = value.as_str().unwrap_or_default();
        for input in input_refs(value) {
            assert!(
                inputs.contains_key(&input),
                "{name} uses an undeclared input {input}"
            );
        }
        if !value.contains("${{") {
            assert!(
                value.is_empty() || name == "CHAINSEAL_SOURCE",
                "{name} is pinned to the constant `{value}`"
            );
        }
    }
    for input in inputs.keys() {
        let direct = format!("${{{{ inputs.{input} }}}}");
        let used = env
            .values()
            .filter(|v| v.as_str() == Some(direct.as_str()))
            .count();
        assert_eq!(used, 1, "input {input} is passed {used} times");
    }
    // The build is described as a GitHub Actions job, and a non-GitHub OIDC issuer
    // (GHES) is confirmed only when the `oidc-issuer` input names it.
    assert_eq!(env["CHAINSEAL_SOURCE"], "github");
    assert_eq!(
        env["CHAINSEAL_GITHUB_OIDC_ISSUER"],
        "${{ inputs.oidc-issuer }}"
    );
    assert_eq!(
        env["CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE"],
        "${{ inputs.oidc-issuer != '' }}"
    );
    for unset in [
        "CHAINSEAL_SUBJECTS",
        "CHAINSEAL_BUILDER_ID",
        "CHAINSEAL_RECORD",
        "CHAINSEAL_IDENTITY_TOKEN",
        "CHAINSEAL_DRY_RUN",
        "CHAINSEAL_KMS_ENDPOINT",
    ] {
        assert_eq!(env[unset], "", "{unset} must be pinned unset");
    }
    // actions/attest's subject inputs, and chainseal's own.
    for input in [
        "subject-path",
        "subject-name",
        "subject-digest",
        "subject-checksums",
        "push-to-registry",
        "show-summary",
        "key",
        "storage",
        "format",
    ] {
        assert!(inputs.contains_key(input), "input {input} missing");
    }
    // The declared outputs are the ones the binary writes to $GITHUB_OUTPUT.
    let outputs: Vec<&String> = action["outputs"]
        .as_object()
        .expect("outputs")
        .keys()
        .collect();
    let written = chainseal::outputs::Report {
        key: "k".into(),
        attestation_path: None,
        attestation_digest: "sha256:0".into(),
        subjects: vec!["a@sha256:1".into(), "b@sha256:2".into()],
        stored: vec!["x".into(), "y".into()],
        predicate_type: "p".into(),
        bundle_path: None,
        transparency: None,
        attestation_url: None,
        storage_record_ids: Vec::new(),
    }
    .github_outputs();
    let mut names = Vec::new();
    let mut lines = written.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            names.push(name.to_owned());
            lines.by_ref().find(|l| *l == delimiter);
        } else if let Some((name, _)) = line.split_once('=') {
            names.push(name.to_owned());
        }
    }
    names.sort();
    let mut declared: Vec<String> = outputs.into_iter().cloned().collect();
    declared.sort();
    assert_eq!(declared, names);
}

/// The environment the runner gives chainseal's docker action for a step `with:`
/// `inputs`: each input given or its default (`${{ github.token }}` is `token`),
/// put through `runs.env` as the runner evaluates it.
pub(crate) fn action_env(inputs: &[(&str, &str)], token: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo("action.yml")).expect("action.yml");
    let action: Value = serde_saphyr::from_str(&text).expect("action.yml is YAML");
    let declared = action["inputs"].as_object().expect("inputs");
    for (name, _) in inputs {
        assert!(
            declared.contains_key(*name),
            "action.yml has no input {name}"
        );
    }
    let input = |name: &str| -> String {
        match inputs.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => (*v).to_owned(),
            None => declared[name]["default"]
                .as_str()
                .unwrap_or_default()
                .replace("${{ github.token }}", token),
        }
    };
    action["runs"]["env"]
        .as_object()
        .expect("runs.env")
        .iter()
        .map(|(name, value)| {
            let value = value.as_str().unwrap_or_default();
            let refs = input_refs(value);
            let evaluated = match refs.as_slice() {
                [] => value.to_owned(),
                [one] if value == format!("${{{{ inputs.{one} }}}}") => input(one),
                [one] if value == format!("${{{{ inputs.{one} != '' }}}}") => {
                    (!input(one).is_empty()).to_string()
                }
                _ => panic!("{name}: the runner expression `{value}` is not evaluated here"),
            };
            (name.clone(), evaluated)
        })
        .collect()
}

/// An example: what it shows, its `with:` inputs, the predicate type and subject
/// names it signs.
type Example<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a [&'a str]);

/// actions/attest v4's documented examples, their `with:` inputs passed to
/// chainseal's action as they are: each runs, and signs what actions/attest would
/// sign. Here they sign with a local `key`: the default, keyless with the instance
/// the repository's visibility calls for as actions/attest, needs sigstore.dev or
/// GitHub's services (that default is the next test's).
#[test]
fn actions_attest_examples_run_with_chainseal_s_action() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let work = dir.path();
    std::fs::write(
        work.join("checksums.txt"),
        "b1f4d0a5e1a2f0f6d6a0a7c9e0a5d7b6e3f1c2a4b5c6d7e8f90a1b2c3d4e5f60  hello.tar.gz\n",
    )
    .expect("checksums");
    std::fs::write(
        work.join("sbom.spdx.json"),
        r#"{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "hello", "packages": []}"#,
    )
    .expect("sbom");
    std::fs::write(work.join("predicate.json"), r#"{"scan": "passed"}"#).expect("predicate");
    let key = repo("examples/demo.key").display().to_string();
    let image = "ghcr.io/octo-org/hello-service";
    let examples: &[Example] = &[
        (
            "a file",
            &[("subject-path", "dist/hello-linux-amd64")],
            "https://slsa.dev/provenance/v1",
            &["hello-linux-amd64"],
        ),
        (
            "globs, newline-separated",
            &[("subject-path", "dist/*-amd64\ndist/*-arm64")],
            "https://slsa.dev/provenance/v1",
            &["hello-linux-amd64", "hello-linux-arm64"],
        ),
        (
            "an image",
            &[("subject-name", image), ("subject-digest", IMAGE_DIGEST)],
            "https://slsa.dev/provenance/v1",
            &[image],
        ),
        (
            "a checksums file",
            &[("subject-checksums", "checksums.txt")],
            "https://slsa.dev/provenance/v1",
            &["hello.tar.gz"],
        ),
        (
            "an SBOM",
            &[
                ("subject-path", "dist/hello-linux-amd64"),
                ("sbom-path", "sbom.spdx.json"),
            ],
            "https://spdx.dev/Document/v2.3",
            &["hello-linux-amd64"],
        ),
        (
            "a custom predicate",
            &[
                ("subject-path", "dist/hello-linux-amd64"),
                ("predicate-type", "https://example.com/predicate/v1"),
                ("predicate-path", "predicate.json"),
            ],
            "https://example.com/predicate/v1",
            &["hello-linux-amd64"],
        ),
        (
            "an inline predicate",
            &[
                ("subject-path", "dist/hello-linux-amd64"),
                ("predicate-type", "https://example.com/predicate/v1"),
                ("predicate", "{}"),
            ],
            "https://example.com/predicate/v1",
            &["hello-linux-amd64"],
        ),
        (
            "show-summary off",
            &[("subject-path", "dist/*"), ("show-summary", "false")],
            "https://slsa.dev/provenance/v1",
            &["hello-linux-amd64", "hello-linux-arm64"],
        ),
    ];
    for (what, with, predicate_type, subjects) in examples {
        let mut inputs = with.to_vec();
        inputs.push(("key", key.as_str()));
        let mut env = env_file("github.env");
        env.extend(action_env(&inputs, "ghs_jobtoken"));
        env.push(("CHAINSEAL_OUTPUT".into(), "json".into()));
        let summary = work.join(format!("summary-{}.md", what.replace(' ', "-")));
        env.push(("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()));
        let mut cmd = chainseal(work);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{what}: {}", r.stderr);
        let summary_wanted = !with.contains(&("show-summary", "false"));
        assert_eq!(summary.exists(), summary_wanted, "{what}: the job summary");
        let report: Value = serde_json::from_str(&r.stdout).expect("JSON report");
        assert_eq!(report["predicate-type"], *predicate_type, "{what}");
        let mut names: Vec<String> = report["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .map(|s| {
                s.as_str()
                    .expect("s")
                    .split_once('@')
                    .expect("@")
                    .0
                    .to_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names, *subjects, "{what}");
        let mut check = chainseal(work);
        check
            .args(["verify", "--key"])
            .arg(repo("examples/demo.pub"))
            .args(["--type", predicate_type])
            .arg(report["attestation-path"].as_str().expect("path"));
        let v = run(&mut check);
        assert_eq!(v.code, 0, "{what}: {}{}", v.stdout, v.stderr);
    }
}

/// A loopback HTTPS proxy that records each `CONNECT host:port` it is asked for and
/// refuses it (502): where the binary would have gone, without leaving the machine.
fn refusing_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = std::io::BufReader::new(&stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() {
                log.lock().expect("log").push(line.trim().to_owned());
            }
            // The rest of the request head, then the refusal.
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = (&stream).write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        }
    });
    (url, seen)
}

/// The action with no `key` input signs keyless, as actions/attest always does, with
/// the Sigstore instance the repository's visibility calls for: GitHub's (Fulcio and
/// its timestamp authority, no public log) unless the event payload says the
/// repository is public. The signing services are reached through a proxy that
/// records where the binary went and refuses to go further (they are not on this
/// machine): the run fails, naming the service, and stores nothing.
#[test]
fn the_action_signs_keyless_by_default_with_the_instance_the_visibility_calls_for() {
    let Some(python) = tool("INTEROP_PYTHON", "the action's default Sigstore instance") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let work = dir.path();
    artifacts(work);
    let (_double, info) = oidc_double(&python, work, "good");
    let issuer = info["issuer"].as_str().expect("issuer").to_owned();
    // The action's step in this job: its inputs, then `extra` variables.
    let run_action = |inputs: &[(&str, &str)], extra: &[(&str, String)]| {
        let mut env = github_env_with_token(&info);
        env.extend(action_env(inputs, "ghs_jobtoken"));
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        run(chainseal(work).envs(env.iter().map(|(k, v)| (k, v))))
    };
    let cases = [
        (Some("private"), "fulcio.githubapp.com:443", "github"),
        (Some("internal"), "fulcio.githubapp.com:443", "github"),
        (None, "fulcio.githubapp.com:443", "github"),
        (Some("public"), "fulcio.sigstore.dev:443", "public-good"),
    ];
    for (visibility, host, instance) in cases {
        let event = work.join("event.json");
        match visibility {
            Some(v) => std::fs::write(
                &event,
                serde_json::json!({"repository": {"full_name": "octo-org/hello-service", "visibility": v}})
                    .to_string(),
            )
            .expect("event"),
            None => std::fs::write(&event, r#"{"ref": "refs/heads/main"}"#).expect("event"),
        }
        let (proxy, seen) = refusing_proxy();
        let r = run_action(
            &[("subject-path", "dist/*"), ("oidc-issuer", issuer.as_str())],
            &[
                ("GITHUB_EVENT_PATH", event.display().to_string()),
                ("HTTPS_PROXY", proxy.clone()),
                ("https_proxy", proxy),
            ],
        );
        let what = format!("visibility {visibility:?}");
        assert_ne!(r.code, 0, "{what}: nothing can be signed: {}", r.stdout);
        let fulcio = format!("https://{}", host.trim_end_matches(":443"));
        assert!(r.stderr.contains(&fulcio), "{what}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("with the {instance} Sigstore instance"))
                || (visibility.is_none() && r.stderr.contains("visibility is unknown")),
            "{what}: {}",
            r.stderr
        );
        let seen = seen.lock().expect("log").clone();
        assert_eq!(
            seen.first().map(String::as_str),
            Some(format!("CONNECT {host} HTTP/1.1").as_str()),
            "{what}: the first service reached"
        );
        assert!(
            !work.join("attestations").exists(),
            "{what}: nothing is stored when nothing was signed"
        );
    }
    // Any service setting is the user's choice: no visibility is read, and a
    // conflicting `sigstore` input is refused before anything is signed.
    let r = run_action(
        &[
            ("subject-path", "dist/*"),
            ("sigstore", "github"),
            ("rekor-url", "https://rekor.example.com"),
        ],
        &[],
    );
    assert_error(&r, "CHAINSEAL_SIGSTORE");
    assert!(r.stderr.contains("CHAINSEAL_REKOR_URL"), "{}", r.stderr);
    let r = run_action(
        &[
            ("subject-path", "dist/*"),
            ("sigstore", "github"),
            ("transparency", "on"),
        ],
        &[],
    );
    assert_error(&r, "GitHub's Sigstore instance");
    assert!(
        r.stderr.contains("CHAINSEAL_SIGSTORE=public-good"),
        "{}",
        r.stderr
    );
    // `auto` has no visibility to go by outside a GitHub job.
    let r = attest(
        work,
        &env_file("gitlab.env"),
        &[
            ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
            ("CHAINSEAL_SIGSTORE", "auto"),
        ],
    );
    assert_error(&r, "CHAINSEAL_SIGSTORE=auto");
}

/// The one Sigstore bundle file below `dir/attestations`.
pub(crate) fn the_bundle(dir: &Path) -> std::path::PathBuf {
    let bundles: Vec<_> = std::fs::read_dir(dir.join("attestations"))
        .expect("attestations")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".sigstore.json"))
        .collect();
    let [bundle] = bundles.as_slice() else {
        panic!("expected one bundle, found {bundles:?}");
    };
    bundle.clone()
}

/// `chainseal verify` of a keyless bundle for `identity` from `issuer`, against the
/// Sigstore double's trust root.
fn verify_keyless(
    dir: &Path,
    sigstore_url: &str,
    bundle: &Path,
    identity: &str,
    issuer: &str,
) -> Run {
    let root = dir.join("trusted_root.json");
    common::download(&format!("{sigstore_url}/trusted_root.json"), &root);
    run(chainseal(dir)
        .args(["verify", "--certificate-identity", identity])
        .args(["--certificate-oidc-issuer", issuer, "--trusted-root"])
        .arg(&root)
        .arg(bundle))
}

#[test]
fn keyless_in_github_actions_and_gitlab_ci_uses_their_id_tokens() {
    let Some(python) = tool("INTEROP_PYTHON", "keyless in CI") else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double("keyless in CI") else {
        return;
    };
    let sigstore_env = [
        ("CHAINSEAL_KEY", "keyless"),
        ("CHAINSEAL_FULCIO_URL", url.as_str()),
        ("CHAINSEAL_REKOR_URL", url.as_str()),
        ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
    ];

    // GitHub Actions: one token for the build's claims (audience `nobody`), one for
    // Fulcio (audience `sigstore`).
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let (_double, info) = oidc_double(&python, dir.path(), "good");
    let mut ci = github_env_with_token(&info);
    let output = dir.path().join("github_output");
    ci.push(("GITHUB_OUTPUT".into(), output.display().to_string()));
    let issuer = info["issuer"].as_str().expect("issuer").to_owned();
    let mut env = sigstore_env.to_vec();
    env.push(("CHAINSEAL_GITHUB_OIDC_ISSUER", issuer.as_str()));
    env.push(("CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE", "true"));
    let r = attest(dir.path(), &ci, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log = std::fs::read_to_string(dir.path().join("claims-good.json.log")).expect("log");
    assert!(log.contains("audience=sigstore"), "{log}");
    assert!(log.contains("audience=nobody"), "{log}");
    // Fulcio certifies the workflow that signs (`job_workflow_ref`, here a reusable
    // workflow of another repository), not the token's `sub`.
    let signer = format!(
        "https://github.com/{}",
        claims()["job_workflow_ref"]
            .as_str()
            .expect("job_workflow_ref")
    );
    let bundle = the_bundle(dir.path());
    let v = verify_keyless(dir.path(), &url, &bundle, &signer, &issuer);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // An independent verifier: sigstore-python, offline, against the double's root.
    let amd64 = <sha2::Sha256 as sha2::Digest>::digest(b"binary one");
    let (ok, said) = common::sigstore_python_verifies(
        &python,
        &url,
        dir.path(),
        &bundle,
        (&signer, &issuer),
        &format!("sha256:{}", hex::encode(amd64)),
    );
    assert!(ok, "sigstore-python rejected the keyless bundle: {said}");
    let outputs = std::fs::read_to_string(&output).expect("GITHUB_OUTPUT written");
    assert!(
        outputs.contains(&format!(
            "transparency-log-entry={url}/api/v1/log/entries?logIndex="
        )),
        "{outputs}"
    );
    assert!(outputs.contains("bundle-path="), "{outputs}");

    // GitLab CI: the job's `id_tokens` entry.
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let identity = "https://gitlab.com/octo-org/hello-service//.gitlab-ci.yml@refs/heads/main";
    let mut ci = env_file("gitlab.env");
    ci.push((
        "SIGSTORE_ID_TOKEN".into(),
        common::identity_token(serde_json::json!({
            "iss": "https://gitlab.com", "sub": identity, "aud": "sigstore"
        })),
    ));
    let r = attest(dir.path(), &ci, &sigstore_env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = the_bundle(dir.path());
    let v = verify_keyless(dir.path(), &url, &bundle, identity, "https://gitlab.com");
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let dotenv = std::fs::read_to_string(dir.path().join("chainseal.env")).expect("dotenv");
    assert!(
        dotenv.contains("CHAINSEAL_TRANSPARENCY_LOG_ENTRY=http"),
        "{dotenv}"
    );
}

/// A release job whose own workflow signs (`job_workflow_ref` in the repository, as
/// when `actions/attest-build-provenance` runs in `release.yml` itself).
pub(crate) fn release_job_claims() -> Value {
    let mut c = claims();
    c["job_workflow_ref"] = c["workflow_ref"].clone();
    c["job_workflow_sha"] = c["workflow_sha"].clone();
    c["repository_visibility"] = "public".into();
    c
}

/// gh kept offline: the home, config, cache and state directories are `dir/gh-home`
/// (gh never reads or writes the real ones), no token, no update checks,
/// terminal-style output (`GH_FORCE_TTY`: gh's progress and failure lines), and
/// every proxy points at a closed port, so a request gh made (GitHub's API, a TUF
/// repository) would fail instead of reaching anything.
pub(crate) fn gh_offline(gh: &Path, dir: &Path) -> Command {
    let home = dir.join("gh-home");
    std::fs::create_dir_all(&home).expect("gh home");
    const NOWHERE: &str = "http://127.0.0.1:9";
    let mut cmd = Command::new(gh);
    cmd.env_clear()
        .env("HOME", &home)
        .env("GH_CONFIG_DIR", home.join("config"))
        .env("XDG_CONFIG_HOME", home.join("xdg-config"))
        .env("XDG_CACHE_HOME", home.join("xdg-cache"))
        .env("XDG_STATE_HOME", home.join("xdg-state"))
        .env("XDG_DATA_HOME", home.join("xdg-data"))
        .env("GH_NO_UPDATE_NOTIFIER", "1")
        .env("GH_NO_EXTENSION_UPDATE_NOTIFIER", "1")
        .env("GH_PROMPT_DISABLED", "1")
        .env("NO_COLOR", "1")
        // gh says what it checked (and which check failed) only to a terminal.
        .env("GH_FORCE_TTY", "120")
        .env("HTTPS_PROXY", NOWHERE)
        .env("HTTP_PROXY", NOWHERE);
    cmd
}

/// The Sigstore double's (at `url`) trusted root as gh takes it: JSON lines (one per
/// line, each ending in a newline, as `gh attestation trusted-root` writes them), at
/// `dir/trusted_root.jsonl`; the double serves one pretty-printed.
pub(crate) fn gh_trusted_root(dir: &Path, url: &str) {
    let root = dir.join("trusted_root.json");
    common::download(&format!("{url}/trusted_root.json"), &root);
    let compact: Value =
        serde_json::from_slice(&std::fs::read(&root).expect("read")).expect("JSON");
    std::fs::write(dir.join("trusted_root.jsonl"), format!("{compact}\n")).expect("write");
}

/// `gh attestation verify <artifact> --bundle <bundle> --custom-trusted-root <root>`
/// with `args`, offline ([`gh_offline`]).
fn gh_verify(gh: &Path, dir: &Path, artifact: &Path, bundle: &Path, args: &[&str]) -> Run {
    let mut cmd = gh_offline(gh, dir);
    cmd.args(["attestation", "verify"])
        .arg(artifact)
        .arg("--bundle")
        .arg(bundle)
        .arg("--custom-trusted-root")
        .arg(dir.join("trusted_root.jsonl"))
        .args(args);
    run(&mut cmd)
}

/// gh refused: exit 1, with each of `words` (gh's own) on stderr.
pub(crate) fn assert_gh_refused(r: &Run, what: &str, words: &[&str]) {
    assert_eq!(
        r.code, 1,
        "{what}: gh did not refuse: {}{}",
        r.stdout, r.stderr
    );
    for w in words {
        assert!(r.stderr.contains(w), "{what}: `{w}` not in: {}", r.stderr);
    }
    assert!(!r.stderr.contains("Verification succeeded"), "{}", r.stderr);
}

/// A copy of the bundle at `bundle` (as `dir/<name>.json`) with one bit of the DSSE
/// `field` (`sig` of the first signature, or `payload`) flipped at `byte`.
fn flipped(dir: &Path, bundle: &Path, name: &str, field: &str, byte: usize) -> PathBuf {
    let mut b: Value = serde_json::from_slice(&std::fs::read(bundle).expect("read")).expect("JSON");
    let slot = match field {
        "sig" => &mut b["dsseEnvelope"]["signatures"][0]["sig"],
        _ => &mut b["dsseEnvelope"]["payload"],
    };
    *slot = crate::common::flip_bit_b64(slot.as_str().expect(field), byte).into();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, b.to_string()).expect("write");
    path
}

/// gh (`GH_BIN`, scripts/peers) verifies, offline, what the GitHub Actions front door
/// signs keyless: `gh attestation verify <file> --bundle … --custom-trusted-root <the
/// Sigstore double's trust root>` with `--owner`, `--repo` and `--signer-workflow`,
/// checking the Fulcio chain, the Rekor entry (gh's custom-root policy: one tlog
/// entry, one observer timestamp), the SAN (the signing workflow), the GitHub
/// certificate extensions (issuer, source repository and owner URIs) and the
/// Statement (predicate type SLSA v1, the file's digest a subject). It refuses a
/// bundle with a flipped signature or payload bit, another owner or repository,
/// another signer workflow and another file, in its own words.
#[test]
fn gh_attestation_verify_accepts_the_github_front_door_keyless_bundles() {
    let Some(gh) = tool("GH_BIN", "gh attestation verify") else {
        return;
    };
    let Some(python) = tool("INTEROP_PYTHON", "gh attestation verify") else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double("gh attestation verify") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    gh_trusted_root(dir.path(), &url);
    let keyless = [
        ("CHAINSEAL_KEY", "keyless"),
        ("CHAINSEAL_FULCIO_URL", url.as_str()),
        ("CHAINSEAL_REKOR_URL", url.as_str()),
        ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
    ];

    // The front door as the action runs it: ID tokens from the runtime (the loopback
    // GitHub OIDC double, its issuer confirmed), one for the claims, one for Fulcio.
    let (_oidc, info) = oidc_double_signing(&python, dir.path(), "good", &release_job_claims());
    let issuer = info["issuer"].as_str().expect("issuer").to_owned();
    let mut env = keyless.to_vec();
    env.push(("CHAINSEAL_GITHUB_OIDC_ISSUER", issuer.as_str()));
    env.push(("CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE", "true"));
    let r = attest(dir.path(), &github_env_with_token(&info), &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = dir.path().join("runtime.sigstore.json");
    std::fs::rename(the_bundle(dir.path()), &bundle).expect("mv");
    std::fs::remove_dir_all(dir.path().join("attestations")).expect("rm");
    let amd64 = dir.path().join("dist/hello-linux-amd64");
    let arm64 = dir.path().join("dist/hello-linux-arm64");
    let workflow = "octo-org/hello-service/.github/workflows/release.yml";
    let loopback = ["--cert-oidc-issuer", issuer.as_str()];
    let passes = |artifact: &Path, bundle: &Path, args: &[&str]| {
        let r = gh_verify(&gh, dir.path(), artifact, bundle, args);
        assert_eq!(r.code, 0, "gh refused {args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("✓ Verification succeeded!"),
            "{}",
            r.stderr
        );
        r
    };
    let with = |args: &[&'static str]| -> Vec<&str> { [&loopback[..], args].concat() };
    let ok = passes(&amd64, &bundle, &with(&["--owner", "octo-org"]));
    // gh reads the build and signer workflows from the certificate's extensions.
    for line in [
        "Build repo:..... octo-org/hello-service",
        "Build workflow:. .github/workflows/release.yml@refs/tags/v1.4.0",
        "Signer repo:.... octo-org/hello-service",
    ] {
        assert!(ok.stderr.contains(line), "`{line}` not in {}", ok.stderr);
    }
    passes(
        &arm64,
        &bundle,
        &with(&["--repo", "octo-org/hello-service"]),
    );
    let signer = ["--signer-workflow", workflow];
    passes(
        &amd64,
        &bundle,
        &[&with(&["--repo", "octo-org/hello-service"])[..], &signer].concat(),
    );
    passes(
        &amd64,
        &bundle,
        &[&with(&["--owner", "octo-org"])[..], &signer].concat(),
    );

    // Refusals, in gh's words.
    let sigstore_failed = [
        "✗ Sigstore verification failed",
        r#"verifying with issuer "sigstore.mock""#,
    ];
    let refused = |what: &str, artifact: &Path, bundle: &Path, args: &[&str], words: &[&str]| {
        let r = gh_verify(&gh, dir.path(), artifact, bundle, args);
        assert_gh_refused(&r, what, words);
    };
    let owner = with(&["--owner", "octo-org"]);
    let bad_sig = flipped(dir.path(), &bundle, "bad-sig", "sig", 20);
    refused(
        "a flipped signature bit",
        &amd64,
        &bad_sig,
        &owner,
        &sigstore_failed,
    );
    let bad_payload = flipped(dir.path(), &bundle, "bad-payload", "payload", 40);
    refused(
        "a flipped payload bit",
        &amd64,
        &bad_payload,
        &owner,
        &sigstore_failed,
    );
    let other = dir.path().join("hello-linux-riscv64");
    std::fs::write(&other, b"binary three").expect("other");
    refused("another file", &other, &bundle, &owner, &sigstore_failed);
    // The SAN (the signing workflow) is checked first: another owner, repository or
    // signer workflow fails there.
    refused(
        "another owner",
        &amd64,
        &bundle,
        &with(&["--owner", "mallory"]),
        &sigstore_failed,
    );
    refused(
        "another repository",
        &amd64,
        &bundle,
        &with(&["--repo", "octo-org/other-service"]),
        &sigstore_failed,
    );
    refused(
        "another signer workflow",
        &amd64,
        &bundle,
        &with(&[
            "--owner",
            "octo-org",
            "--signer-workflow",
            "octo-org/hello-service/.github/workflows/ci.yml",
        ]),
        &sigstore_failed,
    );
    // The certificate's GitHub extensions, with a SAN that matches: another owner or
    // repository, and GitHub's issuer where the loopback one certified.
    refused(
        "another owner (extension)",
        &amd64,
        &bundle,
        &with(&["--owner", "mallory", "--signer-workflow", workflow]),
        &[
            "✗ Policy verification failed",
            "expected SourceRepositoryOwnerURI to be https://github.com/mallory, got https://github.com/octo-org",
        ],
    );
    refused(
        "another repository (extension)",
        &amd64,
        &bundle,
        &with(&[
            "--repo",
            "octo-org/other-service",
            "--signer-workflow",
            workflow,
        ]),
        &[
            "✗ Policy verification failed",
            "expected SourceRepositoryURI to be https://github.com/octo-org/other-service, got https://github.com/octo-org/hello-service",
        ],
    );
    refused(
        "GitHub's issuer",
        &amd64,
        &bundle,
        &["--owner", "octo-org"],
        &[
            "✗ Policy verification failed",
            &format!(
                "expected Issuer to be https://token.actions.githubusercontent.com, got {issuer}"
            ),
        ],
    );

    // GitHub's own issuer, gh's defaults: the job's variables describe the build and
    // the token (issued by token.actions.githubusercontent.com, signed by the test
    // issuer key the double pins for it) carries the claims GitHub puts in one.
    let ci = env_file("github.env");
    let var = |name: &str| {
        ci.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .expect(name)
    };
    let token = common::identity_token(serde_json::json!({
        "iss": chainseal::oidc::GITHUB_ISSUER,
        "aud": "sigstore",
        "sub": format!("repo:{}:ref:{}", var("GITHUB_REPOSITORY"), var("GITHUB_REF")),
        "ref": var("GITHUB_REF"),
        "sha": var("GITHUB_SHA"),
        "repository": var("GITHUB_REPOSITORY"),
        "repository_owner": var("GITHUB_REPOSITORY_OWNER"),
        "repository_id": var("GITHUB_REPOSITORY_ID"),
        "repository_owner_id": var("GITHUB_REPOSITORY_OWNER_ID"),
        "repository_visibility": "public",
        "run_id": var("GITHUB_RUN_ID"),
        "run_attempt": var("GITHUB_RUN_ATTEMPT"),
        "event_name": var("GITHUB_EVENT_NAME"),
        "workflow": var("GITHUB_WORKFLOW"),
        "workflow_ref": var("GITHUB_WORKFLOW_REF"),
        "workflow_sha": var("GITHUB_WORKFLOW_SHA"),
        "job_workflow_ref": var("GITHUB_WORKFLOW_REF"),
        "job_workflow_sha": var("GITHUB_WORKFLOW_SHA"),
        "runner_environment": var("RUNNER_ENVIRONMENT"),
    }));
    let mut env = keyless.to_vec();
    env.push(("CHAINSEAL_IDENTITY_TOKEN", token.as_str()));
    let r = attest(dir.path(), &ci, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = the_bundle(dir.path());
    passes(
        &amd64,
        &bundle,
        &["--owner", "octo-org", "--deny-self-hosted-runners"],
    );
    passes(
        &arm64,
        &bundle,
        &[
            "--repo",
            "octo-org/hello-service",
            "--signer-workflow",
            workflow,
        ],
    );
    let ok = passes(
        &amd64,
        &bundle,
        &[
            "--repo",
            "octo-org/hello-service",
            "--source-ref",
            "refs/heads/main",
            "--source-digest",
            &var("GITHUB_SHA"),
            "--signer-digest",
            &var("GITHUB_WORKFLOW_SHA"),
            "--format",
            "json",
        ],
    );
    // gh's JSON: the certificate summary it checked and the Statement it read.
    let verified: Value = serde_json::from_str(&ok.stdout).expect("gh JSON");
    let result = &verified[0]["verificationResult"];
    let cert = &result["signature"]["certificate"];
    assert_eq!(
        cert["subjectAlternativeName"],
        format!("https://github.com/{}", var("GITHUB_WORKFLOW_REF"))
    );
    assert_eq!(
        cert["runInvocationURI"],
        "https://github.com/octo-org/hello-service/actions/runs/11223344556/attempts/2"
    );
    assert_eq!(
        result["statement"]["predicateType"],
        "https://slsa.dev/provenance/v1"
    );
    refused(
        "another source ref",
        &amd64,
        &bundle,
        &["--owner", "octo-org", "--source-ref", "refs/heads/dev"],
        &[
            "✗ Policy verification failed",
            "expected SourceRepositoryRef to be refs/heads/dev, got refs/heads/main",
        ],
    );
}

/// Issue #25: with no subject input, a GitHub job's subjects come from the runner's
/// `GITHUB_ARTIFACTS_LIST`, as actions/attest v4 reads it; a subject input wins over it,
/// and a list chainseal cannot read is an error naming it.
#[test]
fn github_subjects_come_from_the_artifacts_list_when_none_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let list = dir.path().join("artifacts.json");
    let sha512 = "ab".repeat(64);
    std::fs::write(
        &list,
        serde_json::json!({"version": 1, "subjects": [
            {"name": "hello-linux-amd64", "digest": format!("sha256:{}", "1f".repeat(32)), "kind": "file"},
            {"name": "ghcr.io/octo-org/hello-service", "digest": IMAGE_DIGEST, "kind": "oci"},
            {"name": "hello.tar", "digest": format!("sha512:{sha512}"), "kind": "file"},
        ]})
        .to_string(),
    )
    .expect("write");
    let mut ci = env_file("github.env");
    ci.push(("GITHUB_ARTIFACTS_LIST".into(), list.display().to_string()));
    let r = attest(dir.path(), &ci, &[("CHAINSEAL_DRY_RUN", "true")]);
    let statement = dry_run_statement(&r);
    let subjects = statement["subject"].as_array().expect("subjects");
    assert_eq!(subjects.len(), 3, "{statement:#}");
    assert_eq!(subjects[1]["name"], "ghcr.io/octo-org/hello-service");
    assert_eq!(subjects[2]["digest"]["sha512"], sha512.as_str());
    // A subject input wins: the list is not read.
    artifacts(dir.path());
    let r = attest(
        dir.path(),
        &ci,
        &[
            ("CHAINSEAL_DRY_RUN", "true"),
            ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
        ],
    );
    let named = dry_run_statement(&r);
    assert!(
        named["subject"]
            .as_array()
            .expect("subjects")
            .iter()
            .all(|s| s["name"] != "ghcr.io/octo-org/hello-service"),
        "{named:#}"
    );
    // A list of another version, or with a bad digest: an error naming the variable.
    for (text, says) in [
        (r#"{"version": 2, "subjects": []}"#, "version 2"),
        (
            r#"{"version": 1, "subjects": [{"name": "a", "digest": "md5:00", "kind": "file"}]}"#,
            "GITHUB_ARTIFACTS_LIST",
        ),
        ("not json", "GITHUB_ARTIFACTS_LIST"),
    ] {
        std::fs::write(&list, text).expect("write");
        let r = attest(dir.path(), &ci, &[("CHAINSEAL_DRY_RUN", "true")]);
        assert_error(&r, says);
    }
}

/// Issue #25: actions/attest v4's custom and SBOM modes, through the action's inputs
/// (`CHAINSEAL_PREDICATE*`, `CHAINSEAL_SBOM_PATH`): the build's subjects with the given
/// predicate; bad inputs are errors naming the setting.
#[test]
fn custom_predicates_and_sboms_replace_provenance_for_the_same_subjects() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let ci = env_file("github.env");
    let subjects = ("CHAINSEAL_SUBJECT_PATH", "dist/*");
    let r = attest(
        dir.path(),
        &ci,
        &[
            ("CHAINSEAL_DRY_RUN", "true"),
            subjects,
            (
                "CHAINSEAL_PREDICATE_TYPE",
                "https://example.com/test-result/v1",
            ),
            (
                "CHAINSEAL_PREDICATE",
                r#"{"passed": true, "suite": "unit"}"#,
            ),
        ],
    );
    let custom = dry_run_statement(&r);
    assert_eq!(
        custom["predicateType"],
        "https://example.com/test-result/v1"
    );
    assert_eq!(
        custom["predicate"],
        serde_json::json!({"passed": true, "suite": "unit"})
    );
    let provenance = dry_run_statement(&attest(
        dir.path(),
        &ci,
        &[("CHAINSEAL_DRY_RUN", "true"), subjects],
    ));
    assert_eq!(
        custom["subject"], provenance["subject"],
        "the same subjects"
    );
    // An SBOM, signed and stored, verified as SPDX.
    let sbom = dir.path().join("sbom.spdx.json");
    std::fs::write(
        &sbom,
        r#"{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "hello"}"#,
    )
    .expect("write");
    let out = dir.path().join("out");
    let r = attest(
        dir.path(),
        &ci,
        &[
            subjects,
            ("CHAINSEAL_SBOM_PATH", sbom.to_str().expect("utf-8")),
            ("CHAINSEAL_STORAGE", out.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stored = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(".intoto.jsonl"))
        .expect("an envelope");
    let v = run(chainseal(dir.path())
        .args(["verify", "--type", "spdx", "--key"])
        .arg(repo("examples/demo.pub"))
        .arg(&stored));
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.contains("https://spdx.dev/Document/v2.3"),
        "{}",
        v.stdout
    );
    // Bad inputs name the setting.
    let not_object = dir.path().join("list.json");
    std::fs::write(&not_object, "[1, 2]").expect("write");
    for (env, says) in [
        (
            vec![("CHAINSEAL_PREDICATE", r#"{"a": 1}"#)],
            "the predicate type is missing",
        ),
        (
            vec![("CHAINSEAL_PREDICATE_TYPE", "https://example.com/p")],
            "the predicate is missing",
        ),
        (
            vec![
                ("CHAINSEAL_PREDICATE_TYPE", "not a uri"),
                ("CHAINSEAL_PREDICATE", "{}"),
            ],
            "must be a URI",
        ),
        (
            vec![
                ("CHAINSEAL_PREDICATE_TYPE", "https://example.com/p"),
                (
                    "CHAINSEAL_PREDICATE_PATH",
                    not_object.to_str().expect("utf-8"),
                ),
            ],
            "`CHAINSEAL_PREDICATE_PATH`: the predicate must be a JSON object",
        ),
        (
            vec![("CHAINSEAL_SBOM_PATH", not_object.to_str().expect("utf-8"))],
            "`CHAINSEAL_SBOM_PATH`",
        ),
    ] {
        let mut env = env;
        env.push(subjects);
        env.push(("CHAINSEAL_DRY_RUN", "true"));
        let r = attest(dir.path(), &ci, &env);
        assert_error(&r, says);
    }
}

/// Issue #25: the custom and SBOM modes work for a Tekton record too: the run's
/// subjects (its image), the given predicate.
#[test]
fn a_tekton_record_can_carry_an_sbom_instead_of_provenance() {
    let dir = tempfile::tempdir().expect("tmp");
    let sbom = dir.path().join("bom.json");
    std::fs::write(
        &sbom,
        r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}"#,
    )
    .expect("write");
    let provenance = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_DRY_RUN", "true"));
    let provenance = dry_run_statement(&provenance);
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_DRY_RUN", "true")
        .env("CHAINSEAL_SBOM_PATH", &sbom));
    let statement = dry_run_statement(&r);
    assert_eq!(statement["predicateType"], "https://cyclonedx.org/bom");
    assert_eq!(statement["predicate"]["bomFormat"], "CycloneDX");
    assert_eq!(statement["subject"], provenance["subject"]);
}
