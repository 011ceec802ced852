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

mod attrs;
mod delta;
mod read;
mod write;

use printfleet_schema::DeviceReport;

use crate::delta::{Reply, Update};

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
    let report = read::Reader::new(text(input)?).report()?;
    report.validate()?;
    Ok(report)
}

/// Appends the XML encoding of `update` (one `<update>` element) to `out`, after checking it
/// with [`Update::validate`].
///
/// ```
/// use printfleet_wire::delta::{BaseRef, Instance, StateHash, Update, UpdateBody};
/// use printfleet_wire::xml;
///
/// let base = BaseRef { sequence: 6, hash: StateHash(0x1a2b_3c4d) };
/// let body = UpdateBody::Delta { base, delta: Box::default() };
/// let update = Update { instance: Instance(0x5eed_0001), sequence: 7, body, events: Vec::new() };
/// let mut out = Vec::new();
/// xml::encode_update(&update, &mut out)?;
/// assert_eq!(
///     out,
///     br#"<update xmlns="urn:printfleet:telemetry:1" sequence="7" instance="5eed0001"><delta base_sequence="6" base_hash="1a2b3c4d"/></update>"#
/// );
/// assert_eq!(xml::decode_update(&out)?, update);
/// # Ok::<(), printfleet_wire::Error>(())
/// ```
pub fn encode_update(update: &Update, out: &mut Vec<u8>) -> Result<(), Error> {
    update.validate()?;
    delta::write_update(&mut write::Writer::new(out), update);
    Ok(())
}

/// Decodes one `<update>` element, enforcing every limit, and validates the result with
/// [`Update::validate`].
pub fn decode_update(input: &[u8]) -> Result<Update, Error> {
    let update = delta::read_update(read::Reader::new(text(input)?))?;
    update.validate()?;
    Ok(update)
}

/// Appends the XML encoding of `reply` (one `<reply>` element) to `out`.
pub fn encode_reply(reply: &Reply, out: &mut Vec<u8>) -> Result<(), Error> {
    delta::write_reply(&mut write::Writer::new(out), reply);
    Ok(())
}

/// Decodes one `<reply>` element.
pub fn decode_reply(input: &[u8]) -> Result<Reply, Error> {
    Ok(delta::read_reply(read::Reader::new(text(input)?))?)
}

/// The input as text, after the size check.
fn text(input: &[u8]) -> Result<&str, Error> {
    if input.len() > MAX_XML_BYTES {
        return Err(Error::TooLarge { codec: Codec::Xml, len: input.len(), limit: MAX_XML_BYTES });
    }
    Ok(core::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?)
}
