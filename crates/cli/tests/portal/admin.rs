//! `/healthz`, `/metrics`, `device list`, `device revoke` and `device rekey`, and a device provisioned while
//! the portal runs.

use crate::*;

#[test]
fn health_and_metrics_answer_in_their_formats() {
    let home = Home::new();
    let portal = home.start(&[]);
    assert_eq!(portal.get("/healthz"), (200, "ok".to_owned()));
    let mut r = portal.http().get(portal.url("/metrics")).call().unwrap();
    assert_eq!(r.headers().get("content-type").unwrap(), "text/plain; version=0.0.4");
    let text = r.body_mut().read_to_string().unwrap();
    for name in [
        "printfleet_frames_accepted_total 0",
        "# TYPE printfleet_frames_rejected_total counter",
        "printfleet_resyncs_total 0",
        "printfleet_devices 0",
        "printfleet_devices_active 0",
        "printfleet_sessions_open 0",
        "printfleet_batches_total 0",
        "printfleet_store_failures_total 0",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    // A refused frame is counted by reason.
    let (status, _) = portal.post(&portal.http(), b"not a frame").unwrap();
    assert_eq!(status, 400);
    let (_, text) = portal.get("/metrics");
    assert!(text.contains("printfleet_frames_rejected_total{reason=\"frame_length\"} 1"), "{text}");
    assert_eq!(portal.get("/nope").0, 404);
}

#[test]
fn devices_are_listed_without_secrets_and_a_revoked_one_is_refused() {
    let home = Home::new();
    let portal = home.start(&["--registry-refresh-ms", "200"]);
    // Provisioned after the portal started: picked up when its first frame arrives.
    let (_, keep_secret) = home.add_device("keep");
    let (_, gone_secret) = home.add_device("gone");
    let lines = home.device_list();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l.get("secret").is_none() && l["revoked"] == false));
    assert_eq!(lines.iter().filter(|l| l["name"] == "keep").count(), 1);

    let http = portal.http();
    let now = wall();
    let mut keep = agent("keep", &keep_secret, 1, 600_000);
    let mut gone = agent("gone", &gone_secret, 1, 600_000);
    for a in [&mut keep, &mut gone] {
        a.handle_reading(now, reading());
    }
    let t = pump(&mut keep, now).unwrap();
    assert_eq!(portal.post(&http, &t.frame).unwrap().0, 200);
    let t = pump(&mut gone, now).unwrap();
    assert_eq!(portal.post(&http, &t.frame).unwrap().0, 200);

    let out = home.device(&["revoke", "gone"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let gone_line = home.device_list().into_iter().find(|l| l["name"] == "gone").unwrap();
    assert_eq!(gone_line["revoked"], true);
    // The portal reloads its registry (every 200 ms here): the revoked device's next frame is
    // refused, the other's accepted.
    std::thread::sleep(Duration::from_millis(600));
    let later = plus(now, 600_000);
    for a in [&mut keep, &mut gone] {
        a.handle_job(later, job(1, 1));
        a.handle_timeout(later);
    }
    let t = pump(&mut gone, later).unwrap();
    assert_eq!(portal.post(&http, &t.frame).unwrap(), (400, b"frame rejected".to_vec()));
    let t = pump(&mut keep, later).unwrap();
    assert_eq!(portal.post(&http, &t.frame).unwrap().0, 200);
    assert!(portal.metric("printfleet_frames_rejected_total{reason=\"revoked\"}") >= 1);
    assert_eq!(portal.metric("printfleet_devices"), 2);

    let out = home.device(&["revoke", "nobody"], None);
    assert!(!out.status.success());
}

/// A device whose sequence numbers were lost (a collector's state database gone) is refused as
/// a replay under its key epoch; `device rekey` gives it the next one, under which it reports.
#[test]
fn a_rekeyed_device_reports_afresh_under_its_next_epoch() {
    let home = Home::new();
    let portal = home.start(&["--registry-refresh-ms", "200"]);
    let (_, secret) = home.add_device("p");
    let http = portal.http();
    let now = wall();
    let mut first = agent("p", &secret, 1, 600_000);
    first.handle_reading(now, reading());
    assert_eq!(portal.post(&http, &pump(&mut first, now).unwrap().frame).unwrap().0, 200);
    // Started afresh under epoch 1: its frame numbered 1 again is a replay.
    let mut afresh = agent("p", &secret, 2, 600_000);
    afresh.handle_reading(now, reading());
    assert_eq!(portal.post(&http, &pump(&mut afresh, now).unwrap().frame).unwrap().0, 400);

    let out = home.device(&["rekey", "p"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json["name"].as_str(), json["epoch"].as_u64()), (Some("p"), Some(2)));
    let bytes = base64::engine::general_purpose::STANDARD.decode(json["secret"].as_str().unwrap()).unwrap();
    let next = DeviceSecret::from_bytes(&bytes).unwrap();
    assert_ne!(*next.to_bytes(), *secret.to_bytes());
    // The portal reloads its registry (every 200 ms here).
    std::thread::sleep(Duration::from_millis(600));
    let mut rekeyed = agent_at(KeyEpoch(2), "p", &next, 3, 600_000);
    rekeyed.handle_reading(now, reading());
    assert_eq!(portal.post(&http, &pump(&mut rekeyed, now).unwrap().frame).unwrap().0, 200);
    let line = home.device_list().into_iter().find(|l| l["name"] == "p").unwrap();
    assert_eq!(line["epochs"].as_array().map(Vec::len), Some(2), "{line}");
    assert!(!home.device(&["rekey", "nobody"], None).status.success());
    // Epoch 1 still reports (a later frame of the first agent) until it is revoked with the
    // next rekey; then only epoch 3 does.
    let later = plus(now, 600_000);
    first.handle_timeout(later);
    first.handle_reading(later, reading());
    assert_eq!(portal.post(&http, &pump(&mut first, later).unwrap().frame).unwrap().0, 200);
    let out = home.device(&["rekey", "p", "--revoke-previous"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = home.device_list().into_iter().find(|l| l["name"] == "p").unwrap();
    let revoked: Vec<bool> = line["epochs"].as_array().unwrap().iter().map(|e| e["revoked"] == true).collect();
    assert_eq!(revoked, [true, true, false], "{line}");
    std::thread::sleep(Duration::from_millis(600));
    let later = plus(later, 600_000);
    first.handle_timeout(later);
    first.handle_reading(later, reading());
    assert_eq!(portal.post(&http, &pump(&mut first, later).unwrap().frame).unwrap().0, 400);
    // A revoked device gets no new epoch.
    assert!(home.device(&["revoke", "p"], None).status.success());
    assert!(!home.device(&["rekey", "p"], None).status.success());
}

/// Without the feature `postgres` a PostgreSQL URL is refused, saying why; with it, a server
/// that cannot be reached fails the start. Either way the URL's password is never printed.
#[test]
fn a_postgres_url_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().display().to_string();
    let out = printfleet(&["portal", "--db", "postgres://u:hunter2@127.0.0.1:1/pf", "--state", &state]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("hunter2"), "{stderr}");
    #[cfg(not(feature = "postgres"))]
    assert!(stderr.contains("the PostgreSQL backend is not in this build"), "{stderr}");
    #[cfg(feature = "postgres")]
    assert!(stderr.contains("postgres"), "{stderr}");
}

#[test]
fn a_contract_is_set_and_its_month_billed_once() {
    let home = Home::new();
    home.add_device("billed");
    let terms = printfleet_meter::Terms { fee_per_period: printfleet_meter::MinorUnits(1_000), ..Default::default() };
    let terms_file = home.dir.path().join("terms.json");
    std::fs::write(&terms_file, serde_json::to_vec(&terms).unwrap()).unwrap();
    let out = printfleet(&[
        "contract",
        "set",
        "3",
        "--terms",
        terms_file.to_str().unwrap(),
        "--starts",
        "2025-01-01",
        "--db",
        &home.db(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = home.dir.path().join("bill");
    let args = ["bill", "--period", "2025-01", "--db", &home.db(), "--out", dir.to_str().unwrap()];
    let out = printfleet(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["contracts"], serde_json::json!([3]));
    assert_eq!(json["total_minor_units"], 1_000);
    let invoices = std::fs::read_to_string(dir.join("invoices.csv")).unwrap();
    assert!(invoices.contains("3,2025-01-01,2025-02-01,EUR,fee_per_period"), "{invoices}");
    assert!(dir.join("usage.csv").exists());
    // Billed once: the same month again is refused.
    let out = printfleet(&args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no contract has that period open"));
}

/// `device add --collector NAME` names a collector provisioned before (its sender id is listed);
/// an unknown one is refused and nothing is stored.
#[test]
fn a_device_names_its_collector_only_once_it_is_provisioned() {
    let home = Home::new();
    let add = |name: &str, collector: &str| {
        home.device(&["add", name, "--reseller", "1", "--customer", "2", "--contract", "3"], Some(collector))
    };
    let out = add("p-1", "site-1");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("site-1"), "{}", String::from_utf8_lossy(&out.stderr));
    let (site, _) = home.add_device("site-1");
    assert!(add("p-1", "site-1").status.success());
    let lines = home.device_list();
    let p1 = lines.iter().find(|l| l["name"] == "p-1").unwrap();
    assert_eq!(p1["collector"], site.0);
    assert!(lines.iter().find(|l| l["name"] == "site-1").unwrap()["collector"].is_null());

    // Moved to another collector, then to none; an unknown collector is refused.
    let (site2, _) = home.add_device("site-2");
    let set = |args: &[&str]| home.device(&[&["set-collector", "p-1"][..], args].concat(), None);
    let collector_of_p1 = || home.device_list().into_iter().find(|l| l["name"] == "p-1").unwrap()["collector"].clone();
    assert!(set(&["--collector", "site-2"]).status.success());
    assert_eq!(collector_of_p1(), site2.0);
    assert!(!set(&["--collector", "site-9"]).status.success());
    assert_eq!(collector_of_p1(), site2.0, "unchanged by a refused move");
    assert!(!set(&[]).status.success(), "--collector or --none is required");
    assert!(set(&["--none"]).status.success());
    assert!(collector_of_p1().is_null());
}
