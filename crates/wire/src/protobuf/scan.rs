//! A pass over untrusted protobuf bytes that enforces every limit before prost allocates.
//!
//! prost decodes repeated fields by pushing one element per occurrence, so a small input of
//! empty elements (two bytes each) can make it allocate hundreds of bytes per input byte. This
//! scan walks the wire format with a table of our messages ([`REPORT`]) and rejects any repeated
//! field over its limit and any string or bytes field over its length before decoding starts;
//! decoding then allocates at most what the limits allow. Unknown fields (from newer writers)
//! are skipped, as prost skips them. The table is checked against the `.proto` in the tests.
//!
//! The wire format is read with prost's own primitives (`decode_key`, `decode_varint`).

use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint};

use printfleet_schema::limits::{
    MAX_IP_ADDRESSES, MAX_JOBS, MAX_MEDIA_TYPES, MAX_METERS, MAX_NESTED, MAX_RECORDS, MAX_TEXT_BYTES,
};

use crate::error::ProtobufError;

/// How a field is encoded.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// A varint scalar (integers, bools, enums).
    Varint,
    /// A UTF-8 string of at most [`MAX_TEXT_BYTES`].
    Text,
    /// A bytes field of at most this many bytes.
    Bytes(usize),
    /// A nested message.
    Message(&'static Shape),
}

/// One field of a message.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) number: u32,
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Most occurrences: the list limit of a repeated field, 1 for a singular one. (Protobuf
    /// lets a singular field repeat, last value winning; prost then replaces or merges in place,
    /// which allocates nothing new, but there is no reason to accept it from our peers.)
    pub(crate) max: usize,
}

/// A message: its fields by number.
#[derive(Debug)]
pub(crate) struct Shape {
    /// The message name, as in the `.proto` (the tests match the table against it).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests that check the table against the .proto"))]
    pub(crate) name: &'static str,
    pub(crate) rules: &'static [Rule],
}

macro_rules! shape {
    ($name:ident = $text:literal { $($number:literal $field:literal $kind:expr, $max:expr;)* }) => {
        pub(crate) static $name: Shape = Shape {
            name: $text,
            rules: &[$(Rule { number: $number, name: concat!($text, ".", $field), kind: $kind, max: $max },)*],
        };
    };
}

use Kind::{Bytes, Message as Msg, Text, Varint};

const ONE: usize = 1;

