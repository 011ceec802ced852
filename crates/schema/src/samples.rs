//! Sample reports (feature `samples`): realistic, fixed, valid reports of typical devices, for
//! documentation, examples, golden vectors and benchmarks.
//!
//! The values are invented but shaped like what real devices report; every sample passes
//! [`DeviceReport::validate`](crate::DeviceReport::validate).
//!
//! ```
//! let report = printfleet_schema::samples::office_laser();
//! assert_eq!(report.validate(), Ok(()));
//! assert_eq!(report.identity.make.as_deref(), Some("HP"));
//! ```

// Fixed sample data: the arithmetic below works on small literals and on job numbers that
// `large_format` clamps to `MAX_SAMPLE_JOBS`, so none of it can overflow.
#![allow(clippy::arithmetic_side_effects)]

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use uuid::Uuid;

use crate::codes::*;
use crate::units::*;
use crate::*;

/// 2026-11-02T09:00:00Z, the time every sample is taken at.
pub const SAMPLE_TIME: Timestamp = match Timestamp::from_unix_millis(1_793_610_000_000) {
    Ok(t) => t,
    Err(_) => Timestamp::UNIX_EPOCH,
};

fn at(offset_ms: u64) -> Timestamp {
    SAMPLE_TIME.checked_add(DurationMs(offset_ms)).unwrap_or(SAMPLE_TIME)
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

#[allow(clippy::too_many_arguments)]
fn supply(
    id: u64,
    kind: SupplyType,
    colour: Option<Colour>,
    description: &str,
    part: &str,
    level: Level,
    capacity: u32,
    status: ConsumableStatus,
) -> Consumable {
    Consumable {
        record_id: RecordId(id),
        kind,
        class: SupplyClass::SUPPLY_THAT_IS_CONSUMED,
        colour,
        description: s(description),
        part_number: s(part),
        serial_number: None,
        unit: SupplyUnit::PERCENT,
        level,
        capacity: Capacity::Amount(capacity),
        status,
        page_count: Some(PageCount(48_213)),
        observed_at: Some(SAMPLE_TIME),
    }
}

/// An office colour laser MFP (SDS-style: asset, consumables, alerts; no jobs).
pub fn office_laser() -> DeviceReport {
    let toner = |id, colour: Colour, part: &str, level| {
        supply(
            id,
            SupplyType::TONER_CARTRIDGE,
            Some(colour.clone()),
            &alloc::format!("{} Cartridge HP {part}", colour_title(&colour)),
            part,
            Level::Amount(level),
            100,
            if level < 10 { ConsumableStatus::LOW } else { ConsumableStatus::OK },
        )
    };
    let mut waste = supply(
        5,
        SupplyType::WASTE_TONER,
        None,
        "Toner Collection Unit",
        "B5L37A",
        Level::SomeRemaining,
        100,
        ConsumableStatus::OK,
    );
    waste.class = SupplyClass::RECEPTACLE_THAT_IS_FILLED;
    DeviceReport {
        generated_at: SAMPLE_TIME,
        identity: Identity {
            record_id: RecordId(0x5d5_0001),
            make: s("HP"),
            model: s("Color LaserJet Pro MFP M479fdw"),
            serial_number: s("CNBRM9K0QX"),
            product_number: s("W1A80A"),
            product_name: s("HP Color LaserJet Pro MFP M479fdw"),
            firmware_version: s("002.2409A"),
            description: s("HP Color LaserJet Pro MFP M479fdw, 002.2409A, JetDirect"),
            object_id: s("1.3.6.1.4.1.11.2.3.9.1"),
            mac_address: Some(MacAddress::new([0x3c, 0x52, 0x82, 0x1a, 0x2b, 0x3c])),
            hostname: s("NPI1A2B3C"),
            ip_addresses: vec![
                IpAddr::V4(Ipv4Addr::new(10, 20, 30, 41)),
                IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0x3e52, 0x82ff, 0xfe1a, 0x2b3c)),
            ],
            location: s("Building A, floor 2, copy room"),
            zone: s("EMEA-MAD-A2"),
            contact: s("facilities@example.com"),
        },
        snapshot: Snapshot {
            status: DeviceStatus {
                engine: EngineStatus::READY,
                device: DeviceState::WARNING,
                printer: PrinterState::IDLE,
                errors: DetectedErrors::LOW_TONER,
            },
            meters: [
                (MeterKind::TOTAL, 48_213),
                (MeterKind::MONO, 30_877),
                (MeterKind::COLOUR, 17_336),
                (MeterKind::DUPLEX_SHEETS, 9_120),
                (MeterKind::SCANS, 6_402),
                (MeterKind::COPIES, 3_118),
                (MeterKind::FAX, 212),
            ]
            .into_iter()
            .collect(),
            consumables: vec![
                toner(1, Colour::Black, "W2030X", 63),
                toner(2, Colour::Cyan, "W2031X", 8),
                toner(3, Colour::Magenta, "W2033X", 41),
                toner(4, Colour::Yellow, "W2032X", 57),
                waste,
            ],
            alerts: vec![Alert {
                record_id: RecordId(17),
                description: s("Cyan cartridge low"),
                code: AlertCode::MARKER_TONER_ALMOST_EMPTY,
                vendor_code: s("10.0001"),
                group: AlertGroup::MARKER_SUPPLIES,
                group_index: Some(2),
                location: None,
                severity: AlertSeverity::WARNING,
                training_level: TrainingLevel::UNTRAINED,
                page_count: Some(PageCount(48_101)),
                raised_at: Some(SAMPLE_TIME),
            }],
            media_sources: vec![
                MediaSource {
                    record_id: RecordId(1),
                    kind: InputType::SHEET_FEED_MANUAL,
                    name: s("Tray 1"),
                    status: MediaSourceStatus::UNLOADED,
                    ..Default::default()
                },
                MediaSource {
                    record_id: RecordId(2),
                    kind: InputType::SHEET_FEED_AUTO_REMOVABLE_TRAY,
                    name: s("Tray 2"),
                    status: MediaSourceStatus::LOADED,
                    media_type: s("plain"),
                    width: Some(LengthUm(210_000)),
                    height: Some(LengthUm(297_000)),
                },
            ],
            ..Default::default()
        },
        events: Events::default(),
    }
}

