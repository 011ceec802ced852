//! The whole pipeline in memory, without sockets or disk: [`run_in_memory`], the driver
//! ([`crate::run_with`]) with [`InMemory`], a [`Transport`] that hands each frame to one
//! `printfleet_ingest::Ingest` and keeps what a store would.

use std::collections::{BTreeMap, HashMap, HashSet};

use printfleet_auth::{
    ClientHandshake, DecoyKey, DeviceSecret, FleetMasterKey, KeyEpoch, ServerConfig, Session, Verifier, sender_id_of,
    server_start,
};
use printfleet_diff::DeviceState;
use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Ingest, IngestError, Owner, ResellerId, SessionHandle};
use printfleet_meter::{ContractId, DeviceId};
use printfleet_schema::{DurationMs, MeterKind, Timestamp};
use printfleet_wire::frame::{FrameHeader, MessageKind, SenderId};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::config::{ConfigError, FleetConfig, HOUR_MS, Kind, MINUTE_MS};
use crate::device::{Device, Site};
use crate::driver::{Delivery, Outgoing, RunOutcome, SessionRequest, Transport, derive};
use crate::event::FaultKind;
use crate::naive::NaiveError;

/// The most days [`run_in_memory`] simulates.
pub const MAX_RUN_DAYS: u32 = 366;

/// Refuses ([`RunError::Days`]) a run of no day or of more than [`MAX_RUN_DAYS`]: what every run
/// checks first, for a caller to check before it sets anything up.
pub fn check_days(days: u32) -> Result<(), RunError> {
    if days == 0 || days > MAX_RUN_DAYS {
        return Err(RunError::Days { days, max: MAX_RUN_DAYS });
    }
    Ok(())
}

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
    /// The [`crate::Transport`] failed other than by losing or refusing a frame (the portal is
    /// gone, its store failed ...).
    #[error("transport: {0}")]
    Transport(Box<dyn std::error::Error + Send + Sync + 'static>),
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

    pub(crate) fn add(&mut self, other: &Self) {
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
    /// The same, of the devices read by a collector only (an SDS-style fleet: a LAN monitor's
    /// printers); kinds without such devices left out.
    pub via_collector: Vec<KindSummary>,
    /// Reports sent by agents (retries included): a device's own frame, or its entry in a
    /// collector's bundle.
    pub reports: u64,
    /// Frames sent by agents and collectors: each device's own frames, and bundles.
    pub frames: u64,
    /// Of those frames, bundles (docs/wire-format.md §5.9).
    pub bundles: u64,
    /// The largest frame an agent or collector sent, in bytes (a transfer, in Partner Link's
    /// words: the seed keeps each under 100 KB).
    pub largest_frame: u64,
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
    /// Day by day and kind by kind (kinds in [`Kind::ALL`] order): bytes and pages.
    pub daily: Vec<DayFigures>,
}

/// One fleet kind's figures of one simulated day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DayFigures {
    /// The day, counted from 0 at the fleet's start.
    pub day: u32,
    /// The kind.
    pub kind: Option<Kind>,
    /// Our bytes (both directions) that day.
    pub ours: u64,
    /// The naive pipeline's bytes that day.
    pub naive: u64,
    /// Pages the kind's devices reported printing that day (the total meter's advance between
    /// readings; a counter reset's drop is not counted).
    pub pages: u64,
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

/// Runs `config`'s fleet for `days` days through the whole pipeline, in memory: the driver
/// ([`crate::run_with`], every [`STEP`]) with an [`InMemory`] transport: frames through one
/// `printfleet_ingest::Ingest`, each batch committed at once as if stored. Then the checks of
/// [`Summary`] against what the in-memory portal kept.
///
/// Each collector sends its printers' updates in bundles under its own session
/// ([`InMemory::with_bundles`]), as a collector should; [`run_in_memory_with`] runs them one frame
/// per printer instead.
///
/// Deterministic: the same configuration and days give the same summary.
pub fn run_in_memory(config: &FleetConfig, days: u32) -> Result<Summary, RunError> {
    run_in_memory_with(config, days, true)
}

/// [`run_in_memory`], with `bundles` saying whether collectors send bundles under sessions of
/// their own ([`InMemory::with_bundles`]) or every printer's frames one-shot ([`InMemory::new`]).
pub fn run_in_memory_with(config: &FleetConfig, days: u32, bundles: bool) -> Result<Summary, RunError> {
    let mut transport = if bundles { InMemory::with_bundles(config.seed) } else { InMemory::new(config.seed) };
    let outcome = crate::driver::run_with(config, days, STEP, &mut transport, &mut |_| {})?;
    Ok(transport.summary(outcome))
}

/// The portal's view, as a store would keep it from each batch's writes.
#[derive(Default)]
struct PortalView {
    states: HashMap<SenderId, DeviceState>,
    jobs: HashMap<uuid::Uuid, u32>,
    /// (device, meter) → (last value, summed advance).
    segments: HashMap<(u64, MeterKind), (u64, u64)>,
}

/// A [`Transport`] without sockets or disk: one `printfleet_ingest::Ingest` (its master key
/// derived from the seed), every batch committed at once, and what a store would keep of the
/// batches (states, jobs, meter observations) for the checks.
pub struct InMemory {
    master: [u8; 32],
    ingest: Ingest<FleetMasterKey>,
    rng: ChaCha20Rng,
    view: PortalView,
    /// Bundle mode: the SCRAM server's configuration; `None`: every frame one-shot.
    scram: Option<ServerConfig>,
    /// Open sessions, by the sender id they authenticated.
    sessions: HashMap<SenderId, SessionHandle>,
}

impl std::fmt::Debug for InMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemory").field("devices", &self.view.states.len()).finish_non_exhaustive()
    }
}

