//! TaskRun provenance (`v2alpha4/internal/taskrun`).

use super::{
    Error, Generated, INPUTS, Options, Parts, byproducts, dedup, image_materials, predicate,
    ref_descriptor, step_actions, step_result_inputs,
};
use crate::provenance::statement::{ResourceDescriptor, append_material, append_subject};
use crate::record::tekton::TaskRun;
use crate::record::tekton::hints::{self, Finding, GitSource};

pub(super) fn generate(tr: &TaskRun, options: &Options) -> Result<Generated, Error> {
    let mut findings = Vec::new();
    let subject = subjects(tr, &mut findings);
    let resolved = resolved_dependencies(tr, &mut findings)?;
    let byproducts = taskrun_byproducts(tr);
    let parts = Parts {
        kind: "TaskRun",
        name: tr.metadata.name.clone(),
        uid: tr.metadata.uid.clone(),
        spec: tr.spec.clone(),
        resolver_ref: "taskRef",
        provenance: tr.status.provenance.clone(),
        start: tr.status.start_time.clone(),
        finish: tr.status.completion_time.clone(),
    };
    let statement = predicate(&parts, options, resolved, byproducts, subject)?;
    Ok(Generated {
        statement,
        findings,
    })
}

/// Subjects: each step's results in step order, then the TaskRun's results.
pub(super) fn subjects(tr: &TaskRun, findings: &mut Vec<Finding>) -> Vec<ResourceDescriptor> {
    let mut out = Vec::new();
    let steps_origin = format!("stepResults/{}", tr.metadata.name);
    for step in &tr.status.steps {
        hints::subjects(&step.results, &steps_origin, &mut out, findings);
    }
    let mut own = Vec::new();
    hints::subjects(
        &tr.status.results,
        &format!("taskRunResults/{}", tr.metadata.name),
        &mut own,
        findings,
    );
    for s in own {
        append_subject(&mut out, s);
    }
    out
}

/// Byproducts: TaskRun results, then step results.
pub(super) fn taskrun_byproducts(tr: &TaskRun) -> Vec<ResourceDescriptor> {
    let mut out = Vec::new();
    byproducts(
        &tr.status.results,
        &format!("taskRunResults/{}", tr.metadata.name),
        &mut out,
    );
    let steps: Vec<_> = tr
        .status
        .steps
        .iter()
        .flat_map(|s| s.results.iter().cloned())
        .collect();
    byproducts(
        &steps,
        &format!("stepResults/{}", tr.metadata.name),
        &mut out,
    );
    out
}

/// Inputs from the Task's params and the TaskRun's results: the git pair (param
/// defaults → params → results), then `*ARTIFACT_INPUTS` results.
pub(super) fn param_and_result_inputs(
    tr: &TaskRun,
    findings: &mut Vec<Finding>,
) -> Vec<ResourceDescriptor> {
    let defaults = tr.status.task_spec.as_ref().map(|s| s.params.as_slice());
    let git = GitSource::from_run(defaults.unwrap_or_default(), &tr.spec, &tr.status.results);
    let mut out = Vec::new();
    if let Some(m) = git.material(INPUTS) {
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

fn resolved_dependencies(
    tr: &TaskRun,
    findings: &mut Vec<Finding>,
) -> Result<Vec<ResourceDescriptor>, Error> {
    let mut list = image_materials(tr)?;
    list.extend(step_result_inputs(tr, findings));
    list.extend(step_actions(&tr.status.steps));
    list.extend(param_and_result_inputs(tr, findings));
    let mut out: Vec<ResourceDescriptor> = tr
        .status
        .provenance
        .as_ref()
        .and_then(|p| p.ref_source.as_ref())
        .map(|src| ref_descriptor("task", src))
        .into_iter()
        .collect();
    out.extend(dedup(list));
    Ok(out)
}
