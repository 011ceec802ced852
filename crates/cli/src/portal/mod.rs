//! The portal server: HTTPS for one-shot frames, a TLS TCP link for collectors in session mode,
//! `/healthz` and `/metrics`, all in front of one ingest actor that owns the sans-IO
//! [`printfleet_ingest::Ingest`] and the store and commits frames in groups.
//!
//! ```text
//!  HTTPS conns ─┐                      ┌─ receive / receive_session each frame
//!               ├─ bounded queue ─► actor ─ write_batches (ONE transaction per group)
//!  link conns ──┘   (back-pressure)    └─ commit each batch, answer each requester
//! ```
//!
//! See `docs/portal.md` for the endpoints, the state directory, the limits and what is logged.

mod accept;
mod actor;
mod config;
mod https;
mod link;
mod metrics;
mod provision;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::{Semaphore, mpsc, watch};

pub use accept::ACCEPT_BACKOFF;
pub use actor::{MAX_DEFERRED_PER_DEVICE, MIN_RELOAD_INTERVAL};
pub use config::{
    DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_LINK_HANDSHAKE_TIMEOUT, DEFAULT_REGISTRY_REFRESH,
    DEFAULT_TLS_HANDSHAKE_TIMEOUT, Db, PortalConfig,
};
pub use https::{MAX_HEAD_BYTES, REJECTED_BODY, RETRY_AFTER_SECS};
pub use link::{LOGIN_HANDSHAKE_TIMEOUTS, MAX_HANDSHAKES_PER_CONNECTION, READ_CHUNK};
pub use metrics::PortalCounters;
pub use provision::{
    DeviceSpec, FIRST_EPOCH, Provisioned, add_epoch, devices, provision, provision_many, rekey, revoke, set_collector,
};
pub use state::{
    CA_CERT_FILE, CA_KEY_FILE, DECOY_KEY_FILE, MASTER_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE, SERVER_NAMES,
};

/// Frames (and handshake steps) queued for the ingest actor at once: beyond it, connections wait
/// (back-pressure) instead of the queue growing.
pub const QUEUE_DEPTH: usize = 4096;
/// Most frames the actor stores in one transaction (one group commit).
pub const MAX_GROUP: usize = 512;
/// HTTPS connections open at once; further clients wait in the listen backlog.
pub const MAX_HTTPS_CONNECTIONS: usize = 2048;
/// Link (session-mode) connections open at once.
pub const MAX_LINK_CONNECTIONS: usize = 256;
/// Link connections of one source address on which no SCRAM proof is checked yet (in their
/// TLS handshake, or before their first proof): one more is closed at once, so that one host
/// cannot hold the [`MAX_LINK_CONNECTIONS`] slots without credentials. A collector proves
/// itself within its first round trips; behind one NAT, a site's collectors count apart only
/// while they connect. An IPv6 address counts as its /64.
pub const MAX_UNPROVEN_LINKS_PER_ADDRESS: usize = 16;
/// Frames and handshake steps of one link connection waiting for the actor at once: a flooding
/// connection is stopped being read from beyond it, so it cannot take more than this share of
/// [`QUEUE_DEPTH`] from the others.
pub const MAX_IN_FLIGHT_PER_CONNECTION: usize = 64;
/// How long [`RunningPortal::shutdown`] waits for open connections to finish what they started.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Worker threads of the portal's runtime (the actor has its own thread).
pub const WORKER_THREADS: usize = 2;

