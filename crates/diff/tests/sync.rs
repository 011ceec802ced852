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

use printfleet_diff::sync::{
    Agent, AgentState, BaseRef, EARLY_EVENT_BYTES, EVENT_WINDOW, HELD_JOB_BYTES, HISTORY_BYTES, Instance,
    RECEIVER_HISTORY, RECENT_JOBS, Receiver, ReceiverState, Reply, StateHash, Update, UpdateBody,
};
use printfleet_diff::{DeviceState, apply, diff};
use printfleet_schema::redact::{FieldPolicy, PersonalField, SiteKey};
use printfleet_schema::{Alert, JobHeader, Level, MeterKind, PrintJob, RecordId, Redacted, Redaction, samples};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

const A: Instance = Instance(0xa6e0_0001);
const B: Instance = Instance(0xa6e0_0002);

/// The state as it leaves the site: these tests carry no personal data, so every field is kept
/// (an explicit choice).
fn red(state: &DeviceState) -> Redacted<DeviceState> {
    Redaction::keep_all().apply_to(state.clone())
}

fn red_job(job: PrintJob) -> Redacted<PrintJob> {
    Redaction::keep_all().apply_to(job)
}

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
        let mut agent = Agent::new(A);
        let mut receiver = Receiver::new();
        let mut held: Vec<Update> = Vec::new();
        let mut sent_jobs = Vec::new();
        let mut received = Vec::new();
        let mut deliver = |receiver: &mut Receiver, agent: &mut Agent, update: &Update, drop_reply: bool| {
            let reply = receiver.receive(update);
            received.extend(receiver.take_jobs());
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
                agent.record_job(red_job(j));
            }
            if s.restart_receiver {
                receiver = receiver.restarted();
            }
            let update = agent.update(&red(&state));
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
            let update = agent.update(&red(&state));
            deliver(&mut receiver, &mut agent, &update, false);
        }
        prop_assert_eq!(receiver.state(), Some(&state));
        prop_assert_eq!(&received, &sent_jobs);
    }
}

#[test]
fn steady_state_updates_are_deltas_and_a_lost_receiver_triggers_a_full_snapshot() {
    let mut state = DeviceState::from(&samples::office_laser());
    let mut agent = Agent::new(A);
    let mut receiver = Receiver::new();
    let first = agent.update(&red(&state));
    assert!(matches!(first.body, UpdateBody::Full(_)), "first contact");
    agent.on_reply(&receiver.receive(&first));
    evolve(&mut state, 0, 1);
    let second = agent.update(&red(&state));
    assert!(matches!(second.body, UpdateBody::Delta { .. }), "steady state");
    agent.on_reply(&receiver.receive(&second));
    assert_eq!(receiver.state(), Some(&state));

    receiver = receiver.restarted();
    evolve(&mut state, 2, 2);
    let third = agent.update(&red(&state));
    let reply = receiver.receive(&third);
    assert!(matches!(reply, Reply::Resync { .. }));
    agent.on_reply(&reply);
    let fourth = agent.update(&red(&state));
    assert!(matches!(fourth.body, UpdateBody::Full(_)), "after a resync request");
    agent.on_reply(&receiver.receive(&fourth));
    assert_eq!(receiver.state(), Some(&state));
}

#[test]
fn an_ack_for_another_state_makes_the_agent_start_again() {
    let mut state = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    let update = agent.update(&red(&state));
    agent.on_reply(&receiver.receive(&update));
    evolve(&mut state, 0, 1);
    let update = agent.update(&red(&state));
    let Reply::Ack { instance, state: held, events_through } = receiver.receive(&update) else { panic!("not applied") };
    // The receiver reports a state whose hash differs from what the agent sent (a receiver bug,
    // or storage that went wrong): the agent must not build on it.
    let wrong = BaseRef { hash: StateHash(!held.hash.0), ..held };
    agent.on_reply(&Reply::Ack { instance, state: wrong, events_through });
    assert!(matches!(agent.update(&red(&state)).body, UpdateBody::Full(_)));

    // With the right hash it goes on with deltas.
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    let update = agent.update(&red(&state));
    agent.on_reply(&receiver.receive(&update));
    evolve(&mut state, 0, 2);
    let update = agent.update(&red(&state));
    agent.on_reply(&receiver.receive(&update));
    assert!(matches!(agent.update(&red(&state)).body, UpdateBody::Delta { .. }));
}

