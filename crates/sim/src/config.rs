//! What a simulated fleet is made of: [`FleetConfig`], the [`Mix`] of [`Kind`]s and the
//! [`Faults`] injected. Every parameter has a documented default.

use printfleet_agent::{COLLECTOR_INTERVAL, COLLECTOR_MIN_INTERVAL};
use printfleet_schema::{DurationMs, Timestamp};

/// The most printers one fleet simulates (memory: each SNMP device keeps its walk, some 30 KiB).
pub const MAX_PRINTERS: u32 = 1_000_000;

/// 2026-11-01T00:00:00Z, the default start of a simulation (a Sunday at midnight UTC).
pub const DEFAULT_START: Timestamp = match Timestamp::from_unix_millis(1_793_491_200_000) {
    Ok(t) => t,
    Err(_) => Timestamp::UNIX_EPOCH,
};

/// A direct device reads itself every 30 minutes by default (its agent's scheduler decides when
/// to send: every 3 hours, 19 jobs or 100 pages, or at once for an urgent alert).
pub const DEFAULT_DIRECT_READ_INTERVAL: DurationMs = DurationMs(30 * 60 * 1000);

/// Printers behind one collector by default (one customer site).
pub const DEFAULT_SITE_SIZE: u32 = 50;

/// One day, in milliseconds.
pub(crate) const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// One hour, in milliseconds.
pub(crate) const HOUR_MS: u64 = 60 * 60 * 1000;
/// One minute, in milliseconds.
pub(crate) const MINUTE_MS: u64 = 60 * 1000;

/// What kind of printer a simulated device is.
///
/// | kind | built from | daily volume (per device, drawn once: the lesser of two uniform draws, so skewed low) | jobs |
/// |---|---|---|---|
/// | [`Kind::OfficeMono`] | SNMP walk: LibreNMS' capture of a Brother MFC-L2710DW (`brother.snmprec`), mapped by `printfleet_sources::snmp::printer_mib` | 20–400 pages, 4 pages a job on average; 15 % copies, 3 % fax, 10 % scan jobs; 40 % of multi-page jobs two-sided | print jobs as events only with [`FleetConfig::office_jobs`] |
/// | [`Kind::OfficeColour`] | SNMP walk: HP Color LaserJet Pro M252dw (`jetdirect_m252dw.snmprec`) | 20–300 pages, 4 a job; 35 % of jobs in colour; 30 % two-sided | as above |
/// | [`Kind::InkjetMfp`] | SNMP walk: Epson WF-C5790 (`epson.snmprec`) | 5–80 pages, 3 a job; 50 % colour, 15 % copies, 5 % fax, 15 % scan jobs; 20 % two-sided | as above |
/// | [`Kind::LargeFormat`] | built directly (Partner Link's Appendix A has no SNMP form), shaped like `printfleet_schema::samples::large_format` | 5–60 jobs a day of 0.5–3 m of 36" or 44" roll each, ink per colour from the printed area | every job is an event (a job record) |
///
/// Jobs arrive during working hours (08:00–18:00 UTC) on weekdays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// An office monochrome laser MFP.
    OfficeMono,
    /// An office colour laser printer.
    OfficeColour,
    /// An inkjet MFP: print, copy, scan, fax.
    InkjetMfp,
    /// A large-format printer: roll media, printheads, ink cartridges, application categories,
    /// a job record for every job.
    LargeFormat,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::OfficeMono, Self::OfficeColour, Self::InkjetMfp, Self::LargeFormat];

    /// A short snake_case name (`office_mono`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::OfficeMono => "office_mono",
            Self::OfficeColour => "office_colour",
            Self::InkjetMfp => "inkjet_mfp",
            Self::LargeFormat => "large_format",
        }
    }

    /// Whether its readings are SNMP walks mapped by `printfleet_sources` (the office kinds),
    /// or reports built directly (large-format).
    pub const fn via_snmp(self) -> bool {
        !matches!(self, Self::LargeFormat)
    }
}

