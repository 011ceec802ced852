//! Arbitrary bytes as a stored SNMP capture, read tolerantly and mapped through the Printer-MIB:
//! a printer's answers are untrusted input, so mapping never panics and what it produces is a
//! valid report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use printfleet_sources::snmp::printer_mib::map_snmprec;

fuzz_target!(|data: &[u8]| {
    if let Ok(mapped) = map_snmprec(data)
        && let Err(e) = mapped.report.validate()
    {
        panic!("an SNMP capture mapped to an invalid report: {e}");
    }
});
