//! The top-level report: identity, snapshot and events.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use crate::limits::{MAX_IP_ADDRESSES, MAX_JOBS, MAX_MEDIA_TYPES, MAX_METERS, MAX_NESTED, MAX_RECORDS, MAX_TEXT_BYTES};
use crate::{
    Accessory, Alert, Capacity, Colour, Consumable, CopyJob, DeviceStatus, Error, Identity, InkCartridge, JobHeader,
    Level, MediaSource, MediaType, Meters, PrintDetails, PrintJob, Printhead, RecordId, ScanJob, Settings, Timestamp,
    Usage,
};

/// Everything one device reports at one time: the record every other printfleet crate carries.
///
/// * [`identity`](Self::identity): who the device is; changes rarely.
/// * [`snapshot`](Self::snapshot): its current state; each report replaces the previous one.
/// * [`events`](Self::events): jobs since the last report; each is reported once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct DeviceReport {
    /// When the agent assembled the report.
    pub generated_at: Timestamp,
    /// Who the device is.
    pub identity: Identity,
    /// Its current state.
    pub snapshot: Snapshot,
    /// What happened since the last report.
    pub events: Events,
}

/// The device's current state. Every list is keyed by record id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Snapshot {
    /// Engine and device status, detected errors.
    pub status: DeviceStatus,
    /// Lifetime meters.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Meters::is_empty"))]
    pub meters: Meters,
    /// Consumables (SDS).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "crate::arbitrary::records(crate::arbitrary::consumable(), |c: &mut Consumable, id| c.record_id = id)"
        )
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::records"))]
    pub consumables: Vec<Consumable>,
    /// Active alerts (SDS).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "crate::arbitrary::records(proptest::arbitrary::any::<Alert>(), |a: &mut Alert, id| a.record_id = id)"
        )
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::records"))]
    pub alerts: Vec<Alert>,
    /// Printheads (Partner Link).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "crate::arbitrary::records(proptest::arbitrary::any::<Printhead>(), |p: &mut Printhead, id| p.record_id = id)"
        )
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::records"))]
    pub printheads: Vec<Printhead>,
    /// Installed ink cartridges (Partner Link).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "crate::arbitrary::records(proptest::arbitrary::any::<InkCartridge>(), |c: &mut InkCartridge, id| c.record_id = id)"
        )
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::records"))]
    pub cartridges: Vec<InkCartridge>,
    /// Media sources: rolls, sheet feeds, trays (Partner Link).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "crate::arbitrary::records(proptest::arbitrary::any::<MediaSource>(), |m: &mut MediaSource, id| m.record_id = id)"
        )
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::records"))]
    pub media_sources: Vec<MediaSource>,
    /// Media types the printer supports, with localised names (Partner Link).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<MediaType>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::media_types"))]
    pub media_types: Vec<MediaType>,
    /// Job category thresholds and print category settings (Partner Link).
    pub settings: Settings,
    /// Installed accessories (Partner Link).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "crate::arbitrary::records(proptest::arbitrary::any::<Accessory>(), |a: &mut Accessory, id| a.record_id = id)"
        )
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::records"))]
    pub accessories: Vec<Accessory>,
    /// Lifetime usage counters (Partner Link); `None` for devices that keep none.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub usage: Option<Usage>,
}

/// Jobs completed since the last report. Each job is reported once; job content never is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Events {
    /// Print jobs.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "crate::arbitrary::jobs(proptest::arbitrary::any::<PrintJob>(), |j: &mut PrintJob| &mut j.job)"
        )
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::jobs"))]
    pub print_jobs: Vec<PrintJob>,
    /// Scan jobs.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "crate::arbitrary::jobs(proptest::arbitrary::any::<ScanJob>(), |j: &mut ScanJob| &mut j.job)"
        )
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::jobs"))]
    pub scan_jobs: Vec<ScanJob>,
    /// Copy jobs.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(
            strategy = "crate::arbitrary::jobs(proptest::arbitrary::any::<CopyJob>(), |j: &mut CopyJob| &mut j.job)"
        )
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::jobs"))]
    pub copy_jobs: Vec<CopyJob>,
}