impl InMemory {
    /// An empty portal whose keys derive from `seed`.
    pub fn new(seed: u64) -> Self {
        let master = derive(seed, 1);
        Self {
            master,
            ingest: Ingest::new(FleetMasterKey::from_bytes(master)),
            rng: ChaCha20Rng::seed_from_u64(seed ^ 0x5eed_c0de),
            view: PortalView::default(),
            scram: None,
            sessions: HashMap::new(),
        }
    }

    /// [`InMemory::new`], with each collector site's collector provisioned under its own name
    /// (`collector-<site>`, with a SCRAM verifier) as its printers' collector: the driver opens
    /// one session per collector (an in-process SCRAM handshake) and the collector sends
    /// bundles on it (docs/wire-format.md §5.9).
    pub fn with_bundles(seed: u64) -> Self {
        let mut transport = Self::new(seed);
        transport.scram = Some(ServerConfig::new(DecoyKey::generate(&mut transport.rng)));
        transport
    }

    /// The collector of `site` (bundle mode).
    fn collector_name(site: u32) -> String {
        format!("collector-{site}")
    }

    /// One SCRAM handshake in process, against the ingest's registry: the collector's session.
    fn handshake(&mut self, request: &SessionRequest, now: Timestamp) -> Option<Session> {
        let config = self.scram.as_ref()?;
        let rng = &mut self.rng;
        let (client, m0) = ClientHandshake::start(&request.name, &request.secret, request.epoch, rng, now).ok()?;
        let (server, m1) = server_start(&m0, self.ingest.registry(), config, rng, now).ok()?;
        let (client, m2) = client.handle_server_first(&m1, now).ok()?;
        let (server_session, m3) = server.handle_client_final(&m2, now).ok()?;
        let session = client.handle_server_final(&m3, now).ok()?;
        let sender = session.sender_id();
        let handle = self.ingest.open_session(server_session, now).ok()?;
        if let Some(old) = self.sessions.insert(sender, handle) {
            self.ingest.close_session(old);
        }
        Some(session)
    }

    /// A frame on the session of its sender: a bundle, or one device's update.
    fn on_session(&mut self, frame: &[u8], now: Timestamp) -> Result<Delivery, IngestError> {
        let Ok(header) = FrameHeader::peek(frame) else { return Ok(Delivery::Rejected { reason: None }) };
        let Some(handle) = self.sessions.get(&header.sender_id).copied() else { return Ok(Delivery::Closed) };
        let reply = if header.kind == MessageKind::Bundle {
            self.ingest.receive_bundle(handle, frame, now).and_then(|bundle| {
                for batch in bundle.batches() {
                    self.record(batch.writes());
                }
                self.ingest.commit_bundle(bundle, now, &mut self.rng)
            })
        } else {
            self.ingest.receive_session(handle, frame, now).and_then(|batch| {
                self.record(batch.writes());
                self.ingest.commit(batch, now, &mut self.rng)
            })
        };
        match reply {
            Ok(reply) => Ok(Delivery::Reply(reply)),
            Err(IngestError::Rejected(reason)) => Ok(Delivery::Rejected { reason: Some(format!("{reason:?}")) }),
            Err(IngestError::SessionClosed) => {
                self.sessions.remove(&header.sender_id);
                Ok(Delivery::Closed)
            }
            Err(other) => Err(other),
        }
    }

    fn secret(&self, name: &str, epoch: KeyEpoch) -> DeviceSecret {
        FleetMasterKey::from_bytes(self.master).device_secret(name, epoch)
    }

    /// What a store would keep from a batch's writes.
    fn record(&mut self, w: &printfleet_ingest::Writes) {
        if let Some(state) = &w.state {
            self.view.states.insert(w.device, DeviceState::clone(state));
        }
        for j in &w.jobs {
            let n = self.view.jobs.entry(j.job.uuid).or_insert(0);
            *n = n.saturating_add(1);
        }
        for o in &w.observations {
            // Meters only (ink and media categories are not in the truth's counters).
            let printfleet_meter::Category::Meter(kind) = &o.kind else { continue };
            let key = (o.key.device.0, kind.clone());
            match self.view.segments.get_mut(&key) {
                Some((last, sum)) => {
                    if o.value >= *last {
                        *sum = sum.saturating_add(o.value.saturating_sub(*last));
                    }
                    *last = o.value;
                }
                None => {
                    self.view.segments.insert(key, (o.value, 0));
                }
            }
        }
    }

