//! The whole pipeline in memory on small fleets.

use printfleet_schema::MeterKind;
use printfleet_sim::{Faults, FleetConfig, Kind, Mix, RunError, run_in_memory};

#[test]
fn a_small_fleet_converges_with_every_job_once_and_fewer_bytes_than_naive() {
    let config = FleetConfig { seed: 30, printers: 30, office_jobs: true, ..FleetConfig::default() };
    let s = run_in_memory(&config, 3).unwrap();
    assert_eq!(s.not_converged, Vec::<usize>::new());
    assert_eq!(s.converged, 30);
    assert!(s.jobs_emitted > 100, "{}", s.jobs_emitted);
    assert_eq!(s.jobs_lost, 0);
    assert_eq!(s.jobs_doubled, 0);
    assert_eq!(s.jobs_delivered + s.jobs_lost_with_board, s.jobs_emitted);
    assert!(s.faults.values().sum::<u64>() > 0, "default faults are injected");
    assert_eq!(s.per_kind.len(), 4);
    for k in &s.per_kind {
        assert!(k.ours_per_device_day() > 0);
        assert!(
            k.ours_per_device_day() < k.naive_per_device_day(),
            "{:?}: ours {} naive {}",
            k.kind,
            k.ours_per_device_day(),
            k.naive_per_device_day()
        );
    }
}

#[test]
fn faults_at_a_high_rate_still_converge_without_losing_or_doubling_a_job() {
    let config =
        FleetConfig { seed: 31, printers: 24, faults: Faults::HIGH, office_jobs: true, ..FleetConfig::default() };
    let s = run_in_memory(&config, 4).unwrap();
    assert_eq!(s.not_converged, Vec::<usize>::new(), "{s:#?}");
    assert_eq!(s.jobs_lost, 0);
    assert_eq!(s.jobs_doubled, 0);
    assert!(s.lost > 0, "frames were lost in network-loss windows");
    for kind in printfleet_sim::FaultKind::ALL {
        assert!(s.faults.get(&kind).copied().unwrap_or(0) > 0, "{}", kind.name());
    }
}

#[test]
fn billed_counters_equal_the_true_advance_without_counter_resets() {
    let faults = Faults { counter_reset: 0, ..Faults::default() };
    let config = FleetConfig { seed: 32, printers: 20, faults, ..FleetConfig::default() };
    let s = run_in_memory(&config, 3).unwrap();
    assert!(s.counters.get(&MeterKind::TOTAL).unwrap().0 > 1_000);
    for (kind, (truth, portal)) in &s.counters {
        assert_eq!(truth, portal, "{kind}");
    }
}

#[test]
fn the_run_is_deterministic() {
    let config = FleetConfig { seed: 33, printers: 10, mix: Mix::only(Kind::LargeFormat), ..FleetConfig::default() };
    assert_eq!(run_in_memory(&config, 2).unwrap(), run_in_memory(&config, 2).unwrap());
}

#[test]
fn bad_arguments_are_refused() {
    let config = FleetConfig::default();
    assert!(matches!(run_in_memory(&config, 0), Err(RunError::Days { .. })));
    let config = FleetConfig { printers: 0, ..FleetConfig::default() };
    assert!(matches!(run_in_memory(&config, 1), Err(RunError::Config(_))));
    let ten_minutes = printfleet_schema::DurationMs(10 * 60_000);
    let config = FleetConfig { collector_interval: ten_minutes, ..FleetConfig::default() };
    assert!(matches!(
        printfleet_sim::Fleet::new(config),
        Err(printfleet_sim::ConfigError::CollectorInterval { minutes: 10 })
    ));
}

#[test]
fn coarse_steps_lose_no_job_to_a_reboot() {
    // An hour per step: many jobs are fed in the same step as a reboot of their device. The
    // driver saves a direct agent as soon as an event needs it (as an integrator persists on
    // `SaveRequired`), so the agent restored after the reboot still has them.
    let config = FleetConfig {
        seed: 34,
        printers: 24,
        faults: Faults { reboot: 20_000, ..Faults::default() },
        mix: Mix::only(Kind::LargeFormat),
        ..FleetConfig::default()
    };
    let mut transport = printfleet_sim::InMemory::new(config.seed);
    let hour = printfleet_schema::DurationMs(3_600_000);
    let outcome = printfleet_sim::run_with(&config, 3, hour, &mut transport, &mut |_| {}).unwrap();
    let s = transport.summary(outcome);
    assert!(s.faults.get(&printfleet_sim::FaultKind::Reboot).copied().unwrap_or(0) > 20, "{:?}", s.faults);
    assert!(s.jobs_emitted > 100, "{}", s.jobs_emitted);
    assert_eq!(s.jobs_lost, 0);
    assert_eq!(s.jobs_doubled, 0);
    assert_eq!(s.not_converged, Vec::<usize>::new());
}
