//! The anti-replay window (the sliding window of RFC 4303 §3.4.3 and RFC 6347 §4.1.2.6).

/// Sequence numbers a window remembers below the highest one seen.
pub const REPLAY_WINDOW: u64 = 128;

/// Remembers which recent sequence numbers of one (sender, key) were accepted.
///
/// A frame is fresh if its sequence number is above the highest seen, or within
/// [`REPLAY_WINDOW`] below it and not seen before. Frames older than the window are refused even
/// if they were never seen: the sender's numbers only increase, so they can only be replays or
/// hopelessly late.
///
/// The window lives in memory. A receiver that restarts must restore [`ReplayWindow::highest`]
/// from storage (with [`ReplayWindow::starting_after`]), or frames recorded before the restart
/// could be replayed; the timestamp check then limits the damage to the skew tolerance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Highest sequence number accepted, if any.
    highest: Option<u64>,
    /// Bit *i* set: `highest - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// A window that has seen nothing: any sequence number is fresh.
    pub const fn new() -> Self {
        Self { highest: None, seen: 0 }
    }

    /// A window that treats everything up to and including `highest` as seen (restore it from
    /// storage after a restart).
    pub const fn starting_after(highest: u64) -> Self {
        Self { highest: Some(highest), seen: u128::MAX }
    }

    /// The highest sequence number accepted so far.
    pub const fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Whether `sequence` would be accepted, without recording it.
    pub fn is_fresh(&self, sequence: u64) -> bool {
        match self.highest {
            None => true,
            Some(h) if sequence > h => true,
            Some(h) => {
                // sequence <= h here, so the difference is exact.
                let age = h.wrapping_sub(sequence);
                age < REPLAY_WINDOW && self.seen & 1u128.wrapping_shl(u32::try_from(age).unwrap_or(u32::MAX)) == 0
            }
        }
    }

    /// Records `sequence` as accepted. Returns false (and records nothing) if it was not fresh.
    pub fn accept(&mut self, sequence: u64) -> bool {
        if !self.is_fresh(sequence) {
            return false;
        }
        match self.highest {
            // Fresh and not above the highest: within the window, so the shift is below 128.
            Some(h) if sequence <= h => {
                self.seen |= 1u128.wrapping_shl(u32::try_from(h.wrapping_sub(sequence)).unwrap_or(0))
            }
            Some(h) => {
                let shift = sequence.wrapping_sub(h);
                self.seen = match u32::try_from(shift) {
                    Ok(s) if u64::from(s) < REPLAY_WINDOW => self.seen.wrapping_shl(s) | 1,
                    _ => 1,
                };
                self.highest = Some(sequence);
            }
            None => {
                self.seen = 1;
                self.highest = Some(sequence);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_old_frames_are_refused() {
        let mut w = ReplayWindow::new();
        assert!(w.accept(10));
        assert!(!w.accept(10), "duplicate");
        assert!(w.accept(12));
        assert!(w.accept(11), "late but within the window");
        assert!(!w.accept(11));
        assert!(w.accept(10 + REPLAY_WINDOW + 5));
        assert!(!w.accept(12), "now older than the window");
        assert!(w.accept(10 + REPLAY_WINDOW + 5 - (REPLAY_WINDOW - 1)), "oldest slot still in the window");
        assert!(!w.accept(10 + REPLAY_WINDOW + 5 - REPLAY_WINDOW), "just outside");
        assert_eq!(w.highest(), Some(10 + REPLAY_WINDOW + 5));
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut w = ReplayWindow::new();
        assert!(w.accept(0));
        assert!(w.accept(u64::MAX));
        assert!(!w.accept(u64::MAX));
        assert!(!w.accept(0));
        assert!(w.accept(u64::MAX - 1));
    }

    #[test]
    fn restored_windows_refuse_everything_up_to_the_mark() {
        let mut w = ReplayWindow::starting_after(500);
        assert!(!w.accept(500));
        assert!(!w.accept(450));
        assert!(w.accept(501));
    }
}
