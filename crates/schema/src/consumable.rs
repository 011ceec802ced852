//! Consumables: toner, ink, drums, fusers, waste receptacles, ... (SDS consumable status data).

use alloc::string::String;
#[cfg(feature = "serde")]
use core::fmt;

use crate::Colour;
use crate::codes::{ConsumableStatus, SupplyClass, SupplyType, SupplyUnit};
use crate::ids::RecordId;
use crate::units::{PageCount, Timestamp};

/// One consumable and its current state.
///
/// Mirrors a `prtMarkerSuppliesEntry` (RFC 3805) joined with its colorant, plus what SDS adds:
/// part and serial numbers, status, page count and time of the reading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Consumable {
    /// Anonymous consumable record id, unique among the report's consumables.
    pub record_id: RecordId,
    /// What it is (toner, ink cartridge, drum, waste toner box, ...).
    pub kind: SupplyType,
    /// Whether it is used up ([`SupplyClass::SUPPLY_THAT_IS_CONSUMED`]) or fills up
    /// ([`SupplyClass::RECEPTACLE_THAT_IS_FILLED`]: its level is the space left).
    pub class: SupplyClass,
    /// Colorant, where it has one.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub colour: Option<Colour>,
    /// Free-text description, as the device gives it.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub description: Option<String>,
    /// Manufacturer's part number, when known.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub part_number: Option<String>,
    /// Serial number of the installed unit, when known.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub serial_number: Option<String>,
    /// Unit of `level` and `capacity`.
    pub unit: SupplyUnit,
    /// Current level (for a receptacle: space left).
    pub level: Level,
    /// Maximum level.
    pub capacity: Capacity,
    /// Status as the device reports it.
    pub status: ConsumableStatus,
    /// The device's total page count when this reading was taken.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub page_count: Option<PageCount>,
    /// When this reading was taken.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub observed_at: Option<Timestamp>,
}

impl Consumable {
    /// Whole percent of capacity still available, rounded down, where the data supports one.
    ///
    /// For a consumed supply this is the supply left; for a receptacle (waste toner, waste ink)
    /// it is the space left, so 0 means full. Returns:
    ///
    /// * `Some(level * 100 / capacity)` for a known level and a known, non-zero capacity;
    /// * `Some(level)` when the unit is [`SupplyUnit::PERCENT`] and the capacity is unknown or
    ///   100 (devices that report percent often leave the maximum at -2);
    /// * `None` for every special state: [`Level::SomeRemaining`] is not 50 % (one tool's
    ///   guess), [`Level::Unknown`] and [`Level::Unrestricted`] are not percentages, and neither
    ///   is a level over an unknown, unrestricted or zero capacity, or a level above capacity.
    ///
    /// ```
    /// use printfleet_schema::{Capacity, Consumable, Level};
    /// use printfleet_schema::codes::SupplyUnit;
    /// let mut toner = Consumable {
    ///     level: Level::Amount(1_500),
    ///     capacity: Capacity::Amount(6_000),
    ///     unit: SupplyUnit::IMPRESSIONS,
    ///     ..Default::default()
    /// };
    /// assert_eq!(toner.percent_remaining(), Some(25));
    /// toner.level = Level::SomeRemaining;
    /// assert_eq!(toner.percent_remaining(), None);
    /// ```
    pub fn percent_remaining(&self) -> Option<u8> {
        let Level::Amount(level) = self.level else {
            return None;
        };
        let percent = match self.capacity {
            Capacity::Amount(capacity) if self.unit != SupplyUnit::PERCENT => {
                // Both are u32, so level * 100 fits in u64; `None` for a zero capacity.
                (u64::from(level).saturating_mul(100).checked_div(u64::from(capacity))?, level <= capacity)
            }
            Capacity::Amount(100) | Capacity::Unknown if self.unit == SupplyUnit::PERCENT => {
                (u64::from(level), level <= 100)
            }
            _ => return None,
        };
        match percent {
            (p, true) => u8::try_from(p).ok(),
            (_, false) => None,
        }
    }

