//! Metering a simulated fleet (every printer reports its `total` meter every 3 hours), beside a
//! naive baseline that keeps every reading in one `BTreeMap` and sums each device's deltas; and
//! closing one month for the fleet, beside summing that month's deltas from the `BTreeMap`.
//!
//! The fleet is 200 printers × 90 days (144 000 observations) so that `cargo bench -- --test`
//! stays quick; `PRINTFLEET_METER_PRINTERS=10000` runs the full size (7.2 million
//! observations): `PRINTFLEET_METER_PRINTERS=10000 cargo bench -p printfleet-benches --bench meter`.

// Benchmark set-up on fixed inputs: a failure is a bug to see at once.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use printfleet_meter::{Category, ContractId, DeviceId, Meter, Observation, ObservationKey, Provenance};
use printfleet_schema::Timestamp;

const DAYS: u64 = 90;
const HOUR: u64 = 3_600_000;
/// 2025-01-01T00:00:00Z.
const JAN_2025: u64 = 1_735_689_600_000;
const FEB_2025: u64 = JAN_2025 + 31 * 24 * HOUR;

fn printers() -> u64 {
    std::env::var("PRINTFLEET_METER_PRINTERS").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

/// The fleet's observations in arrival order (by time, then printer), seeded.
fn fleet(printers: u64) -> Vec<Observation> {
    let mut state = 0x5eed_u64;
    let mut values = vec![0u64; printers as usize];
    let mut out = Vec::with_capacity((printers * DAYS * 8) as usize);
    for slot in 0..DAYS * 8 {
        let at = Timestamp::from_unix_millis(JAN_2025 + slot * 3 * HOUR).unwrap();
        for (p, v) in values.iter_mut().enumerate() {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            *v += state >> 58; // 0 to 63 pages in 3 hours
            out.push(Observation {
                key: ObservationKey { device: DeviceId(p as u64), instance: 1, sequence: slot + 1 },
                kind: Category::TOTAL,
                value: *v,
                observed_at: at,
                provenance: Provenance::Agent,
            });
        }
    }
    out
}

fn empty_meter(printers: u64) -> Meter {
    printfleet_benches::fleet_meter(printers, Timestamp::from_unix_millis(JAN_2025).unwrap()).unwrap()
}

/// The baseline: every reading in one ordered map, usage as the sum of each device's deltas
/// (no idempotency keys, no segments, no periods).
fn naive(obs: &[Observation]) -> BTreeMap<(DeviceId, Category, Timestamp), u64> {
    let mut all = BTreeMap::new();
    for o in obs {
        all.insert((o.key.device, o.kind.clone(), o.observed_at), o.value);
    }
    all
}

fn naive_usage(all: &BTreeMap<(DeviceId, Category, Timestamp), u64>, until: Timestamp) -> u64 {
    let mut total = 0u64;
    let mut prev: Option<(DeviceId, u64)> = None;
    for ((d, _, at), v) in all {
        if *at >= until {
            continue;
        }
        if let Some((pd, pv)) = prev
            && pd == *d
        {
            total += v.saturating_sub(pv);
        }
        prev = Some((*d, *v));
    }
    total
}

fn bench(c: &mut Criterion) {
    let printers = printers();
    let obs = fleet(printers);
    let mut group = c.benchmark_group("meter_ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(obs.len() as u64));
    group.bench_function("printfleet", |b| {
        b.iter_batched_ref(
            || empty_meter(printers),
            |m| {
                for o in &obs {
                    black_box(m.observe(o).unwrap());
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("btreemap_baseline", |b| b.iter(|| black_box(naive(black_box(&obs)))));
    group.finish();

    // Closing January with February and March already ingested (the usual case: the portal
    // closes a month some days after it ended).
    let mut full = empty_meter(printers);
    for o in &obs {
        full.observe(o).unwrap();
    }
    let map = naive(&obs);
    let now = Timestamp::from_unix_millis(FEB_2025).unwrap();
    let mut group = c.benchmark_group("meter_close");
    group.sample_size(10);
    group.throughput(Throughput::Elements(printers));
    group.bench_function("printfleet", |b| {
        b.iter_batched_ref(
            || full.clone(),
            |m| black_box(m.close_period(ContractId(1), now).unwrap()),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("sum_deltas_baseline", |b| b.iter(|| black_box(naive_usage(black_box(&map), now))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
