//! HP LEDM (`/DevMgmt/*.xml`) documents → a device report.
//!
//! [`Element::parse`] reads one document into a small tree (local names and text only, bounded by
//! [`MAX_LEDM_BYTES`], [`MAX_LEDM_DEPTH`] and [`MAX_LEDM_ELEMENTS`]; DTDs refused, so no entity
//! expansion); [`map_report`] maps the four documents a collector reads:
//!
//! * `ProductConfigDyn.xml`: make and model, serial and product number, firmware date;
//! * `ConsumableConfigDyn.xml`: each `ConsumableInfo` — label code and colour, type, percentage
//!   remaining, product and serial number, state and measured quantity state;
//! * `ProductUsageDyn.xml`: total, mono, colour and duplex counters, copy (all, mono, colour),
//!   scan and fax counters (meters), and the consumables when `ConsumableConfigDyn` is missing;
//! * `ProductStatusDyn.xml`: every status category and the alert table.
//!
//! Namespace prefixes differ between firmware generations (`dd:`, `dd2:`, `ccdyn:` ...), so
//! elements are matched by local name. `REDACTED` and empty values are absent. A document that is
//! missing leaves its part of the report empty.
//!
//! ```
//! use printfleet_sources::ledm::{Documents, Element, map_report};
//!
//! let config = Element::parse(br#"<prdcfgdyn:ProductConfigDyn xmlns:prdcfgdyn="urn:x" xmlns:dd="urn:y">
//!   <prdcfgdyn:ProductInformation><dd:MakeAndModel>HP Color LaserJet M255dw</dd:MakeAndModel>
//!   <dd:SerialNumber>VNB3R12345</dd:SerialNumber></prdcfgdyn:ProductInformation></prdcfgdyn:ProductConfigDyn>"#)?;
//! let report = map_report(&Documents { product_config: Some(config), ..Documents::default() });
//! assert_eq!(report.identity.make.as_deref(), Some("HP"));
//! assert_eq!(report.identity.serial_number.as_deref(), Some("VNB3R12345"));
//! # Ok::<(), printfleet_sources::ledm::LedmError>(())
//! ```

use printfleet_schema::codes::{
    AlertCode, AlertGroup, AlertSeverity, ConsumableStatus, DeviceState, EngineStatus, PrinterState, SupplyClass,
    SupplyType, SupplyUnit,
};
use printfleet_schema::limits::MAX_RECORDS;
use printfleet_schema::{
    Alert, Capacity, Colour, Consumable, DetectedErrors, DeviceReport, DeviceStatus, Identity, Level, MeterKind,
    RecordId,
};
use quick_xml::events::Event;

use crate::finding::{Finding, Findings, Mapped, MeterBook, Rank, Source};
use crate::snmp::printer_mib::{clean_text, plausible_serial};

/// The largest LEDM document [`Element::parse`] accepts.
pub const MAX_LEDM_BYTES: usize = 1 << 20;
/// The deepest element nesting [`Element::parse`] accepts.
pub const MAX_LEDM_DEPTH: usize = 16;
/// The most elements one document may have.
pub const MAX_LEDM_ELEMENTS: usize = 20_000;

/// Why an LEDM document could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedmError {
    /// The document is larger than [`MAX_LEDM_BYTES`].
    #[error("LEDM document is {len} bytes, limit {limit}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Deeper than [`MAX_LEDM_DEPTH`] or more elements than [`MAX_LEDM_ELEMENTS`].
    #[error("LEDM document exceeds a limit: {0}")]
    Limit(&'static str),
    /// Not well-formed XML, or a DTD (refused).
    #[error("malformed LEDM document: {0}")]
    Malformed(String),
    /// Bytes that are not UTF-8 ([`Element::parse`]; [`Element::parse_repairing`] reads them as
    /// Latin-1 instead).
    #[error("LEDM document is not UTF-8 at line {line}")]
    InvalidUtf8 {
        /// The line of the first byte that is not UTF-8, counting from 1.
        line: usize,
    },
}

