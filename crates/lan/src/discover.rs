//! Discovery: ask each address over SNMP, keep only printers, identify each by serial number
//! and MAC address, and record in an [`Inventory`] where each was seen.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use printfleet_sources::snmp::printer_mib;
use printfleet_sources::snmp::{Bindings, Oid, SnmpValue};

use crate::config::PollConfig;
use crate::error::{Failure, Tally};
use crate::identity::{DeviceKey, Inventory, Sighting};
use crate::pool::run_bounded;
use crate::snmp::Session;

/// hrDeviceType value of a printer (HOST-RESOURCES-MIB hrDevicePrinter, RFC 2790 §4).
pub const HR_DEVICE_PRINTER: &str = "1.3.6.1.2.1.25.3.1.5";
/// hrDeviceType column (RFC 2790 hrDeviceEntry.2).
pub const HR_DEVICE_TYPE: &str = "1.3.6.1.2.1.25.3.2.1.2";
/// prtGeneralEntry (RFC 3805): the serial number's table.
pub const PRT_GENERAL_ENTRY: &str = "1.3.6.1.2.1.43.5.1.1";
/// The Printer-MIB (RFC 3805 printmib): any row under it marks a printer.
pub const PRINTER_MIB: &str = "1.3.6.1.2.1.43";

/// The scalars asked first (RFC 3418 sysDescr, sysObjectID, sysName): one GET that tells an
/// SNMP agent from a silent address.
const PROBE_SCALARS: [&str; 3] = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0"];
/// The subtrees a discovery walks (small: the device table, the printer's general table with
/// its serial number, the interfaces' MAC addresses) — not the whole of what a poll reads.
const DISCOVERY_SUBTREES: [&str; 3] = ["1.3.6.1.2.1.25.3.2.1", PRT_GENERAL_ENTRY, "1.3.6.1.2.1.2.2.1.6"];

fn oid(s: &str) -> Result<Oid, Failure> {
    s.parse().map_err(|_| Failure::malformed("OID", s))
}

/// Whether a walk shows a printer: an hrDeviceType of hrDevicePrinter, or any Printer-MIB row
/// (agents that leave the HOST-RESOURCES type column out, or serve only the supplies table,
/// still have those).
pub fn is_printer(bindings: &Bindings) -> bool {
    let (Ok(column), Ok(printer), Ok(printmib)) =
        (HR_DEVICE_TYPE.parse::<Oid>(), HR_DEVICE_PRINTER.parse::<Oid>(), PRINTER_MIB.parse::<Oid>())
    else {
        return false;
    };
    bindings.walk(&column).any(|(_, v)| matches!(v, SnmpValue::ObjectId(o) if *o == printer))
        || bindings.walk(&printmib).next().is_some()
}

/// A printer found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Discovered {
    /// Where it answered.
    pub address: IpAddr,
    /// Its identity; `None` when it gives neither a serial number nor a MAC address.
    pub device: Option<DeviceKey>,
    /// What the inventory made of it (`None` for a device without identity).
    #[serde(flatten)]
    pub sighting: Option<Sighting>,
    /// Manufacturer (from sysObjectID's enterprise or the IEEE 1284 device id).
    pub make: Option<String>,
    /// Model (hrDeviceDescr).
    pub model: Option<String>,
    /// sysName.
    pub hostname: Option<String>,
    /// sysObjectID.
    pub object_id: Option<String>,
}

/// What one discovery round found.
#[derive(Debug, Default)]
pub struct DiscoveryRound {
    /// The printers, in address order.
    pub printers: Vec<Discovered>,
    /// The addresses that are not printers or did not answer, with why.
    pub failures: Vec<(IpAddr, Failure)>,
    /// Printers found (`ok`) and failures by kind.
    pub tally: Tally,
}

/// Asks one address: a GET of the system scalars, then the discovery walks.
fn probe(address: SocketAddr, config: &PollConfig) -> Result<Bindings, Failure> {
    let mut session = Session::open(address, config)?;
    let mut bindings = Bindings::new();
    let scalars = PROBE_SCALARS.iter().map(|s| oid(s)).collect::<Result<Vec<_>, _>>()?;
    session.get(&scalars, &mut bindings)?;
    for subtree in DISCOVERY_SUBTREES {
        session.walk(&oid(subtree)?, &mut bindings)?;
    }
    // One GETBULK into the Printer-MIB: its first rows tell a printer, whatever tables it has.
    session.first_rows(&oid(PRINTER_MIB)?, &mut bindings)?;
    if !is_printer(&bindings) {
        return Err(Failure::NotAPrinter { reason: "no hrDevicePrinter and no Printer-MIB rows" });
    }
    Ok(bindings)
}

/// Asks every address in `addresses` (at most `config.concurrency` at once), keeps the
/// printers, and records each in `inventory` by identity. One address's failure is counted
/// and never stops the round.
pub fn discover(addresses: &[Ipv4Addr], config: &PollConfig, inventory: &mut Inventory) -> DiscoveryRound {
    let results =
        run_bounded(addresses, config.concurrency, |a| probe(SocketAddr::from((*a, config.snmp_port)), config));
    let mut round = DiscoveryRound::default();
    for (address, result) in addresses.iter().zip(results) {
        let address = IpAddr::V4(*address);
        match result {
            Ok(bindings) => {
                let identity = printer_mib::map(&bindings).report.identity;
                let device = DeviceKey::of(&identity);
                let sighting = device.as_ref().map(|k| inventory.observe(k, address));
                round.tally.success();
                round.printers.push(Discovered {
                    address,
                    device,
                    sighting,
                    make: identity.make,
                    model: identity.model,
                    hostname: identity.hostname,
                    object_id: identity.object_id,
                });
            }
            Err(f) => {
                round.tally.failure(&f);
                round.failures.push((address, f));
            }
        }
    }
    round
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printer_is_known_by_its_device_type_or_its_printer_mib_rows() {
        let typed = Bindings::from_snmprec("1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.5\n").unwrap();
        assert!(is_printer(&typed));
        let untyped = Bindings::from_snmprec("1.3.6.1.2.1.43.5.1.1.17.1|4|X3B1000001\n").unwrap();
        assert!(is_printer(&untyped));
        // Xerox's capture has nothing but the supplies table.
        let supplies_only = Bindings::from_snmprec("1.3.6.1.2.1.43.11.1.1.9.1.1|2|40\n").unwrap();
        assert!(is_printer(&supplies_only));
        let router = Bindings::from_snmprec(
            "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.1\n1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.3\n",
        )
        .unwrap();
        assert!(!is_printer(&router));
    }
}
