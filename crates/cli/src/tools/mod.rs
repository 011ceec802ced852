//! The integrator's tools behind `printfleet keygen`, `seal`, `open` and `inspect`: make keys,
//! seal a report or update into a real one-shot frame, open a frame, and say what any file of
//! the wire format is. For people testing their own implementation of a device or a portal
//! against printfleet's (`docs/wire-format.md`).
//!
//! * [`keygen`]: a fleet master key (32 bytes from the operating system, written to a file with
//!   mode 0600 that must not exist yet, printed only if asked), or the one-shot secret of a
//!   device derived from the master key exactly as the portal derives it (printed in base64,
//!   the form the collector's configuration takes).
//! * [`seal`]: a report (the schema's JSON) or an update (the JSON form of [`json`](mod@json)) → a frame
//!   sealed by the device's [`DeviceChannel`](printfleet_wire::frame::DeviceChannel), whose
//!   sequence numbers live in a **state file**: the channel's reservation, saved (atomically,
//!   under a lock) before the frame is sealed, so that no two frames ever share a number and
//!   a portal never refuses one as a replay. Lose the file and the next frame reuses number 1.
//! * [`open`]: a frame → its header and its payload decoded, as JSON. It checks everything a
//!   receiver checks **except replay and the clock** (it keeps no state): a frame that opens
//!   here may still be refused by a portal that has seen it, or whose clock is a day away.
//! * [`inspect`]: any file → what it is, as JSON: a sealed frame (binary or base64) by its
//!   header — the payload too given the key — or a report, update or reply in protobuf, XML or
//!   JSON. Every input is read with a cap ([`MAX_INSPECT_BYTES`] ...), and nothing in it can
//!   make the tool panic.
//!
//! Keys: `--key` takes a device's one-shot secret in base64, or `@FILE` to read it from a file
//! (better: a command line is visible to every user of the machine). A one-shot frame key is
//! derived from the secret, the device's name and the key epoch
//! ([`printfleet_auth::one_shot::frame_key`]), so each command that opens or seals also takes
//! `--device` (and `--epoch` where the frame does not say it).
//!
//! ```
//! use printfleet_cli::tools::{self, KeyArgs, SealArgs, SealKind, WireCodec};
//! # let dir = tempfile::tempdir()?;
//! # let (input, state) = (dir.path().join("report.json"), dir.path().join("seal-state.json"));
//! # std::fs::write(&input, serde_json::to_vec(&printfleet_schema::samples::office_laser())?)?;
//! let key = KeyArgs {
//!     key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
//!     device: "printer-7".into(),
//!     epoch: 1,
//! };
//! let args = SealArgs {
//!     key: key.clone(), kind: SealKind::Report, codec: WireCodec::Protobuf,
//!     state: state.clone(), out: None, input,
//! };
//! let first = tools::seal(&args)?;
//! let second = tools::seal(&args)?; // the state file moves the sequence on
//! assert_ne!(first.stdout, second.stdout);
//!
//! let frame = dir.path().join("frame.b64");
//! std::fs::write(&frame, &second.stdout)?;
//! let opened = tools::open(&tools::OpenArgs { key, direction: tools::Direction::Device, frame })?;
//! let json: serde_json::Value = serde_json::from_str(&opened.stdout)?;
//! assert_eq!(json["header"]["sequence"], 2);
//! assert_eq!(json["payload"]["kind"], "report");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod json;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::{ArgGroup, Args, ValueEnum};
use printfleet_auth::one_shot::{self, frame_key};
use printfleet_auth::{DeviceSecret, FleetMasterKey, KeyEpoch, SecretError, sender_id_of};
use printfleet_schema::Timestamp;
use printfleet_sources::read::{ReadError, read_capped};
use printfleet_wire::frame::danger::{FrameDirection, open_without_replay_check};
use printfleet_wire::frame::{
    CheckpointError, CipherSuite, Compression, DEFAULT_MAX_PAYLOAD_BYTES, FrameHeader, MAX_FRAME_BYTES,
    MIN_FRAME_BYTES, MessageKind, OVERHEAD, OsRng, RejectReason, SealError, SealerCheckpoint, VERSION, from_base64,
    to_base64,
};
use printfleet_wire::limits::{MAX_JSON_BYTES, MAX_PROTOBUF_BYTES, MAX_XML_BYTES};
use printfleet_wire::{Codec, protobuf, xml};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Largest file `inspect` and `open` read: a frame of [`MAX_FRAME_BYTES`] in base64
/// (4 characters per 3 bytes) and a line ending. Every other kind of file is smaller.
pub const MAX_INSPECT_BYTES: usize = 22_369_626;
// Checked when compiling: the figure is the base64 of the largest frame plus "\r\n", and room for
// the largest report in any codec.
const _: () = assert!(MAX_INSPECT_BYTES == MAX_FRAME_BYTES.div_ceil(3) * 4 + 2);
const _: () = assert!(MAX_INSPECT_BYTES > MAX_XML_BYTES && MAX_INSPECT_BYTES > MAX_JSON_BYTES);

