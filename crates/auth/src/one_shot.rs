//! One-shot mode (Partner Link's direct connection: an HTTPS POST every few hours, no session):
//! every frame is sealed under a key derived from the device's secret and a key epoch, so the
//! portal can reject a frame from anything but that device without a round trip. Sequence numbers
//! and timestamps (in the frame) give replay protection.

use printfleet_wire::frame::{CipherSuite, FrameKey, Opener, Sealer};
use zeroize::Zeroizing;

use crate::secret::{DeviceSecret, FleetMasterKey, derive_per_device};

/// The frame key of `device` for key epoch `epoch`:
/// `HKDF-SHA256(salt = "printfleet one-shot v1", ikm = device secret,
/// info = device name || 0x00 || epoch as 4 bytes big-endian)`, 32 bytes. Frames carry the epoch
/// as their key id.
pub fn frame_key(secret: &DeviceSecret, device: &str, epoch: u32) -> FrameKey {
    let mut okm = Zeroizing::new([0u8; 32]);
    derive_per_device(b"printfleet one-shot v1", secret.bytes(), device, epoch, &mut okm[..]);
    FrameKey::from_array(&okm)
}

/// The device's sealer for epoch `epoch` (the frames' key id), as `sender_id`.
pub fn device_sealer(secret: &DeviceSecret, device: &str, epoch: u32, sender_id: u64) -> Sealer {
    Sealer::new(sender_id, epoch, &frame_key(secret, device, epoch), CipherSuite::Aes128CbcHmacSha256)
}

/// The portal's opener for `device`'s frames: epoch `current`, and `previous` during a rotation's
/// overlap. `secret_of(epoch)` is the portal's store and its revocation hook: it returns `None`
/// for an epoch the device does not have or that is revoked. `None` if the current epoch has no
/// secret.
pub fn portal_opener(
    secret_of: impl Fn(u32) -> Option<DeviceSecret>,
    device: &str,
    sender_id: u64,
    current: u32,
    previous: Option<u32>,
) -> Option<Opener> {
    let key = |epoch| secret_of(epoch).map(|s| frame_key(&s, device, epoch));
    let current_key = key(current)?;
    Some(opener(sender_id, (current, &current_key), previous.and_then(|p| key(p).map(|k| (p, k)))))
}

/// The portal's opener for a fleet whose device secrets derive from `master`.
pub fn fleet_opener(
    master: &FleetMasterKey,
    device: &str,
    sender_id: u64,
    current: u32,
    previous: Option<u32>,
) -> Opener {
    let key = |epoch| frame_key(&master.device_secret(device, epoch), device, epoch);
    opener(sender_id, (current, &key(current)), previous.map(|p| (p, key(p))))
}

/// An opener accepting `current`, and `previous` too when given (a rotation's overlap).
fn opener(sender_id: u64, current: (u32, &FrameKey), previous: Option<(u32, FrameKey)>) -> Opener {
    let suite = CipherSuite::Aes128CbcHmacSha256;
    match previous {
        Some((epoch, old)) => {
            let mut opener = Opener::new(sender_id, epoch, &old, suite);
            opener.rotate(current.0, current.1, suite);
            opener
        }
        None => Opener::new(sender_id, current.0, current.1, suite),
    }
}
