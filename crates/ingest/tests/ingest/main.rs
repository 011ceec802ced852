//! printfleet-ingest against real `printfleet_agent::DeviceAgent`s on a fake clock: the crash
//! harness (the ingest killed between apply and commit), refusals, registry changes.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod crash;
mod refusals;
mod session;

use std::collections::{BTreeSet, HashMap, HashSet};

use printfleet_agent::{AgentError, DeviceAgent, Schedule, Transmit};
use printfleet_auth::{FleetMasterKey, KeyEpoch, one_shot};
use printfleet_diff::DeviceState;
use printfleet_diff::sync::Instance;
use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Ingest, Owner, ResellerId, SavedDevice, Writes};
use printfleet_meter::{Category, ContractId, DeviceId, ObservationKey};
use printfleet_schema::{DeviceReport, DurationMs, PageCount, PrintJob, RecordId, Redaction, Timestamp, samples};
use printfleet_wire::frame::SenderId;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub(crate) const MASTER: [u8; 32] = [0x5a; 32];

pub(crate) fn master() -> FleetMasterKey {
    FleetMasterKey::from_bytes(MASTER)
}

pub(crate) fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub(crate) fn at(ms: u64) -> Timestamp {
    samples::SAMPLE_TIME.checked_add(DurationMs(ms)).unwrap()
}

pub(crate) fn record(name: &str) -> DeviceRecord {
    DeviceRecord {
        name: name.into(),
        owner: Owner { reseller: ResellerId(1), customer: CustomerId(2), contract: ContractId(3) },
        meter_device: DeviceId(u64::from(name.len() as u32)),
        revoked: false,
        credentials: vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }],
        collector: None,
    }
}

pub(crate) fn agent(name: &str, instance: u32) -> DeviceAgent {
    agent_of_epoch(name, instance, KeyEpoch(1))
}

/// [`agent`] under the key of another epoch (a device that lost its state, and with it its
/// frame sequence numbers, is given a new one).
pub(crate) fn agent_of_epoch(name: &str, instance: u32, epoch: KeyEpoch) -> DeviceAgent {
    let secret = master().device_secret(name, epoch);
    let key = one_shot::frame_key(&secret, name, epoch);
    let sender = printfleet_auth::sender_id_of(name);
    DeviceAgent::new(sender, &key, Redaction::drop_all(), Schedule::direct(), Instance(instance))
}

pub(crate) fn reading() -> DeviceReport {
    let mut r = samples::office_laser();
    r.events.print_jobs.clear();
    r
}

pub(crate) fn job(n: u64, pages: u64) -> PrintJob {
    let mut j = samples::large_format(1).events.print_jobs.remove(0);
    j.job.uuid = uuid::Uuid::from_u64_pair(0x5eed, n + 1);
    j.job.sequence = n;
    j.print.pages = PageCount(pages);
    j
}

/// Saves whenever the agent asks, then returns what it sends.
pub(crate) fn pump(agent: &mut DeviceAgent, now: Timestamp, rng: &mut ChaCha20Rng) -> Option<Transmit> {
    agent.poll_transmit_saving(now, rng, |_| Ok::<(), AgentError>(())).unwrap()
}

/// A model of the portal's database: what committed batches wrote, with the checks a real one
/// cannot make (every applied update, reading and job stored at most once).
#[derive(Default)]
pub(crate) struct Disk {
    pub(crate) devices: Vec<DeviceRecord>,
    pub(crate) saved: HashMap<SenderId, SavedDevice>,
    pub(crate) jobs: Vec<(SenderId, u64)>,
    pub(crate) applied: HashSet<(SenderId, Instance, u64)>,
    pub(crate) readings: HashSet<(ObservationKey, Category)>,
    pub(crate) alerts_raised: usize,
    /// The alerts raised and not cleared, per device, as the history tables tell them. The
    /// tests' alerts never change, so one raised while open was raised twice.
    pub(crate) open_alerts: HashMap<SenderId, BTreeSet<RecordId>>,
}

impl Disk {
    pub(crate) fn write(&mut self, w: &Writes) {
        let saved = self.saved.entry(w.device).or_insert_with(|| SavedDevice {
            device: w.device,
            receiver: w.receiver.clone(),
            recent_jobs: Vec::new(),
            windows: Vec::new(),
            state: None,
        });
        saved.receiver = w.receiver.clone();
        // What a store's jobs table gives back: every stored job's UUID, in the order stored.
        saved.recent_jobs.extend(w.jobs.iter().map(|j| j.job.uuid).filter(|u| !u.is_nil()));
        if let Some((key_id, window)) = w.window {
            saved.windows.retain(|(k, _)| *k != key_id);
            saved.windows.push((key_id, window));
        }
        if let Some(state) = &w.state {
            saved.state = Some(DeviceState::clone(state));
            assert!(self.applied.insert((w.device, w.instance, w.sequence)), "update applied twice");
        }
        for j in &w.jobs {
            assert!(!self.jobs.contains(&(w.device, j.job.sequence)), "job {} stored twice", j.job.sequence);
            self.jobs.push((w.device, j.job.sequence));
        }
        for o in &w.observations {
            assert!(self.readings.insert((o.key, o.kind.clone())), "reading stored twice");
        }
        self.alerts_raised += w.alerts_raised.len();
        let open = self.open_alerts.entry(w.device).or_default();
        for cleared in &w.alerts_cleared {
            assert!(open.remove(cleared), "alert {cleared:?} cleared, never raised");
        }
        for raised in &w.alerts_raised {
            assert!(open.insert(raised.record_id), "alert {:?} raised twice", raised.record_id);
        }
    }

    /// The alerts the history tables show open: those of the stored state, if they agree.
    pub(crate) fn open_alerts(&self, device: SenderId) -> Vec<RecordId> {
        self.open_alerts.get(&device).map(|a| a.iter().copied().collect()).unwrap_or_default()
    }

    pub(crate) fn state(&self, device: SenderId) -> Option<&DeviceState> {
        self.saved.get(&device).and_then(|s| s.state.as_ref())
    }

    /// The ingest after a restart, from what is on disk.
    pub(crate) fn restore(&self) -> Ingest<FleetMasterKey> {
        Ingest::restore(master(), self.devices.iter().cloned(), self.saved.values().cloned()).unwrap()
    }
}