    /// Whether this is a receptacle that fills up (waste toner, waste ink).
    pub fn is_receptacle(&self) -> bool {
        self.class == SupplyClass::RECEPTACLE_THAT_IS_FILLED
    }
}

/// A consumable's current level: `prtMarkerSuppliesLevel` with its special values as states.
///
/// JSON form: a number for [`Level::Amount`], otherwise `"unrestricted"`, `"unknown"` or
/// `"some_remaining"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub enum Level {
    /// A measured level, in the consumable's unit (0 to 2 147 483 647, the MIB's range).
    Amount(#[cfg_attr(feature = "proptest", proptest(strategy = "0u32..=crate::limits::MAX_LEVEL"))] u32),
    /// MIB value -1: "other", no restriction on this supply.
    Unrestricted,
    /// MIB value -2: the level is unknown.
    #[default]
    Unknown,
    /// MIB value -3: some supply (or space) remains, amount unknown.
    SomeRemaining,
}

/// A consumable's maximum level: `prtMarkerSuppliesMaxCapacity` with its special values as states.
///
/// JSON form: a number for [`Capacity::Amount`], otherwise `"unrestricted"` or `"unknown"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub enum Capacity {
    /// A known maximum, in the consumable's unit (0 to 2 147 483 647).
    Amount(#[cfg_attr(feature = "proptest", proptest(strategy = "0u32..=crate::limits::MAX_LEVEL"))] u32),
    /// MIB value -1: no restriction.
    Unrestricted,
    /// MIB value -2: the maximum is unknown.
    #[default]
    Unknown,
}

impl Level {
    /// The MIB's encoding: the amount, or -1, -2, -3.
    pub fn to_mib(self) -> i64 {
        match self {
            Self::Amount(v) => i64::from(v),
            Self::Unrestricted => -1,
            Self::Unknown => -2,
            Self::SomeRemaining => -3,
        }
    }

    /// Decodes the MIB's encoding; `None` for values below -3 or above 2 147 483 647.
    pub fn from_mib(v: i64) -> Option<Self> {
        match v {
            -1 => Some(Self::Unrestricted),
            -2 => Some(Self::Unknown),
            -3 => Some(Self::SomeRemaining),
            v => u32::try_from(v).ok().filter(|v| *v <= crate::limits::MAX_LEVEL).map(Self::Amount),
        }
    }
}

impl Capacity {
    /// The MIB's encoding: the amount, or -1, -2.
    pub fn to_mib(self) -> i64 {
        match self {
            Self::Amount(v) => i64::from(v),
            Self::Unrestricted => -1,
            Self::Unknown => -2,
        }
    }

    /// Decodes the MIB's encoding; `None` for values below -2 or above 2 147 483 647.
    pub fn from_mib(v: i64) -> Option<Self> {
        match v {
            -1 => Some(Self::Unrestricted),
            -2 => Some(Self::Unknown),
            v => u32::try_from(v).ok().filter(|v| *v <= crate::limits::MAX_LEVEL).map(Self::Amount),
        }
    }
}

/// Serde for the two level enums: a number, or the name of a special state.
#[cfg(feature = "serde")]
macro_rules! level_serde {
    ($ty:ident, $expecting:literal, $($variant:ident => $name:literal),*) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    Self::Amount(v) => serializer.serialize_u32(*v),
                    $(Self::$variant => serializer.serialize_str($name),)*
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$ty, E> {
                        u32::try_from(v)
                            .ok()
                            .filter(|v| *v <= crate::limits::MAX_LEVEL)
                            .map($ty::Amount)
                            .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$ty, E> {
                        u64::try_from(v)
                            .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                            .and_then(|v| self.visit_u64(v))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        match v {
                            $($name => Ok($ty::$variant),)*
                            _ => Err(E::unknown_variant(v, &[$($name),*])),
                        }
                    }
                }
                deserializer.deserialize_any(Visitor)
            }
        }
    };
}

