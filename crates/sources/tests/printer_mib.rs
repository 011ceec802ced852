//! The Printer-MIB mapping on every real capture in ../shared/fixtures/printer-mib (LibreNMS
//! `tests/snmpsim/`, commit 490710c6c9da3d4222e5649b082a63a1b91b072b, GPL-3.0 test data). The raw
//! MIB columns are the truth; the expected values below are read off the captures.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use printfleet_schema::codes::{DeviceState, SupplyClass, SupplyType, SupplyUnit};
use printfleet_schema::{Capacity, Colour, DeviceReport, Level, MeterKind};
use printfleet_sources::snmp::Bindings;
use printfleet_sources::snmp::printer_mib::{clean_text, colour_from_name, map_report, split_supply_name};

fn report(name: &str) -> DeviceReport {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/printer-mib")
        .join(format!("{name}.snmprec"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let r = map_report(&Bindings::from_snmprec(&text).unwrap());
    assert_eq!(r.validate(), Ok(()), "{name}: the mapped report must be valid");
    r
}

#[test]
fn brother_toner_with_unknown_maximum_and_some_remaining() {
    let r = report("brother");
    assert_eq!(r.identity.make.as_deref(), Some("Brother"));
    let c = &r.snapshot.consumables;
    assert_eq!(c.len(), 2);
    assert_eq!((c[0].kind, c[0].level, c[0].capacity), (SupplyType::TONER, Level::SomeRemaining, Capacity::Unknown));
    assert_eq!(c[0].description.as_deref(), Some("Black Toner Cartridge"));
    assert_eq!(c[0].percent_remaining(), None, "some remaining is not 50 %");
    assert_eq!(
        (c[1].kind, c[1].level, c[1].capacity),
        (SupplyType::OPC, Level::Amount(11501), Capacity::Amount(12000))
    );
    assert_eq!(c[1].percent_remaining(), Some(95));
}

#[test]
fn epson_inks_with_part_number_tails_and_a_hex_mac() {
    let r = report("epson");
    assert_eq!(r.identity.make.as_deref(), Some("Epson"));
    assert_eq!(r.identity.mac_address.map(|m| m.to_string()).as_deref(), Some("9c:ae:d3:aa:d6:c5"));
    let c = &r.snapshot.consumables;
    assert_eq!(c.len(), 4);
    assert!(c.iter().all(|s| s.kind == SupplyType::INK && s.capacity == Capacity::Amount(100)));
    let parts: Vec<_> = c.iter().map(|s| s.part_number.as_deref().unwrap()).collect();
    assert_eq!(parts, ["T9441", "T9442", "T9443", "T9444"]);
}

#[test]
fn hp_cartridges_model_and_status() {
    let r = report("jetdirect_m252dw");
    assert_eq!(r.identity.make.as_deref(), Some("HP"));
    assert_eq!(r.identity.model.as_deref(), Some("HP Color LaserJet Pro M252dw"));
    assert_eq!(r.snapshot.status.device, DeviceState::RUNNING);
    assert!(r.snapshot.status.errors.is_empty());
    let c = &r.snapshot.consumables;
    assert_eq!(c.len(), 4);
    let parts: Vec<_> = c.iter().map(|s| s.part_number.as_deref().unwrap()).collect();
    assert_eq!(parts, ["CF400X", "CF401X", "CF403X", "CF402X"]);
    assert!(c.iter().all(|s| s.class == SupplyClass::SUPPLY_THAT_IS_CONSUMED));
    let colours: Vec<_> = c.iter().map(|s| s.colour.clone()).collect();
    assert_eq!(colours, [Some(Colour::Black), Some(Colour::Cyan), Some(Colour::Magenta), Some(Colour::Yellow)]);
}

#[test]
fn xerox_part_and_serial_numbers_in_the_names() {
    let r = report("xerox");
    let c = &r.snapshot.consumables;
    assert_eq!(c.len(), 12);
    assert_eq!(c[0].description.as_deref(), Some("Black Toner"));
    assert_eq!(c[0].part_number.as_deref(), Some("006R01509"));
    assert_eq!(c[0].serial_number.as_deref(), Some("48178080E0000481"));
    let fuser = c.iter().find(|s| s.description.as_deref() == Some("Fuser")).unwrap();
    assert_eq!(
        (fuser.part_number.as_deref(), fuser.serial_number.as_deref()),
        (None, None),
        "\"unknown\" is no number"
    );
}

#[test]
fn every_capture_maps_to_a_valid_report() {
    for name in ["brother", "epson", "jetdirect_m252dw", "jetdirect_m880", "sharp", "xerox"] {
        let r = report(name);
        assert!(!r.snapshot.consumables.is_empty(), "{name}");
        assert!(r.identity.description.is_some(), "{name}: sysDescr");
        for c in &r.snapshot.consumables {
            assert_ne!(c.unit, SupplyUnit::from_code(0), "{name}");
            if let (Level::Amount(l), Capacity::Amount(m)) = (c.level, c.capacity) {
                assert!(l <= m, "{name}");
            }
        }
        let _ = r.snapshot.meters.get(&MeterKind::TOTAL);
    }
    let sharp = report("sharp");
    assert!(
        sharp.snapshot.consumables.iter().any(|c| c.class == SupplyClass::RECEPTACLE_THAT_IS_FILLED),
        "waste toner fills"
    );
}

#[test]
fn device_strings_are_cleaned() {
    assert_eq!(clean_text(b"Black\0garbage"), Some("Black".into()));
    assert_eq!(clean_text(b"  \x1b[1mBold\x07  "), Some("[1mBold".into()));
    assert_eq!(clean_text(b"Caf\xe9"), Some("Caf\u{e9}".into()), "Latin-1");
    assert_eq!(clean_text(b"\0\0"), None);
    assert_eq!(clean_text(b"line one\nline two"), Some("line one\nline two".into()));
    assert_eq!(split_supply_name("Drum Unit"), ("Drum Unit".into(), None, None));
    assert_eq!(colour_from_name("Light Cyan Ink"), Some(Colour::LightCyan));
    assert_eq!(colour_from_name("Black Toner Cartridge"), Some(Colour::Black));
    assert_eq!(colour_from_name("Drum Unit"), None);
}
