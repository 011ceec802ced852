//! HP CDM (`/cdm/...` JSON) documents → a device report.
//!
//! HP's newer devices serve the Common Data Model, JSON under `/cdm/`, instead of (or beside)
//! LEDM's `/DevMgmt/*.xml`: a Smart Tank 580-590 does (its documents are the tests' real data),
//! and a Color LaserJet Pro MFP 3302 did for the public parser written against it. A collector
//! fetches the [`Endpoint`]s (GET only: the same unauthenticated interface also takes writes),
//! [`Document::parse`]s each body (bounded by [`MAX_CDM_BYTES`] and [`MAX_CDM_VALUES`];
//! nesting by `serde_json`'s recursion limit of 128), and [`map`]s them:
//!
//! * `system/v1/identity`: make (`manufacturer`, else HP), model (`makeAndModel`, an object
//!   `{base, family, name}` or a string), serial and product number, firmware version;
//! * `supply/v1/suppliesPublic`: each entry of `suppliesList` — slot, type, colour code,
//!   `percentLifeDisplay`, part and serial number, `supplyState` and `levelState`;
//! * `deviceUsage/v1/lifetimeCounters`: impressions (all, mono, colour), prints and copies
//!   (each all, mono, colour), sheets, two-sided sheets and scanned images (meters);
//! * `alert/v1/alerts`: each alert, with the supply its data point at;
//! * `system/v1/status` and `print/v2/status`: the device's state, its printer state and the
//!   IPP-style `printerStateReasons`.
//!
//! Values are read as devices write them: HP writes flags as the strings `"true"` and
//! `"false"`, and some counters as negative numbers (a Smart Tank 580-590's `sendImages` is
//! -16), which are no reading (a finding). Members that are missing or of another type are
//! absent. Mapped on one public real device (a Smart Tank 580-590, in
//! `testdata/third-party/ha-hp-printers-cn/`); the members and values no capture of ours shows
//! are read by the field names that parsers of laser printers' documents use, and the state
//! names LEDM uses (said where).
//!
//! ```
//! use printfleet_sources::cdm::{Document, Documents, Endpoint, map_report};
//!
//! let mut docs = Documents::default();
//! docs.insert(Endpoint::Supplies, Document::parse(br#"{"suppliesList": [{"slot": 1,
//!     "supplyType": "toner", "supplyColorCode": "K", "percentLifeDisplay": 40,
//!     "supplyState": "ok", "levelState": "ok", "orderSelectabilityNumber": "W2110A"}]}"#)?);
//! let report = map_report(&docs);
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
/// The most JSON values one document may hold, counted before parsing as its `{`, `[` and `,`
/// bytes (an over-count: those inside strings count too), so that a parsed document's memory
/// is bounded by this, not only by its bytes. The Smart Tank 580-590's largest document, its
/// lifetime counters, has 572.
pub const MAX_CDM_VALUES: usize = 20_000;

/// The longest string read as a keyword (a type, a state, a colour code, a JSON pointer);
/// longer ones are no keyword.
const MAX_KEYWORD_BYTES: usize = 128;

/// The resources [`map`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/cdm/system/v1/identity`.
    Identity,
    /// `/cdm/supply/v1/suppliesPublic`.
    Supplies,
    /// `/cdm/deviceUsage/v1/lifetimeCounters`.
    LifetimeCounters,
    /// `/cdm/alert/v1/alerts`.
    Alerts,
    /// `/cdm/system/v1/status`.
    SystemStatus,
    /// `/cdm/print/v2/status`.
    PrintStatus,
}

impl Endpoint {
    /// Every endpoint, in the order [`Documents`] holds them.
    pub const ALL: &'static [Self] =
        &[Self::Identity, Self::Supplies, Self::LifetimeCounters, Self::Alerts, Self::SystemStatus, Self::PrintStatus];

