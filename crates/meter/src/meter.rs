//! The meter: ingestion of observations and job records, and the state that must survive a
//! restart.

use std::collections::BTreeMap;
use std::fmt;

use printfleet_schema::Timestamp;
use serde::{Deserialize, Serialize};

use crate::limits::{
    MAX_DEVICES_PER_CONTRACT, MAX_JOB_KINDS, MAX_JOBS_PER_DEVICE, MAX_KEYS_PER_DEVICE, MAX_MOVES_PER_DEVICE,
    MAX_PERIODS_AHEAD, MAX_READS_PER_SERIES, MAX_REJECTED_LISTED, MAX_RELEASED_PER_SERIES, MAX_SERIAL_LEN,
    MAX_SERIES_PER_DEVICE,
};
use crate::terms::ModelClass;
use crate::{BillingPeriod, Category, MeterConfig, MeterError, MinorUnits, PeriodId, Terms};

/// The integrator's identifier of a contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContractId(pub u64);

/// The integrator's identifier of a billed device: one position on a contract. A device
/// swapped under the same contract keeps its `DeviceId`; its counters start a new segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub u64);

impl fmt::Display for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The idempotency key of an observation: the device, the agent instance that reported it and
/// the report's sequence number (`printfleet_wire::delta::Update::{instance, sequence}`). Every
/// meter value of one report shares the report's key; a key seen again is a duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObservationKey {
    /// The device.
    pub device: DeviceId,
    /// The agent instance.
    pub instance: u32,
    /// The report's sequence number within the instance.
    pub sequence: u64,
}

/// Where a value came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Provenance {
    /// Read by the on-site agent (SNMP, IPP, LEDM) or the device's firmware.
    #[default]
    Agent,
    /// Read by the portal from the device's cloud connection.
    Portal,
    /// Entered by a person (a meter-read card, a service visit).
    Manual,
    /// Imported from another system.
    Import,
}

impl Provenance {
    const ALL: [Self; 4] = [Self::Agent, Self::Portal, Self::Manual, Self::Import];

    fn bit(self) -> u8 {
        match self {
            Self::Agent => 1,
            Self::Portal => 2,
            Self::Manual => 4,
            Self::Import => 8,
        }
    }

    /// The snake_case name used in exports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Portal => "portal",
            Self::Manual => "manual",
            Self::Import => "import",
        }
    }
}

/// The flag of an estimated read in [`Read::flags`] and [`Sources`].
pub(crate) const ESTIMATED: u8 = 0x80;

/// The provenances that contributed to a line, and whether an estimate did (`"agent+manual"`,
/// `"agent+estimate"`, `""` when no read contributed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sources(pub(crate) u8);

impl Sources {
    /// Whether `p` contributed.
    pub fn contains(self, p: Provenance) -> bool {
        self.0 & p.bit() != 0
    }

    /// Whether an estimated read contributed.
    pub fn estimated(self) -> bool {
        self.0 & ESTIMATED != 0
    }
}

impl fmt::Display for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let names = Provenance::ALL.iter().filter(|p| self.contains(**p)).map(|p| p.name());
        for name in names.chain(self.estimated().then_some("estimate")) {
            if !first {
                f.write_str("+")?;
            }
            f.write_str(name)?;
            first = false;
        }
        Ok(())
    }
}

/// One meter value, as the portal extracts it from a report or a delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The idempotency key (which names the device).
    pub key: ObservationKey,
    /// The meter.
    pub kind: Category,
    /// The lifetime counter value, in the meter's unit.
    pub value: u64,
    /// When the device read the counter.
    pub observed_at: Timestamp,
    /// Where the value came from.
    pub provenance: Provenance,
}

/// What a job used, as the portal extracts it from job records: for reconciliation only
/// (counters are what is billed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRecord {
    /// The device.
    pub device: DeviceId,
    /// The device's job sequence number (`JobHeader::sequence`): the idempotency key.
    pub job: u64,
    /// When the job finished.
    pub finished_at: Timestamp,
    /// What the job used, per meter kind, in the meter's unit (pages on `total`, `colour`, ...);
    /// at most [`MAX_JOB_KINDS`] entries.
    pub usage: Vec<(Category, u64)>,
}

/// What happened to an observation or job record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Recorded for its (open) period.
    Recorded,
    /// Recorded for a period already closed: it shows as an adjustment in the next closing.
    Late,
    /// Seen before: nothing changed.
    Duplicate,
}

/// A device on a contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The contract it is billed under.
    pub contract: ContractId,
    /// The serial number shown on usage lines (at most [`MAX_SERIAL_LEN`] bytes).
    pub serial: String,
    /// The model class for the plausibility bound.
    pub class: ModelClass,
}

/// A counter read kept by the meter. Saved as `[at, value, flags]` (the bulk of the saved state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u64, u64, u8)", into = "(u64, u64, u8)")]
pub(crate) struct Read {
    /// Unix milliseconds.
    pub(crate) at: u64,
    /// Counter value.
    pub(crate) value: u64,
    /// Provenance bit, [`ESTIMATED`] for an estimate.
    pub(crate) flags: u8,
}

impl From<(u64, u64, u8)> for Read {
    fn from((at, value, flags): (u64, u64, u8)) -> Self {
        Self { at, value, flags }
    }
}

