//! The Printer-MIB mapping on every real capture in testdata/third-party (the `captures` module:
//! LibreNMS' and printmaster's, commits in each folder's PROVENANCE.txt), and on walks written for
//! a rule. The raw MIB columns are the truth; the expected values below are read off the captures.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod captures;

use printfleet_schema::codes::{
    AccessoryStatus, AlertCode, ConsumableStatus, DeviceState, EngineStatus, InputType, SupplyClass, SupplyType,
    SupplyUnit,
};
use printfleet_schema::{Capacity, Colour, DeviceReport, Level, MeterKind};
use printfleet_sources::Finding;
use printfleet_sources::snmp::Bindings;
use printfleet_sources::snmp::printer_mib::{clean_text, colour_from_name, map_report, map_snmprec, split_supply_name};

/// What LibreNMS discovered from a capture (`<name>.librenms.json` beside it), if it is there.
fn librenms(name: &str) -> Option<serde_json::Value> {
    let bytes = std::fs::read(captures::file(name, ".librenms.json")).ok()?;
    Some(serde_json::from_slice(&bytes).unwrap())
}

fn report(name: &str) -> DeviceReport {
    let path = captures::file(name, ".snmprec");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Read as a stored capture is: tolerantly (one capture repeats two lines upstream).
    let r = map_snmprec(&bytes).unwrap_or_else(|e| panic!("{name}: {e}")).report;
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
    for name in &captures::names() {
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
    // Epson's code, the first of several, letters among its digits or not; not a word that
    // merely starts with T.
    let epson = |name: &str, code: &str| (name.to_owned(), Some(code.to_owned()), None);
    assert_eq!(
        split_supply_name("Black Ink Supply Unit T9441/T9451"),
        epson("Black Ink Supply Unit T9441/T9451", "T9441")
    );
    assert_eq!(split_supply_name("Black Ink Cartridge T08M1"), epson("Black Ink Cartridge T08M1", "T08M1"));
    assert_eq!(split_supply_name("Maintenance Box T6716000"), epson("Maintenance Box T6716000", "T6716000"));
    for name in ["Toner TONER", "Drum T12", "Waste Tank T1XYZ", "Black Toner TN421BK", "Toner TEST123"] {
        assert_eq!(split_supply_name(name), (name.to_owned(), None, None), "{name}");
    }
    // Samsung's cartridge serial (its CRUM chip's), and as a Xerox B210 writes it in IPP.
    let crum = |d: &str, s: &str| (d.to_owned(), None, Some(s.to_owned()));
    assert_eq!(split_supply_name("Black Toner S/N:CRUM-12345678901"), crum("Black Toner", "CRUM-12345678901"));
    assert_eq!(split_supply_name("Black Toner_S/N_:CRUM-211009A6200"), crum("Black Toner", "CRUM-211009A6200"));
    // The first word after the colon; a chip that could not be read gives no serial, and its
    // tail goes all the same (the description must not change with the read).
    assert_eq!(split_supply_name("Black Toner S/N:CRUM-1234 Genuine"), crum("Black Toner", "CRUM-1234"));
    for name in ["Toner S/N:unknown", "Toner S/N: ", "Toner S/N:CRUM-00000000000"] {
        assert_eq!(split_supply_name(name), ("Toner".to_owned(), None, None), "{name}");
    }
    // Not the pattern: no colon, or "S/N" inside a word.
    for name in ["Toner S/N CRUM-1234", "TonerS/N:CRUM-1234"] {
        assert_eq!(split_supply_name(name), (name.to_owned(), None, None), "{name}");
    }
    assert_eq!(colour_from_name("Light Cyan Ink"), Some(Colour::LightCyan));
    assert_eq!(colour_from_name("Black Toner Cartridge"), Some(Colour::Black));
    assert_eq!(colour_from_name("Drum Unit"), None);
    // Anywhere in the name, two-word colours first (LibreNMS' Konica and Canon TM-5300 names).
    assert_eq!(colour_from_name("Toner (Cyan)"), Some(Colour::Cyan));
    assert_eq!(colour_from_name("Drum Cartridge (Black)"), Some(Colour::Black));
    assert_eq!(colour_from_name("CANON Matte Black Ink Tank"), Some(Colour::MatteBlack));
    assert_eq!(colour_from_name("Photo-Black ink"), Some(Colour::PhotoBlack));
    assert_eq!(colour_from_name("Tri-color Cartridge"), Some(Colour::TriColour));
    assert_eq!(colour_from_name("K Toner"), Some(Colour::Black));
    // A model letter is not a colour; two colours, or "colour" beside one, name none.
    assert_eq!(colour_from_name("Toner Type C"), None);
    assert_eq!(colour_from_name("Cyan/Magenta Cartridge"), None);
    assert_eq!(colour_from_name("Black and Color Imaging Kit"), None);
    assert_eq!(colour_from_name("Black Toner (Black)"), Some(Colour::Black));
    assert_eq!(colour_from_name("Waste Toner Box"), None);
    // A hyphenated word is one word (folded as a colour name is); a shade word before a colour
    // that is no two-word colour makes the name name none (Epson's Light Black is not black).
    assert_eq!(colour_from_name("Maintenance Kit MK-1150"), None);
    assert_eq!(colour_from_name("MK-1150"), None);
    assert_eq!(colour_from_name("C-EXV 49 Drum Unit"), None);
    assert_eq!(colour_from_name("Light Black Ink"), None);
    assert_eq!(colour_from_name("Light Light Black"), None);
    assert_eq!(colour_from_name("Photo Gray"), None);
    assert_eq!(colour_from_name("Light Gray Ink"), Some(Colour::LightGrey));
    assert_eq!(colour_from_name("HP 72 Photo Black"), Some(Colour::PhotoBlack));
    // Devices set to another language (a Ricoh in German: "Toner Schwarz", "Toner Gelb").
    assert_eq!(colour_from_name("Toner Schwarz"), Some(Colour::Black));
    assert_eq!(colour_from_name("Toner Gelb"), Some(Colour::Yellow));
    assert_eq!(colour_from_name("Cartouche d'encre noire"), Some(Colour::Black));
    assert_eq!(colour_from_name("Cartucho de tinta amarillo"), Some(Colour::Yellow));
    assert_eq!(colour_from_name("Toner Ciano"), Some(Colour::Cyan));
    assert_eq!(colour_from_name("Resttoner"), None);
    assert_eq!(colour_from_name("Toner Schwarz/Gelb"), None);
    assert_eq!(colour_from_name("Tinta amarilla"), Some(Colour::Yellow));
    assert_eq!(colour_from_name("Cartuccia gialla"), Some(Colour::Yellow));
    assert_eq!(colour_from_name("Schwarze Tinte"), Some(Colour::Black));
    assert_eq!(colour_from_name("Kit d'imagerie noir et couleur"), None);
    // A list of colours, one-letter ones too, names none.
    assert_eq!(colour_from_name("Y/M/C Drum Unit"), None);
    assert_eq!(colour_from_name("C/M/Y/K Developer"), None);
}

/// Every supply LibreNMS discovered (`*.librenms.json` beside a capture) is one of
/// ours, with the same MIB type, name and maximum, and where both state a percentage of a
/// supply that is consumed, the same one within rounding. Where LibreNMS applies its own policy
/// (level -3 "some remaining" shown as 50 %, receptacles not inverted, -2 maxima), the raw columns
/// decide and the comparison says so.
#[test]
fn every_capture_agrees_with_librenms_discovery() {
    let mut compared = 0;
    for name in &captures::names() {
        let r = report(name);
        let Some(json) = librenms(name) else { continue };
        let Some(theirs) = json["printer-supplies"]["discovery"]["printer_supplies"].as_array() else { continue };
        for t in theirs {
            let index = t["supply_index"].as_u64().unwrap();
            let descr = t["supply_descr"].as_str().unwrap();
            // LibreNMS lists input trays among supplies; they are our media sources.
            if t["supply_type"] == "input" {
                let tray = r
                    .snapshot
                    .media_sources
                    .iter()
                    .find(|m| m.record_id.0 & 0xffff_ffff == index)
                    .unwrap_or_else(|| panic!("{name}: LibreNMS tray {index} is not ours"));
                assert_eq!(tray.name.as_deref(), Some(descr), "{name} tray {index}");
                compared += 1;
                continue;
            }
            let ours = r
                .snapshot
                .consumables
                .iter()
                .find(|c| c.record_id.0 & 0xffff_ffff == index)
                .unwrap_or_else(|| panic!("{name}: LibreNMS supply {index} is not ours"));
            // "markerSupply" is LibreNMS' placeholder where the capture has no type column.
            if t["supply_type"] != "markerSupply" {
                let kind = printfleet_sources::ipp::snake_keyword(t["supply_type"].as_str().unwrap());
                assert_eq!(ours.kind.name(), Some(kind.as_str()), "{name} {index}: type");
            }
            let ours_descr = ours.description.as_deref().unwrap();
            // LibreNMS joins a hex-dump tail without the space (see `hex_dump_tails_are_undone`).
            let squeeze = |t: &str| t.split_whitespace().collect::<String>();
            assert!(squeeze(descr).starts_with(&squeeze(ours_descr)), "{name} {index}: {descr:?} vs {ours_descr:?}");
            if let Capacity::Amount(max) = ours.capacity {
                assert_eq!(t["supply_capacity"].as_u64(), Some(u64::from(max)), "{name} {index}: maximum");
            }
            let consumed = ours.class == SupplyClass::SUPPLY_THAT_IS_CONSUMED;
            if let (true, Some(percent), Some(current)) =
                (consumed, ours.percent_remaining(), t["supply_current"].as_u64())
            {
                assert!(
                    u64::from(percent).abs_diff(current) <= 1,
                    "{name} {index}: {percent} % vs LibreNMS {current} %"
                );
            }
            compared += 1;
        }
        // LibreNMS skips supplies; it never has one we lack.
        let supplies = theirs.iter().filter(|t| t["supply_type"] != "input").count();
        assert!(supplies <= r.snapshot.consumables.len(), "{name}");
    }
    assert!(compared >= 20, "only {compared} supplies compared");
}

/// Where LibreNMS made a count sensor of the first marker's `prtMarkerLifeCount` ("Life time
/// impressions" or "sheets"), ours is that count: the total where it counts impressions, read
/// there (Toshiba) or from the vendor's counters, which agree with it (Sharp: black and white
/// 91,164 + full colour 29,940); the sheets where it counts sheets (Canon TM-5300).
#[test]
fn totals_agree_with_librenms_life_time_counts() {
    let mut compared = 0;
    for name in &captures::names() {
        let Some(json) = librenms(name) else { continue };
        let Some(sensors) = json["sensors"]["discovery"]["sensors"].as_array() else { continue };
        for sensor in sensors {
            let life = sensor["sensor_oid"] == ".1.3.6.1.2.1.43.10.2.1.4.1.1" && sensor["sensor_class"] == "count";
            if life {
                let theirs = sensor["sensor_current"].as_u64();
                let meters = report(name).snapshot.meters;
                let ours = if name == "canonprinter_tm" { MeterKind::SHEETS } else { MeterKind::TOTAL };
                assert_eq!(meters.get(&ours), theirs, "{name}");
                compared += 1;
            }
        }
    }
    assert!(compared >= 3, "only {compared} compared");
}

/// LibreNMS' captures of a Konica Minolta bizhub C3110 and a Canon TM-5300 (large format): no
/// supply type or colorant column, so the colour comes from the name, wherever it stands in it.
#[test]
fn supply_colours_are_read_anywhere_in_the_name() {
    let colours = |name: &str| report(name).snapshot.consumables.iter().map(|c| c.colour.clone()).collect::<Vec<_>>();
    use Colour::{Black, Cyan, Magenta, MatteBlack, Yellow};
    let konica = colours("konica");
    assert_eq!(konica[..4], [Some(Cyan), Some(Magenta), Some(Yellow), Some(Black)], "toners");
    assert_eq!(konica[4..6], [Some(Cyan), Some(Cyan)], "the cyan drum and developer");
    assert_eq!(konica[12..], [None, None, None, None, None], "waste box, fuser, belt, roller, filter");
    let tm = colours("canonprinter_tm");
    assert_eq!(tm, [Some(MatteBlack), Some(Black), Some(Yellow), Some(Magenta), Some(Cyan), None]);
}

/// The serial number: `prtGeneralSerialNumber` in the printer's own row (its `hrDeviceIndex`
/// need not be 1), else in any row, else a vendor's object, else `S/N` in `sysDescr`; a blank
/// value is no serial.
#[test]
fn the_serial_number_comes_from_the_printers_row_then_the_vendors_objects() {
    let serial = |walk: &str| map_report(&Bindings::from_snmprec(walk).unwrap()).identity.serial_number;
    let printer_at_2 = "1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.1\n\
        1.3.6.1.2.1.25.3.2.1.2.2|6|1.3.6.1.2.1.25.3.1.5\n\
        1.3.6.1.2.1.25.3.2.1.3.2|4|Some Printer\n";
    let both = format!("{printer_at_2}1.3.6.1.2.1.43.5.1.1.17.1|4|NOT-IT\n1.3.6.1.2.1.43.5.1.1.17.2|4|CN12345678\n");
    assert_eq!(serial(&both).as_deref(), Some("CN12345678"));
    let only_1 = format!("{printer_at_2}1.3.6.1.2.1.43.5.1.1.17.1|4|CN12345678\n");
    assert_eq!(serial(&only_1).as_deref(), Some("CN12345678"), "another row, when the printer's has none");
    // A vendor's object, read for a device of that make (its sysObjectID) only; placeholders
    // and values with control characters are no serial, and the next source is read.
    let of = |enterprise: &str, lines: &str| format!("1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.{enterprise}\n{lines}");
    let hp = "1.3.6.1.4.1.11.2.3.9.4.2.1.1.3.3.0|4|VNB3J12345\n";
    assert_eq!(
        serial(&of("11.2.3.9.1", &format!("1.3.6.1.2.1.43.5.1.1.17.1|4|Unknown\n{hp}"))).as_deref(),
        Some("VNB3J12345")
    );
    assert_eq!(serial(&of("2435.2.3.9.1", hp)), None, "HP's object on a Brother");
    let brother = "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0|4|E12345A6N789012\n";
    assert_eq!(serial(&of("2435.2.3.9.1", brother)).as_deref(), Some("E12345A6N789012"));
    let kyocera = "1.3.6.1.4.1.1347.43.5.1.1.28.1|4|LV01234567\n";
    assert_eq!(serial(&of("1347.41", kyocera)).as_deref(), Some("LV01234567"));
    let ricoh = "1.3.6.1.4.1.367.3.2.1.2.1.4.0|4|W123P456789\n";
    assert_eq!(serial(&of("367.1.1", ricoh)).as_deref(), Some("W123P456789"));
    for placeholder in ["0000000000", "N/A", "none", "XXXXXXXX", "Not Available"] {
        assert_eq!(serial(&format!("1.3.6.1.2.1.43.5.1.1.17.1|4|{placeholder}\n")), None, "{placeholder}");
    }
    assert_eq!(serial("1.3.6.1.2.1.43.5.1.1.17.1|4x|41420a3132\n"), None, "a line feed inside");
    // Samsung agents write S/N in sysDescr; another agent's S/N is not the printer's.
    let samsung = "1.3.6.1.2.1.1.1.0|4|Samsung M332x 382x 402x Series; V3.00.01.22 Jan-21-2015;Engine V1.00.06;NIC V6.01.00;S/N ZDDEBJFG300123A\n";
    assert_eq!(serial(samsung).as_deref(), Some("ZDDEBJFG300123A"));
    assert_eq!(serial("1.3.6.1.2.1.1.1.0|4|Acme PrintServer 2.1; S/N PS0012345\n"), None);
    assert_eq!(serial("1.3.6.1.2.1.1.1.0|4|HP ETHERNET MULTI-ENVIRONMENT\n"), None);
    let device_id = "1.3.6.1.4.1.2699.1.2.1.2.1.1.3.1|4|MFG:Acme;MDL:Jet 9000;SN:AC0012345;\n";
    assert_eq!(serial(device_id).as_deref(), Some("AC0012345"), "the IEEE 1284 device id's SN");
    // Without an hrDeviceTable (LibreNMS captured none for some printers) the model is the
    // device id's MDL.
    assert_eq!(map_report(&Bindings::from_snmprec(device_id).unwrap()).identity.model.as_deref(), Some("Jet 9000"));
}

/// On every capture LibreNMS read a serial number from (`prtGeneralSerialNumber`, or Brother's
/// own object), ours is the same; LibreNMS' Brother capture also answers HP's serial object,
/// with binary data, which must not win.
#[test]
fn serial_numbers_agree_with_librenms() {
    let mut compared = 0;
    for name in &captures::names() {
        let Some(json) = librenms(name) else { continue };
        let Some(theirs) = json["os"]["discovery"]["devices"][0]["serial"].as_str() else { continue };
        assert_eq!(report(name).identity.serial_number.as_deref(), Some(theirs), "{name}");
        compared += 1;
    }
    assert!(compared >= 5, "only {compared} compared");
}

/// `prtMarkerLifeCount` is read in the printer's own row: the marker table is indexed by
/// `hrDeviceIndex`, which need not be 1; it is the meter its `prtMarkerCounterUnit` says:
/// impressions the total, sheets the sheets (a two-sided sheet is two impressions), meters the
/// length; feet (no exact millimetres) and characters are none.
#[test]
fn the_marker_life_count_is_the_printers_own_in_its_unit() {
    let meters = |walk: &str| map_report(&Bindings::from_snmprec(walk).unwrap()).snapshot.meters;
    let at_3 = "1.3.6.1.2.1.25.3.2.1.2.3|6|1.3.6.1.2.1.25.3.1.5\n1.3.6.1.2.1.25.3.2.1.3.3|4|Some Printer\n\
        1.3.6.1.2.1.43.10.2.1.3.3.1|2|7\n1.3.6.1.2.1.43.10.2.1.4.3.1|65|4242\n";
    assert_eq!(meters(at_3).get(&MeterKind::TOTAL), Some(4242));
    let in_unit =
        |unit: u32| meters(&format!("1.3.6.1.2.1.43.10.2.1.3.1.1|2|{unit}\n1.3.6.1.2.1.43.10.2.1.4.1.1|65|900\n"));
    assert_eq!(in_unit(8).0.into_iter().collect::<Vec<_>>(), [(MeterKind::SHEETS, 900)]);
    assert_eq!(in_unit(17).0.into_iter().collect::<Vec<_>>(), [(MeterKind::LENGTH_MM, 900_000)]);
    for unit in [3, 4, 5, 6, 16] {
        assert!(in_unit(unit).0.is_empty(), "unit {unit}");
    }
    // The real captures: Canon TM-5300 and Brother HL-L8260CDW (sheets), Toshiba (impressions).
    let tm = report("canonprinter_tm").snapshot.meters;
    assert_eq!((tm.get(&MeterKind::SHEETS), tm.get(&MeterKind::TOTAL)), (Some(21588), None));
    assert_eq!(report("brother_hl-l8260cdw").snapshot.meters.get(&MeterKind::SHEETS), Some(42976));
    assert_eq!(report("toshiba-tec").snapshot.meters.get(&MeterKind::TOTAL), Some(29648));
}

/// Sharp capture: 13 supplies (toner, developer, drum, waste) and a lowToner error state
/// (`hrPrinterDetectedErrorState` = 20 00: bit 2 of the first octet, counting from its most
/// significant bit).
#[test]
fn sharp_supplies_and_a_low_toner_error_state() {
    let r = report("sharp");
    assert_eq!(r.identity.make.as_deref(), Some("Sharp"));
    assert_eq!(r.snapshot.status.errors, printfleet_schema::DetectedErrors::LOW_TONER);
    let c = &r.snapshot.consumables;
    let toner: Vec<_> = c.iter().filter(|s| s.kind == SupplyType::TONER).map(|s| (s.colour.clone(), s.level)).collect();
    assert_eq!(
        toner,
        [
            (Some(Colour::Cyan), Level::Amount(55)),
            (Some(Colour::Magenta), Level::Amount(19)),
            (Some(Colour::Yellow), Level::Amount(40)),
            (Some(Colour::Black), Level::Amount(34)),
        ]
    );
    assert!(c.iter().filter(|s| s.kind == SupplyType::DEVELOPER).count() == 4);
}

/// HP JetDirect (M880 capture): supply names as text, a line break, and the rest as a hex dump.
#[test]
fn hex_dump_tails_are_undone() {
    let r = report("jetdirect_m880");
    let c = &r.snapshot.consumables;
    assert_eq!(c[0].description.as_deref(), Some("Black Cartridge 827A HP CF300A"));
    assert_eq!(c[0].part_number.as_deref(), Some("CF300A"));
    assert_eq!(clean_text(b"Drum \n38 32 38 41 00 "), Some("Drum 828A".to_owned()));
    // Text that only looks a little like hex stays text.
    assert_eq!(clean_text(b"Tray\nAB CD"), Some("Tray\nAB CD".to_owned()));
}

/// No capture has alert rows; this walk is written from the Printer-MIB's prtAlertTable
/// (1.3.6.1.2.1.43.18.1.1): a critical jam in the media path and a warning with its index and
/// location not applicable (-1, -2).
#[test]
fn alert_table_rows_map_to_alerts() {
    use printfleet_schema::codes::{AlertCode, AlertGroup, AlertSeverity, TrainingLevel};
    let walk = "\
1.3.6.1.2.1.43.18.1.1.2.1.7|2|3
1.3.6.1.2.1.43.18.1.1.3.1.7|2|4
1.3.6.1.2.1.43.18.1.1.4.1.7|2|13
1.3.6.1.2.1.43.18.1.1.5.1.7|2|1
1.3.6.1.2.1.43.18.1.1.6.1.7|2|12
1.3.6.1.2.1.43.18.1.1.7.1.7|2|8
1.3.6.1.2.1.43.18.1.1.8.1.7|4|Paper jam in tray 1
1.3.6.1.2.1.43.18.1.1.2.1.9|2|4
1.3.6.1.2.1.43.18.1.1.4.1.9|2|11
1.3.6.1.2.1.43.18.1.1.5.1.9|2|-1
1.3.6.1.2.1.43.18.1.1.6.1.9|2|-2
1.3.6.1.2.1.43.18.1.1.7.1.9|2|1104
";
    let r = map_report(&Bindings::from_snmprec(walk).unwrap());
    assert_eq!(r.validate(), Ok(()));
    let a = &r.snapshot.alerts;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].record_id.0, 7);
    assert_eq!((a[0].severity, a[0].training_level), (AlertSeverity::CRITICAL, TrainingLevel::TRAINED));
    assert_eq!((a[0].group, a[0].group_index, a[0].location), (AlertGroup::MEDIA_PATH, Some(1), Some(12)));
    assert_eq!((a[0].code, a[0].description.as_deref()), (AlertCode::JAM, Some("Paper jam in tray 1")));
    assert_eq!((a[1].record_id.0, a[1].severity, a[1].group), (9, AlertSeverity::WARNING, AlertGroup::MARKER_SUPPLIES));
    assert_eq!((a[1].group_index, a[1].location, a[1].code), (None, None, AlertCode::MARKER_TONER_ALMOST_EMPTY));
}

