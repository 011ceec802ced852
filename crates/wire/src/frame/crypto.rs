//! The cryptographic steps of a frame: key derivation (HKDF-SHA256, RFC 5869), AES-CBC with
//! PKCS#7 padding (NIST SP 800-38A, RFC 5652 §6.3) and HMAC-SHA256 (RFC 2104, RFC 4231),
//! composed encrypt-then-MAC (RFC 7366; the construction of RFC 7518 §5.2.2). All from
//! RustCrypto; nothing here is hand-rolled.
//!
//! Keyed state is built once per key and cloned per frame: cloning an expanded AES key schedule or
//! an HMAC state whose inner and outer pads are already absorbed costs a copy, not a re-key.

#[cfg(test)]
use aes::cipher::block_padding::NoPadding;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use aes::{Aes128, Aes256};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Bytes of the IV: one AES block.
pub(crate) const IV_LEN: usize = 16;
/// Bytes of the tag: HMAC-SHA256 truncated to 128 bits, as RFC 7518 §5.2.3 does for
/// `AES_128_CBC_HMAC_SHA_256`.
pub(crate) const TAG_LEN: usize = 16;
/// HKDF salt: a fixed label, so keys derived for frames never equal keys derived for anything else.
const HKDF_SALT: &[u8] = b"printfleet frame v1";

/// Which way a frame travels. Each direction has its own keys (bound into the derivation), so a
/// frame sent one way never opens the other way: a portal's reply reflected back to the portal
/// fails authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    /// From the device (or collector) to the portal: reports and updates.
    DeviceToPortal,
    /// From the portal to the device: replies.
    PortalToDevice,
}

impl Direction {
    pub(crate) const fn byte(self) -> u8 {
        match self {
            Self::DeviceToPortal => 0x01,
            Self::PortalToDevice => 0x02,
        }
    }
}

/// Which block cipher a frame uses. The MAC is HMAC-SHA256 in both cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CipherSuite {
    /// AES-128-CBC, as Partner Link uses (flag bit 4 clear).
    Aes128CbcHmacSha256,
    /// AES-256-CBC (flag bit 4 set).
    Aes256CbcHmacSha256,
}

impl CipherSuite {
    pub(crate) const fn flag(self) -> u8 {
        match self {
            Self::Aes128CbcHmacSha256 => 0,
            Self::Aes256CbcHmacSha256 => 1,
        }
    }

    pub(crate) const fn from_flag(bit: u8) -> Self {
        if bit == 0 { Self::Aes128CbcHmacSha256 } else { Self::Aes256CbcHmacSha256 }
    }
}

#[derive(Clone)]
enum Cipher {
    Aes128(Aes128),
    Aes256(Aes256),
}

/// The keys of one (shared key, key id, suite): an expanded AES key and an HMAC state.
/// Zeroised on drop by the RustCrypto types' own `ZeroizeOnDrop` (features `zeroize`).
#[derive(Clone)]
pub(crate) struct KeyState {
    cipher: Cipher,
    mac: Hmac<Sha256>,
}

impl core::fmt::Debug for KeyState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyState(<redacted>)")
    }
}

/// HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info` into `okm`.
/// `okm` is at most 255 * 32 bytes; our callers ask for 32.
pub(crate) fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> bool {
    Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, okm).is_ok()
}

/// The derived encryption and MAC keys of one direction, not yet expanded: 64 bytes where an
/// expanded [`KeyState`] takes several hundred, for keys used rarely (a device's reply key).
/// Zeroised on drop.
pub(crate) struct SubKeys {
    enc: Zeroizing<[u8; 32]>,
    mac: Zeroizing<[u8; 32]>,
    suite: CipherSuite,
}

impl core::fmt::Debug for SubKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SubKeys(<redacted>)")
    }
}

impl SubKeys {
    /// Derives the encryption and MAC keys of one direction from the shared key
    /// (docs/wire-format.md §5.2):
    /// `HKDF-SHA256(salt = "printfleet frame v1", ikm = shared key,
    /// info = label || direction || suite || key id)` with labels `enc` and `mac`, the direction
    /// byte 0x01 (device to portal) or 0x02 (portal to device), the suite byte 0x00 (AES-128) or
    /// 0x01 (AES-256) and the key id as 4 bytes big-endian: 9 bytes of info.
    pub(crate) fn derive(shared: &[u8], key_id: u32, suite: CipherSuite, direction: Direction) -> Self {
        let mut info = [0u8; 9];
        info[3] = direction.byte();
        info[4] = suite.flag();
        info[5..].copy_from_slice(&key_id.to_be_bytes());
        let mut enc = Zeroizing::new([0u8; 32]);
        let mut mac = Zeroizing::new([0u8; 32]);
        info[..3].copy_from_slice(b"enc");
        // 32 bytes are always within HKDF-SHA256's 8160-byte limit.
        let _ = hkdf_sha256(HKDF_SALT, shared, &info, &mut enc[..]);
        info[..3].copy_from_slice(b"mac");
        let _ = hkdf_sha256(HKDF_SALT, shared, &info, &mut mac[..]);
        Self { enc, mac, suite }
    }

