//! Untrusted xml bytes: decoding never panics, and whatever decodes survives
//! decode -> encode -> decode unchanged (printfleet_wire::roundtrip, shared with the tests).
#![no_main]

use libfuzzer_sys::fuzz_target;
use printfleet_wire::{Codec, roundtrip::decode_then_roundtrip};

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = decode_then_roundtrip(Codec::Xml, data) {
        panic!("{failure}");
    }
});
