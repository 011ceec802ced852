//! printfleet-sim's integration tests, one binary.

// Test code on fixed, small inputs: a failure is a bug to see at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod determinism;
mod faults;
mod pipeline;
mod targets;

use printfleet_schema::{DurationMs, Timestamp};
use printfleet_sim::{Fleet, FleetConfig, SimEvent};

/// `start` plus `hours`.
pub fn hours_after(start: Timestamp, hours: u64) -> Timestamp {
    start.checked_add(DurationMs(hours * 3_600_000)).unwrap()
}

/// The events of `config`'s fleet over `days`.
pub fn simulate(config: &FleetConfig, days: u64) -> (Fleet, Vec<SimEvent>) {
    let mut fleet = Fleet::new(config.clone()).unwrap();
    let mut events = Vec::new();
    fleet.advance(hours_after(config.start, days * 24), &mut events);
    (fleet, events)
}
