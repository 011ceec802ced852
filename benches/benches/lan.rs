//! Discovery and polling on loopback with printfleet-lan, against simulated SNMP v2c agents
//! (`printfleet_lan::sim`, serving the LibreNMS captures), concurrency 64:
//!
//! * `discover /24`: 254 addresses of 127.0.20.0/24, 50 of them printers, the rest refusing;
//! * `poll round 200`: a full walk and mapping of 200 printers on 127.0.21.1-200.
//!
//! Before criterion runs, each is timed once and its peak resident memory printed (the
//! process's VmHWM after resetting it through `/proc/self/clear_refs`, Linux; the simulated
//! agents live in the same process and are counted too):
//! `cargo bench -p printfleet-benches --bench lan` (or `-- --test` to run each once).

// Benchmark set-up on fixed inputs: a failure is a bug to see at once.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use printfleet_lan::config::PollConfig;
use printfleet_lan::identity::Inventory;
use printfleet_lan::poll::{PollTarget, poll_round};
use printfleet_lan::sim::{SimAgent, load_snmprec};
use printfleet_lan::target::Targets;
use printfleet_lan::{Tally, discover};

const CAPTURES: [&str; 6] = ["brother", "epson", "jetdirect_m252dw", "jetdirect_m880", "sharp", "xerox"];
const CONCURRENCY: usize = 64;
const DISCOVERY_PRINTERS: u8 = 50;
const POLL_PRINTERS: u8 = 200;

fn captures() -> Vec<Arc<printfleet_sources::snmp::Bindings>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/third-party/librenms/printer-mib");
    CAPTURES.iter().map(|c| load_snmprec(&dir.join(format!("{c}.snmprec"))).unwrap()).collect()
}

/// Agents on `net.1 ..= net.count`, one port for all (the first one's).
fn agents(net: [u8; 3], count: u8) -> (Vec<SimAgent>, u16) {
    let captures = captures();
    let mut port = 0;
    let mut out = Vec::new();
    for i in 1..=count {
        let address = Ipv4Addr::new(net[0], net[1], net[2], i);
        let bindings = Arc::clone(&captures[usize::from(i) % captures.len()]);
        let agent = SimAgent::start(SocketAddr::from((address, port)), b"public", bindings).unwrap();
        port = agent.address().port();
        out.push(agent);
    }
    (out, port)
}

fn config(port: u16) -> PollConfig {
    PollConfig {
        snmp_port: port,
        timeout: Duration::from_secs(2),
        retries: 1,
        concurrency: CONCURRENCY,
        ..PollConfig::default()
    }
}

/// Peak resident memory (VmHWM) since the last reset, in KiB, and a reset; `None` off Linux.
fn peak_kib_and_reset() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    kib
}

fn once(name: &str, run: impl FnOnce() -> Tally) {
    peak_kib_and_reset();
    let started = Instant::now();
    let tally = run();
    let wall = started.elapsed();
    let peak = peak_kib_and_reset().map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    eprintln!("lan: {name}: {wall:.2?} wall, peak RSS {peak} ({tally})");
}

fn discovery(c: &mut Criterion) {
    let (_agents, port) = agents([127, 0, 20], DISCOVERY_PRINTERS);
    let mut targets = Targets::default();
    targets.include("127.0.20.0/24").unwrap();
    let addresses = targets.expand().unwrap();
    let config = config(port);
    once("discover /24 (50 printers, 204 refusing), concurrency 64", || {
        let round = discover(&addresses, &config, &mut Inventory::default());
        assert_eq!(round.tally.ok, u64::from(DISCOVERY_PRINTERS));
        round.tally
    });
    let mut g = c.benchmark_group("lan");
    g.sample_size(10);
    g.bench_function("discover /24, concurrency 64", |b| {
        b.iter(|| black_box(discover(&addresses, &config, &mut Inventory::default())))
    });
    g.finish();
}

fn polling(c: &mut Criterion) {
    let (_agents, port) = agents([127, 0, 21], POLL_PRINTERS);
    let targets: Vec<PollTarget> =
        (1..=POLL_PRINTERS).map(|i| PollTarget::Snmp(SocketAddr::from(([127, 0, 21, i], port)))).collect();
    let config = config(port);
    once("poll round of 200 printers, concurrency 64", || {
        let round = poll_round(&targets, &config);
        assert_eq!(round.tally.ok, u64::from(POLL_PRINTERS));
        round.tally
    });
    let mut g = c.benchmark_group("lan");
    g.sample_size(10);
    g.bench_function("poll round 200, concurrency 64", |b| b.iter(|| black_box(poll_round(&targets, &config))));
    g.finish();
}

criterion_group!(benches, discovery, polling);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
