//! One device's agent.

use std::collections::VecDeque;
use std::sync::Arc;

use printfleet_diff::DeviceState;
use printfleet_diff::sync::{self, Instance, Reply};
use printfleet_schema::{Alert, DeviceReport, PrintJob, RecordId, Redacted, Redaction, Timestamp};
use printfleet_wire::Codec;
use printfleet_wire::frame::{
    DeviceChannel, FrameHeader, FrameKey, MessageKind, RejectReason, Reservation, SealError, SealScratch,
    SealerCheckpoint, SenderId,
};
use printfleet_wire::protobuf;
use rand_core::CryptoRng;

use crate::schedule::{Counters, Reason, Schedule};
use crate::{AgentError, Event, Transmit};

/// What a device agent must persist, as one serde value: the sync state (update and event
/// numbers, the acknowledged base, the job events not yet acknowledged), the sequence
/// reservation of its frame key and the scheduler's counters. (Not the latest reading: a restored
/// agent reports after its next one.)
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AgentState {
    sync: sync::AgentState,
    reservation: Option<SealerCheckpoint>,
    counters: Counters,
}

/// A save in progress: persist [`Checkpoint::state`] durably, then hand the checkpoint back to
/// [`DeviceAgent::saved`]. Not `Clone`: each is handed back once.
#[must_use = "persist the state, then pass the checkpoint to saved()"]
#[derive(Debug)]
pub struct Checkpoint {
    state: AgentState,
    reservation: Option<Reservation>,
    generation: u64,
}

impl Checkpoint {
    /// The state to persist.
    pub fn state(&self) -> &AgentState {
        &self.state
    }
}

/// A report built and waiting to be sealed once the state it depends on is saved.
#[derive(Debug)]
struct Prepared {
    payload: Vec<u8>,
    reason: Reason,
    urgent: bool,
}

/// The agent of one device: feed it readings, jobs, alerts, frames from the portal and the time;
/// ask it what to send ([`DeviceAgent::poll_transmit`]), when to wake it
/// ([`DeviceAgent::poll_timeout`]) and what happened ([`DeviceAgent::poll_event`]). It never
/// reads a clock or a socket.
///
/// It owns its redaction policy (nothing leaves unredacted), its sync state, its frame channel
/// (sequence numbers reserved and persisted before use), its schedule and its outbox (one
/// pending state, always the newest, plus every job event not yet acknowledged: nothing is
/// dropped, and a new report supersedes an unanswered one instead of queueing behind it).
///
/// **Persistence.** Before a frame may leave, what it depends on must be saved: the agent
/// emits [`Event::SaveRequired`] and [`DeviceAgent::poll_transmit`] returns nothing until the
/// caller has called [`DeviceAgent::save`], stored [`Checkpoint::state`] durably and handed the
/// checkpoint back to [`DeviceAgent::saved`]. After a restart, [`DeviceAgent::restore`] from the
/// last state stored. So a crash at any point loses no job event and never reuses a sequence
/// number.
#[derive(Debug)]
pub struct DeviceAgent {
    schedule: Schedule,
    policy: Redaction,
    sync: sync::Agent,
    sender: SenderId,
    /// The one-shot channel; `None` for a printer that only a collector's bundles report
    /// ([`DeviceAgent::for_bundles`]).
    channel: Option<DeviceChannel>,
    /// The channel of an authenticated session (session mode), when one is attached: frames are
    /// sealed with it instead of the one-shot `channel`, whose reservations stay as they were.
    /// Boxed: a collector holds thousands of agents, most without a session, and a channel is
    /// large.
    session: Option<Box<DeviceChannel>>,
    counters: Counters,
    /// The latest reading, redacted on the way in; shared with the sync state (once acknowledged,
    /// the state and the acknowledged base are one copy).
    current: Option<Redacted<Arc<DeviceState>>>,
    prepared: Option<Prepared>,
    /// The reservation saved last, to persist again with every save.
    reservation: Option<SealerCheckpoint>,
    /// Bumped by every change that must be saved before the next frame leaves.
    generation: u64,
    /// The generation last confirmed saved.
    saved_generation: u64,
    announced: bool,
    events: VecDeque<Event>,
    /// Interval reports at the collector's rounds (bundle mode: `schedule::interval_due`).
    aligned: bool,
}

