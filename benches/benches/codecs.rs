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
        // Floors: what the card's libraries take on the same bytes before anything is built.
        let pb = Codec::Protobuf.encode_to_vec(&report).expect("sample encodes");
        group.throughput(Throughput::Bytes(pb.len() as u64));
        group.bench_function("prost_generated_floor", |b| {
            b.iter(|| {
                <printfleet_wire::pb::DeviceReport as prost::Message>::decode(black_box(&pb[..])).expect("decodes")
            })
        });
        let xml = Codec::Xml.encode_to_vec(&report).expect("sample encodes");
        group.throughput(Throughput::Bytes(xml.len() as u64));
        group.bench_function("quick_xml_tokens_floor", |b| b.iter(|| quick_xml_tokens(black_box(&xml))));
        group.bench_function("quick_xml_ns_attributes_floor", |b| b.iter(|| quick_xml_ns_attributes(black_box(&xml))));
        group.finish();
    }
}

/// quick-xml's plain reader over every event: the tokenizer alone, no namespaces, no attributes.
fn quick_xml_tokens(xml: &[u8]) -> usize {
    let mut reader = quick_xml::reader::Reader::from_reader(xml);
    let mut events = 0usize;
    loop {
        match reader.read_event().expect("well-formed") {
            quick_xml::events::Event::Eof => return events,
            _ => events = events.wrapping_add(1),
        }
    }
}

/// quick-xml's namespace-aware reader with every attribute parsed, checked and normalised: what
/// the XML decoder used before it read attributes and opened namespace scopes itself.
fn quick_xml_ns_attributes(xml: &[u8]) -> usize {
    use quick_xml::events::Event;
    let mut reader = quick_xml::reader::NsReader::from_reader(xml);
    let mut bytes = 0usize;
    loop {
        match reader.read_resolved_event().expect("well-formed") {
            (_, Event::Eof) => return bytes,
            (_, Event::Start(start) | Event::Empty(start)) => {
                for attr in start.attributes() {
                    let value = attr.expect("well-formed").normalized_value(quick_xml::XmlVersion::Implicit1_0);
                    bytes = bytes.wrapping_add(value.expect("valid").len());
                }
            }
            _ => {}
        }
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
        // The protobuf encoder before it wrote bytes directly: through the prost-generated messages.
        let len = Codec::Protobuf.encode_to_vec(&report).expect("sample encodes").len();
        group.throughput(Throughput::Bytes(len as u64));
        let mut out = Vec::with_capacity(len);
        group.bench_function("protobuf_via_prost", |b| {
            b.iter(|| {
                out.clear();
                printfleet_wire::protobuf::encode_with_prost(black_box(&report), &mut out).expect("encodes");
            })
        });
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
