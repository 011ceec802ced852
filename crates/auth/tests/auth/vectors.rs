//! Known-answer vectors from `crates/auth/testdata/` (made by `make_vectors.py` with Python's
//! hashlib, independently of the crate), one test per file. The full SCRAM exchange with a binary
//! secret (`scram-binary-secret.txt`) needs fixed nonces and is checked by the unit tests in
//! `src/session.rs`.

use std::collections::BTreeMap;

use base64::Engine as _;
use printfleet_auth::{
    ClientHandshake, DecoyKey, DeviceSecret, FleetMasterKey, KeyEpoch, Lookup, ServerConfig, VerifierStore, one_shot,
    sender_id_of, server_start,
};

use printfleet_wire::frame::{DeviceChannel, FrameKey, KeyId, Keyring, MessageKind};

use super::{Rng, t};

/// The `key = value` cases of a vector file: blank lines between cases, `#` comments.
fn cases(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = vec![BTreeMap::new()];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if line.trim().is_empty() {
            if !out.last().unwrap().is_empty() {
                out.push(BTreeMap::new());
            }
            continue;
        }
        let (k, v) = line.split_once(" = ").unwrap();
        out.last_mut().unwrap().insert(k.to_owned(), v.to_owned());
    }
    out.retain(|c| !c.is_empty());
    assert!(!out.is_empty(), "a vector file without cases");
    out
}

#[test]
fn fleet_master_key_to_device_secret() {
    for c in cases(include_str!("../../testdata/fleet-master.txt")) {
        let master = FleetMasterKey::from_bytes(hex::decode(&c["master"]).unwrap().try_into().unwrap());
        let epoch = KeyEpoch(c["epoch"].parse().unwrap());
        let derived = master.device_secret(&c["device"], epoch);
        let expected = DeviceSecret::from_bytes(&hex::decode(&c["secret"]).unwrap()).unwrap();
        // The bytes handed to the device at provisioning are the vector's.
        assert_eq!(*derived.to_bytes(), hex::decode(&c["secret"]).unwrap(), "{c:?}");
        // Secrets are not comparable: a frame sealed under the derived one opens under the
        // expected one, and not under another epoch's.
        let mut frame = Vec::new();
        let mut device = one_shot::device_channel(&derived, "x", KeyEpoch(1));
        let reservation = device.reserve_block(1);
        device.reservation_saved(reservation).unwrap();
        device.seal(MessageKind::Report, printfleet_wire::Codec::Json, b"{}", t(0), &mut Rng(3), &mut frame).unwrap();
        let opens_under = |secret: &DeviceSecret| {
            let mut ring = Keyring::new();
            ring.insert(sender_id_of("x"), &one_shot::frame_key(secret, "x", KeyEpoch(1))).unwrap();
            ring.open(&frame, &[MessageKind::Report], t(0), &mut Vec::new()).is_ok()
        };
        assert!(opens_under(&expected), "{c:?}");
        let other = master.device_secret(&c["device"], KeyEpoch(epoch.0.wrapping_add(1)));
        assert!(!opens_under(&other), "{c:?}");
    }
}

#[test]
fn device_name_to_sender_id() {
    for c in cases(include_str!("../../testdata/sender-id.txt")) {
        assert_eq!(format!("{:016x}", sender_id_of(&c["device"]).0), c["sender-id"], "{c:?}");
    }
}

struct Nobody;
impl VerifierStore for Nobody {
    fn lookup(&self, _: &str, _: KeyEpoch) -> Lookup {
        Lookup::Unknown
    }
}

#[test]
fn decoy_salt_for_a_fixed_decoy_key() {
    let secret = DeviceSecret::from_bytes(&[0x11; 32]).unwrap();
    for c in cases(include_str!("../../testdata/decoy-salt.txt")) {
        let key = DecoyKey::from_bytes(hex::decode(&c["decoy-key"]).unwrap().try_into().unwrap());
        let config = ServerConfig::new(key).with_decoy_parameters(4096, c["salt-bytes"].parse().unwrap()).unwrap();
        let epoch = KeyEpoch(c["epoch"].parse().unwrap());
        let (_, hello) = ClientHandshake::start(&c["device"], &secret, epoch, &mut Rng(1), t(0)).unwrap();
        let (_, challenge) = server_start(&hello, &Nobody, &config, &mut Rng(2), t(0)).unwrap();
        let salt = challenge.split(',').find_map(|p| p.strip_prefix("s=")).unwrap();
        let salt = base64::engine::general_purpose::STANDARD.decode(salt).unwrap();
        assert_eq!(hex::encode(salt), c["salt"], "{c:?}");
    }
}

#[test]
fn one_shot_frame_keys() {
    for c in cases(include_str!("../../testdata/one-shot.txt")) {
        let secret = DeviceSecret::from_bytes(&hex::decode(&c["secret"]).unwrap()).unwrap();
        let epoch = KeyEpoch(c["epoch"].parse().unwrap());
        let expected: [u8; 32] = hex::decode(&c["frame-key"]).unwrap().try_into().unwrap();
        let vector_key = FrameKey::from_array(&expected, KeyId(epoch.0), one_shot::SUITE);
        // Keys are not comparable: a frame sealed under the vector's key opens under the derived
        // one, and the other way round.
        let sender = sender_id_of(&c["device"]);
        for (seal_with, open_with) in [
            (&vector_key, &one_shot::frame_key(&secret, &c["device"], epoch)),
            (&one_shot::frame_key(&secret, &c["device"], epoch), &vector_key),
        ] {
            let mut device = DeviceChannel::new(sender, seal_with);
            let reservation = device.reserve_block(1);
            device.reservation_saved(reservation).unwrap();
            let mut frame = Vec::new();
            device
                .seal(MessageKind::Report, printfleet_wire::Codec::Json, b"{}", t(0), &mut Rng(4), &mut frame)
                .unwrap();
            let mut ring = Keyring::new();
            ring.insert(sender, open_with).unwrap();
            ring.open(&frame, &[MessageKind::Report], t(0), &mut Vec::new()).unwrap_or_else(|e| panic!("{c:?}: {e:?}"));
        }
    }
}
