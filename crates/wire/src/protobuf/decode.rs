//! Protobuf decoding straight into the schema types.
//!
//! prost would decode into its generated messages, which we would then convert; decoding
//! directly halves the cost (see `benches/`) and lets every limit be checked before the element
//! it bounds is allocated, in the same pass. The wire format is read with prost's own primitives
//! (`decode_key`, `decode_varint`); what this module adds is the mapping of field numbers to
//! schema fields, which the tests check against prost's generated encoder for arbitrary reports.
//!
//! Rules beyond the wire format (docs/wire-format.md, "Protobuf"):
//! * a field that is not `repeated` appears at most once (protobuf would let the last one win);
//! * `uint32` fields hold at most `u32::MAX` (protobuf would truncate);
//! * unknown fields of any wire type but the deprecated groups are skipped;
//! * text is UTF-8 of at most `MAX_TEXT_BYTES` bytes; lists are within their limits.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use printfleet_schema::codes::{CodeSpace, MeterCode};
use printfleet_schema::limits::{
    MAX_IP_ADDRESSES, MAX_JOBS, MAX_MEDIA_TYPES, MAX_METERS, MAX_NESTED, MAX_RECORDS, MAX_TEXT_BYTES,
};
use printfleet_schema::{
    Accessory, Alert, ApplicationCategoryUsage, AreaMm2, BasisPoints, Capacity, CartridgeTypeUsage, Colour, Consumable,
    CopyJob, DetectedErrors, DeviceReport, DeviceStatus, DurationMs, Events, Identity, InkCartridge, InkNl, InkUse,
    JobCategoryThreshold, JobCategoryUsage, JobHeader, LengthUm, Level, MacAddress, MediaSource, MediaType,
    MediaTypeUsage, MeterKind, Meters, PageCount, PrintCategory, PrintDetails, PrintJob, Printhead, RecordId,
    ScanDetails, ScanJob, Settings, Snapshot, Submitter, Timestamp, Usage, VendorMeter,
};
use prost::encoding::{WireType, decode_key};

use crate::error::ProtobufError;

pub(super) type Result<T> = core::result::Result<T, ProtobufError>;

/// prost's varint decoder, with the one-byte case (most keys and small values) inlined.
#[inline(always)]
pub(super) fn decode_varint(buf: &mut &[u8]) -> core::result::Result<u64, prost::DecodeError> {
    if let Some((&byte, rest)) = buf.split_first()
        && byte < 0x80
    {
        *buf = rest;
        return Ok(u64::from(byte));
    }
    prost::encoding::decode_varint(buf)
}

/// One field as read from the wire.
pub(super) enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Reads the fields of one message, calling `on(number, value)` for each field of a wire type
/// some field of ours has (varint, length-delimited, fixed32) and skipping fixed64 ones (no field
/// of ours has that type, so they are unknown fields).
/// `singular` has bit *n* set for each field number *n* that may appear only once.
pub(super) fn fields<'a>(
    mut buf: &'a [u8],
    message: &'static str,
    singular: u32,
    mut on: impl FnMut(u32, Value<'a>) -> Result<()>,
) -> Result<()> {
    let mut seen = 0u32;
    while !buf.is_empty() {
        let (number, wire_type) = match buf.split_first() {
            // One-byte key: field numbers 1 to 15 (all of ours).
            Some((&key, rest)) if (0x08..0x80).contains(&key) => {
                buf = rest;
                let wire_type = WireType::try_from(u64::from(key & 0x07)).map_err(ProtobufError::Malformed)?;
                (u32::from(key >> 3), wire_type)
            }
            _ => decode_key(&mut buf).map_err(ProtobufError::Malformed)?,
        };
        let bit = 1u32.checked_shl(number).unwrap_or(0);
        if singular & bit != 0 {
            if seen & bit != 0 {
                return Err(ProtobufError::Repeated { message, number });
            }
            seen |= bit;
        }
        match wire_type {
            WireType::Varint => on(number, Value::Varint(decode_varint(&mut buf).map_err(ProtobufError::Malformed)?))?,
            WireType::LengthDelimited => {
                let len = decode_varint(&mut buf).map_err(ProtobufError::Malformed)?;
                let len = usize::try_from(len).map_err(|_| ProtobufError::Structure("length out of range"))?;
                let (body, rest) = buf.split_at_checked(len).ok_or(ProtobufError::Structure("length past the end"))?;
                buf = rest;
                on(number, Value::Bytes(body))?;
            }
            WireType::SixtyFourBit => buf = buf.get(8..).ok_or(ProtobufError::Structure("fixed64 past the end"))?,
            WireType::ThirtyTwoBit => {
                let (word, rest) =
                    buf.split_first_chunk::<4>().ok_or(ProtobufError::Structure("fixed32 past the end"))?;
                buf = rest;
                on(number, Value::Fixed32(u32::from_le_bytes(*word)))?;
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err(ProtobufError::Structure("groups are not supported"));
            }
        }
    }
    Ok(())
}

