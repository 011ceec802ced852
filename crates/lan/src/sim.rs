//! A simulated SNMP v2c agent (feature `sim`): serves a [`Bindings`] (e.g. an snmprec capture)
//! on a loopback UDP socket, answering GET, GETNEXT and GETBULK (RFC 3416 §4.2), so that
//! discovery and polling are tested and benchmarked without a printer or snmpsim. It stops
//! when dropped.
//!
//! Not an agent to expose: it answers any source, and only the configured community.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use printfleet_sources::snmp::{Bindings, Oid, SnmpValue};
use snmp2::{MessageType, Pdu};

/// How often the agent's thread looks at its stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Most rows one GETBULK answer carries, whatever max-repetitions asks.
pub const SIM_MAX_REPETITIONS: u32 = 64;
/// The largest SNMP message over UDP/IPv4 (65 535 - 8 - 20).
const MAX_DATAGRAM: usize = 65_507;

/// A simulated agent, serving until dropped.
#[derive(Debug)]
pub struct SimAgent {
    address: SocketAddr,
    dropped: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SimAgent {
    /// Serves `bindings` to requests with `community` on `bind` (port 0 picks one).
    pub fn start(bind: SocketAddr, community: &[u8], bindings: Arc<Bindings>) -> io::Result<Self> {
        Self::start_lossy(bind, community, bindings, 0)
    }

    /// Like [`SimAgent::start`], but the first `drop_first` requests go unanswered (a lossy
    /// network, for tests of retries).
    pub fn start_lossy(
        bind: SocketAddr,
        community: &[u8],
        bindings: Arc<Bindings>,
        drop_first: u32,
    ) -> io::Result<Self> {
        Self::start_with(bind, community, bindings, drop_first, Duration::ZERO)
    }

    /// Like [`SimAgent::start`], but every answer leaves `delay` after its request arrived (an
    /// agent that answers each request, slowly: for tests of the read deadline).
    pub fn start_slow(
        bind: SocketAddr,
        community: &[u8],
        bindings: Arc<Bindings>,
        delay: Duration,
    ) -> io::Result<Self> {
        Self::start_with(bind, community, bindings, 0, delay)
    }

    fn start_with(
        bind: SocketAddr,
        community: &[u8],
        bindings: Arc<Bindings>,
        drop_first: u32,
        delay: Duration,
    ) -> io::Result<Self> {
        let socket = UdpSocket::bind(bind)?;
        socket.set_read_timeout(Some(POLL_INTERVAL))?;
        let address = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let community = community.to_vec();
        let flag = Arc::clone(&stop);
        let dropped = Arc::new(AtomicU32::new(0));
        let count = Arc::clone(&dropped);
        let thread = std::thread::Builder::new()
            .name(format!("sim-agent {address}"))
            .stack_size(256 * 1024)
            .spawn(move || serve(&socket, &community, &bindings, &flag, (drop_first, &count), delay))?;
        Ok(Self { address, dropped, stop, thread: Some(thread) })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// How many requests it left unanswered on purpose.
    pub fn dropped(&self) -> u32 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for SimAgent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    socket: &UdpSocket,
    community: &[u8],
    bindings: &Bindings,
    stop: &AtomicBool,
    (drop_first, dropped): (u32, &AtomicU32),
    delay: Duration,
) {
    let mut buf = vec![0_u8; MAX_DATAGRAM];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, peer)) = socket.recv_from(&mut buf) else { continue };
        if dropped.load(Ordering::Relaxed) < drop_first {
            dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let Some(request) = buf.get(..len) else { continue };
        if let Some(response) = answer(request, community, bindings) {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            let _ = socket.send_to(&response, peer);
        }
    }
}

fn to_oid(o: &snmp2::Oid<'_>) -> Option<Oid> {
    o.to_id_string().parse().ok()
}

enum Out<'a> {
    Value(&'a SnmpValue),
    NoSuchObject,
    EndOfMibView,
}

