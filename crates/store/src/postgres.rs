//! The PostgreSQL backend (feature `postgres`): the same tables, keys and transactions as the
//! SQLite one, on the synchronous `postgres` client.

use std::collections::{BTreeMap, BTreeSet};

use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Statement, Transaction};
use printfleet_auth::Verifier;
use printfleet_diff::DeviceState;
use printfleet_diff::sync::{RECENT_JOBS, ReceiverState};
use printfleet_ingest::{Batch, Credential, CustomerId, DeviceRecord, Owner, ResellerId, SavedDevice};
use printfleet_meter::{
    Closing, ContractId, DeviceId, JobRecord, Meter, Observation, ObservationKey, Provenance, Terms,
};
use printfleet_schema::Timestamp;
use printfleet_wire::frame::{KeyId, SenderId, WindowState};
use uuid::Uuid;

use crate::sqlite::{
    TABLES, decode_state, encode_state, int, json, millis, stored_credential, stored_job_record, uint, unjson,
};
use crate::{Loaded, Store, StoreError};

/// The schema version this backend writes: the number of [`PG_MIGRATIONS`]. It moves in step
/// with [`SCHEMA_VERSION`](crate::SCHEMA_VERSION): migration *n* of each backend makes the same
/// change (4: an index only PostgreSQL needs).
pub const PG_SCHEMA_VERSION: i64 = 5;

