//! Entry points for the fuzz targets (feature `fuzzing`; not a stable API). They live in the
//! library so that the targets stay thin shims and the tests can call the same code.
// Fuzzing support, fed inputs libFuzzer bounds to a few kilobytes: plain arithmetic is clearer.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use printfleet_schema::Timestamp;

use super::{FrameHeader, FrameKey, FrameReader, HEADER_LEN, IV_LEN, KeyState, Opener, from_base64};
use crate::roundtrip::decode_then_roundtrip;

/// The key the fuzz targets seal and open with: bytes 00..1f, as in the golden frames.
fn test_key() -> FrameKey {
    let bytes: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap_or(0));
    FrameKey(zeroize::Zeroizing::new(bytes.to_vec()))
}

/// Arbitrary bytes as a frame, a stream and base64 text: must be rejected or accepted cleanly.
pub fn open_arbitrary(data: &[u8]) {
    let key = test_key();
    let now = Timestamp::UNIX_EPOCH;
    if let Ok(h) = FrameHeader::peek(data) {
        let mut opener = Opener::new(h.sender_id, h.key_id, &key, h.suite);
        let mut out = Vec::new();
        let _ = opener.open(data, h.timestamp, &mut out);
    }
    let _ = Opener::new(1, 1, &key, super::CipherSuite::Aes128CbcHmacSha256).open(data, now, &mut Vec::new());
    let mut reader = FrameReader::with_limit(1 << 16);
    for chunk in data.chunks(7) {
        if reader.push(chunk).is_err() {
            break;
        }
        while let Ok(Some(_)) = reader.next_frame() {}
    }
    let _ = from_base64(&String::from_utf8_lossy(data));
}

/// `data` is a 31-byte header followed by a plaintext: seals it (correct IV, padding and tag under
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
    let key = test_key();
    let keys = KeyState::derive(&key.0, h.key_id, h.suite);
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

    let mut opener = Opener::new(h.sender_id, h.key_id, &key, h.suite).with_max_payload(1 << 20);
    let mut out = Vec::new();
    match opener.open(&frame, h.timestamp, &mut out) {
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