/// An element: its local name, its text (concatenated, trimmed), its child elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name (no namespace prefix).
    pub name: String,
    /// The character data directly inside it, trimmed.
    pub text: String,
    /// Child elements, in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// Reads one XML document. Namespaces are dropped (local names only); comments, processing
    /// instructions and the XML declaration are skipped; a DTD is refused.
    pub fn parse(bytes: &[u8]) -> Result<Self, LedmError> {
        if bytes.len() > MAX_LEDM_BYTES {
            return Err(LedmError::TooLarge { len: bytes.len(), limit: MAX_LEDM_BYTES });
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| LedmError::InvalidUtf8 { line: crate::read::line_of(bytes, e.valid_up_to()) })?;
        Self::parse_text(text)
    }

    /// [`Element::parse`], but a document that is not UTF-8 (a Latin-1 byte in one value, as
    /// some firmware writes a name) is read as Latin-1 instead of refused, with a finding that
    /// names the line of the first such byte. XML markup is ASCII, so only text changes.
    pub fn parse_repairing(bytes: &[u8]) -> Result<(Self, Vec<Finding>), LedmError> {
        if bytes.len() > MAX_LEDM_BYTES {
            return Err(LedmError::TooLarge { len: bytes.len(), limit: MAX_LEDM_BYTES });
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok((Self::parse_text(text)?, Vec::new())),
            Err(e) => {
                let line = crate::read::line_of(bytes, e.valid_up_to());
                let latin1: String = bytes.iter().map(|b| char::from(*b)).collect();
                Ok((Self::parse_text(&latin1)?, vec![Finding::Latin1Repaired { line }]))
            }
        }
    }

    fn parse_text(text: &str) -> Result<Self, LedmError> {
        if text.len() > MAX_LEDM_BYTES.saturating_mul(2) {
            return Err(LedmError::TooLarge { len: text.len(), limit: MAX_LEDM_BYTES });
        }
        let mut reader = quick_xml::Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        let mut stack: Vec<Element> = vec![Element::default()];
        let mut count = 0usize;
        let malformed = |e: &dyn std::fmt::Display| LedmError::Malformed(e.to_string());
        loop {
            let event = reader.read_event().map_err(|e| malformed(&e))?;
            match event {
                Event::Start(_) | Event::Empty(_) => {
                    count = count.saturating_add(1);
                    if count > MAX_LEDM_ELEMENTS {
                        return Err(LedmError::Limit("elements"));
                    }
                    if stack.len() > MAX_LEDM_DEPTH {
                        return Err(LedmError::Limit("depth"));
                    }
                    let (start, empty) = match &event {
                        Event::Start(s) => (s, false),
                        Event::Empty(s) => (s, true),
                        _ => continue,
                    };
                    let name = start.local_name().as_ref().to_owned();
                    let element = Element { name, ..Element::default() };
                    if empty {
                        stack.last_mut().ok_or(LedmError::Limit("depth"))?.children.push(element);
                    } else {
                        stack.push(element);
                    }
                }
                Event::End(_) => {
                    let mut done = stack.pop().ok_or_else(|| LedmError::Malformed("unbalanced end".into()))?;
                    done.text = done.text.trim().to_owned();
                    stack.last_mut().ok_or_else(|| LedmError::Malformed("unbalanced end".into()))?.children.push(done);
                }
                Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
                Event::CData(c) => push_text(&mut stack, &c.xml10_content())?,
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref().map_err(|e| malformed(&e))? {
                        Some(c) => c.to_string(),
                        None => quick_xml::escape::resolve_predefined_entity(&r)
                            .ok_or_else(|| LedmError::Malformed(format!("unknown entity &{};", &*r)))?
                            .to_owned(),
                    };
                    push_text(&mut stack, &resolved)?;
                }
                Event::DocType(_) => return Err(LedmError::Malformed("a DTD (refused)".into())),
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
                Event::Eof => break,
            }
        }
        let mut document =
            stack.pop().filter(|_| stack.is_empty()).ok_or_else(|| LedmError::Malformed("truncated".into()))?;
        match document.children.len() {
            1 => Ok(document.children.remove(0)),
            _ => Err(LedmError::Malformed("not exactly one root element".into())),
        }
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at a path of child names.
    pub fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// The text at a path, cleaned; `None` if absent, empty or `REDACTED`.
    pub fn text_at(&self, path: &[&str]) -> Option<String> {
        self.at(path).and_then(|e| clean_text(e.text.as_bytes())).filter(|t| t != "REDACTED")
    }

    /// The integer at a path.
    pub fn int_at(&self, path: &[&str]) -> Option<i64> {
        self.at(path)?.text.parse().ok()
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), LedmError> {
    let top = stack.last_mut().ok_or(LedmError::Limit("depth"))?;
    // Text directly inside the document (outside the root) is only white space in a valid one.
    if top.text.len().saturating_add(text.len()) > MAX_LEDM_BYTES {
        return Err(LedmError::Limit("text"));
    }
    top.text.push_str(text);
    Ok(())
}

/// The documents a collector fetched; any may be missing.
#[derive(Clone, Debug, Default)]
pub struct Documents {
    /// `/DevMgmt/ProductConfigDyn.xml`.
    pub product_config: Option<Element>,
    /// `/DevMgmt/ConsumableConfigDyn.xml`.
    pub consumable_config: Option<Element>,
    /// `/DevMgmt/ProductUsageDyn.xml`.
    pub product_usage: Option<Element>,
    /// `/DevMgmt/ProductStatusDyn.xml`.
    pub product_status: Option<Element>,
}

/// The make: the device's `Manufacturer/Name` (in `ProductInformation` or at the top of
/// `ProductConfigDyn`), or else HP, whose interface LEDM is (only HP devices serve it). Never
/// the first word of `MakeAndModel` ("Color LaserJet Pro ..." has none to give). The
/// `Manufacturer/Name` of a consumable names the cartridge's maker, not the printer's, and is
/// not read here.
fn make(config: &Element) -> String {
    config
        .child("ProductInformation")
        .and_then(|i| i.text_at(&["Manufacturer", "Name"]))
        .or_else(|| config.text_at(&["Manufacturer", "Name"]))
        .and_then(|m| crate::make::normalise(&m))
        .unwrap_or_else(|| "HP".to_owned())
}

fn identity(config: &Element) -> Identity {
    let info = config.child("ProductInformation");
    let at = |name: &str| info.and_then(|i| i.text_at(&[name]));
    let make_and_model = at("MakeAndModel");
    Identity {
        make: Some(make(config)),
        model: make_and_model.clone(),
        product_name: at("MakeAndModelFamily").or(make_and_model),
        serial_number: at("SerialNumber").filter(|s| plausible_serial(s)),
        product_number: at("ProductNumber"),
        firmware_version: info
            .and_then(|i| i.text_at(&["Version", "Revision"]).or_else(|| i.text_at(&["Version", "Date"]))),
        ..Identity::default()
    }
}

/// `MarkerColor` spelling of HP's tri-colour cartridge (ProductUsageDyn, the alert details),
/// which [`Colour::parse`] does not know.
const MARKER_TRI_COLOUR: &str = "CyanMagentaYellow";

/// A `ConsumableLabelCode` (K, C, M, Y, CMY, pK ...) or `MarkerColor` (Black, CyanMagentaYellow
/// ...) → colour: read by [`Colour::parse`] (which knows the label codes, `pK` included), with
/// HP's `CyanMagentaYellow` as the tri-colour. `None` for a code naming no one colour (the
/// `CMYK` of a printhead) or one the schema does not know.
pub(crate) fn colour_of(text: &str) -> Option<Colour> {
    if text.eq_ignore_ascii_case(MARKER_TRI_COLOUR) {
        return Some(Colour::TriColour);
    }
    Some(Colour::parse(text)).filter(|colour| !matches!(colour, Colour::Other(_)))
}

/// `ConsumableTypeEnum` → supply type. Spellings from the devices' documents and capability
/// lists (`ConsumableConfigCap` `ConsumableTypeEnumSupport`) and from HPLIP: a setup
/// cartridge (`introInkCartridge`) and a Smart Tank's `inkTank` are ink cartridges, an
/// `imageDrum` is the OPC drum.
pub(crate) fn supply_type(kind: &str) -> SupplyType {
    supply_type_among(kind, false)
}

