//! One simulated printer: its counters, supplies, alerts and faults, driven by an agenda of
//! timed actions.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use printfleet_schema::codes::{
    AlertCode, AlertGroup, AlertSeverity, JobSource, JobStatus, PrintQuality, SupplyType, TrainingLevel,
};
use printfleet_schema::{
    Alert, Colour, DurationMs, JobHeader, MeterKind, PageCount, PrintDetails, PrintJob, RecordId, Submitter, Timestamp,
};
use printfleet_sources::snmp::printer_mib;
use uuid::Uuid;

use crate::config::{DAY_MS, FleetConfig, HOUR_MS, Kind, MINUTE_MS};
use crate::event::{EventKind, Fault, SimEvent, Truth};
use crate::large_format::LargeFormat;
use crate::rng::{STREAM_DEVICE, SimRng};
use crate::snmp::{self, AlertRow, PwgCounters, SupplyRow, Template};

/// Paper jams per 10 000 device-days (office kinds; half that for large-format). Critical;
/// cleared after 2–30 minutes.
pub const JAM_RATE: u32 = 800;
/// Doors left open per 10 000 device-days. Critical; closed after 1–10 minutes.
pub const DOOR_OPEN_RATE: u32 = 300;
/// A supply is reported low (a warning alert) at this percentage of its capacity, and is
/// replaced 1–48 hours later (the level keeps falling meanwhile, to 0 at the least).
pub const LOW_PERCENT: u64 = 10;

/// Where a device is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Site {
    /// Read by the collector of this site (a PC on the customer's LAN).
    Collector(u32),
    /// Reports itself (Partner Link's direct connection).
    Direct,
}

/// What a device does next.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    NewDay,
    Job(Job),
    Reading,
    Raise(AlertKind),
    Clear(u32),
    Replace(usize),
    Reboot,
    CounterReset,
    AddressChange,
    SpecialStart,
    SpecialEnd,
    DriftStart,
    DriftEnd,
    SilentStart,
    SilentEnd,
    /// For the first device of a site: its network goes down.
    NetworkLoss,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AlertKind {
    Jam,
    DoorOpen,
    Low(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    Print,
    Copy,
    Fax,
    Scan,
}

/// One job to run.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) service: Service,
    pub(crate) pages: u64,
    pub(crate) colour: bool,
    pub(crate) duplex: bool,
}

/// The per-kind usage profile (see [`Kind`]'s table).
struct Profile {
    pages_per_day: (u64, u64),
    pages_per_job: u64,
    colour_percent: u8,
    copy_percent: u8,
    fax_percent: u8,
    scan_percent: u8,
    duplex_percent: u8,
}

fn profile(kind: Kind) -> Profile {
    match kind {
        Kind::OfficeMono => Profile {
            pages_per_day: (20, 400),
            pages_per_job: 4,
            colour_percent: 0,
            copy_percent: 15,
            fax_percent: 3,
            scan_percent: 10,
            duplex_percent: 40,
        },
        Kind::OfficeColour => Profile {
            pages_per_day: (20, 300),
            pages_per_job: 4,
            colour_percent: 35,
            copy_percent: 0,
            fax_percent: 0,
            scan_percent: 0,
            duplex_percent: 30,
        },
        Kind::InkjetMfp => Profile {
            pages_per_day: (5, 80),
            pages_per_job: 3,
            colour_percent: 50,
            copy_percent: 15,
            fax_percent: 5,
            scan_percent: 15,
            duplex_percent: 20,
        },
        // Jobs a day, not pages; one sheet each.
        Kind::LargeFormat => Profile {
            pages_per_day: (5, 60),
            pages_per_job: 1,
            colour_percent: 100,
            copy_percent: 0,
            fax_percent: 0,
            scan_percent: 5,
            duplex_percent: 0,
        },
    }
}

/// A supply of an SNMP device.
#[derive(Clone, Debug)]
struct Supply {
    row: SupplyRow,
    /// Pages a full one lasts.
    yield_pages: u64,
    /// Pages since it was put in.
    used: u64,
    serial: u32,
    /// The low alert raised for it, by alert index, and whether a replacement is planned.
    low: Option<u32>,
}

impl Supply {
    fn level(&self) -> i32 {
        let max = u64::try_from(self.row.max).unwrap_or(100);
        let left = self.yield_pages.saturating_sub(self.used);
        let level = max.saturating_mul(left).checked_div(self.yield_pages).unwrap_or(0);
        i32::try_from(level).unwrap_or(0)
    }

    fn percent_left(&self) -> u64 {
        let left = self.yield_pages.saturating_sub(self.used);
        left.saturating_mul(100).checked_div(self.yield_pages).unwrap_or(0)
    }

    fn consumes(&self, colour_page: bool) -> bool {
        match &self.row.colour {
            Some(Colour::Cyan | Colour::Magenta | Colour::Yellow) => colour_page,
            _ => true,
        }
    }

