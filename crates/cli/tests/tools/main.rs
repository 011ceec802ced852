//! `printfleet keygen`, `seal`, `open` and `inspect`, run as an integrator would: the binary,
//! files in a temporary directory, and the portal's own libraries to check that what `seal`
//! makes is a real frame.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use printfleet_auth::{DeviceSecret, FleetMasterKey, KeyEpoch, one_shot, sender_id_of};
use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Ingest, IngestError, Owner, Refusal, ResellerId};
use printfleet_meter::{ContractId, DeviceId};
use printfleet_schema::{Timestamp, samples};
use printfleet_wire::frame::{Keyring, MessageKind, OsRng, RejectReason, from_base64};
use serde_json::Value;

fn printfleet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_printfleet")).args(args).output().unwrap()
}

/// Runs the binary, asserts success, and returns stdout.
fn ok(args: &[&str]) -> String {
    let out = printfleet(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the binary, asserts a clean failure (status 1, not a panic's 101), and returns stderr.
fn fails(args: &[&str]) -> String {
    let out = printfleet(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("printfleet: "), "{stderr}");
    stderr
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn now() -> Timestamp {
    Timestamp::try_from(std::time::SystemTime::now()).unwrap()
}

/// A fleet: a master key made by `keygen --master`, and printer-7's epoch-1 secret derived by
/// `keygen --device` into a key file.
struct Fleet {
    dir: tempfile::TempDir,
    master: PathBuf,
    secret: PathBuf,
}

impl Fleet {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let master = dir.path().join("fleet.key");
        ok(&["keygen", "--master", "--out", s(&master)]);
        let secret = dir.path().join("printer-7.secret");
        ok(&["keygen", "--device", "printer-7", "--epoch", "1", "--master-key", s(&master), "--out", s(&secret)]);
        Self { dir, master, secret }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn key_arg(&self) -> String {
        format!("@{}", self.secret.display())
    }

    fn master_key(&self) -> FleetMasterKey {
        let text = std::fs::read_to_string(&self.master).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap();
        FleetMasterKey::from_bytes(bytes.try_into().unwrap())
    }

    fn write_json(&self, name: &str, value: &impl serde::Serialize) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        path
    }

    /// `printfleet seal` of `input` as printer-7, epoch 1, with `state`: the frame's bytes.
    fn seal(&self, state: &Path, extra: &[&str], input: &Path) -> Vec<u8> {
        let key = self.key_arg();
        let mut args = vec!["seal", "--key", &key, "--device", "printer-7", "--epoch", "1", "--state", s(state)];
        args.extend_from_slice(extra);
        args.push(s(input));
        from_base64(ok(&args).trim()).unwrap()
    }

    /// `printfleet open` of `frame` as printer-7, epoch 1: its JSON.
    fn open(&self, frame: &Path, extra: &[&str]) -> Value {
        let key = self.key_arg();
        let mut args = vec!["open", "--key", &key, "--device", "printer-7", "--epoch", "1"];
        args.extend_from_slice(extra);
        args.push(s(frame));
        serde_json::from_str(&ok(&args)).unwrap()
    }
}

#[test]
fn keygen_seal_open_round_trips_a_report_in_every_codec() {
    let fleet = Fleet::new();
    let report = samples::large_format(3);
    let input = fleet.write_json("report.json", &report);
    let state = fleet.path("printer-7.seq.json");
    for (i, codec) in ["protobuf", "xml", "json"].into_iter().enumerate() {
        let frame = fleet.seal(&state, &["--codec", codec], &input);
        let file = fleet.path(&format!("report-{codec}.frame"));
        std::fs::write(&file, &frame).unwrap();
        let opened = fleet.open(&file, &[]);
        assert_eq!(opened["payload"]["report"], serde_json::to_value(&report).unwrap(), "{codec}");
        assert_eq!(opened["payload"]["kind"], "report");
        assert_eq!(opened["payload"]["codec"], codec);
        assert_eq!(opened["header"]["sequence"], i + 1, "each seal takes the next number");
        assert_eq!(opened["header"]["key_id"], 1);
        assert_eq!(opened["header"]["sender_id"], sender_id_of("printer-7").to_string());
    }
}

#[test]
fn keygen_seal_open_round_trips_an_update_from_its_json_form() {
    let fleet = Fleet::new();
    let state = fleet.path("seq.json");
    for golden in ["update_full.pb", "update_every_part.xml", "update_steady.pb"] {
        // The JSON form, as inspect prints it, is what seal reads.
        let inspected: Value =
            serde_json::from_str(&ok(&["inspect", s(&repo(&format!("crates/diff/testdata/{golden}")))])).unwrap();
        assert_eq!(inspected["kind"], "update", "{golden}");
        let input = fleet.write_json("update.json", &inspected["update"]);
        for codec in ["protobuf", "xml"] {
            let frame = fleet.path("update.frame");
            let key = fleet.key_arg();
            ok(&[
                "seal",
                "--key",
                &key,
                "--device",
                "printer-7",
                "--epoch",
                "1",
                "--state",
                s(&state),
                "--kind",
                "update",
                "--codec",
                codec,
                "--out",
                s(&frame),
                s(&input),
            ]);
            let opened = fleet.open(&frame, &["--direction", "device"]);
            assert_eq!(opened["payload"]["update"], inspected["update"], "{golden} {codec}");
            assert_eq!(opened["header"]["kind"], "update");
        }
        // Updates have no JSON wire encoding.
        let key = fleet.key_arg();
        let err = fails(&[
            "seal",
            "--key",
            &key,
            "--device",
            "printer-7",
            "--epoch",
            "1",
            "--state",
            s(&state),
            "--kind",
            "update",
            "--codec",
            "json",
            s(&input),
        ]);
        assert!(err.contains("protobuf or XML"), "{err}");
    }
}

#[test]
fn keygen_derives_the_secret_the_portal_derives() {
    // crates/auth/testdata/fleet-master.txt, first vector (made with Python's hashlib).
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let bytes: Vec<u8> = (0u8..32).collect();
    std::fs::write(&master, format!("{}\n", base64::engine::general_purpose::STANDARD.encode(&bytes))).unwrap();
    let out = ok(&["keygen", "--device", "printer-17", "--epoch", "1", "--master-key", s(&master)]);
    let secret = base64::engine::general_purpose::STANDARD.decode(out.trim()).unwrap();
    let expected = "f63b91cb952fc700df1ae28157a9ad0f6c59cfddb6e3a0c9c1369e897ead2086";
    assert_eq!(secret.iter().map(|b| format!("{b:02x}")).collect::<String>(), expected);
    // Another epoch, another secret.
    let other = ok(&["keygen", "--device", "printer-17", "--epoch", "2", "--master-key", s(&master)]);
    assert_ne!(other, out);
}

#[test]
fn master_keys_are_private_files_never_overwritten_and_printed_only_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("fleet.key");
    let out = printfleet(&["keygen", "--master", "--out", s(&master)]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "the key is not printed");
    let text = std::fs::read_to_string(&master).unwrap();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&master).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Never overwritten: a fleet's key lost is every device's secret lost.
    let err = fails(&["keygen", "--master", "--out", s(&master)]);
    assert!(err.contains("exists already"), "{err}");
    assert_eq!(std::fs::read_to_string(&master).unwrap(), text);
    // Neither a file nor --stdout: refused, nothing printed.
    let out = printfleet(&["keygen", "--master"]);
    assert!(!out.status.success() && out.stdout.is_empty());
    // Two keys from the OS differ.
    let printed = ok(&["keygen", "--master", "--stdout"]);
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(printed.trim()).unwrap().len(), 32);
    assert_ne!(printed.trim(), text.trim());
    // A device secret needs its epoch and the master key (clap refuses, status 2).
    assert_eq!(printfleet(&["keygen", "--device", "p"]).status.code(), Some(2));
}

