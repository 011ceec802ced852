//! Mapping from what real printers say into printfleet's schema. Pure: no sockets, no files; the
//! caller fetches (an SNMP walk, an IPP response, LEDM XML) and hands the bytes over.
//!
//! * [`snmp`]: [`snmp::Bindings`], the OID → value pairs any SNMP client returns, a reader and
//!   writer of the snmprec capture format that snmpsim serves and LibreNMS' test data uses, and
//!   the Printer-MIB / HOST-RESOURCES-MIB mapping ([`snmp::printer_mib::map_report`]);
//! * [`ipp`]: IPP Get-Printer-Attributes responses (CUPS `marker-*`, PWG 5100.13 `printer-supply`,
//!   PWG 5100.9 `printer-alert`, `printer-state-reasons`);
//! * [`ledm`]: HP LEDM documents (`ProductConfigDyn`, `ConsumableConfigDyn`, `ProductUsageDyn`,
//!   `ProductStatusDyn`);
//! * [`cdm`]: HP CDM documents, the JSON newer HP devices serve under `/cdm/` (identity,
//!   supplies, lifetime counters, alerts, status).
//!
//! Every parser bounds its input with named limits and returns a typed error ([`read`] reads a
//! file or response with a cap); every mapping returns a [`Mapped`]: a report that passes
//! `DeviceReport::validate` whatever the device said, the provenance of each meter reading
//! (which OID, IPP attribute or LEDM element; disputed when sources disagree), and a typed list
//! of [`Finding`]s — what the mapping could not find (no page counter, no serial, no make) or
//! had to repair (a value clamped, a line skipped, Latin-1 text). The make comes from a
//! manufacturer field ([`make`]), never from the model's first word; vendor page counters are
//! a table of data ([`snmp::vendor::VENDOR_COUNTERS`]), each row cited.
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

pub mod cdm;
pub mod finding;
pub mod ipp;
pub mod ledm;
pub mod make;
pub mod read;
pub mod snmp;

pub use finding::{Finding, Mapped, MeterReading, Source};

use printfleet_schema::limits::MAX_LEVEL;
use printfleet_schema::{Capacity, DeviceReport, Level, RecordId};

use finding::Findings;

/// A media source's status from its current level and maximum capacity, as the Printer-MIB's
/// `prtInputCurrentLevel` and `prtInputMaxCapacity` (and PWG 5100.13's `printer-input-tray`
/// `level` and `maxcapacity`, the same values) give them: 0 is unloaded; a level at most a tenth
/// of the maximum is low; any other positive level, or -3 ("at least one"), is loaded; -2
/// (unknown) or nothing is unknown.
pub(crate) fn media_status(level: Option<i64>, max: Option<i64>) -> printfleet_schema::codes::MediaSourceStatus {
    use printfleet_schema::codes::MediaSourceStatus;
    match (level, max) {
        (Some(0), _) => MediaSourceStatus::UNLOADED,
        (Some(level), Some(max)) if level > 0 && max > 0 && level.saturating_mul(10) <= max => MediaSourceStatus::LOW,
        (Some(level), _) if level > 0 || level == -3 => MediaSourceStatus::LOADED,
        _ => MediaSourceStatus::UNKNOWN,
    }
}

/// What a device says, made to pass validation without inventing anything: in each list the
/// first record with a given id is kept (devices and hostile input repeat ids); a level above
/// its known capacity keeps the reading and drops the capacity; amounts beyond the MIB's
/// Integer32 become unknown. Each repair is a finding.
pub(crate) fn make_valid(report: &mut DeviceReport, findings: &mut Findings) {
    fn first_of_each<T>(list: &mut Vec<T>, name: &'static str, id: impl Fn(&T) -> RecordId, findings: &mut Findings) {
        let mut seen = std::collections::BTreeSet::new();
        list.retain(|r| {
            let new = seen.insert(id(r));
            if !new {
                findings.push(Finding::DuplicateRecord { list: name, record_id: id(r).0 });
            }
            new
        });
    }
    let s = &mut report.snapshot;
    first_of_each(&mut s.consumables, "consumables", |c| c.record_id, findings);
    first_of_each(&mut s.alerts, "alerts", |a| a.record_id, findings);
    first_of_each(&mut s.media_sources, "media sources", |m| m.record_id, findings);
    first_of_each(&mut s.accessories, "accessories", |a| a.record_id, findings);
    first_of_each(&mut s.printheads, "printheads", |p| p.record_id, findings);
    first_of_each(&mut s.cartridges, "cartridges", |c| c.record_id, findings);
    let clamped =
        |field: &'static str, value: u32| Finding::ValueClamped { field, value: i64::from(value), replaced_by: None };
    for c in &mut s.consumables {
        if let Level::Amount(l) = c.level
            && l > MAX_LEVEL
        {
            findings.push(clamped("consumable level", l));
            c.level = Level::Unknown;
        }
        if let Capacity::Amount(m) = c.capacity
            && m > MAX_LEVEL
        {
            findings.push(clamped("consumable capacity", m));
            c.capacity = Capacity::Unknown;
        }
        if let (Level::Amount(l), Capacity::Amount(m)) = (c.level, c.capacity)
            && l > m
        {
            findings.push(clamped("consumable capacity below its level", m));
            c.capacity = Capacity::Unknown;
        }
    }
}
