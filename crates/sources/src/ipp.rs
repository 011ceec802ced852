//! IPP Get-Printer-Attributes responses (RFC 8010/8011) → a device report.
//!
//! [`parse`] reads the binary response with the `ipp` crate (after a bounds scan of our own, so
//! hostile input cannot make it work quadratically) and keeps the printer attributes;
//! [`map_report`] maps them:
//!
//! * identity: `printer-device-id` (IEEE 1284 `MFG`, `MDL`, `SN`), `printer-make-and-model`,
//!   `printer-serial-number`, `printer-info`, `printer-location`,
//!   `printer-firmware-string-version`;
//! * consumables: PWG 5100.13 `printer-supply` strings ([`parse_supply`]) with
//!   `printer-supply-description`, or else the CUPS `marker-names`, `marker-colors`, `marker-types`
//!   and `marker-levels` lists;
//! * alerts: PWG 5100.9 `printer-alert` strings ([`parse_alert`]) with `printer-alert-description`;
//! * media sources: PWG 5100.13 `printer-input-tray` strings (type, name, media, size, status
//!   from level and maximum capacity);
//! * status: `printer-state` and `printer-state-reasons` (as `hrPrinterDetectedErrorState` bits);
//! * meters: `printer-impressions-completed` and its `-col` (monochrome, highlight and full
//!   colour), `printer-media-sheets-completed` (PWG 5100.13 / IPP Job Extensions);
//! * supply status from CUPS `marker-low-levels` (low at or below) and `marker-high-levels` (a
//!   waste receptacle almost full at or above), also for `printer-supply` entries when the
//!   `marker-*` lists run parallel to them (HP); a waste receptacle's `marker-levels` is how full
//!   it is, so its level (the space left, as in the Printer-MIB) is 100 minus it.
//!
//! A response whose status is an error is refused with the status named
//! ([`IppError::Status`]).
//!
//! Tolerances, each from a real printer and tested: `key=value` lists without the final `;`,
//! with empty or key-less segments, keys in any case, and values in camelCase, hyphenated or
//! snake_case form (`inkCartridge`, `ink-cartridge`); tray types without their `Tray` suffix
//! (`sheetFeedAutoNonRemovable`); a value with its separator lost (`severity=otherother`, kept as
//! an unknown severity); alert codes outside the Printer-MIB (`printerReadyToPrint`, kept as the
//! vendor code of an `other` alert); `marker-levels` -1 ("unavailable" in CUPS, unlike the MIB's
//! "unrestricted") read as unknown; state reasons with the RFC 8011 `-report`, `-warning` and
//! `-error` suffixes; a value the parser cannot read (a tag beyond `0x4a` such as the extension
//! tag, a number shorter than its syntax, a string over its limit or not UTF-8 where it must be)
//! costs only itself, with a finding naming its attribute ([`Value::Unreadable`]).
//!
//! ```
//! use printfleet_sources::ipp::{Supply, parse_supply};
//! use printfleet_schema::codes::{SupplyClass, SupplyType};
//! use printfleet_schema::Level;
//!
//! let s = parse_supply("type=inkCartridge;maxcapacity=100;level=20;class=supplyThatIsConsumed;colorantname=cyan");
//! assert_eq!(s.kind, Some(SupplyType::INK_CARTRIDGE));
//! assert_eq!(s.class, Some(SupplyClass::SUPPLY_THAT_IS_CONSUMED));
//! assert_eq!(s.level, Some(Level::Amount(20)));
//! assert_eq!(s.colorant.as_deref(), Some("cyan"));
//! ```

use std::collections::BTreeMap;

use printfleet_schema::codes::{
    AlertCode, CodeSpace, ConsumableStatus, DeviceState, EngineStatus, InputType, PrinterState, SupplyClass,
    SupplyType, SupplyUnit,
};
use printfleet_schema::limits::{MAX_RECORDS, MAX_TEXT_BYTES};
use printfleet_schema::{
    Alert, Capacity, Colour, Consumable, DetectedErrors, DeviceReport, DeviceStatus, Identity, LengthUm, Level,
    MediaSource, MeterKind, RecordId,
};

use crate::finding::{Finding, Findings, Mapped, MeterBook, Rank, Source};
use crate::snmp::printer_mib::{clean_text, colour_from_name, plausible_serial, split_supply_name};

/// The largest IPP response [`parse`] accepts.
pub const MAX_IPP_BYTES: usize = 1 << 20;
/// The deepest nesting of IPP collections [`parse`] accepts.
pub const MAX_IPP_COLLECTION_DEPTH: usize = 8;
/// The most `key=value` pairs read from one PWG string; the rest are ignored.
pub const MAX_KEY_VALUES: usize = 32;

/// Why an IPP response could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IppError {
    /// The response is larger than [`MAX_IPP_BYTES`].
    #[error("IPP response is {len} bytes, limit {limit}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Collections nest deeper than [`MAX_IPP_COLLECTION_DEPTH`].
    #[error("IPP collections nest deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// Not a well-formed IPP message.
    #[error("malformed IPP message: {0}")]
    Malformed(String),
    /// The response has no printer attributes group.
    #[error("the IPP response has no printer attributes")]
    NoPrinterAttributes,
    /// The printer answered with an error status (RFC 8011 §B.1: anything from 0x0300).
    #[error("the printer answered {name} (0x{code:04x})")]
    Status {
        /// The status code.
        code: u16,
        /// Its RFC 8011 keyword (`client-error-not-found`), or `unknown-status`.
        name: &'static str,
    },
}

