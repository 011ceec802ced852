//! Lossless conversion between the schema types and the generated protobuf messages.
//!
//! Schema → protobuf cannot fail. Protobuf → schema checks what the wire types cannot express
//! (lengths of bytes fields, ranges of timestamps and basis points, the exactly-one-of rules of
//! `Colour` and `Meter`) and moves strings instead of copying them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use printfleet_schema::codes::{
    AccessoryStatus, AlertCode, AlertGroup, AlertSeverity, CartridgeStatus, ConsumableStatus, DeviceState,
    EngineStatus, InputType, JobSource, JobStatus, MediaSourceStatus, MeterCode, PrintQuality, PrinterState,
    PrintheadStatus, SupplyClass, SupplyType, SupplyUnit, TrainingLevel,
};
use printfleet_schema::{
    Accessory, Alert, ApplicationCategoryUsage, AreaMm2, BasisPoints, Capacity, CartridgeTypeUsage, Colour, Consumable,
    CopyJob, DetectedErrors, DeviceReport, DeviceStatus, DurationMs, Events, Identity, InkCartridge, InkNl, InkUse,
    JobCategoryThreshold, JobCategoryUsage, JobHeader, LengthUm, Level, MacAddress, MediaSource, MediaType,
    MediaTypeUsage, MeterKind, Meters, PageCount, PrintCategory, PrintDetails, PrintJob, Printhead, RecordId,
    ScanDetails, ScanJob, Settings, Snapshot, Submitter, Timestamp, Usage, VendorMeter,
};
use uuid::Uuid;

use crate::error::ProtobufError;
use crate::pb;

type Result<T> = core::result::Result<T, ProtobufError>;

// ---------------------------------------------------------------------------------------------
// Leaves

fn ts(field: &'static str, ms: u64) -> Result<Timestamp> {
    Timestamp::from_unix_millis(ms).map_err(|_| ProtobufError::OutOfRange { field, value: i128::from(ms) })
}

fn opt_ts(field: &'static str, ms: Option<u64>) -> Result<Option<Timestamp>> {
    ms.map(|ms| ts(field, ms)).transpose()
}

fn bp(field: &'static str, v: u32) -> Result<BasisPoints> {
    u16::try_from(v)
        .ok()
        .and_then(|v| BasisPoints::new(v).ok())
        .ok_or(ProtobufError::OutOfRange { field, value: i128::from(v) })
}

fn opt_bp(field: &'static str, v: Option<u32>) -> Result<Option<BasisPoints>> {
    v.map(|v| bp(field, v)).transpose()
}

fn colour_to_pb(c: &Colour) -> pb::Colour {
    match c.code() {
        0 => pb::Colour { code: 0, name: c.name().to_owned() },
        code => pb::Colour { code, name: String::new() },
    }
}

fn colour_from_pb(field: &'static str, c: pb::Colour) -> Result<Colour> {
    match (c.code, c.name.is_empty()) {
        (0, false) => Ok(Colour::parse(&c.name)),
        (code, true) if code != 0 => Colour::from_code(code).ok_or(ProtobufError::BadValue { field }),
        _ => Err(ProtobufError::Missing { field }),
    }
}

fn mac_to_pb(mac: Option<MacAddress>) -> Vec<u8> {
    mac.map(|m| m.octets().to_vec()).unwrap_or_default()
}

fn mac_from_pb(bytes: &[u8]) -> Result<Option<MacAddress>> {
    match bytes.len() {
        0 => Ok(None),
        _ => <[u8; 6]>::try_from(bytes).map(|o| Some(MacAddress::new(o))).map_err(|_| ProtobufError::BadLength {
            field: "Identity.mac_address",
            len: bytes.len(),
            expected: "0 or 6",
        }),
    }
}

fn ip_to_pb(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn ip_from_pb(bytes: &[u8]) -> Result<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    <[u8; 16]>::try_from(bytes).map(|v6| IpAddr::V6(Ipv6Addr::from(v6))).map_err(|_| ProtobufError::BadLength {
        field: "Identity.ip_addresses",
        len: bytes.len(),
        expected: "4 or 16",
    })
}

fn level_from_pb(v: i64) -> Result<Level> {
    Level::from_mib(v).ok_or(ProtobufError::OutOfRange { field: "Consumable.level", value: i128::from(v) })
}

fn capacity_from_pb(v: i64) -> Result<Capacity> {
    Capacity::from_mib(v).ok_or(ProtobufError::OutOfRange { field: "Consumable.capacity", value: i128::from(v) })
}

