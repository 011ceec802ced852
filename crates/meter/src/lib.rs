//! Pay-per-use metering and billing for printer fleets, defensible line by line.
//!
//! The portal feeds a [`Meter`] with the meter values ([`Observation`]) and job records
//! ([`JobRecord`]) it extracts from device reports; once a billing period has ended it calls
//! [`Meter::close_period`] and gets usage lines per device and category, an exact
//! [`Invoice`], and the lists a reseller reviews (held jumps, silent devices, job/counter
//! discrepancies, rejected late data). [`export`] writes them as CSV and CloudEvents.
//!
//! This crate does no I/O, reads no clock (`now` is an argument) and uses no floating point:
//! quantities are integers in the category's unit, money is integer minor units.
//!
//! ```
//! use printfleet_meter::*;
//! use printfleet_schema::Timestamp;
//!
//! const DAY: u64 = 86_400_000;
//! const JAN_2025: u64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z
//! let at = |day: u64| Timestamp::from_unix_millis(JAN_2025 + day * DAY).unwrap();
//!
//! let mut meter = Meter::new(MeterConfig::default());
//! let mut terms = Terms::default(); // monthly, EUR
//! terms.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(1, 1)?)); // 1 cent a page
//! terms.fee_per_period = MinorUnits(1_000); // 10 EUR a month
//! meter.add_contract(ContractId(1), terms, at(0))?;
//! meter.add_device(DeviceId(7), Device { contract: ContractId(1), serial: "CNB1".into(), class: ModelClass::OFFICE })?;
//!
//! // Reports 1 to 4; the main board is replaced between the second and the third.
//! for (seq, day, value) in [(1, 1, 10_000), (2, 10, 10_500), (3, 15, 20), (4, 30, 320)] {
//!     let key = ObservationKey { device: DeviceId(7), instance: 1, sequence: seq };
//!     let obs = Observation { key, kind: Category::TOTAL, value, observed_at: at(day), provenance: Provenance::Agent };
//!     assert_eq!(meter.observe(&obs)?, Outcome::Recorded);
//!     // A report delivered twice changes nothing.
//!     assert_eq!(meter.observe(&obs)?, Outcome::Duplicate);
//! }
//!
//! let closing = meter.close_period(ContractId(1), at(31))?;
//! let line = &closing.usage[0];
//! assert_eq!((line.quantity, line.segments, line.estimated), (QuantityDelta(800), 2, false)); // 500 + 300
//! assert_eq!(closing.invoice.total, MinorUnits(800 + 1_000));
//! let signed: i128 = closing.invoice.lines.iter().map(InvoiceLine::signed_amount).sum();
//! assert_eq!(signed, i128::from(closing.invoice.total.0)); // credit lines subtract
//!
//! let mut csv = Vec::new();
//! export::usage_csv(&closing.usage, &mut csv)?;
//! assert!(csv.starts_with(b"contract,device,serial,period_start,period_end,category,quantity"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the caller persists
//! The whole state is the [`Meter`] itself, a serde value (`serde_json::to_vec(&meter)`;
//! deserialising checks its invariants). Save it after each batch of `observe`/`record_job`
//! calls and after [`Meter::close_period`], **before** the invoice is sent: closing is
//! deterministic, so a meter restored from a save made before a closing closes the period again
//! to the same invoice, and one restored after it never closes it twice. It holds:
//! * per contract: the terms, the oldest open period and the late-window horizon, what each
//!   closed period of the retained window was invoiced for (billable quantities of the priced
//!   categories, devices, total: so that a correction is priced in its own period) and the
//!   money credit carried forward ([`Meter::credit`]);
//! * per device and category: the counter reads of the retained window (the segments are
//!   derived from them), estimates, what each closed period of the window billed and carried
//!   credit (per contract), released and dismissed holds, and holds awaiting review;
//! * per device: its moves between contracts;
//! * per device: the idempotency keys and job sequence numbers of the retained window.
//!
//! **Bound.** The retained window starts at the beginning of the period that contains the
//! late-window horizon (the oldest open period's start minus [`MeterConfig::late_window`]); at
//! each closing everything older is dropped except one anchor read per series. With monthly
//! periods and the default 7-day window that is at most two months of reads; every list is also
//! capped by a named constant in [`limits`] (for example [`limits::MAX_READS_PER_SERIES`]).
//! 3-hourly reports of one meter retain at most about 500 reads, 24 bytes each in memory.
//!
//! # Categories
//! Every [`Category`] is a lifetime counter per device, metered the same way: the meters the
//! schema knows (pages by colour mode and service, two-sided sheets, scans, fax, media area
//! `area_mm2` and length `length_mm`, vendor meters), and the large-format counters of Partner
//! Link's appendix A that `printfleet-ingest` extracts from reports: ink per colour and
//! third-party ink per colour (nanolitres), media area (mm²) and length (µm) per media type (the
//! length a printfleet extension of the appendix's usage record), media area (mm²) and length
//! (µm) per application category. Each is priced on its own in
//! [`Terms::prices`], and shows in the exports under its text form.
//!
//! # How usage is counted
//! * **Segments.** Lifetime counters are the truth. The reads of one (device, meter) are taken
//!   in time order, whatever the order of delivery. A read lower than the one before it (board
//!   replaced, counter reset, device swapped under the same [`DeviceId`]) ends the segment and
//!   starts a new one at that read; usage is the sum of every segment's advance, so it is never
//!   negative. A new segment's first read is its baseline: what was counted before it on the
//!   new counter is not billed. A new counter whose first read is above the old one's last read
//!   (a young device whose board is replaced again soon) cannot be told from usage: what the
//!   new board had counted before its first use is billed then.
//! * **Attribution.** The advance between two reads is billed in the period of the later read
//!   (the one that proves it).
//! * **Plausibility.** An advance larger than the bound for the device's [`ModelClass`]
//!   ([`Plausibility`], documented defaults) is not billed: it is listed in
//!   [`Closing::held`] of every closing until it is reviewed, and counting resumes from the
//!   read after the jump. [`Meter::release_hold`] bills it (in its period, or as a correction
//!   of that period if it is closed; once its reads have left the retained window, as an
//!   adjustment netted with the closing period's usage);
//!   [`Meter::dismiss_hold`] drops it for good.
//! * **Duplicates, order, late data.** A report seen again (same [`ObservationKey`]) changes
//!   nothing; the usage of any set of observations does not depend on their order. An
//!   observation for a closed period changes that period's recomputed usage; the difference is
//!   a correction line in the next closing, and the closed period is **priced again** (below).
//!   Observations older than the late window are refused ([`MeterError::TooLate`]) and listed
//!   in [`Closing::rejected`].
//! * **Estimates** ([`Terms::estimates`], off by default). At a period end, a meter with no
//!   read at or after the end gets an estimated read at the period's last instant, from its
//!   rate over [`MeterConfig::rate_lookback`] (never above the plausibility bound). Lines it
//!   contributes to are flagged `estimated`. When the actual read arrives the estimate no
//!   longer counts, and the difference is a correction (the true-up). An estimate that falls
//!   out of the retained window is final (the anchor of its series).
//! * **Corrections are priced in their own period.** A closing keeps what each closed period
//!   of the retained window was invoiced for (every device's billable quantities, the devices
//!   counted, the total). When a correction (late data, a true-up, a hold released while its
//!   reads are retained) changes a closed period's usage, that period is priced again, with its
//!   own allowance, tiers, fees and minimum charge, and the next invoice carries the
//!   difference: a [`Charge::Correction`] line if it costs more, a [`Charge::Credit`] line if
//!   less. So a page read late is charged as it would have been had it arrived in time: it
//!   does not vanish into a later period's unused allowance, nor take a later period's tier.
//!   A state saved by an earlier version, which kept no such record, nets the corrections of
//!   the periods it closed with the closing period's usage, as that version did.
//! * **Credits.** Money credited beyond an invoice's charges is carried forward
//!   ([`Charge::CreditCarriedForward`] on that invoice, [`Charge::CreditBroughtForward`] on the
//!   next): an invoice total is never negative. A quantity that an adjustment netted with the
//!   closing period's usage (a released hold whose reads left the window; the corrections of a
//!   state saved by an earlier version) and that takes it below zero is carried forward as a
//!   quantity credit on later adjustment lines; billed quantities are never negative.
//! * **Reconciliation.** Per device, meter and period, the sum of the job records is compared
//!   with the counters' actual advance; a difference above [`Tolerance`] (default 2 % and 10
//!   units) is listed in [`Closing::discrepancies`] with both figures.
//! * **Moves between contracts** ([`Meter::move_device`], with an effective instant). An
//!   advance belongs to the contract the device was on just before the read that proves it:
//!   usage up to the move (and its handover read) bills to the old contract, usage after it to
//!   the new one; each keeps its own record of what it billed, so late data corrects the right
//!   one. Reconciliation is per contract too: a job counts on the contract the device was on
//!   just before it finished (like the advance of a read at that instant), so each contract
//!   compares the jobs of its own part of the period with the counter advance it billed. With
//!   the handover read at the effective instant the split is exact; without it, the advance
//!   across the move goes to the new contract while the jobs stay on their side (beyond the
//!   tolerance, both contracts list a discrepancy).
//! * **Retirement** ([`Meter::retire_device`], with an effective instant): a device revoked,
//!   sold or scrapped is billed up to then (a read at that instant included) and counts toward
//!   no fee and no silence in the periods after; `printfleet bill` retires a revoked device at
//!   its last reading.
//! * **Silent devices.** A device without an observation during the last
//!   [`MeterConfig::silent_after`] before the period end is listed in [`Closing::silent`].
//!
//! # Invoices and the rounding rule
//! Per priced category, the billable quantities of the devices are reduced by the allowance
//! ([`Allowance::PerDevice`] per device, [`Allowance::Pooled`] from one pool of the per-device
//! allowance times the number of devices), then priced through graduated tiers, one line per
//! tier used; then the fixed fee per period, the fixed fee per device, and a top-up line to the
//! minimum charge; then the corrections and credits of closed periods priced again, and the
//! credit brought and carried forward. Each line's amount is `quantity × minor / per`,
//! computed exactly and rounded **once, per line, half to even**; the total is the exact sum
//! of the lines' signed amounts ([`InvoiceLine::signed_amount`]: credit lines subtract).
//!
//! # CSV columns
//! Usage ([`export::usage_csv`]), one row per [`UsageLine`]:
//!
//! | column | meaning |
//! |---|---|
//! | `contract` | [`ContractId`] |
//! | `device` | [`DeviceId`] |
//! | `serial` | the device's serial number |
//! | `period_start`, `period_end` | the period's first day and the first day after it (`YYYY-MM-DD`, UTC) |
//! | `category` | the [`Category`] text form (`total`, `vendor:NAME`, a number, `ink:cyan`, `ink_third_party:cyan`, `media_area:bond`, `media_length:bond`, `app_area:cad`, `app_length:cad`) |
//! | `quantity` | integer in `unit`; negative only on a correction or adjustment line (less than billed before) |
//! | `unit` | [`Unit`] name (`impressions`, `sheets`, `nanolitres`, ...) |
//! | `reading` | `actual`, or `estimated` if an estimated read contributed |
//! | `segments` | counter segments with a read in the period |
//! | `line` | `usage`; `correction` (a change to a closed period's usage, priced in that period by the invoice's `correction` or `credit` row); `adjustment` (a change netted with this period's usage: a hold released after its reads left the window, or a correction of a period closed by an earlier version) |
//! | `source` | provenances of the contributing reads, `+`-joined (`agent`, `agent+estimate`) |
//! | `corrects` | on a `correction` row, the first day of the period it corrects; empty otherwise |
//!
//! Invoice ([`export::invoice_csv`]), one row per [`InvoiceLine`]: `contract`,
//! `period_start`, `period_end`, `currency` (ISO 4217), `charge` (`usage`, `fee_per_period`,
//! `fee_per_device`, `minimum_charge`, `correction`, `credit`, `credit_brought_forward`,
//! `credit_carried_forward`), `category` and `tier` (usage rows), `quantity`, `unit`,
//! `price_minor` and `price_per` (the price: minor units per that many units), `amount_minor`
//! (integer minor units, negative on `credit` and `credit_brought_forward` rows: a column's
//! sum per invoice is its total), `reading` (`actual` or `estimated`; on a `correction` or
//! `credit` row, whether an estimate contributed to the change), `corrects` (on `correction`
//! and `credit` rows, the first day of the period priced again). `correction`, `credit` and
//! the credit rows have `quantity` 1 and no unit or price: their amount is the difference
//! between the period's invoice priced again and as invoiced (the usage CSV's `correction`
//! rows give the quantities per device and category).
//!
//! CloudEvents ([`export::cloud_event`]): one event per usage line, `type`
//! [`export::USAGE_EVENT_TYPE`], a stable `id` ([`export::event_id`]), the line in `data`.
//!
//! # Crate features
//! None: the crate always needs `std` (the `csv` writer) and `serde` (the saved state).

mod calendar;
mod category;
mod close;
mod error;
pub mod export;
pub mod limits;
mod meter;
mod money;
mod terms;

pub use calendar::{BillingPeriod, Date, PeriodId, Rfc3339};
pub use category::{Category, InkOrigin, Label, MAX_LABEL_LEN};
pub use close::{Charge, Closing, Discrepancy, Held, Invoice, InvoiceLine, LineKind, Rejected, Silent, UsageLine};
pub use error::MeterError;
pub use meter::{
    ContractId, Device, DeviceId, JobRecord, Meter, Observation, ObservationKey, Outcome, Provenance, Sources,
};
pub use money::{Currency, MinorUnits, Price, Quantity, QuantityDelta, Unit};
pub use terms::{
    Allowance, CategoryTerms, MAX_PRICED_CATEGORIES, MAX_TIERS, MeterConfig, ModelClass, Plausibility, Terms, Tier,
    Tolerance,
};
