//! printfleet-store's test suite, run against both backends: SQLite on temporary files, and
//! PostgreSQL (feature `postgres`) on the server `PRINTFLEET_POSTGRES_URL` names, each test in a
//! schema of its own; without the variable the PostgreSQL tests print a notice and pass.
//! Migrations, a crash inside a transaction, the registry, billing state, and the ingest restored
//! from the store after kills.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::path::PathBuf;

use printfleet_agent::{AgentError, DeviceAgent, Schedule, Transmit};
use printfleet_auth::{DeviceSecret, FleetMasterKey, KeyEpoch, Verifier, one_shot, sender_id_of};
use printfleet_diff::DeviceState;
use printfleet_diff::sync::{Instance, RECENT_JOBS};
use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Ingest, IngestError, Owner, ResellerId};
use printfleet_meter::{
    Category, CategoryTerms, ContractId, Device, DeviceId, Meter, MeterConfig, ModelClass, Price, Terms,
};
use printfleet_schema::{DurationMs, Level, MeterKind, PageCount, PrintJob, Redaction, Timestamp, samples};
use printfleet_store::{SqliteStore, Store, StoreError};
use printfleet_wire::frame::SenderId;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// A database under test: how to make an empty one, reopen it, and tamper with it.
trait Backend: Sized {
    /// The store.
    type S: Store + Inspect + std::fmt::Debug;
    /// The newest schema version the backend knows.
    const VERSION: i64;
    /// A fresh, empty database for the test `name`; `None` (after a notice) when the backend
    /// is not available here.
    fn fresh(name: &str) -> Option<Self>;
    /// Opens (and migrates) the database.
    fn try_open(&self) -> Result<Self::S, StoreError>;
    /// Opens the database.
    fn open(&self) -> Self::S {
        self.try_open().unwrap()
    }
    /// Overwrites the stored schema version, behind the store's back.
    fn set_version(&self, version: i64);
    /// Runs `sql` (written for both backends) behind the store's back.
    fn tamper(&self, sql: &str);
    /// Another connection inserts `n` jobs in a transaction and then "dies": the transaction
    /// is never committed and the connection never closed.
    fn abandon_uncommitted_jobs(&self, n: i64);
}

/// What the tests read back, beyond the `Store` trait (each backend has these as inherent
/// methods).
trait Inspect {
    fn version(&mut self) -> i64;
    fn rows(&mut self, table: &str) -> Result<u64, StoreError>;
    fn state_of(&mut self, device: SenderId) -> Option<DeviceState>;
    fn jobs_of(&mut self, device: SenderId) -> Vec<u64>;
}

struct Sqlite {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Backend for Sqlite {
    type S = SqliteStore;
    const VERSION: i64 = printfleet_store::SCHEMA_VERSION;
    fn fresh(name: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{name}.db"));
        Some(Self { _dir: dir, path })
    }
    fn try_open(&self) -> Result<SqliteStore, StoreError> {
        SqliteStore::open(&self.path)
    }
    fn set_version(&self, version: i64) {
        rusqlite::Connection::open(&self.path)
            .unwrap()
            .execute("UPDATE schema_version SET version = ?1", [version])
            .unwrap();
    }
    fn tamper(&self, sql: &str) {
        rusqlite::Connection::open(&self.path).unwrap().execute_batch(sql).unwrap();
    }
    fn abandon_uncommitted_jobs(&self, n: i64) {
        let conn = rusqlite::Connection::open(&self.path).unwrap();
        conn.pragma_update(None, "cache_size", 1).unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..n {
            conn.execute(
                "INSERT INTO jobs (sender, uuid, job_sequence, received_at, record) VALUES (1, NULL, ?1, 0, '{}')",
                [i],
            )
            .unwrap();
        }
        std::mem::forget(conn);
    }
}

impl Inspect for SqliteStore {
    fn version(&mut self) -> i64 {
        self.schema_version().unwrap()
    }
    fn rows(&mut self, table: &str) -> Result<u64, StoreError> {
        self.count(table)
    }
    fn state_of(&mut self, device: SenderId) -> Option<DeviceState> {
        self.device_state(device).unwrap()
    }
    fn jobs_of(&mut self, device: SenderId) -> Vec<u64> {
        self.job_sequences(device).unwrap()
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use std::io::Write;
    use std::sync::atomic::{AtomicU32, Ordering};

    use printfleet_store::PostgresStore;

    use super::*;

    /// One PostgreSQL schema per test, dropped at the end.
    pub(crate) struct Postgres {
        url: String,
        schema: String,
    }

    static NEXT: AtomicU32 = AtomicU32::new(0);

    impl Postgres {
        fn client(&self) -> postgres::Client {
            let mut c = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
            c.batch_execute(&format!("SET search_path TO {}", self.schema)).unwrap();
            c
        }
    }

    impl Backend for Postgres {
        type S = PostgresStore;
        const VERSION: i64 = printfleet_store::PG_SCHEMA_VERSION;
        fn fresh(name: &str) -> Option<Self> {
            let Ok(url) = std::env::var("PRINTFLEET_POSTGRES_URL") else {
                // Written past the test harness's capture, so that the skip is seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "notice: PRINTFLEET_POSTGRES_URL is unset: PostgreSQL test {name} skipped \
                     (crates/store/tests/postgres.sh runs them on a throwaway server)"
                );
                return None;
            };
            let schema = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
            Some(Self { url, schema })
        }
        fn try_open(&self) -> Result<PostgresStore, StoreError> {
            PostgresStore::connect_in_schema(&self.url, &self.schema)
        }
        fn set_version(&self, version: i64) {
            self.client().execute("UPDATE schema_version SET version = $1", &[&version]).unwrap();
        }
        fn tamper(&self, sql: &str) {
            self.client().batch_execute(sql).unwrap();
        }
        fn abandon_uncommitted_jobs(&self, n: i64) {
            let mut c = self.client();
            c.batch_execute("BEGIN").unwrap();
            for i in 0..n {
                c.execute(
                    "INSERT INTO jobs (sender, uuid, job_sequence, received_at, record) VALUES (1, NULL, $1, 0, '{}')",
                    &[&i],
                )
                .unwrap();
            }
            // The process dies: its socket closes with the transaction open, and the server
            // aborts it. (Keeping the connection open instead would hold the transaction's locks
            // until this test process ends.)
            drop(c);
        }
    }

