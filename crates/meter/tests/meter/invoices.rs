//! Invoices: the rounding rule, lines summing to the total, fees and minimum, currencies.

use printfleet_meter::*;
use printfleet_schema::MeterKind;
use printfleet_schema::codes::MeterCode;

use crate::util::*;

#[test]
fn lines_sum_to_the_total_exactly() {
    // Prices that never divide evenly, three categories, tiers, fees: every line is rounded on
    // its own and the total is their exact sum.
    let mut terms = Terms { currency: Currency::USD, fee_per_period: MinorUnits(999), ..Terms::default() };
    terms.fee_per_device = MinorUnits(333);
    for (kind, minor, per) in [(MeterKind::MONO, 7, 9), (MeterKind::COLOUR, 13, 7), (MeterKind::SCANS, 1, 3)] {
        terms.prices.insert(
            kind.into(),
            CategoryTerms {
                tiers: vec![
                    Tier { up_to: Some(333), price: Price::new(minor, per).unwrap() },
                    Tier { up_to: None, price: Price::new(minor + 1, per).unwrap() },
                ],
                allowance: Allowance::PerDevice(17),
                unit: None,
            },
        );
    }
    let mut m = meter_with(MeterConfig::default(), terms, &[1, 2, 3]);
    for d in 1..=3u64 {
        for (i, kind) in [MeterKind::MONO, MeterKind::COLOUR, MeterKind::SCANS].into_iter().enumerate() {
            m.observe(&read(d, kind.clone(), 0, at(1, 0))).unwrap();
            m.observe(&read(d, kind, 101 * d + 37 * i as u64 + 1, at(9, 0))).unwrap();
        }
    }
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    let sum: u64 = c.invoice.lines.iter().map(|l| l.amount.0).sum();
    assert_eq!(sum, c.invoice.total.0);
    // And each usage line is its own half-even rounding of quantity × minor / per.
    for l in &c.invoice.lines {
        if let (Charge::Usage { .. }, Some(p)) = (&l.charge, l.price) {
            let exact_num = u128::from(l.quantity.0) * u128::from(p.minor);
            let per = u128::from(p.per.get());
            let (q, r) = (exact_num / per, exact_num % per);
            let expect = if 2 * r > per || (2 * r == per && q % 2 == 1) { q + 1 } else { q };
            assert_eq!(u128::from(l.amount.0), expect, "{l:?}");
        }
    }
    assert!(c.invoice.lines.len() > 5, "tiers were crossed: {:?}", c.invoice.lines);
}

#[test]
fn half_even_ties_go_to_the_even_neighbour() {
    // 1 page at half a cent, then 3 pages at half a cent: 0.5 -> 0 and 1.5 -> 2.
    for (pages, cents) in [(1, 0), (3, 2), (5, 2), (7, 4)] {
        let mut m = meter_with(MeterConfig::default(), Terms::default(), &[1]);
        let mut t = Terms::default();
        t.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(1, 2).unwrap()));
        m = {
            let _ = m;
            meter_with(MeterConfig::default(), t, &[1])
        };
        m.observe(&total(1, 0, at(1, 0))).unwrap();
        m.observe(&total(1, pages, at(2, 0))).unwrap();
        assert_eq!(m.close_period(CONTRACT, at(FEB, 0)).unwrap().invoice.total, MinorUnits(cents), "{pages}");
    }
}

#[test]
fn unpriced_and_unknown_categories_are_reported_not_invoiced() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    let future = MeterKind::Standard(MeterCode::from_code(4_000));
    m.observe(&read(1, future.clone(), 10, at(1, 0))).unwrap();
    m.observe(&read(1, future.clone(), 25, at(2, 0))).unwrap();
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    let line = usage_of(&c, 1, &future);
    assert_eq!((line.quantity, line.unit), (QuantityDelta(15), Unit::AsCoded));
    assert_eq!(c.invoice.total, MinorUnits(0));
}

#[test]
fn terms_are_validated() {
    let mut t = Terms::default();
    t.prices.insert(
        Category::TOTAL,
        CategoryTerms {
            tiers: vec![
                Tier { up_to: Some(10), price: Price::new(1, 1).unwrap() },
                Tier { up_to: Some(5), price: Price::new(1, 1).unwrap() },
            ],
            allowance: Allowance::None,
            unit: None,
        },
    );
    assert!(matches!(t.validate(), Err(MeterError::InvalidTerms { .. })));
    let mut m = Meter::new(MeterConfig::default());
    assert!(m.add_contract(CONTRACT, t, at(0, 0)).is_err());
    assert!(Currency::new("EU", 2).is_err());
    assert!(BillingPeriod::months(13).is_err());
}

#[test]
fn quarterly_period_spans_three_months() {
    let terms = Terms { period: BillingPeriod::QUARTERLY, ..per_page(1) };
    let mut m = meter_with(MeterConfig::default(), terms, &[1]);
    m.observe(&total(1, 0, at(1, 0))).unwrap();
    m.observe(&total(1, 300, at(FEB + 10, 0))).unwrap();
    m.observe(&total(1, 500, at(MAR + 20, 0))).unwrap();
    assert!(matches!(m.close_period(CONTRACT, at(MAR + 25, 0)), Err(MeterError::PeriodNotOver { .. })));
    let c = m.close_period(CONTRACT, at(APR, 0)).unwrap();
    assert_eq!(usage_of(&c, 1, &MeterKind::TOTAL).quantity, QuantityDelta(500));
    assert_eq!(c.invoice.period_end, at(APR, 0));
}