shape!(REPORT = "DeviceReport" {
    1 "generated_at" Varint, ONE;
    2 "identity" Msg(&IDENTITY), ONE;
    3 "snapshot" Msg(&SNAPSHOT), ONE;
    4 "events" Msg(&EVENTS), ONE;
});
shape!(IDENTITY = "Identity" {
    1 "record_id" Varint, ONE;
    2 "make" Text, ONE;
    3 "model" Text, ONE;
    4 "serial_number" Text, ONE;
    5 "product_number" Text, ONE;
    6 "product_name" Text, ONE;
    7 "firmware_version" Text, ONE;
    8 "description" Text, ONE;
    9 "object_id" Text, ONE;
    10 "mac_address" Bytes(6), ONE;
    11 "hostname" Text, ONE;
    12 "ip_addresses" Bytes(16), MAX_IP_ADDRESSES;
    13 "location" Text, ONE;
    14 "zone" Text, ONE;
    15 "contact" Text, ONE;
});
shape!(SNAPSHOT = "Snapshot" {
    1 "status" Msg(&DEVICE_STATUS), ONE;
    2 "meters" Msg(&METER), MAX_METERS;
    3 "consumables" Msg(&CONSUMABLE), MAX_RECORDS;
    4 "alerts" Msg(&ALERT), MAX_RECORDS;
    5 "printheads" Msg(&PRINTHEAD), MAX_RECORDS;
    6 "cartridges" Msg(&INK_CARTRIDGE), MAX_RECORDS;
    7 "media_sources" Msg(&MEDIA_SOURCE), MAX_RECORDS;
    8 "media_types" Msg(&MEDIA_TYPE), MAX_MEDIA_TYPES;
    9 "settings" Msg(&SETTINGS), ONE;
    10 "accessories" Msg(&ACCESSORY), MAX_RECORDS;
    11 "usage" Msg(&USAGE), ONE;
});
shape!(DEVICE_STATUS = "DeviceStatus" {
    1 "engine" Varint, ONE;
    2 "device" Varint, ONE;
    3 "printer" Varint, ONE;
    4 "errors" Varint, ONE;
});
shape!(METER = "Meter" {
    1 "kind" Varint, ONE;
    2 "vendor" Text, ONE;
    3 "value" Varint, ONE;
});
shape!(COLOUR = "Colour" {
    1 "code" Varint, ONE;
    2 "name" Text, ONE;
});
shape!(CONSUMABLE = "Consumable" {
    1 "record_id" Varint, ONE;
    2 "kind" Varint, ONE;
    3 "class" Varint, ONE;
    4 "colour" Msg(&COLOUR), ONE;
    5 "description" Text, ONE;
    6 "part_number" Text, ONE;
    7 "serial_number" Text, ONE;
    8 "unit" Varint, ONE;
    9 "level" Varint, ONE;
    10 "capacity" Varint, ONE;
    11 "status" Varint, ONE;
    12 "page_count" Varint, ONE;
    13 "observed_at" Varint, ONE;
});
shape!(ALERT = "Alert" {
    1 "record_id" Varint, ONE;
    2 "description" Text, ONE;
    3 "code" Varint, ONE;
    4 "vendor_code" Text, ONE;
    5 "group" Varint, ONE;
    6 "group_index" Varint, ONE;
    7 "location" Varint, ONE;
    8 "severity" Varint, ONE;
    9 "training_level" Varint, ONE;
    10 "page_count" Varint, ONE;
    11 "raised_at" Varint, ONE;
});
shape!(PRINTHEAD = "Printhead" {
    1 "record_id" Varint, ONE;
    2 "colours" Msg(&COLOUR), MAX_NESTED;
    3 "status" Varint, ONE;
    4 "health" Varint, ONE;
    5 "product_number" Text, ONE;
    6 "product_name" Text, ONE;
    7 "serial_number" Text, ONE;
    8 "third_party_ink_used" Varint, ONE;
    9 "expires_at" Varint, ONE;
});
shape!(INK_CARTRIDGE = "InkCartridge" {
    1 "record_id" Varint, ONE;
    2 "colour" Msg(&COLOUR), ONE;
    3 "status" Varint, ONE;
    4 "product_number" Text, ONE;
    5 "product_name" Text, ONE;
    6 "serial_number" Text, ONE;
    7 "manufacturer" Text, ONE;
    8 "capacity" Varint, ONE;
    9 "ink_consumed" Varint, ONE;
    10 "third_party_ink_consumed" Varint, ONE;
    11 "expires_at" Varint, ONE;
});
shape!(MEDIA_SOURCE = "MediaSource" {
    1 "record_id" Varint, ONE;
    2 "kind" Varint, ONE;
    3 "name" Text, ONE;
    4 "status" Varint, ONE;
    5 "media_type" Text, ONE;
    6 "width" Varint, ONE;
    7 "height" Varint, ONE;
});
shape!(MAP_ENTRY = "MapEntry" {
    1 "key" Text, ONE;
    2 "value" Text, ONE;
});
shape!(MEDIA_TYPE = "MediaType" {
    1 "id" Text, ONE;
    2 "names" Msg(&MAP_ENTRY), MAX_NESTED;
});
shape!(SETTINGS = "Settings" {
    1 "job_category_thresholds" Msg(&JOB_CATEGORY_THRESHOLD), MAX_NESTED;
    2 "print_categories" Msg(&PRINT_CATEGORY), MAX_NESTED;
});
shape!(JOB_CATEGORY_THRESHOLD = "JobCategoryThreshold" {
    1 "category" Text, ONE;
    2 "max_coverage" Varint, ONE;
});
shape!(PRINT_CATEGORY = "PrintCategory" {
    1 "category" Text, ONE;
    2 "name" Text, ONE;
    3 "enabled" Varint, ONE;
    4 "settings" Msg(&MAP_ENTRY), MAX_NESTED;
});
shape!(ACCESSORY = "Accessory" {
    1 "record_id" Varint, ONE;
    2 "name" Text, ONE;
    3 "status" Varint, ONE;
    4 "product_number" Text, ONE;
    5 "serial_number" Text, ONE;
    6 "firmware_version" Text, ONE;
});
shape!(USAGE = "Usage" {
    1 "cartridge_types" Msg(&CARTRIDGE_TYPE_USAGE), MAX_NESTED;
    2 "media_types" Msg(&MEDIA_TYPE_USAGE), MAX_NESTED;
    3 "scanned_area_total" Varint, ONE;
    4 "scanned_area_scans" Varint, ONE;
    5 "scanned_area_copies" Varint, ONE;
    6 "application_categories" Msg(&APPLICATION_CATEGORY_USAGE), MAX_NESTED;
    7 "jobs" Varint, ONE;
    8 "pages" Varint, ONE;
    9 "ink_total" Varint, ONE;
    10 "media_total" Varint, ONE;
});
shape!(CARTRIDGE_TYPE_USAGE = "CartridgeTypeUsage" {
    1 "product_number" Text, ONE;
    2 "ink_total" Varint, ONE;
    3 "ink_third_party" Varint, ONE;
    4 "ink_oem" Varint, ONE;
    5 "insertions" Varint, ONE;
});
shape!(MEDIA_TYPE_USAGE = "MediaTypeUsage" {
    1 "media_type" Text, ONE;
    2 "area" Varint, ONE;
});
shape!(APPLICATION_CATEGORY_USAGE = "ApplicationCategoryUsage" {
    1 "category" Text, ONE;
    2 "media_area" Varint, ONE;
    3 "media_length" Varint, ONE;
});
shape!(EVENTS = "Events" {
    1 "print_jobs" Msg(&PRINT_JOB), MAX_JOBS;
    2 "scan_jobs" Msg(&SCAN_JOB), MAX_JOBS;
    3 "copy_jobs" Msg(&COPY_JOB), MAX_JOBS;
});
shape!(JOB_HEADER = "JobHeader" {
    1 "name" Text, ONE;
    2 "uuid" Bytes(16), ONE;
    3 "sequence" Varint, ONE;
    4 "submitter" Msg(&SUBMITTER), ONE;
});
shape!(SUBMITTER = "Submitter" {
    1 "project_id" Text, ONE;
    2 "application_id" Text, ONE;
    3 "user_defined" Text, ONE;
    4 "account_id" Text, ONE;
    5 "user_name" Text, ONE;
    6 "submitted_at" Varint, ONE;
});
shape!(PRINT_DETAILS = "PrintDetails" {
    1 "printed_at" Varint, ONE;
    2 "status" Varint, ONE;
    3 "source" Varint, ONE;
    4 "ink_coverage_category" Text, ONE;
    5 "quality" Varint, ONE;
    6 "pages" Varint, ONE;
    7 "copies" Varint, ONE;
    8 "print_time" Varint, ONE;
    9 "ink" Msg(&INK_USE), MAX_NESTED;
    10 "media_area" Varint, ONE;
    11 "printed_area" Varint, ONE;
    12 "application_categories" Msg(&JOB_CATEGORY_USAGE), MAX_NESTED;
    13 "non_white_coverage" Varint, ONE;
    14 "colour_coverage" Varint, ONE;
});
shape!(INK_USE = "InkUse" {
    1 "colour" Msg(&COLOUR), ONE;
    2 "volume" Varint, ONE;
});
shape!(JOB_CATEGORY_USAGE = "JobCategoryUsage" {
    1 "category" Text, ONE;
    2 "media_area" Varint, ONE;
    3 "printed_area" Varint, ONE;
    4 "ink" Varint, ONE;
    5 "media_length" Varint, ONE;
});
shape!(SCAN_DETAILS = "ScanDetails" {
    1 "scanned_at" Varint, ONE;
    2 "status" Varint, ONE;
    3 "scanned_area" Varint, ONE;
});
shape!(PRINT_JOB = "PrintJob" {
    1 "job" Msg(&JOB_HEADER), ONE;
    2 "print" Msg(&PRINT_DETAILS), ONE;
});
shape!(SCAN_JOB = "ScanJob" {
    1 "job" Msg(&JOB_HEADER), ONE;
    2 "scan" Msg(&SCAN_DETAILS), ONE;
});
shape!(COPY_JOB = "CopyJob" {
    1 "job" Msg(&JOB_HEADER), ONE;
    2 "scan" Msg(&SCAN_DETAILS), ONE;
    3 "print" Msg(&PRINT_DETAILS), ONE;
});

