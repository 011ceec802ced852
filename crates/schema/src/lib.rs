//! The typed model of printer-fleet telemetry: every record that HP Smart Device Services (SDS)
//! and the HP Partner Link Pay-per-use Portal collect, so that an integrator never has to invent
//! a field.
//!
//! One [`DeviceReport`] carries a device's [`Identity`] (SDS asset data, Partner Link printer
//! configuration), a [`Snapshot`] of its current state (status, meters, consumables, alerts,
//! printheads, cartridges, media, settings, accessories, usage counters) and its [`Events`]
//! (print, scan and copy jobs). `docs/schema.md` maps every item of the two white papers to its
//! Rust path.
//!
//! This crate is the model only: no I/O, no clock, no encoding beyond serde. The wire formats
//! live in `printfleet-wire`, the mapping from SNMP, IPP and LEDM in `printfleet-sources`.
//!
//! ```
//! use printfleet_schema::codes::{ConsumableStatus, SupplyClass, SupplyType, SupplyUnit};
//! use printfleet_schema::units::{PageCount, Timestamp};
//! use printfleet_schema::{Capacity, Colour, Consumable, DeviceReport, Level, MeterKind, RecordId};
//!
//! let mut report = DeviceReport::default();
//! report.generated_at = Timestamp::from_unix_millis(1_793_610_000_000)?;
//! report.identity.make = Some("HP".into());
//! report.identity.serial_number = Some("CNBRM9K0QX".into());
//! report.snapshot.meters.set(MeterKind::TOTAL, 48_213);
//! report.snapshot.consumables.push(Consumable {
//!     record_id: RecordId(1),
//!     kind: SupplyType::TONER_CARTRIDGE,
//!     class: SupplyClass::SUPPLY_THAT_IS_CONSUMED,
//!     colour: Some(Colour::parse("Cyan")),
//!     unit: SupplyUnit::IMPRESSIONS,
//!     level: Level::Amount(1_200),
//!     capacity: Capacity::Amount(6_000),
//!     status: ConsumableStatus::OK,
//!     page_count: Some(PageCount(48_213)),
//!     ..Default::default()
//! });
//!
//! report.validate()?;
//! assert_eq!(report.snapshot.consumables[0].percent_remaining(), Some(20));
//! assert_eq!(report.snapshot.meters.get(&MeterKind::TOTAL), Some(48_213));
//! # Ok::<(), printfleet_schema::Error>(())
//! ```
//!
//! # Design
//! * **Exact numbers.** Quantities are integers in one unit each, behind newtypes
//!   ([`units`]): mm², µm, nL, ms, impressions, basis points, UTC milliseconds. No floats.
//! * **Nothing lost.** Enumerations that devices or MIBs extend are open code spaces
//!   ([`codes`]) that keep unknown values; Printer-MIB special levels (-1, -2, -3) are states
//!   ([`Level`], [`Capacity`]), not magic numbers.
//! * **Bounded.** Every list and text has a named limit ([`limits`]); [`DeviceReport::validate`]
//!   enforces them with a typed [`Error`].
//! * **Privacy.** No field holds document content. Personal fields (job names, user names,
//!   account ids, ...) are listed in [`redact::PersonalField`] and a [`redact::Redaction`]
//!   keeps, drops or pseudonymises them before a report leaves the site; what it produces is a
//!   [`redact::Redacted`] value, which is what senders take.
//! * **Firmware-ready.** `#![no_std]`; `BTreeMap`, never `HashMap`.
//!
//! # Crate features
//! * `std` (default): implies `alloc`; `TryFrom<SystemTime>` for [`Timestamp`].
//! * `alloc` (default, through `std`): the records, validation and redaction. Without it only
//!   the units, identifiers, code spaces and [`DetectedErrors`] remain (for the smallest
//!   firmware).
//! * `serde` (default): `Serialize`/`Deserialize` with a stable JSON shape: snake_case fields,
//!   enumerations as names, unknown codes as numbers (`docs/schema.md`).
//! * `proptest`: `Arbitrary` for every type, and the strategies in `arbitrary`.
//! * `samples`: realistic sample reports in `samples`.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod codes;
mod error;
pub mod ids;
pub mod limits;
mod status;
pub mod units;

#[cfg(feature = "alloc")]
mod alert;
#[cfg(feature = "proptest")]
pub mod arbitrary;
#[cfg(all(feature = "alloc", feature = "serde"))]
mod bounded;
#[cfg(feature = "alloc")]
mod colour;
#[cfg(feature = "alloc")]
mod consumable;
#[cfg(feature = "alloc")]
mod hardware;
#[cfg(feature = "alloc")]
mod identity;
#[cfg(feature = "alloc")]
mod jobs;
#[cfg(feature = "alloc")]
mod meters;
#[cfg(feature = "alloc")]
pub mod redact;
#[cfg(feature = "alloc")]
mod report;
#[cfg(feature = "samples")]
pub mod samples;
#[cfg(feature = "alloc")]
mod settings;
#[cfg(feature = "alloc")]
mod usage;

pub use error::Error;
pub use ids::{MacAddress, RecordId};
pub use status::{DetectedErrors, DeviceStatus};
pub use units::{AreaMm2, BasisPoints, DurationMs, InkNl, LengthUm, PageCount, Timestamp};

#[cfg(feature = "alloc")]
pub use alert::Alert;
#[cfg(feature = "alloc")]
pub use colour::Colour;
#[cfg(feature = "alloc")]
pub use consumable::{Capacity, Consumable, Level};
#[cfg(feature = "alloc")]
pub use hardware::{Accessory, InkCartridge, MediaSource, MediaType, Printhead};
#[cfg(feature = "alloc")]
pub use identity::Identity;
#[cfg(feature = "alloc")]
pub use jobs::{CopyJob, InkUse, JobCategoryUsage, JobHeader, PrintDetails, PrintJob, ScanDetails, ScanJob, Submitter};
#[cfg(feature = "alloc")]
pub use meters::{MeterKind, Meters, VendorMeter};
#[cfg(feature = "alloc")]
pub use redact::{Redact, Redacted, Redaction};
#[cfg(feature = "alloc")]
pub use report::{DeviceReport, Events, Snapshot, is_xml_text};
#[cfg(feature = "alloc")]
pub use settings::{JobCategoryThreshold, PrintCategory, Settings};
#[cfg(feature = "alloc")]
pub use usage::{ApplicationCategoryUsage, CartridgeTypeUsage, MediaTypeUsage, Usage};
