//! The printfleet agent: what runs in a printer's firmware (Partner Link's direct connection) or on
//! a PC on the customer's LAN (Partner Link's Data Collector, SDS's monitor), as one sans-IO
//! object in the style of quinn-proto's `Connection`. The caller feeds it readings, jobs, alerts,
//! boots, frames from the portal and the time; it answers with frames to send
//! ([`DeviceAgent::poll_transmit`]), the next instant to wake it
//! ([`DeviceAgent::poll_timeout`]) and what happened ([`DeviceAgent::poll_event`]). It never
//! reads a clock, a socket or a file.
//!
//! Inside, one [`DeviceAgent`] owns a device's redaction policy (required at construction),
//! its change-detection state (`printfleet_diff::sync`), its frame channel
//! (`printfleet_wire::frame::DeviceChannel`, one-shot keys from `printfleet-auth`), its
//! [`Schedule`] and its outbox. A [`Collector`] holds thousands of them behind one connection; with
//! its own session attached ([`Collector::attach_link`]) it sends every due device's update in one
//! bundle (docs/wire-format.md §5.9), which shares one frame's 64 bytes of overhead among them.
//!
//! ```
//! use printfleet_agent::{DeviceAgent, Event, Schedule};
//! use printfleet_diff::sync::{Instance, Receiver};
//! use printfleet_schema::{Redaction, samples};
//! use printfleet_wire::frame::{CipherSuite, FrameKey, KeyId, Keyring, MessageKind, OsRng, SenderId};
//! use printfleet_wire::{Codec, protobuf};
//!
//! let mut rng = OsRng::default();
//! let now = samples::SAMPLE_TIME;
//! // Provisioned: the device's one-shot key (printfleet-auth derives it from its secret:
//! // `one_shot::frame_key`); a fresh one here.
//! let key = FrameKey::generate(&mut rng, KeyId(1), CipherSuite::Aes128CbcHmacSha256);
//! let device = SenderId(17);
//!
//! // The agent: the redaction policy is not optional.
//! let policy = Redaction::drop_all();
//! let instance = Instance(rand_core::Rng::next_u32(&mut rng));
//! let mut agent = DeviceAgent::new(device, &key, policy, Schedule::direct(), instance);
//! let mut report = samples::office_laser();
//! report.events.print_jobs.clear();
//! agent.handle_reading(now, report);
//! agent.handle_job(now, samples::large_format(1).events.print_jobs.remove(0));
//!
//! // Nothing leaves before what it depends on is saved.
//! assert!(agent.poll_transmit(now, &mut rng).is_none());
//! assert!(std::iter::from_fn(|| agent.poll_event()).any(|e| e == Event::SaveRequired));
//! // poll_transmit_saving saves whenever asked (the closure writes the state durably), then polls.
//! let mut stored = Vec::new();
//! let transmit = agent
//!     .poll_transmit_saving(now, &mut rng, |state| {
//!         stored = serde_json::to_vec(state)?;
//!         Ok::<(), Box<dyn std::error::Error>>(())
//!     })?
//!     .expect("a boot report is due");
//! assert!(!stored.is_empty());
//!
//! // The portal: its keyring opens the frame, its sync::Receiver applies the update.
//! let mut keyring = Keyring::new();
//! keyring.insert(device, &key)?;
//! let mut receiver = Receiver::new();
//! let mut payload = Vec::new();
//! let request = keyring.open(&transmit.frame, &[MessageKind::Update], now, &mut payload)?;
//! let reply = receiver.receive(&protobuf::decode_update(&payload)?);
//! assert_eq!(receiver.take_jobs().len(), 1);
//! assert_eq!(receiver.state(), agent.current());
//!
//! // The acknowledgement goes back to the agent.
//! let mut bytes = Vec::new();
//! protobuf::encode_reply(&reply, &mut bytes)?;
//! let mut frame = Vec::new();
//! keyring.seal_reply(&request, Codec::Protobuf, &bytes, now, &mut rng, &mut frame)?;
//! agent.handle_frame(now, &frame);
//! assert!(std::iter::from_fn(|| agent.poll_event()).any(|e| matches!(e, Event::Acknowledged { .. })));
//! // Nothing more is due until the schedule says so.
//! assert!(agent.poll_transmit(now, &mut rng).is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The redaction policy is not optional: an agent cannot be built without one.
//!
//! ```compile_fail
//! # use printfleet_agent::{DeviceAgent, Schedule};
//! # use printfleet_diff::sync::Instance;
//! # use printfleet_wire::frame::{CipherSuite, FrameKey, KeyId, SenderId};
//! # let key = FrameKey::new(&[7; 32], KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap();
//! let agent = DeviceAgent::new(SenderId(1), &key, Schedule::direct(), Instance(1)); // no policy
//! ```
//!
//! # Scheduling (the seeds' rules, as defaults)
//! * [`Schedule::direct`]: a printer reports itself "every 3 hours, or every 19 jobs or 100
//!   pages, whichever comes first" (Partner Link, direct connection), an urgent alert at once
//!   ("high severity alerts are sent as soon as detected"), and once at boot.
//! * [`Schedule::collector`]: a collector reads and reports each printer every 180 minutes by
//!   default, never more often than every 30 minutes (a shorter interval is refused with
//!   [`ConfigError::IntervalTooShort`], not clamped). A collector that sends bundles
//!   ([`Collector::attach_link`]) reports at its rounds, the multiples of the interval since the
//!   Unix epoch: a device joins the first round at least 30 minutes after its last report.
//! * A report that is not acknowledged is retried after the reply timeout plus an exponential
//!   back-off with full jitter (from the caller's RNG), capped. A new report supersedes an
//!   unanswered one: it carries the newest state (a delta against what the portal acknowledged)
//!   and every job event not yet acknowledged.
//! * A clock that jumps back waits one interval from its new time; one that jumps forward by
//!   hours sends one report, not one per interval missed.
//!
//! # What the caller persists, and when
//! Everything the agent must not lose is one serde value, [`AgentState`]: the sync state (update
//! and event numbers, the acknowledged base, the job events not yet acknowledged), the frame
//! key's sequence reservation, the scheduler's counters and the latest reading. **Save before
//! you send**: whenever a frame would depend on something not yet stored (a job recorded, a new
//! report built, a new block of sequence numbers), the agent emits [`Event::SaveRequired`] and
//! sends nothing until [`DeviceAgent::save`]'s [`Checkpoint`] has been stored and handed back to
//! [`DeviceAgent::saved`]; [`DeviceAgent::poll_transmit_saving`] runs that loop with the caller's
//! store. After a restart, [`DeviceAgent::restore`] from the last state stored.
//! A crash at any point then loses no job event, never reuses a sequence number, and the
//! portal's next acceptance is never refused as a replay.
//!
//! That holds for **the last state stored, restored by one process at a time**. Neither side
//! can tell a copy from the original: two agents restored from one state (a cloned disk image,
//! a second process on the same file) seal the same sequence numbers, and the portal takes
//! whichever frame comes first and refuses the other as a replay; an older state (a backup, a
//! flash copy rolled back) reuses numbers the portal has seen, and its frames are refused until
//! the numbers pass them (up to a reservation block). Hold the stored state exclusively, and
//! treat a state restored from a backup as lost: give the device its next key epoch (a new
//! key; `printfleet device rekey` at the portal) and start a new agent under it.
//!
//! # Outbox bound
//! The outbox is not a queue of reports: it is one pending state (the newest) and the job events
//! not yet acknowledged, of which each report carries at most 1024. Nothing is dropped while the
//! portal cannot be reached: during a month-long outage a printer at the direct schedule's
//! maximum sustained rate keeps its state plus every job of the month (for an office printer a
//! few hundred jobs, each a few hundred bytes), and sends one report per back-off period: at the
//! default cap the wait is the reply timeout plus a uniform draw below an hour, about two
//! reports an hour.

