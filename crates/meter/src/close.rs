//! Closing a period: usage from counter segments, adjustments, estimates, reconciliation and
//! the invoice.

use printfleet_schema::Timestamp;
use serde::{Deserialize, Serialize};

use crate::calendar::DAY_MS;
use crate::limits::{MAX_ADVANCE, MAX_HOLDS_PER_SERIES};
use crate::meter::{
    Billable, ContractState, DeviceState, ESTIMATED, PendingHold, Priced, Read, Series, accept_until,
    has_read_after_anchor, owner_at, owns_some, retain_period,
};
use crate::terms::{Allowance, CategoryTerms, Terms, Tolerance};
use crate::{
    Category, ContractId, Currency, DeviceId, InkOrigin, Meter, MeterConfig, MeterError, MinorUnits, PeriodId, Price,
    Quantity, QuantityDelta, Sources, Unit,
};

/// What a usage line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LineKind {
    /// Usage proven by the counters (or estimated) within the period.
    Usage,
    /// A change to a closed period's usage (late data, a true-up, a hold released while its
    /// reads are retained), priced in that period: its quantity is billed, or credited, by the
    /// invoice's [`Charge::Correction`] or [`Charge::Credit`] line for that period, not in this
    /// one. [`UsageLine::corrects`] names the period.
    Correction,
    /// A change netted with this period's usage and priced with it: a hold released after its
    /// reads left the retained window, the corrections of a period closed by a version that kept
    /// no record of its invoice, and any quantity credit carried forward.
    Adjustment,
}

impl LineKind {
    /// The snake_case name used in exports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Correction => "correction",
            Self::Adjustment => "adjustment",
        }
    }
}

/// Usage of one category on one device in one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageLine {
    /// The contract.
    pub contract: ContractId,
    /// The device.
    pub device: DeviceId,
    /// Its serial number.
    pub serial: String,
    /// The period the line is billed in.
    pub period: PeriodId,
    /// The period's first instant.
    pub period_start: Timestamp,
    /// The first instant after the period.
    pub period_end: Timestamp,
    /// The category.
    pub category: Category,
    /// The unit of `quantity`.
    pub unit: Unit,
    /// The quantity: never negative on a usage line; negative on an adjustment line is a credit.
    pub quantity: QuantityDelta,
    /// Usage or adjustment.
    pub line: LineKind,
    /// Whether an estimated read contributed.
    pub estimated: bool,
    /// The number of counter segments with a read in the period (a reset or a held jump starts
    /// a new one; 0 when no read falls in the period).
    pub segments: u32,
    /// The provenances of the reads that contributed.
    pub sources: Sources,
    /// On a [`LineKind::Correction`] line, the first instant of the closed period it
    /// corrects (the line is reported, and its money charged or credited, in `period`).
    #[serde(default)]
    pub corrects: Option<Timestamp>,
}

/// A jump beyond the plausibility bound, held for review and not billed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// The device.
    pub device: DeviceId,
    /// The meter.
    pub kind: Category,
    /// The read before the jump: when, and its value.
    pub from: (Timestamp, u64),
    /// The read after the jump (pass its instant to [`Meter::release_hold`] to bill it, or to
    /// [`Meter::dismiss_hold`] to drop it).
    pub to: (Timestamp, u64),
    /// The most the bound allowed between the two reads.
    pub allowed: u64,
}

/// A device without an observation in the last [`MeterConfig::silent_after`] before a period
/// end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silent {
    /// The device.
    pub device: DeviceId,
    /// Its serial number.
    pub serial: String,
    /// Its latest observation, if any.
    pub last_seen: Option<Timestamp>,
}

/// Job sums and counter advance over the same period differ by more than the tolerance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    /// The device.
    pub device: DeviceId,
    /// The meter.
    pub kind: Category,
    /// The sum over the period's job records.
    pub jobs: u64,
    /// The counters' actual advance (estimates excluded).
    pub counters: u64,
}

/// An observation refused as older than the late window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The device.
    pub device: DeviceId,
    /// The meter.
    pub kind: Category,
    /// When it was observed.
    pub observed_at: Timestamp,
    /// The value.
    pub value: u64,
}

/// What an invoice line charges for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Charge {
    /// Usage of a category within one price tier (0-based).
    Usage {
        /// The category.
        category: Category,
        /// The tier.
        tier: u8,
    },
    /// The fixed fee per period.
    FeePerPeriod,
    /// The fixed fee per device (the quantity is the number of devices).
    FeePerDevice,
    /// The top-up to the minimum charge.
    MinimumCharge,
    /// A closed period priced again with its corrected usage (late data, a true-up, a hold
    /// released) costs this much more than it was invoiced for: charged here. The period's
    /// own allowance, tiers, fees and minimum charge apply, as if the usage had been known
    /// when it closed.
    Correction {
        /// The period corrected.
        period: PeriodId,
        /// Its first instant.
        start: Timestamp,
    },
    /// The same, costing this much less: credited here (the amount subtracts).
    Credit {
        /// The period corrected.
        period: PeriodId,
        /// Its first instant.
        start: Timestamp,
    },
    /// Credit carried from earlier invoices (the amount subtracts).
    CreditBroughtForward,
    /// Credit beyond this invoice's charges, carried to the next invoice (the amount adds
    /// back, so that the total is zero, never negative).
    CreditCarriedForward,
}

