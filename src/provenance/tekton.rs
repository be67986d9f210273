//! Pieces of Tekton provenance shared by every format: image materials from step and
//! sidecar image ids, ref-source descriptors, child TaskRun selection.

use std::collections::BTreeMap;

use super::Error;
use super::statement::{ResourceDescriptor, append_material};
use crate::record::tekton::hints::{self, Finding, GitSource};
use crate::record::tekton::model::RefSource;
use crate::record::tekton::{PipelineRun, TaskRun};

/// Name of input descriptors found by type hinting.
pub const INPUTS: &str = "inputs/result";

/// Label naming the pipeline task a TaskRun ran.
pub const PIPELINE_TASK_LABEL: &str = "tekton.dev/pipelineTask";

/// `{name, uri, digest}` from a ref source.
pub fn ref_descriptor(name: &str, src: &RefSource) -> ResourceDescriptor {
    ResourceDescriptor {
        name: name.to_owned(),
        uri: src.uri.clone(),
        digest: src.digest.clone(),
        ..ResourceDescriptor::default()
    }
}

/// Step images then sidecar images of a TaskRun, each list merged (`AppendMaterials`).
pub fn image_materials(tr: &TaskRun) -> Result<Vec<ResourceDescriptor>, Error> {
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

/// One image material from a step or sidecar image id (`repo@alg:hex`, an optional
/// `docker-pullable://` prefix dropped); a malformed id is an error, as in Chains.
pub fn image_material(
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

/// The given TaskRuns in `status.childReferences` order. A listed TaskRun missing
/// from the record is an error (its images would silently be missing); TaskRuns not
/// listed and non-TaskRun children are reported and left out.
pub fn child_order<'a>(
    pr: &PipelineRun,
    children: &'a [TaskRun],
    findings: &mut Vec<Finding>,
) -> Result<Vec<&'a TaskRun>, Error> {
    let refs = &pr.status.child_references;
    if refs.is_empty() {
        return Ok(children.iter().collect());
    }
    let mut out = Vec::new();
    for r in refs {
        if !r.kind.is_empty() && r.kind != "TaskRun" {
            findings.push(Finding::skipped(
                format!("status.childReferences/{}", r.name),
                format!("child of kind `{}` is not attested; left out", r.kind),
            ));
            continue;
        }
        match children.iter().find(|c| c.metadata.name == r.name) {
            Some(c) => out.push(c),
            None => {
                return Err(Error::MissingChild {
                    run: pr.metadata.name.clone(),
                    child: r.name.clone(),
                });
            }
        }
    }
    for c in children {
        if !refs.iter().any(|r| r.name == c.metadata.name) {
            findings.push(Finding::skipped(
                format!("TaskRun/{}", c.metadata.name),
                format!(
                    "not a child of PipelineRun `{}` (not in status.childReferences); left out",
                    pr.metadata.name
                ),
            ));
        }
    }
    Ok(out)
}

/// Executed TaskRuns: per pipeline task (tasks, then finally), the completed TaskRuns
/// labelled with its name.
pub fn executed<'a>(pr: &PipelineRun, children: &[&'a TaskRun]) -> Vec<&'a TaskRun> {
    let Some(spec) = &pr.status.pipeline_spec else {
        return Vec::new();
    };
    spec.tasks
        .iter()
        .chain(&spec.finally)
        .flat_map(|task| {
            children.iter().copied().filter(move |tr| {
                tr.metadata.labels.get(PIPELINE_TASK_LABEL) == Some(&task.name)
                    && tr.status.completion_time.is_some()
            })
        })
        .collect()
}

/// Inputs from the Task's params and the TaskRun's results: the git pair (param
/// defaults → params → results), then `*ARTIFACT_INPUTS` results.
pub fn param_and_result_inputs(
    tr: &TaskRun,
    findings: &mut Vec<Finding>,
) -> Vec<ResourceDescriptor> {
    let defaults = tr.status.task_spec.as_ref().map(|s| s.params.as_slice());
    let git = GitSource::from_run(defaults.unwrap_or_default(), &tr.spec, &tr.status.results);
    let mut out = Vec::new();
    let origin = format!("taskRun/{}", tr.metadata.name);
    if let Some(m) = git.material_noted(INPUTS, &origin, findings) {
        append_material(&mut out, m);
    }
    hints::artifact_inputs(
        &tr.status.results,
        &format!("taskRunResults/{}", tr.metadata.name),
        INPUTS,
        &mut out,
        findings,
    );
    out
}

/// `FromPipelineParamsAndResults`: pipeline `*ARTIFACT_INPUTS`, (deep) each child's
/// param/result inputs, then the pipeline's git pair.
pub fn pipeline_inputs(
    pr: &PipelineRun,
    executed: &[&TaskRun],
    deep: bool,
    findings: &mut Vec<Finding>,
) -> Vec<ResourceDescriptor> {
    let mut out = Vec::new();
    hints::artifact_inputs(
        &pr.status.results,
        &format!("pipelineRunResults/{}", pr.metadata.name),
        INPUTS,
        &mut out,
        findings,
    );
    if deep && pr.status.pipeline_spec.is_some() {
        for tr in executed {
            for m in param_and_result_inputs(tr, findings) {
                append_material(&mut out, m);
            }
        }
    }
    let defaults = pr
        .status
        .pipeline_spec
        .as_ref()
        .map(|s| s.params.as_slice());
    let git = GitSource::from_run(defaults.unwrap_or_default(), &pr.spec, &pr.status.results);
    let origin = format!("pipelineRun/{}", pr.metadata.name);
    if let Some(m) = git.material_noted(INPUTS, &origin, findings) {
        append_material(&mut out, m);
    }
    out
}
