//! Printer-MIB (RFC 3805) and HOST-RESOURCES-MIB (RFC 2790) bindings → a device report.
//!
//! What is mapped so far: identity (system group, the serial number from
//! `prtGeneralSerialNumber` or the vendor's object, the printer's `hrDeviceDescr` (less a serial
//! and firmware written after the model: [`split_model`]), the first real `ifPhysAddress`,
//! `ipAdEntAddr`, the IEEE 1284 device id), consumables (`prtMarkerSuppliesTable` joined with
//! `prtMarkerColorantTable`, or the colour the supply's name names where the colorant is missing
//! or names another colour), alerts (`prtAlertTable`), media sources (`prtInputTable`),
//! accessories (the Finisher MIB's `finDeviceTable`), meters (the printer's first marker's life
//! count, the PWG 5106.1 counter MIB's lifetime impressions and the vendors' counters where
//! present), and status (`hrDeviceStatus`, `hrPrinterStatus`, `hrPrinterDetectedErrorState`,
//! whose first octet's most significant bit is bit 0, `lowPaper`).
//!
//! Device quirks handled, each tested on a real capture: strings with embedded NUL bytes, control
//! characters or Latin-1 bytes; part numbers and serial numbers appended to supply names
//! (`", PN 006R01509;SN48178…"`, `"… HP CF400X"`, `"… T9441/T9451"`, `"… T08M1"`); missing class
//! or colorant columns; maximum -2 (unknown) with a real level; level -3 (some remaining); supply
//! indexes with gaps; an empty or one-octet error state. Tested on lines of walks we cannot keep
//! (no licence): a colorant naming another colour than the supply's name (a Brother's); tables
//! indexed without `hrDeviceIndex` (a Pantum's); supply names in German (a Ricoh's). Inferred from
//! other tools, without a walk: Ricoh's level -100, "near end".

use printfleet_schema::codes::{
    AccessoryStatus, AlertCode, AlertGroup, AlertSeverity, ConsumableStatus, DeviceState, EngineStatus, InputType,
    PrinterState, SupplyClass, SupplyType, SupplyUnit, TrainingLevel,
};
use printfleet_schema::limits::{MAX_IP_ADDRESSES, MAX_RECORDS, MAX_TEXT_BYTES};
use printfleet_schema::{
    Accessory, Alert, Capacity, Colour, Consumable, DetectedErrors, DeviceReport, DeviceStatus, Identity, LengthUm,
    Level, MacAddress, MediaSource, MeterKind, RecordId, Timestamp,
};

use super::{Bindings, Oid, SnmpValue, oid};
use crate::finding::{Finding, Findings, Mapped, MeterBook, Rank, Source};

/// The number of byte groups in a line that is a hex dump (`38 32 37 41 20`: two-digit groups
/// separated by single spaces, as net-snmp's `Hex-STRING` output wraps it), or `None`.
fn hex_dump_groups(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b" ").unwrap_or(line);
    let hex_groups =
        line.chunks(3).all(|g| matches!(g, [a, b] | [a, b, b' '] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit()));
    (line.len() % 3 == 2 && hex_groups).then(|| line.len().div_ceil(3))
}

/// Undoes a hex-dump tail: some HP JetDirect firmware reports a supply name as its text, a line
/// break, and the rest of the name as a hex dump (`"Black Cartridge \n38 32 37 41 20 48 50 ..."`
/// for `"Black Cartridge 827A HP ..."`). Lines after the first that are hex dumps are replaced by
/// the bytes they spell.
fn undo_hex_tails(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut lines = bytes.split(|b| *b == b'\n');
    let first = lines.next().unwrap_or_default();
    let rest: Vec<&[u8]> = lines.collect();
    // Every continuation line a hex dump, at least three bytes in all: then it is no coincidence.
    let groups: Option<usize> = rest.iter().map(|l| hex_dump_groups(l)).sum();
    if groups.is_none_or(|g| g < 3) {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut out = first.to_vec();
    for line in rest {
        out.extend(line.split(|b| *b == b' ').filter_map(|g| hex::decode(g).ok()).flatten());
    }
    std::borrow::Cow::Owned(out)
}

/// Device text as the schema wants it: hex-dump tails undone, cut at the first NUL, Latin-1 where
/// it is not UTF-8, control characters (but tab and line breaks) turned into spaces, trimmed, at
/// most `MAX_TEXT_BYTES`; `None` if nothing is left.
pub fn clean_text(bytes: &[u8]) -> Option<String> {
    let undone = undo_hex_tails(bytes);
    let bytes = undone.split(|b| *b == 0).next().unwrap_or_default();
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    };
    let mut cleaned: String = text
        .chars()
        .map(|c| if c.is_control() && !matches!(c, '\t' | '\n' | '\r') { ' ' } else { c })
        .filter(|c| !matches!(c, '\u{fffe}' | '\u{ffff}'))
        .collect::<String>()
        .trim()
        .to_owned();
    if cleaned.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !cleaned.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        cleaned.truncate(end);
    }
    (!cleaned.is_empty()).then_some(cleaned)
}

/// A `PrtLocalizedDescriptionStringTC` value (supply and alert descriptions) as text: decoded in
/// `charset`, the IANA character set (`IANACharset` MIBenum) of the printer's current
/// localization (`prtLocalizationCharacterSet` of the `prtGeneralCurrentLocalization` row): UTF-16
/// and UCS-2 (1000, 1013 to 1015) and Shift_JIS (17, 2024 Windows-31J), as CUPS'
/// `backend/snmp-supplies.c` decodes them, and the other Japanese (18 EUC-JP), Chinese (113 GBK,
/// 114 GB18030, 2025 GB2312, 2026 Big5) and Korean (38 EUC-KR) sets; then [`clean_text`]. Text
/// that is valid UTF-8 without a NUL is UTF-8 whatever the declared set (agents declare
/// boilerplate). Without a known set, a string whose every other byte is NUL is UTF-16 (an agent
/// that names no set), and any other is read by [`clean_text`] (UTF-8, else Latin-1).
///
/// ```
/// use printfleet_sources::snmp::printer_mib::localized_text;
/// let utf16 = [0, b'C', 0, b'y', 0, b'a', 0, b'n'];
/// assert_eq!(localized_text(&utf16, Some(1013)).as_deref(), Some("Cyan"));
/// assert_eq!(localized_text(&utf16, None).as_deref(), Some("Cyan"));
/// let shift_jis = [0x83, 0x56, 0x83, 0x41, 0x83, 0x93]; // シアン
/// assert_eq!(localized_text(&shift_jis, Some(17)).as_deref(), Some("シアン"));
/// ```
pub fn localized_text(bytes: &[u8], charset: Option<u32>) -> Option<String> {
    use encoding_rs::{BIG5, EUC_JP, EUC_KR, Encoding, GB18030, GBK, SHIFT_JIS, UTF_16BE, UTF_16LE};
    let utf16 = |bytes: &[u8]| -> Option<&'static Encoding> {
        let pairs = bytes.len() >= 2 && bytes.len().is_multiple_of(2);
        let zero_at = |first: usize| bytes.iter().skip(first).step_by(2).all(|b| *b == 0);
        let text_at = |first: usize| bytes.iter().skip(first).step_by(2).any(|b| *b != 0);
        match () {
            _ if !pairs => None,
            _ if bytes.starts_with(&[0xfe, 0xff]) => Some(UTF_16BE),
            _ if bytes.starts_with(&[0xff, 0xfe]) => Some(UTF_16LE),
            _ if zero_at(0) && text_at(1) => Some(UTF_16BE),
            _ if zero_at(1) && text_at(0) => Some(UTF_16LE),
            _ => None,
        }
    };
    // Agents declare boilerplate (printmaster's Brother declares hp-roman8 for Russian and
    // Bulgarian; Brother models declare it while sending UTF-8): text that is valid UTF-8 with no
    // NUL is read as UTF-8 whatever the declared set (UTF-16 text of Latin letters has NULs;
    // Shift_JIS and GBK text is rarely valid UTF-8).
    if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() {
        return clean_text(bytes);
    }
    let encoding = match charset {
        Some(1000 | 1013) => Some(UTF_16BE),
        Some(1014) => Some(UTF_16LE),
        Some(1015) => Some(if bytes.starts_with(&[0xff, 0xfe]) { UTF_16LE } else { UTF_16BE }),
        Some(17 | 2024) => Some(SHIFT_JIS),
        Some(18) => Some(EUC_JP),
        Some(113 | 2025) => Some(GBK),
        Some(114) => Some(GB18030),
        Some(2026) => Some(BIG5),
        Some(38) => Some(EUC_KR),
        _ => utf16(bytes),
    };
    match encoding {
        Some(e) => {
            let body = match bytes.get(..2) {
                Some([0xfe, 0xff] | [0xff, 0xfe]) if e == UTF_16BE || e == UTF_16LE => {
                    bytes.get(2..).unwrap_or_default()
                }
                _ => bytes,
            };
            clean_text(e.decode_without_bom_handling(body).0.as_bytes())
        }
        None => clean_text(bytes),
    }
}

