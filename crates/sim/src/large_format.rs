//! The large-format kind: built directly (Partner Link's Appendix A data has no SNMP form),
//! starting from `printfleet_schema::samples::large_format(0)` (a DesignJet-class printer:
//! two rolls, six 300 ml ink cartridges, two printheads, application categories "cad" and
//! "poster") and kept up to date job by job: ink per colour in nanolitres, media area and length
//! per media type (the length a printfleet extension of the usage record), roll length used, application category usage, cartridge and printhead wear and
//! replacement (new serial), rolls replaced when nearly used up.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use printfleet_schema::codes::{CartridgeStatus, JobSource, JobStatus, PrintQuality, PrintheadStatus};
use printfleet_schema::samples;
use printfleet_schema::{
    Alert, AreaMm2, BasisPoints, DeviceReport, DurationMs, InkNl, InkUse, JobCategoryUsage, JobHeader, LengthUm,
    MeterKind, PageCount, PrintDetails, PrintJob, Submitter, Timestamp, Usage,
};
use uuid::Uuid;

use crate::rng::SimRng;

/// A fresh roll: 45.7 m (150 ft), in micrometres.
const ROLL_UM: u64 = 45_700_000;
/// A roll with less than this left is replaced.
const ROLL_SPARE_UM: u64 = 3_000_000;
/// Printhead health lost per millilitre of ink through it, in basis points.
const HEAD_WEAR_BP_PER_ML: u64 = 2;
/// A cartridge with at most this percentage left raises a low alert (then replaced when empty).
const CARTRIDGE_LOW_PERCENT: u64 = 10;

/// A large-format printer's state.
#[derive(Clone, Debug)]
pub(crate) struct LargeFormat {
    report: DeviceReport,
    /// Per cartridge: nanolitres consumed since it was put in.
    consumed: Vec<u64>,
    serials: Vec<u32>,
    head_used_nl: Vec<u64>,
}

/// One finished job.
pub(crate) struct Done {
    pub(crate) job: PrintJob,
    pub(crate) length_um: u64,
    pub(crate) media_type: String,
    pub(crate) low_cartridge: Option<usize>,
    pub(crate) replacements: u64,
}

impl LargeFormat {
    pub(crate) fn new(name: &str, serial: &str, ip: Ipv4Addr, rng: &mut SimRng) -> Self {
        let mut report = samples::large_format(0);
        report.identity.serial_number = Some(serial.to_owned());
        report.identity.hostname = Some(name.to_owned());
        report.identity.ip_addresses = vec![IpAddr::V4(ip)];
        report.identity.mac_address = None;
        report.identity.location = Some("plotter room".into());
        report.snapshot.meters = Default::default();
        let consumed: Vec<u64> = report
            .snapshot
            .cartridges
            .iter()
            .map(|c| c.capacity.map_or(0, |v| v.0).saturating_mul(rng.below(80)) / 100)
            .collect();
        let serials = vec![1; consumed.len()];
        let head_used_nl = vec![0; report.snapshot.printheads.len()];
        for (i, m) in report.snapshot.media_sources.iter_mut().enumerate() {
            if i < 2 {
                m.height = Some(LengthUm(ROLL_UM.saturating_mul(rng.between(20, 100)) / 100));
            }
        }
        let mut lf = Self { report, consumed, serials, head_used_nl };
        lf.reset_usage();
        lf.refresh();
        lf
    }

    pub(crate) fn set_ip(&mut self, ip: Ipv4Addr) {
        self.report.identity.ip_addresses = vec![IpAddr::V4(ip)];
    }

    /// A new board: the lifetime usage counters start again.
    pub(crate) fn reset_usage(&mut self) {
        if let Some(u) = &mut self.report.snapshot.usage {
            *u = Usage {
                cartridge_types: u
                    .cartridge_types
                    .iter()
                    .cloned()
                    .map(|mut c| {
                        c.ink_total = InkNl::ZERO;
                        c.ink_oem = InkNl::ZERO;
                        c.ink_third_party = InkNl::ZERO;
                        c.insertions = 0;
                        c
                    })
                    .collect(),
                media_types: u
                    .media_types
                    .iter()
                    .cloned()
                    .map(|mut m| {
                        m.area = AreaMm2(0);
                        // Roll media: the printer counts length per media type too.
                        m.length = Some(LengthUm(0));
                        m
                    })
                    .collect(),
                application_categories: u
                    .application_categories
                    .iter()
                    .cloned()
                    .map(|mut a| {
                        a.media_area = AreaMm2(0);
                        a.media_length = LengthUm(0);
                        a
                    })
                    .collect(),
                ..Usage::default()
            };
        }
    }

    pub(crate) fn cartridge_name(&self, i: usize) -> String {
        self.report
            .snapshot
            .cartridges
            .get(i)
            .and_then(|c| c.colour.as_ref())
            .map_or_else(|| "Ink cartridge".into(), |c| format!("{c} ink cartridge"))
    }

