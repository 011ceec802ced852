//! How to reach printers: SNMP credentials (v2c community or v3 USM authPriv), timeouts,
//! retries, concurrency and byte limits, and the JSON config file that sets them.

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

/// The per-request timeout unless configured: a printer on a LAN answers in milliseconds; two
/// seconds covers one asleep in power save.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// The shortest per-request timeout accepted (0 would fail every read: sockets refuse it).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// The longest per-request timeout accepted: a printer that takes longer is not answering, and
/// each unanswered request holds its round that long (times the retries).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest one printer's read may take, all its requests and retries together, unless
/// configured: a printer has a few hundred rows, read in well under a minute even by an agent
/// that answers each request slowly; one that takes longer holds its round no further.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
/// The longest deadline accepted (and it is at least the per-request timeout).
pub const MAX_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// Retries after a timeout unless configured (UDP loses datagrams; one retry is what net-snmp does).
pub const DEFAULT_RETRIES: u32 = 1;
/// Most retries one request may be given: beyond this a dead address only slows the round.
pub const MAX_RETRIES: u32 = 5;
/// Printers asked at once unless configured.
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Most printers asked at once (one thread and one socket each).
pub const MAX_CONCURRENCY: usize = 256;
/// The SNMP agent port (RFC 3417 §2).
pub const SNMP_PORT: u16 = 161;
/// Bindings one SNMP walk of a printer may return: a printer has a few thousand; an agent
/// that never ends its walk is cut off here (the snmprec reader's limit).
pub const MAX_WALK_BINDINGS: usize = printfleet_sources::snmp::MAX_BINDINGS;
/// GETBULK requests one walk may send: an agent that keeps answering inside the subtree
/// without values (exceptions only) is cut off here.
pub const MAX_WALK_REQUESTS: usize = 10_000;
/// Rows per GETBULK request (RFC 3416 §4.2.3 max-repetitions): 25 fits a UDP datagram of any
/// printer's rows.
pub const MAX_REPETITIONS: u32 = 25;
/// Most bytes of an IPP response read (the IPP mapping's limit).
pub const MAX_IPP_RESPONSE_BYTES: usize = printfleet_sources::ipp::MAX_IPP_BYTES;
/// Most bytes of one LEDM document read (the LEDM mapping's limit).
pub const MAX_LEDM_RESPONSE_BYTES: usize = printfleet_sources::ledm::MAX_LEDM_BYTES;
/// Most bytes of one CDM document read (the CDM mapping's limit).
pub const MAX_CDM_RESPONSE_BYTES: usize = printfleet_sources::cdm::MAX_CDM_BYTES;
/// Most bytes of a config file read.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// A secret (community string, passphrase): wiped on drop, never printed, never compared.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps `bytes`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(bytes.into()))
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        Ok(Self::new(s.as_bytes()))
    }
}

/// SNMPv3 authentication protocols (RFC 3414 SHA-1, RFC 7860 HMAC-SHA-2). MD5 is not offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AuthProtocol {
    /// HMAC-SHA-96 (RFC 3414 §7): for printers that offer nothing better.
    Sha1,
    /// usmHMAC128SHA224AuthProtocol (RFC 7860).
    Sha224,
    /// usmHMAC192SHA256AuthProtocol (RFC 7860).
    Sha256,
    /// usmHMAC256SHA384AuthProtocol (RFC 7860).
    Sha384,
    /// usmHMAC384SHA512AuthProtocol (RFC 7860).
    Sha512,
}

impl std::str::FromStr for AuthProtocol {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Ok(match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha" | "sha1" => Self::Sha1,
            "sha224" => Self::Sha224,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            _ => return Err(ConfigError::UnknownProtocol { name: s.chars().take(32).collect() }),
        })
    }
}

/// SNMPv3 privacy protocols: AES-CFB (RFC 3826; 192 and 256 with the Reeder key extension
/// that net-snmp and snmpsim use). DES is not offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PrivProtocol {
    /// usmAesCfb128Protocol (RFC 3826).
    Aes128,
    /// AES-192-CFB.
    Aes192,
    /// AES-256-CFB.
    Aes256,
}

