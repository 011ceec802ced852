//! Issue 15 section 1: a real printer's data is never all-or-nothing. Each rule has a test on
//! data written for it (crates/sources/testdata/, and walks inline) or found (the LibreNMS
//! captures in testdata/third-party).
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use proptest::strategy::Strategy;

use printfleet_schema::codes::{ConsumableStatus, DeviceState, EngineStatus, MediaSourceStatus, PrinterState};
use printfleet_schema::{Colour, DetectedErrors, Level, MeterKind};
use printfleet_sources::finding::LineProblem;
use printfleet_sources::ipp::{IppError, map as ipp_map, parse};
use printfleet_sources::ledm::{Documents, Element, LedmError, map as ledm_map};
use printfleet_sources::snmp::printer_mib::{map, map_snmprec};
use printfleet_sources::snmp::{Bindings, SnmprecError};
use printfleet_sources::{Finding, Mapped};

fn testdata(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tolerant() -> Mapped {
    let m = map_snmprec(&testdata("tolerant.snmprec")).unwrap();
    assert_eq!(m.report.validate(), Ok(()));
    m
}

#[test]
fn a_table_row_with_only_some_columns_is_still_a_row() {
    let m = tolerant();
    // Two trays with a capacity and a level, no type and no name.
    let trays = &m.report.snapshot.media_sources;
    assert_eq!(trays.len(), 2, "{trays:?}");
    assert_eq!(trays[0].status, MediaSourceStatus::UNLOADED);
    assert_eq!(trays[1].status, MediaSourceStatus::LOADED);
    assert_eq!(trays[0].name, None);
    // A supply with a level and nothing else.
    let supplies = &m.report.snapshot.consumables;
    assert_eq!(supplies.len(), 1);
    assert_eq!(supplies[0].level, Level::Amount(42));
}

#[test]
fn identical_duplicates_and_corrupt_lines_outside_the_tables_are_findings() {
    let m = tolerant();
    assert!(m.findings.contains(&Finding::DuplicateLine { line: 6, first: 5 }), "{:?}", m.findings);
    assert!(m.findings.contains(&Finding::LineSkipped { line: 7, problem: LineProblem::Value }), "{:?}", m.findings);
    // The capture still maps: the life count is there.
    assert_eq!(m.report.snapshot.meters.get(&MeterKind::TOTAL), Some(12_345));
}

#[test]
fn a_corrupt_line_inside_the_tables_read_refuses_the_capture_with_its_line() {
    let capture = b"1.3.6.1.2.1.1.5.0|4|x\n1.3.6.1.2.1.43.10.2.1.4.1.1|65|lots\n";
    assert!(matches!(map_snmprec(capture), Err(SnmprecError::Value { line: 2, .. })));
    // The same OID twice with different values, inside the tables: refused, never picked.
    let capture = b"1.3.6.1.2.1.43.10.2.1.4.1.1|65|1\n1.3.6.1.2.1.43.10.2.1.4.1.1|65|2\n";
    assert!(matches!(map_snmprec(capture), Err(SnmprecError::Duplicate { line: 2 })));
    // Outside them: skipped, the first value kept.
    let capture = b"1.3.6.1.2.1.6.1.0|2|1\n1.3.6.1.2.1.6.1.0|2|2\n";
    let m = map_snmprec(capture).unwrap();
    assert!(m.findings.contains(&Finding::LineSkipped { line: 2, problem: LineProblem::ConflictingDuplicate }));
}

#[test]
fn invalid_utf8_is_reported_with_its_line_and_latin1_in_a_value_is_kept() {
    let m = tolerant();
    assert!(m.findings.contains(&Finding::Latin1Repaired { line: 5 }), "{:?}", m.findings);
    assert_eq!(m.report.identity.location.as_deref(), Some("Bâtiment C"));
    // Not UTF-8 in an OID inside the tables read: refused, naming the line.
    let capture = b"1.3.6.1.2.1.1.5.0|4|x\n1.3.6.1.2.1.43.\xff|2|1\n";
    let m = map_snmprec(capture).unwrap();
    assert!(m.findings.contains(&Finding::LineSkipped { line: 2, problem: LineProblem::InvalidUtf8 }));
    let capture = b"1.3.6.1.2.1.1.5.0|4|x\n1.3.6.1.2.1.43.10.2.1.4.1.1|65|1\xff\n";
    assert!(matches!(map_snmprec(capture), Err(SnmprecError::Utf8 { line: 2 })));
    // LEDM: refused with the line by the strict parser, read as Latin-1 by the repairing one.
    let doc = b"<a>\n<b>ok</b>\n<c>Bur\xe9au</c>\n</a>";
    assert!(matches!(Element::parse(doc), Err(LedmError::InvalidUtf8 { line: 3 })));
    let (e, findings) = Element::parse_repairing(doc).unwrap();
    assert_eq!(e.text_at(&["c"]).as_deref(), Some("Buréau"));
    assert_eq!(findings, [Finding::Latin1Repaired { line: 3 }]);
}

#[test]
fn a_printer_without_hr_device_type_is_found_through_its_printer_mib_rows() {
    let m = tolerant();
    assert_eq!(m.report.identity.model.as_deref(), Some("ACME LaserWriter 9000"));
    assert_eq!(m.report.identity.serial_number.as_deref(), Some("ACME0001"));
}

#[test]
fn make_comes_from_a_manufacturer_field_never_the_models_first_word() {
    // SNMP: an enterprise number nobody knows, but the IEEE 1284 device id has MFG.
    assert_eq!(tolerant().report.identity.make.as_deref(), Some("ACME Printing"));
    // SNMP: no manufacturer field at all: absent, and a finding.
    let walk = "1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5\n1.3.6.1.2.1.25.3.2.1.3.1|4|Color LaserJet Pro M479\n";
    let m = map(&Bindings::from_snmprec(walk).unwrap());
    assert_eq!(m.report.identity.make, None);
    assert!(m.findings.contains(&Finding::NoMake));
    // IPP: printer-make-and-model without a device id gives no make.
    let bytes = response(&[(0x41, "printer-make-and-model", b"ECOSYS P2235dn")]);
    let m = ipp_map(&parse(&bytes).unwrap());
    assert_eq!(m.report.identity.make, None);
    assert!(m.findings.contains(&Finding::NoMake));
    // IPP: MFG is normalised.
    let bytes = response(&[(0x41, "printer-device-id", b"MFG:KYOCERA;MDL:ECOSYS P2235dn;")]);
    assert_eq!(ipp_map(&parse(&bytes).unwrap()).report.identity.make.as_deref(), Some("Kyocera"));
    // LEDM: a model name without the make in front is not a make.
    let config = Element::parse(
        b"<ProductConfigDyn><ProductInformation><MakeAndModel>Color LaserJet Pro M479fdw</MakeAndModel>\
          </ProductInformation></ProductConfigDyn>",
    )
    .unwrap();
    let m = ledm_map(&Documents { product_config: Some(config), ..Documents::default() });
    assert_eq!(m.report.identity.make.as_deref(), Some("HP"));
    // LEDM: Manufacturer/Name where the device has one.
    let config = Element::parse(
        b"<ProductConfigDyn><ProductInformation><MakeAndModel>X 1</MakeAndModel>\
          <Manufacturer><Name>Hewlett-Packard</Name></Manufacturer></ProductInformation></ProductConfigDyn>",
    )
    .unwrap();
    let m = ledm_map(&Documents { product_config: Some(config), ..Documents::default() });
    assert_eq!(m.report.identity.make.as_deref(), Some("HP"));
}

fn ledm_doc(name: &str) -> Element {
    Element::parse(&testdata(name)).unwrap()
}

#[test]
fn ledm_alerts_sharing_a_sequence_number_are_all_kept() {
    let m = ledm_map(&Documents {
        product_status: Some(ledm_doc("ledm_status_shared_sequence.xml")),
        ..Documents::default()
    });
    let alerts = &m.report.snapshot.alerts;
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    let ids: std::collections::BTreeSet<u64> = alerts.iter().map(|a| a.record_id.0).collect();
    assert_eq!(ids.len(), 3, "distinct record ids");
    assert_eq!(alerts[0].record_id.0, 7, "the first keeps its sequence number");
    assert!(!m.findings.iter().any(|f| matches!(f, Finding::DuplicateRecord { .. })));
}

/// Found by the `ledm_parse` fuzz target: an alert description composed of two texts, each
/// within the schema's limit, went over it together and made the report invalid.
#[test]
fn a_composed_ledm_alert_description_stays_within_the_text_limit() {
    let long = "x".repeat(1000);
    let xml = format!(
        "<psdyn:ProductStatusDyn xmlns:psdyn=\"urn:x-psdyn\" xmlns:ad=\"urn:x-ad\" xmlns:dd=\"urn:x-dd\">\
         <psdyn:AlertTable><psdyn:Alert><ad:ProductStatusAlertID>{long}</ad:ProductStatusAlertID>\
         <dd:SequenceNumber>1</dd:SequenceNumber><ad:AlertDetails><ad:AlertDetailsMarkerColor>{long}\
         </ad:AlertDetailsMarkerColor></ad:AlertDetails></psdyn:Alert></psdyn:AlertTable></psdyn:ProductStatusDyn>"
    );
    let doc = Element::parse(xml.as_bytes()).unwrap();
    let m = ledm_map(&Documents { product_status: Some(doc), ..Documents::default() });
    let description = m.report.snapshot.alerts[0].description.as_deref().unwrap();
    assert!(description.len() <= printfleet_schema::limits::MAX_TEXT_BYTES, "{}", description.len());
    assert_eq!(m.report.validate(), Ok(()));
}

#[test]
fn ledm_consumables_come_from_the_usage_document_when_the_consumables_document_is_absent() {
    let m = ledm_map(&Documents { product_usage: Some(ledm_doc("ledm_usage_only.xml")), ..Documents::default() });
    let c = &m.report.snapshot.consumables;
    assert_eq!(c.len(), 2);
    assert_eq!((c[0].colour.clone(), c[0].level), (Some(Colour::Black), Level::Amount(35)));
    // No page count: the cartridge's own impressions (2220 in the document) are not the
    // schema's device total, which is the report's TOTAL meter.
    assert_eq!(c[0].page_count, None);
    // The raw level -5 is clamped, with a finding.
    assert_eq!(c[1].level, Level::Amount(0));
    assert!(m.findings.iter().any(|f| matches!(
        f,
        Finding::ValueClamped { field: "ConsumableRawPercentageLevelRemaining", value: -5, replaced_by: Some(0) }
    )));
    assert!(m.findings.contains(&Finding::DocumentMissing { document: "ConsumableConfigDyn.xml" }));
    assert_eq!(m.report.validate(), Ok(()));
}

fn status_of(category: &str) -> Mapped {
    let xml =
        format!("<ProductStatusDyn><Status><StatusCategory>{category}</StatusCategory></Status></ProductStatusDyn>");
    ledm_map(&Documents { product_status: Some(Element::parse(xml.as_bytes()).unwrap()), ..Documents::default() })
}

#[test]
fn every_ledm_state_maps_and_an_unknown_one_keeps_its_text() {
    let s = status_of("trayEmpty").report.snapshot.status;
    assert_eq!((s.errors, s.device), (DetectedErrors::NO_PAPER, DeviceState::WARNING));
    let s = status_of("inPowerSave").report.snapshot.status;
    assert_eq!((s.engine, s.printer), (EngineStatus::SLEEP, PrinterState::IDLE));
    let m = status_of("warpCoreBreach");
    assert_eq!(m.report.snapshot.status.engine, EngineStatus::UNKNOWN);
    assert!(m.findings.contains(&Finding::UnmappedValue {
        field: "ProductStatusDyn/Status/StatusCategory",
        text: "warpCoreBreach".into()
    }));
    // Consumable states: "used" is a usable cartridge; an unknown one is kept as text.
    let config = Element::parse(
        b"<ConsumableConfigDyn><ConsumableInfo><ConsumableStation>0</ConsumableStation>\
          <ConsumableLifeState><ConsumableState>used</ConsumableState></ConsumableLifeState></ConsumableInfo>\
          <ConsumableInfo><ConsumableStation>1</ConsumableStation>\
          <ConsumableLifeState><ConsumableState>sparkly</ConsumableState></ConsumableLifeState></ConsumableInfo>\
          </ConsumableConfigDyn>",
    )
    .unwrap();
    let m = ledm_map(&Documents { consumable_config: Some(config), ..Documents::default() });
    let c = &m.report.snapshot.consumables;
    assert_eq!((c[0].status, c[1].status), (ConsumableStatus::OK, ConsumableStatus::UNKNOWN));
    assert!(m.findings.contains(&Finding::UnmappedValue { field: "ConsumableState", text: "sparkly".into() }));
}

/// A minimal IPP response: header with `status`, the given printer attributes, end.
fn response_with_status(status: u16, attributes: &[(u8, &str, &[u8])]) -> Vec<u8> {
    let mut out = vec![2, 0];
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 1, 0x01, 0x04]);
    for (tag, name, value) in attributes {
        out.push(*tag);
        out.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        out.extend_from_slice(value);
    }
    out.push(0x03);
    out
}

