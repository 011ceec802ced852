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

    /// The arcs after `prefix` (a table row's index), if `self` is below it.
    pub fn suffix(&self, prefix: &Oid) -> Option<&[u32]> {
        self.0.strip_prefix(prefix.0.as_slice())
    }
}

/// An OID that is not dotted decimal, has no or too many arcs, or an arc above `u32::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid object identifier")]
pub struct InvalidOid;

impl FromStr for Oid {
    type Err = InvalidOid;
    fn from_str(s: &str) -> Result<Self, InvalidOid> {
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
        Ok(Self(arcs))
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