#[test]
fn a_delta_that_would_give_an_invalid_state_is_refused() {
    let state = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    let update = agent.update(&red(&state));
    agent.on_reply(&receiver.receive(&update));
    let mut bad = state.clone();
    bad.snapshot.consumables[0].level = Level::Amount(u32::MAX);
    let reply = receiver.receive(&agent.update(&red(&bad)));
    assert!(matches!(reply, Reply::Resync { .. }), "{reply:?}");
    assert_eq!(receiver.state(), Some(&state));
}

fn keep_all_job(n: u64) -> Redacted<PrintJob> {
    red_job(job(n))
}

/// Runs one exchange without loss and returns the reply.
fn exchange(agent: &mut Agent, receiver: &mut Receiver, state: &DeviceState) -> Reply {
    let reply = receiver.receive(&agent.update(&red(state)));
    agent.on_reply(&reply);
    reply
}

/// Issue #12, 1: an agent restored from its saved state goes on with its numbers, and the
/// events it had not delivered still arrive.
#[test]
fn a_restored_agent_keeps_its_numbers_and_its_unacknowledged_jobs() {
    let state = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    agent.record_job(keep_all_job(1));
    exchange(&mut agent, &mut receiver, &state);
    agent.record_job(keep_all_job(2));
    let lost = agent.update(&red(&state)); // never arrives
    let saved: AgentState = serde_json::from_str(&serde_json::to_string(&agent.save()).unwrap()).unwrap();
    drop(agent);

    let mut agent = Agent::restore(saved, &Redaction::keep_all()).unwrap();
    assert_eq!(agent.instance(), A);
    let next = agent.update(&red(&state));
    assert!(next.sequence > lost.sequence, "numbers go on after a restore");
    assert_eq!(next.events.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [2]);
    agent.on_reply(&receiver.receive(&next));
    assert!(matches!(next.body, UpdateBody::Delta { .. }), "the acknowledged base survives");
    assert_eq!(receiver.take_jobs(), [job(1), job(2)]);
}

/// Issue #12, 1: a device that lost its saved state starts a new instance; the receiver applies
/// its updates at once, keeps its new jobs and drops the ones it already has (by UUID).
#[test]
fn a_new_instance_is_applied_at_once_and_its_jobs_are_kept_once() {
    let mut state = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    for n in 1..=3 {
        agent.record_job(keep_all_job(n));
    }
    for _ in 0..5 {
        exchange(&mut agent, &mut receiver, &state);
    }
    assert_eq!(receiver.take_jobs().len(), 3);

    // The device loses its state: a new agent numbers from 1, re-reads job 3 from the printer's
    // log and records job 4.
    let late_reply = receiver.receive(&agent.update(&red(&state)));
    let mut agent = Agent::new(B);
    agent.record_job(keep_all_job(3));
    agent.record_job(keep_all_job(4));
    evolve(&mut state, 2, 1);
    let reply = exchange(&mut agent, &mut receiver, &state);
    assert!(matches!(reply, Reply::Ack { instance: B, events_through: 2, .. }), "{reply:?}");
    assert_eq!(receiver.state(), Some(&state));
    assert_eq!(receiver.take_jobs(), [job(4)], "job 3 arrived before: kept once");

    // A reply meant for the old instance does not make the new agent drop its events.
    agent.record_job(keep_all_job(5));
    agent.on_reply(&Reply::Resync { instance: A, events_through: 100 });
    agent.on_reply(&late_reply);
    let update = agent.update(&red(&state));
    assert_eq!(update.events.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [3]);
    assert!(matches!(update.body, UpdateBody::Delta { .. }), "the old instance's replies are ignored");
}