fn map_list<T, U>(items: Vec<T>, f: impl FnMut(T) -> Result<U>) -> Result<Vec<U>> {
    items.into_iter().map(f).collect()
}

// ---------------------------------------------------------------------------------------------
// Schema -> protobuf

impl From<&DeviceReport> for pb::DeviceReport {
    fn from(r: &DeviceReport) -> Self {
        Self {
            generated_at: r.generated_at.unix_millis(),
            identity: Some((&r.identity).into()),
            snapshot: Some((&r.snapshot).into()),
            events: Some((&r.events).into()),
        }
    }
}

impl From<&Identity> for pb::Identity {
    fn from(i: &Identity) -> Self {
        Self {
            record_id: i.record_id.0,
            make: i.make.clone(),
            model: i.model.clone(),
            serial_number: i.serial_number.clone(),
            product_number: i.product_number.clone(),
            product_name: i.product_name.clone(),
            firmware_version: i.firmware_version.clone(),
            description: i.description.clone(),
            object_id: i.object_id.clone(),
            mac_address: mac_to_pb(i.mac_address),
            hostname: i.hostname.clone(),
            ip_addresses: i.ip_addresses.iter().map(ip_to_pb).collect(),
            location: i.location.clone(),
            zone: i.zone.clone(),
            contact: i.contact.clone(),
        }
    }
}

impl From<&Snapshot> for pb::Snapshot {
    fn from(s: &Snapshot) -> Self {
        Self {
            status: Some(status_to_pb(&s.status)),
            meters: s.meters.0.iter().map(|(k, v)| meter_to_pb(k, *v)).collect(),
            consumables: s.consumables.iter().map(consumable_to_pb).collect(),
            alerts: s.alerts.iter().map(alert_to_pb).collect(),
            printheads: s.printheads.iter().map(printhead_to_pb).collect(),
            cartridges: s.cartridges.iter().map(cartridge_to_pb).collect(),
            media_sources: s.media_sources.iter().map(media_source_to_pb).collect(),
            media_types: s
                .media_types
                .iter()
                .map(|m| pb::MediaType { id: m.id.clone(), names: m.names.clone() })
                .collect(),
            settings: Some(settings_to_pb(&s.settings)),
            accessories: s.accessories.iter().map(accessory_to_pb).collect(),
            usage: s.usage.as_ref().map(usage_to_pb),
        }
    }
}

fn status_to_pb(s: &DeviceStatus) -> pb::DeviceStatus {
    pb::DeviceStatus {
        engine: s.engine.code(),
        device: s.device.code(),
        printer: s.printer.code(),
        errors: u32::from(s.errors.bits()),
    }
}

fn meter_to_pb(kind: &MeterKind, value: u64) -> pb::Meter {
    match kind {
        MeterKind::Standard(code) => pb::Meter { kind: code.code(), vendor: String::new(), value },
        MeterKind::Vendor(name) => pb::Meter { kind: 0, vendor: name.as_str().to_owned(), value },
    }
}

fn consumable_to_pb(c: &Consumable) -> pb::Consumable {
    pb::Consumable {
        record_id: c.record_id.0,
        kind: c.kind.code(),
        class: c.class.code(),
        colour: c.colour.as_ref().map(colour_to_pb),
        description: c.description.clone(),
        part_number: c.part_number.clone(),
        serial_number: c.serial_number.clone(),
        unit: c.unit.code(),
        level: c.level.to_mib(),
        capacity: c.capacity.to_mib(),
        status: c.status.code(),
        page_count: c.page_count.map(|p| p.0),
        observed_at: c.observed_at.map(Timestamp::unix_millis),
    }
}

fn alert_to_pb(a: &Alert) -> pb::Alert {
    pb::Alert {
        record_id: a.record_id.0,
        description: a.description.clone(),
        code: a.code.code(),
        vendor_code: a.vendor_code.clone(),
        group: a.group.code(),
        group_index: a.group_index,
        location: a.location,
        severity: a.severity.code(),
        training_level: a.training_level.code(),
        page_count: a.page_count.map(|p| p.0),
        raised_at: a.raised_at.map(Timestamp::unix_millis),
    }
}