/// Largest key file read (a base64 secret of at most 64 bytes is 88 characters; the rest is
/// room for line endings and spaces).
pub const MAX_KEY_FILE_BYTES: usize = 1024;

/// Largest state file read (a checkpoint is a line of JSON of about 80 bytes).
pub const MAX_STATE_FILE_BYTES: usize = 4096;

/// Largest input `seal` reads: the JSON codec's own limit.
pub const MAX_SEAL_INPUT_BYTES: usize = MAX_JSON_BYTES;

/// Bytes of a fleet master key.
pub const MASTER_KEY_BYTES: usize = 32;

/// Why a tool failed. Local diagnostics: unlike a portal, the tools say exactly why a frame did
/// not open (`reason`), since the person asking holds the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file is over its limit, or could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ReadError,
    },
    /// A key file to be created exists already (keys are never overwritten).
    #[error("{}: exists already; a key is never overwritten", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Key material that is not base64, or of the wrong length.
    #[error("{what}: {detail}")]
    Key {
        /// Which key (`--key`, `--master-key`).
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A device secret of the wrong length.
    #[error("--key: {0}")]
    Secret(#[from] SecretError),
    /// An input (JSON report, update or reply) that does not read or is invalid.
    #[error("not a valid {what}: {detail}")]
    Input {
        /// What it should have been.
        what: &'static str,
        /// Why it is not.
        detail: String,
    },
    /// A payload that does not decode with its codec.
    #[error("not a valid {what} in {codec}: {source}")]
    Payload {
        /// The message kind expected.
        what: &'static str,
        /// The codec.
        codec: Codec,
        /// The decoder's error.
        source: printfleet_wire::Error,
    },
    /// Updates and replies have no JSON wire encoding (protobuf or XML only).
    #[error("{what}s travel as protobuf or XML, not JSON")]
    NoJsonEncoding {
        /// The message kind.
        what: &'static str,
    },
    /// The file is none of the things `inspect` knows.
    #[error("not a sealed frame, nor a report, update or reply in protobuf, XML or JSON ({tried})")]
    NotRecognised {
        /// What each decoder tried said.
        tried: String,
    },
    /// The frame did not open: the reason, and what to try.
    #[error("frame does not open: {reason:?}{hint}")]
    Rejected {
        /// Why, as the frame layer says it.
        reason: RejectReason,
        /// A hint, or empty.
        hint: &'static str,
    },
    /// A frame needs the device's name to derive its key.
    #[error("a frame's key is derived from the device's name too: give --device with --key")]
    KeyNeedsDevice,
    /// The state file does not belong to this device and epoch, or is used up.
    #[error("{}: {source}", path.display())]
    Checkpoint {
        /// The state file.
        path: PathBuf,
        /// Why.
        source: CheckpointError,
    },
    /// The state file is not a checkpoint.
    #[error("{}: not a seal state file: {detail}", path.display())]
    StateFile {
        /// The state file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// Sealing failed.
    #[error("seal: {0}")]
    Seal(#[from] SealError),
    /// The system clock is outside the range of a timestamp.
    #[error("the system clock is out of range")]
    Clock,
}

/// What a tool prints: `stdout` (the result) and `notes` (for stderr).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Printed {
    /// The result, for stdout.
    pub stdout: String,
    /// What was done, for stderr.
    pub notes: String,
}

/// `printfleet keygen`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["master", "device"])))]
pub struct KeygenArgs {
    /// Generate a fleet master key: 32 random bytes from the operating system, written in base64
    /// to --out (created with mode 0600; refused if it exists), or printed with --stdout.
    #[arg(long)]
    pub master: bool,
    /// Derive this device's one-shot secret from the fleet master key, as the portal derives it,
    /// and print it in base64 (or write it to --out).
    #[arg(long, requires_all = ["epoch", "master_key"])]
    pub device: Option<String>,
    /// The key epoch of --device.
    #[arg(long)]
    pub epoch: Option<u32>,
    /// The fleet master key file (base64, as `keygen --master` writes it).
    #[arg(long)]
    pub master_key: Option<PathBuf>,
    /// Write the key to this file (mode 0600; refused if it exists).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the master key on stdout instead of writing a file (it is the whole fleet's
    /// credential: mind where stdout goes).
    #[arg(long, conflicts_with = "out")]
    pub stdout: bool,
}

/// A device's one-shot key: its secret, its name and a key epoch.
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// The device's one-shot secret: base64, or @FILE to read it from a file (better: a command
    /// line is visible to every user of the machine).
    #[arg(long)]
    pub key: String,
    /// The device's name (the frame key and the sender id derive from it).
    #[arg(long)]
    pub device: String,
    /// The key epoch (the frames' key id).
    #[arg(long)]
    pub epoch: u32,
}

/// What `seal` seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SealKind {
    /// A device report (the schema's JSON).
    Report,
    /// A change-detection update (the JSON form of `printfleet_cli::tools::json`).
    Update,
}