    impl Drop for Postgres {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
            }
        }
    }

    impl Inspect for PostgresStore {
        fn version(&mut self) -> i64 {
            self.schema_version().unwrap()
        }
        fn rows(&mut self, table: &str) -> Result<u64, StoreError> {
            self.count(table)
        }
        fn state_of(&mut self, device: SenderId) -> Option<DeviceState> {
            self.device_state(device).unwrap()
        }
        fn jobs_of(&mut self, device: SenderId) -> Vec<u64> {
            self.job_sequences(device).unwrap()
        }
    }

    #[test]
    fn schema_names_are_checked() {
        for bad in ["", "Upper", "1st", "a;drop", &"x".repeat(64)] {
            assert!(
                matches!(PostgresStore::connect_in_schema("host=127.0.0.1", bad), Err(StoreError::InvalidSchemaName)),
                "{bad:?}"
            );
        }
    }
}

/// Each generic test, instantiated per backend.
macro_rules! suite {
    ($backend:ty) => {
        #[test]
        fn an_empty_database_migrates_to_the_current_version() {
            super::an_empty_database_migrates_to_the_current_version::<$backend>()
        }
        #[test]
        fn processes_opening_a_database_at_once_migrate_it_once() {
            super::processes_opening_a_database_at_once_migrate_it_once::<$backend>()
        }
        #[test]
        fn a_database_from_a_newer_version_is_refused() {
            super::a_database_from_a_newer_version_is_refused::<$backend>()
        }
        #[test]
        fn devices_credentials_and_sealed_secrets_survive_a_reopen() {
            super::devices_credentials_and_sealed_secrets_survive_a_reopen::<$backend>()
        }
        #[test]
        fn a_transaction_never_committed_is_not_there_after_reopening() {
            super::a_transaction_never_committed_is_not_there_after_reopening::<$backend>()
        }
        #[test]
        fn the_ingest_restored_after_kills_stores_every_job_once() {
            super::the_ingest_restored_after_kills_stores_every_job_once::<$backend>()
        }
        #[test]
        fn a_corrupt_row_is_reported_with_its_device() {
            super::a_corrupt_row_is_reported_with_its_device::<$backend>()
        }
        #[test]
        fn a_job_stored_twice_is_kept_once() {
            super::a_job_stored_twice_is_kept_once::<$backend>()
        }
        #[test]
        fn the_meter_contracts_and_a_closing_are_stored_once() {
            super::the_meter_contracts_and_a_closing_are_stored_once::<$backend>()
        }
        #[test]
        fn many_batches_in_one_call_are_stored_like_one_at_a_time() {
            super::many_batches_in_one_call_are_stored_like_one_at_a_time::<$backend>()
        }
        #[test]
        fn readings_and_job_records_come_back_for_billing() {
            super::readings_and_job_records_come_back_for_billing::<$backend>()
        }
        #[test]
        fn the_recent_job_uuids_come_back_from_the_stored_jobs() {
            super::the_recent_job_uuids_come_back_from_the_stored_jobs::<$backend>()
        }
    };
}

