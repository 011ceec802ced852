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
//!   acknowledgement covers it, and the receiver keeps each exactly once (by number, and by job
//!   UUID over a window of recent jobs, so that a job an agent records again after a restart is
//!   not counted twice).
//! * Every update names the agent's [`Instance`]. Numbers count per instance; a receiver that
//!   sees a new instance (a device that lost its saved state) starts a new numbering for it, and
//!   keeps the numbers of the last [`RETIRED_INSTANCES`] instances it followed, so that a late
//!   update of an earlier instance is judged by that instance's numbers. (A late update of an
//!   earlier instance that the receiver has not seen yet is applied; the current instance's next
//!   update, a delta against a state the receiver still holds, puts the view right again.)
//!
//! Portals use [`Receiver`]: it applies each update once, to the base it names. Raw
//! [`crate::apply`] does not know what was applied already: applying the same delta twice counts
//! its meter increments twice.
//!
//! # What survives a restart
//! Both sides keep protocol state that must not be lost: [`Agent::save`] and [`Receiver::save`]
//! return it as a serde value ([`AgentState`], [`ReceiverState`]), and `restore` takes it back.
//! **Save before you send**: the agent saves after [`Agent::update`] (and after recording jobs)
//! and before the update leaves the device; the receiver saves (and stores the jobs it took with
//! [`Receiver::take_jobs`]) before its reply leaves. An agent restored from an older save would
//! reuse update and event numbers the receiver has seen, and its jobs would be lost. A device
//! whose saved state is gone starts an agent with a new random [`Instance`].
//!
//! # Memory per device
//! A receiver holds, per device, at most: the newest state ([`MAX_STATE_BYTES`]); older states
//! kept as bases for deltas in flight, at most [`RECEIVER_HISTORY`] of them and
//! [`HISTORY_BYTES`] together; job events that arrived early, numbered at most [`EVENT_WINDOW`]
//! above the watermark and [`EARLY_EVENT_BYTES`] together; jobs received and not yet taken,
//! [`HELD_JOB_BYTES`] (then it stops acknowledging events until the caller takes them); the UUIDs
//! of the last [`RECENT_JOBS`] jobs and the numbers of [`RETIRED_INSTANCES`] earlier instances.
//! Sizes are footprints: a state's canonical protobuf encoding plus the in-memory size of each
//! record, a job's texts plus its structs. With the defaults that is at most 4 + 1 + 1 + 2 MiB, plus one job beyond
//! each job budget (a job is at most about 140 KiB at the schema's limits) and about 100 KiB of
//! UUIDs: under 9 MiB for a hostile device, a few tens of KiB for an office printer. (An older
//! state is counted at its full footprint, so which bases are kept does not depend on how it is
//! held: after a delta against the newest state, which is applied in place, the older one is
//! held as the change back from its successor, a few bytes for a steady-state update.)
//!
//! The messages travel encoded with [`printfleet_wire::protobuf::encode_update`] (or the XML
//! form), sealed in a frame; docs/wire-format.md §5.8 specifies the exchange.
//!
//! ```
//! use printfleet_diff::DeviceState;
//! use printfleet_diff::sync::{Agent, Instance, Receiver, UpdateBody};
//! use printfleet_schema::{Level, Redaction, samples};
//! use printfleet_wire::protobuf;
//!
//! let policy = Redaction::drop_all();
//! let mut device = DeviceState::from(&samples::office_laser());
//! // A fixed instance for this example only: draw it from a random source when an agent starts
//! // without saved state.
//! let (mut agent, mut portal) = (Agent::new(Instance(0x5eed_0001)), Receiver::new());
//!
//! // First contact: a full snapshot.
//! let first = agent.update(&policy.apply_to(device.clone()));
//! assert!(matches!(first.body, UpdateBody::Full(_)));
//! let saved = serde_json::to_string(&agent.save())?; // save before you send
//! agent.on_reply(&portal.receive(&first));
//!
//! // Then deltas: a few bytes on the wire.
//! device.snapshot.consumables[0].level = Level::Amount(40);
//! let next = agent.update(&policy.apply_to(device.clone()));
//! let mut bytes = Vec::new();
//! protobuf::encode_update(&next, &mut bytes)?;
//! assert!(bytes.len() < 25, "a level change and the instance");
//! let reply = portal.receive(&protobuf::decode_update(&bytes)?);
//! agent.on_reply(&reply);
//! // The portal holds the device's state as the policy let it leave the site.
//! assert_eq!(portal.state(), Some(policy.apply_to(device).get()));
//! assert_eq!(portal.state().and_then(|s| s.identity.contact.as_deref()), None);
//! # let _ = saved;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::mem::size_of;
use std::sync::Arc;