/// The RFC 8011 §B.1 keyword of an IPP status code (and RFC 8011's successful and
/// informational ones), `unknown-status` for another.
pub fn status_name(code: u16) -> &'static str {
    match code {
        0x0000 => "successful-ok",
        0x0001 => "successful-ok-ignored-or-substituted-attributes",
        0x0002 => "successful-ok-conflicting-attributes",
        0x0400 => "client-error-bad-request",
        0x0401 => "client-error-forbidden",
        0x0402 => "client-error-not-authenticated",
        0x0403 => "client-error-not-authorized",
        0x0404 => "client-error-not-possible",
        0x0405 => "client-error-timeout",
        0x0406 => "client-error-not-found",
        0x0407 => "client-error-gone",
        0x0408 => "client-error-request-entity-too-large",
        0x0409 => "client-error-request-value-too-long",
        0x040A => "client-error-document-format-not-supported",
        0x040B => "client-error-attributes-or-values-not-supported",
        0x040C => "client-error-uri-scheme-not-supported",
        0x040D => "client-error-charset-not-supported",
        0x040E => "client-error-conflicting-attributes",
        0x040F => "client-error-compression-not-supported",
        0x0410 => "client-error-compression-error",
        0x0411 => "client-error-document-format-error",
        0x0412 => "client-error-document-access-error",
        0x0500 => "server-error-internal-error",
        0x0501 => "server-error-operation-not-supported",
        0x0502 => "server-error-service-unavailable",
        0x0503 => "server-error-version-not-supported",
        0x0504 => "server-error-device-error",
        0x0505 => "server-error-temporary-error",
        0x0506 => "server-error-not-accepting-jobs",
        0x0507 => "server-error-busy",
        0x0508 => "server-error-job-canceled",
        0x0509 => "server-error-multiple-document-jobs-not-supported",
        _ => "unknown-status",
    }
}

/// The first status code that is not a success (RFC 8011 §B.1.1: 0x0000 to 0x00FF successful,
/// 0x0100 to 0x01FF informational, 0x0200 to 0x02FF redirection, 0x0300 upwards errors).
const FIRST_ERROR_STATUS: u16 = 0x0300;

/// One attribute value, reduced to what the mapping reads.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// `integer` or `enum`.
    Integer(i32),
    /// `boolean`.
    Boolean(bool),
    /// Any string syntax: text, name, keyword, uri, charset, language, MIME type.
    Text(String),
    /// `octetString` (PWG 5100.13 and 5100.9 strings travel as these), or a string that is not
    /// UTF-8.
    Octets(Vec<u8>),
    /// `collection`: member name → values.
    Collection(BTreeMap<String, Vec<Value>>),
    /// Any other syntax (dates, resolutions, ranges, out-of-band values).
    Other,
    /// A value the response carried but that could not be read, with its syntax tag: a tag
    /// beyond RFC 8010's (the extension tag `0x7f`), a number shorter than its syntax, a string
    /// over its syntax's length limit or not UTF-8 where it must be. The rest of the response is
    /// read; [`map`] names the attribute in a finding.
    Unreadable {
        /// The value's syntax tag.
        tag: u8,
    },
}

