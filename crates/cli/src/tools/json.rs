//! The JSON form of the change-detection messages ([`Update`], [`Reply`]) that `printfleet
//! seal` reads and `printfleet open` / `inspect` print. It is a form for people and test
//! fixtures, **not a wire encoding**: updates and replies travel as protobuf or XML
//! (`docs/wire-format.md` §5.8), and a frame whose codec is JSON carries a report.
//!
//! It follows the XML form: the records inside are the schema's JSON (`docs/schema.md`),
//! hashes are 8 lowercase hex digits, a delta names its base by sequence number and hash.
//!
//! ```json
//! {"instance": 1592642302, "sequence": 14600,
//!  "delta": {"base": {"sequence": 14599, "hash": "a7b49691"},
//!            "levels": [{"record_id": 1, "level": 62}],
//!            "meters": {"total": {"increase": 57}, "vendor:x": {"set": 3}, "mono": "remove"},
//!            "alerts": {"upserts": [], "removals": [4], "order": [1, 2]},
//!            "usage_removed": true},
//!  "events": [{"event": 1, "job": {"job": {}, "print": {}}}]}
//! {"instance": 1592642302, "events_through": 12, "ack": {"sequence": 14600, "hash": "16c2e707"}}
//! {"instance": 1592642302, "events_through": 12, "resync": true}
//! ```
//!
//! An update has exactly one of `full` (`{"identity": ..., "snapshot": ...}`) and `delta`; a
//! delta's parts are present only when they changed (`usage_removed` says the device stopped
//! reporting usage). Unknown fields are refused, so that a misspelt part is not silently
//! dropped. What [`update_from_json`] returns has passed [`Update::validate`].

use std::collections::BTreeMap;

use printfleet_schema::{
    Accessory, Alert, Consumable, DeviceStatus, Identity, InkCartridge, Level, MediaSource, MediaType, MeterKind,
    PrintJob, Printhead, RecordId, Settings, Snapshot, Usage,
};
use printfleet_wire::delta::{
    BaseRef, Delta, DeviceState, Instance, MeterChange, Records, Reply, StateHash, Update, UpdateBody,
};
use serde::{Deserialize, Serialize};

use super::ToolError;

