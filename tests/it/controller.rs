//! `chainseal controller` against the Kubernetes API double (`tests/doubles/kube_api.py`,
//! real kube client, real watches): every completed run signed exactly once, failed
//! runs too, running ones left alone, PipelineRuns after their TaskRuns; retries and
//! `signed=failed` semantics; SIGKILL mid-stream and restart; SIGTERM shutdown.
//!
//! Needs `INTEROP_PYTHON` (the double and securesystemslib); skipped outside CI, with
//! a message, when it is unset.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Service, http_double, repo, securesystemslib_verifies, tool};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

const ADMIN: &str = "admin-token";
const CONTROLLER: &str = "controller-token";
const CONTROLLER_B: &str = "controller-b-token";

struct Scene {
    dir: tempfile::TempDir,
    python: PathBuf,
    _double: Service,
    port: u16,
}

fn taskrun(name: &str, status: &str) -> Value {
    let text = std::fs::read_to_string(repo(
        "tests/fixtures/chains/unit-inputs/slsa-v2alpha4/taskrun1.json",
    ))
    .expect("fixture");
    let mut tr: Value = serde_json::from_str(&text).expect("JSON");
    tr["apiVersion"] = "tekton.dev/v1".into();
    tr["kind"] = "TaskRun".into();
    tr["metadata"]["name"] = name.into();
    tr["metadata"]["namespace"] = "ci".into();
    tr["metadata"]["uid"] = format!("uid-{name}").into();
    tr["status"]["conditions"] = json!([{"type": "Succeeded", "status": status, "reason": "x"}]);
    tr
}

/// A succeeded TaskRun `namespace/name` (as `service_account`, when given) whose
/// results name the image `image@digest`.
fn image_run(
    namespace: &str,
    name: &str,
    service_account: Option<&str>,
    image: &str,
    digest: &str,
) -> Value {
    let mut tr = taskrun(name, "True");
    tr["metadata"]["namespace"] = namespace.into();
    if let Some(sa) = service_account {
        tr["spec"]["serviceAccountName"] = sa.into();
    }
    tr["status"]["results"] = json!([
        {"name": "IMAGE_URL", "value": image},
        {"name": "IMAGE_DIGEST", "value": digest},
    ]);
    tr
}

fn chains_config(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "chains-config", "namespace": "tekton-chains"},
           "data": data})
}

impl Scene {
    fn start(label: &str, objects: &[Value], fail_patches: Value) -> Option<Self> {
        let python = tool("INTEROP_PYTHON", &format!("controller test ({label})"))?;
        let dir = tempfile::tempdir().expect("tmp");
        let seed = dir.path().join("seed.json");
        std::fs::write(&seed, Value::Array(objects.to_vec()).to_string()).expect("seed");
        let config = json!({
            // The replicas authenticate as the controller's ServiceAccount and may do
            // what examples/controller/controller.yaml grants it; the log tells them
            // apart by `client`.
            "tokens": {
                ADMIN: {"user": "admin", "groups": ["system:masters"]},
                CONTROLLER: {"serviceAccount": "tekton-chains/chainseal-controller", "client": "replica-a"},
                CONTROLLER_B: {"serviceAccount": "tekton-chains/chainseal-controller", "client": "replica-b"},
            },
            "rbac": [{"file": repo("examples/controller/controller.yaml")}],
            // TokenRequest tokens, signed with the key the Sigstore double's Fulcio
            // trusts for the cluster issuer https://kubernetes.default.svc.
            "token_issuer_key": repo(common::TEST_ISSUER_KEY),
            "seed": [seed],
            "log": dir.path().join("requests.jsonl"),
            "history": 100000,
            "fail_patches": fail_patches,
        });
        let (double, port) = common::kube_double(&python, dir.path(), &config);
        // The signing-secrets Secret as Chains mounts it: x509.pem.
        let secrets = dir.path().join("signing-secrets");
        std::fs::create_dir(&secrets).expect("secrets dir");
        std::fs::copy(repo("examples/demo.key"), secrets.join("x509.pem")).expect("key");
        Some(Self {
            dir,
            python,
            _double: double,
            port,
        })
    }

    fn controller(&self, env: &[(&str, &str)]) -> Child {
        self.replica(CONTROLLER, "controller.log", env)
    }

    /// A controller process authenticating with `token`, logging to `log`.
    fn replica(&self, token: &str, log: &str, env: &[(&str, &str)]) -> Child {
        let kubeconfig = common::kubeconfig(self.dir.path(), self.port, token);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chainseal"));
        cmd.env_clear()
            .current_dir(self.dir.path())
            .arg("controller")
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", self.dir.path())
            .env(
                "CHAINSEAL_SIGNING_SECRETS",
                self.dir.path().join("signing-secrets"),
            )
            .env("CHAINSEAL_RETRY_BACKOFF_MS", "50")
            .env("CHAINSEAL_METRICS_ADDR", "off")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join(log)).expect("log"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("controller starts")
    }

    fn curl(&self, args: &[&str], path: &str) -> Value {
        let out = Command::new("curl")
            .args([
                "-sf",
                "--max-time",
                "30",
                "-H",
                &format!("Authorization: Bearer {ADMIN}"),
            ])
            .args(args)
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "curl {path} failed");
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    fn runs(&self, plural: &str) -> Vec<Value> {
        self.curl(&[], &format!("/apis/tekton.dev/v1/namespaces/ci/{plural}"))["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn create(&self, obj: &Value) {
        self.send(
            "POST",
            "application/json",
            obj,
            "/apis/tekton.dev/v1/namespaces/ci/taskruns",
        );
    }

    /// `method` `body` (of `content_type`) to `path`, as the admin.
    fn send(&self, method: &str, content_type: &str, body: &Value, path: &str) -> Value {
        let file = self.dir.path().join("request.json");
        std::fs::write(&file, body.to_string()).expect("body");
        self.curl(
            &[
                "-X",
                method,
                "-H",
                &format!("Content-Type: {content_type}"),
                "--data-binary",
                &format!("@{}", file.display()),
            ],
            path,
        )
    }

    /// One TaskRun, or `None` once it is gone.
    fn taskrun(&self, name: &str) -> Option<Value> {
        self.runs("taskruns")
            .into_iter()
            .find(|r| r["metadata"]["name"] == name)
    }

    /// Wait until the TaskRun `namespace/name` exists and `done(run)` holds (within
    /// `timeout`), or fail with the logs' tails; the run as it then was.
    fn wait_for_run(
        &self,
        namespace: &str,
        name: &str,
        timeout: Duration,
        done: &dyn Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let found = self.curl(
                &[],
                &format!("/apis/tekton.dev/v1/namespaces/{namespace}/taskruns"),
            )["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["metadata"]["name"] == name)
                .cloned();
            if let Some(run) = found
                && done(&run)
            {
                return run;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {namespace}/{name}:\n{}",
                self.log_tails()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Wait until `done(runs)` holds, or fail with the controller's log.
    fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&[Value]) -> bool) {
        let start = Instant::now();
        loop {
            let runs = self.runs("taskruns");
            if done(&runs) {
                return;
            }
            if start.elapsed() > timeout {
                let log = std::fs::read_to_string(self.dir.path().join("controller.log"))
                    .unwrap_or_default();
                let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
                panic!("timed out waiting for {what}; controller log (newest first):\n{tail}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Patches that mark a run (`signed` true or failed), per object name.
    fn storage_writes(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for (name, _) in marks(self) {
            *out.entry(name).or_insert(0) += 1;
        }
        out
    }
}

/// GET `path` from the controller's metrics server (`None` until it answers).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n')?;
    Some((code.trim().parse().ok()?, body.to_owned()))
}

fn annotation<'a>(run: &'a Value, name: &str) -> Option<&'a str> {
    run["metadata"]["annotations"][format!("chains.tekton.dev/{name}")].as_str()
}

fn signed(runs: &[Value]) -> usize {
    runs.iter()
        .filter(|r| matches!(annotation(r, "signed"), Some("true" | "failed")))
        .count()
}

/// The envelope annotation of `run` verifies with chainseal and securesystemslib, and
/// its payload annotation is the signed payload.
fn assert_verifies(scene: &Scene, run: &Value) {
    let uid = run["metadata"]["uid"].as_str().expect("uid");
    let key = format!("taskrun-{uid}");
    let decode = |name: &str| {
        STANDARD
            .decode(
                annotation(run, &format!("{name}-{key}"))
                    .unwrap_or_else(|| panic!("{name}-{key} missing")),
            )
            .expect("base64")
    };
    let envelope = decode("signature");
    let file = scene.dir.path().join(format!("{key}.json"));
    std::fs::write(&file, &envelope).expect("write");
    let v = common::verify(scene.dir.path(), repo("examples/demo.pub"), &file);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let (ok, said) = securesystemslib_verifies(&scene.python, &file, &repo("examples/demo.pub"));
    assert!(ok, "securesystemslib: {said}");
    let env: Value = serde_json::from_slice(&envelope).expect("envelope");
    let payload = STANDARD
        .decode(env["payload"].as_str().expect("payload"))
        .expect("base64");
    assert_eq!(decode("payload"), payload);
    let statement: Value = serde_json::from_slice(&payload).expect("statement");
    // chains-config's default format in controller mode: in-toto (SLSA v0.2).
    assert_eq!(
        statement["predicateType"],
        "https://slsa.dev/provenance/v0.2"
    );
}

fn stop(mut child: Child) -> i32 {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > Duration::from_secs(30) {
            // Not left running after the test.
            let _ = child.kill();
            let _ = child.wait();
            panic!("no exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Image signatures off: the fixture's images live in no registry here.
fn config() -> Value {
    chains_config(json!({"artifacts.oci.storage": ""}))
}

#[test]
fn every_completed_run_is_signed_exactly_once() {
    let mut objects = vec![config()];
    for i in 0..300 {
        let status = match i % 10 {
            0 => "Unknown", // still running: left alone
            1 => "False",   // failed runs are signed too
            _ => "True",
        };
        objects.push(taskrun(&format!("tr-{i:04}"), status));
    }
    let mut child = taskrun("child-a", "True");
    child["metadata"]["labels"] = json!({"tekton.dev/pipelineRun": "pr-1"});
    child["metadata"]["ownerReferences"] = owner("pr-1");
    objects.push(pipelinerun("pr-1", &["child-a"]));
    objects.push(child);
    let Some(scene) = Scene::start("exactly once", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[
        ("CHAINSEAL_WORKERS", "4"),
        // Any free port: the controller logs which.
        ("CHAINSEAL_METRICS_ADDR", "127.0.0.1:0"),
    ])));
    let metrics_port = scene.metrics_port("controller.log");
    // Runs completing while it watches.
    for i in 300..350 {
        scene.create(&taskrun(&format!("tr-{i:04}"), "True"));
    }
    let expected = 350 - 30 + 1; // every tenth of the first 300 is running; + child-a
    scene.wait_for_record(
        "every completed run marked",
        Duration::from_secs(120),
        |r| r.marked("taskruns").len() >= expected && r.marked("pipelineruns").contains("pr-1"),
    );
    // A barrier instead of a pause: a run of each kind created now is handled only
    // after the controller's watches delivered the events of every mark before it
    // (its own marks come back as MODIFIED events). Once both are marked, every second
    // look at a marked run is queued or done, and SIGTERM finishes the queue: a run
    // signed twice is then in the double's record.
    scene.create(&taskrun("sentinel", "True"));
    scene.send(
        "POST",
        "application/json",
        &pipelinerun("pr-sentinel", &[]),
        "/apis/tekton.dev/v1/namespaces/ci/pipelineruns",
    );
    scene.wait_for_record("the sentinel runs marked", Duration::from_secs(60), |r| {
        r.marked("taskruns").contains("sentinel")
            && r.marked("pipelineruns").contains("pr-sentinel")
    });
    let (code, _) = http_get(metrics_port, "/readyz").expect("readyz answers");
    assert_eq!(code, 200);
    let (code, text) = http_get(metrics_port, "/metrics").expect("metrics answer");
    assert_eq!(code, 200);
    let taskruns = expected + 1; // + the sentinel
    for line in [
        format!("watcher_taskrun_marked_signed_total {taskruns}"),
        format!("watcher_taskrun_sign_created_total {taskruns}"),
        "watcher_pipelinerun_marked_signed_total 2".to_owned(),
        "chainseal_leader 1".to_owned(),
    ] {
        assert!(text.contains(&line), "{line} missing in:\n{text}");
    }
    assert_eq!(controller.stop(), 0, "SIGTERM: clean exit");
    // The controller is gone: the record is complete.
    let record = scene.record();
    let runs = scene.runs("taskruns");
    let running: Vec<&str> = runs
        .iter()
        .filter(|r| r["status"]["conditions"][0]["status"] == "Unknown")
        .filter_map(|r| r["metadata"]["name"].as_str())
        .collect();
    for r in &runs {
        let name = r["metadata"]["name"].as_str().unwrap_or_default();
        let want = if running.contains(&name) {
            None
        } else {
            Some("true")
        };
        assert_eq!(annotation(r, "signed"), want, "{name}");
    }
    record.assert_signed_once(taskruns + 2);
    let touched: Vec<&Value> = record
        .0
        .iter()
        .filter(|w| w["resource"] == "taskruns" && w["user"] == "replica-a")
        .filter(|w| running.iter().any(|n| w["name"] == *n))
        .collect();
    assert!(touched.is_empty(), "running runs written: {touched:#?}");
    let marks = record.marks();
    let seq_of = |name: &str| {
        marks
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.seq)
            .unwrap_or_else(|| panic!("{name} unmarked\n{}", record.summary()))
    };
    assert!(
        seq_of("child-a") < seq_of("pr-1"),
        "the PipelineRun is marked after its TaskRun\n{}",
        record.summary()
    );
    for r in runs
        .iter()
        .filter(|r| annotation(r, "signed").is_some())
        .step_by(37)
    {
        assert_verifies(&scene, r);
    }
}

#[test]
fn failures_count_retries_then_mark_failed_never_signed() {
    let objects = vec![
        config(),
        taskrun("flaky", "True"),
        taskrun("broken", "True"),
        taskrun("fine", "True"),
    ];
    let Some(scene) = Scene::start("retries", &objects, json!({"flaky": 2, "broken": 100})) else {
        return;
    };
    // Also under a client-side rate limit (the limiter's timing is unit-tested).
    let controller = Running(Some(scene.controller(&[
        ("CHAINSEAL_KUBE_API_QPS", "200"),
        ("CHAINSEAL_KUBE_API_BURST", "5"),
    ])));
    scene.wait_for("all three handled", Duration::from_secs(60), |runs| {
        signed(runs) == 3
    });
    assert_eq!(controller.stop(), 0);
    let runs = scene.runs("taskruns");
    let by_name = |n: &str| {
        runs.iter()
            .find(|r| r["metadata"]["name"] == n)
            .cloned()
            .unwrap_or_default()
    };
    let flaky = by_name("flaky");
    assert_eq!(annotation(&flaky, "signed"), Some("true"));
    assert_eq!(
        annotation(&flaky, "retries"),
        Some("1"),
        "two failures: 0, then 1"
    );
    assert_verifies(&scene, &flaky);
    let broken = by_name("broken");
    assert_eq!(annotation(&broken, "signed"), Some("failed"));
    assert_eq!(annotation(&broken, "retries"), Some("3"));
    assert!(
        annotation(&broken, "payload-taskrun-uid-broken").is_none(),
        "a failed run carries no attestation"
    );
    let fine = by_name("fine");
    assert_eq!(annotation(&fine, "signed"), Some("true"));
    assert_eq!(annotation(&fine, "retries"), None);
    // `kubectl describe` shows why: Warning Events on the runs.
    let events = scene.curl(&[], "/apis/events.k8s.io/v1/namespaces/ci/events")["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let reasons = |name: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["regarding"]["name"] == name)
            .filter_map(|e| e["reason"].as_str().map(str::to_owned))
            .collect()
    };
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).unwrap_or_default();
    assert!(
        reasons("flaky").contains(&"SigningFailed".to_owned()),
        "{events:?}\n{log}"
    );
    assert!(
        reasons("broken").contains(&"MarkedFailed".to_owned()),
        "{events:?}"
    );
    assert!(reasons("fine").is_empty());
    let failed = events
        .iter()
        .find(|e| e["reason"] == "MarkedFailed")
        .expect("MarkedFailed event");
    assert_eq!(failed["type"], "Warning");
    assert!(
        failed["note"]
            .as_str()
            .is_some_and(|n| n.contains("storage")),
        "{failed}"
    );
}

#[test]
fn a_killed_controller_loses_nothing_on_restart() {
    let mut objects = vec![config()];
    for i in 0..400 {
        objects.push(taskrun(&format!("tr-{i:04}"), "True"));
    }
    let Some(scene) = Scene::start("restart", &objects, json!({})) else {
        return;
    };
    // The double lets replica A's first 40 marks through and holds the next ones,
    // never applied: the kill lands with marks in flight, at the same point on a fast
    // machine and on a loaded one.
    scene.hold_marks(40, "replica-a");
    let mut first = Running(Some(scene.controller(&[("CHAINSEAL_WORKERS", "2")])));
    scene.wait_for_record("a mark held after 40", Duration::from_secs(120), |r| {
        r.count("held") >= 1
    });
    first.kill();
    let record = scene.wait_for_record(
        "the held marks' client gone",
        Duration::from_secs(60),
        |r| r.count("dropped") == r.count("held"),
    );
    let partial = record.marks();
    assert_eq!(
        partial.len(),
        40,
        "marks before the kill\n{}",
        record.summary()
    );
    assert_eq!(
        signed(&scene.runs("taskruns")),
        40,
        "runs marked before the kill"
    );
    // Nothing marked signed without its attestation.
    for r in scene.runs("taskruns") {
        if annotation(&r, "signed") == Some("true") {
            let uid = r["metadata"]["uid"].as_str().unwrap_or_default();
            assert!(annotation(&r, &format!("signature-taskrun-{uid}")).is_some());
        }
    }
    // The restarted controller (another process, replica B's client name).
    let second = Running(Some(scene.replica(CONTROLLER_B, "b.log", &[])));
    scene.wait_for_record(
        "all runs marked after the restart",
        Duration::from_secs(120),
        |r| r.marks().len() >= 400,
    );
    assert_eq!(second.stop(), 0);
    let record = scene.record();
    record.assert_signed_once(400);
    let held: Vec<String> = record
        .0
        .iter()
        .filter(|w| w["verb"] == "held")
        .filter_map(|w| w["name"].as_str().map(str::to_owned))
        .collect();
    for mark in record.marks() {
        let want = if partial.iter().any(|m| m.name == mark.name) {
            "replica-a"
        } else {
            "replica-b"
        };
        assert_eq!(mark.user, want, "{} marked by {}", mark.name, mark.user);
        if held.contains(&mark.name) {
            assert_eq!(mark.user, "replica-b", "a held mark was applied");
        }
    }
    for r in scene.runs("taskruns").iter().step_by(53) {
        assert_verifies(&scene, r);
    }
}

#[test]
fn chains_config_is_validated_and_watched_live() {
    // Invalid at start-up: exit 2 naming the key, the value and what is allowed.
    let bad = vec![chains_config(
        json!({"artifacts.taskrun.format": "slsa/v9"}),
    )];
    let Some(scene) = Scene::start("bad config", &bad, json!({})) else {
        return;
    };
    let code = exit_code_within(scene.controller(&[]), Duration::from_secs(60));
    assert_eq!(code, Some(2));
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).expect("log");
    assert!(
        log.contains("`artifacts.taskrun.format` is `slsa/v9`") && log.contains("slsa/v2alpha4"),
        "{log}"
    );
    let unsupported = vec![chains_config(
        json!({"artifacts.taskrun.storage": "tekton,kafka"}),
    )];
    let Some(scene) = Scene::start("unsupported backend", &unsupported, json!({})) else {
        return;
    };
    let code = exit_code_within(scene.controller(&[]), Duration::from_secs(60));
    assert_eq!(code, Some(2));
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).expect("log");
    assert!(log.contains("names `kafka`"), "{log}");

