//! Shared-secret device authentication for printfleet. The secret never crosses the network.
//!
//! Two modes, both sans-IO (the caller supplies time and randomness and moves the messages):
//!
//! * **Session mode** (SDS over XMPP: both ends present and authenticated before any data moves):
//!   a mutual SCRAM-SHA-256 handshake (RFC 5802, RFC 7677) — device hello, server challenge,
//!   device proof, server proof — after which both sides hold the same fresh session secret bound
//!   to the whole transcript, from which each direction derives its own frame keys. The device
//!   checks the server's proof before it sends any data. The server stores only a [`Verifier`].
//!   Each side turns its [`Session`] into its channel once
//!   ([`Session::into_device_channel`], [`Session::into_portal_channel`]).
//! * **One-shot mode** (Partner Link's direct connection: an HTTPS POST every few hours): each
//!   frame is sealed under a key derived from the device's secret and a key epoch
//!   ([`one_shot`]), so the portal rejects frames from anything but that device without a round
//!   trip. The portal's [`one_shot::Portal`] asks its store about the sender for every frame, so a
//!   revocation takes effect on the next one.
//!
//! ```
//! use printfleet_auth::{
//!     ClientHandshake, DecoyKey, DeviceSecret, KeyEpoch, Lookup, ServerConfig, Verifier, VerifierStore, server_start,
//! };
//! use printfleet_schema::Timestamp;
//! // The operating system's CSPRNG (getrandom's `SysRng` as a rand_core 0.10 `CryptoRng`).
//! // Never a seeded generator for real keys.
//! let mut rng = printfleet_wire::frame::OsRng::default();
//! let now = Timestamp::from_unix_millis(1_793_610_000_000)?;
//! # let send_to_device = |_reply: &str| {};
//!
//! // Provisioning: the device keeps the secret, the portal only the verifier.
//! let secret = DeviceSecret::random(&mut rng);
//! struct Store(Verifier);
//! impl VerifierStore for Store {
//!     fn lookup(&self, device: &str, epoch: KeyEpoch) -> Lookup {
//!         if device == "printer-17" && epoch == KeyEpoch(1) { Lookup::Found(self.0.clone()) } else { Lookup::Unknown }
//!     }
//! }
//! let store = Store(Verifier::new(&secret, &mut rng));
//! // Generated once for the deployment, persisted, and shared by every replica.
//! let decoy_key = DecoyKey::generate(&mut rng);
//! let config = ServerConfig::new(decoy_key);
//!
//! let (device, hello) = ClientHandshake::start("printer-17", &secret, KeyEpoch(1), &mut rng, now)?;
//! let (server, challenge) = server_start(&hello, &store, &config, &mut rng, now)?;
//! let (device, proof) = device.handle_server_first(&challenge, now)?;
//! let (server_session, server_proof) = match server.handle_client_final(&proof, now) {
//!     Ok(done) => done,
//!     Err(failure) => {
//!         // Tell the device (the same reply for every authentication failure), then log and
//!         // rate-limit on `failure.event`, which the device must never see.
//!         if let Some(reply) = &failure.reply {
//!             send_to_device(reply);
//!         }
//!         return Err(failure.into());
//!     }
//! };
//! let device_session = device.handle_server_final(&server_proof, now)?;
//!
//! assert_eq!(device_session.session_id(), server_session.session_id());
//! assert_eq!(server_session.device(), "printer-17");
//! // Frames of the session carry the sender id of the authenticated device, on both sides.
//! assert_eq!(server_session.sender_id(), device_session.sender_id());
//! assert!(!server_session.is_expired(now));
//! // Before accepting frames, the server checks the device is still good (revocation).
//! assert_eq!(server_session.recheck(&store), Ok(()));
//!
//! // Each side turns its session into its channel: per-direction keys, owned sequence numbers.
//! use printfleet_wire::{Codec, frame::MessageKind};
//! let mut device = device_session.into_device_channel().ok_or("not the device's session")?;
//! let mut portal = server_session.into_portal_channel().ok_or("not the portal's session")?;
//! let mut frame = Vec::new();
//! let sent = device.seal(MessageKind::Update, Codec::Protobuf, b"update", now, &mut rng, &mut frame)?;
//! let mut update = Vec::new();
//! portal.open(&frame, &[MessageKind::Update], now, &mut update)?;
//! let mut reply = Vec::new();
//! portal.seal_reply(&sent, Codec::Protobuf, b"ack", now, &mut rng, &mut reply)?;
//! device.open_reply(&reply, now, &mut Vec::new())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Threat model
//!
//! Protected:
//! * **Impersonation of a device**: passing as a device takes `ClientKey`, which only its secret
//!   yields; proofs are bound to fresh nonces from both sides.
//! * **Impersonation of the server**: the device accepts a session only after the server proves it
//!   holds the device's verifier (`ServerKey`), checked in constant time.
//! * **Replay**: a recorded handshake fails, because the server's nonce differs every time;
//!   one-shot frames carry sequence numbers and timestamps checked by the frame layer.
//! * **Alteration in transit (MITM)**: every message feeds the AuthMessage that both proofs and the
//!   session key cover; changing any byte makes a proof fail.
//! * **Theft of the server's database**: it holds verifiers, not secrets; a verifier alone cannot
//!   pass as the device, and the secret cannot be recovered from it (it is a SHA-256 of an HMAC of
//!   a PBKDF2 output). Devices cannot be enumerated: an unknown or revoked device gets a decoy
//!   challenge — with a salt that is stable across restarts and replicas (one persisted
//!   [`DecoyKey`]) and the fleet's parameters — and fails exactly like a wrong proof, with the
//!   same primitives computed.
//! * **A rogue server weakening the proof**: devices refuse PBKDF2 parameters below RFC 7677's
//!   floor ([`MIN_ITERATIONS`], [`MIN_SALT_BYTES`]) or above the ceiling.
//! * **Revocation**: a session expires ([`Session::expires_at`]), and [`Session::recheck`] ends
//!   it earlier when the store no longer vouches for the device and epoch.
//!
//! Not protected, and why:
//! * **No forward secrecy.** There is no Diffie-Hellman exchange: session keys derive from
//!   `ClientKey` and the transcript. Whoever learns a device's secret, or holds the stolen
//!   verifier *and* a recording of a handshake (which reveals `ClientKey`, as in all SCRAM), can
//!   derive that session's key and read its frames. Run it inside TLS (as SDS and Partner Link do)
//!   for forward secrecy.
//! * **A stolen verifier lets its holder pass as the server** to that device (SCRAM's property).
//! * **One-shot mode needs the secret on the portal** (or the fleet master key): frame keys derive
//!   from it, not from a verifier. Protect that store like the devices' secrets.
//! * **Key material in freed memory** is wiped where the crate holds it (secrets, verifiers,
//!   salted passwords, `ClientKey`, proofs, signatures, HMAC states), but copies the compiler
//!   makes on the stack, and the caller's own copies, are beyond its reach.
//! * **Denial of service**: failures are reported as [`FailureEvent`]s for the caller to
//!   rate-limit; the crate itself keeps no counters.
//!
//! # Crate features
//! * `fuzzing`: entry points for the fuzz targets; not a stable API.

