//! The XML encoding: one `<report>` element in the printfleet namespace, ready to travel as the
//! payload of an XMPP `<message/>` or `<iq/>` stanza (RFC 6120 §8.2.3, §11).
//!
//! * No XML declaration, DTD, processing instruction or comment is ever written, and the reader
//!   rejects them (RFC 6120 §11.1 forbids them in stanzas; DTDs also carry entity expansion and
//!   external-entity attacks, so refusing them outright closes that door).
//! * Every value is an attribute; elements hold only elements. The reader therefore accepts no
//!   character data but white space, and no entity reference outside attribute values.
//! * Names are the field names of the protobuf contract, in snake_case.
//! * Known codes are written as their names, unknown ones as numbers; both are accepted.
//! * Readers ignore unknown attributes and skip unknown elements of the printfleet namespace
//!   (later minor versions add them); elements of any other namespace are rejected.
//!
//! `docs/wire-format.md` describes it element by element and `docs/printfleet-telemetry-1.xsd`
//! is the schema, checked in CI against our output with `xmllint`.

mod read;
mod write;

use printfleet_schema::DeviceReport;

use crate::error::{Error, XmlError};
use crate::{Codec, limits::MAX_XML_BYTES};

/// The namespace of the payload element.
pub const NAMESPACE: &str = "urn:printfleet:telemetry:1";

/// Appends the XML encoding of `report` to `out`, after checking it with
/// [`DeviceReport::validate`].
pub fn encode(report: &DeviceReport, out: &mut Vec<u8>) -> Result<(), Error> {
    report.validate()?;
    write::report(&mut write::Writer::new(out), report);
    Ok(())
}

/// Decodes one `<report>` element (with optional surrounding white space), enforcing every limit,
/// and validates the result.
pub fn decode(input: &[u8]) -> Result<DeviceReport, Error> {
    if input.len() > MAX_XML_BYTES {
        return Err(Error::TooLarge { codec: Codec::Xml, len: input.len(), limit: MAX_XML_BYTES });
    }
    let text = core::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    let report = read::Reader::new(text).report()?;
    report.validate()?;
    Ok(report)
}