/// A receiver saved without its recent job UUIDs (as a portal that stores its jobs saves it on
/// every update) and given them back from the stored jobs still drops a job recorded again by a
/// device that lost its state; without them it would take it twice. Only the newest
/// `RECENT_JOBS` of the UUIDs given are kept, and jobs not yet taken are remembered either way.
#[test]
fn a_receiver_saved_without_its_recent_jobs_gets_them_back_from_the_stored_jobs() {
    let mut state = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    let mut stored = Vec::new();
    for n in 1..=3 {
        agent.record_job(keep_all_job(n));
        exchange(&mut agent, &mut receiver, &state);
        stored.extend(receiver.take_jobs());
    }
    assert_eq!(stored, [job(1), job(2), job(3)]);
    let light = receiver.save_without_recent_jobs();
    assert!(light.recent_jobs().is_empty());
    let saved: ReceiverState = serde_json::from_str(&serde_json::to_string(&light).unwrap()).unwrap();
    let uuids = stored.iter().map(|j| j.job.uuid);
    let full = saved.clone().with_recent_jobs(uuids.clone());
    assert_eq!(full, receiver.save(), "the same state as a full save");

    // The device loses its state and records job 3 again, and job 4.
    evolve(&mut state, 2, 1);
    let mut again = Agent::new(B);
    again.record_job(keep_all_job(3));
    again.record_job(keep_all_job(4));
    let update = again.update(&red(&state));
    let mut restored = Receiver::restore(full).unwrap();
    restored.receive(&update);
    assert_eq!(restored.take_jobs(), [job(4)], "job 3 kept once");
    let mut forgetful = Receiver::restore(saved.clone()).unwrap();
    forgetful.receive(&update);
    assert_eq!(forgetful.take_jobs(), [job(3), job(4)], "without the UUIDs, job 3 would be taken twice");

    // More UUIDs than the window: the newest are kept, the nil UUID skipped.
    let many = (1..=RECENT_JOBS as u128 + 5).map(uuid::Uuid::from_u128).chain([uuid::Uuid::nil()]);
    let kept = saved.with_recent_jobs(many);
    assert_eq!(kept.recent_jobs().len(), RECENT_JOBS);
    assert_eq!(kept.recent_jobs()[0], uuid::Uuid::from_u128(6));
    assert!(Receiver::restore(kept).is_ok());

    // Jobs received and not yet taken are remembered from the state itself.
    agent.record_job(keep_all_job(5));
    exchange(&mut agent, &mut receiver, &state);
    let held = receiver.save_without_recent_jobs().with_recent_jobs([]);
    let mut restored = Receiver::restore(held).unwrap();
    let mut again = Agent::new(Instance(0xa6e0_0003));
    again.record_job(keep_all_job(5));
    restored.receive(&again.update(&red(&state)));
    assert_eq!(restored.take_jobs(), [job(5)], "held once, not received a second time");
}

/// Issue #12, 1: a late update of an instance followed before is judged by that instance's
/// numbers (a replay of what it sent is not applied), and going back to the current instance
/// does not start its numbering again.
#[test]
fn a_late_update_of_a_replaced_instance_is_judged_by_its_own_numbers() {
    let old_state = DeviceState::from(&samples::office_laser());
    let (mut a, mut receiver) = (Agent::new(A), Receiver::new());
    a.record_job(keep_all_job(1));
    let replayed = a.update(&red(&old_state));
    a.on_reply(&receiver.receive(&replayed));
    let mut state = old_state.clone();
    evolve(&mut state, 6, 1);
    let mut b = Agent::new(B);
    b.record_job(keep_all_job(2));
    exchange(&mut b, &mut receiver, &state);
    assert_eq!(receiver.take_jobs(), [job(1), job(2)]);
    let reply = receiver.receive(&replayed);
    assert_eq!((reply.instance(), reply.events_through()), (A, 1), "{reply:?}");
    assert_eq!(receiver.state(), Some(&state), "A's old update is not applied again");
    b.record_job(keep_all_job(3));
    let reply = exchange(&mut b, &mut receiver, &state);
    assert!(matches!(reply, Reply::Ack { instance: B, events_through: 2, .. }), "{reply:?}");
    assert_eq!(receiver.take_jobs(), [job(3)]);
    assert_eq!(receiver.state(), Some(&state));
}

