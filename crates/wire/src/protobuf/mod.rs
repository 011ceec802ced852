//! The protobuf encoding: `proto/printfleet/v1/telemetry.proto`, generated with prost.
//!
//! Encoding writes the schema types straight into protobuf bytes (`encode`), byte for byte what
//! the prost-generated messages of the `.proto` encode to: the prost path is kept as the oracle
//! the tests compare against ([`encode_with_prost`]). Decoding reads the wire format straight into
//! the schema types, enforcing every limit before it allocates, then validates.

mod bundle;
mod convert;
mod decode;
mod delta;
mod encode;

use printfleet_schema::DeviceReport;

pub use bundle::{
    BundleEntry, bundle_entry_len, decode_bundle, decode_bundle_reply, encode_bundle_answer, encode_bundle_entry,
};

use crate::delta::{Reply, Update};

use crate::error::Error;
use crate::{Codec, limits::MAX_PROTOBUF_BYTES, pb};

/// Appends the protobuf encoding of `report` to `out`, after checking it with
/// [`DeviceReport::validate`].
pub fn encode(report: &DeviceReport, out: &mut Vec<u8>) -> Result<(), Error> {
    report.validate()?;
    encode::report(report, out);
    Ok(())
}

/// [`encode`] through the prost-generated messages: the oracle the direct encoder is tested
/// against (the same bytes), and the baseline its benchmark runs beside. Not a stable API.
#[doc(hidden)]
pub fn encode_with_prost(report: &DeviceReport, out: &mut Vec<u8>) -> Result<(), Error> {
    report.validate()?;
    encode_message(&pb::DeviceReport::from(report), out)
}

/// Appends a state's canonical bytes, the bytes its [`crate::delta::StateHash`] is computed
/// over (docs/wire-format.md §5.8, "State hash"), with the direct encoder.
pub(crate) fn encode_state(state: &crate::delta::DeviceState, out: &mut Vec<u8>) {
    encode::state(&state.identity, &state.snapshot, out);
}

/// Decodes a protobuf `DeviceReport`, enforcing every limit, and validates the result.
pub fn decode(input: &[u8]) -> Result<DeviceReport, Error> {
    check_size(input)?;
    let report = decode::report(input)?;
    report.validate()?;
    Ok(report)
}

/// Appends the protobuf encoding of `update` (a `printfleet.v1.Update`) to `out`, after checking
/// it with [`Update::validate`].
///
/// ```
/// use printfleet_schema::samples;
/// use printfleet_wire::delta::{DeviceState, Instance, Update, UpdateBody};
/// use printfleet_wire::protobuf;
///
/// let state = DeviceState::from(&samples::office_laser());
/// let instance = Instance(0x5eed_0001);
/// let update = Update { instance, sequence: 1, body: UpdateBody::Full(Box::new(state)), events: Vec::new() };
/// let mut bytes = Vec::new();
/// protobuf::encode_update(&update, &mut bytes)?;
/// assert_eq!(protobuf::decode_update(&bytes)?, update);
/// # Ok::<(), printfleet_wire::Error>(())
/// ```
pub fn encode_update(update: &Update, out: &mut Vec<u8>) -> Result<(), Error> {
    update.validate()?;
    encode_message(&delta::update_to_pb(update), out)
}

/// Decodes a protobuf `printfleet.v1.Update`, enforcing every limit, and validates the result
/// with [`Update::validate`]. Whether a delta applies to the receiver's state is for
/// `printfleet-diff` to find out.
pub fn decode_update(input: &[u8]) -> Result<Update, Error> {
    check_size(input)?;
    let update = delta::update(input)?;
    update.validate()?;
    Ok(update)
}

/// Appends the protobuf encoding of `reply` (a `printfleet.v1.Reply`) to `out`.
pub fn encode_reply(reply: &Reply, out: &mut Vec<u8>) -> Result<(), Error> {
    encode_message(&delta::reply_to_pb(reply), out)
}

/// Decodes a protobuf `printfleet.v1.Reply`.
pub fn decode_reply(input: &[u8]) -> Result<Reply, Error> {
    check_size(input)?;
    Ok(delta::reply(input)?)
}

fn check_size(input: &[u8]) -> Result<(), Error> {
    if input.len() > MAX_PROTOBUF_BYTES {
        return Err(Error::TooLarge { codec: Codec::Protobuf, len: input.len(), limit: MAX_PROTOBUF_BYTES });
    }
    Ok(())
}

fn encode_message(message: &impl prost::Message, out: &mut Vec<u8>) -> Result<(), Error> {
    out.reserve(message.encoded_len());
    // Encoding into a Vec cannot run out of space.
    message.encode(out).map_err(|_| Error::TooLarge {
        codec: Codec::Protobuf,
        len: usize::MAX,
        limit: MAX_PROTOBUF_BYTES,
    })
}