impl std::str::FromStr for PrivProtocol {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Ok(match s.to_ascii_lowercase().replace('-', "").as_str() {
            "aes" | "aes128" => Self::Aes128,
            "aes192" => Self::Aes192,
            "aes256" => Self::Aes256,
            _ => return Err(ConfigError::UnknownProtocol { name: s.chars().take(32).collect() }),
        })
    }
}

/// SNMPv3 USM credentials for authPriv (the only security level offered: enterprise networks
/// require both authentication and privacy).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V3Credentials {
    /// The USM user name.
    pub user: String,
    /// The authentication protocol.
    pub auth_protocol: AuthProtocol,
    /// The authentication passphrase (RFC 3414 §2.6: at least 8 characters).
    pub auth_password: Secret,
    /// The privacy protocol.
    pub priv_protocol: PrivProtocol,
    /// The privacy passphrase.
    pub priv_password: Secret,
}

/// How to authenticate to SNMP agents.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SnmpCredentials {
    /// SNMPv2c with a community string.
    V2c {
        /// The community (`public` on most printers out of the box).
        community: Secret,
    },
    /// SNMPv3 USM authPriv.
    V3(V3Credentials),
}

impl Default for SnmpCredentials {
    fn default() -> Self {
        Self::V2c { community: Secret::new(*b"public") }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An SNMPv3 protocol name that is not offered.
    #[error(
        "unknown or unsupported protocol {name:?} (auth: sha1, sha224, sha256, sha384, sha512; privacy: aes128, aes192, aes256)"
    )]
    UnknownProtocol {
        /// The name given.
        name: String,
    },
    /// A passphrase shorter than RFC 3414 §2.6 allows.
    #[error("the SNMPv3 {which} passphrase is shorter than {min} characters")]
    ShortPassword {
        /// `authentication` or `privacy`.
        which: &'static str,
        /// The minimum.
        min: usize,
    },
    /// A value out of its range.
    #[error("{field} = {value} is out of range (at most {max}, and not 0)")]
    OutOfRange {
        /// The setting.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The most allowed.
        max: u64,
    },
    /// A deadline shorter than one request's timeout (no read could finish in it).
    #[error("deadline_ms = {deadline_ms} is below timeout_ms = {timeout_ms}")]
    DeadlineBelowTimeout {
        /// The deadline given.
        deadline_ms: u64,
        /// The per-request timeout.
        timeout_ms: u64,
    },
    /// The config file is not valid JSON for [`ConfigFile`].
    #[error("config file: {0}")]
    File(#[from] serde_json::Error),
}

/// Shortest USM passphrase (RFC 3414 §2.6, "at least 8 octets").
pub const MIN_USM_PASSWORD: usize = 8;

/// How a round reaches printers.
#[derive(Clone, Debug)]
pub struct PollConfig {
    /// SNMP credentials.
    pub credentials: SnmpCredentials,
    /// The SNMP port asked on every address.
    pub snmp_port: u16,
    /// Per-request timeout (each UDP request, each HTTP exchange).
    pub timeout: Duration,
    /// Retries after a timeout.
    pub retries: u32,
    /// The longest one printer's read may take, all its requests and retries together: past
    /// it the read fails ([`crate::Failure::Deadline`]; [`crate::Failure::Timeout`] if the
    /// printer never answered, the retries left unsent). An HTTP request is cut at it; an SNMP
    /// request in flight is not (the deadline is checked before each), so a read ends at most
    /// one `timeout` after it. Keep it above `timeout × (retries + 1)` for the retries to run.
    pub deadline: Duration,
    /// Printers asked at once.
    pub concurrency: usize,
    /// Whether HTTPS certificates are verified (printers mostly present self-signed ones; turn
    /// off only for a known network).
    pub tls_verify: bool,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            credentials: SnmpCredentials::default(),
            snmp_port: SNMP_PORT,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            deadline: DEFAULT_DEADLINE,
            concurrency: DEFAULT_CONCURRENCY,
            tls_verify: true,
        }
    }
}

