//! Who the device is: SDS asset identifiers and Partner Link printer configuration.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;

use crate::ids::{MacAddress, RecordId};

/// The device's identity and configuration: what it is, where it is, what firmware it runs.
///
/// SDS sends these once and again only when they change; the delta protocol does the same.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Identity {
    /// Anonymous device record id (SDS "anonymous database record ID").
    pub record_id: RecordId,
    /// Manufacturer ("make").
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub make: Option<String>,
    /// Model name.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub model: Option<String>,
    /// Serial number (`prtGeneralSerialNumber`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub serial_number: Option<String>,
    /// Product number (Partner Link, for example `"2RQ35A"`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub product_number: Option<String>,
    /// Product name (Partner Link, for example `"HP DesignJet T1700"`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub product_name: Option<String>,
    /// Firmware version.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub firmware_version: Option<String>,
    /// Free-text device description (`sysDescr`, `hrDeviceDescr`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub description: Option<String>,
    /// The vendor's object identifier for the model (`sysObjectID`), dotted decimal.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub object_id: Option<String>,
    /// MAC address of the network interface the agent reached.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub mac_address: Option<MacAddress>,
    /// Host name (`sysName`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub hostname: Option<String>,
    /// IP addresses (electronic location).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    #[cfg_attr(
        feature = "proptest",
        proptest(strategy = "crate::arbitrary::small_vec(proptest::arbitrary::any::<IpAddr>())")
    )]
    #[cfg_attr(feature = "serde", serde(deserialize_with = "crate::bounded::ip_addresses"))]
    pub ip_addresses: Vec<IpAddr>,
    /// Physical location (`sysLocation`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub location: Option<String>,
    /// Zone name (SDS "physical location or zone name"), as the site assigns it.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub zone: Option<String>,
    /// Administrative contact (`sysContact`). Often a person's name or e-mail address:
    /// personal data, see [`PersonalField::Contact`](crate::redact::PersonalField::Contact).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub contact: Option<String>,
}
