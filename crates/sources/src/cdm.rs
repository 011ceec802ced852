//! HP CDM (`/cdm/...` JSON) documents → a device report.
//!
//! HP's newer devices (Smart Tank 580-590, Color LaserJet Pro 3000-series and later) serve the
//! Common Data Model, JSON under `/cdm/`, instead of (or beside) LEDM's `/DevMgmt/*.xml`. A
//! collector fetches the [`ENDPOINTS`] (GET only: the same unauthenticated interface also takes
//! writes), [`Document::parse`]s each body (bounded by [`MAX_CDM_BYTES`]; nesting by
//! `serde_json`'s recursion limit of 128), and [`map`]s them:
//!
//! * `system/v1/identity`: make (`manufacturer`, else HP), model (`makeAndModel`, an object
//!   `{base, family, name}` or a string), serial and product number, firmware version;
//! * `supply/v1/suppliesPublic`: each entry of `suppliesList` — slot, type, colour code,
//!   `percentLifeDisplay`, part and serial number, `supplyState` and `levelState`;
//! * `deviceUsage/v1/lifetimeCounters`: impressions (all, mono, colour), prints and copies
//!   (each all, mono, colour), sheets, two-sided sheets and scanned images (meters);
//! * `alert/v1/alerts`: each alert, with the supply its data points at;
//! * `system/v1/status` and `print/v2/status`: the device's state, its printer state and the
//!   IPP-style `printerStateReasons`.
//!
//! Values are read as devices write them: HP writes flags as the strings `"true"` and
//! `"false"`, and some counters as negative numbers (a Smart Tank 580-590's `sendImages` is
//! -16), which are no reading (a finding). Members that are missing or of another type are
//! absent. Mapped on one public real device (a Smart Tank 580-590, in
//! `testdata/third-party/ha-hp-printers-cn/`); the members and values no capture of ours shows
//! are read as the field names that parsers of laser printers' documents use (said where).
//!
//! ```
//! use printfleet_sources::cdm::{Document, Documents, map_report};
//!
//! let supplies = Document::parse(br#"{"suppliesList": [{"slot": 1, "supplyType": "toner",
//!     "supplyColorCode": "K", "percentLifeDisplay": 40, "supplyState": "ok",
//!     "levelState": "ok", "orderSelectabilityNumber": "W2110A"}]}"#)?;
//! let report = map_report(&Documents { supplies: Some(supplies), ..Documents::default() });
//! let toner = &report.snapshot.consumables[0];
//! assert_eq!(toner.percent_remaining(), Some(40));
//! assert_eq!(toner.part_number.as_deref(), Some("W2110A"));
//! # Ok::<(), printfleet_sources::cdm::CdmError>(())
//! ```

use printfleet_schema::codes::{
    AlertCode, AlertGroup, AlertSeverity, ConsumableStatus, DeviceState, EngineStatus, PrinterState, SupplyType,
    SupplyUnit,
};
use printfleet_schema::limits::MAX_RECORDS;
use printfleet_schema::{Alert, Capacity, Consumable, DeviceReport, DeviceStatus, Identity, MeterKind, RecordId};
use serde_json::{Map, Value};

use crate::finding::{Finding, Findings, Mapped, MeterBook, Rank, Source};
use crate::ledm;
use crate::snmp::printer_mib::{clean_text, plausible_serial};

/// The largest CDM document [`Document::parse`] accepts.
pub const MAX_CDM_BYTES: usize = 1 << 20;

/// The endpoints [`map`] reads, in the order of [`Documents`]' fields (paths below the device's
/// address).
pub const ENDPOINTS: [&str; 6] = [
    "/cdm/system/v1/identity",
    "/cdm/supply/v1/suppliesPublic",
    "/cdm/deviceUsage/v1/lifetimeCounters",
    "/cdm/alert/v1/alerts",
    "/cdm/system/v1/status",
    "/cdm/print/v2/status",
];