/// Issue #12, 1: a restarted receiver still knows the newest update it applied, so a replayed
/// old full state cannot roll its state back; and its durable part is a serde value.
#[test]
fn a_restarted_receiver_refuses_a_replayed_old_full_state() {
    let old = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    let first = agent.update(&red(&old));
    agent.on_reply(&receiver.receive(&first));
    let mut state = old.clone();
    evolve(&mut state, 6, 1);
    exchange(&mut agent, &mut receiver, &state);

    let saved: ReceiverState = serde_json::from_str(&serde_json::to_string(&receiver.save()).unwrap()).unwrap();
    for mut restarted in [receiver.restarted(), Receiver::restore(saved).unwrap()] {
        let reply = restarted.receive(&first);
        assert!(matches!(reply, Reply::Resync { .. }), "{reply:?}");
        assert_eq!(restarted.state(), None, "the replayed old state was not applied");
        // The agent's next full state is.
        agent.on_reply(&reply);
        let full = agent.update(&red(&state));
        assert!(matches!(full.body, UpdateBody::Full(_)));
        restarted.receive(&full);
        assert_eq!(restarted.state(), Some(&state));
    }
}

/// Issue #12, 2: events far above the watermark are not kept, and those kept early are bounded.
#[test]
fn events_far_above_the_watermark_are_not_kept() {
    let state = DeviceState::from(&samples::office_laser());
    let mut receiver = Receiver::new();
    let body = UpdateBody::Full(Box::new(state.clone()));
    let far = EVENT_WINDOW + 1;
    let update = Update { instance: A, sequence: 1, body, events: vec![(far, job(far)), (2, job(2))] };
    receiver.receive(&update);
    // Event 1 arrives: 2 follows it, the far one was never kept.
    let update = Update { sequence: 2, events: vec![(1, job(1))], ..update };
    let reply = receiver.receive(&update);
    assert_eq!(reply.events_through(), 2);
    let update = Update { sequence: 3, events: (3..far).map(|n| (n, job(n))).collect(), ..update };
    assert_eq!(receiver.receive(&update).events_through(), far - 1);
    assert_eq!(receiver.take_jobs().len() as u64, far - 1);

    // Early events beyond the byte budget are dropped (the agent sends them again).
    let mut receiver = Receiver::new();
    let big = |n: u64| {
        let mut j = job(n);
        j.job.name = Some("x".repeat(1000));
        j.job.submitter.user_defined = Some("y".repeat(1000));
        j
    };
    let events: Vec<_> = (2..=EVENT_WINDOW).map(|n| (n, big(n))).collect();
    let body = UpdateBody::Full(Box::new(state.clone()));
    receiver.receive(&Update { instance: A, sequence: 1, body, events: events.clone() });
    let body = UpdateBody::Full(Box::new(state.clone()));
    let reply = receiver.receive(&Update { instance: A, sequence: 2, body, events: vec![(1, big(1))] });
    let through = reply.events_through();
    assert!(through > 1 && through < EVENT_WINDOW, "kept {through} of {EVENT_WINDOW}");
    assert!(through * 2000 <= EARLY_EVENT_BYTES as u64 + 4000);
}

/// Issue #12, 2: jobs can be taken; a receiver whose caller does not take them stops
/// acknowledging instead of growing, and goes on once they are taken.
#[test]
fn jobs_are_taken_and_a_full_receiver_stops_acknowledging() {
    let state = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    let big = |n: u64| {
        let mut j = job(n);
        j.job.name = Some("x".repeat(1000));
        red_job(j)
    };
    let total = (HELD_JOB_BYTES / 1000 + 200) as u64;
    for n in 1..=total {
        agent.record_job(big(n));
    }
    for _ in 0..(total as usize / 1024 + 3) {
        exchange(&mut agent, &mut receiver, &state);
    }
    let held = receiver.jobs().len() as u64;
    assert!(held < total, "held {held} of {total}");
    assert_eq!(exchange(&mut agent, &mut receiver, &state).events_through(), held, "no ack beyond what is held");
    let mut all = receiver.take_jobs();
    assert!(receiver.jobs().is_empty());
    for _ in 0..3 {
        exchange(&mut agent, &mut receiver, &state);
        all.extend(receiver.take_jobs());
    }
    assert_eq!(all.len() as u64, total);
    assert!(all.iter().zip(1..).all(|(j, n)| j.job.sequence == n));
}

