//! Partner Link lifetime usage counters (appendix A, "printer usage information").

use alloc::string::String;
use alloc::vec::Vec;

use crate::units::{AreaMm2, InkNl, LengthUm, PageCount};

/// Lifetime usage counters of the printer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Usage {
    /// Per ink cartridge type the printer supports.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<CartridgeTypeUsage>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested"))]
    pub cartridge_types: Vec<CartridgeTypeUsage>,
    /// Per media type used.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<MediaTypeUsage>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested"))]
    pub media_types: Vec<MediaTypeUsage>,
    /// Total area scanned, scans and copies together.
    pub scanned_area_total: AreaMm2,
    /// Area scanned for scans only (no copies).
    pub scanned_area_scans: AreaMm2,
    /// Area scanned for copies.
    pub scanned_area_copies: AreaMm2,
    /// Per application category.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<ApplicationCategoryUsage>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested"))]
    pub application_categories: Vec<ApplicationCategoryUsage>,
    /// Number of jobs.
    pub jobs: u64,
    /// Number of pages.
    pub pages: PageCount,
    /// Total ink used.
    pub ink_total: InkNl,
    /// Total media used.
    pub media_total: AreaMm2,
}

/// Usage of one ink cartridge type, over all cartridges of that type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct CartridgeTypeUsage {
    /// The cartridge type's product number.
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::text()"))]
    pub product_number: String,
    /// Total ink used.
    pub ink_total: InkNl,
    /// Of that, third-party ink (Partner Link: "non-HP ink").
    pub ink_third_party: InkNl,
    /// Of that, the manufacturer's own ink (Partner Link: "HP ink").
    pub ink_oem: InkNl,
    /// Number of insertions of cartridges of this type.
    pub insertions: u64,
}

/// Media used of one media type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct MediaTypeUsage {
    /// Media type (a [`MediaType::id`](crate::MediaType::id), or the device's name for it).
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::text()"))]
    pub media_type: String,
    /// Total area used.
    pub area: AreaMm2,
    /// Total length used, where the device counts it (roll media).
    ///
    /// An extension beyond Partner Link appendix A, whose record has the area only ("For each
    /// media type used: name, total area used"): large-format resellers bill roll media per
    /// linear metre per media type. Absent when the device does not report it, and then
    /// nothing of it is on the wire (old readers and the state hash see the record unchanged).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub length: Option<LengthUm>,
}

/// Media used by plots of one application category (CAD, GIS, poster, photo, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct ApplicationCategoryUsage {
    /// Application category id.
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::text()"))]
    pub category: String,
    /// Media area used.
    pub media_area: AreaMm2,
    /// Media length used.
    pub media_length: LengthUm,
}
