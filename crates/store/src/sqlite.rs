//! The SQLite backend.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use printfleet_auth::{KeyEpoch, Verifier};
use printfleet_diff::DeviceState;
use printfleet_diff::sync::{RECENT_JOBS, ReceiverState};
use printfleet_ingest::{Batch, Credential, CustomerId, DeviceRecord, Owner, ResellerId, SavedDevice};
use printfleet_meter::{
    Closing, ContractId, DeviceId, JobRecord, Meter, Observation, ObservationKey, Provenance, Terms,
};
use printfleet_schema::{DeviceReport, PrintJob, Timestamp};
use printfleet_wire::frame::{KeyId, SenderId, WindowState};
use printfleet_wire::protobuf;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use uuid::Uuid;

use crate::{Loaded, Store, StoreError};

/// The schema version this crate writes: the number of [`MIGRATIONS`].
pub const SCHEMA_VERSION: i64 = 5;

/// The migrations, oldest first: migration *n* (from 1) takes a database from version *n - 1*
/// to *n*. Never edit one that has shipped; append.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema. Ids that are u64 in Rust are stored as the i64 of the same bits.
    "
    CREATE TABLE devices (
        sender INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        reseller INTEGER NOT NULL,
        customer INTEGER NOT NULL,
        contract INTEGER NOT NULL,
        meter_device INTEGER NOT NULL,
        revoked INTEGER NOT NULL
    );
    CREATE INDEX devices_by_owner ON devices (reseller, customer);
    CREATE TABLE credentials (
        sender INTEGER NOT NULL REFERENCES devices (sender),
        epoch INTEGER NOT NULL,
        revoked INTEGER NOT NULL,
        salt BLOB,
        iterations INTEGER,
        stored_key BLOB,
        server_key BLOB,
        sealed_secret BLOB,
        PRIMARY KEY (sender, epoch)
    );
    CREATE TABLE replay_windows (
        sender INTEGER NOT NULL,
        key_id INTEGER NOT NULL,
        highest INTEGER NOT NULL,
        seen_hi INTEGER,
        seen_lo INTEGER,
        PRIMARY KEY (sender, key_id)
    );
    CREATE TABLE receivers (
        sender INTEGER PRIMARY KEY,
        state TEXT NOT NULL
    );
    CREATE TABLE device_states (
        sender INTEGER PRIMARY KEY,
        updated_at INTEGER NOT NULL,
        instance INTEGER NOT NULL,
        sequence INTEGER NOT NULL,
        state BLOB NOT NULL
    );
    CREATE TABLE consumable_levels (
        sender INTEGER NOT NULL,
        at INTEGER NOT NULL,
        record_id INTEGER NOT NULL,
        level TEXT NOT NULL
    );
    CREATE TABLE alert_history (
        sender INTEGER NOT NULL,
        at INTEGER NOT NULL,
        record_id INTEGER NOT NULL,
        raised INTEGER NOT NULL,
        alert TEXT
    );
    CREATE TABLE meter_readings (
        device INTEGER NOT NULL,
        instance INTEGER NOT NULL,
        sequence INTEGER NOT NULL,
        kind TEXT NOT NULL,
        value INTEGER NOT NULL,
        observed_at INTEGER NOT NULL,
        PRIMARY KEY (device, instance, sequence, kind)
    );
    CREATE TABLE identity_history (
        sender INTEGER NOT NULL,
        at INTEGER NOT NULL,
        identity TEXT NOT NULL
    );
    CREATE TABLE jobs (
        sender INTEGER NOT NULL,
        uuid BLOB,
        job_sequence INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        record TEXT NOT NULL
    );
    CREATE UNIQUE INDEX jobs_once ON jobs (sender, uuid) WHERE uuid IS NOT NULL;
    CREATE TABLE contracts (
        id INTEGER PRIMARY KEY,
        starts INTEGER NOT NULL,
        terms TEXT NOT NULL
    );
    CREATE TABLE meter_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL
    );
    CREATE TABLE usage_lines (
        contract INTEGER NOT NULL,
        device INTEGER NOT NULL,
        period_start INTEGER NOT NULL,
        category TEXT NOT NULL,
        line TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE invoices (
        contract INTEGER NOT NULL,
        period_start INTEGER NOT NULL,
        total INTEGER NOT NULL,
        invoice TEXT NOT NULL,
        PRIMARY KEY (contract, period_start)
    );
    ",
    // 2: a device's job records by sender (`job_sequences` scanned the whole table: the
    // partial index `jobs_once` leaves out jobs without a UUID), and the meter readings by time
    // (`meter_readings` of one billing period scanned every reading ever stored).
    "
    CREATE INDEX jobs_by_sender ON jobs (sender);
    CREATE INDEX meter_readings_by_time ON meter_readings (observed_at);
    ",
    // 3: the collector that may report a device in bundles (wire format §5.9), as its sender id.
    "
    ALTER TABLE devices ADD COLUMN collector INTEGER;
    ",
    // 4: nothing here. The receiver's window of recent job UUIDs is read from a device's newest
    // jobs at a restart instead of being written with every update (`SavedDevice::recent_jobs`);
    // `jobs_by_sender` already gives them in rowid order without a sort, where PostgreSQL needs
    // an index on (sender, id).
    "",
    // 5: the job records of a billing period by the time they were received (`job_records`
    // scanned every job ever stored).
    "
    CREATE INDEX jobs_by_time ON jobs (received_at);
    ",
];

