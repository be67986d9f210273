//! Fuzz target `key`: see `chainseal::fuzzing::key` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chainseal::fuzzing::key(data));
