//! The session handshake: a device (client) and the portal (server) authenticate each other with
//! SCRAM-SHA-256 and finish with the same fresh frame key. Typestates make the order of calls a
//! compile-time matter on both sides; messages that arrive out of order fail to parse as the
//! message expected, and any failure ends the handshake (the state is consumed).

use core::fmt;

use printfleet_schema::{DurationMs, Timestamp};
use printfleet_wire::frame::{DeviceChannel, KeyId, PortalChannel, SenderId, SessionKey};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::scram::{self, ClientFirst, ServerFirst};
use crate::secret::{
    DEFAULT_ITERATIONS, DecoyKey, DeviceSecret, KeyEpoch, SALT_BYTES, SecretError, Verifier, check_parameters,
};
use crate::{AuthError, FailureEvent, FailureReason};

/// How long a handshake may take from its first message to its last.
pub const DEFAULT_HANDSHAKE_TIMEOUT: DurationMs = DurationMs(30_000);

/// How long a session lasts from the end of its handshake: 24 hours. After that the device must
/// authenticate again, which is when a revocation that [`Session::recheck`] missed takes effect.
pub const DEFAULT_SESSION_LIFETIME: DurationMs = DurationMs(24 * 60 * 60 * 1000);

/// The sender id of `device`'s frames in session mode: the first 8 bytes, big-endian, of
/// `SHA-256("printfleet sender v1" || 0x00 || device name as UTF-8)` (docs/wire-format.md §5.7).
/// Both sides compute it from the authenticated name, so a device cannot send under another's id.
pub fn sender_id_of(device: &str) -> SenderId {
    const LABEL: &[u8] = b"printfleet sender v1";
    let mut input = Vec::with_capacity(LABEL.len().saturating_add(1).saturating_add(device.len()));
    input.extend_from_slice(LABEL);
    input.push(0);
    input.extend_from_slice(device.as_bytes());
    let digest = scram::sha256(&input);
    SenderId(digest.first_chunk::<8>().map_or(0, |b| u64::from_be_bytes(*b)))
}

/// Which end of the handshake a [`Session`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Device,
    Portal,
}

/// The result of a successful handshake, on either side. It turns into that side's channel
/// once ([`Session::into_device_channel`] on the device, [`Session::into_portal_channel`] on the
/// portal), which owns the session's per-direction keys and sequence numbers: there is no second
/// sealer to get, and so no sequence number to reuse.
///
/// A session ends at [`Session::expires_at`] (its channels refuse from then on); until then the
/// server should ask its store again, periodically or before each frame, whether the device and
/// epoch are still good, so that a revocation takes effect without waiting for the expiry:
/// [`Session::recheck`] before the conversion, and with [`Session::device`] and
/// [`Session::epoch`] kept beside the channel after it.
pub struct Session {
    device: String,
    epoch: u32,
    key: SessionKey,
    side: Side,
    expires_at: Timestamp,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("device", &self.device)
            .field("epoch", &self.epoch)
            .field("session_id", &self.key.key_id())
            .field("side", &self.side)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Derives the session's key and id from `ClientKey` (which only the device's secret
    /// yields, and which the server recovers while checking the proof) and the whole transcript
    /// (the AuthMessage, with both fresh nonces), for the authenticated device's sender id
    /// ([`SessionKey::derive`]: `HKDF-SHA256(salt = SHA-256(AuthMessage), ikm = ClientKey,
    /// info = "printfleet session v2")`, 36 bytes: the secret, then the session id).
    fn derive(device: String, epoch: u32, client_key: &[u8; 32], auth_message: &str, side: Side) -> Self {
        let key = SessionKey::derive(client_key, auth_message.as_bytes(), sender_id_of(&device));
        Self { device, epoch, key, side, expires_at: Timestamp::UNIX_EPOCH }
    }

    /// [`Session::derive`], then the expiry: `lifetime` after `now` (at the latest
    /// [`Timestamp::MAX`]). `derive` alone yields an already expired session, so that a path that
    /// forgets this fails closed.
    fn establish(
        device: String,
        epoch: u32,
        client_key: &[u8; 32],
        auth_message: &str,
        now: Timestamp,
        lifetime: DurationMs,
        side: Side,
    ) -> Self {
        let mut session = Self::derive(device, epoch, client_key, auth_message, side);
        session.expires_at = now.checked_add(lifetime).unwrap_or(Timestamp::MAX);
        session
    }

