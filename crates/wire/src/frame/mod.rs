//! Sealed frames: what crosses the network. A frame carries one encoded message (a report, an
//! update or a reply), optionally compressed with a preset dictionary, encrypted with AES-CBC and
//! authenticated with HMAC-SHA256, encrypt-then-MAC; its header (codec, message kind, key id,
//! sender, sequence number, time) is authenticated too. `docs/wire-format.md` ("Sealed frames")
//! specifies it byte by byte.
//!
//! The integrator never handles a raw key, IV or sequence number. Three objects own all the
//! state, one for each place a frame is sealed or opened:
//!
//! * [`DeviceChannel`]: the device's (or collector's) end. Seals reports and updates under its
//!   own sequence numbers, which it never reuses: for a long-lived key it reserves blocks of
//!   numbers, and the caller must persist each [`Reservation`] before the channel seals under it
//!   ([`DeviceChannel::restore`] starts after the last one saved). Opens only replies to frames
//!   it sent, each once.
//! * [`Keyring`]: the portal's end for one-shot frames from many devices. One replay window per
//!   (sender, key id), exported and restored explicitly ([`KeyringState`], [`WindowState`]) so
//!   that a restart does not reopen replays. Seals each reply bound to the frame it answers.
//! * [`PortalChannel`]: the portal's end of one authenticated session ([`SessionKey`]).
//!
//! Each direction has its own keys (the direction is bound into the key derivation): a frame the
//! portal sealed does not open at the portal, and a device's frame does not pass as a reply.
//!
//! Diagnostic tools that only show what a frame holds open it with [`danger`], which keeps no
//! replay state: never a way to accept frames.
//!
//! Sans-IO: the caller supplies the time and the random generator ([`OsRng`] reads the
//! operating system's), and moves the bytes.
//!
//! ```
//! use printfleet_wire::Codec;
//! use printfleet_wire::frame::{
//!     CipherSuite, DeviceChannel, FrameKey, KeyId, Keyring, MessageKind, OsRng, SenderId,
//! };
//! use printfleet_schema::Timestamp;
//! let mut rng = OsRng::default();
//! let now = Timestamp::from_unix_millis(1_793_610_000_000)?;
//!
//! // One key: secret, key id and cipher suite together (from provisioning, never from a literal;
//! // `printfleet-auth` derives a device's from its secret, or `FrameKey::new` takes the bytes).
//! let key = FrameKey::generate(&mut rng, KeyId(7), CipherSuite::Aes128CbcHmacSha256);
//! let sender = SenderId(0x0102_0304_0506_0708);
//!
//! // The device: reserve sequence numbers, persist the reservation, then seal.
//! let mut device = DeviceChannel::new(sender, &key);
//! let reservation = device.reserve();
//! // ... write `reservation.checkpoint()` to durable storage here, then:
//! device.reservation_saved(reservation)?;
//! let payload = Codec::Protobuf.encode_to_vec(&printfleet_schema::samples::office_laser())?;
//! let mut frame = Vec::new();
//! device.seal(MessageKind::Report, Codec::Protobuf, &payload, now, &mut rng, &mut frame)?;
//!
//! // The portal: one keyring for every device's keys and replay windows.
//! let mut portal = Keyring::new();
//! portal.insert(sender, &key)?;
//! let mut opened = Vec::new();
//! let header = portal.open(&frame, &[MessageKind::Report], now, &mut opened)?;
//! assert_eq!(opened, payload);
//!
//! // The same frame again is a replay. The peer learns only "rejected".
//! let err = portal.open(&frame, &[MessageKind::Report], now, &mut Vec::new()).unwrap_err();
//! assert_eq!(err.to_string(), "frame rejected");
//!
//! // The reply is bound to the frame it answers, and opens at the device once.
//! let mut reply = Vec::new();
//! portal.seal_reply(&header, Codec::Protobuf, b"ack", now, &mut rng, &mut reply)?;
//! let mut answer = Vec::new();
//! device.open_reply(&reply, now, &mut answer)?;
//! assert_eq!(answer, b"ack");
//! assert!(device.open_reply(&reply, now, &mut Vec::new()).is_err());
//! // A reply reflected back to the portal does not open there.
//! assert!(portal.open(&reply, &[MessageKind::Reply], now, &mut Vec::new()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security
//! * Confidentiality and integrity of the payload and the header against anyone without the
//!   shared key; a key is a secret, a key id and a cipher suite together, and a frame opens only
//!   under the suite and key id it names. Replay protection per (sender, key id) within
//!   [`REPLAY_WINDOW`] frames and the clock-skew tolerance, across restarts of either end as long
//!   as the caller persists what the API hands it; key rotation with an overlap.
//! * No forward secrecy: whoever obtains the shared key can read recorded frames.
//! * Compress-then-encrypt leaks information through the length of the frame (CRIME, BREACH): if
//!   a frame could mix attacker-chosen text (a job name) with a secret the attacker wants to
//!   learn, and the attacker can see many frame lengths, turn compression off
//!   ([`DeviceChannel::set_compression`]). Printer telemetry rarely has such a secret in the
//!   payload; the choice is the integrator's.
//! * The random generator must be a CSPRNG: an IV that repeats or can be predicted weakens CBC.
//!   Use [`OsRng`] unless the platform gives a better one.

