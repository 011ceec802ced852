//! Exact quantities: integers in one documented unit each, behind newtypes.
//!
//! Anything that can be billed is an integer. Each type names its unit in its name, so that a
//! millimetre can never be added to a micrometre by accident:
//!
//! | type | unit | why this unit |
//! |---|---|---|
//! | [`AreaMm2`] | square millimetre | large-format usage is billed per m² with mm² precision |
//! | [`LengthUm`] | micrometre | roll widths are in inches (36 in = 914 400 µm exactly) |
//! | [`InkNl`] | nanolitre | printers report ink in mL with three decimals or better |
//! | [`DurationMs`] | millisecond | print times |
//! | [`PageCount`] | impression (one side of a sheet) | page meters |
//! | [`BasisPoints`] | 1/10 000 (0.01 %) | coverage and health, fixed-point |
//! | [`Timestamp`] | millisecond since 1970-01-01T00:00:00Z | UTC event times |
//!
//! ```
//! use printfleet_schema::units::{AreaMm2, BasisPoints, LengthUm};
//!
//! // A 36-inch roll is exactly 914.4 mm wide.
//! assert_eq!(LengthUm::from_inches_ten_thousandths(360_000), Some(LengthUm(914_400)));
//! // One square metre.
//! assert_eq!(AreaMm2::from_m2(1), Some(AreaMm2(1_000_000)));
//! // 12.5 % coverage.
//! let c = BasisPoints::new(1_250).unwrap();
//! assert_eq!(c.get(), 1_250);
//! assert!(BasisPoints::new(10_001).is_err());
//! ```

use crate::Error;

macro_rules! quantity {
    ($(#[$meta:meta])* $name:ident, $unit:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
        #[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
        pub struct $name(
            #[doc = concat!("The quantity in ", $unit, ".")]
            pub u64,
        );

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);

            /// The sum, or `None` on overflow.
            pub const fn checked_add(self, other: Self) -> Option<Self> {
                match self.0.checked_add(other.0) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            /// The difference, or `None` if `other` is larger.
            pub const fn checked_sub(self, other: Self) -> Option<Self> {
                match self.0.checked_sub(other.0) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }
        }

        impl core::iter::Sum for $name {
            /// Sums, saturating at `u64::MAX` rather than wrapping. Use
            /// [`checked_add`](Self::checked_add) where an overflow must be seen.
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                Self(iter.fold(0u64, |acc, v| acc.saturating_add(v.0)))
            }
        }
    };
}

quantity!(
    /// An area in square millimetres (1 m² = 1 000 000 mm²).
    AreaMm2,
    "square millimetres"
);
quantity!(
    /// A length in micrometres (1 mm = 1 000 µm; 1 in = 25 400 µm exactly).
    LengthUm,
    "micrometres"
);
quantity!(
    /// A volume of ink in nanolitres (1 mL = 1 000 000 nL).
    InkNl,
    "nanolitres"
);
quantity!(
    /// A duration in milliseconds.
    DurationMs,
    "milliseconds"
);
quantity!(
    /// A count of impressions: one side of one sheet, printed, scanned or copied.
    PageCount,
    "impressions"
);

impl AreaMm2 {
    /// `m2` square metres, or `None` on overflow.
    pub const fn from_m2(m2: u64) -> Option<Self> {
        match m2.checked_mul(1_000_000) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }
}