impl From<Read> for (u64, u64, u8) {
    fn from(r: Read) -> Self {
        (r.at, r.value, r.flags)
    }
}

/// Everything kept per (device, meter kind).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Series {
    pub(crate) kind: Category,
    /// Reads in time order: the anchor (the last read before the retained window), then every
    /// read in the retained window.
    pub(crate) reads: Vec<Read>,
    /// Estimated reads at period ends, in time order; only those after the last read count.
    pub(crate) estimates: Vec<Read>,
    /// Quantity billed per contract and closed period of the retained window (a device that
    /// moved between contracts is billed by both).
    pub(crate) frozen: Vec<(ContractId, PeriodId, u64)>,
    /// Quantity credited but not yet offset against usage, per contract.
    pub(crate) credit: Vec<(ContractId, u64)>,
    /// Instants of reads that end a held jump released for billing.
    pub(crate) released: Vec<u64>,
    /// Instants of reads that end a held jump dismissed after review (never billed).
    #[serde(default)]
    pub(crate) dismissed: Vec<u64>,
    /// Held jumps awaiting review whose reads have left the retained window (those still in it
    /// are found again at each closing), oldest first.
    #[serde(default)]
    pub(crate) holds: Vec<PendingHold>,
    /// Released holds whose reads had left the retained window: billed as an adjustment at the
    /// next closing of the device's current contract.
    #[serde(default)]
    pub(crate) owed: u64,
    /// The same, owed to the contract the device was on when the jump happened (it has moved
    /// since, and that contract still lists it): billed at that contract's next closing.
    #[serde(default)]
    pub(crate) owed_to: Vec<(ContractId, u64)>,
}

/// A held jump awaiting review: the reads before and after it and the bound it exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingHold {
    pub(crate) from: Read,
    pub(crate) to: Read,
    pub(crate) allowed: u64,
}

impl Series {
    fn new(kind: Category) -> Self {
        Self {
            kind,
            reads: Vec::new(),
            estimates: Vec::new(),
            frozen: Vec::new(),
            credit: Vec::new(),
            released: Vec::new(),
            dismissed: Vec::new(),
            holds: Vec::new(),
            owed: 0,
            owed_to: Vec::new(),
        }
    }
}

/// Everything kept per device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeviceState {
    pub(crate) info: Device,
    /// Idempotency keys of the retained window: (instance, sequence, observed at), sorted.
    pub(crate) keys: Vec<(u32, u64, u64)>,
    /// Series sorted by kind.
    pub(crate) series: Vec<Series>,
    /// The latest observation time.
    pub(crate) last_seen: Option<u64>,
    /// Job sequence numbers of the retained window and when they finished.
    pub(crate) jobs: BTreeMap<u64, u64>,
    /// Job usage summed per (contract, period, kind): the contract the device was on just
    /// before the job finished (as for the advance a read proves, so a job finished at a move's
    /// effective instant counts with the handover read on the old contract), the period in that
    /// contract's calendar. Each contract reconciles its own part of a period.
    #[serde(default, rename = "job_sums_by_contract")]
    pub(crate) job_sums: Vec<(ContractId, PeriodId, Category, u64)>,
    /// Job sums of a state saved before they were kept per contract, `(period, kind, sum)`:
    /// moved to `job_sums` when the state is restored ([`Inner::migrate`]), never saved.
    #[serde(default, rename = "job_sums", skip_serializing)]
    pub(crate) legacy_job_sums: Vec<(PeriodId, Category, u64)>,
    /// Moves between contracts, in time order: from each instant (Unix ms) on, the device is
    /// billed under that contract. Empty if it never moved; otherwise the first entry is
    /// `(0, first contract)` and the last names `info.contract`.
    #[serde(default)]
    pub(crate) moves: Vec<(u64, ContractId)>,
    /// From this instant (Unix ms) on the device is billed under no contract
    /// ([`Meter::retire_device`]): no usage proven by a later read, no fee for a period it has no
    /// instant of, never silent.
    #[serde(default)]
    pub(crate) retired: Option<u64>,
}

impl DeviceState {
    /// The contract the device is billed under at `t` (Unix ms).
    pub(crate) fn owner_at(&self, t: u64) -> ContractId {
        owner_at(&self.moves, self.info.contract, t)
    }
}

/// The contract that owns instant `t`, given a device's moves and current contract.
pub(crate) fn owner_at(moves: &[(u64, ContractId)], current: ContractId, t: u64) -> ContractId {
    if moves.is_empty() {
        return current;
    }
    let i = moves.partition_point(|(from, _)| *from <= t);
    moves.get(i.saturating_sub(1)).map_or(current, |(_, c)| *c)
}

/// Whether `contract` owns some instant of `[from, until)`.
pub(crate) fn owns_some(
    moves: &[(u64, ContractId)],
    current: ContractId,
    contract: ContractId,
    from: u64,
    until: u64,
) -> bool {
    if moves.is_empty() {
        return current == contract;
    }
    moves.iter().enumerate().any(|(i, (start, c))| {
        let end = moves.get(i.saturating_add(1)).map_or(u64::MAX, |(e, _)| *e);
        *c == contract && *start < until && end > from
    })
}

