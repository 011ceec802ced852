//! The two ends of a conversation about one device: [`DeviceChannel`] (the device or collector)
//! and [`PortalChannel`] (the portal's end of an authenticated session), and the one opening
//! routine that they and the [`Keyring`](super::Keyring) share.

use core::fmt;

use printfleet_schema::{DurationMs, Timestamp};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::crypto::{Direction, IV_LEN, KeyState, SubKeys, TAG_LEN};
use super::seal::{
    CheckpointError, Reservation, SealBuffers, SealError, SealScratch, SealerCheckpoint, Sequencer, seal_frame,
};
use super::{
    CipherSuite, Compression, DEFAULT_RESERVATION_BLOCK, FrameHeader, FrameKey, HEADER_LEN, KeyId, MAX_FRAME_BYTES,
    MIN_FRAME_BYTES, MessageKind, OVERHEAD, OpenLimits, RejectReason, Rejected, SenderId, compress,
};
use crate::Codec;

/// Replies a device waits for at once: the sequence numbers of its most recent frames. A reply
/// to an older frame is refused (as a replay would be).
pub const MAX_OUTSTANDING_REPLIES: usize = 16;

/// The sequence numbers of the frames a device sent and has had no reply to: a fixed ring of the
/// last [`MAX_OUTSTANDING_REPLIES`] (0 marks a free slot: no frame has sequence 0), so that it
/// neither allocates nor grows.
#[derive(Clone, Debug, Default)]
struct OutstandingReplies {
    slots: [u64; MAX_OUTSTANDING_REPLIES],
    next: usize,
}

impl OutstandingReplies {
    fn sent(&mut self, sequence: u64) {
        if let Some(slot) = self.slots.get_mut(self.next) {
            *slot = sequence;
        }
        self.next = self.next.wrapping_add(1) % MAX_OUTSTANDING_REPLIES;
    }

    fn is_waiting(&self, sequence: u64) -> bool {
        sequence != 0 && self.slots.contains(&sequence)
    }

    fn answered(&mut self, sequence: u64) {
        for slot in self.slots.iter_mut().filter(|s| **s == sequence) {
            *slot = 0;
        }
    }
}

/// Reusable opening state: the decompressor and a scratch buffer.
#[derive(Default)]
pub(crate) struct OpenBuffers {
    decompressor: Option<compress::Decompressor>,
    scratch: Vec<u8>,
}

impl fmt::Debug for OpenBuffers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenBuffers")
    }
}

/// The checks that need no key: length, then header syntax.
pub(crate) fn peek_checked(frame: &[u8]) -> Result<FrameHeader, Rejected> {
    if frame.len() < MIN_FRAME_BYTES
        || frame.len() > MAX_FRAME_BYTES
        || !frame.len().saturating_sub(OVERHEAD).is_multiple_of(16)
    {
        return Err(Rejected(RejectReason::Length));
    }
    FrameHeader::peek(frame)
}

