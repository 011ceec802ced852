//! Vendor private MIB page counters, as data: one [`VendorCounter`] row per counter, with the
//! object it is read from, the meter it feeds, its unit and where its meaning is documented.
//! [`read_counters`] evaluates the table against a walk; nothing here is a per-vendor code
//! path.
//!
//! A vendor counter is preferred over the Printer-MIB's `prtMarkerLifeCount` and the PWG counter
//! MIB for the same meter where both exist (it is the number the device's own display and the
//! vendor's billing tools show); when they disagree the reading is disputed, not silently
//! replaced (see [`crate::finding::MeterReading`]).
//!
//! To add a counter: add a row with a citation a reviewer can open (repository and path, or a
//! MIB and its object name), and a test that reads it from a capture.

use printfleet_schema::MeterKind;
use printfleet_schema::codes::MeterCode;

use super::{Bindings, Oid, SnmpValue, oid};
use crate::finding::MAX_SOURCES;

/// What a counter counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CounterUnit {
    /// Impressions (one side of a sheet marked once).
    Impressions,
    /// Sheets.
    Sheets,
    /// Scanned or faxed images (sides of originals).
    Images,
    /// What the vendor counts, not stated by the source (vendor meters only).
    Vendor,
}

/// The meter a counter feeds: a standard code, or a vendor meter name (`sharp.duplex`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meter {
    /// A standard meter.
    Standard(MeterCode),
    /// A vendor meter, by its name after `vendor:`.
    Vendor(&'static str),
}

impl Meter {
    /// The meter kind in a report.
    pub fn kind(self) -> Option<MeterKind> {
        match self {
            Self::Standard(code) => Some(MeterKind::Standard(code)),
            Self::Vendor(name) => printfleet_schema::VendorMeter::new(name).ok().map(MeterKind::Vendor),
        }
    }
}

/// Where a counter is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Locator {
    /// The sum of these object instances (one, usually); absent if none of them is present.
    Objects(&'static [&'static str]),
    /// The sum of column `value` over the rows of its table whose `filter` columns hold the
    /// given integers (a counter table keyed by counter type, unit, colour ...); absent if no
    /// row matches.
    Rows {
        /// The value column (table entry OID and column number, no index).
        value: &'static str,
        /// (column, required value) pairs, all of which a row must match.
        filter: &'static [(&'static str, i32)],
    },
    /// Brother's counter record string (an OCTET STRING of 7-byte records: a code, `0x01`,
    /// the length `0x04`, and a 32-bit big-endian value), the record with this code.
    BrotherRecord {
        /// The octet-string object instance.
        oid: &'static str,
        /// The record code.
        code: u8,
    },
}

/// One vendor counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VendorCounter {
    /// The vendor whose MIB defines the object.
    pub vendor: &'static str,
    /// The object name, or a short description when the source names none.
    pub name: &'static str,
    /// Where it is read.
    pub locator: Locator,
    /// The meter it feeds.
    pub meter: Meter,
    /// Its unit.
    pub unit: CounterUnit,
    /// Where its meaning is documented (repository and path, or MIB and object).
    pub citation: &'static str,
}

const GLPI_HP: &str =
    "glpi-project/glpi-agent lib/GLPI/Agent/SNMP/MibSupport/HPNetPeripheral.pm (HP-LASERJET-COMMON-MIB status-prt-eng)";
const PRINTMASTER: &str = "mstrhakr/printmaster common/snmp/oids/oids.go";
const GLPI_XEROX: &str = "glpi-project/glpi-agent lib/GLPI/Agent/SNMP/MibSupport/Xerox.pm (XEROX-HOST-RESOURCES-EXT-MIB xcmHrDevDetailEntry)";
const GLPI_KONICA: &str = "glpi-project/glpi-agent lib/GLPI/Agent/SNMP/MibSupport/Konica.pm";
const GLPI_RICOH: &str =
    "glpi-project/glpi-agent lib/GLPI/Agent/SNMP/MibSupport/Ricoh.pm (Ricoh-Private-MIB ricohEngCounterType/Value)";
