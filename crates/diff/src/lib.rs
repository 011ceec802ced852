//! Change detection for printfleet telemetry: the smallest description of how a device's state
//! changed, and its exact application.
//!
//! SDS sends identifier data "only once unless a change is detected, then the changed data is
//! sent". This crate generalises that to the whole state a device reports — identity and every
//! part of the snapshot — so that a receiver holding the state an agent last sent can be brought to
//! the new one with a [`Delta`] instead of a full report:
//!
//! * records in lists (consumables, alerts, printheads, cartridges, media sources, accessories) are
//!   keyed by record id: added or changed records travel whole, removed ones as their id;
//! * a consumable whose only change is its level travels as `(record id, level)`;
//! * meters travel as counter increments (or a new value after a reset);
//! * identity, status, media types, settings and usage travel whole, and only when they changed.
//!
//! `apply(a, &diff(a, b)) == b` for any states `a` and `b`, order of lists included.
//!
//! ```
//! use printfleet_diff::{DeviceState, apply, diff};
//! use printfleet_schema::{Level, MeterKind, samples};
//!
//! let before = DeviceState::from(&samples::office_laser());
//! let mut after = before.clone();
//! after.snapshot.consumables[1].level = Level::Amount(7);
//! let total = after.snapshot.meters.get(&MeterKind::TOTAL).unwrap();
//! after.snapshot.meters.set(MeterKind::TOTAL, total + 12);
//!
//! let delta = diff(&before, &after);
//! assert_eq!(delta.levels.len(), 1, "a level change travels as (record id, level)");
//! assert!(delta.consumables.is_empty() && delta.identity.is_none());
//! assert_eq!(apply(&before, &delta)?, after);
//! assert!(diff(&after, &after).is_empty());
//! # Ok::<(), printfleet_diff::ApplyError>(())
//! ```
//!
//! This crate is the pure transformation (no I/O, no clock) and, in [`sync`], the agent and
//! receiver that keep a receiver's view equal to the device's over a lossy channel.
//!
//! **Portals use [`sync::Receiver`]**, not [`apply`]: the receiver applies each update once, only
//! to the exact base it names (sequence number and state hash), and refuses duplicates, replays
//! and updates from an old base. [`apply`] is the bare transformation and knows nothing of what
//! was applied before: applying the same delta twice counts its meter increments twice (billing
//! twice for the same pages). The message
//! types ([`Delta`], [`DeviceState`], [`sync::Update`], ...) are defined in
//! [`printfleet_wire::delta`], beside their protobuf and XML encodings, and re-exported here.
//!
//! # Crate features
//! * `fuzzing`: the entry point of the `delta_apply` fuzz target (`fuzzing`); not a stable API.

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod sync;

use std::collections::BTreeMap;

use printfleet_schema::{
    Accessory, Alert, Consumable, DeviceStatus, Identity, InkCartridge, Level, MediaSource, MediaType, MeterKind,
    Printhead, RecordId, Settings, Usage,
};
pub use printfleet_wire::delta::{Delta, DeviceState, MeterChange, Records};

/// Why a delta does not apply to a state: it was computed against another base. The receiver
/// answers with a resync request and the agent with a full snapshot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A removal, level change or order names a record the base does not have.
    #[error("{list}: no record {record} in the base")]
    MissingRecord {
        /// The list.
        list: &'static str,
        /// The record id.
        record: RecordId,
    },
    /// A meter increment or removal names a meter the base does not have, or overflows it.
    #[error("meter {kind} cannot change that way in the base")]
    Meter {
        /// The meter.
        kind: MeterKind,
    },
    /// An order that is not a permutation of the list's record ids.
    #[error("{list}: the order does not match the records")]
    Order {
        /// The list.
        list: &'static str,
    },
}

/// A record with a stable id.
trait Keyed {
    fn id(&self) -> RecordId;
}

macro_rules! keyed {
    ($($t:ty),*) => { $(impl Keyed for $t { fn id(&self) -> RecordId { self.record_id } })* };
}
keyed!(Consumable, Alert, Printhead, InkCartridge, MediaSource, Accessory);

fn changed<T: PartialEq + Clone>(old: &T, new: &T) -> Option<T> {
    (old != new).then(|| new.clone())
}

