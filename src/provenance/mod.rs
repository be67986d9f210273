//! Provenance: build records → in-toto Statements. Pure: no I/O, no clock (every
//! time comes from the record), so the same record always gives the same bytes.

pub mod digest;
pub mod gojson;
pub mod slsa_v1;
pub mod statement;
pub mod time;

pub use statement::{DigestSet, ResourceDescriptor, Statement};
