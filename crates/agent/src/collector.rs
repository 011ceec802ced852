//! Many device agents behind one portal connection and one persisted state (Partner Link's Data
//! Collector, SDS's monitor).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use printfleet_schema::{Alert, DeviceReport, DurationMs, PrintJob, Timestamp};
use printfleet_wire::frame::{DeviceChannel, FrameHeader, MessageKind, SealError, SealScratch, SenderId};
use printfleet_wire::limits::MAX_BUNDLE_ENTRIES;
use printfleet_wire::{Codec, protobuf};
use rand_core::CryptoRng;

use crate::device::{AgentState, Checkpoint, DeviceAgent};
use crate::schedule::Schedule;
use crate::{AgentError, Event, Transmit};

/// A bundle holds updates until their entries reach this many bytes (before compression; one
/// update larger than this goes alone): Partner Link keeps a transfer "under 100 KB", and a
/// bundle's frame is smaller still once compressed.
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024;

/// Bundles sent and not yet answered that the collector remembers (to route their answers): as
/// many as a channel's frames that may await a reply
/// ([`MAX_OUTSTANDING_REPLIES`](printfleet_wire::frame::MAX_OUTSTANDING_REPLIES)). An answer to
/// an older one is dropped, and its devices send again when their reply timeout passes.
pub const MAX_BUNDLES_IN_FLIGHT: usize = printfleet_wire::frame::MAX_OUTSTANDING_REPLIES;

/// The collector's own session (bundle mode): its channel, and which devices each bundle in
/// flight carried, in order.
#[derive(Debug)]
struct Link {
    channel: DeviceChannel,
    in_flight: VecDeque<(u64, Vec<SenderId>)>,
}

/// A save of every device agent that needs one: persist each state (the collector's persisted
/// state is the map of every device's last stored [`AgentState`]), then hand the checkpoint back
/// to [`Collector::saved`].
#[must_use = "persist the states, then pass the checkpoint to saved()"]
#[derive(Debug)]
pub struct CollectorCheckpoint {
    entries: Vec<(SenderId, Checkpoint)>,
}

impl CollectorCheckpoint {
    /// The states to persist, by device (only the devices that changed).
    pub fn states(&self) -> impl Iterator<Item = (SenderId, &AgentState)> {
        self.entries.iter().map(|(s, c)| (*s, c.state()))
    }

    /// Whether nothing needed saving.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A collector: holds the device agents of every printer it reads, decides when each printer is
/// read (never more often than its schedule's interval, which [`Schedule::collector`] keeps at
/// 30 minutes or more), routes the portal's replies, and seals every device's frames with one
/// shared set of buffers (so that memory does not grow with a compressor per device).
///
/// Wake-ups are kept in a heap, so each call costs O(log n) in the number of devices, not O(n).
#[derive(Debug)]
pub struct Collector {
    /// Boxed: a B-tree node holds 11 entries and is often half full, and an agent inline is
    /// kilobytes (its keys, its channel), so an unboxed map wastes more than an agent per device.
    agents: BTreeMap<SenderId, Box<DeviceAgent>>,
    /// When each device is next read.
    next_read: BTreeMap<SenderId, Timestamp>,
    reads: BinaryHeap<Reverse<(Timestamp, SenderId)>>,
    /// When each agent next wants to be asked for a frame (the heap may hold stale entries; the
    /// map says which is current).
    wakes: BinaryHeap<Reverse<(Timestamp, SenderId)>>,
    next_wake: BTreeMap<SenderId, Timestamp>,
    scratch: SealScratch,
    link: Option<Box<Link>>,
    counts: BundleCounts,
    /// The latest time a call gave (to see the clock go back).
    last_now: Option<Timestamp>,
}

/// How far the clock may go back before the collector re-bases its reads and wake-ups on the
/// new time (a step of NTP, an RTC that was wrong at boot): below it, nothing is changed.
pub const CLOCK_STEP_BACK: DurationMs = DurationMs(1_000);

/// What the portal's bundle replies came to, since the collector was made (for the caller's
/// counters and logs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleCounts {
    /// Entries answered (each device's reply handed to its agent).
    pub answered: u64,
    /// Entries the portal refused (answered with nothing: the device sends again later).
    pub refused: u64,
    /// Bundle replies that did not open, did not decode, or did not answer every entry:
    /// ignored as a whole (every device of the bundle sends again after its reply timeout).
    pub rejected_replies: u64,
}

