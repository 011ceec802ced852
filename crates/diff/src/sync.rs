//! Keeping a receiver's view exactly equal to a device's: sequence numbers, base hashes,
//! acknowledgements and resynchronisation, plus job events resent until acknowledged. Sans-IO:
//! the caller carries [`Update`]s and [`Reply`]s over whatever channel it has, which may drop,
//! duplicate and reorder them.
//!
//! * The [`Agent`] sends a full snapshot on first contact and after a resync request, otherwise a
//!   delta against the newest state the receiver acknowledged. Each delta names its base
//!   (sequence number and [`StateHash`]).
//! * The [`Receiver`] applies a delta only to the exact base it names (it keeps its last few
//!   states, so deltas in flight together still apply) and only if the result is a valid state;
//!   otherwise, and after a restart that lost its state, it asks for a resync. Its
//!   acknowledgement carries its own hash of the state it now holds; an agent that finds a hash
//!   other than its own sends a full snapshot next (so the hash costs no bytes in the update,
//!   where size matters).
//! * Job events carry their own sequence numbers; the agent resends each until the receiver's
//!   acknowledgement covers it, and the receiver keeps each exactly once.
//!
//! The messages travel encoded with [`printfleet_wire::protobuf::encode_update`] (or the XML
//! form), sealed in a frame; docs/wire-format.md §5.8 specifies the exchange.
//!
//! ```
//! use printfleet_diff::DeviceState;
//! use printfleet_diff::sync::{Agent, Receiver, UpdateBody};
//! use printfleet_schema::{Level, samples};
//! use printfleet_wire::protobuf;
//!
//! let mut device = DeviceState::from(&samples::office_laser());
//! let (mut agent, mut portal) = (Agent::new(), Receiver::new());
//!
//! // First contact: a full snapshot.
//! let first = agent.update(&device);
//! assert!(matches!(first.body, UpdateBody::Full(_)));
//! agent.on_reply(&portal.receive(&first));
//!
//! // Then deltas: a few bytes on the wire.
//! device.snapshot.consumables[0].level = Level::Amount(40);
//! let next = agent.update(&device);
//! let mut bytes = Vec::new();
//! protobuf::encode_update(&next, &mut bytes)?;
//! assert!(bytes.len() < 20);
//! let reply = portal.receive(&protobuf::decode_update(&bytes)?);
//! agent.on_reply(&reply);
//! assert_eq!(portal.state(), Some(&device));
//! # Ok::<(), printfleet_wire::Error>(())
//! ```

use std::collections::{BTreeMap, VecDeque};

use printfleet_schema::PrintJob;
pub use printfleet_wire::delta::{BaseRef, Reply, StateHash, Update, UpdateBody};

use crate::{DeviceState, apply, diff};

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
        let hash = StateHash::of(current);
        let body = match (&self.acked, self.force_full) {
            (Some((base, state)), false) => UpdateBody::Delta { base: *base, delta: Box::new(diff(state, current)) },
            _ => UpdateBody::Full(Box::new(current.clone())),
        };
        self.pending.push_back((BaseRef { sequence, hash }, current.clone()));
        if self.pending.len() > MAX_PENDING {
            self.pending.pop_front();
        }
        let events = self.events.iter().take(MAX_EVENTS_PER_UPDATE).cloned().collect();
        Update { sequence, body, events }
    }

    /// Handles the receiver's reply.
    pub fn on_reply(&mut self, reply: &Reply) {
        let events_through = match reply {
            Reply::Ack { state, events_through } => {
                if let Some(i) = self.pending.iter().position(|(b, _)| b.sequence == state.sequence) {
                    let newer = self.acked.as_ref().is_none_or(|(a, _)| a.sequence < state.sequence);
                    let same = self.pending.get(i).is_some_and(|(b, _)| b.hash == state.hash);
                    if !same {
                        // The receiver holds another state than the one sent: start again.
                        self.acked = None;
                        self.force_full = true;
                    } else if newer {
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
        match new_state.filter(|state| state.validate().is_ok()) {
            Some(state) => {
                let hash = StateHash::of(&state);
                self.history.push_back((BaseRef { sequence: update.sequence, hash }, state));
                if self.history.len() > RECEIVER_HISTORY {
                    self.history.pop_front();
                }
                self.ack()
            }
            None => Reply::Resync { events_through: self.events_through },
        }
    }

    fn ack(&self) -> Reply {
        match self.history.back() {
            Some((state, _)) => Reply::Ack { state: *state, events_through: self.events_through },
            None => Reply::Resync { events_through: self.events_through },
        }
    }
}
