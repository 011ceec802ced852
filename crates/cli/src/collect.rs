//! The Data Collector daemon (`printfleet collect`): reads the configured printers on the LAN
//! (`printfleet_lan`), runs one `printfleet_agent::DeviceAgent` per printer inside a
//! [`Collector`], sends what the agents give to the portal (session mode over one TLS
//! connection, or one-shot HTTPS per frame), feeds the replies back, and keeps its state
//! crash-safe.
//!
//! # Persistence ("save before you send")
//! The collector's state is one SQLite database (`state` in the config; WAL,
//! `synchronous = FULL`, one transaction per save): per device, its name, key epoch and last
//! [`AgentState`]. Whenever an agent asks for a save ([`Collector::needs_save`]), the states of
//! the checkpoint are committed **before** [`Collector::saved`] is called, and no agent hands
//! over a frame before that. On start every device is restored from the database
//! ([`DeviceAgent::restore`]), so a collector killed at any point loses no job event and never
//! reuses a one-shot sequence number. A device whose saved key epoch differs from the config's
//! (a rotation) starts afresh under the new epoch.
//!
//! # Reads
//! The printers due are read in rounds on threads of their own (`lan.concurrency` reads at
//! once per round, each cut at `lan.deadline_ms`); each reading is handed to its agent as
//! soon as its read ends. A round still reading a slow printer does not hold back the next
//! one: up to [`MAX_READ_ROUNDS`] run at once, and a printer whose previous read has not ended
//! when it is due again is skipped that time (`reads_skipped` in the [`RunSummary`]).
//!
//! # Transports
//! * `session`: one [`SessionLink`]; every device runs a SCRAM handshake on its own channel
//!   (all pipelined), its agent seals with the session's channel
//!   ([`Collector::attach_session`]); frames of all devices go out in one write. A channel the
//!   portal closes, or a session about to expire ([`SESSION_RENEW_MARGIN`]), is handshaken
//!   again; a lost connection is re-established after an exponential back-off
//!   ([`MIN_BACKOFF`] to [`MAX_BACKOFF`]).
//!   With `identity` set (the collector's own name and secret, provisioned at the portal with
//!   `printfleet device add NAME`, its printers with `--collector NAME`), the collector runs one
//!   handshake under that identity instead and sends **bundles** (docs/wire-format.md §5.9):
//!   one frame per round for all its printers ([`Collector::attach_link`]). A printer without a
//!   `secret` is then reported only in bundles: the collector holds no secret of that printer
//!   ([`DeviceAgent::for_bundles`]).
//! * `one-shot`: [`OneShotClient`], each frame sealed under the device's one-shot key.
//!
//! # Config file (JSON)
//! ```json
//! {
//!   "portal": {
//!     "mode": "session",                  // "session" (TLS TCP link) or "one-shot" (HTTPS POST)
//!     "tcp": "127.0.0.1:7443",            // session mode: the portal's TLS TCP listener
//!     "server_name": "localhost",         // the name the portal's certificate is checked for (default "localhost")
//!     "https": "https://127.0.0.1:8443",  // one-shot mode: the portal's base URL
//!     "ca": "/etc/printfleet/ca.pem",     // the portal's CA (its state directory's ca.pem): the only one trusted
//!     "proxy": "http://proxy.lan:3128"    // optional, one-shot mode: an HTTP(S) proxy (HTTP CONNECT)
//!   },
//!   "identity": { "name": "site-1", "secret": "base64 ...", "epoch": 1 }, // optional, session mode: bundles
//!   "state": "/var/lib/printfleet-collector/state.sqlite", // the crash-safe state: created once by `collect --init`
//!   "interval_minutes": 180,              // how often each printer is read and reported (at least 30)
//!   "redaction": "drop-all",              // personal fields (job owners, ...): "drop-all" (default) or "keep-all"
//!   "lan": { "community": "public", "timeout_ms": 2000, "retries": 1, "deadline_ms": 120000 }, // printfleet_lan::config::ConfigFile, without targets
//!   "printers": [
//!     { "name": "printer-7",              // the device name provisioned at the portal
//!       "target": "192.0.2.7",            // a printfleet_lan PollTarget: address[:port] (SNMP), ipp://..., ledm+http://...
//!       "secret": "base64 of the device secret (16 to 64 bytes)", // optional with an identity
//!       "epoch": 1 }                      // the secret's key epoch (with the secret)
//!   ]
//! }
//! ```
//! (`docs/collector.example.json` is a complete sample; comments are not allowed in the real
//! file.) Unknown fields are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use printfleet_agent::{AgentState, Collector, DeviceAgent, Event, Schedule};
use printfleet_auth::{DeviceSecret, KeyEpoch, MAX_NAME_BYTES, one_shot, sender_id_of};
use printfleet_diff::sync::Instance;
use printfleet_lan::config::{ConfigFile, PollConfig, Secret};
use printfleet_lan::error::Failure;
use printfleet_lan::poll::{PollTarget, Polled, poll_each};
use printfleet_schema::{DurationMs, Redaction, Timestamp};
use printfleet_wire::frame::{OsRng, SenderId};
use rand_core::Rng as _;
use zeroize::Zeroizing;

use crate::client::{ClientError, LinkReply, OneShotClient, PortalTrust, SessionLink};

/// Most bytes of a config file read (a thousand printers take about 200 KiB).
pub const MAX_CONFIG_BYTES: usize = 4 << 20;
/// Most printers one collector reads.
pub const MAX_PRINTERS: usize = 10_000;
/// The interval unless configured (Partner Link's default, [`printfleet_agent::COLLECTOR_INTERVAL`]).
pub const DEFAULT_INTERVAL_MINUTES: u64 = 180;
/// The fastest simulated clock (`--clock-speed`).
pub const MAX_CLOCK_SPEED: u32 = 1_000_000;
/// First wait before reconnecting after a connection loss (real time; doubled at each failure).
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait before reconnecting.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// First wait before handshaking again for a device whose handshake failed (real time; doubled
/// at each failure of that device, up to [`MAX_HANDSHAKE_RETRY`]).
pub const HANDSHAKE_RETRY: Duration = Duration::from_secs(5);
/// Longest wait between two handshakes of a device that keeps failing (revoked, a wrong secret
/// in the config): an hour, so a few such printers cost a few log lines an hour, not thousands.
pub const MAX_HANDSHAKE_RETRY: Duration = Duration::from_secs(3_600);
/// Longest the loop sleeps between two looks at the clock (real time).
pub const MAX_TICK: Duration = Duration::from_millis(250);
/// Shortest sleep between two turns of the loop (real time), so a busy clock never spins.
pub const MIN_TICK: Duration = Duration::from_millis(5);
/// A session is replaced by a new handshake this long (simulated time) before it expires.
pub const SESSION_RENEW_MARGIN: DurationMs = DurationMs(10 * 60 * 1000);
/// Most frames sent in one exchange (one write); the rest go in the next.
pub const MAX_FRAMES_PER_EXCHANGE: usize = 4096;
/// Most handshakes pipelined at once.
pub const MAX_HANDSHAKES_PER_ROUND: usize = 1024;
/// Save-then-poll passes per turn of the loop (a report built by one pass is saved by the next).
const SAVE_PASSES: usize = 4;
/// The state database's schema version (`PRAGMA user_version`).
const STATE_SCHEMA_VERSION: i64 = 1;

