//! `chainseal verify` policy (issue #23): flags and policy files with CEL rules over
//! Tekton Chains' own provenance (v1.0 and v0.2), our GitHub and GitLab outputs, and
//! keyless certificates from the Sigstore double; Verification Summary Attestations
//! checked by python securesystemslib and slsa-verifier `verify-vsa`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{self, chainseal, repo, run, tool};

/// Tekton Chains `slsa/v2alpha4` (SLSA v1.0, buildType `…/chains/v2/slsa`).
const TEKTON_V1: &str = "tests/fixtures/e2e/expected/v2alpha4/pipeline-output-image.json";
/// Tekton Chains `slsa/v1` (SLSA v0.2, buildType `tekton.dev/v1/PipelineRun`).
const TEKTON_V02: &str = "tests/fixtures/e2e/expected/v1/pipeline-output-image.json";
/// Our GitHub Actions output (buildType `workflow/v1`).
const GITHUB: &str = "tests/fixtures/ci/github.statement.json";
/// Our GitLab output (chainseal's `gitlab-ci-v1`).
const GITLAB: &str = "tests/fixtures/ci/gitlab.statement.json";

fn read_json(rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo(rel)).expect("fixture")).expect("JSON")
}

/// `statement` signed with the demo key into `dir/name.intoto.jsonl`.
fn signed(dir: &Path, name: &str, statement: &Value) -> PathBuf {
    let path = dir.join(format!("{name}.intoto.jsonl"));
    std::fs::write(&path, common::demo_envelope(statement) + "\n").expect("write");
    path
}

/// `chainseal verify --key demo.pub --format json ARGS FILE`: the exit code and the
/// JSON report.
fn verify_json(dir: &Path, file: &Path, args: &[&str]) -> (i32, Value, String) {
    let r = run(chainseal(dir)
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .args(["--format", "json"])
        .args(args)
        .arg(file));
    let report = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, report, r.stderr)
}

/// The rules of the only attestation of a report.
fn rules(report: &Value) -> Vec<(String, String, String)> {
    report["attestations"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().expect("rule").to_owned(),
                r["status"].as_str().expect("status").to_owned(),
                r["observed"].as_str().expect("observed").to_owned(),
            )
        })
        .collect()
}

