//! `task.yaml` and `examples/tekton/` must agree with the binary: every variable the
//! Task sets is one chainseal reads, every param and result is wired, the Pipeline
//! passes only params the Task has, and the Role grants what the code needs. Also
//! the catalog conventions the Task promises (annotations, digest-pinned image,
//! restricted security context). And the controller's example NetworkPolicy fits its
//! Deployment.

use crate::common;

use std::collections::BTreeSet;

use serde_json::Value;

fn docs(rel: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(common::repo(rel)).expect("file");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("valid YAML");
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// `$(prefix.<name>...)` references in `text`.
fn references(text: &str, prefix: &str) -> BTreeSet<String> {
    let needle = format!("$({prefix}.");
    text.match_indices(&needle)
        .map(|(i, _)| {
            text[i + needle.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect()
        })
        .collect()
}

fn names(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_task_sets_only_what_the_binary_reads_and_wires_every_param_and_result() {
    let task = &docs("task.yaml")[0];
    assert_eq!(task["apiVersion"], "tekton.dev/v1");
    assert_eq!(task["kind"], "Task");
    for key in [
        "tekton.dev/pipelines.minVersion",
        "tekton.dev/categories",
        "tekton.dev/tags",
        "tekton.dev/displayName",
        "tekton.dev/platforms",
    ] {
        assert!(
            task["metadata"]["annotations"][key].is_string(),
            "{key} missing"
        );
    }
    let known = chainseal::cli::known_env_vars();
    let steps = task["spec"]["steps"].as_array().expect("steps");
    let mut env_text = String::new();
    for step in steps {
        let image = step["image"].as_str().expect("image");
        assert!(
            image.contains("@sha256:"),
            "image not pinned by digest: {image}"
        );
        assert!(
            step.get("script").is_none(),
            "params must not be interpolated into scripts"
        );
        let sc = &step["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        for e in step["env"].as_array().expect("env") {
            let name = e["name"].as_str().expect("env name");
            assert!(
                known.iter().any(|k| k == name),
                "the binary does not read {name}"
            );
            env_text.push_str(e["value"].as_str().unwrap_or_default());
            env_text.push('\n');
        }
        for arg in step["args"].as_array().into_iter().flatten() {
            assert!(
                !arg.as_str().unwrap_or_default().contains("$("),
                "params in args: {arg}"
            );
        }
    }
    let spec = &task["spec"];
    assert_eq!(
        references(&env_text, "params"),
        names(&spec["params"]),
        "params declared vs used"
    );
    assert_eq!(
        references(&env_text, "results"),
        names(&spec["results"]),
        "results declared vs written"
    );
    assert_eq!(
        references(&env_text, "workspaces"),
        names(&spec["workspaces"]),
        "workspaces declared vs used"
    );
    assert!(env_text.contains("$(results.ATTESTATIONS.path)"));
}

#[test]
fn the_example_pipeline_and_role_match_the_task() {
    let task = &docs("task.yaml")[0];
    let params = names(&task["spec"]["params"]);
    let workspaces = names(&task["spec"]["workspaces"]);
    let pipeline = docs("examples/tekton/pipeline.yaml");
    let finally = pipeline[0]["spec"]["finally"]
        .as_array()
        .expect("finally tasks");
    let attest = finally
        .iter()
        .find(|t| t["taskRef"]["name"] == "chainseal")
        .expect("a finally task using chainseal");
    for p in names(&attest["params"]) {
        assert!(
            params.contains(&p),
            "the Pipeline passes `{p}`, which the Task lacks"
        );
    }
    for w in names(&attest["workspaces"]) {
        assert!(
            workspaces.contains(&w),
            "the Pipeline binds workspace `{w}`, which the Task lacks"
        );
    }
    let passes_run = attest["params"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["name"] == "pipelinerun" && p["value"] == "$(context.pipelineRun.name)");
    assert!(
        passes_run,
        "the finally task must pass $(context.pipelineRun.name)"
    );

    let rbac = docs("examples/tekton/rbac.yaml");
    let role = rbac.iter().find(|d| d["kind"] == "Role").expect("a Role");
    let grants = |resource: &str| -> BTreeSet<String> {
        role["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                r["resources"]
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|x| x == resource))
            })
            .flat_map(|r| r["verbs"].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    // What src/record/tekton/api.rs and src/storage/tekton.rs call.
    for (resource, verbs) in [
        ("pipelineruns", ["get", "patch"].as_slice()),
        ("taskruns", &["get", "list", "patch"]),
    ] {
        for v in verbs {
            assert!(
                grants(resource).contains(*v),
                "rbac.yaml lacks {v} on {resource}"
            );
        }
    }
    assert!(
        rbac.iter().any(|d| d["kind"] == "RoleBinding"),
        "rbac.yaml binds the Role"
    );
}

#[test]
fn the_example_network_policy_fits_the_controller_and_blocks_internal_addresses() {
    let controller = docs("examples/controller/controller.yaml");
    let deployment = controller
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let policies = docs("examples/controller/networkpolicy.yaml");
    let [policy] = policies.as_slice() else {
        panic!("one NetworkPolicy expected");
    };
    assert_eq!(policy["kind"], "NetworkPolicy");
    assert_eq!(
        policy["metadata"]["namespace"],
        deployment["metadata"]["namespace"]
    );
    let spec = &policy["spec"];
    assert_eq!(
        spec["podSelector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"],
        "the policy selects the controller's pods"
    );
    assert_eq!(
        spec["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    let ports = |rules: &Value| -> BTreeSet<u64> {
        rules
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["ports"].as_array().cloned().unwrap_or_default())
            .map(|p| p["port"].as_u64().expect("numeric port"))
            .collect()
    };
    // Ingress: the metrics port the Deployment declares, nothing else.
    let metrics = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "metrics")
        .and_then(|p| p["containerPort"].as_u64())
        .expect("metrics port");
    assert_eq!(ports(&spec["ingress"]), BTreeSet::from([metrics]));
    // Egress: DNS, the API server, HTTPS.
    assert_eq!(ports(&spec["egress"]), BTreeSet::from([53, 443, 6443]));
    // Every rule open to the world leaves out loopback, private and link-local
    // (cloud metadata) addresses.
    let blocks: Vec<&Value> = spec["egress"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["to"].as_array().into_iter().flatten())
        .filter_map(|t| t.get("ipBlock"))
        .collect();
    let world: Vec<&&Value> = blocks
        .iter()
        .filter(|b| b["cidr"] == "0.0.0.0/0" || b["cidr"] == "::/0")
        .collect();
    assert_eq!(world.len(), 2, "IPv4 and IPv6");
    for block in world {
        let except: BTreeSet<&str> = block["except"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let needed: &[&str] = if block["cidr"] == "::/0" {
            &["::1/128", "fc00::/7", "fe80::/10"]
        } else {
            &[
                "10.0.0.0/8",
                "100.64.0.0/10",
                "127.0.0.0/8",
                "169.254.0.0/16",
                "172.16.0.0/12",
                "192.168.0.0/16",
            ]
        };
        for range in needed {
            assert!(
                except.contains(range),
                "{} lets {range} through",
                block["cidr"]
            );
        }
    }
}
