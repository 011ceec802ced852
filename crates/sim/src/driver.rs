//! The fleet's driver, generic over how frames reach the portal: [`Transport`] and [`run_with`].
//!
//! The driver owns everything on the devices' side: the [`Fleet`] and its faults, one
//! `DeviceAgent` per direct device and one `Collector` per collector site, the naive pipeline
//! beside them and the byte accounting. The transport only moves frames: in memory
//! ([`crate::InMemory`], what [`crate::run_in_memory`] uses) or over the network (the
//! `printfleet demo` command's HTTPS and session-link transport). So the same figures mean the
//! same thing whichever transport carried the frames.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use printfleet_agent::{AgentState, Collector, DeviceAgent, Event, Schedule, Transmit};
use printfleet_auth::{DeviceSecret, KeyEpoch, Session, one_shot, sender_id_of};
use printfleet_diff::DeviceState;
use printfleet_diff::sync::Instance;
use printfleet_schema::redact::SiteKey;
use printfleet_schema::{DeviceReport, DurationMs, MeterKind, PrintJob, Redaction, Timestamp};
use printfleet_wire::frame::SenderId;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use crate::config::{DAY_MS, FleetConfig, HOUR_MS, Kind};
use crate::device::{Device, Site, after};
use crate::event::{EventKind, Fault, FaultKind, SimEvent};
use crate::fleet::Fleet;
use crate::naive::{Naive, NaiveError};
use crate::run::{DayFigures, GRACE, KindSummary, RunError, Summary};

/// Steps of reports queued for the naive pipeline's thread before the driver waits for it.
const NAIVE_QUEUE: usize = 16;

/// A collector renews a device's session when it would expire within this margin (so that no
/// frame is sealed under a session that ends before it arrives).
pub const SESSION_RENEW_MARGIN: DurationMs = DurationMs(HOUR_MS);

/// One frame for the portal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outgoing {
    /// The device's index in the fleet.
    pub device: usize,
    /// The device's sender id.
    pub sender: SenderId,
    /// The sealed frame.
    pub frame: Vec<u8>,
}

/// What became of one frame a [`Transport`] was given.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// The portal stored it and answered: the reply frame, for the device's agent.
    Reply(Vec<u8>),
    /// The portal refused it; `reason` if the transport can tell (the network cannot: refusals
    /// are opaque on the wire, the portal counts them by reason).
    Rejected {
        /// Why, if known.
        reason: Option<String>,
    },
    /// It, or its reply, was lost (a connection failure): the agent retries.
    Lost,
    /// Session mode: the device's session is closed (expired, refused): the driver detaches it
    /// and opens a new one.
    Closed,
}

/// A device whose collector needs a session for it ([`Transport::open_sessions`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SessionRequest {
    /// The device's index in the fleet; `None` for a collector's own session (bundle mode,
    /// [`Transport::collector_identity`]).
    pub device: Option<usize>,
    /// Its name (its SCRAM user name).
    pub name: String,
    /// Its secret for `epoch`.
    pub secret: DeviceSecret,
    /// Its current key epoch.
    pub epoch: KeyEpoch,
}

/// How frames reach the portal. The driver ([`run_with`]) calls it at simulated instants
/// (`now`), in this order within one step: [`Transport::open_sessions`] for collector devices
/// without a session (only if [`Transport::wants_sessions`]), then [`Transport::deliver`] with
/// every frame of the step that was not lost to a network-loss fault.
///
/// Provisioning comes first: [`Transport::provision`] once per device before anything else,
/// [`Transport::new_epoch`] when a device's board is replaced (a counter-reset fault).
pub trait Transport {
    /// What stops the run (the portal is gone, its store failed ...): mapped to
    /// [`RunError::Transport`].
    type Error: std::error::Error + Send + Sync + 'static;

    /// Registers `device` with the portal under key epoch 1 and returns its secret.
    fn provision(&mut self, device: &Device) -> Result<DeviceSecret, Self::Error>;

    /// Registers `device`'s new board under `epoch` and returns its secret for that epoch.
    fn new_epoch(&mut self, device: &Device, epoch: KeyEpoch) -> Result<DeviceSecret, Self::Error>;

    /// Whether collector sites use session mode (SCRAM sessions over one link each). If not,
    /// every frame is one-shot.
    fn wants_sessions(&self) -> bool {
        false
    }

    /// Bundle mode (docs/wire-format.md §5.9): the name and secret (key epoch 1) under which the
    /// collector of site `site` authenticates its own session, if the portal knows it as the
    /// site's devices' collector. The collector then sends one bundle per round for all its
    /// devices on that session, instead of one frame per device on a session each. `None` (the
    /// default): per-device sessions. Asked once per site, only if [`Transport::wants_sessions`].
    fn collector_identity(&mut self, site: u32) -> Result<Option<(String, DeviceSecret)>, Self::Error> {
        let _ = site;
        Ok(None)
    }

    /// Session mode: runs the SCRAM handshakes of `devices`, all of collector site `site`, at
    /// `now`; one entry per device, in order: its session (the driver attaches it to the
    /// device's agent) or `None` if the handshake failed (the driver tries again next step and
    /// meanwhile the device's frames go one-shot).
    fn open_sessions(
        &mut self,
        site: u32,
        devices: &[SessionRequest],
        now: Timestamp,
    ) -> Result<Vec<Option<Session>>, Self::Error> {
        let _ = (site, now);
        Ok(devices.iter().map(|_| None).collect())
    }

    /// Delivers the frames of one step at `now`: `one_shot` (direct devices, and collector
    /// devices without a session) and, per collector site, the frames sealed under a session.
    /// Frames of one device keep their order. Returns one [`Delivery`] per frame: first those
    /// of `one_shot` in order, then each site's in the order of `sessions`.
    fn deliver(
        &mut self,
        one_shot: &[Outgoing],
        sessions: &[(u32, Vec<Outgoing>)],
        now: Timestamp,
    ) -> Result<Vec<Delivery>, Self::Error>;

