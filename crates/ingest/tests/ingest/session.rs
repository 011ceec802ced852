//! Session mode: a SCRAM handshake against the registry, then updates over the session's
//! channel; a revocation ends the session at its next frame.

use printfleet_auth::{ClientHandshake, DecoyKey, ServerConfig, Verifier, server_start};
use printfleet_diff::sync::{Agent, Reply};
use printfleet_ingest::{IngestError, Refusal};
use printfleet_wire::frame::MessageKind;
use printfleet_wire::{Codec, protobuf};

use crate::*;

/// A SCRAM handshake of `name` against the ingest's registry (the verifier store); the session
/// opened at the ingest, and the device's end of it.
fn handshake(
    ingest: &mut Ingest<FleetMasterKey>,
    name: &str,
    secret: &printfleet_auth::DeviceSecret,
    rng: &mut ChaCha20Rng,
    now: Timestamp,
) -> (printfleet_ingest::SessionHandle, printfleet_wire::frame::DeviceChannel) {
    let config = ServerConfig::new(DecoyKey::generate(rng));
    let (client, m0) = ClientHandshake::start(name, secret, KeyEpoch(1), rng, now).unwrap();
    let (server, m1) = server_start(&m0, ingest.registry(), &config, rng, now).unwrap();
    let (client, m2) = client.handle_server_first(&m1, now).unwrap();
    let (server_session, m3) = server.handle_client_final(&m2, now).unwrap();
    let client_session = client.handle_server_final(&m3, now).unwrap();
    let handle = ingest.open_session(server_session, now).unwrap();
    (handle, client_session.into_device_channel().unwrap())
}

#[test]
fn a_session_carries_updates_until_the_device_is_revoked() {
    let mut rng = rng(11);
    let now = at(0);
    let secret = master().device_secret("collector-1", KeyEpoch(1));
    let mut ingest = Ingest::new(master());
    let mut rec = record("collector-1");
    rec.credentials[0].verifier = Some(Verifier::new(&secret, &mut rng));
    let sender = ingest.provision(rec).unwrap();

    let (handle, mut channel) = handshake(&mut ingest, "collector-1", &secret, &mut rng, now);

    let mut agent = Agent::new(Instance(4));
    let policy = Redaction::drop_all();
    let send = |channel: &mut printfleet_wire::frame::DeviceChannel,
                agent: &mut Agent,
                state: &DeviceState,
                rng: &mut ChaCha20Rng| {
        let update = agent.update(&policy.apply_to(state.clone()));
        let mut payload = Vec::new();
        protobuf::encode_update(&update, &mut payload).unwrap();
        let mut frame = Vec::new();
        channel.seal(MessageKind::Update, Codec::Protobuf, &payload, now, rng, &mut frame).unwrap();
        frame
    };
    let state = DeviceState::from(&reading());
    let frame = send(&mut channel, &mut agent, &state, &mut rng);
    let batch = ingest.receive_session(handle, &frame, now).unwrap();
    assert_eq!(batch.writes().state.as_deref(), Some(&policy.apply_to(state.clone()).into_inner()));
    assert_eq!(batch.writes().window, None, "a session's window is not stored");
    let reply_frame = ingest.commit(batch, now, &mut rng).unwrap();
    let mut payload = Vec::new();
    channel.open_reply(&reply_frame, now, &mut payload).unwrap();
    let reply = protobuf::decode_reply(&payload).unwrap();
    assert!(matches!(reply, Reply::Ack { .. }));
    agent.on_reply(&reply);
    // The same frame again is a replay within the session.
    assert!(matches!(ingest.receive_session(handle, &frame, now), Err(IngestError::Rejected(Refusal::Frame(_)))));

    // Revoked: the next frame is refused and the session is closed.
    ingest.revoke(sender).unwrap();
    let frame = send(&mut channel, &mut agent, &state, &mut rng);
    assert!(matches!(ingest.receive_session(handle, &frame, now), Err(IngestError::Rejected(Refusal::Revoked))));
    assert_eq!(ingest.sessions(), 0);
    assert!(matches!(ingest.receive_session(handle, &frame, now), Err(IngestError::SessionClosed)));
}

