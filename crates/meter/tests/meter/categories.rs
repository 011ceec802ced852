//! The large-format categories: ink per colour (third-party ink too), media area and length per
//! media type, total media area and length, and usage per application category. Each is priced per
//! category in the terms, invoiced, and exported in CSV and CloudEvents.

use printfleet_meter::*;
use printfleet_schema::{Colour, MeterKind};

use crate::util::*;

fn cat(text: &str) -> Category {
    text.parse().unwrap()
}

/// Terms pricing each `(category, minor, per)`.
fn priced(prices: &[(&str, u64, u64)]) -> Terms {
    let mut t = Terms::default();
    for (c, minor, per) in prices {
        t.prices.insert(cat(c), CategoryTerms::flat(Price::new(*minor, *per).unwrap()));
    }
    t
}

/// The usage CSV row of a category (without the contract, device and serial columns).
fn csv_row(c: &Closing, category: &str) -> String {
    let mut out = Vec::new();
    export::usage_csv(&c.usage, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.split(',').nth(5) == Some(category)).collect();
    assert_eq!(rows.len(), 1, "{category} in\n{text}");
    rows[0].splitn(4, ',').nth(3).unwrap().to_string()
}

/// The invoice amount of a category.
fn amount(c: &Closing, category: &str) -> u64 {
    let category = cat(category);
    c.invoice
        .lines
        .iter()
        .filter(|l| matches!(&l.charge, Charge::Usage { category: k, .. } if *k == category))
        .map(|l| l.amount.0)
        .sum()
}

#[test]
fn ink_per_colour_with_third_party_ink() {
    // 25 cents a millilitre of any ink; third-party ink surcharged 10 cents a millilitre.
    let terms = priced(&[
        ("ink:cyan", 25, 1_000_000),
        ("ink:matte_black", 25, 1_000_000),
        ("ink_third_party:cyan", 10, 1_000_000),
    ]);
    let mut m = meter_with(MeterConfig::default(), terms, &[1]);
    let cyan = Category::ink(Colour::Cyan);
    let cyan_3p = Category::ink_third_party(Colour::Cyan);
    let mk = Category::ink(Colour::MatteBlack);
    // The cyan cartridge consumes 40 ml, is swapped on the 12th for a third-party one that had
    // already given 5 ml elsewhere, which then consumes 30 ml here.
    for (day, all, third) in
        [(1, 100_000_000, 0), (10, 140_000_000, 0), (12, 5_000_000, 5_000_000), (28, 35_000_000, 35_000_000)]
    {
        m.observe(&read(1, cyan.clone(), all, at(day, 0))).unwrap();
        m.observe(&read(1, cyan_3p.clone(), third, at(day, 0))).unwrap();
    }
    m.observe(&read(1, mk.clone(), 7_000_000, at(1, 0))).unwrap();
    m.observe(&read(1, mk.clone(), 9_500_000, at(28, 0))).unwrap();
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();

    let line = usage_of(&c, 1, cyan.clone());
    assert_eq!((line.quantity, line.segments, line.unit), (QuantityDelta(70_000_000), 2, Unit::Nanolitres));
    assert_eq!(usage_of(&c, 1, cyan_3p.clone()).quantity, QuantityDelta(30_000_000));
    assert_eq!(usage_of(&c, 1, mk.clone()).quantity, QuantityDelta(2_500_000));
    // 70 ml x 25 + 2.5 ml x 25 (62.5 -> 62, half-even) + 30 ml x 10.
    assert_eq!(
        (amount(&c, "ink:cyan"), amount(&c, "ink:matte_black"), amount(&c, "ink_third_party:cyan")),
        (1_750, 62, 300)
    );
    assert_eq!(c.invoice.total, MinorUnits(1_750 + 62 + 300));

    assert_eq!(csv_row(&c, "ink:cyan"), "2025-01-01,2025-02-01,ink:cyan,70000000,nanolitres,actual,2,usage,agent,");
    assert_eq!(
        csv_row(&c, "ink_third_party:cyan"),
        "2025-01-01,2025-02-01,ink_third_party:cyan,30000000,nanolitres,actual,2,usage,agent,"
    );
    let event = export::cloud_event(usage_of(&c, 1, cyan));
    assert_eq!(event["id"], "1/1/2025-01-01/ink:cyan/usage");
    assert_eq!(
        (event["data"]["category"].as_str(), event["data"]["unit"].as_str()),
        (Some("ink:cyan"), Some("nanolitres"))
    );
    assert_eq!(event["data"]["quantity"], 70_000_000);
}

