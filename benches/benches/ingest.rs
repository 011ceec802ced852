//! The portal's ingest on a fleet's steady-state updates (office printers: 4 levels and 3 meters
//! move; one job in four updates), 200 devices (`PRINTFLEET_INGEST_DEVICES`) × 50 updates, the first of each a full snapshot:
//! * `sans_io`: `Ingest::receive` + `Ingest::commit` (open, decode, apply, extract the writes,
//!   seal the reply), per update, on one core;
//! * `sans_io_bundled`: the same updates as a collector of all 200 printers sends them: one
//!   bundle per round (docs/wire-format.md §5.9, split at 64 KiB like the agent's collector)
//!   on its own session, `Ingest::receive_bundle` + `commit_bundle`; throughput in updates;
//! * `bare`: the floor it wraps: `Keyring::open`, decode, `Receiver::receive`, `take_jobs`,
//!   `Receiver::save`, encode and seal the reply by hand;
//! * `floor_open`, `floor_decode`, `floor_apply`, `floor_hash`, `floor_extract`, `floor_reply`:
//!   the bare cost of each stage of one update, each over the whole stream, so that the sum of
//!   their times is the floor `sans_io` could reach on this machine: frame open (HMAC-SHA256,
//!   AES-128-CBC, inflate with the preset dictionary), protobuf decode of the update, applying
//!   it in place to the device's state and validating the result, the state hash (canonical
//!   encoding + SHA-256; `hash_via_prost` beside it is the same hash through prost's messages,
//!   as it was computed before), extracting the meter observations and levels, and encoding and sealing
//!   the reply;
//! * `sqlite`: the same stream made durable: batches of one update per device written to SQLite in one
//!   transaction each (WAL, `synchronous = FULL`) before they are committed;
//! * `sqlite_job_heavy`: the same for a job-heavy fleet (20 large-format printers, 19 jobs an
//!   update) after each device sent more jobs than the portal remembers the UUIDs of
//!   (`RECENT_JOBS`), as every such printer has after a few weeks (the warm-up is not timed);
//! * `postgres` (feature `postgres`, with `PRINTFLEET_POSTGRES_URL` set): the same batches of
//!   one update per device written to PostgreSQL in one transaction each (one `UNNEST`
//!   statement per table, `synchronous_commit = on`), each run in a fresh schema.
//!
//! `cargo bench -p printfleet-benches --bench ingest`; with PostgreSQL (a throwaway server as
//! `crates/store/tests/postgres.sh` starts one):
//! `PRINTFLEET_POSTGRES_URL=... cargo bench -p printfleet-benches --features postgres --bench ingest -- postgres`.

// Benchmark set-up on fixed inputs: a failure is a bug to see at once.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use printfleet_agent::{DeviceAgent, Schedule};
use printfleet_auth::{FleetMasterKey, KeyEpoch, one_shot, sender_id_of};
use printfleet_benches::{reading, store_nothing};
use printfleet_diff::sync::{Instance, Receiver, Reply, StateHash, Update, UpdateBody};
use printfleet_diff::{DeviceState, apply_in_place};
use printfleet_ingest::{Batch, Credential, CustomerId, DeviceRecord, Ingest, Owner, ResellerId};
use printfleet_meter::{Category, ContractId, DeviceId, Observation, ObservationKey, Provenance};
use printfleet_schema::{DurationMs, Level, PageCount, RecordId, Redaction, Timestamp, samples};
use printfleet_store::{SqliteStore, Store};
use printfleet_wire::frame::{FrameHeader, Keyring, MessageKind, SenderId};
use printfleet_wire::{Codec, protobuf};

const UPDATES: u64 = 50;

/// Devices in the fleet: 200, or `PRINTFLEET_INGEST_DEVICES`. The SQLite transactions hold one
/// update per device (a device has one batch in flight at a time), so a larger fleet makes
/// larger transactions and fewer fsyncs per update.
fn devices() -> u64 {
    std::env::var("PRINTFLEET_INGEST_DEVICES").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}