/// Bundles (wire format §5.9): on a collector's own session, each entry is applied like its
/// device's own frame if the device is the collector's; the others are refused one by one and
/// answered with nothing, in the bundle's order; an aborted bundle leaves nothing applied.
#[test]
fn a_collector_session_carries_bundles_of_its_own_devices_only() {
    use printfleet_wire::frame::{DeviceChannel, FrameHeader};
    let mut rng = rng(12);
    let now = at(0);
    let mut ingest = Ingest::new(master());
    let secret = master().device_secret("site-1", KeyEpoch(1));
    let mut site = record("site-1");
    site.credentials[0].verifier = Some(Verifier::new(&secret, &mut rng));
    let collector = ingest.provision(site).unwrap();
    let mut mine = |name: &str, collector| {
        let mut r = record(name);
        r.collector = collector;
        ingest.provision(r).unwrap()
    };
    let p1 = mine("p-1", Some(collector));
    let p2 = mine("p-2", Some(collector));
    let p3 = mine("p-3", None);
    let p4 = mine("p-4", Some(collector));
    ingest.revoke(p4).unwrap();
    let ghost = printfleet_auth::sender_id_of("ghost");

    let (handle, mut channel) = handshake(&mut ingest, "site-1", &secret, &mut rng, now);

    let state = Redaction::drop_all().apply_to(DeviceState::from(&reading()));
    let mut agents: std::collections::BTreeMap<_, _> =
        [p1, p2, p3, p4, ghost].into_iter().map(|d| (d, Agent::new(Instance(d.0 as u32)))).collect();
    let mut updates = |devices: &[_]| -> Vec<(SenderId, Vec<u8>)> {
        devices
            .iter()
            .map(|d| {
                let update = agents.get_mut(d).unwrap().update(&state);
                let mut payload = Vec::new();
                protobuf::encode_update(&update, &mut payload).unwrap();
                (*d, payload)
            })
            .collect()
    };
    let mut seal_rng = crate::rng(13);
    let mut seal = |channel: &mut DeviceChannel, entries: &[(SenderId, Vec<u8>)], kind| {
        let mut bundle = Vec::new();
        for (d, payload) in entries {
            protobuf::encode_bundle_entry(*d, payload, &mut bundle);
        }
        if kind == MessageKind::Update {
            bundle = entries[0].1.clone();
        }
        let mut frame = Vec::new();
        channel.seal(kind, Codec::Protobuf, &bundle, now, &mut seal_rng, &mut frame).unwrap();
        frame
    };
    let frame = seal(&mut channel, &updates(&[p1, p3, p2, p4, ghost]), MessageKind::Bundle);
    // Not a frame of one device's session.
    assert!(matches!(
        ingest.receive_session(handle, &frame, now),
        Err(IngestError::Rejected(Refusal::Frame(printfleet_wire::frame::RejectReason::UnexpectedKind)))
    ));
    let bundle = ingest.receive_bundle(handle, &frame, now).unwrap();
    assert_eq!((bundle.entries(), bundle.refused(), bundle.collector()), (5, 3, collector));
    assert_eq!(bundle.batches().iter().map(|b| b.device()).collect::<Vec<_>>(), vec![p1, p2]);
    assert!(bundle.batches().iter().all(|b| b.writes().state.is_some() && b.writes().window.is_none()));
    for reason in [Refusal::NotItsCollector, Refusal::Revoked, Refusal::Unknown] {
        assert_eq!(ingest.counters().refused(reason), 1, "{reason:?}");
    }
    let reply = ingest.commit_bundle(bundle, now, &mut rng).unwrap();
    assert_eq!(FrameHeader::peek(&reply).unwrap().kind, MessageKind::BundleReply);
    let mut payload = Vec::new();
    channel.open_reply(&reply, now, &mut payload).unwrap();
    let answers = protobuf::decode_bundle_reply(&payload).unwrap();
    let acked: Vec<bool> = answers.iter().map(|a| matches!(a, Some(Reply::Ack { .. }))).collect();
    assert_eq!(acked, [true, false, true, false, false]);
    // The same bundle again is a replay within the session.
    assert!(matches!(ingest.receive_bundle(handle, &frame, now), Err(IngestError::Rejected(Refusal::Frame(_)))));

    // Aborted (the store failed): nothing stays applied, and the same updates in the next
    // bundle are applied, not taken for duplicates.
    let next = updates(&[p1, p2]);
    let frame = seal(&mut channel, &next, MessageKind::Bundle);
    let bundle = ingest.receive_bundle(handle, &frame, now).unwrap();
    assert_eq!(bundle.batches().len(), 2);
    ingest.abort_bundle(bundle).unwrap();
    assert_eq!(ingest.in_flight(), 0);
    let frame = seal(&mut channel, &next, MessageKind::Bundle);
    let bundle = ingest.receive_bundle(handle, &frame, now).unwrap();
    assert_eq!(bundle.refused(), 0);
    assert!(bundle.batches().iter().all(|b| b.writes().state.is_some()), "applied again after the abort");
    ingest.commit_bundle(bundle, now, &mut rng).unwrap();
    // p-2 moved to another collector: this one's entries for it are refused from then on.
    ingest.set_collector(p2, Some(ghost)).unwrap();
    let before = ingest.counters().refused(Refusal::NotItsCollector);
    let frame = seal(&mut channel, &updates(&[p1, p2]), MessageKind::Bundle);
    let bundle = ingest.receive_bundle(handle, &frame, now).unwrap();
    assert_eq!(bundle.batches().iter().map(|b| b.device()).collect::<Vec<_>>(), vec![p1]);
    assert_eq!(ingest.counters().refused(Refusal::NotItsCollector), before + 1);
    ingest.commit_bundle(bundle, now, &mut rng).unwrap();
    // An update is not a bundle.
    let frame = seal(&mut channel, &updates(&[p1]), MessageKind::Update);
    assert!(matches!(ingest.receive_bundle(handle, &frame, now), Err(IngestError::Rejected(Refusal::Frame(_)))));
}

