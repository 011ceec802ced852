//! Billing from the portal's database: contracts' terms into `printfleet-meter`, and a period's
//! closing (usage lines and invoices, exported as CSV through the meter's exporters) recorded in
//! the store.
//!
//! The meter's whole state is kept in the store ([`Store::save_meter`]); `bill` restores it, adds
//! the devices of the contracts it knows (each under the model class its stored state shows:
//! [`model_class`]), feeds it the stored meter readings and job records of the period (and of
//! the late window before it: readings and jobs seen before are duplicates to the meter), closes
//! every contract whose open period is the one asked for, and records each closing with the
//! meter's new state in one transaction ([`Store::record_closing`]). It runs on any [`Store`]:
//! SQLite or PostgreSQL.
//!
//! The job records make the meter's reconciliation work: a closing lists, per device and
//! category, where the period's job sums disagree with the counters' advance
//! ([`Closing::discrepancies`](printfleet_meter::Closing)).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use printfleet_diff::DeviceState;
use printfleet_ingest::DeviceRecord;
use printfleet_meter::{
    ContractId, Device, Discrepancy, Invoice, Meter, MeterConfig, MeterError, ModelClass, Terms, UsageLine, export,
};
use printfleet_schema::{MeterKind, Timestamp};
use printfleet_store::{Store, StoreError};
use printfleet_wire::frame::SenderId;

/// Largest terms file read.
pub const MAX_TERMS_BYTES: u64 = 64 * 1024;
/// The usage export's file name.
pub const USAGE_FILE: &str = "usage.csv";
/// The invoice export's file name.
pub const INVOICES_FILE: &str = "invoices.csv";

const DAY_MS: u64 = 86_400_000;

