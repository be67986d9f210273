//! Fuzz target `hints`: see `chainseal::fuzzing::hints` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chainseal::fuzzing::hints(data));
