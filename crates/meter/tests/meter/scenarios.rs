//! The scenarios, one test each, plus held jumps, reconciliation and rejection.

use printfleet_meter::*;
use printfleet_schema::MeterKind;

use crate::util::*;

#[test]
fn counter_reset_mid_period() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    m.observe(&total(1, 5_000, at(1, 0))).unwrap();
    m.observe(&total(1, 5_400, at(10, 0))).unwrap();
    // Board replaced: the counter restarts.
    m.observe(&total(1, 30, at(12, 0))).unwrap();
    m.observe(&total(1, 230, at(20, 0))).unwrap();
    let c = m.close_period(CONTRACT, at(FEB, 1)).unwrap();
    let line = usage_of(&c, 1, &MeterKind::TOTAL);
    // 400 on the old counter + 200 on the new one; never the -5 370 of a naive difference.
    assert_eq!(line.quantity, QuantityDelta(600));
    assert_eq!(line.segments, 2);
    assert_eq!(c.invoice.total, MinorUnits(600));
}

#[test]
fn duplicate_report() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    let report = [read(1, MeterKind::TOTAL, 100, at(1, 0)), read(1, MeterKind::COLOUR, 40, at(1, 0))];
    let later = [read(1, MeterKind::TOTAL, 180, at(5, 0)), read(1, MeterKind::COLOUR, 70, at(5, 0))];
    for o in report.iter().chain(&later) {
        assert_eq!(m.observe(o).unwrap(), Outcome::Recorded);
    }
    let before = serde_json::to_vec(&m).unwrap();
    for o in report.iter().chain(&later) {
        assert_eq!(m.observe(o).unwrap(), Outcome::Duplicate);
    }
    assert_eq!(serde_json::to_vec(&m).unwrap(), before, "a duplicate changes nothing");
    // The same key with another time is a caller bug, refused; another value at the same time too.
    let mut reused = later[0].clone();
    reused.observed_at = at(6, 0);
    assert_eq!(m.observe(&reused), Err(MeterError::KeyReused { device: DeviceId(1) }));
    let mut conflicting = later[0].clone();
    conflicting.value = 999;
    assert!(matches!(m.observe(&conflicting), Err(MeterError::ConflictingReading { existing: 180, new: 999, .. })));
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    assert_eq!(usage_of(&c, 1, &MeterKind::TOTAL).quantity, QuantityDelta(80));
    assert_eq!(usage_of(&c, 1, &MeterKind::COLOUR).quantity, QuantityDelta(30));
}

#[test]
fn out_of_order_delivery() {
    let reads = [(1, 1_000), (5, 1_300), (9, 40), (14, 90), (20, 500)];
    let close = |order: &[usize]| {
        let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
        for i in order {
            let (day, v) = reads[*i];
            m.observe(&total(1, v, at(day, 0))).unwrap();
        }
        m.close_period(CONTRACT, at(FEB, 0)).unwrap()
    };
    let in_order = close(&[0, 1, 2, 3, 4]);
    // 300 + (reset) 50 + 410
    assert_eq!(usage_of(&in_order, 1, &MeterKind::TOTAL).quantity, QuantityDelta(760));
    for order in [[4, 3, 2, 1, 0], [2, 0, 4, 1, 3], [1, 4, 0, 3, 2]] {
        assert_eq!(close(&order), in_order, "{order:?}");
    }
}

#[test]
fn late_report_after_close() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    m.observe(&total(1, 1_000, at(1, 0))).unwrap();
    m.observe(&total(1, 1_100, at(20, 0))).unwrap();
    m.observe(&total(1, 1_500, at(FEB + 3, 0))).unwrap();
    let jan = m.close_period(CONTRACT, at(FEB, 6)).unwrap();
    assert_eq!(usage_of(&jan, 1, &MeterKind::TOTAL).quantity, QuantityDelta(100));

    // A report from 30 January arrives after January was closed: within the 7-day window.
    assert_eq!(m.observe(&total(1, 1_300, at(29, 0))).unwrap(), Outcome::Late);
    // One from 10 January is beyond it: refused and reported.
    assert!(matches!(m.observe(&total(1, 1_050, at(10, 0))), Err(MeterError::TooLate { .. })));

    let feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    // January was owed 200 more (1 100 -> 1 300); February's own usage is 1 300 -> 1 500.
    assert_eq!(adjustment_of(&feb, 1, &MeterKind::TOTAL).unwrap().quantity, QuantityDelta(200));
    assert_eq!(usage_of(&feb, 1, &MeterKind::TOTAL).quantity, QuantityDelta(200));
    assert_eq!(feb.invoice.total, MinorUnits(400));
    assert_eq!(feb.rejected.len(), 1);
    assert_eq!(feb.rejected[0].value, 1_050);
    // January's invoice was not rewritten: 100 + 400 = everything the counter advanced.
    assert_eq!(jan.invoice.total.0 + feb.invoice.total.0, 500);
}

/// Terms of 1 minor unit per page beyond `allowance` pages per period (one device's pool).
fn with_allowance(allowance: u64) -> Terms {
    let mut terms = per_page(1);
    terms.prices.get_mut(&Category::TOTAL).unwrap().allowance = Allowance::Pooled(allowance);
    terms
}