/// Opens `frame` (whose `header` was peeked) under `keys`: checks, in order, the suite, the tag
/// (in constant time, before anything is decrypted), the message kind, freshness (`is_fresh`),
/// the timestamp; then decrypts and inflates (bounded) into `out`. On error `out` is left as it
/// was, and any plaintext written to it or to the scratch buffer is wiped.
#[allow(clippy::too_many_arguments)]
pub(crate) fn open_frame(
    keys: &KeyState,
    suite: CipherSuite,
    header: &FrameHeader,
    frame: &[u8],
    expect: &[MessageKind],
    is_fresh: bool,
    now: Timestamp,
    limits: OpenLimits,
    bufs: &mut OpenBuffers,
    out: &mut Vec<u8>,
) -> Result<(), Rejected> {
    let reject = |reason| Err(Rejected(reason));
    if header.suite != suite {
        return reject(RejectReason::UnknownKey);
    }
    let (authenticated, tag) = frame.split_at(frame.len().saturating_sub(TAG_LEN));
    if !keys.verify(authenticated, tag) {
        return reject(RejectReason::Authentication);
    }
    if !expect.contains(&header.kind) {
        return reject(RejectReason::UnexpectedKind);
    }
    if !is_fresh {
        return reject(RejectReason::Replay);
    }
    let skew = match header.timestamp.duration_since(now) {
        Some(ahead) => ahead,
        None => now.duration_since(header.timestamp).unwrap_or(DurationMs::ZERO),
    };
    if skew > limits.clock_skew {
        return reject(RejectReason::ClockSkew);
    }
    let iv: [u8; IV_LEN] = authenticated
        .get(HEADER_LEN..HEADER_LEN + IV_LEN)
        .and_then(|iv| iv.try_into().ok())
        .ok_or(Rejected(RejectReason::Length))?;
    let ciphertext = authenticated.get(HEADER_LEN + IV_LEN..).unwrap_or_default();

    let start = out.len();
    // Wipes what was written past `start` (plaintext of a frame rejected late), including what a
    // truncation left in the spare capacity, and drops it.
    let wipe = |out: &mut Vec<u8>| {
        if let Some(tail) = out.get_mut(start..) {
            tail.zeroize();
        }
        out.truncate(start);
        for byte in out.spare_capacity_mut() {
            byte.write(0);
        }
    };
    let OpenBuffers { decompressor, scratch } = bufs;
    match header.compression {
        Compression::None => {
            if ciphertext.len() > limits.max_payload.saturating_add(16) {
                return reject(RejectReason::TooLarge);
            }
            out.extend_from_slice(ciphertext);
            let Some(len) = keys.decrypt(&iv, out.get_mut(start..).unwrap_or_default()) else {
                wipe(out);
                return reject(RejectReason::Padding);
            };
            if len > limits.max_payload {
                wipe(out);
                return reject(RejectReason::TooLarge);
            }
            if let Some(padding) = out.get_mut(start.saturating_add(len)..) {
                padding.zeroize();
            }
            out.truncate(start.saturating_add(len));
        }
        Compression::Deflate => {
            scratch.clear();
            scratch.extend_from_slice(ciphertext);
            let result = match keys.decrypt(&iv, scratch) {
                None => Err(RejectReason::Padding),
                Some(len) => {
                    scratch.truncate(len);
                    let decompressor = decompressor.get_or_insert_with(compress::Decompressor::new);
                    decompressor
                        .decompress(scratch, compress::dictionary(header.dictionary), limits.max_payload, out)
                        .map_err(|e| match e {
                            compress::InflateError::TooLarge => RejectReason::TooLarge,
                            compress::InflateError::Corrupt => RejectReason::Decompression,
                        })
                }
            };
            // The compressed plaintext is not kept in the reused buffer.
            scratch.zeroize();
            if let Err(reason) = result {
                wipe(out);
                return reject(reason);
            }
        }
    }
    Ok(())
}

/// The key of one authenticated session, derived from the session handshake's secret and
/// transcript (`printfleet-auth` derives it; docs/wire-format.md §5.7). It lives only as long
/// as the session: nothing about it is persisted, and each end turns it into its channel once.
pub struct SessionKey {
    sender: SenderId,
    key: FrameKey,
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey").field("sender", &self.sender).field("key_id", &self.key.key_id).finish()
    }
}

impl SessionKey {
    /// Derives a session's key from the handshake's `ikm` (SCRAM's `ClientKey`, which only the
    /// device's secret yields and the server recovers while checking the proof) and its
    /// `transcript` (SCRAM's AuthMessage, with both fresh nonces), for the device `sender`:
    /// `HKDF-SHA256(salt = SHA-256(transcript), ikm, info = "printfleet session v2")`, 36 bytes:
    /// the frame key's secret, then the session id (the frames' key id), big-endian. Frames
    /// use AES-128-CBC with HMAC-SHA256; each direction derives its own keys from this secret.
    pub fn derive(ikm: &[u8; 32], transcript: &[u8], sender: SenderId) -> Self {
        let mut okm = Zeroizing::new([0u8; 36]);
        let salt: [u8; 32] = Sha256::digest(transcript).into();
        // 36 bytes are always within HKDF-SHA256's limit.
        let _ = hkdf::Hkdf::<Sha256>::new(Some(&salt), ikm).expand(b"printfleet session v2", &mut okm[..]);
        let session_id = okm.last_chunk::<4>().map_or(0, |id| u32::from_be_bytes(*id));
        let secret = okm.first_chunk::<32>().map(|s| Zeroizing::new(s.to_vec())).unwrap_or_default();
        Self { sender, key: FrameKey { secret, key_id: KeyId(session_id), suite: CipherSuite::Aes128CbcHmacSha256 } }
    }

