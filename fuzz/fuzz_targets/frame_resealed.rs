//! A header and a plaintext, sealed correctly under a test key so that mutations reach
//! decryption, the decompressor and the decoders; opening then decoding must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(bug) = printfleet_wire::frame::fuzzing::open_resealed(data) {
        panic!("{bug}");
    }
});
