//! SCRAM-SHA-256 (RFC 5802, RFC 7677): the message syntax and the key computations.
//!
//! printfleet's session handshake *is* SCRAM-SHA-256 without channel binding (GS2 header `n,,`),
//! with one extension attribute in the client-first message, `k=<key epoch>`, which tells the
//! server which of the device's secrets (rotation) to check against. Everything else, including
//! the AuthMessage and every key, is computed exactly as RFC 5802 §3 says, so the RFC 7677 test
//! vector applies unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::AuthError;

/// Longest message accepted, in bytes (a real one is under 200).
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Longest device name, in bytes, before escaping.
pub const MAX_NAME_BYTES: usize = 255;
/// Longest combined nonce, in bytes.
pub const MAX_NONCE_BYTES: usize = 256;
/// Random bytes in each side's nonce (base64-encoded on the wire): 144 bits.
pub(crate) const NONCE_RANDOM_BYTES: usize = 18;
/// The GS2 header: no channel binding, no authorisation identity.
const GS2_HEADER: &str = "n,,";
/// `base64(GS2_HEADER)`, the channel-binding attribute of the client-final message.
const CHANNEL_BINDING: &str = "biws";

/// `HMAC-SHA256(key, data)`. The result is zeroised on drop: it is a key, a signature or a proof.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    #[cfg(test)]
    work::tally(work::Primitive::Hmac);
    // HMAC takes keys of any length; `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new(&[0u8; 64].into())
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    #[cfg(test)]
    work::tally(work::Primitive::Sha256);
    Sha256::digest(data).into()
}

/// A count of the primitives this thread computed, so that tests can show that the server does
/// the same work whether or not a device exists (issue #12, finding 1).
#[cfg(test)]
pub(crate) mod work {
    use std::cell::Cell;

    /// The primitives counted.
    #[derive(Clone, Copy, Debug)]
    pub(crate) enum Primitive {
        Hmac,
        Sha256,
        Hkdf,
        Pbkdf2,
    }

    std::thread_local! {
        static COUNTS: Cell<[u32; 4]> = const { Cell::new([0; 4]) };
    }

    pub(crate) fn tally(p: Primitive) {
        COUNTS.with(|c| {
            let mut counts = c.get();
            let i = p as usize;
            if let Some(n) = counts.get_mut(i) {
                *n = n.saturating_add(1);
            }
            c.set(counts);
        });
    }

    /// The counts since the last call, as (HMAC, SHA-256, HKDF, PBKDF2), and resets them.
    pub(crate) fn take() -> [u32; 4] {
        COUNTS.with(|c| c.replace([0; 4]))
    }
}

/// `SaltedPassword := Hi(secret, salt, i)`, PBKDF2-HMAC-SHA256 (RFC 5802 §2.2).
pub(crate) fn salted_password(secret: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    #[cfg(test)]
    work::tally(work::Primitive::Pbkdf2);
    let mut out = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<Sha256>(secret, salt, iterations, &mut out[..]);
    out
}

/// `ClientKey := HMAC(SaltedPassword, "Client Key")`.
pub(crate) fn client_key(salted: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    hmac_sha256(salted, b"Client Key")
}

/// `ServerKey := HMAC(SaltedPassword, "Server Key")`.
pub(crate) fn server_key(salted: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    hmac_sha256(salted, b"Server Key")
}

/// `a XOR b`: a proof, or the `ClientKey` recovered from one; zeroised on drop.
pub(crate) fn xor(a: &[u8; 32], b: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(core::array::from_fn(|i| a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0)))
}

/// A device name is 1 to [`MAX_NAME_BYTES`] bytes of UTF-8 (the type guarantees the encoding)
/// without control characters: RFC 5802 §7's `saslname` forbids NUL, and the rest of C0, DEL and
/// C1 have no place in a name that ends up in logs. Names are compared byte for byte: no
/// SASLprep or Unicode normalisation is applied (devices are named by software, not typed).
pub(crate) fn check_name(name: &str) -> Result<(), AuthError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(AuthError::Malformed("device name length"));
    }
    if name.chars().any(char::is_control) {
        return Err(AuthError::Malformed("control character in the device name"));
    }
    Ok(())
}