    fn one(&mut self, frame: &[u8], now: Timestamp) -> Result<Delivery, IngestError> {
        match self.ingest.receive(frame, now) {
            Ok(batch) => {
                self.record(batch.writes());
                let reply = self.ingest.commit(batch, now, &mut self.rng)?;
                Ok(Delivery::Reply(reply))
            }
            Err(IngestError::Rejected(reason)) => Ok(Delivery::Rejected { reason: Some(format!("{reason:?}")) }),
            Err(other) => Err(other),
        }
    }

    /// `outcome`'s summary completed with the portal-side figures, from what this portal kept
    /// (what [`run_in_memory`] returns for a run through this transport).
    pub fn summary(&self, outcome: RunOutcome) -> Summary {
        let mut s = outcome.summary;
        s.updates = self.ingest.counters().applied();
        s.duplicates = self.ingest.counters().duplicates();
        let mut lost_with_board = HashSet::new();
        let mut lost = 0u64;
        for d in &outcome.devices {
            if d.current.is_some() && self.view.states.get(&d.sender) == d.current.as_ref() {
                s.converged = s.converged.saturating_add(1);
            } else {
                s.not_converged.push(d.index);
            }
            for (kind, adv) in &d.reported_advance {
                let seen = self.view.segments.get(&(to_u64(d.index), kind.clone())).map_or(0, |x| x.1);
                let e = s.counters.entry(kind.clone()).or_insert((0, 0));
                e.0 = e.0.saturating_add(*adv);
                e.1 = e.1.saturating_add(seen);
            }
            let replaced: HashSet<&uuid::Uuid> = d.jobs_on_replaced_boards.iter().map(|(u, _)| u).collect();
            for (u, _) in &d.jobs {
                if self.view.jobs.contains_key(u) {
                    continue;
                }
                if replaced.contains(u) {
                    lost_with_board.insert(*u);
                } else {
                    lost = lost.saturating_add(1);
                }
            }
        }
        s.jobs_delivered = to_u64(self.view.jobs.len());
        s.jobs_doubled = to_u64(self.view.jobs.values().filter(|n| **n > 1).count());
        s.jobs_lost = lost;
        s.jobs_lost_with_board = to_u64(lost_with_board.len());
        s
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Transport for InMemory {
    type Error = IngestError;

    fn provision(&mut self, device: &Device) -> Result<DeviceSecret, IngestError> {
        // Bundle mode: the site's collector first, under its own name, with a SCRAM verifier.
        let collector = match (device.site(), self.scram.is_some()) {
            (Site::Collector(site), true) => {
                let name = Self::collector_name(site);
                let sender = sender_id_of(&name);
                if self.ingest.registry().get(sender).is_none() {
                    let secret = self.secret(&name, KeyEpoch(1));
                    let verifier = Verifier::new(&secret, &mut self.rng);
                    self.ingest.provision(DeviceRecord {
                        name,
                        owner: Owner { reseller: ResellerId(1), customer: CustomerId(1), contract: ContractId(1) },
                        meter_device: DeviceId(u64::MAX.saturating_sub(u64::from(site))),
                        revoked: false,
                        credentials: vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: Some(verifier) }],
                        collector: None,
                    })?;
                }
                Some(sender)
            }
            _ => None,
        };
        self.ingest.provision(DeviceRecord {
            name: device.name().to_owned(),
            owner: Owner { reseller: ResellerId(1), customer: CustomerId(1), contract: ContractId(1) },
            meter_device: DeviceId(to_u64(device.index())),
            revoked: false,
            credentials: vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }],
            collector,
        })?;
        Ok(self.secret(device.name(), KeyEpoch(1)))
    }

    fn new_epoch(&mut self, device: &Device, epoch: KeyEpoch) -> Result<DeviceSecret, IngestError> {
        let sender = sender_id_of(device.name());
        self.ingest.add_credential(sender, Credential { epoch, revoked: false, verifier: None })?;
        Ok(self.secret(device.name(), epoch))
    }

    fn wants_sessions(&self) -> bool {
        self.scram.is_some()
    }

    fn collector_identity(&mut self, site: u32) -> Result<Option<(String, DeviceSecret)>, IngestError> {
        Ok(self.scram.is_some().then(|| {
            let name = Self::collector_name(site);
            let secret = self.secret(&name, KeyEpoch(1));
            (name, secret)
        }))
    }

    fn open_sessions(
        &mut self,
        _site: u32,
        devices: &[SessionRequest],
        now: Timestamp,
    ) -> Result<Vec<Option<Session>>, IngestError> {
        Ok(devices.iter().map(|d| self.handshake(d, now)).collect())
    }

    fn deliver(
        &mut self,
        one_shot: &[Outgoing],
        sessions: &[(u32, Vec<Outgoing>)],
        now: Timestamp,
    ) -> Result<Vec<Delivery>, IngestError> {
        let mut out = Vec::with_capacity(one_shot.len());
        for o in one_shot {
            out.push(self.one(&o.frame, now)?);
        }
        for o in sessions.iter().flat_map(|(_, frames)| frames) {
            out.push(self.on_session(&o.frame, now)?);
        }
        Ok(out)
    }
}
