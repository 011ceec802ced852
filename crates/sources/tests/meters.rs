//! Issue 15 section 2: page counters a billing system can trust. Vendor counters read from the
//! table of data (`snmp::vendor::VENDOR_COUNTERS`), each reading with its provenance, and
//! disagreeing sources marked disputed with both values.
//!
//! The vendor walks below are written from the cited sources of each table row (the OIDs and
//! the record layout); the Sharp walk is LibreNMS' real capture, whose counter table names each
//! counter itself.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod captures;

use std::path::PathBuf;

use printfleet_schema::{MeterKind, VendorMeter};
use printfleet_sources::finding::SourcedValue;
use printfleet_sources::ledm::{Documents, Element};
use printfleet_sources::snmp::printer_mib::{map, reads, subtrees};
use printfleet_sources::snmp::{Bindings, Oid};
use printfleet_sources::{Finding, Mapped, Source};

fn walk(text: &str) -> Mapped {
    let m = map(&Bindings::from_snmprec(text).unwrap());
    assert_eq!(m.report.validate(), Ok(()));
    m
}

/// A capture, read as a stored one is (tolerantly: one repeats two lines upstream).
fn capture(name: &str) -> Bindings {
    let bytes = std::fs::read(captures::file(name, ".snmprec")).unwrap();
    Bindings::read_snmprec(&bytes, |_| true).unwrap_or_else(|e| panic!("{name}: {e}")).0
}

