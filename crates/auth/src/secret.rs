//! Device secrets, fleet master keys, decoy keys, key epochs and the server's verifiers.

use core::fmt;
use std::sync::{Arc, Mutex};

use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::scram;

/// Which of a device's secrets (rotation): a number the device names in its client-first message
/// (`k=`, docs/wire-format.md §5.7) and one-shot frames carry as their key id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyEpoch(pub u32);

impl From<u32> for KeyEpoch {
    fn from(epoch: u32) -> Self {
        Self(epoch)
    }
}

impl fmt::Display for KeyEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why secret material or a verifier's parameters were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is shorter than [`DeviceSecret::MIN_LEN`].
    #[error("secret of {len} bytes is shorter than the minimum of {min}")]
    TooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// The secret is longer than [`DeviceSecret::MAX_LEN`].
    #[error("secret of {len} bytes is longer than the maximum of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The PBKDF2 iteration count is outside [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`].
    #[error("{iterations} pbkdf2 iterations is outside {MIN_ITERATIONS}..={MAX_ITERATIONS}")]
    Iterations {
        /// The count given.
        iterations: u32,
    },
    /// The salt length is outside [`MIN_SALT_BYTES`]..=[`MAX_SALT_BYTES`].
    #[error("a salt of {len} bytes is outside {MIN_SALT_BYTES}..={MAX_SALT_BYTES}")]
    SaltLength {
        /// The length given.
        len: usize,
    },
}

/// The secret a device shares with the portal. It never crosses the network.
///
/// 32 random bytes ([`DeviceSecret::random`]) or derived from a [`FleetMasterKey`]. Its raw bytes
/// are the SCRAM password, as they are (no SASLprep, no encoding: docs/wire-format.md §5.7).
/// Zeroised on drop; `Debug` does not show it; not comparable.
///
/// A device's handshakes keep the last salted password's `ClientKey` and `ServerKey` inside the
/// secret (RFC 5802 §5.1: "the client can cache ClientKey and ServerKey ... to avoid having to
/// compute them"), keyed by the salt and iteration count the portal sent, so a device renewing
/// its session daily under the same verifier runs PBKDF2 once, not on every handshake. Clones
/// share that cache (they are the same secret); it is never handed out, and wiped on drop with
/// the last clone. A server offering other parameters gets a fresh computation (after the
/// floor and ceiling checks), which replaces the cached one.
#[derive(Clone)]
pub struct DeviceSecret(pub(crate) Zeroizing<Vec<u8>>, SaltedCache);

/// The client's cache of one salted password's keys (see [`DeviceSecret`]), shared by clones.
#[derive(Clone, Default)]
pub(crate) struct SaltedCache(Arc<Mutex<Option<SaltedKeys>>>);

/// `ClientKey` and `ServerKey` of one (salt, iteration count), both wiped on drop.
#[derive(Clone)]
pub(crate) struct SaltedKeys {
    salt: Vec<u8>,
    iterations: u32,
    pub(crate) client_key: Zeroizing<[u8; 32]>,
    pub(crate) server_key: Zeroizing<[u8; 32]>,
}

impl SaltedCache {
    /// The cached keys if they are of `salt` and `iterations`. A poisoned lock counts as empty
    /// (the caller computes the keys again).
    fn get(&self, salt: &[u8], iterations: u32) -> Option<SaltedKeys> {
        let cached = self.0.lock().ok()?;
        cached.as_ref().filter(|k| k.iterations == iterations && k.salt == salt).cloned()
    }

    fn put(&self, keys: SaltedKeys) {
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some(keys);
        }
    }
}

impl DeviceSecret {
    /// Shortest accepted secret, in bytes (128 bits).
    pub const MIN_LEN: usize = 16;
    /// Longest accepted secret, in bytes: HMAC-SHA256's block size. A longer PBKDF2 password is
    /// hashed to 32 bytes first (RFC 2104 §2), so more bytes would add nothing.
    pub const MAX_LEN: usize = 64;