    fn record_id(&self) -> RecordId {
        RecordId((1u64 << 32) | u64::from(self.row.index))
    }
}

/// How the device's readings are made.
#[derive(Clone, Debug)]
enum Render {
    Snmp { base: printfleet_sources::snmp::Bindings, supplies: Vec<Supply> },
    LargeFormat(Box<LargeFormat>),
}

/// An active alert.
#[derive(Clone, Debug)]
struct Active {
    row: AlertRow,
    kind: AlertKind,
    /// The alert as raised (large-format: the report carries this value).
    alert: Alert,
}

/// One simulated printer.
#[derive(Clone, Debug)]
pub struct Device {
    index: usize,
    kind: Kind,
    name: String,
    serial: String,
    site: Site,
    /// Index of its site in the fleet (direct devices have a site of their own).
    pub(crate) site_index: usize,
    /// Whether it is the first device of its site (it draws the site's network losses).
    pub(crate) site_head: bool,
    rng: SimRng,
    pages_per_day: u64,
    counters: BTreeMap<MeterKind, u64>,
    render: Render,
    alerts: Vec<Active>,
    next_alert: u32,
    booted_at: Timestamp,
    mac: [u8; 6],
    ip: Ipv4Addr,
    skew_ms: i64,
    silent: bool,
    special: Option<(usize, i32)>,
    instance: u32,
    jobs_done: u64,
    agenda: BTreeMap<(Timestamp, u64), Action>,
    seq: u64,
    read_interval: u64,
    office_jobs: bool,
    truth: Truth,
    /// The last mapped walk and what it depended on: a reading that changes nothing but the
    /// time reuses it (the mapping is the costly part of a reading).
    cache: Option<(WalkKey, printfleet_schema::DeviceReport)>,
    use_cache: bool,
}

/// What a mapped walk depends on, but the time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct WalkKey {
    counters: Vec<u64>,
    levels: Vec<(i32, String)>,
    alerts: Vec<(u32, u32)>,
    address: Ipv4Addr,
    skew_ms: i64,
    booted_at: Timestamp,
}

pub(crate) fn after(t: Timestamp, ms: u64) -> Timestamp {
    t.checked_add(DurationMs(ms)).unwrap_or(Timestamp::MAX)
}

/// Whole seconds (so that SNMP's hundredths of a second and milliseconds agree exactly).
fn whole_seconds(t: Timestamp) -> Timestamp {
    let ms = t.unix_millis();
    Timestamp::from_unix_millis(ms.saturating_sub(ms % 1000)).unwrap_or(t)
}

/// A duration uniform in `lo..=hi` milliseconds, in whole seconds.
fn seconds(rng: &mut SimRng, lo: u64, hi: u64) -> u64 {
    rng.between(lo / 1000, hi / 1000).saturating_mul(1000)
}

fn skewed(t: Timestamp, skew_ms: i64) -> Timestamp {
    let ms = t.unix_millis();
    let shifted = if skew_ms >= 0 {
        ms.saturating_add(skew_ms.unsigned_abs())
    } else {
        ms.saturating_sub(skew_ms.unsigned_abs())
    };
    Timestamp::from_unix_millis(shifted).unwrap_or(t)
}

