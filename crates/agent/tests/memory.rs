//! Memory per device in a collector, in steady state (the state acknowledged, a report sealed and
//! answered): counted by dhat as the heap the agents hold beyond one copy of the device's state.
//! Once acknowledged, the latest reading (what the next report describes) and the base the portal
//! acknowledged (what the next delta is computed against) are the same state, shared.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use printfleet_agent::{Collector, DeviceAgent, Schedule};
use printfleet_diff::DeviceState;
use printfleet_diff::sync::{Instance, Receiver};
use printfleet_schema::{Redaction, samples};
use printfleet_wire::frame::{CipherSuite, FrameKey, KeyId, Keyring, MessageKind, SenderId};
use printfleet_wire::{Codec, protobuf};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// The budget (issue #14): at most 8 KiB per device beyond one copy of its state.
const BUDGET: usize = 8 * 1024;

#[test]
fn a_collector_holds_each_device_in_a_few_kibibytes_beyond_its_state() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let devices = 2_000u64;
    let mut report = samples::office_laser();
    report.events.print_jobs.clear();
    let key = |d: u64| {
        let mut s = [9u8; 32];
        s[..8].copy_from_slice(&d.to_be_bytes());
        FrameKey::new(&s, KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap()
    };
    // The devices' own states, as the baseline.
    let before = dhat::HeapStats::get().curr_bytes;
    let states: Vec<DeviceState> = (0..devices).map(|_| DeviceState::from(&report)).collect();
    let own = (dhat::HeapStats::get().curr_bytes - before) / devices as usize;
    drop(states);

    let mut rng: rand_chacha::ChaCha20Rng = rand_core::SeedableRng::seed_from_u64(3);
    let now = samples::SAMPLE_TIME;
    let mut portal = Keyring::new();
    for d in 0..devices {
        portal.insert(SenderId(d), &key(d)).unwrap();
    }
    let mut receiver = Receiver::new();
    let base = dhat::HeapStats::get().curr_bytes;
    let schedule = Schedule::collector(printfleet_agent::COLLECTOR_INTERVAL).unwrap();
    let mut c = Collector::new();
    for d in 0..devices {
        c.insert(now, DeviceAgent::new(SenderId(d), &key(d), Redaction::drop_all(), schedule, Instance(1)));
    }
    while let Some(d) = c.poll_read(now) {
        c.handle_reading(d, now, report.clone()).unwrap();
    }
    let mut sent = 0;
    loop {
        if c.needs_save() {
            let cp = c.save();
            c.saved(cp).unwrap();
        }
        let Some(t) = c.poll_transmit(now, &mut rng) else {
            if c.needs_save() {
                continue;
            }
            break;
        };
        let mut payload = Vec::new();
        let h = portal.open(&t.frame, &[MessageKind::Update], now, &mut payload).unwrap();
        // One receiver for all: each device's first update is a full state it acknowledges.
        let reply = receiver.receive(&protobuf::decode_update(&payload).unwrap());
        let mut bytes = Vec::new();
        protobuf::encode_reply(&reply, &mut bytes).unwrap();
        let mut frame = Vec::new();
        portal.seal_reply(&h, Codec::Protobuf, &bytes, now, &mut rng, &mut frame).unwrap();
        c.handle_frame(now, &frame).unwrap();
        sent += 1;
        receiver = Receiver::new();
    }
    assert_eq!(sent, devices);
    while c.poll_event().is_some() {}
    drop(receiver);
    let held = (dhat::HeapStats::get().curr_bytes - base) / devices as usize;
    let beyond = held.saturating_sub(own);
    println!("per device: {held} bytes held, {own} bytes per copy of its state, {beyond} beyond one (budget {BUDGET})");
    assert!(beyond <= BUDGET, "{beyond} bytes per device beyond one copy of its state");
}