    /// 32 fresh random bytes (provisioning).
    pub fn random(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; 32]);
        rng.fill_bytes(&mut bytes);
        Self(bytes, SaltedCache::default())
    }

    /// Wraps existing secret material of [`DeviceSecret::MIN_LEN`] to [`DeviceSecret::MAX_LEN`]
    /// bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        let len = bytes.len();
        if len < Self::MIN_LEN {
            return Err(SecretError::TooShort { len, min: Self::MIN_LEN });
        }
        if len > Self::MAX_LEN {
            return Err(SecretError::TooLong { len, max: Self::MAX_LEN });
        }
        Ok(Self(Zeroizing::new(bytes.to_vec()), SaltedCache::default()))
    }

    /// Any bytes, for SCRAM's own test vector (whose password is six letters).
    #[cfg(test)]
    pub(crate) fn unchecked(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()), SaltedCache::default())
    }

    /// A copy of the secret's bytes (zeroised on drop), to hand to the device at provisioning
    /// (`printfleet device add` and `printfleet keygen --device` print them once, in base64, for
    /// the device or a collector's configuration). Never log them: they are the device's whole
    /// credential; everything else should keep the secret inside this type.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.0.clone()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `ClientKey` and `ServerKey` of this secret under `salt` and `iterations` (RFC 5802 §3),
    /// from the cache if the last handshake used the same parameters, else computed (PBKDF2)
    /// and cached. The caller has checked the parameters ([`check_parameters`]).
    pub(crate) fn salted_keys(&self, salt: &[u8], iterations: u32) -> SaltedKeys {
        if let Some(keys) = self.1.get(salt, iterations) {
            return keys;
        }
        let salted = scram::salted_password(self.bytes(), salt, iterations);
        let keys = SaltedKeys {
            salt: salt.to_vec(),
            iterations,
            client_key: scram::client_key(&salted),
            server_key: scram::server_key(&salted),
        };
        self.1.put(keys.clone());
        keys
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

    /// The secret of `device` for key epoch `epoch` (a [`KeyEpoch`] or its number).
    pub fn device_secret(&self, device: &str, epoch: impl Into<KeyEpoch>) -> DeviceSecret {
        let mut out = Zeroizing::new(vec![0u8; 32]);
        derive_per_device(b"printfleet device secret v1", &self.0[..], device, epoch.into().0, &mut out);
        DeviceSecret(out, SaltedCache::default())
    }
}

/// `HKDF-SHA256(salt, ikm, info = device name || 0x00 || epoch as 4 bytes big-endian)` into
/// `out` (at most [`MAX_SALT_BYTES`] here, well within HKDF-SHA256's 8160-byte limit, so expand
/// cannot fail).
pub(crate) fn derive_per_device(salt: &[u8], ikm: &[u8], device: &str, epoch: u32, out: &mut [u8]) {
    #[cfg(test)]
    scram::work::tally(scram::work::Primitive::Hkdf);
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

/// The key from which the server derives the challenge it gives a device it does not know (or
/// has revoked), so that such a device cannot be told from a real one.
///
/// Generate it **once** per deployment ([`DecoyKey::generate`]), store it with the verifiers
/// ([`DecoyKey::to_bytes`]) and give every replica the same one ([`DecoyKey::from_bytes`]): a
/// decoy's salt is then as stable across restarts and replicas as a real device's. A new decoy
/// key changes every decoy salt at once, which shows a prober which names are not real.
/// Zeroised on drop; `Debug` does not show it; not comparable.
pub struct DecoyKey(Zeroizing<[u8; 32]>);

impl DecoyKey {
    /// 32 fresh random bytes: call this once, when the deployment is set up, and persist them.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut bytes[..]);
        Self(bytes)
    }

    /// The persisted key.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key's bytes, to persist (they are wiped when the returned value drops).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.clone()
    }

    /// The decoy salt of `device` for `epoch`, `len` bytes ([`MIN_SALT_BYTES`] to
    /// [`MAX_SALT_BYTES`]): `HKDF-SHA256(salt = "printfleet decoy salt v1", IKM = decoy key,
    /// info = device name || 0x00 || epoch as 4 bytes big-endian)`.
    pub(crate) fn salt(&self, device: &str, epoch: u32, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len.clamp(MIN_SALT_BYTES, MAX_SALT_BYTES)];
        derive_per_device(b"printfleet decoy salt v1", &self.0[..], device, epoch, &mut out);
        out
    }
}

impl fmt::Debug for DecoyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DecoyKey(<redacted>)")
    }
}

