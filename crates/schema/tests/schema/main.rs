//! Integration tests of printfleet-schema, compiled as one binary (hickory's layout).
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod json;
mod validation;