/// Whether `contract` owns every instant of `[from, until)`.
pub(crate) fn owns_all(
    moves: &[(u64, ContractId)],
    current: ContractId,
    contract: ContractId,
    from: u64,
    until: u64,
) -> bool {
    if moves.is_empty() {
        return current == contract;
    }
    moves.iter().enumerate().any(|(i, (start, c))| {
        let end = moves.get(i.saturating_add(1)).map_or(u64::MAX, |(e, _)| *e);
        *c == contract && *start <= from && end >= until
    })
}

/// Everything kept per contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ContractState {
    pub(crate) terms: Terms,
    /// The first period billed.
    pub(crate) first: PeriodId,
    /// The oldest open period.
    pub(crate) open: PeriodId,
    /// Its start (Unix ms).
    pub(crate) open_start: u64,
    /// The oldest observation time accepted (Unix ms).
    pub(crate) accept_from: u64,
    /// The first observation time no longer accepted (Unix ms): the end of the period
    /// [`MAX_PERIODS_AHEAD`] periods after the oldest open one.
    pub(crate) accept_until: u64,
    /// The oldest period whose reads are retained.
    pub(crate) retain_from: PeriodId,
    /// Devices, sorted.
    pub(crate) devices: Vec<DeviceId>,
    /// Observations rejected as too late since the last closing (at most
    /// [`MAX_REJECTED_LISTED`]).
    pub(crate) rejected: Vec<crate::Rejected>,
    /// Rejections beyond the listed ones.
    pub(crate) rejected_unlisted: u64,
    /// What each closed period of the retained window was invoiced for, oldest first: a
    /// correction to one is priced in it (its allowance, its tiers), not in the period that
    /// closes when the correction arrives. Absent in a state saved before this was kept: such
    /// periods' corrections are netted with the closing period's usage, as they were.
    #[serde(default)]
    pub(crate) priced: Vec<Priced>,
    /// Money credited by corrections (a closed period re-priced lower) and not yet offset
    /// against charges.
    #[serde(default)]
    pub(crate) credit: MinorUnits,
}

/// What a closed period was invoiced for: enough to price it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Priced {
    pub(crate) period: PeriodId,
    /// Devices on the contract during the period (for the fees and the pooled allowance), sorted.
    pub(crate) devices: Vec<DeviceId>,
    /// Billable quantity per priced category and device, and whether an estimate contributed,
    /// sorted, without zeros.
    pub(crate) rows: Vec<Billable>,
    /// The period's own invoice total (corrections of earlier periods not included).
    pub(crate) total: MinorUnits,
}

/// A billable quantity of one category on one device, and whether an estimate contributed.
pub(crate) type Billable = (Category, DeviceId, u64, bool);

/// The state of the meter, in one serde value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Inner {
    pub(crate) config: MeterConfig,
    pub(crate) contracts: BTreeMap<ContractId, ContractState>,
    pub(crate) devices: BTreeMap<DeviceId, DeviceState>,
}

/// Meters a fleet and closes its billing periods. Sans-IO: time is an argument, output is
/// returned; one `Meter` owns all metering state (see the crate docs for what to persist).
///
/// Call order: [`add_contract`](Self::add_contract), [`add_device`](Self::add_device), then any
/// number of [`observe`](Self::observe) and [`record_job`](Self::record_job) in any order, and
/// [`close_period`](Self::close_period) once each period has ended. Save the meter (serde)
/// after every batch of calls and before acting on a [`Closing`](crate::Closing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meter {
    pub(crate) inner: Inner,
}

impl Serialize for Meter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Meter {
    /// Restores a saved meter, checking its invariants (sorted reads, keys and series, known
    /// contracts, limits); state that fails them is refused with a typed reason.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut inner = Inner::deserialize(deserializer)?;
        inner.migrate();
        inner.check().map_err(serde::de::Error::custom)?;
        Ok(Self { inner })
    }
}

impl Inner {
    /// Brings a state saved by an earlier version to the current form: job sums kept per
    /// period only go to the contract that had the device throughout that period (in its own
    /// calendar), the only ones the earlier version reconciled; the others (a period in which
    /// the device moved) are dropped, as they were never reconciled.
    fn migrate(&mut self) {
        let contracts = &self.contracts;
        for d in self.devices.values_mut() {
            if d.legacy_job_sums.is_empty() {
                continue;
            }
            let current = d.info.contract;
            let candidates: Vec<ContractId> = d.moves.iter().map(|(_, c)| *c).chain([current]).collect();
            for (p, kind, v) in core::mem::take(&mut d.legacy_job_sums) {
                let owner = candidates.iter().copied().find(|c| {
                    let Some(terms) = contracts.get(c).map(|s| &s.terms) else { return false };
                    let (Ok(start), Ok(end)) = (terms.period.start(p), terms.period.end(p)) else { return false };
                    owns_all(&d.moves, current, *c, start.unix_millis(), end.unix_millis())
                });
                if let Some(c) = owner
                    && !d.job_sums.iter().any(|(q, r, k, _)| *q == c && *r == p && *k == kind)
                {
                    d.job_sums.push((c, p, kind, v));
                }
            }
        }
    }

