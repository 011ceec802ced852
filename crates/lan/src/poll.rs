//! Polling: read each printer over SNMP, IPP, LEDM or CDM, map what it said with
//! `printfleet_sources`, and count every failure by kind. One printer's failure never stops a
//! round.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use printfleet_sources::ledm::{Documents, Element};
use printfleet_sources::snmp::Bindings;
use printfleet_sources::snmp::printer_mib::{self, subtrees};
use printfleet_sources::{Finding, Mapped};

use crate::config::{MAX_CDM_RESPONSE_BYTES, MAX_IPP_RESPONSE_BYTES, MAX_LEDM_RESPONSE_BYTES, PollConfig};
use crate::discover::is_printer;
use crate::error::{Failure, Tally};
use crate::http::Client;
use crate::identity::DeviceKey;
use crate::pool::run_bounded;
use crate::snmp::Session;
use crate::target::MAX_SPEC_CHARS;

/// Longest target URL accepted.
pub const MAX_URL_CHARS: usize = 2048;
/// The IPP port (RFC 8011 §4.1; `ipps` uses it too, RFC 7472 §4).
pub const IPP_PORT: u16 = 631;
/// The LEDM documents asked, under `/DevMgmt/`, in [`Documents`] order.
pub const LEDM_DOCUMENTS: [&str; 4] =
    ["ProductConfigDyn.xml", "ConsumableConfigDyn.xml", "ProductUsageDyn.xml", "ProductStatusDyn.xml"];

/// One printer to poll.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollTarget {
    /// An SNMP agent: `snmp://a.b.c.d[:port]` or a bare address (the configured port).
    Snmp(SocketAddr),
    /// An IPP printer: `ipp://host[:port]/path` (over HTTP) or `ipps://...` (over HTTPS).
    Ipp {
        /// The `printer-uri` operation attribute (the target as given).
        printer_uri: String,
        /// The HTTP URL the request is POSTed to.
        url: String,
    },
    /// An HP LEDM web service: `ledm+http://host[:port][/base]` or `ledm+https://...`; the
    /// documents are read from `{base}/DevMgmt/`.
    Ledm {
        /// The base URL (`http://host:port/base`, no trailing slash).
        base: String,
    },
    /// An HP CDM web service (the JSON newer HP devices serve): `cdm+https://host[:port][/base]`
    /// or `cdm+http://...`; the documents are read from `{base}/cdm/...`
    /// (`printfleet_sources::cdm::Endpoint`), with GET only.
    Cdm {
        /// The base URL (`https://host:port/base`, no trailing slash).
        base: String,
    },
}

/// A target that is neither an address nor a supported URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{spec:?}: not a poll target (a.b.c.d[:port], snmp://, ipp://, ipps://, ledm+http://, ledm+https://, cdm+http://, cdm+https://)"
)]
pub struct PollTargetError {
    /// The spec (at most [`MAX_SPEC_CHARS`] characters of it).
    pub spec: String,
}

fn authority_and_path(rest: &str) -> Option<(&str, &str)> {
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let ok = !authority.is_empty() && authority.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    ok.then_some((authority, path))
}

fn with_port(authority: &str, port: u16) -> String {
    let has_port =
        authority.rsplit_once(':').is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            && !authority.ends_with(']');
    if has_port { authority.to_owned() } else { format!("{authority}:{port}") }
}

impl PollTarget {
    /// Reads a target; a bare address is asked over SNMP on `snmp_port`.
    pub fn parse(spec: &str, snmp_port: u16) -> Result<Self, PollTargetError> {
        let err = || PollTargetError { spec: spec.chars().take(MAX_SPEC_CHARS).collect() };
        if spec.len() > MAX_URL_CHARS || spec.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(err());
        }
        let Some((scheme, rest)) = spec.split_once("://") else {
            return SocketAddr::from_str(spec)
                .or_else(|_| IpAddr::from_str(spec).map(|a| SocketAddr::new(a, snmp_port)))
                .map(Self::Snmp)
                .map_err(|_| err());
        };
        let (authority, path) = authority_and_path(rest).ok_or_else(err)?;
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "snmp" if path.is_empty() || path == "/" => SocketAddr::from_str(authority)
                .or_else(|_| IpAddr::from_str(authority).map(|a| SocketAddr::new(a, snmp_port)))
                .map(Self::Snmp)
                .map_err(|_| err()),
            "ipp" | "ipps" => {
                let http = if scheme == "ipp" { "http" } else { "https" };
                let path = if path.is_empty() { "/ipp/print" } else { path };
                Ok(Self::Ipp {
                    printer_uri: spec.to_owned(),
                    url: format!("{http}://{}{path}", with_port(authority, IPP_PORT)),
                })
            }
            "ledm+http" | "ledm+https" => {
                let http = scheme.strip_prefix("ledm+").unwrap_or("http");
                Ok(Self::Ledm { base: format!("{http}://{authority}{}", path.trim_end_matches('/')) })
            }
            "cdm+http" | "cdm+https" => {
                let http = scheme.strip_prefix("cdm+").unwrap_or("https");
                Ok(Self::Cdm { base: format!("{http}://{authority}{}", path.trim_end_matches('/')) })
            }
            _ => Err(err()),
        }
    }

    /// The protocol name (`snmp`, `ipp`, `ledm`, `cdm`).
    pub fn protocol(&self) -> &'static str {
        match self {
            Self::Snmp(_) => "snmp",
            Self::Ipp { .. } => "ipp",
            Self::Ledm { .. } => "ledm",
            Self::Cdm { .. } => "cdm",
        }
    }
}

