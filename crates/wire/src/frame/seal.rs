//! Sealing: the one routine that writes a frame, and the device's sequence numbers, which are
//! reserved in blocks that the caller persists before they are used, so that a device that
//! restarts never reuses a number and is never refused for going back.

use core::fmt;

use rand_core::CryptoRng;

use super::crypto::{IV_LEN, KeyState};
use super::{Compression, FrameHeader, KeyId, MAX_FRAME_BYTES, MIN_COMPRESS_BYTES, OVERHEAD, SenderId, compress};

/// Sequence numbers reserved at a time by [`DeviceChannel::reserve`](super::DeviceChannel::reserve).
/// A device that reports every 3 hours persists a reservation about once a year; one that
/// crashes skips at most this many numbers.
pub const DEFAULT_RESERVATION_BLOCK: u64 = 1024;

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
    /// Every reserved sequence number is used: call `reserve`, persist the reservation, and hand
    /// it back with `reservation_saved` before sealing again.
    #[error("no reserved sequence number left; reserve and persist a block first")]
    ReservationNeeded,
    /// The session the channel belongs to has expired: nothing more is sealed under its key
    /// (`DeviceChannel::session_until`). Handshake again.
    #[error("the session has expired")]
    Expired,
    /// A reply for a sender or key id this keyring does not hold.
    #[error("no key for sender {sender} key id {key_id}")]
    UnknownKey {
        /// The sender.
        sender: SenderId,
        /// The key id.
        key_id: KeyId,
    },
}

/// What a device must persist so that it never reuses a sequence number: the highest number it
/// may have used under one key. Restore it with
/// [`DeviceChannel::restore`](super::DeviceChannel::restore).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealerCheckpoint {
    /// The sender it belongs to.
    pub sender: SenderId,
    /// The key it belongs to.
    pub key_id: KeyId,
    /// Every sequence number up to and including this one may have been used.
    pub reserved_through: u64,
}

/// A block of sequence numbers, reserved but not yet usable: persist [`Reservation::checkpoint`]
/// durably, then hand the reservation back to
/// [`DeviceChannel::reservation_saved`](super::DeviceChannel::reservation_saved). Not `Clone`:
/// each reservation is handed back once.
#[must_use = "persist the checkpoint, then pass the reservation to reservation_saved"]
#[derive(Debug, PartialEq, Eq)]
pub struct Reservation {
    pub(crate) checkpoint: SealerCheckpoint,
}

impl Reservation {
    /// What to persist before handing the reservation back.
    pub fn checkpoint(&self) -> SealerCheckpoint {
        self.checkpoint
    }
}

/// A checkpoint or reservation that does not belong to this channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// It names another sender or key id.
    #[error("checkpoint of sender {sender} key id {key_id} does not belong to this channel")]
    OtherChannel {
        /// The checkpoint's sender.
        sender: SenderId,
        /// The checkpoint's key id.
        key_id: KeyId,
    },
    /// It reserves nothing beyond what the channel has already used or had reserved.
    #[error("reservation through {reserved_through} is stale")]
    Stale {
        /// The reservation's upper bound.
        reserved_through: u64,
    },
    /// Every sequence number of this key has been reserved: rotate the key.
    #[error("sequence numbers exhausted; rotate the key")]
    Exhausted,
}

/// The device side's sequence numbers under one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sequencer {
    pub(crate) sender: SenderId,
    pub(crate) key_id: KeyId,
    next: u64,
    reserved_through: u64,
    /// `u64::MAX` has been used: nothing may follow.
    exhausted: bool,
}

impl Sequencer {
    /// A fresh key: nothing used, nothing reserved.
    pub(crate) const fn fresh(sender: SenderId, key_id: KeyId) -> Self {
        Self { sender, key_id, next: 1, reserved_through: 0, exhausted: false }
    }

    /// A key that lives only as long as this object (a session key): nothing to persist.
    pub(crate) const fn ephemeral(sender: SenderId, key_id: KeyId) -> Self {
        Self { sender, key_id, next: 1, reserved_through: u64::MAX, exhausted: false }
    }