fn response(attributes: &[(u8, &str, &[u8])]) -> Vec<u8> {
    response_with_status(0, attributes)
}

#[test]
fn ipp_marker_low_levels_set_the_low_status() {
    let bytes = response(&[
        (0x42, "marker-names", b"Black"),
        (0x42, "", b"Cyan"),
        (0x42, "", b"Magenta"),
        (0x21, "marker-levels", &8i32.to_be_bytes()),
        (0x21, "", &40i32.to_be_bytes()),
        (0x21, "", &0i32.to_be_bytes()),
        (0x21, "marker-low-levels", &10i32.to_be_bytes()),
        (0x21, "", &10i32.to_be_bytes()),
        (0x21, "", &10i32.to_be_bytes()),
    ]);
    let m = ipp_map(&parse(&bytes).unwrap());
    let status: Vec<_> = m.report.snapshot.consumables.iter().map(|c| c.status).collect();
    assert_eq!(status, [ConsumableStatus::LOW, ConsumableStatus::OK, ConsumableStatus::EXHAUSTED]);
}

#[test]
fn an_ipp_error_status_is_named_in_the_error() {
    let bytes = response_with_status(0x0406, &[]);
    let e = parse(&bytes).unwrap_err();
    assert!(matches!(e, IppError::Status { code: 0x0406, name: "client-error-not-found" }), "{e:?}");
    assert_eq!(e.to_string(), "the printer answered client-error-not-found (0x0406)");
    let e = parse(&response_with_status(0x0507, &[])).unwrap_err();
    assert!(e.to_string().contains("server-error-busy"));
    // Successful with substitutions is not an error.
    assert!(parse(&response_with_status(0x0001, &[(0x21, "printer-state", &3i32.to_be_bytes())])).is_ok());
}