    /// The authenticated device name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The key epoch the device authenticated with.
    pub fn epoch(&self) -> KeyEpoch {
        KeyEpoch(self.epoch)
    }

    /// The sender id of the device's frames in this session, [`sender_id_of`] the authenticated
    /// device name: the server must open the device's frames as this sender and no other.
    pub fn sender_id(&self) -> SenderId {
        self.key.sender()
    }

    /// When the session ends: the end of its handshake plus the session lifetime
    /// ([`ServerConfig::session_lifetime`] on the server; on the device,
    /// [`ClientHandshake::with_session_lifetime`]'s, by default [`DEFAULT_SESSION_LIFETIME`]).
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Whether the session has ended at `now`: from [`Session::expires_at`] on, neither side may
    /// seal or accept its frames; the device runs a new handshake.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// Asks `store` again whether the device and key epoch of this session are still good. The
    /// server calls it periodically (at least as often as revocations must take effect) or before
    /// each frame it accepts, and ends the session on an error:
    /// [`FailureReason::Revoked`], [`FailureReason::UnknownDevice`] (the epoch is gone, for
    /// example after a rotation's overlap), or [`FailureReason::StoreUnavailable`] (fail closed:
    /// the caller decides whether to retry before it ends the session). Check
    /// [`Session::is_expired`] as well; this does not look at the clock.
    pub fn recheck(&self, store: &impl VerifierStore) -> Result<(), FailureReason> {
        match store.lookup(&self.device, KeyEpoch(self.epoch)) {
            Lookup::Found(_) => Ok(()),
            Lookup::Unknown => Err(FailureReason::UnknownDevice),
            Lookup::Revoked => Err(FailureReason::Revoked),
            Lookup::Unavailable => Err(FailureReason::StoreUnavailable),
        }
    }

    /// The session id, used as the key id of the session's frames.
    pub fn session_id(&self) -> KeyId {
        self.key.key_id()
    }

    /// The device's channel: seals the device's frames as [`Session::sender_id`], opens the
    /// portal's replies. `None` on the portal's session (the portal uses
    /// [`Session::into_portal_channel`]). Consumes the session: a session has one channel.
    pub fn into_device_channel(self) -> Option<DeviceChannel> {
        (self.side == Side::Device).then(|| DeviceChannel::session_until(self.key, self.expires_at))
    }

    /// The portal's channel: opens the device's frames (only as [`Session::sender_id`]) and
    /// seals replies to them. `None` on the device's session. Consumes the session.
    ///
    /// The channel ends with the session: it opens nothing from [`Session::expires_at`] on
    /// (`RejectReason::Expired`), and the device's end seals nothing from then on. Revocation is
    /// not the channel's to see: keep [`Session::device`] and [`Session::epoch`] (and the
    /// expiry) beside it and ask the verifier store again as often as revocations must take
    /// effect, as [`Session::recheck`] does before the conversion (`printfleet-ingest` does this
    /// for every frame of a session).
    pub fn into_portal_channel(self) -> Option<PortalChannel> {
        (self.side == Side::Portal).then(|| PortalChannel::session_until(self.key, self.expires_at))
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
    session_lifetime: DurationMs,
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
    expected_server_signature: Zeroizing<[u8; 32]>,
    client_key: Zeroizing<[u8; 32]>,
    auth_message: String,
    started: Timestamp,
    timeout: DurationMs,
    session_lifetime: DurationMs,
}

impl fmt::Debug for ClientAwaitingServerFinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAwaitingServerFinal").field("device", &self.device).finish_non_exhaustive()
    }
}

