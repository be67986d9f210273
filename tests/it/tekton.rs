//! The `finally`-Task front door against the Kubernetes API double
//! (`tests/doubles/kube_api.py`): the real binary, with a kubeconfig pointing at the
//! double, reads a PipelineRun built from Chains' fixtures (`pipelinerun1.json` with
//! its TaskRuns, plus the running `finally` TaskRun), attests it, and writes Chains'
//! annotations back; the test decodes and verifies them. Also: a single TaskRun, RBAC
//! refusals, the annotation size limit, and the Task's result files.
//!
//! Needs `INTEROP_PYTHON` (the double and securesystemslib); skipped outside CI, with
//! a message, when it is unset.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{
    Run, Service, assert_error, chainseal, repo, run, securesystemslib_verifies, tool,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

const NS: &str = "ci";
const PR: &str = "pipelinerun-build";
const ADMIN: &str = "admin-token";
/// The finally Task's ServiceAccount `ci/chainseal`, with what `examples/tekton/rbac.yaml`
/// grants it (applied in `ci`): every chainseal run uses it, so a missing rule in the
/// example fails these tests.
const TASK: &str = "chainseal-token";
const FIXTURES: &str = "tests/fixtures/chains/unit-inputs/slsa-v2alpha4";
/// The PipelineRun's uid (pipelinerun1.json's).
const PR_UID: &str = "abhhf-12354-asjsdbjs23-3435353n";

/// The ownerReferences Tekton writes on a PipelineRun's TaskRuns
/// (`kmeta.NewControllerRef`): the PipelineRun, by uid, as the controller.
fn owned_by(name: &str, uid: &str) -> Value {
    json!([{"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "name": name, "uid": uid,
            "controller": true, "blockOwnerDeletion": true}])
}

/// The API double with its kubeconfig.
struct Cluster {
    _service: Service,
    port: u16,
    dir: PathBuf,
}

impl Cluster {
    /// Start the double seeded with `objects`, with the RBAC of `examples/tekton/rbac.yaml`
    /// in `ci` and the tokens [`ADMIN`] (system:masters) and [`TASK`]; `extra` is more of
    /// the double's config: its `tokens` and `rbac` entries are added, other keys set.
    fn start(python: &Path, dir: &Path, objects: &[Value], extra: Value) -> Self {
        let seed = dir.join("seed.json");
        std::fs::write(&seed, Value::Array(objects.to_vec()).to_string()).expect("seed");
        let mut config = json!({
            "tokens": {
                ADMIN: {"user": "admin", "groups": ["system:masters"]},
                TASK: {"serviceAccount": format!("{NS}/chainseal")},
            },
            "rbac": [{"file": repo("examples/tekton/rbac.yaml"), "namespace": NS}],
            "seed": [seed],
            "log": dir.join("requests.jsonl"),
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            match (k.as_str(), v) {
                ("tokens", Value::Object(tokens)) => {
                    for (token, entry) in tokens {
                        config["tokens"][token] = entry.clone();
                    }
                }
                ("rbac", Value::Array(files)) => config["rbac"]
                    .as_array_mut()
                    .expect("rbac list")
                    .extend(files.iter().cloned()),
                _ => config[k] = v.clone(),
            }
        }
        let (service, port) = common::kube_double(python, dir, &config);
        Self {
            _service: service,
            port,
            dir: dir.to_owned(),
        }
    }

    /// A kubeconfig for `token`, namespace `ci`.
    fn kubeconfig(&self, token: &str) -> PathBuf {
        common::kubeconfig(&self.dir, self.port, token)
    }

    /// GET an object as the admin, with curl (independent of chainseal).
    fn get(&self, plural: &str, name: &str) -> Value {
        let out = Command::new("curl")
            .args(["-sf", "-H", &format!("Authorization: Bearer {ADMIN}")])
            .arg(format!(
                "http://127.0.0.1:{}/apis/tekton.dev/v1/namespaces/{NS}/{plural}/{name}",
                self.port
            ))
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "GET {plural}/{name} failed");
        serde_json::from_slice(&out.stdout).expect("JSON object")
    }
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(repo(&format!("{FIXTURES}/{name}"))).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// Chains' pipelinerun1 with its two TaskRuns, as Tekton would have them while the
/// `finally` task runs: kinds and namespace set, TaskRuns labelled with their
/// PipelineRun, the PipelineRun still running, and the running finally TaskRun.
fn objects() -> Vec<Value> {
    let mut pr = fixture("pipelinerun1.json");
    pr["apiVersion"] = "tekton.dev/v1".into();
    pr["kind"] = "PipelineRun".into();
    pr["metadata"]["namespace"] = NS.into();
    pr["metadata"]["uid"] = PR_UID.into();
    let status = pr["status"].as_object_mut().expect("status");
    status.remove("completionTime");
    status.insert(
        "conditions".into(),
        json!([{"type": "Succeeded", "status": "Unknown", "reason": "Running"}]),
    );
    let mut out = vec![pr];
    for (file, uid) in [
        ("taskrun1.json", "uid-build"),
        ("taskrun2.json", "uid-clone"),
    ] {
        let mut tr = fixture(file);
        tr["apiVersion"] = "tekton.dev/v1".into();
        tr["kind"] = "TaskRun".into();
        tr["metadata"]["namespace"] = NS.into();
        tr["metadata"]["uid"] = uid.into();
        tr["metadata"]["labels"]["tekton.dev/pipelineRun"] = PR.into();
        tr["metadata"]["ownerReferences"] = owned_by(PR, PR_UID);
        out.push(tr);
    }
    out.push(json!({
        "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
        "metadata": {"name": format!("{PR}-attest"), "namespace": NS, "uid": "uid-attest",
                     "labels": {"tekton.dev/pipelineRun": PR, "tekton.dev/memberOf": "finally"},
                     "ownerReferences": owned_by(PR, PR_UID)},
        "spec": {"taskRef": {"name": "chainseal"}},
        "status": {"startTime": "2021-03-29T09:50:20Z",
                   "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Running"}]},
    }));
    out
}

