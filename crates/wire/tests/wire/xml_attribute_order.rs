//! docs/wire-format.md section 3: a writer emits each element's attributes in the field-number
//! order of its message (`xmlns` first on the root; `<job>` carries the `JobHeader` fields, then
//! the `Submitter` fields). Checked on every golden XML file, report and update alike, against
//! the field numbers of the `.proto` itself (the descriptor set the build script writes).

use std::collections::BTreeMap;
use std::path::PathBuf;

use prost::Message as _;
use quick_xml::events::Event;

/// Field names of every message of the `.proto`, in field-number order.
fn fields_by_message() -> BTreeMap<String, Vec<String>> {
    let bytes = include_bytes!(concat!(env!("OUT_DIR"), "/telemetry.fds"));
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).unwrap();
    let mut out = BTreeMap::new();
    for file in &set.file {
        for message in &file.message_type {
            let mut fields: Vec<_> = message.field.iter().map(|f| (f.number(), f.name().to_owned())).collect();
            fields.sort();
            out.insert(message.name().to_owned(), fields.into_iter().map(|(_, name)| name).collect());
        }
    }
    out
}

/// The message whose fields an element's attributes are (`None`: an element of its own grammar,
/// such as `<ip_address value>`, whose order section 3 lists separately).
fn message_of(element: &str, in_delta: bool) -> Option<&'static str> {
    Some(match element {
        "report" => "DeviceReport",
        "identity" => "Identity",
        "status" => "DeviceStatus",
        "meter" if in_delta => "MeterChange",
        "meter" => "Meter",
        "colour" => "Colour",
        "consumable" => "Consumable",
        "alert" => "Alert",
        "printhead" => "Printhead",
        "cartridge" => "InkCartridge",
        "media_source" => "MediaSource",
        "media_type" => "MediaType",
        "job_category_threshold" => "JobCategoryThreshold",
        "print_category" => "PrintCategory",
        "accessory" => "Accessory",
        "usage" => "Usage",
        "cartridge_type_usage" => "CartridgeTypeUsage",
        "media_type_usage" => "MediaTypeUsage",
        "application_category_usage" => "ApplicationCategoryUsage",
        "job" => "JobHeader",
        "print" => "PrintDetails",
        "ink" => "InkUse",
        "application_category" => "JobCategoryUsage",
        "scan" => "ScanDetails",
        "update" => "Update",
        "reply" => "Reply",
        "ack" => "StateRef",
        _ => return None,
    })
}

/// Checks one document; returns how many attributes it checked.
fn check(name: &str, text: &str, fields: &BTreeMap<String, Vec<String>>) -> usize {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut open: Vec<String> = Vec::new();
    let mut checked = 0;
    loop {
        let event = reader.read_event().unwrap();
        let (start, empty) = match event {
            Event::Start(s) => (s, false),
            Event::Empty(s) => (s, true),
            Event::End(_) => {
                open.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let element = String::from_utf8_lossy(AsRef::<[u8]>::as_ref(start.local_name().into_inner())).into_owned();
        let attrs: Vec<String> = start
            .attributes()
            .map(|a| String::from_utf8_lossy(AsRef::<[u8]>::as_ref(a.unwrap().key.into_inner())).into_owned())
            .collect();
        let root = open.is_empty();
        assert_eq!(
            root,
            attrs.first().is_some_and(|a| a == "xmlns"),
            "{name}: <{element}>: xmlns first on the root only"
        );
        if let Some(message) = message_of(&element, open.iter().any(|e| e == "delta")) {
            let mut order = fields[message].clone();
            if message == "JobHeader" {
                order.extend(fields["Submitter"].iter().cloned());
            }
            let mut last = None;
            for attr in attrs.iter().filter(|a| *a != "xmlns") {
                let at = order.iter().position(|f| f == attr);
                let at = at.unwrap_or_else(|| panic!("{name}: <{element} {attr}> is not a field of {message}"));
                assert!(last < Some(at), "{name}: <{element}>: {attr} out of field-number order: {attrs:?}");
                last = Some(at);
                checked += 1;
            }
        }
        if !empty {
            open.push(element);
        }
    }
    checked
}

#[test]
fn golden_xml_attributes_are_in_field_number_order() {
    let fields = fields_by_message();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [root.join("testdata"), root.join("../diff/testdata")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "xml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert_eq!(files.len(), 9, "4 reports, 3 updates, 2 replies");
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let checked = check(&name, &std::fs::read_to_string(&path).unwrap(), &fields);
        assert!(checked > 0, "{name}: nothing checked");
    }
    // Fields the golden files predate (they stay byte-identical): `MediaTypeUsage::length`.
    let mut report = printfleet_schema::samples::large_format(1);
    for m in &mut report.snapshot.usage.as_mut().unwrap().media_types {
        m.length = Some(printfleet_schema::LengthUm(1_000));
    }
    let xml = String::from_utf8(printfleet_wire::Codec::Xml.encode_to_vec(&report).unwrap()).unwrap();
    assert!(xml.contains(r#"area="418500000" length="1000"/>"#), "{xml}");
    assert!(check("large_format with lengths", &xml, &fields) > 0);
    // The check itself catches a swap (a test that cannot fail is a defect).
    let swapped =
        r#"<report xmlns="urn:printfleet:telemetry:1" generated_at="1"><identity make="HP" record_id="1"/></report>"#;
    assert!(std::panic::catch_unwind(|| check("swapped", swapped, &fields)).is_err());
}
