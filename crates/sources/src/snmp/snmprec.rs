//! The snmprec capture format of snmpsim (`OID|TAG|VALUE`, one binding per line), as LibreNMS'
//! test captures use it. Tags are the BER type numbers: 2 Integer32, 4 OCTET STRING, 5 NULL,
//! 6 OBJECT IDENTIFIER, 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 70 Counter64; a
//! trailing `x` (`4x`, `64x`) means the value is written in hex.

use std::net::Ipv4Addr;

use super::{Bindings, Oid, SnmpValue};

/// Largest capture read, in bytes (a full printer walk is tens of kilobytes).
pub const MAX_SNMPREC_BYTES: usize = 8 << 20;
/// Most bindings in one capture.
pub const MAX_BINDINGS: usize = 100_000;
/// Longest value, in bytes after hex decoding (SNMP messages are far smaller).
pub const MAX_VALUE_BYTES: usize = 65_535;

/// Why a capture could not be read. Lines count from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnmprecError {
    /// The capture is larger than [`MAX_SNMPREC_BYTES`], or has more than [`MAX_BINDINGS`] lines.
    #[error("capture too large")]
    TooLarge,
    /// A line without the three `|`-separated fields.
    #[error("line {line}: expected OID|TAG|VALUE")]
    Fields {
        /// The line.
        line: usize,
    },
    /// An OID that is not dotted decimal.
    #[error("line {line}: invalid OID")]
    Oid {
        /// The line.
        line: usize,
    },
    /// A tag this format does not define.
    #[error("line {line}: unknown tag {tag:?}")]
    Tag {
        /// The line.
        line: usize,
        /// The tag.
        tag: String,
    },
    /// A value that does not fit its tag (or is longer than [`MAX_VALUE_BYTES`]).
    #[error("line {line}: value does not fit tag {tag}")]
    Value {
        /// The line.
        line: usize,
        /// The tag.
        tag: String,
    },
    /// The same OID twice.
    #[error("line {line}: OID repeated")]
    Duplicate {
        /// The line.
        line: usize,
    },
}

impl From<super::InvalidOid> for SnmprecError {
    fn from(_: super::InvalidOid) -> Self {
        Self::Oid { line: 0 }
    }
}

fn value(tag: &str, text: &str) -> Option<SnmpValue> {
    let (base, hex) = match tag.strip_suffix('x') {
        Some(base) => (base, true),
        None => (tag, false),
    };
    let bytes = || -> Option<Vec<u8>> {
        let b = if hex { hex::decode(text).ok()? } else { text.as_bytes().to_vec() };
        (b.len() <= MAX_VALUE_BYTES).then_some(b)
    };
    Some(match (base, hex) {
        ("4", _) => SnmpValue::OctetString(bytes()?),
        ("64", false) => SnmpValue::IpAddress(text.parse::<Ipv4Addr>().ok()?.octets()),
        ("64", true) => SnmpValue::IpAddress(<[u8; 4]>::try_from(bytes()?.as_slice()).ok()?),
        ("2", false) => SnmpValue::Integer(text.parse().ok()?),
        ("5", false) => SnmpValue::Null,
        ("6", false) => SnmpValue::ObjectId(text.parse().ok()?),
        ("65", false) => SnmpValue::Counter32(text.parse().ok()?),
        ("66", false) => SnmpValue::Gauge32(text.parse().ok()?),
        ("67", false) => SnmpValue::TimeTicks(text.parse().ok()?),
        ("70", false) => SnmpValue::Counter64(text.parse().ok()?),
        _ => return None,
    })
}

const KNOWN_TAGS: [&str; 11] = ["2", "4", "4x", "5", "6", "64", "64x", "65", "66", "67", "70"];

impl Bindings {
    /// Reads a capture. Empty lines and lines starting with `#` are skipped.
    pub fn from_snmprec(text: &str) -> Result<Self, SnmprecError> {
        if text.len() > MAX_SNMPREC_BYTES {
            return Err(SnmprecError::TooLarge);
        }
        let mut bindings = Self::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line = index.saturating_add(1);
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            if bindings.len() >= MAX_BINDINGS {
                return Err(SnmprecError::TooLarge);
            }
            let mut fields = raw.splitn(3, '|');
            let (Some(oid), Some(tag), Some(text)) = (fields.next(), fields.next(), fields.next()) else {
                return Err(SnmprecError::Fields { line });
            };
            let oid: Oid = oid.parse().map_err(|_| SnmprecError::Oid { line })?;
            if !KNOWN_TAGS.contains(&tag) {
                return Err(SnmprecError::Tag { line, tag: tag.chars().take(16).collect() });
            }
            let value = value(tag, text).ok_or_else(|| SnmprecError::Value { line, tag: tag.to_owned() })?;
            if bindings.insert(oid, value).is_some() {
                return Err(SnmprecError::Duplicate { line });
            }
        }
        Ok(bindings)
    }

    /// Writes the bindings as a capture, in OID order. Octet strings that are printable ASCII are
    /// written as text, others in hex, so that the capture reads back the same bytes.
    pub fn to_snmprec(&self) -> String {
        let mut out = String::new();
        for (oid, value) in self.iter() {
            let (tag, text) = match value {
                SnmpValue::Integer(v) => ("2", v.to_string()),
                SnmpValue::OctetString(b) if b.iter().all(|c| (0x20..=0x7e).contains(c)) => {
                    ("4", String::from_utf8_lossy(b).into_owned())
                }
                SnmpValue::OctetString(b) => ("4x", hex::encode_upper(b)),
                SnmpValue::ObjectId(o) => ("6", o.to_string()),
                SnmpValue::IpAddress(a) => ("64", Ipv4Addr::from(*a).to_string()),
                SnmpValue::Counter32(v) => ("65", v.to_string()),
                SnmpValue::Gauge32(v) => ("66", v.to_string()),
                SnmpValue::TimeTicks(v) => ("67", v.to_string()),
                SnmpValue::Counter64(v) => ("70", v.to_string()),
                SnmpValue::Null => ("5", String::new()),
            };
            out.push_str(&format!("{oid}|{tag}|{text}\n"));
        }
        out
    }
}

/// Reads arbitrary bytes as a capture and, if they read, checks that writing and reading again
/// gives the same bindings (the fuzz target's check; an `Err` is a bug).
#[doc(hidden)]
pub fn fuzz_roundtrip(data: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let Ok(bindings) = Bindings::from_snmprec(text) else {
        return Ok(());
    };
    match Bindings::from_snmprec(&bindings.to_snmprec()) {
        Ok(again) if again == bindings => Ok(()),
        Ok(_) => Err("bindings changed on a round trip".into()),
        Err(e) => Err(format!("our own output does not read: {e}")),
    }
}
