//! The network side of printfleet, as a library: the portal server ([`portal`]) in front of the
//! sans-IO `printfleet-ingest` and the `printfleet-store` backends, billing from the store
//! ([`billing`]), the collector's blocking clients of the portal ([`client`]) and the Data
//! Collector daemon ([`collect`]), and the demo that runs a simulated fleet through all of it
//! and checks the result from the store ([`demo`]). The `printfleet` binary's `portal`,
//! `device`, `contract`, `bill`, `collect` and `demo` commands are thin wrappers around it, and
//! the integrator's tools ([`tools`]) behind `printfleet keygen`, `seal`, `open` and `inspect`.
//!
//! What it does not do: parse or seal frames (`printfleet-wire`, `printfleet-auth`), decide what
//! a frame means (`printfleet-ingest`, `printfleet-agent`), or define storage
//! (`printfleet-store`). It moves bytes and time between sockets and those crates, reads the
//! clock and stores the collector's state.
//!
//! A portal on loopback and a device reporting to it over HTTPS:
//!
//! ```
//! use std::sync::Arc;
//! use printfleet_agent::{DeviceAgent, Event, Schedule};
//! use printfleet_auth::one_shot;
//! use printfleet_cli::portal::{Db, DeviceSpec, PortalConfig, RunningPortal, provision};
//! use printfleet_diff::sync::Instance;
//! use printfleet_ingest::{CustomerId, ResellerId};
//! use printfleet_meter::{ContractId, DeviceId};
//! use printfleet_schema::{Redaction, Timestamp, samples};
//! use printfleet_wire::frame::OsRng;
//!
//! // A portal on ports the OS chooses, its database and state directory in a temporary folder.
//! let dir = tempfile::tempdir()?;
//! let db = Db::Sqlite(dir.path().join("portal.db"));
//! let portal = RunningPortal::start(
//!     PortalConfig::new(db.clone(), dir.path().join("state"))
//!         .https_listen("127.0.0.1:0".parse()?)
//!         .tcp_listen("127.0.0.1:0".parse()?),
//! )?;
//!
//! // Provision a device (the running portal picks it up from the store).
//! let spec = DeviceSpec {
//!     name: "printer-7".into(),
//!     reseller: ResellerId(1),
//!     customer: CustomerId(2),
//!     contract: ContractId(3),
//!     meter_device: DeviceId(7),
//!     collector: None,
//! };
//! let device = provision(&dir.path().join("state"), &mut *db.open()?, spec)?;
//!
//! // The device seals a report with its secret ...
//! let key = one_shot::frame_key(&device.secret, "printer-7", device.epoch);
//! let mut agent = DeviceAgent::new(device.sender, &key, Redaction::drop_all(), Schedule::direct(), Instance(1));
//! let now = Timestamp::try_from(std::time::SystemTime::now())?;
//! agent.handle_reading(now, samples::office_laser());
//! let frame = loop {
//!     if agent.needs_save() {
//!         let checkpoint = agent.save();
//!         agent.saved(checkpoint)?;
//!     }
//!     if let Some(t) = agent.poll_transmit(now, &mut OsRng::default()) { break t.frame; }
//! };
//!
//! // ... and POSTs it, trusting the portal's CA and nothing else.
//! let ca = ureq::tls::Certificate::from_pem(portal.ca_pem().as_bytes())?;
//! let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![ca]))).build();
//! let http: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
//! let url = format!("https://localhost:{}/v1/frames", portal.https_addr().port());
//! let reply = http.post(&url).header("Content-Type", "application/octet-stream").send(&frame[..])?.body_mut().read_to_vec()?;
//! agent.handle_frame(now, &reply);
//! assert!(std::iter::from_fn(|| agent.poll_event()).any(|e| matches!(e, Event::Acknowledged { .. })));
//! assert_eq!(portal.counters().frames_accepted, 1);
//! portal.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A collector's configuration, checked before it runs:
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

pub mod billing;
pub mod client;
pub mod collect;
pub mod demo;
pub mod portal;
pub mod tools;