struct Case {
    fixture: &'static str,
    /// Flags every one of which holds.
    holds: Vec<(&'static str, String)>,
    /// A flag with a value that does not hold, and what is observed instead.
    fails: Vec<(&'static str, &'static str, &'static str)>,
    /// A flag the buildType cannot answer, and what the message says.
    unanswerable: Vec<(&'static str, &'static str, &'static str)>,
}

fn cases() -> Vec<Case> {
    let github = read_json(GITHUB);
    let gh_commit = github
        .pointer("/predicate/buildDefinition/resolvedDependencies/0/digest/gitCommit")
        .and_then(Value::as_str)
        .expect("commit")
        .to_owned();
    let gitlab = read_json(GITLAB);
    let gl_commit = gitlab
        .pointer("/predicate/buildDefinition/resolvedDependencies/0/digest/gitCommit")
        .and_then(Value::as_str)
        .expect("commit")
        .to_owned();
    let gl_builder = gitlab
        .pointer("/predicate/runDetails/builder/id")
        .and_then(Value::as_str)
        .expect("builder")
        .to_owned();
    let gl_source = gitlab
        .pointer("/predicate/buildDefinition/externalParameters/source")
        .and_then(Value::as_str)
        .expect("source")
        .to_owned();
    let gh_builder = github
        .pointer("/predicate/runDetails/builder/id")
        .and_then(Value::as_str)
        .expect("builder")
        .to_owned();
    let gh_ref = github
        .pointer("/predicate/buildDefinition/externalParameters/workflow/ref")
        .and_then(Value::as_str)
        .expect("ref")
        .to_owned();
    let gh_repo = github
        .pointer("/predicate/buildDefinition/externalParameters/workflow/repository")
        .and_then(Value::as_str)
        .expect("repository")
        .to_owned();
    let gh_path = github
        .pointer("/predicate/buildDefinition/externalParameters/workflow/path")
        .and_then(Value::as_str)
        .expect("path")
        .to_owned();
    vec![
        Case {
            fixture: TEKTON_V1,
            holds: vec![
                ("--builder-id", "https://tekton.dev/chains/v2".into()),
                ("--build-type", "https://tekton.dev/chains/v2/slsa".into()),
                ("--source-uri", "my-git-url".into()),
                ("--source-uri", "git+https://my-git-url.git".into()),
                ("--source-digest", "sha1:my-git-commit".into()),
                ("--param", "CHAINS-GIT_URL=https://my-git-url".into()),
            ],
            fails: vec![
                (
                    "--builder-id",
                    "https://evil.example",
                    "https://tekton.dev/chains/v2",
                ),
                ("--source-uri", "github.com/acme/app", "my-git-url"),
                ("--source-digest", "0123abc", "my-git-commit"),
                (
                    "--param",
                    "CHAINS-GIT_URL=https://evil",
                    "https://my-git-url",
                ),
                ("--param", "NOPE=x", "(not set)"),
            ],
            unanswerable: vec![(
                "--source-ref",
                "main",
                "records the source's commit, not its ref",
            )],
        },
        Case {
            fixture: TEKTON_V02,
            holds: vec![
                ("--builder-id", "https://tekton.dev/chains/v2".into()),
                ("--build-type", "tekton.dev/v1/PipelineRun".into()),
                ("--source-uri", "https://my-git-url".into()),
                ("--source-digest", "my-git-commit".into()),
                ("--param", "CHAINS-GIT_COMMIT=my-git-commit".into()),
            ],
            fails: vec![
                (
                    "--build-type",
                    "tekton.dev/v1/TaskRun",
                    "tekton.dev/v1/PipelineRun",
                ),
                ("--source-digest", "sha256:my-git-commit", "my-git-commit"),
            ],
            unanswerable: vec![(
                "--source-ref",
                "refs/heads/main",
                "`tekton.dev/v1/PipelineRun` records the source's commit",
            )],
        },
        Case {
            fixture: GITHUB,
            holds: vec![
                ("--builder-id", gh_builder),
                (
                    "--build-type",
                    "https://actions.github.io/buildtypes/workflow/v1".into(),
                ),
                ("--source-uri", gh_repo.clone()),
                ("--source-ref", gh_ref.clone()),
                (
                    "--source-ref",
                    gh_ref.rsplit('/').next().expect("name").to_owned(),
                ),
                ("--source-digest", gh_commit.to_ascii_uppercase()),
                ("--param", format!("workflow.path={gh_path}")),
            ],
            fails: vec![
                ("--source-uri", "github.com/octo-org/other", "github.com/"),
                ("--source-ref", "refs/heads/evil", "refs/"),
            ],
            unanswerable: vec![],
        },
        Case {
            fixture: GITLAB,
            holds: vec![
                ("--builder-id", gl_builder),
                ("--source-uri", gl_source),
                ("--source-digest", gl_commit),
            ],
            fails: vec![("--source-ref", "refs/tags/v9.9.9", "refs/tags/v1.4.0")],
            unanswerable: vec![],
        },
    ]
}

#[test]
fn every_flag_passes_and_fails_for_every_build_type() {
    let dir = tempfile::tempdir().expect("tmp");
    for case in cases() {
        let statement = read_json(case.fixture);
        let file = signed(dir.path(), "att", &statement);
        for (flag, value) in &case.holds {
            let (code, report, stderr) = verify_json(dir.path(), &file, &[flag, value]);
            assert_eq!(
                code, 0,
                "{} {flag} {value}: {report:#}\n{stderr}",
                case.fixture
            );
            assert_eq!(report["passed"], true);
            let results = rules(&report);
            assert_eq!(results.len(), 1, "{}: {results:?}", case.fixture);
            assert_eq!(results[0].1, "passed", "{}: {results:?}", case.fixture);
        }
        for (flag, value, observed) in &case.fails {
            let (code, report, _) = verify_json(dir.path(), &file, &[flag, value]);
            assert_eq!(code, 1, "{} {flag} {value}: {report:#}", case.fixture);
            assert_eq!(report["passed"], false);
            assert_eq!(report["attestations"][0]["result"], "failed-policy");
            let (rule, status, seen) = rules(&report).remove(0);
            assert!(rule.starts_with(flag), "{rule}");
            assert_eq!(status, "failed", "{} {flag}: {seen}", case.fixture);
            assert!(
                seen.contains(observed),
                "{} {flag}: observed {seen}",
                case.fixture
            );
        }
        for (flag, value, says) in &case.unanswerable {
            let (code, report, _) = verify_json(dir.path(), &file, &[flag, value]);
            assert_eq!(
                code, 1,
                "{} {flag}: an unanswerable check never passes",
                case.fixture
            );
            let (_, status, seen) = rules(&report).remove(0);
            assert_eq!(status, "error");
            assert!(seen.contains(says), "{} {flag}: {seen}", case.fixture);
        }
    }
}

#[test]
fn a_build_type_chainseal_does_not_know_answers_no_source_check() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut statement = read_json(TEKTON_V1);
    statement["predicate"]["buildDefinition"]["buildType"] = json!("https://example.com/mine/v1");
    let file = signed(dir.path(), "mine", &statement);
    for flag in ["--source-uri", "--source-digest", "--param"] {
        let value = if flag == "--param" {
            "CHAINS-GIT_URL=https://my-git-url"
        } else {
            "my-git-url"
        };
        let (code, report, _) = verify_json(dir.path(), &file, &[flag, value]);
        assert_eq!(code, 1, "{flag}: {report:#}");
        let (_, status, seen) = rules(&report).remove(0);
        assert_eq!(status, "error", "{flag}");
        assert!(
            seen.contains("`https://example.com/mine/v1`"),
            "{flag}: {seen}"
        );
    }
    // The builder id does not depend on the buildType's layout.
    let (code, _, _) = verify_json(
        dir.path(),
        &file,
        &["--builder-id", "https://tekton.dev/chains/v2"],
    );
    assert_eq!(code, 0);
}

#[test]
fn a_tampered_statement_is_rejected_before_any_rule_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = signed(dir.path(), "att", &read_json(TEKTON_V1));
    let mut envelope: Value =
        serde_json::from_str(std::fs::read_to_string(&file).expect("read").trim()).expect("JSON");
    let mut statement = read_json(TEKTON_V1);
    statement["predicate"]["runDetails"]["builder"]["id"] = json!("https://evil.example");
    use base64::Engine as _;
    envelope["payload"] = json!(
        base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&statement).expect("JSON"))
    );
    std::fs::write(&file, envelope.to_string()).expect("write");
    let (code, report, _) =
        verify_json(dir.path(), &file, &["--builder-id", "https://evil.example"]);
    assert_eq!(code, 1);
    let item = &report["attestations"][0];
    assert_eq!(item["result"], "rejected");
    assert!(
        item["rules"].is_null(),
        "no rule ran on unverified content: {item}"
    );
    assert!(
        item["reason"]
            .as_str()
            .expect("reason")
            .contains("no signature verifies")
    );
}

