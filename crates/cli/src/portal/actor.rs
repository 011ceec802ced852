//! The ingest actor: one thread owns the [`Ingest`] and the store. It drains its queue into a
//! group, `receive`s each frame, stores every batch of the group with ONE
//! [`Store::write_batches`], then `commit`s each and answers each requester (or `abort`s them
//! all if the store failed). A frame of a device whose batch is in the group
//! ([`IngestError::Busy`]) waits for the next group.

use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use printfleet_auth::{
    FleetMasterKey, KeyEpoch, Lookup, ServerAwaitingClientFinal, ServerConfig, ServerFailure, Session, VerifierStore,
    server_start,
};
use printfleet_ingest::{Batch, Bundle, DeviceRecord, Ingest, IngestError, Refusal, Registry, SessionHandle};
use printfleet_store::Store;
use printfleet_wire::frame::{FrameHeader, MessageKind, OsRng, SenderId};
use tokio::sync::{mpsc, oneshot};

use super::MAX_GROUP;
use super::config::{Clock, Db};
use super::metrics::Shared;

/// The registry is reloaded at most this often when a frame or a handshake names a device (or
/// key epoch) the actor does not know: a flood of unknown names costs one reload per interval.
pub const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Frames of one device carried from a commit group to the next while an earlier frame of it is
/// being stored: a device sends one at a time and waits for its reply, so more is a misbehaving
/// (or stolen) credential, which must not fill the groups that every other device's frames
/// wait for. Beyond it a frame is answered as if the store were unavailable (HTTP 503 with
/// `Retry-After`; on the link, `Rejected`): sent again later, it is applied then.
pub const MAX_DEFERRED_PER_DEVICE: usize = 4;

/// Carries `request` (of `device`, busy in this group) over to the next group, unless
/// [`MAX_DEFERRED_PER_DEVICE`] of that device's are carried already.
fn defer(carried: &mut HashMap<SenderId, usize>, device: SenderId, request: Request, deferred: &mut VecDeque<Request>) {
    let n = carried.entry(device).or_insert(0);
    if *n < MAX_DEFERRED_PER_DEVICE {
        *n = n.saturating_add(1);
        deferred.push_back(request);
        return;
    }
    if let Request::Frame { reply, .. } | Request::SessionFrame { reply, .. } = request {
        let _ = reply.send(Outcome::Unavailable);
    }
}

