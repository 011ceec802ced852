//! The ingest actor: one thread owns the [`Ingest`] and the store. It drains its queue into a
//! group, `receive`s each frame, stores every batch of the group with ONE
//! [`Store::write_batches`], then `commit`s each and answers each requester (or `abort`s them
//! all if the store failed). A frame of a device whose batch is in the group
//! ([`IngestError::Busy`]) waits for the next group.

use std::cell::Cell;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use printfleet_auth::{
    FleetMasterKey, KeyEpoch, Lookup, ServerAwaitingClientFinal, ServerConfig, ServerFailure, Session, VerifierStore,
    server_start,
};
use printfleet_ingest::{Batch, DeviceRecord, Ingest, IngestError, Refusal, Registry, SessionHandle};
use printfleet_store::Store;
use printfleet_wire::frame::{FrameHeader, OsRng, SenderId};
use tokio::sync::{mpsc, oneshot};

use super::config::Db;
use super::metrics::Shared;
use super::{MAX_GROUP, now};

/// The registry is reloaded at most this often when a frame or a handshake names a device (or
/// key epoch) the actor does not know: a flood of unknown names costs one reload per interval.
pub const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// What a frame came to.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The sealed reply (the batch is stored).
    Reply(Vec<u8>),
    /// Refused (opaque).
    Rejected,
    /// Session mode: the session is closed (expired, revoked, unknown).
    Closed,
    /// The store failed: neither accepted nor refused; try later.
    Unavailable,
}

/// The server's side of a handshake's first step.
pub(crate) type HelloAnswer = Result<(ServerAwaitingClientFinal, String), ServerFailure>;

/// What connections ask the actor.
#[derive(Debug)]
pub(crate) enum Request {
    /// A one-shot frame.
    Frame { frame: Vec<u8>, reply: oneshot::Sender<Outcome> },
    /// A frame of an open session.
    SessionFrame { handle: SessionHandle, frame: Vec<u8>, reply: oneshot::Sender<Outcome> },
    /// A SCRAM client-first message: the registry answers the look-up.
    Hello { message: String, reply: oneshot::Sender<HelloAnswer> },
    /// A session the handshake established.
    Open { session: Box<Session>, reply: oneshot::Sender<Option<SessionHandle>> },
    /// A channel closed.
    Close(SessionHandle),
}

/// The actor's state (moved into its thread by [`Actor::run`]).
pub(crate) struct Actor {
    ingest: Ingest<FleetMasterKey>,
    store: Box<dyn Store + Send>,
    auth: ServerConfig,
    shared: Arc<Shared>,
    rng: OsRng,
    refresh: Duration,
    last_load: Instant,
    /// The last reload caused by an unknown device (rate-limited).
    last_probe: Option<Instant>,
    active: HashSet<SenderId>,
    db: Db,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor").field("ingest", &self.ingest).field("db", &self.db).finish_non_exhaustive()
    }
}

/// A verifier store that notes whether the registry did not know the device.
struct Probe<'a> {
    registry: &'a Registry,
    unknown: Cell<bool>,
}

impl VerifierStore for Probe<'_> {
    fn lookup(&self, device: &str, epoch: KeyEpoch) -> Lookup {
        let answer = self.registry.lookup(device, epoch);
        if matches!(answer, Lookup::Unknown) {
            self.unknown.set(true);
        }
        answer
    }
}

impl Actor {
    pub(crate) fn new(
        ingest: Ingest<FleetMasterKey>,
        store: Box<dyn Store + Send>,
        auth: ServerConfig,
        db: Db,
        shared: Arc<Shared>,
        refresh: Duration,
    ) -> Self {
        let mut actor = Self {
            ingest,
            store,
            auth,
            shared,
            rng: OsRng::default(),
            refresh,
            last_load: Instant::now(),
            last_probe: None,
            active: HashSet::new(),
            db,
        };
        actor.publish();
        actor
    }

