//! The session handshake: a device (client) and the portal (server) authenticate each other with
//! SCRAM-SHA-256 and finish with the same fresh frame key. Typestates make the order of calls a
//! compile-time matter on both sides; messages that arrive out of order fail to parse as the
//! message expected, and any failure ends the handshake (the state is consumed).

use core::fmt;

use printfleet_schema::{DurationMs, Timestamp};
use printfleet_wire::frame::{CipherSuite, FrameKey, Opener, Sealer};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::scram::{self, ClientFirst, ServerFirst};
use crate::secret::{DEFAULT_ITERATIONS, DeviceSecret, SALT_BYTES, Verifier};
use crate::{AuthError, FailureEvent, FailureReason};

/// How long a handshake may take from its first message to its last.
pub const DEFAULT_HANDSHAKE_TIMEOUT: DurationMs = DurationMs(30_000);

/// The result of a successful handshake, on either side.
pub struct Session {
    device: String,
    epoch: u32,
    session_id: u32,
    key: FrameKey,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("device", &self.device)
            .field("epoch", &self.epoch)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Derives the session's frame key and id from `ClientKey` (which only the device's secret
    /// yields, and which the server recovers while checking the proof) and the whole transcript
    /// (the AuthMessage, with both fresh nonces):
    /// `HKDF-SHA256(salt = SHA-256(AuthMessage), ikm = ClientKey, info = "printfleet session v1")`,
    /// 36 bytes: the frame key, then the session id (the frames' key id), big-endian.
    fn derive(device: String, epoch: u32, client_key: &[u8; 32], auth_message: &str) -> Self {
        let mut okm = Zeroizing::new([0u8; 36]);
        let salt = scram::sha256(auth_message.as_bytes());
        let _ = hkdf::Hkdf::<sha2::Sha256>::new(Some(&salt), client_key).expand(b"printfleet session v1", &mut okm[..]);
        let key = okm.first_chunk::<32>().map(FrameKey::from_array).unwrap_or_else(|| FrameKey::from_array(&[0; 32]));
        let session_id = okm.last_chunk::<4>().map_or(0, |id| u32::from_be_bytes(*id));
        Self { device, epoch, session_id, key }
    }

    /// The authenticated device name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The key epoch the device authenticated with.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The session id, used as the key id of the session's frames.
    pub fn session_id(&self) -> u32 {
        self.session_id
    }

    /// A sealer for frames of this session sent by `sender_id`.
    pub fn sealer(&self, sender_id: u64) -> Sealer {
        Sealer::new(sender_id, self.session_id, &self.key, CipherSuite::Aes128CbcHmacSha256)
    }

    /// An opener for frames of this session sent by `sender_id`.
    pub fn opener(&self, sender_id: u64) -> Opener {
        Opener::new(sender_id, self.session_id, &self.key, CipherSuite::Aes128CbcHmacSha256)
    }
}

fn elapsed_ok(started: Timestamp, now: Timestamp, timeout: DurationMs) -> bool {
    now.duration_since(started).is_none_or(|d| d <= timeout)
}

// ---------------------------------------------------------------------------------------------
// Client (the device)

/// The device's side, before the server's first message.
pub struct ClientHandshake {
    first: ClientFirst,
    secret: DeviceSecret,
    started: Timestamp,
    timeout: DurationMs,
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("device", &self.first.name)
            .field("epoch", &self.first.epoch)
            .finish_non_exhaustive()
    }
}

/// The device's side, after sending its proof: it still has to check the server's.
pub struct ClientAwaitingServerFinal {
    device: String,
    epoch: u32,
    expected_server_signature: [u8; 32],
    client_key: Zeroizing<[u8; 32]>,
    auth_message: String,
    started: Timestamp,
    timeout: DurationMs,
}

impl fmt::Debug for ClientAwaitingServerFinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAwaitingServerFinal").field("device", &self.device).finish_non_exhaustive()
    }
}