    /// [`Transport::deliver`], calling `meanwhile` once while the frames are in flight (the
    /// driver runs the naive pipeline on the step's readings and simulates the next step's
    /// readings there: work that needs none of the replies). A transport that waits on a
    /// network or a disk overrides it to run `meanwhile` between sending and collecting; the
    /// default delivers, then calls it. The replies are fed to the agents afterwards at the
    /// step's own instant, so the outcome is the same either way.
    fn deliver_overlapped(
        &mut self,
        one_shot: &[Outgoing],
        sessions: &[(u32, Vec<Outgoing>)],
        now: Timestamp,
        meanwhile: &mut dyn FnMut(),
    ) -> Result<Vec<Delivery>, Self::Error> {
        let delivered = self.deliver(one_shot, sessions, now);
        meanwhile();
        delivered
    }
}

/// What the driver knows of one device at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceOutcome {
    /// Its index in the fleet.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Its sender id.
    pub sender: SenderId,
    /// Its kind.
    pub kind: Kind,
    /// Its agent's current state (what the portal should hold), if it has reported.
    pub current: Option<DeviceState>,
    /// Per meter kind, the counters' true advance as of its last reading (over every board).
    pub reported_advance: BTreeMap<MeterKind, u64>,
    /// Per meter kind, what its replaced boards' successors had counted before their first use
    /// ([`Truth::factory`](crate::Truth::factory)).
    pub factory_counts: BTreeMap<MeterKind, u64>,
    /// Its counter resets (board replacements).
    pub counter_resets: usize,
    /// The jobs it emitted: (uuid, the device's job sequence number).
    pub jobs: Vec<(uuid::Uuid, u64)>,
    /// Those of its jobs that were handed to a board later replaced (lost unless the portal
    /// had them by then).
    pub jobs_on_replaced_boards: Vec<(uuid::Uuid, u64)>,
}

/// What [`run_with`] measured: the summary's device-side figures (bytes, reports, losses,
/// resyncs, faults, jobs emitted, daily figures) and each device's outcome, for the caller to
/// check against its portal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOutcome {
    /// The device-side figures; the portal-side ones (`updates`, `converged`, `jobs_delivered`,
    /// `counters` ...) are left at zero for the caller.
    pub summary: Summary,
    /// Per device, in fleet order.
    pub devices: Vec<DeviceOutcome>,
}

/// Runs `config`'s fleet for `days` days through `transport`, moving the clock by `step`
/// ([`crate::STEP`] for [`crate::run_in_memory`]): one `DeviceAgent` per direct device
/// (`Schedule::direct()`, restored from its saved state after a reboot, a new instance with a
/// new key epoch after a board replacement) and one `Collector` per collector site
/// (`Schedule::collector(config.collector_interval)`, in session mode if the transport wants
/// it), every agent redacting as an integrator would (`Redaction::pseudonymise_all` with a site
/// key); frames lost during network-loss windows (the agents retry), replies fed back; the naive
/// pipeline on the same readings, one token per report of ours. Then [`GRACE`] more time without
/// readings. `progress` is called after each step with the simulated time reached.
///
/// Deterministic given a deterministic transport: the same configuration and days give the same
/// outcome.
pub fn run_with<T: Transport>(
    config: &FleetConfig,
    days: u32,
    step: DurationMs,
    transport: &mut T,
    progress: &mut dyn FnMut(Timestamp),
) -> Result<RunOutcome, RunError> {
    crate::run::check_days(days)?;
    let step = DurationMs(step.0.max(1));
    let mut fleet = Fleet::new(config.clone())?;
    let collector_schedule = Schedule::collector(config.collector_interval)?;
    let naive = Naive::new(derive(config.seed, 3))?;
    let mut driver = Driver::new(&fleet, config, transport, days, collector_schedule)?;
    // The naive pipeline seals on its own thread: its bytes feed nothing the agents see.
    let (naive_tx, naive_rx) = sync_channel(NAIVE_QUEUE);
    let policy = driver.policy.clone();
    std::thread::scope(|s| {
        let worker = s.spawn(move || naive_thread(naive, &policy, &naive_rx));
        driver.naive = Some(naive_tx);
        let run = drive_all(&mut fleet, &mut driver, config.start, days, step, progress);
        // Closing the queue ends the thread once it has sealed what was sent.
        driver.naive = None;
        let totals = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        run?;
        driver.add_naive(&totals);
        Ok(driver.finish(&fleet))
    })
}

/// [`run_with`]'s steps.
fn drive_all<T: Transport>(
    fleet: &mut Fleet,
    driver: &mut Driver<'_, T>,
    start: Timestamp,
    days: u32,
    step: DurationMs,
    progress: &mut dyn FnMut(Timestamp),
) -> Result<(), RunError> {
    let end = after(start, u64::from(days).saturating_mul(DAY_MS));
    let mut events = Vec::new();
    let mut t = start;
    let stop = after(end, GRACE.0);
    // The events of the step ending at `next`; the fleet's next step is simulated while this
    // one's frames are in flight ([`Transport::deliver_overlapped`]). The fleet never depends on
    // the agents, so simulating it a step ahead changes nothing they see: each step's events are
    // still fed after the previous step's replies.
    let mut next = after(t, step.0).min(stop);
    if t < end {
        fleet.advance(next.min(end), &mut events);
    }
    // Without its naive pipeline (its thread failed) the run stops: its error is the run's.
    while t < stop && driver.naive.is_some() {
        for e in events.drain(..) {
            driver.feed(fleet, e)?;
        }
        let following = after(next, step.0).min(stop);
        let ahead = (next < end && next < stop).then(|| following.min(end));
        driver.drive(fleet, next, ahead, &mut events)?;
        progress(next);
        t = next;
        next = following;
    }
    Ok(())
}

