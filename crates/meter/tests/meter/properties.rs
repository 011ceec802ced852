//! Properties: usage is the sum of segment advances whatever the delivery; billing is never
//! negative; late usage is billed as if it had been known when its period closed; the same input
//! gives byte-identical CSV.

use printfleet_meter::*;
use proptest::prelude::*;

use crate::util::*;

/// One device's reads in time order: (minutes since 2025-01-01, value), up to 30 March.
fn series() -> impl Strategy<Value = Vec<(u64, u64)>> {
    (
        proptest::collection::btree_set(0u64..(88 * 24 * 60), 1..40),
        proptest::collection::vec((0u64..2_000, 0u8..8, 0u64..300), 40),
    )
        .prop_map(|(times, steps)| {
            let mut v = 50_000u64;
            times
                .into_iter()
                .zip(steps)
                .map(|(t, (adv, reset, low))| {
                    v = if reset == 0 { low } else { v + adv };
                    (t, v)
                })
                .collect()
        })
}

/// The fleet: two devices' series, then a delivery: an order over every read (with some
/// delivered twice), and where in it each of the three closings happens.
/// Devices' reads, delivery order (device, read index), closing positions, save position.
type Fleet = (Vec<Vec<(u64, u64)>>, Vec<(usize, usize)>, [usize; 3], usize);

fn fleet() -> impl Strategy<Value = Fleet> {
    proptest::collection::vec(series(), 2).prop_flat_map(|devices| {
        let mut all: Vec<(usize, usize)> =
            devices.iter().enumerate().flat_map(|(d, s)| (0..s.len()).map(move |i| (d, i))).collect();
        let n = all.len();
        let dups = proptest::collection::vec(0..n, 0..8);
        (Just(devices), Just(std::mem::take(&mut all)), dups, [0..=n + 8, 0..=n + 8, 0..=n + 8], 0..=n + 8)
            .prop_flat_map(|(devices, mut order, dups, mut closes, save_at)| {
                let extra: Vec<(usize, usize)> = dups.into_iter().map(|i| order[i]).collect();
                order.extend(extra);
                closes.sort_unstable();
                (Just(devices), Just(order).prop_shuffle(), Just(closes), Just(save_at))
            })
    })
}

/// Σ over segments of each segment's advance: reads in time order, a lower read starts a segment.
fn segment_advances(reads: &[(u64, u64)]) -> u64 {
    // A lower read advances nothing: it starts the next segment.
    reads.windows(2).map(|w| w[1].1.saturating_sub(w[0].1)).sum()
}

fn observation(d: usize, (minute, value): (u64, u64)) -> Observation {
    total(d as u64 + 1, value, printfleet_schema::Timestamp::from_unix_millis(JAN_2025 + minute * 60_000).unwrap())
}

struct Run {
    closings: Vec<Closing>,
    accepted: Vec<Vec<(u64, u64)>>,
}

fn run(terms: Terms, devices: &[Vec<(u64, u64)>], order: &[(usize, usize)], closes: [usize; 3], save_at: usize) -> Run {
    run_with(unbounded(), terms, devices, order, closes, save_at)
}