#[test]
fn a_printer_with_no_page_counter_is_a_finding_never_silence() {
    let m = map(&Bindings::from_snmprec("1.3.6.1.2.1.1.5.0|4|x\n").unwrap());
    assert!(m.report.snapshot.meters.is_empty());
    assert!(m.findings.contains(&Finding::NoPageCounter));
    assert!(m.findings.contains(&Finding::NoSerialNumber));
    let m = ipp_map(&parse(&response(&[(0x23, "printer-state", &3i32.to_be_bytes())])).unwrap());
    assert!(m.findings.contains(&Finding::NoPageCounter));
    // A printer that has one: no such finding.
    assert!(!tolerant().findings.contains(&Finding::NoPageCounter));
}

#[test]
fn findings_are_bounded() {
    // One corrupt line outside the tables per line: the list stops at MAX_FINDINGS + 1.
    let mut capture = Vec::new();
    for i in 0..(printfleet_sources::finding::MAX_FINDINGS + 50) {
        capture.extend_from_slice(format!("1.3.6.1.2.1.6.{i}.0|2|x\n").as_bytes());
    }
    let m = map_snmprec(&capture).unwrap();
    assert_eq!(m.findings.len(), printfleet_sources::finding::MAX_FINDINGS + 1);
    assert!(m.findings.contains(&Finding::TooManyFindings));
}

proptest::proptest! {
    /// Untrusted bytes never panic the tolerant reader, and what it accepts maps to a valid
    /// report.
    #[test]
    fn any_capture_bytes_read_tolerantly_map_to_a_valid_report(
        lines in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::collection::vec(proptest::num::u8::ANY, 0..40),
                "1\\.3\\.6\\.1\\.2\\.1\\.(1|25|43)(\\.[0-9]{1,3}){1,8}\\|(2|4|4x|6|65|66|70|99)\\|[ -~]{0,12}"
                    .prop_map(String::into_bytes),
            ],
            0..40,
        )
    ) {
        let capture = lines.join(&b'\n');
        if let Ok(m) = map_snmprec(&capture) {
            proptest::prop_assert_eq!(m.report.validate(), Ok(()));
        }
    }
}
