//! Conversion of the schema types into the generated protobuf messages, for encoding. It cannot
//! fail; the reverse direction is `decode`, which reads the wire format directly.

use std::net::IpAddr;

use printfleet_schema::{
    Accessory, Alert, Colour, Consumable, DeviceReport, DeviceStatus, Events, Identity, InkCartridge, JobHeader,
    MacAddress, MediaSource, MeterKind, PrintDetails, Printhead, ScanDetails, Settings, Snapshot, Timestamp, Usage,
};

use crate::pb;

pub(super) fn colour_to_pb(c: &Colour) -> pb::Colour {
    match c.code() {
        0 => pb::Colour { code: 0, name: c.name().to_owned() },
        code => pb::Colour { code, name: String::new() },
    }
}

fn mac_to_pb(mac: Option<MacAddress>) -> Vec<u8> {
    mac.map(|m| m.octets().to_vec()).unwrap_or_default()
}

fn ip_to_pb(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
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

pub(super) fn status_to_pb(s: &DeviceStatus) -> pb::DeviceStatus {
    pb::DeviceStatus {
        engine: s.engine.code(),
        device: s.device.code(),
        printer: s.printer.code(),
        errors: u32::from(s.errors.bits()),
    }
}

pub(super) fn meter_to_pb(kind: &MeterKind, value: u64) -> pb::Meter {
    match kind {
        MeterKind::Standard(code) => pb::Meter { kind: code.code(), vendor: String::new(), value },
        MeterKind::Vendor(name) => pb::Meter { kind: 0, vendor: name.as_str().to_owned(), value },
    }
}

pub(super) fn consumable_to_pb(c: &Consumable) -> pb::Consumable {
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

pub(super) fn alert_to_pb(a: &Alert) -> pb::Alert {
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

pub(super) fn printhead_to_pb(p: &Printhead) -> pb::Printhead {
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

pub(super) fn cartridge_to_pb(c: &InkCartridge) -> pb::InkCartridge {
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

pub(super) fn media_source_to_pb(m: &MediaSource) -> pb::MediaSource {
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

pub(super) fn settings_to_pb(s: &Settings) -> pb::Settings {
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

pub(super) fn accessory_to_pb(a: &Accessory) -> pb::Accessory {
    pb::Accessory {
        record_id: a.record_id.0,
        name: a.name.clone(),
        status: a.status.code(),
        product_number: a.product_number.clone(),
        serial_number: a.serial_number.clone(),
        firmware_version: a.firmware_version.clone(),
    }
}

pub(super) fn usage_to_pb(u: &Usage) -> pb::Usage {
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
            .map(|m| pb::MediaTypeUsage {
                media_type: m.media_type.clone(),
                area: m.area.0,
                length: m.length.map(|v| v.0),
            })
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

pub(super) fn header_to_pb(h: &JobHeader) -> pb::JobHeader {
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

pub(super) fn print_to_pb(p: &PrintDetails) -> pb::PrintDetails {
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
