//! Session mode: the mutual handshake, every way it can go wrong.

use base64::Engine as _;
use printfleet_auth::{
    AuthError, ClientHandshake, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SESSION_LIFETIME, DecoyKey, DeviceSecret,
    FailureReason, KeyEpoch, Lookup, MIN_ITERATIONS, SecretError, ServerConfig, Session, Verifier, VerifierStore,
    sender_id_of, server_start,
};
use printfleet_schema::samples;
use printfleet_schema::{DurationMs, Timestamp};
use printfleet_wire::Codec;
use printfleet_wire::frame::{MessageKind, RejectReason, SealError, SenderId};

use super::{Rng, t};

/// A portal's store: (device, epoch) -> verifier, with revocation and an outage switch.
#[derive(Default)]
struct Store {
    entries: Vec<(String, u32, Verifier)>,
    revoked: Vec<String>,
    down: bool,
}

impl VerifierStore for Store {
    fn lookup(&self, device: &str, KeyEpoch(epoch): KeyEpoch) -> Lookup {
        if self.down {
            return Lookup::Unavailable;
        }
        if self.revoked.iter().any(|d| d == device) {
            return Lookup::Revoked;
        }
        self.entries
            .iter()
            .find(|(d, e, _)| d == device && *e == epoch)
            .map_or(Lookup::Unknown, |(_, _, v)| Lookup::Found(v.clone()))
    }
}

/// The fewest iterations devices accept, to keep the exhaustive tests fast.
fn verifier(secret: &DeviceSecret, seed: u8) -> Verifier {
    Verifier::with_salt(secret, vec![seed; 16], MIN_ITERATIONS).unwrap()
}

/// The deployment's persisted decoy key.
fn decoy_key() -> DecoyKey {
    DecoyKey::from_bytes([0x99; 32])
}

struct World {
    secret: DeviceSecret,
    store: Store,
    config: ServerConfig,
}

fn world() -> World {
    let secret = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
    let store = Store { entries: vec![("printer-17".into(), 1, verifier(&secret, 1))], ..Store::default() };
    World { secret, store, config: ServerConfig::new(decoy_key()) }
}

/// The four messages of a handshake, with what each side concluded.
struct Outcome {
    messages: Vec<String>,
    server: Result<Session, FailureReason>,
    client: Result<Session, AuthError>,
    server_reply: Option<String>,
}

/// Runs a handshake, letting `tamper(i, msg)` rewrite message `i` (0..4) in transit, and
/// `clock(i)` give the time at which message `i` is handled.
fn handshake(
    w: &World,
    device: &str,
    secret: &DeviceSecret,
    epoch: u32,
    seed: u64,
    tamper: impl Fn(usize, String) -> String,
    clock: impl Fn(usize) -> u64,
) -> Outcome {
    let mut rng = Rng(seed);
    let mut messages = Vec::new();
    let (client, m0) = ClientHandshake::start(device, secret, KeyEpoch(epoch), &mut rng, t(clock(0))).unwrap();
    let m0 = tamper(0, m0);
    messages.push(m0.clone());
    let fail = |reason, reply, messages| Outcome {
        messages,
        server: Err(reason),
        client: Err(AuthError::Rejected),
        server_reply: reply,
    };
    let (server, m1) = match server_start(&m0, &w.store, &w.config, &mut rng, t(clock(1))) {
        Ok(x) => x,
        Err(f) => return fail(f.event.reason, f.reply, messages),
    };
    let m1 = tamper(1, m1);
    messages.push(m1.clone());
    let (client, m2) = match client.handle_server_first(&m1, t(clock(1))) {
        Ok(x) => x,
        Err(e) => {
            return Outcome { messages, server: Err(FailureReason::Malformed(e)), client: Err(e), server_reply: None };
        }
    };
    let m2 = tamper(2, m2);
    messages.push(m2.clone());
    let (server_session, m3) = match server.handle_client_final(&m2, t(clock(2))) {
        Ok(x) => x,
        Err(f) => {
            let reply = f.reply.clone().unwrap();
            messages.push(reply.clone());
            let client = client.handle_server_final(&reply, t(clock(3)));
            return Outcome { messages, server: Err(f.event.reason), client, server_reply: Some(reply) };
        }
    };
    let m3 = tamper(3, m3);
    messages.push(m3.clone());
    let client = client.handle_server_final(&m3, t(clock(3)));
    Outcome { messages, server: Ok(server_session), client, server_reply: None }
}