impl Events {
    /// Whether there is no event.
    pub fn is_empty(&self) -> bool {
        self.print_jobs.is_empty() && self.scan_jobs.is_empty() && self.copy_jobs.is_empty()
    }

    /// Pages printed by the print and copy jobs, saturating.
    pub fn pages(&self) -> crate::PageCount {
        self.print_jobs.iter().map(|j| j.print.pages).chain(self.copy_jobs.iter().map(|j| j.print.pages)).sum()
    }
}

impl DeviceReport {
    /// Checks what the types alone cannot: texts present and within
    /// [`MAX_TEXT_BYTES`], list sizes within [`limits`](crate::limits), record ids and job UUIDs
    /// unique in their lists, consumable levels within capacity, colours in normal form.
    ///
    /// An absent value is `None`, never an empty string, so `Some("")` (an empty serial number,
    /// say) is rejected. Returns the first problem found.
    ///
    /// ```
    /// use printfleet_schema::{Capacity, Consumable, DeviceReport, Error, Level, RecordId};
    /// let mut report = DeviceReport::default();
    /// report.identity.serial_number = Some(String::new());
    /// assert_eq!(report.validate(), Err(Error::EmptyText { field: "identity.serial_number" }));
    ///
    /// report.identity.serial_number = Some("CN12345678".into());
    /// report.snapshot.consumables.push(Consumable {
    ///     record_id: RecordId(1),
    ///     level: Level::Amount(120),
    ///     capacity: Capacity::Amount(100),
    ///     ..Default::default()
    /// });
    /// assert!(matches!(report.validate(), Err(Error::LevelAboveCapacity { level: 120, .. })));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        validate_identity(&self.identity)?;
        validate_snapshot(&self.snapshot)?;
        validate_events(&self.events)
    }
}

impl Identity {
    /// The identity part of [`DeviceReport::validate`].
    pub fn validate(&self) -> Result<(), Error> {
        validate_identity(self)
    }
}

impl Snapshot {
    /// The snapshot part of [`DeviceReport::validate`].
    pub fn validate(&self) -> Result<(), Error> {
        validate_snapshot(self)
    }
}

impl Events {
    /// The events part of [`DeviceReport::validate`].
    pub fn validate(&self) -> Result<(), Error> {
        validate_events(self)
    }

    /// [`Events::validate`]'s rules for `print_jobs`, on print jobs held elsewhere (an
    /// update's job events, say), without gathering them into an `Events`: at most
    /// [`MAX_JOBS`](crate::limits::MAX_JOBS), no UUID twice, every text and nested list valid.
    /// Errors name the fields as `print_jobs`' do.
    ///
    /// ```
    /// use printfleet_schema::{Events, PrintJob, samples};
    ///
    /// // Jobs numbered as an agent's events are.
    /// let held: Vec<(u64, PrintJob)> = (1..).zip(samples::large_format(3).events.print_jobs).collect();
    /// assert_eq!(Events::validate_print_jobs(held.iter().map(|(_, job)| job)), Ok(()));
    /// let twice = [&held[0].1, &held[0].1];
    /// assert!(Events::validate_print_jobs(twice.into_iter()).is_err(), "one job twice");
    /// ```
    pub fn validate_print_jobs<'a>(jobs: impl ExactSizeIterator<Item = &'a PrintJob> + Clone) -> Result<(), Error> {
        validate_print_jobs(jobs)
    }
}

