//! The protobuf encoding: `proto/printfleet/v1/telemetry.proto`, generated with prost.
//!
//! Encoding goes through the prost-generated messages (so the bytes are exactly what the `.proto`
//! says). Decoding reads the wire format straight into the schema types, enforcing every limit
//! before it allocates, then validates.

mod convert;
mod decode;

use printfleet_schema::DeviceReport;
use prost::Message as _;

use crate::error::Error;
use crate::{Codec, limits::MAX_PROTOBUF_BYTES, pb};

/// Appends the protobuf encoding of `report` to `out`, after checking it with
/// [`DeviceReport::validate`].
pub fn encode(report: &DeviceReport, out: &mut Vec<u8>) -> Result<(), Error> {
    report.validate()?;
    let message = pb::DeviceReport::from(report);
    out.reserve(message.encoded_len());
    // Encoding into a Vec cannot run out of space.
    message.encode(out).map_err(|_| Error::TooLarge {
        codec: Codec::Protobuf,
        len: usize::MAX,
        limit: MAX_PROTOBUF_BYTES,
    })
}

/// Decodes a protobuf `DeviceReport`, enforcing every limit, and validates the result.
pub fn decode(input: &[u8]) -> Result<DeviceReport, Error> {
    if input.len() > MAX_PROTOBUF_BYTES {
        return Err(Error::TooLarge { codec: Codec::Protobuf, len: input.len(), limit: MAX_PROTOBUF_BYTES });
    }
    let report = decode::report(input)?;
    report.validate()?;
    Ok(report)
}