/// At most this many events wait in [`DeviceAgent::poll_event`]'s queue; older ones are dropped
/// (they are notifications, not data).
pub const MAX_QUEUED_EVENTS: usize = 64;

/// Most save-then-poll rounds [`DeviceAgent::poll_transmit_saving`] runs in one call: one to save
/// what was fed, one for the report it builds, one for a sequence reservation that ran out while
/// sealing.
pub const SAVE_ROUNDS: usize = 3;

impl DeviceAgent {
    /// A new agent for `sender` with a frame key it has never used, a redaction policy (required:
    /// [`Redaction::keep_all`] is the explicit way to send everything), a schedule and a fresh
    /// random `instance` (draw it from the OS when a device starts without saved state).
    pub fn new(sender: SenderId, key: &FrameKey, policy: Redaction, schedule: Schedule, instance: Instance) -> Self {
        Self::fresh(sender, Some(DeviceChannel::new(sender, key)), policy, schedule, instance)
    }

    /// An agent **without a key of its own**, for a printer that only a collector reports, in
    /// bundles under the collector's session ([`crate::Collector::attach_link`]): the collector
    /// then needs its own secret only, never the printer's. Its updates leave in bundles and
    /// never on their own: while the collector has no link, it waits (and
    /// [`DeviceAgent::poll_timeout`] says nothing is due), then reports at the next round.
    pub fn for_bundles(sender: SenderId, policy: Redaction, schedule: Schedule, instance: Instance) -> Self {
        Self::fresh(sender, None, policy, schedule, instance)
    }

    fn fresh(
        sender: SenderId,
        channel: Option<DeviceChannel>,
        policy: Redaction,
        schedule: Schedule,
        instance: Instance,
    ) -> Self {
        let mut agent = Self {
            schedule,
            policy,
            sync: sync::Agent::new(instance),
            sender,
            channel,
            session: None,
            counters: Counters { boot: true, ..Counters::default() },
            current: None,
            prepared: None,
            reservation: None,
            generation: 1,
            saved_generation: 0,
            announced: false,
            events: VecDeque::new(),
            aligned: false,
        };
        agent.announce_save();
        agent
    }

    /// The agent after a restart, from the last state stored. The policy is applied again to
    /// what was saved. It reports as after a boot, and must save again (a new sequence
    /// reservation) before its first frame.
    ///
    /// Only the last state stored, and in one process at a time: a copy restored twice, or an
    /// older state, seals sequence numbers the portal has seen (see the crate's "What the
    /// caller persists, and when").
    pub fn restore(
        sender: SenderId,
        key: &FrameKey,
        policy: Redaction,
        schedule: Schedule,
        state: AgentState,
    ) -> Result<Self, AgentError> {
        Self::restore_with(sender, Some(key), policy, schedule, state)
    }

    /// [`DeviceAgent::restore`] of an agent made with [`DeviceAgent::for_bundles`] (no key of its
    /// own).
    pub fn restore_for_bundles(
        sender: SenderId,
        policy: Redaction,
        schedule: Schedule,
        state: AgentState,
    ) -> Result<Self, AgentError> {
        Self::restore_with(sender, None, policy, schedule, state)
    }

    fn restore_with(
        sender: SenderId,
        key: Option<&FrameKey>,
        policy: Redaction,
        schedule: Schedule,
        state: AgentState,
    ) -> Result<Self, AgentError> {
        let sync = sync::Agent::restore(state.sync, &policy).map_err(AgentError::Restore)?;
        let channel = match (key, &state.reservation) {
            (Some(key), Some(cp)) => Some(DeviceChannel::restore(sender, key, cp).map_err(AgentError::Checkpoint)?),
            (Some(key), None) => Some(DeviceChannel::new(sender, key)),
            (None, _) => None,
        };
        let mut counters = state.counters;
        counters.boot = true;
        counters.retry_at = None;
        let mut agent = Self {
            schedule,
            policy,
            sync,
            sender,
            channel,
            session: None,
            counters,
            current: None,
            prepared: None,
            reservation: state.reservation,
            generation: 1,
            saved_generation: 0,
            announced: false,
            events: VecDeque::new(),
            aligned: false,
        };
        agent.announce_save();
        Ok(agent)
    }