/// The ids a list would have after `apply_records` without an explicit order.
fn natural_order<T: Keyed>(old: &[T], upserts: &[&T], removals: &[RecordId]) -> Vec<RecordId> {
    let mut ids: Vec<RecordId> = old.iter().map(Keyed::id).filter(|id| !removals.contains(id)).collect();
    for u in upserts {
        if !ids.contains(&u.id()) {
            ids.push(u.id());
        }
    }
    ids
}

fn diff_records<T: Keyed + PartialEq + Clone>(old: &[T], new: &[T], skip: impl Fn(&T, &T) -> bool) -> Records<T> {
    // Lists are short (a few dozen records at most), so linear lookups beat building maps.
    fn find<T: Keyed>(list: &[T], id: RecordId) -> Option<&T> {
        list.iter().find(|r| r.id() == id)
    }
    let upserts: Vec<&T> = new
        .iter()
        .filter(|n| match find(old, n.id()) {
            Some(o) => o != *n && !skip(o, n),
            None => true,
        })
        .collect();
    let removals: Vec<RecordId> = old.iter().map(Keyed::id).filter(|id| find(new, *id).is_none()).collect();
    let wanted: Vec<RecordId> = new.iter().map(Keyed::id).collect();
    let order = (natural_order(old, &upserts, &removals) != wanted).then_some(wanted);
    Records { upserts: upserts.into_iter().cloned().collect(), removals, order }
}

/// Whether two consumables differ in their level only.
fn level_only(old: &Consumable, new: &Consumable) -> bool {
    old.level != new.level
        && old.record_id == new.record_id
        && old.kind == new.kind
        && old.class == new.class
        && old.colour == new.colour
        && old.description == new.description
        && old.part_number == new.part_number
        && old.serial_number == new.serial_number
        && old.unit == new.unit
        && old.capacity == new.capacity
        && old.status == new.status
        && old.page_count == new.page_count
        && old.observed_at == new.observed_at
}

/// The delta that turns `old` into `new`.
pub fn diff(old: &DeviceState, new: &DeviceState) -> Delta {
    let (o, n) = (&old.snapshot, &new.snapshot);
    let mut meters = BTreeMap::new();
    for (kind, value) in &n.meters.0 {
        match o.meters.0.get(kind) {
            Some(before) if before == value => {}
            Some(before) if value > before => {
                meters.insert(kind.clone(), MeterChange::Increase(value.saturating_sub(*before)));
            }
            _ => {
                meters.insert(kind.clone(), MeterChange::Set(*value));
            }
        }
    }
    for kind in o.meters.0.keys() {
        if !n.meters.0.contains_key(kind) {
            meters.insert(kind.clone(), MeterChange::Remove);
        }
    }
    let levels = n
        .consumables
        .iter()
        .filter_map(|c| {
            let before = o.consumables.iter().find(|b| b.record_id == c.record_id)?;
            level_only(before, c).then_some((c.record_id, c.level))
        })
        .collect();
    Delta {
        identity: changed(&old.identity, &new.identity),
        status: changed(&o.status, &n.status),
        meters,
        levels,
        consumables: diff_records(&o.consumables, &n.consumables, level_only),
        alerts: diff_records(&o.alerts, &n.alerts, |_, _| false),
        printheads: diff_records(&o.printheads, &n.printheads, |_, _| false),
        cartridges: diff_records(&o.cartridges, &n.cartridges, |_, _| false),
        media_sources: diff_records(&o.media_sources, &n.media_sources, |_, _| false),
        accessories: diff_records(&o.accessories, &n.accessories, |_, _| false),
        media_types: changed(&o.media_types, &n.media_types),
        settings: changed(&o.settings, &n.settings),
        usage: (o.usage != n.usage).then(|| n.usage.clone()),
    }
}

fn apply_records<T: Keyed + Clone>(
    list: &mut Vec<T>,
    changes: &Records<T>,
    name: &'static str,
) -> Result<(), ApplyError> {
    for id in &changes.removals {
        let at =
            list.iter().position(|r| r.id() == *id).ok_or(ApplyError::MissingRecord { list: name, record: *id })?;
        list.remove(at);
    }
    for record in &changes.upserts {
        match list.iter_mut().find(|r| r.id() == record.id()) {
            Some(slot) => slot.clone_from(record),
            None => list.push(record.clone()),
        }
    }
    if let Some(order) = &changes.order {
        if order.len() != list.len() {
            return Err(ApplyError::Order { list: name });
        }
        let mut sorted = Vec::with_capacity(list.len());
        for id in order {
            let at = list.iter().position(|r| r.id() == *id).ok_or(ApplyError::Order { list: name })?;
            sorted.push(list.swap_remove(at));
        }
        *list = sorted;
    }
    Ok(())
}