    fn capacity(&self, i: usize) -> u64 {
        self.report.snapshot.cartridges.get(i).and_then(|c| c.capacity).map_or(1, |c| c.0.max(1))
    }

    pub(crate) fn is_low(&self, i: usize) -> bool {
        let cap = self.capacity(i);
        let left = cap.saturating_sub(self.consumed.get(i).copied().unwrap_or(0));
        left.saturating_mul(100) <= cap.saturating_mul(CARTRIDGE_LOW_PERCENT)
    }

    /// A scan of an original 36 inches wide, 0.3–1.2 m long.
    pub(crate) fn scan(&mut self, rng: &mut SimRng) {
        let area = 914_400u64.saturating_mul(rng.between(300_000, 1_200_000)) / 1_000_000;
        if let Some(u) = &mut self.report.snapshot.usage {
            u.scanned_area_total = AreaMm2(u.scanned_area_total.0.saturating_add(area));
            u.scanned_area_scans = AreaMm2(u.scanned_area_scans.0.saturating_add(area));
        }
    }

    /// A print job of one sheet, `n`th of the device.
    pub(crate) fn print(&mut self, now: Timestamp, n: u64, rng: &mut SimRng) -> Done {
        let roll = usize::try_from(rng.below(2)).unwrap_or(0);
        let (width, media_type) = self
            .report
            .snapshot
            .media_sources
            .get(roll)
            .map(|m| (m.width.map_or(914_400, |w| w.0), m.media_type.clone().unwrap_or_else(|| "bond".into())))
            .unwrap_or((914_400, "bond".into()));
        let length_um = rng.between(500_000, 3_000_000);
        let area = width.saturating_mul(length_um) / 1_000_000;
        let coverage = rng.between(5, 80);
        let printed = area.saturating_mul(coverage) / 100;
        let category = if rng.percent(70) { "cad" } else { "poster" };
        let colours: Vec<_> = self
            .report
            .snapshot
            .cartridges
            .iter()
            .map(|c| c.colour.clone().unwrap_or(printfleet_schema::Colour::Black))
            .collect();
        let mut ink = Vec::new();
        let mut total_ink = 0u64;
        let mut replacements = 0u64;
        let mut low = None;
        for (i, colour) in colours.iter().enumerate() {
            let nl = printed.saturating_mul(rng.between(20, 200)) / 1_000;
            total_ink = total_ink.saturating_add(nl);
            ink.push(InkUse { colour: colour.clone(), volume: InkNl(nl) });
            let was_low = self.is_low(i);
            if let Some(c) = self.consumed.get_mut(i) {
                *c = c.saturating_add(nl);
            }
            if !was_low && self.is_low(i) {
                low = Some(i);
            }
            if self.consumed.get(i).copied().unwrap_or(0) >= self.capacity(i) {
                // Empty: replaced at once (a new serial, one more insertion).
                if let Some(c) = self.consumed.get_mut(i) {
                    *c = 0;
                }
                if let Some(s) = self.serials.get_mut(i) {
                    *s = s.saturating_add(1);
                }
                if let Some(t) = self.report.snapshot.usage.as_mut().and_then(|u| u.cartridge_types.first_mut()) {
                    t.insertions = t.insertions.saturating_add(1);
                }
                replacements = replacements.saturating_add(1);
            }
        }
        // Printheads wear with the ink through them (three colours each).
        for (h, used) in self.head_used_nl.iter_mut().enumerate() {
            let share: u64 = ink.iter().skip(h.saturating_mul(3)).take(3).map(|i| i.volume.0).sum();
            *used = used.saturating_add(share);
        }
        let mut heads_replaced = 0u64;
        for (h, p) in self.report.snapshot.printheads.iter_mut().enumerate() {
            let used = self.head_used_nl.get(h).copied().unwrap_or(0);
            let wear = (used / 1_000_000).saturating_mul(HEAD_WEAR_BP_PER_ML);
            if wear >= 9_500 {
                if let Some(u) = self.head_used_nl.get_mut(h) {
                    *u = 0;
                }
                p.serial_number = Some(format!("PH{}{:05}", h, rng.below(100_000)));
                heads_replaced = heads_replaced.saturating_add(1);
            }
        }
        replacements = replacements.saturating_add(heads_replaced);
        // The roll.
        if let Some(m) = self.report.snapshot.media_sources.get_mut(roll) {
            let left = m.height.map_or(ROLL_UM, |h| h.0).saturating_sub(length_um);
            m.height = Some(LengthUm(if left < ROLL_SPARE_UM {
                replacements = replacements.saturating_add(1);
                ROLL_UM
            } else {
                left
            }));
        }
        if let Some(u) = &mut self.report.snapshot.usage {
            u.jobs = u.jobs.saturating_add(1);
            u.pages = PageCount(u.pages.0.saturating_add(1));
            u.ink_total = InkNl(u.ink_total.0.saturating_add(total_ink));
            u.media_total = AreaMm2(u.media_total.0.saturating_add(area));
            if let Some(t) = u.cartridge_types.first_mut() {
                t.ink_total = InkNl(t.ink_total.0.saturating_add(total_ink));
                t.ink_oem = InkNl(t.ink_oem.0.saturating_add(total_ink));
            }
            match u.media_types.iter_mut().find(|m| m.media_type == media_type) {
                Some(m) => {
                    m.area = AreaMm2(m.area.0.saturating_add(area));
                    m.length = Some(LengthUm(m.length.map_or(0, |l| l.0).saturating_add(length_um)));
                }
                None => u.media_types.push(printfleet_schema::MediaTypeUsage {
                    media_type: media_type.clone(),
                    area: AreaMm2(area),
                    length: Some(LengthUm(length_um)),
                }),
            }
            if let Some(a) = u.application_categories.iter_mut().find(|a| a.category == category) {
                a.media_area = AreaMm2(a.media_area.0.saturating_add(area));
                a.media_length = LengthUm(a.media_length.0.saturating_add(length_um));
            }
        }
        self.refresh();
        let job = PrintJob {
            job: JobHeader {
                name: Some(format!("plot-{n:05}.dwg")),
                uuid: Uuid::from_u64_pair(rng.next_u64(), rng.next_u64()),
                sequence: n,
                submitter: Submitter {
                    project_id: Some(format!("project-{}", rng.below(8))),
                    application_id: Some("autocad-2026".into()),
                    account_id: Some(format!("acct-{}", rng.below(7))),
                    user_name: Some(format!("drafter{}", rng.below(5))),
                    submitted_at: Some(now),
                    ..Submitter::default()
                },
            },
            print: PrintDetails {
                printed_at: Some(now),
                status: JobStatus::PRINTED,
                source: JobSource::DRIVER,
                ink_coverage_category: Some(
                    match coverage {
                        0..=10 => "low",
                        11..=40 => "medium",
                        _ => "high",
                    }
                    .into(),
                ),
                quality: PrintQuality::NORMAL,
                pages: PageCount(1),
                copies: 1,
                print_time: DurationMs(length_um / 20),
                ink,
                media_area: AreaMm2(area),
                printed_area: AreaMm2(printed),
                application_categories: vec![JobCategoryUsage {
                    category: category.into(),
                    media_area: AreaMm2(area),
                    printed_area: AreaMm2(printed),
                    ink: InkNl(total_ink),
                    media_length: LengthUm(length_um),
                }],
                non_white_coverage: BasisPoints::new(u16::try_from(coverage.saturating_mul(100)).unwrap_or(0)).ok(),
                colour_coverage: BasisPoints::new(u16::try_from(coverage.saturating_mul(60)).unwrap_or(0)).ok(),
            },
        };
        Done { job, length_um, media_type, low_cartridge: low, replacements }
    }

