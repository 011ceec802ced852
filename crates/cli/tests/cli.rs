//! The `printfleet` binary, run as a user would.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

fn printfleet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_printfleet")).args(args).output().unwrap()
}

#[test]
fn mib_prints_the_mapped_report_of_a_real_capture() {
    // LibreNMS tests/snmpsim/epson.snmprec (commit 490710c6c9da3d4222e5649b082a63a1b91b072b).
    let capture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/third-party/librenms/printer-mib/epson.snmprec");
    let out = printfleet(&["mib", capture.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["identity"]["make"], "Epson");
    assert_eq!(json["identity"]["mac_address"], "9c:ae:d3:aa:d6:c5");
    assert_eq!(json["snapshot"]["consumables"].as_array().unwrap().len(), 4);
    assert_eq!(json["snapshot"]["consumables"][0]["part_number"], "T9441");
}

#[test]
fn errors_go_to_stderr_with_a_failure_status() {
    let out = printfleet(&["mib", "/nonexistent.snmprec"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("printfleet: /nonexistent.snmprec"));
    // A corrupt line inside the tables the mapping reads refuses the capture, naming the line.
    let bad = std::env::temp_dir().join("printfleet-bad.snmprec");
    std::fs::write(&bad, "1.3.6.1.2.1.43.10.2.1.4.1.1|99|x\n").unwrap();
    let out = printfleet(&["mib", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: unknown tag"));
}

#[test]
fn findings_go_to_stderr_and_the_report_to_stdout() {
    // A corrupt line outside the tables read is a finding; no page counter is one too.
    let capture = std::env::temp_dir().join(format!("printfleet-findings-{}.snmprec", std::process::id()));
    std::fs::write(&capture, "1.3.6|99|x\n1.3.6.1.2.1.1.5.0|4|printer-17\n").unwrap();
    let out = printfleet(&["mib", capture.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 1 skipped: unknown tag"), "{stderr}");
    assert!(stderr.contains("no page counter"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["identity"]["hostname"], "printer-17");
    // Each meter reading's source is printed too.
    let sharp =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/third-party/librenms/printer-mib/sharp.snmprec");
    let out = printfleet(&["mib", sharp.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("sharp.snmprec: meter total = 121104 from snmp prtMarkerLifeCount (1.3.6.1.2.1.43.10.2.1.4.1.1)"),
        "{stderr}"
    );
    std::fs::remove_file(&capture).unwrap();
}

#[test]
fn a_file_over_the_limit_is_refused() {
    let big = std::env::temp_dir().join(format!("printfleet-big-{}.snmprec", std::process::id()));
    let line = "1.3.6.1.2.1.1.5.0|4|x\n";
    let limit = printfleet_sources::snmp::MAX_SNMPREC_BYTES;
    std::fs::write(&big, line.repeat(limit / line.len() + 1)).unwrap();
    let out = printfleet(&["mib", big.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("input larger than {limit} bytes")));
    std::fs::remove_file(&big).unwrap();
}

#[test]
fn ipp_and_ledm_print_the_mapped_reports_of_real_printers() {
    let third_party = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/third-party");
    // python-ipp tests/fixtures (commit 037811c48fed7b0a8752be7fc44b4480c4704f42).
    let ipp = third_party.join("python-ipp/get-printer-attributes-epsonxp6000.bin");
    let out = printfleet(&["ipp", ipp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["identity"]["make"], "Epson");
    assert_eq!(json["snapshot"]["consumables"][3]["level"], 6);

    // chemelli74/aiohpprinter tests/fixtures (commits in PROVENANCE.txt).
    let ledm = third_party.join("aiohpprinter/hp_color_laserjet_m255dw");
    let out = printfleet(&["ledm", ledm.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["identity"]["product_number"], "7KW64A");
    assert_eq!(json["snapshot"]["meters"]["total"], 1344);

    let out = printfleet(&["ledm", std::env::temp_dir().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no LEDM document"));
    let out = printfleet(&["ipp", ledm.join("ProductUsageDyn.xml").to_str().unwrap()]);
    assert!(!out.status.success(), "XML is not an IPP response");
}

mod network {
    //! `printfleet discover` and `printfleet poll` against simulated agents on 127.0.5.x and
    //! 127.0.6.x (loopback; each agent stops when dropped).
    use super::*;
    use printfleet_lan::sim::{SimAgent, load_snmprec};
    use std::net::SocketAddr;

    fn capture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../testdata/third-party/librenms/printer-mib/{name}.snmprec"))
    }

    fn agent(address: [u8; 4], port: u16, name: &str) -> SimAgent {
        SimAgent::start(SocketAddr::from((address, port)), b"public", load_snmprec(&capture(name)).unwrap()).unwrap()
    }

    fn lines(out: &[u8]) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn discover_prints_the_printers_as_json_lines_and_records_a_move_in_the_inventory() {
        let epson = agent([127, 0, 5, 2], 0, "epson");
        let port = epson.address().port();
        let _sharp = agent([127, 0, 5, 3], port, "sharp");
        let dir = std::env::temp_dir().join(format!("printfleet-cli-discover-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inventory = dir.join("inventory.json");
        let _ = std::fs::remove_file(&inventory);
        let port_s = port.to_string();
        let args = [
            "discover",
            "127.0.5.0/29",
            "--snmp-port",
            &port_s,
            "--timeout-ms",
            "300",
            "--retries",
            "0",
            "--inventory",
            inventory.to_str().unwrap(),
        ];
        let out = printfleet(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let found = lines(&out.stdout);
        assert_eq!(
            found.iter().map(|p| p["address"].as_str().unwrap()).collect::<Vec<_>>(),
            ["127.0.5.2", "127.0.5.3"]
        );
        assert_eq!(found[0]["make"], "Epson");
        assert_eq!(found[0]["device"]["serial"], "X3B8022793");
        assert_eq!(found[0]["sighting"], "new");
        assert!(String::from_utf8_lossy(&out.stderr).contains("6 addresses: 2 printers; 2 ok, 4 refused"));
        // The Epson moves to .5: the same device, recorded as moved.
        drop(epson);
        let _epson = agent([127, 0, 5, 5], port, "epson");
        let out = printfleet(&args);
        let found = lines(&out.stdout);
        let moved = found.iter().find(|p| p["address"] == "127.0.5.5").unwrap();
        assert_eq!((moved["sighting"].as_str(), moved["from"].as_str()), (Some("moved"), Some("127.0.5.2")));
        let sharp = found.iter().find(|p| p["address"] == "127.0.5.3").unwrap();
        assert_eq!(sharp["sighting"], "unchanged");
        let inv: serde_json::Value = serde_json::from_slice(&std::fs::read(&inventory).unwrap()).unwrap();
        assert_eq!(inv["devices"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn poll_prints_each_report_and_counts_failures_without_stopping() {
        let a = agent([127, 0, 6, 2], 0, "brother");
        let port = a.address().port().to_string();
        let config = std::env::temp_dir().join(format!("printfleet-cli-poll-{}.json", std::process::id()));
        std::fs::write(
            &config,
            format!(
                r#"{{"community":"public","snmp_port":{port},"timeout_ms":300,"retries":0,"targets":["127.0.6.3"]}}"#
            ),
        )
        .unwrap();
        let out = printfleet(&["poll", "--config", config.to_str().unwrap(), "127.0.6.2"]);
        // 127.0.6.3 (from the config file) refuses: exit 1 after printing the printer read.
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let polled = lines(&out.stdout);
        assert_eq!(polled.len(), 1);
        assert_eq!(polled[0]["protocol"], "snmp");
        assert_eq!(polled[0]["report"]["identity"]["make"], "Brother");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("snmp://127.0.6.3:{port}: refused")), "{stderr}");
        assert!(stderr.contains("2 targets: 1 ok, 1 refused"), "{stderr}");
    }

    #[test]
    fn bad_targets_and_credentials_are_refused_before_anything_is_sent() {
        let out = printfleet(&["discover", "10.0.0.0/8"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("more than the limit of 65536"));
        let out = printfleet(&["discover", "10.0.0.300"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not an IPv4 address"));
        let out = printfleet(&[
            "poll",
            "127.0.0.1",
            "--v3-user",
            "u",
            "--v3-auth-password",
            "short",
            "--v3-priv-password",
            "longenough",
        ]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than 8"));
        let out = printfleet(&[
            "poll",
            "127.0.0.1",
            "--v3-user",
            "u",
            "--v3-auth-protocol",
            "md5",
            "--v3-auth-password",
            "longenough",
            "--v3-priv-password",
            "longenough",
        ]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported protocol"));
    }
}
