//! Build records: what a finished build looked like, read from where it lives.
//!
//! Today: Tekton `tekton.dev/v1` TaskRuns and PipelineRuns from files
//! ([`tekton`]). Records are typed just enough for provenance; parts that are copied
//! verbatim into the provenance (a run's `spec`, result values) stay JSON values.

pub mod tekton;
