//! Arbitrary bytes as an snmprec capture: reading never panics, and what reads survives a write
//! and a second read unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(bug) = printfleet_sources::snmp::fuzz_roundtrip(data) {
        panic!("{bug}");
    }
});