    /// Serves requests until every sender is gone (the portal shut down), finishing the group in
    /// hand.
    pub(crate) fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut deferred: VecDeque<Request> = VecDeque::new();
        loop {
            let mut group: Vec<Request> = deferred.drain(..).collect();
            if group.is_empty() {
                match requests.blocking_recv() {
                    Some(r) => group.push(r),
                    None => break,
                }
            }
            while group.len() < MAX_GROUP {
                match requests.try_recv() {
                    Ok(r) => group.push(r),
                    Err(_) => break,
                }
            }
            if self.last_load.elapsed() >= self.refresh {
                self.reload();
            }
            self.group(group, &mut deferred);
            self.publish();
        }
        tracing::debug!("ingest actor stopped");
    }

    /// One group: receive every frame, store the batches in one transaction, commit, answer.
    fn group(&mut self, group: Vec<Request>, deferred: &mut VecDeque<Request>) {
        let now = now();
        let mut batches: Vec<Batch> = Vec::new();
        let mut waiting: Vec<oneshot::Sender<Outcome>> = Vec::new();
        for request in group {
            match request {
                Request::Frame { frame, reply } => {
                    self.reload_if_unknown(&frame);
                    match self.ingest.receive(&frame, now) {
                        Ok(batch) => {
                            batches.push(batch);
                            waiting.push(reply);
                        }
                        Err(IngestError::Busy(_)) => deferred.push_back(Request::Frame { frame, reply }),
                        Err(e) => {
                            let _ = reply.send(refused(&e));
                        }
                    }
                }
                Request::SessionFrame { handle, frame, reply } => {
                    match self.ingest.receive_session(handle, &frame, now) {
                        Ok(batch) => {
                            batches.push(batch);
                            waiting.push(reply);
                        }
                        Err(IngestError::Busy(_)) => deferred.push_back(Request::SessionFrame { handle, frame, reply }),
                        Err(e) => {
                            let _ = reply.send(refused(&e));
                        }
                    }
                }
                Request::Hello { message, reply } => {
                    let _ = reply.send(self.hello(&message));
                }
                Request::Open { session, reply } => {
                    let handle = self.ingest.open_session(*session, now);
                    if let Err(e) = &handle {
                        tracing::info!(error = %e, "session refused");
                    }
                    let _ = reply.send(handle.ok());
                }
                Request::Close(handle) => {
                    self.ingest.close_session(handle);
                }
            }
        }
        if batches.is_empty() {
            return;
        }
        let size = u64::try_from(batches.len()).unwrap_or(u64::MAX);
        match self.store.write_batches(&batches) {
            Ok(()) => {
                if let Ok(mut s) = self.shared.actor.lock() {
                    s.batches = s.batches.saturating_add(1);
                    s.batched_frames = s.batched_frames.saturating_add(size);
                    s.largest_group = s.largest_group.max(size);
                }
                for (batch, reply) in batches.into_iter().zip(waiting) {
                    let device = batch.device();
                    let outcome = match self.ingest.commit(batch, now, &mut self.rng) {
                        Ok(frame) => {
                            self.active.insert(device);
                            Outcome::Reply(frame)
                        }
                        Err(IngestError::SessionClosed) => Outcome::Closed,
                        Err(e) => {
                            tracing::warn!(%device, error = %e, "stored, but the reply could not be sealed");
                            Outcome::Rejected
                        }
                    };
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, frames = size, "store failed; the group is aborted");
                if let Ok(mut s) = self.shared.actor.lock() {
                    s.store_failures = s.store_failures.saturating_add(1);
                }
                for (batch, reply) in batches.into_iter().zip(waiting) {
                    if let Err(e) = self.ingest.abort(batch) {
                        tracing::error!(error = %e, "abort failed");
                    }
                    let _ = reply.send(Outcome::Unavailable);
                }
                self.reopen();
            }
        }
    }

    /// The first step of a handshake, against the registry (reloaded first if it does not know
    /// the device, at most every [`MIN_RELOAD_INTERVAL`]).
    fn hello(&mut self, message: &str) -> HelloAnswer {
        let config = &self.auth;
        let probe = Probe { registry: self.ingest.registry(), unknown: Cell::new(false) };
        let answer = server_start(message, &probe, config, &mut self.rng, now());
        if probe.unknown.get() && self.may_probe() {
            self.reload();
            return server_start(message, self.ingest.registry(), &self.auth, &mut self.rng, now());
        }
        answer
    }

    /// Reloads the registry if `frame` names a device or key epoch it does not know.
    fn reload_if_unknown(&mut self, frame: &[u8]) {
        let Ok(header) = FrameHeader::peek(frame) else { return };
        let epoch = KeyEpoch(header.key_id.0);
        let known = self.ingest.registry().get(header.sender_id).is_some_and(|r| r.credential(epoch).is_some());
        if !known && self.may_probe() {
            self.reload();
        }
    }

    /// Whether an unknown device may cause a reload now (at most every [`MIN_RELOAD_INTERVAL`]).
    fn may_probe(&mut self) -> bool {
        if self.last_probe.is_some_and(|t| t.elapsed() < MIN_RELOAD_INTERVAL) {
            return false;
        }
        self.last_probe = Some(Instant::now());
        true
    }

    /// Brings the registry in line with the store: new devices, new key epochs, revocations.
    fn reload(&mut self) {
        self.last_load = Instant::now();
        match self.store.load() {
            Ok(loaded) => sync_registry(&mut self.ingest, loaded.devices),
            Err(e) => tracing::warn!(error = %e, "registry reload failed"),
        }
    }

    /// After a failed transaction, a fresh connection to the database (the old one may be
    /// broken); kept as it is if the database cannot be opened now.
    fn reopen(&mut self) {
        match self.db.open() {
            Ok(store) => self.store = store,
            Err(e) => tracing::warn!(error = %e, "store reopen failed"),
        }
    }

    fn publish(&mut self) {
        if let Ok(mut s) = self.shared.actor.lock() {
            s.ingest = self.ingest.counters().clone();
            s.devices = u64::try_from(self.ingest.registry().len()).unwrap_or(u64::MAX);
            s.devices_active = u64::try_from(self.active.len()).unwrap_or(u64::MAX);
            s.sessions_open = u64::try_from(self.ingest.sessions()).unwrap_or(u64::MAX);
        }
    }
}

