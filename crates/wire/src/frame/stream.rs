//! Frames over byte streams (TCP, TLS: a 4-byte big-endian length before each frame) and as
//! text (base64, RFC 4648 §4, for XML/XMPP bodies and HTTP).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{FrameHeader, HEADER_LEN, MAX_FRAME_BYTES, MIN_FRAME_BYTES, RejectReason, Rejected};

/// Bytes of the length prefix.
const PREFIX_LEN: usize = 4;

/// Appends `frame` with its length prefix to `out`.
pub fn write_length_prefixed(frame: &[u8], out: &mut Vec<u8>) {
    // Frames are at most MAX_FRAME_BYTES (16 MiB), so the length fits in 32 bits.
    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(frame);
}

/// Frames accepted from a peer that has not authenticated yet (a session's first messages, a
/// connection's first frame): enough for any handshake message and a steady-state update, far
/// below what a peer could make the receiver buffer once trusted.
pub const MAX_UNAUTHENTICATED_FRAME_BYTES: usize = 64 << 10;

/// Capacity a reader keeps between frames; more, left by a large frame, is given back.
const RETAINED_CAPACITY: usize = 64 << 10;

/// A stream that cannot go on. The connection cannot be resynchronised: close it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// A length prefix announced more than the reader's limit.
    #[error("frame length {len} exceeds the limit of {limit} bytes")]
    TooLong {
        /// The announced length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The first bytes of a frame are not a valid header (checked before its body is buffered).
    #[error("not a frame header")]
    NotAFrame,
}

/// Splits a byte stream into frames, whatever the sizes of the reads that feed it.
///
/// Feed bytes with [`FrameReader::push`] as they arrive, then take complete frames with
/// [`FrameReader::next_frame`] until it returns `None`. A length over the limit is refused as
/// soon as its four bytes arrive, and a frame's header is checked as soon as it arrives, before
/// the rest of the body is waited for. A new reader accepts frames of up to
/// [`MAX_UNAUTHENTICATED_FRAME_BYTES`]: raise the limit with [`FrameReader::set_limit`] once the
/// peer has authenticated. Capacity left by a large frame is released.
///
/// ```
/// use printfleet_wire::frame::{FrameReader, write_length_prefixed};
/// let mut wire = Vec::new();
/// write_length_prefixed(b"first", &mut wire);
/// write_length_prefixed(b"second", &mut wire);
///
/// // Handshake messages, not frames: no header check.
/// let mut reader = FrameReader::messages(1024);
/// let mut frames = Vec::new();
/// for chunk in wire.chunks(3) {
///     reader.push(chunk)?;
///     while let Some(frame) = reader.next_frame()? {
///         frames.push(frame.to_vec());
///     }
/// }
/// assert_eq!(frames, [b"first".to_vec(), b"second".to_vec()]);
///
/// // A frame reader refuses a body that does not start with a frame header.
/// let mut reader = FrameReader::new();
/// assert!(reader.push(&wire).is_err());
/// # Ok::<(), printfleet_wire::frame::StreamError>(())
/// ```
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    limit: usize,
    check_headers: bool,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    /// A reader of sealed frames from a peer not yet authenticated: frames up to
    /// [`MAX_UNAUTHENTICATED_FRAME_BYTES`], headers checked before bodies are buffered.
    pub fn new() -> Self {
        Self { buf: Vec::new(), start: 0, limit: MAX_UNAUTHENTICATED_FRAME_BYTES, check_headers: true }
    }

    /// A reader of length-prefixed messages that are not frames (handshake messages), up to
    /// `limit` bytes each (at most [`MAX_FRAME_BYTES`]).
    pub fn messages(limit: usize) -> Self {
        Self { buf: Vec::new(), start: 0, limit: limit.min(MAX_FRAME_BYTES), check_headers: false }
    }

    /// Sets the largest frame accepted from now on (at most [`MAX_FRAME_BYTES`]): raise it once
    /// the peer has authenticated.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(MAX_FRAME_BYTES);
    }

    /// Checks frame headers from now on (after the handshake messages of a session).
    pub fn expect_frames(&mut self) {
        self.check_headers = true;
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
            if self.buf.capacity() > RETAINED_CAPACITY {
                self.buf.shrink_to(self.buf.len().max(RETAINED_CAPACITY));
            }
        }
        self.buf.extend_from_slice(bytes);
        self.check_prefix().map(|_| ())
    }

    fn check_prefix(&self) -> Result<Option<usize>, StreamError> {
        let Some(rest) = self.buf.get(self.start..) else {
            return Ok(None);
        };
        let Some(prefix) = rest.first_chunk::<PREFIX_LEN>() else {
            return Ok(None);
        };
        let len = usize::try_from(u32::from_be_bytes(*prefix)).unwrap_or(usize::MAX);
        if len > self.limit {
            return Err(StreamError::TooLong { len, limit: self.limit });
        }
        if self.check_headers {
            let body = rest.get(PREFIX_LEN..).unwrap_or_default();
            if len < MIN_FRAME_BYTES {
                return Err(StreamError::NotAFrame);
            }
            if body.len() >= HEADER_LEN && FrameHeader::peek(body).is_err() {
                return Err(StreamError::NotAFrame);
            }
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
        let mut r = FrameReader::messages(100);
        assert_eq!(r.push(&101u32.to_be_bytes()), Err(StreamError::TooLong { len: 101, limit: 100 }));
        let mut r = FrameReader::messages(100);
        r.push(&[0, 0]).unwrap();
        assert_eq!(r.next_frame(), Ok(None));
        assert_eq!(r.push(&[0xff, 0xff]), Err(StreamError::TooLong { len: 0xffff, limit: 100 }));
    }

    #[test]
    fn unauthenticated_peers_get_a_small_limit_and_headers_are_checked_early() {
        // 1 MiB announced by a peer that has not authenticated: refused at the prefix.
        let mut r = FrameReader::new();
        let big = u32::try_from(1usize << 20).unwrap();
        assert!(matches!(r.push(&big.to_be_bytes()), Err(StreamError::TooLong { .. })));
        // Once authenticated, the same length is accepted...
        let mut r = FrameReader::new();
        r.set_limit(MAX_FRAME_BYTES);
        r.push(&big.to_be_bytes()).unwrap();
        // ...but a body that is not a frame is refused as soon as its header has arrived, long
        // before the announced megabyte.
        assert_eq!(r.push(&[0xee; HEADER_LEN]), Err(StreamError::NotAFrame));
        assert!(r.buffered() < 64);
        // A length below the smallest frame is refused at once.
        let mut r = FrameReader::new();
        assert_eq!(r.push(&5u32.to_be_bytes()), Err(StreamError::NotAFrame));
    }

    #[test]
    fn capacity_left_by_a_large_frame_is_released() {
        let mut wire = Vec::new();
        write_length_prefixed(&[7u8; 1 << 20], &mut wire);
        let mut r = FrameReader::messages(MAX_FRAME_BYTES);
        r.push(&wire).unwrap();
        assert_eq!(r.next_frame().unwrap().map(<[u8]>::len), Some(1 << 20));
        r.push(&[0, 0]).unwrap();
        assert!(r.buf.capacity() <= RETAINED_CAPACITY, "{}", r.buf.capacity());
    }

    #[test]
    fn partial_reads_reassemble_and_empty_frames_work() {
        let mut wire = Vec::new();
        for f in [&b""[..], b"a", &[7u8; 300]] {
            write_length_prefixed(f, &mut wire);
        }
        for chunk_len in [1, 2, 5, 1000] {
            let mut r = FrameReader::messages(MAX_FRAME_BYTES);
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
