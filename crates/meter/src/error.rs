//! The crate's one error type.

use printfleet_schema::Timestamp;

use crate::{Category, ContractId, DeviceId, PeriodId};

/// Everything that can go wrong while metering or billing.
///
/// Messages are lowercase without a trailing period; fields carry the figures.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MeterError {
    /// The observation or job names a device that was never added.
    #[error("unknown device {device:?}")]
    UnknownDevice {
        /// The device.
        device: DeviceId,
    },
    /// The device or contract names a contract that was never added.
    #[error("unknown contract {contract:?}")]
    UnknownContract {
        /// The contract.
        contract: ContractId,
    },
    /// A device or contract with this id exists already.
    #[error("{what} already exists")]
    AlreadyExists {
        /// `"device"` or `"contract"`.
        what: &'static str,
    },
    /// The observation is older than the late window allows: it is not billed, and is listed
    /// in the next [`Closing::rejected`](crate::Closing::rejected).
    #[error("observation at {observed_at:?} is older than the late window (accepted from {accepted_from:?})")]
    TooLate {
        /// When the rejected value was observed.
        observed_at: Timestamp,
        /// The oldest instant still accepted for the device's contract.
        accepted_from: Timestamp,
    },
    /// The observation lies more than [`MAX_PERIODS_AHEAD`](crate::limits::MAX_PERIODS_AHEAD)
    /// periods after the contract's oldest open period (a device clock far ahead, or periods
    /// not being closed): not recorded; it may be sent again after closing periods.
    #[error("observation at {observed_at:?} is too far ahead of the open period (accepted until {accepted_until:?})")]
    TooEarly {
        /// When the refused value was observed.
        observed_at: Timestamp,
        /// The first instant not accepted.
        accepted_until: Timestamp,
    },
    /// The idempotency key was seen before with a different observation time: the caller
    /// derived two different reports' keys alike.
    #[error("idempotency key reused with a different observation time")]
    KeyReused {
        /// The device.
        device: DeviceId,
    },
    /// Two observations of the same meter at the same instant disagree.
    #[error("conflicting readings of {kind} at {observed_at:?}: {existing} then {new}")]
    ConflictingReading {
        /// The meter.
        kind: Category,
        /// The instant.
        observed_at: Timestamp,
        /// The value kept.
        existing: u64,
        /// The value refused.
        new: u64,
    },
    /// A bound on retained state was reached (see [`limits`](crate::limits)).
    #[error("limit reached: {limit} (at most {max})")]
    LimitReached {
        /// The limit's name.
        limit: &'static str,
        /// Its value.
        max: usize,
    },
    /// The period cannot be closed before it has ended.
    #[error("period {period:?} ends at {ends_at:?}, after now")]
    PeriodNotOver {
        /// The contract's oldest open period.
        period: PeriodId,
        /// Its end.
        ends_at: Timestamp,
    },
    /// The contract terms are inconsistent.
    #[error("invalid terms: {reason}")]
    InvalidTerms {
        /// What is wrong.
        reason: &'static str,
    },
    /// A device move was refused ([`Meter::move_device`](crate::Meter::move_device)).
    #[error("invalid move: {reason}")]
    InvalidMove {
        /// Why.
        reason: &'static str,
    },
    /// No held jump of this meter ends at this instant.
    #[error("no held jump ends at {to:?}")]
    NoSuchHold {
        /// The instant given.
        to: Timestamp,
    },
    /// A category names an ink colour that is not in normal form, or a label (media type,
    /// application category) that is empty, too long or has control characters.
    #[error("invalid category")]
    InvalidCategory,
    /// An amount or quantity does not fit its integer type.
    #[error("arithmetic overflow")]
    Overflow,
    /// The saved state is inconsistent (it was not produced by this crate, or was altered).
    #[error("invalid saved state: {reason}")]
    InvalidState {
        /// What is wrong.
        reason: &'static str,
    },
}