/// Sharp capture's prtInputTable: bypass tray empty, four trays with paper, named as LibreNMS
/// names them.
#[test]
fn input_trays_map_to_media_sources() {
    use printfleet_schema::codes::MediaSourceStatus;
    let r = report("sharp");
    let names: Vec<_> = r.snapshot.media_sources.iter().map(|m| m.name.as_deref().unwrap_or("-")).collect();
    assert_eq!(names, ["Bypass Tray", "Tray 1", "Tray 2", "Tray 3", "Tray 4", "Auto Select"]);
    let statuses: Vec<_> = r.snapshot.media_sources.iter().map(|m| m.status).collect();
    assert_eq!(statuses[..2], [MediaSourceStatus::UNLOADED, MediaSourceStatus::LOADED]);
    assert_eq!(statuses[5], MediaSourceStatus::UNKNOWN, "level -2");
}

/// No capture has the PWG Imaging System Counter MIB; this walk is written from its definition
/// (PWG 5106.1 `PWG-IMAGING-COUNTER-MIB`, as compiled in pysnmp's MIB collection): key 1 is the
/// system totals service, key 2 the copy service; rows are (key, workType, persistence), and
/// only lifetime (3) work totals (3) count — the power-on row (4) must not.
#[test]
fn pwg_counter_mib_lifetime_impressions_are_meters() {
    let walk = "\
1.3.6.1.2.1.43.10.2.1.4.1.1|65|900
1.3.6.1.4.1.2699.1.3.1.2.1.1.2.1|2|3
1.3.6.1.4.1.2699.1.3.1.2.1.1.2.2|2|4
1.3.6.1.4.1.2699.1.3.1.8.1.1.4.1.3.3|2|48213
1.3.6.1.4.1.2699.1.3.1.8.1.1.5.1.3.3|2|30000
1.3.6.1.4.1.2699.1.3.1.8.1.1.7.1.3.3|2|18213
1.3.6.1.4.1.2699.1.3.1.8.1.1.4.1.3.4|2|120
1.3.6.1.4.1.2699.1.3.1.8.1.1.4.2.3.3|2|5000
";
    let r = map_report(&Bindings::from_snmprec(walk).unwrap());
    let m = &r.snapshot.meters;
    assert_eq!(m.get(&MeterKind::TOTAL), Some(48_213), "the counter MIB wins over prtMarkerLifeCount");
    assert_eq!((m.get(&MeterKind::MONO), m.get(&MeterKind::COLOUR)), (Some(30_000), Some(18_213)));
    assert_eq!(m.get(&MeterKind::COPIES), Some(5_000));
    // Without the counter MIB, the life count.
    let r = map_report(&Bindings::from_snmprec("1.3.6.1.2.1.43.10.2.1.4.1.1|65|900\n").unwrap());
    assert_eq!(r.snapshot.meters.get(&MeterKind::TOTAL), Some(900));
}