/// One report for the naive pipeline: its device's kind, the day it counts for, and the
/// report before redaction.
struct NaiveReport {
    kind: Kind,
    /// Read by a collector (counted in [`Summary::via_collector`] too).
    collector: bool,
    day: u32,
    report: DeviceReport,
}

/// What the naive pipeline sealed: token bytes per kind, and per (day, kind).
#[derive(Default)]
struct NaiveTotals {
    per_kind: BTreeMap<Kind, u64>,
    per_kind_collector: BTreeMap<Kind, u64>,
    daily: BTreeMap<(u32, Kind), u64>,
}

/// The naive pipeline's thread: redacts each report as the agents do and seals it, until the
/// queue closes.
fn naive_thread(
    mut naive: Naive,
    policy: &Redaction,
    queue: &Receiver<Vec<NaiveReport>>,
) -> Result<NaiveTotals, NaiveError> {
    let mut totals = NaiveTotals::default();
    for step in queue {
        for mut r in step {
            policy.apply(&mut r.report);
            let bytes = to_u64(naive.seal(&r.report)?.len());
            let k = totals.per_kind.entry(r.kind).or_insert(0);
            *k = k.saturating_add(bytes);
            if r.collector {
                let k = totals.per_kind_collector.entry(r.kind).or_insert(0);
                *k = k.saturating_add(bytes);
            }
            let d = totals.daily.entry((r.day, r.kind)).or_insert(0);
            *d = d.saturating_add(bytes);
        }
    }
    Ok(totals)
}

/// A direct device's agent and its last saved state.
struct Direct {
    agent: DeviceAgent,
    saved: Option<AgentState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Endpoint {
    Direct(usize),
    Collector(usize),
}

/// Derives a 32-byte value of the seed (site key, naive pipeline's key).
pub(crate) fn derive(seed: u64, label: u8) -> [u8; 32] {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ u64::from(label).rotate_left(56));
    let mut out = [0u8; 32];
    rng.fill_bytes(&mut out);
    out
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A frame polled in this step, waiting for delivery.
struct Pending {
    endpoint: Endpoint,
    /// The device it is from (a bundle's first).
    device: usize,
    /// Every device it carries a report of, with its weight in the frame's bytes (a bundle's
    /// entry sizes; one device's own frame: the device alone).
    devices: Vec<(usize, u64)>,
    transmit: Transmit,
}

impl Pending {
    fn is_bundle(&self) -> bool {
        !self.transmit.entries.is_empty()
    }
}

/// `bytes` shared out by `weights`, in integers that add up to `bytes` (the last takes what the
/// rounding down left).
fn share(bytes: u64, weights: &[(usize, u64)]) -> Vec<u64> {
    let total: u64 = weights.iter().map(|w| w.1).sum::<u64>().max(1);
    let mut out: Vec<u64> = weights
        .iter()
        .map(|w| {
            let part = u128::from(bytes).saturating_mul(u128::from(w.1)).checked_div(u128::from(total)).unwrap_or(0);
            u64::try_from(part).unwrap_or(u64::MAX)
        })
        .collect();
    let given: u64 = out.iter().sum();
    if let Some(last) = out.last_mut() {
        *last = last.saturating_add(bytes.saturating_sub(given));
    }
    out
}

/// The run's state (everything but the fleet).
struct Driver<'t, T: Transport> {
    transport: &'t mut T,
    rng: ChaCha20Rng,
    policy: Redaction,
    direct: HashMap<usize, Direct>,
    collectors: Vec<Collector>,
    /// Each collector's site id.
    collector_site: Vec<u32>,
    site_collector: HashMap<u32, usize>,
    by_sender: HashMap<SenderId, usize>,
    senders: Vec<SenderId>,
    /// Each device's secret and key epoch.
    secrets: Vec<(DeviceSecret, KeyEpoch)>,
    /// Collector devices with a session attached: when it expires.
    sessions: HashMap<usize, Timestamp>,
    /// Per collector, bundle mode's identity (its name and secret), if the transport gave one.
    links: Vec<Option<(String, DeviceSecret)>>,
    /// Collectors with their own session attached: when it expires.
    link_expires: HashMap<usize, Timestamp>,
    wakes: BinaryHeap<Reverse<(Timestamp, Endpoint)>>,
    dirty: BTreeSet<Endpoint>,
    /// The naive pipeline's queue (while the run lasts).
    naive: Option<SyncSender<Vec<NaiveReport>>>,
    latest: Vec<Option<DeviceReport>>,
    naive_jobs: Vec<Vec<PrintJob>>,
    per_kind: BTreeMap<Kind, KindSummary>,
    /// The same figures, of the devices read by a collector only.
    per_kind_collector: BTreeMap<Kind, KindSummary>,
    summary: Summary,
    jobs: Vec<Vec<(uuid::Uuid, u64)>>,
    on_replaced: Vec<Vec<(uuid::Uuid, u64)>>,
    last_total: Vec<Option<u64>>,
    daily: BTreeMap<(u32, Kind), DayFigures>,
    collector_bytes: Vec<BTreeMap<u64, u64>>,
    collector_schedule: Schedule,
    start: Timestamp,
    end: Timestamp,
}

