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
//!   `ConsumableConfigDyn.xml`, `ProductUsageDyn.xml`, `ProductStatusDyn.xml`);
//! * `printfleet cdm DIR`: a folder of HP CDM documents, each named after its endpoint
//!   (`cdm_system_v1_identity.json`, `cdm_supply_v1_suppliesPublic.json`, ...).
//!
//! And over the network (`printfleet_lan`):
//!
//! * `printfleet discover RANGE...`: asks every address over SNMP and prints the printers found
//!   as JSON lines (address, identity by serial number and MAC, and with `--inventory FILE`
//!   whether each is new, unchanged or moved from another address);
//! * `printfleet poll TARGET...`: reads each printer (an address or range over SNMP,
//!   `ipp://`/`ipps://` over IPP, `ledm+http://`/`ledm+https://` over LEDM,
//!   `cdm+https://`/`cdm+http://` over HP's CDM) and prints one
//!   JSON line per printer with its mapped report; failures go to stderr, counted by kind.
//!
//! The Data Collector:
//!
//! * `printfleet collect --config FILE --init` creates the collector's state database (once);
//!   `printfleet collect --config FILE [--clock-speed N] [--clock-origin MS] [--run-for S]`:
//!   reads the configured printers and reports them to the portal, in session mode or one-shot
//!   HTTPS, with its state kept crash-safe (`printfleet_cli::collect`); logs on stderr.
//!
//! The main job:
//!
//! * `printfleet demo [--printers N] [--days D] [--seed S] [--db sqlite:PATH] [--out DIR]
//!   [--check]`: a simulated fleet through the whole stack, checked from the store
//!   (`printfleet_cli::demo`); `--check` exits 1 unless every check holds.
//!
//! The portal (`printfleet_cli::portal`, see docs/portal.md):
//!
//! * `printfleet portal --db sqlite:PATH --state DIR [--https ADDR] [--tcp ADDR]`: serves
//!   `POST /v1/frames`, `/healthz` and `/metrics` over HTTPS and the session-mode link over TLS
//!   TCP; prints `{"https","tcp","ca"}` once listening; stops on SIGTERM or Ctrl-C;
//! * `printfleet device add|rekey|revoke|set-collector|list`: provisioning against the portal's database;
//! * `printfleet contract set ID --terms FILE.json --starts YYYY-MM-DD` and
//!   `printfleet bill --period YYYY-MM --db ... --out DIR`: billing through printfleet-meter.
//!
//! And for integrators testing their own implementation (`printfleet_cli::tools`):
//!
//! * `printfleet keygen --master --out FILE`: a fleet master key (32 bytes from the operating
//!   system, base64, mode 0600; never overwritten; printed only with `--stdout`);
//!   `printfleet keygen --device NAME --epoch N --master-key FILE`: that device's one-shot secret,
//!   derived as the portal derives it, in base64;
//! * `printfleet seal --key SECRET|@FILE --device NAME --epoch N --state FILE [--kind
//!   report|update] [--codec protobuf|xml|json] [--out FRAME] INPUT.json`: a report (schema
//!   JSON) or an update (`printfleet_cli::tools::json`) sealed into a real one-shot frame, base64
//!   on stdout or binary to `--out`; the state file holds the device's sequence numbers (saved
//!   before each frame is sealed: keep it, or the portal refuses the next frame as a replay);
//! * `printfleet open --key ... --device NAME --epoch N [--direction device|portal] FRAME`: the
//!   header and the decoded payload as JSON (every check but replay and clock: it keeps no state);
//! * `printfleet inspect FILE [--key ... --device NAME]`: what the file is, as JSON: a sealed
//!   frame's header (and with the key its payload), or a report, update or reply in protobuf,
//!   XML or JSON. Garbage gets an error and status 1.
//!
//! `discover` and `poll` take `--community` or SNMPv3 credentials (`--v3-user` ...), and `--config FILE` (JSON,
//! see `printfleet_lan::config::ConfigFile`); the command line overrides the file. Prefer the
//! file for passphrases: a command line is visible to every user of the machine.
//!
//! The report goes to stdout; what the mapping could not find or had to repair (no page
//! counter, a line skipped, a disputed meter ...) goes to stderr, one finding a line, followed
//! by where each meter reading came from. Every input is read with a cap: a file larger than its
//! limit is refused after reading at most limit + 1 bytes.