impl Charge {
    /// Whether the line's amount subtracts from the total.
    pub fn is_credit(&self) -> bool {
        matches!(self, Self::Credit { .. } | Self::CreditBroughtForward)
    }
}

/// One invoice line, in exact minor units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// What it charges for.
    pub charge: Charge,
    /// The quantity charged (units of the category, devices, or 1).
    pub quantity: Quantity,
    /// The unit, for usage lines.
    pub unit: Option<Unit>,
    /// The price, for usage and per-device lines.
    pub price: Option<Price>,
    /// The amount, rounded half to even (the crate's one rounding rule); it subtracts from the
    /// total on a credit line ([`Charge::is_credit`], [`InvoiceLine::signed_amount`]).
    pub amount: MinorUnits,
    /// Whether an estimated read contributed.
    pub estimated: bool,
}

impl InvoiceLine {
    /// The amount with its sign: negative on a credit line. An invoice's lines' signed amounts
    /// add up to its total exactly.
    pub fn signed_amount(&self) -> i128 {
        let amount = i128::from(self.amount.0);
        if self.charge.is_credit() { amount.saturating_neg() } else { amount }
    }
}

/// The invoice of one contract for one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// The contract.
    pub contract: ContractId,
    /// The period.
    pub period: PeriodId,
    /// The period's first instant.
    pub period_start: Timestamp,
    /// The first instant after the period.
    pub period_end: Timestamp,
    /// The currency.
    pub currency: Currency,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// The sum of the lines' signed amounts ([`InvoiceLine::signed_amount`]), exactly: never
    /// negative (credit beyond the charges is carried forward).
    pub total: MinorUnits,
}

/// Everything a period's closing produces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closing {
    /// Usage and adjustment lines, by device then category.
    pub usage: Vec<UsageLine>,
    /// The invoice.
    pub invoice: Invoice,
    /// Every jump held for review and not yet released or dismissed, in this closing's period
    /// or any earlier one (at most [`MAX_HOLDS_PER_SERIES`](crate::limits::MAX_HOLDS_PER_SERIES)
    /// per device and category).
    pub held: Vec<Held>,
    /// Devices silent at the period end.
    pub silent: Vec<Silent>,
    /// Job sums that disagree with the counters.
    pub discrepancies: Vec<Discrepancy>,
    /// Observations rejected as too late since the previous closing.
    pub rejected: Vec<Rejected>,
    /// Rejections not listed in `rejected` (beyond [`MAX_REJECTED_LISTED`](crate::limits::MAX_REJECTED_LISTED)).
    pub rejected_unlisted: u64,
}

/// One step of the walk over a series' reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The first read: a baseline, nothing attributed.
    First,
    /// A billable advance.
    Advance(u64),
    /// The counter went down: a new segment starts at this read.
    Reset,
    /// A jump beyond the bound from the previous read (`from`), allowed at most `allowed`.
    Held { from: Read, allowed: u64 },
}

/// The largest billable advance between two reads `elapsed_ms` apart.
fn allowed(per_day: u64, elapsed_ms: u64) -> u64 {
    let days = elapsed_ms.div_ceil(DAY_MS).max(1);
    per_day.saturating_mul(days)
}

/// Walks a series' reads then its active estimates (those after the last read) in time order,
/// up to `until` (exclusive), classifying each step. This is the one definition of usage: a
/// segment's advance is the sum of its `Advance` steps. A read at one of the instants in
/// `resets` (sorted) starts a new segment whatever its value: the third-party ink series
/// restarts where its colour's all-ink series does (a cartridge swap).
pub(crate) fn walk(series: &Series, per_day: Option<u64>, until: u64, resets: &[u64], mut f: impl FnMut(&Read, Step)) {
    let last = series.reads.last().copied();
    let active = series.estimates.iter().filter(|e| in_force(last, e));
    let mut prev: Option<&Read> = None;
    for cur in series.reads.iter().chain(active) {
        if cur.at >= until {
            break;
        }
        let step = match prev {
            None => Step::First,
            Some(p) if cur.value < p.value || resets.binary_search(&cur.at).is_ok() => Step::Reset,
            Some(p) => {
                let adv = cur.value.saturating_sub(p.value);
                let bound = per_day.map_or(MAX_ADVANCE, |d| allowed(d, cur.at.saturating_sub(p.at)).min(MAX_ADVANCE));
                if adv > bound && series.released.binary_search(&cur.at).is_err() {
                    Step::Held { from: *p, allowed: bound }
                } else {
                    Step::Advance(adv)
                }
            }
        };
        f(cur, step);
        prev = Some(cur);
    }
}

