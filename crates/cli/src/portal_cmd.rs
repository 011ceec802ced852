//! `printfleet portal` and `printfleet device ...`: thin wrappers around
//! `printfleet_cli::portal`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use clap::{Args, Subcommand};
use printfleet_cli::collect::Clock;
use printfleet_cli::portal::{self, CA_CERT_FILE, Db, DeviceSpec, PortalConfig, RunningPortal};
use printfleet_ingest::{CustomerId, ResellerId};
use printfleet_meter::{ContractId, DeviceId};

/// `printfleet portal`.
#[derive(Debug, Args)]
pub(crate) struct PortalArgs {
    /// The database: `sqlite:PATH`, or `postgres://...` (feature `postgres`).
    #[arg(long)]
    db: String,
    /// The state directory (keys, CA and certificates; created on first start).
    #[arg(long)]
    state: PathBuf,
    /// Where HTTPS listens (port 0: the OS chooses; the JSON line says which).
    #[arg(long, default_value = "127.0.0.1:8443")]
    https: SocketAddr,
    /// Where the session-mode link (TLS TCP) listens.
    #[arg(long, default_value = "127.0.0.1:8444")]
    tcp: SocketAddr,
    /// One's own certificate chain (PEM) instead of the generated one (with --key).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// How long a client may take to send a request's headers (and its body), ms.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// How long a client may take to complete TLS, ms.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    tls_timeout_ms: u64,
    /// How long a collector may take from `Hello` to `ClientFinal` on a link channel, ms (real
    /// time, whatever `--clock-speed` says); a link connection without a checked proof after
    /// three times this is closed.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    link_handshake_timeout_ms: u64,
    /// How long a link connection may stay silent, ms.
    #[arg(long, default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// How often the device registry is reloaded from the database, ms (at least 100).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(100..))]
    registry_refresh_ms: u64,
    #[command(flatten)]
    test_clock: TestClockArgs,
}

/// The test harnesses' options of `printfleet portal` and `printfleet collect`.
#[derive(Debug, Args)]
pub(crate) struct TestClockArgs {
    /// Tests: protocol time (frame clock-skew checks, session lifetimes) runs this many times
    /// faster than real time (give the portal and the collector the same speed and origin).
    #[arg(long, default_value_t = 1)]
    clock_speed: u32,
    /// Tests: where simulated time starts (Unix milliseconds; default now). Give a restarted
    /// process the same origin so that its clock goes on where it was.
    #[arg(long)]
    clock_origin: Option<u64>,
    /// Stop (exit 0, as on SIGTERM) after this many seconds of real time: a bound for test
    /// harnesses, so that a process whose harness died does not run on.
    #[arg(long)]
    run_for: Option<f64>,
}

impl TestClockArgs {
    /// The accelerated clock asked for; `None` for real time (speed 1, no origin).
    pub(crate) fn clock(&self) -> Result<Option<Clock>, String> {
        let origin = match self.clock_origin {
            Some(ms) => {
                Some(printfleet_schema::Timestamp::from_unix_millis(ms).map_err(|e| format!("--clock-origin: {e}"))?)
            }
            None => None,
        };
        if self.clock_speed == 1 && origin.is_none() {
            return Ok(None);
        }
        Clock::accelerated(self.clock_speed, origin).map(Some).map_err(|e| e.to_string())
    }

    /// The `--run-for` bound.
    pub(crate) fn run_for(&self) -> Result<Option<Duration>, String> {
        self.run_for.map(|s| Duration::try_from_secs_f64(s).map_err(|e| format!("--run-for: {e}"))).transpose()
    }
}

/// `printfleet device ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// Provision a device; prints its secret (base64) once, as JSON.
    Add {
        /// The device's name.
        name: String,
        /// The reseller's id.
        #[arg(long)]
        reseller: u64,
        /// The customer's id.
        #[arg(long)]
        customer: u64,
        /// The contract it is billed under.
        #[arg(long)]
        contract: u64,
        /// The position it is metered under (default: its sender id).
        #[arg(long)]
        meter_device: Option<u64>,
        /// The collector (a name provisioned before, with `device add`) that may report this
        /// device in bundles, one frame for all its devices (docs/wire-format.md §5.9).
        #[arg(long, value_name = "NAME")]
        collector: Option<String>,
        #[command(flatten)]
        at: StoreArgs,
    },
    /// Give a device its next key epoch (a Data Collector that lost its state database, a
    /// board or secret replaced); prints the new secret (base64) and epoch once, as JSON, as
    /// `add` does. Put both in the collector's config: its frames then start a new sequence
    /// under the new key. The earlier epochs stay valid unless `--revoke-previous`.
    Rekey {
        /// The device's name.
        name: String,
        /// Revoke every earlier epoch (their secrets may be in someone else's hands: a
        /// collector lost with its machine).
        #[arg(long)]
        revoke_previous: bool,
        #[command(flatten)]
        at: StoreArgs,
    },
    /// Revoke a device: its frames and handshakes are refused.
    Revoke {
        /// The device's name.
        name: String,
        #[command(flatten)]
        at: StoreArgs,
    },
    /// Name the collector that may report a device in bundles (a printer moved to another
    /// site, a Data Collector replaced), or none.
    SetCollector {
        /// The device's name.
        name: String,
        /// The collector's name (provisioned with `device add`).
        #[arg(long, value_name = "NAME", conflicts_with = "none", required_unless_present = "none")]
        collector: Option<String>,
        /// No collector: only the device itself reports it.
        #[arg(long)]
        none: bool,
        #[command(flatten)]
        at: StoreArgs,
    },
    /// List the devices, one JSON line each (no secrets).
    List {
        #[command(flatten)]
        at: StoreArgs,
    },
}

