//! The Kubernetes API double (`tests/doubles/kube_api.py`) checked with the real
//! `kube` client, so the tests built on it (`tests/it/tekton.rs`, the controller's) rest
//! on the API semantics the client relies on: create/get/list with label selectors,
//! optimistic concurrency (409 on a stale resourceVersion), merge, JSON and
//! server-side-apply patches (409 on a field-manager conflict unless forced),
//! finalizers holding a deleted object, watch streams with bookmarks, and 403s; and
//! that it authorizes by RBAC as the API server does, from the example manifests
//! (`examples/controller/controller.yaml`, `examples/tekton/rbac.yaml`), and refuses
//! annotations over 256 KiB with the API server's 422.
//!
//! Needs `INTEROP_PYTHON`; skipped outside CI (with a message) when it is unset.

use crate::common;

use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::{Value, json};

async fn client(
    python: &std::path::Path,
    dir: &std::path::Path,
) -> (common::Service, kube::Client, kube::Client) {
    let config = json!({"history": 20, "tokens": {
        "admin": {"user": "admin", "groups": ["system:masters"]},
        "nobody": {"serviceAccount": "ci/nobody"},
    }, "serviceAccounts": ["ci/nobody"]});
    let (service, port) = common::kube_double(python, dir, &config);
    let connect = |path: std::path::PathBuf| async move {
        let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config");
        kube::Client::try_from(config).expect("client")
    };
    let admin = connect(common::kubeconfig(dir, port, "admin")).await;
    let nobody = connect(common::kubeconfig(dir, port, "nobody")).await;
    (service, admin, nobody)
}