/// A state hash as 8 lowercase hex digits.
mod hash_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(hash: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{hash:08x}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let text = <&str>::deserialize(d)?;
        if text.len() != 8 {
            return Err(serde::de::Error::custom("a state hash is 8 hex digits"));
        }
        u32::from_str_radix(text, 16).map_err(serde::de::Error::custom)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateJson {
    instance: u32,
    sequence: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    full: Option<StateJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delta: Option<DeltaJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    events: Vec<EventJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateJson {
    #[serde(default)]
    identity: Identity,
    #[serde(default)]
    snapshot: Snapshot,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventJson {
    event: u64,
    job: PrintJob,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaseJson {
    sequence: u64,
    #[serde(with = "hash_hex")]
    hash: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelJson {
    record_id: RecordId,
    level: Level,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum MeterChangeJson {
    Increase(u64),
    Set(u64),
    Remove,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsJson<T> {
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    upserts: Vec<T>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    removals: Vec<RecordId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order: Option<Vec<RecordId>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaJson {
    base: BaseJson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<DeviceStatus>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    meters: BTreeMap<MeterKind, MeterChangeJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    levels: Vec<LevelJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consumables: Option<RecordsJson<Consumable>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alerts: Option<RecordsJson<Alert>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    printheads: Option<RecordsJson<Printhead>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cartridges: Option<RecordsJson<InkCartridge>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_sources: Option<RecordsJson<MediaSource>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accessories: Option<RecordsJson<Accessory>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_types: Option<Vec<MediaType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    settings: Option<Settings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "is_false")]
    usage_removed: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyJson {
    instance: u32,
    events_through: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ack: Option<BaseJson>,
    #[serde(default, skip_serializing_if = "is_false")]
    resync: bool,
}

// serde's `skip_serializing_if` hands a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

fn records_to_json<T>(r: Records<T>) -> Option<RecordsJson<T>> {
    (!r.is_empty()).then_some(RecordsJson { upserts: r.upserts, removals: r.removals, order: r.order })
}

fn records_from_json<T>(r: Option<RecordsJson<T>>) -> Records<T> {
    r.map_or_else(Records::default, |r| Records { upserts: r.upserts, removals: r.removals, order: r.order })
}

fn base_json(base: BaseRef) -> BaseJson {
    BaseJson { sequence: base.sequence, hash: base.hash.0 }
}

fn base_ref(base: &BaseJson) -> BaseRef {
    BaseRef { sequence: base.sequence, hash: StateHash(base.hash) }
}

/// The JSON form of `update` (see the module docs).
pub fn update_to_json(update: &Update) -> serde_json::Value {
    let update = update.clone();
    let (full, delta) = match update.body {
        UpdateBody::Full(state) => {
            let DeviceState { identity, snapshot } = *state;
            (Some(StateJson { identity, snapshot }), None)
        }
        UpdateBody::Delta { base, delta } => {
            let d = *delta;
            let (usage, usage_removed) = match d.usage {
                None => (None, false),
                Some(None) => (None, true),
                Some(Some(u)) => (Some(u), false),
            };
            let meters = d
                .meters
                .into_iter()
                .map(|(kind, change)| {
                    let change = match change {
                        MeterChange::Increase(n) => MeterChangeJson::Increase(n),
                        MeterChange::Set(n) => MeterChangeJson::Set(n),
                        MeterChange::Remove => MeterChangeJson::Remove,
                    };
                    (kind, change)
                })
                .collect();
            let delta = DeltaJson {
                base: base_json(base),
                identity: d.identity,
                status: d.status,
                meters,
                levels: d.levels.into_iter().map(|(record_id, level)| LevelJson { record_id, level }).collect(),
                consumables: records_to_json(d.consumables),
                alerts: records_to_json(d.alerts),
                printheads: records_to_json(d.printheads),
                cartridges: records_to_json(d.cartridges),
                media_sources: records_to_json(d.media_sources),
                accessories: records_to_json(d.accessories),
                media_types: d.media_types,
                settings: d.settings,
                usage,
                usage_removed,
            };
            (None, Some(delta))
        }
    };
    let json = UpdateJson {
        instance: update.instance.0,
        sequence: update.sequence,
        full,
        delta,
        events: update.events.into_iter().map(|(event, job)| EventJson { event, job }).collect(),
    };
    serde_json::to_value(json).unwrap_or_default()
}

/// Reads an update from its JSON form (see the module docs) and checks it with
/// [`Update::validate`].
pub fn update_from_json(input: &[u8]) -> Result<Update, ToolError> {
    let json: UpdateJson =
        serde_json::from_slice(input).map_err(|e| ToolError::Input { what: "update", detail: e.to_string() })?;
    let body = match (json.full, json.delta) {
        (Some(state), None) => {
            UpdateBody::Full(Box::new(DeviceState { identity: state.identity, snapshot: state.snapshot }))
        }
        (None, Some(d)) => {
            if d.usage.is_some() && d.usage_removed {
                return Err(ToolError::Input {
                    what: "update",
                    detail: "a delta has `usage` or `usage_removed`, not both".into(),
                });
            }
            let usage = if d.usage_removed { Some(None) } else { d.usage.map(Some) };
            let meters = d
                .meters
                .into_iter()
                .map(|(kind, change)| {
                    let change = match change {
                        MeterChangeJson::Increase(n) => MeterChange::Increase(n),
                        MeterChangeJson::Set(n) => MeterChange::Set(n),
                        MeterChangeJson::Remove => MeterChange::Remove,
                    };
                    (kind, change)
                })
                .collect();
            let delta = Delta {
                identity: d.identity,
                status: d.status,
                meters,
                levels: d.levels.into_iter().map(|l| (l.record_id, l.level)).collect(),
                consumables: records_from_json(d.consumables),
                alerts: records_from_json(d.alerts),
                printheads: records_from_json(d.printheads),
                cartridges: records_from_json(d.cartridges),
                media_sources: records_from_json(d.media_sources),
                accessories: records_from_json(d.accessories),
                media_types: d.media_types,
                settings: d.settings,
                usage,
            };
            UpdateBody::Delta { base: base_ref(&d.base), delta: Box::new(delta) }
        }
        _ => {
            return Err(ToolError::Input {
                what: "update",
                detail: "an update has exactly one of `full` and `delta`".into(),
            });
        }
    };
    let update = Update {
        instance: Instance(json.instance),
        sequence: json.sequence,
        body,
        events: json.events.into_iter().map(|e| (e.event, e.job)).collect(),
    };
    update.validate().map_err(|e| ToolError::Input { what: "update", detail: e.to_string() })?;
    Ok(update)
}

/// The JSON form of `reply` (see the module docs).
pub fn reply_to_json(reply: &Reply) -> serde_json::Value {
    let json = match *reply {
        Reply::Ack { instance, state, events_through } => {
            ReplyJson { instance: instance.0, events_through, ack: Some(base_json(state)), resync: false }
        }
        Reply::Resync { instance, events_through } => {
            ReplyJson { instance: instance.0, events_through, ack: None, resync: true }
        }
    };
    serde_json::to_value(json).unwrap_or_default()
}

/// Reads a reply from its JSON form (see the module docs).
pub fn reply_from_json(input: &[u8]) -> Result<Reply, ToolError> {
    let json: ReplyJson =
        serde_json::from_slice(input).map_err(|e| ToolError::Input { what: "reply", detail: e.to_string() })?;
    match (json.ack, json.resync) {
        (Some(ack), false) => Ok(Reply::Ack {
            instance: Instance(json.instance),
            state: base_ref(&ack),
            events_through: json.events_through,
        }),
        (None, true) => Ok(Reply::Resync { instance: Instance(json.instance), events_through: json.events_through }),
        _ => Err(ToolError::Input {
            what: "reply",
            detail: "a reply has exactly one of `ack` and `resync: true`".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_updates_and_replies_round_trip_through_json() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../diff/testdata/");
        for name in ["update_full", "update_steady", "update_every_part"] {
            let bytes = std::fs::read(format!("{dir}{name}.pb")).unwrap();
            let update = printfleet_wire::protobuf::decode_update(&bytes).unwrap();
            let json = serde_json::to_vec(&update_to_json(&update)).unwrap();
            assert_eq!(update_from_json(&json).unwrap(), update, "{name}");
        }
        for name in ["reply_ack", "reply_resync"] {
            let bytes = std::fs::read(format!("{dir}{name}.pb")).unwrap();
            let reply = printfleet_wire::protobuf::decode_reply(&bytes).unwrap();
            let json = serde_json::to_vec(&reply_to_json(&reply)).unwrap();
            assert_eq!(reply_from_json(&json).unwrap(), reply, "{name}");
        }
    }

    #[test]
    fn the_documented_form_reads() {
        let update = update_from_json(
            br#"{"instance": 1592642302, "sequence": 14600,
                 "delta": {"base": {"sequence": 14599, "hash": "a7b49691"},
                           "levels": [{"record_id": 1, "level": 62}],
                           "meters": {"total": {"increase": 57}, "vendor:x": {"set": 3}, "mono": "remove"},
                           "alerts": {"removals": [4]},
                           "usage_removed": true}}"#,
        )
        .unwrap();
        let UpdateBody::Delta { base, delta } = &update.body else { panic!("a delta") };
        assert_eq!(*base, BaseRef { sequence: 14599, hash: StateHash(0xa7b4_9691) });
        assert_eq!(delta.levels, vec![(RecordId(1), Level::Amount(62))]);
        assert_eq!(delta.meters.len(), 3);
        assert_eq!(delta.alerts.removals, vec![RecordId(4)]);
        assert_eq!(delta.usage, Some(None));
        let reply =
            reply_from_json(br#"{"instance": 7, "events_through": 12, "ack": {"sequence": 3, "hash": "16c2e707"}}"#)
                .unwrap();
        assert_eq!(reply.events_through(), 12);
    }

    #[test]
    fn ambiguous_or_misspelt_messages_are_refused() {
        for bad in [
            &br#"{"instance": 1, "sequence": 1}"#[..],
            br#"{"instance": 1, "sequence": 2, "full": {}, "delta": {"base": {"sequence": 1, "hash": "00000000"}}}"#,
            br#"{"instance": 1, "sequence": 1, "full": {}, "evnts": []}"#,
            br#"{"instance": 1, "sequence": 2, "delta": {"base": {"sequence": 1, "hash": "0"}}}"#,
            // The base must be earlier (Update::validate).
            br#"{"instance": 1, "sequence": 2, "delta": {"base": {"sequence": 2, "hash": "00000000"}}}"#,
            br#"{"instance": 1, "sequence": 2, "delta": {"base": {"sequence": 1, "hash": "00000000"}, "usage": {}, "usage_removed": true}}"#,
        ] {
            assert!(update_from_json(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(reply_from_json(br#"{"instance": 1, "events_through": 0}"#).is_err());
        assert!(
            reply_from_json(
                br#"{"instance": 1, "events_through": 0, "resync": true, "ack": {"sequence": 1, "hash": "00000000"}}"#
            )
            .is_err()
        );
    }
}
