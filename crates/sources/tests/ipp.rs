//! The IPP mapping on the real Get-Printer-Attributes responses in testdata/third-party/python-ipp
//! (python-ipp `tests/fixtures/`, commit 037811c48fed7b0a8752be7fc44b4480c4704f42, MIT): the
//! expected values are read off the raw attributes. Plus the PWG string parsers' tolerances and
//! hostile input.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::path::PathBuf;

use printfleet_schema::codes::{
    AlertCode, AlertGroup, AlertSeverity, ConsumableStatus, DeviceState, EngineStatus, InputType, MediaSourceStatus,
    PrinterState, SupplyClass, SupplyType, SupplyUnit,
};
use printfleet_schema::{Capacity, Colour, DetectedErrors, DeviceReport, LengthUm, Level};
use printfleet_sources::ipp::{
    IppError, MAX_IPP_BYTES, MAX_IPP_COLLECTION_DEPTH, key_values, map_report, parse, parse_alert, parse_supply,
    snake_keyword,
};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/third-party/python-ipp").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn report(name: &str) -> DeviceReport {
    let r = map_report(&parse(&fixture(name)).unwrap());
    assert_eq!(r.validate(), Ok(()), "{name}: the mapped report must be valid");
    r
}

#[test]
fn hp_officejet_6830_printer_supply_strings() {
    let r = report("get-printer-attributes-hp6830.bin");
    let i = &r.identity;
    assert_eq!(i.make.as_deref(), Some("HP"));
    assert_eq!(i.model.as_deref(), Some("Officejet Pro 6830"));
    assert_eq!(i.product_name.as_deref(), Some("HP Officejet Pro 6830"));
    assert_eq!(i.serial_number.as_deref(), Some("TH55R620W0"));
    assert_eq!(i.description.as_deref(), Some("HP Officejet Pro 6830 [DECCCD]"));
    // printer-location is the empty string: absent.
    assert_eq!(i.location, None);

    // printer-supply: `type=inkCartridge;maxcapacity=100;level=20;class=supplyThatIsConsumed;
    // unit=percent;colorantname=magenta;`, then cyan, yellow, black; printer-supply-description
    // empty, and beside them the marker-* lists of the same four (names "magenta ink" ...,
    // marker-levels 20, marker-low-levels 20): the names describe them, and all four are low.
    let c = &r.snapshot.consumables;
    assert_eq!(c.len(), 4);
    for (supply, colour) in c.iter().zip([Colour::Magenta, Colour::Cyan, Colour::Yellow, Colour::Black]) {
        assert_eq!(supply.kind, SupplyType::INK_CARTRIDGE);
        assert_eq!(supply.class, SupplyClass::SUPPLY_THAT_IS_CONSUMED);
        assert_eq!(supply.unit, SupplyUnit::PERCENT);
        assert_eq!((supply.level, supply.capacity), (Level::Amount(20), Capacity::Amount(100)));
        assert_eq!(supply.colour, Some(colour.clone()));
        let name = format!("{} ink", colour.name());
        assert_eq!(supply.description.as_deref(), Some(name.as_str()), "marker-names, as the description is empty");
        assert_eq!(supply.status, ConsumableStatus::LOW, "marker-levels 20 at marker-low-levels 20");
    }

    // printer-state 3 (idle), printer-state-reasons marker-supply-low-warning.
    let s = &r.snapshot.status;
    assert_eq!((s.engine, s.printer, s.device), (EngineStatus::READY, PrinterState::IDLE, DeviceState::WARNING));
    assert_eq!(s.errors, DetectedErrors::LOW_TONER);

    // 27 printer-alert values with their descriptions, one of them malformed
    // (`code=unknown;severity=otherother`).
    let a = &r.snapshot.alerts;
    assert_eq!(a.len(), 27);
    assert_eq!((a[0].code, a[0].group, a[0].severity), (AlertCode::UNKNOWN, AlertGroup::OTHER, AlertSeverity::OTHER));
    assert_eq!(a[0].description.as_deref(), Some("nonHPSupplyDetected"));
    assert_eq!((a[1].code, a[1].group), (AlertCode::PRINTER_READY_TO_PRINT, AlertGroup::GENERAL_PRINTER));
    assert_eq!(a[1].description.as_deref(), Some("ready"));
    let malformed = a.iter().find(|x| x.group == AlertGroup::default() && x.code == AlertCode::UNKNOWN).unwrap();
    assert_eq!(malformed.severity, AlertSeverity::default(), "severity=otherother is no severity");

    // printer-input-tray `type=sheetFeedAutoNonRemovable;...;name=InputTray1` (no "Tray" suffix).
    let m = &r.snapshot.media_sources;
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].kind, m[0].name.as_deref()), (InputType::SHEET_FEED_AUTO_NON_REMOVABLE_TRAY, Some("InputTray1")));
    assert_eq!((m[0].width, m[0].height), (None, None), "mediafeed=-2 is unknown");
}