/// What a refused frame is answered with.
fn refused(e: &IngestError) -> Outcome {
    match e {
        IngestError::Rejected(Refusal::Revoked | Refusal::Unknown) | IngestError::SessionClosed => Outcome::Closed,
        IngestError::Unavailable => Outcome::Unavailable,
        _ => Outcome::Rejected,
    }
}

/// Applies the store's registry to the ingest's: devices it lacks, key epochs added, devices and
/// epochs revoked. (A revocation is never undone here: re-provision under a new epoch.)
pub(crate) fn sync_registry(ingest: &mut Ingest<FleetMasterKey>, devices: Vec<DeviceRecord>) {
    for record in devices {
        let sender = record.sender();
        let Some(current) = ingest.registry().get(sender) else {
            if let Err(e) = ingest.provision(record) {
                tracing::warn!(%sender, error = %e, "stored device not loaded");
            }
            continue;
        };
        let revoke = record.revoked && !current.revoked;
        let mut added = Vec::new();
        let mut revoked_epochs = Vec::new();
        for c in &record.credentials {
            match current.credential(c.epoch) {
                None => added.push(c.clone()),
                Some(old) if c.revoked && !old.revoked => revoked_epochs.push(c.epoch),
                Some(_) => {}
            }
        }
        let mut results = Vec::new();
        for c in added {
            results.push(ingest.add_credential(sender, c));
        }
        for epoch in revoked_epochs {
            results.push(ingest.revoke_epoch(sender, epoch));
        }
        if revoke {
            results.push(ingest.revoke(sender));
        }
        for e in results.into_iter().filter_map(Result::err) {
            tracing::warn!(%sender, error = %e, "registry change not applied");
        }
    }
}