    fn check(&self) -> Result<(), MeterError> {
        let bad = |reason| Err(MeterError::InvalidState { reason });
        for c in self.contracts.values() {
            c.terms.validate()?;
            if !c.devices.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
                return bad("contract devices not sorted");
            }
            // What a correction's re-pricing relies on: periods in order and closed, rows and
            // devices sorted and unique (a duplicate row would be billed twice).
            if !c.priced.windows(2).all(|w| matches!(w, [a, b] if a.period < b.period))
                || c.priced.iter().any(|r| {
                    r.period >= c.open
                        || !r.devices.windows(2).all(|w| matches!(w, [a, b] if a < b))
                        || !r.rows.windows(2).all(|w| matches!(w, [a, b] if (&a.0, a.1) < (&b.0, b.1)))
                })
            {
                return bad("invoiced periods inconsistent");
            }
        }
        for (id, d) in &self.devices {
            let Some(c) = self.contracts.get(&d.info.contract) else { return bad("device of an unknown contract") };
            if c.devices.binary_search(id).is_err() {
                return bad("device missing from its contract");
            }
            if d.moves.iter().any(|(_, c)| !self.contracts.contains_key(c))
                || !d.moves.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0))
                || d.moves.last().is_some_and(|(_, c)| *c != d.info.contract)
            {
                return bad("device moves inconsistent");
            }
            if d.job_sums.iter().any(|(c, ..)| !self.contracts.contains_key(c)) || !d.legacy_job_sums.is_empty() {
                return bad("job sums of an unknown contract");
            }
            if d.keys.len() > MAX_KEYS_PER_DEVICE || d.series.len() > MAX_SERIES_PER_DEVICE {
                return bad("device state over its limits");
            }
            if !d.keys.windows(2).all(|w| matches!(w, [a, b] if (a.0, a.1) < (b.0, b.1))) {
                return bad("keys not sorted");
            }
            if !d.series.windows(2).all(|w| matches!(w, [a, b] if a.kind < b.kind)) {
                return bad("series not sorted");
            }
            for s in &d.series {
                let sorted = |v: &[Read]| v.windows(2).all(|w| matches!(w, [a, b] if a.at < b.at));
                if s.reads.len() > MAX_READS_PER_SERIES || !sorted(&s.reads) || !sorted(&s.estimates) {
                    return bad("reads not sorted or over the limit");
                }
            }
        }
        Ok(())
    }
}

impl Meter {
    /// An empty meter.
    pub fn new(config: MeterConfig) -> Self {
        Self { inner: Inner { config, contracts: BTreeMap::new(), devices: BTreeMap::new() } }
    }

    /// The configuration.
    pub fn config(&self) -> &MeterConfig {
        &self.inner.config
    }

    /// Adds a contract whose first billed period is the one containing `starts`.
    pub fn add_contract(&mut self, id: ContractId, terms: Terms, starts: Timestamp) -> Result<(), MeterError> {
        terms.validate()?;
        if self.inner.contracts.contains_key(&id) {
            return Err(MeterError::AlreadyExists { what: "contract" });
        }
        let period = terms.period;
        let first = period.period_of(starts);
        let open_start = period.start(first)?.unix_millis();
        let accept_from = open_start.saturating_sub(self.inner.config.late_window.0);
        let retain_from = retain_period(period, accept_from);
        let accept_until = accept_until(period, first)?;
        self.inner.contracts.insert(
            id,
            ContractState {
                terms,
                first,
                open: first,
                open_start,
                accept_from,
                accept_until,
                retain_from,
                devices: Vec::new(),
                rejected: Vec::new(),
                rejected_unlisted: 0,
                priced: Vec::new(),
                credit: MinorUnits(0),
            },
        );
        Ok(())
    }

    /// The terms of a contract.
    pub fn terms(&self, id: ContractId) -> Option<&Terms> {
        self.inner.contracts.get(&id).map(|c| &c.terms)
    }

    /// The oldest open period of a contract, the next one [`close_period`](Self::close_period)
    /// closes.
    pub fn open_period(&self, id: ContractId) -> Option<PeriodId> {
        self.inner.contracts.get(&id).map(|c| c.open)
    }

    /// The money credit a contract has not yet offset against charges: what corrections
    /// credited beyond its invoices' charges (the last invoice's
    /// [`Charge::CreditCarriedForward`](crate::Charge) line), deducted from its next invoices.
    pub fn credit(&self, id: ContractId) -> Option<MinorUnits> {
        self.inner.contracts.get(&id).map(|c| c.credit)
    }

    /// Takes a contract's money credit out of the meter, to pay it out another way (a refund, a
    /// credit note; a customer who leaves): its next invoice deducts nothing. Save the meter
    /// after this call, as after any other.
    pub fn take_credit(&mut self, id: ContractId) -> Result<MinorUnits, MeterError> {
        let contract = self.inner.contracts.get_mut(&id).ok_or(MeterError::UnknownContract { contract: id })?;
        Ok(std::mem::take(&mut contract.credit))
    }

