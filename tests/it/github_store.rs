//! `github` storage: GitHub's attestation store, against a loopback double of its REST
//! API (`tests/doubles/github_api.py`, GitHub's request and reply shapes). What is
//! uploaded is found and verified by gh itself (`gh attestation verify --owner`,
//! `--repo`, with the double as gh's API host); refusals (no `attestations: write`,
//! GitHub Enterprise Server, a bad token, no reply) say what to fix and leave the
//! local stores written; storage records are made for images pushed to a registry.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::ci::{
    action_env, artifacts, attest, env_file, gh_offline, gh_trusted_root, github_env_with_token,
    oidc_double_signing, release_job_claims, the_bundle,
};
use crate::common::{self, Run, repo, run, spawn_ready, tool};

const WRITE_TOKEN: &str = "ghs_writeS3cret";
const READ_TOKEN: &str = "ghs_readS3cret";

/// The GitHub API double with `args`; returns it, its base URL and its request log.
fn github_api(
    python: &Path,
    dir: &Path,
    name: &str,
    args: &[&str],
) -> (common::Service, String, std::path::PathBuf) {
    let log = dir.join(format!("{name}-requests.jsonl"));
    let (service, line) = spawn_ready(
        Command::new(python)
            .arg(repo("tests/doubles/github_api.py"))
            .args(["--token", WRITE_TOKEN, "--read-token", READ_TOKEN, "--log"])
            .arg(&log)
            .args(args),
        "the GitHub API double",
    );
    let ready: Value = serde_json::from_str(&line).expect("ready line");
    (service, format!("http://127.0.0.1:{}", ready["port"]), log)
}

/// Every request the double logged.
fn requests(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// The step outputs `name=value` (single-line ones) of `GITHUB_OUTPUT` at `path`.
fn output(path: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

/// The `.intoto.jsonl` files in `dir/attestations`.
fn local_attestations(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("attestations"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().to_string_lossy().ends_with(".intoto.jsonl"))
                .count()
        })
        .unwrap_or(0)
}

fn no_token_shown(r: &Run) {
    for t in [WRITE_TOKEN, READ_TOKEN, "S3cret"] {
        assert!(
            !r.stderr.contains(t) && !r.stdout.contains(t),
            "token shown: {}{}",
            r.stdout,
            r.stderr
        );
    }
}