fn plain(w: &World, device: &str, secret: &DeviceSecret, epoch: u32, seed: u64) -> Outcome {
    handshake(w, device, secret, epoch, seed, |_, m| m, |i| i as u64 * 100)
}

#[test]
fn success_gives_both_sides_the_same_fresh_session() {
    let w = world();
    let a = plain(&w, "printer-17", &w.secret, 1, 1);
    let (server, client) = (a.server.unwrap(), a.client.unwrap());
    assert_eq!(server.session_id(), client.session_id());
    assert_eq!((server.device(), server.epoch()), ("printer-17", KeyEpoch(1)));
    // Frames sealed by the device open at the portal, and the portal's replies at the device.
    let report = samples::office_laser();
    let payload = Codec::Protobuf.encode_to_vec(&report).unwrap();
    let sender = server.sender_id();
    let (b_server, b_client) = {
        let b = plain(&w, "printer-17", &w.secret, 1, 2);
        (b.server.unwrap(), b.client.unwrap())
    };
    assert_ne!(b_server.session_id(), server.session_id());
    // Each side gets only its own channel.
    let mut device = client.into_device_channel().unwrap();
    let mut portal = server.into_portal_channel().unwrap();
    assert!(b_client.into_portal_channel().is_none());
    let mut frame = Vec::new();
    let h = device.seal(MessageKind::Report, Codec::Protobuf, &payload, t(500), &mut Rng(5), &mut frame).unwrap();
    assert_eq!(h.sender_id, sender);
    let mut out = Vec::new();
    portal.open(&frame, &[MessageKind::Report], t(600), &mut out).unwrap();
    assert_eq!(Codec::Protobuf.decode(&out).unwrap(), report);
    let mut reply = Vec::new();
    portal.seal_reply(&h, Codec::Protobuf, b"ack", t(600), &mut Rng(6), &mut reply).unwrap();
    let mut answer = Vec::new();
    device.open_reply(&reply, t(700), &mut answer).unwrap();
    assert_eq!(answer, b"ack");
    // Reflected back to the portal, the reply does not open: each direction has its own keys.
    let all = [MessageKind::Report, MessageKind::Update, MessageKind::Reply];
    assert!(portal.open(&reply, &all, t(700), &mut Vec::new()).is_err());
    // A second handshake makes another key: the first session's frames do not open in it.
    let mut other = b_server.into_portal_channel().unwrap();
    assert!(other.open(&frame, &all, t(600), &mut Vec::new()).is_err());
}

