//! The Kubernetes API double (`tests/doubles/kube_api.py`) checked with the real
//! `kube` client, so the tests built on it (`tests/tekton.rs`, the controller's) rest
//! on the API semantics the client relies on: create/get/list with label selectors,
//! optimistic concurrency (409 on a stale resourceVersion), merge, JSON and
//! server-side-apply patches (409 on a field-manager conflict unless forced),
//! finalizers holding a deleted object, watch streams with bookmarks, and 403s.
//!
//! Needs `INTEROP_PYTHON`; skipped outside CI (with a message) when it is unset.

mod common;

use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;

async fn client(
    python: &std::path::Path,
    dir: &std::path::Path,
) -> (common::Service, kube::Client, kube::Client) {
    let config = json!({"history": 20, "tokens": {
        "admin": {"user": "admin", "allow": "*"},
        "nobody": {"user": "system:serviceaccount:ci:nobody", "allow": []},
    }});
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