fn api_error(e: kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn the_double_speaks_the_api_the_client_expects() {
    let Some(python) = common::tool("INTEROP_PYTHON", "Kubernetes API double test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let (_double, admin, nobody) = client(&python, dir.path()).await;

    // ConfigMaps: create, conflicts, selectors, patches.
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), "ci");
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "chains-config", "labels": {"app": "chainseal"}},
        "data": {"artifacts.taskrun.format": "slsa/v1"},
    }))
    .expect("configmap");
    let created = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");
    assert_eq!(
        api_error(
            cms.create(&PostParams::default(), &cm)
                .await
                .expect_err("exists")
        ),
        409
    );
    let listed = cms
        .list(&ListParams::default().labels("app=chainseal"))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);
    assert!(
        cms.list(&ListParams::default().labels("app=other"))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    let mut stale = created.clone();
    cms.patch(
        "chains-config",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "1"}})),
    )
    .await
    .expect("merge patch");
    stale
        .data
        .get_or_insert_default()
        .insert("b".into(), "2".into());
    assert_eq!(
        api_error(
            cms.replace("chains-config", &PostParams::default(), &stale)
                .await
                .expect_err("stale")
        ),
        409
    );
    // JSON patch (kube needs its `jsonpatch` feature for it; the raw request is the same).
    let req = http::Request::patch("/api/v1/namespaces/ci/configmaps/chains-config")
        .header("Content-Type", "application/json-patch+json")
        .body(
            json!([{"op": "add", "path": "/data/c", "value": "3"}])
                .to_string()
                .into_bytes(),
        )
        .expect("request");
    let patched: ConfigMap = admin.request(req).await.expect("json patch");
    let data = patched.data.expect("data");
    assert_eq!((data["a"].as_str(), data["c"].as_str()), ("1", "3"));

    // Server-side apply: a second manager conflicts unless it forces.
    let apply = |value: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "chains-config", "annotations": {"owner": value}}})
    };
    cms.patch(
        "chains-config",
        &PatchParams::apply("first"),
        &Patch::Apply(apply("first")),
    )
    .await
    .expect("apply");
    let conflict = cms
        .patch(
            "chains-config",
            &PatchParams::apply("second"),
            &Patch::Apply(apply("second")),
        )
        .await
        .expect_err("conflict");
    assert_eq!(api_error(conflict), 409);
    let forced = cms
        .patch(
            "chains-config",
            &PatchParams::apply("second").force(),
            &Patch::Apply(apply("second")),
        )
        .await
        .expect("forced apply");
    assert_eq!(
        forced.metadata.annotations.expect("annotations")["owner"],
        "second"
    );

    // Leases.
    let leases: Api<Lease> = Api::namespaced(admin.clone(), "ci");
    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "chainseal-leader"},
        "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15}}))
    .expect("lease");
    leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("create lease");
    let got = leases.get("chainseal-leader").await.expect("get lease");
    assert_eq!(
        got.spec.expect("spec").holder_identity.as_deref(),
        Some("pod-a")
    );

    // TaskRuns: a watch sees create, update, a finalizer-held delete and the removal.
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("tekton.dev", "v1", "TaskRun"));
    let trs: Api<DynamicObject> = Api::namespaced_with(admin.clone(), "ci", &ar);
    let rv = trs
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = trs
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .expect("watch")
        .boxed();
    let tr: DynamicObject =
        serde_json::from_value(json!({"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
        "metadata": {"name": "build", "finalizers": ["chains.tekton.dev/taskrun"]}, "status": {}}))
        .expect("taskrun");
    trs.create(&PostParams::default(), &tr)
        .await
        .expect("create taskrun");
    trs.patch(
        "build",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"chains.tekton.dev/signed": "true"}}})),
    )
    .await
    .expect("annotate");
    trs.delete("build", &DeleteParams::default())
        .await
        .expect("delete");
    let held = trs.get("build").await.expect("held by its finalizer");
    assert!(held.metadata.deletion_timestamp.is_some());
    trs.patch(
        "build",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("remove finalizer");
    assert_eq!(api_error(trs.get("build").await.expect_err("gone")), 404);
    let mut kinds = Vec::new();
    let mut bookmark = false;
    while kinds.len() < 4 {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        match next
            .expect("watch event in time")
            .expect("stream open")
            .expect("event")
        {
            WatchEvent::Added(_) => kinds.push("ADDED"),
            WatchEvent::Modified(_) => kinds.push("MODIFIED"),
            WatchEvent::Deleted(_) => kinds.push("DELETED"),
            WatchEvent::Bookmark(_) => bookmark = true,
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]);
    // Bookmarks come about once a second while the stream is idle.
    while !bookmark {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            Ok(Some(Ok(WatchEvent::Bookmark(_)))) => bookmark = true,
            Ok(Some(Ok(_))) => {}
            other => panic!("no bookmark: {:?}", other.map(|o| o.map(|r| r.map(|_| ())))),
        }
    }

    // A watch from a resourceVersion older than the history kept: 410 Gone.
    for i in 0..25 {
        cms.patch(
            "chains-config",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"n": i.to_string()}})),
        )
        .await
        .expect("patch");
    }
    let mut old = trs
        .watch(&WatchParams::default().timeout(5), "1")
        .await
        .expect("watch")
        .boxed();
    match old.next().await.expect("an event").expect("event") {
        WatchEvent::Error(e) => assert_eq!(e.code, 410),
        _ => panic!("expected 410 Gone"),
    }

    // Authorization.
    let denied: Api<DynamicObject> = Api::namespaced_with(nobody, "ci", &ar);
    assert_eq!(
        api_error(
            denied
                .list(&ListParams::default())
                .await
                .expect_err("forbidden")
        ),
        403
    );
}

