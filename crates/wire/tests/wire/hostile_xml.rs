//! The XML reader against the attacks and malformations it must refuse, and the extensions it
//! must tolerate.

use printfleet_schema::limits::{MAX_RECORDS, MAX_TEXT_BYTES};
use printfleet_schema::samples;
use printfleet_wire::limits::MAX_XML_DEPTH;
use printfleet_wire::{Codec, Error, XmlError};

const NS: &str = "urn:printfleet:telemetry:1";

fn decode(xml: &str) -> Result<printfleet_schema::DeviceReport, Error> {
    Codec::Xml.decode(xml.as_bytes())
}

fn xml_err(xml: &str) -> XmlError {
    match decode(xml) {
        Err(Error::Xml(e)) => e,
        other => panic!("expected an XML error for {xml:.120}, got {other:?}"),
    }
}

fn minimal(inner: &str) -> String {
    format!(r#"<report xmlns="{NS}" generated_at="1">{inner}</report>"#)
}

#[test]
fn minimal_report_decodes() {
    let r = decode(&format!(r#"<report xmlns="{NS}" generated_at="5"/>"#)).unwrap();
    assert_eq!(r.generated_at.unix_millis(), 5);
    // A prefixed namespace works as well as the default one.
    let r = decode(&format!(r#"<pf:report xmlns:pf="{NS}" generated_at="6"><pf:identity make="HP"/></pf:report>"#))
        .unwrap();
    assert_eq!(r.identity.make.as_deref(), Some("HP"));
}

#[test]
fn dtds_entities_and_external_entities_are_refused() {
    let billion_laughs = r#"<!DOCTYPE report [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><report xmlns="urn:printfleet:telemetry:1" generated_at="1"><identity make="&lol2;"/></report>"#;
    assert!(matches!(xml_err(billion_laughs), XmlError::Forbidden("document type declaration")));
    let xxe = r#"<!DOCTYPE report [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><report xmlns="urn:printfleet:telemetry:1"><identity make="&xxe;"/></report>"#;
    assert!(matches!(xml_err(xxe), XmlError::Forbidden("document type declaration")));
    // An undeclared entity in an attribute.
    let e = xml_err(&minimal(r#"<identity make="&xxe;"/>"#));
    assert!(matches!(e, XmlError::Forbidden(_)), "{e:?}");
}

#[test]
fn stanza_forbidden_constructs_are_refused() {
    assert!(matches!(
        xml_err(&format!(r#"<?xml version="1.0"?><report xmlns="{NS}"/>"#)),
        XmlError::Forbidden("XML declaration")
    ));
    assert!(matches!(xml_err(&minimal("<?php evil() ?>")), XmlError::Forbidden("processing instruction")));
    assert!(matches!(xml_err(&minimal("<!-- hidden -->")), XmlError::Forbidden("comment")));
    assert!(matches!(xml_err(&format!("<!-- c --><report xmlns=\"{NS}\"/>")), XmlError::Forbidden("comment")));
    assert!(matches!(xml_err(&minimal("<![CDATA[x]]>")), XmlError::Forbidden("CDATA section")));
    assert!(matches!(xml_err(&minimal("text")), XmlError::Forbidden("character data")));
    assert!(matches!(xml_err(&minimal("&amp;")), XmlError::Forbidden(_)));
    assert!(matches!(xml_err(&format!(r#"<report xmlns="{NS}"/><report xmlns="{NS}"/>"#)), XmlError::Forbidden(_)));
}

#[test]
fn namespaces_are_enforced() {
    assert!(matches!(xml_err(r#"<report generated_at="1"/>"#), XmlError::WrongRoot));
    assert!(matches!(xml_err(r#"<report xmlns="urn:other" generated_at="1"/>"#), XmlError::WrongRoot));
    assert!(matches!(xml_err(&format!(r#"<message xmlns="{NS}"/>"#)), XmlError::WrongRoot));
    assert!(matches!(
        xml_err(&minimal(r#"<x:identity xmlns:x="urn:other"/>"#)),
        XmlError::ForeignElement { parent: "report" }
    ));
    // An unbound prefix puts the element in no namespace we know.
    assert!(matches!(xml_err(&minimal(r#"<u:identity/>"#)), XmlError::ForeignElement { .. }), "unbound prefix");
}

#[test]
fn namespace_declarations_are_scoped_to_their_element() {
    // A prefix bound on a child holds inside it (and for its end tag) only.
    let r = decode(&minimal(&format!(r#"<p:identity xmlns:p="{NS}" make="HP"/>"#))).unwrap();
    assert_eq!(r.identity.make.as_deref(), Some("HP"));
    let r = decode(&minimal(&format!(
        r#"<p:snapshot xmlns:p="{NS}"><p:status engine="ready"/></p:snapshot><identity make="HP"/>"#
    )))
    .unwrap();
    assert_eq!(r.identity.make.as_deref(), Some("HP"));
    for leaked in [
        format!(r#"<p:identity xmlns:p="{NS}"/><p:snapshot/>"#),
        format!(r#"<p:snapshot xmlns:p="{NS}"></p:snapshot><p:events/>"#),
    ] {
        assert!(matches!(xml_err(&minimal(&leaked)), XmlError::ForeignElement { .. }), "{leaked}");
    }
    // The default namespace: undeclared or redeclared on a child, for that child only.
    assert!(matches!(xml_err(&minimal(r#"<identity xmlns=""/>"#)), XmlError::ForeignElement { .. }));
    assert!(matches!(xml_err(&minimal(r#"<identity xmlns="urn:other"/>"#)), XmlError::ForeignElement { .. }));
    let r = decode(&minimal(&format!(
        r#"<snapshot xmlns="{NS}"><status engine="ready"/></snapshot><identity make="HP"/>"#
    )))
    .unwrap();
    assert_eq!(r.identity.make.as_deref(), Some("HP"));
    // Binding the reserved prefixes wrongly is not namespace-well-formed.
    for bad in [r#"<identity xmlns:xmlns="urn:x"/>"#, r#"<identity xmlns:xml="urn:x"/>"#] {
        assert!(matches!(xml_err(&minimal(bad)), XmlError::Syntax { .. }), "{bad}");
    }
}

#[test]
fn depth_and_counts_are_limited() {
    let deep = format!("{}{}", "<x>".repeat(MAX_XML_DEPTH + 5), "</x>".repeat(MAX_XML_DEPTH + 5));
    assert!(matches!(xml_err(&minimal(&deep)), XmlError::TooDeep { .. }));
    let many = r#"<consumable record_id="1"/>"#.repeat(MAX_RECORDS + 1);
    assert!(matches!(
        xml_err(&minimal(&format!("<snapshot>{many}</snapshot>"))),
        XmlError::TooMany { element: "consumable", .. }
    ));
    let long = "x".repeat(MAX_TEXT_BYTES + 1);
    assert!(matches!(
        xml_err(&minimal(&format!(r#"<identity make="{long}"/>"#))),
        XmlError::BadValue { element: "identity", .. }
    ));
    let escaped = "&amp;".repeat(MAX_TEXT_BYTES * 2);
    assert!(matches!(xml_err(&minimal(&format!(r#"<identity make="{escaped}"/>"#))), XmlError::BadValue { .. }));
}

#[test]
fn malformed_values_are_typed_errors() {
    for bad in [
        r#"<identity record_id="-1"/>"#,
        r#"<identity record_id="+1"/>"#,
        r#"<identity record_id="01"/>"#,
        r#"<identity record_id="18446744073709551616"/>"#,
        r#"<identity mac_address="00:11"/>"#,
        r#"<snapshot><status engine="warming"/></snapshot>"#,
        r#"<snapshot><status errors="jammed melted"/></snapshot>"#,
        r#"<snapshot><consumable level="-3"/></snapshot>"#,
        r#"<snapshot><printhead health="10001"/></snapshot>"#,
        r#"<snapshot><meter kind="vendor:bad name" value="1"/></snapshot>"#,
        r#"<snapshot><meter kind="total"/></snapshot>"#,
        r#"<events><print_job><print/></print_job></events>"#,
        r#"<events><print_job><job uuid="not-a-uuid"/><print/></print_job></events>"#,
        r#"<events><scan_job><job uuid="00000000-0000-0000-0000-000000000001"/></scan_job></events>"#,
    ] {
        assert!(matches!(decode(&minimal(bad)), Err(Error::Xml(_))), "{bad}");
    }
    assert!(
        matches!(xml_err(&minimal(r#"<identity make="a" make="b"/>"#)), XmlError::Syntax { .. }),
        "duplicate attribute"
    );
    assert!(matches!(xml_err(&minimal("<identity>")), XmlError::Syntax { .. } | XmlError::Truncated));
    assert!(matches!(xml_err(&minimal("<identity></snapshot>")), XmlError::Syntax { .. }));
    assert!(matches!(Codec::Xml.decode(b"<report \xff/>"), Err(Error::Xml(XmlError::NotUtf8))));
    // Control characters arrive through character references; validation refuses them.
    assert!(matches!(decode(&minimal(r#"<identity make="a&#1;b"/>"#)), Err(Error::Invalid(_) | Error::Xml(_))));
}

#[test]
fn extensions_from_newer_writers_are_tolerated() {
    let report = samples::office_laser();
    let xml = String::from_utf8(Codec::Xml.encode_to_vec(&report).unwrap()).unwrap();
    // New attributes, new elements (with content) in our namespace, and xml:lang.
    let extended = xml
        .replace("<identity ", r#"<identity future_attr="1" xml:lang="en" "#)
        .replace("<snapshot>", r#"<snapshot><future_part a="1"><deeper/></future_part>"#)
        .replace("<meter ", r#"<meter unit="impressions" "#);
    assert_ne!(extended, xml);
    assert_eq!(decode(&extended).unwrap(), report);
    // White space between elements (pretty printing) is fine.
    let pretty = xml.replace("><", ">\n  <");
    assert_eq!(decode(&format!("\n{pretty}\n")).unwrap(), report);
    // Leaf elements written with an explicit end tag are fine.
    let explicit = xml.replacen(r#"/><meter"#, r#"></status><meter"#, 1);
    assert_eq!(decode(&explicit).unwrap(), report);
}

#[test]
fn attribute_whitespace_survives_only_as_references() {
    // What we write: references, so tab/CR/LF survive.
    let mut report = samples::office_laser();
    report.identity.location = Some("line 1\nline 2\tx\r".into());
    let xml = String::from_utf8(Codec::Xml.encode_to_vec(&report).unwrap()).unwrap();
    assert!(xml.contains("line 1&#10;line 2&#9;x&#13;"));
    assert_eq!(Codec::Xml.decode(xml.as_bytes()).unwrap(), report);
    // A literal newline in an attribute is normalised to a space (XML 1.0 §3.3.3).
    let r = decode(&minimal("<identity location=\"a\nb\"/>")).unwrap();
    assert_eq!(r.identity.location.as_deref(), Some("a b"));
}
