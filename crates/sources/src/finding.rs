//! What a mapping returns beside the report: where each meter reading came from, whether its
//! sources agree, and a typed list of what the mapping could not find or had to repair.
//!
//! None of this is inside [`DeviceReport`] (whose layout and wire encodings other crates build
//! on): a collector keeps the [`Mapped`] value, sends the report, and logs or forwards the
//! findings and the provenance as it sees fit.

use std::collections::BTreeMap;
use std::fmt;

use printfleet_schema::{Colour, DeviceReport, MeterKind};

use crate::snmp::Oid;

/// Most findings kept for one mapping; past this, [`Finding::TooManyFindings`] ends the list
/// (a hostile capture could otherwise make one finding per line).
pub const MAX_FINDINGS: usize = 1_000;

/// Most sources kept for one meter reading (a table counter sums rows; each row is a source).
pub const MAX_SOURCES: usize = 64;

/// The result of mapping what a printer said: the report, the provenance of every meter in it,
/// and what the mapping could not find or had to repair.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[must_use = "a mapping's findings and meter provenance are part of its result"]
pub struct Mapped {
    /// The report. It passes [`DeviceReport::validate`].
    pub report: DeviceReport,
    /// One reading per meter in `report.snapshot.meters`, in meter order, with where its value
    /// came from and the other sources' values when they disagree.
    pub meters: Vec<MeterReading>,
    /// What was missing, repaired, skipped or disputed, in the order found.
    pub findings: Vec<Finding>,
}

impl Mapped {
    /// The reading of `kind`, if the report has that meter.
    pub fn reading(&self, kind: &MeterKind) -> Option<&MeterReading> {
        self.meters.iter().find(|r| &r.kind == kind)
    }

    /// Whether any meter reading is disputed.
    pub fn has_disputes(&self) -> bool {
        self.meters.iter().any(MeterReading::is_disputed)
    }
}

/// Where a meter value was read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Source {
    /// SNMP objects (one, or the table rows a counter sums), with the name of the MIB object or
    /// table row that defines them (`prtMarkerLifeCount`, `HP total-engine-page-count`).
    Snmp {
        /// The object instances read, in OID order, at most [`MAX_SOURCES`].
        oids: Vec<Oid>,
        /// What the objects are.
        name: &'static str,
    },
    /// An IPP printer attribute, with the member for a collection
    /// (`printer-impressions-completed-col/monochrome`).
    Ipp(&'static str),
    /// An LEDM element, as document/path (`ProductUsageDyn/PrinterSubunit/TotalImpressions`).
    Ledm(&'static str),
    /// Members of an HP CDM document, as the document's last path segment and the members'
    /// path (`lifetimeCounters/printUsage/impressions/monochrome`); two members added up are
    /// joined by `+` (`lifetimeCounters/printUsage/impressions/monochrome+color`).
    Cdm(&'static str),
    /// The sum of other meters of the same report (a total checked against its parts).
    Sum(Vec<MeterKind>),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Snmp { oids, name } => {
                write!(f, "snmp {name}")?;
                match oids.as_slice() {
                    [] => Ok(()),
                    [one] => write!(f, " ({one})"),
                    [first, rest @ ..] => write!(f, " ({first} and {} more)", rest.len()),
                }
            }
            Self::Ipp(attribute) => write!(f, "ipp {attribute}"),
            Self::Ledm(path) => write!(f, "ledm {path}"),
            Self::Cdm(path) => write!(f, "cdm {path}"),
            Self::Sum(parts) => {
                f.write_str("sum of ")?;
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" + ")?;
                    }
                    write!(f, "{part}")?;
                }
                Ok(())
            }
        }
    }
}

/// A value from one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcedValue {
    /// Where it was read.
    pub source: Source,
    /// What it said.
    pub value: u64,
}

/// One meter of the report and its provenance.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MeterReading {
    /// The meter.
    pub kind: MeterKind,
    /// The value in the report.
    pub value: u64,
    /// The sources that gave `value`, the preferred one first.
    pub sources: Vec<Source>,
    /// Sources that gave another value, each with its value. Empty unless the reading is
    /// disputed: the report carries the preferred source's value (a vendor counter before the
    /// PWG counter MIB before `prtMarkerLifeCount`), and this list says it was contested.
    pub disputed_by: Vec<SourcedValue>,
}

impl MeterReading {
    /// Whether another source gave another value.
    pub fn is_disputed(&self) -> bool {
        !self.disputed_by.is_empty()
    }
}

/// Why a line of a capture was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LineProblem {
    /// Not the three `|`-separated fields.
    Fields,
    /// The OID is not dotted decimal.
    Oid,
    /// A tag the format does not define.
    Tag,
    /// A value that does not fit its tag.
    Value,
    /// Bytes that are not UTF-8 outside an octet-string value.
    InvalidUtf8,
    /// The OID again, with another value.
    ConflictingDuplicate,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fields => "expected OID|TAG|VALUE",
            Self::Oid => "invalid OID",
            Self::Tag => "unknown tag",
            Self::Value => "value does not fit its tag",
            Self::InvalidUtf8 => "invalid UTF-8",
            Self::ConflictingDuplicate => "OID repeated with another value",
        })
    }
}

