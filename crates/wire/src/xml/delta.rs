//! `<update>` and `<reply>` (docs/wire-format.md §5.8): the delta protocol's messages as XML, built
//! from the same elements as `<report>`.
//!
//! ```text
//! <update xmlns="urn:printfleet:telemetry:1" sequence="12" instance="5eed0001">
//!   <delta base_sequence="11" base_hash="1a2b3c4d">
//!     <level record_id="2" level="63"/>
//!     <meter kind="total" increase="12"/>
//!     <alerts><alert .../><removed record_id="7"/></alerts>
//!   </delta>
//!   <print_job event="5"><job .../><print .../></print_job>
//! </update>
//! <reply xmlns="urn:printfleet:telemetry:1" events_through="5" instance="5eed0001"><ack sequence="12" hash="1a2b3c4e"/></reply>
//! ```

use printfleet_schema::limits::{MAX_JOBS, MAX_METERS, MAX_RECORDS};
use printfleet_schema::{MeterKind, PrintJob, RecordId, Snapshot};
use quick_xml::events::BytesStart;

use super::NAMESPACE;
use super::read::{Reader, Result, attrs, check_room};
use super::write::{self, Writer};
use crate::delta::{BaseRef, Delta, DeviceState, Instance, MeterChange, Records, Reply, StateHash, Update, UpdateBody};
use crate::error::XmlError;

// ---------------------------------------------------------------------------------------------
// Writing (the update is validated first)

fn hash_text(hash: StateHash) -> String {
    format!("{:08x}", hash.0)
}

fn instance_text(instance: Instance) -> String {
    format!("{:08x}", instance.0)
}

pub(super) fn write_update(w: &mut Writer<'_>, u: &Update) {
    w.open("update")
        .attr_raw("xmlns", NAMESPACE.as_bytes())
        .u64("sequence", u.sequence)
        .str("instance", &instance_text(u.instance))
        .children();
    match &u.body {
        UpdateBody::Full(state) => {
            w.open("full").children();
            write::identity(w, &state.identity);
            write::snapshot(w, &state.snapshot);
            w.close("full");
        }
        UpdateBody::Delta { base, delta } => write_delta(w, *base, delta),
    }
    for (event, job) in &u.events {
        w.open("print_job").u64("event", *event).children();
        write::header(w, &job.job);
        write::print(w, &job.print);
        w.close("print_job");
    }
    w.close("update");
}

fn write_records<T>(w: &mut Writer<'_>, list: &str, records: &Records<T>, mut record: impl FnMut(&mut Writer<'_>, &T)) {
    if records.is_empty() {
        return;
    }
    w.open(list).children();
    for r in &records.upserts {
        record(w, r);
    }
    for id in &records.removals {
        w.open("removed").u64("record_id", id.0).empty();
    }
    if let Some(order) = &records.order {
        let ids: Vec<String> = order.iter().map(|id| id.0.to_string()).collect();
        w.open("order").str("record_ids", &ids.join(" ")).empty();
    }
    w.close(list);
}

fn write_delta(w: &mut Writer<'_>, base: BaseRef, d: &Delta) {
    w.open("delta").u64("base_sequence", base.sequence).str("base_hash", &hash_text(base.hash));
    if d.is_empty() {
        w.empty();
        return;
    }
    w.children();
    if let Some(identity) = &d.identity {
        write::identity(w, identity);
    }
    if let Some(status) = &d.status {
        write::status(w, status);
    }
    for (id, level) in &d.levels {
        w.open("level").u64("record_id", id.0);
        write::level_attr(w, "level", *level);
        w.empty();
    }
    for (kind, change) in &d.meters {
        w.open("meter").str("kind", &kind.to_string());
        match change {
            MeterChange::Increase(by) => w.u64("increase", *by),
            MeterChange::Set(value) => w.u64("set", *value),
            MeterChange::Remove => w.bool("remove", true),
        };
        w.empty();
    }
    write_records(w, "consumables", &d.consumables, write::consumable);
    write_records(w, "alerts", &d.alerts, write::alert);
    write_records(w, "printheads", &d.printheads, write::printhead);
    write_records(w, "cartridges", &d.cartridges, write::cartridge);
    write_records(w, "media_sources", &d.media_sources, write::media_source);
    write_records(w, "accessories", &d.accessories, write::accessory);
    if let Some(types) = &d.media_types {
        if types.is_empty() {
            w.open("media_types").empty();
        } else {
            w.open("media_types").children();
            for t in types {
                write::media_type(w, t);
            }
            w.close("media_types");
        }
    }
    if let Some(settings) = &d.settings {
        write::settings(w, settings);
    }
    match &d.usage {
        Some(Some(usage)) => write::usage(w, usage),
        Some(None) => w.open("usage_removed").empty(),
        None => {}
    }
    w.close("delta");
}

