//! The office kinds' readings: a real Printer-MIB capture (LibreNMS' test data, see
//! `testdata/third-party/librenms/PROVENANCE.txt`) made into each device's walk, its counter,
//! supply-level and alert objects rewritten at every reading, and mapped by
//! `printfleet_sources::snmp::printer_mib::map_at` exactly as a real walk is.
//!
//! What the simulator rewrites in the capture:
//! * identity: `sysName`, `sysLocation`, `sysContact`, `ifPhysAddress.1`, `ipAdEntAddr` (one
//!   row, the device's current address), `prtGeneralSerialNumber`;
//! * `sysUpTime` (from the device's last boot);
//! * counters: the capture's own counters (vendor objects, the PWG counter MIB,
//!   `prtMarkerLifeCount`) are removed and replaced by the PWG Imaging System Counter MIB
//!   (PWG 5106.1 `icKeyTable` / `icImpressionTable`: system totals, print, copy, scan and
//!   fax-in services) and `prtMarkerLifeCount`, which the mapping reads;
//! * supplies: `prtMarkerSuppliesMaxCapacity` (100 where the capture says -2/-1: the
//!   simulated device reports percent) and `prtMarkerSuppliesLevel`, and the description's
//!   Xerox-style ", PN part;SN serial" tail so that a replaced cartridge shows a new serial;
//! * alerts: `prtAlertTable` rows for the alerts active now.
//!
//! Two-sided sheets are not in any standard MIB the mapping reads (only a Sharp vendor object);
//! the simulator adds `duplex_sheets` to the mapped report, as an agent that also reads the
//! device's web service would.

use std::net::Ipv4Addr;

use printfleet_schema::codes::{AlertCode, AlertGroup, AlertSeverity, SupplyType, TrainingLevel};
use printfleet_schema::{Colour, Timestamp};
use printfleet_sources::snmp::{Bindings, Oid, SnmpValue, printer_mib, vendor};

use crate::config::Kind;

/// A capture the simulation starts from.
const BROTHER: &str = include_str!("../../../testdata/third-party/librenms/printer-mib/brother.snmprec");
const HP_M252DW: &str = include_str!("../../../testdata/third-party/librenms/printer-mib/jetdirect_m252dw.snmprec");
const EPSON: &str = include_str!("../../../testdata/third-party/librenms/printer-mib/epson.snmprec");

/// PWG 5106.1 `icKeyServiceType` column.
const IC_KEY_SERVICE_TYPE: &str = "1.3.6.1.4.1.2699.1.3.1.2.1.1.2";
/// PWG 5106.1 `icImpressionTable` entry.
const IC_IMPRESSIONS: &str = "1.3.6.1.4.1.2699.1.3.1.8.1.1";
/// `prtMarkerSuppliesTable` entry.
const SUPPLIES: &str = "1.3.6.1.2.1.43.11.1.1";
/// `prtAlertTable` entry.
const ALERTS: &str = "1.3.6.1.2.1.43.18.1.1";

/// The subtrees removed from a capture before the simulator writes its own values.
const REPLACED: [&str; 7] = [
    "1.3.6.1.4.1.2699.1.3",    // PWG counter MIB
    "1.3.6.1.2.1.43.10.2.1.4", // prtMarkerLifeCount
    "1.3.6.1.2.1.43.18",       // prtAlertTable
    "1.3.6.1.2.1.4.20",        // ipAddrTable
    "1.3.6.1.2.1.2.2.1.6",     // ifPhysAddress
    "1.3.6.1.2.1.43.5.1.1.17", // prtGeneralSerialNumber
    "1.3.6.1.2.1.1.3",         // sysUpTime
];

pub(crate) fn oid(text: &str) -> Oid {
    text.parse().unwrap_or_default()
}

/// One supply row of the capture.
#[derive(Clone, Debug)]
pub(crate) struct SupplyRow {
    /// `prtMarkerSuppliesIndex` (the row is `1.<index>`).
    pub(crate) index: u32,
    pub(crate) kind: SupplyType,
    /// The colour its name says, if any.
    pub(crate) colour: Option<Colour>,
    /// The capacity reported (100 where the capture had a special value).
    pub(crate) max: i32,
    /// The description without vendor tails, and its part number.
    pub(crate) description: String,
    pub(crate) part: String,
}

