//! Sealed frames: what crosses the network. A frame carries one encoded report, optionally
//! compressed with a preset dictionary, encrypted with AES-CBC and authenticated with
//! HMAC-SHA256, encrypt-then-MAC; its header (codec, key id, sender, sequence number, time) is
//! authenticated too. `docs/wire-format.md` ("Sealed frames") specifies it byte by byte.
//!
//! Sans-IO: the caller supplies the time and the random generator, and moves the bytes.
//!
//! ```
//! use printfleet_wire::Codec;
//! use printfleet_wire::frame::{CipherSuite, FrameKey, Opener, Sealer};
//! use printfleet_schema::Timestamp;
//! use rand_chacha::rand_core::SeedableRng;
//! // Any `rand_core::CryptoRng`; seed it from the OS (`getrandom`) in real code.
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
//!
//! let key = FrameKey::new(&[0x42; 32])?;
//! let now = Timestamp::from_unix_millis(1_793_610_000_000)?;
//! let mut sealer = Sealer::new(7, 1, &key, CipherSuite::Aes128CbcHmacSha256);
//! let mut opener = Opener::new(7, 1, &key, CipherSuite::Aes128CbcHmacSha256);
//!
//! let report = printfleet_schema::samples::office_laser();
//! let payload = Codec::Protobuf.encode_to_vec(&report)?;
//! let mut frame = Vec::new();
//! sealer.seal(Codec::Protobuf, &payload, now, &mut rng, &mut frame)?;
//!
//! let mut opened = Vec::new();
//! let header = opener.open(&frame, now, &mut opened)?;
//! assert_eq!(header.codec, Codec::Protobuf);
//! assert_eq!(Codec::Protobuf.decode(&opened)?, report);
//!
//! // The same frame again is a replay; a flipped bit fails authentication. The peer learns only
//! // "rejected"; the reason is for local logs.
//! assert!(opener.open(&frame, now, &mut Vec::new()).is_err());
//! frame[40] ^= 1;
//! let err = opener.open(&frame, now, &mut Vec::new()).unwrap_err();
//! assert_eq!(err.to_string(), "frame rejected");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security
//! * Confidentiality and integrity of the payload and the header against anyone without the
//!   shared key; replay protection per (sender, key) within [`REPLAY_WINDOW`] frames and the
//!   clock-skew tolerance; key rotation with an overlap (current and previous key).
//! * No forward secrecy: whoever obtains the shared key can read recorded frames.
//! * Compress-then-encrypt leaks information through the length of the frame (CRIME, BREACH): if
//!   a frame could mix attacker-chosen text (a job name) with a secret the attacker wants to
//!   learn, and the attacker can see many frame lengths, turn compression off
//!   ([`Sealer::with_compression`]). Printer telemetry rarely has such a secret in the payload;
//!   the choice is the integrator's.
//! * The random generator must be a CSPRNG: an IV that repeats or can be predicted weakens CBC.

mod compress;
mod crypto;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod replay;
mod stream;

use core::fmt;

use printfleet_schema::{DurationMs, Timestamp};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

pub use crypto::CipherSuite;
use crypto::{IV_LEN, KeyState, TAG_LEN};
pub use replay::{REPLAY_WINDOW, ReplayWindow};
pub use stream::{FrameReader, StreamError, from_base64, to_base64, write_length_prefixed};

use crate::Codec;

/// Frame format version (byte 0).
pub const VERSION: u8 = 0x01;
/// Bytes of the header before the IV.
pub const HEADER_LEN: usize = 31;
/// Bytes a frame adds besides padding: header, IV and tag.
pub const OVERHEAD: usize = HEADER_LEN + IV_LEN + TAG_LEN;
/// The shortest valid frame: one block of ciphertext.
pub const MIN_FRAME_BYTES: usize = OVERHEAD + 16;
/// The longest frame accepted or produced: room for the largest encoded report (12 MiB of XML)
/// with some to spare.
pub const MAX_FRAME_BYTES: usize = 16 << 20;
/// Default cap on a frame's payload after decompression ("a few MiB"; the largest valid
/// protobuf report is 4 MiB).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 4 << 20;
/// Default tolerance between a frame's timestamp and the receiver's clock: printer clocks drift
/// by hours, and the sequence number is the primary defence against replay.
pub const DEFAULT_CLOCK_SKEW: DurationMs = DurationMs(24 * 60 * 60 * 1000);
/// Payloads shorter than this are never compressed: DEFLATE cannot win on them.
pub const MIN_COMPRESS_BYTES: usize = 64;

