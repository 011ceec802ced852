//! `Bundle` and `BundleReply` (docs/wire-format.md §5.9): many devices' updates in one frame.
//!
//! A bundle's entries carry each device's `Update` as the bytes [`super::encode_update`] wrote,
//! spliced in without decoding them again; the reader hands them back as slices for
//! [`super::decode_update`], so that an entry costs its bytes and nothing else.

use prost::encoding::{WireType, decode_key, encode_key, encode_varint, encoded_len_varint};

use super::decode::decode_varint;
use crate::delta::Reply;
use crate::error::{Error, ProtobufError};
use crate::frame::SenderId;
use crate::limits::MAX_BUNDLE_ENTRIES;

/// One entry of a decoded bundle: a device and its update, still encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BundleEntry<'a> {
    /// The device the update is from (its sender id).
    pub device: SenderId,
    /// The protobuf encoding of its `Update`, for [`super::decode_update`].
    pub update: &'a [u8],
}

/// The bytes [`encode_bundle_entry`] appends for an update of `update_len` bytes.
pub fn bundle_entry_len(update_len: usize) -> usize {
    let body = entry_body_len(update_len);
    body.saturating_add(encoded_len_varint(body as u64)).saturating_add(1)
}

fn entry_body_len(update_len: usize) -> usize {
    // device: key + 8 bytes; update: key + length + bytes.
    update_len.saturating_add(encoded_len_varint(update_len as u64)).saturating_add(10)
}

/// Appends one entry of a `printfleet.v1.Bundle` to `out`: `device`'s sender id and `update`,
/// the protobuf encoding of its `Update` ([`super::encode_update`]). A bundle is its entries,
/// one after the other, each device at most once and at most
/// [`MAX_BUNDLE_ENTRIES`](crate::limits::MAX_BUNDLE_ENTRIES) of them.
///
/// ```
/// use printfleet_schema::samples;
/// use printfleet_wire::delta::{DeviceState, Instance, Update, UpdateBody};
/// use printfleet_wire::frame::SenderId;
/// use printfleet_wire::protobuf;
///
/// let state = DeviceState::from(&samples::office_laser());
/// let update = Update { instance: Instance(7), sequence: 1, body: UpdateBody::Full(Box::new(state)), events: Vec::new() };
/// let mut encoded = Vec::new();
/// protobuf::encode_update(&update, &mut encoded)?;
///
/// let mut bundle = Vec::new();
/// protobuf::encode_bundle_entry(SenderId(17), &encoded, &mut bundle);
/// protobuf::encode_bundle_entry(SenderId(18), &encoded, &mut bundle);
/// let entries = protobuf::decode_bundle(&bundle)?;
/// assert_eq!(entries.len(), 2);
/// assert_eq!(entries[1].device, SenderId(18));
/// assert_eq!(protobuf::decode_update(entries[1].update)?, update);
/// # Ok::<(), printfleet_wire::Error>(())
/// ```
pub fn encode_bundle_entry(device: SenderId, update: &[u8], out: &mut Vec<u8>) {
    let body = entry_body_len(update.len());
    out.reserve(bundle_entry_len(update.len()));
    encode_key(1, WireType::LengthDelimited, out);
    encode_varint(body as u64, out);
    encode_key(1, WireType::SixtyFourBit, out);
    out.extend_from_slice(&device.0.to_le_bytes());
    encode_key(2, WireType::LengthDelimited, out);
    encode_varint(update.len() as u64, out);
    out.extend_from_slice(update);
}

/// Decodes a protobuf `printfleet.v1.Bundle` into its entries, in order, enforcing the size
/// limit, [`MAX_BUNDLE_ENTRIES`](crate::limits::MAX_BUNDLE_ENTRIES) (before each entry is kept)
/// and that each entry has its device and its update exactly once and each device appears once.
/// The updates are not decoded: pass each to [`super::decode_update`].
pub fn decode_bundle(input: &[u8]) -> Result<Vec<BundleEntry<'_>>, Error> {
    let mut entries = Vec::new();
    each_element(input, "Bundle.entries", |body| {
        entries.push(entry(body)?);
        Ok(())
    })?;
    let mut devices: Vec<u64> = entries.iter().map(|e| e.device.0).collect();
    devices.sort_unstable();
    if devices.windows(2).any(|w| matches!(w, [a, b] if a == b)) {
        return Err(ProtobufError::Structure("a device appears twice in one bundle").into());
    }
    Ok(entries)
}