/// Why a CDM document could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CdmError {
    /// The document is larger than [`MAX_CDM_BYTES`].
    #[error("CDM document is {len} bytes, limit {limit}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON (or nested deeper than `serde_json`'s recursion limit).
    #[error("malformed CDM document: {0}")]
    Malformed(String),
    /// JSON, but not an object (every CDM resource is one).
    #[error("CDM document is not a JSON object")]
    NotAnObject,
}

/// One CDM resource as a device served it: a JSON object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document(Map<String, Value>);

impl Document {
    /// Reads a response body (a UTF-8 byte-order mark is skipped).
    pub fn parse(bytes: &[u8]) -> Result<Self, CdmError> {
        if bytes.len() > MAX_CDM_BYTES {
            return Err(CdmError::TooLarge { len: bytes.len(), limit: MAX_CDM_BYTES });
        }
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(members)) => Ok(Self(members)),
            Ok(_) => Err(CdmError::NotAnObject),
            Err(e) => Err(CdmError::Malformed(e.to_string())),
        }
    }

    fn root(&self) -> Object<'_> {
        Object(Some(&self.0))
    }
}

/// The documents a collector fetched; any may be missing.
#[derive(Clone, Debug, Default)]
pub struct Documents {
    /// `/cdm/system/v1/identity`.
    pub identity: Option<Document>,
    /// `/cdm/supply/v1/suppliesPublic`.
    pub supplies: Option<Document>,
    /// `/cdm/deviceUsage/v1/lifetimeCounters`.
    pub lifetime_counters: Option<Document>,
    /// `/cdm/alert/v1/alerts` (or `/cdm/supply/v1/alerts`, the supplies' alerts alone).
    pub alerts: Option<Document>,
    /// `/cdm/system/v1/status`.
    pub system_status: Option<Document>,
    /// `/cdm/print/v2/status`.
    pub print_status: Option<Document>,
}

impl Documents {
    /// The field that holds the document of `endpoint` (one of [`ENDPOINTS`]).
    pub fn slot_mut(&mut self, endpoint: &str) -> Option<&mut Option<Document>> {
        let index = ENDPOINTS.iter().position(|e| *e == endpoint)?;
        self.slots_mut().into_iter().nth(index)
    }

    fn slots(&self) -> [&Option<Document>; 6] {
        [&self.identity, &self.supplies, &self.lifetime_counters, &self.alerts, &self.system_status, &self.print_status]
    }

    fn slots_mut(&mut self) -> [&mut Option<Document>; 6] {
        [
            &mut self.identity,
            &mut self.supplies,
            &mut self.lifetime_counters,
            &mut self.alerts,
            &mut self.system_status,
            &mut self.print_status,
        ]
    }

    /// Whether no document is there.
    pub fn is_empty(&self) -> bool {
        self.slots().iter().all(|d| d.is_none())
    }
}

/// The file name a capture keeps an endpoint's document under: the path without its leading
/// `/`, each `/` an `_`, and `.json` (`cdm_system_v1_identity.json`), as public captures name
/// them.
pub fn file_name(endpoint: &str) -> String {
    format!("{}.json", endpoint.trim_start_matches('/').replace('/', "_"))
}

/// A JSON object, or nothing: every read of a missing member, or of one of another type, is
/// absent.
#[derive(Clone, Copy)]
struct Object<'a>(Option<&'a Map<String, Value>>);