mod portal_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc instead of the system allocator: the portal and the demo allocate and free many
/// small buffers per frame across threads, where glibc's malloc spent about a third of the
/// demo's CPU time (see the CHANGELOG).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use printfleet_lan::config::{ConfigFile, MAX_CONFIG_BYTES, PollConfig, Secret, SnmpCredentials, V3Credentials};
use printfleet_lan::identity::Inventory;
use printfleet_lan::poll::PollTarget;
use printfleet_lan::target::Targets;
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

/// `printfleet demo`'s options (see `printfleet_cli::demo`).
#[derive(Debug, Args)]
struct DemoArgs {
    /// Printers simulated.
    #[arg(long, default_value_t = printfleet_cli::demo::DEFAULT_PRINTERS)]
    printers: u32,
    /// Days simulated.
    #[arg(long, default_value_t = printfleet_cli::demo::DEFAULT_DAYS)]
    days: u32,
    /// The simulation's seed (a simulation seed, never key material).
    #[arg(long, default_value_t = printfleet_cli::demo::DEFAULT_SEED)]
    seed: u64,
    /// Simulated minutes per step (1 to 180): agents due within a step wake at its end.
    #[arg(long, default_value_t = printfleet_cli::demo::DEMO_STEP.0 / 60_000)]
    step_minutes: u64,
    /// Each collector sends its printers' frames on sessions of their own, not in bundles
    /// under its own session (for comparison: bundles are what a collector should use).
    #[arg(long)]
    no_bundles: bool,
    /// The portal's database, `sqlite:PATH` (a new one; default: in a temporary directory).
    #[arg(long)]
    db: Option<String>,
    /// Where usage.csv, invoices.csv and chart.svg go.
    #[arg(long, default_value = printfleet_cli::demo::DEFAULT_OUT)]
    out: PathBuf,
    /// Exit 1 unless every check holds (converged, jobs exactly once, billed = counters'
    /// advance, fewer bytes than the naive pipeline).
    #[arg(long)]
    check: bool,
}