/// Whether an estimate still stands beside the series' last actual read: later than it, and
/// not below it. An actual read (arriving late) above a later estimate proves the estimate
/// wrong; taking the step down to it for a counter reset would bill the advance from the
/// estimate again.
fn in_force(last_actual: Option<Read>, estimate: &Read) -> bool {
    last_actual.is_none_or(|l| estimate.at > l.at && estimate.value >= l.value)
}

/// Per-period figures of one series.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    qty: u64,
    actual: u64,
    estimated: bool,
    segments: u32,
    sources: u8,
}

/// Adds an estimated read at the period's last instant (`end - 1`) for a meter whose last read
/// is older than [`MeterConfig::silent_after`] before `end`: the last read plus its recent rate
/// (over [`MeterConfig::rate_lookback`], same segment) times the time to `end`, never more than
/// the plausibility bound allows.
fn estimate(series: &mut Series, end: u64, config: &MeterConfig, per_day: Option<u64>) {
    let at = end.saturating_sub(1);
    let Some(last) = series.reads.last().copied() else { return };
    if last.at >= end.saturating_sub(config.silent_after.0)
        || last.flags & ESTIMATED != 0
        || series.estimates.last().is_some_and(|e| e.at >= at)
    {
        return;
    }
    // The earliest read of the same segment within the look-back.
    let since = last.at.saturating_sub(config.rate_lookback.0);
    let mut first = last;
    for r in series.reads.iter().rev().skip(1) {
        if r.at < since || r.value > first.value {
            break;
        }
        first = *r;
    }
    let span = last.at.saturating_sub(first.at);
    let advance = last.value.saturating_sub(first.value);
    let ahead = end.saturating_sub(last.at);
    let mut extra = u128::from(advance)
        .checked_mul(u128::from(ahead))
        .and_then(|x| x.checked_div(u128::from(span)))
        .map_or(0, |x| u64::try_from(x).unwrap_or(u64::MAX));
    if let Some(d) = per_day {
        extra = extra.min(allowed(d, ahead));
    }
    series.estimates.push(Read { at, value: last.value.saturating_add(extra), flags: ESTIMATED });
}