impl Value {
    /// The value as text (string syntaxes, and octet strings read as device text).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Self::Text(t) => clean_text(t.as_bytes()),
            Self::Octets(b) => clean_text(b),
            _ => None,
        }
    }

    /// The value as an integer.
    pub fn as_int(&self) -> Option<i32> {
        match self {
            Self::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

/// The printer attributes of a Get-Printer-Attributes response: name → values (a `1setOf`
/// attribute has several), in name order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrinterAttributes(pub BTreeMap<String, Vec<Value>>);

impl PrinterAttributes {
    /// The values of `name` (empty if absent).
    pub fn values(&self, name: &str) -> &[Value] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    /// The first value of `name` as text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.values(name).first().and_then(Value::as_text)
    }

    /// The first value of `name` as an integer.
    pub fn int(&self, name: &str) -> Option<i32> {
        self.values(name).first().and_then(Value::as_int)
    }
}

fn convert(value: &ipp::value::IppValue) -> Vec<Value> {
    use ipp::value::IppValue as V;
    vec![match value {
        V::Integer(i) | V::Enum(i) => Value::Integer(*i),
        V::Boolean(b) => Value::Boolean(*b),
        V::TextWithLanguage { text, .. } => Value::Text(text.to_string()),
        V::NameWithLanguage { name, .. } => Value::Text(name.to_string()),
        V::TextWithoutLanguage(_)
        | V::NameWithoutLanguage(_)
        | V::Keyword(_)
        | V::Uri(_)
        | V::UriScheme(_)
        | V::Charset(_)
        | V::NaturalLanguage(_)
        | V::MimeMediaType(_) => Value::Text(value.to_string()),
        V::OctetString(b) | V::NonUtf8 { data: b, .. } => Value::Octets(b.to_vec()),
        V::Array(values) => return values.iter().flat_map(convert).collect(),
        V::Collection(members) => Value::Collection(members.iter().map(|(k, v)| (k.to_string(), convert(v))).collect()),
        V::Other { tag: UNREADABLE, data } => Value::Unreadable { tag: data.first().copied().unwrap_or(UNREADABLE) },
        _ => Value::Other,
    }]
}

/// The tag a value the `ipp` crate cannot read is rewritten to before it parses the response: a
/// reserved out-of-band tag (RFC 8010 §3.5.2), with the original tag as its one byte of value.
/// The crate reads it as an unknown syntax, and [`convert`] as [`Value::Unreadable`].
const UNREADABLE: u8 = 0x1f;

/// Whether the `ipp` crate (8.0) reads a value of syntax `tag`: it refuses the whole response
/// over one value whose tag is beyond `0x4a` (RFC 8010's extension tag `0x7f`, reserved
/// string tags), a number shorter than its syntax, a string longer than RFC 8011's limit for
/// its syntax, or a `textWithLanguage` / `nameWithLanguage` that is not UTF-8. Such a value in
/// an attribute the mapping never reads (a localised `printer-info`, a vendor's extension)
/// must not cost the device's status, supplies and counters.
fn readable(tag: u8, value: &[u8]) -> bool {
    // Two length-prefixed strings (language, then text) that fill the value exactly (RFC 8010
    // §3.9): the crate slices them without checking and panics on a short one.
    let with_language = |max: usize| {
        let mut rest = value;
        let strings_fit = [63, max].into_iter().all(|limit| {
            let Some((len, after)) = rest.split_first_chunk::<2>() else { return false };
            let Some((text, after)) = after.split_at_checked(usize::from(u16::from_be_bytes(*len))) else {
                return false;
            };
            rest = after;
            text.len() <= limit && std::str::from_utf8(text).is_ok()
        });
        strings_fit && rest.is_empty()
    };
    match tag {
        0x21 | 0x23 => value.len() >= 4,
        0x22 => !value.is_empty(),
        0x31 => value.len() >= 11,
        0x32 => value.len() >= 9,
        0x33 => value.len() >= 8,
        0x35 => with_language(1023),
        0x36 => with_language(255),
        0x41 | 0x45 | 0x46 => value.len() <= 1023,
        0x42 | 0x44 | 0x49 | 0x4a => value.len() <= 255,
        0x47 | 0x48 => value.len() <= 63,
        tag => tag <= 0x4a,
    }
}

/// Walks the attribute encoding (RFC 8010 §3.1), to bound what the parser will build
/// (collection depth), and returns the response with every value the parser would refuse or
/// panic over ([`readable`]) rewritten as [`UNREADABLE`].
fn scan(bytes: &[u8]) -> Result<Vec<u8>, IppError> {
    let malformed = |what: &str| IppError::Malformed(what.to_owned());
    let header = bytes.get(..8).ok_or_else(|| malformed("shorter than its header"))?;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(header);
    let mut rest = bytes.get(8..).unwrap_or_default();
    let mut depth = 0usize;
    while let Some((&tag, after)) = rest.split_first() {
        rest = after;
        let tag_at = out.len();
        out.push(tag);
        match tag {
            // Any document data after the attributes is kept as it is.
            0x03 => {
                out.extend_from_slice(rest);
                return Ok(out);
            }
            0x00..=0x0f => continue,
            _ => {}
        }
        /// A length-prefixed field: (its length bytes, its bytes), taken off the front of `rest`.
        fn field<'a>(rest: &mut &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
            let (len, after) = rest.split_first_chunk::<2>()?;
            let (field, after) = after.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
            *rest = after;
            Some((len.as_slice(), field))
        }
        let (name_len, name) = field(&mut rest).ok_or_else(|| malformed("truncated"))?;
        let (value_len, value) = field(&mut rest).ok_or_else(|| malformed("truncated"))?;
        match tag {
            0x34 => {
                depth = depth.saturating_add(1);
                if depth > MAX_IPP_COLLECTION_DEPTH {
                    return Err(IppError::TooDeep { limit: MAX_IPP_COLLECTION_DEPTH });
                }
            }
            0x37 => depth = depth.saturating_sub(1),
            _ => {}
        }
        out.extend_from_slice(name_len);
        out.extend_from_slice(name);
        if matches!(tag, 0x34 | 0x37) {
            // begCollection and endCollection have no value (RFC 8010 §3.1.6): one is dropped
            // (the crate refuses the response over it), the collection kept.
            out.extend_from_slice(&[0, 0]);
        } else if readable(tag, value) {
            out.extend_from_slice(value_len);
            out.extend_from_slice(value);
        } else {
            if let Some(t) = out.get_mut(tag_at) {
                *t = UNREADABLE;
            }
            out.extend_from_slice(&[0, 1, tag]);
        }
    }
    Err(malformed("no end-of-attributes tag"))
}