/// Keyless attest in a GitHub Actions job (the OIDC and Sigstore doubles) with
/// `attestations,github` storage: the bundle is uploaded as actions/attest uploads it,
/// the outputs name it, and gh finds it through the API by owner and by repository
/// and verifies it; a file that was not attested is not found.
#[test]
fn github_store_uploads_bundles_that_gh_finds_by_owner_and_repository() {
    let Some(gh) = tool("GH_BIN", "github storage with gh") else {
        return;
    };
    let Some(python) = tool("INTEROP_PYTHON", "github storage with gh") else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double("github storage with gh") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    gh_trusted_root(dir.path(), &url);
    let (_api, api_url, log) = github_api(&python, dir.path(), "api", &[]);
    let (_oidc, info) = oidc_double_signing(&python, dir.path(), "good", &release_job_claims());
    let issuer = info["issuer"].as_str().expect("issuer").to_owned();
    let outputs = dir.path().join("github-output");
    let mut ci = github_env_with_token(&info);
    ci.retain(|(k, _)| k != "GITHUB_API_URL");
    ci.push(("GITHUB_API_URL".into(), api_url.clone()));
    ci.push(("GITHUB_OUTPUT".into(), outputs.display().to_string()));
    let r = attest(
        dir.path(),
        &ci,
        &[
            ("CHAINSEAL_KEY", "keyless"),
            ("CHAINSEAL_FULCIO_URL", url.as_str()),
            ("CHAINSEAL_REKOR_URL", url.as_str()),
            ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
            ("CHAINSEAL_STORAGE", "attestations,github"),
            ("CHAINSEAL_GITHUB_TOKEN", WRITE_TOKEN),
            ("CHAINSEAL_GITHUB_OIDC_ISSUER", issuer.as_str()),
            ("CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE", "true"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_token_shown(&r);
    let page = "https://github.com/octo-org/hello-service/attestations/1";
    assert_eq!(output(&outputs, "attestation-id").as_deref(), Some("1"));
    assert_eq!(output(&outputs, "attestation-url").as_deref(), Some(page));
    assert_eq!(output(&outputs, "storage-record-ids").as_deref(), Some(""));
    let bundle_path = output(&outputs, "bundle-path").expect("bundle-path");
    assert_eq!(Path::new(&bundle_path), the_bundle(dir.path()));
    // What went up: the local bundle, as `{"bundle": …}`, with the token and GitHub's
    // media type and API version.
    let sent = requests(&log);
    let [post] = sent.as_slice() else {
        panic!("expected one request: {sent:?}");
    };
    assert_eq!(post["method"], "POST");
    assert_eq!(post["path"], "/repos/octo-org/hello-service/attestations");
    assert_eq!(
        post["headers"]["authorization"],
        format!("Bearer {WRITE_TOKEN}")
    );
    assert_eq!(post["headers"]["accept"], "application/vnd.github+json");
    assert_eq!(post["headers"]["x-github-api-version"], "2022-11-28");
    let body: Value =
        serde_json::from_str(post["body"].as_str().expect("body")).expect("JSON body");
    let local: Value =
        serde_json::from_slice(&std::fs::read(&bundle_path).expect("bundle")).expect("JSON");
    assert_eq!(body["bundle"], local);

    let gh_api = |args: &[&str]| gh_verify(&gh, dir.path(), &api_url, &issuer, args);
    let amd64 = dir.path().join("dist/hello-linux-amd64");
    let arm64 = dir.path().join("dist/hello-linux-arm64");
    for (artifact, how) in [
        (&amd64, ["--owner", "octo-org"]),
        (&arm64, ["--repo", "octo-org/hello-service"]),
    ] {
        let ok = gh_api(&[artifact.to_str().expect("utf-8"), how[0], how[1]]);
        assert_eq!(
            ok.code,
            0,
            "gh {how:?}: {}{}\nthe double saw: {:?}",
            ok.stdout,
            ok.stderr,
            requests(&log)
                .iter()
                .map(|r| format!("{} {}", r["method"], r["path"]))
                .collect::<Vec<_>>()
        );
        assert!(
            ok.stderr.contains("✓ Verification succeeded!"),
            "{}",
            ok.stderr
        );
        assert!(
            ok.stderr.contains("Loaded 1 attestation from GitHub API"),
            "{}",
            ok.stderr
        );
    }
    let digest = |p: &Path| {
        use sha2::Digest as _;
        format!(
            "sha256:{}",
            common::registry::hex(&sha2::Sha256::digest(std::fs::read(p).expect("read")))
        )
    };
    let asked: Vec<String> = requests(&log)
        .iter()
        .filter(|r| r["method"] == "GET")
        .map(|r| r["path"].as_str().expect("path").to_owned())
        .collect();
    assert!(
        asked.iter().any(|p| p.starts_with(&format!(
            "http://api.github.localhost/orgs/octo-org/attestations/{}",
            digest(&amd64)
        ))),
        "{asked:?}"
    );
    assert!(
        asked.iter().any(|p| p.starts_with(&format!(
            "http://api.github.localhost/repos/octo-org/hello-service/attestations/{}",
            digest(&arm64)
        ))),
        "{asked:?}"
    );
    // Another file, another owner: nothing to find.
    let other = dir.path().join("hello-linux-riscv64");
    std::fs::write(&other, b"binary three").expect("other");
    for (artifact, owner) in [(&other, "octo-org"), (&amd64, "mallory")] {
        let r = gh_api(&[artifact.to_str().expect("utf-8"), "--owner", owner]);
        assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert!(!r.stderr.contains("Verification succeeded"), "{}", r.stderr);
    }
}

/// `gh attestation verify ARGS` reading attestations through the API double at
/// `api_url` (GH_HOST=github.localhost makes gh talk plain http to
/// api.github.localhost, and HTTP_PROXY sends that to the double), with the trusted
/// root `gh_trusted_root` wrote in `dir` and `issuer`'s certificates.
fn gh_verify(gh: &Path, dir: &Path, api_url: &str, issuer: &str, args: &[&str]) -> Run {
    let mut cmd = gh_offline(gh, dir);
    cmd.env("GH_HOST", "github.localhost")
        .env("GH_TOKEN", READ_TOKEN)
        .env("HTTP_PROXY", api_url)
        .args(["attestation", "verify"])
        .args(args)
        .arg("--custom-trusted-root")
        .arg(dir.join("trusted_root.jsonl"))
        .args(["--cert-oidc-issuer", issuer]);
    run(&mut cmd)
}

/// Refusals name the fix and keep what the local stores wrote; a token is never
/// shown; a flaky API is retried; settings that cannot work stop the run before
/// anything is signed or stored.
#[test]
fn github_store_refusals_are_clear_and_keep_the_local_stores() {
    let Some(python) = tool("INTEROP_PYTHON", "github storage refusals") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let (_api, api_url, _) = github_api(&python, dir.path(), "api", &[]);
    let (_ghes, ghes_url, _) = github_api(&python, dir.path(), "ghes", &["--ghes"]);
    let (_flaky, flaky_url, flaky_log) =
        github_api(&python, dir.path(), "flaky", &["--fail-first", "2"]);
    let attest_with = |name: &str, api: &str, token: &str, extra: &[(&str, &str)]| {
        let work = dir.path().join(name);
        artifacts(&work);
        let mut ci = env_file("github.env");
        ci.retain(|(k, _)| k != "GITHUB_API_URL");
        ci.push(("GITHUB_API_URL".into(), api.to_owned()));
        let mut env = vec![
            ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
            ("CHAINSEAL_STORAGE", "attestations,github"),
            ("CHAINSEAL_GITHUB_TOKEN", token),
        ];
        env.extend_from_slice(extra);
        let r = attest(&work, &ci, &env);
        no_token_shown(&r);
        (r, work)
    };
    let refused = |r: &Run, words: &[&str]| {
        assert_ne!(r.code, 0, "{}", r.stderr);
        for w in words {
            assert!(r.stderr.contains(w), "`{w}` not in: {}", r.stderr);
        }
    };

    // Signed with a key: the bundle carries the public key. Uploaded.
    let (r, work) = attest_with("ok", &api_url, WRITE_TOKEN, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(local_attestations(&work), 1);

    // A job without `attestations: write`, GHES, a bad token, no server: the local
    // store is written, the run fails and says why.
    for (name, api, token, words) in [
        (
            "read-only",
            api_url.as_str(),
            READ_TOKEN,
            &[
                "HTTP 403",
                "Resource not accessible by integration",
                "permissions: attestations: write",
            ][..],
        ),
        (
            "ghes",
            ghes_url.as_str(),
            WRITE_TOKEN,
            &["HTTP 404", "GitHub Enterprise Server has none"][..],
        ),
        (
            "bad-token",
            api_url.as_str(),
            "ghs_wrong",
            &["HTTP 401", "Bad credentials", "CHAINSEAL_GITHUB_TOKEN"][..],
        ),
        (
            "down",
            "http://127.0.0.1:9",
            WRITE_TOKEN,
            &["no reply", "GITHUB_API_URL"][..],
        ),
    ] {
        let (r, work) = attest_with(name, api, token, &[]);
        refused(&r, words);
        assert!(
            r.stderr.contains("already stored in"),
            "{name}: {}",
            r.stderr
        );
        assert_eq!(
            local_attestations(&work),
            1,
            "{name}: the local store was written"
        );
    }

    // A redirect is not followed: the token never reaches the other host.
    let (_elsewhere, elsewhere_url, elsewhere_log) =
        github_api(&python, dir.path(), "elsewhere", &[]);
    let target = format!("{elsewhere_url}/repos/octo-org/hello-service/attestations");
    let (_redirecting, redirecting_url, _) =
        github_api(&python, dir.path(), "redirecting", &["--redirect", &target]);
    let (r, work) = attest_with("redirect", &redirecting_url, WRITE_TOKEN, &[]);
    refused(&r, &["HTTP 307"]);
    assert_eq!(local_attestations(&work), 1);
    assert!(
        requests(&elsewhere_log).is_empty(),
        "the redirect was followed"
    );

    // Two 503s, then the upload: retried.
    let (r, _) = attest_with("flaky", &flaky_url, WRITE_TOKEN, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(requests(&flaky_log).len(), 3);

    // No token, no repository, a token sent in clear to a remote host: refused before
    // anything is signed or stored.
    for (name, api, token, extra, words) in [
        (
            "no-token",
            api_url.as_str(),
            "",
            &[][..],
            &["no token", "CHAINSEAL_GITHUB_TOKEN"][..],
        ),
        (
            "remote-http",
            "http://api.example.com",
            WRITE_TOKEN,
            &[][..],
            &["GITHUB_API_URL must be an https URL"][..],
        ),
        (
            "bad-repo",
            api_url.as_str(),
            WRITE_TOKEN,
            &[("CHAINSEAL_STORAGE", "attestations,github://octo-org")][..],
            &["expected `<owner>/<repo>`"][..],
        ),
    ] {
        let (r, work) = attest_with(name, api, token, extra);
        refused(&r, words);
        assert_eq!(local_attestations(&work), 0, "{name}: nothing stored");
    }
}

/// With image subjects pushed to a registry, a storage record is made per image for
/// an organisation (output `storage-record-ids`), none for a user's repository or
/// when turned off.
#[test]
fn github_store_makes_storage_records_for_pushed_images() {
    let Some(python) = tool("INTEROP_PYTHON", "github storage records") else {
        return;
    };
    let Some(registry) = tool("REGISTRY_BIN", "github storage records") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let reg = common::registry::TestRegistry::start(&registry, &dir.path().join("registry"), false);
    let digest = reg.push_image("octo-org/app", "v1", "records");
    let image = format!("{}/octo-org/app", reg.host);
    let (_org, org_url, org_log) = github_api(&python, dir.path(), "org", &[]);
    let (_user, user_url, user_log) =
        github_api(&python, dir.path(), "user", &["--owner-type", "User"]);
    let attest_image = |name: &str, api: &str, extra: &[(&str, &str)]| {
        let work = dir.path().join(name);
        std::fs::create_dir_all(&work).expect("mkdir");
        let outputs = work.join("github-output");
        let mut ci = env_file("github.env");
        ci.retain(|(k, _)| k != "GITHUB_API_URL");
        ci.push(("GITHUB_API_URL".into(), api.to_owned()));
        ci.push(("GITHUB_OUTPUT".into(), outputs.display().to_string()));
        let mut env = vec![
            ("CHAINSEAL_SUBJECT_NAME", image.as_str()),
            ("CHAINSEAL_SUBJECT_DIGEST", digest.as_str()),
            ("CHAINSEAL_PUSH_TO_REGISTRY", "true"),
            ("CHAINSEAL_INSECURE_REGISTRIES", reg.host.as_str()),
            ("CHAINSEAL_STORAGE", "attestations,github"),
            ("CHAINSEAL_GITHUB_TOKEN", WRITE_TOKEN),
        ];
        env.extend_from_slice(extra);
        let r = attest(&work, &ci, &env);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        output(&outputs, "storage-record-ids").expect("storage-record-ids")
    };
    assert_eq!(attest_image("org", &org_url, &[]), "1");
    let record = requests(&org_log)
        .into_iter()
        .find(|r| r["path"] == "/orgs/octo-org/artifacts/metadata/storage-record")
        .expect("a storage record request");
    let body: Value = serde_json::from_str(record["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["name"], image.as_str());
    assert_eq!(body["digest"], digest.as_str());
    assert_eq!(body["registry_url"], format!("https://{}", reg.host));
    assert!(body.get("version").is_none(), "{body}");
    // actions/attest's `subject-version` names the version in the record.
    assert_ne!(
        attest_image(
            "versioned",
            &org_url,
            &[("CHAINSEAL_SUBJECT_VERSION", "1.4.0")]
        ),
        ""
    );
    let record = requests(&org_log)
        .into_iter()
        .rfind(|r| r["path"] == "/orgs/octo-org/artifacts/metadata/storage-record")
        .expect("a storage record request");
    let body: Value = serde_json::from_str(record["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["version"], "1.4.0");
    assert_eq!(
        attest_image(
            "off",
            &org_url,
            &[("CHAINSEAL_GITHUB_STORAGE_RECORD", "false")]
        ),
        ""
    );
    assert_eq!(attest_image("user", &user_url, &[]), "");
    assert!(
        !requests(&user_log).iter().any(|r| r["path"]
            .as_str()
            .is_some_and(|p| p.contains("storage-record"))),
        "no storage record for a user's repository"
    );
}

/// As actions/attest: keyless `attest` in a GitHub job with no storage set stores in
/// the `attestations` directory and GitHub's attestation store (the action run with
/// an actions/attest workflow's inputs, pointed at the doubles: gh finds and verifies
/// the upload by owner); for that default
/// store any failure (403 without `attestations: write`, GHES's 404, a bad token, no
/// reply, an API URL the token may not go to) is a warning and the run succeeds with
/// the local store; a set storage, or signing with a key, leaves GitHub out.
#[test]
fn keyless_in_a_github_job_stores_in_github_by_default() {
    let Some(python) = tool("INTEROP_PYTHON", "github storage by default") else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double("github storage by default") else {
        return;
    };
    let Some(gh) = tool("GH_BIN", "github storage by default") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    gh_trusted_root(dir.path(), &url);
    let (_api, api_url, log) = github_api(&python, dir.path(), "api", &[]);
    let (_ghes, ghes_url, ghes_log) = github_api(&python, dir.path(), "ghes", &["--ghes"]);
    let (_oidc, info) = oidc_double_signing(&python, dir.path(), "good", &release_job_claims());
    let issuer = info["issuer"].as_str().expect("issuer").to_owned();
    let attest_with = |name: &str, api: &str, extra: &[(&str, &str)]| {
        let work = dir.path().join(name);
        artifacts(&work);
        let outputs = work.join("github-output");
        let mut ci = github_env_with_token(&info);
        ci.retain(|(k, _)| k != "GITHUB_API_URL");
        ci.push(("GITHUB_API_URL".into(), api.to_owned()));
        ci.push(("GITHUB_OUTPUT".into(), outputs.display().to_string()));
        let mut env = vec![
            ("CHAINSEAL_KEY", "keyless"),
            ("CHAINSEAL_FULCIO_URL", url.as_str()),
            ("CHAINSEAL_REKOR_URL", url.as_str()),
            ("CHAINSEAL_SUBJECT_PATH", "dist/*"),
            ("CHAINSEAL_STORAGE", ""),
            ("CHAINSEAL_GITHUB_TOKEN", WRITE_TOKEN),
            ("CHAINSEAL_GITHUB_OIDC_ISSUER", issuer.as_str()),
            ("CHAINSEAL_GITHUB_OIDC_ISSUER_OVERRIDE", "true"),
        ];
        env.extend_from_slice(extra);
        let r = attest(&work, &ci, &env);
        no_token_shown(&r);
        let id = output(&outputs, "attestation-id").unwrap_or_default();
        (r, work, id)
    };
    let posts = |log: &Path| {
        requests(log)
            .iter()
            .filter(|r| r["method"] == "POST")
            .count()
    };
    // actions/attest's inputs through chainseal's action (no `storage`, no `key`, the
    // job's token): the directory and GitHub. Only the services are the doubles.
    let work = dir.path().join("action");
    artifacts(&work);
    let outputs = work.join("github-output");
    let mut env = github_env_with_token(&info);
    env.extend(action_env(
        &[
            ("subject-path", "dist/*"),
            ("fulcio-url", url.as_str()),
            ("rekor-url", url.as_str()),
            ("oidc-issuer", issuer.as_str()),
        ],
        WRITE_TOKEN,
    ));
    env.retain(|(k, _)| k != "GITHUB_API_URL");
    env.push(("GITHUB_API_URL".into(), api_url.clone()));
    env.push(("GITHUB_OUTPUT".into(), outputs.display().to_string()));
    let r = run(crate::common::chainseal(&work).envs(env.iter().map(|(k, v)| (k, v))));
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_token_shown(&r);
    assert_eq!(local_attestations(&work), 1);
    assert_eq!(output(&outputs, "attestation-id").as_deref(), Some("1"));
    assert_eq!(posts(&log), 1);
    let found = gh_verify(
        &gh,
        dir.path(),
        &api_url,
        &issuer,
        &[
            work.join("dist/hello-linux-amd64").to_str().expect("utf-8"),
            "--owner",
            "octo-org",
        ],
    );
    assert_eq!(found.code, 0, "{}{}", found.stdout, found.stderr);
    assert!(
        found
            .stderr
            .contains("Loaded 1 attestation from GitHub API"),
        "{}",
        found.stderr
    );
    // The binary alike, with the storage variable empty (as the action passes it).
    let (r, work, id) = attest_with("default", &api_url, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(local_attestations(&work), 1);
    assert_eq!(id, "2");
    assert_eq!(posts(&log), 2);
    // No `attestations: write`, GHES, a bad token, no reply, an API URL the token may
    // not go to: a warning naming the fix, and the run succeeds with the local store.
    for (name, api, token, words) in [
        (
            "read-only",
            api_url.as_str(),
            READ_TOKEN,
            &["HTTP 403", "permissions: attestations: write"][..],
        ),
        (
            "ghes",
            ghes_url.as_str(),
            WRITE_TOKEN,
            &["HTTP 404", "GitHub Enterprise Server has none"][..],
        ),
        (
            "bad-token",
            api_url.as_str(),
            "ghs_wrong",
            &["HTTP 401", "CHAINSEAL_GITHUB_TOKEN"][..],
        ),
        (
            "down",
            "http://127.0.0.1:9",
            WRITE_TOKEN,
            &["no reply", "GITHUB_API_URL"][..],
        ),
        (
            "remote-http",
            "http://api.example.com",
            WRITE_TOKEN,
            &["is left out", "GITHUB_API_URL must be an https URL"][..],
        ),
    ] {
        let (r, work, id) = attest_with(name, api, &[("CHAINSEAL_GITHUB_TOKEN", token)]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains(
                "GitHub's attestation store, which keyless signing in a GitHub job uses by default"
            ),
            "{name}: {}",
            r.stderr
        );
        for w in words {
            assert!(r.stderr.contains(w), "{name}: `{w}` not in {}", r.stderr);
        }
        assert_eq!(local_attestations(&work), 1, "{name}");
        assert_eq!(id, "", "{name}: no attestation id for what was not stored");
    }
    assert_eq!(posts(&ghes_log), 1, "GHES was asked");
    // A set storage decides alone; a key leaves GitHub out.
    let before = posts(&log);
    let (r, work, id) = attest_with("set", &api_url, &[("CHAINSEAL_STORAGE", "attestations")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((local_attestations(&work), id.as_str()), (1, ""));
    let key = repo("examples/demo.key");
    let (r, work, id) = attest_with(
        "key",
        &api_url,
        &[("CHAINSEAL_KEY", key.to_str().expect("utf-8"))],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((local_attestations(&work), id.as_str()), (1, ""));
    assert_eq!(posts(&log), before, "nothing uploaded to GitHub");
}