/// Each end of a session's channel ends with the session: the device seals nothing from its
/// expiry on, the portal opens nothing (a frame sealed just before, arriving after, included),
/// and a reply to a frame opened before still goes both ways. Before, the channels outlived
/// their session for as long as the caller kept them.
#[test]
fn the_channels_end_with_their_session() {
    let w = world();
    let a = plain(&w, "printer-17", &w.secret, 1, 11);
    let (server, client) = (a.server.unwrap(), a.client.unwrap());
    // Each side's expiry runs from its own clock's end of the handshake: the later one here.
    let expires = server.expires_at().max(client.expires_at());
    let (device_expires, portal_expires) = (client.expires_at(), server.expires_at());
    let mut device = client.into_device_channel().unwrap();
    let mut portal = server.into_portal_channel().unwrap();
    assert_eq!((device.expires_at(), portal.expires_at()), (Some(device_expires), Some(portal_expires)));
    let just_before = |at: Timestamp| Timestamp::from_unix_millis(at.unix_millis() - 1).unwrap();
    let just_before = just_before(device_expires.min(portal_expires));
    let all = [MessageKind::Report, MessageKind::Update];
    let mut opened = Vec::new();
    let h = device.seal(MessageKind::Update, Codec::Protobuf, b"u1", just_before, &mut Rng(7), &mut opened).unwrap();
    let request = portal.open(&opened, &all, just_before, &mut Vec::new()).unwrap();
    let mut late = Vec::new();
    device.seal(MessageKind::Update, Codec::Protobuf, b"u2", just_before, &mut Rng(8), &mut late).unwrap();
    assert_eq!(
        device.seal(MessageKind::Update, Codec::Protobuf, b"u3", device_expires, &mut Rng(9), &mut Vec::new()),
        Err(SealError::Expired)
    );
    // Refused from the portal's expiry on, to the millisecond.
    assert_eq!(portal.open(&late, &all, portal_expires, &mut Vec::new()).unwrap_err().reason(), RejectReason::Expired);
    assert_eq!(portal.open(&late, &all, expires, &mut Vec::new()).unwrap_err().reason(), RejectReason::Expired);
    let mut reply = Vec::new();
    portal.seal_reply(&request, Codec::Protobuf, b"ack", expires, &mut Rng(10), &mut reply).unwrap();
    assert_eq!(device.open_reply(&reply, expires, &mut Vec::new()).unwrap().sequence, h.sequence);
}

#[test]
fn a_wrong_device_secret_fails_at_the_server() {
    let w = world();
    let wrong = DeviceSecret::from_bytes(&[0x22; 32]).unwrap();
    let o = plain(&w, "printer-17", &wrong, 1, 3);
    assert_eq!(o.server.unwrap_err(), FailureReason::WrongProof);
    assert_eq!(o.server_reply.as_deref(), Some("e=invalid-proof"));
    assert_eq!(o.client.unwrap_err(), AuthError::Rejected);
}

#[test]
fn a_server_without_the_right_verifier_cannot_pass_as_the_portal() {
    let w = world();
    // A server that holds another secret's verifier can neither verify the device...
    let impostor = World {
        secret: DeviceSecret::from_bytes(&[0x33; 32]).unwrap(),
        store: Store {
            entries: vec![("printer-17".into(), 1, verifier(&DeviceSecret::from_bytes(&[0x33; 32]).unwrap(), 1))],
            ..Store::default()
        },
        config: ServerConfig::new(DecoyKey::from_bytes([7; 32])),
    };
    let o = plain(&impostor, "printer-17", &w.secret, 1, 4);
    assert_eq!(o.server.unwrap_err(), FailureReason::WrongProof);
    // ...nor fake its proof: a server-final from another handshake is refused by the device.
    let good = plain(&w, "printer-17", &w.secret, 1, 5);
    let forged = good.messages[3].clone();
    let mut rng = Rng(6);
    let (client, m0) = ClientHandshake::start("printer-17", &w.secret, KeyEpoch(1), &mut rng, t(0)).unwrap();
    let (_, m1) = server_start(&m0, &w.store, &w.config, &mut rng, t(0)).unwrap();
    let (client, _) = client.handle_server_first(&m1, t(0)).unwrap();
    assert_eq!(client.handle_server_final(&forged, t(0)).unwrap_err(), AuthError::ServerNotAuthenticated);
}

#[test]
fn unknown_and_revoked_devices_fail_exactly_like_a_wrong_proof() {
    let mut w = world();
    let wrong = DeviceSecret::from_bytes(&[0x22; 32]).unwrap();
    let wrong_proof = plain(&w, "printer-17", &wrong, 1, 8);
    let unknown = plain(&w, "printer-99", &w.secret, 1, 8);
    assert_eq!(unknown.server.as_ref().unwrap_err(), &FailureReason::UnknownDevice);
    w.store.revoked.push("printer-17".into());
    let revoked = plain(&w, "printer-17", &w.secret, 1, 8);
    assert_eq!(revoked.server.as_ref().unwrap_err(), &FailureReason::Revoked);
    for o in [&unknown, &revoked] {
        assert_eq!(o.server_reply, wrong_proof.server_reply, "the reply must not tell them apart");
        // The challenge has the same shape: salt of the same length, the same iteration count.
        let shape = |m: &str| m.split(',').map(|p| (p.as_bytes()[0], p.len())).skip(1).collect::<Vec<_>>();
        let known = plain(&world(), "printer-17", &w.secret, 1, 8);
        assert_eq!(shape(&o.messages[1]).len(), shape(&known.messages[1]).len());
        assert_eq!(o.messages[1].rsplit(',').next(), Some("i=4096"), "decoys use the default count");
    }
    // The decoy salt is stable, so probing twice shows nothing either.
    let again = plain(&w, "printer-99", &w.secret, 1, 9);
    let salt = |o: &Outcome| o.messages[1].split(',').nth(1).unwrap().to_owned();
    assert_eq!(salt(&unknown), salt(&again));
}