fn next_after<'a>(bindings: &'a Bindings, oid: &Oid) -> Option<(&'a Oid, &'a SnmpValue)> {
    bindings.iter().find(|(o, _)| *o > oid)
}

/// The response to one request, or `None` to stay silent (wrong community, not a request).
fn answer(request: &[u8], community: &[u8], bindings: &Bindings) -> Option<Vec<u8>> {
    let pdu = Pdu::from_bytes(request).ok()?;
    if pdu.community != community || pdu.version().ok()? != snmp2::Version::V2C {
        return None;
    }
    let mut out: Vec<(Oid, Out<'_>)> = Vec::new();
    for (name, _) in pdu.varbinds.clone() {
        let oid = to_oid(&name)?;
        match pdu.message_type {
            MessageType::GetRequest => {
                let v = bindings.get(&oid).map_or(Out::NoSuchObject, Out::Value);
                out.push((oid, v));
            }
            MessageType::GetNextRequest => match next_after(bindings, &oid) {
                Some((o, v)) => out.push((o.clone(), Out::Value(v))),
                None => out.push((oid, Out::EndOfMibView)),
            },
            MessageType::GetBulkRequest => {
                // error-index carries max-repetitions (RFC 3416 §4.2.3); every varbind is a
                // repeater here (non-repeaters is what the clients in this crate send: 0).
                let mut at = oid;
                for _ in 0..pdu.error_index.min(SIM_MAX_REPETITIONS) {
                    match next_after(bindings, &at) {
                        Some((o, v)) => {
                            out.push((o.clone(), Out::Value(v)));
                            at = o.clone();
                        }
                        None => {
                            out.push((at, Out::EndOfMibView));
                            break;
                        }
                    }
                }
            }
            _ => return None,
        }
    }
    encode(pdu.req_id, community, &out)
}

/// Appends a BER TLV (X.690 §8.1: definite length, short form below 0x80).
fn tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or(&[]);
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
}

/// The minimal two's-complement content octets of an INTEGER (X.690 §8.3).
fn integer(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (Some(a), Some(b)) = (bytes.get(start), bytes.get(start.saturating_add(1))) else { break };
        if (*a == 0x00 && b & 0x80 == 0) || (*a == 0xff && b & 0x80 != 0) {
            start = start.saturating_add(1);
        } else {
            break;
        }
    }
    bytes.get(start..).unwrap_or(&[]).to_vec()
}

/// Content octets of an unsigned application type (Counter32, Gauge32, TimeTicks, Counter64).
fn unsigned(v: u64) -> Vec<u8> {
    let mut bytes = vec![0];
    bytes.extend_from_slice(&v.to_be_bytes());
    let skip = bytes.windows(2).take_while(|w| matches!(w, [0, b] if b & 0x80 == 0)).count();
    bytes.get(skip..).unwrap_or(&[]).to_vec()
}