/// The PostgreSQL migrations, oldest first: [`MIGRATIONS`](crate::MIGRATIONS) in PostgreSQL's
/// types (`BIGINT` for SQLite's 64-bit `INTEGER`, `BYTEA` for `BLOB`, `BOOLEAN` for flags) with
/// the same tables, columns, keys and indexes, and `jobs_recent` on (sender, id) for the order
/// SQLite's `jobs_by_sender` has by itself. `jobs` has an identity column `id` for the
/// insertion order SQLite's `rowid` gives. Never edit one that has shipped; append.
pub const PG_MIGRATIONS: &[&str] = &[
    // 1: the first schema. Ids that are u64 in Rust are stored as the i64 of the same bits.
    "
    CREATE TABLE devices (
        sender BIGINT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        reseller BIGINT NOT NULL,
        customer BIGINT NOT NULL,
        contract BIGINT NOT NULL,
        meter_device BIGINT NOT NULL,
        revoked BOOLEAN NOT NULL
    );
    CREATE INDEX devices_by_owner ON devices (reseller, customer);
    CREATE TABLE credentials (
        sender BIGINT NOT NULL REFERENCES devices (sender),
        epoch BIGINT NOT NULL,
        revoked BOOLEAN NOT NULL,
        salt BYTEA,
        iterations BIGINT,
        stored_key BYTEA,
        server_key BYTEA,
        sealed_secret BYTEA,
        PRIMARY KEY (sender, epoch)
    );
    CREATE TABLE replay_windows (
        sender BIGINT NOT NULL,
        key_id BIGINT NOT NULL,
        highest BIGINT NOT NULL,
        seen_hi BIGINT,
        seen_lo BIGINT,
        PRIMARY KEY (sender, key_id)
    );
    CREATE TABLE receivers (
        sender BIGINT PRIMARY KEY,
        state TEXT NOT NULL
    );
    CREATE TABLE device_states (
        sender BIGINT PRIMARY KEY,
        updated_at BIGINT NOT NULL,
        instance BIGINT NOT NULL,
        sequence BIGINT NOT NULL,
        state BYTEA NOT NULL
    );
    CREATE TABLE consumable_levels (
        sender BIGINT NOT NULL,
        at BIGINT NOT NULL,
        record_id BIGINT NOT NULL,
        level TEXT NOT NULL
    );
    CREATE TABLE alert_history (
        sender BIGINT NOT NULL,
        at BIGINT NOT NULL,
        record_id BIGINT NOT NULL,
        raised BOOLEAN NOT NULL,
        alert TEXT
    );
    CREATE TABLE meter_readings (
        device BIGINT NOT NULL,
        instance BIGINT NOT NULL,
        sequence BIGINT NOT NULL,
        kind TEXT NOT NULL,
        value BIGINT NOT NULL,
        observed_at BIGINT NOT NULL,
        PRIMARY KEY (device, instance, sequence, kind)
    );
    CREATE TABLE identity_history (
        sender BIGINT NOT NULL,
        at BIGINT NOT NULL,
        identity TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        sender BIGINT NOT NULL,
        uuid BYTEA,
        job_sequence BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE UNIQUE INDEX jobs_once ON jobs (sender, uuid) WHERE uuid IS NOT NULL;
    CREATE TABLE contracts (
        id BIGINT PRIMARY KEY,
        starts BIGINT NOT NULL,
        terms TEXT NOT NULL
    );
    CREATE TABLE meter_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL
    );
    CREATE TABLE usage_lines (
        contract BIGINT NOT NULL,
        device BIGINT NOT NULL,
        period_start BIGINT NOT NULL,
        category TEXT NOT NULL,
        line TEXT NOT NULL,
        quantity BIGINT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE invoices (
        contract BIGINT NOT NULL,
        period_start BIGINT NOT NULL,
        total BIGINT NOT NULL,
        invoice TEXT NOT NULL,
        PRIMARY KEY (contract, period_start)
    );
    ",
    // 2: as SQLite's migration 2.
    "
    CREATE INDEX jobs_by_sender ON jobs (sender);
    CREATE INDEX meter_readings_by_time ON meter_readings (observed_at);
    ",
    // 3: as SQLite's migration 3.
    "
    ALTER TABLE devices ADD COLUMN collector BIGINT;
    ",
    // 4: a device's newest jobs in order without a sort, for the window of recent job UUIDs
    // read at a restart: what SQLite's `jobs_by_sender` gives by itself (its entries are in
    // rowid order), so SQLite's migration 4 is empty.
    "
    CREATE INDEX jobs_recent ON jobs (sender, id) WHERE uuid IS NOT NULL;
    ",
    // 5: as SQLite's migration 5.
    "
    CREATE INDEX jobs_by_time ON jobs (received_at);
    ",
];

/// The advisory lock that serialises migrations of one database (the bytes of "printflt"), so
/// that two portals starting at once do not both migrate.
const MIGRATION_LOCK: i64 = 0x7072_696e_7466_6c74;

/// Longest schema name PostgreSQL accepts (`NAMEDATALEN - 1`).
pub const MAX_SCHEMA_NAME_LEN: usize = 63;

/// Batched writes: one statement per table per [`Store::write_batches`] call, each row set
/// passed as arrays and expanded by `UNNEST` (one round trip per table instead of one per row).
const UPSERT_WINDOWS: &str = "INSERT INTO replay_windows (sender, key_id, highest, seen_hi, seen_lo)
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
    ON CONFLICT (sender, key_id) DO UPDATE SET highest = EXCLUDED.highest, seen_hi = EXCLUDED.seen_hi,
      seen_lo = EXCLUDED.seen_lo";
const UPSERT_RECEIVERS: &str = "INSERT INTO receivers (sender, state) SELECT * FROM UNNEST($1::bigint[], $2::text[])
    ON CONFLICT (sender) DO UPDATE SET state = EXCLUDED.state";
const UPSERT_STATES: &str = "INSERT INTO device_states (sender, updated_at, instance, sequence, state)
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[])
    ON CONFLICT (sender) DO UPDATE SET updated_at = EXCLUDED.updated_at, instance = EXCLUDED.instance,
      sequence = EXCLUDED.sequence, state = EXCLUDED.state";
const INSERT_IDENTITIES: &str = "INSERT INTO identity_history (sender, at, identity)
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[])";
const INSERT_LEVELS: &str = "INSERT INTO consumable_levels (sender, at, record_id, level)
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])";
const INSERT_ALERTS: &str = "INSERT INTO alert_history (sender, at, record_id, raised, alert)
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::boolean[], $5::text[])";
// A reading seen again (same key) is the same reading: stored once.
const INSERT_READINGS: &str = "INSERT INTO meter_readings (device, instance, sequence, kind, value, observed_at)
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[])
    ON CONFLICT DO NOTHING";
