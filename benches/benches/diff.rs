//! diff + apply on a typical office printer's steady-state change (4 levels, 3 meters) and on a
//! large-format printer's, beside the floor of comparing the two states for equality.
//!
//! Each iteration computes `diff(a, b)`, applies it in place to a working copy of `a`, then applies
//! the precomputed reverse delta to restore it: one diff and two applies, so the time per
//! diff+apply pair is at most the time per iteration.
//! `cargo bench -p printfleet-benches --bench diff`.

// Benchmark set-up on fixed inputs: a failure is a bug to see at once.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use printfleet_diff::sync::{BaseRef, Instance, StateHash, Update, UpdateBody};
use printfleet_diff::{DeviceState, apply_in_place, diff};
use printfleet_schema::{Level, MeterKind, samples};
use printfleet_wire::{Codec, protobuf};

fn changed(a: &DeviceState) -> DeviceState {
    let mut b = a.clone();
    for c in b.snapshot.consumables.iter_mut().take(4) {
        c.level = Level::Amount(3);
    }
    for (i, kind) in [MeterKind::TOTAL, MeterKind::MONO, MeterKind::COLOUR].into_iter().enumerate() {
        let v = b.snapshot.meters.get(&kind).unwrap_or(0);
        b.snapshot.meters.set(kind, v + 10 + i as u64);
    }
    b
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff");
    for (name, report) in [("typical", samples::office_laser()), ("large_format", samples::large_format(0))] {
        let a = DeviceState::from(&report);
        let b = changed(&a);
        let back = diff(&b, &a);
        let mut work = a.clone();
        group.bench_function(format!("{name}/diff_apply"), |bench| {
            bench.iter(|| {
                let delta = diff(black_box(&a), black_box(&b));
                apply_in_place(&mut work, &delta).unwrap();
                apply_in_place(&mut work, &back).unwrap();
            })
        });
        group.bench_function(format!("{name}/equality_floor"), |bench| bench.iter(|| black_box(&a) == black_box(&b)));
    }
    group.finish();
}

/// What a steady-state update costs to encode and decode, beside the full report it replaces.
fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("delta_codec");
    let report = samples::office_laser();
    let a = DeviceState::from(&report);
    let b = changed(&a);
    let base = BaseRef { sequence: 14_599, hash: StateHash::of(&a) };
    let update = Update {
        instance: Instance(0x5eed_0001),
        sequence: 14_600,
        body: UpdateBody::Delta { base, delta: Box::new(diff(&a, &b)) },
        events: Vec::new(),
    };
    let mut buf = Vec::new();
    group.bench_function("typical/update_protobuf", |bench| {
        bench.iter(|| {
            buf.clear();
            protobuf::encode_update(black_box(&update), &mut buf).unwrap();
            protobuf::decode_update(black_box(&buf)).unwrap()
        })
    });
    group.bench_function("typical/full_report_protobuf", |bench| {
        bench.iter(|| {
            buf.clear();
            Codec::Protobuf.encode(black_box(&report), &mut buf).unwrap();
            Codec::Protobuf.decode(black_box(&buf)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench, codec);
criterion_main!(benches);
