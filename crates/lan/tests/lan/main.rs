//! Discovery and polling against simulated agents and a local HTTP server, all on loopback
//! (127.0.x.y): every server stops when dropped, every loop is bounded in count and time.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod http_server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use printfleet_lan::config::PollConfig;
use printfleet_lan::discover;
use printfleet_lan::error::{Failure, FailureKind};
use printfleet_lan::identity::{Inventory, Sighting};
use printfleet_lan::poll::{PollTarget, poll_one, poll_round};
use printfleet_lan::sim::{SimAgent, load_snmprec};
use printfleet_lan::target::Targets;

const CAPTURES: [&str; 6] = ["brother", "epson", "jetdirect_m252dw", "jetdirect_m880", "sharp", "xerox"];

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn capture(name: &str) -> PathBuf {
    repo(&format!("testdata/third-party/librenms/printer-mib/{name}.snmprec"))
}

/// Starts agents serving `files` on `net.first+i`, all on one port (picked by the first).
fn agents(net: [u8; 3], first: u8, files: &[PathBuf], community: &[u8]) -> (Vec<SimAgent>, u16) {
    let mut out = Vec::new();
    let mut port = 0;
    for (i, f) in files.iter().enumerate() {
        let address = Ipv4Addr::new(net[0], net[1], net[2], first + u8::try_from(i).unwrap());
        let agent = SimAgent::start(SocketAddr::from((address, port)), community, load_snmprec(f).unwrap()).unwrap();
        port = agent.address().port();
        out.push(agent);
    }
    (out, port)
}

fn config(port: u16) -> PollConfig {
    PollConfig { snmp_port: port, timeout: Duration::from_millis(300), retries: 0, ..PollConfig::default() }
}

#[test]
fn discovery_finds_exactly_the_printers_served_and_counts_the_rest_by_kind() {
    let mut files: Vec<PathBuf> = CAPTURES.iter().map(|c| capture(c)).collect();
    files.push(repo("crates/lan/testdata/router.snmprec"));
    let (mut served, port) = agents([127, 0, 1], 2, &files, b"public");
    // An agent that does not know the community stays silent: a timeout.
    let silent =
        SimAgent::start(SocketAddr::from(([127, 0, 1, 9], port)), b"other", load_snmprec(&files[0]).unwrap()).unwrap();
    served.push(silent);
    let mut targets = Targets::default();
    targets.include("127.0.1.0/28").unwrap();
    let addresses = targets.expand().unwrap();
    let mut inventory = Inventory::default();
    let round = discover(&addresses, &config(port), &mut inventory);
    let found: Vec<IpAddr> = round.printers.iter().map(|p| p.address).collect();
    let expected: Vec<IpAddr> = (2..8).map(|i| IpAddr::from([127, 0, 1, i])).collect();
    assert_eq!(found, expected, "{:?}", round.failures);
    assert_eq!(round.tally.ok, 6);
    assert_eq!(round.tally.count(FailureKind::NotAPrinter), 1, "{:?}", round.failures);
    assert_eq!(round.tally.count(FailureKind::Timeout), 1, "{:?}", round.failures);
    assert_eq!(round.tally.count(FailureKind::Refused), 14 - 8, "{:?}", round.failures);
    // Each printer is identified (serial or MAC) and new to the inventory, but Xerox's capture,
    // which has neither: listed, without identity, not in the inventory.
    let (identified, anonymous): (Vec<_>, Vec<_>) = round.printers.iter().partition(|p| p.device.is_some());
    assert!(identified.iter().all(|p| p.sighting == Some(Sighting::New)), "{identified:?}");
    assert_eq!(anonymous.len(), 1);
    assert_eq!((anonymous[0].address, anonymous[0].sighting.clone()), (IpAddr::from([127, 0, 1, 7]), None));
    assert_eq!(inventory.len(), 5);
    let epson = &round.printers[1];
    assert_eq!(epson.make.as_deref(), Some("Epson"));
    assert_eq!(epson.device.as_ref().unwrap().mac.as_deref(), Some("9c:ae:d3:aa:d6:c5"));
}

