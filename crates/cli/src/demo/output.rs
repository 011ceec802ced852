//! The demo's output: the progress bar, the printed summary and the SVG chart.

use std::fmt;
use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use plotters::prelude::*;
use printfleet_sim::{Kind, Summary};

use super::{DemoError, DemoReport};

/// A bar over the simulated days on stderr; hidden unless asked for and stderr is a terminal.
pub(super) fn progress(wanted: bool, days: u32) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(u64::from(days)), ProgressDrawTarget::hidden());
    if wanted && std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("simulating {bar:40} day {pos}/{len} ({elapsed})") {
            bar.set_style(style);
        }
    }
    bar
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn money(minor: u64, digits: u8) -> String {
    let scale = 10u64.checked_pow(u32::from(digits)).unwrap_or(1);
    let whole = minor.checked_div(scale).unwrap_or(0);
    let frac = minor.checked_rem(scale).unwrap_or(0);
    if digits == 0 { whole.to_string() } else { format!("{whole}.{frac:0width$}", width = usize::from(digits)) }
}

/// The printed summary.
pub(super) fn summary(r: &DemoReport, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let s = &r.outcome.summary;
    let c = &r.checks;
    writeln!(
        f,
        "printfleet demo: {} printers ({} collector sites, {} direct), {} days in {}-minute steps, seed {}",
        c.devices,
        r.sites.0,
        r.sites.1,
        s.days,
        r.options.step.0 / 60_000,
        r.options.seed
    )?;
    writeln!(f, "\nbytes on the wire per device per day (both directions):")?;
    writeln!(f, "  {:<14} {:>8} {:>12} {:>12} {:>8}", "kind", "devices", "ours", "naive", "ratio")?;
    let row = |f: &mut fmt::Formatter<'_>, name: &str, k: &printfleet_sim::KindSummary| {
        let (ours, naive) = (k.ours_per_device_day(), k.naive_per_device_day());
        let ratio = if ours > 0 { format!("1/{:.1}", naive as f64 / ours as f64) } else { "-".into() };
        writeln!(f, "  {:<14} {:>8} {:>10} B {:>10} B {:>8}", name, k.devices, ours, naive, ratio)
    };
    for k in &s.per_kind {
        row(f, k.kind.map_or("?", Kind::name), k)?;
    }
    row(f, "all", &s.total())?;
    if !s.via_collector.is_empty() {
        let how = if r.options.bundles { "one bundle per site and round" } else { "a frame per printer" };
        writeln!(f, "  of which read by a collector ({how}):")?;
        for k in &s.via_collector {
            row(f, k.kind.map_or("?", Kind::name), k)?;
        }
    }
    let faults: Vec<String> = s.faults.iter().map(|(k, n)| format!("{} {n}", k.name())).collect();
    writeln!(
        f,
        "\nreports {} in {} frames ({} bundles), updates applied {}, duplicates {}, resyncs {}",
        s.reports, s.frames, s.bundles, r.portal.updates_applied, r.portal.duplicates, s.resyncs
    )?;
    writeln!(f, "faults injected: {}", if faults.is_empty() { "none".into() } else { faults.join(", ") })?;
    writeln!(
        f,
        "recovered: {}/{} devices converged, {} frames lost in network-loss windows and resent, {} jobs lost with replaced boards",
        c.devices.saturating_sub(u64::try_from(c.not_converged.len()).unwrap_or(u64::MAX)),
        c.devices,
        s.lost,
        c.jobs.lost_with_board
    )?;
    let rejected: Vec<String> = r.portal.rejected.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(f, "frames rejected: {}", if rejected.is_empty() { "none".into() } else { rejected.join(", ") })?;
    writeln!(
        f,
        "sessions: {} SCRAM handshakes on {} links; {} connection failures, {} answered 503",
        r.net.handshakes, r.net.links_opened, r.net.connection_failures, r.net.unavailable
    )?;
    writeln!(
        f,
        "ingest: {} updates in {:.1} s = {:.0} updates/s ({} stored in {} group commits)",
        r.portal.updates_applied,
        r.run_time.as_secs_f64(),
        r.ingest_rate(),
        r.portal.batched_frames,
        r.portal.batches
    )?;
    writeln!(f, "\nbilling ({} period(s) from {} stored readings):", r.billing.periods, r.billing.readings)?;
    for (category, (quantity, unit)) in r.billing.by_category() {
        writeln!(f, "  {:<28} {:>14} {unit}", category.to_string(), quantity)?;
    }
    for (contract, (total, currency, digits)) in r.billing.totals() {
        writeln!(f, "  contract {:<4} invoiced {:>12} {currency}", contract.0, money(total, digits))?;
    }
    writeln!(f, "\nchecks (from the store):")?;
    let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
    writeln!(
        f,
        "  {} converged: {} of {} devices",
        mark(c.not_converged.is_empty()),
        c.devices.saturating_sub(u64::try_from(c.not_converged.len()).unwrap_or(u64::MAX)),
        c.devices
    )?;
    writeln!(
        f,
        "  {} jobs exactly once: {} emitted, {} stored, {} missing, {} doubled, {} lost with a board",
        mark(c.jobs.passed()),
        c.jobs.emitted,
        c.jobs.stored,
        c.jobs.missing,
        c.jobs.doubled,
        c.jobs.lost_with_board
    )?;
    let total = c.counters.per_kind.get(&printfleet_schema::MeterKind::TOTAL).copied().unwrap_or_default();
    writeln!(
        f,
        "  {} counters: total pages {} true, {} stored ({} hidden by counter resets)",
        mark(c.counters.passed()),
        total.0,
        total.1,
        total.2
    )?;
    writeln!(
        f,
        "  {} billed usage = stored counters' advance ({} mismatches)",
        mark(c.billing_mismatches.is_empty()),
        c.billing_mismatches.len()
    )?;
    writeln!(
        f,
        "  {} wire bytes: ours {} < naive {}",
        mark(c.ours_bytes < c.naive_bytes),
        kib(c.ours_bytes),
        kib(c.naive_bytes)
    )?;
    let files: Vec<String> = r.files.iter().map(|p| p.display().to_string()).collect();
    write!(f, "\nwritten: {}", files.join(", "))
}

