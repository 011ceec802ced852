//! printfleet-store's SQLite backend on temporary databases: migrations, a crash inside a
//! transaction, the registry, billing state, and the ingest restored from it after kills.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use printfleet_agent::{DeviceAgent, Schedule, Transmit};
use printfleet_auth::{DeviceSecret, FleetMasterKey, KeyEpoch, Verifier, one_shot, sender_id_of};
use printfleet_diff::sync::Instance;
use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Ingest, IngestError, Owner, ResellerId};
use printfleet_meter::{
    Category, CategoryTerms, ContractId, Device, DeviceId, Meter, MeterConfig, ModelClass, Price, Terms,
};
use printfleet_schema::{DurationMs, Level, MeterKind, PageCount, PrintJob, Redaction, Timestamp, samples};
use printfleet_store::{SCHEMA_VERSION, SqliteStore, Store, StoreError};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

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
    for _ in 0..8 {
        if agent.needs_save() {
            let cp = agent.save();
            agent.saved(cp).unwrap();
        }
        match agent.poll_transmit(now, rng) {
            Some(t) => return Some(t),
            None if agent.needs_save() => continue,
            None => return None,
        }
    }
    None
}

fn restore(store: &mut SqliteStore) -> Ingest<FleetMasterKey> {
    let loaded = store.load().unwrap();
    Ingest::restore(master(), loaded.devices, loaded.saved).unwrap()
}

#[test]
fn an_empty_database_migrates_to_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    for table in ["devices", "credentials", "jobs", "meter_readings", "invoices", "usage_lines", "contracts"] {
        assert_eq!(store.count(table).unwrap(), 0, "{table}");
    }
    assert!(matches!(store.count("sqlite_master; DROP TABLE jobs"), Err(StoreError::UnknownTable { .. })));
    let mode: String =
        rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    drop(store);
    // Opening again migrates nothing and keeps the version.
    assert_eq!(SqliteStore::open(&path).unwrap().schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().execute("UPDATE schema_version SET version = 99", []).unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::NewerSchema { found: 99, supported }) => assert_eq!(supported, SCHEMA_VERSION),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn devices_credentials_and_sealed_secrets_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let mut rec = record("reg-1");
    let secret = DeviceSecret::from_bytes(&[9; 32]).unwrap();
    rec.credentials[0].verifier = Some(Verifier::new(&secret, &mut ChaCha20Rng::seed_from_u64(1)));
    rec.credentials.push(Credential { epoch: KeyEpoch(2), revoked: true, verifier: None });
    store.put_device(&rec).unwrap();
    store.put_sealed_secret(rec.sender(), 2, b"sealed bytes").unwrap();
    assert!(matches!(store.put_sealed_secret(rec.sender(), 5, b"x"), Err(StoreError::NoCredential { .. })));
    rec.revoked = true;
    store.put_device(&rec).unwrap();
    drop(store);

    let mut store = SqliteStore::open(&path).unwrap();
    let loaded = store.load().unwrap();
    assert_eq!(loaded.devices.len(), 1);
    let back = &loaded.devices[0];
    assert_eq!(
        (back.name.as_str(), back.owner, back.meter_device, back.revoked),
        ("reg-1", rec.owner, rec.meter_device, true)
    );
    assert_eq!(back.credentials.len(), 2);
    assert!(back.credential(KeyEpoch(1)).unwrap().verifier.is_some());
    assert!(back.credential(KeyEpoch(2)).unwrap().revoked);
    assert_eq!(store.sealed_secret(rec.sender(), 2).unwrap().as_deref(), Some(&b"sealed bytes"[..]));
    assert_eq!(store.sealed_secret(rec.sender(), 1).unwrap(), None);
}

/// A process killed inside a transaction: reopening finds the last committed state.
#[test]
fn a_transaction_never_committed_is_not_there_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.put_device(&record("crash-1")).unwrap();
    // Another connection writes a great deal inside a transaction, and the process "dies":
    // the connection is never closed and the transaction never committed.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "cache_size", 1).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..5_000 {
        conn.execute(
            "INSERT INTO jobs (sender, uuid, job_sequence, received_at, record) VALUES (1, NULL, ?1, 0, '{}')",
            [i],
        )
        .unwrap();
    }
    std::mem::forget(conn);
    drop(store);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.count("jobs").unwrap(), 0);
    assert_eq!(store.load().unwrap().devices.len(), 1);
}

/// The durable loop: an agent reports, batches go to SQLite, and the portal is killed at random
/// points (before the write, after it before the reply); each restart restores
/// the ingest from the database. At the end every job is stored once and the stored state is
/// the device's.
#[test]
fn the_ingest_restored_from_sqlite_after_kills_stores_every_job_once() {
    for seed in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kills.db");
        let mut store = SqliteStore::open(&path).unwrap();
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
                    store = SqliteStore::open(&path).unwrap();
                    ingest = restore(&mut store);
                }
                1 => {
                    // Killed after the commit of the transaction, before the reply.
                    kills += 1;
                    store.write_batches(std::slice::from_ref(&batch)).unwrap();
                    drop((batch, ingest, store));
                    store = SqliteStore::open(&path).unwrap();
                    ingest = restore(&mut store);
                }
                _ => {
                    store.write_batches(std::slice::from_ref(&batch)).unwrap();
                    let reply = ingest.commit(batch, at(now), &mut rng).unwrap();
                    agent.handle_frame(at(now), &reply);
                }
            }
        }
        assert!(kills > 0);
        let sender = sender_id_of("kill-me");
        assert_eq!(store.job_sequences(sender).unwrap(), (1..=jobs).collect::<Vec<_>>(), "seed {seed}");
        assert_eq!(store.device_state(sender).unwrap().as_ref(), agent.current(), "seed {seed}");
        assert!(store.count("meter_readings").unwrap() > 0);
        assert!(store.count("consumable_levels").unwrap() > 0);
    }
}

#[test]
fn a_job_stored_twice_fails_the_whole_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("twice.db")).unwrap();
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
    store.write_batches(std::slice::from_ref(&batch)).unwrap();
    assert!(store.write_batches(std::slice::from_ref(&batch)).is_err(), "the unique index refuses a second copy");
    assert_eq!(store.count("jobs").unwrap(), 1);
}

#[test]
fn the_meter_contracts_and_a_closing_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("billing.db")).unwrap();
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
    assert_eq!(store.count("invoices").unwrap(), 1);
    assert!(store.record_closing(&closing, &meter).is_err(), "an invoice is stored once");
    assert_eq!(store.count("invoices").unwrap(), 1);
    assert_eq!(store.count("contracts").unwrap(), 1);
    assert_eq!(store.load_meter().unwrap().as_ref(), Some(&meter));
}
