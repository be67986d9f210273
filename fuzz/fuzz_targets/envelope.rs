//! Fuzz target `envelope`: see `chainseal::fuzzing::envelope` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chainseal::fuzzing::envelope(data));
