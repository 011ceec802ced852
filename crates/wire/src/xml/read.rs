//! XML decoder: a pull parser over quick-xml's namespace-aware reader.
//!
//! Every value is in an attribute, so the only character data allowed is white space between
//! elements. Lists are checked against their limit before each push, depth before each descent,
//! attribute sizes before they are unescaped.

use std::borrow::Cow;
use std::net::IpAddr;

use printfleet_schema::codes::CodeSpace;
use printfleet_schema::limits::{
    MAX_IP_ADDRESSES, MAX_JOBS, MAX_MEDIA_TYPES, MAX_METERS, MAX_NESTED, MAX_RECORDS, MAX_TEXT_BYTES,
};
use printfleet_schema::{
    Accessory, Alert, ApplicationCategoryUsage, AreaMm2, BasisPoints, Capacity, CartridgeTypeUsage, Colour, Consumable,
    CopyJob, DetectedErrors, DeviceReport, DurationMs, Events, Identity, InkCartridge, InkNl, InkUse,
    JobCategoryThreshold, JobCategoryUsage, JobHeader, LengthUm, Level, MediaSource, MediaType, MediaTypeUsage,
    MeterKind, PageCount, PrintCategory, PrintDetails, PrintJob, Printhead, RecordId, ScanDetails, ScanJob, Snapshot,
    Timestamp, Usage,
};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, NamespaceResolver, ResolveResult};

use super::NAMESPACE;
use crate::error::XmlError;
use crate::limits::MAX_XML_DEPTH;

pub(super) type Result<T> = core::result::Result<T, XmlError>;

/// What [`Reader::next`] found inside the current element.
pub(super) enum Item<'a> {
    /// A child element in our namespace; `has_children` is false for `<x/>`.
    Child { start: BytesStart<'a>, has_children: bool },
    /// The end of the current element.
    End,
}

pub(super) struct Reader<'a> {
    inner: quick_xml::Reader<&'a [u8]>,
    /// quick-xml's namespace scopes, kept as its `NsReader` keeps them, except that a tag without
    /// `xmlns` in it opens an empty scope without its attributes being parsed.
    namespaces: NamespaceResolver,
    /// The last event ended an element (an empty-element tag or an end tag), whose scope closes
    /// before the next event is read.
    pending_pop: bool,
    depth: usize,
}