mod sqlite {
    suite!(super::Sqlite);

    #[test]
    fn the_database_is_in_wal_mode() {
        let b = <super::Sqlite as super::Backend>::fresh("wal").unwrap();
        drop(super::Backend::open(&b));
        let mode: String =
            rusqlite::Connection::open(&b.path).unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_version_1_database_with_data_migrates_to_the_current_version() {
        let b = <super::Sqlite as super::Backend>::fresh("v1").unwrap();
        let conn = rusqlite::Connection::open(&b.path).unwrap();
        conn.execute_batch(printfleet_store::MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
             INSERT INTO jobs (sender, uuid, job_sequence, received_at, record) VALUES (7, NULL, 41, 0, '{}');
             INSERT INTO jobs (sender, uuid, job_sequence, received_at, record) VALUES (7, NULL, 42, 0, '{}');",
        )
        .unwrap();
        drop(conn);
        let mut store = super::Backend::open(&b);
        assert_eq!(super::Inspect::version(&mut store), printfleet_store::SCHEMA_VERSION);
        assert_eq!(super::Inspect::jobs_of(&mut store, super::SenderId(7)), [41, 42]);
        let indexes: i64 = rusqlite::Connection::open(&b.path)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index'
                 AND name IN ('jobs_by_sender', 'meter_readings_by_time')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 2);
    }
}

#[cfg(feature = "postgres")]
mod postgres_backend {
    suite!(super::pg::Postgres);
}

fn master() -> FleetMasterKey {
    FleetMasterKey::from_bytes([0x33; 32])
}

fn at(ms: u64) -> Timestamp {
    samples::SAMPLE_TIME.checked_add(DurationMs(ms)).unwrap()
}

fn record(name: &str) -> DeviceRecord {
    DeviceRecord {
        name: name.into(),
        owner: Owner { reseller: ResellerId(10), customer: CustomerId(20), contract: ContractId(30) },
        meter_device: DeviceId(40),
        revoked: false,
        credentials: vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }],
        collector: None,
    }
}

fn job(n: u64) -> PrintJob {
    let mut j = samples::large_format(1).events.print_jobs.remove(0);
    j.job.uuid = uuid_of(n);
    j.job.sequence = n;
    j.print.pages = PageCount(2);
    j
}

fn uuid_of(n: u64) -> uuid::Uuid {
    uuid::Uuid::from_u64_pair(0xdb, n + 1)
}

fn pump(agent: &mut DeviceAgent, now: Timestamp, rng: &mut ChaCha20Rng) -> Option<Transmit> {
    agent.poll_transmit_saving(now, rng, |_| Ok::<(), AgentError>(())).unwrap()
}

fn restore(store: &mut (impl Store + ?Sized)) -> Ingest<FleetMasterKey> {
    let loaded = store.load().unwrap();
    Ingest::restore(master(), loaded.devices, loaded.saved).unwrap()
}

