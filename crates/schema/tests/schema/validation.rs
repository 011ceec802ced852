//! `DeviceReport::validate`: each rule, and each limit at its boundary.

use printfleet_schema::limits::*;
use printfleet_schema::*;

fn valid() -> DeviceReport {
    samples::large_format(3)
}

#[test]
fn samples_are_valid() {
    for (name, r) in samples::all() {
        assert_eq!(r.validate(), Ok(()), "{name}");
    }
}

#[test]
fn empty_or_blank_text_is_rejected() {
    let mut r = valid();
    r.identity.serial_number = Some(String::new());
    assert_eq!(r.validate(), Err(Error::EmptyText { field: "identity.serial_number" }));
    r.identity.serial_number = Some("   ".into());
    assert_eq!(r.validate(), Err(Error::EmptyText { field: "identity.serial_number" }));

    let mut r = valid();
    r.snapshot.accessories[0].name = String::new();
    assert_eq!(r.validate(), Err(Error::EmptyText { field: "snapshot.accessories.name" }));

    let mut r = valid();
    r.events.print_jobs[0].job.submitter.user_name = Some(String::new());
    assert_eq!(r.validate(), Err(Error::EmptyText { field: "events.print_jobs" }));
}

#[test]
fn control_characters_are_rejected() {
    for bad in ["nul\0inside", "bell\u{7}", "\u{1b}[31m", "nonchar\u{fffe}", "\u{ffff}"] {
        let mut r = valid();
        r.identity.description = Some(bad.into());
        assert_eq!(r.validate(), Err(Error::ControlCharacter { field: "identity.description" }), "{bad:?}");
    }
    let mut r = valid();
    r.identity.description = Some("line one\r\nline two\ttabbed \u{7f} \u{fffd} \u{1f600}".into());
    assert_eq!(r.validate(), Ok(()));
}

#[test]
fn text_length_limit_is_exact() {
    let mut r = valid();
    r.identity.location = Some("x".repeat(MAX_TEXT_BYTES));
    assert_eq!(r.validate(), Ok(()));
    r.identity.location = Some("x".repeat(MAX_TEXT_BYTES + 1));
    assert_eq!(
        r.validate(),
        Err(Error::TextTooLong { field: "identity.location", len: MAX_TEXT_BYTES + 1, limit: MAX_TEXT_BYTES })
    );
    // Bytes, not characters.
    r.identity.location = Some("é".repeat(MAX_TEXT_BYTES / 2 + 1));
    assert!(matches!(r.validate(), Err(Error::TextTooLong { .. })));
}

#[test]
fn list_limits_are_exact() {
    let mut r = valid();
    r.snapshot.consumables =
        (0..MAX_RECORDS as u64).map(|i| Consumable { record_id: RecordId(i), ..Default::default() }).collect();
    assert_eq!(r.validate(), Ok(()));
    r.snapshot.consumables.push(Consumable { record_id: RecordId(u64::MAX), ..Default::default() });
    assert_eq!(
        r.validate(),
        Err(Error::TooManyItems { field: "snapshot.consumables", count: MAX_RECORDS + 1, limit: MAX_RECORDS })
    );

    let mut r = valid();
    r.identity.ip_addresses = vec!["192.0.2.1".parse().unwrap(); MAX_IP_ADDRESSES + 1];
    assert!(matches!(r.validate(), Err(Error::TooManyItems { field: "identity.ip_addresses", .. })));

    let mut r = valid();
    r.events.print_jobs[0].print.ink = vec![InkUse { colour: Colour::Black, volume: InkNl(1) }; MAX_NESTED + 1];
    assert!(matches!(r.validate(), Err(Error::TooManyItems { field: "events.print_jobs.print", .. })));

    let mut r = valid();
    for i in 0..=MAX_METERS as u64 {
        r.snapshot.meters.set(MeterKind::Vendor(VendorMeter::new(&format!("m{i}")).unwrap()), i);
    }
    assert!(matches!(r.validate(), Err(Error::TooManyItems { field: "snapshot.meters", .. })));
}

#[test]
fn duplicate_record_ids_and_jobs_are_rejected() {
    let mut r = valid();
    let dup = r.snapshot.cartridges[0].clone();
    r.snapshot.cartridges.push(dup);
    assert_eq!(r.validate(), Err(Error::DuplicateRecordId { field: "snapshot.cartridges", record: RecordId(1) }));

    let mut r = valid();
    let dup = r.events.print_jobs[1].clone();
    r.events.print_jobs.push(dup.clone());
    assert_eq!(r.validate(), Err(Error::DuplicateJob { field: "events.print_jobs", uuid: dup.job.uuid }));
}

