//! PipelineRun provenance (`v2alpha4/internal/pipelinerun`).
//!
//! Child TaskRuns are matched as Chains does: for each pipeline task (tasks, then
//! finally) the TaskRuns labelled `tekton.dev/pipelineTask=<task>` that have a
//! `completionTime`, in `status.childReferences` order.

use super::{
    Error, Generated, INPUTS, Options, Parts, byproducts, dedup, image_materials, predicate,
    ref_descriptor, step_actions, step_result_inputs, taskrun,
};
use crate::provenance::statement::{ResourceDescriptor, append_material, append_subject};
use crate::record::tekton::hints::{self, Finding, GitSource};
use crate::record::tekton::{PipelineRun, TaskRun};

const PIPELINE_TASK_LABEL: &str = "tekton.dev/pipelineTask";

pub(super) fn generate(
    pr: &PipelineRun,
    children: &[TaskRun],
    options: &Options,
) -> Result<Generated, Error> {
    let mut findings = Vec::new();
    let ordered = child_order(pr, children, &mut findings)?;
    let executed = executed(pr, &ordered);
    let deep = options.deep_inspection;

    let mut subject = Vec::new();
    hints::subjects(
        &pr.status.results,
        &format!("pipelineRunResults/{}", pr.metadata.name),
        &mut subject,
        &mut findings,
    );
    let mut byproduct_list = Vec::new();
    byproducts(
        &pr.status.results,
        &format!("pipelineRunResults/{}", pr.metadata.name),
        &mut byproduct_list,
    );
    if deep {
        for tr in &executed {
            for s in taskrun::subjects(tr, &mut findings) {
                append_subject(&mut subject, s);
            }
            byproduct_list.extend(taskrun::taskrun_byproducts(tr));
        }
    }

    let mut list = Vec::new();
    if let Some(src) = pr
        .status
        .provenance
        .as_ref()
        .and_then(|p| p.ref_source.as_ref())
    {
        list.push(ref_descriptor("pipeline", src));
    }
    for tr in &executed {
        if let Some(src) = tr
            .status
            .provenance
            .as_ref()
            .and_then(|p| p.ref_source.as_ref())
        {
            list.push(ref_descriptor("pipelineTask", src));
        }
        list.extend(step_actions(&tr.status.steps));
        list.extend(image_materials(tr)?);
    }
    if deep {
        for tr in &executed {
            list.extend(step_result_inputs(tr, &mut findings));
        }
    }
    list.extend(pipeline_inputs(pr, &executed, deep, &mut findings));

    let parts = Parts {
        kind: "PipelineRun",
        name: pr.metadata.name.clone(),
        uid: pr.metadata.uid.clone(),
        spec: pr.spec.clone(),
        resolver_ref: "pipelineRef",
        provenance: pr.status.provenance.clone(),
        start: pr.status.start_time.clone(),
        finish: pr.status.completion_time.clone(),
    };
    let statement = predicate(&parts, options, dedup(list), byproduct_list, subject)?;
    Ok(Generated {
        statement,
        findings,
    })
}

/// The given TaskRuns in `status.childReferences` order. A listed TaskRun missing
/// from the record is an error (its images would silently be missing); TaskRuns not
/// listed and non-TaskRun children are reported and left out.
fn child_order<'a>(
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
            findings.push(Finding {
                source: format!("status.childReferences/{}", r.name),
                message: format!("child of kind `{}` is not attested; left out", r.kind),
            });
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
            findings.push(Finding {
                source: format!("TaskRun/{}", c.metadata.name),
                message: format!(
                    "not a child of PipelineRun `{}` (not in status.childReferences); left out",
                    pr.metadata.name
                ),
            });
        }
    }
    Ok(out)
}

/// Executed TaskRuns: per pipeline task (tasks, then finally), the completed TaskRuns
/// labelled with its name.
fn executed<'a>(pr: &PipelineRun, children: &[&'a TaskRun]) -> Vec<&'a TaskRun> {
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

/// `FromPipelineParamsAndResults`: pipeline `*ARTIFACT_INPUTS`, (deep) each child's
/// param/result inputs, then the pipeline's git pair.
fn pipeline_inputs(
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
            for m in taskrun::param_and_result_inputs(tr, findings) {
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
    if let Some(m) = git.material(INPUTS) {
        append_material(&mut out, m);
    }
    out
}
