//! A printer agent keeps a portal's view of its printer up to date over a lossy link: change
//! detection (`printfleet-diff`), the update and reply encodings and sealed frames
//! (`printfleet-wire`), end to end.
//!
//! ```sh
//! cargo run -p printfleet-examples --example delta_sync
//! ```
//!
//! An office printer is polled 200 times (toner goes down, meters go up, alerts come and go, jobs
//! are printed). Each poll the agent sends an update — a full state first, then deltas — as a
//! sealed protobuf frame; the link drops one frame in five each way and delivers one in ten
//! twice (the portal's replay window discards the copy). Halfway through the portal restarts and
//! loses its view; it asks for a resync. At the end the portal holds exactly the printer's state
//! and every job once. Sans-IO all the way: the "network" is two queues in this file, the clock
//! and the random generator are inputs.

// Small counters of a fixed-length demonstration.
#![allow(clippy::arithmetic_side_effects)]

use std::collections::VecDeque;

use printfleet_diff::DeviceState;
use printfleet_diff::sync::{Agent, Instance, Receiver, Reply, Update, UpdateBody};
use printfleet_schema::{
    Alert, JobHeader, Level, MeterKind, PageCount, PrintJob, RecordId, Redaction, Timestamp, samples,
};
use printfleet_wire::frame::{CipherSuite, DeviceChannel, FrameKey, KeyId, Keyring, MessageKind, OsRng, SenderId};
use printfleet_wire::{Codec, protobuf};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

const POLLS: u64 = 200;
const DEVICE: SenderId = SenderId(7);