const HOUR: u64 = 3_600_000;

fn rng() -> rand_chacha::ChaCha20Rng {
    rand_core::SeedableRng::seed_from_u64(1)
}

fn master() -> FleetMasterKey {
    FleetMasterKey::from_bytes([0x11; 32])
}

fn name(d: u64) -> String {
    format!("bench-{d}")
}

fn record(d: u64) -> DeviceRecord {
    DeviceRecord {
        name: name(d),
        owner: Owner { reseller: ResellerId(1), customer: CustomerId(d % 7), contract: ContractId(1) },
        meter_device: DeviceId(d),
        revoked: false,
        credentials: vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }],
        collector: None,
    }
}

fn at(ms: u64) -> Timestamp {
    samples::SAMPLE_TIME.checked_add(DurationMs(ms)).unwrap()
}

fn ingest() -> Ingest<FleetMasterKey> {
    let mut ingest = Ingest::new(master());
    for d in 0..devices().max(JOB_HEAVY_DEVICES) {
        ingest.provision(record(d)).unwrap();
    }
    ingest
}

/// Sealed frames with the time each is received.
type Frames = Vec<(Vec<u8>, Timestamp)>;

/// The stream: every device's frames in time order, each acknowledged by a generator portal so
/// that the next is a delta; one job in four updates.
fn stream() -> Frames {
    stream_of(devices(), UPDATES, |step| u64::from(step % 4 == 3))
}

/// Devices of the job-heavy fleet.
const JOB_HEAVY_DEVICES: u64 = 20;
/// Jobs each update of the job-heavy fleet carries: Partner Link's trigger (a report every 19
/// jobs).
const JOB_HEAVY_JOBS: u64 = 19;
/// Updates of the job-heavy fleet that fill each device's window of recent job UUIDs first
/// (three of 700 jobs: more than `RECENT_JOBS`).
const JOB_HEAVY_WARM_UP: u64 = 3;

/// A job-heavy fleet (large-format printers reporting every 19 jobs) whose devices have each
/// sent more jobs than the receiver remembers (`RECENT_JOBS`), as every such printer has after a
/// few weeks: the warm-up frames, then the measured ones.
fn job_heavy_stream() -> (Frames, Frames) {
    let mut frames = stream_of(JOB_HEAVY_DEVICES, JOB_HEAVY_WARM_UP + UPDATES, |step| {
        if step < JOB_HEAVY_WARM_UP { 700 } else { JOB_HEAVY_JOBS }
    });
    let measured = frames.split_off(usize::try_from(JOB_HEAVY_WARM_UP * JOB_HEAVY_DEVICES).unwrap());
    (frames, measured)
}

/// `devices` devices sending `updates` frames each, in time order, with `jobs(step)` jobs each.
fn stream_of(devices: u64, updates: u64, jobs: impl Fn(u64) -> u64) -> Frames {
    let mut rng = rng();
    let mut portal = ingest();
    let mut agents: Vec<DeviceAgent> = (0..devices)
        .map(|d| {
            let secret = master().device_secret(&name(d), KeyEpoch(1));
            let key = one_shot::frame_key(&secret, &name(d), KeyEpoch(1));
            DeviceAgent::new(sender_id_of(&name(d)), &key, Redaction::drop_all(), Schedule::direct(), Instance(1))
        })
        .collect();
    let mut out = Vec::new();
    let template = samples::large_format(1).events.print_jobs.remove(0);
    let mut job_sequence = 0;
    for step in 0..updates {
        let now = at(step * 3 * HOUR + 1);
        for (d, agent) in agents.iter_mut().enumerate() {
            agent.handle_reading(now, reading(step + d as u64));
            for _ in 0..jobs(step) {
                job_sequence += 1;
                let mut job = template.clone();
                job.job.sequence = job_sequence;
                job.job.uuid = uuid::Uuid::from_u64_pair(d as u64, job_sequence);
                job.print.pages = PageCount(3);
                agent.handle_job(now, job);
            }
            let t = agent.poll_transmit_saving(now, &mut rng, store_nothing).unwrap().expect("a report is due");
            let batch = portal.receive(&t.frame, now).unwrap();
            let reply = portal.commit(batch, now, &mut rng).unwrap();
            agent.handle_frame(now, &reply);
            out.push((t.frame, now));
        }
    }
    out
}