impl fmt::Display for PollTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Snmp(a) => write!(f, "snmp://{a}"),
            Self::Ipp { printer_uri, .. } => f.write_str(printer_uri),
            Self::Ledm { base } => write!(f, "ledm+{base}"),
            Self::Cdm { base } => write!(f, "cdm+{base}"),
        }
    }
}

/// A Get-Printer-Attributes request (RFC 8011 §4.2.5, encoded per RFC 8010 §3.1) for
/// `printer_uri`, asking for `all` attributes, IPP/1.1 (every IPP printer speaks it).
pub fn get_printer_attributes_request(printer_uri: &str, request_id: u32) -> Option<Vec<u8>> {
    fn attribute(out: &mut Vec<u8>, tag: u8, name: &str, value: &[u8]) -> Option<()> {
        out.push(tag);
        out.extend_from_slice(&u16::try_from(name.len()).ok()?.to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&u16::try_from(value.len()).ok()?.to_be_bytes());
        out.extend_from_slice(value);
        Some(())
    }
    let mut out = vec![0x01, 0x01, 0x00, 0x0b]; // version 1.1, operation-id Get-Printer-Attributes
    out.extend_from_slice(&request_id.to_be_bytes());
    out.push(0x01); // operation-attributes-tag
    attribute(&mut out, 0x47, "attributes-charset", b"utf-8")?; // charset
    attribute(&mut out, 0x48, "attributes-natural-language", b"en")?; // naturalLanguage
    attribute(&mut out, 0x45, "printer-uri", printer_uri.as_bytes())?; // uri
    attribute(&mut out, 0x44, "requested-attributes", b"all")?; // keyword
    out.push(0x03); // end-of-attributes-tag
    Some(out)
}

/// A printer read.
#[derive(Debug)]
pub struct Polled {
    /// Its identity, when the report carries a serial number or a MAC address.
    pub device: Option<DeviceKey>,
    /// The mapped report, meter provenance and findings (including repairs of its documents).
    pub mapped: Mapped,
}

/// One target's outcome.
#[derive(Debug)]
pub struct PollOutcome {
    /// The target.
    pub target: PollTarget,
    /// The printer read, or why not.
    pub result: Result<Polled, Failure>,
}

/// A round: every target's outcome, in target order, and the tally.
#[derive(Debug, Default)]
pub struct PollRound {
    /// The outcomes.
    pub outcomes: Vec<PollOutcome>,
    /// Successes and failures by kind.
    pub tally: Tally,
}

fn poll_snmp(address: SocketAddr, config: &PollConfig) -> Result<Mapped, Failure> {
    let mut session = Session::open(address, config)?;
    let mut bindings = Bindings::new();
    for subtree in subtrees() {
        session.walk(&subtree, &mut bindings)?;
    }
    if !is_printer(&bindings) {
        return Err(Failure::NotAPrinter { reason: "no hrDevicePrinter and no Printer-MIB rows" });
    }
    Ok(printer_mib::map(&bindings))
}

fn poll_ipp(client: &Client, printer_uri: &str, url: &str) -> Result<Mapped, Failure> {
    let request = get_printer_attributes_request(printer_uri, 1)
        .ok_or(Failure::malformed("IPP request", "printer-uri longer than 65535 bytes"))?;
    let response = client.post_ipp(url, &request, MAX_IPP_RESPONSE_BYTES)?;
    let attributes = printfleet_sources::ipp::parse(&response).map_err(|e| Failure::malformed("IPP response", e))?;
    Ok(printfleet_sources::ipp::map(&attributes))
}

