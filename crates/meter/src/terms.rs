//! Contract terms and the meter's configuration.

use std::collections::BTreeMap;

use printfleet_schema::{DurationMs, MeterKind};
use serde::{Deserialize, Serialize};

use crate::{BillingPeriod, Category, Currency, MeterError, MinorUnits, Price, Unit};

/// Most price tiers per category.
pub const MAX_TIERS: usize = 16;
/// Most priced categories per contract.
pub const MAX_PRICED_CATEGORIES: usize = 256;

/// What a contract charges (Partner Link: "charge their customers contractually according to the
/// specific agreed upon terms").
///
/// The invoice of a period is, in this order: per priced category, the billable quantity
/// (the period's usage and any adjustment netted with it, less the allowance) priced through
/// the tiers; then the fixed fee per period; then the fixed fee per device; then, if the sum is
/// below [`minimum_charge`](Self::minimum_charge), a top-up line to the minimum; then, for each
/// closed period whose usage was corrected since, the difference of its invoice priced again
/// under these terms (a correction or a credit); then the money credit brought forward, which
/// may take the total below the minimum charge (it refunds earlier overcharges), and any
/// credit carried forward.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// The billing period (monthly by default).
    pub period: BillingPeriod,
    /// The invoice currency.
    pub currency: Currency,
    /// Prices per category. Usage of a category not listed is reported but not invoiced.
    pub prices: BTreeMap<Category, CategoryTerms>,
    /// The least a period's invoice comes to.
    pub minimum_charge: MinorUnits,
    /// A fixed fee per period.
    pub fee_per_period: MinorUnits,
    /// A fixed fee per device on the contract, per period.
    pub fee_per_device: MinorUnits,
    /// Whether a device silent across a period end gets an estimated read at the period end
    /// (flagged as estimated, trued up by an adjustment when the actual read arrives). Off by
    /// default: only what counters prove is billed.
    pub estimates: bool,
}

impl Terms {
    /// Checks the terms: tiers ascending with only the last one open, limits respected.
    pub fn validate(&self) -> Result<(), MeterError> {
        if self.prices.len() > MAX_PRICED_CATEGORIES {
            return Err(MeterError::LimitReached { limit: "MAX_PRICED_CATEGORIES", max: MAX_PRICED_CATEGORIES });
        }
        for c in self.prices.values() {
            c.validate()?;
        }
        Ok(())
    }
}

/// How one category is priced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryTerms {
    /// Graduated tiers, in ascending order: each tier's units at that tier's price. Only the last
    /// tier may be open (`up_to: None`); quantities past a closed last tier are priced at it.
    pub tiers: Vec<Tier>,
    /// Units included before anything is charged.
    pub allowance: Allowance,
    /// The unit of the category, when [`Unit::of`] does not know it (a vendor meter).
    pub unit: Option<Unit>,
}

impl CategoryTerms {
    /// One flat price, no allowance.
    pub fn flat(price: Price) -> Self {
        Self { tiers: vec![Tier { up_to: None, price }], allowance: Allowance::None, unit: None }
    }

