//! The attributes of one start tag, read straight from the tag's raw text.
//!
//! quick-xml's attribute iterator is general (HTML mode, a heap list of keys for its duplicate
//! check), and `NsReader` ran it over every tag a second time looking for namespace
//! declarations: together about 40 % of the XML decoder's time on the typical report. This
//! scanner does the same checks for our one case: XML 1.0 attributes (`S Name S? = S? AttValue`,
//! §3.1), unique names, no `<` in a value. A value with no reference (`&`) and no raw tab, line
//! feed or carriage return, which is every value printfleet writes but texts holding those
//! characters, comes back borrowed as it is; the others go through quick-xml's own
//! attribute-value normalisation (§3.3.3), so both paths give the same text.

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::events::attributes::{AttrError, Attribute};
use quick_xml::name::QName;

use crate::error::XmlError;
use crate::limits::{MAX_XML_ATTRIBUTE_BYTES, MAX_XML_ATTRIBUTES};

/// XML white space (`S`, XML 1.0 §2.3).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Bytes that end an attribute name.
fn ends_name(b: u8) -> bool {
    is_space(b) || matches!(b, b'=' | b'"' | b'\'' | b'<' | b'>' | b'/' | b'&')
}

fn syntax(e: AttrError) -> XmlError {
    XmlError::Syntax { position: 0, source: quick_xml::Error::InvalidAttr(e) }
}

/// How many keys [`each`] keeps for its duplicate check; past them it reads the tag again.
const KEPT_KEYS: usize = 16;

/// Calls `on(key, value)` for each attribute in `raw` (a start tag's text after its name, as
/// `BytesStart::attributes_raw` gives it), in document order, with the value normalised.
/// `element` names the element in errors.
pub(super) fn each<'a>(
    raw: &'a str,
    element: &'static str,
    mut on: impl FnMut(&'a str, Cow<'a, str>) -> Result<(), XmlError>,
) -> Result<(), XmlError> {
    // For the duplicate check: one bit per key seen, chosen by a hash of the key, so that a key
    // whose bit is clear is new without comparing it with any other; on a clash it is compared
    // with the first keys, kept here, and the tag is read again only past them.
    let (mut count, mut summary) = (0usize, 0u128);
    let mut kept: [&str; KEPT_KEYS] = [""; KEPT_KEYS];
    // Only a tag with a raw tab, line feed or carriage return can hold a value that
    // normalisation changes without a reference: one vectorised search per tag, not per value.
    let raw_space = memchr::memchr3(b'\t', b'\n', b'\r', raw.as_bytes()).is_some();
    let mut at = 0usize;
    while let Some(attr) = next_attribute(raw, at, raw_space)? {
        at = attr.next;
        let key = attr.key;
        if count >= MAX_XML_ATTRIBUTES {
            return Err(XmlError::TooMany { element, limit: MAX_XML_ATTRIBUTES });
        }
        let bit = 1u128 << (key_hash(key) & 127);
        if summary & bit != 0
            && let Some(earlier) = earlier_key(raw, attr.key_start, key, kept.get(..count).unwrap_or(&kept))
        {
            return Err(syntax(AttrError::Duplicated(attr.key_start, earlier)));
        }
        summary |= bit;
        if let Some(slot) = kept.get_mut(count) {
            *slot = key;
        }
        count = count.saturating_add(1);

        if attr.value.len() > MAX_XML_ATTRIBUTE_BYTES {
            return Err(XmlError::BadValue { element, attribute: key.to_owned() });
        }
        on(key, if attr.plain { Cow::Borrowed(attr.value) } else { normalise(key, attr.value)? })?;
    }
    Ok(())
}

/// One attribute as it stands in the tag's text.
struct RawAttribute<'a> {
    key: &'a str,
    /// Where `key` starts in the tag's text.
    key_start: usize,
    /// The value between its quotes, not normalised.
    value: &'a str,
    /// Whether normalisation would leave `value` as it is.
    plain: bool,
    /// Where the next attribute's white space starts.
    next: usize,
}