/// Random bytes of a new verifier's salt ([`Verifier::new`]), and of decoy salts by default.
pub const SALT_BYTES: usize = 16;
/// PBKDF2 iterations for new verifiers: RFC 7677 §4's minimum. A random 256-bit secret needs no
/// stretching, but the count costs the server nothing per handshake (it stores the result), and
/// the device only pays it once per salt if it keeps the salted secret.
pub const DEFAULT_ITERATIONS: u32 = 4096;
/// The fewest PBKDF2 iterations a device accepts and a verifier may have: RFC 7677 §4 ("the
/// hash iteration-count ... SHOULD be at least 4096"). A rogue server offering `i=1` would
/// otherwise get a proof that is cheap to attack offline.
pub const MIN_ITERATIONS: u32 = 4096;
/// The most PBKDF2 iterations a device accepts and a verifier may have: a forged server-first
/// must not make a printer compute for minutes.
pub const MAX_ITERATIONS: u32 = 100_000;
/// The shortest salt a device accepts and a verifier may have (RFC 7677 §3's example, and
/// NIST SP 800-132 §5.1's 128 bits).
pub const MIN_SALT_BYTES: usize = 16;
/// The longest salt a device accepts and a verifier may have (more adds nothing; it bounds the
/// work and the message).
pub const MAX_SALT_BYTES: usize = 64;

/// Checks PBKDF2 parameters against the floor and the ceiling.
pub(crate) fn check_parameters(iterations: u32, salt_len: usize) -> Result<(), SecretError> {
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(SecretError::Iterations { iterations });
    }
    if !(MIN_SALT_BYTES..=MAX_SALT_BYTES).contains(&salt_len) {
        return Err(SecretError::SaltLength { len: salt_len });
    }
    Ok(())
}

/// What the server stores for one device and epoch: SCRAM's `StoredKey` and `ServerKey` with
/// their salt and iteration count (RFC 5802 §3). The secret cannot be recovered from it, and it
/// alone does not let anyone pass as the device (that takes `ClientKey`, which only the secret
/// yields) — though it does let its holder pass as the server. Both keys are zeroised on drop.
#[derive(Clone)]
pub struct Verifier {
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
    pub(crate) stored_key: Zeroizing<[u8; 32]>,
    pub(crate) server_key: Zeroizing<[u8; 32]>,
}

impl Verifier {
    /// Computes the verifier of `secret` with a fresh random salt of [`SALT_BYTES`] and
    /// [`DEFAULT_ITERATIONS`] (provisioning; the device keeps the secret, the server this).
    pub fn new(secret: &DeviceSecret, rng: &mut impl CryptoRng) -> Self {
        let mut salt = vec![0u8; SALT_BYTES];
        rng.fill_bytes(&mut salt);
        Self::compute(secret, salt, DEFAULT_ITERATIONS)
    }

    /// Computes the verifier of `secret` with the given salt and iteration count, which must be
    /// within [`MIN_SALT_BYTES`]..=[`MAX_SALT_BYTES`] and
    /// [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`] (devices refuse anything else).
    pub fn with_salt(secret: &DeviceSecret, salt: Vec<u8>, iterations: u32) -> Result<Self, SecretError> {
        check_parameters(iterations, salt.len())?;
        Ok(Self::compute(secret, salt, iterations))
    }

    fn compute(secret: &DeviceSecret, salt: Vec<u8>, iterations: u32) -> Self {
        let salted = scram::salted_password(secret.bytes(), &salt, iterations);
        let client_key = scram::client_key(&salted);
        Self {
            salt,
            iterations,
            stored_key: Zeroizing::new(scram::sha256(&client_key[..])),
            server_key: scram::server_key(&salted),
        }
    }

    /// The parts to store: salt, iteration count, StoredKey, ServerKey (the keys wiped on drop).
    // The tuple mirrors `from_parts`' arguments; a named struct would only rename them.
    #[allow(clippy::type_complexity)]
    pub fn to_parts(&self) -> (Vec<u8>, u32, Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
        (self.salt.clone(), self.iterations, self.stored_key.clone(), self.server_key.clone())
    }

    /// A verifier from stored parts; the salt and iteration count must be within the same
    /// bounds as for [`Verifier::with_salt`].
    pub fn from_parts(
        salt: Vec<u8>,
        iterations: u32,
        stored_key: [u8; 32],
        server_key: [u8; 32],
    ) -> Result<Self, SecretError> {
        // Wrap first, so the keys are wiped whether or not the parameters pass.
        let (stored_key, server_key) = (Zeroizing::new(stored_key), Zeroizing::new(server_key));
        check_parameters(iterations, salt.len())?;
        Ok(Self { salt, iterations, stored_key, server_key })
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}
