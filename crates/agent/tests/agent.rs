//! The agent against a real portal side (`Keyring` + `sync::Receiver`) on a fake clock: the
//! schedule's properties, a crash harness over a lossy link, a month-long outage, and misuse.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::collections::{BTreeSet, VecDeque};

use printfleet_agent::{AgentError, AgentState, Collector, DeviceAgent, Event, Reason, Schedule, Transmit};
use printfleet_diff::sync::{Instance, Receiver};
use printfleet_schema::codes::{AlertSeverity, TrainingLevel};
use printfleet_schema::{
    Alert, DeviceReport, DurationMs, Level, MeterKind, PageCount, PrintJob, RecordId, Redaction, Timestamp, samples,
};
use printfleet_wire::frame::{
    CipherSuite, DeviceChannel, FrameKey, KeyId, Keyring, MessageKind, PortalChannel, RejectReason, SenderId,
    SessionKey,
};
use printfleet_wire::{Codec, protobuf};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const DEVICE: SenderId = SenderId(0x17);
const HOUR: u64 = 3_600_000;

fn key() -> FrameKey {
    FrameKey::new(&[0x42; 32], KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap()
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn at(ms: u64) -> Timestamp {
    samples::SAMPLE_TIME.checked_add(DurationMs(ms)).unwrap()
}

fn reading() -> DeviceReport {
    let mut r = samples::office_laser();
    r.events.print_jobs.clear();
    r
}

fn job(n: u64, pages: u64) -> PrintJob {
    let mut j = samples::large_format(1).events.print_jobs.remove(0);
    j.job.uuid = uuid_of(n);
    j.job.sequence = n;
    j.print.pages = PageCount(pages);
    j
}

fn uuid_of(n: u64) -> uuid::Uuid {
    uuid::Uuid::from_u64_pair(0x5eed, n + 1)
}

fn critical(id: u64) -> Alert {
    Alert {
        record_id: RecordId(id),
        severity: AlertSeverity::CRITICAL,
        training_level: TrainingLevel::UNTRAINED,
        description: Some("Paper jam".into()),
        ..Alert::default()
    }
}

/// The portal side: opens frames, applies updates, answers.
struct Portal {
    keyring: Keyring,
    receiver: Receiver,
    jobs: Vec<PrintJob>,
    rng: ChaCha20Rng,
}

impl Portal {
    fn new() -> Self {
        let mut keyring = Keyring::new();
        keyring.insert(DEVICE, &key()).unwrap();
        Self { keyring, receiver: Receiver::new(), jobs: Vec::new(), rng: rng(99) }
    }

    /// Opens a frame: the reply frame, or why not.
    fn handle(&mut self, frame: &[u8], now: Timestamp) -> Result<Vec<u8>, RejectReason> {
        let mut payload = Vec::new();
        let request = self.keyring.open(frame, &[MessageKind::Update], now, &mut payload).map_err(|e| e.reason())?;
        let reply = self.receiver.receive(&protobuf::decode_update(&payload).unwrap());
        self.jobs.extend(self.receiver.take_jobs());
        let mut bytes = Vec::new();
        protobuf::encode_reply(&reply, &mut bytes).unwrap();
        let mut out = Vec::new();
        self.keyring.seal_reply(&request, Codec::Protobuf, &bytes, now, &mut self.rng, &mut out).unwrap();
        Ok(out)
    }
}

/// A store that always succeeds (and keeps nothing).
fn store_nothing(_: &AgentState) -> Result<(), AgentError> {
    Ok(())
}

/// Saves whenever the agent asks (as a caller that follows the docs), then sends what is due.
fn pump(agent: &mut DeviceAgent, now: Timestamp, rng: &mut ChaCha20Rng) -> Vec<Transmit> {
    let mut out = Vec::new();
    for _ in 0..8 {
        match agent.poll_transmit_saving(now, rng, store_nothing).unwrap() {
            Some(t) => out.push(t),
            None => break,
        }
    }
    out
}

/// Why the crash harness's store stopped: a simulated crash, or the agent refused the save.
#[derive(Debug)]
enum Stop {
    Crash,
    Agent(AgentError),
}

impl From<AgentError> for Stop {
    fn from(e: AgentError) -> Self {
        Self::Agent(e)
    }
}

/// Over a perfect link, reports come at least every 3 hours of fed time, 19 jobs or 100 pages;
/// an urgent alert is in a frame at the next poll; exactly one boot report.
fn check_schedule(steps: &[(u64, u8, u64)]) {
    let mut rng = rng(7);
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(1));
    let mut portal = Portal::new();
    let mut now = 0u64;
    agent.handle_reading(at(now), reading());
    let (mut last, mut jobs, mut pages, mut boots, mut n) = (None::<u64>, 0u32, 0u64, 0, 0u64);
    for &(advance, kind, amount) in steps {
        now += advance;
        let mut urgent = false;
        match kind % 4 {
            0 => {
                agent.handle_job(at(now), job(n, amount % 60));
                n += 1;
                jobs += 1;
                pages += amount % 60;
            }
            1 => {
                agent.handle_alert(at(now), critical(1000 + amount % 5));
                urgent = true;
            }
            2 => agent.handle_reading(at(now), reading()),
            _ => agent.handle_timeout(at(now)),
        }
        let sent = pump(&mut agent, at(now), &mut rng);
        for t in &sent {
            boots += usize::from(t.reason == Reason::Boot);
            let reply = portal.handle(&t.frame, at(now)).unwrap();
            agent.handle_frame(at(now), &reply);
            last = Some(now);
            jobs = 0;
            pages = 0;
        }
        if urgent {
            assert!(sent.iter().any(|t| t.urgent), "an urgent alert must go out at once");
        }
        assert!(jobs < 19, "{jobs} jobs without a report");
        assert!(pages < 100, "{pages} pages without a report");
        assert!(last.is_some_and(|l| now - l < 3 * HOUR), "3 hours without a report at {now}");
    }
    assert_eq!(boots, 1, "exactly one boot report");
    // Three hours later everything recorded has been reported.
    now += 3 * HOUR;
    agent.handle_timeout(at(now));
    for t in pump(&mut agent, at(now), &mut rng) {
        let reply = portal.handle(&t.frame, at(now)).unwrap();
        agent.handle_frame(at(now), &reply);
    }
    assert_eq!(portal.jobs.len() as u64, n, "every job arrived once");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn reports_follow_the_seeds_schedule(steps in prop::collection::vec((0u64..4 * HOUR, any::<u8>(), 0u64..200), 1..80)) {
        check_schedule(&steps);
    }
}

#[test]
fn a_restored_agent_sends_nothing_before_it_has_saved() {
    let mut rng = rng(1);
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(1));
    agent.handle_reading(at(0), reading());
    assert!(agent.poll_transmit(at(0), &mut rng).is_none(), "a new agent saves first");
    let sent = pump(&mut agent, at(0), &mut rng);
    assert_eq!(sent.len(), 1);
    let cp = agent.save();
    let stored: AgentState = serde_json::from_str(&serde_json::to_string(cp.state()).unwrap()).unwrap();
    agent.saved(cp).unwrap();

    let mut back = DeviceAgent::restore(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), stored).unwrap();
    back.handle_reading(at(HOUR), reading());
    assert!(back.poll_transmit(at(HOUR), &mut rng).is_none(), "nothing before the save");
    assert!(std::iter::from_fn(|| back.poll_event()).any(|e| e == Event::SaveRequired));
    let again = pump(&mut back, at(HOUR), &mut rng);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].reason, Reason::Boot);
    assert!(again[0].sequence > sent[0].sequence, "never a sequence number twice");
}