impl LengthUm {
    /// `mm` millimetres, or `None` on overflow.
    pub const fn from_mm(mm: u64) -> Option<Self> {
        match mm.checked_mul(1_000) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// A length given in ten-thousandths of an inch (the Printer-MIB's
    /// `tenThousandthsOfInches` unit), which converts to micrometres exactly
    /// (1/10 000 in = 2.54 µm, so only multiples of 50 are exact; others round down).
    pub const fn from_inches_ten_thousandths(v: u64) -> Option<Self> {
        match v.checked_mul(254) {
            Some(v) => Some(Self(v / 100)),
            None => None,
        }
    }
}

impl InkNl {
    /// `ml` millilitres, or `None` on overflow.
    pub const fn from_ml(ml: u64) -> Option<Self> {
        match ml.checked_mul(1_000_000) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }
}

/// A fixed-point proportion in basis points: 0 is 0 %, 10 000 is 100 %.
///
/// Used for pixel coverage and printhead health. Construction rejects values above 100 %.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u16", into = "u16"))]
pub struct BasisPoints(u16);

impl BasisPoints {
    /// 0 %.
    pub const ZERO: Self = Self(0);
    /// 100 %.
    pub const FULL: Self = Self(10_000);

    /// `bp` basis points; an error above 10 000 (100 %).
    pub const fn new(bp: u16) -> Result<Self, Error> {
        if bp <= Self::FULL.0 { Ok(Self(bp)) } else { Err(Error::BasisPointsOutOfRange { value: bp }) }
    }

    /// Whole percent (0 to 100); an error above 100.
    pub const fn from_percent(percent: u8) -> Result<Self, Error> {
        if percent <= 100 {
            // At most 100 * 100: the saturation never happens.
            Ok(Self((percent as u16).saturating_mul(100)))
        } else {
            Err(Error::BasisPointsOutOfRange { value: percent as u16 })
        }
    }

    /// The value in basis points (0 to 10 000).
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for BasisPoints {
    type Error = Error;
    fn try_from(bp: u16) -> Result<Self, Error> {
        Self::new(bp)
    }
}

impl From<BasisPoints> for u16 {
    fn from(bp: BasisPoints) -> u16 {
        bp.0
    }
}

/// A UTC instant at millisecond precision: milliseconds since 1970-01-01T00:00:00Z.
///
/// The range is 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z (RFC 3339's range from the
/// epoch on); construction rejects anything later. Printers whose clock was never set report
/// 1970: that is a valid, if suspicious, timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u64", into = "u64"))]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00.000Z.
    pub const UNIX_EPOCH: Self = Self(0);
    /// 9999-12-31T23:59:59.999Z, the latest representable instant.
    pub const MAX: Self = Self(253_402_300_799_999);

    /// The instant `ms` milliseconds after the epoch; an error past [`Timestamp::MAX`].
    pub const fn from_unix_millis(ms: u64) -> Result<Self, Error> {
        if ms <= Self::MAX.0 { Ok(Self(ms)) } else { Err(Error::TimestampOutOfRange { millis: ms }) }
    }

    /// Milliseconds since the epoch.
    pub const fn unix_millis(self) -> u64 {
        self.0
    }

    /// The instant `ms` milliseconds later, or `None` past [`Timestamp::MAX`].
    pub const fn checked_add(self, ms: DurationMs) -> Option<Self> {
        match self.0.checked_add(ms.0) {
            Some(v) if v <= Self::MAX.0 => Some(Self(v)),
            _ => None,
        }
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub const fn duration_since(self, earlier: Self) -> Option<DurationMs> {
        match self.0.checked_sub(earlier.0) {
            Some(v) => Some(DurationMs(v)),
            None => None,
        }
    }
}

impl TryFrom<u64> for Timestamp {
    type Error = Error;
    fn try_from(ms: u64) -> Result<Self, Error> {
        Self::from_unix_millis(ms)
    }
}

impl From<Timestamp> for u64 {
    fn from(t: Timestamp) -> u64 {
        t.0
    }
}

#[cfg(feature = "std")]
impl TryFrom<std::time::SystemTime> for Timestamp {
    type Error = Error;
    /// Converts a time the caller read from a clock (this crate never reads one); an error
    /// before 1970 or after 9999, truncating to the millisecond.
    fn try_from(t: std::time::SystemTime) -> Result<Self, Error> {
        let since = t.duration_since(std::time::UNIX_EPOCH).map_err(|_| Error::TimestampOutOfRange { millis: 0 })?;
        let ms = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
        Self::from_unix_millis(ms)
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for BasisPoints {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        (0..=Self::FULL.0).prop_map(Self).boxed()
    }
}

#[cfg(feature = "proptest")]
impl proptest::arbitrary::Arbitrary for Timestamp {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        prop_oneof![
            // Mostly this century, sometimes the edges.
            8 => (946_684_800_000u64..4_102_444_800_000).prop_map(Self),
            1 => Just(Self::UNIX_EPOCH),
            1 => Just(Self::MAX),
        ]
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::{format, prelude::rust_2024::*, vec};

