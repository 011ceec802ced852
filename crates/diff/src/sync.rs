//! Keeping a receiver's view exactly equal to a device's: sequence numbers, base hashes,
//! acknowledgements and resynchronisation, plus job events resent until acknowledged. Sans-IO:
//! the caller carries [`Update`]s and [`Reply`]s over whatever channel it has, which may drop,
//! duplicate and reorder them.
//!
//! * The [`Agent`] sends a full snapshot on first contact and after a resync request, otherwise a
//!   delta against the newest state the receiver acknowledged. Each update names its base
//!   (sequence number and [`StateHash`]) and the hash of the state it produces.
//! * The [`Receiver`] applies a delta only to the exact base it names (it keeps its last few
//!   states, so deltas in flight together still apply), checks the result's hash, and otherwise
//!   asks for a resync. A receiver that lost its state (a restart) asks for a resync too.
//! * Job events carry their own sequence numbers; the agent resends each until the receiver's
//!   acknowledgement covers it, and the receiver keeps each exactly once.

use std::collections::{BTreeMap, VecDeque};

use printfleet_schema::{DeviceReport, PrintJob};
use prost::Message as _;
use sha2::{Digest, Sha256};

use crate::{Delta, DeviceState, apply, diff};

/// A short hash of a state: the first 4 bytes, big-endian, of SHA-256 over the state's canonical
/// protobuf encoding (a `DeviceReport` with the state's identity and snapshot, no events, and
/// `generated_at` 0). It detects a wrong base, not an attacker: frames authenticate the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateHash(pub u32);

impl StateHash {
    /// The hash of `state`.
    pub fn of(state: &DeviceState) -> Self {
        let report = DeviceReport {
            identity: state.identity.clone(),
            snapshot: state.snapshot.clone(),
            ..DeviceReport::default()
        };
        let bytes = printfleet_wire::pb::DeviceReport::from(&report).encode_to_vec();
        let digest = Sha256::digest(&bytes);
        Self(digest.first_chunk::<4>().map_or(0, |b| u32::from_be_bytes(*b)))
    }
}

/// A state the receiver holds, named by its sequence number and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseRef {
    /// The update that produced it.
    pub sequence: u64,
    /// Its hash.
    pub hash: StateHash,
}

/// What the agent sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// This update's sequence number (strictly increasing).
    pub sequence: u64,
    /// The state change.
    pub body: UpdateBody,
    /// The hash of the state after this update.
    pub result: StateHash,
    /// Job events not yet acknowledged, with their event sequence numbers, oldest first.
    pub events: Vec<(u64, PrintJob)>,
}

/// A full snapshot or a delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateBody {
    /// The whole state (first contact, after a resync request).
    Full(Box<DeviceState>),
    /// The change from `base`.
    Delta {
        /// The state the delta applies to.
        base: BaseRef,
        /// The change.
        delta: Box<Delta>,
    },
}

/// What the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The receiver now holds this state, and every job event up to `events_through`.
    Ack {
        /// The state it holds.
        state: BaseRef,
        /// The highest event sequence number below which it has every event.
        events_through: u64,
    },
    /// The receiver cannot apply the delta (it lacks the base): send a full snapshot.
    Resync {
        /// The highest event sequence number below which it has every event.
        events_through: u64,
    },
}

/// Updates kept by the agent while unacknowledged, to recognise the base an ack names.
const MAX_PENDING: usize = 16;
/// States kept by the receiver, so that deltas sent before an ack arrived still apply.
const RECEIVER_HISTORY: usize = 8;
/// Job events an update carries at most; the rest wait for the next update.
pub const MAX_EVENTS_PER_UPDATE: usize = printfleet_schema::limits::MAX_JOBS;

/// The device's side.
#[derive(Debug, Default)]
pub struct Agent {
    next_sequence: u64,
    /// The newest state the receiver acknowledged.
    acked: Option<(BaseRef, DeviceState)>,
    /// States sent and not yet acknowledged, by sequence number.
    pending: VecDeque<(BaseRef, DeviceState)>,
    force_full: bool,
    next_event: u64,
    events: VecDeque<(u64, PrintJob)>,
}

impl Agent {
    /// An agent that has not talked to the receiver yet (its first update is a full snapshot).
    pub fn new() -> Self {
        Self { next_sequence: 1, next_event: 1, ..Self::default() }
    }