#[test]
fn subjects_are_matched_by_digest_or_by_hashing_the_artifact() {
    let dir = tempfile::tempdir().expect("tmp");
    let artifact = dir.path().join("app.bin");
    std::fs::write(&artifact, b"the artifact").expect("write");
    let digest = "a3ad2e1e0d1c0d5c2c1aad1ad5a9a8e9b8c9dd2d5f7dd1c4a7b3c0e0a8c1e6d1"; // not it
    let real = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(b"the artifact"))
    };
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://slsa.dev/provenance/v1",
        "subject": [{"name": "app.bin", "digest": {"sha256": real}}],
        "predicate": {"buildDefinition": {"buildType": "https://example.com/x"},
                      "runDetails": {"builder": {"id": "b"}}},
    });
    let file = signed(dir.path(), "att", &statement);
    let path = artifact.display().to_string();
    let (code, report, _) = verify_json(dir.path(), &file, &["--artifact", &path]);
    assert_eq!(code, 0, "{report:#}");
    let upper = format!("sha256:{}", real.to_ascii_uppercase());
    let (code, _, _) = verify_json(dir.path(), &file, &["--subject-digest", &upper]);
    assert_eq!(code, 0, "hex is compared without regard to case");
    let other = format!("sha256:{digest}");
    let (code, report, _) = verify_json(dir.path(), &file, &["--subject-digest", &other]);
    assert_eq!(code, 1);
    assert!(rules(&report)[0].2.contains(&real));
    std::fs::write(&artifact, b"another artifact").expect("write");
    let (code, _, _) = verify_json(dir.path(), &file, &["--artifact", &path]);
    assert_eq!(code, 1, "a changed artifact is not the subject");
    let r = run(chainseal(dir.path())
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .args(["--subject-digest", "sha256:not-hex"])
        .arg(&file));
    common::assert_error(&r, "invalid `--subject-digest`");
    let r = run(chainseal(dir.path())
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .args(["--artifact", "/nonexistent/file"])
        .arg(&file));
    common::assert_error(&r, "cannot read artifact `/nonexistent/file`");
}