/// The receiver's window of recent job UUIDs is not written with every update: a restart reads
/// it from the stored jobs, the newest `RECENT_JOBS` in the order stored. With it, a job that an
/// agent records again after losing its state is recognised and not stored a second time (the
/// store refuses a job twice, which would fail the device's transaction for ever).
fn the_recent_job_uuids_come_back_from_the_stored_jobs<B: Backend>() {
    let Some(b) = B::fresh("recent") else { return };
    let mut store = b.open();
    // Two key epochs: a device that lost its state (and its frame sequence numbers) is given
    // the second.
    let mut rec = record("busy");
    rec.credentials.push(Credential { epoch: KeyEpoch(2), revoked: false, verifier: None });
    store.put_device(&rec).unwrap();
    let mut ingest = restore(&mut store);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let new_agent = |epoch| {
        let secret = master().device_secret("busy", KeyEpoch(epoch));
        let key = one_shot::frame_key(&secret, "busy", KeyEpoch(epoch));
        let mut agent =
            DeviceAgent::new(sender_id_of("busy"), &key, Redaction::drop_all(), Schedule::direct(), Instance(epoch));
        let mut reading = samples::office_laser();
        reading.events.print_jobs.clear();
        agent.handle_reading(at(0), reading);
        agent
    };
    let total = RECENT_JOBS as u64 + 52;
    let mut agent = new_agent(1);
    for n in 1..=total {
        agent.handle_job(at(0), job(n));
    }
    let mut now = 0;
    for _ in 0..10 {
        now += 3 * 3_600_000;
        agent.handle_timeout(at(now));
        let Some(t) = pump(&mut agent, at(now), &mut rng) else { continue };
        let batch = ingest.receive(&t.frame, at(now)).unwrap();
        assert!(batch.writes().receiver.recent_jobs().is_empty(), "the window is not written with each update");
        store.write_batches(&[&batch]).unwrap();
        agent.handle_frame(at(now), &ingest.commit(batch, at(now), &mut rng).unwrap());
    }
    assert_eq!(store.jobs_of(sender_id_of("busy")).len() as u64, total);

    drop((ingest, store));
    let mut store = b.open();
    let loaded = store.load().unwrap();
    let recent: Vec<uuid::Uuid> = (total + 1 - RECENT_JOBS as u64..=total).map(uuid_of).collect();
    assert_eq!(loaded.saved[0].recent_jobs, recent, "the newest RECENT_JOBS, oldest first");
    let mut ingest = Ingest::restore(master(), loaded.devices, loaded.saved).unwrap();

    // The device loses its state: a new agent reads its last two jobs again, then a new one.
    let mut agent = new_agent(2);
    now += 3 * 3_600_000;
    for n in [total - 1, total, total + 1] {
        agent.handle_job(at(now), job(n));
    }
    let t = pump(&mut agent, at(now), &mut rng).unwrap();
    let batch = ingest.receive(&t.frame, at(now)).unwrap();
    let jobs: Vec<u64> = batch.writes().jobs.iter().map(|j| j.job.sequence).collect();
    assert_eq!(jobs, [total + 1], "the jobs read again are recognised");
    store.write_batches(&[&batch]).unwrap();
    agent.handle_frame(at(now), &ingest.commit(batch, at(now), &mut rng).unwrap());
    assert_eq!(store.jobs_of(sender_id_of("busy")).len() as u64, total + 1);

    // A job older than the window, read again: taken (the receiver no longer knows it), stored
    // once, and the device's transaction commits.
    now += 3 * 3_600_000;
    agent.handle_job(at(now), job(1));
    let t = pump(&mut agent, at(now), &mut rng).unwrap();
    let batch = ingest.receive(&t.frame, at(now)).unwrap();
    assert_eq!(batch.writes().jobs.len(), 1);
    store.write_batches(&[&batch]).unwrap();
    ingest.commit(batch, at(now), &mut rng).unwrap();
    assert_eq!(store.jobs_of(sender_id_of("busy")).len() as u64, total + 1);
}

fn an_empty_database_migrates_to_the_current_version<B: Backend>() {
    let Some(b) = B::fresh("empty") else { return };
    let mut store = b.open();
    assert_eq!(store.version(), B::VERSION);
    for table in ["devices", "credentials", "jobs", "meter_readings", "invoices", "usage_lines", "contracts"] {
        assert_eq!(store.rows(table).unwrap(), 0, "{table}");
    }
    assert!(matches!(store.rows("sqlite_master; DROP TABLE jobs"), Err(StoreError::UnknownTable { .. })));
    store.put_device(&record("kept")).unwrap();
    drop(store);
    // Opening again migrates nothing and keeps the version and the data.
    let mut store = b.open();
    assert_eq!(store.version(), B::VERSION);
    assert_eq!(store.rows("devices").unwrap(), 1);
}

/// The portal, `printfleet bill` and `device add` may open one database at the same moment
/// (after an upgrade: each finding it a version behind). Each migration is applied once, and
/// every opener gets the current schema. On the SQLite code before, the version was read
/// outside the migration's transaction: two openers both applied the first migration, and one
/// failed ("table already exists").
fn processes_opening_a_database_at_once_migrate_it_once<B: Backend + Sync>() {
    const OPENERS: usize = 6;
    for round in 0..8 {
        let Some(b) = B::fresh(&format!("race{round}")) else { return };
        let start = std::sync::Barrier::new(OPENERS);
        std::thread::scope(|scope| {
            let openers: Vec<_> = (0..OPENERS)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        b.try_open().map(|mut s| s.version())
                    })
                })
                .collect();
            for opener in openers {
                assert_eq!(opener.join().unwrap().unwrap(), B::VERSION, "round {round}");
            }
        });
    }
}

