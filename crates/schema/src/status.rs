//! Device status: engine state, Host Resources states and detected error conditions.

use core::fmt;

use crate::codes::{DeviceState, EngineStatus, PrinterState};

/// The device's overall status (SDS device status, Partner Link "print engine status").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct DeviceStatus {
    /// Print engine status.
    pub engine: EngineStatus,
    /// `hrDeviceStatus` (RFC 2790) or its equivalent.
    pub device: DeviceState,
    /// `hrPrinterStatus` (RFC 2790) or its equivalent.
    pub printer: PrinterState,
    /// `hrPrinterDetectedErrorState` (RFC 2790, extended by RFC 3805) or its equivalent.
    pub errors: DetectedErrors,
}

/// The set of error conditions a printer detected: `hrPrinterDetectedErrorState`.
///
/// RFC 2790 §6 defines bits 0 to 7 and RFC 3805 bits 8 to 14; bit 0 is the most significant bit
/// of the first octet. Here bit *n* is stored as `1 << n`; [`from_octets`](Self::from_octets)
/// and [`to_octets`](Self::to_octets) convert from and to the MIB's octet order. Bit 15 (not
/// yet assigned) is kept if a device sets it.
///
/// JSON form: an array of names in bit order, `"bit_15"` for the unassigned bit.
///
/// ```
/// use printfleet_schema::DetectedErrors;
/// // A capture's hrPrinterDetectedErrorState of 0x0480: bit 5 (jammed) and bit 8.
/// let e = DetectedErrors::from_octets(&[0x04, 0x80]);
/// assert!(e.contains(DetectedErrors::JAMMED));
/// assert!(e.contains(DetectedErrors::INPUT_TRAY_MISSING));
/// assert_eq!(e.to_octets(), [0x04, 0x80]);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct DetectedErrors(u16);

const ERROR_NAMES: [&str; 16] = [
    "low_paper",
    "no_paper",
    "low_toner",
    "no_toner",
    "door_open",
    "jammed",
    "offline",
    "service_requested",
    "input_tray_missing",
    "output_tray_missing",
    "marker_supply_missing",
    "output_near_full",
    "output_full",
    "input_tray_empty",
    "overdue_prevent_maint",
    "bit_15",
];

impl DetectedErrors {
    /// No condition.
    pub const NONE: Self = Self(0);
    /// Bit 0, `lowPaper`.
    pub const LOW_PAPER: Self = Self(1 << 0);
    /// Bit 1, `noPaper`.
    pub const NO_PAPER: Self = Self(1 << 1);
    /// Bit 2, `lowToner`.
    pub const LOW_TONER: Self = Self(1 << 2);
    /// Bit 3, `noToner`.
    pub const NO_TONER: Self = Self(1 << 3);
    /// Bit 4, `doorOpen`.
    pub const DOOR_OPEN: Self = Self(1 << 4);
    /// Bit 5, `jammed`.
    pub const JAMMED: Self = Self(1 << 5);
    /// Bit 6, `offline`.
    pub const OFFLINE: Self = Self(1 << 6);
    /// Bit 7, `serviceRequested`.
    pub const SERVICE_REQUESTED: Self = Self(1 << 7);
    /// Bit 8, `inputTrayMissing` (RFC 3805).
    pub const INPUT_TRAY_MISSING: Self = Self(1 << 8);
    /// Bit 9, `outputTrayMissing` (RFC 3805).
    pub const OUTPUT_TRAY_MISSING: Self = Self(1 << 9);
    /// Bit 10, `markerSupplyMissing` (RFC 3805).
    pub const MARKER_SUPPLY_MISSING: Self = Self(1 << 10);
    /// Bit 11, `outputNearFull` (RFC 3805).
    pub const OUTPUT_NEAR_FULL: Self = Self(1 << 11);
    /// Bit 12, `outputFull` (RFC 3805).
    pub const OUTPUT_FULL: Self = Self(1 << 12);
    /// Bit 13, `inputTrayEmpty` (RFC 3805).
    pub const INPUT_TRAY_EMPTY: Self = Self(1 << 13);
    /// Bit 14, `overduePreventMaint` (RFC 3805).
    pub const OVERDUE_PREVENT_MAINT: Self = Self(1 << 14);

    /// The set whose bit *n* is `bits & (1 << n)`.
    pub const fn from_bits(bits: u16) -> Self {
        Self(bits)
    }