#[test]
fn sealed_frames_are_accepted_by_the_portals_ingest_once_and_in_order() {
    let fleet = Fleet::new();
    let mut ingest = Ingest::new(fleet.master_key());
    let owner = Owner { reseller: ResellerId(1), customer: CustomerId(2), contract: ContractId(3) };
    let credentials = vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }];
    let record = DeviceRecord {
        name: "printer-7".into(),
        owner,
        meter_device: DeviceId(7),
        revoked: false,
        credentials,
        collector: None,
    };
    ingest.provision(record).unwrap();

    // A full update (the first contact of an agent), as JSON.
    let update: Value =
        serde_json::from_str(&ok(&["inspect", s(&repo("crates/diff/testdata/update_full.pb"))])).unwrap();
    let state = fleet.path("seq.json");
    let mut rng = OsRng::default();
    let mut input = PathBuf::new();
    for sequence in 1..=2 {
        // Each full update is newer than the last (the receiver ignores one it has applied).
        let mut update = update["update"].clone();
        update["sequence"] = sequence.into();
        input = fleet.write_json("update.json", &update);
        let frame = fleet.seal(&state, &["--kind", "update"], &input);
        let batch = ingest.receive(&frame, now()).unwrap();
        assert!(batch.writes().state.is_some());
        ingest.commit(batch, now(), &mut rng).unwrap();
        // The same frame again is a replay.
        assert!(matches!(
            ingest.receive(&frame, now()),
            Err(IngestError::Rejected(Refusal::Frame(RejectReason::Replay)))
        ));
    }
    // A state file lost: the next frame reuses number 1, and the portal refuses it.
    let frame = fleet.seal(&fleet.path("lost.json"), &["--kind", "update"], &input);
    assert!(matches!(ingest.receive(&frame, now()), Err(IngestError::Rejected(Refusal::Frame(RejectReason::Replay)))));
}