/// Reads a Get-Printer-Attributes response (header, attribute groups; any document data after
/// the attributes is ignored) and returns its printer attributes.
pub fn parse(bytes: &[u8]) -> Result<PrinterAttributes, IppError> {
    if bytes.len() > MAX_IPP_BYTES {
        return Err(IppError::TooLarge { len: bytes.len(), limit: MAX_IPP_BYTES });
    }
    // version-number (2 bytes), status-code (2 bytes), request-id (4 bytes): RFC 8010 §3.1.1.
    if let Some(&[hi, lo]) = bytes.get(2..4) {
        let code = u16::from_be_bytes([hi, lo]);
        if code >= FIRST_ERROR_STATUS {
            return Err(IppError::Status { code, name: status_name(code) });
        }
    }
    let readable = scan(bytes)?;
    let parser = ipp::parser::IppParser::new(ipp::reader::IppReader::new(std::io::Cursor::new(readable)));
    let (_, attributes, _) = parser.parse_parts().map_err(|e| IppError::Malformed(e.to_string()))?;
    let mut out = BTreeMap::new();
    let mut found = false;
    for group in attributes.groups_of(ipp::model::DelimiterTag::PrinterAttributes) {
        found = true;
        for attribute in group.attributes() {
            out.entry(attribute.name().to_string()).or_insert_with(Vec::new).extend(convert(attribute.value()));
        }
    }
    if !found {
        return Err(IppError::NoPrinterAttributes);
    }
    Ok(PrinterAttributes(out))
}

// ---------------------------------------------------------------------------------------------
// PWG key=value strings

/// The `key=value` pairs of a PWG 5100.13 / 5100.9 string, keys lowercased, at most
/// [`MAX_KEY_VALUES`]. Tolerant: a missing final `;`, empty segments and segments without `=`
/// are skipped.
pub fn key_values(text: &str) -> Vec<(String, &str)> {
    text.split(';')
        .filter_map(|segment| {
            let (key, value) = segment.split_once('=')?;
            let key = key.trim();
            (!key.is_empty()).then(|| (key.to_ascii_lowercase(), value.trim()))
        })
        .take(MAX_KEY_VALUES)
        .collect()
}