fn printhead_to_pb(p: &Printhead) -> pb::Printhead {
    pb::Printhead {
        record_id: p.record_id.0,
        colours: p.colours.iter().map(colour_to_pb).collect(),
        status: p.status.code(),
        health: p.health.map(|h| u32::from(h.get())),
        product_number: p.product_number.clone(),
        product_name: p.product_name.clone(),
        serial_number: p.serial_number.clone(),
        third_party_ink_used: p.third_party_ink_used,
        expires_at: p.expires_at.map(Timestamp::unix_millis),
    }
}

fn cartridge_to_pb(c: &InkCartridge) -> pb::InkCartridge {
    pb::InkCartridge {
        record_id: c.record_id.0,
        colour: c.colour.as_ref().map(colour_to_pb),
        status: c.status.code(),
        product_number: c.product_number.clone(),
        product_name: c.product_name.clone(),
        serial_number: c.serial_number.clone(),
        manufacturer: c.manufacturer.clone(),
        capacity: c.capacity.map(|v| v.0),
        ink_consumed: c.ink_consumed.map(|v| v.0),
        third_party_ink_consumed: c.third_party_ink_consumed.map(|v| v.0),
        expires_at: c.expires_at.map(Timestamp::unix_millis),
    }
}

fn media_source_to_pb(m: &MediaSource) -> pb::MediaSource {
    pb::MediaSource {
        record_id: m.record_id.0,
        kind: m.kind.code(),
        name: m.name.clone(),
        status: m.status.code(),
        media_type: m.media_type.clone(),
        width: m.width.map(|v| v.0),
        height: m.height.map(|v| v.0),
    }
}

fn settings_to_pb(s: &Settings) -> pb::Settings {
    pb::Settings {
        job_category_thresholds: s
            .job_category_thresholds
            .iter()
            .map(|t| pb::JobCategoryThreshold {
                category: t.category.clone(),
                max_coverage: u32::from(t.max_coverage.get()),
            })
            .collect(),
        print_categories: s
            .print_categories
            .iter()
            .map(|c| pb::PrintCategory {
                category: c.category.clone(),
                name: c.name.clone(),
                enabled: c.enabled,
                settings: c.settings.clone(),
            })
            .collect(),
    }
}

fn accessory_to_pb(a: &Accessory) -> pb::Accessory {
    pb::Accessory {
        record_id: a.record_id.0,
        name: a.name.clone(),
        status: a.status.code(),
        product_number: a.product_number.clone(),
        serial_number: a.serial_number.clone(),
        firmware_version: a.firmware_version.clone(),
    }
}

fn usage_to_pb(u: &Usage) -> pb::Usage {
    pb::Usage {
        cartridge_types: u
            .cartridge_types
            .iter()
            .map(|c| pb::CartridgeTypeUsage {
                product_number: c.product_number.clone(),
                ink_total: c.ink_total.0,
                ink_third_party: c.ink_third_party.0,
                ink_oem: c.ink_oem.0,
                insertions: c.insertions,
            })
            .collect(),
        media_types: u
            .media_types
            .iter()
            .map(|m| pb::MediaTypeUsage { media_type: m.media_type.clone(), area: m.area.0 })
            .collect(),
        scanned_area_total: u.scanned_area_total.0,
        scanned_area_scans: u.scanned_area_scans.0,
        scanned_area_copies: u.scanned_area_copies.0,
        application_categories: u
            .application_categories
            .iter()
            .map(|a| pb::ApplicationCategoryUsage {
                category: a.category.clone(),
                media_area: a.media_area.0,
                media_length: a.media_length.0,
            })
            .collect(),
        jobs: u.jobs,
        pages: u.pages.0,
        ink_total: u.ink_total.0,
        media_total: u.media_total.0,
    }
}

impl From<&Events> for pb::Events {
    fn from(e: &Events) -> Self {
        Self {
            print_jobs: e
                .print_jobs
                .iter()
                .map(|j| pb::PrintJob { job: Some(header_to_pb(&j.job)), print: Some(print_to_pb(&j.print)) })
                .collect(),
            scan_jobs: e
                .scan_jobs
                .iter()
                .map(|j| pb::ScanJob { job: Some(header_to_pb(&j.job)), scan: Some(scan_to_pb(&j.scan)) })
                .collect(),
            copy_jobs: e
                .copy_jobs
                .iter()
                .map(|j| pb::CopyJob {
                    job: Some(header_to_pb(&j.job)),
                    scan: Some(scan_to_pb(&j.scan)),
                    print: Some(print_to_pb(&j.print)),
                })
                .collect(),
        }
    }
}