impl<'a> Object<'a> {
    fn value(self, key: &str) -> Option<&'a Value> {
        self.0?.get(key)
    }

    fn object(self, key: &str) -> Self {
        Self(self.value(key).and_then(Value::as_object))
    }

    fn list(self, key: &str) -> impl Iterator<Item = Object<'a>> {
        self.value(key).and_then(Value::as_array).into_iter().flatten().take(MAX_RECORDS).map(|v| Self(v.as_object()))
    }

    /// A string member as clean text (at most the schema's text limit).
    fn text(self, key: &str) -> Option<String> {
        self.value(key).and_then(Value::as_str).and_then(|s| clean_text(s.as_bytes()))
    }

    /// An integer member, written as a number or as a string of digits.
    fn int(self, key: &str) -> Option<i64> {
        match self.value(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A flag, written as HP writes them (`"true"`, `"false"`) or as a JSON boolean.
    fn flag(self, key: &str) -> Option<bool> {
        match self.value(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }
}

fn identity(doc: &Document) -> Identity {
    let root = doc.root();
    // `makeAndModel`: an object on the Smart Tank 580-590, a string in other parsers' tests.
    let names = root.object("makeAndModel");
    let model = names.text("name").or_else(|| names.text("base")).or_else(|| root.text("makeAndModel"));
    Identity {
        make: Some(
            root.text("manufacturer").and_then(|m| crate::make::normalise(&m)).unwrap_or_else(|| "HP".to_owned()),
        ),
        product_name: names.text("family").or_else(|| model.clone()),
        model,
        serial_number: root.text("serialNumber").filter(|s| plausible_serial(s)),
        product_number: root.text("productNumber"),
        firmware_version: root.text("firmwareVersion").or_else(|| root.text("firmwareRelease")),
        ..Identity::default()
    }
}

/// `supplyState` values that say where the supply is in its life, not how much is left (with
/// LEDM's, [`ledm::LIFECYCLE_STATES`]): `inform`, a used cartridge's notice on the Smart Tank
/// 580-590 (with `stateReasons` `usedConsumableInfo`).
const NOTICE_STATES: &[&str] = &["inform"];

/// A supply's status: its `supplyState` as LEDM's `ConsumableState` ([`ledm::consumable_status`]),
/// where a lifecycle or notice state takes low, very low or out from `levelState`; a supply HP
/// says is not genuine (`isGenuineHP` false) or refilled is not genuine, unless its state says
/// worse. Unknown texts are findings.
fn supply_status(supply: Object<'_>, findings: &mut Findings) -> ConsumableStatus {
    let state = supply.text("supplyState");
    let level_state = supply.text("levelState");
    let lifecycle = state.as_deref().is_none_or(|s| ledm::LIFECYCLE_STATES.contains(&s) || NOTICE_STATES.contains(&s));
    let measured = level_state.and_then(|m| {
        let status = ledm::measured_status(&m);
        if status.is_none() && m != ledm::MEASURED_UNKNOWN {
            findings.push(Finding::UnmappedValue { field: "suppliesPublic/levelState", text: m });
        }
        status
    });
    let status = match state {
        Some(s) if NOTICE_STATES.contains(&s.as_str()) => measured.unwrap_or(ConsumableStatus::OK),
        Some(s) => match ledm::consumable_status(&s) {
            Some(status) if lifecycle => measured.unwrap_or(status),
            Some(status) => status,
            None => {
                findings.push(Finding::UnmappedValue { field: "suppliesPublic/supplyState", text: s });
                measured.unwrap_or(ConsumableStatus::UNKNOWN)
            }
        },
        None => measured.unwrap_or(ConsumableStatus::UNKNOWN),
    };
    let not_genuine = supply.flag("isGenuineHP") == Some(false) || supply.flag("isRefilled") == Some(true);
    if not_genuine && matches!(status, ConsumableStatus::OK | ConsumableStatus::UNKNOWN) {
        ConsumableStatus::NON_GENUINE
    } else {
        status
    }
}

/// A supply's record id: its `slot` (counted from 1), else its place in the list plus one.
fn supply_record(supply: Object<'_>, index: usize) -> RecordId {
    let slot = supply.int("slot").and_then(|s| u64::try_from(s).ok()).filter(|s| *s > 0);
    RecordId(slot.unwrap_or_else(|| u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1)))
}

/// The supplies of `suppliesPublic`, one per entry of `suppliesList`, typed as LEDM's
/// ([`ledm::supply_type_among`]: on a device with ink tanks, an `inkCartridge` is the printhead
/// they feed; the Smart Tank 580-590's, M0H50A and X4E75A, have no level). The level is
/// `percentLifeDisplay` (else `percentLifeRemaining`, which a CDM reader falls back on), a
/// percentage; a supply without one (a printhead) has an unknown level. The part number is
/// the number to order (`orderSelectabilityNumber`, else `selectabilityNumber`, else the
/// `orderPartNumber` or `productNumber` laser printers' documents are read for).
fn consumables(doc: &Document, findings: &mut Findings) -> Vec<Consumable> {
    let list = || doc.root().list("suppliesList");
    let tanks = list().any(|s| s.text("supplyType").as_deref() == Some("inkTank"));
    list()
        .enumerate()
        .map(|(i, s)| {
            let kind = s.text("supplyType").map_or(SupplyType::UNKNOWN, |t| ledm::supply_type_among(&t, tanks));
            let level = match s.int("percentLifeDisplay") {
                Some(v) => ledm::percent(Some(v), "suppliesPublic/percentLifeDisplay", findings),
                None => ledm::percent(s.int("percentLifeRemaining"), "suppliesPublic/percentLifeRemaining", findings),
            };
            Consumable {
                record_id: supply_record(s, i),
                kind,
                class: ledm::class_of(kind),
                colour: s.text("supplyColorCode").as_deref().and_then(ledm::colour_of),
                part_number: s
                    .text("orderSelectabilityNumber")
                    .or_else(|| s.text("selectabilityNumber"))
                    .or_else(|| s.text("orderPartNumber"))
                    .or_else(|| s.text("productNumber")),
                serial_number: s.text("serialNumber").filter(|v| plausible_serial(v)),
                unit: SupplyUnit::PERCENT,
                level,
                capacity: Capacity::Amount(100),
                status: supply_status(s, findings),
                ..Consumable::default()
            }
        })
        .collect()
}

/// `deviceUsage/v1/lifetimeCounters` → meters.
///
/// * TOTAL, MONO, COLOUR: `printUsage/impressions` `total`, `monochrome`, `color`; PRINT,
///   PRINT_MONO, PRINT_COLOUR: `printUsage/printOtherImpressions` (printed, copies excluded);
///   COPIES, COPY_MONO, COPY_COLOUR: `printUsage/copyImpressions`.
/// * A `total` that is not its `monochrome` + `color` is kept as read, the sum disputing it (a
///   finding), as LEDM's (a Smart Tank 750: 44,492 against 44,376) — unless the sheet counter
///   corroborates the impressions' sum (`sheets` `total` + `duplex`, a two-sided sheet being two
///   impressions, equal to mono + colour): then each family's sum is the meter and the device's
///   totals dispute it. The Smart Tank 580-590 gives 10531 impressions beside 647 mono and 722
///   colour, while its sheets, on a device that prints one side only, are 1369 = 647 + 722; its
///   prints (10421 against 551 + 708) are of the same counters.
/// * SHEETS and DUPLEX_SHEETS: `printUsage/sheets` `total` and `duplex`.
/// * SCANS: `scanUsage/totalImages`, the scan service's images; copies are counted apart
///   (`copyImages`), as LEDM's scan meter excludes them.
///
/// A negative counter is no reading (a `ValueClamped` finding).
fn meters(doc: &Document, book: &mut MeterBook, findings: &mut Findings) {
    let root = doc.root();
    let print = root.object("printUsage");
    let mut read = |counters: Object<'_>, key: &str, source: &'static str| match counters.int(key) {
        Some(v) if v < 0 => {
            findings.push(Finding::ValueClamped { field: source, value: v, replaced_by: None });
            None
        }
        v => v.and_then(|v| u64::try_from(v).ok()),
    };
    const PARTS: [(&str, [MeterKind; 3], [&str; 4]); 3] = [
        (
            "impressions",
            [MeterKind::TOTAL, MeterKind::MONO, MeterKind::COLOUR],
            [
                "lifetimeCounters/printUsage/impressions/total",
                "lifetimeCounters/printUsage/impressions/monochrome",
                "lifetimeCounters/printUsage/impressions/color",
                "lifetimeCounters/printUsage/impressions/monochrome+color",
            ],
        ),
        (
            "printOtherImpressions",
            [MeterKind::PRINT, MeterKind::PRINT_MONO, MeterKind::PRINT_COLOUR],
            [
                "lifetimeCounters/printUsage/printOtherImpressions/total",
                "lifetimeCounters/printUsage/printOtherImpressions/monochrome",
                "lifetimeCounters/printUsage/printOtherImpressions/color",
                "lifetimeCounters/printUsage/printOtherImpressions/monochrome+color",
            ],
        ),
        (
            "copyImpressions",
            [MeterKind::COPIES, MeterKind::COPY_MONO, MeterKind::COPY_COLOUR],
            [
                "lifetimeCounters/printUsage/copyImpressions/total",
                "lifetimeCounters/printUsage/copyImpressions/monochrome",
                "lifetimeCounters/printUsage/copyImpressions/color",
                "lifetimeCounters/printUsage/copyImpressions/monochrome+color",
            ],
        ),
    ];
    let sheets = print.object("sheets");
    let sheets_total = read(sheets, "total", "lifetimeCounters/printUsage/sheets/total");
    let duplex = read(sheets, "duplex", "lifetimeCounters/printUsage/sheets/duplex");
    for (kind, value, at) in [
        (MeterKind::SHEETS, sheets_total, "lifetimeCounters/printUsage/sheets/total"),
        (MeterKind::DUPLEX_SHEETS, duplex, "lifetimeCounters/printUsage/sheets/duplex"),
    ] {
        if let Some(v) = value {
            book.add(kind, Rank::Vendor, Source::Cdm(at), v);
        }
    }
    let impressions = print.object("impressions");
    let sides = sheets_total.and_then(|s| s.checked_add(duplex.unwrap_or(0)));
    let sum_of = |counters: Object<'_>| {
        let part = |key| counters.int(key).and_then(|v| u64::try_from(v).ok());
        part("monochrome").zip(part("color")).and_then(|(m, c)| m.checked_add(c))
    };
    let corroborated = sides.is_some() && sides == sum_of(impressions);
    for (member, [total_kind, mono_kind, colour_kind], [total_at, mono_at, colour_at, sum_at]) in PARTS {
        let counters = print.object(member);
        let total = read(counters, "total", total_at);
        let mono = read(counters, "monochrome", mono_at);
        let colour = read(counters, "color", colour_at);
        let sum = mono.zip(colour).and_then(|(m, c)| m.checked_add(c));
        match (total, sum) {
            (Some(total), Some(sum)) if total != sum && corroborated => {
                book.add(total_kind.clone(), Rank::Vendor, Source::Cdm(sum_at), sum);
                book.add(total_kind, Rank::Contradicted, Source::Cdm(total_at), total);
            }
            (Some(total), _) => book.add(total_kind, Rank::Vendor, Source::Cdm(total_at), total),
            (None, Some(sum)) => book.add(total_kind, Rank::Vendor, Source::Cdm(sum_at), sum),
            (None, None) => {}
        }
        for (kind, value, at) in [(mono_kind, mono, mono_at), (colour_kind, colour, colour_at)] {
            if let Some(v) = value {
                book.add(kind, Rank::Vendor, Source::Cdm(at), v);
            }
        }
    }
    let scans = root.object("scanUsage");
    // Read (and checked) for the findings only: `sendImages` is negative on the Smart Tank.
    for (key, at) in [
        ("copyImages", "lifetimeCounters/scanUsage/copyImages"),
        ("sendImages", "lifetimeCounters/scanUsage/sendImages"),
    ] {
        let _ = read(scans, key, at);
    }
    if let Some(v) = read(scans, "totalImages", "lifetimeCounters/scanUsage/totalImages") {
        book.add(MeterKind::SCANS, Rank::Vendor, Source::Cdm("lifetimeCounters/scanUsage/totalImages"), v);
    }
}