/// Something a mapping could not find, had to repair, or could not decide. Lines count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// No page counter at all: the report has no meter. A billing system must not read this as
    /// zero pages.
    NoPageCounter,
    /// No serial number.
    NoSerialNumber,
    /// No manufacturer field (IEEE 1284 `MFG`, LEDM `Manufacturer/Name`, a known enterprise
    /// number): the make is left absent rather than guessed from the model.
    NoMake,
    /// No model.
    NoModel,
    /// A value outside what the schema can carry, replaced.
    ValueClamped {
        /// What it was (`consumable level`, `marker-levels`).
        field: &'static str,
        /// The value as the device said it.
        value: i64,
        /// What the report carries instead (`None`: unknown).
        replaced_by: Option<i64>,
    },
    /// A record repeated with the same id; the first was kept.
    DuplicateRecord {
        /// Which list (`consumables`, `alerts` ...).
        list: &'static str,
        /// The repeated id.
        record_id: u64,
    },
    /// A capture line was skipped. Only lines outside the tables the mapping reads are
    /// skipped; a corrupt line inside them refuses the capture.
    LineSkipped {
        /// The line.
        line: usize,
        /// Why.
        problem: LineProblem,
    },
    /// A line identical to an earlier one, ignored.
    DuplicateLine {
        /// The repeated line.
        line: usize,
        /// The line it repeats.
        first: usize,
    },
    /// An octet-string value that is not UTF-8 was kept as its bytes (device text is read as
    /// Latin-1 where it is not UTF-8).
    Latin1Repaired {
        /// The line.
        line: usize,
    },
    /// A value this mapping has no schema code for; the raw text is kept here.
    UnmappedValue {
        /// Where (`ProductStatusDyn/Status/StatusCategory`).
        field: &'static str,
        /// The text, at most `MAX_TEXT_BYTES` bytes.
        text: String,
    },
    /// A document the mapping reads is missing (an LEDM document, a CDM endpoint).
    DocumentMissing {
        /// The document.
        document: &'static str,
    },
    /// A document the device served could not be used (refused, an HTTP error, not JSON): read
    /// as missing, so that the others still map (a CDM poll).
    DocumentUnread {
        /// The document.
        document: &'static str,
        /// Why, as the poller saw it.
        reason: String,
    },
    /// Sources of a meter disagree; see [`MeterReading::disputed_by`].
    MeterDisputed {
        /// The meter.
        kind: MeterKind,
        /// The value in the report.
        value: u64,
        /// The other values.
        others: Vec<u64>,
    },
    /// A supply's colorant and its name name two different colours (not a shade of one
    /// another, as photo black is of black); the name's colour is reported, as a person
    /// reading the name would take it (a Brother MFC-9970CDW's colorant table swaps magenta
    /// and yellow against its supplies' names).
    ColourDisputed {
        /// The consumable's record id.
        record_id: u64,
        /// The colour its colorant names.
        colorant: Colour,
        /// The colour its name names, reported.
        named: Colour,
    },
    /// More than [`MAX_FINDINGS`] findings; the rest were dropped.
    TooManyFindings,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPageCounter => f.write_str("no page counter: the report has no meter"),
            Self::NoSerialNumber => f.write_str("no serial number"),
            Self::NoMake => f.write_str("no manufacturer field: make left absent"),
            Self::NoModel => f.write_str("no model"),
            Self::ValueClamped { field, value, replaced_by: Some(r) } => {
                write!(f, "{field} {value} out of range, clamped to {r}")
            }
            Self::ValueClamped { field, value, replaced_by: None } => {
                write!(f, "{field} {value} out of range, read as unknown")
            }
            Self::DuplicateRecord { list, record_id } => {
                write!(f, "{list}: record {record_id} repeated, the first kept")
            }
            Self::LineSkipped { line, problem } => write!(f, "line {line} skipped: {problem}"),
            Self::DuplicateLine { line, first } => write!(f, "line {line} repeats line {first}, ignored"),
            Self::Latin1Repaired { line } => write!(f, "line {line}: value not UTF-8, read as Latin-1"),
            Self::UnmappedValue { field, text } => write!(f, "{field}: {text:?} has no schema code, kept as unknown"),
            Self::DocumentMissing { document } => write!(f, "{document} missing"),
            Self::DocumentUnread { document, reason } => write!(f, "{document} unread, read as missing: {reason}"),
            Self::MeterDisputed { kind, value, others } => {
                write!(f, "meter {kind}: sources disagree, {value} reported, also read")?;
                for v in others {
                    write!(f, " {v}")?;
                }
                Ok(())
            }
            Self::ColourDisputed { record_id, colorant, named } => write!(
                f,
                "consumable {record_id}: colorant {} but named {}, the name's colour reported",
                colorant.name(),
                named.name()
            ),
            Self::TooManyFindings => write!(f, "more than {MAX_FINDINGS} findings, the rest dropped"),
        }
    }
}

