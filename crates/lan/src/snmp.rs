//! The SNMP client: GET and GETBULK walks over UDP with the `snmp2` crate's synchronous
//! session (v2c, and v3 USM authPriv with RustCrypto HMAC-SHA-2 and AES-CFB), with a timeout on
//! every request, retries after a timeout, and a bound on the bindings one walk may return.
//! Every error becomes a typed [`Failure`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use printfleet_sources::snmp::{Bindings, Oid, SnmpValue};

use crate::config::{
    AuthProtocol, MAX_REPETITIONS, MAX_WALK_BINDINGS, MAX_WALK_REQUESTS, PollConfig, PrivProtocol, SnmpCredentials,
};
use crate::error::Failure;

/// A request whose receive failed in less than this share of the timeout failed on an ICMP
/// "port unreachable" (the kernel reports it on the connected socket at once), not a timeout:
/// `snmp2` folds both into one receive error, so elapsed time tells them apart.
const REFUSED_BEFORE_TIMEOUT_DIVISOR: u32 = 2;

/// One value of a response: a binding, or an SNMPv2 exception (RFC 3416 §4.2.1).
enum Answer {
    Value(SnmpValue),
    /// noSuchObject / noSuchInstance, or a type the mapping does not read.
    Absent,
    EndOfMibView,
}

fn convert(value: &snmp2::Value<'_>) -> Answer {
    use snmp2::Value as V;
    Answer::Value(match value {
        V::Integer(v) => match i32::try_from(*v) {
            Ok(v) => SnmpValue::Integer(v),
            Err(_) => return Answer::Absent,
        },
        V::OctetString(b) => SnmpValue::OctetString(b.to_vec()),
        V::ObjectIdentifier(o) => match o.to_id_string().parse() {
            Ok(o) => SnmpValue::ObjectId(o),
            Err(_) => return Answer::Absent,
        },
        V::IpAddress(a) => SnmpValue::IpAddress(*a),
        V::Counter32(v) => SnmpValue::Counter32(*v),
        V::Unsigned32(v) => SnmpValue::Gauge32(*v),
        V::Timeticks(v) => SnmpValue::TimeTicks(*v),
        V::Counter64(v) => SnmpValue::Counter64(*v),
        V::Null => SnmpValue::Null,
        V::EndOfMibView => return Answer::EndOfMibView,
        _ => return Answer::Absent,
    })
}

fn to_snmp2(oid: &Oid) -> Result<snmp2::Oid<'static>, Failure> {
    let arcs: Vec<u64> = oid.arcs().iter().map(|a| u64::from(*a)).collect();
    snmp2::Oid::from(&arcs).map_err(|e| Failure::malformed("OID", format!("{oid}: {e:?}")))
}

/// An SNMP session with one agent.
pub(crate) struct Session {
    // Boxed: the session holds a 64 KiB receive buffer, too much for a worker's stack.
    inner: Box<snmp2::SyncSession>,
    timeout: Duration,
    retries: u32,
    /// When the read must be done (`PollConfig::deadline` after the session opened), and that
    /// deadline's length.
    deadline: (Instant, Duration),
    /// Whether the agent answered a request yet.
    answered: bool,
}

impl Session {
    /// Opens a session to `address` (v3: runs engine discovery, RFC 3414 §4).
    pub(crate) fn open(address: SocketAddr, config: &PollConfig) -> Result<Self, Failure> {
        let deadline = (Instant::now().checked_add(config.deadline).unwrap_or_else(Instant::now), config.deadline);
        let io = |e: std::io::Error| Failure::Unreachable { detail: e.to_string() };
        let timeout = config.timeout;
        let inner = match &config.credentials {
            SnmpCredentials::V2c { community } => {
                snmp2::SyncSession::new_v2c(address, community.expose(), Some(timeout), 0).map_err(io)?
            }
            SnmpCredentials::V3(v3) => {
                use snmp2::v3::{Auth, AuthProtocol as A, Cipher, KeyExtension, Security};
                let cipher = match v3.priv_protocol {
                    PrivProtocol::Aes128 => Cipher::Aes128,
                    PrivProtocol::Aes192 => Cipher::Aes192,
                    PrivProtocol::Aes256 => Cipher::Aes256,
                };
                let auth_protocol = match v3.auth_protocol {
                    AuthProtocol::Sha1 => A::Sha1,
                    AuthProtocol::Sha224 => A::Sha224,
                    AuthProtocol::Sha256 => A::Sha256,
                    AuthProtocol::Sha384 => A::Sha384,
                    AuthProtocol::Sha512 => A::Sha512,
                };
                let security = Security::new(v3.user.as_bytes(), v3.auth_password.expose())
                    .with_auth_protocol(auth_protocol)
                    .with_auth(Auth::AuthPriv { cipher, privacy_password: v3.priv_password.expose().to_vec() })
                    .with_key_extension_method(KeyExtension::Reeder);
                snmp2::SyncSession::new_v3(address, Some(timeout), 0, security).map_err(io)?
            }
        };
        let mut session = Self { inner: Box::new(inner), timeout, retries: config.retries, deadline, answered: false };
        if matches!(config.credentials, SnmpCredentials::V3(_)) {
            session.retry(|s| s.init().map(|()| Vec::new()))?;
        }
        Ok(session)
    }