/// Why the collector cannot start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// The config file cannot be read.
    #[error("config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is larger than [`MAX_CONFIG_BYTES`].
    #[error("config file larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge,
    /// The config file is not valid JSON for [`CollectorConfig`].
    #[error("config file: {0}")]
    Json(#[from] serde_json::Error),
    /// The interval is refused (below 30 minutes, or zero).
    #[error("interval_minutes: {0}")]
    Interval(printfleet_agent::ConfigError),
    /// A setting is missing, out of range or inconsistent.
    #[error("{field}: {reason}")]
    Invalid {
        /// The setting (a JSON path such as `printers[3].secret`).
        field: String,
        /// Why.
        reason: String,
    },
    /// The portal's CA or another client setting is unusable.
    #[error("portal: {0}")]
    Client(#[from] ClientError),
    /// The state database failed: the collector stops rather than send what it cannot save.
    #[error("state database: {0}")]
    State(#[from] rusqlite::Error),
    /// The state database does not exist (`printfleet collect --init`, [`StateStore::create`],
    /// creates it once): a collector started afresh without its state would seal one-shot
    /// frames numbered again from 1, which the portal refuses as replays.
    #[error(
        "state database {path} does not exist: create it once with `printfleet collect --init` before the \
         collector's first start. If it was lost, the portal refuses one-shot frames numbered again from 1 \
         as replays: first give each printer that reports one-shot a new key epoch (`printfleet device rekey \
         NAME`) and put its new secret and epoch in this config (session mode needs nothing more), then create \
         it with --init"
    )]
    NoState {
        /// The database.
        path: PathBuf,
    },
    /// The state database exists but holds no collector's state (an empty file: `touch`, a
    /// truncated restore). Treated like a missing one: it is never filled in silently.
    #[error(
        "state database {path} holds no collector state (an empty file?): if the state was lost, give each \
         printer that reports one-shot a new key epoch first (`printfleet device rekey NAME`), then remove \
         the file and create the state with `printfleet collect --init`"
    )]
    EmptyState {
        /// The database.
        path: PathBuf,
    },
    /// The state database's file cannot be checked, read or created (permissions, a missing
    /// directory).
    #[error("state database {path}: {reason}")]
    StateFile {
        /// The database.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// [`StateStore::create`] (`--init`) was asked for, and the state database exists: it is
    /// never replaced.
    #[error("state database {path} exists: --init creates one for a first start only (it never replaces a state)")]
    StateExists {
        /// The database.
        path: PathBuf,
    },
    /// Another collector holds the state database: two would seal the same sequence numbers.
    #[error("state database {path} is in use by another collector")]
    StateInUse {
        /// The database.
        path: PathBuf,
    },
    /// A saved state is inconsistent with its device.
    #[error("state of {device}: {reason}")]
    Restore {
        /// The device.
        device: String,
        /// Why.
        reason: String,
    },
    /// An agent refused a call (a bug: the collector feeds only its own devices).
    #[error("agent: {0}")]
    Agent(#[from] printfleet_agent::AgentError),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> CollectError {
    CollectError::Invalid { field: field.into(), reason: reason.into() }
}

/// A device or collector name as the portal takes it (`field` names it in the error).
fn check_name(field: &str, name: &str) -> Result<(), CollectError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(invalid(field, format!("1 to {MAX_NAME_BYTES} bytes without control characters")));
    }
    Ok(())
}

/// A secret from the config: base64 of 16 to 64 bytes (`field` names it in the error).
fn decode_secret(field: &str, secret: &Secret) -> Result<DeviceSecret, CollectError> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD.decode(secret.expose()).map_err(|_| invalid(field, "not base64"))?,
    );
    DeviceSecret::from_bytes(&bytes).map_err(|e| invalid(field, e.to_string()))
}

/// How the collector reaches the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Mode {
    /// One TLS TCP connection, a SCRAM session per device (`printfleet_wire::link`).
    Session,
    /// One HTTPS POST per frame, sealed under the device's one-shot key.
    OneShot,
}

/// The redaction policy applied to every printer's data before it leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RedactionSetting {
    /// Personal fields (job owners, document names, ...) are dropped.
    #[default]
    DropAll,
    /// Everything is sent.
    KeepAll,
}

impl RedactionSetting {
    /// The policy.
    pub fn policy(self) -> Redaction {
        match self {
            Self::DropAll => Redaction::drop_all(),
            Self::KeepAll => Redaction::keep_all(),
        }
    }
}

fn default_server_name() -> String {
    "localhost".to_owned()
}

fn default_interval() -> u64 {
    DEFAULT_INTERVAL_MINUTES
}

/// Where the portal is and how it is trusted (`portal` in the config file).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    /// `session` or `one-shot`.
    pub mode: Mode,
    /// Session mode: the portal's TLS TCP listener.
    pub tcp: Option<SocketAddr>,
    /// Session mode: the name the portal's certificate must carry (default `localhost`).
    #[serde(default = "default_server_name")]
    pub server_name: String,
    /// One-shot mode: the portal's base URL, `https://host:port`.
    pub https: Option<String>,
    /// The portal's CA certificate (PEM), the only one trusted.
    pub ca: PathBuf,
    /// One-shot mode: an HTTP(S) proxy, `http://host:port`.
    pub proxy: Option<String>,
}

/// One printer (`printers[]` in the config file).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    /// The device name provisioned at the portal.
    pub name: String,
    /// How to read it: a `printfleet_lan::poll::PollTarget` (`a.b.c.d[:port]` over SNMP,
    /// `ipp://`, `ipps://`, `ledm+http://`, `ledm+https://`, `cdm+https://`, `cdm+http://`).
    pub target: String,
    /// The device secret for `epoch`, base64 (16 to 64 bytes). Optional with an `identity`
    /// (bundles): without it the printer is reported only in the collector's bundles, and the
    /// collector never holds its secret.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// The secret's key epoch (with `secret`).
    #[serde(default)]
    pub epoch: Option<u32>,
}

/// The collector's own identity at the portal (`identity` in the config file): with it, session
/// mode sends bundles under the collector's own session.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// The collector's name, provisioned at the portal like a device; its printers are
    /// provisioned with it as their collector.
    pub name: String,
    /// Its secret for `epoch`, base64 (16 to 64 bytes).
    pub secret: Secret,
    /// The secret's key epoch.
    pub epoch: u32,
}

/// The collector's config file, as written (see the module docs); [`CollectorConfig::check`]
/// turns it into a [`Plan`].
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// The portal.
    pub portal: PortalSettings,
    /// Session mode: the collector's own identity, to send bundles (optional).
    #[serde(default)]
    pub identity: Option<IdentityConfig>,
    /// The state database (created if missing).
    pub state: PathBuf,
    /// Minutes between two reports of a printer, at least 30 ([`DEFAULT_INTERVAL_MINUTES`]).
    #[serde(default = "default_interval")]
    pub interval_minutes: u64,
    /// The redaction policy.
    #[serde(default)]
    pub redaction: RedactionSetting,
    /// How printers are reached (SNMP credentials, timeouts, retries, concurrency); `targets`
    /// and `exclude` must stay empty (the printers say what to read).
    #[serde(default)]
    pub lan: ConfigFile,
    /// The printers.
    pub printers: Vec<PrinterConfig>,
}

/// A printer as the collector runs it.
#[derive(Debug)]
pub struct PlannedPrinter {
    /// Its device name.
    pub name: String,
    /// Its sender id (`printfleet_auth::sender_id_of` the name).
    pub sender: SenderId,
    /// How it is read.
    pub target: PollTarget,
    /// Its secret, if the collector holds it (without one, only bundles report it).
    pub secret: Option<DeviceSecret>,
    /// The secret's key epoch (0 without a secret).
    pub epoch: KeyEpoch,
}

/// The collector's own identity, checked.
#[derive(Debug)]
pub struct PlannedIdentity {
    /// Its name.
    pub name: String,
    /// Its sender id.
    pub sender: SenderId,
    /// Its secret.
    pub secret: DeviceSecret,
    /// The secret's key epoch.
    pub epoch: KeyEpoch,
}

/// A checked config: what [`run`] runs.
#[derive(Debug)]
pub struct Plan {
    /// The portal.
    pub portal: PortalSettings,
    /// Session mode: the collector's own identity (bundles), if configured.
    pub identity: Option<PlannedIdentity>,
    /// The state database.
    pub state: PathBuf,
    /// Every printer's schedule.
    pub schedule: Schedule,
    /// The redaction policy.
    pub redaction: RedactionSetting,
    /// How printers are reached.
    pub poll: PollConfig,
    /// The printers, by sender id order of the config.
    pub printers: Vec<PlannedPrinter>,
}

