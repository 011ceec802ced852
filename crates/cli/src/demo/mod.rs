//! `printfleet demo`: a simulated fleet through the whole stack over the network, checked from
//! the store.
//!
//! What it proves: `printfleet-sim`'s fleet (office lasers, inkjet MFPs, large-format printers,
//! with reboots, board replacements, address changes, special supply levels, clock drift,
//! silent devices and network loss) runs through the real agents (redaction, scheduling, the
//! save-before-send rule), sealed frames over the portal's real HTTPS and TLS link endpoints on
//! 127.0.0.1 (one-shot POSTs for direct devices; per collector site one link, on which the
//! site's collector sends bundles under its own SCRAM session, or with `--no-bundles` each
//! printer its frames under a session of its own), the portal's ingest actor with its SQLite
//! store, and the meter. Then, from the **store** (not from memory):
//!
//! * every device's stored state is its agent's current state (the portal converged);
//! * every job is stored exactly once ([`check_jobs`]), up to those a replaced board's agent
//!   had not seen acknowledged (they go with the board);
//! * the stored meter readings show each counter's true advance, up to what a counter reset
//!   hides, and no advance of a counter that never moved ([`check_counters`]); billing them
//!   with [`crate::billing::bill`] (what `printfleet bill` runs) bills exactly that on every
//!   device without a counter reset ([`check_billing`]);
//! * our bytes on the wire are below the naive pipeline's (serde_json + gzip + Fernet) on the
//!   same readings.
//!
//! The fleet runs on simulated time; the portal reads it through its injected clock
//! ([`crate::portal::PortalConfig::clock`]), so frame timestamps and SCRAM session lifetimes
//! are checked as in production, only faster.
//!
//! ```
//! use printfleet_cli::demo::{DemoOptions, run};
//!
//! let out = tempfile::tempdir()?;
//! let mut options = DemoOptions::default();
//! options.printers = 6;
//! options.days = 1;
//! options.out = out.path().to_path_buf();
//! let report = run(&options)?;
//! assert!(report.checks.passed(), "{:?}", report.checks.failures());
//! assert_eq!(report.checks.devices, 6);
//! assert!(out.path().join("chart.svg").is_file());
//! let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.path().join("summary.json"))?)?;
//! assert_eq!(summary["total"]["devices"], 6);
//! println!("{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checks;
mod net;
mod output;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use printfleet_ingest::{CustomerId, ResellerId};
use printfleet_meter::{
    Allowance, BillingPeriod, Category, CategoryTerms, ContractId, DeviceId, Invoice, MinorUnits, Observation, Price,
    Terms, Tier, UsageLine, export,
};
use printfleet_schema::{DurationMs, MeterKind, Timestamp};
use printfleet_sim::{Fleet, FleetConfig, Kind, RunOutcome, Site};
use printfleet_store::{SqliteStore, Store};

pub use checks::{CounterCheck, JobCheck, check_billing, check_counters, check_jobs, not_converged, stored_advance};
pub use net::NetCounters;

use crate::billing::{BillingError, INVOICES_FILE, USAGE_FILE, bill, set_contract};
use crate::portal::{Db, DeviceSpec, PortalConfig, PortalCounters, PortalError, RunningPortal, provision_many};