fn text(field: &'static str, value: &str) -> Result<(), Error> {
    // Fast path: most text is printable ASCII that starts with a non-space.
    // (A fold rather than `all`: no early exit, so the loop vectorises.)
    let plain_ascii = value.as_bytes().first().is_some_and(|b| b.is_ascii_graphic())
        && value.bytes().fold(true, |ok, b| ok & matches!(b, 0x20..=0x7e));
    if plain_ascii {
        return if value.len() > MAX_TEXT_BYTES {
            Err(Error::TextTooLong { field, len: value.len(), limit: MAX_TEXT_BYTES })
        } else {
            Ok(())
        };
    }
    if value.trim().is_empty() {
        return Err(Error::EmptyText { field });
    }
    if value.len() > MAX_TEXT_BYTES {
        return Err(Error::TextTooLong { field, len: value.len(), limit: MAX_TEXT_BYTES });
    }
    if !is_xml_text(value) {
        return Err(Error::ControlCharacter { field });
    }
    Ok(())
}

/// Whether every character is allowed in XML 1.0 (`Char` production, XML 1.0 §2.2): no C0
/// control but tab, LF and CR, and neither U+FFFE nor U+FFFF. Surrogates cannot occur in `str`.
pub fn is_xml_text(value: &str) -> bool {
    value.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{fffd}' | '\u{10000}'..))
}

fn opt_text(field: &'static str, value: Option<&String>) -> Result<(), Error> {
    value.map_or(Ok(()), |v| text(field, v))
}

fn count(field: &'static str, count: usize, limit: usize) -> Result<(), Error> {
    if count > limit { Err(Error::TooManyItems { field, count, limit }) } else { Ok(()) }
}

fn colour(field: &'static str, c: &Colour) -> Result<(), Error> {
    if !c.is_normalised() {
        return Err(Error::UnnormalisedColour { field });
    }
    if let Colour::Other(name) = c {
        text(field, name)?;
    }
    Ok(())
}

/// Lists up to this long are checked for duplicates pairwise, without allocating.
const PAIRWISE_UNIQUE: usize = 16;

fn unique_records<'a, T: 'a>(field: &'static str, items: &'a [T], id: impl Fn(&T) -> RecordId) -> Result<(), Error> {
    count(field, items.len(), MAX_RECORDS)?;
    if items.len() <= PAIRWISE_UNIQUE {
        for (i, a) in items.iter().enumerate() {
            let record = id(a);
            if items.iter().skip(i.saturating_add(1)).any(|b| id(b) == record) {
                return Err(Error::DuplicateRecordId { field, record });
            }
        }
        return Ok(());
    }
    let mut seen = BTreeSet::new();
    for item in items {
        let record = id(item);
        if !seen.insert(record) {
            return Err(Error::DuplicateRecordId { field, record });
        }
    }
    Ok(())
}

fn map_texts(field: &'static str, map: &alloc::collections::BTreeMap<String, String>) -> Result<(), Error> {
    count(field, map.len(), MAX_NESTED)?;
    map.iter().try_for_each(|(k, v)| text(field, k).and_then(|()| text(field, v)))
}

fn validate_identity(i: &Identity) -> Result<(), Error> {
    opt_text("identity.make", i.make.as_ref())?;
    opt_text("identity.model", i.model.as_ref())?;
    opt_text("identity.serial_number", i.serial_number.as_ref())?;
    opt_text("identity.product_number", i.product_number.as_ref())?;
    opt_text("identity.product_name", i.product_name.as_ref())?;
    opt_text("identity.firmware_version", i.firmware_version.as_ref())?;
    opt_text("identity.description", i.description.as_ref())?;
    opt_text("identity.object_id", i.object_id.as_ref())?;
    opt_text("identity.hostname", i.hostname.as_ref())?;
    count("identity.ip_addresses", i.ip_addresses.len(), MAX_IP_ADDRESSES)?;
    opt_text("identity.location", i.location.as_ref())?;
    opt_text("identity.zone", i.zone.as_ref())?;
    opt_text("identity.contact", i.contact.as_ref())
}