impl Device {
    pub(crate) fn new(
        index: usize,
        kind: Kind,
        site: Site,
        site_index: usize,
        site_head: bool,
        config: &FleetConfig,
        template: Option<&Template>,
    ) -> Self {
        let mut rng = SimRng::new(config.seed, STREAM_DEVICE.saturating_add(u64::try_from(index).unwrap_or(0)));
        let p = profile(kind);
        // The lesser of two uniform draws: most devices print little, a few a lot.
        let pages_per_day =
            rng.between(p.pages_per_day.0, p.pages_per_day.1).min(rng.between(p.pages_per_day.0, p.pages_per_day.1));
        let prefix = match kind {
            Kind::OfficeMono => "mono",
            Kind::OfficeColour => "colour",
            Kind::InkjetMfp => "mfp",
            Kind::LargeFormat => "plotter",
        };
        let name = format!("{prefix}-{index:06}");
        let serial = format!("SIM{:07}{:04X}", index, rng.below(0x1_0000));
        let mut mac = [0x02, 0x5f, 0, 0, 0, 0];
        let idx = u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes();
        if let Some(tail) = mac.get_mut(2..) {
            tail.copy_from_slice(&idx);
        }
        let ip = Ipv4Addr::new(
            10,
            20,
            u8::try_from(rng.below(250)).unwrap_or(0),
            u8::try_from(rng.between(2, 250)).unwrap_or(2),
        );
        let lifetime = rng.between(1_000, 200_000);
        let mut counters = BTreeMap::new();
        let render = match template {
            Some(t) => {
                let mut base = t.bindings.clone();
                let location = match site {
                    Site::Collector(s) => format!("site {s}"),
                    Site::Direct => "branch office".into(),
                };
                snmp::write_identity(&mut base, &name, &serial, mac, ip, &location);
                let supplies = t
                    .supplies
                    .iter()
                    .map(|row| {
                        let colour = matches!(row.colour, Some(Colour::Cyan | Colour::Magenta | Colour::Yellow));
                        let toner = [
                            SupplyType::TONER,
                            SupplyType::TONER_CARTRIDGE,
                            SupplyType::INK,
                            SupplyType::INK_CARTRIDGE,
                        ]
                        .contains(&row.kind);
                        let yield_pages: u64 = match (toner, colour, kind) {
                            (true, _, Kind::InkjetMfp) => 2_500,
                            (true, true, _) => 4_000,
                            (true, false, _) => 6_000,
                            _ => 30_000,
                        };
                        let yield_pages = yield_pages.saturating_mul(rng.between(80, 120)) / 100;
                        Supply { row: row.clone(), yield_pages, used: rng.below(yield_pages), serial: 1, low: None }
                    })
                    .collect();
                counters.insert(MeterKind::TOTAL, lifetime);
                Render::Snmp { base, supplies }
            }
            None => Render::LargeFormat(Box::new(LargeFormat::new(&name, &serial, ip, &mut rng))),
        };
        if kind.via_snmp() {
            // A plausible split of the lifetime total.
            let colour =
                if p.colour_percent > 0 { lifetime.saturating_mul(u64::from(p.colour_percent)) / 100 } else { 0 };
            let copies = lifetime.saturating_mul(u64::from(p.copy_percent)) / 100;
            let fax = lifetime.saturating_mul(u64::from(p.fax_percent)) / 100;
            let print = lifetime.saturating_sub(copies).saturating_sub(fax);
            let colour_print = colour.min(print);
            for (k, v) in [
                (MeterKind::MONO, lifetime.saturating_sub(colour)),
                (MeterKind::PRINT, print),
                (MeterKind::PRINT_MONO, print.saturating_sub(colour_print)),
                (MeterKind::COPIES, copies),
                (MeterKind::COPY_MONO, copies),
                (MeterKind::SCANS, lifetime / 10),
                (MeterKind::FAX_IN, fax),
                (MeterKind::DUPLEX_SHEETS, lifetime / 5),
            ] {
                counters.insert(k, v);
            }
            if p.colour_percent > 0 {
                counters.insert(MeterKind::COLOUR, colour);
                counters.insert(MeterKind::PRINT_COLOUR, colour_print);
                counters.insert(MeterKind::COPY_COLOUR, 0);
            }
        } else {
            for (k, v) in [
                (MeterKind::TOTAL, lifetime / 10),
                (MeterKind::AREA_MM2, 0),
                (MeterKind::LENGTH_MM, 0),
                (MeterKind::SCANS, 0),
            ] {
                counters.insert(k, v);
            }
        }
        let booted_at = whole_seconds(
            Timestamp::from_unix_millis(config.start.unix_millis().saturating_sub(rng.between(HOUR_MS, 60 * DAY_MS)))
                .unwrap_or(config.start),
        );
        let read_interval = match site {
            Site::Collector(_) => config.collector_interval.0,
            Site::Direct => config.direct_read_interval.0,
        };
        let mut device = Self {
            index,
            kind,
            name,
            serial,
            site,
            site_index,
            site_head,
            rng,
            pages_per_day,
            counters,
            render,
            alerts: Vec::new(),
            next_alert: 1,
            booted_at,
            mac,
            ip,
            skew_ms: 0,
            silent: false,
            special: None,
            instance: 1,
            jobs_done: 0,
            agenda: BTreeMap::new(),
            seq: 0,
            read_interval: read_interval.max(1_000),
            office_jobs: config.office_jobs,
            truth: Truth::default(),
            cache: None,
            use_cache: true,
        };
        let start = whole_seconds(config.start);
        device.schedule(start, Action::Reading);
        device.schedule(start, Action::NewDay);
        device
    }

    /// Its index in the fleet.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its name (unique in the fleet; the name it is provisioned under).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Where it is read from.
    pub fn site(&self) -> Site {
        self.site
    }

    /// Its serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// Its formatter board (counted from 1; a counter reset installs a new one): the key epoch
    /// its agent's credentials use.
    pub fn instance(&self) -> u32 {
        self.instance
    }

    /// What really happened to it.
    pub fn truth(&self) -> &Truth {
        &self.truth
    }

    /// Its own clock at the true time `at` (skewed while its clock drifts).
    pub fn clock(&self, at: Timestamp) -> Timestamp {
        skewed(at, self.skew_ms)
    }

