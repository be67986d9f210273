//! SLSA Provenance v1.0 for Tekton runs, following Tekton Chains' `slsa/v2alpha4`
//! rules (tektoncd/chains `pkg/chains/formats/slsa/v2alpha4`).
//!
//! Deliberate differences from Chains are listed in `docs/chains-compatibility.md`;
//! the main one: `externalParameters.runSpec` is the run's `spec` as given, not Go's
//! re-serialisation of it.

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::tekton::{INPUTS, ref_descriptor};
use super::{BuildType, Error, Format, Generated, Options};
use crate::provenance::gojson;
use crate::provenance::statement::{
    ResourceDescriptor, STATEMENT_V1, Statement, append_material, sorted,
};
use crate::record::tekton::hints::{self, Finding, FindingKind, ParamValue};
use crate::record::tekton::model::{ObjectMeta, Provenance, RunResult, StepState};
use crate::record::tekton::{PipelineRun, Record, TaskRun};

pub mod feature_flags;
mod pipelinerun;
mod taskrun;

/// Predicate type of SLSA Provenance v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

/// Generate the SLSA v1.0 Statement for a record.
pub fn generate(record: &Record, options: &Options) -> Result<Generated, Error> {
    match record {
        Record::TaskRun(tr) => taskrun::generate(tr, options),
        Record::PipelineRun { run, children } => pipelinerun::generate(run, children, options),
    }
}

/// The parts every Tekton run's predicate shares.
struct Parts<'a> {
    kind: &'static str,
    raw: &'a Value,
    meta: &'a ObjectMeta,
    spec: &'a Value,
    resolver_ref: &'static str,
    provenance: Option<&'a Provenance>,
    start: Option<&'a str>,
    finish: Option<&'a str>,
}

impl<'a> Parts<'a> {
    fn taskrun(tr: &'a TaskRun) -> Self {
        Self {
            kind: "TaskRun",
            raw: &tr.raw,
            meta: &tr.metadata,
            spec: &tr.spec,
            resolver_ref: "taskRef",
            provenance: tr.status.provenance.as_ref(),
            start: tr.status.start_time.as_deref(),
            finish: tr.status.completion_time.as_deref(),
        }
    }

    fn pipelinerun(pr: &'a PipelineRun) -> Self {
        Self {
            kind: "PipelineRun",
            raw: &pr.raw,
            meta: &pr.metadata,
            spec: &pr.spec,
            resolver_ref: "pipelineRef",
            provenance: pr.status.provenance.as_ref(),
            start: pr.status.start_time.as_deref(),
            finish: pr.status.completion_time.as_deref(),
        }
    }
}