impl ClientHandshake {
    /// Starts a handshake for `device` with its secret of key epoch `epoch`. Returns the state and
    /// the client-first message to send.
    ///
    /// `device` is 1 to [`MAX_NAME_BYTES`](crate::MAX_NAME_BYTES) bytes without control
    /// characters (docs/wire-format.md §5.7); anything else is [`AuthError::Malformed`].
    pub fn start(
        device: &str,
        secret: &DeviceSecret,
        epoch: KeyEpoch,
        rng: &mut impl CryptoRng,
        now: Timestamp,
    ) -> Result<(Self, String), AuthError> {
        Self::start_with_nonce(device, secret, epoch.0, scram::new_nonce(rng), now)
    }

    pub(crate) fn start_with_nonce(
        device: &str,
        secret: &DeviceSecret,
        epoch: u32,
        nonce: String,
        now: Timestamp,
    ) -> Result<(Self, String), AuthError> {
        scram::check_name(device)?;
        let first = ClientFirst { name: device.to_owned(), nonce, epoch };
        let message = first.message();
        let state = Self {
            first,
            secret: secret.clone(),
            started: now,
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            session_lifetime: DEFAULT_SESSION_LIFETIME,
        };
        Ok((state, message))
    }

    /// The lifetime the portal grants its sessions ([`ServerConfig::session_lifetime`]), when it
    /// is not [`DEFAULT_SESSION_LIFETIME`]: the device's session, and the channel it becomes,
    /// end that long after the handshake. (A portal that ends a session earlier says so; a
    /// device that assumes less than the portal grants only handshakes again sooner.)
    #[must_use]
    pub fn with_session_lifetime(mut self, lifetime: DurationMs) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Handles the server-first message; returns the next state and the client-final message.
    ///
    /// Refuses ([`AuthError::Parameters`]) an iteration count outside
    /// [`MIN_ITERATIONS`](crate::MIN_ITERATIONS)..=[`MAX_ITERATIONS`](crate::MAX_ITERATIONS) or a
    /// salt outside [`MIN_SALT_BYTES`](crate::MIN_SALT_BYTES)..=[`MAX_SALT_BYTES`](crate::MAX_SALT_BYTES)
    /// before computing anything: a rogue server must neither get a proof that is cheap to attack
    /// offline nor make the device compute for minutes.
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
        if check_parameters(server.iterations, server.salt.len()).is_err() {
            return Err(AuthError::Parameters { iterations: server.iterations, salt_bytes: server.salt.len() });
        }
        // PBKDF2 once per (salt, iteration count): RFC 5802 §5.1's client-side cache, kept
        // inside the secret.
        let keys = self.secret.salted_keys(&server.salt, server.iterations);
        let client_key = keys.client_key.clone();
        let stored_key = Zeroizing::new(scram::sha256(&client_key[..]));
        let without_proof = scram::client_final_without_proof(&server.nonce);
        let auth_message = format!("{},{},{}", self.first.bare(), message, without_proof);
        let client_signature = scram::hmac_sha256(&stored_key[..], auth_message.as_bytes());
        let proof = scram::xor(&client_key, &client_signature);
        let server_key = &keys.server_key;
        let expected_server_signature = scram::hmac_sha256(&server_key[..], auth_message.as_bytes());
        let reply = format!("{without_proof},p={}", scram::encode(&proof[..]));
        Ok((
            ClientAwaitingServerFinal {
                device: self.first.name,
                epoch: self.first.epoch,
                expected_server_signature,
                client_key,
                auth_message,
                started: self.started,
                timeout: self.timeout,
                session_lifetime: self.session_lifetime,
            },
            reply,
        ))
    }
}

