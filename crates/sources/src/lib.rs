//! Mapping from what real printers say into printfleet's schema. Pure: no sockets, no files; the
//! caller fetches (an SNMP walk, an IPP response, LEDM XML) and hands the bytes over.
//!
//! This first part is the SNMP side's input: [`snmp::Bindings`], the OID → value pairs any SNMP
//! client returns, and a reader and writer of the snmprec capture format that snmpsim serves and
//! LibreNMS' test data uses.
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

pub mod snmp;