impl CollectorConfig {
    /// Parses a config file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, CollectError> {
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(CollectError::TooLarge);
        }
        Ok(serde_json::from_slice(bytes)?)
    }

    /// Reads and parses a config file (at most [`MAX_CONFIG_BYTES`] + 1 bytes are read).
    pub fn read(path: &Path) -> Result<Self, CollectError> {
        let read_err = |source| CollectError::Read { path: path.to_owned(), source };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut bytes = Zeroizing::new(Vec::new());
        let cap = u64::try_from(MAX_CONFIG_BYTES).unwrap_or(u64::MAX).saturating_add(1);
        file.take(cap).read_to_end(&mut bytes).map_err(read_err)?;
        Self::parse(&bytes)
    }

    /// Checks every setting: the interval (at least 30 minutes, refused otherwise), the
    /// portal's address for the mode, the poll settings, and each printer (name, unique sender
    /// id, secret, target).
    pub fn check(&self) -> Result<Plan, CollectError> {
        let minutes = self.interval_minutes;
        let interval = DurationMs(minutes.checked_mul(60_000).ok_or_else(|| invalid("interval_minutes", "too large"))?);
        let schedule = Schedule::collector(interval).map_err(CollectError::Interval)?;
        match self.portal.mode {
            Mode::Session if self.portal.tcp.is_none() => {
                return Err(invalid("portal.tcp", "session mode needs the portal's TCP address"));
            }
            Mode::OneShot if self.portal.https.is_none() => {
                return Err(invalid("portal.https", "one-shot mode needs the portal's https:// URL"));
            }
            // The session link is a TLS connection of its own: a proxy would be ignored there,
            // and a site that needs one would only see connection failures.
            Mode::Session if self.portal.proxy.is_some() => {
                return Err(invalid("portal.proxy", "a proxy carries one-shot mode only (HTTP CONNECT)"));
            }
            _ => {}
        }
        let identity = match (&self.identity, self.portal.mode) {
            (None, _) => None,
            (Some(_), Mode::OneShot) => {
                return Err(invalid("identity", "bundles travel on the collector's session: use session mode"));
            }
            (Some(id), Mode::Session) => {
                check_name("identity.name", &id.name)?;
                let secret = decode_secret("identity.secret", &id.secret)?;
                Some(PlannedIdentity {
                    name: id.name.clone(),
                    sender: sender_id_of(&id.name),
                    secret,
                    epoch: KeyEpoch(id.epoch),
                })
            }
        };
        // Bundle rounds at an offset of this collector's own (its sender id), so that the
        // portal does not get every site's bundles on the same minutes.
        let schedule = match &identity {
            Some(id) => schedule.with_round_offset(DurationMs(id.sender.0)),
            None => schedule,
        };
        if !self.lan.targets.is_empty() || !self.lan.exclude.is_empty() {
            return Err(invalid("lan.targets", "the printers say what to read; leave targets and exclude out"));
        }
        let poll = self.lan.poll_config();
        poll.check().map_err(|e| invalid("lan", e.to_string()))?;
        if self.printers.len() > MAX_PRINTERS {
            return Err(invalid("printers", format!("more than {MAX_PRINTERS}")));
        }
        let mut printers = Vec::with_capacity(self.printers.len());
        let mut senders = BTreeSet::new();
        for (i, p) in self.printers.iter().enumerate() {
            let field = |name: &str| format!("printers[{i}].{name}");
            check_name(&field("name"), &p.name)?;
            let sender = sender_id_of(&p.name);
            if !senders.insert(sender) || identity.as_ref().is_some_and(|id| id.sender == sender) {
                return Err(invalid(field("name"), format!("{:?} appears twice", p.name)));
            }
            let (secret, epoch) = match (&p.secret, p.epoch) {
                (Some(secret), Some(epoch)) => (Some(decode_secret(&field("secret"), secret)?), KeyEpoch(epoch)),
                (None, None) if identity.is_some() => (None, KeyEpoch(0)),
                (None, None) => return Err(invalid(field("secret"), "required without an identity (bundles)")),
                (Some(_), None) => return Err(invalid(field("epoch"), "required with a secret")),
                (None, Some(_)) => return Err(invalid(field("secret"), "required with an epoch")),
            };
            let target =
                PollTarget::parse(&p.target, poll.snmp_port).map_err(|e| invalid(field("target"), e.to_string()))?;
            printers.push(PlannedPrinter { name: p.name.clone(), sender, target, secret, epoch });
        }
        Ok(Plan {
            portal: self.portal.clone(),
            identity,
            state: self.state.clone(),
            schedule,
            redaction: self.redaction,
            poll,
            printers,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Clock

/// The collector's clock: real time, or (for tests) simulated time running `speed` times faster
/// than real time from `origin` on: `origin + (real now - origin) * speed`. Two processes with
/// the same origin and speed agree on the time, and a restarted collector goes on where the
/// killed one was (give it the same origin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    origin: u64,
    speed: u64,
}

fn wall_millis() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Clock {
    /// Real time.
    pub fn real() -> Self {
        Self { origin: 0, speed: 1 }
    }

    /// Simulated time, `speed` (1 to [`MAX_CLOCK_SPEED`]) times faster than real time from
    /// `origin` on (default: now).
    pub fn accelerated(speed: u32, origin: Option<Timestamp>) -> Result<Self, CollectError> {
        if speed == 0 || speed > MAX_CLOCK_SPEED {
            return Err(invalid("--clock-speed", format!("1 to {MAX_CLOCK_SPEED}")));
        }
        let origin = origin.map_or_else(wall_millis, Timestamp::unix_millis);
        Ok(Self { origin, speed: u64::from(speed) })
    }

    /// The time now.
    pub fn now(&self) -> Timestamp {
        let elapsed = wall_millis().saturating_sub(self.origin);
        let ms = self.origin.saturating_add(elapsed.saturating_mul(self.speed));
        Timestamp::from_unix_millis(ms).unwrap_or(Timestamp::MAX)
    }

    /// The real time a simulated duration takes.
    pub fn real_duration(&self, simulated: DurationMs) -> Duration {
        Duration::from_millis(simulated.0.checked_div(self.speed).unwrap_or(simulated.0))
    }
}

// ---------------------------------------------------------------------------------------------
// State

/// The collector's crash-safe state: one SQLite database, one row per device.
#[derive(Debug)]
pub struct StateStore {
    conn: rusqlite::Connection,
}

/// A device's saved state.
#[derive(Debug)]
pub struct SavedAgent {
    /// Its name.
    pub name: String,
    /// The key epoch the state belongs to.
    pub epoch: KeyEpoch,
    /// The agent's state.
    pub state: AgentState,
}

fn sender_to_sql(sender: SenderId) -> i64 {
    i64::from_ne_bytes(sender.0.to_ne_bytes())
}

fn sender_from_sql(value: i64) -> SenderId {
    SenderId(u64::from_ne_bytes(value.to_ne_bytes()))
}

/// The name `--init` builds a state under before linking it into place: `<file>.init`.
fn init_path(path: &Path) -> Result<PathBuf, CollectError> {
    let name = path
        .file_name()
        .ok_or_else(|| CollectError::StateFile { path: path.to_path_buf(), reason: "not a file name".into() })?;
    let mut tmp = name.to_os_string();
    tmp.push(".init");
    Ok(path.with_file_name(tmp))
}

/// Whether the state database's file exists; a file that cannot be checked (permissions) is
/// said so, not taken for a missing state.
fn state_exists(path: &Path) -> Result<bool, CollectError> {
    path.try_exists().map_err(|e| CollectError::StateFile { path: path.to_path_buf(), reason: e.to_string() })
}

/// What [`StateStore::load`] found.
#[derive(Debug)]
#[non_exhaustive]
pub struct SavedAgents {
    /// Each device whose saved state decodes.
    pub readable: BTreeMap<SenderId, SavedAgent>,
    /// Each row that does not, with why ([`CollectError::Restore`]).
    pub unreadable: Vec<(SenderId, CollectError)>,
}

impl StateStore {
    /// Opens the database at `path`, which must exist and hold a collector's state
    /// ([`CollectError::NoState`], [`CollectError::EmptyState`]: a collector started afresh by
    /// mistake would reuse the sequence numbers its lost state reserved): WAL,
    /// `synchronous = FULL` (a commit is on disk when it returns), schema version checked, and
    /// held exclusively while it is open: a second collector on the same file (a service and a
    /// manual run) would seal the same sequence numbers, so it is refused
    /// ([`CollectError::StateInUse`]).
    pub fn open(path: &Path) -> Result<Self, CollectError> {
        let file_error = |reason: String| CollectError::StateFile { path: path.to_path_buf(), reason };
        if !state_exists(path)? {
            return Err(CollectError::NoState { path: path.to_path_buf() });
        }
        // Refused before SQLite sees it: opening an empty database deletes a `-wal` or
        // `-journal` beside it, which may be all that is left of the state.
        if std::fs::metadata(path).map_err(|e| file_error(e.to_string()))?.len() == 0 {
            return Err(CollectError::EmptyState { path: path.to_path_buf() });
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(|e| file_error(e.to_string()))?;
        let store = Self::hold(conn, path)?;
        // A second name of this very file, left by an `--init` stopped after linking it into
        // place: removed, so that no backup takes it for another state.
        let tmp = init_path(path)?;
        if let (Ok(a), Ok(b)) = (std::fs::metadata(path), std::fs::metadata(&tmp)) {
            use std::os::unix::fs::MetadataExt as _;
            if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
                std::fs::remove_file(&tmp).map_err(|e| file_error(e.to_string()))?;
            }
        }
        Ok(store)
    }

    /// Creates the database at `path` for a collector's first start (`printfleet collect
    /// --init`), then opens it as [`StateStore::open`] does. Refused if `path` exists
    /// ([`CollectError::StateExists`]): a state is never replaced. It is built under a
    /// temporary name (`<file>.init`, claimed exclusively) and linked into place complete, so
    /// that a crash leaves either no state or a whole empty one, never a half-made file (a
    /// temporary file a crash left is named in the error of the next `--init`).
    pub fn create(path: &Path) -> Result<Self, CollectError> {
        if state_exists(path)? {
            return Err(CollectError::StateExists { path: path.to_path_buf() });
        }
        let file_error = |reason: String| CollectError::StateFile { path: path.to_path_buf(), reason };
        let tmp = init_path(path)?;
        // Claimed exclusively: two `--init` at once never build in the same file.
        std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => file_error(format!(
                "{} exists: another `--init` is running, or one was interrupted (remove it if none is running)",
                tmp.display()
            )),
            _ => file_error(e.to_string()),
        })?;
        {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = rusqlite::Connection::open_with_flags(&tmp, flags).map_err(|e| file_error(e.to_string()))?;
            conn.execute_batch(
                "PRAGMA journal_mode = DELETE;
                 PRAGMA synchronous = FULL;
                 BEGIN;
                 CREATE TABLE agents (
                     sender INTEGER PRIMARY KEY,
                     name TEXT NOT NULL,
                     epoch INTEGER NOT NULL,
                     state TEXT NOT NULL
                 );
                 PRAGMA user_version = 1;
                 COMMIT;",
            )?;
        }
        let io = |e: std::io::Error| file_error(e.to_string());
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
        // A link fails if the name exists: a state created meanwhile is not replaced. Where the
        // file system has no hard links, a rename (checked just before) does the same.
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => std::fs::remove_file(&tmp).map_err(io)?,
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists && !state_exists(path)? => {
                std::fs::rename(&tmp, path).map_err(io)?;
            }
            Err(_) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(CollectError::StateExists { path: path.to_path_buf() });
            }
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        Self::open(path)
    }

    /// Takes the database for this collector (exclusive lock, WAL, `synchronous = FULL`) and
    /// checks its schema.
    fn hold(conn: rusqlite::Connection, path: &Path) -> Result<Self, CollectError> {
        let in_use = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                CollectError::StateInUse { path: path.to_path_buf() }
            }
            _ => CollectError::from(e),
        };
        // Held by another: fail at once rather than wait for it.
        conn.busy_timeout(Duration::ZERO)?;
        // Read before anything is written: an empty file stays as it was.
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(in_use)?;
        if version > STATE_SCHEMA_VERSION {
            return Err(invalid("state", format!("schema version {version} is newer than this collector's")));
        }
        if version < 1 {
            // An empty file (a `touch`, a truncated restore): no state, and none is made here.
            return Err(CollectError::EmptyState { path: path.to_path_buf() });
        }
        let exclusive = || -> Result<(), rusqlite::Error> {
            // Before WAL is entered: in exclusive mode SQLite keeps the WAL index in its own
            // memory.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            // Take the lock now (a write transaction; kept until the connection closes).
            conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
        };
        exclusive().map_err(in_use)?;
        Ok(Self { conn })
    }

    /// Every saved device: those whose state decodes, and, apart, each row that does not
    /// (its device, and why), so that one damaged row costs its own device, not the others.
    pub fn load(&self) -> Result<SavedAgents, CollectError> {
        let mut statement = self.conn.prepare("SELECT sender, name, epoch, state FROM agents")?;
        let rows = statement.query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?, r.get::<_, String>(3)?))
        })?;
        let (mut out, mut unreadable) = (BTreeMap::new(), Vec::new());
        for row in rows {
            let (sender, name, epoch, state) = row?;
            match serde_json::from_str(&state) {
                Ok(state) => {
                    out.insert(sender_from_sql(sender), SavedAgent { name, epoch: KeyEpoch(epoch), state });
                }
                Err(e) => unreadable
                    .push((sender_from_sql(sender), CollectError::Restore { device: name, reason: e.to_string() })),
            }
        }
        Ok(SavedAgents { readable: out, unreadable })
    }

    /// Stores the states of a checkpoint in one transaction; when it returns, they are durable.
    pub fn persist<'a>(
        &mut self,
        states: impl IntoIterator<Item = (SenderId, &'a AgentState)>,
        plan: &BTreeMap<SenderId, (String, KeyEpoch)>,
    ) -> Result<(), CollectError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert =
                tx.prepare("INSERT OR REPLACE INTO agents (sender, name, epoch, state) VALUES (?1, ?2, ?3, ?4)")?;
            for (sender, state) in states {
                let Some((name, epoch)) = plan.get(&sender) else { continue };
                let json = serde_json::to_string(state)
                    .map_err(|e| CollectError::Restore { device: name.clone(), reason: e.to_string() })?;
                insert.execute(rusqlite::params![sender_to_sql(sender), name, epoch.0, json])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The daemon

/// How [`run`] runs.
#[derive(Debug)]
pub struct RunOptions {
    /// The clock.
    pub clock: Clock,
    /// Stop (successfully) after this much real time.
    pub run_for: Option<Duration>,
}

/// What a run did (logged at the end).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunSummary {
    /// Printers read.
    pub reads: u64,
    /// Printers that could not be read.
    pub read_failures: u64,
    /// Reads not started because the printer's previous read had not ended (a printer slower
    /// than the interval is read once per read it finishes, never twice at once).
    pub reads_skipped: u64,
    /// Saves committed.
    pub saves: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// Of those, bundles (with an identity: one frame for many printers).
    pub bundles_sent: u64,
    /// Frames the portal refused.
    pub rejected: u64,
    /// Reports the portal acknowledged.
    pub acknowledged: u64,
    /// Connections (re)established.
    pub connects: u64,
    /// Connections lost or refused.
    pub connection_failures: u64,
    /// Handshakes that succeeded.
    pub handshakes: u64,
    /// Handshakes that failed.
    pub handshake_failures: u64,
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reads {} (failed {}, skipped {}), saves {}, frames sent {} (bundles {}), rejected {}, acknowledged {}, connects {} (failed {}), handshakes {} (failed {})",
            self.reads,
            self.read_failures,
            self.reads_skipped,
            self.saves,
            self.frames_sent,
            self.bundles_sent,
            self.rejected,
            self.acknowledged,
            self.connects,
            self.connection_failures,
            self.handshakes,
            self.handshake_failures
        )
    }
}

