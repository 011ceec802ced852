//! Shared set-up: a clock in days from 2025-01-01, a one-contract meter, observations.

use printfleet_meter::*;
use printfleet_schema::{MeterKind, Timestamp};

pub(crate) const DAY: u64 = 86_400_000;
pub(crate) const HOUR: u64 = 3_600_000;
/// 2025-01-01T00:00:00Z.
pub(crate) const JAN_2025: u64 = 1_735_689_600_000;
/// Day offsets of the first days of February, March and April 2025.
pub(crate) const FEB: u64 = 31;
pub(crate) const MAR: u64 = 59;
pub(crate) const APR: u64 = 90;
pub(crate) const CONTRACT: ContractId = ContractId(1);

/// `day` days and `hour` hours after 2025-01-01T00:00:00Z.
pub(crate) fn at(day: u64, hour: u64) -> Timestamp {
    Timestamp::from_unix_millis(JAN_2025 + day * DAY + hour * HOUR).unwrap()
}

/// Terms charging `minor` minor units per page on `total`.
pub(crate) fn per_page(minor: u64) -> Terms {
    let mut t = Terms::default();
    t.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(minor, 1).unwrap()));
    t
}

/// A meter with contract 1 (starting 2025-01-01) and the given devices, serials `SN<id>`.
pub(crate) fn meter_with(config: MeterConfig, terms: Terms, devices: &[u64]) -> Meter {
    let mut m = Meter::new(config);
    m.add_contract(CONTRACT, terms, at(0, 0)).unwrap();
    for d in devices {
        m.add_device(DeviceId(*d), Device { contract: CONTRACT, serial: format!("SN{d}"), class: ModelClass::OFFICE })
            .unwrap();
    }
    m
}

/// The `total` meter of `device` read `value` at `t`; the report sequence is derived from the time.
pub(crate) fn total(device: u64, value: u64, t: Timestamp) -> Observation {
    read(device, MeterKind::TOTAL, value, t)
}

/// Any meter of `device` read `value` at `t`.
pub(crate) fn read(device: u64, kind: impl Into<Category>, value: u64, t: Timestamp) -> Observation {
    Observation {
        key: ObservationKey { device: DeviceId(device), instance: 1, sequence: t.unix_millis() / 1_000 },
        kind: kind.into(),
        value,
        observed_at: t,
        provenance: Provenance::Agent,
    }
}

/// The usage (not adjustment) line of a device and category.
pub(crate) fn usage_of(c: &Closing, device: u64, kind: impl Into<Category>) -> &UsageLine {
    let kind = kind.into();
    c.usage.iter().find(|l| l.device == DeviceId(device) && l.category == kind && l.line == LineKind::Usage).unwrap()
}

/// The line of a device and category that changes a closed period, if any: a correction
/// (priced in the period it corrects) or an adjustment (netted here).
pub(crate) fn adjustment_of(c: &Closing, device: u64, kind: impl Into<Category>) -> Option<&UsageLine> {
    let kind = kind.into();
    c.usage.iter().find(|l| {
        l.device == DeviceId(device)
            && l.category == kind
            && matches!(l.line, LineKind::Adjustment | LineKind::Correction)
    })
}

/// A configuration without a plausibility bound on page meters.
pub(crate) fn unbounded() -> MeterConfig {
    let mut c = MeterConfig::default();
    c.plausibility.pages_per_day.clear();
    c.plausibility.default_pages_per_day = u64::MAX;
    c
}
