//! Opening a frame **without replay protection or a clock check**, for diagnostic tools only
//! (`printfleet open` and `printfleet inspect`, which show what another implementation sealed).
//!
//! A receiver must never accept frames this way: a frame opened here can be opened again and
//! again, and one sealed a year ago opens today. The [`Keyring`](super::Keyring),
//! [`PortalChannel`](super::PortalChannel) and [`DeviceChannel`](super::DeviceChannel) own the
//! replay windows and the clock check; use them to act on frames. The module is named after
//! rustls' `danger` modules for the same reason: its name is the warning.
//!
//! ```
//! use printfleet_schema::Timestamp;
//! use printfleet_wire::Codec;
//! use printfleet_wire::frame::danger::{FrameDirection, open_without_replay_check};
//! use printfleet_wire::frame::{
//!     CipherSuite, DEFAULT_MAX_PAYLOAD_BYTES, DeviceChannel, FrameKey, KeyId, MessageKind, OsRng, SenderId,
//! };
//! // A fixed key, as a diagnostic tool is given one: for this example only, never a real key.
//! let key = FrameKey::new(&[7; 32], KeyId(1), CipherSuite::Aes128CbcHmacSha256)?;
//! let sender = SenderId(42);
//! let mut device = DeviceChannel::new(sender, &key);
//! let reservation = device.reserve();
//! device.reservation_saved(reservation)?;
//! let sealed_at = Timestamp::from_unix_millis(1_000)?;
//! let mut frame = Vec::new();
//! device.seal(MessageKind::Report, Codec::Json, b"{}", sealed_at, &mut OsRng::default(), &mut frame)?;
//!
//! // Opens whatever the time, as often as asked: never use it to accept a frame.
//! for _ in 0..2 {
//!     let mut payload = Vec::new();
//!     let header = open_without_replay_check(
//!         &key, sender, FrameDirection::DeviceToPortal, &frame, DEFAULT_MAX_PAYLOAD_BYTES, &mut payload,
//!     )?;
//!     assert_eq!((header.sequence, header.timestamp, payload.as_slice()), (1, sealed_at, &b"{}"[..]));
//! }
//! // The other direction's keys do not open it.
//! let err = open_without_replay_check(
//!     &key, sender, FrameDirection::PortalToDevice, &frame, DEFAULT_MAX_PAYLOAD_BYTES, &mut Vec::new(),
//! );
//! assert!(err.is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::channel::{OpenBuffers, open_frame, peek_checked};
use super::crypto::Direction;
use super::{DEFAULT_CLOCK_SKEW, FrameHeader, FrameKey, MessageKind, OpenLimits, RejectReason, Rejected, SenderId};

/// Which way a frame travels, which says which of the key's two derived key sets opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameDirection {
    /// From the device (or collector) to the portal: reports, updates and bundles.
    DeviceToPortal,
    /// From the portal to the device: replies and bundle replies.
    PortalToDevice,
}

impl FrameDirection {
    /// The kinds of message that travel this way (a receiver expects only these).
    pub const fn kinds(self) -> &'static [MessageKind] {
        match self {
            Self::DeviceToPortal => &[MessageKind::Report, MessageKind::Update, MessageKind::Bundle],
            Self::PortalToDevice => &[MessageKind::Reply, MessageKind::BundleReply],
        }
    }

    const fn internal(self) -> Direction {
        match self {
            Self::DeviceToPortal => Direction::DeviceToPortal,
            Self::PortalToDevice => Direction::PortalToDevice,
        }
    }
}

/// Opens `frame`, sealed by (or, for a reply, for) `sender` under `key` travelling `direction`,
/// and appends its payload (at most `max_payload` bytes after decompression) to `out`.
///
/// Every check of [`Keyring::open`](super::Keyring::open) is made — length, header syntax,
/// sender and key id, suite, tag (constant time), a kind that travels `direction`, padding,
/// decompression — **except** freshness and the clock: nothing remembers the frame, and its
/// timestamp is not compared with any clock (it is in the returned header, for the caller to
/// show). For tools that check another implementation's frames; never to accept one (see the
/// module docs). On error `out` is left as it was.
pub fn open_without_replay_check(
    key: &FrameKey,
    sender: SenderId,
    direction: FrameDirection,
    frame: &[u8],
    max_payload: usize,
    out: &mut Vec<u8>,
) -> Result<FrameHeader, Rejected> {
    let header = peek_checked(frame)?;
    if header.sender_id != sender {
        return Err(Rejected(RejectReason::UnknownSender));
    }
    if header.key_id != key.key_id {
        return Err(Rejected(RejectReason::UnknownKey));
    }
    let limits = OpenLimits { max_payload, clock_skew: DEFAULT_CLOCK_SKEW };
    open_frame(
        &key.keys(direction.internal()),
        key.suite,
        &header,
        frame,
        direction.kinds(),
        true,
        // Checked against itself: no clock check.
        header.timestamp,
        limits,
        &mut OpenBuffers::default(),
        out,
    )?;
    Ok(header)
}

