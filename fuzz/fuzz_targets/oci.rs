//! Fuzz target `oci`: see `chainseal::fuzzing::oci` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chainseal::fuzzing::oci(data));