/// Issue #12, 2: the history is bounded by bytes, not only by count.
#[test]
fn the_history_is_bounded_by_bytes() {
    let mut state = DeviceState::from(&samples::large_format(0));
    // A large state: many alerts with long descriptions.
    for i in 0..200 {
        state.snapshot.alerts.push(Alert {
            record_id: RecordId(5000 + i),
            description: Some("z".repeat(1000)),
            ..Alert::default()
        });
    }
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    let mut updates = Vec::new();
    for tick in 0..RECEIVER_HISTORY as u64 {
        evolve(&mut state, 2, tick);
        let update = agent.update(&red(&state));
        receiver.receive(&update);
        updates.push(update);
    }
    // Each state is over 200 KB, so fewer than 8 fit in HISTORY_BYTES: a delta against the
    // oldest base no longer applies, one against a recent base does.
    const { assert!(200_000 * RECEIVER_HISTORY > HISTORY_BYTES) };
    let base_of = |u: &Update| BaseRef {
        sequence: u.sequence,
        hash: StateHash::of(&match &u.body {
            UpdateBody::Full(s) => (**s).clone(),
            UpdateBody::Delta { .. } => unreachable!(),
        }),
    };
    let oldest = base_of(&updates[1]);
    let newest = base_of(&updates[RECEIVER_HISTORY - 1]);
    let probe = |base, sequence| Update {
        instance: A,
        sequence,
        body: UpdateBody::Delta { base, delta: Box::default() },
        events: Vec::new(),
    };
    assert!(matches!(receiver.receive(&probe(oldest, 100)), Reply::Resync { .. }), "the oldest base was dropped");
    assert!(matches!(receiver.receive(&probe(newest, 101)), Reply::Ack { .. }));
}

/// Issue #12, 3: raw `apply` counts a delta each time it is applied; the receiver applies an
/// update once however often it arrives.
#[test]
fn raw_apply_twice_counts_meters_twice_and_the_receiver_once() {
    let a = DeviceState::from(&samples::office_laser());
    let mut b = a.clone();
    let total = b.snapshot.meters.get(&MeterKind::TOTAL).unwrap();
    b.snapshot.meters.set(MeterKind::TOTAL, total + 10);
    let twice = apply(&apply(&a, &diff(&a, &b)).unwrap(), &diff(&a, &b)).unwrap();
    assert_eq!(twice.snapshot.meters.get(&MeterKind::TOTAL), Some(total + 20));

    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    exchange(&mut agent, &mut receiver, &a);
    let update = agent.update(&red(&b));
    receiver.receive(&update);
    receiver.receive(&update);
    assert_eq!(receiver.state().unwrap().snapshot.meters.get(&MeterKind::TOTAL), Some(total + 10));
}

/// Issue #12, 4: what the agent saved is redacted again on restore, so a saved state written
/// elsewhere cannot send personal data.
#[test]
fn a_restore_applies_the_policy_to_what_was_saved() {
    let mut agent = Agent::new(A);
    let mut j = job(1);
    j.job.submitter.user_name = Some("alice".into());
    agent.record_job(red_job(j));
    let saved = agent.save();
    let policy = Redaction::keep_all()
        .with_key(SiteKey::from_bytes([0x42; 32])) // test-only key
        .with(PersonalField::UserName, FieldPolicy::Pseudonym)
        .unwrap();
    let mut agent = Agent::restore(saved, &policy).unwrap();
    let update = agent.update(&red(&DeviceState::from(&samples::office_laser())));
    let user = update.events[0].1.job.submitter.user_name.clone().unwrap();
    assert!(user.starts_with("pn1-"), "{user}");
}

/// Issue #12, 1: the saved values of both sides survive serde, and corrupt ones are refused.
#[test]
fn saved_states_round_trip_and_inconsistent_ones_are_refused() {
    let state = DeviceState::from(&samples::office_laser());
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    agent.record_job(keep_all_job(1));
    agent.update(&red(&state));
    agent.record_job(keep_all_job(2));
    exchange(&mut agent, &mut receiver, &state);
    let saved = agent.save();
    let json = serde_json::to_value(&saved).unwrap();
    assert_eq!(serde_json::from_value::<AgentState>(json.clone()).unwrap(), saved);
    let mut bad = json.clone();
    bad["next_sequence"] = 0.into();
    let bad: AgentState = serde_json::from_value(bad).unwrap();
    assert!(Agent::restore(bad, &Redaction::keep_all()).is_err());
    let mut unknown = json;
    unknown["extra"] = 1.into();
    assert!(serde_json::from_value::<AgentState>(unknown).is_err());

    let saved = receiver.save();
    assert_eq!(serde_json::from_str::<ReceiverState>(&serde_json::to_string(&saved).unwrap()).unwrap(), saved);
}

