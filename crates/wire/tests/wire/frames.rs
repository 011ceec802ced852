//! Sealed frames: golden frames, tampering, replay, reflection, message kinds, sequence
//! reservation across crashes, keyring persistence, rotation, limits, dictionaries, interop.

use std::path::PathBuf;

use printfleet_schema::{DurationMs, Timestamp, samples};
use printfleet_wire::Codec;
use printfleet_wire::frame::{
    CheckpointError, CipherSuite, Compression, DeviceChannel, FrameHeader, FrameKey, KeyId, Keyring, KeyringError,
    MessageKind, OpenLimits, PortalChannel, REPLAY_WINDOW, RejectReason, SealError, SealerCheckpoint, SenderId,
    SessionKey, WindowState, from_base64, to_base64,
};
use rand_chacha::ChaCha20Rng;
use rand_core::Rng as _;

/// A seeded CSPRNG: reproducible frames for tests (real code uses `frame::OsRng`).
pub(crate) fn rng(seed: u64) -> ChaCha20Rng {
    rand_core::SeedableRng::seed_from_u64(seed)
}

/// A number in `range` (modulo bias is irrelevant here).
fn pick(rng: &mut ChaCha20Rng, range: std::ops::Range<u32>) -> u32 {
    range.start + rng.next_u32() % (range.end - range.start)
}

const SENDER: SenderId = SenderId(0x0102_0304_0506_0708);
const REPORT: &[MessageKind] = &[MessageKind::Report];

/// The golden frames' keys (see testdata/frames/README.md): one secret and one key id per suite.
fn key_for(suite: CipherSuite) -> FrameKey {
    match suite {
        CipherSuite::Aes128CbcHmacSha256 => FrameKey::new(&(0u8..32).collect::<Vec<_>>(), KeyId(7), suite).unwrap(),
        _ => FrameKey::new(&(0x20u8..0x40).collect::<Vec<_>>(), KeyId(8), suite).unwrap(),
    }
}

fn key() -> FrameKey {
    key_for(CipherSuite::Aes128CbcHmacSha256)
}

fn now() -> Timestamp {
    samples::SAMPLE_TIME
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/frames")
}

/// A device channel whose first `n` sequence numbers are reserved (and "persisted").
fn device_with(key: &FrameKey, n: u64) -> DeviceChannel {
    let mut d = DeviceChannel::new(SENDER, key);
    let r = d.reserve_block(n);
    d.reservation_saved(r).unwrap();
    d
}

fn device() -> DeviceChannel {
    device_with(&key(), 1 << 20)
}

fn ring_with(key: &FrameKey) -> Keyring {
    let mut ring = Keyring::new();
    ring.insert(SENDER, key).unwrap();
    ring
}

