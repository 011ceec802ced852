//! Meters: lifetime page counts by kind (SDS "page counts or meter readings").

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

use crate::Error;

/// What a meter counts. Each kind has one unit, given below.
///
/// Text form (Display, `FromStr`, JSON map keys): the snake_case name, or `vendor:NAME`.
///
/// ```
/// use printfleet_schema::MeterKind;
/// let k: MeterKind = "vendor:hp.tonerCoverage".parse().unwrap();
/// assert_eq!(k.to_string(), "vendor:hp.tonerCoverage");
/// assert_eq!("duplex_sheets".parse::<MeterKind>().unwrap(), MeterKind::DuplexSheets);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MeterKind {
    /// All impressions printed (wire code 1).
    Total,
    /// Monochrome impressions (wire code 2).
    Mono,
    /// Colour impressions (wire code 3).
    Colour,
    /// Sheets printed on both sides, in sheets (wire code 4).
    DuplexSheets,
    /// Images scanned, copies excluded (wire code 5).
    Scans,
    /// Impressions copied (wire code 6).
    Copies,
    /// Impressions faxed, sent and received (wire code 7).
    Fax,
    /// A vendor-specific meter, in the vendor's unit (wire code 0, name beside it).
    Vendor(VendorMeter),
}

const STANDARD: [(MeterKind, u32, &str); 7] = [
    (MeterKind::Total, 1, "total"),
    (MeterKind::Mono, 2, "mono"),
    (MeterKind::Colour, 3, "colour"),
    (MeterKind::DuplexSheets, 4, "duplex_sheets"),
    (MeterKind::Scans, 5, "scans"),
    (MeterKind::Copies, 6, "copies"),
    (MeterKind::Fax, 7, "fax"),
];

const VENDOR_PREFIX: &str = "vendor:";

impl MeterKind {
    /// The wire code: 1 to 7 for standard kinds, 0 for [`MeterKind::Vendor`].
    pub fn code(&self) -> u32 {
        STANDARD
            .iter()
            .find(|(k, ..)| k == self)
            .map_or(0, |(_, c, _)| *c)
    }

    /// The standard kind with this wire code.
    pub fn from_code(code: u32) -> Option<Self> {
        STANDARD
            .iter()
            .find(|(_, c, _)| *c == code)
            .map(|(k, ..)| k.clone())
    }
}

impl fmt::Display for MeterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vendor(name) => write!(f, "{VENDOR_PREFIX}{}", name.as_str()),
            standard => f.write_str(
                STANDARD
                    .iter()
                    .find(|(k, ..)| k == standard)
                    .map_or("", |(.., n)| n),
            ),
        }
    }
}

impl FromStr for MeterKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if let Some(name) = s.strip_prefix(VENDOR_PREFIX) {
            return VendorMeter::new(name).map(Self::Vendor);
        }
        STANDARD
            .iter()
            .find(|(.., n)| *n == s)
            .map(|(k, ..)| k.clone())
            .ok_or(Error::InvalidMeterName)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for MeterKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for MeterKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = MeterKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a meter kind such as \"total\" or \"vendor:NAME\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MeterKind, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// The name of a vendor-specific meter: 1 to [`VendorMeter::MAX_LEN`] characters from
/// `[A-Za-z0-9._-]`, so that it is safe as a JSON key, an XML attribute and a CSV column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VendorMeter(String);

impl VendorMeter {
    /// Longest accepted name, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Checks and wraps a name.
    pub fn new(name: &str) -> Result<Self, Error> {
        let ok = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(name.into()))
        } else {
            Err(Error::InvalidMeterName)
        }
    }

    /// Wraps a name known to be valid (a literal in this crate); checked in debug builds.
    #[cfg(feature = "samples")]
    pub(crate) fn new_unchecked(name: &str) -> Self {
        debug_assert!(Self::new(name).is_ok(), "{name}");
        Self(name.into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for MeterKind {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        prop_oneof![
            3 => proptest::sample::select(STANDARD.iter().map(|(k, ..)| k.clone()).collect::<alloc::vec::Vec<_>>()),
            1 => "[A-Za-z0-9._-]{1,20}".prop_map(|n| MeterKind::Vendor(VendorMeter(n))),
        ]
        .boxed()
    }
}

/// Lifetime meter readings, one value per kind, in the kind's unit.
///
/// JSON form: an object, `{"total": 1234, "mono": 1000, "vendor:hp.cleanings": 7}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Meters(
    /// The readings.
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "proptest::collection::btree_map(proptest::arbitrary::any::<MeterKind>(), proptest::arbitrary::any::<u64>(), 0..6)"
        )
    )]
    pub BTreeMap<MeterKind, u64>,
);

impl Meters {
    /// The reading for `kind`, if the device reported one.
    pub fn get(&self, kind: &MeterKind) -> Option<u64> {
        self.0.get(kind).copied()
    }

    /// Sets the reading for `kind`, returning the previous one.
    pub fn set(&mut self, kind: MeterKind, value: u64) -> Option<u64> {
        self.0.insert(kind, value)
    }

    /// The number of readings.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no reading.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(MeterKind, u64)> for Meters {
    fn from_iter<I: IntoIterator<Item = (MeterKind, u64)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::{format, prelude::rust_2024::*, vec};

    #[test]
    fn vendor_names_are_restricted() {
        assert!(VendorMeter::new("hp.cleanings-2_x").is_ok());
        assert_eq!(VendorMeter::new(""), Err(Error::InvalidMeterName));
        assert_eq!(VendorMeter::new("a b"), Err(Error::InvalidMeterName));
        assert_eq!(
            VendorMeter::new(&"x".repeat(65)),
            Err(Error::InvalidMeterName)
        );
        assert_eq!("vendor:".parse::<MeterKind>(), Err(Error::InvalidMeterName));
        assert_eq!("Total".parse::<MeterKind>(), Err(Error::InvalidMeterName));
    }

    #[test]
    fn codes_and_names_agree() {
        for (kind, code, name) in &STANDARD {
            assert_eq!(kind.code(), *code);
            assert_eq!(MeterKind::from_code(*code).as_ref(), Some(kind));
            assert_eq!(kind.to_string(), *name);
            assert_eq!(name.parse::<MeterKind>().as_ref(), Ok(kind));
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_is_an_object_keyed_by_kind() {
        let m: Meters = [
            (MeterKind::Total, 10),
            (MeterKind::Vendor(VendorMeter::new("x.y").unwrap()), 3),
        ]
        .into_iter()
        .collect();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"total":10,"vendor:x.y":3}"#);
        assert_eq!(serde_json::from_str::<Meters>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Meters>(r#"{"vendor:bad name":1}"#).is_err());
    }
}