/// prtAlertTime is sysUpTime at the alert: with the walk's time given, alerts get a date; an
/// alert "later" than sysUpTime (the agent restarted since) gets none.
#[test]
fn alert_times_are_dated_from_the_agents_uptime() {
    let walk = "\
1.3.6.1.2.1.1.3.0|67|500000
1.3.6.1.2.1.43.18.1.1.7.1.3|2|8
1.3.6.1.2.1.43.18.1.1.9.1.3|67|200000
1.3.6.1.2.1.43.18.1.1.7.1.4|2|8
1.3.6.1.2.1.43.18.1.1.9.1.4|67|600000
";
    let now = printfleet_schema::Timestamp::from_unix_millis(1_800_000_000_000).unwrap();
    let r = printfleet_sources::snmp::printer_mib::map_report_at(&Bindings::from_snmprec(walk).unwrap(), now);
    assert_eq!(r.validate(), Ok(()));
    let a = &r.snapshot.alerts;
    // 3000 s before the walk.
    assert_eq!(a[0].raised_at.map(|t| t.unix_millis()), Some(1_800_000_000_000 - 3_000_000));
    assert_eq!(a[1].raised_at, None);
}

/// Four more of LibreNMS' captures, read off their lines. A Dell S5830dn (a Lexmark agent) writes
/// its serial and firmware after the model in `hrDeviceDescr` and counts its supplies in pages;
/// a Samsung M4080FX names its supplies with empty serial tails ("S/N:CRUM-", "S/N:") and is low
/// on paper; a Konica Minolta bizhub C250i has a waste toner box of unknown maximum with some
/// remaining (-2, -3), supplies numbered 1-4 and 13, unnamed trays, vendor print and copy
/// counters, and asks for service; a TA/UTAX P-4532DN (a Kyocera agent) says "TA_UTAX" in
/// `sysDescr`, names its toner by part number and has its serial in Kyocera's MIB only.
#[test]
fn dell_samsung_konica_and_utax_captures_map_as_their_lines_say() {
    let dell = report("dell-laser_s5830dn");
    let id = &dell.identity;
    assert_eq!(
        (id.make.as_deref(), id.model.as_deref(), id.firmware_version.as_deref(), id.serial_number.as_deref()),
        (Some("Dell"), Some("Dell S5830dn"), Some("LW62.DN4.P636"), Some("7XQ1R92-132-13"))
    );
    let toner = &dell.snapshot.consumables[0];
    assert_eq!(
        (toner.colour.clone(), toner.level, toner.capacity, toner.percent_remaining()),
        (Some(Colour::Black), Level::Amount(22_050), Capacity::Amount(45_000), Some(49))
    );
    let trays: Vec<_> = dell.snapshot.media_sources.iter().map(|m| m.name.as_deref().unwrap()).collect();
    assert_eq!(trays, ["Tray 1", "Manual Envelope", "Manual Paper", "MP Tray"]);

    let samsung = report("samsungprinter_m4080fx");
    let named: Vec<_> = samsung
        .snapshot
        .consumables
        .iter()
        .take(2)
        .map(|c| (c.description.as_deref().unwrap(), c.serial_number.as_deref()))
        .collect();
    assert_eq!(named, [("Black Toner Cartridge", None), ("Fuser", None)], "empty serial tails dropped");
    assert_eq!(samsung.snapshot.consumables.len(), 7);
    assert_eq!(samsung.snapshot.meters.get(&MeterKind::TOTAL), Some(22_934));
    assert_eq!(
        (samsung.snapshot.status.device, samsung.snapshot.status.errors),
        (DeviceState::WARNING, printfleet_schema::DetectedErrors::LOW_PAPER)
    );
    assert_eq!(samsung.identity.serial_number, None, "sysDescr's \"S/N \" is empty");

    let konica = report("konica_c250i");
    let c = &konica.snapshot.consumables;
    let ids: Vec<u64> = c.iter().map(|c| c.record_id.0 & 0xffff_ffff).collect();
    assert_eq!(ids, [1, 2, 3, 4, 13]);
    assert_eq!(
        (c[4].kind, c[4].class, c[4].level, c[4].capacity),
        (SupplyType::WASTE_TONER, SupplyClass::RECEPTACLE_THAT_IS_FILLED, Level::SomeRemaining, Capacity::Unknown)
    );
    assert_eq!(c[0].colour, Some(Colour::Cyan), "Toner (Cyan)");
    let m = &konica.snapshot.meters;
    assert_eq!(
        [
            MeterKind::TOTAL,
            MeterKind::PRINT_MONO,
            MeterKind::PRINT_COLOUR,
            MeterKind::COPY_MONO,
            MeterKind::COPY_COLOUR
        ]
        .map(|k| m.get(&k)),
        [Some(33_810), Some(22_876), Some(6_711), Some(3_672), Some(544)]
    );
    assert!(konica.snapshot.media_sources.iter().all(|t| t.name.is_none()));
    assert_eq!(konica.snapshot.status.errors, printfleet_schema::DetectedErrors::SERVICE_REQUESTED);
    assert_eq!(konica.identity.serial_number.as_deref(), Some("AA2M021115700"));

    let utax = report("utax");
    let id = &utax.identity;
    assert_eq!(
        (id.make.as_deref(), id.model.as_deref(), id.serial_number.as_deref()),
        (Some("UTAX"), Some("P-4532DN"), Some("R9L0309954")),
        "the brand of its sysDescr; the serial from Kyocera's MIB, whose agent it is"
    );
    assert_eq!(utax.snapshot.consumables[0].description.as_deref(), Some("PK-3010S"));
    assert_eq!(utax.snapshot.meters.get(&MeterKind::TOTAL), Some(427));
}