    /// Adds a device to a contract.
    pub fn add_device(&mut self, id: DeviceId, device: Device) -> Result<(), MeterError> {
        if device.serial.len() > MAX_SERIAL_LEN {
            return Err(MeterError::LimitReached { limit: "MAX_SERIAL_LEN", max: MAX_SERIAL_LEN });
        }
        if self.inner.devices.contains_key(&id) {
            return Err(MeterError::AlreadyExists { what: "device" });
        }
        let contract = self
            .inner
            .contracts
            .get_mut(&device.contract)
            .ok_or(MeterError::UnknownContract { contract: device.contract })?;
        if contract.devices.len() >= MAX_DEVICES_PER_CONTRACT {
            return Err(MeterError::LimitReached { limit: "MAX_DEVICES_PER_CONTRACT", max: MAX_DEVICES_PER_CONTRACT });
        }
        if let Err(pos) = contract.devices.binary_search(&id) {
            contract.devices.insert(pos, id);
        }
        self.inner.devices.insert(
            id,
            DeviceState {
                info: device,
                keys: Vec::new(),
                series: Vec::new(),
                last_seen: None,
                jobs: BTreeMap::new(),
                job_sums: Vec::new(),
                legacy_job_sums: Vec::new(),
                moves: Vec::new(),
                retired: None,
            },
        );
        Ok(())
    }

    /// Retires a device from `effective` on (a device revoked, sold, scrapped): an advance proven
    /// by a read at or before `effective` is billed as ever, nothing after it; the fee per device
    /// counts it only in periods with an instant before `effective`; it is never listed silent
    /// again. Record a last reading at `effective` for an exact account (a revoked device sends
    /// nothing more, so its last reading is its account). `effective` must lie in an open period
    /// of its contract (not before the start of its oldest open period, nor after the last
    /// instant it accepts) and after its last move. Once: a retired device stays retired, and
    /// [`Meter::move_device`] refuses it.
    ///
    /// ```
    /// use printfleet_meter::{
    ///     Category, CategoryTerms, ContractId, Device, DeviceId, Meter, MeterConfig, MinorUnits, ModelClass,
    ///     Observation, ObservationKey, Price, Provenance, Terms,
    /// };
    /// use printfleet_schema::Timestamp;
    ///
    /// let day = |d: u64| Timestamp::from_unix_millis(1_735_689_600_000 + d * 86_400_000).unwrap();
    /// let mut terms = Terms::default();
    /// terms.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(1, 1)?));
    /// terms.fee_per_device = MinorUnits(500);
    /// let mut meter = Meter::new(MeterConfig::default());
    /// meter.add_contract(ContractId(1), terms, day(0))?;
    /// let printer = Device { contract: ContractId(1), serial: "CNB1".into(), class: ModelClass::OFFICE };
    /// meter.add_device(DeviceId(7), printer)?;
    /// for (d, pages) in [(1, 1_000), (20, 1_400)] {
    ///     let key = ObservationKey { device: DeviceId(7), instance: 1, sequence: d };
    ///     let read = Observation { key, kind: Category::TOTAL, value: pages, observed_at: day(d), provenance: Provenance::Agent };
    ///     meter.observe(&read)?;
    /// }
    /// // Revoked after its last report on day 20: billed for January, gone from February.
    /// meter.retire_device(DeviceId(7), day(20))?;
    /// let january = meter.close_period(ContractId(1), day(31))?;
    /// assert_eq!(january.invoice.total, MinorUnits(400 + 500));
    /// let february = meter.close_period(ContractId(1), day(59))?;
    /// assert_eq!(february.invoice.total, MinorUnits(0));
    /// assert!(february.silent.is_empty());
    /// # Ok::<(), printfleet_meter::MeterError>(())
    /// ```
    pub fn retire_device(&mut self, device: DeviceId, effective: Timestamp) -> Result<(), MeterError> {
        let at = effective.unix_millis();
        let dev = self.inner.devices.get(&device).ok_or(MeterError::UnknownDevice { device })?;
        let bad = |reason| Err(MeterError::InvalidMove { reason });
        if dev.retired.is_some() {
            return bad("the device is retired already");
        }
        let contract = dev.info.contract;
        let c = self.inner.contracts.get(&contract).ok_or(MeterError::UnknownContract { contract })?;
        if at < c.open_start || at >= c.accept_until {
            return bad("the effective date is not in an open period of the device's contract");
        }
        if dev.moves.last().is_some_and(|(last, _)| *last >= at) {
            return bad("the effective date is not after the device's last move");
        }
        if let Some(dev) = self.inner.devices.get_mut(&device) {
            dev.retired = Some(at);
        }
        Ok(())
    }

    /// Whether `device` is retired ([`Meter::retire_device`]), and from when.
    pub fn retired(&self, device: DeviceId) -> Option<Timestamp> {
        self.inner.devices.get(&device)?.retired.and_then(|t| Timestamp::from_unix_millis(t).ok())
    }

    /// The latest time `device` was observed at (any category), if ever.
    pub fn last_seen(&self, device: DeviceId) -> Option<Timestamp> {
        self.inner.devices.get(&device)?.last_seen.and_then(|t| Timestamp::from_unix_millis(t).ok())
    }

    /// The start of the oldest open period of `contract`: the earliest instant a move or a
    /// retirement may take effect.
    pub fn open_start(&self, contract: ContractId) -> Option<Timestamp> {
        self.inner.contracts.get(&contract).and_then(|c| Timestamp::from_unix_millis(c.open_start).ok())
    }