/// The correction and credit lines of an invoice: (charge name, corrected period, amount).
fn corrections(c: &Closing) -> Vec<(&'static str, PeriodId, u64)> {
    c.invoice
        .lines
        .iter()
        .filter_map(|l| match l.charge {
            Charge::Correction { period, .. } => Some(("correction", period, l.amount.0)),
            Charge::Credit { period, .. } => Some(("credit", period, l.amount.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn late_usage_is_priced_in_its_own_period() {
    // 1 000 pages included per month. January uses all of them; 200 more, read on 30
    // January, arrive after January closed; February uses 500.
    let mut m = meter_with(MeterConfig::default(), with_allowance(1_000), &[1]);
    m.observe(&total(1, 0, at(0, 1))).unwrap();
    m.observe(&total(1, 1_000, at(20, 0))).unwrap();
    let jan = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    assert_eq!(jan.invoice.total, MinorUnits(0));
    assert_eq!(m.observe(&total(1, 1_200, at(29, 0))).unwrap(), Outcome::Late);
    m.observe(&total(1, 1_700, at(FEB + 20, 0))).unwrap();
    let feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    // January priced again: 1 200 pages, 200 beyond its allowance. (Netted with February's
    // 500, they vanished into February's unused allowance.)
    let january = jan.invoice.period;
    assert_eq!(corrections(&feb), [("correction", january, 200)]);
    assert_eq!(feb.invoice.total, MinorUnits(200));
    // The usage CSV says the same: 200 pages of January, on a correction line.
    let line = adjustment_of(&feb, 1, &MeterKind::TOTAL).unwrap();
    assert_eq!((line.line, line.quantity, line.corrects), (LineKind::Correction, QuantityDelta(200), Some(at(0, 0))));
    // A saved state whose record of an invoiced period is doubled is refused, not billed twice.
    let mut state: serde_json::Value = serde_json::to_value(&m).unwrap();
    let priced = state["contracts"]["1"]["priced"].as_array_mut().unwrap();
    let first = priced[0].clone();
    priced.insert(0, first);
    assert!(serde_json::from_value::<Meter>(state).is_err());
    assert_eq!(usage_of(&feb, 1, &MeterKind::TOTAL).quantity, QuantityDelta(500));
    let signed: i128 = feb.invoice.lines.iter().map(InvoiceLine::signed_amount).sum();
    assert_eq!(signed, 200);
}

#[test]
fn a_credit_is_given_in_its_own_period_and_carried_until_used() {
    // 1 000 pages included per month, estimates on. January's estimate bills beyond the
    // allowance; the actual read proves less, after February (under its allowance) closed.
    let mut terms = with_allowance(1_000);
    terms.estimates = true;
    let mut m = meter_with(MeterConfig::default(), terms, &[1]);
    m.observe(&total(1, 0, at(0, 1))).unwrap();
    m.observe(&total(1, 960, at(24, 0))).unwrap();
    let jan = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    let estimated = usage_of(&jan, 1, &MeterKind::TOTAL).quantity.0;
    assert!((1_001..1_300).contains(&estimated) && usage_of(&jan, 1, &MeterKind::TOTAL).estimated, "{estimated}");
    let charged = jan.invoice.total.0;
    assert_eq!(charged, u64::try_from(estimated).unwrap() - 1_000);
    // The actual read of 30 January: 980 in all, within the allowance.
    assert_eq!(m.observe(&total(1, 980, at(29, 0))).unwrap(), Outcome::Late);
    m.observe(&total(1, 1_480, at(FEB + 20, 0))).unwrap();
    m.observe(&total(1, 1_480, at(FEB + 27, 0))).unwrap();
    let feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    // January priced again owes nothing: all it was charged comes back. February's 500 pages
    // are within its allowance, so the credit exceeds the charges and is carried forward.
    assert_eq!(corrections(&feb), [("credit", jan.invoice.period, charged)]);
    assert_eq!(feb.invoice.total, MinorUnits(0));
    let carried = feb.invoice.lines.iter().find(|l| l.charge == Charge::CreditCarriedForward).unwrap();
    assert_eq!(carried.amount.0, charged);
    assert_eq!(m.credit(CONTRACT), Some(MinorUnits(charged)));
    // A copy whose credit is paid out another way deducts nothing next time.
    let mut paid_out = m.clone();
    assert_eq!(paid_out.take_credit(CONTRACT).unwrap(), MinorUnits(charged));
    assert_eq!(paid_out.credit(CONTRACT), Some(MinorUnits(0)));
    // March uses 1 300 pages: 300 beyond the allowance, less the credit brought forward.
    for meter in [&mut m, &mut paid_out] {
        meter.observe(&total(1, 2_780, at(MAR + 20, 0))).unwrap();
        meter.observe(&total(1, 2_780, at(MAR + 29, 0))).unwrap();
    }
    let mar = m.close_period(CONTRACT, at(APR, 0)).unwrap();
    assert_eq!(paid_out.close_period(CONTRACT, at(APR, 0)).unwrap().invoice.total, MinorUnits(300));
    let brought = mar.invoice.lines.iter().find(|l| l.charge == Charge::CreditBroughtForward).unwrap();
    assert_eq!(brought.amount.0, charged);
    assert_eq!(mar.invoice.total.0, 300 - charged);
    assert!(!mar.invoice.lines.iter().any(|l| l.charge == Charge::CreditCarriedForward));
    // Over the three invoices: the 300 pages beyond the allowances (March's), charged once.
    let billed: u64 = [&jan, &feb, &mar].iter().map(|c| c.invoice.total.0).sum();
    assert_eq!(billed, 300);
    for c in [&jan, &feb, &mar] {
        let signed: i128 = c.invoice.lines.iter().map(InvoiceLine::signed_amount).sum();
        assert_eq!(signed, i128::from(c.invoice.total.0));
    }
}

/// Contract 1 (1 000 pages per device pooled, a fee of 500 per device) with device 1, which
/// prints `pages` in February; device 2 on contract 2. January and February closed; the meter
/// and February's closing.
fn february_closed_beside_a_device_elsewhere(pages: u64) -> (Meter, Closing) {
    let mut terms = with_allowance(1_000);
    terms.fee_per_device = MinorUnits(500);
    let mut m = meter_with(MeterConfig::default(), terms, &[1]);
    m.add_contract(ContractId(2), per_page(1), at(0, 0)).unwrap();
    m.add_device(DeviceId(2), Device { contract: ContractId(2), serial: "SN2".into(), class: ModelClass::OFFICE })
        .unwrap();
    m.observe(&total(1, 0, at(FEB + 1, 0))).unwrap();
    if pages > 0 {
        m.observe(&total(1, pages, at(FEB + 20, 0))).unwrap();
    }
    m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    let feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    (m, feb)
}

#[test]
fn a_device_moved_into_a_closed_period_is_counted_when_it_is_priced_again() {
    // Device 1 uses its 1 000 pages in February; February closes (the fee of one device).
    let (mut m, feb) = february_closed_beside_a_device_elsewhere(1_000);
    assert_eq!(feb.invoice.total, MinorUnits(500));
    // Device 2 is found to have moved to contract 1 on 25 February, and its 400 pages after
    // the move arrive late.
    m.observe(&total(2, 0, at(FEB + 20, 0))).unwrap();
    m.move_device(DeviceId(2), CONTRACT, at(FEB + 24, 0)).unwrap();
    m.observe(&total(2, 0, at(FEB + 24, 0))).unwrap();
    m.observe(&total(2, 400, at(FEB + 27, 0))).unwrap();
    m.observe(&total(1, 1_000, at(MAR + 20, 0))).unwrap();
    m.observe(&total(2, 400, at(MAR + 20, 0))).unwrap();
    let mar = m.close_period(CONTRACT, at(APR, 0)).unwrap();
    // February priced again with two devices, as it would have been: a pool of 2 000 pages
    // (nothing beyond it) and a second fee of 500.
    assert_eq!(corrections(&mar), [("correction", feb.invoice.period, 500)]);
}

#[test]
fn a_device_moved_into_a_closed_period_without_usage_in_it_is_counted_too() {
    let (mut m, feb) = february_closed_beside_a_device_elsewhere(0);
    // Device 2 moved in on 25 February (recorded after February closed) and printed nothing
    // before March: February owes its fee all the same, as had the move been known in time.
    m.move_device(DeviceId(2), CONTRACT, at(FEB + 24, 0)).unwrap();
    m.observe(&total(2, 50, at(MAR + 10, 0))).unwrap();
    let mar = m.close_period(CONTRACT, at(APR, 0)).unwrap();
    assert_eq!(corrections(&mar), [("correction", feb.invoice.period, 500)]);
}

#[test]
fn a_state_saved_before_periods_were_kept_nets_corrections_as_it_did() {
    let mut m = meter_with(MeterConfig::default(), with_allowance(1_000), &[1]);
    m.observe(&total(1, 0, at(0, 1))).unwrap();
    m.observe(&total(1, 1_000, at(20, 0))).unwrap();
    m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    // The saved state as an older version wrote it: no invoiced periods, no money credit.
    let mut state: serde_json::Value = serde_json::to_value(&m).unwrap();
    for contract in state["contracts"].as_object_mut().unwrap().values_mut() {
        let contract = contract.as_object_mut().unwrap();
        assert!(contract.remove("priced").is_some() && contract.remove("credit").is_some());
    }
    let mut m: Meter = serde_json::from_value(state).unwrap();
    m.observe(&total(1, 1_200, at(29, 0))).unwrap();
    m.observe(&total(1, 1_700, at(FEB + 20, 0))).unwrap();
    let feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    // January's 200 netted with February's 500: within February's allowance.
    assert!(corrections(&feb).is_empty());
    assert_eq!(feb.invoice.total, MinorUnits(0));
    let line = adjustment_of(&feb, 1, &MeterKind::TOTAL).unwrap();
    assert_eq!((line.line, line.quantity, line.corrects), (LineKind::Adjustment, QuantityDelta(200), None));
}

#[test]
fn device_swapped_under_same_contract() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    m.observe(&total(1, 80_000, at(1, 0))).unwrap();
    m.observe(&total(1, 81_000, at(10, 0))).unwrap();
    // The printer is swapped for a used one (lower counter) under the same device position.
    m.observe(&total(1, 35_000, at(11, 0))).unwrap();
    m.observe(&total(1, 35_700, at(25, 0))).unwrap();
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    let line = usage_of(&c, 1, &MeterKind::TOTAL);
    // 1 000 before the swap, 700 after; the replacement's 35 000 earlier pages are not billed.
    assert_eq!(line.quantity, QuantityDelta(1_700));
    assert_eq!(line.segments, 2);
}

#[test]
fn zero_usage_period() {
    let mut terms = per_page(1);
    terms.fee_per_device = MinorUnits(500);
    terms.minimum_charge = MinorUnits(2_000);
    let mut m = meter_with(MeterConfig::default(), terms, &[1, 2]);
    for d in [1, 2] {
        m.observe(&total(d, 7_000, at(2, 0))).unwrap();
        m.observe(&total(d, 7_000, at(30, 0))).unwrap();
    }
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    for d in [1, 2] {
        let line = usage_of(&c, d, &MeterKind::TOTAL);
        assert_eq!((line.quantity, line.estimated, line.segments), (QuantityDelta(0), false, 1));
    }
    assert!(c.silent.is_empty());
    let charges: Vec<_> = c.invoice.lines.iter().map(|l| (l.charge.clone(), l.amount)).collect();
    assert_eq!(
        charges,
        [
            (Charge::Usage { category: Category::TOTAL, tier: 0 }, MinorUnits(0)),
            (Charge::FeePerDevice, MinorUnits(1_000)),
            (Charge::MinimumCharge, MinorUnits(1_000)),
        ]
    );
    assert_eq!(c.invoice.total, MinorUnits(2_000));
}

#[test]
fn device_silent_across_period_end() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1, 2]);
    m.observe(&total(1, 100, at(1, 0))).unwrap();
    m.observe(&total(1, 400, at(30, 12))).unwrap();
    m.observe(&total(2, 100, at(1, 0))).unwrap();
    m.observe(&total(2, 300, at(20, 0))).unwrap(); // then nothing
    let c = m.close_period(CONTRACT, at(FEB + 1, 0)).unwrap();
    assert_eq!(c.silent.len(), 1);
    assert_eq!(c.silent[0].device, DeviceId(2));
    assert_eq!(c.silent[0].last_seen, Some(at(20, 0)));
    // Without estimates only what counters prove is billed, and nothing is flagged estimated.
    let line = usage_of(&c, 2, &MeterKind::TOTAL);
    assert_eq!((line.quantity, line.estimated), (QuantityDelta(200), false));
}

#[test]
fn estimated_read_trued_up() {
    let mut terms = per_page(1);
    terms.estimates = true;
    let mut m = meter_with(MeterConfig::default(), terms, &[1]);
    // 100 pages a day from 1 to 21 January, then silent across the month end.
    m.observe(&total(1, 10_000, at(1, 0))).unwrap();
    m.observe(&total(1, 12_000, at(21, 0))).unwrap();
    let jan = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    let line = usage_of(&jan, 1, &MeterKind::TOTAL);
    // 2 000 proven + an estimate of 100 a day for the 10 days to the end of January.
    assert_eq!(line.quantity, QuantityDelta(3_000));
    assert!(line.estimated);
    assert_eq!(line.sources.to_string(), "agent+estimate");
    assert!(jan.invoice.lines[0].estimated, "the invoice line is flagged too");

    // The actual read arrives on 3 February: the device printed less than estimated.
    m.observe(&total(1, 12_700, at(FEB + 2, 0))).unwrap();
    m.observe(&total(1, 13_000, at(FEB + 27, 0))).unwrap();
    let feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    // January recomputed: 2 000 actual; the 1 000 estimated pages are taken back.
    assert_eq!(adjustment_of(&feb, 1, &MeterKind::TOTAL).unwrap().quantity, QuantityDelta(-1_000));
    let line = usage_of(&feb, 1, &MeterKind::TOTAL);
    assert_eq!((line.quantity, line.estimated), (QuantityDelta(1_000), false));
    assert_eq!(feb.invoice.total, MinorUnits(0));
    // Over both invoices exactly what the counters advanced: 12 000 -> 13 000 and 10 000 -> 12 000.
    assert_eq!(jan.invoice.total.0 + feb.invoice.total.0, 3_000);
}

/// An actual read that arrives late and stands above the estimate made after it proves the
/// estimate wrong: the estimate is dropped, not taken for a counter reset (which would bill the
/// advance from the estimate again and keep the estimate as the series' anchor for good).
#[test]
fn a_late_actual_read_above_an_estimate_supersedes_it() {
    let mut terms = per_page(1);
    terms.estimates = true;
    let mut m = meter_with(MeterConfig::default(), terms, &[1]);
    m.observe(&total(1, 10_000, at(9, 0))).unwrap();
    m.observe(&total(1, 11_000, at(19, 0))).unwrap();
    let jan = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    let estimated = usage_of(&jan, 1, &MeterKind::TOTAL).quantity.0;
    assert!(usage_of(&jan, 1, &MeterKind::TOTAL).estimated);
    assert!(estimated < 2_500, "estimated {estimated}: below the late read to come");
    // 29 January's read, delivered late (within the late window), then silence.
    assert_eq!(m.observe(&total(1, 12_500, at(28, 0))).unwrap(), Outcome::Late);
    let feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    // January trued up to what the counters prove: 10 000 -> 12 500.
    let jan_adjustment = adjustment_of(&feb, 1, &MeterKind::TOTAL).unwrap().quantity.0;
    assert_eq!(estimated + jan_adjustment, 2_500);
    // February estimated from the late read, not from the wrong estimate.
    let feb_usage = usage_of(&feb, 1, &MeterKind::TOTAL);
    assert!(feb_usage.estimated);
    m.observe(&total(1, 17_000, at(MAR + 9, 0))).unwrap();
    let mar = m.close_period(CONTRACT, at(APR, 0)).unwrap();
    // Over the three invoices exactly what the counters advanced: 10 000 -> 17 000.
    let billed: u64 = [&jan, &feb, &mar].iter().map(|c| c.invoice.total.0).sum();
    assert_eq!(billed, 7_000, "jan {jan:?}\nfeb {feb:?}\nmar {mar:?}");
}

#[test]
fn tiered_pricing_across_tier_boundary() {
    let mut terms = Terms::default();
    terms.prices.insert(
        Category::TOTAL,
        CategoryTerms {
            tiers: vec![
                Tier { up_to: Some(1_000), price: Price::new(2, 1).unwrap() },
                Tier { up_to: Some(5_000), price: Price::new(15, 10).unwrap() },
                Tier { up_to: None, price: Price::new(1, 1).unwrap() },
            ],
            allowance: Allowance::None,
            unit: None,
        },
    );
    let mut m = meter_with(MeterConfig::default(), terms, &[1, 2]);
    m.observe(&total(1, 0, at(1, 0))).unwrap();
    m.observe(&total(1, 700, at(5, 0))).unwrap();
    m.observe(&total(2, 0, at(1, 0))).unwrap();
    m.observe(&total(2, 801, at(5, 0))).unwrap();
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    // 1 501 pages over the contract: 1 000 at 2 cents, 501 at 1.5 cents (751.5 -> 752, half-even).
    let lines: Vec<_> = c.invoice.lines.iter().map(|l| (l.quantity.0, l.amount.0)).collect();
    assert_eq!(lines, [(1_000, 2_000), (501, 752)]);
    assert_eq!(c.invoice.total, MinorUnits(2_752));
}

#[test]
fn pooled_allowance_across_devices() {
    let allowance = |a| {
        let mut t = Terms::default();
        t.prices
            .insert(Category::TOTAL, CategoryTerms { allowance: a, ..CategoryTerms::flat(Price::new(1, 1).unwrap()) });
        t
    };
    let run = |terms| {
        let mut m = meter_with(MeterConfig::default(), terms, &[1, 2]);
        // Device 1 prints 1 500, device 2 prints 200; 1 000 included per device.
        for (d, v) in [(1, 1_500), (2, 200)] {
            m.observe(&total(d, 0, at(1, 0))).unwrap();
            m.observe(&total(d, v, at(10, 0))).unwrap();
        }
        m.close_period(CONTRACT, at(FEB, 0)).unwrap().invoice.total
    };
    // Pooled: 1 700 against a pool of 2 000, nothing to pay; per device: 500 over on device 1.
    assert_eq!(run(allowance(Allowance::Pooled(1_000))), MinorUnits(0));
    assert_eq!(run(allowance(Allowance::PerDevice(1_000))), MinorUnits(500));
    assert_eq!(run(allowance(Allowance::None)), MinorUnits(1_700));
}

#[test]
fn implausible_jump_is_held_then_released() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    m.observe(&total(1, 1_000, at(1, 0))).unwrap();
    m.observe(&total(1, 1_500, at(2, 0))).unwrap();
    // 5 million pages in a day on an office printer (bound 20 000 a day).
    m.observe(&total(1, 5_001_500, at(3, 0))).unwrap();
    m.observe(&total(1, 5_001_800, at(4, 0))).unwrap();
    let jan = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    assert_eq!(usage_of(&jan, 1, &MeterKind::TOTAL).quantity, QuantityDelta(800));
    assert_eq!(jan.held.len(), 1);
    let h = &jan.held[0];
    assert_eq!((h.from.1, h.to.1, h.allowed), (1_500, 5_001_500, 20_000));

    m.release_hold(DeviceId(1), &Category::TOTAL, h.to.0).unwrap();
    let feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    assert_eq!(adjustment_of(&feb, 1, &MeterKind::TOTAL).unwrap().quantity, QuantityDelta(5_000_000));
    assert!(feb.held.is_empty());
    assert!(matches!(m.release_hold(DeviceId(1), &Category::TOTAL, at(9, 0)), Err(MeterError::NoSuchHold { .. })));
}

