//! When a device reports: the seed's rules as defaults, every one configurable.

use printfleet_schema::{DurationMs, Timestamp};

/// Partner Link's direct connection: "every 3 hours".
pub const DIRECT_INTERVAL: DurationMs = DurationMs(3 * 60 * 60 * 1000);
/// Partner Link's direct connection: "or every 19 jobs".
pub const DIRECT_JOBS: u32 = 19;
/// Partner Link's direct connection: "or every 100 pages".
pub const DIRECT_PAGES: u64 = 100;
/// Partner Link's Data Collector: its default interval, 180 minutes.
pub const COLLECTOR_INTERVAL: DurationMs = DurationMs(180 * 60 * 1000);
/// Partner Link's Data Collector: never more often than every 30 minutes.
pub const COLLECTOR_MIN_INTERVAL: DurationMs = DurationMs(30 * 60 * 1000);
/// How long the agent waits for the portal's reply before it tries again (the first time; then
/// exponential back-off).
pub const DEFAULT_REPLY_TIMEOUT: DurationMs = DurationMs(60 * 1000);
/// The longest wait between two attempts while the portal cannot be reached.
pub const DEFAULT_MAX_BACKOFF: DurationMs = DurationMs(60 * 60 * 1000);

/// A schedule that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A collector interval below [`COLLECTOR_MIN_INTERVAL`] (Partner Link's floor): refused, not
    /// clamped.
    #[error("a collector reports at most every 30 minutes, not every {minutes} minutes")]
    IntervalTooShort {
        /// The interval asked for, in whole minutes.
        minutes: u64,
    },
    /// A zero interval, job count or page count, or a back-off cap below the reply timeout.
    #[error("{0} must be positive")]
    Zero(&'static str),
}

/// When reports go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    interval: DurationMs,
    jobs: Option<u32>,
    pages: Option<u64>,
    report_at_boot: bool,
    reply_timeout: DurationMs,
    max_backoff: DurationMs,
    round_offset: DurationMs,
}

impl Schedule {
    /// A printer reporting itself (Partner Link's direct connection): every 3 hours, or after 19
    /// jobs, or after 100 pages, whichever comes first; at once for an urgent alert; once at
    /// boot.
    pub const fn direct() -> Self {
        Self {
            interval: DIRECT_INTERVAL,
            jobs: Some(DIRECT_JOBS),
            pages: Some(DIRECT_PAGES),
            report_at_boot: true,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
            max_backoff: DEFAULT_MAX_BACKOFF,
            round_offset: DurationMs::ZERO,
        }
    }

    /// A collector's schedule for each printer it reads (Partner Link's Data Collector): every
    /// `interval`, which must be at least [`COLLECTOR_MIN_INTERVAL`] (180 minutes by default,
    /// [`COLLECTOR_INTERVAL`]); at once for an urgent alert.
    pub fn collector(interval: DurationMs) -> Result<Self, ConfigError> {
        if interval < COLLECTOR_MIN_INTERVAL {
            return Err(ConfigError::IntervalTooShort { minutes: interval.0 / 60_000 });
        }
        Ok(Self { interval, jobs: None, pages: None, report_at_boot: true, ..Self::direct() })
    }

    /// Changes the interval of a direct schedule (any positive length: a printer may report as
    /// often as its contract wants).
    pub fn with_interval(mut self, interval: DurationMs) -> Result<Self, ConfigError> {
        if interval == DurationMs::ZERO {
            return Err(ConfigError::Zero("interval"));
        }
        self.interval = interval;
        Ok(self)
    }

    /// Reports after `jobs` jobs (`None`: never for this reason).
    pub fn with_jobs(mut self, jobs: Option<u32>) -> Result<Self, ConfigError> {
        if jobs == Some(0) {
            return Err(ConfigError::Zero("jobs"));
        }
        self.jobs = jobs;
        Ok(self)
    }

    /// Reports after `pages` pages (`None`: never for this reason).
    pub fn with_pages(mut self, pages: Option<u64>) -> Result<Self, ConfigError> {
        if pages == Some(0) {
            return Err(ConfigError::Zero("pages"));
        }
        self.pages = pages;
        Ok(self)
    }

