//! The demo's [`Transport`]: frames over the portal's real endpoints on 127.0.0.1. Direct
//! devices (and collector devices without a session) POST one-shot frames over HTTPS from a few
//! client threads; each collector site keeps one `SessionLink` (SCRAM sessions, pipelined
//! frames). Before each call it sets the portal's injected clock to the simulated instant.
//! Frames go out from sender threads that live as long as the transport (one per client, one
//! per site), not threads spawned per step.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use printfleet_auth::{DeviceSecret, KeyEpoch, Session};
use printfleet_schema::Timestamp;
use printfleet_sim::{Delivery, Device, Outgoing, SessionRequest, Transport};
use printfleet_store::SqliteStore;
use printfleet_wire::frame::{OsRng, SenderId};

use super::DemoError;
use crate::client::{ClientError, LinkReply, OneShotClient, PortalTrust, SessionLink};
use crate::portal::{MAX_HANDSHAKES_PER_CONNECTION, RunningPortal, add_epoch};

/// What the network transport counted (besides what the driver counts).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetCounters {
    /// SCRAM handshakes that opened a session.
    pub handshakes: u64,
    /// Handshakes that failed (the device went one-shot until the next try).
    pub handshake_failures: u64,
    /// Link connections opened.
    pub links_opened: u64,
    /// Connection failures (a frame's answer unknown: the agent retries).
    pub connection_failures: u64,
    /// Frames answered 503 (the store could not take them then: the agent retries).
    pub unavailable: u64,
}

/// One collector site's link and its devices' channels.
struct Site {
    link: Option<Box<SessionLink>>,
    channels: HashMap<SenderId, u32>,
}

/// Frames over HTTPS and session links to a [`RunningPortal`].
pub(crate) struct Net<'p> {
    portal: &'p RunningPortal,
    clock: Arc<AtomicU64>,
    state_dir: PathBuf,
    store: SqliteStore,
    /// Epoch-1 secrets, from provisioning.
    secrets: HashMap<String, DeviceSecret>,
    /// Per site, its collector's name and secret (bundle mode).
    collectors: HashMap<u32, (String, DeviceSecret)>,
    trust: PortalTrust,
    clients: Vec<Arc<OneShotClient>>,
    sites: BTreeMap<u32, Site>,
    /// The sender threads: one per client, then one per site (in the order sites first send).
    senders: Vec<Sender>,
    site_sender: HashMap<u32, usize>,
    rng: OsRng,
    pub(crate) counters: NetCounters,
}

impl<'p> Net<'p> {
    pub(crate) fn new(
        portal: &'p RunningPortal,
        clock: Arc<AtomicU64>,
        state_dir: PathBuf,
        store: SqliteStore,
        secrets: HashMap<String, DeviceSecret>,
        collectors: HashMap<u32, (String, DeviceSecret)>,
        threads: usize,
    ) -> Result<Self, DemoError> {
        let trust = PortalTrust::from_ca_pem(portal.ca_pem())?;
        let url = format!("https://localhost:{}", portal.https_addr().port());
        let clients: Vec<Arc<OneShotClient>> = (0..threads.max(1))
            .map(|_| OneShotClient::new(&url, &trust, None).map(Arc::new))
            .collect::<Result<_, _>>()?;
        let senders = (0..clients.len()).map(|_| Sender::spawn()).collect::<Result<_, _>>()?;
        Ok(Self {
            portal,
            clock,
            state_dir,
            store,
            secrets,
            collectors,
            trust,
            clients,
            sites: BTreeMap::new(),
            senders,
            site_sender: HashMap::new(),
            rng: OsRng::default(),
            counters: NetCounters::default(),
        })
    }

    fn set_clock(&self, now: Timestamp) {
        self.clock.store(now.unix_millis(), Ordering::Relaxed);
    }
}

/// One frame posted: what came of it, and whether the connection failed.
fn post(client: &OneShotClient, frame: &[u8]) -> (Delivery, Option<bool>) {
    match client.post_frame(frame) {
        Ok(reply) => (Delivery::Reply(reply), None),
        Err(ClientError::Rejected | ClientError::TooLarge | ClientError::Status { .. }) => {
            (Delivery::Rejected { reason: None }, None)
        }
        Err(ClientError::Unavailable { .. }) => (Delivery::Lost, Some(false)),
        Err(_) => (Delivery::Lost, Some(true)),
    }
}

/// A unit of work of one step: a one-shot partition, or a site's exchange.
enum Work {
    OneShot { client: Arc<OneShotClient>, frames: Vec<(usize, Vec<u8>)> },
    Session { site: u32, link: Option<Box<SessionLink>>, frames: Vec<(usize, Option<u32>, Vec<u8>)> },
}

/// A sender thread, running the work it is given until the transport is dropped.
struct Sender {
    work: Option<mpsc::Sender<(Work, mpsc::Sender<Done>)>>,
    thread: Option<JoinHandle<()>>,
}