impl Meter {
    /// Closes the contract's oldest open period, which must have ended by `now`, and returns its
    /// usage lines, invoice and review lists. Afterwards observations for it are adjustments in
    /// the next closing, until they fall out of the late window.
    ///
    /// Save the meter after this call and before sending the invoice: a meter restored from an
    /// older save would close the period again and produce the same invoice (closing is
    /// deterministic), never a different one. On an error other than
    /// [`MeterError::UnknownContract`] or [`MeterError::PeriodNotOver`] (an arithmetic overflow
    /// from corrupt input) the meter may be partly changed: restore it from the last save
    /// rather than go on with it (`printfleet bill` records nothing after a failed closing).
    pub fn close_period(&mut self, contract_id: ContractId, now: Timestamp) -> Result<Closing, MeterError> {
        let inner = &mut self.inner;
        let config = &inner.config;
        let contract =
            inner.contracts.get_mut(&contract_id).ok_or(MeterError::UnknownContract { contract: contract_id })?;
        let terms = &contract.terms;
        let p = contract.open;
        let start = terms.period.start(p)?;
        let end = terms.period.end(p)?;
        if now < end {
            return Err(MeterError::PeriodNotOver { period: p, ends_at: end });
        }
        let e_ms = end.unix_millis();
        let s_ms = start.unix_millis();
        let from_period = contract.retain_from.max(contract.first);
        let keep_ms = terms.period.start(contract.retain_from)?.unix_millis();

        let mut usage = Vec::new();
        let mut held = Vec::new();
        let mut silent = Vec::new();
        let mut discrepancies = Vec::new();
        let mut billable: Vec<Billable> = Vec::new();
        // Changes to closed periods whose invoice is kept, each priced again in its own period
        // below.
        let mut corrections: Vec<Correction> = Vec::new();
        // The devices counted in the period (for the fees and the pool).
        let mut counted: Vec<DeviceId> = Vec::new();
        // The kept closed periods (period, start, end), and devices found on the contract in
        // one of them that it did not count.
        let kept = contract
            .priced
            .iter()
            .map(|r| {
                Ok((r.period, terms.period.start(r.period)?.unix_millis(), terms.period.end(r.period)?.unix_millis()))
            })
            .collect::<Result<Vec<_>, MeterError>>()?;
        let mut joins: Vec<(PeriodId, DeviceId)> = Vec::new();
        let repriced = |q: &PeriodId| contract.priced.binary_search_by(|r| r.period.cmp(q)).is_ok();

        for device in &contract.devices {
            let Some(dev) = inner.devices.get_mut(device) else { continue };
            // A device that moved: only what it did while on this contract counts here.
            let DeviceState { info, series, job_sums, moves, last_seen, retired, .. } = dev;
            let (moves, contract_now, retired): (&[(u64, ContractId)], _, _) = (moves, info.contract, *retired);
            // Billed under `contract_id` at some instant of `[from, until)` (none after retirement).
            let billed_in = |from: u64, until: u64| {
                let until = retired.map_or(until, |r| until.min(r));
                from < until && owns_some(moves, contract_now, contract_id, from, until)
            };
            if !billed_in(keep_ms, e_ms) {
                continue;
            }
            if billed_in(s_ms, e_ms) {
                counted.push(*device);
            }
            // On the contract in a kept closed period it was not counted in (moved in, or
            // added, after that period closed): that period is priced again with it.
            for (record, (q, from, until)) in contract.priced.iter().zip(&kept) {
                if billed_in(*from, *until) && record.devices.binary_search(device).is_err() {
                    joins.push((*q, *device));
                }
            }
            let live = |t: u64| retired.is_none_or(|r| t < r);
            let here_at_end =
                live(e_ms.saturating_sub(1)) && owner_at(moves, contract_now, e_ms.saturating_sub(1)) == contract_id;
            // The advance that a read at `t` proves happened before `t`: it belongs to the
            // contract of the instant before (so the handover read at a move's effective instant
            // closes the old contract's share, and the last read at a retirement the device's).
            let owned_by = |t: u64| {
                let before = t.saturating_sub(1);
                live(before) && owner_at(moves, contract_now, before) == contract_id
            };
            if here_at_end && last_seen.is_none_or(|t| t < e_ms.saturating_sub(config.silent_after.0)) {
                silent.push(Silent {
                    device: *device,
                    serial: info.serial.clone(),
                    last_seen: last_seen.and_then(|t| Timestamp::from_unix_millis(t).ok()),
                });
            }
            // The cartridge swaps (resets) of the last all-ink series walked, by colour; the
            // third-party series of the same colour sorts right after it.
            let mut ink_resets: Option<(printfleet_schema::Colour, Vec<u64>)> = None;
            for s in series.iter_mut() {
                let per_day = config.plausibility.per_day(info.class, &s.kind);
                if terms.estimates && here_at_end {
                    estimate(s, e_ms, config, per_day);
                }
                let mut accs: Vec<(PeriodId, Acc)> = Vec::new();
                let (mut win_start, mut win_end, mut win) = (u64::MAX, 0u64, PeriodId(0));
                let mut seg_id = 0u32;
                let mut last_seg: Option<(PeriodId, u32)> = None;
                let mut overflow = false;
                let linked = match (&s.kind, &ink_resets) {
                    (Category::Ink { colour, origin: InkOrigin::ThirdParty }, Some((c, at))) if c == colour => {
                        at.as_slice()
                    }
                    _ => &[],
                };
                let mut resets_here = Vec::new();
                let mut detected = Vec::new();
                walk(s, per_day, e_ms, linked, |r, step| {
                    if !(win_start..win_end).contains(&r.at) {
                        win = terms.period.period_of(Timestamp::from_unix_millis(r.at).unwrap_or(Timestamp::MAX));
                        win_start = terms.period.start(win).map_or(0, Timestamp::unix_millis);
                        win_end = terms.period.end(win).map_or(u64::MAX, Timestamp::unix_millis);
                    }
                    let amount = match step {
                        Step::Advance(a) => a,
                        Step::Reset => {
                            seg_id = seg_id.saturating_add(1);
                            resets_here.push(r.at);
                            0
                        }
                        Step::Held { from, allowed } => {
                            seg_id = seg_id.saturating_add(1);
                            if s.dismissed.binary_search(&r.at).is_err() {
                                detected.push(PendingHold { from, to: *r, allowed });
                            }
                            0
                        }
                        Step::First => 0,
                    };
                    if win < from_period || !owned_by(r.at) {
                        return;
                    }
                    if accs.last().is_none_or(|(q, _)| *q != win) {
                        accs.push((win, Acc::default()));
                    }
                    let Some((_, acc)) = accs.last_mut() else { return };
                    match acc.qty.checked_add(amount) {
                        Some(q) => acc.qty = q,
                        None => overflow = true,
                    }
                    if r.flags & ESTIMATED == 0 {
                        acc.actual = acc.actual.saturating_add(amount);
                    } else if amount > 0 {
                        acc.estimated = true;
                    }
                    if amount > 0 {
                        acc.sources |= r.flags;
                    }
                    if last_seg != Some((win, seg_id)) {
                        acc.segments = acc.segments.saturating_add(1);
                        last_seg = Some((win, seg_id));
                    }
                });
                // Holds awaiting review: those whose reads left the window, then those found now;
                // every one is listed until released or dismissed.
                let series_ref: &Series = s;
                let mut holds: Vec<PendingHold> =
                    series_ref.holds.iter().filter(|h| !has_read_after_anchor(series_ref, h.to.at)).copied().collect();
                holds.extend(detected);
                let excess = holds.len().saturating_sub(MAX_HOLDS_PER_SERIES);
                holds.drain(..excess);
                for h in holds.iter().filter(|h| owned_by(h.to.at)) {
                    held.push(Held {
                        device: *device,
                        kind: s.kind.clone(),
                        from: (Timestamp::from_unix_millis(h.from.at).unwrap_or_default(), h.from.value),
                        to: (Timestamp::from_unix_millis(h.to.at).unwrap_or_default(), h.to.value),
                        allowed: h.allowed,
                    });
                }
                s.holds = holds;
                if let Category::Ink { colour, origin: InkOrigin::All } = &s.kind {
                    ink_resets = Some((colour.clone(), resets_here));
                }
                if overflow {
                    return Err(MeterError::Overflow);
                }
                let current = accs.iter().find(|(q, _)| *q == p).map(|(_, a)| *a).unwrap_or_default();

                // Closed periods: recomputed against what was billed. A period whose invoice is
                // kept is priced again with its new quantity (its own allowance and tiers); the
                // change of one that is not (closed before this was kept) is netted here.
                let mut delta: i128 = 0;
                let mut adj_sources = 0u8;
                let first_correction = corrections.len();
                let mut change = |q: PeriodId, change: i128, estimated: bool, sources: u8| {
                    if change == 0 {
                        return;
                    }
                    if repriced(&q) {
                        corrections.push(Correction {
                            period: q,
                            kind: s.kind.clone(),
                            device: *device,
                            change,
                            estimated,
                            sources,
                        });
                    } else {
                        adj_sources |= sources;
                        delta = delta.saturating_add(change);
                    }
                };
                // Other contracts' entries (a device that moved) are kept as they are.
                let mut frozen: Vec<(ContractId, PeriodId, u64)> =
                    s.frozen.iter().filter(|(c, _, _)| *c != contract_id).cloned().collect();
                let was_of = |q: &PeriodId| {
                    s.frozen.iter().find(|(c, f, _)| *c == contract_id && f == q).map_or(0, |(_, _, v)| *v)
                };
                for (q, a) in accs.iter().filter(|(q, _)| *q < p) {
                    let was = was_of(q);
                    if was != a.qty {
                        change(*q, i128::from(a.qty).saturating_sub(i128::from(was)), a.estimated, a.sources);
                    }
                    frozen.push((contract_id, *q, a.qty));
                }
                for (_, q, was) in s.frozen.iter().filter(|(c, q, _)| *c == contract_id && *q >= from_period && *q < p)
                {
                    if !accs.iter().any(|(a, _)| a == q) {
                        change(*q, i128::from(*was).saturating_neg(), false, 0);
                    }
                }
                frozen.push((contract_id, p, current.qty));
                s.frozen = frozen;
                // Released holds whose reads had left the window: billed by the contract the
                // device was on when they happened, else by its current one.
                if s.owed > 0 && contract_now == contract_id {
                    delta = delta.saturating_add(i128::from(std::mem::take(&mut s.owed)));
                }
                if let Some(i) = s.owed_to.iter().position(|(c, _)| *c == contract_id) {
                    let (_, owed) = s.owed_to.swap_remove(i);
                    delta = delta.saturating_add(i128::from(owed));
                }
                let credit = s.credit.iter().find(|(c, _)| *c == contract_id).map_or(0, |(_, v)| *v);
                let adjustment = delta.saturating_sub(i128::from(credit));
                let net = adjustment.saturating_add(i128::from(current.qty));
                s.credit.retain(|(c, _)| *c != contract_id);
                let net_billable = if net < 0 {
                    s.credit.push((contract_id, u64::try_from(net.unsigned_abs()).map_err(|_| MeterError::Overflow)?));
                    0
                } else {
                    u64::try_from(net).map_err(|_| MeterError::Overflow)?
                };
                let unit = terms.prices.get(&s.kind).and_then(|c| c.unit).unwrap_or_else(|| Unit::of(&s.kind));
                let line =
                    |quantity: i128, line, estimated, segments, sources, corrects| -> Result<UsageLine, MeterError> {
                        Ok(UsageLine {
                            contract: contract_id,
                            device: *device,
                            serial: info.serial.clone(),
                            period: p,
                            period_start: start,
                            period_end: end,
                            category: s.kind.clone(),
                            unit,
                            quantity: QuantityDelta(i64::try_from(quantity).map_err(|_| MeterError::Overflow)?),
                            line,
                            estimated,
                            segments,
                            sources: Sources(sources),
                            corrects,
                        })
                    };
                usage.push(line(
                    i128::from(current.qty),
                    LineKind::Usage,
                    current.estimated,
                    current.segments,
                    current.sources,
                    None,
                )?);
                for c in corrections.get(first_correction..).unwrap_or_default() {
                    let corrects = Some(terms.period.start(c.period)?);
                    usage.push(line(c.change, LineKind::Correction, c.estimated, 0, c.sources, corrects)?);
                }
                if adjustment != 0 {
                    usage.push(line(adjustment, LineKind::Adjustment, false, 0, adj_sources, None)?);
                }
                // What is not priced, or is zero, cannot change an invoice: not kept.
                if net_billable > 0 && terms.prices.contains_key(&s.kind) {
                    billable.push((s.kind.clone(), *device, net_billable, current.estimated));
                }

                // Reconciliation: the jobs of this contract's part of the period (the device
                // may have moved during it) against the counters' advance billed here.
                if let Some((.., jobs)) =
                    job_sums.iter().find(|(c, q, k, _)| *c == contract_id && *q == p && *k == s.kind)
                    && let Some(d) = discrepancy(*device, &s.kind, *jobs, current.actual, config.tolerance)
                {
                    discrepancies.push(d);
                }
            }
            for (_, _, kind, jobs) in job_sums.iter().filter(|(c, q, _, _)| *c == contract_id && *q == p) {
                if series.binary_search_by(|s| s.kind.cmp(kind)).is_err()
                    && let Some(d) = discrepancy(*device, kind, *jobs, 0, config.tolerance)
                {
                    discrepancies.push(d);
                }
            }
        }

        let n_devices = u64::try_from(counted.len()).map_err(|_| MeterError::Overflow)?;
        let mut invoice = invoice_of(contract_id, terms, n_devices, p, start, end, &billable)?;
        billable.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let own = Priced { period: p, devices: counted, rows: billable, total: invoice.total };
        let settled = settle(contract_id, contract, corrections, joins, &mut invoice)?;
        // A credit a re-priced period could not give (its row was already netted to zero by a
        // quantity credit of a state saved by an earlier version) stays a quantity credit.
        for (device, kind, qty) in &settled.unbilled {
            let series = inner.devices.get_mut(device).map(|d| &mut d.series);
            if let Some(s) = series.and_then(|v| v.iter_mut().find(|s| s.kind == *kind)) {
                match s.credit.iter_mut().find(|(c, _)| *c == contract_id) {
                    Some((_, v)) => *v = v.saturating_add(*qty),
                    None => s.credit.push((contract_id, *qty)),
                }
            }
        }
        let closing = Closing {
            usage,
            invoice,
            held,
            silent,
            discrepancies,
            rejected: std::mem::take(&mut contract.rejected),
            rejected_unlisted: std::mem::take(&mut contract.rejected_unlisted),
        };

        // Advance the contract and prune what the late window no longer needs.
        let period = contract.terms.period;
        contract.open = p.next()?;
        contract.open_start = e_ms;
        contract.accept_from = contract.accept_from.max(e_ms.saturating_sub(config.late_window.0));
        contract.retain_from = retain_period(period, contract.accept_from).max(contract.retain_from);
        let retain_from = contract.retain_from;
        for record in settled.repriced {
            if let Some(old) = contract.priced.iter_mut().find(|r| r.period == record.period) {
                *old = record;
            }
        }
        contract.priced.push(own);
        contract.priced.retain(|r| r.period >= retain_from);
        contract.credit = settled.credit;
        contract.accept_until = accept_until(period, contract.open)?;
        let keep_from = period.start(contract.retain_from)?.unix_millis();
        let devices = std::mem::take(&mut contract.devices);
        let mut kept = Vec::with_capacity(devices.len());
        for device in devices {
            let Some(dev) = inner.devices.get_mut(&device) else { continue };
            if dev.moves.is_empty() {
                prune(dev, keep_from, contract_id, retain_from);
                kept.push(device);
                continue;
            }
            // A device that moved: keep what every contract it was on may still need.
            let keep_dev = dev
                .moves
                .iter()
                .filter_map(|(_, c)| inner.contracts.get(c))
                .filter_map(|c| c.terms.period.start(c.retain_from).ok())
                .map(Timestamp::unix_millis)
                .fold(keep_from, u64::min);
            prune(dev, keep_dev, contract_id, retain_from);
            if owns_some(&dev.moves, dev.info.contract, contract_id, keep_from, u64::MAX) {
                kept.push(device);
            } else {
                // Gone from this contract beyond its late window: forget what it billed here
                // (what it still owes this contract goes to its current one: billed, not lost).
                for s in &mut dev.series {
                    s.frozen.retain(|(c, _, _)| *c != contract_id);
                    s.credit.retain(|(c, _)| *c != contract_id);
                    if let Some(i) = s.owed_to.iter().position(|(c, _)| *c == contract_id) {
                        let (_, owed) = s.owed_to.swap_remove(i);
                        s.owed = s.owed.saturating_add(owed);
                    }
                }
                dev.job_sums.retain(|(c, ..)| *c != contract_id);
            }
        }
        if let Some(contract) = inner.contracts.get_mut(&contract_id) {
            contract.devices = kept;
        }
        Ok(closing)
    }
}

