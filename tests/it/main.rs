//! chainseal's integration tests, as one test binary (`cargo test --test it`): each
//! module was a test binary of its own, and each linked the whole dependency set.
//! Run one module with a filter, e.g. `cargo test --test it controller::`.
//!
//! They run the real binary (`CARGO_BIN_EXE_chainseal`) against real local services
//! and loopback doubles that `scripts/test` provides (docs/testing.md); [`common`]
//! holds what they share.

mod common;

mod archivista;
mod ci;
mod cli;
mod cloud_keychains;
mod controller;
mod features;
mod fuzz_corpus;
mod github_store;
mod golden;
mod image;
mod interop;
mod keyless;
mod kms_aws;
mod kms_azure;
mod kms_gcp;
mod kms_vault;
mod kube_double;
mod kyverno;
mod oci;
mod policy;
mod properties;
mod secrets;
mod side_by_side;
mod sigstore_v2;
mod storage;
mod task_yaml;
mod tekton;
