//! The network side of the printfleet command line, as a library: the collector's blocking
//! clients of the portal ([`client`]) and the Data Collector daemon ([`collect`]) that
//! `printfleet collect` runs; and the integrator's tools ([`tools`]) behind `printfleet keygen`,
//! `seal`, `open` and `inspect`.
//!
//! The protocol logic lives in the sans-IO crates (`printfleet-agent`, `printfleet-auth`,
//! `printfleet-wire`); this crate moves their bytes over sockets, reads the clock and stores the
//! collector's state.
//!
//! ```
//! use printfleet_cli::collect::{CollectorConfig, Mode};
//!
//! let config = CollectorConfig::parse(br#"{
//!     "portal": { "mode": "session", "tcp": "127.0.0.1:7443", "ca": "/var/lib/printfleet/ca.pem" },
//!     "state": "/var/lib/printfleet-collector/state.sqlite",
//!     "interval_minutes": 60,
//!     "printers": [ { "name": "printer-7", "target": "192.0.2.7",
//!                     "secret": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "epoch": 1 } ]
//! }"#)?;
//! assert_eq!(config.portal.mode, Mode::Session);
//! let plan = config.check()?; // secrets decoded, targets parsed, the interval checked
//! assert_eq!(plan.printers.len(), 1);
//! // A collector may not report more often than every 30 minutes (refused, not clamped).
//! let eager = CollectorConfig::parse(br#"{
//!     "portal": { "mode": "one-shot", "https": "https://127.0.0.1:8443", "ca": "ca.pem" },
//!     "state": "state.sqlite", "interval_minutes": 10, "printers": []
//! }"#)?;
//! assert!(eager.check().unwrap_err().to_string().contains("30 minutes"));
//! # Ok::<(), printfleet_cli::collect::CollectError>(())
//! ```
//!
//! # Crate features
//! None.

pub mod client;
pub mod collect;
pub mod tools;