#[test]
fn job_sums_reconciled_against_counters() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1, 2]);
    for d in [1, 2] {
        m.observe(&total(d, 0, at(1, 0))).unwrap();
        m.observe(&total(d, 1_000, at(20, 0))).unwrap();
    }
    let job = |device, job, pages| JobRecord {
        device: DeviceId(device),
        job,
        finished_at: at(5, 0),
        usage: vec![(Category::TOTAL, pages)],
    };
    // Device 1: jobs say 990, within 2 %; device 2: jobs say 700, a discrepancy.
    assert_eq!(m.record_job(&job(1, 1, 990)).unwrap(), Outcome::Recorded);
    assert_eq!(m.record_job(&job(1, 1, 990)).unwrap(), Outcome::Duplicate);
    m.record_job(&job(2, 1, 500)).unwrap();
    m.record_job(&job(2, 2, 200)).unwrap();
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    assert_eq!(
        c.discrepancies,
        [Discrepancy { device: DeviceId(2), kind: Category::TOTAL, jobs: 700, counters: 1_000 }]
    );
}

/// A device moves mid-January with its handover read; each contract reconciles the jobs of its
/// own part of the month against the counter advance it bills. The jobs after the move miss
/// 300 pages: flagged on the new contract only. (Before, neither contract reconciled a period
/// in which the device moved.)
#[test]
fn reconciliation_across_a_contract_move_is_per_contract() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    let other = ContractId(2);
    m.add_contract(other, per_page(2), at(0, 0)).unwrap();
    m.observe(&total(1, 1_000, at(1, 0))).unwrap();
    m.observe(&total(1, 2_000, at(14, 0))).unwrap(); // the handover read
    m.move_device(DeviceId(1), other, at(14, 0)).unwrap();
    m.observe(&total(1, 2_600, at(30, 0))).unwrap();
    let job = |job, finished_at, pages| JobRecord {
        device: DeviceId(1),
        job,
        finished_at,
        usage: vec![(Category::TOTAL, pages)],
    };
    // Before the move: 1 000 pages, the last job finishing at the effective instant itself (the
    // handover read counts it, so it is the old contract's).
    m.record_job(&job(1, at(5, 0), 600)).unwrap();
    m.record_job(&job(2, at(14, 0), 400)).unwrap();
    // After it: jobs for 300 pages where the counters advanced 600.
    m.record_job(&job(3, at(20, 0), 200)).unwrap();
    m.record_job(&job(4, at(29, 0), 100)).unwrap();

    let old = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    assert_eq!(usage_of(&old, 1, &MeterKind::TOTAL).quantity, QuantityDelta(1_000));
    assert!(old.discrepancies.is_empty(), "{:?}", old.discrepancies);
    let new = m.close_period(other, at(FEB, 0)).unwrap();
    assert_eq!(usage_of(&new, 1, &MeterKind::TOTAL).quantity, QuantityDelta(600));
    assert_eq!(
        new.discrepancies,
        [Discrepancy { device: DeviceId(1), kind: Category::TOTAL, jobs: 300, counters: 600 }]
    );
    // February, wholly on the new contract, reconciles as before: clean here, and the old
    // contract (which still lists the device for its late window) has nothing to compare.
    m.observe(&total(1, 3_000, at(FEB + 20, 0))).unwrap();
    m.record_job(&job(5, at(FEB + 10, 0), 400)).unwrap();
    assert!(m.close_period(CONTRACT, at(MAR, 0)).unwrap().discrepancies.is_empty());
    assert!(m.close_period(other, at(MAR, 0)).unwrap().discrepancies.is_empty());
    let back: Meter = serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
    assert_eq!(back, m);
}