impl<'t, T: Transport> Driver<'t, T> {
    fn new(
        fleet: &Fleet,
        config: &FleetConfig,
        transport: &'t mut T,
        days: u32,
        collector_schedule: Schedule,
    ) -> Result<Self, RunError> {
        let start = config.start;
        let policy = Redaction::pseudonymise_all(SiteKey::from_bytes(derive(config.seed, 2)));
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
        let n = fleet.devices().len();
        let mut direct = HashMap::new();
        let mut collectors: Vec<Collector> = Vec::new();
        let mut collector_site = Vec::new();
        let mut site_collector = HashMap::new();
        let mut by_sender = HashMap::new();
        let mut senders = Vec::with_capacity(n);
        let mut secrets = Vec::with_capacity(n);
        let mut per_kind: BTreeMap<Kind, KindSummary> = BTreeMap::new();
        let mut per_kind_collector: BTreeMap<Kind, KindSummary> = BTreeMap::new();
        for d in fleet.devices() {
            let name = d.name();
            let secret = transport.provision(d).map_err(|e| RunError::Transport(Box::new(e)))?;
            let sender = sender_id_of(name);
            by_sender.insert(sender, d.index());
            senders.push(sender);
            let key = one_shot::frame_key(&secret, name, KeyEpoch(1));
            secrets.push((secret, KeyEpoch(1)));
            let instance = Instance(rng.next_u32());
            match d.site() {
                Site::Direct => {
                    let agent = DeviceAgent::new(sender, &key, policy.clone(), Schedule::direct(), instance);
                    direct.insert(d.index(), Direct { agent, saved: None });
                }
                Site::Collector(id) => {
                    let c = *site_collector.entry(id).or_insert_with(|| {
                        collectors.push(Collector::new());
                        collector_site.push(id);
                        collectors.len().saturating_sub(1)
                    });
                    if let Some(collector) = collectors.get_mut(c) {
                        collector.insert(
                            start,
                            DeviceAgent::new(sender, &key, policy.clone(), collector_schedule, instance),
                        );
                    }
                }
            }
            let mut tallies = vec![&mut per_kind];
            if matches!(d.site(), Site::Collector(_)) {
                tallies.push(&mut per_kind_collector);
            }
            for tally in tallies {
                let k = tally
                    .entry(d.kind())
                    .or_insert_with(|| KindSummary { kind: Some(d.kind()), ..KindSummary::default() });
                k.devices = k.devices.saturating_add(1);
                k.device_days = k.device_days.saturating_add(u64::from(days));
            }
        }
        let collector_count = collectors.len();
        let mut links = Vec::with_capacity(collector_count);
        for site in &collector_site {
            let identity = match transport.wants_sessions() {
                true => transport.collector_identity(*site).map_err(|e| RunError::Transport(Box::new(e)))?,
                false => None,
            };
            links.push(identity);
        }
        Ok(Self {
            transport,
            rng,
            policy,
            direct,
            collectors,
            collector_site,
            site_collector,
            by_sender,
            senders,
            secrets,
            sessions: HashMap::new(),
            links,
            link_expires: HashMap::new(),
            wakes: BinaryHeap::new(),
            dirty: BTreeSet::new(),
            naive: None,
            latest: vec![None; n],
            naive_jobs: vec![Vec::new(); n],
            per_kind,
            per_kind_collector,
            summary: Summary { days, ..Summary::default() },
            jobs: vec![Vec::new(); n],
            on_replaced: vec![Vec::new(); n],
            last_total: vec![None; n],
            daily: BTreeMap::new(),
            collector_bytes: vec![BTreeMap::new(); collector_count],
            collector_schedule,
            start,
            end: after(start, u64::from(days).saturating_mul(DAY_MS)),
        })
    }

    fn endpoint(&self, fleet: &Fleet, device: usize) -> Option<Endpoint> {
        match fleet.device(device)?.site() {
            Site::Direct => Some(Endpoint::Direct(device)),
            Site::Collector(id) => self.site_collector.get(&id).map(|c| Endpoint::Collector(*c)),
        }
    }

    fn day_of(&self, at: Timestamp) -> u32 {
        let ms = at.duration_since(self.start).map_or(0, |d| d.0);
        u32::try_from(ms.checked_div(DAY_MS).unwrap_or(0)).unwrap_or(u32::MAX)
    }

    fn day(&mut self, at: Timestamp, kind: Kind) -> &mut DayFigures {
        let day = self.day_of(at);
        self.daily.entry((day, kind)).or_insert_with(|| DayFigures { day, kind: Some(kind), ..DayFigures::default() })
    }

