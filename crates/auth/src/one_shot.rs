//! One-shot mode (Partner Link's direct connection: an HTTPS POST every few hours, no session):
//! every frame is sealed under a key derived from the device's secret and a key epoch, so the
//! portal can reject a frame from anything but that device without a round trip. Sequence numbers
//! (reserved and persisted by the device, [`DeviceChannel`]) and replay windows (persisted by the
//! portal, [`Keyring`]) make replays fail across restarts of either end.
//!
//! The frame key of device *d* for epoch *e* is (docs/wire-format.md §5.7)
//! `HKDF-SHA256(salt = "printfleet one-shot v1", ikm = device secret,
//! info = d || 0x00 || e as 4 bytes big-endian)`, 32 bytes, used with AES-128-CBC +
//! HMAC-SHA256 (the suite Partner Link uses; it is bound into the frame keys' derivation) under
//! key id *e*. The sender id is [`sender_id_of`] the device name, as in session mode.
//!
//! ```
//! use printfleet_auth::one_shot::{self, Portal, SecretLookup, SecretStore};
//! use printfleet_auth::{DeviceSecret, KeyEpoch, sender_id_of};
//! use printfleet_wire::Codec;
//! use printfleet_wire::frame::{MessageKind, OsRng, SenderId};
//! use printfleet_schema::Timestamp;
//! let mut rng = OsRng::default();
//! let now = Timestamp::from_unix_millis(1_793_610_000_000)?;
//! let secret = DeviceSecret::random(&mut rng);
//!
//! // The device: a channel per key epoch; each reservation is persisted before it is used.
//! let mut device = one_shot::device_channel(&secret, "plotter-3", KeyEpoch(1));
//! let reservation = device.reserve();
//! // ... store `reservation.checkpoint()` durably, then:
//! device.reservation_saved(reservation)?;
//! let mut frame = Vec::new();
//! device.seal(MessageKind::Report, Codec::Json, b"{}", now, &mut rng, &mut frame)?;
//!
//! // The portal: its device store says who a sender is and whether an epoch is still good.
//! struct Store(DeviceSecret);
//! impl SecretStore for Store {
//!     fn lookup(&self, sender: SenderId, epoch: KeyEpoch) -> SecretLookup {
//!         if sender == sender_id_of("plotter-3") && epoch == KeyEpoch(1) {
//!             SecretLookup::Found { device: "plotter-3".into(), secret: self.0.clone() }
//!         } else {
//!             SecretLookup::Unknown
//!         }
//!     }
//! }
//! let mut portal = Portal::new(Store(secret.clone()));
//! let mut payload = Vec::new();
//! let request = portal.open(&frame, &[MessageKind::Report], now, &mut payload)?;
//! assert_eq!(payload, b"{}");
//! // A replay is refused, and the reply opens at the device.
//! assert!(portal.open(&frame, &[MessageKind::Report], now, &mut Vec::new()).is_err());
//! let mut reply = Vec::new();
//! portal.seal_reply(&request, Codec::Json, b"{}", now, &mut rng, &mut reply)?;
//! device.open_reply(&reply, now, &mut Vec::new())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use printfleet_schema::Timestamp;
use printfleet_wire::Codec;
use printfleet_wire::frame::{
    CheckpointError, CipherSuite, DeviceChannel, FrameHeader, FrameKey, KeyId, Keyring, MessageKind, Rejected,
    SealError, SealerCheckpoint, SenderId,
};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::secret::{DeviceSecret, FleetMasterKey, KeyEpoch, derive_per_device};
use crate::session::sender_id_of;

/// The suite of one-shot frames (Partner Link's AES-128-CBC).
pub const SUITE: CipherSuite = CipherSuite::Aes128CbcHmacSha256;