/// A store writing in the background may land an older save after a newer one. An older
/// checkpoint handed back after a newer one asks for a save again, so that a restart does not
/// come back to the older state (the job recorded between the two lost). Before, the agent took
/// the newer one for saved and never wrote its state again until the next change.
#[test]
fn an_older_checkpoint_handed_back_last_asks_for_a_save_again() {
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(1));
    agent.handle_reading(at(0), reading());
    let older = agent.save();
    let older_state = serde_json::to_string(older.state()).unwrap();
    agent.handle_job(at(1), job(1, 2));
    let newer = agent.save();
    agent.saved(newer).unwrap();
    assert!(!agent.needs_save());
    while agent.poll_event().is_some() {}
    // The older write lands last: its state is the one in store.
    agent.saved(older).unwrap();
    assert!(agent.needs_save(), "the job recorded after the older save is in no stored state");
    assert_eq!(agent.poll_event(), Some(Event::SaveRequired), "and the store that waits for the event is told");
    let again = agent.save();
    assert_ne!(serde_json::to_string(again.state()).unwrap(), older_state, "the job is in the new save");
    agent.saved(again).unwrap();
    assert!(!agent.needs_save());
}

/// A restored agent has nothing to report from until its printer is read again: it asks not to
/// be woken (an old deadline, long past, would wake it at once, for ever: a busy loop in a
/// daemon whose printer is off), and its first reading re-arms it.
#[test]
fn a_restored_agent_without_a_reading_asks_not_to_be_woken() {
    let mut rng = rng(3);
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(1));
    agent.handle_reading(at(0), reading());
    let sent = pump(&mut agent, at(0), &mut rng);
    assert_eq!(sent.len(), 1);
    let cp = agent.save();
    let stored = cp.state().clone();
    agent.saved(cp).unwrap();

    // Restarted ten hours later: the interval's deadline is long past, but there is no reading.
    let mut back = DeviceAgent::restore(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), stored).unwrap();
    back.handle_timeout(at(10 * HOUR));
    assert_eq!(back.poll_timeout(), None);
    assert!(back.poll_transmit(at(10 * HOUR), &mut rng).is_none());
    back.handle_reading(at(10 * HOUR), reading());
    assert!(back.poll_timeout().is_some_and(|t| t <= at(10 * HOUR)), "{:?}", back.poll_timeout());
    assert_eq!(pump(&mut back, at(10 * HOUR), &mut rng).len(), 1);
}