    /// The expanded cipher and MAC states.
    pub(crate) fn expand(&self) -> KeyState {
        let enc: &[u8; 32] = &self.enc;
        let cipher = match (self.suite, enc.first_chunk::<16>()) {
            (CipherSuite::Aes128CbcHmacSha256, Some(k128)) => Cipher::Aes128(Aes128::new(k128.into())),
            _ => Cipher::Aes256(Aes256::new(enc.into())),
        };
        // HMAC zero-pads a key shorter than the hash's 64-byte block (RFC 2104 §2), so padding it
        // here gives the same MAC while letting the infallible, block-sized constructor be used.
        let mut block = Zeroizing::new([0u8; 64]);
        if let Some(head) = block.first_chunk_mut::<32>() {
            head.copy_from_slice(&self.mac[..]);
        }
        let block: &[u8; 64] = &block;
        let mac = <Hmac<Sha256> as KeyInit>::new(block.into());
        KeyState { cipher, mac }
    }
}

impl KeyState {
    /// Derives the encryption and MAC keys of one direction from the shared key (see
    /// [`SubKeys::derive`]) and expands them.
    #[cfg(test)]
    pub(crate) fn derive(shared: &[u8], key_id: u32, suite: CipherSuite, direction: Direction) -> Self {
        SubKeys::derive(shared, key_id, suite, direction).expand()
    }

    /// The truncated tag over `data`.
    pub(crate) fn tag(&self, data: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(data);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        if let Some(head) = full.first_chunk::<TAG_LEN>() {
            tag = *head;
        }
        tag
    }

    /// Whether `tag` is the tag of `data`, compared in constant time.
    pub(crate) fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        bool::from(self.tag(data).ct_eq(tag))
    }

    /// Encrypts `buf[..len]` in place with PKCS#7 padding; `buf` must have room for the padding
    /// (up to one block). Returns the ciphertext length.
    pub(crate) fn encrypt(&self, iv: &[u8; IV_LEN], buf: &mut [u8], len: usize) -> Option<usize> {
        let out = match &self.cipher {
            Cipher::Aes128(c) => {
                cbc::Encryptor::<Aes128>::inner_iv_init(c.clone(), iv.into()).encrypt_padded::<Pkcs7>(buf, len)
            }
            Cipher::Aes256(c) => {
                cbc::Encryptor::<Aes256>::inner_iv_init(c.clone(), iv.into()).encrypt_padded::<Pkcs7>(buf, len)
            }
        };
        out.ok().map(<[u8]>::len)
    }

    /// Decrypts `buf` in place and removes PKCS#7 padding. Returns the plaintext length, or
    /// `None` for bad padding (which only an authenticated frame can reach: the tag is checked
    /// first, so this is no padding oracle).
    pub(crate) fn decrypt(&self, iv: &[u8; IV_LEN], buf: &mut [u8]) -> Option<usize> {
        let out = match &self.cipher {
            Cipher::Aes128(c) => {
                cbc::Decryptor::<Aes128>::inner_iv_init(c.clone(), iv.into()).decrypt_padded::<Pkcs7>(buf)
            }
            Cipher::Aes256(c) => {
                cbc::Decryptor::<Aes256>::inner_iv_init(c.clone(), iv.into()).decrypt_padded::<Pkcs7>(buf)
            }
        };
        out.ok().map(<[u8]>::len)
    }
}

/// The bare CBC step without padding (for the NIST SP 800-38A known-answer tests).
#[cfg(test)]
pub(crate) fn cbc_encrypt_no_padding(key: &[u8], iv: &[u8; IV_LEN], buf: &mut [u8]) -> bool {
    use aes::cipher::KeyIvInit;
    let len = buf.len();
    match key.len() {
        16 => cbc::Encryptor::<Aes128>::new_from_slices(key, iv)
            .expect("16-byte key")
            .encrypt_padded::<NoPadding>(buf, len)
            .is_ok(),
        32 => cbc::Encryptor::<Aes256>::new_from_slices(key, iv)
            .expect("32-byte key")
            .encrypt_padded::<NoPadding>(buf, len)
            .is_ok(),
        _ => false,
    }
}