/// The wire encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WireCodec {
    /// Protocol Buffers.
    Protobuf,
    /// XML.
    Xml,
    /// JSON (reports only).
    Json,
}

impl From<WireCodec> for Codec {
    fn from(c: WireCodec) -> Self {
        match c {
            WireCodec::Protobuf => Self::Protobuf,
            WireCodec::Xml => Self::Xml,
            WireCodec::Json => Self::Json,
        }
    }
}

/// `printfleet seal`.
#[derive(Debug, Clone, Args)]
pub struct SealArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub key: KeyArgs,
    /// What INPUT is.
    #[arg(long, value_enum, default_value = "report")]
    pub kind: SealKind,
    /// The payload's encoding inside the frame.
    #[arg(long, value_enum, default_value = "protobuf")]
    pub codec: WireCodec,
    /// The device's sequence numbers under this key (JSON; created on the key's first frame).
    /// Keep it: a frame sealed without it would reuse a number, and the portal refuses it.
    #[arg(long)]
    pub state: PathBuf,
    /// Write the frame (binary) to this file instead of printing it in base64.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The report or update, as JSON.
    pub input: PathBuf,
}

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Direction {
    /// Device to portal: reports and updates.
    Device,
    /// Portal to device: replies.
    Portal,
}

/// `printfleet open`.
#[derive(Debug, Clone, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub key: KeyArgs,
    /// Who sealed the frame: the device (reports, updates) or the portal (replies).
    #[arg(long, value_enum, default_value = "device")]
    pub direction: Direction,
    /// The frame: binary, or base64 text.
    pub frame: PathBuf,
}

/// `printfleet inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The file: a sealed frame (binary or base64), or a report, update or reply in protobuf,
    /// XML or JSON.
    pub file: PathBuf,
    /// The device's one-shot secret (base64 or @FILE), to open a frame's payload.
    #[arg(long, requires = "device")]
    pub key: Option<String>,
    /// The device's name, with --key (the key epoch is the frame's key id).
    #[arg(long, requires = "key")]
    pub device: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Files and keys

fn read(path: &Path, limit: usize) -> Result<Vec<u8>, ToolError> {
    let f = std::fs::File::open(path).map_err(|source| ToolError::Io { path: path.into(), source })?;
    read_capped(f, limit).map_err(|source| ToolError::Read { path: path.into(), source })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ToolError + '_ {
    move |source| ToolError::Io { path: path.into(), source }
}