const CHECKMK_CANON: &str = "Checkmk/checkmk cmk/plugins/collection/agent_based/printer_pages_canon.py (PAGE_CODES)";
const SHARP_CAPTURE: &str =
    "librenms/librenms tests/snmpsim/sharp.snmprec (the device's own counter names, column 2385.1.1.19.2.1.4)";
const BROTHER: &str = "bieniu/brother brother/const.py (OIDS counters, VALUES_COUNTERS)";
const LEXMARK: &str = "DanielleHuisman/observium-community-edition mibs/lexmark/LEXMARK-MPS-MIB paperGeneralCountTable; units: mibs/lexmark/LEXMARK-TC-MIB UnitsTC";
const OKI: &str = "jiankeliu5/vs2015PackPrj PrintHelper/OkiMIB_Def.h";
const SAMSUNG: &str = "cisco-kusanagi/mibs.snmplabs.com pysnmp/SAMSUNG-HOST-RESOURCES-EXT-MIB.py (scmHrDevCountTable)";

const fn object(
    vendor: &'static str,
    name: &'static str,
    oids: &'static [&'static str],
    meter: Meter,
    unit: CounterUnit,
    citation: &'static str,
) -> VendorCounter {
    VendorCounter { vendor, name, locator: Locator::Objects(oids), meter, unit, citation }
}

use CounterUnit::{Images, Impressions, Sheets, Vendor as VendorUnit};
use Meter::{Standard as S, Vendor as V};

const RICOH_VALUE: &str = "1.3.6.1.4.1.367.3.2.1.2.19.5.1.9";
const RICOH_TYPE: &str = "1.3.6.1.4.1.367.3.2.1.2.19.5.1.2";
const LEXMARK_VALUE: &str = "1.3.6.1.4.1.641.6.4.2.1.1.4";
const LEXMARK_TYPE: &str = "1.3.6.1.4.1.641.6.4.2.1.1.2";
const LEXMARK_UNITS: &str = "1.3.6.1.4.1.641.6.4.2.1.1.3";
/// LEXMARK-TC-MIB UnitsTC sides(4) and sheets(5).
const LEXMARK_SIDES: i32 = 4;
const LEXMARK_SHEETS: i32 = 5;
const SAMSUNG_VALUE: &str = "1.3.6.1.4.1.236.11.5.11.53.11.2.1.7";
const SAMSUNG_JOB: &str = "1.3.6.1.4.1.236.11.5.11.53.11.2.1.2";
const SAMSUNG_UNIT: &str = "1.3.6.1.4.1.236.11.5.11.53.11.2.1.4";
const SAMSUNG_COLOUR: &str = "1.3.6.1.4.1.236.11.5.11.53.11.2.1.6";
/// ScmHrDevCountUnitTC impressions(7).
const SAMSUNG_IMPRESSIONS: i32 = 7;

const fn rows(
    vendor: &'static str,
    name: &'static str,
    value: &'static str,
    filter: &'static [(&'static str, i32)],
    meter: Meter,
    unit: CounterUnit,
    citation: &'static str,
) -> VendorCounter {
    VendorCounter { vendor, name, locator: Locator::Rows { value, filter }, meter, unit, citation }
}

const fn brother(name: &'static str, code: u8, meter: Meter) -> VendorCounter {
    VendorCounter {
        vendor: "Brother",
        name,
        locator: Locator::BrotherRecord { oid: "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.10.0", code },
        meter,
        unit: Impressions,
        citation: BROTHER,
    }
}