/// The character set of the printer's current localization: `prtLocalizationCharacterSet`
/// (1.3.6.1.2.1.43.7.1.1.4) of the row `prtGeneralCurrentLocalization` names, for the device.
fn localization_charset(b: &Bindings, device: u32) -> Option<u32> {
    let current = int(cell(b, "1.3.6.1.2.1.43.5.1.1.2", &[device])).and_then(|v| u32::try_from(v).ok())?;
    int(cell(b, "1.3.6.1.2.1.43.7.1.1.4", &[device, current])).and_then(|v| u32::try_from(v).ok())
}

fn text_at(b: &Bindings, o: &str) -> Option<String> {
    b.get(&oid(o)).and_then(SnmpValue::as_bytes).and_then(clean_text)
}

/// Column `column` of a table, as (index arcs after the column, value), in index order.
fn column<'a>(b: &'a Bindings, table_column: &'a Oid) -> impl Iterator<Item = (&'a [u32], &'a SnmpValue)> + 'a {
    b.walk(table_column).filter_map(move |(o, v)| o.suffix(table_column).map(|s| (s, v)))
}

/// A row of a Printer-MIB table indexed by (`hrDeviceIndex`, row index).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    /// The index as the agent writes it after the column: `hrDeviceIndex.rowIndex`, or the row
    /// index alone from an agent that leaves the device out (a Pantum's writes
    /// `prtMarkerSuppliesDescription.1`, not `.1.1`).
    oid_index: Vec<u32>,
    /// The device (1 where the agent leaves it out).
    device: u32,
    /// The row index.
    row_index: u32,
}

impl Row {
    /// The row's record id: `(hrDeviceIndex << 32) | row index`.
    fn record_id(&self) -> RecordId {
        RecordId((u64::from(self.device) << 32) | u64::from(self.row_index))
    }

    /// Text column `column` (a column's OID) of this row, in its device's localization
    /// (`prtGeneralCurrentLocalization`'s character set).
    fn localized(&self, b: &Bindings, column: &str) -> Option<String> {
        cell(b, column, &self.oid_index)
            .and_then(SnmpValue::as_bytes)
            .and_then(|text| localized_text(text, localization_charset(b, self.device)))
    }

    /// The OID index of row `row_index` of another table of the same device, in this row's form.
    fn same_device(&self, row_index: u32) -> Vec<u32> {
        if self.oid_index.len() == 1 { vec![row_index] } else { vec![self.device, row_index] }
    }
}

/// The rows of a table indexed by (hrDeviceIndex, row index) that have a value in any column,
/// in index order, at most [`MAX_RECORDS`]. A row with only some columns (an input tray with a
/// capacity and a level but no type and no name) is still a row; tables may have gaps in either
/// index. Rows indexed by the row index alone are device 1's where no row names its device.
fn rows(b: &Bindings, entry: &str) -> Vec<Row> {
    let entry = oid(entry);
    let mut rows: std::collections::BTreeSet<Row> = std::collections::BTreeSet::new();
    for (o, _) in b.walk(&entry) {
        // entry.column.hrDeviceIndex.rowIndex, or entry.column.rowIndex
        let Some([_, oid_index @ ..]) = o.suffix(&entry) else { continue };
        let (device, row_index) = match oid_index {
            [device, row_index] => (*device, *row_index),
            [row_index] => (1, *row_index),
            _ => continue,
        };
        rows.insert(Row { oid_index: oid_index.to_vec(), device, row_index });
    }
    // Rows without the device count only where no row has it.
    let full = rows.iter().any(|r| r.oid_index.len() == 2);
    rows.into_iter().filter(|r| !full || r.oid_index.len() == 2).take(MAX_RECORDS).collect()
}

fn cell<'a>(b: &'a Bindings, table_column: &str, index: &[u32]) -> Option<&'a SnmpValue> {
    b.get(&Oid::parse_with(table_column, index).ok()?)
}

/// Where an IEEE 1284 device id (`MFG:...;MDL:...;`) is found over SNMP: the PWG Port Monitor
/// MIB's `ppmPrinterIEEE1284DeviceId` (PWG 5107.1), and the JetDirect-style `gdStatusId`
/// objects that HP, Brother and Xerox agents carry (LibreNMS' captures show all three), and
/// Zebra's (`MANUFACTURER:Zebra Technologies;COMMAND SET:ZPL;...` in LibreNMS' capture of a
/// ZebraNet print server).
const DEVICE_ID_OIDS: [&str; 5] = [
    "1.3.6.1.4.1.2699.1.2.1.2.1.1.3.1",
    "1.3.6.1.4.1.11.2.3.9.1.1.7.0",
    "1.3.6.1.4.1.2435.2.3.9.1.1.7.0",
    "1.3.6.1.4.1.253.8.51.1.2.1.20.1",
    "1.3.6.1.4.1.10642.1.3.0",
];

/// Vendors' own serial-number objects, each read only for a device of that make (its
/// `sysObjectID`'s enterprise, or its IEEE 1284 device id's `MFG`), as LibreNMS' per-vendor
/// definitions read them (`resources/definitions/os_discovery/*.yaml`): HP
/// `HP-LASERJET-COMMON-MIB::serial-number.0`, Brother `BROTHER-MIB::brInfoSerialNumber.0`, and
/// Kyocera's and Ricoh's (numeric in those definitions). Only for that make: other vendors'
/// agents answer HP's objects too, with other data (LibreNMS' Brother capture has a binary
/// string at HP's serial number; its serial is Brother's object).
const SERIAL_OIDS: [(&str, &str); 4] = [
    ("HP", "1.3.6.1.4.1.11.2.3.9.4.2.1.1.3.3.0"),
    ("Brother", "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0"),
    ("Kyocera", "1.3.6.1.4.1.1347.43.5.1.1.28.1"),
    ("Ricoh", "1.3.6.1.4.1.367.3.2.1.2.1.4.0"),
];

/// `prtGeneralSerialNumber` (a column indexed by `hrDeviceIndex`).
const PRT_GENERAL_SERIAL_NUMBER: &str = "1.3.6.1.2.1.43.5.1.1.17";

/// Whether a device's text can be a serial number: not blank, no control characters, not one
/// character repeated (`0000000000`, `??????`), and not a placeholder (`Unknown`, `N/A`,
/// `None`, `Not available`, `REDACTED` ...). Every mapping (SNMP, IPP, LEDM) passes a device's
/// serial number through this, so that a placeholder is absent rather than an identity two
/// devices share.
///
/// ```
/// use printfleet_sources::snmp::printer_mib::plausible_serial;
/// assert!(plausible_serial("VNB3J12345"));
/// assert!(!plausible_serial("0000000000") && !plausible_serial(" n/a ") && !plausible_serial("AB\n12"));
/// ```
pub fn plausible_serial(text: &str) -> bool {
    const PLACEHOLDERS: [&str; 12] = [
        "unknown",
        "n/a",
        "na",
        "none",
        "null",
        "nil",
        "redacted",
        "not available",
        "not set",
        "serial number",
        "serialnumber",
        "default",
    ];
    let t = text.trim();
    let mut chars = t.chars();
    let Some(first) = chars.next() else { return false };
    !t.chars().any(char::is_control)
        && !chars.all(|c| c == first)
        && !PLACEHOLDERS.iter().any(|p| t.eq_ignore_ascii_case(p))
}

