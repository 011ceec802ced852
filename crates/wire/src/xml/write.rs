//! XML encoder: one pass over the report into a caller-owned buffer.

use std::net::IpAddr;

use printfleet_schema::codes::CodeSpace;
use printfleet_schema::{
    Accessory, Alert, Capacity, Colour, Consumable, DetectedErrors, DeviceReport, DeviceStatus, Identity, InkCartridge,
    JobHeader, Level, MediaSource, MediaType, PrintDetails, Printhead, ScanDetails, Settings, Timestamp, Usage,
};

use super::NAMESPACE;

/// Appends markup to a buffer. Every value goes into an attribute (see the module docs).
pub(super) struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

/// Escapes an attribute value for a double-quoted attribute.
///
/// Besides `&`, `<`, `>` and `"` this escapes tab, line feed and carriage return as character
/// references: XML 1.0 §3.3.3 makes every reader turn a literal one into a space, so only a
/// reference keeps them. (`quick_xml::escape::escape` leaves them literal, which is right for
/// text content but loses them in attributes.)
fn escape_into(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let replacement: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\t' => b"&#9;",
            b'\n' => b"&#10;",
            b'\r' => b"&#13;",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        out.extend_from_slice(replacement);
        start = i.saturating_add(1);
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

impl<'a> Writer<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }

    pub(super) fn open(&mut self, name: &str) -> &mut Self {
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        self
    }

    /// Ends a start tag that will have children.
    pub(super) fn children(&mut self) -> &mut Self {
        self.out.push(b'>');
        self
    }

    /// Ends an empty element.
    pub(super) fn empty(&mut self) {
        self.out.extend_from_slice(b"/>");
    }

    pub(super) fn close(&mut self, name: &str) {
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
    }

    pub(super) fn attr_raw(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.out.push(b' ');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"=\"");
        self.out.extend_from_slice(value);
        self.out.push(b'"');
        self
    }

    pub(super) fn str(&mut self, name: &str, value: &str) -> &mut Self {
        self.out.push(b' ');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"=\"");
        escape_into(self.out, value);
        self.out.push(b'"');
        self
    }

    pub(super) fn opt_str(&mut self, name: &str, value: Option<&String>) -> &mut Self {
        if let Some(v) = value {
            self.str(name, v);
        }
        self
    }

    pub(super) fn u64(&mut self, name: &str, value: u64) -> &mut Self {
        let mut buf = itoa::Buffer::new();
        self.attr_raw(name, buf.format(value).as_bytes())
    }

    pub(super) fn i64(&mut self, name: &str, value: i64) -> &mut Self {
        let mut buf = itoa::Buffer::new();
        self.attr_raw(name, buf.format(value).as_bytes())
    }

    pub(super) fn opt_u64(&mut self, name: &str, value: Option<u64>) -> &mut Self {
        if let Some(v) = value {
            self.u64(name, v);
        }
        self
    }

    pub(super) fn time(&mut self, name: &str, value: Timestamp) -> &mut Self {
        self.u64(name, value.unix_millis())
    }

    pub(super) fn opt_time(&mut self, name: &str, value: Option<Timestamp>) -> &mut Self {
        self.opt_u64(name, value.map(Timestamp::unix_millis))
    }

    pub(super) fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.attr_raw(name, if value { b"true" } else { b"false" })
    }

    /// A code: its name when known, else its number.
    pub(super) fn code<C: CodeSpace>(&mut self, name: &str, value: C) -> &mut Self {
        match value.name() {
            Some(text) => self.attr_raw(name, text.as_bytes()),
            None => self.u64(name, u64::from(value.code())),
        }
    }

    pub(super) fn colour(&mut self, name: &str, value: &Colour) -> &mut Self {
        self.str(name, value.name())
    }

    pub(super) fn opt_colour(&mut self, name: &str, value: Option<&Colour>) -> &mut Self {
        if let Some(c) = value {
            self.colour(name, c);
        }
        self
    }
}

pub(super) fn level_attr(w: &mut Writer<'_>, name: &str, level: Level) {
    match level_text(level) {
        Ok(state) => w.attr_raw(name, state.as_bytes()),
        Err(amount) => w.i64(name, amount),
    };
}

fn level_text(level: Level) -> Result<&'static str, i64> {
    match level {
        Level::Unrestricted => Ok("unrestricted"),
        Level::Unknown => Ok("unknown"),
        Level::SomeRemaining => Ok("some_remaining"),
        other => Err(other.to_mib()),
    }
}

