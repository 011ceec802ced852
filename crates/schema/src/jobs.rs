//! Partner Link job metadata: print, scan and copy jobs. Never job content.

use alloc::string::String;
use alloc::vec::Vec;

use uuid::Uuid;

use crate::Colour;
use crate::codes::{JobSource, JobStatus, PrintQuality};
use crate::units::{AreaMm2, BasisPoints, DurationMs, InkNl, LengthUm, PageCount, Timestamp};

/// What identifies a job, common to print, scan and copy jobs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct JobHeader {
    /// Job name. Personal data ([`PersonalField::JobName`](crate::redact::PersonalField::JobName)).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub name: Option<String>,
    /// Job UUID, unique across the device's jobs.
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::uuid()"))]
    pub uuid: Uuid,
    /// The device's job sequence number.
    pub sequence: u64,
    /// What the submitting application said about the job.
    pub submitter: Submitter,
}

/// Information the submitting application attaches to a job (Partner Link: "Project ID,
/// Application ID, User Defined, Account ID, User Name, Timestamp"). HP drivers fill in the user
/// name and time stamp, and the account id depending on configuration; scan jobs usually carry
/// none of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Submitter {
    /// Project id. Personal data ([`PersonalField::ProjectId`](crate::redact::PersonalField::ProjectId)).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub project_id: Option<String>,
    /// Application id.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub application_id: Option<String>,
    /// Free user-defined text. Personal data ([`PersonalField::UserDefined`](crate::redact::PersonalField::UserDefined)).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub user_defined: Option<String>,
    /// Account id. Personal data ([`PersonalField::AccountId`](crate::redact::PersonalField::AccountId)).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub account_id: Option<String>,
    /// User name. Personal data ([`PersonalField::UserName`](crate::redact::PersonalField::UserName)).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub user_name: Option<String>,
    /// When the application submitted the job.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub submitted_at: Option<Timestamp>,
}

/// The printing part of a print or copy job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct PrintDetails {
    /// When printing finished (or stopped).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub printed_at: Option<Timestamp>,
    /// Outcome (printed, cancelled, ...).
    pub status: JobStatus,
    /// Where the job came from (driver, RIP, EWS, ...).
    pub source: JobSource,
    /// Ink coverage category (a [`JobCategoryThreshold::category`](crate::JobCategoryThreshold::category)).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub ink_coverage_category: Option<String>,
    /// Print quality.
    pub quality: PrintQuality,
    /// Number of pages.
    pub pages: PageCount,
    /// Number of copies.
    pub copies: u32,
    /// Total time to print.
    pub print_time: DurationMs,
    /// Ink used per colour, printhead servicing included.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<InkUse>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested"))]
    pub ink: Vec<InkUse>,
    /// Total media used.
    pub media_area: AreaMm2,
    /// Total area printed.
    pub printed_area: AreaMm2,
    /// Per application category.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<JobCategoryUsage>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested"))]
    pub application_categories: Vec<JobCategoryUsage>,
    /// Share of pixels that are not white.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub non_white_coverage: Option<BasisPoints>,
    /// Share of pixels in colour.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub colour_coverage: Option<BasisPoints>,
}

/// Ink of one colour used by a job.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct InkUse {
    /// Ink colour.
    pub colour: Colour,
    /// Volume used, printhead servicing included.
    pub volume: InkNl,
}

/// What a job used in one application category.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct JobCategoryUsage {
    /// Application category id.
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::text()"))]
    pub category: String,
    /// Media area used.
    pub media_area: AreaMm2,
    /// Area printed.
    pub printed_area: AreaMm2,
    /// Ink used.
    pub ink: InkNl,
    /// Media length used.
    pub media_length: LengthUm,
}

/// The scanning part of a scan or copy job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct ScanDetails {
    /// When scanning finished (or stopped).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub scanned_at: Option<Timestamp>,
    /// Outcome (scanned, cancelled, ...).
    pub status: JobStatus,
    /// Total area scanned.
    pub scanned_area: AreaMm2,
}

/// A print job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct PrintJob {
    /// Identification.
    pub job: JobHeader,
    /// What was printed.
    pub print: PrintDetails,
}

/// A scan job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct ScanJob {
    /// Identification.
    pub job: JobHeader,
    /// What was scanned.
    pub scan: ScanDetails,
}

/// A copy job: both a scan and a print (Partner Link appendix A).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct CopyJob {
    /// Identification.
    pub job: JobHeader,
    /// What was scanned.
    pub scan: ScanDetails,
    /// What was printed.
    pub print: PrintDetails,
}