/// The printer's serial number, the first plausible one ([`plausible_serial`]) of:
/// `prtGeneralSerialNumber` in the printer's row (or, when the printer's `hrDeviceIndex` is
/// unknown or its row has none, any row), the object of the device's make ([`SERIAL_OIDS`]), the
/// `SN` field of its IEEE 1284 device id, and, for a Samsung device, the word after `S/N ` in
/// `sysDescr`, where Samsung agents write their serial (LibreNMS' `samsungprinter` definition
/// reads it there; only there, as another agent's `S/N` may be a print server's).
fn serial_number(
    b: &Bindings,
    printer_index: Option<&[u32]>,
    make: Option<&str>,
    descr: Option<&str>,
) -> Option<String> {
    let text = |v: &SnmpValue| v.as_bytes().and_then(clean_text).filter(|t| plausible_serial(t));
    let samsung = make == Some("Samsung") || descr.is_some_and(|d| d.starts_with("Samsung "));
    printer_index
        .and_then(|i| cell(b, PRT_GENERAL_SERIAL_NUMBER, i))
        .and_then(text)
        .or_else(|| column(b, &oid(PRT_GENERAL_SERIAL_NUMBER)).find_map(|(_, v)| text(v)))
        .or_else(|| {
            let mine = |(m, o): &(&str, &str)| (make == Some(*m)).then(|| b.get(&oid(o))).flatten();
            SERIAL_OIDS.iter().filter_map(mine).find_map(text)
        })
        .or_else(|| device_id_field(b, &["SN", "SERN"]).filter(|s| plausible_serial(s)))
        .or_else(|| {
            let (_, after) = descr.filter(|_| samsung)?.split_once("S/N ")?;
            after.split_whitespace().next().filter(|s| plausible_serial(s)).map(str::to_owned)
        })
}

/// The first of `keys` (upper case) that an IEEE 1284 device id at one of [`DEVICE_ID_OIDS`]
/// has, from the first such object that has one.
fn device_id_field(b: &Bindings, keys: &[&str]) -> Option<String> {
    DEVICE_ID_OIDS.iter().filter_map(|o| text_at(b, o)).find_map(|text| {
        let fields = crate::ipp::device_id(&text);
        keys.iter().find_map(|k| fields.get(*k).cloned())
    })
}

/// The `MFG` (or `MANUFACTURER`) field of an IEEE 1284 device id.
pub fn mfg_of_device_id(device_id: &str) -> Option<String> {
    let fields = crate::ipp::device_id(device_id);
    fields.get("MFG").or_else(|| fields.get("MANUFACTURER")).cloned()
}

const HR_DEVICE_TYPE_PRINTER: &str = "1.3.6.1.2.1.25.3.1.5";

/// The printer among the host's devices: the row whose `hrDeviceType` is `hrDevicePrinter`, or,
/// where the agent left that column out, the `hrDeviceIndex` the Printer-MIB tables use
/// (`prtGeneralTable`, `prtMarkerTable`, `hrPrinterTable` rows are indexed by it) that has an
/// `hrDeviceDescr`.
fn printer_device_index(b: &Bindings) -> Option<Vec<u32>> {
    let typed = column(b, &oid("1.3.6.1.2.1.25.3.2.1.2"))
        .find(|(_, v)| matches!(v, SnmpValue::ObjectId(o) if *o == oid(HR_DEVICE_TYPE_PRINTER)))
        .map(|(i, _)| i.to_vec());
    typed.or_else(|| {
        ["1.3.6.1.2.1.43.5.1.1", "1.3.6.1.2.1.43.10.2.1", "1.3.6.1.2.1.25.3.5.1"].iter().find_map(|entry| {
            let entry = oid(entry);
            b.walk(&entry).find_map(|(o, _)| {
                let device = *o.suffix(&entry)?.get(1)?;
                cell(b, "1.3.6.1.2.1.25.3.2.1.3", &[device]).is_some().then(|| vec![device])
            })
        })
    })
}

fn identity(b: &Bindings, printer_index: Option<&[u32]>) -> Identity {
    let object_id = b.get(&oid("1.3.6.1.2.1.1.2.0")).and_then(|v| match v {
        SnmpValue::ObjectId(o) => Some(o.clone()),
        _ => None,
    });
    let model = printer_index
        .and_then(|i| cell(b, "1.3.6.1.2.1.25.3.2.1.3", i))
        .and_then(SnmpValue::as_bytes)
        .and_then(clean_text);
    let mac_address = column(b, &oid("1.3.6.1.2.1.2.2.1.6")).find_map(|(_, v)| {
        let octets = <[u8; 6]>::try_from(v.as_bytes()?).ok()?;
        (octets != [0; 6]).then(|| MacAddress::new(octets))
    });
    let ip_addresses = column(b, &oid("1.3.6.1.2.1.4.20.1.1"))
        .filter_map(|(_, v)| match v {
            SnmpValue::IpAddress(a) if a[0] != 127 && *a != [0; 4] => Some(std::net::IpAddr::from(*a)),
            _ => None,
        })
        .take(MAX_IP_ADDRESSES)
        .collect();
    // Two makes: the brand on the device, and whoever wrote its SNMP agent (the enterprise of
    // `sysObjectID`: often the engine's OEM or the print server's maker, as Lexmark's for a
    // Toshiba e-STUDIO or Extended Systems' for a ZebraNet card). The brand is the device id's
    // `MFG`, else a make `sysDescr` starts with, else the agent's; vendor serial objects go by
    // the agent's, whose objects they are.
    let mfg = device_id_field(b, &["MFG", "MANUFACTURER"]).and_then(|m| crate::make::normalise(&m));
    let agent = object_id.as_ref().and_then(crate::make::from_object_id).map(str::to_owned).or_else(|| mfg.clone());
    let description = text_at(b, "1.3.6.1.2.1.1.1.0");
    let described = description.as_deref().and_then(crate::make::known).map(str::to_owned);
    let make = mfg.or(described).or_else(|| agent.clone());
    let serial_number = serial_number(b, printer_index, agent.as_deref(), description.as_deref());
    // Only where a Lexmark agent wrote the description (Lexmark's, and Dell's lasers built on
    // it): other vendors' serials may start with their model's code.
    let lexmark = matches!(agent.as_deref(), Some("Lexmark" | "Dell"));
    let split = |m: String| if lexmark { split_model(&m, serial_number.as_deref()) } else { (m, None) };
    let (model, firmware_version) = match model.map(split) {
        Some((model, firmware)) => (Some(model), firmware),
        None => (device_id_field(b, &["MDL", "MODEL"]), None),
    };
    Identity {
        record_id: RecordId(0),
        serial_number,
        make,
        model,
        firmware_version,
        description,
        object_id: object_id.map(|o| o.to_string()),
        mac_address,
        hostname: text_at(b, "1.3.6.1.2.1.1.5.0"),
        ip_addresses,
        location: text_at(b, "1.3.6.1.2.1.1.6.0"),
        contact: text_at(b, "1.3.6.1.2.1.1.4.0"),
        ..Identity::default()
    }
}

/// A Lexmark agent's `hrDeviceDescr` as (model, firmware). Lexmark's agents, and the Dell lasers
/// built on them, write the serial number and firmware after the model: "Dell S5830dn 7XQ1R92
/// LW62.DN4.P636" with serial 7XQ1R92-132-13. The model ends before the word, third or later,
/// that is the serial (or its part before a '-'); the words after it are the firmware. Any
/// other description is the model whole. The mapping applies it only to Lexmark's and Dell's
/// agents (`sysObjectID`): another vendor's serial may start with its model's code.
///
/// ```
/// use printfleet_sources::snmp::printer_mib::split_model;
/// let (model, firmware) = split_model("Dell S5830dn 7XQ1R92 LW62.DN4.P636", Some("7XQ1R92-132-13"));
/// assert_eq!((model.as_str(), firmware.as_deref()), ("Dell S5830dn", Some("LW62.DN4.P636")));
/// assert_eq!(split_model("Brother HL-L8260CDW series", Some("U64641E7J134163")).0, "Brother HL-L8260CDW series");
/// assert_eq!(split_model("SHARP MX2640 v1", Some("MX2640-0012")).0, "SHARP MX2640 v1");
/// ```
pub fn split_model(description: &str, serial: Option<&str>) -> (String, Option<String>) {
    let whole = || (description.to_owned(), None);
    let Some(serial) = serial else { return whole() };
    let names_serial =
        |w: &str| w.len() >= 5 && (w == serial || serial.strip_prefix(w).is_some_and(|r| r.starts_with('-')));
    let words: Vec<&str> = description.split_whitespace().collect();
    // After two words at least (the make and the model, as Lexmark's agents write them), so
    // that a serial that starts with the model's code ("MX2640-0012") cannot cut the model.
    match words.iter().skip(2).position(|w| names_serial(w)) {
        Some(at) => {
            let (model, rest) = words.split_at(at.saturating_add(2));
            let firmware = rest.get(1..).map(|f| f.join(" ")).filter(|f| !f.is_empty());
            (model.join(" "), firmware)
        }
        None => whole(),
    }
}