#[test]
fn policy_files_combine_plain_keys_and_named_cel_rules() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = signed(dir.path(), "att", &read_json(TEKTON_V1));
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "builderId: https://tekton.dev/chains/v2\n\
         source: {uri: my-git-url, digest: my-git-commit}\n\
         params: {CHAINS-GIT_URL: 'https://my-git-url'}\n\
         predicateType: slsaprovenance1\n\
         rules:\n\
         \x20 - name: image-is-ours\n\
         \x20   expr: build.params['CHAINS-GIT_URL'].startsWith('https://my-')\n\
         \x20 - name: signed-with-a-key\n\
         \x20   expr: signer.kind == 'key'\n\
         \x20 - name: every-subject-has-sha256\n\
         \x20   expr: subjects.all(s, has(s.digest.sha256))\n",
    )
    .expect("write");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "rules:\n\
         \x20 - name: from-acme\n\
         \x20   expr: build.sources.exists(s, s.repository == 'github.com/acme/app')\n\
         \x20   observe: build.sources.map(s, s.repository)\n\
         \x20 - name: missing-key\n\
         \x20   expr: predicate.nope == 1\n",
    )
    .expect("write");
    let g = good.display().to_string();
    let (code, report, stderr) = verify_json(dir.path(), &file, &["--policy", &g]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let names: Vec<String> = rules(&report).into_iter().map(|r| r.0).collect();
    assert!(names.contains(&format!("{g}: builderId")), "{names:?}");
    assert!(names.contains(&format!("{g}: source.digest")), "{names:?}");
    assert!(names.contains(&format!("{g}: image-is-ours")), "{names:?}");
    assert_eq!(names.len(), 7, "{names:?}");

    // Two files: every rule of each is evaluated and each failure reported.
    let both = format!("{g},{}", bad.display());
    let (code, report, _) = verify_json(dir.path(), &file, &["--policy", &both]);
    assert_eq!(code, 1);
    let results = rules(&report);
    assert_eq!(results.len(), 9, "{results:?}");
    let from_acme = results
        .iter()
        .find(|r| r.0.ends_with(": from-acme"))
        .expect("rule");
    assert_eq!(
        (from_acme.1.as_str(), from_acme.2.as_str()),
        ("failed", "[\"my-git-url\"]")
    );
    let missing = results
        .iter()
        .find(|r| r.0.ends_with(": missing-key"))
        .expect("rule");
    assert_eq!(missing.1, "error", "{missing:?}");

    // The text report names the failing rules and what they found.
    let r = run(chainseal(dir.path())
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .args(["--policy", &both])
        .arg(&file));
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("2 of 9 policy rule(s) did not pass"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("from-acme: FAILED: expected build.sources.exists"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("1 failed the policy"), "{}", r.stderr);

    // A broken policy is an error before anything is verified.
    for (text, says) in [
        ("builderID: x\n", "unknown field"),
        (
            "rules:\n  - {name: r, expr: 'a =='}\n",
            "rule `r`: the CEL expression does not compile",
        ),
    ] {
        let broken = dir.path().join("broken.yaml");
        std::fs::write(&broken, text).expect("write");
        let r = run(chainseal(dir.path())
            .args(["verify", "--key"])
            .arg(repo("examples/demo.pub"))
            .arg("--policy")
            .arg(&broken)
            .arg(&file));
        common::assert_error(&r, says);
    }
}

#[test]
fn policy_flags_come_from_the_environment_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = signed(dir.path(), "att", &read_json(TEKTON_V1));
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_VERIFY_KEY", repo("examples/demo.pub"))
        .env(
            "CHAINSEAL_VERIFY_BUILDER_ID",
            "https://tekton.dev/chains/v2",
        )
        .env(
            "CHAINSEAL_VERIFY_PARAMS",
            "CHAINS-GIT_URL=https://my-git-url\nNOPE=1",
        )
        .env("CHAINSEAL_VERIFY_FORMAT", "json")
        .arg("verify")
        .arg(&file));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).expect("JSON");
    let results = rules(&report);
    assert_eq!(
        results.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["passed", "passed", "failed"],
        "{results:?}"
    );
}