fn chart_error(e: impl fmt::Display) -> DemoError {
    DemoError::Chart { reason: e.to_string() }
}

fn colour(kind: Kind) -> RGBColor {
    match kind {
        Kind::OfficeMono => RGBColor(0x33, 0x33, 0x33),
        Kind::OfficeColour => RGBColor(0x1f, 0x77, 0xb4),
        Kind::InkjetMfp => RGBColor(0x2c, 0xa0, 0x2c),
        _ => RGBColor(0xd6, 0x27, 0x28),
    }
}

/// The chart: bytes per device-day per kind, ours (solid) against the naive pipeline's
/// (dashed), on a log scale; and daily pages per kind.
pub(super) fn chart(s: &Summary, path: &Path) -> Result<(), DemoError> {
    let days = s.days.max(1);
    let root = SVGBackend::new(path, (1000, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let (top, bottom) = root.split_vertically(400);
    let devices = |kind: Kind| s.kind(kind).map_or(1, |k| k.devices.max(1));
    let max_bytes = s
        .daily
        .iter()
        .filter_map(|d| d.kind.map(|k| d.naive.max(d.ours).checked_div(devices(k)).unwrap_or(0)))
        .max()
        .unwrap_or(1)
        .max(10);
    let mut bytes = ChartBuilder::on(&top)
        .caption("bytes per device-day: ours (solid) vs naive JSON+gzip+Fernet (dashed)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0u32..days, (1u64..max_bytes.saturating_mul(2)).log_scale())
        .map_err(chart_error)?;
    bytes.configure_mesh().x_desc("day").y_desc("bytes").draw().map_err(chart_error)?;
    let kinds: Vec<Kind> = s.per_kind.iter().filter_map(|k| k.kind).collect();
    for kind in &kinds {
        let n = devices(*kind);
        let series = |naive: bool| {
            s.daily
                .iter()
                .filter(|d| d.kind == Some(*kind))
                .map(|d| (d.day, (if naive { d.naive } else { d.ours }).checked_div(n).unwrap_or(0).max(1)))
                .collect::<Vec<_>>()
        };
        let c = colour(*kind);
        bytes
            .draw_series(LineSeries::new(series(false), c.stroke_width(2)))
            .map_err(chart_error)?
            .label(kind.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x.saturating_add(20), y)], c.stroke_width(2)));
        bytes.draw_series(DashedLineSeries::new(series(true), 6, 4, c.stroke_width(1))).map_err(chart_error)?;
    }
    bytes.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(chart_error)?;

    let max_pages = s.daily.iter().map(|d| d.pages).max().unwrap_or(1).max(1);
    let mut pages = ChartBuilder::on(&bottom)
        .caption("pages printed per day, by fleet kind", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0u32..days, 0u64..max_pages.saturating_add(max_pages / 10).max(1))
        .map_err(chart_error)?;
    pages.configure_mesh().x_desc("day").y_desc("pages").draw().map_err(chart_error)?;
    for kind in &kinds {
        let c = colour(*kind);
        let points: Vec<(u32, u64)> =
            s.daily.iter().filter(|d| d.kind == Some(*kind)).map(|d| (d.day, d.pages)).collect();
        pages
            .draw_series(LineSeries::new(points, c.stroke_width(2)))
            .map_err(chart_error)?
            .label(kind.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x.saturating_add(20), y)], c.stroke_width(2)));
    }
    pages.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(chart_error)?;
    root.present().map_err(chart_error)?;
    Ok(())
}
