//! Meters: lifetime page counts by kind (SDS "page counts or meter readings").

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

use crate::Error;
use crate::codes::MeterCode;

/// What a meter counts: a standard kind ([`MeterCode`], an open code space) or a vendor meter.
///
/// Text form (Display, `FromStr`, JSON map keys): the standard kind's snake_case name (`total`),
/// its number for a code this version does not know (`9`), or `vendor:NAME`.
///
/// ```
/// use printfleet_schema::MeterKind;
/// let k: MeterKind = "vendor:hp.tonerCoverage".parse().unwrap();
/// assert_eq!(k.to_string(), "vendor:hp.tonerCoverage");
/// assert_eq!("duplex_sheets".parse::<MeterKind>().unwrap(), MeterKind::DUPLEX_SHEETS);
/// assert_eq!("900".parse::<MeterKind>().unwrap().to_string(), "900");
/// assert_eq!("12".parse::<MeterKind>().unwrap(), MeterKind::PRINT_MONO);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MeterKind {
    /// A standard meter, in the unit its code names.
    Standard(MeterCode),
    /// A vendor-specific meter, in the vendor's unit.
    Vendor(VendorMeter),
}

const VENDOR_PREFIX: &str = "vendor:";

impl MeterKind {
    /// All impressions printed.
    pub const TOTAL: Self = Self::Standard(MeterCode::TOTAL);
    /// Monochrome impressions.
    pub const MONO: Self = Self::Standard(MeterCode::MONO);
    /// Colour impressions.
    pub const COLOUR: Self = Self::Standard(MeterCode::COLOUR);
    /// Sheets printed on both sides, in sheets.
    pub const DUPLEX_SHEETS: Self = Self::Standard(MeterCode::DUPLEX_SHEETS);
    /// Images scanned, copies excluded.
    pub const SCANS: Self = Self::Standard(MeterCode::SCANS);
    /// Impressions copied.
    pub const COPIES: Self = Self::Standard(MeterCode::COPIES);
    /// Impressions faxed, sent and received.
    pub const FAX: Self = Self::Standard(MeterCode::FAX);
    /// Highlight-colour impressions.
    pub const HIGHLIGHT_COLOUR: Self = Self::Standard(MeterCode::HIGHLIGHT_COLOUR);
    /// Impressions on two-sided sheets.
    pub const TWO_SIDED: Self = Self::Standard(MeterCode::TWO_SIDED);
    /// Sheets used, in sheets.
    pub const SHEETS: Self = Self::Standard(MeterCode::SHEETS);
    /// Print-service impressions.
    pub const PRINT: Self = Self::Standard(MeterCode::PRINT);
    /// Monochrome print impressions.
    pub const PRINT_MONO: Self = Self::Standard(MeterCode::PRINT_MONO);
    /// Highlight-colour print impressions.
    pub const PRINT_HIGHLIGHT_COLOUR: Self = Self::Standard(MeterCode::PRINT_HIGHLIGHT_COLOUR);
    /// Full-colour print impressions.
    pub const PRINT_COLOUR: Self = Self::Standard(MeterCode::PRINT_COLOUR);
    /// Print impressions on two-sided sheets.
    pub const PRINT_TWO_SIDED: Self = Self::Standard(MeterCode::PRINT_TWO_SIDED);
    /// Monochrome copy impressions.
    pub const COPY_MONO: Self = Self::Standard(MeterCode::COPY_MONO);
    /// Highlight-colour copy impressions.
    pub const COPY_HIGHLIGHT_COLOUR: Self = Self::Standard(MeterCode::COPY_HIGHLIGHT_COLOUR);
    /// Full-colour copy impressions.
    pub const COPY_COLOUR: Self = Self::Standard(MeterCode::COPY_COLOUR);
    /// Copy impressions on two-sided sheets.
    pub const COPY_TWO_SIDED: Self = Self::Standard(MeterCode::COPY_TWO_SIDED);
    /// Impressions printed from faxes received.
    pub const FAX_IN: Self = Self::Standard(MeterCode::FAX_IN);
    /// Images sent by fax.
    pub const FAX_OUT: Self = Self::Standard(MeterCode::FAX_OUT);
    /// Images scanned in monochrome.
    pub const SCAN_MONO: Self = Self::Standard(MeterCode::SCAN_MONO);
    /// Images scanned in full colour.
    pub const SCAN_COLOUR: Self = Self::Standard(MeterCode::SCAN_COLOUR);
    /// Area of media marked, in square millimetres.
    pub const AREA_MM2: Self = Self::Standard(MeterCode::AREA_MM2);
    /// Length of roll media used, in millimetres.
    pub const LENGTH_MM: Self = Self::Standard(MeterCode::LENGTH_MM);
}