fn entry(body: &[u8]) -> Result<BundleEntry<'_>, ProtobufError> {
    let (mut device, mut update) = (None, None);
    each_field(body, |number, value| match (number, value) {
        (1, _) if device.is_some() => Err(ProtobufError::Repeated { message: "BundleEntry", number }),
        (2, _) if update.is_some() => Err(ProtobufError::Repeated { message: "BundleEntry", number }),
        (1, Field::Fixed64(v)) => {
            device = Some(SenderId(v));
            Ok(())
        }
        (2, Field::Bytes(b)) => {
            update = Some(b);
            Ok(())
        }
        (1, _) => Err(ProtobufError::WireType { field: "BundleEntry.device" }),
        (2, _) => Err(ProtobufError::WireType { field: "BundleEntry.update" }),
        _ => Ok(()),
    })?;
    match (device, update) {
        (Some(device), Some(update)) => Ok(BundleEntry { device, update }),
        _ => Err(ProtobufError::Structure("a bundle entry needs its device and its update")),
    }
}

/// Appends one answer of a `printfleet.v1.BundleReply` to `out`: `reply`, the protobuf encoding
/// of the device's `Reply` ([`super::encode_reply`]), or `None` for an entry the portal refused
/// (the device sends its update again later). A bundle reply has one answer per entry of the
/// bundle, in the bundle's order.
pub fn encode_bundle_answer(reply: Option<&[u8]>, out: &mut Vec<u8>) {
    encode_key(1, WireType::LengthDelimited, out);
    match reply {
        Some(reply) => {
            let answer = reply.len().saturating_add(encoded_len_varint(reply.len() as u64)).saturating_add(1);
            encode_varint(answer as u64, out);
            encode_key(1, WireType::LengthDelimited, out);
            encode_varint(reply.len() as u64, out);
            out.extend_from_slice(reply);
        }
        None => encode_varint(0, out),
    }
}

/// Decodes a protobuf `printfleet.v1.BundleReply`: one answer per entry of the bundle it
/// answers, in order (`None`: the entry was refused), at most
/// [`MAX_BUNDLE_ENTRIES`](crate::limits::MAX_BUNDLE_ENTRIES).
///
/// ```
/// use printfleet_wire::delta::{Instance, Reply};
/// use printfleet_wire::protobuf;
///
/// let reply = Reply::Resync { instance: Instance(7), events_through: 3 };
/// let mut encoded = Vec::new();
/// protobuf::encode_reply(&reply, &mut encoded)?;
/// let mut bytes = Vec::new();
/// protobuf::encode_bundle_answer(Some(&encoded), &mut bytes);
/// protobuf::encode_bundle_answer(None, &mut bytes);
/// assert_eq!(protobuf::decode_bundle_reply(&bytes)?, vec![Some(reply), None]);
/// # Ok::<(), printfleet_wire::Error>(())
/// ```
pub fn decode_bundle_reply(input: &[u8]) -> Result<Vec<Option<Reply>>, Error> {
    let mut answers = Vec::new();
    each_element(input, "BundleReply.answers", |body| {
        let mut reply = None;
        each_field(body, |number, value| match (number, value) {
            (1, _) if reply.is_some() => Err(ProtobufError::Repeated { message: "BundleAnswer", number }),
            (1, Field::Bytes(b)) => {
                reply = Some(super::delta::reply(b)?);
                Ok(())
            }
            (1, _) => Err(ProtobufError::WireType { field: "BundleAnswer.reply" }),
            _ => Ok(()),
        })?;
        answers.push(reply);
        Ok(())
    })?;
    Ok(answers)
}

/// Calls `on` with each element of a message's one repeated field, number 1 (`Bundle.entries`,
/// `BundleReply.answers`), after the size check and refusing the element past
/// [`MAX_BUNDLE_ENTRIES`] before it is read; other fields are skipped.
fn each_element<'a>(
    input: &'a [u8],
    field: &'static str,
    mut on: impl FnMut(&'a [u8]) -> Result<(), ProtobufError>,
) -> Result<(), Error> {
    super::check_size(input)?;
    let mut count = 0usize;
    each_field(input, |number, value| {
        if number != 1 {
            return Ok(());
        }
        let Field::Bytes(body) = value else { return Err(ProtobufError::WireType { field }) };
        if count >= MAX_BUNDLE_ENTRIES {
            return Err(ProtobufError::TooMany { field, limit: MAX_BUNDLE_ENTRIES });
        }
        count = count.saturating_add(1);
        on(body)
    })?;
    Ok(())
}

/// A field of a bundle's messages as read from the wire (varint and fixed32 fields are none of
/// ours: they are read past, as unknown fields).
enum Field<'a> {
    Bytes(&'a [u8]),
    Fixed64(u64),
    Other,
}

