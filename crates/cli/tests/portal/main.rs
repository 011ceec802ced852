//! The portal over real sockets on 127.0.0.1, with the real `printfleet` binary: one-shot HTTPS
//! end to end, session mode over the link, kill -9 and restart, bad input at the door, the
//! admin endpoints and commands. Every loop is bounded in count and in time.
// Test code: a panic is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod admin;
mod clock;
mod crash;
mod demo;
mod door;
mod e2e;
mod oneshot;
mod session;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use printfleet_agent::{DeviceAgent, Schedule, Transmit};
use printfleet_auth::{DeviceSecret, KeyEpoch, one_shot};
use printfleet_diff::sync::Instance;
use printfleet_schema::{DeviceReport, DurationMs, PageCount, PrintJob, Redaction, Timestamp, samples};
use printfleet_wire::frame::{OsRng, SenderId};

/// How long a portal may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Every portal and collector a test starts stops by itself after this long (`--run-for`), so
/// that a test process killed mid-test leaves nothing running (nor holding its pipes and locks).
pub(crate) const HARNESS_BOUND: Duration = Duration::from_secs(300);

pub(crate) fn printfleet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_printfleet")).args(args).output().unwrap()
}

/// A temporary portal home: the database and the state directory.
pub(crate) struct Home {
    pub(crate) dir: tempfile::TempDir,
    /// The database URL, when not the SQLite file in `dir`.
    db: Option<String>,
}

impl Home {
    pub(crate) fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap(), db: None }
    }

    /// A home whose database is `url` (`postgres://...`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn with_db(url: String) -> Self {
        Self { dir: tempfile::tempdir().unwrap(), db: Some(url) }
    }

    pub(crate) fn db(&self) -> String {
        self.db.clone().unwrap_or_else(|| format!("sqlite:{}", self.dir.path().join("portal.db").display()))
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.dir.path().join("portal.db")
    }

    pub(crate) fn state(&self) -> String {
        self.dir.path().join("state").display().to_string()
    }

    /// `printfleet device add`: the sender id and the secret it printed.
    pub(crate) fn add_device(&self, name: &str) -> (SenderId, DeviceSecret) {
        self.add_device_with(name, None)
    }

    /// [`Home::add_device`], reported by `collector` (provisioned before) in bundles.
    pub(crate) fn add_device_with(&self, name: &str, collector: Option<&str>) -> (SenderId, DeviceSecret) {
        let out = self.device(&["add", name, "--reseller", "1", "--customer", "2", "--contract", "3"], collector);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["name"], name);
        assert_eq!(json["epoch"], 1);
        let secret = base64::engine::general_purpose::STANDARD.decode(json["secret"].as_str().unwrap()).unwrap();
        (SenderId(json["sender"].as_u64().unwrap()), DeviceSecret::from_bytes(&secret).unwrap())
    }

    /// `printfleet device ARGS [--collector NAME]` on this home's database and state.
    pub(crate) fn device(&self, args: &[&str], collector: Option<&str>) -> std::process::Output {
        let (db, state) = (self.db(), self.state());
        let mut all = vec!["device"];
        all.extend_from_slice(args);
        if let Some(c) = collector {
            all.extend(["--collector", c]);
        }
        all.extend(["--db", &db, "--state", &state]);
        printfleet(&all)
    }

    /// `printfleet device list`: one JSON value per device.
    pub(crate) fn device_list(&self) -> Vec<serde_json::Value> {
        let out = self.device(&["list"], None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// Starts `printfleet portal` on ports chosen by the OS.
    pub(crate) fn start(&self, extra: &[&str]) -> Portal {
        self.start_at("127.0.0.1:0", "127.0.0.1:0", extra)
    }

    /// Starts `printfleet portal` with HTTPS on `https` and the link on `tcp`.
    pub(crate) fn start_at(&self, https: &str, tcp: &str, extra: &[&str]) -> Portal {
        let (db, state) = (self.db(), self.state());
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("portal.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_printfleet"))
            .args(["portal", "--db", &db, "--state", &state, "--https", https, "--tcp", tcp])
            // A bound: if this test process dies, its portal stops by itself.
            .args(["--run-for", &HARNESS_BOUND.as_secs().to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_TIMEOUT).expect("the portal printed no listening line");
        let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let addr = |k: &str| json[k].as_str().unwrap().parse::<SocketAddr>().unwrap();
        let ca = std::fs::read_to_string(json["ca"].as_str().unwrap()).unwrap();
        Portal { child, https: addr("https"), tcp: addr("tcp"), ca }
    }
}

/// A running `printfleet portal`; killed (SIGKILL) when dropped.
pub(crate) struct Portal {
    pub(crate) child: Child,
    pub(crate) https: SocketAddr,
    pub(crate) tcp: SocketAddr,
    pub(crate) ca: String,
}

impl Portal {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https.port())
    }

    /// SIGTERM, then waits (bounded) for a clean exit.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the portal did not stop within 10 s of SIGTERM");
    }

    /// A ureq agent trusting this portal's CA (and nothing else).
    pub(crate) fn http(&self) -> ureq::Agent {
        let cert = ureq::tls::Certificate::from_pem(self.ca.as_bytes()).unwrap();
        let tls =
            ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert]))).build();
        ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into()
    }

    /// POSTs a frame; the status and the body.
    pub(crate) fn post(&self, http: &ureq::Agent, frame: &[u8]) -> Result<(u16, Vec<u8>), ureq::Error> {
        let mut r = http.post(self.url("/v1/frames")).header("Content-Type", "application/octet-stream").send(frame)?;
        let status = r.status().as_u16();
        Ok((status, r.body_mut().read_to_vec()?))
    }

    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        let mut r = self.http().get(self.url(path)).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    /// One counter of `/metrics` (a line `name value`).
    pub(crate) fn metric(&self, name: &str) -> u64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .parse()
            .unwrap()
    }

    /// A TLS client stream to `addr` trusting this portal's CA.
    pub(crate) fn tls(&self, addr: SocketAddr) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        tls_to(addr, &self.ca)
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