/// Splits vendor tails off a supply name: returns (description, part number, serial number).
/// The description is empty when the name is nothing but its tail (", PN 006R01509").
pub fn split_supply_name(name: &str) -> (String, Option<String>, Option<String>) {
    let known = |s: &str| -> Option<String> {
        let s = s.trim();
        (!s.is_empty() && !s.eq_ignore_ascii_case("unknown")).then(|| s.to_owned())
    };
    // Xerox: "Black Toner, PN 006R01509;SN48178080E0000481".
    if let Some((description, tail)) = name.rsplit_once(", PN ") {
        let (part, serial) = match tail.split_once(";SN") {
            Some((p, s)) => (known(p), known(s)),
            None => (known(tail), None),
        };
        return (description.trim().to_owned(), part, serial);
    }
    // Samsung, and the HP and Xerox printers of its lineage: "Black Toner S/N:CRUM-12345678901",
    // which IPP's `marker-names` writes "Black Toner_S/N_:CRUM-211009A6200" (Xerox B210). The
    // serial is the first word after the colon; the tail goes even when the chip could not be
    // read ("S/N:unknown"), so that the description does not change with it.
    if let Some((description, tail)) = name.rsplit_once("S/N")
        && description.ends_with([' ', '_'])
        && let Some(serial) = tail.trim_start_matches(['_', ' ']).strip_prefix(':')
    {
        // "CRUM-00000000000": a chip that gave no number.
        let unread = |s: &str| s.strip_prefix("CRUM-").is_some_and(|n| n.bytes().all(|b| b == b'0'));
        let serial = serial.split_whitespace().next().filter(|s| plausible_serial(s) && !unread(s)).map(str::to_owned);
        return (description.trim_end_matches([' ', '_']).to_owned(), None, serial);
    }
    let last = name.rsplit(' ').next().unwrap_or_default();
    // HP: "Black Cartridge HP CF400X".
    if let Some(prefix) = name.strip_suffix(last).and_then(|p| p.strip_suffix(" HP "))
        && !prefix.is_empty()
        && last.len() >= 4
        && last.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return (name.to_owned(), Some(last.to_owned()), None);
    }
    // Epson: "Black Ink Supply Unit T9441/T9451/T9461" (the first code names the supply),
    // "Black Ink Cartridge T08M1" (a letter among the digits).
    let first = last.split('/').next().unwrap_or_default();
    let code = first.strip_prefix('T').unwrap_or_default();
    let digits = code.len() >= 4 && code.bytes().all(|c| c.is_ascii_digit());
    let lettered = (4..=6).contains(&code.len())
        && code.bytes().next().is_some_and(|c| c.is_ascii_digit())
        && code.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        && code.bytes().filter(u8::is_ascii_digit).count() >= 3;
    if digits || lettered {
        return (name.to_owned(), Some(first.to_owned()), None);
    }
    // Kyocera, TA/UTAX: the name is the part code ("TK-8527C", "PK-3010S").
    let whole = name.trim();
    if dashed_part_code(whole) {
        return (name.to_owned(), Some(whole.to_owned()), None);
    }
    (name.to_owned(), None, None)
}

/// Whether a name is nothing but a dashed part code, as Kyocera's and TA/UTAX's agents name
/// their supplies ("TK-8527C", "TK-1162", "PK-3010S", "MK-1150"; Brother's codes are written
/// so too, "TN-421BK"): two or three capitals, a dash, three to five digits, at most three
/// capitals.
fn dashed_part_code(name: &str) -> bool {
    let Some((prefix, rest)) = name.split_once('-') else { return false };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = rest.get(digits..).unwrap_or_default();
    (2..=3).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_uppercase())
        && (3..=5).contains(&digits)
        && suffix.len() <= 3
        && suffix.bytes().all(|b| b.is_ascii_uppercase())
}

/// The colour the suffix of a dashed part code names ([`dashed_part_code`]), as Kyocera codes
/// its toners and developers (`TK-8527C` cyan, `TK-8527K` black) and Brother its toners
/// (`TN-421BK`): K or BK black, C cyan, M magenta, Y yellow; any other suffix (`DR-421CL`, a
/// drum for the colours) or none (`TK-1162`) names none.
fn part_code_colour(code: &str) -> Option<Colour> {
    if !dashed_part_code(code) {
        return None;
    }
    let suffix =
        code.trim_start_matches(|c: char| !c.is_ascii_digit()).trim_start_matches(|c: char| c.is_ascii_digit());
    match suffix {
        "K" | "BK" => Some(Colour::Black),
        "C" => Some(Colour::Cyan),
        "M" => Some(Colour::Magenta),
        "Y" => Some(Colour::Yellow),
        _ => None,
    }
}

/// The colour a supply's name names ("Black Cartridge …", "Light Cyan Ink …", "Toner (Cyan)",
/// "CANON Matte Black Ink Tank"), if it names exactly one: the fallback when the capture has no
/// `prtMarkerSuppliesColorantIndex` for the supply (LibreNMS' Konica capture has the colorant
/// table but not that column; most captures have neither), and the colour reported where the
/// colorant names another.
///
/// The name is read as words (split at white space and `()[]/,:;`; a hyphenated word stays one,
/// and is folded as a colour name is, so `Photo-Black` is photo black and `MK-1150` no colour),
/// two-word colours first ("Matte Black" is matte black, not black), then the process colours in
/// six more languages ("Toner Schwarz", "encre noire"). The first word may be any
/// alias (`K Toner`); later words only names of three letters or more, so that a model letter
/// ("Type C") is not taken for cyan. A name with two colours, with "colour"/"color" beside one
/// ("Black and Color Imaging Kit"), or with a shade word before a colour that is no two-word
/// colour ("Light Black", "Photo Gray", which are not black and grey), names none.
pub fn colour_from_name(name: &str) -> Option<Colour> {
    const SHADES: [&str; 7] = ["light", "photo", "vivid", "matte", "dark", "pale", "deep"];
    let words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || "()[]/,:;".contains(c))
        .filter(|w| !w.is_empty())
        .take(MAX_NAME_WORDS)
        .collect();
    let known = |text: &str| {
        Some(Colour::parse(text)).filter(|c| !matches!(c, Colour::Other(_))).or_else(|| localized_colour(text))
    };
    let shade = |i: usize| {
        i.checked_sub(1).and_then(|p| words.get(p)).is_some_and(|w| SHADES.iter().any(|s| w.eq_ignore_ascii_case(s)))
    };
    // A list of colours ("Y/M/C Drum Unit", of which the words below would read only the first,
    // a one-letter later word being no colour) names none.
    let listed = name.split_whitespace().take(MAX_NAME_WORDS).any(|token| {
        let colours: Vec<_> = token.split('/').filter(|p| !p.is_empty()).map(known).collect();
        colours.iter().all(Option::is_some) && colours.first().is_some_and(|first| colours.iter().any(|c| c != first))
    });
    if listed {
        return None;
    }
    let mut found: Option<Colour> = None;
    let mut i = 0;
    while let Some(word) = words.get(i) {
        let pair = words.get(i.saturating_add(1)).and_then(|next| known(&format!("{word} {next}")));
        let (colour, used) = match pair {
            Some(colour) => (Some(colour), 2),
            None if COLOUR_WORDS.iter().any(|c| word.eq_ignore_ascii_case(c)) => return None,
            None if i == 0 || word.len() >= 3 => (known(word), 1),
            None => (None, 1),
        };
        if let Some(colour) = colour {
            if (used == 1 && shade(i)) || found.as_ref().is_some_and(|f| *f != colour) {
                return None;
            }
            found = Some(colour);
        }
        i = i.saturating_add(used);
    }
    found
}

/// "Colour" in the languages of [`LOCALIZED_COLOURS`]: a name with one beside a colour ("Black and
/// Color Imaging Kit", "Kit d'imagerie noir et couleur") names none.
const COLOUR_WORDS: [&str; 9] = ["colour", "color", "couleur", "farbe", "colore", "colori", "kleur", "cor", "cores"];