#[test]
fn epson_xp6000_cups_marker_attributes() {
    let r = report("get-printer-attributes-epsonxp6000.bin");
    let i = &r.identity;
    assert_eq!((i.make.as_deref(), i.model.as_deref()), (Some("Epson"), Some("XP-6000 Series")));
    assert_eq!(i.product_name.as_deref(), Some("EPSON XP-6000 Series"));
    assert_eq!(i.firmware_version.as_deref(), Some("20.44.NU25M7"));

    // No printer-supply: marker-names / -colors / -types (hyphenated) / -levels.
    let c = &r.snapshot.consumables;
    let want = [
        ("Photo Black ink", Colour::PhotoBlack, 27),
        ("Cyan ink", Colour::Cyan, 99),
        ("Magenta ink", Colour::Magenta, 83),
        ("Yellow ink", Colour::Yellow, 6),
        ("Black ink", Colour::Black, 64),
    ];
    assert_eq!(c.len(), want.len());
    for (supply, (name, colour, level)) in c.iter().zip(want) {
        assert_eq!(supply.description.as_deref(), Some(name));
        assert_eq!(supply.colour, Some(colour));
        assert_eq!(supply.kind, SupplyType::INK_CARTRIDGE);
        assert_eq!(
            (supply.unit, supply.level, supply.capacity),
            (SupplyUnit::PERCENT, Level::Amount(level), Capacity::Amount(100))
        );
    }

    // One alert: `code=other` with "feed roller needed soon".
    let a = &r.snapshot.alerts;
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].code, a[0].description.as_deref()), (AlertCode::OTHER, Some("feed roller needed soon")));

    // Trays with sizes in micrometres (letter: 215900 x 279400).
    let m = &r.snapshot.media_sources;
    assert_eq!(m.len(), 4);
    assert_eq!((m[0].kind, m[0].name.as_deref()), (InputType::OTHER, Some("Sheet feeder bin 1")));
    assert_eq!((m[0].width, m[0].height), (Some(LengthUm(215_900)), Some(LengthUm(279_400))));
    assert_eq!(r.snapshot.status.errors, DetectedErrors::LOW_TONER);
}

#[test]
fn pwg_strings_are_read_tolerantly() {
    // The final `;` is optional, empty and key-less segments are skipped, keys fold case.
    assert_eq!(key_values("a=1;;junk;B=2"), vec![("a".to_owned(), "1"), ("b".to_owned(), "2")]);
    // Keywords in camelCase, hyphenated or snake_case form.
    for form in ["tonerCartridge", "toner-cartridge", "toner_cartridge", "TonerCartridge"] {
        assert_eq!(snake_keyword(form), "toner_cartridge", "{form}");
        assert_eq!(parse_supply(&format!("type={form}")).kind, Some(SupplyType::TONER_CARTRIDGE));
    }
    // Special levels, a receptacle, a number where a keyword belongs, unknown keys.
    let s = parse_supply("type=wasteToner;class=receptacleThatIsFilled;level=-3;maxcapacity=-2;unit=19;x=y");
    assert_eq!(s.kind, Some(SupplyType::WASTE_TONER));
    assert_eq!(s.class, Some(SupplyClass::RECEPTACLE_THAT_IS_FILLED));
    assert_eq!(
        (s.level, s.capacity, s.unit),
        (Some(Level::SomeRemaining), Some(Capacity::Unknown), Some(SupplyUnit::PERCENT))
    );
    // An alert code outside the MIB is kept as the vendor code of an `other` alert.
    let a = parse_alert("code=inkSystemReady;severity=warning;group=marker;groupindex=2;location=7");
    assert_eq!((a.code, a.vendor_code.as_deref()), (AlertCode::OTHER, Some("inkSystemReady")));
    assert_eq!(
        (a.severity, a.group, a.group_index, a.location),
        (AlertSeverity::WARNING, AlertGroup::MARKER, Some(2), Some(7))
    );
    let a = parse_alert("code=inputMediaSupplyEmpty;severity=critical");
    assert_eq!((a.code, a.severity), (AlertCode::INPUT_MEDIA_SUPPLY_EMPTY, AlertSeverity::CRITICAL));
}