/// The frame key of `device` for key epoch `epoch` (see the module docs), under key id `epoch`.
pub fn frame_key(secret: &DeviceSecret, device: &str, epoch: KeyEpoch) -> FrameKey {
    let mut okm = Zeroizing::new([0u8; 32]);
    derive_per_device(b"printfleet one-shot v1", secret.bytes(), device, epoch.0, &mut okm[..]);
    FrameKey::from_array(&okm, KeyId(epoch.0), SUITE)
}

/// The device's channel for a key epoch it has **never used before** (a new epoch, after
/// provisioning or a rotation). After a restart use [`restore_device_channel`] with the last
/// saved checkpoint: a new channel would start again at sequence 1.
pub fn device_channel(secret: &DeviceSecret, device: &str, epoch: KeyEpoch) -> DeviceChannel {
    DeviceChannel::new(sender_id_of(device), &frame_key(secret, device, epoch))
}

/// The device's channel after a restart, past `checkpoint` (the last reservation saved).
pub fn restore_device_channel(
    secret: &DeviceSecret,
    device: &str,
    epoch: KeyEpoch,
    checkpoint: &SealerCheckpoint,
) -> Result<DeviceChannel, CheckpointError> {
    DeviceChannel::restore(sender_id_of(device), &frame_key(secret, device, epoch), checkpoint)
}

/// What the portal's store says about a (sender, key epoch).
#[non_exhaustive]
pub enum SecretLookup {
    /// The device and its secret for that epoch.
    Found {
        /// The device's name (its sender id must be [`sender_id_of`] it).
        device: String,
        /// Its secret for the epoch.
        secret: DeviceSecret,
    },
    /// No such device, or no such epoch (for example one past its rotation's overlap).
    Unknown,
    /// The device or the epoch is revoked.
    Revoked,
    /// The store cannot answer now (database down): the frame is neither accepted nor counted
    /// as bad.
    Unavailable,
}

impl fmt::Debug for SecretLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Found { device, .. } => f.debug_struct("Found").field("device", device).finish_non_exhaustive(),
            Self::Unknown => f.write_str("Unknown"),
            Self::Revoked => f.write_str("Revoked"),
            Self::Unavailable => f.write_str("Unavailable"),
        }
    }
}

/// Where the portal finds one-shot secrets: its device registry and revocation hook, asked for
/// every frame (the [`Portal`] caches the derived keys, never the verdict).
pub trait SecretStore {
    /// The device behind `sender` and its secret for `epoch`, or why there is none.
    fn lookup(&self, sender: SenderId, epoch: KeyEpoch) -> SecretLookup;
}

/// What a fleet's directory says about a (sender, key epoch), for [`FleetStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceLookup {
    /// The device's name: its secret derives from the fleet master key.
    Active(String),
    /// No such device or epoch.
    Unknown,
    /// Revoked.
    Revoked,
    /// The directory cannot answer now.
    Unavailable,
}

/// A [`SecretStore`] for a fleet whose device secrets derive from one [`FleetMasterKey`]:
/// `directory` names the device behind a sender and is the revocation hook.
pub struct FleetStore<F> {
    master: FleetMasterKey,
    directory: F,
}

impl<F> fmt::Debug for FleetStore<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetStore").finish_non_exhaustive()
    }
}

impl<F: Fn(SenderId, KeyEpoch) -> DeviceLookup> FleetStore<F> {
    /// A store deriving secrets from `master` for the devices `directory` vouches for.
    pub fn new(master: FleetMasterKey, directory: F) -> Self {
        Self { master, directory }
    }
}

impl<F: Fn(SenderId, KeyEpoch) -> DeviceLookup> SecretStore for FleetStore<F> {
    fn lookup(&self, sender: SenderId, epoch: KeyEpoch) -> SecretLookup {
        match (self.directory)(sender, epoch) {
            DeviceLookup::Active(device) => {
                let secret = self.master.device_secret(&device, epoch);
                SecretLookup::Found { device, secret }
            }
            DeviceLookup::Unknown => SecretLookup::Unknown,
            DeviceLookup::Revoked => SecretLookup::Revoked,
            DeviceLookup::Unavailable => SecretLookup::Unavailable,
        }
    }
}