impl fmt::Display for MeterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Standard(code) => fmt::Display::fmt(code, f),
            Self::Vendor(name) => write!(f, "{VENDOR_PREFIX}{}", name.as_str()),
        }
    }
}

impl FromStr for MeterKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if let Some(name) = s.strip_prefix(VENDOR_PREFIX) {
            return VendorMeter::new(name).map(Self::Vendor);
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            // Canonical decimal only ("007" would not print back the same).
            return match s.parse::<u32>() {
                Ok(code) if !s.starts_with('0') || s == "0" => Ok(Self::Standard(MeterCode::from_code(code))),
                _ => Err(Error::InvalidMeterName),
            };
        }
        MeterCode::from_name(s).map(Self::Standard).ok_or(Error::InvalidMeterName)
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
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok { Ok(Self(name.into())) } else { Err(Error::InvalidMeterName) }
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
            3 => any::<MeterCode>().prop_map(MeterKind::Standard),
            1 => "[A-Za-z0-9._-]{1,20}".prop_map(|n| MeterKind::Vendor(VendorMeter(n))),
        ]
        .boxed()
    }
}

/// Lifetime meter readings, one value per kind, in the kind's unit.
///
/// JSON form: an object, `{"total": 1234, "mono": 1000, "vendor:hp.cleanings": 7}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Meters(
    /// The readings.
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::meters"))]
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
        assert_eq!(VendorMeter::new(&"x".repeat(65)), Err(Error::InvalidMeterName));
        assert_eq!("vendor:".parse::<MeterKind>(), Err(Error::InvalidMeterName));
        assert_eq!("Total".parse::<MeterKind>(), Err(Error::InvalidMeterName));
    }

    #[test]
    fn text_form_round_trips() {
        for code in MeterCode::KNOWN {
            let kind = MeterKind::Standard(*code);
            assert_eq!(kind.to_string().parse::<MeterKind>().as_ref(), Ok(&kind));
        }
        assert_eq!("total".parse::<MeterKind>(), Ok(MeterKind::TOTAL));
        assert_eq!("40".parse::<MeterKind>(), Ok(MeterKind::Standard(MeterCode::from_code(40))));
        assert_eq!(MeterKind::Standard(MeterCode::from_code(40)).to_string(), "40");
        assert_eq!("1".parse::<MeterKind>(), Ok(MeterKind::TOTAL), "a known code in numeric form is the same kind");
        assert_eq!("0".parse::<MeterKind>(), Ok(MeterKind::Standard(MeterCode::from_code(0))));
        for bad in ["007", "4294967296", "", "vendor:", "Total", "-1"] {
            assert_eq!(bad.parse::<MeterKind>(), Err(Error::InvalidMeterName), "{bad:?}");
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_is_an_object_keyed_by_kind() {
        let m: Meters =
            [(MeterKind::TOTAL, 10), (MeterKind::Vendor(VendorMeter::new("x.y").unwrap()), 3)].into_iter().collect();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"total":10,"vendor:x.y":3}"#);
        assert_eq!(serde_json::from_str::<Meters>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Meters>(r#"{"vendor:bad name":1}"#).is_err());
    }
}