/// A keyword in the snake_case form of printfleet's code names: `inkCartridge`, `ink-cartridge`
/// and `ink_cartridge` all give `ink_cartridge`.
pub fn snake_keyword(keyword: &str) -> String {
    let mut out = String::with_capacity(keyword.len().saturating_add(4));
    let mut previous_lower = false;
    for c in keyword.trim().chars().take(MAX_TEXT_BYTES) {
        if c == '-' || c == '_' || c == ' ' {
            out.push('_');
            previous_lower = false;
        } else if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else {
            out.push(c);
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// A code from a keyword in any of the forms [`snake_keyword`] accepts, or from a number.
fn code<C: CodeSpace>(keyword: &str) -> Option<C> {
    match keyword.parse::<u32>() {
        Ok(n) => Some(C::from_code(n)),
        Err(_) => C::from_name(&snake_keyword(keyword)),
    }
}

fn integer(value: &str) -> Option<i64> {
    value.parse().ok()
}

/// One PWG 5100.13 `printer-supply` value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Supply {
    /// `type` (prtMarkerSuppliesType).
    pub kind: Option<SupplyType>,
    /// `class` (prtMarkerSuppliesClass).
    pub class: Option<SupplyClass>,
    /// `unit` (prtMarkerSuppliesSupplyUnit).
    pub unit: Option<SupplyUnit>,
    /// `level`, with the MIB's special values.
    pub level: Option<Level>,
    /// `maxcapacity`, with the MIB's special values.
    pub capacity: Option<Capacity>,
    /// `colorantname`.
    pub colorant: Option<String>,
    /// `index` (prtMarkerSuppliesIndex).
    pub index: Option<u32>,
}

/// Reads a `printer-supply` value (`type=tonerCartridge;maxcapacity=100;level=80;...`).
/// Unknown keys, and values that do not parse, are ignored.
pub fn parse_supply(text: &str) -> Supply {
    let mut s = Supply::default();
    for (key, value) in key_values(text) {
        match key.as_str() {
            "type" => s.kind = code(value),
            "class" => s.class = code(value),
            "unit" => s.unit = code(value),
            "level" => s.level = integer(value).and_then(Level::from_mib),
            "maxcapacity" => s.capacity = integer(value).and_then(Capacity::from_mib),
            "colorantname" => s.colorant = clean_text(value.as_bytes()),
            "index" => s.index = value.parse().ok(),
            _ => {}
        }
    }
    s
}

/// Reads a PWG 5100.9 `printer-alert` value (`code=mediaEmpty;severity=critical;group=input;
/// groupindex=1;...`) into an alert (without description or record id). An alert code that is
/// not a Printer-MIB code becomes `other` with the keyword as vendor code.
pub fn parse_alert(text: &str) -> Alert {
    alert_from(&key_values(text))
}

/// The alert the key-value pairs of a `printer-alert` value describe.
fn alert_from(pairs: &[(String, &str)]) -> Alert {
    let mut a = Alert::default();
    for (key, value) in pairs.iter().map(|(k, v)| (k.as_str(), *v)) {
        match key {
            "code" => match code::<AlertCode>(value) {
                Some(c) => a.code = c,
                None => {
                    a.code = AlertCode::OTHER;
                    a.vendor_code = clean_text(value.as_bytes());
                }
            },
            "severity" => a.severity = code(value).unwrap_or_default(),
            "training" | "traininglevel" => a.training_level = code(value).unwrap_or_default(),
            "group" => a.group = code(value).unwrap_or_default(),
            "groupindex" => a.group_index = value.parse().ok(),
            "location" => a.location = value.parse().ok(),
            _ => {}
        }
    }
    a
}

// ---------------------------------------------------------------------------------------------
// Mapping

/// The fields of an IEEE 1284 device id (`MFG:HP;MDL:Officejet Pro 6830;...`), keys uppercased.
pub(crate) fn device_id(text: &str) -> BTreeMap<String, String> {
    text.split(';')
        .filter_map(|segment| {
            let (key, value) = segment.split_once(':')?;
            let value = clean_text(value.as_bytes())?;
            Some((key.trim().to_ascii_uppercase(), value))
        })
        .take(MAX_KEY_VALUES)
        .collect()
}

fn identity(a: &PrinterAttributes) -> Identity {
    let id = a.text("printer-device-id").map(|t| device_id(&t)).unwrap_or_default();
    let make_and_model = a.text("printer-make-and-model");
    // The make comes from the device id's manufacturer field, else from a make this crate knows
    // that printer-make-and-model starts with ("EPSON XP-6000 Series"): not from any first word
    // ("Color LaserJet ...", "ECOSYS ..." are not makes).
    let make = id
        .get("MFG")
        .or_else(|| id.get("MANUFACTURER"))
        .and_then(|m| crate::make::normalise(m))
        .or_else(|| make_and_model.as_deref().and_then(crate::make::known).map(str::to_owned));
    let model = id.get("MDL").or_else(|| id.get("MODEL")).cloned().or_else(|| make_and_model.clone());
    // The device id's serial, else `printer-serial-number` (PWG 5100.13), which printers whose
    // device id has none (Brother, Kyocera, Canon) send.
    let serial_number = id
        .get("SN")
        .or_else(|| id.get("SERN"))
        .cloned()
        .filter(|s| plausible_serial(s))
        .or_else(|| a.text("printer-serial-number").filter(|s| plausible_serial(s)));
    Identity {
        make,
        model,
        serial_number,
        product_name: make_and_model,
        firmware_version: a.text("printer-firmware-string-version"),
        description: a.text("printer-info"),
        location: a.text("printer-location"),
        ..Identity::default()
    }
}

/// The colour a CUPS `marker-colors` value names: `#RRGGBB` for the process colours, or `none`.
fn colour_from_hex(text: &str) -> Option<Colour> {
    let text = text.to_ascii_uppercase();
    Some(match text.as_str() {
        "#000000" => Colour::Black,
        "#00FFFF" => Colour::Cyan,
        "#FF00FF" => Colour::Magenta,
        "#FFFF00" => Colour::Yellow,
        // One cartridge of three inks: CUPS writes each colour after the other.
        _ if text.len() == 21 && ["#00FFFF", "#FF00FF", "#FFFF00"].iter().all(|c| text.contains(c)) => {
            Colour::TriColour
        }
        _ => return None,
    })
}

fn record(index: usize) -> RecordId {
    RecordId(u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1))
}

fn texts(a: &PrinterAttributes, name: &str) -> Vec<Option<String>> {
    a.values(name).iter().map(Value::as_text).collect()
}

/// A consumable's description split into name, part number and serial.
fn described(c: &mut Consumable, name: Option<&str>) {
    if let Some(name) = name {
        let (description, part, serial) = split_supply_name(name);
        c.description = clean_text(description.as_bytes());
        c.part_number = part;
        c.serial_number = serial;
    }
}

/// CUPS' `marker-*` attributes: parallel lists, one entry per supply, levels in percent.
struct Markers {
    names: Vec<Option<String>>,
    colours: Vec<Option<String>>,
    types: Vec<Option<String>>,
    levels: Vec<Option<i32>>,
    /// The level at or below which a supply is low (`marker-low-levels`).
    low_levels: Vec<Option<i32>>,
    /// The level at or above which a waste receptacle is almost full (`marker-high-levels`).
    high_levels: Vec<Option<i32>>,
}

impl Markers {
    fn read(a: &PrinterAttributes) -> Self {
        let ints = |name: &str| a.values(name).iter().map(Value::as_int).collect::<Vec<_>>();
        Self {
            names: texts(a, "marker-names"),
            colours: texts(a, "marker-colors"),
            types: texts(a, "marker-types"),
            levels: ints("marker-levels"),
            low_levels: ints("marker-low-levels"),
            high_levels: ints("marker-high-levels"),
        }
    }

    /// Supply `i`'s status from its level and thresholds. A receptacle's `marker-levels` is how
    /// full it is (CUPS' `backend/snmp-supplies.c` turns the MIB's space left into `100 -
    /// percent` for `receptacleThatIsFilled`; `marker-high-levels` marks "almost full").
    fn status(&self, i: usize, fills: bool) -> ConsumableStatus {
        let at = |v: &Vec<Option<i32>>| v.get(i).copied().flatten();
        match (at(&self.levels), at(&self.low_levels), at(&self.high_levels)) {
            (Some(100), _, _) if fills => ConsumableStatus::EXHAUSTED,
            (Some(l @ 0..=100), _, Some(high @ 1..=100)) if fills && l >= high => ConsumableStatus::LOW,
            (Some(0..=100), _, Some(1..=100)) if fills => ConsumableStatus::OK,
            (Some(0), Some(_), _) if !fills => ConsumableStatus::EXHAUSTED,
            (Some(l @ 1..=100), Some(low @ 0..=100), _) if !fills && l <= low => ConsumableStatus::LOW,
            (Some(0..=100), Some(0..=100), _) if !fills => ConsumableStatus::OK,
            _ => ConsumableStatus::UNKNOWN,
        }
    }
}

/// A colorant name as IPP writes it: PWG 5100.13's `multi-color` (one cartridge of several
/// inks: HP's tri-colour ones) is the tri-colour; "unknown", "other" and "none" name none.
fn colorant(name: &str) -> Option<Colour> {
    match name.to_ascii_lowercase().as_str() {
        "unknown" | "other" | "none" => None,
        "multi-color" | "multicolor" | "multi-colour" => Some(Colour::TriColour),
        _ => Some(Colour::parse(name)),
    }
}

fn consumables(a: &PrinterAttributes, findings: &mut Findings) -> Vec<Consumable> {
    let supplies = texts(a, "printer-supply");
    let markers = Markers::read(a);
    if !supplies.is_empty() {
        let descriptions = texts(a, "printer-supply-description");
        let parsed: Vec<Supply> =
            supplies.iter().take(MAX_RECORDS).map(|t| parse_supply(t.as_deref().unwrap_or_default())).collect();
        let colours: Vec<Option<Colour>> = parsed.iter().map(|s| s.colorant.as_deref().and_then(colorant)).collect();
        // HP's printers send the marker-* lists beside printer-supply, built from the same table
        // (the same length, the same order), and leave printer-supply-description empty: then
        // the marker's name describes the supply, and its thresholds give its status. Only when
        // the two lists are seen to be parallel: the same length, and no entry whose colour or
        // percentage differs between them (lists in different orders would put names and
        // statuses on the wrong cartridges).
        let parallel = markers.names.len() == supplies.len()
            && parsed.iter().zip(&colours).enumerate().all(|(i, (s, colour))| {
                let marker_colour = markers.colours.get(i).cloned().flatten().and_then(|h| colour_from_hex(&h));
                let colour_agrees = match (colour, marker_colour) {
                    (Some(a), Some(b)) => *a == b,
                    _ => true,
                };
                let percent =
                    s.unit == Some(SupplyUnit::PERCENT) && s.class != Some(SupplyClass::RECEPTACLE_THAT_IS_FILLED);
                let level_agrees = match (s.level, markers.levels.get(i).copied().flatten()) {
                    (Some(Level::Amount(l)), Some(m @ 0..=100)) if percent => i64::from(l) == i64::from(m),
                    _ => true,
                };
                colour_agrees && level_agrees
            });
        return parsed
            .into_iter()
            .zip(colours)
            .enumerate()
            .map(|(i, (s, colour))| {
                let kind = s.kind.unwrap_or(SupplyType::UNKNOWN);
                let mut c = Consumable {
                    record_id: s.index.map_or_else(|| record(i), |n| RecordId(u64::from(n))),
                    kind,
                    class: s.class.unwrap_or(SupplyClass::SUPPLY_THAT_IS_CONSUMED),
                    unit: s.unit.unwrap_or(SupplyUnit::UNKNOWN),
                    level: s.level.unwrap_or(Level::Unknown),
                    capacity: s.capacity.unwrap_or(Capacity::Unknown),
                    colour,
                    ..Consumable::default()
                };
                let description = descriptions.get(i).cloned().flatten();
                let name = markers.names.get(i).cloned().flatten().filter(|_| parallel);
                described(&mut c, description.or(name).as_deref());
                if parallel && markers.levels.len() == supplies.len() {
                    c.status = markers.status(i, c.class == SupplyClass::RECEPTACLE_THAT_IS_FILLED);
                }
                c
            })
            .collect();
    }
    let Markers { names, colours, types, levels, .. } = &markers;
    (0..names.len().max(levels.len()))
        .take(MAX_RECORDS)
        .map(|i| {
            let name = names.get(i).cloned().flatten();
            let kind = types.get(i).cloned().flatten().and_then(|t| code(&t)).unwrap_or(SupplyType::UNKNOWN);
            let raw = levels.get(i).copied().flatten();
            let fills = kind.name().is_some_and(|n| n.starts_with("waste"));
            let level = match raw {
                // CUPS: -1 "unavailable", -2 unknown, -3 "unknown but not empty".
                Some(-3) => Level::SomeRemaining,
                // A receptacle's level is how full it is; the schema's, the space left.
                Some(l @ 0..=100) if fills => Level::Amount(100u32.saturating_sub(l.unsigned_abs())),
                Some(l @ 0..=100) => Level::Amount(l.unsigned_abs()),
                Some(-1 | -2) | None => Level::Unknown,
                Some(other) => {
                    findings.push(Finding::ValueClamped {
                        field: "marker-levels",
                        value: i64::from(other),
                        replaced_by: None,
                    });
                    Level::Unknown
                }
            };
            let status = markers.status(i, fills);
            let mut c = Consumable {
                record_id: record(i),
                kind,
                class: if fills {
                    SupplyClass::RECEPTACLE_THAT_IS_FILLED
                } else {
                    SupplyClass::SUPPLY_THAT_IS_CONSUMED
                },
                unit: SupplyUnit::PERCENT,
                level,
                capacity: Capacity::Amount(100),
                status,
                ..Consumable::default()
            };
            described(&mut c, name.as_deref());
            c.colour = c
                .description
                .as_deref()
                .and_then(colour_from_name)
                .or_else(|| colours.get(i).cloned().flatten().and_then(|h| colour_from_hex(&h)));
            c
        })
        .collect()
}

fn alerts(a: &PrinterAttributes) -> Vec<Alert> {
    let descriptions = texts(a, "printer-alert-description");
    texts(a, "printer-alert")
        .iter()
        .enumerate()
        .take(MAX_RECORDS)
        .filter_map(|(i, text)| {
            // A value without the `code` PWG 5100.9 requires is no alert: an idle Xerox B210
            // sends the one word "none" (and "none" as its description).
            let pairs = key_values(text.as_deref()?);
            pairs.iter().any(|(key, _)| key == "code").then(|| Alert {
                record_id: record(i),
                description: descriptions.get(i).cloned().flatten(),
                ..alert_from(&pairs)
            })
        })
        .collect()
}

fn media_sources(a: &PrinterAttributes) -> Vec<MediaSource> {
    texts(a, "printer-input-tray")
        .iter()
        .enumerate()
        .take(MAX_RECORDS)
        .map(|(i, text)| {
            let mut m = MediaSource { record_id: record(i), ..MediaSource::default() };
            let pairs = key_values(text.as_deref().unwrap_or_default());
            // Dimensions: positive values only (-2 is "unknown"), in `dimunit` (micrometers, or
            // ten-thousandths of inches as in prtInputDimUnit, by name or, as a Xerox B210
            // writes it, by its number: 3).
            let inches = pairs
                .iter()
                .any(|(k, v)| k == "dimunit" && (snake_keyword(v) == "ten_thousandths_of_inches" || v.trim() == "3"));
            let length = |v: &str| {
                let v = v.parse::<u64>().ok().filter(|v| *v > 0)?;
                if inches { LengthUm::from_inches_ten_thousandths(v) } else { Some(LengthUm(v)) }
            };
            let (mut level, mut max) = (None, None);
            for (key, value) in pairs.iter().map(|(k, v)| (k.as_str(), *v)) {
                match key {
                    "level" => level = value.trim().parse::<i64>().ok(),
                    "maxcapacity" => max = value.trim().parse::<i64>().ok(),
                    // Some printers drop the "Tray" of the IANA name (sheetFeedAutoNonRemovable).
                    "type" => {
                        m.kind = code(value).or_else(|| code(&format!("{value}Tray"))).unwrap_or(InputType::UNKNOWN);
                    }
                    "name" => m.name = clean_text(value.as_bytes()),
                    "medianame" => m.media_type = clean_text(value.as_bytes()),
                    "mediaxfeed" => m.width = length(value),
                    "mediafeed" => m.height = length(value),
                    _ => {}
                }
            }
            m.status = crate::media_status(level, max);
            m
        })
        .collect()
}

/// `printer-state-reasons` keywords → `hrPrinterDetectedErrorState` bits, and whether any reason
/// is a warning or an error.
fn reasons(a: &PrinterAttributes) -> (DetectedErrors, bool) {
    let keywords: Vec<String> = a.values("printer-state-reasons").iter().filter_map(Value::as_text).collect();
    reason_keywords(keywords.iter().map(String::as_str))
}

/// [`reasons`] of `printer-state-reasons` keywords however they were read (HP's CDM
/// `/cdm/print/v2/status` gives them too).
pub(crate) fn reason_keywords<'a>(keywords: impl Iterator<Item = &'a str>) -> (DetectedErrors, bool) {
    let mut errors = DetectedErrors::NONE;
    let mut trouble = false;
    for reason in keywords {
        let (base, severity) = match reason.rsplit_once('-') {
            Some((base, s @ ("report" | "warning" | "error"))) => (base, s),
            _ => (reason, "error"),
        };
        if base == "none" {
            continue;
        }
        trouble |= severity != "report";
        let bit = match base {
            "media-low" => DetectedErrors::LOW_PAPER,
            "media-empty" | "media-needed" => DetectedErrors::NO_PAPER,
            "toner-low" | "marker-supply-low" => DetectedErrors::LOW_TONER,
            "toner-empty" | "marker-supply-empty" => DetectedErrors::NO_TONER,
            "door-open" | "cover-open" | "interlock-open" => DetectedErrors::DOOR_OPEN,
            "media-jam" => DetectedErrors::JAMMED,
            "offline" | "shutdown" | "stopped-partly" => DetectedErrors::OFFLINE,
            "input-tray-missing" => DetectedErrors::INPUT_TRAY_MISSING,
            "output-tray-missing" => DetectedErrors::OUTPUT_TRAY_MISSING,
            "marker-supply-missing" | "toner-missing" => DetectedErrors::MARKER_SUPPLY_MISSING,
            "output-area-almost-full" => DetectedErrors::OUTPUT_NEAR_FULL,
            "output-area-full" => DetectedErrors::OUTPUT_FULL,
            "input-tray-empty" => DetectedErrors::INPUT_TRAY_EMPTY,
            "service-needed" | "fuser-failure" | "marker-failure" => DetectedErrors::SERVICE_REQUESTED,
            _ => DetectedErrors::NONE,
        };
        errors = errors.union(bit);
    }
    (errors, trouble)
}

