//! A printer's make, from a manufacturer field: the IANA private enterprise number of its SNMP
//! `sysObjectID`, the `MFG` of an IEEE 1284 device id, LEDM's `Manufacturer/Name`, or a known
//! make that `sysDescr` starts with. Never from the first word of a model name ("Color
//! LaserJet", "ECOSYS", "WorkCentre" are not makes) or from an unknown leading word.

use crate::snmp::Oid;

/// A printer vendor's IANA private enterprise number (`1.3.6.1.4.1.N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enterprise {
    /// The number.
    pub number: u32,
    /// The make as printfleet spells it.
    pub make: &'static str,
    /// The organisation as IANA registered it.
    pub registrant: &'static str,
}

/// Where the numbers are from: the IANA registry, and the printer manufacturers' list of the
/// Checkmk printer checks that names the same numbers as printer vendors.
pub const ENTERPRISE_CITATION: &str = "IANA Private Enterprise Numbers, https://www.iana.org/assignments/enterprise-numbers; \
     Checkmk/checkmk cmk/plugins/lib/printer.py PRINTER_MANUFACTURERS";

const fn e(number: u32, make: &'static str, registrant: &'static str) -> Enterprise {
    Enterprise { number, make, registrant }
}

/// Printer vendors' enterprise numbers, ascending. Sources: [`ENTERPRISE_CITATION`].
pub const ENTERPRISES: &[Enterprise] = &[
    e(2, "IBM", "IBM"),
    e(11, "HP", "Hewlett-Packard"),
    e(79, "Fujitsu", "Fujitsu"),
    e(116, "Hitachi", "Hitachi"),
    e(119, "NEC", "NEC Corporation"),
    e(122, "Sony", "Sony Corporation"),
    e(128, "Tektronix", "Tektronix"),
    e(186, "Toshiba", "Toshiba Corporation"),
    e(211, "Fujitsu", "Fujitsu Limited"),
    e(231, "Fujitsu", "Fujitsu Technology Solutions"),
    e(236, "Samsung", "Samsung Electronics"),
    e(253, "Xerox", "Xerox"),
    e(263, "Seiko", "Seiko Instruments"),
    e(279, "Olivetti", "Olivetti"),
    e(297, "Fuji Xerox", "Fuji Xerox"),
    e(314, "Kodak", "Eastman Kodak"),
    e(345, "Epson", "Epson"),
    e(367, "Ricoh", "Ricoh"),
    e(396, "Panasonic", "Panasonic"),
    e(641, "Lexmark", "Lexmark International"),
    e(674, "Dell", "Dell"),
    e(683, "Extended Systems", "Extended Systems"),
    e(1129, "Toshiba", "Toshiba TEC"),
    e(1248, "Epson", "Seiko Epson"),
    e(1347, "Kyocera", "Kyocera"),
    e(1472, "Sharp", "Sharp"),
    e(1552, "Oce", "Oce"),
    e(1602, "Canon", "Canon"),
    e(2001, "OKI", "Oki Data"),
    e(2385, "Sharp", "Sharp"),
    e(2435, "Brother", "Brother Industries"),
    e(3793, "Lanier", "Lanier"),
    e(5502, "Canon", "Canon Aptex"),
    e(10504, "Printronix", "Printronix"),
    e(10642, "Zebra", "Zebra Technologies"),
    e(11369, "Lenovo", "Lenovo"),
    e(18334, "Konica Minolta", "Konica Minolta"),
    e(20438, "Citizen", "Citizen"),
    e(24807, "Riso", "Riso Kagaku"),
    e(25278, "Canon", "Canon"),
    e(25549, "Star", "Star Micronics"),
    e(27748, "Canon", "Canon"),
    e(28708, "Fujifilm", "Fujifilm"),
    e(28959, "Fargo", "Fargo Electronics"),
    e(40463, "Troy", "Troy Group"),
    e(42406, "SATO", "SATO"),
];

/// The make behind the enterprise number of a `sysObjectID` (`1.3.6.1.4.1.N...`).
///
/// ```
/// use printfleet_sources::make::from_object_id;
/// assert_eq!(from_object_id(&"1.3.6.1.4.1.2435.2.3.9.1".parse()?), Some("Brother"));
/// assert_eq!(from_object_id(&"1.3.6.1.4.1.9.1.1".parse()?), None);
/// # Ok::<(), printfleet_sources::snmp::InvalidOid>(())
/// ```
pub fn from_object_id(object_id: &Oid) -> Option<&'static str> {
    let enterprise = *object_id.arcs().strip_prefix(&[1, 3, 6, 1, 4, 1][..])?.first()?;
    ENTERPRISES.iter().find(|e| e.number == enterprise).map(|e| e.make)
}

