//! Round trips over the schema's strategies and the samples, through the shared helper.

use printfleet_schema::{DeviceReport, samples};
use printfleet_wire::Codec;
use printfleet_wire::delta::{DeviceState, StateHash};
use printfleet_wire::roundtrip::{decode_then_roundtrip, roundtrip};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_codec_round_trips_any_report(report in any::<DeviceReport>()) {
        for codec in Codec::ALL {
            if let Err(e) = roundtrip(codec, &report) {
                return Err(TestCaseError::fail(format!("{e}")));
            }
        }
    }

    /// Truncated or bit-flipped encodings of a valid report never panic, and whatever a codec
    /// still accepts survives a round trip.
    #[test]
    fn damaged_encodings_are_rejected_or_round_trip(report in any::<DeviceReport>(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        for codec in Codec::ALL {
            let bytes = codec.encode_to_vec(&report).unwrap();
            let truncated = &bytes[..cut.index(bytes.len())];
            prop_assert!(decode_then_roundtrip(codec, truncated).is_ok());
            let mut flipped = bytes.clone();
            let at = flip.index(flipped.len());
            flipped[at] ^= 1 << bit;
            prop_assert!(decode_then_roundtrip(codec, &flipped).is_ok());
        }
    }
}

/// The direct protobuf encoder against its oracle, the prost-generated messages: the same bytes,
/// appended after what `out` already held.
fn direct_protobuf_matches_prost(report: &DeviceReport) -> Result<(), String> {
    let (mut direct, mut oracle) = (b"prefix".to_vec(), b"prefix".to_vec());
    printfleet_wire::protobuf::encode(report, &mut direct).map_err(|e| e.to_string())?;
    printfleet_wire::protobuf::encode_with_prost(report, &mut oracle).map_err(|e| e.to_string())?;
    if direct == oracle { Ok(()) } else { Err(format!("direct {direct:02x?}\nprost  {oracle:02x?}")) }
}

/// The state hash over the direct encoder against the hash over prost's messages (the
/// definition in docs/wire-format.md §5.8), with a scratch buffer that held other bytes before.
fn direct_state_hash_matches_prost(report: &DeviceReport) -> Result<(), String> {
    let state = DeviceState::from(report);
    let mut scratch = b"left over from the previous state".to_vec();
    let direct = StateHash::of_sized_in(&state, &mut scratch);
    let oracle = StateHash::of_sized_with_prost(&state);
    if direct != oracle {
        return Err(format!("direct {direct:?}, prost {oracle:?}"));
    }
    if StateHash::of_sized(&state) != oracle || scratch.len() != oracle.1 {
        return Err("of_sized or the scratch bytes disagree".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_direct_protobuf_encoder_writes_prosts_bytes(report in any::<DeviceReport>()) {
        direct_protobuf_matches_prost(&report).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn the_state_hash_over_the_direct_encoder_is_the_hash_over_prosts_bytes(report in any::<DeviceReport>()) {
        direct_state_hash_matches_prost(&report).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn the_state_hash_over_the_direct_encoder_is_the_hash_over_prosts_bytes_for_every_sample() {
    for (name, report) in samples::all().into_iter().chain([("large_format(200)", samples::large_format(200))]) {
        direct_state_hash_matches_prost(&report).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Every sample, and a large-format report whose events need a three-byte length (nested
/// lengths of one, two and three bytes are all widened in place).
#[test]
fn the_direct_protobuf_encoder_writes_prosts_bytes_for_every_sample() {
    let large = samples::large_format(200);
    let mut bytes = Vec::new();
    printfleet_wire::protobuf::encode(&large, &mut bytes).unwrap();
    assert!(bytes.len() > 1 << 14, "{} bytes", bytes.len());
    for (name, report) in samples::all().into_iter().chain([("large_format(200)", large)]) {
        direct_protobuf_matches_prost(&report).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn samples_round_trip_in_every_codec() {
    for (name, report) in samples::all() {
        for codec in Codec::ALL {
            roundtrip(codec, &report).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn invalid_reports_are_not_encoded() {
    let mut report = samples::office_laser();
    report.identity.serial_number = Some(String::new());
    for codec in Codec::ALL {
        assert!(matches!(codec.encode_to_vec(&report), Err(printfleet_wire::Error::Invalid(_))), "{codec}");
    }
}

#[test]
fn protobuf_is_compact() {
    for (name, report) in samples::all() {
        let pb = Codec::Protobuf.encode_to_vec(&report).unwrap().len();
        let json = Codec::Json.encode_to_vec(&report).unwrap().len();
        let xml = Codec::Xml.encode_to_vec(&report).unwrap().len();
        assert!(pb * 3 <= json, "{name}: protobuf {pb} bytes, json {json}");
        assert!(pb < xml, "{name}: protobuf {pb} bytes, xml {xml}");
    }
}

/// `MediaTypeUsage::length`, an optional field added within version 1: carried by every codec
/// (a zero length is present, not absent), the direct encoder still writes prost's bytes, and a
/// record without it encodes as before (the golden vectors, which have none, are unchanged:
/// `golden.rs`), while one with it has another state hash.
#[test]
fn media_length_per_type_is_carried_by_every_codec() {
    use printfleet_schema::LengthUm;
    let without = samples::large_format(1);
    let mut with = without.clone();
    let usage = with.snapshot.usage.as_mut().unwrap();
    usage.media_types[0].length = Some(LengthUm(2_534_000_000));
    usage.media_types[1].length = Some(LengthUm(0));
    for codec in Codec::ALL {
        let bytes = roundtrip(codec, &with).unwrap_or_else(|e| panic!("{codec}: {e}"));
        assert_eq!(codec.decode(&bytes).unwrap(), with, "{codec}");
        assert_ne!(bytes, codec.encode_to_vec(&without).unwrap(), "{codec}: the length is on the wire");
    }
    let xml = String::from_utf8(Codec::Xml.encode_to_vec(&with).unwrap()).unwrap();
    assert!(xml.contains(r#"<media_type_usage media_type="bond" area="2315000000" length="2534000000"/>"#), "{xml}");
    assert!(xml.contains(r#"<media_type_usage media_type="coated" area="418500000" length="0"/>"#), "{xml}");
    let json = String::from_utf8(Codec::Json.encode_to_vec(&without).unwrap()).unwrap();
    assert!(!json.contains(r#""length""#), "absent: no member");
    direct_protobuf_matches_prost(&with).unwrap();
    direct_state_hash_matches_prost(&with).unwrap();
    assert_ne!(StateHash::of(&DeviceState::from(&with)), StateHash::of(&DeviceState::from(&without)));
}
