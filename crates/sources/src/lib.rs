//! Mapping from what real printers say into printfleet's schema. Pure: no sockets, no files; the
//! caller fetches (an SNMP walk, an IPP response, LEDM XML) and hands the bytes over.
//!
//! * [`snmp`]: [`snmp::Bindings`], the OID → value pairs any SNMP client returns, a reader and
//!   writer of the snmprec capture format that snmpsim serves and LibreNMS' test data uses, and
//!   the Printer-MIB / HOST-RESOURCES-MIB mapping ([`snmp::printer_mib::map_report`]);
//! * [`ipp`]: IPP Get-Printer-Attributes responses (CUPS `marker-*`, PWG 5100.13 `printer-supply`,
//!   PWG 5100.9 `printer-alert`, `printer-state-reasons`);
//! * [`ledm`]: HP LEDM documents (`ProductConfigDyn`, `ConsumableConfigDyn`, `ProductUsageDyn`,
//!   `ProductStatusDyn`).
//!
//! Every parser bounds its input with named limits and returns a typed error; every mapping
//! returns a report that passes `DeviceReport::validate`, whatever the device said.
//!
//! ```
//! use printfleet_sources::snmp::{Bindings, Oid, SnmpValue};
//!
//! let walk = "1.3.6.1.2.1.1.5.0|4|printer-17\n1.3.6.1.2.1.2.2.1.6.1|4x|9CAED3AAD6C5\n";
//! let bindings = Bindings::from_snmprec(walk)?;
//! let sys_name: Oid = "1.3.6.1.2.1.1.5.0".parse()?;
//! assert_eq!(bindings.get(&sys_name), Some(&SnmpValue::OctetString(b"printer-17".to_vec())));
//! assert_eq!(Bindings::from_snmprec(&bindings.to_snmprec())?, bindings);
//! # Ok::<(), printfleet_sources::snmp::SnmprecError>(())
//! ```

pub mod ipp;
pub mod ledm;
pub mod snmp;

use printfleet_schema::limits::MAX_LEVEL;
use printfleet_schema::{Capacity, DeviceReport, Level, RecordId};

/// What a device says, made to pass validation without inventing anything: in each list the
/// first record with a given id is kept (devices and hostile input repeat ids); a level above
/// its known capacity keeps the reading and drops the capacity; amounts beyond the MIB's
/// Integer32 become unknown.
pub(crate) fn make_valid(report: &mut DeviceReport) {
    fn first_of_each<T>(list: &mut Vec<T>, id: impl Fn(&T) -> RecordId) {
        let mut seen = std::collections::BTreeSet::new();
        list.retain(|r| seen.insert(id(r)));
    }
    let s = &mut report.snapshot;
    first_of_each(&mut s.consumables, |c| c.record_id);
    first_of_each(&mut s.alerts, |a| a.record_id);
    first_of_each(&mut s.media_sources, |m| m.record_id);
    first_of_each(&mut s.printheads, |p| p.record_id);
    first_of_each(&mut s.cartridges, |c| c.record_id);
    for c in &mut s.consumables {
        if matches!(c.level, Level::Amount(l) if l > MAX_LEVEL) {
            c.level = Level::Unknown;
        }
        if matches!(c.capacity, Capacity::Amount(m) if m > MAX_LEVEL) {
            c.capacity = Capacity::Unknown;
        }
        if let (Level::Amount(l), Capacity::Amount(m)) = (c.level, c.capacity)
            && l > m
        {
            c.capacity = Capacity::Unknown;
        }
    }
}
