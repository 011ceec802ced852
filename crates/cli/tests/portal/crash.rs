//! kill -9 the portal at random points (between requests and in the middle of one) while
//! devices keep sending, retransmitting what got no reply; restart it each time. At the end the
//! stored state equals each device's, every job is stored exactly once, and no frame that was
//! answered is accepted again.

use printfleet_schema::{Level, MeterKind};
use printfleet_store::SqliteStore;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use crate::*;

const STEP: u64 = 10 * 60 * 1000;
const DEVICES: [&str; 2] = ["crash-a", "crash-b"];
/// Steps with faults, then quiet steps in which everything pending is delivered.
const FAULT_STEPS: u64 = 60;
const QUIET_STEPS: u64 = 12;

fn kill_9(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

#[test]
fn kill_9_at_random_points_loses_nothing_and_doubles_nothing() {
    let seed = std::env::var("PRINTFLEET_PORTAL_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let home = Home::new();
    let mut portal = home.start(&[]);
    let mut http = portal.http();
    let devices: Vec<(SenderId, DeviceSecret)> = DEVICES.iter().map(|n| home.add_device(n)).collect();
    let mut agents: Vec<DeviceAgent> =
        DEVICES.iter().zip(&devices).zip(1..).map(|((n, (_, s)), i)| agent(n, s, i, STEP)).collect();
    let mut readings = vec![reading(); DEVICES.len()];
    let mut jobs = vec![0u64; DEVICES.len()];
    let mut answered: Vec<Vec<u8>> = Vec::new();
    let (mut kills, mut mid_request_kills) = (0, 0);
    let start = wall();
    for step in 0..FAULT_STEPS + QUIET_STEPS {
        let now = plus(start, step * STEP);
        let faults = step < FAULT_STEPS;
        for i in 0..DEVICES.len() {
            if faults {
                match rng.next_u32() % 4 {
                    0 | 1 => {
                        jobs[i] += 1;
                        agents[i].handle_job(now, job(jobs[i], u64::from(rng.next_u32() % 5 + 1)));
                    }
                    2 => {
                        let r = &mut readings[i];
                        r.snapshot.consumables[0].level = Level::Amount(rng.next_u32() % 100);
                        let total = r.snapshot.meters.get(&MeterKind::TOTAL).unwrap_or(0);
                        r.snapshot.meters.0.insert(MeterKind::TOTAL, total + 7);
                        agents[i].handle_reading(now, r.clone());
                    }
                    _ => {}
                }
            }
            agents[i].handle_timeout(now);
            let Some(t) = pump(&mut agents[i], now) else { continue };
            // Now and then the portal dies: in the middle of this request, or just before it.
            let roll = if faults { rng.next_u32() % 10 } else { 9 };
            let killer = (roll == 0).then(|| {
                let (pid, delay) = (portal.child.id(), u64::from(rng.next_u32() % 15));
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(delay));
                    kill_9(pid);
                })
            });
            if roll == 1 {
                kill_9(portal.child.id());
            }
            let result = portal.post(&http, &t.frame);
            if let Ok((200, reply)) = &result {
                agents[i].handle_frame(now, reply);
                answered.push(t.frame.clone());
            }
            if let Some(k) = killer {
                k.join().unwrap();
                mid_request_kills += 1;
            }
            if roll <= 1 {
                kills += 1;
                drop(std::mem::replace(&mut portal, home.start(&[])));
                http = portal.http();
            }
        }
    }
    assert!(kills >= 3 && mid_request_kills >= 1, "seed {seed}: only {kills} kills ({mid_request_kills} mid-request)");
    // Nothing answered is accepted again.
    for frame in &answered {
        assert_eq!(portal.post(&http, frame).unwrap(), (400, b"frame rejected".to_vec()), "seed {seed}: replay");
    }
    assert!(portal.stop().success());
    let store = SqliteStore::open(home.db_path()).unwrap();
    for (i, (sender, _)) in devices.iter().enumerate() {
        let stored = store.job_sequences(*sender).unwrap();
        let mut sorted = stored.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=jobs[i]).collect::<Vec<_>>(), "seed {seed}, {}: every job exactly once", DEVICES[i]);
        assert_eq!(store.device_state(*sender).unwrap().as_ref(), agents[i].current(), "seed {seed}: state");
    }
}