    /// Sets the first reply timeout and the cap of the back-off between attempts.
    pub fn with_retry(mut self, reply_timeout: DurationMs, max_backoff: DurationMs) -> Result<Self, ConfigError> {
        if reply_timeout == DurationMs::ZERO || max_backoff < reply_timeout {
            return Err(ConfigError::Zero("reply timeout"));
        }
        self.reply_timeout = reply_timeout;
        self.max_backoff = max_backoff;
        Ok(self)
    }

    /// Moves a collector's rounds (bundle mode,
    /// [`Collector::attach_link`](crate::Collector::attach_link)) `offset` past the multiples of
    /// the interval (taken modulo the interval): collectors that each pick their own (the
    /// `printfleet collect` daemon takes its sender id) do not all send at 00:00, 03:00 ... UTC.
    pub fn with_round_offset(mut self, offset: DurationMs) -> Self {
        self.round_offset = DurationMs(offset.0.checked_rem(self.interval.0).unwrap_or(0));
        self
    }

    /// The interval between scheduled reports.
    pub fn interval(&self) -> DurationMs {
        self.interval
    }
}

/// When the interval's report is due after a report at `last`: `last` plus the interval; or,
/// `aligned` (a collector that sends bundles, `Collector::attach_link`), at the first **round**
/// at least [`COLLECTOR_MIN_INTERVAL`] after `last`, rounds being the multiples of the interval
/// since the Unix epoch (UTC), moved by the schedule's round offset
/// ([`Schedule::with_round_offset`]). A device that reported on a round reports at the next one, one
/// interval later; one that reported off the rounds (after a retry, an urgent alert, a restart)
/// joins the next round at least 30 minutes away, so that the collector's devices report
/// together, in one bundle per round, and never more often than the minimum interval.
pub(crate) fn interval_due(last: Timestamp, s: &Schedule, aligned: bool) -> Timestamp {
    let interval = s.interval.0.max(1);
    if !aligned {
        return last.checked_add(s.interval).unwrap_or(Timestamp::MAX);
    }
    let earliest = last.unix_millis().saturating_add(COLLECTOR_MIN_INTERVAL.0);
    let offset = s.round_offset.0;
    let round = earliest.saturating_sub(offset).div_ceil(interval).saturating_mul(interval).saturating_add(offset);
    Timestamp::from_unix_millis(round).unwrap_or(Timestamp::MAX)
}

/// Why a report is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Reason {
    /// The device (re)started.
    Boot,
    /// An urgent alert.
    Urgent,
    /// The interval elapsed.
    Interval,
    /// Enough jobs since the last report.
    Jobs,
    /// Enough pages since the last report.
    Pages,
    /// The portal asked for a full state.
    Resync,
    /// The last report was not acknowledged in time.
    Retry,
}

/// The scheduler's counters, saved with the agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Counters {
    /// When the last report was sent (by the caller's clock).
    pub(crate) last_report: Option<Timestamp>,
    pub(crate) jobs: u32,
    pub(crate) pages: u64,
    pub(crate) urgent: bool,
    pub(crate) boot: bool,
    pub(crate) resync: bool,
    /// Consecutive attempts without a reply.
    pub(crate) attempts: u32,
    /// While waiting for a reply: when to try again.
    pub(crate) retry_at: Option<Timestamp>,
}

impl Counters {
    /// Re-bases the clock if it went back: a device whose clock jumps back by hours waits one
    /// interval from the new time, never the hours it jumped as well.
    pub(crate) fn observe_clock(&mut self, s: &Schedule, now: Timestamp) {
        if self.last_report.is_some_and(|t| now < t) {
            self.last_report = Some(now);
        }
        if let Some(at) = self.retry_at {
            // A retry scheduled "in the future" by a clock that has since gone back: further
            // ahead than the longest wait `reported` schedules (the reply timeout plus the whole
            // back-off), so never a real back-off cut short.
            let longest = DurationMs(s.reply_timeout.0.saturating_add(s.max_backoff.0));
            if now < at && at.duration_since(now).is_some_and(|d| d > longest) {
                self.retry_at = Some(now);
            }
        }
    }