#[test]
fn a_capture_moved_to_another_address_is_the_same_device() {
    let epson = capture("epson");
    let (first, port) = agents([127, 0, 2], 2, std::slice::from_ref(&epson), b"public");
    let mut inventory = Inventory::default();
    let addresses: Vec<Ipv4Addr> = (2..6).map(|i| Ipv4Addr::new(127, 0, 2, i)).collect();
    let round = discover(&addresses, &config(port), &mut inventory);
    assert_eq!(round.printers.len(), 1);
    assert_eq!(round.printers[0].sighting, Some(Sighting::New));
    drop(first);
    let _moved =
        SimAgent::start(SocketAddr::from(([127, 0, 2, 5], port)), b"public", load_snmprec(&epson).unwrap()).unwrap();
    let round = discover(&addresses, &config(port), &mut inventory);
    assert_eq!(round.printers.len(), 1);
    assert_eq!(round.printers[0].address, IpAddr::from([127, 0, 2, 5]));
    assert_eq!(round.printers[0].sighting, Some(Sighting::Moved { from: IpAddr::from([127, 0, 2, 2]) }));
    assert_eq!(inventory.len(), 1);
    assert_eq!(inventory.devices()[0].previous_addresses, [IpAddr::from([127, 0, 2, 2])]);
}

#[test]
fn a_poll_round_maps_each_printer_like_its_capture_and_one_failure_does_not_stop_it() {
    let files: Vec<PathBuf> = CAPTURES.iter().map(|c| capture(c)).collect();
    let (_served, port) = agents([127, 0, 3], 2, &files, b"public");
    let mut targets: Vec<PollTarget> =
        (2..8).map(|i| PollTarget::Snmp(SocketAddr::from(([127, 0, 3, i], port)))).collect();
    // A dead address in the middle of the round.
    targets.insert(3, PollTarget::Snmp(SocketAddr::from(([127, 0, 3, 30], port))));
    let round = poll_round(&targets, &PollConfig { concurrency: 3, ..config(port) });
    assert_eq!(round.tally.ok, 6, "{:?}", round.outcomes.iter().map(|o| o.result.as_ref().err()).collect::<Vec<_>>());
    assert_eq!(round.tally.count(FailureKind::Refused), 1);
    assert!(matches!(round.outcomes[3].result, Err(Failure::Refused)));
    let polled: Vec<_> = round.outcomes.iter().filter_map(|o| o.result.as_ref().ok()).collect();
    for (name, polled) in CAPTURES.iter().zip(polled) {
        let mapped =
            printfleet_sources::snmp::printer_mib::map_snmprec(&std::fs::read(capture(name)).unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(&polled.mapped.report).unwrap(),
            serde_json::to_value(&mapped.report).unwrap(),
            "{name}: a poll and the capture map alike"
        );
        assert_eq!(polled.mapped.meters, mapped.meters, "{name}");
    }
}

#[test]
fn ledm_documents_over_http_map_like_the_files() {
    let dir = repo("testdata/third-party/aiohpprinter/hp_color_laserjet_m255dw");
    let server = http_server::Server::start(http_server::Route::Files(dir.clone(), Vec::new()));
    let target = PollTarget::parse(&format!("ledm+http://{}/", server.address()), 161).unwrap();
    let polled = poll_one(&target, &PollConfig::default()).unwrap();
    let load = |n: &str| {
        let bytes = std::fs::read(dir.join(n)).ok()?;
        Some(printfleet_sources::ledm::Element::parse_repairing(&bytes).unwrap().0)
    };
    let docs = printfleet_sources::ledm::Documents {
        product_config: load("ProductConfigDyn.xml"),
        consumable_config: load("ConsumableConfigDyn.xml"),
        product_usage: load("ProductUsageDyn.xml"),
        product_status: load("ProductStatusDyn.xml"),
    };
    let expected = printfleet_sources::ledm::map(&docs);
    assert_eq!(serde_json::to_value(&polled.mapped.report).unwrap(), serde_json::to_value(&expected.report).unwrap());

    // A document the device refuses costs that document, not the poll; every one refused is
    // an authentication failure.
    let usage = "/DevMgmt/ProductUsageDyn.xml";
    let refusing = http_server::Server::start(http_server::Route::Files(dir.clone(), vec![usage]));
    let target = PollTarget::parse(&format!("ledm+http://{}", refusing.address()), 161).unwrap();
    let polled = poll_one(&target, &PollConfig::default()).unwrap();
    assert!(polled.mapped.report.snapshot.meters.is_empty(), "the counters are in the refused document");
    assert_eq!(polled.mapped.report.snapshot.consumables, expected.report.snapshot.consumables);
    assert!(polled.mapped.findings.iter().any(|f| matches!(
        f,
        printfleet_sources::Finding::DocumentUnread { document: "ProductUsageDyn.xml", reason } if reason.contains("401")
    )));
    let all = vec![
        "/DevMgmt/ProductConfigDyn.xml",
        "/DevMgmt/ConsumableConfigDyn.xml",
        usage,
        "/DevMgmt/ProductStatusDyn.xml",
    ];
    let locked = http_server::Server::start(http_server::Route::Files(dir, all));
    let target = PollTarget::parse(&format!("ledm+http://{}", locked.address()), 161).unwrap();
    assert_eq!(poll_one(&target, &PollConfig::default()).unwrap_err().kind(), FailureKind::Auth);
}

