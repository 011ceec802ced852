//! One-shot mode: per-device frame keys from the shared secret and a key epoch.

use printfleet_auth::one_shot::{device_sealer, fleet_opener, portal_opener};
use printfleet_auth::{DeviceSecret, FleetMasterKey};
use printfleet_wire::Codec;

use super::{Rng, t};

fn frame(secret: &DeviceSecret, device: &str, epoch: u32, sender: u64) -> Vec<u8> {
    let mut f = Vec::new();
    device_sealer(secret, device, epoch, sender)
        .seal(Codec::Json, b"{\"generated_at\":1}", t(0), &mut Rng(1), &mut f)
        .unwrap();
    f
}

#[test]
fn only_the_device_itself_can_produce_frames_the_portal_accepts() {
    let secret = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
    let other = DeviceSecret::from_bytes(&[0x12; 32]).unwrap();
    let store = |epoch: u32| (epoch == 1).then(|| secret.clone());
    let mut portal = portal_opener(store, "plotter-3", 3, 1, None).unwrap();
    portal.open(&frame(&secret, "plotter-3", 1, 3), t(10), &mut Vec::new()).unwrap();
    let mut portal = portal_opener(store, "plotter-3", 3, 1, None).unwrap();
    assert!(portal.open(&frame(&other, "plotter-3", 1, 3), t(10), &mut Vec::new()).is_err(), "another secret");
    assert!(portal.open(&frame(&secret, "plotter-4", 1, 3), t(10), &mut Vec::new()).is_err(), "another device name");
    let f = frame(&secret, "plotter-3", 1, 3);
    portal.open(&f, t(10), &mut Vec::new()).unwrap();
    assert!(portal.open(&f, t(10), &mut Vec::new()).is_err(), "replay");
}

#[test]
fn epochs_rotate_with_an_overlap_and_revocation_closes_the_door() {
    let old = DeviceSecret::from_bytes(&[0x21; 32]).unwrap();
    let new = DeviceSecret::from_bytes(&[0x22; 32]).unwrap();
    let store = |epoch: u32| match epoch {
        1 => Some(old.clone()),
        2 => Some(new.clone()),
        _ => None,
    };
    let mut portal = portal_opener(store, "d", 9, 2, Some(1)).unwrap();
    portal.open(&frame(&old, "d", 1, 9), t(0), &mut Vec::new()).unwrap();
    portal.open(&frame(&new, "d", 2, 9), t(0), &mut Vec::new()).unwrap();
    let mut after = portal_opener(store, "d", 9, 2, None).unwrap();
    assert!(after.open(&frame(&old, "d", 1, 9), t(0), &mut Vec::new()).is_err());
    let revoked = |_: u32| -> Option<DeviceSecret> { None };
    assert!(portal_opener(revoked, "d", 9, 2, Some(1)).is_none());
}

#[test]
fn fleet_master_keys_derive_distinct_per_device_secrets() {
    let master = FleetMasterKey::from_bytes([0x77; 32]);
    let a1 = master.device_secret("a", 1);
    let mut portal = fleet_opener(&master, "a", 1, 1, None);
    portal.open(&frame(&a1, "a", 1, 1), t(0), &mut Vec::new()).unwrap();
    let mut portal_b = fleet_opener(&master, "b", 1, 1, None);
    assert!(portal_b.open(&frame(&a1, "b", 1, 1), t(0), &mut Vec::new()).is_err(), "b's secret is not a's");
    let mut portal_e2 = fleet_opener(&master, "a", 1, 2, None);
    assert!(portal_e2.open(&frame(&a1, "a", 1, 1), t(0), &mut Vec::new()).is_err(), "epoch 2 is another secret");
    assert_eq!(format!("{master:?}"), "FleetMasterKey(<redacted>)");
    assert_eq!(format!("{a1:?}"), "DeviceSecret(<redacted>)");
}
