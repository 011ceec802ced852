//! Session mode: a SCRAM handshake against the registry, then updates over the session's
//! channel; a revocation ends the session at its next frame.

use printfleet_auth::{ClientHandshake, DecoyKey, ServerConfig, Verifier, server_start};
use printfleet_diff::sync::{Agent, Reply};
use printfleet_ingest::{IngestError, Refusal};
use printfleet_wire::frame::MessageKind;
use printfleet_wire::{Codec, protobuf};

use crate::*;

#[test]
fn a_session_carries_updates_until_the_device_is_revoked() {
    let mut rng = rng(11);
    let now = at(0);
    let secret = master().device_secret("collector-1", KeyEpoch(1));
    let mut ingest = Ingest::new(master());
    let mut rec = record("collector-1");
    rec.credentials[0].verifier = Some(Verifier::new(&secret, &mut rng));
    let sender = ingest.provision(rec).unwrap();

    // The handshake, the registry as the verifier store.
    let config = ServerConfig::new(DecoyKey::generate(&mut rng));
    let (client, m0) = ClientHandshake::start("collector-1", &secret, KeyEpoch(1), &mut rng, now).unwrap();
    let (server, m1) = server_start(&m0, ingest.registry(), &config, &mut rng, now).unwrap();
    let (client, m2) = client.handle_server_first(&m1, now).unwrap();
    let (server_session, m3) = server.handle_client_final(&m2, now).unwrap();
    let client_session = client.handle_server_final(&m3, now).unwrap();
    let handle = ingest.open_session(server_session, now).unwrap();
    let mut channel = client_session.into_device_channel().unwrap();

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