    // Live: a run signed with the default format (in-toto: SLSA v0.2); the ConfigMap
    // changes to slsa/v2alpha4; the next run is SLSA v1.0.
    let Some(scene) = Scene::start(
        "live config",
        &[config(), taskrun("before", "True")],
        json!({}),
    ) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    scene.wait_for("the first run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 1
    });
    let patch = scene.dir.path().join("patch.json");
    std::fs::write(
        &patch,
        json!({"data": {"artifacts.taskrun.format": "slsa/v2alpha4"}}).to_string(),
    )
    .expect("patch");
    scene.curl(
        &[
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/merge-patch+json",
            "--data-binary",
            &format!("@{}", patch.display()),
        ],
        "/api/v1/namespaces/tekton-chains/configmaps/chains-config",
    );
    let log_path = scene.dir.path().join("controller.log");
    let start = Instant::now();
    while !std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .contains("settings rebuilt")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the change was not picked up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    scene.create(&taskrun("after", "True"));
    scene.wait_for("the second run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 2
    });
    assert_eq!(controller.stop(), 0);
    let predicate = |name: &str| {
        let runs = scene.runs("taskruns");
        let run = runs
            .iter()
            .find(|r| r["metadata"]["name"] == name)
            .cloned()
            .unwrap_or_default();
        let uid = run["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let payload = STANDARD
            .decode(annotation(&run, &format!("payload-taskrun-{uid}")).expect("payload"))
            .expect("base64");
        let statement: Value = serde_json::from_slice(&payload).expect("statement");
        statement["predicateType"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(predicate("before"), "https://slsa.dev/provenance/v0.2");
    assert_eq!(predicate("after"), "https://slsa.dev/provenance/v1");
}

/// A PipelineRun that succeeded, with `children` (TaskRun names) in its status.
fn pipelinerun(name: &str, children: &[&str]) -> Value {
    let refs: Vec<Value> = children
        .iter()
        .map(|c| json!({"kind": "TaskRun", "name": c, "pipelineTaskName": c}))
        .collect();
    json!({
        "apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
        "metadata": {"name": name, "namespace": "ci", "uid": format!("uid-{name}")},
        "spec": {"pipelineRef": {"name": "build"}},
        "status": {"conditions": [{"type": "Succeeded", "status": "True"}],
                   "startTime": "2021-03-29T09:50:00Z", "completionTime": "2021-03-29T09:55:00Z",
                   "childReferences": refs},
    })
}

/// One `chains.tekton.dev/signed` write the double applied.
#[derive(Debug)]
struct Mark {
    /// Its place in the double's record.
    seq: usize,
    /// `taskruns` or `pipelineruns`.
    resource: String,
    name: String,
    /// The client that wrote it (`replica-a`, `replica-b`).
    user: String,
}

/// One write the double applied to the controller's Lease.
#[derive(Debug)]
struct LeaseWrite {
    seq: usize,
    /// When the double applied it (seconds since the epoch).
    time: f64,
    user: String,
    /// `holderIdentity` after the write.
    holder: Option<String>,
    /// `renewTime` after the write (seconds since the epoch).
    renewed: Option<f64>,
    /// `leaseDurationSeconds` after the write.
    duration: Option<f64>,
}

/// What the Kubernetes API double saw (`GET /debug/writes`): every write it applied,
/// in the order applied, with the client that made it, the `chains.tekton.dev/*`
/// annotations it set and a Lease's spec; and the marks its gate held and dropped.
struct Record(Vec<Value>);

impl Record {
    /// Entries of `verb` (`held`, `dropped`, `patch`, …).
    fn count(&self, verb: &str) -> usize {
        self.0.iter().filter(|w| w["verb"] == verb).count()
    }

    /// Every write that set `chains.tekton.dev/signed`, oldest first.
    fn marks(&self) -> Vec<Mark> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, w)| w["annotations"]["chains.tekton.dev/signed"].is_string())
            .map(|(seq, w)| Mark {
                seq,
                resource: w["resource"].as_str().unwrap_or_default().to_owned(),
                name: w["name"].as_str().unwrap_or_default().to_owned(),
                user: w["user"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }

    /// The names of the runs of `resource` marked at least once.
    fn marked(&self, resource: &str) -> std::collections::BTreeSet<String> {
        self.marks()
            .into_iter()
            .filter(|m| m.resource == resource)
            .map(|m| m.name)
            .collect()
    }

    /// Per run (`resource/name`), the writes that set an annotation starting with `prefix`.
    fn writes_setting(&self, prefix: &str) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for w in &self.0 {
            let sets = w["annotations"]
                .as_object()
                .is_some_and(|a| a.keys().any(|k| k.starts_with(prefix)));
            if sets {
                let run = format!(
                    "{}/{}",
                    w["resource"].as_str().unwrap_or_default(),
                    w["name"].as_str().unwrap_or_default()
                );
                *out.entry(run).or_insert(0) += 1;
            }
        }
        out
    }

    /// Assert that exactly `runs` runs were marked, each once, and that each run marked
    /// `true` had its signature written once: nothing was signed twice.
    fn assert_signed_once(&self, runs: usize) {
        let marks = self.writes_setting("chains.tekton.dev/signed");
        let signatures = self.writes_setting("chains.tekton.dev/signature-");
        let twice: Vec<_> = marks.iter().filter(|(_, n)| **n != 1).collect();
        assert!(
            twice.is_empty(),
            "marked more than once: {twice:?}\n{}",
            self.summary()
        );
        let resigned: Vec<_> = signatures.iter().filter(|(_, n)| **n != 1).collect();
        assert!(
            resigned.is_empty(),
            "signed more than once: {resigned:?}\n{}",
            self.summary()
        );
        assert_eq!(marks.len(), runs, "runs marked\n{}", self.summary());
        let unsigned: Vec<Mark> = self
            .marks()
            .into_iter()
            .filter(|m| !signatures.contains_key(&format!("{}/{}", m.resource, m.name)))
            .collect();
        let failed = self
            .0
            .iter()
            .filter(|w| w["annotations"]["chains.tekton.dev/signed"] == "failed")
            .count();
        assert_eq!(
            unsigned.len(),
            failed,
            "marked without a signature: {unsigned:?}"
        );
    }

    /// Every write to the controller's Lease, oldest first.
    fn lease_writes(&self) -> Vec<LeaseWrite> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, w)| w["resource"] == "leases" && w["name"] == "chainseal-controller")
            .map(|(seq, w)| LeaseWrite {
                seq,
                time: w["time"].as_f64().unwrap_or_default(),
                user: w["user"].as_str().unwrap_or_default().to_owned(),
                holder: w["lease"]["holderIdentity"].as_str().map(str::to_owned),
                renewed: w["lease"]["renewEpoch"].as_f64(),
                duration: w["lease"]["leaseDurationSeconds"].as_f64(),
            })
            .collect()
    }

    /// Assert that every mark was written by the replica holding the Lease then (a
    /// holder identity belongs to the client that first wrote it).
    fn assert_only_the_holder_marks(&self) {
        let leases = self.lease_writes();
        let mut owners = std::collections::HashMap::new();
        for l in &leases {
            if let Some(h) = &l.holder {
                owners.entry(h.clone()).or_insert(l.user.clone());
            }
        }
        for mark in self.marks() {
            let holder = leases
                .iter()
                .rfind(|l| l.seq < mark.seq)
                .and_then(|l| l.holder.as_ref());
            let owner = holder.and_then(|h| owners.get(h));
            assert_eq!(
                owner,
                Some(&mark.user),
                "{} marked by {} while the lease was held by {holder:?}\n{}",
                mark.name,
                mark.user,
                self.summary()
            );
        }
    }

    /// What the record shows, for failure messages: marks per client, the Lease's
    /// holders, the gate, the last writes.
    fn summary(&self) -> String {
        let mut by_user = std::collections::BTreeMap::new();
        for m in self.marks() {
            *by_user.entry(m.user).or_insert(0) += 1;
        }
        let mut holders = Vec::new();
        for l in self.lease_writes() {
            let entry = format!("#{} {} → {:?}", l.seq, l.user, l.holder);
            if holders.last().is_none_or(|(h, _)| *h != l.holder) {
                holders.push((l.holder, entry));
            }
        }
        let holders: Vec<String> = holders.into_iter().map(|(_, e)| e).collect();
        let last: Vec<String> = self
            .0
            .iter()
            .rev()
            .take(8)
            .map(|w| {
                format!(
                    "{} {} {} by {}",
                    w["verb"], w["resource"], w["name"], w["user"]
                )
            })
            .collect();
        format!(
            "the double recorded {} writes; marks by client: {by_user:?}; lease holders: {holders:?}; held: {}, dropped: {}; newest first: {last:#?}",
            self.0.len(),
            self.count("held"),
            self.count("dropped"),
        )
    }
}

