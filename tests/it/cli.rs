//! End-to-end tests of the real `chainseal` binary: attest → file storage → verify,
//! configuration from flags and env, and every bad-input path (exit 2, one-line
//! error, nothing written, no panic).

use crate::common;

use crate::common::{EXAMPLE_KEY, assert_error, chainseal, files_below, repo, run, verify};

fn example_args(cmd: &mut std::process::Command) -> &mut std::process::Command {
    cmd.env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", repo("examples/demo.key"))
}

#[test]
fn attest_then_verify_round_trip_with_env_only_configuration() {
    let dir = tempfile::tempdir().expect("tmp");
    // No subcommand: `attest` is the default; storage defaults to ./attestations.
    let r = run(example_args(&mut chainseal(dir.path())));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = dir
        .path()
        .join(format!("attestations/{EXAMPLE_KEY}.intoto.jsonl"));
    assert!(
        r.stdout.contains(&file.display().to_string()),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&file)
            .expect("stored")
            .lines()
            .count(),
        1
    );

    let v = verify(dir.path(), repo("examples/demo.pub"), &file);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout
            .contains("predicate type: https://slsa.dev/provenance/v1"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout
            .contains("builder id: https://tekton.dev/chains/v2"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout
            .contains("subject: registry.example.com/team/hello-service sha256:6a1f0d6f"),
        "{}",
        v.stdout
    );

    // Re-running is idempotent: signatures are deterministic, so the same record
    // gives the same envelope, and an identical line is not stored twice.
    let again = run(example_args(&mut chainseal(dir.path())));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("(already present)"),
        "{}",
        again.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&file)
            .expect("stored")
            .lines()
            .count(),
        1
    );

    // A different builder id is a different Statement: appended, both verify.
    let third = run(example_args(&mut chainseal(dir.path()))
        .env("CHAINSEAL_BUILDER_ID", "https://other.example/b"));
    assert_eq!(third.code, 0, "{}", third.stderr);
    let v = run(chainseal(dir.path())
        .arg("verify")
        .env("CHAINSEAL_VERIFY_KEY", repo("examples/demo.pub"))
        .arg(&file));
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(
        v.stderr.contains("2 envelope(s) verified, 0 rejected"),
        "{}",
        v.stderr
    );
}

