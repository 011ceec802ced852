//! One-shot mode (Partner Link's direct connection: an HTTPS POST every few hours, no session):
//! every frame is sealed under a key derived from the device's secret and a key epoch, so the
//! portal can reject a frame from anything but that device without a round trip. Sequence numbers
//! and timestamps (in the frame) give replay protection.

use hkdf::Hkdf;
use printfleet_wire::frame::{CipherSuite, FrameKey, Opener, Sealer};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secret::{DeviceSecret, FleetMasterKey};

/// The frame key of `device` for key epoch `epoch`:
/// `HKDF-SHA256(salt = "printfleet one-shot v1", ikm = device secret,
/// info = device name || 0x00 || epoch as 4 bytes big-endian)`, 32 bytes. Frames carry the epoch
/// as their key id.
pub fn frame_key(secret: &DeviceSecret, device: &str, epoch: u32) -> FrameKey {
    let mut info = Vec::with_capacity(device.len().saturating_add(5));
    info.extend_from_slice(device.as_bytes());
    info.push(0);
    info.extend_from_slice(&epoch.to_be_bytes());
    let mut okm = Zeroizing::new([0u8; 32]);
    let _ = Hkdf::<Sha256>::new(Some(b"printfleet one-shot v1"), secret.bytes()).expand(&info, &mut okm[..]);
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
    let suite = CipherSuite::Aes128CbcHmacSha256;
    let key = |epoch| secret_of(epoch).map(|s| frame_key(&s, device, epoch));
    let current_key = key(current)?;
    Some(match previous.and_then(|p| key(p).map(|k| (p, k))) {
        Some((p, old)) => {
            let mut opener = Opener::new(sender_id, p, &old, suite);
            opener.rotate(current, &current_key, suite);
            opener
        }
        None => Opener::new(sender_id, current, &current_key, suite),
    })
}

/// The portal's opener for a fleet whose device secrets derive from `master`.
pub fn fleet_opener(
    master: &FleetMasterKey,
    device: &str,
    sender_id: u64,
    current: u32,
    previous: Option<u32>,
) -> Opener {
    let suite = CipherSuite::Aes128CbcHmacSha256;
    portal_opener(|epoch| Some(master.device_secret(device, epoch)), device, sender_id, current, previous)
        .unwrap_or_else(|| {
            Opener::new(sender_id, current, &frame_key(&master.device_secret(device, current), device, current), suite)
        })
}