/// What a web service's documents gave besides the documents: a finding for each one that
/// could not be used, and the first such failure (the poll's, if no document is left).
#[derive(Default)]
struct Unread {
    findings: Vec<Finding>,
    first: Option<Failure>,
}

impl Unread {
    /// A document that could not be used: read as missing, with a finding.
    fn push(&mut self, document: &'static str, failure: Failure) {
        self.findings.push(Finding::DocumentUnread { document, reason: failure.to_string() });
        self.first.get_or_insert(failure);
    }

    /// GETs one document: `None` where the device does not serve it (404) or refuses it for
    /// good (401 or 403, another 4xx, a body past `limit`, an answer that is not HTTP:
    /// [`Unread::push`]). A server error (5xx), a timeout or a refused or lost connection is the
    /// poll's failure: a report without what a passing fault hid would tell the portal that
    /// those parts (meters, supplies) are gone.
    fn get(
        &mut self,
        client: &Client,
        url: &str,
        limit: usize,
        document: &'static str,
    ) -> Result<Option<Vec<u8>>, Failure> {
        match client.get(url, limit) {
            Ok(body) => Ok(body),
            Err(f @ (Failure::Auth { .. } | Failure::TooLarge { .. } | Failure::Malformed { .. })) => {
                self.push(document, f);
                Ok(None)
            }
            Err(f @ Failure::Http { status }) if status < 500 => {
                self.push(document, f);
                Ok(None)
            }
            Err(failure) => Err(failure),
        }
    }

    /// The poll's failure when no document is left: the first refusal, else `otherwise`.
    fn failure(self, otherwise: Failure) -> Failure {
        self.first.unwrap_or(otherwise)
    }
}

/// Reads the four [`LEDM_DOCUMENTS`]. A document the device refuses for good
/// ([`Unread::get`]: 401, 403, another 4xx, too large) or serves malformed is read as missing
/// with a finding, so that the others still map (an HP device whose web server is locked answers
/// some documents 401); a server error, a timeout or a refused or lost connection fails the
/// poll, as does a device that serves no LEDM document (the first refusal, if it refused).
fn poll_ledm(client: &Client, base: &str) -> Result<Mapped, Failure> {
    let mut repaired: Vec<Finding> = Vec::new();
    let mut unread = Unread::default();
    let mut docs: [Option<Element>; 4] = Default::default();
    for (name, slot) in LEDM_DOCUMENTS.iter().zip(docs.iter_mut()) {
        let Some(bytes) = unread.get(client, &format!("{base}/DevMgmt/{name}"), MAX_LEDM_RESPONSE_BYTES, name)? else {
            continue;
        };
        match Element::parse_repairing(&bytes) {
            Ok((element, findings)) => {
                repaired.extend(findings);
                *slot = Some(element);
            }
            Err(e) => unread.push(name, Failure::malformed("LEDM document", e)),
        }
    }
    let [product_config, consumable_config, product_usage, product_status] = docs;
    let docs = Documents { product_config, consumable_config, product_usage, product_status };
    if docs.product_config.is_none()
        && docs.consumable_config.is_none()
        && docs.product_usage.is_none()
        && docs.product_status.is_none()
    {
        return Err(unread.failure(Failure::NotAPrinter { reason: "no LEDM document under /DevMgmt/" }));
    }
    let mut mapped = printfleet_sources::ledm::map(&docs);
    let mut findings = unread.findings;
    findings.append(&mut repaired);
    findings.append(&mut mapped.findings);
    mapped.findings = findings;
    Ok(mapped)
}

/// Reads every [`Endpoint`](printfleet_sources::cdm::Endpoint), as [`poll_ledm`] its documents:
/// one the device refuses for good, or serves as something that is no CDM document, is read as
/// missing with a finding (HP devices answer some endpoints 401 once an administrator password
/// is set); a server error, a timeout or a refused or lost connection fails the poll, as does a
/// device that serves nothing a printer serves (the first refusal, if it refused).
fn poll_cdm(client: &Client, base: &str) -> Result<Mapped, Failure> {
    use printfleet_sources::cdm::{self, Document, Endpoint};
    let mut docs = cdm::Documents::default();
    let mut unread = Unread::default();
    for endpoint in Endpoint::ALL {
        let path = endpoint.path();
        let Some(bytes) = unread.get(client, &format!("{base}{path}"), MAX_CDM_RESPONSE_BYTES, path)? else { continue };
        match Document::parse(&bytes) {
            Ok(doc) => {
                docs.insert(*endpoint, doc);
            }
            Err(e) => unread.push(path, Failure::malformed("CDM document", e)),
        }
    }
    if !docs.recognised() {
        return Err(unread.failure(Failure::NotAPrinter { reason: "no CDM document of a printer under /cdm/" }));
    }
    let mut mapped = cdm::map(&docs);
    let mut findings = unread.findings;
    findings.append(&mut mapped.findings);
    mapped.findings = findings;
    Ok(mapped)
}