fn header_to_pb(h: &JobHeader) -> pb::JobHeader {
    let s = &h.submitter;
    pb::JobHeader {
        name: h.name.clone(),
        uuid: h.uuid.as_bytes().to_vec(),
        sequence: h.sequence,
        submitter: Some(pb::Submitter {
            project_id: s.project_id.clone(),
            application_id: s.application_id.clone(),
            user_defined: s.user_defined.clone(),
            account_id: s.account_id.clone(),
            user_name: s.user_name.clone(),
            submitted_at: s.submitted_at.map(Timestamp::unix_millis),
        }),
    }
}

fn print_to_pb(p: &PrintDetails) -> pb::PrintDetails {
    pb::PrintDetails {
        printed_at: p.printed_at.map(Timestamp::unix_millis),
        status: p.status.code(),
        source: p.source.code(),
        ink_coverage_category: p.ink_coverage_category.clone(),
        quality: p.quality.code(),
        pages: p.pages.0,
        copies: p.copies,
        print_time: p.print_time.0,
        ink: p.ink.iter().map(|i| pb::InkUse { colour: Some(colour_to_pb(&i.colour)), volume: i.volume.0 }).collect(),
        media_area: p.media_area.0,
        printed_area: p.printed_area.0,
        application_categories: p
            .application_categories
            .iter()
            .map(|c| pb::JobCategoryUsage {
                category: c.category.clone(),
                media_area: c.media_area.0,
                printed_area: c.printed_area.0,
                ink: c.ink.0,
                media_length: c.media_length.0,
            })
            .collect(),
        non_white_coverage: p.non_white_coverage.map(|c| u32::from(c.get())),
        colour_coverage: p.colour_coverage.map(|c| u32::from(c.get())),
    }
}

fn scan_to_pb(s: &ScanDetails) -> pb::ScanDetails {
    pb::ScanDetails {
        scanned_at: s.scanned_at.map(Timestamp::unix_millis),
        status: s.status.code(),
        scanned_area: s.scanned_area.0,
    }
}

// ---------------------------------------------------------------------------------------------
// Protobuf -> schema

impl TryFrom<pb::DeviceReport> for DeviceReport {
    type Error = ProtobufError;
    fn try_from(r: pb::DeviceReport) -> Result<Self> {
        Ok(Self {
            generated_at: ts("DeviceReport.generated_at", r.generated_at)?,
            identity: identity_from_pb(r.identity.unwrap_or_default())?,
            snapshot: snapshot_from_pb(r.snapshot.unwrap_or_default())?,
            events: events_from_pb(r.events.unwrap_or_default())?,
        })
    }
}

fn identity_from_pb(i: pb::Identity) -> Result<Identity> {
    Ok(Identity {
        record_id: RecordId(i.record_id),
        make: i.make,
        model: i.model,
        serial_number: i.serial_number,
        product_number: i.product_number,
        product_name: i.product_name,
        firmware_version: i.firmware_version,
        description: i.description,
        object_id: i.object_id,
        mac_address: mac_from_pb(&i.mac_address)?,
        hostname: i.hostname,
        ip_addresses: i.ip_addresses.iter().map(|ip| ip_from_pb(ip)).collect::<Result<_>>()?,
        location: i.location,
        zone: i.zone,
        contact: i.contact,
    })
}