/// The process colours as devices set to another language name them (a Ricoh in German says
/// "Toner Schwarz" and "Toner Gelb"): German, French, Spanish, Italian, Dutch and Portuguese,
/// with the inflected forms supply names use ("encre noire", "tinta amarilla", "schwarze
/// Tinte"); magenta is magenta in all of them.
const LOCALIZED_COLOURS: [(&str, Colour); 25] = [
    ("schwarz", Colour::Black),
    ("noir", Colour::Black),
    ("noire", Colour::Black),
    ("negro", Colour::Black),
    ("negra", Colour::Black),
    ("nero", Colour::Black),
    ("nera", Colour::Black),
    ("zwart", Colour::Black),
    ("preto", Colour::Black),
    ("preta", Colour::Black),
    ("schwarze", Colour::Black),
    ("gelb", Colour::Yellow),
    ("gelbe", Colour::Yellow),
    ("jaune", Colour::Yellow),
    ("amarillo", Colour::Yellow),
    ("amarilla", Colour::Yellow),
    ("giallo", Colour::Yellow),
    ("gialla", Colour::Yellow),
    ("geel", Colour::Yellow),
    ("gele", Colour::Yellow),
    ("amarelo", Colour::Yellow),
    ("amarela", Colour::Yellow),
    ("cian", Colour::Cyan),
    ("ciano", Colour::Cyan),
    ("cyaan", Colour::Cyan),
];

/// A colour word of [`LOCALIZED_COLOURS`], in any case.
fn localized_colour(word: &str) -> Option<Colour> {
    let word = word.trim();
    LOCALIZED_COLOURS.iter().find(|(name, _)| name.eq_ignore_ascii_case(word)).map(|(_, colour)| colour.clone())
}

/// A colorant's value as a colour: a known name, a colour word of another language, or the
/// text itself.
fn colorant_colour(text: &str) -> Colour {
    match Colour::parse(text) {
        Colour::Other(text) => localized_colour(&text).unwrap_or(Colour::Other(text)),
        known => known,
    }
}

/// How many words of a supply's name [`colour_from_name`] reads (a name is at most
/// [`MAX_TEXT_BYTES`] long; a real one has a handful of words).
const MAX_NAME_WORDS: usize = 32;

/// Supply types whose level is the space left in a container that fills.
fn fills_up(kind: SupplyType) -> bool {
    [
        SupplyType::WASTE_TONER,
        SupplyType::WASTE_INK,
        SupplyType::WASTE_WAX,
        SupplyType::WASTE_WATER,
        SupplyType::WASTE_PAPER,
    ]
    .contains(&kind)
}

/// An integer column: an INTEGER, or an unsigned type an agent mistyped it as (Gauge32,
/// Counter32) within Integer32's range.
fn int(v: Option<&SnmpValue>) -> Option<i32> {
    v.and_then(|v| match v {
        SnmpValue::Gauge32(n) | SnmpValue::Counter32(n) => i32::try_from(*n).ok(),
        v => v.as_i32(),
    })
}

/// The colour a supply's colorant and name agree on, the finer of the two where one is a shade
/// of the other (the colorant's photo black for "Black Ink", the name's light cyan for colorant
/// cyan), or else the name's where they name different colours (a finding). A colorant whose
/// colour this crate does not know stands.
fn supply_colour(
    colorant: Option<Colour>,
    name: Option<&str>,
    record_id: u64,
    findings: &mut Findings,
) -> Option<Colour> {
    let named = name.and_then(colour_from_name);
    match (colorant, named) {
        (Some(colorant), Some(named)) if !matches!(colorant, Colour::Other(_)) && colorant != named => {
            if named == *base_colour(&colorant) {
                Some(colorant)
            } else if colorant == *base_colour(&named) {
                Some(named)
            } else {
                findings.push(Finding::ColourDisputed { record_id, colorant, named: named.clone() });
                Some(named)
            }
        }
        (Some(colorant), _) => Some(colorant),
        (None, named) => named,
    }
}

/// The colour a shade is of (photo and matte black are black, light cyan cyan ...).
fn base_colour(colour: &Colour) -> &Colour {
    match colour {
        Colour::PhotoBlack | Colour::MatteBlack => &Colour::Black,
        Colour::LightCyan => &Colour::Cyan,
        Colour::LightMagenta => &Colour::Magenta,
        Colour::LightGrey | Colour::DarkGrey => &Colour::Grey,
        other => other,
    }
}

/// The `prtMarkerSuppliesLevel` Ricoh's agents (enterprise 367, which the Savin, Lanier,
/// Gestetner and NRG devices built on them share) write for a supply near its end ("toner near
/// end"; their 0 is the end, -3 "some remaining" is fine). No walk we have shows it: LibreNMS
/// shows -100 from those makes as 0 %, Checkmk reads it in Ricoh's own MIB as almost empty. It
/// is reported as some remaining, the supply low: the supply is not empty yet.
const RICOH_NEAR_END: i32 = -100;

/// Whether the agent is Ricoh's: its `sysObjectID` is under the enterprise number the make
/// table gives Ricoh (367).
fn ricoh_agent(b: &Bindings) -> bool {
    matches!(b.get(&oid("1.3.6.1.2.1.1.2.0")), Some(SnmpValue::ObjectId(o)) if crate::make::from_object_id(o) == Some("Ricoh"))
}

fn consumables(b: &Bindings, findings: &mut Findings) -> Vec<Consumable> {
    const SUPPLIES: &str = "1.3.6.1.2.1.43.11.1.1";
    let ricoh = ricoh_agent(b);
    // Rows are identified by (hrDeviceIndex, prtMarkerSuppliesIndex); any column names them.
    rows(b, SUPPLIES)
        .into_iter()
        .map(|row| {
            let at = |col: &str| cell(b, &format!("{SUPPLIES}.{col}"), &row.oid_index);
            let kind =
                int(at("5")).and_then(|v| u32::try_from(v).ok()).map_or(SupplyType::UNKNOWN, SupplyType::from_code);
            let class = match int(at("4")).and_then(|v| u32::try_from(v).ok()) {
                Some(code) => SupplyClass::from_code(code),
                // The column is optional; the type tells which way a waste container goes.
                None if fills_up(kind) => SupplyClass::RECEPTACLE_THAT_IS_FILLED,
                None => SupplyClass::SUPPLY_THAT_IS_CONSUMED,
            };
            let name = row.localized(b, &format!("{SUPPLIES}.6"));
            // A name that is nothing but its vendor tail (", PN 006R01509") describes nothing.
            let (description, part_number, serial_number) = match name.as_deref().map(split_supply_name) {
                Some((d, p, s)) => (Some(d).filter(|d| !d.is_empty()), p, s),
                None => (None, None, None),
            };
            let colorant = int(at("3"))
                .filter(|i| *i > 0)
                .and_then(|colorant| {
                    let arc = u32::try_from(colorant).ok()?;
                    cell(b, "1.3.6.1.2.1.43.12.1.1.4", &row.same_device(arc))
                })
                .and_then(SnmpValue::as_bytes)
                .and_then(clean_text)
                .filter(|c| !c.eq_ignore_ascii_case("unknown") && !c.eq_ignore_ascii_case("other"))
                .map(|c| colorant_colour(&c));
            let record_id = row.record_id();
            // With neither a colorant nor a colour word, a part code's suffix (a Kyocera
            // FS-C8520MFP's "TK-895C", with no colorant table).
            let colour = supply_colour(colorant, description.as_deref(), record_id.0, findings)
                .or_else(|| part_number.as_deref().and_then(part_code_colour));
            let (level, status) = match int(at("9")) {
                Some(RICOH_NEAR_END) if ricoh => (Level::SomeRemaining, ConsumableStatus::LOW),
                Some(raw) => {
                    let level = Level::from_mib(i64::from(raw));
                    if level.is_none() {
                        findings.push(Finding::ValueClamped {
                            field: "consumable level",
                            value: i64::from(raw),
                            replaced_by: None,
                        });
                    }
                    (level.unwrap_or(Level::Unknown), ConsumableStatus::default())
                }
                None => (Level::Unknown, ConsumableStatus::default()),
            };
            Consumable {
                record_id,
                kind,
                class,
                colour,
                description,
                part_number,
                serial_number,
                unit: int(at("7"))
                    .and_then(|v| u32::try_from(v).ok())
                    .map_or(SupplyUnit::UNKNOWN, SupplyUnit::from_code),
                level,
                capacity: int(at("8")).and_then(|v| Capacity::from_mib(i64::from(v))).unwrap_or(Capacity::Unknown),
                status,
                ..Consumable::default()
            }
        })
        .collect()
}