/// Where the registry is.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The database: `sqlite:PATH` or `postgres://...` (feature `postgres`).
    #[arg(long)]
    db: String,
    /// The portal's state directory (its master key).
    #[arg(long)]
    state: PathBuf,
}

/// The JSON line of a device's new secret (shown once: `device add`, `device rekey`).
fn secret_line(name: &str, p: &portal::Provisioned) -> String {
    let secret = base64::engine::general_purpose::STANDARD.encode(&*p.secret.to_bytes());
    let line = serde_json::json!({ "name": name, "sender": p.sender.0, "epoch": p.epoch.0, "secret": secret });
    format!("{line}\n")
}

fn logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// Runs the portal until SIGTERM or Ctrl-C.
pub(crate) fn portal(args: PortalArgs) -> Result<(), String> {
    logs();
    let db = Db::parse(&args.db).map_err(|e| e.to_string())?;
    let run_for = args.test_clock.run_for()?;
    let ms = Duration::from_millis;
    let mut config = PortalConfig::new(db, &args.state)
        .https_listen(args.https)
        .tcp_listen(args.tcp)
        .header_timeout(ms(args.header_timeout_ms))
        .tls_handshake_timeout(ms(args.tls_timeout_ms))
        .link_handshake_timeout(ms(args.link_handshake_timeout_ms))
        .idle_timeout(ms(args.idle_timeout_ms))
        .registry_refresh(ms(args.registry_refresh_ms));
    if let Some(clock) = args.test_clock.clock()? {
        config = config.clock(Arc::new(move || clock.now()));
    }
    let ca = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            config = config.cert(cert, key);
            cert.clone()
        }
        _ => args.state.join(CA_CERT_FILE),
    };
    let signals = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let portal = RunningPortal::start(config).map_err(|e| e.to_string())?;
    let line = serde_json::json!({
        "https": portal.https_addr().to_string(),
        "tcp": portal.tcp_addr().to_string(),
        "ca": ca.display().to_string(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    drop(stdout);
    signals.block_on(async {
        let deadline = async {
            match run_for {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = deadline => {}
            _ = stop_signal() => {}
        }
    });
    tracing::info!("stopping");
    portal.shutdown();
    Ok(())
}

/// SIGTERM or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs a `device` command; returns what to print.
pub(crate) fn device(command: DeviceCommand) -> Result<String, String> {
    let open = |at: &StoreArgs| open(&at.db);
    match command {
        DeviceCommand::Add { name, reseller, customer, contract, meter_device, collector, at } => {
            let mut store = open(&at)?;
            let meter_device = meter_device.unwrap_or(printfleet_auth::sender_id_of(&name).0);
            let spec = DeviceSpec {
                name: name.clone(),
                reseller: ResellerId(reseller),
                customer: CustomerId(customer),
                contract: ContractId(contract),
                meter_device: DeviceId(meter_device),
                collector,
            };
            let p = portal::provision(&at.state, &mut *store, spec).map_err(|e| e.to_string())?;
            Ok(secret_line(&name, &p))
        }
        DeviceCommand::Rekey { name, revoke_previous, at } => {
            let mut store = open(&at)?;
            let p = portal::rekey(&at.state, &mut *store, &name, revoke_previous).map_err(|e| e.to_string())?;
            Ok(secret_line(&name, &p))
        }
        DeviceCommand::Revoke { name, at } => {
            let mut store = open(&at)?;
            let sender = portal::revoke(&mut *store, &name).map_err(|e| e.to_string())?;
            Ok(format!("{}\n", serde_json::json!({ "name": name, "sender": sender.0, "revoked": true })))
        }
        DeviceCommand::SetCollector { name, collector, none: _, at } => {
            let mut store = open(&at)?;
            let sender = portal::set_collector(&mut *store, &name, collector.as_deref()).map_err(|e| e.to_string())?;
            Ok(format!("{}\n", serde_json::json!({ "name": name, "sender": sender.0, "collector": collector })))
        }
        DeviceCommand::List { at } => {
            let mut store = open(&at)?;
            let mut out = String::new();
            for d in portal::devices(&mut *store).map_err(|e| e.to_string())? {
                let epochs: Vec<_> = d
                    .credentials
                    .iter()
                    .map(|c| {
                        serde_json::json!({ "epoch": c.epoch.0, "revoked": c.revoked, "session": c.verifier.is_some() })
                    })
                    .collect();
                let line = serde_json::json!({
                    "name": d.name,
                    "sender": d.sender().0,
                    "reseller": d.owner.reseller.0,
                    "customer": d.owner.customer.0,
                    "contract": d.owner.contract.0,
                    "meter_device": d.meter_device.0,
                    "revoked": d.revoked,
                    "epochs": epochs,
                    "collector": d.collector.map(|c| c.0),
                });
                out.push_str(&format!("{line}\n"));
            }
            Ok(out)
        }
    }
}

/// `printfleet contract ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ContractCommand {
    /// Add a contract: its terms (`printfleet_meter::Terms` as JSON) from a date on.
    Set {
        /// The contract's id.
        id: u64,
        /// The terms file (JSON).
        #[arg(long)]
        terms: PathBuf,
        /// The first day it applies (YYYY-MM-DD, UTC).
        #[arg(long)]
        starts: String,
        #[command(flatten)]
        at: DbArgs,
    },
}

/// The database only.
#[derive(Debug, Args)]
pub(crate) struct DbArgs {
    /// The database: `sqlite:PATH` or `postgres://...` (feature `postgres`).
    #[arg(long)]
    db: String,
}

/// `printfleet bill`.
#[derive(Debug, Args)]
pub(crate) struct BillArgs {
    /// The month to bill (YYYY-MM); it must be over.
    #[arg(long)]
    period: String,
    /// The database: `sqlite:PATH` or `postgres://...` (feature `postgres`).
    #[arg(long)]
    db: String,
    /// Where usage.csv and invoices.csv go.
    #[arg(long)]
    out: PathBuf,
    /// The instant the closing is dated, `YYYY-MM-DD` (00:00 UTC; default now): it must be after
    /// the period's end. For a re-run dated as the original, and for tests on a simulated clock.
    #[arg(long)]
    at: Option<String>,
}

fn open(db: &str) -> Result<Box<dyn printfleet_store::Store + Send>, String> {
    Db::parse(db).and_then(|db| db.open()).map_err(|e| e.to_string())
}

/// Runs `contract set`.
pub(crate) fn contract(command: ContractCommand) -> Result<String, String> {
    use printfleet_cli::billing;
    match command {
        ContractCommand::Set { id, terms, starts, at } => {
            let terms = billing::read_terms(&terms).map_err(|e| e.to_string())?;
            let starts_at = billing::parse_date(&starts).map_err(|e| e.to_string())?;
            let mut store = open(&at.db)?;
            billing::set_contract(&mut *store, ContractId(id), terms, starts_at).map_err(|e| e.to_string())?;
            Ok(format!("{}\n", serde_json::json!({ "contract": id, "starts": starts })))
        }
    }
}

/// Runs `bill`.
pub(crate) fn bill(args: BillArgs) -> Result<String, String> {
    use printfleet_cli::billing;
    let month = billing::parse_month(&args.period).map_err(|e| e.to_string())?;
    let mut store = open(&args.db)?;
    let now = match &args.at {
        Some(day) => billing::parse_date(day).map_err(|e| format!("--at: {e}"))?,
        None => printfleet_schema::Timestamp::try_from(std::time::SystemTime::now()).map_err(|e| e.to_string())?,
    };
    let billed = billing::bill(&mut *store, month, now, &args.out).map_err(|e| e.to_string())?;
    let total: u64 = billed.invoices.iter().map(|i| i.total.0).fold(0, u64::saturating_add);
    let line = serde_json::json!({
        "period": args.period,
        "contracts": billed.contracts.iter().map(|c| c.0).collect::<Vec<_>>(),
        "readings": billed.readings,
        "jobs": billed.jobs,
        "discrepancies": billed.discrepancies.len(),
        "usage_lines": billed.usage.len(),
        "invoices": billed.invoices.len(),
        "skipped": billed.skipped.iter().map(|(name, why)| serde_json::json!({"device": name, "reason": why})).collect::<Vec<_>>(),
        "total_minor_units": total,
        "usage": args.out.join(billing::USAGE_FILE).display().to_string(),
        "invoices_csv": args.out.join(billing::INVOICES_FILE).display().to_string(),
    });
    Ok(format!("{line}\n"))
}