    pub(crate) fn restore(sender: SenderId, key_id: KeyId, cp: &SealerCheckpoint) -> Result<Self, CheckpointError> {
        if cp.sender != sender || cp.key_id != key_id {
            return Err(CheckpointError::OtherChannel { sender: cp.sender, key_id: cp.key_id });
        }
        let next = cp.reserved_through.checked_add(1).ok_or(CheckpointError::Exhausted)?;
        Ok(Self { sender, key_id, next, reserved_through: cp.reserved_through, exhausted: false })
    }

    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    pub(crate) fn needs_reservation(&self) -> bool {
        !self.exhausted && self.next > self.reserved_through
    }

    pub(crate) fn reserve(&self, block: u64) -> Reservation {
        let base = self.reserved_through.max(self.next.saturating_sub(1));
        let reserved_through = base.saturating_add(block.max(1));
        Reservation { checkpoint: SealerCheckpoint { sender: self.sender, key_id: self.key_id, reserved_through } }
    }

    pub(crate) fn saved(&mut self, r: Reservation) -> Result<(), CheckpointError> {
        let cp = r.checkpoint;
        if cp.sender != self.sender || cp.key_id != self.key_id {
            return Err(CheckpointError::OtherChannel { sender: cp.sender, key_id: cp.key_id });
        }
        if self.exhausted {
            return Err(CheckpointError::Exhausted);
        }
        if cp.reserved_through < self.next {
            return Err(CheckpointError::Stale { reserved_through: cp.reserved_through });
        }
        self.reserved_through = self.reserved_through.max(cp.reserved_through);
        Ok(())
    }

    /// The number for the next frame.
    pub(crate) fn take(&mut self) -> Result<u64, SealError> {
        if self.exhausted {
            return Err(SealError::SequenceExhausted);
        }
        if self.needs_reservation() {
            return Err(SealError::ReservationNeeded);
        }
        let sequence = self.next;
        match sequence.checked_add(1) {
            Some(next) => self.next = next,
            None => self.exhausted = true,
        }
        Ok(sequence)
    }
}

/// Reusable sealing buffers: the DEFLATE compressor (about 270 KiB once it has been used) and a
/// scratch buffer. Each channel has its own unless the caller shares one: a collector that holds
/// thousands of [`DeviceChannel`](super::DeviceChannel)s seals them all with one
/// ([`DeviceChannel::seal_using`](super::DeviceChannel::seal_using)), so that its memory does
/// not grow with a compressor per device.
#[derive(Default)]
pub struct SealScratch {
    compressor: Option<compress::Compressor>,
    scratch: Vec<u8>,
}

impl fmt::Debug for SealScratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealScratch").field("compressor", &self.compressor.is_some()).finish_non_exhaustive()
    }
}