use printfleet_schema::limits::MAX_JOBS;
use printfleet_schema::{
    Accessory, Alert, Colour, Consumable, Identity, InkCartridge, InkUse, JobCategoryUsage, MediaSource, MediaType,
    PrintJob, Printhead, Redacted, Redaction, Snapshot,
};
pub use printfleet_wire::delta::{BaseRef, Instance, Reply, StateHash, Update, UpdateBody};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use crate::{Delta, DeviceState, Undo, apply_logged, diff};

/// Updates kept by the agent while unacknowledged, to recognise the base an ack names.
const MAX_PENDING: usize = 16;
/// Most states the receiver keeps, so that deltas sent before an ack arrived still apply.
pub const RECEIVER_HISTORY: usize = 8;
/// Footprint of the states the receiver keeps besides the newest one, together.
pub const HISTORY_BYTES: usize = 1 << 20;
/// Largest footprint of a state the receiver accepts: the largest protobuf message
/// ([`printfleet_wire::limits::MAX_PROTOBUF_BYTES`]), so that any state it holds could also
/// travel whole.
pub const MAX_STATE_BYTES: usize = printfleet_wire::limits::MAX_PROTOBUF_BYTES;
/// Job events an update carries at most; the rest wait for the next update.
pub const MAX_EVENTS_PER_UPDATE: usize = MAX_JOBS;
/// How far above its watermark the receiver accepts an event number. An agent sends its oldest
/// unacknowledged events, at most [`MAX_EVENTS_PER_UPDATE`] consecutive numbers from one at or
/// below the receiver's watermark plus one, so a larger number is never needed.
pub const EVENT_WINDOW: u64 = MAX_EVENTS_PER_UPDATE as u64;
/// Footprint of the job events the receiver holds above its watermark (arrived out of order).
pub const EARLY_EVENT_BYTES: usize = 1 << 20;
/// Footprint of the jobs the receiver holds until the caller takes them ([`Receiver::take_jobs`]);
/// when full it stops acknowledging events, and the agent keeps them.
pub const HELD_JOB_BYTES: usize = 2 << 20;
/// The receiver remembers the UUIDs of this many recent jobs, and drops a job whose UUID it
/// remembers: a job an agent records again (after a restart that lost what it had recorded) is
/// kept once. Twice the jobs one update carries.
pub const RECENT_JOBS: usize = 2 * MAX_JOBS;
/// Instances followed before the current one whose numbers the receiver remembers, to judge
/// their late updates.
pub const RETIRED_INSTANCES: usize = 16;

/// Why a saved state cannot be restored: it is not one that `save` returned (storage corrupted
/// or written by something else).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// A saved value that breaks the rule named.
    #[error("saved sync state is inconsistent: {rule}")]
    Inconsistent {
        /// The rule it breaks.
        rule: &'static str,
    },
}

fn inconsistent(rule: &'static str) -> RestoreError {
    RestoreError::Inconsistent { rule }
}

/// A state the receiver acknowledged, as an agent saves it: serialised as `sequence`, `hash`,
/// `identity` and `snapshot` ([`SavedBaseFields`]). It shares the agent's copy of the state, so
/// that a save costs no copy of it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "SavedBaseFields")]
struct SavedBase {
    sequence: u64,
    hash: u32,
    state: Arc<DeviceState>,
}

/// [`SavedBase`]'s persisted form.
#[derive(Deserialize)]
#[serde(rename = "SavedBase", deny_unknown_fields)]
struct SavedBaseFields {
    sequence: u64,
    hash: u32,
    identity: Identity,
    snapshot: Snapshot,
}

impl From<SavedBaseFields> for SavedBase {
    fn from(f: SavedBaseFields) -> Self {
        let state = Arc::new(DeviceState { identity: f.identity, snapshot: f.snapshot });
        Self { sequence: f.sequence, hash: f.hash, state }
    }
}

impl Serialize for SavedBase {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("SavedBase", 4)?;
        s.serialize_field("sequence", &self.sequence)?;
        s.serialize_field("hash", &self.hash)?;
        s.serialize_field("identity", &self.state.identity)?;
        s.serialize_field("snapshot", &self.state.snapshot)?;
        s.end()
    }
}

