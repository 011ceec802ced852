//! An agent's first job: poll a printer over SNMP v2c, walk the subtrees the mapping reads
//! (`printer_mib::subtrees`: standard MIBs, PWG counters, vendor counters), and print the
//! mapped device report as JSON, its findings on stderr (the same JSON as `printfleet mib` on a
//! capture of the same printer).
//!
//! ```sh
//! cargo run -p printfleet-examples --example snmp_poll -- [HOST:PORT] [COMMUNITY]
//! ```
//!
//! Defaults: `127.0.0.1:1161`, community `epson` — what `.ci/run` serves with snmpsim from
//! `testdata/third-party/librenms/printer-mib` (snmpsim names each capture's community after its file).
//! The SNMP client is the `snmp2` crate (synchronous session, GETBULK); everything after the walk
//! is `printfleet_sources`, which does no I/O.

use std::process::ExitCode;
use std::time::Duration;

use printfleet_sources::snmp::printer_mib::{map, subtrees};
use printfleet_sources::snmp::{Bindings, Oid, SnmpValue};

/// Bindings a walk keeps at most: a printer has a few thousand; a misbehaving agent that never
/// ends its walk is cut off here.
const MAX_BINDINGS: usize = 100_000;
/// Rows per GETBULK request.
const MAX_REPETITIONS: u32 = 25;

fn convert(value: &snmp2::Value<'_>) -> Option<SnmpValue> {
    use snmp2::Value as V;
    Some(match value {
        V::Integer(v) => SnmpValue::Integer(i32::try_from(*v).ok()?),
        V::OctetString(b) => SnmpValue::OctetString(b.to_vec()),
        V::ObjectIdentifier(o) => SnmpValue::ObjectId(o.to_id_string().parse().ok()?),
        V::IpAddress(a) => SnmpValue::IpAddress(*a),
        V::Counter32(v) => SnmpValue::Counter32(*v),
        V::Unsigned32(v) => SnmpValue::Gauge32(*v),
        V::Timeticks(v) => SnmpValue::TimeTicks(*v),
        V::Counter64(v) => SnmpValue::Counter64(*v),
        V::Null => SnmpValue::Null,
        _ => return None,
    })
}

/// Walks `subtree` with GETBULK into `out`.
fn walk(session: &mut snmp2::SyncSession, subtree: &Oid, out: &mut Bindings) -> Result<(), String> {
    let arcs: Vec<u64> = subtree.arcs().iter().map(|a| u64::from(*a)).collect();
    let mut next = snmp2::Oid::from(&arcs).map_err(|e| format!("{subtree}: {e:?}"))?;
    loop {
        let response = session.getbulk(&[&next], 0, MAX_REPETITIONS).map_err(|e| format!("{subtree}: {e:?}"))?;
        let mut advanced = false;
        for (name, value) in response.varbinds {
            let oid: Oid = name.to_id_string().parse().map_err(|_| format!("bad OID {name}"))?;
            if !oid.starts_with(subtree) || matches!(value, snmp2::Value::EndOfMibView) {
                return Ok(());
            }
            if let Some(v) = convert(&value) {
                out.insert(oid, v);
            }
            if out.len() >= MAX_BINDINGS {
                return Err(format!("more than {MAX_BINDINGS} bindings"));
            }
            next = name.to_owned();
            advanced = true;
        }
        if !advanced {
            return Ok(());
        }
    }
}

fn run() -> Result<String, String> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:1161".into());
    let community = args.next().unwrap_or_else(|| "epson".into());
    let mut session = snmp2::SyncSession::new_v2c(&address, community.as_bytes(), Some(Duration::from_secs(3)), 0)
        .map_err(|e| format!("{address}: {e}"))?;
    let mut bindings = Bindings::new();
    // The subtrees the mapping reads (standard and PWG MIBs, vendor counters), so that a poll
    // and a capture of the same printer map alike.
    for subtree in subtrees() {
        walk(&mut session, &subtree, &mut bindings)?;
    }
    if bindings.is_empty() {
        return Err(format!("{address}: no answer under community {community:?}"));
    }
    let mapped = map(&bindings);
    for finding in &mapped.findings {
        eprintln!("snmp_poll: {address}: {finding}");
    }
    mapped.report.validate().map_err(|e| format!("mapped report is invalid: {e}"))?;
    serde_json::to_string_pretty(&mapped.report).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("snmp_poll: {message}");
            ExitCode::FAILURE
        }
    }
}