#[test]
fn a_replayed_handshake_fails() {
    let w = world();
    let recorded = plain(&w, "printer-17", &w.secret, 1, 10);
    assert!(recorded.server.is_ok());
    // The attacker replays the device's messages; the server's nonce is new, so the proof is stale.
    let mut rng = Rng(11);
    let (server, _) = server_start(&recorded.messages[0], &w.store, &w.config, &mut rng, t(0)).unwrap();
    let failure = server.handle_client_final(&recorded.messages[2], t(0)).unwrap_err();
    assert_eq!(failure.event.reason, FailureReason::NonceMismatch);
}

#[test]
fn a_man_in_the_middle_changing_any_single_byte_breaks_the_handshake() {
    let w = world();
    let clean = plain(&w, "printer-17", &w.secret, 1, 12);
    assert!(clean.server.is_ok() && clean.client.is_ok());
    let mut cases = 0;
    for (i, message) in clean.messages.iter().enumerate() {
        for at in 0..message.len() {
            for flip in [0x01u8, 0x20] {
                let tampered = |j: usize, m: String| {
                    if j != i {
                        return m;
                    }
                    let mut bytes = m.into_bytes();
                    bytes[at] ^= flip;
                    String::from_utf8(bytes).unwrap_or_default()
                };
                let o = handshake(&w, "printer-17", &w.secret, 1, 12, tampered, |k| k as u64);
                assert!(
                    !(o.server.is_ok() && o.client.is_ok()),
                    "message {i} byte {at} ^ {flip:#x}: both sides still agreed"
                );
                cases += 1;
            }
        }
    }
    assert!(cases > 400, "{cases}");
}

#[test]
fn slow_handshakes_time_out_on_both_sides() {
    let w = world();
    let limit = DEFAULT_HANDSHAKE_TIMEOUT.0;
    let slow_client = handshake(&w, "printer-17", &w.secret, 1, 13, |_, m| m, |i| if i == 2 { limit + 1 } else { 0 });
    assert_eq!(slow_client.server.unwrap_err(), FailureReason::Timeout);
    let slow_server = handshake(&w, "printer-17", &w.secret, 1, 14, |_, m| m, |i| if i == 3 { limit + 1 } else { 0 });
    assert_eq!(slow_server.client.unwrap_err(), AuthError::Timeout);
    let just_in_time = handshake(&w, "printer-17", &w.secret, 1, 15, |_, m| m, |i| if i >= 2 { limit } else { 0 });
    assert!(just_in_time.server.is_ok() && just_in_time.client.is_ok());
}

#[test]
fn rotation_accepts_both_epochs_during_the_overlap_and_only_the_new_one_after() {
    let old = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
    let new = DeviceSecret::from_bytes(&[0x44; 32]).unwrap();
    let mut w = world();
    w.store.entries.push(("printer-17".into(), 2, verifier(&new, 2)));
    assert!(plain(&w, "printer-17", &old, 1, 16).server.is_ok(), "old epoch during the overlap");
    assert!(plain(&w, "printer-17", &new, 2, 17).server.is_ok(), "new epoch");
    assert!(plain(&w, "printer-17", &old, 2, 18).server.is_err(), "old secret under the new epoch");
    w.store.entries.retain(|(_, e, _)| *e != 1);
    assert_eq!(plain(&w, "printer-17", &old, 1, 19).server.unwrap_err(), FailureReason::UnknownDevice);
    assert!(plain(&w, "printer-17", &new, 2, 20).server.is_ok());
}

