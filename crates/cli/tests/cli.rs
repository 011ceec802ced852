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
    let bad = std::env::temp_dir().join("printfleet-bad.snmprec");
    std::fs::write(&bad, "1.3.6|99|x\n").unwrap();
    let out = printfleet(&["mib", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: unknown tag"));
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