/// An agent given its state shared keeps no copy of its own (not when it is acknowledged, not
/// when it is saved), and saves the acknowledged base in the form it always had: `sequence`,
/// `hash`, `identity`, `snapshot`.
#[test]
fn a_shared_state_is_kept_without_a_copy_and_saved_in_the_same_form() {
    let policy = Redaction::keep_all();
    let current = policy.apply_to(DeviceState::from(&samples::office_laser())).into_shared();
    let (mut agent, mut receiver) = (Agent::new(A), Receiver::new());
    let update = agent.update_shared(&current);
    agent.on_reply(&receiver.receive(&update));
    // The caller's pointer and the acknowledged base's: one state.
    assert_eq!(std::sync::Arc::strong_count(current.get()), 2);
    let saved = agent.save();
    assert_eq!(std::sync::Arc::strong_count(current.get()), 3);
    let json = serde_json::to_value(&saved).unwrap();
    let mut keys: Vec<&str> = json["acked"].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["hash", "identity", "sequence", "snapshot"]);
    assert_eq!(json["acked"]["snapshot"], serde_json::to_value(&current.get().snapshot).unwrap());
    let mut unknown = json.clone();
    unknown["acked"]["extra"] = 1.into();
    assert!(serde_json::from_value::<AgentState>(unknown).is_err());
    let mut restored = Agent::restore(serde_json::from_value(json).unwrap(), &policy).unwrap();
    assert!(matches!(restored.update_shared(&current).body, UpdateBody::Delta { .. }));
}

/// The crash test: an agent and a receiver over a channel that drops, duplicates and reorders;
/// the agent restarts at random points from its last saved state (saved before every send, as
/// the docs require) and re-reads the printer's job log from the cursor it saved, sometimes a
/// little earlier; now and then the device loses its saved state altogether and starts a new
/// instance that re-reads the whole log; the receiver restarts too. 1000 seeded runs: every job
/// reaches the receiver exactly once, the receiver converges to the device's state, and once
/// the channel heals no update is refused for more than two rounds.
#[test]
fn crash_test_agent_restarts_over_a_lossy_channel() {
    for seed in 0..1000u64 {
        crash_run(seed);
    }
}