fn validate_consumable(c: &Consumable) -> Result<(), Error> {
    if let Some(col) = &c.colour {
        colour("snapshot.consumables.colour", col)?;
    }
    opt_text("snapshot.consumables.description", c.description.as_ref())?;
    opt_text("snapshot.consumables.part_number", c.part_number.as_ref())?;
    opt_text("snapshot.consumables.serial_number", c.serial_number.as_ref())?;
    let max = crate::limits::MAX_LEVEL;
    for value in [
        if let Level::Amount(v) = c.level { Some(v) } else { None },
        if let Capacity::Amount(v) = c.capacity { Some(v) } else { None },
    ]
    .into_iter()
    .flatten()
    {
        if value > max {
            return Err(Error::LevelOutOfRange { record: c.record_id, value });
        }
    }
    if let (Level::Amount(level), Capacity::Amount(capacity)) = (c.level, c.capacity)
        && level > capacity
    {
        return Err(Error::LevelAboveCapacity { record: c.record_id, level, capacity });
    }
    Ok(())
}

fn validate_snapshot(s: &Snapshot) -> Result<(), Error> {
    count("snapshot.meters", s.meters.len(), MAX_METERS)?;

    unique_records("snapshot.consumables", &s.consumables, |c| c.record_id)?;
    s.consumables.iter().try_for_each(validate_consumable)?;

    unique_records("snapshot.alerts", &s.alerts, |a| a.record_id)?;
    for a in &s.alerts {
        opt_text("snapshot.alerts.description", a.description.as_ref())?;
        opt_text("snapshot.alerts.vendor_code", a.vendor_code.as_ref())?;
    }

    unique_records("snapshot.printheads", &s.printheads, |p| p.record_id)?;
    for p in &s.printheads {
        count("snapshot.printheads.colours", p.colours.len(), MAX_NESTED)?;
        p.colours.iter().try_for_each(|c| colour("snapshot.printheads.colours", c))?;
        opt_text("snapshot.printheads.product_number", p.product_number.as_ref())?;
        opt_text("snapshot.printheads.product_name", p.product_name.as_ref())?;
        opt_text("snapshot.printheads.serial_number", p.serial_number.as_ref())?;
    }

    unique_records("snapshot.cartridges", &s.cartridges, |c| c.record_id)?;
    for c in &s.cartridges {
        if let Some(col) = &c.colour {
            colour("snapshot.cartridges.colour", col)?;
        }
        opt_text("snapshot.cartridges.product_number", c.product_number.as_ref())?;
        opt_text("snapshot.cartridges.product_name", c.product_name.as_ref())?;
        opt_text("snapshot.cartridges.serial_number", c.serial_number.as_ref())?;
        opt_text("snapshot.cartridges.manufacturer", c.manufacturer.as_ref())?;
    }

    unique_records("snapshot.media_sources", &s.media_sources, |m| m.record_id)?;
    for m in &s.media_sources {
        opt_text("snapshot.media_sources.name", m.name.as_ref())?;
        opt_text("snapshot.media_sources.media_type", m.media_type.as_ref())?;
    }

    validate_media_types(&s.media_types)?;

    count("snapshot.settings.job_category_thresholds", s.settings.job_category_thresholds.len(), MAX_NESTED)?;
    for t in &s.settings.job_category_thresholds {
        text("snapshot.settings.job_category_thresholds.category", &t.category)?;
    }
    count("snapshot.settings.print_categories", s.settings.print_categories.len(), MAX_NESTED)?;
    for c in &s.settings.print_categories {
        text("snapshot.settings.print_categories.category", &c.category)?;
        opt_text("snapshot.settings.print_categories.name", c.name.as_ref())?;
        map_texts("snapshot.settings.print_categories.settings", &c.settings)?;
    }

    unique_records("snapshot.accessories", &s.accessories, |a| a.record_id)?;
    for a in &s.accessories {
        text("snapshot.accessories.name", &a.name)?;
        opt_text("snapshot.accessories.product_number", a.product_number.as_ref())?;
        opt_text("snapshot.accessories.serial_number", a.serial_number.as_ref())?;
        opt_text("snapshot.accessories.firmware_version", a.firmware_version.as_ref())?;
    }

    s.usage.as_ref().map_or(Ok(()), validate_usage)
}