/// A capture made ready: bindings without the objects the simulator writes, and its supplies.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    pub(crate) bindings: Bindings,
    pub(crate) supplies: Vec<SupplyRow>,
}

impl Template {
    pub(crate) fn of(kind: Kind) -> Option<Self> {
        let text = match kind {
            Kind::OfficeMono => BROTHER,
            Kind::OfficeColour => HP_M252DW,
            Kind::InkjetMfp => EPSON,
            Kind::LargeFormat => return None,
        };
        let (captured, _) = Bindings::read_snmprec(text.as_bytes(), printer_mib::reads).ok()?;
        let mut removed: Vec<Oid> = REPLACED.iter().map(|t| oid(t)).collect();
        removed.extend(vendor::subtrees());
        let mut bindings = Bindings::new();
        for (o, v) in captured.iter() {
            if !removed.iter().any(|r| o.starts_with(r)) {
                bindings.insert(o.clone(), v.clone());
            }
        }
        let mut supplies = Vec::new();
        let names = oid(&format!("{SUPPLIES}.6.1"));
        for (o, v) in captured.walk(&names) {
            let Some(&[index]) = o.suffix(&names) else { continue };
            let int = |col: u32| captured.get(&oid(&format!("{SUPPLIES}.{col}.1.{index}"))).and_then(SnmpValue::as_i32);
            let name = v.as_bytes().and_then(printer_mib::clean_text).unwrap_or_default();
            let (description, part, _) = printer_mib::split_supply_name(&name);
            let kind = int(5).and_then(|c| u32::try_from(c).ok()).map_or(SupplyType::UNKNOWN, SupplyType::from_code);
            let max = int(8).filter(|m| *m > 0).unwrap_or(100);
            supplies.push(SupplyRow {
                index,
                kind,
                colour: printer_mib::colour_from_name(&description),
                max,
                part: part.unwrap_or_else(|| "unknown".into()),
                description,
            });
        }
        for s in &supplies {
            bindings.insert(oid(&format!("{SUPPLIES}.8.1.{}", s.index)), SnmpValue::Integer(s.max));
        }
        // The PWG counter MIB's keys: system totals (3), print (11), copy (4), scan (12),
        // fax-in (7), as keys 1 to 5.
        for (key, service) in SERVICES {
            bindings.insert(oid(&format!("{IC_KEY_SERVICE_TYPE}.{key}")), SnmpValue::Integer(service));
        }
        Some(Self { bindings, supplies })
    }
}

/// (icKeyIndex, icKeyServiceType).
const SERVICES: [(u32, i32); 5] = [(1, 3), (2, 11), (3, 4), (4, 12), (5, 7)];

/// Counter values to write, by PWG key and column (4 total, 5 monochrome, 7 full colour).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PwgCounters {
    pub(crate) total: u64,
    pub(crate) mono: u64,
    pub(crate) colour: u64,
    pub(crate) print: u64,
    pub(crate) print_mono: u64,
    pub(crate) print_colour: u64,
    pub(crate) copies: u64,
    pub(crate) copy_mono: u64,
    pub(crate) copy_colour: u64,
    pub(crate) scans: u64,
    pub(crate) fax_in: u64,
}

/// An alert row.
#[derive(Clone, Debug)]
pub(crate) struct AlertRow {
    pub(crate) index: u32,
    pub(crate) severity: AlertSeverity,
    pub(crate) group: AlertGroup,
    pub(crate) group_index: i32,
    pub(crate) code: AlertCode,
    pub(crate) description: String,
    /// `prtAlertTime`: sysUpTime when raised, in hundredths of a second.
    pub(crate) time: u32,
}