    /// Moves a device to another contract from `effective` on: an advance proven by a read at
    /// or before `effective` is billed under the old contract, one proven by a later read under
    /// the new one (an advance between two reads happened before the later one). Record the
    /// handover reading at `effective` for an exact split; without it, the advance from the
    /// last read before the move to the first after it goes to the new contract.
    ///
    /// `effective` must lie in an open period of the old contract (not before the start of its
    /// oldest open period, nor after the last instant it accepts), within what the new contract
    /// accepts and not before its first period, and after the device's previous move; a retired
    /// device does not move. The device's counter series go on: a move is not a reset. The old contract lists the device (with usage lines) until its closings
    /// have passed the move and its late window; the fee per device counts a device on every
    /// contract it was on during the period.
    pub fn move_device(&mut self, device: DeviceId, to: ContractId, effective: Timestamp) -> Result<(), MeterError> {
        let at = effective.unix_millis();
        let dev = self.inner.devices.get(&device).ok_or(MeterError::UnknownDevice { device })?;
        if dev.retired.is_some() {
            return Err(MeterError::InvalidMove { reason: "the device is retired" });
        }
        let from = dev.info.contract;
        let old = self.inner.contracts.get(&from).ok_or(MeterError::UnknownContract { contract: from })?;
        let new = self.inner.contracts.get(&to).ok_or(MeterError::UnknownContract { contract: to })?;
        let bad = |reason| Err(MeterError::InvalidMove { reason });
        if from == to {
            return bad("the device is already on that contract");
        }
        if at < old.open_start || at >= old.accept_until {
            return bad("the effective date is not in an open period of the old contract");
        }
        if at < new.accept_from || at >= new.accept_until {
            return bad("the effective date is outside what the new contract accepts");
        }
        // Before its first period a new contract bills nothing: what the device did from the
        // move to that start would be billed by neither contract.
        if new.terms.period.start(new.first).map_or(true, |t| at < t.unix_millis()) {
            return bad("the effective date is before the new contract's first period");
        }
        if dev.moves.last().is_some_and(|(last, _)| *last >= at) {
            return bad("the effective date is not after the previous move");
        }
        if dev.moves.len() >= MAX_MOVES_PER_DEVICE {
            return Err(MeterError::LimitReached { limit: "MAX_MOVES_PER_DEVICE", max: MAX_MOVES_PER_DEVICE });
        }
        if new.devices.len() >= MAX_DEVICES_PER_CONTRACT {
            return Err(MeterError::LimitReached { limit: "MAX_DEVICES_PER_CONTRACT", max: MAX_DEVICES_PER_CONTRACT });
        }
        let new = self.inner.contracts.get_mut(&to).ok_or(MeterError::UnknownContract { contract: to })?;
        if let Err(pos) = new.devices.binary_search(&device) {
            new.devices.insert(pos, device);
        }
        let dev = self.inner.devices.get_mut(&device).ok_or(MeterError::UnknownDevice { device })?;
        if dev.moves.is_empty() {
            dev.moves.push((0, from));
        }
        dev.moves.push((at, to));
        dev.info.contract = to;
        Ok(())
    }

    /// Records one meter value. Duplicates change nothing and order does not matter: the
    /// result of any set of calls depends only on the set of observations.
    ///
    /// An observation older than the contract's late window is refused with
    /// [`MeterError::TooLate`] and listed in the next closing.
    pub fn observe(&mut self, obs: &Observation) -> Result<Outcome, MeterError> {
        let device = obs.key.device;
        let dev = self.inner.devices.get_mut(&device).ok_or(MeterError::UnknownDevice { device })?;
        let at = obs.observed_at.unix_millis();
        let owner = dev.owner_at(at);
        let contract = self.inner.contracts.get_mut(&owner).ok_or(MeterError::UnknownContract { contract: owner })?;
        if at < contract.accept_from {
            let rejected =
                crate::Rejected { device, kind: obs.kind.clone(), observed_at: obs.observed_at, value: obs.value };
            if contract.rejected.len() < MAX_REJECTED_LISTED {
                contract.rejected.push(rejected);
            } else {
                contract.rejected_unlisted = contract.rejected_unlisted.saturating_add(1);
            }
            return Err(MeterError::TooLate {
                observed_at: obs.observed_at,
                accepted_from: Timestamp::from_unix_millis(contract.accept_from).unwrap_or(Timestamp::UNIX_EPOCH),
            });
        }
        if at >= contract.accept_until {
            return Err(MeterError::TooEarly {
                observed_at: obs.observed_at,
                accepted_until: Timestamp::from_unix_millis(contract.accept_until).unwrap_or(Timestamp::MAX),
            });
        }
        let late = at < contract.open_start;

        // The key: where it goes, or the instant it was first seen with.
        let k = (obs.key.instance, obs.key.sequence);
        // Fast paths: a new report (keys usually arrive in order) and the other meters of the
        // report just seen; otherwise a binary search.
        let key_pos = match dev.keys.last() {
            Some(last) if (last.0, last.1) < k => Err(dev.keys.len()),
            Some(last) if (last.0, last.1) == k => Ok(dev.keys.len().saturating_sub(1)),
            None => Err(0),
            _ => dev.keys.binary_search_by(|e| (e.0, e.1).cmp(&k)),
        };
        if let Ok(i) = key_pos
            && dev.keys.get(i).map(|e| e.2) != Some(at)
        {
            return Err(MeterError::KeyReused { device });
        }
        if key_pos.is_err() && dev.keys.len() >= MAX_KEYS_PER_DEVICE {
            return Err(MeterError::LimitReached { limit: "MAX_KEYS_PER_DEVICE", max: MAX_KEYS_PER_DEVICE });
        }

        let series = match dev.series.binary_search_by(|s| s.kind.cmp(&obs.kind)) {
            Ok(i) => dev.series.get_mut(i),
            Err(i) => {
                if dev.series.len() >= MAX_SERIES_PER_DEVICE {
                    return Err(MeterError::LimitReached {
                        limit: "MAX_SERIES_PER_DEVICE",
                        max: MAX_SERIES_PER_DEVICE,
                    });
                }
                obs.kind.check()?;
                dev.series.insert(i, Series::new(obs.kind.clone()));
                dev.series.get_mut(i)
            }
        }
        .ok_or(MeterError::InvalidState { reason: "series index" })?;

        let read = Read { at, value: obs.value, flags: obs.provenance.bit() };
        let pos = match series.reads.last() {
            Some(last) if last.at < at => Err(series.reads.len()),
            None => Err(0),
            _ => series.reads.binary_search_by(|r| r.at.cmp(&at)),
        };
        let outcome = match pos {
            Ok(i) => {
                let existing = series.reads.get(i).map_or(obs.value, |r| r.value);
                if existing != obs.value {
                    return Err(MeterError::ConflictingReading {
                        kind: obs.kind.clone(),
                        observed_at: obs.observed_at,
                        existing,
                        new: obs.value,
                    });
                }
                Outcome::Duplicate
            }
            Err(i) => {
                if series.reads.len() >= MAX_READS_PER_SERIES {
                    return Err(MeterError::LimitReached { limit: "MAX_READS_PER_SERIES", max: MAX_READS_PER_SERIES });
                }
                series.reads.insert(i, read);
                if late { Outcome::Late } else { Outcome::Recorded }
            }
        };
        if let Err(i) = key_pos {
            dev.keys.insert(i, (k.0, k.1, at));
        }
        if dev.last_seen.is_none_or(|t| t < at) {
            dev.last_seen = Some(at);
        }
        Ok(outcome)
    }

