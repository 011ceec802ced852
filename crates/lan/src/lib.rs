//! Discovery and polling of printers on a LAN: the I/O adapter over `printfleet_sources`.
//!
//! All network I/O of printfleet lives here; the mapping of what a printer says stays in
//! `printfleet_sources`, which does none.
//!
//! * [`target`]: configured targets — single IPv4 addresses, CIDR ranges, `a.b.c.d-e.f.g.h`
//!   ranges, exclusions — expanded under a cap ([`target::MAX_TARGET_ADDRESSES`]);
//! * [`discover`](mod@discover): asks each address over SNMP (sysObjectID, hrDeviceType,
//!   Printer-MIB rows) and keeps only printers;
//! * [`identity`]: a device is its serial number and MAC address, never its address; an
//!   [`identity::Inventory`] records a printer that moves as the same device;
//! * [`poll`]: reads printers over SNMP v2c or v3 (USM authPriv: HMAC-SHA-2 and AES-CFB), IPP
//!   Get-Printer-Attributes over HTTP(S), HP LEDM documents over HTTP(S) and HP CDM documents
//!   over HTTPS (GET only: CDM takes unauthenticated writes too), maps them, and
//!   counts every failure by kind ([`error::FailureKind`]: timeout, refused, not a printer,
//!   malformed, ...);
//! * [`config`]: credentials, timeouts, retries, concurrency, and the JSON config file.
//!
//! Every request has a timeout and a bounded number of retries; at most
//! [`config::PollConfig::concurrency`] printers are asked at once (one scoped thread each:
//! the `snmp2` session and `ureq` are blocking clients, and a bounded pool of threads needs no
//! async runtime); every response is read with a byte cap; one printer's failure is that
//! printer's outcome and never stops a round.
//!
//! This crate does not schedule rounds, store results or send them anywhere.
//!
//! ```
//! use printfleet_lan::config::PollConfig;
//! use printfleet_lan::error::FailureKind;
//! use printfleet_lan::poll::{PollTarget, poll_round};
//!
//! // Nothing listens on 127.0.0.1:9 over UDP: the kernel refuses at once, and the round
//! // goes on to count it.
//! let config = PollConfig::default();
//! let target = PollTarget::parse("127.0.0.1:9", 161)?;
//! let round = poll_round(&[target], &config);
//! assert_eq!(round.tally.count(FailureKind::Refused), 1);
//! # Ok::<(), printfleet_lan::poll::PollTargetError>(())
//! ```
//!
//! # Security
//! SNMPv2c communities travel in clear text: use v3 authPriv wherever the printers offer it.
//! Secrets are wiped on drop in this crate ([`config::Secret`]); `snmp2` keeps its own copy of
//! the v3 passphrases and localised keys for the session's life without wiping them. HTTPS
//! certificates are verified unless [`config::PollConfig::tls_verify`] is turned off.
//!
//! # Crate features
//! * `sim`: [`sim::SimAgent`], a simulated SNMP v2c agent on a loopback socket serving a
//!   capture, for tests and benchmarks.

pub mod config;
pub mod discover;
pub mod error;
mod http;
pub mod identity;
pub mod poll;
mod pool;
#[cfg(feature = "sim")]
pub mod sim;
mod snmp;
pub mod target;

pub use config::{PollConfig, SnmpCredentials};
pub use discover::{DiscoveryRound, discover};
pub use error::{Failure, FailureKind, Tally};
pub use identity::{DeviceKey, Inventory, Sighting};
pub use poll::{PollRound, PollTarget, poll_round};
pub use target::{TargetError, Targets};