/// The share of each [`Kind`] in the fleet, as relative weights. Devices are assigned kinds in
/// proportion (device `i` gets the kind whose cumulative share covers `i`'s position), so the
/// counts are exact, not drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// Weight of [`Kind::OfficeMono`] (default 40).
    pub office_mono: u32,
    /// Weight of [`Kind::OfficeColour`] (default 30).
    pub office_colour: u32,
    /// Weight of [`Kind::InkjetMfp`] (default 20).
    pub inkjet_mfp: u32,
    /// Weight of [`Kind::LargeFormat`] (default 10).
    pub large_format: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self { office_mono: 40, office_colour: 30, inkjet_mfp: 20, large_format: 10 }
    }
}

impl Mix {
    /// An SDS-style fleet: office kinds only (status, consumables, alerts, meters), 50 % mono
    /// lasers, 35 % colour lasers, 15 % inkjet MFPs.
    pub const SDS_STYLE: Self = Self { office_mono: 50, office_colour: 35, inkjet_mfp: 15, large_format: 0 };

    /// One kind only.
    pub const fn only(kind: Kind) -> Self {
        let mut mix = Self { office_mono: 0, office_colour: 0, inkjet_mfp: 0, large_format: 0 };
        match kind {
            Kind::OfficeMono => mix.office_mono = 1,
            Kind::OfficeColour => mix.office_colour = 1,
            Kind::InkjetMfp => mix.inkjet_mfp = 1,
            Kind::LargeFormat => mix.large_format = 1,
        }
        mix
    }

    pub(crate) fn weights(&self) -> [(Kind, u32); 4] {
        [
            (Kind::OfficeMono, self.office_mono),
            (Kind::OfficeColour, self.office_colour),
            (Kind::InkjetMfp, self.inkjet_mfp),
            (Kind::LargeFormat, self.large_format),
        ]
    }

    fn total(&self) -> u64 {
        self.weights().iter().map(|(_, w)| u64::from(*w)).sum()
    }

    /// The kind of device `index` of `printers`.
    pub(crate) fn kind_of(&self, index: u64, printers: u64) -> Kind {
        let total = self.total();
        // Position of the device in [0, total): index * total / printers.
        let pos = u128::from(index).saturating_mul(u128::from(total)).checked_div(u128::from(printers)).unwrap_or(0);
        let mut acc = 0u128;
        for (kind, w) in self.weights() {
            acc = acc.saturating_add(u128::from(w));
            if pos < acc {
                return kind;
            }
        }
        Kind::OfficeMono
    }
}

/// The faults injected, each a rate per 10 000 device-days (per 10 000 site-days for network
/// loss), drawn each simulated midnight for the day ahead, at a uniform time of the day. Every
/// fault injected is reported ([`crate::EventKind::Fault`]) and counted in [`crate::Truth`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Faults {
    /// Reboots (a [`crate::EventKind::Boot`]; sysUpTime starts again; the agent restarts from
    /// its saved state). Default 300 (about one a month per device).
    pub reboot: u32,
    /// Counter resets: the formatter board is replaced, every lifetime counter starts again near
    /// 0 (0–20) and the device's agent starts as a new instance with a new key epoch. Default 3.
    pub counter_reset: u32,
    /// The printer moves to a new IPv4 address (DHCP). Default 20.
    pub address_change: u32,
    /// A supply reports one of the MIB's special values for 1–24 hours: -3 ("some remaining"),
    /// -2 (unknown), or a level above its capacity (101–120 %). Default 50.
    pub special_level: u32,
    /// The device's clock drifts by 1–6 hours either way for 1–3 days: reported timestamps (the
    /// report's `generated_at`, a direct device's agent clock) are skewed. Default 20.
    pub clock_drift: u32,
    /// The device is silent (off) for 1–4 days: no jobs, no readings; it boots when it returns.
    /// Default 10.
    pub silent: u32,
    /// The site's network is down for 10 minutes to 6 hours: frames sent then are lost
    /// ([`crate::Fleet::network_up`]). Per site (a collector's site, or a direct device).
    /// Default 100.
    pub network_loss: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            reboot: 300,
            counter_reset: 3,
            address_change: 20,
            special_level: 50,
            clock_drift: 20,
            silent: 10,
            network_loss: 100,
        }
    }
}

impl Faults {
    /// No faults at all.
    pub const NONE: Self = Self {
        reboot: 0,
        counter_reset: 0,
        address_change: 0,
        special_level: 0,
        clock_drift: 0,
        silent: 0,
        network_loss: 0,
    };