    fn validate(&self) -> Result<(), MeterError> {
        if self.tiers.is_empty() {
            return Err(MeterError::InvalidTerms { reason: "a priced category needs at least one tier" });
        }
        if self.tiers.len() > MAX_TIERS {
            return Err(MeterError::LimitReached { limit: "MAX_TIERS", max: MAX_TIERS });
        }
        let mut last = 0u64;
        for (i, t) in self.tiers.iter().enumerate() {
            match t.up_to {
                Some(b) if b <= last && i > 0 => {
                    return Err(MeterError::InvalidTerms { reason: "tier bounds must ascend" });
                }
                Some(b) => last = b,
                None if i.checked_add(1) != Some(self.tiers.len()) => {
                    return Err(MeterError::InvalidTerms { reason: "only the last tier may be open" });
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// One price tier: units up to `up_to` (cumulative over the period's billable quantity, after
/// the allowance) are charged at `price`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// The cumulative quantity at which this tier ends (exclusive of later tiers); `None` for
    /// the last, open tier.
    pub up_to: Option<u64>,
    /// The price within this tier.
    pub price: Price,
}

/// Units included in the price before anything is charged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Allowance {
    /// Nothing included.
    #[default]
    None,
    /// Each device includes this many units; one device's unused allowance does not cover
    /// another's usage.
    PerDevice(u64),
    /// Each device on the contract adds this many units to one pool that covers the usage of
    /// all devices together.
    Pooled(u64),
}

/// A model class for the plausibility bound: an open code (any `u16`), with constants for the
/// classes that have documented defaults ([`Plausibility::default`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelClass(pub u16);

impl ModelClass {
    /// Personal and small-workgroup printers.
    pub const PERSONAL: Self = Self(1);
    /// Office printers and multifunction printers (the default).
    pub const OFFICE: Self = Self(2);
    /// Production presses.
    pub const PRODUCTION: Self = Self(3);
    /// Large-format printers (plotters).
    pub const LARGE_FORMAT: Self = Self(4);
}

/// The plausibility bound: the largest advance per day of a meter that is billed without
/// review. A larger jump between two reads is held ([`Held`](crate::Held)), not billed.
///
/// The allowed advance between two reads is `per_day × max(1, ⌈elapsed / 1 day⌉)`, so two reads
/// minutes apart may still differ by a full day's worth.
///
/// Defaults (impressions or sheets per day, for every standard page meter this version knows):
///
/// | class | per day |
/// |---|---|
/// | [`ModelClass::PERSONAL`] | 2 000 |
/// | [`ModelClass::OFFICE`] and any class not listed | 20 000 |
/// | [`ModelClass::PRODUCTION`] | 500 000 |
/// | [`ModelClass::LARGE_FORMAT`] | 10 000 |
///
/// Meters in other units (unknown codes, vendor meters) have no bound unless
/// [`per_kind`](Self::per_kind) gives one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plausibility {
    /// Pages per day by model class, for the standard page meters.
    pub pages_per_day: BTreeMap<ModelClass, u64>,
    /// Pages per day for a class not in `pages_per_day`.
    pub default_pages_per_day: u64,
    /// Per (class, meter kind) bounds, overriding the page bounds; any unit.
    pub per_kind: Vec<(ModelClass, Category, u64)>,
}

impl Default for Plausibility {
    fn default() -> Self {
        Self {
            pages_per_day: [
                (ModelClass::PERSONAL, 2_000),
                (ModelClass::OFFICE, 20_000),
                (ModelClass::PRODUCTION, 500_000),
                (ModelClass::LARGE_FORMAT, 10_000),
            ]
            .into_iter()
            .collect(),
            default_pages_per_day: 20_000,
            per_kind: Vec::new(),
        }
    }
}

impl Plausibility {
    /// The per-day bound for `kind` on a device of `class`, `None` for no bound.
    pub fn per_day(&self, class: ModelClass, kind: &Category) -> Option<u64> {
        if let Some((_, _, v)) = self.per_kind.iter().find(|(c, k, _)| *c == class && k == kind) {
            return Some(*v);
        }
        match kind {
            Category::Meter(MeterKind::Standard(_))
                if matches!(Unit::of(kind), Unit::Impressions | Unit::Sheets | Unit::Images) =>
            {
                Some(self.pages_per_day.get(&class).copied().unwrap_or(self.default_pages_per_day))
            }
            _ => None,
        }
    }
}

/// Reconciliation tolerance between job sums and counter advance: a difference is flagged when
/// it exceeds both `absolute` units and `basis_points` of the counter advance.
///
/// Default: 2 % (200 basis points) and 10 units. Job records and reads rarely straddle a period
/// end at the same moment, and jobs in flight at a read count on one side only; a small
/// tolerance absorbs that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tolerance {
    /// Relative tolerance, in 1/10 000 of the counter advance.
    pub basis_points: u16,
    /// Absolute tolerance, in the category's unit.
    pub absolute: u64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self { basis_points: 200, absolute: 10 }
    }
}

/// How the meter treats late and missing data; shared by all contracts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterConfig {
    /// How far before the start of a contract's oldest open period an observation is still
    /// accepted (it becomes an adjustment line); anything older is rejected and reported.
    /// Default 7 days.
    pub late_window: DurationMs,
    /// A device whose last observation is older than this at a period end is listed as silent.
    /// Default 3 days.
    pub silent_after: DurationMs,
    /// How far back the recent rate for an estimate looks. Default 30 days.
    pub rate_lookback: DurationMs,
    /// The plausibility bound.
    pub plausibility: Plausibility,
    /// The reconciliation tolerance.
    pub tolerance: Tolerance,
}

impl Default for MeterConfig {
    fn default() -> Self {
        Self {
            late_window: DurationMs(7 * crate::calendar::DAY_MS),
            silent_after: DurationMs(3 * crate::calendar::DAY_MS),
            rate_lookback: DurationMs(30 * crate::calendar::DAY_MS),
            plausibility: Plausibility::default(),
            tolerance: Tolerance::default(),
        }
    }
}
