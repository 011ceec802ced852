//! Limits are enforced before allocation, and malformed input fails with the right error.

use printfleet_schema::limits::{MAX_IP_ADDRESSES, MAX_JOBS, MAX_TEXT_BYTES};
use printfleet_schema::{DeviceReport, samples};
use printfleet_wire::limits::{MAX_JSON_BYTES, MAX_PROTOBUF_BYTES, MAX_XML_BYTES};
use printfleet_wire::{Codec, Error, ProtobufError, pb};
use prost::Message;

/// A protobuf length-delimited field.
fn field(number: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_key(number, prost::encoding::WireType::LengthDelimited, &mut out);
    prost::encoding::encode_varint(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    out
}

#[test]
fn oversized_inputs_are_refused_before_parsing() {
    for (codec, limit) in
        [(Codec::Protobuf, MAX_PROTOBUF_BYTES), (Codec::Xml, MAX_XML_BYTES), (Codec::Json, MAX_JSON_BYTES)]
    {
        let input = vec![b' '; limit + 1];
        assert!(matches!(codec.decode(&input), Err(Error::TooLarge { len, .. }) if len == limit + 1), "{codec}");
    }
}

#[test]
fn protobuf_job_count_is_limited_before_decoding() {
    // DeviceReport.events (4) holding MAX_JOBS + 1 minimal print jobs (Events.print_jobs = 1,
    // each only a JobHeader with a UUID): 22 bytes each on the wire, hundreds once decoded.
    let one_job = field(1, &field(1, &field(2, &[7; 16])));
    let jobs: Vec<u8> = one_job.iter().copied().cycle().take(one_job.len() * (MAX_JOBS + 1)).collect();
    let input = field(4, &jobs);
    match Codec::Protobuf.decode(&input) {
        Err(Error::Protobuf(ProtobufError::TooMany { field: "Events.print_jobs", limit })) => {
            assert_eq!(limit, MAX_JOBS)
        }
        other => panic!("{other:?}"),
    }
    // A megabyte of them: the same answer, after decoding no more than the limit.
    let jobs: Vec<u8> = one_job.iter().copied().cycle().take(one_job.len() * 50_000).collect();
    assert!(matches!(Codec::Protobuf.decode(&field(4, &jobs)), Err(Error::Protobuf(ProtobufError::TooMany { .. }))));
}

#[test]
fn protobuf_text_and_bytes_lengths_are_limited() {
    let long = vec![b'a'; MAX_TEXT_BYTES + 1];
    let input = field(2, &field(2, &long)); // identity.make
    assert!(matches!(
        Codec::Protobuf.decode(&input),
        Err(Error::Protobuf(ProtobufError::TooLong { field: "Identity.make", .. }))
    ));
    let input = field(2, &field(10, &[1, 2, 3, 4, 5, 6, 7])); // identity.mac_address
    assert!(matches!(
        Codec::Protobuf.decode(&input),
        Err(Error::Protobuf(ProtobufError::BadLength { field: "Identity.mac_address", len: 7, .. }))
    ));
    let input = field(2, &field(10, &[1, 2, 3])); // a 3-byte MAC
    assert!(matches!(
        Codec::Protobuf.decode(&input),
        Err(Error::Protobuf(ProtobufError::BadLength { field: "Identity.mac_address", .. }))
    ));
    let ips: Vec<u8> = (0..=MAX_IP_ADDRESSES).flat_map(|_| field(12, &[10, 0, 0, 1])).collect();
    assert!(matches!(
        Codec::Protobuf.decode(&field(2, &ips)),
        Err(Error::Protobuf(ProtobufError::TooMany { field: "Identity.ip_addresses", .. }))
    ));
}

#[test]
fn protobuf_contract_violations_are_typed() {
    let mut m = pb::DeviceReport::from(&samples::office_laser());
    m.generated_at = u64::MAX;
    assert!(matches!(
        Codec::Protobuf.decode(&m.encode_to_vec()),
        Err(Error::Protobuf(ProtobufError::OutOfRange { field: "DeviceReport.generated_at", .. }))
    ));

    let mut m = pb::DeviceReport::from(&samples::office_laser());
    m.snapshot.as_mut().unwrap().consumables[0].level = -4;
    assert!(matches!(
        Codec::Protobuf.decode(&m.encode_to_vec()),
        Err(Error::Protobuf(ProtobufError::OutOfRange { field: "Consumable.level", value: -4 }))
    ));

    let mut m = pb::DeviceReport::from(&samples::office_laser());
    m.snapshot.as_mut().unwrap().consumables[0].colour = Some(pb::Colour { code: 3, name: "cyan".into() });
    assert!(matches!(
        Codec::Protobuf.decode(&m.encode_to_vec()),
        Err(Error::Protobuf(ProtobufError::Missing { field: "Consumable.colour" }))
    ));

    let mut m = pb::DeviceReport::from(&samples::office_laser());
    m.snapshot.as_mut().unwrap().consumables[0].colour = Some(pb::Colour { code: 20, name: String::new() });
    assert!(matches!(
        Codec::Protobuf.decode(&m.encode_to_vec()),
        Err(Error::Protobuf(ProtobufError::BadValue { field: "Consumable.colour" }))
    ));

    let mut m = pb::DeviceReport::from(&samples::inkjet());
    m.events.as_mut().unwrap().print_jobs[0].job.as_mut().unwrap().uuid.pop();
    assert!(matches!(
        Codec::Protobuf.decode(&m.encode_to_vec()),
        Err(Error::Protobuf(ProtobufError::BadLength { field: "JobHeader.uuid", .. }))
    ));

    let mut m = pb::DeviceReport::from(&samples::office_laser());
    let meters = &mut m.snapshot.as_mut().unwrap().meters;
    let dup = meters[0].clone();
    meters.push(dup);
    assert!(matches!(
        Codec::Protobuf.decode(&m.encode_to_vec()),
        Err(Error::Protobuf(ProtobufError::BadValue { field: "Snapshot.meters" }))
    ));

    // Schema rules the wire types cannot express come back as Invalid.
    let mut m = pb::DeviceReport::from(&samples::office_laser());
    m.identity.as_mut().unwrap().make = Some("nul\0byte".into());
    assert!(matches!(Codec::Protobuf.decode(&m.encode_to_vec()), Err(Error::Invalid(_))));
}

#[test]
fn protobuf_unknown_fields_are_skipped_and_groups_refused() {
    let report = samples::office_laser();
    let mut bytes = Codec::Protobuf.encode_to_vec(&report).unwrap();
    // A field 99 of every wire type a newer writer might add.
    prost::encoding::encode_key(99, prost::encoding::WireType::Varint, &mut bytes);
    prost::encoding::encode_varint(7, &mut bytes);
    bytes.extend(field(98, b"future"));
    prost::encoding::encode_key(97, prost::encoding::WireType::SixtyFourBit, &mut bytes);
    bytes.extend([0; 8]);
    prost::encoding::encode_key(96, prost::encoding::WireType::ThirtyTwoBit, &mut bytes);
    bytes.extend([0; 4]);
    assert_eq!(Codec::Protobuf.decode(&bytes).unwrap(), report);

    let mut bytes = Codec::Protobuf.encode_to_vec(&report).unwrap();
    prost::encoding::encode_key(95, prost::encoding::WireType::StartGroup, &mut bytes);
    assert!(matches!(Codec::Protobuf.decode(&bytes), Err(Error::Protobuf(ProtobufError::Structure(_)))));
}

#[test]
fn protobuf_wire_types_are_checked() {
    // identity (2) sent as a varint.
    let mut bytes = Vec::new();
    prost::encoding::encode_key(2, prost::encoding::WireType::Varint, &mut bytes);
    prost::encoding::encode_varint(1, &mut bytes);
    assert!(matches!(
        Codec::Protobuf.decode(&bytes),
        Err(Error::Protobuf(ProtobufError::WireType { field: "DeviceReport.identity" }))
    ));
    // A uint32 field holding more than 32 bits.
    let mut status = Vec::new();
    prost::encoding::encode_key(1, prost::encoding::WireType::Varint, &mut status);
    prost::encoding::encode_varint(1 << 32, &mut status);
    assert!(matches!(
        Codec::Protobuf.decode(&field(3, &field(1, &status))),
        Err(Error::Protobuf(ProtobufError::OutOfRange { field: "DeviceStatus.engine", .. }))
    ));
}

#[test]
fn protobuf_unknown_fields_may_repeat() {
    let report = samples::office_laser();
    let mut bytes = Codec::Protobuf.encode_to_vec(&report).unwrap();
    bytes.extend(field(20, b"a"));
    bytes.extend(field(20, b"b"));
    assert_eq!(Codec::Protobuf.decode(&bytes).unwrap(), report);
}

#[test]
fn protobuf_singular_fields_may_not_repeat() {
    let mut bytes = Codec::Protobuf.encode_to_vec(&samples::office_laser()).unwrap();
    bytes.extend(field(2, &[])); // a second `identity`
    assert!(matches!(
        Codec::Protobuf.decode(&bytes),
        Err(Error::Protobuf(ProtobufError::Repeated { message: "DeviceReport", number: 2 }))
    ));
}

#[test]
fn json_limits_apply_while_deserialising() {
    let jobs = vec!["{\"job\":{\"uuid\":\"00000000-0000-0000-0000-000000000000\"}}"; MAX_JOBS + 1].join(",");
    let json = format!("{{\"events\":{{\"print_jobs\":[{jobs}]}}}}");
    let err = Codec::Json.decode(json.as_bytes()).unwrap_err();
    assert!(matches!(err, Error::Json(_)), "{err}");
    assert!(err.to_string().contains("at most 1024"), "{err}");

    let dup = r#"{"snapshot":{"media_types":[{"id":"a","names":{"en":"x","en":"y"}}]}}"#;
    assert!(Codec::Json.decode(dup.as_bytes()).unwrap_err().to_string().contains("repeated key"));

    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(Codec::Json.decode(deep.as_bytes()), Err(Error::Json(_))));
}

#[test]
fn decoded_reports_are_validated() {
    let mut report = samples::office_laser();
    let dup = report.snapshot.consumables[0].clone();
    report.snapshot.consumables.push(dup);
    // Bypass the encoder's validation to produce the bytes a faulty peer might send.
    let bytes = pb::DeviceReport::from(&report).encode_to_vec();
    assert!(matches!(
        Codec::Protobuf.decode(&bytes),
        Err(Error::Invalid(printfleet_schema::Error::DuplicateRecordId { .. }))
    ));
    let json = serde_json::to_vec(&report).unwrap();
    assert!(matches!(Codec::Json.decode(&json), Err(Error::Invalid(_))));
    let _: DeviceReport = Codec::Json.decode(&serde_json::to_vec(&samples::office_laser()).unwrap()).unwrap();
}
