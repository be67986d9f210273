//! SLSA Provenance v1.0 for Tekton runs, following Tekton Chains' `slsa/v2alpha4`
//! rules (tektoncd/chains `pkg/chains/formats/slsa/v2alpha4`).
//!
//! Deliberate differences from Chains are listed in `docs/chains-compatibility.md`;
//! the main one: `externalParameters.runSpec` is the run's `spec` as given, not Go's
//! re-serialisation of it.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::provenance::gojson;
use crate::provenance::statement::{
    ResourceDescriptor, STATEMENT_V1, Statement, append_material, sorted,
};
use crate::record::tekton::hints::{self, Finding, ParamValue};
use crate::record::tekton::model::{Provenance, RefSource, RunResult, StepState};
use crate::record::tekton::{Record, TaskRun};

mod feature_flags;
mod pipelinerun;
mod taskrun;

/// Predicate type of SLSA Provenance v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

/// Chains' default build type.
pub const BUILD_TYPE_SLSA: &str = "https://tekton.dev/chains/v2/slsa";

/// Settings of the generator.
#[derive(Debug, Clone)]
pub struct Options {
    /// `runDetails.builder.id`.
    pub builder_id: String,
    /// `buildDefinition.buildType`.
    pub build_type: String,
    /// Walk a PipelineRun's child TaskRuns for subjects, inputs and byproducts
    /// (Chains' `artifacts.pipelinerun.enable-deep-inspection`).
    pub deep_inspection: bool,
}

impl Options {
    /// Default options with the given builder id.
    pub fn new(builder_id: impl Into<String>) -> Self {
        Self {
            builder_id: builder_id.into(),
            build_type: BUILD_TYPE_SLSA.to_owned(),
            deep_inspection: false,
        }
    }
}

/// A generated Statement and the type hints that were skipped on the way.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The in-toto Statement.
    pub statement: Statement,
    /// Skipped or suspicious type hints.
    pub findings: Vec<Finding>,
}

/// Why no provenance could be generated.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A step or sidecar image id that is not `repo@alg:hex`.
    #[error(
        "TaskRun `{run}`: {what} `{name}` has image id `{image_id}`, expected `repository@algorithm:hex` (did the {what} run?)"
    )]
    ImageId {
        /// TaskRun name.
        run: String,
        /// `step` or `sidecar`.
        what: &'static str,
        /// Step or sidecar name.
        name: String,
        /// The image id found.
        image_id: String,
    },
    /// A timestamp that is not RFC 3339.
    #[error("{kind} `{run}`: `{field}` is not an RFC 3339 timestamp (`{value}`): {message}")]
    Timestamp {
        /// Run kind.
        kind: &'static str,
        /// Run name.
        run: String,
        /// Field path.
        field: &'static str,
        /// Value found.
        value: String,
        /// Parser message.
        message: String,
    },
    /// A feature flag of the wrong type.
    #[error("{kind} `{run}`: status.provenance.featureFlags: {message}")]
    FeatureFlags {
        /// Run kind.
        kind: &'static str,
        /// Run name.
        run: String,
        /// What is wrong.
        message: String,
    },
    /// A child TaskRun listed by the PipelineRun but not given.
    #[error(
        "PipelineRun `{run}` lists TaskRun `{child}` in status.childReferences but the record does not contain it: add it to CHAINSEAL_RECORD (e.g. `kubectl get taskrun {child} -o yaml`)"
    )]
    MissingChild {
        /// PipelineRun name.
        run: String,
        /// Missing TaskRun name.
        child: String,
    },
}

/// Generate the SLSA v1.0 Statement for a record.
pub fn generate(record: &Record, options: &Options) -> Result<Generated, Error> {
    match record {
        Record::TaskRun(tr) => taskrun::generate(tr, options),
        Record::PipelineRun { run, children } => pipelinerun::generate(run, children, options),
    }
}

/// The parts every Tekton run's predicate shares.
struct Parts {
    kind: &'static str,
    name: String,
    uid: String,
    spec: Value,
    resolver_ref: &'static str,
    provenance: Option<Provenance>,
    start: Option<String>,
    finish: Option<String>,
}

