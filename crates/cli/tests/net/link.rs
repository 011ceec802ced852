//! `SessionLink` against the test portal.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use printfleet_agent::{DeviceAgent, Event, Schedule};
use printfleet_auth::{KeyEpoch, one_shot, sender_id_of};
use printfleet_cli::client::{ClientError, LinkReply, OneShotClient, PortalTrust, SessionLink};
use printfleet_cli::collect::Clock;
use printfleet_diff::sync::Instance;
use printfleet_schema::{Redaction, Timestamp, samples};
use printfleet_wire::frame::OsRng;
use printfleet_wire::link::{LinkError, MAX_MESSAGE_BYTES};

use crate::server::{Protocol, TestPortal, pki, secret_of};

/// An agent of `name` (one-shot key of epoch 1) with a reading: its next frame is a boot report.
pub fn agent_with_reading(name: &str, now: Timestamp) -> DeviceAgent {
    let key = one_shot::frame_key(&secret_of(name), name, KeyEpoch(1));
    let schedule = Schedule::collector(printfleet_agent::COLLECTOR_INTERVAL).unwrap();
    let mut agent = DeviceAgent::new(sender_id_of(name), &key, Redaction::drop_all(), schedule, Instance(7));
    let mut report = samples::office_laser();
    report.events.print_jobs.clear();
    agent.handle_reading(now, report);
    agent.handle_job(now, samples::large_format(1).events.print_jobs.remove(0));
    agent
}

/// Saves (in memory) whenever asked and returns the frame due.
pub fn next_frame(agent: &mut DeviceAgent, now: Timestamp) -> Vec<u8> {
    let mut rng = OsRng::default();
    for _ in 0..8 {
        if agent.needs_save() {
            let cp = agent.save();
            agent.saved(cp).unwrap();
        }
        if let Some(t) = agent.poll_transmit(now, &mut rng) {
            return t.frame;
        }
    }
    panic!("no frame due");
}

fn acknowledged(agent: &mut DeviceAgent) -> bool {
    std::iter::from_fn(|| agent.poll_event()).any(|e| matches!(e, Event::Acknowledged { .. }))
}

#[test]
fn three_devices_handshake_and_report_over_one_pipelined_connection() {
    let pki = pki();
    let names = ["printer-a", "printer-b", "printer-c"];
    let portal = TestPortal::start(&pki, Protocol::Link, &names, Clock::real());
    let trust = PortalTrust::from_ca_pem(&pki.ca_pem).unwrap();
    let mut link = SessionLink::connect(portal.addr, "localhost", &trust).unwrap();
    let now = Clock::real().now();
    let mut rng = OsRng::default();

    // Three provisioned devices and one the portal does not know, all at once.
    let mut devices: Vec<_> = names.iter().map(|n| (n.to_string(), secret_of(n), KeyEpoch(1))).collect();
    devices.push(("stranger".into(), secret_of("stranger"), KeyEpoch(1)));
    let opened = link.open_sessions(&devices, now, &mut rng).unwrap();
    assert_eq!(opened.len(), 4);
    assert!(matches!(opened[3], Err(ClientError::Handshake(_) | ClientError::ChannelClosed)), "{:?}", opened[3]);
    assert_eq!(link.open_channels(), 3);

    let mut agents = Vec::new();
    let mut channels = Vec::new();
    for (name, open) in names.iter().zip(opened) {
        let open = open.unwrap();
        assert_eq!(open.session.device(), *name);
        let mut agent = agent_with_reading(name, now);
        agent.attach_session(open.session.into_device_channel().unwrap()).unwrap();
        channels.push(open.channel);
        agents.push(agent);
    }
    assert_eq!(channels.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "one channel each");

    // Every device's frame in one write; the replies come back in order, each opens for its agent.
    let frames: Vec<(u32, Vec<u8>)> =
        channels.iter().zip(agents.iter_mut()).map(|(c, a)| (*c, next_frame(a, now))).collect();
    let replies = link.exchange(&frames).unwrap();
    assert_eq!(replies.len(), 3);
    for (agent, reply) in agents.iter_mut().zip(&replies) {
        let LinkReply::Reply(frame) = reply else { panic!("{reply:?}") };
        agent.handle_frame(now, frame);
        assert!(acknowledged(agent), "each reply belongs to its own device, in order");
    }
    assert_eq!(portal.connections.load(std::sync::atomic::Ordering::Relaxed), 1, "one connection for all");
    portal.with(|s| {
        assert_eq!(s.stored.batches.len(), 3);
        assert_eq!(s.stored.jobs.values().map(|j| j.len()).sum::<usize>(), 3);
    });

    // A frame the portal refuses is Rejected and the channel stays open; a revoked device's
    // session is closed: its next frame is Closed, and so is any frame on a closed channel.
    let garbage = (channels[0], vec![0xA5; 64]);
    let b_sender = sender_id_of("printer-b");
    portal.with(|s| s.ingest.revoke(b_sender).unwrap());
    let b1 = (channels[1], vec![0x5A; 64]);
    let b2 = (channels[1], vec![0x5A; 64]);
    let replies = link.exchange(&[garbage, b1, b2]).unwrap();
    assert_eq!(replies, vec![LinkReply::Rejected, LinkReply::Rejected, LinkReply::Closed]);
    assert!(link.is_open(channels[0]));
    assert!(!link.is_open(channels[1]));
    assert_eq!(link.exchange(&[(channels[1], vec![1; 8])]).unwrap(), vec![LinkReply::Closed]);
    // More frames than are sent unanswered at once: sent in windows, answered all, in order.
    let many: Vec<(u32, Vec<u8>)> = (0..2 * printfleet_cli::client::EXCHANGE_WINDOW + 3)
        .map(|i| (if i % 100 == 50 { channels[1] } else { channels[0] }, vec![0xA5; 64]))
        .collect();
    let replies = link.exchange(&many).unwrap();
    assert_eq!(replies.len(), many.len());
    for ((channel, _), reply) in many.iter().zip(&replies) {
        let expected = if *channel == channels[1] { LinkReply::Closed } else { LinkReply::Rejected };
        assert_eq!(*reply, expected);
    }
    // The link still carries the others.
    let later = Timestamp::from_unix_millis(now.unix_millis() + 4 * 3_600_000).unwrap();
    let frame = next_frame(&mut agents[2], later);
    let replies = link.exchange(&[(channels[2], frame)]).unwrap();
    assert!(matches!(replies[0], LinkReply::Reply(_)), "{replies:?}");
}