fn capacity_text(capacity: Capacity) -> Result<&'static str, i64> {
    match capacity {
        Capacity::Unrestricted => Ok("unrestricted"),
        Capacity::Unknown => Ok("unknown"),
        other => Err(other.to_mib()),
    }
}

/// Writes `report` (already validated) as one `<report>` element.
pub(super) fn report(w: &mut Writer<'_>, r: &DeviceReport) {
    w.open("report").attr_raw("xmlns", NAMESPACE.as_bytes()).time("generated_at", r.generated_at).children();

    identity(w, &r.identity);
    snapshot(w, &r.snapshot);
    events(w, &r.events);
    w.close("report");
}

pub(super) fn identity(w: &mut Writer<'_>, i: &Identity) {
    w.open("identity")
        .u64("record_id", i.record_id.0)
        .opt_str("make", i.make.as_ref())
        .opt_str("model", i.model.as_ref())
        .opt_str("serial_number", i.serial_number.as_ref())
        .opt_str("product_number", i.product_number.as_ref())
        .opt_str("product_name", i.product_name.as_ref())
        .opt_str("firmware_version", i.firmware_version.as_ref())
        .opt_str("description", i.description.as_ref())
        .opt_str("object_id", i.object_id.as_ref());
    if let Some(mac) = i.mac_address {
        w.str("mac_address", &mac.to_string());
    }
    w.opt_str("hostname", i.hostname.as_ref())
        .opt_str("location", i.location.as_ref())
        .opt_str("zone", i.zone.as_ref())
        .opt_str("contact", i.contact.as_ref());
    if i.ip_addresses.is_empty() {
        w.empty();
    } else {
        w.children();
        for ip in &i.ip_addresses {
            ip_address(w, ip);
        }
        w.close("identity");
    }
}

fn ip_address(w: &mut Writer<'_>, ip: &IpAddr) {
    w.open("ip_address").str("value", &ip.to_string()).empty();
}

fn errors_attr(w: &mut Writer<'_>, errors: DetectedErrors) {
    if errors.is_empty() {
        return;
    }
    let mut list = String::new();
    for name in errors.names() {
        if !list.is_empty() {
            list.push(' ');
        }
        list.push_str(name);
    }
    w.attr_raw("errors", list.as_bytes());
}

pub(super) fn snapshot(w: &mut Writer<'_>, s: &printfleet_schema::Snapshot) {
    w.open("snapshot").children();
    status(w, &s.status);
    for (kind, value) in &s.meters.0 {
        w.open("meter").str("kind", &kind.to_string()).u64("value", *value).empty();
    }
    for c in &s.consumables {
        consumable(w, c);
    }
    for a in &s.alerts {
        alert(w, a);
    }
    for p in &s.printheads {
        printhead(w, p);
    }
    for c in &s.cartridges {
        cartridge(w, c);
    }
    for m in &s.media_sources {
        media_source(w, m);
    }
    for m in &s.media_types {
        media_type(w, m);
    }
    settings(w, &s.settings);
    for a in &s.accessories {
        accessory(w, a);
    }
    if let Some(u) = &s.usage {
        usage(w, u);
    }
    w.close("snapshot");
}

pub(super) fn status(w: &mut Writer<'_>, s: &DeviceStatus) {
    w.open("status").code("engine", s.engine).code("device", s.device).code("printer", s.printer);
    errors_attr(w, s.errors);
    w.empty();
}

pub(super) fn media_type(w: &mut Writer<'_>, m: &MediaType) {
    w.open("media_type").str("id", &m.id);
    if m.names.is_empty() {
        w.empty();
    } else {
        w.children();
        for (lang, name) in &m.names {
            w.open("name").str("lang", lang).str("value", name).empty();
        }
        w.close("media_type");
    }
}

pub(super) fn settings(w: &mut Writer<'_>, settings: &Settings) {
    if settings.job_category_thresholds.is_empty() && settings.print_categories.is_empty() {
        w.open("settings").empty();
    } else {
        w.open("settings").children();
        for t in &settings.job_category_thresholds {
            w.open("job_category_threshold")
                .str("category", &t.category)
                .u64("max_coverage", u64::from(t.max_coverage.get()))
                .empty();
        }
        for c in &settings.print_categories {
            w.open("print_category")
                .str("category", &c.category)
                .opt_str("name", c.name.as_ref())
                .bool("enabled", c.enabled);
            if c.settings.is_empty() {
                w.empty();
            } else {
                w.children();
                for (key, value) in &c.settings {
                    w.open("setting").str("key", key).str("value", value).empty();
                }
                w.close("print_category");
            }
        }
        w.close("settings");
    }
}