impl PollConfig {
    /// Checks the ranges ([`MIN_TIMEOUT`] to [`MAX_TIMEOUT`], [`MAX_RETRIES`], the timeout to
    /// [`MAX_DEADLINE`], [`MAX_CONCURRENCY`], [`MIN_USM_PASSWORD`]).
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.timeout < MIN_TIMEOUT || self.timeout > MAX_TIMEOUT {
            return Err(ConfigError::OutOfRange {
                field: "timeout_ms",
                value: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
                max: u64::try_from(MAX_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            });
        }
        if self.retries > MAX_RETRIES {
            return Err(ConfigError::OutOfRange {
                field: "retries",
                value: u64::from(self.retries),
                max: u64::from(MAX_RETRIES),
            });
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if self.deadline > MAX_DEADLINE {
            return Err(ConfigError::OutOfRange {
                field: "deadline_ms",
                value: ms(self.deadline),
                max: ms(MAX_DEADLINE),
            });
        }
        if self.deadline < self.timeout {
            return Err(ConfigError::DeadlineBelowTimeout {
                deadline_ms: ms(self.deadline),
                timeout_ms: ms(self.timeout),
            });
        }
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            return Err(ConfigError::OutOfRange {
                field: "concurrency",
                value: u64::try_from(self.concurrency).unwrap_or(u64::MAX),
                max: MAX_CONCURRENCY as u64,
            });
        }
        if let SnmpCredentials::V3(v3) = &self.credentials {
            if v3.auth_password.expose().len() < MIN_USM_PASSWORD {
                return Err(ConfigError::ShortPassword { which: "authentication", min: MIN_USM_PASSWORD });
            }
            if v3.priv_password.expose().len() < MIN_USM_PASSWORD {
                return Err(ConfigError::ShortPassword { which: "privacy", min: MIN_USM_PASSWORD });
            }
        }
        Ok(())
    }
}

/// The config file of `printfleet discover` and `printfleet poll`, JSON; every field optional;
/// the command line overrides it.
///
/// ```json
/// { "targets": ["192.168.1.0/24"], "exclude": ["192.168.1.1"],
///   "community": "public", "snmp_port": 161, "timeout_ms": 2000, "retries": 1, "deadline_ms": 120000,
///   "concurrency": 64,
///   "v3": { "user": "fleet", "auth_protocol": "sha256", "auth_password": "...",
///           "priv_protocol": "aes128", "priv_password": "..." } }
/// ```
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Targets (addresses, ranges, or for `poll` also `ipp://`/`ledm+http://` URLs).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Exclusions (addresses or ranges).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// SNMPv2c community.
    pub community: Option<Secret>,
    /// SNMPv3 credentials (take precedence over `community`).
    pub v3: Option<V3Credentials>,
    /// SNMP port.
    pub snmp_port: Option<u16>,
    /// Per-request timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Retries after a timeout.
    pub retries: Option<u32>,
    /// The longest one printer's read may take, in milliseconds ([`PollConfig::deadline`]).
    pub deadline_ms: Option<u64>,
    /// Printers asked at once.
    pub concurrency: Option<usize>,
    /// Whether HTTPS certificates are verified.
    pub tls_verify: Option<bool>,
}