/// A state saved before job sums were kept per contract (`job_sums`: `[period, kind, sum]`)
/// still loads: the sums go to the contract that had the device throughout the period, and
/// reconcile as before; the sums of a period in which the device moved (never reconciled by
/// that version) are dropped.
#[test]
fn job_sums_saved_per_period_only_are_migrated() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1, 2]);
    let other = ContractId(2);
    m.add_contract(other, per_page(2), at(0, 0)).unwrap();
    for d in [1, 2] {
        m.observe(&total(d, 0, at(1, 0))).unwrap();
        m.observe(&total(d, 1_000, at(14, 0))).unwrap();
        m.observe(&total(d, 2_000, at(30, 0))).unwrap();
        m.record_job(&JobRecord {
            device: DeviceId(d),
            job: 1,
            finished_at: at(5, 0),
            usage: vec![(Category::TOTAL, 700)],
        })
        .unwrap();
    }
    m.move_device(DeviceId(2), other, at(14, 0)).unwrap();
    // The earlier form: the same state with the sums keyed by period only.
    let mut old: serde_json::Value = serde_json::to_value(&m).unwrap();
    for (_, dev) in old["devices"].as_object_mut().unwrap() {
        let sums = dev.as_object_mut().unwrap().remove("job_sums_by_contract").unwrap();
        let legacy: Vec<serde_json::Value> = sums
            .as_array()
            .unwrap()
            .iter()
            .map(|s| serde_json::Value::from(s.as_array().unwrap()[1..].to_vec()))
            .collect();
        assert_eq!(legacy.len(), 1);
        dev["job_sums"] = legacy.into();
    }
    let mut back: Meter = serde_json::from_value(old).unwrap();
    let c = back.close_period(CONTRACT, at(FEB, 0)).unwrap();
    // Device 1 was on contract 1 all January: its sum is kept and reconciled (700 vs 2 000).
    assert_eq!(
        c.discrepancies,
        [Discrepancy { device: DeviceId(1), kind: Category::TOTAL, jobs: 700, counters: 2_000 }]
    );
    // Device 2 moved during January: its legacy sum is dropped, on both contracts.
    assert!(back.close_period(other, at(FEB, 0)).unwrap().discrepancies.is_empty());
    // The current form keeps it (on the old contract, where the job finished).
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    assert_eq!(c.discrepancies.len(), 2, "{:?}", c.discrepancies);
}

