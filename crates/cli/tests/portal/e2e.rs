//! End to end with the real binaries: `printfleet portal` (its own state dir and CA, on SQLite or
//! PostgreSQL) and `printfleet collect` (session mode, bundles under its own identity) polling
//! simulated SNMP printers that serve
//! LibreNMS captures, beside a device reporting directly over HTTPS with print jobs, all on one
//! accelerated clock (`--clock-speed`, `--clock-origin`) for simulated days. Both processes are
//! killed with SIGKILL at seeded random points, several times each, and restarted. At the end,
//! from the store: every device's state equals what it reported (a capture's mapping, the direct
//! device's agent), every job is stored exactly once, no portal counted a refused frame, no
//! answered frame is accepted again, and `printfleet bill` bills exactly the counters' advance.
//!
//! SNMP carries no print jobs: the collector's path is checked for states and counters, the
//! direct device's for jobs. The captures' counters do not move by themselves: the `sharp`
//! capture's page counters are raised between phases (its simulated agent restarted on the
//! same address with the new values), so that billing has an advance to check.

use std::collections::BTreeMap;
use std::process::Child;
use std::time::{Duration, Instant};

use printfleet_cli::collect::Clock;
use printfleet_cli::portal::Db;
use printfleet_lan::sim::SimAgent;
use printfleet_meter::{BillingPeriod, Category, CategoryTerms, DeviceId, Price, Terms};
use printfleet_schema::{Level, MeterKind};
use printfleet_sources::snmp::Bindings;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use crate::*;

/// Simulated time runs this much faster: a 30-minute poll interval every 0.25 s, a simulated
/// day in 12 s.
const SPEED: u32 = 7200;
/// The captures served (LibreNMS tests/snmpsim, see testdata/third-party/librenms/).
const CAPTURES: [&str; 4] = ["brother", "epson", "jetdirect_m252dw", "sharp"];
/// The capture whose page counters advance, and by how much at each phase (from its own value).
const ADVANCING: &str = "sharp";
const ADVANCES: [u64; 3] = [0, 300, 1_234];
/// Its counters that move together: `prtMarkerLifeCount` (total) and the vendor's
/// black-and-white total (mono), so that the mapping sees no disagreement.
const ADVANCING_OIDS: [&str; 2] = ["1.3.6.1.2.1.43.10.2.1.4.1.1", "1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.61"];
/// Real time per phase; one kill of each process at a random point in each phase.
const PHASE: Duration = Duration::from_secs(5);
/// The last, quiet run of the collector (real seconds) in which everything pending is delivered.
const QUIET_SECONDS: f64 = 4.0;
/// How long the first report of the advancing printer may take to be stored.
const FIRST_REPORT_TIMEOUT: Duration = Duration::from_secs(30);
/// The collector's own name at the portal (its printers are provisioned with it: bundles).
const SITE: &str = "e2e-site";
/// The device that reports directly (one-shot HTTPS), with print jobs.
const DIRECT: &str = "e2e-direct";
/// Its report interval, simulated.
const DIRECT_INTERVAL_MS: u64 = 30 * 60 * 1000;
/// The contract every device is on.
const CONTRACT: u64 = 3;

fn capture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../testdata/third-party/librenms/printer-mib/{name}.snmprec"))
}

/// A capture's text with the advancing counters raised by `by`.
fn advanced(text: &str, by: u64) -> String {
    let mut found = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, '|');
            let (Some(oid), Some(tag), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
                return line.to_owned();
            };
            if !ADVANCING_OIDS.contains(&oid) {
                return line.to_owned();
            }
            found += 1;
            format!("{oid}|{tag}|{}", value.trim().parse::<u64>().unwrap() + by)
        })
        .collect();
    assert_eq!(found, ADVANCING_OIDS.len(), "the capture carries the advancing counters");
    lines.join("\n") + "\n"
}

fn bindings(text: &str) -> Arc<Bindings> {
    Arc::new(Bindings::from_snmprec(text).unwrap())
}

/// What a capture maps to, as the collector reports it (personal data dropped).
fn expected_state(text: &str) -> printfleet_diff::DeviceState {
    let report = printfleet_sources::snmp::printer_mib::map_snmprec(text.as_bytes()).unwrap().report;
    Redaction::drop_all().apply_to(printfleet_diff::DeviceState::from(&report)).into_inner()
}