#[cfg(feature = "serde")]
level_serde!(Level, "a level from 0 to 2147483647 or \"unrestricted\", \"unknown\", \"some_remaining\"",
    Unrestricted => "unrestricted", Unknown => "unknown", SomeRemaining => "some_remaining");
#[cfg(feature = "serde")]
level_serde!(Capacity, "a capacity from 0 to 2147483647 or \"unrestricted\", \"unknown\"",
    Unrestricted => "unrestricted", Unknown => "unknown");

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::{format, prelude::rust_2024::*, vec};

    fn supply(level: Level, capacity: Capacity, unit: SupplyUnit) -> Consumable {
        Consumable { level, capacity, unit, ..Default::default() }
    }

    #[test]
    fn percent_remaining_only_where_the_data_supports_it() {
        let u = SupplyUnit::TENTHS_OF_MILLILITERS;
        assert_eq!(supply(Level::Amount(0), Capacity::Amount(300), u).percent_remaining(), Some(0));
        assert_eq!(supply(Level::Amount(299), Capacity::Amount(300), u).percent_remaining(), Some(99));
        assert_eq!(supply(Level::Amount(300), Capacity::Amount(300), u).percent_remaining(), Some(100));
        assert_eq!(supply(Level::Amount(301), Capacity::Amount(300), u).percent_remaining(), None);
        assert_eq!(supply(Level::Amount(5), Capacity::Amount(0), u).percent_remaining(), None);
        assert_eq!(supply(Level::Amount(5), Capacity::Unknown, u).percent_remaining(), None);
        assert_eq!(supply(Level::Amount(5), Capacity::Unrestricted, u).percent_remaining(), None);
        assert_eq!(supply(Level::SomeRemaining, Capacity::Amount(100), u).percent_remaining(), None);
        assert_eq!(supply(Level::Unknown, Capacity::Amount(100), u).percent_remaining(), None);
        assert_eq!(supply(Level::Unrestricted, Capacity::Amount(100), u).percent_remaining(), None);
        let max = crate::limits::MAX_LEVEL;
        assert_eq!(supply(Level::Amount(max), Capacity::Amount(max), u).percent_remaining(), Some(100));
    }

    #[test]
    fn percent_unit_with_unknown_maximum() {
        let p = SupplyUnit::PERCENT;
        assert_eq!(supply(Level::Amount(40), Capacity::Unknown, p).percent_remaining(), Some(40));
        assert_eq!(supply(Level::Amount(40), Capacity::Amount(100), p).percent_remaining(), Some(40));
        assert_eq!(supply(Level::Amount(140), Capacity::Unknown, p).percent_remaining(), None);
        assert_eq!(supply(Level::Amount(40), Capacity::Amount(200), p).percent_remaining(), None);
    }

    #[test]
    fn mib_special_values_are_states() {
        for v in [-3i64, -2, -1, 0, 1, 2_147_483_647] {
            assert_eq!(Level::from_mib(v).map(Level::to_mib), Some(v));
        }
        for v in [-2i64, -1, 0, 2_147_483_647] {
            assert_eq!(Capacity::from_mib(v).map(Capacity::to_mib), Some(v));
        }
        assert_eq!(Level::from_mib(-4), None);
        assert_eq!(Level::from_mib(2_147_483_648), None);
        assert_eq!(Capacity::from_mib(-3), None);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_levels_are_numbers_or_state_names() {
        assert_eq!(serde_json::to_string(&Level::Amount(7)).unwrap(), "7");
        assert_eq!(serde_json::to_string(&Level::SomeRemaining).unwrap(), "\"some_remaining\"");
        assert_eq!(serde_json::from_str::<Level>("\"unknown\"").unwrap(), Level::Unknown);
        assert_eq!(serde_json::from_str::<Capacity>("12").unwrap(), Capacity::Amount(12));
        assert!(serde_json::from_str::<Capacity>("\"some_remaining\"").is_err());
        assert!(serde_json::from_str::<Level>("-3").is_err(), "the MIB's magic numbers are not the JSON form");
        assert!(serde_json::from_str::<Level>("2147483648").is_err());
    }
}
