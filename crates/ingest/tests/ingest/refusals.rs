//! Unknown, revoked and misbehaving senders get one opaque rejection, counted by reason; what a
//! batch carries; the registry answers session-mode look-ups.

use printfleet_auth::{DeviceSecret, Lookup, Verifier, VerifierStore};
use printfleet_ingest::{Credential, IngestError, Refusal};
use printfleet_meter::Category;
use printfleet_schema::{Alert, Colour, InkNl, Level, RecordId, samples};
use printfleet_wire::Codec;
use printfleet_wire::frame::{MessageKind, RejectReason};

use crate::*;

fn first_frame(name: &str, now: Timestamp) -> Transmit {
    let mut a = agent(name, 1);
    a.handle_reading(now, reading());
    pump(&mut a, now, &mut rng(5)).unwrap()
}

#[test]
fn unknown_revoked_and_garbage_frames_are_refused_alike_and_counted() {
    let mut ingest = Ingest::new(master());
    ingest.provision(record("known")).unwrap();
    let now = at(0);

    let unknown = ingest.receive(&first_frame("stranger", now).frame, now).unwrap_err();
    assert!(matches!(unknown, IngestError::Rejected(Refusal::Unknown)));
    let garbage = ingest.receive(&[0u8; 7], now).unwrap_err();
    assert!(matches!(garbage, IngestError::Rejected(Refusal::Frame(RejectReason::Length))));
    let mut forged = first_frame("known", now).frame;
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let forged = ingest.receive(&forged, now).unwrap_err();
    assert!(matches!(forged, IngestError::Rejected(Refusal::Frame(RejectReason::Authentication))));

    let sender = ingest.provision(record("revoked-later")).unwrap();
    let frame = first_frame("revoked-later", now).frame;
    ingest.revoke(sender).unwrap();
    let revoked = ingest.receive(&frame, now).unwrap_err();
    assert!(matches!(revoked, IngestError::Rejected(Refusal::Revoked)));

    for e in [unknown, garbage, forged, revoked] {
        assert_eq!(e.to_string(), "frame rejected");
    }
    let c = ingest.counters();
    assert_eq!(c.refused(Refusal::Unknown), 1);
    assert_eq!(c.refused(Refusal::Revoked), 1);
    assert_eq!(c.refused(Refusal::Frame(RejectReason::Length)), 1);
    assert_eq!(c.refused(Refusal::Frame(RejectReason::Authentication)), 1);
    assert_eq!(c.accepted(), 0);
}

#[test]
fn an_authentic_frame_that_is_not_an_update_is_refused_as_malformed() {
    let mut ingest = Ingest::new(master());
    ingest.provision(record("broken")).unwrap();
    let secret = master().device_secret("broken", KeyEpoch(1));
    let mut channel = one_shot::device_channel(&secret, "broken", KeyEpoch(1));
    let r = channel.reserve();
    channel.reservation_saved(r).unwrap();
    let mut frame = Vec::new();
    channel
        .seal(MessageKind::Update, Codec::Protobuf, b"\xff\xff\xff not protobuf", at(0), &mut rng(1), &mut frame)
        .unwrap();
    let e = ingest.receive(&frame, at(0)).unwrap_err();
    assert!(matches!(e, IngestError::Rejected(Refusal::Malformed)));
    assert_eq!(ingest.counters().refused(Refusal::Malformed), 1);
}

#[test]
fn a_revoked_epoch_is_refused_while_the_device_stays() {
    let mut ingest = Ingest::new(master());
    let sender = ingest.provision(record("rotating")).unwrap();
    let frame = first_frame("rotating", at(0)).frame;
    ingest.revoke_epoch(sender, KeyEpoch(1)).unwrap();
    assert!(matches!(ingest.receive(&frame, at(0)), Err(IngestError::Rejected(Refusal::Revoked))));
    assert!(!ingest.registry().get(sender).unwrap().revoked);
}