fn crash_run(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chance = |per_mille: u32| rng.next_u32() % 1000 < per_mille;
    let policy = Redaction::keep_all();
    let mut state = DeviceState::from(&samples::office_laser());
    let mut log: Vec<PrintJob> = Vec::new();
    let mut agent = Agent::new(Instance(1));
    let mut recorded = 0usize;
    let (mut saved, mut saved_cursor) = (agent.save(), 0usize);
    let mut receiver = Receiver::new();
    let mut received: Vec<PrintJob> = Vec::new();
    let (mut to_receiver, mut to_agent): (Vec<Update>, Vec<Reply>) = (Vec::new(), Vec::new());
    let mut instances = 1u32;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let mut link = ChaCha8Rng::seed_from_u64(seed ^ 0x11_4c);

    for tick in 0..40u64 {
        evolve(&mut state, (rng.next_u32() % 8) as u8, tick);
        for _ in 0..rng.next_u32() % 3 {
            let n = log.len() as u64 + 1;
            log.push(job(n));
        }
        for j in &log[recorded..] {
            agent.record_job(policy.apply_to(j.clone()));
        }
        recorded = log.len();
        if chance(100) {
            // Crash before sending: restore the last save, re-read the log from its cursor
            // (sometimes from a little earlier: those jobs were recorded before).
            agent = Agent::restore(saved.clone(), &policy).unwrap();
            recorded = saved_cursor.saturating_sub((rng.next_u32() % 3) as usize);
            for j in &log[recorded..] {
                agent.record_job(policy.apply_to(j.clone()));
            }
            recorded = log.len();
        } else if chance(15) {
            // The device loses its saved state: a new instance re-reads the whole log.
            instances += 1;
            agent = Agent::new(Instance(instances));
            for j in &log {
                agent.record_job(policy.apply_to(j.clone()));
            }
            recorded = log.len();
        }
        let update = agent.update(&policy.apply_to(state.clone()));
        (saved, saved_cursor) = (agent.save(), recorded); // save before you send
        if !chance(200) {
            to_receiver.push(update.clone());
        }
        if chance(100) {
            to_receiver.push(update);
        }
        if chance(30) {
            receiver = Receiver::restore(receiver.save()).unwrap();
        }
        // Deliver a random part of what is in flight, in random order.
        deliver_some(&mut link, &mut to_receiver, |u| {
            let reply = receiver.receive(&u);
            received.extend(receiver.take_jobs());
            to_agent.push(reply);
            if rng.next_u32().is_multiple_of(10) {
                to_agent.push(reply);
            }
        });
        deliver_some(&mut link, &mut to_agent, |r| {
            if !rng.next_u32().is_multiple_of(5) {
                agent.on_reply(&r);
            }
        });
    }
    // Stragglers arrive late, then the channel heals.
    for u in to_receiver.drain(..) {
        receiver.receive(&u);
        received.extend(receiver.take_jobs());
    }
    for r in to_agent.drain(..) {
        agent.on_reply(&r);
    }
    let mut refused = 0;
    for _ in 0..4 {
        let reply = receiver.receive(&agent.update(&policy.apply_to(state.clone())));
        received.extend(receiver.take_jobs());
        refused = if matches!(reply, Reply::Resync { .. }) { refused + 1 } else { 0 };
        agent.on_reply(&reply);
    }
    assert_eq!(refused, 0, "seed {seed}: updates still refused after the channel healed");
    assert_eq!(receiver.state(), Some(&state), "seed {seed}: no convergence");
    let mut got: Vec<u64> = received.iter().map(|j| j.job.sequence).collect();
    got.sort_unstable();
    let want: Vec<u64> = (1..=log.len() as u64).collect();
    assert_eq!(got, want, "seed {seed}: every job exactly once");
}

/// Delivers a random subset of `queue`, in random order; keeps the rest in flight.
fn deliver_some<T>(rng: &mut ChaCha8Rng, queue: &mut Vec<T>, mut on: impl FnMut(T)) {
    let mut keep = Vec::new();
    while !queue.is_empty() {
        let i = (rng.next_u32() as usize) % queue.len();
        let item = queue.swap_remove(i);
        if rng.next_u32().is_multiple_of(3) { keep.push(item) } else { on(item) }
    }
    *queue = keep;
}

fn delta_update(sequence: u64, base_sequence: u64, base: &DeviceState, to: &DeviceState) -> Update {
    Update {
        instance: A,
        sequence,
        body: UpdateBody::Delta {
            base: BaseRef { sequence: base_sequence, hash: StateHash::of(base) },
            delta: Box::new(diff(base, to)),
        },
        events: Vec::new(),
    }
}

fn full_update(sequence: u64, state: &DeviceState) -> Update {
    Update { instance: A, sequence, body: UpdateBody::Full(Box::new(state.clone())), events: Vec::new() }
}

/// The receiver applies a delta to its newest state in place: one that fails part way, or gives
/// an invalid state, leaves the state and its hash as they were, and the next good delta applies.
#[test]
fn a_refused_delta_leaves_the_state_and_its_hash_untouched() {
    let s0 = DeviceState::from(&samples::office_laser());
    let mut s1 = s0.clone();
    evolve(&mut s1, 2, 1);
    let mut receiver = Receiver::new();
    receiver.receive(&full_update(1, &s0));
    assert!(matches!(receiver.receive(&delta_update(2, 1, &s0, &s1)), Reply::Ack { .. }));
    let held = BaseRef { sequence: 2, hash: StateHash::of(&s1) };

    // Meters, levels and identity change, then a removal of a record the base lacks fails.
    let mut moved = s1.clone();
    evolve(&mut moved, 0, 3);
    evolve(&mut moved, 2, 3);
    evolve(&mut moved, 6, 3);
    let mut failing = delta_update(3, 2, &s1, &moved);
    let UpdateBody::Delta { delta, .. } = &mut failing.body else { unreachable!() };
    delta.alerts.removals.push(RecordId(987_654));
    // Meters move and a level goes past its capacity: applies, but the result is invalid.
    let mut invalid = moved.clone();
    invalid.snapshot.consumables[0].level = Level::Amount(u32::MAX);
    for update in [failing, delta_update(3, 2, &s1, &invalid)] {
        let reply = receiver.receive(&update);
        assert!(matches!(reply, Reply::Resync { .. }), "{reply:?}");
        assert_eq!(receiver.state(), Some(&s1));
        // A duplicate is acknowledged with the newest state: its hash, recomputed, is unchanged.
        let ack = receiver.receive(&full_update(2, &s0));
        assert!(matches!(ack, Reply::Ack { state, .. } if state == held), "{ack:?}");
        assert_eq!(StateHash::of(receiver.state().unwrap()), held.hash);
    }
    let reply = receiver.receive(&delta_update(4, 2, &s1, &moved));
    assert!(matches!(reply, Reply::Ack { state, .. } if state.hash == StateHash::of(&moved)), "{reply:?}");
    assert_eq!(receiver.state(), Some(&moved));
}

