//! The crate's one error type.

use crate::ids::RecordId;

/// Why a value or a report was rejected.
///
/// Every variant carries the field path (`"snapshot.consumables.level"`, ...) and the values
/// involved, so a log line says exactly what was wrong without echoing personal data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A timestamp after 9999-12-31T23:59:59.999Z (or before the epoch).
    #[error("timestamp {millis} ms is out of range")]
    TimestampOutOfRange {
        /// The rejected value, in milliseconds since the epoch.
        millis: u64,
    },
    /// A basis-point value above 10 000 (100 %).
    #[error("{value} basis points is above 100 %")]
    BasisPointsOutOfRange {
        /// The rejected value.
        value: u16,
    },
    /// A text field that must not be empty (or all white space) is.
    #[error("{field} is empty")]
    EmptyText {
        /// Path of the field.
        field: &'static str,
    },
    /// A text field is longer than [`MAX_TEXT_BYTES`](crate::limits::MAX_TEXT_BYTES).
    #[error("{field} is {len} bytes long, limit {limit}")]
    TextTooLong {
        /// Path of the field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A text field holds a character no XML 1.0 document can carry: a C0 control other than
    /// tab, line feed and carriage return, or U+FFFE / U+FFFF. Sources clean device text
    /// (embedded NUL bytes, say) before it enters a report.
    #[error("{field} holds a control character")]
    ControlCharacter {
        /// Path of the field.
        field: &'static str,
    },
    /// A list has more items than its limit in [`limits`](crate::limits).
    #[error("{field} has {count} items, limit {limit}")]
    TooManyItems {
        /// Path of the list.
        field: &'static str,
        /// Its length.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Two records in one list share a record id.
    #[error("{field} has record id {record} twice")]
    DuplicateRecordId {
        /// Path of the list.
        field: &'static str,
        /// The repeated id.
        record: RecordId,
    },
    /// Two jobs in one list share a UUID.
    #[error("{field} has job uuid {uuid} twice")]
    DuplicateJob {
        /// Path of the list.
        field: &'static str,
        /// The repeated UUID.
        uuid: uuid::Uuid,
    },
    /// A consumable's level is above its known capacity.
    #[error("consumable {record}: level {level} is above capacity {capacity}")]
    LevelAboveCapacity {
        /// The consumable's record id.
        record: RecordId,
        /// The level.
        level: u32,
        /// The capacity.
        capacity: u32,
    },
    /// A level or capacity above the Printer-MIB's Integer32 range (2 147 483 647).
    #[error("consumable {record}: {value} is above the Integer32 range")]
    LevelOutOfRange {
        /// The consumable's record id.
        record: RecordId,
        /// The rejected value.
        value: u32,
    },
    /// A colour stored as a free name although it is one of the known colours.
    #[error("{field}: colour name is not normalised (use Colour::parse)")]
    UnnormalisedColour {
        /// Path of the field.
        field: &'static str,
    },
    /// A MAC address text that is not six hex octets.
    #[error("invalid MAC address text")]
    InvalidMacAddress,
    /// A meter name (vendor meter) that is empty, too long or has characters outside
    /// `[A-Za-z0-9._-]`.
    #[error("invalid vendor meter name")]
    InvalidMeterName,
    /// A site key shorter than [`SiteKey::MIN_LEN`](crate::redact::SiteKey::MIN_LEN).
    #[error("site key is {len} bytes, at least {min} required")]
    SiteKeyTooShort {
        /// The length given.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// A redaction asked for pseudonyms without a site key.
    #[error("pseudonym policy for {field} needs a site key")]
    PseudonymWithoutKey {
        /// The personal field.
        field: &'static str,
    },
}
