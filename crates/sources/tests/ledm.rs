//! The LEDM mapping on a real HP Color LaserJet M255dw (testdata/third-party/aiohpprinter, from
//! chemelli74/aiohpprinter `tests/fixtures/`, commits in PROVENANCE.txt, Apache-2.0), checked
//! against `expected.json` beside it: aiohpprinter's own parse of the same documents, an
//! independent reading. Plus hostile documents.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::arithmetic_side_effects
)]

use std::path::PathBuf;

use printfleet_schema::codes::{AlertGroup, ConsumableStatus, DeviceState, PrinterState, SupplyType, SupplyUnit};
use printfleet_schema::{Capacity, Colour, DeviceReport, Level, MeterKind, PageCount};
use printfleet_sources::ledm::{Documents, Element, LedmError, MAX_LEDM_DEPTH, map_report};
use proptest::prelude::*;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/third-party/aiohpprinter/hp_color_laserjet_m255dw")
}

fn doc(name: &str) -> Option<Element> {
    Some(Element::parse(&std::fs::read(dir().join(name)).unwrap()).unwrap())
}

fn report() -> DeviceReport {
    let docs = Documents {
        product_config: doc("ProductConfigDyn.xml"),
        consumable_config: doc("ConsumableConfigDyn.xml"),
        product_usage: doc("ProductUsageDyn.xml"),
        product_status: doc("ProductStatusDyn.xml"),
    };
    let r = map_report(&docs);
    assert_eq!(r.validate(), Ok(()));
    r
}

#[test]
fn m255dw_matches_aiohpprinters_reading() {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("expected.json")).unwrap()).unwrap();
    let r = report();
    let device = &expected["device"];
    assert_eq!(r.identity.model.as_deref(), device["make_and_model"].as_str());
    assert_eq!(r.identity.product_name.as_deref(), device["make_and_model_family"].as_str());
    assert_eq!(r.identity.product_number.as_deref(), device["product_number"].as_str());
    assert_eq!(r.identity.make.as_deref(), Some("HP"));
    // The capture's serial numbers are "REDACTED": absent, not a fake serial.
    assert_eq!(r.identity.serial_number, None);

    let usage = &expected["printer_usage"];
    for (field, kind) in [
        ("total_impressions", MeterKind::TOTAL),
        ("monochrome_impressions", MeterKind::MONO),
        ("color_impressions", MeterKind::COLOUR),
        ("duplex_sheets", MeterKind::DUPLEX_SHEETS),
    ] {
        assert_eq!(r.snapshot.meters.get(&kind), usage[field].as_u64(), "{field}");
    }

    let want = expected["consumables"].as_array().unwrap();
    assert_eq!(r.snapshot.consumables.len(), want.len());
    for w in want {
        let colour = Colour::parse(w["marker_color"].as_str().unwrap());
        let c = r.snapshot.consumables.iter().find(|c| c.colour.as_ref() == Some(&colour)).unwrap();
        let station: u64 = w["station"].as_str().unwrap().parse().unwrap();
        assert_eq!(c.record_id.0, station + 1, "{colour:?}: record id is the station, from 1");
        assert_eq!(c.kind, SupplyType::TONER_CARTRIDGE);
        assert_eq!(c.part_number.as_deref(), w["product_number"].as_str());
        // aiohpprinter reports the percentage as a float; LEDM's own value is an integer.
        let percent = w["percentage_level_remaining"].as_f64().unwrap() as u32;
        assert_eq!((c.unit, c.level, c.capacity), (SupplyUnit::PERCENT, Level::Amount(percent), Capacity::Amount(100)));
        assert_eq!(c.status, ConsumableStatus::OK, "state {}", w["state"]);
        assert_eq!(c.page_count, w["total_impressions"].as_u64().map(PageCount));
    }

    // Status "inPowerSave": idle and running; four genuine-HP notices about the toners.
    let s = &r.snapshot.status;
    assert_eq!(expected["status"]["device_status"], "inpowersave");
    assert_eq!((s.printer, s.device), (PrinterState::IDLE, DeviceState::RUNNING));
    let a = &r.snapshot.alerts;
    assert_eq!(a.len(), 4);
    assert!(a.iter().all(|a| a.vendor_code.as_deref() == Some("genuineHP") && a.group == AlertGroup::MARKER_SUPPLIES));
    assert_eq!(a[0].description.as_deref(), Some("genuineHP (Yellow)"));
    assert_eq!(a[0].group_index, Some(1));
}

