//! chainseal turns a finished CI build into signed, verifiable SLSA provenance.
//!
//! One pipeline, thin front doors:
//!
//! ```text
//! build record ──► provenance ──► pipeline: sign ──► log ──► store ──► outputs
//! (record)          (provenance)  (pipeline, signing, transparency, storage)
//! ```
//!
//! Pipeline stages:
//!
//! * [`record`] reads build records: Tekton TaskRuns and PipelineRuns (files or the
//!   Kubernetes API), GitHub Actions and GitLab CI jobs (their environment);
//!   [`subjects`] takes subjects named explicitly (`actions/attest` inputs).
//! * [`provenance`] turns them into in-toto Statements (SLSA v1.0 and v0.2, Chains'
//!   variants); pure, no I/O.
//! * [`pipeline`] signs, logs and stores a [`pipeline::Plan`] — the attestation and the
//!   image signatures, each with its signer and stores — the same way for every front
//!   door: every store attempted, what landed always listed, success only when all
//!   succeeded.
//! * [`envelope`] wraps payloads in DSSE envelopes and Sigstore bundles.
//! * [`signing`] signs bytes ([`signing::Signer`]: key files, AWS/GCP/Azure KMS,
//!   Vault), made by [`signing::load`] from [`signing::Settings`]; [`signing::keyless`]
//!   certifies an ephemeral key with Fulcio for an OIDC identity from [`oidc`];
//!   [`transparency`] logs signatures in Rekor.
//! * [`storage`] writes signed envelopes ([`storage::Storage`]): files, Tekton
//!   annotations, OCI registries ([`oci`]), object stores, document DBs, Grafeas,
//!   Archivista; [`storage::Factory`] makes them from [`storage::StorageTarget`]s and
//!   [`storage::Settings`].
//! * [`outputs`] reports where everything went (step outputs, dotenv, result files,
//!   JSON).
//!
//! Front doors and their settings:
//!
//! * [`attest`] reads one build and plans it; [`cli`] and [`config`] describe and
//!   validate the flags and environment and compose them into the subsystems' settings
//!   (only the binary and `config` read `cli`; no library module imports either);
//!   [`env_vars`] names every environment variable chainseal reads or writes
//!   ([`env_vars::EnvVars`]).
//! * [`controller`] is the cluster controller (Tekton Chains' drop-in), on [`kube`]: it
//!   translates `chains-config` into the same signer and storage settings and plans
//!   each run for the same pipeline.
//! * [`verify`] checks envelopes, bundles and what a registry holds for an image:
//!   [`verify::Request`] says what against what, [`verify::run`] reads and checks it,
//!   and [`verify::Report`] holds each item's verdict and whether the whole passed
//!   (`verify::outcome`: which predicate types count, when files or an image pass).
//! * [`keygen`] makes key pairs.
//!
//! Shared pieces: [`http`] (Sigstore and OIDC exchanges with capped replies),
//! [`reference`](mod@reference) (image references as go-containerregistry normalises them),
//! [`secret`] (values that never reach logs or `Debug`), [`values`] (empty means
//! unset; list settings), [`error_text`] (error chains on one line), [`error_kind`] (what
//! kind of failure an error is — not found, permission denied, unauthenticated,
//! unavailable, invalid — decided from typed facts; hints are chosen by kind),
//! [`rate_limit`] (a token bucket for Kubernetes API requests), [`read_limited`] (files
//! a run names, read up to a limit, streams included). `fuzzing` (hidden) holds
//! the entry points of the fuzz targets, replayed over their corpus by the tests
//! (`docs/fuzzing.md`).
//! `docs/security.md` states the threat model these modules are built against.
// No `expect` in non-test code (a panic on bad input is an outage); `#[cfg(test)]`
// code may (clippy.toml). Set here, not in Cargo.toml, so that integration tests and
// benches (separate crates with helper functions) keep `expect`.
#![warn(clippy::expect_used)]

pub mod attest;
pub mod cli;
pub mod cloud;
pub mod config;
pub mod controller;
pub mod env_vars;
pub mod envelope;
pub mod error_kind;
pub mod error_text;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod keygen;
pub mod kube;
pub mod oci;
pub mod oidc;
pub mod outputs;
pub mod pipeline;
pub mod provenance;
pub mod rate_limit;
pub mod read_limited;
pub mod record;
pub mod reference;
pub mod secret;
pub mod signing;
pub mod storage;
pub mod subjects;
pub mod transparency;
pub mod valid_for;
pub mod values;
pub mod verify;