#[test]
fn a_sealed_report_opens_in_a_portal_keyring_and_its_reply_opens_with_direction_portal() {
    let fleet = Fleet::new();
    let input = fleet.write_json("report.json", &samples::office_laser());
    let frame = fleet.seal(&fleet.path("seq.json"), &["--codec", "xml"], &input);

    let secret = fleet.master_key().device_secret("printer-7", KeyEpoch(1));
    let mut ring = Keyring::new();
    ring.insert(sender_id_of("printer-7"), &one_shot::frame_key(&secret, "printer-7", KeyEpoch(1))).unwrap();
    let mut payload = Vec::new();
    let header = ring.open(&frame, &[MessageKind::Report], now(), &mut payload).unwrap();
    assert_eq!(printfleet_wire::Codec::Xml.decode(&payload).unwrap(), samples::office_laser());

    // The portal's reply (an ack, protobuf) opens portal-to-device, and names the frame.
    let reply_payload = std::fs::read(repo("crates/diff/testdata/reply_ack.pb")).unwrap();
    let mut reply = Vec::new();
    ring.seal_reply(
        &header,
        printfleet_wire::Codec::Protobuf,
        &reply_payload,
        now(),
        &mut OsRng::default(),
        &mut reply,
    )
    .unwrap();
    let file = fleet.path("reply.frame");
    std::fs::write(&file, &reply).unwrap();
    let opened = fleet.open(&file, &["--direction", "portal"]);
    assert_eq!(opened["header"]["kind"], "reply");
    assert_eq!(opened["header"]["sequence"], 1);
    assert_eq!(opened["payload"]["reply"]["ack"]["hash"], "16c2e707");
    // The wrong direction fails, and says which to try.
    let key = fleet.key_arg();
    let err = fails(&["open", "--key", &key, "--device", "printer-7", "--epoch", "1", s(&file)]);
    assert!(err.contains("try --direction portal"), "{err}");
    // inspect with the key picks the direction from the kind.
    let inspected: Value =
        serde_json::from_str(&ok(&["inspect", s(&file), "--key", &key, "--device", "printer-7"])).unwrap();
    assert_eq!(inspected["authenticated"], true);
    assert_eq!(inspected["payload"]["reply"], opened["payload"]["reply"]);
}

#[test]
fn the_state_file_never_gives_a_number_twice() {
    let fleet = Fleet::new();
    let input = fleet.write_json("report.json", &samples::inkjet());
    let state = fleet.path("seq.json");
    let sequence = |frame: &[u8]| printfleet_wire::frame::FrameHeader::peek(frame).unwrap().sequence;
    assert_eq!(sequence(&fleet.seal(&state, &[], &input)), 1);
    // A bad input is refused before a number is taken.
    let bad = fleet.path("bad.json");
    std::fs::write(&bad, br#"{"identity": {"serial_number": 7}}"#).unwrap();
    let key = fleet.key_arg();
    let err = fails(&["seal", "--key", &key, "--device", "printer-7", "--epoch", "1", "--state", s(&state), s(&bad)]);
    assert!(err.contains("not a valid report"), "{err}");
    assert_eq!(sequence(&fleet.seal(&state, &[], &input)), 2);
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["reserved_through"], 2);

    // Concurrent seals under one state file each get their own number.
    let frames: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| fleet.seal(&state, &[], &input))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut numbers: Vec<u64> = frames.iter().map(|f| sequence(f)).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [3, 4, 5, 6]);

    // Another device's (or epoch's) state file is refused, naming it.
    let err = fails(&["seal", "--key", &key, "--device", "printer-8", "--epoch", "1", "--state", s(&state), s(&input)]);
    assert!(err.contains("seq.json") && err.contains("does not belong"), "{err}");
    let err = fails(&["seal", "--key", &key, "--device", "printer-7", "--epoch", "2", "--state", s(&state), s(&input)]);
    assert!(err.contains("does not belong"), "{err}");
    // A state file that is not one.
    std::fs::write(fleet.path("junk.json"), "hello").unwrap();
    let err = fails(&[
        "seal",
        "--key",
        &key,
        "--device",
        "printer-7",
        "--epoch",
        "1",
        "--state",
        s(&fleet.path("junk.json")),
        s(&input),
    ]);
    assert!(err.contains("not a seal state file"), "{err}");
}