    /// Its path below the device's address.
    pub fn path(self) -> &'static str {
        match self {
            Self::Identity => "/cdm/system/v1/identity",
            Self::Supplies => "/cdm/supply/v1/suppliesPublic",
            Self::LifetimeCounters => "/cdm/deviceUsage/v1/lifetimeCounters",
            Self::Alerts => "/cdm/alert/v1/alerts",
            Self::SystemStatus => "/cdm/system/v1/status",
            Self::PrintStatus => "/cdm/print/v2/status",
        }
    }

    /// The file name a capture keeps its document under: the path without its leading `/`,
    /// each `/` an `_`, and `.json` (`cdm_system_v1_identity.json`), as public captures name
    /// them.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Identity => "cdm_system_v1_identity.json",
            Self::Supplies => "cdm_supply_v1_suppliesPublic.json",
            Self::LifetimeCounters => "cdm_deviceUsage_v1_lifetimeCounters.json",
            Self::Alerts => "cdm_alert_v1_alerts.json",
            Self::SystemStatus => "cdm_system_v1_status.json",
            Self::PrintStatus => "cdm_print_v2_status.json",
        }
    }
}

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
    /// The document may hold more than [`MAX_CDM_VALUES`] values.
    #[error("CDM document has {count} or more values, limit {limit}")]
    TooManyValues {
        /// The count of `{`, `[` and `,`.
        count: usize,
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
        let count = bytes.iter().filter(|b| matches!(b, b'{' | b'[' | b',')).count();
        if count > MAX_CDM_VALUES {
            return Err(CdmError::TooManyValues { count, limit: MAX_CDM_VALUES });
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
    /// [`Endpoint::Identity`].
    pub identity: Option<Document>,
    /// [`Endpoint::Supplies`].
    pub supplies: Option<Document>,
    /// [`Endpoint::LifetimeCounters`].
    pub lifetime_counters: Option<Document>,
    /// [`Endpoint::Alerts`].
    pub alerts: Option<Document>,
    /// [`Endpoint::SystemStatus`].
    pub system_status: Option<Document>,
    /// [`Endpoint::PrintStatus`].
    pub print_status: Option<Document>,
}

impl Documents {
    /// The document of `endpoint`, if there.
    pub fn get(&self, endpoint: Endpoint) -> Option<&Document> {
        match endpoint {
            Endpoint::Identity => self.identity.as_ref(),
            Endpoint::Supplies => self.supplies.as_ref(),
            Endpoint::LifetimeCounters => self.lifetime_counters.as_ref(),
            Endpoint::Alerts => self.alerts.as_ref(),
            Endpoint::SystemStatus => self.system_status.as_ref(),
            Endpoint::PrintStatus => self.print_status.as_ref(),
        }
    }

    /// Sets the document of `endpoint`, returning the one it replaces.
    pub fn insert(&mut self, endpoint: Endpoint, document: Document) -> Option<Document> {
        let slot = match endpoint {
            Endpoint::Identity => &mut self.identity,
            Endpoint::Supplies => &mut self.supplies,
            Endpoint::LifetimeCounters => &mut self.lifetime_counters,
            Endpoint::Alerts => &mut self.alerts,
            Endpoint::SystemStatus => &mut self.system_status,
            Endpoint::PrintStatus => &mut self.print_status,
        };
        slot.replace(document)
    }

    /// Whether any document holds a member this mapping reads (`makeAndModel` or
    /// `serialNumber`, `suppliesList`, `printUsage`, `alerts`, `status`, `printerState`): a web
    /// server that answers `{}` on every path is no printer.
    pub fn recognised(&self) -> bool {
        const MEMBERS: [(Endpoint, &[&str]); 6] = [
            (Endpoint::Identity, &["makeAndModel", "serialNumber"]),
            (Endpoint::Supplies, &["suppliesList"]),
            (Endpoint::LifetimeCounters, &["printUsage"]),
            (Endpoint::Alerts, &["alerts"]),
            (Endpoint::SystemStatus, &["status"]),
            (Endpoint::PrintStatus, &["printerState"]),
        ];
        MEMBERS
            .iter()
            .any(|(endpoint, names)| self.get(*endpoint).is_some_and(|d| names.iter().any(|n| d.0.contains_key(*n))))
    }
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

    /// A short string member as written (a keyword, a code, a pointer): at most
    /// [`MAX_KEYWORD_BYTES`], compared without copying.
    fn keyword(self, key: &str) -> Option<&'a str> {
        self.value(key).and_then(Value::as_str).filter(|s| s.len() <= MAX_KEYWORD_BYTES)
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
        // Else HP's ([`map`]).
        make: root.text("manufacturer").and_then(|m| crate::make::normalise(&m)),
        product_name: names.text("family").or_else(|| model.clone()),
        model,
        serial_number: root.text("serialNumber").filter(|s| plausible_serial(s)),
        product_number: root.text("productNumber"),
        firmware_version: root.text("firmwareVersion").or_else(|| root.text("firmwareRelease")),
        ..Identity::default()
    }
}