/// Most fields a message may repeat are counted in a small fixed array; no message of ours has
/// more than this many fields.
const MAX_FIELDS: usize = 16;

fn malformed(description: &'static str) -> ProtobufError {
    ProtobufError::Structure(description)
}

/// Checks `buf` as an encoding of `shape` against every limit.
pub(crate) fn scan(shape: &'static Shape, mut buf: &[u8]) -> Result<(), ProtobufError> {
    let mut counts = [0usize; MAX_FIELDS];
    while buf.has_remaining() {
        let (number, wire_type) = decode_key(&mut buf).map_err(ProtobufError::Malformed)?;
        let found = shape.rules.iter().enumerate().find(|(_, r)| r.number == number);
        let Some((index, rule)) = found else {
            skip(wire_type, &mut buf)?;
            continue;
        };
        let count = counts.get_mut(index).ok_or_else(|| malformed("field table too large"))?;
        *count = count.saturating_add(1);
        if *count > rule.max {
            return Err(ProtobufError::TooMany { field: rule.name, limit: rule.max });
        }
        match (rule.kind, wire_type) {
            (Varint, WireType::Varint) => {
                decode_varint(&mut buf).map_err(ProtobufError::Malformed)?;
            }
            (Text | Bytes(_) | Msg(_), WireType::LengthDelimited) => {
                let body = take_length_delimited(&mut buf)?;
                match rule.kind {
                    Text if body.len() > MAX_TEXT_BYTES => {
                        return Err(ProtobufError::TooLong {
                            field: rule.name,
                            len: body.len(),
                            limit: MAX_TEXT_BYTES,
                        });
                    }
                    Bytes(max) if body.len() > max => {
                        return Err(ProtobufError::TooLong { field: rule.name, len: body.len(), limit: max });
                    }
                    Msg(inner) => scan(inner, body)?,
                    _ => {}
                }
            }
            _ => return Err(malformed("wire type does not match the field")),
        }
    }
    Ok(())
}