/// A reconnect timer with exponential back-off.
#[derive(Debug)]
struct Backoff {
    wait: Duration,
    retry_at: Instant,
}

impl Backoff {
    fn new() -> Self {
        Self { wait: MIN_BACKOFF, retry_at: Instant::now() }
    }

    fn ready(&self) -> bool {
        Instant::now() >= self.retry_at
    }

    /// The time left before the next try, if there is any.
    fn remaining(&self) -> Option<Duration> {
        self.retry_at.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
    }

    /// A failure: the next try waits between half the current wait and all of it (`jitter`
    /// uniform over `u32`: sites that failed together do not come back together), and the wait
    /// doubles up to [`MAX_BACKOFF`].
    fn failed(&mut self, jitter: u32) {
        let half = self.wait.checked_div(2).unwrap_or(self.wait);
        let spread =
            u64::try_from(half.as_nanos().saturating_mul(u128::from(jitter)) >> 32).map_or(half, Duration::from_nanos);
        self.retry_at = Instant::now().checked_add(half.saturating_add(spread)).unwrap_or_else(Instant::now);
        self.wait = self.wait.saturating_mul(2).min(MAX_BACKOFF);
    }

    fn wait_at_least(&mut self, wait: Duration) {
        self.retry_at = Instant::now().checked_add(wait.min(MAX_BACKOFF)).unwrap_or_else(Instant::now);
    }