/// [`supply_type`] for a device that has ink tanks (`inkTank`, `tanks`) or not: the
/// `inkCartridge` of a device with tanks is the printhead they feed (HP's Smart Tanks call
/// their printheads cartridges: the 750's tri-colour and black beside four tanks, the 580-590's
/// M0H50A and X4E75A).
pub(crate) fn supply_type_among(kind: &str, tanks: bool) -> SupplyType {
    if tanks && kind == "inkCartridge" {
        return SupplyType::PRINTHEAD;
    }
    match kind {
        "toner" | "tonerCartridge" | "rechargeableToner" => SupplyType::TONER_CARTRIDGE,
        "ink" | "inkCartridge" | "introInkCartridge" | "inkTank" => SupplyType::INK_CARTRIDGE,
        "printhead" => SupplyType::PRINTHEAD,
        "tonerCollectionUnit" | "wasteToner" => SupplyType::WASTE_TONER,
        "imagingDrum" | "imageDrum" | "drum" => SupplyType::OPC,
        "fuser" | "fuserKit" => SupplyType::FUSER,
        "transferKit" | "transferBelt" => SupplyType::TRANSFER_UNIT,
        "maintenanceKit" => SupplyType::MAINTENANCE_KIT,
        _ => SupplyType::OTHER,
    }
}

/// The supply class of a supply type: waste receptacles fill up, everything else is used up.
/// LEDM gives a receptacle's `ConsumablePercentageLevelRemaining` as what is left of its life,
/// the space left, which is the schema's level of a receptacle, so the number is kept as is.
pub(crate) fn class_of(kind: SupplyType) -> SupplyClass {
    if kind == SupplyType::WASTE_TONER || kind == SupplyType::WASTE_INK {
        SupplyClass::RECEPTACLE_THAT_IS_FILLED
    } else {
        SupplyClass::SUPPLY_THAT_IS_CONSUMED
    }
}

/// `ConsumableState` values that say where the cartridge is in its life (new, used, genuine),
/// not how much is left: with one of these, `MeasuredQuantityState` says whether it is low.
/// (The OfficeJet Pro 9022e reports `used` beside `MeasuredQuantityState` `ok`.)
pub(crate) const LIFECYCLE_STATES: &[&str] = &[
    "ok",
    "used",
    "genuineHP",
    "newGenuineHP",
    "usedGenuineHP",
    "reinstalledGenuineHP",
    "upgradableSupply",
    "supplyUpgradeSuccess",
];

/// `ConsumableState` values of a cartridge that is not an original HP one: counterfeit,
/// refilled (HP's `refilledBlack`/`refilledColor`), remanufactured, non-HP.
const NON_GENUINE_STATES: &[&str] = &[
    "counterfeit",
    "refilled",
    "refilledBlack",
    "refilledColor",
    "refilledOrCounterfeit",
    "remanufactured",
    "nonHP",
    "nonGenuine",
    "usedNonHP",
];

/// `ConsumableState` values of a cartridge that failed or that the printer refuses:
/// defective, incompatible, in the wrong slot, unauthorised or failing HP's security check
/// (`shaidFailure`, `dynamicSecurityFailedSupply`), locked to another printer
/// (`antiTheftEnabledSupply`, `consumableForAnotherPrinter`), rejected as a trial.
const REFUSED_STATES: &[&str] = &[
    "defective",
    "damaged",
    "failed",
    "incompatible",
    "incompatibleConsumable",
    "wrongSlot",
    "inWrongSlot",
    "misinstalled",
    "sharedAddressError",
    "unauthorized",
    "shaidFailure",
    "dynamicSecurityFailedSupply",
    "antiTheftEnabledSupply",
    "consumableForAnotherPrinter",
    "trialConsumableRejected",
];

/// `ConsumableState` → consumable status; `None` for a state this table does not know (the
/// caller keeps the text as a finding). States from HP's LEDM documents as devices serve them
/// (`ConsumableLifeState/ConsumableState`, `ConsumableStateAvailableActions/ConsumableState`)
/// and from the `ConsumableStateSupport` lists of their `ConsumableConfigCap`, each to the
/// closest schema status: a cartridge the printer refuses (incompatible, in the wrong slot,
/// unauthorised, for another printer, failing its security check) is faulty; a refilled or
/// remanufactured one is not genuine. Lifecycle states ([`LIFECYCLE_STATES`]) are OK here; the
/// caller refines them with `MeasuredQuantityState`.
pub(crate) fn consumable_status(state: &str) -> Option<ConsumableStatus> {
    if LIFECYCLE_STATES.contains(&state) {
        return Some(ConsumableStatus::OK);
    }
    Some(match state {
        "low" => ConsumableStatus::LOW,
        "veryLow" | "veryVeryLow" => ConsumableStatus::VERY_LOW,
        // `inkLowToStartUp`: too little ink to prime the system, the printer cannot start.
        "out" | "empty" | "depleted" | "inkLowToStartUp" => ConsumableStatus::EXHAUSTED,
        "missing" | "notInstalled" => ConsumableStatus::MISSING,
        s if NON_GENUINE_STATES.contains(&s) => ConsumableStatus::NON_GENUINE,
        "expired" => ConsumableStatus::EXPIRED,
        s if REFUSED_STATES.contains(&s) => ConsumableStatus::FAULTY,
        "unknown" => ConsumableStatus::UNKNOWN,
        _ => return None,
    })
}

/// `MeasuredQuantityState` (`ok`, `low`, `veryLow`, `out`, `unknown`) → consumable status;
/// `None` for `unknown` and for a value this table does not know.
pub(crate) fn measured_status(state: &str) -> Option<ConsumableStatus> {
    Some(match state {
        "ok" => ConsumableStatus::OK,
        "low" => ConsumableStatus::LOW,
        "veryLow" => ConsumableStatus::VERY_LOW,
        "out" => ConsumableStatus::EXHAUSTED,
        _ => return None,
    })
}

/// `MeasuredQuantityState` value for a level the device cannot measure.
pub(crate) const MEASURED_UNKNOWN: &str = "unknown";

