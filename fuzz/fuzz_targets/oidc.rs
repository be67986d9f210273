//! Fuzz target `oidc`: see `chainseal::fuzzing::oidc` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chainseal::fuzzing::oidc(data));