/// Every vendor counter printfleet reads, grouped by vendor.
pub const VENDOR_COUNTERS: &[VendorCounter] = &[
    // HP (enterprise 11): HP-LASERJET-COMMON-MIB, status-prt-eng.
    object(
        "HP",
        "total-engine-page-count",
        &["1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.5.0"],
        S(MeterCode::TOTAL),
        Impressions,
        GLPI_HP,
    ),
    object(
        "HP",
        "total-color-page-count",
        &["1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.7.0"],
        S(MeterCode::COLOUR),
        Impressions,
        GLPI_HP,
    ),
    object(
        "HP",
        "duplex-page-count",
        &["1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.22.0"],
        V("hp.duplex-page-count"),
        VendorUnit,
        GLPI_HP,
    ),
    // Kyocera (1347): function counters .42.3.1.2.1.1.<function>.<colour mode> (function 1
    // print, 2 copy, 4 fax; colour mode 1 black and white, 2 single colour, 3 full colour).
    object(
        "Kyocera",
        "total printed",
        &["1.3.6.1.4.1.1347.43.10.1.1.12.1.1"],
        S(MeterCode::TOTAL),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Kyocera",
        "print black and white",
        &["1.3.6.1.4.1.1347.42.3.1.2.1.1.1.1"],
        S(MeterCode::PRINT_MONO),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Kyocera",
        "print single colour",
        &["1.3.6.1.4.1.1347.42.3.1.2.1.1.1.2"],
        S(MeterCode::PRINT_HIGHLIGHT_COLOUR),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Kyocera",
        "print full colour",
        &["1.3.6.1.4.1.1347.42.3.1.2.1.1.1.3"],
        S(MeterCode::PRINT_COLOUR),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Kyocera",
        "copy black and white",
        &["1.3.6.1.4.1.1347.42.3.1.2.1.1.2.1"],
        S(MeterCode::COPY_MONO),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Kyocera",
        "copy single colour",
        &["1.3.6.1.4.1.1347.42.3.1.2.1.1.2.2"],
        S(MeterCode::COPY_HIGHLIGHT_COLOUR),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Kyocera",
        "copy full colour",
        &["1.3.6.1.4.1.1347.42.3.1.2.1.1.2.3"],
        S(MeterCode::COPY_COLOUR),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Kyocera",
        "fax black and white",
        &["1.3.6.1.4.1.1347.42.3.1.2.1.1.4.1"],
        S(MeterCode::FAX_IN),
        Impressions,
        PRINTMASTER,
    ),
    object("Kyocera", "other scans", &["1.3.6.1.4.1.1347.42.3.1.4.1.1.1"], S(MeterCode::SCANS), Images, PRINTMASTER),
    object("Kyocera", "copy scans", &["1.3.6.1.4.1.1347.42.3.1.3.1.1.2"], V("kyocera.copy-scans"), Images, PRINTMASTER),
    object("Kyocera", "fax scans", &["1.3.6.1.4.1.1347.42.3.1.3.1.1.4"], V("kyocera.fax-scans"), Images, PRINTMASTER),
    // Ricoh (367): ricohEngCounterTable, rows by counter type.
    rows(
        "Ricoh",
        "ricohEngCounter type 10 (total)",
        RICOH_VALUE,
        &[(RICOH_TYPE, 10)],
        S(MeterCode::TOTAL),
        Impressions,
        GLPI_RICOH,
    ),
    rows(
        "Ricoh",
        "ricohEngCounter type 200 (copy total)",
        RICOH_VALUE,
        &[(RICOH_TYPE, 200)],
        S(MeterCode::COPIES),
        Impressions,
        GLPI_RICOH,
    ),
    rows(
        "Ricoh",
        "ricohEngCounter type 201 (copy black)",
        RICOH_VALUE,
        &[(RICOH_TYPE, 201)],
        S(MeterCode::COPY_MONO),
        Impressions,
        GLPI_RICOH,
    ),
    rows(
        "Ricoh",
        "ricohEngCounter type 400 (print total)",
        RICOH_VALUE,
        &[(RICOH_TYPE, 400)],
        S(MeterCode::PRINT),
        Impressions,
        GLPI_RICOH,
    ),
    rows(
        "Ricoh",
        "ricohEngCounter type 401 (print black)",
        RICOH_VALUE,
        &[(RICOH_TYPE, 401)],
        S(MeterCode::PRINT_MONO),
        Impressions,
        GLPI_RICOH,
    ),
    rows(
        "Ricoh",
        "ricohEngCounter type 300 (fax total)",
        RICOH_VALUE,
        &[(RICOH_TYPE, 300)],
        V("ricoh.fax-total"),
        VendorUnit,
        GLPI_RICOH,
    ),
    // Canon (1602): the counter table, by Canon counter number.
    object(
        "Canon",
        "counter 301 (total)",
        &["1.3.6.1.4.1.1602.1.11.1.3.1.4.301"],
        S(MeterCode::TOTAL),
        Impressions,
        CHECKMK_CANON,
    ),
    object(
        "Canon",
        "counter 109 (black and white)",
        &["1.3.6.1.4.1.1602.1.11.1.3.1.4.109"],
        S(MeterCode::MONO),
        Impressions,
        CHECKMK_CANON,
    ),
    object(
        "Canon",
        "counter 106 (colour)",
        &["1.3.6.1.4.1.1602.1.11.1.3.1.4.106"],
        S(MeterCode::COLOUR),
        Impressions,
        CHECKMK_CANON,
    ),
    object(
        "Canon",
        "counter 112 (black and white, large)",
        &["1.3.6.1.4.1.1602.1.11.1.3.1.4.112"],
        V("canon.bw-large"),
        Impressions,
        CHECKMK_CANON,
    ),
    object(
        "Canon",
        "counter 113 (black and white, small)",
        &["1.3.6.1.4.1.1602.1.11.1.3.1.4.113"],
        V("canon.bw-small"),
        Impressions,
        CHECKMK_CANON,
    ),
    object(
        "Canon",
        "counter 122 (colour, large)",
        &["1.3.6.1.4.1.1602.1.11.1.3.1.4.122"],
        V("canon.colour-large"),
        Impressions,
        CHECKMK_CANON,
    ),
    object(
        "Canon",
        "counter 123 (colour, small)",
        &["1.3.6.1.4.1.1602.1.11.1.3.1.4.123"],
        V("canon.colour-small"),
        Impressions,
        CHECKMK_CANON,
    ),
    // Xerox (253): XEROX-HOST-RESOURCES-EXT-MIB xcmHrDevDetailValueInteger, the billing meters.
    object(
        "Xerox",
        "total impressions",
        &["1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.1"],
        S(MeterCode::TOTAL),
        Impressions,
        GLPI_XEROX,
    ),
    object(
        "Xerox",
        "colour printed impressions",
        &["1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.33"],
        S(MeterCode::COLOUR),
        Impressions,
        GLPI_XEROX,
    ),
    object(
        "Xerox",
        "black printed impressions",
        &["1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.34"],
        S(MeterCode::MONO),
        Impressions,
        GLPI_XEROX,
    ),
    object(
        "Xerox",
        "colour copied impressions",
        &["1.3.6.1.4.1.253.8.53.13.2.1.6.11.20.25"],
        S(MeterCode::COPY_COLOUR),
        Impressions,
        GLPI_XEROX,
    ),
    object(
        "Xerox",
        "black copied impressions",
        &["1.3.6.1.4.1.253.8.53.13.2.1.6.11.20.3"],
        S(MeterCode::COPY_MONO),
        Impressions,
        GLPI_XEROX,
    ),
    object(
        "Xerox",
        "images scanned to e-mail",
        &["1.3.6.1.4.1.253.8.53.13.2.1.6.10.20.11"],
        V("xerox.scan-to-email"),
        Images,
        GLPI_XEROX,
    ),
    object(
        "Xerox",
        "images scanned to the network",
        &["1.3.6.1.4.1.253.8.53.13.2.1.6.10.20.12"],
        V("xerox.scan-to-network"),
        Images,
        GLPI_XEROX,
    ),
    // Konica Minolta (18334): the printer counters .1.1.1.5.7.2.
    object(
        "Konica Minolta",
        "total counter",
        &["1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0"],
        S(MeterCode::TOTAL),
        Impressions,
        GLPI_KONICA,
    ),
    object(
        "Konica Minolta",
        "duplex counter",
        &["1.3.6.1.4.1.18334.1.1.1.5.7.2.1.3.0"],
        V("konica.duplex"),
        VendorUnit,
        GLPI_KONICA,
    ),
    object(
        "Konica Minolta",
        "copy black",
        &["1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.1.1"],
        S(MeterCode::COPY_MONO),
        Impressions,
        GLPI_KONICA,
    ),
    object(
        "Konica Minolta",
        "print black",
        &["1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.1.2"],
        S(MeterCode::PRINT_MONO),
        Impressions,
        GLPI_KONICA,
    ),
    object(
        "Konica Minolta",
        "copy colour",
        &["1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.2.1"],
        S(MeterCode::COPY_COLOUR),
        Impressions,
        GLPI_KONICA,
    ),
    object(
        "Konica Minolta",
        "print colour",
        &["1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.2.2"],
        S(MeterCode::PRINT_COLOUR),
        Impressions,
        GLPI_KONICA,
    ),
    object(
        "Konica Minolta",
        "scans",
        &["1.3.6.1.4.1.18334.1.1.1.5.7.2.3.1.5.1"],
        S(MeterCode::SCANS),
        Images,
        GLPI_KONICA,
    ),
    // Sharp (2385): the counter table .1.1.19.2.1.3.<service>.<4>.<kind>, each row named by the
    // device in column .4 (service 1 print, 4 copy, 5 total, 7 scan; kind 60 all, 61 black
    // and white, 63 full colour, 64 two colour, 80 single colour).
    object(
        "Sharp",
        "Prints",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.60"],
        S(MeterCode::PRINT),
        Impressions,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Black & White Print Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.61"],
        S(MeterCode::PRINT_MONO),
        Impressions,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Full Color Print Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.63"],
        S(MeterCode::PRINT_COLOUR),
        Impressions,
        SHARP_CAPTURE,
    ),
    object("Sharp", "Duplex", &["1.3.6.1.4.1.2385.1.1.19.2.1.3.1.4.75"], V("sharp.duplex"), VendorUnit, SHARP_CAPTURE),
    object(
        "Sharp",
        "Copies",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.4.4.60"],
        S(MeterCode::COPIES),
        Impressions,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Black & White Copy Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.4.4.61"],
        S(MeterCode::COPY_MONO),
        Impressions,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Full Color Copy Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.4.4.63"],
        S(MeterCode::COPY_COLOUR),
        Impressions,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Two Color Copy Count + Single Color Copy Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.4.4.64", "1.3.6.1.4.1.2385.1.1.19.2.1.3.4.4.80"],
        S(MeterCode::COPY_HIGHLIGHT_COLOUR),
        Impressions,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Black & White Total Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.61"],
        S(MeterCode::MONO),
        Impressions,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Full Color Total Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.63"],
        S(MeterCode::COLOUR),
        Impressions,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Two Color Total Count + Single Color Total Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.64", "1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.80"],
        S(MeterCode::HIGHLIGHT_COLOUR),
        Impressions,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Black & White Scanner Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.7.4.51"],
        S(MeterCode::SCAN_MONO),
        Images,
        SHARP_CAPTURE,
    ),
    object(
        "Sharp",
        "Full Color Scanner Count",
        &["1.3.6.1.4.1.2385.1.1.19.2.1.3.7.4.53"],
        S(MeterCode::SCAN_COLOUR),
        Images,
        SHARP_CAPTURE,
    ),
    // Brother (2435): the counter records of brInfoCounter.
    brother("counter record 0x00 (printer counter)", 0x00, S(MeterCode::TOTAL)),
    brother("counter record 0x01 (black and white)", 0x01, S(MeterCode::MONO)),
    brother("counter record 0x02 (colour)", 0x02, S(MeterCode::COLOUR)),
    // Lexmark (641): LEXMARK-MPS-MIB paperGeneralCountTable, by paperGeneralCountType, in sides
    // (impressions) or sheets as paperGeneralCountUnits says; "safe" counts are delivered pages.
    rows(
        "Lexmark",
        "totalSafe (sides)",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 2), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::TOTAL),
        Impressions,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "totalSafe (sheets)",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 2), (LEXMARK_UNITS, LEXMARK_SHEETS)],
        S(MeterCode::SHEETS),
        Sheets,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "totalMonoSafe",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 3), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::MONO),
        Impressions,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "totalColorSafe",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 4), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::COLOUR),
        Impressions,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "printTotal",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 16), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::PRINT),
        Impressions,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "printMono",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 17), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::PRINT_MONO),
        Impressions,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "printColor",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 18), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::PRINT_COLOUR),
        Impressions,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "copyTotal",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 32), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::COPIES),
        Impressions,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "copyMono",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 33), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::COPY_MONO),
        Impressions,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "copyColor",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 34), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::COPY_COLOUR),
        Impressions,
        LEXMARK,
    ),
    rows(
        "Lexmark",
        "faxTotal",
        LEXMARK_VALUE,
        &[(LEXMARK_TYPE, 48), (LEXMARK_UNITS, LEXMARK_SIDES)],
        S(MeterCode::FAX_IN),
        Impressions,
        LEXMARK,
    ),
    // Epson (1248): the page count summary .1.2.2.27.1.1 and the function counters
    // .1.2.2.27.6.1.<column>.1.1.<function> (column 3 black and white, 4 total, 5 colour;
    // function 1 print, 2 copy).
    object(
        "Epson",
        "total pages",
        &["1.3.6.1.4.1.1248.1.2.2.27.1.1.33.1.1"],
        S(MeterCode::TOTAL),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Epson",
        "mono pages",
        &["1.3.6.1.4.1.1248.1.2.2.27.1.1.6.1.1"],
        S(MeterCode::MONO),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Epson",
        "colour pages",
        &["1.3.6.1.4.1.1248.1.2.2.27.1.1.4.1.1"],
        S(MeterCode::COLOUR),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Epson",
        "print total",
        &["1.3.6.1.4.1.1248.1.2.2.27.6.1.4.1.1.1"],
        S(MeterCode::PRINT),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Epson",
        "print black and white",
        &["1.3.6.1.4.1.1248.1.2.2.27.6.1.3.1.1.1"],
        S(MeterCode::PRINT_MONO),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Epson",
        "print colour",
        &["1.3.6.1.4.1.1248.1.2.2.27.6.1.5.1.1.1"],
        S(MeterCode::PRINT_COLOUR),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Epson",
        "copy total",
        &["1.3.6.1.4.1.1248.1.2.2.27.6.1.4.1.1.2"],
        S(MeterCode::COPIES),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Epson",
        "copy black and white",
        &["1.3.6.1.4.1.1248.1.2.2.27.6.1.3.1.1.2"],
        S(MeterCode::COPY_MONO),
        Impressions,
        PRINTMASTER,
    ),
    object(
        "Epson",
        "copy colour",
        &["1.3.6.1.4.1.1248.1.2.2.27.6.1.5.1.1.2"],
        S(MeterCode::COPY_COLOUR),
        Impressions,
        PRINTMASTER,
    ),
    // OKI (2001).
    object(
        "OKI",
        "print total pages",
        &["1.3.6.1.4.1.2001.1.1.1.1.100.1.1.1.3.1"],
        S(MeterCode::PRINT),
        Impressions,
        OKI,
    ),
    object(
        "OKI",
        "print colour pages",
        &["1.3.6.1.4.1.2001.1.1.1.1.11.1.10.170.1.8.3"],
        S(MeterCode::PRINT_COLOUR),
        Impressions,
        OKI,
    ),
    object(
        "OKI",
        "print black and white pages",
        &["1.3.6.1.4.1.2001.1.1.1.1.11.1.10.170.1.7.3"],
        S(MeterCode::PRINT_MONO),
        Impressions,
        OKI,
    ),
    // Samsung (236): scmHrDevCountTable, summed over media sizes and duplex modes (job type 1
    // print, 2 copy, 3 fax in; colour 1 full colour, 3 mono; unit impressions).
    rows(
        "Samsung",
        "scmHrDevCount print mono",
        SAMSUNG_VALUE,
        &[(SAMSUNG_JOB, 1), (SAMSUNG_COLOUR, 3), (SAMSUNG_UNIT, SAMSUNG_IMPRESSIONS)],
        S(MeterCode::PRINT_MONO),
        Impressions,
        SAMSUNG,
    ),
    rows(
        "Samsung",
        "scmHrDevCount print full colour",
        SAMSUNG_VALUE,
        &[(SAMSUNG_JOB, 1), (SAMSUNG_COLOUR, 1), (SAMSUNG_UNIT, SAMSUNG_IMPRESSIONS)],
        S(MeterCode::PRINT_COLOUR),
        Impressions,
        SAMSUNG,
    ),
    rows(
        "Samsung",
        "scmHrDevCount copy mono",
        SAMSUNG_VALUE,
        &[(SAMSUNG_JOB, 2), (SAMSUNG_COLOUR, 3), (SAMSUNG_UNIT, SAMSUNG_IMPRESSIONS)],
        S(MeterCode::COPY_MONO),
        Impressions,
        SAMSUNG,
    ),
    rows(
        "Samsung",
        "scmHrDevCount copy full colour",
        SAMSUNG_VALUE,
        &[(SAMSUNG_JOB, 2), (SAMSUNG_COLOUR, 1), (SAMSUNG_UNIT, SAMSUNG_IMPRESSIONS)],
        S(MeterCode::COPY_COLOUR),
        Impressions,
        SAMSUNG,
    ),
    rows(
        "Samsung",
        "scmHrDevCount fax in",
        SAMSUNG_VALUE,
        &[(SAMSUNG_JOB, 3), (SAMSUNG_UNIT, SAMSUNG_IMPRESSIONS)],
        S(MeterCode::FAX_IN),
        Impressions,
        SAMSUNG,
    ),
];