#[test]
fn flags_override_env_and_file_uri_storage_works() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out");
    let r = run(example_args(&mut chainseal(dir.path()))
        .env("CHAINSEAL_STORAGE", "/nonexistent/never-used")
        .env("CHAINSEAL_BUILDER_ID", "https://env.example/builder")
        .arg("attest")
        .arg(format!("--storage=file://{}", out.display()))
        .args(["--builder-id", "https://flag.example/builder"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = out.join(format!("{EXAMPLE_KEY}.intoto.jsonl"));
    let v = verify(dir.path(), repo("examples/demo.pub"), &file);
    assert!(
        v.stdout
            .contains("builder id: https://flag.example/builder"),
        "{}",
        v.stdout
    );
}

#[test]
fn chains_encrypted_key_with_password_file_signs() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = run(chainseal(dir.path())
        .env(
            "CHAINSEAL_RECORD",
            repo("tests/fixtures/chains/unit-inputs/slsa-v2alpha4/taskrun1.json"),
        )
        .env(
            "CHAINSEAL_KEY",
            format!(
                "file://{}",
                repo("tests/fixtures/keys/cosign.key").display()
            ),
        )
        .env(
            "CHAINSEAL_KEY_PASSWORD_FILE",
            repo("tests/fixtures/keys/cosign.password"),
        )
        .env("CHAINSEAL_STORAGE", "store"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = dir
        .path()
        .join("store/taskrun-abhhf-12354-asjsdbjs23-3435353n.intoto.jsonl");
    let line = std::fs::read_to_string(&file).expect("stored");
    assert!(
        line.contains(r#""keyid":"SHA256:yYS4pD9tqWXZw5+maNJ3gWm9HyoAB0qH0ef0FkIWfYs""#),
        "{line}"
    );
    let v = verify(dir.path(), repo("tests/fixtures/keys/cosign.pub"), &file);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(
        v.stdout
            .contains("subject: gcr.io/my/image/fromstep3 sha256:827521c8"),
        "{}",
        v.stdout
    );
}

#[test]
fn wrong_password_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", repo("tests/fixtures/keys/cosign.key"))
        .env("CHAINSEAL_KEY_PASSWORD", "not-the-password"));
    assert_error(&r, "wrong password for key");
    assert!(
        !r.stderr.contains("not-the-password"),
        "the password leaked: {}",
        r.stderr
    );
    assert!(
        files_below(dir.path()).is_empty(),
        "{:?}",
        files_below(dir.path())
    );

    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", repo("tests/fixtures/keys/cosign.key")));
    assert_error(&r, "CHAINSEAL_KEY_PASSWORD");
}

#[test]
fn unknown_env_var_names_the_closest_valid_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = run(example_args(&mut chainseal(dir.path())).env("CHAINSEAL_STORGE", "x"));
    assert_error(&r, "did you mean `CHAINSEAL_STORAGE`?");
    assert!(files_below(dir.path()).is_empty());
}

#[test]
fn dry_run_prints_the_statement_and_findings_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = std::fs::read_to_string(repo("examples/pipelinerun.yaml"))
        .expect("example")
        .replacen(
            "value: sha256:6a1f0d6f8c2c4b0e9f3d2a1b7c5e8d9f0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "value: sha256:not-a-digest",
            1,
        );
    let record = dir.path().join("bad-digest.yaml");
    std::fs::write(&record, bad).expect("write");
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", &record)
        .arg("--dry-run"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let statement: serde_json::Value =
        serde_json::from_str(&r.stdout).expect("stdout is the Statement");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert!(
        statement.get("subject").is_none(),
        "the invalid image must not be a subject"
    );
    assert!(
        r.stderr
            .contains("pipelineRunResults/build-and-push-x7k2p/IMAGE_URL"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("not a valid image digest reference"),
        "{}",
        r.stderr
    );
    assert_eq!(files_below(dir.path()), vec!["bad-digest.yaml"]);
}

#[test]
fn bad_records_get_one_line_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        (
            "broken.json",
            "{\"kind\": \"TaskRun\",",
            "is not valid JSON",
        ),
        ("broken.yaml", "kind: [TaskRun\n", "is not valid YAML"),
        (
            "nostatus.yaml",
            "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: t}\nspec: {}\n",
            "has no `status`",
        ),
        (
            "beta.yaml",
            "apiVersion: tekton.dev/v1beta1\nkind: PipelineRun\nmetadata: {name: p}\nstatus: {}\n",
            "reads `tekton.dev/v1` only",
        ),
        (
            "pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
            "expected a TaskRun or PipelineRun",
        ),
    ];
    for (name, text, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let r = run(chainseal(dir.path())
            .env("CHAINSEAL_RECORD", &path)
            .env("CHAINSEAL_KEY", repo("examples/demo.key")));
        assert_error(&r, needle);
    }
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", dir.path().join("missing.yaml"))
        .env("CHAINSEAL_KEY", repo("examples/demo.key")));
    assert_error(&r, "cannot read record");
    assert!(!dir.path().join("attestations").exists());
}

#[test]
fn unreadable_key_and_missing_settings_are_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", dir.path().join("nope.key")));
    assert_error(&r, "cannot read key");
    let r = run(chainseal(dir.path()).env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml")));
    assert_error(&r, "CHAINSEAL_KEY");
    let r = run(chainseal(dir.path()).env("CHAINSEAL_KEY", repo("examples/demo.key")));
    assert_error(&r, "CHAINSEAL_RECORD");
    let r =
        run(example_args(&mut chainseal(dir.path()))
            .env("CHAINSEAL_KEY", repo("examples/demo.pub")));
    assert_error(&r, "public key");
    assert!(files_below(dir.path()).is_empty());
}

#[test]
fn unwritable_storage_directory_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("blocker"), "x").expect("write");
    let r = run(example_args(&mut chainseal(dir.path())).env("CHAINSEAL_STORAGE", "blocker/sub"));
    assert_error(&r, "cannot create directory");
    assert_eq!(files_below(dir.path()), vec!["blocker"]);
}

