//! Test scaffolding: a small portal (TLS on 127.0.0.1, `printfleet_ingest::Ingest` behind a
//! mutex) speaking the session-mode link and minimal HTTP/1.1 for one-shot frames, with an
//! in-memory "store" that records every batch, and a minimal HTTP CONNECT proxy.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use printfleet_auth::{
    DecoyKey, DeviceSecret, KeyEpoch, ServerAwaitingClientFinal, ServerConfig, Verifier, server_start,
};
use printfleet_cli::collect::Clock;
use printfleet_diff::DeviceState;
use printfleet_ingest::{
    Credential, CustomerId, DeviceRecord, Ingest, IngestError, Owner, ResellerId, SecretAnswer, Secrets, SessionHandle,
};
use printfleet_meter::{ContractId, DeviceId};
use printfleet_wire::frame::{OsRng, SenderId};
use printfleet_wire::link::{LinkReader, MAX_MESSAGE_BYTES, Message, MessageType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConnection, StreamOwned};

/// A CA and a server certificate for `localhost` and 127.0.0.1 signed by it.
pub struct Pki {
    pub ca_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

pub fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "printfleet test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();
    let chain = vec![CertificateDer::from_pem_slice(server_cert.pem().as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(server_key.serialize_pem().as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Pki { ca_pem: ca.pem(), config: Arc::new(config) }
}

/// The secret bytes of `name` (epoch 1), as provisioned: 32 bytes made from the name.
pub fn secret_bytes(name: &str) -> [u8; 32] {
    let mut out = [0x5c_u8; 32];
    for (i, b) in name.bytes().enumerate() {
        out[i % 32] = out[i % 32].rotate_left(3) ^ b;
    }
    out
}

/// The secret of `name` for epoch 1, as provisioned.
pub fn secret_of(name: &str) -> DeviceSecret {
    DeviceSecret::from_bytes(&secret_bytes(name)).unwrap()
}

/// The portal's one-shot secrets: every device's from its name.
pub struct TestSecrets;

impl Secrets for TestSecrets {
    fn secret(&self, device: &str, epoch: KeyEpoch) -> SecretAnswer {
        if epoch == KeyEpoch(1) { SecretAnswer::Found(secret_of(device)) } else { SecretAnswer::Unknown }
    }
}

/// What the "store" kept.
#[derive(Default)]
pub struct Stored {
    /// Batches committed, per device.
    pub batches: BTreeMap<SenderId, u64>,
    /// Job uuids stored, per device (a second copy of one is counted in `doubled_jobs`).
    pub jobs: BTreeMap<SenderId, BTreeSet<String>>,
    pub doubled_jobs: u64,
    /// The latest state, per device.
    pub states: BTreeMap<SenderId, DeviceState>,
    /// (instance, sequence) of every update applied, per device: never twice.
    pub applied: BTreeMap<SenderId, BTreeSet<(u32, u64)>>,
    pub applied_twice: u64,
}

pub struct Shared {
    pub ingest: Ingest<TestSecrets>,
    pub scram: ServerConfig,
    pub stored: Stored,
    pub rng: OsRng,
}

impl Shared {
    /// Stores a batch's writes, then commits it: the reply frame.
    fn store_and_commit(&mut self, batch: printfleet_ingest::Batch, now: printfleet_schema::Timestamp) -> Vec<u8> {
        let w = batch.writes();
        let device = w.device;
        let s = &mut self.stored;
        *s.batches.entry(device).or_default() += 1;
        for job in &w.jobs {
            if !s.jobs.entry(device).or_default().insert(job.job.uuid.to_string()) {
                s.doubled_jobs += 1;
            }
        }
        if let Some(state) = &w.state {
            s.states.insert(device, DeviceState::clone(state));
            if !s.applied.entry(device).or_default().insert((w.instance.0, w.sequence)) {
                s.applied_twice += 1;
            }
        }
        self.ingest.commit(batch, now, &mut self.rng).unwrap()
    }
}

pub fn provision(ingest: &mut Ingest<TestSecrets>, name: &str) -> SenderId {
    let mut rng = OsRng::default();
    let verifier = Verifier::new(&secret_of(name), &mut rng);
    let owner = Owner { reseller: ResellerId(1), customer: CustomerId(2), contract: ContractId(3) };
    let credentials = vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: Some(verifier) }];
    let meter_device = DeviceId(printfleet_auth::sender_id_of(name).0 & 0xFFFF);
    ingest
        .provision(DeviceRecord {
            name: name.into(),
            owner,
            meter_device,
            revoked: false,
            credentials,
            collector: None,
        })
        .unwrap()
}

/// Which protocol the test portal speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Link,
    Https,
}