/// A request to the double with curl (independent of the kube client): the status
/// code and the reply (JSON, or `Null` for a body that is not).
fn call(port: u16, token: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    use std::io::Write as _;
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "-X", method])
        .args(["-H", &format!("Authorization: Bearer {token}")]);
    if body.is_some() {
        let kind = if method == "PATCH" {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        cmd.args(["-H", &format!("Content-Type: {kind}")])
            .args(["--data-binary", "@-"]);
    }
    let mut child = cmd
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(body) = body {
        stdin
            .write_all(body.to_string().as_bytes())
            .expect("send body");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let (reply, code) = text.rsplit_once('\n').expect("status line");
    let code = code.trim().parse().expect("HTTP status");
    (code, serde_json::from_str(reply).unwrap_or(Value::Null))
}

/// What the tests add to the examples' RBAC: a ClusterRole bound in one namespace by a
/// RoleBinding to a group, and a RoleBinding naming a Role that does not exist.
const EXTRA_RBAC: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: nobody, namespace: ci}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: taskrun-reader}
rules:
  - {apiGroups: ["tekton.dev"], resources: ["taskruns"], verbs: ["get"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ci-reads-team-a, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: taskrun-reader}
subjects:
  - {kind: Group, name: "system:serviceaccounts:ci", apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dangling, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: absent}
subjects:
  - {kind: ServiceAccount, name: nobody}
"#;

/// The double with the example manifests' RBAC plus [`EXTRA_RBAC`], seeded with runs,
/// ConfigMaps and a Lease; tokens `admin` (system:masters), `controller` (the
/// controller's ServiceAccount), `task` (the finally Task's, in `ci`), `nobody`,
/// `ghost` (a ServiceAccount that does not exist).
fn rbac_double(python: &std::path::Path, dir: &std::path::Path) -> (common::Service, u16) {
    let extra = dir.join("extra-rbac.yaml");
    std::fs::write(&extra, EXTRA_RBAC).expect("write RBAC");
    let run = |kind: &str, ns: &str, name: &str| {
        json!({"apiVersion": "tekton.dev/v1", "kind": kind,
               "metadata": {"name": name, "namespace": ns}, "status": {}})
    };
    let cm = |ns: &str, name: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "namespace": ns}, "data": {}})
    };
    let seed = dir.join("seed.json");
    let objects = json!([
        run("TaskRun", "ci", "build"),
        run("PipelineRun", "ci", "pr"),
        run("TaskRun", "team-a", "build-a"),
        run("TaskRun", "team-b", "build-b"),
        cm("tekton-chains", "chains-config"),
        cm("tekton-chains", "other"),
        cm("ci", "chains-config"),
        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "metadata": {"name": "leader", "namespace": "tekton-chains"}, "spec": {}},
    ]);
    std::fs::write(&seed, objects.to_string()).expect("seed");
    let config = json!({
        "tokens": {
            "admin": {"user": "admin", "groups": ["system:masters"]},
            "controller": {"serviceAccount": "tekton-chains/chainseal-controller"},
            "task": {"serviceAccount": "ci/chainseal"},
            "nobody": {"serviceAccount": "ci/nobody"},
            "ghost": {"serviceAccount": "ci/ghost"},
        },
        "rbac": [
            {"file": common::repo("examples/controller/controller.yaml")},
            {"file": common::repo("examples/tekton/rbac.yaml"), "namespace": "ci"},
            {"file": extra},
        ],
        "seed": [seed],
    });
    common::kube_double(python, dir, &config)
}

/// A request and what the API server answers: (token, method, path, body, status
/// code, why).
type Case<'a> = (&'a str, &'a str, String, Option<&'a Value>, u16, &'a str);

