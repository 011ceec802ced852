//! Typed failures: what went wrong with one printer (never the whole round), and the tally of
//! a round by kind.

use std::collections::BTreeMap;
use std::fmt;

/// The kind of a [`Failure`], the key its round counts it under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// No answer within the timeout, after every retry.
    Timeout,
    /// The host said nothing listens there (ICMP port unreachable, TCP reset).
    Refused,
    /// No route, no such host name, or another network error.
    Unreachable,
    /// Something answered, but it is not a printer (no Printer-MIB, no LEDM document, ...).
    NotAPrinter,
    /// The answer could not be decoded (bad BER, bad IPP, bad XML, an IPP error status).
    Malformed,
    /// The answer was larger than the limit on bytes read.
    TooLarge,
    /// SNMPv3 authentication or privacy failed, or HTTP 401/403.
    Auth,
    /// An HTTP status other than success (not 401/403/404).
    Http,
    /// The read took longer than its deadline (a slow printer, answering each request late).
    Deadline,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timeout",
            Self::Refused => "refused",
            Self::Unreachable => "unreachable",
            Self::NotAPrinter => "not a printer",
            Self::Malformed => "malformed",
            Self::TooLarge => "too large",
            Self::Auth => "auth",
            Self::Http => "http",
            Self::Deadline => "deadline",
        })
    }
}

/// Why one printer could not be read. Every variant names its [`FailureKind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// No answer within `timeout_ms`, `attempts` times.
    #[error("no answer within {timeout_ms} ms ({attempts} attempts)")]
    Timeout {
        /// The per-request timeout.
        timeout_ms: u64,
        /// Requests sent.
        attempts: u32,
    },
    /// Nothing listens there.
    #[error("connection refused")]
    Refused,
    /// No route or no such host.
    #[error("unreachable: {detail}")]
    Unreachable {
        /// What the network layer said.
        detail: String,
    },
    /// It answered, but it is not a printer.
    #[error("not a printer: {reason}")]
    NotAPrinter {
        /// What was missing.
        reason: &'static str,
    },
    /// The answer could not be decoded.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which protocol element (`SNMP response`, `IPP response`, `LEDM ProductUsageDyn.xml`).
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// The answer exceeded `limit` bytes (refused after reading at most limit + 1).
    #[error("response larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Authentication failed.
    #[error("authentication failed: {detail}")]
    Auth {
        /// What failed (e.g. the SNMPv3 USM error).
        detail: String,
    },
    /// An unexpected HTTP status.
    #[error("HTTP status {status}")]
    Http {
        /// The status code.
        status: u16,
    },
    /// The read was not done within `deadline_ms` (`PollConfig::deadline`): what was read is
    /// dropped (a part of a printer would read as the rest gone).
    #[error("read not done within its deadline of {deadline_ms} ms")]
    Deadline {
        /// The deadline.
        deadline_ms: u64,
    },
}

impl Failure {
    /// The kind this failure is counted under.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Timeout { .. } => FailureKind::Timeout,
            Self::Refused => FailureKind::Refused,
            Self::Unreachable { .. } => FailureKind::Unreachable,
            Self::NotAPrinter { .. } => FailureKind::NotAPrinter,
            Self::Malformed { .. } => FailureKind::Malformed,
            Self::TooLarge { .. } => FailureKind::TooLarge,
            Self::Auth { .. } => FailureKind::Auth,
            Self::Http { .. } => FailureKind::Http,
            Self::Deadline { .. } => FailureKind::Deadline,
        }
    }

    /// No answer within `timeout`, `attempts` times.
    pub(crate) fn timeout(timeout: std::time::Duration, attempts: u32) -> Self {
        Self::Timeout { timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX), attempts }
    }

    /// A read past its `deadline`: a printer that `answered` something was slow
    /// ([`Failure::Deadline`]); one that never did is not there ([`Failure::Timeout`], the
    /// `attempts` made with `timeout`).
    pub(crate) fn past_deadline(
        answered: bool,
        deadline: std::time::Duration,
        timeout: std::time::Duration,
        attempts: u32,
    ) -> Self {
        if answered {
            Self::Deadline { deadline_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX) }
        } else {
            Self::timeout(timeout, attempts)
        }
    }

    pub(crate) fn malformed(what: &'static str, detail: impl fmt::Display) -> Self {
        Self::Malformed { what, detail: detail.to_string() }
    }
}

/// A round's failures counted by kind, and its successes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Targets read successfully.
    pub ok: u64,
    /// Failures by kind (kinds with none are absent).
    pub failures: BTreeMap<FailureKind, u64>,
}

impl Tally {
    /// Counts one success.
    pub fn success(&mut self) {
        self.ok = self.ok.saturating_add(1);
    }

    /// Counts one failure.
    pub fn failure(&mut self, failure: &Failure) {
        let n = self.failures.entry(failure.kind()).or_default();
        *n = n.saturating_add(1);
    }

    /// Failures of `kind`.
    pub fn count(&self, kind: FailureKind) -> u64 {
        self.failures.get(&kind).copied().unwrap_or(0)
    }

    /// Failures of every kind.
    pub fn failed(&self) -> u64 {
        self.failures.values().fold(0_u64, |a, b| a.saturating_add(*b))
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ok", self.ok)?;
        for (kind, n) in &self.failures {
            write!(f, ", {n} {kind}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_counts_each_failure_under_its_kind() {
        let mut t = Tally::default();
        t.success();
        t.failure(&Failure::Refused);
        t.failure(&Failure::Refused);
        t.failure(&Failure::Timeout { timeout_ms: 5, attempts: 2 });
        t.failure(&Failure::NotAPrinter { reason: "no Printer-MIB" });
        t.failure(&Failure::malformed("SNMP response", "bad BER"));
        assert_eq!((t.ok, t.failed()), (1, 5));
        assert_eq!(t.count(FailureKind::Refused), 2);
        assert_eq!(t.count(FailureKind::Timeout), 1);
        assert_eq!(t.count(FailureKind::NotAPrinter), 1);
        assert_eq!(t.count(FailureKind::Malformed), 1);
        assert_eq!(t.count(FailureKind::Auth), 0);
        assert_eq!(t.to_string(), "1 ok, 1 timeout, 2 refused, 1 not a printer, 1 malformed");
    }
}