/// The collector of every device, by name.
const SITE: &str = "bench-site";

/// One bundle's entries: each device and its encoded update.
type Bundle<'a> = Vec<(SenderId, &'a [u8])>;

/// An ingest whose devices are all reported by [`SITE`], with its session open (an in-process
/// SCRAM handshake): the ingest, the session's handle and the collector's end of it.
fn collector_session(
    rng: &mut rand_chacha::ChaCha20Rng,
) -> (Ingest<FleetMasterKey>, printfleet_ingest::SessionHandle, printfleet_wire::frame::DeviceChannel) {
    use printfleet_auth::{ClientHandshake, DecoyKey, ServerConfig, Verifier, server_start};
    let now = at(0);
    let secret = master().device_secret(SITE, KeyEpoch(1));
    let mut ingest = Ingest::new(master());
    let mut site = record(0);
    site.name = SITE.to_owned();
    site.credentials[0].verifier = Some(Verifier::new(&secret, rng));
    let collector = ingest.provision(site).unwrap();
    for d in 0..devices() {
        ingest.provision(DeviceRecord { collector: Some(collector), ..record(d) }).unwrap();
    }
    // One session for the whole stream (50 rounds of 3 hours; a real collector renews daily).
    let lifetime = DurationMs(UPDATES * 3 * HOUR + HOUR);
    let config = ServerConfig::new(DecoyKey::generate(rng)).with_session_lifetime(lifetime);
    let (client, m0) = ClientHandshake::start(SITE, &secret, KeyEpoch(1), rng, now).unwrap();
    let client = client.with_session_lifetime(lifetime);
    let (server, m1) = server_start(&m0, ingest.registry(), &config, rng, now).unwrap();
    let (client, m2) = client.handle_server_first(&m1, now).unwrap();
    let (server_session, m3) = server.handle_client_final(&m2, now).unwrap();
    let session = client.handle_server_final(&m3, now).unwrap();
    let handle = ingest.open_session(server_session, now).unwrap();
    (ingest, handle, session.into_device_channel().unwrap())
}

/// Moves the ingest out (a setup returns it by value).
fn ingest_keep(ingest: &mut Ingest<FleetMasterKey>) -> Ingest<FleetMasterKey> {
    std::mem::replace(ingest, Ingest::new(master()))
}

/// A keyring holding every device's one-shot key (replay windows fresh).
fn keyring() -> Keyring {
    let mut keyring = Keyring::new();
    for d in 0..devices() {
        let secret = master().device_secret(&name(d), KeyEpoch(1));
        keyring.insert(sender_id_of(&name(d)), &one_shot::frame_key(&secret, &name(d), KeyEpoch(1))).unwrap();
    }
    keyring
}

/// The stream opened: each frame's header and payload.
fn opened(frames: &[(Vec<u8>, Timestamp)]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut keyring = keyring();
    frames
        .iter()
        .map(|(frame, now)| {
            let mut payload = Vec::new();
            let header = keyring.open(frame, &[MessageKind::Update], *now, &mut payload).unwrap();
            (header, payload)
        })
        .collect()
}

/// The stream decoded: each update with its sender.
fn decoded(opened: &[(FrameHeader, Vec<u8>)]) -> Vec<(SenderId, Update)> {
    opened.iter().map(|(h, p)| (h.sender_id, protobuf::decode_update(p).unwrap())).collect()
}