    /// Bit *n* of the set is `1 << n` of the result.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Decodes the MIB's octets: bit 0 is the most significant bit of the first octet. Octets
    /// past the second carry no defined bit and are ignored; an empty string is no condition.
    pub fn from_octets(octets: &[u8]) -> Self {
        let mut bits = 0u16;
        for (octet_index, octet) in octets.iter().take(2).enumerate() {
            for bit in 0..8u16 {
                if octet & (0x80 >> bit) != 0 {
                    let n = u16::try_from(octet_index).unwrap_or(0).saturating_mul(8).saturating_add(bit);
                    bits |= 1 << n;
                }
            }
        }
        Self(bits)
    }

    /// Encodes in the MIB's octet order (always two octets).
    pub fn to_octets(self) -> [u8; 2] {
        let mut octets = [0u8; 2];
        for n in 0..16u16 {
            if self.0 & (1 << n) != 0
                && let Some(octet) = octets.get_mut(usize::from(n / 8))
            {
                *octet |= 0x80 >> (n % 8);
            }
        }
        octets
    }

    /// Whether every condition in `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no condition is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of both sets.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The names of the conditions set, in bit order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        ERROR_NAMES.iter().enumerate().filter(move |(n, _)| self.0 & (1u16 << n) != 0).map(|(_, name)| *name)
    }

    /// The condition with this name (as [`names`](Self::names) yields).
    pub fn from_name(name: &str) -> Option<Self> {
        ERROR_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|n| u32::try_from(n).ok())
            .and_then(|n| 1u16.checked_shl(n))
            .map(Self)
    }
}

impl core::ops::BitOr for DetectedErrors {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl fmt::Debug for DetectedErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for DetectedErrors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for DetectedErrors {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DetectedErrors;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of detected error names")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<DetectedErrors, A::Error> {
                let mut set = DetectedErrors::NONE;
                // At most one entry per bit is meaningful; refuse to loop over an endless array.
                let mut seen = 0usize;
                while let Some(OneError(bit)) = seq.next_element::<OneError>()? {
                    seen = seen.saturating_add(1);
                    if seen > ERROR_NAMES.len() {
                        return Err(serde::de::Error::invalid_length(seen, &self));
                    }
                    set = set.union(bit);
                }
                Ok(set)
            }
        }

        /// One name of the array; a visitor so that escaped (non-borrowed) strings work too.
        struct OneError(DetectedErrors);
        impl<'de> serde::Deserialize<'de> for OneError {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct NameVisitor;
                impl serde::de::Visitor<'_> for NameVisitor {
                    type Value = OneError;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a detected error name")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneError, E> {
                        DetectedErrors::from_name(v).map(OneError).ok_or_else(|| E::unknown_variant(v, &ERROR_NAMES))
                    }
                }
                deserializer.deserialize_str(NameVisitor)
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::{format, prelude::rust_2024::*, vec};

    #[test]
    fn octet_order_follows_rfc_2790() {
        assert_eq!(DetectedErrors::from_octets(&[0x80]), DetectedErrors::LOW_PAPER);
        assert_eq!(DetectedErrors::from_octets(&[0x01]), DetectedErrors::SERVICE_REQUESTED);
        assert_eq!(DetectedErrors::from_octets(&[0x00, 0x80]), DetectedErrors::INPUT_TRAY_MISSING);
        assert_eq!(DetectedErrors::from_octets(&[0x00, 0x02]), DetectedErrors::OVERDUE_PREVENT_MAINT);
        assert_eq!(DetectedErrors::from_octets(&[]), DetectedErrors::NONE);
        assert_eq!(DetectedErrors::from_octets(&[0, 0, 0xff]), DetectedErrors::NONE);
        for bits in [0u16, 1, 0x8000, 0x1234, 0xffff] {
            let e = DetectedErrors::from_bits(bits);
            assert_eq!(DetectedErrors::from_octets(&e.to_octets()), e);
        }
    }

    #[test]
    fn names_in_bit_order() {
        let e = DetectedErrors::NO_TONER | DetectedErrors::LOW_PAPER | DetectedErrors::from_bits(0x8000);
        let names: [&str; 3] = {
            let mut it = e.names();
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(names, ["low_paper", "no_toner", "bit_15"]);
        assert_eq!(DetectedErrors::from_name("jammed"), Some(DetectedErrors::JAMMED));
        assert_eq!(DetectedErrors::from_name("jam"), None);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_is_a_list_of_names() {
        let e = DetectedErrors::DOOR_OPEN | DetectedErrors::JAMMED;
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"["door_open","jammed"]"#);
        assert_eq!(serde_json::from_str::<DetectedErrors>(&json).unwrap(), e);
        assert!(serde_json::from_str::<DetectedErrors>(r#"["on_fire"]"#).is_err());
        let too_many = format!("[{}]", vec!["\"jammed\""; 17].join(","));
        assert!(serde_json::from_str::<DetectedErrors>(&too_many).is_err());
    }
}
