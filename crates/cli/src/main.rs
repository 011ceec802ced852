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

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use printfleet_sources::snmp::Bindings;
use printfleet_sources::snmp::printer_mib::map_report;

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

fn ledm(dir: &std::path::Path) -> Result<printfleet_sources::ledm::Documents, String> {
    use printfleet_sources::ledm::{Documents, Element};
    let load = |name: &str| -> Result<Option<Element>, String> {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Element::parse(&bytes).map(Some).map_err(|e| format!("{}: {e}", path.display())),
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

fn read(file: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))
}

fn print(report: &printfleet_schema::DeviceReport, source: &std::path::Path) -> Result<String, String> {
    report.validate().map_err(|e| format!("{}: mapped report is invalid: {e}", source.display()))?;
    serde_json::to_string_pretty(report).map_err(|e| e.to_string())
}

fn run(cli: Cli) -> Result<String, String> {
    match cli.command {
        Command::Mib { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let bindings = Bindings::from_snmprec(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            print(&map_report(&bindings), &file)
        }
        Command::Ipp { file } => {
            let attributes =
                printfleet_sources::ipp::parse(&read(&file)?).map_err(|e| format!("{}: {e}", file.display()))?;
            print(&printfleet_sources::ipp::map_report(&attributes), &file)
        }
        Command::Ledm { dir } => print(&printfleet_sources::ledm::map_report(&ledm(&dir)?), &dir),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("printfleet: {message}");
            ExitCode::FAILURE
        }
    }
}