fn colour_title(c: &Colour) -> &'static str {
    match c {
        Colour::Black => "Black",
        Colour::Cyan => "Cyan",
        Colour::Magenta => "Magenta",
        Colour::Yellow => "Yellow",
        _ => "Colour",
    }
}

/// A home-office inkjet with four ink cartridges and a handful of print and scan jobs.
pub fn inkjet() -> DeviceReport {
    let ink = |id, colour: Colour, level| {
        let mut c = supply(
            id,
            SupplyType::INK_CARTRIDGE,
            Some(colour),
            "HP 963XL",
            "3JA30AE",
            Level::Amount(level),
            100,
            ConsumableStatus::OK,
        );
        c.serial_number = s(&alloc::format!("CN96300{id}"));
        c
    };
    let mut report = DeviceReport {
        generated_at: SAMPLE_TIME,
        identity: Identity {
            record_id: RecordId(0x1e7_0002),
            make: s("HP"),
            model: s("OfficeJet Pro 9010"),
            serial_number: s("TH9AB1C2D3"),
            firmware_version: s("2406A"),
            mac_address: Some(MacAddress::new([0x10, 0xe7, 0xc6, 0x00, 0x11, 0x22])),
            hostname: s("HP10E7C6001122"),
            ip_addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 17))],
            ..Default::default()
        },
        snapshot: Snapshot {
            status: DeviceStatus {
                engine: EngineStatus::SLEEP,
                device: DeviceState::RUNNING,
                printer: PrinterState::IDLE,
                errors: DetectedErrors::NONE,
            },
            meters: [
                (MeterKind::TOTAL, 3_812),
                (MeterKind::COLOUR, 1_204),
                (MeterKind::MONO, 2_608),
                (MeterKind::SCANS, 355),
            ]
            .into_iter()
            .collect(),
            consumables: vec![
                ink(1, Colour::Black, 71),
                ink(2, Colour::Cyan, 35),
                ink(3, Colour::Magenta, 28),
                ink(4, Colour::Yellow, 90),
            ],
            ..Default::default()
        },
        events: Events::default(),
    };
    for n in 0..5u64 {
        report.events.print_jobs.push(PrintJob {
            job: JobHeader {
                name: s(&alloc::format!("invoice-{n}.pdf")),
                uuid: Uuid::from_u128(0x1e7_0000_0000_0000_0000_0000_0000_0000 + u128::from(n)),
                sequence: 900 + n,
                submitter: Submitter { user_name: s("jdoe"), submitted_at: Some(at(n * 60_000)), ..Default::default() },
            },
            print: PrintDetails {
                printed_at: Some(at(n * 60_000 + 20_000)),
                status: JobStatus::PRINTED,
                source: JobSource::DRIVER,
                quality: PrintQuality::NORMAL,
                pages: PageCount(1 + n),
                copies: 1,
                print_time: DurationMs(14_000 + n * 3_000),
                ink: vec![InkUse { colour: Colour::Black, volume: InkNl(52_000 * (1 + n)) }],
                media_area: AreaMm2(62_370 * (1 + n)),
                printed_area: AreaMm2(20_000 * (1 + n)),
                non_white_coverage: BasisPoints::new(650).ok(),
                colour_coverage: Some(BasisPoints::ZERO),
                ..Default::default()
            },
        });
    }
    report.events.scan_jobs.push(ScanJob {
        job: JobHeader { uuid: Uuid::from_u128(0x1e7_5ca0), sequence: 905, ..Default::default() },
        scan: ScanDetails { scanned_at: Some(at(400_000)), status: JobStatus::SCANNED, scanned_area: AreaMm2(62_370) },
    });
    report
}