/// What an [`Agent`] must persist to survive a restart ([`Agent::save`], [`Agent::restore`]): its
/// instance, its next update and event numbers, the newest state the receiver acknowledged, and
/// the job events not yet acknowledged. A serde value; its fields are private so that only
/// `save` makes one.
///
/// Save it after every [`Agent::update`] and [`Agent::record_job`], and before the update is
/// sent ("save before you send").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentState {
    instance: u32,
    next_sequence: u64,
    next_event: u64,
    acked: Option<SavedBase>,
    events: Vec<(u64, PrintJob)>,
}

/// The device's side. One agent per device; it owns the device's update and event numbers.
///
/// The states it keeps (sent, acknowledged) are shared, not copied: given its current state as a
/// [`Redacted<Arc<DeviceState>>`](Redacted::into_shared) ([`Agent::update_shared`]), an agent
/// whose state was acknowledged holds one copy of it with its caller, and [`Agent::save`] copies
/// none.
#[derive(Debug)]
pub struct Agent {
    instance: Instance,
    next_sequence: u64,
    /// The newest state the receiver acknowledged.
    acked: Option<(BaseRef, Arc<DeviceState>)>,
    /// States sent and not yet acknowledged, by sequence number.
    pending: VecDeque<(BaseRef, Arc<DeviceState>)>,
    force_full: bool,
    next_event: u64,
    events: VecDeque<(u64, PrintJob)>,
}

impl Agent {
    /// An agent that has not talked to the receiver yet (its first update is a full snapshot).
    /// `instance` names this agent to the receiver: draw it from a random source whenever an
    /// agent starts without saved state, so that the receiver can tell a device that lost its
    /// state (and numbers again from 1) from stale or replayed updates. An agent restored from
    /// its saved state keeps its instance.
    pub fn new(instance: Instance) -> Self {
        Self {
            instance,
            next_sequence: 1,
            acked: None,
            pending: VecDeque::new(),
            force_full: false,
            next_event: 1,
            events: VecDeque::new(),
        }
    }

    /// This agent's instance.
    pub fn instance(&self) -> Instance {
        self.instance
    }

    /// The job events recorded and not yet acknowledged, oldest first: what goes with the next
    /// update, and what an agent that lost its saved state would lose.
    pub fn unacknowledged_jobs(&self) -> impl ExactSizeIterator<Item = &PrintJob> {
        self.events.iter().map(|(_, job)| job)
    }

    /// Queues a job event; it travels with every update until acknowledged. Save the agent
    /// before the next update is sent.
    pub fn record_job(&mut self, job: Redacted<PrintJob>) {
        self.events.push_back((self.next_event, job.into_inner()));
        self.next_event = self.next_event.saturating_add(1);
    }

    /// The update to send for the device's `current` state. Save the agent ([`Agent::save`])
    /// after this call and before the update leaves the device.
    ///
    /// The agent keeps a copy of `current` until the receiver acknowledges a newer state;
    /// [`Agent::update_shared`] keeps the caller's copy instead.
    pub fn update(&mut self, current: &Redacted<DeviceState>) -> Update {
        self.update_shared(&current.clone().into_shared())
    }

    /// [`Agent::update`] for a state the caller keeps shared: the agent keeps a pointer to it,
    /// not a copy.
    pub fn update_shared(&mut self, current: &Redacted<Arc<DeviceState>>) -> Update {
        let shared = current.get();
        let current: &DeviceState = shared;
        let sequence = self.next_sequence;
        self.next_sequence = sequence.saturating_add(1);
        let hash = StateHash::of(current);
        let body = match (&self.acked, self.force_full) {
            (Some((base, state)), false) => UpdateBody::Delta { base: *base, delta: Box::new(diff(state, current)) },
            _ => UpdateBody::Full(Box::new(current.clone())),
        };
        self.pending.push_back((BaseRef { sequence, hash }, Arc::clone(shared)));
        if self.pending.len() > MAX_PENDING {
            self.pending.pop_front();
        }
        let events = self.events.iter().take(MAX_EVENTS_PER_UPDATE).cloned().collect();
        Update { instance: self.instance, sequence, body, events }
    }