/// Escapes a device name as a SCRAM `saslname` (`=` as `=3D`, `,` as `=2C`).
pub(crate) fn escape_name(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn unescape_name(text: &str) -> Result<String, AuthError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('=') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let tail = rest.get(i..).unwrap_or_default();
        if let Some(r) = tail.strip_prefix("=3D") {
            out.push('=');
            rest = r;
        } else if let Some(r) = tail.strip_prefix("=2C") {
            out.push(',');
            rest = r;
        } else {
            return Err(AuthError::Malformed("bad escape in the device name"));
        }
    }
    out.push_str(rest);
    check_name(&out)?;
    Ok(out)
}

/// A nonce is printable ASCII other than `,` (RFC 5802 §7, `printable`).
fn check_nonce(nonce: &str) -> Result<(), AuthError> {
    let ok = !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_BYTES
        && nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',');
    if ok { Ok(()) } else { Err(AuthError::Malformed("nonce")) }
}

pub(crate) fn new_nonce(rng: &mut impl rand_core::CryptoRng) -> String {
    let mut bytes = [0u8; NONCE_RANDOM_BYTES];
    rng.fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

fn check_size(message: &str) -> Result<(), AuthError> {
    if message.len() > MAX_MESSAGE_BYTES { Err(AuthError::Malformed("message too long")) } else { Ok(()) }
}

/// The attributes of a message, in order: `(letter, value)`.
fn attributes(message: &str) -> Result<Vec<(u8, &str)>, AuthError> {
    message
        .split(',')
        .map(|part| match part.as_bytes() {
            [letter, b'=', ..] if letter.is_ascii_alphabetic() => Ok((*letter, part.get(2..).unwrap_or_default())),
            _ => Err(AuthError::Malformed("attribute")),
        })
        .collect()
}

/// The parsed client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientFirst {
    pub(crate) name: String,
    pub(crate) nonce: String,
    pub(crate) epoch: u32,
}

impl ClientFirst {
    /// `client-first-message-bare`: `n=<name>,r=<nonce>[,k=<epoch>]`; `k` is omitted for epoch 0
    /// so that plain SCRAM messages (the RFC 7677 vector) are epoch 0.
    pub(crate) fn bare(&self) -> String {
        let mut s = format!("n={},r={}", escape_name(&self.name), self.nonce);
        if self.epoch != 0 {
            s.push_str(&format!(",k={}", self.epoch));
        }
        s
    }

    pub(crate) fn message(&self) -> String {
        format!("{GS2_HEADER}{}", self.bare())
    }

    /// Parses a client-first message; returns it and its bare part.
    pub(crate) fn parse(message: &str) -> Result<(Self, &str), AuthError> {
        check_size(message)?;
        let bare = message.strip_prefix(GS2_HEADER).ok_or(AuthError::Unsupported("channel binding or authzid"))?;
        let attrs = attributes(bare)?;
        let (name, nonce, rest) = match attrs.as_slice() {
            [(b'n', name), (b'r', nonce), rest @ ..] => (*name, *nonce, rest),
            [(b'm', _), ..] => return Err(AuthError::Unsupported("mandatory extension")),
            _ => return Err(AuthError::Malformed("client-first attributes")),
        };
        check_nonce(nonce)?;
        let epoch = match rest {
            [] => 0,
            [(b'k', epoch)] => parse_u32(epoch)?,
            _ => return Err(AuthError::Malformed("client-first extensions")),
        };
        Ok((Self { name: unescape_name(name)?, nonce: nonce.to_owned(), epoch }, bare))
    }
}

/// The parsed server-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerFirst {
    pub(crate) nonce: String,
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
}

impl ServerFirst {
    pub(crate) fn message(&self) -> String {
        format!("r={},s={},i={}", self.nonce, STANDARD.encode(&self.salt), self.iterations)
    }

    pub(crate) fn parse(message: &str) -> Result<Self, AuthError> {
        check_size(message)?;
        match attributes(message)?.as_slice() {
            [(b'r', nonce), (b's', salt), (b'i', iterations)] => {
                check_nonce(nonce)?;
                let salt = STANDARD.decode(salt).map_err(|_| AuthError::Malformed("salt"))?;
                let iterations = parse_u32(iterations)?;
                if salt.is_empty() || iterations == 0 {
                    return Err(AuthError::Malformed("salt or iteration count"));
                }
                Ok(Self { nonce: (*nonce).to_owned(), salt, iterations })
            }
            [(b'm', _), ..] => Err(AuthError::Unsupported("mandatory extension")),
            [(b'e', _), ..] => Err(AuthError::Rejected),
            _ => Err(AuthError::Malformed("server-first attributes")),
        }
    }
}