mod channel;
mod compress;
mod crypto;
pub mod danger;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod keyring;
mod replay;
mod seal;
mod stream;

use core::fmt;

use printfleet_schema::{DurationMs, Timestamp};
use zeroize::Zeroizing;

pub use channel::{DeviceChannel, MAX_OUTSTANDING_REPLIES, PortalChannel, SessionKey};
pub use crypto::CipherSuite;
use crypto::{Direction, IV_LEN, KeyState, TAG_LEN};
pub use keyring::{Keyring, KeyringError, KeyringState};
pub use replay::{REPLAY_WINDOW, WindowState};
pub use seal::{CheckpointError, DEFAULT_RESERVATION_BLOCK, Reservation, SealError, SealScratch, SealerCheckpoint};
pub use stream::{
    FrameReader, MAX_UNAUTHENTICATED_FRAME_BYTES, StreamError, from_base64, to_base64, write_length_prefixed,
};

use crate::Codec;

/// The operating system's random generator (`getrandom`), as a [`rand_core::CryptoRng`]: what
/// every IV, key and nonce should be drawn from unless the platform gives a better source. It
/// panics only if the operating system cannot supply randomness at all, where nothing secure
/// can be done.
pub type OsRng = rand_core::UnwrapErr<getrandom::SysRng>;

/// Frame format version (byte 0).
pub const VERSION: u8 = 0x01;
/// Bytes of the header before the IV.
pub const HEADER_LEN: usize = 32;
/// Bytes a frame adds besides padding: header, IV and tag.
pub const OVERHEAD: usize = HEADER_LEN + IV_LEN + TAG_LEN;
/// The shortest valid frame: one block of ciphertext.
pub const MIN_FRAME_BYTES: usize = OVERHEAD + 16;
/// The longest frame accepted or produced: room for the largest encoded report (12 MiB of XML)
/// with some to spare.
pub const MAX_FRAME_BYTES: usize = 16 << 20;
/// Default cap on a frame's payload after decompression ("a few MiB"; the largest valid
/// protobuf report is 4 MiB). It applies to uncompressed payloads too.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 4 << 20;
/// Default tolerance between a frame's timestamp and the receiver's clock: printer clocks drift
/// by hours, and the sequence number is the primary defence against replay. A difference equal
/// to the tolerance is accepted.
pub const DEFAULT_CLOCK_SKEW: DurationMs = DurationMs(24 * 60 * 60 * 1000);
/// Payloads shorter than this are never compressed: DEFLATE cannot win on them.
pub const MIN_COMPRESS_BYTES: usize = 64;

/// Who sent a frame: the device a conversation is about, in both directions (the direction is
/// bound into the keys, not the header). In session mode it is derived from the authenticated
/// device name (`printfleet-auth`); in one-shot mode it is provisioned with the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SenderId(pub u64);

impl fmt::Display for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Which of a sender's keys sealed a frame (one-shot mode: the key epoch; session mode: the
/// session id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a frame's payload is (header byte 3). A receiver says which kinds it expects and
/// refuses the others, so that the same bytes cannot be taken for another message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// A full `DeviceReport` (0x01).
    Report,
    /// A change-detection `Update` (0x02, `printfleet-diff`).
    Update,
    /// A `Reply` to an update or a report (0x03).
    Reply,
    /// A `Bundle` (0x04): the updates of many devices, sealed once by the collector that speaks
    /// for them under its own session (docs/wire-format.md §5.9).
    Bundle,
    /// A `BundleReply` (0x05): the answers to a bundle's updates, in the bundle's order.
    BundleReply,
}