fn predicate(
    parts: &Parts,
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
        let flags = feature_flags::normalise(flags).map_err(|message| Error::FeatureFlags {
            kind: parts.kind,
            run: parts.name.clone(),
            message,
        })?;
        internal.insert(
            "tekton-pipelines-feature-flags".into(),
            Value::Object(flags),
        );
    }

    let mut metadata = Map::new();
    if !parts.uid.is_empty() {
        metadata.insert("invocationId".into(), Value::String(parts.uid.clone()));
    }
    for (key, field, value) in [
        ("startedOn", "status.startTime", &parts.start),
        ("finishedOn", "status.completionTime", &parts.finish),
    ] {
        if let Some(v) = value {
            let t = crate::provenance::time::normalise(v).map_err(|message| Error::Timestamp {
                kind: parts.kind,
                run: parts.name.clone(),
                field,
                value: v.clone(),
                message,
            })?;
            metadata.insert(key.into(), Value::String(t));
        }
    }

    let mut build_definition = json!({
        "buildType": options.build_type,
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

/// `{name, uri, digest}` from a ref source.
fn ref_descriptor(name: &str, src: &RefSource) -> ResourceDescriptor {
    ResourceDescriptor {
        name: name.to_owned(),
        uri: src.uri.clone(),
        digest: src.digest.clone(),
        ..ResourceDescriptor::default()
    }
}

/// Step images then sidecar images of a TaskRun, each list merged (`AppendMaterials`).
fn image_materials(tr: &TaskRun) -> Result<Vec<ResourceDescriptor>, Error> {
    let mut out = Vec::new();
    let mut steps = Vec::new();
    for s in &tr.status.steps {
        append_material(
            &mut steps,
            image_material(tr, "step", &s.name, &s.image_id)?,
        );
    }
    let mut sidecars = Vec::new();
    for s in &tr.status.sidecars {
        append_material(
            &mut sidecars,
            image_material(tr, "sidecar", &s.name, &s.image_id)?,
        );
    }
    out.extend(steps);
    out.extend(sidecars);
    Ok(out)
}

fn image_material(
    tr: &TaskRun,
    what: &'static str,
    name: &str,
    image_id: &str,
) -> Result<ResourceDescriptor, Error> {
    let err = || Error::ImageId {
        run: tr.metadata.name.clone(),
        what,
        name: name.to_owned(),
        image_id: image_id.to_owned(),
    };
    let mut at = image_id.split('@');
    let (Some(repo), Some(digest), None) = (at.next(), at.next(), at.next()) else {
        return Err(err());
    };
    let mut colon = digest.split(':');
    let (Some(alg), Some(hex), None) = (colon.next(), colon.next(), colon.next()) else {
        return Err(err());
    };
    Ok(ResourceDescriptor {
        uri: format!(
            "oci://{}",
            repo.strip_prefix("docker-pullable://").unwrap_or(repo)
        ),
        digest: BTreeMap::from([(alg.to_owned(), hex.to_owned())]),
        ..ResourceDescriptor::default()
    })
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
        if let Some(m) = git.material(INPUTS) {
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

/// Name of input descriptors found by type hinting.
const INPUTS: &str = "inputs/result";

/// Byproducts of one results list: everything but image hints and build artifacts.
fn byproducts(results: &[RunResult], prefix: &str, out: &mut Vec<ResourceDescriptor>) {
    for r in results {
        if hints::is_image_hint(&r.name) || !matches!(hints::build_artifact(r), Ok(None)) {
            continue;
        }
        let content = gojson::param_value(&ParamValue::from_json(&r.value));
        out.push(ResourceDescriptor {
            name: format!("{prefix}/{}", r.name),
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
    let mut seen: Vec<(String, BTreeMap<String, String>, String)> = Vec::new();
    let mut out = Vec::new();
    for d in list {
        let key = (d.uri.clone(), d.digest.clone(), d.content.clone());
        let exempt = d.name == "task" || d.name == "pipeline" || d.name.starts_with("stepAction/");
        if seen.contains(&key) {
            if exempt {
                out.push(d);
            }
            continue;
        }
        seen.push(key);
        out.push(d);
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
