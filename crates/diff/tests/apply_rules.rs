//! The rules of delta application that docs/wire-format.md §5.8 ("Applying a delta", "The
//! receiver") states, one test each: a delta applies whole or not at all; what does not apply;
//! where new meters and records go; what a duplicate update's Ack names.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use printfleet_diff::sync::{Agent, BaseRef, Instance, Receiver, Reply, StateHash, Update, UpdateBody};
use printfleet_diff::{ApplyError, Delta, DeviceState, MeterChange, Records, apply};
use printfleet_schema::{Alert, Consumable, Level, MeterKind, RecordId, Redaction, VendorMeter, samples};
use prost::Message as _;

fn office() -> DeviceState {
    DeviceState::from(&samples::office_laser())
}

fn vendor(name: &str) -> MeterKind {
    MeterKind::Vendor(VendorMeter::new(name).unwrap())
}

/// A receiver that has acknowledged `state` as update 1.
fn receiver_holding(state: &DeviceState) -> Receiver {
    let mut receiver = Receiver::new();
    let first = Update {
        instance: Instance(1),
        sequence: 1,
        body: UpdateBody::Full(Box::new(state.clone())),
        events: Vec::new(),
    };
    assert!(matches!(receiver.receive(&first), Reply::Ack { .. }));
    receiver
}

fn delta_on(base: &DeviceState, sequence: u64, delta: Delta) -> Update {
    let base = BaseRef { sequence: sequence - 1, hash: StateHash::of(base) };
    Update {
        instance: Instance(1),
        sequence,
        body: UpdateBody::Delta { base, delta: Box::new(delta) },
        events: Vec::new(),
    }
}

/// One part that does not apply refuses the whole delta: the parts that would apply (here a new
/// identity, a level and a meter) are not applied either, and the receiver keeps its state.
#[test]
fn a_delta_applies_whole_or_not_at_all() {
    let base = office();
    let mut identity = base.identity.clone();
    identity.hostname = Some("renamed".into());
    let mut delta =
        Delta { identity: Some(identity), levels: vec![(RecordId(1), Level::Amount(5))], ..Delta::default() };
    delta.meters.insert(MeterKind::TOTAL, MeterChange::Increase(1));
    // The last list changed names an accessory the base does not have.
    delta.accessories = Records { removals: vec![RecordId(4242)], ..Records::default() };
    assert_eq!(apply(&base, &delta), Err(ApplyError::MissingRecord { list: "accessories", record: RecordId(4242) }));

    let mut receiver = receiver_holding(&base);
    let reply = receiver.receive(&delta_on(&base, 2, delta.clone()));
    assert!(matches!(reply, Reply::Resync { .. }), "{reply:?}");
    assert_eq!(receiver.state(), Some(&base), "nothing of the refused delta was kept");

    // Without the bad part the same delta applies.
    delta.accessories = Records::default();
    let applied = apply(&base, &delta).unwrap();
    assert_eq!(applied.identity.hostname.as_deref(), Some("renamed"));
}

/// A removal of a meter the base does not have does not apply (like an increase of one).
#[test]
fn removing_a_meter_the_base_lacks_does_not_apply() {
    let mut base = office();
    base.snapshot.meters.0.remove(&MeterKind::FAX);
    let mut delta = Delta::default();
    delta.meters.insert(MeterKind::FAX, MeterChange::Remove);
    assert_eq!(apply(&base, &delta), Err(ApplyError::Meter { kind: MeterKind::FAX }));
    // On a base that has it, it applies.
    assert!(apply(&office(), &delta).unwrap().snapshot.meters.get(&MeterKind::FAX).is_none());
    // A set of a meter the base lacks adds it.
    delta.meters.insert(MeterKind::FAX, MeterChange::Set(3));
    assert_eq!(apply(&base, &delta).unwrap().snapshot.meters.get(&MeterKind::FAX), Some(3));
}

/// Meters have no order of their own: a meter a delta adds takes its place in the canonical
/// order (standard kinds by code, then vendor meters by name, bytewise), in the state and so in
/// its encoding and hash.
#[test]
fn a_newly_set_meter_takes_its_canonical_place() {
    let mut base = office();
    base.snapshot.meters.0.clear();
    base.snapshot.meters.set(MeterKind::COLOUR, 10);
    base.snapshot.meters.set(vendor("b"), 1);
    let mut delta = Delta::default();
    for kind in [vendor("B"), vendor("a"), "9".parse().unwrap(), MeterKind::TOTAL] {
        delta.meters.insert(kind, MeterChange::Set(7));
    }
    let after = apply(&base, &delta).unwrap();

    let mut bytes = Vec::new();
    let report = printfleet_schema::DeviceReport {
        identity: after.identity.clone(),
        snapshot: after.snapshot.clone(),
        ..Default::default()
    };
    printfleet_wire::protobuf::encode(&report, &mut bytes).unwrap();
    let decoded = printfleet_wire::pb::DeviceReport::decode(bytes.as_slice()).unwrap();
    let order: Vec<(u32, String)> = decoded.snapshot.unwrap().meters.into_iter().map(|m| (m.kind, m.vendor)).collect();
    let want: Vec<(u32, String)> =
        [(1, ""), (3, ""), (9, ""), (0, "B"), (0, "a"), (0, "b")].iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    assert_eq!(order, want);
}

