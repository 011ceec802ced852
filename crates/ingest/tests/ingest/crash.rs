//! The crash harness: devices report over a lossy link while the ingest is killed at random
//! points between apply and commit (and the store fails now and then); at the end every job is
//! stored exactly once, the stored state equals each device's, nothing was applied twice, and
//! the alert history (raised, cleared) ends as the state shows, no alert raised twice.

use printfleet_ingest::{Ingest, IngestError};
use printfleet_schema::{Level, MeterKind, RecordId};
use rand_core::Rng;

use crate::*;

const HOUR: u64 = 3_600_000;
const STEP: u64 = 10 * 60 * 1000;
const DEVICES: [&str; 3] = ["crash-a", "crash-b", "crash-c"];

/// What happens to one accepted frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Killed after apply, before the store wrote anything.
    KilledBeforeWrite,
    /// Killed after the store committed, before the reply was released.
    KilledAfterWrite,
    /// The store failed: the batch is aborted.
    StoreFailed,
    /// Stored and committed, but the reply is lost.
    ReplyLost,
    /// Stored, committed, replied.
    Delivered,
}

fn fate(rng: &mut ChaCha20Rng, faults: bool) -> Fate {
    if !faults {
        return Fate::Delivered;
    }
    match rng.next_u32() % 10 {
        0 => Fate::KilledBeforeWrite,
        1 => Fate::KilledAfterWrite,
        2 => Fate::StoreFailed,
        3 => Fate::ReplyLost,
        _ => Fate::Delivered,
    }
}

struct Run {
    disk: Disk,
    ingest: Ingest<FleetMasterKey>,
    agents: Vec<DeviceAgent>,
    readings: Vec<DeviceReport>,
    jobs: Vec<u64>,
    rng: ChaCha20Rng,
    portal_rng: ChaCha20Rng,
    kills: usize,
    restarts: u32,
}

impl Run {
    fn new(seed: u64) -> Self {
        let mut disk = Disk::default();
        let mut ingest = Ingest::new(master());
        for name in DEVICES {
            disk.devices.push(record(name));
            ingest.provision(record(name)).unwrap();
        }
        let agents = DEVICES.iter().zip(1..).map(|(n, i)| agent(n, i)).collect();
        Self {
            disk,
            ingest,
            agents,
            readings: vec![reading(); DEVICES.len()],
            jobs: vec![0; DEVICES.len()],
            rng: rng(seed),
            portal_rng: rng(seed ^ 0xffff),
            kills: 0,
            restarts: 0,
        }
    }

    /// The device's world changes a little; now and then its agent loses its saved state.
    fn events(&mut self, i: usize, now: Timestamp) {
        if self.rng.next_u32().is_multiple_of(60) {
            self.lose_agent_state(i, now);
        }
        let roll = self.rng.next_u32() % 8;
        let agent = &mut self.agents[i];
        match roll {
            0..=2 => {
                self.jobs[i] += 1;
                agent.handle_job(now, job(self.jobs[i], u64::from(self.rng.next_u32() % 5 + 1)));
            }
            3 | 4 => {
                let r = &mut self.readings[i];
                r.snapshot.consumables[0].level = Level::Amount(self.rng.next_u32() % 100);
                let total = r.snapshot.meters.get(&MeterKind::TOTAL).unwrap_or(0);
                r.snapshot.meters.0.insert(MeterKind::TOTAL, total + 7);
                agent.handle_reading(now, r.clone());
            }
            5 => {
                let alert = printfleet_schema::Alert { record_id: RecordId(900), ..Default::default() };
                agent.handle_alert(now, alert);
            }
            6 => agent.clear_alert(now, RecordId(900)),
            _ => {}
        }
    }