/// One poll later: what a real agent would read from the printer (`printfleet-sources`).
fn poll(state: &mut DeviceState, n: u64, rng: &mut ChaCha20Rng) -> Vec<PrintJob> {
    let s = &mut state.snapshot;
    let pages = rng.next_u64() % 40;
    let total = s.meters.get(&MeterKind::TOTAL).unwrap_or(0);
    s.meters.set(MeterKind::TOTAL, total.saturating_add(pages));
    for c in s.consumables.iter_mut().take(4) {
        if let Level::Amount(l) = c.level
            && rng.next_u32().is_multiple_of(4)
        {
            // A new cartridge when one runs out.
            c.level = Level::Amount(if l == 0 { 100 } else { l - 1 });
        }
    }
    match n % 25 {
        5 => s.alerts.push(Alert {
            record_id: RecordId(1000 + n),
            description: Some("Tray 2 open".into()),
            ..Alert::default()
        }),
        12 => s.alerts.retain(|a| a.record_id.0 < 1000),
        _ => {}
    }
    (0..pages / 15)
        .map(|i| {
            let mut job = PrintJob { job: JobHeader::default(), ..PrintJob::default() };
            job.job.uuid = uuid::Uuid::from_u64_pair(n, i);
            job.job.sequence = n * 10 + i;
            job.print.pages = PageCount(15);
            job
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The simulated printer and link are seeded, so that every run tells the same story; IVs
    // come from the operating system, as they must.
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    let mut link_rng = ChaCha20Rng::seed_from_u64(11);
    let mut ivs = OsRng::default();
    // Per-device keys come from printfleet-auth (one-shot mode) in a deployment; a fixed
    // secret keeps this demonstration reproducible.
    let key = FrameKey::new(&[0x5a; 32], KeyId(1), CipherSuite::Aes128CbcHmacSha256)?;
    // The device's end: it reserves sequence numbers and would persist each reservation.
    let mut channel = DeviceChannel::new(DEVICE, &key);
    let reservation = channel.reserve();
    // (A real agent writes `reservation.checkpoint()` to storage here.)
    channel.reservation_saved(reservation)?;
    // The portal's end: one keyring for every device's keys and replay windows.
    let mut keyring = Keyring::new();
    keyring.insert(DEVICE, &key)?;

    let mut device = DeviceState::from(&samples::office_laser());
    // What leaves the site goes through the site's redaction policy (here: drop every personal
    // field). The agent's instance is random, drawn when it starts without saved state.
    let policy = Redaction::drop_all();
    let mut agent = Agent::new(Instance(rng.next_u32()));
    let mut portal = Receiver::new();
    let (mut to_portal, mut to_agent) = (VecDeque::new(), VecDeque::new());
    let (mut all_jobs, mut all_received) = (Vec::new(), Vec::new());
    let (mut full_bytes, mut delta_bytes, mut deltas, mut fulls, mut lost) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut framed_bytes = 0usize;
    let mut start = Timestamp::from_unix_millis(1_800_000_000_000)?;

    for n in 0..POLLS {
        let now = start;
        start = start.checked_add(printfleet_schema::DurationMs(3 * 3_600_000)).ok_or("time")?;
        for job in poll(&mut device, n, &mut rng) {
            let job = policy.apply_to(job);
            all_jobs.push(job.get().clone());
            agent.record_job(job);
        }
        // The last polls run over a link that has healed, so that the example ends converged.
        let lossy = n < POLLS - 5;

        // Agent -> portal.
        let update = agent.update(&policy.apply_to(device.clone()));
        // A real agent persists `agent.save()` here, before the update leaves the device.
        let mut payload = Vec::new();
        protobuf::encode_update(&update, &mut payload)?;
        let mut frame = Vec::new();
        channel.seal(MessageKind::Update, Codec::Protobuf, &payload, now, &mut ivs, &mut frame)?;
        // What the state change alone costs: the update without its job events, unframed.
        let mut change = Vec::new();
        protobuf::encode_update(&Update { events: Vec::new(), ..update.clone() }, &mut change)?;
        match &update.body {
            UpdateBody::Full(_) => (fulls += 1, full_bytes += change.len()),
            UpdateBody::Delta { .. } => (deltas += 1, delta_bytes += change.len()),
        };
        framed_bytes += frame.len();
        deliver(&mut to_portal, frame, lossy, &mut link_rng, &mut lost);

        if n == POLLS / 2 {
            portal = portal.restarted();
            println!("poll {n}: the portal restarts and forgets the printer's state");
        }

        // Portal: open, decode, apply, answer.
        while let Some(frame) = to_portal.pop_front() {
            let mut payload = Vec::new();
            // A replayed copy is refused here.
            let Ok(request) = keyring.open(&frame, &[MessageKind::Update], now, &mut payload) else { continue };
            let update: Update = protobuf::decode_update(&payload)?;
            let reply = portal.receive(&update);
            all_received.extend(portal.take_jobs()); // a real portal stores them, then replies
            if let Reply::Resync { .. } = reply {
                println!("poll {n}: the portal asks for a resync");
            }
            let mut bytes = Vec::new();
            protobuf::encode_reply(&reply, &mut bytes)?;
            let mut frame = Vec::new();
            keyring.seal_reply(&request, Codec::Protobuf, &bytes, now, &mut ivs, &mut frame)?;
            deliver(&mut to_agent, frame, lossy, &mut link_rng, &mut lost);
        }

        // Agent: open the replies.
        while let Some(frame) = to_agent.pop_front() {
            let mut payload = Vec::new();
            if channel.open_reply(&frame, now, &mut payload).is_ok() {
                agent.on_reply(&protobuf::decode_reply(&payload)?);
            }
        }
    }

    println!(
        "{POLLS} polls, {lost} frames lost: {fulls} full states (avg {} B of protobuf), {deltas} deltas (avg {} B); \
         {} B per update on the wire on average, jobs and frame included",
        full_bytes / fulls.max(1),
        delta_bytes / deltas.max(1),
        framed_bytes / usize::try_from(POLLS).unwrap_or(1)
    );
    let converged = portal.state() == Some(policy.apply_to(device.clone()).get());
    let jobs_once = all_received == all_jobs;
    println!("portal state equals the printer's: {converged}; {} jobs, each exactly once: {jobs_once}", all_jobs.len());
    if converged && jobs_once { Ok(()) } else { Err("the portal did not converge".into()) }
}

/// The link: drops one frame in five, delivers one in ten twice.
fn deliver(queue: &mut VecDeque<Vec<u8>>, frame: Vec<u8>, lossy: bool, rng: &mut ChaCha20Rng, lost: &mut usize) {
    let roll = rng.next_u32() % 10;
    if lossy && roll < 2 {
        *lost += 1;
        return;
    }
    if lossy && roll == 2 {
        queue.push_back(frame.clone());
    }
    queue.push_back(frame);
}