/// Creates `path` for a key: mode 0600, refused if it exists, written and synced.
fn write_key_file(path: &Path, text: &str) -> Result<(), ToolError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            ToolError::Exists { path: path.into() }
        } else {
            ToolError::Io { path: path.into(), source }
        }
    })?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io(path))
}

fn base64_key(what: &'static str, text: &[u8]) -> Result<Zeroizing<Vec<u8>>, ToolError> {
    let text = text.trim_ascii();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(Zeroizing::new)
        .map_err(|_| ToolError::Key { what, detail: "not base64".into() })
}

/// The device secret of `--key`: base64, or `@FILE` holding base64.
fn device_secret(arg: &str) -> Result<DeviceSecret, ToolError> {
    let bytes = match arg.strip_prefix('@') {
        Some(path) => base64_key("--key", &Zeroizing::new(read(Path::new(path), MAX_KEY_FILE_BYTES)?))?,
        None => base64_key("--key", arg.as_bytes())?,
    };
    Ok(DeviceSecret::from_bytes(&bytes)?)
}

fn master_key(path: &Path) -> Result<FleetMasterKey, ToolError> {
    let bytes = base64_key("--master-key", &Zeroizing::new(read(path, MAX_KEY_FILE_BYTES)?))?;
    let array: [u8; MASTER_KEY_BYTES] = bytes.as_slice().try_into().map_err(|_| ToolError::Key {
        what: "--master-key",
        detail: format!("{} bytes, not {MASTER_KEY_BYTES}", bytes.len()),
    })?;
    Ok(FleetMasterKey::from_bytes(array))
}

fn now() -> Result<Timestamp, ToolError> {
    Timestamp::try_from(std::time::SystemTime::now()).map_err(|_| ToolError::Clock)
}

// ---------------------------------------------------------------------------------------------
// keygen