    /// The device's agent starts again without its saved state (a new instance) and reads the
    /// printer's job log again: every job not yet stored, and the three stored before them,
    /// which the portal must recognise by UUID (from its stored jobs after a restart). Its frame
    /// sequence numbers start again too, so its first frames are refused as replays until its
    /// numbers pass the old ones (each retry seals under a new one); its jobs wait meanwhile.
    fn lose_agent_state(&mut self, i: usize, now: Timestamp) {
        let sender = printfleet_auth::sender_id_of(DEVICES[i]);
        let stored: HashSet<u64> = self.disk.jobs.iter().filter(|(s, _)| *s == sender).map(|(_, j)| *j).collect();
        let first_unstored = (1..=self.jobs[i]).find(|j| !stored.contains(j)).unwrap_or(self.jobs[i] + 1);
        self.restarts += 1;
        let mut agent = agent(DEVICES[i], 100 + self.restarts);
        agent.handle_reading(now, self.readings[i].clone());
        for n in first_unstored.saturating_sub(3).max(1)..=self.jobs[i] {
            agent.handle_job(now, job(n, 1));
        }
        self.agents[i] = agent;
    }

    /// One frame through the portal with the given fate; the reply, if one is released.
    fn portal(&mut self, frame: &[u8], now: Timestamp, faults: bool) -> Option<Vec<u8>> {
        let batch = match self.ingest.receive(frame, now) {
            Ok(b) => b,
            Err(IngestError::Rejected(_)) => return None,
            Err(e) => panic!("unexpected {e}"),
        };
        match fate(&mut self.rng, faults) {
            Fate::KilledBeforeWrite => {
                self.kills += 1;
                drop(batch);
                self.ingest = self.disk.restore();
                None
            }
            Fate::KilledAfterWrite => {
                self.kills += 1;
                self.disk.write(batch.writes());
                self.ingest = self.disk.restore();
                None
            }
            Fate::StoreFailed => {
                self.ingest.abort(batch).unwrap();
                None
            }
            f => {
                self.disk.write(batch.writes());
                let reply = self.ingest.commit(batch, now, &mut self.portal_rng).unwrap();
                (f == Fate::Delivered).then_some(reply)
            }
        }
    }

    fn step(&mut self, now: Timestamp, faults: bool) {
        for i in 0..self.agents.len() {
            if faults {
                self.events(i, now);
            }
            self.agents[i].handle_timeout(now);
            let Some(t) = pump(&mut self.agents[i], now, &mut self.rng) else { continue };
            // The link may lose the frame, or deliver it twice.
            let copies = if faults { self.rng.next_u32() % 4 } else { 1 };
            let copies = if copies == 3 { 2 } else { copies.min(1) };
            for _ in 0..copies {
                if let Some(reply) = self.portal(&t.frame, now, faults) {
                    self.agents[i].handle_frame(now, &reply);
                }
            }
        }
    }
}

fn run(seed: u64) {
    let mut run = Run::new(seed);
    let mut now = 0;
    for _ in 0..300 {
        now += STEP;
        run.step(at(now), true);
    }
    // Then a quiet, reliable day: everything pending is delivered.
    for _ in 0..48 {
        now += HOUR;
        run.step(at(now), false);
    }
    assert!(run.kills > 0, "seed {seed}: the harness killed nothing");
    assert!(run.restarts > 0, "seed {seed}: no agent lost its state");
    for (i, name) in DEVICES.iter().enumerate() {
        let sender = printfleet_auth::sender_id_of(name);
        let stored: Vec<u64> = run.disk.jobs.iter().filter(|(s, _)| *s == sender).map(|(_, j)| *j).collect();
        let expected: Vec<u64> = (1..=run.jobs[i]).collect();
        let mut sorted = stored.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected, "seed {seed}, {name}: every job exactly once");
        assert_eq!(run.disk.state(sender), run.agents[i].current(), "seed {seed}, {name}: state");
        let mut open: Vec<RecordId> =
            run.disk.state(sender).unwrap().snapshot.alerts.iter().map(|a| a.record_id).collect();
        open.sort_unstable();
        assert_eq!(run.disk.open_alerts(sender), open, "seed {seed}, {name}: the alert history ends as the state");
    }
    assert_eq!(run.ingest.in_flight(), 0);
}

#[test]
fn crashes_between_apply_and_commit_lose_nothing_and_double_nothing() {
    let seeds: u64 = std::env::var("PRINTFLEET_CRASH_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    for seed in 0..seeds {
        run(seed);
    }
}

