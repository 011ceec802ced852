//! Session mode over the link: a SCRAM client (`printfleet_auth::ClientHandshake`) over a rustls
//! client stream for several devices on one connection, handshakes and frames pipelined,
//! replies in order.

use std::io::{Read, Write};

use printfleet_auth::{ClientHandshake, KeyEpoch};
use printfleet_diff::DeviceState;
use printfleet_diff::sync::{Agent, Instance, Reply};
use printfleet_store::SqliteStore;
use printfleet_wire::frame::{DeviceChannel, MessageKind, OsRng};
use printfleet_wire::link::{LinkReader, Message, MessageType};
use printfleet_wire::{Codec, protobuf};

use crate::*;

/// A blocking link client for the tests.
pub(crate) struct Link {
    pub(crate) stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    reader: LinkReader,
}

impl Link {
    pub(crate) fn connect(portal: &Portal) -> Self {
        Self { stream: portal.tls(portal.tcp), reader: LinkReader::new() }
    }

    pub(crate) fn write(&mut self, messages: &[(MessageType, u32, Vec<u8>)]) {
        let mut out = Vec::new();
        for (kind, channel, body) in messages {
            Message { kind: *kind, channel: *channel, body }.encode(&mut out).unwrap();
        }
        self.stream.write_all(&out).unwrap();
        self.stream.flush().unwrap();
    }

    /// The next message (bounded by the stream's read timeout).
    pub(crate) fn read(&mut self) -> (MessageType, u32, Vec<u8>) {
        let mut buf = [0u8; 16 * 1024];
        for _ in 0..10_000 {
            if let Some(m) = self.reader.next_message().unwrap() {
                return (m.kind, m.channel, m.body.to_vec());
            }
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "the portal closed the link");
            self.reader.extend(&buf[..n]);
        }
        panic!("no message");
    }

    /// Opens one channel per device, the handshakes pipelined; the device channels.
    pub(crate) fn open(&mut self, devices: &[(&str, &DeviceSecret, u32)]) -> Vec<DeviceChannel> {
        let mut rng = OsRng::default();
        let now = wall();
        let mut clients = Vec::new();
        let mut hellos = Vec::new();
        for (name, secret, channel) in devices {
            let (client, hello) = ClientHandshake::start(name, secret, KeyEpoch(1), &mut rng, now).unwrap();
            clients.push(client);
            hellos.push((MessageType::Hello, *channel, hello.into_bytes()));
        }
        self.write(&hellos);
        let mut finals = Vec::new();
        let mut waiting = Vec::new();
        for ((client, (_, _, channel)), _) in clients.into_iter().zip(devices).zip(0..) {
            let (kind, got, body) = self.read();
            assert_eq!((kind, got), (MessageType::ServerFirst, *channel), "challenges come in order");
            let (client, proof) = client.handle_server_first(std::str::from_utf8(&body).unwrap(), now).unwrap();
            finals.push((MessageType::ClientFinal, *channel, proof.into_bytes()));
            waiting.push(client);
        }
        self.write(&finals);
        let mut channels = Vec::new();
        for (client, (_, _, channel)) in waiting.into_iter().zip(devices) {
            let (kind, got, body) = self.read();
            assert_eq!((kind, got), (MessageType::ServerFinal, *channel));
            let session = client.handle_server_final(std::str::from_utf8(&body).unwrap(), now).unwrap();
            channels.push(session.into_device_channel().unwrap());
        }
        channels
    }
}

/// Seals an update of `state` for the session.
fn frame(channel: &mut DeviceChannel, agent: &mut Agent, state: &DeviceState) -> Vec<u8> {
    let update = agent.update(&Redaction::drop_all().apply_to(state.clone()));
    let mut payload = Vec::new();
    protobuf::encode_update(&update, &mut payload).unwrap();
    let mut frame = Vec::new();
    channel.seal(MessageKind::Update, Codec::Protobuf, &payload, wall(), &mut OsRng::default(), &mut frame).unwrap();
    frame
}