    /// Records what a job used, for reconciliation against the counters. A job seen before
    /// (same device and job sequence) changes nothing.
    pub fn record_job(&mut self, job: &JobRecord) -> Result<Outcome, MeterError> {
        let device = job.device;
        if job.usage.len() > MAX_JOB_KINDS {
            return Err(MeterError::LimitReached { limit: "MAX_JOB_KINDS", max: MAX_JOB_KINDS });
        }
        let dev = self.inner.devices.get_mut(&device).ok_or(MeterError::UnknownDevice { device })?;
        let at = job.finished_at.unix_millis();
        let owner = dev.owner_at(at);
        let contract = self.inner.contracts.get(&owner).ok_or(MeterError::UnknownContract { contract: owner })?;
        if at < contract.accept_from {
            return Err(MeterError::TooLate {
                observed_at: job.finished_at,
                accepted_from: Timestamp::from_unix_millis(contract.accept_from).unwrap_or(Timestamp::UNIX_EPOCH),
            });
        }
        if at >= contract.accept_until {
            return Err(MeterError::TooEarly {
                observed_at: job.finished_at,
                accepted_until: Timestamp::from_unix_millis(contract.accept_until).unwrap_or(Timestamp::MAX),
            });
        }
        if dev.jobs.contains_key(&job.job) {
            return Ok(Outcome::Duplicate);
        }
        if dev.jobs.len() >= MAX_JOBS_PER_DEVICE {
            return Err(MeterError::LimitReached { limit: "MAX_JOBS_PER_DEVICE", max: MAX_JOBS_PER_DEVICE });
        }
        // Summed for the contract the device was on just before the job finished (what a read
        // at that instant proves belongs there too), in that contract's calendar.
        let sum_owner = dev.owner_at(at.saturating_sub(1));
        let sum_contract =
            self.inner.contracts.get(&sum_owner).ok_or(MeterError::UnknownContract { contract: sum_owner })?;
        let period = sum_contract.terms.period.period_of(job.finished_at);
        // The new sums first, applied only if none overflows: a refused job leaves no trace.
        let mut sums: Vec<(Option<usize>, &Category, u64)> = Vec::with_capacity(job.usage.len());
        for (kind, v) in &job.usage {
            if let Some(s) = sums.iter_mut().find(|s| s.1 == kind) {
                s.2 = s.2.checked_add(*v).ok_or(MeterError::Overflow)?;
                continue;
            }
            let pos = dev.job_sums.iter().position(|(c, p, k, _)| *c == sum_owner && *p == period && k == kind);
            let was = pos.and_then(|i| dev.job_sums.get(i)).map_or(0, |e| e.3);
            sums.push((pos, kind, was.checked_add(*v).ok_or(MeterError::Overflow)?));
        }
        for (pos, kind, v) in sums {
            match pos.and_then(|i| dev.job_sums.get_mut(i)) {
                Some(entry) => entry.3 = v,
                None => dev.job_sums.push((sum_owner, period, kind.clone(), v)),
            }
        }
        dev.jobs.insert(job.job, at);
        Ok(if at < contract.open_start { Outcome::Late } else { Outcome::Recorded })
    }