    /// When it next has something to do.
    pub(crate) fn next_at(&self) -> Option<Timestamp> {
        self.agenda.keys().next().map(|(t, _)| *t)
    }

    fn schedule(&mut self, at: Timestamp, action: Action) {
        self.seq = self.seq.saturating_add(1);
        self.agenda.insert((whole_seconds(at), self.seq), action);
    }

    fn emit(&self, out: &mut Vec<SimEvent>, at: Timestamp, what: EventKind) {
        out.push(SimEvent { device: self.index, at, what });
    }

    fn fault(&mut self, out: &mut Vec<SimEvent>, at: Timestamp, fault: Fault) {
        self.truth.faults.push((at, fault.clone()));
        self.emit(out, at, EventKind::Fault(fault));
    }

    fn uptime_ticks(&self, at: Timestamp) -> u32 {
        let ms = at.duration_since(self.booted_at).map_or(0, |d| d.0);
        u32::try_from(ms / 10).unwrap_or(u32::MAX)
    }

    fn bump(&mut self, kind: MeterKind, n: u64) {
        if n == 0 {
            return;
        }
        let v = self.counters.entry(kind.clone()).or_insert(0);
        *v = v.saturating_add(n);
        self.truth.bump(&kind, n);
    }

    /// Runs the next action (its time is [`Device::next_at`]). Returns the end of a network
    /// loss of its site, if one starts now.
    pub(crate) fn step(&mut self, faults: &crate::Faults, out: &mut Vec<SimEvent>) -> Option<(Timestamp, Timestamp)> {
        let ((at, _), action) = self.agenda.pop_first()?;
        match action {
            Action::NewDay => self.new_day(at, faults),
            Action::Reading => {
                if !self.silent {
                    self.reading(at, out);
                }
                self.schedule(after(at, self.read_interval), Action::Reading);
            }
            Action::Job(job) => {
                if !self.silent {
                    self.job(at, &job, out);
                }
            }
            Action::Raise(kind) => {
                if !self.silent {
                    self.raise(at, kind, out);
                }
            }
            Action::Clear(index) => self.clear(at, index, out),
            Action::Replace(supply) => self.replace(at, supply, out),
            Action::Reboot => {
                if !self.silent {
                    self.fault(out, at, Fault::Reboot);
                    self.boot(at, out);
                }
            }
            Action::CounterReset => {
                if !self.silent {
                    self.counter_reset(at, out);
                }
            }
            Action::AddressChange => self.address_change(at, out),
            Action::SpecialStart => self.special_start(at, out),
            Action::SpecialEnd => self.special = None,
            // One drift at a time: a second one while the clock is off is not injected.
            Action::DriftStart if self.skew_ms != 0 => {}
            Action::DriftStart => {
                let hours = self.rng.between(1, 6);
                let sign: i64 = if self.rng.percent(50) { 1 } else { -1 };
                let until = after(at, seconds(&mut self.rng, DAY_MS, 3 * DAY_MS));
                let skew_ms = sign.saturating_mul(i64::try_from(hours.saturating_mul(HOUR_MS)).unwrap_or(0));
                self.skew_ms = skew_ms;
                self.schedule(until, Action::DriftEnd);
                self.fault(out, at, Fault::ClockDrift { skew_ms, until });
            }
            Action::DriftEnd => self.skew_ms = 0,
            Action::SilentStart => {
                if !self.silent {
                    let until = after(at, seconds(&mut self.rng, DAY_MS, 4 * DAY_MS));
                    self.silent = true;
                    self.schedule(until, Action::SilentEnd);
                    self.fault(out, at, Fault::Silent { until });
                }
            }
            Action::SilentEnd => {
                self.silent = false;
                self.boot(at, out);
                self.reading(at, out);
            }
            Action::NetworkLoss => {
                let until = after(at, seconds(&mut self.rng, 10 * MINUTE_MS, 6 * HOUR_MS));
                return Some((at, whole_seconds(until)));
            }
        }
        None
    }