fn snapshot_from_pb(s: pb::Snapshot) -> Result<Snapshot> {
    let status = s.status.unwrap_or_default();
    let mut meters = Meters::default();
    for m in s.meters {
        let kind = if m.vendor.is_empty() {
            MeterKind::Standard(MeterCode::from_code(m.kind))
        } else if m.kind == 0 {
            MeterKind::Vendor(
                VendorMeter::new(&m.vendor).map_err(|_| ProtobufError::BadValue { field: "Meter.vendor" })?,
            )
        } else {
            return Err(ProtobufError::Missing { field: "Meter.kind" });
        };
        if meters.set(kind, m.value).is_some() {
            return Err(ProtobufError::BadValue { field: "Snapshot.meters" });
        }
    }
    let settings = s.settings.unwrap_or_default();
    Ok(Snapshot {
        status: DeviceStatus {
            engine: EngineStatus::from_code(status.engine),
            device: DeviceState::from_code(status.device),
            printer: PrinterState::from_code(status.printer),
            errors: DetectedErrors::from_bits(u16::try_from(status.errors).map_err(|_| ProtobufError::OutOfRange {
                field: "DeviceStatus.errors",
                value: i128::from(status.errors),
            })?),
        },
        meters,
        consumables: map_list(s.consumables, consumable_from_pb)?,
        alerts: map_list(s.alerts, |a| {
            Ok(Alert {
                record_id: RecordId(a.record_id),
                description: a.description,
                code: AlertCode::from_code(a.code),
                vendor_code: a.vendor_code,
                group: AlertGroup::from_code(a.group),
                group_index: a.group_index,
                location: a.location,
                severity: AlertSeverity::from_code(a.severity),
                training_level: TrainingLevel::from_code(a.training_level),
                page_count: a.page_count.map(PageCount),
                raised_at: opt_ts("Alert.raised_at", a.raised_at)?,
            })
        })?,
        printheads: map_list(s.printheads, |p| {
            Ok(Printhead {
                record_id: RecordId(p.record_id),
                colours: map_list(p.colours, |c| colour_from_pb("Printhead.colours", c))?,
                status: PrintheadStatus::from_code(p.status),
                health: opt_bp("Printhead.health", p.health)?,
                product_number: p.product_number,
                product_name: p.product_name,
                serial_number: p.serial_number,
                third_party_ink_used: p.third_party_ink_used,
                expires_at: opt_ts("Printhead.expires_at", p.expires_at)?,
            })
        })?,
        cartridges: map_list(s.cartridges, |c| {
            Ok(InkCartridge {
                record_id: RecordId(c.record_id),
                colour: c.colour.map(|c| colour_from_pb("InkCartridge.colour", c)).transpose()?,
                status: CartridgeStatus::from_code(c.status),
                product_number: c.product_number,
                product_name: c.product_name,
                serial_number: c.serial_number,
                manufacturer: c.manufacturer,
                capacity: c.capacity.map(InkNl),
                ink_consumed: c.ink_consumed.map(InkNl),
                third_party_ink_consumed: c.third_party_ink_consumed.map(InkNl),
                expires_at: opt_ts("InkCartridge.expires_at", c.expires_at)?,
            })
        })?,
        media_sources: map_list(s.media_sources, |m| {
            Ok(MediaSource {
                record_id: RecordId(m.record_id),
                kind: InputType::from_code(m.kind),
                name: m.name,
                status: MediaSourceStatus::from_code(m.status),
                media_type: m.media_type,
                width: m.width.map(LengthUm),
                height: m.height.map(LengthUm),
            })
        })?,
        media_types: s.media_types.into_iter().map(|m| MediaType { id: m.id, names: m.names }).collect(),
        settings: Settings {
            job_category_thresholds: map_list(settings.job_category_thresholds, |t| {
                Ok(JobCategoryThreshold {
                    category: t.category,
                    max_coverage: bp("JobCategoryThreshold.max_coverage", t.max_coverage)?,
                })
            })?,
            print_categories: settings
                .print_categories
                .into_iter()
                .map(|c| PrintCategory { category: c.category, name: c.name, enabled: c.enabled, settings: c.settings })
                .collect(),
        },
        accessories: s
            .accessories
            .into_iter()
            .map(|a| Accessory {
                record_id: RecordId(a.record_id),
                name: a.name,
                status: AccessoryStatus::from_code(a.status),
                product_number: a.product_number,
                serial_number: a.serial_number,
                firmware_version: a.firmware_version,
            })
            .collect(),
        usage: s.usage.map(usage_from_pb),
    })
}

fn consumable_from_pb(c: pb::Consumable) -> Result<Consumable> {
    Ok(Consumable {
        record_id: RecordId(c.record_id),
        kind: SupplyType::from_code(c.kind),
        class: SupplyClass::from_code(c.class),
        colour: c.colour.map(|c| colour_from_pb("Consumable.colour", c)).transpose()?,
        description: c.description,
        part_number: c.part_number,
        serial_number: c.serial_number,
        unit: SupplyUnit::from_code(c.unit),
        level: level_from_pb(c.level)?,
        capacity: capacity_from_pb(c.capacity)?,
        status: ConsumableStatus::from_code(c.status),
        page_count: c.page_count.map(PageCount),
        observed_at: opt_ts("Consumable.observed_at", c.observed_at)?,
    })
}

