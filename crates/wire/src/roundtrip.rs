//! The one round-trip check, shared by the property tests, the golden-vector tests and the fuzz
//! targets (prost's `check_type` habit): whatever a codec writes it reads back equal, and
//! whatever it accepts it writes back in a form it reads back equal.

use printfleet_schema::DeviceReport;

use crate::{Codec, Error};

/// How a round trip went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoundTripFailure {
    /// Encoding a report failed.
    #[error("{codec}: encoding failed: {source}")]
    Encode {
        /// The codec.
        codec: Codec,
        /// Why.
        source: Error,
    },
    /// Decoding what the codec itself wrote failed.
    #[error("{codec}: decoding our own output failed: {source}")]
    Decode {
        /// The codec.
        codec: Codec,
        /// Why.
        source: Error,
    },
    /// The decoded report differs from the one encoded.
    #[error("{codec}: decoded report differs from the encoded one")]
    Mismatch {
        /// The codec.
        codec: Codec,
    },
    /// Encoding the same report twice gave different bytes.
    #[error("{codec}: encoding is not deterministic")]
    NotDeterministic {
        /// The codec.
        codec: Codec,
    },
}

/// Encodes `report`, decodes the bytes, and checks that the result equals `report` and that
/// encoding it again gives the same bytes. Returns the encoding.
pub fn roundtrip(codec: Codec, report: &DeviceReport) -> Result<Vec<u8>, RoundTripFailure> {
    let bytes = codec.encode_to_vec(report).map_err(|source| RoundTripFailure::Encode { codec, source })?;
    let back = codec.decode(&bytes).map_err(|source| RoundTripFailure::Decode { codec, source })?;
    if back != *report {
        return Err(RoundTripFailure::Mismatch { codec });
    }
    let again = codec.encode_to_vec(&back).map_err(|source| RoundTripFailure::Encode { codec, source })?;
    if again != bytes {
        return Err(RoundTripFailure::NotDeterministic { codec });
    }
    Ok(bytes)
}

/// Decodes untrusted `input`; if the codec accepts it, checks that the report survives
/// [`roundtrip`]. `Ok(None)` means the input was rejected (cleanly). This is what the fuzz
/// targets call: any `Err` is a bug.
pub fn decode_then_roundtrip(codec: Codec, input: &[u8]) -> Result<Option<DeviceReport>, RoundTripFailure> {
    let Ok(report) = codec.decode(input) else {
        return Ok(None);
    };
    roundtrip(codec, &report)?;
    Ok(Some(report))
}