    /// Feeds one simulator event to the device's agent.
    fn feed(&mut self, fleet: &Fleet, e: SimEvent) -> Result<(), RunError> {
        let Some(endpoint) = self.endpoint(fleet, e.device) else { return Ok(()) };
        let Some(sender) = self.senders.get(e.device).copied() else { return Ok(()) };
        let Some(kind) = fleet.device(e.device).map(Device::kind) else { return Ok(()) };
        // A direct device's agent runs on the device's clock; a collector's on the PC's.
        let now = match endpoint {
            Endpoint::Direct(_) => fleet.device_time(e.device, e.at),
            Endpoint::Collector(_) => e.at,
        };
        self.dirty.insert(endpoint);
        match e.what {
            EventKind::Reading(report) => {
                if let Some(total) = report.snapshot.meters.0.get(&MeterKind::TOTAL).copied() {
                    let last = self.last_total.get_mut(e.device).and_then(|l| l.replace(total));
                    if let Some(last) = last
                        && total >= last
                    {
                        let d = self.day(e.at, kind);
                        d.pages = d.pages.saturating_add(total.saturating_sub(last));
                    }
                }
                if let Some(l) = self.latest.get_mut(e.device) {
                    *l = Some((*report).clone());
                }
                match endpoint {
                    Endpoint::Direct(d) => {
                        if let Some(a) = self.direct.get_mut(&d) {
                            a.agent.handle_reading(now, *report);
                        }
                    }
                    Endpoint::Collector(c) => {
                        if let Some(col) = self.collectors.get_mut(c) {
                            col.handle_reading(sender, now, *report)?;
                        }
                    }
                }
            }
            EventKind::Job(job) => {
                self.summary.jobs_emitted = self.summary.jobs_emitted.saturating_add(1);
                let id = (job.job.uuid, job.job.sequence);
                if let Some(j) = self.jobs.get_mut(e.device) {
                    j.push(id);
                }
                if let Some(j) = self.naive_jobs.get_mut(e.device) {
                    j.push((*job).clone());
                }
                match endpoint {
                    Endpoint::Direct(d) => {
                        if let Some(a) = self.direct.get_mut(&d) {
                            a.agent.handle_job(now, *job);
                        }
                    }
                    Endpoint::Collector(c) => {
                        if let Some(col) = self.collectors.get_mut(c) {
                            col.handle_job(sender, now, *job)?;
                        }
                    }
                }
            }
            EventKind::Alert(alert) => match endpoint {
                Endpoint::Direct(d) => {
                    if let Some(a) = self.direct.get_mut(&d) {
                        a.agent.handle_alert(now, *alert);
                    }
                }
                Endpoint::Collector(c) => {
                    if let Some(col) = self.collectors.get_mut(c) {
                        col.handle_alert(sender, now, *alert)?;
                    }
                }
            },
            EventKind::AlertCleared(id) => {
                // A collector learns of a cleared alert at its next reading.
                if let Endpoint::Direct(d) = endpoint
                    && let Some(a) = self.direct.get_mut(&d)
                {
                    a.agent.clear_alert(now, id);
                }
            }
            EventKind::Boot => {
                if let Endpoint::Direct(d) = endpoint
                    && let Some(a) = self.direct.get_mut(&d)
                {
                    a.agent.handle_boot(now);
                }
            }
            EventKind::Fault(fault) => {
                let n = self.summary.faults.entry(fault.kind()).or_insert(0);
                *n = n.saturating_add(1);
                match fault {
                    Fault::Reboot => self.restart(fleet, e.device, now)?,
                    Fault::CounterReset { instance } => self.new_board(fleet, e.device, instance, now)?,
                    _ => {}
                }
            }
        }
        // A direct device's agent is saved as soon as an event needs it (an integrator persists
        // on `Event::SaveRequired`), not only before its next frame: a reboot later in the same
        // step restores it with everything it was given.
        if let Endpoint::Direct(d) = endpoint
            && let Some(direct) = self.direct.get_mut(&d)
            && direct.agent.needs_save()
        {
            let cp = direct.agent.save();
            direct.saved = Some(cp.state().clone());
            direct.agent.saved(cp)?;
        }
        Ok(())
    }

    /// A direct device restarted: its agent comes back from its last saved state.
    fn restart(&mut self, fleet: &Fleet, device: usize, now: Timestamp) -> Result<(), RunError> {
        let Some(d) = fleet.device(device) else { return Ok(()) };
        let Some((secret, epoch)) = self.secrets.get(device) else { return Ok(()) };
        let Some(direct) = self.direct.get_mut(&device) else { return Ok(()) };
        let Some(saved) = direct.saved.clone() else { return Ok(()) };
        let key = one_shot::frame_key(secret, d.name(), *epoch);
        let sender = direct.agent.sender();
        let mut agent = DeviceAgent::restore(sender, &key, self.policy.clone(), Schedule::direct(), saved)?;
        agent.handle_timeout(now);
        direct.agent = agent;
        Ok(())
    }

    /// A device's board was replaced: a new agent instance with the next key epoch (registered
    /// with the portal first); what the old agent had not delivered is gone with the board.
    fn new_board(&mut self, fleet: &Fleet, device: usize, instance: u32, now: Timestamp) -> Result<(), RunError> {
        let Some(d) = fleet.device(device) else { return Ok(()) };
        let Some(sender) = self.senders.get(device).copied() else { return Ok(()) };
        let epoch = KeyEpoch(instance);
        let secret = self.transport.new_epoch(d, epoch).map_err(|e| RunError::Transport(Box::new(e)))?;
        let key = one_shot::frame_key(&secret, d.name(), epoch);
        if let Some(s) = self.secrets.get_mut(device) {
            *s = (secret, epoch);
        }
        let fresh = Instance(self.rng.next_u32());
        // The jobs the old board's agent had not seen acknowledged go with it.
        let old = match d.site() {
            Site::Direct => self.direct.get(&device).map(|direct| &direct.agent),
            Site::Collector(id) => {
                self.site_collector.get(&id).and_then(|c| self.collectors.get(*c)).and_then(|col| col.agent(sender))
            }
        };
        let undelivered: Vec<(uuid::Uuid, u64)> =
            old.map(|a| a.unacknowledged_jobs().map(|j| (j.job.uuid, j.job.sequence)).collect()).unwrap_or_default();
        if let Some(r) = self.on_replaced.get_mut(device) {
            r.extend(undelivered);
        }
        match d.site() {
            Site::Direct => {
                let agent = DeviceAgent::new(sender, &key, self.policy.clone(), Schedule::direct(), fresh);
                self.direct.insert(device, Direct { agent, saved: None });
            }
            Site::Collector(id) => {
                if let Some(c) = self.site_collector.get(&id).copied()
                    && let Some(col) = self.collectors.get_mut(c)
                {
                    col.insert(
                        now,
                        DeviceAgent::new(sender, &key, self.policy.clone(), self.collector_schedule, fresh),
                    );
                }
                // The new board needs its own session.
                self.sessions.remove(&device);
            }
        }
        Ok(())
    }