/// Calls `on` for each field of one message, in order; groups are refused.
fn each_field<'a>(
    mut buf: &'a [u8],
    mut on: impl FnMut(u32, Field<'a>) -> Result<(), ProtobufError>,
) -> Result<(), ProtobufError> {
    while !buf.is_empty() {
        let (number, wire_type) = decode_key(&mut buf).map_err(ProtobufError::Malformed)?;
        let field = match wire_type {
            WireType::Varint => {
                decode_varint(&mut buf).map_err(ProtobufError::Malformed)?;
                Field::Other
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut buf).map_err(ProtobufError::Malformed)?;
                let len = usize::try_from(len).map_err(|_| ProtobufError::Structure("length out of range"))?;
                let (body, rest) = buf.split_at_checked(len).ok_or(ProtobufError::Structure("length past the end"))?;
                buf = rest;
                Field::Bytes(body)
            }
            WireType::SixtyFourBit => {
                let (word, rest) =
                    buf.split_first_chunk::<8>().ok_or(ProtobufError::Structure("fixed64 past the end"))?;
                buf = rest;
                Field::Fixed64(u64::from_le_bytes(*word))
            }
            WireType::ThirtyTwoBit => {
                buf = buf.get(4..).ok_or(ProtobufError::Structure("fixed32 past the end"))?;
                Field::Other
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err(ProtobufError::Structure("groups are not supported"));
            }
        };
        on(number, field)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::delta::{BaseRef, Instance, StateHash};
    use crate::pb;

    fn reply(n: u64) -> Reply {
        Reply::Ack {
            instance: Instance(9),
            events_through: n,
            state: BaseRef { sequence: n, hash: StateHash(0xdead_beef) },
        }
    }

    #[test]
    fn entries_are_what_prost_encodes_for_the_proto_messages() {
        let update = b"\x08\x01".as_slice();
        let mut ours = Vec::new();
        encode_bundle_entry(SenderId(0x396f_ba7f_a8d2_938d), update, &mut ours);
        assert_eq!(ours.len(), bundle_entry_len(update.len()));
        let prost = pb::Bundle {
            entries: vec![pb::BundleEntry {
                device: 0x396f_ba7f_a8d2_938d,
                update: Some(pb::Update::decode(update).unwrap()),
            }],
        };
        assert_eq!(ours, prost.encode_to_vec());
    }

    #[test]
    fn answers_are_what_prost_encodes_for_the_proto_messages() {
        let mut inner = Vec::new();
        super::super::encode_reply(&reply(3), &mut inner).unwrap();
        let mut ours = Vec::new();
        encode_bundle_answer(Some(&inner), &mut ours);
        encode_bundle_answer(None, &mut ours);
        let prost = pb::BundleReply {
            answers: vec![
                pb::BundleAnswer { reply: Some(pb::Reply::decode(inner.as_slice()).unwrap()) },
                pb::BundleAnswer { reply: None },
            ],
        };
        assert_eq!(ours, prost.encode_to_vec());
        assert_eq!(decode_bundle_reply(&ours).unwrap(), vec![Some(reply(3)), None]);
    }

    #[test]
    fn a_bundle_past_its_limits_or_out_of_contract_is_refused() {
        let mut many = Vec::new();
        for i in 0..=MAX_BUNDLE_ENTRIES as u64 {
            encode_bundle_entry(SenderId(i), b"", &mut many);
        }
        assert!(matches!(
            decode_bundle(&many),
            Err(Error::Protobuf(ProtobufError::TooMany { field: "Bundle.entries", .. }))
        ));
        let mut twice = Vec::new();
        encode_bundle_entry(SenderId(5), b"", &mut twice);
        encode_bundle_entry(SenderId(5), b"", &mut twice);
        assert!(decode_bundle(&twice).is_err());
        // An entry without its update, and one whose device is a varint.
        assert!(decode_bundle(&[0x0a, 0x09, 0x09, 1, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_bundle(&[0x0a, 0x04, 0x08, 0x05, 0x12, 0x00]).is_err());
        // Truncated in the middle of an entry.
        let mut cut = Vec::new();
        encode_bundle_entry(SenderId(5), b"\x08\x01", &mut cut);
        assert!(decode_bundle(&cut[..cut.len() - 1]).is_err());
        // Unknown fields are skipped, at both levels.
        let mut unknown = vec![0x10, 0x01];
        unknown.extend_from_slice(&cut);
        assert_eq!(decode_bundle(&unknown).unwrap().len(), 1);
        assert_eq!(decode_bundle(&[]).unwrap(), Vec::new());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode_bundle(&bytes);
            let _ = decode_bundle_reply(&bytes);
        }

        #[test]
        fn entries_round_trip(devices in proptest::collection::btree_set(proptest::num::u64::ANY, 0..40),
                              update in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut bundle = Vec::new();
            for d in &devices {
                encode_bundle_entry(SenderId(*d), &update, &mut bundle);
            }
            let back = decode_bundle(&bundle).unwrap();
            let want: Vec<BundleEntry<'_>> =
                devices.iter().map(|d| BundleEntry { device: SenderId(*d), update: &update }).collect();
            proptest::prop_assert_eq!(back, want);
        }
    }
}