/// The status of a supply an alert is about (`prtAlertGroup` markerSupplies, whose
/// `prtAlertGroupIndex` is the `prtMarkerSuppliesIndex`): the Printer-MIB has no status column
/// for a supply, but a printer raises its almost-empty, empty, almost-full, full and missing
/// conditions as alerts for as long as they hold (the Epson CW-C6500Au's three "Ink is low."
/// alerts name its three inks at 1 %). The worst alert wins; a supply without one keeps its
/// status. Only the printer's own supplies (`hrDeviceIndex` `device` where a supply has it,
/// else the first supply's) and the alerts of its own rows are matched.
fn supply_status_from_alerts(consumables: &mut [Consumable], alerts: &[(u32, Alert)], device: Option<u32>) {
    use AlertCode as A;
    let status_of = |code: AlertCode| match code {
        A::MARKER_TONER_EMPTY
        | A::MARKER_INK_EMPTY
        | A::MARKER_PRINT_RIBBON_EMPTY
        | A::MARKER_WASTE_TONER_RECEPTACLE_FULL
        | A::MARKER_WASTE_INK_RECEPTACLE_FULL
        | A::MARKER_OPC_LIFE_OVER
        | A::MARKER_DEVELOPER_EMPTY
        | A::SUBUNIT_EMPTY
        | A::SUBUNIT_FULL
        | A::SUBUNIT_LIFE_OVER => Some((3, ConsumableStatus::EXHAUSTED)),
        A::MARKER_TONER_CARTRIDGE_MISSING | A::SUBUNIT_MISSING => Some((2, ConsumableStatus::MISSING)),
        A::MARKER_TONER_ALMOST_EMPTY
        | A::MARKER_INK_ALMOST_EMPTY
        | A::MARKER_PRINT_RIBBON_ALMOST_EMPTY
        | A::MARKER_WASTE_TONER_RECEPTACLE_ALMOST_FULL
        | A::MARKER_WASTE_INK_RECEPTACLE_ALMOST_FULL
        | A::MARKER_OPC_LIFE_ALMOST_OVER
        | A::MARKER_DEVELOPER_ALMOST_EMPTY
        | A::SUBUNIT_ALMOST_EMPTY
        | A::SUBUNIT_ALMOST_FULL
        | A::SUBUNIT_LIFE_ALMOST_OVER => Some((1, ConsumableStatus::LOW)),
        _ => None,
    };
    // Supply record ids are (hrDeviceIndex << 32) | prtMarkerSuppliesIndex.
    let split = |id: RecordId| (u32::try_from(id.0 >> 32).ok(), u32::try_from(id.0 & 0xffff_ffff).ok());
    // The printer's supplies; where none is (an agent that left `hrDeviceIndex` out of its
    // tables, whose rows are device 1's), the first supply's device.
    let device = device
        .filter(|d| consumables.iter().any(|c| split(c.record_id).0 == Some(*d)))
        .or_else(|| consumables.first().and_then(|c| split(c.record_id).0));
    for c in consumables.iter_mut() {
        let (owner, index) = split(c.record_id);
        if owner != device {
            continue;
        }
        let worst = alerts
            .iter()
            .filter(|(about, _)| Some(*about) == device)
            .map(|(_, a)| a)
            .filter(|a| a.group == AlertGroup::MARKER_SUPPLIES && a.group_index.is_some() && a.group_index == index)
            .filter_map(|a| status_of(a.code))
            .max_by_key(|(rank, _)| *rank);
        if let Some((_, status)) = worst {
            c.status = status;
        }
    }
}

/// `prtAlertTable` (1.3.6.1.2.1.43.18.1): the alerts active now, keyed by `prtAlertIndex`.
/// `prtAlertGroupIndex` -1 and `prtAlertLocation` -1/-2 ("not applicable", "unknown") are absent.
/// `prtAlertTime` is the agent's sysUpTime at the alert, not a date: [`map_report_at`] turns it
/// into one.
///
/// Each alert comes with the `hrDeviceIndex` of its row: the device it is about.
fn alerts(b: &Bindings) -> Vec<(u32, Alert)> {
    const ALERTS: &str = "1.3.6.1.2.1.43.18.1.1";
    rows(b, ALERTS)
        .into_iter()
        .map(|row| {
            let at = |col: &str| int(cell(b, &format!("{ALERTS}.{col}"), &row.oid_index));
            // Codes, and the index and location, which are absent when negative.
            let code = |col: &str| at(col).and_then(|v| u32::try_from(v).ok());
            let device = row.device;
            let alert = Alert {
                record_id: RecordId(u64::from(row.row_index)),
                severity: code("2").map_or_else(AlertSeverity::default, AlertSeverity::from_code),
                training_level: code("3").map_or_else(TrainingLevel::default, TrainingLevel::from_code),
                group: code("4").map_or_else(AlertGroup::default, AlertGroup::from_code),
                group_index: code("5"),
                location: code("6"),
                code: code("7").map_or_else(AlertCode::default, AlertCode::from_code),
                description: row.localized(b, &format!("{ALERTS}.8")),
                ..Alert::default()
            };
            (device, alert)
        })
        .collect()
}

/// `prtInputTable` (1.3.6.1.2.1.43.8.2.1): the media sources. The status follows the current
/// level (`prtInputCurrentLevel` 0: unloaded; -3 "at least one": loaded; a level at most a tenth
/// of the maximum: low), sizes are the declared ones in `prtInputDimUnit` (micrometres or
/// ten-thousandths of inches; -1/-2 are absent).
fn media_sources(b: &Bindings) -> Vec<MediaSource> {
    const INPUTS: &str = "1.3.6.1.2.1.43.8.2.1";
    rows(b, INPUTS)
        .into_iter()
        .map(|row| {
            let at = |col: &str| int(cell(b, &format!("{INPUTS}.{col}"), &row.oid_index));
            let text = |col: &str| {
                cell(b, &format!("{INPUTS}.{col}"), &row.oid_index).and_then(SnmpValue::as_bytes).and_then(clean_text)
            };
            let inches = at("3") == Some(3);
            let length = |col: &str| {
                let v = u64::try_from(at(col)?).ok().filter(|v| *v > 0)?;
                if inches { LengthUm::from_inches_ten_thousandths(v) } else { Some(LengthUm(v)) }
            };
            let status = crate::media_status(at("10").map(i64::from), at("9").map(i64::from));
            MediaSource {
                record_id: row.record_id(),
                kind: at("2").and_then(|v| u32::try_from(v).ok()).map_or(InputType::UNKNOWN, InputType::from_code),
                name: text("13"),
                status,
                media_type: text("12"),
                width: length("5"),
                height: length("4"),
            }
        })
        .collect()
}

/// The Finisher MIB's `finDeviceTable` (RFC 3806, 1.3.6.1.2.1.43.30.1.1): each finishing process
/// (stapler, puncher, trimmer, stacker ...) is an accessory, named by `finDeviceDescription`,
/// else by the process (`finDeviceType`). Its status is `finDevicePresentOnOff`'s (on: ok, off:
/// disabled, not present: not installed), and an error where one that is on is "unavailable
/// because broken" (`finDeviceStatus`, a `PrtSubUnitStatusTC`).
fn accessories(b: &Bindings) -> Vec<Accessory> {
    const FINISHERS: &str = "1.3.6.1.2.1.43.30.1.1";
    const PROCESSES: [&str; 18] = [
        "other",
        "unknown",
        "stitcher",
        "folder",
        "binder",
        "trimmer",
        "die cutter",
        "puncher",
        "perforater",
        "slitter",
        "separation cutter",
        "imprinter",
        "wrapper",
        "bander",
        "envelope maker",
        "stacker",
        "sheet rotator",
        "inserter",
    ];
    rows(b, FINISHERS)
        .into_iter()
        .map(|row| {
            let at = |col: &str| int(cell(b, &format!("{FINISHERS}.{col}"), &row.oid_index));
            let process = at("2")
                .and_then(|t| usize::try_from(t).ok()?.checked_sub(1))
                .and_then(|i| PROCESSES.get(i))
                .filter(|p| !matches!(**p, "other" | "unknown"));
            let name = row
                .localized(b, &format!("{FINISHERS}.10"))
                .or_else(|| process.map(|p| (*p).to_owned()))
                .unwrap_or_else(|| "finisher".to_owned());
            let broken = at("9").is_some_and(|s| s & 7 == 3);
            let status = match at("3") {
                Some(3) if broken => AccessoryStatus::ERROR,
                Some(3) => AccessoryStatus::OK,
                Some(4) => AccessoryStatus::DISABLED,
                Some(5) => AccessoryStatus::NOT_INSTALLED,
                Some(_) => AccessoryStatus::OTHER,
                None => AccessoryStatus::UNKNOWN,
            };
            Accessory { record_id: row.record_id(), name, status, ..Accessory::default() }
        })
        .collect()
}