#[test]
fn verify_rejects_tampering_and_wrong_keys_with_exit_1() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = run(example_args(&mut chainseal(dir.path())));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = dir
        .path()
        .join(format!("attestations/{EXAMPLE_KEY}.intoto.jsonl"));
    let line = std::fs::read_to_string(&file).expect("stored");
    let mut env: serde_json::Value = serde_json::from_str(&line).expect("json");

    // Tamper with the payload.
    let payload = env["payload"].as_str().expect("payload").to_owned();
    env["payload"] = serde_json::Value::String(payload.replacen('e', "f", 1));
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, env.to_string()).expect("write");
    let v = verify(dir.path(), repo("examples/demo.pub"), &tampered);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("no signature verifies"), "{}", v.stdout);

    // A different key.
    let v = verify(dir.path(), repo("tests/fixtures/keys/cosign.pub"), &file);
    assert_eq!(v.code, 1, "{}", v.stdout);

    // Unreadable input and a non-key are usage errors.
    let v = verify(
        dir.path(),
        repo("examples/demo.pub"),
        dir.path().join("missing.jsonl"),
    );
    assert_error(&v, "cannot read");
    let v = verify(dir.path(), repo("examples/pipelinerun.yaml"), &file);
    assert_error(&v, "not a PEM public key");
}