    /// Handles the receiver's reply. A reply to another instance (meant for this device's agent
    /// before it lost its state) is ignored.
    pub fn on_reply(&mut self, reply: &Reply) {
        if reply.instance() != self.instance {
            return;
        }
        if let Reply::Ack { state, .. } = reply {
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
        } else {
            self.acked = None;
            self.force_full = true;
        }
        let events_through = reply.events_through();
        while self.events.front().is_some_and(|(seq, _)| *seq <= events_through) {
            self.events.pop_front();
        }
    }

    /// What must survive a restart; see [`AgentState`] for when to save it.
    pub fn save(&self) -> AgentState {
        AgentState {
            instance: self.instance.0,
            next_sequence: self.next_sequence,
            next_event: self.next_event,
            acked: self.acked.as_ref().map(|(base, state)| SavedBase {
                sequence: base.sequence,
                hash: base.hash.0,
                state: Arc::clone(state),
            }),
            events: self.events.iter().cloned().collect(),
        }
    }

    /// The agent a saved state describes. `policy` is applied again to what was saved (a
    /// policy applied twice gives the same result), so that a saved state written elsewhere or
    /// under an older policy cannot send unredacted data; if that changes the acknowledged
    /// state, the next update is a full snapshot.
    pub fn restore(saved: AgentState, policy: &Redaction) -> Result<Self, RestoreError> {
        let AgentState { instance, next_sequence, next_event, acked, events } = saved;
        if next_sequence == 0 || next_event == 0 {
            return Err(inconsistent("numbers start at 1"));
        }
        let increasing = events.windows(2).all(|w| matches!(w, [(a, _), (b, _)] if a < b));
        if !increasing || events.last().is_some_and(|(seq, _)| *seq >= next_event) {
            return Err(inconsistent("event numbers increase and are below the next one"));
        }
        if acked.as_ref().is_some_and(|a| a.sequence >= next_sequence) {
            return Err(inconsistent("the acknowledged update is below the next one"));
        }
        let acked = acked.and_then(|a| {
            let state = policy.apply_to(Arc::unwrap_or_clone(a.state)).into_inner();
            let hash = StateHash::of(&state);
            (hash.0 == a.hash).then_some((BaseRef { sequence: a.sequence, hash }, Arc::new(state)))
        });
        Ok(Self {
            instance: Instance(instance),
            next_sequence,
            force_full: acked.is_none(),
            acked,
            pending: VecDeque::new(),
            next_event,
            events: events.into_iter().map(|(seq, job)| (seq, policy.apply_to(job).into_inner())).collect(),
        })
    }
}

/// What a [`Receiver`] must persist to survive a restart ([`Receiver::save`],
/// [`Receiver::restore`]): the agent instance it follows and those it retired, the newest
/// update number it applied, the event watermark, the jobs not yet taken and the UUIDs of recent
/// jobs. Not the device's state: after a restart the receiver asks for a full snapshot.
///
/// Save it (and store the jobs taken with [`Receiver::take_jobs`]) after every
/// [`Receiver::receive`] and before the reply is sent.
///
/// A job-heavy device's recent UUIDs are most of it ([`RECENT_JOBS`] of them: 32 KiB, about
/// 80 KB as JSON), and they are the UUIDs of the jobs the caller stored. A caller that keeps
/// the jobs it takes saves without them ([`Receiver::save_without_recent_jobs`]) and gives
/// them back from its own store at a restart ([`ReceiverState::with_recent_jobs`]), so that an
/// update costs a write of its new jobs, not of the whole window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverState {
    instance: Option<u32>,
    retired: Vec<(u32, u64, u64)>,
    newest_sequence: u64,
    events_through: u64,
    jobs: Vec<PrintJob>,
    recent_jobs: Vec<Uuid>,
}

impl ReceiverState {
    /// This state with `uuids` as the UUIDs of recent jobs, oldest first, in place of those it
    /// holds: for a state saved with [`Receiver::save_without_recent_jobs`], the UUIDs of the
    /// jobs the caller stored, in the order it took them (the nil UUID, which names no job, is
    /// skipped). Only the newest [`RECENT_JOBS`] are kept, so a caller may pass more.
    #[must_use]
    pub fn with_recent_jobs(mut self, uuids: impl IntoIterator<Item = Uuid>) -> Self {
        let mut recent: VecDeque<Uuid> = VecDeque::new();
        for uuid in uuids.into_iter().filter(|u| !u.is_nil()) {
            if recent.len() == RECENT_JOBS {
                recent.pop_front();
            }
            recent.push_back(uuid);
        }
        self.recent_jobs = recent.into();
        self
    }