/// A job whose sums would overflow is refused and leaves no trace: none of its categories is
/// added (before, those listed before the overflowing one were), and it is not a duplicate.
#[test]
fn a_job_refused_for_overflow_leaves_no_partial_sums() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    m.observe(&total(1, 0, at(1, 0))).unwrap();
    m.observe(&total(1, 1_000, at(20, 0))).unwrap();
    let cyan = Category::ink(printfleet_schema::Colour::Cyan);
    let job = |job, usage| JobRecord { device: DeviceId(1), job, finished_at: at(5, 0), usage };
    m.record_job(&job(1, vec![(Category::TOTAL, 1_000), (cyan.clone(), 1)])).unwrap();
    let overflowing = job(2, vec![(Category::TOTAL, 500), (cyan, u64::MAX)]);
    assert_eq!(m.record_job(&overflowing), Err(MeterError::Overflow));
    assert_eq!(m.record_job(&job(2, vec![(Category::TOTAL, 0)])).unwrap(), Outcome::Recorded);
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    // Pages: 1 000 from job 1 only, as the counters say (with the refused job's 500 it would
    // be a discrepancy); cyan's 1 nL without a counter is within the tolerance.
    assert!(c.discrepancies.is_empty(), "{:?}", c.discrepancies);
}

#[test]
fn closing_before_the_period_end_is_refused() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    assert!(matches!(m.close_period(CONTRACT, at(30, 23)), Err(MeterError::PeriodNotOver { .. })));
    assert!(matches!(m.observe(&total(9, 1, at(1, 0))), Err(MeterError::UnknownDevice { .. })));
}

