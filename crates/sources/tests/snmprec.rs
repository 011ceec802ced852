//! The snmprec reader on every real capture in testdata/third-party (the `captures` module), on
//! malformed input, and round trips of arbitrary bindings.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod captures;

use printfleet_sources::Finding;
use printfleet_sources::snmp::{Bindings, Oid, SnmpValue, SnmprecError};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = captures::file(name, ".snmprec");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

#[test]
fn every_capture_reads_completely_and_round_trips() {
    for name in &captures::names() {
        let text = fixture(name);
        let b = match Bindings::from_snmprec(&text) {
            Ok(b) => b,
            // LibreNMS' canonprinter_lbp repeats two lines upstream: the strict reader refuses
            // it; the tolerant one (a stored capture's) skips the repeats with a finding.
            Err(SnmprecError::Duplicate { .. }) => {
                let (b, findings) = Bindings::read_snmprec(text.as_bytes(), |_| true).unwrap();
                assert!(findings.iter().all(|f| matches!(f, Finding::DuplicateLine { .. })), "{name}: {findings:?}");
                assert_eq!(b.len() + findings.len(), text.lines().filter(|l| !l.trim().is_empty()).count(), "{name}");
                assert_eq!(Bindings::from_snmprec(&b.to_snmprec()).unwrap(), b, "{name}");
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        // Lines with a value: not blank, and not tagged as holding none (the tag is the second
        // field; a value may contain `|`).
        let absent = ["68", "68x", "128", "129", "130"];
        let lines = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !absent.contains(&l.split('|').nth(1).unwrap_or("")))
            .count();
        assert_eq!(b.len(), lines, "{name}: one binding per line");
        assert_eq!(Bindings::from_snmprec(&b.to_snmprec()).unwrap(), b, "{name}");
    }
}

#[test]
fn values_keep_their_types() {
    let b = Bindings::from_snmprec(&fixture("brother")).unwrap();
    assert_eq!(
        b.get(&oid("1.3.6.1.2.1.1.1.0")),
        Some(&SnmpValue::OctetString(b"Brother NC-8300h, Firmware Ver.1.14  (14.11.06),MID 8C5-F01,FID 2".to_vec()))
    );
    assert_eq!(b.get(&oid("1.3.6.1.2.1.1.2.0")), Some(&SnmpValue::ObjectId(oid("1.3.6.1.4.1.2435.2.3.9.1"))));
    assert_eq!(b.get(&oid("1.3.6.1.2.1.1.3.0")), Some(&SnmpValue::TimeTicks(217_539_735)));
    let e = Bindings::from_snmprec(&fixture("epson")).unwrap();
    assert_eq!(
        e.get(&oid("1.3.6.1.2.1.2.2.1.6.1")),
        Some(&SnmpValue::OctetString(vec![0x9c, 0xae, 0xd3, 0xaa, 0xd6, 0xc5]))
    );
    // A walk of prtMarkerSuppliesLevel returns the rows in index order.
    let level_column = oid("1.3.6.1.2.1.43.11.1.1.9");
    let levels: Vec<_> = e.walk(&level_column).collect();
    assert!(!levels.is_empty());
    assert!(levels.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(levels.iter().all(|(o, v)| o.suffix(&level_column).is_some_and(|s| s.len() == 2) && v.as_i32().is_some()));
}

#[test]
fn malformed_captures_fail_with_the_line() {
    type Check = fn(&SnmprecError) -> bool;
    let cases: [(&str, Check); 8] = [
        ("1.3.6|2", |e| matches!(e, SnmprecError::Fields { line: 1 })),
        ("1.3..6|2|1", |e| matches!(e, SnmprecError::Oid { line: 1 })),
        ("\n1.3.6|99|1", |e| matches!(e, SnmprecError::Tag { line: 2, .. })),
        ("1.3.6|2|x", |e| matches!(e, SnmprecError::Value { line: 1, .. })),
        ("1.3.6|2|2147483648", |e| matches!(e, SnmprecError::Value { .. })),
        ("1.3.6|4x|ABC", |e| matches!(e, SnmprecError::Value { .. })),
        ("1.3.6|64|300.1.1.1", |e| matches!(e, SnmprecError::Value { .. })),
        ("1.3.6|2|1\n1.3.6|2|2", |e| matches!(e, SnmprecError::Duplicate { line: 2 })),
    ];
    for (text, ok) in cases {
        let e = Bindings::from_snmprec(text).unwrap_err();
        assert!(ok(&e), "{text:?}: {e:?}");
    }
    assert!(Bindings::from_snmprec("# comment\r\n\r\n1.3.6|5|\r\n").is_ok());
    // A line with no value (noSuchObject, noSuchInstance, endOfMibView, Opaque) is no binding,
    // in both readers; an invalid OID is still refused.
    let absent = "1.3.6.1.2.1.43.5.1.1.17.1|128|\n1.3.6.1.2.1.43.5.1.1.16.1|129|\n\
        1.3.6.1.2.1.43.11.1.1.9.1.1|130|\n1.3.6.1.2.1.43.11.1.1.8.1.1|68x|9f780441\n1.3.6.1.2.1.1.5.0|4|host\n";
    assert_eq!(Bindings::from_snmprec(absent).unwrap().len(), 1);
    let (b, findings) = Bindings::read_snmprec(absent.as_bytes(), |_| true).unwrap();
    assert_eq!((b.len(), findings.len()), (1, 0));
    assert!(matches!(Bindings::from_snmprec("1.3..6|128|"), Err(SnmprecError::Oid { line: 1 })));
    // An INTEGER beyond Integer32 inside the tables read: the strict reader refuses it; the
    // tolerant one skips it with a finding (a live poll reads it as absent).
    let wide = "1.3.6.1.2.1.43.11.1.1.9.1.1|2|4294967295\n1.3.6.1.2.1.1.5.0|4|host\n";
    assert!(matches!(Bindings::from_snmprec(wide), Err(SnmprecError::Value { line: 1, .. })));
    let (b, findings) = Bindings::read_snmprec(wide.as_bytes(), |_| true).unwrap();
    assert_eq!((b.len(), findings.len()), (1, 1));
    assert!(Bindings::read_snmprec(b"1.3.6.1.2.1.43.11.1.1.9.1.1|2|x\n", |_| true).is_err(), "not a number");
    let long_oid = format!("1{}|2|1", ".1".repeat(200));
    assert!(matches!(Bindings::from_snmprec(&long_oid), Err(SnmprecError::Oid { .. })));
}

fn value() -> impl Strategy<Value = SnmpValue> {
    prop_oneof![
        any::<i32>().prop_map(SnmpValue::Integer),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(SnmpValue::OctetString),
        prop::collection::vec(any::<u32>(), 1..12).prop_map(|a| SnmpValue::ObjectId(
            a.iter().map(u32::to_string).collect::<Vec<_>>().join(".").parse().unwrap()
        )),
        any::<[u8; 4]>().prop_map(SnmpValue::IpAddress),
        any::<u32>().prop_map(SnmpValue::Counter32),
        any::<u32>().prop_map(SnmpValue::Gauge32),
        any::<u32>().prop_map(SnmpValue::TimeTicks),
        any::<u64>().prop_map(SnmpValue::Counter64),
        Just(SnmpValue::Null),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bindings_round_trip(entries in prop::collection::vec((prop::collection::vec(any::<u32>(), 1..16), value()), 0..30)) {
        let mut b = Bindings::new();
        for (arcs, v) in entries {
            b.insert(arcs.iter().map(u32::to_string).collect::<Vec<_>>().join(".").parse().unwrap(), v);
        }
        prop_assert_eq!(Bindings::from_snmprec(&b.to_snmprec()).unwrap(), b);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[0-9.|x\\n]{0,200}") {
        prop_assert!(printfleet_sources::snmp::fuzz_roundtrip(text.as_bytes()).is_ok());
    }
}