#[test]
fn inspect_says_what_every_golden_file_is() {
    for sample in ["office_laser", "inkjet", "large_format", "every_field"] {
        for (ext, codec) in [("pb", "protobuf"), ("xml", "xml"), ("json", "json")] {
            let file = repo(&format!("crates/wire/testdata/{sample}.{ext}"));
            let json: Value = serde_json::from_str(&ok(&["inspect", s(&file)])).unwrap();
            assert_eq!((json["format"].as_str(), json["kind"].as_str()), (Some("payload"), Some("report")), "{file:?}");
            assert_eq!(json["codec"], codec, "{file:?}");
            let decoded = printfleet_wire::Codec::Protobuf
                .decode(&std::fs::read(repo(&format!("crates/wire/testdata/{sample}.pb"))).unwrap())
                .unwrap();
            assert_eq!(json["report"], serde_json::to_value(&decoded).unwrap(), "{file:?}");
        }
    }
    for (name, kind) in [
        ("update_full", "update"),
        ("update_steady", "update"),
        ("update_every_part", "update"),
        ("reply_ack", "reply"),
        ("reply_resync", "reply"),
    ] {
        for (ext, codec) in [("pb", "protobuf"), ("xml", "xml")] {
            let file = repo(&format!("crates/diff/testdata/{name}.{ext}"));
            let json: Value = serde_json::from_str(&ok(&["inspect", s(&file)])).unwrap();
            assert_eq!((json["kind"].as_str(), json["codec"].as_str()), (Some(kind), Some(codec)), "{file:?}");
        }
    }
    let steady: Value =
        serde_json::from_str(&ok(&["inspect", s(&repo("crates/diff/testdata/update_steady.pb"))])).unwrap();
    // docs/wire-format.md §5.8's steady-state update, field by field.
    assert_eq!(steady["update"]["sequence"], 14600);
    assert_eq!(steady["update"]["instance"], 0x5eed_cafe_u32);
    assert_eq!(steady["update"]["delta"]["base"]["hash"], "a7b49691");
    assert_eq!(steady["update"]["delta"]["meters"]["total"]["increase"], 57);

    // Golden frames (crates/wire/testdata/frames/README.md): the header without a key, binary
    // or base64.
    let dir = tempfile::tempdir().unwrap();
    for (name, kind, key_id, codec) in [
        ("office_laser-protobuf-aes128-deflate", "report", 7, "protobuf"),
        ("inkjet-json-aes256-plain", "report", 8, "json"),
        ("reply-protobuf-aes128-plain", "reply", 7, "protobuf"),
    ] {
        let file = repo(&format!("crates/wire/testdata/frames/{name}.frame"));
        let b64 = dir.path().join(format!("{name}.b64"));
        std::fs::write(&b64, printfleet_wire::frame::to_base64(&std::fs::read(&file).unwrap()) + "\n").unwrap();
        // As base64(1) writes it: lines of 76 characters.
        let wrapped = dir.path().join(format!("{name}.wrapped.b64"));
        let text = printfleet_wire::frame::to_base64(&std::fs::read(&file).unwrap());
        let lines: Vec<&str> = text.as_bytes().chunks(76).map(|l| std::str::from_utf8(l).unwrap()).collect();
        std::fs::write(&wrapped, lines.join("\n") + "\n").unwrap();
        for (path, encoding) in [(&file, "binary"), (&b64, "base64"), (&wrapped, "base64")] {
            let json: Value = serde_json::from_str(&ok(&["inspect", s(path)])).unwrap();
            assert_eq!((json["format"].as_str(), json["encoding"].as_str()), (Some("frame"), Some(encoding)));
            assert_eq!(json["authenticated"], false);
            let h = &json["header"];
            assert_eq!(
                (h["kind"].as_str(), h["key_id"].as_u64(), h["codec"].as_str()),
                (Some(kind), Some(key_id), Some(codec))
            );
            assert_eq!(h["sender_id"], "0102030405060708");
            assert_eq!(h["sequence"], 1);
            assert_eq!(h["timestamp"], 1_793_610_000_000_u64);
        }
    }
}

