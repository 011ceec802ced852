//! Named limits on everything a report can hold.
//!
//! [`DeviceReport::validate`](crate::DeviceReport::validate) enforces them, and every decoder in
//! printfleet checks them before it allocates, so that a report from an untrusted peer is bounded
//! in memory. Each is generous for a real device and small enough that a worst-case report stays
//! in the low megabytes.

/// Longest text field, in bytes of UTF-8. Printer descriptions and job names are far shorter;
/// 1 KiB leaves room for verbose vendor strings.
pub const MAX_TEXT_BYTES: usize = 1024;

/// Most records in one snapshot list (consumables, alerts, printheads, cartridges, media sources,
/// accessories). The largest production printers have a few dozen supplies.
pub const MAX_RECORDS: usize = 256;

/// Most media types a printer may list. Large-format printers ship a few hundred presets.
pub const MAX_MEDIA_TYPES: usize = 1024;

/// Most meter readings.
pub const MAX_METERS: usize = 256;

/// Most IP addresses of one device.
pub const MAX_IP_ADDRESSES: usize = 16;

/// Most jobs of each kind in one report. Direct connection reports every 19 jobs; this leaves
/// room for a backlog after a long outage (an agent splits a larger backlog over reports).
pub const MAX_JOBS: usize = 1024;

/// Most entries in a small nested list or map: colours of a printhead, ink colours or categories
/// of a job, usage per cartridge type or media type, localised names, category settings.
pub const MAX_NESTED: usize = 64;

/// Highest consumable level or capacity: the Printer-MIB's Integer32 maximum.
pub const MAX_LEVEL: u32 = 2_147_483_647;
