//! The session-mode link between a collector and the portal, sans-IO: the messages carried over
//! one TLS TCP connection, each a length-prefixed record tagged with a *channel* (one device's
//! SCRAM handshake, then its session), so that a collector reports thousands of devices over
//! one connection, with as many frames in flight as it likes.
//!
//! ```text
//! message = length (u32, big-endian, 5..=MAX_MESSAGE_BYTES, counts what follows)
//!           type (u8) channel (u32, big-endian) body (length - 5 bytes)
//! ```
//!
//! Only `Frame` and `Reply` may be as long as [`MAX_MESSAGE_BYTES`]; every other type is at most
//! [`MAX_HANDSHAKE_MESSAGE_BYTES`], and a portal takes nothing longer from a connection until a
//! SCRAM proof on it was checked, nor more than [`MAX_HANDSHAKES_BEFORE_PROOF`] handshakes at
//! once.
//!
//! | type | direction | body |
//! |------|-----------|------|
//! | 0x01 `Hello` | collector → portal | SCRAM client-first-message (UTF-8) |
//! | 0x02 `ServerFirst` | portal → collector | SCRAM server-first-message |
//! | 0x03 `ClientFinal` | collector → portal | SCRAM client-final-message |
//! | 0x04 `ServerFinal` | portal → collector | SCRAM server-final-message: the channel is open |
//! | 0x05 `Frame` | collector → portal | a sealed update frame of the channel's session |
//! | 0x06 `Reply` | portal → collector | the reply frame (ack or resync) |
//! | 0x07 `Rejected` | portal → collector | empty: that frame was refused (opaque); the channel stays open |
//! | 0x08 `Closed` | either | empty: the channel is closed (handshake failed, session expired or revoked, or the collector is done with it) |
//!
//! The collector chooses channel numbers, unique among its open channels on the connection (at
//! most [`MAX_CHANNELS`]). Replies to the frames of one channel come back in the order the
//! frames were sent. A `Closed` from the portal says nothing about why (the reason is in the
//! portal's log): the collector runs a new handshake on a new channel after a back-off.
//!
//! ```
//! use printfleet_wire::link::{LinkReader, Message, MessageType};
//!
//! let mut bytes = Vec::new();
//! Message { kind: MessageType::Frame, channel: 7, body: b"sealed frame" }.encode(&mut bytes)?;
//! let mut reader = LinkReader::new();
//! reader.extend(&bytes[..3]); // bytes arrive in pieces
//! assert!(reader.next_message()?.is_none());
//! reader.extend(&bytes[3..]);
//! let message = reader.next_message()?.expect("complete");
//! assert_eq!((message.kind, message.channel, message.body), (MessageType::Frame, 7, &b"sealed frame"[..]));
//! # Ok::<(), printfleet_wire::link::LinkError>(())
//! ```

/// The largest message (length prefix excluded) either side accepts: a length prefix above it
/// is refused before anything is allocated, and the connection is closed.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The largest handshake message (`Hello`, `ServerFirst`, `ClientFinal`, `ServerFinal`) or
/// empty one (`Rejected`, `Closed`), length prefix excluded: SCRAM's messages are at most 1 KiB
/// (`printfleet_auth::scram::MAX_MESSAGE_BYTES`). Refused above it whatever the reader's limit,
/// and the most a reader made with [`LinkReader::unauthenticated`] takes of any message.
pub const MAX_HANDSHAKE_MESSAGE_BYTES: usize = 2 * 1024;
/// Handshakes a collector runs at once on a connection before its first proof is checked: a
/// portal answers a `Hello` beyond them `Closed` (so that a peer without credentials makes it
/// hold a few handshakes' state, not thousands), and a collector sends its first handshakes
/// at most this many at a time, the rest once one has succeeded.
pub const MAX_HANDSHAKES_BEFORE_PROOF: usize = 16;
/// Channels a collector may have open on one connection.
pub const MAX_CHANNELS: usize = 16_384;
/// Bytes before the body: length prefix (4), type (1), channel (4).
pub const MESSAGE_OVERHEAD: usize = 9;

/// What a link message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageType {
    /// Collector → portal: SCRAM client-first-message.
    Hello,
    /// Portal → collector: SCRAM server-first-message.
    ServerFirst,
    /// Collector → portal: SCRAM client-final-message.
    ClientFinal,
    /// Portal → collector: SCRAM server-final-message; the channel is open.
    ServerFinal,
    /// Collector → portal: a sealed update frame.
    Frame,
    /// Portal → collector: the reply frame.
    Reply,
    /// Portal → collector: the frame was refused; the channel stays open.
    Rejected,
    /// Either way: the channel is closed.
    Closed,
}