/// A consumable's status from its `ConsumableState` and, where the device gives one, its
/// `MeasuredQuantityState`: a lifecycle state ([`LIFECYCLE_STATES`]) takes low, very low or
/// out from the measured state (unknown when the device cannot measure the level); any other
/// known state is the status; with no state the measured one is. Unknown texts are kept as
/// findings.
fn status_of(state: Option<String>, measured: Option<String>, findings: &mut Findings) -> ConsumableStatus {
    let measured_unknown = measured.as_deref() == Some(MEASURED_UNKNOWN);
    let measured = measured.and_then(|m| {
        let status = measured_status(&m);
        if status.is_none() && m != MEASURED_UNKNOWN {
            findings.push(Finding::UnmappedValue { field: "MeasuredQuantityState", text: m });
        }
        status
    });
    match state {
        None => measured.unwrap_or(ConsumableStatus::UNKNOWN),
        Some(state) => match consumable_status(&state) {
            // A level the device cannot measure says nothing of the cartridge (HPLIP: unknown).
            Some(_) if LIFECYCLE_STATES.contains(&state.as_str()) && measured_unknown => ConsumableStatus::UNKNOWN,
            Some(status) if LIFECYCLE_STATES.contains(&state.as_str()) => measured.unwrap_or(status),
            Some(status) => status,
            None => {
                findings.push(Finding::UnmappedValue { field: "ConsumableState", text: state });
                ConsumableStatus::UNKNOWN
            }
        },
    }
}

/// A percentage as the schema's level: 0 to 100, anything else clamped with a finding.
pub(crate) fn percent(value: Option<i64>, field: &'static str, findings: &mut Findings) -> Level {
    match value {
        None => Level::Unknown,
        Some(v) => {
            let clamped = v.clamp(0, 100);
            if clamped != v {
                findings.push(Finding::ValueClamped { field, value: v, replaced_by: Some(clamped) });
            }
            u32::try_from(clamped).map_or(Level::Unknown, Level::Amount)
        }
    }
}

/// Whether a `ConsumableInfo` says its level cannot be measured: `MeasuredQuantityState`
/// `unknown`, or `IsSupplyLevelUnknown` true (a child of `ConsumableInfo` on the OfficeJet Pro
/// 9022e; also looked for in `ConsumableLifeState`).
fn level_unmeasured(info: &Element) -> bool {
    let flag = info
        .text_at(&["IsSupplyLevelUnknown"])
        .or_else(|| info.text_at(&["ConsumableLifeState", "IsSupplyLevelUnknown"]));
    info.text_at(&["ConsumableLifeState", "MeasuredQuantityState"]).as_deref() == Some(MEASURED_UNKNOWN)
        || matches!(flag.as_deref(), Some("true" | "1"))
}

/// A consumable's record id: its station (the cartridge slot, counted from 0 by LEDM) plus
/// one; documents without stations count from 1 in document order. Alerts point at the same
/// record ([`marker_index`]).
fn record_of(station: Option<i64>, i: usize) -> RecordId {
    RecordId(
        station
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or_else(|| u64::try_from(i).unwrap_or(u64::MAX))
            .saturating_add(1),
    )
}

/// The record id of the consumable an alert's `AlertDetailsMarkerLocation` names: the
/// location is the cartridge's station (0-based; on the M255dw they are equal colour by
/// colour), so the same rule as [`record_of`].
fn marker_index(location: i64) -> Option<u32> {
    u32::try_from(location).ok()?.checked_add(1)
}

/// Whether any of `parent`'s `record`s is an ink tank (`ConsumableTypeEnum` `inkTank`).
fn has_tanks(parent: &Element, record: &str) -> bool {
    parent.all(record).take(MAX_RECORDS).any(|r| r.text_at(&["ConsumableTypeEnum"]).as_deref() == Some("inkTank"))
}

/// Whether the device has ink tanks, by the document its consumables are read from.
fn tanks(docs: &Documents) -> bool {
    match (&docs.consumable_config, &docs.product_usage) {
        (Some(config), _) => has_tanks(config, "ConsumableInfo"),
        (None, Some(usage)) => usage.child("ConsumableSubunit").is_some_and(|u| has_tanks(u, "Consumable")),
        (None, None) => false,
    }
}

/// The consumables of `ConsumableConfigDyn`, one per `ConsumableInfo`. A level of 0 that the
/// device says it cannot measure ([`level_unmeasured`]: HP reports 0 % for a refilled or
/// non-HP cartridge it cannot read) is unknown, not empty. Types as [`supply_type_among`] with
/// `tanks` ([`tanks`]). The page count is set by [`map`].
fn consumables(config: &Element, tanks: bool, findings: &mut Findings) -> Vec<Consumable> {
    let mut out = Vec::new();
    for (i, info) in config.all("ConsumableInfo").take(MAX_RECORDS).enumerate() {
        let station = info.int_at(&["ConsumableStation"]);
        let label = info.text_at(&["ConsumableLabelCode"]);
        let level = match info.int_at(&["ConsumablePercentageLevelRemaining"]) {
            Some(0) if level_unmeasured(info) => Level::Unknown,
            value => percent(value, "ConsumablePercentageLevelRemaining", findings),
        };
        let kind = info.text_at(&["ConsumableTypeEnum"]).map_or(SupplyType::UNKNOWN, |t| supply_type_among(&t, tanks));
        out.push(Consumable {
            record_id: record_of(station, i),
            kind,
            class: class_of(kind),
            colour: label.as_deref().and_then(colour_of),
            description: info.text_at(&["ConsumableFamilyName"]),
            part_number: info.text_at(&["ProductNumber"]),
            serial_number: info.text_at(&["SerialNumber"]),
            unit: SupplyUnit::PERCENT,
            level,
            capacity: Capacity::Amount(100),
            status: status_of(
                info.text_at(&["ConsumableLifeState", "ConsumableState"]),
                info.text_at(&["ConsumableLifeState", "MeasuredQuantityState"]),
                findings,
            ),
            ..Consumable::default()
        });
    }
    out
}