#[test]
fn many_devices_share_one_link_with_pipelined_handshakes_and_frames() {
    let home = Home::new();
    let portal = home.start(&[]);
    let names = ["link-a", "link-b", "link-c"];
    let devices: Vec<(SenderId, DeviceSecret)> = names.iter().map(|n| home.add_device(n)).collect();
    let mut link = Link::connect(&portal);
    let spec: Vec<(&str, &DeviceSecret, u32)> =
        names.iter().zip(&devices).zip([7u32, 9, 1000]).map(|((n, (_, s)), c)| (*n, s, c)).collect();
    let mut channels = link.open(&spec);
    assert_eq!(portal.metric("printfleet_sessions_open"), 3);

    // Three frames per device, all written before any reply is read.
    let mut agents: Vec<Agent> = (0..3).map(|i| Agent::new(Instance(i + 1))).collect();
    let mut states = Vec::new();
    let mut messages = Vec::new();
    for round in 0..3u64 {
        for (i, (_, _, channel)) in spec.iter().enumerate() {
            let mut r = reading();
            r.snapshot.meters.0.insert(printfleet_schema::MeterKind::TOTAL, 1000 + round * 10 + i as u64);
            let state = DeviceState::from(&r);
            messages.push((MessageType::Frame, *channel, frame(&mut channels[i], &mut agents[i], &state)));
            if round == 2 {
                states.push(state);
            }
        }
    }
    link.write(&messages);
    for (kind, channel, _) in &messages {
        assert_eq!(*kind, MessageType::Frame);
        let (got, on, body) = link.read();
        assert_eq!((got, on), (MessageType::Reply, *channel), "replies in the order of the frames");
        let i = spec.iter().position(|(_, _, c)| c == channel).unwrap();
        let mut payload = Vec::new();
        channels[i].open_reply(&body, wall(), &mut payload).unwrap();
        let reply = protobuf::decode_reply(&payload).unwrap();
        assert!(matches!(reply, Reply::Ack { .. }), "{reply:?}");
        agents[i].on_reply(&reply);
    }
    // A frame on a channel that is not open: Closed for that channel; the link stays up.
    link.write(&[(MessageType::Frame, 55, b"junk".to_vec())]);
    assert_eq!(link.read(), (MessageType::Closed, 55, Vec::new()));
    // A forged frame on an open channel: Rejected, and the channel stays open.
    link.write(&[(MessageType::Frame, 7, vec![0u8; 100])]);
    assert_eq!(link.read(), (MessageType::Rejected, 7, Vec::new()));
    // Closing one channel closes its session.
    link.write(&[(MessageType::Closed, 9, Vec::new())]);
    link.write(&[(MessageType::Frame, 9, b"late".to_vec())]);
    assert_eq!(link.read(), (MessageType::Closed, 9, Vec::new()));
    assert_eq!(portal.metric("printfleet_sessions_open"), 2);
    assert_eq!(portal.metric("printfleet_frames_accepted_total"), 9);
    drop(link);
    // The connection's end closes the rest (bounded wait).
    let mut open = u64::MAX;
    for _ in 0..100 {
        open = portal.metric("printfleet_sessions_open");
        if open == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open, 0);
    assert!(portal.stop().success());
    let store = SqliteStore::open(home.db_path()).unwrap();
    for ((sender, _), state) in devices.iter().zip(&states) {
        let stored = store.device_state(*sender).unwrap().unwrap();
        assert_eq!(stored, Redaction::drop_all().apply_to(state.clone()).into_inner());
    }
}

#[test]
fn a_wrong_secret_gets_closed_and_nothing_else() {
    let home = Home::new();
    let portal = home.start(&[]);
    home.add_device("link-x");
    let wrong = DeviceSecret::from_bytes(&[7u8; 32]).unwrap();
    let mut link = Link::connect(&portal);
    let now = wall();
    let (client, hello) = ClientHandshake::start("link-x", &wrong, KeyEpoch(1), &mut OsRng::default(), now).unwrap();
    link.write(&[(MessageType::Hello, 1, hello.into_bytes())]);
    let (kind, _, body) = link.read();
    assert_eq!(kind, MessageType::ServerFirst);
    let (_, proof) = client.handle_server_first(std::str::from_utf8(&body).unwrap(), now).unwrap();
    link.write(&[(MessageType::ClientFinal, 1, proof.into_bytes())]);
    assert_eq!(link.read(), (MessageType::Closed, 1, Vec::new()));
    assert_eq!(portal.metric("printfleet_handshakes_failed_total"), 1);
    assert_eq!(portal.metric("printfleet_sessions_open"), 0);
}

#[test]
fn handshakes_in_progress_on_one_connection_are_capped() {
    use printfleet_cli::portal::MAX_HANDSHAKES_PER_CONNECTION;
    let home = Home::new();
    let (_, known) = home.add_device("printer-1");
    let portal = home.start(&[]);
    let mut link = Link::connect(&portal);
    // A proof checked first (before it, far fewer handshakes run at once: door.rs).
    link.open(&[("printer-1", &known, 100_000)]);
    let secret = DeviceSecret::from_bytes(&[1u8; 32]).unwrap();
    let now = wall();
    let hellos: Vec<_> = (0..=MAX_HANDSHAKES_PER_CONNECTION as u32)
        .map(|c| {
            let (_, hello) =
                ClientHandshake::start("nobody", &secret, KeyEpoch(1), &mut OsRng::default(), now).unwrap();
            (MessageType::Hello, c, hello.into_bytes())
        })
        .collect();
    link.write(&hellos);
    let mut closed = Vec::new();
    for _ in 0..hellos.len() {
        let (kind, channel, _) = link.read();
        if kind == MessageType::Closed {
            closed.push(channel);
        } else {
            // An unknown device gets a decoy challenge, like a real one.
            assert_eq!(kind, MessageType::ServerFirst);
        }
    }
    assert_eq!(closed, vec![MAX_HANDSHAKES_PER_CONNECTION as u32]);
}
