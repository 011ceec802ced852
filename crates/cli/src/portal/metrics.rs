//! What the portal counts, and its Prometheus text exposition (format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use printfleet_ingest::{Counters, Refusal};

/// What a portal counted since it started ([`super::RunningPortal::counters`], `/metrics`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortalCounters {
    /// Frames that opened and decoded (each made a batch).
    pub frames_accepted: u64,
    /// Updates applied to a device's state.
    pub updates_applied: u64,
    /// Updates seen before (nothing applied).
    pub duplicates: u64,
    /// Replies that asked for a full snapshot.
    pub resyncs: u64,
    /// Frames refused, by reason (`unknown`, `revoked`, `malformed`, `frame_replay`, ...).
    pub rejected: BTreeMap<String, u64>,
    /// Devices provisioned (in the actor's registry).
    pub devices: u64,
    /// Devices that had a frame committed since the portal started.
    pub devices_active: u64,
    /// Sessions open (session mode).
    pub sessions_open: u64,
    /// Group commits (transactions) written.
    pub batches: u64,
    /// Frames stored by those transactions (`batched_frames / batches` is the mean group size).
    pub batched_frames: u64,
    /// The largest group stored in one transaction.
    pub largest_group: u64,
    /// Transactions that failed (their frames were answered 503 / `Rejected`).
    pub store_failures: u64,
    /// HTTPS connections accepted.
    pub https_connections: u64,
    /// Link connections accepted.
    pub link_connections: u64,
    /// TLS handshakes that failed or timed out (both listeners).
    pub tls_failures: u64,
    /// HTTPS requests refused before the frame reached the ingest (oversized, malformed base64,
    /// slow body).
    pub http_refused: u64,
    /// Link handshakes (SCRAM) completed.
    pub handshakes_ok: u64,
    /// Link handshakes refused.
    pub handshakes_failed: u64,
    /// Link connections closed for a protocol error (bad length prefix, unexpected message).
    pub link_errors: u64,
    /// Link connections closed at once: their address had
    /// [`MAX_UNPROVEN_LINKS_PER_ADDRESS`](super::MAX_UNPROVEN_LINKS_PER_ADDRESS) without a proof.
    pub link_refused: u64,
    /// Link connections closed because no SCRAM proof was checked on them in time
    /// ([`LOGIN_HANDSHAKE_TIMEOUTS`](super::LOGIN_HANDSHAKE_TIMEOUTS) handshake timeouts).
    pub link_unproven_closed: u64,
}

impl PortalCounters {
    /// Every refused frame, whatever the reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().copied().fold(0, u64::saturating_add)
    }

    /// The counters in Prometheus text format.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP printfleet_{name} {help}\n# TYPE printfleet_{name} counter");
            let _ = writeln!(out, "printfleet_{name} {value}");
        };
        counter("frames_accepted_total", "Frames that opened and decoded.", self.frames_accepted);
        counter("updates_applied_total", "Updates applied to a device's state.", self.updates_applied);
        counter("duplicates_total", "Updates seen before.", self.duplicates);
        counter("resyncs_total", "Replies that asked for a full snapshot.", self.resyncs);
        counter("batches_total", "Group commits written.", self.batches);
        counter("batched_frames_total", "Frames stored by group commits.", self.batched_frames);
        counter("store_failures_total", "Group commits that failed.", self.store_failures);
        counter("https_connections_total", "HTTPS connections accepted.", self.https_connections);
        counter("link_connections_total", "Link connections accepted.", self.link_connections);
        counter("tls_failures_total", "TLS handshakes failed or timed out.", self.tls_failures);
        counter("http_refused_total", "HTTPS requests refused at the door.", self.http_refused);
        counter("handshakes_ok_total", "Link SCRAM handshakes completed.", self.handshakes_ok);
        counter("handshakes_failed_total", "Link SCRAM handshakes refused.", self.handshakes_failed);
        counter("link_errors_total", "Link connections closed for a protocol error.", self.link_errors);
        counter(
            "link_refused_total",
            "Link connections closed at once: too many from their address without a proof.",
            self.link_refused,
        );
        counter(
            "link_unproven_closed_total",
            "Link connections closed: no SCRAM proof checked on them in time.",
            self.link_unproven_closed,
        );
        let _ = writeln!(out, "# HELP printfleet_frames_rejected_total Frames refused, by reason.");
        let _ = writeln!(out, "# TYPE printfleet_frames_rejected_total counter");
        for (reason, n) in &self.rejected {
            let _ = writeln!(out, "printfleet_frames_rejected_total{{reason=\"{reason}\"}} {n}");
        }
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP printfleet_{name} {help}\n# TYPE printfleet_{name} gauge");
            let _ = writeln!(out, "printfleet_{name} {value}");
        };
        gauge("devices", "Devices provisioned.", self.devices);
        gauge("devices_active", "Devices with a frame committed since the start.", self.devices_active);
        gauge("sessions_open", "Session-mode sessions open.", self.sessions_open);
        gauge("largest_group", "Largest group commit, in frames.", self.largest_group);
        out
    }
}