/// Consumables from `ProductUsageDyn` alone, for a device that served no
/// `ConsumableConfigDyn`: each `ConsumableSubunit/Consumable` with its station, colour, type
/// and level (`ConsumablePercentageLevelRemaining`, else the raw one, clamped to 0..100). The
/// page count is set by [`map`].
fn consumables_from_usage(usage: &Element, tanks: bool, findings: &mut Findings) -> Vec<Consumable> {
    let Some(unit) = usage.child("ConsumableSubunit") else { return Vec::new() };
    let mut out = Vec::new();
    for (i, c) in unit.all("Consumable").take(MAX_RECORDS).enumerate() {
        let station = c.int_at(&["ConsumableStation"]);
        let level = match c.int_at(&["ConsumablePercentageLevelRemaining"]) {
            Some(v) => percent(Some(v), "ConsumablePercentageLevelRemaining", findings),
            None => percent(
                c.int_at(&["ConsumableRawPercentageLevelRemaining"]),
                "ConsumableRawPercentageLevelRemaining",
                findings,
            ),
        };
        let kind = c.text_at(&["ConsumableTypeEnum"]).map_or(SupplyType::UNKNOWN, |t| supply_type_among(&t, tanks));
        out.push(Consumable {
            record_id: record_of(station, i),
            kind,
            class: class_of(kind),
            colour: c.text_at(&["MarkerColor"]).as_deref().and_then(colour_of),
            unit: SupplyUnit::PERCENT,
            level,
            capacity: Capacity::Amount(100),
            status: status_of(c.text_at(&["ConsumableState"]), None, findings),
            ..Consumable::default()
        });
    }
    out
}

/// `ProductUsageDyn` → meters: the printer subunit's total, mono, colour and duplex counters,
/// and the copy, scan and fax subunits of an MFP.
///
/// * COPIES, COPY_MONO, COPY_COLOUR: `CopyApplicationSubunit/TotalImpressions`,
///   `MonochromeImpressions`, `ColorImpressions`.
/// * SCANS: `ScanApplicationSubunit` `AdfImages + FlatbedImages`, every image the scan service
///   read whatever its destination (copies have their own subunit); the one of the two a
///   document has when it has no `ScanToHostImages` (a flatbed-only Colour LaserJet MFP M182nw:
///   `FlatbedImages` only); else `ScanToHostImages`, named for one destination (e-mail and
///   folder have their own counters). On the three captured MFPs that have all three, the sum
///   and `ScanToHostImages` agree (ENVY Photo 7830: 222 + 420 = 642; OfficeJet Pro 9022e: 2886 +
///   1270 = 4156, beside 4128 `ImagesSentToFolder`; Smart Tank 750: 263 + 170 = 433). The
///   choice goes by which elements are there, not by their values.
/// * FAX_IN: `FaxApplicationSubunit/TotalImpressions`, the pages the fax service printed
///   (received faxes); FAX_OUT: `FaxApplicationSubunit/TotalImagesSent`.
fn meters(usage: &Element, book: &mut MeterBook) {
    let int = |path: &[&str]| usage.int_at(path).and_then(|v| u64::try_from(v).ok());
    let mut add = |kind: MeterKind, source: &'static str, value: Option<u64>| {
        if let Some(v) = value {
            book.add(kind, Rank::Vendor, Source::Ledm(source), v);
        }
    };
    // A counter at `ProductUsageDyn/<subunit>/<name>`: the path names the source as well.
    let counter = |path: &str| path.strip_prefix("ProductUsageDyn/")?.split_once('/').and_then(|(s, n)| int(&[s, n]));
    for (kind, path) in [
        (MeterKind::TOTAL, "ProductUsageDyn/PrinterSubunit/TotalImpressions"),
        (MeterKind::MONO, "ProductUsageDyn/PrinterSubunit/MonochromeImpressions"),
        (MeterKind::COLOUR, "ProductUsageDyn/PrinterSubunit/ColorImpressions"),
        (MeterKind::DUPLEX_SHEETS, "ProductUsageDyn/PrinterSubunit/DuplexSheets"),
        (MeterKind::COPIES, "ProductUsageDyn/CopyApplicationSubunit/TotalImpressions"),
        (MeterKind::COPY_MONO, "ProductUsageDyn/CopyApplicationSubunit/MonochromeImpressions"),
        (MeterKind::COPY_COLOUR, "ProductUsageDyn/CopyApplicationSubunit/ColorImpressions"),
    ] {
        add(kind, path, counter(path));
    }
    // The scan application's images (copies are the copy application's): from the feeder and the
    // glass when the document has both; the one it has when it has one and no count of images
    // scanned to a computer (a flatbed-only M182nw); else ScanToHostImages. The choice goes by
    // which elements the document has, never by their values, so that a device's meter keeps
    // one source while its counters grow.
    let adf = int(&["ScanApplicationSubunit", "AdfImages"]);
    let flatbed = int(&["ScanApplicationSubunit", "FlatbedImages"]);
    let to_host = int(&["ScanApplicationSubunit", "ScanToHostImages"]);
    match (adf, flatbed, to_host) {
        (Some(adf), Some(flatbed), _) => add(
            MeterKind::SCANS,
            "ProductUsageDyn/ScanApplicationSubunit/AdfImages+FlatbedImages",
            adf.checked_add(flatbed),
        ),
        (Some(adf), None, None) => add(MeterKind::SCANS, "ProductUsageDyn/ScanApplicationSubunit/AdfImages", Some(adf)),
        (None, Some(flatbed), None) => {
            add(MeterKind::SCANS, "ProductUsageDyn/ScanApplicationSubunit/FlatbedImages", Some(flatbed))
        }
        (_, _, host) => add(MeterKind::SCANS, "ProductUsageDyn/ScanApplicationSubunit/ScanToHostImages", host),
    }
    for (kind, path) in [
        (MeterKind::FAX_IN, "ProductUsageDyn/FaxApplicationSubunit/TotalImpressions"),
        (MeterKind::FAX_OUT, "ProductUsageDyn/FaxApplicationSubunit/TotalImagesSent"),
    ] {
        add(kind, path, counter(path));
    }
}

/// How much a status category says about the device, to choose among several `<Status>`: an
/// error outranks a warning, a warning outranks work in progress, which outranks idle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Precedence {
    /// Ready, asleep.
    Idle,
    /// Printing, scanning, warming up ...
    Busy,
    /// Needs attention, still running (a tray empty, a cartridge low).
    Warning,
    /// Stopped (a jam, a door open, a missing cartridge).
    Error,
}