fn status(a: &PrinterAttributes) -> DeviceStatus {
    let (errors, trouble) = reasons(a);
    let (engine, printer, stopped) = match a.int("printer-state") {
        Some(3) => (EngineStatus::READY, PrinterState::IDLE, false),
        Some(4) => (EngineStatus::PRINTING, PrinterState::PRINTING, false),
        Some(5) => (EngineStatus::UNKNOWN, PrinterState::OTHER, true),
        _ => (EngineStatus::UNKNOWN, PrinterState::UNKNOWN, false),
    };
    let device = if stopped {
        DeviceState::DOWN
    } else if trouble {
        DeviceState::WARNING
    } else if a.int("printer-state").is_some() {
        DeviceState::RUNNING
    } else {
        DeviceState::UNKNOWN
    };
    DeviceStatus { engine, device, printer, errors }
}

fn meters(a: &PrinterAttributes, book: &mut MeterBook, findings: &mut Findings) {
    let mut add = |kind: MeterKind, source: &'static str, value: Option<i32>| match value.map(u64::try_from) {
        Some(Ok(v)) => book.add(kind, Rank::Vendor, Source::Ipp(source), v),
        Some(Err(_)) => {
            findings.push(Finding::ValueClamped { field: source, value: value.map_or(0, i64::from), replaced_by: None })
        }
        None => {}
    };
    add(MeterKind::TOTAL, "printer-impressions-completed", a.int("printer-impressions-completed"));
    add(MeterKind::SHEETS, "printer-media-sheets-completed", a.int("printer-media-sheets-completed"));
    if let Some(Value::Collection(members)) = a.values("printer-impressions-completed-col").first() {
        for (member, kind, source) in [
            ("monochrome", MeterKind::MONO, "printer-impressions-completed-col/monochrome"),
            ("highlight-color", MeterKind::HIGHLIGHT_COLOUR, "printer-impressions-completed-col/highlight-color"),
            ("full-color", MeterKind::COLOUR, "printer-impressions-completed-col/full-color"),
        ] {
            add(kind, source, members.get(member).and_then(|v| v.first()).and_then(Value::as_int));
        }
    }
}

