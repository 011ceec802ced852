//! `OneShotClient` against the test portal's HTTPS side, directly and through a proxy.

use std::sync::atomic::Ordering;

use printfleet_cli::client::{ClientError, OneShotClient, PortalTrust};
use printfleet_cli::collect::Clock;

use crate::link::{agent_with_reading, next_frame};
use crate::server::{Protocol, Proxy, TestPortal, pki};

#[test]
fn one_shot_frames_are_answered_over_one_kept_alive_connection() {
    let pki = pki();
    let portal = TestPortal::start(&pki, Protocol::Https, &["printer-7"], Clock::real());
    let trust = PortalTrust::from_ca_pem(&pki.ca_pem).unwrap();
    let client = OneShotClient::new(&format!("https://127.0.0.1:{}/", portal.addr.port()), &trust, None).unwrap();
    let now = Clock::real().now();
    let mut agent = agent_with_reading("printer-7", now);
    let frame = next_frame(&mut agent, now);
    let reply = client.post_frame(&frame).unwrap();
    agent.handle_frame(now, &reply);
    assert!(
        std::iter::from_fn(|| agent.poll_event()).any(|e| matches!(e, printfleet_agent::Event::Acknowledged { .. }))
    );
    // The same frame again is a replay: the one opaque refusal. Garbage too.
    assert!(matches!(client.post_frame(&frame), Err(ClientError::Rejected)));
    assert!(matches!(client.post_frame(b"garbage"), Err(ClientError::Rejected)));
    assert_eq!(portal.connections.load(Ordering::Relaxed), 1, "keep-alive: one connection for three frames");
    portal.with(|s| assert_eq!(s.stored.batches.values().sum::<u64>(), 1));
}

#[test]
fn one_shot_frames_go_through_an_http_connect_proxy() {
    let pki = pki();
    let portal = TestPortal::start(&pki, Protocol::Https, &["printer-8"], Clock::real());
    let proxy = Proxy::start();
    let trust = PortalTrust::from_ca_pem(&pki.ca_pem).unwrap();
    let proxy_url = format!("http://{}", proxy.addr);
    let client =
        OneShotClient::new(&format!("https://127.0.0.1:{}", portal.addr.port()), &trust, Some(&proxy_url)).unwrap();
    let now = Clock::real().now();
    let mut agent = agent_with_reading("printer-8", now);
    let reply = client.post_frame(&next_frame(&mut agent, now)).unwrap();
    assert!(!reply.is_empty());
    assert_eq!(proxy.tunnels.load(Ordering::Relaxed), 1, "the frame went through the proxy");
}

#[test]
fn only_an_https_base_url_is_accepted() {
    let trust = PortalTrust::from_ca_pem(&pki().ca_pem).unwrap();
    for bad in ["http://127.0.0.1:1", "127.0.0.1:1", "https://", "https://host/v1/frames"] {
        assert!(matches!(OneShotClient::new(bad, &trust, None), Err(ClientError::Config { .. })), "{bad}");
    }
    assert!(matches!(
        OneShotClient::new("https://127.0.0.1:1", &trust, Some("::not a proxy::")),
        Err(ClientError::Config { what: "proxy", .. })
    ));
}
