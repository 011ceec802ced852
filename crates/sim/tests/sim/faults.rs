//! Every fault is injected at a high rate, reported, kept in the truth, and has its effect.

use printfleet_schema::{Capacity, Level, MeterKind, Timestamp};
use printfleet_sim::{EventKind, Fault, FaultKind, Faults, FleetConfig, Kind, Mix, SimEvent};

use crate::simulate;

fn high() -> (printfleet_sim::Fleet, Vec<SimEvent>) {
    let config =
        FleetConfig { seed: 99, printers: 30, mix: Mix::default(), faults: Faults::HIGH, ..FleetConfig::default() };
    simulate(&config, 10)
}

fn readings_of(
    events: &[SimEvent],
    device: usize,
) -> impl Iterator<Item = (Timestamp, &printfleet_schema::DeviceReport)> {
    events.iter().filter(move |e| e.device == device).filter_map(|e| match &e.what {
        EventKind::Reading(r) => Some((e.at, &**r)),
        _ => None,
    })
}

/// The readings of `device` after position `i` of the stream.
fn readings_after(
    events: &[SimEvent],
    i: usize,
    device: usize,
) -> impl Iterator<Item = (Timestamp, &printfleet_schema::DeviceReport)> {
    readings_of(&events[i + 1..], device)
}

#[test]
fn every_fault_kind_is_injected_reported_and_in_the_truth() {
    let (fleet, events) = high();
    for kind in FaultKind::ALL {
        let reported = events.iter().filter(|e| matches!(&e.what, EventKind::Fault(f) if f.kind() == kind)).count();
        let truth: usize = (0..fleet.devices().len()).map(|d| fleet.truth(d).faults_of(kind)).sum();
        assert!(reported > 0, "{} never injected", kind.name());
        assert_eq!(reported, truth, "{}: every injected fault is reported once", kind.name());
    }
    // And with the faults off, none.
    let quiet = FleetConfig { seed: 99, printers: 30, faults: Faults::NONE, ..FleetConfig::default() };
    let (_, events) = simulate(&quiet, 10);
    assert!(!events.iter().any(|e| matches!(e.what, EventKind::Fault(_))));
}

#[test]
fn a_reboot_is_followed_by_a_boot() {
    let (_, events) = high();
    for (i, e) in events.iter().enumerate() {
        if matches!(e.what, EventKind::Fault(Fault::Reboot)) {
            let boot = events[i..].iter().find(|n| n.device == e.device && n.at == e.at && n.what == EventKind::Boot);
            assert!(boot.is_some(), "a reboot of {} at {:?} without a boot", e.device, e.at);
        }
    }
}