impl Scene {
    /// What the double has recorded so far.
    fn record(&self) -> Record {
        Record(
            self.curl(&[], "/debug/writes")["writes"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// Wait until `done` holds for the double's record, polling it (`timeout` at the
    /// most, a generous bound that only a broken controller reaches), or fail naming
    /// `what` with what the double saw and the controllers' logs.
    fn wait_for_record(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Record) -> bool,
    ) -> Record {
        let start = Instant::now();
        loop {
            let record = self.record();
            if done(&record) {
                return record;
            }
            if start.elapsed() > timeout {
                panic!(
                    "timed out ({timeout:?}) waiting for {what}; {}\n{}",
                    record.summary(),
                    self.log_tails()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait (60 s at most) until the double's request log has a request `matches` accepts.
    fn wait_for_request(&self, what: &str, matches: impl Fn(&Value) -> bool) {
        let log = self.dir.path().join("requests.jsonl");
        let start = Instant::now();
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|r| matches(&r))
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}\n{}",
                self.log_tails()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Arm the double's gate: `user`'s first `marks` marks pass, later ones are held
    /// (never applied) until the client goes away.
    fn hold_marks(&self, marks: usize, user: &str) {
        self.send(
            "POST",
            "application/json",
            &json!({"marks": marks, "user": user}),
            "/debug/hold",
        );
    }

    /// The port of the metrics server of the controller logging to `log`, told to
    /// listen on port 0: read from its start-up line (60 s at most).
    fn metrics_port(&self, log: &str) -> u16 {
        let path = self.dir.path().join(log);
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Some(port) = text
                .lines()
                .find_map(|l| common::port_after(l, "/readyz on 127.0.0.1:"))
            {
                return port;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{log} names no metrics port:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of every controller log, for failure messages.
    fn log_tails(&self) -> String {
        let mut out = String::new();
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            out.push_str(&format!("--- {} (last lines):\n{tail}\n", log.display()));
        }
        out
    }
}

/// Who wrote each `signed` mark: (run name, user), in order.
fn marks(scene: &Scene) -> Vec<(String, String)> {
    let log = std::fs::read_to_string(scene.dir.path().join("requests.jsonl")).unwrap_or_default();
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| {
            r["verb"] == "patch" && r["body"].to_string().contains("chains.tekton.dev/signed")
        })
        .map(|r| {
            let name = r["path"]
                .as_str()
                .and_then(|p| p.split('?').next())
                .and_then(|p| p.rsplit('/').next())
                .unwrap_or_default()
                .to_owned();
            (name, r["user"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn only_the_leader_signs_and_a_standby_takes_over() {
    let mut objects = vec![config()];
    for i in 0..50 {
        objects.push(taskrun(&format!("early-{i:03}"), "True"));
    }
    let Some(scene) = Scene::start("leader election", &objects, json!({})) else {
        return;
    };
    // A 6 s lease is renewed 2 s before it ends (a third of it): a loaded machine
    // may be late by a second without the leader losing it.
    let lease = ("CHAINSEAL_LEASE_DURATION", "6");
    let mut a = Running(Some(scene.replica(CONTROLLER, "a.log", &[lease])));
    scene.wait_for_record(
        "replica A signs the backlog",
        Duration::from_secs(120),
        |r| r.marks().len() >= 50,
    );
    let b = Running(Some(scene.replica(
        CONTROLLER_B,
        "b.log",
        &[lease, ("CHAINSEAL_METRICS_ADDR", "127.0.0.1:0")],
    )));
    // The standby, once it has read the Lease (held by A), answers health checks but
    // does not lead.
    let b_port = scene.metrics_port("b.log");
    scene.wait_for_request("replica B reads the Lease", |r| {
        r["user"] == "replica-b" && r["resource"] == "leases" && r["verb"] == "get"
    });
    let text = http_get(b_port, "/metrics")
        .filter(|(code, _)| *code == 200)
        .map(|(_, text)| text)
        .expect("the standby serves metrics");
    assert!(text.contains("chainseal_leader 0"), "{text}");
    for i in 0..10 {
        scene.create(&taskrun(&format!("middle-{i:03}"), "True"));
    }
    scene.wait_for_record("the leader signs new runs", Duration::from_secs(120), |r| {
        r.marks().len() >= 60
    });
    // Kill the leader without letting it release the lease. Whatever the double
    // records from here on happened after A died.
    a.kill();
    let killed_at = scene.record().0.len();
    for i in 0..10 {
        scene.create(&taskrun(&format!("late-{i:03}"), "True"));
    }
    scene.wait_for_record(
        "the standby takes over and signs the late runs",
        Duration::from_secs(120),
        |r| r.marks().len() >= 70,
    );
    assert_eq!(b.stop(), 0);
    let record = scene.record();
    record.assert_signed_once(70);
    let summary = record.summary();
    for mark in record.marks() {
        let want = if mark.name.starts_with("late-") {
            "replica-b"
        } else {
            "replica-a"
        };
        assert_eq!(
            mark.user, want,
            "{} marked by {}\n{summary}",
            mark.name, mark.user
        );
    }
    record.assert_only_the_holder_marks();
    // The Lease: A held it first; B wrote it only after A died, and only once A's
    // last renewal had expired.
    let leases = record.lease_writes();
    let first = leases
        .iter()
        .find(|l| l.holder.is_some())
        .unwrap_or_else(|| panic!("nobody held the lease\n{summary}"));
    assert_eq!(first.user, "replica-a", "the first holder\n{summary}");
    let b_writes: Vec<&LeaseWrite> = leases.iter().filter(|l| l.user == "replica-b").collect();
    let takeover = b_writes
        .first()
        .unwrap_or_else(|| panic!("replica B never wrote the lease\n{summary}"));
    assert!(
        takeover.seq >= killed_at,
        "replica B wrote the lease (#{}) while A was alive (killed at #{killed_at})\n{summary}",
        takeover.seq
    );
    assert!(
        b_writes.iter().any(|l| l.holder.is_some()),
        "replica B never held the lease\n{summary}"
    );
    let last_renewal = leases
        .iter()
        .filter(|l| l.user == "replica-a" && l.seq < takeover.seq)
        .filter_map(|l| Some(l.renewed? + l.duration?))
        .next_back()
        .unwrap_or_else(|| panic!("no renewal by replica A\n{summary}"));
    assert!(
        takeover.time >= last_renewal,
        "replica B took the lease {:.3} s before A's lease expired\n{summary}",
        last_renewal - takeover.time
    );
    eprintln!(
        "takeover {:.1} s after A's lease expired",
        takeover.time - last_renewal
    );
}

fn finalizers_of(runs: &[Value], name: &str) -> Option<Vec<String>> {
    let run = runs.iter().find(|r| r["metadata"]["name"] == name)?;
    Some(
        run["metadata"]["finalizers"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

fn with_finalizers(mut run: Value, finalizers: &[&str], deleting: bool) -> Value {
    run["metadata"]["finalizers"] = json!(finalizers);
    if deleting {
        run["metadata"]["deletionTimestamp"] = json!("2026-11-26T08:00:00Z");
    }
    run
}

#[test]
fn opt_in_finalizers_hold_runs_until_handled_and_chains_leftovers_are_released() {
    let signed_run = |name: &str| {
        let mut r = taskrun(name, "True");
        r["metadata"]["annotations"]["chains.tekton.dev/signed"] = json!("true");
        r
    };
    let objects = vec![
        config(),
        taskrun("running", "Unknown"),
        taskrun("doomed", "Unknown"),
        // Deleted while no controller ran, unsigned, with Chains' finalizer and another.
        with_finalizers(
            taskrun("leftover", "True"),
            &["example.com/keep", "chains.tekton.dev/taskrun"],
            true,
        ),
        // Signed by Chains, which left its legacy finalizer.
        with_finalizers(signed_run("old"), &["chains.tekton.dev"], false),
    ];
    let Some(scene) = Scene::start("finalizers", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[("CHAINSEAL_FINALIZERS", "true")])));
    let mine = vec!["chains.tekton.dev/taskrun".to_owned()];
    scene.wait_for(
        "finalizers on running runs, leftovers released",
        Duration::from_secs(60),
        |runs| {
            finalizers_of(runs, "running") == Some(mine.clone())
                && finalizers_of(runs, "doomed") == Some(mine.clone())
                && finalizers_of(runs, "leftover") == Some(vec!["example.com/keep".into()])
                && finalizers_of(runs, "old") == Some(vec![])
        },
    );
    let leftover = scene
        .taskrun("leftover")
        .expect("held by its other finalizer");
    assert_eq!(annotation(&leftover, "signed"), Some("true"));
    assert_verifies(&scene, &leftover);

    // Deleted while running: held, then released unsigned, then gone.
    scene.curl(
        &["-X", "DELETE"],
        "/apis/tekton.dev/v1/namespaces/ci/taskruns/doomed",
    );
    scene.wait_for(
        "the deleted run is released",
        Duration::from_secs(30),
        |runs| finalizers_of(runs, "doomed").is_none(),
    );

    // Finishes: signed, then the finalizer goes.
    scene.send(
        "PATCH",
        "application/merge-patch+json",
        &json!({"status": {"conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}]}}),
        "/apis/tekton.dev/v1/namespaces/ci/taskruns/running",
    );
    scene.wait_for(
        "the finished run is signed and released",
        Duration::from_secs(30),
        |runs| {
            finalizers_of(runs, "running") == Some(vec![])
                && runs.iter().any(|r| {
                    r["metadata"]["name"] == "running" && annotation(r, "signed") == Some("true")
                })
        },
    );
    assert_verifies(&scene, &scene.taskrun("running").expect("running"));
    assert_eq!(controller.stop(), 0);
    // Each run was marked once; the finalizer was applied by its own field manager.
    assert_eq!(
        scene.storage_writes(),
        [("leftover".to_owned(), 1), ("running".to_owned(), 1)].into(),
    );
    let log = std::fs::read_to_string(scene.dir.path().join("requests.jsonl")).expect("log");
    assert!(
        log.lines().any(
            |l| l.contains("fieldManager=chainseal-controller%2Ffinalizers")
                || l.contains("fieldManager=chainseal-controller/finalizers")
        ),
        "no apply by the finalizer field manager"
    );
}

#[test]
fn without_finalizers_runs_are_left_alone_until_deleted() {
    let objects = vec![
        config(),
        taskrun("running", "Unknown"),
        taskrun("finished", "True"),
        with_finalizers(
            taskrun("leftover", "True"),
            &["example.com/keep", "chains.tekton.dev/taskrun"],
            true,
        ),
        with_finalizers(taskrun("kept", "True"), &["chains.tekton.dev"], false),
    ];
    let Some(scene) = Scene::start("no finalizers", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    scene.wait_for(
        "the finished runs are signed",
        Duration::from_secs(60),
        |runs| signed(runs) == 3,
    );
    // Signed too: a handled run's Chains finalizer stays until the run is deleted.
    let runs = scene.runs("taskruns");
    assert_eq!(finalizers_of(&runs, "running"), Some(vec![]));
    assert_eq!(
        finalizers_of(&runs, "kept"),
        Some(vec!["chains.tekton.dev".into()])
    );
    assert_eq!(
        finalizers_of(&runs, "leftover"),
        Some(vec!["example.com/keep".into()])
    );
    scene.curl(
        &["-X", "DELETE"],
        "/apis/tekton.dev/v1/namespaces/ci/taskruns/kept",
    );
    scene.wait_for(
        "the deleted run is released",
        Duration::from_secs(30),
        |runs| finalizers_of(runs, "kept").is_none(),
    );
    assert_eq!(controller.stop(), 0);
    let log = std::fs::read_to_string(scene.dir.path().join("requests.jsonl")).expect("log");
    assert!(
        !log.lines().any(|l| l.contains("finalizers")
            && l.contains("\"verb\": \"patch\"")
            && l.contains("/running")),
        "a finalizer was written to a running run with finalizers off"
    );
}

#[test]
fn keyless_signing_and_the_transparency_log_from_chains_config() {
    let Some((_sigstore, url)) = common::sigstore_double("controller keyless") else {
        return;
    };
    let mut asked = taskrun("asked", "True");
    asked["metadata"]["annotations"]["chains.tekton.dev/transparency-upload"] = json!("true");
    let objects = vec![
        chains_config(json!({
            "artifacts.oci.storage": "",
            "signers.x509.fulcio.enabled": "true",
            "signers.x509.fulcio.address": url,
            "signers.x509.identity.token.file": "oidc-token",
            "transparency.enabled": "manual",
            "transparency.url": url,
        })),
        asked,
        taskrun("quiet", "True"),
    ];
    let Some(scene) = Scene::start("controller keyless", &objects, json!({})) else {
        return;
    };
    // A projected service-account token, as the kubelet writes it (relative to the
    // controller's working directory).
    let subject = "system:serviceaccount:tekton-chains:tekton-chains-controller";
    std::fs::write(
        scene.dir.path().join("oidc-token"),
        common::identity_token(
            json!({"iss": "https://kubernetes.default.svc", "sub": subject, "aud": "sigstore"}),
        ),
    )
    .expect("token");
    let controller = Running(Some(scene.controller(&[])));
    scene.wait_for("both runs signed", Duration::from_secs(60), |runs| {
        signed(runs) == 2
    });
    assert_eq!(controller.stop(), 0);
    for name in ["asked", "quiet"] {
        let run = scene.taskrun(name).expect("run");
        assert_eq!(annotation(&run, "signed"), Some("true"), "{name}");
        let key = format!("taskrun-uid-{name}");
        let cert = STANDARD
            .decode(annotation(&run, &format!("cert-{key}")).expect("cert annotation"))
            .expect("base64");
        let cert = String::from_utf8(cert).expect("PEM");
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----\n"), "{cert}");
        let chain = STANDARD
            .decode(annotation(&run, &format!("chain-{key}")).expect("chain annotation"))
            .expect("base64");
        assert!(String::from_utf8_lossy(&chain).contains("BEGIN CERTIFICATE"));
        // The envelope verifies with the certificate's key (securesystemslib).
        let public = scene.dir.path().join(format!("{name}.pub"));
        let out = Command::new(&scene.python)
            .args(["-c", "import sys; from cryptography import x509; from cryptography.hazmat.primitives import serialization as s; c = x509.load_pem_x509_certificate(open(sys.argv[1],'rb').read()); open(sys.argv[2],'wb').write(c.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))"])
            .arg({
                let p = scene.dir.path().join(format!("{name}.crt"));
                std::fs::write(&p, &cert).expect("write");
                p
            })
            .arg(&public)
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let envelope = STANDARD
            .decode(annotation(&run, &format!("signature-{key}")).expect("signature"))
            .expect("base64");
        let file = scene.dir.path().join(format!("{name}.json"));
        std::fs::write(&file, envelope).expect("write");
        let (ok, said) = securesystemslib_verifies(&scene.python, &file, &public);
        assert!(ok, "securesystemslib: {said}");
    }
    // `manual`: only the run that asked is logged.
    let asked = scene.taskrun("asked").expect("run");
    let entry = annotation(&asked, "transparency").expect("transparency annotation");
    assert!(
        entry.starts_with(&format!("{url}/api/v1/log/entries?logIndex=")),
        "{entry}"
    );
    let quiet = scene.taskrun("quiet").expect("run");
    assert_eq!(annotation(&quiet, "transparency"), None);
}

/// chainseal's own chains-config key `chainseal.signing-config`: a SigningConfig that
/// names the double's Fulcio, a real Rekor v2 and a real timestamp authority (behind a
/// recording proxy). The run is logged in Rekor v2 (its annotation says so) and each
/// signature is timestamped.
#[test]
fn a_signing_config_in_chains_config_selects_rekor_v2_and_a_timestamp_authority() {
    let what = "controller with a signing config";
    let (Some(rekor_bin), Some(tsa_bin)) = (
        tool("REKOR_SERVER_BIN", what),
        tool("TIMESTAMP_SERVER_BIN", what),
    ) else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double(what) else {
        return;
    };
    let rekor = crate::sigstore_v2::RekorV2::start(&rekor_bin);
    let tsa = crate::sigstore_v2::Tsa::start(&tsa_bin);
    let dir = tempfile::tempdir().expect("tmp");
    let Some(python) = tool("INTEROP_PYTHON", what) else {
        return;
    };
    let proxy_log = dir.path().join("tsa-requests.log");
    let tsa_host = tsa
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/api/v1/timestamp");
    let (_proxy, proxy_port) = common::spawn_ready(
        Command::new(&python)
            .arg(repo("tests/interop/fault_proxy.py"))
            .args([tsa_host, "7", "0"])
            .arg(&proxy_log),
        "the recording proxy",
    );
    let service = |url: &str| {
        json!({"url": url, "majorApiVersion": if url == rekor.url { 2 } else { 1 },
               "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "test"})
    };
    let signing_config = dir.path().join("signing_config.json");
    std::fs::write(
        &signing_config,
        json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service(&url)],
            "rekorTlogUrls": [service(&rekor.url)],
            "tsaUrls": [service(&format!("http://127.0.0.1:{proxy_port}/api/v1/timestamp"))],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        })
        .to_string(),
    )
    .expect("write");
    let objects = vec![
        chains_config(json!({
            "artifacts.oci.storage": "",
            "signers.x509.fulcio.enabled": "true",
            // Replaced by the signing config's CA: never asked.
            "signers.x509.fulcio.address": "http://127.0.0.1:9",
            "signers.x509.identity.token.file": "oidc-token",
            "transparency.enabled": "true",
            "chainseal.signing-config": signing_config.display().to_string(),
        })),
        taskrun("logged", "True"),
    ];
    let Some(scene) = Scene::start(what, &objects, json!({})) else {
        return;
    };
    std::fs::write(
        scene.dir.path().join("oidc-token"),
        common::identity_token(json!({"iss": "https://kubernetes.default.svc",
            "sub": "system:serviceaccount:tekton-chains:tekton-chains-controller", "aud": "sigstore"})),
    )
    .expect("token");
    let controller = Running(Some(scene.controller(&[])));
    scene.wait_for("the run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 1
    });
    assert_eq!(controller.stop(), 0);
    let run = scene.taskrun("logged").expect("run");
    assert_eq!(
        annotation(&run, "signed"),
        Some("true"),
        "{}",
        scene.log_tails()
    );
    let entry = annotation(&run, "transparency").expect("transparency annotation");
    assert!(
        entry.starts_with(&format!("{}/api/v2/log/entries?logIndex=", rekor.url)),
        "{entry}"
    );
    let requests = std::fs::read_to_string(&proxy_log).expect("the proxy's log");
    assert!(
        requests.contains("POST /api/v1/timestamp"),
        "no timestamp was asked for: {requests}"
    );
}

#[test]
fn an_unreachable_transparency_log_is_retried_and_never_marked_signed() {
    let objects = vec![
        chains_config(json!({
            "artifacts.oci.storage": "",
            "transparency.enabled": "true",
            "transparency.url": "http://127.0.0.1:9",
        })),
        taskrun("logged", "True"),
    ];
    let Some(scene) = Scene::start("transparency down", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    scene.wait_for("the run marked failed", Duration::from_secs(60), |runs| {
        signed(runs) == 1
    });
    assert_eq!(controller.stop(), 0);
    let run = scene.taskrun("logged").expect("run");
    assert_eq!(annotation(&run, "signed"), Some("failed"));
    assert_eq!(annotation(&run, "retries"), Some("3"));
    assert_eq!(annotation(&run, "transparency"), None);
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).expect("log");
    assert!(
        log.contains("stage=\"tlog\"") || log.contains("stage=tlog"),
        "no tlog failure logged:\n{log}"
    );
}

/// A scene with `config` as chains-config and one finished TaskRun `name`, and a
/// controller (with `env`) run until it signed it.
fn sign_one_run(label: &str, config: Value, name: &str, env: &[(&str, &str)]) -> Option<Scene> {
    let objects = vec![chains_config(config), taskrun(name, "True")];
    let scene = Scene::start(label, &objects, json!({}))?;
    let controller = Running(Some(scene.controller(env)));
    scene.wait_for("the run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 1
    });
    assert_eq!(controller.stop(), 0);
    Some(scene)
}

#[test]
fn gcs_storage_from_chains_config_writes_chains_layout() {
    let Some(python) = tool("INTEROP_PYTHON", "controller gcs") else {
        return;
    };
    let gcs_dir = tempfile::tempdir().expect("tmp");
    let gcs = common::gcs_double(&python, gcs_dir.path());
    gcs.create_bucket("prov");
    let (endpoint, credentials) = (&gcs.endpoint, gcs.credentials.display().to_string());
    let Some(scene) = sign_one_run(
        "gcs storage",
        json!({
            "artifacts.oci.storage": "",
            "artifacts.taskrun.storage": "gcs",
            "storage.gcs.bucket": "prov",
        }),
        "stored",
        &[
            ("CHAINSEAL_STORAGE_ENDPOINT", endpoint.as_str()),
            ("GOOGLE_APPLICATION_CREDENTIALS", credentials.as_str()),
        ],
    ) else {
        return;
    };
    let run = scene.taskrun("stored").expect("run");
    assert_eq!(annotation(&run, "signed"), Some("true"));
    // Chains' GCS layout: taskrun-<namespace>-<name>/<key>.signature, the DSSE envelope.
    let file = scene.dir.path().join("gcs-signature.json");
    let envelope = gcs
        .read("prov", "taskrun-ci-stored/taskrun-uid-stored.signature")
        .expect("the .signature object");
    std::fs::write(&file, envelope).expect("write");
    let (ok, said) = securesystemslib_verifies(&scene.python, &file, &repo("examples/demo.pub"));
    assert!(ok, "securesystemslib: {said}");
}

/// Chains parity (#20): every image signature goes to every backend, whatever fails
/// first; the image loop used to stop at the first failing backend. Here `oci` comes
/// first and cannot be reached (the image names a closed loopback port); `gcs` must
/// still get the signature, and the run fails its attempt.
#[test]
fn image_signatures_go_to_every_backend_even_after_one_fails() {
    let Some(python) = tool("INTEROP_PYTHON", "controller image backends") else {
        return;
    };
    let gcs_dir = tempfile::tempdir().expect("tmp");
    let gcs = common::gcs_double(&python, gcs_dir.path());
    gcs.create_bucket("prov");
    let (endpoint, credentials) = (&gcs.endpoint, gcs.credentials.display().to_string());
    let objects = vec![
        chains_config(json!({
            "artifacts.oci.storage": "oci,gcs",
            "artifacts.taskrun.storage": "",
            "storage.gcs.bucket": "prov",
        })),
        taskrun_naming("both", "127.0.0.1:9/team/app"),
    ];
    let Some(scene) = Scene::start("image backends", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[
        ("CHAINSEAL_STORAGE_ENDPOINT", endpoint.as_str()),
        ("GOOGLE_APPLICATION_CREDENTIALS", credentials.as_str()),
        ("CHAINSEAL_INSECURE_REGISTRIES", "127.0.0.1:9"),
    ])));
    scene.wait_for("a failed attempt", Duration::from_secs(120), |runs| {
        runs.iter()
            .any(|r| r["metadata"]["name"] == "both" && annotation(r, "retries").is_some())
    });
    assert_eq!(controller.stop(), 0);
    let payload = gcs
        .read(
            "prov",
            &format!("taskrun-ci-both/{}.payload", "d3".repeat(6)),
        )
        .unwrap_or_else(|| panic!("gcs got no image signature:\n{}", scene.log_tails()));
    let payload: Value = serde_json::from_slice(&payload).expect("payload JSON");
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        format!("sha256:{}", "d3".repeat(32))
    );
}

#[test]
fn archivista_storage_from_chains_config_uploads_the_envelope() {
    let Some(python) = tool("INTEROP_PYTHON", "controller archivista") else {
        return;
    };
    let (_archivista, base) = http_double(&python, "archivista.py", &[]);
    let Some(scene) = sign_one_run(
        "archivista storage",
        json!({
            "artifacts.oci.storage": "",
            "artifacts.taskrun.storage": "tekton,archivista",
            "storage.archivista.url": base,
        }),
        "archived",
        &[],
    ) else {
        return;
    };
    // What Archivista holds under the envelope's gitoid is the envelope on the run.
    let run = scene.taskrun("archived").expect("run");
    let envelope = STANDARD
        .decode(annotation(&run, "signature-taskrun-uid-archived").expect("signature"))
        .expect("base64");
    let mut blob = format!("blob {}\0", envelope.len()).into_bytes();
    blob.extend_from_slice(&envelope);
    use sha2::Digest as _;
    let gitoid = hex::encode(sha2::Sha256::digest(&blob));
    let file = scene.dir.path().join("archived.json");
    common::download(&format!("{base}/download/{gitoid}"), &file);
    assert_eq!(std::fs::read(&file).expect("read"), envelope);
}

#[test]
fn docdb_storage_from_chains_config_upserts_chains_documents() {
    let Some(secantusd) = tool("SECANTUSD", "controller docdb (MongoDB)") else {
        return;
    };
    let (_db, port) = common::secantusdb(&secantusd);
    let server = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
    let mounted = tempfile::tempdir().expect("tmp");
    // Chains' mounted-secret form: the connection string in a file.
    let url_file = mounted.path().join("MONGO_SERVER_URL");
    std::fs::write(&url_file, format!("{server}\n")).expect("write");
    let Some(scene) = sign_one_run(
        "docdb storage",
        json!({
            "artifacts.oci.storage": "docdb",
            "artifacts.taskrun.storage": "docdb",
            "storage.docdb.url": "mongo://chains/attestations?id_field=name",
            "storage.docdb.mongo-server-url-path": url_file,
        }),
        "stored",
        &[],
    ) else {
        return;
    };
    assert_eq!(
        annotation(&scene.taskrun("stored").expect("run"), "signed"),
        Some("true")
    );
    let out = Command::new(&scene.python)
        .arg("-c")
        .arg(
            "import json, sys, pymongo\n\
             c = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)\n\
             print(json.dumps([{k: v for k, v in d.items() if k != 'Signed'} for d in c.chains.attestations.find()]))",
        )
        .arg(&server)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let doc = docs
        .iter()
        .find(|d| d["Name"] == "taskrun-uid-stored")
        .unwrap_or_else(|| panic!("no attestation document: {docs:#?}"));
    assert_eq!(doc["_id"], "taskrun-uid-stored");
    let file = scene.dir.path().join("docdb-envelope.json");
    std::fs::write(
        &file,
        STANDARD
            .decode(doc["Signature"].as_str().expect("Signature"))
            .expect("base64"),
    )
    .expect("write");
    let (ok, said) = securesystemslib_verifies(&scene.python, &file, &repo("examples/demo.pub"));
    assert!(ok, "securesystemslib: {said}");
    // The oci artifact: the image signature's document, named by its 12-hex short key.
    assert!(
        docs.iter()
            .any(|d| d["Name"].as_str().is_some_and(|n| n.len() == 12)
                && d["Object"]["critical"]["type"] == "cosign container image signature"),
        "{docs:#?}"
    );
}

#[test]
fn grafeas_storage_from_chains_config_writes_occurrences() {
    let Some(python) = tool("INTEROP_PYTHON", "controller grafeas") else {
        return;
    };
    let (_grafeas, endpoint) = http_double(&python, "grafeas.py", &[]);
    let Some(scene) = sign_one_run(
        "grafeas storage",
        json!({
            "artifacts.oci.storage": "grafeas",
            "artifacts.taskrun.storage": "grafeas",
            "storage.grafeas.projectid": "prov",
            "storage.grafeas.notehint": "signed by chainseal",
        }),
        "noted",
        &[("CHAINSEAL_GRAFEAS_URL", endpoint.as_str())],
    ) else {
        return;
    };
    let file = scene.dir.path().join("occurrences.json");
    common::download(&format!("{endpoint}/v1/projects/prov/occurrences"), &file);
    let list: Value = serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON");
    let occurrences = list["occurrences"].as_array().expect("occurrences");
    // Chains' note ids: tekton-<namespace>-taskrun-intoto and tekton-<namespace>-simplesigning.
    let build = occurrences
        .iter()
        .find(|o| o["noteName"] == "projects/prov/notes/tekton-ci-taskrun-intoto")
        .unwrap_or_else(|| panic!("no BUILD occurrence: {list:#}"));
    assert!(
        build["build"]["intotoStatement"]["slsaProvenanceZeroTwo"]["builder"]["id"].is_string(),
        "Chains' default format (SLSA v0.2) converted: {build:#}"
    );
    let envelope = STANDARD
        .decode(
            build["envelope"]["signatures"][0]["sig"]
                .as_str()
                .expect("sig"),
        )
        .expect("base64");
    let env_file = scene.dir.path().join("grafeas-envelope.json");
    std::fs::write(&env_file, envelope).expect("write");
    let (ok, said) =
        securesystemslib_verifies(&scene.python, &env_file, &repo("examples/demo.pub"));
    assert!(ok, "securesystemslib: {said}");
    assert!(
        occurrences.iter().any(
            |o| o["noteName"] == "projects/prov/notes/tekton-ci-simplesigning"
                && o["kind"] == "ATTESTATION"
        ),
        "no image signature occurrence: {list:#}"
    );
    common::download(
        &format!("{endpoint}/v1/projects/prov/notes/tekton-ci-simplesigning"),
        &file,
    );
    let note: Value = serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON");
    assert_eq!(
        note["attestation"]["hint"]["humanReadableName"],
        "signed by chainseal"
    );
}

/// A controller process killed if the test fails before stopping it (a leaked
/// controller would keep running after the test).
struct Running(Option<Child>);

impl Running {
    fn stop(mut self) -> i32 {
        self.0.take().map_or(-1, stop)
    }

    /// SIGKILL (no chance to release the lease or finish anything), and wait until
    /// the process is gone.
    fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            child.kill().expect("SIGKILL");
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The ownerReferences Tekton writes on a PipelineRun's TaskRun.
fn owner(pipelinerun: &str) -> Value {
    json!([{"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "name": pipelinerun,
            "uid": format!("uid-{pipelinerun}"), "controller": true, "blockOwnerDeletion": true}])
}

/// Regression (#18): the controller attested every TaskRun a PipelineRun's
/// `childReferences` named, also one owned by another PipelineRun (or by none).
#[test]
fn a_pipelinerun_naming_a_taskrun_it_does_not_own_is_never_signed() {
    let pr = |name: &str, child: &str| {
        json!({
            "apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
            "metadata": {"name": name, "namespace": "ci", "uid": format!("uid-{name}")},
            "spec": {"pipelineRef": {"name": "build"}},
            "status": {"conditions": [{"type": "Succeeded", "status": "True"}],
                       "startTime": "2021-03-29T09:50:00Z", "completionTime": "2021-03-29T09:55:00Z",
                       "childReferences": [{"kind": "TaskRun", "name": child, "pipelineTaskName": "a"}]},
        })
    };
    let mut own = taskrun("own-child", "True");
    own["metadata"]["ownerReferences"] = owner("pr-own");
    let mut foreign = taskrun("foreign-child", "True");
    foreign["metadata"]["ownerReferences"] = owner("pr-other");
    let objects = vec![
        config(),
        pr("pr-own", "own-child"),
        pr("pr-forged", "foreign-child"),
        own,
        foreign,
    ];
    let Some(scene) = Scene::start("foreign child", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    let marked = |name: &str| {
        scene
            .runs("pipelineruns")
            .into_iter()
            .find(|r| r["metadata"]["name"] == name)
            .and_then(|r| annotation(&r, "signed").map(str::to_owned))
    };
    let start = Instant::now();
    while (marked("pr-own").is_none() || marked("pr-forged").is_none())
        && start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(controller.stop(), 0);
    assert_eq!(marked("pr-own").as_deref(), Some("true"));
    assert_eq!(marked("pr-forged").as_deref(), Some("failed"));
    let forged = scene
        .runs("pipelineruns")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "pr-forged")
        .expect("pr-forged");
    assert!(
        annotation(&forged, "payload-pipelinerun-uid-pr-forged").is_none(),
        "no attestation: {forged}"
    );
}

/// A TaskRun whose results name `image` (`host/repo`) with a fixed digest.
fn taskrun_naming(name: &str, image: &str) -> Value {
    let mut tr = taskrun(name, "True");
    tr["status"]["results"] = json!([
        {"name": "IMAGE_URL", "value": image},
        {"name": "IMAGE_DIGEST", "value": format!("sha256:{}", "d3".repeat(32))},
    ]);
    tr
}

/// Regression (#18): one tenant's registry could stop signing for the whole cluster.
/// A `.att`/`.sig` manifest that is a JSON array panicked the worker (never replaced),
/// a registry trickling bytes held a worker forever, and registry error bodies were
/// copied into Warning Events the tenant can read. With one worker, the other runs
/// must still be signed, the hostile ones must end `failed` after Chains' retries, and
/// no Event may carry the registry's words.
#[test]
fn a_hostile_registry_cannot_stop_signing_or_speak_through_events() {
    let Some(python) = tool("INTEROP_PYTHON", "hostile registry controller test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let requests = dir.path().join("registry-requests.jsonl");
    let (_registry, url) = common::http_double(
        &python,
        "hostile_registry.py",
        &[requests.to_str().expect("utf-8 path")],
    );
    let host = url.trim_start_matches("http://").to_owned();
    let objects = vec![
        chains_config(json!({"artifacts.oci.storage": "oci"})),
        taskrun_naming("stall", &format!("{host}/trickle/app")),
        taskrun_naming("array", &format!("{host}/array/app")),
        taskrun_naming("string", &format!("{host}/string/app")),
        taskrun_naming("huge", &format!("{host}/huge/app")),
        taskrun_naming("wordy", &format!("{host}/errorbody/app")),
        // Names no image (the fixture's gcr.io image is not reachable here).
        {
            let mut fine = taskrun("fine", "True");
            fine["status"]["results"] = json!([]);
            fine
        },
    ];
    let Some(scene) = Scene::start("hostile registry", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[
        ("CHAINSEAL_WORKERS", "1"),
        ("CHAINSEAL_RECONCILE_TIMEOUT", "2"),
        ("CHAINSEAL_INSECURE_REGISTRIES", &host),
    ])));
    scene.wait_for("every run handled", Duration::from_secs(120), |runs| {
        signed(runs) == 6
    });
    assert_eq!(controller.stop(), 0);
    let runs = scene.runs("taskruns");
    let by_name = |n: &str| {
        runs.iter()
            .find(|r| r["metadata"]["name"] == n)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(annotation(&by_name("fine"), "signed"), Some("true"));
    for hostile in ["stall", "array", "string", "huge", "wordy"] {
        let run = by_name(hostile);
        assert_eq!(
            annotation(&run, "signed"),
            Some("failed"),
            "{hostile}: {run}"
        );
        assert_eq!(annotation(&run, "retries"), Some("3"), "{hostile}");
    }
    let events = scene.curl(&[], "/apis/events.k8s.io/v1/namespaces/ci/events");
    let text = events.to_string();
    assert!(!text.contains("HOSTILE-REGISTRY-BODY"), "{text}");
    let note = |name: &str| -> String {
        events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["regarding"]["name"] == name)
            .filter_map(|e| e["note"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        note("stall").contains("CHAINSEAL_RECONCILE_TIMEOUT"),
        "{}",
        note("stall")
    );
    assert!(note("array").contains("cannot read"), "{}", note("array"));
    assert!(note("huge").contains("larger than"), "{}", note("huge"));
    assert!(
        note("wordy").contains("HTTP 400 (DENIED)"),
        "{}",
        note("wordy")
    );
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("HOSTILE-REGISTRY-BODY"), "{log}");
}

/// Regression: a run whose annotations are at Kubernetes' 256 KiB limit cannot take
/// even the `retries` mark (the API server answers 422 Invalid); the controller used
/// to treat that as "cluster unavailable" and retry the run forever. Now it gives up
/// at once with a `MarkingFailed` Warning Event.
#[test]
fn a_run_at_the_annotation_limit_is_given_up_not_retried_forever() {
    // 262,144 bytes of keys and values at most: `filler` leaves 10 bytes, fewer than
    // any mark needs (the signature annotations are refused before patching).
    let mut full = taskrun("full", "True");
    full["metadata"]["annotations"] = json!({"filler": "x".repeat(262_144 - 6 - 10)});
    let objects = vec![
        config(),
        full,
        taskrun("fine", "True"),
        // Its PipelineRun waits for `full` to be marked, which can never happen: it
        // fails (counted retries, then `failed`) instead of waiting forever.
        pipelinerun("pipeline", &["full"]),
    ];
    let Some(scene) = Scene::start("annotation limit", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    let events = || {
        scene.curl(&[], "/apis/events.k8s.io/v1/namespaces/ci/events")["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let given_up = loop {
        let found = events()
            .into_iter()
            .find(|e| e["regarding"]["name"] == "full" && e["reason"] == "MarkingFailed");
        if let Some(event) = found {
            break event;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no MarkingFailed event for `full` in 60 s: {:?}\n{}",
            events(),
            scene.log_tails()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    scene.wait_for("`fine` signed", Duration::from_secs(60), |runs| {
        runs.iter()
            .any(|r| r["metadata"]["name"] == "fine" && annotation(r, "signed") == Some("true"))
    });
    scene.wait_for(
        "the PipelineRun of `full` marked failed",
        Duration::from_secs(60),
        |_| {
            scene.runs("pipelineruns").iter().any(|r| {
                r["metadata"]["name"] == "pipeline" && annotation(r, "signed") == Some("failed")
            })
        },
    );
    assert_eq!(controller.stop(), 0);
    assert_eq!(given_up["type"], "Warning");
    let note = given_up["note"].as_str().unwrap_or_default();
    assert!(note.contains("262144 byte limit"), "{note}");
    assert!(note.contains("cannot be marked"), "{note}");
    // One attempt to mark it (refused), then nothing: no retry loop.
    let log = std::fs::read_to_string(scene.dir.path().join("requests.jsonl")).unwrap_or_default();
    let patches = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| {
            r["verb"] == "patch"
                && r["path"].as_str().is_some_and(|p| {
                    p.split('?')
                        .next()
                        .is_some_and(|p| p.ends_with("/taskruns/full"))
                })
        })
        .count();
    assert_eq!(patches, 1, "patches of `full`");
    let failed = events()
        .into_iter()
        .find(|e| e["regarding"]["name"] == "pipeline" && e["reason"] == "MarkedFailed")
        .expect("MarkedFailed event for the PipelineRun");
    let note = failed["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("the child TaskRun `full` cannot be marked"),
        "{note}"
    );
    let full = scene.taskrun("full").expect("full");
    assert_eq!(annotation(&full, "signed"), None);
    assert_eq!(annotation(&full, "retries"), None);
}

/// Regression (#18): a signer that failed to load stayed failed until the ConfigMap
/// changed, and a rotated `signing-secrets` was never picked up. Now a failed load is
/// tried again at the next run, and changed secret files are loaded again.
#[test]
fn signing_secrets_are_reloaded_when_they_appear_or_rotate() {
    let Some(scene) = Scene::start("signer reload", &[config()], json!({})) else {
        return;
    };
    let secrets = scene.dir.path().join("signing-secrets");
    let x509 = secrets.join("x509.pem");
    std::fs::remove_file(&x509).expect("no key at first");
    let controller = Running(Some(scene.controller(&[])));
    scene.create(&taskrun("early", "True"));
    scene.wait_for("early failed", Duration::from_secs(60), |runs| {
        runs.iter()
            .any(|r| r["metadata"]["name"] == "early" && annotation(r, "signed") == Some("failed"))
    });
    // The key appears (the Secret was filled after the controller started): the next
    // run is signed without a restart or a ConfigMap change.
    std::fs::copy(repo("examples/demo.key"), &x509).expect("key");
    scene.create(&taskrun("second", "True"));
    scene.wait_for("second signed", Duration::from_secs(60), |runs| {
        runs.iter()
            .any(|r| r["metadata"]["name"] == "second" && annotation(r, "signed") == Some("true"))
    });
    assert_verifies(&scene, &scene.taskrun("second").expect("second"));

    // Rotation: another key in the Secret; runs after it are signed with the new key.
    let rotated = repo("tests/fixtures/keys/p256-sec1.pem");
    std::fs::copy(&rotated, &x509).expect("rotate");
    // Secret files are looked at every 5 s.
    std::thread::sleep(Duration::from_secs(6));
    scene.create(&taskrun("late", "True"));
    scene.wait_for("late signed", Duration::from_secs(60), |runs| {
        runs.iter()
            .any(|r| r["metadata"]["name"] == "late" && annotation(r, "signed") == Some("true"))
    });
    assert_eq!(controller.stop(), 0);
    let late = scene.taskrun("late").expect("late");
    let envelope = STANDARD
        .decode(annotation(&late, "signature-taskrun-uid-late").expect("signature"))
        .expect("base64");
    let file = scene.dir.path().join("late.json");
    std::fs::write(&file, &envelope).expect("write");
    // The new public key, derived by python `cryptography` (not by chainseal).
    let public = scene.dir.path().join("rotated.pub");
    let out = Command::new(&scene.python)
        .args([
            "-c",
            "import sys; from cryptography.hazmat.primitives import serialization as s; \
             k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), None); \
             open(sys.argv[2], 'wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))",
        ])
        .arg(&rotated)
        .arg(&public)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, said) = securesystemslib_verifies(&scene.python, &file, &public);
    assert!(ok, "late is signed with the rotated key: {said}");
    let why = common::securesystemslib_rejects(&scene.python, &file, &repo("examples/demo.pub"));
    assert!(
        why.contains("does not verify"),
        "late is not signed with the old key: {why}"
    );
}

/// The image a TaskRun names through `IMAGE_URL`/`IMAGE_DIGEST` in [`taskrun_naming`].
const NAMED_DIGEST_HEX: &str = "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3";

/// `child`'s exit code once it exits, or `None` (after killing it) if it is still
/// running after `deadline`.
fn exit_code_within(mut child: Child, deadline: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Merge `data` into the chains-config ConfigMap, as the admin.
fn patch_chains_config(scene: &Scene, data: Value) {
    scene.send(
        "PATCH",
        "application/merge-patch+json",
        &json!({ "data": data }),
        "/api/v1/namespaces/tekton-chains/configmaps/chains-config",
    );
}

/// The independent oracle's verdict on the image signature of `repository@digest` kept
/// in `run`'s annotations (`tekton` storage), checked against the demo key.
fn tekton_image_signature(
    scene: &Scene,
    run: &Value,
    repository: &str,
    digest: &str,
) -> common::Run {
    let file = scene.dir.path().join("run-with-image-signatures.json");
    std::fs::write(&file, run.to_string()).expect("write the run");
    let key = repo("examples/demo.pub");
    common::oracle(
        &scene.python,
        "verify_tekton_image_signature.py",
        &[
            file.as_os_str(),
            repository.as_ref(),
            digest.as_ref(),
            "--key".as_ref(),
            key.as_os_str(),
        ],
    )
}

/// Parity (#20, gap 1): with `artifacts.oci.storage: tekton` the images a TaskRun
/// names are signed and kept as Chains keeps them, in the run's annotations
/// `chains.tekton.dev/{payload,signature,cert,chain}-<12 hex of the digest>` (base64;
/// the raw signature over the simple-signing payload). They used to be dropped while
/// the run was still marked `signed: "true"`. Verified with python `cryptography`.
#[test]
fn image_signatures_in_tekton_storage_are_chains_annotations() {
    let other = format!("sha256:{}", "e4".repeat(32));
    let mut run = taskrun_naming("imaged", "registry.example/team/app");
    run["status"]["results"]
        .as_array_mut()
        .expect("results")
        .push(json!({"name": "IMAGES", "value": format!("registry.example/team/other@{other}")}));
    let objects = vec![
        chains_config(json!({"artifacts.oci.storage": "tekton"})),
        run,
    ];
    let Some(scene) = Scene::start("image signatures in tekton storage", &objects, json!({}))
    else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    scene.wait_for("the run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 1
    });
    assert_eq!(controller.stop(), 0);
    let run = scene.taskrun("imaged").expect("run");
    assert_eq!(annotation(&run, "signed"), Some("true"));
    // The TaskRun's own attestation (`artifacts.taskrun.storage` default `tekton`).
    assert_verifies(&scene, &run);
    let named = format!("sha256:{NAMED_DIGEST_HEX}");
    for (repository, digest) in [
        ("registry.example/team/app", named.as_str()),
        ("registry.example/team/other", other.as_str()),
    ] {
        let verdict = tekton_image_signature(&scene, &run, repository, digest);
        common::assert_oracle_verified(&verdict, repository);
    }
    // Exactly Chains' four keys per image, nothing else with its short key.
    let mut keys: Vec<&str> = run["metadata"]["annotations"]
        .as_object()
        .expect("annotations")
        .keys()
        .map(String::as_str)
        .filter(|k| k.ends_with("-d3d3d3d3d3d3"))
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "chains.tekton.dev/cert-d3d3d3d3d3d3",
            "chains.tekton.dev/chain-d3d3d3d3d3d3",
            "chains.tekton.dev/payload-d3d3d3d3d3d3",
            "chains.tekton.dev/signature-d3d3d3d3d3d3",
        ]
    );
    // The oracle can say no: one image's signature under the other's key fails.
    let mut swapped = run.clone();
    swapped["metadata"]["annotations"]["chains.tekton.dev/signature-d3d3d3d3d3d3"] =
        run["metadata"]["annotations"]["chains.tekton.dev/signature-e4e4e4e4e4e4"].clone();
    let verdict = tekton_image_signature(&scene, &swapped, "registry.example/team/app", &named);
    common::assert_oracle_rejected(&verdict, "does not verify", "a swapped signature");
}

/// Parity (#20, gap 1): a backend that cannot keep image signatures (`archivista`
/// takes DSSE envelopes only) named by `artifacts.oci.storage` is refused instead of
/// dropping them: at start-up (exit 2, naming the key, the value and what is allowed)
/// and on a live ConfigMap change (logged; the previous settings are kept, so the next
/// run's image signatures still land in its annotations).
#[test]
fn a_backend_that_cannot_keep_image_signatures_is_refused() {
    let archivista = "http://127.0.0.1:9";
    let bad = vec![chains_config(json!({
        "artifacts.oci.storage": "tekton,archivista",
        "storage.archivista.url": archivista,
    }))];
    let Some(scene) = Scene::start("image signatures to archivista", &bad, json!({})) else {
        return;
    };
    let code = exit_code_within(scene.controller(&[]), Duration::from_secs(30));
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).unwrap_or_default();
    assert_eq!(
        code,
        Some(2),
        "the controller should refuse to start:\n{log}"
    );
    assert!(
        log.contains("`artifacts.oci.storage` is `tekton,archivista`")
            && log.contains("`archivista` cannot keep image signatures")
            && log.contains("tekton, oci, gcs, docdb, grafeas"),
        "{log}"
    );

    let objects = vec![
        chains_config(json!({"artifacts.oci.storage": "tekton"})),
        taskrun_naming("before", "registry.example/team/app"),
    ];
    let Some(scene) = Scene::start("image storage changed live", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    scene.wait_for("the first run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 1
    });
    patch_chains_config(
        &scene,
        json!({"artifacts.oci.storage": "archivista", "storage.archivista.url": archivista}),
    );
    let log_path = scene.dir.path().join("controller.log");
    let start = Instant::now();
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("settings rebuilt") || log.contains("is invalid") {
            break log;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the change was not picked up:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        log.contains("chains-config changed but is invalid, keeping the previous settings")
            && log.contains("`artifacts.oci.storage` is `archivista`")
            && !log.contains("settings rebuilt"),
        "{log}"
    );
    scene.create(&taskrun_naming("after", "registry.example/team/app"));
    scene.wait_for("the second run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 2
    });
    assert_eq!(controller.stop(), 0);
    let after = scene.taskrun("after").expect("after");
    assert_eq!(annotation(&after, "signed"), Some("true"));
    let named = format!("sha256:{NAMED_DIGEST_HEX}");
    let verdict = tekton_image_signature(&scene, &after, "registry.example/team/app", &named);
    common::assert_oracle_verified(&verdict, "the image signature kept with the old settings");
}

/// Chains parity (#20): `storage.oci.repository.insecure: "true"` applies to every
/// image a run names (go-containerregistry's `name.Insecure` plus a transport that
/// skips TLS verification), not only to the host of `storage.oci.repository`. A run's
/// image on a plain-HTTP registry that `CHAINSEAL_INSECURE_REGISTRIES` does not list
/// is refused without the key, and signed (`.sig` pushed next to it) with it.
#[test]
fn oci_insecure_from_chains_config_reaches_every_image_registry() {
    let Some(bin) = tool("REGISTRY_BIN", "controller insecure registry") else {
        return;
    };
    let registry_dir = tempfile::tempdir().expect("tmp");
    let reg = common::registry::TestRegistry::start(&bin, registry_dir.path(), false);
    let digest = reg.push_image("team/app", "v1", "insecure-key");
    let naming_the_image = |name: &str| {
        let mut tr = taskrun(name, "True");
        tr["status"]["results"] = json!([
            {"name": "IMAGE_URL", "value": format!("{}/team/app", reg.host)},
            {"name": "IMAGE_DIGEST", "value": digest},
        ]);
        tr
    };
    let objects = vec![
        chains_config(json!({
            "artifacts.oci.storage": "oci",
            "artifacts.taskrun.storage": "tekton",
        })),
        naming_the_image("refused"),
    ];
    let Some(scene) = Scene::start("insecure registries", &objects, json!({})) else {
        return;
    };
    let sig_tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    // The test registry is on loopback, an internal address, which the mode leaves on
    // verified https unless listed; the debug-build switch lets this loopback registry
    // stand in for a public one (release builds ignore it).
    let controller = Running(Some(
        scene.controller(&[("TEST_CHAINSEAL_UNVERIFIED_INTERNAL", "1")]),
    ));
    // Without the key: https to a plain-HTTP registry fails; the first failed attempt
    // (`retries: "0"`) is enough to know (the later ones fail the same way).
    scene.wait_for("refused failed once", Duration::from_secs(120), |runs| {
        runs.iter().any(|r| {
            r["metadata"]["name"] == "refused"
                && annotation(r, "signed").is_none()
                && annotation(r, "retries").is_some()
        })
    });
    assert!(
        reg.inspect_raw("team/app", &sig_tag).is_none(),
        "nothing pushed without the key"
    );
    // With the key (a live ConfigMap change): the next run's image is signed.
    scene.send(
        "PATCH",
        "application/merge-patch+json",
        &json!({"data": {"storage.oci.repository.insecure": "true"}}),
        "/api/v1/namespaces/tekton-chains/configmaps/chains-config",
    );
    let log_path = scene.dir.path().join("controller.log");
    let start = Instant::now();
    while !std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .contains("settings rebuilt")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the change was not picked up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    scene.create(&naming_the_image("allowed"));
    scene.wait_for("allowed handled", Duration::from_secs(120), |runs| {
        runs.iter().any(|r| {
            r["metadata"]["name"] == "allowed"
                && matches!(annotation(r, "signed"), Some("true" | "failed"))
        })
    });
    assert_eq!(controller.stop(), 0);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let allowed = scene.taskrun("allowed").expect("allowed");
    assert_eq!(
        annotation(&allowed, "signed"),
        Some("true"),
        "{allowed}\n{}",
        scene.log_tails()
    );
    assert!(
        log.contains("storage.oci.repository.insecure") && log.contains("TLS"),
        "the danger is logged: {log}"
    );
    // The image signature, read back with skopeo: a simple-signing payload naming the
    // image's digest.
    let manifest = reg
        .inspect_raw("team/app", &sig_tag)
        .expect("the .sig tag was pushed");
    let layer = &manifest["layers"][0];
    let payload: Value = serde_json::from_slice(
        &reg.blob("team/app", layer["digest"].as_str().expect("layer digest")),
    )
    .expect("payload JSON");
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"], digest,
        "{payload}"
    );
}

/// The bodies of the entries the Sigstore double at `url` was asked to log (`POST
/// /api/v1/log/entries`, whatever it answered), oldest first.
fn rekor_upload_bodies(url: &str) -> Vec<Value> {
    let out = Command::new("curl")
        .args(["-sf", &format!("{url}/__requests")])
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "GET {url}/__requests failed");
    let requests: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    requests
        .into_iter()
        .filter(|r| r[0] == "POST" && r[1] == "/api/v1/log/entries")
        .map(|mut r| r[2].take())
        .collect()
}

/// How many entries the Sigstore double at `url` was asked to log.
fn rekor_uploads(url: &str) -> usize {
    rekor_upload_bodies(url).len()
}

/// Chains' counters (pkg/chains/signing.go): `sign_created` and `payload_uploaded`
/// once per signed object (the attestation and each image signature), whatever kind
/// of payload; `payload_stored` once per object and backend that stored it;
/// `marked_signed` once per run; `signing_failures_total` once per failed step.
#[test]
fn chains_counters_count_per_object_backend_and_upload() {
    let Some(python) = tool("INTEROP_PYTHON", "controller metrics") else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double("controller metrics") else {
        return;
    };
    let gcs_dir = tempfile::tempdir().expect("tmp");
    let gcs = common::gcs_double(&python, gcs_dir.path());
    gcs.create_bucket("prov");
    let objects = vec![
        chains_config(json!({
            "artifacts.taskrun.storage": "tekton,gcs",
            "artifacts.oci.storage": "gcs",
            "storage.gcs.bucket": "prov",
            "transparency.enabled": "true",
            "transparency.url": url,
        })),
        // Each names one image (gcr.io/my/image).
        taskrun("steady", "True"),
        taskrun("flaky", "True"),
    ];
    // `flaky`'s first `tekton` write fails: one failed attempt, then signed.
    let Some(scene) = Scene::start("metrics", &objects, json!({"flaky": 1})) else {
        return;
    };
    let credentials = gcs.credentials.display().to_string();
    let controller = Running(Some(scene.controller(&[
        ("CHAINSEAL_METRICS_ADDR", "127.0.0.1:0"),
        ("CHAINSEAL_STORAGE_ENDPOINT", gcs.endpoint.as_str()),
        ("GOOGLE_APPLICATION_CREDENTIALS", credentials.as_str()),
    ])));
    let port = scene.metrics_port("controller.log");
    scene.wait_for("both runs signed", Duration::from_secs(60), |runs| {
        runs.iter()
            .filter(|r| annotation(r, "signed") == Some("true"))
            .count()
            == 2
    });
    let (code, text) = http_get(port, "/metrics").expect("metrics answer");
    assert_eq!(code, 200);
    assert_eq!(controller.stop(), 0);
    // Three attempts (steady; flaky twice), each signing and logging the attestation
    // and the image signature. Stored: the attestation in `gcs` and `tekton`, the
    // image signature in `gcs`; flaky's first attempt lost only its `tekton` write.
    for line in [
        "watcher_taskrun_sign_created_total 6",
        "watcher_taskrun_payload_uploaded_total 6",
        "watcher_taskrun_payload_stored_total 8",
        "watcher_taskrun_marked_signed_total 2",
        "watcher_taskrun_signing_failures_total{error_type=\"storage\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing in:\n{text}");
    }
    assert!(
        !text.contains("error_type=\"tlog\""),
        "no upload failed:\n{text}"
    );
    assert_eq!(rekor_uploads(&url), 6, "one upload per signed object");
}

/// Chains' `transparency.enabled` is on for exactly `true` and `manual`; any other
/// value (`True`, `1`, `yes`) is off, not an error (pkg/config/config.go `oneOf`).
#[test]
fn transparency_is_on_only_for_the_values_chains_accepts() {
    let objects = vec![
        chains_config(json!({
            "artifacts.oci.storage": "",
            "transparency.enabled": "True",
            // Nothing listens: a run logged here would fail.
            "transparency.url": "http://127.0.0.1:9",
        })),
        taskrun("unlogged", "True"),
    ];
    let Some(scene) = Scene::start("transparency values", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    scene.wait_for("the run handled", Duration::from_secs(60), |runs| {
        signed(runs) == 1
    });
    assert_eq!(controller.stop(), 0);
    let run = scene.taskrun("unlogged").expect("run");
    assert_eq!(annotation(&run, "signed"), Some("true"), "{run:#}");
    assert_eq!(annotation(&run, "retries"), None);
    assert_eq!(annotation(&run, "transparency"), None);
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).expect("log");
    assert!(
        log.contains("transparency.enabled") && log.contains("`True`"),
        "the ignored value is not named in the log:\n{log}"
    );
}

/// A `manual` run whose attempt logged its attestation and then failed is logged again
/// by the retry: the `retries` mark carries no `chains.tekton.dev/transparency` entry
/// (Chains writes it there, and its retry then logs nothing, so a new signature from a
/// keyless or KMS signer would be stored unlogged). With a deterministic key the
/// retry's upload is the same entry (Rekor's 409), so the log holds it once.
#[test]
fn a_retry_in_manual_mode_logs_what_it_stores() {
    let Some((_sigstore, url)) = common::sigstore_double("manual transparency retry") else {
        return;
    };
    let mut asked = taskrun("asked", "True");
    asked["metadata"]["annotations"]["chains.tekton.dev/transparency-upload"] = json!("true");
    let objects = vec![
        chains_config(json!({
            "artifacts.oci.storage": "",
            "transparency.enabled": "manual",
            "transparency.url": url,
        })),
        asked,
    ];
    // The first `tekton` write fails, after the upload: one failed attempt.
    let Some(scene) = Scene::start("manual retry", &objects, json!({"asked": 1})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    scene.wait_for("the run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 1
    });
    assert_eq!(controller.stop(), 0);
    let run = scene.taskrun("asked").expect("run");
    assert_eq!(annotation(&run, "signed"), Some("true"), "{run:#}");
    assert_eq!(annotation(&run, "retries"), Some("0"), "one failed attempt");
    let entry = annotation(&run, "transparency").expect("transparency annotation");
    assert!(
        entry.starts_with(&format!("{url}/api/v1/log/entries?logIndex=")),
        "{entry}"
    );
    let record = scene.record();
    let retry_writes: Vec<&Value> = record
        .0
        .iter()
        .filter(|w| w["annotations"]["chains.tekton.dev/retries"] == "0")
        .collect();
    assert!(
        !retry_writes.is_empty()
            && retry_writes
                .iter()
                .all(|w| w["annotations"]["chains.tekton.dev/transparency"].is_null()),
        "the retry mark carried a log entry: {retry_writes:#?}\n{}",
        record.summary()
    );
    assert_eq!(rekor_uploads(&url), 2, "the retry logs again");
    // The same entry both times (the demo key signs deterministically): the double
    // answers the second with 409 and the existing entry, as Rekor does.
    let bodies = rekor_upload_bodies(&url);
    assert!(bodies.len() == 2 && bodies[0] == bodies[1], "{bodies:#?}");
}

/// The lines of the controller's log (`controller.log`) that contain every one of
/// `needles`.
fn log_lines_with(scene: &Scene, needles: &[&str]) -> Vec<String> {
    std::fs::read_to_string(scene.dir.path().join("controller.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .map(str::to_owned)
        .collect()
}

/// Wait until `count` lines of the controller's log contain every one of `needles`.
fn wait_for_log_lines(scene: &Scene, needles: &[&str], count: usize) {
    let start = Instant::now();
    while log_lines_with(scene, needles).len() < count {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {count} log line(s) with {needles:?}; log:\n{}",
            std::fs::read_to_string(scene.dir.path().join("controller.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `signers.x509.fulcio.provider` picks the identity token (cosign's `envvar`:
/// `SIGSTORE_ID_TOKEN`, over the token file `filesystem` reads), `fulcio.issuer` is
/// the issuer that token must have, an unknown provider is refused as an invalid
/// ConfigMap naming the supported ones, and the keys chainseal ignores
/// (`tuf.mirror.url`, `kms.auth.spire.*`) are each named in one warning at start-up
/// and one per ConfigMap change.
#[test]
fn fulcio_provider_and_issuer_pick_the_token_and_ignored_keys_are_warned_about() {
    let Some((_sigstore, url)) = common::sigstore_double("fulcio provider and issuer") else {
        return;
    };
    const GITLAB: &str = "https://gitlab.com";
    const KUBERNETES: &str = "https://kubernetes.default.svc";
    let objects = vec![
        chains_config(json!({
            "artifacts.oci.storage": "",
            "signers.x509.fulcio.enabled": "true",
            "signers.x509.fulcio.address": url,
            "signers.x509.fulcio.provider": "envvar",
            "signers.x509.fulcio.issuer": GITLAB,
            "signers.x509.tuf.mirror.url": "https://tuf.example.com",
            "signers.kms.auth.spire.sock": "unix:///tmp/spire-agent/public/api.sock",
            "signers.kms.auth.spire.audience": "vault",
        })),
        taskrun("from-envvar", "True"),
    ];
    let Some(scene) = Scene::start("fulcio provider and issuer", &objects, json!({})) else {
        return;
    };
    // The token file (`signers.x509.identity.token.file`, which wins over any provider,
    // as in Chains) and `SIGSTORE_ID_TOKEN` (what `envvar` reads) are tokens of two
    // issuers, so the certificate says which.
    std::fs::write(
        scene.dir.path().join("oidc-token"),
        common::identity_token(json!({"iss": KUBERNETES,
            "sub": "system:serviceaccount:tekton-chains:tekton-chains-controller",
            "aud": "sigstore"})),
    )
    .expect("token");
    let gitlab_token = common::identity_token(
        json!({"iss": GITLAB, "sub": "project_path:acme/app:ref_type:branch:ref:main",
               "aud": "sigstore"}),
    );
    let controller = Running(Some(
        scene.controller(&[("SIGSTORE_ID_TOKEN", &gitlab_token)]),
    ));
    scene.wait_for("the first run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 1
    });
    let certified = ["Fulcio certified an ephemeral key"];
    let issuers = |scene: &Scene| -> Vec<&'static str> {
        log_lines_with(scene, &certified)
            .iter()
            .map(|l| {
                if l.contains(GITLAB) {
                    GITLAB
                } else if l.contains(KUBERNETES) {
                    KUBERNETES
                } else {
                    "?"
                }
            })
            .collect()
    };
    assert_eq!(
        issuers(&scene),
        [GITLAB],
        "provider `envvar`: SIGSTORE_ID_TOKEN"
    );
    let run = scene.taskrun("from-envvar").expect("run");
    assert_eq!(annotation(&run, "signed"), Some("true"), "{run:#}");
    let ignored = [
        "signers.x509.tuf.mirror.url",
        "signers.kms.auth.spire.sock",
        "signers.kms.auth.spire.audience",
    ];
    let warned = |scene: &Scene, key: &str| log_lines_with(scene, &["WARN", key, "ignored"]).len();
    for key in ignored {
        assert_eq!(
            warned(&scene, key),
            1,
            "one start-up warning naming `{key}`"
        );
    }

    // A change: the token file is named, and wins over `envvar` (Chains forces its
    // file provider then); the warnings come once more.
    patch_chains_config(
        &scene,
        json!({"signers.x509.identity.token.file": "oidc-token",
               "signers.x509.fulcio.issuer": KUBERNETES}),
    );
    wait_for_log_lines(&scene, &["settings rebuilt"], 1);
    scene.create(&taskrun("from-file", "True"));
    scene.wait_for("the second run signed", Duration::from_secs(60), |runs| {
        signed(runs) == 2
    });
    assert_eq!(
        issuers(&scene),
        [GITLAB, KUBERNETES],
        "`identity.token.file` wins over `envvar`"
    );
    for key in ignored {
        assert_eq!(warned(&scene, key), 2, "one more warning naming `{key}`");
    }

    // A provider chainseal does not have: the ConfigMap is invalid, the settings kept.
    patch_chains_config(&scene, json!({"signers.x509.fulcio.provider": "spiffe"}));
    wait_for_log_lines(&scene, &["changed but is invalid", "spiffe"], 1);
    let refusal = log_lines_with(&scene, &["changed but is invalid"]).join("\n");
    for supported in ["filesystem", "github-actions", "envvar"] {
        assert!(
            refusal.contains(supported),
            "`{supported}` not listed: {refusal}"
        );
    }

    // An issuer the token does not have: the run is never signed, and the log says why.
    patch_chains_config(
        &scene,
        json!({"signers.x509.fulcio.provider": "filesystem",
               "signers.x509.fulcio.issuer": GITLAB}),
    );
    wait_for_log_lines(&scene, &["settings rebuilt"], 2);
    scene.create(&taskrun("wrong-issuer", "True"));
    scene.wait_for("the third run handled", Duration::from_secs(60), |runs| {
        signed(runs) == 3
    });
    assert_eq!(controller.stop(), 0);
    let run = scene.taskrun("wrong-issuer").expect("run");
    assert_eq!(annotation(&run, "signed"), Some("failed"), "{run:#}");
    assert_eq!(
        issuers(&scene).len(),
        2,
        "no certificate for the wrong issuer"
    );
    let why = log_lines_with(&scene, &[KUBERNETES, GITLAB, "signers.x509.fulcio.issuer"]);
    assert!(
        !why.is_empty(),
        "the issuer mismatch is not explained in the log"
    );
    for key in ignored {
        assert_eq!(
            warned(&scene, key),
            3,
            "`{key}`: one warning per settings build"
        );
    }
}

/// One pipeline (#20): the same store failure, driven through `attest` and through
/// the controller, has the same outcome. Archivista is unreachable and comes first;
/// GCS works. Both front doors still store in GCS (every store is attempted), report
/// the same failure, and neither reports success: `attest` exits 2 listing what
/// landed, the controller counts a retry and never marks the run signed.
#[test]
fn a_store_failure_has_the_same_outcome_through_attest_and_the_controller() {
    let Some(python) = tool("INTEROP_PYTHON", "one pipeline, two front doors") else {
        return;
    };
    let gcs_dir = tempfile::tempdir().expect("tmp");
    let gcs = common::gcs_double(&python, gcs_dir.path());
    gcs.create_bucket("prov");
    let (endpoint, credentials) = (&gcs.endpoint, gcs.credentials.display().to_string());
    let run = taskrun("twice", "True");
    let objects = vec![
        chains_config(json!({
            "artifacts.oci.storage": "",
            "artifacts.taskrun.storage": "archivista,gcs",
            "storage.archivista.url": "http://127.0.0.1:9",
            "storage.gcs.bucket": "prov",
        })),
        run.clone(),
    ];
    let Some(scene) = Scene::start("one pipeline", &objects, json!({})) else {
        return;
    };
    let env = [
        ("CHAINSEAL_STORAGE_ENDPOINT", endpoint.as_str()),
        ("GOOGLE_APPLICATION_CREDENTIALS", credentials.as_str()),
    ];
    let controller = Running(Some(scene.controller(&env)));
    scene.wait_for("a failed attempt", Duration::from_secs(120), |runs| {
        runs.iter()
            .any(|r| r["metadata"]["name"] == "twice" && annotation(r, "retries").is_some())
    });
    assert_eq!(controller.stop(), 0);
    let marked = scene.taskrun("twice").expect("run");
    assert_ne!(
        annotation(&marked, "signed"),
        Some("true"),
        "marked signed despite a failed store"
    );
    let object = "taskrun-ci-twice/taskrun-uid-twice.signature";
    let by_controller = gcs
        .read("prov", object)
        .unwrap_or_else(|| panic!("the controller skipped gcs:\n{}", scene.log_tails()));
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).expect("log");
    let failure = "storing in `archivista+http://127.0.0.1:9";
    let line = log
        .lines()
        .find(|l| l.contains(failure))
        .unwrap_or_else(|| panic!("no store failure in the controller log:\n{log}"));
    assert!(line.contains("` failed: "), "{line}");

    // The same run, the same stores (a bucket of its own), through `attest`.
    gcs.create_bucket("prov-attest");
    let record = scene.dir.path().join("twice.json");
    std::fs::write(&record, run.to_string()).expect("record");
    let mut cmd = common::chainseal(scene.dir.path());
    cmd.env("CHAINSEAL_RECORD", &record)
        .env("CHAINSEAL_KEY", repo("examples/demo.key"))
        // Chains' default format, which the controller uses.
        .env("CHAINSEAL_FORMAT", "in-toto")
        .env(
            "CHAINSEAL_STORAGE",
            "archivista+http://127.0.0.1:9,gs://prov-attest",
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = common::run(&mut cmd);
    assert_eq!(r.code, 2, "attest reported success: {}", r.stdout);
    assert!(r.stderr.contains(failure), "{}", r.stderr);
    assert!(
        r.stderr.contains("already stored in: gs://prov-attest/"),
        "attest did not list what landed: {}",
        r.stderr
    );
    let by_attest = gcs.read("prov-attest", object).expect("attest skipped gcs");
    // One run, one format, one key: the same Statement, signed by the same key.
    let envelope = |bytes: &[u8]| {
        let v: Value = serde_json::from_slice(bytes).expect("envelope");
        let payload = STANDARD
            .decode(v["payload"].as_str().expect("payload"))
            .expect("base64");
        let statement: Value = serde_json::from_slice(&payload).expect("statement");
        (
            v["payloadType"].clone(),
            v["signatures"][0]["keyid"].clone(),
            statement,
        )
    };
    assert_eq!(
        envelope(&by_attest),
        envelope(&by_controller),
        "the two front doors stored different attestations of one run"
    );
}

/// A Secret in `namespace` with `data` (raw bytes, base64-encoded here).
fn secret(namespace: &str, name: &str, type_: &str, data: &[(&str, Vec<u8>)]) -> Value {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(STANDARD.encode(v))))
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "type": type_,
           "metadata": {"name": name, "namespace": namespace}, "data": data})
}

/// Issue #24: each namespace's runs are signed by its tenant's key (a Secret in the
/// controller's namespace, plain or cosign-encrypted), pushed with the run's
/// ServiceAccount's pull secret (two registries, each with its own htpasswd users), and refused (marked failed, a Warning Event, nothing
/// pushed) when they name a repository their tenant may not push to; a pull secret
/// added later is used without a restart.
#[test]
fn tenants_sign_with_their_own_keys_push_with_their_pull_secrets_and_stay_in_their_repositories() {
    let Some(bin) = tool("REGISTRY_BIN", "controller tenants") else {
        return;
    };
    // Two registries with their own htpasswd: team A's (its pull secret's user) and
    // team B's (a user of its own, `team-b`).
    let registry_dir = tempfile::tempdir().expect("tmp");
    let reg = common::registry::TestRegistry::start(&bin, registry_dir.path(), true);
    let registry_b_dir = tempfile::tempdir().expect("tmp");
    let reg_b = common::registry::TestRegistry::start_with_users(
        &bin,
        registry_b_dir.path(),
        true,
        &[("team-b", "team-b-pass")],
    );
    let digest_a = reg.push_image("team-a/app", "v1", "tenant-a");
    let digest_b = reg_b.push_image("team-b/app", "v1", "tenant-b");
    let host = reg.host.clone();
    let host_b = reg_b.host.clone();
    let docker_config =
        std::fs::read(reg.docker_config(&registry_dir.path().join("auth"))).expect("config.json");
    let team_b_config = {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode("team-b:team-b-pass");
        json!({"auths": {host_b.clone(): {"auth": auth}}})
            .to_string()
            .into_bytes()
    };
    let run_in = |ns: &str, name: &str, sa: Option<&str>, repo_path: &str, digest: &str| {
        let registry = if repo_path.starts_with("team-b/") {
            &host_b
        } else {
            &host
        };
        image_run(ns, name, sa, &format!("{registry}/{repo_path}"), digest)
    };
    let tenants = format!(
        "tenants:\n  - name: team-a\n    namespaces: [team-a]\n    signer: {{secret: key-a}}\n    repositories: ['{host}/team-a/']\n  - name: team-b\n    namespaces: [team-b]\n    signer: {{secret: key-b}}\n    repositories: ['{host_b}/team-b']\n  - name: team-c\n    namespaces: [team-c]\n    signer: {{secret: key-c-missing}}\n    repositories: ['{host}/team-c']\n"
    );
    let objects = vec![
        chains_config(json!({
            "artifacts.taskrun.storage": "oci",
            "artifacts.oci.storage": "oci",
        })),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "chainseal-tenants", "namespace": "tekton-chains"},
               "data": {"tenants.yaml": tenants}}),
        secret(
            "tekton-chains",
            "key-a",
            "Opaque",
            &[(
                "x509.pem",
                std::fs::read(repo("examples/demo.key")).expect("key"),
            )],
        ),
        secret(
            "tekton-chains",
            "key-b",
            "Opaque",
            &[
                (
                    "cosign.key",
                    std::fs::read(repo("tests/fixtures/keys/cosign.key")).expect("key"),
                ),
                (
                    "cosign.password",
                    std::fs::read(repo("tests/fixtures/keys/cosign.password")).expect("password"),
                ),
            ],
        ),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "builder", "namespace": "team-a"},
               "imagePullSecrets": [{"name": "regcred"}]}),
        secret(
            "team-a",
            "regcred",
            "kubernetes.io/dockerconfigjson",
            &[(".dockerconfigjson", docker_config)],
        ),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "default", "namespace": "team-b"}}),
        run_in("team-a", "a-own", Some("builder"), "team-a/app", &digest_a),
        run_in(
            "team-a",
            "a-cross",
            Some("builder"),
            "team-b/app",
            &digest_b,
        ),
        run_in("team-b", "b-no-creds", None, "team-b/app", &digest_b),
        // A namespace no tenant names may push nowhere (no `otherNamespaces`).
        run_in("other", "o-run", None, "team-a/app", &digest_a),
        // A tenant whose key Secret is missing: its runs fail, the cluster key (the
        // mounted signing-secrets) never signs for it.
        run_in("team-c", "c-run", None, "team-c/app", &digest_a),
    ];
    let Some(scene) = Scene::start("tenants", &objects, json!({})) else {
        return;
    };
    let insecure = format!("{host},{host_b}");
    let controller = Running(Some(
        scene.controller(&[("CHAINSEAL_INSECURE_REGISTRIES", insecure.as_str())]),
    ));
    let wait = |ns: &str, name: &str, done: &dyn Fn(&Value) -> bool| {
        scene.wait_for_run(ns, name, Duration::from_secs(120), done)
    };
    let handled = |r: &Value| matches!(annotation(r, "signed"), Some("true" | "failed"));
    let other = wait("other", "o-run", &handled);
    assert_eq!(annotation(&other, "signed"), Some("failed"));
    assert_eq!(annotation(&other, "retries"), None, "refused at once");
    let no_key = wait("team-c", "c-run", &handled);
    assert_eq!(
        annotation(&no_key, "signed"),
        Some("failed"),
        "{}",
        scene.log_tails()
    );
    // Nothing was signed (with the cluster's key or any other) or pushed for team C.
    let sig_c = format!("sha256-{}.sig", digest_a.trim_start_matches("sha256:"));
    assert!(
        reg.inspect_raw("team-c/app", &sig_c).is_none(),
        "something was pushed for team C: {no_key}"
    );
    let own = wait("team-a", "a-own", &handled);
    assert_eq!(
        annotation(&own, "signed"),
        Some("true"),
        "{own}\n{}",
        scene.log_tails()
    );
    let cross = wait("team-a", "a-cross", &handled);
    assert_eq!(annotation(&cross, "signed"), Some("failed"));
    assert_eq!(
        annotation(&cross, "retries"),
        None,
        "refused at once, not retried"
    );
    // Team B's ServiceAccount has no pull secret, the controller no credentials (team
    // A's pull secret names only team A's registry): its push is refused by team B's
    // registry, and the run fails.
    let no_creds = wait("team-b", "b-no-creds", &|r| {
        annotation(r, "retries").is_some()
    });
    assert_ne!(annotation(&no_creds, "signed"), Some("true"));
    let sig_b = format!("sha256-{}.sig", digest_b.trim_start_matches("sha256:"));
    assert!(
        reg_b.inspect_raw("team-b/app", &sig_b).is_none(),
        "neither team A's refused run nor team B's run without credentials pushed anything"
    );
    // A pull secret for team B (its registry's own user), added while the controller
    // runs: the next run uses it.
    scene.send(
        "POST",
        "application/json",
        &secret(
            "team-b",
            "regcred-b",
            "kubernetes.io/dockerconfigjson",
            &[(".dockerconfigjson", team_b_config)],
        ),
        "/api/v1/namespaces/team-b/secrets",
    );
    scene.send(
        "PATCH",
        "application/merge-patch+json",
        &json!({"imagePullSecrets": [{"name": "regcred-b"}]}),
        "/api/v1/namespaces/team-b/serviceaccounts/default",
    );
    scene.send(
        "POST",
        "application/json",
        &run_in("team-b", "b-own", None, "team-b/app", &digest_b),
        "/apis/tekton.dev/v1/namespaces/team-b/taskruns",
    );
    let b_own = wait("team-b", "b-own", &handled);
    assert_eq!(
        annotation(&b_own, "signed"),
        Some("true"),
        "{}",
        scene.log_tails()
    );
    assert_eq!(controller.stop(), 0);

    // Each image's attestations and signature verify with its tenant's key only.
    let auth_dir = registry_dir.path().join("auth");
    let auth_b_dir = registry_b_dir.path().join("auth");
    reg_b.docker_config(&auth_b_dir);
    let verify = |image: String, key: &str| {
        let auth = if image.starts_with(&host_b) {
            &auth_b_dir
        } else {
            &auth_dir
        };
        common::run(
            common::chainseal(scene.dir.path())
                .env("CHAINSEAL_INSECURE_REGISTRIES", &insecure)
                .env("DOCKER_CONFIG", auth)
                .args(["verify", "--type", "any", "--key"])
                .arg(repo(key))
                .args(["--image", &image]),
        )
    };
    let image_a = format!("{host}/team-a/app@{digest_a}");
    let image_b = format!("{host_b}/team-b/app@{digest_b}");
    let r = verify(image_a.clone(), "examples/demo.pub");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("1 image signature(s) verified"),
        "{}",
        r.stderr
    );
    assert_eq!(verify(image_a, "tests/fixtures/keys/cosign.pub").code, 1);
    let r = verify(image_b.clone(), "tests/fixtures/keys/cosign.pub");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        verify(image_b, "examples/demo.pub").code,
        1,
        "team A's key signed nothing of team B's"
    );
    // `kubectl describe` shows why the cross-tenant run was refused.
    let events = scene.curl(&[], "/apis/events.k8s.io/v1/namespaces/team-a/events")["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let refused = events
        .iter()
        .find(|e| e["regarding"]["name"] == "a-cross")
        .expect("an event on the refused run");
    assert_eq!(refused["reason"], "NotAllowed");
    let note = refused["note"].as_str().expect("note");
    assert!(
        note.contains("tenant `team-a` may not push to") && note.contains("team-b/app"),
        "{note}"
    );
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).unwrap_or_default();
    assert!(
        log.contains("tenant `team-c` has no signer") && log.contains("key-c-missing"),
        "{log}"
    );
    assert!(
        log.contains("namespaces of no tenant may not push to"),
        "{log}"
    );
}