/// A minimal response: header, the given printer attributes, end.
fn response(attributes: &[(u8, &str, &[u8])]) -> Vec<u8> {
    let mut out = vec![2, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x04];
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

#[test]
fn state_reasons_meters_and_stopped_printers() {
    let bytes = response(&[
        (0x23, "printer-state", &5i32.to_be_bytes()),
        (0x44, "printer-state-reasons", b"media-jam-error"),
        (0x44, "", b"door-open"),
        (0x44, "", b"toner-empty-report"),
        (0x21, "printer-impressions-completed", &48_213i32.to_be_bytes()),
    ]);
    let r = map_report(&parse(&bytes).unwrap());
    assert_eq!(r.validate(), Ok(()));
    let s = &r.snapshot.status;
    assert_eq!(s.device, DeviceState::DOWN);
    assert_eq!(s.errors, DetectedErrors::JAMMED.union(DetectedErrors::DOOR_OPEN).union(DetectedErrors::NO_TONER));
    assert_eq!(r.snapshot.meters.get(&printfleet_schema::MeterKind::TOTAL), Some(48_213));
}

/// A Xerox B210 stopped with its toner empty, its attributes as gmuth/ipp-client-kotlin (MIT)
/// decoded them from the printer's response (`printers/Xerox_B210_Printer/
/// printer-stopped-toner-empty.res.txt`): single-valued marker-*, the cartridge's serial in its
/// name, an alert whose `groupindex` is -1, and a tray whose `dimunit` is the number 3; idle
/// (`001-Get-Printer-Attributes.res.txt`), "none" for its alerts. Only the attributes the
/// mapping reads, as decoded, but for the alert's description, cut after its first sentence.
#[test]
fn a_xerox_b210_stopped_with_its_toner_empty() {
    let bytes = response(&[
        (0x41, "printer-make-and-model", b"Xerox B210 Printer"),
        (0x23, "printer-state", &5i32.to_be_bytes()),
        (0x44, "printer-state-reasons", b"toner-empty-error"),
        (0x42, "marker-colors", b"#000000"),
        (0x21, "marker-high-levels", &100i32.to_be_bytes()),
        (0x21, "marker-levels", &0i32.to_be_bytes()),
        (0x21, "marker-low-levels", &5i32.to_be_bytes()),
        (0x42, "marker-names", b"Black Toner_S/N_:CRUM-211009A6200"),
        (0x44, "marker-types", b"toner"),
        (
            0x30,
            "printer-alert",
            b"code=markerTonerEmpty;index=1;severity=critical;group=markerSupplies;groupindex=-1;location=9200;training=trained;time=188491075",
        ),
        (0x41, "printer-alert-description", b"09-200 The Toner Cartridge is empty."),
        (
            0x30,
            "printer-input-tray",
            b"type=sheetFeedAutoNonRemovableTray;mediafeed=116900;mediaxfeed=82700;maxcapacity=250;level=250;status=0;name=Tray 1;index=1;dimunit=3;unit=8;medianame=A4;mediaweight=-2;mediatype=Plain;mediacolor=white;",
        ),
    ]);
    let r = map_report(&parse(&bytes).unwrap());
    assert_eq!(r.validate(), Ok(()));
    assert_eq!(r.identity.make.as_deref(), Some("Xerox"));
    assert_eq!((r.snapshot.status.device, r.snapshot.status.errors), (DeviceState::DOWN, DetectedErrors::NO_TONER));
    let c = &r.snapshot.consumables[0];
    assert_eq!(
        (c.kind, c.colour.clone(), c.level, c.status),
        (SupplyType::TONER, Some(Colour::Black), Level::Amount(0), ConsumableStatus::EXHAUSTED)
    );
    assert_eq!((c.description.as_deref(), c.serial_number.as_deref()), (Some("Black Toner"), Some("CRUM-211009A6200")));
    let a = &r.snapshot.alerts[0];
    assert_eq!(
        (a.code, a.severity, a.group, a.group_index, a.location),
        (AlertCode::MARKER_TONER_EMPTY, AlertSeverity::CRITICAL, AlertGroup::MARKER_SUPPLIES, None, Some(9200))
    );
    assert_eq!(a.description.as_deref(), Some("09-200 The Toner Cartridge is empty."));
    // Idle, the same printer says "none" where its alerts would be: no alert.
    let bytes = response(&[
        (0x30, "printer-alert", b"none"),
        (0x41, "printer-alert-description", b"none"),
        (0x42, "marker-names", b"Black Toner_S/N_:CRUM-230512A4EFE"),
        (0x21, "marker-levels", &62i32.to_be_bytes()),
    ]);
    let idle = map_report(&parse(&bytes).unwrap());
    assert_eq!(idle.validate(), Ok(()));
    assert!(idle.snapshot.alerts.is_empty(), "{:?}", idle.snapshot.alerts);
    assert_eq!(idle.snapshot.consumables[0].serial_number.as_deref(), Some("CRUM-230512A4EFE"));
    // 116,900 and 82,700 ten-thousandths of an inch: A4 (296.9 x 210.1 mm).
    let tray = &r.snapshot.media_sources[0];
    assert_eq!((tray.width, tray.height), (Some(LengthUm(210_058)), Some(LengthUm(296_926))));
}

/// CUPS' `marker-levels` of a waste receptacle is how full it is (`backend/snmp-supplies.c`
/// writes `100 - percent` of the MIB's space left), `marker-high-levels` its "almost full" mark:
/// a Canon G4080's maintenance cartridge (ipptool output) is 10 % full with the mark at 64.
#[test]
fn a_waste_receptacles_marker_level_is_how_full_it_is() {
    let waste = |level: i32| {
        let bytes = response(&[
            (0x42, "marker-names", b"MC"),
            (0x44, "marker-types", b"waste-ink"),
            (0x21, "marker-levels", &level.to_be_bytes()),
            (0x21, "marker-low-levels", &0i32.to_be_bytes()),
            (0x21, "marker-high-levels", &64i32.to_be_bytes()),
        ]);
        let r = map_report(&parse(&bytes).unwrap());
        assert_eq!(r.validate(), Ok(()));
        r.snapshot.consumables[0].clone()
    };
    let c = waste(10);
    assert_eq!((c.kind, c.class), (SupplyType::WASTE_INK, SupplyClass::RECEPTACLE_THAT_IS_FILLED));
    assert_eq!((c.level, c.capacity, c.status), (Level::Amount(90), Capacity::Amount(100), ConsumableStatus::OK));
    assert_eq!(c.percent_remaining(), Some(90), "space left");
    let c = waste(70);
    assert_eq!((c.level, c.status), (Level::Amount(30), ConsumableStatus::LOW));
    let c = waste(100);
    assert_eq!((c.level, c.status), (Level::Amount(0), ConsumableStatus::EXHAUSTED));
    assert_eq!(waste(-3).level, Level::SomeRemaining);
}

/// `printer-supply` and `marker-*` are merged only when they are seen to be parallel: lists of
/// the same length in different orders (the colours disagree) give no marker name or status to
/// the wrong cartridge.
#[test]
fn marker_lists_in_another_order_are_not_merged() {
    let bytes = response(&[
        (0x30, "printer-supply", b"type=tonerCartridge;maxcapacity=100;level=90;unit=percent;colorantname=black;"),
        (0x30, "", b"type=tonerCartridge;maxcapacity=100;level=5;unit=percent;colorantname=cyan;"),
        (0x42, "marker-names", b"Cyan Toner"),
        (0x42, "", b"Black Toner"),
        (0x42, "marker-colors", b"#00FFFF"),
        (0x42, "", b"#000000"),
        (0x21, "marker-levels", &5i32.to_be_bytes()),
        (0x21, "", &90i32.to_be_bytes()),
        (0x21, "marker-low-levels", &10i32.to_be_bytes()),
        (0x21, "", &10i32.to_be_bytes()),
    ]);
    let r = map_report(&parse(&bytes).unwrap());
    let got: Vec<_> =
        r.snapshot.consumables.iter().map(|c| (c.colour.clone(), c.description.clone(), c.status)).collect();
    assert_eq!(
        got,
        [(Some(Colour::Black), None, ConsumableStatus::UNKNOWN), (Some(Colour::Cyan), None, ConsumableStatus::UNKNOWN)]
    );
}

/// Identity without a serial or make in the device id: `printer-serial-number`, and a known make
/// `printer-make-and-model` starts with (never any first word); PWG's `multi-color` colorant and
/// CUPS' three-colour `marker-colors` are the tri-colour.
#[test]
fn serial_make_and_tri_colour_without_the_device_id() {
    let bytes = response(&[
        (0x41, "printer-make-and-model", b"Brother HL-L8260CDW series"),
        (0x41, "printer-serial-number", b"U64641E7J134163"),
        (0x30, "printer-supply", b"type=inkCartridge;maxcapacity=100;level=40;colorantname=multi-color;"),
    ]);
    let r = map_report(&parse(&bytes).unwrap());
    assert_eq!(r.identity.make.as_deref(), Some("Brother"));
    assert_eq!(r.identity.serial_number.as_deref(), Some("U64641E7J134163"));
    assert_eq!(r.snapshot.consumables[0].colour, Some(Colour::TriColour));
    let bytes = response(&[
        (0x41, "printer-make-and-model", b"Color LaserJet Pro M255dw"),
        (0x41, "printer-serial-number", b"0000000000"),
        (0x42, "marker-names", b"Colour cartridge"),
        (0x42, "marker-colors", b"#00FFFF#FF00FF#FFFF00"),
        (0x21, "marker-levels", &40i32.to_be_bytes()),
    ]);
    let r = map_report(&parse(&bytes).unwrap());
    assert_eq!(r.identity.make, None, "Color is no make");
    assert_eq!(r.identity.serial_number, None, "a placeholder is no serial");
    assert_eq!(r.snapshot.consumables[0].colour, Some(Colour::TriColour));
}

#[test]
fn hostile_responses_are_refused() {
    // Too large, truncated, no end tag, no printer group, collections nested too deep.
    assert!(matches!(parse(&vec![0; MAX_IPP_BYTES + 1]), Err(IppError::TooLarge { .. })));
    let good = fixture("get-printer-attributes-epsonxp6000.bin");
    assert!(parse(&good[..good.len() / 2]).is_err());
    assert!(matches!(parse(&[2, 0, 0, 0, 0, 0, 0, 1, 0x01]), Err(IppError::Malformed(_))));
    assert!(matches!(parse(&[2, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x03]), Err(IppError::NoPrinterAttributes)));
    let mut deep = vec![(0x34u8, "printer-x", &b""[..])];
    deep.extend(std::iter::repeat_n((0x34u8, "", &b""[..]), MAX_IPP_COLLECTION_DEPTH));
    assert!(matches!(parse(&response(&deep)), Err(IppError::TooDeep { .. })));
    // Duplicate supply indexes and levels above capacity still map to a valid report.
    let bytes = response(&[
        (0x30, "printer-supply", b"index=1;level=500;maxcapacity=100;type=toner"),
        (0x30, "", b"index=1;level=5;maxcapacity=100"),
    ]);
    let r = map_report(&parse(&bytes).unwrap());
    assert_eq!(r.validate(), Ok(()));
    assert_eq!(r.snapshot.consumables.len(), 1);
    assert_eq!(r.snapshot.consumables[0].capacity, Capacity::Unknown);
}

proptest! {
    #[test]
    fn pwg_parsers_take_any_text(text in ".{0,300}") {
        let _ = parse_supply(&text);
        let _ = parse_alert(&text);
        prop_assert!(key_values(&text).len() <= printfleet_sources::ipp::MAX_KEY_VALUES);
    }

    #[test]
    fn any_attribute_values_map_to_a_valid_report(values in prop::collection::vec(".{0,120}", 0..12)) {
        let names = ["printer-supply", "printer-alert", "marker-names", "marker-types", "printer-input-tray", "printer-device-id"];
        let attrs: Vec<(u8, &str, &[u8])> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (0x30, names[i % names.len()], v.as_bytes()))
            .collect();
        if let Ok(a) = parse(&response(&attrs)) {
            prop_assert_eq!(map_report(&a).validate(), Ok(()));
        }
    }
}

