//! Scratch: prints a small run's summary.
#![allow(clippy::unwrap_used, missing_docs)]
use printfleet_sim::*;
fn main() {
    let printers: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let days: u32 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    let mix = match std::env::args().nth(3).as_deref() { Some("sds") => Mix::SDS_STYLE, Some("lf") => Mix::only(Kind::LargeFormat), _ => Mix::default() };
    let config = FleetConfig { seed: 1, printers, mix, ..FleetConfig::default() };
    let t = std::time::Instant::now();
    let mut fleet = Fleet::new(config.clone()).unwrap();
    let mut ev = Vec::new();
    fleet.advance(config.start.checked_add(printfleet_schema::DurationMs(u64::from(days) * 86_400_000)).unwrap(), &mut ev);
    println!("sim only: {:?} for {} events", t.elapsed(), ev.len());
    let t = std::time::Instant::now();
    let s = run_in_memory(&config, days).unwrap();
    println!("run: {:?}", t.elapsed());
    for k in &s.per_kind { println!("{:?} dev {} ours/dd {} (up {} down {}) naive/dd {} reports {}", k.kind, k.devices, k.ours_per_device_day(), k.ours_up, k.ours_down, k.naive_per_device_day(), k.reports); }
}