fn predicate(
    parts: &Parts<'_>,
    options: &Options,
    resolved: Vec<ResourceDescriptor>,
    byproducts: Vec<ResourceDescriptor>,
    subject: Vec<ResourceDescriptor>,
) -> Result<Statement, Error> {
    let ref_source = parts
        .provenance
        .as_ref()
        .and_then(|p| p.ref_source.as_ref());
    let mut external = Map::new();
    external.insert("runSpec".into(), parts.spec.clone());
    let resolver = parts
        .spec
        .pointer(&format!("/{}/resolver", parts.resolver_ref))
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(src) = ref_source
        && !resolver.is_empty()
        && resolver != "Cluster"
    {
        let reference = src
            .digest
            .iter()
            .next()
            .map(|(alg, hex)| format!("{alg}:{hex}"))
            .unwrap_or_default();
        external.insert(
            "buildConfigSource".into(),
            json!({"ref": reference, "repository": src.uri, "path": src.entry_point}),
        );
    }

    let mut internal = Map::new();
    if let Some(flags) = parts
        .provenance
        .as_ref()
        .and_then(|p| p.feature_flags.as_ref())
    {
        let flags = feature_flags::normalise(flags).map_err(|source| Error::FeatureFlags {
            kind: parts.kind,
            run: parts.meta.name.clone(),
            source: Box::new(source),
        })?;
        internal.insert(
            "tekton-pipelines-feature-flags".into(),
            Value::Object(flags),
        );
    }
    if options.build_type == BuildType::SlsaTekton {
        // Unfiltered, as Chains writes them; absent maps are `null`.
        for key in ["labels", "annotations"] {
            let value = parts.raw.pointer(&format!("/metadata/{key}")).cloned();
            internal.insert(key.into(), value.unwrap_or(Value::Null));
        }
    }

    let mut metadata = Map::new();
    if !parts.meta.uid.is_empty() {
        metadata.insert("invocationId".into(), Value::String(parts.meta.uid.clone()));
    }
    for (key, field, value) in [
        ("startedOn", "status.startTime", parts.start),
        ("finishedOn", "status.completionTime", parts.finish),
    ] {
        if let Some(v) = value {
            let t = crate::provenance::time::normalise(v).map_err(|e| Error::Timestamp {
                kind: parts.kind,
                run: parts.meta.name.clone(),
                field,
                value: v.to_owned(),
                message: e.to_string(),
            })?;
            metadata.insert(key.into(), Value::String(t));
        }
    }

    let mut build_definition = json!({
        "buildType": options.build_type.uri(),
        "externalParameters": external,
        "internalParameters": internal,
    });
    if !resolved.is_empty() {
        build_definition["resolvedDependencies"] = to_value(&resolved);
    }
    let mut run_details = json!({
        "builder": {"id": options.builder_id},
        "metadata": metadata,
    });
    if !byproducts.is_empty() {
        run_details["byproducts"] = to_value(&byproducts);
    }
    Ok(Statement {
        statement_type: STATEMENT_V1.to_owned(),
        subject,
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: sorted(json!({
            "buildDefinition": build_definition,
            "runDetails": run_details,
        })),
    })
}

fn to_value(list: &[ResourceDescriptor]) -> Value {
    // ResourceDescriptors are plain strings and maps: this cannot fail.
    serde_json::to_value(list).unwrap_or_default()
}

/// `stepAction/<step>` descriptors for remotely resolved StepActions.
fn step_actions(steps: &[StepState]) -> Vec<ResourceDescriptor> {
    steps
        .iter()
        .filter_map(|s| {
            let src = s.provenance.as_ref()?.ref_source.as_ref()?;
            Some(ref_descriptor(&format!("stepAction/{}", s.name), src))
        })
        .collect()
}

/// Inputs named in step results: each step's git pair, then `*ARTIFACT_INPUTS`.
fn step_result_inputs(tr: &TaskRun, findings: &mut Vec<Finding>) -> Vec<ResourceDescriptor> {
    let mut out = Vec::new();
    for step in &tr.status.steps {
        let mut git = hints::GitSource::default();
        for r in &step.results {
            git.apply(&r.name, &r.value);
        }
        let origin = format!("stepResults/{}/{}", tr.metadata.name, step.name);
        if let Some(m) = git.material_noted(INPUTS, &origin, findings) {
            append_material(&mut out, m);
        }
    }
    let all: Vec<RunResult> = tr
        .status
        .steps
        .iter()
        .flat_map(|s| s.results.iter().cloned())
        .collect();
    hints::artifact_inputs(
        &all,
        &format!("stepResults/{}", tr.metadata.name),
        INPUTS,
        &mut out,
        findings,
    );
    out
}

/// Byproducts of one results list (`slsa/v2alpha4`): everything but image hints and
/// build artifacts, as `<prefix>/<result>`.
fn byproducts(
    results: &[RunResult],
    prefix: &str,
    out: &mut Vec<ResourceDescriptor>,
    findings: &mut Vec<Finding>,
) {
    let kept = results
        .iter()
        .filter(|r| !hints::is_image_hint(&r.name) && matches!(hints::build_artifact(r), Ok(None)));
    push_byproducts(kept, prefix, out, findings);
}