/// The exact frame delivered again after a crash that lost its batch is applied, once.
#[test]
fn a_frame_whose_batch_was_lost_applies_once_when_resent() {
    let mut disk = Disk::default();
    disk.devices.push(record("resend"));
    let mut ingest = disk.restore();
    let mut agent = agent("resend", 7);
    let mut rng = rng(1);
    agent.handle_reading(at(0), reading());
    agent.handle_job(at(0), job(1, 3));
    let t = pump(&mut agent, at(0), &mut rng).unwrap();
    let lost = ingest.receive(&t.frame, at(0)).unwrap();
    assert_eq!(lost.writes().jobs.len(), 1);
    drop(lost); // killed before the store wrote it
    let mut ingest = disk.restore();
    let batch = ingest.receive(&t.frame, at(1)).unwrap();
    assert_eq!(batch.writes().jobs.len(), 1);
    disk.write(batch.writes());
    let reply = ingest.commit(batch, at(1), &mut rng).unwrap();
    agent.handle_frame(at(1), &reply);
    // Once committed, the same frame is a replay, before and after a restart.
    assert!(matches!(ingest.receive(&t.frame, at(2)), Err(IngestError::Rejected(_))));
    let mut ingest = disk.restore();
    assert!(matches!(ingest.receive(&t.frame, at(2)), Err(IngestError::Rejected(_))));
    assert_eq!(disk.jobs.len(), 1);
}

/// An aborted batch puts the device back: its retransmission carries the job again and it is
/// stored then.
#[test]
fn an_aborted_batch_is_applied_again_from_the_retransmission() {
    let mut disk = Disk::default();
    disk.devices.push(record("abort"));
    let mut ingest = disk.restore();
    let mut agent = agent("abort", 3);
    let mut rng = rng(2);
    agent.handle_reading(at(0), reading());
    agent.handle_job(at(0), job(1, 3));
    let t = pump(&mut agent, at(0), &mut rng).unwrap();
    let batch = ingest.receive(&t.frame, at(0)).unwrap();
    // A second frame of a device with a batch in flight waits.
    assert!(matches!(ingest.receive(&t.frame, at(0)), Err(IngestError::Busy(_))));
    ingest.abort(batch).unwrap();
    let batch = ingest.receive(&t.frame, at(0)).unwrap();
    assert_eq!(batch.writes().jobs.len(), 1, "the job comes again after the abort");
    disk.write(batch.writes());
    let reply = ingest.commit(batch, at(0), &mut rng).unwrap();
    agent.handle_frame(at(0), &reply);
    assert_eq!(disk.jobs.len(), 1);
    assert_eq!(disk.state(t.device), agent.current());
}