/// What the sender of a stored frame (a device, or a collector's bundle) is answered: the
/// commit's reply, or why there is none.
fn stored(committed: Result<Vec<u8>, IngestError>, sender: SenderId) -> Outcome {
    match committed {
        Ok(frame) => Outcome::Reply(frame),
        Err(IngestError::SessionClosed) => Outcome::Closed,
        Err(e) => {
            tracing::warn!(%sender, error = %e, "stored, but the reply could not be sealed");
            Outcome::Rejected
        }
    }
}

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
    /// Reload the registry from the store now ([`super::RunningPortal::reload_registry`]).
    Reload { done: oneshot::Sender<()> },
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
    clock: Clock,
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
        clock: Clock,
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
            clock,
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
        let now = self.clock.now();
        let mut batches: Vec<Batch> = Vec::new();
        let mut waiting: Vec<oneshot::Sender<Outcome>> = Vec::new();
        let mut bundles: Vec<(Bundle, oneshot::Sender<Outcome>)> = Vec::new();
        let mut carried: HashMap<SenderId, usize> = HashMap::new();
        for request in group {
            match request {
                Request::Frame { frame, reply } => {
                    self.reload_if_unknown(&frame);
                    match self.ingest.receive(&frame, now) {
                        Ok(batch) => {
                            batches.push(batch);
                            waiting.push(reply);
                        }
                        Err(IngestError::Busy(device)) => {
                            defer(&mut carried, device, Request::Frame { frame, reply }, deferred);
                        }
                        Err(e) => {
                            let _ = reply.send(refused(&e));
                        }
                    }
                }
                Request::SessionFrame { handle, frame, reply }
                    if FrameHeader::peek(&frame).is_ok_and(|h| h.kind == MessageKind::Bundle) =>
                {
                    match self.ingest.receive_bundle(handle, &frame, now) {
                        Ok(bundle) => bundles.push((bundle, reply)),
                        Err(IngestError::Busy(device)) => {
                            defer(&mut carried, device, Request::SessionFrame { handle, frame, reply }, deferred);
                        }
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
                        Err(IngestError::Busy(device)) => {
                            defer(&mut carried, device, Request::SessionFrame { handle, frame, reply }, deferred);
                        }
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
                    // The connection that asked is gone: nobody holds the handle to close it.
                    if let Err(Some(orphan)) = reply.send(handle.ok()) {
                        self.ingest.close_session(orphan);
                    }
                }
                Request::Close(handle) => {
                    self.ingest.close_session(handle);
                }
                Request::Reload { done } => {
                    self.reload();
                    let _ = done.send(());
                }
            }
        }
        if batches.is_empty() && bundles.is_empty() {
            return;
        }
        let all: Vec<&Batch> = batches.iter().chain(bundles.iter().flat_map(|(b, _)| b.batches())).collect();
        let size = u64::try_from(all.len()).unwrap_or(u64::MAX);
        let written = self.store.write_batches(&all);
        drop(all);
        match written {
            Ok(()) => {
                if let Ok(mut s) = self.shared.actor.lock() {
                    s.batches = s.batches.saturating_add(1);
                    s.batched_frames = s.batched_frames.saturating_add(size);
                    s.largest_group = s.largest_group.max(size);
                }
                let mut answers = Vec::with_capacity(waiting.len());
                for (batch, reply) in batches.into_iter().zip(waiting) {
                    let device = batch.device();
                    let outcome = stored(self.ingest.commit(batch, now, &mut self.rng), device);
                    if matches!(outcome, Outcome::Reply(_)) {
                        self.active.insert(device);
                    }
                    answers.push((reply, outcome));
                }
                for (bundle, reply) in bundles {
                    let devices: Vec<SenderId> = bundle.batches().iter().map(Batch::device).collect();
                    let collector = bundle.collector();
                    let outcome = stored(self.ingest.commit_bundle(bundle, now, &mut self.rng), collector);
                    if matches!(outcome, Outcome::Reply(_)) {
                        self.active.extend(devices);
                    }
                    answers.push((reply, outcome));
                }
                // Counted before anyone is answered: a client holding its reply sees its frame
                // in the counters.
                self.publish();
                for (reply, outcome) in answers {
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
                for (bundle, reply) in bundles {
                    if let Err(e) = self.ingest.abort_bundle(bundle) {
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
        let now = self.clock.now();
        let answer = server_start(message, &probe, config, &mut self.rng, now);
        if probe.unknown.get() && self.may_probe() {
            self.reload();
            return server_start(message, self.ingest.registry(), &self.auth, &mut self.rng, now);
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
        match self.store.load_devices() {
            Ok(devices) => sync_registry(&mut self.ingest, devices),
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
/// epochs revoked, collectors changed. (A revocation is never undone here: re-provision under a
/// new epoch.)
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
        let moved = (record.collector != current.collector).then_some(record.collector);
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
        if let Some(collector) = moved {
            results.push(ingest.set_collector(sender, collector));
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects)]
    use printfleet_agent::{DeviceAgent, Schedule};
    use printfleet_auth::one_shot;
    use printfleet_diff::sync::Instance;
    use printfleet_ingest::{Credential, CustomerId, Owner, ResellerId};
    use printfleet_meter::{Closing, ContractId, DeviceId, Meter, Terms};
    use printfleet_schema::{Redaction, Timestamp, samples};
    use printfleet_store::{Loaded, StoreError};

    use super::*;
    use crate::portal::now;

    /// A store whose transactions fail.
    struct Broken;

    impl Store for Broken {
        fn write_batches(&mut self, _: &[&Batch]) -> Result<(), StoreError> {
            Err(StoreError::Encode { what: "test" })
        }
        fn put_device(&mut self, _: &DeviceRecord) -> Result<(), StoreError> {
            Err(StoreError::Encode { what: "test" })
        }
        fn put_sealed_secret(&mut self, _: SenderId, _: u32, _: &[u8]) -> Result<(), StoreError> {
            Err(StoreError::Encode { what: "test" })
        }
        fn sealed_secret(&mut self, _: SenderId, _: u32) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(None)
        }
        fn load(&mut self) -> Result<Loaded, StoreError> {
            Ok(Loaded::default())
        }
        fn put_contract(&mut self, _: ContractId, _: &Terms, _: Timestamp) -> Result<(), StoreError> {
            Ok(())
        }
        fn save_meter(&mut self, _: &Meter) -> Result<(), StoreError> {
            Ok(())
        }
        fn load_meter(&mut self) -> Result<Option<Meter>, StoreError> {
            Ok(None)
        }
        fn record_closing(&mut self, _: &Closing, _: &Meter) -> Result<(), StoreError> {
            Ok(())
        }
        fn device_state(&mut self, _: SenderId) -> Result<Option<printfleet_diff::DeviceState>, StoreError> {
            Ok(None)
        }
        fn job_sequences(&mut self, _: SenderId) -> Result<Vec<u64>, StoreError> {
            Ok(Vec::new())
        }
        fn meter_readings(
            &mut self,
            _: Timestamp,
            _: Timestamp,
        ) -> Result<Vec<printfleet_meter::Observation>, StoreError> {
            Ok(Vec::new())
        }
        fn job_records(&mut self, _: Timestamp, _: Timestamp) -> Result<Vec<printfleet_meter::JobRecord>, StoreError> {
            Ok(Vec::new())
        }
    }

    /// A reload applies a device's new collector (and its removal), never undoes a revocation.
    #[test]
    fn a_reload_moves_a_device_to_its_new_collector() {
        let mut ingest = Ingest::new(FleetMasterKey::from_bytes([9; 32]));
        let owner = Owner { reseller: ResellerId(1), customer: CustomerId(2), contract: ContractId(3) };
        let credentials = vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }];
        let record = |name: &str, collector| DeviceRecord {
            name: name.into(),
            owner,
            meter_device: DeviceId(1),
            revoked: false,
            credentials: credentials.clone(),
            collector,
        };
        let (a, b) = (printfleet_auth::sender_id_of("site-a"), printfleet_auth::sender_id_of("site-b"));
        let p = ingest.provision(record("p", Some(a))).unwrap();
        sync_registry(&mut ingest, vec![record("p", Some(b))]);
        assert_eq!(ingest.registry().get(p).unwrap().collector, Some(b));
        sync_registry(&mut ingest, vec![record("p", None)]);
        assert_eq!(ingest.registry().get(p).unwrap().collector, None);
        ingest.revoke(p).unwrap();
        sync_registry(&mut ingest, vec![record("p", Some(a))]);
        let r = ingest.registry().get(p).unwrap();
        assert_eq!((r.collector, r.revoked), (Some(a), true));
    }

    fn ask(queue: &mpsc::Sender<Request>, frame: &[u8]) -> Outcome {
        let (reply, answer) = oneshot::channel();
        queue.blocking_send(Request::Frame { frame: frame.to_vec(), reply }).unwrap();
        answer.blocking_recv().unwrap()
    }

    #[test]
    fn a_failed_transaction_answers_unavailable_and_the_retransmission_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::Sqlite(dir.path().join("p.db"));
        let master = [9u8; 32];
        let mut ingest = Ingest::new(FleetMasterKey::from_bytes(master));
        let owner = Owner { reseller: ResellerId(1), customer: CustomerId(2), contract: ContractId(3) };
        let credentials = vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }];
        let record = DeviceRecord {
            name: "p".into(),
            owner,
            meter_device: DeviceId(1),
            revoked: false,
            credentials,
            collector: None,
        };
        let sender = ingest.provision(record.clone()).unwrap();
        db.open().unwrap().put_device(&record).unwrap();
        let shared = Arc::new(Shared::default());
        let auth = ServerConfig::new(printfleet_auth::DecoyKey::from_bytes([1; 32]));
        // The actor starts on a broken store; after the failure it reopens the real database.
        let actor = Actor::new(
            ingest,
            Box::new(Broken),
            auth,
            db.clone(),
            shared.clone(),
            Duration::from_secs(60),
            Clock::system(),
        );
        let (queue, requests) = mpsc::channel(8);
        let thread = std::thread::spawn(move || actor.run(requests));

        let secret = FleetMasterKey::from_bytes(master).device_secret("p", KeyEpoch(1));
        let key = one_shot::frame_key(&secret, "p", KeyEpoch(1));
        let mut agent = DeviceAgent::new(sender, &key, Redaction::drop_all(), Schedule::direct(), Instance(1));
        let now = now();
        agent.handle_reading(now, samples::office_laser());
        let mut rng = OsRng::default();
        let frame = loop {
            if agent.needs_save() {
                let cp = agent.save();
                agent.saved(cp).unwrap();
            }
            if let Some(t) = agent.poll_transmit(now, &mut rng) {
                break t.frame;
            }
        };
        assert!(matches!(ask(&queue, &frame), Outcome::Unavailable));
        // The batch was aborted: the same frame is not a replay, and is stored this time.
        assert!(matches!(ask(&queue, &frame), Outcome::Reply(_)));
        assert!(matches!(ask(&queue, &frame), Outcome::Rejected));
        drop(queue);
        thread.join().unwrap();
        let counters = shared.snapshot();
        assert_eq!((counters.store_failures, counters.batches, counters.devices_active), (1, 1, 1));
        let store = printfleet_store::SqliteStore::open(dir.path().join("p.db")).unwrap();
        assert!(store.device_state(sender).unwrap().is_some());
    }

    fn provisioned(master: [u8; 32], names: &[&str], db: &Db) -> Ingest<FleetMasterKey> {
        let mut ingest = Ingest::new(FleetMasterKey::from_bytes(master));
        let mut store = db.open().unwrap();
        for (i, name) in names.iter().enumerate() {
            let owner = Owner { reseller: ResellerId(1), customer: CustomerId(2), contract: ContractId(3) };
            let credentials = vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }];
            let meter_device = DeviceId(u64::try_from(i).unwrap());
            let record = DeviceRecord {
                name: (*name).into(),
                owner,
                meter_device,
                revoked: false,
                credentials,
                collector: None,
            };
            ingest.provision(record.clone()).unwrap();
            store.put_device(&record).unwrap();
        }
        ingest
    }

    fn frames_of(master: [u8; 32], name: &str, count: usize) -> Vec<Vec<u8>> {
        let secret = FleetMasterKey::from_bytes(master).device_secret(name, KeyEpoch(1));
        let key = one_shot::frame_key(&secret, name, KeyEpoch(1));
        let sender = printfleet_auth::sender_id_of(name);
        let mut agent = DeviceAgent::new(sender, &key, Redaction::drop_all(), Schedule::direct(), Instance(1));
        let mut rng = OsRng::default();
        let start = now();
        agent.handle_reading(start, samples::office_laser());
        let mut frames = Vec::new();
        // No reply comes: after the reply timeout the agent sends the update again (a new frame).
        for minute in 0..600u64 {
            let t = start.checked_add(printfleet_schema::DurationMs(minute * 60_000)).unwrap();
            agent.handle_timeout(t);
            if agent.needs_save() {
                let cp = agent.save();
                agent.saved(cp).unwrap();
            }
            if let Some(tx) = agent.poll_transmit(t, &mut rng) {
                frames.push(tx.frame);
                if frames.len() == count {
                    break;
                }
            }
        }
        assert_eq!(frames.len(), count);
        frames
    }

    #[test]
    fn a_group_is_one_transaction_and_a_second_frame_of_a_device_waits_for_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::Sqlite(dir.path().join("p.db"));
        let master = [3u8; 32];
        let ingest = provisioned(master, &["a", "b", "c"], &db);
        let shared = Arc::new(Shared::default());
        let auth = ServerConfig::new(printfleet_auth::DecoyKey::from_bytes([1; 32]));
        let actor = Actor::new(
            ingest,
            db.open().unwrap(),
            auth,
            db.clone(),
            shared.clone(),
            Duration::from_secs(60),
            Clock::system(),
        );
        // Everything is queued before the actor runs: its first group takes it all.
        let (queue, requests) = mpsc::channel(16);
        let mut answers = Vec::new();
        let a = frames_of(master, "a", 2);
        for frame in [&a[0], &frames_of(master, "b", 1)[0], &frames_of(master, "c", 1)[0], &a[1]] {
            let (reply, answer) = oneshot::channel();
            queue.blocking_send(Request::Frame { frame: frame.clone(), reply }).unwrap();
            answers.push(answer);
        }
        let thread = std::thread::spawn(move || actor.run(requests));
        for answer in answers {
            assert!(matches!(answer.blocking_recv().unwrap(), Outcome::Reply(_)));
        }
        drop(queue);
        thread.join().unwrap();
        let c = shared.snapshot();
        // a, b, c in one transaction; a's second frame (Busy) in the next.
        assert_eq!((c.batches, c.batched_frames, c.largest_group), (2, 4, 3));
        assert_eq!((c.frames_accepted, c.devices_active), (4, 3));
    }

    /// One credential sending many frames at once takes one place in a group and carries at
    /// most `MAX_DEFERRED_PER_DEVICE` into the next; the rest are answered Unavailable (sent
    /// again later), so that the next group has room for everyone else.
    #[test]
    fn a_device_flooding_frames_carries_a_few_into_the_next_group() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::Sqlite(dir.path().join("p.db"));
        let master = [5u8; 32];
        let ingest = provisioned(master, &["flood"], &db);
        let auth = ServerConfig::new(printfleet_auth::DecoyKey::from_bytes([1; 32]));
        let shared = Arc::new(Shared::default());
        let mut actor =
            Actor::new(ingest, db.open().unwrap(), auth, db.clone(), shared, Duration::from_secs(60), Clock::system());
        let frames = frames_of(master, "flood", 8);
        let mut group = Vec::new();
        let mut answers = Vec::new();
        for frame in &frames {
            let (reply, answer) = oneshot::channel();
            group.push(Request::Frame { frame: frame.clone(), reply });
            answers.push(answer);
        }
        let mut deferred = VecDeque::new();
        actor.group(group, &mut deferred);
        assert_eq!(deferred.len(), MAX_DEFERRED_PER_DEVICE);
        let outcomes: Vec<Option<Outcome>> = answers.iter_mut().map(|a| a.try_recv().ok()).collect();
        assert!(matches!(outcomes[0], Some(Outcome::Reply(_))), "{:?}", outcomes[0]);
        let unavailable = outcomes.iter().filter(|o| matches!(o, Some(Outcome::Unavailable))).count();
        let waiting = outcomes.iter().filter(|o| o.is_none()).count();
        assert_eq!((unavailable, waiting), (8 - 1 - MAX_DEFERRED_PER_DEVICE, MAX_DEFERRED_PER_DEVICE));
    }
}