#[test]
fn inspect_opens_a_sealed_frame_given_the_key_and_device() {
    let fleet = Fleet::new();
    let input = fleet.write_json("report.json", &samples::office_laser());
    let frame = fleet.path("report.frame");
    let key = fleet.key_arg();
    ok(&[
        "seal",
        "--key",
        &key,
        "--device",
        "printer-7",
        "--epoch",
        "1",
        "--state",
        s(&fleet.path("seq.json")),
        "--out",
        s(&frame),
        s(&input),
    ]);
    let header_only: Value = serde_json::from_str(&ok(&["inspect", s(&frame)])).unwrap();
    assert!(header_only.get("payload").is_none());
    let json: Value =
        serde_json::from_str(&ok(&["inspect", s(&frame), "--key", &key, "--device", "printer-7"])).unwrap();
    assert_eq!(json["authenticated"], true);
    assert_eq!(json["header"], header_only["header"]);
    assert_eq!(json["payload"]["report"], serde_json::to_value(samples::office_laser()).unwrap());
    // Another device's name derives another key.
    let err = fails(&["inspect", s(&frame), "--key", &key, "--device", "printer-8"]);
    assert!(err.contains("frame does not open") && err.contains("--device"), "{err}");
    // The key alone is refused by the command line (status 2): the device name is needed.
    assert_eq!(printfleet(&["inspect", s(&frame), "--key", &key]).status.code(), Some(2));
}

#[test]
fn garbage_gets_a_clear_error_and_a_failure_status_never_a_panic() {
    let fleet = Fleet::new();
    let key = fleet.key_arg();
    let input = fleet.write_json("report.json", &samples::office_laser());
    let frame = fleet.seal(&fleet.path("seq.json"), &[], &input);

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[0]
            })
            .collect()
    };
    let mut flipped = frame.clone();
    flipped[60] ^= 0x01;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("random", random(1000)),
        ("text", b"hello, printer\n".to_vec()),
        ("bad xml", b"<report xmlns=\"urn:printfleet:telemetry:1\"><identity".to_vec()),
        ("entity xml", b"<!DOCTYPE x [<!ENTITY a 'b'>]><report/>".to_vec()),
        ("bad json", b"{\"identity\": ".to_vec()),
        ("truncated frame", frame[..frame.len() - 7].to_vec()),
        ("bad base64", b"AQIDBA=!".to_vec()),
    ];
    for (name, bytes) in &cases {
        let file = fleet.path(name);
        std::fs::write(&file, bytes).unwrap();
        let err = fails(&["inspect", s(&file)]);
        assert!(err.contains("not a sealed frame, nor a report, update or reply"), "{name}: {err}");
        let err = fails(&["open", "--key", &key, "--device", "printer-7", "--epoch", "1", s(&file)]);
        assert!(err.contains("frame does not open"), "{name}: {err}");
    }
    // An altered frame still shows its header, but does not open.
    let file = fleet.path("flipped.frame");
    std::fs::write(&file, &flipped).unwrap();
    ok(&["inspect", s(&file)]);
    let err = fails(&["inspect", s(&file), "--key", &key, "--device", "printer-7"]);
    assert!(err.contains("Authentication"), "{err}");
    // A file over the cap is refused without being read whole (a sparse file: no disk used).
    let huge = fleet.path("huge");
    std::fs::File::create(&huge).unwrap().set_len(printfleet_cli::tools::MAX_INSPECT_BYTES as u64 + 1).unwrap();
    let err = fails(&["inspect", s(&huge)]);
    assert!(err.contains("larger than"), "{err}");
    // Bad keys.
    let err = fails(&["open", "--key", "not base64!", "--device", "printer-7", "--epoch", "1", s(&file)]);
    assert!(err.contains("--key: not base64"), "{err}");
    let short = base64::engine::general_purpose::STANDARD.encode([1u8; 8]);
    let err = fails(&["open", "--key", &short, "--device", "printer-7", "--epoch", "1", s(&file)]);
    assert!(err.contains("shorter than the minimum"), "{err}");
    let _ = DeviceSecret::from_bytes(&[1; 16]).unwrap();
}