/// Nine more walks derived from printmaster's (its `logs_review/`, `derive_logs.py`), read off
/// their lines. A Kyocera TASKalfa 6052ci (colour A3 MFP): its vendor total (the sum of its
/// print, copy and fax counters, 424,405) is reported and the marker's life count (432,951)
/// disputes it, a waste toner box with some remaining, five trays; an Epson ST-C4100 whose four
/// `hrDeviceTable` rows all name the printer; an Epson ST-M1000 whose one ink bottle has neither
/// maximum nor level (-2, -2), and an ST-M3000 whose bottle has both; a Kyocera ECOSYS PA4000wx
/// 15 pages old; an Epson CW-C6000Au label printer (four ink cartridges and a maintenance box in
/// percent, a fan-fold tractor and a roll feeder) whose one alert row says "Idle" with every
/// code "other"; an Epson WF-C17590 (A3 production inkjet, 422,294 pages) with two black
/// cartridges, one of them low as its alert says, and a WF-C20600 whose second black is spent
/// (its one-octet error state is the character "0": low and no toner) with a shifter, a stapler
/// and a puncher (Finisher MIB); an Epson AM-C550 whose inks' codes have a letter among their
/// digits (T08M1).
#[test]
fn printmaster_logs_review_walks_map_as_their_lines_say() {
    let taskalfa = report("kyocera_taskalfa_6052ci");
    let id = &taskalfa.identity;
    assert_eq!(
        (id.make.as_deref(), id.model.as_deref(), id.serial_number.as_deref()),
        (Some("Kyocera"), Some("TASKalfa 6052ci"), Some("W2D8303202"))
    );
    let m = &taskalfa.snapshot.meters;
    let functions = [MeterKind::PRINT_MONO, MeterKind::PRINT_COLOUR, MeterKind::COPY_MONO, MeterKind::COPY_COLOUR];
    assert_eq!(functions.map(|k| m.get(&k)), [Some(163_915), Some(140_424), Some(73_811), Some(42_443)]);
    assert_eq!(m.get(&MeterKind::TOTAL), Some(424_405), "the vendor total: print + copy + fax (3,812)");
    let c = &taskalfa.snapshot.consumables;
    let toners: Vec<_> = c.iter().take(4).map(|c| (c.description.as_deref().unwrap(), c.colour.clone())).collect();
    assert_eq!(
        toners,
        [
            ("TK-8517C", Some(Colour::Cyan)),
            ("TK-8517M", Some(Colour::Magenta)),
            ("TK-8517Y", Some(Colour::Yellow)),
            ("TK-8517K", Some(Colour::Black)),
        ]
    );
    assert_eq!((c[3].level, c[3].capacity), (Level::Amount(3_300), Capacity::Amount(30_000)));
    assert_eq!((c[4].kind, c[4].level), (SupplyType::WASTE_TONER, Level::SomeRemaining));
    assert_eq!(taskalfa.snapshot.media_sources.len(), 5);

    let c4100 = report("epson_st-c4100");
    assert_eq!(c4100.identity.model.as_deref(), Some("EPSON ST-C4100 Series"));
    let inks: Vec<_> = c4100.snapshot.consumables.iter().map(|c| (c.kind, c.colour.clone(), c.level)).collect();
    assert_eq!(
        inks,
        [Colour::Black, Colour::Cyan, Colour::Magenta, Colour::Yellow].map(|k| (
            SupplyType::INK,
            Some(k),
            Level::Amount(99)
        ))
    );
    assert_eq!(c4100.snapshot.meters.get(&MeterKind::TOTAL), Some(9));

    let m1000 = report("epson_st-m1000");
    let ink = &m1000.snapshot.consumables[0];
    assert_eq!((ink.colour.clone(), ink.level, ink.capacity), (Some(Colour::Black), Level::Unknown, Capacity::Unknown));
    assert_eq!(ink.percent_remaining(), None);
    assert_eq!(m1000.snapshot.meters.get(&MeterKind::TOTAL), Some(8_344));
    assert_eq!(m1000.identity.serial_number.as_deref(), Some("X5VJ004858"));

    let pa4000 = report("kyocera_ecosys_pa4000wx");
    assert_eq!(pa4000.identity.model.as_deref(), Some("ECOSYS PA4000wx"));
    assert_eq!(pa4000.snapshot.meters.get(&MeterKind::TOTAL), Some(15), "new: vendor total and life count agree");
    let toner = &pa4000.snapshot.consumables[0];
    assert_eq!(
        (toner.description.as_deref(), toner.colour.clone(), toner.level, toner.capacity),
        (Some("TK-1262S"), Some(Colour::Black), Level::Amount(3_564), Capacity::Amount(3_600))
    );

    let m3000 = report("epson_st-m3000");
    assert_eq!(
        (m3000.identity.model.as_deref(), m3000.identity.serial_number.as_deref()),
        (Some("EPSON ST-M3000 Series"), Some("X5UJ001424"))
    );
    let bottle = &m3000.snapshot.consumables[..];
    assert_eq!(bottle.len(), 1);
    assert_eq!(
        (bottle[0].kind, bottle[0].colour.clone(), bottle[0].percent_remaining()),
        (SupplyType::INK, Some(Colour::Black), Some(76))
    );
    assert_eq!(m3000.snapshot.meters.get(&MeterKind::TOTAL), Some(17_884));
    assert!(m3000.snapshot.alerts.is_empty(), "the walk has no alert table");

    let label = report("epson_cw-c6000au");
    let id = &label.identity;
    assert_eq!(
        (id.make.as_deref(), id.model.as_deref(), id.serial_number.as_deref()),
        (Some("Epson"), Some("EPSON CW-C6000Au"), Some("X7EN003662"))
    );
    assert_eq!(label.snapshot.meters.get(&MeterKind::TOTAL), Some(72_701));
    let supplies: Vec<_> =
        label.snapshot.consumables.iter().map(|c| (c.kind, c.colour.clone(), c.percent_remaining())).collect();
    assert_eq!(
        supplies,
        [
            (SupplyType::INK_CARTRIDGE, Some(Colour::Black), Some(24)),
            (SupplyType::INK_CARTRIDGE, Some(Colour::Cyan), Some(74)),
            (SupplyType::INK_CARTRIDGE, Some(Colour::Magenta), Some(78)),
            (SupplyType::INK_CARTRIDGE, Some(Colour::Yellow), Some(77)),
            (SupplyType::WASTE_INK, None, Some(80)),
        ]
    );
    assert_eq!(label.snapshot.consumables[4].class, SupplyClass::RECEPTACLE_THAT_IS_FILLED);
    let alerts: Vec<_> = label.snapshot.alerts.iter().map(|a| (a.description.as_deref(), a.code)).collect();
    assert_eq!(alerts, [(Some("Idle"), AlertCode::OTHER)]);
    let feeds: Vec<_> = label.snapshot.media_sources.iter().map(|m| (m.kind, m.name.as_deref())).collect();
    assert_eq!(
        feeds,
        [
            (InputType::CONTINUOUS_FAN_FOLD, Some("Tractor Rear")),
            (InputType::CONTINUOUS_ROLL, Some("Roll Sheet feeder"))
        ]
    );

    // Two "Ink is low." alerts name supplies 3 and 2 (group index): the second black and cyan.
    let wf = report("epson_wf-c17590");
    assert_eq!(
        (wf.identity.model.as_deref(), wf.identity.serial_number.as_deref()),
        (Some("EPSON WF-C17590 Series"), Some("X59F000014"))
    );
    assert_eq!(wf.snapshot.meters.get(&MeterKind::TOTAL), Some(422_294));
    let inks: Vec<_> = wf
        .snapshot
        .consumables
        .iter()
        .map(|c| (c.colour.clone(), c.part_number.as_deref(), c.percent_remaining(), c.status))
        .collect();
    assert_eq!(
        inks,
        [
            (Some(Colour::Black), Some("T8871"), Some(100), ConsumableStatus::UNKNOWN),
            (Some(Colour::Black), Some("T8871"), Some(1), ConsumableStatus::LOW),
            (Some(Colour::Cyan), Some("T8872"), Some(1), ConsumableStatus::LOW),
            (Some(Colour::Magenta), Some("T8873"), Some(35), ConsumableStatus::UNKNOWN),
            (Some(Colour::Yellow), Some("T8874"), Some(38), ConsumableStatus::UNKNOWN),
        ]
    );
    assert_eq!(wf.snapshot.alerts.len(), 2);
    assert_eq!(wf.snapshot.status.errors, printfleet_schema::DetectedErrors::LOW_TONER);
    assert_eq!(wf.snapshot.media_sources.len(), 5);

    let am = report("epson_am-c550");
    assert_eq!(
        (am.identity.model.as_deref(), am.identity.serial_number.as_deref()),
        (Some("EPSON AM-C550 Series"), Some("VPA9200014"))
    );
    assert_eq!(am.snapshot.meters.get(&MeterKind::TOTAL), Some(81_563));
    let inks: Vec<_> = am
        .snapshot
        .consumables
        .iter()
        .map(|c| (c.colour.clone(), c.part_number.as_deref(), c.percent_remaining()))
        .collect();
    assert_eq!(
        inks,
        [
            (Some(Colour::Black), Some("T08M1"), Some(67)),
            (Some(Colour::Cyan), Some("T08M2"), Some(59)),
            (Some(Colour::Magenta), Some("T08M3"), Some(60)),
            (Some(Colour::Yellow), Some("T08M4"), Some(70)),
        ]
    );
    assert!(am.snapshot.alerts.is_empty());

    let wf = report("epson_wf-c20600");
    assert_eq!(
        (wf.identity.model.as_deref(), wf.identity.serial_number.as_deref()),
        (Some("EPSON WF-C20600 Series"), Some("X74P000222"))
    );
    assert_eq!(wf.snapshot.meters.get(&MeterKind::TOTAL), Some(360_841));
    let inks: Vec<_> = wf.snapshot.consumables.iter().map(|c| (c.percent_remaining(), c.status)).collect();
    assert_eq!(
        inks,
        [
            (Some(12), ConsumableStatus::UNKNOWN),
            (Some(0), ConsumableStatus::EXHAUSTED),
            (Some(1), ConsumableStatus::LOW),
            (Some(14), ConsumableStatus::UNKNOWN),
            (Some(1), ConsumableStatus::LOW),
        ]
    );
    assert_eq!(
        wf.snapshot.status.errors,
        printfleet_schema::DetectedErrors::LOW_TONER | printfleet_schema::DetectedErrors::NO_TONER
    );
    let finishers: Vec<_> = wf.snapshot.accessories.iter().map(|a| (a.name.as_str(), a.status)).collect();
    assert_eq!(
        finishers,
        [("Shifter", AccessoryStatus::OK), ("Stapler", AccessoryStatus::OK), ("Puncher", AccessoryStatus::OK)]
    );
    let trimmer: Vec<_> = label.snapshot.accessories.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(trimmer, ["Trimmer"]);
}