#[cfg(test)]
mod tests {
    use printfleet_schema::Timestamp;

    use super::*;
    use crate::Codec;
    use crate::frame::{CipherSuite, DEFAULT_MAX_PAYLOAD_BYTES, DeviceChannel, KeyId, Keyring, OsRng};

    fn sealed(key: &FrameKey, sender: SenderId, kind: MessageKind) -> Vec<u8> {
        let mut device = DeviceChannel::new(sender, key);
        let r = device.reserve();
        device.reservation_saved(r).unwrap();
        let mut frame = Vec::new();
        let now = Timestamp::from_unix_millis(5).unwrap();
        device.seal(kind, Codec::Protobuf, &[0x42; 100], now, &mut OsRng::default(), &mut frame).unwrap();
        frame
    }

    #[test]
    fn every_check_but_replay_and_clock_is_made() {
        let key = FrameKey::new(&[1; 32], KeyId(3), CipherSuite::Aes128CbcHmacSha256).unwrap();
        let sender = SenderId(9);
        let frame = sealed(&key, sender, MessageKind::Update);
        let open = |key: &FrameKey, sender, direction, frame: &[u8], max| {
            open_without_replay_check(key, sender, direction, frame, max, &mut Vec::new()).map_err(|e| e.reason())
        };
        let d2p = FrameDirection::DeviceToPortal;
        assert!(open(&key, sender, d2p, &frame, DEFAULT_MAX_PAYLOAD_BYTES).is_ok());
        assert_eq!(open(&key, SenderId(10), d2p, &frame, 1 << 20), Err(RejectReason::UnknownSender));
        let other_id = FrameKey::new(&[1; 32], KeyId(4), CipherSuite::Aes128CbcHmacSha256).unwrap();
        assert_eq!(open(&other_id, sender, d2p, &frame, 1 << 20), Err(RejectReason::UnknownKey));
        let other_secret = FrameKey::new(&[2; 32], KeyId(3), CipherSuite::Aes128CbcHmacSha256).unwrap();
        assert_eq!(open(&other_secret, sender, d2p, &frame, 1 << 20), Err(RejectReason::Authentication));
        let other_suite = FrameKey::new(&[1; 32], KeyId(3), CipherSuite::Aes256CbcHmacSha256).unwrap();
        assert_eq!(open(&other_suite, sender, d2p, &frame, 1 << 20), Err(RejectReason::UnknownKey));
        assert_eq!(
            open(&key, sender, FrameDirection::PortalToDevice, &frame, 1 << 20),
            Err(RejectReason::Authentication)
        );
        assert_eq!(open(&key, sender, d2p, &frame, 99), Err(RejectReason::TooLarge));
        let mut altered = frame.clone();
        if let Some(b) = altered.get_mut(40) {
            *b ^= 1;
        }
        assert_eq!(open(&key, sender, d2p, &altered, 1 << 20), Err(RejectReason::Authentication));
        assert_eq!(open(&key, sender, d2p, b"garbage", 1 << 20), Err(RejectReason::Length));
    }

    #[test]
    fn a_reply_opens_portal_to_device_only() {
        let key = FrameKey::new(&[1; 32], KeyId(3), CipherSuite::Aes128CbcHmacSha256).unwrap();
        let sender = SenderId(9);
        let request = sealed(&key, sender, MessageKind::Report);
        let mut ring = Keyring::new();
        ring.insert(sender, &key).unwrap();
        let now = Timestamp::from_unix_millis(5).unwrap();
        let header = ring.open(&request, &[MessageKind::Report], now, &mut Vec::new()).unwrap();
        let mut reply = Vec::new();
        ring.seal_reply(&header, Codec::Xml, b"<reply/>", now, &mut OsRng::default(), &mut reply).unwrap();
        let mut out = Vec::new();
        let opened =
            open_without_replay_check(&key, sender, FrameDirection::PortalToDevice, &reply, 1 << 20, &mut out).unwrap();
        assert_eq!((opened.kind, opened.sequence, out.as_slice()), (MessageKind::Reply, 1, &b"<reply/>"[..]));
        let wrong_way =
            open_without_replay_check(&key, sender, FrameDirection::DeviceToPortal, &reply, 1 << 20, &mut out);
        assert_eq!(wrong_way.map_err(|e| e.reason()), Err(RejectReason::Authentication));
    }
}