/// `supplyState` values that say where the supply is in its life, not how much is left (with
/// LEDM's, [`ledm::LIFECYCLE_STATES`]): `inform`, a used printhead's notice on the Smart Tank
/// 580-590 (with `stateReasons` `usedConsumableInfo`).
const NOTICE_STATES: &[&str] = &["inform"];

/// A finding's copy of a device's keyword.
fn unmapped(field: &'static str, text: &str) -> Finding {
    Finding::UnmappedValue { field, text: clean_text(text.as_bytes()).unwrap_or_default() }
}

/// A supply's status: its `supplyState` read with LEDM's `ConsumableState` table
/// ([`ledm::consumable_status`]; the Smart Tank 580-590 shows `ok` and `inform`, other values
/// are taken to be named as LEDM names them), where a lifecycle or notice state takes low, very
/// low or out from `levelState`; a supply HP says is not genuine (`isGenuineHP` false) or
/// refilled is not genuine, unless its state says worse. Unknown texts are findings.
fn supply_status(supply: Object<'_>, findings: &mut Findings) -> ConsumableStatus {
    let state = supply.keyword("supplyState");
    let lifecycle = state.is_none_or(|s| ledm::LIFECYCLE_STATES.contains(&s) || NOTICE_STATES.contains(&s));
    let measured = supply.keyword("levelState").and_then(|m| {
        let status = ledm::measured_status(m);
        if status.is_none() && m != ledm::MEASURED_UNKNOWN {
            findings.push(unmapped("suppliesPublic/levelState", m));
        }
        status
    });
    let status = match state {
        Some(s) if NOTICE_STATES.contains(&s) => measured.unwrap_or(ConsumableStatus::OK),
        Some(s) => match ledm::consumable_status(s) {
            Some(status) if lifecycle => measured.unwrap_or(status),
            Some(status) => status,
            None => {
                findings.push(unmapped("suppliesPublic/supplyState", s));
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

/// What an alert needs of a supply: its record id, its type, its `slotIdentifier`.
#[derive(Clone, Copy)]
struct SupplyRef {
    record: RecordId,
    kind: SupplyType,
    slot_identifier: Option<i64>,
}

/// The entries of `suppliesList` with their record ids and types, once for the consumables and
/// the alerts. The record id is the `slot` where every entry has a distinct one (plus one where
/// slots count from 0, as LEDM's stations do), else the entry's place in the list plus one,
/// for every entry alike; the type is LEDM's ([`ledm::supply_type_among`]: on a device that
/// has ink tanks, an `inkCartridge` is the printhead they feed).
fn supply_refs(doc: &Document) -> Vec<(Object<'_>, SupplyRef)> {
    let list: Vec<Object<'_>> = doc.root().list("suppliesList").collect();
    let slots: Option<Vec<u64>> = list.iter().map(|s| s.int("slot").and_then(|v| u64::try_from(v).ok())).collect();
    let slots = slots.filter(|slots| {
        let mut sorted = slots.clone();
        sorted.sort_unstable();
        sorted.dedup();
        sorted.len() == slots.len()
    });
    let from_zero = slots.as_ref().is_some_and(|slots| slots.contains(&0));
    let tanks = list.iter().any(|s| s.keyword("supplyType") == Some("inkTank"));
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let place = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
            let slot = slots.as_ref().and_then(|slots| slots.get(i)).map(|v| v.saturating_add(u64::from(from_zero)));
            let kind = s.keyword("supplyType").map_or(SupplyType::UNKNOWN, |t| ledm::supply_type_among(t, tanks));
            (*s, SupplyRef { record: RecordId(slot.unwrap_or(place)), kind, slot_identifier: s.int("slotIdentifier") })
        })
        .collect()
}

/// The supplies of `suppliesPublic`, one per entry of `suppliesList` ([`supply_refs`]: record
/// ids and types; the Smart Tank 580-590's printheads, M0H50A and X4E75A, have no level). The
/// level is `percentLifeDisplay` (else `percentLifeRemaining`, which a CDM reader falls back
/// on), a percentage; a supply without one has an unknown level. The part number is the number
/// to order (`orderSelectabilityNumber`, else `selectabilityNumber`, else the `orderPartNumber`
/// or `productNumber` laser printers' documents are read for).
fn consumables(supplies: &[(Object<'_>, SupplyRef)], findings: &mut Findings) -> Vec<Consumable> {
    supplies
        .iter()
        .map(|&(s, r)| {
            let level = match s.int("percentLifeDisplay") {
                Some(v) => ledm::percent(Some(v), "suppliesPublic/percentLifeDisplay", findings),
                None => ledm::percent(s.int("percentLifeRemaining"), "suppliesPublic/percentLifeRemaining", findings),
            };
            Consumable {
                record_id: r.record,
                kind: r.kind,
                class: ledm::class_of(r.kind),
                colour: s.keyword("supplyColorCode").and_then(ledm::colour_of),
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
///   finding), as LEDM's is (a Smart Tank 750: 44,492 against 44,376) — unless the total is
///   more impressions than the sheets the device counts could carry while the sum is not:
///   `sheets` `total` + `duplex` (a two-sided sheet carries two), or twice `total` where the
///   device gives no `duplex`. Then the sum is the meter and the device's total disputes it.
///   The Smart Tank 580-590 gives 10531 impressions (10421 prints) beside 647 mono and 722
///   colour (551 and 708), on 1369 sheets: at most 2738 impressions, and 647 + 722 = 1369.
///   Each family (impressions, prints, copies) is judged on its own numbers.
/// * SHEETS and DUPLEX_SHEETS: `printUsage/sheets` `total` and `duplex`.
/// * SCANS: `scanUsage/totalImages`, every image the scanner read. Whether copies' scans are
///   among them the documents do not say: on the Smart Tank 580-590 `totalImages` (94) equals
///   its `flatbedImages`, `copyImages` (110) equals its copies printed, and `sendImages` is
///   `totalImages` − `copyImages`, -16.
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
    // The most impressions the counted sheets can carry.
    let most_sides = sheets_total.filter(|s| *s > 0).and_then(|s| s.checked_add(duplex.unwrap_or(s)));
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
    for (member, [total_kind, mono_kind, colour_kind], [total_at, mono_at, colour_at, sum_at]) in PARTS {
        let counters = print.object(member);
        let total = read(counters, "total", total_at);
        let mono = read(counters, "monochrome", mono_at);
        let colour = read(counters, "color", colour_at);
        let sum = mono.zip(colour).and_then(|(m, c)| m.checked_add(c));
        let impossible = |total: u64, sum: u64| most_sides.is_some_and(|most| total > most && sum > 0 && sum <= most);
        match (total, sum) {
            (Some(total), Some(sum)) if total != sum && impossible(total, sum) => {
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

/// What an alert's `data` say of the supply it concerns: the place in `suppliesList` they point
/// at (`/suppliesList/2/...`), and the values they give for its `slotIdentifier`, `colors` and
/// `supplyType`.
#[derive(Default)]
struct Subject<'a> {
    index: Option<usize>,
    slot_identifier: Option<i64>,
    colour: Option<&'a str>,
    kind: Option<&'a str>,
}

fn subject<'a>(alert: Object<'a>) -> Subject<'a> {
    let mut subject = Subject::default();
    for d in alert.list("data") {
        let Some(rest) = d.keyword("propertyPointer").and_then(|p| p.strip_prefix("/suppliesList/")) else { continue };
        let Some((index, member)) = rest.split_once('/') else { continue };
        let Ok(index) = index.parse::<usize>() else { continue };
        if subject.index.is_some_and(|i| i != index) {
            continue;
        }
        subject.index = Some(index);
        let value = d.object("value");
        match member {
            "slotIdentifier" => subject.slot_identifier = value.int("iValue"),
            "colors" => subject.colour = value.keyword("seValue"),
            "supplyType" => subject.kind = value.keyword("seValue"),
            _ => {}
        }
    }
    subject
}

/// `alert/v1/alerts` → alerts. An alert's record id is its `id` (else `2^32` + its place in the
/// list); its vendor code its `category`, mapped to a Printer-MIB code and group where LEDM's
/// alert of the same name has one ([`ledm::alert_code`]: `cartridgeLow`, `doorOpen`, `trayEmpty`
/// ...). An alert whose `data` point into `suppliesList` concerns that supply: its group is the
/// marker supplies, its description names the category and the supply's colour
/// (`genuineHPsupply (K)`), and its group index is the supply's record id — the supply of the
/// `slotIdentifier` the data give, which names it whatever order the two documents list
/// supplies in, else the one at the place they point at; none where the supplies document is
/// missing or names no such supply. Severity `error` or `critical` is critical, `warning` a
/// warning, anything else (`information`) other.
fn alerts(doc: &Document, supplies: &[SupplyRef]) -> Vec<Alert> {
    doc.root()
        .list("alerts")
        .enumerate()
        .map(|(i, a)| {
            let category = a.text("category");
            let subject = subject(a);
            let supply = match (subject.slot_identifier, subject.index) {
                (Some(id), _) if supplies.iter().any(|s| s.slot_identifier.is_some()) => {
                    supplies.iter().find(|s| s.slot_identifier == Some(id))
                }
                (_, Some(index)) => supplies.get(index),
                _ => None,
            };
            let kind = supply.map(|s| s.kind).or_else(|| subject.kind.map(ledm::supply_type));
            let (code, group) = category.as_deref().and_then(|c| ledm::alert_code(c, kind)).unzip();
            let place = u64::try_from(i).unwrap_or(u64::MAX);
            Alert {
                record_id: RecordId(a.int("id").and_then(|id| u64::try_from(id).ok()).unwrap_or((1 << 32) | place)),
                description: match (&category, subject.colour) {
                    (Some(c), Some(colour)) => clean_text(format!("{c} ({colour})").as_bytes()),
                    _ => None,
                },
                code: code.unwrap_or(AlertCode::OTHER),
                vendor_code: category,
                group: group.unwrap_or(if subject.index.is_some() {
                    AlertGroup::MARKER_SUPPLIES
                } else {
                    AlertGroup::OTHER
                }),
                group_index: supply.and_then(|s| u32::try_from(s.record.0).ok()),
                severity: match a.keyword("severity") {
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
/// same in camel case (`mediaEmpty`), which is read as IPP's: a `-` before a capital that
/// follows a small letter or a digit, everything in small letters.
fn ipp_keyword(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len().saturating_add(4));
    let mut after_small = false;
    for c in reason.chars() {
        if c.is_ascii_uppercase() && after_small {
            out.push('-');
        }
        after_small = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// How bad a device state is, to keep the worse of two.
fn badness(state: DeviceState) -> u8 {
    match state {
        DeviceState::DOWN => 3,
        DeviceState::WARNING => 2,
        DeviceState::RUNNING | DeviceState::TESTING => 1,
        _ => 0,
    }
}

/// The status: `system/v1/status`'s `status` is a state named as LEDM names them (`ready`,
/// `processing`, `inPowerSave` ...; [`ledm::status_of_categories`]); `print/v2/status` gives
/// the printer's IPP-style state (`idle`, `processing`, `stopped`) and `printerStateReasons`,
/// read as IPP's `printer-state-reasons`. The print service's state decides the printer state
/// where it is known, and the system's engine state (asleep) stands while the printer is idle;
/// the device state is the worse of the two, and the detected errors are both's.
fn status(system: Option<&Document>, print: Option<&Document>, findings: &mut Findings) -> DeviceStatus {
    let system = system.map(|d| {
        let state = d.root().keyword("status").map(str::to_owned);
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
            .filter(|r| r.len() <= MAX_KEYWORD_BYTES)
            .map(ipp_keyword)
            .collect();
        let (errors, trouble) = crate::ipp::reason_keywords(reasons.iter().map(String::as_str));
        let (engine, printer, device) = match root.keyword("printerState") {
            Some("idle") => (EngineStatus::READY, PrinterState::IDLE, DeviceState::RUNNING),
            Some("processing") => (EngineStatus::PRINTING, PrinterState::PRINTING, DeviceState::RUNNING),
            Some("stopped") => (EngineStatus::UNKNOWN, PrinterState::OTHER, DeviceState::DOWN),
            Some(other) => {
                findings.push(unmapped("print/v2/status/printerState", other));
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
            if p.printer == PrinterState::UNKNOWN {
                (p.engine, p.printer) = (s.engine, s.printer);
            } else if p.printer == PrinterState::IDLE && s.engine != EngineStatus::UNKNOWN {
                p.engine = s.engine;
            }
            if badness(s.device) > badness(p.device) {
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
    for endpoint in Endpoint::ALL {
        if docs.get(*endpoint).is_none() {
            findings.push(Finding::DocumentMissing { document: endpoint.path() });
        }
    }
    report.identity = docs.identity.as_ref().map(identity).unwrap_or_default();
    if report.identity.make.is_none() {
        // Only HP devices serve CDM.
        report.identity.make = Some("HP".to_owned());
    }
    let supplies = docs.supplies.as_ref().map(supply_refs).unwrap_or_default();
    report.snapshot.consumables = consumables(&supplies, &mut findings);
    let mut book = MeterBook::default();
    if let Some(doc) = &docs.lifetime_counters {
        meters(doc, &mut book, &mut findings);
    }
    if let Some(doc) = &docs.alerts {
        let refs: Vec<SupplyRef> = supplies.iter().map(|(_, r)| *r).collect();
        report.snapshot.alerts = alerts(doc, &refs);
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
        assert_eq!(ipp_keyword("ADFJam"), "adfjam", "no dash inside an acronym");
        assert_eq!(ipp_keyword("tray2Empty"), "tray2-empty");
    }

    #[test]
    fn file_names_are_the_paths_flattened() {
        let mut docs = Documents::default();
        for endpoint in Endpoint::ALL {
            let flattened = format!("{}.json", endpoint.path().trim_start_matches('/').replace('/', "_"));
            assert_eq!(endpoint.file_name(), flattened);
            assert!(docs.insert(*endpoint, Document::default()).is_none());
        }
        assert!(Endpoint::ALL.iter().all(|e| docs.get(*e).is_some()), "every endpoint has its own field");
        assert!(!docs.recognised(), "empty objects are no printer");
    }
}