/// A category without a plausibility bound (ink) still holds a jump no printer makes: a
/// counter read as 2^64 − 1 (a -1) is listed for review, not billed, and does not overflow the
/// period and stop the contract's closings.
#[test]
fn a_corrupt_counter_in_an_unbounded_category_is_held_not_overflowed() {
    let terms = priced(&[("ink:cyan", 25, 1_000_000)]);
    let mut m = meter_with(MeterConfig::default(), terms, &[1]);
    let cyan = Category::ink(Colour::Cyan);
    assert_eq!(MeterConfig::default().plausibility.per_day(ModelClass::LARGE_FORMAT, &cyan), None);
    for (day, value) in [(1, 100_000_000), (5, u64::MAX), (9, 110_000_000), (20, 130_000_000)] {
        m.observe(&read(1, cyan.clone(), value, at(day, 0))).unwrap();
    }
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    assert_eq!(c.held.len(), 1, "{:?}", c.held);
    assert_eq!(c.held[0].to.1, u64::MAX);
    // After the glitch (a reset back down) the counter's own advance: 110 -> 130 ml.
    assert_eq!(usage_of(&c, 1, cyan).quantity, QuantityDelta(20_000_000));
    // A jump up to the bound is billed as usual.
    let mut m = meter_with(MeterConfig::default(), priced(&[("ink:cyan", 25, 1_000_000)]), &[1]);
    let cyan = Category::ink(Colour::Cyan);
    m.observe(&read(1, cyan.clone(), 0, at(1, 0))).unwrap();
    m.observe(&read(1, cyan.clone(), limits::MAX_ADVANCE, at(2, 0))).unwrap();
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    assert!(c.held.is_empty());
    assert_eq!(usage_of(&c, 1, cyan).quantity.0, i64::try_from(limits::MAX_ADVANCE).unwrap());
}

#[test]
fn media_area_per_media_type_and_total_area_and_length() {
    // Per square metre: bond 50 cents, photo gloss 4 euros; the total area is reported only.
    let terms = priced(&[
        ("media_area:bond", 50, 1_000_000),
        ("media_area:Photo Gloss", 400, 1_000_000),
        ("length_mm", 1, 1_000),
    ]);
    let mut m = meter_with(MeterConfig::default(), terms, &[1]);
    let bond = Category::MediaArea(Label::new("bond").unwrap());
    let photo = Category::MediaArea(Label::new("Photo Gloss").unwrap());
    let area = Category::from(MeterKind::AREA_MM2);
    let length = Category::from(MeterKind::LENGTH_MM);
    for (day, b, p, len) in [(2, 2_315_000_000, 10_000_000, 5_000_000), (20, 2_345_500_000, 12_500_000, 5_025_000)] {
        m.observe(&read(1, bond.clone(), b, at(day, 0))).unwrap();
        m.observe(&read(1, photo.clone(), p, at(day, 0))).unwrap();
        m.observe(&read(1, area.clone(), b + p, at(day, 0))).unwrap();
        m.observe(&read(1, length.clone(), len, at(day, 0))).unwrap();
    }
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    // 30.5 m² of bond, 2.5 m² of photo gloss, 25 m of media.
    assert_eq!(usage_of(&c, 1, bond).quantity, QuantityDelta(30_500_000));
    assert_eq!(usage_of(&c, 1, photo).quantity, QuantityDelta(2_500_000));
    assert_eq!(usage_of(&c, 1, area).quantity, QuantityDelta(33_000_000));
    assert_eq!(usage_of(&c, 1, length).quantity, QuantityDelta(25_000));
    // 30.5 x 50 = 1 525; 2.5 x 400 = 1 000; 25 000 mm at 1 cent a metre = 25.
    assert_eq!(
        (amount(&c, "media_area:bond"), amount(&c, "media_area:Photo Gloss"), amount(&c, "length_mm")),
        (1_525, 1_000, 25)
    );
    assert_eq!(c.invoice.total, MinorUnits(2_550));
    assert_eq!(
        csv_row(&c, "media_area:Photo Gloss"),
        "2025-01-01,2025-02-01,media_area:Photo Gloss,2500000,square_millimetres,actual,1,usage,agent,"
    );
    assert_eq!(
        csv_row(&c, "area_mm2"),
        "2025-01-01,2025-02-01,area_mm2,33000000,square_millimetres,actual,1,usage,agent,"
    );
    assert_eq!(csv_row(&c, "length_mm"), "2025-01-01,2025-02-01,length_mm,25000,millimetres,actual,1,usage,agent,");
    let event = export::cloud_event(usage_of(&c, 1, cat("media_area:bond")));
    assert_eq!(event["id"], "1/1/2025-01-01/media_area:bond/usage");
    assert_eq!(event["data"]["unit"], "square_millimetres");
}

