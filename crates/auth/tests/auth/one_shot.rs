//! One-shot mode: per-device frame keys from the shared secret and a key epoch; the portal asks
//! its store for every frame, so revocation takes effect on the next one.

use std::cell::RefCell;
use std::collections::HashMap;

use printfleet_auth::one_shot::{self, DeviceLookup, FleetStore, Portal, PortalError, SecretLookup, SecretStore};
use printfleet_auth::{DeviceSecret, FleetMasterKey, KeyEpoch, sender_id_of};
use printfleet_wire::Codec;
use printfleet_wire::frame::{DeviceChannel, Keyring, MessageKind, RejectReason, SenderId};

use super::{Rng, t};

const REPORT: &[MessageKind] = &[MessageKind::Report];

/// A registry: (device, epoch) -> secret, with revocations and an outage switch.
#[derive(Default)]
struct Registry {
    secrets: HashMap<(String, u32), DeviceSecret>,
    revoked: RefCell<Vec<(String, u32)>>,
    down: RefCell<bool>,
}

impl SecretStore for Registry {
    fn lookup(&self, sender: SenderId, epoch: KeyEpoch) -> SecretLookup {
        if *self.down.borrow() {
            return SecretLookup::Unavailable;
        }
        let Some(((device, _), secret)) =
            self.secrets.iter().find(|((d, e), _)| sender_id_of(d) == sender && *e == epoch.0)
        else {
            return SecretLookup::Unknown;
        };
        if self.revoked.borrow().contains(&(device.clone(), epoch.0)) {
            return SecretLookup::Revoked;
        }
        SecretLookup::Found { device: device.clone(), secret: secret.clone() }
    }
}

fn channel(secret: &DeviceSecret, device: &str, epoch: u32) -> DeviceChannel {
    let mut c = one_shot::device_channel(secret, device, KeyEpoch(epoch));
    let r = c.reserve();
    c.reservation_saved(r).unwrap();
    c
}

fn frame(c: &mut DeviceChannel) -> Vec<u8> {
    let mut f = Vec::new();
    c.seal(MessageKind::Report, Codec::Json, b"{\"generated_at\":1}", t(0), &mut Rng(1), &mut f).unwrap();
    f
}

#[test]
fn only_the_device_itself_can_produce_frames_the_portal_accepts() {
    let secret = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
    let other = DeviceSecret::from_bytes(&[0x12; 32]).unwrap();
    let mut registry = Registry::default();
    registry.secrets.insert(("plotter-3".into(), 1), secret.clone());
    let mut portal = Portal::new(registry);
    let mut device = channel(&secret, "plotter-3", 1);
    let f = frame(&mut device);
    portal.open(&f, REPORT, t(10), &mut Vec::new()).unwrap();
    assert!(
        matches!(portal.open(&f, REPORT, t(10), &mut Vec::new()), Err(PortalError::Rejected(r)) if r.reason() == RejectReason::Replay)
    );
    let forged = frame(&mut channel(&other, "plotter-3", 1));
    assert!(portal.open(&forged, REPORT, t(10), &mut Vec::new()).is_err(), "another secret");
    let elsewhere = frame(&mut channel(&secret, "plotter-4", 1));
    assert_eq!(portal.open(&elsewhere, REPORT, t(10), &mut Vec::new()), Err(PortalError::UnknownDevice));
}

/// The sender id is derived from the device name, not chosen: a device cannot send under
/// another's id, even with a registry that maps it.
#[test]
fn the_sender_id_is_the_device_names() {
    let secret = DeviceSecret::from_bytes(&[0x13; 32]).unwrap();
    let c = one_shot::device_channel(&secret, "plotter-3", KeyEpoch(1));
    assert_eq!(c.sender(), sender_id_of("plotter-3"));
    assert_eq!(c.key_id().0, 1);
}

