//! Untrusted update bytes (protobuf or XML) applied to an arbitrary base: nothing panics, an
//! accepted update survives its codec unchanged, and the receiver never holds a state that fails
//! validation (printfleet_diff::fuzzing::apply_arbitrary).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| printfleet_diff::fuzzing::apply_arbitrary(data));
