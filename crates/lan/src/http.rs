//! HTTP for IPP (RFC 8010 over HTTP POST), LEDM and CDM (HTTP GET), with ureq: one timeout on every
//! exchange, retries after a timeout, a deadline on them all, no redirects, and a cap on the
//! bytes of a body read.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::config::PollConfig;
use crate::error::Failure;

/// An HTTP client configured from a [`PollConfig`].
pub(crate) struct Client {
    agent: ureq::Agent,
    timeout: Duration,
    retries: u32,
    /// When every exchange must be done (`PollConfig::deadline` after the client was made),
    /// and that deadline's length.
    deadline: (Instant, Duration),
    /// Whether the printer answered anything yet (a response head).
    answered: Cell<bool>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("timeout", &self.timeout).field("retries", &self.retries).finish_non_exhaustive()
    }
}

fn failure(e: ureq::Error, timeout: Duration, attempts: u32) -> Failure {
    let timed_out = || Failure::timeout(timeout, attempts);
    match e {
        ureq::Error::Timeout(_) => timed_out(),
        ureq::Error::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => Failure::Refused,
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => timed_out(),
            _ => Failure::Unreachable { detail: e.to_string() },
        },
        ureq::Error::ConnectionFailed => Failure::Refused,
        ureq::Error::HostNotFound => Failure::Unreachable { detail: "host not found".into() },
        ureq::Error::BodyExceedsLimit(limit) => Failure::TooLarge { limit },
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => Failure::Unreachable { detail: e.to_string() },
        other => Failure::malformed("HTTP response", other),
    }
}

impl Client {
    pub(crate) fn new(config: &PollConfig) -> Self {
        let tls = ureq::tls::TlsConfig::builder().disable_verification(!config.tls_verify).build();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls)
            .user_agent("printfleet-lan")
            // Printers are on the LAN: never through a proxy the environment names
            // (`HTTPS_PROXY` set for the collector's own way out to the portal).
            .proxy(None)
            .build()
            .into();
        let deadline = Instant::now().checked_add(config.deadline).unwrap_or_else(Instant::now);
        Self {
            agent,
            timeout: config.timeout,
            retries: config.retries,
            deadline: (deadline, config.deadline),
            answered: Cell::new(false),
        }
    }

    /// Past the deadline: a printer that answered something was slow ([`Failure::Deadline`]);
    /// one that never answered is not there ([`Failure::Timeout`], the attempts made).
    fn out_of_time(&self, attempts: u32) -> Failure {
        Failure::past_deadline(self.answered.get(), self.deadline.1, self.timeout, attempts)
    }

    /// Sends with retries after a timeout, each attempt cut at the deadline; returns the
    /// status and at most `limit` bytes of body (a longer body is refused).
    fn exchange(
        &self,
        send: impl Fn(&ureq::Agent, Duration) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        limit: usize,
    ) -> Result<(u16, Vec<u8>), Failure> {
        let mut attempts = 0_u32;
        loop {
            attempts = attempts.saturating_add(1);
            let left = self.deadline.0.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.out_of_time(attempts.saturating_sub(1)));
            }
            let result = send(&self.agent, self.timeout.min(left)).and_then(|mut response| {
                self.answered.set(true);
                let status = response.status().as_u16();
                let body = response.body_mut().with_config().limit(limit as u64).read_to_vec()?;
                Ok((status, body))
            });
            match result {
                Ok(ok) => return Ok(ok),
                Err(e) => {
                    let f = failure(e, self.timeout, attempts);
                    if left < self.timeout && matches!(f, Failure::Timeout { .. }) {
                        return Err(self.out_of_time(attempts));
                    }
                    if !matches!(f, Failure::Timeout { .. }) || attempts > self.retries {
                        return Err(f);
                    }
                }
            }
        }
    }

    /// POSTs an IPP request (`Content-Type: application/ipp`, RFC 8010 §3.1) and returns the
    /// response body.
    pub(crate) fn post_ipp(&self, url: &str, body: &[u8], limit: usize) -> Result<Vec<u8>, Failure> {
        let (status, bytes) = self.exchange(
            |agent, t| with_timeout(agent.post(url), t).header("Content-Type", "application/ipp").send(body),
            limit,
        )?;
        match status {
            200..=299 => Ok(bytes),
            other => Err(status_failure(other)),
        }
    }

    /// GETs a document; `None` on 404 (the printer does not offer it).
    pub(crate) fn get(&self, url: &str, limit: usize) -> Result<Option<Vec<u8>>, Failure> {
        let (status, bytes) = self.exchange(|agent, t| with_timeout(agent.get(url), t).call(), limit)?;
        match status {
            200..=299 => Ok(Some(bytes)),
            404 => Ok(None),
            other => Err(status_failure(other)),
        }
    }
}

/// `request` cut at `timeout` in all (connect, send, answer and body).
fn with_timeout<B>(request: ureq::RequestBuilder<B>, timeout: Duration) -> ureq::RequestBuilder<B> {
    request.config().timeout_global(Some(timeout)).build()
}

fn status_failure(status: u16) -> Failure {
    match status {
        401 | 403 => Failure::Auth { detail: format!("HTTP status {status}") },
        404 => Failure::NotAPrinter { reason: "HTTP 404 at the printer URI" },
        _ => Failure::Http { status },
    }
}