    /// Queues a job event; it travels with every update until acknowledged.
    pub fn record_job(&mut self, job: PrintJob) {
        self.events.push_back((self.next_event, job));
        self.next_event = self.next_event.saturating_add(1);
    }

    /// The update to send for the device's `current` state.
    pub fn update(&mut self, current: &DeviceState) -> Update {
        let sequence = self.next_sequence;
        self.next_sequence = sequence.saturating_add(1);
        let result = StateHash::of(current);
        let body = match (&self.acked, self.force_full) {
            (Some((base, state)), false) => UpdateBody::Delta { base: *base, delta: Box::new(diff(state, current)) },
            _ => UpdateBody::Full(Box::new(current.clone())),
        };
        self.pending.push_back((BaseRef { sequence, hash: result }, current.clone()));
        if self.pending.len() > MAX_PENDING {
            self.pending.pop_front();
        }
        let events = self.events.iter().take(MAX_EVENTS_PER_UPDATE).cloned().collect();
        Update { sequence, body, result, events }
    }

    /// Handles the receiver's reply.
    pub fn on_reply(&mut self, reply: &Reply) {
        let events_through = match reply {
            Reply::Ack { state, events_through } => {
                if let Some(i) = self.pending.iter().position(|(b, _)| b == state) {
                    let newer = self.acked.as_ref().is_none_or(|(a, _)| a.sequence < state.sequence);
                    if newer {
                        self.acked = self.pending.get(i).cloned();
                        self.force_full = false;
                    }
                    self.pending.drain(..=i);
                }
                *events_through
            }
            Reply::Resync { events_through } => {
                self.acked = None;
                self.force_full = true;
                *events_through
            }
        };
        while self.events.front().is_some_and(|(seq, _)| *seq <= events_through) {
            self.events.pop_front();
        }
    }
}

/// The receiver's side (the portal).
#[derive(Debug, Default)]
pub struct Receiver {
    /// Newest last.
    history: VecDeque<(BaseRef, DeviceState)>,
    events_through: u64,
    /// Events received above the contiguous watermark (arrivals out of order).
    early_events: BTreeMap<u64, PrintJob>,
    jobs: Vec<PrintJob>,
}

impl Receiver {
    /// A receiver with no state (first contact, or after a restart).
    pub fn new() -> Self {
        Self::default()
    }

    /// The receiver after a restart that lost its in-memory view of the device, keeping what a
    /// real portal persists: the job events received and their watermark. Its next delta answer is
    /// a resync request.
    pub fn restarted(&self) -> Self {
        Self {
            history: VecDeque::new(),
            events_through: self.events_through,
            early_events: BTreeMap::new(),
            jobs: self.jobs.clone(),
        }
    }

    /// The device's state as the receiver knows it.
    pub fn state(&self) -> Option<&DeviceState> {
        self.history.back().map(|(_, s)| s)
    }

    /// Every job event received, once each, in event order.
    pub fn jobs(&self) -> &[PrintJob] {
        &self.jobs
    }

    /// Handles an update and returns the reply to send.
    pub fn receive(&mut self, update: &Update) -> Reply {
        for (seq, job) in &update.events {
            if *seq > self.events_through {
                self.early_events.entry(*seq).or_insert_with(|| job.clone());
            }
        }
        while let Some(job) = self.early_events.remove(&self.events_through.saturating_add(1)) {
            self.jobs.push(job);
            self.events_through = self.events_through.saturating_add(1);
        }
        let newest = self.history.back().map(|(b, _)| *b);
        if newest.is_some_and(|n| n.sequence >= update.sequence) {
            // A duplicate or an update overtaken by a newer one: nothing to apply.
            return self.ack();
        }
        let new_state = match &update.body {
            UpdateBody::Full(state) => Some((**state).clone()),
            UpdateBody::Delta { base, delta } => {
                self.history.iter().find(|(b, _)| b == base).and_then(|(_, state)| apply(state, delta).ok())
            }
        };
        match new_state {
            Some(state) if StateHash::of(&state) == update.result => {
                self.history.push_back((BaseRef { sequence: update.sequence, hash: update.result }, state));
                if self.history.len() > RECEIVER_HISTORY {
                    self.history.pop_front();
                }
                self.ack()
            }
            _ => Reply::Resync { events_through: self.events_through },
        }
    }

    fn ack(&self) -> Reply {
        match self.history.back() {
            Some((state, _)) => Reply::Ack { state: *state, events_through: self.events_through },
            None => Reply::Resync { events_through: self.events_through },
        }
    }
}
