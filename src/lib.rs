//! chainseal turns a finished CI build into signed, verifiable SLSA provenance.
//!
//! One pipeline, thin front doors:
//!
//! ```text
//! build record ──► provenance ──► envelope ──► signer ──► storage ──► outputs
//! (record)          (provenance)  (envelope)   (signing)  (storage)
//! ```
//!
//! Pipeline stages:
//!
//! * [`record`] reads build records: Tekton TaskRuns and PipelineRuns (files or the
//!   Kubernetes API), GitHub Actions and GitLab CI jobs (their environment);
//!   [`subjects`] takes subjects named explicitly (`actions/attest` inputs).
//! * [`provenance`] turns them into in-toto Statements (SLSA v1.0 and v0.2, Chains'
//!   variants); pure, no I/O.
//! * [`envelope`] wraps payloads in DSSE envelopes and Sigstore bundles.
//! * [`signing`] signs bytes ([`signing::Signer`]: key files, AWS/GCP/Azure KMS,
//!   Vault); [`keyless`] certifies an ephemeral key with Fulcio for an OIDC identity
//!   from [`oidc`]; [`transparency`] logs signatures in Rekor.
//! * [`storage`] writes signed envelopes ([`storage::Storage`]): files, Tekton
//!   annotations, OCI registries ([`oci`]), object stores, document DBs, Grafeas,
//!   Archivista.
//! * [`outputs`] reports where everything went (step outputs, dotenv, result files,
//!   JSON).
//!
//! Front doors and their settings:
//!
//! * [`attest`] composes the pipeline for one build; [`cli`] and [`config`] describe
//!   and validate the settings (flags and environment).
//! * [`controller`] is the cluster controller (Tekton Chains' drop-in), on [`kube`].
//! * [`verify`] checks envelopes, bundles and what a registry holds for an image:
//!   [`verify::Request`] says what against what, [`verify::run`] reads and checks it,
//!   and [`verify::Report`] holds each item's verdict and whether the whole passed
//!   (`verify::outcome`: which predicate types count, when files or an image pass).
//! * [`keygen`] makes key pairs.
//!
//! Shared pieces: [`http`] (Sigstore and OIDC exchanges with capped replies),
//! [`reference`](mod@reference) (image references as go-containerregistry normalises them),
//! [`secret`] (values that never reach logs or `Debug`), [`error_text`] (error chains
//! on one line), [`rate_limit`] (a token bucket for Kubernetes API requests).
//! `docs/security.md` states the threat model these modules are built against.
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
