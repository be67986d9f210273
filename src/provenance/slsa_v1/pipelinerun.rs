//! PipelineRun provenance (`v2alpha4/internal/pipelinerun`, and `v2alpha3`).
//!
//! Child TaskRuns are matched as Chains does: for each pipeline task (tasks, then
//! finally) the TaskRuns labelled `tekton.dev/pipelineTask=<task>` that have a
//! `completionTime`, in `status.childReferences` order.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{
    Error, Format, Generated, Options, Parts, byproducts, dedup, predicate, step_actions,
    step_result_inputs, taskrun, unfiltered_byproducts,
};
use crate::provenance::BuildType;
use crate::provenance::statement::{ResourceDescriptor, append_subject};
use crate::provenance::tekton::{
    child_order, executed, image_materials, pipeline_inputs, ref_descriptor,
};
use crate::record::tekton::hints::{self, SubjectRules};
use crate::record::tekton::{PipelineRun, TaskRun};

pub(super) fn generate(
    pr: &PipelineRun,
    children: &[TaskRun],
    options: &Options,
) -> Result<Generated, Error> {
    let mut findings = Vec::new();
    let ordered = child_order(pr, children, &mut findings)?;
    let executed = executed(pr, &ordered);
    let deep = options.deep_inspection;

    let alpha3 = options.format == Format::V2Alpha3;
    let origin = format!("pipelineRunResults/{}", pr.metadata.name);
    let mut byproduct_list = Vec::new();
    let mut subject = Vec::new();
    if alpha3 {
        // Children's subjects first (deep inspection), then the PipelineRun's.
        if deep {
            for tr in &executed {
                for s in taskrun::legacy_subjects(tr, &mut findings) {
                    append_subject(&mut subject, s);
                }
            }
        }
        let mut own = Vec::new();
        hints::subjects(
            &pr.status.results,
            &origin,
            SubjectRules::Legacy,
            &mut own,
            &mut findings,
        );
        for s in own {
            append_subject(&mut subject, s);
        }
        unfiltered_byproducts(
            &pr.status.results,
            "pipelineRunResults",
            &mut byproduct_list,
            &mut findings,
        );
    } else {
        hints::subjects(
            &pr.status.results,
            &origin,
            SubjectRules::BuildArtifacts,
            &mut subject,
            &mut findings,
        );
        byproducts(
            &pr.status.results,
            &origin,
            &mut byproduct_list,
            &mut findings,
        );
        if deep {
            for tr in &executed {
                for s in taskrun::subjects(tr, &mut findings) {
                    append_subject(&mut subject, s);
                }
                byproduct_list.extend(taskrun::taskrun_byproducts(tr, &mut findings));
            }
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
        let src = tr
            .status
            .provenance
            .as_ref()
            .and_then(|p| p.ref_source.as_ref());
        match options.build_type {
            BuildType::Slsa => list.extend(src.map(|s| ref_descriptor("pipelineTask", s))),
            BuildType::SlsaTekton => {
                // Always present, carrying the whole child TaskRun (as recorded).
                let mut d = src.map_or_else(ResourceDescriptor::default, |s| {
                    ref_descriptor("pipelineTask", s)
                });
                d.name = "pipelineTask".to_owned();
                d.content = STANDARD.encode(serde_json::to_vec(&tr.raw).unwrap_or_default());
                list.push(d);
            }
        }
        if !alpha3 {
            list.extend(step_actions(&tr.status.steps));
        }
        list.extend(image_materials(tr)?);
    }
    if deep && !alpha3 {
        for tr in &executed {
            list.extend(step_result_inputs(tr, &mut findings));
        }
    }
    list.extend(pipeline_inputs(pr, &executed, deep, &mut findings));

    let parts = Parts::pipelinerun(pr);
    let statement = predicate(&parts, options, dedup(list), byproduct_list, subject)?;
    Ok(Generated {
        statement,
        findings,
    })
}