/// Runs the demo; the exit code is 1 if `--check` and a check failed, 2 on an error.
fn demo(args: DemoArgs) -> ExitCode {
    let db = match args.db.as_deref().map(printfleet_cli::portal::Db::parse).transpose() {
        Ok(db) => db,
        Err(e) => {
            eprintln!("printfleet: --db: {e}");
            return ExitCode::from(2);
        }
    };
    let mut options = printfleet_cli::demo::DemoOptions::default();
    options.printers = args.printers;
    options.days = args.days;
    options.seed = args.seed;
    options.step = printfleet_schema::DurationMs(args.step_minutes.saturating_mul(60_000));
    options.bundles = !args.no_bundles;
    options.db = match db {
        Some(printfleet_cli::portal::Db::Sqlite(path)) => Some(path),
        Some(_) => {
            eprintln!("printfleet: --db: the demo runs on SQLite (sqlite:PATH)");
            return ExitCode::from(2);
        }
        None => None,
    };
    options.out = args.out;
    options.progress = true;
    match printfleet_cli::demo::run(&options) {
        Ok(report) => {
            println!("{report}");
            if args.check && !report.checks.passed() {
                for failure in report.checks.failures() {
                    eprintln!("printfleet demo: check failed: {failure}");
                }
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("printfleet: demo: {e}");
            ExitCode::from(2)
        }
    }
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
    /// Map a folder of HP CDM documents to a device report and print it as JSON. Each document
    /// is named after its endpoint, `/` as `_`: cdm_system_v1_identity.json,
    /// cdm_supply_v1_suppliesPublic.json, cdm_deviceUsage_v1_lifetimeCounters.json,
    /// cdm_alert_v1_alerts.json, cdm_system_v1_status.json, cdm_print_v2_status.json (any may
    /// be missing).
    Cdm {
        /// The folder.
        dir: PathBuf,
    },
    /// Ask every address of the ranges over SNMP and print the printers found, one JSON line
    /// each.
    Discover {
        /// Addresses and ranges: `a.b.c.d`, `a.b.c.d/n`, `a.b.c.d-e.f.g.h` (added to the config
        /// file's `targets`).
        ranges: Vec<String>,
        /// An inventory file (JSON): devices are matched by serial number and MAC, a printer at
        /// a new address is reported as moved, and the file is updated.
        #[arg(long)]
        inventory: Option<PathBuf>,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Run the portal: HTTPS (`POST /v1/frames`, `/healthz`, `/metrics`) and the session-mode
    /// link, on a database; prints one JSON line when listening; stops on SIGTERM or Ctrl-C.
    Portal(portal_cmd::PortalArgs),
    /// Provision, revoke and list devices in the portal's database.
    Device {
        #[command(subcommand)]
        command: portal_cmd::DeviceCommand,
    },
    /// Contracts' terms for billing.
    Contract {
        #[command(subcommand)]
        command: portal_cmd::ContractCommand,
    },
    /// Close a month for every contract: usage.csv and invoices.csv through printfleet-meter,
    /// the closing recorded in the database.
    Bill(portal_cmd::BillArgs),
    /// The main job: a simulated fleet through the whole stack (agents, sealed frames over the
    /// portal's HTTPS and session link on 127.0.0.1, SQLite, the meter), checked from the
    /// store; prints a summary and writes usage.csv, invoices.csv and chart.svg.
    Demo(DemoArgs),
    /// Read printers and print each one's mapped report, one JSON line each.
    Poll {
        /// Addresses or ranges (SNMP), `snmp://a.b.c.d:port`, `ipp://host[:port]/path`,
        /// `ipps://...`, `ledm+http://host[:port]`, `ledm+https://...`, `cdm+https://host[:port]`,
        /// `cdm+http://...`.
        targets: Vec<String>,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Run the Data Collector: read the configured printers, report them to the portal, keep
    /// the state crash-safe (see `printfleet_cli::collect` for the config file).
    Collect {
        /// The collector's config file (JSON).
        #[arg(long)]
        config: PathBuf,
        /// Create the collector's state database, then exit (once, when the collector is
        /// installed; refused if it exists). Without it the state database must exist: a
        /// collector that lost its state needs new key epochs for its one-shot printers first
        /// (`printfleet device rekey`).
        #[arg(long)]
        init: bool,
        #[command(flatten)]
        test_clock: portal_cmd::TestClockArgs,
    },
    /// Make a fleet master key, or derive a device's one-shot secret from one.
    Keygen(printfleet_cli::tools::KeygenArgs),
    /// Seal a report or update (JSON) into a one-shot frame of a device, as the device would.
    Seal(printfleet_cli::tools::SealArgs),
    /// Open a frame and print its header and decoded payload as JSON. Checks everything a
    /// receiver checks except replay and the clock: it keeps no state, so a frame that opens
    /// here may still be refused by a portal that has seen it.
    Open(printfleet_cli::tools::OpenArgs),
    /// Say what a file is (a sealed frame, or a report, update or reply in protobuf, XML or JSON)
    /// and print it as JSON: a frame's header, and with --key its payload.
    Inspect(printfleet_cli::tools::InspectArgs),
}

/// How to reach printers (overrides `--config`).
#[derive(Debug, Args)]
struct NetArgs {
    /// A JSON config file (targets, exclude, community, v3, snmp_port, timeout_ms, retries,
    /// deadline_ms, concurrency, tls_verify).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Leave out these addresses or ranges.
    #[arg(long)]
    exclude: Vec<String>,
    /// SNMPv2c community.
    #[arg(long)]
    community: Option<String>,
    /// SNMPv3 user (authPriv; with the four options below).
    #[arg(long)]
    v3_user: Option<String>,
    /// SNMPv3 authentication protocol: sha1, sha224, sha256, sha384, sha512.
    #[arg(long, default_value = "sha256")]
    v3_auth_protocol: String,
    /// SNMPv3 authentication passphrase.
    #[arg(long)]
    v3_auth_password: Option<String>,
    /// SNMPv3 privacy protocol: aes128, aes192, aes256.
    #[arg(long, default_value = "aes128")]
    v3_priv_protocol: String,
    /// SNMPv3 privacy passphrase.
    #[arg(long)]
    v3_priv_password: Option<String>,
    /// SNMP port.
    #[arg(long)]
    snmp_port: Option<u16>,
    /// Per-request timeout in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Retries after a timeout.
    #[arg(long)]
    retries: Option<u32>,
    /// The longest one printer's read may take, in milliseconds (all its requests and retries;
    /// default 120000).
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Printers asked at once.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Do not verify HTTPS certificates (printers' are mostly self-signed).
    #[arg(long)]
    insecure: bool,
}

impl NetArgs {
    /// The config file (if any) with the command line over it, and the file's targets.
    fn load(&self) -> Result<(PollConfig, ConfigFile), String> {
        let file = match &self.config {
            Some(path) => {
                ConfigFile::parse(&read(path, MAX_CONFIG_BYTES)?).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => ConfigFile::default(),
        };
        let mut c = file.poll_config();
        if let Some(user) = &self.v3_user {
            let (Some(auth), Some(privacy)) = (&self.v3_auth_password, &self.v3_priv_password) else {
                return Err("--v3-user needs --v3-auth-password and --v3-priv-password (authPriv)".into());
            };
            c.credentials = SnmpCredentials::V3(V3Credentials {
                user: user.clone(),
                auth_protocol: self.v3_auth_protocol.parse().map_err(|e| format!("{e}"))?,
                auth_password: Secret::new(auth.as_bytes()),
                priv_protocol: self.v3_priv_protocol.parse().map_err(|e| format!("{e}"))?,
                priv_password: Secret::new(privacy.as_bytes()),
            });
        } else if let Some(community) = &self.community {
            c.credentials = SnmpCredentials::V2c { community: Secret::new(community.as_bytes()) };
        }
        c.snmp_port = self.snmp_port.unwrap_or(c.snmp_port);
        c.timeout = self.timeout_ms.map_or(c.timeout, std::time::Duration::from_millis);
        c.retries = self.retries.unwrap_or(c.retries);
        c.deadline = self.deadline_ms.map_or(c.deadline, std::time::Duration::from_millis);
        c.concurrency = self.concurrency.unwrap_or(c.concurrency);
        if self.insecure {
            c.tls_verify = false;
        }
        c.check().map_err(|e| e.to_string())?;
        Ok((c, file))
    }

    fn exclusions<'a>(&'a self, file: &'a ConfigFile) -> impl Iterator<Item = &'a String> {
        file.exclude.iter().chain(&self.exclude)
    }
}

/// A JSON line of `printfleet poll`.
#[derive(serde::Serialize)]
struct PollLine<'a> {
    target: String,
    protocol: &'static str,
    device: Option<&'a printfleet_lan::DeviceKey>,
    report: &'a printfleet_schema::DeviceReport,
}

/// Runs `discover` or `poll`: JSON lines for stdout, notes for stderr, and whether every
/// target was read (poll) .
fn network(command: Command) -> Result<(String, String, bool), String> {
    let mut out = String::new();
    let mut notes = String::new();
    match command {
        Command::Discover { ranges, inventory, net } => {
            let (config, file) = net.load()?;
            let mut targets = Targets::default();
            for spec in file.targets.iter().chain(&ranges) {
                targets.include(spec).map_err(|e| e.to_string())?;
            }
            for spec in net.exclusions(&file) {
                targets.exclude(spec).map_err(|e| e.to_string())?;
            }
            let addresses = targets.expand().map_err(|e| e.to_string())?;
            let mut inv = match &inventory {
                Some(path) if path.exists() => serde_json::from_slice::<Inventory>(&read(path, MAX_INVENTORY_BYTES)?)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
                _ => Inventory::default(),
            };
            let round = printfleet_lan::discover(&addresses, &config, &mut inv);
            for printer in &round.printers {
                out.push_str(&serde_json::to_string(printer).map_err(|e| e.to_string())?);
                out.push('\n');
            }
            notes.push_str(&format!(
                "printfleet: discover: {} addresses: {} printers; {}\n",
                addresses.len(),
                round.printers.len(),
                round.tally
            ));
            if let Some(path) = &inventory {
                let json = serde_json::to_vec_pretty(&inv).map_err(|e| e.to_string())?;
                std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok((out, notes, true))
        }
        Command::Poll { targets: specs, net } => {
            let (config, file) = net.load()?;
            let mut targets = Vec::new();
            let mut ranges = Targets::default();
            let mut any_range = false;
            for spec in file.targets.iter().chain(&specs) {
                match PollTarget::parse(spec, config.snmp_port) {
                    Ok(t) => targets.push(t),
                    Err(e) => {
                        ranges.include(spec).map_err(|_| e.to_string())?;
                        any_range = true;
                    }
                }
            }
            if any_range {
                for spec in net.exclusions(&file) {
                    ranges.exclude(spec).map_err(|e| e.to_string())?;
                }
                let port = config.snmp_port;
                targets.extend(
                    ranges.expand().map_err(|e| e.to_string())?.into_iter().map(|a| PollTarget::Snmp((a, port).into())),
                );
            }
            if targets.is_empty() {
                return Err("poll: no target".into());
            }
            let round = printfleet_lan::poll_round(&targets, &config);
            for outcome in &round.outcomes {
                let target = outcome.target.to_string();
                match &outcome.result {
                    Ok(polled) => {
                        let line = PollLine {
                            target: target.clone(),
                            protocol: outcome.target.protocol(),
                            device: polled.device.as_ref(),
                            report: &polled.mapped.report,
                        };
                        out.push_str(&serde_json::to_string(&line).map_err(|e| e.to_string())?);
                        out.push('\n');
                        match print(&polled.mapped, Path::new(&target)) {
                            Ok((_, mapped_notes)) => notes.push_str(&mapped_notes),
                            Err(message) => notes.push_str(&format!("printfleet: {message}\n")),
                        }
                    }
                    Err(f) => notes.push_str(&format!("printfleet: {target}: {}: {f}\n", f.kind())),
                }
            }
            notes.push_str(&format!("printfleet: poll: {} targets: {}\n", targets.len(), round.tally));
            Ok((out, notes, round.tally.failed() == 0))
        }
        _ => Err("not a network command".into()),
    }
}

/// Most bytes of an inventory file read (65 536 devices at about 200 bytes each, with room).
const MAX_INVENTORY_BYTES: usize = 64 << 20;

/// Reads a file, at most `limit` bytes (refused after reading limit + 1).
fn read(file: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    read_capped(f, limit).map_err(|e| format!("{}: {e}", file.display()))
}

/// Reads a file of a folder of documents, at most `limit` bytes: `None` if it is not there.
fn read_document(path: &Path, limit: usize) -> Result<Option<Vec<u8>>, String> {
    match std::fs::File::open(path) {
        Ok(f) => read_capped(f, limit).map(Some).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn ledm(dir: &Path, findings: &mut Vec<Finding>) -> Result<Documents, String> {
    let mut load = |name: &str| -> Result<Option<Element>, String> {
        let path = dir.join(name);
        let Some(bytes) = read_document(&path, MAX_LEDM_BYTES)? else { return Ok(None) };
        let (element, repaired) = Element::parse_repairing(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        findings.extend(repaired);
        Ok(Some(element))
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

fn cdm(dir: &Path) -> Result<printfleet_sources::cdm::Documents, String> {
    use printfleet_sources::cdm::{Document, Documents, Endpoint, MAX_CDM_BYTES};
    let mut docs = Documents::default();
    for endpoint in Endpoint::ALL {
        let path = dir.join(endpoint.file_name());
        let Some(bytes) = read_document(&path, MAX_CDM_BYTES)? else { continue };
        docs.insert(*endpoint, Document::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if !docs.recognised() {
        return Err(format!(
            "{}: no CDM document a printer serves (cdm_system_v1_identity.json, ...) in this folder",
            dir.display()
        ));
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
        Command::Cdm { dir } => print(&printfleet_sources::cdm::map(&cdm(&dir)?), &dir),
        Command::Discover { .. }
        | Command::Poll { .. }
        | Command::Collect { .. }
        | Command::Portal(_)
        | Command::Device { .. }
        | Command::Contract { .. }
        | Command::Bill(_)
        | Command::Demo(_) => Err("network commands run through network(), collect() or portal_cmd".into()),
        Command::Keygen(_) | Command::Seal(_) | Command::Open(_) | Command::Inspect(_) => {
            Err("tools run through tools()".into())
        }
    }
}

/// `printfleet collect`: progress and problems on stderr.
fn collect(config: &Path, init: bool, test_clock: &portal_cmd::TestClockArgs) -> Result<(), String> {
    use printfleet_cli::collect::{Clock, CollectorConfig, RunOptions, StateStore, run};
    let plan =
        CollectorConfig::read(config).and_then(|c| c.check()).map_err(|e| format!("{}: {e}", config.display()))?;
    if init {
        StateStore::create(&plan.state).map_err(|e| e.to_string())?;
        eprintln!("state database created: {} (start the collector without --init)", plan.state.display());
        return Ok(());
    }
    let clock = test_clock.clock()?.unwrap_or_else(Clock::real);
    let run_for = test_clock.run_for()?;
    let stop = std::sync::atomic::AtomicBool::new(false);
    run(&plan, &RunOptions { clock, run_for }, &stop, &mut std::io::stderr()).map(|_| ()).map_err(|e| e.to_string())
}

/// `keygen`, `seal`, `open`, `inspect`: the result on stdout, notes on stderr.
fn tools(command: &Command) -> Option<ExitCode> {
    use printfleet_cli::tools;
    let result = match command {
        Command::Keygen(args) => tools::keygen(args),
        Command::Seal(args) => tools::seal(args),
        Command::Open(args) => tools::open(args),
        Command::Inspect(args) => tools::inspect(args),
        _ => return None,
    };
    Some(match result {
        Ok(printed) => {
            eprint!("{}", printed.notes);
            print!("{}", printed.stdout);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("printfleet: {e}");
            ExitCode::FAILURE
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(code) = tools(&cli.command) {
        return code;
    }
    if let Command::Collect { config, init, test_clock } = &cli.command {
        return match collect(config, *init, test_clock) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("printfleet: {message}");
                ExitCode::FAILURE
            }
        };
    }
    match cli.command {
        Command::Portal(args) => return exit(portal_cmd::portal(args).map(|()| String::new())),
        Command::Device { command } => return exit(portal_cmd::device(command)),
        Command::Contract { command } => return exit(portal_cmd::contract(command)),
        Command::Bill(args) => return exit(portal_cmd::bill(args)),
        Command::Demo(args) => return demo(args),
        _ => {}
    }
    if matches!(cli.command, Command::Discover { .. } | Command::Poll { .. }) {
        // JSON lines; a poll with failures exits 1 after printing everything it read.
        return match network(cli.command) {
            Ok((out, notes, complete)) => {
                eprint!("{notes}");
                print!("{out}");
                if complete { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Err(message) => {
                eprintln!("printfleet: {message}");
                ExitCode::from(2)
            }
        };
    }
    match run(cli) {
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

/// Prints a command's output (or its error) and the exit code: 0, or 2 for an error.
fn exit(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("printfleet: {message}");
            ExitCode::from(2)
        }
    }
}