/// `YYYY-MM` and `YYYY-MM-DD` of a timestamp (UTC; H. Hinnant's `civil_from_days`).
fn civil(t: Timestamp) -> (String, String) {
    let z = (t.unix_millis() / 86_400_000) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (format!("{y:04}-{m:02}"), format!("{y:04}-{m:02}-{d:02}"))
}

fn kill_9(child: &mut Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

/// A collector process, killed (SIGKILL) when dropped, so that a failed assertion leaves no
/// process behind.
struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        kill_9(&mut self.0);
    }
}

/// The sum of `printfleet_frames_rejected_total` over every reason.
fn rejected(portal: &Portal) -> u64 {
    let (_, text) = portal.get("/metrics");
    text.lines()
        .filter(|l| l.starts_with("printfleet_frames_rejected_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

struct Run {
    home: Home,
    clock: Clock,
    origin: Timestamp,
    portal: Portal,
    https: String,
    tcp: String,
    config: PathBuf,
}

impl Run {
    fn clock_args(&self) -> [String; 4] {
        ["--clock-speed".into(), SPEED.to_string(), "--clock-origin".into(), self.origin.unix_millis().to_string()]
    }

    fn restart_portal(&mut self) {
        let args = self.clock_args();
        let extra: Vec<&str> = args.iter().map(String::as_str).collect();
        let portal = self.home.start_at(&self.https, &self.tcp, &extra);
        drop(std::mem::replace(&mut self.portal, portal));
    }

    fn collector(&self, run_for: Option<f64>) -> Collector {
        let mut command = Command::new(env!("CARGO_BIN_EXE_printfleet"));
        command.args(["collect", "--config", self.config.to_str().unwrap()]).args(self.clock_args());
        // Killed by the test, or stopping by itself at the latest after the harness's bound.
        command.args(["--run-for", &run_for.unwrap_or(HARNESS_BOUND.as_secs_f64()).to_string()]);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.dir.path().join("collector.log"))
            .unwrap();
        Collector(command.stdout(Stdio::null()).stderr(log).spawn().unwrap())
    }

    fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.home.dir.path().join(f)).unwrap_or_default();
        let tail =
            |s: String| s.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        format!("--- portal.log\n{}\n--- collector.log\n{}", tail(read("portal.log")), tail(read("collector.log")))
    }
}