pub(super) fn accessory(w: &mut Writer<'_>, a: &Accessory) {
    w.open("accessory")
        .u64("record_id", a.record_id.0)
        .str("name", &a.name)
        .code("status", a.status)
        .opt_str("product_number", a.product_number.as_ref())
        .opt_str("serial_number", a.serial_number.as_ref())
        .opt_str("firmware_version", a.firmware_version.as_ref())
        .empty();
}

pub(super) fn consumable(w: &mut Writer<'_>, c: &Consumable) {
    w.open("consumable")
        .u64("record_id", c.record_id.0)
        .code("kind", c.kind)
        .code("class", c.class)
        .opt_colour("colour", c.colour.as_ref())
        .opt_str("description", c.description.as_ref())
        .opt_str("part_number", c.part_number.as_ref())
        .opt_str("serial_number", c.serial_number.as_ref())
        .code("unit", c.unit);
    level_attr(w, "level", c.level);
    match capacity_text(c.capacity) {
        Ok(state) => w.attr_raw("capacity", state.as_bytes()),
        Err(amount) => w.i64("capacity", amount),
    };
    w.code("status", c.status)
        .opt_u64("page_count", c.page_count.map(|p| p.0))
        .opt_time("observed_at", c.observed_at)
        .empty();
}

pub(super) fn alert(w: &mut Writer<'_>, a: &Alert) {
    w.open("alert")
        .u64("record_id", a.record_id.0)
        .opt_str("description", a.description.as_ref())
        .code("code", a.code)
        .opt_str("vendor_code", a.vendor_code.as_ref())
        .code("group", a.group)
        .opt_u64("group_index", a.group_index.map(u64::from))
        .opt_u64("location", a.location.map(u64::from))
        .code("severity", a.severity)
        .code("training_level", a.training_level)
        .opt_u64("page_count", a.page_count.map(|p| p.0))
        .opt_time("raised_at", a.raised_at)
        .empty();
}

pub(super) fn printhead(w: &mut Writer<'_>, p: &Printhead) {
    w.open("printhead")
        .u64("record_id", p.record_id.0)
        .code("status", p.status)
        .opt_u64("health", p.health.map(|h| u64::from(h.get())))
        .opt_str("product_number", p.product_number.as_ref())
        .opt_str("product_name", p.product_name.as_ref())
        .opt_str("serial_number", p.serial_number.as_ref())
        .bool("third_party_ink_used", p.third_party_ink_used)
        .opt_time("expires_at", p.expires_at);
    if p.colours.is_empty() {
        w.empty();
    } else {
        w.children();
        for c in &p.colours {
            w.open("colour").colour("name", c).empty();
        }
        w.close("printhead");
    }
}

pub(super) fn cartridge(w: &mut Writer<'_>, c: &InkCartridge) {
    w.open("cartridge")
        .u64("record_id", c.record_id.0)
        .opt_colour("colour", c.colour.as_ref())
        .code("status", c.status)
        .opt_str("product_number", c.product_number.as_ref())
        .opt_str("product_name", c.product_name.as_ref())
        .opt_str("serial_number", c.serial_number.as_ref())
        .opt_str("manufacturer", c.manufacturer.as_ref())
        .opt_u64("capacity", c.capacity.map(|v| v.0))
        .opt_u64("ink_consumed", c.ink_consumed.map(|v| v.0))
        .opt_u64("third_party_ink_consumed", c.third_party_ink_consumed.map(|v| v.0))
        .opt_time("expires_at", c.expires_at)
        .empty();
}

pub(super) fn media_source(w: &mut Writer<'_>, m: &MediaSource) {
    w.open("media_source")
        .u64("record_id", m.record_id.0)
        .code("kind", m.kind)
        .opt_str("name", m.name.as_ref())
        .code("status", m.status)
        .opt_str("media_type", m.media_type.as_ref())
        .opt_u64("width", m.width.map(|v| v.0))
        .opt_u64("height", m.height.map(|v| v.0))
        .empty();
}

