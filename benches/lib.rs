//! criterion benchmarks of the printfleet crates; see `benches/` and `README.md`. This library
//! holds what several benchmarks share.

// Benchmark inputs on fixed samples: small numbers that cannot overflow.
#![allow(clippy::arithmetic_side_effects)]

use printfleet_agent::{AgentError, AgentState};
use printfleet_meter::{
    Category, CategoryTerms, ContractId, Device, DeviceId, Meter, MeterConfig, MeterError, ModelClass, Price, Terms,
};
use printfleet_schema::{DeviceReport, Level, MeterKind, Timestamp, samples};

/// The office printer after `step` polls, without jobs: the first four consumables' levels and
/// the total, mono and colour meters move (a steady-state change of 4 levels and 3 meters).
pub fn reading(step: u64) -> DeviceReport {
    let mut r = samples::office_laser();
    r.events.print_jobs.clear();
    let level = u32::try_from(10 + step % 50).unwrap_or(u32::MAX);
    for c in r.snapshot.consumables.iter_mut().take(4) {
        c.level = Level::Amount(level);
    }
    for kind in [MeterKind::TOTAL, MeterKind::MONO, MeterKind::COLOUR] {
        let v = r.snapshot.meters.get(&kind).unwrap_or(0);
        r.snapshot.meters.set(kind, v.saturating_add(step));
    }
    r
}

/// A store for `DeviceAgent::poll_transmit_saving` that keeps nothing (a benchmark measures the
/// agent, not a disk).
pub fn store_nothing(_: &AgentState) -> Result<(), AgentError> {
    Ok(())
}

/// The contract of the metering benchmarks (`meter`, `pipeline`): monthly, `total` at 0.8 minor
/// units a page.
pub fn fleet_terms() -> Result<Terms, MeterError> {
    let mut terms = Terms::default();
    terms.prices.insert(Category::TOTAL, CategoryTerms::flat(Price::new(8, 10)?));
    Ok(terms)
}

/// A meter with contract 1 on [`fleet_terms`] from `starts` and `printers` office printers,
/// `DeviceId(0)` to `DeviceId(printers - 1)`, serials `SN00000`, `SN00001`, ...
pub fn fleet_meter(printers: u64, starts: Timestamp) -> Result<Meter, MeterError> {
    let mut m = Meter::new(MeterConfig::default());
    m.add_contract(ContractId(1), fleet_terms()?, starts)?;
    for p in 0..printers {
        let device = Device { contract: ContractId(1), serial: format!("SN{p:05}"), class: ModelClass::OFFICE };
        m.add_device(DeviceId(p), device)?;
    }
    Ok(m)
}