    fn new_day(&mut self, at: Timestamp, faults: &crate::Faults) {
        let day_start =
            Timestamp::from_unix_millis(at.unix_millis().saturating_sub(at.unix_millis() % DAY_MS)).unwrap_or(at);
        self.schedule(after(day_start, DAY_MS), Action::NewDay);
        let in_day = |rng: &mut SimRng| after(day_start, rng.below(DAY_MS));
        // 1970-01-01 was a Thursday: day 0 is 4 (Sunday 0).
        let weekday = (day_start.unix_millis() / DAY_MS).saturating_add(4) % 7;
        if (1..=5).contains(&weekday) {
            let p = profile(self.kind);
            let today = self.pages_per_day.saturating_mul(self.rng.between(50, 150)) / 100;
            let jobs = today.checked_div(p.pages_per_job).unwrap_or(today).max(1);
            for _ in 0..jobs {
                let t = after(day_start, (8 * HOUR_MS).saturating_add(self.rng.below(10 * HOUR_MS)));
                let service = if self.rng.percent(p.scan_percent) {
                    Service::Scan
                } else if self.rng.percent(p.copy_percent) {
                    Service::Copy
                } else if self.rng.percent(p.fax_percent) {
                    Service::Fax
                } else {
                    Service::Print
                };
                let pages = self.rng.between(1, p.pages_per_job.saturating_mul(2).saturating_sub(1).max(1));
                let colour = self.rng.percent(p.colour_percent);
                let duplex = pages > 1 && self.rng.percent(p.duplex_percent);
                if t >= at {
                    self.schedule(t, Action::Job(Job { service, pages, colour, duplex }));
                }
            }
        }
        let lf = self.kind == Kind::LargeFormat;
        let jam = if lf { JAM_RATE / 2 } else { JAM_RATE };
        if self.rng.chance(jam) {
            let t = in_day(&mut self.rng);
            self.schedule(t, Action::Raise(AlertKind::Jam));
        }
        if self.rng.chance(DOOR_OPEN_RATE) {
            let t = in_day(&mut self.rng);
            self.schedule(t, Action::Raise(AlertKind::DoorOpen));
        }
        for (rate, action) in [
            (faults.reboot, Action::Reboot),
            (faults.counter_reset, Action::CounterReset),
            (faults.address_change, Action::AddressChange),
            (if lf { 0 } else { faults.special_level }, Action::SpecialStart),
            (faults.clock_drift, Action::DriftStart),
            (faults.silent, Action::SilentStart),
        ] {
            if self.rng.chance(rate) {
                let t = in_day(&mut self.rng);
                self.schedule(t, action);
            }
        }
        if self.site_head && self.rng.chance(faults.network_loss) {
            let t = in_day(&mut self.rng);
            self.schedule(t, Action::NetworkLoss);
        }
    }

    fn boot(&mut self, at: Timestamp, out: &mut Vec<SimEvent>) {
        self.booted_at = at;
        // The alert table is rebuilt at boot: what is still active is raised again now.
        for a in &mut self.alerts {
            a.row.time = 0;
        }
        self.emit(out, at, EventKind::Boot);
    }