    /// The UUIDs of recent jobs it holds, oldest first (none in a state saved with
    /// [`Receiver::save_without_recent_jobs`]).
    pub fn recent_jobs(&self) -> &[Uuid] {
        &self.recent_jobs
    }
}

/// The receiver's side (the portal): one per device.
#[derive(Debug, Default)]
pub struct Receiver {
    /// The instance whose numbering the receiver follows.
    instance: Option<Instance>,
    /// Instances followed before, oldest first, with their newest update and event watermark.
    retired: VecDeque<(Instance, u64, u64)>,
    /// The newest update of `instance` applied (0: none).
    newest_sequence: u64,
    /// The states kept as bases, newest last, with their footprints. The newest is held whole;
    /// an older one whole or as the [`Undo`] that turns the next newer one back into it.
    history: VecDeque<(BaseRef, Kept, usize)>,
    events_through: u64,
    /// Events received above the contiguous watermark (arrivals out of order).
    early_events: BTreeMap<u64, PrintJob>,
    early_bytes: usize,
    jobs: Vec<PrintJob>,
    job_bytes: usize,
    /// UUIDs of recent jobs, oldest first, and the same as a set.
    recent: VecDeque<Uuid>,
    recent_set: BTreeSet<Uuid>,
}

impl Receiver {
    /// A receiver with no state (first contact).
    pub fn new() -> Self {
        Self::default()
    }

    /// The receiver after a restart that lost its in-memory view of the device, keeping what
    /// [`Receiver::save`] keeps. Its next delta answer is a resync request, and it still refuses
    /// updates at or below the newest it applied (a replayed old snapshot cannot roll the state
    /// back).
    #[must_use]
    pub fn restarted(&self) -> Self {
        let mut r = Self {
            instance: self.instance,
            retired: self.retired.clone(),
            newest_sequence: self.newest_sequence,
            events_through: self.events_through,
            jobs: self.jobs.clone(),
            job_bytes: self.job_bytes,
            ..Self::default()
        };
        for uuid in &self.recent {
            r.remember(*uuid);
        }
        r
    }

    /// What must survive a restart; see [`ReceiverState`] for when to save it.
    pub fn save(&self) -> ReceiverState {
        ReceiverState { recent_jobs: self.recent.iter().copied().collect(), ..self.save_without_recent_jobs() }
    }

    /// [`Receiver::save`] without the UUIDs of recent jobs, for a caller that stores every job
    /// it takes ([`Receiver::take_jobs`]) with its UUID: at a restart, give the UUIDs of the
    /// newest [`RECENT_JOBS`] of them back with [`ReceiverState::with_recent_jobs`] before
    /// [`Receiver::restore`]. Without them, a job that an agent records again after losing its
    /// own state would be taken twice.
    pub fn save_without_recent_jobs(&self) -> ReceiverState {
        ReceiverState {
            instance: self.instance.map(|i| i.0),
            retired: self.retired.iter().map(|(i, s, e)| (i.0, *s, *e)).collect(),
            newest_sequence: self.newest_sequence,
            events_through: self.events_through,
            jobs: self.jobs.clone(),
            recent_jobs: Vec::new(),
        }
    }

    /// The receiver a saved state describes, without a view of the device's state (its next
    /// delta answer is a resync request). Refuses a value over the limits.
    pub fn restore(saved: ReceiverState) -> Result<Self, RestoreError> {
        let ReceiverState { instance, retired, newest_sequence, events_through, jobs, recent_jobs } = saved;
        if retired.len() > RETIRED_INSTANCES || recent_jobs.len() > RECENT_JOBS {
            return Err(inconsistent("within RETIRED_INSTANCES and RECENT_JOBS"));
        }
        let job_bytes = jobs.iter().map(job_footprint).fold(0usize, usize::saturating_add);
        if job_bytes > HELD_JOB_BYTES.saturating_add(MAX_JOB_FOOTPRINT) {
            return Err(inconsistent("within HELD_JOB_BYTES"));
        }
        let mut r = Self {
            instance: instance.map(Instance),
            retired: retired.into_iter().map(|(i, s, e)| (Instance(i), s, e)).collect(),
            newest_sequence,
            events_through,
            jobs,
            job_bytes,
            ..Self::default()
        };
        for uuid in recent_jobs {
            r.remember(uuid);
        }
        // The jobs not yet taken are the newest: remembered as when they arrived (a state saved
        // without its recent UUIDs has theirs nowhere else).
        let held: Vec<Uuid> = r.jobs.iter().map(|j| j.job.uuid).collect();
        for uuid in held {
            r.remember(uuid);
        }
        Ok(r)
    }

