//! Exports: CSV (RFC 4180, the `csv` crate) and CloudEvents 1.0 JSON.
//!
//! Both are deterministic: the same lines give the same bytes, so re-running an export and
//! re-sending it to a metering service is idempotent. Column meanings are in the crate docs.

use std::io;

use serde_json::{Value, json};

use crate::calendar::{Date, Rfc3339};
use crate::{Charge, Invoice, UsageLine};

/// The usage CSV header, in column order.
pub const USAGE_COLUMNS: [&str; 13] = [
    "contract",
    "device",
    "serial",
    "period_start",
    "period_end",
    "category",
    "quantity",
    "unit",
    "reading",
    "segments",
    "line",
    "source",
    "corrects",
];

/// The invoice CSV header, in column order.
pub const INVOICE_COLUMNS: [&str; 14] = [
    "contract",
    "period_start",
    "period_end",
    "currency",
    "charge",
    "category",
    "tier",
    "quantity",
    "unit",
    "price_minor",
    "price_per",
    "amount_minor",
    "reading",
    "corrects",
];

/// The CloudEvents `type` of a usage event.
pub const USAGE_EVENT_TYPE: &str = "org.printfleet.meter.usage.v1";

/// An export failed: the writer failed (the only I/O is the caller's writer).
#[derive(Debug, thiserror::Error)]
#[error("csv export failed: {0}")]
pub struct ExportError(#[from] csv::Error);

/// A text cell as a spreadsheet will not run it: a value that starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return (a formula to Excel, LibreOffice and Google Sheets) gets a leading
/// apostrophe (OWASP's advice against CSV injection). Only free text goes through it (the
/// serial, a device's name as provisioned); numbers, negative quantities included, never do.
pub fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}

fn reading(estimated: bool) -> &'static str {
    if estimated { "estimated" } else { "actual" }
}

/// Writes usage lines as CSV with a header row ([`USAGE_COLUMNS`]); the serial through
/// [`spreadsheet_safe`].
pub fn usage_csv<W: io::Write>(lines: &[UsageLine], out: W) -> Result<(), ExportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(USAGE_COLUMNS)?;
    for l in lines {
        w.write_record([
            l.contract.to_string(),
            l.device.to_string(),
            spreadsheet_safe(&l.serial),
            Date(l.period_start).to_string(),
            Date(l.period_end).to_string(),
            l.category.to_string(),
            l.quantity.0.to_string(),
            l.unit.name().to_string(),
            reading(l.estimated).to_string(),
            l.segments.to_string(),
            l.line.name().to_string(),
            l.sources.to_string(),
            l.corrects.map(|t| Date(t).to_string()).unwrap_or_default(),
        ])?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// Writes invoices' lines as CSV with a header row ([`INVOICE_COLUMNS`]); one row per line.
pub fn invoice_csv<W: io::Write>(invoices: &[Invoice], out: W) -> Result<(), ExportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(INVOICE_COLUMNS)?;
    for inv in invoices {
        for l in &inv.lines {
            let (mut category, mut tier, mut corrects) = (String::new(), String::new(), String::new());
            let charge = match &l.charge {
                Charge::Usage { category: c, tier: t } => {
                    (category, tier) = (c.to_string(), t.to_string());
                    "usage"
                }
                Charge::FeePerPeriod => "fee_per_period",
                Charge::FeePerDevice => "fee_per_device",
                Charge::MinimumCharge => "minimum_charge",
                Charge::Correction { start, .. } => {
                    corrects = Date(*start).to_string();
                    "correction"
                }
                Charge::Credit { start, .. } => {
                    corrects = Date(*start).to_string();
                    "credit"
                }
                Charge::CreditBroughtForward => "credit_brought_forward",
                Charge::CreditCarriedForward => "credit_carried_forward",
            };
            w.write_record([
                inv.contract.to_string(),
                Date(inv.period_start).to_string(),
                Date(inv.period_end).to_string(),
                inv.currency.code().to_string(),
                charge.to_string(),
                category,
                tier,
                l.quantity.0.to_string(),
                l.unit.map(|u| u.name().to_string()).unwrap_or_default(),
                l.price.map(|p| p.minor.to_string()).unwrap_or_default(),
                l.price.map(|p| p.per.to_string()).unwrap_or_default(),
                l.signed_amount().to_string(),
                reading(l.estimated).to_string(),
                corrects,
            ])?;
        }
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// The stable CloudEvents id of a usage line: contract, device, period start, category and
/// line kind, and for a correction the period it corrects. Re-exporting the same line gives
/// the same id, so a metering service that de-duplicates on `(source, id)` (as CloudEvents 1.0
/// §3.1.1 requires of producers) counts it once.
pub fn event_id(line: &UsageLine) -> String {
    let id =
        format!("{}/{}/{}/{}/{}", line.contract, line.device, Date(line.period_start), line.category, line.line.name());
    match line.corrects {
        Some(corrects) => format!("{id}/{}", Date(corrects)),
        None => id,
    }
}

/// A usage line as a CloudEvents 1.0 event in the JSON format (structured mode).
///
/// ```
/// # use printfleet_meter::*;
/// # use printfleet_schema::Timestamp;
/// let line = UsageLine {
///     contract: ContractId(7),
///     device: DeviceId(42),
///     serial: "CNB1".into(),
///     period: PeriodId(660),
///     period_start: Timestamp::from_unix_millis(1_735_689_600_000)?, // 2025-01-01
///     period_end: Timestamp::from_unix_millis(1_738_368_000_000)?,   // 2025-02-01
///     category: Category::TOTAL,
///     unit: Unit::Impressions,
///     quantity: QuantityDelta(1_250),
///     line: LineKind::Usage,
///     estimated: false,
///     segments: 1,
///     sources: Sources::default(),
///     corrects: None,
/// };
/// let event = export::cloud_event(&line);
/// assert_eq!(event["specversion"], "1.0");
/// assert_eq!(event["id"], "7/42/2025-01-01/total/usage");
/// assert_eq!(event["time"], "2025-02-01T00:00:00Z");
/// assert_eq!(event["data"]["quantity"], 1_250);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn cloud_event(line: &UsageLine) -> Value {
    json!({
        "specversion": "1.0",
        "id": event_id(line),
        "source": format!("/printfleet/meter/contracts/{}", line.contract),
        "type": USAGE_EVENT_TYPE,
        "subject": format!("devices/{}", line.device),
        "time": Rfc3339(line.period_end).to_string(),
        "datacontenttype": "application/json",
        "data": {
            "device": line.device.0,
            "serial": line.serial,
            "period_start": Rfc3339(line.period_start).to_string(),
            "period_end": Rfc3339(line.period_end).to_string(),
            "category": line.category.to_string(),
            "quantity": line.quantity.0,
            "unit": line.unit.name(),
            "reading": reading(line.estimated),
            "segments": line.segments,
            "line": line.line.name(),
            "source": line.sources.to_string(),
            "corrects": line.corrects.map(|t| Rfc3339(t).to_string()),
        }
    })
}

/// Usage lines as a CloudEvents JSON batch (`application/cloudevents-batch+json`: an array of
/// events), as bytes.
pub fn cloud_events_batch(lines: &[UsageLine]) -> Vec<u8> {
    let events: Vec<Value> = lines.iter().map(cloud_event).collect();
    // Serialising a `Value` cannot fail.
    serde_json::to_vec(&events).unwrap_or_default()
}
