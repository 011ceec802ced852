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
//! This crate is the pure transformation: no I/O, no clock. Sequencing, base hashes, resync and
//! the wire encodings of deltas build on it.

pub mod sync;

use printfleet_schema::{
    Accessory, Alert, Consumable, DeviceReport, DeviceStatus, Identity, InkCartridge, Level, MediaSource, MediaType,
    MeterKind, Printhead, RecordId, Settings, Snapshot, Usage,
};

/// What a delta describes: a device's identity and current state (events are a separate stream).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// Who the device is.
    pub identity: Identity,
    /// Its current state.
    pub snapshot: Snapshot,
}

impl From<&DeviceReport> for DeviceState {
    fn from(report: &DeviceReport) -> Self {
        Self { identity: report.identity.clone(), snapshot: report.snapshot.clone() }
    }
}

/// How one meter changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeterChange {
    /// The counter grew by this much (the usual case: small numbers, compact on the wire).
    Increase(u64),
    /// The counter has this value now: a new meter, or one that went down (a reset).
    Set(u64),
    /// The meter is no longer reported.
    Remove,
}

/// Changes to a list of records keyed by record id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Records<T> {
    /// Records added or changed, whole.
    pub upserts: Vec<T>,
    /// Ids of records removed.
    pub removals: Vec<RecordId>,
    /// The new order of the list's record ids, present only when applying the upserts and
    /// removals (changed records in place, new ones at the end) would not give it.
    pub order: Option<Vec<RecordId>>,
}

impl<T> Default for Records<T> {
    fn default() -> Self {
        Self { upserts: Vec::new(), removals: Vec::new(), order: None }
    }
}

impl<T> Records<T> {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removals.is_empty() && self.order.is_none()
    }
}

/// The difference between two [`DeviceState`]s. Empty when nothing changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// The new identity, if it changed.
    pub identity: Option<Identity>,
    /// The new status, if it changed.
    pub status: Option<DeviceStatus>,
    /// Meter changes, by kind.
    pub meters: Vec<(MeterKind, MeterChange)>,
    /// Consumables whose only change is their level.
    pub levels: Vec<(RecordId, Level)>,
    /// Other consumable changes.
    pub consumables: Records<Consumable>,
    /// Alerts raised (upserts), changed, and cleared (removals).
    pub alerts: Records<Alert>,
    /// Printhead changes.
    pub printheads: Records<Printhead>,
    /// Ink cartridge changes.
    pub cartridges: Records<InkCartridge>,
    /// Media source changes.
    pub media_sources: Records<MediaSource>,
    /// Accessory changes.
    pub accessories: Records<Accessory>,
    /// The new list of media types, if it changed.
    pub media_types: Option<Vec<MediaType>>,
    /// The new settings, if they changed.
    pub settings: Option<Settings>,
    /// The new usage counters (or their disappearance), if they changed.
    pub usage: Option<Option<Usage>>,
}

impl Delta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.identity.is_none()
            && self.status.is_none()
            && self.meters.is_empty()
            && self.levels.is_empty()
            && self.consumables.is_empty()
            && self.alerts.is_empty()
            && self.printheads.is_empty()
            && self.cartridges.is_empty()
            && self.media_sources.is_empty()
            && self.accessories.is_empty()
            && self.media_types.is_none()
            && self.settings.is_none()
            && self.usage.is_none()
    }
}

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
    let mut meters = Vec::new();
    for (kind, value) in &n.meters.0 {
        match o.meters.0.get(kind) {
            Some(before) if before == value => {}
            Some(before) if value > before => {
                meters.push((kind.clone(), MeterChange::Increase(value.saturating_sub(*before))))
            }
            _ => meters.push((kind.clone(), MeterChange::Set(*value))),
        }
    }
    for kind in o.meters.0.keys() {
        if !n.meters.0.contains_key(kind) {
            meters.push((kind.clone(), MeterChange::Remove));
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

/// Applies `delta` to `state` in place. On error `state` may be partly changed: discard it and
/// resynchronise (a receiver applies to a copy, or uses [`apply`]).
pub fn apply_in_place(state: &mut DeviceState, delta: &Delta) -> Result<(), ApplyError> {
    if let Some(identity) = &delta.identity {
        state.identity.clone_from(identity);
    }
    let s = &mut state.snapshot;
    if let Some(status) = delta.status {
        s.status = status;
    }
    for (kind, change) in &delta.meters {
        match change {
            MeterChange::Increase(by) => {
                let value = s.meters.0.get_mut(kind).ok_or_else(|| ApplyError::Meter { kind: kind.clone() })?;
                *value = value.checked_add(*by).ok_or_else(|| ApplyError::Meter { kind: kind.clone() })?;
            }
            MeterChange::Set(value) => {
                s.meters.set(kind.clone(), *value);
            }
            MeterChange::Remove => {
                s.meters.0.remove(kind).ok_or_else(|| ApplyError::Meter { kind: kind.clone() })?;
            }
        }
    }
    for (id, level) in &delta.levels {
        let c = s
            .consumables
            .iter_mut()
            .find(|c| c.record_id == *id)
            .ok_or(ApplyError::MissingRecord { list: "consumables", record: *id })?;
        c.level = *level;
    }
    apply_records(&mut s.consumables, &delta.consumables, "consumables")?;
    apply_records(&mut s.alerts, &delta.alerts, "alerts")?;
    apply_records(&mut s.printheads, &delta.printheads, "printheads")?;
    apply_records(&mut s.cartridges, &delta.cartridges, "cartridges")?;
    apply_records(&mut s.media_sources, &delta.media_sources, "media_sources")?;
    apply_records(&mut s.accessories, &delta.accessories, "accessories")?;
    if let Some(media_types) = &delta.media_types {
        s.media_types.clone_from(media_types);
    }
    if let Some(settings) = &delta.settings {
        s.settings.clone_from(settings);
    }
    if let Some(usage) = &delta.usage {
        s.usage.clone_from(usage);
    }
    Ok(())
}

/// The state `delta` turns `base` into.
pub fn apply(base: &DeviceState, delta: &Delta) -> Result<DeviceState, ApplyError> {
    let mut state = base.clone();
    apply_in_place(&mut state, delta)?;
    Ok(state)
}