/// The shared secret from which a frame's keys are derived (16 to 64 bytes).
///
/// Zeroised on drop; `Debug` does not show it; deliberately not `PartialEq` (compare keys, if
/// ever, in constant time).
pub struct FrameKey(Zeroizing<Vec<u8>>);

impl FrameKey {
    /// Shortest accepted key, in bytes.
    pub const MIN_LEN: usize = 16;
    /// Longest accepted key, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Wraps 32 bytes of key material (always a valid length).
    pub fn from_array(bytes: &[u8; 32]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// Wraps key material; an error outside [`FrameKey::MIN_LEN`]..=[`FrameKey::MAX_LEN`].
    pub fn new(bytes: &[u8]) -> Result<Self, KeyLengthError> {
        if (Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            Ok(Self(Zeroizing::new(bytes.to_vec())))
        } else {
            Err(KeyLengthError { len: bytes.len() })
        }
    }
}

impl fmt::Debug for FrameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FrameKey(<redacted>)")
    }
}

/// A key of the wrong length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("frame keys are 16 to 64 bytes, not {len}")]
pub struct KeyLengthError {
    /// The length given.
    pub len: usize,
}

/// How a frame's payload is compressed (flag bits 2-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// Not compressed (0).
    None,
    /// Raw DEFLATE, RFC 1951 (1), with the preset dictionary the header names.
    Deflate,
}

/// A frame's header, authenticated by the tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Encoding of the payload.
    pub codec: Codec,
    /// Compression of the payload.
    pub compression: Compression,
    /// Preset dictionary of the compression: 0 none, 1 protobuf v1, 2 XML v1, 3 JSON v1.
    pub dictionary: u8,
    /// Cipher and MAC.
    pub suite: CipherSuite,
    /// Which of the sender's keys sealed it.
    pub key_id: u32,
    /// Who sent it.
    pub sender_id: u64,
    /// The sender's sequence number for this key.
    pub sequence: u64,
    /// When the sender sealed it, by the sender's clock.
    pub timestamp: Timestamp,
}

const fn codec_bits(codec: Codec) -> u8 {
    match codec {
        Codec::Protobuf => 1,
        Codec::Xml => 2,
        Codec::Json => 3,
    }
}

impl FrameHeader {
    fn flags(&self) -> u8 {
        let compression = match self.compression {
            Compression::None => 0,
            Compression::Deflate => 1,
        };
        codec_bits(self.codec) | (compression << 2) | (self.suite.flag() << 4)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.push(self.flags());
        out.push(self.dictionary);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&self.sender_id.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.unix_millis().to_be_bytes());
    }

    /// Parses the header at the start of `frame`, checking only its own syntax: the header is
    /// **not authenticated** until [`Opener::open`] succeeds. Use it to route a frame (pick the
    /// opener of `sender_id`), never to act on it.
    pub fn peek(frame: &[u8]) -> Result<Self, Rejected> {
        let h: &[u8; HEADER_LEN] = frame.first_chunk().ok_or(Rejected(RejectReason::Length))?;
        let [version, flags, dictionary, k0, k1, k2, k3, rest @ ..] = *h;
        if version != VERSION {
            return Err(Rejected(RejectReason::Version));
        }
        if flags & 0b1110_0000 != 0 {
            return Err(Rejected(RejectReason::Flags));
        }
        let codec = match flags & 0b11 {
            1 => Codec::Protobuf,
            2 => Codec::Xml,
            3 => Codec::Json,
            _ => return Err(Rejected(RejectReason::Flags)),
        };
        let compression = match (flags >> 2) & 0b11 {
            0 if dictionary == 0 => Compression::None,
            1 if dictionary == 0 || compress::dictionary(dictionary).is_some() => Compression::Deflate,
            _ => return Err(Rejected(RejectReason::Flags)),
        };
        let word = |i: usize| -> u64 {
            let mut b = [0u8; 8];
            if let Some(src) = rest.get(i..i.saturating_add(8)) {
                b.copy_from_slice(src);
            }
            u64::from_be_bytes(b)
        };
        Ok(Self {
            codec,
            compression,
            dictionary,
            suite: CipherSuite::from_flag((flags >> 4) & 1),
            key_id: u32::from_be_bytes([k0, k1, k2, k3]),
            sender_id: word(0),
            sequence: word(8),
            timestamp: Timestamp::from_unix_millis(word(16)).map_err(|_| Rejected(RejectReason::Flags))?,
        })
    }
}