fn run_with(
    config: MeterConfig,
    terms: Terms,
    devices: &[Vec<(u64, u64)>],
    order: &[(usize, usize)],
    closes: [usize; 3],
    save_at: usize,
) -> Run {
    let mut m = meter_with(config, terms, &[1, 2]);
    let mut closings = Vec::new();
    let mut accepted = vec![Vec::new(); devices.len()];
    let ends = [at(FEB, 0), at(MAR, 0), at(APR, 0)];
    for step in 0..=order.len() {
        for (i, c) in closes.iter().enumerate() {
            if *c == step && closings.len() == i {
                closings.push(m.close_period(CONTRACT, ends[i]).unwrap());
            }
        }
        if step == save_at {
            m = serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
        }
        let Some(&(d, i)) = order.get(step) else { break };
        match m.observe(&observation(d, devices[d][i])) {
            Ok(Outcome::Duplicate) => {}
            Ok(_) => accepted[d].push(devices[d][i]),
            Err(MeterError::TooLate { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    while closings.len() < 3 {
        closings.push(m.close_period(CONTRACT, ends[closings.len()]).unwrap());
    }
    // April: late data accepted after March closed shows as its adjustments.
    closings.push(m.close_period(CONTRACT, at(APR + 30, 0)).unwrap());
    for a in &mut accepted {
        a.sort_unstable();
    }
    Run { closings, accepted }
}

fn csv_of(closings: &[Closing]) -> Vec<u8> {
    let mut out = Vec::new();
    let usage: Vec<UsageLine> = closings.iter().flat_map(|c| c.usage.clone()).collect();
    export::usage_csv(&usage, &mut out).unwrap();
    let invoices: Vec<Invoice> = closings.iter().map(|c| c.invoice.clone()).collect();
    export::invoice_csv(&invoices, &mut out).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn total_usage_is_the_sum_of_segment_advances(
        (devices, order, closes, save_at) in fleet()
    ) {
        let r = run(per_page(1), &devices, &order, closes, save_at);
        let expected: u64 = r.accepted.iter().map(|a| segment_advances(a)).sum();
        let lines: i64 = r.closings.iter().flat_map(|c| &c.usage).map(|l| l.quantity.0).sum();
        let billed: u64 = r.closings.iter().map(|c| c.invoice.total.0).sum();
        prop_assert_eq!(lines, expected as i64);
        prop_assert_eq!(billed, expected);
        // Whatever the delivery, what was accepted fully is billed as if delivered in order.
        if r.closings.iter().all(|c| c.rejected.is_empty()) {
            let in_order: Vec<(usize, usize)> =
                devices.iter().enumerate().flat_map(|(d, s)| (0..s.len()).map(move |i| (d, i))).collect();
            let n = in_order.len();
            let reference = run(per_page(1), &devices, &in_order, [n; 3], n + 1);
            let reference_total: u64 = reference.closings.iter().map(|c| c.invoice.total.0).sum();
            prop_assert_eq!(billed, reference_total);
        }
    }

    #[test]
    fn billing_is_never_negative(
        (devices, order, closes, save_at) in fleet(),
        allowance in 0u64..3_000,
    ) {
        let mut terms = per_page(3);
        terms.estimates = true;
        terms.prices.get_mut(&Category::TOTAL).unwrap().allowance = Allowance::Pooled(allowance);
        let r = run(terms, &devices, &order, closes, save_at);
        for c in &r.closings {
            for l in c.usage.iter().filter(|l| l.line == LineKind::Usage) {
                prop_assert!(l.quantity.0 >= 0, "{:?}", l);
            }
            prop_assert_eq!(c.invoice.lines.iter().map(InvoiceLine::signed_amount).sum::<i128>(), i128::from(c.invoice.total.0));
        }
        // Without allowance, estimates only move usage between periods: never less than proven.
        let mut plain = per_page(1);
        plain.estimates = true;
        let r = run(plain, &devices, &order, closes, save_at);
        let billed: u64 = r.closings.iter().map(|c| c.invoice.total.0).sum();
        let proven: u64 = r.accepted.iter().map(|a| segment_advances(a)).sum();
        prop_assert!(billed >= proven, "billed {} < proven {}", billed, proven);
    }

    #[test]
    fn late_usage_is_billed_as_if_known_when_its_period_closed(
        (devices, order, closes, save_at) in fleet(),
        allowance in 0u64..3_000,
        minimum in 0u64..6_000,
    ) {
        // With an allowance, where a page is billed decides whether it is paid for: a
        // correction priced in a later period would use that period's allowance instead (and
        // its minimum charge).
        let terms = || {
            let mut t = per_page(1);
            t.prices.get_mut(&Category::TOTAL).unwrap().allowance = Allowance::Pooled(allowance);
            t.fee_per_device = MinorUnits(50);
            t.minimum_charge = MinorUnits(minimum);
            t
        };
        // A late window of 100 days: every read is accepted, however late.
        let mut config = unbounded();
        config.late_window = printfleet_schema::DurationMs(100 * DAY);
        let r = run_with(config.clone(), terms(), &devices, &order, closes, save_at);
        prop_assert!(r.closings.iter().all(|c| c.rejected.is_empty()));
        let in_order: Vec<(usize, usize)> =
            devices.iter().enumerate().flat_map(|(d, s)| (0..s.len()).map(move |i| (d, i))).collect();
        let n = in_order.len();
        let reference = run_with(config, terms(), &devices, &in_order, [n; 3], n + 1);
        let reference_total: u64 = reference.closings.iter().map(|c| c.invoice.total.0).sum();
        let billed: u64 = r.closings.iter().map(|c| c.invoice.total.0).sum();
        // Credit not yet offset at the end was billed and is owed back.
        let carried = r.closings.last().and_then(|c| {
            c.invoice.lines.iter().find(|l| l.charge == Charge::CreditCarriedForward).map(|l| l.amount.0)
        });
        prop_assert_eq!(billed - carried.unwrap_or(0), reference_total);
    }

    #[test]
    fn same_input_gives_byte_identical_csv(
        (devices, order, closes, save_at) in fleet()
    ) {
        let a = run(per_page(2), &devices, &order, closes, save_at);
        let b = run(per_page(2), &devices, &order, closes, order.len() + 1);
        prop_assert_eq!(csv_of(&a.closings), csv_of(&b.closings));
        // Every delivery order gives the same bytes when the closings come after it.
        let n = order.len();
        let all_first = run(per_page(2), &devices, &order, [n; 3], n + 1);
        let mut reversed = order.clone();
        reversed.reverse();
        let reversed = run(per_page(2), &devices, &reversed, [n; 3], n + 1);
        prop_assert_eq!(csv_of(&all_first.closings), csv_of(&reversed.closings));
    }
}
