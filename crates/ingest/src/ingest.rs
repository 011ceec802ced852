//! The ingest object: frames in, batches of writes out, replies after the writes are durable.

use core::fmt;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use printfleet_auth::one_shot::frame_key;
use printfleet_auth::{DeviceSecret, FleetMasterKey, KeyEpoch, Session};
use printfleet_diff::sync::{Instance, RECENT_JOBS, Receiver, ReceiverState, Reply, Update, UpdateBody};
use printfleet_diff::{Delta, DeviceState};
use printfleet_meter::{Category, DeviceId, Observation, ObservationKey, Provenance};
use printfleet_schema::{DurationMs, Timestamp};
use printfleet_wire::frame::{
    FrameHeader, KeyId, Keyring, MessageKind, PortalChannel, Rejected, SenderId, WindowState,
};
use printfleet_wire::{Codec, protobuf, xml};
use rand_core::CryptoRng;
use uuid::Uuid;

use crate::batch::Route;
use crate::usage;
use crate::{Batch, Bundle, Credential, DeviceRecord, IngestError, Refusal, Registry, SavedDevice, Writes};

/// Every meter of a device is observed at least this often, even if no counter moved (an idle
/// printer is not a silent one for `printfleet-meter`); between two such full readings only the
/// meters that changed are observed.
pub const METER_HEARTBEAT: DurationMs = DurationMs(24 * 60 * 60 * 1000);

/// Sessions open at once (each holds a channel of about 2 KiB); more are refused with
/// [`IngestError::TooManySessions`].
pub const MAX_SESSIONS: usize = 65_536;
/// Sessions one device (or collector) holds at once: a device needs one, two while it renews.
/// Past it the device's oldest session is closed (its next frame gets
/// [`IngestError::SessionClosed`]), so that a credential cannot fill [`MAX_SESSIONS`].
pub const MAX_SESSIONS_PER_DEVICE: usize = 4;

/// A session handed to [`Ingest::open_session`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionHandle(u64);

/// An open session: the device it authenticated, under which epoch, until when.
#[derive(Debug)]
struct SessionSlot {
    channel: PortalChannel,
    device: SenderId,
    epoch: KeyEpoch,
    expires_at: Timestamp,
}

/// What the secret store says about a device's one-shot secret for a key epoch.
#[non_exhaustive]
pub enum SecretAnswer {
    /// The secret.
    Found(DeviceSecret),
    /// There is none.
    Unknown,
    /// The store cannot answer now (its database is down).
    Unavailable,
}

impl fmt::Debug for SecretAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Found(_) => "Found(..)",
            Self::Unknown => "Unknown",
            Self::Unavailable => "Unavailable",
        })
    }
}

/// Where the ingest finds one-shot secrets. Asked once per (device, epoch) while the derived key
/// is cached; the registry (revocation, epochs) is consulted for every frame.
pub trait Secrets {
    /// `device`'s secret for `epoch`.
    fn secret(&self, device: &str, epoch: KeyEpoch) -> SecretAnswer;
}

/// A fleet whose secrets derive from one master key.
impl Secrets for FleetMasterKey {
    fn secret(&self, device: &str, epoch: KeyEpoch) -> SecretAnswer {
        SecretAnswer::Found(self.device_secret(device, epoch))
    }
}

/// What the ingest counted since it started (export them as metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    accepted: u64,
    applied: u64,
    duplicates: u64,
    resyncs: u64,
    refused: HashMap<Refusal, u64>,
}

impl Counters {
    /// Frames that opened and decoded (each made a batch).
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Updates applied to a device's state.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Updates seen before (nothing applied; their job events may still be new).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Replies that asked for a full snapshot.
    pub fn resyncs(&self) -> u64 {
        self.resyncs
    }

    /// Frames refused for `reason`.
    pub fn refused(&self, reason: Refusal) -> u64 {
        self.refused.get(&reason).copied().unwrap_or(0)
    }

    /// Every reason a frame was refused for, with its count.
    pub fn refusals(&self) -> impl Iterator<Item = (Refusal, u64)> + '_ {
        self.refused.iter().map(|(r, n)| (*r, *n))
    }
}