/// Printers simulated unless `--printers` says otherwise.
pub const DEFAULT_PRINTERS: u32 = 1_000;
/// Days simulated unless `--days` says otherwise.
pub const DEFAULT_DAYS: u32 = 30;
/// The simulation's seed unless `--seed` says otherwise (it seeds the simulated fleet, never a
/// key: the portal's keys, the devices' secrets and every IV come from the OS's generator).
pub const DEFAULT_SEED: u64 = 2026;
/// Where the CSV files and the chart go unless `--out` says otherwise.
pub const DEFAULT_OUT: &str = "demo-out";
/// The chart's file name.
pub const CHART_FILE: &str = "chart.svg";
/// The machine-readable summary's file name ([`DemoReport::summary_json`]; read by
/// `benches/results.py` for the README's results table).
pub const SUMMARY_FILE: &str = "summary.json";
/// HTTPS client threads for one-shot frames (several frames in flight; a device's frames stay
/// on one thread, in order).
pub const CLIENT_THREADS: usize = 16;
/// How far the simulated clock moves per step by default ([`DemoOptions::step`]): every agent
/// due within a step is woken at its end, and the step's frames go out together (a group commit
/// at the portal). An hour: the collectors read every 3 h and direct devices report every 3 h at
/// most, so each agent still wakes several times between its reports; an alert or a
/// page-count trigger waits at most one step to leave.
pub const DEMO_STEP: DurationMs = DurationMs(60 * 60_000);
/// The coarsest step [`DemoOptions::step`] may be: the collectors' reading interval (3 h).
pub const MAX_DEMO_STEP: DurationMs = DurationMs(180 * 60_000);
/// Resellers the devices are spread over (each with an office and a large-format contract).
pub const RESELLERS: u64 = 3;

/// Meter positions of the collectors (they report no counters of their own): this plus the site
/// id, above any printer's index.
const COLLECTOR_METER_DEVICES: u64 = 1 << 40;
/// How long the portal's periodic registry reload waits: the demo reloads explicitly when it
/// adds a key epoch ([`RunningPortal::reload_registry`]).
const REGISTRY_REFRESH: Duration = Duration::from_secs(3_600);
const DAY_MS: u64 = 86_400_000;