/// Maps printer attributes into a report (identity, consumables, alerts, media sources, status,
/// meters), with the provenance of every meter (the attribute it was read from) and the
/// findings. The caller sets `generated_at`. The report passes [`DeviceReport::validate`].
pub fn map(a: &PrinterAttributes) -> Mapped {
    let mut findings = Findings::default();
    unreadable(&a.0, "", &mut findings);
    let mut report = DeviceReport { identity: identity(a), ..DeviceReport::default() };
    report.snapshot.status = status(a);
    report.snapshot.consumables = consumables(a, &mut findings);
    report.snapshot.alerts = alerts(a);
    report.snapshot.media_sources = media_sources(a);
    let mut book = MeterBook::default();
    meters(a, &mut book, &mut findings);
    let meters = book.finish(&mut report, &mut findings);
    crate::make_valid(&mut report, &mut findings);
    crate::finding::check_report(&report, &mut findings);
    Mapped { report, meters, findings: findings.into_vec() }
}

/// A finding for every [`Value::Unreadable`] of `attributes`, members of collections included
/// (named `collection/member`; the findings themselves are bounded).
fn unreadable(attributes: &BTreeMap<String, Vec<Value>>, prefix: &str, findings: &mut Findings) {
    for (name, values) in attributes {
        for value in values {
            match value {
                Value::Unreadable { tag } => findings.push(Finding::UnmappedValue {
                    field: "IPP value",
                    text: format!("{prefix}{name} (syntax 0x{tag:02x})"),
                }),
                Value::Collection(members) => unreadable(members, &format!("{prefix}{name}/"), findings),
                _ => {}
            }
        }
    }
}

/// [`map`], the report only (prefer [`map`]).
pub fn map_report(a: &PrinterAttributes) -> DeviceReport {
    map(a).report
}