pub(super) fn write_reply(w: &mut Writer<'_>, r: &Reply) {
    w.open("reply")
        .attr_raw("xmlns", NAMESPACE.as_bytes())
        .u64("events_through", r.events_through())
        .str("instance", &instance_text(r.instance()))
        .children();
    match r {
        Reply::Ack { state, .. } => {
            w.open("ack").u64("sequence", state.sequence).str("hash", &hash_text(state.hash)).empty();
        }
        Reply::Resync { .. } => w.open("resync").empty(),
    }
    w.close("reply");
}

// ---------------------------------------------------------------------------------------------
// Reading

fn required<T>(value: Option<T>, element: &'static str, attribute: &'static str) -> Result<T> {
    value.ok_or(XmlError::MissingAttribute { element, attribute })
}

pub(super) fn read_update(mut r: Reader<'_>) -> Result<Update> {
    let (start, has_children) = r.root("update")?;
    let (mut instance, mut sequence) = (Instance(0), None);
    attrs(&start, "update", |key, v| {
        match key {
            "instance" => instance = Instance(v.hash32()?),
            "sequence" => sequence = Some(v.u64()?),
            _ => {}
        }
        Ok(())
    })?;
    let sequence = required(sequence, "update", "sequence")?;
    let (mut body, mut events) = (None, Vec::new());
    if has_children {
        r.children("update", |r, name, start, has_children| {
            match name {
                "full" | "delta" if body.is_some() => {
                    return Err(XmlError::Forbidden("a second body in an update"));
                }
                "full" => {
                    let mut state = DeviceState::default();
                    if has_children {
                        r.children("full", |r, name, start, has_children| {
                            match name {
                                "identity" => state.identity = r.identity(start, has_children)?,
                                "snapshot" if has_children => state.snapshot = r.snapshot()?,
                                _ => {}
                            }
                            Ok(())
                        })?;
                    }
                    body = Some(UpdateBody::Full(Box::new(state)));
                }
                "delta" => {
                    let (base, delta) = read_delta(r, start, has_children)?;
                    body = Some(UpdateBody::Delta { base, delta: Box::new(delta) });
                }
                "print_job" => {
                    check_room(&events, "print_job", MAX_JOBS)?;
                    let mut event = None;
                    attrs(start, "print_job", |key, v| {
                        if key == "event" {
                            event = Some(v.u64()?);
                        }
                        Ok(())
                    })?;
                    let event = required(event, "print_job", "event")?;
                    let (job, _, print) = r.job("print_job", has_children)?;
                    let print = print.ok_or(XmlError::MissingElement { element: "print_job", child: "print" })?;
                    events.push((event, PrintJob { job, print }));
                }
                _ => {}
            }
            Ok(())
        })?;
    }
    r.end_of_document()?;
    let body = body.ok_or(XmlError::MissingElement { element: "update", child: "full or delta" })?;
    Ok(Update { instance, sequence, body, events })
}

fn read_delta(r: &mut Reader<'_>, start: &BytesStart<'_>, has_children: bool) -> Result<(BaseRef, Delta)> {
    let (mut sequence, mut hash) = (None, None);
    attrs(start, "delta", |key, v| {
        match key {
            "base_sequence" => sequence = Some(v.u64()?),
            "base_hash" => hash = Some(StateHash(v.hash32()?)),
            _ => {}
        }
        Ok(())
    })?;
    let base = BaseRef {
        sequence: required(sequence, "delta", "base_sequence")?,
        hash: required(hash, "delta", "base_hash")?,
    };
    let mut d = Delta::default();
    if !has_children {
        return Ok((base, d));
    }
    // Records carried whole are read as a snapshot's children are, into this scratch snapshot.
    let mut carried = Snapshot::default();
    r.children("delta", |r, name, start, has_children| {
        match name {
            "identity" => d.identity = Some(r.identity(start, has_children)?),
            "status" => {
                r.snapshot_child(&mut carried, name, start, has_children)?;
                d.status = Some(carried.status);
            }
            "level" => {
                check_room(&d.levels, "level", MAX_RECORDS)?;
                let (mut id, mut level) = (None, None);
                attrs(start, "level", |key, v| {
                    match key {
                        "record_id" => id = Some(RecordId(v.u64()?)),
                        "level" => level = Some(v.level()?),
                        _ => {}
                    }
                    Ok(())
                })?;
                d.levels.push((required(id, "level", "record_id")?, required(level, "level", "level")?));
            }
            "meter" => {
                if d.meters.len() >= MAX_METERS {
                    return Err(XmlError::TooMany { element: "meter", limit: MAX_METERS });
                }
                let (mut kind, mut change) = (None, None);
                let mut changes = 0u8;
                attrs(start, "meter", |key, v| {
                    let next = match key {
                        "kind" => {
                            kind = Some(v.parse::<MeterKind>()?);
                            return Ok(());
                        }
                        "increase" => MeterChange::Increase(v.u64()?),
                        "set" => MeterChange::Set(v.u64()?),
                        "remove" if v.bool()? => MeterChange::Remove,
                        "remove" => return Err(XmlError::BadValue { element: "meter", attribute: key.into() }),
                        _ => return Ok(()),
                    };
                    changes = changes.saturating_add(1);
                    change = Some(next);
                    Ok(())
                })?;
                if changes > 1 {
                    return Err(XmlError::BadValue { element: "meter", attribute: "increase".into() });
                }
                let kind = required(kind, "meter", "kind")?;
                let change = required(change, "meter", "increase")?;
                if d.meters.insert(kind, change).is_some() {
                    return Err(XmlError::BadValue { element: "meter", attribute: "kind".into() });
                }
            }
            "consumables" => {
                d.consumables = read_records(r, "consumables", "consumable", has_children, |s| &mut s.consumables)?;
            }
            "alerts" => d.alerts = read_records(r, "alerts", "alert", has_children, |s| &mut s.alerts)?,
            "printheads" => {
                d.printheads = read_records(r, "printheads", "printhead", has_children, |s| &mut s.printheads)?;
            }
            "cartridges" => {
                d.cartridges = read_records(r, "cartridges", "cartridge", has_children, |s| &mut s.cartridges)?;
            }
            "media_sources" => {
                d.media_sources =
                    read_records(r, "media_sources", "media_source", has_children, |s| &mut s.media_sources)?;
            }
            "accessories" => {
                d.accessories = read_records(r, "accessories", "accessory", has_children, |s| &mut s.accessories)?;
            }
            "media_types" => {
                let mut list = Snapshot::default();
                if has_children {
                    r.children("media_types", |r, name, start, has_children| {
                        if name == "media_type" {
                            r.snapshot_child(&mut list, name, start, has_children)?;
                        }
                        Ok(())
                    })?;
                }
                d.media_types = Some(list.media_types);
            }
            "settings" => {
                r.snapshot_child(&mut carried, name, start, has_children)?;
                d.settings = Some(core::mem::take(&mut carried.settings));
            }
            "usage" => {
                r.snapshot_child(&mut carried, name, start, has_children)?;
                d.usage = Some(carried.usage.take());
            }
            "usage_removed" => d.usage = Some(None),
            _ => {}
        }
        Ok(())
    })?;
    Ok((base, d))
}

