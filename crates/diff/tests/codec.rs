//! The protobuf and XML encodings of updates and replies: round trips over the schema's
//! strategies, golden vectors, the steady-state size target, and hostile input.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::path::PathBuf;

use printfleet_diff::sync::{BaseRef, Instance, Reply, StateHash, Update, UpdateBody};
use printfleet_diff::{Delta, DeviceState, diff};
use printfleet_schema::{Alert, DeviceReport, JobHeader, Level, MeterKind, PrintJob, RecordId, samples};
use printfleet_wire::{Error, protobuf, xml};
use proptest::prelude::*;

fn state() -> impl Strategy<Value = DeviceState> {
    any::<DeviceReport>().prop_map(|r| DeviceState::from(&r))
}

fn events() -> impl Strategy<Value = Vec<(u64, PrintJob)>> {
    prop::collection::vec((any::<u64>(), any::<PrintJob>()), 0..3).prop_map(|mut events| {
        // Job UUIDs are unique within a report, and so within an update.
        events.sort_by_key(|(_, j)| j.job.uuid);
        events.dedup_by_key(|(_, j)| j.job.uuid);
        events
    })
}

/// Updates as an agent sends them: full states, and deltas between arbitrary states.
fn update() -> impl Strategy<Value = Update> {
    (state(), state(), any::<bool>(), 1u64..u64::MAX, any::<u64>(), any::<u32>(), events(), any::<u32>()).prop_map(
        |(a, b, full, sequence, back, hash, events, instance)| {
            let body = if full {
                UpdateBody::Full(Box::new(b))
            } else {
                let base = BaseRef { sequence: back % sequence, hash: StateHash(hash) };
                UpdateBody::Delta { base, delta: Box::new(diff(&a, &b)) }
            };
            Update { instance: Instance(instance), sequence, body, events }
        },
    )
}

fn reply() -> impl Strategy<Value = Reply> {
    (any::<bool>(), any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>()).prop_map(
        |(ack, events_through, sequence, hash, instance)| {
            if ack {
                Reply::Ack {
                    instance: Instance(instance),
                    state: BaseRef { sequence, hash: StateHash(hash) },
                    events_through,
                }
            } else {
                Reply::Resync { instance: Instance(instance), events_through }
            }
        },
    )
}

fn pb_update(u: &Update) -> Vec<u8> {
    let mut out = Vec::new();
    protobuf::encode_update(u, &mut out).unwrap();
    out
}

fn xml_update(u: &Update) -> Vec<u8> {
    let mut out = Vec::new();
    xml::encode_update(u, &mut out).unwrap();
    out
}

fn pb_reply(r: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    protobuf::encode_reply(r, &mut out).unwrap();
    out
}

fn xml_reply(r: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    xml::encode_reply(r, &mut out).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn updates_round_trip_in_both_codecs(u in update()) {
        let bytes = pb_update(&u);
        let back = protobuf::decode_update(&bytes).unwrap();
        prop_assert_eq!(&back, &u);
        prop_assert_eq!(pb_update(&back), bytes);

        let text = xml_update(&u);
        let back = xml::decode_update(&text).unwrap();
        prop_assert_eq!(&back, &u);
        prop_assert_eq!(xml_update(&back), text);
    }

    #[test]
    fn replies_round_trip_in_both_codecs(r in reply()) {
        prop_assert_eq!(protobuf::decode_reply(&pb_reply(&r)).unwrap(), r);
        prop_assert_eq!(xml::decode_reply(&xml_reply(&r)).unwrap(), r);
    }

    /// prost's generated decoder reads what ours writes the same way: every field lands where
    /// the `.proto` says (decode with prost, encode with prost, compare bytes).
    #[test]
    fn the_encoding_is_what_the_proto_says(u in update()) {
        use prost::Message as _;
        let bytes = pb_update(&u);
        let generated = printfleet_wire::pb::Update::decode(bytes.as_slice()).unwrap();
        prop_assert_eq!(generated.encode_to_vec(), bytes);
    }
}

