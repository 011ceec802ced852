//! The collector: its config file, and the `printfleet collect` binary against the test portal
//! and simulated SNMP printers serving real captures, killed with SIGKILL at random points and
//! restarted.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use printfleet_auth::sender_id_of;
use printfleet_cli::collect::{Clock, CollectError, CollectorConfig, Mode};
use printfleet_ingest::Refusal;
use printfleet_lan::sim::{SimAgent, load_snmprec};
use printfleet_schema::{DurationMs, Redaction, Timestamp};
use printfleet_wire::frame::RejectReason;

use crate::server::{Protocol, TestPortal, pki, secret_bytes};

/// Simulated time runs this much faster: a 30-minute interval passes in half a second.
const SPEED: u32 = 3600;
/// The captures served (LibreNMS tests/snmpsim, see testdata/third-party/librenms/).
const CAPTURES: [&str; 3] = ["brother", "epson", "jetdirect_m252dw"];

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../testdata/third-party/librenms/printer-mib/{name}.snmprec"))
}

#[test]
fn the_sample_config_parses_and_checks() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/collector.example.json");
    let config = CollectorConfig::read(&path).unwrap();
    assert_eq!(config.portal.mode, Mode::Session);
    let plan = config.check().unwrap();
    assert_eq!(plan.printers.len(), 2);
    assert_eq!(plan.schedule.interval().0, 180 * 60_000);
    assert_eq!(plan.printers[1].epoch.0, 2);
    assert_eq!(plan.printers[0].sender, sender_id_of("office-3f-laser"));
}

fn parse(json: serde_json::Value) -> Result<printfleet_cli::collect::Plan, CollectError> {
    CollectorConfig::parse(json.to_string().as_bytes())?.check()
}

fn base(printers: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "portal": { "mode": "session", "tcp": "127.0.0.1:1", "ca": "ca.pem" },
        "state": "state.sqlite",
        "printers": printers,
    })
}

#[test]
fn config_mistakes_are_refused_with_a_clear_error() {
    let secret = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let printer = serde_json::json!({ "name": "p", "target": "127.0.0.1", "secret": secret, "epoch": 1 });
    assert!(parse(base(serde_json::json!([printer.clone()]))).is_ok());
    let mut short = base(serde_json::json!([]));
    short["interval_minutes"] = 29.into();
    let err = parse(short).unwrap_err();
    assert!(matches!(err, CollectError::Interval(_)), "{err:?}");
    assert!(err.to_string().contains("at most every 30 minutes"), "{err}");
    let mut no_tcp = base(serde_json::json!([]));
    no_tcp["portal"].as_object_mut().unwrap().remove("tcp");
    assert!(parse(no_tcp).unwrap_err().to_string().starts_with("portal.tcp"));
    let twice = parse(base(serde_json::json!([printer.clone(), printer.clone()]))).unwrap_err();
    assert!(twice.to_string().contains("printers[1].name"), "{twice}");
    let mut bad = printer.clone();
    bad["secret"] = "c2hvcnQ=".into(); // "short": 5 bytes
    assert!(parse(base(serde_json::json!([bad]))).unwrap_err().to_string().contains("printers[0].secret"));
    let mut bad = printer.clone();
    bad["target"] = "gopher://x".into();
    assert!(parse(base(serde_json::json!([bad]))).unwrap_err().to_string().contains("printers[0].target"));
    // The collector's own identity (bundles): session mode only, a name of its own.
    let identity = serde_json::json!({ "name": "site-1", "secret": secret, "epoch": 1 });
    let mut with_identity = base(serde_json::json!([printer.clone()]));
    with_identity["identity"] = identity.clone();
    let plan = parse(with_identity.clone()).unwrap();
    assert_eq!(plan.identity.as_ref().map(|i| i.sender), Some(sender_id_of("site-1")));
    let mut one_shot = with_identity.clone();
    one_shot["portal"] = serde_json::json!({ "mode": "one-shot", "https": "https://127.0.0.1:1", "ca": "ca.pem" });
    assert!(parse(one_shot).unwrap_err().to_string().starts_with("identity"));
    let mut same_name = with_identity.clone();
    same_name["identity"]["name"] = "p".into();
    assert!(parse(same_name).unwrap_err().to_string().contains("printers[0].name"));
    let mut bad = with_identity.clone();
    bad["identity"]["secret"] = "c2hvcnQ=".into();
    assert!(parse(bad).unwrap_err().to_string().starts_with("identity.secret"));
    // With an identity a printer may come without a secret (bundles only); without one it may not.
    let keyless = serde_json::json!({ "name": "k", "target": "127.0.0.1" });
    let mut bundled = with_identity.clone();
    bundled["printers"] = serde_json::json!([printer.clone(), keyless.clone()]);
    let plan = parse(bundled).unwrap();
    assert!(plan.printers[0].secret.is_some() && plan.printers[1].secret.is_none());
    let err = parse(base(serde_json::json!([keyless.clone()]))).unwrap_err().to_string();
    assert!(err.starts_with("printers[0].secret"), "{err}");
    let mut half = printer.clone();
    half.as_object_mut().unwrap().remove("epoch");
    let mut bundled = with_identity;
    bundled["printers"] = serde_json::json!([half]);
    assert!(parse(bundled).unwrap_err().to_string().starts_with("printers[0].epoch"));
    let mut unknown = base(serde_json::json!([]));
    unknown["intervall"] = 60.into();
    assert!(matches!(parse(unknown), Err(CollectError::Json(_))));
    assert!(matches!(
        CollectorConfig::parse(&vec![b' '; printfleet_cli::collect::MAX_CONFIG_BYTES + 1]),
        Err(CollectError::TooLarge)
    ));
}