impl SealScratch {
    /// Empty buffers; the compressor is allocated on first use.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Whether a sealer compresses, and its own buffers.
#[derive(Debug)]
pub(crate) struct SealBuffers {
    pub(crate) compress: bool,
    pub(crate) scratch: SealScratch,
}

impl SealBuffers {
    pub(crate) fn new() -> Self {
        Self { compress: true, scratch: SealScratch::new() }
    }
}

/// The largest payload a frame can carry.
const MAX_PAYLOAD: usize = MAX_FRAME_BYTES - OVERHEAD - 16;

/// Checks a payload's size before a sequence number is spent on it.
pub(crate) fn check_payload(payload: &[u8]) -> Result<(), SealError> {
    if payload.len() > MAX_PAYLOAD { Err(SealError::TooLarge { len: payload.len() }) } else { Ok(()) }
}

/// Appends a frame with `header` (whose compression and dictionary are chosen here) carrying
/// `payload` to `out`, with a fresh IV from `rng`. Returns the header written.
pub(crate) fn seal_frame(
    keys: &KeyState,
    mut header: FrameHeader,
    payload: &[u8],
    compress: bool,
    bufs: &mut SealScratch,
    rng: &mut impl CryptoRng,
    out: &mut Vec<u8>,
) -> Result<FrameHeader, SealError> {
    check_payload(payload)?;
    header.compression = Compression::None;
    header.dictionary = 0;
    let SealScratch { compressor, scratch } = bufs;
    let mut plaintext = payload;
    if compress && payload.len() >= MIN_COMPRESS_BYTES {
        let dictionary = compress::dictionary_for(header.codec);
        scratch.clear();
        scratch.reserve(compress::compress_bound(payload.len()));
        let compressor = compressor.get_or_insert_with(compress::Compressor::new);
        if compressor.compress(payload, compress::dictionary(dictionary), scratch) && scratch.len() < payload.len() {
            header.compression = Compression::Deflate;
            header.dictionary = dictionary;
            plaintext = scratch;
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
    let ct_len = keys.encrypt(&iv, out.get_mut(ct_start..).unwrap_or_default(), plaintext.len()).unwrap_or(0);
    out.truncate(ct_start.saturating_add(ct_len));
    let tag = keys.tag(out.get(start..).unwrap_or_default());
    out.extend_from_slice(&tag);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: SenderId = SenderId(9);
    const K: KeyId = KeyId(3);

    #[test]
    fn nothing_is_sealed_before_a_reservation_is_saved() {
        let mut seq = Sequencer::fresh(S, K);
        assert_eq!(seq.take(), Err(SealError::ReservationNeeded));
        let r = seq.reserve(4);
        assert_eq!(r.checkpoint().reserved_through, 4);
        // Reserving is not enough: the reservation must come back.
        assert_eq!(seq.take(), Err(SealError::ReservationNeeded));
        seq.saved(r).unwrap();
        assert_eq!((1..=4).map(|_| seq.take().unwrap()).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(seq.take(), Err(SealError::ReservationNeeded));
    }

    #[test]
    fn restore_starts_after_the_last_saved_reservation() {
        let mut seq = Sequencer::fresh(S, K);
        let r = seq.reserve(10);
        let cp = r.checkpoint();
        seq.saved(r).unwrap();
        seq.take().unwrap();
        let mut back = Sequencer::restore(S, K, &cp).unwrap();
        assert_eq!(back.take(), Err(SealError::ReservationNeeded));
        let r = back.reserve(10);
        assert_eq!(r.checkpoint().reserved_through, 20);
        back.saved(r).unwrap();
        assert_eq!(back.take(), Ok(11));
        assert!(matches!(Sequencer::restore(SenderId(1), K, &cp), Err(CheckpointError::OtherChannel { .. })));
    }

    #[test]
    fn stale_and_foreign_reservations_are_refused() {
        let mut a = Sequencer::fresh(S, K);
        let old = a.reserve(2);
        let newer = a.reserve(8);
        a.saved(newer).unwrap();
        for _ in 0..5 {
            a.take().unwrap();
        }
        assert_eq!(a.saved(old), Err(CheckpointError::Stale { reserved_through: 2 }));
        let other = Sequencer::fresh(SenderId(1), K).reserve(5);
        assert!(matches!(a.saved(other), Err(CheckpointError::OtherChannel { .. })));
    }

    #[test]
    fn the_last_number_is_used_once() {
        let cp = SealerCheckpoint { sender: S, key_id: K, reserved_through: u64::MAX - 2 };
        let mut seq = Sequencer::restore(S, K, &cp).unwrap();
        let r = seq.reserve(100);
        assert_eq!(r.checkpoint().reserved_through, u64::MAX);
        seq.saved(r).unwrap();
        assert_eq!(seq.take(), Ok(u64::MAX - 1));
        assert_eq!(seq.take(), Ok(u64::MAX));
        assert_eq!(seq.take(), Err(SealError::SequenceExhausted));
        assert!(!seq.needs_reservation());
        assert_eq!(seq.saved(seq.reserve(10)), Err(CheckpointError::Exhausted));
        assert_eq!(seq.take(), Err(SealError::SequenceExhausted));
        let cp = SealerCheckpoint { sender: S, key_id: K, reserved_through: u64::MAX };
        assert_eq!(Sequencer::restore(S, K, &cp), Err(CheckpointError::Exhausted));
    }
}
