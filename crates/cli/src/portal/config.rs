//! What a portal is started with.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use printfleet_schema::Timestamp;

use printfleet_store::{SqliteStore, Store};

use super::PortalError;

/// How long a client may take to send a request's headers (and then its body).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to complete the TLS handshake.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a collector may take from `Hello` to `ClientFinal` on a link channel.
pub const DEFAULT_LINK_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A link connection that sends nothing for this long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the actor reloads the device registry from the store (devices provisioned and
/// revocations made by `printfleet device` while the portal runs).
pub const DEFAULT_REGISTRY_REFRESH: Duration = Duration::from_secs(5);

/// The portal's database.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Db {
    /// An SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database: a `postgres://` or `postgresql://` URL as libpq takes it
    /// (`postgresql://portal@127.0.0.1:5432/printfleet`; `?options=-csearch_path%3DNAME` keeps
    /// the tables in an existing schema NAME), connected without TLS: use a loopback address or
    /// a local socket. Never printed (it may hold a password). Feature `postgres`.
    #[cfg(feature = "postgres")]
    Postgres(String),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            // The URL may carry a password.
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

impl Db {
    /// Parses `sqlite:PATH` (or `sqlite://PATH`) and, with the feature `postgres`,
    /// `postgres://...` or `postgresql://...` ([`Db::Postgres`]; without the feature:
    /// [`PortalError::PostgresNotBuilt`]).
    pub fn parse(url: &str) -> Result<Self, PortalError> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(PortalError::BadDbUrl { url: url.to_owned() });
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some(rest) = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")) {
            if rest.is_empty() {
                return Err(PortalError::BadDbUrl { url: url.to_owned() });
            }
            #[cfg(feature = "postgres")]
            return Ok(Self::Postgres(url.to_owned()));
            #[cfg(not(feature = "postgres"))]
            return Err(PortalError::PostgresNotBuilt);
        }
        // Not echoed back whole: a mistyped PostgreSQL URL may still carry a password.
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        Err(PortalError::BadDbUrl { url: format!("{scheme}:...") })
    }

    /// Opens the store (connecting and migrating it).
    pub fn open(&self) -> Result<Box<dyn Store + Send>, PortalError> {
        match self {
            Self::Sqlite(path) => Ok(Box::new(SqliteStore::open(path)?)),
            #[cfg(feature = "postgres")]
            Self::Postgres(url) => Ok(Box::new(printfleet_store::PostgresStore::connect(url)?)),
        }
    }
}

/// A portal's configuration: [`PortalConfig::new`], then the setters.
#[derive(Clone, Debug)]
pub struct PortalConfig {
    pub(crate) db: Db,
    pub(crate) state_dir: PathBuf,
    pub(crate) https_listen: SocketAddr,
    pub(crate) tcp_listen: SocketAddr,
    pub(crate) cert: Option<(PathBuf, PathBuf)>,
    pub(crate) header_timeout: Duration,
    pub(crate) tls_handshake_timeout: Duration,
    pub(crate) link_handshake_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) registry_refresh: Duration,
    pub(crate) clock: Clock,
}

/// The clock the portal checks frame times (the clock-skew limit) and session lifetimes
/// against: the system's unless [`PortalConfig::clock`] injected another.
#[derive(Clone)]
pub(crate) struct Clock(Option<Arc<dyn Fn() -> Timestamp + Send + Sync>>);

impl Clock {
    /// The system clock.
    pub(crate) fn system() -> Self {
        Self(None)
    }

    /// Whether [`PortalConfig::clock`] injected it.
    pub(crate) fn is_injected(&self) -> bool {
        self.0.is_some()
    }