#[test]
fn rbac_from_the_example_manifests_is_enforced_as_the_api_server_does() {
    let Some(python) = common::tool("INTEROP_PYTHON", "Kubernetes API double RBAC test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let (_double, port) = rbac_double(&python, dir.path());
    let tekton = |ns: &str, rest: &str| format!("/apis/tekton.dev/v1/namespaces/{ns}/{rest}");
    let core = |ns: &str, rest: &str| format!("/api/v1/namespaces/{ns}/{rest}");
    let annotate = json!({"metadata": {"annotations": {"chains.tekton.dev/signed": "true"}}});
    let lease = json!({"metadata": {"name": "new"}, "spec": {}});
    let event = json!({"metadata": {"name": "e1"}, "reason": "x"});
    let status = json!({"status": {"conditions": []}});
    let cases: Vec<Case> = vec![
        (
            "task",
            "GET",
            tekton("ci", "pipelineruns/pr"),
            None,
            200,
            "Role: get pipelineruns",
        ),
        (
            "task",
            "PATCH",
            tekton("ci", "pipelineruns/pr"),
            Some(&annotate),
            200,
            "Role: patch",
        ),
        (
            "task",
            "GET",
            tekton("ci", "taskruns"),
            None,
            200,
            "Role: list taskruns",
        ),
        (
            "task",
            "GET",
            tekton("ci", "pipelineruns"),
            None,
            403,
            "no list of pipelineruns",
        ),
        (
            "task",
            "DELETE",
            tekton("ci", "pipelineruns/pr"),
            None,
            403,
            "verb",
        ),
        (
            "task",
            "GET",
            tekton("team-b", "taskruns"),
            None,
            403,
            "Role only in its namespace",
        ),
        (
            "task",
            "GET",
            core("ci", "configmaps/chains-config"),
            None,
            403,
            "resource and group",
        ),
        (
            "task",
            "GET",
            tekton("team-a", "taskruns/build-a"),
            None,
            200,
            "group via RoleBinding",
        ),
        (
            "task",
            "GET",
            tekton("team-a", "taskruns"),
            None,
            403,
            "ClusterRole grants only get",
        ),
        (
            "task",
            "GET",
            tekton("team-b", "taskruns/build-b"),
            None,
            403,
            "RoleBinding: one namespace",
        ),
        (
            "controller",
            "GET",
            "/apis/tekton.dev/v1/taskruns".into(),
            None,
            200,
            "ClusterRoleBinding",
        ),
        (
            "controller",
            "PATCH",
            tekton("team-b", "taskruns/build-b"),
            Some(&annotate),
            200,
            "everywhere",
        ),
        (
            "controller",
            "PUT",
            tekton("ci", "taskruns/build/status"),
            Some(&status),
            403,
            "subresource",
        ),
        (
            "controller",
            "DELETE",
            tekton("ci", "taskruns/build"),
            None,
            403,
            "verb",
        ),
        (
            "controller",
            "GET",
            core("tekton-chains", "configmaps/chains-config"),
            None,
            200,
            "resourceNames",
        ),
        (
            "controller",
            "GET",
            core("tekton-chains", "configmaps/other"),
            None,
            403,
            "resourceNames",
        ),
        (
            "controller",
            "GET",
            core(
                "tekton-chains",
                "configmaps?fieldSelector=metadata.name%3Dchains-config",
            ),
            None,
            200,
            "a list of one name",
        ),
        (
            "controller",
            "GET",
            core("tekton-chains", "configmaps"),
            None,
            403,
            "a list of every name",
        ),
        (
            "controller",
            "GET",
            core("ci", "configmaps/chains-config"),
            None,
            403,
            "Role's namespace",
        ),
        (
            "controller",
            "GET",
            core("team-b", "serviceaccounts/builder"),
            None,
            404,
            "get a run's ServiceAccount (allowed; none here)",
        ),
        (
            "controller",
            "GET",
            core("team-b", "secrets/regcred"),
            None,
            404,
            "get a pull secret (allowed; none here)",
        ),
        (
            "controller",
            "GET",
            core("team-b", "secrets"),
            None,
            403,
            "Secrets are never listed",
        ),
        (
            "controller",
            "GET",
            core("tekton-chains", "configmaps/chainseal-tenants"),
            None,
            404,
            "the tenants ConfigMap (allowed; none here)",
        ),
        (
            "controller",
            "POST",
            "/apis/coordination.k8s.io/v1/namespaces/tekton-chains/leases".into(),
            Some(&lease),
            201,
            "Role: create leases",
        ),
        (
            "controller",
            "DELETE",
            "/apis/coordination.k8s.io/v1/namespaces/tekton-chains/leases/leader".into(),
            None,
            403,
            "verb",
        ),
        (
            "controller",
            "POST",
            "/apis/events.k8s.io/v1/namespaces/ci/events".into(),
            Some(&event),
            201,
            "events.k8s.io",
        ),
        (
            "controller",
            "POST",
            core("ci", "events"),
            Some(&event),
            403,
            "API group",
        ),
        (
            "nobody",
            "GET",
            tekton("ci", "taskruns/build"),
            None,
            403,
            "no rules",
        ),
        (
            "ghost",
            "GET",
            tekton("ci", "taskruns/build"),
            None,
            401,
            "no such ServiceAccount",
        ),
        (
            "wrong",
            "GET",
            tekton("ci", "taskruns/build"),
            None,
            401,
            "no such token",
        ),
        (
            "admin",
            "DELETE",
            tekton("ci", "taskruns/build"),
            None,
            200,
            "system:masters",
        ),
    ];
    let mut wrong = Vec::new();
    for (token, method, path, body, want, why) in &cases {
        let (code, reply) = call(port, token, method, path, *body);
        if code != *want {
            wrong.push(format!(
                "{token} {method} {path} ({why}): {code}, want {want}: {reply}"
            ));
        } else if code == 403 {
            assert_eq!(
                (&reply["kind"], &reply["reason"], &reply["code"]),
                (&json!("Status"), &json!("Forbidden"), &json!(403))
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The API server's words, with the subresource and the missing Role.
    let (_, reply) = call(
        port,
        "task",
        "DELETE",
        &tekton("ci", "pipelineruns/pr"),
        None,
    );
    assert_eq!(
        reply["message"],
        "pipelineruns.tekton.dev \"pr\" is forbidden: User \"system:serviceaccount:ci:chainseal\" \
         cannot delete resource \"pipelineruns\" in API group \"tekton.dev\" in the namespace \"ci\""
    );
    assert_eq!(
        reply["details"],
        json!({"name": "pr", "group": "tekton.dev", "kind": "pipelineruns"})
    );
    let (_, reply) = call(
        port,
        "controller",
        "PUT",
        &tekton("ci", "taskruns/build/status"),
        Some(&status),
    );
    assert!(
        reply["message"].as_str().is_some_and(|m| m.contains(
            "cannot update resource \"taskruns/status\" in API group \"tekton.dev\" in the namespace \"ci\""
        )),
        "{reply}"
    );
    let (_, reply) = call(port, "task", "GET", &tekton("team-b", "taskruns"), None);
    assert_eq!(
        reply["message"],
        "taskruns.tekton.dev is forbidden: User \"system:serviceaccount:ci:chainseal\" cannot list \
         resource \"taskruns\" in API group \"tekton.dev\" in the namespace \"team-b\""
    );
    let (_, reply) = call(port, "nobody", "GET", &tekton("ci", "taskruns"), None);
    assert!(
        reply["message"].as_str().is_some_and(
            |m| m.ends_with(": RBAC: [role.rbac.authorization.k8s.io \"absent\" not found]")
        ),
        "{reply}"
    );
}

#[test]
fn annotations_over_256_kib_are_invalid_as_the_api_server_says() {
    let Some(python) = common::tool("INTEROP_PYTHON", "Kubernetes API double annotation limit")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let (_double, port) = rbac_double(&python, dir.path());
    let path = "/api/v1/namespaces/ci/configmaps";
    // Keys and values count: "a" plus 262143 bytes is exactly the limit.
    let at_limit = |name: &str, extra: usize| json!({"metadata": {"name": name, "annotations": {"a": "x".repeat(262_143 + extra)}}});
    assert_eq!(
        call(port, "admin", "POST", path, Some(&at_limit("full", 0))).0,
        201
    );
    let (code, reply) = call(port, "admin", "POST", path, Some(&at_limit("over", 1)));
    assert_eq!(code, 422, "{reply}");
    assert_eq!(
        reply["message"],
        "ConfigMap \"over\" is invalid: metadata.annotations: Too long: must have at most 262144 bytes"
    );
    assert_eq!(reply["reason"], "Invalid");
    assert_eq!(
        reply["details"]["causes"][0]["field"],
        "metadata.annotations"
    );
    // A patch that adds one byte is refused and changes nothing.
    let one = json!({"metadata": {"annotations": {"b": ""}}});
    let (code, reply) = call(port, "admin", "PATCH", &format!("{path}/full"), Some(&one));
    assert_eq!(code, 422, "{reply}");
    let (_, full) = call(port, "admin", "GET", &format!("{path}/full"), None);
    assert!(
        full["metadata"]["annotations"]["b"].is_null(),
        "nothing patched"
    );
    // ... and so is an update.
    let mut replaced = full.clone();
    replaced["metadata"]["annotations"]["b"] = "".into();
    let (code, _) = call(
        port,
        "admin",
        "PUT",
        &format!("{path}/full"),
        Some(&replaced),
    );
    assert_eq!(code, 422);
}
