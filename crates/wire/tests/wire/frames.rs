//! Sealed frames: golden frames, tampering, replay, rotation, limits, dictionaries, interop.

use std::path::PathBuf;

use printfleet_schema::{DurationMs, Timestamp, samples};
use printfleet_wire::Codec;
use printfleet_wire::frame::{
    CipherSuite, Compression, FrameHeader, FrameKey, Opener, REPLAY_WINDOW, RejectReason, ReplayWindow, Sealer,
    from_base64, to_base64,
};

/// A seeded CSPRNG: reproducible frames for tests (seed from the OS in real code).
pub(crate) fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    rand_core::SeedableRng::seed_from_u64(seed)
}

const SENDER: u64 = 0x0102_0304_0506_0708;
const KEY_ID: u32 = 7;

fn key() -> FrameKey {
    FrameKey::new(&(0u8..32).collect::<Vec<_>>()).unwrap()
}

fn now() -> Timestamp {
    samples::SAMPLE_TIME
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/frames")
}

/// (file name, sample, codec, suite, compression)
fn golden_cases() -> Vec<(&'static str, printfleet_schema::DeviceReport, Codec, CipherSuite, bool)> {
    vec![
        (
            "office_laser-protobuf-aes128-deflate",
            samples::office_laser(),
            Codec::Protobuf,
            CipherSuite::Aes128CbcHmacSha256,
            true,
        ),
        ("inkjet-json-aes256-plain", samples::inkjet(), Codec::Json, CipherSuite::Aes256CbcHmacSha256, false),
        (
            "large_format-xml-aes128-deflate",
            samples::large_format(20),
            Codec::Xml,
            CipherSuite::Aes128CbcHmacSha256,
            true,
        ),
        (
            "every_field-protobuf-aes256-deflate",
            samples::every_field(),
            Codec::Protobuf,
            CipherSuite::Aes256CbcHmacSha256,
            true,
        ),
    ]
}

/// Golden frames: made with the fixed key 00..1f, sender 0x0102030405060708, key id 7, sequence
/// 1, the samples' time and IVs from `rng(0x10)`. Bless with
/// `PRINTFLEET_BLESS=1 cargo test -p printfleet-wire --test wire golden_frames`.
#[test]
fn golden_frames_are_stable_and_open() {
    let bless = std::env::var_os("PRINTFLEET_BLESS").is_some();
    std::fs::create_dir_all(testdata()).unwrap();
    for (name, report, codec, suite, compress) in golden_cases() {
        let payload = codec.encode_to_vec(&report).unwrap();
        let mut frame = Vec::new();
        let header = Sealer::new(SENDER, KEY_ID, &key(), suite)
            .with_compression(compress)
            .seal(codec, &payload, now(), &mut rng(0x10), &mut frame)
            .unwrap();
        assert_eq!(header.compression == Compression::Deflate, compress, "{name}: compression should pay");
        let path = testdata().join(format!("{name}.frame"));
        if bless {
            std::fs::write(&path, &frame).unwrap();
            std::fs::write(testdata().join(format!("{name}.payload")), &payload).unwrap();
        }
        let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(golden == frame, "{name}: frame bytes changed; bless only if the format change is intended");
        let mut out = Vec::new();
        let h = Opener::new(SENDER, KEY_ID, &key(), suite).open(&golden, now(), &mut out).unwrap();
        assert_eq!(h, header);
        assert_eq!(out, payload);
        assert_eq!(codec.decode(&out).unwrap(), report);
    }
}

fn sealed(codec: Codec, compress: bool) -> (Vec<u8>, Vec<u8>) {
    let payload = codec.encode_to_vec(&samples::office_laser()).unwrap();
    let mut frame = Vec::new();
    Sealer::new(SENDER, KEY_ID, &key(), CipherSuite::Aes128CbcHmacSha256)
        .with_compression(compress)
        .seal(codec, &payload, now(), &mut rng(1), &mut frame)
        .unwrap();
    (frame, payload)
}

fn opener() -> Opener {
    Opener::new(SENDER, KEY_ID, &key(), CipherSuite::Aes128CbcHmacSha256)
}