/// Found by the ipp_parse fuzz target: the `ipp` crate panics on a textWithLanguage value whose
/// inner lengths overrun it; `parse` must refuse it instead.
#[test]
fn a_text_with_language_whose_lengths_do_not_fill_it_is_unreadable() {
    // The `ipp` crate slices the two strings without checking and panics on a short one: such a
    // value never reaches it, and costs only itself.
    for value in [&[0u8, 2, b'e', b'n', 0, 9, b'x'][..], &[0, 9], &[0, 2, b'e', b'n', 0, 1, b'x', b'y'], &[]] {
        let bytes = response(&[(0x23, "printer-state", &3i32.to_be_bytes()), (0x35, "printer-info", value)]);
        let m = printfleet_sources::ipp::map(&parse(&bytes).unwrap());
        assert_eq!(m.report.snapshot.status.printer, PrinterState::IDLE, "{value:?}");
        assert_eq!(unreadable(&m), ["printer-info (syntax 0x35)"], "{value:?}");
    }
    let good = response(&[(0x35, "printer-info", &[0, 2, b'e', b'n', 0, 2, b'h', b'i'])]);
    assert_eq!(parse(&good).unwrap().text("printer-info").as_deref(), Some("hi"));
}

/// The findings naming unreadable values.
fn unreadable(m: &printfleet_sources::Mapped) -> Vec<&str> {
    m.findings
        .iter()
        .filter_map(|f| match f {
            printfleet_sources::Finding::UnmappedValue { field: "IPP value", text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// A begin or end of collection with a value (RFC 8010: none) loses the value, not the response;
/// an unreadable member of a collection is named in a finding.
#[test]
fn collections_keep_their_members_readable() {
    let bytes = response(&[
        (0x23, "printer-state", &3i32.to_be_bytes()),
        (0x34, "printer-impressions-completed-col", b"v"),
        (0x4a, "", b"monochrome"),
        (0x21, "", &[0, 7]),
        (0x4a, "", b"full-color"),
        (0x21, "", &5i32.to_be_bytes()),
        (0x37, "", b"x"),
    ]);
    let a = parse(&bytes).unwrap();
    let m = printfleet_sources::ipp::map(&a);
    assert_eq!(m.report.snapshot.status.printer, PrinterState::IDLE);
    assert_eq!(unreadable(&m), ["printer-impressions-completed-col/monochrome (syntax 0x21)"]);
}

/// A value the `ipp` crate would refuse the whole response over (a tag beyond `0x4a` such as
/// RFC 8010's extension tag, a short integer, a string over its syntax's limit, Latin-1 in a
/// text with language) costs only that value, with a finding naming the attribute: the state,
/// supplies and counters are still read.
#[test]
fn an_unreadable_value_costs_only_itself() {
    let long_name = vec![b'x'; 300];
    let bytes = response(&[
        (0x23, "printer-state", &4i32.to_be_bytes()),
        (0x7f, "x-vendor-extension", &[0, 0, 0, 0x80, 1]),
        (0x21, "printer-up-time", &[0, 1]),
        (0x42, "printer-name", &long_name),
        (0x35, "printer-info", &[0, 2, b'f', b'r', 0, 3, b'\xe9', b't', b'e']),
        (0x21, "printer-impressions-completed", &1234i32.to_be_bytes()),
    ]);
    let m = printfleet_sources::ipp::map(&parse(&bytes).unwrap());
    assert_eq!(m.report.validate(), Ok(()));
    assert_eq!(m.report.snapshot.status.printer, PrinterState::PRINTING);
    assert_eq!(m.report.snapshot.meters.get(&printfleet_schema::MeterKind::TOTAL), Some(1234));
    assert_eq!(
        unreadable(&m),
        [
            "printer-info (syntax 0x35)",
            "printer-name (syntax 0x42)",
            "printer-up-time (syntax 0x21)",
            "x-vendor-extension (syntax 0x7f)"
        ]
    );
}

/// The same Xerox B210 stopped with a paper jam (`printer-stopped-media-jam.res.txt`, same
/// project): a jam alert of the media path, and three `printer-input-tray` values: a full tray
/// (250 of 250: loaded), the manual slot whose level is unknown (-2), a third tray. Only the
/// attributes the mapping reads, as decoded, but for the alert's description, cut after its
/// first sentence.
#[test]
fn a_xerox_b210_stopped_with_a_paper_jam() {
    let tray = |rest: &str| {
        format!(
            "mediafeed=116900;mediaxfeed=82700;{rest};dimunit=3;unit=8;medianame=A4;mediaweight=-2;mediatype=Plain;mediacolor=white;"
        )
    };
    let trays = [
        tray("type=sheetFeedAutoNonRemovableTray;maxcapacity=250;level=250;status=0;name=Tray 1;index=1"),
        tray("type=sheetFeedManual;maxcapacity=1;level=-2;status=11;name=Manual Feed Slot;index=2"),
        tray("type=other;maxcapacity=250;level=250;status=0;name=Tray 1;index=3"),
    ];
    let bytes = response(&[
        (0x41, "printer-make-and-model", b"Xerox B210 Printer"),
        (0x23, "printer-state", &5i32.to_be_bytes()),
        (0x44, "printer-state-reasons", b"media-jam-error"),
        (0x42, "marker-names", b"Black Toner_S/N_:CRUM-211009A6200"),
        (0x44, "marker-types", b"toner"),
        (0x21, "marker-levels", &76i32.to_be_bytes()),
        (0x21, "marker-low-levels", &5i32.to_be_bytes()),
        (0x21, "marker-high-levels", &100i32.to_be_bytes()),
        (
            0x30,
            "printer-alert",
            b"code=jam;index=1;severity=critical;group=mediaPath;groupindex=2;location=8600;training=trained;time=126508",
        ),
        (0x41, "printer-alert-description", b"08-600 A paper jam was detected within the Duplex area of the machine."),
        (0x30, "printer-input-tray", trays[0].as_bytes()),
        (0x30, "", trays[1].as_bytes()),
        (0x30, "", trays[2].as_bytes()),
    ]);
    let r = map_report(&parse(&bytes).unwrap());
    assert_eq!(r.validate(), Ok(()));
    assert_eq!((r.snapshot.status.device, r.snapshot.status.errors), (DeviceState::DOWN, DetectedErrors::JAMMED));
    let a = &r.snapshot.alerts[0];
    assert_eq!(
        (a.code, a.severity, a.group, a.group_index, a.location),
        (AlertCode::JAM, AlertSeverity::CRITICAL, AlertGroup::MEDIA_PATH, Some(2), Some(8600))
    );
    assert_eq!(r.snapshot.consumables[0].status, ConsumableStatus::OK);
    let trays: Vec<_> = r.snapshot.media_sources.iter().map(|m| (m.kind, m.name.as_deref(), m.status)).collect();
    assert_eq!(
        trays,
        [
            (InputType::SHEET_FEED_AUTO_NON_REMOVABLE_TRAY, Some("Tray 1"), MediaSourceStatus::LOADED),
            (InputType::SHEET_FEED_MANUAL, Some("Manual Feed Slot"), MediaSourceStatus::UNKNOWN),
            (InputType::OTHER, Some("Tray 1"), MediaSourceStatus::LOADED),
        ]
    );
    // The same rule as the Printer-MIB's: empty, a tenth or less, "at least one".
    let status = |level: &str| {
        let value = format!("type=sheetFeedManual;maxcapacity=250;level={level};name=T");
        let bytes = response(&[(0x30, "printer-input-tray", value.as_bytes())]);
        map_report(&parse(&bytes).unwrap()).snapshot.media_sources[0].status
    };
    assert_eq!(
        ["0", "25", "26", "-3", "-2", "x"].map(status),
        [
            MediaSourceStatus::UNLOADED,
            MediaSourceStatus::LOW,
            MediaSourceStatus::LOADED,
            MediaSourceStatus::LOADED,
            MediaSourceStatus::UNKNOWN,
            MediaSourceStatus::UNKNOWN
        ]
    );
}

/// A CUPS queue of an HP LaserJet 100 color MFP M175 (gmuth/ipp-client-kotlin, MIT,
/// `printers/CUPS_HP_LaserJet_100_color_MFP_M175/Get-Printer-Attributes.txt`): five markers,
/// the fifth an imaging drum ("imagingdrumhpcea", type `opc`), every level 5 of 100 with the low
/// mark at 20, and CUPS' own `cups-*` state reasons beside the printer's `toner-low-warning`.
/// The CUPS reasons are no device condition; the toner is low.
#[test]
fn a_cups_queue_of_an_hp_m175_with_its_imaging_drum() {
    let five = |tag: u8, name: &'static str, values: [&'static [u8]; 5]| {
        values.into_iter().enumerate().map(move |(i, v)| (tag, if i == 0 { name } else { "" }, v))
    };
    const FIVE: &[u8] = &5i32.to_be_bytes();
    const TWENTY: &[u8] = &20i32.to_be_bytes();
    const HUNDRED: &[u8] = &100i32.to_be_bytes();
    let mut attributes: Vec<(u8, &str, &[u8])> = vec![
        (0x23, "printer-state", &[0, 0, 0, 3]),
        (0x44, "printer-state-reasons", b"cups-ipp-missing-send-document"),
        (0x44, "", b"toner-low-warning"),
        (0x44, "", b"cups-ipp-conformance-failure-report"),
        (0x41, "printer-make-and-model", b"HP LaserJet 100 color MFP M175"),
    ];
    attributes.extend(five(0x42, "marker-colors", [b"#000000", b"#00ffff", b"#ff00ff", b"#ffff00", b"#000000"]));
    attributes.extend(five(0x21, "marker-levels", [FIVE; 5]));
    attributes.extend(five(0x21, "marker-low-levels", [TWENTY; 5]));
    attributes.extend(five(0x21, "marker-high-levels", [HUNDRED; 5]));
    attributes.extend(five(0x42, "marker-names", [b"black", b"cyan", b"magenta", b"yellow", b"imagingdrumhpcea"]));
    attributes.extend(five(0x44, "marker-types", [b"toner", b"toner", b"toner", b"toner", b"opc"]));
    let r = map_report(&parse(&response(&attributes)).unwrap());
    assert_eq!(r.validate(), Ok(()));
    assert_eq!(
        (r.identity.make.as_deref(), r.identity.model.as_deref()),
        (Some("HP"), Some("HP LaserJet 100 color MFP M175"))
    );
    let s = &r.snapshot.status;
    assert_eq!((s.device, s.printer, s.errors), (DeviceState::WARNING, PrinterState::IDLE, DetectedErrors::LOW_TONER));
    let c = &r.snapshot.consumables;
    let kinds: Vec<_> = c.iter().map(|c| (c.kind, c.colour.clone())).collect();
    assert_eq!(
        kinds[..4],
        [
            (SupplyType::TONER, Some(Colour::Black)),
            (SupplyType::TONER, Some(Colour::Cyan)),
            (SupplyType::TONER, Some(Colour::Magenta)),
            (SupplyType::TONER, Some(Colour::Yellow)),
        ]
    );
    assert_eq!((c[4].kind, c[4].description.as_deref()), (SupplyType::OPC, Some("imagingdrumhpcea")));
    assert!(
        c.iter().all(
            |c| (c.level, c.capacity, c.status) == (Level::Amount(5), Capacity::Amount(100), ConsumableStatus::LOW)
        )
    );
}
