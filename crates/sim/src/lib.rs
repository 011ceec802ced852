//! A deterministic, seeded printer-fleet simulator, the whole printfleet pipeline run on it in
//! memory, and the naive pipeline a user would write instead, measured beside ours.
//!
//! * [`Fleet`]: office mono and colour lasers, inkjet MFPs and large-format printers
//!   ([`Kind`], in a configurable [`Mix`]) producing what real printers report over simulated
//!   time: readings at each kind's cadence, job records, alerts raised and cleared, consumables
//!   that deplete and are replaced, and [`Faults`] (reboots, counter resets, address changes,
//!   the MIB's special supply levels, clock drift, silent devices, network loss), every one
//!   reported ([`EventKind::Fault`]) and kept in the device's [`Truth`].
//! * Through the same mapping path as real data where it can: the office kinds' readings are
//!   SNMP walks (real captures, their counters, supply levels and alerts rewritten) mapped by
//!   `printfleet_sources::snmp::printer_mib::map_at`; large-format reports are built directly
//!   (see [`Kind`]).
//! * [`naive`]: serde_json + gzip + Fernet, the baseline.
//! * [`run_with`]: the driver (agents, faults, the naive pipeline, the byte accounting),
//!   generic over a [`Transport`] that carries frames to a portal: provisioning, one-shot
//!   frames, session frames of collector sites and their SCRAM sessions. [`InMemory`] hands
//!   them to one `printfleet_ingest::Ingest`; `printfleet demo` (`printfleet_cli::demo`) sends
//!   them over HTTPS and TLS links to a real portal.
//! * [`run_in_memory`]: the driver with [`InMemory`]; the [`Summary`] says whether the portal
//!   converged, whether every job arrived once, and the bytes on the wire per device-day, ours
//!   against the naive pipeline's.
//!
//! It is sans-IO: no clock, socket, file or OS randomness (only the naive pipeline's `fernet`
//! crate reads the clock and `getrandom` for its tokens, whose lengths do not depend on them).
//! Time is the caller's: [`Fleet::advance`] runs the simulation up to an instant. The same seed
//! and configuration give the same events, byte for byte. It does no networking: the demo and
//! the benches move the frames.
//!
//! ```
//! use printfleet_sim::{EventKind, Faults, Fleet, FleetConfig, Kind, Mix, Site};
//! use printfleet_schema::DurationMs;
//!
//! let config = FleetConfig { seed: 42, printers: 20, mix: Mix::default(), faults: Faults::default(), ..FleetConfig::default() };
//! let mut fleet = Fleet::new(config.clone())?;
//! assert_eq!(fleet.devices().len(), 20);
//! assert!(fleet.devices().iter().any(|d| d.kind() == Kind::LargeFormat && d.site() == Site::Direct));
//!
//! // One day.
//! let mut events = Vec::new();
//! let until = config.start.checked_add(DurationMs(24 * 3_600_000)).unwrap();
//! fleet.advance(until, &mut events);
//! let readings = events.iter().filter(|e| matches!(e.what, EventKind::Reading(_))).count();
//! assert!(readings >= 20);
//! // Every device's first reading is at the start, mapped like a real one.
//! let EventKind::Reading(first) = &events[0].what else { panic!("a reading first") };
//! assert_eq!(first.validate(), Ok(()));
//! // The truth: what each device really did.
//! let truth = fleet.truth(events[0].device);
//! assert_eq!(truth.readings as usize, events.iter().filter(|e| e.device == events[0].device && matches!(e.what, EventKind::Reading(_))).count());
//!
//! // Same seed, same events.
//! let mut again = Fleet::new(config)?;
//! let mut replay = Vec::new();
//! again.advance(until, &mut replay);
//! assert_eq!(events, replay);
//! # Ok::<(), printfleet_sim::ConfigError>(())
//! ```
//!
//! The whole pipeline on a small fleet:
//!
//! ```
//! use printfleet_sim::{FleetConfig, Mix, run_in_memory};
//! let summary = run_in_memory(&FleetConfig { seed: 1, printers: 6, mix: Mix::SDS_STYLE, ..FleetConfig::default() }, 1)?;
//! assert!(summary.not_converged.is_empty());
//! assert_eq!(summary.jobs_lost, 0);
//! let total = summary.total();
//! assert!(total.ours_per_device_day() < total.naive_per_device_day());
//! # Ok::<(), printfleet_sim::RunError>(())
//! ```
//!
//! # Parameters and defaults
//! [`FleetConfig`] (seed 0, 100 printers, [`Mix::default`], start [`DEFAULT_START`],
//! [`Faults::default`], 80 % of office printers and 50 % of large-format printers behind
//! collectors of [`DEFAULT_SITE_SIZE`],
//! collector interval 180 minutes, direct reading every [`DEFAULT_DIRECT_READ_INTERVAL`], no
//! office job records); per-kind volumes in [`Kind`]; fault rates and durations in [`Faults`];
//! alerts at [`JAM_RATE`], [`DOOR_OPEN_RATE`], supplies low at [`LOW_PERCENT`].
//!
//! # Crate features
//! None.

mod config;
mod device;
mod driver;
mod event;
mod fleet;
mod large_format;
pub mod naive;
mod rng;
mod run;
mod snmp;

pub use config::{
    ConfigError, DEFAULT_DIRECT_READ_INTERVAL, DEFAULT_SITE_SIZE, DEFAULT_START, Faults, FleetConfig, Kind,
    MAX_PRINTERS, Mix,
};
pub use device::{DOOR_OPEN_RATE, Device, JAM_RATE, LOW_PERCENT, Site};
pub use driver::{
    Delivery, DeviceOutcome, Outgoing, RunOutcome, SESSION_RENEW_MARGIN, SessionRequest, Transport, run_with,
};
pub use event::{EventKind, Fault, FaultKind, SimEvent, Truth};
pub use fleet::Fleet;
pub use run::{
    DayFigures, GRACE, InMemory, KindSummary, MAX_RUN_DAYS, RunError, STEP, Summary, check_days, run_in_memory,
    run_in_memory_with,
};