#[test]
fn keygen_writes_a_usable_encrypted_pair_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = run(chainseal(dir.path())
        .args(["keygen", "--out", "team"])
        .env("CHAINSEAL_KEY_PASSWORD", "s3cret"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let key = std::fs::read_to_string(dir.path().join("team.key")).expect("key");
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{key}"
    );
    assert!(!key.contains('\r'), "LF line endings");
    let public = std::fs::read_to_string(dir.path().join("team.pub")).expect("pub");
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "{public}"
    );

    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", "team.key")
        .env("CHAINSEAL_KEY_PASSWORD", "s3cret"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = run(chainseal(dir.path())
        .args(["verify", "--key", "team.pub"])
        .arg(format!("attestations/{EXAMPLE_KEY}.intoto.jsonl")));
    assert_eq!(v.code, 0, "{}", v.stdout);

    let r = run(chainseal(dir.path()).args(["keygen", "--out", "team"]));
    assert_error(&r, "already exists");
    let r = run(chainseal(dir.path()).args(["keygen", "--out", "team", "--force"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let key = std::fs::read_to_string(dir.path().join("team.key")).expect("key");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
}

#[test]
fn format_buildtype_and_deep_inspection_settings_reach_the_statement() {
    let dir = tempfile::tempdir().expect("tmp");
    let dry = |envs: &[(&str, &str)]| {
        let mut cmd = chainseal(dir.path());
        cmd.env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .arg("--dry-run");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str::<serde_json::Value>(&r.stdout).expect("statement")
    };
    for name in ["slsa/v0.2", "in-toto", "slsa/v1"] {
        let s = dry(&[("CHAINSEAL_FORMAT", name)]);
        assert_eq!(
            s["predicateType"], "https://slsa.dev/provenance/v0.2",
            "{name}"
        );
        assert_eq!(s["predicate"]["buildType"], "tekton.dev/v1/PipelineRun");
        assert_eq!(
            s["predicate"]["buildConfig"]["tasks"][1]["after"][0],
            "fetch-source"
        );
    }
    for name in ["slsa/v1.0", "slsa/v2alpha4", "slsa/v2alpha3"] {
        let s = dry(&[("CHAINSEAL_FORMAT", name)]);
        assert_eq!(
            s["predicateType"], "https://slsa.dev/provenance/v1",
            "{name}"
        );
    }
    let s = dry(&[("CHAINSEAL_FORMAT", "slsa/v2alpha3")]);
    assert_eq!(
        s["predicate"]["runDetails"]["byproducts"][0]["name"],
        "pipelineRunResults/IMAGE_URL"
    );

    let s = dry(&[(
        "CHAINSEAL_BUILDTYPE",
        "https://tekton.dev/chains/v2/slsa-tekton",
    )]);
    let bd = &s["predicate"]["buildDefinition"];
    assert_eq!(bd["buildType"], "https://tekton.dev/chains/v2/slsa-tekton");
    assert_eq!(
        bd["internalParameters"]["labels"]["tekton.dev/pipeline"],
        "build-and-push"
    );
    let tasks: Vec<_> = bd["resolvedDependencies"]
        .as_array()
        .expect("deps")
        .iter()
        .filter(|d| d["name"] == "pipelineTask")
        .collect();
    assert_eq!(tasks.len(), 2, "one pipelineTask per child TaskRun: {bd}");

    // Deep inspection adds the children's byproducts (here: the fetch task's commit).
    let shallow = dry(&[]);
    let deep = dry(&[("CHAINSEAL_DEEP_INSPECTION", "true")]);
    let names = |s: &serde_json::Value| -> Vec<String> {
        s["predicate"]["runDetails"]["byproducts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|b| b["name"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(names(&shallow).is_empty(), "{:?}", names(&shallow));
    assert_eq!(
        names(&deep),
        vec!["taskRunResults/build-and-push-x7k2p-fetch-source/commit"]
    );
}

#[test]
fn explain_lists_every_decision_and_needs_dry_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = run(chainseal(dir.path())
        .env(
            "CHAINSEAL_RECORD",
            repo("tests/fixtures/chains/unit-inputs/slsa-v2alpha4/taskrun1.json"),
        )
        .args(["attest", "--dry-run", "--explain"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for line in [
        "stepResults/taskrun-build/step3_result1-ARTIFACT_OUTPUTS: subject: gcr.io/my/image/fromstep3 sha256:827521c8",
        "taskRunResults/taskrun-build/IMAGE_URL + IMAGE_DIGEST: subject: image gcr.io/my/image@sha256:d31cc832",
        "taskRun/taskrun-build/CHAINS-GIT_URL + CHAINS-GIT_COMMIT: input: git+https://git.test.com.git sha1:taskrun",
        "stepResults/taskrun-build/step1_result1: byproduct: stepResults/taskrun-build/step1_result1",
    ] {
        assert!(
            r.stderr.contains(line),
            "missing `{line}` in:\n{}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains("gcr.io/my/image@sha256:d31cc8328054de2bd93735f9cbf0ccfb6e0ee8f4c4225da7d8f8cb3900eaf466 ({\"critical\""),
        "image signature payloads are listed:\n{}",
        r.stderr
    );
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_KEY", repo("examples/demo.key"))
        .arg("--explain"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--dry-run"), "{}", r.stderr);
    let r = run(example_args(&mut chainseal(dir.path())).env("CHAINSEAL_FORMAT", "slsa/v2alpha2"));
    assert_error(&r, "unknown format `slsa/v2alpha2`");
}

#[test]
fn signing_secrets_directory_is_read_as_chains_reads_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let secrets = dir.path().join("signing-secrets");
    std::fs::create_dir(&secrets).expect("mkdir");
    let attest = |dir: &std::path::Path| {
        run(chainseal(dir)
            .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
            .env("CHAINSEAL_SIGNING_SECRETS", &secrets))
    };
    let r = attest(dir.path());
    assert_error(&r, "no valid private key found");
    assert!(r.stderr.contains("[x509.pem, cosign.key]"), "{}", r.stderr);

    // cosign.key + cosign.password (the Chains e2e pair).
    for f in ["cosign.key", "cosign.password"] {
        std::fs::copy(repo(&format!("tests/fixtures/keys/{f}")), secrets.join(f)).expect("copy");
    }
    let r = attest(dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = dir
        .path()
        .join(format!("attestations/{EXAMPLE_KEY}.intoto.jsonl"));
    assert_eq!(
        verify(dir.path(), repo("tests/fixtures/keys/cosign.pub"), &file).code,
        0
    );

    // x509.pem wins when present.
    std::fs::copy(repo("examples/demo.key"), secrets.join("x509.pem")).expect("copy");
    let other = tempfile::tempdir().expect("tmp");
    let r = attest(other.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = other
        .path()
        .join(format!("attestations/{EXAMPLE_KEY}.intoto.jsonl"));
    assert_eq!(
        verify(other.path(), repo("examples/demo.pub"), &file).code,
        0
    );

    // A key and a secrets directory at once is a usage error.
    let r = run(chainseal(dir.path())
        .env("CHAINSEAL_RECORD", repo("examples/pipelinerun.yaml"))
        .env("CHAINSEAL_SIGNING_SECRETS", &secrets)
        .env("CHAINSEAL_KEY", repo("examples/demo.key")));
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn public_key_prints_the_pem_and_key_id_of_any_key() {
    let dir = tempfile::tempdir().expect("tmp");
    for (key, public, password) in [
        ("examples/demo.key", "examples/demo.pub", None),
        (
            "tests/fixtures/keys/cosign.key",
            "tests/fixtures/keys/cosign.pub",
            Some("p"),
        ),
        (
            "tests/fixtures/keys/ed25519.pem",
            "tests/fixtures/keys/ed25519.pub",
            None,
        ),
        (
            "tests/fixtures/keys/rsa2048-pkcs1.pem",
            "tests/fixtures/keys/rsa2048.pub",
            None,
        ),
    ] {
        let mut cmd = chainseal(dir.path());
        cmd.args(["public-key", "--key"]).arg(repo(key));
        if let Some(p) = password {
            cmd.env("CHAINSEAL_KEY_PASSWORD", p);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{key}: {}", r.stderr);
        let want = std::fs::read_to_string(repo(public)).expect("pub");
        assert_eq!(r.stdout.trim(), want.trim(), "{key}");
        assert!(r.stderr.contains("key id: SHA256:"), "{}", r.stderr);
    }
}

#[test]
fn every_setting_is_documented_in_the_readme() {
    let readme = std::fs::read_to_string(common::repo("README.md")).expect("README");
    for var in chainseal::cli::known_env_vars() {
        assert!(
            readme.contains(&format!("| `{var}` |")),
            "{var} is missing from the README's configuration table"
        );
    }
}

/// `CHAINSEAL_*` names that are not chainseal's variables: the misspelling the docs
/// and `config::check_env`'s test show, and the test suite's own switches (read by
/// `tests/it/common` only, docs/testing.md).
const NOT_VARIABLES: &[&str] = &[
    "CHAINSEAL_STORGE",
    "CHAINSEAL_TEST_SKIP_MISSING",
    "CHAINSEAL_TEST_SKIP_LOG",
];

/// The text of the README and every page under docs/.
fn documentation() -> Vec<(String, String)> {
    let mut pages = vec![("README.md".to_owned(), repo("README.md"))];
    let docs = std::fs::read_dir(repo("docs")).expect("docs/");
    for entry in docs.map(|e| e.expect("docs/ entry").path()) {
        if entry.extension().is_some_and(|e| e == "md") {
            pages.push((entry.display().to_string(), entry));
        }
    }
    pages
        .into_iter()
        .map(|(name, path)| (name, std::fs::read_to_string(path).expect("page")))
        .collect()
}

/// The complete `CHAINSEAL_*` names in `text`: maximal runs of name characters, so
/// `TEST_CHAINSEAL_X`, prefixes (`CHAINSEAL_KMS_AUTH_*`) and templates
/// (`CHAINSEAL_<FLAG>`, `CHAINSEAL_EOF_{…}`) are not names.
fn chainseal_names(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*'))
        .filter(|w| w.starts_with("CHAINSEAL_") && !w.ends_with('_') && !w.contains('*'))
        .collect()
}

fn is_constant(name: &str) -> bool {
    use chainseal::env_vars::EnvVars;
    EnvVars::SETTINGS.contains(&name) || EnvVars::OUTPUTS.contains(&name)
}

#[test]
fn every_variable_of_env_vars_is_documented_in_a_table() {
    use chainseal::env_vars::EnvVars;
    let rows: String = documentation()
        .iter()
        .flat_map(|(_, text)| text.lines())
        .filter(|l| l.trim_start().starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n");
    for var in EnvVars::SETTINGS
        .iter()
        .chain(EnvVars::OUTPUTS)
        .chain(EnvVars::THIRD_PARTY)
    {
        assert!(
            rows.contains(&format!("`{var}`")),
            "{var} (src/env_vars.rs) is in no table of the README or docs/*.md (third-party variables: docs/configuration.md)"
        );
    }
}

#[test]
fn every_documented_chainseal_variable_is_a_constant() {
    for (page, text) in documentation() {
        for name in chainseal_names(&text) {
            assert!(
                is_constant(name) || NOT_VARIABLES.contains(&name),
                "{page} names `{name}`, which is not in src/env_vars.rs"
            );
        }
    }
}

#[test]
fn every_chainseal_variable_named_in_src_is_a_constant() {
    // Error messages and docs name variables in text: a renamed variable must not
    // leave them behind.
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
        {
            if entry.is_dir() {
                walk(&entry, out);
            } else if entry.extension().is_some_and(|e| e == "rs") {
                out.push(entry);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo("src"), &mut files);
    assert!(files.len() > 50, "{} source files", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source");
        for name in chainseal_names(&text) {
            assert!(
                is_constant(name) || NOT_VARIABLES.contains(&name),
                "{} names `{name}`, which is not in src/env_vars.rs",
                file.display()
            );
        }
    }
}

#[test]
fn error_messages_do_not_repeat_their_cause() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = common::run(
        common::chainseal(dir.path())
            .env(
                "CHAINSEAL_RECORD",
                common::repo("examples/pipelinerun.yaml"),
            )
            .env("CHAINSEAL_KEY", dir.path().join("missing.key")),
    );
    common::assert_error(&r, "missing.key");
    assert_eq!(
        r.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        r.stderr
    );
}

/// A DSSE envelope of an in-toto Statement with `predicate_type` about `subject`
/// (`sha256:<hex>`), signed with examples/demo.key.
fn signed_statement(predicate_type: &str, subject: &str) -> String {
    let (alg, hex) = subject.split_once(':').expect("alg:hex");
    common::demo_envelope(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app", "digest": {alg: hex}}],
        "predicateType": predicate_type,
        "predicate": {},
    }))
}

#[test]
fn verify_malformed_input_exits_2_and_a_bad_signature_exits_1() {
    // Regression (issue #18): a file that is not an envelope exited 1 ("does not
    // verify"), where the README promises 2 for malformed input.
    let dir = tempfile::tempdir().expect("tmp");
    let good = signed_statement(
        "https://slsa.dev/provenance/v1",
        &format!("sha256:{}", "a".repeat(64)),
    );
    for (name, text, needle) in [
        (
            "not-json.jsonl",
            "this is not JSON\n".to_owned(),
            "not a DSSE envelope",
        ),
        (
            "object.json",
            r#"{"hello": "world"}"#.to_owned(),
            "not a DSSE envelope",
        ),
        ("array.json", "[1, 2]".to_owned(), "not a DSSE envelope"),
        ("empty.jsonl", String::new(), "holds no DSSE envelope"),
        ("blank.jsonl", "\n  \n".to_owned(), "holds no DSSE envelope"),
        (
            "mixed.jsonl",
            format!("{good}\nnot an envelope\n"),
            "mixed.jsonl:2",
        ),
        (
            "bad-base64.json",
            r#"{"payloadType":"x","payload":"***","signatures":[]}"#.to_owned(),
            "not a DSSE envelope",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let v = verify(dir.path(), repo("examples/demo.pub"), &path);
        assert_error(&v, needle);
        assert!(v.stderr.contains(name), "{name}: {}", v.stderr);
    }
    // Keyless: a file that is not a Sigstore bundle with an envelope is malformed too.
    let root = dir.path().join("trusted_root.json");
    std::fs::write(
        &root,
        r#"{"certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": "AA=="}]}}],
            "tlogs": [{"logId": {"keyId": "AA=="}, "publicKey": {"rawBytes": "AA=="}}]}"#,
    )
    .expect("write");
    for (name, text) in [("bundle.txt", "not JSON"), ("bundle.json", r#"{"a": 1}"#)] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let v = run(chainseal(dir.path())
            .args(["verify", "--certificate-identity", "me@example.com"])
            .args(["--certificate-oidc-issuer", "https://issuer.example"])
            .arg("--trusted-root")
            .arg(&root)
            .arg(&path));
        assert_error(&v, "is not a Sigstore bundle");
    }
    // A well-formed envelope that does not verify is a verification failure.
    let path = dir.path().join("good.json");
    std::fs::write(&path, &good).expect("write");
    let v = verify(dir.path(), repo("tests/fixtures/keys/cosign.pub"), &path);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    let v = verify(dir.path(), repo("examples/demo.pub"), &path);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
}

#[test]
fn verify_accepts_only_slsa_provenance_unless_type_says_otherwise() {
    // Regression (issue #18): any predicate type passed, and files could not be
    // filtered by type at all.
    let dir = tempfile::tempdir().expect("tmp");
    let subject = format!("sha256:{}", "b".repeat(64));
    let custom = dir.path().join("custom.json");
    std::fs::write(
        &custom,
        signed_statement("https://cosign.sigstore.dev/attestation/v1", &subject),
    )
    .expect("write");
    let verify_with = |file: &std::path::Path, extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = chainseal(dir.path());
        cmd.args(["verify", "--key"])
            .arg(repo("examples/demo.pub"))
            .args(extra)
            .arg(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    };
    // By default only SLSA provenance counts: the custom one is skipped, and with
    // nothing else the run fails, naming what it found and the flag.
    let v = verify_with(&custom, &[], &[]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.contains(&format!(
            "skipped {} (predicate type https://cosign.sigstore.dev/attestation/v1)",
            custom.display()
        )),
        "{}",
        v.stdout
    );
    assert!(
        v.stderr
            .contains("https://cosign.sigstore.dev/attestation/v1")
            && v.stderr.contains("--type")
            && v.stderr.contains("https://slsa.dev/provenance/v1"),
        "{}",
        v.stderr
    );
    // cosign's short name, the URI, `any` and `*`, and the environment variable.
    for t in [
        "custom",
        "https://cosign.sigstore.dev/attestation/v1",
        "any",
        "*",
    ] {
        let v = verify_with(&custom, &["--type", t], &[]);
        assert_eq!(v.code, 0, "--type {t}: {}{}", v.stdout, v.stderr);
        assert!(v.stdout.contains("verified "), "{}", v.stdout);
    }
    let v = verify_with(&custom, &[], &[("CHAINSEAL_VERIFY_TYPE", "custom")]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // SLSA provenance passes by default; another wanted type skips it.
    let slsa = dir.path().join("slsa.jsonl");
    std::fs::write(
        &slsa,
        format!(
            "{}\n{}\n",
            signed_statement("https://slsa.dev/provenance/v1", &subject),
            signed_statement("https://cosign.sigstore.dev/attestation/v1", &subject)
        ),
    )
    .expect("write");
    let v = verify_with(&slsa, &[], &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.contains(&format!("skipped {}:2", slsa.display())),
        "{}",
        v.stdout
    );
    let v = verify_with(&slsa, &["--type", "slsaprovenance02"], &[]);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    let v = verify_with(&slsa, &["--type", "slsaprovenance1"], &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    // Something that is neither a short name nor a URI is a usage error.
    let v = verify_with(&slsa, &["--type", "slsa-provenance"], &[]);
    assert_error(&v, "--type");
}

/// Regression: `verify` printed what a verified attestation says (predicate type,
/// builder id, subject names) as it was, so a signed Statement could move the cursor,
/// clear the screen or forge report lines in a terminal or CI log. Control characters
/// are now escaped.
#[test]
fn verify_escapes_control_characters_of_what_it_prints() {
    let dir = tempfile::tempdir().expect("tmp");
    let envelope = common::demo_envelope(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app\u{1b}[2J\nsubject: forged", "digest": {"sha256": "a".repeat(64)}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"runDetails": {"builder": {"id": "https://ci\u{7}.example.com"}}},
    }));
    let path = dir.path().join("att.json");
    std::fs::write(&path, envelope).expect("write");
    let v = verify(dir.path(), repo("examples/demo.pub"), &path);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        !v.stdout.contains('\u{1b}') && !v.stdout.contains('\u{7}'),
        "{:?}",
        v.stdout
    );
    assert!(
        v.stdout
            .contains("subject: app\\u{1b}[2J\\nsubject: forged sha256:"),
        "{:?}",
        v.stdout
    );
    assert_eq!(
        v.stdout.matches("\n  subject: ").count(),
        1,
        "{:?}",
        v.stdout
    );
    assert!(
        v.stdout
            .contains("builder id: https://ci\\u{7}.example.com"),
        "{:?}",
        v.stdout
    );
    // Another predicate type is skipped, and named escaped where it is reported.
    let envelope = common::demo_envelope(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app", "digest": {"sha256": "a".repeat(64)}}],
        "predicateType": "https://example.com/p\r/v1",
        "predicate": {},
    }));
    std::fs::write(&path, envelope).expect("write");
    let v = verify(dir.path(), repo("examples/demo.pub"), &path);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    for out in [&v.stdout, &v.stderr] {
        assert!(!out.contains('\r'), "{out:?}");
        assert!(out.contains("https://example.com/p\\r/v1"), "{out:?}");
    }
}