/// Applies one update to the device's state in place (a full one replaces it), then validates.
fn apply_one(states: &mut HashMap<SenderId, DeviceState>, sender: SenderId, update: &Update) {
    match &update.body {
        UpdateBody::Full(state) => {
            states.insert(sender, (**state).clone());
        }
        UpdateBody::Delta { delta, .. } => {
            let state = states.get_mut(&sender).unwrap();
            apply_in_place(state, delta).unwrap();
        }
    }
    states[&sender].validate().unwrap();
}

/// What the portal must extract from an applied update: the meters that moved (all of them for a
/// full one) as observations, and the levels read.
fn extract(
    state: &DeviceState,
    update: &Update,
    observations: &mut Vec<Observation>,
    levels: &mut Vec<(RecordId, Level)>,
) {
    let key = ObservationKey { device: DeviceId(1), instance: update.instance.0, sequence: update.sequence };
    let observe = |kind: Category, value| Observation {
        key,
        kind,
        value,
        observed_at: samples::SAMPLE_TIME,
        provenance: Provenance::Agent,
    };
    let meters = &state.snapshot.meters;
    match &update.body {
        UpdateBody::Full(_) => observations.extend(meters.0.iter().map(|(k, v)| observe(k.into(), *v))),
        UpdateBody::Delta { delta, .. } => {
            observations.extend(delta.meters.keys().filter_map(|k| meters.get(k).map(|v| observe(k.into(), v))));
            levels.extend(delta.levels.iter().copied());
        }
    }
}