impl Default for Collector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector {
    /// An empty collector.
    pub fn new() -> Self {
        Self {
            agents: BTreeMap::new(),
            next_read: BTreeMap::new(),
            reads: BinaryHeap::new(),
            wakes: BinaryHeap::new(),
            next_wake: BTreeMap::new(),
            scratch: SealScratch::new(),
            link: None,
            counts: BundleCounts::default(),
            last_now: None,
        }
    }

    /// Re-bases the schedule if the clock went back by more than [`CLOCK_STEP_BACK`]: reads and
    /// wake-ups are absolute times, and after a step back of a day every one of them would lie a
    /// day ahead, the collector silent until then. Each read is brought to at most one interval
    /// from the new time, and every agent is woken (each re-bases its own schedule when asked).
    fn observe_clock(&mut self, now: Timestamp) {
        let stepped = self.last_now.and_then(|last| last.duration_since(now)).is_some_and(|d| d > CLOCK_STEP_BACK);
        self.last_now = Some(now);
        if !stepped {
            return;
        }
        self.reads.clear();
        for (sender, at) in &mut self.next_read {
            let interval = self.agents.get(sender).map_or(DurationMs::ZERO, |a| a.schedule().interval());
            let latest = now.checked_add(interval).unwrap_or(Timestamp::MAX);
            *at = (*at).min(latest);
            self.reads.push(Reverse((*at, *sender)));
        }
        self.wakes.clear();
        self.next_wake.clear();
        for sender in self.agents.keys() {
            self.next_wake.insert(*sender, now);
            self.wakes.push(Reverse((now, *sender)));
        }
    }

    /// Adds a device's agent (new or restored); it is read at once. Replaces an agent of the same
    /// device.
    pub fn insert(&mut self, now: Timestamp, mut agent: DeviceAgent) {
        let sender = agent.sender();
        agent.set_aligned(self.link.is_some());
        self.agents.insert(sender, Box::new(agent));
        self.next_read.insert(sender, now);
        self.reads.push(Reverse((now, sender)));
        self.wake(sender);
    }