fn is_blank(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

impl<'a> Reader<'a> {
    pub(super) fn new(input: &'a str) -> Self {
        let mut inner = quick_xml::Reader::from_str(input);
        let config = inner.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        // Comments are rejected anyway; no need to validate their content.
        config.check_comments = false;
        Self { inner, namespaces: NamespaceResolver::default(), pending_pop: false, depth: 0 }
    }

    /// The next raw event, and whether its element (if any) is in our namespace.
    pub(super) fn read(&mut self) -> Result<(bool, Event<'a>)> {
        if self.pending_pop {
            self.namespaces.pop();
            self.pending_pop = false;
        }
        let event = self.inner.read_event().map_err(|source| self.syntax(source))?;
        let name = match &event {
            Event::Start(start) | Event::Empty(start) => {
                self.open_scope(start)?;
                self.pending_pop = matches!(event, Event::Empty(_));
                start.name()
            }
            Event::End(end) => {
                // The scope closes once the end tag's own name is resolved, as in `NsReader`.
                self.pending_pop = true;
                end.name()
            }
            _ => return Ok((false, event)),
        };
        let (ns, _) = self.namespaces.resolve_element(name);
        Ok((matches!(ns, ResolveResult::Bound(Namespace(n)) if n == NAMESPACE), event))
    }

    /// Opens the namespace scope of a start tag. Only a tag with `xmlns` in its text can declare
    /// a namespace; the others (all but the root, in practice) open an empty scope.
    fn open_scope(&mut self, start: &BytesStart<'_>) -> Result<()> {
        if start.attributes_raw().contains("xmlns") {
            self.namespaces.push(start).map_err(|e| self.syntax(e.into()))
        } else {
            let level = self.namespaces.level().checked_add(1).ok_or(XmlError::TooDeep { limit: MAX_XML_DEPTH })?;
            self.namespaces.set_level(level);
            Ok(())
        }
    }

    fn syntax(&self, source: quick_xml::Error) -> XmlError {
        XmlError::Syntax { position: self.inner.error_position(), source }
    }

    /// Reads the next event that matters inside an element named `parent`.
    pub(super) fn next(&mut self, parent: &'static str) -> Result<Item<'a>> {
        loop {
            let (ours, event) = self.read()?;
            match event {
                Event::Start(_) | Event::Empty(_) if !ours => return Err(XmlError::ForeignElement { parent }),
                Event::Start(start) => {
                    self.depth = self.depth.saturating_add(1);
                    if self.depth > MAX_XML_DEPTH {
                        return Err(XmlError::TooDeep { limit: MAX_XML_DEPTH });
                    }
                    return Ok(Item::Child { start, has_children: true });
                }
                Event::Empty(start) => {
                    if self.depth.saturating_add(1) > MAX_XML_DEPTH {
                        return Err(XmlError::TooDeep { limit: MAX_XML_DEPTH });
                    }
                    return Ok(Item::Child { start, has_children: false });
                }
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Item::End);
                }
                Event::Text(text) if is_blank(&text) => {}
                Event::Text(_) => return Err(XmlError::Forbidden("character data")),
                Event::GeneralRef(_) => return Err(XmlError::Forbidden("entity reference outside an attribute")),
                Event::CData(_) => return Err(XmlError::Forbidden("CDATA section")),
                Event::Comment(_) => return Err(XmlError::Forbidden("comment")),
                Event::Decl(_) => return Err(XmlError::Forbidden("XML declaration")),
                Event::PI(_) => return Err(XmlError::Forbidden("processing instruction")),
                Event::DocType(_) => return Err(XmlError::Forbidden("document type declaration")),
                Event::Eof => return Err(XmlError::Truncated),
            }
        }
    }

    /// Skips the rest of the current element (an element this version does not know, or
    /// children of an element that has none in this version).
    pub(super) fn skip(&mut self, parent: &'static str) -> Result<()> {
        let target = self.depth.saturating_sub(1);
        loop {
            if let Item::End = self.next(parent)?
                && self.depth == target
            {
                return Ok(());
            }
        }
    }

    /// Calls `on` for each child of the current element (named `parent`) until its end. `on`
    /// returns whether it knew the child; unknown children are skipped, and so is whatever a
    /// known child holds that `on` did not read.
    pub(super) fn children(
        &mut self,
        parent: &'static str,
        mut on: impl FnMut(&mut Self, &str, &BytesStart<'a>, bool) -> Result<()>,
    ) -> Result<()> {
        loop {
            match self.next(parent)? {
                Item::End => return Ok(()),
                Item::Child { start, has_children } => {
                    let depth = self.depth;
                    let local = start.local_name();
                    on(self, local.as_ref(), &start, has_children)?;
                    if has_children && self.depth == depth {
                        self.skip(parent)?;
                    }
                }
            }
        }
    }

    /// Reads up to the root element, which must be `name` in our namespace: optional white
    /// space, then its start tag. Returns the start tag and whether it has children.
    pub(super) fn root(&mut self, name: &str) -> Result<(BytesStart<'a>, bool)> {
        loop {
            let (ours, event) = self.read()?;
            match event {
                Event::Text(text) if is_blank(&text) => {}
                Event::Start(start) | Event::Empty(start) if !ours || start.local_name().as_ref() != name => {
                    return Err(XmlError::WrongRoot);
                }
                Event::Start(start) => {
                    self.depth = 1;
                    return Ok((start, true));
                }
                Event::Empty(start) => return Ok((start, false)),
                Event::Decl(_) => return Err(XmlError::Forbidden("XML declaration")),
                Event::DocType(_) => return Err(XmlError::Forbidden("document type declaration")),
                Event::PI(_) => return Err(XmlError::Forbidden("processing instruction")),
                Event::Comment(_) => return Err(XmlError::Forbidden("comment")),
                _ => return Err(XmlError::WrongRoot),
            }
        }
    }

    /// Checks that nothing but white space follows the root element.
    pub(super) fn end_of_document(&mut self) -> Result<()> {
        loop {
            match self.read()?.1 {
                Event::Eof => return Ok(()),
                Event::Text(text) if is_blank(&text) => {}
                _ => return Err(XmlError::Forbidden("content after the root element")),
            }
        }
    }

    /// Reads the whole document: optional white space, one `<report>`, optional white space.
    pub(super) fn report(mut self) -> Result<DeviceReport> {
        let (start, has_children) = self.root("report")?;
        let mut report = DeviceReport::default();
        attrs(&start, "report", |key, v| {
            if key == "generated_at" {
                report.generated_at = v.time()?;
            }
            Ok(())
        })?;
        if has_children {
            self.children("report", |r, name, start, has_children| {
                match name {
                    "identity" => report.identity = r.identity(start, has_children)?,
                    "snapshot" if has_children => report.snapshot = r.snapshot()?,
                    "events" if has_children => report.events = r.events()?,
                    _ => {}
                }
                Ok(())
            })?;
        }
        self.end_of_document()?;
        Ok(report)
    }

    pub(super) fn identity(&mut self, start: &BytesStart<'_>, has_children: bool) -> Result<Identity> {
        let mut i = Identity::default();
        attrs(start, "identity", |key, v| {
            match key {
                "record_id" => i.record_id = RecordId(v.u64()?),
                "make" => i.make = Some(v.text()?),
                "model" => i.model = Some(v.text()?),
                "serial_number" => i.serial_number = Some(v.text()?),
                "product_number" => i.product_number = Some(v.text()?),
                "product_name" => i.product_name = Some(v.text()?),
                "firmware_version" => i.firmware_version = Some(v.text()?),
                "description" => i.description = Some(v.text()?),
                "object_id" => i.object_id = Some(v.text()?),
                "mac_address" => i.mac_address = Some(v.parse()?),
                "hostname" => i.hostname = Some(v.text()?),
                "location" => i.location = Some(v.text()?),
                "zone" => i.zone = Some(v.text()?),
                "contact" => i.contact = Some(v.text()?),
                _ => {}
            }
            Ok(())
        })?;
        if has_children {
            self.children("identity", |_, name, start, _| {
                if name == "ip_address" {
                    check_room(&i.ip_addresses, "ip_address", MAX_IP_ADDRESSES)?;
                    let mut ip = None;
                    attrs(start, "ip_address", |key, v| {
                        if key == "value" {
                            ip = Some(v.parse::<IpAddr>()?);
                        }
                        Ok(())
                    })?;
                    let ip = ip.ok_or(XmlError::MissingAttribute { element: "ip_address", attribute: "value" })?;
                    i.ip_addresses.push(ip);
                }
                Ok(())
            })?;
        }
        Ok(i)
    }

    pub(super) fn snapshot(&mut self) -> Result<Snapshot> {
        let mut s = Snapshot::default();
        self.children("snapshot", |r, name, start, has_children| r.snapshot_child(&mut s, name, start, has_children))?;
        Ok(s)
    }

    /// Reads one child of a `<snapshot>` into `s` (a delta's lists hold the same elements, and
    /// are read the same way). Unknown names are ignored.
    pub(super) fn snapshot_child(
        &mut self,
        s: &mut Snapshot,
        name: &str,
        start: &BytesStart<'a>,
        has_children: bool,
    ) -> Result<()> {
        match name {
            "status" => {
                attrs(start, "status", |key, v| {
                    match key {
                        "engine" => s.status.engine = v.code()?,
                        "device" => s.status.device = v.code()?,
                        "printer" => s.status.printer = v.code()?,
                        "errors" => s.status.errors = v.errors()?,
                        _ => {}
                    }
                    Ok(())
                })?;
            }
            "meter" => {
                if s.meters.len() >= MAX_METERS {
                    return Err(XmlError::TooMany { element: "meter", limit: MAX_METERS });
                }
                let (mut kind, mut value) = (None, None);
                attrs(start, "meter", |key, v| {
                    match key {
                        "kind" => kind = Some(v.parse::<MeterKind>()?),
                        "value" => value = Some(v.u64()?),
                        _ => {}
                    }
                    Ok(())
                })?;
                let kind = kind.ok_or(XmlError::MissingAttribute { element: "meter", attribute: "kind" })?;
                let value = value.ok_or(XmlError::MissingAttribute { element: "meter", attribute: "value" })?;
                if s.meters.set(kind, value).is_some() {
                    return Err(XmlError::BadValue { element: "meter", attribute: "kind".into() });
                }
            }
            "consumable" => {
                check_room(&s.consumables, "consumable", MAX_RECORDS)?;
                s.consumables.push(consumable(start)?);
            }
            "alert" => {
                check_room(&s.alerts, "alert", MAX_RECORDS)?;
                s.alerts.push(alert(start)?);
            }
            "printhead" => {
                check_room(&s.printheads, "printhead", MAX_RECORDS)?;
                let mut p = printhead(start)?;
                if has_children {
                    self.children("printhead", |_, name, start, _| {
                        if name == "colour" {
                            check_room(&p.colours, "colour", MAX_NESTED)?;
                            let mut colour = None;
                            attrs(start, "colour", |key, v| {
                                if key == "name" {
                                    colour = Some(v.colour()?);
                                }
                                Ok(())
                            })?;
                            p.colours.push(
                                colour.ok_or(XmlError::MissingAttribute { element: "colour", attribute: "name" })?,
                            );
                        }
                        Ok(())
                    })?;
                }
                s.printheads.push(p);
            }
            "cartridge" => {
                check_room(&s.cartridges, "cartridge", MAX_RECORDS)?;
                s.cartridges.push(cartridge(start)?);
            }
            "media_source" => {
                check_room(&s.media_sources, "media_source", MAX_RECORDS)?;
                s.media_sources.push(media_source(start)?);
            }
            "media_type" => {
                check_room(&s.media_types, "media_type", MAX_MEDIA_TYPES)?;
                let mut m = MediaType::default();
                attrs(start, "media_type", |key, v| {
                    if key == "id" {
                        m.id = v.text()?;
                    }
                    Ok(())
                })?;
                if has_children {
                    self.children("media_type", |_, name, start, _| {
                        if name == "name" {
                            let (k, v) = pair(start, "name", "lang", "value")?;
                            insert_limited(&mut m.names, "name", k, v)?;
                        }
                        Ok(())
                    })?;
                }
                s.media_types.push(m);
            }
            "settings" if has_children => {
                self.children("settings", |r, name, start, has_children| {
                    match name {
                        "job_category_threshold" => {
                            let list = &mut s.settings.job_category_thresholds;
                            check_room(list, "job_category_threshold", MAX_NESTED)?;
                            let mut t = JobCategoryThreshold::default();
                            attrs(start, "job_category_threshold", |key, v| {
                                match key {
                                    "category" => t.category = v.text()?,
                                    "max_coverage" => t.max_coverage = v.basis_points()?,
                                    _ => {}
                                }
                                Ok(())
                            })?;
                            list.push(t);
                        }
                        "print_category" => {
                            let list = &mut s.settings.print_categories;
                            check_room(list, "print_category", MAX_NESTED)?;
                            let mut c = PrintCategory::default();
                            attrs(start, "print_category", |key, v| {
                                match key {
                                    "category" => c.category = v.text()?,
                                    "name" => c.name = Some(v.text()?),
                                    "enabled" => c.enabled = v.bool()?,
                                    _ => {}
                                }
                                Ok(())
                            })?;
                            if has_children {
                                r.children("print_category", |_, name, start, _| {
                                    if name == "setting" {
                                        let (k, v) = pair(start, "setting", "key", "value")?;
                                        insert_limited(&mut c.settings, "setting", k, v)?;
                                    }
                                    Ok(())
                                })?;
                            }
                            list.push(c);
                        }
                        _ => {}
                    }
                    Ok(())
                })?;
            }
            "accessory" => {
                check_room(&s.accessories, "accessory", MAX_RECORDS)?;
                s.accessories.push(accessory(start)?);
            }
            "usage" => s.usage = Some(self.usage(start, has_children)?),
            _ => {}
        }
        Ok(())
    }

    fn usage(&mut self, start: &BytesStart<'_>, has_children: bool) -> Result<Usage> {
        let mut u = Usage::default();
        attrs(start, "usage", |key, v| {
            match key {
                "scanned_area_total" => u.scanned_area_total = AreaMm2(v.u64()?),
                "scanned_area_scans" => u.scanned_area_scans = AreaMm2(v.u64()?),
                "scanned_area_copies" => u.scanned_area_copies = AreaMm2(v.u64()?),
                "jobs" => u.jobs = v.u64()?,
                "pages" => u.pages = PageCount(v.u64()?),
                "ink_total" => u.ink_total = InkNl(v.u64()?),
                "media_total" => u.media_total = AreaMm2(v.u64()?),
                _ => {}
            }
            Ok(())
        })?;
        if has_children {
            self.children("usage", |_, name, start, _| {
                match name {
                    "cartridge_type_usage" => {
                        check_room(&u.cartridge_types, "cartridge_type_usage", MAX_NESTED)?;
                        let mut c = CartridgeTypeUsage::default();
                        attrs(start, "cartridge_type_usage", |key, v| {
                            match key {
                                "product_number" => c.product_number = v.text()?,
                                "ink_total" => c.ink_total = InkNl(v.u64()?),
                                "ink_third_party" => c.ink_third_party = InkNl(v.u64()?),
                                "ink_oem" => c.ink_oem = InkNl(v.u64()?),
                                "insertions" => c.insertions = v.u64()?,
                                _ => {}
                            }
                            Ok(())
                        })?;
                        u.cartridge_types.push(c);
                    }
                    "media_type_usage" => {
                        check_room(&u.media_types, "media_type_usage", MAX_NESTED)?;
                        let mut m = MediaTypeUsage::default();
                        attrs(start, "media_type_usage", |key, v| {
                            match key {
                                "media_type" => m.media_type = v.text()?,
                                "area" => m.area = AreaMm2(v.u64()?),
                                "length" => m.length = Some(LengthUm(v.u64()?)),
                                _ => {}
                            }
                            Ok(())
                        })?;
                        u.media_types.push(m);
                    }
                    "application_category_usage" => {
                        check_room(&u.application_categories, "application_category_usage", MAX_NESTED)?;
                        let mut a = ApplicationCategoryUsage::default();
                        attrs(start, "application_category_usage", |key, v| {
                            match key {
                                "category" => a.category = v.text()?,
                                "media_area" => a.media_area = AreaMm2(v.u64()?),
                                "media_length" => a.media_length = LengthUm(v.u64()?),
                                _ => {}
                            }
                            Ok(())
                        })?;
                        u.application_categories.push(a);
                    }
                    _ => {}
                }
                Ok(())
            })?;
        }
        Ok(u)
    }

    pub(super) fn events(&mut self) -> Result<Events> {
        let mut e = Events::default();
        self.children("events", |r, name, _, has_children| {
            match name {
                "print_job" => {
                    check_room(&e.print_jobs, "print_job", MAX_JOBS)?;
                    let (job, _, print) = r.job("print_job", has_children)?;
                    let print = print.ok_or(XmlError::MissingElement { element: "print_job", child: "print" })?;
                    e.print_jobs.push(PrintJob { job, print });
                }
                "scan_job" => {
                    check_room(&e.scan_jobs, "scan_job", MAX_JOBS)?;
                    let (job, scan, _) = r.job("scan_job", has_children)?;
                    let scan = scan.ok_or(XmlError::MissingElement { element: "scan_job", child: "scan" })?;
                    e.scan_jobs.push(ScanJob { job, scan });
                }
                "copy_job" => {
                    check_room(&e.copy_jobs, "copy_job", MAX_JOBS)?;
                    let (job, scan, print) = r.job("copy_job", has_children)?;
                    let scan = scan.ok_or(XmlError::MissingElement { element: "copy_job", child: "scan" })?;
                    let print = print.ok_or(XmlError::MissingElement { element: "copy_job", child: "print" })?;
                    e.copy_jobs.push(CopyJob { job, scan, print });
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(e)
    }

    /// The children of a `print_job`, `scan_job` or `copy_job`.
    pub(super) fn job(
        &mut self,
        element: &'static str,
        has_children: bool,
    ) -> Result<(JobHeader, Option<ScanDetails>, Option<PrintDetails>)> {
        let (mut header, mut scan_part, mut print_part) = (None, None, None);
        if has_children {
            self.children(element, |r, name, start, has_children| {
                match name {
                    "job" => header = Some(job_header(start)?),
                    "scan" => scan_part = Some(scan(start)?),
                    "print" => print_part = Some(r.print(start, has_children)?),
                    _ => {}
                }
                Ok(())
            })?;
        }
        let header = header.ok_or(XmlError::MissingElement { element, child: "job" })?;
        Ok((header, scan_part, print_part))
    }

    fn print(&mut self, start: &BytesStart<'_>, has_children: bool) -> Result<PrintDetails> {
        let mut p = PrintDetails::default();
        attrs(start, "print", |key, v| {
            match key {
                "printed_at" => p.printed_at = Some(v.time()?),
                "status" => p.status = v.code()?,
                "source" => p.source = v.code()?,
                "ink_coverage_category" => p.ink_coverage_category = Some(v.text()?),
                "quality" => p.quality = v.code()?,
                "pages" => p.pages = PageCount(v.u64()?),
                "copies" => p.copies = v.u32()?,
                "print_time" => p.print_time = DurationMs(v.u64()?),
                "media_area" => p.media_area = AreaMm2(v.u64()?),
                "printed_area" => p.printed_area = AreaMm2(v.u64()?),
                "non_white_coverage" => p.non_white_coverage = Some(v.basis_points()?),
                "colour_coverage" => p.colour_coverage = Some(v.basis_points()?),
                _ => {}
            }
            Ok(())
        })?;
        if has_children {
            self.children("print", |_, name, start, _| {
                match name {
                    "ink" => {
                        check_room(&p.ink, "ink", MAX_NESTED)?;
                        let (mut colour, mut volume) = (None, InkNl::ZERO);
                        attrs(start, "ink", |key, v| {
                            match key {
                                "colour" => colour = Some(v.colour()?),
                                "volume" => volume = InkNl(v.u64()?),
                                _ => {}
                            }
                            Ok(())
                        })?;
                        let colour =
                            colour.ok_or(XmlError::MissingAttribute { element: "ink", attribute: "colour" })?;
                        p.ink.push(InkUse { colour, volume });
                    }
                    "application_category" => {
                        check_room(&p.application_categories, "application_category", MAX_NESTED)?;
                        let mut c = JobCategoryUsage::default();
                        attrs(start, "application_category", |key, v| {
                            match key {
                                "category" => c.category = v.text()?,
                                "media_area" => c.media_area = AreaMm2(v.u64()?),
                                "printed_area" => c.printed_area = AreaMm2(v.u64()?),
                                "ink" => c.ink = InkNl(v.u64()?),
                                "media_length" => c.media_length = LengthUm(v.u64()?),
                                _ => {}
                            }
                            Ok(())
                        })?;
                        p.application_categories.push(c);
                    }
                    _ => {}
                }
                Ok(())
            })?;
        }
        Ok(p)
    }
}

pub(super) fn check_room<T>(list: &[T], element: &'static str, limit: usize) -> Result<()> {
    if list.len() >= limit { Err(XmlError::TooMany { element, limit }) } else { Ok(()) }
}

fn insert_limited(
    map: &mut std::collections::BTreeMap<String, String>,
    element: &'static str,
    key: String,
    value: String,
) -> Result<()> {
    if map.len() >= MAX_NESTED {
        return Err(XmlError::TooMany { element, limit: MAX_NESTED });
    }
    if map.insert(key, value).is_some() {
        return Err(XmlError::BadValue { element, attribute: "key".into() });
    }
    Ok(())
}

/// An attribute value, normalised and unescaped, with what is needed to report a bad one.
pub(super) struct Value<'v> {
    text: Cow<'v, str>,
    element: &'static str,
    key: &'v str,
}

impl Value<'_> {
    pub(super) fn bad(&self) -> XmlError {
        XmlError::BadValue { element: self.element, attribute: self.key.to_owned() }
    }

    pub(super) fn text(self) -> Result<String> {
        if self.text.len() > MAX_TEXT_BYTES {
            return Err(self.bad());
        }
        Ok(self.text.into_owned())
    }

    pub(super) fn parse<T: core::str::FromStr>(&self) -> Result<T> {
        self.text.parse().map_err(|_| self.bad())
    }

    /// A decimal `u64` in canonical form: see [`canonical_u64`].
    pub(super) fn u64(&self) -> Result<u64> {
        canonical_u64(&self.text).ok_or_else(|| self.bad())
    }

    pub(super) fn u32(&self) -> Result<u32> {
        u32::try_from(self.u64()?).map_err(|_| self.bad())
    }

    pub(super) fn time(&self) -> Result<Timestamp> {
        Timestamp::from_unix_millis(self.u64()?).map_err(|_| self.bad())
    }

    pub(super) fn basis_points(&self) -> Result<BasisPoints> {
        u16::try_from(self.u64()?).ok().and_then(|v| BasisPoints::new(v).ok()).ok_or_else(|| self.bad())
    }

    pub(super) fn bool(&self) -> Result<bool> {
        match self.text.as_ref() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(self.bad()),
        }
    }

    /// A code: its snake_case name, or its number.
    pub(super) fn code<C: CodeSpace>(&self) -> Result<C> {
        if self.text.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return Ok(C::from_code(self.u32()?));
        }
        C::from_name(&self.text).ok_or_else(|| self.bad())
    }

    pub(super) fn colour(&self) -> Result<Colour> {
        if self.text.len() > MAX_TEXT_BYTES || self.text.trim().is_empty() {
            return Err(self.bad());
        }
        Ok(Colour::parse(&self.text))
    }

    pub(super) fn level(&self) -> Result<Level> {
        match self.text.as_ref() {
            "unrestricted" => Ok(Level::Unrestricted),
            "unknown" => Ok(Level::Unknown),
            "some_remaining" => Ok(Level::SomeRemaining),
            _ => Level::from_mib(i64::try_from(self.u64()?).map_err(|_| self.bad())?).ok_or_else(|| self.bad()),
        }
    }

    pub(super) fn capacity(&self) -> Result<Capacity> {
        match self.text.as_ref() {
            "unrestricted" => Ok(Capacity::Unrestricted),
            "unknown" => Ok(Capacity::Unknown),
            _ => Capacity::from_mib(i64::try_from(self.u64()?).map_err(|_| self.bad())?).ok_or_else(|| self.bad()),
        }
    }

    /// `hrPrinterDetectedErrorState` as a space-separated list of names.
    pub(super) fn errors(&self) -> Result<DetectedErrors> {
        let mut set = DetectedErrors::NONE;
        for name in self.text.split_ascii_whitespace() {
            set = set.union(DetectedErrors::from_name(name).ok_or_else(|| self.bad())?);
        }
        Ok(set)
    }

    /// A 32-bit hash as exactly 8 lowercase hex digits.
    pub(super) fn hash32(&self) -> Result<u32> {
        let t = self.text.as_ref();
        if t.len() != 8 || !t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(self.bad());
        }
        u32::from_str_radix(t, 16).map_err(|_| self.bad())
    }

    /// A space-separated list of record ids, at most `limit` of them.
    pub(super) fn record_ids(&self, limit: usize) -> Result<Vec<RecordId>> {
        let mut ids = Vec::new();
        for word in self.text.split_ascii_whitespace() {
            if ids.len() >= limit {
                return Err(XmlError::TooMany { element: self.element, limit });
            }
            ids.push(RecordId(canonical_u64(word).ok_or_else(|| self.bad())?));
        }
        Ok(ids)
    }
}