fn attest(dir: &Path, kubeconfig: &Path, env: &[(&str, &str)]) -> Run {
    let mut cmd = chainseal(dir);
    cmd.env("KUBECONFIG", kubeconfig)
        .env("HOME", dir)
        .env("CHAINSEAL_KEY", repo("examples/demo.key"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// Decode the envelope annotation `key` of `obj`, verify it with chainseal and
/// securesystemslib, and return the Statement.
fn verify_annotation(dir: &Path, python: &Path, obj: &Value, key: &str) -> Value {
    let notes = &obj["metadata"]["annotations"];
    assert_eq!(notes["chains.tekton.dev/signed"], "true", "{notes}");
    assert_eq!(notes[format!("chains.tekton.dev/cert-{key}")], "");
    assert_eq!(notes[format!("chains.tekton.dev/chain-{key}")], "");
    let decode = |name: &str| {
        STANDARD
            .decode(
                notes[format!("chains.tekton.dev/{name}-{key}")]
                    .as_str()
                    .expect(name),
            )
            .expect("base64")
    };
    let envelope = decode("signature");
    let file = dir.join(format!("{key}.json"));
    std::fs::write(&file, &envelope).expect("write");
    let v = common::verify(dir, repo("examples/demo.pub"), &file);
    assert_eq!(v.code, 0, "chainseal verify: {}{}", v.stdout, v.stderr);
    let (ok, said) = securesystemslib_verifies(python, &file, &repo("examples/demo.pub"));
    assert!(ok, "securesystemslib: {said}");
    let env: Value = serde_json::from_slice(&envelope).expect("envelope JSON");
    let payload = STANDARD
        .decode(env["payload"].as_str().expect("payload"))
        .expect("base64");
    assert_eq!(
        decode("payload"),
        payload,
        "payload annotation = signed payload"
    );
    serde_json::from_slice(&payload).expect("Statement")
}

#[test]
fn a_finally_task_attests_its_running_pipelinerun() {
    let Some(python) = tool("INTEROP_PYTHON", "Tekton finally-task test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let cluster = Cluster::start(&python, dir.path(), &objects(), json!({}));
    let kubeconfig = cluster.kubeconfig(TASK);
    let results = dir.path().join("results");
    std::fs::create_dir(&results).expect("results dir");
    let (locations, subjects) = (results.join("ATTESTATIONS"), results.join("SUBJECTS"));
    let out = dir.path().join("out");
    let env = [
        ("CHAINSEAL_PIPELINERUN", PR),
        ("CHAINSEAL_STORAGE", &*format!("tekton,{}", out.display())),
        (
            "CHAINSEAL_RESULT_LOCATIONS",
            &*locations.display().to_string(),
        ),
        (
            "CHAINSEAL_RESULT_SUBJECTS",
            &*subjects.display().to_string(),
        ),
        // Empty values, as a Task passes unset params, count as unset.
        ("CHAINSEAL_TASKRUN", ""),
        ("CHAINSEAL_IMAGE_URL", ""),
        ("CHAINSEAL_IMAGE_DIGEST", ""),
        ("CHAINSEAL_SIGNING_SECRETS", ""),
    ];
    let r = attest(dir.path(), &kubeconfig, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let pr = cluster.get("pipelineruns", PR);
    let uid = pr["metadata"]["uid"].as_str().expect("uid");
    let statement = verify_annotation(dir.path(), &python, &pr, &format!("pipelinerun-{uid}"));
    let subjects_found: Vec<&str> = statement["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    // As Chains writes them (the build artifact `abc` is also re-parsed as an image).
    assert_eq!(
        subjects_found,
        ["abc", "test.io/test/image", "index.docker.io/library/abc"]
    );
    // The run was still running: finishedOn is the last finished TaskRun's, and the
    // provenance says so and names what was left out.
    assert_eq!(
        statement["predicate"]["runDetails"]["metadata"]["finishedOn"],
        "2021-03-29T09:50:15Z"
    );
    let state =
        &statement["predicate"]["buildDefinition"]["internalParameters"]["chainseal.dev/run-state"];
    assert_eq!(state["pipelineRun"], "Running", "{statement}");
    assert_eq!(
        state["excludedTaskRuns"],
        json!([{"name": format!("{PR}-attest"), "reason": "not finished"}])
    );
    // Tekton results for later tasks.
    let locations = std::fs::read_to_string(&locations).expect("locations result");
    assert!(
        locations.contains(&format!("tekton: pipelineruns.tekton.dev/{NS}/{PR}")),
        "{locations}"
    );
    assert!(locations.contains("file: "), "{locations}");
    let subjects = std::fs::read_to_string(&subjects).expect("subjects result");
    assert!(
        subjects.contains(
            "test.io/test/image@sha256:827521c857fdcd4374f4da5442fbae2edb01e7fbae285c3ec15673d4c1daecb7"
        ),
        "{subjects}"
    );
    // Again: nothing new.
    let r = attest(dir.path(), &kubeconfig, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.matches("(already present)").count(),
        2,
        "{}",
        r.stdout
    );

    // One TaskRun, and an image passed as parameters.
    let r = attest(
        dir.path(),
        &kubeconfig,
        &[
            ("CHAINSEAL_TASKRUN", "taskrun-build"),
            ("CHAINSEAL_STORAGE", "tekton"),
            ("CHAINSEAL_IMAGE_URL", "registry.example.com/extra"),
            (
                "CHAINSEAL_IMAGE_DIGEST",
                "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            ),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tr = cluster.get("taskruns", "taskrun-build");
    let statement = verify_annotation(dir.path(), &python, &tr, "taskrun-uid-build");
    assert!(
        statement["subject"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["name"] == "registry.example.com/extra")),
        "{statement}"
    );
    // A TaskRun still running is refused.
    let r = attest(
        dir.path(),
        &kubeconfig,
        &[
            ("CHAINSEAL_TASKRUN", &*format!("{PR}-attest")),
            ("CHAINSEAL_STORAGE", "tekton"),
        ],
    );
    assert_error(&r, "has not finished");
}

/// `examples/tekton/rbac.yaml` with `edits` applied (each must match) and its
/// ServiceAccount, Role and RoleBinding renamed `name`, written to `dir`.
fn rbac_variant(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(repo("examples/tekton/rbac.yaml")).expect("example");
    for (from, to) in edits {
        assert!(
            text.contains(from),
            "examples/tekton/rbac.yaml has no `{from}`"
        );
        text = text.replace(from, to);
    }
    assert!(
        text.contains("name: chainseal\n"),
        "examples/tekton/rbac.yaml names"
    );
    let path = dir.join(format!("rbac-{name}.yaml"));
    std::fs::write(
        &path,
        text.replace("name: chainseal\n", &format!("name: {name}\n")),
    )
    .expect("write RBAC");
    path
}

#[test]
fn rbac_refusals_name_the_verb_and_the_example_role() {
    let Some(python) = tool("INTEROP_PYTHON", "Tekton RBAC test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    // The example's RBAC without its taskruns rule, and without `patch` (as its comment
    // says to do when storing only in a registry), for ServiceAccounts of their own.
    let taskruns_rule = "  - apiGroups: [\"tekton.dev\"]\n    resources: [\"taskruns\"]\n    verbs: [\"get\", \"list\", \"patch\"]\n";
    let read_pr_only = rbac_variant(dir.path(), "read-pr-only", &[(taskruns_rule, "")]);
    let no_patch = rbac_variant(
        dir.path(),
        "no-patch",
        &[
            ("verbs: [\"get\", \"patch\"]", "verbs: [\"get\"]"),
            (
                "verbs: [\"get\", \"list\", \"patch\"]",
                "verbs: [\"get\", \"list\"]",
            ),
        ],
    );
    let extra = json!({
        "tokens": {
            "read-pr-only": {"serviceAccount": "ci/read-pr-only"},
            "no-patch": {"serviceAccount": "ci/no-patch"},
        },
        "rbac": [{"file": read_pr_only, "namespace": NS}, {"file": no_patch, "namespace": NS}],
    });
    let cluster = Cluster::start(&python, dir.path(), &objects(), extra);
    let r = attest(
        dir.path(),
        &cluster.kubeconfig("read-pr-only"),
        &[
            ("CHAINSEAL_PIPELINERUN", PR),
            ("CHAINSEAL_STORAGE", "tekton"),
        ],
    );
    assert_error(&r, "refused to list taskruns.tekton.dev");
    assert!(
        r.stderr.contains("examples/tekton/rbac.yaml"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("cannot list resource \"taskruns\""),
        "{}",
        r.stderr
    );
    let r = attest(
        dir.path(),
        &cluster.kubeconfig("no-patch"),
        &[
            ("CHAINSEAL_PIPELINERUN", PR),
            ("CHAINSEAL_STORAGE", "tekton"),
        ],
    );
    assert_error(&r, "refused to patch pipelineruns.tekton.dev");
    assert!(
        r.stderr.contains("User \"system:serviceaccount:ci:no-patch\" cannot patch resource \"pipelineruns\" in API group \"tekton.dev\" in the namespace \"ci\""),
        "{}",
        r.stderr
    );
    let pr = cluster.get("pipelineruns", PR);
    assert!(
        pr["metadata"]["annotations"]["chains.tekton.dev/signed"].is_null(),
        "nothing patched"
    );
    // Without `patch`, storing elsewhere works, as the example's comment says.
    let out = dir.path().join("out");
    let r = attest(
        dir.path(),
        &cluster.kubeconfig("no-patch"),
        &[
            ("CHAINSEAL_PIPELINERUN", PR),
            ("CHAINSEAL_STORAGE", &*format!("file://{}", out.display())),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = attest(
        dir.path(),
        &cluster.kubeconfig("wrong-token"),
        &[
            ("CHAINSEAL_PIPELINERUN", PR),
            ("CHAINSEAL_STORAGE", "tekton"),
        ],
    );
    assert_error(&r, "Unauthorized");
    let r = attest(
        dir.path(),
        &cluster.kubeconfig(TASK),
        &[
            ("CHAINSEAL_PIPELINERUN", "missing"),
            ("CHAINSEAL_STORAGE", "tekton"),
        ],
    );
    assert_error(
        &r,
        "pipelineruns.tekton.dev `missing` not found in namespace `ci`",
    );
}

#[test]
fn annotations_over_the_kubernetes_limit_are_refused_before_patching() {
    let Some(python) = tool("INTEROP_PYTHON", "Tekton annotation limit test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let mut objects = objects();
    objects[0]["metadata"]["annotations"] = json!({"big": "x".repeat(255 * 1024)});
    let cluster = Cluster::start(&python, dir.path(), &objects, json!({}));
    let r = attest(
        dir.path(),
        &cluster.kubeconfig(TASK),
        &[
            ("CHAINSEAL_PIPELINERUN", PR),
            ("CHAINSEAL_STORAGE", "tekton"),
        ],
    );
    assert_error(&r, "over Kubernetes' 256 KiB limit");
    assert!(r.stderr.contains("CHAINSEAL_STORAGE=oci"), "{}", r.stderr);
    let pr = cluster.get("pipelineruns", PR);
    assert_eq!(
        pr["metadata"]["annotations"].as_object().map(|m| m.len()),
        Some(1),
        "nothing patched"
    );
}

#[test]
fn annotations_pushed_over_the_limit_by_another_writer_are_reported() {
    let Some(python) = tool(
        "INTEROP_PYTHON",
        "Tekton annotation limit (API server) test",
    ) else {
        return;
    };
    // chainseal's own check passes (200 KiB + its annotations), but another writer adds
    // 60 KiB between its read and its patch: the API server's 422 is the answer.
    let dir = tempfile::tempdir().expect("tmp");
    let mut objects = objects();
    objects[0]["metadata"]["annotations"] = json!({"big": "x".repeat(200 * 1024)});
    let extra = json!({"concurrent_annotations": {PR: {"other-writer": "y".repeat(60 * 1024)}}});
    let cluster = Cluster::start(&python, dir.path(), &objects, extra);
    let r = attest(
        dir.path(),
        &cluster.kubeconfig(TASK),
        &[
            ("CHAINSEAL_PIPELINERUN", PR),
            ("CHAINSEAL_STORAGE", "tekton"),
        ],
    );
    assert_error(
        &r,
        "metadata.annotations: Too long: must have at most 262144 bytes",
    );
    assert!(r.stderr.contains(PR), "{}", r.stderr);
    let pr = cluster.get("pipelineruns", PR);
    let notes = pr["metadata"]["annotations"]
        .as_object()
        .expect("annotations");
    assert_eq!(
        notes.keys().collect::<Vec<_>>(),
        ["big", "other-writer"],
        "nothing of chainseal's was stored"
    );
}

/// A finished TaskRun that claims to belong to the PipelineRun (its labels say so) and
/// names an image of its own: `owners` are its ownerReferences (`Null` for none).
fn forged(name: &str, owners: Value) -> Value {
    let mut tr = fixture("taskrun1.json");
    tr["apiVersion"] = "tekton.dev/v1".into();
    tr["kind"] = "TaskRun".into();
    tr["metadata"]["name"] = name.into();
    tr["metadata"]["namespace"] = NS.into();
    tr["metadata"]["uid"] = format!("uid-{name}").into();
    tr["metadata"]["labels"]["tekton.dev/pipelineRun"] = PR.into();
    if !owners.is_null() {
        tr["metadata"]["ownerReferences"] = owners;
    }
    tr["status"]["results"] = json!([
        {"name": "IMAGE_URL", "value": format!("evil.example.com/{name}")},
        {"name": "IMAGE_DIGEST",
         "value": "sha256:6666666666666666666666666666666666666666666666666666666666666666"},
    ]);
    tr
}

/// Dry-run `attest` of the PipelineRun with deep inspection (children's results
/// become subjects).
fn dry_run(dir: &Path, kubeconfig: &Path) -> Run {
    attest(
        dir,
        kubeconfig,
        &[
            ("CHAINSEAL_PIPELINERUN", PR),
            ("CHAINSEAL_DRY_RUN", "true"),
            ("CHAINSEAL_DEEP_INSPECTION", "true"),
        ],
    )
}

#[test]
fn taskruns_not_owned_by_the_pipelinerun_are_never_attested() {
    let Some(python) = tool("INTEROP_PYTHON", "Tekton ownerReference test") else {
        return;
    };
    // Anyone who may create or label TaskRuns in the namespace can add the label
    // `tekton.dev/pipelineRun`; Tekton makes the PipelineRun their controller, with
    // `blockOwnerDeletion` (which the API server can restrict to its controller).
    let dir = tempfile::tempdir().expect("tmp");
    let mut seeded = objects();
    seeded.push(forged("forged-unowned", Value::Null));
    seeded.push(forged(
        "forged-foreign",
        owned_by("other-run", "uid-other-run"),
    ));
    let mut not_controller = owned_by(PR, PR_UID);
    not_controller[0]["controller"] = false.into();
    seeded.push(forged("forged-not-controller", not_controller));
    let mut not_blocking = owned_by(PR, PR_UID);
    not_blocking[0]
        .as_object_mut()
        .expect("reference")
        .remove("blockOwnerDeletion");
    seeded.push(forged("forged-not-blocking", not_blocking));
    let cluster = Cluster::start(&python, dir.path(), &seeded, json!({}));
    let kubeconfig = cluster.kubeconfig(TASK);
    let r = dry_run(dir.path(), &kubeconfig);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains("forged"),
        "a forged TaskRun was attested: {}",
        r.stdout
    );
    assert!(!r.stdout.contains("evil.example.com"), "{}", r.stdout);
    assert!(
        r.stdout.contains("gcr.io/my/image"),
        "the real child is in: {}",
        r.stdout
    );
    for name in [
        "forged-unowned",
        "forged-foreign",
        "forged-not-controller",
        "forged-not-blocking",
    ] {
        assert!(
            r.stderr.contains(name) && r.stderr.contains("not owned by PipelineRun"),
            "no warning about {name}: {}",
            r.stderr
        );
    }

    // The PipelineRun's status.childReferences naming a TaskRun another PipelineRun
    // owns: the record is inconsistent, so nothing is attested.
    let dir = tempfile::tempdir().expect("tmp");
    let mut seeded = objects();
    let refs = json!([
        {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "taskrun-build", "pipelineTaskName": "build"},
        {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "git-clone", "pipelineTaskName": "git-clone"},
        {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "forged-foreign", "pipelineTaskName": "build"},
    ]);
    seeded[0]["status"]["childReferences"] = refs.clone();
    seeded.push(forged(
        "forged-foreign",
        owned_by("other-run", "uid-other-run"),
    ));
    let cluster = Cluster::start(&python, dir.path(), &seeded, json!({}));
    let r = dry_run(dir.path(), &cluster.kubeconfig(TASK));
    assert_error(&r, "TaskRun `forged-foreign` is not owned by PipelineRun");
    assert!(r.stdout.is_empty(), "{}", r.stdout);

    // The same childReferences without the foreign TaskRun: attested.
    let dir = tempfile::tempdir().expect("tmp");
    let mut seeded = objects();
    seeded[0]["status"]["childReferences"] = json!([refs[0], refs[1]]);
    let cluster = Cluster::start(&python, dir.path(), &seeded, json!({}));
    let r = dry_run(dir.path(), &cluster.kubeconfig(TASK));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("gcr.io/my/image"), "{}", r.stdout);
}

/// Every request the double logged, oldest first.
fn logged(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("requests.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect()
}

#[test]
fn kubernetes_lists_are_paged_and_replies_capped() {
    let Some(python) = tool("INTEROP_PYTHON", "Kubernetes reply cap test") else {
        return;
    };
    // 40 more TaskRuns carry the PipelineRun's label (not owned: warned about and
    // skipped): the children's list takes two pages of 32.
    let dir = tempfile::tempdir().expect("tmp");
    let mut seeded = objects();
    seeded.extend((0..40).map(|i| forged(&format!("labelled-{i:02}"), Value::Null)));
    let cluster = Cluster::start(&python, dir.path(), &seeded, json!({}));
    let r = dry_run(dir.path(), &cluster.kubeconfig(TASK));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("gcr.io/my/image"), "{}", r.stdout);
    let lists: Vec<String> = logged(dir.path())
        .iter()
        .filter(|e| e["verb"] == "list")
        .filter_map(|e| e["path"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(lists.len(), 2, "two pages: {lists:?}");
    assert!(lists.iter().all(|p| p.contains("limit=32")), "{lists:?}");
    assert!(lists[1].contains("continue="), "{lists:?}");

    // A reply larger than 64 MiB (an object no API server would store) is refused
    // once the cap is reached, with a message that says so.
    let dir = tempfile::tempdir().expect("tmp");
    let mut seeded = objects();
    seeded[1]["metadata"]["annotations"]["huge"] = "x".repeat(65 << 20).into();
    let cluster = Cluster::start(&python, dir.path(), &seeded, json!({}));
    let r = attest(
        dir.path(),
        &cluster.kubeconfig(TASK),
        &[
            ("CHAINSEAL_TASKRUN", "taskrun-build"),
            ("CHAINSEAL_DRY_RUN", "true"),
        ],
    );
    assert_error(&r, "larger than 64 MiB");
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}
