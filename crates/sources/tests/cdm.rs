//! The CDM mapping on a real HP Smart Tank 580-590 (testdata/third-party/ha-hp-printers-cn,
//! from kou147258/ha-hp-printers-cn, MIT, anonymised upstream; commits in PROVENANCE.txt): every
//! value below is read off its documents. Then documents written for a rule (a laser printer's
//! members, which no public capture shows: the field names its parsers read), and hostile ones.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use printfleet_schema::codes::{
    AlertCode, AlertGroup, AlertSeverity, ConsumableStatus, DeviceState, EngineStatus, PrinterState, SupplyType,
};
use printfleet_schema::{Capacity, Colour, DetectedErrors, Level, MeterKind, RecordId};
use printfleet_sources::cdm::{
    CdmError, Document, Documents, Endpoint, MAX_CDM_BYTES, MAX_CDM_VALUES, map, map_report,
};
use printfleet_sources::{Finding, Mapped, Source};
use proptest::prelude::*;

fn smart_tank() -> Mapped {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/third-party/ha-hp-printers-cn/hp_smart_tank_580_590");
    let mut docs = Documents::default();
    for endpoint in Endpoint::ALL {
        let bytes = std::fs::read(dir.join(endpoint.file_name())).unwrap();
        docs.insert(*endpoint, Document::parse(&bytes).unwrap());
    }
    let mapped = map(&docs);
    assert_eq!(mapped.report.validate(), Ok(()));
    mapped
}

fn doc(json: &str) -> Option<Document> {
    Some(Document::parse(json.as_bytes()).unwrap())
}

#[test]
fn smart_tank_identity_and_status() {
    let r = smart_tank().report;
    let id = &r.identity;
    assert_eq!(id.make.as_deref(), Some("HP"));
    assert_eq!(id.model.as_deref(), Some("Smart Tank 580-590 series"));
    assert_eq!(id.product_name.as_deref(), Some("Smart Tank 580-590 series"));
    assert_eq!(id.serial_number.as_deref(), Some("SN-ANON-0000"));
    assert_eq!(id.product_number.as_deref(), Some("ANON-0000"));
    assert_eq!(id.firmware_version.as_deref(), Some("LWP1CN2630CR"));
    // `inPowerSave` (system) while the print service is `idle` with no reason.
    let s = r.snapshot.status;
    assert_eq!((s.engine, s.printer, s.device), (EngineStatus::SLEEP, PrinterState::IDLE, DeviceState::RUNNING));
    assert_eq!(s.errors, DetectedErrors::NONE);
}

/// Four ink tanks at 100 %, and the two "ink cartridges" beside them, which are the printheads
/// the tanks feed: no level, a part number to order.
#[test]
fn smart_tank_tanks_are_ink_and_its_cartridges_are_printheads() {
    let c = smart_tank().report.snapshot.consumables;
    let seen: Vec<_> =
        c.iter().map(|c| (c.record_id.0, c.kind, c.colour.clone(), c.level, c.part_number.as_deref())).collect();
    assert_eq!(
        seen,
        [
            (1, SupplyType::PRINTHEAD, Some(Colour::TriColour), Level::Unknown, Some("M0H50A")),
            (2, SupplyType::PRINTHEAD, Some(Colour::Black), Level::Unknown, Some("X4E75A")),
            (3, SupplyType::INK_CARTRIDGE, Some(Colour::Black), Level::Amount(100), None),
            (4, SupplyType::INK_CARTRIDGE, Some(Colour::Cyan), Level::Amount(100), None),
            (5, SupplyType::INK_CARTRIDGE, Some(Colour::Magenta), Level::Amount(100), None),
            (6, SupplyType::INK_CARTRIDGE, Some(Colour::Yellow), Level::Amount(100), None),
        ]
    );
    assert!(c.iter().all(|c| c.capacity == Capacity::Amount(100)));
    // `inform` (a used printhead's notice) and `ok` are both fine.
    assert!(c.iter().all(|c| c.status == ConsumableStatus::OK), "{c:?}");
}