/// A CDM device read over HTTP maps as its documents do, with GET requests only (the same
/// interface takes writes); an endpoint it refuses is read as missing with a finding, the rest
/// still mapped; a server error fails the poll; a device that refuses everything is an
/// authentication failure, and a server that answers `{}` everywhere is no printer.
#[test]
fn cdm_documents_over_http_map_like_the_files_and_a_refusal_costs_its_document_only() {
    use printfleet_sources::cdm::{Document, Documents, Endpoint, map};
    let dir = repo("testdata/third-party/ha-hp-printers-cn/hp_smart_tank_580_590");
    let mut docs = Documents::default();
    for endpoint in Endpoint::ALL {
        docs.insert(*endpoint, Document::parse(&std::fs::read(dir.join(endpoint.file_name())).unwrap()).unwrap());
    }
    let expected = map(&docs);
    let server = http_server::Server::start(http_server::Route::Cdm {
        dir: dir.clone(),
        refused: Vec::new(),
        failing: Vec::new(),
    });
    let target = PollTarget::parse(&format!("cdm+http://{}/", server.address()), 161).unwrap();
    let polled = poll_one(&target, &PollConfig::default()).unwrap();
    assert_eq!(serde_json::to_value(&polled.mapped.report).unwrap(), serde_json::to_value(&expected.report).unwrap());
    let requests = server.requests();
    assert_eq!(requests.len(), Endpoint::ALL.len());
    assert!(requests.iter().all(|r| r.starts_with(b"GET /cdm/")), "GET only");

    let counters = Endpoint::LifetimeCounters.path();
    let refusing = http_server::Server::start(http_server::Route::Cdm {
        dir: dir.clone(),
        refused: vec![counters],
        failing: Vec::new(),
    });
    let target = PollTarget::parse(&format!("cdm+http://{}", refusing.address()), 161).unwrap();
    let polled = poll_one(&target, &PollConfig::default()).unwrap();
    let report = &polled.mapped.report;
    assert!(report.snapshot.meters.is_empty(), "no counters");
    assert_eq!(report.snapshot.consumables, expected.report.snapshot.consumables, "the rest still mapped");
    assert!(polled.mapped.findings.iter().any(|f| matches!(
        f,
        printfleet_sources::Finding::DocumentUnread { document, reason } if *document == counters && reason.contains("401")
    )));

    // A server error is passing: the poll fails rather than report the counters gone.
    let failing = http_server::Server::start(http_server::Route::Cdm {
        dir: dir.clone(),
        refused: Vec::new(),
        failing: vec![counters],
    });
    let target = PollTarget::parse(&format!("cdm+http://{}", failing.address()), 161).unwrap();
    assert_eq!(poll_one(&target, &PollConfig::default()).unwrap_err().kind(), FailureKind::Http);

    let all = Endpoint::ALL.iter().map(|e| e.path()).collect();
    let locked = http_server::Server::start(http_server::Route::Cdm { dir, refused: all, failing: Vec::new() });
    let target = PollTarget::parse(&format!("cdm+http://{}", locked.address()), 161).unwrap();
    assert_eq!(poll_one(&target, &PollConfig::default()).unwrap_err().kind(), FailureKind::Auth);
    let blank = http_server::Server::start(http_server::Route::Bytes(b"{}".to_vec()));
    let target = PollTarget::parse(&format!("cdm+http://{}", blank.address()), 161).unwrap();
    assert_eq!(poll_one(&target, &PollConfig::default()).unwrap_err().kind(), FailureKind::NotAPrinter);
}

