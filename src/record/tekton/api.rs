//! Reading the run to attest from the Kubernetes API: a PipelineRun with its TaskRuns,
//! or one TaskRun, as a `finally` Task sees them.
//!
//! * Children come from `status.childReferences` (kind TaskRun), else from the label
//!   `tekton.dev/pipelineRun=<name>`.
//! * Every child must name the PipelineRun as its controlling owner
//!   (`metadata.ownerReferences[]`: kind `PipelineRun`, the PipelineRun's uid,
//!   `controller` and `blockOwnerDeletion` true, as Tekton writes them). Labels are set by whoever creates or
//!   patches a TaskRun, so a labelled TaskRun without that ownerReference is left out
//!   with a warning (refusing would let anyone who can create a TaskRun stop the
//!   attestation). A TaskRun listed in `status.childReferences` that the PipelineRun
//!   does not own is refused ([`Error::ForeignChild`]): the run's status and its
//!   TaskRuns disagree, and no provenance is better than provenance of someone
//!   else's work.
//! * A TaskRun that has not finished ([`is_done`]: no `Succeeded` condition
//!   `True`/`False`) is left out: the `finally` Task's own TaskRun always is, and so
//!   are finally tasks running beside it. CustomRuns are left out too. The
//!   PipelineRun's `childReferences` are narrowed to what is included.
//! * A PipelineRun that is still running gets `status.completionTime` = the latest
//!   `completionTime` of the included TaskRuns (so `finishedOn` is when the last
//!   attested work ended), and the provenance records the run state
//!   ([`RunState`]).

use serde_json::{Value, json};
use tracing::warn;

use super::model::is_done;
use crate::kube::{Cluster, TektonKind};

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRef {
    /// A PipelineRun by name.
    PipelineRun(String),
    /// A TaskRun by name.
    TaskRun(String),
}

/// How complete the run was when it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunState {
    /// The PipelineRun had not finished (read by a `finally` Task).
    pub running: bool,
    /// TaskRuns left out, with why.
    pub excluded: Vec<(String, String)>,
}

impl RunState {
    /// The provenance note for a run attested while running (`None` otherwise).
    pub fn note(&self) -> Option<Value> {
        if !self.running && self.excluded.is_empty() {
            return None;
        }
        let excluded: Vec<Value> = self
            .excluded
            .iter()
            .map(|(name, why)| json!({"name": name, "reason": why}))
            .collect();
        Some(json!({
            "pipelineRun": if self.running { "Running" } else { "Finished" },
            "finishedOn": "completionTime of the last finished TaskRun included",
            "excludedTaskRuns": excluded,
        }))
    }
}

/// Errors reading the run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API failed.
    #[error(transparent)]
    Kube(#[from] crate::kube::Error),
    /// A TaskRun asked for by name has not finished.
    #[error("TaskRun `{0}` has not finished: attest it once it has completed")]
    TaskRunRunning(String),
    /// A TaskRun in `status.childReferences` that the PipelineRun does not own.
    #[error(
        "TaskRun `{child}` is not owned by PipelineRun `{run}` (no controller ownerReference with the PipelineRun's uid), yet the PipelineRun's status.childReferences lists it: the run's status does not match its TaskRuns, so nothing is attested; find out who changed status.childReferences or the TaskRun's ownerReferences"
    )]
    ForeignChild {
        /// The PipelineRun.
        run: String,
        /// The TaskRun listed.
        child: String,
    },
}

/// Whether `child` names the PipelineRun with `uid` as its controlling owner: an
/// entry of `metadata.ownerReferences` with a `tekton.dev` apiVersion, kind
/// `PipelineRun`, that uid, `controller: true` and `blockOwnerDeletion: true`, as
/// Tekton writes it (`metav1.NewControllerRef`). With the API server's
/// `OwnerReferencesPermissionEnforcement` admission plugin, only a creator who may
/// update the PipelineRun's finalizers can set `blockOwnerDeletion`.
pub fn owned_by(child: &Value, uid: &str) -> bool {
    let str_at = |o: &Value, key: &str| o.get(key).and_then(Value::as_str).map(str::to_owned);
    !uid.is_empty()
        && child
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|o| {
                str_at(o, "apiVersion").is_some_and(|v| v.starts_with("tekton.dev/"))
                    && str_at(o, "kind").as_deref() == Some("PipelineRun")
                    && str_at(o, "uid").as_deref() == Some(uid)
                    && o.get("controller").and_then(Value::as_bool) == Some(true)
                    && o.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
            })
}