    /// Session mode: opens sessions for collector `c`'s devices that have none (or whose
    /// session is about to expire).
    fn ensure_sessions(&mut self, fleet: &Fleet, c: usize, now: Timestamp) -> Result<(), RunError> {
        let Some(site) = self.collector_site.get(c).copied() else { return Ok(()) };
        let renew_before = after(now, SESSION_RENEW_MARGIN.0);
        if let Some(Some((name, secret))) = self.links.get(c) {
            if self.link_expires.get(&c).is_some_and(|expires| *expires > renew_before) {
                return Ok(());
            }
            let request =
                SessionRequest { device: None, name: name.clone(), secret: secret.clone(), epoch: KeyEpoch(1) };
            let opened =
                self.transport.open_sessions(site, &[request], now).map_err(|e| RunError::Transport(Box::new(e)))?;
            let Some(col) = self.collectors.get_mut(c) else { return Ok(()) };
            col.detach_link();
            self.link_expires.remove(&c);
            if let Some(session) = opened.into_iter().next().flatten() {
                let expires = session.expires_at();
                if let Some(channel) = session.into_device_channel()
                    && col.attach_link(channel).is_ok()
                {
                    self.link_expires.insert(c, expires);
                }
            }
            return Ok(());
        }
        let mut requests = Vec::new();
        for d in fleet.devices() {
            if d.site() != Site::Collector(site) {
                continue;
            }
            let i = d.index();
            if self.sessions.get(&i).is_some_and(|expires| *expires > renew_before) {
                continue;
            }
            if let Some((secret, epoch)) = self.secrets.get(i) {
                requests.push(SessionRequest {
                    device: Some(i),
                    name: d.name().to_owned(),
                    secret: secret.clone(),
                    epoch: *epoch,
                });
            }
        }
        if requests.is_empty() {
            return Ok(());
        }
        let opened =
            self.transport.open_sessions(site, &requests, now).map_err(|e| RunError::Transport(Box::new(e)))?;
        let Some(col) = self.collectors.get_mut(c) else { return Ok(()) };
        for (request, session) in requests.iter().zip(opened) {
            let Some(device) = request.device else { continue };
            let Some(sender) = self.senders.get(device).copied() else { continue };
            col.detach_session(sender);
            self.sessions.remove(&device);
            let Some(session) = session else { continue };
            let expires = session.expires_at();
            if let Some(channel) = session.into_device_channel() {
                col.attach_session(sender, channel)?;
                self.sessions.insert(device, expires);
            }
        }
        Ok(())
    }

    /// Wakes every endpoint that was fed or is due, until `now`, then delivers what they sent.
    /// Then, if `ahead`, simulates the fleet up to it into `events` (while the frames are in
    /// flight, if there are any).
    fn drive(
        &mut self,
        fleet: &mut Fleet,
        now: Timestamp,
        ahead: Option<Timestamp>,
        events: &mut Vec<SimEvent>,
    ) -> Result<(), RunError> {
        while let Some(Reverse((at, e))) = self.wakes.peek().copied() {
            if at > now {
                break;
            }
            self.wakes.pop();
            self.dirty.insert(e);
        }
        let due: Vec<Endpoint> = std::mem::take(&mut self.dirty).into_iter().collect();
        let mut pending = Vec::new();
        for e in due {
            self.poll_one(fleet, e, now, &mut pending)?;
        }
        if pending.is_empty() {
            if let Some(until) = ahead {
                fleet.advance(until, events);
            }
        } else {
            self.deliver(fleet, pending, now, ahead, events)?;
        }
        Ok(())
    }

    fn poll_one(&mut self, fleet: &Fleet, e: Endpoint, now: Timestamp, out: &mut Vec<Pending>) -> Result<(), RunError> {
        let mut transmits = Vec::new();
        let next = match e {
            Endpoint::Direct(d) => {
                let device_now = fleet.device_time(d, now);
                let Some(direct) = self.direct.get_mut(&d) else { return Ok(()) };
                let a = &mut direct.agent;
                a.handle_timeout(device_now);
                loop {
                    if a.needs_save() {
                        let cp = a.save();
                        direct.saved = Some(cp.state().clone());
                        a.saved(cp)?;
                    }
                    match a.poll_transmit(device_now, &mut self.rng) {
                        Some(t) => transmits.push(t),
                        None if a.needs_save() => {}
                        None => break,
                    }
                }
                while let Some(ev) = a.poll_event() {
                    if ev == Event::ResyncRequested {
                        self.summary.resyncs = self.summary.resyncs.saturating_add(1);
                    }
                }
                // Its wake-up, from its clock to the true one.
                a.poll_timeout().map(|w| {
                    let ahead = w.duration_since(device_now).map_or(0, |d| d.0);
                    after(now, ahead)
                })
            }
            Endpoint::Collector(c) => {
                if self.transport.wants_sessions() {
                    self.ensure_sessions(fleet, c, now)?;
                }
                let Some(col) = self.collectors.get_mut(c) else { return Ok(()) };
                while col.poll_read(now).is_some() {}
                loop {
                    if col.needs_save() {
                        let cp = col.save();
                        col.saved(cp)?;
                    }
                    match col.poll_transmit(now, &mut self.rng) {
                        Some(t) => transmits.push(t),
                        None if col.needs_save() => {}
                        None => break,
                    }
                }
                while let Some((_, ev)) = col.poll_event() {
                    if ev == Event::ResyncRequested {
                        self.summary.resyncs = self.summary.resyncs.saturating_add(1);
                    }
                }
                col.poll_timeout()
            }
        };
        for t in transmits {
            // A bundle's share of bytes goes to each device by the size of its entry.
            let devices: Vec<(usize, u64)> = if t.entries.is_empty() {
                self.by_sender.get(&t.device).map(|d| vec![(*d, 1)]).unwrap_or_default()
            } else {
                t.entries.iter().filter_map(|(s, n)| self.by_sender.get(s).map(|d| (*d, to_u64(*n)))).collect()
            };
            if let Some(&(device, _)) = devices.first() {
                out.push(Pending { endpoint: e, device, devices, transmit: t });
            }
        }
        if let Some(w) = next {
            // Never spin: at least one millisecond ahead.
            self.wakes.push(Reverse((w.max(after(now, 1)), e)));
        }
        Ok(())
    }

