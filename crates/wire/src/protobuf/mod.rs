//! The protobuf encoding: `proto/printfleet/v1/telemetry.proto`, generated with prost.
//!
//! Decoding first walks the bytes against a table of every message to enforce the
//! limits before prost allocates, then converts the generated messages into schema types, then
//! validates.

mod convert;
pub(crate) mod scan;

use printfleet_schema::DeviceReport;
use prost::Message;

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
    scan::scan(&scan::REPORT, input)?;
    let message = pb::DeviceReport::decode(input)?;
    let report = DeviceReport::try_from(message)?;
    report.validate()?;
    Ok(report)
}