/// The printer's status: its own `hrDeviceTable` and `hrPrinterTable` row (where the printer's
/// `hrDeviceIndex` is unknown, the first `hrPrinterTable` row).
///
/// The engine follows RFC 3805's table of how `hrDeviceStatus` and `hrPrinterStatus` combine
/// (section 2.2.13.2, as HP's agents document it too): a printer that is `down` is off-line
/// when `hrPrinterDetectedErrorState` says so, warming up when its printer status says so (moving
/// on-line), and otherwise stopped by a critical alert (an error); `testing` is busy.
fn status(b: &Bindings, printer: Option<&[u32]>) -> DeviceStatus {
    let printer_index = printer
        .map(<[u32]>::to_vec)
        .or_else(|| column(b, &oid("1.3.6.1.2.1.25.3.5.1.1")).next().map(|(i, _)| i.to_vec()))
        .unwrap_or_else(|| vec![1]);
    let code = |o: &str| int(cell(b, o, &printer_index)).and_then(|v| u32::try_from(v).ok());
    let printer = code("1.3.6.1.2.1.25.3.5.1.1").map_or(PrinterState::UNKNOWN, PrinterState::from_code);
    let errors = cell(b, "1.3.6.1.2.1.25.3.5.1.2", &printer_index)
        .and_then(SnmpValue::as_bytes)
        .map_or(DetectedErrors::NONE, DetectedErrors::from_octets);
    let device = code("1.3.6.1.2.1.25.3.2.1.5").map_or(DeviceState::UNKNOWN, DeviceState::from_code);
    let engine = match (device, printer) {
        (_, PrinterState::WARMUP) => EngineStatus::WARMING_UP,
        (DeviceState::DOWN, _) if errors.contains(DetectedErrors::OFFLINE) => EngineStatus::OFFLINE,
        (DeviceState::DOWN, _) => EngineStatus::ERROR,
        (DeviceState::TESTING, _) => EngineStatus::BUSY,
        (_, PrinterState::IDLE) => EngineStatus::READY,
        (_, PrinterState::PRINTING) => EngineStatus::PRINTING,
        _ => EngineStatus::UNKNOWN,
    };
    DeviceStatus { engine, device, printer, errors }
}

/// The PWG Imaging System Counter MIB (PWG 5106.1, `PWG-IMAGING-COUNTER-MIB`,
/// 1.3.6.1.4.1.2699.1.3): lifetime (`icImpressionPersistence` 3) work totals
/// (`icImpressionWorkType` 3) of `icImpressionTable` for the keys (`icKeyTable`) of the system
/// totals service (`icKeyServiceType` 3: total, monochrome, highlight-colour and full-colour
/// impressions), and of the copy (4), fax-in (7), print (11) and scan (12) services (the
/// service types are PWG 5108's services in alphabetical order after other, unknown and
/// system totals). The first key of each service type counts.
fn counter_mib(b: &Bindings, book: &mut MeterBook) {
    const KEY_SERVICE_TYPE: &str = "1.3.6.1.4.1.2699.1.3.1.2.1.1.2";
    const IMPRESSIONS: &str = "1.3.6.1.4.1.2699.1.3.1.8.1.1";
    const WORK_TOTALS: u32 = 3;
    const LIFETIME: u32 = 3;
    let key_of = |service: i32| {
        column(b, &oid(KEY_SERVICE_TYPE))
            .find(|(_, v)| v.as_i32() == Some(service))
            .and_then(|(index, _)| index.first().copied())
    };
    let mut count = |key: u32, col: &str, kind: MeterKind| {
        let mut arcs = oid(&format!("{IMPRESSIONS}.{col}")).arcs().to_vec();
        arcs.extend_from_slice(&[key, WORK_TOTALS, LIFETIME]);
        let at = Oid(arcs);
        if let Some(v) = b.get(&at).and_then(SnmpValue::as_u64) {
            book.add(kind, Rank::CounterMib, Source::Snmp { oids: vec![at], name: "PWG icImpressionTable" }, v);
        }
    };
    // icImpressionTotalImps (4), icImpressionMonochromeImps (5), icImpressionFullColorImps (7),
    // icImpressionHighlightColorImps (8). Column 6 is icImpressionBlankImps (blank sides), no
    // colour of any kind: it is not read.
    let by_mode = |total: MeterKind, mono: MeterKind, highlight: MeterKind, colour: MeterKind| {
        [("4", total), ("5", mono), ("8", highlight), ("7", colour)]
    };
    if let Some(key) = key_of(3) {
        for (col, kind) in by_mode(MeterKind::TOTAL, MeterKind::MONO, MeterKind::HIGHLIGHT_COLOUR, MeterKind::COLOUR) {
            count(key, col, kind);
        }
    }
    if let Some(key) = key_of(11) {
        for (col, kind) in
            by_mode(MeterKind::PRINT, MeterKind::PRINT_MONO, MeterKind::PRINT_HIGHLIGHT_COLOUR, MeterKind::PRINT_COLOUR)
        {
            count(key, col, kind);
        }
    }
    if let Some(key) = key_of(4) {
        for (col, kind) in
            by_mode(MeterKind::COPIES, MeterKind::COPY_MONO, MeterKind::COPY_HIGHLIGHT_COLOUR, MeterKind::COPY_COLOUR)
        {
            count(key, col, kind);
        }
    }
    for (service, kind) in [(12, MeterKind::SCANS), (7, MeterKind::FAX_IN)] {
        if let Some(key) = key_of(service) {
            count(key, "4", kind);
        }
    }
}

/// The object subtrees [`map`] reads, to the column: a line of a capture inside them that
/// cannot be read refuses the capture; outside them it is skipped with a finding.
pub const READS: [&str; 16] = [
    "1.3.6.1.2.1.1",              // system
    "1.3.6.1.2.1.2.2.1.6",        // ifPhysAddress
    "1.3.6.1.2.1.4.20.1.1",       // ipAdEntAddr
    "1.3.6.1.2.1.25.3.2.1",       // hrDeviceTable
    "1.3.6.1.2.1.25.3.5.1",       // hrPrinterTable
    "1.3.6.1.2.1.43.5.1.1",       // prtGeneralTable
    "1.3.6.1.2.1.43.7.1.1",       // prtLocalizationTable
    "1.3.6.1.2.1.43.8.2.1",       // prtInputTable
    "1.3.6.1.2.1.43.10.2.1",      // prtMarkerTable
    "1.3.6.1.2.1.43.11.1.1",      // prtMarkerSuppliesTable
    "1.3.6.1.2.1.43.12.1.1",      // prtMarkerColorantTable
    "1.3.6.1.2.1.43.18.1.1",      // prtAlertTable
    "1.3.6.1.2.1.43.30.1.1",      // finDeviceTable (Finisher MIB)
    "1.3.6.1.4.1.2699.1.3.1.2.1", // PWG icKeyTable
    "1.3.6.1.4.1.2699.1.3.1.8.1", // PWG icImpressionTable
    "1.3.6.1.4.1.2699.1.2.1.2.1", // PWG ppmPrinterTable (IEEE 1284 device id)
];

/// The subtrees an SNMP walk must cover for [`map`] to see everything it reads: the standard
/// MIBs, the PWG MIBs, the IEEE 1284 device-id and vendor serial-number objects and every vendor
/// counter's subtree
/// ([`super::vendor::subtrees`]). `snmp_poll` walks exactly these, so that a poll and a
/// capture of the same printer map alike.
pub fn subtrees() -> Vec<Oid> {
    let mut out: Vec<Oid> = [
        "1.3.6.1.2.1.1",
        "1.3.6.1.2.1.2",
        "1.3.6.1.2.1.4.20",
        "1.3.6.1.2.1.25",
        "1.3.6.1.2.1.43",
        "1.3.6.1.4.1.2699.1.3",
        "1.3.6.1.4.1.2699.1.2.1.2.1",
    ]
    .iter()
    .map(|t| oid(t))
    .chain(DEVICE_ID_OIDS.iter().chain(SERIAL_OIDS.iter().map(|(_, o)| o)).map(|t| {
        let mut o = oid(t);
        o.0.pop();
        o
    }))
    .chain(super::vendor::subtrees())
    .collect();
    out.sort();
    out.dedup();
    // Drop subtrees inside others.
    let mut minimal: Vec<Oid> = Vec::new();
    for o in out {
        if !minimal.iter().any(|m| o.starts_with(m)) {
            minimal.push(o);
        }
    }
    minimal
}