impl ClientAwaitingServerFinal {
    /// Handles the server-final message. Succeeds only if the server proved it holds the device's
    /// verifier: only then may the device send data.
    pub fn handle_server_final(self, message: &str, now: Timestamp) -> Result<Session, AuthError> {
        if !elapsed_ok(self.started, now, self.timeout) {
            return Err(AuthError::Timeout);
        }
        let signature = scram::parse_server_final(message)?;
        if !bool::from(signature[..].ct_eq(&self.expected_server_signature[..])) {
            return Err(AuthError::ServerNotAuthenticated);
        }
        Ok(Session::establish(
            self.device,
            self.epoch,
            &self.client_key,
            &self.auth_message,
            now,
            self.session_lifetime,
            Side::Device,
        ))
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
    /// The store cannot answer now (its database is down). The handshake fails with
    /// [`FailureReason::StoreUnavailable`] in the log but the same reply to the device as any
    /// other failure.
    Unavailable,
}

/// Where the server finds verifiers, and the revocation hook it consults (during the handshake
/// and in [`Session::recheck`]).
pub trait VerifierStore {
    /// The verifier of `device` for key epoch `epoch`, or why there is none.
    fn lookup(&self, device: &str, epoch: KeyEpoch) -> Lookup;
}

/// The server's settings. Every replica of a portal must use the same ones (above all the same
/// [`DecoyKey`]), or a prober could tell real devices from decoys by asking two replicas.
pub struct ServerConfig {
    decoy_key: DecoyKey,
    decoy_iterations: u32,
    decoy_salt_bytes: usize,
    timeout: DurationMs,
    session_lifetime: DurationMs,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("decoy_iterations", &self.decoy_iterations)
            .field("decoy_salt_bytes", &self.decoy_salt_bytes)
            .field("timeout", &self.timeout)
            .field("session_lifetime", &self.session_lifetime)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// A configuration with the deployment's persisted `decoy_key` and the defaults: decoys with
    /// [`DEFAULT_ITERATIONS`] and [`SALT_BYTES`] of salt (what [`Verifier::new`] uses),
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`] and [`DEFAULT_SESSION_LIFETIME`].
    pub fn new(decoy_key: DecoyKey) -> Self {
        Self {
            decoy_key,
            decoy_iterations: DEFAULT_ITERATIONS,
            decoy_salt_bytes: SALT_BYTES,
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            session_lifetime: DEFAULT_SESSION_LIFETIME,
        }
    }

    /// Decoy challenges with `iterations` and `salt_bytes` of salt: set them to those of the
    /// fleet's verifiers (if they were not made by [`Verifier::new`]), so that a decoy looks like
    /// a real device. The same bounds as for [`Verifier::with_salt`] apply.
    pub fn with_decoy_parameters(mut self, iterations: u32, salt_bytes: usize) -> Result<Self, SecretError> {
        check_parameters(iterations, salt_bytes)?;
        self.decoy_iterations = iterations;
        self.decoy_salt_bytes = salt_bytes;
        Ok(self)
    }

    /// How long a handshake may take.
    pub fn with_timeout(mut self, timeout: DurationMs) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a session lasts from the end of its handshake.
    pub fn with_session_lifetime(mut self, lifetime: DurationMs) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// The iteration count of decoy challenges.
    pub fn decoy_iterations(&self) -> u32 {
        self.decoy_iterations
    }

    /// The salt length of decoy challenges, in bytes.
    pub fn decoy_salt_bytes(&self) -> usize {
        self.decoy_salt_bytes
    }

    /// How long a handshake may take.
    pub fn timeout(&self) -> DurationMs {
        self.timeout
    }

    /// How long a session lasts from the end of its handshake.
    pub fn session_lifetime(&self) -> DurationMs {
        self.session_lifetime
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
    session_lifetime: DurationMs,
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
///
/// Send `reply` to the device when there is one, then end the exchange; log `event`.
#[derive(Debug, thiserror::Error)]
#[error("{event}")]
pub struct ServerFailure {
    /// What to send the device (`e=invalid-proof` or `e=other-error`), if anything.
    pub reply: Option<String>,
    /// What happened, for logs and rate limiting. Never send it.
    pub event: FailureEvent,
}

/// Handles a client-first message: looks the device up and returns the next state and the
/// server-first message. An unknown or revoked device (or one the store cannot look up now) gets a
/// decoy challenge and fails later, exactly like a wrong proof: the decoy's salt is stable
/// (derived from the [`DecoyKey`]), its parameters are the configured ones, and both paths
/// compute the same primitives.
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
    // The decoy is derived for every device, found or not, so that both paths do the same work.
    let decoy_salt = config.decoy_key.salt(&first.name, first.epoch, config.decoy_salt_bytes);
    let (verifier, why_not) = match store.lookup(&first.name, KeyEpoch(first.epoch)) {
        Lookup::Found(v) => (Some(v), FailureReason::WrongProof),
        Lookup::Unknown => (None, FailureReason::UnknownDevice),
        Lookup::Revoked => (None, FailureReason::Revoked),
        Lookup::Unavailable => (None, FailureReason::StoreUnavailable),
    };
    let (salt, iterations) = match &verifier {
        Some(v) => (v.salt.clone(), v.iterations),
        None => (decoy_salt, config.decoy_iterations),
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
            session_lifetime: config.session_lifetime,
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
        // The same work whether or not the device exists: a decoy verifier whose StoredKey no
        // ClientKey hashes to (finding it would take a SHA-256 preimage).
        let decoy = Verifier {
            salt: Vec::new(),
            iterations: DEFAULT_ITERATIONS,
            stored_key: Zeroizing::new([0x5a; 32]),
            server_key: Zeroizing::new([0; 32]),
        };
        let verifier = self.verifier.as_ref().unwrap_or(&decoy);
        let client_signature = scram::hmac_sha256(&verifier.stored_key[..], auth_message.as_bytes());
        let client_key = scram::xor(&proof, &client_signature);
        let matches = bool::from(scram::sha256(&client_key[..]).ct_eq(&verifier.stored_key[..]));
        if !matches || self.verifier.is_none() {
            return Err(fail(self.why_not, "e=invalid-proof"));
        }
        let server_signature = scram::hmac_sha256(&verifier.server_key[..], auth_message.as_bytes());
        let session = Session::establish(
            self.device,
            self.epoch,
            &client_key,
            &auth_message,
            now,
            self.session_lifetime,
            Side::Portal,
        );
        Ok((session, format!("v={}", scram::encode(&server_signature[..]))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `key = value` cases of a vector file (blank lines between cases, `#` comments).
    fn cases(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
        let mut out = vec![std::collections::BTreeMap::new()];
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if line.trim().is_empty() {
                if !out.last().unwrap().is_empty() {
                    out.push(Default::default());
                }
                continue;
            }
            let (k, v) = line.split_once(" = ").unwrap();
            out.last_mut().unwrap().insert(k.to_owned(), v.to_owned());
        }
        out.retain(|c| !c.is_empty());
        out
    }

