//! The network side of printfleet: the portal server ([`portal`]), in front of the sans-IO
//! `printfleet-ingest` and the `printfleet-store` backends. The `printfleet` binary's
//! `portal` and `device` commands are thin wrappers around it.
//!
//! What it does not do: parse or seal frames (`printfleet-wire`, `printfleet-auth`), decide what
//! a frame means (`printfleet-ingest`), or store anything itself (`printfleet-store`). It moves
//! bytes and time between sockets and those crates.
//!
//! ```no_run
//! # // `no_run` here; the same steps run as the `lib_example` integration test.
//! use printfleet_cli::portal::{Db, DeviceSpec, PortalConfig, RunningPortal, provision};
//! use printfleet_ingest::{CustomerId, ResellerId};
//! use printfleet_meter::{ContractId, DeviceId};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::Sqlite(dir.path().join("portal.db"));
//! let portal = RunningPortal::start(
//!     PortalConfig::new(db.clone(), dir.path())
//!         .https_listen("127.0.0.1:0".parse()?)
//!         .tcp_listen("127.0.0.1:0".parse()?),
//! )?;
//! // Provision a device (the running portal picks it up from the store).
//! let spec = DeviceSpec {
//!     name: "printer-7".into(),
//!     reseller: ResellerId(1),
//!     customer: CustomerId(2),
//!     contract: ContractId(3),
//!     meter_device: DeviceId(7),
//! };
//! let device = provision(dir.path(), &mut *db.open()?, spec)?;
//! // The device seals frames under `printfleet_auth::one_shot::frame_key(&device.secret, ..)`
//! // and POSTs them to https://{portal.https_addr()}/v1/frames, trusting `portal.ca_pem()`.
//! assert!(portal.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! portal.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crate features
//! None.

pub mod portal;