    /// The step's frames to the portal (those not lost to a network-loss fault), their replies
    /// back, and the accounting. While they are in flight: the naive pipeline on the same
    /// readings, and the fleet's next step up to `ahead` (into `events`).
    fn deliver(
        &mut self,
        fleet: &mut Fleet,
        pending: Vec<Pending>,
        now: Timestamp,
        ahead: Option<Timestamp>,
        events: &mut Vec<SimEvent>,
    ) -> Result<(), RunError> {
        let counted = now < self.end;
        let ups: Vec<u64> = pending.iter().map(|p| to_u64(p.transmit.frame.len())).collect();
        // Each device's clock now, before the fleet moves on (a clock drift in the next step
        // must not date this step's replies).
        let device_now: Vec<Timestamp> = pending.iter().map(|p| fleet.device_time(p.device, now)).collect();
        // One report per device a frame carries (a bundle's entries), in order.
        let kinds: Vec<Option<(Kind, bool)>> = pending
            .iter()
            .flat_map(|p| &p.devices)
            .map(|d| fleet.device(d.0).map(|d| (d.kind(), matches!(d.site(), Site::Collector(_)))))
            .collect();
        // Route: one-shot, or on its collector's session.
        let mut one_shot: Vec<Outgoing> = Vec::new();
        let mut one_shot_of: Vec<usize> = Vec::new();
        let mut by_site: BTreeMap<u32, (Vec<Outgoing>, Vec<usize>)> = BTreeMap::new();
        let mut outcomes: Vec<Option<Delivery>> = pending.iter().map(|_| None).collect();
        for (i, p) in pending.iter().enumerate() {
            if !fleet.network_up(p.device, now) {
                self.summary.lost = self.summary.lost.saturating_add(1);
                if let Some(o) = outcomes.get_mut(i) {
                    *o = Some(Delivery::Lost);
                }
                continue;
            }
            let out = Outgoing { device: p.device, sender: p.transmit.device, frame: p.transmit.frame.clone() };
            let on_session = p.is_bundle() || self.sessions.contains_key(&p.device);
            let site = match (p.endpoint, on_session) {
                (Endpoint::Collector(c), true) => self.collector_site.get(c).copied(),
                _ => None,
            };
            match site {
                Some(site) => {
                    let entry = by_site.entry(site).or_default();
                    entry.0.push(out);
                    entry.1.push(i);
                }
                None => {
                    one_shot.push(out);
                    one_shot_of.push(i);
                }
            }
        }
        let mut order = one_shot_of;
        let mut sessions = Vec::with_capacity(by_site.len());
        for (site, (frames, indices)) in by_site {
            order.extend(indices);
            sessions.push((site, frames));
        }
        // The naive pipeline sends the full reading now, with the jobs since its last token: one
        // token per frame of ours, in the order the frames were sent.
        let today = self.day_of(now);
        let (latest, naive_jobs, naive) = (&self.latest, &mut self.naive_jobs, &self.naive);
        let mut naive_failed = false;
        let mut meanwhile = || {
            if counted {
                let mut step = Vec::with_capacity(pending.len());
                for (device, kind) in pending.iter().flat_map(|p| &p.devices).map(|d| d.0).zip(&kinds) {
                    if let (Some(latest), Some((kind, collector))) =
                        (latest.get(device).and_then(Option::as_ref), *kind)
                    {
                        let mut report = latest.clone();
                        report.events.print_jobs = naive_jobs.get_mut(device).map(std::mem::take).unwrap_or_default();
                        step.push(NaiveReport { kind, collector, day: today, report });
                    }
                }
                // A closed queue means the thread failed: the run stops, and the thread's error
                // comes out when it is joined.
                if naive.as_ref().is_some_and(|q| q.send(step).is_err()) {
                    naive_failed = true;
                }
            }
            if let Some(until) = ahead {
                fleet.advance(until, events);
            }
        };
        if order.is_empty() {
            meanwhile();
        } else {
            let delivered = self
                .transport
                .deliver_overlapped(&one_shot, &sessions, now, &mut meanwhile)
                .map_err(|e| RunError::Transport(Box::new(e)))?;
            for (i, d) in order.into_iter().zip(delivered) {
                if let Some(o) = outcomes.get_mut(i) {
                    *o = Some(d);
                }
            }
        }
        if naive_failed {
            self.naive = None;
        }
        if counted {
            self.summary.frames = self.summary.frames.saturating_add(to_u64(pending.len()));
            self.summary.largest_frame = self.summary.largest_frame.max(ups.iter().copied().max().unwrap_or(0));
            self.summary.bundles =
                self.summary.bundles.saturating_add(to_u64(pending.iter().filter(|p| p.is_bundle()).count()));
            for kind in &kinds {
                self.summary.reports = self.summary.reports.saturating_add(1);
                let Some((kind, collector)) = *kind else { continue };
                for tally in
                    [Some(&mut self.per_kind), collector.then_some(&mut self.per_kind_collector)].into_iter().flatten()
                {
                    if let Some(k) = tally.get_mut(&kind) {
                        k.reports = k.reports.saturating_add(1);
                    }
                }
            }
        }
        // Replies back, in the order the frames were sent.
        for (((p, up), outcome), device_now) in pending.into_iter().zip(ups).zip(outcomes).zip(device_now) {
            let mut down = 0u64;
            match outcome.unwrap_or(Delivery::Lost) {
                Delivery::Reply(reply) => {
                    down = to_u64(reply.len());
                    self.reply(p.endpoint, now, device_now, &reply)?;
                }
                Delivery::Rejected { reason } => {
                    let reason = reason.unwrap_or_else(|| "refused (opaque)".to_owned());
                    let n = self.summary.refused.entry(reason).or_insert(0);
                    *n = n.saturating_add(1);
                }
                Delivery::Lost => {}
                Delivery::Closed => {
                    if let Endpoint::Collector(c) = p.endpoint
                        && let Some(col) = self.collectors.get_mut(c)
                    {
                        if p.is_bundle() {
                            col.detach_link();
                            self.link_expires.remove(&c);
                        } else {
                            col.detach_session(p.transmit.device);
                        }
                    }
                    self.sessions.remove(&p.device);
                    self.dirty.insert(p.endpoint);
                }
            }
            // Bytes count over the simulated days, not the grace period after them.
            if !counted {
                continue;
            }
            // A bundle's bytes are shared out among its devices by the size of their entries.
            for (((device, _), up), down) in p.devices.iter().zip(share(up, &p.devices)).zip(share(down, &p.devices)) {
                let Some(d) = fleet.device(*device) else { continue };
                let (kind, collector) = (d.kind(), matches!(d.site(), Site::Collector(_)));
                for tally in
                    [Some(&mut self.per_kind), collector.then_some(&mut self.per_kind_collector)].into_iter().flatten()
                {
                    if let Some(k) = tally.get_mut(&kind) {
                        k.ours_up = k.ours_up.saturating_add(up);
                        k.ours_down = k.ours_down.saturating_add(down);
                    }
                }
                let d = self.day(now, kind);
                d.ours = d.ours.saturating_add(up).saturating_add(down);
            }
            if let Endpoint::Collector(c) = p.endpoint
                && let Some(per) = self.collector_bytes.get_mut(c)
            {
                let interval = self.collector_schedule.interval().0.max(1);
                let slot = now.duration_since(self.start).map_or(0, |d| d.0).checked_div(interval).unwrap_or(0);
                let b = per.entry(slot).or_insert(0);
                *b = b.saturating_add(up).saturating_add(down);
            }
        }
        Ok(())
    }

