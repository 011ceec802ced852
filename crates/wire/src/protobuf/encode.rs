//! Direct encoding of the schema types into protobuf bytes (`proto/printfleet/v1/telemetry.proto`),
//! with no intermediate prost messages: each field is written as prost's generated code writes
//! it (fields in tag order; a proto3 scalar, string or bytes field left out at its default; an
//! `optional` field and a message field written whenever present; maps as entries that leave
//! out a default key or value), so the bytes are identical to encoding the generated messages
//! (`convert`, kept as the test oracle). A nested message is written with a one-byte length
//! placeholder that is widened in place when the message is 128 bytes or more, so every byte is
//! written once instead of each level computing its children's lengths first.

use std::collections::BTreeMap;
use std::net::IpAddr;

use prost::encoding::WireType;

use printfleet_schema::{
    Accessory, Alert, Colour, Consumable, DeviceReport, DeviceStatus, Events, Identity, InkCartridge, JobHeader,
    MediaSource, MediaType, MeterKind, PrintDetails, PrintJob, Printhead, ScanDetails, Settings, Snapshot, Timestamp,
    Usage,
};

/// One-byte varints: a length below this fits the placeholder.
const ONE_BYTE_VARINT: usize = 0x80;

/// A base-128 varint (protobuf encoding guide), the bytes `prost::encoding::encode_varint`
/// writes, pushed one by one: most are one byte (every key and most lengths), and prost's
/// generic writer, not inlined, was 7 % of the portal's ingest.
#[inline]
fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value.to_le_bytes()[0] | 0x80);
        value >>= 7;
    }
    out.push(value.to_le_bytes()[0]);
}

/// A field's key: its tag and wire type.
#[inline]
fn key(out: &mut Vec<u8>, tag: u32, wire_type: WireType) {
    debug_assert!((1..1 << 29).contains(&tag), "tag {tag} out of protobuf's range");
    varint(out, (u64::from(tag) << 3) | wire_type as u64);
}

fn uint(out: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        key(out, tag, WireType::Varint);
        varint(out, value);
    }
}

fn opt_uint(out: &mut Vec<u8>, tag: u32, value: Option<u64>) {
    if let Some(value) = value {
        key(out, tag, WireType::Varint);
        varint(out, value);
    }
}

fn opt_time(out: &mut Vec<u8>, tag: u32, value: Option<Timestamp>) {
    opt_uint(out, tag, value.map(Timestamp::unix_millis));
}

fn sint(out: &mut Vec<u8>, tag: u32, value: i64) {
    // ZigZag (protobuf encoding guide, "Signed Integers").
    uint(out, tag, (value.wrapping_shl(1) ^ value.wrapping_shr(63)).cast_unsigned());
}

fn boolean(out: &mut Vec<u8>, tag: u32, value: bool) {
    uint(out, tag, u64::from(value));
}