#[test]
fn a_portal_certificate_from_another_ca_or_for_another_name_is_refused() {
    let pki = pki();
    let other = pki_other();
    let portal = TestPortal::start(&pki, Protocol::Link, &["p"], Clock::real());
    let wrong = PortalTrust::from_ca_pem(&other).unwrap();
    let err = SessionLink::connect(portal.addr, "localhost", &wrong).unwrap_err();
    assert!(matches!(err, ClientError::Certificate(_)), "{err:?}");
    assert!(err.to_string().contains("certificate was refused"), "{err}");
    let right = PortalTrust::from_ca_pem(&pki.ca_pem).unwrap();
    let err = SessionLink::connect(portal.addr, "portal.example", &right).unwrap_err();
    assert!(matches!(err, ClientError::Certificate(_)), "{err:?}");
    // The same over HTTPS.
    let https = TestPortal::start(&pki, Protocol::Https, &["p"], Clock::real());
    let client = OneShotClient::new(&format!("https://127.0.0.1:{}", https.addr.port()), &wrong, None).unwrap();
    let err = client.post_frame(b"frame").unwrap_err();
    assert!(matches!(err, ClientError::Certificate(_)), "{err:?}");
    // Text that is not a certificate is no trust at all.
    assert!(matches!(PortalTrust::from_ca_pem("not a pem"), Err(ClientError::Ca { .. })));
}

fn pki_other() -> String {
    pki().ca_pem
}

#[test]
fn an_oversized_length_prefix_from_the_portal_ends_the_link_at_once() {
    let pki = pki();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Arc::clone(&pki.config);
    let server = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), socket);
        let mut buf = [0u8; 4096];
        let _ = tls.read(&mut buf).unwrap(); // the Hellos
        // A prefix announcing 4 GiB, then a few bytes: the client must not wait for (or
        // allocate) the rest.
        tls.write_all(&u32::MAX.to_be_bytes()).unwrap();
        tls.write_all(&[0x02, 0, 0, 0, 1]).unwrap();
        tls.flush().unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    let trust = PortalTrust::from_ca_pem(&pki.ca_pem).unwrap();
    let mut link = SessionLink::connect(addr, "localhost", &trust).unwrap();
    let started = Instant::now();
    let devices = [("p".to_string(), secret_of("p"), KeyEpoch(1))];
    let err = link.open_sessions(&devices, Clock::real().now(), &mut OsRng::default()).unwrap_err();
    assert!(matches!(err, ClientError::Link(LinkError::TooLarge)), "{err:?}");
    assert!(err.is_connection_lost());
    assert!(started.elapsed() < Duration::from_secs(1), "refused at the prefix, not after a timeout");
    assert!((u32::MAX as usize) > MAX_MESSAGE_BYTES);
    server.join().unwrap();
}
