//! Bad input at the door: an oversized Content-Length, an oversized link length prefix, a
//! slow-loris client, a silent TLS client, a garbage flood beside a good device, and clients that
//! do not trust the portal's CA.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use printfleet_wire::link::{MAX_MESSAGE_BYTES, Message, MessageType};

use crate::*;

#[test]
fn a_content_length_above_the_limit_is_refused_at_once() {
    let home = Home::new();
    let portal = home.start(&[]);
    let mut s = portal.tls(portal.https);
    let started = Instant::now();
    let head = format!(
        "POST /v1/frames HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        MAX_MESSAGE_BYTES + 1
    );
    assert!(send(&mut s, head.as_bytes()));
    // No body is sent: the answer comes from the header alone, well before the 10 s timeout.
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 413");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A chunked body (no Content-Length) is cut at the limit while it streams.
    let mut s = portal.tls(portal.https);
    let head = "POST /v1/frames HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut body = format!("{:x}\r\n", MAX_MESSAGE_BYTES + 1).into_bytes();
    body.extend(std::iter::repeat_n(0u8, MAX_MESSAGE_BYTES + 1));
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    assert!(send(&mut s, head.as_bytes()));
    let _ = send(&mut s, &body);
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 413");
}

#[test]
fn a_link_length_prefix_above_the_limit_closes_the_connection() {
    let home = Home::new();
    let portal = home.start(&[]);
    let mut s = portal.tls(portal.tcp);
    assert!(send(&mut s, &[0xFF, 0xFF, 0xFF, 0xFF, 0x05, 0, 0, 0, 1]));
    assert!(closed_by_peer(&mut s), "the link stayed open");
    assert_eq!(portal.metric("printfleet_link_errors_total"), 1);
}

#[test]
fn a_peer_without_credentials_is_held_to_handshake_sized_messages() {
    let home = Home::new();
    let portal = home.start(&[]);
    let (_, secret) = home.add_device("printer-1");
    let frame = vec![0xAB; 64 * 1024];
    // Before any proof: a frame-sized message closes the connection as soon as its head arrives.
    let mut s = portal.tls(portal.tcp);
    let mut head = u32::try_from(frame.len() + 5).unwrap().to_be_bytes().to_vec();
    head.extend_from_slice(&[MessageType::Frame.to_byte(), 0, 0, 0, 1]);
    assert!(send(&mut s, &head));
    assert!(closed_by_peer(&mut s), "the link stayed open");
    assert_eq!(portal.metric("printfleet_link_errors_total"), 1);
    // Once a channel's proof is checked, the same message is read (and refused as a frame).
    let mut link = session::Link::connect(&portal);
    link.open(&[("printer-1", &secret, 1)]);
    link.write(&[(MessageType::Frame, 1, frame)]);
    assert_eq!(link.read().0, MessageType::Rejected);
    assert_eq!(portal.metric("printfleet_link_errors_total"), 1);
}

#[test]
fn a_link_connection_that_proves_nothing_is_closed_after_its_login_deadline() {
    let home = Home::new();
    let (_, secret) = home.add_device("printer-1");
    let portal = home.start(&["--link-handshake-timeout-ms", "1000"]);
    // A peer that keeps talking (a `Closed` for a channel it never opened, each answered) but
    // never proves who it is: closed after 3 handshake timeouts, not the 300 s idle timeout.
    let mut s = portal.tls(portal.tcp);
    s.sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut message = Vec::new();
    Message { kind: MessageType::Closed, channel: 9, body: &[] }.encode(&mut message).unwrap();
    let started = Instant::now();
    let mut closed = false;
    while !closed && started.elapsed() < Duration::from_secs(20) {
        let mut buf = [0u8; 64];
        closed = !send(&mut s, &message)
            || match s.read(&mut buf) {
                Ok(n) => n == 0,
                Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            };
    }
    let took = started.elapsed();
    assert!(closed && took < Duration::from_secs(10), "a peer without credentials was kept for {took:?}");
    // One that proved who it is keeps its connection past that time.
    let mut link = session::Link::connect(&portal);
    link.open(&[("printer-1", &secret, 1)]);
    std::thread::sleep(Duration::from_millis(3500));
    link.write(&[(MessageType::Frame, 1, vec![0xAB; 100])]);
    assert_eq!(link.read().0, MessageType::Rejected);
}

