//! Same seed, same events, byte for byte.

use printfleet_sim::{Faults, FleetConfig, Mix, SimEvent};
use sha2::{Digest, Sha256};

use crate::{hours_after, simulate};

fn digest(events: &[SimEvent]) -> String {
    let mut h = Sha256::new();
    for e in events {
        h.update(format!("{e:?}\n").as_bytes());
    }
    hex::encode(h.finalize())
}

fn config(seed: u64) -> FleetConfig {
    FleetConfig {
        seed,
        printers: 40,
        mix: Mix::default(),
        faults: Faults::HIGH,
        office_jobs: true,
        ..FleetConfig::default()
    }
}

#[test]
fn same_seed_gives_the_same_event_stream() {
    let (_, a) = simulate(&config(7), 4);
    let (_, b) = simulate(&config(7), 4);
    assert!(a.len() > 1_000, "a busy stream: {}", a.len());
    assert_eq!(digest(&a), digest(&b));
    assert_eq!(a, b);
}

#[test]
fn another_seed_gives_another_stream() {
    let (_, a) = simulate(&config(7), 2);
    let (_, b) = simulate(&config(8), 2);
    assert_ne!(digest(&a), digest(&b));
}

#[test]
fn advancing_in_steps_gives_the_same_stream_as_at_once() {
    let c = config(3);
    let (_, whole) = simulate(&c, 3);
    let mut fleet = printfleet_sim::Fleet::new(c.clone()).unwrap();
    let mut parts = Vec::new();
    for h in (0..=72).step_by(5) {
        fleet.advance(hours_after(c.start, h), &mut parts);
    }
    fleet.advance(hours_after(c.start, 72), &mut parts);
    assert_eq!(digest(&whole), digest(&parts));
}

#[test]
fn events_come_in_time_order() {
    let (_, events) = simulate(&config(11), 3);
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn a_device_story_does_not_depend_on_the_fleet_size() {
    // Device 0 is an office mono laser in both (the mix lays kinds out in order).
    let small = FleetConfig { printers: 10, mix: Mix::SDS_STYLE, collector_share: 0, ..config(5) };
    let large = FleetConfig { printers: 20, ..small.clone() };
    let (_, a) = simulate(&small, 2);
    let (_, b) = simulate(&large, 2);
    let of0 = |v: &[SimEvent]| v.iter().filter(|e| e.device == 0).cloned().collect::<Vec<_>>();
    assert_eq!(of0(&a), of0(&b));
}

/// Issue #18: the driver simulates the fleet's next step and runs the naive pipeline while a
/// step's frames are in flight (`Transport::deliver_overlapped`). Running that work before the
/// frames are even delivered changes nothing the agents or the portal see: same figures, same
/// outcome per device (clock drifts in the next step included: the replies keep their step's
/// device time).
#[test]
fn work_overlapped_with_delivery_changes_nothing() {
    use printfleet_auth::{DeviceSecret, KeyEpoch};
    use printfleet_schema::Timestamp;
    use printfleet_sim::{Delivery, Device, InMemory, Outgoing, STEP, Transport, run_with};

    /// Runs the overlapped work first, then delivers.
    struct MeanwhileFirst(InMemory, u64);
    impl Transport for MeanwhileFirst {
        type Error = printfleet_ingest::IngestError;
        fn provision(&mut self, device: &Device) -> Result<DeviceSecret, Self::Error> {
            self.0.provision(device)
        }
        fn new_epoch(&mut self, device: &Device, epoch: KeyEpoch) -> Result<DeviceSecret, Self::Error> {
            self.0.new_epoch(device, epoch)
        }
        fn deliver(
            &mut self,
            one_shot: &[Outgoing],
            sessions: &[(u32, Vec<Outgoing>)],
            now: Timestamp,
        ) -> Result<Vec<Delivery>, Self::Error> {
            self.0.deliver(one_shot, sessions, now)
        }
        fn deliver_overlapped(
            &mut self,
            one_shot: &[Outgoing],
            sessions: &[(u32, Vec<Outgoing>)],
            now: Timestamp,
            meanwhile: &mut dyn FnMut(),
        ) -> Result<Vec<Delivery>, Self::Error> {
            meanwhile();
            self.1 += 1;
            self.0.deliver(one_shot, sessions, now)
        }
    }

    let c = config(5);
    let mut plain = InMemory::new(c.seed);
    let a = run_with(&c, 3, STEP, &mut plain, &mut |_| {}).unwrap();
    let mut first = MeanwhileFirst(InMemory::new(c.seed), 0);
    let b = run_with(&c, 3, STEP, &mut first, &mut |_| {}).unwrap();
    assert!(first.1 > 100, "deliveries overlapped: {}", first.1);
    assert!(a.summary.faults.get(&printfleet_sim::FaultKind::ClockDrift).copied().unwrap_or(0) > 0);
    assert!(a.summary.total().naive > 0 && a.summary.reports > 1_000, "{:?}", a.summary.total());
    assert_eq!(a, b);
    assert_eq!(plain.summary(a), first.0.summary(b));
}