/// Applies `delta` to `state` in place. On error `state` is left exactly as it was: what was
/// changed before the failing part is put back.
pub fn apply_in_place(state: &mut DeviceState, delta: &Delta) -> Result<(), ApplyError> {
    apply_logged(state, delta).map(drop)
}

/// What applying a delta in place replaced, in the order it was replaced: enough to put the
/// state back exactly as it was ([`Undo::revert`]). A steady-state delta's undo is as small as
/// the delta (old meter values and levels); what changes rarely is kept apart ([`UndoRest`],
/// allocated only when the delta touches it), a list the delta touched whole.
#[derive(Clone, Debug, Default)]
pub(crate) struct Undo {
    /// Each meter changed, with its value before (`None`: the base lacked it).
    meters: Vec<(MeterKind, Option<u64>)>,
    /// Each level set, with the level before (only when the consumables are not kept whole).
    levels: Vec<(RecordId, Level)>,
    rest: Option<Box<UndoRest>>,
}

/// The parts of an [`Undo`] for what a steady-state delta does not touch.
#[derive(Clone, Debug, Default)]
struct UndoRest {
    identity: Option<Identity>,
    status: Option<DeviceStatus>,
    consumables: Option<Vec<Consumable>>,
    alerts: Option<Vec<Alert>>,
    printheads: Option<Vec<Printhead>>,
    cartridges: Option<Vec<InkCartridge>>,
    media_sources: Option<Vec<MediaSource>>,
    accessories: Option<Vec<Accessory>>,
    media_types: Option<Vec<MediaType>>,
    settings: Option<Settings>,
    usage: Option<Option<Usage>>,
}

impl Undo {
    fn rest(&mut self) -> &mut UndoRest {
        self.rest.get_or_insert_with(Box::default)
    }

    /// Puts back what the delta replaced, last change first, turning the state the delta
    /// produced (or the partly changed state of a delta that failed) into its base.
    pub(crate) fn revert(self, state: &mut DeviceState) {
        let Self { meters, levels, rest } = self;
        let s = &mut state.snapshot;
        let mut identity = None;
        if let Some(rest) = rest {
            let r = *rest;
            if let Some(usage) = r.usage {
                s.usage = usage;
            }
            if let Some(settings) = r.settings {
                s.settings = settings;
            }
            if let Some(media_types) = r.media_types {
                s.media_types = media_types;
            }
            restore(&mut s.accessories, r.accessories);
            restore(&mut s.media_sources, r.media_sources);
            restore(&mut s.cartridges, r.cartridges);
            restore(&mut s.printheads, r.printheads);
            restore(&mut s.alerts, r.alerts);
            restore(&mut s.consumables, r.consumables);
            if let Some(status) = r.status {
                s.status = status;
            }
            identity = r.identity;
        }
        for (id, level) in levels.into_iter().rev() {
            if let Some(c) = s.consumables.iter_mut().find(|c| c.record_id == id) {
                c.level = level;
            }
        }
        for (kind, before) in meters.into_iter().rev() {
            match before {
                Some(value) => {
                    s.meters.set(kind, value);
                }
                None => {
                    s.meters.0.remove(&kind);
                }
            }
        }
        if let Some(identity) = identity {
            state.identity = identity;
        }
    }
}

fn restore<T>(list: &mut Vec<T>, saved: Option<Vec<T>>) {
    if let Some(saved) = saved {
        *list = saved;
    }
}

/// [`apply_records`], keeping the list as it was in `undo` first (in the field `saved` picks,
/// unless it is kept already).
fn apply_records_logged<T: Keyed + Clone>(
    list: &mut Vec<T>,
    changes: &Records<T>,
    name: &'static str,
    undo: &mut Undo,
    saved: fn(&mut UndoRest) -> &mut Option<Vec<T>>,
) -> Result<(), ApplyError> {
    if changes.is_empty() {
        return Ok(());
    }
    let saved = saved(undo.rest());
    if saved.is_none() {
        *saved = Some(list.clone());
    }
    apply_records(list, changes, name)
}