/// `chainseal verify --key demo.pub --vsa --vsa-key demo.key --storage OUT EXTRA FILE`.
fn verify_with_vsas(dir: &Path, file: &Path, out: &Path, extra: &[&str]) -> common::Run {
    run(chainseal(dir)
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .args(["--vsa", "--vsa-key"])
        .arg(repo("examples/demo.key"))
        .arg("--storage")
        .arg(out)
        .args(extra)
        .arg(file))
}

/// Sign a VSA with `--vsa`, then check it with `--type vsa`, securesystemslib and
/// slsa-verifier.
#[test]
fn verify_writes_signed_vsas_that_others_verify() {
    let Some(python) = tool("INTEROP_PYTHON", "VSA verified by securesystemslib") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let file = signed(dir.path(), "att", &read_json(TEKTON_V1));
    let out = dir.path().join("vsas");
    let vsa_run = |extra: &[&str]| verify_with_vsas(dir.path(), &file, &out, extra);
    let r = vsa_run(&["--builder-id", "https://tekton.dev/chains/v2"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("VSA PASSED for gcr.io/foo/bar sha256:"),
        "{}",
        r.stdout
    );
    let written: Vec<PathBuf> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".intoto.jsonl"))
        .collect();
    assert_eq!(written.len(), 1, "one subject, one VSA: {written:?}");
    let vsa = &written[0];
    let (ok, said) = common::securesystemslib_verifies(&python, vsa, &repo("examples/demo.pub"));
    assert!(ok, "{said}");
    let envelope: Value =
        serde_json::from_str(std::fs::read_to_string(vsa).expect("read").trim()).expect("JSON");
    use base64::Engine as _;
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().expect("payload"))
            .expect("base64"),
    )
    .expect("JSON");
    let p = &statement["predicate"];
    assert_eq!(
        statement["predicateType"],
        "https://slsa.dev/verification_summary/v1"
    );
    assert_eq!(p["verificationResult"], "PASSED");
    assert_eq!(p["verifiedLevels"], json!(["SLSA_BUILD_LEVEL_2"]));
    assert_eq!(p["resourceUri"], "gcr.io/foo/bar");
    assert!(
        p["policy"]["uri"]
            .as_str()
            .expect("uri")
            .starts_with("data:application/json;base64,")
    );
    assert_eq!(p["inputAttestations"][0]["uri"], file.display().to_string());
    let subject = format!(
        "sha256:{}",
        statement["subject"][0]["digest"]["sha256"]
            .as_str()
            .expect("digest")
    );
    let verifier_id = p["verifier"]["id"].as_str().expect("id").to_owned();

    // chainseal checks it as a VSA.
    let check = |level: &str, file: &Path| {
        run(chainseal(dir.path())
            .args(["verify", "--key"])
            .arg(repo("examples/demo.pub"))
            .args(["--type", "vsa", "--verifier-id", &verifier_id])
            .args(["--verified-level", level, "--subject-digest", &subject])
            .arg(file))
    };
    assert_eq!(check("SLSA_BUILD_LEVEL_2", vsa).code, 0);
    assert_eq!(
        check("SLSA_BUILD_LEVEL_1", vsa).code,
        0,
        "level 2 reaches level 1"
    );
    let r = check("SLSA_BUILD_LEVEL_3", vsa);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("found SLSA_BUILD_LEVEL_2"),
        "{}",
        r.stdout
    );

    // slsa-verifier verify-vsa, where it is built.
    if let Some(slsa_verifier) = tool("SLSA_VERIFIER_BIN", "slsa-verifier verify-vsa") {
        let key_id = envelope["signatures"][0]["keyid"].as_str().expect("keyid");
        let verify_vsa = |level: &str| {
            std::process::Command::new(&slsa_verifier)
                .args(["verify-vsa", "--attestation-path"])
                .arg(vsa)
                .arg("--public-key-path")
                .arg(repo("examples/demo.pub"))
                .args(["--public-key-id", key_id, "--verifier-id", &verifier_id])
                .args([
                    "--resource-uri",
                    "gcr.io/foo/bar",
                    "--subject-digest",
                    &subject,
                ])
                .args(["--verified-level", level])
                .output()
                .expect("slsa-verifier runs")
        };
        let ok = verify_vsa("SLSA_BUILD_LEVEL_2");
        assert!(
            ok.status.success(),
            "slsa-verifier rejected the VSA: {}{}",
            String::from_utf8_lossy(&ok.stdout),
            String::from_utf8_lossy(&ok.stderr)
        );
        let too_high = verify_vsa("SLSA_BUILD_LEVEL_3");
        assert!(
            !too_high.status.success(),
            "slsa-verifier accepted a level not reached"
        );
    }

    // Without a checked builder: level 1. A policy failure: a FAILED VSA, which never
    // passes a VSA check.
    std::fs::remove_dir_all(&out).expect("clean");
    let r = vsa_run(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let levels = read_only_vsa(&out)["predicate"]["verifiedLevels"].clone();
    assert_eq!(levels, json!(["SLSA_BUILD_LEVEL_1"]));
    std::fs::remove_dir_all(&out).expect("clean");
    let r = vsa_run(&["--builder-id", "https://evil.example"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("VSA FAILED for"), "{}", r.stdout);
    let failed = read_only_vsa(&out);
    assert_eq!(failed["predicate"]["verificationResult"], "FAILED");
    assert_eq!(failed["predicate"]["verifiedLevels"], json!([]));
    let failed_file = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(".intoto.jsonl"))
        .expect("a VSA");
    let r = check("SLSA_BUILD_LEVEL_1", &failed_file);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("verificationResult: FAILED: expected PASSED"),
        "{}",
        r.stdout
    );

    // A VSA key that cannot be loaded fails before anything is verified or written.
    std::fs::remove_dir_all(&out).expect("clean");
    let r = run(chainseal(dir.path())
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .args(["--vsa", "--vsa-key", "/nonexistent.key", "--storage"])
        .arg(&out)
        .arg(&file));
    common::assert_error(&r, "cannot read key `/nonexistent.key`");
    assert!(!out.exists(), "nothing written");
}