/// Issue #24: a tenant's `storage` (chains-config storage keys, set over
/// chains-config's) decides where its runs are stored: team A's attestations and
/// signatures go to its own repository, team B's beside the image (chains-config),
/// team C's to the run's annotations only, and team D's storage, which names GCS
/// without a bucket, fails its runs (retried, nothing stored anywhere); a changed
/// tenant storage applies to the next run without a restart.
#[test]
fn tenants_store_where_their_storage_says() {
    let Some(bin) = tool("REGISTRY_BIN", "controller tenant storage") else {
        return;
    };
    let registry_dir = tempfile::tempdir().expect("tmp");
    let reg = common::registry::TestRegistry::start(&bin, registry_dir.path(), false);
    let host = reg.host.clone();
    let digests: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|t| reg.push_image(&format!("team-{t}/app"), "v1", &format!("storage-{t}")))
        .collect();
    let tag = |digest: &str, suffix: &str| {
        format!("sha256-{}.{suffix}", digest.trim_start_matches("sha256:"))
    };
    let run_of = |team: &str, name: &str, digest: &str| {
        image_run(
            &format!("team-{team}"),
            name,
            None,
            &format!("{host}/team-{team}/app"),
            digest,
        )
    };
    let tenants = |b_storage: &str| {
        format!(
            "tenants:\n  - name: team-a\n    namespaces: [team-a]\n    repositories: ['{host}/team-a/']\n    storage: {{storage.oci.repository: '{host}/team-a/attestations'}}\n  - name: team-b\n    namespaces: [team-b]\n{b_storage}  - name: team-c\n    namespaces: [team-c]\n    storage: {{artifacts.taskrun.storage: tekton, artifacts.oci.storage: tekton}}\n  - name: team-d\n    namespaces: [team-d]\n    storage: {{artifacts.taskrun.storage: gcs}}\n"
        )
    };
    let objects = vec![
        chains_config(json!({
            "artifacts.taskrun.storage": "oci",
            "artifacts.oci.storage": "oci",
        })),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "chainseal-tenants", "namespace": "tekton-chains"},
               "data": {"tenants.yaml": tenants("")}}),
        run_of("a", "a-run", &digests[0]),
        run_of("b", "b-run", &digests[1]),
        run_of("c", "c-run", &digests[2]),
        run_of("d", "d-run", &digests[3]),
    ];
    let Some(scene) = Scene::start("tenant storage", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(
        scene.controller(&[("CHAINSEAL_INSECURE_REGISTRIES", host.as_str())]),
    ));
    let wait = |ns: &str, name: &str, done: &dyn Fn(&Value) -> bool| {
        scene.wait_for_run(ns, name, Duration::from_secs(120), done)
    };
    let signed_true = |r: &Value| annotation(r, "signed") == Some("true");
    for (ns, name) in [
        ("team-a", "a-run"),
        ("team-b", "b-run"),
        ("team-c", "c-run"),
    ] {
        let run = wait(ns, name, &|r| annotation(r, "signed").is_some());
        assert!(signed_true(&run), "{name}: {run}\n{}", scene.log_tails());
    }
    // Team A: both in its own repository, nothing beside the image.
    for suffix in ["att", "sig"] {
        assert!(
            reg.inspect_raw("team-a/attestations", &tag(&digests[0], suffix))
                .is_some(),
            "team A's .{suffix} is in its repository"
        );
        assert!(
            reg.inspect_raw("team-a/app", &tag(&digests[0], suffix))
                .is_none()
        );
    }
    // Team B: chains-config's storage, beside the image.
    for suffix in ["att", "sig"] {
        assert!(
            reg.inspect_raw("team-b/app", &tag(&digests[1], suffix))
                .is_some(),
            "team B's .{suffix} is beside its image"
        );
    }
    // Team C: the run's annotations only.
    let c = wait("team-c", "c-run", &signed_true);
    let keys: Vec<&String> = c["metadata"]["annotations"]
        .as_object()
        .map(|a| a.keys().collect())
        .unwrap_or_default();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("chains.tekton.dev/signature-taskrun-")),
        "{keys:?}"
    );
    for suffix in ["att", "sig"] {
        assert!(
            reg.inspect_raw("team-c/app", &tag(&digests[2], suffix))
                .is_none()
        );
    }
    // Team D: its storage cannot be used, so its run fails (retried), stores nothing.
    let d = wait("team-d", "d-run", &|r| annotation(r, "retries").is_some());
    assert_ne!(annotation(&d, "signed"), Some("true"));
    for suffix in ["att", "sig"] {
        assert!(
            reg.inspect_raw("team-d/app", &tag(&digests[3], suffix))
                .is_none()
        );
    }
    let events = scene.curl(&[], "/apis/events.k8s.io/v1/namespaces/team-d/events")["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        events.iter().any(|e| e["reason"] == "SigningFailed"
            && e["note"]
                .as_str()
                .is_some_and(|n| n.contains("its `storage` cannot be used"))),
        "{events:?}"
    );
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).unwrap_or_default();
    assert!(
        log.contains("tenant `team-d`: its `storage` cannot be used with chains-config")
            && log.contains("storage.gcs.bucket"),
        "{log}"
    );
    // Team B gets storage of its own, live: the next run is stored there.
    scene.send(
        "PATCH",
        "application/merge-patch+json",
        &json!({"data": {"tenants.yaml": tenants(&format!(
            "    storage: {{storage.oci.repository: '{host}/team-b/moved'}}\n"
        ))}}),
        "/api/v1/namespaces/tekton-chains/configmaps/chainseal-tenants",
    );
    wait_for_log_lines(
        &scene,
        &["the tenants ConfigMap changed: settings rebuilt"],
        1,
    );
    scene.send(
        "POST",
        "application/json",
        &run_of("b", "b-later", &digests[1]),
        "/apis/tekton.dev/v1/namespaces/team-b/taskruns",
    );
    let later = wait("team-b", "b-later", &|r| annotation(r, "signed").is_some());
    assert!(signed_true(&later), "{later}\n{}", scene.log_tails());
    assert!(
        reg.inspect_raw("team-b/moved", &tag(&digests[1], "att"))
            .is_some(),
        "the changed storage applied without a restart"
    );
    assert_eq!(controller.stop(), 0);
}