/// Why the portal (or a provisioning step) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// A file of the state directory (or a configured certificate) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key file that is not 32 bytes (refused, never replaced).
    #[error("{path}: not a 32-byte key")]
    BadKeyFile {
        /// The file.
        path: PathBuf,
    },
    /// A PEM file too large, or without the certificate or key expected.
    #[error("{path}: no usable PEM certificate or private key")]
    BadPem {
        /// The file.
        path: PathBuf,
    },
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    Random,
    /// Generating the CA or the server certificate failed.
    #[error("certificate generation: {0}")]
    Certificate(rcgen::Error),
    /// The TLS configuration was refused (a key that does not match the certificate ...).
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] printfleet_store::StoreError),
    /// The device record was refused (its name, its credentials).
    #[error("device: {0}")]
    Device(#[from] printfleet_ingest::IngestError),
    /// A device of that name is already provisioned.
    #[error("device {name:?} is already provisioned")]
    AlreadyProvisioned {
        /// The name.
        name: String,
    },
    /// The device already has that key epoch.
    #[error("device {name:?} already has key epoch {epoch}")]
    EpochExists {
        /// The name.
        name: String,
        /// The epoch.
        epoch: u32,
    },
    /// The device is revoked: no new key epoch is given to it.
    #[error("device {name:?} is revoked")]
    Revoked {
        /// The name.
        name: String,
    },
    /// No device of that name.
    #[error("no device {name:?}")]
    NoSuchDevice {
        /// The name.
        name: String,
    },
    /// A `postgres://` database, but this build lacks the feature `postgres`.
    #[error("the PostgreSQL backend is not in this build (build printfleet-cli with the feature `postgres`)")]
    PostgresNotBuilt,
    /// A database URL that is neither `sqlite:PATH` nor `postgres://...` (only its scheme is
    /// kept: the rest may hold a password).
    #[error("unsupported database {url:?} (expected sqlite:PATH or postgres://...)")]
    BadDbUrl {
        /// What was given.
        url: String,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime or the actor thread could not be started.
    #[error("cannot start the portal's threads: {0}")]
    Threads(std::io::Error),
}

/// A running portal: its listeners, its ingest actor, its runtime. Dropping it shuts it down
/// like [`RunningPortal::shutdown`].
#[derive(Debug)]
pub struct RunningPortal {
    https_addr: SocketAddr,
    tcp_addr: SocketAddr,
    ca_pem: String,
    shared: Arc<metrics::Shared>,
    stop: watch::Sender<bool>,
    https_slots: Arc<Semaphore>,
    link_slots: Arc<Semaphore>,
    runtime: Option<Runtime>,
    actor: Option<JoinHandle<()>>,
    /// The portal's own handle on the actor's queue ([`RunningPortal::reload_registry`]),
    /// dropped at shutdown so that the actor sees every sender gone.
    queue: Option<mpsc::Sender<actor::Request>>,
}

impl RunningPortal {
    /// Starts a portal: prepares the state directory (keys, certificates), opens the store,
    /// restores the ingest from it, binds both listeners, and returns once they listen. The
    /// portal runs on its own threads until [`RunningPortal::shutdown`].
    pub fn start(config: PortalConfig) -> Result<RunningPortal, PortalError> {
        let master = state::master_key(&config.state_dir)?;
        let decoy = state::decoy_key(&config.state_dir)?;
        let tls_files = match &config.cert {
            Some((cert, key)) => {
                state::TlsFiles { ca_pem: state::read_pem(cert)?, cert: cert.clone(), key: key.clone() }
            }
            None => state::generated_tls(&config.state_dir)?,
        };
        let https_tls = https::tls_config(&tls_files, &[b"http/1.1"])?;
        let link_tls = https::tls_config(&tls_files, &[])?;
        let mut store = config.db.open()?;
        let loaded = store.load()?;
        let ingest = printfleet_ingest::Ingest::restore(master, loaded.devices, loaded.saved)?;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("printfleet-portal")
            .enable_all()
            .build()
            .map_err(PortalError::Threads)?;
        let (https_listener, link_listener) = runtime.block_on(async {
            let bind = |addr| async move {
                TcpListener::bind(addr).await.map_err(|source| PortalError::Bind { addr, source })
            };
            Ok::<_, PortalError>((bind(config.https_listen).await?, bind(config.tcp_listen).await?))
        })?;
        let local = |l: &TcpListener, addr| l.local_addr().map_err(|source| PortalError::Bind { addr, source });
        let https_addr = local(&https_listener, config.https_listen)?;
        let tcp_addr = local(&link_listener, config.tcp_listen)?;

        let shared = Arc::new(metrics::Shared::default());
        let (queue, requests) = mpsc::channel(QUEUE_DEPTH);
        // The link bounds every handshake in real time (`link_handshake_timeout`). On the
        // system clock SCRAM's own bound is the same; an injected clock's time is not real time
        // (an accelerated one would time out every handshake), so there only the real bound holds.
        let scram_timeout = if config.clock.is_injected() {
            printfleet_schema::DurationMs(u64::MAX)
        } else {
            printfleet_schema::DurationMs(u64::try_from(config.link_handshake_timeout.as_millis()).unwrap_or(u64::MAX))
        };
        let auth = printfleet_auth::ServerConfig::new(decoy).with_timeout(scram_timeout);
        let actor = actor::Actor::new(
            ingest,
            store,
            auth,
            config.db.clone(),
            shared.clone(),
            config.registry_refresh,
            config.clock.clone(),
        );
        let actor = std::thread::Builder::new()
            .name("printfleet-ingest".into())
            .spawn(move || actor.run(requests))
            .map_err(PortalError::Threads)?;

        let (stop, stopped) = watch::channel(false);
        let https_slots = Arc::new(Semaphore::new(MAX_HTTPS_CONNECTIONS));
        let link_slots = Arc::new(Semaphore::new(MAX_LINK_CONNECTIONS));
        let ctx = Arc::new(Ctx {
            queue: queue.clone(),
            clock: config.clock.clone(),
            shared: shared.clone(),
            header_timeout: config.header_timeout,
            tls_timeout: config.tls_handshake_timeout,
            idle_timeout: config.idle_timeout,
            link_handshake_timeout: config.link_handshake_timeout,
        });
        runtime.spawn(https::serve(https_listener, https_tls, ctx.clone(), https_slots.clone(), stopped.clone()));
        runtime.spawn(link::serve(link_listener, link_tls, ctx, link_slots.clone(), stopped));
        tracing::info!(%https_addr, %tcp_addr, "portal listening");
        Ok(RunningPortal {
            https_addr,
            tcp_addr,
            ca_pem: tls_files.ca_pem,
            shared,
            stop,
            https_slots,
            link_slots,
            runtime: Some(runtime),
            actor: Some(actor),
            queue: Some(queue),
        })
    }

    /// Reloads the device registry from the store now (new devices, new key epochs,
    /// revocations), without waiting for the next [`PortalConfig::registry_refresh`]; returns
    /// once the ingest actor has done it. For whoever provisions while the portal runs and
    /// must not have the next frame refused (the demo replacing a board); `printfleet device`
    /// relies on the periodic refresh instead.
    pub fn reload_registry(&self) -> Result<(), PortalError> {
        let gone = || PortalError::Threads(std::io::Error::other("the ingest actor has stopped"));
        let queue = self.queue.as_ref().ok_or_else(gone)?;
        let (done, wait) = tokio::sync::oneshot::channel();
        queue.blocking_send(actor::Request::Reload { done }).map_err(|_| gone())?;
        wait.blocking_recv().map_err(|_| gone())
    }

    /// The HTTPS listener's address (the port the OS chose for port 0).
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// The link listener's address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// What clients trust: the portal's own CA (generated on first start), or the configured
    /// certificate (chain) when `--cert` was given.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// What the portal counted since it started.
    pub fn counters(&self) -> PortalCounters {
        self.shared.snapshot()
    }

    /// Stops accepting connections, lets open ones finish their requests (at most
    /// [`SHUTDOWN_GRACE`]), lets the actor store and answer what it was given, and joins it.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        let _ = self.stop.send(true);
        let (https, link) = (self.https_slots.clone(), self.link_slots.clone());
        runtime.block_on(async move {
            let all = async {
                let _a = https.acquire_many(count(MAX_HTTPS_CONNECTIONS)).await;
                let _b = link.acquire_many(count(MAX_LINK_CONNECTIONS)).await;
            };
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, all).await;
        });
        // Dropping the runtime drops every task, and with them the queue's senders: the actor
        // finishes the group in hand and returns.
        runtime.shutdown_timeout(Duration::from_secs(1));
        self.queue = None;
        if let Some(actor) = self.actor.take() {
            let _ = actor.join();
        }
        tracing::info!("portal stopped");
    }
}

impl Drop for RunningPortal {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What every connection task shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) queue: mpsc::Sender<actor::Request>,
    pub(crate) clock: config::Clock,
    pub(crate) shared: Arc<metrics::Shared>,
    pub(crate) header_timeout: Duration,
    pub(crate) tls_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) link_handshake_timeout: Duration,
}

/// The wall clock as the protocol crates take it.
pub(crate) fn now() -> printfleet_schema::Timestamp {
    printfleet_schema::Timestamp::try_from(std::time::SystemTime::now())
        .unwrap_or(printfleet_schema::Timestamp::UNIX_EPOCH)
}
