//! The portal's keys and replay windows for one-shot frames from many devices.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use core::fmt;

use printfleet_schema::Timestamp;
use rand_core::CryptoRng;

use super::channel::{OpenBuffers, open_frame, peek_checked, reply_header};
use super::crypto::{Direction, KeyState};
use super::replay::{ReplayWindow, WindowState};
use super::seal::{SealBuffers, SealError, seal_frame};
use super::{CipherSuite, FrameHeader, FrameKey, KeyId, MessageKind, OpenLimits, RejectReason, Rejected, SenderId};
use crate::Codec;

struct Slot {
    suite: CipherSuite,
    inbound: KeyState,
    outbound: KeyState,
}

/// One replay window and whether it has accepted a frame since it was created or restored.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    window: ReplayWindow,
    used: bool,
}

/// What a portal must persist of its [`Keyring`]: every replay window. Save the window of a
/// (sender, key id) ([`Keyring::window`]) in the same transaction as the effects of each frame
/// it accepts, or all of them ([`Keyring::state`]) before acting on anything opened since the
/// last save: a window restored from older state reopens the frames accepted after it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyringState {
    /// Each window with its sender and key id, in (sender, key id) order.
    pub windows: Vec<(SenderId, KeyId, WindowState)>,
}

/// A refused keyring operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// The keyring already holds this sender's key id: remove it first.
    #[error("sender {sender} already has key id {key_id}")]
    KeyPresent {
        /// The sender.
        sender: SenderId,
        /// The key id.
        key_id: KeyId,
    },
    /// The window has accepted frames since it was created or restored: restoring over it
    /// would reopen them to replay.
    #[error("the replay window of sender {sender} key id {key_id} is in use")]
    WindowInUse {
        /// The sender.
        sender: SenderId,
        /// The key id.
        key_id: KeyId,
    },
}