/// `poll_transmit_saving` is the documented loop: nothing leaves before `persist` has stored what
/// it depends on (the reading, then the report built from it), a failed store is returned and
/// sends nothing, and the next call goes on from there.
#[test]
fn poll_transmit_saving_stores_before_anything_leaves() {
    let mut rng = rng(4);
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(1));
    agent.handle_reading(at(0), reading());
    agent.handle_job(at(0), job(1, 2));

    // The store fails: the error comes back and nothing is sent.
    let mut calls = 0;
    let failed = agent.poll_transmit_saving(at(0), &mut rng, |_| {
        calls += 1;
        Err(Stop::Crash)
    });
    assert!(matches!(failed, Err(Stop::Crash)));
    assert_eq!(calls, 1);
    assert!(agent.needs_save());

    // The store works: two saves (what was fed, then the report built from it), then the frame.
    let mut states = Vec::new();
    let t = agent
        .poll_transmit_saving(at(0), &mut rng, |state: &AgentState| {
            states.push(serde_json::to_string(state).unwrap());
            Ok::<(), AgentError>(())
        })
        .unwrap()
        .expect("the boot report");
    assert_eq!(states.len(), 2, "one save for the reading and the job, one for the report");
    assert!(!agent.needs_save());
    let mut portal = Portal::new();
    portal.handle(&t.frame, at(0)).unwrap();
    assert_eq!(portal.jobs.len(), 1);

    // The last state stored restores to an agent whose frames never reuse that sequence number.
    let last: AgentState = serde_json::from_str(states.last().unwrap()).unwrap();
    let mut back = DeviceAgent::restore(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), last).unwrap();
    back.handle_reading(at(HOUR), reading());
    let again = back.poll_transmit_saving(at(HOUR), &mut rng, store_nothing).unwrap().expect("a boot report");
    assert!(again.sequence > t.sequence);
    // Nothing more is due.
    assert!(agent.poll_transmit_saving(at(0), &mut rng, store_nothing).unwrap().is_none());
}

#[test]
fn a_restored_state_of_another_key_is_refused() {
    let mut rng = rng(2);
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(1));
    agent.handle_reading(at(0), reading());
    pump(&mut agent, at(0), &mut rng);
    let cp = agent.save();
    let state = cp.state().clone();
    let other = FrameKey::new(&[0x43; 32], KeyId(2), CipherSuite::Aes128CbcHmacSha256).unwrap();
    assert!(DeviceAgent::restore(DEVICE, &other, Redaction::drop_all(), Schedule::direct(), state).is_err());
}

#[test]
fn personal_data_never_leaves_unredacted() {
    let mut rng = rng(3);
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(1));
    let mut r = reading();
    r.identity.contact = Some("alice@example.com".into());
    agent.handle_reading(at(0), r);
    let mut j = job(0, 3);
    j.job.submitter.user_name = Some("alice".into());
    j.job.name = Some("salaries.xlsx".into());
    agent.handle_job(at(0), j);
    let mut portal = Portal::new();
    for t in pump(&mut agent, at(0), &mut rng) {
        portal.handle(&t.frame, at(0)).unwrap();
    }
    assert_eq!(portal.jobs.len(), 1);
    assert_eq!(portal.jobs[0].job.submitter.user_name, None);
    assert_eq!(portal.jobs[0].job.name, None);
    assert_eq!(portal.receiver.state().unwrap().identity.contact, None);
}