    /// The device's state as the receiver knows it.
    pub fn state(&self) -> Option<&DeviceState> {
        self.shared_state().map(|s| &**s)
    }

    /// [`Receiver::state`], shared: the receiver changes its state in place on the next update
    /// unless the caller still holds a clone of this pointer (then it copies it first).
    pub fn shared_state(&self) -> Option<&Arc<DeviceState>> {
        match self.history.back() {
            Some((_, Kept::Whole(state), _)) => Some(state),
            _ => None,
        }
    }

    /// The newest state's name: what a delta against it names as its base.
    pub fn newest_base(&self) -> Option<BaseRef> {
        self.history.back().map(|(base, _, _)| *base)
    }

    /// A copy of the state the newest one replaced (the newest but one of the history), if the
    /// receiver keeps it: what a caller that could not store the newest update goes back to.
    pub fn previous_state(&self) -> Option<DeviceState> {
        self.rebuild(self.history.len().checked_sub(2)?)
    }

    /// The agent instance the receiver follows.
    pub fn instance(&self) -> Option<Instance> {
        self.instance
    }

    /// The job events received and not yet taken, once each, in event order.
    pub fn jobs(&self) -> &[PrintJob] {
        &self.jobs
    }

    /// Takes the jobs received so far (store them before the next reply is sent), making room
    /// for more: the receiver holds at most [`HELD_JOB_BYTES`] of them.
    pub fn take_jobs(&mut self) -> Vec<PrintJob> {
        self.job_bytes = 0;
        core::mem::take(&mut self.jobs)
    }

    /// Handles an update and returns the reply to send.
    pub fn receive(&mut self, update: &Update) -> Reply {
        self.receive_in(update, &mut Vec::new())
    }

    /// [`Receiver::receive`] with a caller-owned scratch buffer for the canonical encoding the
    /// state hash is computed over, so that a portal hashing a state per update reuses one
    /// allocation for all its devices. `scratch` is cleared first; what it holds afterwards is
    /// unspecified.
    ///
    /// A delta against the newest state is applied to it in place (no copy of the state), and
    /// the older state is kept as the change back; an update that does not apply, gives an
    /// invalid state or one over [`MAX_STATE_BYTES`] leaves every state as it was.
    pub fn receive_in(&mut self, update: &Update, scratch: &mut Vec<u8>) -> Reply {
        let instance = update.instance;
        if self.instance != Some(instance) {
            self.follow(instance);
        }
        self.take_events(&update.events);
        if update.sequence <= self.newest_sequence {
            // A duplicate, an update overtaken by a newer one, or a replay: nothing to apply.
            return self.ack(instance);
        }
        let named = BaseRef { sequence: update.sequence, hash: StateHash(0) };
        let applied = match &update.body {
            UpdateBody::Full(state) => self.push_whole((**state).clone(), named, scratch),
            UpdateBody::Delta { base, delta } => match self.history.iter().position(|(b, _, _)| b == base) {
                Some(at) if at.saturating_add(1) == self.history.len() => self.apply_to_newest(delta, named, scratch),
                Some(at) => self.apply_to_older(at, delta, named, scratch),
                None => false,
            },
        };
        if !applied {
            return Reply::Resync { instance, events_through: self.events_through };
        }
        self.newest_sequence = update.sequence;
        let mut older: usize = self.history.iter().rev().skip(1).map(|(_, _, f)| *f).fold(0, usize::saturating_add);
        while self.history.len() > RECEIVER_HISTORY || (self.history.len() > 1 && older > HISTORY_BYTES) {
            if let Some((_, _, f)) = self.history.pop_front() {
                older = older.saturating_sub(f);
            }
        }
        self.ack(instance)
    }

    /// The hash and footprint of a state the receiver may keep: `None` if it is invalid or over
    /// [`MAX_STATE_BYTES`].
    fn admit(state: &DeviceState, scratch: &mut Vec<u8>) -> Option<(StateHash, usize)> {
        state.validate().ok()?;
        let (hash, encoded) = StateHash::of_sized_in(state, scratch);
        let footprint = state_footprint(state, encoded);
        (footprint <= MAX_STATE_BYTES).then_some((hash, footprint))
    }