/// Content octets of an OBJECT IDENTIFIER (X.690 §8.19: the first two arcs as 40 × a + b,
/// then each subidentifier base 128, high bit set on all but its last octet).
fn oid_content(o: &Oid) -> Option<Vec<u8>> {
    let arcs = o.arcs();
    let (first, second) = (u64::from(*arcs.first()?), u64::from(*arcs.get(1)?));
    if first > 2 || (first < 2 && second >= 40) {
        return None;
    }
    let mut out = Vec::new();
    let subids =
        std::iter::once(first.checked_mul(40)?.checked_add(second)?).chain(arcs.iter().skip(2).map(|a| u64::from(*a)));
    for mut v in subids {
        let mut groups = vec![u8::try_from(v & 0x7f).ok()?];
        v >>= 7;
        while v > 0 {
            groups.push(u8::try_from(v & 0x7f).ok()? | 0x80);
            v >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    Some(out)
}

fn encode(req_id: i32, community: &[u8], varbinds: &[(Oid, Out<'_>)]) -> Option<Vec<u8>> {
    let mut list = Vec::new();
    for (name, value) in varbinds {
        let mut vb = Vec::new();
        tlv(&mut vb, 0x06, &oid_content(name)?);
        match value {
            Out::Value(SnmpValue::Integer(v)) => tlv(&mut vb, 0x02, &integer(i64::from(*v))),
            Out::Value(SnmpValue::OctetString(b)) => tlv(&mut vb, 0x04, b),
            Out::Value(SnmpValue::ObjectId(o)) => tlv(&mut vb, 0x06, &oid_content(o)?),
            Out::Value(SnmpValue::IpAddress(a)) => tlv(&mut vb, 0x40, a),
            Out::Value(SnmpValue::Counter32(v)) => tlv(&mut vb, 0x41, &unsigned(u64::from(*v))),
            Out::Value(SnmpValue::Gauge32(v)) => tlv(&mut vb, 0x42, &unsigned(u64::from(*v))),
            Out::Value(SnmpValue::TimeTicks(v)) => tlv(&mut vb, 0x43, &unsigned(u64::from(*v))),
            Out::Value(SnmpValue::Counter64(v)) => tlv(&mut vb, 0x46, &unsigned(*v)),
            Out::Value(_) => tlv(&mut vb, 0x05, &[]),
            Out::NoSuchObject => tlv(&mut vb, 0x80, &[]),
            Out::EndOfMibView => tlv(&mut vb, 0x82, &[]),
        }
        tlv(&mut list, 0x30, &vb);
    }
    let mut pdu = Vec::new();
    tlv(&mut pdu, 0x02, &integer(i64::from(req_id)));
    tlv(&mut pdu, 0x02, &[0]); // error-status
    tlv(&mut pdu, 0x02, &[0]); // error-index
    tlv(&mut pdu, 0x30, &list);
    let mut message = Vec::new();
    tlv(&mut message, 0x02, &[1]); // version: v2c (RFC 3416 §3)
    tlv(&mut message, 0x04, community);
    tlv(&mut message, 0xa2, &pdu); // Response-PDU
    let mut out = Vec::new();
    tlv(&mut out, 0x30, &message);
    (out.len() <= MAX_DATAGRAM).then_some(out)
}

/// Loads an snmprec capture for a [`SimAgent`].
pub fn load_snmprec(path: &std::path::Path) -> io::Result<Arc<Bindings>> {
    let bytes = std::fs::read(path)?;
    Bindings::from_snmprec(&String::from_utf8_lossy(&bytes))
        .map(Arc::new)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ber_integers_and_lengths_are_minimal() {
        assert_eq!(integer(0), [0]);
        assert_eq!(integer(127), [0x7f]);
        assert_eq!(integer(128), [0x00, 0x80]);
        assert_eq!(integer(-1), [0xff]);
        assert_eq!(integer(-129), [0xff, 0x7f]);
        assert_eq!(unsigned(0), [0]);
        assert_eq!(unsigned(255), [0x00, 0xff]);
        assert_eq!(unsigned(u64::from(u32::MAX)), [0x00, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(oid_content(&"1.3.6.1.2.1.1.1.0".parse().unwrap()).unwrap(), [0x2b, 6, 1, 2, 1, 1, 1, 0]);
        assert_eq!(oid_content(&"2.999.3".parse().unwrap()).unwrap(), [0x88, 0x37, 3]); // X.690 §8.19.5 example
        assert_eq!(oid_content(&"1.3.6.1.4.1.11.2.3.9.1.2.76.5".parse().unwrap()).unwrap()[..2], [0x2b, 6]);
        assert!(oid_content(&"1.40".parse().unwrap()).is_none());
        let mut out = Vec::new();
        tlv(&mut out, 0x04, &[7; 200]);
        assert_eq!(&out[..3], &[0x04, 0x81, 200]);
    }
}