/// printmaster's walks of five more printers (derived captures, `testdata/third-party/printmaster`),
/// read off their lines: Kyocera names its toners by part number only ("TK-8527C"), so the
/// colour is the colorant table's, and its CS 4053ci has five `hrDeviceTable` rows (four named
/// "CS 4053ci"): the printer is the row typed a printer; Brother's toners have neither maximum
/// nor level (-2, -3: some remaining) and its life count is in sheets; Epson's inks count in
/// unit "other" out of 100, and its label printer's three "Ink is low." alerts name the supplies
/// they are about.
#[test]
fn printmaster_walks_map_as_their_lines_say() {
    let kyocera = report("kyocera_cs_4053ci");
    assert_eq!(kyocera.identity.make.as_deref(), Some("Kyocera"));
    assert_eq!(kyocera.identity.model.as_deref(), Some("CS 4053ci"));
    assert_eq!(kyocera.identity.serial_number.as_deref(), Some("RH28Y00024"));
    assert_eq!(kyocera.snapshot.meters.get(&MeterKind::TOTAL), Some(76_498));
    let toners: Vec<_> = kyocera.snapshot.consumables.iter().take(4).map(|c| (c.colour.clone(), c.level)).collect();
    assert_eq!(
        toners,
        [
            (Some(Colour::Cyan), Level::Amount(7_500)),
            (Some(Colour::Magenta), Level::Amount(4_800)),
            (Some(Colour::Yellow), Level::Amount(8_250)),
            (Some(Colour::Black), Level::Amount(18_000)),
        ]
    );
    let waste = &kyocera.snapshot.consumables[4];
    assert_eq!(
        (waste.class, waste.level, waste.capacity),
        (SupplyClass::RECEPTACLE_THAT_IS_FILLED, Level::SomeRemaining, Capacity::Unknown)
    );

    let p2040 = report("kyocera_ecosys_p2040dw");
    assert_eq!(
        (p2040.identity.serial_number.as_deref(), p2040.snapshot.meters.get(&MeterKind::TOTAL)),
        (Some("VD21457943"), Some(7_432))
    );
    assert_eq!(p2040.snapshot.consumables[0].colour, Some(Colour::Black), "TK-1162, colorant 1 black");

    let brother = report("brother_hl-l8260cdw");
    assert_eq!(
        (brother.identity.make.as_deref(), brother.identity.serial_number.as_deref()),
        (Some("Brother"), Some("U64641E7J134163"))
    );
    for toner in &brother.snapshot.consumables[..4] {
        assert_eq!(
            (toner.kind, toner.level, toner.capacity),
            (SupplyType::TONER, Level::SomeRemaining, Capacity::Unknown)
        );
    }
    let drum = &brother.snapshot.consumables[6];
    assert_eq!(
        (drum.kind, drum.level, drum.capacity),
        (SupplyType::OPC, Level::Amount(22_596), Capacity::Amount(30_000))
    );

    let plotter = report("epson_sc-t3405");
    assert_eq!(
        (plotter.identity.make.as_deref(), plotter.identity.model.as_deref()),
        (Some("Epson"), Some("EPSON SC-T3405 Series"))
    );
    assert_eq!(plotter.snapshot.meters.get(&MeterKind::SHEETS), Some(145));
    let inks: Vec<_> = plotter.snapshot.consumables.iter().map(|c| (c.colour.clone(), c.level, c.capacity)).collect();
    assert_eq!(inks[0], (Some(Colour::Yellow), Level::Amount(83), Capacity::Amount(100)), "listed Y, M, C, K");
    assert_eq!(inks[3].0, Some(Colour::Black));

    let label = report("epson_cw-c6500au");
    assert_eq!(label.identity.serial_number.as_deref(), Some("X7F4008528"));
    let low: Vec<_> = label.snapshot.alerts.iter().filter(|a| a.code == AlertCode::MARKER_INK_ALMOST_EMPTY).collect();
    assert_eq!(low.len(), 3);
    for alert in low {
        let supply = label
            .snapshot
            .consumables
            .iter()
            .find(|c| c.record_id.0 & 0xffff_ffff == u64::from(alert.group_index.unwrap()))
            .unwrap();
        assert_eq!(supply.level, Level::Amount(1), "{:?}", supply.colour);
    }
}

