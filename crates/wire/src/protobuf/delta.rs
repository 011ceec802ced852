//! `Update` and `Reply` (docs/wire-format.md §5.8): conversion into the generated messages for
//! encoding, and direct decoding with the same rules and helpers as the report decoder.

use std::collections::btree_map::Entry;

use printfleet_schema::codes::MeterCode;
use printfleet_schema::limits::{MAX_JOBS, MAX_MEDIA_TYPES, MAX_METERS, MAX_RECORDS};
use printfleet_schema::{Level, MeterKind, RecordId};

use super::convert::{
    accessory_to_pb, alert_to_pb, cartridge_to_pb, consumable_to_pb, header_to_pb, media_source_to_pb, print_to_pb,
    printhead_to_pb, settings_to_pb, status_to_pb, usage_to_pb,
};
use super::decode::{
    Result, Value, accessory, alert, cartridge, check_room, consumable, decode_varint, fields, identity, media_source,
    media_type, meter_kind, print_job, printhead, settings, singular, snapshot, status, usage, wire_default_status,
    zigzag,
};
use crate::delta::{BaseRef, Delta, DeviceState, Instance, MeterChange, Records, Reply, StateHash, Update, UpdateBody};
use crate::error::ProtobufError;
use crate::pb;

// ---------------------------------------------------------------------------------------------
// Encoding (the update is validated first, so `base.sequence < sequence`)

pub(super) fn update_to_pb(u: &Update) -> pb::Update {
    let body = match &u.body {
        UpdateBody::Full(state) => pb::update::Body::Full(pb::State {
            identity: Some((&state.identity).into()),
            snapshot: Some((&state.snapshot).into()),
        }),
        UpdateBody::Delta { base, delta } => {
            pb::update::Body::Delta(delta_to_pb(delta, u.sequence.saturating_sub(base.sequence), base.hash))
        }
    };
    pb::Update {
        instance: u.instance.0,
        sequence: u.sequence,
        body: Some(body),
        events: u
            .events
            .iter()
            .map(|(sequence, j)| pb::JobEvent {
                sequence: *sequence,
                job: Some(pb::PrintJob { job: Some(header_to_pb(&j.job)), print: Some(print_to_pb(&j.print)) }),
            })
            .collect(),
    }
}

/// The generated message for one list's changes, if any.
macro_rules! records_to_pb {
    ($records:expr, $message:ident, $convert:expr) => {{
        let r = $records;
        (!r.is_empty()).then(|| pb::$message {
            upserts: r.upserts.iter().map($convert).collect(),
            removals: r.removals.iter().map(|id| id.0).collect(),
            order: r.order.as_ref().map(|ids| pb::RecordOrder { record_ids: ids.iter().map(|id| id.0).collect() }),
        })
    }};
}

fn delta_to_pb(d: &Delta, base_back: u64, base_hash: StateHash) -> pb::Delta {
    let mut m = pb::Delta { base_back, base_hash: base_hash.0, ..pb::Delta::default() };
    for (id, level) in &d.levels {
        m.level_records.push(id.0);
        m.levels.push(level.to_mib());
    }
    for (kind, change) in &d.meters {
        match (kind, change) {
            (MeterKind::Standard(code), MeterChange::Increase(by)) if code.code() != 0 => {
                m.meter_kinds.push(code.code());
                m.meter_increases.push(*by);
            }
            _ => {
                let (kind, vendor) = match kind {
                    MeterKind::Standard(code) => (code.code(), String::new()),
                    MeterKind::Vendor(name) => (0, name.as_str().to_owned()),
                };
                let change = match change {
                    MeterChange::Increase(by) => pb::meter_change::Change::Increase(*by),
                    MeterChange::Set(value) => pb::meter_change::Change::Set(*value),
                    MeterChange::Remove => pb::meter_change::Change::Remove(true),
                };
                m.meters.push(pb::MeterChange { kind, vendor, change: Some(change) });
            }
        }
    }
    m.identity = d.identity.as_ref().map(Into::into);
    m.status = d.status.as_ref().map(status_to_pb);
    m.consumables = records_to_pb!(&d.consumables, ConsumableChanges, consumable_to_pb);
    m.alerts = records_to_pb!(&d.alerts, AlertChanges, alert_to_pb);
    m.printheads = records_to_pb!(&d.printheads, PrintheadChanges, printhead_to_pb);
    m.cartridges = records_to_pb!(&d.cartridges, CartridgeChanges, cartridge_to_pb);
    m.media_sources = records_to_pb!(&d.media_sources, MediaSourceChanges, media_source_to_pb);
    m.accessories = records_to_pb!(&d.accessories, AccessoryChanges, accessory_to_pb);
    m.media_types = d.media_types.as_ref().map(|types| pb::MediaTypeList {
        media_types: types.iter().map(|t| pb::MediaType { id: t.id.clone(), names: t.names.clone() }).collect(),
    });
    m.settings = d.settings.as_ref().map(settings_to_pb);
    m.usage = d.usage.as_ref().map(|u| pb::UsageChange { usage: u.as_ref().map(usage_to_pb) });
    m
}

