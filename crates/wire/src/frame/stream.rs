//! Frames over byte streams (TCP, TLS: a 4-byte big-endian length before each frame) and as
//! text (base64, RFC 4648 §4, for XML/XMPP bodies and HTTP).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{MAX_FRAME_BYTES, RejectReason, Rejected};

/// Bytes of the length prefix.
const PREFIX_LEN: usize = 4;

/// Appends `frame` with its length prefix to `out`.
pub fn write_length_prefixed(frame: &[u8], out: &mut Vec<u8>) {
    // Frames are at most MAX_FRAME_BYTES (16 MiB), so the length fits in 32 bits.
    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(frame);
}

/// A stream whose length prefix announced more than the limit. The connection cannot be
/// resynchronised: close it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("frame length {len} exceeds the limit of {limit} bytes")]
pub struct StreamError {
    /// The announced length.
    pub len: usize,
    /// The limit.
    pub limit: usize,
}

/// Splits a byte stream into frames, whatever the sizes of the reads that feed it.
///
/// Feed bytes with [`FrameReader::push`] as they arrive, then take complete frames with
/// [`FrameReader::next_frame`] until it returns `None`. A length over the limit is refused as
/// soon as its four bytes arrive, before anything is buffered for it.
///
/// ```
/// use printfleet_wire::frame::{FrameReader, write_length_prefixed};
/// let mut wire = Vec::new();
/// write_length_prefixed(b"first", &mut wire);
/// write_length_prefixed(b"second", &mut wire);
///
/// let mut reader = FrameReader::new();
/// let mut frames = Vec::new();
/// for chunk in wire.chunks(3) {
///     reader.push(chunk)?;
///     while let Some(frame) = reader.next_frame()? {
///         frames.push(frame.to_vec());
///     }
/// }
/// assert_eq!(frames, [b"first".to_vec(), b"second".to_vec()]);
/// # Ok::<(), printfleet_wire::frame::StreamError>(())
/// ```
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    limit: usize,
}

impl FrameReader {
    /// A reader that accepts frames up to [`MAX_FRAME_BYTES`].
    pub fn new() -> Self {
        Self::with_limit(MAX_FRAME_BYTES)
    }

    /// A reader that accepts frames up to `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self { buf: Vec::new(), start: 0, limit }
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        self.check_prefix().map(|_| ())
    }

    fn check_prefix(&self) -> Result<Option<usize>, StreamError> {
        let Some(prefix) = self.buf.get(self.start..).and_then(|b| b.first_chunk::<PREFIX_LEN>()) else {
            return Ok(None);
        };
        let len = usize::try_from(u32::from_be_bytes(*prefix)).unwrap_or(usize::MAX);
        if len > self.limit {
            return Err(StreamError { len, limit: self.limit });
        }
        Ok(Some(len))
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, StreamError> {
        let Some(len) = self.check_prefix()? else {
            return Ok(None);
        };
        let body = self.start.saturating_add(PREFIX_LEN);
        let end = body.saturating_add(len);
        if self.buf.len() < end {
            return Ok(None);
        }
        self.start = end;
        Ok(self.buf.get(body..end))
    }
}

/// The text form of a frame: standard base64 with padding.
pub fn to_base64(frame: &[u8]) -> String {
    STANDARD.encode(frame)
}

/// Decodes the text form of a frame, refusing text longer than the largest frame could need
/// before decoding it.
pub fn from_base64(text: &str) -> Result<Vec<u8>, Rejected> {
    let max_text = MAX_FRAME_BYTES.div_ceil(3).saturating_mul(4);
    if text.len() > max_text {
        return Err(Rejected(RejectReason::Length));
    }
    STANDARD.decode(text).map_err(|_| Rejected(RejectReason::Length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_lengths_are_refused_before_buffering() {
        let mut r = FrameReader::with_limit(100);
        assert_eq!(r.push(&101u32.to_be_bytes()), Err(StreamError { len: 101, limit: 100 }));
        let mut r = FrameReader::with_limit(100);
        r.push(&[0, 0]).unwrap();
        assert_eq!(r.next_frame(), Ok(None));
        assert_eq!(r.push(&[0xff, 0xff]), Err(StreamError { len: 0xffff, limit: 100 }));
    }

    #[test]
    fn partial_reads_reassemble_and_empty_frames_work() {
        let mut wire = Vec::new();
        for f in [&b""[..], b"a", &[7u8; 300]] {
            write_length_prefixed(f, &mut wire);
        }
        for chunk_len in [1, 2, 5, 1000] {
            let mut r = FrameReader::new();
            let mut got = Vec::new();
            for chunk in wire.chunks(chunk_len) {
                r.push(chunk).unwrap();
                while let Some(f) = r.next_frame().unwrap() {
                    got.push(f.to_vec());
                }
            }
            assert_eq!(got, vec![vec![], b"a".to_vec(), vec![7u8; 300]]);
            assert_eq!(r.buffered(), 0);
        }
    }

    #[test]
    fn base64_round_trips_and_refuses_junk() {
        let frame = [0u8, 1, 2, 250, 251, 252];
        assert_eq!(from_base64(&to_base64(&frame)).unwrap(), frame);
        assert!(from_base64("not base64!").is_err());
    }
}