/// The office printer a report later: 4 toner levels and 3 meters moved, as SDS polls them.
fn steady_state() -> (DeviceState, DeviceState) {
    let a = DeviceState::from(&samples::office_laser());
    let mut b = a.clone();
    for (c, level) in b.snapshot.consumables.iter_mut().zip([62, 7, 40, 70]) {
        c.level = Level::Amount(level);
    }
    for (kind, pages) in [(MeterKind::TOTAL, 57), (MeterKind::MONO, 31), (MeterKind::COLOUR, 26)] {
        let v = b.snapshot.meters.get(&kind).unwrap();
        b.snapshot.meters.set(kind, v + pages);
    }
    (a, b)
}

fn steady_update() -> Update {
    let (a, b) = steady_state();
    let delta = diff(&a, &b);
    assert_eq!((delta.levels.len(), delta.meters.len()), (4, 3));
    // A device that has reported every 3 hours for five years.
    let base = BaseRef { sequence: 14_599, hash: StateHash::of(&a) };
    let body = UpdateBody::Delta { base, delta: Box::new(delta) };
    Update { instance: GOLDEN_INSTANCE, sequence: 14_600, body, events: Vec::new() }
}

/// The instance of the golden updates (a random one takes the same 5 bytes of protobuf).
const GOLDEN_INSTANCE: Instance = Instance(0x5eed_cafe);

/// Issue target: a steady-state delta with 4 levels and 3 meters changed is at most 40 bytes of
/// protobuf before framing.
#[test]
fn a_steady_state_delta_is_at_most_40_bytes() {
    let bytes = pb_update(&steady_update());
    assert!(bytes.len() <= 40, "{} bytes: {bytes:02x?}", bytes.len());
    // Far beyond the sample's values (levels in the thousands, a 2-million-page sequence) it
    // still fits.
    let mut u = steady_update();
    u.sequence = 2_000_000;
    if let UpdateBody::Delta { base, delta } = &mut u.body {
        base.sequence = 1_999_999;
        for (_, level) in &mut delta.levels {
            *level = Level::Amount(8000);
        }
    }
    let bytes = pb_update(&u);
    assert!(bytes.len() <= 46, "{} bytes", bytes.len());
}

fn job(n: u8) -> PrintJob {
    let mut job = PrintJob { job: JobHeader::default(), ..PrintJob::default() };
    job.job.uuid = uuid::Uuid::from_bytes([n; 16]);
    job.job.sequence = u64::from(n);
    job.print.pages = printfleet_schema::PageCount(u64::from(n) * 2);
    job
}