fn bench(c: &mut Criterion) {
    let frames = stream();
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.sample_size(10);

    // The floor, stage by stage, each over the whole stream.
    let opened = opened(&frames);
    let decoded = decoded(&opened);
    let states: Vec<DeviceState> = {
        let mut states = HashMap::new();
        decoded
            .iter()
            .map(|(sender, update)| {
                apply_one(&mut states, *sender, update);
                states[sender].clone()
            })
            .collect()
    };
    group.bench_function("floor_open", |b| {
        b.iter_batched(
            || (keyring(), Vec::new()),
            |(mut keyring, mut payload)| {
                for (frame, now) in &frames {
                    payload.clear();
                    black_box(keyring.open(frame, &[MessageKind::Update], *now, &mut payload).unwrap());
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("floor_decode", |b| {
        b.iter(|| {
            for (_, payload) in &opened {
                black_box(protobuf::decode_update(payload).unwrap());
            }
        })
    });
    group.bench_function("floor_apply", |b| {
        b.iter_batched(
            HashMap::new,
            |mut states| {
                for (sender, update) in &decoded {
                    apply_one(&mut states, *sender, update);
                }
                states
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("floor_hash", |b| {
        let mut scratch = Vec::new();
        b.iter(|| {
            for state in &states {
                black_box(StateHash::of_sized_in(state, &mut scratch));
            }
        })
    });
    // The hash as it was computed before: through prost's messages, copying every text.
    group.bench_function("hash_via_prost", |b| {
        b.iter(|| {
            for state in &states {
                black_box(StateHash::of_sized_with_prost(state));
            }
        })
    });
    group.bench_function("floor_extract", |b| {
        let (mut observations, mut levels) = (Vec::new(), Vec::new());
        b.iter(|| {
            for (state, (_, update)) in states.iter().zip(&decoded) {
                observations.clear();
                levels.clear();
                extract(state, update, &mut observations, &mut levels);
                black_box((&observations, &levels));
            }
        })
    });
    group.bench_function("floor_reply", |b| {
        b.iter_batched(
            || (keyring(), rng(), Vec::new(), Vec::new()),
            |(mut keyring, mut rng, mut bytes, mut out)| {
                for ((header, _), (state, (_, update))) in opened.iter().zip(states.iter().zip(&decoded)) {
                    let reply = Reply::Ack {
                        instance: update.instance,
                        state: printfleet_diff::sync::BaseRef { sequence: update.sequence, hash: StateHash(0) },
                        events_through: 0,
                    };
                    black_box(state);
                    bytes.clear();
                    out.clear();
                    protobuf::encode_reply(&reply, &mut bytes).unwrap();
                    black_box(keyring.seal_reply(
                        header,
                        Codec::Protobuf,
                        &bytes,
                        header.timestamp,
                        &mut rng,
                        &mut out,
                    ))
                    .unwrap();
                }
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("sans_io", |b| {
        b.iter_batched(
            || (ingest(), rng()),
            |(mut ingest, mut rng)| {
                for (frame, now) in &frames {
                    let batch = ingest.receive(frame, *now).unwrap();
                    black_box(ingest.commit(batch, *now, &mut rng).unwrap());
                }
            },
            BatchSize::PerIteration,
        )
    });

    // The collector's view: each round's updates in bundles of at most 64 KiB (before
    // compression), sealed on a fresh session per iteration (the setup, not timed).
    let rounds: Vec<Vec<Bundle<'_>>> = {
        let per_round = usize::try_from(devices()).unwrap();
        opened
            .chunks(per_round)
            .map(|round| {
                let mut bundles = vec![Vec::new()];
                let mut bytes = 0;
                for (h, payload) in round {
                    let len = protobuf::bundle_entry_len(payload.len());
                    if bytes + len > printfleet_agent::MAX_BUNDLE_BYTES && !bundles.last().unwrap().is_empty() {
                        bundles.push(Vec::new());
                        bytes = 0;
                    }
                    bytes += len;
                    bundles.last_mut().unwrap().push((h.sender_id, payload.as_slice()));
                }
                bundles
            })
            .collect()
    };
    let bundle_times: Vec<Timestamp> = frames.chunks(usize::try_from(devices()).unwrap()).map(|r| r[0].1).collect();
    group.bench_function("sans_io_bundled", |b| {
        b.iter_batched(
            || {
                let mut rng = rng();
                let (mut ingest, handle, mut channel) = collector_session(&mut rng);
                let mut sealed = Vec::new();
                for (round, now) in rounds.iter().zip(&bundle_times) {
                    for bundle in round {
                        let mut payload = Vec::new();
                        for (sender, update) in bundle {
                            protobuf::encode_bundle_entry(*sender, update, &mut payload);
                        }
                        let mut frame = Vec::new();
                        channel
                            .seal(MessageKind::Bundle, Codec::Protobuf, &payload, *now, &mut rng, &mut frame)
                            .unwrap();
                        sealed.push((frame, *now));
                    }
                }
                (ingest_keep(&mut ingest), handle, sealed, rng)
            },
            |(mut ingest, handle, sealed, mut rng)| {
                for (frame, now) in &sealed {
                    let bundle = ingest.receive_bundle(handle, frame, *now).unwrap();
                    black_box(ingest.commit_bundle(bundle, *now, &mut rng).unwrap());
                }
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("bare", |b| {
        b.iter_batched(
            || {
                let mut keyring = Keyring::new();
                for d in 0..devices() {
                    let secret = master().device_secret(&name(d), KeyEpoch(1));
                    keyring
                        .insert(sender_id_of(&name(d)), &one_shot::frame_key(&secret, &name(d), KeyEpoch(1)))
                        .unwrap();
                }
                (keyring, HashMap::<SenderId, Receiver>::new(), rng())
            },
            |(mut keyring, mut receivers, mut rng)| {
                let mut payload = Vec::new();
                for (frame, now) in &frames {
                    payload.clear();
                    let request = keyring.open(frame, &[MessageKind::Update], *now, &mut payload).unwrap();
                    let update = protobuf::decode_update(&payload).unwrap();
                    let receiver = receivers.entry(request.sender_id).or_default();
                    let reply = receiver.receive(&update);
                    black_box(receiver.take_jobs());
                    black_box(receiver.save());
                    let mut bytes = Vec::new();
                    protobuf::encode_reply(&reply, &mut bytes).unwrap();
                    let mut out = Vec::new();
                    keyring.seal_reply(&request, Codec::Protobuf, &bytes, *now, &mut rng, &mut out).unwrap();
                    black_box(out);
                }
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("sqlite", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let mut store = SqliteStore::open(dir.path().join("bench.db")).unwrap();
                for d in 0..devices() {
                    store.put_device(&record(d)).unwrap();
                }
                (dir, store, ingest(), rng())
            },
            |(dir, mut store, mut ingest, mut rng)| {
                durable(&mut store, &frames, &mut ingest, &mut rng, devices());
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });

    // A job-heavy fleet whose devices remember a full window of job UUIDs: what each
    // update costs to store once a large-format printer has been reporting for a few weeks.
    let (warm_up, job_heavy) = job_heavy_stream();
    group.throughput(Throughput::Elements(job_heavy.len() as u64));
    group.bench_function("sqlite_job_heavy", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let mut store = SqliteStore::open(dir.path().join("bench.db")).unwrap();
                for d in 0..JOB_HEAVY_DEVICES {
                    store.put_device(&record(d)).unwrap();
                }
                let (mut ingest, mut rng) = (ingest(), rng());
                durable(&mut store, &warm_up, &mut ingest, &mut rng, JOB_HEAVY_DEVICES);
                (dir, store, ingest, rng)
            },
            |(dir, mut store, mut ingest, mut rng)| {
                durable(&mut store, &job_heavy, &mut ingest, &mut rng, JOB_HEAVY_DEVICES);
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    group.throughput(Throughput::Elements(frames.len() as u64));

    #[cfg(feature = "postgres")]
    match std::env::var("PRINTFLEET_POSTGRES_URL") {
        Ok(url) => {
            let mut run = 0u32;
            group.bench_function("postgres", |b| {
                b.iter_batched(
                    || {
                        run += 1;
                        let schema = pg::Schema::fresh(&url, run);
                        let mut store = printfleet_store::PostgresStore::connect_in_schema(&url, &schema.name).unwrap();
                        for d in 0..devices() {
                            store.put_device(&record(d)).unwrap();
                        }
                        (schema, store, ingest(), rng())
                    },
                    |(schema, mut store, mut ingest, mut rng)| {
                        durable(&mut store, &frames, &mut ingest, &mut rng, devices());
                        (schema, store)
                    },
                    BatchSize::PerIteration,
                )
            });
        }
        Err(_) => eprintln!("notice: PRINTFLEET_POSTGRES_URL is unset: ingest/postgres skipped"),
    }
    group.finish();
}

/// The stream of a fleet of `devices` made durable: one batch per device in flight, all of them
/// written in one `write_batches` call (one transaction) before they are committed and the
/// replies sealed.
fn durable(
    store: &mut impl Store,
    frames: &[(Vec<u8>, Timestamp)],
    ingest: &mut Ingest<FleetMasterKey>,
    rng: &mut rand_chacha::ChaCha20Rng,
    devices: u64,
) {
    let store_batch = usize::try_from(devices).unwrap();
    let mut pending = Vec::with_capacity(store_batch);
    let mut flush = |pending: &mut Vec<Batch>, ingest: &mut Ingest<_>, now| {
        store.write_batches(&pending.iter().collect::<Vec<_>>()).unwrap();
        for batch in pending.drain(..) {
            black_box(ingest.commit(batch, now, rng).unwrap());
        }
    };
    let mut last = at(0);
    for (frame, now) in frames {
        // One batch per device in flight: flush before a device's next frame.
        if pending.len() == store_batch {
            flush(&mut pending, ingest, *now);
        }
        pending.push(ingest.receive(frame, *now).unwrap());
        last = *now;
    }
    flush(&mut pending, ingest, last);
}

#[cfg(feature = "postgres")]
mod pg {
    /// A schema of its own for one run, dropped afterwards (outside the measured time).
    pub(crate) struct Schema {
        url: String,
        pub(crate) name: String,
    }

    impl Schema {
        pub(crate) fn fresh(url: &str, run: u32) -> Self {
            let name = format!("bench_{}_{run}", std::process::id());
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).unwrap();
            Self { url: url.to_owned(), name }
        }
    }

    impl Drop for Schema {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
            }
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