/// `alert/v1/alerts` → alerts. An alert's record id is its `id`; its vendor code its
/// `category`, mapped to a Printer-MIB code and group where LEDM's alert of the same name has
/// one ([`ledm::alert_code`]: `cartridgeLow`, `doorOpen`, `trayEmpty` ...). An alert whose
/// `data` points into `suppliesList` (`/suppliesList/2/colors`) concerns that supply: its
/// group is the marker supplies and its group index the supply's record id, and its
/// description names the category and the supply's colour (`genuineHPsupply (K)`). Severity
/// `error` or `critical` is critical, `warning` a warning, anything else (`information`) other.
fn alerts(doc: &Document, supplies: Option<&Document>) -> Vec<Alert> {
    let supply = |index: usize| {
        let entry = supplies.and_then(|d| d.root().list("suppliesList").nth(index));
        (
            entry.map_or(RecordId(u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1)), |s| {
                supply_record(s, index)
            }),
            entry,
        )
    };
    doc.root()
        .list("alerts")
        .enumerate()
        .map(|(i, a)| {
            let category = a.text("category");
            // The supply the alert's data point at, and the colour they give for it.
            let mut subject: Option<(usize, Option<String>)> = None;
            for d in a.list("data") {
                let Some(pointer) = d.text("propertyPointer") else { continue };
                let Some(rest) = pointer.strip_prefix("/suppliesList/") else { continue };
                let Some(index) = rest.split('/').next().and_then(|n| n.parse::<usize>().ok()) else { continue };
                let entry = subject.get_or_insert((index, None));
                if entry.0 == index && rest.ends_with("/colors") {
                    entry.1 = d.object("value").text("seValue");
                }
            }
            let (record, entry) = subject.as_ref().map_or((None, None), |(index, _)| {
                let (record, entry) = supply(*index);
                (Some(record), entry)
            });
            let kind = entry.and_then(|e| e.text("supplyType")).map(|t| ledm::supply_type(&t));
            let (code, group) = category.as_deref().and_then(|c| ledm::alert_code(c, kind)).unzip();
            let colour = subject.and_then(|(_, colour)| colour);
            Alert {
                record_id: RecordId(
                    a.int("id")
                        .and_then(|id| u64::try_from(id).ok())
                        .unwrap_or_else(|| u64::try_from(i).unwrap_or(u64::MAX)),
                ),
                description: match (&category, colour) {
                    (Some(c), Some(colour)) => clean_text(format!("{c} ({colour})").as_bytes()),
                    _ => None,
                },
                code: code.unwrap_or(AlertCode::OTHER),
                vendor_code: category,
                group: group.unwrap_or(if record.is_some() { AlertGroup::MARKER_SUPPLIES } else { AlertGroup::OTHER }),
                group_index: record.and_then(|r| u32::try_from(r.0).ok()),
                severity: match a.text("severity").as_deref() {
                    Some("error" | "critical" | "Error" | "Critical") => AlertSeverity::CRITICAL,
                    Some("warning" | "Warning") => AlertSeverity::WARNING,
                    Some(_) => AlertSeverity::OTHER,
                    None => AlertSeverity::default(),
                },
                ..Alert::default()
            }
        })
        .collect()
}

