//! Untrusted HP CDM documents: parsing never panics, and whatever parses maps, in the role of
//! every one of the endpoints at once, to a report that passes validation
//! (printfleet_sources::cdm).
#![no_main]

use libfuzzer_sys::fuzz_target;
use printfleet_sources::cdm::{Document, Documents, Endpoint, map_report};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Document::parse(data) else { return };
    let mut docs = Documents::default();
    for endpoint in Endpoint::ALL {
        docs.insert(*endpoint, doc.clone());
    }
    if let Err(err) = map_report(&docs).validate() {
        panic!("a CDM document mapped to an invalid report: {err}");
    }
});