    /// The portal answered (a frame, an exchange): the next failure waits the least again.
    fn succeeded(&mut self) {
        self.wait = MIN_BACKOFF;
    }
}

/// A device's open channel on the session link.
#[derive(Debug)]
struct Channel {
    number: u32,
    expires_at: Timestamp,
}

struct SessionTransport {
    addr: SocketAddr,
    server_name: String,
    trust: PortalTrust,
    link: Option<SessionLink>,
    /// Each device's channel; with an identity, only the collector's own (bundles).
    channels: BTreeMap<SenderId, Channel>,
    backoff: Backoff,
    /// Devices whose handshake failed: when to try again, and the wait after the next failure.
    handshake_backoff: BTreeMap<SenderId, (Instant, Duration)>,
}

enum Transport {
    Session(Box<SessionTransport>),
    OneShot { client: OneShotClient, backoff: Backoff },
}

/// Everything the loop holds.
struct Daemon<'a> {
    plan: &'a Plan,
    collector: Collector,
    store: StateStore,
    names: BTreeMap<SenderId, (String, KeyEpoch)>,
    targets: BTreeMap<SenderId, PollTarget>,
    transport: Transport,
    rng: OsRng,
    summary: RunSummary,
    log: &'a mut dyn Write,
    /// The rounds of reads running, at most [`MAX_READ_ROUNDS`].
    rounds: Rounds<Result<Polled, Failure>>,
    /// Printers due for a read that waits for a round to end (all [`MAX_READ_ROUNDS`] running).
    pending: BTreeSet<SenderId>,
}

/// Rounds of reads that run at once, at most: a round still reading a slow printer (for up to
/// its read deadline) does not hold back the next round of the others, and printers stuck one
/// round each cannot start threads without bound. Due printers wait for a round to end beyond
/// it.
pub const MAX_READ_ROUNDS: usize = 4;

/// A round of reads on a thread of its own (the SNMP and HTTP clients block): the daemon goes
/// on exchanging with the portal meanwhile, and takes each printer's reading as soon as its
/// read ends, so that a slow printer holds back no other's report.
struct Round<R> {
    /// The printers read, in the order of the results' indices.
    due: Vec<SenderId>,
    /// Those whose result has not come in yet: freed when the round ends without one (a read
    /// that died), and only they (one freed earlier may be in a later round by then).
    waiting: BTreeSet<SenderId>,
    /// When the round started: the readings' time.
    at: Timestamp,
    /// Each read's result (`R`) as it ends; disconnected once all have.
    results: mpsc::Receiver<(usize, R)>,
}

/// The rounds of reads running (a printer is in one round's `waiting` at most: never read
/// twice at once).
struct Rounds<R> {
    running: Vec<Round<R>>,
}

impl<R> Rounds<R> {
    fn new() -> Self {
        Self { running: Vec::new() }
    }

    fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether a round running still waits for `sender`'s result.
    fn is_reading(&self, sender: SenderId) -> bool {
        self.running.iter().any(|round| round.waiting.contains(&sender))
    }

    /// A round reading `due` (none of them being read), started at `at`.
    fn start(&mut self, due: Vec<SenderId>, at: Timestamp, results: mpsc::Receiver<(usize, R)>) {
        let waiting = due.iter().copied().collect();
        self.running.push(Round { due, waiting, at, results });
    }

    /// The results that came in, with their round's time; a printer is free again once its
    /// result is taken, and a round ends once its reads have.
    fn take(&mut self) -> Vec<(SenderId, Timestamp, R)> {
        let mut arrived = Vec::new();
        self.running.retain_mut(|round| {
            loop {
                match round.results.try_recv() {
                    Ok((i, result)) => {
                        if let Some(sender) = round.due.get(i) {
                            round.waiting.remove(sender);
                            arrived.push((*sender, round.at, result));
                        }
                    }
                    Err(mpsc::TryRecvError::Empty) => return true,
                    // Ended: the printers whose read died unanswered are free with it.
                    Err(mpsc::TryRecvError::Disconnected) => return false,
                }
            }
        });
        arrived
    }
}

macro_rules! log {
    ($daemon:expr, $($arg:tt)*) => {{
        // Logging must not stop the collector.
        let _ = writeln!($daemon.log, $($arg)*);
    }};
}

/// Runs the collector until `options.run_for` has passed or `stop` is set: restores every
/// device from the state database, then reads, saves, sends and feeds replies back. Progress and
/// problems go to `log`, one line each. Returns what it did; an error only for what it cannot
/// go on without (the state database).
pub fn run(
    plan: &Plan,
    options: &RunOptions,
    stop: &AtomicBool,
    log: &mut dyn Write,
) -> Result<RunSummary, CollectError> {
    let trust = PortalTrust::from_ca_file(&plan.portal.ca)?;
    let transport = match plan.portal.mode {
        Mode::Session => Transport::Session(Box::new(SessionTransport {
            addr: plan.portal.tcp.ok_or_else(|| invalid("portal.tcp", "missing"))?,
            server_name: plan.portal.server_name.clone(),
            trust,
            link: None,
            channels: BTreeMap::new(),
            backoff: Backoff::new(),
            handshake_backoff: BTreeMap::new(),
        })),
        Mode::OneShot => {
            let url = plan.portal.https.as_deref().ok_or_else(|| invalid("portal.https", "missing"))?;
            Transport::OneShot {
                client: OneShotClient::new(url, &trust, plan.portal.proxy.as_deref())?,
                backoff: Backoff::new(),
            }
        }
    };
    let store = StateStore::open(&plan.state)?;
    let mut daemon = Daemon {
        plan,
        collector: Collector::new(),
        store,
        names: plan.printers.iter().map(|p| (p.sender, (p.name.clone(), p.epoch))).collect(),
        targets: plan.printers.iter().map(|p| (p.sender, p.target.clone())).collect(),
        transport,
        rng: OsRng::default(),
        summary: RunSummary::default(),
        log,
        rounds: Rounds::new(),
        pending: BTreeSet::new(),
    };
    daemon.restore(options.clock.now())?;
    let started = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) || options.run_for.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        daemon.turn(&options.clock)?;
        let now = options.clock.now();
        let until = |at: Timestamp| options.clock.real_duration(at.duration_since(now).unwrap_or(DurationMs::ZERO));
        let until_due = match daemon.blocked_for() {
            // Nothing can leave before the transport's next try: a frame due (or overdue) does
            // not wake the loop, the next read or that try does.
            Some(blocked) => daemon.collector.poll_read_timeout().map_or(blocked, |at| until(at).min(blocked)),
            None => daemon.collector.poll_timeout().map_or(MAX_TICK, until),
        };
        let mut wait = until_due.clamp(MIN_TICK, MAX_TICK);
        if let Some(limit) = options.run_for {
            wait = wait.min(limit.saturating_sub(started.elapsed()));
        }
        std::thread::sleep(wait);
    }
    log!(daemon, "collector stopping: {}", daemon.summary);
    Ok(daemon.summary)
}