/// The portal's end of one-shot mode: the frame keys of many devices and one replay window per
/// (sender, key id), with explicit persistence.
///
/// Windows outlive keys: [`Keyring::remove`] (revocation, the end of a rotation's overlap)
/// drops the key and keeps its window, so a key id that comes back resumes where it stopped
/// instead of accepting old frames again. Restore windows ([`Keyring::from_state`],
/// [`Keyring::restore_window`]) before opening anything after a restart; a window can be
/// restored for a key not (yet) held, and restoring over a window that has accepted frames is
/// refused loudly. Memory: about 100 bytes per window and 1 KiB per key held; a decommissioned
/// device's windows go only with [`Keyring::forget_sender`].
pub struct Keyring {
    keys: HashMap<(SenderId, KeyId), Slot>,
    /// How many keys each sender has: tells an unknown sender from an unknown key in O(1), so
    /// that a flood of frames naming random senders costs a lookup each, not a scan.
    senders: HashMap<SenderId, usize>,
    windows: HashMap<(SenderId, KeyId), Window>,
    limits: OpenLimits,
    seal_bufs: SealBuffers,
    open_bufs: OpenBuffers,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.len())
            .field("windows", &self.windows.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for Keyring {
    fn default() -> Self {
        Self::new()
    }
}

impl Keyring {
    /// An empty keyring with the default limits (first start of a portal).
    pub fn new() -> Self {
        Self {
            keys: HashMap::new(),
            senders: HashMap::new(),
            windows: HashMap::new(),
            limits: OpenLimits::default(),
            seal_bufs: SealBuffers::new(),
            open_bufs: OpenBuffers::default(),
        }
    }

    /// A keyring with the windows a previous run saved (a restart). Add the keys next.
    pub fn from_state(state: &KeyringState) -> Self {
        let mut ring = Self::new();
        for (sender, key_id, w) in &state.windows {
            ring.windows.insert((*sender, *key_id), Window { window: ReplayWindow::from_state(*w), used: false });
        }
        ring
    }

    /// Sets the limits applied to frames opened.
    pub fn set_limits(&mut self, limits: OpenLimits) {
        self.limits = limits;
    }

    /// Compression of replies: on by default.
    pub fn set_compression(&mut self, on: bool) {
        self.seal_bufs.compress = on;
    }

    /// Adds `sender`'s `key`. Refused if that (sender, key id) is held already.
    pub fn insert(&mut self, sender: SenderId, key: &FrameKey) -> Result<(), KeyringError> {
        match self.keys.entry((sender, key.key_id)) {
            Entry::Occupied(_) => Err(KeyringError::KeyPresent { sender, key_id: key.key_id }),
            Entry::Vacant(v) => {
                v.insert(Slot {
                    suite: key.suite,
                    inbound: key.keys(Direction::DeviceToPortal),
                    outbound: key.keys(Direction::PortalToDevice),
                });
                let n = self.senders.entry(sender).or_insert(0);
                *n = n.saturating_add(1);
                Ok(())
            }
        }
    }

    /// Whether the keyring holds `sender`'s key `key_id`.
    pub fn contains(&self, sender: SenderId, key_id: KeyId) -> bool {
        self.keys.contains_key(&(sender, key_id))
    }

    /// Drops `sender`'s key `key_id` (revocation, or the end of a rotation's overlap): its
    /// frames are refused from now on. The replay window is kept. Returns whether it was held.
    pub fn remove(&mut self, sender: SenderId, key_id: KeyId) -> bool {
        let held = self.keys.remove(&(sender, key_id)).is_some();
        if held && let Some(n) = self.senders.get_mut(&sender) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.senders.remove(&sender);
            }
        }
        held
    }

    /// Drops every key **and every replay window** of `sender` (a decommissioned device). Its
    /// key ids must never be used again. Returns how many keys were held.
    pub fn forget_sender(&mut self, sender: SenderId) -> usize {
        let before = self.keys.len();
        self.keys.retain(|(s, _), _| *s != sender);
        self.senders.remove(&sender);
        self.windows.retain(|(s, _), _| *s != sender);
        before.saturating_sub(self.keys.len())
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The window of (`sender`, `key_id`) as it must be persisted, if it exists.
    pub fn window(&self, sender: SenderId, key_id: KeyId) -> Option<WindowState> {
        self.windows.get(&(sender, key_id)).map(|w| w.window.state())
    }

    /// Restores the window of (`sender`, `key_id`), whether or not its key is held yet.
    /// Refused if that window has accepted a frame since it was created or restored.
    pub fn restore_window(&mut self, sender: SenderId, key_id: KeyId, state: WindowState) -> Result<(), KeyringError> {
        let w = self.windows.entry((sender, key_id)).or_default();
        if w.used {
            return Err(KeyringError::WindowInUse { sender, key_id });
        }
        w.window = ReplayWindow::from_state(state);
        Ok(())
    }

    /// Every window, to persist.
    pub fn state(&self) -> KeyringState {
        let mut windows: Vec<_> = self.windows.iter().map(|((s, k), w)| (*s, *k, w.window.state())).collect();
        windows.sort_by_key(|(s, k, _)| (*s, *k));
        KeyringState { windows }
    }

    /// Opens a frame and appends its payload to `out`, refusing kinds not in `expect`. Checks, in
    /// order: length and header syntax, sender and key, suite, tag (constant time), kind,
    /// freshness, timestamp; then decrypts and inflates. On error `out` is left as it was.
    pub fn open(
        &mut self,
        frame: &[u8],
        expect: &[MessageKind],
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, Rejected> {
        let header = peek_checked(frame)?;
        let id = (header.sender_id, header.key_id);
        let Some(slot) = self.keys.get(&id) else {
            let known_sender = self.senders.contains_key(&header.sender_id);
            return Err(Rejected(if known_sender { RejectReason::UnknownKey } else { RejectReason::UnknownSender }));
        };
        let window = self.windows.entry(id).or_default();
        let fresh = window.window.is_fresh(header.sequence);
        open_frame(
            &slot.inbound,
            slot.suite,
            &header,
            frame,
            expect,
            fresh,
            now,
            self.limits,
            &mut self.open_bufs,
            out,
        )?;
        window.window.accept(header.sequence);
        window.used = true;
        Ok(header)
    }

    /// Seals `payload` as the reply to the frame `request` (a header [`Keyring::open`]
    /// returned): same sender, key id and sequence number, kind [`MessageKind::Reply`]
    /// ([`MessageKind::BundleReply`] to a bundle), under the
    /// portal-to-device keys. Fails if the key has been removed since.
    pub fn seal_reply(
        &mut self,
        request: &FrameHeader,
        codec: Codec,
        payload: &[u8],
        now: Timestamp,
        rng: &mut impl CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, SealError> {
        let Some(slot) = self.keys.get(&(request.sender_id, request.key_id)) else {
            return Err(SealError::UnknownKey { sender: request.sender_id, key_id: request.key_id });
        };
        let header = reply_header(request, slot.suite, codec, now);
        let compress = self.seal_bufs.compress;
        seal_frame(&slot.outbound, header, payload, compress, &mut self.seal_bufs.scratch, rng, out)
    }
}