    fn vector() -> std::collections::BTreeMap<String, String> {
        cases(include_str!("../testdata/rfc7677-scram-sha-256.txt")).remove(0)
    }

    fn hex32(text: &str) -> [u8; 32] {
        hex::decode(text).unwrap().try_into().unwrap()
    }

    struct One(Verifier);
    impl VerifierStore for One {
        fn lookup(&self, device: &str, _: KeyEpoch) -> Lookup {
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
        let store = One(Verifier::with_salt(&secret, salt, iterations).unwrap());
        let config = ServerConfig::new(DecoyKey::from_bytes([1; 32]));
        let server_nonce =
            v["server-first"].split(',').next().unwrap().trim_start_matches("r=rOprNGfwEbeRWgbNEkqO").to_owned();
        let (server, server_first) =
            server_start_with_nonce(&v["client-first"], &store, &config, server_nonce, now).unwrap();
        assert_eq!(server_first, v["server-first"]);
        let (server_session, server_final) = server.handle_client_final(&v["client-final"], now).unwrap();
        assert_eq!(server_final, v["server-final"]);
        assert_eq!(server_session.session_id(), client_session.session_id());
    }

    /// `testdata/scram-binary-secret.txt` (made by `make_vectors.py` with Python's hashlib): a
    /// 32-byte binary secret as the password, an escaped UTF-8 name, `k=7`, from both sides.
    #[test]
    fn binary_secret_exchange_matches_the_independent_vector() {
        let v = cases(include_str!("../testdata/scram-binary-secret.txt")).remove(0);
        let now = Timestamp::UNIX_EPOCH;
        let secret = DeviceSecret::from_bytes(&hex::decode(&v["secret"]).unwrap()).unwrap();
        let epoch: u32 = v["epoch"].parse().unwrap();
        let (client, first) =
            ClientHandshake::start_with_nonce(&v["device"], &secret, epoch, v["client-nonce"].clone(), now).unwrap();
        assert_eq!(first, v["client-first"]);
        let (client, client_final) = client.handle_server_first(&v["server-first"], now).unwrap();
        assert_eq!(client_final, v["client-final"]);
        assert_eq!(*client.client_key, hex32(&v["client-key"]), "ClientKey");

        let salt = hex::decode(&v["salt"]).unwrap();
        let verifier = Verifier::with_salt(&secret, salt, v["iterations"].parse().unwrap()).unwrap();
        let (_, _, stored_key, server_key) = verifier.to_parts();
        assert_eq!(*stored_key, hex32(&v["stored-key"]), "StoredKey");
        assert_eq!(*server_key, hex32(&v["server-key"]), "ServerKey");
        assert_eq!(
            *scram::salted_password(secret.bytes(), &verifier.salt, verifier.iterations),
            hex32(&v["salted-password"])
        );

        struct Only(Verifier, String, KeyEpoch);
        impl VerifierStore for Only {
            fn lookup(&self, device: &str, epoch: KeyEpoch) -> Lookup {
                if device == self.1 && epoch == self.2 { Lookup::Found(self.0.clone()) } else { Lookup::Unknown }
            }
        }
        let store = Only(verifier, v["device"].clone(), KeyEpoch(epoch));
        let config = ServerConfig::new(DecoyKey::from_bytes([1; 32]));
        let (server, server_first) =
            server_start_with_nonce(&first, &store, &config, v["server-nonce"].clone(), now).unwrap();
        assert_eq!(server_first, v["server-first"]);
        let (server_session, server_final) = server.handle_client_final(&client_final, now).unwrap();
        assert_eq!(server_final, v["server-final"]);
        let client_session = client.handle_server_final(&server_final, now).unwrap();
        assert_eq!(server_session.device(), v["device"]);
        assert_eq!(server_session.epoch(), KeyEpoch(epoch));
        assert_eq!(server_session.session_id(), client_session.session_id());
        // The session's key id, sender id and secret are the independent vector's: a frame sealed
        // under the vector's secret opens at the portal's end of the session.
        assert_eq!(format!("{:08x}", server_session.session_id().0), v["session-key-id"]);
        assert_eq!(format!("{:016x}", server_session.sender_id().0), v["sender-id"]);
        use printfleet_wire::frame::{CipherSuite, DeviceChannel, FrameKey, MessageKind};
        let key = FrameKey::from_array(
            &hex32(&v["session-secret"]),
            server_session.session_id(),
            CipherSuite::Aes128CbcHmacSha256,
        );
        let mut device = DeviceChannel::new(server_session.sender_id(), &key);
        let reservation = device.reserve_block(1);
        device.reservation_saved(reservation).unwrap();
        let mut frame = Vec::new();
        let mut rng = printfleet_wire::frame::OsRng::default();
        device.seal(MessageKind::Update, printfleet_wire::Codec::Json, b"{}", now, &mut rng, &mut frame).unwrap();
        let mut portal = server_session.into_portal_channel().unwrap();
        portal.open(&frame, &[MessageKind::Update], now, &mut Vec::new()).unwrap();
    }

