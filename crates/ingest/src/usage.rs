//! The billing categories a report carries besides its meters, for `printfleet-meter`: what a
//! large-format printer reports in Partner Link's "printer status" and "printer usage
//! information" (appendix A), and what each print job used.

use printfleet_meter::{Category, DeviceId, JobRecord, Label, limits::MAX_JOB_KINDS};
use printfleet_schema::{Colour, MeterKind, PrintDetails, PrintJob, Snapshot, Timestamp};

/// Usage categories taken from one snapshot besides its meters: every cartridge colour twice
/// (all and third-party ink), media types and application categories (area and length each). A printer
/// with more is misbehaving; the categories past this bound, in category order, are not
/// observed (`printfleet-meter` keeps at most `MAX_SERIES_PER_DEVICE` series per device).
pub const MAX_USAGE_CATEGORIES: usize = 128;

/// The lifetime counters of a snapshot beyond its meters, one value per category:
/// * ink per colour (`ink:COLOUR`, nanolitres): the sum over the installed cartridges of that
///   colour of "cartridge total ink consumed"; and `ink_third_party:COLOUR`, the sum of
///   "cartridge total non-HP ink consumed". A cartridge swap lowers the sum: the meter starts a
///   new segment there.
/// * media area per media type (`media_area:TYPE`, mm²): "total area used of this media type";
///   and media length per media type (`media_length:TYPE`, µm) where the device reports it
///   (`MediaTypeUsage::length`, a printfleet extension of the appendix's record; absent, no
///   series is observed, rather than a zero that would look like a counter reset);
/// * per application category (`app_area:CAT` mm², `app_length:CAT` µm): "total media used
///   area / linear for plots of the corresponding application";
/// * the total media area as the standard `area_mm2` meter ("total media usage"), when the
///   meters do not carry it already.
///
/// Cartridges without a colour and names that are not valid [`Label`]s are skipped.
pub(crate) fn snapshot_categories(snapshot: &Snapshot) -> Vec<(Category, u64)> {
    let mut out = Vec::new();
    let mut add = |c: Category, v: u64| out.push((c, v));
    for cart in &snapshot.cartridges {
        let Some(colour) = cart.colour.as_ref().map(|c| Colour::parse(c.name())) else { continue };
        if let Some(v) = cart.ink_consumed {
            add(Category::ink(colour.clone()), v.0);
        }
        if let Some(v) = cart.third_party_ink_consumed {
            add(Category::ink_third_party(colour), v.0);
        }
    }
    if let Some(usage) = &snapshot.usage {
        for m in &usage.media_types {
            if let Ok(l) = Label::new(m.media_type.trim()) {
                if let Some(length) = m.length {
                    add(Category::MediaLength(l.clone()), length.0);
                }
                add(Category::MediaArea(l), m.area.0);
            }
        }
        for a in &usage.application_categories {
            if let Ok(l) = Label::new(a.category.trim()) {
                add(Category::ApplicationArea(l.clone()), a.media_area.0);
                add(Category::ApplicationLength(l), a.media_length.0);
            }
        }
        if snapshot.meters.get(&MeterKind::AREA_MM2).is_none() && usage.media_total.0 > 0 {
            add(Category::Meter(MeterKind::AREA_MM2), usage.media_total.0);
        }
    }
    summed(out, MAX_USAGE_CATEGORIES)
}

/// The meter's record of a print job (for `printfleet_meter::Meter::record_job`): the device's
/// metered position, the job's sequence number (the meter's idempotency key), when it finished
/// (the job's `printed_at`, or `fallback` when the device did not say: the ingest passes the
/// time the frame was sealed, a store reading jobs back the time it received them) and what it
/// used per category (pages on `total`, media area, ink per colour, media per application
/// category).
///
/// The one definition of a job record: the ingest's [`Writes::job_records`](crate::Writes)
/// and the billing from stored jobs both use it.
pub fn job_record(meter_device: DeviceId, job: &PrintJob, fallback: Timestamp) -> JobRecord {
    JobRecord {
        device: meter_device,
        job: job.job.sequence,
        finished_at: job.print.printed_at.unwrap_or(fallback),
        usage: job_usage(&job.print),
    }
}

/// What a print job used, per category, for the meter's reconciliation: pages on `total`,
/// media area on `area_mm2`, ink per colour (`ink:COLOUR`, servicing included, as the
/// cartridge counters count it), media area and length per application category. At most
/// [`MAX_JOB_KINDS`] entries, in category order.
pub(crate) fn job_usage(print: &PrintDetails) -> Vec<(Category, u64)> {
    let mut out = Vec::new();
    let mut add = |c: Category, v: u64| out.push((c, v));
    add(Category::TOTAL, print.pages.0);
    if print.media_area.0 > 0 {
        add(Category::Meter(MeterKind::AREA_MM2), print.media_area.0);
    }
    for ink in &print.ink {
        add(Category::ink(Colour::parse(ink.colour.name())), ink.volume.0);
    }
    for a in &print.application_categories {
        if let Ok(l) = Label::new(a.category.trim()) {
            add(Category::ApplicationArea(l.clone()), a.media_area.0);
            add(Category::ApplicationLength(l), a.media_length.0);
        }
    }
    summed(out, MAX_JOB_KINDS)
}

