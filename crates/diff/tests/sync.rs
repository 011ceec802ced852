//! The sync protocol over a lossy channel: whatever is dropped, duplicated, reordered or
//! forgotten, once the channel delivers again the receiver's view equals the device's state, and
//! every job event arrives exactly once.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use printfleet_diff::DeviceState;
use printfleet_diff::sync::{Agent, Receiver, Reply, Update, UpdateBody};
use printfleet_schema::{Alert, JobHeader, Level, PrintJob, RecordId, samples};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Step {
    change: u8,
    jobs: u8,
    drop_update: bool,
    duplicate_update: bool,
    hold_update: bool,
    release_held: bool,
    drop_reply: bool,
    restart_receiver: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..8,
        0u8..3,
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.05),
    )
        .prop_map(
            |(change, jobs, drop_update, duplicate_update, hold_update, release_held, drop_reply, restart_receiver)| {
                Step {
                    change,
                    jobs,
                    drop_update,
                    duplicate_update,
                    hold_update,
                    release_held,
                    drop_reply,
                    restart_receiver,
                }
            },
        )
}

fn evolve(state: &mut DeviceState, change: u8, tick: u64) {
    let s = &mut state.snapshot;
    match change {
        0 | 1 => {
            for c in &mut s.consumables {
                if let Level::Amount(l) = c.level {
                    c.level = Level::Amount(l.saturating_sub(1));
                }
            }
        }
        2 | 3 => {
            for v in s.meters.0.values_mut() {
                *v += tick % 7 + 1;
            }
        }
        4 => s.alerts.push(Alert {
            record_id: RecordId(1000 + tick),
            description: Some(format!("alert {tick}")),
            ..Default::default()
        }),
        5 if !s.alerts.is_empty() => {
            s.alerts.remove(0);
        }
        6 => state.identity.location = Some(format!("room {tick}")),
        _ => {}
    }
}

fn job(n: u64) -> PrintJob {
    PrintJob {
        job: JobHeader { uuid: uuid::Uuid::from_u128(u128::from(n)), sequence: n, ..Default::default() },
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_receiver_converges_and_counts_every_event_once(steps in prop::collection::vec(step(), 1..40)) {
        let mut state = DeviceState::from(&samples::office_laser());
        let mut agent = Agent::new();
        let mut receiver = Receiver::new();
        let mut held: Vec<Update> = Vec::new();
        let mut sent_jobs = Vec::new();
        let deliver = |receiver: &mut Receiver, agent: &mut Agent, update: &Update, drop_reply: bool| {
            let reply = receiver.receive(update);
            if !drop_reply {
                agent.on_reply(&reply);
            }
        };
        for (tick, s) in steps.iter().enumerate() {
            let tick = tick as u64;
            evolve(&mut state, s.change, tick);
            for _ in 0..s.jobs {
                let j = job(sent_jobs.len() as u64 + 1);
                sent_jobs.push(j.clone());
                agent.record_job(j);
            }
            if s.restart_receiver {
                receiver = receiver.restarted();
            }
            let update = agent.update(&state);
            if s.release_held {
                for old in held.drain(..) {
                    deliver(&mut receiver, &mut agent, &old, s.drop_reply);
                }
            }
            if s.hold_update {
                held.push(update);
            } else if !s.drop_update {
                deliver(&mut receiver, &mut agent, &update, s.drop_reply);
                if s.duplicate_update {
                    deliver(&mut receiver, &mut agent, &update, false);
                }
            }
        }
        // The channel heals: at most two rounds (a resync, then its answer) bring them together.
        for _ in 0..3 {
            let update = agent.update(&state);
            let reply = receiver.receive(&update);
            agent.on_reply(&reply);
        }
        prop_assert_eq!(receiver.state(), Some(&state));
        prop_assert_eq!(receiver.jobs(), &sent_jobs[..]);
    }
}

#[test]
fn steady_state_updates_are_deltas_and_a_lost_receiver_triggers_a_full_snapshot() {
    let mut state = DeviceState::from(&samples::office_laser());
    let mut agent = Agent::new();
    let mut receiver = Receiver::new();
    let first = agent.update(&state);
    assert!(matches!(first.body, UpdateBody::Full(_)), "first contact");
    agent.on_reply(&receiver.receive(&first));
    evolve(&mut state, 0, 1);
    let second = agent.update(&state);
    assert!(matches!(second.body, UpdateBody::Delta { .. }), "steady state");
    agent.on_reply(&receiver.receive(&second));
    assert_eq!(receiver.state(), Some(&state));

    receiver = receiver.restarted();
    evolve(&mut state, 2, 2);
    let third = agent.update(&state);
    let reply = receiver.receive(&third);
    assert!(matches!(reply, Reply::Resync { .. }));
    agent.on_reply(&reply);
    let fourth = agent.update(&state);
    assert!(matches!(fourth.body, UpdateBody::Full(_)), "after a resync request");
    agent.on_reply(&receiver.receive(&fourth));
    assert_eq!(receiver.state(), Some(&state));
}

#[test]
fn an_ack_for_another_state_makes_the_agent_start_again() {
    let mut state = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(), Receiver::new());
    let update = agent.update(&state);
    agent.on_reply(&receiver.receive(&update));
    evolve(&mut state, 0, 1);
    let update = agent.update(&state);
    let Reply::Ack { state: held, events_through } = receiver.receive(&update) else { panic!("not applied") };
    // The receiver reports a state whose hash differs from what the agent sent (a receiver bug,
    // or storage that went wrong): the agent must not build on it.
    let wrong = printfleet_diff::sync::BaseRef { hash: printfleet_diff::sync::StateHash(!held.hash.0), ..held };
    agent.on_reply(&Reply::Ack { state: wrong, events_through });
    assert!(matches!(agent.update(&state).body, UpdateBody::Full(_)));

    // With the right hash it goes on with deltas.
    let (mut agent, mut receiver) = (Agent::new(), Receiver::new());
    let update = agent.update(&state);
    agent.on_reply(&receiver.receive(&update));
    evolve(&mut state, 0, 2);
    let update = agent.update(&state);
    agent.on_reply(&receiver.receive(&update));
    assert!(matches!(agent.update(&state).body, UpdateBody::Delta { .. }));
}

#[test]
fn a_delta_that_would_give_an_invalid_state_is_refused() {
    let state = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(), Receiver::new());
    let update = agent.update(&state);
    agent.on_reply(&receiver.receive(&update));
    let mut bad = state.clone();
    bad.snapshot.consumables[0].level = Level::Amount(u32::MAX);
    let reply = receiver.receive(&agent.update(&bad));
    assert!(matches!(reply, Reply::Resync { .. }), "{reply:?}");
    assert_eq!(receiver.state(), Some(&state));
}
