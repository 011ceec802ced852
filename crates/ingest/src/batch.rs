//! What one accepted frame asks the store to write, and what survives a restart.

use std::sync::Arc;

use printfleet_diff::DeviceState;
use printfleet_diff::sync::{Instance, ReceiverState};
#[cfg(doc)]
use printfleet_diff::sync::{RECENT_JOBS, Receiver};
use printfleet_meter::{DeviceId, JobRecord, Observation};
use printfleet_schema::{Alert, Identity, Level, PrintJob, RecordId, Timestamp};
use printfleet_wire::Codec;
use printfleet_wire::frame::{FrameHeader, KeyId, SenderId, WindowState};
use uuid::Uuid;

/// The writes of one accepted frame, to be stored in **one transaction** before the reply may
/// leave ([`crate::Ingest::commit`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Writes {
    /// The device.
    pub device: SenderId,
    /// The position it is metered under.
    pub meter_device: DeviceId,
    /// When the portal received the frame (the caller's clock).
    pub received_at: Timestamp,
    /// When the device sealed it (its clock, within the frame layer's skew tolerance): the time
    /// of the readings it carries.
    pub sealed_at: Timestamp,
    /// The update's agent instance and sequence number (the meter's idempotency key).
    pub instance: Instance,
    /// The update's sequence number.
    pub sequence: u64,
    /// The device's new state, if the update was applied (`None`: a duplicate, or a delta the
    /// receiver could not apply: see [`Writes::resync`]). Shared with the device's receiver,
    /// which changes it in place on the device's next update unless this is still held (then
    /// it copies it first): drop the batch once stored and committed.
    pub state: Option<Arc<DeviceState>>,
    /// The new identity, if it changed (a new address, firmware, ...): an identity-history row.
    pub identity_changed: Option<Identity>,
    /// Job events received for the first time (each exactly once over the device's life).
    pub jobs: Vec<PrintJob>,
    /// Alerts raised or changed since the last stored state (whatever base the update was sent
    /// against, and after an aborted batch too: each change is written once).
    pub alerts_raised: Vec<Alert>,
    /// Alerts cleared since the last stored state.
    pub alerts_cleared: Vec<RecordId>,
    /// Consumable levels read (changed ones, or all of them on a full snapshot).
    pub levels: Vec<(RecordId, Level)>,
    /// Meter values for `printfleet-meter`.
    pub observations: Vec<Observation>,
    /// Job records for `printfleet-meter`'s reconciliation.
    pub job_records: Vec<JobRecord>,
    /// The one-shot replay window that changed (key id and window) as it must be persisted;
    /// `None` for a frame of a session, whose window lives and dies with the session.
    pub window: Option<(KeyId, WindowState)>,
    /// The receiver's state as it must be persisted, without the UUIDs of recent jobs
    /// ([`Receiver::save_without_recent_jobs`]): those are the UUIDs of [`Writes::jobs`], stored
    /// with them, and given back at a restart in [`SavedDevice::recent_jobs`]. (A job-heavy
    /// device's window of them is 80 KB of JSON: written with every update, it cut durable
    /// ingest of such a fleet to 0.6 times.)
    pub receiver: ReceiverState,
    /// The reply asks the device for a full snapshot.
    pub resync: bool,
}

/// One accepted frame: its [`Writes`] and the reply held back until the caller has stored them.
///
/// Not `Clone`: hand it back once, to [`crate::Ingest::commit`] once its writes are durable or
/// to [`crate::Ingest::abort`] if they could not be stored.
#[must_use = "store the writes, then commit (or abort) the batch"]
#[derive(Debug)]
pub struct Batch {
    pub(crate) id: u64,
    pub(crate) route: Route,
    pub(crate) writes: Writes,
    pub(crate) request: FrameHeader,
    pub(crate) codec: Codec,
    pub(crate) reply: Vec<u8>,
}

impl Batch {
    /// A number unique among this ingest's batches (for logs).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// What to store.
    pub fn writes(&self) -> &Writes {
        &self.writes
    }

    /// The device it concerns.
    pub fn device(&self) -> SenderId {
        self.writes.device
    }
}

/// How a batch's frame arrived, and so how its reply is sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// A one-shot frame: the keyring seals the reply.
    OneShot,
    /// A frame of a session: its channel seals the reply.
    Session(crate::SessionHandle),
    /// An entry of a bundle: the bundle's reply answers it ([`crate::Ingest::commit_bundle`]).
    Bundle,
}

/// One accepted bundle (docs/wire-format.md §5.9): a [`Batch`] per entry applied, and the bundle
/// reply held back until the caller has stored all of them.
///
/// Not `Clone`: hand it back once, to [`crate::Ingest::commit_bundle`] once every batch's writes
/// are durable or to [`crate::Ingest::abort_bundle`] if they could not be stored.
#[must_use = "store the batches' writes, then commit (or abort) the bundle"]
#[derive(Debug)]
pub struct Bundle {
    pub(crate) id: u64,
    pub(crate) handle: crate::SessionHandle,
    pub(crate) request: FrameHeader,
    pub(crate) batches: Vec<Batch>,
    /// Per entry, in order: the index of its batch, or `None` if it was refused.
    pub(crate) answers: Vec<Option<usize>>,
}

impl Bundle {
    /// A number unique among this ingest's batches and bundles (for logs).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The batches of the entries applied, in the bundle's order: store all their writes in
    /// one transaction.
    pub fn batches(&self) -> &[Batch] {
        &self.batches
    }

    /// The bundle's entries.
    pub fn entries(&self) -> usize {
        self.answers.len()
    }

    /// Entries refused (answered with nothing).
    pub fn refused(&self) -> usize {
        self.answers.iter().filter(|a| a.is_none()).count()
    }

    /// The collector that sent it.
    pub fn collector(&self) -> SenderId {
        self.request.sender_id
    }
}

/// What the store gives back for one device at a restart: the state of the last committed batch.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedDevice {
    /// The device.
    pub device: SenderId,
    /// The receiver's state ([`Writes::receiver`] of the last committed batch).
    pub receiver: ReceiverState,
    /// The UUIDs of the device's jobs stored so far, in the order stored ([`Writes::jobs`] of
    /// every committed batch, batch after batch): at least the last [`RECENT_JOBS`] of them
    /// (earlier ones are ignored). The receiver drops a job whose UUID it remembers: without
    /// them, a job that an agent records again after losing its own state would be taken
    /// twice. Empty: the receiver keeps the UUIDs its state holds (none, unless it was saved
    /// whole with `Receiver::save`).
    pub recent_jobs: Vec<Uuid>,
    /// Its replay windows, per key id.
    pub windows: Vec<(KeyId, WindowState)>,
    /// The device's current state as stored: the baseline against which the next full snapshot
    /// is compared (so that alerts and levels already recorded are not recorded again).
    pub state: Option<DeviceState>,
}