    /// A store with one device, one revoked and one the store cannot look up.
    struct Fleet(Verifier);
    impl VerifierStore for Fleet {
        fn lookup(&self, device: &str, _: KeyEpoch) -> Lookup {
            match device {
                "known" => Lookup::Found(self.0.clone()),
                "revoked" => Lookup::Revoked,
                "down" => Lookup::Unavailable,
                _ => Lookup::Unknown,
            }
        }
    }

    /// Issue #12 finding 1: the server computes the same primitives, the same number of times,
    /// for a wrong proof from a known device as for an unknown, revoked or unlookupable one —
    /// in each step.
    #[test]
    fn every_failing_device_costs_the_server_the_same_primitives() {
        let now = Timestamp::UNIX_EPOCH;
        let secret = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
        let wrong = DeviceSecret::from_bytes(&[0x22; 32]).unwrap();
        let store = Fleet(Verifier::with_salt(&secret, vec![3; SALT_BYTES], DEFAULT_ITERATIONS).unwrap());
        let config = ServerConfig::new(DecoyKey::from_bytes([1; 32]));
        let mut costs = Vec::new();
        for (device, reason) in [
            ("known", FailureReason::WrongProof),
            ("unknown", FailureReason::UnknownDevice),
            ("revoked", FailureReason::Revoked),
            ("down", FailureReason::StoreUnavailable),
        ] {
            let (client, first) = ClientHandshake::start_with_nonce(device, &wrong, 1, "cn".into(), now).unwrap();
            scram::work::take();
            let (server, challenge) = server_start_with_nonce(&first, &store, &config, "sn".into(), now).unwrap();
            let start_cost = scram::work::take();
            let (_, proof) = client.handle_server_first(&challenge, now).unwrap();
            scram::work::take();
            let failure = server.handle_client_final(&proof, now).unwrap_err();
            let final_cost = scram::work::take();
            assert_eq!(failure.event.reason, reason);
            assert_eq!(failure.reply.as_deref(), Some("e=invalid-proof"), "{device}");
            costs.push((device, start_cost, final_cost));
        }
        let (_, start, fin) = costs[0];
        assert!(start.iter().chain(&fin).any(|n| *n > 0), "the counter counts: {costs:?}");
        for (device, s, f) in &costs {
            assert_eq!((*s, *f), (start, fin), "{device} costs differ from a wrong proof: {costs:?}");
        }
    }