/// Levels apply to the base's consumables, before the delta's consumable removals and upserts:
/// a level cannot name a consumable the same delta adds.
#[test]
fn levels_apply_before_the_consumable_list_changes() {
    let base = office();
    let added = Consumable { record_id: RecordId(77), level: Level::Amount(50), ..Consumable::default() };
    let delta = Delta {
        levels: vec![(RecordId(77), Level::Amount(40))],
        consumables: Records { upserts: vec![added], ..Records::default() },
        ..Delta::default()
    };
    assert_eq!(apply(&base, &delta), Err(ApplyError::MissingRecord { list: "consumables", record: RecordId(77) }));
}

/// Upserts replace a record with the same id where it stands; other upserts are appended in the
/// order the delta lists them (removals first, so a removed id can come back at the end).
#[test]
fn upserts_replace_in_place_and_append_new_records_in_order() {
    let mut base = office();
    base.snapshot.alerts = [1, 2, 3].map(|id| Alert { record_id: RecordId(id), ..Alert::default() }).to_vec();
    let changed = Alert { record_id: RecordId(2), description: Some("changed".into()), ..Alert::default() };
    let delta = Delta {
        alerts: Records {
            upserts: vec![
                Alert { record_id: RecordId(90), ..Alert::default() },
                changed.clone(),
                Alert { record_id: RecordId(80), ..Alert::default() },
                Alert { record_id: RecordId(1), ..Alert::default() },
            ],
            removals: vec![RecordId(1)],
            order: None,
        },
        ..Delta::default()
    };
    let after = apply(&base, &delta).unwrap();
    let ids: Vec<u64> = after.snapshot.alerts.iter().map(|a| a.record_id.0).collect();
    assert_eq!(ids, [2, 3, 90, 80, 1]);
    assert_eq!(after.snapshot.alerts[0], changed);
}

/// An order must name every id of the resulting list exactly once.
#[test]
fn an_order_that_is_not_a_permutation_does_not_apply() {
    let base = office();
    let ids: Vec<RecordId> = base.snapshot.consumables.iter().map(|c| c.record_id).collect();
    let with = |order: Vec<RecordId>| Delta {
        consumables: Records { order: Some(order), ..Records::default() },
        ..Delta::default()
    };
    let mut reversed = ids.clone();
    reversed.reverse();
    assert!(apply(&base, &with(reversed)).is_ok());
    let mut twice = ids.clone();
    twice[1] = twice[0];
    let short = ids[1..].to_vec();
    let mut unknown = ids.clone();
    unknown[0] = RecordId(999);
    for bad in [twice, short, unknown] {
        assert_eq!(apply(&base, &with(bad)), Err(ApplyError::Order { list: "consumables" }));
    }
}

/// A duplicate, or an update older than the receiver's newest state, is not applied and is
/// answered with an Ack of the receiver's newest state (its sequence number and hash), not of
/// the update it received.
#[test]
fn a_duplicate_update_is_acknowledged_with_the_newest_state() {
    let mut state = office();
    let (mut agent, mut receiver) = (Agent::new(Instance(1)), Receiver::new());
    let policy = Redaction::keep_all();
    let first = agent.update(&policy.apply_to(state.clone()));
    agent.on_reply(&receiver.receive(&first));
    state.snapshot.consumables[0].level = Level::Amount(10);
    let second = agent.update(&policy.apply_to(state.clone()));
    agent.on_reply(&receiver.receive(&second));
    state.snapshot.consumables[0].level = Level::Amount(9);
    let third = agent.update(&policy.apply_to(state.clone()));
    let newest = receiver.receive(&third);
    let want = Reply::Ack {
        instance: Instance(1),
        state: BaseRef { sequence: 3, hash: StateHash::of(&state) },
        events_through: 0,
    };
    assert_eq!(newest, want);
    for old in [&second, &first, &third] {
        assert_eq!(receiver.receive(old), want, "update {} again", old.sequence);
        assert_eq!(receiver.state(), Some(&state));
    }
    // The agent takes such an Ack in its stride: it goes on with deltas.
    agent.on_reply(&receiver.receive(&second));
    agent.on_reply(&newest);
    assert!(matches!(agent.update(&policy.apply_to(state)).body, UpdateBody::Delta { .. }));
}

/// Usage travels whole: a change of `MediaTypeUsage::length` alone (an optional field added
/// within version 1) is a usage change, and applying it gives the new state.
#[test]
fn a_media_length_change_alone_travels_as_a_usage_change() {
    let base = DeviceState::from(&samples::large_format(1));
    let mut new = base.clone();
    new.snapshot.usage.as_mut().unwrap().media_types[0].length = Some(printfleet_schema::LengthUm(5_000_000));
    let delta = printfleet_diff::diff(&base, &new);
    assert_eq!(delta.usage, Some(new.snapshot.usage.clone()));
    assert_eq!(apply(&base, &delta).unwrap(), new);
    assert_ne!(StateHash::of(&base), StateHash::of(&new));
}
