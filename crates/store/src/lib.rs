//! Durable storage for the printfleet portal: one storage interface ([`Store`]) and two
//! backends with the same schema: [`SqliteStore`], embedded (a file path, SQLite compiled in:
//! nothing to install; WAL, one transaction per call, versioned migrations), and
//! `PostgresStore` for scale (feature `postgres`).
//!
//! It keeps the device registry (devices and their owners, credentials: verifiers and sealed
//! one-shot secrets), what `printfleet-ingest` needs after a restart (replay windows, receiver
//! states, current device states), the histories (consumable levels, alerts raised and cleared,
//! meter readings, identity changes), job records exactly once, and for billing the contracts,
//! the meter's state (its counter reads, from which it derives segments), usage lines and
//! invoices.
//!
//! ```
//! use printfleet_store::{SqliteStore, Store};
//! let dir = tempfile::tempdir()?;
//! let mut store = SqliteStore::open(dir.path().join("portal.db"))?;
//! assert_eq!(store.schema_version()?, printfleet_store::SCHEMA_VERSION);
//! let loaded = store.load()?; // what printfleet_ingest::Ingest::restore takes
//! assert!(loaded.devices.is_empty() && loaded.saved.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Durability
//! [`Store::write_batches`] stores every [`Batch`]'s writes in one transaction and returns only
//! once it is committed (WAL, `synchronous = FULL`): then, and only then, the caller may
//! `commit` the batches to the ingest and send the replies. A crash before the commit leaves the
//! database as it was before the transaction.
//!
//! # Migrations
//! The `schema_version` table holds the version; [`SqliteStore::open`] applies the migrations
//! an older database lacks, each in its own transaction, and refuses a database written by a
//! newer version ([`StoreError::NewerSchema`]).
//!
//! # PostgreSQL
//! `PostgresStore` (feature `postgres`) implements [`Store`] on the synchronous `postgres`
//! client: the same tables, columns, keys and indexes in PostgreSQL's types (`PG_MIGRATIONS`,
//! versioned like [`MIGRATIONS`], applied under an advisory lock so that two portals starting
//! together do not both migrate), one transaction per call, committed with
//! `synchronous_commit = on`. [`Store::write_batches`] sends one statement per table for all
//! the batches it is given (rows passed as arrays and expanded with `UNNEST`), so a portal that
//! batches frames pays one round trip per table, not one per row.
//! `PostgresStore::connect_in_schema` keeps every table in a named schema, so that several
//! portals (or test runs) can share one database.
//!
//! # Crate features
//! * `postgres` (off by default): `PostgresStore`. Its tests read a connection string from
//!   `PRINTFLEET_POSTGRES_URL` and are skipped, with a notice, when it is unset;
//!   `crates/store/tests/postgres.sh` starts a throwaway server on 127.0.0.1 and runs them.

#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

#[cfg(feature = "postgres")]
pub use crate::postgres::{MAX_SCHEMA_NAME_LEN, PG_MIGRATIONS, PG_SCHEMA_VERSION, PostgresStore};
pub use sqlite::{MIGRATIONS, OPEN_BUSY_WAIT, SCHEMA_VERSION, SqliteStore};

use std::collections::BTreeSet;

use printfleet_diff::DeviceState;
use printfleet_ingest::{Batch, DeviceRecord, SavedDevice};
use printfleet_meter::{Closing, ContractId, DeviceId, JobRecord, Meter, Observation, Terms};
use printfleet_schema::Timestamp;
use printfleet_wire::frame::SenderId;

/// What a store gives back at a restart: the input of `printfleet_ingest::Ingest::restore`.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Loaded {
    /// Every provisioned device.
    pub devices: Vec<DeviceRecord>,
    /// Per device that ever had a batch committed: its receiver, the UUIDs of its newest
    /// stored jobs, its windows and its current state.
    pub saved: Vec<SavedDevice>,
}

/// The portal's storage. Every method is one transaction.
pub trait Store {
    /// Stores the writes of `batches` (frames' batches, and every batch of a bundle:
    /// `printfleet_ingest::Bundle::batches`) in one transaction; returns once it is durable.
    fn write_batches(&mut self, batches: &[&Batch]) -> Result<(), StoreError>;

    /// Adds or replaces a device (owners, revocation, credentials).
    fn put_device(&mut self, record: &DeviceRecord) -> Result<(), StoreError>;

    /// Stores a device's one-shot secret for a key epoch, **sealed by the caller** (the store
    /// never sees it in the clear); the device's credential for that epoch must exist.
    fn put_sealed_secret(&mut self, device: SenderId, epoch: u32, sealed: &[u8]) -> Result<(), StoreError>;

    /// The sealed one-shot secret of a device's key epoch.
    fn sealed_secret(&mut self, device: SenderId, epoch: u32) -> Result<Option<Vec<u8>>, StoreError>;

    /// Everything the ingest needs at a restart, among it each device's newest
    /// `RECENT_JOBS` job UUIDs from the jobs stored (`SavedDevice::recent_jobs`).
    fn load(&mut self) -> Result<Loaded, StoreError>;