/// Reads `<list>`: `<record>` upserts, `<removed record_id=".."/>` and `<order record_ids=".."/>`.
fn read_records<T>(
    r: &mut Reader<'_>,
    list: &'static str,
    record: &'static str,
    has_children: bool,
    take: fn(&mut Snapshot) -> &mut Vec<T>,
) -> Result<Records<T>> {
    let mut out = Records::default();
    if !has_children {
        return Ok(out);
    }
    let mut carried = Snapshot::default();
    r.children(list, |r, name, start, has_children| {
        match name {
            "removed" => {
                check_room(&out.removals, "removed", MAX_RECORDS)?;
                let mut id = None;
                attrs(start, "removed", |key, v| {
                    if key == "record_id" {
                        id = Some(RecordId(v.u64()?));
                    }
                    Ok(())
                })?;
                out.removals.push(required(id, "removed", "record_id")?);
            }
            "order" => {
                let mut ids = None;
                attrs(start, "order", |key, v| {
                    if key == "record_ids" {
                        ids = Some(v.record_ids(MAX_RECORDS)?);
                    }
                    Ok(())
                })?;
                out.order = Some(required(ids, "order", "record_ids")?);
            }
            // Only this list's own records; the snapshot reader checks the list's limit.
            name if name == record => r.snapshot_child(&mut carried, name, start, has_children)?,
            _ => {}
        }
        Ok(())
    })?;
    out.upserts = core::mem::take(take(&mut carried));
    Ok(out)
}

pub(super) fn read_reply(mut r: Reader<'_>) -> Result<Reply> {
    let (start, has_children) = r.root("reply")?;
    let (mut instance, mut events_through) = (Instance(0), None);
    attrs(&start, "reply", |key, v| {
        match key {
            "instance" => instance = Instance(v.hash32()?),
            "events_through" => events_through = Some(v.u64()?),
            _ => {}
        }
        Ok(())
    })?;
    let events_through = required(events_through, "reply", "events_through")?;
    let mut reply = None;
    if has_children {
        r.children("reply", |_, name, start, _| {
            let next = match name {
                "ack" => {
                    let (mut sequence, mut hash) = (None, None);
                    attrs(start, "ack", |key, v| {
                        match key {
                            "sequence" => sequence = Some(v.u64()?),
                            "hash" => hash = Some(StateHash(v.hash32()?)),
                            _ => {}
                        }
                        Ok(())
                    })?;
                    let state = BaseRef {
                        sequence: required(sequence, "ack", "sequence")?,
                        hash: required(hash, "ack", "hash")?,
                    };
                    Reply::Ack { instance, state, events_through }
                }
                "resync" => Reply::Resync { instance, events_through },
                _ => return Ok(()),
            };
            if reply.replace(next).is_some() {
                return Err(XmlError::Forbidden("a second answer in a reply"));
            }
            Ok(())
        })?;
    }
    r.end_of_document()?;
    reply.ok_or(XmlError::MissingElement { element: "reply", child: "ack or resync" })
}