/// Most jobs [`large_format`] generates (ten times [`MAX_JOBS`](crate::limits::MAX_JOBS), for
/// tests of the limit).
pub const MAX_SAMPLE_JOBS: usize = 10 * limits::MAX_JOBS;

/// A large-format printer (Partner Link-style: every appendix A record) with `jobs` jobs (at most
/// [`MAX_SAMPLE_JOBS`]), every tenth of them a copy job, the rest print jobs.
pub fn large_format(jobs: usize) -> DeviceReport {
    let colours = [Colour::Cyan, Colour::Magenta, Colour::Yellow, Colour::MatteBlack, Colour::PhotoBlack, Colour::Grey];
    let mut report = DeviceReport {
        generated_at: SAMPLE_TIME,
        identity: Identity {
            record_id: RecordId(0xd51_0003),
            make: s("HP"),
            model: s("DesignJet T1700dr"),
            serial_number: s("SG83K4Q00B"),
            product_number: s("1VD88A"),
            product_name: s("HP DesignJet T1700dr 44-in Printer"),
            firmware_version: s("ALPINEPR00_02.20.1"),
            mac_address: Some(MacAddress::new([0x70, 0x5a, 0x0f, 0x44, 0x55, 0x66])),
            hostname: s("dj-t1700-studio"),
            ip_addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 1, 8, 25))],
            location: s("Studio, plotter room"),
            ..Default::default()
        },
        snapshot: Snapshot {
            status: DeviceStatus {
                engine: EngineStatus::PRINTING,
                device: DeviceState::RUNNING,
                printer: PrinterState::PRINTING,
                errors: DetectedErrors::NONE,
            },
            meters: [
                (MeterKind::TOTAL, 12_730),
                (MeterKind::Vendor(VendorMeter::new_unchecked("hp.printhead-cleanings")), 88),
            ]
            .into_iter()
            .collect(),
            printheads: vec![
                Printhead {
                    record_id: RecordId(1),
                    colours: vec![Colour::Cyan, Colour::Magenta, Colour::Yellow],
                    status: PrintheadStatus::OK,
                    health: BasisPoints::new(9_150).ok(),
                    product_number: s("3ED58A"),
                    product_name: s("HP 730 DesignJet Printhead"),
                    serial_number: s("PH73000111"),
                    third_party_ink_used: false,
                    expires_at: Some(at(400 * 86_400_000)),
                },
                Printhead {
                    record_id: RecordId(2),
                    colours: vec![Colour::MatteBlack, Colour::PhotoBlack, Colour::Grey],
                    status: PrintheadStatus::REPLACE_SOON,
                    health: BasisPoints::new(1_800).ok(),
                    product_number: s("3ED58A"),
                    product_name: s("HP 730 DesignJet Printhead"),
                    serial_number: s("PH73000222"),
                    third_party_ink_used: true,
                    expires_at: Some(at(200 * 86_400_000)),
                },
            ],
            cartridges: colours
                .iter()
                .zip(1u64..)
                .map(|(c, id)| InkCartridge {
                    record_id: RecordId(id),
                    colour: Some(c.clone()),
                    status: if id == 4 { CartridgeStatus::LOW } else { CartridgeStatus::OK },
                    product_number: s("P2V71A"),
                    product_name: s("HP 730 300-ml DesignJet Ink Cartridge"),
                    serial_number: s(&alloc::format!("CT730{id:05}")),
                    manufacturer: s("HP"),
                    capacity: InkNl::from_ml(300),
                    ink_consumed: Some(InkNl(120_500_000 + id * 7_250_000)),
                    third_party_ink_consumed: Some(InkNl::ZERO),
                    expires_at: Some(at(500 * 86_400_000)),
                })
                .collect(),
            media_sources: vec![
                MediaSource {
                    record_id: RecordId(1),
                    kind: InputType::CONTINUOUS_ROLL,
                    name: s("Roll 1"),
                    status: MediaSourceStatus::LOADED,
                    media_type: s("bond"),
                    width: LengthUm::from_inches_ten_thousandths(440_000),
                    height: LengthUm::from_mm(41_500),
                },
                MediaSource {
                    record_id: RecordId(2),
                    kind: InputType::CONTINUOUS_ROLL,
                    name: s("Roll 2"),
                    status: MediaSourceStatus::LOADED,
                    media_type: s("coated"),
                    width: LengthUm::from_inches_ten_thousandths(360_000),
                    height: LengthUm::from_mm(12_250),
                },
                MediaSource {
                    record_id: RecordId(3),
                    kind: InputType::SHEET_FEED_MANUAL,
                    name: s("Sheet"),
                    status: MediaSourceStatus::UNLOADED,
                    ..Default::default()
                },
            ],
            media_types: [
                ("bond", "Bond and Coated Paper > Plain Paper", "Papel normal"),
                ("coated", "Bond and Coated Paper > Coated Paper", "Papel recubierto"),
                ("photo-gloss", "Photo Paper > Photo Gloss Paper", "Papel fotográfico satinado"),
            ]
            .into_iter()
            .map(|(id, en, es)| MediaType {
                id: id.into(),
                names: [("en".to_string(), en.to_string()), ("es".to_string(), es.to_string())].into_iter().collect(),
            })
            .collect(),
            settings: Settings {
                job_category_thresholds: vec![
                    JobCategoryThreshold {
                        category: "low".into(),
                        max_coverage: BasisPoints::new(1_000).unwrap_or(BasisPoints::ZERO),
                    },
                    JobCategoryThreshold {
                        category: "medium".into(),
                        max_coverage: BasisPoints::new(4_000).unwrap_or(BasisPoints::ZERO),
                    },
                    JobCategoryThreshold { category: "high".into(), max_coverage: BasisPoints::FULL },
                ],
                print_categories: vec![
                    PrintCategory {
                        category: "cad".into(),
                        name: s("CAD drawings"),
                        enabled: true,
                        settings: [("ink_saving".to_string(), "off".to_string())].into_iter().collect(),
                    },
                    PrintCategory {
                        category: "poster".into(),
                        name: s("Posters"),
                        enabled: true,
                        ..Default::default()
                    },
                ],
            },
            accessories: vec![
                Accessory {
                    record_id: RecordId(1),
                    name: "Stacker".into(),
                    status: AccessoryStatus::OK,
                    product_number: s("B3Q36A"),
                    ..Default::default()
                },
                Accessory {
                    record_id: RecordId(2),
                    name: "Take-up reel".into(),
                    status: AccessoryStatus::NOT_INSTALLED,
                    ..Default::default()
                },
            ],
            usage: Some(Usage {
                cartridge_types: vec![CartridgeTypeUsage {
                    product_number: "P2V71A".into(),
                    ink_total: InkNl(5_400_000_000),
                    ink_third_party: InkNl::ZERO,
                    ink_oem: InkNl(5_400_000_000),
                    insertions: 19,
                }],
                // No length per media type (a printfleet extension, `MediaTypeUsage::length`):
                // the golden vectors of this sample and of `every_field` predate it and stay
                // byte-identical; the simulator's large-format printers report it.
                media_types: vec![
                    MediaTypeUsage { media_type: "bond".into(), area: AreaMm2(2_315_000_000), length: None },
                    MediaTypeUsage { media_type: "coated".into(), area: AreaMm2(418_500_000), length: None },
                ],
                scanned_area_total: AreaMm2(96_000_000),
                scanned_area_scans: AreaMm2(71_000_000),
                scanned_area_copies: AreaMm2(25_000_000),
                application_categories: vec![
                    ApplicationCategoryUsage {
                        category: "cad".into(),
                        media_area: AreaMm2(2_100_000_000),
                        media_length: LengthUm(2_296_000_000),
                    },
                    ApplicationCategoryUsage {
                        category: "poster".into(),
                        media_area: AreaMm2(633_500_000),
                        media_length: LengthUm(692_800_000),
                    },
                ],
                jobs: 4_127,
                pages: PageCount(12_730),
                ink_total: InkNl(5_400_000_000),
                media_total: AreaMm2(2_733_500_000),
            }),
            ..Default::default()
        },
        events: Events::default(),
    };
    let jobs_u64 = u64::try_from(jobs.min(MAX_SAMPLE_JOBS)).unwrap_or(0);
    for n in 0..jobs_u64 {
        let header = JobHeader {
            name: s(&alloc::format!("A1-floorplan-rev{n:03}.dwg")),
            uuid: Uuid::from_u128(0xd51_0000_0000_4000_8000_0000_0000_0000 + u128::from(n)),
            sequence: 4_000 + n,
            submitter: Submitter {
                project_id: s("tower-b"),
                application_id: s("autocad-2026"),
                user_defined: None,
                account_id: s(&alloc::format!("acct-{}", n % 7)),
                user_name: s(&alloc::format!("drafter{}", n % 5)),
                submitted_at: Some(at(n * 90_000)),
            },
        };
        let w = 914_400u64; // 36 in, µm
        let len = 594_000 + (n % 4) * 100_000; // µm
        let media = AreaMm2(w * len / 1_000_000);
        let print = PrintDetails {
            printed_at: Some(at(n * 90_000 + 45_000)),
            status: if n % 25 == 24 { JobStatus::CANCELLED } else { JobStatus::PRINTED },
            source: JobSource::DRIVER,
            ink_coverage_category: s(["low", "medium", "high"]
                .get(usize::try_from(n % 3).unwrap_or(0))
                .copied()
                .unwrap_or("low")),
            quality: PrintQuality::NORMAL,
            pages: PageCount(1),
            copies: 1 + u32::try_from(n % 3).unwrap_or(0),
            print_time: DurationMs(38_000 + n % 10 * 1_000),
            ink: colours
                .iter()
                .zip(1u64..)
                .map(|(c, k)| InkUse { colour: c.clone(), volume: InkNl(15_000 * k + n % 13 * 1_000) })
                .collect(),
            media_area: media,
            printed_area: AreaMm2(media.0 * 3 / 5),
            application_categories: vec![JobCategoryUsage {
                category: "cad".into(),
                media_area: media,
                printed_area: AreaMm2(media.0 * 3 / 5),
                ink: InkNl(420_000),
                media_length: LengthUm(len),
            }],
            non_white_coverage: BasisPoints::new(u16::try_from(1_200 + n % 50 * 10).unwrap_or(0)).ok(),
            colour_coverage: BasisPoints::new(u16::try_from(300 + n % 20 * 10).unwrap_or(0)).ok(),
        };
        if n % 10 == 9 {
            report.events.copy_jobs.push(CopyJob {
                job: JobHeader { name: None, ..header },
                scan: ScanDetails {
                    scanned_at: Some(at(n * 90_000 + 10_000)),
                    status: JobStatus::SCANNED,
                    scanned_area: media,
                },
                print,
            });
        } else {
            report.events.print_jobs.push(PrintJob { job: header, print });
        }
    }
    report
}