    /// A reply for endpoint `e` at `now` (`device_now` on the device's own clock).
    fn reply(&mut self, e: Endpoint, now: Timestamp, device_now: Timestamp, reply: &[u8]) -> Result<(), RunError> {
        match e {
            Endpoint::Direct(d) => {
                if let Some(a) = self.direct.get_mut(&d) {
                    a.agent.handle_frame(device_now, reply);
                }
                self.dirty.insert(e);
            }
            Endpoint::Collector(c) => {
                if let Some(col) = self.collectors.get_mut(c) {
                    col.handle_frame(now, reply)?;
                }
            }
        }
        Ok(())
    }

    /// The naive pipeline's bytes, into the per-kind and daily figures.
    fn add_naive(&mut self, totals: &NaiveTotals) {
        for (kind, bytes) in &totals.per_kind {
            if let Some(k) = self.per_kind.get_mut(kind) {
                k.naive = k.naive.saturating_add(*bytes);
            }
        }
        for (kind, bytes) in &totals.per_kind_collector {
            if let Some(k) = self.per_kind_collector.get_mut(kind) {
                k.naive = k.naive.saturating_add(*bytes);
            }
        }
        for ((day, kind), bytes) in &totals.daily {
            let d = self.daily.entry((*day, *kind)).or_insert_with(|| DayFigures {
                day: *day,
                kind: Some(*kind),
                ..DayFigures::default()
            });
            d.naive = d.naive.saturating_add(*bytes);
        }
    }

    fn finish(mut self, fleet: &Fleet) -> RunOutcome {
        let mut s = std::mem::take(&mut self.summary);
        let mut devices = Vec::with_capacity(fleet.devices().len());
        for (i, d) in fleet.devices().iter().enumerate() {
            let Some(sender) = self.senders.get(i).copied() else { continue };
            let current = match d.site() {
                Site::Direct => self.direct.get(&i).and_then(|a| a.agent.current().cloned()),
                Site::Collector(id) => self
                    .site_collector
                    .get(&id)
                    .and_then(|c| self.collectors.get(*c))
                    .and_then(|c| c.agent(sender))
                    .and_then(|a| a.current().cloned()),
            };
            devices.push(DeviceOutcome {
                index: i,
                name: d.name().to_owned(),
                sender,
                kind: d.kind(),
                current,
                reported_advance: d.truth().reported.clone(),
                factory_counts: d.truth().factory.clone(),
                counter_resets: d.truth().faults_of(FaultKind::CounterReset),
                jobs: self.jobs.get_mut(i).map(std::mem::take).unwrap_or_default(),
                jobs_on_replaced_boards: self.on_replaced.get_mut(i).map(std::mem::take).unwrap_or_default(),
            });
        }
        s.per_kind = Kind::ALL.iter().filter_map(|k| self.per_kind.remove(k)).collect();
        s.via_collector = Kind::ALL.iter().filter_map(|k| self.per_kind_collector.remove(k)).collect();
        for per in &self.collector_bytes {
            if let Some(first) = per.get(&0) {
                s.first_collector_interval_bytes = s.first_collector_interval_bytes.max(*first);
            }
            let days = u64::from(s.days).saturating_mul(DAY_MS);
            let interval = self.collector_schedule.interval().0.max(1);
            let last_slot = days.checked_div(interval).unwrap_or(0);
            for (slot, b) in per {
                if *slot > 0 && *slot < last_slot {
                    s.max_collector_interval_bytes = s.max_collector_interval_bytes.max(*b);
                }
            }
        }
        // Every (day, kind) of the simulated days, zeros included, in day then kind order.
        let kinds: Vec<Kind> = s.per_kind.iter().filter_map(|k| k.kind).collect();
        for day in 0..s.days {
            for kind in &kinds {
                let figures = self.daily.remove(&(day, *kind)).unwrap_or(DayFigures {
                    day,
                    kind: Some(*kind),
                    ..DayFigures::default()
                });
                s.daily.push(figures);
            }
        }
        RunOutcome { summary: s, devices }
    }
}
