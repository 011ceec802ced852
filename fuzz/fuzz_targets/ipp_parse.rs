//! Untrusted IPP responses and PWG strings: parsing never panics, and whatever parses maps to a
//! report that passes validation (printfleet_sources::ipp).
#![no_main]

use libfuzzer_sys::fuzz_target;
use printfleet_sources::ipp;

fuzz_target!(|data: &[u8]| {
    if let Ok(attributes) = ipp::parse(data)
        && let Err(e) = ipp::map_report(&attributes).validate()
    {
        panic!("an IPP response mapped to an invalid report: {e}");
    }
    // The same bytes as the PWG key=value strings of printer-supply and printer-alert.
    let text = String::from_utf8_lossy(data);
    let _ = ipp::parse_supply(&text);
    let _ = ipp::parse_alert(&text);
});