/// A device's job sequence numbers, in the order stored (index `jobs_by_sender`).
const JOB_SEQUENCES: &str = "SELECT job_sequence FROM jobs WHERE sender = ?1 ORDER BY rowid";

/// The UUIDs of a device's newest `?2` jobs, newest first (index `jobs_by_sender`, whose
/// entries are in rowid order within a sender).
const RECENT_JOB_UUIDS: &str =
    "SELECT uuid FROM jobs WHERE sender = ?1 AND uuid IS NOT NULL ORDER BY rowid DESC LIMIT ?2";

/// The meter readings of a time range (index `meter_readings_by_time`).
const METER_READINGS: &str = "SELECT device, instance, sequence, kind, value, observed_at FROM meter_readings
     WHERE observed_at >= ?1 AND observed_at < ?2 ORDER BY observed_at, device, instance, sequence";

/// The devices with a meter reading in a time range (index `meter_readings_by_time`).
const METERED_DEVICES: &str = "SELECT DISTINCT device FROM meter_readings WHERE observed_at >= ?1 AND observed_at < ?2";

/// The job records received in a time range, in the order stored (index `jobs_by_time`).
const JOB_RECORDS: &str = "SELECT d.meter_device, j.received_at, j.record, j.sender FROM jobs j
     JOIN devices d ON d.sender = j.sender WHERE j.received_at >= ?1 AND j.received_at < ?2 ORDER BY j.rowid";

/// The same bits as an SQLite integer.
pub(crate) fn int(x: u64) -> i64 {
    i64::from_be_bytes(x.to_be_bytes())
}

/// An SQLite integer back to the u64 it stores.
pub(crate) fn uint(x: i64) -> u64 {
    u64::from_be_bytes(x.to_be_bytes())
}

pub(crate) fn millis(t: Timestamp) -> i64 {
    int(t.unix_millis())
}

pub(crate) fn json<T: serde::Serialize>(value: &T, what: &'static str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::Encode { what })
}

pub(crate) fn unjson<T: serde::de::DeserializeOwned>(text: &str, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::corrupt(what))
}

/// A stored job (its metered position, the time it was received and its `PrintJob` as JSON)
/// as the meter's record.
pub(crate) fn stored_job_record(meter_device: u64, received_at: u64, record: &str) -> Result<JobRecord, StoreError> {
    let job: PrintJob = unjson(record, "job")?;
    let at = Timestamp::from_unix_millis(received_at).map_err(|_| StoreError::corrupt("job time"))?;
    Ok(printfleet_ingest::job_record(DeviceId(meter_device), &job, at))
}