/// Why a frame was rejected — for local logs only. Peers see [`Rejected`]'s opaque message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// Shorter than a frame can be, longer than [`MAX_FRAME_BYTES`], or a ciphertext that is not
    /// whole blocks.
    Length,
    /// An unknown format version.
    Version,
    /// Reserved flag bits set, an unknown codec, compression or dictionary, a timestamp out of
    /// range.
    Flags,
    /// A sender this opener is not for.
    UnknownSender,
    /// A key id this opener does not hold, or a suite other than the key's.
    UnknownKey,
    /// The tag does not match: the frame was altered or sealed under another key.
    Authentication,
    /// A sequence number already seen, or older than the replay window.
    Replay,
    /// A timestamp further from the receiver's clock than the tolerance.
    ClockSkew,
    /// Bad padding after a good tag (a sender bug: no attacker can produce it).
    Padding,
    /// A compressed payload that does not inflate (a sender bug, likewise).
    Decompression,
    /// A payload that inflates beyond the receiver's cap.
    TooLarge,
}

/// A frame was rejected. Its message is the same whatever the reason, so that a peer learns
/// nothing from it (no padding or MAC oracle); [`Rejected::reason`] tells local logs why.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame rejected")]
pub struct Rejected(RejectReason);

impl Rejected {
    /// Why, for local logs. Never send this to the peer.
    pub fn reason(&self) -> RejectReason {
        self.0
    }
}

impl fmt::Debug for Rejected {
    /// Opaque too, in case a `Debug` ends up in a reply; use [`Rejected::reason`] to log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rejected")
    }
}

/// Why sealing failed (a local error: nothing was sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The payload would make the frame longer than [`MAX_FRAME_BYTES`].
    #[error("payload of {len} bytes is too large for a frame")]
    TooLarge {
        /// The payload's length.
        len: usize,
    },
    /// The sequence numbers of this key are used up: rotate the key.
    #[error("sequence numbers exhausted; rotate the key")]
    SequenceExhausted,
}

/// Seals frames for one sender under one key. Keeps the sender's sequence number and reusable
/// buffers, so that sealing into a reused output buffer does not allocate.
pub struct Sealer {
    sender_id: u64,
    key_id: u32,
    suite: CipherSuite,
    keys: KeyState,
    next_sequence: u64,
    compress: bool,
    compressor: Option<compress::Compressor>,
    scratch: Vec<u8>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("sender_id", &self.sender_id)
            .field("key_id", &self.key_id)
            .field("suite", &self.suite)
            .field("next_sequence", &self.next_sequence)
            .field("compress", &self.compress)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for `sender_id` under `key` (known to the receiver as `key_id`), starting at
    /// sequence number 1, compressing where it pays.
    pub fn new(sender_id: u64, key_id: u32, key: &FrameKey, suite: CipherSuite) -> Self {
        Self {
            sender_id,
            key_id,
            suite,
            keys: KeyState::derive(&key.0, key_id, suite),
            next_sequence: 1,
            compress: true,
            compressor: None,
            scratch: Vec::new(),
        }
    }

    /// Turns compression on (the default) or off. Turn it off where the length of frames must
    /// not leak anything about their content (see the module's security notes).
    #[must_use]
    pub fn with_compression(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }

    /// Starts at `sequence` (restore it from storage after a restart: a receiver refuses numbers
    /// it has seen).
    #[must_use]
    pub fn starting_at(mut self, sequence: u64) -> Self {
        self.next_sequence = sequence;
        self
    }