fn validate_media_types(types: &[MediaType]) -> Result<(), Error> {
    count("snapshot.media_types", types.len(), MAX_MEDIA_TYPES)?;
    for m in types {
        text("snapshot.media_types.id", &m.id)?;
        map_texts("snapshot.media_types.names", &m.names)?;
    }
    Ok(())
}

fn validate_usage(u: &Usage) -> Result<(), Error> {
    count("snapshot.usage.cartridge_types", u.cartridge_types.len(), MAX_NESTED)?;
    for c in &u.cartridge_types {
        text("snapshot.usage.cartridge_types.product_number", &c.product_number)?;
    }
    count("snapshot.usage.media_types", u.media_types.len(), MAX_NESTED)?;
    for m in &u.media_types {
        text("snapshot.usage.media_types.media_type", &m.media_type)?;
    }
    count("snapshot.usage.application_categories", u.application_categories.len(), MAX_NESTED)?;
    for a in &u.application_categories {
        text("snapshot.usage.application_categories.category", &a.category)?;
    }
    Ok(())
}

fn validate_header(field: &'static str, h: &JobHeader) -> Result<(), Error> {
    opt_text(field, h.name.as_ref())?;
    let s = &h.submitter;
    [&s.project_id, &s.application_id, &s.user_defined, &s.account_id, &s.user_name]
        .into_iter()
        .try_for_each(|v| opt_text(field, v.as_ref()))
}

fn validate_print(field: &'static str, p: &PrintDetails) -> Result<(), Error> {
    opt_text(field, p.ink_coverage_category.as_ref())?;
    count(field, p.ink.len(), MAX_NESTED)?;
    p.ink.iter().try_for_each(|i| colour(field, &i.colour))?;
    count(field, p.application_categories.len(), MAX_NESTED)?;
    p.application_categories.iter().try_for_each(|c| text(field, &c.category))
}

fn unique_jobs<'a>(
    field: &'static str,
    headers: impl ExactSizeIterator<Item = &'a JobHeader> + Clone,
) -> Result<(), Error> {
    count(field, headers.len(), MAX_JOBS)?;
    // An update's usual one or two jobs are compared pairwise, without a set to allocate.
    let pairwise = headers.len() <= PAIRWISE_UNIQUE;
    let mut seen = BTreeSet::new();
    for (i, h) in headers.clone().enumerate() {
        let duplicate =
            if pairwise { headers.clone().take(i).any(|earlier| earlier.uuid == h.uuid) } else { !seen.insert(h.uuid) };
        if duplicate {
            return Err(Error::DuplicateJob { field, uuid: h.uuid });
        }
        validate_header(field, h)?;
    }
    Ok(())
}

/// [`Events::validate`]'s rules for its print jobs, on print jobs held elsewhere.
fn validate_print_jobs<'a>(jobs: impl ExactSizeIterator<Item = &'a PrintJob> + Clone) -> Result<(), Error> {
    unique_jobs("events.print_jobs", jobs.clone().map(|j| &j.job))?;
    jobs.into_iter().try_for_each(|j| validate_print("events.print_jobs.print", &j.print))
}

fn validate_events(e: &Events) -> Result<(), Error> {
    validate_print_jobs(e.print_jobs.iter())?;
    unique_jobs("events.scan_jobs", e.scan_jobs.iter().map(|j| &j.job))?;
    unique_jobs("events.copy_jobs", e.copy_jobs.iter().map(|j| &j.job))?;
    e.copy_jobs.iter().try_for_each(|j| validate_print("events.copy_jobs.print", &j.print))
}