impl ClientHandshake {
    /// Starts a handshake for `device` with its secret of key epoch `epoch`. Returns the state and
    /// the client-first message to send.
    pub fn start(
        device: &str,
        secret: &DeviceSecret,
        epoch: u32,
        rng: &mut impl CryptoRng,
        now: Timestamp,
    ) -> Result<(Self, String), AuthError> {
        Self::start_with_nonce(device, secret, epoch, scram::new_nonce(rng), now)
    }

    pub(crate) fn start_with_nonce(
        device: &str,
        secret: &DeviceSecret,
        epoch: u32,
        nonce: String,
        now: Timestamp,
    ) -> Result<(Self, String), AuthError> {
        if device.is_empty() || device.len() > scram::MAX_NAME_BYTES {
            return Err(AuthError::Malformed("device name length"));
        }
        let first = ClientFirst { name: device.to_owned(), nonce, epoch };
        let message = first.message();
        Ok((Self { first, secret: secret.clone(), started: now, timeout: DEFAULT_HANDSHAKE_TIMEOUT }, message))
    }

    /// Handles the server-first message; returns the next state and the client-final message.
    pub fn handle_server_first(
        self,
        message: &str,
        now: Timestamp,
    ) -> Result<(ClientAwaitingServerFinal, String), AuthError> {
        if !elapsed_ok(self.started, now, self.timeout) {
            return Err(AuthError::Timeout);
        }
        let server = ServerFirst::parse(message)?;
        if !server.nonce.starts_with(&self.first.nonce) || server.nonce.len() == self.first.nonce.len() {
            return Err(AuthError::NonceMismatch);
        }
        if server.iterations > MAX_ITERATIONS {
            return Err(AuthError::Malformed("iteration count above the limit"));
        }
        let salted = scram::salted_password(self.secret.bytes(), &server.salt, server.iterations);
        let client_key = scram::client_key(&salted);
        let stored_key = scram::sha256(&client_key[..]);
        let without_proof = scram::client_final_without_proof(&server.nonce);
        let auth_message = format!("{},{},{}", self.first.bare(), message, without_proof);
        let client_signature = scram::hmac_sha256(&stored_key, auth_message.as_bytes());
        let proof = scram::xor(&client_key, &client_signature);
        let server_key = scram::server_key(&salted);
        let expected_server_signature = scram::hmac_sha256(&server_key[..], auth_message.as_bytes());
        let reply = format!("{without_proof},p={}", scram::encode(&proof));
        Ok((
            ClientAwaitingServerFinal {
                device: self.first.name,
                epoch: self.first.epoch,
                expected_server_signature,
                client_key,
                auth_message,
                started: self.started,
                timeout: self.timeout,
            },
            reply,
        ))
    }
}

/// The most PBKDF2 iterations a device accepts from a server: a forged server-first must not make
/// a printer compute for minutes.
pub const MAX_ITERATIONS: u32 = 100_000;

impl ClientAwaitingServerFinal {
    /// Handles the server-final message. Succeeds only if the server proved it holds the device's
    /// verifier: only then may the device send data.
    pub fn handle_server_final(self, message: &str, now: Timestamp) -> Result<Session, AuthError> {
        if !elapsed_ok(self.started, now, self.timeout) {
            return Err(AuthError::Timeout);
        }
        let signature = scram::parse_server_final(message)?;
        if !bool::from(signature.ct_eq(&self.expected_server_signature)) {
            return Err(AuthError::ServerNotAuthenticated);
        }
        Ok(Session::derive(self.device, self.epoch, &self.client_key, &self.auth_message))
    }
}

// ---------------------------------------------------------------------------------------------
// Server (the portal)

/// What the server knows about a device and key epoch.
#[derive(Debug)]
#[non_exhaustive]
pub enum Lookup {
    /// The verifier to check against.
    Found(Verifier),
    /// No such device, or no such epoch (for example an epoch past its overlap).
    Unknown,
    /// The device or epoch is revoked.
    Revoked,
}

