//! Entry points for the fuzz targets (feature `fuzzing`; not a stable API). They live in the
//! library so that the targets stay thin shims and the tests can call the same code.
// Fuzzing support, fed inputs libFuzzer bounds to a few kilobytes: plain arithmetic is clearer.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use printfleet_schema::Timestamp;

use super::{
    CipherSuite, Direction, FrameHeader, FrameKey, FrameReader, HEADER_LEN, IV_LEN, KeyId, Keyring, MessageKind,
    OpenLimits, SenderId, from_base64,
};
use crate::roundtrip::decode_then_roundtrip;

/// Every kind, for receivers that accept anything authentic.
const ANY_KIND: [MessageKind; 5] =
    [MessageKind::Report, MessageKind::Update, MessageKind::Reply, MessageKind::Bundle, MessageKind::BundleReply];

/// The secret the fuzz targets seal and open with, as in the golden frames: bytes 00..1f for
/// AES-128, 20..3f for AES-256 (testdata/frames/README.md), under whatever key id the header
/// names.
fn test_key(key_id: KeyId, suite: CipherSuite) -> FrameKey {
    let first = if suite == CipherSuite::Aes128CbcHmacSha256 { 0 } else { 0x20 };
    let bytes: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap_or(0).wrapping_add(first));
    FrameKey { secret: zeroize::Zeroizing::new(bytes.to_vec()), key_id, suite }
}

fn keyring(sender: SenderId, key: &FrameKey, max_payload: usize) -> Keyring {
    let mut ring = Keyring::new();
    let _ = ring.insert(sender, key);
    ring.set_limits(OpenLimits { max_payload, ..OpenLimits::default() });
    ring
}

/// Arbitrary bytes as a frame, a stream and base64 text: must be rejected or accepted cleanly.
pub fn open_arbitrary(data: &[u8]) {
    let now = Timestamp::UNIX_EPOCH;
    if let Ok(h) = FrameHeader::peek(data) {
        let mut ring = keyring(h.sender_id, &test_key(h.key_id, h.suite), super::DEFAULT_MAX_PAYLOAD_BYTES);
        let mut out = Vec::new();
        let _ = ring.open(data, &ANY_KIND, h.timestamp, &mut out);
    }
    let key = test_key(KeyId(1), CipherSuite::Aes128CbcHmacSha256);
    let _ = keyring(SenderId(1), &key, super::DEFAULT_MAX_PAYLOAD_BYTES).open(data, &ANY_KIND, now, &mut Vec::new());
    let mut reader = FrameReader::new();
    for chunk in data.chunks(7) {
        if reader.push(chunk).is_err() {
            break;
        }
        while let Ok(Some(_)) = reader.next_frame() {}
    }
    let _ = from_base64(&String::from_utf8_lossy(data));
}

/// `data` is a 32-byte header followed by a plaintext: seals it (correct IV, padding and tag under
/// the test key, for whatever the header says), so that mutations reach decryption, the
/// decompressor and the decoders; then opens it and, if it opens, checks that the payload's codec
/// either rejects it or round-trips it. An `Err` is a bug.
pub fn open_resealed(data: &[u8]) -> Result<(), String> {
    let Some((header, plaintext)) = data.split_at_checked(HEADER_LEN) else {
        return Ok(());
    };
    let Ok(h) = FrameHeader::peek(header) else {
        return Ok(());
    };
    let key = test_key(h.key_id, h.suite);
    let keys = key.keys(Direction::DeviceToPortal);
    let iv = [0x5a; IV_LEN];
    let mut frame = Vec::with_capacity(HEADER_LEN + IV_LEN + plaintext.len() + 32);
    frame.extend_from_slice(header);
    frame.extend_from_slice(&iv);
    let start = frame.len();
    frame.extend_from_slice(plaintext);
    frame.resize(start + plaintext.len() + 16, 0);
    let ct = keys.encrypt(&iv, &mut frame[start..], plaintext.len()).ok_or("padding failed")?;
    frame.truncate(start + ct);
    let tag = keys.tag(&frame);
    frame.extend_from_slice(&tag);

    let mut ring = keyring(h.sender_id, &key, 1 << 20);
    let mut out = Vec::new();
    match ring.open(&frame, &ANY_KIND, h.timestamp, &mut out) {
        Ok(opened) => {
            if opened != h {
                return Err(format!("opened header {opened:?} differs from sealed {h:?}"));
            }
            if h.compression == super::Compression::None && out != plaintext {
                return Err("uncompressed payload changed".into());
            }
            decode_then_roundtrip(h.codec, &out).map(|_| ()).map_err(|e| e.to_string())
        }
        // A frame sealed correctly may still carry a payload that does not inflate; anything
        // else means sealing and opening disagree.
        Err(e) if matches!(e.reason(), super::RejectReason::Decompression | super::RejectReason::TooLarge) => Ok(()),
        Err(e) => Err(format!("a correctly sealed frame was rejected: {:?}", e.reason())),
    }
}