/// PWG 5106.1's `icImpressionEntry` columns: 4 total, 5 monochrome, 6 *blank*, 7 full colour,
/// 8 highlight colour (as compiled in pysnmp's MIB collection). Blank impressions are no colour.
#[test]
fn pwg_counter_mib_blank_impressions_are_no_highlight_colour() {
    let walk = "\
1.3.6.1.4.1.2699.1.3.1.2.1.1.2.1|2|3
1.3.6.1.4.1.2699.1.3.1.8.1.1.4.1.3.3|2|10000
1.3.6.1.4.1.2699.1.3.1.8.1.1.5.1.3.3|2|6000
1.3.6.1.4.1.2699.1.3.1.8.1.1.6.1.3.3|2|250
1.3.6.1.4.1.2699.1.3.1.8.1.1.7.1.3.3|2|3500
1.3.6.1.4.1.2699.1.3.1.8.1.1.8.1.3.3|2|500
";
    let m = printfleet_sources::snmp::printer_mib::map(&Bindings::from_snmprec(walk).unwrap());
    let meters = &m.report.snapshot.meters;
    assert_eq!(meters.get(&MeterKind::HIGHLIGHT_COLOUR), Some(500));
    assert_eq!(
        (meters.get(&MeterKind::TOTAL), meters.get(&MeterKind::MONO), meters.get(&MeterKind::COLOUR)),
        (Some(10_000), Some(6_000), Some(3_500))
    );
    assert!(!m.findings.iter().any(|f| matches!(f, Finding::MeterDisputed { .. })), "{:?}", m.findings);
}

/// The engine from `hrDeviceStatus` and `hrPrinterStatus` together (RFC 3805 2.2.13.2): a
/// printer that is down is stopped by an error, or off line when the error state says so; one
/// moving on line is warming up; a device under test is busy.
#[test]
fn the_engine_of_a_stopped_printer_is_in_error_or_off_line() {
    let engine = |device: u32, printer: u32, errors: &str| {
        let walk = format!(
            "1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5\n1.3.6.1.2.1.25.3.2.1.5.1|2|{device}\n\
             1.3.6.1.2.1.25.3.5.1.1.1|2|{printer}\n1.3.6.1.2.1.25.3.5.1.2.1|4x|{errors}\n"
        );
        map_report(&Bindings::from_snmprec(&walk).unwrap()).snapshot.status.engine
    };
    assert_eq!(engine(5, 1, "0400"), EngineStatus::ERROR, "down, other, jammed");
    assert_eq!(engine(5, 3, "00"), EngineStatus::ERROR, "down, idle");
    assert_eq!(engine(5, 1, "0200"), EngineStatus::OFFLINE, "down, other, offline");
    assert_eq!(engine(5, 5, "0200"), EngineStatus::WARMING_UP, "down, warmup: moving on line");
    assert_eq!(engine(4, 1, "00"), EngineStatus::BUSY, "testing");
    assert_eq!(engine(2, 3, "00"), EngineStatus::READY);
    assert_eq!(engine(3, 4, "00"), EngineStatus::PRINTING, "warning, printing");
}

/// The status is the printer's own row even where its `hrPrinterTable` row lacks the status
/// (captures leave it out): not another device's row.
#[test]
fn the_status_is_read_in_the_printers_row() {
    let walk = "\
1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.3
1.3.6.1.2.1.25.3.2.1.5.1|2|2
1.3.6.1.2.1.25.3.2.1.2.2|6|1.3.6.1.2.1.25.3.1.5
1.3.6.1.2.1.25.3.2.1.5.2|2|5
1.3.6.1.2.1.25.3.5.1.2.2|4x|0400
";
    let s = map_report(&Bindings::from_snmprec(walk).unwrap()).snapshot.status;
    assert_eq!((s.device, s.errors), (DeviceState::DOWN, printfleet_schema::DetectedErrors::JAMMED));
}

/// The make is the brand: the device id's `MFG`, else a make `sysDescr` starts with, else the
/// enterprise of `sysObjectID` — which names whoever wrote the agent: Lexmark for a Toshiba
/// e-STUDIO (LibreNMS' capture), Extended Systems for a ZebraNet print server.
#[test]
fn the_make_is_the_brand_not_the_agents_maker() {
    assert_eq!(report("toshiba-tec").identity.make.as_deref(), Some("Toshiba"));
    let make = |walk: &str| map_report(&Bindings::from_snmprec(walk).unwrap()).identity.make;
    let zebra = "1.3.6.1.2.1.1.1.0|4|ZebraNet Wired PS\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.683.6.0\n\
        1.3.6.1.4.1.10642.1.3.0|4|MANUFACTURER:Zebra Technologies;COMMAND SET:ZPL;\n";
    assert_eq!(make(zebra).as_deref(), Some("Zebra"));
    let dell = "1.3.6.1.2.1.1.1.0|4|Dell Color Laser 3110cn\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.641.1.1\n";
    assert_eq!(make(dell).as_deref(), Some("Dell"));
    let unknown = "1.3.6.1.2.1.1.1.0|4|ECOSYS M2540dn\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1347.41\n";
    assert_eq!(make(unknown).as_deref(), Some("Kyocera"), "no make in sysDescr: the enterprise's");
    // The device id's MFG names the brand over sysDescr's make (a Dell built by Lexmark whose
    // agent describes the engine).
    let rebadged = "1.3.6.1.2.1.1.1.0|4|Lexmark MS510dn version NH.HS2.N211\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.641.2.1\n\
        1.3.6.1.4.1.2699.1.2.1.2.1.1.3.1|4|MFG:Dell;MDL:B2360dn;CLS:PRINTER;\n";
    assert_eq!(make(rebadged).as_deref(), Some("Dell"));
}

/// Integer columns an agent sends as Gauge32 or Counter32 are read (within Integer32's range).
#[test]
fn unsigned_integer_columns_are_read() {
    let walk = "1.3.6.1.2.1.43.11.1.1.8.1.1|66|100\n1.3.6.1.2.1.43.11.1.1.9.1.1|65|40\n";
    let c = &map_report(&Bindings::from_snmprec(walk).unwrap()).snapshot.consumables[0];
    assert_eq!((c.level, c.capacity), (Level::Amount(40), Capacity::Amount(100)));
}

/// Supply and alert descriptions are in the character set of the printer's current
/// localization (`prtGeneralCurrentLocalization` → `prtLocalizationCharacterSet`), as CUPS
/// decodes them: UTF-16 (1013), Shift_JIS (17); a UTF-16 string without a named set is read as
/// UTF-16 too (before, it was cut at its first NUL: no description, no colour).
#[test]
fn descriptions_are_decoded_in_the_localizations_character_set() {
    let walk = |charset: u32, hex: &str| {
        format!(
            "1.3.6.1.2.1.43.5.1.1.2.1|2|1\n1.3.6.1.2.1.43.7.1.1.4.1.1|2|{charset}\n\
             1.3.6.1.2.1.43.11.1.1.6.1.1|4x|{hex}\n1.3.6.1.2.1.43.18.1.1.8.1.1|4x|{hex}\n"
        )
    };
    let black_toner = "0042006C00610063006B00200054006F006E00650072";
    let r = map_report(&Bindings::from_snmprec(&walk(1013, black_toner)).unwrap());
    assert_eq!(r.validate(), Ok(()));
    let c = &r.snapshot.consumables[0];
    assert_eq!((c.description.as_deref(), c.colour.clone()), (Some("Black Toner"), Some(Colour::Black)));
    assert_eq!(r.snapshot.alerts[0].description.as_deref(), Some("Black Toner"));
    // ブラックトナー in Shift_JIS.
    let r = map_report(&Bindings::from_snmprec(&walk(17, "837583898362834E83678369815B")).unwrap());
    assert_eq!(r.snapshot.consumables[0].description.as_deref(), Some("ブラックトナー"));
    // No localization: UTF-16 by its NULs; plain ASCII with a trailing NUL stays ASCII.
    let r = map_report(&Bindings::from_snmprec(&format!("1.3.6.1.2.1.43.11.1.1.6.1.1|4x|{black_toner}\n")).unwrap());
    assert_eq!(r.snapshot.consumables[0].description.as_deref(), Some("Black Toner"));
    let r = map_report(&Bindings::from_snmprec("1.3.6.1.2.1.43.11.1.1.6.1.1|4x|426C61636B00\n").unwrap());
    assert_eq!(r.snapshot.consumables[0].description.as_deref(), Some("Black"));
    // A declared set that the text cannot be in (agents declare boilerplate): UTF-8 without a NUL
    // stays UTF-8, under csUnicode as under Shift_JIS.
    for charset in [1000, 17] {
        let walk = format!(
            "1.3.6.1.2.1.43.5.1.1.2.1|2|1\n1.3.6.1.2.1.43.7.1.1.4.1.1|2|{charset}\n1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner\n"
        );
        let c = &map_report(&Bindings::from_snmprec(&walk).unwrap()).snapshot.consumables[0];
        assert_eq!(
            (c.description.as_deref(), c.colour.clone()),
            (Some("Black Toner"), Some(Colour::Black)),
            "{charset}"
        );
    }
}