/// Whether `o` is inside what [`map`] reads ([`READS`], the IEEE 1284 and vendor serial-number
/// objects and the vendor counters' subtrees).
pub fn reads(o: &Oid) -> bool {
    READS.iter().any(|r| o.starts_with(&oid(r)))
        || DEVICE_ID_OIDS.iter().chain(SERIAL_OIDS.iter().map(|(_, o)| o)).any(|r| *o == oid(r))
        || super::vendor::subtrees().iter().any(|s| o.starts_with(s))
}

/// Maps a walk of a printer into a report (identity, consumables, alerts, media sources,
/// accessories, meters, status), with the provenance of every meter and the findings. The caller sets
/// `generated_at` and anything SNMP does not carry. The report passes
/// [`DeviceReport::validate`].
///
/// Meters, by preference: the vendor counters of [`super::vendor::VENDOR_COUNTERS`], then the
/// PWG counter MIB, then `prtMarkerLifeCount` of the printer's first marker (the total when its
/// unit is impressions, the sheets or the length printed when it counts those); sources that
/// disagree make the reading disputed.
pub fn map(b: &Bindings) -> Mapped {
    let mut findings = Findings::default();
    let printer = printer_device_index(b);
    let mut report = DeviceReport { identity: identity(b, printer.as_deref()), ..DeviceReport::default() };
    let s = &mut report.snapshot;
    s.status = status(b, printer.as_deref());
    s.consumables = consumables(b, &mut findings);
    let alerts = alerts(b);
    supply_status_from_alerts(&mut s.consumables, &alerts, printer.as_deref().and_then(<[u32]>::first).copied());
    s.alerts = alerts.into_iter().map(|(_, alert)| alert).collect();
    s.media_sources = media_sources(b);
    s.accessories = accessories(b);
    let mut book = MeterBook::default();
    // prtMarkerLifeCount of the printer's first marker (the table is indexed by hrDeviceIndex,
    // which need not be 1; else the first marker of any device), as its unit says.
    let markers = rows(b, MARKERS);
    let first = markers
        .iter()
        .find(|r| printer.as_deref().and_then(<[u32]>::first) == Some(&r.device))
        .or_else(|| markers.first())
        .map_or_else(|| vec![1, 1], |r| r.oid_index.clone());
    let life = Oid::parse_with(&format!("{MARKERS}.4"), &first).unwrap_or_else(|_| oid("1.3.6.1.2.1.43.10.2.1.4.1.1"));
    let unit = int(cell(b, &format!("{MARKERS}.3"), &first));
    if let Some(count) = b.get(&life).and_then(SnmpValue::as_u64)
        && let Some((kind, count)) = life_count_meter(unit, count)
    {
        book.add(kind, Rank::MarkerLifeCount, Source::Snmp { oids: vec![life], name: "prtMarkerLifeCount" }, count);
    }
    counter_mib(b, &mut book);
    for counter in super::vendor::read_counters(b) {
        let Some(kind) = counter.counter.meter.kind() else { continue };
        book.add(kind, Rank::Vendor, Source::Snmp { oids: counter.oids, name: counter.counter.name }, counter.value);
    }
    let meters = book.finish(&mut report, &mut findings);
    // A level above a known capacity is a device bug: keep the reading, drop the claim.
    crate::make_valid(&mut report, &mut findings);
    crate::finding::check_report(&report, &mut findings);
    Mapped { report, meters, findings: findings.into_vec() }
}

/// The meter a `prtMarkerLifeCount` is, by its `prtMarkerCounterUnit` (`PrtMarkerCounterUnitTC`):
/// impressions (7, or no unit given) are the total, sheets (8) are sheets (a two-sided sheet is
/// two impressions: a sheet count is never a total), meters (17) are the length printed in
/// millimetres (plotters, label printers). Other units are no meter: characters and lines
/// count no pages, feet and inches have no exact millimetre value, and the 32-bit counter in
/// ten-thousandths of an inch or micrometres wraps within a roll printer's life.
fn life_count_meter(unit: Option<i32>, count: u64) -> Option<(MeterKind, u64)> {
    match unit {
        None | Some(7) => Some((MeterKind::TOTAL, count)),
        Some(8) => Some((MeterKind::SHEETS, count)),
        Some(17) => Some((MeterKind::LENGTH_MM, count.checked_mul(1000)?)),
        Some(_) => None,
    }
}

/// `prtMarkerEntry`: rows indexed by (hrDeviceIndex, prtMarkerIndex).
const MARKERS: &str = "1.3.6.1.2.1.43.10.2.1";

/// [`map`], the report only (the findings and the meter provenance are dropped; prefer
/// [`map`]).
pub fn map_report(b: &Bindings) -> DeviceReport {
    map(b).report
}

/// Reads a stored capture (snmprec bytes, as read with a cap) tolerantly and maps it: lines
/// outside what the mapping reads ([`reads`]) that cannot be read are skipped with a finding, as
/// are identical repeated lines; a Latin-1 value is kept as its bytes. The capture's findings
/// come first.
pub fn map_snmprec(bytes: &[u8]) -> Result<Mapped, super::SnmprecError> {
    let (bindings, capture_findings) = Bindings::read_snmprec(bytes, reads)?;
    let mut mapped = map(&bindings);
    let mut findings = Findings::default();
    findings.extend(capture_findings);
    findings.extend(std::mem::take(&mut mapped.findings));
    mapped.findings = findings.into_vec();
    Ok(mapped)
}

/// [`map`] for a walk made at `now` (the caller's clock; this crate reads none): the
/// report is `generated_at` then, and each alert is `raised_at` `now` minus the time since
/// `prtAlertTime`, by the agent's own `sysUpTime` (hundredths of a second), so that the printer's
/// clock, which drifts, is not needed. An alert time later than `sysUpTime` (the agent restarted)
/// leaves `raised_at` absent.
///
/// ```
/// use printfleet_schema::Timestamp;
/// use printfleet_sources::snmp::Bindings;
/// use printfleet_sources::snmp::printer_mib::map_at;
///
/// // sysUpTime 10 000 s; an alert raised at 9 940 s: a minute ago.
/// let walk = "1.3.6.1.2.1.1.3.0|67|1000000\n1.3.6.1.2.1.43.18.1.1.7.1.1|2|8\n1.3.6.1.2.1.43.18.1.1.9.1.1|67|994000\n";
/// let now = Timestamp::from_unix_millis(1_800_000_000_000)?;
/// let report = map_at(&Bindings::from_snmprec(walk)?, now).report;
/// assert_eq!(report.generated_at, now);
/// assert_eq!(report.snapshot.alerts[0].raised_at, Timestamp::from_unix_millis(1_800_000_000_000 - 60_000).ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn map_at(b: &Bindings, now: Timestamp) -> Mapped {
    let mut mapped = map(b);
    let report = &mut mapped.report;
    report.generated_at = now;
    let ticks = |v: Option<&SnmpValue>| match v {
        Some(SnmpValue::TimeTicks(t)) => Some(u64::from(*t)),
        _ => None,
    };
    let Some(up) = ticks(b.get(&oid("1.3.6.1.2.1.1.3.0"))) else { return mapped };
    let times = oid("1.3.6.1.2.1.43.18.1.1.9");
    for (index, value) in column(b, &times) {
        let Some(alert) =
            report.snapshot.alerts.iter_mut().find(|a| index.get(1).map(|i| u64::from(*i)) == Some(a.record_id.0))
        else {
            continue;
        };
        alert.raised_at = ticks(Some(value))
            .and_then(|t| up.checked_sub(t))
            .and_then(|ago| ago.checked_mul(10))
            .and_then(|ms| now.unix_millis().checked_sub(ms))
            .and_then(|ms| Timestamp::from_unix_millis(ms).ok());
    }
    mapped
}

/// [`map_at`], the report only (prefer [`map_at`]).
pub fn map_report_at(b: &Bindings, now: Timestamp) -> DeviceReport {
    map_at(b, now).report
}