pub(crate) fn tls_to(addr: SocketAddr, ca_pem: &str) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.set_nodelay(true).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(client_config(ca_pem), name).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Reads until EOF or an error, bounded by the stream's read timeout; whether the peer closed.
pub(crate) fn closed_by_peer(stream: &mut impl Read) -> bool {
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
    false
}

/// The wall clock (the portal checks frame times against its own, within a day).
pub(crate) fn wall() -> Timestamp {
    Timestamp::try_from(SystemTime::now()).unwrap()
}

pub(crate) fn plus(t: Timestamp, ms: u64) -> Timestamp {
    t.checked_add(DurationMs(ms)).unwrap()
}

/// A device agent with the secret `device add` printed, reporting every `interval_ms`.
pub(crate) fn agent(name: &str, secret: &DeviceSecret, instance: u32, interval_ms: u64) -> DeviceAgent {
    agent_at(KeyEpoch(1), name, secret, instance, interval_ms)
}

/// [`agent`] with the secret of key epoch `epoch`.
pub(crate) fn agent_at(
    epoch: KeyEpoch,
    name: &str,
    secret: &DeviceSecret,
    instance: u32,
    interval_ms: u64,
) -> DeviceAgent {
    let key = one_shot::frame_key(secret, name, epoch);
    let schedule = Schedule::direct()
        .with_interval(DurationMs(interval_ms))
        .unwrap()
        .with_retry(DurationMs(60_000), DurationMs(120_000))
        .unwrap();
    DeviceAgent::new(printfleet_auth::sender_id_of(name), &key, Redaction::drop_all(), schedule, Instance(instance))
}

pub(crate) fn reading() -> DeviceReport {
    let mut r = samples::office_laser();
    r.events.print_jobs.clear();
    r
}

pub(crate) fn job(n: u64, pages: u64) -> PrintJob {
    let mut j = samples::large_format(1).events.print_jobs.remove(0);
    j.job.uuid = uuid::Uuid::from_u64_pair(0x5eed, n + 1);
    j.job.sequence = n;
    j.print.pages = PageCount(pages);
    j
}

/// Saves whenever the agent asks, then returns what it sends.
pub(crate) fn pump(agent: &mut DeviceAgent, now: Timestamp) -> Option<Transmit> {
    let mut rng = OsRng::default();
    for _ in 0..8 {
        if agent.needs_save() {
            let cp = agent.save();
            agent.saved(cp).unwrap();
        }
        match agent.poll_transmit(now, &mut rng) {
            Some(t) => return Some(t),
            None if agent.needs_save() => continue,
            None => return None,
        }
    }
    None
}

/// Writes raw bytes, ignoring errors (the peer may have closed).
pub(crate) fn send(stream: &mut impl Write, bytes: &[u8]) -> bool {
    stream.write_all(bytes).and_then(|()| stream.flush()).is_ok()
}