impl MessageType {
    /// The largest message of this type (length prefix excluded): [`MAX_MESSAGE_BYTES`] for
    /// frames and replies, [`MAX_HANDSHAKE_MESSAGE_BYTES`] for the others.
    pub fn max_len(self) -> usize {
        match self {
            Self::Frame | Self::Reply => MAX_MESSAGE_BYTES,
            _ => MAX_HANDSHAKE_MESSAGE_BYTES,
        }
    }

    /// The type's byte on the wire.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::Hello => 0x01,
            Self::ServerFirst => 0x02,
            Self::ClientFinal => 0x03,
            Self::ServerFinal => 0x04,
            Self::Frame => 0x05,
            Self::Reply => 0x06,
            Self::Rejected => 0x07,
            Self::Closed => 0x08,
        }
    }

    /// The type a byte stands for, if any.
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0x01 => Self::Hello,
            0x02 => Self::ServerFirst,
            0x03 => Self::ClientFinal,
            0x04 => Self::ServerFinal,
            0x05 => Self::Frame,
            0x06 => Self::Reply,
            0x07 => Self::Rejected,
            0x08 => Self::Closed,
            _ => return None,
        })
    }
}

/// One link message, borrowing its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// Its type.
    pub kind: MessageType,
    /// The channel (device handshake or session) it belongs to.
    pub channel: u32,
    /// The body.
    pub body: &'a [u8],
}

impl Message<'_> {
    /// Appends the message, length prefix first, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), LinkError> {
        let len = self.body.len().checked_add(5).filter(|&n| n <= self.kind.max_len()).ok_or(LinkError::TooLarge)?;
        let prefix = u32::try_from(len).map_err(|_| LinkError::TooLarge)?;
        out.reserve(len.saturating_add(4));
        out.extend_from_slice(&prefix.to_be_bytes());
        out.push(self.kind.to_byte());
        out.extend_from_slice(&self.channel.to_be_bytes());
        out.extend_from_slice(self.body);
        Ok(())
    }
}

/// Why a link stream is broken. Every error ends the connection: the stream cannot be
/// resynchronised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A length prefix above the message type's limit ([`MessageType::max_len`]) or the
    /// reader's ([`LinkReader::unauthenticated`]), or a body to send that large.
    #[error("link message too large")]
    TooLarge,
    /// A length prefix below the 5 bytes of type and channel.
    #[error("link message too short")]
    TooShort,
    /// An unknown message type.
    #[error("unknown link message type {0:#04x}")]
    UnknownType(u8),
}

/// Splits a byte stream into messages. Holds at most one incomplete message plus what one read
/// brought: the caller reads into a buffer of any size and passes it to [`LinkReader::extend`],
/// then takes every complete message with [`LinkReader::next_message`] before reading again.
///
/// A server reads a new connection with [`LinkReader::unauthenticated`]: until the peer has
/// proved who it is, no message above [`MAX_HANDSHAKE_MESSAGE_BYTES`] is taken, so a peer
/// without credentials makes the server hold a few KiB, not [`MAX_MESSAGE_BYTES`].
#[derive(Debug)]
pub struct LinkReader {
    buf: Vec<u8>,
    /// Where the unread bytes start.
    start: usize,
    /// The largest message taken now (length prefix excluded).
    limit: usize,
}

impl Default for LinkReader {
    fn default() -> Self {
        Self { buf: Vec::new(), start: 0, limit: MAX_MESSAGE_BYTES }
    }
}

impl LinkReader {
    /// An empty reader that takes messages up to their type's limit ([`MessageType::max_len`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty reader for a connection whose peer has not authenticated: every message, of
    /// any type, at most [`MAX_HANDSHAKE_MESSAGE_BYTES`] until [`LinkReader::authenticated`].
    pub fn unauthenticated() -> Self {
        Self { limit: MAX_HANDSHAKE_MESSAGE_BYTES, ..Self::default() }
    }

    /// The peer proved who it is (a SCRAM proof checked on one of its channels): frames up to
    /// [`MAX_MESSAGE_BYTES`] are taken from now on.
    pub fn authenticated(&mut self) {
        self.limit = MAX_MESSAGE_BYTES;
    }

    /// Appends bytes read from the stream.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// The next complete message, `Ok(None)` if more bytes are needed, or an error (close the
    /// connection) as soon as the length prefix or type is bad, before the body arrives.
    pub fn next_message(&mut self) -> Result<Option<Message<'_>>, LinkError> {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let unread = self.buf.get(self.start..).unwrap_or_default();
        let Some((prefix, rest)) = unread.split_first_chunk::<4>() else { return Ok(None) };
        let len = u32::from_be_bytes(*prefix) as usize;
        if len > self.limit {
            return Err(LinkError::TooLarge);
        }
        if len < 5 {
            return Err(LinkError::TooShort);
        }
        if let Some(&kind) = rest.first() {
            let kind = MessageType::from_byte(kind).ok_or(LinkError::UnknownType(kind))?;
            if len > kind.max_len() {
                return Err(LinkError::TooLarge);
            }
        }
        let Some(record) = rest.get(..len) else { return Ok(None) };
        let (Some((&kind, after)), consumed) = (record.split_first(), len.saturating_add(4)) else { return Ok(None) };
        let kind = MessageType::from_byte(kind).ok_or(LinkError::UnknownType(kind))?;
        let Some((channel, body)) = after.split_first_chunk::<4>() else { return Err(LinkError::TooShort) };
        self.start = self.start.saturating_add(consumed);
        Ok(Some(Message { kind, channel: u32::from_be_bytes(*channel), body }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::cast_possible_truncation)]
    use super::*;