#[test]
fn one_address_holds_few_link_connections_without_a_proof() {
    use printfleet_cli::portal::MAX_UNPROVEN_LINKS_PER_ADDRESS;
    let home = Home::new();
    let (_, secret) = home.add_device("printer-1");
    let portal = home.start(&[]);
    let raw = || {
        let tcp = TcpStream::connect(portal.tcp).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        tcp
    };
    // All but one held in their TLS handshake (never started), from 127.0.0.1.
    let mut held: Vec<TcpStream> = (1..MAX_UNPROVEN_LINKS_PER_ADDRESS).map(|_| raw()).collect();
    // A collector proves itself: it no longer counts, and keeps its connection.
    let mut link = session::Link::connect(&portal);
    link.open(&[("printer-1", &secret, 1)]);
    // So one more unproven connection is taken (the limit's last place) ...
    let mut last = raw();
    assert!(!closed_by_peer(&mut last), "the last place was refused");
    held.push(last);
    // ... and the next is closed at once, long before the 10 s TLS timeout.
    let started = Instant::now();
    let mut refused = raw();
    assert!(closed_by_peer(&mut refused) && started.elapsed() < Duration::from_secs(5));
    assert_eq!(portal.metric("printfleet_link_refused_total"), 1);
    // The proven collector is still served.
    link.write(&[(MessageType::Frame, 1, vec![0xAB; 100])]);
    assert_eq!(link.read().0, MessageType::Rejected);
    // A place given back (a held connection gone) is taken again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = raw();
        if !closed_by_peer(&mut again) {
            break;
        }
        assert!(Instant::now() < deadline, "the place was never given back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn slow_loris_and_silent_tls_clients_are_timed_out() {
    let home = Home::new();
    let portal = home.start(&["--header-timeout-ms", "1000", "--tls-timeout-ms", "1000"]);
    // Headers trickled a byte every 100 ms.
    let mut s = portal.tls(portal.https);
    s.sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let started = Instant::now();
    assert!(send(&mut s, b"POST /v1/frames HTTP/1.1\r\nHost: localhost\r\nX-Slow: "));
    let mut closed = false;
    for _ in 0..100 {
        if !send(&mut s, b"a") {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let took = started.elapsed();
    assert!(closed, "a slow-loris client was kept for {took:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(8), "closed after {took:?}");
    // A TCP client that never starts TLS.
    let mut tcp = TcpStream::connect(portal.https).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let started = Instant::now();
    assert!(closed_by_peer(&mut tcp));
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(portal.metric("printfleet_tls_failures_total") >= 1);
}

#[test]
fn a_garbage_flood_does_not_keep_a_good_device_from_its_replies() {
    let home = Home::new();
    let portal = home.start(&[]);
    let (_, secret) = home.add_device("good");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut flooders = Vec::new();
    for f in 0..3u8 {
        let (stop, sent, http, url) = (stop.clone(), sent.clone(), portal.http(), portal.url("/v1/frames"));
        flooders.push(std::thread::spawn(move || {
            let garbage = vec![f; 2000];
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if http.post(&url).header("Content-Type", "application/octet-stream").send(&garbage[..]).is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // And one link connection writing junk frames without ever reading.
    {
        let (stop, mut s) = (stop.clone(), portal.tls(portal.tcp));
        flooders.push(std::thread::spawn(move || {
            let mut out = Vec::new();
            for c in 0..200u32 {
                Message { kind: MessageType::Frame, channel: c, body: &[0xAB; 1000] }.encode(&mut out).unwrap();
            }
            s.sock.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if s.write_all(&out).is_err() {
                    break;
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    let http = portal.http();
    let mut agent = agent("good", &secret, 1, 600_000);
    let started = Instant::now();
    let now = wall();
    agent.handle_reading(now, reading());
    for step in 0..20u64 {
        let at = plus(now, step * 600_000);
        agent.handle_job(at, job(step + 1, 1));
        agent.handle_timeout(at);
        let t = pump(&mut agent, at).unwrap();
        let (status, reply) = portal.post(&http, &t.frame).unwrap();
        assert_eq!(status, 200, "step {step}");
        agent.handle_frame(at, &reply);
    }
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        f.join().unwrap();
    }
    assert!(sent.load(Ordering::Relaxed) > 20, "the flood did not happen");
    assert!(took < Duration::from_secs(30), "20 frames took {took:?} under the flood");
}

#[test]
fn clients_that_do_not_trust_the_portal_ca_fail() {
    let home = Home::new();
    let portal = home.start(&[]);
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other_ca = other.cert.pem();
    // ureq trusting another CA.
    let cert = ureq::tls::Certificate::from_pem(other_ca.as_bytes()).unwrap();
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert]))).build();
    let http: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    assert!(http.get(portal.url("/healthz")).call().is_err());
    // A link client likewise.
    let mut s = tls_to(portal.tcp, &other_ca);
    let mut out = Vec::new();
    Message { kind: MessageType::Closed, channel: 1, body: &[] }.encode(&mut out).unwrap();
    assert!(s.write_all(&out).and_then(|()| s.flush()).is_err());
    // The same portal, trusted: fine.
    assert_eq!(portal.get("/healthz").0, 200);
}

/// A SCRAM handshake on the link is bounded in real time, whatever the protocol clock says: on a
/// portal running 3600 times faster than real time with a 1 s bound, a collector answering at
/// once opens its session (the bound was once read on the protocol clock, where a second is
/// 0.3 ms of real time, and every handshake failed), and one that waits 1.5 s before its
/// client-final message is refused.
#[test]
fn a_link_handshake_is_bounded_in_real_time_on_an_accelerated_clock() {
    use printfleet_auth::{ClientHandshake, KeyEpoch};
    use printfleet_wire::frame::OsRng;

    let home = Home::new();
    let (_, secret) = home.add_device("slow");
    let portal = home.start(&["--clock-speed", "3600", "--link-handshake-timeout-ms", "1000"]);
    let mut link = session::Link::connect(&portal);
    link.stream.sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rng = OsRng::default();
    let mut handshake = |channel: u32, pause: Duration| {
        let now = wall();
        let (client, hello) = ClientHandshake::start("slow", &secret, KeyEpoch(1), &mut rng, now).unwrap();
        link.write(&[(MessageType::Hello, channel, hello.into_bytes())]);
        let (kind, got, body) = link.read();
        assert_eq!((kind, got), (MessageType::ServerFirst, channel));
        let (_, proof) = client.handle_server_first(std::str::from_utf8(&body).unwrap(), now).unwrap();
        std::thread::sleep(pause);
        link.write(&[(MessageType::ClientFinal, channel, proof.into_bytes())]);
        let (kind, got, _) = link.read();
        assert_eq!(got, channel);
        kind
    };
    assert_eq!(handshake(1, Duration::ZERO), MessageType::ServerFinal, "a prompt handshake opens its session");
    assert_eq!(portal.metric("printfleet_handshakes_ok_total"), 1);
    assert_eq!(handshake(2, Duration::from_millis(1500)), MessageType::Closed, "a slow one is refused");
    assert_eq!(portal.metric("printfleet_handshakes_failed_total"), 1);
}

/// Writes `request` over and over without reading a byte of the answers, until the portal
/// drops the connection (a write fails other than by timing out) or `limit` passes; returns how
/// long after its writes first stalled the portal dropped it, or `None` if it never did.
fn never_reading(
    s: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    request: &[u8],
    limit: Duration,
) -> Option<Duration> {
    s.sock.set_write_timeout(Some(Duration::from_millis(50))).unwrap();
    let chunk: Vec<u8> =
        request.iter().copied().cycle().take(request.len() * (16_384 / request.len()).max(1)).collect();
    let started = Instant::now();
    let mut stalled: Option<Instant> = None;
    while started.elapsed() < limit {
        match s.write(&chunk).and_then(|n| s.flush().map(|()| n)) {
            Ok(n) if n > 0 => stalled = None,
            Ok(_) => {
                stalled.get_or_insert_with(Instant::now);
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                stalled.get_or_insert_with(Instant::now);
            }
            Err(_) => return Some(stalled.map_or(Duration::ZERO, |t| t.elapsed())),
        }
    }
    None
}

#[test]
fn a_link_peer_that_never_reads_its_answers_is_dropped() {
    let home = Home::new();
    let (_, secret) = home.add_device("printer-1");
    let portal = home.start(&["--idle-timeout-ms", "1000"]);
    // A collector that proved who it is (so only the idle timeout applies), then sends `Closed`
    // for channels it never opened, each answered with a `Closed`, and reads none of them.
    let mut request = Vec::new();
    Message { kind: MessageType::Closed, channel: 7, body: &[] }.encode(&mut request).unwrap();
    let mut link = session::Link::connect(&portal);
    link.open(&[("printer-1", &secret, 1)]);
    let dropped = never_reading(&mut link.stream, &request, Duration::from_secs(30));
    let after = dropped.expect("a link connection that never read its answers was kept for 30 s");
    assert!(after < Duration::from_secs(10), "dropped {after:?} after its writes stalled");
    // The portal still serves the link.
    let mut t = portal.tls(portal.tcp);
    t.sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(send(&mut t, &request));
    let mut answer = [0u8; 9];
    t.read_exact(&mut answer).unwrap();
    assert_eq!(answer.to_vec(), request);
}

#[test]
fn before_its_first_proof_a_connection_runs_few_handshakes() {
    use printfleet_auth::{ClientHandshake, KeyEpoch};
    use printfleet_cli::client::{PortalTrust, SessionLink};
    use printfleet_wire::frame::OsRng;
    use printfleet_wire::link::MAX_HANDSHAKES_BEFORE_PROOF;

    let home = Home::new();
    let devices: Vec<(String, DeviceSecret, KeyEpoch)> = (0..MAX_HANDSHAKES_BEFORE_PROOF + 8)
        .map(|i| {
            let name = format!("printer-{i}");
            let (_, secret) = home.add_device(&name);
            (name, secret, KeyEpoch(1))
        })
        .collect();
    let portal = home.start(&[]);
    let mut rng = OsRng::default();
    // One more pipelined Hello than a connection without a proof may run: the last is refused.
    let mut link = session::Link::connect(&portal);
    let hellos: Vec<_> = (0..=MAX_HANDSHAKES_BEFORE_PROOF)
        .map(|i| {
            let (_, hello) = ClientHandshake::start("nobody", &devices[0].1, KeyEpoch(1), &mut rng, wall()).unwrap();
            (MessageType::Hello, u32::try_from(i).unwrap() + 1, hello.into_bytes())
        })
        .collect();
    link.write(&hellos);
    let kinds: Vec<MessageType> = hellos.iter().map(|_| link.read().0).collect();
    assert!(kinds[..MAX_HANDSHAKES_BEFORE_PROOF].iter().all(|k| *k == MessageType::ServerFirst), "{kinds:?}");
    assert_eq!(kinds[MAX_HANDSHAKES_BEFORE_PROOF], MessageType::Closed);
    // The collector's client opens them all on a fresh connection: a few first, the rest once
    // one has succeeded.
    let trust = PortalTrust::from_ca_pem(&portal.ca).unwrap();
    let mut client = SessionLink::connect(portal.tcp, "localhost", &trust).unwrap();
    let opened = client.open_sessions(&devices, wall(), &mut rng).unwrap();
    assert!(opened.iter().all(Result::is_ok), "{opened:?}");
}

#[test]
fn a_peer_without_credentials_that_never_reads_is_dropped_by_its_login_deadline() {
    // The idle timeout is the default 300 s: only the login deadline (3 handshake timeouts of
    // 1 s) can end it, though its reader waits on a full queue and its writer on a full socket.
    let home = Home::new();
    let portal = home.start(&["--link-handshake-timeout-ms", "1000"]);
    let mut request = Vec::new();
    Message { kind: MessageType::Closed, channel: 7, body: &[] }.encode(&mut request).unwrap();
    let mut s = portal.tls(portal.tcp);
    let started = Instant::now();
    let dropped = never_reading(&mut s, &request, Duration::from_secs(30));
    assert!(dropped.is_some(), "a peer without credentials that never read was kept for 30 s");
    assert!(started.elapsed() < Duration::from_secs(10), "dropped after {:?}", started.elapsed());
    assert_eq!(portal.metric("printfleet_link_unproven_closed_total"), 1);
}

#[test]
fn an_https_client_that_never_reads_its_answers_is_dropped() {
    let home = Home::new();
    let portal = home.start(&["--header-timeout-ms", "1000"]);
    let mut s = portal.tls(portal.https);
    let dropped = never_reading(&mut s, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", Duration::from_secs(30));
    let after = dropped.expect("an HTTPS connection that never read its answers was kept for 30 s");
    assert!(after < Duration::from_secs(10), "dropped {after:?} after its writes stalled");
    assert_eq!(portal.get("/healthz"), (200, "ok".to_owned()));
}