#[test]
fn no_message_carries_the_secret_the_verifier_or_a_key() {
    let w = world();
    let o = plain(&w, "printer-17", &w.secret, 1, 21);
    let (salt, _, stored, server_key) = verifier(&w.secret, 1).to_parts();
    let b64 = base64::engine::general_purpose::STANDARD;
    let transcript = o.messages.join("\n");
    // The derived keys, recomputed here independently from RFC 5802 and docs/wire-format.md §5.7.
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Digest;
    let hmac = |key: &[u8], data: &[u8]| -> [u8; 32] {
        let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().into()
    };
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&[0x11; 32], &salt, MIN_ITERATIONS, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    assert_eq!(sha2::Sha256::digest(client_key).as_slice(), &stored[..], "recomputation matches the verifier");
    let bare = o.messages[0].strip_prefix("n,,").unwrap();
    let without_proof = o.messages[2].rsplit_once(",p=").unwrap().0;
    let auth_message = format!("{bare},{},{without_proof}", o.messages[1]);
    let mut session = [0u8; 36];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&sha2::Sha256::digest(auth_message.as_bytes())), &client_key)
        .expand(b"printfleet session v2", &mut session)
        .unwrap();
    let server_session = o.server.as_ref().unwrap();
    assert_eq!(
        server_session.session_id().0,
        u32::from_be_bytes(session[32..].try_into().unwrap()),
        "recomputed session id"
    );
    for secret_bytes in [&[0x11u8; 32][..], &stored[..], &server_key[..], &salted[..], &client_key[..], &session[..32]]
    {
        for needle in [b64.encode(secret_bytes), hex::encode(secret_bytes)] {
            assert!(!transcript.contains(&needle), "{needle} leaked");
        }
        assert!(!transcript.as_bytes().windows(16).any(|w| secret_bytes.windows(16).any(|s| s == w)));
    }
    assert!(transcript.contains(&b64.encode(&salt)), "the salt is public, and must be there");
}

#[test]
fn out_of_order_and_repeated_messages_are_refused() {
    let w = world();
    let clean = plain(&w, "printer-17", &w.secret, 1, 22);
    let mut rng = Rng(23);
    // A client-final where a client-first belongs.
    assert!(server_start(&clean.messages[2], &w.store, &w.config, &mut rng, t(0)).is_err());
    // A client-first where the client-final belongs.
    let (server, _) = server_start(&clean.messages[0], &w.store, &w.config, &mut rng, t(0)).unwrap();
    assert!(server.handle_client_final(&clean.messages[0], t(0)).is_err());
    // The device refuses a server-final where the server-first belongs, and garbage.
    let (client, _) = ClientHandshake::start("printer-17", &w.secret, KeyEpoch(1), &mut rng, t(0)).unwrap();
    assert!(client.handle_server_first(&clean.messages[3], t(0)).is_err());
    let (client, _) = ClientHandshake::start("printer-17", &w.secret, KeyEpoch(1), &mut rng, t(0)).unwrap();
    assert!(client.handle_server_first("r=,s=,i=", t(0)).is_err());
}

/// The salt attribute of a server-first message.
fn salt_of(server_first: &str) -> String {
    server_first.split(',').find_map(|p| p.strip_prefix("s=")).unwrap().to_owned()
}