/// Why a billing step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BillingError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The meter refused (unknown contract, period not over, invalid terms ...).
    #[error("meter: {0}")]
    Meter(#[from] MeterError),
    /// A date that is not `YYYY-MM-DD` (or a month that is not `YYYY-MM`) from 1970 on.
    #[error("{text:?} is not a date (YYYY-MM-DD) or month (YYYY-MM)")]
    BadDate {
        /// What was given.
        text: String,
    },
    /// The terms file is not `printfleet_meter::Terms` as JSON, or is too large.
    #[error("{path}: not a terms file: {reason}")]
    BadTerms {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A CSV export failed.
    #[error("export: {0}")]
    Export(#[from] export::ExportError),
    /// No contract of the meter has the period asked for open and over.
    #[error("no contract has that period open and over (billed already, not over yet, or no contract set)")]
    NothingToBill,
    /// Closing or recording one contract's period failed. The contracts closed before it are
    /// recorded and exported ([`USAGE_FILE`], [`INVOICES_FILE`]); it and those after it are not,
    /// and a later run bills them.
    #[error("contract {contract}: {source} (recorded and exported before it: contracts {billed:?})")]
    Closing {
        /// The contract that failed.
        contract: u64,
        /// The contracts recorded and exported before it.
        billed: Vec<u64>,
        /// Why.
        source: Box<BillingError>,
    },
}

/// `YYYY-MM-DD` at 00:00 UTC.
pub fn parse_date(text: &str) -> Result<Timestamp, BillingError> {
    let bad = || BillingError::BadDate { text: text.to_owned() };
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let num = |s: &str, len: usize| (s.len() == len).then(|| s.parse::<u64>().ok()).flatten();
    let (Some(y), Some(m), Some(d)) = (num(y, 4), num(m, 2), num(d, 2)) else { return Err(bad()) };
    if !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&d) || y < 1970 {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d).ok_or_else(bad)?;
    Timestamp::from_unix_millis(days.checked_mul(DAY_MS).ok_or_else(bad)?).map_err(|_| bad())
}

/// `YYYY-MM`: its first instant (UTC).
pub fn parse_month(text: &str) -> Result<Timestamp, BillingError> {
    parse_date(&format!("{text}-01")).map_err(|_| BillingError::BadDate { text: text.to_owned() })
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date from 1970 on (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y.checked_sub(era.checked_mul(400)?)?;
    let mp = if m > 2 { m.checked_sub(3)? } else { m.checked_add(9)? };
    let doy = (153u64.checked_mul(mp)?.checked_add(2)? / 5).checked_add(d)?.checked_sub(1)?;
    let doe = yoe.checked_mul(365)?.checked_add(yoe / 4)?.checked_sub(yoe / 100)?.checked_add(doy)?;
    era.checked_mul(146_097)?.checked_add(doe)?.checked_sub(719_468)
}

/// Reads a terms file (`printfleet_meter::Terms` as JSON, its serde form).
pub fn read_terms(path: &Path) -> Result<Terms, BillingError> {
    let io = |source| BillingError::Io { path: path.to_path_buf(), source };
    let mut text = String::new();
    File::open(path).map_err(io)?.take(MAX_TERMS_BYTES.saturating_add(1)).read_to_string(&mut text).map_err(io)?;
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_TERMS_BYTES {
        return Err(BillingError::BadTerms { path: path.to_path_buf(), reason: "too large".into() });
    }
    let terms: Terms = serde_json::from_str(&text)
        .map_err(|e| BillingError::BadTerms { path: path.to_path_buf(), reason: e.to_string() })?;
    terms.validate()?;
    Ok(terms)
}

/// Adds a contract to the meter (saved in the store) and to the store's contracts.
pub fn set_contract(
    store: &mut dyn Store,
    id: ContractId,
    terms: Terms,
    starts: Timestamp,
) -> Result<(), BillingError> {
    let mut meter = store.load_meter()?.unwrap_or_else(|| Meter::new(MeterConfig::default()));
    meter.add_contract(id, terms.clone(), starts)?;
    store.put_contract(id, &terms, starts)?;
    store.save_meter(&meter)?;
    Ok(())
}

/// What a billing run produced.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Billed {
    /// Contracts closed.
    pub contracts: Vec<ContractId>,
    /// Readings fed to the meter.
    pub readings: usize,
    /// Job records fed to the meter.
    pub jobs: usize,
    /// The closings' reconciliation: job sums that disagree with the counters.
    pub discrepancies: Vec<Discrepancy>,
    /// Usage lines.
    pub usage: Vec<UsageLine>,
    /// Invoices.
    pub invoices: Vec<Invoice>,
    /// Devices left out of the run, each with why the meter refused it (a name longer than a
    /// meter serial, a contract full ...): reported, not billed, and not in the way of the rest.
    pub skipped: Vec<(String, String)>,
}

/// The model class a device is billed under (the meter's plausibility bound on page advances),
/// as the portal knows it from the device's stored state: [`ModelClass::LARGE_FORMAT`] for a
/// printer that reports what only large-format printers do (printheads, ink cartridges, media
/// usage or the media-area meter, Partner Link's data), [`ModelClass::OFFICE`] otherwise.
///
/// Provisioning records no class, and a report does not tell a personal printer or a production
/// press from an office one: those are billed as [`ModelClass::OFFICE`], and so is a device the
/// store holds no state for (it never reported, so it has no advance to bound yet; the meter keeps
/// the class it is first added with).
pub fn model_class(state: Option<&DeviceState>) -> ModelClass {
    let Some(state) = state else { return ModelClass::OFFICE };
    let s = &state.snapshot;
    let large = !s.printheads.is_empty()
        || !s.cartridges.is_empty()
        || s.usage.is_some()
        || s.meters.get(&MeterKind::AREA_MM2).is_some();
    if large { ModelClass::LARGE_FORMAT } else { ModelClass::OFFICE }
}

/// Bills the month starting at `month` (see [`parse_month`]) for every contract whose open
/// period starts there and is over by `now` (a quarter starting in that month waits for its
/// end): closes it at `now`, records each closing, and writes [`USAGE_FILE`] and
/// [`INVOICES_FILE`] into `out`. The Data Collectors (devices that other devices name as their
/// collector) report for printers and are not billed themselves; a device the meter refuses is
/// left out and listed in [`Billed::skipped`]; a revoked device is billed up to its last reading
/// and then retired (no fee, never silent, after it).
pub fn bill(store: &mut dyn Store, month: Timestamp, now: Timestamp, out: &Path) -> Result<Billed, BillingError> {
    let mut meter = store.load_meter()?.unwrap_or_else(|| Meter::new(MeterConfig::default()));
    let devices = store.load_devices()?;
    let collectors: BTreeSet<SenderId> = devices.iter().filter_map(|d| d.collector).collect();
    let contracts: BTreeSet<ContractId> =
        devices.iter().map(|d| d.owner.contract).filter(|c| meter.terms(*c).is_some()).collect();
    let mut skipped = Vec::new();
    for d in &devices {
        if meter.terms(d.owner.contract).is_none() || collectors.contains(&d.sender()) {
            continue;
        }
        let class = model_class(store.device_state(d.sender())?.as_ref());
        let device = Device { contract: d.owner.contract, serial: d.name.clone(), class };
        match meter.add_device(d.meter_device, device) {
            Ok(()) | Err(MeterError::AlreadyExists { .. }) => {}
            Err(e) => {
                tracing::warn!(device = %d.name, error = %e, "device not billed");
                skipped.push((d.name.clone(), e.to_string()));
            }
        }
    }
    let mut due = Vec::new();
    let mut end = month;
    for c in &contracts {
        let Some(terms) = meter.terms(*c) else { continue };
        let period = terms.period.period_of(month);
        let period_end = terms.period.end(period)?;
        if meter.open_period(*c) == Some(period) && terms.period.start(period)? == month && period_end <= now {
            end = end.max(period_end);
            due.push(*c);
        }
    }
    if due.is_empty() {
        return Err(BillingError::NothingToBill);
    }
    let late = meter.config().late_window;
    let from = Timestamp::from_unix_millis(month.unix_millis().saturating_sub(late.0)).unwrap_or(month);
    let readings = store.meter_readings(from, end)?;
    for r in &readings {
        // Late, duplicate or unlisted readings are the meter's to judge; they never fail the run.
        let _ = meter.observe(r);
    }
    let jobs = store.job_records(from, end)?;
    for j in &jobs {
        // As for readings: jobs seen before, too late or of devices not billed are the meter's
        // to judge.
        let _ = meter.record_job(j);
    }
    retire_revoked(store, &mut meter, &devices, &collectors, end, now)?;
    let mut billed = Billed { readings: readings.len(), jobs: jobs.len(), skipped, ..Billed::default() };
    let mut failed = None;
    for c in due {
        // A failed closing may have changed the meter in memory: nothing after it is recorded
        // (each record stores the whole meter), so that a later run starts from the last good one.
        let closed = meter.close_period(c, now).map_err(BillingError::from).and_then(|closing| {
            store.record_closing(&closing, &meter)?;
            Ok(closing)
        });
        match closed {
            Ok(closing) => {
                billed.contracts.push(c);
                billed.discrepancies.extend(closing.discrepancies);
                billed.usage.extend(closing.usage);
                billed.invoices.push(closing.invoice);
            }
            Err(e) => {
                failed = Some((c, e));
                break;
            }
        }
    }
    // What was recorded is exported, whatever failed after it: nothing reads stored invoices back.
    std::fs::create_dir_all(out).map_err(|source| BillingError::Io { path: out.to_path_buf(), source })?;
    let create = |name: &str| {
        let path = out.join(name);
        File::create(&path).map_err(|source| BillingError::Io { path, source })
    };
    export::usage_csv(&billed.usage, create(USAGE_FILE)?)?;
    export::invoice_csv(&billed.invoices, create(INVOICES_FILE)?)?;
    match failed {
        None => Ok(billed),
        Some((contract, source)) => Err(BillingError::Closing {
            contract: contract.0,
            billed: billed.contracts.iter().map(|c| c.0).collect(),
            source: Box::new(source),
        }),
    }
}

/// Retires each revoked device from the meter ([`Meter::retire_device`]) once its readings are
/// all in: at its last reading (or the start of its contract's open period, if that is later),
/// so that it is billed up to then and no fee or silence after. A revoked device with readings
/// stored after `end` (revoked during a later period) waits for the run that bills them.
fn retire_revoked(
    store: &mut dyn Store,
    meter: &mut Meter,
    devices: &[DeviceRecord],
    collectors: &BTreeSet<SenderId>,
    end: Timestamp,
    now: Timestamp,
) -> Result<(), BillingError> {
    let revoked: Vec<(&DeviceRecord, Timestamp)> = devices
        .iter()
        .filter(|d| d.revoked && !collectors.contains(&d.sender()) && meter.retired(d.meter_device).is_none())
        .filter_map(|d| Some((d, meter.open_start(d.owner.contract)?)))
        .collect();
    if revoked.is_empty() {
        return Ok(());
    }
    let later = store.metered_devices(end, now)?;
    for (d, open) in revoked {
        let id = d.meter_device;
        if later.contains(&id) {
            continue;
        }
        let at = meter.last_seen(id).map_or(open, |t| t.max(open));
        if let Err(e) = meter.retire_device(id, at) {
            tracing::warn!(device = %d.name, error = %e, "revoked device not retired");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_months() {
        assert_eq!(parse_date("1970-01-01").unwrap().unix_millis(), 0);
        assert_eq!(parse_date("2026-11-01").unwrap().unix_millis(), 1_793_491_200_000);
        assert_eq!(parse_month("2024-03").unwrap(), parse_date("2024-03-01").unwrap());
        assert_eq!(parse_date("2024-02-29").unwrap().unix_millis(), 1_709_164_800_000);
        for bad in ["2023-02-29", "2026-13-01", "2026-1-01", "1969-12-31", "x", "2026-11-01-1"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    use printfleet_agent::{DeviceAgent, Schedule};
    use printfleet_auth::{FleetMasterKey, KeyEpoch, one_shot};
    use printfleet_diff::sync::Instance;
    use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Ingest, Owner, ResellerId};
    use printfleet_meter::{Category, CategoryTerms, DeviceId, MinorUnits, Price};
    use printfleet_schema::{DeviceReport, PrintJob, Redaction, samples};
    use printfleet_store::SqliteStore;
    use printfleet_wire::frame::OsRng;

    /// A store with device "m" (meter position 7) on contract 3 (1 per page, fee 1,000) from
    /// 2026-11-01, and `reports` sent by it, one a day, through an ingest into the store.
    fn stored(dir: &Path, reports: Vec<(&str, DeviceReport)>) -> SqliteStore {
        let mut store = SqliteStore::open(dir.join("p.db")).unwrap();
        let record = device("m", 3, 7, None, false);
        store.put_device(&record).unwrap();
        let mut terms = Terms::default();
        terms.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(1, 1).unwrap()));
        terms.fee_per_period = MinorUnits(1_000);
        set_contract(&mut store, ContractId(3), terms, parse_date("2026-11-01").unwrap()).unwrap();

        let master = [4u8; 32];
        let mut ingest = Ingest::new(FleetMasterKey::from_bytes(master));
        let sender = ingest.provision(record).unwrap();
        let secret = FleetMasterKey::from_bytes(master).device_secret("m", KeyEpoch(1));
        let key = one_shot::frame_key(&secret, "m", KeyEpoch(1));
        let mut agent = DeviceAgent::new(sender, &key, Redaction::drop_all(), Schedule::direct(), Instance(1));
        let mut rng = OsRng::default();
        for (day, report) in reports {
            let now = parse_date(day).unwrap();
            agent.handle_reading(now, report);
            agent.handle_timeout(now);
            let frame = agent
                .poll_transmit_saving(now, &mut rng, |_| Ok::<(), printfleet_agent::AgentError>(()))
                .unwrap()
                .expect("a report is due")
                .frame;
            let batch = ingest.receive(&frame, now).unwrap();
            store.write_batches(&[&batch]).unwrap();
            let reply = ingest.commit(batch, now, &mut rng).unwrap();
            agent.handle_frame(now, &reply);
        }
        store
    }

    /// `report` with its total page counter at `total` and `jobs` (sequence, pages) as its jobs.
    fn with(mut report: DeviceReport, total: u64, jobs: &[(u64, u64)]) -> DeviceReport {
        let template = report.events.print_jobs.first().cloned().unwrap_or_else(|| {
            samples::office_laser().events.print_jobs.first().cloned().unwrap_or_else(PrintJob::default)
        });
        report.events.print_jobs = jobs
            .iter()
            .map(|&(sequence, pages)| {
                let mut job = template.clone();
                job.job.sequence = sequence;
                job.job.uuid = uuid::Uuid::from_u128(u128::from(sequence) + 1);
                job.print.pages = printfleet_schema::PageCount(pages);
                job.print.printed_at = None;
                job
            })
            .collect();
        report.snapshot.meters.0.insert(MeterKind::TOTAL, total);
        report
    }

    #[test]
    fn a_month_of_stored_readings_is_billed_once_and_exported() {
        let dir = tempfile::tempdir().unwrap();
        let office = samples::office_laser;
        let mut store = stored(
            dir.path(),
            vec![("2026-11-02", with(office(), 10_000, &[])), ("2026-11-20", with(office(), 10_500, &[]))],
        );

        let out = dir.path().join("out");
        let month = parse_month("2026-11").unwrap();
        let later = parse_date("2027-01-01").unwrap();
        let billed = bill(&mut store, month, later, &out).unwrap();
        assert_eq!(billed.contracts, vec![ContractId(3)]);
        let total_line = billed.usage.iter().find(|l| l.category == Category::TOTAL).unwrap();
        assert_eq!(total_line.quantity.0, 500);
        assert_eq!(billed.invoices[0].total, MinorUnits(500 + 1_000));
        let usage = std::fs::read_to_string(out.join(USAGE_FILE)).unwrap();
        assert!(usage.starts_with("contract,device,serial,period_start,period_end,category,quantity"));
        assert!(usage.contains(",m,"), "{usage}");
        let invoices = std::fs::read_to_string(out.join(INVOICES_FILE)).unwrap();
        assert!(invoices.contains(",usage,total,0,500,") && invoices.contains(",fee_per_period,"), "{invoices}");
        assert_eq!(store.count("invoices").unwrap(), 1);
        // Closed: billing it again is refused, and nothing more is recorded.
        assert!(matches!(bill(&mut store, month, later, &out), Err(BillingError::NothingToBill)));
        assert_eq!(store.count("invoices").unwrap(), 1);
        // A period not over yet is not due.
        let dec = parse_month("2026-12").unwrap();
        assert!(matches!(
            bill(&mut store, dec, parse_date("2026-12-15").unwrap(), &out),
            Err(BillingError::NothingToBill)
        ));
    }

    /// `stored` with November's two readings of "m" (contract 3), and contract 4 (1 per page,
    /// 250 per device a month) from 2026-11-01; its terms.
    fn with_device_fees(dir: &Path) -> (SqliteStore, Terms) {
        let office = samples::office_laser;
        let mut store =
            stored(dir, vec![("2026-11-02", with(office(), 10_000, &[])), ("2026-11-20", with(office(), 10_500, &[]))]);
        let mut terms = Terms::default();
        terms.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(1, 1).unwrap()));
        terms.fee_per_device = MinorUnits(250);
        set_contract(&mut store, ContractId(4), terms.clone(), parse_date("2026-11-01").unwrap()).unwrap();
        (store, terms)
    }

    /// A device record of reseller 1, customer 2, on `contract`.
    fn device(
        name: &str,
        contract: u64,
        meter_device: u64,
        collector: Option<SenderId>,
        revoked: bool,
    ) -> DeviceRecord {
        DeviceRecord {
            name: name.into(),
            owner: Owner { reseller: ResellerId(1), customer: CustomerId(2), contract: ContractId(contract) },
            meter_device: DeviceId(meter_device),
            revoked,
            credentials: vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }],
            collector,
        }
    }

    /// A revoked device is billed up to its last reading, then retired: no fee per device and
    /// no silence after it (before, it was charged every period for ever).
    #[test]
    fn a_revoked_device_is_billed_to_its_last_reading_then_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = with_device_fees(dir.path());
        store.put_device(&device("live", 4, 30, None, false)).unwrap();
        store.put_device(&device("gone", 4, 31, None, true)).unwrap();
        // "m" (contract 3) is revoked after its November readings.
        let mut m = store.load_devices().unwrap().into_iter().find(|d| d.name == "m").unwrap();
        m.revoked = true;
        store.put_device(&m).unwrap();

        let out = dir.path().join("out");
        let nov = bill(&mut store, parse_month("2026-11").unwrap(), parse_date("2026-12-05").unwrap(), &out).unwrap();
        assert_eq!(nov.contracts, vec![ContractId(3), ContractId(4)]);
        assert_eq!(nov.invoices[0].total, MinorUnits(500 + 1_000), "m's November usage is billed");
        assert_eq!(nov.invoices[1].total, MinorUnits(250), "one device's fee: the live one's");
        let meter = store.load_meter().unwrap().unwrap();
        assert_eq!(meter.retired(DeviceId(7)), Some(parse_date("2026-11-20").unwrap()), "at its last reading");
        assert!(meter.retired(DeviceId(30)).is_none());
        let dec = bill(&mut store, parse_month("2026-12").unwrap(), parse_date("2027-01-05").unwrap(), &out).unwrap();
        assert_eq!(dec.invoices[1].total, MinorUnits(250));
    }

    /// What one contract or device cannot be billed for does not keep the others from their
    /// invoices, and a Data Collector is no billed position.
    #[test]
    fn a_run_bills_every_contract_and_device_it_can() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, terms) = with_device_fees(dir.path());
        // A site's collector (on a contract, as provisioning requires) and the printer it reads.
        store.put_device(&device("site", 4, 20, None, false)).unwrap();
        store.put_device(&device("behind-site", 4, 21, Some(printfleet_auth::sender_id_of("site")), false)).unwrap();
        // A name longer than a meter serial may be.
        let long = "x".repeat(printfleet_meter::limits::MAX_SERIAL_LEN + 1);
        store.put_device(&device(&long, 4, 22, None, false)).unwrap();
        // Contract 2 bills two months from November: not over in early December.
        let mut two_months = terms.clone();
        two_months.period = printfleet_meter::BillingPeriod::months(2).unwrap();
        set_contract(&mut store, ContractId(2), two_months, parse_date("2026-11-01").unwrap()).unwrap();
        store.put_device(&device("on-two", 2, 23, None, false)).unwrap();

        let out = dir.path().join("out");
        let billed =
            bill(&mut store, parse_month("2026-11").unwrap(), parse_date("2026-12-05").unwrap(), &out).unwrap();
        assert_eq!(
            billed.contracts,
            vec![ContractId(3), ContractId(4)],
            "contract 2 is not over: not due, not in the way"
        );
        assert_eq!(billed.skipped.len(), 1, "{:?}", billed.skipped);
        assert_eq!(billed.skipped[0].0, long);
        assert_eq!(billed.invoices[0].total, MinorUnits(500 + 1_000), "contract 3 as ever");
        // One device's fee on contract 4: the printer's; not the collector's, not the refused one's.
        assert_eq!(billed.invoices[1].total, MinorUnits(250), "{:?}", billed.invoices[1]);
        assert!(std::fs::read_to_string(out.join(INVOICES_FILE)).unwrap().contains(",fee_per_device,"));
    }

    #[test]
    fn stored_jobs_reach_the_meters_reconciliation() {
        let dir = tempfile::tempdir().unwrap();
        let office = samples::office_laser;
        // The counter advances 500 pages; the jobs stored for the period say 300.
        let mut store = stored(
            dir.path(),
            vec![
                ("2026-11-02", with(office(), 10_000, &[])),
                ("2026-11-20", with(office(), 10_500, &[(1, 100), (2, 200)])),
            ],
        );
        assert_eq!(store.job_sequences(printfleet_auth::sender_id_of("m")).unwrap(), vec![1, 2]);
        let billed =
            bill(&mut store, parse_month("2026-11").unwrap(), parse_date("2027-01-01").unwrap(), dir.path()).unwrap();
        assert_eq!(billed.jobs, 2);
        let total: Vec<_> = billed.discrepancies.iter().filter(|d| d.kind == Category::TOTAL).collect();
        assert_eq!(total.len(), 1, "{:?}", billed.discrepancies);
        assert_eq!((total[0].device, total[0].jobs, total[0].counters), (DeviceId(7), 300, 500));
    }

    #[test]
    fn jobs_that_match_the_counters_leave_no_discrepancy() {
        let dir = tempfile::tempdir().unwrap();
        let office = samples::office_laser;
        let mut store = stored(
            dir.path(),
            vec![
                ("2026-11-02", with(office(), 10_000, &[])),
                ("2026-11-20", with(office(), 10_500, &[(1, 200), (2, 300)])),
            ],
        );
        let billed =
            bill(&mut store, parse_month("2026-11").unwrap(), parse_date("2027-01-01").unwrap(), dir.path()).unwrap();
        assert_eq!(billed.jobs, 2);
        assert!(billed.discrepancies.iter().all(|d| d.kind != Category::TOTAL), "{:?}", billed.discrepancies);
    }

    #[test]
    fn a_large_format_printer_is_bounded_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let plotter = || samples::large_format(0);
        // 15,000 pages in a day: within an office printer's 20,000 a day, beyond a large-format
        // printer's 10,000: held for review, not billed.
        let mut store = stored(
            dir.path(),
            vec![("2026-11-02", with(plotter(), 1_000, &[])), ("2026-11-03", with(plotter(), 16_000, &[]))],
        );
        let state = store.device_state(printfleet_auth::sender_id_of("m")).unwrap();
        assert_eq!(model_class(state.as_ref()), ModelClass::LARGE_FORMAT);
        let billed =
            bill(&mut store, parse_month("2026-11").unwrap(), parse_date("2027-01-01").unwrap(), dir.path()).unwrap();
        let pages: i64 = billed.usage.iter().filter(|l| l.category == Category::TOTAL).map(|l| l.quantity.0).sum();
        assert_eq!(pages, 0, "{:?}", billed.usage);
    }

    #[test]
    fn model_classes_from_stored_states() {
        assert_eq!(model_class(None), ModelClass::OFFICE);
        let office = DeviceState::from(&samples::office_laser());
        assert_eq!(model_class(Some(&office)), ModelClass::OFFICE);
        let plotter = DeviceState::from(&samples::large_format(0));
        assert_eq!(model_class(Some(&plotter)), ModelClass::LARGE_FORMAT);
    }
}