/// A decimal `u64` in canonical form (no sign, no leading zeros), as `xs:unsignedLong`
/// without the leading `+` it allows, so every value has one spelling.
fn canonical_u64(text: &str) -> Option<u64> {
    let digits = text.as_bytes();
    if digits.is_empty() || (digits.len() > 1 && digits.first() == Some(&b'0')) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 { None } else { n.checked_mul(10)?.checked_add(u64::from(digit)) }
    })
}

/// Calls `on` with each unprefixed attribute of `start` except namespace declarations.
pub(super) fn attrs<'a>(
    start: &'a BytesStart<'_>,
    element: &'static str,
    mut on: impl FnMut(&'a str, Value<'a>) -> Result<()>,
) -> Result<()> {
    super::attrs::each(start.attributes_raw(), element, |key, text| {
        if key == "xmlns" || key.contains(':') {
            // Namespace declarations, and attributes of other vocabularies (xml:lang, ...).
            return Ok(());
        }
        on(key, Value { text, element, key })
    })
}

/// A `key`/`value` pair element (`name`, `setting`).
fn pair(
    start: &BytesStart<'_>,
    element: &'static str,
    key_attr: &'static str,
    value_attr: &'static str,
) -> Result<(String, String)> {
    let (mut k, mut v) = (None, None);
    attrs(start, element, |key, value| {
        if key == key_attr {
            k = Some(value.text()?);
        } else if key == value_attr {
            v = Some(value.text()?);
        }
        Ok(())
    })?;
    Ok((
        k.ok_or(XmlError::MissingAttribute { element, attribute: key_attr })?,
        v.ok_or(XmlError::MissingAttribute { element, attribute: value_attr })?,
    ))
}

