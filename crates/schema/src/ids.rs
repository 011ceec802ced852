//! Identifiers: anonymous record ids and MAC addresses.

use core::fmt;
use core::str::FromStr;

use crate::Error;

/// An anonymous record id (SDS "anonymous database record ID").
///
/// Assigned by the agent, stable for the life of the record it names (a device, a consumable
/// slot, an alert, a media source, ...), unique within its list, and meaningless outside
/// printfleet: it carries no serial number, address or name. The delta protocol keys records by
/// it. Printer-MIB table indexes are a natural source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct RecordId(pub u64);

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// An IEEE 802 MAC-48 address.
///
/// Text form (Display, `FromStr`, JSON): six lower-case hex octets separated by `:`. Parsing also
/// accepts `-` separators and upper case.
///
/// ```
/// use printfleet_schema::ids::MacAddress;
/// let mac: MacAddress = "00-1B-A9-0C-22-EE".parse().unwrap();
/// assert_eq!(mac.octets(), [0x00, 0x1b, 0xa9, 0x0c, 0x22, 0xee]);
/// assert_eq!(mac.to_string(), "00:1b:a9:0c:22:ee");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct MacAddress([u8; 6]);

impl MacAddress {
    /// The address with these octets, first octet first.
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// The octets, first octet first.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddress({self})")
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddress {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut octets = [0u8; 6];
        let mut parts = s.split(sep);
        for octet in &mut octets {
            let part = parts.next().ok_or(Error::InvalidMacAddress)?;
            // from_str_radix alone would accept a sign ("+0").
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::InvalidMacAddress);
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| Error::InvalidMacAddress)?;
        }
        if parts.next().is_some() {
            return Err(Error::InvalidMacAddress);
        }
        Ok(Self(octets))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for MacAddress {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for MacAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = MacAddress;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a MAC address such as \"00:1b:a9:0c:22:ee\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MacAddress, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::{format, prelude::rust_2024::*, vec};

    #[test]
    fn mac_parsing_rejects_malformed_text() {
        for bad in [
            "",
            "00:11:22:33:44",
            "00:11:22:33:44:55:66",
            "0:11:22:33:44:55",
            "zz:11:22:33:44:55",
            "00:11-22:33:44:55",
            "+0:11:22:33:44:55",
        ] {
            assert_eq!(bad.parse::<MacAddress>(), Err(Error::InvalidMacAddress), "{bad:?}");
        }
        assert_eq!("AA:bb:CC:dd:EE:ff".parse::<MacAddress>().unwrap().octets(), [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn mac_json_is_a_lower_case_string() {
        let mac = MacAddress::new([0, 0x1b, 0xa9, 0x0c, 0x22, 0xee]);
        assert_eq!(serde_json::to_string(&mac).unwrap(), "\"00:1b:a9:0c:22:ee\"");
        assert_eq!(serde_json::from_str::<MacAddress>("\"00:1B:A9:0C:22:EE\"").unwrap(), mac);
        assert!(serde_json::from_str::<MacAddress>("\"00:1B\"").is_err());
    }
}