/// `printerStateReasons` → IPP's keywords: HP writes IPP's (`none`, `media-empty`), or the
/// same in camel case (`mediaEmpty`), which is read as IPP's.
fn ipp_keyword(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len().saturating_add(4));
    for c in reason.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The status: `system/v1/status`'s `status` is a state as LEDM names them (`ready`,
/// `processing`, `inPowerSave` ...; [`ledm::status_of_categories`]); `print/v2/status` gives
/// the printer's IPP-style state (`idle`, `processing`, `stopped`) and `printerStateReasons`,
/// read as IPP's `printer-state-reasons`. The print service's state decides the printer and
/// device state where it is known; the system's adds the engine's (asleep) while the printer
/// is idle, and its detected errors.
fn status(system: Option<&Document>, print: Option<&Document>, findings: &mut Findings) -> DeviceStatus {
    let system = system.map(|d| {
        let state = d.root().text("status");
        ledm::status_of_categories(state.into_iter(), "system/v1/status/status", findings)
    });
    let print = print.map(|d| {
        let root = d.root();
        let reasons: Vec<String> = root
            .value("printerStateReasons")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(MAX_RECORDS)
            .filter_map(Value::as_str)
            .map(ipp_keyword)
            .collect();
        let (errors, trouble) = crate::ipp::reason_keywords(reasons.iter().map(String::as_str));
        let state = root.text("printerState");
        let (engine, printer, device) = match state.as_deref() {
            Some("idle") => (EngineStatus::READY, PrinterState::IDLE, DeviceState::RUNNING),
            Some("processing") => (EngineStatus::PRINTING, PrinterState::PRINTING, DeviceState::RUNNING),
            Some("stopped") => (EngineStatus::UNKNOWN, PrinterState::OTHER, DeviceState::DOWN),
            Some(other) => {
                findings.push(Finding::UnmappedValue { field: "print/v2/status/printerState", text: other.to_owned() });
                (EngineStatus::UNKNOWN, PrinterState::UNKNOWN, DeviceState::UNKNOWN)
            }
            None => (EngineStatus::UNKNOWN, PrinterState::UNKNOWN, DeviceState::UNKNOWN),
        };
        let device = if device == DeviceState::RUNNING && trouble { DeviceState::WARNING } else { device };
        DeviceStatus { engine, device, printer, errors }
    });
    match (system, print) {
        (None, None) => DeviceStatus::default(),
        (Some(s), None) => s,
        (None, Some(p)) => p,
        (Some(s), Some(mut p)) => {
            if p.printer == PrinterState::IDLE && s.engine != EngineStatus::UNKNOWN {
                p.engine = s.engine;
            }
            if p.device == DeviceState::UNKNOWN {
                p.device = s.device;
            }
            p.errors = p.errors | s.errors;
            p
        }
    }
}