// In the arrays' order (`ORDER BY` the ordinality), so that `id` numbers the jobs in the order
// they were handed over, as SQLite's rowid does: the recent job UUIDs are read back by it. A job
// whose UUID the device's jobs hold is stored once, as on SQLite (its batch write says why).
const INSERT_JOBS: &str = "INSERT INTO jobs (sender, uuid, job_sequence, received_at, record)
    SELECT s, u, q, r, j FROM UNNEST($1::bigint[], $2::bytea[], $3::bigint[], $4::bigint[], $5::text[])
    WITH ORDINALITY AS t (s, u, q, r, j, n) ORDER BY n
    ON CONFLICT (sender, uuid) WHERE uuid IS NOT NULL DO NOTHING";

/// The prepared batch statements.
struct Prepared {
    windows: Statement,
    receivers: Statement,
    states: Statement,
    identities: Statement,
    levels: Statement,
    alerts: Statement,
    readings: Statement,
    jobs: Statement,
}

impl Prepared {
    fn new(client: &mut Client) -> Result<Self, StoreError> {
        Ok(Self {
            windows: client.prepare(UPSERT_WINDOWS)?,
            receivers: client.prepare(UPSERT_RECEIVERS)?,
            states: client.prepare(UPSERT_STATES)?,
            identities: client.prepare(INSERT_IDENTITIES)?,
            levels: client.prepare(INSERT_LEVELS)?,
            alerts: client.prepare(INSERT_ALERTS)?,
            readings: client.prepare(INSERT_READINGS)?,
            jobs: client.prepare(INSERT_JOBS)?,
        })
    }
}

/// The rows of one [`Store::write_batches`] call, column by column.
// One tuple per table, one vector per column in the table's (and the statement's) column order:
// naming each tuple type would only repeat the SQL above.
#[allow(clippy::type_complexity)]
#[derive(Default)]
struct Rows {
    windows: (Vec<i64>, Vec<i64>, Vec<i64>, Vec<Option<i64>>, Vec<Option<i64>>),
    receivers: (Vec<i64>, Vec<String>),
    states: (Vec<i64>, Vec<i64>, Vec<i64>, Vec<i64>, Vec<Vec<u8>>),
    identities: (Vec<i64>, Vec<i64>, Vec<String>),
    levels: (Vec<i64>, Vec<i64>, Vec<i64>, Vec<String>),
    alerts: (Vec<i64>, Vec<i64>, Vec<i64>, Vec<bool>, Vec<Option<String>>),
    readings: (Vec<i64>, Vec<i64>, Vec<i64>, Vec<String>, Vec<i64>, Vec<i64>),
    jobs: (Vec<i64>, Vec<Option<Vec<u8>>>, Vec<i64>, Vec<i64>, Vec<String>),
}

/// Keeps the last row per key (an upsert of several rows with one key in one statement is an
/// error in PostgreSQL; applied one after the other, the last one wins, so keep that one).
fn last_per_key<K: Eq + core::hash::Hash + Copy>(keys: &[K]) -> Vec<bool> {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    let mut mask: Vec<bool> = keys.iter().rev().map(|k| seen.insert(*k)).collect();
    mask.reverse();
    mask
}

fn keep<T>(v: Vec<T>, mask: &[bool]) -> Vec<T> {
    v.into_iter().zip(mask).filter(|(_, k)| **k).map(|(x, _)| x).collect()
}

