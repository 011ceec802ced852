//! Exports and saved state.

use printfleet_meter::*;
use printfleet_schema::MeterKind;

use crate::util::*;

fn january() -> (Meter, Closing) {
    let mut terms = per_page(2);
    terms.estimates = true;
    let mut m = meter_with(MeterConfig::default(), terms, &[1, 2]);
    m.observe(&total(1, 100, at(1, 0))).unwrap();
    m.observe(&total(1, 40, at(3, 0))).unwrap();
    m.observe(&total(1, 90, at(30, 0))).unwrap();
    m.observe(&total(2, 1_000, at(1, 0))).unwrap();
    m.observe(&total(2, 1_200, at(11, 0))).unwrap();
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    (m, c)
}

#[test]
fn usage_csv_has_the_documented_columns() {
    let (_, c) = january();
    let mut out = Vec::new();
    export::usage_csv(&c.usage, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "contract,device,serial,period_start,period_end,category,quantity,unit,reading,segments,line,source,corrects\n\
         1,1,SN1,2025-01-01,2025-02-01,total,50,impressions,actual,2,usage,agent,\n\
         1,2,SN2,2025-01-01,2025-02-01,total,600,impressions,estimated,1,usage,agent+estimate,\n"
    );
}

/// A serial (a device's name) that a spreadsheet would run as a formula is written as text;
/// numbers, negative quantities included, are left alone.
#[test]
fn a_serial_that_looks_like_a_formula_is_written_as_text() {
    let (_, c) = january();
    let mut lines = c.usage.clone();
    lines[0].serial = "=HYPERLINK(\"http://x\",\"pay\")".into();
    lines[1].serial = "-2+3".into();
    lines[1].quantity = QuantityDelta(-600);
    let mut out = Vec::new();
    export::usage_csv(&lines, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(",\"'=HYPERLINK(\"\"http://x\"\",\"\"pay\"\")\","), "{text}");
    assert!(text.contains(",'-2+3,") && text.contains(",-600,"), "{text}");
    for plain in ["SN1", "printer-7", "a=b"] {
        assert_eq!(export::spreadsheet_safe(plain), plain);
    }
}

#[test]
fn invoice_csv_has_the_documented_columns() {
    let (_, c) = january();
    let mut out = Vec::new();
    export::invoice_csv(std::slice::from_ref(&c.invoice), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "contract,period_start,period_end,currency,charge,category,tier,quantity,unit,price_minor,price_per,amount_minor,reading,corrects\n\
         1,2025-01-01,2025-02-01,EUR,usage,total,0,650,impressions,2,1,1300,estimated,\n"
    );
}

#[test]
fn cloud_events_have_stable_ids_and_reexport_identically() {
    let (_, c) = january();
    let first = export::cloud_events_batch(&c.usage);
    let (_, again) = january();
    assert_eq!(export::cloud_events_batch(&again.usage), first);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&first).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["id"], "1/2/2025-01-01/total/usage");
    assert_eq!(events[1]["type"], export::USAGE_EVENT_TYPE);
    assert_eq!(events[1]["data"]["reading"], "estimated");
    for e in &events {
        for attr in ["specversion", "id", "source", "type"] {
            assert!(e[attr].is_string(), "required attribute {attr}");
        }
    }
}

#[test]
fn saved_state_restores_to_the_same_meter() {
    let (mut m, _) = january();
    m.observe(&total(1, 95, at(FEB + 1, 0))).unwrap();
    let saved = serde_json::to_vec(&m).unwrap();
    let mut restored: Meter = serde_json::from_slice(&saved).unwrap();
    assert_eq!(restored, m);
    // Both continue identically, including duplicates recognised from the restored keys.
    assert_eq!(restored.observe(&total(1, 95, at(FEB + 1, 0))).unwrap(), Outcome::Duplicate);
    let a = m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    let b = restored.close_period(CONTRACT, at(MAR, 0)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn altered_state_is_refused() {
    let (m, _) = january();
    let mut v = serde_json::to_value(&m).unwrap();
    // Unsort device 1's reads.
    let reads = v["devices"]["1"]["series"][0]["reads"].as_array_mut().unwrap();
    reads.reverse();
    let err = serde_json::from_value::<Meter>(v).unwrap_err();
    assert!(err.to_string().contains("not sorted"), "{err}");
}

#[test]
fn state_is_bounded_by_the_late_window() {
    // Three months of 3-hourly reads: after each closing only the retained window remains.
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    let mut v = 0;
    for day in 0..APR {
        for h in (0..24).step_by(3) {
            v += 10;
            m.observe(&total(1, v, at(day, h))).unwrap();
        }
    }
    assert_eq!(m.retained_reads(), 90 * 8);
    m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    m.close_period(CONTRACT, at(MAR, 0)).unwrap();
    // Anchor + February (from the window horizon's period) + March.
    assert_eq!(m.retained_reads(), 1 + (APR - FEB) as usize * 8);
    let c = m.close_period(CONTRACT, at(APR, 0)).unwrap();
    assert_eq!(usage_of(&c, 1, &MeterKind::TOTAL).quantity, QuantityDelta(31 * 8 * 10));
    assert_eq!(m.retained_reads(), 1 + (APR - MAR) as usize * 8);
}
