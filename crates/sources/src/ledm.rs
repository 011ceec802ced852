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

use crate::snmp::printer_mib::clean_text;

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
        let text = std::str::from_utf8(bytes).map_err(|_| LedmError::Malformed("not UTF-8".into()))?;
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

fn identity(config: &Element) -> Identity {
    let info = config.child("ProductInformation");
    let at = |name: &str| info.and_then(|i| i.text_at(&[name]));
    let make_and_model = at("MakeAndModel");
    Identity {
        make: make_and_model.as_deref().and_then(|m| m.split_whitespace().next()).map(str::to_owned),
        model: make_and_model.clone(),
        product_name: at("MakeAndModelFamily").or(make_and_model),
        serial_number: at("SerialNumber"),
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

/// `ConsumableState` → consumable status.
fn consumable_status(state: &str) -> ConsumableStatus {
    match state {
        "ok" => ConsumableStatus::OK,
        "low" => ConsumableStatus::LOW,
        "veryLow" => ConsumableStatus::VERY_LOW,
        "out" | "empty" => ConsumableStatus::EXHAUSTED,
        "missing" => ConsumableStatus::MISSING,
        "counterfeit" | "refilled" | "nonHP" => ConsumableStatus::NON_GENUINE,
        _ => ConsumableStatus::UNKNOWN,
    }
}

fn consumables(config: &Element, usage: Option<&Element>) -> Vec<Consumable> {
    // Impressions made with each cartridge, by station, from ProductUsageDyn.
    let impressions = |station: Option<i64>| -> Option<PageCount> {
        let unit = usage?.child("ConsumableSubunit")?;
        let c = unit.all("Consumable").find(|c| c.int_at(&["ConsumableStation"]) == station)?;
        Some(PageCount(u64::try_from(c.int_at(&["TotalImpressions"])?).ok()?))
    };
    config
        .all("ConsumableInfo")
        .take(MAX_RECORDS)
        .enumerate()
        .map(|(i, info)| {
            let station = info.int_at(&["ConsumableStation"]);
            let label = info.text_at(&["ConsumableLabelCode"]);
            let level = info
                .int_at(&["ConsumablePercentageLevelRemaining"])
                .and_then(|l| u32::try_from(l.clamp(0, 100)).ok())
                .map_or(Level::Unknown, Level::Amount);
            Consumable {
                // The station numbers the cartridge slot; documents without one count from 1.
                record_id: RecordId(station.and_then(|s| u64::try_from(s).ok()).unwrap_or(i as u64).saturating_add(1)),
                kind: info.text_at(&["ConsumableTypeEnum"]).map_or(SupplyType::UNKNOWN, |t| supply_type(&t)),
                class: SupplyClass::SUPPLY_THAT_IS_CONSUMED,
                colour: label.as_deref().and_then(colour_of_label),
                description: info.text_at(&["ConsumableFamilyName"]),
                part_number: info.text_at(&["ProductNumber"]),
                serial_number: info.text_at(&["SerialNumber"]),
                unit: SupplyUnit::PERCENT,
                level,
                capacity: Capacity::Amount(100),
                status: info
                    .text_at(&["ConsumableLifeState", "ConsumableState"])
                    .map_or(ConsumableStatus::UNKNOWN, |s| consumable_status(&s)),
                page_count: impressions(station),
                ..Consumable::default()
            }
        })
        .collect()
}

fn meters(usage: &Element, report: &mut DeviceReport) {
    let Some(unit) = usage.child("PrinterSubunit") else { return };
    for (name, kind) in [
        ("TotalImpressions", MeterKind::TOTAL),
        ("MonochromeImpressions", MeterKind::MONO),
        ("ColorImpressions", MeterKind::COLOUR),
        ("DuplexSheets", MeterKind::DUPLEX_SHEETS),
    ] {
        if let Some(v) = unit.int_at(&[name]).and_then(|v| u64::try_from(v).ok()) {
            report.snapshot.meters.set(kind, v);
        }
    }
}

fn status(doc: &Element) -> DeviceStatus {
    let category = doc.text_at(&["Status", "StatusCategory"]).unwrap_or_default();
    let (engine, printer, device, errors) = match category.as_str() {
        "ready" | "inPowerSave" | "powerSave" => {
            (EngineStatus::READY, PrinterState::IDLE, DeviceState::RUNNING, DetectedErrors::NONE)
        }
        "processing" | "printing" => {
            (EngineStatus::PRINTING, PrinterState::PRINTING, DeviceState::RUNNING, DetectedErrors::NONE)
        }
        "jam" | "jammed" => (EngineStatus::UNKNOWN, PrinterState::OTHER, DeviceState::DOWN, DetectedErrors::JAMMED),
        "doorOpen" | "closeDoorOrCover" => {
            (EngineStatus::UNKNOWN, PrinterState::OTHER, DeviceState::DOWN, DetectedErrors::DOOR_OPEN)
        }
        "trayEmptyOrOpen" | "loadPaper" => {
            (EngineStatus::UNKNOWN, PrinterState::OTHER, DeviceState::WARNING, DetectedErrors::NO_PAPER)
        }
        "" => (EngineStatus::UNKNOWN, PrinterState::UNKNOWN, DeviceState::UNKNOWN, DetectedErrors::NONE),
        _ => (EngineStatus::UNKNOWN, PrinterState::OTHER, DeviceState::WARNING, DetectedErrors::NONE),
    };
    DeviceStatus { engine, device, printer, errors }
}

fn alerts(doc: &Element) -> Vec<Alert> {
    let Some(table) = doc.child("AlertTable") else { return Vec::new() };
    table
        .all("Alert")
        .take(MAX_RECORDS)
        .enumerate()
        .map(|(i, a)| {
            let severity = match a.text_at(&["Severity"]).as_deref() {
                Some("Error" | "error" | "Critical" | "critical") => AlertSeverity::CRITICAL,
                Some("Warning" | "warning") => AlertSeverity::WARNING,
                Some(_) => AlertSeverity::OTHER,
                None => AlertSeverity::default(),
            };
            let consumable = a.at(&["AlertDetails", "AlertDetailsConsumableTypeEnum"]).is_some();
            Alert {
                record_id: RecordId(
                    a.int_at(&["SequenceNumber"]).and_then(|s| u64::try_from(s).ok()).unwrap_or(i as u64),
                ),
                description: a
                    .text_at(&["AlertDetails", "AlertDetailsMarkerColor"])
                    .map(|colour| format!("{} ({colour})", a.text_at(&["ProductStatusAlertID"]).unwrap_or_default())),
                code: AlertCode::OTHER,
                vendor_code: a.text_at(&["ProductStatusAlertID"]),
                group: if consumable { AlertGroup::MARKER_SUPPLIES } else { AlertGroup::OTHER },
                group_index: a
                    .int_at(&["AlertDetails", "AlertDetailsMarkerLocation"])
                    .and_then(|l| u32::try_from(l).ok()),
                severity,
                ..Alert::default()
            }
        })
        .collect()
}

/// Maps the documents a collector fetched into a report. The caller sets `generated_at`. The
/// result passes [`DeviceReport::validate`].
pub fn map_report(docs: &Documents) -> DeviceReport {
    let mut report = DeviceReport::default();
    if let Some(config) = &docs.product_config {
        report.identity = identity(config);
    }
    if let Some(config) = &docs.consumable_config {
        report.snapshot.consumables = consumables(config, docs.product_usage.as_ref());
    }
    if let Some(usage) = &docs.product_usage {
        meters(usage, &mut report);
    }
    if let Some(status_doc) = &docs.product_status {
        report.snapshot.status = status(status_doc);
        report.snapshot.alerts = alerts(status_doc);
    }
    crate::make_valid(&mut report);
    report
}
