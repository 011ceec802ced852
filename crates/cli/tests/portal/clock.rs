//! The portal's injected clock (`PortalConfig::clock`) and `RunningPortal::reload_registry`,
//! in process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use printfleet_agent::{DeviceAgent, Schedule};
use printfleet_auth::one_shot;
use printfleet_cli::client::{ClientError, OneShotClient, PortalTrust};
use printfleet_cli::portal::{Db, DeviceSpec, PortalConfig, RunningPortal, provision};
use printfleet_diff::sync::Instance;
use printfleet_ingest::{CustomerId, ResellerId};
use printfleet_meter::{ContractId, DeviceId};
use printfleet_schema::{Redaction, Timestamp, samples};
use printfleet_wire::frame::OsRng;

const DAY_MS: u64 = 86_400_000;

fn spec(name: &str) -> DeviceSpec {
    DeviceSpec {
        name: name.into(),
        reseller: ResellerId(1),
        customer: CustomerId(1),
        contract: ContractId(1),
        meter_device: DeviceId(1),
        collector: None,
    }
}

/// A frame of `name` sealed at `at`.
fn frame(secret: &printfleet_auth::DeviceSecret, name: &str, at: Timestamp) -> Vec<u8> {
    let key = one_shot::frame_key(secret, name, printfleet_cli::portal::FIRST_EPOCH);
    let sender = printfleet_auth::sender_id_of(name);
    let mut agent = DeviceAgent::new(sender, &key, Redaction::drop_all(), Schedule::direct(), Instance(1));
    agent.handle_reading(at, samples::office_laser());
    agent
        .poll_transmit_saving(at, &mut OsRng::default(), |_| Ok::<(), printfleet_agent::AgentError>(()))
        .unwrap()
        .unwrap()
        .frame
}

#[test]
fn frame_times_are_checked_against_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Sqlite(dir.path().join("portal.db"));
    let state = dir.path().join("state");
    let device = provision(&state, &mut *db.open().unwrap(), spec("printer-1")).unwrap();
    // Simulated time: 40 days from now, beyond the 24-hour clock-skew limit of the real clock.
    let real = Timestamp::try_from(std::time::SystemTime::now()).unwrap();
    let simulated = Arc::new(AtomicU64::new(real.unix_millis() + 40 * DAY_MS));
    let time = simulated.clone();
    let portal = RunningPortal::start(
        PortalConfig::new(db, &state)
            .https_listen("127.0.0.1:0".parse().unwrap())
            .tcp_listen("127.0.0.1:0".parse().unwrap())
            .clock(Arc::new(move || Timestamp::from_unix_millis(time.load(Ordering::Relaxed)).unwrap())),
    )
    .unwrap();
    let trust = PortalTrust::from_ca_pem(portal.ca_pem()).unwrap();
    let client =
        OneShotClient::new(&format!("https://localhost:{}", portal.https_addr().port()), &trust, None).unwrap();

    // Sealed at the real time: 40 days behind the portal's clock, refused.
    let stale = frame(&device.secret, "printer-1", real);
    assert!(matches!(client.post_frame(&stale), Err(ClientError::Rejected)));
    // Sealed at the simulated time: accepted.
    let at = Timestamp::from_unix_millis(simulated.load(Ordering::Relaxed)).unwrap();
    assert!(client.post_frame(&frame(&device.secret, "printer-1", at)).is_ok());
    assert_eq!(portal.counters().frames_accepted, 1);
    assert_eq!(portal.counters().rejected_total(), 1);
    portal.shutdown();
}

#[test]
fn reload_registry_makes_a_device_provisioned_while_running_known_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Sqlite(dir.path().join("portal.db"));
    let state = dir.path().join("state");
    let first = provision(&state, &mut *db.open().unwrap(), spec("printer-1")).unwrap();
    let portal = RunningPortal::start(
        PortalConfig::new(db.clone(), &state)
            .https_listen("127.0.0.1:0".parse().unwrap())
            .tcp_listen("127.0.0.1:0".parse().unwrap())
            .registry_refresh(Duration::from_secs(3600)),
    )
    .unwrap();
    let trust = PortalTrust::from_ca_pem(portal.ca_pem()).unwrap();
    let client =
        OneShotClient::new(&format!("https://localhost:{}", portal.https_addr().port()), &trust, None).unwrap();
    let now = Timestamp::try_from(std::time::SystemTime::now()).unwrap();
    assert!(client.post_frame(&frame(&first.secret, "printer-1", now)).is_ok());
    // A frame of an unknown device spends the unknown-device reload (rate-limited to one a
    // second) ...
    let ghost = printfleet_auth::DeviceSecret::from_bytes(&[9; 32]).unwrap();
    assert!(matches!(client.post_frame(&frame(&ghost, "ghost", now)), Err(ClientError::Rejected)));
    // ... so a device provisioned now is only known after an explicit reload.
    let second = provision(&state, &mut *db.open().unwrap(), spec("printer-2")).unwrap();
    portal.reload_registry().unwrap();
    assert!(client.post_frame(&frame(&second.secret, "printer-2", now)).is_ok());
    assert_eq!(portal.counters().frames_accepted, 2);
    portal.shutdown();
}
