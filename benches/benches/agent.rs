//! The agent layer's cost beside the bare work it wraps, on an office printer's steady-state
//! change (4 levels, 3 meters):
//! * `agent`: a reading in, the report out as a sealed delta frame (`DeviceAgent::handle_reading`,
//!   `save`/`saved`, `poll_transmit`: redaction, scheduling, sync bookkeeping, the checkpoint);
//! * `bare`: the same delta computed by `sync::Agent::update`, encoded and sealed by hand.
//!
//! Plus a collector of 10 000 device agents (1 000 under `--test`): one poll round's bookkeeping
//! (every device read, reported and saved), per device.
//! `cargo bench -p printfleet-benches --bench agent`.

// Benchmark set-up on fixed inputs: a failure is a bug to see at once.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use printfleet_agent::{Collector, DeviceAgent, Schedule};
use printfleet_benches::{reading, store_nothing};
use printfleet_diff::DeviceState;
use printfleet_diff::sync::{Agent, Instance, Reply};
use printfleet_schema::{DeviceReport, DurationMs, Redaction, Timestamp, samples};
use printfleet_wire::frame::{CipherSuite, DeviceChannel, FrameKey, KeyId, MessageKind, SenderId};
use printfleet_wire::{Codec, protobuf};

/// A seeded CSPRNG: reproducible inputs; IV quality does not change the timings.
fn rng() -> rand_chacha::ChaCha20Rng {
    rand_core::SeedableRng::seed_from_u64(1)
}

fn key(n: u64) -> FrameKey {
    let mut secret = [7u8; 32];
    secret[..8].copy_from_slice(&n.to_be_bytes());
    FrameKey::new(&secret, KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap()
}

/// Drives an agent as the docs say: save whenever asked, then take the frame.
fn drive(
    agent: &mut DeviceAgent,
    now: Timestamp,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Option<printfleet_agent::Transmit> {
    agent.poll_transmit_saving(now, rng, store_nothing).unwrap()
}

fn at(ms: u64) -> Timestamp {
    samples::SAMPLE_TIME.checked_add(DurationMs(ms)).unwrap()
}

fn cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("agent_cycle");
    let mut rng = rng();
    // Report every millisecond: every poll a second later finds a report due, a delta against the state
    // acknowledged during set-up.
    let schedule =
        Schedule::direct().with_interval(DurationMs(1)).unwrap().with_retry(DurationMs(1), DurationMs(1)).unwrap();
    let mut agent = DeviceAgent::new(SenderId(1), &key(1), Redaction::drop_all(), schedule, Instance(1));
    let mut sync = Agent::new(Instance(1));
    // Set-up: one full state acknowledged on both, so that what follows are deltas.
    agent.handle_reading(at(0), reading(0));
    let first = drive(&mut agent, at(0), &mut rng).unwrap();
    let mut portal = printfleet_wire::frame::Keyring::new();
    portal.insert(SenderId(1), &key(1)).unwrap();
    let mut receiver = printfleet_diff::sync::Receiver::new();
    let mut payload = Vec::new();
    let request = portal.open(&first.frame, &[MessageKind::Update], at(0), &mut payload).unwrap();
    let reply = receiver.receive(&protobuf::decode_update(&payload).unwrap());
    let mut bytes = Vec::new();
    protobuf::encode_reply(&reply, &mut bytes).unwrap();
    let mut frame = Vec::new();
    portal.seal_reply(&request, Codec::Protobuf, &bytes, at(0), &mut rng, &mut frame).unwrap();
    agent.handle_frame(at(0), &frame);

    let policy = Redaction::drop_all();
    let base = policy.apply_to(DeviceState::from(&reading(0)));
    let u = sync.update(&base);
    if let Reply::Ack { instance, events_through, .. } = reply {
        let state = printfleet_diff::sync::BaseRef {
            sequence: u.sequence,
            hash: printfleet_diff::sync::StateHash::of(base.get()),
        };
        sync.on_reply(&Reply::Ack { instance, state, events_through });
    }
    let mut channel = DeviceChannel::new(SenderId(2), &key(2));
    let r = channel.reserve_block(u64::MAX / 2);
    channel.reservation_saved(r).unwrap();

    let readings: Vec<DeviceReport> = (1..=64).map(reading).collect();
    let mut step = 0u64;
    group.bench_function("steady/agent", |b| {
        b.iter(|| {
            step += 1;
            let now = at(step * 1000);
            agent.handle_reading(now, readings[(step % 64) as usize].clone());
            black_box(drive(&mut agent, now, &mut rng).unwrap())
        })
    });
    let mut out = Vec::new();
    group.bench_function("steady/bare", |b| {
        b.iter(|| {
            step += 1;
            let now = at(step * 1000);
            let state = DeviceState::from(&readings[(step % 64) as usize].clone());
            let update = sync.update(&policy.apply_to(state));
            let mut payload = Vec::new();
            protobuf::encode_update(&update, &mut payload).unwrap();
            out.clear();
            channel.seal(MessageKind::Update, Codec::Protobuf, &payload, now, &mut rng, &mut out).unwrap();
            black_box(out.len())
        })
    });
    group.finish();

    // A collector of many printers: one round of bookkeeping (read, report, save) per device.
    let devices: u64 = if std::env::args().any(|a| a == "--test") { 1_000 } else { 10_000 };
    let schedule = Schedule::collector(printfleet_agent::COLLECTOR_MIN_INTERVAL).unwrap();
    let mut collector = Collector::new();
    for d in 0..devices {
        collector.insert(at(0), DeviceAgent::new(SenderId(d), &key(d), Redaction::drop_all(), schedule, Instance(1)));
    }
    let interval = schedule.interval().0;
    let mut round = 0u64;
    let mut group = c.benchmark_group("collector");
    group.sample_size(10);
    group.bench_function(format!("round_of_{devices}"), |b| {
        b.iter(|| {
            let now = at(round * interval);
            round += 1;
            while let Some(d) = collector.poll_read(now) {
                collector.handle_reading(d, now, readings[(round % 64) as usize].clone()).unwrap();
            }
            let mut sent = 0;
            loop {
                if collector.needs_save() {
                    let cp = collector.save();
                    collector.saved(cp).unwrap();
                }
                match collector.poll_transmit(now, &mut rng) {
                    Some(_) => sent += 1,
                    None if collector.needs_save() => {}
                    None => break,
                }
            }
            black_box(sent)
        })
    });
    group.finish();
}

criterion_group!(benches, cycle);
criterion_main!(benches);