/// Why the portal did not accept a one-shot frame. Tell the device only "rejected" (the
/// `Display` of every variant but [`PortalError::StoreUnavailable`] is the same); the variants
/// are for logs and counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// The frame failed a check of the frame layer ([`Rejected::reason`] says which).
    #[error("frame rejected")]
    Rejected(Rejected),
    /// The sender or epoch is unknown to the store.
    #[error("frame rejected")]
    UnknownDevice,
    /// The sender or epoch is revoked.
    #[error("frame rejected")]
    Revoked,
    /// The store named a device whose sender id is not the frame's (a registry error).
    #[error("frame rejected")]
    WrongSender,
    /// The store could not answer: try again later (an HTTP 503, not a rejection).
    #[error("device store unavailable")]
    StoreUnavailable,
}

/// The portal's end of one-shot mode: a [`Keyring`] filled on demand from a [`SecretStore`]
/// that is consulted for every frame, so that a revocation takes effect on the next frame.
///
/// Persist the replay windows ([`Portal::keyring`], [`Keyring::window`]) with the effects of each
/// frame accepted, and restore them ([`Portal::with_keyring`]) after a restart.
pub struct Portal<S> {
    store: S,
    keyring: Keyring,
}

impl<S> fmt::Debug for Portal<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Portal").field("keyring", &self.keyring).finish_non_exhaustive()
    }
}

impl<S: SecretStore> Portal<S> {
    /// A portal with an empty keyring (first start).
    pub fn new(store: S) -> Self {
        Self { store, keyring: Keyring::new() }
    }

    /// A portal with a keyring restored from saved windows ([`Keyring::from_state`]).
    pub fn with_keyring(store: S, keyring: Keyring) -> Self {
        Self { store, keyring }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The keyring, to persist its windows.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The keyring, to set limits or restore windows.
    pub fn keyring_mut(&mut self) -> &mut Keyring {
        &mut self.keyring
    }

    /// Opens a one-shot frame: asks the store whether its sender and epoch are still good (and
    /// drops the cached key if not), then opens it with the keyring, refusing kinds not in
    /// `expect`. On error `out` is left as it was.
    pub fn open(
        &mut self,
        frame: &[u8],
        expect: &[MessageKind],
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, PortalError> {
        let header = FrameHeader::peek(frame).map_err(PortalError::Rejected)?;
        let (sender, key_id) = (header.sender_id, header.key_id);
        match self.store.lookup(sender, KeyEpoch(key_id.0)) {
            SecretLookup::Found { device, secret } => {
                if sender_id_of(&device) != sender {
                    self.keyring.remove(sender, key_id);
                    return Err(PortalError::WrongSender);
                }
                if !self.keyring.contains(sender, key_id) {
                    // Cannot fail: the key is not held.
                    let _ = self.keyring.insert(sender, &frame_key(&secret, &device, KeyEpoch(key_id.0)));
                }
            }
            SecretLookup::Unknown => {
                self.keyring.remove(sender, key_id);
                return Err(PortalError::UnknownDevice);
            }
            SecretLookup::Revoked => {
                self.keyring.remove(sender, key_id);
                return Err(PortalError::Revoked);
            }
            SecretLookup::Unavailable => return Err(PortalError::StoreUnavailable),
        }
        self.keyring.open(frame, expect, now, out).map_err(PortalError::Rejected)
    }

    /// Seals the reply to `request` (a header [`Portal::open`] returned).
    pub fn seal_reply(
        &mut self,
        request: &FrameHeader,
        codec: Codec,
        payload: &[u8],
        now: Timestamp,
        rng: &mut impl CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, SealError> {
        self.keyring.seal_reply(request, codec, payload, now, rng, out)
    }
}