/// Why the demo could not run (a failed check is not an error: see [`Checks`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The portal (starting it, provisioning).
    #[error("portal: {0}")]
    Portal(#[from] PortalError),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] printfleet_store::StoreError),
    /// Billing.
    #[error("billing: {0}")]
    Billing(#[from] BillingError),
    /// The meter (terms, periods).
    #[error("meter: {0}")]
    Meter(#[from] printfleet_meter::MeterError),
    /// A client of the portal could not be set up.
    #[error("client: {0}")]
    Client(#[from] crate::client::ClientError),
    /// The simulation.
    #[error("simulation: {0}")]
    Run(#[from] printfleet_sim::RunError),
    /// The fleet's configuration.
    #[error("fleet: {0}")]
    Fleet(#[from] printfleet_sim::ConfigError),
    /// `--db` names a database that already holds devices (the demo provisions its own fleet).
    #[error("{path}: the database already has devices; give the demo a new one")]
    DbNotEmpty {
        /// The database.
        path: PathBuf,
    },
    /// [`DemoOptions::step`] is under a minute or over [`MAX_DEMO_STEP`].
    #[error("the step must be from 1 to {max} minutes, not {minutes}")]
    Step {
        /// The step asked for, in minutes.
        minutes: u64,
        /// [`MAX_DEMO_STEP`], in minutes.
        max: u64,
    },
    /// The fleet has more collector sites than the portal takes link connections
    /// ([`MAX_LINK_CONNECTIONS`](crate::portal::MAX_LINK_CONNECTIONS)): the demo keeps one per
    /// site (bundles or not), and a site beyond them would wait for a slot at every round.
    /// Refused before anything is provisioned.
    #[error("{sites} collector sites, more than the portal's {max} link connections: simulate fewer printers")]
    TooManySites {
        /// The fleet's collector sites.
        sites: usize,
        /// The link connections the portal takes.
        max: usize,
    },
    /// A simulated device the demo did not provision.
    #[error("device {name:?} was not provisioned")]
    NotProvisioned {
        /// Its name.
        name: String,
    },
    /// A file or directory could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CSV export failed.
    #[error("export: {0}")]
    Export(#[from] export::ExportError),
    /// The chart could not be drawn.
    #[error("chart: {reason}")]
    Chart {
        /// Why.
        reason: String,
    },
}

/// What the demo runs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DemoOptions {
    /// Printers ([`DEFAULT_PRINTERS`]).
    pub printers: u32,
    /// Simulated days ([`DEFAULT_DAYS`]; at most `printfleet_sim::MAX_RUN_DAYS`).
    pub days: u32,
    /// The simulation's seed ([`DEFAULT_SEED`]).
    pub seed: u64,
    /// The SQLite database (a new one); `None`: in a temporary directory, removed afterwards.
    pub db: Option<PathBuf>,
    /// Where `usage.csv`, `invoices.csv` and `chart.svg` go ([`DEFAULT_OUT`]).
    pub out: PathBuf,
    /// Whether to show a progress bar on stderr (it is hidden anyway when stderr is not a
    /// terminal).
    pub progress: bool,
    /// The simulation's time step ([`DEMO_STEP`]; from a minute to [`MAX_DEMO_STEP`]): finer
    /// wakes the agents closer to their triggers, and takes longer.
    pub step: DurationMs,
    /// Whether each collector site's collector sends its printers' updates in bundles under
    /// its own session (docs/wire-format.md §5.9; the default), or each printer's frames on a
    /// session of the printer's own (as a collector holding its printers' secrets can).
    pub bundles: bool,
    /// The faults injected and their rates (`printfleet_sim::Faults::default()`; the summary
    /// counts each). `Faults::HIGH` makes every kind of fault happen on a small fleet.
    pub faults: printfleet_sim::Faults,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            printers: DEFAULT_PRINTERS,
            days: DEFAULT_DAYS,
            seed: DEFAULT_SEED,
            db: None,
            out: PathBuf::from(DEFAULT_OUT),
            progress: false,
            step: DEMO_STEP,
            bundles: true,
            faults: printfleet_sim::Faults::default(),
        }
    }
}

/// The checks, from the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checks {
    /// Devices simulated.
    pub devices: u64,
    /// Devices whose stored state is not their agent's current state.
    pub not_converged: Vec<String>,
    /// Jobs, over the fleet.
    pub jobs: JobCheck,
    /// Counters: stored advance against the truth.
    pub counters: CounterCheck,
    /// (device, meter, billed, stored) where billing differs from the stored advance.
    pub billing_mismatches: Vec<(DeviceId, MeterKind, i128, u64)>,
    /// Our bytes (both directions) over the simulated days.
    pub ours_bytes: u64,
    /// The naive pipeline's bytes on the same readings.
    pub naive_bytes: u64,
}

impl Checks {
    /// Whether every check holds.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// What failed, one line each.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.not_converged.is_empty() {
            let few: Vec<&str> = self.not_converged.iter().take(5).map(String::as_str).collect();
            out.push(format!("{} devices not converged (e.g. {})", self.not_converged.len(), few.join(", ")));
        }
        if !self.jobs.passed() {
            out.push(format!("jobs: {} missing, {} doubled", self.jobs.missing, self.jobs.doubled));
        }
        if !self.counters.passed() {
            out.push(format!("counters: {} device meters differ from the truth", self.counters.unexplained.len()));
        }
        if !self.billing_mismatches.is_empty() {
            out.push(format!("billing: {} device meters billed other than stored", self.billing_mismatches.len()));
        }
        if self.ours_bytes >= self.naive_bytes {
            out.push(format!("bytes: ours {} not below naive {}", self.ours_bytes, self.naive_bytes));
        }
        out
    }
}

/// The billing of the simulated month(s).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct BillingSummary {
    /// Periods billed (each month the stored readings reach into).
    pub periods: u32,
    /// The meter readings stored, each counted once (every period's run reads its own and the
    /// late window's before it, so a sum over the runs would count some twice).
    pub readings: usize,
    /// Every usage line.
    pub usage: Vec<UsageLine>,
    /// Every invoice.
    pub invoices: Vec<Invoice>,
}

impl BillingSummary {
    /// Usage summed per category (with its unit's name).
    pub fn by_category(&self) -> BTreeMap<Category, (i128, String)> {
        let mut out: BTreeMap<Category, (i128, String)> = BTreeMap::new();
        for l in &self.usage {
            let e = out.entry(l.category.clone()).or_insert_with(|| (0, l.unit.to_string()));
            e.0 = e.0.saturating_add(i128::from(l.quantity.0));
        }
        out
    }