/// What one `StatusCategory` says.
#[derive(Clone, Copy, Debug)]
enum Category {
    /// A state of the device.
    State {
        /// Which state wins when there are several.
        precedence: Precedence,
        /// Engine and printer state, where the category has one (a cartridge low does not say
        /// whether the device is printing or asleep).
        activity: Option<(EngineStatus, PrinterState)>,
        /// The device state.
        device: DeviceState,
        /// The detected errors it sets.
        errors: DetectedErrors,
    },
    /// A notice, not a state (a genuine supply, a memory card inserted, a tray closed): it
    /// decides nothing but its detected errors, if any.
    Notice(DetectedErrors),
}

/// Status categories that are notices, not states: a genuine, non-HP, used or upgraded
/// supply, a tray closed, a memory card, subscription and ordering reminders, a past
/// improper shutdown, a loaded document feeder.
const NOTICE_CATEGORIES: &[&str] = &[
    "genuineHP",
    "nonHPSupplyDetected",
    "usedConsumable",
    "upgradableSupply",
    "supplyUpgradeSuccess",
    "inkSystemReady",
    "trayClosed",
    "memoryCardInserted",
    "orderCartridge",
    "subscribedPagesLow",
    "subscribedPagesVeryLow",
    "subscriptionSuccessful",
    "improperShutdown",
    "calibrationRequired",
    "scannerAdfLoaded",
];

/// Status categories of a supply the printer refuses (the `ConsumableCategory/Errors` of
/// HP's `ProductStatusCap`, HPLIP's `incorrectCartridge`).
const REFUSED_SUPPLY_CATEGORIES: &[&str] = &[
    "incompatibleConsumable",
    "incorrectCartridge",
    "cartridgeInWrongOrder",
    "dynamicSecurityCheckFailed",
    "antiTheftEnabledSupplyDetected",
    "supplyForwardIncompatible",
];

/// `StatusCategory` → what it says; `None` for a category this table does not know. Names
/// from the devices' documents, the `StatusCategorySupport` lists of their
/// `ProductStatusCap` (ENVY Photo 7830, OfficeJet Pro 9022e) and HPLIP's LEDM status reader
/// (`StatusType10Status`), with older spellings kept.
fn category(name: &str) -> Option<Category> {
    use DetectedErrors as E;
    use DeviceState as D;
    use EngineStatus as G;
    use Precedence::{Busy, Error, Idle, Warning};
    use PrinterState as P;
    let state = |precedence, engine, printer, device, errors| Category::State {
        precedence,
        activity: Some((engine, printer)),
        device,
        errors,
    };
    let stopped = |errors| state(Error, G::ERROR, P::OTHER, D::DOWN, errors);
    // A condition that does not stop the device and says nothing of what it is doing.
    let warning = |errors| Category::State { precedence: Warning, activity: None, device: D::WARNING, errors };
    Some(match name {
        "ready" | "idle" => state(Idle, G::READY, P::IDLE, D::RUNNING, E::NONE),
        "inPowerSave" | "powerSave" | "sleep" | "sleepMode" => state(Idle, G::SLEEP, P::IDLE, D::RUNNING, E::NONE),
        "processing" | "printing" => state(Busy, G::PRINTING, P::PRINTING, D::RUNNING, E::NONE),
        "scanProcessing" | "scanning" | "copying" | "faxProcessing" | "faxing" | "faxSending" | "faxReceiving"
        | "faxDialing" | "faxConnecting" | "busy" | "cancelJob" | "cancelling" | "calibrating" | "cleaning"
        | "aligning" => state(Busy, G::BUSY, P::OTHER, D::RUNNING, E::NONE),
        "initializing" | "inkSystemInitializing" | "warmingUp" => {
            state(Busy, G::WARMING_UP, P::WARMUP, D::RUNNING, E::NONE)
        }
        "trayEmptyOrOpen" | "trayEmpty" | "loadPaper" | "outOfPaper" | "paperOut" => {
            state(Warning, G::ERROR, P::OTHER, D::WARNING, E::NO_PAPER)
        }
        "trayOpen" | "trayMissing" | "insertOrCloseTray" | "insertOrCloseTray2" => {
            state(Warning, G::ERROR, P::OTHER, D::WARNING, E::INPUT_TRAY_MISSING)
        }
        "cartridgeLow" | "cartridgeVeryLow" => warning(E::LOW_TONER),
        "wasteMarkerCollectorAlmostFull" => warning(E::NONE),
        "jam" | "jammed" | "paperJam" | "carriageJam" | "jamInPrinter" => stopped(E::JAMMED),
        "doorOpen" | "closeDoorOrCover" | "coverOpen" => stopped(E::DOOR_OPEN),
        "cartridgeMissing" | "missingCartridge" | "missingPrintHead" | "missingPrinthead" | "consumableMissing" => {
            stopped(E::MARKER_SUPPLY_MISSING)
        }
        "cartridgeEmpty" | "inkEmpty" | "tonerEmpty" => stopped(E::NO_TONER),
        "outputBinFull" | "outputFull" => stopped(E::OUTPUT_FULL),
        "serviceRequired" | "printerError" | "error" | "hardError" => stopped(E::SERVICE_REQUESTED),
        "wasteMarkerCollectorFull" | "cartridgeFailure" | "failedPrintHead" => stopped(E::SERVICE_REQUESTED),
        // A supply the printer refuses: stopped, with no detected-error bit that says so.
        c if REFUSED_SUPPLY_CATEGORIES.contains(&c) => stopped(E::NONE),
        "shuttingDown" | "offline" | "off" => state(Error, G::OFFLINE, P::OTHER, D::DOWN, E::OFFLINE),
        "trayAlmostEmpty" => Category::Notice(E::LOW_PAPER),
        c if NOTICE_CATEGORIES.contains(&c) => Category::Notice(E::NONE),
        _ => return None,
    })
}