/// A `credentials` row (epoch, revoked, and the verifier's salt, iterations, stored and server
/// keys, all or none) as both backends read it, checked.
pub(crate) fn stored_credential(
    epoch: i64,
    revoked: bool,
    salt: Option<Vec<u8>>,
    iterations: Option<i64>,
    stored: Option<Vec<u8>>,
    server: Option<Vec<u8>>,
) -> Result<Credential, StoreError> {
    let epoch = u32::try_from(epoch).map_err(|_| StoreError::corrupt("epoch"))?;
    let verifier = match (salt, iterations, stored, server) {
        (Some(salt), Some(i), Some(stored), Some(server)) => {
            let corrupt = || StoreError::corrupt("verifier");
            let i = u32::try_from(i).map_err(|_| corrupt())?;
            let stored: [u8; 32] = stored.try_into().map_err(|_| corrupt())?;
            let server: [u8; 32] = server.try_into().map_err(|_| corrupt())?;
            Some(Verifier::from_parts(salt, i, stored, server).map_err(|_| corrupt())?)
        }
        _ => None,
    };
    Ok(Credential { epoch: KeyEpoch(epoch), revoked, verifier })
}

pub(crate) fn encode_state(state: &DeviceState, out: &mut Vec<u8>) -> Result<(), StoreError> {
    let report =
        DeviceReport { identity: state.identity.clone(), snapshot: state.snapshot.clone(), ..Default::default() };
    protobuf::encode(&report, out).map_err(|_| StoreError::Encode { what: "device state" })
}

pub(crate) fn decode_state(bytes: &[u8]) -> Result<DeviceState, StoreError> {
    let report = protobuf::decode(bytes).map_err(|_| StoreError::corrupt("device state"))?;
    Ok(DeviceState { identity: report.identity, snapshot: report.snapshot })
}

/// The schema's tables (both backends), for [`SqliteStore::count`].
pub(crate) const TABLES: &[&str] = &[
    "devices",
    "credentials",
    "replay_windows",
    "receivers",
    "device_states",
    "consumable_levels",
    "alert_history",
    "meter_readings",
    "identity_history",
    "jobs",
    "contracts",
    "meter_state",
    "usage_lines",
    "invoices",
];

/// SQLite's page cache, in KiB (a negative `cache_size` is KiB): big enough to keep the
/// B-trees' inner pages of a large fleet in memory.
const CACHE_KIB: i64 = -65_536;

/// How long opening waits for other processes opening the same new database: SQLite answers
/// "busy" at once, without waiting, to a switch to WAL while another connection switches it.
pub const OPEN_BUSY_WAIT: Duration = Duration::from_secs(5);
/// The pause between two tries of that switch.
const OPEN_RETRY: Duration = Duration::from_millis(10);

/// Switches the database to WAL (kept in the file: a no-op once done), trying again for up to
/// [`OPEN_BUSY_WAIT`] while another process holds the lock.
fn enable_wal(conn: &Connection) -> Result<(), StoreError> {
    let started = Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && started.elapsed() < OPEN_BUSY_WAIT =>
            {
                std::thread::sleep(OPEN_RETRY);
            }
            done => return Ok(done?),
        }
    }
}