/// A device past the window of recent job UUIDs (`RECENT_JOBS`). An aborted batch's jobs leave
/// the window exactly as committed: the oldest UUID they had pushed out is remembered again. A
/// restart gives the window back from the stored jobs, or keeps a state's own where the store
/// gives none. Each time, a new agent (the device lost its state; a new key epoch) reads the
/// oldest job of the window (and after the abort a recent one) again and only its really new
/// jobs are taken: a job taken twice fails `Disk::write`.
#[test]
fn the_window_of_recent_jobs_survives_an_abort_and_a_restart_past_its_size() {
    use printfleet_diff::sync::RECENT_JOBS;
    let mut disk = Disk::default();
    let mut rec = record("window");
    rec.credentials = (1..=4).map(|e| Credential { epoch: KeyEpoch(e), revoked: false, verifier: None }).collect();
    disk.devices.push(rec);
    let mut ingest = disk.restore();
    let mut rng = rng(4);
    let agent_of = |epoch: u32| {
        let mut agent = agent_of_epoch("window", epoch, KeyEpoch(epoch));
        agent.handle_reading(at(0), reading());
        agent
    };
    let window = RECENT_JOBS as u64;
    let total = window + 100;
    let mut agent = agent_of(1);
    for n in 1..=total {
        agent.handle_job(at(0), job(n, 1));
    }
    let mut now = 0;
    for _ in 0..10 {
        now += 3 * HOUR;
        agent.handle_timeout(at(now));
        let Some(t) = pump(&mut agent, at(now), &mut rng) else { continue };
        let batch = ingest.receive(&t.frame, at(now)).unwrap();
        disk.write(batch.writes());
        agent.handle_frame(at(now), &ingest.commit(batch, at(now), &mut rng).unwrap());
    }
    assert_eq!(disk.jobs.len() as u64, total);

    // Two new jobs, in a batch the store fails to write.
    now += 3 * HOUR;
    agent.handle_job(at(now), job(total + 1, 1));
    agent.handle_job(at(now), job(total + 2, 1));
    let t = pump(&mut agent, at(now), &mut rng).unwrap();
    let batch = ingest.receive(&t.frame, at(now)).unwrap();
    assert_eq!(batch.writes().jobs.len(), 2);
    ingest.abort(batch).unwrap();

    // Taken once by a new agent after the abort; the window's oldest is recognised.
    let send = |disk: &mut Disk, ingest: &mut Ingest<FleetMasterKey>, epoch: u32, jobs: &[u64], now: u64| {
        let mut rng = crate::rng(u64::from(epoch));
        let mut agent = agent_of(epoch);
        for n in jobs {
            agent.handle_job(at(now), job(*n, 1));
        }
        let t = pump(&mut agent, at(now), &mut rng).unwrap();
        let batch = ingest.receive(&t.frame, at(now)).unwrap();
        let taken: Vec<u64> = batch.writes().jobs.iter().map(|j| j.job.sequence).collect();
        disk.write(batch.writes());
        ingest.commit(batch, at(now), &mut rng).unwrap();
        taken
    };
    now += 3 * HOUR;
    let oldest = total - window + 1;
    let again = [oldest, total - 1, total + 1, total + 2];
    assert_eq!(send(&mut disk, &mut ingest, 2, &again, now), [total + 1, total + 2]);

    // After a restart from the stored jobs.
    let mut ingest = disk.restore();
    now += 3 * HOUR;
    let oldest = total + 2 - window + 1;
    assert_eq!(send(&mut disk, &mut ingest, 3, &[oldest], now), Vec::<u64>::new());

    // After a restart from a store that saved the receiver whole and gives no UUIDs.
    let sender = printfleet_auth::sender_id_of("window");
    let saved = disk.saved.get_mut(&sender).unwrap();
    saved.receiver = saved.receiver.clone().with_recent_jobs(saved.recent_jobs.iter().copied());
    saved.recent_jobs.clear();
    let mut ingest = disk.restore();
    now += 3 * HOUR;
    assert_eq!(send(&mut disk, &mut ingest, 4, &[oldest], now), Vec::<u64>::new());
}

/// One frame the device sends at `now` (retrying, if due), stored and committed; the reply
/// handed back unless `lose_reply`. Whether a frame went.
fn exchange(
    agent: &mut DeviceAgent,
    ingest: &mut Ingest<FleetMasterKey>,
    disk: &mut Disk,
    now: u64,
    rng: &mut ChaCha20Rng,
    lose_reply: bool,
) -> bool {
    agent.handle_timeout(at(now));
    let Some(t) = pump(agent, at(now), rng) else { return false };
    let batch = ingest.receive(&t.frame, at(now)).unwrap();
    disk.write(batch.writes());
    let reply = ingest.commit(batch, at(now), rng).unwrap();
    if !lose_reply {
        agent.handle_frame(at(now), &reply);
    }
    true
}

/// A disk with the one device `name`, the ingest on it, and the device's agent (instance
/// `instance`; the seed of its random numbers too).
fn one_device(name: &str, instance: u32) -> (Disk, SenderId, Ingest<FleetMasterKey>, DeviceAgent, ChaCha20Rng) {
    let mut disk = Disk::default();
    disk.devices.push(record(name));
    let ingest = disk.restore();
    (disk, printfleet_auth::sender_id_of(name), ingest, agent(name, instance), rng(u64::from(instance)))
}