/// Issue #24: the pull secrets of the controller's own ServiceAccount
/// (`CHAINSEAL_SERVICE_ACCOUNT`; in a pod, the one it runs as) come after the run's,
/// as Chains' k8schain: a run whose ServiceAccount has none pushes with them, and
/// without them (no setting, no mounted token) its push is refused.
#[test]
fn the_controller_s_own_service_account_pull_secrets_follow_the_run_s() {
    let Some(bin) = tool("REGISTRY_BIN", "controller ServiceAccount pull secrets") else {
        return;
    };
    let registry_dir = tempfile::tempdir().expect("tmp");
    let reg = common::registry::TestRegistry::start(&bin, registry_dir.path(), true);
    let digest = reg.push_image("builds/app", "v1", "own-sa");
    let host = reg.host.clone();
    let docker_config =
        std::fs::read(reg.docker_config(&registry_dir.path().join("auth"))).expect("config.json");
    let run = |name: &str| {
        let mut tr = taskrun(name, "True");
        tr["metadata"]["namespace"] = "ci".into();
        tr["status"]["results"] = json!([
            {"name": "IMAGE_URL", "value": format!("{host}/builds/app")},
            {"name": "IMAGE_DIGEST", "value": digest},
        ]);
        tr
    };
    let objects = vec![
        chains_config(json!({
            "artifacts.taskrun.storage": "tekton",
            "artifacts.oci.storage": "oci",
        })),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "chainseal-controller", "namespace": "tekton-chains"},
               "imagePullSecrets": [{"name": "controller-regcred"}]}),
        secret(
            "tekton-chains",
            "controller-regcred",
            "kubernetes.io/dockerconfigjson",
            &[(".dockerconfigjson", docker_config)],
        ),
        run("without-own"),
    ];
    let Some(scene) = Scene::start("own-sa", &objects, json!({})) else {
        return;
    };
    let signed = |name: &'static str, want: &'static str| {
        move |runs: &[Value]| {
            runs.iter()
                .any(|r| r["metadata"]["name"] == name && annotation(r, "signed") == Some(want))
        }
    };
    let sig = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    // Not configured (and no pod token here): the registry refuses the push.
    let controller = Running(Some(
        scene.controller(&[("CHAINSEAL_INSECURE_REGISTRIES", host.as_str())]),
    ));
    scene.wait_for(
        "the push without credentials to fail",
        Duration::from_secs(60),
        |runs| {
            runs.iter().any(|r| {
                r["metadata"]["name"] == "without-own" && annotation(r, "retries").is_some()
            })
        },
    );
    assert_eq!(controller.stop(), 0);
    assert!(
        reg.inspect_raw("builds/app", &sig).is_none(),
        "nothing pushed"
    );
    // With the controller's ServiceAccount named, the next run pushes with its secret.
    let controller = Running(Some(scene.controller(&[
        ("CHAINSEAL_INSECURE_REGISTRIES", host.as_str()),
        (
            "CHAINSEAL_SERVICE_ACCOUNT",
            "tekton-chains/chainseal-controller",
        ),
    ])));
    scene.send(
        "POST",
        "application/json",
        &run("with-own"),
        "/apis/tekton.dev/v1/namespaces/ci/taskruns",
    );
    scene.wait_for(
        "the run to be signed with the controller's pull secret",
        Duration::from_secs(60),
        signed("with-own", "true"),
    );
    assert_eq!(controller.stop(), 0);
    assert!(
        reg.inspect_raw("builds/app", &sig).is_some(),
        "the signature was pushed"
    );
    // A setting that names no ServiceAccount stops the controller at start.
    let mut bad = scene.controller(&[("CHAINSEAL_SERVICE_ACCOUNT", "chainseal-controller")]);
    assert_eq!(bad.wait().expect("exits").code(), Some(2));
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).expect("log");
    assert!(log.contains("use NAMESPACE/NAME"), "{log}");
}

