//! Typed views of Tekton `tekton.dev/v1` TaskRun and PipelineRun objects.
//!
//! Only the fields provenance needs are typed; unknown fields are ignored. Field
//! names follow the Kubernetes JSON (camelCase).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Kubernetes object metadata (the subset provenance uses).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// Object name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Unique id, used as the invocation id and in storage keys.
    pub uid: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A `status.conditions[]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    /// Condition type, e.g. `Succeeded`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    pub reason: String,
}

/// A run or step result (`{name, value}`); the value is a string, array or object.
#[derive(Debug, Clone, Deserialize)]
pub struct RunResult {
    /// Result name.
    pub name: String,
    /// Declared type (`string`, `array`, `object`), when recorded.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Result value as written by Tekton.
    #[serde(default)]
    pub value: Value,
}

/// A `params[]` entry of a run spec.
#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    /// Parameter name.
    pub name: String,
    /// Parameter value.
    #[serde(default)]
    pub value: Value,
}

/// A `params[]` entry of a Task or Pipeline spec.
#[derive(Debug, Clone, Deserialize)]
pub struct ParamSpec {
    /// Parameter name.
    pub name: String,
    /// Default value, if any.
    #[serde(default)]
    pub default: Option<Value>,
}

/// Where a remotely resolved Task, Pipeline or StepAction came from.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct RefSource {
    /// Source URI, e.g. `git+https://github.com/org/repo`.
    pub uri: String,
    /// Digests of the source, algorithm → hex.
    pub digest: BTreeMap<String, String>,
    /// Path of the definition within the source.
    pub entry_point: String,
}

/// `status.provenance`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Provenance {
    /// Source of the resolved definition.
    pub ref_source: Option<RefSource>,
    /// Tekton Pipelines feature flags in force when the run executed.
    pub feature_flags: Option<serde_json::Map<String, Value>>,
}

/// `status.steps[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StepState {
    /// Step name.
    pub name: String,
    /// Container name.
    pub container: String,
    /// Resolved image id, e.g. `docker-pullable://repo@sha256:…`.
    #[serde(rename = "imageID")]
    pub image_id: String,
    /// Step results (StepActions).
    pub results: Vec<RunResult>,
    /// Provenance of a remote StepAction.
    pub provenance: Option<Provenance>,
}

/// `status.sidecars[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SidecarState {
    /// Sidecar name.
    pub name: String,
    /// Container name.
    pub container: String,
    /// Resolved image id.
    #[serde(rename = "imageID")]
    pub image_id: String,
}

/// A step of a Task spec (the subset used).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Step {
    /// Step name.
    pub name: String,
    /// Script, if any.
    pub script: String,
    /// Command.
    pub command: Vec<String>,
    /// Arguments; `None` when absent (SLSA v0.2 writes `null` then).
    pub args: Option<Vec<String>>,
}

/// `status.taskSpec` (the subset used).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskSpec {
    /// Declared parameters.
    pub params: Vec<ParamSpec>,
    /// Steps, resolved (`$(results.x.path)` already substituted).
    pub steps: Vec<Step>,
}

/// `status` of a TaskRun.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskRunStatus {
    /// When the run started (RFC 3339).
    pub start_time: Option<String>,
    /// When the run completed (RFC 3339).
    pub completion_time: Option<String>,
    /// Conditions; `Succeeded` tells the outcome.
    pub conditions: Vec<Condition>,
    /// Step states, in execution order.
    pub steps: Vec<StepState>,
    /// Sidecar states.
    pub sidecars: Vec<SidecarState>,
    /// TaskRun results.
    pub results: Vec<RunResult>,
    /// The resolved Task spec.
    pub task_spec: Option<TaskSpec>,
    /// Provenance recorded by Tekton Pipelines.
    pub provenance: Option<Provenance>,
}

/// A `tekton.dev/v1` TaskRun.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskRun {
    /// The whole object as read (for formats that embed it, e.g. `slsa-tekton`).
    #[serde(skip)]
    pub raw: Value,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The spec, copied verbatim into provenance.
    #[serde(default)]
    pub spec: Value,
    /// The status.
    pub status: TaskRunStatus,
}