fn name(run: &Value) -> String {
    run.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The TaskRuns of `labelled` (found by the label `tekton.dev/pipelineRun=<run>`)
/// that the PipelineRun `run` with `uid` owns; the others are left out with a warning.
fn owned_only(labelled: Vec<Value>, run: &str, uid: &str) -> Vec<Value> {
    labelled
        .into_iter()
        .filter(|tr| {
            let owned = owned_by(tr, uid);
            if !owned {
                warn!(
                    "TaskRun `{}` is labelled tekton.dev/pipelineRun={run} but is not owned by PipelineRun `{run}` (no controller ownerReference with its uid): left out",
                    name(tr)
                );
            }
            owned
        })
        .collect()
}

/// Read `what` in `cluster.namespace`: the objects to hand to the record loader, and
/// the run state.
pub async fn fetch(cluster: &Cluster, what: &RunRef) -> Result<(Vec<Value>, RunState), Error> {
    let ns = cluster.namespace.clone();
    match what {
        RunRef::TaskRun(n) => {
            let tr = cluster.get(TektonKind::TaskRun, &ns, n).await?;
            if !is_done(&tr) {
                return Err(Error::TaskRunRunning(n.clone()));
            }
            Ok((vec![tr], RunState::default()))
        }
        RunRef::PipelineRun(n) => {
            let mut pr = cluster.get(TektonKind::PipelineRun, &ns, n).await?;
            let refs: Vec<Value> = pr
                .pointer("/status/childReferences")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut state = RunState {
                running: !is_done(&pr),
                excluded: Vec::new(),
            };
            let uid = pr
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let candidates = if refs.is_empty() {
                let labelled = cluster
                    .list(
                        TektonKind::TaskRun,
                        &ns,
                        &format!("tekton.dev/pipelineRun={n}"),
                    )
                    .await?;
                owned_only(labelled, n, &uid)
            } else {
                let mut out = Vec::new();
                for r in &refs {
                    let child = r["name"].as_str().unwrap_or_default();
                    if r["kind"].as_str().is_some_and(|k| k != "TaskRun") {
                        state.excluded.push((
                            child.to_owned(),
                            format!("a {}", r["kind"].as_str().unwrap_or("")),
                        ));
                        continue;
                    }
                    let tr = cluster.get(TektonKind::TaskRun, &ns, child).await?;
                    if !owned_by(&tr, &uid) {
                        return Err(Error::ForeignChild {
                            run: n.clone(),
                            child: child.to_owned(),
                        });
                    }
                    out.push(tr);
                }
                out
            };
            let mut children = Vec::new();
            for tr in candidates {
                if is_done(&tr) {
                    children.push(tr);
                } else {
                    state.excluded.push((name(&tr), "not finished".into()));
                }
            }
            children.sort_by_key(name);
            let included: Vec<String> = children.iter().map(name).collect();
            if !refs.is_empty() {
                let kept: Vec<Value> = refs
                    .into_iter()
                    .filter(|r| {
                        r["name"]
                            .as_str()
                            .is_some_and(|c| included.iter().any(|i| i == c))
                    })
                    .collect();
                // Only reached with a `status` object that has `childReferences`.
                if let Some(refs) = pr.pointer_mut("/status/childReferences") {
                    *refs = Value::Array(kept);
                }
            }
            if state.running {
                let last = children
                    .iter()
                    .filter_map(|c| c.pointer("/status/completionTime").and_then(Value::as_str))
                    .max_by(|a, b| {
                        let parse = |t: &str| t.parse::<jiff::Timestamp>().ok();
                        parse(a).cmp(&parse(b))
                    })
                    .map(str::to_owned);
                if let (Some(last), Some(status)) =
                    (last, pr.get_mut("status").and_then(Value::as_object_mut))
                {
                    status.insert("completionTime".into(), Value::String(last));
                }
            }
            let mut objects = vec![pr];
            objects.extend(children);
            Ok((objects, state))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_controller_reference_to_the_uid_is_ownership() {
        let child = |owners: Value| json!({"metadata": {"ownerReferences": owners}});
        let tekton = |kind: &str, uid: &str, controller: Value| {
            json!([{"apiVersion": "tekton.dev/v1", "kind": kind, "name": "pr", "uid": uid,
                    "controller": controller, "blockOwnerDeletion": true}])
        };
        assert!(owned_by(
            &child(tekton("PipelineRun", "u1", json!(true))),
            "u1"
        ));
        assert!(!owned_by(
            &child(tekton("PipelineRun", "u2", json!(true))),
            "u1"
        ));
        assert!(!owned_by(
            &child(tekton("PipelineRun", "u1", json!(false))),
            "u1"
        ));
        assert!(!owned_by(
            &child(tekton("PipelineRun", "u1", json!("true"))),
            "u1"
        ));
        assert!(!owned_by(
            &child(tekton("TaskRun", "u1", json!(true))),
            "u1"
        ));
        assert!(!owned_by(
            &child(tekton("PipelineRun", "", json!(true))),
            ""
        ));
        let mut unblocked = tekton("PipelineRun", "u1", json!(true));
        unblocked[0]["blockOwnerDeletion"] = false.into();
        assert!(!owned_by(&child(unblocked), "u1"));
        let mut other_group = tekton("PipelineRun", "u1", json!(true));
        other_group[0]["apiVersion"] = "example.com/v1".into();
        assert!(!owned_by(&child(other_group), "u1"));
        for odd in [
            json!(null),
            json!("x"),
            json!({"uid": "u1"}),
            json!([1, "a", null]),
        ] {
            assert!(!owned_by(&child(odd), "u1"));
        }
        assert!(!owned_by(&json!([]), "u1"));
    }

    #[test]
    fn the_note_lists_what_was_left_out() {
        assert_eq!(RunState::default().note(), None);
        let state = RunState {
            running: true,
            excluded: vec![("attest".into(), "not finished".into())],
        };
        let note = state.note().expect("note");
        assert_eq!(note["pipelineRun"], "Running");
        assert_eq!(note["excludedTaskRuns"][0]["name"], "attest");
    }
}