mod scram;
mod secret;
mod session;

pub mod one_shot;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use scram::{MAX_MESSAGE_BYTES, MAX_NAME_BYTES, MAX_NONCE_BYTES};
pub use secret::{
    DEFAULT_ITERATIONS, DecoyKey, DeviceSecret, FleetMasterKey, KeyEpoch, MAX_ITERATIONS, MAX_SALT_BYTES,
    MIN_ITERATIONS, MIN_SALT_BYTES, SALT_BYTES, SecretError, Verifier,
};
pub use session::{
    ClientAwaitingServerFinal, ClientHandshake, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SESSION_LIFETIME, Lookup,
    ServerAwaitingClientFinal, ServerConfig, ServerFailure, Session, VerifierStore, sender_id_of, server_start,
};

/// Why a handshake step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A message that does not follow the syntax (RFC 5802 §7) or exceeds a limit.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// A feature printfleet does not use (channel binding, mandatory extensions).
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The server's nonce does not extend the device's.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// The server's proof is wrong: it does not hold this device's verifier. Send nothing.
    #[error("the server failed to authenticate")]
    ServerNotAuthenticated,
    /// The server chose PBKDF2 parameters outside the accepted range
    /// ([`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`], [`MIN_SALT_BYTES`]..=[`MAX_SALT_BYTES`]):
    /// a weak count would make the device's proof cheap to attack offline.
    #[error("server chose {iterations} iterations and a {salt_bytes}-byte salt, outside the accepted range")]
    Parameters {
        /// The iteration count offered.
        iterations: u32,
        /// The salt length offered, in bytes.
        salt_bytes: usize,
    },
    /// The peer answered with an error (`e=...`).
    #[error("the peer rejected the handshake")]
    Rejected,
    /// The handshake took longer than its timeout.
    #[error("handshake timed out")]
    Timeout,
}

/// Why the server refused a handshake — for logs and rate limiting only; the device is told
/// nothing more than `e=invalid-proof` (or `e=other-error` for malformed input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// A malformed or unsupported message.
    Malformed(AuthError),
    /// No such device or epoch.
    UnknownDevice,
    /// The device or epoch is revoked.
    Revoked,
    /// The verifier store could not answer ([`Lookup::Unavailable`]); the device got the same
    /// reply as for a wrong proof.
    StoreUnavailable,
    /// The proof is wrong: a wrong secret, or a message altered in transit.
    WrongProof,
    /// The client-final message carried another nonce (a replayed or spliced handshake).
    NonceMismatch,
    /// Too slow.
    Timeout,
}

/// A refused handshake, as the server's caller should log and rate-limit it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("handshake refused ({reason:?}) for {device:?}")]
pub struct FailureEvent {
    /// The device the peer claimed to be, once known.
    pub device: Option<String>,
    /// Why.
    pub reason: FailureReason,
}