    /// Keeps `state` (a full snapshot, or a delta applied to an older base) as the newest, whole.
    fn push_whole(&mut self, state: DeviceState, named: BaseRef, scratch: &mut Vec<u8>) -> bool {
        let Some((hash, footprint)) = Self::admit(&state, scratch) else { return false };
        self.history.push_back((BaseRef { hash, ..named }, Kept::Whole(Arc::new(state)), footprint));
        true
    }

    /// The steady state: `delta` names the newest state. It is applied in place; the state it
    /// replaces is kept as the change back. Anything refused is reverted.
    fn apply_to_newest(&mut self, delta: &Delta, named: BaseRef, scratch: &mut Vec<u8>) -> bool {
        let Some((_, Kept::Whole(newest), _)) = self.history.back_mut() else { return false };
        let state = Arc::make_mut(newest);
        let Ok(undo) = apply_logged(state, delta) else { return false };
        let Some((hash, footprint)) = Self::admit(state, scratch) else {
            undo.revert(state);
            return false;
        };
        let shared = Arc::clone(newest);
        if let Some((_, kept, _)) = self.history.back_mut() {
            *kept = Kept::Undo(undo);
        }
        self.history.push_back((BaseRef { hash, ..named }, Kept::Whole(shared), footprint));
        true
    }

    /// `delta` names an older state (sent before the newest was acknowledged): that state is
    /// rebuilt from the next whole one, the delta applied to the copy.
    fn apply_to_older(&mut self, at: usize, delta: &Delta, named: BaseRef, scratch: &mut Vec<u8>) -> bool {
        let Some(mut state) = self.rebuild(at) else { return false };
        if apply_logged(&mut state, delta).is_err() {
            return false;
        }
        self.push_whole(state, named, scratch)
    }

    /// A copy of the state kept at `at` in the history.
    fn rebuild(&self, at: usize) -> Option<DeviceState> {
        let mut undos = Vec::new();
        for (_, kept, _) in self.history.range(at..) {
            match kept {
                Kept::Whole(state) => {
                    let mut state = DeviceState::clone(state);
                    for undo in undos.into_iter().rev() {
                        Undo::clone(undo).revert(&mut state);
                    }
                    return Some(state);
                }
                Kept::Undo(undo) => undos.push(undo),
            }
        }
        None
    }

    /// Starts following `instance`: with the numbers it had if the receiver followed it before,
    /// else from 0 (a device that lost its saved state numbers again from 1). The history stays:
    /// a delta names its base by hash as well, so a base another instance produced is the same
    /// state.
    fn follow(&mut self, instance: Instance) {
        let known = self.retired.iter().position(|(i, _, _)| *i == instance).and_then(|at| self.retired.remove(at));
        if let Some(old) = self.instance.replace(instance) {
            self.retired.push_back((old, self.newest_sequence, self.events_through));
            if self.retired.len() > RETIRED_INSTANCES {
                self.retired.pop_front();
            }
        }
        (self.newest_sequence, self.events_through) = known.map_or((0, 0), |(_, s, e)| (s, e));
        self.early_events.clear();
        self.early_bytes = 0;
    }

    fn take_events(&mut self, events: &[(u64, PrintJob)]) {
        let limit = self.events_through.saturating_add(EVENT_WINDOW);
        for (seq, job) in events {
            if *seq <= self.events_through || *seq > limit || self.early_events.contains_key(seq) {
                continue;
            }
            let size = job_footprint(job);
            // Make room by forgetting later events (the agent sends them again).
            while self.early_bytes.saturating_add(size) > EARLY_EVENT_BYTES {
                let Some(entry) = self.early_events.last_entry().filter(|e| e.key() > seq) else { break };
                self.early_bytes = self.early_bytes.saturating_sub(job_footprint(&entry.remove()));
            }
            if self.early_bytes.saturating_add(size) <= EARLY_EVENT_BYTES || self.early_events.is_empty() {
                self.early_bytes = self.early_bytes.saturating_add(size);
                self.early_events.insert(*seq, job.clone());
            }
        }
        while let Some(entry) =
            self.early_events.first_entry().filter(|e| *e.key() == self.events_through.saturating_add(1))
        {
            let size = job_footprint(entry.get());
            if !self.jobs.is_empty() && self.job_bytes.saturating_add(size) > HELD_JOB_BYTES {
                break; // Full: acknowledge no further event until the caller takes the jobs.
            }
            let job = entry.remove();
            self.early_bytes = self.early_bytes.saturating_sub(size);
            self.events_through = self.events_through.saturating_add(1);
            let uuid = job.job.uuid;
            if !uuid.is_nil() && self.recent_set.contains(&uuid) {
                continue; // Received before (recorded again after an agent restart): once is enough.
            }
            self.remember(uuid);
            self.job_bytes = self.job_bytes.saturating_add(size);
            self.jobs.push(job);
        }
    }