/// The whole run on the database `home` names; `seed` chooses the kill points and the direct
/// device's jobs and readings.
pub(crate) fn run(home: Home, seed: u64) {
    let started = Instant::now();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let origin = Clock::real().now();
    let clock = Clock::accelerated(SPEED, Some(origin)).unwrap();

    // Provisioning and the contract, with the real binary.
    let names: Vec<String> = CAPTURES.iter().map(|c| format!("e2e-{c}")).collect();
    // The collector reports its printers in bundles under its own identity.
    let (_, site_secret) = home.add_device(SITE);
    let secrets: Vec<(SenderId, DeviceSecret)> = names.iter().map(|n| home.add_device_with(n, Some(SITE))).collect();
    let (direct_sender, direct_secret) = home.add_device(DIRECT);
    let mut terms = Terms::default();
    terms.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(1, 1).unwrap()));
    let terms_path = home.dir.path().join("terms.json");
    std::fs::write(&terms_path, serde_json::to_string(&terms).unwrap()).unwrap();
    let month_start = BillingPeriod::MONTHLY.start(BillingPeriod::MONTHLY.period_of(origin)).unwrap();
    let out = printfleet(&[
        "contract",
        "set",
        &CONTRACT.to_string(),
        "--terms",
        terms_path.to_str().unwrap(),
        "--starts",
        &civil(month_start).1,
        "--db",
        &home.db(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The simulated printers.
    let texts: Vec<String> = CAPTURES
        .iter()
        .map(|c| String::from_utf8_lossy(&std::fs::read(capture_path(c)).unwrap()).into_owned())
        .collect();
    let advancing = CAPTURES.iter().position(|c| *c == ADVANCING).unwrap();
    let mut sims: Vec<Option<SimAgent>> = texts
        .iter()
        .map(|t| Some(SimAgent::start("127.0.0.1:0".parse().unwrap(), b"public", bindings(t)).unwrap()))
        .collect();

    // The portal on ports chosen once, kept across restarts (the collector's config names them).
    let first = home.start(&[]);
    let (https, tcp) = (first.https.to_string(), first.tcp.to_string());
    assert!(first.stop().success());
    let ca = home.dir.path().join("state").join(printfleet_cli::portal::CA_CERT_FILE);
    let printers: Vec<serde_json::Value> = names
        .iter()
        .zip(&secrets)
        .zip(&sims)
        .map(|((name, (_, secret)), sim)| {
            let secret = base64::engine::general_purpose::STANDARD.encode(&*secret.to_bytes());
            let target = sim.as_ref().unwrap().address().to_string();
            // The first printer's secret stays at the portal: the collector reports it in
            // bundles only, with no key of its own.
            if name == &names[0] {
                return serde_json::json!({ "name": name, "target": target });
            }
            serde_json::json!({ "name": name, "target": target, "secret": secret, "epoch": 1 })
        })
        .collect();
    let identity = serde_json::json!({
        "name": SITE,
        "secret": base64::engine::general_purpose::STANDARD.encode(&*site_secret.to_bytes()),
        "epoch": 1,
    });
    let config = serde_json::json!({
        "portal": { "mode": "session", "tcp": tcp, "ca": ca },
        "identity": identity,
        "state": home.dir.path().join("collector.sqlite"),
        "interval_minutes": 30,
        "lan": { "community": "public", "timeout_ms": 300, "retries": 1 },
        "printers": printers,
    });
    let config_path = home.dir.path().join("collector.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    // The collector's state, created once when it is installed.
    let init = Command::new(env!("CARGO_BIN_EXE_printfleet"))
        .args(["collect", "--config", config_path.to_str().unwrap(), "--init"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let clock_args =
        ["--clock-speed".to_owned(), SPEED.to_string(), "--clock-origin".to_owned(), origin.unix_millis().to_string()];
    let portal = home.start_at(&https, &tcp, &clock_args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut run = Run { home, clock, origin, portal, https, tcp, config: config_path };
    let mut http = run.portal.http();

    // The direct device.
    let mut direct = agent(DIRECT, &direct_secret, 1, DIRECT_INTERVAL_MS);
    let mut reading = reading();
    let first_total = reading.snapshot.meters.get(&MeterKind::TOTAL).unwrap();
    let mut jobs = 0u64;
    let mut answered: Vec<Vec<u8>> = Vec::new();
    let mut rejections = 0u64;
    // Its first report, delivered before any other, is the meter's baseline.
    direct.handle_reading(run.clock.now(), reading.clone());
    deliver(&run, &http, &mut direct, &mut answered);
    assert_eq!(answered.len(), 1, "the first report was answered\n{}", run.logs());

    let mut collector = run.collector(None);
    let (mut portal_kills, mut collector_kills) = (0, 0);
    for (phase, by) in ADVANCES.into_iter().enumerate() {
        if phase > 0 {
            // The printer's counters move: the same address serves the raised values.
            let addr = sims[advancing].take().unwrap().address(); // stopped: the address is free
            sims[advancing] =
                Some(SimAgent::start(addr, b"public", bindings(&advanced(&texts[advancing], by))).unwrap());
        }
        let kill_portal_at = Duration::from_millis(500 + rng.next_u64() % 4_000);
        let kill_collector_at = Duration::from_millis(500 + rng.next_u64() % 4_000);
        let (mut portal_killed, mut collector_killed) = (false, false);
        let phase_start = Instant::now();
        while phase_start.elapsed() < PHASE {
            let now = run.clock.now();
            match rng.next_u32() % 4 {
                0 => {
                    jobs += 1;
                    direct.handle_job(now, job(jobs, u64::from(rng.next_u32() % 5 + 1)));
                }
                1 => {
                    reading.snapshot.consumables[0].level = Level::Amount(rng.next_u32() % 100);
                    let total = reading.snapshot.meters.get(&MeterKind::TOTAL).unwrap();
                    reading.snapshot.meters.0.insert(MeterKind::TOTAL, total + 7);
                    direct.handle_reading(now, reading.clone());
                }
                _ => {}
            }
            deliver(&run, &http, &mut direct, &mut answered);
            if !portal_killed && phase_start.elapsed() >= kill_portal_at {
                rejections += rejected(&run.portal);
                kill_9(&mut run.portal.child);
                run.restart_portal();
                http = run.portal.http();
                portal_killed = true;
                portal_kills += 1;
            }
            if !collector_killed && phase_start.elapsed() >= kill_collector_at {
                kill_9(&mut collector.0);
                collector = run.collector(None);
                collector_killed = true;
                collector_kills += 1;
            }
            std::thread::sleep(Duration::from_millis(u64::from(rng.next_u32() % 60) + 20));
        }
        if phase == 0 {
            // The counters' first value must be stored before they move, or there is no advance
            // to bill.
            let mut store = Db::parse(&run.home.db()).unwrap().open().unwrap();
            let device = DeviceId(secrets[advancing].0.0);
            let deadline = Instant::now() + FIRST_REPORT_TIMEOUT;
            while !store
                .meter_readings(Timestamp::UNIX_EPOCH, Timestamp::MAX)
                .unwrap()
                .iter()
                .any(|o| o.key.device == device && o.kind == Category::TOTAL)
            {
                assert!(Instant::now() < deadline, "no report of {ADVANCING} stored\n{}", run.logs());
                deliver(&run, &http, &mut direct, &mut answered);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    kill_9(&mut collector.0);
    assert!(portal_kills >= 3 && collector_kills >= 3, "{portal_kills} portal and {collector_kills} collector kills");

    // Quiet: the collector runs to its end; the direct device delivers everything pending.
    let mut last = run.collector(Some(QUIET_SECONDS));
    let deadline = Instant::now() + Duration::from_secs_f64(QUIET_SECONDS + 30.0);
    loop {
        deliver(&run, &http, &mut direct, &mut answered);
        if let Some(status) = last.0.try_wait().unwrap() {
            assert!(status.success(), "collector failed: {status}\n{}", run.logs());
            break;
        }
        assert!(Instant::now() < deadline, "the collector did not stop\n{}", run.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its last run sent bundles, under its own session: one handshake, no printer's own.
    let log = std::fs::read_to_string(run.home.dir.path().join("collector.log")).unwrap();
    let last_run = log.lines().rev().find(|l| l.contains("collector stopping")).unwrap_or_default().to_owned();
    assert!(!last_run.contains("(bundles 0)") && last_run.contains("(bundles "), "{last_run}\n{}", run.logs());
    assert!(last_run.contains("handshakes 1 (failed 0)"), "{last_run}");
    // A simulated hour more for the direct device's retries (each within two minutes).
    for _ in 0..20 {
        deliver(&run, &http, &mut direct, &mut answered);
        std::thread::sleep(Duration::from_millis(25));
    }
    rejections += rejected(&run.portal);
    assert_eq!(rejections, 0, "frames refused\n{}", run.logs());
    // No answered frame of the direct device is accepted again.
    for frame in &answered {
        assert_eq!(run.portal.post(&http, frame).unwrap(), (400, b"frame rejected".to_vec()), "replay");
    }
    let end = run.clock.now();
    assert!(run.portal.stop().success());

    // From the store.
    let mut store = Db::parse(&run.home.db()).unwrap().open().unwrap();
    for (i, (sender, _)) in secrets.iter().enumerate() {
        let by = if i == advancing { ADVANCES[ADVANCES.len() - 1] } else { 0 };
        let expected = expected_state(&advanced_or(&texts[i], i == advancing, by));
        let stored = store.device_state(*sender).unwrap().unwrap_or_else(|| panic!("{}: no state", names[i]));
        assert_eq!(stored.identity, expected.identity, "{}", names[i]);
        assert_eq!(stored.snapshot.meters, expected.snapshot.meters, "{}", names[i]);
        assert!(store.job_sequences(*sender).unwrap().is_empty(), "SNMP carries no jobs");
    }
    assert_eq!(store.device_state(direct_sender).unwrap().as_ref(), direct.current(), "{DIRECT}: state");
    let mut stored_jobs = store.job_sequences(direct_sender).unwrap();
    stored_jobs.sort_unstable();
    assert_eq!(stored_jobs, (1..=jobs).collect::<Vec<_>>(), "every job exactly once");
    assert!(jobs >= 3, "seed {seed}: only {jobs} jobs");
    let last_total = reading.snapshot.meters.get(&MeterKind::TOTAL).unwrap();
    drop(store);

    // `printfleet bill` for every month the run touched, closed a day after the last.
    let mut billed: BTreeMap<String, i64> = BTreeMap::new();
    let period = BillingPeriod::MONTHLY;
    let mut p = period.period_of(origin);
    let close_at = civil(period.end(period.period_of(end)).unwrap().checked_add(DurationMs(86_400_000)).unwrap()).1;
    while p <= period.period_of(end) {
        let month = civil(period.start(p).unwrap()).0;
        let out_dir = run.home.dir.path().join(format!("bill-{month}"));
        let out = printfleet(&[
            "bill",
            "--period",
            &month,
            "--db",
            &run.home.db(),
            "--out",
            out_dir.to_str().unwrap(),
            "--at",
            &close_at,
        ]);
        assert!(out.status.success(), "bill {month}: {}", String::from_utf8_lossy(&out.stderr));
        let usage = std::fs::read_to_string(out_dir.join("usage.csv")).unwrap();
        let mut lines = usage.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (serial, category, quantity) = (col("serial"), col("category"), col("quantity"));
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            if cells[category] == "total" {
                *billed.entry(cells[serial].to_owned()).or_default() += cells[quantity].parse::<i64>().unwrap();
            }
        }
        p = p.next().unwrap();
    }
    let advance = |name: &str| billed.get(name).copied().unwrap_or(0);
    for (i, name) in names.iter().enumerate() {
        let expected = if i == advancing { ADVANCES[ADVANCES.len() - 1] as i64 } else { 0 };
        assert_eq!(advance(name), expected, "{name}: billed = the counters' advance ({billed:?})");
    }
    assert_eq!(advance(DIRECT), (last_total - first_total) as i64, "{DIRECT}: billed = the counter's advance");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the run took {:?} (simulated {} h)",
        started.elapsed(),
        end.unix_millis().saturating_sub(origin.unix_millis()) / 3_600_000
    );
    eprintln!(
        "e2e: {:?} real, {} simulated hours, {portal_kills} portal and {collector_kills} collector kills, {jobs} jobs, \
         billed {billed:?}",
        started.elapsed(),
        end.unix_millis().saturating_sub(origin.unix_millis()) / 3_600_000
    );
}

/// The direct device's turn: its timers, then whatever it sends, posted; the reply handled.
fn deliver(run: &Run, http: &ureq::Agent, direct: &mut DeviceAgent, answered: &mut Vec<Vec<u8>>) {
    let now = run.clock.now();
    direct.handle_timeout(now);
    if let Some(t) = pump(direct, now)
        && let Ok((200, reply)) = run.portal.post(http, &t.frame)
    {
        direct.handle_frame(now, &reply);
        answered.push(t.frame);
    }
}

fn advanced_or(text: &str, advancing: bool, by: u64) -> String {
    if advancing { advanced(text, by) } else { text.to_owned() }
}

#[test]
fn sqlite_real_portal_and_collector_killed_and_restarted() {
    run(Home::new(), 17);
}

/// The same run on PostgreSQL, in a schema of its own, when `PRINTFLEET_POSTGRES_URL` names a
/// server (`crates/store/tests/postgres.sh -- cargo test ...` starts one); skipped with a
/// notice otherwise.
#[cfg(feature = "postgres")]
#[test]
fn postgres_real_portal_and_collector_killed_and_restarted() {
    let Ok(url) = std::env::var("PRINTFLEET_POSTGRES_URL") else {
        eprintln!("notice: PRINTFLEET_POSTGRES_URL is unset: the PostgreSQL end-to-end run is skipped");
        return;
    };
    assert!(url.starts_with("postgres://") || url.starts_with("postgresql://"), "a URL, not key=value");
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
    let schema = format!("e2e_{}_{nanos}", std::process::id());
    // Creates the schema (and its tables); the binaries find them through search_path.
    drop(printfleet_store::PostgresStore::connect_in_schema(&url, &schema).unwrap());
    let sep = if url.contains('?') { '&' } else { '?' };
    run(Home::with_db(format!("{url}{sep}options=-csearch_path%3D{schema}")), 23);
}
