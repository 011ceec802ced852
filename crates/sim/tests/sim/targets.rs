//! Issue #18's byte targets, measured with `run_in_memory` (bytes are deterministic, not
//! timings). Where a target is not met, a test pins what is achieved (so that a regression
//! fails) and an ignored test states the target; the figures and why are in CHANGELOG.md.

use std::sync::OnceLock;

use printfleet_agent::COLLECTOR_MIN_INTERVAL;
use printfleet_sim::{Faults, FleetConfig, Kind, KindSummary, Mix, Summary, run_in_memory, run_in_memory_with};

/// An SDS-style fleet: status, consumables, alerts and meters, every printer read by a LAN
/// monitor (a collector), which sends bundles (`run_in_memory`) or, with `bundles` false, one
/// frame per printer.
fn sds(bundles: bool) -> Summary {
    let config =
        FleetConfig { seed: 18, printers: 60, mix: Mix::SDS_STYLE, collector_share: 100, ..FleetConfig::default() };
    run_in_memory_with(&config, 7, bundles).unwrap()
}

/// A job-heavy large-format fleet: `collected` % of it read by a Partner Link Data Collector
/// (bundles), the rest reporting with the direct connection firmware.
fn large_format(collected: u8) -> Summary {
    let config = FleetConfig {
        seed: 18,
        printers: 12,
        mix: Mix::only(Kind::LargeFormat),
        large_format_collector_share: collected,
        ..FleetConfig::default()
    };
    run_in_memory(&config, 7).unwrap()
}

/// A collector of 1,000 printers reporting every 30 minutes, for a day: simulated once for the
/// two tests that read it (about 40 s in a debug build).
fn collector() -> &'static Summary {
    static COLLECTOR: OnceLock<Summary> = OnceLock::new();
    COLLECTOR.get_or_init(collector_day)
}

fn collector_day() -> Summary {
    let config = FleetConfig {
        seed: 18,
        printers: 1_000,
        mix: Mix::SDS_STYLE,
        collector_share: 100,
        site_size: 1_000,
        collector_interval: COLLECTOR_MIN_INTERVAL,
        faults: Faults::NONE,
        ..FleetConfig::default()
    };
    run_in_memory(&config, 1).unwrap()
}

fn show(name: &str, k: &KindSummary) {
    println!(
        "{name}: ours {} B/device-day (up {}, down {}), naive {} B/device-day, ratio {:.2}, {} reports",
        k.ours_per_device_day(),
        k.ours_up,
        k.ours_down,
        k.naive_per_device_day(),
        k.naive_per_device_day() as f64 / k.ours_per_device_day() as f64,
        k.reports
    );
}

/// 0.01 % of a 5 Mbit/s line over one 30-minute interval, in bytes.
const LINE_SHARE_BYTES: u64 = 5_000_000 / 8 / 10_000 * 30 * 60;

/// Issue #18's target: at most a twentieth of the naive pipeline's bytes (achieved, seed 18:
/// about 21x, with one bundle per collector round).
#[test]
fn sds_fleet_bytes_per_device_day_at_most_a_twentieth_of_naive() {
    let s = sds(true);
    let t = s.total();
    show("sds", &t);
    println!("sds: {} reports in {} frames ({} bundles)", s.reports, s.frames, s.bundles);
    assert!(s.bundles > 0 && s.frames == s.bundles, "every collector frame is a bundle");
    assert!(t.ours_per_device_day() * 20 <= t.naive_per_device_day());
}

/// One frame per printer (a collector without bundles): about 5.6x, floored by each frame's
/// 64 bytes of overhead each way (pinned, so that a regression fails).
#[test]
fn sds_fleet_with_a_frame_per_printer_against_naive() {
    let s = sds(false);
    let t = s.total();
    show("sds, a frame per printer", &t);
    assert_eq!(s.bundles, 0);
    assert!(t.ours_per_device_day() * 5 <= t.naive_per_device_day());
}

/// Direct connection: each report's frame and reply (about 165 B of overhead) beside job
/// records that compress alike in both pipelines: about 3.8x (pinned).
#[test]
fn large_format_direct_bytes_per_device_day_against_naive() {
    let s = large_format(0);
    let t = s.total();
    show("large-format, direct", &t);
    assert_eq!(s.bundles, 0);
    assert!(t.ours_per_device_day() * 3 <= t.naive_per_device_day());
}

/// Issue #18's target, for a large-format fleet read by a Data Collector: at most a fifth of
/// the naive pipeline's bytes.
#[test]
fn large_format_read_by_a_collector_at_most_a_fifth_of_naive() {
    let s = large_format(100);
    let t = s.total();
    show("large-format, Data Collector", &t);
    assert!(s.bundles > 0 && s.frames == s.bundles);
    assert!(t.ours_per_device_day() * 5 <= t.naive_per_device_day());
}

#[test]
#[ignore = "issue #18's target is not met for direct connections: see CHANGELOG (their job records and per-report frames)"]
fn large_format_direct_at_most_a_fifth_of_naive() {
    let t = large_format(0).total();
    assert!(t.ours_per_device_day() * 5 <= t.naive_per_device_day());
}

#[test]
fn a_collector_of_1000_printers_every_30_minutes() {
    let s = collector();
    show("collector", &s.total());
    println!(
        "collector: first interval {} B, steady-state interval at most {} B, largest transfer {} B (100 KB = 100000, 0.01 % of 5 Mbit/s = {LINE_SHARE_BYTES})",
        s.first_collector_interval_bytes, s.max_collector_interval_bytes, s.largest_frame
    );
    assert!(s.not_converged.is_empty());
    assert!(s.max_collector_interval_bytes > 0);
}

/// The seed's bound, with margin: each transfer under 100 KB (the largest, a bundle of first
/// snapshots, with a quarter to spare), and a steady-state interval's bytes (both ways) under a
/// third of 0.01 % of a 5 Mbit/s line.
#[test]
fn a_collector_transfer_is_under_100_kb_and_a_ten_thousandth_of_5_mbit() {
    let s = collector();
    assert!(s.largest_frame * 5 / 4 < 100_000, "{} B", s.largest_frame);
    assert!(s.max_collector_interval_bytes * 3 < LINE_SHARE_BYTES, "{} B", s.max_collector_interval_bytes);
}