/// Drops what lies before `keep_from`, keeping each series' anchor (its last point before), and
/// what `contract` billed before `retain_from`.
fn prune(dev: &mut DeviceState, keep_from: u64, contract: ContractId, retain_from: PeriodId) {
    dev.keys.retain(|k| k.2 >= keep_from);
    dev.jobs.retain(|_, at| *at >= keep_from);
    // Each contract's job sums are numbered in its own calendar.
    dev.job_sums.retain(|(c, p, _, _)| *c != contract || *p >= retain_from);
    for s in &mut dev.series {
        let last_actual = s.reads.last().copied();
        s.estimates.retain(|e| in_force(last_actual, e));
        let before_reads = s.reads.partition_point(|r| r.at < keep_from);
        let before_est = s.estimates.partition_point(|e| e.at < keep_from);
        if before_est > 0 {
            // The anchor is an estimate after every actual read: keep it as a read.
            let anchor = s.estimates.get(before_est.saturating_sub(1)).copied();
            s.reads.clear();
            s.reads.extend(anchor);
            s.estimates.drain(..before_est);
        } else if before_reads > 1 {
            s.reads.drain(..before_reads.saturating_sub(1));
        }
        s.frozen.retain(|(c, p, _)| *c != contract || *p >= retain_from);
        s.released.retain(|at| *at >= keep_from);
        s.dismissed.retain(|at| *at >= keep_from);
    }
}