/// One value per category, in category order, the values of a category summed (saturating);
/// categories that fail [`Category::check`] dropped, and at most `limit` kept. Sorting a list
/// (most often of one or two entries) instead of filling a map: one allocation, not a tree's.
fn summed(mut values: Vec<(Category, u64)>, limit: usize) -> Vec<(Category, u64)> {
    values.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    values.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = kept.1.saturating_add(later.1);
        }
        same
    });
    values.retain(|(c, _)| c.check().is_ok());
    values.truncate(limit);
    values
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use printfleet_schema::samples;

    use super::*;

    #[test]
    fn large_format_snapshot_yields_ink_media_and_application_categories() {
        let report = samples::large_format(1);
        let cats: BTreeMap<String, u64> =
            snapshot_categories(&report.snapshot).into_iter().map(|(c, v)| (c.to_string(), v)).collect();
        // Six cartridges, one per colour: 120.5 ml + id x 7.25 ml consumed, no third-party ink.
        assert_eq!(cats.get("ink:cyan"), Some(&127_750_000));
        assert_eq!(cats.get("ink:grey"), Some(&164_000_000));
        assert_eq!(cats.get("ink_third_party:cyan"), Some(&0));
        assert_eq!(cats.get("media_area:bond"), Some(&2_315_000_000));
        assert_eq!(cats.get("media_area:coated"), Some(&418_500_000));
        assert_eq!(cats.get("app_area:cad"), Some(&2_100_000_000));
        assert_eq!(cats.get("app_length:poster"), Some(&692_800_000));
        assert_eq!(cats.get("area_mm2"), Some(&2_733_500_000));
        assert_eq!(cats.len(), 6 * 2 + 2 + 2 * 2 + 1);
        // The sample predates length per media type: no `media_length:` series at all.
        assert!(!cats.keys().any(|c| c.starts_with("media_length:")), "{cats:?}");
    }

    #[test]
    fn a_category_named_twice_is_summed_once_in_category_order() {
        let mut report = samples::large_format(1);
        // A second cyan cartridge: ink:cyan is the sum of both.
        let extra = report.snapshot.cartridges[0].clone();
        let first = report.snapshot.cartridges[0].ink_consumed.unwrap().0;
        report.snapshot.cartridges.push(extra);
        let cats = snapshot_categories(&report.snapshot);
        assert!(cats.windows(2).all(|w| w[0].0 < w[1].0), "one entry per category, in order: {cats:?}");
        let colour = report.snapshot.cartridges[0].colour.clone().unwrap();
        let cyan = cats.iter().find(|(c, _)| *c == Category::ink(colour.clone())).map(|e| e.1);
        assert_eq!(cyan, Some(first * 2));
        // Saturating, as a counter: two near-maximal values give u64::MAX, not a wrap.
        let total = summed(vec![(Category::TOTAL, u64::MAX - 1), (Category::TOTAL, 5)], 8);
        assert_eq!(total, vec![(Category::TOTAL, u64::MAX)]);
        // At most `limit`, the first in category order.
        let all = snapshot_categories(&report.snapshot);
        assert_eq!(summed(all.iter().rev().cloned().collect(), 3), all[..3].to_vec());
    }

    #[test]
    fn media_length_per_type_is_observed_where_reported() {
        let mut report = samples::large_format(1);
        let usage = report.snapshot.usage.as_mut().unwrap();
        usage.media_types[0].length = Some(printfleet_schema::LengthUm(2_534_000_000));
        // A name with surrounding blanks is trimmed, as for the area.
        usage.media_types[1].media_type = " coated ".into();
        usage.media_types[1].length = Some(printfleet_schema::LengthUm(0));
        let cats: BTreeMap<String, u64> =
            snapshot_categories(&report.snapshot).into_iter().map(|(c, v)| (c.to_string(), v)).collect();
        assert_eq!(cats.get("media_length:bond"), Some(&2_534_000_000));
        assert_eq!(cats.get("media_length:coated"), Some(&0));
        assert_eq!(cats.get("media_area:coated"), Some(&418_500_000));
        assert_eq!(cats.len(), 6 * 2 + 2 * 2 + 2 * 2 + 1);
    }

    #[test]
    fn job_usage_carries_ink_per_colour_and_application_categories() {
        let report = samples::large_format(1);
        let job = &report.events.print_jobs[0].print;
        assert!(!job.ink.is_empty() && !job.application_categories.is_empty(), "the sample exercises both");
        let usage = job_usage(job);
        assert_eq!(usage.iter().find(|(c, _)| *c == Category::TOTAL).map(|e| e.1), Some(job.pages.0));
        for ink in &job.ink {
            let c = Category::ink(ink.colour.clone());
            assert_eq!(usage.iter().find(|(k, _)| *k == c).map(|e| e.1), Some(ink.volume.0), "{c}");
        }
        for a in &job.application_categories {
            let c = Category::ApplicationLength(Label::new(&a.category).unwrap());
            assert_eq!(usage.iter().find(|(k, _)| *k == c).map(|e| e.1), Some(a.media_length.0));
        }
        assert!(usage.len() <= MAX_JOB_KINDS);
    }
}