    #[test]
    fn messages_round_trip_whatever_the_read_sizes() {
        let bodies: [&[u8]; 3] = [b"", b"n,,n=printer-7,r=abc", &[0xAB; 5000]];
        let mut stream = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            Message { kind: MessageType::Frame, channel: i as u32, body }.encode(&mut stream).unwrap();
        }
        for chunk in [1, 3, 7, 4096, stream.len()] {
            let mut reader = LinkReader::new();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                reader.extend(piece);
                while let Some(m) = reader.next_message().unwrap() {
                    got.push((m.channel, m.body.to_vec()));
                }
            }
            assert_eq!(got.len(), 3, "chunk {chunk}");
            for (i, (channel, body)) in got.iter().enumerate() {
                assert_eq!((*channel as usize, &body[..]), (i, bodies[i]));
            }
            assert_eq!(reader.buffered(), 0);
        }
    }

    #[test]
    fn a_bad_prefix_or_type_is_refused_before_the_body_arrives() {
        let mut reader = LinkReader::new();
        reader.extend(&(MAX_MESSAGE_BYTES as u32).saturating_add(1).to_be_bytes());
        assert_eq!(reader.next_message(), Err(LinkError::TooLarge));
        let mut reader = LinkReader::new();
        reader.extend(&4u32.to_be_bytes());
        assert_eq!(reader.next_message(), Err(LinkError::TooShort));
        let mut reader = LinkReader::new();
        reader.extend(&100u32.to_be_bytes());
        reader.extend(&[0x7F]);
        assert_eq!(reader.next_message(), Err(LinkError::UnknownType(0x7F)));
        let body = [0u8; MAX_MESSAGE_BYTES];
        let mut out = Vec::new();
        assert_eq!(
            Message { kind: MessageType::Frame, channel: 0, body: &body }.encode(&mut out),
            Err(LinkError::TooLarge)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn handshake_messages_and_unauthenticated_peers_are_held_to_a_few_kib() {
        let head = |len: usize, kind: MessageType| {
            let mut b = u32::try_from(len).unwrap().to_be_bytes().to_vec();
            b.push(kind.to_byte());
            b
        };
        // A Hello above the handshake limit is refused before its body arrives, on any reader.
        let mut reader = LinkReader::new();
        reader.extend(&head(MAX_HANDSHAKE_MESSAGE_BYTES + 1, MessageType::Hello));
        assert_eq!(reader.next_message(), Err(LinkError::TooLarge));
        // A frame of 3 KiB: refused before the peer authenticated, taken after.
        let body = [0xAB; 3 * 1024];
        let mut frame = Vec::new();
        Message { kind: MessageType::Frame, channel: 1, body: &body }.encode(&mut frame).unwrap();
        let mut reader = LinkReader::unauthenticated();
        reader.extend(&frame[..9]);
        assert_eq!(reader.next_message(), Err(LinkError::TooLarge));
        let mut reader = LinkReader::unauthenticated();
        let mut hello = Vec::new();
        Message { kind: MessageType::Hello, channel: 1, body: &[b'n'; MAX_HANDSHAKE_MESSAGE_BYTES - 5] }
            .encode(&mut hello)
            .unwrap();
        reader.extend(&hello);
        assert_eq!(reader.next_message().unwrap().unwrap().body.len(), MAX_HANDSHAKE_MESSAGE_BYTES - 5);
        reader.authenticated();
        reader.extend(&frame);
        assert_eq!(reader.next_message().unwrap().unwrap().body, &body[..]);
        // Nor is one that large encoded.
        let body = [0u8; MAX_HANDSHAKE_MESSAGE_BYTES];
        let mut out = Vec::new();
        assert_eq!(
            Message { kind: MessageType::Closed, channel: 0, body: &body }.encode(&mut out),
            Err(LinkError::TooLarge)
        );
    }

    #[test]
    fn every_type_byte_round_trips() {
        for byte in 0..=255u8 {
            if let Some(kind) = MessageType::from_byte(byte) {
                assert_eq!(kind.to_byte(), byte);
            }
        }
        assert_eq!((1..=8).filter_map(MessageType::from_byte).count(), 8);
    }
}