/// The state a batch carries is shared with the device's receiver, which changes its state in
/// place on the next update: writes still held then keep the state they were made with.
#[test]
fn writes_held_past_the_next_update_keep_their_state() {
    let mut ingest = Ingest::new(master());
    ingest.provision(record("held")).unwrap();
    let mut a = agent("held", 1);
    let mut r = rng(4);
    let mut report = reading();
    let mut kept = Vec::new();
    for step in 0..3u32 {
        let now = at(u64::from(step) * 4 * 3_600_000);
        report.snapshot.consumables[0].level = Level::Amount(10 + step);
        a.handle_reading(now, report.clone());
        let t = pump(&mut a, now, &mut r).unwrap();
        let batch = ingest.receive(&t.frame, now).unwrap();
        let writes = batch.writes().clone();
        assert_eq!(writes.state.as_deref(), a.current());
        kept.push((writes, a.current().cloned()));
        let reply = ingest.commit(batch, now, &mut r).unwrap();
        a.handle_frame(now, &reply);
    }
    for (step, (writes, state)) in kept.iter().enumerate() {
        assert_eq!(writes.state.as_deref(), state.as_ref(), "step {step}");
    }
    assert_ne!(kept[0].1, kept[2].1);
}

#[test]
fn a_batch_carries_state_jobs_alerts_levels_and_observations() {
    let mut ingest = Ingest::new(master());
    ingest.provision(record("full")).unwrap();
    let mut a = agent("full", 1);
    let mut r = rng(3);
    let now = at(0);
    let mut report = reading();
    a.handle_reading(now, report.clone());
    a.handle_job(now, job(1, 4));
    let t = pump(&mut a, now, &mut r).unwrap();
    let batch = ingest.receive(&t.frame, now).unwrap();
    let w = batch.writes();
    assert_eq!(w.jobs.len(), 1);
    assert_eq!(w.job_records.len(), 1);
    assert_eq!(w.state.as_deref(), a.current());
    assert!(w.identity_changed.is_some(), "first contact records the identity");
    assert_eq!(w.levels.len(), report.snapshot.consumables.len());
    assert_eq!(w.observations.len(), report.snapshot.meters.0.len());
    assert_eq!(w.alerts_raised.len(), report.snapshot.alerts.len());
    let reply = ingest.commit(batch, now, &mut r).unwrap();
    a.handle_frame(now, &reply);

    // A delta: one level, one new alert, one cleared: exactly those.
    let later = at(4 * 3_600_000);
    report.snapshot.consumables[0].level = Level::Amount(3);
    let cleared = report.snapshot.alerts.first().map(|x| x.record_id);
    report.snapshot.alerts.clear();
    report.snapshot.alerts.push(Alert { record_id: RecordId(77), ..Alert::default() });
    a.handle_reading(later, report.clone());
    let t = pump(&mut a, later, &mut r).unwrap();
    let batch = ingest.receive(&t.frame, later).unwrap();
    let w = batch.writes();
    assert_eq!(w.levels, vec![(report.snapshot.consumables[0].record_id, Level::Amount(3))]);
    assert_eq!(w.alerts_raised.iter().map(|x| x.record_id).collect::<Vec<_>>(), vec![RecordId(77)]);
    assert_eq!(w.alerts_cleared, cleared.into_iter().collect::<Vec<_>>());
    assert!(w.identity_changed.is_none());
    assert!(w.jobs.is_empty(), "the job was acknowledged");
    assert_eq!(w.state.as_deref(), a.current());
}

#[test]
fn the_registry_answers_session_lookups_with_revocation() {
    let mut ingest = Ingest::new(master());
    let mut rec = record("session");
    let secret = DeviceSecret::from_bytes(&[7; 32]).unwrap();
    rec.credentials[0].verifier = Some(Verifier::new(&secret, &mut rng(1)));
    let sender = ingest.provision(rec).unwrap();
    assert!(matches!(ingest.registry().lookup("session", KeyEpoch(1)), Lookup::Found(_)));
    assert!(matches!(ingest.registry().lookup("session", KeyEpoch(2)), Lookup::Unknown));
    assert!(matches!(ingest.registry().lookup("nobody", KeyEpoch(1)), Lookup::Unknown));
    ingest.revoke(sender).unwrap();
    assert!(matches!(ingest.registry().lookup("session", KeyEpoch(1)), Lookup::Revoked));
}