impl Rows {
    fn add(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let w = batch.writes();
        let sender = int(w.device.0);
        let at = millis(w.received_at);
        if let Some((key_id, window)) = w.window {
            let (hi, lo) = match window.seen {
                Some([hi, lo]) => (Some(int(hi)), Some(int(lo))),
                None => (None, None),
            };
            let r = &mut self.windows;
            r.0.push(sender);
            r.1.push(i64::from(key_id.0));
            r.2.push(int(window.highest));
            r.3.push(hi);
            r.4.push(lo);
        }
        self.receivers.0.push(sender);
        self.receivers.1.push(json(&w.receiver, "receiver state")?);
        if let Some(state) = &w.state {
            let mut bytes = Vec::new();
            encode_state(state, &mut bytes)?;
            let r = &mut self.states;
            r.0.push(sender);
            r.1.push(at);
            r.2.push(i64::from(w.instance.0));
            r.3.push(int(w.sequence));
            r.4.push(bytes);
        }
        if let Some(identity) = &w.identity_changed {
            let r = &mut self.identities;
            r.0.push(sender);
            r.1.push(at);
            r.2.push(json(identity, "identity")?);
        }
        for (record, level) in &w.levels {
            let r = &mut self.levels;
            r.0.push(sender);
            r.1.push(at);
            r.2.push(int(record.0));
            r.3.push(json(level, "level")?);
        }
        for alert in &w.alerts_raised {
            let r = &mut self.alerts;
            r.0.push(sender);
            r.1.push(at);
            r.2.push(int(alert.record_id.0));
            r.3.push(true);
            r.4.push(Some(json(alert, "alert")?));
        }
        for record in &w.alerts_cleared {
            let r = &mut self.alerts;
            r.0.push(sender);
            r.1.push(at);
            r.2.push(int(record.0));
            r.3.push(false);
            r.4.push(None);
        }
        for o in &w.observations {
            let r = &mut self.readings;
            r.0.push(int(o.key.device.0));
            r.1.push(i64::from(o.key.instance));
            r.2.push(int(o.key.sequence));
            r.3.push(o.kind.to_string());
            r.4.push(int(o.value));
            r.5.push(millis(o.observed_at));
        }
        for job in &w.jobs {
            let r = &mut self.jobs;
            r.0.push(sender);
            r.1.push((!job.job.uuid.is_nil()).then(|| job.job.uuid.as_bytes().to_vec()));
            r.2.push(int(job.job.sequence));
            r.3.push(at);
            r.4.push(json(job, "job")?);
        }
        Ok(())
    }

    fn write(self, tx: &mut Transaction<'_>, st: &Prepared) -> Result<(), StoreError> {
        fn run(
            tx: &mut Transaction<'_>,
            st: &Statement,
            n: usize,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<(), StoreError> {
            if n > 0 {
                tx.execute(st, params)?;
            }
            Ok(())
        }
        let Self { windows: w, receivers: r, states: s, identities: i, levels: l, alerts: a, readings: m, jobs: j } =
            self;
        let mask = last_per_key(&w.0.iter().copied().zip(w.1.iter().copied()).collect::<Vec<_>>());
        let w = (keep(w.0, &mask), keep(w.1, &mask), keep(w.2, &mask), keep(w.3, &mask), keep(w.4, &mask));
        run(tx, &st.windows, w.0.len(), &[&w.0, &w.1, &w.2, &w.3, &w.4])?;
        let mask = last_per_key(&r.0);
        let r = (keep(r.0, &mask), keep(r.1, &mask));
        run(tx, &st.receivers, r.0.len(), &[&r.0, &r.1])?;
        let mask = last_per_key(&s.0);
        let s = (keep(s.0, &mask), keep(s.1, &mask), keep(s.2, &mask), keep(s.3, &mask), keep(s.4, &mask));
        run(tx, &st.states, s.0.len(), &[&s.0, &s.1, &s.2, &s.3, &s.4])?;
        run(tx, &st.identities, i.0.len(), &[&i.0, &i.1, &i.2])?;
        run(tx, &st.levels, l.0.len(), &[&l.0, &l.1, &l.2, &l.3])?;
        run(tx, &st.alerts, a.0.len(), &[&a.0, &a.1, &a.2, &a.3, &a.4])?;
        run(tx, &st.readings, m.0.len(), &[&m.0, &m.1, &m.2, &m.3, &m.4, &m.5])?;
        run(tx, &st.jobs, j.0.len(), &[&j.0, &j.1, &j.2, &j.3, &j.4])?;
        Ok(())
    }
}

/// The PostgreSQL store: one connection, one transaction per call, committed with PostgreSQL's
/// default `synchronous_commit = on` (a call returns once its commit record is flushed to the
/// server's WAL).
pub struct PostgresStore {
    client: Client,
    prepared: Prepared,
}

impl core::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The connection string may hold a password: never printed.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects with a libpq-style connection string or URL (`host=127.0.0.1 user=portal
    /// dbname=printfleet`, `postgresql://portal@127.0.0.1/printfleet`), without TLS (use a
    /// local socket or a loopback address), and migrates the database to
    /// [`PG_SCHEMA_VERSION`]. Refuses a newer database.
    pub fn connect(params: &str) -> Result<Self, StoreError> {
        Self::open(Client::connect(params, NoTls)?)
    }

    /// Like [`connect`](Self::connect), with every table in the PostgreSQL schema `schema`
    /// (created if missing; 1 to [`MAX_SCHEMA_NAME_LEN`] characters from `[a-z0-9_]`, not
    /// starting with a digit): several portals, or tests, can share one database.
    pub fn connect_in_schema(params: &str, schema: &str) -> Result<Self, StoreError> {
        let valid = !schema.is_empty()
            && schema.len() <= MAX_SCHEMA_NAME_LEN
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(StoreError::InvalidSchemaName);
        }
        let mut client = Client::connect(params, NoTls)?;
        // The name is checked above: safe to splice (identifiers cannot be bound parameters).
        // Under the migrations' lock: `CREATE SCHEMA IF NOT EXISTS` run by two connections at
        // once fails in one of them (a duplicate key in the catalogue).
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
        tx.commit()?;
        client.batch_execute(&format!("SET search_path TO {schema}"))?;
        Self::open(client)
    }