/// The findings of one mapping, bounded by [`MAX_FINDINGS`].
#[derive(Debug, Default)]
pub(crate) struct Findings(Vec<Finding>);

impl Findings {
    pub(crate) fn push(&mut self, finding: Finding) {
        match self.0.len() {
            n if n < MAX_FINDINGS => self.0.push(finding),
            MAX_FINDINGS => self.0.push(Finding::TooManyFindings),
            _ => {}
        }
    }

    pub(crate) fn extend(&mut self, findings: impl IntoIterator<Item = Finding>) {
        for f in findings {
            self.push(f);
        }
    }

    pub(crate) fn into_vec(self) -> Vec<Finding> {
        self.0
    }
}

/// How much a source is preferred for a meter: the more specific counter wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    /// A device's own total that contradicts its parts where another of its counters agrees
    /// with the parts (HP CDM's impressions `total` on a Smart Tank 580-590, against its sheets):
    /// kept as a dispute, never the reading.
    Contradicted = 0,
    /// `prtMarkerLifeCount` (RFC 3805): the marker's count, whatever the service.
    MarkerLifeCount = 1,
    /// The PWG Imaging System Counter MIB (PWG 5106.1).
    CounterMib = 2,
    /// A documented vendor counter, or the one protocol source (IPP, LEDM).
    Vendor = 3,
}

/// Meters whose value is the sum of others, checked when every required part was read:
/// (whole, required parts, optional parts).
const PARTITIONS: &[(MeterKind, &[MeterKind], &[MeterKind])] = &[
    (MeterKind::TOTAL, &[MeterKind::MONO, MeterKind::COLOUR], &[MeterKind::HIGHLIGHT_COLOUR]),
    (MeterKind::PRINT, &[MeterKind::PRINT_MONO, MeterKind::PRINT_COLOUR], &[MeterKind::PRINT_HIGHLIGHT_COLOUR]),
    (MeterKind::COPIES, &[MeterKind::COPY_MONO, MeterKind::COPY_COLOUR], &[MeterKind::COPY_HIGHLIGHT_COLOUR]),
];

/// The candidate values of each meter, collected from every source, decided at the end.
#[derive(Debug, Default)]
pub(crate) struct MeterBook(BTreeMap<MeterKind, Vec<(Rank, Source, u64)>>);

impl MeterBook {
    pub(crate) fn add(&mut self, kind: MeterKind, rank: Rank, source: Source, value: u64) {
        self.0.entry(kind).or_default().push((rank, source, value));
    }

    /// Writes the preferred value of each meter into the report, and returns the readings:
    /// candidates that disagree with the preferred one, and totals that disagree with the sum of
    /// their parts, make the reading disputed (and a finding).
    pub(crate) fn finish(self, report: &mut DeviceReport, findings: &mut Findings) -> Vec<MeterReading> {
        let mut readings: Vec<MeterReading> = Vec::new();
        for (kind, mut candidates) in self.0 {
            // Highest rank first; the order of addition breaks ties.
            candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
            let Some((_, _, value)) = candidates.first().cloned() else { continue };
            let mut reading = MeterReading { kind: kind.clone(), value, sources: Vec::new(), disputed_by: Vec::new() };
            for (_, source, v) in candidates {
                if v == value {
                    reading.sources.push(source);
                } else {
                    reading.disputed_by.push(SourcedValue { source, value: v });
                }
            }
            report.snapshot.meters.set(kind, value);
            readings.push(reading);
        }
        for (whole, required, optional) in PARTITIONS {
            let value_of = |k: &MeterKind| readings.iter().find(|r| &r.kind == k).map(|r| r.value);
            let Some(parts) = required.iter().map(value_of).collect::<Option<Vec<u64>>>() else { continue };
            let mut present: Vec<MeterKind> = required.to_vec();
            let mut sum = parts.iter().fold(0u64, |acc, v| acc.saturating_add(*v));
            for k in optional.iter() {
                if let Some(v) = value_of(k) {
                    sum = sum.saturating_add(v);
                    present.push(k.clone());
                }
            }
            if let Some(reading) = readings.iter_mut().find(|r| &r.kind == whole)
                && reading.value != sum
            {
                reading.disputed_by.push(SourcedValue { source: Source::Sum(present), value: sum });
            }
        }
        for reading in &readings {
            if reading.is_disputed() {
                findings.push(Finding::MeterDisputed {
                    kind: reading.kind.clone(),
                    value: reading.value,
                    others: reading.disputed_by.iter().map(|d| d.value).collect(),
                });
            }
        }
        readings
    }
}

/// The findings every mapping makes about the finished report: what identity fields and
/// counters are missing.
pub(crate) fn check_report(report: &DeviceReport, findings: &mut Findings) {
    if report.snapshot.meters.is_empty() {
        findings.push(Finding::NoPageCounter);
    }
    if report.identity.serial_number.is_none() {
        findings.push(Finding::NoSerialNumber);
    }
    if report.identity.make.is_none() {
        findings.push(Finding::NoMake);
    }
    if report.identity.model.is_none() {
        findings.push(Finding::NoModel);
    }
}