/// Writes the device's dynamic objects into `b`.
pub(crate) fn write_identity(b: &mut Bindings, name: &str, serial: &str, mac: [u8; 6], ip: Ipv4Addr, site: &str) {
    b.insert(oid("1.3.6.1.2.1.1.5.0"), SnmpValue::OctetString(name.as_bytes().to_vec()));
    b.insert(oid("1.3.6.1.2.1.1.6.0"), SnmpValue::OctetString(site.as_bytes().to_vec()));
    b.insert(oid("1.3.6.1.2.1.1.4.0"), SnmpValue::OctetString(b"helpdesk@example.com".to_vec()));
    b.insert(oid("1.3.6.1.2.1.2.2.1.6.1"), SnmpValue::OctetString(mac.to_vec()));
    b.insert(oid("1.3.6.1.2.1.43.5.1.1.17.1"), SnmpValue::OctetString(serial.as_bytes().to_vec()));
    let o = ip.octets();
    b.insert(oid(&format!("1.3.6.1.2.1.4.20.1.1.{}.{}.{}.{}", o[0], o[1], o[2], o[3])), SnmpValue::IpAddress(o));
}

/// The walk of one reading: `base` (identity written) with the counters, supply levels and
/// descriptions, uptime and alerts of now.
pub(crate) fn walk(
    base: &Bindings,
    uptime_ticks: u32,
    counters: &PwgCounters,
    colour_device: bool,
    supplies: &[(SupplyRow, i32, String)],
    alerts: &[AlertRow],
) -> Bindings {
    let mut b = base.clone();
    b.insert(oid("1.3.6.1.2.1.1.3.0"), SnmpValue::TimeTicks(uptime_ticks));
    let c64 = |v: u64| SnmpValue::Counter64(v);
    b.insert(
        oid("1.3.6.1.2.1.43.10.2.1.4.1.1"),
        SnmpValue::Counter32(u32::try_from(counters.total).unwrap_or(u32::MAX)),
    );
    let mut put = |key: u32, col: u32, v: u64| {
        b.insert(oid(&format!("{IC_IMPRESSIONS}.{col}.{key}.3.3")), c64(v));
    };
    put(1, 4, counters.total);
    put(1, 5, counters.mono);
    put(2, 4, counters.print);
    put(2, 5, counters.print_mono);
    put(3, 4, counters.copies);
    put(3, 5, counters.copy_mono);
    if colour_device {
        put(1, 7, counters.colour);
        put(2, 7, counters.print_colour);
        put(3, 7, counters.copy_colour);
    }
    put(4, 4, counters.scans);
    put(5, 4, counters.fax_in);
    for (row, level, serial) in supplies {
        b.insert(oid(&format!("{SUPPLIES}.9.1.{}", row.index)), SnmpValue::Integer(*level));
        let name = format!("{}, PN {};SN{serial}", row.description, row.part);
        b.insert(oid(&format!("{SUPPLIES}.6.1.{}", row.index)), SnmpValue::OctetString(name.into_bytes()));
    }
    for a in alerts {
        let at = |col: u32| oid(&format!("{ALERTS}.{col}.1.{}", a.index));
        let code = |c: u32| SnmpValue::Integer(i32::try_from(c).unwrap_or(i32::MAX));
        b.insert(at(2), code(a.severity.code()));
        b.insert(at(3), code(TrainingLevel::UNTRAINED.code()));
        b.insert(at(4), code(a.group.code()));
        b.insert(at(5), SnmpValue::Integer(a.group_index));
        b.insert(at(6), SnmpValue::Integer(-1));
        b.insert(at(7), code(a.code.code()));
        b.insert(at(8), SnmpValue::OctetString(a.description.clone().into_bytes()));
        b.insert(at(9), SnmpValue::TimeTicks(a.time));
    }
    b
}

/// The alert as the mapping reads it from a walk holding only its row (so that the alert event
/// and the alerts of later readings are the same value).
pub(crate) fn mapped_alert(row: &AlertRow, uptime_ticks: u32, now: Timestamp) -> Option<printfleet_schema::Alert> {
    let b = walk(&Bindings::new(), uptime_ticks, &PwgCounters::default(), false, &[], std::slice::from_ref(row));
    printer_mib::map_at(&b, now).report.snapshot.alerts.into_iter().next()
}