#[test]
fn collect_refuses_an_interval_below_30_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base(serde_json::json!([]));
    config["interval_minutes"] = 10.into();
    let path = dir.path().join("collector.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_printfleet"))
        .args(["collect", "--config", path.to_str().unwrap(), "--run-for", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at most every 30 minutes, not every 10 minutes"), "{stderr}");
}

/// A collector started without a run time stops by itself after this many seconds, so that a
/// test process killed mid-test leaves nothing running (nor holding its pipes and locks).
const HARNESS_BOUND_SECS: f64 = 300.0;

/// A fleet of simulated printers, a test portal, and a collector config pointing at both.
struct Rig {
    _sims: Vec<SimAgent>,
    portal: Option<TestPortal>,
    pki: crate::server::Pki,
    names: Vec<String>,
    config: PathBuf,
    origin: Timestamp,
    dir: tempfile::TempDir,
}

impl Rig {
    fn new(protocol: Protocol) -> Self {
        Self::with(protocol, None)
    }

    /// A rig whose portal's sessions last `session_lifetime` (simulated).
    fn with(protocol: Protocol, session_lifetime: Option<DurationMs>) -> Self {
        Self::with_slow_first(protocol, session_lifetime, None)
    }

    /// [`Rig::with`], the first printer answering each request after `slow`.
    fn with_slow_first(protocol: Protocol, session_lifetime: Option<DurationMs>, slow: Option<Duration>) -> Self {
        let pki = pki();
        let origin = Clock::real().now();
        let clock = Clock::accelerated(SPEED, Some(origin)).unwrap();
        let names: Vec<String> = CAPTURES.iter().map(|c| format!("sim-{c}")).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let portal =
            TestPortal::start_with(&pki, protocol, &name_refs, clock, "127.0.0.1:0".parse().unwrap(), session_lifetime);
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &pki.ca_pem).unwrap();
        let mut sims = Vec::new();
        let mut printers = Vec::new();
        for (i, (capture_name, name)) in CAPTURES.iter().zip(&names).enumerate() {
            let bindings = load_snmprec(&capture(capture_name)).unwrap();
            let sim = match slow.filter(|_| i == 0) {
                Some(delay) => SimAgent::start_slow("127.0.0.1:0".parse().unwrap(), b"public", bindings, delay),
                None => SimAgent::start("127.0.0.1:0".parse().unwrap(), b"public", bindings),
            }
            .unwrap();
            let secret = base64::engine::general_purpose::STANDARD.encode(secret_bytes(name));
            printers.push(serde_json::json!({
                "name": name, "target": sim.address().to_string(), "secret": secret, "epoch": 1
            }));
            sims.push(sim);
        }
        let portal_json = match protocol {
            Protocol::Link => serde_json::json!({ "mode": "session", "tcp": portal.addr.to_string(), "ca": ca }),
            Protocol::Https => serde_json::json!({
                "mode": "one-shot", "https": format!("https://127.0.0.1:{}", portal.addr.port()), "ca": ca
            }),
        };
        let config = serde_json::json!({
            "portal": portal_json,
            "state": dir.path().join("state.sqlite"),
            "interval_minutes": 30,
            "lan": { "community": "public", "timeout_ms": 500, "retries": 1 },
            "printers": printers,
        });
        let path = dir.path().join("collector.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let rig = Self { _sims: sims, portal: Some(portal), pki, names, config: path, origin, dir };
        rig.init();
        rig
    }

    /// `printfleet collect --init`: creates the state database, once.
    fn init(&self) {
        let out = Command::new(env!("CARGO_BIN_EXE_printfleet"))
            .args(["collect", "--config", self.config.to_str().unwrap(), "--init"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(self.dir.path().join("state.sqlite").exists());
    }

    fn spawn(&self, run_for: Option<f64>) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_printfleet"));
        command.args(["collect", "--config", self.config.to_str().unwrap()]);
        command.args(["--clock-speed", &SPEED.to_string(), "--clock-origin", &self.origin.unix_millis().to_string()]);
        // Killed by the test, or stopping by itself at the latest after the harness's bound.
        command.args(["--run-for", &run_for.unwrap_or(HARNESS_BOUND_SECS).to_string()]);
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("collector.log")).unwrap();
        command.stdout(Stdio::null()).stderr(log).spawn().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("collector.log")).unwrap_or_default()
    }

    /// Runs the collector to its end; asserts it exited 0.
    fn run(&self, seconds: f64) {
        let mut child = self.spawn(Some(seconds));
        let deadline = Instant::now() + Duration::from_secs_f64(seconds + 30.0);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "collector failed: {status}\n{}", self.log());
                return;
            }
            assert!(Instant::now() < deadline, "collector did not stop\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The portal received reports from every printer, each state equal to what its capture
    /// maps to; nothing was refused (no replay, no unknown key), nothing applied or stored twice.
    fn assert_consistent(&self, min_batches: u64) {
        let log = self.log();
        self.portal.as_ref().unwrap().with(|s| {
            let refusals: Vec<_> = s.ingest.counters().refusals().collect();
            assert!(refusals.is_empty(), "refusals {refusals:?}\n{log}");
            assert_eq!(s.stored.applied_twice, 0);
            assert_eq!(s.stored.doubled_jobs, 0);
            for capture_name in CAPTURES {
                let sender = sender_id_of(&format!("sim-{capture_name}"));
                let batches = s.stored.batches.get(&sender).copied().unwrap_or(0);
                assert!(batches >= min_batches, "{capture_name}: {batches} batches\n{log}");
                let report =
                    printfleet_sources::snmp::printer_mib::map_snmprec(&std::fs::read(capture(capture_name)).unwrap())
                        .unwrap()
                        .report;
                let expected = Redaction::drop_all().apply_to(printfleet_diff::DeviceState::from(&report)).into_inner();
                let stored = s.stored.states.get(&sender).unwrap_or_else(|| panic!("{capture_name}: no state\n{log}"));
                assert_eq!(stored.identity, expected.identity, "{capture_name}");
                assert_eq!(stored.snapshot.meters, expected.snapshot.meters, "{capture_name}");
            }
        });
    }
}