    /// Invoice totals per contract (minor units, currency code).
    pub fn totals(&self) -> BTreeMap<ContractId, (u64, String, u8)> {
        let mut out: BTreeMap<ContractId, (u64, String, u8)> = BTreeMap::new();
        for i in &self.invoices {
            let e =
                out.entry(i.contract).or_insert_with(|| (0, i.currency.code().to_owned(), i.currency.minor_digits()));
            e.0 = e.0.saturating_add(i.total.0);
        }
        out
    }
}

/// What the demo did and found.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DemoReport {
    /// The options it ran with.
    pub options: DemoOptions,
    /// The driver's figures (`outcome.summary`: bytes, reports, losses, resyncs, faults, daily
    /// figures) and each device's outcome (`outcome.devices`: what the store was checked
    /// against).
    pub outcome: RunOutcome,
    /// The network transport's counts (handshakes, links, connection failures).
    pub net: NetCounters,
    /// The portal's counters at the end (frames accepted, updates, rejections by reason ...).
    pub portal: PortalCounters,
    /// Wall-clock time of the simulated run (provisioning and checks not included).
    pub run_time: Duration,
    /// The checks, from the store.
    pub checks: Checks,
    /// The billing.
    pub billing: BillingSummary,
    /// Collector sites and direct devices.
    pub sites: (u64, u64),
    /// The files written.
    pub files: Vec<PathBuf>,
}

impl DemoReport {
    /// The summary as JSON (what `summary.json` holds): the options, per fleet kind and for the
    /// whole fleet the devices, device-days, frames and our bytes each way against the naive
    /// pipeline's, the portal's figures and whether every check passed (with what failed).
    pub fn summary_json(&self) -> serde_json::Value {
        let kind = |k: &printfleet_sim::KindSummary| {
            serde_json::json!({
                "kind": k.kind.map_or("all", Kind::name),
                "devices": k.devices,
                "device_days": k.device_days,
                "reports": k.reports,
                "ours_up": k.ours_up,
                "ours_down": k.ours_down,
                "naive": k.naive,
                "ours_per_device_day": k.ours_per_device_day(),
                "naive_per_device_day": k.naive_per_device_day(),
            })
        };
        let s = &self.outcome.summary;
        serde_json::json!({
            "printers": self.options.printers,
            "days": self.options.days,
            "seed": self.options.seed,
            "step_minutes": self.options.step.0 / 60_000,
            "bundles": self.options.bundles,
            "run_seconds": self.run_time.as_secs_f64(),
            "kinds": s.per_kind.iter().map(kind).collect::<Vec<_>>(),
            "total": kind(&s.total()),
            "via_collector": s.via_collector.iter().map(kind).collect::<Vec<_>>(),
            "reports": s.reports,
            "frames": s.frames,
            "bundle_frames": s.bundles,
            "frames_lost": s.lost,
            "resyncs": s.resyncs,
            "updates_applied": self.portal.updates_applied,
            "group_commits": self.portal.batches,
            "batched_frames": self.portal.batched_frames,
            "handshakes": self.net.handshakes,
            "checks_passed": self.checks.passed(),
            "failures": self.checks.failures(),
        })
    }

