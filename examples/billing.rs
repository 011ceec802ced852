//! Pay-per-use billing of a simulated fleet with printfleet-meter: every printer reports its
//! `total` and `colour` meters every 3 hours for 90 days (January to March 2025), one printer
//! has its board replaced, one goes silent, a few reports are delivered twice or late; the
//! three months are closed and their invoices printed as CSV.
//!
//! ```sh
//! cargo run -p printfleet-examples --example billing                  # 20 printers, CSV out
//! cargo run --release -p printfleet-examples --example billing -- 10000 --quiet
//! /usr/bin/time -v target/release/examples/billing 10000 --quiet   # peak memory
//! ```

// A simulation on bounded, fixed inputs: the arithmetic cannot overflow, the casts cannot truncate.
#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use std::time::Instant;

use printfleet_meter::{
    Allowance, Category, CategoryTerms, ContractId, Device, DeviceId, Meter, MeterConfig, MeterError, ModelClass,
    Observation, ObservationKey, Price, Provenance, Terms, Tier, export,
};
use printfleet_schema::{MeterKind, Timestamp};

const HOUR: u64 = 3_600_000;
/// 2025-01-01T00:00:00Z.
const JAN_2025: u64 = 1_735_689_600_000;
const DAYS: u64 = 90;
/// The first instants of February, March and April 2025.
const MONTH_ENDS: [u64; 3] = [JAN_2025 + 31 * 24 * HOUR, JAN_2025 + 59 * 24 * HOUR, JAN_2025 + 90 * 24 * HOUR];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let printers: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let quiet = args.next().as_deref() == Some("--quiet");

    let contract = ContractId(1);
    let mut terms = Terms { fee_per_device: printfleet_meter::MinorUnits(500), ..Terms::default() };
    terms.prices.insert(
        Category::TOTAL,
        CategoryTerms {
            // 0.8 cent a page up to 100 000 pages a month, then 0.6 cent; 500 pages included per device, pooled.
            tiers: vec![
                Tier { up_to: Some(100_000), price: Price::new(8, 10)? },
                Tier { up_to: None, price: Price::new(6, 10)? },
            ],
            allowance: Allowance::Pooled(500),
            unit: None,
        },
    );
    terms.prices.insert(MeterKind::COLOUR.into(), CategoryTerms::flat(Price::new(4, 1)?));
    let mut meter = Meter::new(MeterConfig::default());
    meter.add_contract(contract, terms, Timestamp::from_unix_millis(JAN_2025)?)?;
    for p in 0..printers {
        meter.add_device(DeviceId(p), Device { contract, serial: format!("CNB{p:06}"), class: ModelClass::OFFICE })?;
    }

    // The fleet, 3-hourly, generated and ingested month by month as it would arrive.
    let mut rng = 0x5eed_u64;
    let mut values: Vec<(u64, u64)> = (0..printers).map(|p| (10_000 + p * 7, 2_000 + p * 3)).collect();
    let (mut observations, mut late, mut duplicates, mut rejected) = (0u64, 0u64, 0u64, 0u64);
    let mut closings = Vec::new();
    let started = Instant::now();
    let mut ingest_time = std::time::Duration::ZERO;
    let mut held_up = Vec::new();
    for slot in 0..DAYS * 8 {
        let at_ms = JAN_2025 + slot * 3 * HOUR;
        if MONTH_ENDS.iter().any(|end| *end + 2 * 24 * HOUR == at_ms) {
            // Two days after each month ends, close it; then printer 3's report from the
            // month's last evening, held up somewhere, finally arrives.
            closings.push(meter.close_period(contract, Timestamp::from_unix_millis(at_ms)?)?);
            for obs in held_up.drain(..) {
                match meter.observe(&obs)? {
                    printfleet_meter::Outcome::Late => late += 1,
                    other => return Err(format!("expected a late observation, got {other:?}").into()),
                }
            }
        }
        let at = Timestamp::from_unix_millis(at_ms)?;
        let t0 = Instant::now();
        for (p, (total, colour)) in values.iter_mut().enumerate() {
            let p = p as u64;
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let pages = rng >> 58; // 0 to 63 pages in 3 hours
            if p == 1 && slot == 300 {
                // Printer 1's main board is replaced: its counters restart near zero.
                *total = 0;
                *colour = 0;
            }
            if p == 2 && slot > 200 {
                continue; // printer 2 stopped reporting in late January
            }
            *total += pages;
            *colour += pages / 4;
            let key = ObservationKey { device: DeviceId(p), instance: 1, sequence: slot + 1 };
            for (kind, value) in [(MeterKind::TOTAL, *total), (MeterKind::COLOUR, *colour)] {
                let obs = Observation { key, kind: kind.into(), value, observed_at: at, provenance: Provenance::Agent };
                if p == 3 && MONTH_ENDS.iter().any(|end| at_ms + 6 * HOUR == *end) {
                    held_up.push(obs);
                    continue;
                }
                meter.observe(&obs)?;
                observations += 1;
                if p % 97 == 5 && slot % 50 == 7 {
                    // Delivered twice.
                    meter.observe(&obs)?;
                    duplicates += 1;
                }
            }
        }
        ingest_time += t0.elapsed();
        // A manual read from early January turns up in March: beyond the late window.
        if printers > 3 && at_ms == MONTH_ENDS[1] + 24 * HOUR {
            let obs = Observation {
                key: ObservationKey { device: DeviceId(3), instance: 2, sequence: slot },
                kind: Category::TOTAL,
                value: 0,
                observed_at: Timestamp::from_unix_millis(JAN_2025 + 5 * 24 * HOUR)?,
                provenance: Provenance::Manual,
            };
            match meter.observe(&obs) {
                Err(MeterError::TooLate { .. }) => rejected += 1,
                Ok(_) => late += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }
    closings.push(meter.close_period(contract, Timestamp::from_unix_millis(MONTH_ENDS[2])?)?);
    // March's held-up report: an adjustment on April's invoice.
    for obs in held_up.drain(..) {
        meter.observe(&obs)?;
        late += 1;
    }

    // What the portal would persist, measured without holding it in memory.
    let mut saved = ByteCount(0);
    serde_json::to_writer(&mut saved, &meter)?;
    eprintln!(
        "{printers} printers: {observations} observations (+{duplicates} duplicates, {late} late, {rejected} rejected) \
         ingested in {:.3} s = {:.0} observations/s; total run {:.3} s",
        ingest_time.as_secs_f64(),
        observations as f64 / ingest_time.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    eprintln!(
        "saved state after the last closing: {} bytes of JSON, {} reads retained",
        saved.0,
        meter.retained_reads()
    );
    for c in &closings {
        eprintln!(
            "{}: total {} {} minor units over {} lines; {} held, {} silent, {} discrepancies, {} usage lines",
            printfleet_meter::Date(c.invoice.period_start),
            c.invoice.total.0,
            c.invoice.currency.code(),
            c.invoice.lines.len(),
            c.held.len(),
            c.silent.len(),
            c.discrepancies.len(),
            c.usage.len(),
        );
    }
    if !quiet {
        let invoices: Vec<_> = closings.iter().map(|c| c.invoice.clone()).collect();
        export::invoice_csv(&invoices, std::io::stdout())?;
        let reset: Vec<_> =
            closings.iter().flat_map(|c| &c.usage).filter(|l| l.device == DeviceId(1)).cloned().collect();
        export::usage_csv(&reset, std::io::stdout())?;
    }
    Ok(())
}

/// A writer that only counts bytes.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
