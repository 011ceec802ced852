//! Errors and refusal reasons.

use printfleet_wire::frame::{RejectReason, SealError, SenderId};

/// Why a frame was refused. The device (or whoever sent it) is told only "rejected"
/// ([`IngestError::Rejected`]'s `Display`); the reason is for logs and counters
/// ([`crate::Counters::refused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// The frame layer refused it (syntax, tag, replay, kind, time, size).
    Frame(RejectReason),
    /// No such device, or no such key epoch.
    Unknown,
    /// The device or the epoch is revoked.
    Revoked,
    /// It opened (so the device sealed it) but its payload is not a valid update: a misbehaving
    /// or broken device.
    Malformed,
    /// A bundle's entry for a device that is not the collector's (§5.9): a collector may report
    /// only the devices provisioned with it as their collector.
    NotItsCollector,
    /// A bundle's entry for a device that has a batch in flight (an earlier frame of it not yet
    /// committed): left unanswered, the device sends again.
    InFlight,
}

/// Why an ingest call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The frame is refused; answer "rejected" and nothing else.
    #[error("frame rejected")]
    Rejected(Refusal),
    /// The secret store cannot answer now: neither accepted nor refused (answer "try later").
    #[error("secret store unavailable")]
    Unavailable,
    /// The device has a batch not yet committed or aborted: frames of one device are applied one
    /// at a time (answer "try later").
    #[error("device {0} has a batch in flight")]
    Busy(SenderId),
    /// A batch that is not the one in flight for its device (committed or aborted already, or
    /// from another ingest).
    #[error("batch {id} is not in flight")]
    StaleBatch {
        /// The batch's id.
        id: u64,
    },
    /// The reply could not be sealed (the key was revoked between apply and commit): the
    /// writes are stored, the device will retry and be refused.
    #[error("reply not sealed: {0}")]
    Seal(SealError),
    /// The reply could not be encoded.
    #[error("reply not encoded: {0}")]
    Encode(printfleet_wire::Error),
    /// The session is not open (closed, expired, ended by a revocation, or never opened).
    #[error("session closed")]
    SessionClosed,
    /// [`crate::MAX_SESSIONS`] sessions are open.
    #[error("too many sessions")]
    TooManySessions,
    /// A device-side session was handed to the portal.
    #[error("not the portal's end of a session")]
    NotPortalSession,
    /// A device name empty or longer than [`crate::MAX_DEVICE_NAME_BYTES`].
    #[error("device name of {len} bytes is empty or too long")]
    BadName {
        /// Its length.
        len: usize,
    },
    /// More than [`crate::MAX_EPOCHS_PER_DEVICE`] credentials.
    #[error("{count} key epochs is more than a device may hold")]
    TooManyEpochs {
        /// How many.
        count: usize,
    },
    /// Two credentials for one epoch.
    #[error("two credentials for one key epoch")]
    DuplicateEpoch,
    /// A device of that name or sender id exists.
    #[error("device {0} is already provisioned")]
    AlreadyProvisioned(SenderId),
    /// No such device.
    #[error("no device {0}")]
    UnknownDevice(SenderId),
    /// A saved receiver state does not restore.
    #[error("saved state of device {device} refused: {source}")]
    Restore {
        /// The device.
        device: SenderId,
        /// Why.
        source: printfleet_diff::sync::RestoreError,
    },
}