    /// The portal's updates applied per second of the run.
    pub fn ingest_rate(&self) -> f64 {
        let secs = self.run_time.as_secs_f64();
        if secs > 0.0 { self.portal.updates_applied as f64 / secs } else { 0.0 }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io { path: path.to_path_buf(), source }
}

/// Which contract a device is billed under: one office and one large-format contract per
/// reseller.
fn contract_of(kind: Kind, reseller: u64) -> ContractId {
    let base = reseller.saturating_mul(10);
    ContractId(if kind == Kind::LargeFormat { base.saturating_add(2) } else { base.saturating_add(1) })
}

/// The terms of the demo's contracts, as `printfleet contract set` would store them.
fn terms(large_format: bool) -> Result<Terms, printfleet_meter::MeterError> {
    let mut terms = Terms { fee_per_device: MinorUnits(500), ..Terms::default() };
    if large_format {
        terms.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(5, 1)?));
        terms.fee_per_device = MinorUnits(2_000);
    } else {
        terms.prices.insert(
            Category::TOTAL,
            CategoryTerms {
                tiers: vec![
                    Tier { up_to: Some(100_000), price: Price::new(8, 10)? },
                    Tier { up_to: None, price: Price::new(6, 10)? },
                ],
                allowance: Allowance::Pooled(500),
                unit: None,
            },
        );
        terms.prices.insert(MeterKind::COLOUR.into(), CategoryTerms::flat(Price::new(4, 1)?));
    }
    terms.validate()?;
    Ok(terms)
}