    #[test]
    fn timestamp_range_is_enforced() {
        assert_eq!(Timestamp::from_unix_millis(0), Ok(Timestamp::UNIX_EPOCH));
        assert_eq!(Timestamp::from_unix_millis(253_402_300_799_999), Ok(Timestamp::MAX));
        assert_eq!(
            Timestamp::from_unix_millis(253_402_300_800_000),
            Err(Error::TimestampOutOfRange { millis: 253_402_300_800_000 })
        );
        assert_eq!(Timestamp::MAX.checked_add(DurationMs(1)), None);
        assert_eq!(Timestamp::UNIX_EPOCH.checked_add(DurationMs(5)).map(Timestamp::unix_millis), Some(5));
        let a = Timestamp::from_unix_millis(10).unwrap();
        let b = Timestamp::from_unix_millis(25).unwrap();
        assert_eq!(b.duration_since(a), Some(DurationMs(15)));
        assert_eq!(a.duration_since(b), None);
    }

    #[test]
    fn basis_points_reject_more_than_full() {
        assert_eq!(BasisPoints::new(10_000), Ok(BasisPoints::FULL));
        assert_eq!(BasisPoints::new(10_001), Err(Error::BasisPointsOutOfRange { value: 10_001 }));
        assert_eq!(BasisPoints::from_percent(100), Ok(BasisPoints::FULL));
        assert_eq!(BasisPoints::from_percent(7).map(BasisPoints::get), Ok(700));
        assert!(BasisPoints::from_percent(101).is_err());
    }

    #[test]
    fn unit_conversions_are_exact_and_checked() {
        assert_eq!(LengthUm::from_mm(3), Some(LengthUm(3_000)));
        assert_eq!(LengthUm::from_inches_ten_thousandths(10_000), Some(LengthUm(25_400)));
        assert_eq!(LengthUm::from_inches_ten_thousandths(u64::MAX), None);
        assert_eq!(InkNl::from_ml(2), Some(InkNl(2_000_000)));
        assert_eq!(AreaMm2::from_m2(u64::MAX), None);
        assert_eq!(AreaMm2(5).checked_add(AreaMm2(u64::MAX)), None);
        assert_eq!(AreaMm2(5).checked_sub(AreaMm2(6)), None);
        assert_eq!(AreaMm2(5).checked_sub(AreaMm2(2)), Some(AreaMm2(3)));
        assert_eq!([PageCount(u64::MAX), PageCount(1)].into_iter().sum::<PageCount>(), PageCount(u64::MAX));
        assert_eq!([InkNl(2), InkNl(3)].into_iter().sum::<InkNl>(), InkNl(5));
    }

    #[cfg(feature = "std")]
    #[test]
    fn system_time_converts_at_millisecond_precision() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_500_999);
        assert_eq!(Timestamp::try_from(t).map(Timestamp::unix_millis), Ok(1_500));
        let before = std::time::UNIX_EPOCH - std::time::Duration::from_secs(1);
        assert!(Timestamp::try_from(before).is_err());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_rejects_out_of_range_values() {
        assert!(serde_json::from_str::<Timestamp>("253402300800000").is_err());
        assert!(serde_json::from_str::<BasisPoints>("10001").is_err());
        assert_eq!(serde_json::from_str::<BasisPoints>("42").unwrap().get(), 42);
        assert_eq!(serde_json::to_string(&AreaMm2(7)).unwrap(), "7");
    }
}