/// The statement of the one VSA in `dir`.
fn read_only_vsa(dir: &Path) -> Value {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".intoto.jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let envelope: Value =
        serde_json::from_str(std::fs::read_to_string(&files[0]).expect("read").trim())
            .expect("JSON");
    use base64::Engine as _;
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().expect("payload"))
            .expect("base64"),
    )
    .expect("JSON")
}

const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Keyless: an identity regexp, the signer workflow and the runner environment from the
/// certificate the Sigstore double's Fulcio issued.
#[test]
fn keyless_identity_regexp_signer_workflow_and_runners() {
    let Some((_double, url)) = common::sigstore_double("keyless policy") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let attest = |runner: &str, out: &Path| {
        let token = dir.path().join(format!("token-{runner}"));
        std::fs::write(
            &token,
            common::identity_token(json!({
                "iss": ISSUER, "aud": "sigstore", "iat": now, "exp": now + 600,
                "sub": "repo:acme/app:ref:refs/heads/main",
                "job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main",
                "runner_environment": runner,
                "repository": "acme/app",
                "ref": "refs/heads/main",
            })),
        )
        .expect("token");
        let r = common::attest_example(
            dir.path(),
            "keyless",
            out,
            &[
                ("CHAINSEAL_FULCIO_URL", url.clone()),
                ("CHAINSEAL_REKOR_URL", url.clone()),
                ("CHAINSEAL_IDENTITY_TOKEN_FILE", token.display().to_string()),
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        out.join(format!("{}.sigstore.json", common::EXAMPLE_KEY))
    };
    let hosted = attest("github-hosted", &dir.path().join("hosted"));
    let self_hosted = attest("self-hosted", &dir.path().join("self"));
    let root = dir.path().join("trusted_root.json");
    let got = std::process::Command::new("curl")
        .args(["-sf", &format!("{url}/trusted_root.json")])
        .output()
        .expect("curl");
    std::fs::write(&root, got.stdout).expect("write");
    let verify = |bundle: &Path, args: &[&str]| {
        let r = run(chainseal(dir.path())
            .arg("verify")
            .arg("--trusted-root")
            .arg(&root)
            .args(["--certificate-oidc-issuer", ISSUER, "--format", "json"])
            .args(args)
            .arg(bundle));
        let report: Value = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
        (r.code, report, r.stderr)
    };
    let regexp = [
        "--certificate-identity-regexp",
        "https://github\\.com/acme/app/.*",
    ];
    let (code, report, stderr) = verify(
        &hosted,
        &[
            regexp[0],
            regexp[1],
            "--signer-workflow",
            "acme/app/.github/workflows/release.yml",
            "--deny-self-hosted-runners",
        ],
    );
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let signer = &report["attestations"][0]["signer"];
    assert_eq!(signer["kind"], "certificate");
    assert_eq!(signer["claims"]["runnerEnvironment"], "github-hosted");

    // Anchored: a pattern for a prefix of the identity does not match the whole of it.
    let (code, report, _) = verify(
        &hosted,
        &["--certificate-identity-regexp", "https://github\\.com/acme"],
    );
    assert_eq!(code, 1);
    assert!(
        report["attestations"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("not `an identity matching ^(?:https://github\\.com/acme)$`")
    );
    let (code, report, _) = verify(
        &hosted,
        &[
            regexp[0],
            regexp[1],
            "--signer-workflow",
            "acme/app/.github/workflows/other.yml",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        rules(&report)[0],
        (
            "--signer-workflow".to_owned(),
            "failed".to_owned(),
            "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main".to_owned()
        )
    );
    let (code, report, _) = verify(
        &self_hosted,
        &[regexp[0], regexp[1], "--deny-self-hosted-runners"],
    );
    assert_eq!(code, 1);
    assert_eq!(rules(&report)[0].1, "failed");
    assert_eq!(rules(&report)[0].2, "self-hosted");
    // A CEL rule over the certificate's claims.
    let policy = dir.path().join("claims.yaml");
    std::fs::write(
        &policy,
        "rules:\n  - name: hosted\n    expr: signer.claims.runnerEnvironment == 'github-hosted'\n    observe: signer.claims.runnerEnvironment\n",
    )
    .expect("write");
    let p = policy.display().to_string();
    assert_eq!(
        verify(&hosted, &[regexp[0], regexp[1], "--policy", &p]).0,
        0
    );
    assert_eq!(
        verify(&self_hosted, &[regexp[0], regexp[1], "--policy", &p]).0,
        1
    );
    // Certificate checks need a certificate.
    let r = run(chainseal(dir.path())
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .arg("--deny-self-hosted-runners")
        .arg(&hosted));
    common::assert_error(&r, "cannot be used with `--key`");
}

/// Regression (review of #23): a ref of one source and a commit of another proved
/// "built from this ref at this commit" when each rule looked at the sources alone.
#[test]
fn source_requirements_must_hold_for_one_and_the_same_source() {
    let dir = tempfile::tempdir().expect("tmp");
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://slsa.dev/provenance/v1",
        "subject": [{"name": "app", "digest": {"sha256": "aa"}}],
        "predicate": {
            "buildDefinition": {
                "buildType": "https://github.com/chainseal/chainseal/blob/main/docs/buildtypes/generic-v1.md",
                "externalParameters": {},
                "resolvedDependencies": [
                    {"uri": "git+https://github.com/acme/app@refs/heads/feature", "digest": {"gitCommit": "1111"}},
                    {"uri": "git+https://github.com/acme/helper@refs/heads/main", "digest": {"gitCommit": "2222"}},
                ],
            },
            "runDetails": {"builder": {"id": "b"}},
        },
    });
    let file = signed(dir.path(), "two", &statement);
    let check = |args: &[&str]| verify_json(dir.path(), &file, args);
    // Each holds of some source, but not of the same one.
    let (code, report, _) = check(&["--source-ref", "main", "--source-digest", "1111"]);
    assert_eq!(code, 1, "{report:#}");
    let results = rules(&report);
    assert!(results.iter().all(|r| r.1 == "failed"), "{results:?}");
    assert!(
        results[0]
            .2
            .contains("no one source has every source requirement"),
        "{results:?}"
    );
    let (code, _, _) = check(&[
        "--source-uri",
        "github.com/acme/app",
        "--source-ref",
        "main",
    ]);
    assert_eq!(
        code, 1,
        "the app was built from `feature`, the helper from `main`"
    );
    // All of one source: passes.
    let (code, report, _) = check(&[
        "--source-uri",
        "github.com/acme/app",
        "--source-ref",
        "feature",
        "--source-digest",
        "1111",
    ]);
    assert_eq!(code, 0, "{report:#}");
    let (code, _, _) = check(&["--source-ref", "main", "--source-digest", "2222"]);
    assert_eq!(code, 0);
}

/// A policy file's predicate types can only be narrowed by `--type` (or another file),
/// never widened.
#[test]
fn a_policy_files_predicate_types_are_narrowed_never_widened() {
    let dir = tempfile::tempdir().expect("tmp");
    let v1 = signed(dir.path(), "v1", &read_json(TEKTON_V1));
    let v02 = signed(dir.path(), "v02", &read_json(TEKTON_V02));
    let policy = dir.path().join("v1-only.yaml");
    std::fs::write(&policy, "predicateType: slsaprovenance1\n").expect("write");
    let p = policy.display().to_string();
    let run_with = |file: &Path, args: &[&str]| {
        run(chainseal(dir.path())
            .args(["verify", "--key"])
            .arg(repo("examples/demo.pub"))
            .args(["--policy", &p])
            .args(args)
            .arg(file))
    };
    assert_eq!(run_with(&v1, &[]).code, 0);
    let r = run_with(&v02, &["--type", "any"]);
    assert_eq!(
        r.code, 1,
        "`--type any` does not widen the file: {}",
        r.stdout
    );
    assert!(r.stdout.contains("skipped"), "{}", r.stdout);
    let r = run_with(&v1, &["--type", "slsaprovenance02"]);
    common::assert_error(&r, "no predicate type is left");
}

/// Boolean variables set to `false` (a docker action passes every input) change
/// nothing: they neither conflict with `--key` nor ask for a VSA key.
#[test]
fn boolean_variables_set_to_false_are_not_given() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = signed(dir.path(), "att", &read_json(TEKTON_V1));
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_VERIFY_DENY_SELF_HOSTED_RUNNERS", "false")
        .env("CHAINSEAL_VERIFY_VSA", "false")
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .arg(&file));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_VERIFY_DENY_SELF_HOSTED_RUNNERS", "true")
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .arg(&file));
    common::assert_error(&r, "cannot be used with `--key`");
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_VERIFY_VSA", "true")
        .args(["verify", "--key"])
        .arg(repo("examples/demo.pub"))
        .arg(&file));
    common::assert_error(&r, "`--vsa` needs `CHAINSEAL_VSA_KEY`");
}

/// Regression: `--vsa` wrote one signed VSA per subject of what it verified, however
/// many subjects the attestation's signer put in it. Over 1,024, nothing is signed or
/// stored and the error says why.
#[test]
fn verify_vsa_refuses_to_write_more_than_1024_vsas() {
    let dir = tempfile::tempdir().expect("tmp");
    let subjects: Vec<Value> = (0..1025)
        .map(|i| json!({"name": format!("file-{i}"), "digest": {"sha256": format!("{i:064x}")}}))
        .collect();
    let file = signed(
        dir.path(),
        "many",
        &json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subjects,
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {"buildType": "https://example.com/b"}, "runDetails": {"builder": {"id": "https://example.com/builder"}}},
        }),
    );
    let out = dir.path().join("vsas");
    let r = verify_with_vsas(dir.path(), &file, &out, &[]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("name 1025 subjects") && r.stderr.contains("at most 1024"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing written");
}