/// Runs the demo: provisions the simulated fleet and its contracts in a new SQLite database,
/// starts a portal on 127.0.0.1 (ports chosen by the OS) with an injected clock, runs the fleet
/// through it over the network, then checks and bills from the store and writes the CSV files
/// and the chart into `options.out`.
pub fn run(options: &DemoOptions) -> Result<DemoReport, DemoError> {
    if options.step.0 < 60_000 || options.step > MAX_DEMO_STEP {
        return Err(DemoError::Step { minutes: options.step.0 / 60_000, max: MAX_DEMO_STEP.0 / 60_000 });
    }
    printfleet_sim::check_days(options.days)?;
    let config = FleetConfig {
        seed: options.seed,
        printers: options.printers,
        faults: options.faults,
        ..FleetConfig::default()
    };
    let fleet = Fleet::new(config.clone())?;
    let home = tempfile::tempdir().map_err(io(Path::new("temporary directory")))?;
    let state_dir = home.path().join("state");
    let db_path = options.db.clone().unwrap_or_else(|| home.path().join("portal.db"));
    let mut store = SqliteStore::open(&db_path)?;
    if !store.load_devices()?.is_empty() {
        return Err(DemoError::DbNotEmpty { path: db_path });
    }

    // The fleet, its owners and contracts; first each site's collector, if it sends bundles
    // (provisioned like a device, under its own name; its printers name it).
    let mut specs = Vec::with_capacity(fleet.devices().len());
    let (mut sites, mut direct) = (std::collections::BTreeSet::new(), 0u64);
    let collector_name = |site: u32| options.bundles.then(|| format!("collector-{site}"));
    for site in fleet.devices().iter().filter_map(|d| match d.site() {
        Site::Collector(site) => Some(site),
        Site::Direct => None,
    }) {
        if let (true, Some(name)) = (sites.insert(site), collector_name(site)) {
            let reseller = u64::from(site).checked_rem(RESELLERS).unwrap_or(0).saturating_add(1);
            specs.push(DeviceSpec {
                name,
                reseller: ResellerId(reseller),
                customer: CustomerId(u64::from(site)),
                contract: contract_of(Kind::OfficeMono, reseller),
                meter_device: DeviceId(COLLECTOR_METER_DEVICES.saturating_add(u64::from(site))),
                collector: None,
            });
        }
    }
    for d in fleet.devices() {
        let index = u64::try_from(d.index()).unwrap_or(u64::MAX);
        let (reseller, customer) = match d.site() {
            Site::Collector(site) => (u64::from(site).checked_rem(RESELLERS).unwrap_or(0), u64::from(site)),
            Site::Direct => {
                direct = direct.saturating_add(1);
                (index.checked_rem(RESELLERS).unwrap_or(0), 100_000u64.saturating_add(index))
            }
        };
        let reseller = reseller.saturating_add(1);
        specs.push(DeviceSpec {
            name: d.name().to_owned(),
            reseller: ResellerId(reseller),
            customer: CustomerId(customer),
            contract: contract_of(d.kind(), reseller),
            meter_device: DeviceId(index),
            collector: match d.site() {
                Site::Collector(site) => collector_name(site),
                Site::Direct => None,
            },
        });
    }
    if sites.len() > crate::portal::MAX_LINK_CONNECTIONS {
        return Err(DemoError::TooManySites { sites: sites.len(), max: crate::portal::MAX_LINK_CONNECTIONS });
    }
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let provisioned = provision_many(&state_dir, &mut store, specs)?;
    let mut secrets: HashMap<String, printfleet_auth::DeviceSecret> =
        names.into_iter().zip(provisioned).map(|(n, p)| (n, p.secret)).collect();
    let collectors: HashMap<u32, (String, printfleet_auth::DeviceSecret)> = sites
        .iter()
        .filter_map(|site| {
            let name = collector_name(*site)?;
            secrets.remove(&name).map(|secret| (*site, (name, secret)))
        })
        .collect();
    for reseller in 1..=RESELLERS {
        for large_format in [false, true] {
            let kind = if large_format { Kind::LargeFormat } else { Kind::OfficeMono };
            set_contract(&mut store, contract_of(kind, reseller), terms(large_format)?, config.start)?;
        }
    }

    // The portal, on the simulated clock.
    let clock = Arc::new(AtomicU64::new(config.start.unix_millis()));
    let time = clock.clone();
    let portal = RunningPortal::start(
        PortalConfig::new(Db::Sqlite(db_path.clone()), &state_dir)
            .https_listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .tcp_listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .registry_refresh(REGISTRY_REFRESH)
            .clock(Arc::new(move || {
                Timestamp::from_unix_millis(time.load(Ordering::Relaxed)).unwrap_or(Timestamp::UNIX_EPOCH)
            })),
    )?;
    let mut net = net::Net::new(&portal, clock, state_dir.clone(), store, secrets, collectors, CLIENT_THREADS)?;

    // The run.
    let bar = output::progress(options.progress, options.days);
    let started = Instant::now();
    let start = config.start;
    let outcome = printfleet_sim::run_with(&config, options.days, options.step, &mut net, &mut |t| {
        let day = t.duration_since(start).map_or(0, |d| d.0).checked_div(DAY_MS).unwrap_or(0);
        bar.set_position(day);
    });
    let run_time = started.elapsed();
    bar.finish_and_clear();
    let net_counters = net.counters.clone();
    drop(net);
    let counters = portal.counters();
    portal.shutdown();
    let outcome = outcome?;

    // The checks and the billing, from the store.
    let mut store = SqliteStore::open(&db_path)?;
    let readings = store.meter_readings(Timestamp::UNIX_EPOCH, Timestamp::MAX)?;
    let advance = stored_advance(&readings);
    let mut checks = check_store_against(&store, &outcome, &advance)?;
    let billing = bill_until(&mut store, &readings, config.start, &home.path().join("bill"))?;
    drop(readings);
    checks.billing_mismatches = check_billing(&billing.usage, &advance, &outcome.devices);
    drop(store);
    drop(home);

    std::fs::create_dir_all(&options.out).map_err(io(&options.out))?;
    let usage_path = options.out.join(USAGE_FILE);
    let invoices_path = options.out.join(INVOICES_FILE);
    let chart_path = options.out.join(CHART_FILE);
    export::usage_csv(&billing.usage, std::fs::File::create(&usage_path).map_err(io(&usage_path))?)?;
    export::invoice_csv(&billing.invoices, std::fs::File::create(&invoices_path).map_err(io(&invoices_path))?)?;
    output::chart(&outcome.summary, &chart_path)?;
    let summary_path = options.out.join(SUMMARY_FILE);

    let report = DemoReport {
        options: options.clone(),
        outcome,
        net: net_counters,
        portal: counters,
        run_time,
        checks,
        billing,
        sites: (u64::try_from(sites.len()).unwrap_or(u64::MAX), direct),
        files: vec![usage_path, invoices_path, chart_path, summary_path.clone()],
    };
    let mut json =
        serde_json::to_vec_pretty(&report.summary_json()).map_err(std::io::Error::other).map_err(io(&summary_path))?;
    json.push(b'\n');
    std::fs::write(&summary_path, json).map_err(io(&summary_path))?;
    Ok(report)
}