/// A pipeline task (`spec.tasks[]` / `spec.finally[]` of a Pipeline).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PipelineTask {
    /// Pipeline task name.
    pub name: String,
    /// Task reference, if any.
    pub task_ref: Option<Value>,
    /// Explicit ordering.
    pub run_after: Vec<String>,
    /// Parameters (may reference other tasks' results).
    pub params: Vec<Value>,
    /// Matrix (its params may reference results too).
    pub matrix: Option<Value>,
    /// When expressions.
    pub when: Vec<Value>,
    /// Embedded Task spec.
    pub task_spec: Option<Value>,
}

/// `status.pipelineSpec` (the subset used).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PipelineSpec {
    /// Declared parameters.
    pub params: Vec<ParamSpec>,
    /// Tasks.
    pub tasks: Vec<PipelineTask>,
    /// Finally tasks.
    pub finally: Vec<PipelineTask>,
}

/// `status.childReferences[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChildReference {
    /// Kind of the child, e.g. `TaskRun`.
    pub kind: String,
    /// Name of the child object.
    pub name: String,
    /// Pipeline task it ran.
    pub pipeline_task_name: String,
}

/// `status` of a PipelineRun.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PipelineRunStatus {
    /// When the run started.
    pub start_time: Option<String>,
    /// When the run completed.
    pub completion_time: Option<String>,
    /// Conditions.
    pub conditions: Vec<Condition>,
    /// PipelineRun results.
    pub results: Vec<RunResult>,
    /// The resolved Pipeline spec.
    pub pipeline_spec: Option<PipelineSpec>,
    /// Provenance recorded by Tekton Pipelines.
    pub provenance: Option<Provenance>,
    /// Child TaskRuns (and other runs).
    pub child_references: Vec<ChildReference>,
}

/// A `tekton.dev/v1` PipelineRun.
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineRun {
    /// The whole object as read (for formats that embed it, e.g. `slsa-tekton`).
    #[serde(skip)]
    pub raw: Value,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The spec, copied verbatim into provenance.
    #[serde(default)]
    pub spec: Value,
    /// The status.
    pub status: PipelineRunStatus,
}

/// The parameters of a run spec (`spec.params`), ignoring malformed entries.
pub fn spec_params(spec: &Value) -> Vec<Param> {
    spec.get("params")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| serde_json::from_value(p.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a run (a TaskRun or PipelineRun object) has finished, as Tekton Chains'
/// `IsDone()` decides: its `Succeeded` condition is `True` or `False` (failed runs
/// count). `completionTime` is not consulted: Tekton sets it with the final condition,
/// and a run with a final condition but no `completionTime` is finished (it is signed
/// without `finishedOn`); a `completionTime` beside an `Unknown` or missing condition
/// is not. The one definition, for the controller and the `finally`-Task reader alike.
pub fn is_done(run: &Value) -> bool {
    status_done(run.get("status"))
}

/// [`is_done`] from the run's `status` alone.
pub fn status_done(status: Option<&Value>) -> bool {
    status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Succeeded"))
        .is_some_and(|c| c["status"] == "True" || c["status"] == "False")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(status: Value) -> Value {
        json!({ "status": status })
    }

    #[test]
    fn done_means_a_final_succeeded_condition() {
        let final_condition = |s: &str| json!([{"type": "Succeeded", "status": s}]);
        let at = "2026-01-01T00:00:00Z";
        for s in ["True", "False"] {
            let with_time = run(json!({"conditions": final_condition(s), "completionTime": at}));
            assert!(is_done(&with_time), "{s}");
        }
        // Done without completionTime (Chains' IsDone does not look at it).
        assert!(is_done(&run(
            json!({"conditions": final_condition("True")})
        )));
        // completionTime without a final condition: still running.
        assert!(!is_done(&run(
            json!({"conditions": final_condition("Unknown"), "completionTime": at})
        )));
        assert!(!is_done(&run(json!({"completionTime": at}))));
        assert!(!is_done(&run(json!({
            "conditions": [{"type": "Ready", "status": "True"}], "completionTime": at
        }))));
        assert!(!is_done(&json!({})));
        assert!(!status_done(None));
    }
}
