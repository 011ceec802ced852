//! Scratch: prints a small run's summary.
#![allow(clippy::unwrap_used, missing_docs)]
use printfleet_sim::*;
fn main() {
    let printers: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let days: u32 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    let mix = match std::env::args().nth(3).as_deref() { Some("sds") => Mix::SDS_STYLE, Some("lf") => Mix::only(Kind::LargeFormat), _ => Mix::default() };
    let t = std::time::Instant::now();
    let s = run_in_memory(&FleetConfig { seed: 1, printers, mix, ..FleetConfig::default() }, days).unwrap();
    println!("{:?}", t.elapsed());
    for k in &s.per_kind { println!("{:?} dev {} ours/dd {} (up {} down {}) naive/dd {} reports {}", k.kind, k.devices, k.ours_per_device_day(), k.ours_up, k.ours_down, k.naive_per_device_day(), k.reports); }
    let mut s2 = s.clone(); s2.per_kind.clear();
    println!("{s2:#?}");
}