/// One counter's value as read, with the object instances it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterValue {
    /// The row of [`VENDOR_COUNTERS`].
    pub counter: &'static VendorCounter,
    /// The value (a sum saturates at `u64::MAX`).
    pub value: u64,
    /// The instances read, in OID order, at most [`MAX_SOURCES`].
    pub oids: Vec<Oid>,
}

/// A Brother counter record string's value for `code`.
fn brother_record(bytes: &[u8], code: u8) -> Option<u64> {
    bytes.chunks_exact(7).find_map(|record| match record {
        [c, 0x01, 0x04, a, b, d, e] if *c == code => Some(u64::from(u32::from_be_bytes([*a, *b, *d, *e]))),
        _ => None,
    })
}

fn read(b: &Bindings, counter: &'static VendorCounter) -> Option<CounterValue> {
    let mut oids = Vec::new();
    let mut total: Option<u64> = None;
    let mut add = |o: &Oid, v: u64| {
        total = Some(total.unwrap_or(0).saturating_add(v));
        if oids.len() < MAX_SOURCES {
            oids.push(o.clone());
        }
    };
    match counter.locator {
        Locator::Objects(list) => {
            for text in list {
                let o = oid(text);
                if let Some(v) = b.get(&o).and_then(SnmpValue::as_u64) {
                    add(&o, v);
                }
            }
        }
        Locator::Rows { value, filter } => {
            let value_column = oid(value);
            let filters: Vec<(Oid, i32)> = filter.iter().map(|(c, v)| (oid(c), *v)).collect();
            for (o, v) in b.walk(&value_column) {
                let Some(index) = o.suffix(&value_column) else { continue };
                let matches = filters.iter().all(|(column, want)| {
                    let mut arcs = column.arcs().to_vec();
                    arcs.extend_from_slice(index);
                    b.get(&Oid(arcs)).and_then(SnmpValue::as_i32) == Some(*want)
                });
                if let (true, Some(v)) = (matches, v.as_u64()) {
                    add(o, v);
                }
            }
        }
        Locator::BrotherRecord { oid: text, code } => {
            let o = oid(text);
            if let Some(v) = b.get(&o).and_then(SnmpValue::as_bytes).and_then(|bytes| brother_record(bytes, code)) {
                add(&o, v);
            }
        }
    }
    total.map(|value| CounterValue { counter, value, oids })
}

