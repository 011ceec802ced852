//! Partner Link accounting settings: job category thresholds and print category customisation.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::units::BasisPoints;

/// Accounting settings the printer applies to jobs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Settings {
    /// Job category thresholds: how ink coverage sorts jobs into categories, lowest first.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<JobCategoryThreshold>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested"))]
    pub job_category_thresholds: Vec<JobCategoryThreshold>,
    /// Print category customisation settings.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<PrintCategory>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested"))]
    pub print_categories: Vec<PrintCategory>,
}

/// One job category: a job whose ink coverage is at most `max_coverage` (and above the
/// previous threshold) falls in `category`, the value a print job reports as its
/// [`ink_coverage_category`](crate::PrintDetails::ink_coverage_category).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct JobCategoryThreshold {
    /// The category's id (for example `"low"`, `"medium"`, `"high"`).
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::text()"))]
    pub category: String,
    /// Highest ink coverage in the category.
    pub max_coverage: BasisPoints,
}

/// One print (application) category and how the site customised it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct PrintCategory {
    /// Application category id (as in [`ApplicationCategoryUsage::category`](crate::ApplicationCategoryUsage::category)).
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::text()"))]
    pub category: String,
    /// Display name.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub name: Option<String>,
    /// Whether jobs are sorted into this category.
    pub enabled: bool,
    /// Further vendor settings, by name. The seed does not list them, so they are kept as text.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "BTreeMap::is_empty"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::small_map()"))]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested_map"))]
    pub settings: BTreeMap<String, String>,
}