impl ConfigFile {
    /// Reads a config file's bytes (the caller reads at most [`MAX_CONFIG_BYTES`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The poll settings this file sets over the defaults.
    pub fn poll_config(&self) -> PollConfig {
        let mut c = PollConfig::default();
        if let Some(v3) = &self.v3 {
            c.credentials = SnmpCredentials::V3(v3.clone());
        } else if let Some(community) = &self.community {
            c.credentials = SnmpCredentials::V2c { community: community.clone() };
        }
        c.snmp_port = self.snmp_port.unwrap_or(c.snmp_port);
        c.timeout = self.timeout_ms.map_or(c.timeout, Duration::from_millis);
        c.retries = self.retries.unwrap_or(c.retries);
        c.deadline = self.deadline_ms.map_or(c.deadline, Duration::from_millis);
        c.concurrency = self.concurrency.unwrap_or(c.concurrency);
        c.tls_verify = self.tls_verify.unwrap_or(c.tls_verify);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_sets_v3_credentials_and_limits() {
        let file = ConfigFile::parse(
            br#"{"targets":["127.0.0.0/26"],"exclude":["127.0.0.9"],"timeout_ms":300,"retries":2,"concurrency":8,"deadline_ms":900,
                "v3":{"user":"fleet","auth_protocol":"sha256","auth_password":"authpass1","priv_protocol":"aes128","priv_password":"privpass1"}}"#,
        )
        .unwrap();
        let c = file.poll_config();
        assert_eq!((c.timeout, c.retries, c.concurrency), (Duration::from_millis(300), 2, 8));
        assert_eq!(c.deadline, Duration::from_millis(900));
        match &c.credentials {
            SnmpCredentials::V3(v3) => {
                assert_eq!(
                    (v3.user.as_str(), v3.auth_protocol, v3.priv_protocol),
                    ("fleet", AuthProtocol::Sha256, PrivProtocol::Aes128)
                );
                assert_eq!(v3.auth_password.expose(), b"authpass1");
            }
            other => panic!("{other:?}"),
        }
        c.check().unwrap();
        // Secrets never reach a Debug print.
        assert!(!format!("{c:?}").contains("authpass1"));
        assert!(matches!(ConfigFile::parse(br#"{"comunity":"x"}"#), Err(ConfigError::File(_))));
    }

    #[test]
    fn out_of_range_settings_and_short_passphrases_are_refused() {
        for timeout in [Duration::ZERO, MAX_TIMEOUT + Duration::from_millis(1)] {
            let c = PollConfig { timeout, ..PollConfig::default() };
            assert!(matches!(c.check(), Err(ConfigError::OutOfRange { field: "timeout_ms", .. })), "{timeout:?}");
        }
        PollConfig { timeout: MIN_TIMEOUT, ..PollConfig::default() }.check().unwrap();
        PollConfig { timeout: MAX_TIMEOUT, ..PollConfig::default() }.check().unwrap();
        let c = PollConfig { deadline: MAX_DEADLINE + Duration::from_millis(1), ..PollConfig::default() };
        assert!(matches!(c.check(), Err(ConfigError::OutOfRange { field: "deadline_ms", .. })));
        let c = PollConfig { deadline: DEFAULT_TIMEOUT - Duration::from_millis(1), ..PollConfig::default() };
        assert!(matches!(c.check(), Err(ConfigError::DeadlineBelowTimeout { deadline_ms: 1999, timeout_ms: 2000 })));
        PollConfig { deadline: DEFAULT_TIMEOUT, ..PollConfig::default() }.check().unwrap();
        let mut c = PollConfig { retries: MAX_RETRIES + 1, ..PollConfig::default() };
        assert!(matches!(c.check(), Err(ConfigError::OutOfRange { field: "retries", .. })));
        c.retries = 0;
        c.concurrency = 0;
        assert!(matches!(c.check(), Err(ConfigError::OutOfRange { field: "concurrency", .. })));
        c.concurrency = MAX_CONCURRENCY + 1;
        assert!(matches!(c.check(), Err(ConfigError::OutOfRange { field: "concurrency", .. })));
        c.concurrency = 1;
        c.credentials = SnmpCredentials::V3(V3Credentials {
            user: "u".into(),
            auth_protocol: AuthProtocol::Sha256,
            auth_password: Secret::new(*b"short"),
            priv_protocol: PrivProtocol::Aes128,
            priv_password: Secret::new(*b"longenough"),
        });
        assert!(matches!(c.check(), Err(ConfigError::ShortPassword { which: "authentication", .. })));
        assert!(matches!("md5".parse::<AuthProtocol>(), Err(ConfigError::UnknownProtocol { .. })));
        assert!(matches!("des".parse::<PrivProtocol>(), Err(ConfigError::UnknownProtocol { .. })));
        assert_eq!("SHA-256".parse::<AuthProtocol>().unwrap(), AuthProtocol::Sha256);
    }
}
