//! The messages of printfleet's change-detection protocol: a device's state, the [`Delta`]
//! between two states, and the [`Update`] and [`Reply`] an agent and a receiver exchange.
//!
//! These are data only. `printfleet-diff` computes and applies deltas and runs the agent and
//! receiver state machines; this crate encodes the messages ([`crate::protobuf::encode_update`],
//! [`crate::xml::encode_update`] and their `reply` and `decode` siblings), so they live beside
//! their codecs, as prost's messages do. `printfleet-diff` re-exports every type here.
//!
//! `docs/wire-format.md` §5.8 specifies the exchange and both encodings.

use std::collections::BTreeMap;

use printfleet_schema::limits::{MAX_JOBS, MAX_METERS, MAX_RECORDS};
use printfleet_schema::{
    Accessory, Alert, Consumable, DeviceReport, DeviceStatus, Events, Identity, InkCartridge, Level, MediaSource,
    MediaType, MeterKind, PrintJob, Printhead, RecordId, Settings, Snapshot, Usage,
};
use prost::Message as _;
use sha2::{Digest, Sha256};

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

impl printfleet_schema::Redact for DeviceState {
    /// Redacts the identity; the snapshot holds no personal field
    /// ([`printfleet_schema::redact::PersonalField`]).
    fn redact(&mut self, policy: &printfleet_schema::Redaction) {
        printfleet_schema::Redact::redact(&mut self.identity, policy);
    }
}

impl DeviceState {
    /// Checks the state with the rules of [`DeviceReport::validate`].
    pub fn validate(&self) -> Result<(), printfleet_schema::Error> {
        self.identity.validate()?;
        self.snapshot.validate()
    }
}

/// How one meter changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

    /// Checks every list against [`MAX_RECORDS`] (what a decoder accepts).
    fn check_counts(&self, field: &'static str) -> Result<(), printfleet_schema::Error> {
        count(field, self.upserts.len(), MAX_RECORDS)?;
        count(field, self.removals.len(), MAX_RECORDS)?;
        count(field, self.order.as_ref().map_or(0, Vec::len), MAX_RECORDS)
    }
}

fn count(field: &'static str, count: usize, limit: usize) -> Result<(), printfleet_schema::Error> {
    if count > limit { Err(printfleet_schema::Error::TooManyItems { field, count, limit }) } else { Ok(()) }
}

/// The difference between two [`DeviceState`]s. Empty when nothing changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// The new identity, if it changed.
    pub identity: Option<Identity>,
    /// The new status, if it changed.
    pub status: Option<DeviceStatus>,
    /// Meter changes, at most one per meter.
    pub meters: BTreeMap<MeterKind, MeterChange>,
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

    /// Checks what an encoder writes and a decoder accepts: every list within its limit
    /// ([`MAX_RECORDS`] per list, [`MAX_METERS`] meters), and every record the delta carries
    /// whole valid as [`DeviceReport::validate`] would find it in a snapshot (upserts of one list
    /// with distinct ids). Whether the delta applies to a state is for `printfleet-diff` to say.
    pub fn validate(&self) -> Result<(), printfleet_schema::Error> {
        count("delta.meters", self.meters.len(), MAX_METERS)?;
        count("delta.levels", self.levels.len(), MAX_RECORDS)?;
        self.consumables.check_counts("delta.consumables")?;
        self.alerts.check_counts("delta.alerts")?;
        self.printheads.check_counts("delta.printheads")?;
        self.cartridges.check_counts("delta.cartridges")?;
        self.media_sources.check_counts("delta.media_sources")?;
        self.accessories.check_counts("delta.accessories")?;
        if let Some(identity) = &self.identity {
            identity.validate()?;
        }
        // The records the delta carries whole, gathered as a snapshot so that they are checked by
        // exactly the snapshot's rules. Levels are checked against capacities on application.
        let carried = Snapshot {
            consumables: self.consumables.upserts.clone(),
            alerts: self.alerts.upserts.clone(),
            printheads: self.printheads.upserts.clone(),
            cartridges: self.cartridges.upserts.clone(),
            media_sources: self.media_sources.upserts.clone(),
            accessories: self.accessories.upserts.clone(),
            media_types: self.media_types.clone().unwrap_or_default(),
            settings: self.settings.clone().unwrap_or_default(),
            usage: self.usage.clone().flatten(),
            ..Snapshot::default()
        };
        carried.validate()
    }
}

/// A short hash of a state: the first 4 bytes, big-endian, of SHA-256 over the state's canonical
/// protobuf encoding (a `DeviceReport` with the state's identity and snapshot, no events, and
/// `generated_at` 0). It detects a wrong base, not an attacker: frames authenticate the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateHash(pub u32);

impl StateHash {
    /// The hash of `state`.
    pub fn of(state: &DeviceState) -> Self {
        Self::of_sized(state).0
    }