fn consumable(start: &BytesStart<'_>) -> Result<Consumable> {
    let mut c = Consumable::default();
    attrs(start, "consumable", |key, v| {
        match key {
            "record_id" => c.record_id = RecordId(v.u64()?),
            "kind" => c.kind = v.code()?,
            "class" => c.class = v.code()?,
            "colour" => c.colour = Some(v.colour()?),
            "description" => c.description = Some(v.text()?),
            "part_number" => c.part_number = Some(v.text()?),
            "serial_number" => c.serial_number = Some(v.text()?),
            "unit" => c.unit = v.code()?,
            "level" => c.level = v.level()?,
            "capacity" => c.capacity = v.capacity()?,
            "status" => c.status = v.code()?,
            "page_count" => c.page_count = Some(PageCount(v.u64()?)),
            "observed_at" => c.observed_at = Some(v.time()?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(c)
}

fn alert(start: &BytesStart<'_>) -> Result<Alert> {
    let mut a = Alert::default();
    attrs(start, "alert", |key, v| {
        match key {
            "record_id" => a.record_id = RecordId(v.u64()?),
            "description" => a.description = Some(v.text()?),
            "code" => a.code = v.code()?,
            "vendor_code" => a.vendor_code = Some(v.text()?),
            "group" => a.group = v.code()?,
            "group_index" => a.group_index = Some(v.u32()?),
            "location" => a.location = Some(v.u32()?),
            "severity" => a.severity = v.code()?,
            "training_level" => a.training_level = v.code()?,
            "page_count" => a.page_count = Some(PageCount(v.u64()?)),
            "raised_at" => a.raised_at = Some(v.time()?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(a)
}

fn printhead(start: &BytesStart<'_>) -> Result<Printhead> {
    let mut p = Printhead::default();
    attrs(start, "printhead", |key, v| {
        match key {
            "record_id" => p.record_id = RecordId(v.u64()?),
            "status" => p.status = v.code()?,
            "health" => p.health = Some(v.basis_points()?),
            "product_number" => p.product_number = Some(v.text()?),
            "product_name" => p.product_name = Some(v.text()?),
            "serial_number" => p.serial_number = Some(v.text()?),
            "third_party_ink_used" => p.third_party_ink_used = v.bool()?,
            "expires_at" => p.expires_at = Some(v.time()?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(p)
}

fn cartridge(start: &BytesStart<'_>) -> Result<InkCartridge> {
    let mut c = InkCartridge::default();
    attrs(start, "cartridge", |key, v| {
        match key {
            "record_id" => c.record_id = RecordId(v.u64()?),
            "colour" => c.colour = Some(v.colour()?),
            "status" => c.status = v.code()?,
            "product_number" => c.product_number = Some(v.text()?),
            "product_name" => c.product_name = Some(v.text()?),
            "serial_number" => c.serial_number = Some(v.text()?),
            "manufacturer" => c.manufacturer = Some(v.text()?),
            "capacity" => c.capacity = Some(InkNl(v.u64()?)),
            "ink_consumed" => c.ink_consumed = Some(InkNl(v.u64()?)),
            "third_party_ink_consumed" => c.third_party_ink_consumed = Some(InkNl(v.u64()?)),
            "expires_at" => c.expires_at = Some(v.time()?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(c)
}

fn media_source(start: &BytesStart<'_>) -> Result<MediaSource> {
    let mut m = MediaSource::default();
    attrs(start, "media_source", |key, v| {
        match key {
            "record_id" => m.record_id = RecordId(v.u64()?),
            "kind" => m.kind = v.code()?,
            "name" => m.name = Some(v.text()?),
            "status" => m.status = v.code()?,
            "media_type" => m.media_type = Some(v.text()?),
            "width" => m.width = Some(LengthUm(v.u64()?)),
            "height" => m.height = Some(LengthUm(v.u64()?)),
            _ => {}
        }
        Ok(())
    })?;
    Ok(m)
}

fn accessory(start: &BytesStart<'_>) -> Result<Accessory> {
    let mut a = Accessory::default();
    attrs(start, "accessory", |key, v| {
        match key {
            "record_id" => a.record_id = RecordId(v.u64()?),
            "name" => a.name = v.text()?,
            "status" => a.status = v.code()?,
            "product_number" => a.product_number = Some(v.text()?),
            "serial_number" => a.serial_number = Some(v.text()?),
            "firmware_version" => a.firmware_version = Some(v.text()?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(a)
}

pub(super) fn job_header(start: &BytesStart<'_>) -> Result<JobHeader> {
    let mut h = JobHeader::default();
    let mut uuid = None;
    attrs(start, "job", |key, v| {
        let s = &mut h.submitter;
        match key {
            "name" => h.name = Some(v.text()?),
            "uuid" => uuid = Some(v.parse::<uuid::Uuid>()?),
            "sequence" => h.sequence = v.u64()?,
            "project_id" => s.project_id = Some(v.text()?),
            "application_id" => s.application_id = Some(v.text()?),
            "user_defined" => s.user_defined = Some(v.text()?),
            "account_id" => s.account_id = Some(v.text()?),
            "user_name" => s.user_name = Some(v.text()?),
            "submitted_at" => s.submitted_at = Some(v.time()?),
            _ => {}
        }
        Ok(())
    })?;
    h.uuid = uuid.ok_or(XmlError::MissingAttribute { element: "job", attribute: "uuid" })?;
    Ok(h)
}

fn scan(start: &BytesStart<'_>) -> Result<ScanDetails> {
    let mut s = ScanDetails::default();
    attrs(start, "scan", |key, v| {
        match key {
            "scanned_at" => s.scanned_at = Some(v.time()?),
            "status" => s.status = v.code()?,
            "scanned_area" => s.scanned_area = AreaMm2(v.u64()?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}
