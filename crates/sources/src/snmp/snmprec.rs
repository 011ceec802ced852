//! The snmprec capture format of snmpsim (`OID|TAG|VALUE`, one binding per line), as LibreNMS'
//! test captures use it. Tags are the BER type numbers: 2 Integer32, 4 OCTET STRING, 5 NULL,
//! 6 OBJECT IDENTIFIER, 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 70 Counter64; a
//! trailing `x` (`4x`, `64x`) means the value is written in hex.

use std::net::Ipv4Addr;

use super::{Bindings, Oid, SnmpValue};
use crate::finding::{Finding, Findings, LineProblem};

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
    /// The same OID twice (with another value, when the capture is read tolerantly).
    #[error("line {line}: OID repeated")]
    Duplicate {
        /// The line.
        line: usize,
    },
    /// Bytes that are not UTF-8 where the format needs text (an OID, a tag, a number).
    #[error("line {line}: invalid UTF-8")]
    Utf8 {
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

/// Whether a line is an INTEGER (`2`) whose value is a whole number outside Integer32.
fn out_of_range_integer(tag: Option<&[u8]>, value: Option<&[u8]>) -> bool {
    let number = value.and_then(|v| std::str::from_utf8(v).ok()).and_then(|t| t.parse::<i128>().ok());
    tag == Some(b"2".as_slice()) && number.is_some_and(|n| i32::try_from(n).is_err())
}

const KNOWN_TAGS: [&str; 11] = ["2", "4", "4x", "5", "6", "64", "64x", "65", "66", "67", "70"];

/// Tags of lines that hold no value the mapping reads, read as no binding at all: Opaque (`68`,
/// `68x`), and the SNMPv2 exceptions noSuchObject, noSuchInstance and endOfMibView (`128`,
/// `129`, `130`), which snmpsim's grammar records where an agent answered with one. A live
/// poll treats the same answers as absent (`printfleet-lan`), so a capture and a poll of one
/// printer map alike.
const ABSENT_TAGS: [&str; 5] = ["68", "68x", "128", "129", "130"];

impl Bindings {
    /// Reads a capture. Empty lines and lines starting with `#` are skipped, and so are lines
    /// whose tag says there is no value (Opaque, noSuchObject, noSuchInstance, endOfMibView).
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
            if ABSENT_TAGS.contains(&tag) {
                continue;
            }
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

    /// Reads a capture tolerantly, from its bytes as they were stored: a line that cannot be
    /// read is skipped with a finding when its OID is outside `strict` (the tables a mapping
    /// reads), and refuses the capture when it is inside (or when it has no readable OID and
    /// `strict` covers everything, which it never does here: such a line is skipped), except an
    /// INTEGER beyond Integer32, which is skipped with a finding anywhere (a live poll reads it
    /// as absent). An
    /// identical repeated line is ignored with a finding. An OCTET STRING (`4`) value that is
    /// not UTF-8 is kept as its bytes (device text is Latin-1 more often than not) with a
    /// finding. Lines count from 1; the size and binding limits are those of
    /// [`Bindings::from_snmprec`].
    pub fn read_snmprec(bytes: &[u8], strict: impl Fn(&Oid) -> bool) -> Result<(Self, Vec<Finding>), SnmprecError> {
        if bytes.len() > MAX_SNMPREC_BYTES {
            return Err(SnmprecError::TooLarge);
        }
        let mut bindings = Self::new();
        let mut findings = Findings::default();
        // The line each OID was first read from, to tell an identical repeat from a conflict.
        let mut first_line: std::collections::BTreeMap<Oid, usize> = std::collections::BTreeMap::new();
        for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = index.saturating_add(1);
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.is_empty() || raw.starts_with(b"#") {
                continue;
            }
            if bindings.len() >= MAX_BINDINGS {
                return Err(SnmprecError::TooLarge);
            }
            let mut fields = raw.splitn(3, |b| *b == b'|');
            let (oid_field, tag_field, value_field) = (fields.next(), fields.next(), fields.next());
            let oid: Option<Oid> = oid_field.and_then(|f| std::str::from_utf8(f).ok()).and_then(|t| t.parse().ok());
            if oid.is_some() && tag_field.is_some_and(|t| ABSENT_TAGS.iter().any(|a| a.as_bytes() == t)) {
                continue;
            }
            let parsed: Result<(Oid, SnmpValue, bool), LineProblem> = (|| {
                let (Some(oid_field), Some(tag), Some(value_bytes)) = (oid_field, tag_field, value_field) else {
                    return Err(LineProblem::Fields);
                };
                let oid = match (std::str::from_utf8(oid_field), oid.clone()) {
                    (Err(_), _) => return Err(LineProblem::InvalidUtf8),
                    (Ok(_), None) => return Err(LineProblem::Oid),
                    (Ok(_), Some(oid)) => oid,
                };
                let tag = std::str::from_utf8(tag).map_err(|_| LineProblem::InvalidUtf8)?;
                if !KNOWN_TAGS.contains(&tag) {
                    return Err(LineProblem::Tag);
                }
                match std::str::from_utf8(value_bytes) {
                    Ok(text) => Ok((oid, value(tag, text).ok_or(LineProblem::Value)?, false)),
                    // Raw device bytes in a plain octet string: keep them as they are.
                    Err(_) if tag == "4" && value_bytes.len() <= MAX_VALUE_BYTES => {
                        Ok((oid, SnmpValue::OctetString(value_bytes.to_vec()), true))
                    }
                    Err(_) => Err(LineProblem::InvalidUtf8),
                }
            })();
            let refuse = |problem: LineProblem| match problem {
                LineProblem::Fields => SnmprecError::Fields { line },
                LineProblem::Oid => SnmprecError::Oid { line },
                LineProblem::Tag => SnmprecError::Tag { line, tag: String::new() },
                LineProblem::InvalidUtf8 => SnmprecError::Utf8 { line },
                LineProblem::ConflictingDuplicate => SnmprecError::Duplicate { line },
                _ => SnmprecError::Value { line, tag: String::new() },
            };
            match parsed {
                Ok((oid, value, repaired)) => {
                    if let Some(previous) = bindings.get(&oid) {
                        let first = first_line.get(&oid).copied().unwrap_or_default();
                        if *previous == value {
                            findings.push(Finding::DuplicateLine { line, first });
                        } else if strict(&oid) {
                            return Err(refuse(LineProblem::ConflictingDuplicate));
                        } else {
                            findings.push(Finding::LineSkipped { line, problem: LineProblem::ConflictingDuplicate });
                        }
                        continue;
                    }
                    if repaired {
                        findings.push(Finding::Latin1Repaired { line });
                    }
                    first_line.insert(oid.clone(), line);
                    bindings.insert(oid, value);
                }
                Err(problem) => match oid {
                    // An INTEGER beyond Integer32 (an agent's unsigned value recorded as one): a
                    // live poll reads it as absent, and so does this reader, with a finding.
                    Some(oid) if strict(&oid) && !out_of_range_integer(tag_field, value_field) => {
                        return Err(match refuse(problem) {
                            // Name the tag in the error, as the strict reader does.
                            SnmprecError::Tag { line, .. } | SnmprecError::Value { line, .. } => {
                                let tag = tag_field.map(|t| String::from_utf8_lossy(t).chars().take(16).collect());
                                if problem == LineProblem::Tag {
                                    SnmprecError::Tag { line, tag: tag.unwrap_or_default() }
                                } else {
                                    SnmprecError::Value { line, tag: tag.unwrap_or_default() }
                                }
                            }
                            e => e,
                        });
                    }
                    _ => findings.push(Finding::LineSkipped { line, problem }),
                },
            }
        }
        Ok((bindings, findings.into_vec()))
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
