//! The whole pipeline per report on the simulator's fleet (printfleet-sim: 60 printers of every
//! kind, 3 days, default faults off, office print jobs as events), ours beside the naive
//! pipeline a user would write instead, in one group:
//! * `agent/printfleet`: a `DeviceAgent` per device fed every reading and job, and at each report
//!   the save, diff, encode, compress and seal, then the portal's ack;
//! * `agent/naive`: the same reports as serde_json of the full reading (with the jobs since the
//!   last one), gzip, Fernet token;
//! * `portal/printfleet`: `Ingest::receive` (open, decode, apply, extract the writes and meter
//!   observations) + `commit` (the reply sealed), and every observation through
//!   `printfleet_meter::Meter::observe`;
//! * `portal/naive`: Fernet decrypt, gunzip, serde_json decode, and the report's meters through
//!   the same `Meter::observe`.
//!
//! Throughput is in reports. `cargo bench -p printfleet-benches --bench pipeline`; the ratios
//! with `python3 benches/ratios.py`.

// Benchmark set-up on fixed inputs: a failure is a bug to see at once.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use printfleet_agent::{DeviceAgent, Schedule};
use printfleet_auth::{FleetMasterKey, KeyEpoch, one_shot};
use printfleet_diff::sync::Instance;
use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Ingest, Owner, ResellerId};
use printfleet_meter::{Category, ContractId, DeviceId, Meter, Observation, ObservationKey, Provenance};
use printfleet_schema::{DeviceReport, DurationMs, PrintJob, Redaction, Timestamp};
use printfleet_sim::naive::Naive;
use printfleet_sim::{EventKind, Faults, Fleet, FleetConfig};
use rand_chacha::ChaCha20Rng;

const PRINTERS: u32 = 60;
const DAYS: u64 = 3;

fn rng() -> ChaCha20Rng {
    rand_core::SeedableRng::seed_from_u64(18)
}

fn master() -> FleetMasterKey {
    FleetMasterKey::from_bytes([0x18; 32])
}

fn config() -> FleetConfig {
    FleetConfig { seed: 18, printers: PRINTERS, faults: Faults::NONE, office_jobs: true, ..FleetConfig::default() }
}

/// What a device agent is fed, in order.
enum Step {
    Reading(usize, Timestamp, Box<DeviceReport>),
    Job(usize, Timestamp, Box<PrintJob>),
    /// A report goes out now; the portal's reply to it.
    Report(usize, Timestamp, Vec<u8>),
}

struct Stream {
    steps: Vec<Step>,
    /// Our frames and when they arrived.
    frames: Vec<(Vec<u8>, Timestamp)>,
    /// The naive pipeline's reports (the full reading with the jobs since the last one).
    naive_reports: Vec<(usize, DeviceReport)>,
}

fn names() -> Vec<String> {
    let fleet = Fleet::new(config()).unwrap();
    fleet.devices().iter().map(|d| d.name().to_owned()).collect()
}

fn agents() -> Vec<DeviceAgent> {
    names()
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let secret = master().device_secret(name, KeyEpoch(1));
            let key = one_shot::frame_key(&secret, name, KeyEpoch(1));
            let sender = printfleet_auth::sender_id_of(name);
            DeviceAgent::new(sender, &key, Redaction::drop_all(), Schedule::direct(), Instance(i as u32 + 1))
        })
        .collect()
}

fn ingest() -> Ingest<FleetMasterKey> {
    let mut ingest = Ingest::new(master());
    for (i, name) in names().into_iter().enumerate() {
        ingest
            .provision(DeviceRecord {
                name,
                owner: Owner { reseller: ResellerId(1), customer: CustomerId(1), contract: ContractId(1) },
                meter_device: DeviceId(i as u64),
                revoked: false,
                credentials: vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }],
                collector: None,
            })
            .unwrap();
    }
    ingest
}

fn meter() -> Meter {
    printfleet_benches::fleet_meter(u64::from(PRINTERS), config().start).unwrap()
}

/// Feeds `agent`, then collects its frame if one is due (saving when asked).
fn poll(agent: &mut DeviceAgent, now: Timestamp, rng: &mut ChaCha20Rng) -> Option<printfleet_agent::Transmit> {
    loop {
        if agent.needs_save() {
            let cp = agent.save();
            agent.saved(cp).unwrap();
        }
        match agent.poll_transmit(now, rng) {
            None if agent.needs_save() => continue,
            t => return t,
        }
    }
}