impl MessageKind {
    /// The kind of the reply to a frame of this kind: [`MessageKind::BundleReply`] to a
    /// [`MessageKind::Bundle`], [`MessageKind::Reply`] to anything else.
    pub const fn reply(self) -> Self {
        match self {
            Self::Bundle => Self::BundleReply,
            _ => Self::Reply,
        }
    }

    /// The header byte.
    pub const fn byte(self) -> u8 {
        match self {
            Self::Report => 0x01,
            Self::Update => 0x02,
            Self::Reply => 0x03,
            Self::Bundle => 0x04,
            Self::BundleReply => 0x05,
        }
    }

    /// The kind a header byte names, if it is one this version knows (0x00 and 0x06 to 0xff are
    /// reserved).
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Self::Report),
            0x02 => Some(Self::Update),
            0x03 => Some(Self::Reply),
            0x04 => Some(Self::Bundle),
            0x05 => Some(Self::BundleReply),
            _ => None,
        }
    }
}

/// A frame key: the shared secret (16 to 64 bytes), the key id it is known by and the cipher
/// suite it is used with, bound together so that one secret never serves two suites or two ids
/// by accident. The keys of each direction are derived from it (`docs/wire-format.md` §5.2).
///
/// Zeroised on drop; `Debug` does not show the secret; deliberately not `PartialEq`.
pub struct FrameKey {
    secret: Zeroizing<Vec<u8>>,
    key_id: KeyId,
    suite: CipherSuite,
}

impl FrameKey {
    /// Shortest accepted secret, in bytes.
    pub const MIN_LEN: usize = 16;
    /// Longest accepted secret, in bytes.
    pub const MAX_LEN: usize = 64;

    /// A key from secret material; an error if it is outside
    /// [`FrameKey::MIN_LEN`]..=[`FrameKey::MAX_LEN`] bytes.
    pub fn new(secret: &[u8], key_id: KeyId, suite: CipherSuite) -> Result<Self, KeyError> {
        if secret.len() < Self::MIN_LEN {
            return Err(KeyError::TooShort { len: secret.len() });
        }
        if secret.len() > Self::MAX_LEN {
            return Err(KeyError::TooLong { len: secret.len() });
        }
        Ok(Self { secret: Zeroizing::new(secret.to_vec()), key_id, suite })
    }

    /// A key from a 32-byte secret (what the derivations of `printfleet-auth` produce): the
    /// same as [`FrameKey::new`], which cannot fail for this length.
    pub fn from_array(secret: &[u8; 32], key_id: KeyId, suite: CipherSuite) -> Self {
        Self { secret: Zeroizing::new(secret.to_vec()), key_id, suite }
    }

    /// A new key of 32 random bytes from `rng` (an OS-backed one: [`OsRng`]), never held
    /// outside zeroising memory: a new device's key where no derivation provides one, or a test's.
    pub fn generate(rng: &mut impl rand_core::CryptoRng, key_id: KeyId, suite: CipherSuite) -> Self {
        let mut secret = Zeroizing::new(vec![0u8; 32]);
        rand_core::Rng::fill_bytes(rng, &mut secret[..]);
        Self { secret, key_id, suite }
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The cipher suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    fn keys(&self, direction: Direction) -> KeyState {
        self.subkeys(direction).expand()
    }

    fn subkeys(&self, direction: Direction) -> crypto::SubKeys {
        crypto::SubKeys::derive(&self.secret, self.key_id.0, self.suite, direction)
    }
}

impl fmt::Debug for FrameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameKey").field("key_id", &self.key_id).field("suite", &self.suite).finish_non_exhaustive()
    }
}

