//! Envelopes around signed payloads: DSSE (the in-toto recommended envelope).
//!
//! This module knows how bytes are wrapped and what is signed, not where they go.

// Everything here reads what runs and verifiers are handed.
#![warn(clippy::indexing_slicing)]

pub mod bundle;
pub mod dsse;

pub use dsse::{Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE};
