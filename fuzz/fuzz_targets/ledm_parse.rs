//! Untrusted LEDM documents: parsing never panics, and whatever parses maps, in the role of each
//! of the four documents, to a report that passes validation (printfleet_sources::ledm).
#![no_main]

use libfuzzer_sys::fuzz_target;
use printfleet_sources::ledm::{Documents, Element, map_report};

fuzz_target!(|data: &[u8]| {
    let Ok(element) = Element::parse(data) else { return };
    let e = Some(element);
    for docs in [
        Documents { product_config: e.clone(), ..Documents::default() },
        Documents { consumable_config: e.clone(), product_usage: e.clone(), ..Documents::default() },
        Documents { product_status: e, ..Documents::default() },
    ] {
        if let Err(err) = map_report(&docs).validate() {
            panic!("an LEDM document mapped to an invalid report: {err}");
        }
    }
});
