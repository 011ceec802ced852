//! Billing periods on the UTC calendar, and the RFC 3339 text of instants.
//!
//! A period is a run of whole calendar months in UTC, anchored at 1970-01: monthly, quarterly
//! (January, April, July, October), yearly, or any number of months. Periods are numbered from
//! the one that contains 1970-01-01 ([`PeriodId`]). The civil-date arithmetic is Howard
//! Hinnant's `days_from_civil` / `civil_from_days` (proleptic Gregorian, exact for every
//! [`Timestamp`]).

use core::fmt;

use printfleet_schema::Timestamp;
use serde::{Deserialize, Serialize};

use crate::MeterError;

/// Milliseconds in a day (UTC has no leap seconds in Unix time).
pub(crate) const DAY_MS: u64 = 86_400_000;

/// The length of a billing period, in calendar months (UTC), anchored at January 1970.
///
/// ```
/// use printfleet_meter::{BillingPeriod, Rfc3339};
/// use printfleet_schema::Timestamp;
/// let q = BillingPeriod::QUARTERLY;
/// // 2025-05-17T00:00:00Z falls in the second quarter of 2025.
/// let p = q.period_of(Timestamp::from_unix_millis(1_747_440_000_000)?);
/// assert_eq!(Rfc3339(q.start(p)?).to_string(), "2025-04-01T00:00:00Z");
/// assert_eq!(Rfc3339(q.end(p)?).to_string(), "2025-07-01T00:00:00Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct BillingPeriod(u8);

impl BillingPeriod {
    /// One calendar month (the default).
    pub const MONTHLY: Self = Self(1);
    /// Three months, starting in January, April, July and October.
    pub const QUARTERLY: Self = Self(3);
    /// Twelve months, starting in January.
    pub const YEARLY: Self = Self(12);
    /// The longest period accepted, in months.
    pub const MAX_MONTHS: u8 = 12;

    /// A period of `months` months (1 to [`Self::MAX_MONTHS`]).
    pub const fn months(months: u8) -> Result<Self, MeterError> {
        if months >= 1 && months <= Self::MAX_MONTHS {
            Ok(Self(months))
        } else {
            Err(MeterError::InvalidTerms { reason: "billing period must be 1 to 12 months" })
        }
    }

    /// The number of months in one period.
    pub const fn len_months(self) -> u8 {
        self.0
    }

    /// The period that contains `at`.
    pub fn period_of(self, at: Timestamp) -> PeriodId {
        let (y, m, _) = civil_from_days(at.unix_millis() / DAY_MS);
        // y >= 1970 for every Timestamp; months since 1970-01 fit in u32 (< 97 000).
        let months = (y.saturating_sub(1970)).saturating_mul(12).saturating_add(m.saturating_sub(1));
        PeriodId(u32::try_from(months.checked_div(u64::from(self.0)).unwrap_or(0)).unwrap_or(u32::MAX))
    }

    /// The first instant of `period`.
    pub fn start(self, period: PeriodId) -> Result<Timestamp, MeterError> {
        let months = u64::from(period.0).checked_mul(u64::from(self.0)).ok_or(MeterError::Overflow)?;
        month_start(months)
    }

    /// The first instant after `period` (the start of the next one).
    pub fn end(self, period: PeriodId) -> Result<Timestamp, MeterError> {
        self.start(period.next()?)
    }
}

impl Default for BillingPeriod {
    fn default() -> Self {
        Self::MONTHLY
    }
}

impl TryFrom<u8> for BillingPeriod {
    type Error = MeterError;
    fn try_from(months: u8) -> Result<Self, MeterError> {
        Self::months(months)
    }
}

impl From<BillingPeriod> for u8 {
    fn from(p: BillingPeriod) -> u8 {
        p.0
    }
}

/// The number of a billing period: periods of the contract's length counted from 1970-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeriodId(pub u32);

impl PeriodId {
    /// The period after this one.
    pub fn next(self) -> Result<Self, MeterError> {
        self.0.checked_add(1).map(Self).ok_or(MeterError::Overflow)
    }
}

/// The instant at which month number `months` (0 = 1970-01) starts.
// `months % 12 + 1` is at most 12; the year is checked.
#[allow(clippy::arithmetic_side_effects)]
fn month_start(months: u64) -> Result<Timestamp, MeterError> {
    let y = (months / 12).checked_add(1970).ok_or(MeterError::Overflow)?;
    let m = months % 12 + 1;
    let days = days_from_civil(y, m, 1).ok_or(MeterError::Overflow)?;
    let ms = days.checked_mul(DAY_MS).ok_or(MeterError::Overflow)?;
    Timestamp::from_unix_millis(ms).map_err(|_| MeterError::Overflow)
}

/// Days since 1970-01-01 of the civil date `y-m-d` (y >= 1970), H. Hinnant's algorithm.
// Inputs are calendar fields of a `Timestamp` (year <= 10 000): no step can overflow a u64.
#[allow(clippy::arithmetic_side_effects)]
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    // Years counted from March so that the leap day is the last day of the "year".
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y % 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d.checked_sub(1)?;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// The civil date (year, month 1-12, day 1-31) of `days` days since 1970-01-01.
// `days` comes from a `Timestamp` (< 3 million): no step can overflow, and `doe / 1_460` etc.
// never exceed `doe`.
#[allow(clippy::arithmetic_side_effects)]
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days.saturating_add(719_468);
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// An instant in RFC 3339 form, UTC, second precision when the milliseconds are zero
/// (`2025-02-01T00:00:00Z`), millisecond precision otherwise (`2025-02-01T00:00:00.250Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc3339(pub Timestamp);

impl fmt::Display for Rfc3339 {
    // Divisions and remainders by non-zero constants only.
    #[allow(clippy::arithmetic_side_effects)]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.unix_millis();
        let (y, mo, d) = civil_from_days(ms / DAY_MS);
        let in_day = ms % DAY_MS;
        let (h, mi, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1_000 % 60, in_day % 1_000);
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if milli != 0 {
            write!(f, ".{milli:03}")?;
        }
        f.write_str("Z")
    }
}

/// The calendar date of an instant, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub Timestamp);

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0.unix_millis() / DAY_MS);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: u64) -> Timestamp {
        Timestamp::from_unix_millis(ms).unwrap()
    }

    #[test]
    fn civil_round_trip_over_the_whole_range() {
        // Every day from 1970 to past 2400 (leap centuries included), then spot checks to 9999.
        for days in (0..200_000).chain([2_932_896]) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days), "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(Rfc3339(Timestamp::MAX).to_string(), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn periods_are_calendar_months() {
        let m = BillingPeriod::MONTHLY;
        // 2024-02-29T23:59:59.999Z
        let p = m.period_of(ts(1_709_251_199_999));
        assert_eq!(Rfc3339(m.start(p).unwrap()).to_string(), "2024-02-01T00:00:00Z");
        assert_eq!(Rfc3339(m.end(p).unwrap()).to_string(), "2024-03-01T00:00:00Z");
        assert_eq!(m.period_of(m.end(p).unwrap()), p.next().unwrap());
        assert_eq!(BillingPeriod::YEARLY.period_of(ts(0)), PeriodId(0));
        assert!(BillingPeriod::months(0).is_err());
        assert!(BillingPeriod::months(13).is_err());
        assert_eq!(Date(ts(1_709_251_199_999)).to_string(), "2024-02-29");
    }
}