fn a_database_from_a_newer_version_is_refused<B: Backend>() {
    let Some(b) = B::fresh("newer") else { return };
    drop(b.open());
    b.set_version(99);
    match b.try_open() {
        Err(StoreError::NewerSchema { found: 99, supported }) => assert_eq!(supported, B::VERSION),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn devices_credentials_and_sealed_secrets_survive_a_reopen<B: Backend>() {
    let Some(b) = B::fresh("registry") else { return };
    let mut store = b.open();
    let mut rec = record("reg-1");
    let secret = DeviceSecret::from_bytes(&[9; 32]).unwrap();
    rec.credentials[0].verifier = Some(Verifier::new(&secret, &mut ChaCha20Rng::seed_from_u64(1)));
    rec.credentials.push(Credential { epoch: KeyEpoch(2), revoked: true, verifier: None });
    rec.credentials.push(Credential { epoch: KeyEpoch(3), revoked: false, verifier: None });
    store.put_device(&rec).unwrap();
    store.put_sealed_secret(rec.sender(), 2, b"sealed bytes").unwrap();
    assert!(matches!(store.put_sealed_secret(rec.sender(), 5, b"x"), Err(StoreError::NoCredential { .. })));
    // Epoch 3 is withdrawn: its credential goes; a collector is named (migration 3).
    rec.revoked = true;
    rec.credentials.pop();
    rec.collector = Some(SenderId(u64::MAX - 4));
    store.put_device(&rec).unwrap();
    drop(store);

    let mut store = b.open();
    let loaded = store.load().unwrap();
    assert_eq!(loaded.devices.len(), 1);
    let back = &loaded.devices[0];
    assert_eq!(
        (back.name.as_str(), back.owner, back.meter_device, back.revoked, back.collector),
        ("reg-1", rec.owner, rec.meter_device, true, Some(SenderId(u64::MAX - 4)))
    );
    assert_eq!(back.credentials.len(), 2);
    assert_eq!(
        back.credential(KeyEpoch(1)).unwrap().verifier.as_ref().map(Verifier::to_parts),
        rec.credentials[0].verifier.as_ref().map(Verifier::to_parts)
    );
    assert!(back.credential(KeyEpoch(2)).unwrap().revoked);
    assert_eq!(store.sealed_secret(rec.sender(), 2).unwrap().as_deref(), Some(&b"sealed bytes"[..]));
    assert_eq!(store.sealed_secret(rec.sender(), 1).unwrap(), None);
}

/// A process killed inside a transaction: reopening finds the last committed state.
fn a_transaction_never_committed_is_not_there_after_reopening<B: Backend>() {
    let Some(b) = B::fresh("crash") else { return };
    let mut store = b.open();
    store.put_device(&record("crash-1")).unwrap();
    // Another connection writes a great deal inside a transaction, and the process "dies":
    // the connection is never closed and the transaction never committed.
    b.abandon_uncommitted_jobs(5_000);
    drop(store);
    let mut store = b.open();
    assert_eq!(store.rows("jobs").unwrap(), 0);
    assert_eq!(store.load().unwrap().devices.len(), 1);
}

/// The durable loop: an agent reports, batches go to the store, and the portal is killed at
/// random points (before the write, after it before the reply); each restart restores the
/// ingest from the database. At the end every job is stored once and the stored state is the
/// device's.
fn the_ingest_restored_after_kills_stores_every_job_once<B: Backend>() {
    for seed in 0..4 {
        let Some(b) = B::fresh("kills") else { return };
        let mut store = b.open();
        let rec = record("kill-me");
        store.put_device(&rec).unwrap();
        let mut ingest = restore(&mut store);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let secret = master().device_secret("kill-me", KeyEpoch(1));
        let key = one_shot::frame_key(&secret, "kill-me", KeyEpoch(1));
        let mut agent =
            DeviceAgent::new(sender_id_of("kill-me"), &key, Redaction::drop_all(), Schedule::direct(), Instance(5));
        let mut reading = samples::office_laser();
        reading.events.print_jobs.clear();
        let (mut jobs, mut kills, mut now) = (0u64, 0, 0u64);
        for step in 0..160 {
            now += 10 * 60 * 1000;
            let faults = step < 120;
            if faults && rng.next_u32() % 2 == 0 {
                jobs += 1;
                agent.handle_job(at(now), job(jobs));
            }
            if faults && rng.next_u32() % 3 == 0 {
                reading.snapshot.consumables[0].level = Level::Amount(rng.next_u32() % 100);
                let total = reading.snapshot.meters.get(&MeterKind::TOTAL).unwrap_or(0);
                reading.snapshot.meters.0.insert(MeterKind::TOTAL, total + 11);
                agent.handle_reading(at(now), reading.clone());
            }
            agent.handle_timeout(at(now));
            let Some(t) = pump(&mut agent, at(now), &mut rng) else { continue };
            let batch = match ingest.receive(&t.frame, at(now)) {
                Ok(b) => b,
                Err(IngestError::Rejected(_)) => continue,
                Err(e) => panic!("{e}"),
            };
            let fate = if faults { rng.next_u32() % 6 } else { 5 };
            match fate {
                0 => {
                    // Killed before the write.
                    kills += 1;
                    drop((batch, ingest, store));
                    store = b.open();
                    ingest = restore(&mut store);
                }
                1 => {
                    // Killed after the commit of the transaction, before the reply.
                    kills += 1;
                    store.write_batches(&[&batch]).unwrap();
                    drop((batch, ingest, store));
                    store = b.open();
                    ingest = restore(&mut store);
                }
                _ => {
                    store.write_batches(&[&batch]).unwrap();
                    let reply = ingest.commit(batch, at(now), &mut rng).unwrap();
                    agent.handle_frame(at(now), &reply);
                }
            }
        }
        assert!(kills > 0);
        let sender = sender_id_of("kill-me");
        assert_eq!(store.jobs_of(sender), (1..=jobs).collect::<Vec<_>>(), "seed {seed}");
        assert_eq!(store.state_of(sender).as_ref(), agent.current(), "seed {seed}");
        assert!(store.rows("meter_readings").unwrap() > 0);
        assert!(store.rows("consumable_levels").unwrap() > 0);
    }
}

/// A batch written twice (its transaction committed, the acknowledgement lost) stores its job
/// and readings once, and the second write succeeds: refusing it would fail the device's every
/// retransmission.
fn a_job_stored_twice_is_kept_once<B: Backend>() {
    let Some(b) = B::fresh("twice") else { return };
    let mut store = b.open();
    store.put_device(&record("twice")).unwrap();
    let mut ingest = restore(&mut store);
    let secret = master().device_secret("twice", KeyEpoch(1));
    let key = one_shot::frame_key(&secret, "twice", KeyEpoch(1));
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut agent =
        DeviceAgent::new(sender_id_of("twice"), &key, Redaction::drop_all(), Schedule::direct(), Instance(1));
    agent.handle_reading(at(0), samples::office_laser());
    agent.handle_job(at(0), job(1));
    let t = pump(&mut agent, at(0), &mut rng).unwrap();
    let batch = ingest.receive(&t.frame, at(0)).unwrap();
    store.write_batches(&[&batch]).unwrap();
    let readings = store.rows("meter_readings").unwrap();
    assert!(readings > 0);
    store.write_batches(&[&batch]).unwrap();
    assert_eq!(store.rows("jobs").unwrap(), 1);
    assert_eq!(store.rows("meter_readings").unwrap(), readings);
}

/// A row altered behind the store's back fails the read with the device whose row it is, so
/// that an operator can find it.
fn a_corrupt_row_is_reported_with_its_device<B: Backend>() {
    let Some(b) = B::fresh("corrupt") else { return };
    let mut store = b.open();
    store.put_device(&record("bystander")).unwrap();
    store.put_device(&record("damaged")).unwrap();
    let mut ingest = restore(&mut store);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    for name in ["bystander", "damaged"] {
        let secret = master().device_secret(name, KeyEpoch(1));
        let key = one_shot::frame_key(&secret, name, KeyEpoch(1));
        let mut agent =
            DeviceAgent::new(sender_id_of(name), &key, Redaction::drop_all(), Schedule::direct(), Instance(1));
        agent.handle_reading(at(0), samples::office_laser());
        agent.handle_job(at(0), job(1));
        let t = pump(&mut agent, at(0), &mut rng).unwrap();
        let batch = ingest.receive(&t.frame, at(0)).unwrap();
        store.write_batches(&[&batch]).unwrap();
    }
    let damaged = sender_id_of("damaged");
    let only_damaged = format!("sender = {}", damaged.0.cast_signed());
    let names = |devices: Vec<DeviceRecord>| {
        let mut names: Vec<String> = devices.into_iter().map(|d| d.name).collect();
        names.sort();
        names
    };
    assert_eq!(names(store.load_devices().unwrap()), names(store.load().unwrap().devices));
    let corrupt = |result: Result<_, StoreError>, expected: &str| match result {
        Err(e @ StoreError::Corrupt { what, device, .. }) => {
            assert_eq!((what, device), (expected, Some(damaged)));
            let sender = damaged.0.cast_signed();
            assert_eq!(
                e.to_string(),
                format!("stored {expected} of device {damaged} (sender {sender}) does not decode")
            );
        }
        other => panic!("{expected}: {other:?}"),
    };
    // Each alteration in turn, the last read failing on it (`load` reads credentials, then
    // receivers, windows, job UUIDs and states).
    b.tamper(&format!("UPDATE jobs SET record = 'not json' WHERE {only_damaged}"));
    corrupt(store.job_records(at(0), at(1)).map(drop), "job");
    b.tamper(&format!("UPDATE device_states SET state = substr(state, 1, 3) WHERE {only_damaged}"));
    corrupt(store.device_state(damaged).map(drop), "device state");
    corrupt(store.load().map(drop), "device state");
    b.tamper(&format!("UPDATE jobs SET uuid = substr(uuid, 1, 3) WHERE {only_damaged}"));
    corrupt(store.load().map(drop), "job uuid");
    b.tamper(&format!("UPDATE replay_windows SET key_id = -1 WHERE {only_damaged}"));
    corrupt(store.load().map(drop), "key id");
    b.tamper(&format!("UPDATE receivers SET state = '{{' WHERE {only_damaged}"));
    corrupt(store.load().map(drop), "receiver state");
    // The registry alone reads none of those: a running portal still learns of new devices and
    // revocations while a device's saved state does not decode.
    assert_eq!(names(store.load_devices().unwrap()), ["bystander", "damaged"]);
    b.tamper(&format!("UPDATE credentials SET epoch = -1 WHERE {only_damaged}"));
    corrupt(store.load().map(drop), "epoch");
    corrupt(store.load_devices().map(drop), "epoch");
}

/// Several devices' batches in one call (the batching a busy portal does) store the same rows
/// as one call per batch; a device with two batches in one call keeps the later state.
fn many_batches_in_one_call_are_stored_like_one_at_a_time<B: Backend>() {
    let Some(b) = B::fresh("many") else { return };
    let mut store = b.open();
    let names: Vec<String> = (0..5).map(|i| format!("many-{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        // Each metered as its own device, so that their readings' keys differ.
        store.put_device(&DeviceRecord { meter_device: DeviceId(100 + i as u64), ..record(n) }).unwrap();
    }
    let mut ingest = restore(&mut store);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut agents: Vec<DeviceAgent> = names
        .iter()
        .map(|n| {
            let key = one_shot::frame_key(&master().device_secret(n, KeyEpoch(1)), n, KeyEpoch(1));
            DeviceAgent::new(sender_id_of(n), &key, Redaction::drop_all(), Schedule::direct(), Instance(2))
        })
        .collect();
    let mut batches = Vec::new();
    for (i, a) in agents.iter_mut().enumerate() {
        a.handle_reading(at(0), samples::large_format(0));
        a.handle_job(at(0), job(i as u64 + 1));
        let t = pump(a, at(0), &mut rng).unwrap();
        batches.push(ingest.receive(&t.frame, at(0)).unwrap());
    }
    store.write_batches(&batches.iter().collect::<Vec<_>>()).unwrap();
    let mut observations = 0;
    for (batch, a) in batches.into_iter().zip(&mut agents) {
        observations += batch.writes().observations.len() as u64;
        let reply = ingest.commit(batch, at(0), &mut rng).unwrap();
        a.handle_frame(at(0), &reply);
    }
    assert_eq!(store.rows("jobs").unwrap(), 5);
    assert_eq!(store.rows("receivers").unwrap(), 5);
    assert_eq!(store.rows("meter_readings").unwrap(), observations);
    for (n, a) in names.iter().zip(&agents) {
        assert_eq!(store.state_of(sender_id_of(n)).as_ref(), a.current(), "{n}");
    }
    let loaded = store.load().unwrap();
    assert_eq!((loaded.devices.len(), loaded.saved.len()), (5, 5));
}

/// What billing reads through the `Store` trait (`dyn Store`, as `printfleet bill` holds it): the
/// readings and the job records of a time range, each under the device's metered position, the
/// device's state and its stored job sequence numbers.
fn readings_and_job_records_come_back_for_billing<B: Backend>() {
    let Some(b) = B::fresh("billing_reads") else { return };
    let mut concrete = b.open();
    let store: &mut dyn Store = &mut concrete;
    store.put_device(&record("reads")).unwrap();
    let mut ingest = restore(store);
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let key = one_shot::frame_key(&master().device_secret("reads", KeyEpoch(1)), "reads", KeyEpoch(1));
    let mut agent =
        DeviceAgent::new(sender_id_of("reads"), &key, Redaction::drop_all(), Schedule::direct(), Instance(3));
    let (day, hour) = (86_400_000, 3_600_000);
    for (i, (t, total)) in [(at(0), 1_000u64), (at(day), 1_200)].into_iter().enumerate() {
        let mut report = samples::office_laser();
        report.events.print_jobs.clear();
        report.snapshot.meters.0.insert(MeterKind::TOTAL, total);
        agent.handle_reading(t, report);
        let mut j = job(i as u64 + 1);
        j.print.printed_at = None;
        agent.handle_job(t, j);
        let tx = pump(&mut agent, t, &mut rng).unwrap();
        let batch = ingest.receive(&tx.frame, t).unwrap();
        store.write_batches(&[&batch]).unwrap();
        let reply = ingest.commit(batch, t, &mut rng).unwrap();
        agent.handle_frame(t, &reply);
    }
    let totals: Vec<(DeviceId, u64, Timestamp)> = store
        .meter_readings(at(0), at(2 * day))
        .unwrap()
        .into_iter()
        .filter(|o| o.kind == Category::TOTAL)
        .map(|o| (o.key.device, o.value, o.observed_at))
        .collect();
    assert_eq!(totals, vec![(DeviceId(40), 1_000, at(0)), (DeviceId(40), 1_200, at(day))]);
    // The range is half-open.
    assert!(store.meter_readings(at(hour), at(day)).unwrap().is_empty());
    assert_eq!(store.metered_devices(at(0), at(2 * day)).unwrap(), [DeviceId(40)].into());
    assert_eq!(store.metered_devices(at(day), at(day + 1)).unwrap(), [DeviceId(40)].into());
    assert!(store.metered_devices(at(hour), at(day)).unwrap().is_empty());
    let jobs = store.job_records(at(0), at(2 * day)).unwrap();
    let seen: Vec<_> = jobs.iter().map(|j| (j.device, j.job, j.finished_at)).collect();
    // No printed_at: finished when received.
    assert_eq!(seen, vec![(DeviceId(40), 1, at(0)), (DeviceId(40), 2, at(day))]);
    assert!(jobs.iter().all(|j| j.usage.contains(&(Category::TOTAL, 2))), "{jobs:?}");
    assert_eq!(store.job_records(at(hour), at(day)).unwrap().len(), 0);
    assert_eq!(store.job_sequences(sender_id_of("reads")).unwrap(), vec![1, 2]);
    assert_eq!(store.device_state(sender_id_of("reads")).unwrap().as_ref(), agent.current());
    assert_eq!(store.device_state(sender_id_of("never")).unwrap(), None);
}

fn the_meter_contracts_and_a_closing_are_stored_once<B: Backend>() {
    let Some(b) = B::fresh("billing") else { return };
    let mut store = b.open();
    assert!(store.load_meter().unwrap().is_none());
    let mut meter = Meter::new(MeterConfig::default());
    let mut terms = Terms::default();
    terms.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(1, 1).unwrap()));
    let start = Timestamp::from_unix_millis(1_735_689_600_000).unwrap(); // 2025-01-01
    meter.add_contract(ContractId(1), terms.clone(), start).unwrap();
    meter
        .add_device(DeviceId(7), Device { contract: ContractId(1), serial: "S1".into(), class: ModelClass::OFFICE })
        .unwrap();
    store.put_contract(ContractId(1), &terms, start).unwrap();
    store.save_meter(&meter).unwrap();
    assert_eq!(store.load_meter().unwrap().as_ref(), Some(&meter));
    let end = Timestamp::from_unix_millis(1_735_689_600_000 + 32 * 86_400_000).unwrap();
    let closing = meter.close_period(ContractId(1), end).unwrap();
    store.record_closing(&closing, &meter).unwrap();
    assert_eq!(store.rows("invoices").unwrap(), 1);
    assert_eq!(store.rows("usage_lines").unwrap(), closing.usage.len() as u64);
    assert!(store.record_closing(&closing, &meter).is_err(), "an invoice is stored once");
    assert_eq!(store.rows("invoices").unwrap(), 1);
    assert_eq!(store.rows("usage_lines").unwrap(), closing.usage.len() as u64, "the failed call stored nothing");
    assert_eq!(store.rows("contracts").unwrap(), 1);
    drop(store);
    assert_eq!(b.open().load_meter().unwrap().as_ref(), Some(&meter));
}
