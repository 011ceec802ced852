//! `printfleet`: the command line of the printfleet crates.
//!
//! `printfleet mib FILE.snmprec` prints the device report that a printer's SNMP walk (an snmprec
//! capture, as snmpsim serves and `snmpwalk`-based tools record) maps to, as JSON, so that an
//! integrator can check a printer in seconds.

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
}

fn run(cli: Cli) -> Result<String, String> {
    match cli.command {
        Command::Mib { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let bindings = Bindings::from_snmprec(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let report = map_report(&bindings);
            report.validate().map_err(|e| format!("{}: mapped report is invalid: {e}", file.display()))?;
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
        }
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
