//! HP LEDM (`/DevMgmt/*.xml`) documents → a device report.
//!
//! [`Element::parse`] reads one document into a small tree (local names and text only, bounded by
//! [`MAX_LEDM_BYTES`], [`MAX_LEDM_DEPTH`] and [`MAX_LEDM_ELEMENTS`]; DTDs refused, so no entity
//! expansion); [`map_report`] maps the four documents a collector reads:
//!
//! * `ProductConfigDyn.xml`: make and model, serial and product number, firmware date;
//! * `ConsumableConfigDyn.xml`: each `ConsumableInfo` — label code and colour, type, percentage
//!   remaining, product and serial number, state, estimated pages;
//! * `ProductUsageDyn.xml`: total, mono, colour and duplex counters (meters), and per consumable
//!   the impressions made with it;
//! * `ProductStatusDyn.xml`: the status category and the alert table.
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
    PageCount, RecordId,
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

/// `ConsumableLabelCode` (K, C, M, Y, CMY, ...) → colour.
fn colour_of_label(label: &str) -> Option<Colour> {
    Some(match label {
        "K" => Colour::Black,
        "C" => Colour::Cyan,
        "M" => Colour::Magenta,
        "Y" => Colour::Yellow,
        "CMY" => Colour::TriColour,
        _ => return None,
    })
}

/// `ConsumableTypeEnum` → supply type.
fn supply_type(kind: &str) -> SupplyType {
    match kind {
        "toner" => SupplyType::TONER_CARTRIDGE,
        "ink" | "inkCartridge" => SupplyType::INK_CARTRIDGE,
        "printhead" => SupplyType::PRINTHEAD,
        "tonerCollectionUnit" | "wasteToner" => SupplyType::WASTE_TONER,
        "imagingDrum" | "drum" => SupplyType::OPC,
        "fuser" | "fuserKit" => SupplyType::FUSER,
        "transferKit" | "transferBelt" => SupplyType::TRANSFER_UNIT,
        "maintenanceKit" => SupplyType::MAINTENANCE_KIT,
        _ => SupplyType::OTHER,
    }
}

/// `ConsumableState` → consumable status; `None` for a state this table does not know (the
/// caller keeps the text as a finding). States from HP's LEDM documents as devices serve them
/// (`ConsumableLifeState/ConsumableState`, `ConsumableStateAvailableActions/ConsumableState`).
fn consumable_status(state: &str) -> Option<ConsumableStatus> {
    Some(match state {
        "ok" | "used" | "genuineHP" | "newGenuineHP" | "usedGenuineHP" | "reinstalledGenuineHP" => ConsumableStatus::OK,
        "low" => ConsumableStatus::LOW,
        "veryLow" | "veryVeryLow" => ConsumableStatus::VERY_LOW,
        "out" | "empty" | "depleted" => ConsumableStatus::EXHAUSTED,
        "missing" | "notInstalled" => ConsumableStatus::MISSING,
        "counterfeit" | "refilled" | "nonHP" | "nonGenuine" | "usedNonHP" | "refilledOrCounterfeit" => {
            ConsumableStatus::NON_GENUINE
        }
        "expired" => ConsumableStatus::EXPIRED,
        "defective" | "damaged" | "incompatible" | "failed" | "wrongSlot" => ConsumableStatus::FAULTY,
        "unknown" => ConsumableStatus::UNKNOWN,
        _ => return None,
    })
}

fn state_of(info: &Element, path: &[&str], findings: &mut Findings) -> ConsumableStatus {
    match info.text_at(path) {
        None => ConsumableStatus::UNKNOWN,
        Some(state) => consumable_status(&state).unwrap_or_else(|| {
            findings.push(Finding::UnmappedValue { field: "ConsumableState", text: state });
            ConsumableStatus::UNKNOWN
        }),
    }
}

