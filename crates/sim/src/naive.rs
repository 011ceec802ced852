//! The pipeline a user would write instead of printfleet's, measured beside it: the full
//! report as `serde_json` at every report, gzip (`flate2`, default level), then a Fernet token
//! (the `fernet` crate: AES-128-CBC + HMAC-SHA256, base64url text). No state, no deltas, no
//! replay protection beyond Fernet's timestamp, and the token is text.
//!
//! ```
//! use printfleet_schema::samples;
//! use printfleet_sim::naive::Naive;
//!
//! let mut naive = Naive::new([7; 32])?;
//! let token = naive.seal(&samples::office_laser())?;
//! assert_eq!(naive.open(&token)?, samples::office_laser());
//! assert_eq!(naive.bytes_sealed(), token.len() as u64);
//! # Ok::<(), printfleet_sim::naive::NaiveError>(())
//! ```
//!
//! # Security Warning
//! This is a baseline for measurements, not a recommendation: Fernet tokens can be replayed
//! within their TTL, a report is sent whole every time, and `Naive::new` takes a raw key. The
//! tokens' IVs and timestamps come from the OS (the `fernet` crate reads its clock and
//! `getrandom`), so tokens differ from run to run; their lengths do not.

use std::fmt;
use std::io::{Read, Write};

use base64::Engine;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use printfleet_schema::DeviceReport;

/// The most bytes a token's JSON may inflate to (a bomb is refused, not allocated).
pub const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

/// Why the naive pipeline failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NaiveError {
    /// The report could not be serialised, or a token's JSON is not a report.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Compression or decompression failed.
    #[error("gzip: {0}")]
    Gzip(#[from] std::io::Error),
    /// The `fernet` crate refused the key.
    #[error("fernet key refused")]
    Key,
    /// The token did not verify or decrypt (Fernet says no more).
    #[error("fernet token refused")]
    Token,
    /// The JSON inflates beyond [`MAX_JSON_BYTES`].
    #[error("inflated json exceeds {limit} bytes")]
    TooLarge {
        /// [`MAX_JSON_BYTES`].
        limit: u64,
    },
}

/// The naive pipeline, with byte counters.
pub struct Naive {
    fernet: fernet::Fernet,
    sealed: u64,
    bytes_sealed: u64,
    json_bytes: u64,
}

impl fmt::Debug for Naive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Naive")
            .field("sealed", &self.sealed)
            .field("bytes_sealed", &self.bytes_sealed)
            .finish_non_exhaustive()
    }
}

impl Naive {
    /// The pipeline with a Fernet key (16 bytes of HMAC key, 16 of AES key).
    pub fn new(key: [u8; 32]) -> Result<Self, NaiveError> {
        let text = base64::engine::general_purpose::URL_SAFE.encode(key);
        let fernet = fernet::Fernet::new(&text).ok_or(NaiveError::Key)?;
        Ok(Self { fernet, sealed: 0, bytes_sealed: 0, json_bytes: 0 })
    }

    /// The token for `report`: serde_json, gzip, Fernet (as bytes: the token's ASCII text).
    pub fn seal(&mut self, report: &DeviceReport) -> Result<Vec<u8>, NaiveError> {
        let json = serde_json::to_vec(report)?;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&json)?;
        let compressed = gz.finish()?;
        let token = self.fernet.encrypt(&compressed).into_bytes();
        self.sealed = self.sealed.saturating_add(1);
        self.bytes_sealed = self.bytes_sealed.saturating_add(u64::try_from(token.len()).unwrap_or(u64::MAX));
        self.json_bytes = self.json_bytes.saturating_add(u64::try_from(json.len()).unwrap_or(u64::MAX));
        Ok(token)
    }

    /// The report in `token`: Fernet, gunzip (at most [`MAX_JSON_BYTES`]), serde_json.
    pub fn open(&self, token: &[u8]) -> Result<DeviceReport, NaiveError> {
        let text = std::str::from_utf8(token).map_err(|_| NaiveError::Token)?;
        let compressed = self.fernet.decrypt(text).map_err(|_| NaiveError::Token)?;
        let mut json = Vec::new();
        GzDecoder::new(compressed.as_slice()).take(MAX_JSON_BYTES.saturating_add(1)).read_to_end(&mut json)?;
        if u64::try_from(json.len()).unwrap_or(u64::MAX) > MAX_JSON_BYTES {
            return Err(NaiveError::TooLarge { limit: MAX_JSON_BYTES });
        }
        Ok(serde_json::from_slice(&json)?)
    }

    /// Tokens sealed.
    pub fn sealed(&self) -> u64 {
        self.sealed
    }

    /// Bytes of every token sealed (what goes on the wire; the portal's reply, an HTTP 200
    /// without a body, is not counted).
    pub fn bytes_sealed(&self) -> u64 {
        self.bytes_sealed
    }

    /// Bytes of JSON before compression.
    pub fn json_bytes(&self) -> u64 {
        self.json_bytes
    }
}