#[test]
fn the_collector_reports_simulated_printers_in_session_mode() {
    let rig = Rig::new(Protocol::Link);
    rig.run(3.0);
    // 3 s at 3600x is 3 simulated hours: a boot report and several at the 30-minute interval.
    rig.assert_consistent(3);
    let log = rig.log();
    assert!(log.contains("collector starting: 3 printers (0 restored, 3 new)"), "{log}");
    assert!(log.contains("handshakes 3 (failed 0)"), "{log}");
    // A restart restores every device from the state database.
    rig.run(1.0);
    assert!(rig.log().contains("(3 restored, 0 new)"), "{}", rig.log());
    rig.assert_consistent(3);
}

/// Kills the collector with SIGKILL at seeded random points, several times, then lets it run to
/// the end: the portal refused nothing (no sequence number reused, no replay), applied nothing
/// twice, and holds every printer's state.
fn crash_and_restart(protocol: Protocol, seed: u64) {
    let rig = Rig::new(protocol);
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % 1000
    };
    for _ in 0..5 {
        let mut child = rig.spawn(None);
        std::thread::sleep(Duration::from_millis(150 + next()));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    rig.run(2.0);
    rig.assert_consistent(2);
    assert!(rig.log().contains("(3 restored, 0 new)"), "{}", rig.log());
}

#[test]
fn killed_and_restarted_collectors_reuse_no_sequence_in_one_shot_mode() {
    crash_and_restart(Protocol::Https, 17);
}

#[test]
fn killed_and_restarted_collectors_lose_nothing_in_session_mode() {
    crash_and_restart(Protocol::Link, 42);
}