/// A supply's status comes from the alerts the printer raises about it (group markerSupplies,
/// group index = the supply's index): the Epson CW-C6500Au's three "Ink is low." alerts make
/// its three inks at 1 % low; its black and maintenance box, without an alert, stay unknown.
/// The worst alert wins; alerts about other groups or indexes change nothing.
#[test]
fn supply_status_comes_from_the_alerts_about_it() {
    use printfleet_schema::codes::ConsumableStatus as S;
    let label = report("epson_cw-c6500au");
    let statuses: Vec<_> = label.snapshot.consumables.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [S::UNKNOWN, S::LOW, S::LOW, S::LOW, S::UNKNOWN]);
    let walk = "\
1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner
1.3.6.1.2.1.43.11.1.1.6.1.2|4|Cyan Toner
1.3.6.1.2.1.43.11.1.1.6.1.3|4|Waste Toner Box
1.3.6.1.2.1.43.18.1.1.4.1.7|2|11
1.3.6.1.2.1.43.18.1.1.5.1.7|2|1
1.3.6.1.2.1.43.18.1.1.7.1.7|2|1104
1.3.6.1.2.1.43.18.1.1.4.1.8|2|11
1.3.6.1.2.1.43.18.1.1.5.1.8|2|1
1.3.6.1.2.1.43.18.1.1.7.1.8|2|1101
1.3.6.1.2.1.43.18.1.1.4.1.9|2|11
1.3.6.1.2.1.43.18.1.1.5.1.9|2|3
1.3.6.1.2.1.43.18.1.1.7.1.9|2|1107
1.3.6.1.2.1.43.18.1.1.4.1.10|2|8
1.3.6.1.2.1.43.18.1.1.5.1.10|2|2
1.3.6.1.2.1.43.18.1.1.7.1.10|2|1101
";
    let r = map_report(&Bindings::from_snmprec(walk).unwrap());
    let statuses: Vec<_> = r.snapshot.consumables.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [S::EXHAUSTED, S::UNKNOWN, S::LOW], "empty beats almost empty; group 8 is not supplies");
    // The printer is hrDeviceIndex 1: an alert in device 2's rows (a second device of the agent)
    // is not about its supplies; a missing cartridge is missing.
    let walk = "\
1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5
1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner
1.3.6.1.2.1.43.11.1.1.6.1.2|4|Cyan Toner
1.3.6.1.2.1.43.18.1.1.4.2.1|2|11
1.3.6.1.2.1.43.18.1.1.5.2.1|2|1
1.3.6.1.2.1.43.18.1.1.7.2.1|2|1101
1.3.6.1.2.1.43.18.1.1.4.1.2|2|11
1.3.6.1.2.1.43.18.1.1.5.1.2|2|2
1.3.6.1.2.1.43.18.1.1.7.1.2|2|1115
";
    let r = map_report(&Bindings::from_snmprec(walk).unwrap());
    let statuses: Vec<_> = r.snapshot.consumables.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [S::UNKNOWN, S::MISSING]);
}

/// A supply name that is nothing but its vendor tail leaves the supply without a description
/// (an empty one would fail validation: the fuzz target's contract), its part or serial kept.
#[test]
fn a_supply_name_of_nothing_but_its_tail_describes_nothing() {
    for (name, part, serial) in [("_S/N:AB12", None, Some("AB12")), (", PN 006R01509", Some("006R01509"), None)] {
        let r = map_report(&Bindings::from_snmprec(&format!("1.3.6.1.2.1.43.11.1.1.6.1.1|4|{name}\n")).unwrap());
        assert_eq!(r.validate(), Ok(()), "{name}");
        let c = &r.snapshot.consumables[0];
        assert_eq!(
            (c.description.as_deref(), c.part_number.as_deref(), c.serial_number.as_deref()),
            (None, part, serial)
        );
    }
}

/// A supply's name and its colorant naming two colours: a Brother MFC-9970CDW (NC-7700w print
/// server) names its supplies 3 and 4 "Magenta" and "Yellow" and points them at colorants
/// "yellow" and "magenta" (the lines below are those of a walk of one, which we may not
/// redistribute). The name's colour is reported and the dispute is a finding; where one is a
/// shade of the other (photo black for "Black", "Light Cyan" for cyan) the finer stands, no
/// dispute; a colorant this crate does not know stands.
#[test]
fn a_colorant_that_contradicts_the_supply_name_loses_to_it() {
    let walk = "\
1.3.6.1.2.1.43.11.1.1.3.1.1|2|1
1.3.6.1.2.1.43.11.1.1.3.1.2|2|2
1.3.6.1.2.1.43.11.1.1.3.1.3|2|3
1.3.6.1.2.1.43.11.1.1.3.1.4|2|4
1.3.6.1.2.1.43.11.1.1.3.1.5|2|5
1.3.6.1.2.1.43.11.1.1.3.1.6|2|6
1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner Cartridge
1.3.6.1.2.1.43.11.1.1.6.1.2|4|Cyan Toner Cartridge
1.3.6.1.2.1.43.11.1.1.6.1.3|4|Magenta Toner Cartridge
1.3.6.1.2.1.43.11.1.1.6.1.4|4|Yellow Toner Cartridge
1.3.6.1.2.1.43.11.1.1.6.1.5|4|Black Ink
1.3.6.1.2.1.43.11.1.1.6.1.6|4|Black Ink
1.3.6.1.2.1.43.11.1.1.3.1.7|2|7
1.3.6.1.2.1.43.11.1.1.6.1.7|4|Light Cyan Ink
1.3.6.1.2.1.43.11.1.1.3.1.8|2|5
1.3.6.1.2.1.43.11.1.1.6.1.8|4|Matte Black Ink
1.3.6.1.2.1.43.12.1.1.4.1.1|4|black
1.3.6.1.2.1.43.12.1.1.4.1.2|4|cyan
1.3.6.1.2.1.43.12.1.1.4.1.3|4|yellow
1.3.6.1.2.1.43.12.1.1.4.1.4|4|magenta
1.3.6.1.2.1.43.12.1.1.4.1.5|4|photo black
1.3.6.1.2.1.43.12.1.1.4.1.6|4|blue-black
1.3.6.1.2.1.43.12.1.1.4.1.7|4|cyan
";
    let mapped = printfleet_sources::snmp::printer_mib::map(&Bindings::from_snmprec(walk).unwrap());
    let colours: Vec<_> = mapped.report.snapshot.consumables.iter().map(|c| c.colour.clone()).collect();
    assert_eq!(
        colours,
        [
            Some(Colour::Black),
            Some(Colour::Cyan),
            Some(Colour::Magenta),
            Some(Colour::Yellow),
            Some(Colour::PhotoBlack),
            Some(Colour::Other("blue-black".into())),
            Some(Colour::LightCyan),
            Some(Colour::MatteBlack),
        ]
    );
    let disputes: Vec<_> = mapped
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::ColourDisputed { record_id, colorant, named } => Some((*record_id & 0xffff_ffff, colorant, named)),
            _ => None,
        })
        .collect();
    assert_eq!(
        disputes,
        [
            (3, &Colour::Yellow, &Colour::Magenta),
            (4, &Colour::Magenta, &Colour::Yellow),
            (8, &Colour::PhotoBlack, &Colour::MatteBlack)
        ]
    );
}

/// An agent that leaves `hrDeviceIndex` out of the Printer-MIB's tables: a Pantum's writes
/// `prtMarkerSuppliesDescription.1`, `prtMarkerColorantValue.1`, `prtMediaPathMaxSpeed.1` (its
/// lines as quoted in fusioninventory/sysobject.ids issue 70, supplies and colorant below with
/// a life count, an alert and a tray added in the same form). Its rows are the device's (1),
/// whatever the printer's `hrDeviceIndex` (2 here), and alerts still give its supplies a
/// status; beside rows with the device, such rows are ignored.
#[test]
fn tables_without_the_device_index_are_the_printers() {
    let walk = "\
1.3.6.1.2.1.25.3.2.1.2.2|6|1.3.6.1.2.1.25.3.1.5
1.3.6.1.2.1.43.8.2.1.9.1|2|250
1.3.6.1.2.1.43.8.2.1.10.1|2|0
1.3.6.1.2.1.43.8.2.1.13.1|4|Tray 1
1.3.6.1.2.1.43.10.2.1.3.1|2|7
1.3.6.1.2.1.43.10.2.1.4.1|65|1234
1.3.6.1.2.1.43.11.1.1.2.1|2|1
1.3.6.1.2.1.43.11.1.1.3.1|2|1
1.3.6.1.2.1.43.11.1.1.4.1|2|3
1.3.6.1.2.1.43.11.1.1.5.1|2|3
1.3.6.1.2.1.43.11.1.1.6.1|4|
1.3.6.1.2.1.43.11.1.1.7.1|2|3
1.3.6.1.2.1.43.11.1.1.8.1|2|100
1.3.6.1.2.1.43.11.1.1.9.1|2|100
1.3.6.1.2.1.43.12.1.1.2.1|2|1
1.3.6.1.2.1.43.12.1.1.3.1|2|3
1.3.6.1.2.1.43.12.1.1.4.1|4|black
1.3.6.1.2.1.43.18.1.1.2.1|2|3
1.3.6.1.2.1.43.18.1.1.4.1|2|11
1.3.6.1.2.1.43.18.1.1.5.1|2|1
1.3.6.1.2.1.43.18.1.1.7.1|2|1104
1.3.6.1.2.1.43.18.1.1.8.1|4|Toner low
";
    let m = printfleet_sources::snmp::printer_mib::map(&Bindings::from_snmprec(walk).unwrap());
    let r = &m.report;
    assert_eq!(r.validate(), Ok(()));
    let toner = &r.snapshot.consumables[..];
    assert_eq!(toner.len(), 1);
    assert_eq!(
        (toner[0].record_id.0, toner[0].kind, toner[0].colour.clone(), toner[0].level, toner[0].status),
        ((1 << 32) | 1, SupplyType::TONER, Some(Colour::Black), Level::Amount(100), ConsumableStatus::LOW)
    );
    assert_eq!(r.snapshot.meters.get(&MeterKind::TOTAL), Some(1_234));
    let alert = &r.snapshot.alerts[..];
    assert_eq!((alert.len(), alert[0].code, alert[0].group_index), (1, AlertCode::MARKER_TONER_ALMOST_EMPTY, Some(1)));
    assert_eq!(r.snapshot.media_sources[0].name.as_deref(), Some("Tray 1"));

    // Beside rows with the device, a row without it is an agent's stray line: ignored.
    let both = format!("{walk}1.3.6.1.2.1.43.11.1.1.6.1.2|4|Drum\n1.3.6.1.2.1.43.11.1.1.9.1.2|2|40\n");
    let r = printfleet_sources::snmp::printer_mib::map(&Bindings::from_snmprec(&both).unwrap()).report;
    let names: Vec<_> = r.snapshot.consumables.iter().map(|c| (c.record_id.0, c.description.as_deref())).collect();
    assert_eq!(names, [((1 << 32) | 2, Some("Drum"))]);
}