    /// Why a report is due at `now`, if it is. A boot, an urgent alert or a resync request goes
    /// at once; while a report waits for its reply (or the portal cannot be reached), the other
    /// reasons wait for the retry time, so that an outage costs one frame per back-off period.
    /// `aligned`: the interval's report is due at the collector's next round
    /// ([`interval_due`]).
    pub(crate) fn due(&self, s: &Schedule, now: Timestamp, aligned: bool) -> Option<Reason> {
        if self.boot && s.report_at_boot {
            return Some(Reason::Boot);
        }
        if self.urgent {
            return Some(Reason::Urgent);
        }
        if self.resync {
            return Some(Reason::Resync);
        }
        if self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        if self.jobs_due(s) {
            return Some(Reason::Jobs);
        }
        if s.pages.is_some_and(|p| self.pages >= p) {
            return Some(Reason::Pages);
        }
        if self.retry_at.is_some() {
            return Some(Reason::Retry);
        }
        match self.last_report {
            None => Some(Reason::Interval),
            Some(t) => (now >= interval_due(t, s, aligned)).then_some(Reason::Interval),
        }
    }

    fn jobs_due(&self, s: &Schedule) -> bool {
        s.jobs.is_some_and(|j| self.jobs >= j)
    }

    /// When the next report falls due by time alone, if nothing else happens.
    pub(crate) fn next_deadline(&self, s: &Schedule, aligned: bool) -> Option<Timestamp> {
        let interval = self.last_report.map(|t| interval_due(t, s, aligned));
        match (interval, self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A report went out at `now`: counters start again, and a retry is scheduled in case no
    /// reply comes (exponential back-off with full jitter: `jitter` is uniform in [0, 1) as a
    /// fraction of `u32::MAX`).
    pub(crate) fn reported(&mut self, s: &Schedule, now: Timestamp, jitter: u32) {
        self.last_report = Some(now);
        self.jobs = 0;
        self.pages = 0;
        self.urgent = false;
        self.boot = false;
        self.resync = false;
        let exp = s.reply_timeout.0.saturating_mul(1u64.checked_shl(self.attempts.min(32)).unwrap_or(u64::MAX));
        let ceiling = exp.min(s.max_backoff.0);
        // Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the wait beyond
        // the reply timeout is uniform in [0, ceiling).
        let extra = u64::try_from(u128::from(ceiling).saturating_mul(u128::from(jitter)) >> 32).unwrap_or(ceiling);
        let wait = s.reply_timeout.0.saturating_add(extra);
        self.retry_at = Some(now.checked_add(DurationMs(wait)).unwrap_or(Timestamp::MAX));
        self.attempts = self.attempts.saturating_add(1);
    }

    /// The portal answered: no retry pending.
    pub(crate) fn answered(&mut self) {
        self.attempts = 0;
        self.retry_at = None;
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn a_ten_minute_collector_interval_is_refused_not_clamped() {
        assert_eq!(Schedule::collector(DurationMs(10 * 60_000)), Err(ConfigError::IntervalTooShort { minutes: 10 }));
        assert!(Schedule::collector(COLLECTOR_MIN_INTERVAL).is_ok());
        assert_eq!(Schedule::collector(COLLECTOR_INTERVAL).unwrap().interval(), COLLECTOR_INTERVAL);
    }

    #[test]
    fn back_off_grows_to_its_cap_with_jitter_inside_it() {
        let s = Schedule::direct();
        let mut c = Counters::default();
        let mut last = 0;
        for attempt in 0..20u32 {
            c.reported(&s, t(0), u32::MAX);
            let wait = c.retry_at.unwrap().duration_since(t(0)).unwrap().0;
            let cap = DEFAULT_REPLY_TIMEOUT.0 + DEFAULT_MAX_BACKOFF.0;
            assert!(wait <= cap, "attempt {attempt}: {wait}");
            assert!(wait >= last || wait >= cap - 1000, "attempt {attempt}: {wait} < {last}");
            last = wait;
        }
        // No jitter drawn: the bare reply timeout.
        c.reported(&s, t(0), 0);
        assert_eq!(c.retry_at, Some(t(DEFAULT_REPLY_TIMEOUT.0)));
    }

    #[test]
    fn a_clock_that_jumps_back_does_not_stall_the_schedule() {
        let s = Schedule::direct();
        let mut c = Counters::default();
        c.reported(&s, t(10 * 3_600_000), 0);
        c.answered();
        // The clock goes back 8 hours: the next report is one interval from the new time.
        c.observe_clock(&s, t(2 * 3_600_000));
        assert_eq!(c.next_deadline(&s, false), Some(t(5 * 3_600_000)));
        assert_eq!(c.due(&s, t(5 * 3_600_000), false), Some(Reason::Interval));
    }

    /// The longest back-off `reported` draws (the reply timeout plus nearly the whole cap, here
    /// a 6-hour cap) is kept when the clock has not moved back; a retry further ahead than any
    /// back-off, after the clock went back, is brought to now.
    #[test]
    fn the_longest_back_off_survives_and_a_clock_jump_does_not() {
        let s = Schedule::direct().with_retry(DEFAULT_REPLY_TIMEOUT, DurationMs(6 * 3_600_000)).unwrap();
        let mut c = Counters { attempts: 20, ..Counters::default() };
        c.reported(&s, t(0), u32::MAX);
        let at = c.retry_at.unwrap();
        assert!(at.unix_millis() > DEFAULT_REPLY_TIMEOUT.0 + 5 * 3_600_000, "{at:?}");
        c.observe_clock(&s, t(1_000));
        assert_eq!(c.retry_at, Some(at), "a real back-off is not cut short");
        // The clock goes back a day: the retry, now more than any back-off away, is due at once.
        let mut c = Counters { attempts: 3, ..Counters::default() };
        c.reported(&s, t(30 * 3_600_000), 0);
        c.observe_clock(&s, t(3_600_000));
        assert_eq!(c.retry_at, Some(t(3_600_000)));
    }

    /// Aligned (a collector's bundle rounds): a device on a round reports at the next one; one
    /// off the rounds joins the first round at least the minimum interval away, so never sooner
    /// and at most one interval later than that.
    #[test]
    fn aligned_reports_fall_on_the_collectors_rounds() {
        let s = Schedule::collector(DurationMs(3 * 3_600_000)).unwrap();
        let round = 3 * 3_600_000;
        let on = Timestamp::from_unix_millis(600_000 * round).unwrap();
        assert_eq!(interval_due(on, &s, true), Timestamp::from_unix_millis(600_001 * round).unwrap());
        let off = Timestamp::from_unix_millis(600_000 * round + 20 * 60_000).unwrap();
        assert_eq!(interval_due(off, &s, true), Timestamp::from_unix_millis(600_001 * round).unwrap());
        let late = Timestamp::from_unix_millis(600_001 * round - 10 * 60_000).unwrap();
        assert_eq!(interval_due(late, &s, true), Timestamp::from_unix_millis(600_002 * round).unwrap());
        assert_eq!(interval_due(late, &s, false), late.checked_add(DurationMs(round)).unwrap());
    }

    proptest::proptest! {
        #[test]
        fn an_aligned_report_is_on_a_round_and_never_sooner_than_the_minimum(
            last in 0u64..4_000_000_000_000,
            minutes in 30u64..=1440,
            offset in 0u64..200_000_000,
        ) {
            let s = Schedule::collector(DurationMs(minutes * 60_000)).unwrap().with_round_offset(DurationMs(offset));
            let last = Timestamp::from_unix_millis(last).unwrap();
            let due = interval_due(last, &s, true).unix_millis();
            let earliest = last.unix_millis() + COLLECTOR_MIN_INTERVAL.0;
            proptest::prop_assert_eq!(due % (minutes * 60_000), offset % (minutes * 60_000));
            proptest::prop_assert!(due >= earliest && due < earliest + minutes * 60_000);
        }
    }
}