/// `ProductStatusDyn` → status. The document holds one `<Status>` per active condition, in no
/// set order (the ENVY Photo 7830 lists `trayEmpty` before `inPowerSave`), so every one is
/// read: the device state comes from the category of highest [`Precedence`] (the first of
/// equals), engine and printer state from a stop, else from work or idleness, else from a
/// warning (the first of equals), and the detected errors of all are joined. Notices decide nothing. A category this table does not know is
/// a finding and leaves the others to decide; with no known state the status is unknown.
fn status(doc: &Element, findings: &mut Findings) -> DeviceStatus {
    let categories = doc.all("Status").take(MAX_RECORDS).filter_map(|s| s.text_at(&["StatusCategory"]));
    status_of_categories(categories, "ProductStatusDyn/Status/StatusCategory", findings)
}

/// The status the categories `texts` say together ([`status`]'s rules; HP's CDM
/// `/cdm/system/v1/status` is read with them, its `inPowerSave` being LEDM's); an unknown one
/// is a finding on `field`.
pub(crate) fn status_of_categories(
    texts: impl Iterator<Item = String>,
    field: &'static str,
    findings: &mut Findings,
) -> DeviceStatus {
    let mut errors = DetectedErrors::NONE;
    let mut device: Option<(Precedence, DeviceState)> = None;
    // What the device is doing: a stop decides it, else work or idleness, and a warning (a tray
    // empty) only when nothing else says (the ENVY Photo 7830 asleep with its photo tray empty
    // is asleep, not in error).
    let doing_rank = |p: Precedence| match p {
        Precedence::Error => 3,
        Precedence::Busy => 2,
        Precedence::Idle => 1,
        Precedence::Warning => 0,
    };
    let mut activity: Option<(u8, EngineStatus, PrinterState)> = None;
    for text in texts {
        match category(&text) {
            Some(Category::Notice(bits)) => errors = errors | bits,
            Some(Category::State { precedence, activity: doing, device: state, errors: bits }) => {
                errors = errors | bits;
                if device.is_none_or(|(p, _)| precedence > p) {
                    device = Some((precedence, state));
                }
                if let Some((engine, printer)) = doing
                    && activity.is_none_or(|(rank, ..)| doing_rank(precedence) > rank)
                {
                    activity = Some((doing_rank(precedence), engine, printer));
                }
            }
            None => findings.push(Finding::UnmappedValue { field, text }),
        }
    }
    DeviceStatus {
        engine: activity.map_or(EngineStatus::UNKNOWN, |(_, engine, _)| engine),
        printer: activity.map_or(PrinterState::UNKNOWN, |(.., printer)| printer),
        device: device.map_or(DeviceState::UNKNOWN, |(_, state)| state),
        errors,
    }
}

/// The Printer-MIB alert code and group (IANA-PRINTER-MIB `PrtAlertCodeTC`, `PrtAlertGroupTC`)
/// of an LEDM `ProductStatusAlertID` that has an exact one: the paper, tray, door, jam,
/// output, supply and waste conditions [`category`] knows. A supply condition's code depends
/// on the alert's `AlertDetailsConsumableTypeEnum` (`kind`): toner, ink, or any supply. Others
/// keep code `other` and their id as the vendor code.
pub(crate) fn alert_code(id: &str, kind: Option<SupplyType>) -> Option<(AlertCode, AlertGroup)> {
    let toner = matches!(kind, Some(SupplyType::TONER_CARTRIDGE | SupplyType::TONER));
    let ink = matches!(kind, Some(SupplyType::INK_CARTRIDGE | SupplyType::INK));
    let by_kind = |if_toner, if_ink, otherwise| match (toner, ink) {
        (true, _) => if_toner,
        (_, true) => if_ink,
        _ => otherwise,
    };
    Some(match id {
        "trayEmptyOrOpen" | "trayEmpty" | "loadPaper" | "outOfPaper" | "paperOut" => {
            (AlertCode::INPUT_MEDIA_SUPPLY_EMPTY, AlertGroup::INPUT)
        }
        "trayAlmostEmpty" => (AlertCode::INPUT_MEDIA_SUPPLY_LOW, AlertGroup::INPUT),
        "trayOpen" | "trayMissing" | "insertOrCloseTray" | "insertOrCloseTray2" => {
            (AlertCode::INPUT_MEDIA_TRAY_MISSING, AlertGroup::INPUT)
        }
        "jam" | "jammed" | "paperJam" | "jamInPrinter" => (AlertCode::JAM, AlertGroup::MEDIA_PATH),
        "carriageJam" => (AlertCode::JAM, AlertGroup::MARKER),
        "doorOpen" => (AlertCode::DOOR_OPEN, AlertGroup::COVER),
        "coverOpen" | "closeDoorOrCover" => (AlertCode::COVER_OPEN, AlertGroup::COVER),
        "outputBinFull" | "outputFull" => (AlertCode::OUTPUT_MEDIA_TRAY_FULL, AlertGroup::OUTPUT),
        "inkEmpty" => (AlertCode::MARKER_INK_EMPTY, AlertGroup::MARKER_SUPPLIES),
        "tonerEmpty" => (AlertCode::MARKER_TONER_EMPTY, AlertGroup::MARKER_SUPPLIES),
        "cartridgeEmpty" => (
            by_kind(AlertCode::MARKER_TONER_EMPTY, AlertCode::MARKER_INK_EMPTY, AlertCode::SUBUNIT_EMPTY),
            AlertGroup::MARKER_SUPPLIES,
        ),
        "cartridgeLow" | "cartridgeVeryLow" => (
            by_kind(
                AlertCode::MARKER_TONER_ALMOST_EMPTY,
                AlertCode::MARKER_INK_ALMOST_EMPTY,
                AlertCode::SUBUNIT_ALMOST_EMPTY,
            ),
            AlertGroup::MARKER_SUPPLIES,
        ),
        "cartridgeMissing" | "missingCartridge" | "consumableMissing" => (
            by_kind(AlertCode::MARKER_TONER_CARTRIDGE_MISSING, AlertCode::SUBUNIT_MISSING, AlertCode::SUBUNIT_MISSING),
            AlertGroup::MARKER_SUPPLIES,
        ),
        // LEDM lists the printhead among the consumables (the OfficeJet Pro 9022e's station 0).
        "missingPrintHead" | "missingPrinthead" => (AlertCode::SUBUNIT_MISSING, AlertGroup::MARKER_SUPPLIES),
        // HP's waste marker collector is the inkjet's service-station ink container.
        "wasteMarkerCollectorAlmostFull" => {
            (AlertCode::MARKER_WASTE_INK_RECEPTACLE_ALMOST_FULL, AlertGroup::MARKER_SUPPLIES)
        }
        "wasteMarkerCollectorFull" => (AlertCode::MARKER_WASTE_INK_RECEPTACLE_FULL, AlertGroup::MARKER_SUPPLIES),
        _ => return None,
    })
}

