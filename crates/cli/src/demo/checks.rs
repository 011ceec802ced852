//! The demo's checks, as pure functions of what the driver knows and what the store holds (so
//! that each can be shown to fail on doctored input).

use std::collections::{BTreeMap, HashMap};

use printfleet_diff::DeviceState;
use printfleet_meter::{Category, DeviceId, Observation, UsageLine};
use printfleet_schema::MeterKind;
use printfleet_sim::DeviceOutcome;

/// Devices whose stored state is not their agent's current state (their names). A device that
/// never reported (no current state) counts as not converged.
pub fn not_converged(
    devices: &[DeviceOutcome],
    mut stored: impl FnMut(&DeviceOutcome) -> Option<DeviceState>,
) -> Vec<&str> {
    devices
        .iter()
        .filter(|d| d.current.is_none() || stored(d).as_ref() != d.current.as_ref())
        .map(|d| d.name.as_str())
        .collect()
}

/// One device's jobs: what it emitted against what the store recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobCheck {
    /// Jobs emitted.
    pub emitted: u64,
    /// Job records stored.
    pub stored: u64,
    /// Emitted jobs the store lacks, other than those lost with a replaced board.
    pub missing: u64,
    /// Stored more than once (or stored without having been emitted).
    pub doubled: u64,
    /// Not stored, and handed to a board that was replaced before delivering them (a
    /// counter-reset fault takes the board's undelivered events with it).
    pub lost_with_board: u64,
}

impl JobCheck {
    /// Every job stored exactly once (up to those lost with a board).
    pub fn passed(&self) -> bool {
        self.missing == 0 && self.doubled == 0
    }

    /// Adds another device's figures.
    pub fn add(&mut self, other: &Self) {
        self.emitted = self.emitted.saturating_add(other.emitted);
        self.stored = self.stored.saturating_add(other.stored);
        self.missing = self.missing.saturating_add(other.missing);
        self.doubled = self.doubled.saturating_add(other.doubled);
        self.lost_with_board = self.lost_with_board.saturating_add(other.lost_with_board);
    }
}

/// Compares one device's emitted jobs (job sequence numbers, `emitted`; those handed to a board
/// later replaced, `on_replaced_boards`) with the job sequence numbers the store holds for it
/// (`SqliteStore::job_sequences`), as multisets: a sequence number emitted n times must be
/// stored n times, less at most those on replaced boards.
pub fn check_jobs(emitted: &[u64], on_replaced_boards: &[u64], stored: &[u64]) -> JobCheck {
    let count = |xs: &[u64]| {
        let mut m: BTreeMap<u64, u64> = BTreeMap::new();
        for x in xs {
            let n = m.entry(*x).or_insert(0);
            *n = n.saturating_add(1);
        }
        m
    };
    let (e, r, s) = (count(emitted), count(on_replaced_boards), count(stored));
    let mut check = JobCheck {
        emitted: u64::try_from(emitted.len()).unwrap_or(u64::MAX),
        stored: u64::try_from(stored.len()).unwrap_or(u64::MAX),
        ..JobCheck::default()
    };
    for (seq, sent) in &e {
        let got = s.get(seq).copied().unwrap_or(0);
        let replaced = r.get(seq).copied().unwrap_or(0).min(*sent);
        if got > *sent {
            check.doubled = check.doubled.saturating_add(got.saturating_sub(*sent));
        } else {
            let short = sent.saturating_sub(got);
            let with_board = short.min(replaced);
            check.lost_with_board = check.lost_with_board.saturating_add(with_board);
            check.missing = check.missing.saturating_add(short.saturating_sub(with_board));
        }
    }
    for (seq, got) in &s {
        if !e.contains_key(seq) {
            check.doubled = check.doubled.saturating_add(*got);
        }
    }
    check
}