/// What the ingest keeps per device.
#[derive(Debug, Default)]
struct Slot {
    receiver: Receiver,
    /// The receiver's state as of the last committed batch (what an abort goes back to),
    /// without the UUIDs of recent jobs.
    committed: Option<ReceiverState>,
    /// Those UUIDs: of the last [`RECENT_JOBS`] jobs committed, in the order committed.
    committed_recent: VecDeque<Uuid>,
    /// The replay windows as of the last committed batch.
    committed_windows: Vec<(KeyId, WindowState)>,
    /// The last update applied, to tell a new one from a duplicate.
    last_applied: Option<(Instance, u64)>,
    /// The stored state, kept after a restart (or an abort) until a full snapshot compared with
    /// it is committed.
    baseline: Option<DeviceState>,
    /// When every meter was last observed.
    meters_read_at: Option<Timestamp>,
    /// The batch in flight.
    in_flight: Option<u64>,
}

/// The portal's ingest, sans-IO: feed it each received frame and the time
/// ([`Ingest::receive`]); it answers with a [`Batch`] of writes; store them, then
/// [`Ingest::commit`] the batch to get the reply frame. Nothing it decided leaves before the
/// caller has made it durable, so a crash between the two loses nothing and applies nothing
/// twice: restore with [`Ingest::restore`] from what the store committed, and the device's next
/// frame is applied exactly once.
pub struct Ingest<S> {
    registry: Registry,
    secrets: S,
    keyring: Keyring,
    slots: HashMap<SenderId, Slot>,
    sessions: HashMap<SessionHandle, SessionSlot>,
    next_session: u64,
    next_batch: u64,
    counters: Counters,
    /// The opened frame's payload, reused from frame to frame.
    payload: Vec<u8>,
    /// The canonical encoding each applied state is hashed over, reused from update to update.
    scratch: Vec<u8>,
}