/// Maps the documents a collector fetched into a report, with the provenance of every meter
/// (the document member it was read from) and the findings (missing documents, unknown
/// states, negative counters, a total that contradicts its parts ...). The caller sets
/// `generated_at`. The report passes [`DeviceReport::validate`].
pub fn map(docs: &Documents) -> Mapped {
    let mut findings = Findings::default();
    let mut report = DeviceReport::default();
    for (doc, endpoint) in docs.slots().into_iter().zip(ENDPOINTS) {
        if doc.is_none() {
            findings.push(Finding::DocumentMissing { document: endpoint });
        }
    }
    if let Some(doc) = &docs.identity {
        report.identity = identity(doc);
    } else {
        report.identity.make = Some("HP".to_owned());
    }
    if let Some(doc) = &docs.supplies {
        report.snapshot.consumables = consumables(doc, &mut findings);
    }
    let mut book = MeterBook::default();
    if let Some(doc) = &docs.lifetime_counters {
        meters(doc, &mut book, &mut findings);
    }
    if let Some(doc) = &docs.alerts {
        report.snapshot.alerts = alerts(doc, docs.supplies.as_ref());
    }
    report.snapshot.status = status(docs.system_status.as_ref(), docs.print_status.as_ref(), &mut findings);
    let meters = book.finish(&mut report, &mut findings);
    crate::make_valid(&mut report, &mut findings);
    crate::finding::check_report(&report, &mut findings);
    Mapped { report, meters, findings: findings.into_vec() }
}

/// [`map`], the report only (prefer [`map`]).
pub fn map_report(docs: &Documents) -> DeviceReport {
    map(docs).report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_reasons_are_ipp_keywords() {
        assert_eq!(ipp_keyword("mediaEmpty"), "media-empty");
        assert_eq!(ipp_keyword("media-empty-error"), "media-empty-error");
        assert_eq!(ipp_keyword("none"), "none");
    }

    #[test]
    fn file_names_are_the_paths_flattened() {
        assert_eq!(file_name("/cdm/system/v1/identity"), "cdm_system_v1_identity.json");
        let mut docs = Documents::default();
        for endpoint in ENDPOINTS {
            *docs.slot_mut(endpoint).unwrap() = Some(Document::default());
        }
        assert!(docs.slots().iter().all(|d| d.is_some()), "every endpoint has its own field");
        assert!(docs.slot_mut("/cdm/other").is_none());
    }
}
