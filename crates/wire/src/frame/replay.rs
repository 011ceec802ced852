//! The anti-replay window (the sliding window of RFC 4303 §3.4.3 and RFC 6347 §4.1.2.6).

/// Sequence numbers a window remembers below the highest one seen.
pub const REPLAY_WINDOW: u64 = 128;

/// Remembers which recent sequence numbers of one (sender, key) were accepted.
///
/// A frame is fresh if its sequence number is above the highest seen, or within
/// [`REPLAY_WINDOW`] below it and not seen before. Frames older than the window are refused even
/// if they were never seen: the sender's numbers only increase, so they can only be replays or
/// hopelessly late.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReplayWindow {
    /// Highest sequence number accepted, if any.
    highest: Option<u64>,
    /// Bit *i* set: `highest - i` was accepted.
    seen: u128,
}

/// The persistent form of one replay window (docs/wire-format.md §5.5).
///
/// `highest` is the highest sequence number accepted (0: none yet; sequence numbers start at
/// 1). `seen`, when present, is the bitmap of the [`REPLAY_WINDOW`] numbers ending at `highest`
/// (bit *i* of the 128-bit value `seen[0] << 64 | seen[1]` set: `highest - i` was accepted). A
/// window restored without its bitmap treats every number at or below `highest` as seen, so a
/// frame that was in flight at the crash is refused rather than risked as a replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowState {
    /// Highest sequence number accepted, 0 for none.
    pub highest: u64,
    /// The bitmap below `highest`, most significant half first; `None` to refuse everything at
    /// or below `highest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<[u64; 2]>,
}

impl WindowState {
    /// A window that refuses every sequence number at or below `highest` (what a store that
    /// keeps only the highest number restores).
    pub const fn refusing_through(highest: u64) -> Self {
        Self { highest, seen: None }
    }
}

impl ReplayWindow {
    /// A window that has seen nothing: any sequence number is fresh.
    pub(crate) const fn new() -> Self {
        Self { highest: None, seen: 0 }
    }

    /// A window that treats everything up to and including `highest` as seen.
    #[cfg(test)]
    pub(crate) const fn starting_after(highest: u64) -> Self {
        Self { highest: Some(highest), seen: u128::MAX }
    }

    /// The highest sequence number accepted so far.
    #[cfg(test)]
    pub(crate) const fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// The window as it must be persisted.
    pub(crate) fn state(&self) -> WindowState {
        WindowState {
            highest: self.highest.unwrap_or(0),
            seen: self.highest.map(|_| {
                let half = |x: u128| u64::try_from(x & u128::from(u64::MAX)).unwrap_or(0);
                [half(self.seen >> 64), half(self.seen)]
            }),
        }
    }

    /// The window a persisted state describes. Every number at or below the restored highest
    /// counts as seen unless the bitmap was restored too (then exactly those it marks, and every
    /// number older than the window).
    pub(crate) fn from_state(state: WindowState) -> Self {
        match (state.highest, state.seen) {
            (0, _) => Self::new(),
            (h, Some([hi, lo])) => Self { highest: Some(h), seen: (u128::from(hi) << 64) | u128::from(lo) | 1 },
            (h, None) => Self { highest: Some(h), seen: u128::MAX },
        }
    }

    /// Whether `sequence` would be accepted, without recording it.
    pub(crate) fn is_fresh(&self, sequence: u64) -> bool {
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
    pub(crate) fn accept(&mut self, sequence: u64) -> bool {
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
    fn persisted_windows_restore_exactly_or_conservatively() {
        let mut w = ReplayWindow::new();
        for seq in [1, 2, 5, 9] {
            assert!(w.accept(seq));
        }
        let state = w.state();
        assert_eq!(state.highest, 9);
        // With the bitmap: exactly the same numbers are fresh.
        let mut exact = ReplayWindow::from_state(state);
        for seq in 1..=12 {
            assert_eq!(exact.is_fresh(seq), w.is_fresh(seq), "{seq}");
        }
        assert!(exact.accept(3));
        // Without it: nothing at or below the highest is fresh (spec §5.5).
        let conservative = ReplayWindow::from_state(WindowState::refusing_through(9));
        assert!((1..=9).all(|seq| !conservative.is_fresh(seq)));
        assert!(conservative.is_fresh(10));
        assert_eq!(ReplayWindow::from_state(WindowState::default()), ReplayWindow::new());
    }

    #[test]
    fn restored_windows_refuse_everything_up_to_the_mark() {
        let mut w = ReplayWindow::starting_after(500);
        assert!(!w.accept(500));
        assert!(!w.accept(450));
        assert!(w.accept(501));
    }
}