/// Applies `delta` to `state` in place and returns what it replaced; on error `state` is left as
/// it was (the partial change is reverted).
pub(crate) fn apply_logged(state: &mut DeviceState, delta: &Delta) -> Result<Undo, ApplyError> {
    let mut undo = Undo::default();
    match apply_recording(state, delta, &mut undo) {
        Ok(()) => Ok(undo),
        Err(e) => {
            undo.revert(state);
            Err(e)
        }
    }
}

/// docs/wire-format.md §5.8, "Applying a delta", steps 1 to 5, recording in `undo` what each step
/// replaces before it replaces it.
fn apply_recording(state: &mut DeviceState, delta: &Delta, undo: &mut Undo) -> Result<(), ApplyError> {
    if let Some(identity) = &delta.identity {
        undo.rest().identity = Some(core::mem::replace(&mut state.identity, identity.clone()));
    }
    let s = &mut state.snapshot;
    if let Some(status) = delta.status {
        undo.rest().status = Some(core::mem::replace(&mut s.status, status));
    }
    for (kind, change) in &delta.meters {
        match change {
            MeterChange::Increase(by) => {
                let value = s.meters.0.get_mut(kind).ok_or_else(|| ApplyError::Meter { kind: kind.clone() })?;
                let new = value.checked_add(*by).ok_or_else(|| ApplyError::Meter { kind: kind.clone() })?;
                undo.meters.push((kind.clone(), Some(core::mem::replace(value, new))));
            }
            MeterChange::Set(value) => {
                let before = s.meters.set(kind.clone(), *value);
                undo.meters.push((kind.clone(), before));
            }
            MeterChange::Remove => {
                let before = s.meters.0.remove(kind).ok_or_else(|| ApplyError::Meter { kind: kind.clone() })?;
                undo.meters.push((kind.clone(), Some(before)));
            }
        }
    }
    // Levels apply before the list's own changes; a list that changes is kept whole, levels and
    // all, so that its levels need no undo of their own.
    let whole = !delta.consumables.is_empty();
    if whole {
        undo.rest().consumables = Some(s.consumables.clone());
    }
    for (id, level) in &delta.levels {
        let c = s
            .consumables
            .iter_mut()
            .find(|c| c.record_id == *id)
            .ok_or(ApplyError::MissingRecord { list: "consumables", record: *id })?;
        let before = core::mem::replace(&mut c.level, *level);
        if !whole {
            undo.levels.push((*id, before));
        }
    }
    apply_records_logged(&mut s.consumables, &delta.consumables, "consumables", undo, |r| &mut r.consumables)?;
    apply_records_logged(&mut s.alerts, &delta.alerts, "alerts", undo, |r| &mut r.alerts)?;
    apply_records_logged(&mut s.printheads, &delta.printheads, "printheads", undo, |r| &mut r.printheads)?;
    apply_records_logged(&mut s.cartridges, &delta.cartridges, "cartridges", undo, |r| &mut r.cartridges)?;
    apply_records_logged(&mut s.media_sources, &delta.media_sources, "media_sources", undo, |r| &mut r.media_sources)?;
    apply_records_logged(&mut s.accessories, &delta.accessories, "accessories", undo, |r| &mut r.accessories)?;
    if let Some(media_types) = &delta.media_types {
        undo.rest().media_types = Some(core::mem::replace(&mut s.media_types, media_types.clone()));
    }
    if let Some(settings) = &delta.settings {
        undo.rest().settings = Some(core::mem::replace(&mut s.settings, settings.clone()));
    }
    if let Some(usage) = &delta.usage {
        undo.rest().usage = Some(core::mem::replace(&mut s.usage, usage.clone()));
    }
    Ok(())
}

/// The state `delta` turns `base` into, if `base` is the state the delta was computed from.
///
/// Nothing here checks that: applying a delta to the state it already produced applies its meter
/// increments again. Receivers use [`sync::Receiver`], which applies an update once, to the base
/// it names.
pub fn apply(base: &DeviceState, delta: &Delta) -> Result<DeviceState, ApplyError> {
    let mut state = base.clone();
    apply_in_place(&mut state, delta)?;
    Ok(state)
}