/// The simulator's events through agents and a generator portal, recorded.
fn stream() -> Stream {
    let config = config();
    let mut fleet = Fleet::new(config.clone()).unwrap();
    let mut events = Vec::new();
    fleet.advance(config.start.checked_add(DurationMs(DAYS * 24 * 3_600_000)).unwrap(), &mut events);
    let mut agents = agents();
    let mut portal = ingest();
    let mut rng = rng();
    let mut latest: Vec<Option<DeviceReport>> = vec![None; agents.len()];
    let mut jobs: Vec<Vec<PrintJob>> = vec![Vec::new(); agents.len()];
    let mut out = Stream { steps: Vec::new(), frames: Vec::new(), naive_reports: Vec::new() };
    for e in events {
        let d = e.device;
        match e.what {
            EventKind::Reading(r) => {
                latest[d] = Some((*r).clone());
                agents[d].handle_reading(e.at, (*r).clone());
                out.steps.push(Step::Reading(d, e.at, r));
            }
            EventKind::Job(j) => {
                jobs[d].push((*j).clone());
                agents[d].handle_job(e.at, (*j).clone());
                out.steps.push(Step::Job(d, e.at, j));
            }
            _ => continue,
        }
        if let Some(t) = poll(&mut agents[d], e.at, &mut rng) {
            let batch = portal.receive(&t.frame, e.at).unwrap();
            let reply = portal.commit(batch, e.at, &mut rng).unwrap();
            agents[d].handle_frame(e.at, &reply);
            let mut report = latest[d].clone().unwrap();
            report.events.print_jobs = std::mem::take(&mut jobs[d]);
            Redaction::drop_all().apply(&mut report);
            out.naive_reports.push((d, report));
            out.frames.push((t.frame, e.at));
            out.steps.push(Step::Report(d, e.at, reply));
        }
    }
    out
}

fn observe_all(meter: &mut Meter, observations: &[Observation]) {
    for o in observations {
        black_box(meter.observe(o).ok());
    }
}

fn bench(c: &mut Criterion) {
    let stream = stream();
    let reports = stream.frames.len() as u64;
    let ours: usize = stream.frames.iter().map(|(f, _)| f.len()).sum();
    let mut sizer = Naive::new([0x18; 32]).unwrap();
    let tokens: Vec<(usize, Vec<u8>)> =
        stream.naive_reports.iter().map(|(d, r)| (*d, sizer.seal(r).unwrap())).collect();
    let naive: usize = tokens.iter().map(|(_, t)| t.len()).sum();
    println!("pipeline: {reports} reports; ours {ours} B up, naive {naive} B ({:.2}x)", naive as f64 / ours as f64);

    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(reports));
    group.sample_size(10);

    group.bench_function("agent/printfleet", |b| {
        b.iter_batched(
            || (agents(), rng()),
            |(mut agents, mut rng)| {
                for step in &stream.steps {
                    match step {
                        Step::Reading(d, now, r) => agents[*d].handle_reading(*now, (**r).clone()),
                        Step::Job(d, now, j) => agents[*d].handle_job(*now, (**j).clone()),
                        Step::Report(d, now, reply) => {
                            black_box(poll(&mut agents[*d], *now, &mut rng).unwrap());
                            agents[*d].handle_frame(*now, reply);
                        }
                    }
                }
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("agent/naive", |b| {
        let mut naive = Naive::new([0x18; 32]).unwrap();
        b.iter(|| {
            for (_, r) in &stream.naive_reports {
                black_box(naive.seal(r).unwrap());
            }
        })
    });

    group.bench_function("portal/printfleet", |b| {
        b.iter_batched(
            || (ingest(), meter(), rng()),
            |(mut ingest, mut meter, mut rng)| {
                for (frame, now) in &stream.frames {
                    let batch = ingest.receive(frame, *now).unwrap();
                    observe_all(&mut meter, &batch.writes().observations);
                    black_box(ingest.commit(batch, *now, &mut rng).unwrap());
                }
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("portal/naive", |b| {
        let naive = Naive::new([0x18; 32]).unwrap();
        b.iter_batched(
            meter,
            |mut meter| {
                for (sequence, (device, token)) in tokens.iter().enumerate() {
                    let report = naive.open(token).unwrap();
                    let device = DeviceId(*device as u64);
                    let key = ObservationKey { device, instance: 1, sequence: sequence as u64 };
                    let observations: Vec<Observation> = report
                        .snapshot
                        .meters
                        .0
                        .iter()
                        .map(|(kind, value)| Observation {
                            key,
                            kind: Category::Meter(kind.clone()),
                            value: *value,
                            observed_at: report.generated_at,
                            provenance: Provenance::Agent,
                        })
                        .collect();
                    observe_all(&mut meter, &observations);
                    black_box(report);
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