    fn reading(&mut self, at: Timestamp, out: &mut Vec<SimEvent>) {
        let now = self.clock(at);
        let report = match &self.render {
            Render::Snmp { base, supplies } => {
                let c = |k: &MeterKind| self.counters.get(k).copied().unwrap_or(0);
                let counters = PwgCounters {
                    total: c(&MeterKind::TOTAL),
                    mono: c(&MeterKind::MONO),
                    colour: c(&MeterKind::COLOUR),
                    print: c(&MeterKind::PRINT),
                    print_mono: c(&MeterKind::PRINT_MONO),
                    print_colour: c(&MeterKind::PRINT_COLOUR),
                    copies: c(&MeterKind::COPIES),
                    copy_mono: c(&MeterKind::COPY_MONO),
                    copy_colour: c(&MeterKind::COPY_COLOUR),
                    scans: c(&MeterKind::SCANS),
                    fax_in: c(&MeterKind::FAX_IN),
                };
                let levels: Vec<(SupplyRow, i32, String)> = supplies
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let level = match self.special {
                            Some((j, v)) if j == i => v,
                            _ => s.level(),
                        };
                        (s.row.clone(), level, format!("{}{:06}", self.serial, s.serial))
                    })
                    .collect();
                let rows: Vec<AlertRow> = self.alerts.iter().map(|a| a.row.clone()).collect();
                // Everything the mapped report depends on but the time: an alert's `raised_at`
                // is now - (sysUpTime - prtAlertTime), which is the boot time plus the alert
                // time plus the skew whatever the time of the reading.
                let key = WalkKey {
                    counters: self.counters.values().copied().collect(),
                    levels: levels.iter().map(|(_, l, s)| (*l, s.clone())).collect(),
                    alerts: rows.iter().map(|r| (r.index, r.time)).collect(),
                    address: self.ip,
                    skew_ms: self.skew_ms,
                    booted_at: self.booted_at,
                };
                match self.cache.as_ref().filter(|(k, _)| *k == key && self.use_cache) {
                    Some((_, cached)) => {
                        let mut report = cached.clone();
                        report.generated_at = now;
                        report
                    }
                    None => {
                        let colour_device = self.counters.contains_key(&MeterKind::COLOUR);
                        let walk = snmp::walk(base, self.uptime_ticks(at), &counters, colour_device, &levels, &rows);
                        let mut report = printer_mib::map_at(&walk, now).report;
                        if let Some(d) = self.counters.get(&MeterKind::DUPLEX_SHEETS) {
                            report.snapshot.meters.set(MeterKind::DUPLEX_SHEETS, *d);
                        }
                        self.cache = Some((key, report.clone()));
                        report
                    }
                }
            }
            Render::LargeFormat(lf) => {
                let alerts = self.alerts.iter().map(|a| a.alert.clone()).collect();
                lf.report(now, &self.counters, alerts)
            }
        };
        self.truth.readings = self.truth.readings.saturating_add(1);
        self.truth.reported = self.truth.advance.clone();
        self.emit(out, at, EventKind::Reading(Box::new(report)));
    }

    fn job(&mut self, at: Timestamp, job: &Job, out: &mut Vec<SimEvent>) {
        self.jobs_done = self.jobs_done.saturating_add(1);
        if self.kind == Kind::LargeFormat {
            self.large_format_job(at, job, out);
            return;
        }
        let pages = job.pages;
        let colour = job.colour && self.counters.contains_key(&MeterKind::COLOUR);
        if job.service == Service::Scan {
            self.bump(MeterKind::SCANS, pages);
            return;
        }
        self.bump(MeterKind::TOTAL, pages);
        self.truth.pages = self.truth.pages.saturating_add(pages);
        self.bump(if colour { MeterKind::COLOUR } else { MeterKind::MONO }, pages);
        match job.service {
            Service::Print => {
                self.bump(MeterKind::PRINT, pages);
                self.bump(if colour { MeterKind::PRINT_COLOUR } else { MeterKind::PRINT_MONO }, pages);
            }
            Service::Copy => {
                self.bump(MeterKind::COPIES, pages);
                self.bump(if colour { MeterKind::COPY_COLOUR } else { MeterKind::COPY_MONO }, pages);
            }
            Service::Fax => self.bump(MeterKind::FAX_IN, pages),
            Service::Scan => {}
        }
        if job.duplex {
            self.bump(MeterKind::DUPLEX_SHEETS, pages / 2);
        }
        // Supplies deplete.
        let mut low = Vec::new();
        if let Render::Snmp { supplies, .. } = &mut self.render {
            for (i, s) in supplies.iter_mut().enumerate() {
                if s.consumes(colour) {
                    s.used = s.used.saturating_add(pages);
                    if s.low.is_none() && s.percent_left() <= LOW_PERCENT {
                        low.push(i);
                    }
                }
            }
        }
        for i in low {
            self.raise(at, AlertKind::Low(i), out);
        }
        if self.office_jobs && job.service == Service::Print {
            let print = self.print_job(at, pages, job.duplex);
            self.truth.jobs = self.truth.jobs.saturating_add(1);
            self.emit(out, at, EventKind::Job(Box::new(print)));
        }
    }

    fn print_job(&mut self, at: Timestamp, pages: u64, duplex: bool) -> PrintJob {
        let now = self.clock(at);
        let user = self.rng.below(20);
        PrintJob {
            job: JobHeader {
                name: Some(format!("document-{}.pdf", self.jobs_done)),
                uuid: Uuid::from_u64_pair(self.rng.next_u64(), self.rng.next_u64()),
                sequence: self.jobs_done,
                submitter: Submitter {
                    user_name: Some(format!("user{user}")),
                    submitted_at: Some(now),
                    ..Submitter::default()
                },
            },
            print: PrintDetails {
                printed_at: Some(now),
                status: JobStatus::PRINTED,
                source: JobSource::DRIVER,
                quality: PrintQuality::NORMAL,
                pages: PageCount(pages),
                copies: 1,
                print_time: DurationMs(pages.saturating_mul(if duplex { 4_000 } else { 2_500 })),
                ..PrintDetails::default()
            },
        }
    }

    fn large_format_job(&mut self, at: Timestamp, job: &Job, out: &mut Vec<SimEvent>) {
        let now = self.clock(at);
        let Render::LargeFormat(lf) = &mut self.render else { return };
        if job.service == Service::Scan {
            lf.scan(&mut self.rng);
            self.bump(MeterKind::SCANS, 1);
            return;
        }
        let done = lf.print(now, self.jobs_done, &mut self.rng);
        let low = done.low_cartridge;
        let replaced = done.replacements;
        let area = done.job.print.media_area.0;
        let length_mm = done.length_um / 1_000;
        for ink in &done.job.print.ink {
            let v = self.truth.ink_nl.entry(ink.colour.clone()).or_insert(0);
            *v = v.saturating_add(ink.volume.0);
        }
        let media = self.truth.media_mm2.entry(done.media_type.clone()).or_insert(0);
        *media = media.saturating_add(area);
        self.truth.replacements = self.truth.replacements.saturating_add(replaced);
        self.truth.pages = self.truth.pages.saturating_add(1);
        self.bump(MeterKind::TOTAL, 1);
        self.bump(MeterKind::AREA_MM2, area);
        self.bump(MeterKind::LENGTH_MM, length_mm);
        self.truth.jobs = self.truth.jobs.saturating_add(1);
        let job = done.job;
        self.emit(out, at, EventKind::Job(Box::new(job)));
        if let Some(c) = low
            && !self.alerts.iter().any(|a| a.kind == AlertKind::Low(c))
        {
            self.raise(at, AlertKind::Low(c), out);
        }
        // A cartridge replaced clears its low alert.
        if replaced > 0 {
            let cleared: Vec<u32> = self
                .alerts
                .iter()
                .filter(|a| matches!(a.kind, AlertKind::Low(c) if !lf_is_low(&self.render, c)))
                .map(|a| a.row.index)
                .collect();
            for index in cleared {
                self.clear(at, index, out);
            }
        }
    }

    fn raise(&mut self, at: Timestamp, kind: AlertKind, out: &mut Vec<SimEvent>) {
        if kind != AlertKind::Low(usize::MAX) && self.alerts.iter().any(|a| a.kind == kind) {
            return;
        }
        let index = self.next_alert;
        self.next_alert = self.next_alert.saturating_add(1);
        let (severity, group, group_index, code, description) = match kind {
            AlertKind::Jam => {
                (AlertSeverity::CRITICAL, AlertGroup::MEDIA_PATH, 1, AlertCode::JAM, "Paper jam".to_string())
            }
            AlertKind::DoorOpen => {
                (AlertSeverity::CRITICAL, AlertGroup::COVER, 1, AlertCode::DOOR_OPEN, "Front door open".to_string())
            }
            AlertKind::Low(i) => {
                // The group index names the supply: its prtMarkerSuppliesIndex (the mapping sets
                // the supply's status from it), or the cartridge's position on a large-format
                // printer.
                let position = u32::try_from(i.saturating_add(1)).unwrap_or(1);
                let (code, name, supply) = match &self.render {
                    Render::Snmp { supplies, .. } => {
                        let s = supplies.get(i);
                        let ink = s.is_some_and(|s| [SupplyType::INK, SupplyType::INK_CARTRIDGE].contains(&s.row.kind));
                        let code =
                            if ink { AlertCode::MARKER_INK_ALMOST_EMPTY } else { AlertCode::MARKER_TONER_ALMOST_EMPTY };
                        (
                            code,
                            s.map_or_else(String::new, |s| s.row.description.clone()),
                            s.map_or(position, |s| s.row.index),
                        )
                    }
                    Render::LargeFormat(lf) => (AlertCode::MARKER_INK_ALMOST_EMPTY, lf.cartridge_name(i), position),
                };
                let gi = i32::try_from(supply).unwrap_or(1);
                (AlertSeverity::WARNING, AlertGroup::MARKER_SUPPLIES, gi, code, format!("{name} low"))
            }
        };
        let row = AlertRow { index, severity, group, group_index, code, description, time: self.uptime_ticks(at) };
        let now = self.clock(at);
        let alert = match &self.render {
            Render::Snmp { .. } => snmp::mapped_alert(&row, self.uptime_ticks(at), now).unwrap_or_default(),
            Render::LargeFormat(_) => Alert {
                record_id: RecordId(u64::from(index)),
                description: Some(row.description.clone()),
                code,
                group,
                group_index: u32::try_from(group_index).ok(),
                severity,
                training_level: TrainingLevel::UNTRAINED,
                raised_at: Some(now),
                ..Alert::default()
            },
        };
        self.alerts.push(Active { row, kind, alert: alert.clone() });
        self.truth.alerts_raised = self.truth.alerts_raised.saturating_add(1);
        self.emit(out, at, EventKind::Alert(Box::new(alert)));
        match kind {
            AlertKind::Jam => {
                let t = after(at, seconds(&mut self.rng, 2 * MINUTE_MS, 30 * MINUTE_MS));
                self.schedule(t, Action::Clear(index));
            }
            AlertKind::DoorOpen => {
                let t = after(at, seconds(&mut self.rng, MINUTE_MS, 10 * MINUTE_MS));
                self.schedule(t, Action::Clear(index));
            }
            AlertKind::Low(i) => {
                if let Render::Snmp { supplies, .. } = &mut self.render
                    && let Some(s) = supplies.get_mut(i)
                {
                    s.low = Some(index);
                    let t = after(at, seconds(&mut self.rng, HOUR_MS, 48 * HOUR_MS));
                    self.schedule(t, Action::Replace(i));
                }
            }
        }
    }

    fn clear(&mut self, at: Timestamp, index: u32, out: &mut Vec<SimEvent>) {
        let Some(pos) = self.alerts.iter().position(|a| a.row.index == index) else { return };
        let a = self.alerts.remove(pos);
        self.emit(out, at, EventKind::AlertCleared(a.alert.record_id));
    }

    fn replace(&mut self, at: Timestamp, i: usize, out: &mut Vec<SimEvent>) {
        let mut cleared = None;
        if let Render::Snmp { supplies, .. } = &mut self.render
            && let Some(s) = supplies.get_mut(i)
        {
            s.used = 0;
            s.serial = s.serial.saturating_add(1);
            cleared = s.low.take();
            self.truth.replacements = self.truth.replacements.saturating_add(1);
        }
        if let Some(index) = cleared {
            self.clear(at, index, out);
        }
    }

    fn counter_reset(&mut self, at: Timestamp, out: &mut Vec<SimEvent>) {
        self.instance = self.instance.saturating_add(1);
        let start = self.rng.between(0, 20);
        for (k, v) in &mut self.counters {
            *v = if *k == MeterKind::TOTAL
                || *k == MeterKind::MONO
                || *k == MeterKind::PRINT
                || *k == MeterKind::PRINT_MONO
            {
                let factory = self.truth.factory.entry(k.clone()).or_insert(0);
                *factory = factory.saturating_add(start);
                start
            } else {
                0
            };
        }
        if let Render::LargeFormat(lf) = &mut self.render {
            lf.reset_usage();
        }
        self.fault(out, at, Fault::CounterReset { instance: self.instance });
        self.boot(at, out);
    }

    fn address_change(&mut self, at: Timestamp, out: &mut Vec<SimEvent>) {
        let from = self.ip;
        let o = from.octets();
        let mut last = u8::try_from(self.rng.between(2, 250)).unwrap_or(2);
        if last == o[3] {
            last = if last == 250 { 2 } else { last.saturating_add(1) };
        }
        let to = Ipv4Addr::new(o[0], o[1], o[2], last);
        self.ip = to;
        let location = match self.site {
            Site::Collector(s) => format!("site {s}"),
            Site::Direct => "branch office".into(),
        };
        match &mut self.render {
            Render::Snmp { base, .. } => {
                let table = snmp::oid("1.3.6.1.2.1.4.20");
                let mut fresh = printfleet_sources::snmp::Bindings::new();
                for (o, v) in base.iter() {
                    if !o.starts_with(&table) {
                        fresh.insert(o.clone(), v.clone());
                    }
                }
                snmp::write_identity(&mut fresh, &self.name, &self.serial, self.mac, to, &location);
                *base = fresh;
            }
            Render::LargeFormat(lf) => lf.set_ip(to),
        }
        self.fault(out, at, Fault::AddressChange { from, to });
    }

    fn special_start(&mut self, at: Timestamp, out: &mut Vec<SimEvent>) {
        let Render::Snmp { supplies, .. } = &self.render else { return };
        if supplies.is_empty() || self.special.is_some() {
            return;
        }
        let i = usize::try_from(self.rng.below(u64::try_from(supplies.len()).unwrap_or(1))).unwrap_or(0);
        let Some(s) = supplies.get(i) else { return };
        let record = s.record_id();
        let max = s.row.max;
        let level = match self.rng.below(3) {
            0 => -3,
            1 => -2,
            _ => max.saturating_add(
                i32::try_from(self.rng.between(1, u64::try_from(max / 5).unwrap_or(1).max(1))).unwrap_or(1),
            ),
        };
        let until = after(at, seconds(&mut self.rng, HOUR_MS, DAY_MS));
        self.special = Some((i, level));
        self.schedule(until, Action::SpecialEnd);
        self.fault(out, at, Fault::SpecialLevel { supply: record, level, until: whole_seconds(until) });
    }
}