#[test]
fn observations_far_ahead_are_refused() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    m.observe(&total(1, 100, at(1, 0))).unwrap();
    // A device clock set to 2090: refused, so it cannot hide the real reads after it.
    let far = total(1, 1_000_000, printfleet_schema::Timestamp::from_unix_millis(3_786_912_000_000).unwrap());
    assert!(matches!(m.observe(&far), Err(MeterError::TooEarly { .. })));
    // January open: up to the end of April is accepted, May is not (yet).
    assert_eq!(m.observe(&total(1, 200, at(APR + 29, 0))).unwrap(), Outcome::Recorded);
    assert!(matches!(m.observe(&total(1, 300, at(APR + 31, 0))), Err(MeterError::TooEarly { .. })));
    m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    assert_eq!(m.observe(&total(1, 300, at(APR + 31, 0))).unwrap(), Outcome::Recorded);
}

/// A jump on device 1 between 2 and 3 January: 1 500 -> 5 001 500 pages (bound 20 000 a day).
fn jumped() -> Meter {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    for (day, v) in [(1, 1_000), (2, 1_500), (3, 5_001_500), (4, 5_001_800)] {
        m.observe(&total(1, v, at(day, 0))).unwrap();
    }
    m
}

/// Reads of device 1 every 10 days from `from_day` on, 100 pages each.
fn keep_reading(m: &mut Meter, from_day: u64, to_day: u64) {
    for day in (from_day..to_day).step_by(10) {
        m.observe(&total(1, 5_001_800 + (day - from_day + 10) * 10, at(day, 0))).unwrap();
    }
}