fn discrepancy(device: DeviceId, kind: &Category, jobs: u64, counters: u64, t: Tolerance) -> Option<Discrepancy> {
    let diff = jobs.abs_diff(counters);
    let relative = u128::from(counters).saturating_mul(u128::from(t.basis_points)) / 10_000;
    (diff > t.absolute && u128::from(diff) > relative).then(|| Discrepancy {
        device,
        kind: kind.clone(),
        jobs,
        counters,
    })
}

/// Prices a period's billable quantities.
fn invoice_of(
    contract_id: ContractId,
    terms: &Terms,
    n_devices: u64,
    period: PeriodId,
    start: Timestamp,
    end: Timestamp,
    billable: &[Billable],
) -> Result<Invoice, MeterError> {
    let mut lines = Vec::new();
    for (kind, ct) in &terms.prices {
        let rows = billable.iter().filter(|(k, _, _, _)| k == kind);
        let estimated = rows.clone().any(|(_, _, q, e)| *e && *q > 0);
        let quantity = match ct.allowance {
            Allowance::None => rows.map(|r| r.2).try_fold(0u64, u64::checked_add),
            Allowance::PerDevice(a) => rows.map(|r| r.2.saturating_sub(a)).try_fold(0u64, u64::checked_add),
            Allowance::Pooled(a) => rows
                .map(|r| r.2)
                .try_fold(0u64, u64::checked_add)
                .map(|sum| sum.saturating_sub(a.saturating_mul(n_devices))),
        }
        .ok_or(MeterError::Overflow)?;
        tier_lines(kind, ct, Quantity(quantity), estimated, &mut lines)?;
    }
    if terms.fee_per_period.0 > 0 {
        lines.push(lump(Charge::FeePerPeriod, terms.fee_per_period, false));
    }
    if terms.fee_per_device.0 > 0 {
        let price = Price::new(terms.fee_per_device.0, 1)?;
        lines.push(InvoiceLine {
            charge: Charge::FeePerDevice,
            quantity: Quantity(n_devices),
            unit: None,
            price: Some(price),
            amount: price.amount(Quantity(n_devices))?,
            estimated: false,
        });
    }
    let mut total = sum(&lines)?;
    if total < terms.minimum_charge {
        lines.push(lump(Charge::MinimumCharge, MinorUnits(terms.minimum_charge.0.saturating_sub(total.0)), false));
        total = sum(&lines)?;
    }
    Ok(Invoice {
        contract: contract_id,
        period,
        period_start: start,
        period_end: end,
        currency: terms.currency,
        lines,
        total,
    })
}