/// A percentage as the schema's level: 0 to 100, anything else clamped with a finding.
fn percent(value: Option<i64>, field: &'static str, findings: &mut Findings) -> Level {
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

fn record_of(station: Option<i64>, i: usize) -> RecordId {
    // The station numbers the cartridge slot; documents without one count from 1.
    RecordId(
        station
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or_else(|| u64::try_from(i).unwrap_or(u64::MAX))
            .saturating_add(1),
    )
}

fn consumables(config: &Element, usage: Option<&Element>, findings: &mut Findings) -> Vec<Consumable> {
    // Impressions made with each cartridge, by station, from ProductUsageDyn.
    let impressions = |station: Option<i64>| -> Option<PageCount> {
        let unit = usage?.child("ConsumableSubunit")?;
        let c = unit.all("Consumable").find(|c| c.int_at(&["ConsumableStation"]) == station)?;
        Some(PageCount(u64::try_from(c.int_at(&["TotalImpressions"])?).ok()?))
    };
    let mut out = Vec::new();
    for (i, info) in config.all("ConsumableInfo").take(MAX_RECORDS).enumerate() {
        let station = info.int_at(&["ConsumableStation"]);
        let label = info.text_at(&["ConsumableLabelCode"]);
        let level = percent(
            info.int_at(&["ConsumablePercentageLevelRemaining"]),
            "ConsumablePercentageLevelRemaining",
            findings,
        );
        out.push(Consumable {
            record_id: record_of(station, i),
            kind: info.text_at(&["ConsumableTypeEnum"]).map_or(SupplyType::UNKNOWN, |t| supply_type(&t)),
            class: SupplyClass::SUPPLY_THAT_IS_CONSUMED,
            colour: label.as_deref().and_then(colour_of_label),
            description: info.text_at(&["ConsumableFamilyName"]),
            part_number: info.text_at(&["ProductNumber"]),
            serial_number: info.text_at(&["SerialNumber"]),
            unit: SupplyUnit::PERCENT,
            level,
            capacity: Capacity::Amount(100),
            status: state_of(info, &["ConsumableLifeState", "ConsumableState"], findings),
            page_count: impressions(station),
            ..Consumable::default()
        });
    }
    out
}

/// Consumables from `ProductUsageDyn` alone, for a device that served no
/// `ConsumableConfigDyn`: each `ConsumableSubunit/Consumable` with its station, colour, type,
/// level (`ConsumablePercentageLevelRemaining`, else the raw one, clamped to 0..100) and the
/// impressions made with it.
fn consumables_from_usage(usage: &Element, findings: &mut Findings) -> Vec<Consumable> {
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
        out.push(Consumable {
            record_id: record_of(station, i),
            kind: c.text_at(&["ConsumableTypeEnum"]).map_or(SupplyType::UNKNOWN, |t| supply_type(&t)),
            class: SupplyClass::SUPPLY_THAT_IS_CONSUMED,
            colour: c
                .text_at(&["MarkerColor"])
                .map(|name| Colour::parse(&name))
                .filter(|colour| !matches!(colour, Colour::Other(_))),
            unit: SupplyUnit::PERCENT,
            level,
            capacity: Capacity::Amount(100),
            status: state_of(c, &["ConsumableState"], findings),
            page_count: c.int_at(&["TotalImpressions"]).and_then(|v| u64::try_from(v).ok()).map(PageCount),
            ..Consumable::default()
        });
    }
    out
}

fn meters(usage: &Element, book: &mut MeterBook) {
    let Some(unit) = usage.child("PrinterSubunit") else { return };
    for (name, kind, path) in [
        ("TotalImpressions", MeterKind::TOTAL, "ProductUsageDyn/PrinterSubunit/TotalImpressions"),
        ("MonochromeImpressions", MeterKind::MONO, "ProductUsageDyn/PrinterSubunit/MonochromeImpressions"),
        ("ColorImpressions", MeterKind::COLOUR, "ProductUsageDyn/PrinterSubunit/ColorImpressions"),
        ("DuplexSheets", MeterKind::DUPLEX_SHEETS, "ProductUsageDyn/PrinterSubunit/DuplexSheets"),
    ] {
        if let Some(v) = unit.int_at(&[name]).and_then(|v| u64::try_from(v).ok()) {
            book.add(kind, Rank::Vendor, Source::Ledm(path), v);
        }
    }
    // The copy, scan and fax subunits of an MFP, where present.
    for (path, kind, source) in [
        (
            &["CopyApplicationSubunit", "TotalImpressions"][..],
            MeterKind::COPIES,
            "ProductUsageDyn/CopyApplicationSubunit/TotalImpressions",
        ),
        (
            &["ScanApplicationSubunit", "ScanToHostImages"][..],
            MeterKind::SCANS,
            "ProductUsageDyn/ScanApplicationSubunit/ScanToHostImages",
        ),
        (
            &["FaxApplicationSubunit", "TotalFaxesReceived"][..],
            MeterKind::FAX_IN,
            "ProductUsageDyn/FaxApplicationSubunit/TotalFaxesReceived",
        ),
    ] {
        if let Some(v) = usage.int_at(path).and_then(|v| u64::try_from(v).ok()) {
            book.add(kind, Rank::Vendor, Source::Ledm(source), v);
        }
    }
}

