//! Fuzz target `chains_config`: see `chainseal::fuzzing::chains_config` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chainseal::fuzzing::chains_config(data));
