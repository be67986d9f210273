//! Fuzz target `sigstore`: see `chainseal::fuzzing::sigstore` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chainseal::fuzzing::sigstore(data));