/// Where the server finds verifiers, and the revocation hook it consults.
pub trait VerifierStore {
    /// The verifier of `device` for key epoch `epoch`, or why there is none.
    fn lookup(&self, device: &str, epoch: u32) -> Lookup;
}

/// The server's settings.
pub struct ServerConfig {
    /// Key for the salts of devices that do not exist, so that an unknown device gets the same
    /// (stable) kind of challenge as a known one and cannot be told apart.
    pub decoy_key: Zeroizing<[u8; 32]>,
    /// How long a handshake may take.
    pub timeout: DurationMs,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// A configuration with a fresh decoy key and the default timeout.
    pub fn new(rng: &mut impl CryptoRng) -> Self {
        let mut decoy_key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut decoy_key[..]);
        Self { decoy_key, timeout: DEFAULT_HANDSHAKE_TIMEOUT }
    }
}

/// The server's side, after sending its challenge.
pub struct ServerAwaitingClientFinal {
    device: String,
    epoch: u32,
    /// `None` for an unknown or revoked device: the proof check then fails like a wrong one.
    verifier: Option<Verifier>,
    why_not: FailureReason,
    nonce: String,
    auth_prefix: String,
    started: Timestamp,
    timeout: DurationMs,
}

impl fmt::Debug for ServerAwaitingClientFinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAwaitingClientFinal")
            .field("device", &self.device)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// A failed server step: the reply to send (the same for every authentication failure, so that
/// nothing is revealed) and the event to log and rate-limit on.
#[derive(Debug)]
pub struct ServerFailure {
    /// What to send the device (`e=invalid-proof` or `e=other-error`), if anything.
    pub reply: Option<String>,
    /// What happened, for logs and rate limiting. Never send it.
    pub event: FailureEvent,
}

/// Handles a client-first message: looks the device up and returns the next state and the
/// server-first message. An unknown or revoked device gets a decoy challenge and fails later,
/// exactly like a wrong proof.
pub fn server_start(
    message: &str,
    store: &impl VerifierStore,
    config: &ServerConfig,
    rng: &mut impl CryptoRng,
    now: Timestamp,
) -> Result<(ServerAwaitingClientFinal, String), ServerFailure> {
    server_start_with_nonce(message, store, config, scram::new_nonce(rng), now)
}

pub(crate) fn server_start_with_nonce(
    message: &str,
    store: &impl VerifierStore,
    config: &ServerConfig,
    server_nonce: String,
    now: Timestamp,
) -> Result<(ServerAwaitingClientFinal, String), ServerFailure> {
    let (first, bare) = ClientFirst::parse(message).map_err(|e| ServerFailure {
        reply: Some("e=other-error".into()),
        event: FailureEvent { device: None, reason: FailureReason::Malformed(e) },
    })?;
    let (verifier, why_not) = match store.lookup(&first.name, first.epoch) {
        Lookup::Found(v) => (Some(v), FailureReason::WrongProof),
        Lookup::Unknown => (None, FailureReason::UnknownDevice),
        Lookup::Revoked => (None, FailureReason::Revoked),
    };
    let (salt, iterations) = match &verifier {
        Some(v) => (v.salt.clone(), v.iterations),
        None => {
            let mut input = first.name.as_bytes().to_vec();
            input.extend_from_slice(&first.epoch.to_be_bytes());
            let decoy = scram::hmac_sha256(&config.decoy_key[..], &input);
            (decoy.get(..SALT_BYTES).unwrap_or_default().to_vec(), DEFAULT_ITERATIONS)
        }
    };
    let nonce = format!("{}{server_nonce}", first.nonce);
    let server_first = ServerFirst { nonce: nonce.clone(), salt, iterations }.message();
    let auth_prefix = format!("{bare},{server_first}");
    Ok((
        ServerAwaitingClientFinal {
            device: first.name,
            epoch: first.epoch,
            verifier,
            why_not,
            nonce,
            auth_prefix,
            started: now,
            timeout: config.timeout,
        },
        server_first,
    ))
}