/// A repeated job UUID is found among few jobs (compared pairwise) and among many (through a
/// set), in every job list, and by `Events::validate_print_jobs` on jobs held elsewhere; the
/// first repeat is the one named.
#[test]
fn a_repeated_job_is_found_among_few_jobs_and_among_many() {
    // The sample makes every tenth job a copy job: 2, 16, 17 and 40 print jobs.
    for (made, jobs) in [(2, 2), (17, 16), (18, 17), (44, 40)] {
        let mut r = samples::large_format(made);
        assert_eq!(r.validate(), Ok(()), "{jobs} jobs");
        let print = &mut r.events.print_jobs;
        assert_eq!(print.len(), jobs);
        let (first, last) = (print[0].job.uuid, print[jobs - 1].job.uuid);
        print[jobs - 1].job.uuid = first;
        let named = Err(Error::DuplicateJob { field: "events.print_jobs", uuid: first });
        assert_eq!(r.validate(), named, "{jobs} jobs");
        let held: Vec<(u64, PrintJob)> = (1..).zip(r.events.print_jobs.iter().cloned()).collect();
        assert_eq!(Events::validate_print_jobs(held.iter().map(|(_, j)| j)), named, "{jobs} jobs, held");
        // Two repeats: the earlier-placed repeat is reported.
        if jobs > 2 {
            let print = &mut r.events.print_jobs;
            print[jobs - 1].job.uuid = last;
            print[2].job.uuid = print[1].job.uuid;
            let second = print[1].job.uuid;
            print[jobs - 1].job.uuid = first;
            assert_eq!(r.validate(), Err(Error::DuplicateJob { field: "events.print_jobs", uuid: second }));
        }
        let scans: Vec<ScanJob> = (0..jobs).map(|i| scan(u8::try_from(i).unwrap())).collect();
        let mut r = valid();
        r.events.scan_jobs = scans.clone();
        assert_eq!(r.validate(), Ok(()), "{jobs} scans");
        r.events.scan_jobs[jobs - 1].job.uuid = scans[0].job.uuid;
        assert_eq!(
            r.validate(),
            Err(Error::DuplicateJob { field: "events.scan_jobs", uuid: scans[0].job.uuid }),
            "{jobs} scans"
        );
    }
}

fn scan(n: u8) -> ScanJob {
    let mut job = ScanJob::default();
    job.job.uuid = uuid::Uuid::from_bytes([n.wrapping_add(1); 16]);
    job
}

#[test]
fn levels_must_fit_capacity_and_the_mib_range() {
    let mut r = valid();
    r.snapshot.consumables.push(Consumable {
        record_id: RecordId(9),
        level: Level::Amount(101),
        capacity: Capacity::Amount(100),
        ..Default::default()
    });
    assert_eq!(r.validate(), Err(Error::LevelAboveCapacity { record: RecordId(9), level: 101, capacity: 100 }));

    r.snapshot.consumables[0].level = Level::Amount(100);
    assert_eq!(r.validate(), Ok(()));

    // Special states are never "above" anything.
    r.snapshot.consumables[0].level = Level::SomeRemaining;
    r.snapshot.consumables[0].capacity = Capacity::Amount(0);
    assert_eq!(r.validate(), Ok(()));

    r.snapshot.consumables[0].level = Level::Amount(MAX_LEVEL + 1);
    r.snapshot.consumables[0].capacity = Capacity::Unrestricted;
    assert_eq!(r.validate(), Err(Error::LevelOutOfRange { record: RecordId(9), value: MAX_LEVEL + 1 }));
}

#[test]
fn colours_must_be_normalised() {
    let mut r = valid();
    r.snapshot.printheads[0].colours.push(Colour::Other("Cyan".into()));
    assert_eq!(r.validate(), Err(Error::UnnormalisedColour { field: "snapshot.printheads.colours" }));

    let mut r = valid();
    r.snapshot.cartridges[0].colour = Some(Colour::Other(String::new()));
    assert_eq!(r.validate(), Err(Error::UnnormalisedColour { field: "snapshot.cartridges.colour" }));

    let mut r = valid();
    r.snapshot.cartridges[0].colour = Some(Colour::parse("chromatic red"));
    assert_eq!(r.validate(), Ok(()));
}

#[test]
fn map_entries_are_checked() {
    let mut r = valid();
    r.snapshot.media_types[0].names.insert("fr".into(), String::new());
    assert_eq!(r.validate(), Err(Error::EmptyText { field: "snapshot.media_types.names" }));
}

#[test]
fn errors_display_without_personal_data() {
    let mut r = valid();
    r.events.print_jobs[0].job.name = Some("secret-plan.dwg".repeat(100));
    let e = r.validate().unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("events.print_jobs is 1500 bytes long"), "{text}");
    assert!(!text.contains("secret"));
}