/// The golden updates: what each one shows is in its name.
fn golden_cases() -> Vec<(&'static str, Update, Vec<Reply>)> {
    let office = DeviceState::from(&samples::office_laser());
    let full = Update {
        instance: GOLDEN_INSTANCE,
        sequence: 1,
        body: UpdateBody::Full(Box::new(office.clone())),
        events: vec![(1, job(1))],
    };

    // Every part of a delta at once, on the large-format printer: identity, status, a level, a
    // meter grown, one reset and a vendor meter gone, an alert raised, a consumable added, a
    // printhead replaced and one removed, the cartridges reordered, a roll unloaded, an
    // accessory removed, media types, settings and usage (dropped).
    let large = DeviceState::from(&samples::large_format(0));
    let mut changed = large.clone();
    let s = &mut changed.snapshot;
    changed.identity.hostname = Some("plotter-7".into());
    s.status.errors = printfleet_schema::DetectedErrors::from_bits(0x0040);
    s.meters.set(MeterKind::TOTAL, 3);
    let mono = s.meters.get(&MeterKind::MONO).unwrap_or(0);
    s.meters.set(MeterKind::MONO, mono + 5);
    let vendor = s.meters.0.keys().find(|k| matches!(k, MeterKind::Vendor(_))).cloned();
    if let Some(kind) = vendor {
        s.meters.0.remove(&kind);
    }
    s.alerts.push(Alert { record_id: RecordId(99), description: Some("Cyan ink low".into()), ..Alert::default() });
    s.consumables.push(printfleet_schema::Consumable {
        record_id: RecordId(50),
        description: Some("Maintenance cartridge".into()),
        level: Level::Amount(80),
        capacity: printfleet_schema::Capacity::Amount(100),
        ..printfleet_schema::Consumable::default()
    });
    s.printheads[0].serial_number = Some("NEW-HEAD-1".into());
    s.printheads.pop();
    s.cartridges.reverse();
    s.media_sources[1].status = printfleet_schema::codes::MediaSourceStatus::UNLOADED;
    s.accessories.clear();
    s.media_types.pop();
    s.settings.print_categories[1].enabled = false;
    s.usage = None;
    let every_part = diff(&large, &changed);
    let every = Update {
        instance: GOLDEN_INSTANCE,
        sequence: 42,
        body: UpdateBody::Delta {
            base: BaseRef { sequence: 40, hash: StateHash::of(&large) },
            delta: Box::new(every_part),
        },
        events: vec![(7, job(7)), (8, job(8))],
    };
    // The receiver's answer to `update_steady`: it names the state the delta produced, by its
    // real hash (testdata/update_steady.state-hash.txt, `after_hash`).
    let after_steady = StateHash::of(&steady_state().1);
    let acks = vec![
        Reply::Ack {
            instance: GOLDEN_INSTANCE,
            state: BaseRef { sequence: 14_600, hash: after_steady },
            events_through: 12,
        },
        Reply::Resync { instance: GOLDEN_INSTANCE, events_through: 12 },
    ];
    vec![
        ("update_full", full, Vec::new()),
        ("update_steady", steady_update(), acks),
        ("update_every_part", every, Vec::new()),
    ]
}

/// The encodings are pinned by the files in `testdata/`: a wire change has to change them on
/// purpose (`PRINTFLEET_BLESS=1 cargo test -p printfleet-diff --test codec golden`).
#[test]
fn golden_updates_and_replies_are_stable() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let bless = std::env::var_os("PRINTFLEET_BLESS").is_some();
    let check = |name: String, bytes: Vec<u8>| {
        let path = dir.join(&name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else {
            let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(want == bytes, "{name} changed; bless it if the change is meant");
        }
    };
    for (name, update, replies) in golden_cases() {
        let pb = pb_update(&update);
        assert_eq!(protobuf::decode_update(&pb).unwrap(), update);
        check(format!("{name}.pb"), pb);
        let text = xml_update(&update);
        assert_eq!(xml::decode_update(&text).unwrap(), update);
        check(format!("{name}.xml"), text);
        for reply in replies {
            let kind = if matches!(reply, Reply::Ack { .. }) { "ack" } else { "resync" };
            check(format!("reply_{kind}.pb"), pb_reply(&reply));
            check(format!("reply_{kind}.xml"), xml_reply(&reply));
        }
    }
}