    /// The session id: the key id of the session's frames.
    pub fn key_id(&self) -> KeyId {
        self.key.key_id
    }

    /// The device the session authenticated.
    pub fn sender(&self) -> SenderId {
        self.sender
    }
}

/// The device's (or collector's) end: seals reports and updates, opens the portal's replies.
///
/// Owns the sequence numbers of its key. Under a long-lived key (one-shot mode) the numbers come
/// in reserved blocks: [`DeviceChannel::seal`] fails with [`SealError::ReservationNeeded`] until
/// the caller has persisted a reservation ([`DeviceChannel::reserve`], then
/// [`DeviceChannel::reservation_saved`]); after a restart, [`DeviceChannel::restore`] starts past
/// the last reservation saved. A crash can therefore skip numbers, never reuse one, and the
/// portal accepts the next frame whatever the device lost. Under a session key nothing needs
/// persisting.
///
/// Replies open only if they answer one of the last [`MAX_OUTSTANDING_REPLIES`] frames sent and
/// were not opened before (the portal binds each reply to the frame it answers).
pub struct DeviceChannel {
    seq: Sequencer,
    suite: CipherSuite,
    outbound: KeyState,
    /// The reply key, expanded only when a reply arrives (replies are rare; a collector holds
    /// thousands of channels).
    inbound: SubKeys,
    waiting: OutstandingReplies,
    limits: OpenLimits,
    seal_bufs: SealBuffers,
    open_bufs: OpenBuffers,
    /// A session's channel: its sequence numbers live and die with it.
    session: bool,
    /// When the session expires: nothing is sealed from then on.
    expires_at: Option<Timestamp>,
}

impl fmt::Debug for DeviceChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceChannel")
            .field("sender", &self.seq.sender)
            .field("key_id", &self.seq.key_id)
            .field("suite", &self.suite)
            .field("next_sequence", &self.seq.next())
            .finish_non_exhaustive()
    }
}

impl DeviceChannel {
    fn build(seq: Sequencer, key: &FrameKey) -> Self {
        Self {
            seq,
            suite: key.suite,
            outbound: key.keys(Direction::DeviceToPortal),
            inbound: key.subkeys(Direction::PortalToDevice),
            waiting: OutstandingReplies::default(),
            limits: OpenLimits::default(),
            seal_bufs: SealBuffers::new(),
            open_bufs: OpenBuffers::default(),
            session: false,
            expires_at: None,
        }
    }

    /// The channel of `sender` under a key it has **never used before** (a newly provisioned
    /// key or key epoch). For a key already used, [`DeviceChannel::restore`] from the last
    /// saved checkpoint: a fresh channel would start again at sequence 1, which the portal
    /// refuses as a replay.
    pub fn new(sender: SenderId, key: &FrameKey) -> Self {
        Self::build(Sequencer::fresh(sender, key.key_id), key)
    }

    /// The channel after a restart: starts past `checkpoint`, the last reservation saved. Only
    /// the last one, and once: a channel restored from an older checkpoint, or two restored from
    /// one, seal numbers already used, which the portal refuses as replays.
    pub fn restore(sender: SenderId, key: &FrameKey, checkpoint: &SealerCheckpoint) -> Result<Self, CheckpointError> {
        Ok(Self::build(Sequencer::restore(sender, key.key_id, checkpoint)?, key))
    }

    /// The device's end of an authenticated session, without an expiry of its own (prefer
    /// [`DeviceChannel::session_until`]: `printfleet_auth`'s sessions convert with theirs).
    pub fn session(key: SessionKey) -> Self {
        Self { session: true, ..Self::build(Sequencer::ephemeral(key.sender, key.key.key_id), &key.key) }
    }