    /// Every fault at 20 % a day (for tests that every kind is injected and survived).
    pub const HIGH: Self = Self {
        reboot: 2_000,
        counter_reset: 2_000,
        address_change: 2_000,
        special_level: 2_000,
        clock_drift: 2_000,
        silent: 2_000,
        network_loss: 2_000,
    };
}

/// A simulated fleet: how many printers, of which kinds, where, from when, with which faults.
///
/// ```
/// use printfleet_sim::{FleetConfig, Mix};
/// let config = FleetConfig { seed: 7, printers: 30, mix: Mix::SDS_STYLE, ..FleetConfig::default() };
/// assert_eq!(config.collector_share, 80);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetConfig {
    /// The seed: the same seed and configuration give the same events, byte for byte.
    /// Default 0.
    pub seed: u64,
    /// Number of printers, 1 to [`MAX_PRINTERS`]. Default 100.
    pub printers: u32,
    /// The share of each kind. Default [`Mix::default`] (40 % office mono, 30 % office colour,
    /// 20 % inkjet MFP, 10 % large-format).
    pub mix: Mix,
    /// When the simulation starts (every device takes a first reading then). Default
    /// [`DEFAULT_START`].
    pub start: Timestamp,
    /// The faults injected. Default [`Faults::default`].
    pub faults: Faults,
    /// The percentage of office and inkjet printers read by a collector (an SDS LAN monitor; the
    /// rest report themselves). Default 80.
    pub collector_share: u8,
    /// The percentage of large-format printers read by a collector (Partner Link's Data
    /// Collector, "every three hours"); the rest report themselves with Partner Link's direct
    /// connection firmware (every 3 hours, 19 jobs or 100 pages). Default 50.
    pub large_format_collector_share: u8,
    /// Printers per collector site. Default [`DEFAULT_SITE_SIZE`].
    pub site_size: u32,
    /// How often a collector reads each of its printers: at least
    /// `printfleet_agent::COLLECTOR_MIN_INTERVAL` (30 minutes). Default
    /// `printfleet_agent::COLLECTOR_INTERVAL` (180 minutes).
    pub collector_interval: DurationMs,
    /// How often a direct device reads itself. Default [`DEFAULT_DIRECT_READ_INTERVAL`].
    pub direct_read_interval: DurationMs,
    /// Whether office and inkjet print jobs are also reported as job events (large-format jobs
    /// always are). Default false (SDS-style: counters only).
    pub office_jobs: bool,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            printers: 100,
            mix: Mix::default(),
            start: DEFAULT_START,
            faults: Faults::default(),
            collector_share: 80,
            large_format_collector_share: 50,
            site_size: DEFAULT_SITE_SIZE,
            collector_interval: COLLECTOR_INTERVAL,
            direct_read_interval: DEFAULT_DIRECT_READ_INTERVAL,
            office_jobs: false,
        }
    }
}

/// A configuration that cannot be simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No printers, or more than [`MAX_PRINTERS`].
    #[error("printers must be between 1 and {max}, not {printers}")]
    Printers {
        /// The number asked for.
        printers: u32,
        /// [`MAX_PRINTERS`].
        max: u32,
    },
    /// Every weight of the mix is zero.
    #[error("the mix has no kind with a positive weight")]
    EmptyMix,
    /// A collector interval below 30 minutes (Partner Link's floor).
    #[error("collector interval of {minutes} minutes is below the 30-minute minimum")]
    CollectorInterval {
        /// The interval asked for, in whole minutes.
        minutes: u64,
    },
    /// A zero direct read interval or site size, or a collector share above 100.
    #[error("a zero read interval or site size, or a collector share above 100 %")]
    Invalid,
}

impl FleetConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.printers == 0 || self.printers > MAX_PRINTERS {
            return Err(ConfigError::Printers { printers: self.printers, max: MAX_PRINTERS });
        }
        if self.mix.total() == 0 {
            return Err(ConfigError::EmptyMix);
        }
        if self.collector_interval < COLLECTOR_MIN_INTERVAL {
            return Err(ConfigError::CollectorInterval { minutes: self.collector_interval.0 / MINUTE_MS });
        }
        if self.direct_read_interval.0 == 0
            || self.site_size == 0
            || self.collector_share > 100
            || self.large_format_collector_share > 100
        {
            return Err(ConfigError::Invalid);
        }
        Ok(())
    }
}