#[test]
fn an_address_change_shows_in_the_next_reading() {
    let (_, events) = high();
    let mut checked = 0;
    for (i, e) in events.iter().enumerate() {
        let EventKind::Fault(Fault::AddressChange { from, to }) = &e.what else { continue };
        let next = readings_after(&events, i, e.device).next();
        let moved_again = |t: Timestamp| {
            events[i + 1..].iter().any(|n| {
                n.device == e.device && n.at <= t && matches!(n.what, EventKind::Fault(Fault::AddressChange { .. }))
            })
        };
        if let Some((t, r)) = next
            && !moved_again(t)
        {
            assert!(r.identity.ip_addresses.contains(&std::net::IpAddr::V4(*to)), "{:?}", r.identity.ip_addresses);
            assert!(!r.identity.ip_addresses.contains(&std::net::IpAddr::V4(*from)));
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn clock_drift_skews_reported_timestamps() {
    let (_, events) = high();
    let mut checked = 0;
    for (i, e) in events.iter().enumerate() {
        let EventKind::Fault(Fault::ClockDrift { skew_ms, until }) = &e.what else { continue };
        let Some((t, r)) = readings_after(&events, i, e.device).next().filter(|(t, _)| t < until) else { continue };
        let redrift = events.iter().any(|n| {
            n.device == e.device
                && n.at > e.at
                && n.at <= t
                && matches!(n.what, EventKind::Fault(Fault::ClockDrift { .. }))
        });
        if !redrift {
            assert_eq!(r.generated_at.unix_millis() as i64, t.unix_millis() as i64 + skew_ms, "device {}", e.device);
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn a_silent_device_neither_reads_nor_prints_then_boots() {
    let (_, events) = high();
    let mut checked = 0;
    for e in &events {
        let EventKind::Fault(Fault::Silent { until }) = &e.what else { continue };
        let during = events.iter().filter(|n| n.device == e.device && n.at > e.at && n.at < *until);
        assert!(!during.clone().any(|n| matches!(n.what, EventKind::Reading(_) | EventKind::Job(_))));
        if events.last().is_some_and(|l| l.at > *until) {
            assert!(events.iter().any(|n| n.device == e.device && n.at == *until && n.what == EventKind::Boot));
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn a_counter_reset_brings_the_counters_back_near_zero() {
    let (_, events) = high();
    let mut checked = 0;
    for (i, e) in events.iter().enumerate() {
        let EventKind::Fault(Fault::CounterReset { instance }) = &e.what else { continue };
        assert!(*instance >= 2);
        let total = |r: &printfleet_schema::DeviceReport| r.snapshot.meters.get(&MeterKind::TOTAL).unwrap();
        let before = readings_of(&events[..i], e.device).last();
        let after = readings_after(&events, i, e.device).next();
        if let (Some((_, b)), Some((_, a))) = (before, after)
            && total(b) > 1_000
        {
            assert!(total(a) < total(b), "{} then {}", total(b), total(a));
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn network_loss_windows_are_what_network_up_says() {
    let (fleet, events) = high();
    let mut checked = 0;
    for e in &events {
        let EventKind::Fault(Fault::NetworkLoss { until }) = &e.what else { continue };
        assert!(!fleet.network_up(e.device, e.at));
        assert!(!fleet.network_up(e.device, Timestamp::from_unix_millis(until.unix_millis() - 1).unwrap()));
        checked += 1;
    }
    assert!(checked > 0);
    // Outside every window, up.
    let d = 0;
    let windows: Vec<(Timestamp, Timestamp)> = fleet
        .truth(d)
        .faults
        .iter()
        .filter_map(|(at, f)| match f {
            Fault::NetworkLoss { until } => Some((*at, *until)),
            _ => None,
        })
        .collect();
    let start = fleet.config().start;
    for h in 0..240u64 {
        let t = crate::hours_after(start, h);
        assert_eq!(fleet.network_up(d, t), !windows.iter().any(|(s, e)| *s <= t && t < *e));
    }
}

#[test]
fn supply_special_values_survive_the_mapping() {
    let (_, events) = high();
    let mut seen = [false; 3];
    for (i, e) in events.iter().enumerate() {
        let EventKind::Fault(Fault::SpecialLevel { supply, level, until }) = &e.what else { continue };
        // The reading after the fault, inside its window, of the same device.
        let Some((_, r)) = readings_after(&events, i, e.device).next().filter(|(t, _)| t < until) else { continue };
        let c = r.snapshot.consumables.iter().find(|c| c.record_id == *supply).expect("the supply is mapped");
        match level {
            -3 => {
                assert_eq!(c.level, Level::SomeRemaining);
                seen[0] = true;
            }
            -2 => {
                assert_eq!(c.level, Level::Unknown);
                seen[1] = true;
            }
            over => {
                // Above its capacity: the reading is kept, the capacity claim dropped.
                assert_eq!(c.level, Level::Amount(u32::try_from(*over).unwrap()));
                assert_eq!(c.capacity, Capacity::Unknown);
                seen[2] = true;
            }
        }
    }
    assert_eq!(seen, [true; 3], "-3, -2 and above 100 % each seen");
}

#[test]
fn consumables_deplete_and_are_replaced_with_a_new_serial() {
    let config = FleetConfig {
        seed: 4,
        printers: 12,
        mix: Mix::only(Kind::OfficeColour),
        faults: Faults::NONE,
        ..FleetConfig::default()
    };
    let (fleet, events) = simulate(&config, 60);
    let replaced: u64 = (0..12).map(|d| fleet.truth(d).replacements).sum();
    assert!(replaced > 0);
    // Some supply's serial changes between two readings, and its level goes back up.
    let mut found = false;
    for d in 0..12 {
        let rs: Vec<_> = readings_of(&events, d).collect();
        for w in rs.windows(2) {
            for c in &w[1].1.snapshot.consumables {
                let Some(old) = w[0].1.snapshot.consumables.iter().find(|o| o.record_id == c.record_id) else {
                    continue;
                };
                if old.serial_number != c.serial_number {
                    let (Level::Amount(a), Level::Amount(b)) = (old.level, c.level) else { continue };
                    assert!(b > a, "a new cartridge is fuller: {a} -> {b}");
                    found = true;
                }
            }
        }
    }
    assert!(found);
    // Low alerts are raised and cleared.
    assert!(events.iter().any(
        |e| matches!(&e.what, EventKind::Alert(a) if a.description.as_deref().is_some_and(|d| d.ends_with(" low")))
    ));
    assert!(events.iter().any(|e| matches!(e.what, EventKind::AlertCleared(_))));
}

#[test]
fn an_alert_event_is_the_alert_the_next_reading_maps() {
    let config =
        FleetConfig { seed: 12, printers: 20, mix: Mix::SDS_STYLE, faults: Faults::NONE, ..FleetConfig::default() };
    let (_, events) = simulate(&config, 14);
    let mut checked = 0;
    for (i, e) in events.iter().enumerate() {
        let EventKind::Alert(alert) = &e.what else { continue };
        if let Some((_, r)) = readings_after(&events, i, e.device).next()
            && let Some(mapped) = r.snapshot.alerts.iter().find(|a| a.record_id == alert.record_id)
        {
            assert_eq!(mapped, &**alert);
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn large_format_jobs_advance_the_counters_they_report() {
    let config = FleetConfig {
        seed: 2,
        printers: 4,
        mix: Mix::only(Kind::LargeFormat),
        faults: Faults::NONE,
        ..FleetConfig::default()
    };
    let (fleet, events) = simulate(&config, 7);
    for d in 0..4 {
        let jobs: Vec<_> = events
            .iter()
            .filter(|e| e.device == d)
            .filter_map(|e| match &e.what {
                EventKind::Job(j) => Some(j),
                _ => None,
            })
            .collect();
        let t = fleet.truth(d);
        assert_eq!(t.jobs as usize, jobs.len());
        let area: u64 = jobs.iter().map(|j| j.print.media_area.0).sum();
        assert_eq!(t.advance.get(&MeterKind::AREA_MM2).copied().unwrap_or(0), area);
        assert_eq!(t.media_mm2.values().sum::<u64>(), area);
        let ink: u64 = jobs.iter().flat_map(|j| &j.print.ink).map(|i| i.volume.0).sum();
        assert_eq!(t.ink_nl.values().sum::<u64>(), ink);
        // The last reading's lifetime usage counts every job since the start.
        let first = readings_of(&events, d).next().unwrap().1.snapshot.usage.clone().unwrap();
        let last = readings_of(&events, d).last().unwrap().1.snapshot.usage.clone().unwrap();
        assert!(last.jobs - first.jobs <= jobs.len() as u64);
        assert!(last.ink_total.0 > first.ink_total.0 || jobs.is_empty());
        // Length per media type (a printfleet extension of the usage record): every job's
        // length is counted on its media type as on its application category.
        let per_type = |u: &printfleet_schema::Usage| u.media_types.iter().map(|m| m.length.unwrap().0).sum::<u64>();
        let per_app =
            |u: &printfleet_schema::Usage| u.application_categories.iter().map(|a| a.media_length.0).sum::<u64>();
        assert_eq!(per_type(&last), per_app(&last));
        assert!(per_type(&last) > per_type(&first) || jobs.is_empty());
    }
}