    /// The device's end of an authenticated session that expires at `expires_at`: from then on
    /// [`DeviceChannel::seal`] refuses ([`SealError::Expired`]); replies to frames sealed before
    /// still open.
    pub fn session_until(key: SessionKey, expires_at: Timestamp) -> Self {
        Self { expires_at: Some(expires_at), ..Self::session(key) }
    }

    /// When the session this channel belongs to expires, if it does.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// Whether this is a session's channel ([`DeviceChannel::session`]): its sequence numbers
    /// need no saving. A one-shot channel's ([`DeviceChannel::new`], [`DeviceChannel::restore`])
    /// must have each reservation saved before it seals under it.
    pub fn is_session(&self) -> bool {
        self.session
    }

    /// Turns compression on (the default) or off. Turn it off where the length of frames must
    /// not leak anything about their content (see the module's security notes).
    pub fn set_compression(&mut self, on: bool) {
        self.seal_bufs.compress = on;
    }

    /// Sets the limits applied to replies.
    pub fn set_limits(&mut self, limits: OpenLimits) {
        self.limits = limits;
    }

    /// Whether [`DeviceChannel::seal`] needs a reservation saved first.
    pub fn needs_reservation(&self) -> bool {
        self.seq.needs_reservation()
    }

    /// Reserves the next [`DEFAULT_RESERVATION_BLOCK`] sequence numbers. Nothing can be sealed
    /// under them until the reservation's checkpoint is persisted and the reservation handed back
    /// to [`DeviceChannel::reservation_saved`]. Reserving early (before the block in use runs
    /// out) keeps sealing from waiting on storage.
    pub fn reserve(&self) -> Reservation {
        self.seq.reserve(DEFAULT_RESERVATION_BLOCK)
    }

    /// Like [`DeviceChannel::reserve`] with a block of `block` numbers (at least 1).
    pub fn reserve_block(&self, block: u64) -> Reservation {
        self.seq.reserve(block)
    }

    /// Makes a reservation usable: call it only once its checkpoint is durably stored.
    pub fn reservation_saved(&mut self, reservation: Reservation) -> Result<(), CheckpointError> {
        self.seq.saved(reservation)
    }

    /// The sender this channel seals as.
    pub fn sender(&self) -> SenderId {
        self.seq.sender
    }

    /// The key id this channel seals under.
    pub fn key_id(&self) -> KeyId {
        self.seq.key_id
    }

