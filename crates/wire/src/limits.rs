//! Named limits of the codecs. The limits on a report's content (list lengths, text sizes) are in
//! [`printfleet_schema::limits`]; these bound the encodings themselves.
//!
//! A report at every content limit with maximal texts is far larger than any real one; real
//! reports are a few kilobytes (office devices) to a few hundred (large-format printers with a
//! backlog of jobs; Partner Link quotes "less than 100 KB" compressed).

/// Largest protobuf input accepted, in bytes: 40 times Partner Link's "less than 100 KB".
pub const MAX_PROTOBUF_BYTES: usize = 4 << 20;

/// Most entries in one bundle (`docs/wire-format.md` §5.9), and answers in one bundle reply: a
/// collector of more devices sends several bundles.
pub const MAX_BUNDLE_ENTRIES: usize = 1024;

/// Largest XML input accepted, in bytes (XML runs about three times protobuf's size).
pub const MAX_XML_BYTES: usize = 12 << 20;

/// Largest JSON input accepted, in bytes (JSON runs about three times protobuf's size).
pub const MAX_JSON_BYTES: usize = 12 << 20;

/// Deepest element nesting the XML reader descends into. The format nests at most five deep
/// (`report/events/print_job/print/ink`); the rest is room for extensions of later versions.
pub const MAX_XML_DEPTH: usize = 8;

/// Longest raw (escaped) attribute value, in bytes: an escaped character takes at most 10 bytes
/// (`&#x10FFFF;`) for 4 of UTF-8, `&amp;` 5 for 1, so 8 times the text limit covers any valid
/// value while a hostile one is refused before it is unescaped.
pub const MAX_XML_ATTRIBUTE_BYTES: usize = 8 * printfleet_schema::limits::MAX_TEXT_BYTES;

/// Most attributes one XML element may carry (a report's largest element has 15; the rest is room
/// for attributes of later versions, which an older reader skips).
pub const MAX_XML_ATTRIBUTES: usize = 64;
