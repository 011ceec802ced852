//! The two-party harness: device and portal in memory, on a fake clock.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod one_shot;
mod session;
mod vectors;

use printfleet_schema::Timestamp;

/// A seeded CSPRNG: distinct streams per seed, reproducible failures.
#[allow(non_snake_case)]
pub(crate) fn Rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    rand_core::SeedableRng::seed_from_u64(seed)
}

pub(crate) fn t(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(1_793_610_000_000 + ms).unwrap()
}