fn lf_is_low(render: &Render, cartridge: usize) -> bool {
    match render {
        Render::LargeFormat(lf) => lf.is_low(cartridge),
        Render::Snmp { .. } => false,
    }
}

impl Device {
    pub(crate) fn record_fault(&mut self, at: Timestamp, fault: Fault) {
        self.truth.faults.push((at, fault));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Faults, Mix};

    fn run(kind: Kind, cache: bool) -> Vec<SimEvent> {
        let config = FleetConfig { seed: 5, mix: Mix::only(kind), faults: Faults::HIGH, ..FleetConfig::default() };
        let template = Template::of(kind);
        let mut d = Device::new(0, kind, Site::Direct, 0, true, &config, template.as_ref());
        d.use_cache = cache;
        let until = after(config.start, 5 * DAY_MS);
        let mut out = Vec::new();
        while d.next_at().is_some_and(|t| t <= until) {
            d.step(&config.faults, &mut out);
        }
        out
    }

    #[test]
    fn a_cached_walk_maps_exactly_as_a_fresh_one() {
        for kind in [Kind::OfficeMono, Kind::OfficeColour, Kind::InkjetMfp] {
            let (cached, fresh) = (run(kind, true), run(kind, false));
            assert!(cached.iter().filter(|e| matches!(e.what, EventKind::Reading(_))).count() > 50);
            assert_eq!(cached, fresh, "{kind:?}");
        }
    }
}