/// `slsa/v2alpha3` byproducts: every result, unfiltered, as `<prefix>/<result>`.
fn unfiltered_byproducts(
    results: &[RunResult],
    prefix: &str,
    out: &mut Vec<ResourceDescriptor>,
    findings: &mut Vec<Finding>,
) {
    push_byproducts(results.iter(), prefix, out, findings);
}

/// One byproduct per result: base64 of Go's JSON of the value.
fn push_byproducts<'a>(
    results: impl Iterator<Item = &'a RunResult>,
    prefix: &str,
    out: &mut Vec<ResourceDescriptor>,
    findings: &mut Vec<Finding>,
) {
    for r in results {
        let content = gojson::param_value(&ParamValue::from_json(&r.value));
        let name = format!("{prefix}/{}", r.name);
        findings.push(Finding::new(&name, FindingKind::Byproduct, &name));
        out.push(ResourceDescriptor {
            name,
            content: STANDARD.encode(content),
            media_type: "application/json".to_owned(),
            ..ResourceDescriptor::default()
        });
    }
}

/// Chains' `RemoveDuplicateResolvedDependencies`: drop a later entry with the same
/// uri, digests and content as an earlier one, unless it is named `task`,
/// `pipeline` or `stepAction/…`.
fn dedup(list: Vec<ResourceDescriptor>) -> Vec<ResourceDescriptor> {
    let mut seen: HashSet<(String, BTreeMap<String, String>, String)> = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for d in list {
        let exempt = d.name == "task" || d.name == "pipeline" || d.name.starts_with("stepAction/");
        if seen.insert((d.uri.clone(), d.digest.clone(), d.content.clone())) || exempt {
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(name: &str, uri: &str) -> ResourceDescriptor {
        ResourceDescriptor {
            name: name.into(),
            uri: uri.into(),
            digest: BTreeMap::from([("sha256".to_owned(), "1".to_owned())]),
            ..ResourceDescriptor::default()
        }
    }

    proptest::proptest! {
        #[test]
        fn dedup_output_is_an_ordered_subset_without_unexempt_repeats(
            items in proptest::collection::vec(
                (proptest::sample::select(vec!["", "inputs/result", "task", "pipeline", "stepAction/s"]),
                 proptest::sample::select(vec!["oci://a", "oci://b", "git+x"])),
                0..24,
            )
        ) {
            let input: Vec<ResourceDescriptor> = items.iter().map(|(n, u)| rd(n, u)).collect();
            let out = dedup(input.clone());
            // An ordered subsequence of the input.
            let mut rest = input.iter();
            for d in &out {
                proptest::prop_assert!(rest.any(|x| x == d));
            }
            // Each uri appears once among non-exempt entries, and first occurrences stay.
            for uri in ["oci://a", "oci://b", "git+x"] {
                if let Some(first) = input.iter().find(|d| d.uri == uri) {
                    proptest::prop_assert_eq!(out.iter().find(|d| d.uri == uri), Some(first));
                }
                let exempt = |d: &&ResourceDescriptor| d.name == "task" || d.name == "pipeline" || d.name.starts_with("stepAction/");
                let plain = out.iter().filter(|d| d.uri == uri && !exempt(d)).count();
                proptest::prop_assert!(plain <= 1);
            }
        }
    }

    #[test]
    fn dedup_keeps_first_and_exempt_names() {
        let out = dedup(vec![
            rd("", "oci://a"),
            rd("inputs/result", "oci://a"),
            rd("stepAction/s", "oci://a"),
            rd("pipeline", "oci://a"),
            rd("", "oci://b"),
        ]);
        let names: Vec<_> = out
            .iter()
            .map(|d| (d.name.as_str(), d.uri.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("", "oci://a"),
                ("stepAction/s", "oci://a"),
                ("pipeline", "oci://a"),
                ("", "oci://b")
            ]
        );
    }
}
