//! SLSA Provenance v0.2 for Tekton runs: Chains' `in-toto` / `slsa/v1` format
//! (tektoncd/chains `pkg/chains/formats/slsa/v1`).
//!
//! * Statement `_type` `https://in-toto.io/Statement/v0.1`, predicate keys sorted.
//! * Subjects from the run's results only (images, `*ARTIFACT_URI`/`*ARTIFACT_DIGEST`,
//!   every valid `*ARTIFACT_OUTPUTS`); PipelineRuns with deep inspection list their
//!   children's subjects first.
//! * `invocation`: `configSource` from the ref source, `parameters` (spec defaults, then
//!   the run's params), `environment` (annotations without `kubectl…last-applied…` and
//!   `chains.tekton.dev/*`, labels).
//! * `buildConfig`: TaskRun steps (`entryPoint` = script or command, `arguments`,
//!   `environment.image` / `container`), PipelineRun tasks.
//! * `materials`: images, ref sources, git source, `*ARTIFACT_INPUTS`, merged.
//! * Times: Go's RFC 3339 with nanoseconds, trailing zeros dropped.

use serde_json::{Map, Value, json};

use super::statement::{ResourceDescriptor, Statement, append_material, append_subject, sorted};
use super::tekton::{
    child_order, executed, image_materials, param_and_result_inputs, pipeline_inputs,
};
use super::{Error, Generated, Options};
use crate::record::tekton::hints::{Finding, ParamValue, SubjectRules, subjects};
use crate::record::tekton::model::{ObjectMeta, ParamSpec, Provenance, RunResult};
use crate::record::tekton::{PipelineRun, Record, TaskRun};

/// `_type` of the in-toto Statement v0.1 used with SLSA v0.2.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// Predicate type of SLSA Provenance v0.2.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v0.2";

const REPRODUCIBLE_LABEL: &str = "chains.tekton.dev/reproducible";

/// Generate the SLSA v0.2 Statement.
pub fn generate(record: &Record, options: &Options) -> Result<Generated, Error> {
    let mut findings = Vec::new();
    let statement = match record {
        Record::TaskRun(tr) => taskrun(tr, options, &mut findings)?,
        Record::PipelineRun { run, children } => {
            pipelinerun(run, children, options, &mut findings)?
        }
    };
    Ok(Generated {
        statement,
        findings,
    })
}

fn run_subjects(
    results: &[RunResult],
    origin: String,
    findings: &mut Vec<Finding>,
) -> Vec<ResourceDescriptor> {
    let mut out = Vec::new();
    subjects(results, &origin, SubjectRules::Legacy, &mut out, findings);
    out
}

/// Materials carry no names in SLSA v0.2.
fn unnamed(list: Vec<ResourceDescriptor>) -> Vec<ResourceDescriptor> {
    list.into_iter()
        .map(|d| ResourceDescriptor {
            name: String::new(),
            ..d
        })
        .collect()
}

fn taskrun(
    tr: &TaskRun,
    options: &Options,
    findings: &mut Vec<Finding>,
) -> Result<Statement, Error> {
    let subject = run_subjects(
        &tr.status.results,
        format!("taskRunResults/{}", tr.metadata.name),
        findings,
    );
    let mut materials = Vec::new();
    for m in unnamed(image_materials(tr)?) {
        append_material(&mut materials, m);
    }
    for m in unnamed(param_and_result_inputs(tr, findings)) {
        append_material(&mut materials, m);
    }
    let defaults = tr.status.task_spec.as_ref().map(|s| s.params.as_slice());
    let predicate = json!({
        "builder": {"id": options.builder_id},
        "buildType": "tekton.dev/v1/TaskRun",
        "invocation": invocation(&tr.metadata, &tr.spec, defaults.unwrap_or_default(), tr.status.provenance.as_ref()),
        "buildConfig": {"steps": steps(tr, false)},
        "metadata": metadata("TaskRun", &tr.metadata, tr.status.start_time.as_deref(), tr.status.completion_time.as_deref())?,
    });
    Ok(statement(subject, predicate, materials))
}

