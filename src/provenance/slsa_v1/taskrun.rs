//! TaskRun provenance (`v2alpha4/internal/taskrun`).

use super::{
    Error, Format, Generated, Options, Parts, byproducts, dedup, predicate, step_actions,
    step_result_inputs, unfiltered_byproducts,
};
use crate::provenance::statement::{ResourceDescriptor, append_subject};
use crate::provenance::tekton::{image_materials, param_and_result_inputs, ref_descriptor};
use crate::record::tekton::TaskRun;
use crate::record::tekton::hints::{self, Finding, SubjectRules};

pub(super) fn generate(tr: &TaskRun, options: &Options) -> Result<Generated, Error> {
    let mut findings = Vec::new();
    let alpha3 = options.format == Format::V2Alpha3;
    let subject = if alpha3 {
        legacy_subjects(tr, &mut findings)
    } else {
        subjects(tr, &mut findings)
    };
    let resolved = resolved_dependencies(tr, alpha3, &mut findings)?;
    let byproducts = if alpha3 {
        let mut out = Vec::new();
        unfiltered_byproducts(
            &tr.status.results,
            "taskRunResults",
            &mut out,
            &mut findings,
        );
        out
    } else {
        taskrun_byproducts(tr, &mut findings)
    };
    let parts = Parts::taskrun(tr);
    let statement = predicate(&parts, options, resolved, byproducts, subject)?;
    Ok(Generated {
        statement,
        findings,
    })
}

/// `slsa/v2alpha4` subjects: each step's results in step order, then the TaskRun's
/// results.
pub(super) fn subjects(tr: &TaskRun, findings: &mut Vec<Finding>) -> Vec<ResourceDescriptor> {
    let mut out = Vec::new();
    let steps_origin = format!("stepResults/{}", tr.metadata.name);
    for step in &tr.status.steps {
        hints::subjects(
            &step.results,
            &steps_origin,
            SubjectRules::BuildArtifacts,
            &mut out,
            findings,
        );
    }
    let mut own = Vec::new();
    hints::subjects(
        &tr.status.results,
        &format!("taskRunResults/{}", tr.metadata.name),
        SubjectRules::BuildArtifacts,
        &mut own,
        findings,
    );
    for s in own {
        append_subject(&mut out, s);
    }
    out
}

/// `slsa/v2alpha3` (and SLSA v0.2) subjects: the TaskRun's results only.
pub(crate) fn legacy_subjects(
    tr: &TaskRun,
    findings: &mut Vec<Finding>,
) -> Vec<ResourceDescriptor> {
    let mut out = Vec::new();
    hints::subjects(
        &tr.status.results,
        &format!("taskRunResults/{}", tr.metadata.name),
        SubjectRules::Legacy,
        &mut out,
        findings,
    );
    out
}

/// Byproducts: TaskRun results, then step results.
pub(super) fn taskrun_byproducts(
    tr: &TaskRun,
    findings: &mut Vec<Finding>,
) -> Vec<ResourceDescriptor> {
    let mut out = Vec::new();
    byproducts(
        &tr.status.results,
        &format!("taskRunResults/{}", tr.metadata.name),
        &mut out,
        findings,
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
        findings,
    );
    out
}

fn resolved_dependencies(
    tr: &TaskRun,
    alpha3: bool,
    findings: &mut Vec<Finding>,
) -> Result<Vec<ResourceDescriptor>, Error> {
    let mut list = image_materials(tr)?;
    if !alpha3 {
        list.extend(step_result_inputs(tr, findings));
        list.extend(step_actions(&tr.status.steps));
    }
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