/// The mask for [`fields`] of a message whose fields are numbered 1 to `max`, of which
/// `repeated` are repeated. Unknown fields (above `max`) may repeat: a newer writer's field may be
/// a list.
pub(super) fn singular(max: u32, repeated: &[u32]) -> u32 {
    let all = 1u32.checked_shl(max.saturating_add(1)).map_or(u32::MAX, |bit| bit.wrapping_sub(1)) & !1;
    repeated.iter().fold(all, |mask, n| mask & !1u32.checked_shl(*n).unwrap_or(0))
}

impl<'a> Value<'a> {
    pub(super) fn varint(&self, field: &'static str) -> Result<u64> {
        match self {
            Self::Varint(v) => Ok(*v),
            Self::Bytes(_) | Self::Fixed32(_) => Err(ProtobufError::WireType { field }),
        }
    }

    pub(super) fn bytes(&self, field: &'static str) -> Result<&'a [u8]> {
        match self {
            Self::Bytes(b) => Ok(b),
            Self::Varint(_) | Self::Fixed32(_) => Err(ProtobufError::WireType { field }),
        }
    }

    pub(super) fn fixed32(&self, field: &'static str) -> Result<u32> {
        match self {
            Self::Fixed32(v) => Ok(*v),
            Self::Varint(_) | Self::Bytes(_) => Err(ProtobufError::WireType { field }),
        }
    }

    pub(super) fn u32(&self, field: &'static str) -> Result<u32> {
        let v = self.varint(field)?;
        u32::try_from(v).map_err(|_| ProtobufError::OutOfRange { field, value: i128::from(v) })
    }

    pub(super) fn code<C: CodeSpace>(&self, field: &'static str) -> Result<C> {
        self.u32(field).map(C::from_code)
    }

    pub(super) fn bool(&self, field: &'static str) -> Result<bool> {
        self.varint(field).map(|v| v != 0)
    }

    pub(super) fn sint64(&self, field: &'static str) -> Result<i64> {
        self.varint(field).map(zigzag)
    }

    pub(super) fn time(&self, field: &'static str) -> Result<Timestamp> {
        let ms = self.varint(field)?;
        Timestamp::from_unix_millis(ms).map_err(|_| ProtobufError::OutOfRange { field, value: i128::from(ms) })
    }

    pub(super) fn basis_points(&self, field: &'static str) -> Result<BasisPoints> {
        let v = self.varint(field)?;
        u16::try_from(v)
            .ok()
            .and_then(|v| BasisPoints::new(v).ok())
            .ok_or(ProtobufError::OutOfRange { field, value: i128::from(v) })
    }

    pub(super) fn text(&self, field: &'static str) -> Result<String> {
        let bytes = self.bytes(field)?;
        if bytes.len() > MAX_TEXT_BYTES {
            return Err(ProtobufError::TooLong { field, len: bytes.len(), limit: MAX_TEXT_BYTES });
        }
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| ProtobufError::BadValue { field })
    }
}

/// ZigZag decoding (protobuf encoding guide, "Signed Integers"): `sint64` fields, packed or not.
pub(super) fn zigzag(n: u64) -> i64 {
    #[allow(clippy::cast_possible_wrap)]
    let half = (n >> 1) as i64;
    if n & 1 == 0 { half } else { !half }
}

pub(super) fn check_room<T>(list: &[T], field: &'static str, limit: usize) -> Result<()> {
    if list.len() >= limit { Err(ProtobufError::TooMany { field, limit }) } else { Ok(()) }
}

fn map_entry(body: &[u8], field: &'static str, map: &mut BTreeMap<String, String>) -> Result<()> {
    if map.len() >= MAX_NESTED {
        return Err(ProtobufError::TooMany { field, limit: MAX_NESTED });
    }
    let (mut key, mut value) = (String::new(), String::new());
    fields(body, field, singular(2, &[]), |n, v| {
        match n {
            1 => key = v.text(field)?,
            2 => value = v.text(field)?,
            _ => {}
        }
        Ok(())
    })?;
    if map.insert(key, value).is_some() {
        return Err(ProtobufError::BadValue { field });
    }
    Ok(())
}

