//! Service alerts (SDS service incident data; the Printer-MIB alert table).

use alloc::string::String;

use crate::codes::{AlertCode, AlertGroup, AlertSeverity, TrainingLevel};
use crate::ids::RecordId;
use crate::units::{PageCount, Timestamp};

/// One active alert condition, as in a `prtAlertEntry` (RFC 3805 §2.2.13) plus SDS's vendor
/// error code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Alert {
    /// Anonymous alert record id, unique among the report's alerts.
    pub record_id: RecordId,
    /// What the alert is, as the device describes it (`prtAlertDescription`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub description: Option<String>,
    /// The alert code (`prtAlertCode`).
    pub code: AlertCode,
    /// The vendor's own error code, when the device gives one (for example `"13.B2.D1"`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    #[cfg_attr(feature = "proptest", proptest(strategy = "crate::arbitrary::opt_text()"))]
    pub vendor_code: Option<String>,
    /// The alert class: which sub-unit it concerns (`prtAlertGroup`).
    pub group: AlertGroup,
    /// Which instance of that sub-unit (`prtAlertGroupIndex`, for example the tray number);
    /// `None` where the MIB gives -1 (not applicable).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub group_index: Option<u32>,
    /// Where in the device (`prtAlertLocation`); `None` where the MIB gives -1 or -2.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub location: Option<u32>,
    /// Severity (`prtAlertSeverityLevel`).
    pub severity: AlertSeverity,
    /// Training needed to resolve it (`prtAlertTrainingLevel`).
    pub training_level: TrainingLevel,
    /// The device's total page count when the alert was raised.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub page_count: Option<PageCount>,
    /// When the alert was raised.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub raised_at: Option<Timestamp>,
}

impl Alert {
    /// Whether the alert is urgent enough to report at once rather than at the next scheduled
    /// report (Partner Link: "high severity alerts are sent as soon as detected"): critical
    /// severity, or a condition that needs field service.
    pub fn is_urgent(&self) -> bool {
        self.severity == AlertSeverity::CRITICAL || self.training_level == TrainingLevel::FIELD_SERVICE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::{format, prelude::rust_2024::*, vec};

    #[test]
    fn urgency_follows_severity_and_training_level() {
        let mut a =
            Alert { severity: AlertSeverity::WARNING, training_level: TrainingLevel::UNTRAINED, ..Default::default() };
        assert!(!a.is_urgent());
        a.training_level = TrainingLevel::FIELD_SERVICE;
        assert!(a.is_urgent());
        a = Alert { severity: AlertSeverity::CRITICAL, ..Default::default() };
        assert!(a.is_urgent());
    }
}