/// A change to a closed period's usage of one category on one device.
#[derive(Clone, Debug)]
struct Correction {
    period: PeriodId,
    kind: Category,
    device: DeviceId,
    change: i128,
    estimated: bool,
    sources: u8,
}

/// What [`settle`] found.
struct Settled {
    /// The corrected periods' records, priced again.
    repriced: Vec<Priced>,
    /// The money credit to carry to the next invoice.
    credit: MinorUnits,
    /// Credit (a quantity, per device and category) a period's row could not give.
    unbilled: Vec<(DeviceId, Category, u64)>,
}

/// Prices each corrected closed period again with its new quantities and devices (`joins`:
/// devices found on the contract in a period that did not count them, now counted for their
/// fee and their share of a pooled allowance),
/// and adds to `invoice` (the closing period's own) a [`Charge::Correction`] or
/// [`Charge::Credit`] line per period whose total changed, the credit brought forward, and
/// the credit carried forward if credits exceed the charges (the total is never negative).
/// Nothing is changed in `contract`.
fn settle(
    contract_id: ContractId,
    contract: &ContractState,
    mut corrections: Vec<Correction>,
    joins: Vec<(PeriodId, DeviceId)>,
    invoice: &mut Invoice,
) -> Result<Settled, MeterError> {
    let terms = &contract.terms;
    corrections.sort_unstable_by(|a, b| (a.period, &a.kind, a.device).cmp(&(b.period, &b.kind, b.device)));
    let mut periods: Vec<PeriodId> = corrections.iter().map(|c| c.period).chain(joins.iter().map(|j| j.0)).collect();
    periods.sort_unstable();
    periods.dedup();
    let (mut charges, mut credits) = (u128::from(invoice.total.0), u128::from(contract.credit.0));
    let mut repriced = Vec::new();
    let mut unbilled = Vec::new();
    for q in periods {
        let Some(mut record) = contract.priced.iter().find(|r| r.period == q).cloned() else { continue };
        for (_, device) in joins.iter().filter(|j| j.0 == q) {
            if let Err(at) = record.devices.binary_search(device) {
                record.devices.insert(at, *device);
            }
        }
        let first = corrections.partition_point(|c| c.period < q);
        let group = corrections.get(first..).unwrap_or_default();
        let group = group.get(..group.partition_point(|c| c.period == q)).unwrap_or_default();
        for c in group {
            if !terms.prices.contains_key(&c.kind) {
                continue;
            }
            let key = (&c.kind, c.device);
            let (at, was) = match record.rows.binary_search_by(|r| (&r.0, r.1).cmp(&key)) {
                Ok(at) => (at, record.rows.get(at).map_or(0, |r| r.2)),
                Err(at) => (at, 0),
            };
            let now = i128::from(was).saturating_add(c.change);
            if now < 0 {
                unbilled.push((c.device, c.kind.clone(), u64::try_from(now.unsigned_abs()).unwrap_or(u64::MAX)));
            }
            let qty = u64::try_from(now.max(0)).map_err(|_| MeterError::Overflow)?;
            match record.rows.get_mut(at) {
                Some(row) if row.0 == c.kind && row.1 == c.device => {
                    row.2 = qty;
                    row.3 |= c.estimated;
                }
                _ if qty > 0 => record.rows.insert(at, (c.kind.clone(), c.device, qty, c.estimated)),
                _ => {}
            }
        }
        record.rows.retain(|r| r.2 > 0);
        let (start, end) = (terms.period.start(q)?, terms.period.end(q)?);
        let n_devices = u64::try_from(record.devices.len()).map_err(|_| MeterError::Overflow)?;
        let again = invoice_of(contract_id, terms, n_devices, q, start, end, &record.rows)?;
        let estimated = group.iter().any(|c| c.estimated);
        if again.total > record.total {
            let more = again.total.0.saturating_sub(record.total.0);
            charges = charges.saturating_add(u128::from(more));
            invoice.lines.push(lump(Charge::Correction { period: q, start }, MinorUnits(more), estimated));
        } else if again.total < record.total {
            let less = record.total.0.saturating_sub(again.total.0);
            credits = credits.saturating_add(u128::from(less));
            invoice.lines.push(lump(Charge::Credit { period: q, start }, MinorUnits(less), estimated));
        }
        record.total = again.total;
        repriced.push(record);
    }
    if contract.credit.0 > 0 {
        invoice.lines.push(lump(Charge::CreditBroughtForward, contract.credit, false));
    }
    let credit = MinorUnits(u64::try_from(credits.saturating_sub(charges)).map_err(|_| MeterError::Overflow)?);
    if credit.0 > 0 {
        invoice.lines.push(lump(Charge::CreditCarriedForward, credit, false));
    }
    invoice.total = MinorUnits(u64::try_from(charges.saturating_sub(credits)).map_err(|_| MeterError::Overflow)?);
    debug_assert_eq!(signed_sum(&invoice.lines), i128::from(invoice.total.0));
    Ok(Settled { repriced, credit, unbilled })
}