#[test]
fn epochs_rotate_with_an_overlap_and_revocation_closes_the_door_at_once() {
    let old = DeviceSecret::from_bytes(&[0x21; 32]).unwrap();
    let new = DeviceSecret::from_bytes(&[0x22; 32]).unwrap();
    let mut registry = Registry::default();
    registry.secrets.insert(("d".into(), 1), old.clone());
    registry.secrets.insert(("d".into(), 2), new.clone());
    let mut portal = Portal::new(registry);
    let (mut dev_old, mut dev_new) = (channel(&old, "d", 1), channel(&new, "d", 2));
    portal.open(&frame(&mut dev_old), REPORT, t(0), &mut Vec::new()).unwrap();
    portal.open(&frame(&mut dev_new), REPORT, t(0), &mut Vec::new()).unwrap();
    // Epoch 1 is revoked while its key is cached: the very next frame is refused.
    portal_store(&portal).revoked.borrow_mut().push(("d".into(), 1));
    assert_eq!(portal.open(&frame(&mut dev_old), REPORT, t(0), &mut Vec::new()), Err(PortalError::Revoked));
    assert!(!portal.keyring().contains(sender_id_of("d"), printfleet_wire::frame::KeyId(1)));
    portal.open(&frame(&mut dev_new), REPORT, t(0), &mut Vec::new()).unwrap();
    // A store outage is neither an acceptance nor a rejection of the device.
    *portal_store(&portal).down.borrow_mut() = true;
    assert_eq!(portal.open(&frame(&mut dev_new), REPORT, t(0), &mut Vec::new()), Err(PortalError::StoreUnavailable));
}

fn portal_store(portal: &Portal<Registry>) -> &Registry {
    portal.store()
}

#[test]
fn a_restarted_portal_with_saved_windows_refuses_replays() {
    let secret = DeviceSecret::from_bytes(&[0x31; 32]).unwrap();
    let mut registry = Registry::default();
    registry.secrets.insert(("p".into(), 1), secret.clone());
    let mut portal = Portal::new(registry);
    let mut device = channel(&secret, "p", 1);
    let f = frame(&mut device);
    portal.open(&f, REPORT, t(0), &mut Vec::new()).unwrap();
    let saved = serde_json::to_string(&portal.keyring().state()).unwrap();

    let mut registry = Registry::default();
    registry.secrets.insert(("p".into(), 1), secret);
    let mut restarted = Portal::with_keyring(registry, Keyring::from_state(&serde_json::from_str(&saved).unwrap()));
    assert!(
        matches!(restarted.open(&f, REPORT, t(0), &mut Vec::new()), Err(PortalError::Rejected(r)) if r.reason() == RejectReason::Replay)
    );
    restarted.open(&frame(&mut device), REPORT, t(0), &mut Vec::new()).unwrap();
}

#[test]
fn fleet_master_keys_derive_distinct_per_device_secrets() {
    let master = FleetMasterKey::from_bytes([0x77; 32]);
    let a1 = master.device_secret("a", 1);
    let directory = |sender: SenderId, epoch: KeyEpoch| {
        if sender == sender_id_of("a") && epoch == KeyEpoch(1) {
            DeviceLookup::Active("a".into())
        } else if sender == sender_id_of("b") {
            DeviceLookup::Active("b".into())
        } else {
            DeviceLookup::Unknown
        }
    };
    let mut portal = Portal::new(FleetStore::new(FleetMasterKey::from_bytes([0x77; 32]), directory));
    portal.open(&frame(&mut channel(&a1, "a", 1)), REPORT, t(0), &mut Vec::new()).unwrap();
    assert!(
        portal.open(&frame(&mut channel(&a1, "b", 1)), REPORT, t(0), &mut Vec::new()).is_err(),
        "b's secret is not a's"
    );
    assert!(
        portal.open(&frame(&mut channel(&a1, "a", 2)), REPORT, t(0), &mut Vec::new()).is_err(),
        "epoch 2 is unknown"
    );
    assert_eq!(format!("{master:?}"), "FleetMasterKey(<redacted>)");
    assert_eq!(format!("{a1:?}"), "DeviceSecret(<redacted>)");
}