/// Issue #12 finding 1: a decoy's challenge is as stable as a real device's across a restart and
/// between replicas that share the persisted decoy key, and it has the fleet's parameters.
#[test]
fn decoys_are_stable_across_restarts_and_replicas_and_match_the_fleets_parameters() {
    let w = world();
    let first = plain(&w, "printer-99", &w.secret, 1, 30);
    // A restart, or a second replica: a new config from the persisted bytes.
    let persisted = decoy_key().to_bytes();
    let replica = World {
        secret: w.secret.clone(),
        store: Store { entries: w.store.entries.clone(), ..Store::default() },
        config: ServerConfig::new(DecoyKey::from_bytes(*persisted)),
    };
    let real_before = plain(&w, "printer-17", &w.secret, 1, 31);
    for seed in [32, 33] {
        assert_eq!(
            salt_of(&plain(&replica, "printer-99", &w.secret, 1, seed).messages[1]),
            salt_of(&first.messages[1])
        );
        let real = plain(&replica, "printer-17", &w.secret, 1, seed);
        assert_eq!(salt_of(&real.messages[1]), salt_of(&real_before.messages[1]));
    }
    // Another epoch or another name is another (stable) decoy salt.
    assert_ne!(salt_of(&plain(&w, "printer-99", &w.secret, 2, 34).messages[1]), salt_of(&first.messages[1]));
    assert_ne!(salt_of(&plain(&w, "printer-98", &w.secret, 1, 34).messages[1]), salt_of(&first.messages[1]));

    // A fleet whose verifiers use 5000 iterations and 24-byte salts: decoys follow the config.
    let secret = w.secret.clone();
    let fleet = World {
        store: Store {
            entries: vec![("printer-17".into(), 1, Verifier::with_salt(&secret, vec![5; 24], 5000).unwrap())],
            ..Store::default()
        },
        config: ServerConfig::new(decoy_key()).with_decoy_parameters(5000, 24).unwrap(),
        secret,
    };
    let shape = |m: &str| {
        let salt = base64::engine::general_purpose::STANDARD.decode(salt_of(m)).unwrap();
        (salt.len(), m.rsplit(',').next().unwrap().to_owned())
    };
    let real = plain(&fleet, "printer-17", &fleet.secret, 1, 35);
    let decoy = plain(&fleet, "printer-99", &fleet.secret, 1, 35);
    assert_eq!(shape(&real.messages[1]), (24, "i=5000".to_owned()));
    assert_eq!(shape(&decoy.messages[1]), shape(&real.messages[1]));
    assert_eq!(decoy.server.unwrap_err(), FailureReason::UnknownDevice);
    // The config refuses decoy parameters no device would accept.
    assert_eq!(
        ServerConfig::new(decoy_key()).with_decoy_parameters(MIN_ITERATIONS - 1, 16).unwrap_err(),
        SecretError::Iterations { iterations: MIN_ITERATIONS - 1 }
    );
    assert_eq!(format!("{:?}", decoy_key()), "DecoyKey(<redacted>)");
}

/// Issue #12 finding 6: a store that is down fails the handshake with its own reason for the
/// log, and the very same reply to the device as a wrong proof.
#[test]
fn an_unavailable_store_is_logged_as_such_but_looks_like_a_wrong_proof() {
    let mut w = world();
    let wrong = DeviceSecret::from_bytes(&[0x22; 32]).unwrap();
    let wrong_proof = plain(&w, "printer-17", &wrong, 1, 40);
    w.store.down = true;
    let down = plain(&w, "printer-17", &w.secret, 1, 40);
    assert_eq!(down.server.unwrap_err(), FailureReason::StoreUnavailable);
    assert_eq!(down.server_reply, wrong_proof.server_reply);
    assert_eq!(down.server_reply.as_deref(), Some("e=invalid-proof"));
    assert_eq!(down.client.unwrap_err(), AuthError::Rejected);
}