/// The crash harness: a device (its agent killed at random points and restored from what it had
/// stored), a portal, and a link that drops, duplicates, reorders and delays. Every job reaches
/// the portal exactly once, the portal's state converges to the device's, and no frame is ever
/// refused as a replay on its first arrival.
fn crash_run(seed: u64) {
    let mut rng = rng(seed);
    let mut portal = Portal::new();
    // The device: its readings and its job log (what it would re-read after a restart).
    let mut device = reading();
    let mut job_log: Vec<PrintJob> = Vec::new();
    // What the device stored: the agent's state and how much of the job log it covered.
    let mut stored: Option<(String, usize)> = None;
    let mut fed = 0usize;
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(1));
    agent.handle_reading(at(0), device.clone());
    let mut instances = 1u32;
    let (mut to_portal, mut to_device): (VecDeque<Vec<u8>>, VecDeque<Vec<u8>>) = Default::default();
    let mut seen_frames = BTreeSet::new();
    // Every number the device ever sealed (a restarted device must never go back), and the highest
    // the portal accepted (a frame above it must never be refused).
    let mut highest_sealed = 0u64;
    let mut highest_accepted = 0u64;
    let mut now = 0u64;
    let steps = 300;
    for step in 0..steps {
        let healing = step >= steps - 40;
        // The healed link's last steps are 3 hours apart, so that everything recorded goes out.
        now += if step >= steps - 3 { 3 * HOUR } else { 1 + rng.next_u64() % (2 * HOUR) };
        // The printer's life (quiet for the last steps).
        match if step >= steps - 3 { 5 } else { rng.next_u32() % 6 } {
            0 | 1 => {
                let n = job_log.len() as u64;
                job_log.push(job(n, 1 + rng.next_u64() % 30));
            }
            2 => {
                let total = device.snapshot.meters.get(&MeterKind::TOTAL).unwrap_or(0);
                device.snapshot.meters.set(MeterKind::TOTAL, total + rng.next_u64() % 50);
                if let Level::Amount(l) = device.snapshot.consumables[0].level {
                    device.snapshot.consumables[0].level = Level::Amount(l.saturating_sub(1).max(1));
                }
            }
            _ => {}
        }
        // The agent reads the printer and its job log.
        agent.handle_reading(at(now), device.clone());
        while fed < job_log.len() {
            agent.handle_job(at(now), job_log[fed].clone());
            fed += 1;
        }
        // A crash may strike between any two of the steps below.
        let crash = !healing && rng.next_u32().is_multiple_of(10);
        let crash_point = rng.next_u32() % 4;
        let mut crashed = false;
        for _ in 0..4 {
            let polled = agent.poll_transmit_saving(at(now), &mut rng, |state| {
                if crash && crash_point == 0 {
                    return Err(Stop::Crash);
                }
                stored = Some((serde_json::to_string(state).unwrap(), fed));
                if crash && crash_point == 1 {
                    return Err(Stop::Crash);
                }
                Ok(())
            });
            let t = match polled {
                Ok(Some(t)) => t,
                Ok(None) => break,
                Err(Stop::Crash) => {
                    crashed = true;
                    break;
                }
                Err(Stop::Agent(e)) => panic!("seed {seed}: save refused: {e}"),
            };
            assert!(t.sequence > highest_sealed, "seed {seed}: sequence {} sealed again or going back", t.sequence);
            highest_sealed = t.sequence;
            if crash && crash_point == 2 {
                crashed = true;
                break;
            }
            let roll = rng.next_u32() % 10;
            if healing || roll >= 2 {
                to_portal.push_back(t.frame.clone());
                if !healing && roll == 9 {
                    to_portal.push_back(t.frame);
                }
            }
        }
        // The link delivers some of what is queued, maybe out of order.
        if !healing && to_portal.len() > 1 && rng.next_u32().is_multiple_of(3) {
            to_portal.swap(0, 1);
        }
        let deliver = if healing { to_portal.len() } else { (rng.next_u32() % 3) as usize };
        for _ in 0..deliver.min(to_portal.len()) {
            let frame = to_portal.pop_front().unwrap();
            let first = seen_frames.insert(frame.clone());
            let sequence = printfleet_wire::frame::FrameHeader::peek(&frame).unwrap().sequence;
            match portal.handle(&frame, at(now)) {
                Ok(reply) => {
                    highest_accepted = highest_accepted.max(sequence);
                    if healing || rng.next_u32() % 10 >= 2 {
                        to_device.push_back(reply);
                    }
                }
                // A duplicate, or a frame so late that the window has moved past it, is refused;
                // a new frame above everything accepted never is.
                Err(reason) => assert!(
                    !(first && sequence > highest_accepted),
                    "seed {seed}: a new frame was refused ({reason:?}) at step {step}"
                ),
            }
        }
        while let Some(reply) = to_device.pop_front() {
            agent.handle_frame(at(now), &reply);
        }
        if crashed || (crash && crash_point == 3) {
            // Restart from what was stored; re-read the job log from where it stood.
            agent = match &stored {
                Some((json, covered)) => {
                    fed = *covered;
                    let state = serde_json::from_str(json).unwrap();
                    DeviceAgent::restore(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), state).unwrap()
                }
                None => {
                    fed = 0;
                    instances += 1;
                    DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(instances))
                }
            };
            agent.handle_boot(at(now));
        }
    }
    assert_eq!(portal.receiver.state(), agent.current(), "seed {seed}: the portal's state converges");
    let uuids: BTreeSet<_> = portal.jobs.iter().map(|j| j.job.uuid).collect();
    assert_eq!(uuids.len(), portal.jobs.len(), "seed {seed}: a job arrived twice");
    assert_eq!(portal.jobs.len(), job_log.len(), "seed {seed}: jobs lost");
}

/// Seeds 0..`PRINTFLEET_CRASH_RUNS` (default 50: about 10 s in a debug build; `.ci/run` runs
/// 1,000 in a release build).
#[test]
fn crash_harness_over_a_lossy_link() {
    let runs: u64 = std::env::var("PRINTFLEET_CRASH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    for seed in 0..runs {
        crash_run(seed);
    }
}

/// A month without the portal: the agent keeps its state and every job, sends one report per
/// back-off period (capped at an hour plus jitter), and delivers everything once the link is back.
#[test]
fn a_month_long_outage_is_bounded_and_loses_nothing() {
    let mut rng = rng(4);
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(1));
    agent.handle_reading(at(0), reading());
    let mut sent = 0usize;
    let mut n = 0u64;
    let month = 30 * 24;
    for hour in 0..month {
        for _ in 0..2 {
            agent.handle_job(at(hour * HOUR), job(n, 5));
            n += 1;
        }
        for minute in [0, 20, 40] {
            let now = at(hour * HOUR + minute * 60_000);
            agent.handle_timeout(now);
            sent += pump(&mut agent, now, &mut rng).len();
        }
    }
    // Once the back-off reaches its cap (an hour), an attempt comes after the reply timeout plus a
    // wait uniform in [0, 1 h): on average two an hour here, never one per poll (three an hour),
    // and jobs and pages do not add frames while the portal is unreachable.
    assert!(sent <= 2 * month as usize, "{sent} frames in a month");
    assert!(sent >= month as usize / 2, "{sent} frames in a month: the agent stopped trying");
    let cp = agent.save();
    let size = serde_json::to_vec(cp.state()).unwrap().len();
    agent.saved(cp).unwrap();
    // The bound: the state plus the month's jobs, nothing per report.
    let one_job = serde_json::to_vec(&job(0, 5)).unwrap().len();
    assert!(size < 64 * 1024 + (n as usize) * (one_job + 64), "{size} bytes saved for {n} jobs");
    // The link comes back: every job arrives once.
    let mut portal = Portal::new();
    let mut now = month * HOUR;
    for _ in 0..20 {
        now += HOUR;
        agent.handle_timeout(at(now));
        for t in pump(&mut agent, at(now), &mut rng) {
            let reply = portal.handle(&t.frame, at(now)).unwrap();
            agent.handle_frame(at(now), &reply);
        }
    }
    assert_eq!(portal.jobs.len() as u64, n);
}