/// The device's impressions `total` (10531) is not its mono + colour (647 + 722 = 1369, which
/// its one-sided sheet counter confirms): the sum is the meter, the total a dispute.
#[test]
fn smart_tank_meters_and_the_total_it_contradicts() {
    let mapped = smart_tank();
    let m = &mapped.report.snapshot.meters;
    for (kind, value) in [
        (MeterKind::TOTAL, 1369),
        (MeterKind::MONO, 647),
        (MeterKind::COLOUR, 722),
        (MeterKind::PRINT, 1259),
        (MeterKind::PRINT_MONO, 551),
        (MeterKind::PRINT_COLOUR, 708),
        (MeterKind::COPIES, 110),
        (MeterKind::COPY_MONO, 96),
        (MeterKind::COPY_COLOUR, 14),
        (MeterKind::SHEETS, 1369),
        (MeterKind::SCANS, 94),
    ] {
        assert_eq!(m.get(&kind), Some(value), "{kind}");
    }
    assert_eq!(m.get(&MeterKind::DUPLEX_SHEETS), None, "a one-sided printer: no duplex member");
    let total = mapped.meters.iter().find(|r| r.kind == MeterKind::TOTAL).unwrap();
    assert_eq!(total.sources, [Source::Cdm("lifetimeCounters/printUsage/impressions/monochrome+color")]);
    assert_eq!(total.disputed_by.len(), 1);
    assert_eq!(total.disputed_by[0].value, 10531);
    assert!(mapped.findings.contains(&Finding::MeterDisputed {
        kind: MeterKind::TOTAL,
        value: 1369,
        others: vec![10531]
    }));
    // Copies agree with their parts: one source, no dispute.
    assert!(!mapped.meters.iter().find(|r| r.kind == MeterKind::COPIES).unwrap().is_disputed());
    // `sendImages` is -16 on this firmware: no reading, said.
    assert!(mapped.findings.iter().any(|f| matches!(
        f,
        Finding::ValueClamped { field: "lifetimeCounters/scanUsage/sendImages", value: -16, replaced_by: None }
    )));
}