/// `StatusCategory` → status. Every category HP's LEDM documents use that this table knows
/// maps to the schema; another keeps its text as a finding and leaves the status unknown.
fn status(doc: &Element, findings: &mut Findings) -> DeviceStatus {
    use DetectedErrors as E;
    use DeviceState as D;
    use EngineStatus as G;
    use PrinterState as P;
    let category = doc.text_at(&["Status", "StatusCategory"]).unwrap_or_default();
    let (engine, printer, device, errors) = match category.as_str() {
        "ready" | "idle" => (G::READY, P::IDLE, D::RUNNING, E::NONE),
        "inPowerSave" | "powerSave" | "sleep" | "sleepMode" => (G::SLEEP, P::IDLE, D::RUNNING, E::NONE),
        "processing" | "printing" => (G::PRINTING, P::PRINTING, D::RUNNING, E::NONE),
        "scanProcessing" | "scanning" | "copying" | "faxProcessing" | "faxing" | "busy" | "cancelJob"
        | "cancelling" | "calibrating" | "cleaning" | "aligning" => (G::BUSY, P::OTHER, D::RUNNING, E::NONE),
        "initializing" | "inkSystemInitializing" | "warmingUp" => (G::WARMING_UP, P::WARMUP, D::RUNNING, E::NONE),
        "jam" | "jammed" | "paperJam" | "carriageJam" => (G::ERROR, P::OTHER, D::DOWN, E::JAMMED),
        "doorOpen" | "closeDoorOrCover" | "coverOpen" => (G::ERROR, P::OTHER, D::DOWN, E::DOOR_OPEN),
        "trayEmptyOrOpen" | "trayEmpty" | "loadPaper" | "outOfPaper" | "paperOut" => {
            (G::ERROR, P::OTHER, D::WARNING, E::NO_PAPER)
        }
        "trayOpen" | "trayMissing" => (G::ERROR, P::OTHER, D::WARNING, E::INPUT_TRAY_MISSING),
        "cartridgeMissing" | "missingCartridge" | "missingPrinthead" | "consumableMissing" => {
            (G::ERROR, P::OTHER, D::DOWN, E::MARKER_SUPPLY_MISSING)
        }
        "cartridgeEmpty" | "inkEmpty" | "tonerEmpty" => (G::ERROR, P::OTHER, D::DOWN, E::NO_TONER),
        "outputBinFull" | "outputFull" => (G::ERROR, P::OTHER, D::DOWN, E::OUTPUT_FULL),
        "serviceRequired" | "printerError" | "error" => (G::ERROR, P::OTHER, D::DOWN, E::SERVICE_REQUESTED),
        "shuttingDown" | "offline" | "off" => (G::OFFLINE, P::OTHER, D::DOWN, E::OFFLINE),
        "" => (G::UNKNOWN, P::UNKNOWN, D::UNKNOWN, E::NONE),
        _ => {
            findings.push(Finding::UnmappedValue { field: "ProductStatusDyn/Status/StatusCategory", text: category });
            (G::UNKNOWN, P::UNKNOWN, D::UNKNOWN, E::NONE)
        }
    };
    DeviceStatus { engine, device, printer, errors }
}