#[test]
fn provisioning_refuses_duplicates_and_bad_names() {
    let mut ingest = Ingest::new(master());
    ingest.provision(record("dup")).unwrap();
    assert!(matches!(ingest.provision(record("dup")), Err(IngestError::AlreadyProvisioned(_))));
    assert!(matches!(ingest.provision(record("")), Err(IngestError::BadName { .. })));
    let long = "x".repeat(printfleet_ingest::MAX_DEVICE_NAME_BYTES + 1);
    assert!(matches!(ingest.provision(record(&long)), Err(IngestError::BadName { .. })));
}

#[test]
fn a_credential_past_the_limit_is_refused_and_changes_nothing() {
    let mut ingest = Ingest::new(master());
    let sender = ingest.provision(record("epochs")).unwrap();
    for e in 2..=printfleet_ingest::MAX_EPOCHS_PER_DEVICE as u32 {
        ingest.add_credential(sender, Credential { epoch: KeyEpoch(e), revoked: false, verifier: None }).unwrap();
    }
    let extra = Credential { epoch: KeyEpoch(99), revoked: false, verifier: None };
    assert!(matches!(ingest.add_credential(sender, extra), Err(IngestError::TooManyEpochs { .. })));
    let held = &ingest.registry().get(sender).unwrap().credentials;
    assert_eq!(held.len(), printfleet_ingest::MAX_EPOCHS_PER_DEVICE);
    assert!(held.iter().any(|c| c.epoch == KeyEpoch(1)));
    // Replacing an epoch held is not an addition.
    ingest.add_credential(sender, Credential { epoch: KeyEpoch(1), revoked: true, verifier: None }).unwrap();
    assert!(ingest.registry().get(sender).unwrap().credential(KeyEpoch(1)).unwrap().revoked);
}

/// What a batch hands printfleet-meter is accepted by it, once.
#[test]
fn observations_and_job_records_feed_the_meter_once() {
    use printfleet_meter::{Device, Meter, MeterConfig, ModelClass, Outcome, Terms};
    let mut meter = Meter::new(MeterConfig::default());
    let november = Timestamp::from_unix_millis(1_793_491_200_000).unwrap(); // 2026-11-01
    meter.add_contract(ContractId(3), Terms::default(), november).unwrap();
    let rec = record("metered");
    let device = Device { contract: ContractId(3), serial: "M1".into(), class: ModelClass::OFFICE };
    meter.add_device(rec.meter_device, device).unwrap();
    let mut ingest = Ingest::new(master());
    ingest.provision(rec).unwrap();
    let mut a = agent("metered", 1);
    let mut r = rng(4);
    a.handle_reading(at(0), reading());
    a.handle_job(at(0), job(1, 2));
    let t = pump(&mut a, at(0), &mut r).unwrap();
    let batch = ingest.receive(&t.frame, at(0)).unwrap();
    let w = batch.writes();
    assert!(!w.observations.is_empty());
    for o in &w.observations {
        assert_eq!(meter.observe(o).unwrap(), Outcome::Recorded);
        assert_eq!(meter.observe(o).unwrap(), Outcome::Duplicate);
    }
    for j in &w.job_records {
        assert_eq!(meter.record_job(j).unwrap(), Outcome::Recorded);
    }
}

