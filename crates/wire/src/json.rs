//! The JSON encoding: the serde form documented in `docs/schema.md`, with limits.
//!
//! The schema's `Deserialize` impls check every list against its limit before each element is
//! pushed, so decoding allocates no more than the limits allow; serde_json bounds nesting
//! (128 levels) and this module bounds the input size.

use printfleet_schema::DeviceReport;

use crate::error::Error;
use crate::{Codec, limits::MAX_JSON_BYTES};

/// Appends the compact JSON encoding of `report` to `out`, after checking it with
/// [`DeviceReport::validate`].
pub fn encode(report: &DeviceReport, out: &mut Vec<u8>) -> Result<(), Error> {
    report.validate()?;
    serde_json::to_writer(out, report).map_err(Error::Json)
}

/// Decodes a JSON report, enforcing every limit, and validates the result.
pub fn decode(input: &[u8]) -> Result<DeviceReport, Error> {
    if input.len() > MAX_JSON_BYTES {
        return Err(Error::TooLarge { codec: Codec::Json, len: input.len(), limit: MAX_JSON_BYTES });
    }
    let report: DeviceReport = serde_json::from_slice(input).map_err(Error::Json)?;
    report.validate()?;
    Ok(report)
}