/// Issue #12 finding 4: sessions end, and a revocation ends a live one at the next recheck.
#[test]
fn sessions_expire_and_a_recheck_sees_revocation_removal_and_outage() {
    let mut w = world();
    let o = plain(&w, "printer-17", &w.secret, 1, 50);
    let (server, client) = (o.server.unwrap(), o.client.unwrap());
    // The server finished its handshake at t(200), the device at t(300) (see `plain`).
    assert_eq!(server.expires_at(), t(200 + DEFAULT_SESSION_LIFETIME.0));
    assert_eq!(client.expires_at(), t(300 + DEFAULT_SESSION_LIFETIME.0));
    assert!(!server.is_expired(t(200 + DEFAULT_SESSION_LIFETIME.0 - 1)));
    assert!(server.is_expired(t(200 + DEFAULT_SESSION_LIFETIME.0)));
    assert_eq!(DEFAULT_SESSION_LIFETIME, DurationMs(24 * 3600 * 1000));

    // A configured lifetime.
    w.config = ServerConfig::new(decoy_key()).with_session_lifetime(DurationMs(60_000));
    assert_eq!(w.config.session_lifetime(), DurationMs(60_000));
    let short = plain(&w, "printer-17", &w.secret, 1, 51).server.unwrap();
    assert_eq!(short.expires_at(), t(60_200));
    assert!(short.is_expired(t(60_200)) && !short.is_expired(t(60_199)));

    // Recheck: fine now; then revoked, then the epoch removed, then the store down.
    assert_eq!(server.recheck(&w.store), Ok(()));
    w.store.revoked.push("printer-17".into());
    assert_eq!(server.recheck(&w.store), Err(FailureReason::Revoked));
    w.store.revoked.clear();
    w.store.entries.clear();
    assert_eq!(server.recheck(&w.store), Err(FailureReason::UnknownDevice));
    w.store.down = true;
    assert_eq!(server.recheck(&w.store), Err(FailureReason::StoreUnavailable));
}

/// Issue #12 finding 5: the sender id is the authenticated device's, on both sides.
#[test]
fn the_sender_id_is_derived_from_the_authenticated_device_name() {
    let mut w = world();
    let other = DeviceSecret::from_bytes(&[0x55; 32]).unwrap();
    w.store.entries.push(("printer-18".into(), 1, verifier(&other, 2)));
    let a = plain(&w, "printer-17", &w.secret, 1, 60);
    let b = plain(&w, "printer-18", &other, 1, 61);
    let (a_server, a_client, b_client) = (a.server.unwrap(), a.client.unwrap(), b.client.unwrap());
    assert_eq!(a_server.sender_id(), sender_id_of("printer-17"));
    assert_eq!(a_client.sender_id(), a_server.sender_id());
    assert_ne!(b_client.sender_id(), a_server.sender_id());
    // docs/wire-format.md §5.7's worked example.
    assert_eq!(sender_id_of("printer-17"), SenderId(0x396f_ba7f_a8d2_938d));
}

#[test]
fn device_names_with_control_characters_are_refused_on_both_sides() {
    let w = world();
    for bad in ["printer\u{0}17", "printer\n17", "", &"x".repeat(256)] {
        let started = ClientHandshake::start(bad, &w.secret, KeyEpoch(1), &mut Rng(70), t(0));
        assert!(matches!(started, Err(AuthError::Malformed(_))), "{bad:?}");
    }
    // A forged client-first with a NUL in the name: the server refuses it as malformed.
    let failure = server_start("n,,n=a\u{0}b,r=abc,k=1", &w.store, &w.config, &mut Rng(71), t(0)).unwrap_err();
    assert!(matches!(failure.event.reason, FailureReason::Malformed(_)));
    assert_eq!(failure.reply.as_deref(), Some("e=other-error"));
}

#[test]
fn failures_and_secrets_have_typed_errors() {
    let w = world();
    let failure = server_start("garbage", &w.store, &w.config, &mut Rng(80), t(0)).unwrap_err();
    let reply = failure.reply.clone();
    let error: Box<dyn std::error::Error + Send + Sync> = Box::new(failure);
    assert!(error.to_string().contains("Malformed"), "{error}");
    assert_eq!(reply.as_deref(), Some("e=other-error"));
    assert_eq!(DeviceSecret::from_bytes(&[1; 15]).unwrap_err(), SecretError::TooShort { len: 15, min: 16 });
    assert_eq!(DeviceSecret::from_bytes(&[1; 65]).unwrap_err(), SecretError::TooLong { len: 65, max: 64 });
    assert!(DeviceSecret::from_bytes(&[1; 16]).is_ok() && DeviceSecret::from_bytes(&[1; 64]).is_ok());
}