fn ring() -> Keyring {
    ring_with(&key())
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

/// The reply's payload: a protobuf `Reply` (an ack), as `printfleet-diff` writes one.
const GOLDEN_REPLY_PAYLOAD: &[u8] = include_bytes!("../../testdata/frames/reply-protobuf-aes128-plain.payload");

/// Golden frames: see testdata/frames/README.md for every input. Bless with
/// `PRINTFLEET_BLESS=1 cargo test -p printfleet-wire --test wire golden_frames`.
#[test]
fn golden_frames_are_stable_and_open() {
    let bless = std::env::var_os("PRINTFLEET_BLESS").is_some();
    std::fs::create_dir_all(testdata()).unwrap();
    for (name, report, codec, suite, compress) in golden_cases() {
        let payload = codec.encode_to_vec(&report).unwrap();
        let mut frame = Vec::new();
        let key = key_for(suite);
        let mut device = device_with(&key, 1);
        device.set_compression(compress);
        let header = device.seal(MessageKind::Report, codec, &payload, now(), &mut rng(0x10), &mut frame).unwrap();
        assert_eq!(header.compression == Compression::Deflate, compress, "{name}: compression should pay");
        let path = testdata().join(format!("{name}.frame"));
        if bless {
            std::fs::write(&path, &frame).unwrap();
            std::fs::write(testdata().join(format!("{name}.payload")), &payload).unwrap();
        }
        let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(golden == frame, "{name}: frame bytes changed; bless only if the format change is intended");
        let mut out = Vec::new();
        let mut portal = ring_with(&key);
        let h = portal.open(&golden, REPORT, now(), &mut out).unwrap();
        assert_eq!(h, header);
        assert_eq!(out, payload);
        assert_eq!(codec.decode(&out).unwrap(), report);

        if name.starts_with("office_laser") {
            // The portal's reply to it, uncompressed, with IVs from rng(0x11).
            let mut reply = Vec::new();
            portal.set_compression(false);
            portal.seal_reply(&h, Codec::Protobuf, GOLDEN_REPLY_PAYLOAD, now(), &mut rng(0x11), &mut reply).unwrap();
            let path = testdata().join("reply-protobuf-aes128-plain.frame");
            if bless {
                std::fs::write(&path, &reply).unwrap();
            }
            assert!(std::fs::read(&path).unwrap() == reply, "reply frame bytes changed");
            let mut answer = Vec::new();
            let rh = device.open_reply(&reply, now(), &mut answer).unwrap();
            assert_eq!((rh.kind, rh.sequence, rh.sender_id), (MessageKind::Reply, 1, SENDER));
            assert_eq!(answer, GOLDEN_REPLY_PAYLOAD);
        }
    }
}

/// The key ids of the golden frames must not repeat across suites (a key is secret, key id and
/// suite together), and every golden frame must name its own.
#[test]
fn golden_frames_bind_one_key_id_to_one_suite() {
    let mut seen = std::collections::HashMap::new();
    for (name, _, _, suite, _) in golden_cases() {
        let frame = std::fs::read(testdata().join(format!("{name}.frame"))).unwrap();
        let h = FrameHeader::peek(&frame).unwrap();
        assert_eq!(h.suite, suite);
        assert_eq!(h.key_id, key_for(suite).key_id());
        assert_eq!(*seen.entry(h.key_id).or_insert(suite), suite, "{name}: key id {} reused across suites", h.key_id);
    }
    assert_eq!(seen.len(), 2);
}

fn sealed(codec: Codec, compress: bool) -> (Vec<u8>, Vec<u8>) {
    let payload = codec.encode_to_vec(&samples::office_laser()).unwrap();
    let mut frame = Vec::new();
    let mut d = device();
    d.set_compression(compress);
    d.seal(MessageKind::Report, codec, &payload, now(), &mut rng(1), &mut frame).unwrap();
    (frame, payload)
}

#[test]
fn every_bit_flip_and_every_truncation_is_rejected() {
    for compress in [false, true] {
        let (frame, _) = sealed(Codec::Protobuf, compress);
        for i in 0..frame.len() * 8 {
            let mut bad = frame.clone();
            bad[i / 8] ^= 1 << (i % 8);
            let mut out = b"untouched".to_vec();
            let err = ring().open(&bad, REPORT, now(), &mut out).expect_err("a flipped bit must be rejected");
            assert_eq!(out, b"untouched", "output written for a rejected frame");
            assert_eq!(err.to_string(), "frame rejected");
        }
        for len in 0..frame.len() {
            assert!(ring().open(&frame[..len], REPORT, now(), &mut Vec::new()).is_err(), "truncated to {len}");
        }
        let mut longer = frame.clone();
        longer.extend_from_slice(&[0; 16]);
        assert!(ring().open(&longer, REPORT, now(), &mut Vec::new()).is_err());
    }
}

#[test]
fn tampering_is_caught_by_the_tag_before_anything_else() {
    let (frame, _) = sealed(Codec::Json, true);
    // A bit in the ciphertext, the IV or the header: all are authenticated.
    for at in [5, 35, 60, frame.len() - 20] {
        let mut bad = frame.clone();
        bad[at] ^= 0x80;
        let reason = ring().open(&bad, REPORT, now(), &mut Vec::new()).unwrap_err().reason();
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
    assert_eq!(ring().open(&bad, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Authentication);
    // The message kind is authenticated: relabelling a report as an update breaks the tag.
    let mut relabelled = frame.clone();
    relabelled[3] = MessageKind::Update.byte();
    let any = &[MessageKind::Report, MessageKind::Update];
    assert_eq!(
        ring().open(&relabelled, any, now(), &mut Vec::new()).unwrap_err().reason(),
        RejectReason::Authentication
    );
}

#[test]
fn replays_are_rejected() {
    let (frame, payload) = sealed(Codec::Protobuf, false);
    let mut o = ring();
    let mut out = Vec::new();
    o.open(&frame, REPORT, now(), &mut out).unwrap();
    assert_eq!(out, payload);
    assert_eq!(o.open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);

    // Out-of-order delivery within the window is fine; older than the window is not.
    let mut s = device();
    let frames: Vec<Vec<u8>> = (0..REPLAY_WINDOW + 3)
        .map(|_| {
            let mut f = Vec::new();
            s.seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(3), &mut f).unwrap();
            f
        })
        .collect();
    let mut o = ring();
    o.open(frames.last().unwrap(), REPORT, now(), &mut Vec::new()).unwrap();
    o.open(&frames[frames.len() - 5], REPORT, now(), &mut Vec::new()).unwrap();
    assert_eq!(o.open(&frames[0], REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
}

/// The portal pattern that used to reopen replays: a fresh receiver per request. A keyring
/// restored from the saved state refuses the frame it accepted before the "restart".
#[test]
fn a_restored_keyring_refuses_frames_accepted_before_the_restart() {
    let (frame, _) = sealed(Codec::Protobuf, false);
    let mut first = ring();
    first.open(&frame, REPORT, now(), &mut Vec::new()).unwrap();
    let saved = first.state();
    let json = serde_json::to_string(&saved).unwrap();

    let mut second = Keyring::from_state(&serde_json::from_str(&json).unwrap());
    second.insert(SENDER, &key()).unwrap();
    assert_eq!(second.open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);

    // A window restored before its key is added is kept, not silently dropped.
    let mut third = Keyring::new();
    third.restore_window(SENDER, KeyId(7), saved.windows[0].2).unwrap();
    third.insert(SENDER, &key()).unwrap();
    assert_eq!(third.open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
    assert_eq!(third.window(SENDER, KeyId(7)), Some(saved.windows[0].2));
}

/// Spec §5.5: a window restored from its highest number alone refuses everything at or below
/// it, including numbers the bitmap would have shown as unseen.
#[test]
fn a_window_restored_without_its_bitmap_refuses_everything_up_to_the_highest() {
    let mut d = device();
    let frames: Vec<Vec<u8>> = (0..10)
        .map(|_| {
            let mut f = Vec::new();
            d.seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(4), &mut f).unwrap();
            f
        })
        .collect();
    let mut r = ring();
    r.restore_window(SENDER, KeyId(7), WindowState::refusing_through(9)).unwrap();
    for f in &frames[..9] {
        assert_eq!(r.open(f, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
    }
    r.open(&frames[9], REPORT, now(), &mut Vec::new()).unwrap();
    // With the bitmap, exactly the unseen numbers below the highest stay open.
    let mut exact = ring();
    exact.restore_window(SENDER, KeyId(7), WindowState { highest: 9, seen: Some([0, 0b1]) }).unwrap();
    exact.open(&frames[4], REPORT, now(), &mut Vec::new()).unwrap();
    assert_eq!(exact.open(&frames[8], REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
}

/// Restoring over a window that has accepted frames would reopen them: refused loudly.
#[test]
fn restoring_over_a_window_in_use_is_refused() {
    let (frame, _) = sealed(Codec::Json, false);
    let mut r = ring();
    r.open(&frame, REPORT, now(), &mut Vec::new()).unwrap();
    assert_eq!(
        r.restore_window(SENDER, KeyId(7), WindowState::default()),
        Err(KeyringError::WindowInUse { sender: SENDER, key_id: KeyId(7) })
    );
    assert_eq!(r.open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
}

/// Rotating back to a key id used before resumes its window instead of starting empty.
#[test]
fn a_key_id_that_comes_back_keeps_its_window() {
    let (frame, _) = sealed(Codec::Json, false);
    let mut r = ring();
    r.open(&frame, REPORT, now(), &mut Vec::new()).unwrap();
    assert!(r.remove(SENDER, KeyId(7)));
    assert_eq!(r.open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::UnknownSender);
    r.insert(SENDER, &key()).unwrap();
    assert_eq!(r.open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
    assert_eq!(r.insert(SENDER, &key()), Err(KeyringError::KeyPresent { sender: SENDER, key_id: KeyId(7) }));
}

/// A frame sealed by the portal, sent back to the portal, does not open: each direction has its
/// own keys. Nor does a device's own frame pass as a reply at the device.
#[test]
fn frames_do_not_open_in_the_other_direction() {
    let (frame, _) = sealed(Codec::Protobuf, false);
    let mut portal = ring();
    let request = portal.open(&frame, REPORT, now(), &mut Vec::new()).unwrap();
    let mut reply = Vec::new();
    portal.seal_reply(&request, Codec::Protobuf, b"ack", now(), &mut rng(5), &mut reply).unwrap();
    let all = &[MessageKind::Report, MessageKind::Update, MessageKind::Reply];
    // Reflected to the portal: fails authentication, whatever kinds the portal accepts.
    assert_eq!(ring().open(&reply, all, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Authentication);
    // A device frame reflected to the device.
    let mut d = device();
    let mut own = Vec::new();
    d.seal(MessageKind::Reply, Codec::Json, b"{}", now(), &mut rng(6), &mut own).unwrap();
    assert_eq!(d.open_reply(&own, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Authentication);
    // Session keys likewise.
    let ikm = [3u8; 32];
    let mut dev = DeviceChannel::session(SessionKey::derive(&ikm, b"transcript", SENDER));
    let mut port = PortalChannel::session(SessionKey::derive(&ikm, b"transcript", SENDER));
    let mut f = Vec::new();
    let h = dev.seal(MessageKind::Update, Codec::Protobuf, b"update", now(), &mut rng(7), &mut f).unwrap();
    port.open(&f, &[MessageKind::Update], now(), &mut Vec::new()).unwrap();
    let mut r = Vec::new();
    port.seal_reply(&h, Codec::Protobuf, b"ack", now(), &mut rng(8), &mut r).unwrap();
    assert_eq!(port.open(&r, all, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Authentication);
    let mut answer = Vec::new();
    dev.open_reply(&r, now(), &mut answer).unwrap();
    assert_eq!(answer, b"ack");
    assert_eq!(dev.open_reply(&r, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
}

/// A receiver names the kinds it expects; an authentic frame of another kind is refused.
#[test]
fn unexpected_message_kinds_are_refused() {
    let mut d = device();
    let mut update = Vec::new();
    d.seal(MessageKind::Update, Codec::Protobuf, b"not a report", now(), &mut rng(9), &mut update).unwrap();
    let mut r = ring();
    assert_eq!(r.open(&update, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::UnexpectedKind);
    // The refusal did not use up the sequence number.
    let h = r.open(&update, &[MessageKind::Update], now(), &mut Vec::new()).unwrap();
    assert_eq!(h.kind, MessageKind::Update);
    // Unknown kinds are refused at the header.
    let mut bad = update.clone();
    for kind in [0u8, 6, 0xff] {
        bad[3] = kind;
        assert_eq!(FrameHeader::peek(&bad).unwrap_err().reason(), RejectReason::Flags);
    }
}

/// The reply to a bundle is a bundle reply (§5.9), opened by the channel that sealed the bundle.
#[test]
fn a_bundle_is_answered_by_a_bundle_reply() {
    let ikm = [4u8; 32];
    let mut dev = DeviceChannel::session(SessionKey::derive(&ikm, b"transcript", SENDER));
    let mut port = PortalChannel::session(SessionKey::derive(&ikm, b"transcript", SENDER));
    let mut f = Vec::new();
    dev.seal(MessageKind::Bundle, Codec::Protobuf, b"bundle", now(), &mut rng(10), &mut f).unwrap();
    assert_eq!(
        port.open(&f.clone(), &[MessageKind::Update], now(), &mut Vec::new()).unwrap_err().reason(),
        RejectReason::UnexpectedKind
    );
    let h = port.open(&f, &[MessageKind::Update, MessageKind::Bundle], now(), &mut Vec::new()).unwrap();
    assert_eq!((h.kind, h.kind.reply()), (MessageKind::Bundle, MessageKind::BundleReply));
    let mut r = Vec::new();
    let rh = port.seal_reply(&h, Codec::Protobuf, b"answers", now(), &mut rng(11), &mut r).unwrap();
    assert_eq!(rh.kind, MessageKind::BundleReply);
    let mut answer = Vec::new();
    assert_eq!(dev.open_reply(&r, now(), &mut answer).unwrap().kind, MessageKind::BundleReply);
    assert_eq!(answer, b"answers");
    for kind in
        [MessageKind::Report, MessageKind::Update, MessageKind::Reply, MessageKind::Bundle, MessageKind::BundleReply]
    {
        assert_eq!(MessageKind::from_byte(kind.byte()), Some(kind));
    }
}

/// Sequence 0 is never sealed, and a header that carries it is refused.
#[test]
fn sequence_zero_is_refused() {
    let (mut frame, _) = sealed(Codec::Json, false);
    assert_eq!(FrameHeader::peek(&frame).unwrap().sequence, 1);
    frame[16..24].copy_from_slice(&0u64.to_be_bytes());
    assert_eq!(FrameHeader::peek(&frame).unwrap_err().reason(), RejectReason::Flags);
    assert_eq!(ring().open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Flags);
}

/// Replies open only for frames the device sent and has not had answered.
#[test]
fn replies_are_bound_to_the_frames_they_answer() {
    let mut d = device();
    let mut portal = ring();
    let mut frames = Vec::new();
    for _ in 0..3 {
        let mut f = Vec::new();
        d.seal(MessageKind::Update, Codec::Protobuf, b"u", now(), &mut rng(10), &mut f).unwrap();
        frames.push(f);
    }
    let h2 = portal.open(&frames[1], &[MessageKind::Update], now(), &mut Vec::new()).unwrap();
    let mut reply = Vec::new();
    portal.seal_reply(&h2, Codec::Protobuf, b"r2", now(), &mut rng(11), &mut reply).unwrap();
    // A reply to a sequence the device never sent.
    let forged = FrameHeader { sequence: 99, ..h2 };
    let mut stray = Vec::new();
    portal.seal_reply(&forged, Codec::Protobuf, b"r99", now(), &mut rng(12), &mut stray).unwrap();
    assert_eq!(d.open_reply(&stray, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
    d.open_reply(&reply, now(), &mut Vec::new()).unwrap();
    assert_eq!(d.open_reply(&reply, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
    // A rebooted device (restored from its checkpoint) accepts no reply to its old frames.
    let cp = SealerCheckpoint { sender: SENDER, key_id: KeyId(7), reserved_through: 1 << 20 };
    let mut rebooted = DeviceChannel::restore(SENDER, &key(), &cp).unwrap();
    assert_eq!(rebooted.open_reply(&reply, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
}

/// Nothing is sealed under a sequence number whose reservation was not saved, and a device
/// restored from a checkpoint never reuses a number.
#[test]
fn sealing_waits_for_a_saved_reservation_and_restores_past_it() {
    let mut d = DeviceChannel::new(SENDER, &key());
    assert!(d.needs_reservation());
    let err = d.seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(13), &mut Vec::new()).unwrap_err();
    assert_eq!(err, SealError::ReservationNeeded);
    let r = d.reserve_block(2);
    let cp = r.checkpoint();
    d.reservation_saved(r).unwrap();
    let mut portal = ring();
    for _ in 0..2 {
        let mut f = Vec::new();
        d.seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(13), &mut f).unwrap();
        portal.open(&f, REPORT, now(), &mut Vec::new()).unwrap();
    }
    assert_eq!(
        d.seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(13), &mut Vec::new()).unwrap_err(),
        SealError::ReservationNeeded
    );
    // Restored after a crash: starts past the checkpoint and is accepted.
    let mut back = DeviceChannel::restore(SENDER, &key(), &cp).unwrap();
    let r = back.reserve_block(2);
    back.reservation_saved(r).unwrap();
    let mut f = Vec::new();
    let h = back.seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(13), &mut f).unwrap();
    assert_eq!(h.sequence, 3);
    portal.open(&f, REPORT, now(), &mut Vec::new()).unwrap();
    // A checkpoint of another key is refused.
    let other = FrameKey::new(&[1; 32], KeyId(9), CipherSuite::Aes128CbcHmacSha256).unwrap();
    assert!(matches!(DeviceChannel::restore(SENDER, &other, &cp), Err(CheckpointError::OtherChannel { .. })));
}

/// The device crashes at 100 random points of a long run — between reserving and saving,
/// between saving and handing the reservation back, between sealing and sending, after
/// sending — and restarts from whatever its storage holds. Every frame it sends after a
/// restart is accepted, and no frame the portal accepted ever opens twice.
#[test]
fn a_device_that_crashes_anywhere_is_never_refused_and_never_replayable() {
    let mut rand = rng(0xc0ffee);
    let key = key();
    let mut portal = ring();
    let mut stored: Option<SealerCheckpoint> = None;
    let mut d = DeviceChannel::new(SENDER, &key);
    let mut accepted: Vec<Vec<u8>> = Vec::new();
    let mut crashes = 0;
    let mut sent_after_restart = 0;
    let mut just_restarted = false;
    while crashes < 100 {
        // One step of the device's life; a crash may strike at any point of it.
        let crash_point = pick(&mut rand, 0..12u32);
        if d.needs_reservation() || pick(&mut rand, 0..8u32) == 0 {
            let r = d.reserve_block(u64::from(pick(&mut rand, 1..6)));
            if crash_point == 0 {
                // Crashed before the write reached storage.
            } else {
                stored = Some(r.checkpoint());
                if crash_point != 1 {
                    d.reservation_saved(r).unwrap();
                }
            }
        }
        if crash_point > 1 && !d.needs_reservation() {
            let mut f = Vec::new();
            d.seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rand, &mut f).unwrap();
            if crash_point != 2 {
                // Sent (crash point 2: sealed, never sent).
                portal.open(&f, REPORT, now(), &mut Vec::new()).unwrap_or_else(|e| {
                    panic!("a legitimate frame was refused ({:?}) after {crashes} crashes", e.reason())
                });
                if just_restarted {
                    sent_after_restart += 1;
                    just_restarted = false;
                }
                accepted.push(f);
            }
        }
        if crash_point <= 3 {
            crashes += 1;
            d = match &stored {
                Some(cp) => DeviceChannel::restore(SENDER, &key, cp).unwrap(),
                None => DeviceChannel::new(SENDER, &key),
            };
            just_restarted = true;
        }
    }
    assert!(sent_after_restart > 50, "the harness must exercise sending after restarts ({sent_after_restart})");
    for f in &accepted {
        assert_eq!(portal.open(f, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::Replay);
    }
}

#[test]
fn unknown_keys_senders_and_suites_fail_cleanly() {
    let (frame, _) = sealed(Codec::Protobuf, false);
    let r = |ring: &mut Keyring| ring.open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err().reason();
    let secret: Vec<u8> = (0u8..32).collect();
    let mut other_id = Keyring::new();
    other_id.insert(SENDER, &FrameKey::new(&secret, KeyId(8), CipherSuite::Aes128CbcHmacSha256).unwrap()).unwrap();
    assert_eq!(r(&mut other_id), RejectReason::UnknownKey);
    let mut other_sender = Keyring::new();
    other_sender.insert(SenderId(SENDER.0 + 1), &key()).unwrap();
    assert_eq!(r(&mut other_sender), RejectReason::UnknownSender);
    // The same secret and key id under the other suite does not open it.
    let aes256 = FrameKey::new(&secret, KeyId(7), CipherSuite::Aes256CbcHmacSha256).unwrap();
    assert_eq!(r(&mut ring_with(&aes256)), RejectReason::UnknownKey);
    let other = FrameKey::new(&[9; 32], KeyId(7), CipherSuite::Aes128CbcHmacSha256).unwrap();
    assert_eq!(r(&mut ring_with(&other)), RejectReason::Authentication);
}

#[test]
fn rotation_keeps_the_previous_key_during_the_overlap() {
    let old = key();
    let new = FrameKey::new(&[0x55; 32], KeyId(8), CipherSuite::Aes128CbcHmacSha256).unwrap();
    let mut frame_old = Vec::new();
    device_with(&old, 4).seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(0), &mut frame_old).unwrap();
    let mut frame_new = Vec::new();
    device_with(&new, 4).seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(0), &mut frame_new).unwrap();

    let mut o = ring_with(&old);
    assert_eq!(o.open(&frame_new, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::UnknownKey);
    o.insert(SENDER, &new).unwrap();
    o.open(&frame_new, REPORT, now(), &mut Vec::new()).unwrap();
    o.open(&frame_old, REPORT, now(), &mut Vec::new()).unwrap();
    // End of the overlap (or revocation of the old epoch): its frames are refused at once.
    assert!(o.remove(SENDER, KeyId(7)));
    let mut d = device_with(&old, 4);
    let mut again = Vec::new();
    for _ in 0..2 {
        again.clear();
        d.seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(0), &mut again).unwrap();
    }
    assert_eq!(o.open(&again, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::UnknownKey);
    assert_eq!(
        o.seal_reply(&FrameHeader::peek(&again).unwrap(), Codec::Json, b"{}", now(), &mut rng(0), &mut Vec::new()),
        Err(SealError::UnknownKey { sender: SENDER, key_id: KeyId(7) })
    );
}

#[test]
fn clock_skew_is_tolerated_up_to_the_limit_inclusive() {
    let (frame, _) = sealed(Codec::Protobuf, false);
    let day = DurationMs(24 * 3600 * 1000);
    let later = now().checked_add(day).unwrap();
    ring().open(&frame, REPORT, later, &mut Vec::new()).unwrap();
    let too_late = later.checked_add(DurationMs(1)).unwrap();
    assert_eq!(ring().open(&frame, REPORT, too_late, &mut Vec::new()).unwrap_err().reason(), RejectReason::ClockSkew);
    let mut strict = ring();
    strict.set_limits(OpenLimits { clock_skew: DurationMs(1000), ..OpenLimits::default() });
    assert_eq!(
        strict
            .open(&frame, REPORT, now().checked_add(DurationMs(1001)).unwrap(), &mut Vec::new())
            .unwrap_err()
            .reason(),
        RejectReason::ClockSkew
    );
}

#[test]
fn payload_cap_applies_to_compressed_and_plain_frames() {
    for compress in [false, true] {
        let (frame, payload) = sealed(Codec::Xml, compress);
        let mut small = ring();
        small.set_limits(OpenLimits { max_payload: payload.len() - 1, ..OpenLimits::default() });
        assert_eq!(small.open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err().reason(), RejectReason::TooLarge);
        let mut exact = ring();
        exact.set_limits(OpenLimits { max_payload: payload.len(), ..OpenLimits::default() });
        exact.open(&frame, REPORT, now(), &mut Vec::new()).unwrap();
    }
}

#[test]
fn compression_is_skipped_where_it_does_not_pay() {
    let mut s = device();
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
    let report = MessageKind::Report;
    let h = s.seal(report, Codec::Json, &random, now(), &mut rng(0), &mut Vec::new()).unwrap();
    assert_eq!(h.compression, Compression::None);
    let h = s.seal(report, Codec::Json, b"{}", now(), &mut rng(0), &mut Vec::new()).unwrap();
    assert_eq!(h.compression, Compression::None, "too short to try");
    let xml = Codec::Xml.encode_to_vec(&samples::office_laser()).unwrap();
    let mut f = Vec::new();
    let h = s.seal(report, Codec::Xml, &xml, now(), &mut rng(0), &mut f).unwrap();
    assert_eq!((h.compression, h.dictionary), (Compression::Deflate, 2));
    assert!(f.len() * 3 < xml.len(), "{} -> {}", xml.len(), f.len());
}

#[test]
fn headers_can_be_peeked_for_routing_and_frames_travel_as_text() {
    let (frame, _) = sealed(Codec::Protobuf, false);
    let h = FrameHeader::peek(&frame).unwrap();
    assert_eq!(
        (h.sender_id, h.key_id, h.sequence, h.codec, h.kind),
        (SENDER, KeyId(7), 1, Codec::Protobuf, MessageKind::Report)
    );
    let text = to_base64(&frame);
    assert_eq!(from_base64(&text).unwrap(), frame);
    let mut bad = frame.clone();
    bad[1] |= 0x80; // a reserved flag
    assert_eq!(FrameHeader::peek(&bad).unwrap_err().reason(), RejectReason::Flags);
    bad[0] = 2;
    assert_eq!(FrameHeader::peek(&bad).unwrap_err().reason(), RejectReason::Version);
}

#[test]
fn keys_are_never_printed_and_reasons_stay_local() {
    let k = FrameKey::new(&[0xab; 16], KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap();
    assert_eq!(format!("{k:?}"), "FrameKey { key_id: KeyId(1), suite: Aes128CbcHmacSha256, .. }");
    let mut d = DeviceChannel::new(SENDER, &k);
    let r = ring_with(&k);
    let reservation = d.reserve_block(1);
    d.reservation_saved(reservation).unwrap();
    for text in [format!("{d:?}"), format!("{r:?}")] {
        assert!(!text.contains("171") && !text.to_lowercase().contains("ab, ab"), "{text}");
    }
    assert!(matches!(
        FrameKey::new(&[0; 15], KeyId(1), CipherSuite::Aes128CbcHmacSha256),
        Err(printfleet_wire::frame::KeyError::TooShort { len: 15 })
    ));
    assert!(matches!(
        FrameKey::new(&[0; 65], KeyId(1), CipherSuite::Aes128CbcHmacSha256),
        Err(printfleet_wire::frame::KeyError::TooLong { len: 65 })
    ));
    // What a peer may be told is opaque; what the logs get says why.
    let (frame, _) = sealed(Codec::Json, false);
    let mut ring = ring();
    ring.open(&frame, REPORT, now(), &mut Vec::new()).unwrap();
    let err = ring.open(&frame, REPORT, now(), &mut Vec::new()).unwrap_err();
    assert_eq!(err.to_string(), "frame rejected");
    assert_eq!(format!("{err:?}"), "Rejected(Replay)");
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
/// sealed: `.ci/run` runs this around `tests/python/frame_interop.py`. Both directions: the
/// Python side opens device frames and replies, and seals both.
#[test]
#[ignore = "run by .ci/run with PRINTFLEET_INTEROP_DIR and PRINTFLEET_INTEROP_STEP"]
fn interop_with_python() {
    let dir = PathBuf::from(std::env::var_os("PRINTFLEET_INTEROP_DIR").expect("set PRINTFLEET_INTEROP_DIR"));
    let step = std::env::var("PRINTFLEET_INTEROP_STEP").expect("set PRINTFLEET_INTEROP_STEP to seal or open");
    std::fs::create_dir_all(&dir).unwrap();
    if step == "seal" {
        for (name, report, codec, suite, compress) in golden_cases() {
            let payload = codec.encode_to_vec(&report).unwrap();
            let key = key_for(suite);
            let checkpoint = SealerCheckpoint { sender: SENDER, key_id: key.key_id(), reserved_through: 40 };
            let mut device = DeviceChannel::restore(SENDER, &key, &checkpoint).unwrap();
            let r = device.reserve_block(10);
            device.reservation_saved(r).unwrap();
            device.set_compression(compress);
            let mut frame = Vec::new();
            // A real CSPRNG would do here; the counter keeps failures reproducible.
            let header = device.seal(MessageKind::Report, codec, &payload, now(), &mut rng(0x77), &mut frame).unwrap();
            assert_eq!(header.sequence, 41);
            std::fs::write(dir.join(format!("rust-{name}.frame")), &frame).unwrap();
            std::fs::write(dir.join(format!("rust-{name}.payload")), &payload).unwrap();
            // The portal's reply to it.
            let mut portal = ring_with(&key);
            let h = portal.open(&frame, REPORT, now(), &mut Vec::new()).unwrap();
            let mut reply = Vec::new();
            portal.seal_reply(&h, Codec::Protobuf, GOLDEN_REPLY_PAYLOAD, now(), &mut rng(0x78), &mut reply).unwrap();
            std::fs::write(dir.join(format!("rust-reply-{name}.frame")), &reply).unwrap();
            std::fs::write(dir.join(format!("rust-reply-{name}.payload")), GOLDEN_REPLY_PAYLOAD).unwrap();
        }
        return;
    }
    let mut opened = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.starts_with("python-") && name.ends_with(".frame")) || name.starts_with("python-reply-") {
            continue;
        }
        let frame = std::fs::read(&path).unwrap();
        let expected = std::fs::read(path.with_extension("payload")).unwrap();
        let suite =
            if name.contains("aes256") { CipherSuite::Aes256CbcHmacSha256 } else { CipherSuite::Aes128CbcHmacSha256 };
        let key = key_for(suite);
        let mut out = Vec::new();
        let header = ring_with(&key)
            .open(&frame, REPORT, now(), &mut out)
            .unwrap_or_else(|e| panic!("{name}: {:?}", e.reason()));
        assert_eq!(out, expected, "{name}");
        header.codec.decode(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Python's reply to the frame: opens at a device that sent that sequence number.
        let reply_path = dir.join(name.replacen("python-", "python-reply-", 1));
        let reply = std::fs::read(&reply_path).unwrap_or_else(|e| panic!("{}: {e}", reply_path.display()));
        let checkpoint =
            SealerCheckpoint { sender: SENDER, key_id: key.key_id(), reserved_through: header.sequence - 1 };
        let mut device = DeviceChannel::restore(SENDER, &key, &checkpoint).unwrap();
        let r = device.reserve_block(1);
        device.reservation_saved(r).unwrap();
        device.seal(MessageKind::Report, Codec::Json, b"{}", now(), &mut rng(1), &mut Vec::new()).unwrap();
        let mut answer = Vec::new();
        device.open_reply(&reply, now(), &mut answer).unwrap_or_else(|e| panic!("reply to {name}: {:?}", e.reason()));
        assert_eq!(answer, std::fs::read(reply_path.with_extension("payload")).unwrap());
        opened += 2;
    }
    assert!(opened >= 8, "only {opened} Python frames found");
    println!("opened {opened} frames sealed by Python");
}