fn pipelinerun(
    pr: &PipelineRun,
    children: &[TaskRun],
    options: &Options,
    findings: &mut Vec<Finding>,
) -> Result<Statement, Error> {
    let ordered = child_order(pr, children, findings)?;
    let executed = executed(pr, &ordered);
    let own = run_subjects(
        &pr.status.results,
        format!("pipelineRunResults/{}", pr.metadata.name),
        findings,
    );
    let mut subject = Vec::new();
    if options.deep_inspection && pr.status.pipeline_spec.is_some() {
        for tr in &executed {
            for s in run_subjects(
                &tr.status.results,
                format!("taskRunResults/{}", tr.metadata.name),
                findings,
            ) {
                append_subject(&mut subject, s);
            }
        }
    }
    for s in own {
        append_subject(&mut subject, s);
    }

    let mut materials = Vec::new();
    let ref_of = |p: Option<&Provenance>| {
        p.and_then(|p| p.ref_source.as_ref())
            .map(|src| ResourceDescriptor {
                uri: src.uri.clone(),
                digest: src.digest.clone(),
                ..ResourceDescriptor::default()
            })
    };
    if let Some(m) = ref_of(pr.status.provenance.as_ref()) {
        append_material(&mut materials, m);
    }
    for tr in &executed {
        for m in image_materials(tr)? {
            append_material(&mut materials, m);
        }
        if let Some(m) = ref_of(tr.status.provenance.as_ref()) {
            append_material(&mut materials, m);
        }
    }
    for m in unnamed(pipeline_inputs(
        pr,
        &executed,
        options.deep_inspection,
        findings,
    )) {
        append_material(&mut materials, m);
    }

    let defaults = pr
        .status
        .pipeline_spec
        .as_ref()
        .map(|s| s.params.as_slice());
    let predicate = json!({
        "builder": {"id": options.builder_id},
        "buildType": "tekton.dev/v1/PipelineRun",
        "invocation": invocation(&pr.metadata, &pr.spec, defaults.unwrap_or_default(), pr.status.provenance.as_ref()),
        "buildConfig": {"tasks": tasks(pr, &ordered)?},
        "metadata": metadata("PipelineRun", &pr.metadata, pr.status.start_time.as_deref(), pr.status.completion_time.as_deref())?,
    });
    Ok(statement(subject, predicate, materials))
}

fn statement(
    subject: Vec<ResourceDescriptor>,
    mut predicate: Value,
    materials: Vec<ResourceDescriptor>,
) -> Statement {
    if !materials.is_empty() {
        predicate["materials"] = serde_json::to_value(&materials).unwrap_or_default();
    }
    Statement {
        statement_type: STATEMENT_V01.to_owned(),
        subject,
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: sorted(predicate),
    }
}

/// A Tekton value as Chains writes it into `parameters` and `results`.
fn param_json(value: &Value) -> Value {
    match ParamValue::from_json(value) {
        ParamValue::String(s) => Value::String(s),
        ParamValue::Array(items) => Value::from(items),
        ParamValue::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
    }
}

fn invocation(
    meta: &ObjectMeta,
    spec: &Value,
    defaults: &[ParamSpec],
    provenance: Option<&Provenance>,
) -> Value {
    let mut config_source = Map::new();
    if let Some(src) = provenance.and_then(|p| p.ref_source.as_ref()) {
        if !src.uri.is_empty() {
            config_source.insert("uri".into(), Value::String(src.uri.clone()));
        }
        if !src.digest.is_empty() {
            config_source.insert("digest".into(), json!(src.digest));
        }
        if !src.entry_point.is_empty() {
            config_source.insert("entryPoint".into(), Value::String(src.entry_point.clone()));
        }
    }
    let mut parameters = Map::new();
    for p in defaults {
        if let Some(default) = &p.default {
            parameters.insert(p.name.clone(), param_json(default));
        }
    }
    for p in crate::record::tekton::model::spec_params(spec) {
        parameters.insert(p.name, param_json(&p.value));
    }
    let mut out = json!({"configSource": config_source, "parameters": parameters});
    let annotations: Map<String, Value> = meta
        .annotations
        .iter()
        .filter(|(k, _)| {
            k.as_str() != "kubectl.kubernetes.io/last-applied-configuration"
                && !k.starts_with("chains.tekton.dev/")
        })
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut environment = Map::new();
    if !annotations.is_empty() {
        environment.insert("annotations".into(), Value::Object(annotations));
    }
    if !meta.labels.is_empty() {
        environment.insert("labels".into(), json!(meta.labels));
    }
    if !environment.is_empty() {
        out["environment"] = Value::Object(environment);
    }
    out
}