pub struct TestPortal {
    pub addr: SocketAddr,
    pub shared: Arc<Mutex<Shared>>,
    pub connections: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestPortal {
    pub fn start(pki: &Pki, protocol: Protocol, devices: &[&str], clock: Clock) -> Self {
        Self::start_with(pki, protocol, devices, clock, "127.0.0.1:0".parse().unwrap(), None)
    }

    /// Like [`TestPortal::start`], on `addr`, with sessions lasting `session_lifetime`.
    pub fn start_with(
        pki: &Pki,
        protocol: Protocol,
        devices: &[&str],
        clock: Clock,
        addr: SocketAddr,
        session_lifetime: Option<printfleet_schema::DurationMs>,
    ) -> Self {
        let mut scram = ServerConfig::new(DecoyKey::from_bytes([0x44; 32]));
        if let Some(lifetime) = session_lifetime {
            scram = scram.with_session_lifetime(lifetime);
        }
        let mut ingest = Ingest::new(TestSecrets);
        for name in devices {
            provision(&mut ingest, name);
        }
        let shared = Arc::new(Mutex::new(Shared { ingest, scram, stored: Stored::default(), rng: OsRng::default() }));
        let listener = TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let (config, s, st, c) =
            (Arc::clone(&pki.config), Arc::clone(&shared), Arc::clone(&stop), Arc::clone(&connections));
        let thread = std::thread::spawn(move || {
            let mut handlers = Vec::new();
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((socket, _)) => {
                        c.fetch_add(1, Ordering::Relaxed);
                        socket.set_nonblocking(false).unwrap();
                        socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                        let (config, s, st) = (Arc::clone(&config), Arc::clone(&s), Arc::clone(&st));
                        handlers.push(std::thread::spawn(move || {
                            let Ok(conn) = ServerConnection::new(config) else { return };
                            let tls = StreamOwned::new(conn, socket);
                            match protocol {
                                Protocol::Link => serve_link(tls, &s, &st, clock),
                                Protocol::Https => serve_https(tls, &s, &st, clock),
                            }
                        }));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                    Err(_) => break,
                }
            }
            for h in handlers {
                let _ = h.join();
            }
        });
        Self { addr, shared, connections, stop, thread: Some(thread) }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        f(&mut self.shared.lock().unwrap())
    }
}

impl Drop for TestPortal {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

/// Reads some bytes; `None` when the connection is over (closed, broken, or the portal stops).
fn read_some(tls: &mut Tls, buf: &mut [u8], stop: &AtomicBool) -> Option<usize> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        match tls.read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return None,
        }
    }
}

fn serve_link(mut tls: Tls, shared: &Mutex<Shared>, stop: &AtomicBool, clock: Clock) {
    let mut reader = LinkReader::new();
    let mut handshakes: HashMap<u32, (ServerAwaitingClientFinal, printfleet_schema::Timestamp)> = HashMap::new();
    let mut sessions: HashMap<u32, SessionHandle> = HashMap::new();
    let mut buf = vec![0u8; 16 * 1024];
    'conn: while let Some(n) = read_some(&mut tls, &mut buf, stop) {
        reader.extend(&buf[..n]);
        let mut out = Vec::new();
        loop {
            let message = match reader.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => break 'conn,
            };
            let (kind, channel) = (message.kind, message.channel);
            let body = message.body.to_vec();
            let mut send = |kind: MessageType, body: &[u8]| Message { kind, channel, body }.encode(&mut out).unwrap();
            let mut guard = shared.lock().unwrap();
            let s = &mut *guard;
            let now = clock.now();
            match kind {
                MessageType::Hello => {
                    let text = String::from_utf8_lossy(&body);
                    match server_start(&text, s.ingest.registry(), &s.scram, &mut s.rng, now) {
                        Ok((state, first)) => {
                            // The handshake's clock is the Hello's instant (an accelerated
                            // clock would time PBKDF2 out).
                            handshakes.insert(channel, (state, now));
                            send(MessageType::ServerFirst, first.as_bytes());
                        }
                        Err(_) => send(MessageType::Closed, b""),
                    }
                }
                MessageType::ClientFinal => {
                    let Some((state, started)) = handshakes.remove(&channel) else { break 'conn };
                    match state.handle_client_final(&String::from_utf8_lossy(&body), started) {
                        Ok((session, last)) => match s.ingest.open_session(session, now) {
                            Ok(handle) => {
                                sessions.insert(channel, handle);
                                send(MessageType::ServerFinal, last.as_bytes());
                            }
                            Err(_) => send(MessageType::Closed, b""),
                        },
                        Err(_) => send(MessageType::Closed, b""),
                    }
                }
                MessageType::Frame => {
                    let Some(handle) = sessions.get(&channel).copied() else {
                        send(MessageType::Closed, b"");
                        continue;
                    };
                    match s.ingest.receive_session(handle, &body, now) {
                        Ok(batch) => {
                            let reply = s.store_and_commit(batch, now);
                            send(MessageType::Reply, &reply);
                        }
                        Err(IngestError::SessionClosed) => {
                            sessions.remove(&channel);
                            send(MessageType::Closed, b"");
                        }
                        Err(_) => send(MessageType::Rejected, b""),
                    }
                }
                MessageType::Closed => {
                    handshakes.remove(&channel);
                    if let Some(handle) = sessions.remove(&channel) {
                        s.ingest.close_session(handle);
                    }
                }
                _ => break 'conn,
            }
        }
        if !out.is_empty() && (tls.write_all(&out).is_err() || tls.flush().is_err()) {
            break;
        }
    }
    let mut s = shared.lock().unwrap();
    for handle in sessions.into_values() {
        s.ingest.close_session(handle);
    }
}