fn alert(id: u64) -> printfleet_schema::Alert {
    printfleet_schema::Alert { record_id: RecordId(id), ..Default::default() }
}

/// The alerts the device's stored state shows open.
fn open_in_state(disk: &Disk, device: SenderId) -> Vec<RecordId> {
    let mut open: Vec<RecordId> = disk.state(device).unwrap().snapshot.alerts.iter().map(|a| a.record_id).collect();
    open.sort_unstable();
    open
}

/// A batch the store failed to write takes the alert history back with it: the alert its
/// update cleared is recorded cleared when the device sends again (a full snapshot, after the
/// resync the portal asks for), and the alerts still open are not raised a second time (the
/// disk refuses an alert raised twice or cleared unraised). Before, the snapshot was compared
/// with nothing: the cleared alert stayed open in the history for ever, and the others were
/// raised again.
#[test]
fn an_aborted_batch_leaves_the_alert_history_as_committed() {
    let (mut disk, device, mut ingest, mut agent, mut rng) = one_device("alerts", 5);
    agent.handle_reading(at(0), reading());
    agent.handle_alert(at(0), alert(900));
    agent.handle_alert(at(0), alert(901));
    assert!(exchange(&mut agent, &mut ingest, &mut disk, 0, &mut rng, false));
    assert!(disk.open_alerts(device).contains(&RecordId(900)));

    agent.clear_alert(at(HOUR), RecordId(900));
    agent.handle_timeout(at(3 * HOUR));
    let t = pump(&mut agent, at(3 * HOUR), &mut rng).unwrap();
    let batch = ingest.receive(&t.frame, at(3 * HOUR)).unwrap();
    assert_eq!(batch.writes().alerts_cleared, [RecordId(900)]);
    ingest.abort(batch).unwrap();

    let mut now = 3 * HOUR;
    for _ in 0..20 {
        now += HOUR;
        exchange(&mut agent, &mut ingest, &mut disk, now, &mut rng, false);
    }
    assert_eq!(disk.state(device), agent.current());
    assert!(!disk.open_alerts(device).contains(&RecordId(900)), "900 was cleared");
    assert_eq!(disk.open_alerts(device), open_in_state(&disk, device));
}

/// A device whose last reply was lost sends its next delta against the older state it last
/// heard of, so the delta repeats what the unanswered update changed. The history records
/// what changed since the newest state: the alert that update raised is not raised again.
#[test]
fn a_delta_to_an_older_base_records_only_what_changed_since_the_newest() {
    let (mut disk, device, mut ingest, mut agent, mut rng) = one_device("lost-ack", 8);
    let mut r = reading();
    agent.handle_reading(at(0), r.clone());
    assert!(exchange(&mut agent, &mut ingest, &mut disk, 0, &mut rng, false));
    // Alert 901 raised and stored; its reply lost.
    agent.handle_alert(at(HOUR), alert(901));
    assert!(exchange(&mut agent, &mut ingest, &mut disk, 3 * HOUR, &mut rng, true));
    assert!(disk.open_alerts(device).contains(&RecordId(901)));
    // Then a consumable moves: the delta names the state before 901 as its base.
    r.snapshot.consumables[0].level = Level::Amount(3);
    agent.handle_reading(at(4 * HOUR), r);
    agent.handle_timeout(at(6 * HOUR));
    let t = pump(&mut agent, at(6 * HOUR), &mut rng).unwrap();
    let batch = ingest.receive(&t.frame, at(6 * HOUR)).unwrap();
    assert!(batch.writes().alerts_raised.is_empty(), "raised again: {:?}", batch.writes().alerts_raised);
    assert_eq!(batch.writes().levels.len(), 1, "{:?}", batch.writes().levels);
    disk.write(batch.writes());
    agent.handle_frame(at(6 * HOUR), &ingest.commit(batch, at(6 * HOUR), &mut rng).unwrap());
    assert_eq!(disk.state(device), agent.current());
    assert_eq!(disk.open_alerts(device), open_in_state(&disk, device));
}