pub(super) fn reply_to_pb(r: &Reply) -> pb::Reply {
    match *r {
        Reply::Ack { instance, state, events_through } => pb::Reply {
            instance: instance.0,
            events_through,
            kind: Some(pb::reply::Kind::Ack(pb::StateRef { sequence: state.sequence, hash: state.hash.0 })),
        },
        Reply::Resync { instance, events_through } => {
            pb::Reply { instance: instance.0, events_through, kind: Some(pb::reply::Kind::Resync(true)) }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

pub(super) fn update(buf: &[u8]) -> Result<Update> {
    let (mut instance, mut sequence, mut body, mut events) = (Instance(0), 0, None, Vec::new());
    let mut delta_body = None;
    fields(buf, "Update", singular(5, &[4]), |n, v| {
        match n {
            1 => sequence = v.varint("Update.sequence")?,
            5 => instance = Instance(v.fixed32("Update.instance")?),
            2 | 3 if body.is_some() || delta_body.is_some() => {
                return Err(ProtobufError::Structure("Update has both full and delta"));
            }
            2 => body = Some(UpdateBody::Full(Box::new(state(v.bytes("Update.full")?)?))),
            3 => delta_body = Some(delta(v.bytes("Update.delta")?)?),
            4 => {
                check_room(&events, "Update.events", MAX_JOBS)?;
                events.push(job_event(v.bytes("Update.events")?)?);
            }
            _ => {}
        }
        Ok(())
    })?;
    // The delta's base is relative to the update's sequence, which may come after it.
    if let Some((back, hash, delta)) = delta_body {
        let base = sequence
            .checked_sub(back)
            .filter(|_| back >= 1)
            .ok_or(ProtobufError::OutOfRange { field: "Delta.base_back", value: i128::from(back) })?;
        body = Some(UpdateBody::Delta { base: BaseRef { sequence: base, hash }, delta: Box::new(delta) });
    }
    let body = body.ok_or(ProtobufError::Missing { field: "Update.body" })?;
    Ok(Update { instance, sequence, body, events })
}

fn state(buf: &[u8]) -> Result<DeviceState> {
    let mut s = DeviceState::default();
    s.snapshot.status = wire_default_status();
    fields(buf, "State", singular(2, &[]), |n, v| {
        match n {
            1 => s.identity = identity(v.bytes("State.identity")?)?,
            2 => s.snapshot = snapshot(v.bytes("State.snapshot")?)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

fn job_event(buf: &[u8]) -> Result<(u64, printfleet_schema::PrintJob)> {
    let (mut sequence, mut job) = (0, None);
    fields(buf, "JobEvent", singular(2, &[]), |n, v| {
        match n {
            1 => sequence = v.varint("JobEvent.sequence")?,
            2 => job = Some(print_job(v.bytes("JobEvent.job")?)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok((sequence, job.ok_or(ProtobufError::Missing { field: "JobEvent.job" })?))
}

/// Calls `on` for each value of a repeated scalar field, packed (the proto3 default) or not,
/// with at most `limit` values in `count`.
fn scalars(
    v: &Value<'_>,
    field: &'static str,
    count: &mut usize,
    limit: usize,
    mut on: impl FnMut(u64) -> Result<()>,
) -> Result<()> {
    let mut one = |value| {
        if *count >= limit {
            return Err(ProtobufError::TooMany { field, limit });
        }
        *count = count.saturating_add(1);
        on(value)
    };
    match v {
        Value::Bytes(packed) => {
            let mut packed = *packed;
            while !packed.is_empty() {
                one(decode_varint(&mut packed).map_err(ProtobufError::Malformed)?)?;
            }
            Ok(())
        }
        other => one(other.varint(field)?),
    }
}

fn delta(buf: &[u8]) -> Result<(u64, StateHash, Delta)> {
    let (mut back, mut hash) = (0, StateHash(0));
    let mut d = Delta::default();
    let (mut level_records, mut levels) = (Vec::new(), Vec::new());
    let (mut meter_kinds, mut meter_increases) = (Vec::new(), Vec::new());
    let (mut n_records, mut n_levels, mut n_kinds, mut n_increases) = (0, 0, 0, 0);
    fields(buf, "Delta", singular(18, &[3, 4, 5, 6, 7]), |n, v| {
        match n {
            1 => back = v.varint("Delta.base_back")?,
            2 => hash = StateHash(v.fixed32("Delta.base_hash")?),
            3 => scalars(&v, "Delta.level_records", &mut n_records, MAX_RECORDS, |id| {
                level_records.push(RecordId(id));
                Ok(())
            })?,
            4 => scalars(&v, "Delta.levels", &mut n_levels, MAX_RECORDS, |raw| {
                let mib = zigzag(raw);
                levels.push(
                    Level::from_mib(mib)
                        .ok_or(ProtobufError::OutOfRange { field: "Delta.levels", value: i128::from(mib) })?,
                );
                Ok(())
            })?,
            5 => scalars(&v, "Delta.meter_kinds", &mut n_kinds, MAX_METERS, |code| {
                let code = u32::try_from(code)
                    .ok()
                    .filter(|c| *c != 0)
                    .ok_or(ProtobufError::OutOfRange { field: "Delta.meter_kinds", value: i128::from(code) })?;
                meter_kinds.push(MeterKind::Standard(MeterCode::from_code(code)));
                Ok(())
            })?,
            6 => scalars(&v, "Delta.meter_increases", &mut n_increases, MAX_METERS, |by| {
                meter_increases.push(by);
                Ok(())
            })?,
            7 => {
                if d.meters.len() >= MAX_METERS {
                    return Err(ProtobufError::TooMany { field: "Delta.meters", limit: MAX_METERS });
                }
                let (kind, change) = meter_change(v.bytes("Delta.meters")?)?;
                insert_meter(&mut d, kind, change)?;
            }
            8 => d.identity = Some(identity(v.bytes("Delta.identity")?)?),
            9 => d.status = Some(status(v.bytes("Delta.status")?)?),
            10 => d.consumables = records(v.bytes("Delta.consumables")?, "ConsumableChanges", consumable)?,
            11 => d.alerts = records(v.bytes("Delta.alerts")?, "AlertChanges", alert)?,
            12 => d.printheads = records(v.bytes("Delta.printheads")?, "PrintheadChanges", printhead)?,
            13 => d.cartridges = records(v.bytes("Delta.cartridges")?, "CartridgeChanges", cartridge)?,
            14 => d.media_sources = records(v.bytes("Delta.media_sources")?, "MediaSourceChanges", media_source)?,
            15 => d.accessories = records(v.bytes("Delta.accessories")?, "AccessoryChanges", accessory)?,
            16 => {
                let mut list = Vec::new();
                fields(v.bytes("Delta.media_types")?, "MediaTypeList", singular(1, &[1]), |n, v| {
                    if n == 1 {
                        check_room(&list, "MediaTypeList.media_types", MAX_MEDIA_TYPES)?;
                        list.push(media_type(v.bytes("MediaTypeList.media_types")?)?);
                    }
                    Ok(())
                })?;
                d.media_types = Some(list);
            }
            17 => d.settings = Some(settings(v.bytes("Delta.settings")?)?),
            18 => {
                let mut u = None;
                fields(v.bytes("Delta.usage")?, "UsageChange", singular(1, &[]), |n, v| {
                    if n == 1 {
                        u = Some(usage(v.bytes("UsageChange.usage")?)?);
                    }
                    Ok(())
                })?;
                d.usage = Some(u);
            }
            _ => {}
        }
        Ok(())
    })?;
    if level_records.len() != levels.len() {
        return Err(ProtobufError::Structure("Delta.level_records and Delta.levels differ in length"));
    }
    d.levels = level_records.into_iter().zip(levels).collect();
    if meter_kinds.len() != meter_increases.len() {
        return Err(ProtobufError::Structure("Delta.meter_kinds and Delta.meter_increases differ in length"));
    }
    for (kind, by) in meter_kinds.into_iter().zip(meter_increases) {
        if d.meters.len() >= MAX_METERS {
            return Err(ProtobufError::TooMany { field: "Delta.meter_kinds", limit: MAX_METERS });
        }
        insert_meter(&mut d, kind, MeterChange::Increase(by))?;
    }
    Ok((back, hash, d))
}

fn insert_meter(d: &mut Delta, kind: MeterKind, change: MeterChange) -> Result<()> {
    match d.meters.entry(kind) {
        Entry::Vacant(slot) => {
            slot.insert(change);
            Ok(())
        }
        Entry::Occupied(_) => Err(ProtobufError::BadValue { field: "Delta.meters" }),
    }
}

fn meter_change(buf: &[u8]) -> Result<(MeterKind, MeterChange)> {
    let (mut kind, mut vendor, mut change) = (0, None, None);
    fields(buf, "MeterChange", singular(5, &[]), |n, v| {
        let next = match n {
            1 => {
                kind = v.u32("MeterChange.kind")?;
                None
            }
            2 => {
                vendor = Some(v.bytes("MeterChange.vendor")?);
                None
            }
            3 => Some(MeterChange::Increase(v.varint("MeterChange.increase")?)),
            4 => Some(MeterChange::Set(v.varint("MeterChange.set")?)),
            5 if v.bool("MeterChange.remove")? => Some(MeterChange::Remove),
            5 => return Err(ProtobufError::BadValue { field: "MeterChange.remove" }),
            _ => None,
        };
        if let Some(next) = next
            && change.replace(next).is_some()
        {
            return Err(ProtobufError::Structure("MeterChange has more than one change"));
        }
        Ok(())
    })?;
    let change = change.ok_or(ProtobufError::Missing { field: "MeterChange.change" })?;
    Ok((meter_kind(kind, vendor)?, change))
}

fn records<T>(buf: &[u8], message: &'static str, record: fn(&[u8]) -> Result<T>) -> Result<Records<T>> {
    let mut r = Records::default();
    fields(buf, message, singular(3, &[1, 2]), |n, v| {
        match n {
            1 => {
                check_room(&r.upserts, message, MAX_RECORDS)?;
                r.upserts.push(record(v.bytes(message)?)?);
            }
            2 => {
                let mut count = r.removals.len();
                scalars(&v, message, &mut count, MAX_RECORDS, |id| {
                    r.removals.push(RecordId(id));
                    Ok(())
                })?;
            }
            3 => {
                let mut ids = Vec::new();
                fields(v.bytes(message)?, "RecordOrder", singular(1, &[1]), |n, v| {
                    if n == 1 {
                        let mut count = ids.len();
                        scalars(&v, "RecordOrder.record_ids", &mut count, MAX_RECORDS, |id| {
                            ids.push(RecordId(id));
                            Ok(())
                        })?;
                    }
                    Ok(())
                })?;
                r.order = Some(ids);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

pub(super) fn reply(buf: &[u8]) -> Result<Reply> {
    let (mut instance, mut events_through, mut kind) = (Instance(0), 0, None);
    fields(buf, "Reply", singular(4, &[]), |n, v| {
        let next = match n {
            4 => {
                instance = Instance(v.fixed32("Reply.instance")?);
                None
            }
            1 => {
                events_through = v.varint("Reply.events_through")?;
                None
            }
            2 => {
                let (mut sequence, mut hash) = (0, 0);
                fields(v.bytes("Reply.ack")?, "StateRef", singular(2, &[]), |n, v| {
                    match n {
                        1 => sequence = v.varint("StateRef.sequence")?,
                        2 => hash = v.fixed32("StateRef.hash")?,
                        _ => {}
                    }
                    Ok(())
                })?;
                Some(Some(BaseRef { sequence, hash: StateHash(hash) }))
            }
            3 if v.bool("Reply.resync")? => Some(None),
            3 => return Err(ProtobufError::BadValue { field: "Reply.resync" }),
            _ => None,
        };
        if let Some(next) = next
            && kind.replace(next).is_some()
        {
            return Err(ProtobufError::Structure("Reply has both ack and resync"));
        }
        Ok(())
    })?;
    match kind.ok_or(ProtobufError::Missing { field: "Reply.kind" })? {
        Some(state) => Ok(Reply::Ack { instance, state, events_through }),
        None => Ok(Reply::Resync { instance, events_through }),
    }
}