/// Per (device, meter), the advance the stored readings show: within each agent instance (one
/// board: a counter reset is always a new instance), the sum of the forward steps between
/// consecutive readings in report-sequence order. What a reset hides (before the last reading
/// of the old board, and from the reset to the first reading of the new one) is not in it, as
/// in `printfleet_sim::Summary::counters`. Ink and media categories are left out.
pub fn stored_advance(readings: &[Observation]) -> BTreeMap<(DeviceId, MeterKind), u64> {
    let mut series: HashMap<(DeviceId, u32, MeterKind), Vec<(u64, u64)>> = HashMap::new();
    for r in readings {
        let Category::Meter(kind) = &r.kind else { continue };
        series.entry((r.key.device, r.key.instance, kind.clone())).or_default().push((r.key.sequence, r.value));
    }
    let mut out: BTreeMap<(DeviceId, MeterKind), u64> = BTreeMap::new();
    for ((device, _, kind), mut values) in series {
        values.sort_unstable();
        let advance = values
            .windows(2)
            .filter_map(|w| match w {
                [(_, a), (_, b)] => Some(b.saturating_sub(*a)),
                _ => None,
            })
            .fold(0u64, u64::saturating_add);
        let e = out.entry((device, kind)).or_insert(0);
        *e = e.saturating_add(advance);
    }
    out
}

/// The counters' check, per meter kind over the fleet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CounterCheck {
    /// Per meter kind: (the counters' true advance as of each device's last reading, the advance
    /// the stored readings show, the part of the difference on devices whose board was
    /// replaced: what their resets hid).
    pub per_kind: BTreeMap<MeterKind, (u64, u64, u64)>,
    /// Devices whose stored advance differs from the truth without a reset to explain it
    /// (their names, with the meter).
    pub unexplained: Vec<(String, MeterKind)>,
}

impl CounterCheck {
    /// Whether every difference is a reset's.
    pub fn passed(&self) -> bool {
        self.unexplained.is_empty()
    }
}

/// Compares each device's true counter advance with what the store shows ([`stored_advance`];
/// devices are metered under their fleet index): equal on a device without a counter reset, at
/// most the truth on one with. Both ways: a meter the store shows advancing on a device whose
/// counter of it never moved (print counts stored as copies, say) is unexplained too, and so is
/// any advance stored for a device the fleet does not have.
pub fn check_counters(devices: &[DeviceOutcome], seen: &BTreeMap<(DeviceId, MeterKind), u64>) -> CounterCheck {
    let mut check = CounterCheck::default();
    let mut unclaimed: BTreeMap<DeviceId, Vec<(&MeterKind, u64)>> = BTreeMap::new();
    for ((device, kind), got) in seen {
        unclaimed.entry(*device).or_default().push((kind, *got));
    }
    for d in devices {
        let id = DeviceId(u64::try_from(d.index).unwrap_or(u64::MAX));
        for (kind, got) in unclaimed.remove(&id).unwrap_or_default() {
            if got > 0 && !d.reported_advance.contains_key(kind) {
                let e = check.per_kind.entry(kind.clone()).or_insert((0, 0, 0));
                e.1 = e.1.saturating_add(got);
                check.unexplained.push((d.name.clone(), kind.clone()));
            }
        }
        for (kind, truth) in &d.reported_advance {
            let got = seen.get(&(id, kind.clone())).copied().unwrap_or(0);
            let e = check.per_kind.entry(kind.clone()).or_insert((0, 0, 0));
            e.0 = e.0.saturating_add(*truth);
            e.1 = e.1.saturating_add(got);
            let explained = d.counter_resets > 0 && got <= *truth;
            if explained {
                e.2 = e.2.saturating_add(truth.saturating_sub(got));
            } else if got != *truth {
                check.unexplained.push((d.name.clone(), kind.clone()));
            }
        }
    }
    for (device, kinds) in unclaimed {
        for (kind, _) in kinds.into_iter().filter(|(_, got)| *got > 0) {
            check.unexplained.push((format!("unknown device {}", device.0), kind.clone()));
        }
    }
    check
}