    /// The hash of `state` and the length in bytes of the canonical encoding it is computed
    /// over (a measure of the state's size, from one encoding).
    pub fn of_sized(state: &DeviceState) -> (Self, usize) {
        Self::of_sized_in(state, &mut Vec::new())
    }

    /// [`StateHash::of_sized`] with a caller-owned scratch buffer: `scratch` is cleared and left
    /// holding the state's canonical bytes, so that a receiver hashing a state per update reuses
    /// one allocation.
    pub fn of_sized_in(state: &DeviceState, scratch: &mut Vec<u8>) -> (Self, usize) {
        scratch.clear();
        crate::protobuf::encode_state(state, scratch);
        (Self::of_canonical(scratch), scratch.len())
    }

    /// The hash of a state's canonical bytes (as [`StateHash::of_sized_in`] leaves them).
    fn of_canonical(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        Self(digest.first_chunk::<4>().map_or(0, |b| u32::from_be_bytes(*b)))
    }

    /// [`StateHash::of_sized`] through the prost-generated messages: the oracle the direct
    /// encoding of the hashed bytes is tested against, and the baseline its benchmark runs
    /// beside. Not a stable API.
    #[doc(hidden)]
    pub fn of_sized_with_prost(state: &DeviceState) -> (Self, usize) {
        let message = crate::pb::DeviceReport {
            generated_at: 0,
            identity: Some((&state.identity).into()),
            snapshot: Some((&state.snapshot).into()),
            events: None,
        };
        let bytes = message.encode_to_vec();
        (Self::of_canonical(&bytes), bytes.len())
    }
}

/// A state the receiver holds, named by the sequence number of the update that produced it and
/// its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseRef {
    /// The update that produced it.
    pub sequence: u64,
    /// Its hash.
    pub hash: StateHash,
}

/// Which run of an agent sent an update: a random number drawn when an agent starts without
/// saved state, and kept in its saved state across restarts. Update and event sequence numbers
/// count per instance, so a receiver that sees a new instance knows that the numbering started
/// again (the device lost its saved state) instead of taking the new numbers for old ones. A
/// reply names the instance it answers, so that an agent ignores replies meant for an earlier
/// instance. 32 bits, so that a steady-state update stays small: two instances of one device
/// collide with probability 2^-32 per lost state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instance(pub u32);

/// What the agent sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The agent instance that sent it.
    pub instance: Instance,
    /// This update's sequence number (strictly increasing per agent instance, from 1).
    pub sequence: u64,
    /// The state change.
    pub body: UpdateBody,
    /// Job events not yet acknowledged, with their event sequence numbers, oldest first; at most
    /// [`MAX_JOBS`].
    pub events: Vec<(u64, PrintJob)>,
}

/// A full snapshot or a delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateBody {
    /// The whole state (first contact, after a resync request).
    Full(Box<DeviceState>),
    /// The change from `base`, an earlier update (`base.sequence < sequence`).
    Delta {
        /// The state the delta applies to.
        base: BaseRef,
        /// The change.
        delta: Box<Delta>,
    },
}

impl Update {
    /// Checks what an encoder writes and a decoder accepts: a full state passes
    /// [`DeviceState::validate`], a delta [`Delta::validate`] and names an earlier base, and the
    /// events are at most [`MAX_JOBS`] valid print jobs.
    pub fn validate(&self) -> Result<(), crate::Error> {
        match &self.body {
            UpdateBody::Full(state) => state.validate()?,
            UpdateBody::Delta { base, delta } => {
                if base.sequence >= self.sequence {
                    return Err(crate::Error::BaseNotEarlier { base: base.sequence, sequence: self.sequence });
                }
                delta.validate()?;
            }
        }
        count("update.events", self.events.len(), MAX_JOBS)?;
        Ok(Events::validate_print_jobs(self.events.iter().map(|(_, job)| job))?)
    }
}

/// What the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The receiver now holds the state `state` names (its hash computed by the receiver, so
    /// that the agent can tell a state that differs from its own), and every job event up to
    /// `events_through`.
    Ack {
        /// The agent instance whose update this answers.
        instance: Instance,
        /// The state it holds.
        state: BaseRef,
        /// The highest event sequence number below which it has every event.
        events_through: u64,
    },
    /// The receiver cannot apply the delta (it lacks the base): send a full snapshot.
    Resync {
        /// The agent instance whose update this answers.
        instance: Instance,
        /// The highest event sequence number below which it has every event.
        events_through: u64,
    },
}

impl Reply {
    /// The agent instance whose update this answers.
    pub fn instance(&self) -> Instance {
        match self {
            Self::Ack { instance, .. } | Self::Resync { instance, .. } => *instance,
        }
    }

    /// The highest event sequence number below which the receiver has every event.
    pub fn events_through(&self) -> u64 {
        match self {
            Self::Ack { events_through, .. } | Self::Resync { events_through, .. } => *events_through,
        }
    }
}