/// Reads the attribute that starts at `at` in `raw` (`S Name S? = S? AttValue`), or `None` at
/// the end of the tag. `raw_space`: whether the tag holds a raw tab, LF or CR anywhere.
fn next_attribute(raw: &str, at: usize, raw_space: bool) -> Result<Option<RawAttribute<'_>>, XmlError> {
    let bytes = raw.as_bytes();
    let key_start = skip_space(bytes, at);
    if key_start >= bytes.len() {
        return Ok(None);
    }
    if key_start == at {
        // Attributes are separated from the name and from each other by white space.
        return Err(syntax(AttrError::ExpectedEq(at)));
    }
    let key_end = bytes
        .get(key_start..)
        .and_then(|rest| rest.iter().position(|&b| ends_name(b)))
        .map_or(bytes.len(), |n| key_start.saturating_add(n));
    let key =
        raw.get(key_start..key_end).filter(|k| !k.is_empty()).ok_or_else(|| syntax(AttrError::ExpectedEq(key_end)))?;
    let eq = skip_space(bytes, key_end);
    if bytes.get(eq) != Some(&b'=') {
        return Err(syntax(AttrError::ExpectedEq(eq)));
    }
    let open = skip_space(bytes, eq.saturating_add(1));
    let quote = match bytes.get(open) {
        Some(&q @ (b'"' | b'\'')) => q,
        Some(_) => return Err(syntax(AttrError::UnquotedValue(open))),
        None => return Err(syntax(AttrError::ExpectedValue(open))),
    };
    let value_start = open.saturating_add(1);
    // The closing quote, unless a reference or a '<' comes first: one vectorised search.
    let rest = bytes.get(value_start..).unwrap_or_default();
    let unterminated = || syntax(AttrError::ExpectedQuote(open, quote));
    let first = memchr::memchr3(quote, b'&', b'<', rest).ok_or_else(unterminated)?;
    let (len, plain) = if rest.get(first) == Some(&quote) {
        let spaced =
            raw_space && rest.get(..first).unwrap_or_default().iter().any(|&b| matches!(b, b'\t' | b'\n' | b'\r'));
        (first, !spaced)
    } else {
        (memchr::memchr(quote, rest).ok_or_else(unterminated)?, false)
    };
    let value_end = value_start.saturating_add(len);
    let value = raw.get(value_start..value_end).ok_or_else(unterminated)?;
    Ok(Some(RawAttribute { key, key_start, value, plain, next: value_end.saturating_add(1) }))
}

fn skip_space(bytes: &[u8], at: usize) -> usize {
    bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| !is_space(b)))
        .map_or(bytes.len(), |n| at.saturating_add(n))
}

/// Where in `raw` an earlier attribute has the name `key` (found at `key_start`), looking among
/// the `kept` keys (slices of `raw`) and, if all [`KEPT_KEYS`] were kept, the tag read again.
fn earlier_key(raw: &str, key_start: usize, key: &str, kept: &[&str]) -> Option<usize> {
    if let Some(found) = kept.iter().find(|k| **k == key) {
        return Some(found.as_ptr().addr().saturating_sub(raw.as_ptr().addr()));
    }
    if kept.len() < KEPT_KEYS {
        return None;
    }
    // Everything before `key_start` has been read once without error.
    let mut at = 0;
    while let Ok(Some(attr)) = next_attribute(raw, at, false) {
        if attr.key_start >= key_start {
            break;
        }
        if attr.key == key {
            return Some(attr.key_start);
        }
        at = attr.next;
    }
    None
}

/// A cheap hash of an attribute name for the duplicate check's summary.
fn key_hash(key: &str) -> usize {
    let b = key.as_bytes();
    let (first, last) = (b.first().copied().unwrap_or(0), b.last().copied().unwrap_or(0));
    let middle = b.get(b.len() / 2).copied().unwrap_or(0);
    b.len().wrapping_mul(31)
        ^ usize::from(first).wrapping_mul(7)
        ^ usize::from(middle).wrapping_mul(3)
        ^ usize::from(last)
}