mod collector;
mod device;
mod schedule;

pub use collector::{
    BundleCounts, CLOCK_STEP_BACK, Collector, CollectorCheckpoint, MAX_BUNDLE_BYTES, MAX_BUNDLES_IN_FLIGHT,
};
pub use device::{AgentState, Checkpoint, DeviceAgent, MAX_QUEUED_EVENTS, SAVE_ROUNDS};
pub use schedule::{
    COLLECTOR_INTERVAL, COLLECTOR_MIN_INTERVAL, ConfigError, DEFAULT_MAX_BACKOFF, DEFAULT_REPLY_TIMEOUT,
    DIRECT_INTERVAL, DIRECT_JOBS, DIRECT_PAGES, Reason, Schedule,
};

use printfleet_wire::frame::{RejectReason, SealError, SenderId};

/// A frame to send to the portal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The device it concerns.
    pub device: SenderId,
    /// The sealed frame.
    pub frame: Vec<u8>,
    /// Whether it carries an urgent alert (send it before anything else).
    pub urgent: bool,
    /// Why it was sent.
    pub reason: Reason,
    /// The frame's sequence number (the portal's reply carries it).
    pub sequence: u64,
    /// A bundle ([`Collector::attach_link`]): each device it carries, with the bytes of its
    /// entry before compression (to share the frame's bytes out among them); empty for one
    /// device's own frame.
    pub entries: Vec<(SenderId, usize)>,
}

/// Something the caller may want to know, log or count.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A frame is waiting on a save: call [`DeviceAgent::save`].
    SaveRequired,
    /// The portal acknowledged the state of update `update`.
    Acknowledged {
        /// The update's number.
        update: u64,
    },
    /// The portal asked for a full state; the next report carries one.
    ResyncRequested,
    /// A frame from the portal did not open (local logs only).
    ReplyRejected(RejectReason),
    /// A report could not be encoded (a state outside the schema's limits).
    EncodeFailed(String),
    /// A report could not be sealed; it is kept and sealed after the next save.
    SealFailed(SealError),
    /// The attached session expired (its channel seals nothing more): it is detached, and the
    /// agent seals with its one-shot key again, if it has one, until a new session is attached.
    /// Handshake again.
    SessionExpired,
}

/// Why an agent call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The saved sync state is inconsistent.
    #[error("saved sync state refused: {0}")]
    Restore(printfleet_diff::sync::RestoreError),
    /// The saved sequence reservation does not belong to this device's key.
    #[error("saved sequence reservation refused: {0}")]
    Checkpoint(printfleet_wire::frame::CheckpointError),
    /// No agent for this device in the collector.
    #[error("no agent for device {0}")]
    UnknownDevice(SenderId),
    /// A session's channel attached to the agent of another device.
    #[error("a session of device {session} attached to the agent of device {agent}")]
    SessionSender {
        /// The agent's device.
        agent: SenderId,
        /// The device the session authenticated.
        session: SenderId,
    },
    /// A channel attached as a session's that is a one-shot channel: its sequence numbers
    /// would need saving, which the agent does only for its own one-shot channel.
    #[error("not a session's channel")]
    NotASession,
    /// A frame whose header does not parse.
    #[error("frame refused ({0:?})")]
    Frame(RejectReason),
}