    /// Releases a held jump for billing after review: the jump of `category` on `device` that
    /// ends with the read at `to` (a [`Held::to`](crate::Held::to)) is billed like any
    /// advance: in the period of `to`, or in the next closing if that period is closed (a
    /// correction priced in that period while its reads are retained; once they have left the
    /// window, an adjustment netted with the closing period's usage), by the contract the device was
    /// on when it happened (the device's current one if it has moved since and the old contract
    /// no longer lists it). It is no longer listed.
    ///
    /// A read at `to` that no closing has listed yet may be released in advance. A dismissed
    /// hold cannot be released ([`MeterError::NoSuchHold`]): dismissal is final.
    pub fn release_hold(&mut self, device: DeviceId, category: &Category, to: Timestamp) -> Result<(), MeterError> {
        let at = to.unix_millis();
        // The contract the device was on when the jump happened (the advance a read proves
        // happened before it), if it has moved since and that contract still lists it.
        let earlier_owner = self
            .inner
            .devices
            .get(&device)
            .and_then(|d| Some(d.owner_at(at.saturating_sub(1))).filter(|owner| *owner != d.info.contract))
            .filter(|c| self.inner.contracts.get(c).is_some_and(|k| k.devices.binary_search(&device).is_ok()));
        let series = self.hold_series(device, category, to)?;
        if series.dismissed.binary_search(&at).is_ok() {
            // Dismissal is final.
            return Err(MeterError::NoSuchHold { to });
        }
        if has_read_after_anchor(series, at) {
            // The walk over the retained reads bills it from now on.
            series.holds.retain(|h| h.to.at != at);
            return insert_sorted(&mut series.released, at);
        }
        let i = series.holds.iter().position(|h| h.to.at == at).ok_or(MeterError::NoSuchHold { to })?;
        // Its reads have left the window: the walk cannot bill it any more, the closing does.
        let jump = series.holds.get(i).map_or(0, |h| h.to.value.saturating_sub(h.from.value));
        match earlier_owner {
            Some(owner) => match series.owed_to.iter_mut().find(|(c, _)| *c == owner) {
                Some((_, v)) => *v = v.checked_add(jump).ok_or(MeterError::Overflow)?,
                None => series.owed_to.push((owner, jump)),
            },
            None => series.owed = series.owed.checked_add(jump).ok_or(MeterError::Overflow)?,
        }
        series.holds.remove(i);
        Ok(())
    }

    /// Dismisses a held jump after review: the jump of `category` on `device` that ends with
    /// the read at `to` is never billed and no longer listed; counting goes on from `to`.
    pub fn dismiss_hold(&mut self, device: DeviceId, category: &Category, to: Timestamp) -> Result<(), MeterError> {
        let series = self.hold_series(device, category, to)?;
        let at = to.unix_millis();
        let pending = series.holds.iter().position(|h| h.to.at == at);
        if has_read_after_anchor(series, at) && series.dismissed.binary_search(&at).is_err() {
            series.holds.retain(|h| h.to.at != at);
            series.released.retain(|r| *r != at);
            return insert_sorted(&mut series.dismissed, at);
        }
        let i = pending.ok_or(MeterError::NoSuchHold { to })?;
        series.holds.remove(i);
        Ok(())
    }

    fn hold_series(&mut self, device: DeviceId, category: &Category, to: Timestamp) -> Result<&mut Series, MeterError> {
        let dev = self.inner.devices.get_mut(&device).ok_or(MeterError::UnknownDevice { device })?;
        let i = dev.series.binary_search_by(|s| s.kind.cmp(category)).map_err(|_| MeterError::NoSuchHold { to })?;
        dev.series.get_mut(i).ok_or(MeterError::InvalidState { reason: "series index" })
    }

    /// The number of counter reads the meter holds, over all devices (the dominant term of its
    /// memory and saved-state size).
    pub fn retained_reads(&self) -> usize {
        self.inner
            .devices
            .values()
            .flat_map(|d| &d.series)
            .map(|s| s.reads.len().saturating_add(s.estimates.len()))
            .sum()
    }
}

/// The first instant after the last period in which observations are accepted while `open` is
/// the oldest open period.
pub(crate) fn accept_until(period: BillingPeriod, open: PeriodId) -> Result<u64, MeterError> {
    let last = PeriodId(open.0.saturating_add(MAX_PERIODS_AHEAD));
    Ok(period.end(last).map_or(Timestamp::MAX.unix_millis(), Timestamp::unix_millis))
}

/// The oldest period whose reads must be kept so that an observation at `accept_from` or later
/// can still be placed: the period containing `accept_from`.
pub(crate) fn retain_period(period: BillingPeriod, accept_from: u64) -> PeriodId {
    period.period_of(Timestamp::from_unix_millis(accept_from).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// Whether the series has a read at `at` after its first one (the anchor or the first read,
/// which ends no jump).
pub(crate) fn has_read_after_anchor(series: &Series, at: u64) -> bool {
    matches!(series.reads.binary_search_by(|r| r.at.cmp(&at)), Ok(i) if i > 0)
}

/// Inserts `at` into a sorted list of instants capped at [`MAX_RELEASED_PER_SERIES`].
fn insert_sorted(list: &mut Vec<u64>, at: u64) -> Result<(), MeterError> {
    if let Err(i) = list.binary_search(&at) {
        if list.len() >= MAX_RELEASED_PER_SERIES {
            return Err(MeterError::LimitReached { limit: "MAX_RELEASED_PER_SERIES", max: MAX_RELEASED_PER_SERIES });
        }
        list.insert(i, at);
    }
    Ok(())
}
