//! The cloud identities chainseal runs with, shared by everything that calls a cloud:
//! the KMS signers, the cloud storage backends and the registries' cloud keychains
//! ([`crate::oci::cloud_keychains`]). Each provider is its own cargo feature.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