/// A report in which every optional field is present and every list has an entry, with
/// awkward values: text needing escapes in every encoding, colours and codes this version does
/// not know, vendor and unknown meters, IPv6, the extreme timestamps and integers.
pub fn every_field() -> DeviceReport {
    let mut r = large_format(10);
    r.generated_at = Timestamp::MAX;
    let i = &mut r.identity;
    i.description = s("DesignJet <T1700dr> & \"friends\" 'quoted'\ttab\r\nnew line, ünïcødé ✓ 𝄞");
    i.object_id = s("1.3.6.1.4.1.11.2.3.9.1");
    i.zone = s("EMEA-MAD-A2");
    i.contact = s("plotter-admin@example.com");
    i.ip_addresses.push(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x25)));
    let snap = &mut r.snapshot;
    snap.status.errors = DetectedErrors::from_bits(0xffff);
    snap.status.engine = EngineStatus::from_code(4_000_000_000);
    snap.meters.set(MeterKind::MONO, 1);
    snap.meters.set(MeterKind::Standard(MeterCode::from_code(99)), 5);
    snap.consumables = vec![
        Consumable {
            record_id: RecordId(1),
            kind: SupplyType::INK_CARTRIDGE,
            class: SupplyClass::SUPPLY_THAT_IS_CONSUMED,
            colour: Some(Colour::Other("chromatic red".into())),
            description: s("HP 730 Chromatic Red"),
            part_number: s("P2V72A"),
            serial_number: s("CT73000099"),
            unit: SupplyUnit::TENTHS_OF_MILLILITERS,
            level: Level::Amount(1_234),
            capacity: Capacity::Amount(3_000),
            status: ConsumableStatus::OK,
            page_count: Some(PageCount(12_730)),
            observed_at: Some(Timestamp::UNIX_EPOCH),
        },
        Consumable {
            record_id: RecordId(u64::MAX),
            kind: SupplyType::from_code(70_000),
            class: SupplyClass::RECEPTACLE_THAT_IS_FILLED,
            colour: None,
            description: s("Waste ink"),
            part_number: None,
            serial_number: None,
            unit: SupplyUnit::from_code(12_345),
            level: Level::SomeRemaining,
            capacity: Capacity::Unrestricted,
            status: ConsumableStatus::from_code(77),
            page_count: None,
            observed_at: None,
        },
    ];
    snap.alerts = vec![Alert {
        record_id: RecordId(3),
        description: s("Printhead 2 \"replace soon\""),
        code: AlertCode::SUBUNIT_LIFE_ALMOST_OVER,
        vendor_code: s("86:01"),
        group: AlertGroup::MARKER,
        group_index: Some(2),
        location: Some(0),
        severity: AlertSeverity::CRITICAL,
        training_level: TrainingLevel::FIELD_SERVICE,
        page_count: Some(PageCount(12_700)),
        raised_at: Some(SAMPLE_TIME),
    }];
    if let Some(c) = snap.cartridges.first_mut() {
        c.colour = Some(Colour::Other("neon <green>".into()));
    }
    if let Some(m) = snap.media_sources.get_mut(2) {
        *m = MediaSource {
            record_id: RecordId(3),
            kind: InputType::from_code(64),
            name: s("Sheet & cut"),
            status: MediaSourceStatus::ERROR,
            media_type: s("photo-gloss"),
            width: Some(LengthUm(0)),
            height: Some(LengthUm(u64::MAX)),
        };
    }
    if let Some(a) = snap.accessories.get_mut(1) {
        *a = Accessory {
            record_id: RecordId(2),
            name: "Take-up reel".into(),
            status: AccessoryStatus::OK,
            product_number: s("CQ109A"),
            serial_number: s("TUR0001"),
            firmware_version: s("1.0.3"),
        };
    }
    if let Some(c) = snap.settings.print_categories.get_mut(1) {
        c.name = s("Posters & banners");
    }
    let e = &mut r.events;
    if let Some(j) = e.print_jobs.first_mut() {
        j.job.name = s("floor \"plan\" <A1> & notes");
        j.job.submitter.user_defined = s("floor 3");
        j.print.printed_at = Some(Timestamp::MAX);
    }
    e.scan_jobs.push(ScanJob {
        job: JobHeader {
            name: s("site-survey.tif"),
            uuid: Uuid::from_u128(u128::MAX),
            sequence: u64::MAX,
            submitter: Submitter {
                project_id: s("tower-b"),
                application_id: s("hp-click"),
                user_defined: s("scan & archive"),
                account_id: s("acct-9"),
                user_name: s("surveyor"),
                submitted_at: Some(Timestamp::UNIX_EPOCH),
            },
        },
        scan: ScanDetails {
            scanned_at: Some(SAMPLE_TIME),
            status: JobStatus::SCANNED,
            scanned_area: AreaMm2(914_400 * 1_200),
        },
    });
    if let Some(copy) = e.copy_jobs.first_mut() {
        copy.job.name = s("copy of A0 sheet");
    }
    r
}

/// Every sample, by name: `("office_laser", ..)`, `("inkjet", ..)`, `("large_format", ..)` (with
/// 200 jobs) and `("every_field", ..)`.
pub fn all() -> Vec<(&'static str, DeviceReport)> {
    vec![
        ("office_laser", office_laser()),
        ("inkjet", inkjet()),
        ("large_format", large_format(200)),
        ("every_field", every_field()),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_sample_is_valid() {
        for (name, report) in super::all() {
            assert_eq!(report.validate(), Ok(()), "{name}");
        }
        let big = super::large_format(crate::limits::MAX_JOBS);
        assert_eq!(big.validate(), Ok(()));
        assert!(
            super::large_format(crate::limits::MAX_JOBS * 10 / 9 + 10).validate().is_err(),
            "more print jobs than the limit"
        );
    }
}
