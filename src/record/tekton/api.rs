//! Reading the run to attest from the Kubernetes API: a PipelineRun with its TaskRuns,
//! or one TaskRun, as a `finally` Task sees them.
//!
//! * Children come from `status.childReferences` (kind TaskRun), else from the label
//!   `tekton.dev/pipelineRun=<name>`.
//! * A TaskRun that has not finished (no `Succeeded` condition `True`/`False`, or no
//!   `completionTime`) is left out: the `finally` Task's own TaskRun always is, and so
//!   are finally tasks running beside it. CustomRuns are left out too. The
//!   PipelineRun's `childReferences` are narrowed to what is included.
//! * A PipelineRun that is still running gets `status.completionTime` = the latest
//!   `completionTime` of the included TaskRuns (so `finishedOn` is when the last
//!   attested work ended), and the provenance records the run state
//!   ([`RunState`]).

use serde_json::{Value, json};

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
}

fn finished(run: &Value) -> bool {
    let done = run
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Succeeded" && (c["status"] == "True" || c["status"] == "False"));
    done && run
        .pointer("/status/completionTime")
        .is_some_and(Value::is_string)
}

fn name(run: &Value) -> String {
    run.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Read `what` in `cluster.namespace`: the objects to hand to the record loader, and
/// the run state.
pub async fn fetch(cluster: &Cluster, what: &RunRef) -> Result<(Vec<Value>, RunState), Error> {
    let ns = cluster.namespace.clone();
    match what {
        RunRef::TaskRun(n) => {
            let tr = cluster.get(TektonKind::TaskRun, &ns, n).await?;
            if !finished(&tr) {
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
                running: !finished(&pr),
                excluded: Vec::new(),
            };
            let candidates = if refs.is_empty() {
                cluster
                    .list(
                        TektonKind::TaskRun,
                        &ns,
                        &format!("tekton.dev/pipelineRun={n}"),
                    )
                    .await?
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
                    out.push(cluster.get(TektonKind::TaskRun, &ns, child).await?);
                }
                out
            };
            let mut children = Vec::new();
            for tr in candidates {
                if finished(&tr) {
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
                pr["status"]["childReferences"] = Value::Array(kept);
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
    fn finished_needs_a_final_condition_and_a_completion_time() {
        let done = json!({"status": {"completionTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Succeeded", "status": "True"}]}});
        let failed = json!({"status": {"completionTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Succeeded", "status": "False"}]}});
        let running =
            json!({"status": {"conditions": [{"type": "Succeeded", "status": "Unknown"}]}});
        assert!(finished(&done) && finished(&failed));
        assert!(!finished(&running) && !finished(&json!({})));
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