/// A manufacturer field (`MFG:`, `Manufacturer/Name`) as printfleet spells the make:
/// `EPSON` → `Epson`, `Hewlett-Packard` → `HP`, `KONICA MINOLTA` → `Konica Minolta`; a name
/// this table does not know is kept as the device wrote it. `None` for an empty field.
///
/// ```
/// use printfleet_sources::make::normalise;
/// assert_eq!(normalise("Hewlett-Packard").as_deref(), Some("HP"));
/// assert_eq!(normalise("  KYOCERA Document Solutions ").as_deref(), Some("Kyocera"));
/// assert_eq!(normalise("Acme Printing").as_deref(), Some("Acme Printing"));
/// ```
pub fn normalise(field: &str) -> Option<String> {
    let field = field.trim();
    if field.is_empty() {
        return None;
    }
    Some(known(field).map_or_else(|| field.to_owned(), str::to_owned))
}

/// The make a text starts with, if it is one this crate knows (a closed list: `Brother`, `EPSON`,
/// `KONICA MINOLTA`, `TOSHIBA`, ...), as whole leading words: the make a device names in its
/// `sysDescr` ("TOSHIBA e-STUDIO338CS", "KYOCERA Document Solutions Printing System"); a text
/// that starts otherwise ("ZebraNet Wired PS", "Color LaserJet") names none.
///
/// ```
/// use printfleet_sources::make::known;
/// assert_eq!(known("TOSHIBA e-STUDIO338CS version CXTZJ.230.307"), Some("Toshiba"));
/// assert_eq!(known("KONICA MINOLTA bizhub C3110"), Some("Konica Minolta"));
/// assert_eq!(known("ZebraNet Wired PS"), None);
/// assert_eq!(known("Acme Printing"), None);
/// ```
pub fn known(text: &str) -> Option<&'static str> {
    let lower = text.trim().to_ascii_lowercase();
    const KNOWN: &[(&str, &str)] = &[
        ("hewlett-packard", "HP"),
        ("hewlett packard", "HP"),
        ("hp", "HP"),
        ("seiko epson", "Epson"),
        ("epson", "Epson"),
        ("brother", "Brother"),
        ("canon", "Canon"),
        ("fuji xerox", "Fuji Xerox"),
        ("fujifilm", "Fujifilm"),
        ("xerox", "Xerox"),
        ("kyocera", "Kyocera"),
        // Kyocera's OEM brands, under Kyocera's enterprise number: "TA_UTAX Printing System".
        ("ta utax", "UTAX"),
        ("utax", "UTAX"),
        ("ta triumph-adler", "Triumph-Adler"),
        ("triumph-adler", "Triumph-Adler"),
        ("olivetti", "Olivetti"),
        ("copystar", "Copystar"),
        ("lexmark", "Lexmark"),
        ("ricoh", "Ricoh"),
        ("sharp", "Sharp"),
        ("konica minolta", "Konica Minolta"),
        ("konica", "Konica Minolta"),
        ("minolta", "Konica Minolta"),
        ("oki", "OKI"),
        ("samsung", "Samsung"),
        ("toshiba", "Toshiba"),
        ("dell", "Dell"),
        ("pantum", "Pantum"),
        ("zebra", "Zebra"),
    ];
    // Whole words only: "hp" must not match "Graphpro".
    let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric() && c != '-').collect();
    KNOWN
        .iter()
        .find(|(key, _)| {
            let key_words: Vec<&str> = key.split(' ').collect();
            words.windows(key_words.len()).next().is_some_and(|w| w == key_words.as_slice()) || lower == *key
        })
        .map(|(_, make)| *make)
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a failed assertion.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn enterprise_numbers_are_ascending_and_unique() {
        assert!(ENTERPRISES.windows(2).all(|w| w[0].number < w[1].number));
    }

    #[test]
    fn the_twelve_vendors_of_the_issue_have_their_numbers() {
        for (number, make) in [
            (11, "HP"),
            (1347, "Kyocera"),
            (367, "Ricoh"),
            (1602, "Canon"),
            (253, "Xerox"),
            (18334, "Konica Minolta"),
            (2385, "Sharp"),
            (2435, "Brother"),
            (641, "Lexmark"),
            (1248, "Epson"),
            (2001, "OKI"),
            (236, "Samsung"),
        ] {
            let oid: Oid = format!("1.3.6.1.4.1.{number}.1.2").parse().unwrap();
            assert_eq!(from_object_id(&oid), Some(make), "{number}");
        }
    }

    #[test]
    fn kyoceras_oem_brands_are_the_make_their_sysdescr_names() {
        assert_eq!(known("TA_UTAX Printing System"), Some("UTAX"));
        assert_eq!(known("TA Triumph-Adler P-4532DN"), Some("Triumph-Adler"));
        assert_eq!(known("Copystar CS 4053ci"), Some("Copystar"));
        assert_eq!(known("KYOCERA Document Solutions Printing System"), Some("Kyocera"));
    }

    #[test]
    fn a_make_is_a_leading_word_of_the_field_not_any_word() {
        assert_eq!(normalise("Brother Industries, Ltd.").as_deref(), Some("Brother"));
        assert_eq!(normalise("EPSON").as_deref(), Some("Epson"));
        assert_eq!(normalise("Graphpro Systems").as_deref(), Some("Graphpro Systems"));
        assert_eq!(normalise("   "), None);
    }
}