    fn open(mut client: Client) -> Result<Self, StoreError> {
        migrate(&mut client)?;
        let prepared = Prepared::new(&mut client)?;
        Ok(Self { client, prepared })
    }

    /// The database's schema version.
    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        Ok(self.client.query_one("SELECT version FROM schema_version", &[])?.try_get(0)?)
    }

    /// Rows in `table` (for tests and operators' checks); a name that is not one of the
    /// schema's tables is [`StoreError::UnknownTable`].
    pub fn count(&mut self, table: &str) -> Result<u64, StoreError> {
        let Some(table) = TABLES.iter().find(|t| **t == table) else {
            return Err(StoreError::UnknownTable { name: table.to_owned() });
        };
        let n: i64 = self.client.query_one(&format!("SELECT count(*) FROM {table}"), &[])?.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The device's current state as stored.
    pub fn device_state(&mut self, device: SenderId) -> Result<Option<DeviceState>, StoreError> {
        let row = self.client.query_opt("SELECT state FROM device_states WHERE sender = $1", &[&int(device.0)])?;
        row.map(|r| {
            let bytes: Vec<u8> = r.try_get(0)?;
            decode_state(&bytes).map_err(|e| e.of_device(device))
        })
        .transpose()
    }

    /// The job sequence numbers stored for a device, in the order they were stored.
    pub fn job_sequences(&mut self, device: SenderId) -> Result<Vec<u64>, StoreError> {
        let rows =
            self.client.query("SELECT job_sequence FROM jobs WHERE sender = $1 ORDER BY id", &[&int(device.0)])?;
        rows.iter().map(|r| r.try_get::<_, i64>(0).map(uint).map_err(StoreError::from)).collect()
    }

    /// The meter readings observed in `[from, to)`, in time order (what `printfleet bill` feeds
    /// `printfleet-meter`). A kind that does not parse is [`StoreError::Corrupt`].
    pub fn meter_readings(&mut self, from: Timestamp, to: Timestamp) -> Result<Vec<Observation>, StoreError> {
        let rows = self.client.query(
            "SELECT device, instance, sequence, kind, value, observed_at FROM meter_readings
             WHERE observed_at >= $1 AND observed_at < $2 ORDER BY observed_at, device, instance, sequence",
            &[&millis(from), &millis(to)],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let kind: String = r.try_get(3)?;
            let kind = kind.parse().map_err(|_| StoreError::corrupt("meter kind"))?;
            let instance = u32::try_from(r.try_get::<_, i64>(1)?).map_err(|_| StoreError::corrupt("instance"))?;
            let observed_at =
                Timestamp::from_unix_millis(uint(r.try_get(5)?)).map_err(|_| StoreError::corrupt("reading time"))?;
            out.push(Observation {
                key: ObservationKey { device: DeviceId(uint(r.try_get(0)?)), instance, sequence: uint(r.try_get(2)?) },
                kind,
                value: uint(r.try_get(4)?),
                observed_at,
                provenance: Provenance::Agent,
            });
        }
        Ok(out)
    }

    /// [`Store::job_records`], which this is.
    pub fn job_records(&mut self, from: Timestamp, to: Timestamp) -> Result<Vec<JobRecord>, StoreError> {
        let rows = self.client.query(
            "SELECT d.meter_device, j.received_at, j.record, j.sender FROM jobs j JOIN devices d ON d.sender = j.sender
             WHERE j.received_at >= $1 AND j.received_at < $2 ORDER BY j.id",
            &[&millis(from), &millis(to)],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let record: String = r.try_get(2)?;
            let sender = SenderId(uint(r.try_get(3)?));
            let record = stored_job_record(uint(r.try_get(0)?), uint(r.try_get(1)?), &record);
            out.push(record.map_err(|e| e.of_device(sender))?);
        }
        Ok(out)
    }

    /// One device's saved receiver: its state (`state`, the `receivers` row), replay windows,
    /// recent job UUIDs and current state.
    fn saved_device(&mut self, sender: i64, state: &str) -> Result<SavedDevice, StoreError> {
        let receiver: ReceiverState = unjson(state, "receiver state")?;
        let windows = self
            .client
            .query("SELECT key_id, highest, seen_hi, seen_lo FROM replay_windows WHERE sender = $1", &[&sender])?
            .iter()
            .map(|w| {
                let (hi, lo): (Option<i64>, Option<i64>) = (w.try_get(2)?, w.try_get(3)?);
                let seen = hi.zip(lo).map(|(hi, lo)| [uint(hi), uint(lo)]);
                let key = u32::try_from(w.try_get::<_, i64>(0)?).map_err(|_| StoreError::corrupt("key id"))?;
                Ok((KeyId(key), WindowState { highest: uint(w.try_get(1)?), seen }))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut recent_jobs = self
            .client
            .query(
                "SELECT uuid FROM jobs WHERE sender = $1 AND uuid IS NOT NULL ORDER BY id DESC LIMIT $2",
                &[&sender, &i64::try_from(RECENT_JOBS).unwrap_or(i64::MAX)],
            )?
            .iter()
            .map(|r| {
                let bytes: Vec<u8> = r.try_get(0)?;
                Uuid::from_slice(&bytes).map_err(|_| StoreError::corrupt("job uuid"))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        recent_jobs.reverse();
        let device = SenderId(uint(sender));
        let state = self.device_state(device)?;
        Ok(SavedDevice { device, receiver, recent_jobs, windows, state })
    }
}

/// Applies the migrations the database lacks, each in its own transaction under the migration
/// lock; refuses a newer database.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let version: i64 = tx.query_opt("SELECT version FROM schema_version", &[])?.map_or(Ok(0), |r| r.try_get(0))?;
        if version > PG_SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { found: version, supported: PG_SCHEMA_VERSION });
        }
        let Some(sql) = PG_MIGRATIONS.get(usize::try_from(version).unwrap_or(usize::MAX)) else {
            tx.commit()?;
            return Ok(());
        };
        tx.batch_execute(sql)?;
        tx.execute("DELETE FROM schema_version", &[])?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&version.saturating_add(1)])?;
        tx.commit()?;
    }
}