/// Usage lines against the stored advance: per (device, meter category) the billed quantity
/// (usage and adjustment lines of every period billed) must equal the stored advance, on a
/// device without a counter reset. On one with, the meter follows each counter across boards
/// (`printfleet-meter`'s segments: only a read below the last one starts a new segment), where
/// [`stored_advance`] sums each board on its own: the billed quantity must be at least the
/// stored advance and at most the truth plus what the new boards had counted before their
/// first use (which the meter bills when a new board reads above the old one's last read).
/// Returns the pairs that differ otherwise: (device, meter, billed, stored).
pub fn check_billing(
    usage: &[UsageLine],
    seen: &BTreeMap<(DeviceId, MeterKind), u64>,
    devices: &[DeviceOutcome],
) -> Vec<(DeviceId, MeterKind, i128, u64)> {
    let by_id: HashMap<DeviceId, &DeviceOutcome> =
        devices.iter().map(|d| (DeviceId(u64::try_from(d.index).unwrap_or(u64::MAX)), d)).collect();
    let differs = |(device, kind): &(DeviceId, MeterKind), billed: i128, stored: u64| {
        let within_resets = by_id.get(device).is_some_and(|d| {
            let most = d.reported_advance.get(kind).copied().unwrap_or(0);
            let most = most.saturating_add(d.factory_counts.get(kind).copied().unwrap_or(0));
            d.counter_resets > 0 && (i128::from(stored)..=i128::from(most)).contains(&billed)
        });
        billed != i128::from(stored) && !within_resets
    };
    let mut billed: BTreeMap<(DeviceId, MeterKind), i128> = BTreeMap::new();
    for line in usage {
        let Category::Meter(kind) = &line.category else { continue };
        let e = billed.entry((line.device, kind.clone())).or_insert(0);
        *e = e.saturating_add(i128::from(line.quantity.0));
    }
    let mut out = Vec::new();
    for (key, stored) in seen {
        let got = billed.get(key).copied().unwrap_or(0);
        if differs(key, got, *stored) {
            out.push((key.0, key.1.clone(), got, *stored));
        }
    }
    for (key, got) in &billed {
        if !seen.contains_key(key) && *got != 0 && differs(key, *got, 0) {
            out.push((key.0, key.1.clone(), *got, 0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_each_stored_once_pass_and_a_missing_or_doubled_one_fails() {
        assert!(check_jobs(&[1, 2, 3], &[], &[3, 1, 2]).passed());
        let missing = check_jobs(&[1, 2, 3], &[], &[1, 3]);
        assert_eq!((missing.missing, missing.doubled), (1, 0));
        assert!(!missing.passed());
        let doubled = check_jobs(&[1, 2], &[], &[1, 2, 2]);
        assert_eq!((doubled.missing, doubled.doubled), (0, 1));
        assert!(!doubled.passed());
        // Stored but never emitted is a failure too.
        assert!(!check_jobs(&[1], &[], &[1, 9]).passed());
        // Lost with a replaced board: accounted, not missing.
        let board = check_jobs(&[1, 2, 3], &[2, 3], &[1, 3]);
        assert_eq!((board.missing, board.lost_with_board), (0, 1));
        assert!(board.passed());
        // A sequence number reused by a new board is expected twice.
        assert!(check_jobs(&[1, 1], &[], &[1, 1]).passed());
        assert!(!check_jobs(&[1, 1], &[], &[1]).passed());
    }

    fn reading(device: u64, instance: u32, sequence: u64, value: u64) -> Observation {
        Observation {
            key: printfleet_meter::ObservationKey { device: DeviceId(device), instance, sequence },
            kind: Category::TOTAL,
            value,
            observed_at: printfleet_schema::Timestamp::from_unix_millis(sequence).unwrap(),
            provenance: printfleet_meter::Provenance::Agent,
        }
    }

    #[test]
    fn the_stored_advance_sums_each_board_in_sequence_order() {
        // Board 7: 100 -> 150 -> 180 (sent out of order); board 8 after a reset: 5 -> 25.
        let readings = [
            reading(1, 7, 2, 150),
            reading(1, 7, 1, 100),
            reading(1, 7, 3, 180),
            reading(1, 8, 1, 5),
            reading(1, 8, 2, 25),
        ];
        let seen = stored_advance(&readings);
        assert_eq!(seen.get(&(DeviceId(1), MeterKind::TOTAL)), Some(&100));
    }
}