/// The name a refusal reason is counted under (a Prometheus label value).
pub(crate) fn reason_label(reason: Refusal) -> String {
    match reason {
        Refusal::Frame(r) => format!("frame_{}", snake(&format!("{r:?}"))),
        Refusal::Unknown => "unknown".into(),
        Refusal::Revoked => "revoked".into(),
        Refusal::Malformed => "malformed".into(),
        other => snake(&format!("{other:?}")),
    }
}

/// `ClockSkew` → `clock_skew`; anything but ASCII letters and digits is dropped.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len().saturating_add(4));
    for c in name.chars().filter(char::is_ascii_alphanumeric) {
        if c.is_ascii_uppercase() && !out.is_empty() {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// What the actor publishes after each group, and what connection tasks count.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) actor: Mutex<ActorStats>,
    pub(crate) https_connections: AtomicU64,
    pub(crate) link_connections: AtomicU64,
    pub(crate) tls_failures: AtomicU64,
    pub(crate) http_refused: AtomicU64,
    pub(crate) handshakes_ok: AtomicU64,
    pub(crate) handshakes_failed: AtomicU64,
    pub(crate) link_errors: AtomicU64,
    pub(crate) link_refused: AtomicU64,
    pub(crate) link_unproven_closed: AtomicU64,
}

/// The actor's side of the counters.
#[derive(Debug, Default, Clone)]
pub(crate) struct ActorStats {
    pub(crate) ingest: Counters,
    pub(crate) devices: u64,
    pub(crate) devices_active: u64,
    pub(crate) sessions_open: u64,
    pub(crate) batches: u64,
    pub(crate) batched_frames: u64,
    pub(crate) largest_group: u64,
    pub(crate) store_failures: u64,
}

impl Shared {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> PortalCounters {
        let a = self.actor.lock().map(|a| a.clone()).unwrap_or_default();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PortalCounters {
            frames_accepted: a.ingest.accepted(),
            updates_applied: a.ingest.applied(),
            duplicates: a.ingest.duplicates(),
            resyncs: a.ingest.resyncs(),
            rejected: a.ingest.refusals().fold(BTreeMap::new(), |mut m, (r, n)| {
                let e = m.entry(reason_label(r)).or_insert(0u64);
                *e = e.saturating_add(n);
                m
            }),
            devices: a.devices,
            devices_active: a.devices_active,
            sessions_open: a.sessions_open,
            batches: a.batches,
            batched_frames: a.batched_frames,
            largest_group: a.largest_group,
            store_failures: a.store_failures,
            https_connections: get(&self.https_connections),
            link_connections: get(&self.link_connections),
            tls_failures: get(&self.tls_failures),
            http_refused: get(&self.http_refused),
            handshakes_ok: get(&self.handshakes_ok),
            handshakes_failed: get(&self.handshakes_failed),
            link_errors: get(&self.link_errors),
            link_refused: get(&self.link_refused),
            link_unproven_closed: get(&self.link_unproven_closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use printfleet_wire::frame::RejectReason;

    #[test]
    fn reasons_are_label_values() {
        assert_eq!(reason_label(Refusal::Frame(RejectReason::ClockSkew)), "frame_clock_skew");
        assert_eq!(reason_label(Refusal::Revoked), "revoked");
        assert_eq!(reason_label(Refusal::NotItsCollector), "not_its_collector");
        assert_eq!(reason_label(Refusal::InFlight), "in_flight");
    }

    #[test]
    fn exposition_has_every_counter_and_the_reasons() {
        let mut c = PortalCounters { frames_accepted: 3, devices: 2, ..PortalCounters::default() };
        c.rejected.insert("unknown".into(), 4);
        let text = c.to_prometheus();
        assert!(text.contains("printfleet_frames_accepted_total 3\n"));
        assert!(text.contains("printfleet_frames_rejected_total{reason=\"unknown\"} 4\n"));
        assert!(text.contains("# TYPE printfleet_devices gauge\nprintfleet_devices 2\n"));
        assert_eq!(c.rejected_total(), 4);
    }
}
