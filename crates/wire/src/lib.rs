//! Wire encodings of printfleet telemetry: protobuf, XMPP-ready XML and JSON.
//!
//! Each codec turns a [`DeviceReport`] into bytes and back,
//! losslessly. Encoders validate the report first; decoders treat their input as hostile: they
//! never panic, check every limit ([`limits`], [`printfleet_schema::limits`]) before allocating
//! for it, reject what the contract forbids with a typed [`Error`], and validate the result. So
//! a report that leaves a decoder is exactly one that an encoder would have written.
//!
//! * [`protobuf`]: the compact, cross-language contract (`proto/printfleet/v1/telemetry.proto`).
//! * [`xml`]: one element in its own namespace, to ride inside an XMPP stanza (as SDS does).
//! * [`json`]: the serde form, for HTTP APIs and people.
//! * [`frame`]: sealed frames that carry one encoded report across the network: compressed,
//!   encrypted and authenticated, with replay protection.
//! * [`delta`]: the messages of the change-detection protocol (`printfleet-diff`), encoded by
//!   [`protobuf::encode_update`], [`xml::encode_update`] and their siblings.
//!
//! `docs/wire-format.md` specifies all three and their versioning rules; `testdata/` holds golden
//! vectors that pin the bytes. This crate does no I/O.
//!
//! ```
//! use printfleet_schema::samples;
//! use printfleet_wire::Codec;
//!
//! let report = samples::office_laser();
//! let bytes = Codec::Protobuf.encode_to_vec(&report)?;
//! assert_eq!(Codec::Protobuf.decode(&bytes)?, report);
//!
//! let xml = Codec::Xml.encode_to_vec(&report)?;
//! assert!(xml.starts_with(b"<report xmlns=\"urn:printfleet:telemetry:1\""));
//! assert_eq!(Codec::Xml.decode(&xml)?, report);
//!
//! // Protobuf is the compact one.
//! let json = Codec::Json.encode_to_vec(&report)?;
//! assert!(bytes.len() * 3 < json.len());
//!
//! // Hostile input is refused cleanly.
//! assert!(Codec::Xml.decode(b"<!DOCTYPE x [<!ENTITY a 'b'>]><report/>").is_err());
//! # Ok::<(), printfleet_wire::Error>(())
//! ```
//!
//! # Crate features
//! * `fuzzing`: entry points for the fuzz targets (`frame::fuzzing`); not a stable API.

pub mod delta;
mod error;
pub mod frame;
pub mod json;
pub mod limits;
pub mod link;
pub mod protobuf;
// Test scaffolding shared by the tests, the fuzz targets and the benchmarks: not part of the API.
#[doc(hidden)]
pub mod roundtrip;
pub mod xml;

/// The protobuf messages generated from `proto/printfleet/v1/telemetry.proto` by prost, for the
/// tests and benchmarks that compare against them. Not part of the API: use
/// [`protobuf::encode`] / [`protobuf::decode`], which convert to and from the schema types and
/// enforce the limits.
#[doc(hidden)]
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/printfleet.v1.rs"));
}

use core::fmt;

pub use error::{Error, ProtobufError, XmlError};
use printfleet_schema::DeviceReport;
/// The `rand_core` version this crate's API takes random generators from (0.10): implement or
/// import `CryptoRng` from here to be sure the versions agree.
pub use rand_core;

/// One of the three encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Protocol Buffers, `printfleet.v1.DeviceReport`.
    Protobuf,
    /// XML, one `<report>` in the `urn:printfleet:telemetry:1` namespace.
    Xml,
    /// JSON, the serde form.
    Json,
}

impl Codec {
    /// Every codec.
    pub const ALL: [Self; 3] = [Self::Protobuf, Self::Xml, Self::Json];

    /// Appends the encoding of `report` to `out` (validating the report first).
    pub fn encode(self, report: &DeviceReport, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            Self::Protobuf => protobuf::encode(report, out),
            Self::Xml => xml::encode(report, out),
            Self::Json => json::encode(report, out),
        }
    }

    /// The encoding of `report` in a new buffer.
    pub fn encode_to_vec(self, report: &DeviceReport) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode(report, &mut out)?;
        Ok(out)
    }

    /// Decodes untrusted `input`.
    pub fn decode(self, input: &[u8]) -> Result<DeviceReport, Error> {
        match self {
            Self::Protobuf => protobuf::decode(input),
            Self::Xml => xml::decode(input),
            Self::Json => json::decode(input),
        }
    }

    /// The codec's lower-case name (`protobuf`, `xml`, `json`), also its file extension in
    /// `testdata/` (`pb`, `xml`, `json`) via [`Codec::extension`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::Protobuf => "protobuf",
            Self::Xml => "xml",
            Self::Json => "json",
        }
    }

    /// The file extension of the codec's golden vectors.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Protobuf => "pb",
            Self::Xml => "xml",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every code space's names and numbers, as pretty JSON: `{"AlertCode": {"cover_open": 3, ...}, ...}`,
/// plus the closed colour list (`Colour`) and the bits of `hrPrinterDetectedErrorState`
/// (`DetectedErrorsBit`).
///
/// Published as `docs/codes.json` for implementers in other languages; a test keeps the file
/// equal to this. Not part of the API.
#[doc(hidden)]
pub fn codes_json() -> String {
    use printfleet_schema::codes::*;
    use printfleet_schema::{Colour, DetectedErrors};
    use std::collections::BTreeMap;

    fn table<C: CodeSpace>() -> BTreeMap<String, u32> {
        C::KNOWN.iter().filter_map(|c| Some((c.name()?.to_owned(), c.code()))).collect()
    }
    let mut all: BTreeMap<&'static str, BTreeMap<String, u32>> = BTreeMap::new();
    all.insert("AccessoryStatus", table::<AccessoryStatus>());
    all.insert("AlertCode", table::<AlertCode>());
    all.insert("AlertGroup", table::<AlertGroup>());
    all.insert("AlertSeverity", table::<AlertSeverity>());
    all.insert("CartridgeStatus", table::<CartridgeStatus>());
    all.insert("ConsumableStatus", table::<ConsumableStatus>());
    all.insert("DeviceState", table::<DeviceState>());
    all.insert("EngineStatus", table::<EngineStatus>());
    all.insert("InputType", table::<InputType>());
    all.insert("JobSource", table::<JobSource>());
    all.insert("JobStatus", table::<JobStatus>());
    all.insert("MediaSourceStatus", table::<MediaSourceStatus>());
    all.insert("MeterCode", table::<MeterCode>());
    all.insert("PrintQuality", table::<PrintQuality>());
    all.insert("PrintheadStatus", table::<PrintheadStatus>());
    all.insert("PrinterState", table::<PrinterState>());
    all.insert("SupplyClass", table::<SupplyClass>());
    all.insert("SupplyType", table::<SupplyType>());
    all.insert("SupplyUnit", table::<SupplyUnit>());
    all.insert("TrainingLevel", table::<TrainingLevel>());
    all.insert("Colour", (1..).map_while(Colour::from_code).map(|c| (c.name().to_owned(), c.code())).collect());
    all.insert(
        "DetectedErrorsBit",
        (0..16u16)
            .filter_map(|bit| {
                DetectedErrors::from_bits(1 << bit).names().next().map(|n| (n.to_owned(), u32::from(bit)))
            })
            .collect(),
    );
    let mut text = serde_json::to_string_pretty(&all).unwrap_or_default();
    text.push('\n');
    text
}