fn colour(body: &[u8], field: &'static str) -> Result<Colour> {
    let (mut code, mut name) = (0u32, None);
    fields(body, "Colour", singular(2, &[]), |n, v| {
        match n {
            1 => code = v.u32("Colour.code")?,
            2 => name = Some(v.bytes("Colour.name")?),
            _ => {}
        }
        Ok(())
    })?;
    match (code, name.filter(|n| !n.is_empty())) {
        (0, Some(name)) => {
            if name.len() > MAX_TEXT_BYTES {
                return Err(ProtobufError::TooLong { field, len: name.len(), limit: MAX_TEXT_BYTES });
            }
            std::str::from_utf8(name).map(Colour::parse).map_err(|_| ProtobufError::BadValue { field })
        }
        (code, None) if code != 0 => Colour::from_code(code).ok_or(ProtobufError::BadValue { field }),
        _ => Err(ProtobufError::Missing { field }),
    }
}

/// Decodes a `DeviceReport` (limits enforced, validation left to the caller).
pub(crate) fn report(buf: &[u8]) -> Result<DeviceReport> {
    let mut r = DeviceReport { generated_at: Timestamp::UNIX_EPOCH, ..wire_default_report() };
    fields(buf, "DeviceReport", singular(4, &[]), |n, v| {
        match n {
            1 => r.generated_at = v.time("DeviceReport.generated_at")?,
            2 => r.identity = identity(v.bytes("DeviceReport.identity")?)?,
            3 => r.snapshot = snapshot(v.bytes("DeviceReport.snapshot")?)?,
            4 => r.events = events(v.bytes("DeviceReport.events")?)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

/// What an empty message decodes to: proto3 zero values, which for our code spaces are code 0
/// ("not reported"), not the schema's `Default` (which is `UNKNOWN`).
fn wire_default_report() -> DeviceReport {
    DeviceReport {
        snapshot: Snapshot { status: wire_default_status(), ..Snapshot::default() },
        ..DeviceReport::default()
    }
}

pub(super) fn wire_default_status() -> DeviceStatus {
    DeviceStatus {
        engine: CodeSpace::from_code(0),
        device: CodeSpace::from_code(0),
        printer: CodeSpace::from_code(0),
        errors: DetectedErrors::NONE,
    }
}

pub(super) fn identity(buf: &[u8]) -> Result<Identity> {
    let mut i = Identity::default();
    fields(buf, "Identity", singular(15, &[12]), |n, v| {
        match n {
            1 => i.record_id = RecordId(v.varint("Identity.record_id")?),
            2 => i.make = Some(v.text("Identity.make")?),
            3 => i.model = Some(v.text("Identity.model")?),
            4 => i.serial_number = Some(v.text("Identity.serial_number")?),
            5 => i.product_number = Some(v.text("Identity.product_number")?),
            6 => i.product_name = Some(v.text("Identity.product_name")?),
            7 => i.firmware_version = Some(v.text("Identity.firmware_version")?),
            8 => i.description = Some(v.text("Identity.description")?),
            9 => i.object_id = Some(v.text("Identity.object_id")?),
            10 => {
                let b = v.bytes("Identity.mac_address")?;
                i.mac_address = match b.len() {
                    0 => None,
                    _ => Some(MacAddress::new(<[u8; 6]>::try_from(b).map_err(|_| ProtobufError::BadLength {
                        field: "Identity.mac_address",
                        len: b.len(),
                        expected: "0 or 6",
                    })?)),
                };
            }
            11 => i.hostname = Some(v.text("Identity.hostname")?),
            12 => {
                check_room(&i.ip_addresses, "Identity.ip_addresses", MAX_IP_ADDRESSES)?;
                let b = v.bytes("Identity.ip_addresses")?;
                let ip = if let Ok(v4) = <[u8; 4]>::try_from(b) {
                    IpAddr::V4(Ipv4Addr::from(v4))
                } else {
                    IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).map_err(|_| ProtobufError::BadLength {
                        field: "Identity.ip_addresses",
                        len: b.len(),
                        expected: "4 or 16",
                    })?))
                };
                i.ip_addresses.push(ip);
            }
            13 => i.location = Some(v.text("Identity.location")?),
            14 => i.zone = Some(v.text("Identity.zone")?),
            15 => i.contact = Some(v.text("Identity.contact")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(i)
}

pub(super) fn snapshot(buf: &[u8]) -> Result<Snapshot> {
    let mut s = Snapshot { status: wire_default_status(), ..Snapshot::default() };
    fields(buf, "Snapshot", singular(11, &[2, 3, 4, 5, 6, 7, 8, 10]), |n, v| {
        match n {
            1 => s.status = status(v.bytes("Snapshot.status")?)?,
            2 => {
                if s.meters.len() >= MAX_METERS {
                    return Err(ProtobufError::TooMany { field: "Snapshot.meters", limit: MAX_METERS });
                }
                meter(v.bytes("Snapshot.meters")?, &mut s.meters)?;
            }
            3 => {
                check_room(&s.consumables, "Snapshot.consumables", MAX_RECORDS)?;
                s.consumables.push(consumable(v.bytes("Snapshot.consumables")?)?);
            }
            4 => {
                check_room(&s.alerts, "Snapshot.alerts", MAX_RECORDS)?;
                s.alerts.push(alert(v.bytes("Snapshot.alerts")?)?);
            }
            5 => {
                check_room(&s.printheads, "Snapshot.printheads", MAX_RECORDS)?;
                s.printheads.push(printhead(v.bytes("Snapshot.printheads")?)?);
            }
            6 => {
                check_room(&s.cartridges, "Snapshot.cartridges", MAX_RECORDS)?;
                s.cartridges.push(cartridge(v.bytes("Snapshot.cartridges")?)?);
            }
            7 => {
                check_room(&s.media_sources, "Snapshot.media_sources", MAX_RECORDS)?;
                s.media_sources.push(media_source(v.bytes("Snapshot.media_sources")?)?);
            }
            8 => {
                check_room(&s.media_types, "Snapshot.media_types", MAX_MEDIA_TYPES)?;
                s.media_types.push(media_type(v.bytes("Snapshot.media_types")?)?);
            }
            9 => s.settings = settings(v.bytes("Snapshot.settings")?)?,
            10 => {
                check_room(&s.accessories, "Snapshot.accessories", MAX_RECORDS)?;
                s.accessories.push(accessory(v.bytes("Snapshot.accessories")?)?);
            }
            11 => s.usage = Some(usage(v.bytes("Snapshot.usage")?)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

pub(super) fn status(buf: &[u8]) -> Result<DeviceStatus> {
    let mut s = wire_default_status();
    fields(buf, "DeviceStatus", singular(4, &[]), |n, v| {
        match n {
            1 => s.engine = v.code("DeviceStatus.engine")?,
            2 => s.device = v.code("DeviceStatus.device")?,
            3 => s.printer = v.code("DeviceStatus.printer")?,
            4 => {
                let bits = v.u32("DeviceStatus.errors")?;
                s.errors = DetectedErrors::from_bits(u16::try_from(bits).map_err(|_| ProtobufError::OutOfRange {
                    field: "DeviceStatus.errors",
                    value: i128::from(bits),
                })?);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

fn meter(buf: &[u8], meters: &mut Meters) -> Result<()> {
    let (mut kind, mut vendor, mut value) = (0u32, None, 0u64);
    fields(buf, "Meter", singular(3, &[]), |n, v| {
        match n {
            1 => kind = v.u32("Meter.kind")?,
            2 => vendor = Some(v.bytes("Meter.vendor")?),
            3 => value = v.varint("Meter.value")?,
            _ => {}
        }
        Ok(())
    })?;
    let key = meter_kind(kind, vendor)?;
    if meters.set(key, value).is_some() {
        return Err(ProtobufError::BadValue { field: "Snapshot.meters" });
    }
    Ok(())
}

/// A meter's kind from `Meter.kind` and `Meter.vendor` (or `MeterChange`'s, which are alike).
pub(super) fn meter_kind(kind: u32, vendor: Option<&[u8]>) -> Result<MeterKind> {
    Ok(match vendor.filter(|v| !v.is_empty()) {
        None => MeterKind::Standard(MeterCode::from_code(kind)),
        Some(name) if kind == 0 => {
            let name = std::str::from_utf8(name).map_err(|_| ProtobufError::BadValue { field: "Meter.vendor" })?;
            MeterKind::Vendor(VendorMeter::new(name).map_err(|_| ProtobufError::BadValue { field: "Meter.vendor" })?)
        }
        Some(_) => return Err(ProtobufError::Missing { field: "Meter.kind" }),
    })
}

pub(super) fn consumable(buf: &[u8]) -> Result<Consumable> {
    let mut c = Consumable {
        kind: CodeSpace::from_code(0),
        class: CodeSpace::from_code(0),
        unit: CodeSpace::from_code(0),
        level: Level::Amount(0),
        capacity: Capacity::Amount(0),
        status: CodeSpace::from_code(0),
        ..Consumable::default()
    };
    fields(buf, "Consumable", singular(13, &[]), |n, v| {
        match n {
            1 => c.record_id = RecordId(v.varint("Consumable.record_id")?),
            2 => c.kind = v.code("Consumable.kind")?,
            3 => c.class = v.code("Consumable.class")?,
            4 => c.colour = Some(colour(v.bytes("Consumable.colour")?, "Consumable.colour")?),
            5 => c.description = Some(v.text("Consumable.description")?),
            6 => c.part_number = Some(v.text("Consumable.part_number")?),
            7 => c.serial_number = Some(v.text("Consumable.serial_number")?),
            8 => c.unit = v.code("Consumable.unit")?,
            9 => {
                let level = v.sint64("Consumable.level")?;
                c.level = Level::from_mib(level)
                    .ok_or(ProtobufError::OutOfRange { field: "Consumable.level", value: i128::from(level) })?;
            }
            10 => {
                let capacity = v.sint64("Consumable.capacity")?;
                c.capacity = Capacity::from_mib(capacity)
                    .ok_or(ProtobufError::OutOfRange { field: "Consumable.capacity", value: i128::from(capacity) })?;
            }
            11 => c.status = v.code("Consumable.status")?,
            12 => c.page_count = Some(PageCount(v.varint("Consumable.page_count")?)),
            13 => c.observed_at = Some(v.time("Consumable.observed_at")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(c)
}

pub(super) fn alert(buf: &[u8]) -> Result<Alert> {
    let mut a = Alert {
        code: CodeSpace::from_code(0),
        group: CodeSpace::from_code(0),
        severity: CodeSpace::from_code(0),
        training_level: CodeSpace::from_code(0),
        ..Alert::default()
    };
    fields(buf, "Alert", singular(11, &[]), |n, v| {
        match n {
            1 => a.record_id = RecordId(v.varint("Alert.record_id")?),
            2 => a.description = Some(v.text("Alert.description")?),
            3 => a.code = v.code("Alert.code")?,
            4 => a.vendor_code = Some(v.text("Alert.vendor_code")?),
            5 => a.group = v.code("Alert.group")?,
            6 => a.group_index = Some(v.u32("Alert.group_index")?),
            7 => a.location = Some(v.u32("Alert.location")?),
            8 => a.severity = v.code("Alert.severity")?,
            9 => a.training_level = v.code("Alert.training_level")?,
            10 => a.page_count = Some(PageCount(v.varint("Alert.page_count")?)),
            11 => a.raised_at = Some(v.time("Alert.raised_at")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(a)
}

pub(super) fn printhead(buf: &[u8]) -> Result<Printhead> {
    let mut p = Printhead { status: CodeSpace::from_code(0), ..Printhead::default() };
    fields(buf, "Printhead", singular(9, &[2]), |n, v| {
        match n {
            1 => p.record_id = RecordId(v.varint("Printhead.record_id")?),
            2 => {
                check_room(&p.colours, "Printhead.colours", MAX_NESTED)?;
                p.colours.push(colour(v.bytes("Printhead.colours")?, "Printhead.colours")?);
            }
            3 => p.status = v.code("Printhead.status")?,
            4 => p.health = Some(v.basis_points("Printhead.health")?),
            5 => p.product_number = Some(v.text("Printhead.product_number")?),
            6 => p.product_name = Some(v.text("Printhead.product_name")?),
            7 => p.serial_number = Some(v.text("Printhead.serial_number")?),
            8 => p.third_party_ink_used = v.bool("Printhead.third_party_ink_used")?,
            9 => p.expires_at = Some(v.time("Printhead.expires_at")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(p)
}

pub(super) fn cartridge(buf: &[u8]) -> Result<InkCartridge> {
    let mut c = InkCartridge { status: CodeSpace::from_code(0), ..InkCartridge::default() };
    fields(buf, "InkCartridge", singular(11, &[]), |n, v| {
        match n {
            1 => c.record_id = RecordId(v.varint("InkCartridge.record_id")?),
            2 => c.colour = Some(colour(v.bytes("InkCartridge.colour")?, "InkCartridge.colour")?),
            3 => c.status = v.code("InkCartridge.status")?,
            4 => c.product_number = Some(v.text("InkCartridge.product_number")?),
            5 => c.product_name = Some(v.text("InkCartridge.product_name")?),
            6 => c.serial_number = Some(v.text("InkCartridge.serial_number")?),
            7 => c.manufacturer = Some(v.text("InkCartridge.manufacturer")?),
            8 => c.capacity = Some(InkNl(v.varint("InkCartridge.capacity")?)),
            9 => c.ink_consumed = Some(InkNl(v.varint("InkCartridge.ink_consumed")?)),
            10 => c.third_party_ink_consumed = Some(InkNl(v.varint("InkCartridge.third_party_ink_consumed")?)),
            11 => c.expires_at = Some(v.time("InkCartridge.expires_at")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(c)
}

pub(super) fn media_source(buf: &[u8]) -> Result<MediaSource> {
    let mut m =
        MediaSource { kind: CodeSpace::from_code(0), status: CodeSpace::from_code(0), ..MediaSource::default() };
    fields(buf, "MediaSource", singular(7, &[]), |n, v| {
        match n {
            1 => m.record_id = RecordId(v.varint("MediaSource.record_id")?),
            2 => m.kind = v.code("MediaSource.kind")?,
            3 => m.name = Some(v.text("MediaSource.name")?),
            4 => m.status = v.code("MediaSource.status")?,
            5 => m.media_type = Some(v.text("MediaSource.media_type")?),
            6 => m.width = Some(LengthUm(v.varint("MediaSource.width")?)),
            7 => m.height = Some(LengthUm(v.varint("MediaSource.height")?)),
            _ => {}
        }
        Ok(())
    })?;
    Ok(m)
}

pub(super) fn media_type(buf: &[u8]) -> Result<MediaType> {
    let mut m = MediaType::default();
    fields(buf, "MediaType", singular(2, &[2]), |n, v| {
        match n {
            1 => m.id = v.text("MediaType.id")?,
            2 => map_entry(v.bytes("MediaType.names")?, "MediaType.names", &mut m.names)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(m)
}

pub(super) fn settings(buf: &[u8]) -> Result<Settings> {
    let mut s = Settings::default();
    fields(buf, "Settings", singular(2, &[1, 2]), |n, v| {
        match n {
            1 => {
                let list = &mut s.job_category_thresholds;
                check_room(list, "Settings.job_category_thresholds", MAX_NESTED)?;
                let mut t = JobCategoryThreshold::default();
                fields(
                    v.bytes("Settings.job_category_thresholds")?,
                    "JobCategoryThreshold",
                    singular(2, &[]),
                    |n, v| {
                        match n {
                            1 => t.category = v.text("JobCategoryThreshold.category")?,
                            2 => t.max_coverage = v.basis_points("JobCategoryThreshold.max_coverage")?,
                            _ => {}
                        }
                        Ok(())
                    },
                )?;
                list.push(t);
            }
            2 => {
                let list = &mut s.print_categories;
                check_room(list, "Settings.print_categories", MAX_NESTED)?;
                let mut c = PrintCategory::default();
                fields(v.bytes("Settings.print_categories")?, "PrintCategory", singular(4, &[4]), |n, v| {
                    match n {
                        1 => c.category = v.text("PrintCategory.category")?,
                        2 => c.name = Some(v.text("PrintCategory.name")?),
                        3 => c.enabled = v.bool("PrintCategory.enabled")?,
                        4 => map_entry(v.bytes("PrintCategory.settings")?, "PrintCategory.settings", &mut c.settings)?,
                        _ => {}
                    }
                    Ok(())
                })?;
                list.push(c);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

pub(super) fn accessory(buf: &[u8]) -> Result<Accessory> {
    let mut a = Accessory { status: CodeSpace::from_code(0), ..Accessory::default() };
    fields(buf, "Accessory", singular(6, &[]), |n, v| {
        match n {
            1 => a.record_id = RecordId(v.varint("Accessory.record_id")?),
            2 => a.name = v.text("Accessory.name")?,
            3 => a.status = v.code("Accessory.status")?,
            4 => a.product_number = Some(v.text("Accessory.product_number")?),
            5 => a.serial_number = Some(v.text("Accessory.serial_number")?),
            6 => a.firmware_version = Some(v.text("Accessory.firmware_version")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(a)
}

pub(super) fn usage(buf: &[u8]) -> Result<Usage> {
    let mut u = Usage::default();
    fields(buf, "Usage", singular(10, &[1, 2, 6]), |n, v| {
        match n {
            1 => {
                check_room(&u.cartridge_types, "Usage.cartridge_types", MAX_NESTED)?;
                let mut c = CartridgeTypeUsage::default();
                fields(v.bytes("Usage.cartridge_types")?, "CartridgeTypeUsage", singular(5, &[]), |n, v| {
                    match n {
                        1 => c.product_number = v.text("CartridgeTypeUsage.product_number")?,
                        2 => c.ink_total = InkNl(v.varint("CartridgeTypeUsage.ink_total")?),
                        3 => c.ink_third_party = InkNl(v.varint("CartridgeTypeUsage.ink_third_party")?),
                        4 => c.ink_oem = InkNl(v.varint("CartridgeTypeUsage.ink_oem")?),
                        5 => c.insertions = v.varint("CartridgeTypeUsage.insertions")?,
                        _ => {}
                    }
                    Ok(())
                })?;
                u.cartridge_types.push(c);
            }
            2 => {
                check_room(&u.media_types, "Usage.media_types", MAX_NESTED)?;
                let mut m = MediaTypeUsage::default();
                fields(v.bytes("Usage.media_types")?, "MediaTypeUsage", singular(3, &[]), |n, v| {
                    match n {
                        1 => m.media_type = v.text("MediaTypeUsage.media_type")?,
                        2 => m.area = AreaMm2(v.varint("MediaTypeUsage.area")?),
                        3 => m.length = Some(LengthUm(v.varint("MediaTypeUsage.length")?)),
                        _ => {}
                    }
                    Ok(())
                })?;
                u.media_types.push(m);
            }
            3 => u.scanned_area_total = AreaMm2(v.varint("Usage.scanned_area_total")?),
            4 => u.scanned_area_scans = AreaMm2(v.varint("Usage.scanned_area_scans")?),
            5 => u.scanned_area_copies = AreaMm2(v.varint("Usage.scanned_area_copies")?),
            6 => {
                check_room(&u.application_categories, "Usage.application_categories", MAX_NESTED)?;
                let mut a = ApplicationCategoryUsage::default();
                fields(
                    v.bytes("Usage.application_categories")?,
                    "ApplicationCategoryUsage",
                    singular(3, &[]),
                    |n, v| {
                        match n {
                            1 => a.category = v.text("ApplicationCategoryUsage.category")?,
                            2 => a.media_area = AreaMm2(v.varint("ApplicationCategoryUsage.media_area")?),
                            3 => a.media_length = LengthUm(v.varint("ApplicationCategoryUsage.media_length")?),
                            _ => {}
                        }
                        Ok(())
                    },
                )?;
                u.application_categories.push(a);
            }
            7 => u.jobs = v.varint("Usage.jobs")?,
            8 => u.pages = PageCount(v.varint("Usage.pages")?),
            9 => u.ink_total = InkNl(v.varint("Usage.ink_total")?),
            10 => u.media_total = AreaMm2(v.varint("Usage.media_total")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(u)
}

fn events(buf: &[u8]) -> Result<Events> {
    let mut e = Events::default();
    fields(buf, "Events", singular(3, &[1, 2, 3]), |n, v| {
        match n {
            1 => {
                check_room(&e.print_jobs, "Events.print_jobs", MAX_JOBS)?;
                e.print_jobs.push(print_job(v.bytes("Events.print_jobs")?)?);
            }
            2 => {
                check_room(&e.scan_jobs, "Events.scan_jobs", MAX_JOBS)?;
                let (mut job, mut scan) = (None, None);
                fields(v.bytes("Events.scan_jobs")?, "ScanJob", singular(2, &[]), |n, v| {
                    match n {
                        1 => job = Some(header(v.bytes("ScanJob.job")?)?),
                        2 => scan = Some(scan_details(v.bytes("ScanJob.scan")?)?),
                        _ => {}
                    }
                    Ok(())
                })?;
                let job = job.ok_or(ProtobufError::Missing { field: "ScanJob.job" })?;
                e.scan_jobs.push(ScanJob { job, scan: scan.unwrap_or_else(wire_default_scan) });
            }
            3 => {
                check_room(&e.copy_jobs, "Events.copy_jobs", MAX_JOBS)?;
                let (mut job, mut scan, mut print) = (None, None, None);
                fields(v.bytes("Events.copy_jobs")?, "CopyJob", singular(3, &[]), |n, v| {
                    match n {
                        1 => job = Some(header(v.bytes("CopyJob.job")?)?),
                        2 => scan = Some(scan_details(v.bytes("CopyJob.scan")?)?),
                        3 => print = Some(print_details(v.bytes("CopyJob.print")?)?),
                        _ => {}
                    }
                    Ok(())
                })?;
                let job = job.ok_or(ProtobufError::Missing { field: "CopyJob.job" })?;
                e.copy_jobs.push(CopyJob {
                    job,
                    scan: scan.unwrap_or_else(wire_default_scan),
                    print: print.unwrap_or_else(wire_default_print),
                });
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(e)
}

pub(super) fn print_job(buf: &[u8]) -> Result<PrintJob> {
    let (mut job, mut print) = (None, None);
    fields(buf, "PrintJob", singular(2, &[]), |n, v| {
        match n {
            1 => job = Some(header(v.bytes("PrintJob.job")?)?),
            2 => print = Some(print_details(v.bytes("PrintJob.print")?)?),
            _ => {}
        }
        Ok(())
    })?;
    let job = job.ok_or(ProtobufError::Missing { field: "PrintJob.job" })?;
    Ok(PrintJob { job, print: print.unwrap_or_else(wire_default_print) })
}

pub(super) fn header(buf: &[u8]) -> Result<JobHeader> {
    let mut h = JobHeader::default();
    let mut uuid = None;
    fields(buf, "JobHeader", singular(4, &[]), |n, v| {
        match n {
            1 => h.name = Some(v.text("JobHeader.name")?),
            2 => {
                let b = v.bytes("JobHeader.uuid")?;
                uuid = Some(uuid::Uuid::from_slice(b).map_err(|_| ProtobufError::BadLength {
                    field: "JobHeader.uuid",
                    len: b.len(),
                    expected: "16",
                })?);
            }
            3 => h.sequence = v.varint("JobHeader.sequence")?,
            4 => h.submitter = submitter(v.bytes("JobHeader.submitter")?)?,
            _ => {}
        }
        Ok(())
    })?;
    h.uuid = uuid.ok_or(ProtobufError::BadLength { field: "JobHeader.uuid", len: 0, expected: "16" })?;
    Ok(h)
}

fn submitter(buf: &[u8]) -> Result<Submitter> {
    let mut s = Submitter::default();
    fields(buf, "Submitter", singular(6, &[]), |n, v| {
        match n {
            1 => s.project_id = Some(v.text("Submitter.project_id")?),
            2 => s.application_id = Some(v.text("Submitter.application_id")?),
            3 => s.user_defined = Some(v.text("Submitter.user_defined")?),
            4 => s.account_id = Some(v.text("Submitter.account_id")?),
            5 => s.user_name = Some(v.text("Submitter.user_name")?),
            6 => s.submitted_at = Some(v.time("Submitter.submitted_at")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

pub(super) fn wire_default_print() -> PrintDetails {
    PrintDetails {
        status: CodeSpace::from_code(0),
        source: CodeSpace::from_code(0),
        quality: CodeSpace::from_code(0),
        ..PrintDetails::default()
    }
}

fn wire_default_scan() -> ScanDetails {
    ScanDetails { status: CodeSpace::from_code(0), ..ScanDetails::default() }
}

pub(super) fn print_details(buf: &[u8]) -> Result<PrintDetails> {
    let mut p = wire_default_print();
    fields(buf, "PrintDetails", singular(14, &[9, 12]), |n, v| {
        match n {
            1 => p.printed_at = Some(v.time("PrintDetails.printed_at")?),
            2 => p.status = v.code("PrintDetails.status")?,
            3 => p.source = v.code("PrintDetails.source")?,
            4 => p.ink_coverage_category = Some(v.text("PrintDetails.ink_coverage_category")?),
            5 => p.quality = v.code("PrintDetails.quality")?,
            6 => p.pages = PageCount(v.varint("PrintDetails.pages")?),
            7 => p.copies = v.u32("PrintDetails.copies")?,
            8 => p.print_time = DurationMs(v.varint("PrintDetails.print_time")?),
            9 => {
                check_room(&p.ink, "PrintDetails.ink", MAX_NESTED)?;
                let (mut c, mut volume) = (None, InkNl::ZERO);
                fields(v.bytes("PrintDetails.ink")?, "InkUse", singular(2, &[]), |n, v| {
                    match n {
                        1 => c = Some(colour(v.bytes("InkUse.colour")?, "InkUse.colour")?),
                        2 => volume = InkNl(v.varint("InkUse.volume")?),
                        _ => {}
                    }
                    Ok(())
                })?;
                let colour = c.ok_or(ProtobufError::Missing { field: "InkUse.colour" })?;
                p.ink.push(InkUse { colour, volume });
            }
            10 => p.media_area = AreaMm2(v.varint("PrintDetails.media_area")?),
            11 => p.printed_area = AreaMm2(v.varint("PrintDetails.printed_area")?),
            12 => {
                check_room(&p.application_categories, "PrintDetails.application_categories", MAX_NESTED)?;
                let mut c = JobCategoryUsage::default();
                fields(
                    v.bytes("PrintDetails.application_categories")?,
                    "JobCategoryUsage",
                    singular(5, &[]),
                    |n, v| {
                        match n {
                            1 => c.category = v.text("JobCategoryUsage.category")?,
                            2 => c.media_area = AreaMm2(v.varint("JobCategoryUsage.media_area")?),
                            3 => c.printed_area = AreaMm2(v.varint("JobCategoryUsage.printed_area")?),
                            4 => c.ink = InkNl(v.varint("JobCategoryUsage.ink")?),
                            5 => c.media_length = LengthUm(v.varint("JobCategoryUsage.media_length")?),
                            _ => {}
                        }
                        Ok(())
                    },
                )?;
                p.application_categories.push(c);
            }
            13 => p.non_white_coverage = Some(v.basis_points("PrintDetails.non_white_coverage")?),
            14 => p.colour_coverage = Some(v.basis_points("PrintDetails.colour_coverage")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(p)
}

fn scan_details(buf: &[u8]) -> Result<ScanDetails> {
    let mut s = wire_default_scan();
    fields(buf, "ScanDetails", singular(3, &[]), |n, v| {
        match n {
            1 => s.scanned_at = Some(v.time("ScanDetails.scanned_at")?),
            2 => s.status = v.code("ScanDetails.status")?,
            3 => s.scanned_area = AreaMm2(v.varint("ScanDetails.scanned_area")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}