/// `buildConfig.steps`: steps matched to the Task spec by name (TaskRun) or by
/// position (children of a PipelineRun).
fn steps(tr: &TaskRun, by_index: bool) -> Vec<Value> {
    let spec_steps = tr
        .status
        .task_spec
        .as_ref()
        .map(|s| s.steps.as_slice())
        .unwrap_or_default();
    tr.status
        .steps
        .iter()
        .enumerate()
        .map(|(i, state)| {
            let step = if by_index {
                spec_steps.get(i)
            } else {
                spec_steps.iter().find(|s| s.name == state.name)
            };
            let entry_point = match step {
                Some(s) if !s.script.is_empty() => s.script.clone(),
                Some(s) => s.command.join(" "),
                None => String::new(),
            };
            let arguments = step
                .and_then(|s| s.args.clone())
                .map_or(Value::Null, Value::from);
            let image = state
                .image_id
                .strip_prefix("docker-pullable://")
                .unwrap_or(&state.image_id);
            json!({
                "entryPoint": entry_point,
                "arguments": arguments,
                "environment": {"container": state.name, "image": format!("oci://{image}")},
                "annotations": null,
            })
        })
        .collect()
}

fn metadata(
    kind: &'static str,
    meta: &ObjectMeta,
    start: Option<&str>,
    finish: Option<&str>,
) -> Result<Value, Error> {
    let mut out = json!({
        "completeness": {"environment": false, "materials": false, "parameters": false},
        "reproducible": meta.labels.get(REPRODUCIBLE_LABEL).map(String::as_str) == Some("true"),
    });
    for (key, field, value) in [
        ("buildStartedOn", "status.startTime", start),
        ("buildFinishedOn", "status.completionTime", finish),
    ] {
        if let Some(v) = value {
            out[key] = Value::String(nano(kind, &meta.name, field, v)?);
        }
    }
    Ok(out)
}

fn nano(kind: &'static str, run: &str, field: &'static str, value: &str) -> Result<String, Error> {
    super::time::normalise_nano(value).map_err(|e| Error::Timestamp {
        kind,
        run: run.to_owned(),
        field,
        value: value.to_owned(),
        message: e.to_string(),
    })
}