/// The alert table. An alert's record id is its `SequenceNumber`; alerts that share one (an HP
/// device numbers a group of alerts once) get the sequence number with the occurrence count in
/// the high 32 bits, so that none is lost as a repeated id; alerts without one count from 0.
/// Severity `Error` is critical, `Warning` and `StrictWarning` (in the `SeveritySupport` of
/// HP's `ProductStatusCap`) are warnings. A consumable alert's group index is the record id
/// of the consumable it names ([`marker_index`]).
fn alerts(doc: &Element, tanks: bool) -> Vec<Alert> {
    let Some(table) = doc.child("AlertTable") else { return Vec::new() };
    let mut seen: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    table
        .all("Alert")
        .take(MAX_RECORDS)
        .enumerate()
        .map(|(i, a)| {
            let sequence = a
                .int_at(&["SequenceNumber"])
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or_else(|| u64::try_from(i).unwrap_or(u64::MAX))
                & 0xFFFF_FFFF;
            let occurrence = seen.entry(sequence).or_insert(0);
            let record = sequence | (*occurrence << 32);
            *occurrence = occurrence.saturating_add(1);
            let severity = match a.text_at(&["Severity"]).as_deref() {
                Some("Error" | "error" | "Critical" | "critical") => AlertSeverity::CRITICAL,
                Some("Warning" | "warning" | "StrictWarning" | "strictWarning") => AlertSeverity::WARNING,
                Some(_) => AlertSeverity::OTHER,
                None => AlertSeverity::default(),
            };
            let consumable = a.at(&["AlertDetails", "AlertDetailsConsumableTypeEnum"]).is_some();
            let kind =
                a.text_at(&["AlertDetails", "AlertDetailsConsumableTypeEnum"]).map(|k| supply_type_among(&k, tanks));
            let input_bin = a.text_at(&["AlertDetails", "AlertDetailsInputBin"]);
            let id = a.text_at(&["ProductStatusAlertID"]);
            let (code, known_group) = id.as_deref().and_then(|id| alert_code(id, kind)).unzip();
            let group = known_group.unwrap_or(if consumable {
                AlertGroup::MARKER_SUPPLIES
            } else if input_bin.is_some() {
                AlertGroup::INPUT
            } else {
                AlertGroup::OTHER
            });
            Alert {
                record_id: RecordId(record),
                // What the alert concerns: a cartridge's colour, or the input bin by name. Two
                // texts of up to the limit each: the composition is cut back to the limit.
                description: a
                    .text_at(&["AlertDetails", "AlertDetailsMarkerColor"])
                    .or(input_bin)
                    .and_then(|what| clean_text(format!("{} ({what})", id.as_deref().unwrap_or_default()).as_bytes())),
                code: code.unwrap_or(AlertCode::OTHER),
                vendor_code: id,
                group,
                group_index: a.int_at(&["AlertDetails", "AlertDetailsMarkerLocation"]).and_then(marker_index),
                severity,
                ..Alert::default()
            }
        })
        .collect()
}

/// Maps the documents a collector fetched into a report, with the provenance of every meter
/// (the LEDM element it was read from) and the findings (missing documents, unknown states
/// with their text, clamped levels, no page counter ...). Consumables come from
/// `ConsumableConfigDyn`, or from `ProductUsageDyn` when that is all the device served; the
/// page count of each is the device's TOTAL meter. The caller sets `generated_at`. The report
/// passes [`DeviceReport::validate`].
pub fn map(docs: &Documents) -> Mapped {
    let mut findings = Findings::default();
    let mut report = DeviceReport::default();
    for (doc, name) in [
        (&docs.product_config, "ProductConfigDyn.xml"),
        (&docs.consumable_config, "ConsumableConfigDyn.xml"),
        (&docs.product_usage, "ProductUsageDyn.xml"),
        (&docs.product_status, "ProductStatusDyn.xml"),
    ] {
        if doc.is_none() {
            findings.push(Finding::DocumentMissing { document: name });
        }
    }
    if let Some(config) = &docs.product_config {
        report.identity = identity(config);
    }
    // Ink tanks make the device's `inkCartridge`s printheads, in the consumables and the alerts.
    let tanks = tanks(docs);
    match (&docs.consumable_config, &docs.product_usage) {
        (Some(config), _) => report.snapshot.consumables = consumables(config, tanks, &mut findings),
        (None, Some(usage)) => report.snapshot.consumables = consumables_from_usage(usage, tanks, &mut findings),
        (None, None) => {}
    }
    let mut book = MeterBook::default();
    if let Some(usage) = &docs.product_usage {
        meters(usage, &mut book);
    }
    if let Some(status_doc) = &docs.product_status {
        report.snapshot.status = status(status_doc, &mut findings);
        report.snapshot.alerts = alerts(status_doc, tanks);
    }
    let meters = book.finish(&mut report, &mut findings);
    // No consumable page count: the schema's is the device's total when the reading was taken,
    // which this report's TOTAL meter already is (repeating it in every consumable would make
    // each one a full upsert of the delta whenever the device prints); ProductUsageDyn's
    // per-cartridge TotalImpressions are not that (2220 for the M255dw's black toner against a
    // device total of 1344), and the schema has no field for them.
    crate::make_valid(&mut report, &mut findings);
    crate::finding::check_report(&report, &mut findings);
    Mapped { report, meters, findings: findings.into_vec() }
}

/// [`map`], the report only (prefer [`map`]).
pub fn map_report(docs: &Documents) -> DeviceReport {
    map(docs).report
}