/// Issue #24: tenants select namespaces by label (`namespaceSelector.matchLabels`):
/// a labelled namespace's runs belong to the tenant its labels match (here one whose
/// key Secret is missing, so the run fails instead of being signed with the cluster's
/// key), a namespace two tenants select is refused, and one no tenant selects is
/// signed as chains-config says.
#[test]
fn tenants_select_namespaces_by_label() {
    let tenants = "tenants:\n  - name: team-x\n    namespaceSelector: {matchLabels: {team: x}}\n    signer: {secret: key-x-missing}\n  - name: prod\n    namespaceSelector: {matchLabels: {env: prod}}\n";
    let namespace = |name: &str, labels: Value| {
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": name, "labels": labels}})
    };
    let run_in = |ns: &str, name: &str| {
        let mut tr = taskrun(name, "True");
        tr["metadata"]["namespace"] = ns.into();
        tr
    };
    let objects = vec![
        // No image signatures: a namespace of no tenant may push to no registry.
        chains_config(json!({"artifacts.taskrun.storage": "tekton", "artifacts.oci.storage": ""})),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "chainseal-tenants", "namespace": "tekton-chains"},
               "data": {"tenants.yaml": tenants}}),
        namespace("ci", json!({"team": "x"})),
        namespace("both", json!({"team": "x", "env": "prod"})),
        namespace("plain", json!({"team": "y"})),
        run_in("ci", "labelled"),
        run_in("both", "two-tenants"),
        run_in("plain", "no-tenant"),
    ];
    let Some(scene) = Scene::start("tenant-labels", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    let handled = |ns: &str, name: &str| {
        scene.wait_for_run(ns, name, Duration::from_secs(60), &|run| {
            matches!(annotation(run, "signed"), Some("true" | "failed"))
        })
    };
    assert_eq!(
        annotation(&handled("plain", "no-tenant"), "signed"),
        Some("true"),
        "{}",
        scene.log_tails()
    );
    assert_eq!(
        annotation(&handled("ci", "labelled"), "signed"),
        Some("failed")
    );
    let both = handled("both", "two-tenants");
    assert_eq!(annotation(&both, "signed"), Some("failed"));
    assert_eq!(annotation(&both, "retries"), None, "refused at once");
    assert_eq!(controller.stop(), 0);
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).unwrap_or_default();
    assert!(
        log.contains("tenant `team-x` has no signer") && log.contains("key-x-missing"),
        "{log}"
    );
    assert!(
        log.contains("labels team=x"),
        "the settings log names the selector: {log}"
    );
    let events = scene.curl(&[], "/apis/events.k8s.io/v1/namespaces/both/events")["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let refused = events
        .iter()
        .find(|e| e["regarding"]["name"] == "two-tenants")
        .expect("an event on the refused run");
    let note = refused["note"].as_str().expect("note");
    assert!(
        note.contains("namespace `both` has the labels of tenants `team-x`, `prod`"),
        "{note}"
    );
}