fn snmp_source(m: &Mapped, kind: &MeterKind) -> (Vec<String>, &'static str) {
    match &m.reading(kind).unwrap_or_else(|| panic!("no {kind}")).sources[0] {
        Source::Snmp { oids, name } => (oids.iter().map(ToString::to_string).collect(), *name),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sharp_vendor_counters_from_a_real_capture_with_their_oids() {
    let m = map(&capture("sharp"));
    let meters = &m.report.snapshot.meters;
    for (kind, value) in [
        (MeterKind::TOTAL, 121_104),
        (MeterKind::MONO, 91_164),
        (MeterKind::COLOUR, 29_940),
        (MeterKind::HIGHLIGHT_COLOUR, 0),
        (MeterKind::PRINT, 82_214),
        (MeterKind::PRINT_MONO, 53_631),
        (MeterKind::PRINT_COLOUR, 28_583),
        (MeterKind::COPIES, 38_804),
        (MeterKind::COPY_MONO, 37_485),
        (MeterKind::COPY_COLOUR, 1_319),
        (MeterKind::SCAN_MONO, 6_170),
        (MeterKind::SCAN_COLOUR, 7_364),
    ] {
        assert_eq!(meters.get(&kind), Some(value), "{kind}");
    }
    let duplex = MeterKind::Vendor(VendorMeter::new("sharp.duplex").unwrap());
    assert_eq!(meters.get(&duplex), Some(41_020));
    assert_eq!(
        snmp_source(&m, &MeterKind::PRINT_MONO),
        (vec!["1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.61".to_owned()], "Black & White Print Count")
    );
    assert_eq!(
        snmp_source(&m, &MeterKind::TOTAL),
        (vec!["1.3.6.1.2.1.43.10.2.1.4.1.1".to_owned()], "prtMarkerLifeCount")
    );
    // The device is consistent with itself: total = mono + colour, print and copy likewise.
    assert!(!m.has_disputes(), "{:?}", m.findings);
}

#[test]
fn a_vendor_total_that_disagrees_with_prt_marker_life_count_is_disputed_with_both_values() {
    // bieniu/brother tests/fixtures/hl-l2340dw.json: brInfoCounter record 0x00 is 0x3da = 986,
    // prtMarkerLifeCount 1279, from one HL-L2340DW.
    let m = walk(
        "1.3.6.1.2.1.43.10.2.1.4.1.1|65|1279\n\
         1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.10.0|4x|000104000003da\n",
    );
    let total = m.reading(&MeterKind::TOTAL).unwrap();
    assert_eq!(total.value, 986, "the vendor counter is preferred");
    assert!(total.is_disputed());
    assert_eq!(
        total.disputed_by,
        [SourcedValue {
            source: Source::Snmp {
                oids: vec!["1.3.6.1.2.1.43.10.2.1.4.1.1".parse().unwrap()],
                name: "prtMarkerLifeCount"
            },
            value: 1279
        }]
    );
    assert!(m.findings.contains(&Finding::MeterDisputed { kind: MeterKind::TOTAL, value: 986, others: vec![1279] }));
}

#[test]
fn a_total_that_disagrees_with_its_parts_is_disputed() {
    // Xerox billing meters: total, black printed, colour printed impressions.
    let m = walk(
        "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.1|65|1000\n\
         1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33|65|300\n\
         1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34|65|600\n",
    );
    let total = m.reading(&MeterKind::TOTAL).unwrap();
    assert_eq!(total.value, 1000);
    assert_eq!(
        total.disputed_by,
        [SourcedValue { source: Source::Sum(vec![MeterKind::MONO, MeterKind::COLOUR]), value: 900 }]
    );
    // When they agree, nothing is disputed.
    let m = walk(
        "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.1|65|900\n\
         1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33|65|300\n\
         1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34|65|600\n",
    );
    assert!(!m.has_disputes());
}

#[test]
fn agreeing_sources_are_all_named() {
    // Kyocera's total printed and prtMarkerLifeCount say the same: both are sources.
    let m = walk(
        "1.3.6.1.2.1.43.10.2.1.4.1.1|65|5000\n\
         1.3.6.1.4.1.1347.43.10.1.1.12.1.1|2|5000\n\
         1.3.6.1.4.1.1347.42.3.1.2.1.1.1.1|2|3000\n\
         1.3.6.1.4.1.1347.42.3.1.2.1.1.1.3|2|1500\n\
         1.3.6.1.4.1.1347.42.3.1.2.1.1.2.1|2|400\n\
         1.3.6.1.4.1.1347.42.3.1.2.1.1.2.3|2|100\n\
         1.3.6.1.4.1.1347.42.3.1.2.1.1.4.1|2|7\n",
    );
    let total = m.reading(&MeterKind::TOTAL).unwrap();
    assert_eq!((total.value, total.sources.len(), total.is_disputed()), (5000, 2, false));
    assert!(matches!(total.sources[0], Source::Snmp { name: "total printed", .. }), "vendor first");
    let meters = &m.report.snapshot.meters;
    assert_eq!(meters.get(&MeterKind::PRINT_MONO), Some(3000));
    assert_eq!(meters.get(&MeterKind::PRINT_COLOUR), Some(1500));
    assert_eq!(meters.get(&MeterKind::COPY_MONO), Some(400));
    assert_eq!(meters.get(&MeterKind::COPY_COLOUR), Some(100));
    assert_eq!(meters.get(&MeterKind::FAX_IN), Some(7));
}

#[test]
fn table_counters_match_rows_by_type_and_unit() {
    // Lexmark paperGeneralCountTable: (type, units, value) rows; totalSafe in sides and in
    // sheets are two meters, a row in other units is ignored.
    let m = walk(
        "1.3.6.1.4.1.641.6.4.2.1.1.2.1.1|2|2\n1.3.6.1.4.1.641.6.4.2.1.1.3.1.1|2|4\n1.3.6.1.4.1.641.6.4.2.1.1.4.1.1|65|1500\n\
         1.3.6.1.4.1.641.6.4.2.1.1.2.1.2|2|2\n1.3.6.1.4.1.641.6.4.2.1.1.3.1.2|2|5\n1.3.6.1.4.1.641.6.4.2.1.1.4.1.2|65|900\n\
         1.3.6.1.4.1.641.6.4.2.1.1.2.1.3|2|17\n1.3.6.1.4.1.641.6.4.2.1.1.3.1.3|2|20\n1.3.6.1.4.1.641.6.4.2.1.1.4.1.3|65|77\n",
    );
    let meters = &m.report.snapshot.meters;
    assert_eq!((meters.get(&MeterKind::TOTAL), meters.get(&MeterKind::SHEETS)), (Some(1500), Some(900)));
    assert_eq!(meters.get(&MeterKind::PRINT_MONO), None, "feet are not impressions");
    // Samsung scmHrDevCountTable: print mono impressions summed over media sizes.
    let row = |i: u32, job: i32, colour: i32, unit: i32, value: u32| {
        let base = "1.3.6.1.4.1.236.11.5.11.53.11.2.1";
        format!(
            "{base}.2.1.{i}|2|{job}\n{base}.4.1.{i}|2|{unit}\n{base}.6.1.{i}|2|{colour}\n{base}.7.1.{i}|65|{value}\n"
        )
    };
    let text = [row(1, 1, 3, 7, 100), row(2, 1, 3, 7, 50), row(3, 1, 1, 7, 20), row(4, 2, 3, 7, 5)].concat();
    let m = walk(&text);
    let meters = &m.report.snapshot.meters;
    assert_eq!(meters.get(&MeterKind::PRINT_MONO), Some(150));
    assert_eq!(meters.get(&MeterKind::PRINT_COLOUR), Some(20));
    assert_eq!(meters.get(&MeterKind::COPY_MONO), Some(5));
    assert_eq!(snmp_source(&m, &MeterKind::PRINT_MONO).0.len(), 2, "both rows are named");
    // Ricoh ricohEngCounterTable: rows keyed by counter type.
    let m = walk(
        "1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.1|2|10\n1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.1|2|118722\n\
         1.3.6.1.4.1.367.3.2.1.2.19.5.1.2.2|2|401\n1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.2|2|62846\n",
    );
    assert_eq!(m.report.snapshot.meters.get(&MeterKind::TOTAL), Some(118_722));
    assert_eq!(m.report.snapshot.meters.get(&MeterKind::PRINT_MONO), Some(62_846));
}

#[test]
fn ipp_and_ledm_readings_name_their_attribute_and_element() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/third-party/aiohpprinter/hp_color_laserjet_m255dw");
    let doc = |name: &str| Some(Element::parse(&std::fs::read(dir.join(name)).unwrap()).unwrap());
    let m =
        printfleet_sources::ledm::map(&Documents { product_usage: doc("ProductUsageDyn.xml"), ..Documents::default() });
    let total = m.reading(&MeterKind::TOTAL).unwrap();
    assert_eq!(
        (total.value, &total.sources[..]),
        (1344, &[Source::Ledm("ProductUsageDyn/PrinterSubunit/TotalImpressions")][..])
    );
    assert!(!m.has_disputes(), "1344 = 452 + 892");

    let mut bytes = vec![2, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x04, 0x21];
    let name = b"printer-impressions-completed";
    bytes.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&[0, 4]);
    bytes.extend_from_slice(&48_213i32.to_be_bytes());
    bytes.push(0x03);
    let m = printfleet_sources::ipp::map(&printfleet_sources::ipp::parse(&bytes).unwrap());
    assert_eq!(m.reading(&MeterKind::TOTAL).unwrap().sources, [Source::Ipp("printer-impressions-completed")]);
}

/// `snmp_poll` walks `subtrees()`; CI compares its output with `printfleet mib` byte for byte.
/// On every capture the mapping of only what those subtrees hold is the mapping of everything,
/// and so is the mapping of only what `reads` names (so a corrupt line elsewhere cannot change
/// a report).
#[test]
fn every_capture_maps_alike_from_the_walked_subtrees_and_from_what_it_reads() {
    let restrict = |b: &Bindings, keep: &dyn Fn(&Oid) -> bool| {
        let mut out = Bindings::new();
        for (o, v) in b.iter().filter(|(o, _)| keep(o)) {
            out.insert(o.clone(), v.clone());
        }
        out
    };
    let walked = subtrees();
    for name in &captures::names() {
        let b = capture(name);
        let all = map(&b);
        let polled = map(&restrict(&b, &|o: &Oid| walked.iter().any(|s| o.starts_with(s))));
        assert_eq!(polled, all, "{name}: the walked subtrees");
        let read = map(&restrict(&b, &reads));
        assert_eq!(read, all, "{name}: what the mapping reads");
    }
}