/// For CI: writes the XML of arbitrary updates and replies to `$PRINTFLEET_XSD_DIR` for xmllint
/// to validate against the published XSD.
#[test]
#[ignore = "run by .ci/run with PRINTFLEET_XSD_DIR set"]
fn write_arbitrary_update_xml_for_xsd_validation() {
    use proptest::strategy::ValueTree as _;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let dir = PathBuf::from(std::env::var_os("PRINTFLEET_XSD_DIR").expect("set PRINTFLEET_XSD_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    for i in 0..32 {
        let u = update().new_tree(&mut runner).unwrap().current();
        std::fs::write(dir.join(format!("update-{i}.xml")), xml_update(&u)).unwrap();
        let r = reply().new_tree(&mut runner).unwrap().current();
        std::fs::write(dir.join(format!("reply-{i}.xml")), xml_reply(&r)).unwrap();
    }
}

fn pb_rejects(bytes: &[u8]) -> Error {
    protobuf::decode_update(bytes).expect_err("accepted a bad update")
}

#[test]
fn hostile_protobuf_updates_are_refused() {
    use printfleet_wire::pb;
    use prost::Message as _;
    let good = pb::Update::decode(pb_update(&steady_update()).as_slice()).unwrap();
    let Some(pb::update::Body::Delta(delta)) = good.body.clone() else { panic!("not a delta") };

    // Parallel lists of different lengths.
    let mut d = delta.clone();
    d.levels.pop();
    let u = pb::Update { body: Some(pb::update::Body::Delta(d)), ..good.clone() };
    assert!(matches!(pb_rejects(&u.encode_to_vec()), Error::Protobuf(_)));

    // A base that is not earlier, and one before the first update.
    for back in [0, good.sequence + 1] {
        let d = pb::Delta { base_back: back, ..delta.clone() };
        let u = pb::Update { body: Some(pb::update::Body::Delta(d)), ..good.clone() };
        assert!(matches!(pb_rejects(&u.encode_to_vec()), Error::Protobuf(_)), "base_back {back}");
    }

    // A meter twice, once in the packed lists and once as a change.
    let mut d = delta.clone();
    d.meters.push(pb::MeterChange {
        kind: d.meter_kinds[0],
        vendor: String::new(),
        change: Some(pb::meter_change::Change::Set(1)),
    });
    let u = pb::Update { body: Some(pb::update::Body::Delta(d)), ..good.clone() };
    assert!(matches!(pb_rejects(&u.encode_to_vec()), Error::Protobuf(_)));

    // More level changes than any list may hold, packed in a few kilobytes.
    let mut d = delta.clone();
    d.level_records = (0..=printfleet_schema::limits::MAX_RECORDS as u64).collect();
    d.levels = vec![1; d.level_records.len()];
    let u = pb::Update { body: Some(pb::update::Body::Delta(d)), ..good.clone() };
    assert!(matches!(pb_rejects(&u.encode_to_vec()), Error::Protobuf(_)));

    // No body; both bodies (one after the other on the wire).
    let u = pb::Update { body: None, ..good.clone() };
    assert!(matches!(pb_rejects(&u.encode_to_vec()), Error::Protobuf(_)));
    let full = pb::Update { body: Some(pb::update::Body::Full(pb::State::default())), ..good.clone() };
    let mut both = full.encode_to_vec();
    both.extend_from_slice(&pb::Update { sequence: 0, events: Vec::new(), ..good.clone() }.encode_to_vec());
    assert!(matches!(pb_rejects(&both), Error::Protobuf(_)));

    // A record the schema forbids (a control character in an alert), caught by validation.
    let mut d = delta.clone();
    d.alerts = Some(pb::AlertChanges {
        upserts: vec![pb::Alert { record_id: 5, description: Some("bell\u{7}".into()), ..pb::Alert::default() }],
        ..pb::AlertChanges::default()
    });
    let u = pb::Update { body: Some(pb::update::Body::Delta(d)), ..good.clone() };
    assert!(matches!(pb_rejects(&u.encode_to_vec()), Error::Invalid(_)));

    // And the unchanged message still decodes, so the failures above are the changes'.
    assert!(protobuf::decode_update(&good.encode_to_vec()).is_ok());
    // Replies: neither answer, and a resync that says false.
    assert!(protobuf::decode_reply(&pb::Reply { events_through: 3, kind: None, instance: 1 }.encode_to_vec()).is_err());
    let no = pb::Reply { events_through: 3, kind: Some(pb::reply::Kind::Resync(false)), instance: 1 };
    assert!(protobuf::decode_reply(&no.encode_to_vec()).is_err());
}

#[test]
fn hostile_xml_updates_are_refused() {
    let good = String::from_utf8(xml_update(&steady_update())).unwrap();
    assert!(xml::decode_update(good.as_bytes()).is_ok());
    for (what, bad) in [
        ("a hash that is not 8 hex digits", good.replacen("base_hash=\"", "base_hash=\"0", 1)),
        ("a level change without a level", good.replacen(" level=\"62\"", "", 1)),
        ("a meter with two changes", good.replacen("increase=\"57\"", "increase=\"57\" set=\"1\"", 1)),
        ("a second body", good.replacen("</update>", "<full/></update>", 1)),
        ("a foreign element", good.replacen("</delta>", "<x xmlns=\"urn:other\"/></delta>", 1)),
        ("a DTD", format!("<!DOCTYPE update>{good}")),
        ("an instance that is not 8 hex digits", good.replacen("instance=\"5eedcafe\"", "instance=\"5eedcaf\"", 1)),
        ("an upper-case instance", good.replacen("instance=\"5eedcafe\"", "instance=\"5EEDCAFE\"", 1)),
        (
            "a report where an update belongs",
            good.replacen("<update", "<report", 1).replacen("</update>", "</report>", 1),
        ),
    ] {
        assert!(xml::decode_update(bad.as_bytes()).is_err(), "accepted {what}: {bad}");
    }
    let reply = String::from_utf8(xml_reply(&Reply::Resync { instance: GOLDEN_INSTANCE, events_through: 1 })).unwrap();
    assert!(xml::decode_reply(reply.as_bytes()).is_ok());
    let both = reply.replacen("<resync/>", "<resync/><ack sequence=\"1\" hash=\"00000000\"/>", 1);
    assert!(xml::decode_reply(both.as_bytes()).is_err());
}

#[test]
fn an_empty_delta_is_a_few_bytes_and_a_full_state_is_a_report_without_time() {
    let a = DeviceState::from(&samples::office_laser());
    let base = BaseRef { sequence: 1, hash: StateHash::of(&a) };
    let body = UpdateBody::Delta { base, delta: Box::new(Delta::default()) };
    let idle = Update { instance: GOLDEN_INSTANCE, sequence: 2, body, events: Vec::new() };
    assert!(pb_update(&idle).len() <= 17, "12 bytes and the instance's 5");
    let body = UpdateBody::Full(Box::new(a.clone()));
    let full = Update { instance: GOLDEN_INSTANCE, sequence: 1, body, events: Vec::new() };
    let report = DeviceReport { identity: a.identity.clone(), snapshot: a.snapshot.clone(), ..DeviceReport::default() };
    let report_bytes = printfleet_wire::Codec::Protobuf.encode_to_vec(&report).unwrap();
    // Update{1: 1, 2: State{...}, 5: instance} against DeviceReport{1: 0 omitted, 2: Identity,
    // 3: Snapshot}.
    assert!(pb_update(&full).len() <= report_bytes.len() + 11);
}

/// The instance travels in both codecs, in updates and replies; absent, it is instance 0.
#[test]
fn the_instance_travels_and_defaults_to_zero() {
    let u = steady_update();
    assert_eq!(protobuf::decode_update(&pb_update(&u)).unwrap().instance, GOLDEN_INSTANCE);
    assert_eq!(xml::decode_update(&xml_update(&u)).unwrap().instance, GOLDEN_INSTANCE);
    let text = String::from_utf8(xml_update(&u)).unwrap().replacen(" instance=\"5eedcafe\"", "", 1);
    assert_eq!(xml::decode_update(text.as_bytes()).unwrap().instance, Instance(0));
    let zero = Update { instance: Instance(0), ..u };
    assert_eq!(protobuf::decode_update(&pb_update(&zero)).unwrap(), zero);
    let r = Reply::Resync { instance: GOLDEN_INSTANCE, events_through: 4 };
    assert_eq!(protobuf::decode_reply(&pb_reply(&r)).unwrap().instance(), GOLDEN_INSTANCE);
    assert_eq!(xml::decode_reply(&xml_reply(&r)).unwrap().instance(), GOLDEN_INSTANCE);
}