impl ServerAwaitingClientFinal {
    /// Handles the client-final message: checks the proof (in constant time) and returns the
    /// session and the server-final message, which proves the server to the device.
    pub fn handle_client_final(self, message: &str, now: Timestamp) -> Result<(Session, String), ServerFailure> {
        let fail = |reason, reply: &str| ServerFailure {
            reply: Some(reply.to_owned()),
            event: FailureEvent { device: Some(self.device.clone()), reason },
        };
        if !elapsed_ok(self.started, now, self.timeout) {
            return Err(fail(FailureReason::Timeout, "e=other-error"));
        }
        let (nonce, proof, without_proof) =
            scram::parse_client_final(message).map_err(|e| fail(FailureReason::Malformed(e), "e=other-error"))?;
        if nonce != self.nonce {
            return Err(fail(FailureReason::NonceMismatch, "e=other-error"));
        }
        let auth_message = format!("{},{without_proof}", self.auth_prefix);
        // The same work whether or not the device exists.
        let decoy = Verifier::from_parts(Vec::new(), 1, [0x5a; 32], [0; 32]);
        let verifier = self.verifier.as_ref().unwrap_or(&decoy);
        let client_signature = scram::hmac_sha256(&verifier.stored_key, auth_message.as_bytes());
        let client_key = Zeroizing::new(scram::xor(&proof, &client_signature));
        let matches = bool::from(scram::sha256(&client_key[..]).ct_eq(&verifier.stored_key));
        if !matches || self.verifier.is_none() {
            return Err(fail(self.why_not, "e=invalid-proof"));
        }
        let server_signature = scram::hmac_sha256(&verifier.server_key[..], auth_message.as_bytes());
        let session = Session::derive(self.device, self.epoch, &client_key, &auth_message);
        Ok((session, format!("v={}", scram::encode(&server_signature))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> std::collections::BTreeMap<String, String> {
        include_str!("../testdata/rfc7677-scram-sha-256.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (k, v) = l.split_once(" = ").unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    struct One(Verifier);
    impl VerifierStore for One {
        fn lookup(&self, device: &str, _: u32) -> Lookup {
            if device == "user" { Lookup::Found(self.0.clone()) } else { Lookup::Unknown }
        }
    }

    #[test]
    fn rfc7677_exchange_from_both_sides() {
        let v = vector();
        let now = Timestamp::UNIX_EPOCH;
        let secret = DeviceSecret::unchecked(v["password"].as_bytes());
        let client_nonce = v["client-first"].rsplit_once("r=").unwrap().1.to_owned();
        let (client, first) = ClientHandshake::start_with_nonce(&v["user"], &secret, 0, client_nonce, now).unwrap();
        assert_eq!(first, v["client-first"]);
        let (client, client_final) = client.handle_server_first(&v["server-first"], now).unwrap();
        assert_eq!(client_final, v["client-final"]);
        let client_session = client.handle_server_final(&v["server-final"], now).unwrap();

        // The server, holding only the verifier, reproduces the RFC's server messages.
        let (salt, iterations) = {
            let sf = ServerFirst::parse(&v["server-first"]).unwrap();
            (sf.salt, sf.iterations)
        };
        let store = One(Verifier::with_salt(&secret, salt, iterations));
        let config = ServerConfig { decoy_key: Zeroizing::new([1; 32]), timeout: DEFAULT_HANDSHAKE_TIMEOUT };
        let server_nonce =
            v["server-first"].split(',').next().unwrap().trim_start_matches("r=rOprNGfwEbeRWgbNEkqO").to_owned();
        let (server, server_first) =
            server_start_with_nonce(&v["client-first"], &store, &config, server_nonce, now).unwrap();
        assert_eq!(server_first, v["server-first"]);
        let (server_session, server_final) = server.handle_client_final(&v["client-final"], now).unwrap();
        assert_eq!(server_final, v["server-final"]);
        assert_eq!(server_session.session_id(), client_session.session_id());
    }
}