/// `client-final-message-without-proof`: `c=biws,r=<nonce>`.
pub(crate) fn client_final_without_proof(nonce: &str) -> String {
    format!("c={CHANNEL_BINDING},r={nonce}")
}

/// Parses a client-final message into (nonce, proof, the part without the proof).
pub(crate) fn parse_client_final(message: &str) -> Result<(&str, Zeroizing<[u8; 32]>, &str), AuthError> {
    check_size(message)?;
    let (without_proof, proof) = message.rsplit_once(",p=").ok_or(AuthError::Malformed("client-final"))?;
    let nonce = match attributes(without_proof)?.as_slice() {
        [(b'c', binding), (b'r', nonce)] if *binding == CHANNEL_BINDING => *nonce,
        [(b'c', _), ..] => return Err(AuthError::Unsupported("channel binding")),
        _ => return Err(AuthError::Malformed("client-final attributes")),
    };
    Ok((nonce, Zeroizing::new(decode32(proof)?), without_proof))
}

/// Parses a server-final message: `Ok(verifier)` or the server's error.
pub(crate) fn parse_server_final(message: &str) -> Result<[u8; 32], AuthError> {
    check_size(message)?;
    match attributes(message)?.as_slice() {
        [(b'v', verifier)] => decode32(verifier),
        [(b'e', _)] => Err(AuthError::Rejected),
        _ => Err(AuthError::Malformed("server-final")),
    }
}

fn decode32(text: &str) -> Result<[u8; 32], AuthError> {
    let bytes = STANDARD.decode(text).map_err(|_| AuthError::Malformed("base64"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| AuthError::Malformed("proof length"))
}

pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn parse_u32(text: &str) -> Result<u32, AuthError> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(AuthError::Malformed("number"));
    }
    text.parse().map_err(|_| AuthError::Malformed("number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_escape_and_unescape() {
        assert_eq!(escape_name("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(unescape_name("a=2Cb=3Dc").unwrap(), "a,b=c");
        assert!(unescape_name("a=2").is_err());
        assert!(unescape_name("").is_err());
        assert_eq!(unescape_name(&"x".repeat(MAX_NAME_BYTES)).unwrap().len(), MAX_NAME_BYTES);
        assert!(unescape_name(&"x".repeat(MAX_NAME_BYTES + 1)).is_err());
        // RFC 5802 §7: a saslname has no NUL; nor do we take other control characters.
        for bad in ["a\u{0}b", "a\nb", "a\u{7f}", "a\u{85}"] {
            assert!(unescape_name(bad).is_err(), "{bad:?}");
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("Büro-Drucker 3. OG").is_ok(), "any other UTF-8 is fine");
    }

    #[test]
    fn messages_round_trip_and_reject_garbage() {
        let cf = ClientFirst { name: "printer,7".into(), nonce: "abc".into(), epoch: 3 };
        let msg = cf.message();
        assert_eq!(msg, "n,,n=printer=2C7,r=abc,k=3");
        assert_eq!(ClientFirst::parse(&msg).unwrap().0, cf);
        for bad in
            ["", "y,,n=a,r=b", "n,,r=b,n=a", "n,,n=a,r=b,k=01", "n,,n=a,r=b c", "n,,n=a,r=b,x=1", "n,,m=1,n=a,r=b"]
        {
            assert!(ClientFirst::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ClientFirst::parse(&"n,,n=a,r=".repeat(200)).is_err());
        assert!(ServerFirst::parse("r=x,s=,i=1").is_err());
        assert!(ServerFirst::parse("r=x,s=AAAA,i=0").is_err());
        assert!(matches!(ServerFirst::parse("e=other-error"), Err(AuthError::Rejected)));
        assert!(parse_client_final("c=biws,r=x").is_err());
        assert!(matches!(parse_client_final("c=eSws,r=x,p=AAAA"), Err(AuthError::Unsupported(_))));
        assert!(matches!(parse_server_final("e=invalid-proof"), Err(AuthError::Rejected)));
    }
}
