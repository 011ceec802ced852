//! The whole pipeline in memory, without sockets or disk: [`run_in_memory`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use printfleet_agent::{AgentState, Collector, DeviceAgent, Event, Schedule, Transmit};
use printfleet_auth::{FleetMasterKey, KeyEpoch, one_shot};
use printfleet_diff::DeviceState;
use printfleet_diff::sync::Instance;
use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Ingest, IngestError, Owner, ResellerId};
use printfleet_meter::{ContractId, DeviceId};
use printfleet_schema::redact::SiteKey;
use printfleet_schema::{DeviceReport, DurationMs, MeterKind, PrintJob, Redaction, Timestamp};
use printfleet_wire::frame::SenderId;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use crate::config::{ConfigError, DAY_MS, FleetConfig, HOUR_MS, Kind, MINUTE_MS};
use crate::device::{Site, after};
use crate::event::{EventKind, Fault, FaultKind, SimEvent};
use crate::fleet::Fleet;
use crate::naive::{Naive, NaiveError};

/// The most days [`run_in_memory`] simulates.
pub const MAX_RUN_DAYS: u32 = 366;

/// How often the in-memory pipeline moves the clock (events keep their own times; agents are
/// woken at the end of each step).
pub const STEP: DurationMs = DurationMs(MINUTE_MS);

/// After the last simulated day, the agents run this much longer without new readings (the
/// network faults already drawn still apply), so that every device's last state can reach the
/// portal: a collector interval (at most 180 minutes by default), the longest back-off (an hour),
/// a network loss (at most 6 hours), with margin.
pub const GRACE: DurationMs = DurationMs(12 * HOUR_MS);