#[test]
fn large_format_usage_becomes_ink_media_and_application_observations() {
    let mut ingest = Ingest::new(master());
    ingest.provision(record("plotter")).unwrap();
    let mut a = agent("plotter", 1);
    let mut r = rng(5);
    let now = at(0);
    let mut report = samples::large_format(0);
    a.handle_reading(now, report.clone());
    a.handle_job(now, job(1, 4));
    let t = pump(&mut a, now, &mut r).unwrap();
    let batch = ingest.receive(&t.frame, now).unwrap();
    let w = batch.writes();
    let value = |w: &Writes, c: &str| {
        let c: Category = c.parse().unwrap();
        w.observations.iter().find(|o| o.kind == c).map(|o| o.value)
    };
    assert_eq!(value(w, "total"), Some(12_730));
    assert_eq!(value(w, "ink:cyan"), Some(127_750_000));
    assert_eq!(value(w, "ink_third_party:matte_black"), Some(0));
    assert_eq!(value(w, "media_area:bond"), Some(2_315_000_000));
    assert_eq!(value(w, "app_area:cad"), Some(2_100_000_000));
    assert_eq!(value(w, "app_length:poster"), Some(692_800_000));
    assert_eq!(value(w, "area_mm2"), Some(2_733_500_000));
    // The job record carries ink per colour for the reconciliation, not only pages.
    let job_kinds: Vec<String> = w.job_records[0].usage.iter().map(|(c, _)| c.to_string()).collect();
    assert!(job_kinds.iter().any(|k| k.starts_with("ink:")), "{job_kinds:?}");
    assert!(job_kinds.iter().any(|k| k.starts_with("app_length:")), "{job_kinds:?}");
    let reply = ingest.commit(batch, now, &mut r).unwrap();
    a.handle_frame(now, &reply);

    // A delta in which one cartridge consumed more ink: the ink categories are observed again
    // (the meters, unchanged, are not).
    let later = at(3 * 3_600_000);
    let cyan = report.snapshot.cartridges.iter_mut().find(|c| c.colour == Some(Colour::Cyan)).unwrap();
    cyan.ink_consumed = Some(InkNl(127_750_000 + 1_500_000));
    a.handle_reading(later, report.clone());
    let t = pump(&mut a, later, &mut r).unwrap();
    let batch = ingest.receive(&t.frame, later).unwrap();
    let w = batch.writes();
    assert_eq!(value(w, "ink:cyan"), Some(129_250_000));
    assert_eq!(value(w, "total"), None);
}

#[test]
fn media_length_per_type_becomes_an_observation_through_the_frames() {
    let mut ingest = Ingest::new(master());
    ingest.provision(record("roll-plotter")).unwrap();
    let mut a = agent("roll-plotter", 1);
    let mut r = rng(6);
    let now = at(0);
    let mut report = samples::large_format(0);
    let usage = report.snapshot.usage.as_mut().unwrap();
    usage.media_types[0].length = Some(printfleet_schema::LengthUm(2_534_000_000));
    a.handle_reading(now, report.clone());
    let t = pump(&mut a, now, &mut r).unwrap();
    let batch = ingest.receive(&t.frame, now).unwrap();
    let value = |w: &Writes, c: &str| {
        let c: Category = c.parse().unwrap();
        w.observations.iter().find(|o| o.kind == c).map(|o| o.value)
    };
    assert_eq!(value(batch.writes(), "media_length:bond"), Some(2_534_000_000));
    assert_eq!(value(batch.writes(), "media_area:bond"), Some(2_315_000_000));
    // The coated roll reports no length: no series, not a zero.
    assert_eq!(value(batch.writes(), "media_length:coated"), None);
    let reply = ingest.commit(batch, now, &mut r).unwrap();
    a.handle_frame(now, &reply);

    // 1.2 m more of bond: the delta carries the usage record, the length is observed again.
    let later = at(3 * 3_600_000);
    report.snapshot.usage.as_mut().unwrap().media_types[0].length = Some(printfleet_schema::LengthUm(2_535_200_000));
    a.handle_reading(later, report);
    let t = pump(&mut a, later, &mut r).unwrap();
    let batch = ingest.receive(&t.frame, later).unwrap();
    assert_eq!(value(batch.writes(), "media_length:bond"), Some(2_535_200_000));
}