#[test]
fn media_length_per_media_type() {
    // Roll media per linear metre: bond 20 cents, photo gloss 1.50 euros; bond's area too.
    let terms = priced(&[
        ("media_length:bond", 20, 1_000_000),
        ("media_length:Photo Gloss", 150, 1_000_000),
        ("media_area:bond", 50, 1_000_000),
    ]);
    let mut m = meter_with(MeterConfig::default(), terms, &[1]);
    let bond = Category::MediaLength(Label::new("bond").unwrap());
    let photo = Category::MediaLength(Label::new("Photo Gloss").unwrap());
    let bond_area = Category::MediaArea(Label::new("bond").unwrap());
    // Bond: 2 534 m, then 40.5 m more (a 914.4 mm roll: 37.0332 m² more); photo gloss: 12 m.
    for (day, b, p, a) in [(2, 2_534_000_000, 3_000_000, 2_315_000_000), (20, 2_574_500_000, 15_000_000, 2_352_033_200)]
    {
        m.observe(&read(1, bond.clone(), b, at(day, 0))).unwrap();
        m.observe(&read(1, photo.clone(), p, at(day, 0))).unwrap();
        m.observe(&read(1, bond_area.clone(), a, at(day, 0))).unwrap();
    }
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    let line = usage_of(&c, 1, bond.clone());
    assert_eq!((line.quantity, line.unit, line.segments), (QuantityDelta(40_500_000), Unit::Micrometres, 1));
    assert_eq!(usage_of(&c, 1, photo.clone()).quantity, QuantityDelta(12_000_000));
    assert_eq!(usage_of(&c, 1, bond_area).quantity, QuantityDelta(37_033_200));
    // 40.5 m x 20 = 810; 12 m x 150 = 1 800; 37.0332 m² x 50 = 1 851.66 -> 1 852.
    assert_eq!(
        (amount(&c, "media_length:bond"), amount(&c, "media_length:Photo Gloss"), amount(&c, "media_area:bond")),
        (810, 1_800, 1_852)
    );
    assert_eq!(c.invoice.total, MinorUnits(810 + 1_800 + 1_852));
    assert_eq!(
        csv_row(&c, "media_length:bond"),
        "2025-01-01,2025-02-01,media_length:bond,40500000,micrometres,actual,1,usage,agent,"
    );
    let mut out = Vec::new();
    export::invoice_csv(std::slice::from_ref(&c.invoice), &mut out).unwrap();
    let invoice = String::from_utf8(out).unwrap();
    assert!(invoice.contains(",media_length:Photo Gloss,"), "{invoice}");
    let event = export::cloud_event(usage_of(&c, 1, photo));
    assert_eq!(event["id"], "1/1/2025-01-01/media_length:Photo Gloss/usage");
    assert_eq!(
        (event["data"]["category"].as_str(), event["data"]["unit"].as_str()),
        (Some("media_length:Photo Gloss"), Some("micrometres"))
    );
    assert_eq!(event["data"]["quantity"], 12_000_000);
    // The state, with its new category, round-trips.
    let back: Meter = serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
    assert_eq!(back, m);
}

#[test]
fn usage_per_application_category() {
    // CAD plots 30 cents a square metre, posters 1 euro a linear metre.
    let terms = priced(&[("app_area:cad", 30, 1_000_000), ("app_length:poster", 100, 1_000_000)]);
    let mut m = meter_with(MeterConfig::default(), terms, &[1, 2]);
    let cad = Category::ApplicationArea(Label::new("cad").unwrap());
    let poster = Category::ApplicationLength(Label::new("poster").unwrap());
    for d in [1, 2] {
        m.observe(&read(d, cad.clone(), 2_100_000_000, at(1, 0))).unwrap();
        m.observe(&read(d, cad.clone(), 2_100_000_000 + d * 10_000_000, at(25, 0))).unwrap();
        m.observe(&read(d, poster.clone(), 692_800_000, at(1, 0))).unwrap();
        m.observe(&read(d, poster.clone(), 692_800_000 + d * 4_000_000, at(25, 0))).unwrap();
    }
    let c = m.close_period(CONTRACT, at(FEB, 0)).unwrap();
    let line = usage_of(&c, 2, poster.clone());
    assert_eq!((line.quantity, line.unit), (QuantityDelta(8_000_000), Unit::Micrometres));
    assert_eq!(usage_of(&c, 1, cad.clone()).quantity, QuantityDelta(10_000_000));
    // Area: 10 + 20 m² at 30 cents; length: 4 + 8 m at 1 euro.
    assert_eq!((amount(&c, "app_area:cad"), amount(&c, "app_length:poster")), (900, 1_200));
    assert_eq!(c.invoice.total, MinorUnits(2_100));
    let mut out = Vec::new();
    export::usage_csv(&c.usage, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("\n1,2,SN2,2025-01-01,2025-02-01,app_length:poster,8000000,micrometres,actual,1,usage,agent,\n"),
        "{text}"
    );
    let event = export::cloud_event(usage_of(&c, 1, cad));
    assert_eq!(event["id"], "1/1/2025-01-01/app_area:cad/usage");
    assert_eq!(event["data"]["unit"], "square_millimetres");
}

#[test]
fn invalid_categories_are_refused_and_state_round_trips() {
    let mut m = meter_with(MeterConfig::default(), per_page(1), &[1]);
    // A colour built by hand that is not in normal form: refused, nothing recorded.
    let bad = read(1, Category::ink(Colour::Other("Cyan".into())), 1, at(1, 0));
    assert_eq!(m.observe(&bad), Err(MeterError::InvalidCategory));
    m.observe(&read(1, Category::ink(Colour::Cyan), 10, at(1, 0))).unwrap();
    m.observe(&read(1, cat("app_length:gis"), 10, at(1, 0))).unwrap();
    let saved = serde_json::to_vec(&m).unwrap();
    let back: Meter = serde_json::from_slice(&saved).unwrap();
    assert_eq!(back, m);
}