    /// Removes a device.
    pub fn remove(&mut self, sender: SenderId) -> Option<DeviceAgent> {
        self.next_read.remove(&sender);
        self.next_wake.remove(&sender);
        self.agents.remove(&sender).map(|a| *a)
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// Whether the collector holds no device.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// A device's agent.
    pub fn agent(&self, sender: SenderId) -> Option<&DeviceAgent> {
        self.agents.get(&sender).map(|a| &**a)
    }

    /// The next device due to be read at `now`, if any. Each device is returned at most once per
    /// interval of its schedule: read it and feed the result to [`Collector::handle_reading`]
    /// (or nothing, if it could not be read).
    pub fn poll_read(&mut self, now: Timestamp) -> Option<SenderId> {
        self.observe_clock(now);
        while let Some(Reverse((at, sender))) = self.reads.peek().copied() {
            if at > now {
                return None;
            }
            self.reads.pop();
            // Skip stale heap entries (a device removed, or re-queued since).
            if self.next_read.get(&sender) != Some(&at) {
                continue;
            }
            let interval = self.agents.get(&sender).map(|a| a.schedule().interval())?;
            let next = now.checked_add(interval).unwrap_or(Timestamp::MAX);
            self.next_read.insert(sender, next);
            self.reads.push(Reverse((next, sender)));
            return Some(sender);
        }
        None
    }

    fn with_agent(&mut self, sender: SenderId, f: impl FnOnce(&mut DeviceAgent)) -> Result<(), AgentError> {
        let agent = self.agents.get_mut(&sender).ok_or(AgentError::UnknownDevice(sender))?;
        f(agent);
        self.wake(sender);
        Ok(())
    }

    fn wake(&mut self, sender: SenderId) {
        match self.agents.get(&sender).and_then(|a| a.poll_timeout()) {
            Some(at) => {
                if self.next_wake.insert(sender, at) != Some(at) {
                    self.wakes.push(Reverse((at, sender)));
                }
            }
            None => {
                self.next_wake.remove(&sender);
            }
        }
    }

    /// Session mode: seals `sender`'s frames with its session's channel from now on
    /// ([`DeviceAgent::attach_session`]).
    pub fn attach_session(&mut self, sender: SenderId, channel: DeviceChannel) -> Result<(), AgentError> {
        let agent = self.agents.get_mut(&sender).ok_or(AgentError::UnknownDevice(sender))?;
        agent.attach_session(channel)?;
        self.wake(sender);
        Ok(())
    }

    /// Session mode: `sender`'s session ended ([`DeviceAgent::detach_session`]); `None` if the
    /// device is unknown or had no session.
    pub fn detach_session(&mut self, sender: SenderId) -> Option<DeviceChannel> {
        self.agents.get_mut(&sender).and_then(|agent| agent.detach_session())
    }

    /// Bundle mode (docs/wire-format.md §5.9): from now on every device's updates leave in
    /// bundles sealed with `channel`, the collector's end of **its own** authenticated session
    /// (`printfleet_auth::Session::into_device_channel`, after a handshake under the collector's
    /// name and secret; the portal must know it as these devices' collector). Each call of
    /// [`Collector::poll_transmit`] then returns one bundle of every device that is due, up to
    /// [`MAX_BUNDLE_BYTES`] and [`MAX_BUNDLE_ENTRIES`](printfleet_wire::limits::MAX_BUNDLE_ENTRIES).
    /// Interval reports then fall due at the collector's **rounds** (the multiples of the
    /// interval since the Unix epoch), the first at least
    /// [`COLLECTOR_MIN_INTERVAL`](crate::COLLECTOR_MIN_INTERVAL) after each device's last report,
    /// so that devices read at different times report together: one bundle per round.
    /// Per-device sessions stay attached but unused. Replaces a link attached before. Refused
    /// ([`AgentError::NotASession`]) for a channel that is not a session's.
    pub fn attach_link(&mut self, channel: DeviceChannel) -> Result<(), AgentError> {
        if !channel.is_session() {
            return Err(AgentError::NotASession);
        }
        self.link = Some(Box::new(Link { channel, in_flight: VecDeque::new() }));
        self.align(true);
        Ok(())
    }

    /// Interval reports at the collector's rounds (with a link) or one interval after each
    /// device's last report; every device's wake-up moves with it.
    fn align(&mut self, aligned: bool) {
        let senders: Vec<SenderId> = self.agents.keys().copied().collect();
        for sender in senders {
            if let Some(agent) = self.agents.get_mut(&sender) {
                agent.set_aligned(aligned);
            }
            self.wake(sender);
        }
    }

    /// Bundle mode ended (the collector's session closed, expired or lost its connection):
    /// devices send their own frames again (their sessions, or one-shot). Returns the channel.
    /// Updates of unanswered bundles are sent again when their reply timeouts pass.
    pub fn detach_link(&mut self) -> Option<DeviceChannel> {
        let link = self.link.take()?;
        self.align(false);
        Some(link.channel)
    }

    /// Whether a link is attached ([`Collector::attach_link`]).
    pub fn has_link(&self) -> bool {
        self.link.is_some()
    }

    /// What the bundle replies so far came to.
    pub fn bundle_counts(&self) -> BundleCounts {
        self.counts
    }

    /// A device's reading.
    pub fn handle_reading(&mut self, sender: SenderId, now: Timestamp, report: DeviceReport) -> Result<(), AgentError> {
        self.with_agent(sender, |a| a.handle_reading(now, report))
    }

    /// A device's finished job.
    pub fn handle_job(&mut self, sender: SenderId, now: Timestamp, job: PrintJob) -> Result<(), AgentError> {
        self.with_agent(sender, |a| a.handle_job(now, job))
    }

    /// A device's alert.
    pub fn handle_alert(&mut self, sender: SenderId, now: Timestamp, alert: Alert) -> Result<(), AgentError> {
        self.with_agent(sender, |a| a.handle_alert(now, alert))
    }

    /// A frame from the portal, routed by its (unauthenticated) sender id: to the link, for a
    /// bundle reply, or to its device, whose channel authenticates it. A reply that does not
    /// open is ignored (a device's: [`Event::ReplyRejected`]; a bundle's: counted in
    /// [`Collector::bundle_counts`]); an error only for a frame whose header does not parse or
    /// names no device of this collector.
    pub fn handle_frame(&mut self, now: Timestamp, frame: &[u8]) -> Result<(), AgentError> {
        let sender = FrameHeader::peek(frame).map_err(|e| AgentError::Frame(e.reason()))?.sender_id;
        if self.link.as_ref().is_some_and(|l| l.channel.sender() == sender) {
            self.handle_bundle_reply(now, frame);
            return Ok(());
        }
        self.with_agent(sender, |a| a.handle_frame(now, frame))
    }

    /// A bundle reply: each answer to its device, in the bundle's order. One that does not open,
    /// decode, or answer every entry is ignored as a whole: the devices send again after their
    /// reply timeouts.
    fn handle_bundle_reply(&mut self, now: Timestamp, frame: &[u8]) {
        let Some(link) = self.link.as_mut() else { return };
        let mut payload = Vec::new();
        let answers = link.channel.open_reply(frame, now, &mut payload).ok().and_then(|header| {
            let position = link.in_flight.iter().position(|(seq, _)| *seq == header.sequence)?;
            let (_, devices) = link.in_flight.remove(position)?;
            let answers = match (header.kind, header.codec) {
                (MessageKind::BundleReply, Codec::Protobuf) => protobuf::decode_bundle_reply(&payload).ok()?,
                _ => return None,
            };
            (answers.len() == devices.len()).then_some((devices, answers))
        });
        let Some((devices, answers)) = answers else {
            self.counts.rejected_replies = self.counts.rejected_replies.saturating_add(1);
            return;
        };
        for (device, answer) in devices.into_iter().zip(answers) {
            match answer {
                Some(reply) => {
                    self.counts.answered = self.counts.answered.saturating_add(1);
                    if let Some(agent) = self.agents.get_mut(&device) {
                        agent.handle_reply(&reply);
                    }
                    self.wake(device);
                }
                None => self.counts.refused = self.counts.refused.saturating_add(1),
            }
        }
    }

    /// Starts a save of every agent that needs one.
    pub fn save(&mut self) -> CollectorCheckpoint {
        let entries = self.agents.iter_mut().filter(|(_, a)| a.needs_save()).map(|(s, a)| (*s, a.save())).collect();
        CollectorCheckpoint { entries }
    }

    /// The checkpoint's states are durably stored.
    pub fn saved(&mut self, checkpoint: CollectorCheckpoint) -> Result<(), AgentError> {
        for (sender, cp) in checkpoint.entries {
            if let Some(agent) = self.agents.get_mut(&sender) {
                agent.saved(cp)?;
            }
            self.wake(sender);
        }
        Ok(())
    }

    /// Whether any agent needs a save before its next frame.
    pub fn needs_save(&self) -> bool {
        self.agents.values().any(|a| a.needs_save())
    }

    /// The next frame to send, from any device, if one is due and saved; with a link attached
    /// ([`Collector::attach_link`]), one bundle of every device that is due (up to its limits:
    /// call again for the rest).
    pub fn poll_transmit(&mut self, now: Timestamp, rng: &mut impl CryptoRng) -> Option<Transmit> {
        self.observe_clock(now);
        if self.link.is_some() {
            return self.poll_bundle(now, rng);
        }
        while let Some(Reverse((at, sender))) = self.wakes.peek().copied() {
            if at > now {
                return None;
            }
            self.wakes.pop();
            if self.next_wake.get(&sender) != Some(&at) {
                continue;
            }
            self.next_wake.remove(&sender);
            let Some(agent) = self.agents.get_mut(&sender) else { continue };
            let transmit = agent.poll_transmit_using(now, rng, &mut self.scratch);
            // Re-queue it for its next wake-up, unless it waits for a save (then `saved` does).
            if !agent.needs_save()
                && let Some(at) = agent.poll_timeout()
            {
                let at = at.max(now.checked_add(DurationMs(1)).unwrap_or(now));
                self.next_wake.insert(sender, at);
                self.wakes.push(Reverse((at, sender)));
            }
            if transmit.is_some() {
                return transmit;
            }
        }
        None
    }

    /// Takes the due devices off the wake-up heap (up to the bundle's limits), puts each
    /// device's ready update into one bundle, seals it with the link's channel. (With a link,
    /// interval reports fall due at the collector's rounds, `schedule::interval_due`, so that
    /// its devices, read at different times, report together.)
    fn poll_bundle(&mut self, now: Timestamp, rng: &mut impl CryptoRng) -> Option<Transmit> {
        let mut payload = Vec::new();
        let mut entries: Vec<(SenderId, usize)> = Vec::new();
        let (mut woken, mut left_over) = (Vec::new(), Vec::new());
        while let Some(Reverse((at, sender))) = self.wakes.peek().copied() {
            if at > now || entries.len() >= MAX_BUNDLE_ENTRIES || payload.len() >= MAX_BUNDLE_BYTES {
                break;
            }
            self.wakes.pop();
            if self.next_wake.get(&sender) != Some(&at) {
                continue;
            }
            self.next_wake.remove(&sender);
            woken.push(sender);
            let Some(agent) = self.agents.get_mut(&sender) else { continue };
            let Some((update, _)) = agent.ready_update(now) else { continue };
            if !entries.is_empty()
                && payload.len().saturating_add(protobuf::bundle_entry_len(update.len())) > MAX_BUNDLE_BYTES
            {
                // The next bundle's: it stays prepared, due at once.
                left_over.push(sender);
                continue;
            }
            let before = payload.len();
            protobuf::encode_bundle_entry(sender, update, &mut payload);
            entries.push((sender, payload.len().saturating_sub(before)));
        }
        let sealed = match (&mut self.link, entries.is_empty()) {
            (Some(link), false) => {
                let mut frame = Vec::new();
                match link.channel.seal_using(
                    &mut self.scratch,
                    MessageKind::Bundle,
                    Codec::Protobuf,
                    &payload,
                    now,
                    rng,
                    &mut frame,
                ) {
                    Ok(h) => Some((h, frame)),
                    Err(SealError::Expired) => {
                        // The link's session ended: detached (see `has_link`); handshake again.
                        self.detach_link();
                        None
                    }
                    Err(_) => None,
                }
            }
            _ => None,
        };
        let mut transmit = None;
        if let (Some((header, frame)), Some(link)) = (sealed, self.link.as_mut()) {
            let (mut urgent, mut reason) = (false, None);
            for (device, _) in &entries {
                if let Some((u, r)) = self.agents.get_mut(device).and_then(|a| a.bundled(now, rng)) {
                    urgent |= u;
                    reason = reason.or(Some(r));
                }
            }
            if link.in_flight.len() >= MAX_BUNDLES_IN_FLIGHT {
                link.in_flight.pop_front();
            }
            link.in_flight.push_back((header.sequence, entries.iter().map(|(d, _)| *d).collect()));
            transmit = reason.map(|reason| Transmit {
                device: header.sender_id,
                frame,
                urgent,
                reason,
                sequence: header.sequence,
                entries,
            });
        }
        // Every device taken off the heap is queued again for its next wake-up (unless it waits
        // for a save: then `saved` does): those left over at once, the others not before the
        // next millisecond (as in one device's polling: nothing spins).
        let soon = now.checked_add(DurationMs(1)).unwrap_or(now);
        for sender in woken {
            let Some(agent) = self.agents.get(&sender).filter(|a| !a.needs_save()) else { continue };
            let Some(at) = agent.poll_timeout() else { continue };
            let at = if left_over.contains(&sender) { now } else { at.max(soon) };
            self.next_wake.insert(sender, at);
            self.wakes.push(Reverse((at, sender)));
        }
        transmit
    }

    /// When the next device is due to be read: the reads alone of [`Collector::poll_timeout`],
    /// what a caller whose way to the portal is down (nothing can leave) waits for.
    pub fn poll_read_timeout(&self) -> Option<Timestamp> {
        self.reads.peek().map(|r| r.0.0)
    }

    /// When the collector must next be woken: the earliest read or frame due.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let read = self.reads.peek().map(|r| r.0.0);
        let wake = self.next_wake.values().min().copied();
        match (read, wake) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What happened, device by device.
    pub fn poll_event(&mut self) -> Option<(SenderId, Event)> {
        self.agents.iter_mut().find_map(|(s, a)| a.poll_event().map(|e| (*s, e)))
    }

    /// The schedule of the device `sender`.
    pub fn schedule(&self, sender: SenderId) -> Option<&Schedule> {
        self.agents.get(&sender).map(|a| a.schedule())
    }
}