    /// The sequence number the next frame will carry.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Appends a frame carrying `payload` (encoded with `codec`) to `out`, with a fresh IV from
    /// `rng` and `now` as its timestamp. Returns the header it wrote.
    pub fn seal(
        &mut self,
        codec: Codec,
        payload: &[u8],
        now: Timestamp,
        rng: &mut impl CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, SealError> {
        if payload.len() > MAX_FRAME_BYTES.saturating_sub(OVERHEAD + 16) {
            return Err(SealError::TooLarge { len: payload.len() });
        }
        let sequence = self.next_sequence;
        self.next_sequence = sequence.checked_add(1).ok_or(SealError::SequenceExhausted)?;

        let mut header = FrameHeader {
            codec,
            compression: Compression::None,
            dictionary: 0,
            suite: self.suite,
            key_id: self.key_id,
            sender_id: self.sender_id,
            sequence,
            timestamp: now,
        };
        let mut plaintext = payload;
        if self.compress && payload.len() >= MIN_COMPRESS_BYTES {
            let dictionary = compress::dictionary_for(codec);
            self.scratch.clear();
            self.scratch.reserve(compress::compress_bound(payload.len()));
            let compressor = self.compressor.get_or_insert_with(compress::Compressor::new);
            if compressor.compress(payload, compress::dictionary(dictionary), &mut self.scratch)
                && self.scratch.len() < payload.len()
            {
                header.compression = Compression::Deflate;
                header.dictionary = dictionary;
                plaintext = &self.scratch;
            }
        }

        let start = out.len();
        // The lengths below are bounded by MAX_FRAME_BYTES (checked above), so no sum overflows.
        out.reserve(OVERHEAD.saturating_add(plaintext.len()).saturating_add(16));
        header.write(out);
        let mut iv = [0u8; IV_LEN];
        rng.fill_bytes(&mut iv);
        out.extend_from_slice(&iv);
        let ct_start = out.len();
        out.extend_from_slice(plaintext);
        out.resize(ct_start.saturating_add(plaintext.len()).saturating_add(16), 0);
        let ct_len = self.keys.encrypt(&iv, out.get_mut(ct_start..).unwrap_or_default(), plaintext.len()).unwrap_or(0);
        out.truncate(ct_start.saturating_add(ct_len));
        let tag = self.keys.tag(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&tag);
        Ok(header)
    }
}

struct KeySlot {
    key_id: u32,
    suite: CipherSuite,
    keys: KeyState,
    window: ReplayWindow,
}

/// Opens the frames of one sender: checks them, refuses replays, decrypts and inflates.
///
/// Holds the sender's current key and, after [`Opener::rotate`], the previous one, each with its
/// own replay window, so that frames sealed before a rotation still open during the overlap.
pub struct Opener {
    sender_id: u64,
    current: KeySlot,
    previous: Option<KeySlot>,
    max_payload: usize,
    clock_skew: DurationMs,
    decompressor: Option<compress::Decompressor>,
    scratch: Vec<u8>,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("sender_id", &self.sender_id)
            .field("current_key_id", &self.current.key_id)
            .field("previous_key_id", &self.previous.as_ref().map(|s| s.key_id))
            .field("max_payload", &self.max_payload)
            .field("clock_skew", &self.clock_skew)
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// An opener for the frames `sender_id` seals under `key` (`key_id`) with `suite`.
    pub fn new(sender_id: u64, key_id: u32, key: &FrameKey, suite: CipherSuite) -> Self {
        Self {
            sender_id,
            current: KeySlot {
                key_id,
                suite,
                keys: KeyState::derive(&key.0, key_id, suite),
                window: ReplayWindow::new(),
            },
            previous: None,
            max_payload: DEFAULT_MAX_PAYLOAD_BYTES,
            clock_skew: DEFAULT_CLOCK_SKEW,
            decompressor: None,
            scratch: Vec::new(),
        }
    }

    /// Caps a payload's size after decompression (default [`DEFAULT_MAX_PAYLOAD_BYTES`]).
    #[must_use]
    pub fn with_max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// Sets the tolerance between frame timestamps and the receiver's clock (default
    /// [`DEFAULT_CLOCK_SKEW`]).
    #[must_use]
    pub fn with_clock_skew(mut self, skew: DurationMs) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Makes `key` (`key_id`) current; the current key becomes the previous one and the previous
    /// one is forgotten.
    pub fn rotate(&mut self, key_id: u32, key: &FrameKey, suite: CipherSuite) {
        let new = KeySlot { key_id, suite, keys: KeyState::derive(&key.0, key_id, suite), window: ReplayWindow::new() };
        self.previous = Some(core::mem::replace(&mut self.current, new));
    }

    /// Forgets the previous key (end of the overlap).
    pub fn retire_previous(&mut self) {
        self.previous = None;
    }

    /// The replay window of `key_id`, to persist across restarts.
    pub fn window(&self, key_id: u32) -> Option<ReplayWindow> {
        self.slots().find(|s| s.key_id == key_id).map(|s| s.window)
    }