/// `printfleet keygen`: a fleet master key, or a device's one-shot secret derived from one.
pub fn keygen(args: &KeygenArgs) -> Result<Printed, ToolError> {
    let encode =
        |bytes: &[u8]| Zeroizing::new(format!("{}\n", base64::engine::general_purpose::STANDARD.encode(bytes)));
    if !args.master {
        let (Some(device), Some(epoch), Some(master)) = (&args.device, args.epoch, &args.master_key) else {
            return Err(ToolError::Key {
                what: "keygen",
                detail: "give --master, or --device with --epoch and --master-key".into(),
            });
        };
        let secret = master_key(master)?.device_secret(device, KeyEpoch(epoch));
        let text = encode(&secret.to_bytes());
        return match &args.out {
            Some(out) => {
                write_key_file(out, &text)?;
                Ok(Printed {
                    stdout: String::new(),
                    notes: format!("printfleet: wrote the secret of {device} for epoch {epoch} to {}\n", out.display()),
                })
            }
            None => Ok(Printed { stdout: text.to_string(), notes: String::new() }),
        };
    }
    let mut bytes = Zeroizing::new([0u8; MASTER_KEY_BYTES]);
    rand_core::Rng::fill_bytes(&mut OsRng::default(), &mut bytes[..]);
    let text = encode(&bytes[..]);
    match (&args.out, args.stdout) {
        (Some(out), _) => {
            write_key_file(out, &text)?;
            Ok(Printed {
                stdout: String::new(),
                notes: format!("printfleet: wrote a new fleet master key to {} (mode 0600)\n", out.display()),
            })
        }
        (None, true) => Ok(Printed { stdout: text.to_string(), notes: String::new() }),
        (None, false) => Err(ToolError::Key {
            what: "keygen --master",
            detail: "give --out FILE (or --stdout to print the key)".into(),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// seal

/// The payload `seal` puts in the frame: INPUT's message, validated and encoded with `codec`.
fn seal_payload(kind: SealKind, codec: Codec, input: &[u8]) -> Result<(MessageKind, Vec<u8>), ToolError> {
    match kind {
        SealKind::Report => {
            let report = printfleet_wire::json::decode(input)
                .map_err(|e| ToolError::Input { what: "report", detail: e.to_string() })?;
            let payload =
                codec.encode_to_vec(&report).map_err(|source| ToolError::Payload { what: "report", codec, source })?;
            Ok((MessageKind::Report, payload))
        }
        SealKind::Update => {
            let update = json::update_from_json(input)?;
            let mut payload = Vec::new();
            match codec {
                Codec::Protobuf => protobuf::encode_update(&update, &mut payload),
                Codec::Xml => xml::encode_update(&update, &mut payload),
                _ => return Err(ToolError::NoJsonEncoding { what: "update" }),
            }
            .map_err(|source| ToolError::Payload { what: "update", codec, source })?;
            Ok((MessageKind::Update, payload))
        }
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes the checkpoint to `path` atomically and durably: a temporary file, synced, renamed
/// over it, and the directory synced.
fn save_checkpoint(path: &Path, checkpoint: &SealerCheckpoint) -> Result<(), ToolError> {
    let mut text = serde_json::to_string(checkpoint)
        .map_err(|e| ToolError::StateFile { path: path.into(), detail: e.to_string() })?;
    text.push('\n');
    let tmp = sibling(path, ".tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    Ok(())
}

/// `printfleet seal`: INPUT sealed into a one-shot frame of the device, under the next sequence
/// number of the state file (reserved and saved before the frame is sealed).
pub fn seal(args: &SealArgs) -> Result<Printed, ToolError> {
    let secret = device_secret(&args.key.key)?;
    let (device, epoch) = (args.key.device.as_str(), KeyEpoch(args.key.epoch));
    let codec = Codec::from(args.codec);
    // The input first: a bad one must not use up a sequence number.
    let (kind, payload) = seal_payload(args.kind, codec, &read(&args.input, MAX_SEAL_INPUT_BYTES)?)?;

    // One seal at a time per state file: two would read the same checkpoint.
    let lock_path = sibling(&args.state, ".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;

    let mut channel = if std::fs::exists(&args.state).map_err(io(&args.state))? {
        let bytes = read(&args.state, MAX_STATE_FILE_BYTES)?;
        let checkpoint: SealerCheckpoint = serde_json::from_slice(&bytes)
            .map_err(|e| ToolError::StateFile { path: args.state.clone(), detail: e.to_string() })?;
        one_shot::restore_device_channel(&secret, device, epoch, &checkpoint)
            .map_err(|source| ToolError::Checkpoint { path: args.state.clone(), source })?
    } else {
        one_shot::device_channel(&secret, device, epoch)
    };
    // One number per run: the next run starts past it.
    let reservation = channel.reserve_block(1);
    save_checkpoint(&args.state, &reservation.checkpoint())?;
    channel
        .reservation_saved(reservation)
        .map_err(|source| ToolError::Checkpoint { path: args.state.clone(), source })?;

    let mut frame = Vec::new();
    let header = channel.seal(kind, codec, &payload, now()?, &mut OsRng::default(), &mut frame)?;
    drop(lock);

    let notes = format!(
        "printfleet: sealed a {} ({codec}, {} bytes) from {device} (sender {}) under epoch {epoch}, sequence {}\n",
        kind_name(header.kind),
        payload.len(),
        header.sender_id,
        header.sequence
    );
    match &args.out {
        Some(out) => {
            std::fs::write(out, &frame).map_err(io(out))?;
            Ok(Printed { stdout: String::new(), notes })
        }
        None => Ok(Printed { stdout: format!("{}\n", to_base64(&frame)), notes }),
    }
}

// ---------------------------------------------------------------------------------------------
// open and inspect

const fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Report => "report",
        MessageKind::Update => "update",
        MessageKind::Reply => "reply",
        MessageKind::Bundle => "bundle",
        MessageKind::BundleReply => "bundle_reply",
        _ => "message",
    }
}

/// A frame's header as JSON.
fn header_json(h: &FrameHeader) -> Value {
    let suite = match h.suite {
        CipherSuite::Aes128CbcHmacSha256 => "aes-128-cbc-hmac-sha256",
        CipherSuite::Aes256CbcHmacSha256 => "aes-256-cbc-hmac-sha256",
        _ => "unknown",
    };
    let compression = match h.compression {
        Compression::None => "none",
        Compression::Deflate => "deflate",
        _ => "unknown",
    };
    json!({
        "version": VERSION,
        "codec": h.codec.name(),
        "compression": compression,
        "dictionary": h.dictionary,
        "suite": suite,
        "kind": kind_name(h.kind),
        "key_id": h.key_id.0,
        "sender_id": h.sender_id.to_string(),
        "sequence": h.sequence,
        "timestamp": h.timestamp.unix_millis(),
    })
}

/// A frame read from a file: binary, or base64 text. `None` if the file is not one.
fn as_frame(bytes: &[u8]) -> Option<(Vec<u8>, &'static str)> {
    // The length rule of every receiver (whole blocks of ciphertext), then the header's syntax.
    let frame_like = |b: &[u8]| {
        (MIN_FRAME_BYTES..=MAX_FRAME_BYTES).contains(&b.len())
            && b.len().checked_sub(OVERHEAD).is_some_and(|n| n.is_multiple_of(16))
            && FrameHeader::peek(b).is_ok()
    };
    if bytes.first() == Some(&VERSION) && frame_like(bytes) {
        return Some((bytes.to_vec(), "binary"));
    }
    // Base64 as `base64(1)` writes it: wrapped in lines.
    let text: String = std::str::from_utf8(bytes).ok()?.split_ascii_whitespace().collect();
    let decoded = from_base64(&text).ok()?;
    frame_like(&decoded).then_some((decoded, "base64"))
}

/// A decoded payload of `kind` in `codec` as JSON: `{"kind", "codec", <kind>: ...}`.
fn payload_json(kind: MessageKind, codec: Codec, bytes: &[u8]) -> Result<Value, ToolError> {
    let what = kind_name(kind);
    let wire = |source| ToolError::Payload { what, codec, source };
    let body = match (kind, codec) {
        (MessageKind::Report, _) => serde_json::to_value(codec.decode(bytes).map_err(wire)?).unwrap_or_default(),
        (MessageKind::Update, Codec::Protobuf) => json::update_to_json(&protobuf::decode_update(bytes).map_err(wire)?),
        (MessageKind::Update, Codec::Xml) => json::update_to_json(&xml::decode_update(bytes).map_err(wire)?),
        (MessageKind::Reply, Codec::Protobuf) => json::reply_to_json(&protobuf::decode_reply(bytes).map_err(wire)?),
        (MessageKind::Reply, Codec::Xml) => json::reply_to_json(&xml::decode_reply(bytes).map_err(wire)?),
        (MessageKind::Bundle, Codec::Protobuf) => {
            let entries = protobuf::decode_bundle(bytes).map_err(wire)?;
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                let update = json::update_to_json(&protobuf::decode_update(e.update).map_err(wire)?);
                out.push(json!({ "device": e.device.to_string(), "update": update }));
            }
            Value::Array(out)
        }
        (MessageKind::BundleReply, Codec::Protobuf) => Value::Array(
            protobuf::decode_bundle_reply(bytes)
                .map_err(wire)?
                .iter()
                .map(|a| a.as_ref().map_or(Value::Null, json::reply_to_json))
                .collect(),
        ),
        _ => return Err(ToolError::NoJsonEncoding { what }),
    };
    let mut out = json!({ "kind": what, "codec": codec.name() });
    if let Some(map) = out.as_object_mut() {
        map.insert(what.into(), body);
    }
    Ok(out)
}

/// Opens `frame` under the device's key and decodes its payload.
fn open_frame(
    frame: &[u8],
    secret: &DeviceSecret,
    device: &str,
    epoch: KeyEpoch,
    direction: FrameDirection,
) -> Result<(FrameHeader, Value), ToolError> {
    let key = frame_key(secret, device, epoch);
    let mut payload = Zeroizing::new(Vec::new());
    let header = open_without_replay_check(
        &key,
        sender_id_of(device),
        direction,
        frame,
        DEFAULT_MAX_PAYLOAD_BYTES,
        &mut payload,
    )
    .map_err(|e| {
        let peeked = FrameHeader::peek(frame).ok();
        let hint = match (e.reason(), peeked.map(|h| h.kind), direction) {
            (RejectReason::UnknownSender, ..) => " (the frame names another sender: check --device)",
            (RejectReason::UnknownKey, ..) => " (the frame names another key epoch: check --epoch)",
            (
                RejectReason::Authentication | RejectReason::UnexpectedKind,
                Some(MessageKind::Reply | MessageKind::BundleReply),
                FrameDirection::DeviceToPortal,
            ) => " (a reply travels from the portal: try --direction portal)",
            (RejectReason::Authentication | RejectReason::UnexpectedKind, Some(_), FrameDirection::PortalToDevice) => {
                " (reports and updates travel from the device: try --direction device)"
            }
            (RejectReason::Authentication, ..) => " (altered, or sealed under another secret)",
            _ => "",
        };
        ToolError::Rejected { reason: e.reason(), hint }
    })?;
    Ok((header, payload_json(header.kind, header.codec, &payload)?))
}

/// `printfleet open`: a frame's header and decoded payload, as pretty JSON. No replay or clock
/// check (see the module docs).
pub fn open(args: &OpenArgs) -> Result<Printed, ToolError> {
    let secret = device_secret(&args.key.key)?;
    let bytes = read(&args.frame, MAX_INSPECT_BYTES)?;
    let Some((frame, _)) = as_frame(&bytes) else {
        return Err(ToolError::Rejected { reason: RejectReason::Length, hint: " (not a frame, in binary or base64)" });
    };
    let direction = match args.direction {
        Direction::Device => FrameDirection::DeviceToPortal,
        Direction::Portal => FrameDirection::PortalToDevice,
    };
    let (header, payload) = open_frame(&frame, &secret, &args.key.device, KeyEpoch(args.key.epoch), direction)?;
    let out = json!({ "header": header_json(&header), "payload": payload });
    Ok(Printed {
        stdout: pretty(&out),
        notes: "printfleet: authentic; not checked for replay or clock skew (open keeps no state)\n".into(),
    })
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// What `inspect` found in a file that is not a frame, or why each guess failed.
fn recognise(bytes: &[u8]) -> Result<Value, ToolError> {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes).trim_ascii_start();
    let mut tried = Vec::new();
    if text.starts_with(b"<") {
        if bytes.len() <= MAX_XML_BYTES {
            for kind in [MessageKind::Report, MessageKind::Update, MessageKind::Reply] {
                match payload_json(kind, Codec::Xml, bytes) {
                    Ok(v) => return Ok(v),
                    Err(e) => tried.push(format!("xml {}: {}", kind_name(kind), source_of(&e))),
                }
            }
        }
    } else if text.starts_with(b"{") {
        match payload_json(MessageKind::Report, Codec::Json, bytes) {
            Ok(v) => return Ok(v),
            Err(e) => tried.push(format!("json report: {}", source_of(&e))),
        }
        for (what, parsed) in [
            ("update", json::update_from_json(bytes).map(|u| json::update_to_json(&u))),
            ("reply", json::reply_from_json(bytes).map(|r| json::reply_to_json(&r))),
        ] {
            match parsed {
                Ok(body) => {
                    let mut out = json!({ "kind": what, "codec": "json (printfleet's form, not a wire encoding)" });
                    if let Some(map) = out.as_object_mut() {
                        map.insert(what.into(), body);
                    }
                    return Ok(out);
                }
                Err(e) => tried.push(format!("json {what}: {}", source_of(&e))),
            }
        }
    } else if bytes.is_empty() {
        tried.push("the file is empty".into());
    } else if bytes.len() <= MAX_PROTOBUF_BYTES {
        // Protobuf carries no type: a message is what it decodes and validates as.
        for kind in [MessageKind::Report, MessageKind::Update, MessageKind::Reply] {
            match payload_json(kind, Codec::Protobuf, bytes) {
                Ok(v) => return Ok(v),
                Err(e) => tried.push(format!("protobuf {}: {}", kind_name(kind), source_of(&e))),
            }
        }
    }
    if tried.is_empty() {
        tried.push(format!("{} bytes: larger than any report, update or reply", bytes.len()));
    }
    Err(ToolError::NotRecognised { tried: tried.join("; ") })
}

/// The decoder's own message of a payload error, without the "not a valid ..." prefix.
fn source_of(e: &ToolError) -> String {
    match e {
        ToolError::Payload { source, .. } => source.to_string(),
        ToolError::Input { detail, .. } => detail.clone(),
        other => other.to_string(),
    }
}

/// `printfleet inspect`: what the file is, as pretty JSON.
pub fn inspect(args: &InspectArgs) -> Result<Printed, ToolError> {
    let bytes = read(&args.file, MAX_INSPECT_BYTES)?;
    if let Some((frame, encoding)) = as_frame(&bytes) {
        // Routing information only until the frame opens.
        let header = FrameHeader::peek(&frame).map_err(|e| ToolError::Rejected { reason: e.reason(), hint: "" })?;
        let mut out = json!({
            "format": "frame",
            "encoding": encoding,
            "bytes": frame.len(),
            "header": header_json(&header),
        });
        let mut notes = String::new();
        match (&args.key, &args.device) {
            (Some(key), Some(device)) => {
                let secret = device_secret(key)?;
                let direction = if matches!(header.kind, MessageKind::Reply | MessageKind::BundleReply) {
                    FrameDirection::PortalToDevice
                } else {
                    FrameDirection::DeviceToPortal
                };
                let (_, payload) = open_frame(&frame, &secret, device, KeyEpoch(header.key_id.0), direction)?;
                if let Some(map) = out.as_object_mut() {
                    map.insert("authenticated".into(), Value::Bool(true));
                    map.insert("payload".into(), payload);
                }
                notes.push_str("printfleet: authentic; not checked for replay or clock skew\n");
            }
            (None, None) => {
                if let Some(map) = out.as_object_mut() {
                    map.insert("authenticated".into(), Value::Bool(false));
                }
                notes.push_str(
                    "printfleet: the header is not authenticated until the frame opens: give --key and --device\n",
                );
            }
            _ => return Err(ToolError::KeyNeedsDevice),
        }
        return Ok(Printed { stdout: pretty(&out), notes });
    }
    let mut out = recognise(&bytes)?;
    if let Some(map) = out.as_object_mut() {
        map.insert("format".into(), Value::String("payload".into()));
    }
    let notes =
        if args.key.is_some() { "printfleet: not a frame: --key is not needed\n".into() } else { String::new() };
    Ok(Printed { stdout: pretty(&out), notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_never_panic_and_are_never_a_frame_without_the_version_byte() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in [0usize, 1, 2, 3, 7, 64, 65, 80, 200, 4096] {
            for _ in 0..50 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed.to_le_bytes()[0]
                    })
                    .collect();
                if let Ok(v) = recognise(&bytes) {
                    // A protobuf decoder may accept a few random bytes as a message with unknown
                    // fields; never as anything but a validated one.
                    assert!(v["kind"].is_string(), "{v}");
                }
                assert!(as_frame(&bytes).is_none() || bytes.first() == Some(&VERSION));
            }
        }
        assert!(recognise(b"").is_err());
    }

    #[test]
    fn keygen_without_master_never_makes_a_master_key() {
        let args = KeygenArgs {
            master: false,
            device: Some("p".into()),
            epoch: None,
            master_key: None,
            out: None,
            stdout: true,
        };
        assert!(matches!(keygen(&args), Err(ToolError::Key { what: "keygen", .. })));
    }

    #[test]
    fn mutated_and_truncated_golden_files_never_panic() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../");
        let mut files = Vec::new();
        for dir in ["wire/testdata", "wire/testdata/frames", "diff/testdata"] {
            for entry in std::fs::read_dir(format!("{root}{dir}")).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| ["pb", "xml", "json", "frame"].contains(&e.to_str().unwrap())) {
                    files.push(std::fs::read(path).unwrap());
                }
            }
        }
        assert!(files.len() > 20, "the golden files moved");
        let mut seed = 0x0123_4567_89ab_cdefu64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for original in &files {
            for _ in 0..40 {
                let mut bytes = original.clone();
                let at = usize::try_from(next() % bytes.len() as u64).unwrap();
                match next() % 3 {
                    0 => bytes.truncate(at),
                    1 => bytes[at] ^= 1 << (next() % 8),
                    _ => bytes[at] = next().to_le_bytes()[0],
                }
                let _ = recognise(&bytes);
                if let Some((frame, _)) = as_frame(&bytes) {
                    assert!(FrameHeader::peek(&frame).is_ok());
                }
            }
        }
    }
}
