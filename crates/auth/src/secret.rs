//! Device secrets, fleet master keys and the server's verifiers.

use core::fmt;

use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::scram;

/// The secret a device shares with the portal. It never crosses the network.
///
/// 32 random bytes ([`DeviceSecret::random`]) or derived from a [`FleetMasterKey`]. Zeroised on
/// drop; `Debug` does not show it; not comparable.
#[derive(Clone)]
pub struct DeviceSecret(pub(crate) Zeroizing<Vec<u8>>);

impl DeviceSecret {
    /// Shortest accepted secret, in bytes (128 bits).
    pub const MIN_LEN: usize = 16;

    /// 32 fresh random bytes (provisioning).
    pub fn random(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; 32]);
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps existing secret material of at least [`DeviceSecret::MIN_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= Self::MIN_LEN).then(|| Self(Zeroizing::new(bytes.to_vec())))
    }

    /// Any bytes, for SCRAM's own test vector (whose password is six letters).
    #[cfg(test)]
    pub(crate) fn unchecked(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceSecret(<redacted>)")
    }
}

/// A fleet's master key, from which every device's secret per key epoch is derived, so that a
/// portal can hold one key per fleet instead of one per device:
/// `secret = HKDF-SHA256(salt = "printfleet device secret v1", ikm = master,
/// info = device name || 0x00 || epoch as 4 bytes big-endian)`, 32 bytes.
pub struct FleetMasterKey(Zeroizing<[u8; 32]>);

impl FleetMasterKey {
    /// 32 fresh random bytes.
    pub fn random(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut bytes[..]);
        Self(bytes)
    }

    /// A master key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret of `device` for key epoch `epoch`.
    pub fn device_secret(&self, device: &str, epoch: u32) -> DeviceSecret {
        let mut out = Zeroizing::new(vec![0u8; 32]);
        derive_per_device(b"printfleet device secret v1", &self.0[..], device, epoch, &mut out);
        DeviceSecret(out)
    }
}

/// `HKDF-SHA256(salt, ikm, info = device name || 0x00 || epoch as 4 bytes big-endian)` into
/// `out` (at most 32 bytes here, well within HKDF-SHA256's 8160-byte limit, so expand cannot fail).
pub(crate) fn derive_per_device(salt: &[u8], ikm: &[u8], device: &str, epoch: u32, out: &mut [u8]) {
    let mut info = Vec::with_capacity(device.len().saturating_add(5));
    info.extend_from_slice(device.as_bytes());
    info.push(0);
    info.extend_from_slice(&epoch.to_be_bytes());
    let _ = Hkdf::<Sha256>::new(Some(salt), ikm).expand(&info, out);
}

impl fmt::Debug for FleetMasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FleetMasterKey(<redacted>)")
    }
}

/// Random bytes of a verifier's salt.
pub const SALT_BYTES: usize = 16;
/// PBKDF2 iterations for new verifiers: RFC 7677 §4's minimum. A random 256-bit secret needs no
/// stretching, but the count costs the server nothing per handshake (it stores the result), and
/// the device only pays it once per salt if it keeps the salted secret.
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// What the server stores for one device and epoch: SCRAM's `StoredKey` and `ServerKey` with
/// their salt and iteration count (RFC 5802 §3). The secret cannot be recovered from it, and it
/// alone does not let anyone pass as the device (that takes `ClientKey`, which only the secret
/// yields) — though it does let its holder pass as the server.
#[derive(Clone)]
pub struct Verifier {
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
    pub(crate) stored_key: [u8; 32],
    pub(crate) server_key: Zeroizing<[u8; 32]>,
}

impl Verifier {
    /// Computes the verifier of `secret` with a fresh random salt (provisioning; the device keeps
    /// the secret, the server this).
    pub fn new(secret: &DeviceSecret, rng: &mut impl CryptoRng) -> Self {
        let mut salt = vec![0u8; SALT_BYTES];
        rng.fill_bytes(&mut salt);
        Self::with_salt(secret, salt, DEFAULT_ITERATIONS)
    }

    /// Computes the verifier of `secret` with the given salt and iteration count.
    pub fn with_salt(secret: &DeviceSecret, salt: Vec<u8>, iterations: u32) -> Self {
        let salted = scram::salted_password(secret.bytes(), &salt, iterations.max(1));
        let client_key = scram::client_key(&salted);
        Self {
            salt,
            iterations: iterations.max(1),
            stored_key: scram::sha256(&client_key[..]),
            server_key: scram::server_key(&salted),
        }
    }

    /// The parts to store: salt, iteration count, StoredKey, ServerKey.
    pub fn to_parts(&self) -> (Vec<u8>, u32, [u8; 32], [u8; 32]) {
        (self.salt.clone(), self.iterations, self.stored_key, *self.server_key)
    }

    /// A verifier from stored parts.
    pub fn from_parts(salt: Vec<u8>, iterations: u32, stored_key: [u8; 32], server_key: [u8; 32]) -> Self {
        Self { salt, iterations: iterations.max(1), stored_key, server_key: Zeroizing::new(server_key) }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}
