//! Device identity: a printer is its serial number and MAC address, never its IP address, so a
//! printer that moves to a new address stays the same device and the move is recorded.
//!
//! Pure: the [`Inventory`] is a value the caller keeps (it serialises to JSON) and feeds with
//! what discovery saw.

use std::collections::BTreeMap;
use std::net::IpAddr;

use printfleet_schema::{Identity, MacAddress};

/// Most devices one inventory holds (a site's fleet is hundreds; a /16 sweep at most 65 534).
pub const MAX_INVENTORY_DEVICES: usize = 65_536;
/// Most past addresses kept per device.
pub const MAX_ADDRESS_HISTORY: usize = 16;
/// Longest serial number kept (the Printer-MIB's prtGeneralSerialNumber is at most 255 octets).
pub const MAX_SERIAL_CHARS: usize = 255;

/// What identifies a device: its serial number and its MAC address, at least one of them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct DeviceKey {
    /// The serial number (Printer-MIB prtGeneralSerialNumber, IPP printer-device-id `SN`,
    /// LEDM `SerialNumber`), trimmed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub serial: Option<String>,
    /// The MAC address of the first interface that has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mac: Option<String>,
}

impl DeviceKey {
    /// The key of a device with this serial number and MAC address; `None` when it has
    /// neither (it cannot be told apart from another device by anything but its address). A
    /// serial number that is a placeholder (`0000000000`, `Unknown`, `N/A`: see
    /// `printfleet_sources::snmp::printer_mib::plausible_serial`) counts as none, so that
    /// devices that all say it are not taken for one.
    pub fn new(serial: Option<&str>, mac: Option<MacAddress>) -> Option<Self> {
        let serial = serial
            .filter(|s| printfleet_sources::snmp::printer_mib::plausible_serial(s))
            .map(|s| s.trim().chars().take(MAX_SERIAL_CHARS).collect::<String>());
        let mac = mac.filter(|m| m.octets() != [0; 6] && m.octets() != [0xff; 6]).map(|m| m.to_string());
        (serial.is_some() || mac.is_some()).then_some(Self { serial, mac })
    }

    /// The key of a mapped report's identity.
    pub fn of(identity: &Identity) -> Option<Self> {
        Self::new(identity.serial_number.as_deref(), identity.mac_address)
    }
}

/// A device the inventory knows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Device {
    /// What identifies it.
    pub key: DeviceKey,
    /// Where it was last seen.
    pub address: IpAddr,
    /// Where it was before, oldest first, at most [`MAX_ADDRESS_HISTORY`].
    #[serde(default)]
    pub previous_addresses: Vec<IpAddr>,
}

/// What an observation of a device at an address meant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "sighting", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Sighting {
    /// A device not seen before.
    New,
    /// A known device at its known address.
    Unchanged,
    /// A known device at a new address: an identity change, recorded.
    Moved {
        /// Where it was.
        from: IpAddr,
    },
    /// The inventory is full ([`MAX_INVENTORY_DEVICES`]); the device was not recorded.
    NotRecorded,
}

/// The devices seen so far, by identity.
///
/// ```
/// use std::net::IpAddr;
/// use printfleet_lan::identity::{DeviceKey, Inventory, Sighting};
///
/// let mut inventory = Inventory::default();
/// let key = DeviceKey::new(Some("CNB1234567"), None).unwrap();
/// let a: IpAddr = "10.0.0.5".parse().unwrap();
/// let b: IpAddr = "10.0.0.9".parse().unwrap();
/// assert_eq!(inventory.observe(&key, a), Sighting::New);
/// assert_eq!(inventory.observe(&key, b), Sighting::Moved { from: a });
/// assert_eq!(inventory.len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "InventoryFile", into = "InventoryFile")]
pub struct Inventory {
    devices: Vec<Device>,
    by_serial: BTreeMap<String, usize>,
    by_mac: BTreeMap<String, usize>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct InventoryFile {
    devices: Vec<Device>,
}

impl From<InventoryFile> for Inventory {
    fn from(file: InventoryFile) -> Self {
        let mut inventory = Self::default();
        for device in file.devices.into_iter().take(MAX_INVENTORY_DEVICES) {
            inventory.push(device);
        }
        inventory
    }
}

impl From<Inventory> for InventoryFile {
    fn from(inventory: Inventory) -> Self {
        Self { devices: inventory.devices }
    }
}

impl Inventory {
    fn push(&mut self, device: Device) {
        let index = self.devices.len();
        if let Some(s) = &device.key.serial {
            self.by_serial.entry(s.clone()).or_insert(index);
        }
        if let Some(m) = &device.key.mac {
            self.by_mac.entry(m.clone()).or_insert(index);
        }
        self.devices.push(device);
    }

    /// The device `key` names: by serial number first (a replaced network card keeps the
    /// device), then by MAC address.
    fn find(&self, key: &DeviceKey) -> Option<usize> {
        key.serial
            .as_ref()
            .and_then(|s| self.by_serial.get(s))
            .or_else(|| key.mac.as_ref().and_then(|m| self.by_mac.get(m)))
            .copied()
    }