    /// Runs one request with retries after timeouts, each attempt started before the
    /// deadline; maps `snmp2`'s errors to failures.
    fn retry(
        &mut self,
        mut request: impl FnMut(&mut snmp2::SyncSession) -> Result<Vec<(Oid, Answer)>, snmp2::Error>,
    ) -> Result<Vec<(Oid, Answer)>, Failure> {
        let mut attempts = 0_u32;
        loop {
            attempts = attempts.saturating_add(1);
            let started = Instant::now();
            if started >= self.deadline.0 {
                let made = attempts.saturating_sub(1);
                return Err(Failure::past_deadline(self.answered, self.deadline.1, self.timeout, made));
            }
            match request(&mut self.inner) {
                Ok(answers) => {
                    self.answered = true;
                    return Ok(answers);
                }
                Err(snmp2::Error::Receive) => {
                    if started.elapsed() < self.timeout.checked_div(REFUSED_BEFORE_TIMEOUT_DIVISOR).unwrap_or_default()
                    {
                        return Err(Failure::Refused);
                    }
                }
                // A late answer to an earlier attempt: ask again.
                Err(snmp2::Error::RequestIdMismatch) => {}
                Err(snmp2::Error::Send) => return Err(Failure::Unreachable { detail: "send failed".into() }),
                Err(snmp2::Error::AuthFailure(kind)) => return Err(Failure::Auth { detail: format!("{kind:?}") }),
                Err(snmp2::Error::CommunityMismatch) => {
                    return Err(Failure::Auth { detail: "community mismatch".into() });
                }
                Err(e) => return Err(Failure::malformed("SNMP response", e)),
            }
            if attempts > self.retries {
                return Err(Failure::timeout(self.timeout, attempts));
            }
        }
    }

    fn answers(pdu: &snmp2::Pdu<'_>) -> Result<Vec<(Oid, Answer)>, Failure> {
        if pdu.error_status != 0 {
            return Err(Failure::malformed("SNMP response", format!("error-status {}", pdu.error_status)));
        }
        let mut out = Vec::new();
        for (name, value) in pdu.varbinds.clone() {
            let oid: Oid = name
                .to_id_string()
                .parse()
                .map_err(|_| Failure::malformed("SNMP response", format!("bad OID {name}")))?;
            out.push((oid, convert(&value)));
        }
        Ok(out)
    }

    /// GETs `oids` into `out`; absent objects are left out.
    pub(crate) fn get(&mut self, oids: &[Oid], out: &mut Bindings) -> Result<(), Failure> {
        let names = oids.iter().map(to_snmp2).collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&snmp2::Oid<'_>> = names.iter().collect();
        let answers = self.retry(|s| {
            let pdu = s.get_many(&refs)?;
            Self::answers(&pdu).map_err(|_| snmp2::Error::AsnParse)
        })?;
        for (oid, answer) in answers {
            if let Answer::Value(v) = answer {
                out.insert(oid, v);
            }
        }
        Ok(())
    }

    /// One GETBULK at `subtree`: its first rows, into `out`.
    pub(crate) fn first_rows(&mut self, subtree: &Oid, out: &mut Bindings) -> Result<(), Failure> {
        let name = to_snmp2(subtree)?;
        let answers = self.retry(|s| {
            let pdu = s.getbulk(&[&name], 0, MAX_REPETITIONS)?;
            Self::answers(&pdu).map_err(|_| snmp2::Error::AsnParse)
        })?;
        for (oid, answer) in answers {
            if let (true, Answer::Value(v)) = (oid.starts_with(subtree), answer) {
                out.insert(oid, v);
            }
        }
        Ok(())
    }

    /// Walks `subtree` with GETBULK into `out`, at most [`MAX_WALK_BINDINGS`] bindings in all.
    pub(crate) fn walk(&mut self, subtree: &Oid, out: &mut Bindings) -> Result<(), Failure> {
        let mut next = subtree.clone();
        for _ in 0..MAX_WALK_REQUESTS {
            let name = to_snmp2(&next)?;
            let answers = self.retry(|s| {
                let pdu = s.getbulk(&[&name], 0, MAX_REPETITIONS)?;
                Self::answers(&pdu).map_err(|_| snmp2::Error::AsnParse)
            })?;
            let mut advanced = false;
            for (oid, answer) in answers {
                // RFC 3416 §4.2.3: the walk ends past the subtree or at the end of the MIB view;
                // an agent that does not advance (a loop) is cut off too.
                if !oid.starts_with(subtree) || matches!(answer, Answer::EndOfMibView) || oid <= next {
                    return Ok(());
                }
                if let Answer::Value(v) = answer {
                    out.insert(oid.clone(), v);
                }
                if out.len() >= MAX_WALK_BINDINGS {
                    return Err(Failure::TooLarge { limit: MAX_WALK_BINDINGS as u64 });
                }
                next = oid;
                advanced = true;
            }
            if !advanced {
                return Ok(());
            }
        }
        Err(Failure::TooLarge { limit: MAX_WALK_REQUESTS as u64 })
    }
}