/// Why key material was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Fewer than [`FrameKey::MIN_LEN`] bytes: too weak.
    #[error("frame key secrets are at least 16 bytes, not {len}")]
    TooShort {
        /// The length given.
        len: usize,
    },
    /// More than [`FrameKey::MAX_LEN`] bytes.
    #[error("frame key secrets are at most 64 bytes, not {len}")]
    TooLong {
        /// The length given.
        len: usize,
    },
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
    /// What the payload is.
    pub kind: MessageKind,
    /// Which of the sender's keys sealed it.
    pub key_id: KeyId,
    /// Who the frame is from (or, for a reply, who it is for).
    pub sender_id: SenderId,
    /// The sender's sequence number for this key (a reply carries the number of the frame it
    /// answers). Never 0.
    pub sequence: u64,
    /// When it was sealed, by the sealer's clock.
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
        out.push(self.kind.byte());
        out.extend_from_slice(&self.key_id.0.to_be_bytes());
        out.extend_from_slice(&self.sender_id.0.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.unix_millis().to_be_bytes());
    }

    /// Parses the header at the start of `frame`, checking only its own syntax: the header is
    /// **not authenticated** until the frame opens. Use it to route a frame (pick the key of
    /// `sender_id`), never to act on it.
    pub fn peek(frame: &[u8]) -> Result<Self, Rejected> {
        let h: &[u8; HEADER_LEN] = frame.first_chunk().ok_or(Rejected(RejectReason::Length))?;
        let [version, flags, dictionary, kind, k0, k1, k2, k3, rest @ ..] = *h;
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
        let kind = MessageKind::from_byte(kind).ok_or(Rejected(RejectReason::Flags))?;
        let word = |i: usize| -> u64 {
            let mut b = [0u8; 8];
            if let Some(src) = rest.get(i..i.saturating_add(8)) {
                b.copy_from_slice(src);
            }
            u64::from_be_bytes(b)
        };
        let sequence = word(8);
        if sequence == 0 {
            return Err(Rejected(RejectReason::Flags));
        }
        Ok(Self {
            codec,
            compression,
            dictionary,
            suite: CipherSuite::from_flag((flags >> 4) & 1),
            kind,
            key_id: KeyId(u32::from_be_bytes([k0, k1, k2, k3])),
            sender_id: SenderId(word(0)),
            sequence,
            timestamp: Timestamp::from_unix_millis(word(16)).map_err(|_| Rejected(RejectReason::Flags))?,
        })
    }
}

/// Limits a receiver applies to frames it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenLimits {
    /// Cap on a payload after decompression (default [`DEFAULT_MAX_PAYLOAD_BYTES`]).
    pub max_payload: usize,
    /// Tolerance between a frame's timestamp and the receiver's clock, inclusive (default
    /// [`DEFAULT_CLOCK_SKEW`]).
    pub clock_skew: DurationMs,
}

impl Default for OpenLimits {
    fn default() -> Self {
        Self { max_payload: DEFAULT_MAX_PAYLOAD_BYTES, clock_skew: DEFAULT_CLOCK_SKEW }
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
    /// Reserved flag bits set, an unknown codec, compression, dictionary or message kind,
    /// sequence number 0, a timestamp out of range.
    Flags,
    /// A sender this receiver holds no key for.
    UnknownSender,
    /// A key id this receiver does not hold for the sender, or a suite other than the key's.
    UnknownKey,
    /// The tag does not match: the frame was altered, sealed under another key, or sent the
    /// other way (a reflected frame).
    Authentication,
    /// An authentic frame of a kind the receiver did not expect.
    UnexpectedKind,
    /// A sequence number already seen, older than the replay window, or (for a reply) not one
    /// the device is waiting for.
    Replay,
    /// A timestamp further from the receiver's clock than the tolerance.
    ClockSkew,
    /// Bad padding after a good tag (a sender bug: no attacker can produce it).
    Padding,
    /// A compressed payload that does not inflate (a sender bug, likewise).
    Decompression,
    /// A payload that inflates beyond the receiver's cap.
    TooLarge,
    /// A frame of a session that has expired ([`PortalChannel::session_until`]).
    Expired,
}

/// A frame was rejected. Its message (`Display`, "frame rejected") is the same whatever the
/// reason, so that a peer told it learns nothing (no padding or MAC oracle); `Debug` and
/// [`Rejected::reason`] show the reason, for local logs only: never send either to the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("frame rejected")]
pub struct Rejected(RejectReason);

impl Rejected {
    /// Why, for local logs. Never send this to the peer.
    pub fn reason(&self) -> RejectReason {
        self.0
    }
}
