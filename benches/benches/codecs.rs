//! Encode and decode throughput of the three codecs on the sample reports, side by side with
//! plain `serde_json` (no limits, no validation) on the same report: the baseline a user would
//! otherwise reach for. `benches/ratios.py` turns criterion's estimates into the ratios.
//!
//! `cargo bench -p printfleet-benches --bench codecs` (add `-- --test` to run each once).

// Benchmark set-up on fixed samples: a failure is a bug to see at once, not an error to handle.
#![allow(clippy::expect_used, clippy::cast_possible_truncation)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use printfleet_schema::{DeviceReport, samples};
use printfleet_wire::Codec;

fn reports() -> [(&'static str, DeviceReport); 2] {
    // "typical": an office device's report; "large_format": 200 jobs of a plotter.
    [("typical", samples::office_laser()), ("large_format", samples::large_format(200))]
}

fn decode(c: &mut Criterion) {
    for (name, report) in reports() {
        let mut group = c.benchmark_group(format!("decode/{name}"));
        for codec in Codec::ALL {
            let bytes = codec.encode_to_vec(&report).expect("sample encodes");
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_function(codec.name(), |b| b.iter(|| codec.decode(black_box(&bytes)).expect("decodes")));
        }
        let json = serde_json::to_vec(&report).expect("sample serialises");
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function("serde_json_baseline", |b| {
            b.iter(|| serde_json::from_slice::<DeviceReport>(black_box(&json)).expect("decodes"))
        });
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    for (name, report) in reports() {
        let mut group = c.benchmark_group(format!("encode/{name}"));
        for codec in Codec::ALL {
            let len = codec.encode_to_vec(&report).expect("sample encodes").len();
            group.throughput(Throughput::Bytes(len as u64));
            let mut out = Vec::with_capacity(len);
            group.bench_function(codec.name(), |b| {
                b.iter(|| {
                    out.clear();
                    codec.encode(black_box(&report), &mut out).expect("encodes");
                })
            });
        }
        let len = serde_json::to_vec(&report).expect("sample serialises").len();
        group.throughput(Throughput::Bytes(len as u64));
        let mut out = Vec::with_capacity(len);
        group.bench_function("serde_json_baseline", |b| {
            b.iter(|| {
                out.clear();
                serde_json::to_writer(&mut out, black_box(&report)).expect("serialises");
            })
        });
        group.finish();
    }
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