#[test]
fn a_collector_reads_each_printer_at_most_once_per_interval() {
    let schedule = Schedule::collector(printfleet_agent::COLLECTOR_MIN_INTERVAL).unwrap();
    let mut c = Collector::new();
    for d in 0..50u64 {
        let key = FrameKey::new(&[d as u8 + 1; 32], KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap();
        let agent = DeviceAgent::new(SenderId(d), &key, Redaction::drop_all(), schedule, Instance(1));
        c.insert(at(0), agent);
    }
    let mut last = std::collections::BTreeMap::new();
    let mut r = rng(5);
    let mut now = 0;
    for _ in 0..2000 {
        now += r.next_u64() % (5 * 60_000);
        while let Some(d) = c.poll_read(at(now)) {
            if let Some(prev) = last.insert(d, now) {
                assert!(now - prev >= schedule.interval().0, "{d} read twice within the interval");
            }
        }
    }
    assert_eq!(last.len(), 50);
}

/// The clock steps back a day (an RTC wrong at boot, then NTP): reads and reports go on from
/// the new time, within an interval, not a day later.
#[test]
fn a_collector_goes_on_after_the_clock_steps_back() {
    let schedule = Schedule::collector(printfleet_agent::COLLECTOR_MIN_INTERVAL).unwrap();
    let interval = schedule.interval().0;
    let mut c = Collector::new();
    let key = FrameKey::new(&[9; 32], KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap();
    c.insert(at(30 * HOUR), DeviceAgent::new(SenderId(9), &key, Redaction::drop_all(), schedule, Instance(1)));
    assert_eq!(c.poll_read(at(30 * HOUR)), Some(SenderId(9)));
    c.handle_reading(SenderId(9), at(30 * HOUR), reading()).unwrap();
    // A day back.
    let back = 6 * HOUR;
    assert_eq!(c.poll_read(at(back)), None);
    assert!(c.poll_timeout().is_some_and(|t| t <= at(back + interval)), "{:?}", c.poll_timeout());
    assert_eq!(c.poll_read(at(back + interval)), Some(SenderId(9)), "read within an interval of the new time");
}

#[test]
fn a_collector_reports_its_devices_through_one_shared_buffer() {
    let mut rng = rng(6);
    let schedule = Schedule::collector(printfleet_agent::COLLECTOR_INTERVAL).unwrap();
    let mut c = Collector::new();
    let mut portal = Keyring::new();
    let mut receivers = std::collections::BTreeMap::new();
    for d in 0..20u64 {
        let key = FrameKey::new(&[d as u8 + 1; 32], KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap();
        portal.insert(SenderId(d), &key).unwrap();
        receivers.insert(SenderId(d), Receiver::new());
        c.insert(at(0), DeviceAgent::new(SenderId(d), &key, Redaction::drop_all(), schedule, Instance(1)));
    }
    let mut now = 0;
    let mut reports = 0;
    for _ in 0..12 {
        while let Some(d) = c.poll_read(at(now)) {
            c.handle_reading(d, at(now), reading()).unwrap();
        }
        loop {
            if c.needs_save() {
                let cp = c.save();
                assert!(!cp.is_empty());
                c.saved(cp).unwrap();
            }
            let Some(t) = c.poll_transmit(at(now), &mut rng) else {
                // Frames waiting on a save go out after it.
                if c.needs_save() {
                    continue;
                }
                break;
            };
            let mut payload = Vec::new();
            let h = portal.open(&t.frame, &[MessageKind::Update], at(now), &mut payload).unwrap();
            let reply = receivers.get_mut(&t.device).unwrap().receive(&protobuf::decode_update(&payload).unwrap());
            let mut bytes = Vec::new();
            protobuf::encode_reply(&reply, &mut bytes).unwrap();
            let mut frame = Vec::new();
            portal.seal_reply(&h, Codec::Protobuf, &bytes, at(now), &mut rng, &mut frame).unwrap();
            c.handle_frame(at(now), &frame).unwrap();
            reports += 1;
        }
        now += HOUR;
    }
    // 12 hours at a 3-hour interval: the boot report and 3 more per device (4 readings).
    assert_eq!(reports, 20 * 4, "{reports} reports");
    for (d, r) in &receivers {
        assert_eq!(r.state(), c.agent(*d).unwrap().current());
    }
}

/// Session mode: with a session's channel attached, frames are sealed under the session's key
/// (the portal's end of the session opens them, the one-shot keyring does not) and its replies
/// are acknowledged; detached, the agent seals with its one-shot key again; a session of another
/// device is refused.
#[test]
fn an_attached_session_seals_the_frames_until_it_is_detached() {
    let session_key = || SessionKey::derive(&[7; 32], b"transcript", DEVICE);
    let mut rng = rng(5);
    let now = at(0);
    let mut agent =
        DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::collector(HOUR_MS).unwrap(), Instance(3));
    let other = SessionKey::derive(&[7; 32], b"transcript", SenderId(0x99));
    assert!(matches!(agent.attach_session(DeviceChannel::session(other)), Err(AgentError::SessionSender { .. })));
    // A one-shot channel is no session: its numbers would be used unsaved (reused after a
    // restart), or, unreserved, nothing would ever be sealed.
    assert!(matches!(agent.attach_session(DeviceChannel::new(DEVICE, &key())), Err(AgentError::NotASession)));
    let mut collector = Collector::new();
    assert!(matches!(collector.attach_link(DeviceChannel::new(DEVICE, &key())), Err(AgentError::NotASession)));
    assert!(!agent.has_session());
    agent.attach_session(DeviceChannel::session(session_key())).unwrap();
    assert!(agent.has_session());
    let mut portal = PortalChannel::session(session_key());
    let mut one_shot = Portal::new();
    agent.handle_reading(now, reading());
    let sent = pump(&mut agent, now, &mut rng);
    assert_eq!(sent.len(), 1);
    assert_eq!(one_shot.handle(&sent[0].frame, now), Err(RejectReason::UnknownKey), "not under the one-shot key");
    let mut payload = Vec::new();
    let request = portal.open(&sent[0].frame, &[MessageKind::Update], now, &mut payload).unwrap();
    let mut receiver = Receiver::new();
    let reply = receiver.receive(&protobuf::decode_update(&payload).unwrap());
    let mut bytes = Vec::new();
    protobuf::encode_reply(&reply, &mut bytes).unwrap();
    let mut frame = Vec::new();
    portal.seal_reply(&request, Codec::Protobuf, &bytes, now, &mut rng, &mut frame).unwrap();
    agent.handle_frame(now, &frame);
    assert!(std::iter::from_fn(|| agent.poll_event()).any(|e| matches!(e, Event::Acknowledged { .. })));

    // Detached: the next report (a resync asked by a new receiver) goes under the one-shot key.
    assert!(agent.detach_session().is_some());
    assert!(!agent.has_session());
    let later = at(2 * HOUR);
    agent.handle_reading(later, reading());
    let sent = pump(&mut agent, later, &mut rng);
    assert_eq!(sent.len(), 1);
    assert!(one_shot.handle(&sent[0].frame, later).is_ok(), "sealed with the one-shot key again");
}

/// A session's channel refuses to seal once the session expired: the agent detaches it, says
/// so (`Event::SessionExpired`), and seals with its one-shot key again. Before, the refusal was
/// taken for a missing reservation: a save asked for on every poll, and nothing sent, for ever.
#[test]
fn an_expired_session_is_detached_and_the_one_shot_key_takes_over() {
    let mut rng = rng(12);
    let mut agent = DeviceAgent::new(DEVICE, &key(), Redaction::drop_all(), Schedule::direct(), Instance(4));
    let session = SessionKey::derive(&[7; 32], b"transcript", DEVICE);
    agent.attach_session(DeviceChannel::session_until(session, at(HOUR))).unwrap();
    let later = at(2 * HOUR);
    agent.handle_reading(later, reading());
    assert!(pump(&mut agent, later, &mut rng).is_empty(), "nothing sealed under the expired session");
    assert!(!agent.has_session());
    let events: Vec<Event> = std::iter::from_fn(|| agent.poll_event()).collect();
    assert!(events.contains(&Event::SessionExpired), "{events:?}");
    let sent = pump(&mut agent, later, &mut rng);
    assert_eq!(sent.len(), 1);
    assert!(Portal::new().handle(&sent[0].frame, later).is_ok(), "sealed with the one-shot key");
}

const HOUR_MS: DurationMs = DurationMs(HOUR);

/// Sends everything `c` has due at `now`, saving whenever it asks; `answer` handles each frame
/// (and feeds the reply back) before the next is polled. Returns how many frames left.
fn pump_collector(
    c: &mut Collector,
    now: Timestamp,
    rng: &mut ChaCha20Rng,
    mut answer: impl FnMut(&mut Collector, &mut ChaCha20Rng, Transmit),
) -> usize {
    let mut sent = 0;
    loop {
        if c.needs_save() {
            let cp = c.save();
            c.saved(cp).unwrap();
        }
        match c.poll_transmit(now, rng) {
            Some(t) => {
                sent += 1;
                answer(c, rng, t);
            }
            None if c.needs_save() => {}
            None => return sent,
        }
    }
}

/// The portal's side of a bundle on `portal`: each entry applied by its device's receiver and
/// answered, or refused (answered with nothing) if `refuse` says so; the sealed bundle reply and
/// the bundle's devices, in order.
fn answer_bundle(
    portal: &mut PortalChannel,
    receivers: &mut std::collections::BTreeMap<SenderId, Receiver>,
    t: &Transmit,
    now: Timestamp,
    rng: &mut ChaCha20Rng,
    refuse: impl Fn(SenderId) -> bool,
) -> (Vec<u8>, Vec<SenderId>) {
    let mut payload = Vec::new();
    let h = portal.open(&t.frame, &[MessageKind::Bundle], now, &mut payload).unwrap();
    let entries = protobuf::decode_bundle(&payload).unwrap();
    assert!(entries.len() == 1 || payload.len() <= printfleet_agent::MAX_BUNDLE_BYTES, "{} bytes", payload.len());
    let mut answers = Vec::new();
    for e in &entries {
        if refuse(e.device) {
            protobuf::encode_bundle_answer(None, &mut answers);
            continue;
        }
        let reply = receivers.get_mut(&e.device).unwrap().receive(&protobuf::decode_update(e.update).unwrap());
        let mut bytes = Vec::new();
        protobuf::encode_reply(&reply, &mut bytes).unwrap();
        protobuf::encode_bundle_answer(Some(&bytes), &mut answers);
    }
    let mut frame = Vec::new();
    let rh = portal.seal_reply(&h, Codec::Protobuf, &answers, now, rng, &mut frame).unwrap();
    assert_eq!(rh.kind, MessageKind::BundleReply);
    (frame, entries.iter().map(|e| e.device).collect())
}

/// The two ends of a collector's session link, from one session key (`secret`, `transcript`):
/// the collector's channel and the portal's.
fn link(secret: u8, transcript: &[u8], collector: SenderId) -> (DeviceChannel, PortalChannel) {
    let key = || SessionKey::derive(&[secret; 32], transcript, collector);
    (DeviceChannel::session(key()), PortalChannel::session(key()))
}

/// Devices 0..`n`, each with a key of its own, in `c`; the portal's receiver of each.
fn keyed_devices(c: &mut Collector, n: u64, schedule: Schedule) -> std::collections::BTreeMap<SenderId, Receiver> {
    let mut receivers = std::collections::BTreeMap::new();
    for d in 0..n {
        let key = FrameKey::new(&[d as u8 + 1; 32], KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap();
        receivers.insert(SenderId(d), Receiver::new());
        c.insert(at(0), DeviceAgent::new(SenderId(d), &key, Redaction::drop_all(), schedule, Instance(1)));
    }
    receivers
}

/// Bundle mode (§5.9): with the collector's own session attached as its link, each round's
/// updates leave in bundles sealed under that session (split at `MAX_BUNDLE_BYTES`), the
/// answers are routed to each device in the bundle's order, and a refused entry's device sends
/// again after its reply timeout. Detached, devices send their own frames again.
#[test]
fn a_linked_collector_bundles_its_devices_and_routes_the_answers() {
    const DEVICES: u64 = 120;
    const REFUSED: SenderId = SenderId(7);
    let collector = SenderId(0xc011_ec70);
    let mut rng = rng(11);
    let schedule = Schedule::collector(printfleet_agent::COLLECTOR_INTERVAL).unwrap();
    let mut c = Collector::new();
    let mut receivers = keyed_devices(&mut c, DEVICES, schedule);
    let (channel, mut portal) = link(9, b"collector transcript", collector);
    c.attach_link(channel).unwrap();
    assert!(c.has_link());
    let mut now = 0;
    let mut bundles_per_round = Vec::new();
    let mut entries_of = std::collections::BTreeMap::<SenderId, u32>::new();
    let mut last_reply = Vec::new();
    for round in 0..8 {
        while let Some(d) = c.poll_read(at(now)) {
            c.handle_reading(d, at(now), reading()).unwrap();
        }
        let bundles = pump_collector(&mut c, at(now), &mut rng, |c, rng, t| {
            assert_eq!(t.device, collector, "a bundle carries the collector's sender id");
            // The portal refuses one device's entries in the first two rounds.
            let refuse = |d| d == REFUSED && round < 2;
            let (frame, devices) = answer_bundle(&mut portal, &mut receivers, &t, at(now), rng, refuse);
            assert_eq!(devices, t.entries.iter().map(|e| e.0).collect::<Vec<_>>());
            for d in devices {
                *entries_of.entry(d).or_default() += 1;
            }
            c.handle_frame(at(now), &frame).unwrap();
            last_reply = frame;
        });
        bundles_per_round.push(bundles);
        now += HOUR;
    }
    // The first round's full states take several bundles; every later round with readings
    // (every 3 hours) one; rounds without a reading none but the refused device's retry.
    assert!(bundles_per_round[0] > 1, "{bundles_per_round:?}");
    assert_eq!(bundles_per_round[3], 1, "{bundles_per_round:?}");
    let counts = c.bundle_counts();
    assert!(counts.refused >= 1 && counts.answered >= DEVICES * 3 - 1, "{counts:?}");
    assert_eq!(counts.rejected_replies, 0);
    // A bundle reply replayed, or not from the portal, is ignored and counted.
    c.handle_frame(at(now), &last_reply).unwrap();
    assert_eq!(c.bundle_counts().rejected_replies, 1);
    for (d, r) in &receivers {
        assert_eq!(r.state(), c.agent(*d).unwrap().current(), "device {d} converged");
    }
    assert!(entries_of[&REFUSED] > entries_of[&SenderId(8)], "the refused device sent again");

    // Detached: the devices seal their own frames.
    assert!(c.detach_link().is_some());
    let later = at(now + 3 * HOUR);
    while let Some(d) = c.poll_read(later) {
        c.handle_reading(d, later, reading()).unwrap();
    }
    let t = loop {
        let cp = c.save();
        c.saved(cp).unwrap();
        if let Some(t) = c.poll_transmit(later, &mut rng) {
            break t;
        }
    };
    assert!(t.entries.is_empty() && t.device.0 < DEVICES);
}

/// With a link, devices read at different times come to report at the collector's rounds: one
/// bundle per round once each has reported once.
#[test]
fn a_linked_collector_brings_staggered_devices_into_one_bundle_per_round() {
    let collector = SenderId(0xc011_ec71);
    let mut rng = rng(12);
    let schedule = Schedule::collector(printfleet_agent::COLLECTOR_INTERVAL).unwrap();
    let mut c = Collector::new();
    let (channel, mut portal) = link(5, b"rounds", collector);
    c.attach_link(channel).unwrap();
    const MINUTE: u64 = 60_000;
    let mut receivers = keyed_devices(&mut c, 30, schedule);
    let mut bundles_at = Vec::new();
    // A day in 5-minute steps; device d is read at 5·d minutes past each 3-hour mark.
    for step in 0..(24 * 12) {
        let now = step * 5 * MINUTE;
        for d in 0..30u64 {
            if (now % (3 * HOUR)) / (5 * MINUTE) == d {
                c.handle_reading(SenderId(d), at(now), reading()).unwrap();
            }
        }
        pump_collector(&mut c, at(now), &mut rng, |c, rng, t| {
            bundles_at.push((now, t.entries.len()));
            let (frame, _) = answer_bundle(&mut portal, &mut receivers, &t, at(now), rng, |_| false);
            c.handle_frame(at(now), &frame).unwrap();
        });
    }
    // After the first 6 hours (first reports as readings come, then the first round), every
    // round is one bundle of all 30 devices, and nothing else is sent.
    let later: Vec<_> = bundles_at.iter().filter(|(t, _)| *t >= 6 * HOUR).collect();
    assert!(!later.is_empty());
    assert!(later.iter().all(|(_, n)| *n == 30), "{bundles_at:?}");
    let rounds: BTreeSet<u64> = later.iter().map(|(t, _)| *t).collect();
    assert_eq!(rounds.len(), later.len(), "one bundle per round: {bundles_at:?}");
}

/// A printer only the collector's bundles report needs no key of its own: without a link it
/// sends nothing and asks for no wake-up; with one it reports in bundles like the others, and a
/// restored one goes on.
#[test]
fn an_agent_without_a_key_of_its_own_reports_only_in_bundles() {
    let collector = SenderId(0xc011_ec72);
    let mut rng = rng(13);
    let schedule = Schedule::collector(printfleet_agent::COLLECTOR_INTERVAL).unwrap();
    let mut c = Collector::new();
    let mut receivers = std::collections::BTreeMap::new();
    for d in 0..4u64 {
        receivers.insert(SenderId(d), Receiver::new());
        c.insert(at(0), DeviceAgent::for_bundles(SenderId(d), Redaction::drop_all(), schedule, Instance(1)));
        c.handle_reading(SenderId(d), at(0), reading()).unwrap();
    }
    assert_eq!(pump_collector(&mut c, at(0), &mut rng, |_, _, t| panic!("sent without a link: {t:?}")), 0);
    while c.poll_read(at(0)).is_some() {}
    assert_eq!(c.poll_timeout().filter(|t| *t <= at(HOUR)), None, "nothing to wake for but the next read");

    let (channel, mut portal) = link(6, b"keyless", collector);
    c.attach_link(channel).unwrap();
    let sent = pump_collector(&mut c, at(0), &mut rng, |c, rng, t| {
        assert_eq!(t.entries.len(), 4);
        let (frame, _) = answer_bundle(&mut portal, &mut receivers, &t, at(0), rng, |_| false);
        c.handle_frame(at(0), &frame).unwrap();
    });
    assert_eq!(sent, 1);
    for (d, r) in &receivers {
        assert_eq!(r.state(), c.agent(*d).unwrap().current());
    }
    // Saved and restored without a key: the next round's report is a delta on the same base.
    for d in 0..4u64 {
        c.handle_reading(SenderId(d), at(HOUR), reading()).unwrap();
    }
    let cp = c.save();
    let states: Vec<(SenderId, AgentState)> = cp.states().map(|(s, st)| (s, st.clone())).collect();
    assert_eq!(states.len(), 4);
    c.saved(cp).unwrap();
    let mut restored = Collector::new();
    for (sender, state) in states {
        let agent = DeviceAgent::restore_for_bundles(sender, Redaction::drop_all(), schedule, state).unwrap();
        restored.insert(at(HOUR), agent);
        restored.handle_reading(sender, at(HOUR), reading()).unwrap();
    }
    // A new session after the restart.
    let (channel, mut portal) = link(6, b"keyless, again", collector);
    restored.attach_link(channel).unwrap();
    let sent = pump_collector(&mut restored, at(4 * HOUR), &mut rng, |c, rng, t| {
        let (frame, _) = answer_bundle(&mut portal, &mut receivers, &t, at(4 * HOUR), rng, |_| false);
        c.handle_frame(at(4 * HOUR), &frame).unwrap();
    });
    assert!(sent >= 1);
    for (d, r) in &receivers {
        assert_eq!(r.state(), restored.agent(*d).unwrap().current(), "device {d} after the restore");
    }
}