#[test]
fn every_bit_flip_and_every_truncation_is_rejected() {
    for compress in [false, true] {
        let (frame, _) = sealed(Codec::Protobuf, compress);
        for i in 0..frame.len() * 8 {
            let mut bad = frame.clone();
            bad[i / 8] ^= 1 << (i % 8);
            let mut out = b"untouched".to_vec();
            let err = opener().open(&bad, now(), &mut out).expect_err("a flipped bit must be rejected");
            assert_eq!(out, b"untouched", "output written for a rejected frame");
            assert_eq!(err.to_string(), "frame rejected");
        }
        for len in 0..frame.len() {
            assert!(opener().open(&frame[..len], now(), &mut Vec::new()).is_err(), "truncated to {len}");
        }
        let mut longer = frame.clone();
        longer.extend_from_slice(&[0; 16]);
        assert!(opener().open(&longer, now(), &mut Vec::new()).is_err());
    }
}

#[test]
fn tampering_is_caught_by_the_tag_before_anything_else() {
    let (frame, _) = sealed(Codec::Json, true);
    // A bit in the ciphertext, the IV or the header: all are authenticated.
    for at in [5, 35, 60, frame.len() - 20] {
        let mut bad = frame.clone();
        bad[at] ^= 0x80;
        let reason = opener().open(&bad, now(), &mut Vec::new()).unwrap_err().reason();
        assert!(
            matches!(
                reason,
                RejectReason::Authentication
                    | RejectReason::UnknownSender
                    | RejectReason::UnknownKey
                    | RejectReason::Flags
            ),
            "byte {at}: {reason:?}"
        );
    }
    let mut bad = frame.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(opener().open(&bad, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Authentication);
}

#[test]
fn replays_are_rejected() {
    let (frame, payload) = sealed(Codec::Protobuf, false);
    let mut o = opener();
    let mut out = Vec::new();
    o.open(&frame, now(), &mut out).unwrap();
    assert_eq!(out, payload);
    assert_eq!(o.open(&frame, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);

    // Out-of-order delivery within the window is fine; older than the window is not.
    let mut s = Sealer::new(SENDER, KEY_ID, &key(), CipherSuite::Aes128CbcHmacSha256);
    let frames: Vec<Vec<u8>> = (0..REPLAY_WINDOW + 3)
        .map(|_| {
            let mut f = Vec::new();
            s.seal(Codec::Json, b"{}", now(), &mut rng(3), &mut f).unwrap();
            f
        })
        .collect();
    let mut o = opener();
    o.open(frames.last().unwrap(), now(), &mut Vec::new()).unwrap();
    o.open(&frames[frames.len() - 5], now(), &mut Vec::new()).unwrap();
    assert_eq!(o.open(&frames[0], now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);

    // A restored window refuses what was seen before the restart.
    let mut o = opener();
    o.restore_window(KEY_ID, ReplayWindow::starting_after(1));
    assert_eq!(o.open(&frame, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
}

#[test]
fn unknown_keys_senders_and_suites_fail_cleanly() {
    let (frame, _) = sealed(Codec::Protobuf, false);
    let other = FrameKey::new(&[9; 32]).unwrap();
    let r = |o: &mut Opener| o.open(&frame, now(), &mut Vec::new()).unwrap_err().reason();
    assert_eq!(
        r(&mut Opener::new(SENDER, KEY_ID + 1, &key(), CipherSuite::Aes128CbcHmacSha256)),
        RejectReason::UnknownKey
    );
    assert_eq!(
        r(&mut Opener::new(SENDER + 1, KEY_ID, &key(), CipherSuite::Aes128CbcHmacSha256)),
        RejectReason::UnknownSender
    );
    assert_eq!(r(&mut Opener::new(SENDER, KEY_ID, &key(), CipherSuite::Aes256CbcHmacSha256)), RejectReason::UnknownKey);
    assert_eq!(
        r(&mut Opener::new(SENDER, KEY_ID, &other, CipherSuite::Aes128CbcHmacSha256)),
        RejectReason::Authentication
    );
}

#[test]
fn rotation_keeps_the_previous_key_during_the_overlap() {
    let old = key();
    let new = FrameKey::new(&[0x55; 32]).unwrap();
    let suite = CipherSuite::Aes128CbcHmacSha256;
    let mut frame_old = Vec::new();
    Sealer::new(SENDER, 1, &old, suite).seal(Codec::Json, b"{}", now(), &mut rng(0), &mut frame_old).unwrap();
    let mut frame_new = Vec::new();
    Sealer::new(SENDER, 2, &new, suite).seal(Codec::Json, b"{}", now(), &mut rng(0), &mut frame_new).unwrap();

    let mut o = Opener::new(SENDER, 1, &old, suite);
    assert_eq!(o.open(&frame_new, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::UnknownKey);
    o.rotate(2, &new, suite);
    o.open(&frame_new, now(), &mut Vec::new()).unwrap();
    o.open(&frame_old, now(), &mut Vec::new()).unwrap();
    o.retire_previous();
    let mut again = Vec::new();
    Sealer::new(SENDER, 1, &old, suite)
        .starting_at(2)
        .seal(Codec::Json, b"{}", now(), &mut rng(0), &mut again)
        .unwrap();
    assert_eq!(o.open(&again, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::UnknownKey);
}

#[test]
fn clock_skew_is_tolerated_up_to_the_limit() {
    let (frame, _) = sealed(Codec::Protobuf, false);
    let day = DurationMs(24 * 3600 * 1000);
    let later = now().checked_add(day).unwrap();
    opener().open(&frame, later, &mut Vec::new()).unwrap();
    let too_late = later.checked_add(DurationMs(1)).unwrap();
    assert_eq!(opener().open(&frame, too_late, &mut Vec::new()).unwrap_err().reason(), RejectReason::ClockSkew);
    let strict = opener().with_clock_skew(DurationMs(1000));
    let mut strict = strict;
    assert_eq!(
        strict.open(&frame, now().checked_add(DurationMs(1001)).unwrap(), &mut Vec::new()).unwrap_err().reason(),
        RejectReason::ClockSkew
    );
}

#[test]
fn payload_cap_applies_to_compressed_and_plain_frames() {
    for compress in [false, true] {
        let (frame, payload) = sealed(Codec::Xml, compress);
        let mut small = opener().with_max_payload(payload.len() - 1);
        assert_eq!(small.open(&frame, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::TooLarge);
        let mut exact = opener().with_max_payload(payload.len());
        exact.open(&frame, now(), &mut Vec::new()).unwrap();
    }
}

#[test]
fn compression_is_skipped_where_it_does_not_pay() {
    let mut s = Sealer::new(SENDER, KEY_ID, &key(), CipherSuite::Aes128CbcHmacSha256);
    // xorshift64: incompressible enough for DEFLATE.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let h = s.seal(Codec::Json, &random, now(), &mut rng(0), &mut Vec::new()).unwrap();
    assert_eq!(h.compression, Compression::None);
    let h = s.seal(Codec::Json, b"{}", now(), &mut rng(0), &mut Vec::new()).unwrap();
    assert_eq!(h.compression, Compression::None, "too short to try");
    let xml = Codec::Xml.encode_to_vec(&samples::office_laser()).unwrap();
    let mut f = Vec::new();
    let h = s.seal(Codec::Xml, &xml, now(), &mut rng(0), &mut f).unwrap();
    assert_eq!((h.compression, h.dictionary), (Compression::Deflate, 2));
    assert!(f.len() * 3 < xml.len(), "{} -> {}", xml.len(), f.len());
}

#[test]
fn headers_can_be_peeked_for_routing_and_frames_travel_as_text() {
    let (frame, _) = sealed(Codec::Protobuf, false);
    let h = FrameHeader::peek(&frame).unwrap();
    assert_eq!((h.sender_id, h.key_id, h.sequence, h.codec), (SENDER, KEY_ID, 1, Codec::Protobuf));
    let text = to_base64(&frame);
    assert_eq!(from_base64(&text).unwrap(), frame);
    let mut bad = frame.clone();
    bad[1] |= 0x80; // a reserved flag
    assert_eq!(FrameHeader::peek(&bad).unwrap_err().reason(), RejectReason::Flags);
    bad[0] = 2;
    assert_eq!(FrameHeader::peek(&bad).unwrap_err().reason(), RejectReason::Version);
}

#[test]
fn keys_are_never_printed() {
    let k = FrameKey::new(&[0xab; 16]).unwrap();
    assert_eq!(format!("{k:?}"), "FrameKey(<redacted>)");
    let s = Sealer::new(SENDER, KEY_ID, &k, CipherSuite::Aes128CbcHmacSha256);
    let o = Opener::new(SENDER, KEY_ID, &k, CipherSuite::Aes128CbcHmacSha256);
    for text in [format!("{s:?}"), format!("{o:?}")] {
        assert!(!text.contains("171") && !text.to_lowercase().contains("ab, ab"), "{text}");
    }
    assert!(FrameKey::new(&[0; 15]).is_err());
    assert!(FrameKey::new(&[0; 65]).is_err());
}

/// The dictionaries are rebuilt from the samples and must equal the committed files (see
/// `dict/README.md`).
#[test]
fn dictionaries_are_reproducible() {
    const DICT_BYTES: usize = 8 * 1024;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dict");
    for codec in Codec::ALL {
        let mut bytes = Vec::new();
        for report in [samples::large_format(3), samples::inkjet(), samples::office_laser()] {
            bytes.extend(codec.encode_to_vec(&report).unwrap());
        }
        let dict = &bytes[bytes.len().saturating_sub(DICT_BYTES)..];
        let path = dir.join(format!("{}-v1.bin", codec.name()));
        if std::env::var_os("PRINTFLEET_BLESS").is_some() {
            std::fs::write(&path, dict).unwrap();
        }
        assert!(std::fs::read(&path).unwrap() == dict, "{} differs from its recipe", path.display());
    }
}

/// Writes Rust-sealed frames for the Python implementation to open, and opens the frames it
/// sealed: `.ci/run` runs this around `tests/python/frame_interop.py`.
#[test]
#[ignore = "run by .ci/run with PRINTFLEET_INTEROP_DIR and PRINTFLEET_INTEROP_STEP"]
fn interop_with_python() {
    let dir = PathBuf::from(std::env::var_os("PRINTFLEET_INTEROP_DIR").expect("set PRINTFLEET_INTEROP_DIR"));
    let step = std::env::var("PRINTFLEET_INTEROP_STEP").expect("set PRINTFLEET_INTEROP_STEP to seal or open");
    std::fs::create_dir_all(&dir).unwrap();
    if step == "seal" {
        for (name, report, codec, suite, compress) in golden_cases() {
            let payload = codec.encode_to_vec(&report).unwrap();
            let mut frame = Vec::new();
            // A real CSPRNG would do here; the counter keeps failures reproducible.
            Sealer::new(SENDER, KEY_ID, &key(), suite)
                .with_compression(compress)
                .starting_at(41)
                .seal(codec, &payload, now(), &mut rng(0x77), &mut frame)
                .unwrap();
            std::fs::write(dir.join(format!("rust-{name}.frame")), &frame).unwrap();
            std::fs::write(dir.join(format!("rust-{name}.payload")), &payload).unwrap();
        }
        return;
    }
    let mut opened = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.starts_with("python-") && name.ends_with(".frame")) {
            continue;
        }
        let frame = std::fs::read(&path).unwrap();
        let expected = std::fs::read(path.with_extension("payload")).unwrap();
        let suite =
            if name.contains("aes256") { CipherSuite::Aes256CbcHmacSha256 } else { CipherSuite::Aes128CbcHmacSha256 };
        let mut out = Vec::new();
        let header = Opener::new(SENDER, KEY_ID, &key(), suite)
            .open(&frame, now(), &mut out)
            .unwrap_or_else(|e| panic!("{name}: {:?}", e.reason()));
        assert_eq!(out, expected, "{name}");
        header.codec.decode(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        opened += 1;
    }
    assert!(opened >= 4, "only {opened} Python frames found");
    println!("opened {opened} frames sealed by Python");
}
