//! Integration tests of printfleet-meter, one binary: the scenarios, invoices,
//! exports, saved state and properties.
// Test helpers outside #[test] functions: a panic there is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod categories;
mod export;
mod invoices;
mod properties;
mod scenarios;
mod util;
