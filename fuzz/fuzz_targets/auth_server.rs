//! The portal's side of the handshake fed arbitrary messages in arbitrary order: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| printfleet_auth::fuzzing::server_messages(data));