/// Polls one target.
pub fn poll_one(target: &PollTarget, config: &PollConfig) -> Result<Polled, Failure> {
    let client = || Client::new(config);
    let mapped = match target {
        PollTarget::Snmp(address) => poll_snmp(*address, config)?,
        PollTarget::Ipp { printer_uri, url } => poll_ipp(&client(), printer_uri, url)?,
        PollTarget::Ledm { base } => poll_ledm(&client(), base)?,
        PollTarget::Cdm { base } => poll_cdm(&client(), base)?,
    };
    Ok(Polled { device: DeviceKey::of(&mapped.report.identity), mapped })
}

/// Polls every target, at most `config.concurrency` at once, and hands each one's result to
/// `done` (with its index in `targets`) as soon as it is known, from the thread that read it,
/// in the order the reads finish: a slow printer holds back no other's result. Returns once
/// every target is done.
pub fn poll_each(targets: &[PollTarget], config: &PollConfig, done: impl Fn(usize, Result<Polled, Failure>) + Sync) {
    let indices: Vec<usize> = (0..targets.len()).collect();
    run_bounded(&indices, config.concurrency, |&i| {
        if let Some(target) = targets.get(i) {
            done(i, poll_one(target, config));
        }
    });
}

/// Polls every target, at most `config.concurrency` at once. A target's failure is its
/// outcome, counted in the tally; it never stops the round.
pub fn poll_round(targets: &[PollTarget], config: &PollConfig) -> PollRound {
    let results = run_bounded(targets, config.concurrency, |t| poll_one(t, config));
    let mut round = PollRound::default();
    for (target, result) in targets.iter().zip(results) {
        match &result {
            Ok(_) => round.tally.success(),
            Err(f) => round.tally.failure(f),
        }
        round.outcomes.push(PollOutcome { target: target.clone(), result });
    }
    round
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_to_their_protocol() {
        let p = |s| PollTarget::parse(s, 161);
        assert_eq!(p("10.0.0.5").unwrap(), PollTarget::Snmp("10.0.0.5:161".parse().unwrap()));
        assert_eq!(p("10.0.0.5:1161").unwrap(), PollTarget::Snmp("10.0.0.5:1161".parse().unwrap()));
        assert_eq!(p("snmp://10.0.0.5:1161").unwrap(), PollTarget::Snmp("10.0.0.5:1161".parse().unwrap()));
        assert_eq!(
            p("ipp://127.0.0.1:8631/ipp/print").unwrap(),
            PollTarget::Ipp {
                printer_uri: "ipp://127.0.0.1:8631/ipp/print".into(),
                url: "http://127.0.0.1:8631/ipp/print".into()
            }
        );
        assert_eq!(
            p("ipps://printer.local").unwrap(),
            PollTarget::Ipp {
                printer_uri: "ipps://printer.local".into(),
                url: "https://printer.local:631/ipp/print".into()
            }
        );
        assert_eq!(
            p("ledm+http://127.0.0.1:8080/").unwrap(),
            PollTarget::Ledm { base: "http://127.0.0.1:8080".into() }
        );
        assert_eq!(p("ledm+https://10.0.0.9").unwrap(), PollTarget::Ledm { base: "https://10.0.0.9".into() });
        assert_eq!(p("cdm+https://10.0.0.9/").unwrap(), PollTarget::Cdm { base: "https://10.0.0.9".into() });
        assert_eq!(p("CDM+HTTP://127.0.0.1:8080").unwrap(), PollTarget::Cdm { base: "http://127.0.0.1:8080".into() });
        assert_eq!(p("cdm+https://10.0.0.9").unwrap().to_string(), "cdm+https://10.0.0.9");
        for bad in ["", "ftp://x", "ipp://", "ipp://a b/", "snmp://host.example", "ledm+http://x/\n", "10.0.0.0/24"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_ipp_request_is_what_rfc_8010_says() {
        let r = get_printer_attributes_request("ipp://h/p", 7).unwrap();
        assert_eq!(&r[..8], &[0x01, 0x01, 0x00, 0x0b, 0, 0, 0, 7]);
        assert_eq!(r.last(), Some(&0x03));
        let text = String::from_utf8_lossy(&r);
        assert!(text.contains("printer-uri\0\x09ipp://h/p"));
        assert!(text.contains("requested-attributes\0\x03all"));
        assert!(get_printer_attributes_request(&"x".repeat(70_000), 1).is_none());
    }
}