    /// Bundle mode: interval reports at the collector's rounds (`schedule::interval_due`).
    pub(crate) fn set_aligned(&mut self, aligned: bool) {
        self.aligned = aligned;
    }

    /// The device this agent speaks for.
    pub fn sender(&self) -> SenderId {
        self.sender
    }

    /// Session mode: from now on, frames are sealed with `channel`, the device's end of an
    /// authenticated session (`printfleet_auth::Session::into_device_channel`), and replies
    /// under its key are opened with it. Replaces a session attached before. The one-shot
    /// channel and its sequence reservations are kept (a session's sequence numbers are its
    /// own and need no saving), so the save-before-send rule is unchanged for everything else.
    ///
    /// Refused ([`AgentError::SessionSender`]) if the session authenticated another device, and
    /// ([`AgentError::NotASession`]) for a channel that is not a session's.
    pub fn attach_session(&mut self, channel: DeviceChannel) -> Result<(), AgentError> {
        if !channel.is_session() {
            return Err(AgentError::NotASession);
        }
        if channel.sender() != self.sender() {
            return Err(AgentError::SessionSender { agent: self.sender(), session: channel.sender() });
        }
        self.session = Some(Box::new(channel));
        Ok(())
    }

    /// Session mode: the session ended (closed by the portal, expired, or its connection lost):
    /// frames are sealed with the one-shot channel again until a new session is attached.
    /// Returns the session's channel, if one was attached.
    pub fn detach_session(&mut self) -> Option<DeviceChannel> {
        self.session.take().map(|b| *b)
    }