/// An attribute value as XML 1.0 §3.3.3 normalises it: references replaced, each white space
/// character (and each CR LF pair) a space.
fn normalise<'a>(key: &'a str, value: &'a str) -> Result<Cow<'a, str>, XmlError> {
    if value.contains('<') {
        return Err(XmlError::Forbidden("'<' in an attribute value"));
    }
    Attribute { key: QName(key), value: Cow::Borrowed(value) }
        .normalized_value(XmlVersion::Implicit1_0)
        .map(|v| Cow::Owned(v.into_owned()))
        .map_err(|_| XmlError::Forbidden("reference other than a predefined entity or a valid character"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(raw: &str) -> Result<Vec<(String, String)>, XmlError> {
        let mut out = Vec::new();
        each(raw, "test", |k, v| {
            out.push((k.to_owned(), v.into_owned()));
            Ok(())
        })?;
        Ok(out)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn reads_what_the_grammar_allows() {
        assert_eq!(all("").unwrap(), pairs(&[]));
        assert_eq!(all("  ").unwrap(), pairs(&[]));
        assert_eq!(all(r#" a="1" b='2'"#).unwrap(), pairs(&[("a", "1"), ("b", "2")]));
        assert_eq!(all(" a = \"x y\"\n\tb\r\n=\r\n'q\"q' ").unwrap(), pairs(&[("a", "x y"), ("b", "q\"q")]));
        assert_eq!(all(r#" xmlns:p="urn:x" p:a="1""#).unwrap(), pairs(&[("xmlns:p", "urn:x"), ("p:a", "1")]));
        assert_eq!(all(r#" a="""#).unwrap(), pairs(&[("a", "")]));
    }

    #[test]
    fn normalises_like_quick_xml() {
        // XML 1.0 §3.3.3: references replaced, white space characters (CR LF as one) to spaces.
        let cases = [
            ("a&amp;b&lt;c&gt;d&quot;e&apos;f", "a&b<c>d\"e'f"),
            ("tab\there", "tab here"),
            ("line\r\nbreak\rand\nmore", "line break and more"),
            ("&#x41;&#66;&#x1F5A8;", "AB\u{1F5A8}"),
            ("&#10;&#9;", "\n\t"),
        ];
        for (raw, want) in cases {
            assert_eq!(all(&format!(" v=\"{raw}\"")).unwrap(), pairs(&[("v", want)]), "{raw}");
            let quick = Attribute { key: QName("v"), value: Cow::Borrowed(raw) };
            assert_eq!(quick.normalized_value(XmlVersion::Implicit1_0).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn refuses_what_it_must() {
        let syntax = |raw: &str| matches!(all(raw), Err(XmlError::Syntax { .. }));
        for raw in [
            r#"a="1""#,        // no space after the name
            r#" a="1"b="2""#,  // none between attributes
            r#" a"#,           // no =
            r#" a "#,          // no =
            r#" ="1""#,        // no name
            r#" a="#,          // no value
            r#" a=1"#,         // unquoted
            r#" a="1"#,        // unterminated
            r#" a='1""#,       // mismatched quotes
            r#" a="1" a="2""#, // duplicate
            r#" a="1" b="2" a="3""#,
        ] {
            assert!(syntax(raw), "{raw:?} gave {:?}", all(raw));
        }
        assert!(matches!(all(r#" a="x<y""#), Err(XmlError::Forbidden(_))));
        assert!(matches!(all(r#" a="&nbsp;""#), Err(XmlError::Forbidden(_))));
        assert!(matches!(all(r#" a="&#0;""#), Err(XmlError::Forbidden(_))));
        assert!(matches!(all(r#" a="&amp""#), Err(XmlError::Forbidden(_))));
    }

    #[test]
    fn duplicate_check_tells_apart_keys_with_the_same_summary_bit() {
        // Two different names whose hashes pick the same bit of the summary.
        let names: Vec<String> =
            (b'a'..=b'z').flat_map(|x| (b'a'..=b'z').map(move |y| String::from_utf8(vec![x, y]).unwrap())).collect();
        let (a, b) = names
            .iter()
            .enumerate()
            .find_map(|(i, a)| {
                names.get(i + 1..)?.iter().find(|b| key_hash(a) & 127 == key_hash(b) & 127).map(|b| (a, b))
            })
            .expect("26 x 26 names share some of 128 bits");
        assert_eq!(all(&format!(" {a}='1' {b}='2'")).unwrap(), pairs(&[(a, "1"), (b, "2")]));
        match all(&format!(" {a}='1' {b}='2' {a}='3'")) {
            Err(XmlError::Syntax {
                source: quick_xml::Error::InvalidAttr(AttrError::Duplicated(at, earlier)), ..
            }) => {
                assert_eq!((at, earlier), (15, 1));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicate_check_reaches_past_the_kept_keys() {
        let distinct: String = (0..KEPT_KEYS + 4).map(|i| format!(" k{i}='{i}'")).collect();
        assert_eq!(all(&distinct).unwrap().len(), KEPT_KEYS + 4);
        for repeated in [0, KEPT_KEYS - 1, KEPT_KEYS, KEPT_KEYS + 3] {
            let raw = format!("{distinct} k{repeated}='again'");
            assert!(matches!(all(&raw), Err(XmlError::Syntax { .. })), "k{repeated}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        let many: String = (0..MAX_XML_ATTRIBUTES).map(|i| format!(" a{i}=\"1\"")).collect();
        assert_eq!(all(&many).unwrap().len(), MAX_XML_ATTRIBUTES);
        let too_many = format!("{many} z=\"1\"");
        assert!(matches!(all(&too_many), Err(XmlError::TooMany { limit: MAX_XML_ATTRIBUTES, .. })));
        let long = format!(" a=\"{}\"", "x".repeat(MAX_XML_ATTRIBUTE_BYTES + 1));
        assert!(matches!(all(&long), Err(XmlError::BadValue { .. })));
    }
}
