//! SNMP: object identifiers, typed values, and the bindings of a walk.

pub mod printer_mib;
mod snmprec;
pub mod vendor;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub use snmprec::{MAX_BINDINGS, MAX_SNMPREC_BYTES, MAX_VALUE_BYTES, SnmprecError, fuzz_roundtrip};

/// Most sub-identifiers in an OID (RFC 2578 §3.5 allows 128).
pub const MAX_OID_ARCS: usize = 128;

/// An object identifier, such as `1.3.6.1.2.1.43.11.1.1.9.1.1` (prtMarkerSuppliesLevel.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(pub(crate) Vec<u32>);

impl Oid {
    /// The sub-identifiers.
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// Whether `self` is `prefix` or below it.
    pub fn starts_with(&self, prefix: &Oid) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// `text` (dotted decimal, as [`FromStr`] takes it) followed by the arcs of `index` (a table
    /// column and a row's index): one allocation, one pass over the text. The mappings look up
    /// every table cell this way.
    pub fn parse_with(text: &str, index: &[u32]) -> Result<Self, InvalidOid> {
        let text = text.strip_prefix('.').unwrap_or(text).as_bytes();
        let dots = text.iter().filter(|b| **b == b'.').count();
        if text.is_empty() || dots >= MAX_OID_ARCS {
            return Err(InvalidOid);
        }
        let mut arcs = Vec::with_capacity(dots.saturating_add(1).saturating_add(index.len()));
        let (mut arc, mut digits) = (0u32, 0usize);
        for &b in text {
            if b == b'.' {
                if digits == 0 {
                    return Err(InvalidOid);
                }
                arcs.push(arc);
                (arc, digits) = (0, 0);
            } else if b.is_ascii_digit() {
                arc = arc
                    .checked_mul(10)
                    .and_then(|a| a.checked_add(u32::from(b.wrapping_sub(b'0'))))
                    .ok_or(InvalidOid)?;
                digits = digits.saturating_add(1);
            } else {
                return Err(InvalidOid);
            }
        }
        if digits == 0 {
            return Err(InvalidOid);
        }
        arcs.push(arc);
        arcs.extend_from_slice(index);
        Ok(Self(arcs))
    }

    /// The arcs after `prefix` (a table row's index), if `self` is below it.
    pub fn suffix(&self, prefix: &Oid) -> Option<&[u32]> {
        self.0.strip_prefix(prefix.0.as_slice())
    }
}

/// An OID literal of the mappings (the empty OID, which names nothing, if it does not parse).
pub(crate) fn oid(text: &str) -> Oid {
    text.parse().unwrap_or_default()
}

/// An OID that is not dotted decimal, has no or too many arcs, or an arc above `u32::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid object identifier")]
pub struct InvalidOid;

impl FromStr for Oid {
    type Err = InvalidOid;
    fn from_str(s: &str) -> Result<Self, InvalidOid> {
        Self::parse_with(s, &[])
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

/// An SNMP value, as SMIv2 (RFC 2578) types it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnmpValue {
    /// INTEGER / Integer32.
    Integer(i32),
    /// OCTET STRING: bytes, not necessarily text (printers put NUL bytes and Latin-1 in them).
    OctetString(Vec<u8>),
    /// OBJECT IDENTIFIER.
    ObjectId(Oid),
    /// IpAddress.
    IpAddress([u8; 4]),
    /// Counter32.
    Counter32(u32),
    /// Gauge32 / Unsigned32.
    Gauge32(u32),
    /// TimeTicks (hundredths of a second).
    TimeTicks(u32),
    /// Counter64.
    Counter64(u64),
    /// NULL.
    Null,
}

impl SnmpValue {
    /// The value as an unsigned integer, for any integer type that holds one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Integer(v) => u64::try_from(*v).ok(),
            Self::Counter32(v) | Self::Gauge32(v) | Self::TimeTicks(v) => Some(u64::from(*v)),
            Self::Counter64(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a signed Integer32 (where the Printer-MIB's -1/-2/-3 live).
    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Self::Integer(v) => Some(*v),
            _ => None,
        }
    }

    /// The bytes of an OCTET STRING.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::OctetString(b) => Some(b),
            _ => None,
        }
    }
}

/// The bindings of an SNMP walk, in OID order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bindings(BTreeMap<Oid, SnmpValue>);

impl Bindings {
    /// No bindings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value at `oid`.
    pub fn get(&self, oid: &Oid) -> Option<&SnmpValue> {
        self.0.get(oid)
    }

    /// Sets the value at `oid`, returning the previous one.
    pub fn insert(&mut self, oid: Oid, value: SnmpValue) -> Option<SnmpValue> {
        self.0.insert(oid, value)
    }

    /// Every binding at or below `prefix`, in OID order (an SNMP walk of that subtree).
    pub fn walk<'a>(&'a self, prefix: &'a Oid) -> impl Iterator<Item = (&'a Oid, &'a SnmpValue)> + 'a {
        self.0.range(prefix.clone()..).take_while(move |(oid, _)| oid.starts_with(prefix))
    }

    /// The number of bindings.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every binding, in OID order.
    pub fn iter(&self) -> impl Iterator<Item = (&Oid, &SnmpValue)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The parse the fast one replaced: split on dots, each part digits only, as a `u32`.
    fn by_split(s: &str) -> Result<Oid, InvalidOid> {
        let s = s.strip_prefix('.').unwrap_or(s);
        if s.is_empty() {
            return Err(InvalidOid);
        }
        let mut arcs = Vec::new();
        for part in s.split('.') {
            if arcs.len() >= MAX_OID_ARCS || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidOid);
            }
            arcs.push(part.parse().map_err(|_| InvalidOid)?);
        }
        Ok(Oid(arcs))
    }

    #[test]
    fn edge_cases_parse_as_by_splitting() {
        let long = vec!["1"; MAX_OID_ARCS].join(".");
        let too_long = vec!["1"; MAX_OID_ARCS + 1].join(".");
        for s in [
            "",
            ".",
            "..",
            "1",
            ".1",
            "1.",
            "1..2",
            "01.002",
            "4294967295",
            "4294967296",
            "99999999999",
            "1.3.6.1.2.1",
            ".1.3.6",
            "1.-3",
            "1.3a",
            " 1",
            "1.3.6.1.2.1.43.11.1.1.9.1.1",
            &long,
            &too_long,
        ] {
            assert_eq!(s.parse::<Oid>(), by_split(s), "{s:?}");
        }
        assert_eq!(Oid::parse_with("1.3.6", &[1, 2]), Ok(Oid(vec![1, 3, 6, 1, 2])));
    }

    proptest! {
        #[test]
        fn any_text_parses_as_by_splitting(s in "[.0-9a]{0,40}|[.0-9]{0,300}") {
            prop_assert_eq!(s.parse::<Oid>(), by_split(&s));
        }
    }
}