/// A line of one lump sum: quantity 1, no unit, no price.
fn lump(charge: Charge, amount: MinorUnits, estimated: bool) -> InvoiceLine {
    InvoiceLine { charge, quantity: Quantity(1), unit: None, price: None, amount, estimated }
}

/// The signed sum of an invoice's lines: credits subtract ([`InvoiceLine::signed_amount`]).
fn signed_sum(lines: &[InvoiceLine]) -> i128 {
    lines.iter().map(InvoiceLine::signed_amount).fold(0i128, i128::saturating_add)
}

fn sum(lines: &[InvoiceLine]) -> Result<MinorUnits, MeterError> {
    lines.iter().try_fold(MinorUnits(0), |acc, l| acc.checked_add(l.amount))
}

/// Graduated tiers: each tier's share of `quantity` at its price; a zero quantity still gets
/// one (zero) line so that every priced category shows.
fn tier_lines(
    kind: &Category,
    ct: &CategoryTerms,
    quantity: Quantity,
    estimated: bool,
    lines: &mut Vec<InvoiceLine>,
) -> Result<(), MeterError> {
    let unit = Some(ct.unit.unwrap_or_else(|| Unit::of(kind)));
    let mut remaining = quantity.0;
    let mut lower = 0u64;
    let count = ct.tiers.len();
    for (i, tier) in ct.tiers.iter().enumerate() {
        let last = i.saturating_add(1) == count;
        let take = match tier.up_to {
            Some(up) if !last => remaining.min(up.saturating_sub(lower)),
            _ => remaining,
        };
        if take > 0 || (i == 0 && quantity.0 == 0) {
            lines.push(InvoiceLine {
                charge: Charge::Usage { category: kind.clone(), tier: u8::try_from(i).unwrap_or(u8::MAX) },
                quantity: Quantity(take),
                unit,
                price: Some(tier.price),
                amount: tier.price.amount(Quantity(take))?,
                estimated,
            });
        }
        remaining = remaining.saturating_sub(take);
        lower = tier.up_to.unwrap_or(u64::MAX);
        if remaining == 0 {
            break;
        }
    }
    Ok(())
}