#[test]
fn http_failures_are_typed() {
    let config = PollConfig { timeout: Duration::from_millis(300), retries: 0, ..PollConfig::default() };
    // Nothing under /DevMgmt/: not a printer.
    let empty = http_server::Server::start(http_server::Route::NotFound);
    let t = PollTarget::parse(&format!("ledm+http://{}", empty.address()), 161).unwrap();
    assert_eq!(poll_one(&t, &config).unwrap_err().kind(), FailureKind::NotAPrinter);
    // A body past the limit is refused.
    let big = http_server::Server::start(http_server::Route::Bytes(vec![
        b'x';
        printfleet_lan::config::MAX_LEDM_RESPONSE_BYTES
            + 1
    ]));
    let t = PollTarget::parse(&format!("ledm+http://{}", big.address()), 161).unwrap();
    assert_eq!(poll_one(&t, &config).unwrap_err().kind(), FailureKind::TooLarge);
    // Garbage in place of IPP: malformed.
    let junk = http_server::Server::start(http_server::Route::Bytes(b"not ipp".to_vec()));
    let t = PollTarget::parse(&format!("ipp://{}/ipp/print", junk.address()), 161).unwrap();
    assert_eq!(poll_one(&t, &config).unwrap_err().kind(), FailureKind::Malformed);
    // A server that accepts and never answers: a timeout.
    let mute = http_server::Server::start(http_server::Route::Mute);
    let t = PollTarget::parse(&format!("ipp://{}/ipp/print", mute.address()), 161).unwrap();
    assert_eq!(poll_one(&t, &config).unwrap_err().kind(), FailureKind::Timeout);
    // Nothing listening: refused.
    let port = { std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port() };
    let t = PollTarget::parse(&format!("ipp://127.0.0.1:{port}/ipp/print"), 161).unwrap();
    assert_eq!(poll_one(&t, &config).unwrap_err().kind(), FailureKind::Refused);
}

#[test]
fn a_printer_answering_every_request_slowly_is_cut_at_the_read_deadline() {
    // LEDM: four documents, each answered (404) after 200 ms, within the 300 ms timeout; the
    // deadline of 500 ms cuts the read before the fourth.
    let slow = http_server::Server::start(http_server::Route::Slow(Duration::from_millis(200)));
    let t = PollTarget::parse(&format!("ledm+http://{}", slow.address()), 161).unwrap();
    let http = PollConfig { timeout: Duration::from_millis(300), retries: 0, ..PollConfig::default() };
    let cut = PollConfig { deadline: Duration::from_millis(500), ..http.clone() };
    assert_eq!(poll_one(&t, &cut).unwrap_err(), Failure::Deadline { deadline_ms: 500 });
    assert!(slow.requests().len() < 4, "the fourth document is not asked");
    // Given the time, such a server is read to its end (no LEDM document: not a printer).
    let slow = http_server::Server::start(http_server::Route::Slow(Duration::from_millis(200)));
    let t = PollTarget::parse(&format!("ledm+http://{}", slow.address()), 161).unwrap();
    let patient = PollConfig { timeout: Duration::from_secs(2), ..http };
    assert_eq!(poll_one(&t, &patient).unwrap_err().kind(), FailureKind::NotAPrinter);
    assert_eq!(slow.requests().len(), 4);

    // SNMP: an agent answering each GETBULK after 30 ms; the walk takes dozens of them.
    let bindings = load_snmprec(&capture("epson")).unwrap();
    let agent =
        SimAgent::start_slow(SocketAddr::from(([127, 0, 4, 9], 0)), b"public", bindings, Duration::from_millis(30))
            .unwrap();
    let t = PollTarget::Snmp(agent.address());
    let snmp = config(agent.address().port());
    let cut = PollConfig { deadline: Duration::from_millis(300), ..snmp.clone() };
    let err = poll_one(&t, &cut).unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string()),
        (FailureKind::Deadline, "read not done within its deadline of 300 ms".into())
    );
    let polled = poll_one(&t, &snmp).unwrap();
    assert_eq!(polled.mapped.report.identity.make.as_deref(), Some("Epson"));

    // An HTTP request is cut at the deadline: the retry of a 5 s request that timed out has 1 s
    // left, not 5 (10 s in all uncut). A printer that never answered is reported as not
    // answering (a timeout), not as slow.
    let mute = http_server::Server::start(http_server::Route::Mute);
    let t = PollTarget::parse(&format!("ipp://{}/ipp/print", mute.address()), 161).unwrap();
    let cut = PollConfig {
        timeout: Duration::from_secs(5),
        retries: 1,
        deadline: Duration::from_secs(6),
        ..PollConfig::default()
    };
    cut.check().unwrap();
    let started = std::time::Instant::now();
    let err = poll_one(&t, &cut).unwrap_err();
    assert_eq!(err, Failure::Timeout { timeout_ms: 5_000, attempts: 2 });
    assert!(started.elapsed() < Duration::from_secs(9), "not cut: {:?}", started.elapsed());
    // So is a silent SNMP agent whose retries the deadline cuts short.
    let silent = SimAgent::start_lossy(
        SocketAddr::from(([127, 0, 4, 10], 0)),
        b"public",
        load_snmprec(&capture("epson")).unwrap(),
        u32::MAX,
    )
    .unwrap();
    let cut = PollConfig { retries: 5, deadline: Duration::from_millis(700), ..config(silent.address().port()) };
    match poll_one(&PollTarget::Snmp(silent.address()), &cut).unwrap_err() {
        Failure::Timeout { attempts, .. } => assert!((1..6).contains(&attempts), "{attempts} attempts"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_result_is_handed_over_as_soon_as_its_read_ends() {
    let bindings = load_snmprec(&capture("epson")).unwrap();
    let slow = SimAgent::start_slow(
        SocketAddr::from(([127, 0, 4, 11], 0)),
        b"public",
        bindings.clone(),
        Duration::from_millis(50),
    )
    .unwrap();
    let fast =
        SimAgent::start(SocketAddr::from(([127, 0, 4, 12], slow.address().port())), b"public", bindings).unwrap();
    let targets = [PollTarget::Snmp(slow.address()), PollTarget::Snmp(fast.address())];
    let order = std::sync::Mutex::new(Vec::new());
    printfleet_lan::poll::poll_each(&targets, &config(slow.address().port()), |i, result| {
        assert!(result.is_ok(), "{i}: {result:?}");
        order.lock().unwrap().push(i);
    });
    assert_eq!(order.into_inner().unwrap(), [1, 0], "the prompt printer's result first");
}

#[test]
fn an_ipp_response_over_http_maps_like_the_file() {
    // python-ipp's capture of an Epson XP-6000 (testdata/third-party/python-ipp/PROVENANCE).
    let response =
        std::fs::read(repo("testdata/third-party/python-ipp/get-printer-attributes-epsonxp6000.bin")).unwrap();
    let server = http_server::Server::start(http_server::Route::Bytes(response.clone()));
    let t = PollTarget::parse(&format!("ipp://{}/ipp/print", server.address()), 161).unwrap();
    let polled = poll_one(&t, &PollConfig::default()).unwrap();
    let expected = printfleet_sources::ipp::map(&printfleet_sources::ipp::parse(&response).unwrap());
    assert_eq!(serde_json::to_value(&polled.mapped.report).unwrap(), serde_json::to_value(&expected.report).unwrap());
    // The request the server saw was a Get-Printer-Attributes for the printer-uri.
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].windows(11).any(|w| w == b"printer-uri"));
}