/// `buildConfig.tasks` of a PipelineRun (`null` without `status.pipelineSpec`).
fn tasks(pr: &PipelineRun, children: &[&TaskRun]) -> Result<Value, Error> {
    let Some(spec) = &pr.status.pipeline_spec else {
        return Ok(Value::Null);
    };
    let service_account = pr
        .spec
        .pointer("/taskRunTemplate/serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut out = Vec::new();
    let mut last = String::new();
    for (i, task) in spec.tasks.iter().chain(&spec.finally).enumerate() {
        let runs: Vec<&TaskRun> = children
            .iter()
            .copied()
            .filter(|tr| {
                tr.metadata.labels.get(super::tekton::PIPELINE_TASK_LABEL) == Some(&task.name)
            })
            .collect();
        if runs.is_empty() {
            continue;
        }
        for tr in runs {
            let Some(finished) = tr.status.completion_time.as_deref() else {
                continue;
            };
            let Some(task_spec) = &tr.status.task_spec else {
                continue;
            };
            if task_spec.steps.len() != tr.status.steps.len()
                || tr
                    .status
                    .steps
                    .iter()
                    .zip(&task_spec.steps)
                    .any(|(state, step)| {
                        state.name.starts_with("unnamed-") && !step.name.is_empty()
                    })
            {
                continue;
            }
            let mut after = task.run_after.clone();
            for dep in result_ref_tasks(task) {
                if !after.contains(&dep) {
                    after.push(dep);
                }
            }
            if after.is_empty() && i >= spec.tasks.len() && !last.is_empty() {
                after.push(last.clone());
            }
            let mut entry = Map::new();
            if !task.name.is_empty() {
                entry.insert("name".into(), Value::String(task.name.clone()));
            }
            if !after.is_empty() {
                entry.insert("after".into(), Value::from(after));
            }
            entry.insert(
                "ref".into(),
                task.task_ref.clone().unwrap_or_else(|| json!({})),
            );
            let started = tr.status.start_time.as_deref().unwrap_or(finished);
            entry.insert(
                "startedOn".into(),
                Value::String(nano(
                    "TaskRun",
                    &tr.metadata.name,
                    "status.startTime",
                    started,
                )?),
            );
            entry.insert(
                "finishedOn".into(),
                Value::String(nano(
                    "TaskRun",
                    &tr.metadata.name,
                    "status.completionTime",
                    finished,
                )?),
            );
            if !service_account.is_empty() {
                entry.insert(
                    "serviceAccountName".into(),
                    Value::String(service_account.to_owned()),
                );
            }
            let status = match tr.status.conditions.first().map(|c| c.status.as_str()) {
                Some("True") => "Succeeded",
                Some("False") => "Failed",
                Some("Unknown") => "Running",
                _ => "",
            };
            if !status.is_empty() {
                entry.insert("status".into(), Value::String(status.to_owned()));
            }
            let steps = steps(tr, true);
            if !steps.is_empty() {
                entry.insert("steps".into(), Value::from(steps));
            }
            entry.insert(
                "invocation".into(),
                invocation(
                    &tr.metadata,
                    &tr.spec,
                    &task_spec.params,
                    tr.status.provenance.as_ref(),
                ),
            );
            if !tr.status.results.is_empty() {
                let results: Vec<Value> = tr
                    .status
                    .results
                    .iter()
                    .map(|r| {
                        let mut o = json!({"name": r.name, "value": param_json(&r.value)});
                        if let Some(kind) = r.kind.as_deref().filter(|k| !k.is_empty()) {
                            o["type"] = Value::String(kind.to_owned());
                        }
                        o
                    })
                    .collect();
                entry.insert("results".into(), Value::from(results));
            }
            out.push(Value::Object(entry));
        }
        if i < spec.tasks.len() {
            last.clone_from(&task.name);
        }
    }
    Ok(Value::from(out))
}

/// Pipeline tasks whose results this task uses (`$(tasks.<task>.results.<name>)`),
/// in order of appearance: params, matrix, when expressions, embedded steps/sidecars.
fn result_ref_tasks(task: &crate::record::tekton::model::PipelineTask) -> Vec<String> {
    let mut strings = Vec::new();
    for p in &task.params {
        collect_strings(p.get("value").unwrap_or(&Value::Null), &mut strings);
    }
    if let Some(matrix) = &task.matrix {
        collect_strings(matrix, &mut strings);
    }
    for w in &task.when {
        collect_strings(w, &mut strings);
    }
    if let Some(spec) = &task.task_spec {
        for key in ["steps", "sidecars"] {
            if let Some(v) = spec.get(key) {
                collect_strings(v, &mut strings);
            }
        }
    }
    let mut out = Vec::new();
    for s in strings {
        for task in result_refs(&s) {
            if !out.contains(&task) {
                out.push(task);
            }
        }
    }
    out
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// The pipeline tasks named by `$(tasks.<task>.results.<result>[.<key>|[i]])`
/// expressions in `s`.
fn result_refs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("$(") {
        let body_start = &rest[start + 2..];
        let Some(end) = body_start.find(')') else {
            break;
        };
        let mut expr = &body_start[..end];
        if let Some(open) = expr.find('[')
            && expr.ends_with(']')
        {
            expr = &expr[..open];
        }
        let valid = !expr.is_empty()
            && expr
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        let parts: Vec<&str> = expr.split('.').collect();
        if valid
            && (parts.len() == 4 || parts.len() == 5)
            && matches!(parts[0], "tasks" | "finally")
            && parts[2] == "results"
        {
            out.push(parts[1].to_owned());
        }
        rest = &body_start[end + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_refs_find_tasks() {
        assert_eq!(
            result_refs(
                "$(tasks.build.results.IMAGE) and $(tasks.x.results.obj.key) $(params.y) $(tasks.z.results.arr[*])"
            ),
            vec!["build", "x", "z"]
        );
        assert!(result_refs("$(tasks.build.outputs)").is_empty());
    }
}