impl<S> fmt::Debug for Ingest<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ingest")
            .field("devices", &self.registry.len())
            .field("keyring", &self.keyring)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl<S: Secrets> Ingest<S> {
    /// An ingest with no device (first start of a portal).
    pub fn new(secrets: S) -> Self {
        Self {
            registry: Registry::new(),
            secrets,
            keyring: Keyring::new(),
            slots: HashMap::new(),
            sessions: HashMap::new(),
            next_session: 1,
            next_batch: 1,
            counters: Counters::default(),
            payload: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The ingest after a restart: the registry's devices and, per device, what the last
    /// committed batch stored. Call it before any frame is received.
    pub fn restore(
        secrets: S,
        devices: impl IntoIterator<Item = DeviceRecord>,
        saved: impl IntoIterator<Item = SavedDevice>,
    ) -> Result<Self, IngestError> {
        let mut ingest = Self::new(secrets);
        for record in devices {
            ingest.registry.provision(record)?;
        }
        for s in saved {
            // A store that gives no UUIDs keeps those of the state itself (one saved whole, as
            // before `SavedDevice::recent_jobs`; a device without jobs has none either way).
            let state = if s.recent_jobs.is_empty() { s.receiver } else { s.receiver.with_recent_jobs(s.recent_jobs) };
            let committed_recent = state.recent_jobs().iter().copied().collect();
            let receiver =
                Receiver::restore(state).map_err(|source| IngestError::Restore { device: s.device, source })?;
            for (key_id, window) in &s.windows {
                // Cannot fail: no window of this fresh keyring has accepted a frame.
                let _ = ingest.keyring.restore_window(s.device, *key_id, *window);
            }
            let slot = Slot {
                committed: Some(receiver.save_without_recent_jobs()),
                receiver,
                committed_recent,
                committed_windows: s.windows,
                baseline: s.state,
                ..Slot::default()
            };
            ingest.slots.insert(s.device, slot);
        }
        Ok(ingest)
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// What was counted so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Batches handed out and not yet committed or aborted.
    pub fn in_flight(&self) -> usize {
        self.slots.values().filter(|s| s.in_flight.is_some()).count()
    }

    /// Adds a device (store it first). Returns its sender id.
    pub fn provision(&mut self, record: DeviceRecord) -> Result<SenderId, IngestError> {
        self.registry.provision(record)
    }

    /// Revokes a device: its frames are refused from the next one on (store it first). Its
    /// replay windows are kept.
    pub fn revoke(&mut self, sender: SenderId) -> Result<(), IngestError> {
        let record = self.registry.get_mut(sender)?;
        record.revoked = true;
        for c in &record.credentials {
            self.keyring.remove(sender, KeyId(c.epoch.0));
        }
        Ok(())
    }

    /// Revokes one key epoch of a device (the end of a rotation's overlap, a leaked secret).
    pub fn revoke_epoch(&mut self, sender: SenderId, epoch: KeyEpoch) -> Result<(), IngestError> {
        let record = self.registry.get_mut(sender)?;
        for c in record.credentials.iter_mut().filter(|c| c.epoch == epoch) {
            c.revoked = true;
        }
        self.keyring.remove(sender, KeyId(epoch.0));
        Ok(())
    }

    /// Names the collector that may report a device in bundles from the next bundle on, or none
    /// (store it first): a printer moved to another site, a Data Collector replaced.
    pub fn set_collector(&mut self, sender: SenderId, collector: Option<SenderId>) -> Result<(), IngestError> {
        self.registry.get_mut(sender)?.collector = collector;
        Ok(())
    }

    /// Adds (or replaces) a credential of a device: a new key epoch (rotation).
    pub fn add_credential(&mut self, sender: SenderId, credential: Credential) -> Result<(), IngestError> {
        let record = self.registry.get_mut(sender)?;
        let others = record.credentials.iter().filter(|c| c.epoch != credential.epoch).count();
        if others >= crate::MAX_EPOCHS_PER_DEVICE {
            return Err(IngestError::TooManyEpochs { count: others.saturating_add(1) });
        }
        record.credentials.retain(|c| c.epoch != credential.epoch);
        self.keyring.remove(sender, KeyId(credential.epoch.0));
        record.credentials.push(credential);
        Ok(())
    }

    fn refuse(&mut self, reason: Refusal) -> IngestError {
        let n = self.counters.refused.entry(reason).or_insert(0);
        *n = n.saturating_add(1);
        IngestError::Rejected(reason)
    }

    /// Handles a received frame (one-shot mode: a sealed `Update` from a device). On success,
    /// store [`Batch::writes`] in one transaction, then call [`Ingest::commit`] (or
    /// [`Ingest::abort`] if the store failed). Until then the device's next frame gets
    /// [`IngestError::Busy`].
    ///
    /// Frames from unknown or revoked devices, frames the frame layer refuses and authentic
    /// frames whose payload is not a valid update get [`IngestError::Rejected`] (say only
    /// "rejected"), counted by [`Refusal`].
    pub fn receive(&mut self, frame: &[u8], now: Timestamp) -> Result<Batch, IngestError> {
        let header = FrameHeader::peek(frame).map_err(|r| self.refuse(Refusal::Frame(r.reason())))?;
        let (sender, key_id) = (header.sender_id, header.key_id);
        let epoch = KeyEpoch(key_id.0);
        let Some(record) = self.registry.get(sender) else { return Err(self.refuse(Refusal::Unknown)) };
        let revoked = match record.credential(epoch) {
            None => return Err(self.refuse(Refusal::Unknown)),
            Some(c) => record.revoked || c.revoked,
        };
        if revoked {
            return Err(self.refuse(Refusal::Revoked));
        }
        let meter_device = record.meter_device;
        if self.slots.get(&sender).is_some_and(|s| s.in_flight.is_some()) {
            return Err(IngestError::Busy(sender));
        }
        if !self.keyring.contains(sender, key_id) {
            match self.secrets.secret(&record.name, epoch) {
                SecretAnswer::Found(secret) => {
                    // Cannot fail: the key is not held.
                    let _ = self.keyring.insert(sender, &frame_key(&secret, &record.name, epoch));
                }
                SecretAnswer::Unknown => return Err(self.refuse(Refusal::Unknown)),
                SecretAnswer::Unavailable => return Err(IngestError::Unavailable),
            }
        }
        let (request, update) =
            self.open_update(|me, payload| Ok(me.keyring.open(frame, &[MessageKind::Update], now, payload)))?;
        let window = self.keyring.window(sender, key_id).unwrap_or_default();
        self.accept(Route::OneShot, meter_device, request, &update, Some((key_id, window)), now)
    }

    /// Opens a frame with `open` (into the payload buffer reused from frame to frame) and decodes
    /// its update; a frame that does not open or decode is refused and counted.
    fn open_update(
        &mut self,
        open: impl FnOnce(&mut Self, &mut Vec<u8>) -> Result<Result<FrameHeader, Rejected>, IngestError>,
    ) -> Result<(FrameHeader, Update), IngestError> {
        let mut payload = core::mem::take(&mut self.payload);
        payload.clear();
        let opened = open(self, &mut payload);
        let update = opened.map(|o| o.map(|request| (request, decode(request.codec, &payload))));
        self.payload = payload;
        match update? {
            Ok((request, Some(update))) => Ok((request, update)),
            Ok((_, None)) => Err(self.refuse(Refusal::Malformed)),
            Err(r) => Err(self.refuse(Refusal::Frame(r.reason()))),
        }
    }

    /// Applies an opened update and makes its batch.
    fn accept(
        &mut self,
        route: Route,
        meter_device: DeviceId,
        request: FrameHeader,
        update: &Update,
        window: Option<(KeyId, WindowState)>,
        now: Timestamp,
    ) -> Result<Batch, IngestError> {
        let device = request.sender_id;
        let slot = self.slots.entry(device).or_default();
        let target = Target { device, meter_device, window };
        let (writes, reply) = apply(slot, update, target, now, request.timestamp, &mut self.scratch);
        let id = self.next_batch;
        self.next_batch = id.saturating_add(1);
        slot.in_flight = Some(id);
        let mut bytes = Vec::new();
        let encoded = match request.codec {
            Codec::Xml => xml::encode_reply(&reply, &mut bytes),
            _ => protobuf::encode_reply(&reply, &mut bytes),
        };
        let batch = Batch { id, route, writes, request, codec: request.codec, reply: bytes };
        if let Err(e) = encoded {
            // Nothing of this frame may stay applied without a batch to store it.
            self.abort(batch)?;
            return Err(IngestError::Encode(e));
        }
        let c = &mut self.counters;
        c.accepted = c.accepted.saturating_add(1);
        if batch.writes.state.is_some() {
            c.applied = c.applied.saturating_add(1);
        } else if !batch.writes.resync {
            c.duplicates = c.duplicates.saturating_add(1);
        }
        if batch.writes.resync {
            c.resyncs = c.resyncs.saturating_add(1);
        }
        Ok(batch)
    }

    /// Session mode: takes the portal's end of a session the SCRAM server established
    /// (`printfleet_auth::ServerAwaitingClientFinal::handle_client_final`, with this ingest's
    /// [`Ingest::registry`] as the verifier store). Refused if it has expired, if the device or
    /// epoch is no longer good, or if [`MAX_SESSIONS`] are open (counting none that expired by
    /// `now`: at the limit, those are closed first). A device that holds
    /// [`MAX_SESSIONS_PER_DEVICE`] already loses its oldest.
    pub fn open_session(&mut self, session: Session, now: Timestamp) -> Result<SessionHandle, IngestError> {
        if session.is_expired(now) {
            return Err(IngestError::SessionClosed);
        }
        if session.recheck(&self.registry).is_err() {
            return Err(self.refuse(Refusal::Revoked));
        }
        if self.sessions.len() >= MAX_SESSIONS {
            // Sessions whose connections went without closing them are otherwise dropped only
            // when a frame arrives on them: make room from those that expired first.
            self.sessions.retain(|_, s| now < s.expires_at);
        }
        if self.sessions.len() >= MAX_SESSIONS {
            return Err(IngestError::TooManySessions);
        }
        let (device, epoch, expires_at) = (session.sender_id(), session.epoch(), session.expires_at());
        // Handles grow, so the device's smallest is its oldest. One pass over the sessions: a
        // handshake costs far more.
        let mut own: Vec<SessionHandle> =
            self.sessions.iter().filter(|(_, s)| s.device == device).map(|(h, _)| *h).collect();
        if own.len() >= MAX_SESSIONS_PER_DEVICE {
            own.sort_unstable_by_key(|h| h.0);
            for old in own.iter().take(own.len().saturating_add(1).saturating_sub(MAX_SESSIONS_PER_DEVICE)) {
                self.sessions.remove(old);
            }
        }
        let channel = session.into_portal_channel().ok_or(IngestError::NotPortalSession)?;
        let handle = SessionHandle(self.next_session);
        self.next_session = self.next_session.saturating_add(1);
        self.sessions.insert(handle, SessionSlot { channel, device, epoch, expires_at });
        Ok(handle)
    }

    /// Ends a session (its connection closed). Returns whether it was open.
    pub fn close_session(&mut self, handle: SessionHandle) -> bool {
        self.sessions.remove(&handle).is_some()
    }

    /// Sessions open.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Session mode: a frame received on the session `handle`. Like [`Ingest::receive`]; the
    /// registry is checked again for every frame (a revocation ends the session), and an expired
    /// session is closed ([`IngestError::SessionClosed`]: the device runs a new handshake).
    pub fn receive_session(
        &mut self,
        handle: SessionHandle,
        frame: &[u8],
        now: Timestamp,
    ) -> Result<Batch, IngestError> {
        let (device, meter_device) = self.check_session(handle, now)?;
        if self.slots.get(&device).is_some_and(|s| s.in_flight.is_some()) {
            return Err(IngestError::Busy(device));
        }
        let (request, update) = self.open_update(|me, payload| match me.sessions.get_mut(&handle) {
            Some(s) => Ok(s.channel.open(frame, &[MessageKind::Update], now, payload)),
            None => Err(IngestError::SessionClosed),
        })?;
        self.accept(Route::Session(handle), meter_device, request, &update, None, now)
    }

    /// The session's device and meter position, if the session is open and its device and epoch
    /// are still good (checked again for every frame: a revocation ends the session).
    fn check_session(&mut self, handle: SessionHandle, now: Timestamp) -> Result<(SenderId, DeviceId), IngestError> {
        let Some(s) = self.sessions.get(&handle) else { return Err(IngestError::SessionClosed) };
        if now >= s.expires_at {
            self.sessions.remove(&handle);
            return Err(IngestError::SessionClosed);
        }
        let (device, epoch) = (s.device, s.epoch);
        let verdict = match self.registry.get(device) {
            None => Err(Refusal::Unknown),
            Some(r) => match r.credential(epoch) {
                None => Err(Refusal::Unknown),
                Some(c) if r.revoked || c.revoked => Err(Refusal::Revoked),
                Some(_) => Ok(r.meter_device),
            },
        };
        match verdict {
            Ok(m) => Ok((device, m)),
            Err(reason) => {
                self.sessions.remove(&handle);
                Err(self.refuse(reason))
            }
        }
    }

    /// Session mode, a collector's session: a bundle (docs/wire-format.md §5.9) received on
    /// `handle`, the session of a collector that speaks for the devices of its entries
    /// ([`DeviceRecord::collector`]). Each entry is applied like a frame of its device's own;
    /// an entry is refused (counted by [`Refusal`], and answered with nothing: the device sends
    /// again later) if its device is unknown, revoked or not this collector's, if its update does
    /// not decode, or if its device has a batch in flight. Store the writes of every
    /// [`Bundle::batches`] in one transaction, then [`Ingest::commit_bundle`] (or
    /// [`Ingest::abort_bundle`]).
    ///
    /// The bundle as a whole is refused like a frame ([`IngestError::Rejected`]) if it does not
    /// open or does not decode; the session is checked as by [`Ingest::receive_session`].
    pub fn receive_bundle(
        &mut self,
        handle: SessionHandle,
        frame: &[u8],
        now: Timestamp,
    ) -> Result<Bundle, IngestError> {
        let (collector, _) = self.check_session(handle, now)?;
        let mut payload = core::mem::take(&mut self.payload);
        payload.clear();
        let opened = match self.sessions.get_mut(&handle) {
            Some(s) => s.channel.open(frame, &[MessageKind::Bundle], now, &mut payload),
            None => return Err(IngestError::SessionClosed),
        };
        let result = match opened {
            Err(r) => Err(self.refuse(Refusal::Frame(r.reason()))),
            Ok(request) if request.codec != Codec::Protobuf => Err(self.refuse(Refusal::Malformed)),
            Ok(request) => match protobuf::decode_bundle(&payload) {
                Err(_) => Err(self.refuse(Refusal::Malformed)),
                Ok(entries) => self.accept_bundle(handle, collector, request, &entries, now),
            },
        };
        self.payload = payload;
        result
    }

    /// Applies a bundle's entries, in order.
    fn accept_bundle(
        &mut self,
        handle: SessionHandle,
        collector: SenderId,
        request: FrameHeader,
        entries: &[protobuf::BundleEntry<'_>],
        now: Timestamp,
    ) -> Result<Bundle, IngestError> {
        let mut batches = Vec::new();
        let mut answers = Vec::with_capacity(entries.len());
        for entry in entries {
            let verdict = match self.registry.get(entry.device) {
                None => Err(Refusal::Unknown),
                Some(r) if r.revoked => Err(Refusal::Revoked),
                Some(r) if r.collector != Some(collector) => Err(Refusal::NotItsCollector),
                Some(r) => Ok(r.meter_device),
            };
            let verdict = verdict.and_then(|m| match self.slots.get(&entry.device) {
                Some(s) if s.in_flight.is_some() => Err(Refusal::InFlight),
                _ => Ok(m),
            });
            let verdict = verdict
                .and_then(|m| protobuf::decode_update(entry.update).map(|u| (m, u)).map_err(|_| Refusal::Malformed));
            let (meter_device, update) = match verdict {
                Ok(v) => v,
                Err(reason) => {
                    let _ = self.refuse(reason);
                    answers.push(None);
                    continue;
                }
            };
            let header = FrameHeader { sender_id: entry.device, ..request };
            match self.accept(Route::Bundle, meter_device, header, &update, None, now) {
                Ok(batch) => {
                    answers.push(Some(batches.len()));
                    batches.push(batch);
                }
                Err(e) => {
                    // Nothing of the bundle stays applied without a bundle to store it.
                    for batch in batches {
                        self.abort(batch)?;
                    }
                    return Err(e);
                }
            }
        }
        let id = self.next_batch;
        self.next_batch = id.saturating_add(1);
        Ok(Bundle { id, handle, request, batches, answers })
    }

    /// The bundle's writes (every batch's) are durable: returns the bundle reply frame to send
    /// to the collector.
    pub fn commit_bundle(
        &mut self,
        bundle: Bundle,
        now: Timestamp,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>, IngestError> {
        let Bundle { handle, request, batches, answers, .. } = bundle;
        let mut replies = Vec::with_capacity(batches.len());
        let mut failed = None;
        for batch in batches {
            let Batch { id, writes, reply, .. } = batch;
            match self.settle(id, writes) {
                Ok(()) => replies.push(reply),
                Err(e) => {
                    failed.get_or_insert(e);
                    replies.push(Vec::new());
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let mut payload = Vec::new();
        for answer in answers {
            protobuf::encode_bundle_answer(answer.and_then(|i| replies.get(i)).map(Vec::as_slice), &mut payload);
        }
        let mut out = Vec::new();
        match self.sessions.get_mut(&handle) {
            Some(s) => s.channel.seal_reply(&request, Codec::Protobuf, &payload, now, rng, &mut out),
            // Stored, but the connection is gone: the collector sends again on a new session.
            None => return Err(IngestError::SessionClosed),
        }
        .map_err(IngestError::Seal)?;
        Ok(out)
    }

    /// The bundle's writes could not be stored: every device of it goes back to its last
    /// committed state ([`Ingest::abort`]); no reply is sent.
    pub fn abort_bundle(&mut self, bundle: Bundle) -> Result<(), IngestError> {
        let mut result = Ok(());
        for batch in bundle.batches {
            if let Err(e) = self.abort(batch) {
                result = result.and(Err(e));
            }
        }
        result
    }

    /// The slot's side of a commit: the batch's receiver state and window are now the committed
    /// ones.
    fn settle(&mut self, id: u64, writes: Writes) -> Result<(), IngestError> {
        let slot = self.slots.get_mut(&writes.device).filter(|s| s.in_flight == Some(id));
        let Some(slot) = slot else { return Err(IngestError::StaleBatch { id }) };
        slot.in_flight = None;
        if let Some((key_id, window)) = writes.window {
            match slot.committed_windows.iter_mut().find(|(k, _)| *k == key_id) {
                Some((_, w)) => *w = window,
                None => slot.committed_windows.push((key_id, window)),
            }
        }
        for uuid in writes.jobs.iter().map(|j| j.job.uuid).filter(|u| !u.is_nil()) {
            if slot.committed_recent.len() == RECENT_JOBS {
                slot.committed_recent.pop_front();
            }
            slot.committed_recent.push_back(uuid);
        }
        slot.committed = Some(writes.receiver);
        if writes.state.is_some() {
            slot.baseline = None;
        }
        Ok(())
    }

    /// The batch's writes are durable: returns the reply frame to send to the device.
    pub fn commit(&mut self, batch: Batch, now: Timestamp, rng: &mut impl CryptoRng) -> Result<Vec<u8>, IngestError> {
        let Batch { id, route, writes, request, codec, reply } = batch;
        self.settle(id, writes)?;
        let mut out = Vec::new();
        let sealed = match route {
            Route::OneShot => self.keyring.seal_reply(&request, codec, &reply, now, rng, &mut out),
            // Only a Bundle holds these, and it commits them with commit_bundle.
            Route::Bundle => return Err(IngestError::StaleBatch { id }),
            Route::Session(h) => match self.sessions.get_mut(&h) {
                Some(s) => s.channel.seal_reply(&request, codec, &reply, now, rng, &mut out),
                // Stored, but the connection is gone: the device sends again on a new session.
                None => return Err(IngestError::SessionClosed),
            },
        };
        sealed.map_err(IngestError::Seal)?;
        Ok(out)
    }

    /// The batch's writes could not be stored: the device goes back to its last committed state
    /// (receiver and one-shot replay windows), so that its retransmission is applied as if this
    /// frame had never arrived. No reply is sent. (A session's window is not rolled back: a
    /// device re-seals what it sends again under a new sequence number.)
    pub fn abort(&mut self, batch: Batch) -> Result<(), IngestError> {
        let (id, sender) = (batch.id, batch.writes.device);
        let slot = self.slots.get_mut(&sender).filter(|s| s.in_flight == Some(id));
        let Some(slot) = slot else { return Err(IngestError::StaleBatch { id }) };
        slot.in_flight = None;
        // The state the device's next full snapshot is compared with is the committed one: the
        // receiver's newest unless this batch replaced it, which is then taken back. (A
        // baseline not yet compared with stays: it is the committed state. A state over the
        // receiver's HISTORY_BYTES is not kept once replaced: its device's next snapshot is then
        // compared with nothing, as at first contact, and its open alerts are raised again.)
        if slot.baseline.is_none() {
            slot.baseline = match batch.writes.state {
                Some(_) => slot.receiver.previous_state(),
                None => slot.receiver.state().cloned(),
            };
        }
        slot.receiver = match &slot.committed {
            Some(saved) => {
                let saved = saved.clone().with_recent_jobs(slot.committed_recent.iter().copied());
                Receiver::restore(saved).map_err(|source| IngestError::Restore { device: sender, source })?
            }
            None => Receiver::new(),
        };
        slot.last_applied = None;
        slot.meters_read_at = None;
        if batch.route != Route::OneShot {
            return Ok(());
        }
        self.keyring.forget_sender(sender);
        for (key_id, window) in &slot.committed_windows {
            // Cannot fail: the sender's windows were just dropped.
            let _ = self.keyring.restore_window(sender, *key_id, *window);
        }
        Ok(())
    }
}

fn decode(codec: Codec, payload: &[u8]) -> Option<Update> {
    match codec {
        Codec::Protobuf => protobuf::decode_update(payload).ok(),
        Codec::Xml => xml::decode_update(payload).ok(),
        _ => None,
    }
}

/// Where an update's writes go.
#[derive(Clone, Copy)]
struct Target {
    device: SenderId,
    meter_device: DeviceId,
    window: Option<(KeyId, WindowState)>,
}

/// Applies `update` to the device's receiver and extracts what must be stored, and the reply.
fn apply(
    slot: &mut Slot,
    update: &Update,
    to: Target,
    now: Timestamp,
    sealed_at: Timestamp,
    scratch: &mut Vec<u8>,
) -> (Writes, Reply) {
    let full = matches!(update.body, UpdateBody::Full(_));
    // A delta against the newest state says what changed; one against an older base (its ack
    // was lost) repeats what the newest already has, and is compared with it instead.
    let on_newest =
        matches!(&update.body, UpdateBody::Delta { base, .. } if slot.receiver.newest_base() == Some(*base));
    // Shared, not copied: a full snapshot, or a delta to an older base, adds a state without
    // changing the newest.
    let view = if !on_newest && slot.baseline.is_none() { slot.receiver.shared_state().cloned() } else { None };
    let reply = slot.receiver.receive_in(update, scratch);
    let jobs = slot.receiver.take_jobs();
    let id = (update.instance, update.sequence);
    let applied =
        matches!(reply, Reply::Ack { state, .. } if state.sequence == update.sequence) && slot.last_applied != Some(id);
    let job_records = jobs.iter().map(|j| usage::job_record(to.meter_device, j, sealed_at)).collect();
    let mut writes = Writes {
        device: to.device,
        meter_device: to.meter_device,
        received_at: now,
        sealed_at,
        instance: update.instance,
        sequence: update.sequence,
        state: None,
        identity_changed: None,
        jobs,
        alerts_raised: Vec::new(),
        alerts_cleared: Vec::new(),
        levels: Vec::new(),
        observations: Vec::new(),
        job_records,
        window: to.window,
        receiver: slot.receiver.save_without_recent_jobs(),
        resync: matches!(reply, Reply::Resync { .. }),
    };
    if let (true, Some(shared)) = (applied, slot.receiver.shared_state()) {
        let state: &DeviceState = shared;
        slot.last_applied = Some(id);
        let every_meter =
            slot.meters_read_at.is_none_or(|t| t.checked_add(METER_HEARTBEAT).is_none_or(|due| now >= due));
        match &update.body {
            UpdateBody::Delta { delta, .. } if on_newest => from_delta(delta, &mut writes),
            // The baseline stays until the batch is committed (an abort compares again).
            _ => compare(slot.baseline.as_ref().or(view.as_deref()), state, &mut writes),
        }
        let key = ObservationKey { device: to.meter_device, instance: update.instance.0, sequence: update.sequence };
        let observe = |(kind, value): (Category, u64)| Observation {
            key,
            kind,
            value,
            observed_at: sealed_at,
            provenance: Provenance::Agent,
        };
        let meters = &state.snapshot.meters;
        if full || every_meter {
            slot.meters_read_at = Some(now);
            writes.observations = meters.0.iter().map(|(k, v)| observe((k.into(), *v))).collect();
            writes.observations.extend(usage::snapshot_categories(&state.snapshot).into_iter().map(observe));
        } else if let UpdateBody::Delta { delta, .. } = &update.body {
            writes.observations =
                delta.meters.keys().filter_map(|k| meters.get(k).map(|v| observe((k.into(), v)))).collect();
            // The categories derived from cartridges and usage counters, whenever those moved.
            let cartridges = &delta.cartridges;
            if delta.usage.is_some() || !cartridges.upserts.is_empty() || !cartridges.removals.is_empty() {
                writes.observations.extend(usage::snapshot_categories(&state.snapshot).into_iter().map(observe));
            }
        }
        // Shared with the receiver: the batch is committed (and dropped) before the device's
        // next update, which then changes the state in place without a copy.
        writes.state = Some(Arc::clone(shared));
    }
    (writes, reply)
}

/// What changed between the stored state (if any) and a full snapshot.
fn compare(previous: Option<&DeviceState>, state: &DeviceState, writes: &mut Writes) {
    if previous.is_none_or(|p| p.identity != state.identity) {
        writes.identity_changed = Some(state.identity.clone());
    }
    let before = previous.map(|p| &p.snapshot);
    writes.alerts_raised =
        state.snapshot.alerts.iter().filter(|a| !before.is_some_and(|b| b.alerts.contains(a))).cloned().collect();
    writes.alerts_cleared = before
        .map(|b| {
            b.alerts
                .iter()
                .filter(|a| !state.snapshot.alerts.iter().any(|n| n.record_id == a.record_id))
                .map(|a| a.record_id)
                .collect()
        })
        .unwrap_or_default();
    writes.levels = state
        .snapshot
        .consumables
        .iter()
        .filter(|c| {
            !before.is_some_and(|b| b.consumables.iter().any(|o| o.record_id == c.record_id && o.level == c.level))
        })
        .map(|c| (c.record_id, c.level))
        .collect();
}

/// What a delta changed.
fn from_delta(delta: &Delta, writes: &mut Writes) {
    writes.identity_changed = delta.identity.clone();
    writes.alerts_raised = delta.alerts.upserts.clone();
    writes.alerts_cleared = delta.alerts.removals.clone();
    writes.levels =
        delta.levels.iter().copied().chain(delta.consumables.upserts.iter().map(|c| (c.record_id, c.level))).collect();
}