/// Issue #24: a PipelineRun whose results name an image in a repository its tenant may
/// not push to is refused as a TaskRun is: marked failed at once (not retried), a
/// Warning Event naming the repository, nothing signed.
#[test]
fn a_pipelinerun_naming_a_forbidden_repository_is_refused() {
    let tenants = "tenants:\n  - name: ci\n    namespaces: [ci]\n    repositories: ['registry.example.com/allowed/']\n";
    let mut pr = pipelinerun("pr-forbidden", &[]);
    pr["status"]["results"] = json!([
        {"name": "IMAGE_URL", "value": "registry.example.com/forbidden/app"},
        {"name": "IMAGE_DIGEST", "value": format!("sha256:{}", "e4".repeat(32))},
    ]);
    let objects = vec![
        chains_config(json!({
            "artifacts.pipelinerun.storage": "oci",
            "artifacts.taskrun.storage": "tekton",
            "artifacts.oci.storage": "",
        })),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "chainseal-tenants", "namespace": "tekton-chains"},
               "data": {"tenants.yaml": tenants}}),
        pr,
    ];
    let Some(scene) = Scene::start("pipelinerun refused", &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(scene.controller(&[])));
    let marked = || {
        scene
            .runs("pipelineruns")
            .into_iter()
            .find(|r| r["metadata"]["name"] == "pr-forbidden")
            .filter(|r| annotation(r, "signed").is_some())
    };
    let start = Instant::now();
    let run = loop {
        if let Some(run) = marked() {
            break run;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out:\n{}",
            scene.log_tails()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(controller.stop(), 0);
    assert_eq!(annotation(&run, "signed"), Some("failed"), "{run}");
    assert_eq!(
        annotation(&run, "retries"),
        None,
        "refused at once, not retried"
    );
    let events = scene.curl(&[], "/apis/events.k8s.io/v1/namespaces/ci/events")["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let refused = events
        .iter()
        .find(|e| e["regarding"]["name"] == "pr-forbidden")
        .expect("an event on the refused PipelineRun");
    assert_eq!(refused["reason"], "NotAllowed");
    let note = refused["note"].as_str().expect("note");
    assert!(
        note.contains("tenant `ci` may not push to")
            && note.contains("registry.example.com/forbidden/app"),
        "{note}"
    );
}

/// Issue #24: a `keyless: true` tenant signs each run as the run's own ServiceAccount:
/// the controller asks the TokenRequest API for a `sigstore` token of the run's
/// ServiceAccount and Fulcio (the Sigstore double) certifies it, so `chainseal verify
/// --certificate-identity https://kubernetes.io/namespaces/<ns>/serviceaccounts/<sa>`
/// accepts that team's image and no other identity does; a run whose ServiceAccount
/// does not exist is not signed (never with the cluster key).
#[test]
fn a_keyless_tenant_signs_as_each_run_s_service_account() {
    let what = "controller keyless tenant";
    let Some(bin) = tool("REGISTRY_BIN", what) else {
        return;
    };
    let Some((_sigstore, url)) = common::sigstore_double(what) else {
        return;
    };
    let registry_dir = tempfile::tempdir().expect("tmp");
    let reg = common::registry::TestRegistry::start(&bin, registry_dir.path(), false);
    let digest = reg.push_image("team-k/app", "v1", "keyless-tenant");
    let host = reg.host.clone();
    let run_in = |name: &str, sa: &str| {
        image_run(
            "team-k",
            name,
            Some(sa),
            &format!("{host}/team-k/app"),
            &digest,
        )
    };
    let tenants = format!(
        "tenants:\n  - name: team-k\n    namespaces: [team-k]\n    signer: {{keyless: true}}\n    repositories: ['{host}/team-k/']\n"
    );
    let objects = vec![
        chains_config(json!({
            "artifacts.taskrun.storage": "oci",
            "artifacts.oci.storage": "oci",
            "signers.x509.fulcio.address": url,
            "transparency.enabled": "true",
            "transparency.url": url,
        })),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "chainseal-tenants", "namespace": "tekton-chains"},
               "data": {"tenants.yaml": tenants}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "builder", "namespace": "team-k"}}),
        run_in("k-built", "builder"),
        run_in("k-ghost", "ghost"),
    ];
    let Some(scene) = Scene::start(what, &objects, json!({})) else {
        return;
    };
    let controller = Running(Some(
        scene.controller(&[("CHAINSEAL_INSECURE_REGISTRIES", host.as_str())]),
    ));
    let handled = |r: &Value| matches!(annotation(r, "signed"), Some("true" | "failed"));
    let built = scene.wait_for_run("team-k", "k-built", Duration::from_secs(120), &handled);
    assert_eq!(
        annotation(&built, "signed"),
        Some("true"),
        "{built}\n{}",
        scene.log_tails()
    );
    let ghost = scene.wait_for_run("team-k", "k-ghost", Duration::from_secs(120), &|r| {
        annotation(r, "signed") == Some("failed")
    });
    assert_eq!(annotation(&ghost, "signed"), Some("failed"));
    assert_eq!(controller.stop(), 0);
    let log = std::fs::read_to_string(scene.dir.path().join("controller.log")).unwrap_or_default();
    assert!(
        log.contains("no token for the run's ServiceAccount team-k/ghost"),
        "{log}"
    );
    // The token was asked for the run's ServiceAccount, with Fulcio's audience.
    let requests = std::fs::read_to_string(scene.dir.path().join("requests.jsonl")).expect("log");
    let token_requests: Vec<Value> = requests
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .filter(|r| r["resource"] == "serviceaccounts/token")
        .collect();
    assert!(
        token_requests
            .iter()
            .any(|r| r["path"].as_str().is_some_and(|p| p.split('?').next()
                == Some("/api/v1/namespaces/team-k/serviceaccounts/builder/token"))
                && r["body"]["spec"]["audiences"] == json!(["sigstore"])),
        "{token_requests:?}"
    );
    // The attestation verifies as team-k's builder, and as no other identity.
    let root = scene.dir.path().join("trusted_root.json");
    common::download(&format!("{url}/trusted_root.json"), &root);
    let image = format!("{host}/team-k/app@{digest}");
    let verify = |identity: &str| {
        common::run(
            common::chainseal(scene.dir.path())
                .env("CHAINSEAL_INSECURE_REGISTRIES", &host)
                .args(["verify", "--type", "any", "--image", &image])
                .args(["--certificate-identity", identity])
                .args([
                    "--certificate-oidc-issuer",
                    "https://kubernetes.default.svc",
                ])
                .arg("--trusted-root")
                .arg(&root),
        )
    };
    let v = verify("https://kubernetes.io/namespaces/team-k/serviceaccounts/builder");
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stderr.contains("attestation(s) verified"), "{}", v.stderr);
    let v = verify(
        "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/chainseal-controller",
    );
    assert_eq!(
        v.code, 1,
        "not the controller's identity: {}{}",
        v.stdout, v.stderr
    );
}