    /// The time now, by this clock.
    pub(crate) fn now(&self) -> Timestamp {
        match &self.0 {
            Some(f) => f(),
            None => super::now(),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Clock(injected)" } else { "Clock(system)" })
    }
}

impl PortalConfig {
    /// A portal on `db`, with its keys and certificates in `state_dir`, listening on
    /// 127.0.0.1:8443 (HTTPS) and 127.0.0.1:8444 (link), default timeouts.
    pub fn new(db: Db, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            db,
            state_dir: state_dir.into(),
            https_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8443)),
            tcp_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8444)),
            cert: None,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            link_handshake_timeout: DEFAULT_LINK_HANDSHAKE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            registry_refresh: DEFAULT_REGISTRY_REFRESH,
            clock: Clock::system(),
        }
    }

    /// Where HTTPS listens (port 0: the OS chooses; see [`super::RunningPortal::https_addr`]).
    pub fn https_listen(mut self, addr: SocketAddr) -> Self {
        self.https_listen = addr;
        self
    }

    /// Where the session-mode link listens.
    pub fn tcp_listen(mut self, addr: SocketAddr) -> Self {
        self.tcp_listen = addr;
        self
    }

    /// One's own certificate (chain, PEM) and private key (PEM) instead of the generated ones;
    /// clients then trust that certificate (or its CA).
    pub fn cert(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.cert = Some((cert.as_ref().to_path_buf(), key.as_ref().to_path_buf()));
        self
    }

    /// How long a client may take to send a request's headers, and then its body
    /// ([`DEFAULT_HEADER_TIMEOUT`]).
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// How long a client may take to complete TLS ([`DEFAULT_TLS_HANDSHAKE_TIMEOUT`]).
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }

    /// How long a link channel's SCRAM handshake may take ([`DEFAULT_LINK_HANDSHAKE_TIMEOUT`]).
    pub fn link_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.link_handshake_timeout = timeout;
        self
    }

    /// How long a link connection may stay silent ([`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The clock the portal reads for protocol time: frame timestamps are checked against it
    /// (the clock-skew limit), session lifetimes and reply timestamps come from it. The system
    /// clock by default; a simulation (`printfleet demo`) injects its simulated time, a test a
    /// fixed one. Timeouts of sockets and handshakes, and the registry refresh, stay on the
    /// real monotonic clock.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use printfleet_cli::portal::{Db, PortalConfig};
    /// use printfleet_schema::Timestamp;
    ///
    /// let simulated = Arc::new(AtomicU64::new(1_793_491_200_000));
    /// let time = simulated.clone();
    /// let config = PortalConfig::new(Db::Sqlite("portal.db".into()), "state").clock(Arc::new(move || {
    ///     Timestamp::from_unix_millis(time.load(Ordering::Relaxed)).unwrap_or(Timestamp::UNIX_EPOCH)
    /// }));
    /// # let _ = config;
    /// ```
    pub fn clock(mut self, clock: Arc<dyn Fn() -> Timestamp + Send + Sync>) -> Self {
        self.clock = Clock(Some(clock));
        self
    }

    /// How often the registry is reloaded from the store ([`DEFAULT_REGISTRY_REFRESH`]).
    pub fn registry_refresh(mut self, every: Duration) -> Self {
        self.registry_refresh = every;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(Db::parse("sqlite:/tmp/p.db").unwrap(), Db::Sqlite("/tmp/p.db".into()));
        assert_eq!(Db::parse("sqlite:///tmp/p.db").unwrap(), Db::Sqlite("/tmp/p.db".into()));
        assert!(matches!(Db::parse("mysql://h"), Err(PortalError::BadDbUrl { .. })));
        assert!(matches!(Db::parse("sqlite:"), Err(PortalError::BadDbUrl { .. })));
        assert!(matches!(Db::parse("postgres://"), Err(PortalError::BadDbUrl { .. })));
        // A URL that is refused is not echoed with what may be a password.
        let refused = Db::parse("postgress://u:hunter2@h/db").unwrap_err().to_string();
        assert!(!refused.contains("hunter2"), "{refused}");
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_urls_with_the_feature() {
        for url in ["postgres://u:pw@127.0.0.1:5432/db", "postgresql://u@127.0.0.1/db?options=-csearch_path%3Ds"] {
            assert_eq!(Db::parse(url).unwrap(), Db::Postgres(url.to_owned()));
        }
        // Debug never shows the URL: it may hold a password.
        assert_eq!(format!("{:?}", Db::parse("postgres://u:pw@h/db").unwrap()), "Postgres(..)");
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn postgres_urls_without_the_feature() {
        for url in ["postgres://u@h/db", "postgresql://u@h/db"] {
            assert!(matches!(Db::parse(url), Err(PortalError::PostgresNotBuilt)), "{url}");
        }
    }
}
