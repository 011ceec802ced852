//! Arbitrary bytes as a sealed frame, a length-prefixed stream and base64 text: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| printfleet_wire::frame::fuzzing::open_arbitrary(data));
