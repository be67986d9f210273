//! chainseal turns a finished CI build into signed, verifiable SLSA provenance.
//!
//! One pipeline, thin front doors:
//!
//! ```text
//! build record ──► provenance ──► envelope ──► signer ──► storage ──► outputs
//! (record)          (provenance)  (envelope)   (signing)  (storage)
//! ```
//!
//! * [`record`] reads build records (Tekton TaskRuns and PipelineRuns).
//! * [`provenance`] turns them into in-toto Statements (SLSA v1.0); pure, no I/O.
//! * [`envelope`] wraps payloads in DSSE.
//! * [`signing`] signs bytes ([`signing::Signer`]); [`keyless`] certifies an
//!   ephemeral key with Fulcio; [`transparency`] logs signatures in Rekor.
//! * [`storage`] writes signed envelopes ([`storage::Storage`]).
//! * [`verify`] checks envelopes against a public key.
//! * [`attest`] composes the pipeline; [`cli`] and [`config`] describe and validate
//!   the settings.

// No `expect` in non-test code (a panic on bad input is an outage); `#[cfg(test)]`
// code may (clippy.toml). Set here, not in Cargo.toml, so that integration tests and
// benches (separate crates with helper functions) keep `expect`.
#![warn(clippy::expect_used)]

pub mod attest;
pub mod cli;
pub mod config;
pub mod controller;
pub mod envelope;
pub mod error_text;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod keygen;
pub mod keyless;
pub mod kube;
pub mod oci;
pub mod oidc;
pub mod outputs;
pub mod provenance;
pub mod rate_limit;
pub mod record;
pub mod reference;
pub mod secret;
pub mod signing;
pub mod storage;
pub mod subjects;
pub mod transparency;
pub mod verify;