pub(super) fn usage(w: &mut Writer<'_>, u: &Usage) {
    w.open("usage")
        .u64("scanned_area_total", u.scanned_area_total.0)
        .u64("scanned_area_scans", u.scanned_area_scans.0)
        .u64("scanned_area_copies", u.scanned_area_copies.0)
        .u64("jobs", u.jobs)
        .u64("pages", u.pages.0)
        .u64("ink_total", u.ink_total.0)
        .u64("media_total", u.media_total.0);
    if u.cartridge_types.is_empty() && u.media_types.is_empty() && u.application_categories.is_empty() {
        w.empty();
        return;
    }
    w.children();
    for c in &u.cartridge_types {
        w.open("cartridge_type_usage")
            .str("product_number", &c.product_number)
            .u64("ink_total", c.ink_total.0)
            .u64("ink_third_party", c.ink_third_party.0)
            .u64("ink_oem", c.ink_oem.0)
            .u64("insertions", c.insertions)
            .empty();
    }
    for m in &u.media_types {
        w.open("media_type_usage")
            .str("media_type", &m.media_type)
            .u64("area", m.area.0)
            .opt_u64("length", m.length.map(|v| v.0))
            .empty();
    }
    for a in &u.application_categories {
        w.open("application_category_usage")
            .str("category", &a.category)
            .u64("media_area", a.media_area.0)
            .u64("media_length", a.media_length.0)
            .empty();
    }
    w.close("usage");
}

fn events(w: &mut Writer<'_>, e: &printfleet_schema::Events) {
    if e.is_empty() {
        w.open("events").empty();
        return;
    }
    w.open("events").children();
    for j in &e.print_jobs {
        w.open("print_job").children();
        header(w, &j.job);
        print(w, &j.print);
        w.close("print_job");
    }
    for j in &e.scan_jobs {
        w.open("scan_job").children();
        header(w, &j.job);
        scan(w, &j.scan);
        w.close("scan_job");
    }
    for j in &e.copy_jobs {
        w.open("copy_job").children();
        header(w, &j.job);
        scan(w, &j.scan);
        print(w, &j.print);
        w.close("copy_job");
    }
    w.close("events");
}

pub(super) fn header(w: &mut Writer<'_>, h: &JobHeader) {
    let s = &h.submitter;
    let mut uuid = uuid::Uuid::encode_buffer();
    w.open("job")
        .opt_str("name", h.name.as_ref())
        .attr_raw("uuid", h.uuid.hyphenated().encode_lower(&mut uuid).as_bytes())
        .u64("sequence", h.sequence)
        .opt_str("project_id", s.project_id.as_ref())
        .opt_str("application_id", s.application_id.as_ref())
        .opt_str("user_defined", s.user_defined.as_ref())
        .opt_str("account_id", s.account_id.as_ref())
        .opt_str("user_name", s.user_name.as_ref())
        .opt_time("submitted_at", s.submitted_at)
        .empty();
}

pub(super) fn print(w: &mut Writer<'_>, p: &PrintDetails) {
    w.open("print")
        .opt_time("printed_at", p.printed_at)
        .code("status", p.status)
        .code("source", p.source)
        .opt_str("ink_coverage_category", p.ink_coverage_category.as_ref())
        .code("quality", p.quality)
        .u64("pages", p.pages.0)
        .u64("copies", u64::from(p.copies))
        .u64("print_time", p.print_time.0)
        .u64("media_area", p.media_area.0)
        .u64("printed_area", p.printed_area.0)
        .opt_u64("non_white_coverage", p.non_white_coverage.map(|c| u64::from(c.get())))
        .opt_u64("colour_coverage", p.colour_coverage.map(|c| u64::from(c.get())));
    if p.ink.is_empty() && p.application_categories.is_empty() {
        w.empty();
        return;
    }
    w.children();
    for i in &p.ink {
        w.open("ink").colour("colour", &i.colour).u64("volume", i.volume.0).empty();
    }
    for c in &p.application_categories {
        w.open("application_category")
            .str("category", &c.category)
            .u64("media_area", c.media_area.0)
            .u64("printed_area", c.printed_area.0)
            .u64("ink", c.ink.0)
            .u64("media_length", c.media_length.0)
            .empty();
    }
    w.close("print");
}

fn scan(w: &mut Writer<'_>, s: &ScanDetails) {
    w.open("scan")
        .opt_time("scanned_at", s.scanned_at)
        .code("status", s.status)
        .u64("scanned_area", s.scanned_area.0)
        .empty();
}