    /// Brings the cartridges and printheads in the report in line with the wear counters.
    fn refresh(&mut self) {
        let caps: Vec<u64> = (0..self.consumed.len()).map(|i| self.capacity(i)).collect();
        let lows: Vec<bool> = (0..self.consumed.len()).map(|i| self.is_low(i)).collect();
        for (i, c) in self.report.snapshot.cartridges.iter_mut().enumerate() {
            let consumed = self.consumed.get(i).copied().unwrap_or(0);
            c.ink_consumed = Some(InkNl(consumed));
            c.serial_number = Some(format!("CT730{:02}{:05}", i, self.serials.get(i).copied().unwrap_or(1)));
            c.status = if lows.get(i).copied().unwrap_or(false) { CartridgeStatus::LOW } else { CartridgeStatus::OK };
            let _ = caps.get(i);
        }
        for (h, p) in self.report.snapshot.printheads.iter_mut().enumerate() {
            let used = self.head_used_nl.get(h).copied().unwrap_or(0);
            let wear = (used / 1_000_000).saturating_mul(HEAD_WEAR_BP_PER_ML).min(10_000);
            let health = 10_000u64.saturating_sub(wear);
            p.health = BasisPoints::new(u16::try_from(health).unwrap_or(0)).ok();
            p.status = if health < 1_500 { PrintheadStatus::REPLACE_SOON } else { PrintheadStatus::OK };
        }
    }

    /// The report at `now` (the device's clock), with the lifetime meters and active alerts.
    pub(crate) fn report(&self, now: Timestamp, meters: &BTreeMap<MeterKind, u64>, alerts: Vec<Alert>) -> DeviceReport {
        let mut r = self.report.clone();
        r.generated_at = now;
        for (k, v) in meters {
            r.snapshot.meters.set(k.clone(), *v);
        }
        r.snapshot.alerts = alerts;
        r
    }
}