#[test]
fn missing_documents_leave_their_part_empty() {
    let r = map_report(&Documents { product_usage: doc("ProductUsageDyn.xml"), ..Documents::default() });
    assert_eq!(r.validate(), Ok(()));
    assert!(r.identity.model.is_none());
    assert_eq!(r.snapshot.meters.get(&MeterKind::TOTAL), Some(1344));
    // Without ConsumableConfigDyn the consumables come from ProductUsageDyn (issue 15): the same
    // four toners, by station, with their raw levels and the impressions made with each.
    let c = &r.snapshot.consumables;
    let got: Vec<_> = c.iter().map(|c| (c.record_id.0, c.colour.clone(), c.level, c.page_count)).collect();
    assert_eq!(
        got,
        [
            (1, Some(Colour::Black), Level::Amount(21), Some(PageCount(2220))),
            (4, Some(Colour::Cyan), Level::Amount(31), Some(PageCount(1552))),
            (3, Some(Colour::Magenta), Level::Amount(50), Some(PageCount(1376))),
            (2, Some(Colour::Yellow), Level::Amount(39), Some(PageCount(1552))),
        ]
    );
    assert!(c.iter().all(|c| c.kind == SupplyType::TONER_CARTRIDGE));
}

#[test]
fn hostile_documents_are_refused() {
    let dtd = br#"<!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><x>&a;</x>"#;
    assert!(matches!(Element::parse(dtd), Err(LedmError::Malformed(_))));
    let deep = format!("{}{}", "<a>".repeat(MAX_LEDM_DEPTH + 2), "</a>".repeat(MAX_LEDM_DEPTH + 2));
    assert!(matches!(Element::parse(deep.as_bytes()), Err(LedmError::Limit(_))));
    for bad in [&b"<a><b></a>"[..], b"<a>", b"", b"<a/><b/>", b"\xff<a/>", b"<a>&unknown;</a>"] {
        assert!(Element::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    // Predefined entities and character references are text.
    let e = Element::parse(b"<a><b>AT&amp;T &#x41;</b></a>").unwrap();
    assert_eq!(e.text_at(&["b"]).as_deref(), Some("AT&T A"));
}

proptest! {
    #[test]
    fn any_document_maps_to_a_valid_report(
        levels in prop::collection::vec((any::<i64>(), "[A-Z]{0,3}", "[a-zA-Z]{0,8}"), 0..6),
        total in any::<i64>(),
    ) {
        let infos: String = levels
            .iter()
            .map(|(l, label, kind)| format!(
                "<ConsumableInfo><ConsumableStation>1</ConsumableStation><ConsumableLabelCode>{label}</ConsumableLabelCode>\
                 <ConsumableTypeEnum>{kind}</ConsumableTypeEnum><ConsumablePercentageLevelRemaining>{l}</ConsumablePercentageLevelRemaining></ConsumableInfo>"))
            .collect();
        let config = Element::parse(format!("<ConsumableConfigDyn>{infos}</ConsumableConfigDyn>").as_bytes()).unwrap();
        let usage = Element::parse(format!("<ProductUsageDyn><PrinterSubunit><TotalImpressions>{total}</TotalImpressions></PrinterSubunit></ProductUsageDyn>").as_bytes()).unwrap();
        let r = map_report(&Documents { consumable_config: Some(config), product_usage: Some(usage), ..Documents::default() });
        prop_assert_eq!(r.validate(), Ok(()));
        prop_assert!(r.snapshot.consumables.len() <= 1, "one station, one record");
    }

    #[test]
    fn the_parser_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Element::parse(&bytes);
    }
}
