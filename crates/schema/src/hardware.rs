//! Partner Link printer status: printheads, ink cartridges, media, accessories.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::Colour;
use crate::codes::{AccessoryStatus, CartridgeStatus, InputType, MediaSourceStatus, PrintheadStatus};
use crate::ids::RecordId;
use crate::units::{BasisPoints, InkNl, LengthUm, Timestamp};

/// One printhead (Partner Link appendix A, "for each printhead").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Printhead {
    /// Anonymous record id, unique among the report's printheads.
    pub record_id: RecordId,
    /// The colours it prints.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<Colour>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested"))]
    pub colours: Vec<Colour>,
    /// Status.
    pub status: PrintheadStatus,
    /// Health metric: 100 % is new, 0 % is worn out.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub health: Option<BasisPoints>,
    /// Product number.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub product_number: Option<String>,
    /// Product name.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub product_name: Option<String>,
    /// Serial number.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub serial_number: Option<String>,
    /// Whether it has been used with third-party ink (Partner Link: "non-HP ink").
    pub third_party_ink_used: bool,
    /// Expiration date (midnight UTC of that day).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub expires_at: Option<Timestamp>,
}

/// One installed ink cartridge (Partner Link appendix A, "for each ink cartridge").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct InkCartridge {
    /// Anonymous record id, unique among the report's cartridges.
    pub record_id: RecordId,
    /// Ink colour.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub colour: Option<Colour>,
    /// Status.
    pub status: CartridgeStatus,
    /// Product number.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub product_number: Option<String>,
    /// Product name.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub product_name: Option<String>,
    /// Serial number.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub serial_number: Option<String>,
    /// Manufacturer.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub manufacturer: Option<String>,
    /// Capacity.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub capacity: Option<InkNl>,
    /// Total ink consumed from this cartridge.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub ink_consumed: Option<InkNl>,
    /// Of that, third-party ink (Partner Link: "total non-HP ink consumed").
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub third_party_ink_consumed: Option<InkNl>,
    /// Expiration date (midnight UTC of that day).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub expires_at: Option<Timestamp>,
}

/// One media source: a roll, a single-sheet feed or an input tray.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct MediaSource {
    /// Anonymous record id, unique among the report's media sources.
    pub record_id: RecordId,
    /// What kind of source (`prtInputType`: tray, roll, manual feed, ...).
    pub kind: InputType,
    /// The device's name for it ("Roll 1", "Tray 2").
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub name: Option<String>,
    /// Status (loaded, unloaded, ...).
    pub status: MediaSourceStatus,
    /// Id of the loaded media type (a [`MediaType::id`]).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub media_type: Option<String>,
    /// Width of the loaded media.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub width: Option<LengthUm>,
    /// Height of the loaded media; for a roll, the length left where the device knows it.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub height: Option<LengthUm>,
}

/// A media type the printer supports, with its localised names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct MediaType {
    /// The device's stable id for the type (for example `"bond-paper"`).
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::text()"))]
    pub id: String,
    /// Localised names, keyed by BCP 47 language tag (`"en"`, `"es-ES"`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "BTreeMap::is_empty"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::small_map()"))]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::nested_map"))]
    pub names: BTreeMap<String, String>,
}

/// An installed accessory (stacker, take-up reel, scanner, finisher, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Accessory {
    /// Anonymous record id, unique among the report's accessories.
    pub record_id: RecordId,
    /// The device's name for it.
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::text()"))]
    pub name: String,
    /// Status.
    pub status: AccessoryStatus,
    /// Product number.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub product_number: Option<String>,
    /// Serial number.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub serial_number: Option<String>,
    /// Firmware version.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub firmware_version: Option<String>,
}