/// The full HMAC-SHA256 (for the RFC 4231 known-answer tests).
#[cfg(test)]
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    //! Known-answer tests, one per data file in `testdata/kat/`, each citing its source.

    use super::*;

    /// Parses `key = hex` / `key = "text"` lines, records separated by blank lines.
    fn records(text: &str) -> Vec<std::collections::BTreeMap<String, Vec<u8>>> {
        let mut out = vec![std::collections::BTreeMap::new()];
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if line.is_empty() {
                if !out.last().unwrap().is_empty() {
                    out.push(Default::default());
                }
                continue;
            }
            let (k, v) = line.split_once('=').unwrap();
            let v = v.trim();
            let bytes = if let Some(text) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                text.as_bytes().to_vec()
            } else if let Some((byte, count)) = v.split_once('*') {
                vec![u8::from_str_radix(byte.trim(), 16).unwrap(); count.trim().parse().unwrap()]
            } else {
                hex::decode(v.replace(' ', "")).unwrap()
            };
            out.last_mut().unwrap().insert(k.trim().to_owned(), bytes);
        }
        out.retain(|r| !r.is_empty());
        out
    }

    #[test]
    fn rfc4231_hmac_sha256() {
        let cases = records(include_str!("../../testdata/kat/rfc4231-hmac-sha256.txt"));
        assert_eq!(cases.len(), 7);
        for c in cases {
            let mac = hmac_sha256(&c["key"], &c["data"]);
            let want = &c["hmac_sha256"];
            assert_eq!(&mac[..want.len()], &want[..], "{c:?}");
        }
    }

    #[test]
    fn rfc5869_hkdf_sha256() {
        let cases = records(include_str!("../../testdata/kat/rfc5869-hkdf-sha256.txt"));
        assert_eq!(cases.len(), 3);
        for c in cases {
            let mut okm = vec![0u8; c["okm"].len()];
            assert!(hkdf_sha256(&c["salt"], &c["ikm"], &c["info"], &mut okm));
            assert_eq!(okm, c["okm"], "{c:?}");
        }
    }

    #[test]
    fn sp800_38a_cbc_aes() {
        let cases = records(include_str!("../../testdata/kat/sp800-38a-cbc-aes.txt"));
        assert_eq!(cases.len(), 2);
        for c in cases {
            let iv: [u8; 16] = c["iv"].clone().try_into().unwrap();
            let mut buf = c["plaintext"].clone();
            assert!(cbc_encrypt_no_padding(&c["key"], &iv, &mut buf));
            assert_eq!(buf, c["ciphertext"], "{c:?}");
        }
    }

    #[test]
    fn padded_encryption_round_trips_and_checks_tags() {
        for suite in [CipherSuite::Aes128CbcHmacSha256, CipherSuite::Aes256CbcHmacSha256] {
            let k = KeyState::derive(b"0123456789abcdef", 7, suite, Direction::DeviceToPortal);
            for len in [0usize, 1, 15, 16, 17, 100] {
                let mut buf = vec![0xa5u8; len + 16];
                let ct = k.encrypt(&[9; 16], &mut buf, len).unwrap();
                assert_eq!(ct, (len / 16 + 1) * 16);
                buf.truncate(ct);
                assert_eq!(k.decrypt(&[9; 16], &mut buf), Some(len));
            }
            let tag = k.tag(b"header and ciphertext");
            assert!(k.verify(b"header and ciphertext", &tag));
            assert!(!k.verify(b"header and ciphertexT", &tag));
        }
        // Key id, suite and direction separate the derived keys.
        let d2p = Direction::DeviceToPortal;
        let a = KeyState::derive(b"shared", 1, CipherSuite::Aes128CbcHmacSha256, d2p).tag(b"x");
        let b = KeyState::derive(b"shared", 2, CipherSuite::Aes128CbcHmacSha256, d2p).tag(b"x");
        let c = KeyState::derive(b"shared", 1, CipherSuite::Aes256CbcHmacSha256, d2p).tag(b"x");
        let d = KeyState::derive(b"shared", 1, CipherSuite::Aes128CbcHmacSha256, Direction::PortalToDevice).tag(b"x");
        let all = [a, b, c, d];
        for (i, x) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|y| y != x), "derived keys collide");
        }
    }
}