/// A total that is not mono + colour is kept as read (as LEDM's), the sum disputing it, unless
/// the total is more impressions than the counted sheets can carry (two per two-sided sheet,
/// or two per sheet where the device does not count two-sided ones) while the sum is not; each
/// family on its own numbers; sheets or parts of 0 prove nothing.
#[test]
fn a_total_stands_unless_the_sheets_cannot_carry_it() {
    let total_of = |impressions: &str, sheets: &str| {
        let counters = format!(
            r#"{{"printUsage": {{"impressions": {impressions},
                "copyImpressions": {{"monochrome": 5, "color": 5, "total": 12}}{sheets}}}}}"#
        );
        let mapped = map(&Documents { lifetime_counters: doc(&counters), ..Documents::default() });
        assert_eq!(mapped.report.validate(), Ok(()));
        let reading = |kind| mapped.meters.iter().find(|r| r.kind == kind).unwrap().clone();
        let (total, copies) = (reading(MeterKind::TOTAL), reading(MeterKind::COPIES));
        let others = |r: &printfleet_sources::MeterReading| r.disputed_by.iter().map(|d| d.value).collect::<Vec<_>>();
        ((total.value, others(&total)), (copies.value, others(&copies)))
    };
    let parts = r#"{"monochrome": 60, "color": 40, "total": 130}"#;
    // Copies: 12 against 5 + 5, within what any sheet count here carries: always as read.
    let copies = (12, vec![10]);
    assert_eq!(total_of(parts, ""), ((130, vec![100]), copies.clone()), "no sheets: as read");
    assert_eq!(
        total_of(parts, r#", "sheets": {"total": 99}"#),
        ((130, vec![100]), copies.clone()),
        "99 sheets carry 198"
    );
    assert_eq!(
        total_of(parts, r#", "sheets": {"total": 60}"#),
        ((100, vec![130]), copies.clone()),
        "60 sheets carry at most 120 impressions: 130 cannot be, 100 can"
    );
    assert_eq!(
        total_of(parts, r#", "sheets": {"total": 80, "duplex": 20}"#),
        ((100, vec![130]), copies.clone()),
        "80 sheets, 20 of them two-sided: at most 100 impressions"
    );
    assert_eq!(
        total_of(parts, r#", "sheets": {"total": 40, "duplex": 0}"#),
        ((130, vec![100]), copies),
        "40 one-sided sheets cannot carry the sum either: nothing to prefer"
    );
    let zeros = r#"{"monochrome": 0, "color": 0, "total": 5000}"#;
    assert_eq!(
        total_of(zeros, r#", "sheets": {"total": 0}"#).0,
        (5000, vec![0]),
        "zero parts and sheets prove nothing"
    );
    assert_eq!(total_of(zeros, r#", "sheets": {"total": 10}"#).0, (5000, vec![0]), "parts of 0 prove nothing");
}

/// Slots counted from 0 (as LEDM's stations are) are shifted to count from 1; slots missing or
/// repeated give every supply its place in the list plus one, never a mix.
#[test]
fn slots_from_zero_and_slots_missing_give_distinct_record_ids() {
    let ids = |list: &str| {
        let r =
            map_report(&Documents { supplies: doc(&format!(r#"{{"suppliesList": {list}}}"#)), ..Documents::default() });
        assert_eq!(r.validate(), Ok(()));
        r.snapshot.consumables.iter().map(|c| c.record_id.0).collect::<Vec<_>>()
    };
    assert_eq!(ids(r#"[{"slot": 0}, {"slot": 1}, {"slot": 2}]"#), [1, 2, 3]);
    assert_eq!(ids(r#"[{"slot": 4}, {"slot": 7}]"#), [4, 7]);
    assert_eq!(ids(r#"[{"slot": 3}, {}, {"slot": 1}]"#), [1, 2, 3], "one without a slot");
    assert_eq!(ids(r#"[{"slot": 2}, {"slot": 2}]"#), [1, 2], "a slot twice");
    assert_eq!(ids(r#"[{"slot": -1}, {"slot": 5}]"#), [1, 2], "a slot that is no number of ours");
}

/// Each alert points at a supply by its place in `suppliesList` (`/suppliesList/2/colors`):
/// the third entry, slot 3, the black tank.
#[test]
fn smart_tank_alerts_name_their_supplies() {
    let alerts = smart_tank().report.snapshot.alerts;
    assert_eq!(alerts.len(), 6);
    let first = &alerts[0];
    assert_eq!(first.record_id, RecordId(31_719_425));
    assert_eq!(first.vendor_code.as_deref(), Some("genuineHPsupply"));
    assert_eq!(first.description.as_deref(), Some("genuineHPsupply (K)"));
    assert_eq!((first.group, first.group_index), (AlertGroup::MARKER_SUPPLIES, Some(3)));
    assert_eq!((first.code, first.severity), (AlertCode::OTHER, AlertSeverity::OTHER));
    let indices: Vec<_> = alerts.iter().map(|a| a.group_index).collect();
    assert_eq!(indices, [Some(3), Some(4), Some(5), Some(6), Some(1), Some(2)]);
    assert_eq!(alerts[4].description.as_deref(), Some("usedSupplyPrompt (CMY)"));
}

/// An alert names its supply by `slotIdentifier` where it gives one, whatever place it points
/// at (the two documents are fetched apart and may list supplies in another order); by the
/// place where it gives none; by nothing where the supplies are missing or none matches. A
/// printhead's alert (an `inkCartridge` beside tanks) is no ink alert.
#[test]
fn alerts_find_their_supply_by_slot_identifier_then_by_place() {
    let supplies = doc(r#"{"suppliesList": [
        {"slot": 1, "slotIdentifier": 109, "supplyType": "inkCartridge", "supplyColorCode": "CMY"},
        {"slot": 2, "slotIdentifier": 114, "supplyType": "inkTank", "supplyColorCode": "K"}]}"#);
    let alert = |index: usize, identifier: Option<u32>| {
        let id = identifier.map_or(String::new(), |v| {
            format!(r#", {{"propertyPointer": "/suppliesList/{index}/slotIdentifier", "value": {{"iValue": {v}}}}}"#)
        });
        format!(
            r#"{{"id": 1, "category": "cartridgeLow", "severity": "warning", "data": [
                {{"propertyPointer": "/suppliesList/{index}/colors", "value": {{"seValue": "K"}}}}{id}]}}"#
        )
    };
    let linked = |supplies: Option<Document>, alert: String| {
        let alerts = doc(&format!(r#"{{"alerts": [{alert}]}}"#));
        let r = map_report(&Documents { supplies, alerts, ..Documents::default() });
        assert_eq!(r.validate(), Ok(()));
        let a = &r.snapshot.alerts[0];
        (a.group, a.group_index, a.code)
    };
    let tank = (AlertGroup::MARKER_SUPPLIES, Some(2), AlertCode::MARKER_INK_ALMOST_EMPTY);
    assert_eq!(linked(supplies.clone(), alert(1, Some(114))), tank, "place and identifier agree");
    assert_eq!(linked(supplies.clone(), alert(0, Some(114))), tank, "the identifier decides");
    assert_eq!(linked(supplies.clone(), alert(1, None)), tank, "no identifier: the place");
    let nowhere = linked(supplies.clone(), alert(1, Some(999)));
    assert_eq!((nowhere.0, nowhere.1), (AlertGroup::MARKER_SUPPLIES, None), "an identifier no supply has");
    let head = linked(supplies.clone(), alert(0, Some(109)));
    assert_eq!(head.1, Some(1));
    assert_ne!(head.2, AlertCode::MARKER_INK_ALMOST_EMPTY, "a printhead is no ink supply");
    let missing = linked(None, alert(1, Some(114)));
    assert_eq!((missing.0, missing.1), (AlertGroup::MARKER_SUPPLIES, None), "no supplies document");
}

/// A laser printer's supplies as its parsers read them (no public capture): levels, level
/// states, states, flags written as strings, part numbers, clamped levels.
#[test]
fn toner_states_levels_and_flags() {
    let supplies = doc(r#"{"suppliesList": [
        {"slot": 1, "supplyType": "toner", "supplyColorCode": "K", "percentLifeDisplay": 12,
         "supplyState": "ok", "levelState": "low", "orderPartNumber": "W2110A"},
        {"slot": 2, "supplyType": "rechargeableToner", "supplyColorCode": "C", "supplyState": "missing"},
        {"slot": 3, "supplyType": "toner", "supplyColorCode": "M", "percentLifeRemaining": "55",
         "supplyState": "ok", "isGenuineHP": "false"},
        {"slot": 4, "supplyType": "toner", "supplyColorCode": "Y", "percentLifeDisplay": 130,
         "supplyState": "glowing", "levelState": "ok"},
        {"slot": 5, "supplyType": "inkCartridge", "supplyColorCode": "K", "percentLifeDisplay": 3, "levelState": "veryLow"},
        {"slot": 6, "supplyType": "inkCartridge", "supplyColorCode": "C", "percentLifeDisplay": 9,
         "supplyState": "inform", "levelState": "low"},
        {"slot": 7, "supplyType": "inkCartridge", "supplyColorCode": "M", "percentLifeDisplay": 50, "isRefilled": "true"}
    ]}"#);
    let mapped = map(&Documents { supplies, ..Documents::default() });
    assert_eq!(mapped.report.validate(), Ok(()));
    let c = &mapped.report.snapshot.consumables;
    let seen: Vec<_> = c.iter().map(|c| (c.record_id.0, c.kind, c.level, c.status)).collect();
    assert_eq!(
        seen,
        [
            (1, SupplyType::TONER_CARTRIDGE, Level::Amount(12), ConsumableStatus::LOW),
            (2, SupplyType::TONER_CARTRIDGE, Level::Unknown, ConsumableStatus::MISSING),
            (3, SupplyType::TONER_CARTRIDGE, Level::Amount(55), ConsumableStatus::NON_GENUINE),
            (4, SupplyType::TONER_CARTRIDGE, Level::Amount(100), ConsumableStatus::OK),
            // No tanks: an ink cartridge is one.
            (5, SupplyType::INK_CARTRIDGE, Level::Amount(3), ConsumableStatus::VERY_LOW),
            (6, SupplyType::INK_CARTRIDGE, Level::Amount(9), ConsumableStatus::LOW),
            (7, SupplyType::INK_CARTRIDGE, Level::Amount(50), ConsumableStatus::NON_GENUINE),
        ]
    );
    assert_eq!(c[0].part_number.as_deref(), Some("W2110A"));
    for expected in [
        Finding::ValueClamped { field: "suppliesPublic/percentLifeDisplay", value: 130, replaced_by: Some(100) },
        Finding::UnmappedValue { field: "suppliesPublic/supplyState", text: "glowing".into() },
        Finding::DocumentMissing { document: "/cdm/system/v1/identity" },
        Finding::NoPageCounter,
    ] {
        assert!(mapped.findings.contains(&expected), "{expected:?} in {:?}", mapped.findings);
    }
    // Without an identity document the make is still HP's (only HP devices serve CDM).
    assert_eq!(mapped.report.identity.make.as_deref(), Some("HP"));
}

#[test]
fn supply_alerts_take_ledms_codes_and_a_stopped_printer_its_reasons() {
    let supplies = doc(r#"{"suppliesList": [{"slot": 7, "supplyType": "toner", "supplyColorCode": "K"}]}"#);
    let alerts = doc(r#"{"alerts": [
        {"id": 9, "category": "cartridgeLow", "severity": "warning",
         "data": [{"propertyPointer": "/suppliesList/0/colors", "value": {"seValue": "K"}}]},
        {"id": 10, "category": "doorOpen", "severity": "error", "data": []},
        {"category": "somethingNew"}
    ]}"#);
    let print_status = doc(r#"{"printerState": "stopped", "printerStateReasons": ["mediaEmpty", "door-open-error"]}"#);
    let system_status = doc(r#"{"status": "processing"}"#);
    let r = map_report(&Documents { supplies, alerts, print_status, system_status, ..Documents::default() });
    assert_eq!(r.validate(), Ok(()));
    let a = &r.snapshot.alerts;
    assert_eq!(
        (a[0].code, a[0].group, a[0].group_index),
        (AlertCode::MARKER_TONER_ALMOST_EMPTY, AlertGroup::MARKER_SUPPLIES, Some(7))
    );
    assert_eq!(a[0].severity, AlertSeverity::WARNING);
    assert_eq!(
        (a[1].code, a[1].group, a[1].severity),
        (AlertCode::DOOR_OPEN, AlertGroup::COVER, AlertSeverity::CRITICAL)
    );
    // No id: 2^32 + its place in the list (apart from any id a device gives).
    assert_eq!((a[2].record_id, a[2].code, a[2].group), (RecordId((1 << 32) | 2), AlertCode::OTHER, AlertGroup::OTHER));
    let s = r.snapshot.status;
    assert_eq!((s.device, s.printer), (DeviceState::DOWN, PrinterState::OTHER));
    assert!(s.errors.contains(DetectedErrors::NO_PAPER) && s.errors.contains(DetectedErrors::DOOR_OPEN), "{s:?}");
}

/// The device state is the worse of the system's and the print service's; the system's engine
/// and printer state stand where the print service gives none.
#[test]
fn the_worse_state_of_system_and_print_service_is_the_devices() {
    let status = |system: &str, print: &str| {
        let r = map_report(&Documents { system_status: doc(system), print_status: doc(print), ..Documents::default() });
        r.snapshot.status
    };
    let s = status(r#"{"status": "jammed"}"#, r#"{"printerState": "idle", "printerStateReasons": ["none"]}"#);
    assert_eq!(s.device, DeviceState::DOWN, "a jam the print service does not mention");
    assert!(s.errors.contains(DetectedErrors::JAMMED));
    let s = status(r#"{"status": "processing"}"#, r#"{"printerStateReasons": []}"#);
    assert_eq!((s.engine, s.printer, s.device), (EngineStatus::PRINTING, PrinterState::PRINTING, DeviceState::RUNNING));
    let s = status(r#"{"status": "trayEmpty"}"#, r#"{"printerState": "processing"}"#);
    assert_eq!((s.printer, s.device), (PrinterState::PRINTING, DeviceState::WARNING));
}

/// Identity members as other parsers read them: `makeAndModel` as a string, `firmwareRelease`
/// where `firmwareVersion` is missing, no `manufacturer` (HP's).
#[test]
fn identity_in_its_other_forms() {
    let identity = doc(r#"{"makeAndModel": "HP Color LaserJet Pro MFP 3302", "firmwareRelease": "6.28.3.30"}"#);
    let r = map_report(&Documents { identity, ..Documents::default() });
    assert_eq!(r.identity.make.as_deref(), Some("HP"));
    assert_eq!(r.identity.model.as_deref(), Some("HP Color LaserJet Pro MFP 3302"));
    assert_eq!(r.identity.product_name.as_deref(), Some("HP Color LaserJet Pro MFP 3302"));
    assert_eq!(r.identity.firmware_version.as_deref(), Some("6.28.3.30"));
    assert_eq!(r.identity.serial_number, None);
}

#[test]
fn documents_are_bounded_json_objects() {
    assert!(matches!(Document::parse(b"[1, 2]"), Err(CdmError::NotAnObject)));
    assert!(matches!(Document::parse(b"{\"a\": "), Err(CdmError::Malformed(_))));
    assert!(Document::parse(b"\xef\xbb\xbf{}").is_ok(), "a byte-order mark is skipped");
    let deep = format!("{}{}", "{\"a\":".repeat(200), "}".repeat(200));
    assert!(matches!(Document::parse(deep.as_bytes()), Err(CdmError::Malformed(_))), "serde_json's depth limit");
    let big = vec![b' '; MAX_CDM_BYTES + 1];
    assert!(matches!(Document::parse(&big), Err(CdmError::TooLarge { .. })));
    // Many small values in few bytes: refused before parsing, at the limit and not below it.
    let values = |n: usize| format!("{{\"a\": [{}0]}}", "0,".repeat(n));
    assert!(Document::parse(values(MAX_CDM_VALUES - 2).as_bytes()).is_ok());
    assert!(matches!(Document::parse(values(MAX_CDM_VALUES).as_bytes()), Err(CdmError::TooManyValues { .. })));
    // A server that answers `{}` everywhere is no printer.
    let mut empty = Documents::default();
    for endpoint in Endpoint::ALL {
        empty.insert(*endpoint, Document::parse(b"{}").unwrap());
    }
    assert!(!empty.recognised());
    empty.insert(Endpoint::PrintStatus, Document::parse(br#"{"printerState": "idle"}"#).unwrap());
    assert!(empty.recognised());

    // Members of the wrong type are absent, never a panic.
    let odd = doc(r#"{"suppliesList": "no", "printUsage": [1], "alerts": {"a": 1}, "status": 5,
        "makeAndModel": 7, "printerStateReasons": "none"}"#);
    let docs = Documents {
        identity: odd.clone(),
        supplies: odd.clone(),
        lifetime_counters: odd.clone(),
        alerts: odd.clone(),
        system_status: odd.clone(),
        print_status: odd,
    };
    let r = map_report(&docs);
    assert_eq!(r.validate(), Ok(()));
    assert!(r.snapshot.consumables.is_empty() && r.snapshot.alerts.is_empty() && r.snapshot.meters.is_empty());
}

/// Any JSON value tree (of the shapes the mapping reads, with any contents).
fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            "K",
            "CMY",
            "toner",
            "inkTank",
            "inkCartridge",
            "ok",
            "low",
            "true",
            "-3",
            "/suppliesList/0/colors",
            "/suppliesList/1/slotIdentifier",
            "idle",
            "stopped",
            "mediaEmpty",
            ""
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        let keys = prop::sample::select(vec![
            "suppliesList",
            "slot",
            "supplyType",
            "supplyColorCode",
            "percentLifeDisplay",
            "supplyState",
            "levelState",
            "printUsage",
            "impressions",
            "total",
            "monochrome",
            "color",
            "sheets",
            "alerts",
            "data",
            "propertyPointer",
            "value",
            "seValue",
            "id",
            "category",
            "severity",
            "status",
            "printerState",
            "printerStateReasons",
            "makeAndModel",
            "name",
            "serialNumber",
            "isGenuineHP",
            "printOtherImpressions",
            "copyImpressions",
            "duplex",
            "scanUsage",
            "totalImages",
            "colors",
            "slotIdentifier",
            "iValue",
            "percentLifeRemaining",
            "isRefilled",
            "manufacturer",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest! {
    /// Whatever object a device serves, in every role at once, maps to a valid report.
    #[test]
    fn any_document_maps_to_a_valid_report(members in prop::collection::vec((".{0,4}|suppliesList|alerts|printUsage", json()), 0..6)) {
        let object: serde_json::Map<String, serde_json::Value> = members.into_iter().collect();
        let bytes = serde_json::to_vec(&serde_json::Value::Object(object)).unwrap();
        let doc = Document::parse(&bytes).unwrap();
        let mut docs = Documents::default();
        for endpoint in Endpoint::ALL {
            docs.insert(*endpoint, doc.clone());
        }
        prop_assert_eq!(map_report(&docs).validate(), Ok(()));
    }
}
