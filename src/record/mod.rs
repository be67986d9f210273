//! Build records: what a finished build looked like, read from where it lives.
//!
//! Tekton `tekton.dev/v1` TaskRuns and PipelineRuns from files or the Kubernetes API
//! ([`tekton`]); GitHub Actions and GitLab CI jobs from their environment ([`ci`]).
//! Records are typed just enough for provenance; parts that are copied verbatim into
//! the provenance (a run's `spec`, result values) stay JSON values.

// Everything here reads what runs and verifiers are handed.
#![warn(clippy::indexing_slicing)]

pub mod ci;
pub mod tekton;