#[test]
fn held_jump_is_listed_in_every_closing_until_released() {
    let mut m = jumped();
    keep_reading(&mut m, 10, APR + 20);
    let to = at(3, 0);
    for (close_at, name) in [(FEB, "January"), (MAR, "February"), (APR, "March")] {
        let c = m.close_period(CONTRACT, at(close_at, 0)).unwrap();
        // By March the January reads have left the retained window; the hold is still listed.
        assert_eq!(c.held.len(), 1, "{name}");
        assert_eq!((c.held[0].to, c.held[0].from.1), ((to, 5_001_500), 1_500), "{name}");
        assert!(adjustment_of(&c, 1, &MeterKind::TOTAL).is_none(), "{name}: nothing billed for it");
    }
    assert!(m.retained_reads() < 10, "the jump's reads are gone from the window");
    m.release_hold(DeviceId(1), &Category::TOTAL, to).unwrap();
    let apr = m.close_period(CONTRACT, at(APR + 30, 0)).unwrap();
    assert!(apr.held.is_empty());
    assert_eq!(adjustment_of(&apr, 1, &MeterKind::TOTAL).unwrap().quantity, QuantityDelta(5_000_000));
    // Released once: not again.
    assert!(matches!(m.release_hold(DeviceId(1), &Category::TOTAL, to), Err(MeterError::NoSuchHold { .. })));
    let may = m.close_period(CONTRACT, at(APR + 61, 0)).unwrap();
    assert!(adjustment_of(&may, 1, &MeterKind::TOTAL).is_none());
}

/// A jump held while the device was on one contract, released after it moved to another and
/// after the jump's reads left the window, is billed by the contract it happened on.
#[test]
fn a_hold_released_after_a_move_is_billed_where_the_jump_happened() {
    let mut m = jumped();
    let other = ContractId(2);
    m.add_contract(other, per_page(2), at(0, 0)).unwrap();
    keep_reading(&mut m, 10, MAR);
    for end in [FEB, MAR] {
        m.close_period(CONTRACT, at(end, 0)).unwrap();
        m.close_period(other, at(end, 0)).unwrap();
    }
    m.move_device(DeviceId(1), other, at(MAR + 5, 0)).unwrap();
    for day in [MAR + 10, MAR + 20, APR + 10, APR + 20] {
        m.observe(&total(1, 5_010_000 + day * 10, at(day, 0))).unwrap();
    }
    let old_mar = m.close_period(CONTRACT, at(APR, 0)).unwrap();
    m.close_period(other, at(APR, 0)).unwrap();
    assert_eq!(old_mar.held.len(), 1, "still listed by the contract it happened on");
    assert!(m.retained_reads() < 10, "the jump's reads are gone from the window");
    m.release_hold(DeviceId(1), &Category::TOTAL, at(3, 0)).unwrap();
    let old_apr = m.close_period(CONTRACT, at(APR + 30, 0)).unwrap();
    let new_apr = m.close_period(other, at(APR + 30, 0)).unwrap();
    assert_eq!(adjustment_of(&old_apr, 1, &MeterKind::TOTAL).map(|l| l.quantity), Some(QuantityDelta(5_000_000)));
    assert!(adjustment_of(&new_apr, 1, &MeterKind::TOTAL).is_none(), "{:?}", new_apr.usage);
}

#[test]
fn dismissed_hold_is_neither_billed_nor_listed() {
    // Dismissed while its reads are retained, and after they left the window.
    for dismiss_after in [FEB, MAR] {
        let mut m = jumped();
        keep_reading(&mut m, 10, APR);
        let mut closings = vec![m.close_period(CONTRACT, at(FEB, 0)).unwrap()];
        if dismiss_after == MAR {
            closings.push(m.close_period(CONTRACT, at(MAR, 0)).unwrap());
        }
        assert_eq!(closings.last().unwrap().held.len(), 1);
        let to = closings[0].held[0].to.0;
        m.dismiss_hold(DeviceId(1), &Category::TOTAL, to).unwrap();
        assert!(matches!(m.dismiss_hold(DeviceId(1), &Category::TOTAL, to), Err(MeterError::NoSuchHold { .. })));
        assert!(matches!(m.release_hold(DeviceId(1), &Category::TOTAL, to), Err(MeterError::NoSuchHold { .. })));
        let next_end = if dismiss_after == FEB { MAR } else { APR };
        let c = m.close_period(CONTRACT, at(next_end, 0)).unwrap();
        assert!(c.held.is_empty(), "dismissed after {dismiss_after}");
        assert!(adjustment_of(&c, 1, &MeterKind::TOTAL).is_none(), "never billed");
        // 100 pages every 10 days, and nothing for the jump.
        assert!(usage_of(&c, 1, &MeterKind::TOTAL).quantity.0 <= 400);
    }
}