#[test]
fn a_collector_that_lost_its_state_is_not_started_afresh_by_mistake() {
    let rig = Rig::new(Protocol::Https);
    rig.run(2.0);
    rig.assert_consistent(1);
    let state = rig.dir.path().join("state.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", state.display()));
    }
    // Without --init it does not start, and says what to do.
    let out = Command::new(env!("CARGO_BIN_EXE_printfleet"))
        .args(["collect", "--config", rig.config.to_str().unwrap(), "--run-for", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not exist") && stderr.contains("printfleet device rekey"), "{stderr}");
    assert!(!state.exists());
    // Why: started afresh under the same key epochs, its one-shot frames are replays.
    rig.init();
    rig.run(1.0);
    rig.portal.as_ref().unwrap().with(|s| {
        let replays = s
            .ingest
            .counters()
            .refusals()
            .filter(|(r, _)| *r == Refusal::Frame(RejectReason::Replay))
            .map(|(_, n)| n)
            .sum::<u64>();
        assert!(replays > 0, "{:?}", s.ingest.counters().refusals().collect::<Vec<_>>());
    });
    // And --init never replaces a state.
    let out = Command::new(env!("CARGO_BIN_EXE_printfleet"))
        .args(["collect", "--config", rig.config.to_str().unwrap(), "--init", "--run-for", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--init creates one for a first start only"));
}

#[test]
fn a_slow_printer_holds_back_no_other_report() {
    // The first printer answers each SNMP request after 400 ms: its walk takes several seconds.
    let rig = Rig::with_slow_first(Protocol::Link, None, Some(Duration::from_millis(400)));
    let mut child = rig.spawn(Some(60.0));
    std::thread::sleep(Duration::from_secs(4));
    child.kill().unwrap();
    child.wait().unwrap();
    let log = rig.log();
    rig.portal.as_ref().unwrap().with(|s| {
        for (i, capture_name) in CAPTURES.iter().enumerate() {
            let stored = s.stored.states.contains_key(&sender_id_of(&format!("sim-{capture_name}")));
            assert_eq!(stored, i != 0, "{capture_name}: reported {stored}\n{log}");
        }
    });
}

#[test]
fn a_slow_printer_holds_back_no_other_round() {
    // The first printer's walk takes several seconds (400 ms a request); every half second a
    // 30-minute interval passes and the others are due again.
    let rig = Rig::with_slow_first(Protocol::Link, None, Some(Duration::from_millis(400)));
    rig.run(4.0);
    let log = rig.log();
    let summary = log.split("collector stopping: ").nth(1).unwrap_or_else(|| panic!("no summary\n{log}"));
    let count = |label: &str| -> u64 {
        let rest = summary.split(label).nth(1).unwrap_or_else(|| panic!("no {label:?}\n{log}"));
        rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok()).unwrap()
    };
    let (reads, skipped) = (count("reads "), count("skipped "));
    // Before, no round started until the slow read had ended: one read of each fast printer.
    let fast = (CAPTURES.len() - 1) as u64;
    assert!(reads >= 3 * fast, "{reads} reads: the others were read once per round of the slow one\n{log}");
    // The slow printer is not read twice at once.
    assert!(skipped >= 1, "{skipped} skipped\n{log}");
    assert!(log.contains(&format!("read sim-{}: skipped, its previous read has not ended", CAPTURES[0])), "{log}");
}

#[test]
fn the_collector_handshakes_again_when_the_portal_ends_its_sessions() {
    // Sessions of one simulated hour: the portal closes each channel about every second.
    let rig = Rig::with(Protocol::Link, Some(DurationMs(3_600_000)));
    rig.run(4.0);
    rig.assert_consistent(4);
    let log = rig.log();
    let handshakes: u64 = log
        .split("handshakes ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{log}"));
    assert!(handshakes >= 6, "{handshakes} handshakes: every closed channel was opened again\n{log}");
}

#[test]
fn the_collector_reconnects_after_the_portal_goes_away_and_comes_back() {
    let mut rig = Rig::new(Protocol::Link);
    let addr = rig.portal.as_ref().unwrap().addr;
    let mut child = rig.spawn(Some(6.0));
    std::thread::sleep(Duration::from_millis(1500));
    // The portal goes away (every connection dropped), and comes back on the same address.
    rig.portal = None;
    std::thread::sleep(Duration::from_millis(1000));
    let clock = Clock::accelerated(SPEED, Some(rig.origin)).unwrap();
    let names: Vec<&str> = rig.names.iter().map(String::as_str).collect();
    rig.portal = Some(TestPortal::start_with(&rig.pki, Protocol::Link, &names, clock, addr, None));
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", rig.log());
    // The new portal got reports from every printer after the loss.
    rig.assert_consistent(1);
    let log = rig.log();
    assert!(log.contains("portal link lost") || log.contains("the portal closed the connection"), "{log}");
    assert!(log.contains("connects 2") || log.contains("connects 3"), "{log}");
}
