//! The crate's error type and its nested decode failures.

use crate::Codec;

/// Why encoding or decoding failed.
///
/// Decoders never panic and never allocate past the limits in [`crate::limits`] and
/// [`printfleet_schema::limits`]; whatever the bytes, the outcome is a report that passes
/// [`DeviceReport::validate`](printfleet_schema::DeviceReport::validate) or one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The report breaks a rule of the schema (a limit, a duplicate id, ...). Encoders check
    /// before writing, decoders after reading, so no codec ever emits or accepts such a report.
    #[error("invalid report: {0}")]
    Invalid(#[from] printfleet_schema::Error),
    /// The input is larger than the codec accepts.
    #[error("{codec} input is {len} bytes, limit {limit}")]
    TooLarge {
        /// The codec.
        codec: Codec,
        /// The input's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Malformed or out-of-contract protobuf.
    #[error("protobuf: {0}")]
    Protobuf(#[from] ProtobufError),
    /// Malformed or out-of-contract XML.
    #[error("xml: {0}")]
    Xml(#[from] XmlError),
    /// An update's delta names a base that is not an earlier update.
    #[error("update {sequence}: base {base} is not an earlier update")]
    BaseNotEarlier {
        /// The base's sequence number.
        base: u64,
        /// The update's.
        sequence: u64,
    },
    /// Malformed or out-of-contract JSON.
    #[error("json: {0}")]
    Json(#[source] serde_json::Error),
}

/// A protobuf decoding failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtobufError {
    /// Not valid protobuf wire format (or a field of the wrong wire type).
    #[error("malformed: {0}")]
    Malformed(#[source] prost::DecodeError),
    /// Not valid protobuf wire format, as found by the limit scan before decoding.
    #[error("malformed: {0}")]
    Structure(&'static str),
    /// A repeated field has more entries than its limit.
    #[error("{field} has more than {limit} entries")]
    TooMany {
        /// `Message.field`.
        field: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A field that is not `repeated` appears more than once.
    #[error("field {number} of {message} appears more than once")]
    Repeated {
        /// The message.
        message: &'static str,
        /// The field number.
        number: u32,
    },
    /// A field arrived with a wire type its declaration does not allow.
    #[error("{field} has the wrong wire type")]
    WireType {
        /// `Message.field`.
        field: &'static str,
    },
    /// A string or bytes field is longer than its limit.
    #[error("{field} is {len} bytes, limit {limit}")]
    TooLong {
        /// `Message.field`.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A bytes field has a length its type does not allow (a MAC address must be 6 octets).
    #[error("{field} is {len} bytes, expected {expected}")]
    BadLength {
        /// `Message.field`.
        field: &'static str,
        /// Its length.
        len: usize,
        /// What it must be.
        expected: &'static str,
    },
    /// A value outside its type's range (a timestamp after 9999, 10 001 basis points, ...).
    #[error("{field} is out of range: {value}")]
    OutOfRange {
        /// `Message.field`.
        field: &'static str,
        /// The value.
        value: i128,
    },
    /// A required field is absent, or a pair of alternatives has neither or both set.
    #[error("{field} is missing or ambiguous")]
    Missing {
        /// `Message.field`.
        field: &'static str,
    },
    /// A field's value is not acceptable for its type (an unknown colour code, a vendor meter
    /// name with a space, text with a control character).
    #[error("{field} has an unacceptable value")]
    BadValue {
        /// `Message.field`.
        field: &'static str,
    },
}

/// An XML decoding failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed XML.
    #[error("not well-formed at byte {position}: {source}")]
    Syntax {
        /// Byte offset of the problem.
        position: u64,
        /// What the parser said.
        #[source]
        source: quick_xml::Error,
    },
    /// The input is not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// A construct the payload must not contain (RFC 6120 §11.1 and our limits): an XML
    /// declaration, a DTD or entity declaration, a processing instruction, a comment, CDATA, an
    /// entity reference other than the predefined ones and character references, or character
    /// data where only elements may appear.
    #[error("forbidden construct: {0}")]
    Forbidden(&'static str),
    /// The root element is not the one expected (`report`, `update` or `reply`) in the printfleet
    /// namespace.
    #[error("root element is not the expected printfleet element")]
    WrongRoot,
    /// The input ended inside an element.
    #[error("input ends inside an element")]
    Truncated,
    /// An element in a namespace other than printfleet's, where the spec rejects it.
    #[error("element in a foreign namespace inside {parent}")]
    ForeignElement {
        /// The enclosing element.
        parent: &'static str,
    },
    /// Elements nested deeper than [`MAX_XML_DEPTH`](crate::limits::MAX_XML_DEPTH).
    #[error("nesting deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More child elements of one kind than the schema allows.
    #[error("more than {limit} <{element}> elements")]
    TooMany {
        /// The element.
        element: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A required attribute is missing.
    #[error("<{element}> lacks attribute {attribute}")]
    MissingAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// An attribute value that does not parse as its type, is too long, or repeats a key.
    #[error("<{element}> has a bad value for {attribute}")]
    BadValue {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: String,
    },
    /// A required child element is missing.
    #[error("<{element}> lacks child <{child}>")]
    MissingElement {
        /// The element.
        element: &'static str,
        /// The missing child.
        child: &'static str,
    },
}

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Self::Protobuf(ProtobufError::Malformed(e))
    }
}