/// Why the in-memory run failed (each is a bug in a crate it drives, not a fault it injects).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The fleet's configuration.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// More than [`MAX_RUN_DAYS`] days, or none.
    #[error("days must be between 1 and {max}, not {days}")]
    Days {
        /// The number asked for.
        days: u32,
        /// [`MAX_RUN_DAYS`].
        max: u32,
    },
    /// The portal's ingest failed other than by refusing a frame.
    #[error("ingest: {0}")]
    Ingest(#[from] IngestError),
    /// An agent call failed.
    #[error("agent: {0}")]
    Agent(#[from] printfleet_agent::AgentError),
    /// The agent's schedule was refused.
    #[error("schedule: {0}")]
    Schedule(#[from] printfleet_agent::ConfigError),
    /// The naive pipeline failed.
    #[error("naive pipeline: {0}")]
    Naive(#[from] NaiveError),
}

/// Wire bytes of one fleet kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KindSummary {
    /// The kind.
    pub kind: Option<Kind>,
    /// Devices of this kind.
    pub devices: u64,
    /// Device-days simulated.
    pub device_days: u64,
    /// Our bytes from devices (or collectors) to the portal: every sealed frame sent.
    pub ours_up: u64,
    /// Our bytes from the portal back: every reply sealed.
    pub ours_down: u64,
    /// The naive pipeline's bytes: one token per report of ours, of the full current reading
    /// with the jobs since its previous token.
    pub naive: u64,
    /// Frames we sent during the simulated days.
    pub reports: u64,
}

impl KindSummary {
    /// Our bytes (both directions) per device-day.
    pub fn ours_per_device_day(&self) -> u64 {
        self.ours_up.saturating_add(self.ours_down).checked_div(self.device_days).unwrap_or(0)
    }

    /// The naive pipeline's bytes per device-day.
    pub fn naive_per_device_day(&self) -> u64 {
        self.naive.checked_div(self.device_days).unwrap_or(0)
    }

    fn add(&mut self, other: &Self) {
        self.devices = self.devices.saturating_add(other.devices);
        self.device_days = self.device_days.saturating_add(other.device_days);
        self.ours_up = self.ours_up.saturating_add(other.ours_up);
        self.ours_down = self.ours_down.saturating_add(other.ours_down);
        self.naive = self.naive.saturating_add(other.naive);
        self.reports = self.reports.saturating_add(other.reports);
    }
}

/// What [`run_in_memory`] measured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Days simulated (the grace period after them not counted).
    pub days: u32,
    /// Per fleet kind, in [`Kind::ALL`] order (kinds without devices left out).
    pub per_kind: Vec<KindSummary>,
    /// Frames sent by agents (reports, retries included).
    pub reports: u64,
    /// Frames lost in network-loss windows (either way).
    pub lost: u64,
    /// Updates the portal applied.
    pub updates: u64,
    /// Duplicates the portal recognised (a retry whose first copy arrived).
    pub duplicates: u64,
    /// Full snapshots the portal asked for.
    pub resyncs: u64,
    /// Frames the portal refused, by reason (its `Refusal`'s debug text).
    pub refused: BTreeMap<String, u64>,
    /// Faults injected, by kind (network losses once per device of the site).
    pub faults: BTreeMap<FaultKind, u64>,
    /// Devices whose state at the portal equals their agent's current state at the end.
    pub converged: u64,
    /// Devices whose state at the portal does not (their indices).
    pub not_converged: Vec<usize>,
    /// Job events the simulator emitted.
    pub jobs_emitted: u64,
    /// Distinct jobs the portal recorded.
    pub jobs_delivered: u64,
    /// Jobs the portal recorded more than once.
    pub jobs_doubled: u64,
    /// Jobs emitted that never reached the portal, other than those lost with a replaced board.
    pub jobs_lost: u64,
    /// Jobs not yet acknowledged when their device's board was replaced (a counter-reset
    /// fault): the board's agent state goes with it.
    pub jobs_lost_with_board: u64,
    /// Per meter kind, summed over the fleet: (the counters' true advance as of each device's
    /// last reading, the advance the portal's observations show, summing each counter segment's
    /// advance). They differ only by what a counter reset hides (the advance between the last
    /// observation before a reset and the reset, and from the reset to the first observation
    /// after it).
    pub counters: BTreeMap<MeterKind, (u64, u64)>,
    /// The most bytes (both directions) one collector moved in one collector interval, after
    /// its first interval (which carries every device's first full snapshot).
    pub max_collector_interval_bytes: u64,
    /// The same, for the first interval.
    pub first_collector_interval_bytes: u64,
}

impl Summary {
    /// Every kind together.
    pub fn total(&self) -> KindSummary {
        let mut t = KindSummary::default();
        for k in &self.per_kind {
            t.add(k);
        }
        t
    }

    /// One kind's figures, if the fleet has any.
    pub fn kind(&self, kind: Kind) -> Option<&KindSummary> {
        self.per_kind.iter().find(|k| k.kind == Some(kind))
    }
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

/// The portal's view, as a store would keep it from each batch's writes.
#[derive(Default)]
struct PortalView {
    states: HashMap<SenderId, DeviceState>,
    jobs: HashMap<uuid::Uuid, u32>,
    /// (device, meter) → (last value, summed advance).
    segments: HashMap<(u64, MeterKind), (u64, u64)>,
}

fn derive(seed: u64, label: u8) -> [u8; 32] {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ u64::from(label).rotate_left(56));
    let mut out = [0u8; 32];
    rng.fill_bytes(&mut out);
    out
}

/// Runs `config`'s fleet for `days` days through the whole pipeline, in memory: one
/// `DeviceAgent` per direct device (`Schedule::direct()`, restored from its saved state after a
/// reboot, a new instance with a new key epoch after a board replacement) and one `Collector`
/// per collector site (`Schedule::collector(config.collector_interval)`), every agent redacting
/// as an integrator would (`Redaction::pseudonymise_all` with a site key); frames through one
/// `printfleet_ingest::Ingest` (each batch committed at once, as if stored), lost during
/// network-loss windows (the agents retry), replies fed back; and the naive pipeline on the
/// same readings, one token per report of ours. Then [`GRACE`] more time without readings, and
/// the checks of [`Summary`].
///
/// Deterministic: the same configuration and days give the same summary.
pub fn run_in_memory(config: &FleetConfig, days: u32) -> Result<Summary, RunError> {
    if days == 0 || days > MAX_RUN_DAYS {
        return Err(RunError::Days { days, max: MAX_RUN_DAYS });
    }
    let mut fleet = Fleet::new(config.clone())?;
    let start = config.start;
    let end = after(start, u64::from(days).saturating_mul(DAY_MS));
    let collector_schedule = Schedule::collector(config.collector_interval)?;
    let mut state = State::new(&fleet, config, start, derive(config.seed, 1), days, collector_schedule)?;
    let mut events = Vec::new();
    let mut t = start;
    let stop = after(end, GRACE.0);
    while t < stop {
        let next = after(t, STEP.0).min(stop);
        if t < end {
            fleet.advance(next.min(end), &mut events);
            for e in events.drain(..) {
                state.feed(&fleet, e)?;
            }
        }
        state.drive(&fleet, next)?;
        t = next;
    }
    state.finish(&fleet)
}

/// The run's state (everything but the fleet).
struct State {
    master: [u8; 32],
    ingest: Ingest<FleetMasterKey>,
    rng: ChaCha20Rng,
    policy: Redaction,
    direct: HashMap<usize, Direct>,
    collectors: Vec<Collector>,
    site_collector: HashMap<u32, usize>,
    by_sender: HashMap<SenderId, usize>,
    senders: Vec<SenderId>,
    wakes: BinaryHeap<Reverse<(Timestamp, Endpoint)>>,
    dirty: std::collections::BTreeSet<Endpoint>,
    portal: PortalView,
    naive: Naive,
    latest: Vec<Option<DeviceReport>>,
    naive_jobs: Vec<Vec<PrintJob>>,
    per_kind: BTreeMap<Kind, KindSummary>,
    summary: Summary,
    emitted: HashMap<uuid::Uuid, usize>,
    fed: Vec<Vec<uuid::Uuid>>,
    lost_with_board: HashSet<uuid::Uuid>,
    collector_bytes: Vec<BTreeMap<u64, u64>>,
    collector_schedule: Schedule,
    start: Timestamp,
    end: Timestamp,
}

impl State {
    fn new(
        fleet: &Fleet,
        config: &FleetConfig,
        start: Timestamp,
        master: [u8; 32],
        days: u32,
        collector_schedule: Schedule,
    ) -> Result<Self, RunError> {
        let mut ingest = Ingest::new(FleetMasterKey::from_bytes(master));
        let policy = Redaction::pseudonymise_all(SiteKey::from_bytes(derive(config.seed, 2)));
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
        let n = fleet.devices().len();
        let mut direct = HashMap::new();
        let mut collectors: Vec<Collector> = Vec::new();
        let mut site_collector = HashMap::new();
        let mut by_sender = HashMap::new();
        let mut senders = Vec::with_capacity(n);
        let mut per_kind: BTreeMap<Kind, KindSummary> = BTreeMap::new();
        for d in fleet.devices() {
            let name = d.name().to_owned();
            let sender = ingest.provision(DeviceRecord {
                name: name.clone(),
                owner: Owner { reseller: ResellerId(1), customer: CustomerId(1), contract: ContractId(1) },
                meter_device: DeviceId(u64::try_from(d.index()).unwrap_or(u64::MAX)),
                revoked: false,
                credentials: vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }],
            })?;
            by_sender.insert(sender, d.index());
            senders.push(sender);
            let secret = FleetMasterKey::from_bytes(master).device_secret(&name, KeyEpoch(1));
            let key = one_shot::frame_key(&secret, &name, KeyEpoch(1));
            let instance = Instance(rng.next_u32());
            match d.site() {
                Site::Direct => {
                    let agent = DeviceAgent::new(sender, &key, policy.clone(), Schedule::direct(), instance);
                    direct.insert(d.index(), Direct { agent, saved: None });
                }
                Site::Collector(id) => {
                    let c = *site_collector.entry(id).or_insert_with(|| {
                        collectors.push(Collector::new());
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
            let k = per_kind
                .entry(d.kind())
                .or_insert_with(|| KindSummary { kind: Some(d.kind()), ..KindSummary::default() });
            k.devices = k.devices.saturating_add(1);
            k.device_days = k.device_days.saturating_add(u64::from(days));
        }
        let collector_count = collectors.len();
        Ok(Self {
            master,
            ingest,
            rng,
            policy,
            direct,
            collectors,
            site_collector,
            by_sender,
            senders,
            wakes: BinaryHeap::new(),
            dirty: std::collections::BTreeSet::new(),
            portal: PortalView::default(),
            naive: Naive::new(derive(config.seed, 3))?,
            latest: vec![None; n],
            naive_jobs: vec![Vec::new(); n],
            per_kind,
            summary: Summary { days, ..Summary::default() },
            emitted: HashMap::new(),
            fed: vec![Vec::new(); n],
            lost_with_board: HashSet::new(),
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

    /// Feeds one simulator event to the device's agent.
    fn feed(&mut self, fleet: &Fleet, e: SimEvent) -> Result<(), RunError> {
        let Some(endpoint) = self.endpoint(fleet, e.device) else { return Ok(()) };
        let Some(sender) = self.senders.get(e.device).copied() else { return Ok(()) };
        // A direct device's agent runs on the device's clock; a collector's on the PC's.
        let now = match endpoint {
            Endpoint::Direct(_) => fleet.device_time(e.device, e.at),
            Endpoint::Collector(_) => e.at,
        };
        self.dirty.insert(endpoint);
        match e.what {
            EventKind::Reading(report) => {
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
                self.emitted.insert(job.job.uuid, e.device);
                if let Some(f) = self.fed.get_mut(e.device) {
                    f.push(job.job.uuid);
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
        Ok(())
    }

    /// A direct device restarted: its agent comes back from its last saved state.
    fn restart(&mut self, fleet: &Fleet, device: usize, now: Timestamp) -> Result<(), RunError> {
        let Some(d) = fleet.device(device) else { return Ok(()) };
        let Some(direct) = self.direct.get_mut(&device) else { return Ok(()) };
        let Some(saved) = direct.saved.clone() else { return Ok(()) };
        let epoch = KeyEpoch(d.instance());
        let secret = FleetMasterKey::from_bytes(self.master).device_secret(d.name(), epoch);
        let key = one_shot::frame_key(&secret, d.name(), epoch);
        let sender = direct.agent.sender();
        let mut agent = DeviceAgent::restore(sender, &key, self.policy.clone(), Schedule::direct(), saved)?;
        agent.handle_timeout(now);
        direct.agent = agent;
        Ok(())
    }

    /// A device's board was replaced: a new agent instance with the next key epoch (provisioned
    /// at the portal first); what the old agent had not delivered is gone with the board.
    fn new_board(&mut self, fleet: &Fleet, device: usize, instance: u32, now: Timestamp) -> Result<(), RunError> {
        let Some(d) = fleet.device(device) else { return Ok(()) };
        let Some(sender) = self.senders.get(device).copied() else { return Ok(()) };
        let epoch = KeyEpoch(instance);
        self.ingest.add_credential(sender, Credential { epoch, revoked: false, verifier: None })?;
        let secret = FleetMasterKey::from_bytes(self.master).device_secret(d.name(), epoch);
        let key = one_shot::frame_key(&secret, d.name(), epoch);
        let fresh = Instance(self.rng.next_u32());
        for uuid in self.fed.get_mut(device).map(std::mem::take).unwrap_or_default() {
            if !self.portal.jobs.contains_key(&uuid) {
                self.lost_with_board.insert(uuid);
            }
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
            }
        }
        Ok(())
    }

    /// Wakes every endpoint that was fed or is due, until `now`.
    fn drive(&mut self, fleet: &Fleet, now: Timestamp) -> Result<(), RunError> {
        while let Some(Reverse((at, e))) = self.wakes.peek().copied() {
            if at > now {
                break;
            }
            self.wakes.pop();
            self.dirty.insert(e);
        }
        let due: Vec<Endpoint> = std::mem::take(&mut self.dirty).into_iter().collect();
        for e in due {
            self.drive_one(fleet, e, now)?;
        }
        Ok(())
    }

    fn drive_one(&mut self, fleet: &Fleet, e: Endpoint, now: Timestamp) -> Result<(), RunError> {
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
            self.deliver(fleet, e, t, now)?;
        }
        if let Some(w) = next {
            // Never spin: at least one step ahead.
            self.wakes.push(Reverse((w.max(after(now, 1)), e)));
        }
        Ok(())
    }

    /// One frame to the portal and, if it gets through, its reply back.
    fn deliver(&mut self, fleet: &Fleet, e: Endpoint, t: Transmit, now: Timestamp) -> Result<(), RunError> {
        let Some(device) = self.by_sender.get(&t.device).copied() else { return Ok(()) };
        let Some(kind) = fleet.device(device).map(|d| d.kind()) else { return Ok(()) };
        let up = u64::try_from(t.frame.len()).unwrap_or(u64::MAX);
        if now < self.end {
            self.summary.reports = self.summary.reports.saturating_add(1);
        }
        // The naive pipeline sends the full reading now, with the jobs since its last token.
        let counted = now < self.end;
        let naive_bytes = match self.latest.get(device).and_then(Option::as_ref) {
            Some(latest) if counted => {
                let mut report = latest.clone();
                report.events.print_jobs = self.naive_jobs.get_mut(device).map(std::mem::take).unwrap_or_default();
                self.policy.apply(&mut report);
                let before = self.naive.bytes_sealed();
                self.naive.seal(&report)?;
                self.naive.bytes_sealed().saturating_sub(before)
            }
            _ => 0,
        };
        let mut down = 0u64;
        if fleet.network_up(device, now) {
            match self.ingest.receive(&t.frame, now) {
                Ok(batch) => {
                    self.record(batch.writes());
                    let reply = self.ingest.commit(batch, now, &mut self.rng)?;
                    down = u64::try_from(reply.len()).unwrap_or(u64::MAX);
                    // The reply leaves at the same instant: the network is up for it too.
                    self.reply(fleet, e, device, now, &reply)?;
                }
                Err(IngestError::Rejected(reason)) => {
                    let n = self.summary.refused.entry(format!("{reason:?}")).or_insert(0);
                    *n = n.saturating_add(1);
                }
                Err(other) => return Err(other.into()),
            }
        } else {
            self.summary.lost = self.summary.lost.saturating_add(1);
        }
        // Bytes count over the simulated days, not the grace period after them.
        if !counted {
            return Ok(());
        }
        if let Some(k) = self.per_kind.get_mut(&kind) {
            k.ours_up = k.ours_up.saturating_add(up);
            k.ours_down = k.ours_down.saturating_add(down);
            k.naive = k.naive.saturating_add(naive_bytes);
            k.reports = k.reports.saturating_add(1);
        }
        if let Endpoint::Collector(c) = e
            && let Some(per) = self.collector_bytes.get_mut(c)
        {
            let interval = self.collector_schedule.interval().0.max(1);
            let slot = now.duration_since(self.start).map_or(0, |d| d.0).checked_div(interval).unwrap_or(0);
            let b = per.entry(slot).or_insert(0);
            *b = b.saturating_add(up).saturating_add(down);
        }
        Ok(())
    }

    fn reply(
        &mut self,
        fleet: &Fleet,
        e: Endpoint,
        device: usize,
        now: Timestamp,
        reply: &[u8],
    ) -> Result<(), RunError> {
        match e {
            Endpoint::Direct(d) => {
                if let Some(a) = self.direct.get_mut(&d) {
                    a.agent.handle_frame(fleet.device_time(device, now), reply);
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

    /// What a store would keep from a batch's writes.
    fn record(&mut self, w: &printfleet_ingest::Writes) {
        if let Some(state) = &w.state {
            self.portal.states.insert(w.device, DeviceState::clone(state));
        }
        for j in &w.jobs {
            let n = self.portal.jobs.entry(j.job.uuid).or_insert(0);
            *n = n.saturating_add(1);
        }
        for o in &w.observations {
            // The counters' check is per meter kind; ink, media and application categories are
            // billed from the same reports but have no simulated truth to compare with.
            let printfleet_meter::Category::Meter(kind) = &o.kind else { continue };
            let key = (o.key.device.0, kind.clone());
            match self.portal.segments.get_mut(&key) {
                Some((last, sum)) => {
                    if o.value >= *last {
                        *sum = sum.saturating_add(o.value.saturating_sub(*last));
                    }
                    *last = o.value;
                }
                None => {
                    self.portal.segments.insert(key, (o.value, 0));
                }
            }
        }
        self.summary.updates = self.ingest.counters().applied();
        self.summary.duplicates = self.ingest.counters().duplicates();
    }

    fn finish(mut self, fleet: &Fleet) -> Result<Summary, RunError> {
        let mut s = std::mem::take(&mut self.summary);
        for (i, d) in fleet.devices().iter().enumerate() {
            let Some(sender) = self.senders.get(i) else { continue };
            let current = match d.site() {
                Site::Direct => self.direct.get(&i).and_then(|a| a.agent.current().cloned()),
                Site::Collector(id) => self
                    .site_collector
                    .get(&id)
                    .and_then(|c| self.collectors.get(*c))
                    .and_then(|c| c.agent(*sender))
                    .and_then(|a| a.current().cloned()),
            };
            if current.is_some() && self.portal.states.get(sender) == current.as_ref() {
                s.converged = s.converged.saturating_add(1);
            } else {
                s.not_converged.push(i);
            }
            for (kind, adv) in &d.truth().reported {
                let seen =
                    self.portal.segments.get(&(u64::try_from(i).unwrap_or(u64::MAX), kind.clone())).map_or(0, |x| x.1);
                let e = s.counters.entry(kind.clone()).or_insert((0, 0));
                e.0 = e.0.saturating_add(*adv);
                e.1 = e.1.saturating_add(seen);
            }
        }
        s.jobs_delivered = u64::try_from(self.portal.jobs.len()).unwrap_or(u64::MAX);
        s.jobs_doubled = u64::try_from(self.portal.jobs.values().filter(|n| **n > 1).count()).unwrap_or(u64::MAX);
        let lost = self
            .emitted
            .keys()
            .filter(|u| !self.portal.jobs.contains_key(u) && !self.lost_with_board.contains(u))
            .count();
        s.jobs_lost = u64::try_from(lost).unwrap_or(u64::MAX);
        s.jobs_lost_with_board = u64::try_from(self.lost_with_board.len()).unwrap_or(u64::MAX);
        s.per_kind = Kind::ALL.iter().filter_map(|k| self.per_kind.remove(k)).collect();
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
        Ok(s)
    }
}