fn usage_from_pb(u: pb::Usage) -> Usage {
    Usage {
        cartridge_types: u
            .cartridge_types
            .into_iter()
            .map(|c| CartridgeTypeUsage {
                product_number: c.product_number,
                ink_total: InkNl(c.ink_total),
                ink_third_party: InkNl(c.ink_third_party),
                ink_oem: InkNl(c.ink_oem),
                insertions: c.insertions,
            })
            .collect(),
        media_types: u
            .media_types
            .into_iter()
            .map(|m| MediaTypeUsage { media_type: m.media_type, area: AreaMm2(m.area) })
            .collect(),
        scanned_area_total: AreaMm2(u.scanned_area_total),
        scanned_area_scans: AreaMm2(u.scanned_area_scans),
        scanned_area_copies: AreaMm2(u.scanned_area_copies),
        application_categories: u
            .application_categories
            .into_iter()
            .map(|a| ApplicationCategoryUsage {
                category: a.category,
                media_area: AreaMm2(a.media_area),
                media_length: LengthUm(a.media_length),
            })
            .collect(),
        jobs: u.jobs,
        pages: PageCount(u.pages),
        ink_total: InkNl(u.ink_total),
        media_total: AreaMm2(u.media_total),
    }
}

fn events_from_pb(e: pb::Events) -> Result<Events> {
    Ok(Events {
        print_jobs: map_list(e.print_jobs, |j| {
            Ok(PrintJob { job: header_from_pb(j.job)?, print: print_from_pb(j.print.unwrap_or_default())? })
        })?,
        scan_jobs: map_list(e.scan_jobs, |j| {
            Ok(ScanJob { job: header_from_pb(j.job)?, scan: scan_from_pb(j.scan.unwrap_or_default())? })
        })?,
        copy_jobs: map_list(e.copy_jobs, |j| {
            Ok(CopyJob {
                job: header_from_pb(j.job)?,
                scan: scan_from_pb(j.scan.unwrap_or_default())?,
                print: print_from_pb(j.print.unwrap_or_default())?,
            })
        })?,
    })
}

fn header_from_pb(h: Option<pb::JobHeader>) -> Result<JobHeader> {
    let h = h.ok_or(ProtobufError::Missing { field: "JobHeader" })?;
    let uuid = Uuid::from_slice(&h.uuid).map_err(|_| ProtobufError::BadLength {
        field: "JobHeader.uuid",
        len: h.uuid.len(),
        expected: "16",
    })?;
    let s = h.submitter.unwrap_or_default();
    Ok(JobHeader {
        name: h.name,
        uuid,
        sequence: h.sequence,
        submitter: Submitter {
            project_id: s.project_id,
            application_id: s.application_id,
            user_defined: s.user_defined,
            account_id: s.account_id,
            user_name: s.user_name,
            submitted_at: opt_ts("Submitter.submitted_at", s.submitted_at)?,
        },
    })
}

fn print_from_pb(p: pb::PrintDetails) -> Result<PrintDetails> {
    Ok(PrintDetails {
        printed_at: opt_ts("PrintDetails.printed_at", p.printed_at)?,
        status: JobStatus::from_code(p.status),
        source: JobSource::from_code(p.source),
        ink_coverage_category: p.ink_coverage_category,
        quality: PrintQuality::from_code(p.quality),
        pages: PageCount(p.pages),
        copies: p.copies,
        print_time: DurationMs(p.print_time),
        ink: map_list(p.ink, |i| {
            let colour = i.colour.ok_or(ProtobufError::Missing { field: "InkUse.colour" })?;
            Ok(InkUse { colour: colour_from_pb("InkUse.colour", colour)?, volume: InkNl(i.volume) })
        })?,
        media_area: AreaMm2(p.media_area),
        printed_area: AreaMm2(p.printed_area),
        application_categories: p
            .application_categories
            .into_iter()
            .map(|c| JobCategoryUsage {
                category: c.category,
                media_area: AreaMm2(c.media_area),
                printed_area: AreaMm2(c.printed_area),
                ink: InkNl(c.ink),
                media_length: LengthUm(c.media_length),
            })
            .collect(),
        non_white_coverage: opt_bp("PrintDetails.non_white_coverage", p.non_white_coverage)?,
        colour_coverage: opt_bp("PrintDetails.colour_coverage", p.colour_coverage)?,
    })
}

fn scan_from_pb(s: pb::ScanDetails) -> Result<ScanDetails> {
    Ok(ScanDetails {
        scanned_at: opt_ts("ScanDetails.scanned_at", s.scanned_at)?,
        status: JobStatus::from_code(s.status),
        scanned_area: AreaMm2(s.scanned_area),
    })
}
