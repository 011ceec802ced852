//! The simulator's randomness: one seeded ChaCha8 stream per device, per site and per purpose,
//! so that a device's story does not depend on how many other devices there are.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Stream numbers: each purpose draws from its own stream of the fleet's seed.
pub(crate) const STREAM_DEVICE: u64 = 1 << 40;
pub(crate) const STREAM_LAYOUT: u64 = 3 << 40;

/// A seeded generator with the few draws the simulator needs (integers only: no floats).
#[derive(Clone, Debug)]
pub(crate) struct SimRng(ChaCha8Rng);

impl SimRng {
    /// The stream `stream` of the fleet seed `seed`.
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        let mut bytes = [0u8; 32];
        let (a, b) = bytes.split_at_mut(8);
        a.copy_from_slice(&seed.to_le_bytes());
        if let Some(b) = b.get_mut(..8) {
            b.copy_from_slice(&stream.to_le_bytes());
        }
        Self(ChaCha8Rng::from_seed(bytes))
    }

    /// A uniform `u64`.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo.saturating_add(self.below(hi.saturating_sub(lo).saturating_add(1)))
    }

    /// True with probability `per_10k` / 10 000.
    pub(crate) fn chance(&mut self, per_10k: u32) -> bool {
        self.below(10_000) < u64::from(per_10k)
    }

    /// True with probability `percent` / 100.
    pub(crate) fn percent(&mut self, percent: u8) -> bool {
        self.below(100) < u64::from(percent)
    }
}
