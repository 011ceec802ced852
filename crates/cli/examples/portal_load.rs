//! Load run: a portal in-process on 127.0.0.1 (SQLite in a temporary directory), N devices
//! provisioned, each reporting R updates over HTTPS (one-shot frames, keep-alive connections)
//! from C client threads; prints updates/s and latency percentiles as JSON.
//!
//! ```sh
//! cargo run --release -p printfleet-cli --example portal_load -- [DEVICES] [ROUNDS] [CLIENT_THREADS]
//! ```
//! Defaults: 1000 devices, 5 rounds, 64 threads (each thread owns DEVICES / THREADS devices and
//! sends one update per device per round, so up to THREADS requests are in flight at once).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use printfleet_agent::{AgentError, DeviceAgent, Schedule};
use printfleet_auth::one_shot;
use printfleet_cli::portal::{Db, DeviceSpec, PortalConfig, RunningPortal, provision};
use printfleet_diff::sync::Instance;
use printfleet_ingest::{CustomerId, ResellerId};
use printfleet_meter::{ContractId, DeviceId};
use printfleet_schema::{DurationMs, MeterKind, Redaction, Timestamp, samples};
use printfleet_wire::frame::OsRng;

fn main() {
    let arg = |i: usize, d: usize| std::env::args().nth(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (devices, rounds, threads) = (arg(1, 1000), arg(2, 5), arg(3, 64).max(1));
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Sqlite(dir.path().join("portal.db"));
    let state = dir.path().join("state");
    let portal = RunningPortal::start(
        PortalConfig::new(db.clone(), &state)
            .https_listen("127.0.0.1:0".parse().unwrap())
            .tcp_listen("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap();
    let mut store = db.open().unwrap();
    let mut agents = Vec::new();
    for i in 0..devices {
        let name = format!("load-{i}");
        let spec = DeviceSpec {
            name: name.clone(),
            reseller: ResellerId(1),
            customer: CustomerId(1),
            contract: ContractId(1),
            meter_device: DeviceId(i as u64),
            collector: None,
        };
        let p = provision(&state, &mut *store, spec).unwrap();
        let key = one_shot::frame_key(&p.secret, &name, p.epoch);
        let schedule = Schedule::direct().with_interval(DurationMs(60_000)).unwrap();
        agents.push(DeviceAgent::new(p.sender, &key, Redaction::drop_all(), schedule, Instance(1)));
    }
    drop(store);
    let ca = ureq::tls::Certificate::from_pem(portal.ca_pem().as_bytes()).unwrap();
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![ca]))).build();
    let url = format!("https://localhost:{}/v1/frames", portal.https_addr().port());
    let start_time = Timestamp::try_from(std::time::SystemTime::now()).unwrap();
    let mut chunks: Vec<Vec<DeviceAgent>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, a) in agents.into_iter().enumerate() {
        chunks[i % threads].push(a);
    }
    let started = Instant::now();
    let workers: Vec<_> = chunks
        .into_iter()
        .map(|mut mine| {
            let (url, tls) = (url.clone(), tls.clone());
            std::thread::spawn(move || {
                let http: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
                let mut rng = OsRng::default();
                let mut latencies = Vec::new();
                for round in 0..rounds as u64 {
                    let now = start_time.checked_add(DurationMs(round * 60_000)).unwrap();
                    for agent in &mut mine {
                        let mut r = samples::office_laser();
                        r.events.print_jobs.clear();
                        r.snapshot.meters.0.insert(MeterKind::TOTAL, 1_000 + round * 17);
                        agent.handle_reading(now, r);
                        agent.handle_timeout(now);
                        let saved = agent.poll_transmit_saving(now, &mut rng, |_| Ok::<(), AgentError>(()));
                        let Some(frame) = saved.unwrap().map(|t| t.frame) else { continue };
                        let sent = Instant::now();
                        let mut resp = http
                            .post(&url)
                            .header("Content-Type", "application/octet-stream")
                            .send(&frame[..])
                            .unwrap();
                        let reply = resp.body_mut().read_to_vec().unwrap();
                        latencies.push(sent.elapsed());
                        agent.handle_frame(now, &reply);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
    let counters = portal.counters();
    println!(
        "{}",
        serde_json::json!({
            "devices": devices, "rounds": rounds, "client_threads": threads,
            "updates": latencies.len(),
            "seconds": elapsed.as_secs_f64(),
            "updates_per_s": latencies.len() as f64 / elapsed.as_secs_f64(),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0),
            "frames_accepted": counters.frames_accepted,
            "transactions": counters.batches,
            "mean_group": counters.batched_frames as f64 / counters.batches.max(1) as f64,
            "largest_group": counters.largest_group,
        })
    );
    portal.shutdown();
}
