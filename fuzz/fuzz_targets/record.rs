//! Fuzz target `record`: see `chainseal::fuzzing::record` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chainseal::fuzzing::record(data));