fn raw_bytes(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    key(out, tag, WireType::LengthDelimited);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

fn bytes(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    if !value.is_empty() {
        raw_bytes(out, tag, value);
    }
}

fn string(out: &mut Vec<u8>, tag: u32, value: &str) {
    bytes(out, tag, value.as_bytes());
}

fn opt_string(out: &mut Vec<u8>, tag: u32, value: &Option<String>) {
    if let Some(value) = value {
        raw_bytes(out, tag, value.as_bytes());
    }
}

/// A nested message: its key, its length, then what `body` writes.
fn message(out: &mut Vec<u8>, tag: u32, body: impl FnOnce(&mut Vec<u8>)) {
    key(out, tag, WireType::LengthDelimited);
    let start = out.len();
    out.push(0);
    body(out);
    let len = out.len().saturating_sub(start).saturating_sub(1);
    match u8::try_from(len) {
        Ok(byte) if len < ONE_BYTE_VARINT => {
            if let Some(slot) = out.get_mut(start) {
                *slot = byte;
            }
        }
        _ => {
            let mut prefix = Vec::with_capacity(10);
            varint(&mut prefix, len as u64);
            out.splice(start..start.saturating_add(1), prefix);
        }
    }
}

fn map(out: &mut Vec<u8>, tag: u32, entries: &BTreeMap<String, String>) {
    for (key, value) in entries {
        message(out, tag, |out| {
            string(out, 1, key);
            string(out, 2, value);
        });
    }
}

/// Appends a state's canonical bytes (docs/wire-format.md §5.8, "State hash"): a
/// `printfleet.v1.DeviceReport` with `generated_at` 0 (omitted), the identity and snapshot
/// (always written) and no `events` field at all.
pub(super) fn state(identity_: &Identity, snapshot_: &Snapshot, out: &mut Vec<u8>) {
    message(out, 2, |out| identity(identity_, out));
    message(out, 3, |out| snapshot(snapshot_, out));
}

/// Appends `report`'s encoding (a `printfleet.v1.DeviceReport`) to `out`.
pub(super) fn report(r: &DeviceReport, out: &mut Vec<u8>) {
    uint(out, 1, r.generated_at.unix_millis());
    message(out, 2, |out| identity(&r.identity, out));
    message(out, 3, |out| snapshot(&r.snapshot, out));
    message(out, 4, |out| events(&r.events, out));
}

/// A `printfleet.v1.Identity`'s fields.
pub(super) fn identity(i: &Identity, out: &mut Vec<u8>) {
    uint(out, 1, i.record_id.0);
    opt_string(out, 2, &i.make);
    opt_string(out, 3, &i.model);
    opt_string(out, 4, &i.serial_number);
    opt_string(out, 5, &i.product_number);
    opt_string(out, 6, &i.product_name);
    opt_string(out, 7, &i.firmware_version);
    opt_string(out, 8, &i.description);
    opt_string(out, 9, &i.object_id);
    if let Some(mac) = i.mac_address {
        bytes(out, 10, &mac.octets());
    }
    opt_string(out, 11, &i.hostname);
    for ip in &i.ip_addresses {
        match ip {
            IpAddr::V4(v4) => raw_bytes(out, 12, &v4.octets()),
            IpAddr::V6(v6) => raw_bytes(out, 12, &v6.octets()),
        }
    }
    opt_string(out, 13, &i.location);
    opt_string(out, 14, &i.zone);
    opt_string(out, 15, &i.contact);
}

/// A `printfleet.v1.Snapshot`'s fields.
pub(super) fn snapshot(s: &Snapshot, out: &mut Vec<u8>) {
    message(out, 1, |out| status(&s.status, out));
    for (kind, value) in &s.meters.0 {
        message(out, 2, |out| meter(kind, *value, out));
    }
    for c in &s.consumables {
        message(out, 3, |out| consumable(c, out));
    }
    for a in &s.alerts {
        message(out, 4, |out| alert(a, out));
    }
    for p in &s.printheads {
        message(out, 5, |out| printhead(p, out));
    }
    for c in &s.cartridges {
        message(out, 6, |out| cartridge(c, out));
    }
    for m in &s.media_sources {
        message(out, 7, |out| media_source(m, out));
    }
    for m in &s.media_types {
        message(out, 8, |out| media_type(m, out));
    }
    message(out, 9, |out| settings(&s.settings, out));
    for a in &s.accessories {
        message(out, 10, |out| accessory(a, out));
    }
    if let Some(u) = &s.usage {
        message(out, 11, |out| usage(u, out));
    }
}

fn colour(c: &Colour, out: &mut Vec<u8>) {
    match c.code() {
        0 => string(out, 2, c.name()),
        code => uint(out, 1, u64::from(code)),
    }
}

pub(super) fn status(s: &DeviceStatus, out: &mut Vec<u8>) {
    uint(out, 1, u64::from(s.engine.code()));
    uint(out, 2, u64::from(s.device.code()));
    uint(out, 3, u64::from(s.printer.code()));
    uint(out, 4, u64::from(s.errors.bits()));
}

fn meter(kind: &MeterKind, value: u64, out: &mut Vec<u8>) {
    match kind {
        MeterKind::Standard(code) => uint(out, 1, u64::from(code.code())),
        MeterKind::Vendor(name) => string(out, 2, name.as_str()),
    }
    uint(out, 3, value);
}

pub(super) fn consumable(c: &Consumable, out: &mut Vec<u8>) {
    uint(out, 1, c.record_id.0);
    uint(out, 2, u64::from(c.kind.code()));
    uint(out, 3, u64::from(c.class.code()));
    if let Some(col) = &c.colour {
        message(out, 4, |out| colour(col, out));
    }
    opt_string(out, 5, &c.description);
    opt_string(out, 6, &c.part_number);
    opt_string(out, 7, &c.serial_number);
    uint(out, 8, u64::from(c.unit.code()));
    sint(out, 9, c.level.to_mib());
    sint(out, 10, c.capacity.to_mib());
    uint(out, 11, u64::from(c.status.code()));
    opt_uint(out, 12, c.page_count.map(|p| p.0));
    opt_time(out, 13, c.observed_at);
}

pub(super) fn alert(a: &Alert, out: &mut Vec<u8>) {
    uint(out, 1, a.record_id.0);
    opt_string(out, 2, &a.description);
    uint(out, 3, u64::from(a.code.code()));
    opt_string(out, 4, &a.vendor_code);
    uint(out, 5, u64::from(a.group.code()));
    opt_uint(out, 6, a.group_index.map(u64::from));
    opt_uint(out, 7, a.location.map(u64::from));
    uint(out, 8, u64::from(a.severity.code()));
    uint(out, 9, u64::from(a.training_level.code()));
    opt_uint(out, 10, a.page_count.map(|p| p.0));
    opt_time(out, 11, a.raised_at);
}

pub(super) fn printhead(p: &Printhead, out: &mut Vec<u8>) {
    uint(out, 1, p.record_id.0);
    for c in &p.colours {
        message(out, 2, |out| colour(c, out));
    }
    uint(out, 3, u64::from(p.status.code()));
    opt_uint(out, 4, p.health.map(|h| u64::from(h.get())));
    opt_string(out, 5, &p.product_number);
    opt_string(out, 6, &p.product_name);
    opt_string(out, 7, &p.serial_number);
    boolean(out, 8, p.third_party_ink_used);
    opt_time(out, 9, p.expires_at);
}

pub(super) fn cartridge(c: &InkCartridge, out: &mut Vec<u8>) {
    uint(out, 1, c.record_id.0);
    if let Some(col) = &c.colour {
        message(out, 2, |out| colour(col, out));
    }
    uint(out, 3, u64::from(c.status.code()));
    opt_string(out, 4, &c.product_number);
    opt_string(out, 5, &c.product_name);
    opt_string(out, 6, &c.serial_number);
    opt_string(out, 7, &c.manufacturer);
    opt_uint(out, 8, c.capacity.map(|v| v.0));
    opt_uint(out, 9, c.ink_consumed.map(|v| v.0));
    opt_uint(out, 10, c.third_party_ink_consumed.map(|v| v.0));
    opt_time(out, 11, c.expires_at);
}

pub(super) fn media_source(m: &MediaSource, out: &mut Vec<u8>) {
    uint(out, 1, m.record_id.0);
    uint(out, 2, u64::from(m.kind.code()));
    opt_string(out, 3, &m.name);
    uint(out, 4, u64::from(m.status.code()));
    opt_string(out, 5, &m.media_type);
    opt_uint(out, 6, m.width.map(|v| v.0));
    opt_uint(out, 7, m.height.map(|v| v.0));
}

pub(super) fn media_type(m: &MediaType, out: &mut Vec<u8>) {
    string(out, 1, &m.id);
    map(out, 2, &m.names);
}

pub(super) fn settings(s: &Settings, out: &mut Vec<u8>) {
    for t in &s.job_category_thresholds {
        message(out, 1, |out| {
            string(out, 1, &t.category);
            uint(out, 2, u64::from(t.max_coverage.get()));
        });
    }
    for c in &s.print_categories {
        message(out, 2, |out| {
            string(out, 1, &c.category);
            opt_string(out, 2, &c.name);
            boolean(out, 3, c.enabled);
            map(out, 4, &c.settings);
        });
    }
}

pub(super) fn accessory(a: &Accessory, out: &mut Vec<u8>) {
    uint(out, 1, a.record_id.0);
    string(out, 2, &a.name);
    uint(out, 3, u64::from(a.status.code()));
    opt_string(out, 4, &a.product_number);
    opt_string(out, 5, &a.serial_number);
    opt_string(out, 6, &a.firmware_version);
}

pub(super) fn usage(u: &Usage, out: &mut Vec<u8>) {
    for c in &u.cartridge_types {
        message(out, 1, |out| {
            string(out, 1, &c.product_number);
            uint(out, 2, c.ink_total.0);
            uint(out, 3, c.ink_third_party.0);
            uint(out, 4, c.ink_oem.0);
            uint(out, 5, c.insertions);
        });
    }
    for m in &u.media_types {
        message(out, 2, |out| {
            string(out, 1, &m.media_type);
            uint(out, 2, m.area.0);
            // Absent: nothing written, so the canonical bytes (and the state hash) of a record
            // without it are those of the version before the field.
            opt_uint(out, 3, m.length.map(|v| v.0));
        });
    }
    uint(out, 3, u.scanned_area_total.0);
    uint(out, 4, u.scanned_area_scans.0);
    uint(out, 5, u.scanned_area_copies.0);
    for a in &u.application_categories {
        message(out, 6, |out| {
            string(out, 1, &a.category);
            uint(out, 2, a.media_area.0);
            uint(out, 3, a.media_length.0);
        });
    }
    uint(out, 7, u.jobs);
    uint(out, 8, u.pages.0);
    uint(out, 9, u.ink_total.0);
    uint(out, 10, u.media_total.0);
}

fn events(e: &Events, out: &mut Vec<u8>) {
    for j in &e.print_jobs {
        message(out, 1, |out| print_job(j, out));
    }
    for j in &e.scan_jobs {
        message(out, 2, |out| {
            message(out, 1, |out| header(&j.job, out));
            message(out, 2, |out| scan(&j.scan, out));
        });
    }
    for j in &e.copy_jobs {
        message(out, 3, |out| {
            message(out, 1, |out| header(&j.job, out));
            message(out, 2, |out| scan(&j.scan, out));
            message(out, 3, |out| print(&j.print, out));
        });
    }
}

/// A `printfleet.v1.PrintJob`'s fields.
pub(super) fn print_job(j: &PrintJob, out: &mut Vec<u8>) {
    message(out, 1, |out| header(&j.job, out));
    message(out, 2, |out| print(&j.print, out));
}

fn header(h: &JobHeader, out: &mut Vec<u8>) {
    let s = &h.submitter;
    opt_string(out, 1, &h.name);
    bytes(out, 2, h.uuid.as_bytes());
    uint(out, 3, h.sequence);
    message(out, 4, |out| {
        opt_string(out, 1, &s.project_id);
        opt_string(out, 2, &s.application_id);
        opt_string(out, 3, &s.user_defined);
        opt_string(out, 4, &s.account_id);
        opt_string(out, 5, &s.user_name);
        opt_time(out, 6, s.submitted_at);
    });
}

fn print(p: &PrintDetails, out: &mut Vec<u8>) {
    opt_time(out, 1, p.printed_at);
    uint(out, 2, u64::from(p.status.code()));
    uint(out, 3, u64::from(p.source.code()));
    opt_string(out, 4, &p.ink_coverage_category);
    uint(out, 5, u64::from(p.quality.code()));
    uint(out, 6, p.pages.0);
    uint(out, 7, u64::from(p.copies));
    uint(out, 8, p.print_time.0);
    for i in &p.ink {
        message(out, 9, |out| {
            message(out, 1, |out| colour(&i.colour, out));
            uint(out, 2, i.volume.0);
        });
    }
    uint(out, 10, p.media_area.0);
    uint(out, 11, p.printed_area.0);
    for c in &p.application_categories {
        message(out, 12, |out| {
            string(out, 1, &c.category);
            uint(out, 2, c.media_area.0);
            uint(out, 3, c.printed_area.0);
            uint(out, 4, c.ink.0);
            uint(out, 5, c.media_length.0);
        });
    }
    opt_uint(out, 13, p.non_white_coverage.map(|c| u64::from(c.get())));
    opt_uint(out, 14, p.colour_coverage.map(|c| u64::from(c.get())));
}

fn scan(s: &ScanDetails, out: &mut Vec<u8>) {
    opt_time(out, 1, s.scanned_at);
    uint(out, 2, u64::from(s.status.code()));
    uint(out, 3, s.scanned_area.0);
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a failed assertion.
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Our varints and keys are prost's bytes, at every length's edges and for every wire type.
    #[test]
    fn varints_and_keys_are_prosts_bytes() {
        let mut values = vec![0, 1, u64::MAX, u64::MAX - 1];
        for bits in (7..64).step_by(7) {
            let edge = 1u64 << bits;
            values.extend([edge - 1, edge, edge + 1]);
        }
        for value in values {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            varint(&mut ours, value);
            prost::encoding::encode_varint(value, &mut theirs);
            assert_eq!(ours, theirs, "{value}");
        }
        let wire_types = [
            WireType::Varint,
            WireType::SixtyFourBit,
            WireType::LengthDelimited,
            WireType::StartGroup,
            WireType::EndGroup,
            WireType::ThirtyTwoBit,
        ];
        for tag in [1, 15, 16, 2047, 2048, (1 << 29) - 1] {
            for wire_type in wire_types {
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                key(&mut ours, tag, wire_type);
                prost::encoding::encode_key(tag, wire_type, &mut theirs);
                assert_eq!(ours, theirs, "{tag} {wire_type:?}");
            }
        }
    }
}