    /// Issue #18: a device renewing its session under the same verifier runs PBKDF2 once (the
    /// keys are cached inside its secret, shared by clones); other parameters are computed
    /// afresh, and every handshake still succeeds against the portal's verifier.
    #[test]
    fn renewals_under_the_same_salt_run_pbkdf2_once() {
        let now = Timestamp::UNIX_EPOCH;
        let secret = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
        let config = ServerConfig::new(DecoyKey::from_bytes([1; 32]));
        let handshake = |secret: &DeviceSecret, store: &Fleet| {
            let (client, first) = ClientHandshake::start_with_nonce("known", secret, 1, "cn".into(), now).unwrap();
            let (server, challenge) = server_start_with_nonce(&first, store, &config, "sn".into(), now).unwrap();
            scram::work::take();
            let (client, proof) = client.handle_server_first(&challenge, now).unwrap();
            let pbkdf2 = scram::work::take()[3];
            let (server_session, server_final) = server.handle_client_final(&proof, now).unwrap();
            let client_session = client.handle_server_final(&server_final, now).unwrap();
            assert_eq!(client_session.session_id(), server_session.session_id());
            pbkdf2
        };
        let first = Fleet(Verifier::with_salt(&secret, vec![3; SALT_BYTES], DEFAULT_ITERATIONS).unwrap());
        assert_eq!(handshake(&secret, &first), 1, "the first handshake computes");
        assert_eq!(handshake(&secret, &first), 0, "a renewal does not");
        assert_eq!(handshake(&secret.clone(), &first), 0, "nor one with a clone of the secret");
        let resalted = Fleet(Verifier::with_salt(&secret, vec![4; SALT_BYTES], DEFAULT_ITERATIONS).unwrap());
        assert_eq!(handshake(&secret, &resalted), 1, "another salt is computed");
        let slower = Fleet(Verifier::with_salt(&secret, vec![4; SALT_BYTES], DEFAULT_ITERATIONS + 1).unwrap());
        assert_eq!(handshake(&secret, &slower), 1, "another iteration count is computed");
        assert_eq!(handshake(&secret, &slower), 0);
        // Another secret with the same bytes has its own cache.
        let twin = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
        assert_eq!(handshake(&twin, &slower), 1);
        // The cached keys are wiped on drop.
        fn wiped<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        let keys = secret.salted_keys(&[4; SALT_BYTES], DEFAULT_ITERATIONS);
        wiped(&keys.client_key);
        wiped(&keys.server_key);
    }

