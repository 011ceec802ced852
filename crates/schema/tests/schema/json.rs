//! JSON: round trips over the proptest strategies and the golden shape of the samples.

use printfleet_schema::redact::{FieldPolicy, PersonalField};
use printfleet_schema::*;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Serialises, deserialises and compares; also checks that serialising again gives the same text.
fn roundtrip_json<T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug>(
    value: &T,
) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back: T = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
    prop_assert_eq!(&back, value);
    prop_assert_eq!(serde_json::to_string(&back).unwrap(), text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_report_is_valid_and_round_trips(report in any::<DeviceReport>()) {
        prop_assert_eq!(report.validate(), Ok(()));
        roundtrip_json(&report)?;
    }

    #[test]
    fn records_round_trip(
        c in any::<Consumable>(), a in any::<Alert>(), p in any::<Printhead>(), k in any::<InkCartridge>(),
        m in any::<MediaSource>(), t in any::<MediaType>(), x in any::<Accessory>(), u in any::<Usage>(),
        s in any::<Settings>(), i in any::<Identity>(), st in any::<DeviceStatus>(), me in any::<Meters>(),
    ) {
        roundtrip_json(&c)?; roundtrip_json(&a)?; roundtrip_json(&p)?; roundtrip_json(&k)?;
        roundtrip_json(&m)?; roundtrip_json(&t)?; roundtrip_json(&x)?; roundtrip_json(&u)?;
        roundtrip_json(&s)?; roundtrip_json(&i)?; roundtrip_json(&st)?; roundtrip_json(&me)?;
    }

    #[test]
    fn jobs_round_trip(p in any::<PrintJob>(), s in any::<ScanJob>(), c in any::<CopyJob>()) {
        roundtrip_json(&p)?; roundtrip_json(&s)?; roundtrip_json(&c)?;
    }

    #[test]
    fn leaves_round_trip(
        level in any::<Level>(), cap in any::<Capacity>(), colour in any::<Colour>(), kind in any::<MeterKind>(),
        code in any::<codes::AlertCode>(), supply in any::<codes::SupplyType>(), ts in any::<Timestamp>(),
        bp in any::<BasisPoints>(), mac in any::<MacAddress>(), errors in any::<DetectedErrors>(),
        field in any::<PersonalField>(), policy in any::<FieldPolicy>(),
    ) {
        roundtrip_json(&level)?; roundtrip_json(&cap)?; roundtrip_json(&colour)?; roundtrip_json(&kind)?;
        roundtrip_json(&code)?; roundtrip_json(&supply)?; roundtrip_json(&ts)?; roundtrip_json(&bp)?;
        roundtrip_json(&mac)?; roundtrip_json(&errors)?; roundtrip_json(&field)?; roundtrip_json(&policy)?;
    }

    #[test]
    fn pseudonymised_reports_stay_valid_and_hide_personal_data(mut report in any::<DeviceReport>(), key in any::<[u8; 32]>()) {
        let originals: Vec<String> = report.events.print_jobs.iter().filter_map(|j| j.job.submitter.user_name.clone()).collect();
        Redaction::pseudonymise_all(redact::SiteKey::from_bytes(key)).apply(&mut report);
        prop_assert_eq!(report.validate(), Ok(()));
        for (job, original) in report.events.print_jobs.iter().filter_map(|j| j.job.submitter.user_name.as_ref()).zip(&originals) {
            prop_assert!(job.starts_with("pn1-"));
            prop_assert_ne!(job, original);
        }
    }
}

/// The JSON of each sample is pinned in `testdata/json/`: a change to the JSON shape must change
/// these files on purpose. Regenerate with `PRINTFLEET_BLESS=1 cargo test -p printfleet-schema --all-features`.
#[test]
fn sample_json_is_stable() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/json");
    for (name, report) in samples::all() {
        let text = serde_json::to_string_pretty(&report).unwrap() + "\n";
        let path = dir.join(format!("{name}.json"));
        if std::env::var_os("PRINTFLEET_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(text, golden, "{name}: JSON shape changed; bless it only if the change is intended");
        let back: DeviceReport = serde_json::from_str(&golden).unwrap();
        assert_eq!(back, report, "{name}: golden file no longer decodes to the sample");
    }
}

#[test]
fn json_shape_is_documented_form() {
    let report = samples::office_laser();
    let v: serde_json::Value = serde_json::to_value(&report).unwrap();
    let toner = &v["snapshot"]["consumables"][0];
    assert_eq!(toner["kind"], "toner_cartridge");
    assert_eq!(toner["class"], "supply_that_is_consumed");
    assert_eq!(toner["colour"], "black");
    assert_eq!(toner["unit"], "percent");
    assert_eq!(toner["level"], 63);
    let waste = &v["snapshot"]["consumables"][4];
    assert_eq!(waste["level"], "some_remaining");
    assert_eq!(waste["class"], "receptacle_that_is_filled");
    assert_eq!(v["snapshot"]["status"]["errors"], serde_json::json!(["low_toner"]));
    assert_eq!(v["snapshot"]["meters"]["duplex_sheets"], 9_120);
    assert_eq!(v["identity"]["mac_address"], "3c:52:82:1a:2b:3c");
    assert_eq!(v["generated_at"], 1_793_610_000_000u64);
    // Absent optional fields are omitted, not null.
    assert!(v["identity"].get("hostname").is_some());
    assert!(v["snapshot"].get("usage").is_none());
}

#[test]
fn unknown_json_fields_are_ignored_for_forward_compatibility() {
    let json = r#"{"generated_at": 5, "identity": {"make": "HP", "added_in_v2": true}, "future_part": [1, 2]}"#;
    let report: DeviceReport = serde_json::from_str(json).unwrap();
    assert_eq!(report.identity.make.as_deref(), Some("HP"));
    assert_eq!(report.generated_at.unix_millis(), 5);
}

#[test]
fn invalid_json_values_are_rejected() {
    for bad in [
        r#"{"generated_at": 253402300800000}"#,
        r#"{"generated_at": -1}"#,
        r#"{"identity": {"mac_address": "00:11"}}"#,
        r#"{"snapshot": {"status": {"errors": ["melting"]}}}"#,
        r#"{"snapshot": {"consumables": [{"level": -3}]}}"#,
        r#"{"snapshot": {"consumables": [{"kind": "unobtainium"}]}}"#,
        r#"{"snapshot": {"printheads": [{"health": 10001}]}}"#,
        r#"{"snapshot": {"meters": {"bogus": 1}}}"#,
    ] {
        assert!(serde_json::from_str::<DeviceReport>(bad).is_err(), "{bad}");
    }
}