/// The Printer-MIB alert code and group (IANA-PRINTER-MIB `PrtAlertCodeTC`, `PrtAlertGroupTC`)
/// of an LEDM `ProductStatusAlertID` that has an exact one: the paper, tray, door, jam, output
/// and empty-supply conditions [`status`] knows as status categories. Others keep code `other`
/// and their id as the vendor code.
fn alert_code(id: &str) -> Option<(AlertCode, AlertGroup)> {
    Some(match id {
        "trayEmptyOrOpen" | "trayEmpty" | "loadPaper" | "outOfPaper" | "paperOut" => {
            (AlertCode::INPUT_MEDIA_SUPPLY_EMPTY, AlertGroup::INPUT)
        }
        "trayOpen" | "trayMissing" => (AlertCode::INPUT_MEDIA_TRAY_MISSING, AlertGroup::INPUT),
        "jam" | "jammed" | "paperJam" => (AlertCode::JAM, AlertGroup::MEDIA_PATH),
        "carriageJam" => (AlertCode::JAM, AlertGroup::MARKER),
        "doorOpen" => (AlertCode::DOOR_OPEN, AlertGroup::COVER),
        "coverOpen" | "closeDoorOrCover" => (AlertCode::COVER_OPEN, AlertGroup::COVER),
        "outputBinFull" | "outputFull" => (AlertCode::OUTPUT_MEDIA_TRAY_FULL, AlertGroup::OUTPUT),
        "inkEmpty" => (AlertCode::MARKER_INK_EMPTY, AlertGroup::MARKER_SUPPLIES),
        "tonerEmpty" => (AlertCode::MARKER_TONER_EMPTY, AlertGroup::MARKER_SUPPLIES),
        _ => return None,
    })
}

/// The alert table. An alert's record id is its `SequenceNumber`; alerts that share one (an HP
/// device numbers a group of alerts once) get the sequence number with the occurrence count in
/// the high 32 bits, so that none is lost as a repeated id; alerts without one count from 0.
fn alerts(doc: &Element) -> Vec<Alert> {
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
                Some("Warning" | "warning") => AlertSeverity::WARNING,
                Some(_) => AlertSeverity::OTHER,
                None => AlertSeverity::default(),
            };
            let consumable = a.at(&["AlertDetails", "AlertDetailsConsumableTypeEnum"]).is_some();
            let input_bin = a.text_at(&["AlertDetails", "AlertDetailsInputBin"]);
            let id = a.text_at(&["ProductStatusAlertID"]);
            let (code, known_group) = id.as_deref().and_then(alert_code).unzip();
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
                group_index: a
                    .int_at(&["AlertDetails", "AlertDetailsMarkerLocation"])
                    .and_then(|l| u32::try_from(l).ok()),
                severity,
                ..Alert::default()
            }
        })
        .collect()
}

/// Maps the documents a collector fetched into a report, with the provenance of every meter
/// (the LEDM element it was read from) and the findings (missing documents, unknown states
/// with their text, clamped levels, no page counter ...). Consumables come from
/// `ConsumableConfigDyn`, or from `ProductUsageDyn` when that is all the device served. The
/// caller sets `generated_at`. The report passes [`DeviceReport::validate`].
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
    match (&docs.consumable_config, &docs.product_usage) {
        (Some(config), usage) => {
            report.snapshot.consumables = consumables(config, usage.as_ref(), &mut findings);
        }
        (None, Some(usage)) => report.snapshot.consumables = consumables_from_usage(usage, &mut findings),
        (None, None) => {}
    }
    let mut book = MeterBook::default();
    if let Some(usage) = &docs.product_usage {
        meters(usage, &mut book);
    }
    if let Some(status_doc) = &docs.product_status {
        report.snapshot.status = status(status_doc, &mut findings);
        report.snapshot.alerts = alerts(status_doc);
    }
    let meters = book.finish(&mut report, &mut findings);
    crate::make_valid(&mut report, &mut findings);
    crate::finding::check_report(&report, &mut findings);
    Mapped { report, meters, findings: findings.into_vec() }
}

/// [`map`], the report only (prefer [`map`]).
pub fn map_report(docs: &Documents) -> DeviceReport {
    map(docs).report
}