#[test]
fn device_moving_between_contracts() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1, 2]);
    let mut terms = per_page(2);
    terms.fee_per_device = MinorUnits(300);
    let other = ContractId(2);
    m.add_contract(other, terms, at(0, 0)).unwrap();
    m.observe(&total(1, 1_000, at(1, 0))).unwrap();
    m.observe(&total(1, 1_500, at(10, 0))).unwrap();
    // The handover reading, then the move from 15 January on.
    m.observe(&total(1, 2_000, at(14, 0))).unwrap();
    assert!(matches!(m.move_device(DeviceId(1), CONTRACT, at(14, 0)), Err(MeterError::InvalidMove { .. })));
    m.move_device(DeviceId(1), other, at(14, 0)).unwrap();
    m.observe(&total(1, 2_300, at(20, 0))).unwrap();
    m.observe(&total(1, 2_600, at(30, 0))).unwrap();
    m.observe(&total(2, 0, at(1, 0))).unwrap();
    m.observe(&total(2, 50, at(30, 0))).unwrap();

    let old = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    // Before the move: 1 000 -> 2 000 at 1 cent, on the old contract; device 2 as usual.
    assert_eq!(usage_of(&old, 1, &MeterKind::TOTAL).quantity, QuantityDelta(1_000));
    assert_eq!(old.invoice.total, MinorUnits(1_000 + 50));
    assert!(old.silent.is_empty(), "a device that moved away is not silent on the old contract");
    let new = m.close_period(other, at(FEB, 0)).unwrap();
    // After it: 2 000 -> 2 600 at 2 cents, on the new one, plus its fee for the device.
    assert_eq!(new.usage.len(), 1);
    assert_eq!(usage_of(&new, 1, &MeterKind::TOTAL).quantity, QuantityDelta(600));
    assert_eq!(new.invoice.total, MinorUnits(1_200 + 300));

    // A late read within January changes neither contract's totals.
    assert_eq!(m.observe(&total(1, 2_450, at(27, 0))).unwrap(), Outcome::Late);
    m.observe(&total(1, 2_900, at(FEB + 10, 0))).unwrap();
    let old_feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    let new_feb = m.close_period(other, at(MAR, 0)).unwrap();
    assert_eq!(usage_of(&old_feb, 1, &MeterKind::TOTAL).quantity, QuantityDelta(0));
    assert!(adjustment_of(&old_feb, 1, &MeterKind::TOTAL).is_none(), "the split read changes no total");
    assert_eq!(usage_of(&new_feb, 1, &MeterKind::TOTAL).quantity, QuantityDelta(300));
    assert!(adjustment_of(&new_feb, 1, &MeterKind::TOTAL).is_none());
    // Once past the late window the old contract no longer lists the device.
    m.observe(&total(1, 3_000, at(MAR + 10, 0))).unwrap();
    let old_mar = m.close_period(CONTRACT, at(APR, 0)).unwrap();
    assert!(old_mar.usage.iter().all(|l| l.device != DeviceId(1)), "{:?}", old_mar.usage);
    // A move into a closed period is refused.
    assert!(matches!(m.move_device(DeviceId(1), CONTRACT, at(20, 0)), Err(MeterError::InvalidMove { .. })));
    // The state round-trips with its moves.
    let back: Meter = serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
    assert_eq!(back, m);
}

/// A retired device is billed up to its retirement (a read at that instant included), not for
/// what a later read proves, and counts toward no fee and no silence in the periods after.
#[test]
fn a_retired_device_is_billed_up_to_its_retirement_only() {
    let mut terms = per_page(1);
    terms.fee_per_device = MinorUnits(100);
    let mut m = meter_with(MeterConfig::default(), terms, &[1, 2]);
    for (day, value) in [(1, 1_000), (10, 1_300), (20, 1_500)] {
        m.observe(&total(1, value, at(day, 0))).unwrap();
        m.observe(&total(2, value, at(day, 0))).unwrap();
    }
    m.retire_device(DeviceId(1), at(10, 0)).unwrap();
    assert_eq!(m.retired(DeviceId(1)), Some(at(10, 0)));
    // Once, and never moved after.
    assert!(matches!(m.retire_device(DeviceId(1), at(12, 0)), Err(MeterError::InvalidMove { .. })));
    let other = ContractId(2);
    m.add_contract(other, per_page(1), at(0, 0)).unwrap();
    assert!(matches!(m.move_device(DeviceId(1), other, at(15, 0)), Err(MeterError::InvalidMove { .. })));
    let jan = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    // Device 1: 1 000 -> 1 300 (the read at the retirement instant counts), not the 200 after.
    assert_eq!(usage_of(&jan, 1, &MeterKind::TOTAL).quantity, QuantityDelta(300));
    assert_eq!(usage_of(&jan, 2, &MeterKind::TOTAL).quantity, QuantityDelta(500));
    assert_eq!(jan.invoice.total, MinorUnits(300 + 500 + 2 * 100), "both were on the contract in January");
    m.observe(&total(2, 1_600, at(FEB + 20, 0))).unwrap();
    let feb = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    assert_eq!(feb.invoice.total, MinorUnits(100 + 100), "device 2's usage and fee only");
    assert!(feb.silent.iter().all(|s| s.device != DeviceId(1)), "a retired device is not silent: {:?}", feb.silent);
    // Not before the open period; and the state round-trips with it.
    assert!(matches!(m.retire_device(DeviceId(2), at(20, 0)), Err(MeterError::InvalidMove { .. })));
    let back: Meter = serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.retired(DeviceId(1)), Some(at(10, 0)));
}

/// A move into a contract whose first period has not begun would leave the usage from the
/// move to that start billed by neither contract: refused, and accepted from that start on.
#[test]
fn a_move_before_the_new_contracts_first_period_is_refused() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    let later = ContractId(2);
    m.add_contract(later, per_page(2), at(FEB, 0)).unwrap();
    m.observe(&total(1, 1_000, at(1, 0))).unwrap();
    m.observe(&total(1, 1_500, at(27, 0))).unwrap();
    // 28 January lies within what the February contract accepts (its late window), not in
    // any of its periods.
    let early = m.move_device(DeviceId(1), later, at(27, 0));
    assert!(matches!(early, Err(MeterError::InvalidMove { .. })), "{early:?}");
    m.move_device(DeviceId(1), later, at(FEB, 0)).unwrap();
    m.observe(&total(1, 1_800, at(FEB - 1, 23))).unwrap();
    m.observe(&total(1, 2_000, at(FEB + 14, 0))).unwrap();
    let jan = m.close_period(CONTRACT, at(FEB, 1)).unwrap();
    assert_eq!(usage_of(&jan, 1, &MeterKind::TOTAL).quantity, QuantityDelta(800), "1 000 -> 1 800 in January");
    let feb = m.close_period(later, at(MAR, 0)).unwrap();
    assert_eq!(usage_of(&feb, 1, &MeterKind::TOTAL).quantity, QuantityDelta(200), "1 800 -> 2 000 in February");
}