/// One credential holds at most `MAX_SESSIONS_PER_DEVICE` sessions: a further handshake closes
/// its oldest (whose next frame is refused as closed), never another device's.
#[test]
fn a_device_holds_a_few_sessions_and_loses_its_oldest_beyond() {
    let mut rng = rng(12);
    let now = at(0);
    let mut ingest = Ingest::new(master());
    let mut secrets = Vec::new();
    for name in ["busy", "other"] {
        let secret = master().device_secret(name, KeyEpoch(1));
        let mut rec = record(name);
        rec.credentials[0].verifier = Some(Verifier::new(&secret, &mut rng));
        ingest.provision(rec).unwrap();
        secrets.push(secret);
    }
    let (other, _) = handshake(&mut ingest, "other", &secrets[1], &mut rng, now);
    let mut busy = Vec::new();
    for _ in 0..printfleet_ingest::MAX_SESSIONS_PER_DEVICE + 2 {
        busy.push(handshake(&mut ingest, "busy", &secrets[0], &mut rng, now));
    }
    assert_eq!(ingest.sessions(), 1 + printfleet_ingest::MAX_SESSIONS_PER_DEVICE);
    // The two oldest of "busy" are closed; the newest and the other device's are open.
    assert!(!ingest.close_session(busy[0].0) && !ingest.close_session(busy[1].0));
    assert!(ingest.close_session(busy[2].0));
    assert!(ingest.close_session(other));
}