impl Daemon<'_> {
    fn restore(&mut self, now: Timestamp) -> Result<(), CollectError> {
        let SavedAgents { readable: mut saved, unreadable } = self.store.load()?;
        let mut damaged: BTreeMap<SenderId, CollectError> = unreadable.into_iter().collect();
        let (mut restored, mut fresh, mut left_out) = (0_usize, 0_usize, 0_usize);
        for p in &self.plan.printers {
            // A printer without a secret here is reported only in bundles (no key of its own).
            let key = p.secret.as_ref().map(|secret| one_shot::frame_key(secret, &p.name, p.epoch));
            let policy = self.plan.redaction.policy();
            let schedule = self.plan.schedule;
            let agent = match (damaged.remove(&p.sender), saved.remove(&p.sender)) {
                (Some(e), _) => Err(e),
                (None, Some(s)) if s.epoch == p.epoch && s.name == p.name => {
                    let agent = match &key {
                        Some(key) => DeviceAgent::restore(p.sender, key, policy, schedule, s.state),
                        None => DeviceAgent::restore_for_bundles(p.sender, policy, schedule, s.state),
                    };
                    restored = restored.saturating_add(usize::from(agent.is_ok()));
                    agent.map_err(|e| CollectError::Restore { device: p.name.clone(), reason: e.to_string() })
                }
                (None, _) => {
                    fresh = fresh.saturating_add(1);
                    let instance = Instance(self.rng.next_u32());
                    Ok(match &key {
                        Some(key) => DeviceAgent::new(p.sender, key, policy, schedule, instance),
                        None => DeviceAgent::for_bundles(p.sender, policy, schedule, instance),
                    })
                }
            };
            match agent {
                Ok(agent) => self.collector.insert(now, agent),
                Err(e) => {
                    // Started afresh it would reuse the sequence numbers its state reserved (its
                    // frames refused as replays): left out, the others run.
                    left_out = left_out.saturating_add(1);
                    log!(
                        self,
                        "{e}: not started (repair its row of the state database; or delete the row, after \
                         giving the printer a new key epoch if it reports one-shot: `printfleet device rekey`)"
                    );
                }
            }
        }
        let left_out = if left_out > 0 { format!(", {left_out} left out") } else { String::new() };
        log!(
            self,
            "collector starting: {} printers ({restored} restored, {fresh} new{left_out})",
            self.plan.printers.len()
        );
        Ok(())
    }

    /// Saves what the agents ask to save; durable before it returns.
    fn save(&mut self) -> Result<(), CollectError> {
        if !self.collector.needs_save() {
            return Ok(());
        }
        let checkpoint = self.collector.save();
        self.store.persist(checkpoint.states(), &self.names)?;
        self.collector.saved(checkpoint)?;
        self.summary.saves = self.summary.saves.saturating_add(1);
        Ok(())
    }

    /// One turn: take the readings that came in, start reading the printers due (but those
    /// whose previous read runs yet), save, send, feed the replies back.
    fn turn(&mut self, clock: &Clock) -> Result<(), CollectError> {
        self.take_readings()?;
        let now = clock.now();
        while let Some(sender) = self.collector.poll_read(now) {
            if self.rounds.is_reading(sender) {
                self.summary.reads_skipped = self.summary.reads_skipped.saturating_add(1);
                let name = self.names.get(&sender).map_or("?", |(n, _)| n.as_str());
                log!(self, "read {name}: skipped, its previous read has not ended");
            } else {
                self.pending.insert(sender);
            }
        }
        if !self.pending.is_empty() && self.rounds.len() < MAX_READ_ROUNDS {
            let due = std::mem::take(&mut self.pending).into_iter().collect();
            self.start_reading(due, now);
        }
        let ready = self.prepare(now);
        if !ready {
            // Nothing leaves, but what was read is saved.
            return self.save();
        }
        let mut transmits = Vec::new();
        for _ in 0..SAVE_PASSES {
            self.save()?;
            while transmits.len() < MAX_FRAMES_PER_EXCHANGE {
                match self.collector.poll_transmit(now, &mut self.rng) {
                    Some(t) => transmits.push(t),
                    None => break,
                }
            }
            if !self.collector.needs_save() {
                break;
            }
        }
        if !transmits.is_empty() {
            self.send(transmits, now);
        }
        while let Some((sender, event)) = self.collector.poll_event() {
            let name = self.names.get(&sender).map_or("?", |(n, _)| n.as_str()).to_owned();
            match event {
                Event::Acknowledged { .. } => self.summary.acknowledged = self.summary.acknowledged.saturating_add(1),
                Event::ResyncRequested => log!(self, "{name}: the portal asked for a full state"),
                Event::ReplyRejected(reason) => log!(self, "{name}: a reply did not open ({reason:?})"),
                Event::EncodeFailed(e) => log!(self, "{name}: report not encoded: {e}"),
                Event::SealFailed(e) => log!(self, "{name}: report not sealed yet: {e}"),
                _ => {}
            }
        }
        Ok(())
    }

    /// Starts reading `due` on a thread of its own (on this one if no thread can be had).
    fn start_reading(&mut self, due: Vec<SenderId>, at: Timestamp) {
        let (due, targets): (Vec<SenderId>, Vec<PollTarget>) =
            due.into_iter().filter_map(|s| self.targets.get(&s).map(|t| (s, t.clone()))).unzip();
        let (tx, results) = mpsc::channel();
        let read = {
            let (targets, config, tx) = (targets.clone(), self.plan.poll.clone(), tx.clone());
            move || poll_each(&targets, &config, |i, result| drop(tx.send((i, result))))
        };
        if let Err(e) = std::thread::Builder::new().name("printfleet-reads".into()).spawn(read) {
            log!(self, "reads on this thread: {e}");
            poll_each(&targets, &self.plan.poll, |i, result| drop(tx.send((i, result))));
        }
        drop(tx);
        self.rounds.start(due, at, results);
    }

    /// Hands the readings that came in to their agents; a round ends once every read has.
    fn take_readings(&mut self) -> Result<(), CollectError> {
        let arrived = self.rounds.take();
        for (sender, at, result) in arrived {
            match result {
                Ok(polled) => {
                    self.summary.reads = self.summary.reads.saturating_add(1);
                    self.collector.handle_reading(sender, at, polled.mapped.report)?;
                }
                Err(failure) => {
                    self.summary.read_failures = self.summary.read_failures.saturating_add(1);
                    let name = self.names.get(&sender).map_or("?", |(n, _)| n.as_str());
                    let protocol = self.targets.get(&sender).map_or("?", PollTarget::protocol);
                    log!(self, "read {name} ({protocol}): {failure}");
                }
            }
        }
        Ok(())
    }

    /// Whether frames can leave now: connected (session mode: every device that can has a
    /// session). Connects, renews sessions and handshakes as needed.
    /// How long the transport will not try the portal (backing off after a failure), if it is
    /// backing off.
    fn blocked_for(&self) -> Option<Duration> {
        match &self.transport {
            Transport::OneShot { backoff, .. } => backoff.remaining(),
            Transport::Session(session) if session.link.is_none() => session.backoff.remaining(),
            Transport::Session(_) => None,
        }
    }

    fn prepare(&mut self, now: Timestamp) -> bool {
        let (summary, log) = (&mut self.summary, &mut *self.log);
        match &mut self.transport {
            Transport::OneShot { backoff, .. } => backoff.ready(),
            Transport::Session(session) => {
                let identity = self.plan.identity.as_ref();
                session.prepare(&mut self.collector, &self.plan.printers, identity, now, &mut self.rng, summary, log)
            }
        }
    }

    fn send(&mut self, transmits: Vec<printfleet_agent::Transmit>, now: Timestamp) {
        self.summary.frames_sent = self.summary.frames_sent.saturating_add(transmits.len() as u64);
        let bundles = transmits.iter().filter(|t| !t.entries.is_empty()).count();
        self.summary.bundles_sent = self.summary.bundles_sent.saturating_add(bundles as u64);
        match &mut self.transport {
            Transport::OneShot { client, backoff } => {
                for t in transmits {
                    match client.post_frame(&t.frame) {
                        Ok(reply) => {
                            backoff.succeeded();
                            // Routed by the reply's sender id; the agent's channel authenticates it.
                            let _ = self.collector.handle_frame(now, &reply);
                        }
                        Err(ClientError::Unavailable { retry_after }) => {
                            let _ = writeln!(self.log, "portal unavailable; retry after {retry_after:?} s");
                            backoff.wait_at_least(Duration::from_secs(retry_after.unwrap_or(1)));
                            break;
                        }
                        Err(e @ (ClientError::Rejected | ClientError::TooLarge | ClientError::Status { .. })) => {
                            self.summary.rejected = self.summary.rejected.saturating_add(1);
                            let _ = writeln!(self.log, "frame of {} refused: {e}", t.device);
                        }
                        Err(e) => {
                            // Anything else is about the connection (refused, reset, timed out,
                            // a certificate the CA does not vouch for): back off.
                            self.summary.connection_failures = self.summary.connection_failures.saturating_add(1);
                            let _ = writeln!(self.log, "portal: {e}");
                            backoff.failed(self.rng.next_u32());
                            break;
                        }
                    }
                }
            }
            Transport::Session(session) => {
                let mut frames = Vec::with_capacity(transmits.len());
                let mut senders = Vec::with_capacity(transmits.len());
                for t in transmits {
                    // Only devices with a session have sealed under it; others wait for one
                    // (their agent retries after its reply timeout).
                    if let Some(channel) = session.channels.get(&t.device) {
                        frames.push((channel.number, t.frame));
                        senders.push(t.device);
                    }
                }
                let Some(link) = session.link.as_mut() else { return };
                match link.exchange(&frames) {
                    Ok(replies) => {
                        // Answered: a connection that only connects (then times out), or an
                        // exchange of nothing, does not reset the back-off.
                        if !frames.is_empty() {
                            session.backoff.succeeded();
                        }
                        for (sender, reply) in senders.into_iter().zip(replies) {
                            match reply {
                                LinkReply::Reply(frame) => {
                                    let _ = self.collector.handle_frame(now, &frame);
                                }
                                LinkReply::Rejected => {
                                    self.summary.rejected = self.summary.rejected.saturating_add(1);
                                }
                                LinkReply::Closed => {
                                    session.channels.remove(&sender);
                                    session_ended(&mut self.collector, sender, self.plan.identity.as_ref());
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let _ = writeln!(self.log, "portal link lost: {e}");
                        self.summary.connection_failures = self.summary.connection_failures.saturating_add(1);
                        session.lost(&mut self.collector, self.rng.next_u32());
                    }
                }
            }
        }
    }
}

/// `sender`'s session on the link ended: a printer's own session, or the collector's (its link:
/// bundles stop until a new handshake).
fn session_ended(collector: &mut Collector, sender: SenderId, identity: Option<&PlannedIdentity>) {
    if identity.is_some_and(|id| id.sender == sender) {
        collector.detach_link();
    } else {
        collector.detach_session(sender);
    }
}

impl SessionTransport {
    /// Who needs a session now: the collector itself (bundles), or every printer without one;
    /// those not backing off their handshake at `now`.
    fn wanted<'a>(
        channels: &BTreeMap<SenderId, Channel>,
        handshake_backoff: &BTreeMap<SenderId, (Instant, Duration)>,
        printers: &'a [PlannedPrinter],
        identity: Option<&'a PlannedIdentity>,
        now: Instant,
    ) -> Vec<(SenderId, &'a str, &'a DeviceSecret, KeyEpoch)> {
        let all: Vec<(SenderId, &str, &DeviceSecret, KeyEpoch)> = match identity {
            Some(id) => vec![(id.sender, id.name.as_str(), &id.secret, id.epoch)],
            None => printers
                .iter()
                .filter_map(|p| p.secret.as_ref().map(|secret| (p.sender, p.name.as_str(), secret, p.epoch)))
                .collect(),
        };
        all.into_iter()
            .filter(|w| !channels.contains_key(&w.0))
            .filter(|w| handshake_backoff.get(&w.0).is_none_or(|(at, _)| now >= *at))
            .collect()
    }

    fn lost(&mut self, collector: &mut Collector, jitter: u32) {
        self.link = None;
        for (sender, _) in std::mem::take(&mut self.channels) {
            collector.detach_session(sender);
        }
        collector.detach_link();
        self.backoff.failed(jitter);
    }

    #[allow(clippy::too_many_arguments)]
    fn prepare(
        &mut self,
        collector: &mut Collector,
        printers: &[PlannedPrinter],
        identity: Option<&PlannedIdentity>,
        now: Timestamp,
        rng: &mut OsRng,
        summary: &mut RunSummary,
        log: &mut dyn Write,
    ) -> bool {
        if self.link.is_none() {
            if !self.backoff.ready() {
                return false;
            }
            // Every device backing off its handshake: nothing could be proven on a connection,
            // which the portal would close unproven (a lost link to log and count for nothing).
            if Self::wanted(&self.channels, &self.handshake_backoff, printers, identity, Instant::now()).is_empty() {
                return false;
            }
            match SessionLink::connect(self.addr, &self.server_name, &self.trust) {
                Ok(link) => {
                    summary.connects = summary.connects.saturating_add(1);
                    self.link = Some(link);
                }
                Err(e) => {
                    summary.connection_failures = summary.connection_failures.saturating_add(1);
                    let _ = writeln!(log, "portal {}: {e}", self.addr);
                    self.lost(collector, rng.next_u32());
                    return false;
                }
            }
        }
        let Some(link) = self.link.as_mut() else { return false };
        // Channels the portal closed, and sessions about to expire.
        let closed: BTreeSet<u32> = link.take_closed().into_iter().collect();
        let ending: Vec<SenderId> = self
            .channels
            .iter()
            .filter(|(_, c)| {
                closed.contains(&c.number) || now.checked_add(SESSION_RENEW_MARGIN).is_none_or(|t| t >= c.expires_at)
            })
            .map(|(s, _)| *s)
            .collect();
        let mut result = Ok(());
        for sender in ending {
            if let Some(channel) = self.channels.remove(&sender) {
                session_ended(collector, sender, identity);
                if result.is_ok() {
                    result = link.close_channel(channel.number).map(|_| ());
                }
            }
        }
        if let Err(e) = result {
            let _ = writeln!(log, "portal link lost: {e}");
            summary.connection_failures = summary.connection_failures.saturating_add(1);
            self.lost(collector, rng.next_u32());
            return false;
        }
        let started = Instant::now();
        let missing = Self::wanted(&self.channels, &self.handshake_backoff, printers, identity, started);
        if missing.is_empty() {
            return true;
        }
        for chunk in missing.chunks(MAX_HANDSHAKES_PER_ROUND) {
            let devices: Vec<(String, DeviceSecret, KeyEpoch)> =
                chunk.iter().map(|(_, name, secret, epoch)| ((*name).to_owned(), (*secret).clone(), *epoch)).collect();
            let opened = match link.open_sessions(&devices, now, rng) {
                Ok(opened) => opened,
                Err(e) => {
                    let _ = writeln!(log, "portal link lost during handshakes: {e}");
                    summary.connection_failures = summary.connection_failures.saturating_add(1);
                    self.lost(collector, rng.next_u32());
                    return false;
                }
            };
            for ((sender, name, ..), result) in chunk.iter().zip(opened) {
                let attached = result.map_err(|e| e.to_string()).and_then(|open| {
                    let expires_at = open.session.expires_at();
                    let channel = open.session.into_device_channel().ok_or("not a device session")?;
                    if identity.is_some() {
                        collector.attach_link(channel).map_err(|e| e.to_string())?;
                    } else {
                        collector.attach_session(*sender, channel).map_err(|e| e.to_string())?;
                    }
                    Ok(Channel { number: open.channel, expires_at })
                });
                match attached {
                    Ok(channel) => {
                        summary.handshakes = summary.handshakes.saturating_add(1);
                        self.handshake_backoff.remove(sender);
                        self.channels.insert(*sender, channel);
                    }
                    Err(e) => {
                        summary.handshake_failures = summary.handshake_failures.saturating_add(1);
                        let wait = self.handshake_backoff.get(sender).map_or(HANDSHAKE_RETRY, |(_, w)| *w);
                        let at = Instant::now().checked_add(wait).unwrap_or_else(Instant::now);
                        let next = wait.saturating_mul(2).min(MAX_HANDSHAKE_RETRY);
                        self.handshake_backoff.insert(*sender, (at, next));
                        let _ = writeln!(log, "handshake of {name}: {e} (next try in {} s)", wait.as_secs());
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One collector per state database: a second is refused while the first has it open, and
    /// gets it once the first is gone. A state is created only when asked, and never replaced.
    #[test]
    fn a_state_database_is_held_by_one_collector() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        assert!(matches!(StateStore::open(&path), Err(CollectError::NoState { .. })));
        assert!(!path.exists(), "a missing state is not created by open");
        let first = StateStore::create(&path).unwrap();
        assert!(matches!(StateStore::create(&path), Err(CollectError::StateExists { .. })));
        assert!(first.load().unwrap().readable.is_empty());
        let second = StateStore::open(&path);
        assert!(matches!(second, Err(CollectError::StateInUse { .. })), "{:?}", second.err());
        drop(first);
        let again = StateStore::open(&path).unwrap();
        assert!(again.load().unwrap().readable.is_empty());
    }

    /// A file that holds no state (an empty one) is refused like a missing one, never filled
    /// in; what an interrupted `--init` left under its temporary name is named, not built over.
    #[test]
    fn an_empty_state_file_is_refused_and_an_interrupted_init_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(StateStore::open(&path), Err(CollectError::EmptyState { .. })));
        assert!(matches!(StateStore::create(&path), Err(CollectError::StateExists { .. })));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left as it was");
        // Its `-wal` is left alone (SQLite would delete it on opening an empty database).
        std::fs::write(dir.path().join("state.db-wal"), b"the last commits").unwrap();
        assert!(matches!(StateStore::open(&path), Err(CollectError::EmptyState { .. })));
        assert!(dir.path().join("state.db-wal").exists());
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(dir.path().join("state.db-wal")).unwrap();
        // What an interrupted `--init` left is named, never built over (another may be running).
        std::fs::write(dir.path().join("state.db.init"), b"half made").unwrap();
        let err = StateStore::create(&path).unwrap_err();
        assert!(err.to_string().contains("state.db.init exists"), "{err}");
        std::fs::remove_file(dir.path().join("state.db.init")).unwrap();
        let store = StateStore::create(&path).unwrap();
        assert!(store.load().unwrap().readable.is_empty());
        assert!(!dir.path().join("state.db.init").exists());
        drop(store);
        // A second name of the state left by an `--init` stopped after linking it: removed.
        std::fs::hard_link(&path, dir.path().join("state.db.init")).unwrap();
        StateStore::open(&path).unwrap();
        assert!(!dir.path().join("state.db.init").exists());
        // A directory that does not exist says so, not "no state".
        let nowhere = dir.path().join("missing").join("state.db");
        let err = StateStore::create(&nowhere).unwrap_err();
        assert!(matches!(err, CollectError::StateFile { .. }), "{err:?}");
    }

    /// A proxy is for one-shot mode; in session mode it would be ignored, so it is refused.
    #[test]
    fn a_proxy_in_session_mode_is_refused() {
        let example = include_str!("../../../docs/collector.example.json");
        let mut config: CollectorConfig = serde_json::from_str(example).unwrap();
        assert_eq!(config.portal.mode, Mode::Session);
        config.portal.proxy = Some("http://proxy.lan:3128".into());
        assert!(matches!(config.check(), Err(CollectError::Invalid { field, .. }) if field == "portal.proxy"));
    }

    /// A row that no longer decodes is reported with its device; the others load.
    #[test]
    fn a_damaged_row_costs_its_own_device_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StateStore::create(&dir.path().join("state.db")).unwrap();
        let mut collector = Collector::new();
        let mut plan = BTreeMap::new();
        for name in ["ok", "damaged"] {
            let sender = sender_id_of(name);
            let key = one_shot::frame_key(&DeviceSecret::from_bytes(&[7; 32]).unwrap(), name, KeyEpoch(1));
            let policy = Redaction::drop_all();
            let agent = DeviceAgent::new(sender, &key, policy, Schedule::direct(), Instance(1));
            collector.insert(Timestamp::UNIX_EPOCH, agent);
            plan.insert(sender, (name.to_owned(), KeyEpoch(1)));
        }
        let checkpoint = collector.save();
        store.persist(checkpoint.states(), &plan).unwrap();
        let damaged = sender_id_of("damaged");
        store
            .conn
            .execute("UPDATE agents SET state = '{' WHERE sender = ?1", [i64::from_ne_bytes(damaged.0.to_ne_bytes())])
            .unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.readable.keys().copied().collect::<Vec<_>>(), [sender_id_of("ok")]);
        assert_eq!(loaded.unreadable.len(), 1);
        assert_eq!(loaded.unreadable[0].0, damaged);
        assert!(matches!(&loaded.unreadable[0].1, CollectError::Restore { device, .. } if device == "damaged"));
    }

    /// A round's end frees only the printers whose result it never gave: one whose result came
    /// in early and that a later round is reading again stays taken (before, the first round's
    /// end freed it, and a third read of it could start beside the second).
    #[test]
    fn a_round_ends_freeing_only_the_printers_it_still_held() {
        let (a, slow, dead) = (SenderId(1), SenderId(2), SenderId(3));
        let at = |ms| Timestamp::from_unix_millis(ms).unwrap();
        let mut rounds: Rounds<u32> = Rounds::new();
        let (first, results) = mpsc::channel();
        rounds.start(vec![a, slow, dead], at(0), results);
        first.send((0, 10)).unwrap();
        assert_eq!(rounds.take(), [(a, at(0), 10)]);
        assert!(!rounds.is_reading(a) && rounds.is_reading(slow) && rounds.is_reading(dead));
        // `a` is due again and read in a second round while the first still reads `slow`.
        let (second, results) = mpsc::channel();
        rounds.start(vec![a], at(1), results);
        first.send((1, 11)).unwrap();
        drop(first); // the first round ends; `dead`'s read never answered
        assert_eq!(rounds.take(), [(slow, at(0), 11)]);
        assert_eq!(rounds.len(), 1);
        assert!(rounds.is_reading(a), "still read by the second round");
        assert!(!rounds.is_reading(slow) && !rounds.is_reading(dead));
        second.send((0, 12)).unwrap();
        drop(second);
        assert_eq!(rounds.take(), [(a, at(1), 12)]);
        assert_eq!((rounds.len(), rounds.is_reading(a)), (0, false));
    }

    /// The reconnect wait doubles to its cap, each try spread over the upper half of it (sites
    /// that failed together come back apart), and only an answer resets it.
    #[test]
    fn the_back_off_doubles_with_jitter_and_resets_on_an_answer() {
        let mut b = Backoff::new();
        let waited = |b: &Backoff| b.retry_at.saturating_duration_since(Instant::now());
        b.failed(0);
        let low = waited(&b);
        assert!(low <= MIN_BACKOFF / 2 && low + Duration::from_millis(50) >= MIN_BACKOFF / 2, "{low:?}");
        b.failed(u32::MAX);
        let high = waited(&b);
        assert!(high <= 2 * MIN_BACKOFF && high + Duration::from_millis(50) >= 2 * MIN_BACKOFF, "{high:?}");
        for _ in 0..20 {
            b.failed(u32::MAX);
        }
        assert_eq!(b.wait, MAX_BACKOFF);
        assert!(waited(&b) <= MAX_BACKOFF);
        b.succeeded();
        assert_eq!(b.wait, MIN_BACKOFF);
    }
}