    /// Adds a job's UUID to the window of recent ones (the nil UUID identifies no job).
    fn remember(&mut self, uuid: Uuid) {
        if uuid.is_nil() || !self.recent_set.insert(uuid) {
            return;
        }
        self.recent.push_back(uuid);
        if self.recent.len() > RECENT_JOBS
            && let Some(old) = self.recent.pop_front()
        {
            self.recent_set.remove(&old);
        }
    }

    fn ack(&self, instance: Instance) -> Reply {
        let events_through = self.events_through;
        match self.history.back() {
            Some((state, _, _)) => Reply::Ack { instance, state: *state, events_through },
            None => Reply::Resync { instance, events_through },
        }
    }
}

/// How the receiver keeps a state of its history.
#[derive(Debug)]
enum Kept {
    /// Whole (always the newest; an older one after a delta applied to a base before it).
    Whole(Arc<DeviceState>),
    /// As the change that turns the next newer state back into it.
    Undo(Undo),
}

/// An upper estimate of the heap a job takes: its structs and its texts.
fn job_footprint(job: &PrintJob) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let (h, p) = (&job.job, &job.print);
    let texts = [
        text(&h.name),
        text(&h.submitter.project_id),
        text(&h.submitter.application_id),
        text(&h.submitter.user_defined),
        text(&h.submitter.account_id),
        text(&h.submitter.user_name),
        text(&p.ink_coverage_category),
    ];
    let ink = p.ink.iter().map(|i| size_of::<InkUse>().saturating_add(colour_text(&i.colour)));
    let categories =
        p.application_categories.iter().map(|c| size_of::<JobCategoryUsage>().saturating_add(c.category.len()));
    texts.into_iter().chain(ink).chain(categories).fold(size_of::<(u64, PrintJob)>(), usize::saturating_add)
}

/// The most [`job_footprint`] can be for a valid job (7 texts, 64 inks and 64 categories with
/// texts at the limit), beyond which a budget may be exceeded by one job.
const MAX_JOB_FOOTPRINT: usize = size_of::<(u64, PrintJob)>()
    + 7 * printfleet_schema::limits::MAX_TEXT_BYTES
    + printfleet_schema::limits::MAX_NESTED * (size_of::<InkUse>() + printfleet_schema::limits::MAX_TEXT_BYTES)
    + printfleet_schema::limits::MAX_NESTED
        * (size_of::<JobCategoryUsage>() + printfleet_schema::limits::MAX_TEXT_BYTES);

// The figure the module docs give for one job at the schema's limits.
const _: () = assert!(MAX_JOB_FOOTPRINT < 150 << 10);

fn colour_text(c: &Colour) -> usize {
    match c {
        Colour::Other(text) => text.len(),
        _ => 0,
    }
}

/// A meter in a B-tree: its key and value and about as much again of node.
const METER_FOOTPRINT: usize = 2 * size_of::<(printfleet_schema::MeterKind, u64)>();

/// An upper estimate of the heap a state takes: its canonical encoding (`encoded` bytes: every
/// text and number) plus the in-memory size of each record.
fn state_footprint(state: &DeviceState, encoded: usize) -> usize {
    let s = &state.snapshot;
    let records = [
        s.consumables.len().saturating_mul(size_of::<Consumable>()),
        s.alerts.len().saturating_mul(size_of::<Alert>()),
        s.printheads.len().saturating_mul(size_of::<Printhead>()),
        s.cartridges.len().saturating_mul(size_of::<InkCartridge>()),
        s.media_sources.len().saturating_mul(size_of::<MediaSource>()),
        s.accessories.len().saturating_mul(size_of::<Accessory>()),
        s.media_types.len().saturating_mul(size_of::<MediaType>()),
        s.meters.0.len().saturating_mul(METER_FOOTPRINT),
    ];
    records.into_iter().fold(encoded.saturating_add(size_of::<DeviceState>()), usize::saturating_add)
}
