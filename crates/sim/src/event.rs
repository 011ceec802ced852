//! What the simulator says happened: [`SimEvent`]s, the [`Fault`]s it injected, and each
//! device's [`Truth`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use printfleet_schema::{Alert, Colour, DeviceReport, MeterKind, PrintJob, RecordId, Timestamp};

/// One thing that happened to one device.
#[derive(Clone, Debug, PartialEq)]
pub struct SimEvent {
    /// The device, an index into [`crate::Fleet::devices`].
    pub device: usize,
    /// When it happened, by the simulation's (true) clock. The device's own clock, which may
    /// drift, is [`crate::Fleet::device_time`]; a reading's `generated_at` is by that clock.
    pub at: Timestamp,
    /// What happened.
    pub what: EventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// The device was read (an office device's SNMP walk, mapped; a large-format device's own
    /// report). Feed it to the device's agent.
    Reading(Box<DeviceReport>),
    /// A print job finished (large-format: every job; office kinds: with
    /// [`crate::FleetConfig::office_jobs`]).
    Job(Box<PrintJob>),
    /// An alert was raised (as the mapping reads it).
    Alert(Box<Alert>),
    /// An alert was cleared.
    AlertCleared(RecordId),
    /// The device (re)started.
    Boot,
    /// A fault was injected.
    Fault(Fault),
}

/// A fault the simulator injected (see [`crate::Faults`] for rates and durations).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The device rebooted (a [`EventKind::Boot`] follows).
    Reboot,
    /// The formatter board was replaced: counters start again near 0 and the device's agent is
    /// a new instance (board `instance`, counted from 1) with a new key epoch.
    CounterReset {
        /// The new board's number (the key epoch of its credentials).
        instance: u32,
    },
    /// The device moved to a new IPv4 address.
    AddressChange {
        /// The old address.
        from: Ipv4Addr,
        /// The new address.
        to: Ipv4Addr,
    },
    /// A supply reports a special value until `until`: -3 ("some remaining"), -2 (unknown),
    /// or a level above its capacity.
    SpecialLevel {
        /// The supply (its record id in the mapped report).
        supply: RecordId,
        /// The MIB value reported.
        level: i32,
        /// When it reports its real level again.
        until: Timestamp,
    },
    /// The device's clock is off by `skew_ms` until `until`.
    ClockDrift {
        /// Milliseconds added to the true time.
        skew_ms: i64,
        /// When the clock is right again.
        until: Timestamp,
    },
    /// The device is off (no jobs, no readings) until `until`, when it boots.
    Silent {
        /// When it comes back.
        until: Timestamp,
    },
    /// The device's site has no network until `until`: frames sent are lost.
    NetworkLoss {
        /// When the network is back.
        until: Timestamp,
    },
}

/// The kinds of [`Fault`], for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// [`Fault::Reboot`].
    Reboot,
    /// [`Fault::CounterReset`].
    CounterReset,
    /// [`Fault::AddressChange`].
    AddressChange,
    /// [`Fault::SpecialLevel`].
    SpecialLevel,
    /// [`Fault::ClockDrift`].
    ClockDrift,
    /// [`Fault::Silent`].
    Silent,
    /// [`Fault::NetworkLoss`].
    NetworkLoss,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [Self; 7] = [
        Self::Reboot,
        Self::CounterReset,
        Self::AddressChange,
        Self::SpecialLevel,
        Self::ClockDrift,
        Self::Silent,
        Self::NetworkLoss,
    ];

    /// A snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Reboot => "reboot",
            Self::CounterReset => "counter_reset",
            Self::AddressChange => "address_change",
            Self::SpecialLevel => "special_level",
            Self::ClockDrift => "clock_drift",
            Self::Silent => "silent",
            Self::NetworkLoss => "network_loss",
        }
    }
}

impl Fault {
    /// Its kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Self::Reboot => FaultKind::Reboot,
            Self::CounterReset { .. } => FaultKind::CounterReset,
            Self::AddressChange { .. } => FaultKind::AddressChange,
            Self::SpecialLevel { .. } => FaultKind::SpecialLevel,
            Self::ClockDrift { .. } => FaultKind::ClockDrift,
            Self::Silent { .. } => FaultKind::Silent,
            Self::NetworkLoss { .. } => FaultKind::NetworkLoss,
        }
    }
}

/// What really happened to one device: to check what the portal stored and billed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Truth {
    /// Each lifetime counter's true advance since the first reading, summed across counter
    /// resets (the usage a perfect meter would bill), in the meter's unit.
    pub advance: BTreeMap<MeterKind, u64>,
    /// [`Truth::advance`] as of the last reading emitted: what the portal can know once it has
    /// the device's current state.
    pub reported: BTreeMap<MeterKind, u64>,
    /// What the new boards of its counter resets had counted before their first use, per meter,
    /// summed over its resets. A meter cannot tell such a count from usage when it reads above
    /// the old board's last read (a young device whose board is replaced twice), and bills it.
    pub factory: BTreeMap<MeterKind, u64>,
    /// Impressions printed (every service).
    pub pages: u64,
    /// Ink used per colour, in nanolitres (large-format).
    pub ink_nl: BTreeMap<Colour, u64>,
    /// Media used per media type, in square millimetres (large-format).
    pub media_mm2: BTreeMap<String, u64>,
    /// Job events emitted.
    pub jobs: u64,
    /// Readings emitted.
    pub readings: u64,
    /// Alerts raised.
    pub alerts_raised: u64,
    /// Consumables replaced (toner, ink cartridges, drums, printheads, rolls).
    pub replacements: u64,
    /// Every fault injected, in order.
    pub faults: Vec<(Timestamp, Fault)>,
}

impl Truth {
    /// How many faults of `kind` were injected.
    pub fn faults_of(&self, kind: FaultKind) -> usize {
        self.faults.iter().filter(|(_, f)| f.kind() == kind).count()
    }

    pub(crate) fn bump(&mut self, kind: &MeterKind, n: u64) {
        let v = self.advance.entry(kind.clone()).or_insert(0);
        *v = v.saturating_add(n);
    }
}