/// Minimal HTTP/1.1 with keep-alive: `POST /v1/frames` only.
fn serve_https(tls: Tls, shared: &Mutex<Shared>, stop: &AtomicBool, clock: Clock) {
    let mut reader = BufReader::new(StopReader { tls, stop });
    loop {
        let mut head = Vec::new();
        let mut content_length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(usize::MAX);
            }
            head.push(line.clone());
            if head.len() > 100 {
                return;
            }
        }
        let request_line = head.first().cloned().unwrap_or_default();
        let (status, body): (&str, Vec<u8>) = if content_length > MAX_MESSAGE_BYTES {
            respond(reader.get_mut(), "413 Payload Too Large", b"too large");
            return;
        } else {
            let mut body = vec![0u8; content_length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            if !request_line.starts_with("POST /v1/frames ") {
                ("404 Not Found", b"not found".to_vec())
            } else {
                let mut guard = shared.lock().unwrap();
                let s = &mut *guard;
                let now = clock.now();
                match s.ingest.receive(&body, now) {
                    Ok(batch) => ("200 OK", s.store_and_commit(batch, now)),
                    Err(IngestError::Unavailable) => ("503 Service Unavailable", b"unavailable".to_vec()),
                    Err(_) => ("400 Bad Request", b"frame rejected".to_vec()),
                }
            }
        };
        if !respond(reader.get_mut(), status, &body) {
            return;
        }
    }
}

struct StopReader<'a> {
    tls: Tls,
    stop: &'a AtomicBool,
}

impl Read for StopReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(read_some(&mut self.tls, buf, self.stop).unwrap_or(0))
    }
}

fn respond(r: &mut StopReader<'_>, status: &str, body: &[u8]) -> bool {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
        body.len()
    );
    r.tls.write_all(head.as_bytes()).is_ok() && r.tls.write_all(body).is_ok() && r.tls.flush().is_ok()
}

/// A minimal HTTP CONNECT proxy on 127.0.0.1: counts the tunnels it opened.
pub struct Proxy {
    pub addr: SocketAddr,
    pub tunnels: Arc<AtomicU64>,
}

impl Proxy {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let tunnels = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&tunnels);
        // Serves until the test process ends (each test binds its own).
        std::thread::spawn(move || {
            for socket in listener.incoming().take(16) {
                let Ok(client) = socket else { return };
                let count = Arc::clone(&count);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let target = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    let Ok(upstream) = TcpStream::connect(&target) else { return };
                    count.fetch_add(1, Ordering::Relaxed);
                    let mut client_w = client.try_clone().unwrap();
                    client_w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap();
                    let mut up_r = upstream.try_clone().unwrap();
                    let mut up_w = upstream;
                    let t = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut up_r, &mut client_w);
                    });
                    let _ = std::io::copy(&mut reader, &mut up_w);
                    let _ = up_w.shutdown(std::net::Shutdown::Both);
                    let _ = t.join();
                });
            }
        });
        Self { addr, tunnels }
    }
}
