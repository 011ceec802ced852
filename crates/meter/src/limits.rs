//! Every bound on what the meter keeps, with its reason. The meter's state is bounded by these
//! and by the late window: reads, keys and jobs older than the start of the period that contains
//! the late-window horizon are dropped at each closing (one anchor read per series is kept).

/// Reads kept per (device, meter): a read every 3 minutes over an open period plus a 7-day late
/// window (about 6 weeks) is 20 160; more is a misbehaving sender.
pub const MAX_READS_PER_SERIES: usize = 32_768;
/// Idempotency keys kept per device: one per report, the same horizon as the reads.
pub const MAX_KEYS_PER_DEVICE: usize = 65_536;
/// Meter kinds per device: the standard codes plus vendor meters, with room to grow.
pub const MAX_SERIES_PER_DEVICE: usize = 256;
/// Devices per contract: the largest managed fleets under one agreement.
pub const MAX_DEVICES_PER_CONTRACT: usize = 1_000_000;
/// Job records kept per device within the retained window (about one a minute for 6 weeks).
pub const MAX_JOBS_PER_DEVICE: usize = 65_536;
/// Meter kinds one job record may name.
pub const MAX_JOB_KINDS: usize = 64;
/// Rejected observations listed per closing; further ones are only counted.
pub const MAX_REJECTED_LISTED: usize = 1_024;
/// Released and dismissed holds kept per series (each list).
pub const MAX_RELEASED_PER_SERIES: usize = 1_024;
/// Held jumps awaiting review kept per series after their reads have left the retained window
/// (they are listed in every closing until released or dismissed). Past this, the oldest is
/// dropped from the list: a meter with a thousand unreviewed jumps needs a person, not a longer
/// list.
pub const MAX_HOLDS_PER_SERIES: usize = 1_024;
/// Longest serial number, in bytes (the schema's text limit for identity fields is larger,
/// but serials are short; a longer one is an input error).
pub const MAX_SERIAL_LEN: usize = 64;
/// Periods after the oldest open one in which observations are accepted: a portal that closes
/// its periods late still meters, while a device whose clock is years ahead cannot plant a read
/// that would hide every later one. Later observations are refused with
/// [`MeterError::TooEarly`](crate::MeterError::TooEarly), and can be sent again once periods
/// have been closed.
pub const MAX_PERIODS_AHEAD: u32 = 3;
/// The largest advance between two reads of any category that is billed without review (2^48:
/// 281,000 litres of ink in nanolitres, 281 km² of media in mm², far beyond any printer's
/// life): a larger jump is held ([`Closing::held`](crate::Closing::held)) whatever the terms'
/// bounds, even in a category that has none, so that a corrupted counter (a -1 read as
/// 2^64 − 1) can neither be billed unseen nor overflow a period's sums and stop its contract's
/// closings for good.
pub const MAX_ADVANCE: u64 = 1 << 48;
/// Moves between contracts remembered per device (a device changes hands a few times in its
/// life; the history is what attributes its usage).
pub const MAX_MOVES_PER_DEVICE: usize = 64;