fn take_length_delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], ProtobufError> {
    let len = decode_varint(buf).map_err(ProtobufError::Malformed)?;
    let len = usize::try_from(len).map_err(|_| malformed("length out of range"))?;
    let (body, rest) = buf.split_at_checked(len).ok_or_else(|| malformed("length past the end"))?;
    *buf = rest;
    Ok(body)
}

fn skip(wire_type: WireType, buf: &mut &[u8]) -> Result<(), ProtobufError> {
    let width = match wire_type {
        WireType::Varint => {
            decode_varint(buf).map_err(ProtobufError::Malformed)?;
            return Ok(());
        }
        WireType::LengthDelimited => {
            take_length_delimited(buf)?;
            return Ok(());
        }
        WireType::SixtyFourBit => 8,
        WireType::ThirtyTwoBit => 4,
        // Groups are deprecated and never part of this contract.
        WireType::StartGroup | WireType::EndGroup => return Err(malformed("groups are not supported")),
    };
    let rest = buf.get(width..).ok_or_else(|| malformed("fixed-width field past the end"))?;
    *buf = rest;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use prost::Message as _;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{DescriptorProto, FileDescriptorSet};

    use super::*;

    /// The descriptor set protox compiled from the `.proto` (written by build.rs).
    const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/telemetry.fds"));

    fn shapes(shape: &'static Shape, out: &mut BTreeMap<&'static str, &'static Shape>) {
        if out.insert(shape.name, shape).is_none() {
            for rule in shape.rules {
                if let Msg(inner) = rule.kind {
                    shapes(inner, out);
                }
            }
        }
    }

    fn check(message: &DescriptorProto, shape: &Shape) {
        let name = message.name();
        assert_eq!(message.field.len(), shape.rules.len(), "{name}: field count");
        assert!(shape.rules.len() <= MAX_FIELDS, "{name}: more fields than the scan counts");
        for field in &message.field {
            let rule = shape
                .rules
                .iter()
                .find(|r| r.number == u32::try_from(field.number()).unwrap())
                .unwrap_or_else(|| panic!("{name}.{}: not in the scan table", field.name()));
            assert!(rule.name.ends_with(&format!(".{}", field.name())), "{}: named {}", rule.name, field.name());
            let repeated = field.label() == Label::Repeated;
            assert_eq!(repeated, rule.max > 1, "{}: repeated in the .proto but not limited, or the reverse", rule.name);
            match (field.r#type(), rule.kind) {
                (Type::String, Text) | (Type::Bytes, Bytes(_)) => {}
                (Type::Message, Msg(inner)) => {
                    let type_name = field.type_name().rsplit('.').next().unwrap();
                    let expected = if type_name.ends_with("Entry") { "MapEntry" } else { type_name };
                    assert_eq!(inner.name, expected, "{}", rule.name);
                }
                (Type::Uint32 | Type::Uint64 | Type::Sint64 | Type::Bool, Varint) => {}
                (t, k) => panic!("{}: .proto type {t:?}, table kind {k:?}", rule.name),
            }
        }
    }

    #[test]
    fn scan_table_matches_the_proto() {
        let set = FileDescriptorSet::decode(DESCRIPTORS).unwrap();
        let file = set.file.iter().find(|f| f.package() == "printfleet.v1").unwrap();
        let mut table = BTreeMap::new();
        shapes(&REPORT, &mut table);
        let mut seen = 0;
        for message in &file.message_type {
            let shape =
                table.get(message.name()).unwrap_or_else(|| panic!("{} is not reachable in the table", message.name()));
            check(message, shape);
            seen += 1;
            for entry in &message.nested_type {
                check(entry, &MAP_ENTRY);
            }
        }
        // Every shape but the shared map entry is a message of the file.
        assert_eq!(seen + 1, table.len());
    }

    #[test]
    fn scan_accepts_every_sample() {
        for (name, report) in printfleet_schema::samples::all() {
            let bytes = crate::pb::DeviceReport::from(&report).encode_to_vec();
            assert!(scan(&REPORT, &bytes).is_ok(), "{name}");
        }
    }
}