    /// Records that the device `key` answered at `address`.
    pub fn observe(&mut self, key: &DeviceKey, address: IpAddr) -> Sighting {
        let Some(index) = self.find(key) else {
            if self.devices.len() >= MAX_INVENTORY_DEVICES {
                return Sighting::NotRecorded;
            }
            self.push(Device { key: key.clone(), address, previous_addresses: Vec::new() });
            return Sighting::New;
        };
        // Learn the half of the key the device did not give before (and index it).
        let mut learned = Vec::new();
        let Some(device) = self.devices.get_mut(index) else { return Sighting::NotRecorded };
        if device.key.serial.is_none() && key.serial.is_some() {
            device.key.serial.clone_from(&key.serial);
            learned.extend(key.serial.clone().map(|s| (true, s)));
        }
        if key.mac.is_some() && device.key.mac != key.mac {
            device.key.mac.clone_from(&key.mac);
            learned.extend(key.mac.clone().map(|m| (false, m)));
        }
        let sighting = if device.address == address {
            Sighting::Unchanged
        } else {
            let from = device.address;
            if device.previous_addresses.len() >= MAX_ADDRESS_HISTORY {
                device.previous_addresses.remove(0);
            }
            device.previous_addresses.push(from);
            device.address = address;
            Sighting::Moved { from }
        };
        for (serial, value) in learned {
            let map = if serial { &mut self.by_serial } else { &mut self.by_mac };
            map.entry(value).or_insert(index);
        }
        sighting
    }

    /// The device `key` names.
    pub fn get(&self, key: &DeviceKey) -> Option<&Device> {
        self.find(key).and_then(|i| self.devices.get(i))
    }

    /// Every device, in the order first seen.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// How many devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_device_is_its_serial_and_mac_not_its_address() {
        let mut inv = Inventory::default();
        let mac = MacAddress::new([0x9c, 0xae, 0xd3, 0xaa, 0xd6, 0xc5]);
        let a = DeviceKey::new(Some("X3B1000001"), Some(mac)).unwrap();
        let b = DeviceKey::new(Some("X3B1000002"), None).unwrap();
        assert_eq!(inv.observe(&a, ip("10.0.0.2")), Sighting::New);
        assert_eq!(inv.observe(&b, ip("10.0.0.3")), Sighting::New);
        assert_eq!(inv.observe(&a, ip("10.0.0.2")), Sighting::Unchanged);
        // Two devices swap addresses: both moved, still two devices.
        assert_eq!(inv.observe(&a, ip("10.0.0.3")), Sighting::Moved { from: ip("10.0.0.2") });
        assert_eq!(inv.observe(&b, ip("10.0.0.2")), Sighting::Moved { from: ip("10.0.0.3") });
        assert_eq!(inv.len(), 2);
        assert_eq!(inv.get(&a).unwrap().previous_addresses, [ip("10.0.0.2")]);
        // The same MAC without the serial (an agent that hides it) is still the device.
        let mac_only = DeviceKey::new(None, Some(mac)).unwrap();
        assert_eq!(inv.observe(&mac_only, ip("10.0.0.3")), Sighting::Unchanged);
        assert_eq!(inv.len(), 2);
    }

    #[test]
    fn a_device_with_neither_serial_nor_mac_has_no_key() {
        assert_eq!(DeviceKey::new(None, None), None);
        assert_eq!(DeviceKey::new(Some("  "), Some(MacAddress::new([0; 6]))), None);
        assert_eq!(DeviceKey::new(Some("0000000"), None), None);
        assert_eq!(DeviceKey::new(Some("Unknown"), None), None);
        assert_eq!(DeviceKey::new(Some(" N/A "), None), None);
    }

    #[test]
    fn the_inventory_survives_a_json_round_trip_with_its_indexes() {
        let mut inv = Inventory::default();
        let k = DeviceKey::new(Some("SN1"), Some(MacAddress::new([2, 0, 0, 0, 0, 1]))).unwrap();
        inv.observe(&k, ip("10.0.0.2"));
        inv.observe(&k, ip("10.0.0.7"));
        let json = serde_json::to_string(&inv).unwrap();
        let mut back: Inventory = serde_json::from_str(&json).unwrap();
        assert_eq!(back, inv);
        assert_eq!(back.observe(&k, ip("10.0.0.8")), Sighting::Moved { from: ip("10.0.0.7") });
        assert_eq!(back.get(&k).unwrap().previous_addresses, [ip("10.0.0.2"), ip("10.0.0.7")]);
    }

    #[test]
    fn the_address_history_is_bounded() {
        let mut inv = Inventory::default();
        let k = DeviceKey::new(Some("SN1"), None).unwrap();
        for i in 0..100_u8 {
            inv.observe(&k, IpAddr::from([10, 0, 0, i]));
        }
        let d = inv.get(&k).unwrap();
        assert_eq!(d.previous_addresses.len(), MAX_ADDRESS_HISTORY);
        assert_eq!(d.previous_addresses.last(), Some(&IpAddr::from([10, 0, 0, 98])));
    }
}