/// A device set to German names its colorants in German too: they are the process colours.
#[test]
fn a_colorant_named_in_another_language_is_its_colour() {
    let walk = "\
1.3.6.1.2.1.43.11.1.1.3.1.1|2|1
1.3.6.1.2.1.43.11.1.1.6.1.1|4|Toner Schwarz
1.3.6.1.2.1.43.11.1.1.3.1.2|2|2
1.3.6.1.2.1.43.11.1.1.6.1.2|4|Toner
1.3.6.1.2.1.43.12.1.1.4.1.1|4|schwarz
1.3.6.1.2.1.43.12.1.1.4.1.2|4|Gelb
";
    let m = printfleet_sources::snmp::printer_mib::map(&Bindings::from_snmprec(walk).unwrap());
    let colours: Vec<_> = m.report.snapshot.consumables.iter().map(|c| c.colour.clone()).collect();
    assert_eq!(colours, [Some(Colour::Black), Some(Colour::Yellow)]);
    assert!(!m.findings.iter().any(|f| matches!(f, Finding::ColourDisputed { .. })));
}

/// Ricoh's agents write level -100 for a supply near its end (LibreNMS reads it so for Ricoh,
/// Lanier and NRG): some remaining, and low. From another agent, -100 means nothing the MIB
/// defines: unknown, and a finding.
#[test]
fn ricoh_near_end_is_some_remaining_and_low() {
    let supplies = "\
1.3.6.1.2.1.43.11.1.1.5.1.1|2|3
1.3.6.1.2.1.43.11.1.1.6.1.1|4|Toner Black
1.3.6.1.2.1.43.11.1.1.8.1.1|2|-2
1.3.6.1.2.1.43.11.1.1.9.1.1|2|-100
1.3.6.1.2.1.43.11.1.1.6.1.2|4|Toner Cyan
1.3.6.1.2.1.43.11.1.1.8.1.2|2|-2
1.3.6.1.2.1.43.11.1.1.9.1.2|2|-3
";
    let ricoh = format!("1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.367.1.1\n{supplies}");
    let m = printfleet_sources::snmp::printer_mib::map(&Bindings::from_snmprec(&ricoh).unwrap());
    let c: Vec<_> = m.report.snapshot.consumables.iter().map(|c| (c.level, c.status)).collect();
    assert_eq!(c, [(Level::SomeRemaining, ConsumableStatus::LOW), (Level::SomeRemaining, ConsumableStatus::UNKNOWN)]);
    assert!(!m.findings.iter().any(|f| matches!(f, Finding::ValueClamped { .. })));

    let other = format!("1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.2435.2.3.9.1\n{supplies}");
    let m = printfleet_sources::snmp::printer_mib::map(&Bindings::from_snmprec(&other).unwrap());
    assert_eq!(m.report.snapshot.consumables[0].level, Level::Unknown);
    assert_eq!(m.report.snapshot.consumables[0].status, ConsumableStatus::UNKNOWN);
    assert!(m.findings.contains(&Finding::ValueClamped { field: "consumable level", value: -100, replaced_by: None }));
}

/// A supply named by nothing but a dashed part code, as Kyocera's and TA/UTAX's agents name
/// them, has it as its part number (the captures' TK-8527C ..., PK-3010S); where neither a
/// colorant nor a colour word says the colour, the code's suffix does (K, C, M, Y, BK), as on a
/// Kyocera FS-C8520MFP that serves no colorant table; a colorant says it first.
#[test]
fn kyocera_part_codes_are_part_numbers_and_their_suffix_a_colour() {
    let part = |name: &str| split_supply_name(name).1;
    for code in ["TK-8527C", "TK-1162", "PK-3010S", "MK-1150", "TN-421BK", "WT-8500"] {
        assert_eq!(part(code).as_deref(), Some(code));
    }
    for name in ["Waste Toner Box", "TK-85", "T-1234", "tk-8527c", "TK-8527C Toner", "ABCD-1234", "TK-123456"] {
        assert_eq!(part(name), None, "{name}");
    }
    let parts =
        |name: &str| report(name).snapshot.consumables.iter().map(|c| c.part_number.clone()).collect::<Vec<_>>();
    let some = |codes: &[&str]| codes.iter().map(|c| Some((*c).to_owned())).collect::<Vec<_>>();
    let mut cs = some(&["TK-8527C", "TK-8527M", "TK-8527Y", "TK-8527K"]);
    cs.push(None);
    assert_eq!(parts("kyocera_cs_4053ci"), cs, "and the waste toner box has none");
    assert_eq!(parts("utax")[0].as_deref(), Some("PK-3010S"));

    let walk = |colorant: &str| {
        let lines = format!(
            "1.3.6.1.2.1.43.11.1.1.6.1.1|4|TK-895C\n1.3.6.1.2.1.43.11.1.1.6.1.2|4|TK-895K\n\
             1.3.6.1.2.1.43.11.1.1.6.1.3|4|DR-421CL\n1.3.6.1.2.1.43.11.1.1.6.1.4|4|TK-1162\n{colorant}"
        );
        map_report(&Bindings::from_snmprec(&lines).unwrap())
            .snapshot
            .consumables
            .iter()
            .map(|c| c.colour.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(walk(""), [Some(Colour::Cyan), Some(Colour::Black), None, None]);
    let magenta = "1.3.6.1.2.1.43.11.1.1.3.1.1|2|1\n1.3.6.1.2.1.43.12.1.1.4.1.1|4|magenta\n";
    assert_eq!(walk(magenta)[0], Some(Colour::Magenta), "the colorant first");
}

/// The Finisher MIB's finishing processes are accessories: named by their description, else by
/// their process; on, off, not present, or on and broken.
#[test]
fn finishers_are_accessories() {
    let walk = "\
1.3.6.1.2.1.43.30.1.1.2.1.1|2|3
1.3.6.1.2.1.43.30.1.1.3.1.1|2|3
1.3.6.1.2.1.43.30.1.1.9.1.1|2|0
1.3.6.1.2.1.43.30.1.1.10.1.1|4|Stapler
1.3.6.1.2.1.43.30.1.1.2.1.2|2|8
1.3.6.1.2.1.43.30.1.1.3.1.2|2|4
1.3.6.1.2.1.43.30.1.1.2.1.3|2|4
1.3.6.1.2.1.43.30.1.1.3.1.3|2|5
1.3.6.1.2.1.43.30.1.1.2.1.4|2|16
1.3.6.1.2.1.43.30.1.1.3.1.4|2|3
1.3.6.1.2.1.43.30.1.1.9.1.4|2|19
1.3.6.1.2.1.43.30.1.1.2.1.5|2|99
1.3.6.1.2.1.43.30.1.1.2.1.6|2|2
1.3.6.1.2.1.43.30.1.1.3.1.6|2|1
";
    let r = printfleet_sources::snmp::printer_mib::map(&Bindings::from_snmprec(walk).unwrap()).report;
    assert_eq!(r.validate(), Ok(()));
    let accessories: Vec<_> = r.snapshot.accessories.iter().map(|a| (a.name.as_str(), a.status)).collect();
    assert_eq!(
        accessories,
        [
            ("Stapler", AccessoryStatus::OK),
            ("puncher", AccessoryStatus::DISABLED),
            ("folder", AccessoryStatus::NOT_INSTALLED),
            ("stacker", AccessoryStatus::ERROR),
            ("finisher", AccessoryStatus::UNKNOWN),
            ("finisher", AccessoryStatus::OTHER),
        ]
    );
    // Epson's label printers and plotter have a trimmer.
    for name in ["epson_cw-c6500au", "epson_sc-t3405"] {
        let r = report(name);
        let trimmer: Vec<_> = r.snapshot.accessories.iter().map(|a| (a.name.as_str(), a.status)).collect();
        assert_eq!(trimmer, [("Trimmer", AccessoryStatus::OK)], "{name}");
    }
}