    /// Whether a session's channel is attached ([`DeviceAgent::attach_session`]).
    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }

    /// The job events recorded and not yet acknowledged by the portal, oldest first (redacted):
    /// the backlog a lost state would take with it.
    pub fn unacknowledged_jobs(&self) -> impl ExactSizeIterator<Item = &PrintJob> {
        self.sync.unacknowledged_jobs()
    }

    /// The device's state as the agent will next report it (redacted).
    pub fn current(&self) -> Option<&DeviceState> {
        self.current.as_ref().map(|c| &**c.get())
    }

    fn touch(&mut self) {
        self.generation = self.generation.saturating_add(1);
        self.announce_save();
    }

    fn announce_save(&mut self) {
        if !self.announced {
            self.announced = true;
            self.push(Event::SaveRequired);
        }
    }

    fn push(&mut self, event: Event) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Whether a save is needed before the next frame can leave.
    pub fn needs_save(&self) -> bool {
        self.saved_generation < self.generation
    }

    /// A reading: the device's report as the mapping produced it (SNMP, IPP, LEDM). Its jobs, if
    /// any, are recorded as job events; its identity and snapshot become the state to report.
    pub fn handle_reading(&mut self, now: Timestamp, report: DeviceReport) {
        self.counters.observe_clock(&self.schedule, now);
        let state = self.policy.apply_to(DeviceState::from(&report)).into_shared();
        let urgent = state
            .get()
            .snapshot
            .alerts
            .iter()
            .any(|a| a.is_urgent() && !self.current().is_some_and(|c| c.snapshot.alerts.iter().any(|b| b == a)));
        self.counters.urgent |= urgent;
        self.current = Some(state);
        for job in report.events.print_jobs {
            self.record(job);
        }
        self.touch();
    }

    /// A finished job (its pages count toward the page trigger). Recorded as a job event, sent
    /// with every report until acknowledged.
    pub fn handle_job(&mut self, now: Timestamp, job: PrintJob) {
        self.counters.observe_clock(&self.schedule, now);
        self.record(job);
        self.touch();
    }

    fn record(&mut self, job: PrintJob) {
        self.counters.jobs = self.counters.jobs.saturating_add(1);
        self.counters.pages = self.counters.pages.saturating_add(job.print.pages.0);
        self.sync.record_job(self.policy.apply_to(job));
    }

    /// An alert raised (or updated): part of the state; an urgent one ([`Alert::is_urgent`]:
    /// critical, or field service) is reported at once.
    pub fn handle_alert(&mut self, now: Timestamp, alert: Alert) {
        self.counters.observe_clock(&self.schedule, now);
        // Alerts carry no personal field (`PersonalField` lists none), so nothing to redact.
        self.counters.urgent |= alert.is_urgent();
        let mut state = self.current.take().map(|c| Arc::unwrap_or_clone(c.into_inner())).unwrap_or_default();
        match state.snapshot.alerts.iter_mut().find(|a| a.record_id == alert.record_id) {
            Some(a) => *a = alert,
            None => state.snapshot.alerts.push(alert),
        }
        self.current = Some(self.policy.apply_to(state).into_shared());
        self.touch();
    }

    /// An alert cleared.
    pub fn clear_alert(&mut self, now: Timestamp, record_id: RecordId) {
        self.counters.observe_clock(&self.schedule, now);
        if let Some(current) = self.current.take() {
            let mut state = Arc::unwrap_or_clone(current.into_inner());
            state.snapshot.alerts.retain(|a| a.record_id != record_id);
            self.current = Some(self.policy.apply_to(state).into_shared());
        }
        self.touch();
    }

    /// The device booted (or the agent started): one report goes out.
    pub fn handle_boot(&mut self, now: Timestamp) {
        self.counters.observe_clock(&self.schedule, now);
        self.counters.boot = true;
    }

    /// The time passed. Call it at [`DeviceAgent::poll_timeout`], or whenever convenient.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.counters.observe_clock(&self.schedule, now);
    }

    /// A frame from the portal (its reply). Frames that do not open are ignored (reported as
    /// [`Event::ReplyRejected`] for local logs); a reply late, twice or out of order is harmless.
    pub fn handle_frame(&mut self, now: Timestamp, frame: &[u8]) {
        let mut payload = Vec::new();
        // A reply under the session's key goes to the session's channel, any other to the
        // one-shot channel (a late reply to a frame sent before the session).
        let in_session = FrameHeader::peek(frame).ok().map(|h| h.key_id);
        let channel = match (&mut self.session, &mut self.channel) {
            (Some(session), _) if in_session == Some(session.key_id()) => &mut **session,
            (_, Some(channel)) => channel,
            (_, None) => {
                self.push(Event::ReplyRejected(RejectReason::UnknownKey));
                return;
            }
        };
        let header = match channel.open_reply(frame, now, &mut payload) {
            Ok(h) => h,
            Err(e) => {
                self.push(Event::ReplyRejected(e.reason()));
                return;
            }
        };
        let reply = match header.codec {
            Codec::Protobuf => protobuf::decode_reply(&payload).ok(),
            Codec::Xml => printfleet_wire::xml::decode_reply(&payload).ok(),
            _ => None,
        };
        let Some(reply) = reply else {
            self.push(Event::ReplyRejected(RejectReason::Decompression));
            return;
        };
        self.handle_reply(&reply);
    }

    /// A reply that arrived in a bundle reply (the collector opened the frame).
    pub(crate) fn handle_reply(&mut self, reply: &Reply) {
        if reply.instance() != self.sync.instance() {
            return;
        }
        self.sync.on_reply(reply);
        self.counters.answered();
        match reply {
            Reply::Ack { state, .. } => self.push(Event::Acknowledged { update: state.sequence }),
            Reply::Resync { .. } => {
                self.counters.resync = true;
                self.push(Event::ResyncRequested);
            }
        }
    }

    /// Starts a save: the state to persist, with a new block of sequence numbers reserved if the
    /// channel needs one. Persist [`Checkpoint::state`], then call [`DeviceAgent::saved`].
    pub fn save(&mut self) -> Checkpoint {
        let reservation = self.channel.as_ref().filter(|c| c.needs_reservation()).map(DeviceChannel::reserve);
        let checkpoint = reservation.as_ref().map(Reservation::checkpoint).or(self.reservation);
        Checkpoint {
            state: AgentState { sync: self.sync.save(), reservation: checkpoint, counters: self.counters },
            reservation,
            generation: self.generation,
        }
    }

    /// The checkpoint's state is durably stored: what it covers may now leave.
    ///
    /// Checkpoints taken one after another may be handed back in any order, but one older than a
    /// checkpoint handed back before it asks for a save again ([`DeviceAgent::needs_save`]): its
    /// write may have landed last, leaving the older state in store (a store writing in the
    /// background, out of order), and a restart from it would lose what came after.
    pub fn saved(&mut self, checkpoint: Checkpoint) -> Result<(), AgentError> {
        if let Some(r) = checkpoint.reservation {
            let cp = r.checkpoint();
            if let Some(channel) = self.channel.as_mut() {
                channel.reservation_saved(r).map_err(AgentError::Checkpoint)?;
            }
            self.reservation = Some(cp);
        }
        // The checkpoint handed back last is taken for the one in store: if it is older than one
        // confirmed before, what came after it is saved again.
        self.saved_generation = checkpoint.generation;
        if self.needs_save() {
            // What came after it is in no stored state: ask for it at once.
            self.announce_save();
        } else {
            self.announced = false;
        }
        Ok(())
    }

    /// The loop every caller writes, as one call: saves whenever the agent needs it (`persist`
    /// must store the state durably before it returns `Ok`), then returns the next frame to
    /// send, if one is due. Equivalent to
    ///
    /// ```text
    /// loop {
    ///     if agent.needs_save() { let cp = agent.save(); persist(cp.state())?; agent.saved(cp)?; }
    ///     match agent.poll_transmit(now, rng) {
    ///         None if agent.needs_save() => continue, // the report it just built must be saved too
    ///         t => break t,
    ///     }
    /// }
    /// ```
    ///
    /// bounded to [`SAVE_ROUNDS`] rounds (a reading, the report built from it, and a reservation
    /// that ran out while sealing: never more in practice); after that it returns `Ok(None)` and
    /// the next call goes on. An error from `persist` (or from [`DeviceAgent::saved`]) is
    /// returned at once, and nothing that depends on the unsaved state has left.
    pub fn poll_transmit_saving<E: From<AgentError>>(
        &mut self,
        now: Timestamp,
        rng: &mut impl CryptoRng,
        mut persist: impl FnMut(&AgentState) -> Result<(), E>,
    ) -> Result<Option<Transmit>, E> {
        for _ in 0..SAVE_ROUNDS {
            if self.needs_save() {
                let checkpoint = self.save();
                persist(checkpoint.state())?;
                self.saved(checkpoint)?;
            }
            match self.poll_transmit(now, rng) {
                None if self.needs_save() => continue,
                t => return Ok(t),
            }
        }
        Ok(None)
    }

    /// The next frame to send, if one is due and everything it depends on is saved. Draws the
    /// IV (and the back-off jitter) from `rng`. Encodes and seals with the caller's `scratch`
    /// when given (a collector shares one among its devices).
    pub fn poll_transmit(&mut self, now: Timestamp, rng: &mut impl CryptoRng) -> Option<Transmit> {
        let mut scratch = SealScratch::new();
        self.poll_transmit_using(now, rng, &mut scratch)
    }

    /// [`DeviceAgent::poll_transmit`] with buffers shared between agents.
    pub fn poll_transmit_using(
        &mut self,
        now: Timestamp,
        rng: &mut impl CryptoRng,
        scratch: &mut SealScratch,
    ) -> Option<Transmit> {
        // Without a key of its own or a session, only a collector's bundle can carry it.
        if self.session.is_none() && self.channel.is_none() {
            return None;
        }
        if !self.prepare(now) {
            return None;
        }
        let prepared = self.prepared.take()?;
        let mut frame = Vec::new();
        let channel = match (&mut self.session, &mut self.channel) {
            (Some(session), _) => &mut **session,
            (None, Some(channel)) => channel,
            (None, None) => {
                self.prepared = Some(prepared);
                return None;
            }
        };
        let header = match channel.seal_using(
            scratch,
            MessageKind::Update,
            Codec::Protobuf,
            &prepared.payload,
            now,
            rng,
            &mut frame,
        ) {
            Ok(h) => h,
            Err(SealError::Expired) => {
                self.session = None;
                self.push(Event::SessionExpired);
                self.prepared = Some(prepared);
                return None;
            }
            Err(e) => {
                // Only a reservation can be missing here: save and try again.
                self.push(Event::SealFailed(e));
                self.prepared = Some(prepared);
                self.touch();
                return None;
            }
        };
        self.counters.reported(&self.schedule, now, rng.next_u32());
        Some(Transmit {
            device: header.sender_id,
            frame,
            urgent: prepared.urgent,
            reason: prepared.reason,
            sequence: header.sequence,
            entries: Vec::new(),
        })
    }

    /// Builds the report that is due, if one is and none is waiting, and says whether one is
    /// ready to leave (built, and everything it depends on saved).
    fn prepare(&mut self, now: Timestamp) -> bool {
        self.counters.observe_clock(&self.schedule, now);
        if self.prepared.is_none() {
            let Some(reason) = self.counters.due(&self.schedule, now, self.aligned) else { return false };
            let Some(current) = self.current.as_ref() else { return false };
            let update = self.sync.update_shared(current);
            let mut payload = Vec::new();
            if let Err(e) = protobuf::encode_update(&update, &mut payload) {
                self.push(Event::EncodeFailed(e.to_string()));
                return false;
            }
            // Reasons that fired are consumed now; anything new re-arms them.
            let urgent = self.counters.urgent;
            self.counters.urgent = false;
            self.counters.boot = false;
            self.counters.resync = false;
            self.prepared = Some(Prepared { payload, reason, urgent });
            self.touch();
        }
        if self.needs_save() {
            self.announce_save();
            return false;
        }
        self.prepared.is_some()
    }

    /// Bundle mode: the encoded update that is ready to leave, if one is ([`Self::prepare`]);
    /// it stays prepared until [`Self::bundled`] says it left.
    pub(crate) fn ready_update(&mut self, now: Timestamp) -> Option<(&[u8], Reason)> {
        if !self.prepare(now) {
            return None;
        }
        self.prepared.as_ref().map(|p| (p.payload.as_slice(), p.reason))
    }

    /// Bundle mode: the prepared update left in a sealed bundle. Returns whether it was urgent
    /// and why it was sent.
    pub(crate) fn bundled(&mut self, now: Timestamp, rng: &mut impl CryptoRng) -> Option<(bool, Reason)> {
        let prepared = self.prepared.take()?;
        self.counters.reported(&self.schedule, now, rng.next_u32());
        Some((prepared.urgent, prepared.reason))
    }

    /// When the agent must next be woken ([`DeviceAgent::handle_timeout`] then
    /// [`DeviceAgent::poll_transmit`]): `None` if nothing is scheduled, or nothing can be sent
    /// until a reading arrives (a restored agent before its printer is read again; the reading
    /// re-arms it); an instant in the past means at once.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        // An agent without a key of its own sends nothing until a collector's link carries it.
        if self.channel.is_none() && self.session.is_none() && !self.aligned {
            return None;
        }
        // Nothing to report from: waking it before a reading would find nothing to send, and
        // a deadline already past would wake it again at once, for ever.
        if self.current.is_none() && self.prepared.is_none() {
            return None;
        }
        let soon = self.prepared.is_some()
            || self.counters.urgent
            || self.counters.boot
            || self.counters.resync
            || self
                .counters
                .due(&self.schedule, Timestamp::UNIX_EPOCH, self.aligned)
                .is_some_and(|r| r != Reason::Interval);
        if soon && self.current.is_some() {
            return Some(Timestamp::UNIX_EPOCH);
        }
        self.counters.next_deadline(&self.schedule, self.aligned)
    }

    /// What happened, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}