    /// Restores the replay window of `key_id` (see [`ReplayWindow::starting_after`]).
    pub fn restore_window(&mut self, key_id: u32, window: ReplayWindow) {
        if let Some(slot) = self.slots_mut().find(|s| s.key_id == key_id) {
            slot.window = window;
        }
    }

    fn slots(&self) -> impl Iterator<Item = &KeySlot> {
        core::iter::once(&self.current).chain(self.previous.as_ref())
    }

    fn slots_mut(&mut self) -> impl Iterator<Item = &mut KeySlot> {
        core::iter::once(&mut self.current).chain(self.previous.as_mut())
    }

    /// Checks `frame` and appends its payload to `out`. Checks, in order: length and header
    /// syntax, sender and key, the tag (in constant time, before anything is decrypted),
    /// freshness of the sequence number, the timestamp; then decrypts and inflates (bounded).
    /// On error `out` is left as it was.
    pub fn open(&mut self, frame: &[u8], now: Timestamp, out: &mut Vec<u8>) -> Result<FrameHeader, Rejected> {
        let reject = |reason| Err(Rejected(reason));
        if frame.len() < MIN_FRAME_BYTES
            || frame.len() > MAX_FRAME_BYTES
            || !frame.len().saturating_sub(OVERHEAD).is_multiple_of(16)
        {
            return reject(RejectReason::Length);
        }
        let header = FrameHeader::peek(frame)?;
        // Disjoint borrows: the matched key slot, and the scratch state decryption writes to.
        let Self { sender_id, current, previous, max_payload, clock_skew, decompressor, scratch } = self;
        let (max_payload, clock_skew) = (*max_payload, *clock_skew);
        if header.sender_id != *sender_id {
            return reject(RejectReason::UnknownSender);
        }
        let (authenticated, tag) = frame.split_at(frame.len().saturating_sub(TAG_LEN));
        let Some(slot) = core::iter::once(current)
            .chain(previous.as_mut())
            .find(|s| s.key_id == header.key_id && s.suite == header.suite)
        else {
            return reject(RejectReason::UnknownKey);
        };
        if !slot.keys.verify(authenticated, tag) {
            return reject(RejectReason::Authentication);
        }
        if !slot.window.is_fresh(header.sequence) {
            return reject(RejectReason::Replay);
        }
        let skew = match header.timestamp.duration_since(now) {
            Some(ahead) => ahead,
            None => now.duration_since(header.timestamp).unwrap_or(DurationMs::ZERO),
        };
        if skew > clock_skew {
            return reject(RejectReason::ClockSkew);
        }
        let iv: [u8; IV_LEN] = authenticated
            .get(HEADER_LEN..HEADER_LEN + IV_LEN)
            .and_then(|iv| iv.try_into().ok())
            .ok_or(Rejected(RejectReason::Length))?;
        let ciphertext = authenticated.get(HEADER_LEN + IV_LEN..).unwrap_or_default();

        let keys = &slot.keys;
        let start = out.len();
        match header.compression {
            Compression::None => {
                if ciphertext.len() > max_payload.saturating_add(16) {
                    return reject(RejectReason::TooLarge);
                }
                out.extend_from_slice(ciphertext);
                let Some(len) = keys.decrypt(&iv, out.get_mut(start..).unwrap_or_default()) else {
                    out.truncate(start);
                    return reject(RejectReason::Padding);
                };
                out.truncate(start.saturating_add(len));
                if len > max_payload {
                    out.truncate(start);
                    return reject(RejectReason::TooLarge);
                }
            }
            Compression::Deflate => {
                scratch.clear();
                scratch.extend_from_slice(ciphertext);
                let Some(len) = keys.decrypt(&iv, scratch) else {
                    return reject(RejectReason::Padding);
                };
                scratch.truncate(len);
                let decompressor = decompressor.get_or_insert_with(compress::Decompressor::new);
                if let Err(e) =
                    decompressor.decompress(scratch, compress::dictionary(header.dictionary), max_payload, out)
                {
                    out.truncate(start);
                    return reject(match e {
                        compress::InflateError::TooLarge => RejectReason::TooLarge,
                        compress::InflateError::Corrupt => RejectReason::Decompression,
                    });
                }
            }
        }
        // Record the sequence number only for a frame that opened completely.
        slot.window.accept(header.sequence);
        Ok(header)
    }
}