impl Sender {
    fn spawn() -> Result<Self, DemoError> {
        let (work, queue) = mpsc::channel::<(Work, mpsc::Sender<Done>)>();
        let thread = std::thread::Builder::new()
            .name("demo-sender".into())
            .spawn(move || {
                for (w, done) in queue {
                    let _ = done.send(run_work(w));
                }
            })
            .map_err(|e| DemoError::Io { path: PathBuf::from("sender thread"), source: e })?;
        Ok(Self { work: Some(work), thread: Some(thread) })
    }

    /// Hands `w` to the thread; its [`Done`] comes back on `done` (nothing does if the thread
    /// is gone: the frames count as lost).
    fn send(&self, w: Work, done: &mpsc::Sender<Done>) {
        if let Some(work) = &self.work {
            let _ = work.send((w, done.clone()));
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        drop(self.work.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a unit of work came to.
struct Done {
    results: Vec<(usize, Delivery)>,
    connection_failures: u64,
    unavailable: u64,
    /// A site's link, back (None if it was lost).
    site: Option<(u32, Option<Box<SessionLink>>)>,
}

fn run_work(work: Work) -> Done {
    match work {
        Work::OneShot { client, frames } => {
            let mut done =
                Done { results: Vec::with_capacity(frames.len()), connection_failures: 0, unavailable: 0, site: None };
            for (i, frame) in frames {
                let (delivery, failure) = post(&client, &frame);
                match failure {
                    Some(true) => done.connection_failures = done.connection_failures.saturating_add(1),
                    Some(false) => done.unavailable = done.unavailable.saturating_add(1),
                    None => {}
                }
                done.results.push((i, delivery));
            }
            done
        }
        Work::Session { site, mut link, frames } => {
            let mut done =
                Done { results: Vec::with_capacity(frames.len()), connection_failures: 0, unavailable: 0, site: None };
            let mut sent: Vec<(u32, Vec<u8>)> = Vec::new();
            let mut sent_of: Vec<usize> = Vec::new();
            for (i, channel, frame) in frames {
                match channel {
                    Some(c) if link.is_some() => {
                        sent.push((c, frame));
                        sent_of.push(i);
                    }
                    _ => done.results.push((i, Delivery::Closed)),
                }
            }
            if let Some(l) = link.as_mut()
                && !sent.is_empty()
            {
                match l.exchange(&sent) {
                    Ok(replies) => {
                        for (i, reply) in sent_of.into_iter().zip(replies) {
                            let d = match reply {
                                LinkReply::Reply(r) => Delivery::Reply(r),
                                LinkReply::Rejected => Delivery::Rejected { reason: None },
                                _ => Delivery::Closed,
                            };
                            done.results.push((i, d));
                        }
                    }
                    Err(_) => {
                        done.connection_failures = done.connection_failures.saturating_add(1);
                        link = None;
                        for i in sent_of {
                            done.results.push((i, Delivery::Lost));
                        }
                    }
                }
            }
            done.site = Some((site, link));
            done
        }
    }
}

impl Transport for Net<'_> {
    type Error = DemoError;

    fn provision(&mut self, device: &Device) -> Result<DeviceSecret, DemoError> {
        self.secrets.remove(device.name()).ok_or_else(|| DemoError::NotProvisioned { name: device.name().to_owned() })
    }

    fn new_epoch(&mut self, device: &Device, epoch: KeyEpoch) -> Result<DeviceSecret, DemoError> {
        let added = add_epoch(&self.state_dir, &mut self.store, device.name(), epoch)?;
        self.portal.reload_registry()?;
        Ok(added.secret)
    }

    fn wants_sessions(&self) -> bool {
        true
    }

    fn collector_identity(&mut self, site: u32) -> Result<Option<(String, DeviceSecret)>, DemoError> {
        Ok(self.collectors.get(&site).cloned())
    }

    fn open_sessions(
        &mut self,
        site: u32,
        devices: &[SessionRequest],
        now: Timestamp,
    ) -> Result<Vec<Option<Session>>, DemoError> {
        self.set_clock(now);
        let entry = self.sites.entry(site).or_insert_with(|| Site { link: None, channels: HashMap::new() });
        if entry.link.is_none() {
            match SessionLink::connect(self.portal.tcp_addr(), "localhost", &self.trust) {
                Ok(link) => {
                    self.counters.links_opened = self.counters.links_opened.saturating_add(1);
                    entry.link = Some(Box::new(link));
                    entry.channels.clear();
                }
                Err(_) => {
                    self.counters.connection_failures = self.counters.connection_failures.saturating_add(1);
                    return Ok(devices.iter().map(|_| None).collect());
                }
            }
        }
        let Some(link) = entry.link.as_mut() else { return Ok(devices.iter().map(|_| None).collect()) };
        // A renewed session replaces the device's old channel.
        for d in devices {
            let sender = printfleet_auth::sender_id_of(&d.name);
            if let Some(old) = entry.channels.remove(&sender)
                && link.close_channel(old).is_err()
            {
                entry.link = None;
                entry.channels.clear();
                self.counters.connection_failures = self.counters.connection_failures.saturating_add(1);
                return Ok(devices.iter().map(|_| None).collect());
            }
        }
        let mut out = Vec::with_capacity(devices.len());
        for chunk in devices.chunks(MAX_HANDSHAKES_PER_CONNECTION.max(1)) {
            let list: Vec<(String, DeviceSecret, KeyEpoch)> =
                chunk.iter().map(|d| (d.name.clone(), d.secret.clone(), d.epoch)).collect();
            match link.open_sessions(&list, now, &mut self.rng) {
                Ok(opened) => {
                    for (d, result) in chunk.iter().zip(opened) {
                        match result {
                            Ok(open) => {
                                self.counters.handshakes = self.counters.handshakes.saturating_add(1);
                                entry.channels.insert(printfleet_auth::sender_id_of(&d.name), open.channel);
                                out.push(Some(open.session));
                            }
                            Err(_) => {
                                self.counters.handshake_failures = self.counters.handshake_failures.saturating_add(1);
                                out.push(None);
                            }
                        }
                    }
                }
                Err(_) => {
                    self.counters.connection_failures = self.counters.connection_failures.saturating_add(1);
                    entry.link = None;
                    entry.channels.clear();
                    out.resize_with(devices.len(), || None);
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    fn deliver(
        &mut self,
        one_shot: &[Outgoing],
        sessions: &[(u32, Vec<Outgoing>)],
        now: Timestamp,
    ) -> Result<Vec<Delivery>, DemoError> {
        self.deliver_overlapped(one_shot, sessions, now, &mut || {})
    }

    /// The frames go out from their threads; `meanwhile` runs on the caller's thread until the
    /// replies are collected.
    fn deliver_overlapped(
        &mut self,
        one_shot: &[Outgoing],
        sessions: &[(u32, Vec<Outgoing>)],
        now: Timestamp,
        meanwhile: &mut dyn FnMut(),
    ) -> Result<Vec<Delivery>, DemoError> {
        self.set_clock(now);
        let total = one_shot.len().saturating_add(sessions.iter().map(|(_, f)| f.len()).sum::<usize>());
        let (done_tx, done_rx) = mpsc::channel();
        // One-shot frames: a device's frames stay on one client, in order.
        let threads = self.clients.len().max(1);
        let mut parts: Vec<Vec<(usize, Vec<u8>)>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, o) in one_shot.iter().enumerate() {
            let slot = o.device.checked_rem(threads).unwrap_or(0);
            if let Some(p) = parts.get_mut(slot) {
                p.push((i, o.frame.clone()));
            }
        }
        for ((client, frames), sender) in self.clients.iter().zip(parts).zip(&self.senders) {
            if !frames.is_empty() {
                sender.send(Work::OneShot { client: client.clone(), frames }, &done_tx);
            }
        }
        // Each site's frames on its link, from the site's own thread.
        let mut index = one_shot.len();
        for (site, frames) in sessions {
            let entry = self.sites.entry(*site).or_insert_with(|| Site { link: None, channels: HashMap::new() });
            let mut list = Vec::with_capacity(frames.len());
            for o in frames {
                list.push((index, entry.channels.get(&o.sender).copied(), o.frame.clone()));
                index = index.saturating_add(1);
            }
            let slot = match self.site_sender.get(site) {
                Some(slot) => *slot,
                None => {
                    self.senders.push(Sender::spawn()?);
                    let slot = self.senders.len().saturating_sub(1);
                    self.site_sender.insert(*site, slot);
                    slot
                }
            };
            if let Some(sender) = self.senders.get(slot) {
                sender.send(Work::Session { site: *site, link: entry.link.take(), frames: list }, &done_tx);
            }
        }
        drop(done_tx);
        meanwhile();
        // Every piece of work answers once (or its thread is gone and its frames stay lost).
        let done: Vec<Done> = done_rx.iter().collect();
        let mut results: Vec<Delivery> = (0..total).map(|_| Delivery::Lost).collect();
        for d in done {
            self.counters.connection_failures = self.counters.connection_failures.saturating_add(d.connection_failures);
            self.counters.unavailable = self.counters.unavailable.saturating_add(d.unavailable);
            if let Some((site, link)) = d.site
                && let Some(entry) = self.sites.get_mut(&site)
            {
                if link.is_none() {
                    entry.channels.clear();
                }
                entry.link = link;
            }
            for (i, delivery) in d.results {
                if let Some(slot) = results.get_mut(i) {
                    *slot = delivery;
                }
            }
        }
        Ok(results)
    }
}