    /// Issue #12 finding 3: a rogue server's weak (or ruinous) PBKDF2 parameters are refused
    /// before the device computes anything.
    #[test]
    fn the_device_refuses_parameters_outside_the_floor_and_ceiling() {
        use crate::secret::{MAX_ITERATIONS, MAX_SALT_BYTES, MIN_ITERATIONS, MIN_SALT_BYTES};
        let now = Timestamp::UNIX_EPOCH;
        let secret = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
        let b64 = |n: usize| scram::encode(&vec![7u8; n]);
        for (salt_len, iterations, ok) in [
            (MIN_SALT_BYTES, MIN_ITERATIONS, true),
            (MAX_SALT_BYTES, MIN_ITERATIONS, true),
            (MIN_SALT_BYTES, MIN_ITERATIONS - 1, false),
            (MIN_SALT_BYTES, 1, false),
            (MIN_SALT_BYTES - 1, MIN_ITERATIONS, false),
            (1, MIN_ITERATIONS, false),
            (MAX_SALT_BYTES + 1, MIN_ITERATIONS, false),
            (MIN_SALT_BYTES, MAX_ITERATIONS + 1, false),
        ] {
            let (client, _) = ClientHandshake::start_with_nonce("d", &secret, 1, "cn".into(), now).unwrap();
            let challenge = format!("r=cnsn,s={},i={iterations}", b64(salt_len));
            scram::work::take();
            let result = client.handle_server_first(&challenge, now);
            let cost = scram::work::take();
            if ok {
                assert!(result.is_ok(), "{salt_len} {iterations}");
            } else {
                assert_eq!(
                    result.unwrap_err(),
                    AuthError::Parameters { iterations, salt_bytes: salt_len },
                    "{salt_len} {iterations}"
                );
                assert_eq!(cost, [0; 4], "nothing computed before refusing");
            }
        }
        // Verifiers obey the same bounds.
        assert!(Verifier::with_salt(&secret, vec![1; MIN_SALT_BYTES], MIN_ITERATIONS - 1).is_err());
        assert!(Verifier::with_salt(&secret, vec![1; MIN_SALT_BYTES - 1], MIN_ITERATIONS).is_err());
        assert!(Verifier::from_parts(vec![1; 16], 1, [0; 32], [0; 32]).is_err());
        assert!(Verifier::from_parts(vec![1; 1], 4096, [0; 32], [0; 32]).is_err());
        assert!(Verifier::from_parts(vec![1; 16], 4096, [0; 32], [0; 32]).is_ok());
    }

    /// Issue #12 finding 2: every intermediate key, signature and proof the handshake keeps or
    /// returns is wiped on drop, and so is the hash state inside HMAC (sha2's `zeroize`).
    #[test]
    fn key_material_is_zeroised_on_drop() {
        fn wiped<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        fn wiped_type<T: zeroize::ZeroizeOnDrop>() {}
        wiped_type::<sha2::Sha256>();
        let secret = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
        let salted = scram::salted_password(secret.bytes(), &[1; 16], 4096);
        wiped(&salted);
        wiped(&scram::client_key(&salted));
        wiped(&scram::server_key(&salted));
        wiped(&scram::hmac_sha256(b"k", b"m"));
        wiped(&scram::xor(&[1; 32], &[2; 32]));
        let verifier = Verifier::with_salt(&secret, vec![1; 16], 4096).unwrap();
        wiped(&verifier.stored_key);
        wiped(&verifier.server_key);
        let (_, _, stored, server) = verifier.to_parts();
        wiped(&stored);
        wiped(&server);
        let (_, proof, _) = scram::parse_client_final(&format!("c=biws,r=x,p={}", scram::encode(&[9; 32]))).unwrap();
        wiped(&proof);
        let (client, _) =
            ClientHandshake::start_with_nonce("d", &secret, 1, "cn".into(), Timestamp::UNIX_EPOCH).unwrap();
        let (client, _) = client
            .handle_server_first(&format!("r=cnsn,s={},i=4096", scram::encode(&[1; 16])), Timestamp::UNIX_EPOCH)
            .unwrap();
        wiped(&client.client_key);
        wiped(&client.expected_server_signature);
        wiped(&DecoyKey::from_bytes([1; 32]).to_bytes());
    }
}
