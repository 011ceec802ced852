//! `apply(a, diff(a, b)) == b` over the schema's strategies, and the compact forms of common changes.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use printfleet_diff::sync::StateHash;
use printfleet_diff::{ApplyError, DeviceState, MeterChange, apply, apply_in_place, diff};
use printfleet_schema::{Alert, Level, MeterKind, RecordId, samples};
use proptest::prelude::*;

fn state() -> impl Strategy<Value = DeviceState> {
    any::<printfleet_schema::DeviceReport>().prop_map(|r| DeviceState::from(&r))
}

/// A state and a nearby one: the same device a report later (levels, meters, alerts, order moved).
fn nearby() -> impl Strategy<Value = (DeviceState, DeviceState)> {
    (state(), any::<u64>(), any::<prop::sample::Index>(), 0u8..6).prop_map(|(a, seed, index, what)| {
        let mut b = a.clone();
        let s = &mut b.snapshot;
        match what {
            0 if !s.consumables.is_empty() => {
                let i = index.index(s.consumables.len());
                s.consumables[i].level = Level::Amount((seed % 1000) as u32);
            }
            1 => {
                for v in s.meters.0.values_mut() {
                    *v = v.saturating_add(seed % 50);
                }
            }
            2 if !s.alerts.is_empty() => {
                s.alerts.remove(index.index(s.alerts.len()));
            }
            3 => s.alerts.push(Alert { record_id: RecordId(seed | 1 << 63), ..Default::default() }),
            4 if s.consumables.len() > 1 => s.consumables.reverse(),
            _ => b.identity.hostname = Some(format!("host-{seed}")),
        }
        b.snapshot.alerts.dedup_by_key(|a| a.record_id);
        (a, b)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn apply_of_diff_gives_the_new_state(a in state(), b in state()) {
        let delta = diff(&a, &b);
        prop_assert_eq!(apply(&a, &delta).unwrap(), b);
    }

    #[test]
    fn apply_of_diff_between_nearby_states(pair in nearby()) {
        let (a, b) = pair;
        let delta = diff(&a, &b);
        prop_assert_eq!(apply(&a, &delta).unwrap(), b.clone());
        let mut work = a.clone();
        apply_in_place(&mut work, &delta).unwrap();
        prop_assert_eq!(work, b);
    }

    #[test]
    fn nothing_changed_means_an_empty_delta(a in state()) {
        prop_assert!(diff(&a, &a).is_empty());
        prop_assert_eq!(apply(&a, &diff(&a, &a)).unwrap(), a);
    }
}

#[test]
fn steady_state_changes_take_their_compact_forms() {
    let a = DeviceState::from(&samples::office_laser());
    let mut b = a.clone();
    for (i, level) in [(0, 60), (1, 7), (2, 40), (3, 55)] {
        b.snapshot.consumables[i].level = Level::Amount(level);
    }
    for (kind, by) in [(MeterKind::TOTAL, 30), (MeterKind::MONO, 20), (MeterKind::COLOUR, 10)] {
        let v = b.snapshot.meters.get(&kind).unwrap();
        b.snapshot.meters.set(kind, v + by);
    }
    let d = diff(&a, &b);
    assert_eq!(d.levels.len(), 4);
    assert_eq!(
        d.meters,
        [
            (MeterKind::TOTAL, MeterChange::Increase(30)),
            (MeterKind::MONO, MeterChange::Increase(20)),
            (MeterKind::COLOUR, MeterChange::Increase(10)),
        ]
        .into_iter()
        .collect::<std::collections::BTreeMap<_, _>>()
    );
    assert!(d.consumables.is_empty() && d.identity.is_none() && d.status.is_none() && d.alerts.is_empty());
    assert_eq!(apply(&a, &d).unwrap(), b);
}

#[test]
fn resets_new_and_vanished_meters_are_sets_and_removals() {
    let a = DeviceState::from(&samples::office_laser());
    let mut b = a.clone();
    b.snapshot.meters.set(MeterKind::TOTAL, 5);
    b.snapshot.meters.0.remove(&MeterKind::FAX);
    let kind = MeterKind::Vendor(printfleet_schema::VendorMeter::new("x.y").unwrap());
    b.snapshot.meters.set(kind.clone(), 9);
    let d = diff(&a, &b);
    assert_eq!(d.meters.get(&MeterKind::TOTAL), Some(&MeterChange::Set(5)));
    assert_eq!(d.meters.get(&MeterKind::FAX), Some(&MeterChange::Remove));
    assert_eq!(d.meters.get(&kind), Some(&MeterChange::Set(9)));
    assert_eq!(apply(&a, &d).unwrap(), b);
}

#[test]
fn alerts_raised_and_cleared_travel_as_upserts_and_removals() {
    let a = DeviceState::from(&samples::office_laser());
    let mut b = a.clone();
    let cleared = b.snapshot.alerts.remove(0).record_id;
    b.snapshot.alerts.push(Alert {
        record_id: RecordId(99),
        description: Some("Tray 2 open".into()),
        ..Default::default()
    });
    let d = diff(&a, &b);
    assert_eq!(d.alerts.removals, vec![cleared]);
    assert_eq!(d.alerts.upserts.len(), 1);
    assert_eq!(d.alerts.order, None, "new records at the end need no order");
    assert_eq!(apply(&a, &d).unwrap(), b);
}

#[test]
fn a_delta_for_another_base_is_refused() {
    let a = DeviceState::from(&samples::office_laser());
    let mut b = a.clone();
    b.snapshot.alerts.clear();
    b.snapshot.consumables[0].level = Level::Amount(1);
    let d = diff(&a, &b);
    let other = DeviceState::from(&samples::inkjet());
    let err = apply(&other, &d).unwrap_err();
    assert!(matches!(err, ApplyError::MissingRecord { .. }), "{err:?}");
    let mut c = a.clone();
    c.snapshot.meters.0.clear();
    let mut grow = a.clone();
    grow.snapshot.meters.set(MeterKind::TOTAL, grow.snapshot.meters.get(&MeterKind::TOTAL).unwrap() + 1);
    assert!(matches!(apply(&c, &diff(&a, &grow)), Err(ApplyError::Meter { .. })));
}

/// A delta that fails late (after its identity, meters and levels applied) leaves the state
/// exactly as it was: `apply_in_place` puts back what it changed before the failing part.
#[test]
fn a_delta_that_fails_part_way_leaves_the_state_untouched() {
    let a = DeviceState::from(&samples::office_laser());
    let mut b = a.clone();
    b.identity.hostname = Some("moved".into());
    b.snapshot.consumables[0].level = Level::Amount(3);
    b.snapshot.meters.set(MeterKind::TOTAL, b.snapshot.meters.get(&MeterKind::TOTAL).unwrap() + 5);
    b.snapshot.meters.set("vendor:acme.new".parse().unwrap(), 9);
    b.snapshot.consumables.push(printfleet_schema::Consumable { record_id: RecordId(77), ..Default::default() });
    let mut delta = diff(&a, &b);
    assert!(delta.identity.is_some() && !delta.levels.is_empty() && !delta.consumables.upserts.is_empty());
    // Fails at the last list, after everything else was applied.
    delta.accessories.removals.push(RecordId(4242));
    let mut work = a.clone();
    let err = apply_in_place(&mut work, &delta).unwrap_err();
    assert!(matches!(err, ApplyError::MissingRecord { list: "accessories", .. }), "{err:?}");
    assert_eq!(work, a);
    assert_eq!(StateHash::of(&work), StateHash::of(&a));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any delta on any state: applied in place it gives what `apply` gives, or an error and the
    /// state untouched.
    #[test]
    fn apply_in_place_is_all_or_nothing(a in state(), b in state(), c in state(), spoil in any::<bool>()) {
        let mut delta = if spoil { diff(&b, &c) } else { diff(&a, &c) };
        if spoil {
            // Make a late failure likely even when b and a share record ids.
            delta.media_sources.removals.push(RecordId(u64::MAX));
        }
        let mut work = a.clone();
        match apply_in_place(&mut work, &delta) {
            Ok(()) => prop_assert_eq!(Ok(work), apply(&a, &delta)),
            Err(e) => {
                prop_assert_eq!(&work, &a, "{:?}", e);
                prop_assert!(apply(&a, &delta).is_err());
            }
        }
    }
}