    /// The registry alone ([`Loaded::devices`]: each device with its owner, revocation and
    /// credentials), without the receivers' saved states: what a running portal reloads to learn
    /// of new devices, key epochs and revocations, at a cost that does not grow with what the
    /// devices have reported. By default [`Store::load`]'s devices; both backends read only the
    /// devices and their credentials.
    fn load_devices(&mut self) -> Result<Vec<DeviceRecord>, StoreError> {
        Ok(self.load()?.devices)
    }

    /// Adds or replaces a contract's terms.
    fn put_contract(&mut self, id: ContractId, terms: &Terms, starts: Timestamp) -> Result<(), StoreError>;

    /// Saves the meter's whole state (its counter reads and what each period billed).
    fn save_meter(&mut self, meter: &Meter) -> Result<(), StoreError>;

    /// The meter's state as last saved.
    fn load_meter(&mut self) -> Result<Option<Meter>, StoreError>;

    /// Stores a period's closing (usage lines and invoice) together with the meter's state after
    /// it, in one transaction, so that an invoice is never stored twice nor without the state
    /// that produced it.
    fn record_closing(&mut self, closing: &Closing, meter: &Meter) -> Result<(), StoreError>;

    /// The device's current state as stored (`None`: no update of it was ever applied).
    fn device_state(&mut self, device: SenderId) -> Result<Option<DeviceState>, StoreError>;

    /// The job sequence numbers stored for a device, in the order they were stored.
    fn job_sequences(&mut self, device: SenderId) -> Result<Vec<u64>, StoreError>;

    /// The meter readings observed in `[from, to)`, in time order (what `printfleet bill` feeds
    /// `printfleet-meter`). A kind that does not parse is [`StoreError::Corrupt`].
    fn meter_readings(&mut self, from: Timestamp, to: Timestamp) -> Result<Vec<Observation>, StoreError>;

    /// The devices (metered positions) with a meter reading observed in `[from, to)`: what
    /// [`Store::meter_readings`] names, without loading the readings. By default through it;
    /// both backends ask the database for the distinct devices.
    fn metered_devices(&mut self, from: Timestamp, to: Timestamp) -> Result<BTreeSet<DeviceId>, StoreError> {
        Ok(self.meter_readings(from, to)?.iter().map(|o| o.key.device).collect())
    }

    /// The meter's records of the jobs received in `[from, to)`, in the order they were
    /// stored: each stored job through `printfleet_ingest::job_record`, under its device's
    /// metered position, finished when the job says it was printed or else when it was
    /// received (what `printfleet bill` feeds the meter's reconciliation). A job whose device
    /// is not in the registry is skipped.
    fn job_records(&mut self, from: Timestamp, to: Timestamp) -> Result<Vec<JobRecord>, StoreError>;
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The SQLite backend failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The PostgreSQL backend failed (connection, statement or constraint).
    #[cfg(feature = "postgres")]
    #[error("postgres: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// A PostgreSQL schema name that is not 1 to 63 characters from `[a-z0-9_]` not starting
    /// with a digit.
    #[cfg(feature = "postgres")]
    #[error("invalid schema name")]
    InvalidSchemaName,
    /// The database was written by a newer version of this crate.
    #[error("database schema version {found} is newer than the {supported} this version supports")]
    NewerSchema {
        /// The database's version.
        found: i64,
        /// The newest this crate knows.
        supported: i64,
    },
    /// A stored value does not decode (the database was altered by something else). The
    /// message names the device as its rows' `sender` column holds it.
    #[error("stored {what}{} does not decode", OfDevice(*device))]
    #[non_exhaustive]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// The device whose row holds it, when it is one device's (its registry entry,
        /// credentials, receiver state, replay windows, jobs or current state).
        device: Option<SenderId>,
    },
    /// A value could not be encoded for storage.
    #[error("{what} could not be encoded")]
    Encode {
        /// Which value.
        what: &'static str,
    },
    /// [`SqliteStore::count`] was asked about a table the schema does not have.
    #[error("no table {name}")]
    UnknownTable {
        /// The name asked for.
        name: String,
    },
    /// A sealed secret for a credential that does not exist.
    #[error("no credential for device {device} epoch {epoch}")]
    NoCredential {
        /// The device.
        device: SenderId,
        /// The epoch.
        epoch: u32,
    },
}

impl StoreError {
    /// A stored value that does not decode, not (yet) tied to a device.
    pub(crate) fn corrupt(what: &'static str) -> Self {
        Self::Corrupt { what, device: None }
    }

    /// Names `device` in a [`StoreError::Corrupt`] from reading its rows.
    pub(crate) fn of_device(self, device: SenderId) -> Self {
        match self {
            Self::Corrupt { what, device: None } => Self::Corrupt { what, device: Some(device) },
            other => other,
        }
    }
}

/// " of device …" in [`StoreError::Corrupt`]'s message, when it names one: its id as the wire
/// writes it and as the tables' `sender` column holds it (the same 64 bits, signed).
struct OfDevice(Option<SenderId>);

impl core::fmt::Display for OfDevice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(device) => write!(f, " of device {device} (sender {})", sqlite::int(device.0)),
            None => Ok(()),
        }
    }
}