impl Store for PostgresStore {
    fn write_batches(&mut self, batches: &[&Batch]) -> Result<(), StoreError> {
        let mut rows = Rows::default();
        for batch in batches {
            rows.add(batch)?;
        }
        let mut tx = self.client.transaction()?;
        rows.write(&mut tx, &self.prepared)?;
        tx.commit()?;
        Ok(())
    }

    fn put_device(&mut self, record: &DeviceRecord) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        let sender = int(record.sender().0);
        tx.execute(
            "INSERT INTO devices (sender, name, reseller, customer, contract, meter_device, revoked, collector)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (sender) DO UPDATE SET name = $2, reseller = $3, customer = $4, contract = $5,
               meter_device = $6, revoked = $7, collector = $8",
            &[
                &sender,
                &record.name,
                &int(record.owner.reseller.0),
                &int(record.owner.customer.0),
                &int(record.owner.contract.0),
                &int(record.meter_device.0),
                &record.revoked,
                &record.collector.map(|c| int(c.0)),
            ],
        )?;
        // Credentials no longer listed go; a sealed secret stays with its epoch.
        let epochs: Vec<i64> = record.credentials.iter().map(|c| i64::from(c.epoch.0)).collect();
        tx.execute("DELETE FROM credentials WHERE sender = $1 AND NOT (epoch = ANY($2))", &[&sender, &epochs])?;
        for c in &record.credentials {
            let parts = c.verifier.as_ref().map(Verifier::to_parts);
            let (salt, iterations, stored, server) = match &parts {
                Some((salt, i, stored, server)) => {
                    (Some(salt.as_slice()), Some(i64::from(*i)), Some(&stored[..]), Some(&server[..]))
                }
                None => (None, None, None, None),
            };
            tx.execute(
                "INSERT INTO credentials (sender, epoch, revoked, salt, iterations, stored_key, server_key)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (sender, epoch) DO UPDATE SET revoked = $3, salt = $4, iterations = $5,
                   stored_key = $6, server_key = $7",
                &[&sender, &i64::from(c.epoch.0), &c.revoked, &salt, &iterations, &stored, &server],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn put_sealed_secret(&mut self, device: SenderId, epoch: u32, sealed: &[u8]) -> Result<(), StoreError> {
        let n = self.client.execute(
            "UPDATE credentials SET sealed_secret = $3 WHERE sender = $1 AND epoch = $2",
            &[&int(device.0), &i64::from(epoch), &sealed],
        )?;
        if n == 0 {
            return Err(StoreError::NoCredential { device, epoch });
        }
        Ok(())
    }

    fn sealed_secret(&mut self, device: SenderId, epoch: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self.client.query_opt(
            "SELECT sealed_secret FROM credentials WHERE sender = $1 AND epoch = $2",
            &[&int(device.0), &i64::from(epoch)],
        )?;
        Ok(row.map(|r| r.try_get::<_, Option<Vec<u8>>>(0)).transpose()?.flatten())
    }

    fn load_devices(&mut self) -> Result<Vec<DeviceRecord>, StoreError> {
        // Two queries, every credential in one (a query per device is a round trip per device:
        // seconds for a large fleet, at each reload of the registry), on one snapshot: a device
        // added between them is either whole or not there.
        let mut tx =
            self.client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
        let devices = tx.query(
            "SELECT sender, name, reseller, customer, contract, meter_device, revoked, collector
             FROM devices ORDER BY sender",
            &[],
        )?;
        let credential_rows = tx.query(
            "SELECT sender, epoch, revoked, salt, iterations, stored_key, server_key FROM credentials
             ORDER BY sender, epoch",
            &[],
        )?;
        tx.commit()?;
        let mut credentials: BTreeMap<i64, Vec<Credential>> = BTreeMap::new();
        for r in credential_rows {
            let sender: i64 = r.try_get(0)?;
            let credential = (|| {
                stored_credential(
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                    r.try_get(6)?,
                )
            })()
            .map_err(|e: StoreError| e.of_device(SenderId(uint(sender))))?;
            credentials.entry(sender).or_default().push(credential);
        }
        let mut out = Vec::with_capacity(devices.len());
        for r in devices {
            let sender: i64 = r.try_get(0)?;
            let record = (|| {
                Ok::<_, StoreError>(DeviceRecord {
                    name: r.try_get(1)?,
                    owner: Owner {
                        reseller: ResellerId(uint(r.try_get(2)?)),
                        customer: CustomerId(uint(r.try_get(3)?)),
                        contract: ContractId(uint(r.try_get(4)?)),
                    },
                    meter_device: DeviceId(uint(r.try_get(5)?)),
                    revoked: r.try_get(6)?,
                    credentials: credentials.remove(&sender).unwrap_or_default(),
                    collector: r.try_get::<_, Option<i64>>(7)?.map(|c| SenderId(uint(c))),
                })
            })()
            .map_err(|e| e.of_device(SenderId(uint(sender))))?;
            if int(record.sender().0) != sender {
                return Err(StoreError::corrupt("device sender id").of_device(SenderId(uint(sender))));
            }
            out.push(record);
        }
        Ok(out)
    }

    fn load(&mut self) -> Result<Loaded, StoreError> {
        let mut loaded = Loaded { devices: self.load_devices()?, ..Loaded::default() };
        let receivers = self.client.query("SELECT sender, state FROM receivers ORDER BY sender", &[])?;
        for r in receivers {
            let sender: i64 = r.try_get(0)?;
            let device = SenderId(uint(sender));
            let saved = self.saved_device(sender, r.try_get(1)?).map_err(|e| e.of_device(device))?;
            loaded.saved.push(saved);
        }
        Ok(loaded)
    }

    fn put_contract(&mut self, id: ContractId, terms: &Terms, starts: Timestamp) -> Result<(), StoreError> {
        self.client.execute(
            "INSERT INTO contracts (id, starts, terms) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET starts = $2, terms = $3",
            &[&int(id.0), &millis(starts), &json(terms, "terms")?],
        )?;
        Ok(())
    }

    fn save_meter(&mut self, meter: &Meter) -> Result<(), StoreError> {
        self.client.execute(
            "INSERT INTO meter_state (id, state) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET state = $1",
            &[&json(meter, "meter state")?],
        )?;
        Ok(())
    }

    fn load_meter(&mut self) -> Result<Option<Meter>, StoreError> {
        let row = self.client.query_opt("SELECT state FROM meter_state WHERE id = 1", &[])?;
        row.map(|r| r.try_get::<_, String>(0).map_err(StoreError::from).and_then(|t| unjson(&t, "meter state")))
            .transpose()
    }

    fn device_state(&mut self, device: SenderId) -> Result<Option<DeviceState>, StoreError> {
        PostgresStore::device_state(self, device)
    }

    fn job_sequences(&mut self, device: SenderId) -> Result<Vec<u64>, StoreError> {
        PostgresStore::job_sequences(self, device)
    }

    fn meter_readings(&mut self, from: Timestamp, to: Timestamp) -> Result<Vec<Observation>, StoreError> {
        PostgresStore::meter_readings(self, from, to)
    }

    fn metered_devices(&mut self, from: Timestamp, to: Timestamp) -> Result<BTreeSet<DeviceId>, StoreError> {
        let rows = self.client.query(
            "SELECT DISTINCT device FROM meter_readings WHERE observed_at >= $1 AND observed_at < $2",
            &[&millis(from), &millis(to)],
        )?;
        rows.iter().map(|r| Ok(DeviceId(uint(r.try_get(0)?)))).collect()
    }

    fn job_records(&mut self, from: Timestamp, to: Timestamp) -> Result<Vec<JobRecord>, StoreError> {
        PostgresStore::job_records(self, from, to)
    }

    fn record_closing(&mut self, closing: &Closing, meter: &Meter) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        let insert = tx.prepare(
            "INSERT INTO usage_lines (contract, device, period_start, category, line, quantity, record)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )?;
        for line in &closing.usage {
            tx.execute(
                &insert,
                &[
                    &int(line.contract.0),
                    &int(line.device.0),
                    &millis(line.period_start),
                    &line.category.to_string(),
                    &line.line.name(),
                    &line.quantity.0,
                    &json(line, "usage line")?,
                ],
            )?;
        }
        let invoice = &closing.invoice;
        tx.execute(
            "INSERT INTO invoices (contract, period_start, total, invoice) VALUES ($1, $2, $3, $4)",
            &[
                &int(invoice.contract.0),
                &millis(invoice.period_start),
                &int(invoice.total.0),
                &json(invoice, "invoice")?,
            ],
        )?;
        tx.execute(
            "INSERT INTO meter_state (id, state) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET state = $1",
            &[&json(meter, "meter state")?],
        )?;
        tx.commit()?;
        Ok(())
    }
}