/// Every counter of [`VENDOR_COUNTERS`] present in a walk, in table order.
pub fn read_counters(b: &Bindings) -> Vec<CounterValue> {
    VENDOR_COUNTERS.iter().filter_map(|counter| read(b, counter)).collect()
}

/// The subtrees a walk must cover for [`read_counters`] to see every counter: the parent of
/// each object instance, and each table column a row locator reads.
pub fn subtrees() -> Vec<Oid> {
    let parent = |text: &str| {
        let mut o = oid(text);
        o.0.pop();
        o
    };
    let mut out: Vec<Oid> = Vec::new();
    for counter in VENDOR_COUNTERS {
        match counter.locator {
            Locator::Objects(list) => out.extend(list.iter().map(|t| parent(t))),
            Locator::Rows { value, filter } => {
                out.push(oid(value));
                out.extend(filter.iter().map(|(c, _)| oid(c)));
            }
            Locator::BrotherRecord { oid: text, .. } => out.push(parent(text)),
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a failed assertion.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn every_row_is_well_formed_and_cited() {
        let vendors: std::collections::BTreeSet<&str> = VENDOR_COUNTERS.iter().map(|c| c.vendor).collect();
        for vendor in [
            "HP",
            "Kyocera",
            "Ricoh",
            "Canon",
            "Xerox",
            "Konica Minolta",
            "Sharp",
            "Brother",
            "Lexmark",
            "Epson",
            "OKI",
            "Samsung",
        ] {
            assert!(vendors.contains(vendor), "{vendor} has no counter");
        }
        for c in VENDOR_COUNTERS {
            assert!(c.citation.contains('/'), "{}: cite a repository and path", c.name);
            assert!(c.meter.kind().is_some(), "{}: meter name", c.name);
            let oids: Vec<&str> = match c.locator {
                Locator::Objects(list) => list.to_vec(),
                Locator::Rows { value, filter } => std::iter::once(value).chain(filter.iter().map(|f| f.0)).collect(),
                Locator::BrotherRecord { oid, .. } => vec![oid],
            };
            for text in oids {
                let o: Oid = text.parse().unwrap();
                assert!(o.arcs().starts_with(&[1, 3, 6, 1, 4, 1]), "{text}: a private enterprise OID");
            }
            // A standard meter's unit is the code's unit.
            if let Meter::Standard(code) = c.meter {
                let want = match code {
                    MeterCode::DUPLEX_SHEETS | MeterCode::SHEETS => Sheets,
                    MeterCode::SCANS | MeterCode::SCAN_MONO | MeterCode::SCAN_COLOUR | MeterCode::FAX_OUT => Images,
                    _ => Impressions,
                };
                assert_eq!(c.unit, want, "{}: unit of {code}", c.name);
            }
        }
    }

    #[test]
    fn a_meter_comes_from_one_row_per_vendor() {
        // Two rows of one vendor feeding one meter would always be a dispute with itself.
        let mut seen = std::collections::BTreeSet::new();
        for c in VENDOR_COUNTERS {
            assert!(seen.insert((c.vendor, format!("{:?}", c.meter))), "{} {:?} twice", c.vendor, c.meter);
        }
    }

    #[test]
    fn brother_records_are_seven_bytes_with_a_big_endian_value() {
        // bieniu/brother tests/fixtures/hl-l2340dw.json: "000104000003da" is the printer
        // counter, 986.
        let blob = hex::decode("000104000003da01010400000102").unwrap();
        assert_eq!(brother_record(&blob, 0x00), Some(986));
        assert_eq!(brother_record(&blob, 0x01), Some(258));
        assert_eq!(brother_record(&blob, 0x02), None);
        assert_eq!(brother_record(&blob[..6], 0x00), None, "a truncated record is not read");
    }
}