#[test]
fn a_lost_request_is_retried_and_a_silent_agent_times_out_after_every_attempt() {
    let bindings = load_snmprec(&capture("epson")).unwrap();
    let lossy = SimAgent::start_lossy(SocketAddr::from(([127, 0, 4, 2], 0)), b"public", bindings.clone(), 1).unwrap();
    let target = PollTarget::Snmp(lossy.address());
    let port = lossy.address().port();
    // Without a retry the lost datagram is a timeout ...
    let no_retry = PollConfig { retries: 0, ..config(port) };
    assert_eq!(poll_one(&target, &no_retry).unwrap_err(), Failure::Timeout { timeout_ms: 300, attempts: 1 });
    assert_eq!(lossy.dropped(), 1);
    // ... with one retry it is read.
    let lossy = SimAgent::start_lossy(SocketAddr::from(([127, 0, 4, 3], port)), b"public", bindings, 1).unwrap();
    let polled = poll_one(&PollTarget::Snmp(lossy.address()), &PollConfig { retries: 1, ..config(port) }).unwrap();
    assert_eq!(polled.mapped.report.identity.make.as_deref(), Some("Epson"));
    // An agent that never answers is asked retries + 1 times.
    let silent = SimAgent::start_lossy(
        SocketAddr::from(([127, 0, 4, 4], port)),
        b"public",
        load_snmprec(&capture("epson")).unwrap(),
        u32::MAX,
    )
    .unwrap();
    let err = poll_one(&PollTarget::Snmp(silent.address()), &PollConfig { retries: 2, ..config(port) }).unwrap_err();
    assert_eq!(err, Failure::Timeout { timeout_ms: 300, attempts: 3 });
    assert_eq!(silent.dropped(), 3);
}

#[test]
fn an_answer_that_is_not_snmp_is_malformed() {
    let socket = std::net::UdpSocket::bind("127.0.4.9:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let address = socket.local_addr().unwrap();
    let junk = std::thread::spawn(move || {
        let mut buf = [0_u8; 2048];
        // Bounded: answers the first request with junk, then stops within 5 s.
        for _ in 0..100 {
            if let Ok((_, peer)) = socket.recv_from(&mut buf) {
                socket.send_to(b"\x30\x03\x02\x01", peer).unwrap();
                return;
            }
        }
    });
    let err = poll_one(&PollTarget::Snmp(address), &config(address.port())).unwrap_err();
    assert_eq!(err.kind(), FailureKind::Malformed, "{err:?}");
    junk.join().unwrap();
}
