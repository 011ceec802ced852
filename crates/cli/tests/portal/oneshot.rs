//! One-shot HTTPS end to end: `printfleet portal` + `printfleet device add`, a device agent with
//! the printed secret POSTing frames with ureq (trusting ca.pem only), applying the replies; the
//! state is stored.

use printfleet_agent::Event;
use printfleet_store::SqliteStore;

use crate::*;

#[test]
fn a_device_reports_over_https_and_its_state_is_stored() {
    let home = Home::new();
    let portal = home.start(&[]);
    let (sender, secret) = home.add_device("printer-https");
    let http = portal.http();
    let mut agent = agent("printer-https", &secret, 1, 600_000);
    let start = wall();
    let mut acked = 0;
    for step in 0..6u64 {
        let now = plus(start, step * 600_000);
        let mut r = reading();
        let total = r.snapshot.meters.get(&printfleet_schema::MeterKind::TOTAL).unwrap_or(0);
        r.snapshot.meters.0.insert(printfleet_schema::MeterKind::TOTAL, total + step * 10);
        agent.handle_reading(now, r);
        agent.handle_job(now, job(step + 1, 2));
        agent.handle_timeout(now);
        let Some(t) = pump(&mut agent, now) else { continue };
        let (status, body) = portal.post(&http, &t.frame).unwrap();
        assert_eq!(status, 200, "step {step}: {}", String::from_utf8_lossy(&body));
        agent.handle_frame(now, &body);
        while let Some(e) = agent.poll_event() {
            if matches!(e, Event::Acknowledged { .. }) {
                acked += 1;
            }
        }
    }
    assert!(acked >= 3, "only {acked} updates acknowledged");
    // The same frame in base64 (text/plain) is answered in base64; a replay is refused, opaquely.
    let now = plus(start, 7 * 600_000);
    agent.handle_job(now, job(7, 1));
    agent.handle_timeout(now);
    let t = pump(&mut agent, now).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&t.frame);
    let mut r = http.post(portal.url("/v1/frames")).header("Content-Type", "text/plain").send(&b64).unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let reply = base64::engine::general_purpose::STANDARD.decode(r.body_mut().read_to_string().unwrap()).unwrap();
    agent.handle_frame(now, &reply);
    assert!(std::iter::from_fn(|| agent.poll_event()).any(|e| matches!(e, Event::Acknowledged { .. })));
    let (status, body) = portal.post(&http, &t.frame).unwrap();
    assert_eq!((status, &body[..]), (400, &b"frame rejected"[..]));

    assert!(portal.metric("printfleet_frames_accepted_total") >= 4);
    assert!(portal.stop().success());
    let store = SqliteStore::open(home.db_path()).unwrap();
    assert_eq!(store.device_state(sender).unwrap().as_ref(), agent.current());
    assert_eq!(store.job_sequences(sender).unwrap(), (1..=7).collect::<Vec<u64>>());
}
