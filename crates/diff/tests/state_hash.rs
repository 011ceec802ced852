//! State-hash vectors (docs/wire-format.md §5.8, "State hash"): for each golden update in
//! `testdata/`, the canonical protobuf bytes the hash covers and the hash, of the state before the
//! update (its base) and after it. The files `testdata/<update>.state-hash.txt` are the known
//! answers another implementation checks itself against; this test recomputes every value from
//! the golden update files and fails if any changes.
//!
//! Regenerate (only for a deliberate wire change):
//! `PRINTFLEET_BLESS=1 cargo test -p printfleet-diff --test state_hash`.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use printfleet_diff::sync::{Reply, StateHash, UpdateBody};
use printfleet_diff::{DeviceState, apply};
use printfleet_schema::{DeviceReport, Timestamp, samples};
use printfleet_wire::protobuf;
use sha2::{Digest, Sha256};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}

fn from_hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// The bytes the state hash covers, built the way the spec words it: the protobuf encoding of a
/// report with the state's identity and snapshot and `generated_at` 0, without its `events`
/// field. A report's own encoding always writes `events` (`22 00` when empty, as the last field),
/// so the hashed bytes are that encoding without those two bytes.
fn hashed_bytes(state: &DeviceState) -> Vec<u8> {
    let report = DeviceReport {
        generated_at: Timestamp::UNIX_EPOCH,
        identity: state.identity.clone(),
        snapshot: state.snapshot.clone(),
        ..DeviceReport::default()
    };
    let mut bytes = Vec::new();
    protobuf::encode(&report, &mut bytes).unwrap();
    assert_eq!(bytes.split_off(bytes.len() - 2), [0x22, 0x00], "a report ends with its empty events field");
    bytes
}

/// The first 4 bytes of SHA-256, big-endian: computed here with `sha2` directly, not through
/// `StateHash::of`, so that the two are checked against each other.
fn short_sha256(bytes: &[u8]) -> u32 {
    let digest = Sha256::digest(bytes);
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// `key = value` lines; `#` starts a comment line.
fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(" = ").unwrap_or_else(|| panic!("not `key = value`: {l}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// One side of a vector: the hashed bytes and the hash, each checked three ways.
fn check_side(vector: &BTreeMap<String, String>, side: &str, state: &DeviceState, file: &str) -> StateHash {
    let bytes = hashed_bytes(state);
    let want_bytes = from_hex(&vector[&format!("{side}_bytes")]);
    assert!(bytes == want_bytes, "{file}: {side}_bytes changed");
    let want_hash = u32::from_str_radix(&vector[&format!("{side}_hash")], 16).unwrap();
    assert_eq!(short_sha256(&want_bytes), want_hash, "{file}: {side}_hash is not the SHA-256 of {side}_bytes");
    assert_eq!(StateHash::of(state), StateHash(want_hash), "{file}: StateHash::of disagrees with {side}_hash");
    // The hashed bytes are a valid report encoding (no events, time 0) of the same state.
    let report = protobuf::decode(&want_bytes).unwrap();
    assert_eq!(DeviceState::from(&report), *state, "{file}: {side}_bytes decode to another state");
    assert!(report.events.is_empty() && report.generated_at.unix_millis() == 0);
    StateHash(want_hash)
}

fn render(header: &str, sides: &[(&str, &DeviceState)]) -> String {
    let mut out = String::from(header);
    for (side, state) in sides {
        let bytes = hashed_bytes(state);
        writeln!(out, "{side}_bytes = {}", to_hex(&bytes)).unwrap();
        writeln!(out, "{side}_hash = {:08x}", short_sha256(&bytes)).unwrap();
    }
    out
}

/// Checks (or with `PRINTFLEET_BLESS` writes) one vector file and returns the after-state hash.
fn vector(update: &str, base: Option<DeviceState>) -> StateHash {
    let file = format!("{update}.state-hash.txt");
    let decoded = protobuf::decode_update(&std::fs::read(testdata(&format!("{update}.pb"))).unwrap()).unwrap();
    let (before, after) = match (&decoded.body, base) {
        (UpdateBody::Full(state), None) => (None, (**state).clone()),
        (UpdateBody::Delta { base: named, delta }, Some(base)) => {
            let after = apply(&base, delta).unwrap();
            // The base the golden update names is this state, by its hash.
            assert_eq!(named.hash, StateHash::of(&base), "{update}.pb names another base");
            (Some(base), after)
        }
        _ => panic!("{update}.pb: unexpected body"),
    };
    let header = format!(
        "# State-hash vector for {update}.pb (docs/wire-format.md 5.8, \"State hash\").\n\
         # *_bytes: the canonical protobuf the hash covers (a DeviceReport with the state's identity\n\
         # and snapshot, generated_at 0, no events field), hex; *_hash: the first 4 bytes of its\n\
         # SHA-256, as 8 hex digits.\n\
         # {}\n\
         # Checked by crates/diff/tests/state_hash.rs.\n",
        if before.is_some() {
            "before: the base the delta names; after: the base with the delta applied."
        } else {
            "A full update has no base; after: the state it carries."
        },
    );
    let sides: Vec<(&str, &DeviceState)> =
        before.iter().map(|b| ("before", b)).chain(std::iter::once(("after", &after))).collect();
    let path = testdata(&file);
    if std::env::var_os("PRINTFLEET_BLESS").is_some() {
        std::fs::write(&path, render(&header, &sides)).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parsed = parse(&text);
    let mut hashes = sides.iter().map(|(side, state)| check_side(&parsed, side, state, &file));
    if before.is_none() {
        assert!(!parsed.contains_key("before_bytes"), "{file}: a full update has no before state");
    }
    hashes.next_back().unwrap()
}

#[test]
fn update_steady_state_hashes() {
    let after = vector("update_steady", Some(DeviceState::from(&samples::office_laser())));
    // The golden Ack answers update_steady with the real hash of the state it produced, so an
    // agent that checks the hash (as §5.8 says) keeps sending deltas.
    let ack = protobuf::decode_reply(&std::fs::read(testdata("reply_ack.pb")).unwrap()).unwrap();
    let Reply::Ack { state, .. } = ack else { panic!("reply_ack.pb is not an ack") };
    assert_eq!((state.sequence, state.hash), (14_600, after), "reply_ack.pb does not name update_steady's state");
}

#[test]
fn update_every_part_state_hashes() {
    vector("update_every_part", Some(DeviceState::from(&samples::large_format(0))));
}

#[test]
fn update_full_state_hash() {
    vector("update_full", None);
}