    /// Appends a frame carrying `payload` (a message of `kind`, encoded with `codec`) to `out`,
    /// with a fresh IV from `rng` and `now` as its timestamp. Returns the header it wrote.
    pub fn seal(
        &mut self,
        kind: MessageKind,
        codec: Codec,
        payload: &[u8],
        now: Timestamp,
        rng: &mut impl CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, SealError> {
        let mut scratch = core::mem::take(&mut self.seal_bufs.scratch);
        let result = self.seal_using(&mut scratch, kind, codec, payload, now, rng, out);
        self.seal_bufs.scratch = scratch;
        result
    }

    /// [`DeviceChannel::seal`] with buffers the caller shares between channels (see
    /// [`SealScratch`]).
    #[allow(clippy::too_many_arguments)]
    pub fn seal_using(
        &mut self,
        scratch: &mut SealScratch,
        kind: MessageKind,
        codec: Codec,
        payload: &[u8],
        now: Timestamp,
        rng: &mut impl CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, SealError> {
        if self.expires_at.is_some_and(|at| now >= at) {
            return Err(SealError::Expired);
        }
        super::seal::check_payload(payload)?;
        let sequence = self.seq.take()?;
        let header = FrameHeader {
            codec,
            compression: Compression::None,
            dictionary: 0,
            suite: self.suite,
            kind,
            key_id: self.seq.key_id,
            sender_id: self.seq.sender,
            sequence,
            timestamp: now,
        };
        let header = seal_frame(&self.outbound, header, payload, self.seal_bufs.compress, scratch, rng, out)?;
        self.waiting.sent(sequence);
        Ok(header)
    }

    /// Opens the portal's reply and appends its payload to `out`. Refused unless it is an
    /// authentic [`MessageKind::Reply`] or [`MessageKind::BundleReply`] (the header says which)
    /// to one of the frames this channel sent recently and not yet answered. On error `out` is
    /// left as it was.
    pub fn open_reply(&mut self, frame: &[u8], now: Timestamp, out: &mut Vec<u8>) -> Result<FrameHeader, Rejected> {
        let header = peek_checked(frame)?;
        if header.sender_id != self.seq.sender {
            return Err(Rejected(RejectReason::UnknownSender));
        }
        if header.key_id != self.seq.key_id {
            return Err(Rejected(RejectReason::UnknownKey));
        }
        let fresh = self.waiting.is_waiting(header.sequence);
        open_frame(
            &self.inbound.expand(),
            self.suite,
            &header,
            frame,
            &[MessageKind::Reply, MessageKind::BundleReply],
            fresh,
            now,
            self.limits,
            &mut self.open_bufs,
            out,
        )?;
        self.waiting.answered(header.sequence);
        Ok(header)
    }
}

/// The portal's end of one authenticated session: opens the device's frames (with a replay
/// window that lives as long as the session) and seals replies bound to them. A [`Keyring`]
/// holding the session's one key, answering only for the session's sender.
///
/// [`Keyring`]: super::Keyring
pub struct PortalChannel {
    sender: SenderId,
    key_id: KeyId,
    ring: super::Keyring,
    /// When the session expires: no frame is opened from then on.
    expires_at: Option<Timestamp>,
}

impl fmt::Debug for PortalChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortalChannel")
            .field("sender", &self.sender)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PortalChannel {
    /// The portal's end of the session `key` belongs to.
    pub fn session(key: SessionKey) -> Self {
        let mut ring = super::Keyring::new();
        // A new keyring holds nothing yet, so the insert cannot be refused.
        let _ = ring.insert(key.sender, &key.key);
        Self { sender: key.sender, key_id: key.key.key_id, ring, expires_at: None }
    }

    /// The portal's end of a session that expires at `expires_at`: from then on
    /// [`PortalChannel::open`] refuses every frame ([`RejectReason::Expired`]); replies to
    /// frames opened before may still be sealed.
    pub fn session_until(key: SessionKey, expires_at: Timestamp) -> Self {
        Self { expires_at: Some(expires_at), ..Self::session(key) }
    }

    /// When the session this channel belongs to expires, if it does.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// Sets the limits applied to the device's frames.
    pub fn set_limits(&mut self, limits: OpenLimits) {
        self.ring.set_limits(limits);
    }

    /// The authenticated device.
    pub fn sender(&self) -> SenderId {
        self.sender
    }

    /// Opens a frame of the device's and appends its payload to `out`, refusing kinds not in
    /// `expect`. On error `out` is left as it was.
    pub fn open(
        &mut self,
        frame: &[u8],
        expect: &[MessageKind],
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, Rejected> {
        if self.expires_at.is_some_and(|at| now >= at) {
            return Err(Rejected(RejectReason::Expired));
        }
        self.ring.open(frame, expect, now, out)
    }

    /// Seals `payload` as the reply to the frame `request` (a header [`PortalChannel::open`]
    /// returned): same sender, key id and sequence number, kind [`MessageKind::Reply`]
    /// ([`MessageKind::BundleReply`] to a bundle).
    pub fn seal_reply(
        &mut self,
        request: &FrameHeader,
        codec: Codec,
        payload: &[u8],
        now: Timestamp,
        rng: &mut impl CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, SealError> {
        self.ring.seal_reply(request, codec, payload, now, rng, out)
    }
}

/// The header of the reply to `request`.
pub(crate) fn reply_header(request: &FrameHeader, suite: CipherSuite, codec: Codec, now: Timestamp) -> FrameHeader {
    FrameHeader {
        codec,
        compression: Compression::None,
        dictionary: 0,
        suite,
        kind: request.kind.reply(),
        key_id: request.key_id,
        sender_id: request.sender_id,
        sequence: request.sequence,
        timestamp: now,
    }
}