/// The embedded store: one SQLite file in WAL mode.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    scratch: Vec<u8>,
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, in WAL mode with full sync, and migrates it
    /// to [`SCHEMA_VERSION`]. Refuses a newer database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        enable_wal(&conn)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        let mut store = Self { conn, scratch: Vec::new() };
        store.migrate()?;
        Ok(store)
    }

    /// The database's schema version.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0))?)
    }

    /// Applies the migrations the database lacks, one transaction each. Each takes the write
    /// lock first (`BEGIN IMMEDIATE`) and reads the version under it, so that processes opening
    /// one database at once (the portal and `printfleet bill`, say) apply each migration once:
    /// the others wait, then find it applied.
    fn migrate(&mut self) -> Result<(), StoreError> {
        // An up-to-date database (the common case) is opened without the write lock, and so is
        // a newer one refused.
        match self.conn.query_row("SELECT version FROM schema_version", [], |r| r.get::<_, i64>(0)) {
            Ok(SCHEMA_VERSION) => return Ok(()),
            Ok(found) if found > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema { found, supported: SCHEMA_VERSION });
            }
            _ => {}
        }
        loop {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
            let found: Option<i64> = tx.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).optional()?;
            let version = found.unwrap_or(0);
            if version > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema { found: version, supported: SCHEMA_VERSION });
            }
            let Some(sql) = usize::try_from(version).ok().and_then(|v| MIGRATIONS.get(v)) else {
                return Ok(tx.commit()?);
            };
            tx.execute_batch(sql)?;
            tx.execute("DELETE FROM schema_version", [])?;
            tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [version.saturating_add(1)])?;
            tx.commit()?;
        }
    }

    /// Rows in `table` (for tests and operators' checks); a name that is not one of the
    /// schema's tables is [`StoreError::UnknownTable`].
    pub fn count(&self, table: &str) -> Result<u64, StoreError> {
        let Some(table) = TABLES.iter().find(|t| **t == table) else {
            return Err(StoreError::UnknownTable { name: table.to_owned() });
        };
        let n: i64 = self.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The device's current state as stored.
    pub fn device_state(&self, device: SenderId) -> Result<Option<DeviceState>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT state FROM device_states WHERE sender = ?1", [int(device.0)], |r| r.get(0))
            .optional()?;
        bytes.map(|b| decode_state(&b).map_err(|e| e.of_device(device))).transpose()
    }

    /// The job sequence numbers stored for a device, in the order they were stored.
    pub fn job_sequences(&self, device: SenderId) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self.conn.prepare(JOB_SEQUENCES)?;
        let rows = stmt.query_map([int(device.0)], |r| r.get::<_, i64>(0))?;
        rows.map(|r| r.map(uint).map_err(StoreError::from)).collect()
    }

    /// The meter readings observed in `[from, to)`, in time order (what `printfleet bill` feeds
    /// `printfleet-meter`). A kind that does not parse is [`StoreError::Corrupt`].
    pub fn meter_readings(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Observation>, StoreError> {
        let mut stmt = self.conn.prepare(METER_READINGS)?;
        let rows = stmt.query_map(params![millis(from), millis(to)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, instance, sequence, kind, value, at) = row?;
            let kind = kind.parse().map_err(|_| StoreError::corrupt("meter kind"))?;
            let observed_at = Timestamp::from_unix_millis(uint(at)).map_err(|_| StoreError::corrupt("reading time"))?;
            out.push(Observation {
                key: ObservationKey { device: DeviceId(uint(device)), instance, sequence: uint(sequence) },
                kind,
                value: uint(value),
                observed_at,
                provenance: Provenance::Agent,
            });
        }
        Ok(out)
    }

    /// [`Store::job_records`], which this is.
    pub fn job_records(&self, from: Timestamp, to: Timestamp) -> Result<Vec<JobRecord>, StoreError> {
        let mut stmt = self.conn.prepare(JOB_RECORDS)?;
        let rows = stmt.query_map(params![millis(from), millis(to)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, at, record, sender) = row?;
            let record = stored_job_record(uint(device), uint(at), &record);
            out.push(record.map_err(|e| e.of_device(SenderId(uint(sender))))?);
        }
        Ok(out)
    }

    fn write_one(tx: &Transaction<'_>, batch: &Batch, scratch: &mut Vec<u8>) -> Result<(), StoreError> {
        let w = batch.writes();
        let sender = int(w.device.0);
        let at = millis(w.received_at);
        if let Some((key_id, window)) = w.window {
            let (seen_hi, seen_lo) = match window.seen {
                Some([hi, lo]) => (Some(int(hi)), Some(int(lo))),
                None => (None, None),
            };
            tx.prepare_cached(
                "INSERT INTO replay_windows (sender, key_id, highest, seen_hi, seen_lo) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (sender, key_id) DO UPDATE SET highest = ?3, seen_hi = ?4, seen_lo = ?5",
            )?
            .execute(params![sender, key_id.0, int(window.highest), seen_hi, seen_lo])?;
        }
        tx.prepare_cached(
            "INSERT INTO receivers (sender, state) VALUES (?1, ?2)
             ON CONFLICT (sender) DO UPDATE SET state = ?2",
        )?
        .execute(params![sender, json(&w.receiver, "receiver state")?])?;
        if let Some(state) = &w.state {
            scratch.clear();
            encode_state(state, scratch)?;
            tx.prepare_cached(
                "INSERT INTO device_states (sender, updated_at, instance, sequence, state) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (sender) DO UPDATE SET updated_at = ?2, instance = ?3, sequence = ?4, state = ?5",
            )?
            .execute(params![sender, at, w.instance.0, int(w.sequence), &scratch[..]])?;
        }
        if let Some(identity) = &w.identity_changed {
            tx.prepare_cached("INSERT INTO identity_history (sender, at, identity) VALUES (?1, ?2, ?3)")?
                .execute(params![sender, at, json(identity, "identity")?])?;
        }
        let mut levels =
            tx.prepare_cached("INSERT INTO consumable_levels (sender, at, record_id, level) VALUES (?1, ?2, ?3, ?4)")?;
        for (record, level) in &w.levels {
            levels.execute(params![sender, at, int(record.0), json(level, "level")?])?;
        }
        let mut alerts = tx.prepare_cached(
            "INSERT INTO alert_history (sender, at, record_id, raised, alert) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for alert in &w.alerts_raised {
            alerts.execute(params![sender, at, int(alert.record_id.0), 1, json(alert, "alert")?])?;
        }
        for record in &w.alerts_cleared {
            alerts.execute(params![sender, at, int(record.0), 0, None::<String>])?;
        }
        // A reading seen again (same key) is the same reading: stored once.
        let mut readings = tx.prepare_cached(
            "INSERT INTO meter_readings (device, instance, sequence, kind, value, observed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        )?;
        for o in &w.observations {
            readings.execute(params![
                int(o.key.device.0),
                o.key.instance,
                int(o.key.sequence),
                o.kind.to_string(),
                int(o.value),
                millis(o.observed_at)
            ])?;
        }
        // A job whose UUID the device's jobs hold is stored once: an agent that lost its state
        // may read a job older than the receiver's window of recent UUIDs again, and refusing
        // it would fail this transaction, and every retransmission's, for ever (with every
        // other device of a bundle). Billing reads the jobs from this table: counted once.
        let mut jobs = tx.prepare_cached(
            "INSERT INTO jobs (sender, uuid, job_sequence, received_at, record) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (sender, uuid) WHERE uuid IS NOT NULL DO NOTHING",
        )?;
        for job in &w.jobs {
            let uuid = (!job.job.uuid.is_nil()).then(|| job.job.uuid.as_bytes().to_vec());
            jobs.execute(params![sender, uuid, int(job.job.sequence), at, json(job, "job")?])?;
        }
        Ok(())
    }

    fn credentials(&self, sender: i64) -> Result<Vec<Credential>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT epoch, revoked, salt, iterations, stored_key, server_key FROM credentials WHERE sender = ?1
             ORDER BY epoch",
        )?;
        // Read as stored and converted here, so that a value out of range is `Corrupt` (naming
        // the device), not a conversion error of rusqlite's.
        let rows = stmt.query_map([sender], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<Vec<u8>>>(4)?,
                r.get::<_, Option<Vec<u8>>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (epoch, revoked, salt, iterations, stored, server) = row?;
            out.push(stored_credential(epoch, revoked, salt, iterations, stored, server)?);
        }
        Ok(out)
    }

    /// One device's saved receiver: its state (`state`, the `receivers` row), replay windows,
    /// recent job UUIDs and current state.
    fn saved_device(&self, sender: i64, state: &str) -> Result<SavedDevice, StoreError> {
        let receiver: ReceiverState = unjson(state, "receiver state")?;
        let windows = self
            .conn
            .prepare_cached("SELECT key_id, highest, seen_hi, seen_lo FROM replay_windows WHERE sender = ?1")?
            .query_map([sender], |r| {
                let (hi, lo): (Option<i64>, Option<i64>) = (r.get(2)?, r.get(3)?);
                let seen = hi.zip(lo).map(|(hi, lo)| [uint(hi), uint(lo)]);
                Ok((r.get::<_, i64>(0)?, WindowState { highest: uint(r.get(1)?), seen }))
            })?
            .map(|w| {
                let (key, window) = w?;
                Ok((KeyId(u32::try_from(key).map_err(|_| StoreError::corrupt("key id"))?), window))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut recent_jobs = self
            .conn
            .prepare_cached(RECENT_JOB_UUIDS)?
            .query_map(params![sender, i64::try_from(RECENT_JOBS).unwrap_or(i64::MAX)], |r| r.get::<_, Vec<u8>>(0))?
            .map(|b| Uuid::from_slice(&b?).map_err(|_| StoreError::corrupt("job uuid")))
            .collect::<Result<Vec<_>, _>>()?;
        recent_jobs.reverse();
        let device = SenderId(uint(sender));
        let state = self.device_state(device)?;
        Ok(SavedDevice { device, receiver, recent_jobs, windows, state })
    }
}

impl Store for SqliteStore {
    fn write_batches(&mut self, batches: &[&Batch]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for batch in batches {
            Self::write_one(&tx, batch, &mut self.scratch)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn put_device(&mut self, record: &DeviceRecord) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let sender = int(record.sender().0);
        tx.execute(
            "INSERT INTO devices (sender, name, reseller, customer, contract, meter_device, revoked, collector)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (sender) DO UPDATE SET name = ?2, reseller = ?3, customer = ?4, contract = ?5,
               meter_device = ?6, revoked = ?7, collector = ?8",
            params![
                sender,
                record.name,
                int(record.owner.reseller.0),
                int(record.owner.customer.0),
                int(record.owner.contract.0),
                int(record.meter_device.0),
                record.revoked,
                record.collector.map(|c| int(c.0))
            ],
        )?;
        // Credentials no longer listed go; a sealed secret stays with its epoch.
        let epochs: Vec<u32> = record.credentials.iter().map(|c| c.epoch.0).collect();
        let listed = serde_json::to_string(&epochs).map_err(|_| StoreError::Encode { what: "epochs" })?;
        tx.execute(
            "DELETE FROM credentials WHERE sender = ?1 AND epoch NOT IN (SELECT value FROM json_each(?2))",
            params![sender, listed],
        )?;
        for c in &record.credentials {
            let parts = c.verifier.as_ref().map(Verifier::to_parts);
            let (salt, iterations, stored, server) = match &parts {
                Some((salt, i, stored, server)) => {
                    (Some(salt.as_slice()), Some(*i), Some(&stored[..]), Some(&server[..]))
                }
                None => (None, None, None, None),
            };
            tx.execute(
                "INSERT INTO credentials (sender, epoch, revoked, salt, iterations, stored_key, server_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (sender, epoch) DO UPDATE SET revoked = ?3, salt = ?4, iterations = ?5,
                   stored_key = ?6, server_key = ?7",
                params![sender, c.epoch.0, c.revoked, salt, iterations, stored, server],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn put_sealed_secret(&mut self, device: SenderId, epoch: u32, sealed: &[u8]) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE credentials SET sealed_secret = ?3 WHERE sender = ?1 AND epoch = ?2",
            params![int(device.0), epoch, sealed],
        )?;
        if n == 0 {
            return Err(StoreError::NoCredential { device, epoch });
        }
        Ok(())
    }

    fn sealed_secret(&mut self, device: SenderId, epoch: u32) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT sealed_secret FROM credentials WHERE sender = ?1 AND epoch = ?2",
                params![int(device.0), epoch],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?
            .flatten())
    }

    fn load_devices(&mut self) -> Result<Vec<DeviceRecord>, StoreError> {
        let mut devices = Vec::new();
        type Row = (i64, String, i64, i64, i64, i64, bool, Option<i64>);
        let rows: Vec<Row> = {
            let mut stmt = self.conn.prepare(
                "SELECT sender, name, reseller, customer, contract, meter_device, revoked, collector
                 FROM devices ORDER BY sender",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (sender, name, reseller, customer, contract, meter_device, revoked, collector) in rows {
            let owner = Owner {
                reseller: ResellerId(uint(reseller)),
                customer: CustomerId(uint(customer)),
                contract: ContractId(uint(contract)),
            };
            let credentials = self.credentials(sender).map_err(|e| e.of_device(SenderId(uint(sender))))?;
            let record = DeviceRecord {
                name,
                owner,
                meter_device: DeviceId(uint(meter_device)),
                revoked,
                credentials,
                collector: collector.map(|c| SenderId(uint(c))),
            };
            if int(record.sender().0) != sender {
                return Err(StoreError::corrupt("device sender id").of_device(SenderId(uint(sender))));
            }
            devices.push(record);
        }
        Ok(devices)
    }

    fn load(&mut self) -> Result<Loaded, StoreError> {
        let mut loaded = Loaded { devices: self.load_devices()?, ..Loaded::default() };
        let receivers: Vec<(i64, String)> = {
            let mut stmt = self.conn.prepare("SELECT sender, state FROM receivers ORDER BY sender")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (sender, state) in receivers {
            let device = SenderId(uint(sender));
            let saved = self.saved_device(sender, &state).map_err(|e| e.of_device(device))?;
            loaded.saved.push(saved);
        }
        Ok(loaded)
    }

    fn put_contract(&mut self, id: ContractId, terms: &Terms, starts: Timestamp) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO contracts (id, starts, terms) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET starts = ?2, terms = ?3",
            params![int(id.0), millis(starts), json(terms, "terms")?],
        )?;
        Ok(())
    }

    fn save_meter(&mut self, meter: &Meter) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meter_state (id, state) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET state = ?1",
            [json(meter, "meter state")?],
        )?;
        Ok(())
    }

    fn load_meter(&mut self) -> Result<Option<Meter>, StoreError> {
        let text: Option<String> =
            self.conn.query_row("SELECT state FROM meter_state WHERE id = 1", [], |r| r.get(0)).optional()?;
        text.map(|t| unjson(&t, "meter state")).transpose()
    }

    fn device_state(&mut self, device: SenderId) -> Result<Option<DeviceState>, StoreError> {
        SqliteStore::device_state(self, device)
    }

    fn job_sequences(&mut self, device: SenderId) -> Result<Vec<u64>, StoreError> {
        SqliteStore::job_sequences(self, device)
    }

    fn meter_readings(&mut self, from: Timestamp, to: Timestamp) -> Result<Vec<Observation>, StoreError> {
        SqliteStore::meter_readings(self, from, to)
    }

    fn metered_devices(&mut self, from: Timestamp, to: Timestamp) -> Result<BTreeSet<DeviceId>, StoreError> {
        let mut stmt = self.conn.prepare(METERED_DEVICES)?;
        let rows = stmt.query_map(params![millis(from), millis(to)], |r| r.get::<_, i64>(0))?;
        rows.map(|device| Ok(DeviceId(uint(device?)))).collect()
    }

    fn job_records(&mut self, from: Timestamp, to: Timestamp) -> Result<Vec<JobRecord>, StoreError> {
        SqliteStore::job_records(self, from, to)
    }

    fn record_closing(&mut self, closing: &Closing, meter: &Meter) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for line in &closing.usage {
            tx.prepare_cached(
                "INSERT INTO usage_lines (contract, device, period_start, category, line, quantity, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                int(line.contract.0),
                int(line.device.0),
                millis(line.period_start),
                line.category.to_string(),
                line.line.name(),
                line.quantity.0,
                json(line, "usage line")?
            ])?;
        }
        let invoice = &closing.invoice;
        tx.execute(
            "INSERT INTO invoices (contract, period_start, total, invoice) VALUES (?1, ?2, ?3, ?4)",
            params![
                int(invoice.contract.0),
                millis(invoice.period_start),
                int(invoice.total.0),
                json(invoice, "invoice")?
            ],
        )?;
        tx.execute(
            "INSERT INTO meter_state (id, state) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET state = ?1",
            [json(meter, "meter state")?],
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SQLite plans for `sql`, with `n` parameters (one line per step of `EXPLAIN QUERY
    /// PLAN`).
    fn plan(store: &SqliteStore, sql: &str, n: usize) -> String {
        let mut stmt = store.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows =
            stmt.query_map(rusqlite::params_from_iter(std::iter::repeat_n(1, n)), |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn per_device_and_per_period_queries_use_an_index_not_a_table_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("plan.db")).unwrap();
        let jobs = plan(&store, JOB_SEQUENCES, 1);
        assert!(jobs.contains("USING INDEX jobs_by_sender"), "{jobs}");
        let recent = plan(&store, RECENT_JOB_UUIDS, 2);
        assert!(recent.contains("USING INDEX jobs_by_sender"), "{recent}");
        assert!(!recent.contains("TEMP B-TREE"), "sorted instead of read in order: {recent}");
        let readings = plan(&store, METER_READINGS, 2);
        assert!(readings.contains("USING INDEX meter_readings_by_time"), "{readings}");
        let metered = plan(&store, METERED_DEVICES, 2);
        assert!(metered.contains("USING INDEX meter_readings_by_time"), "{metered}");
        let period = plan(&store, JOB_RECORDS, 2);
        assert!(period.contains("USING INDEX jobs_by_time"), "{period}");
    }
}