/// A caller holding the receiver's shared state keeps the state it took: the receiver copies it
/// before changing it in place.
#[test]
fn a_shared_state_held_by_the_caller_is_not_changed_by_the_next_update() {
    let s0 = DeviceState::from(&samples::office_laser());
    let mut s1 = s0.clone();
    evolve(&mut s1, 0, 1);
    let mut receiver = Receiver::new();
    receiver.receive(&full_update(1, &s0));
    let taken = std::sync::Arc::clone(receiver.shared_state().unwrap());
    receiver.receive(&delta_update(2, 1, &s0, &s1));
    assert_eq!(*taken, s0);
    assert_eq!(receiver.state(), Some(&s1));
}

/// Whether `reply` acknowledges a state with `state`'s hash.
fn acked(reply: &Reply, state: &DeviceState) -> bool {
    matches!(reply, Reply::Ack { state: held, .. } if held.hash == StateHash::of(state))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// States kept as the change back from a newer one are rebuilt exactly: after a chain of
    /// deltas applied in place, a delta against any state still in the history gives its target,
    /// acknowledged with the target's hash, and later deltas against either branch still apply.
    #[test]
    fn deltas_against_every_state_in_the_history_apply(
        changes in prop::collection::vec(0u8..8, 1..RECEIVER_HISTORY),
        back in any::<prop::sample::Index>(),
        last in 0u8..8,
    ) {
        let mut chain = vec![DeviceState::from(&samples::office_laser())];
        for (tick, change) in changes.iter().enumerate() {
            let mut next = chain.last().unwrap().clone();
            evolve(&mut next, *change, tick as u64 + 10);
            evolve(&mut next, 2, tick as u64);
            chain.push(next);
        }
        let mut receiver = Receiver::new();
        receiver.receive(&full_update(1, &chain[0]));
        for (i, pair) in chain.windows(2).enumerate() {
            let seq = i as u64 + 2;
            let reply = receiver.receive(&delta_update(seq, seq - 1, &pair[0], &pair[1]));
            prop_assert!(acked(&reply, &pair[1]), "{:?}", reply);
        }
        let newest = chain.len() as u64;
        let k = back.index(chain.len());
        let mut target = chain[k].clone();
        evolve(&mut target, last, 99);
        evolve(&mut target, 4, 100);
        let reply = receiver.receive(&delta_update(newest + 1, k as u64 + 1, &chain[k], &target));
        prop_assert!(acked(&reply, &target), "{:?}", reply);
        prop_assert_eq!(receiver.state(), Some(&target));
        // The former newest is still a base, and so is the one just made.
        let mut other = chain[chain.len() - 1].clone();
        evolve(&mut other, 5, 101);
        let reply = receiver.receive(&delta_update(newest + 2, newest, &chain[chain.len() - 1], &other));
        prop_assert!(acked(&reply, &other), "{:?}", reply);
        let mut after = target.clone();
        evolve(&mut after, 2, 102);
        let reply = receiver.receive(&delta_update(newest + 3, newest + 1, &target, &after));
        prop_assert!(acked(&reply, &after), "{:?}", reply);
        prop_assert_eq!(receiver.state(), Some(&after));
    }
}