/// The checks of a run from the store: convergence, jobs exactly once, counters against the
/// truth, bytes. (The billing check needs the billing: [`bill_all`], then [`check_billing`]
/// against [`stored_advance`] of the store's readings.)
pub fn check_store(store: &SqliteStore, outcome: &RunOutcome) -> Result<Checks, DemoError> {
    let readings = store.meter_readings(Timestamp::UNIX_EPOCH, Timestamp::MAX)?;
    check_store_against(store, outcome, &stored_advance(&readings))
}

/// [`check_store`], with the [`stored_advance`] of the store's readings already read.
fn check_store_against(
    store: &SqliteStore,
    outcome: &RunOutcome,
    advance: &BTreeMap<(DeviceId, MeterKind), u64>,
) -> Result<Checks, DemoError> {
    let mut checks = Checks { devices: u64::try_from(outcome.devices.len()).unwrap_or(u64::MAX), ..Checks::default() };
    let mut state_error = None;
    checks.not_converged = not_converged(&outcome.devices, |d| match store.device_state(d.sender) {
        Ok(s) => s,
        Err(e) => {
            state_error = Some(e);
            None
        }
    })
    .into_iter()
    .map(str::to_owned)
    .collect();
    if let Some(e) = state_error {
        return Err(e.into());
    }
    for d in &outcome.devices {
        let stored = store.job_sequences(d.sender)?;
        let emitted: Vec<u64> = d.jobs.iter().map(|(_, s)| *s).collect();
        let replaced: Vec<u64> = d.jobs_on_replaced_boards.iter().map(|(_, s)| *s).collect();
        checks.jobs.add(&check_jobs(&emitted, &replaced, &stored));
    }
    checks.counters = check_counters(&outcome.devices, advance);
    let total = outcome.summary.total();
    checks.ours_bytes = total.ours_up.saturating_add(total.ours_down);
    checks.naive_bytes = total.naive;
    Ok(checks)
}

/// Bills every month from `start`'s to that of the last stored reading (a drifting clock may
/// date the last readings into the next month) with [`crate::billing::bill`], what
/// `printfleet bill` runs, closing each a day after its end; the CSV files it writes go to
/// `scratch`.
pub fn bill_all(store: &mut SqliteStore, start: Timestamp, scratch: &Path) -> Result<BillingSummary, DemoError> {
    let readings = store.meter_readings(Timestamp::UNIX_EPOCH, Timestamp::MAX)?;
    bill_until(store, &readings, start, scratch)
}

/// When the last of `readings` was observed (`start` if there are none).
fn last_reading(readings: &[Observation], start: Timestamp) -> Timestamp {
    readings.iter().map(|r| r.observed_at).max().unwrap_or(start)
}

/// [`bill_all`], given the store's `readings`: from the month of `start` to that of the last
/// reading.
fn bill_until(
    store: &mut SqliteStore,
    readings: &[Observation],
    start: Timestamp,
    scratch: &Path,
) -> Result<BillingSummary, DemoError> {
    let last = last_reading(readings, start);
    let period = BillingPeriod::MONTHLY;
    let mut p = period.period_of(start);
    let mut billing = BillingSummary { readings: readings.len(), ..BillingSummary::default() };
    while p <= period.period_of(last) {
        let month = period.start(p)?;
        let end = period.end(p)?;
        let close_at = end.checked_add(DurationMs(DAY_MS)).unwrap_or(end);
        match bill(store, month, close_at, scratch) {
            Ok(billed) => {
                billing.periods = billing.periods.saturating_add(1);
                billing.usage.extend(billed.usage);
                billing.invoices.extend(billed.invoices);
            }
            Err(BillingError::NothingToBill) => {}
            Err(e) => return Err(e.into()),
        }
        p = p.next()?;
    }
    Ok(billing)
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        output::summary(self, f)
    }
}
