//! `printfleet`: the command line of the printfleet crates.
//!
//! Each command prints, as JSON, the device report that one kind of printer data maps to, so that
//! an integrator can check a printer in seconds:
//!
//! * `printfleet mib FILE.snmprec`: an SNMP walk (an snmprec capture, as snmpsim serves and
//!   `snmpwalk`-based tools record);
//! * `printfleet ipp FILE.bin`: a raw IPP Get-Printer-Attributes response (e.g. saved with
//!   `ipptool -v` or `curl --data-binary`);
//! * `printfleet ledm DIR`: a folder of HP LEDM documents (`ProductConfigDyn.xml`,
//!   `ConsumableConfigDyn.xml`, `ProductUsageDyn.xml`, `ProductStatusDyn.xml`).
//!
//! The report goes to stdout; what the mapping could not find or had to repair (no page
//! counter, a line skipped, a disputed meter ...) goes to stderr, one finding a line, followed
//! by where each meter reading came from. Every input is read with a cap: a file larger than its
//! limit is refused after reading at most limit + 1 bytes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use printfleet_sources::ipp::MAX_IPP_BYTES;
use printfleet_sources::ledm::{Documents, Element, MAX_LEDM_BYTES};
use printfleet_sources::read::read_capped;
use printfleet_sources::snmp::MAX_SNMPREC_BYTES;
use printfleet_sources::snmp::printer_mib::map_snmprec;
use printfleet_sources::{Finding, Mapped};

#[derive(Debug, Parser)]
#[command(name = "printfleet", version, about = "Printer-fleet telemetry tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Map an SNMP walk (snmprec capture) of a printer to a device report and print it as JSON.
    Mib {
        /// The capture: one `OID|TAG|VALUE` per line.
        file: PathBuf,
    },
    /// Map a raw IPP Get-Printer-Attributes response to a device report and print it as JSON.
    Ipp {
        /// The response, as received (binary).
        file: PathBuf,
    },
    /// Map a folder of HP LEDM documents (ProductConfigDyn.xml, ConsumableConfigDyn.xml,
    /// ProductUsageDyn.xml, ProductStatusDyn.xml; any may be missing) to a device report and
    /// print it as JSON.
    Ledm {
        /// The folder.
        dir: PathBuf,
    },
}

/// Reads a file, at most `limit` bytes (refused after reading limit + 1).
fn read(file: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    read_capped(f, limit).map_err(|e| format!("{}: {e}", file.display()))
}

fn ledm(dir: &Path, findings: &mut Vec<Finding>) -> Result<Documents, String> {
    let mut load = |name: &str| -> Result<Option<Element>, String> {
        let path = dir.join(name);
        match std::fs::File::open(&path) {
            Ok(f) => {
                let bytes = read_capped(f, MAX_LEDM_BYTES).map_err(|e| format!("{}: {e}", path.display()))?;
                let (element, repaired) =
                    Element::parse_repairing(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                findings.extend(repaired);
                Ok(Some(element))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    };
    let docs = Documents {
        product_config: load("ProductConfigDyn.xml")?,
        consumable_config: load("ConsumableConfigDyn.xml")?,
        product_usage: load("ProductUsageDyn.xml")?,
        product_status: load("ProductStatusDyn.xml")?,
    };
    if docs.product_config.is_none()
        && docs.consumable_config.is_none()
        && docs.product_usage.is_none()
        && docs.product_status.is_none()
    {
        return Err(format!("{}: no LEDM document (ProductConfigDyn.xml, ...) in this folder", dir.display()));
    }
    Ok(docs)
}

/// The report as JSON for stdout, and the findings and meter provenance for stderr.
fn print(mapped: &Mapped, source: &Path) -> Result<(String, String), String> {
    mapped.report.validate().map_err(|e| format!("{}: mapped report is invalid: {e}", source.display()))?;
    let json = serde_json::to_string_pretty(&mapped.report).map_err(|e| e.to_string())?;
    let mut notes = String::new();
    for finding in &mapped.findings {
        notes.push_str(&format!("printfleet: {}: {finding}\n", source.display()));
    }
    for reading in &mapped.meters {
        let sources: Vec<String> = reading.sources.iter().map(ToString::to_string).collect();
        notes.push_str(&format!(
            "printfleet: {}: meter {} = {} from {}",
            source.display(),
            reading.kind,
            reading.value,
            sources.join(", ")
        ));
        for other in &reading.disputed_by {
            notes.push_str(&format!("; disputed: {} says {}", other.source, other.value));
        }
        notes.push('\n');
    }
    Ok((json, notes))
}

fn run(cli: Cli) -> Result<(String, String), String> {
    match cli.command {
        Command::Mib { file } => {
            let bytes = read(&file, MAX_SNMPREC_BYTES)?;
            let mapped = map_snmprec(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            print(&mapped, &file)
        }
        Command::Ipp { file } => {
            let attributes = printfleet_sources::ipp::parse(&read(&file, MAX_IPP_BYTES)?)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            print(&printfleet_sources::ipp::map(&attributes), &file)
        }
        Command::Ledm { dir } => {
            let mut findings = Vec::new();
            let docs = ledm(&dir, &mut findings)?;
            let mut mapped = printfleet_sources::ledm::map(&docs);
            findings.append(&mut mapped.findings);
            mapped.findings = findings;
            print(&mapped, &dir)
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok((json, notes)) => {
            eprint!("{notes}");
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("printfleet: {message}");
            ExitCode::FAILURE
        }
    }
}
