//! Redaction of personal data before a report leaves the site.
//!
//! printfleet has no field for document content. The fields that can identify a person are
//! listed in [`PersonalField`]; a [`Redaction`] policy keeps, drops or pseudonymises each one.
//!
//! A pseudonym is `pn1-` followed by the first 16 bytes, in hex, of
//! `HMAC-SHA256(site_key, "printfleet pseudonym v1" || 0x00 || value)`. Under one site key the
//! same value always gives the same pseudonym, in every report and every field, so the portal
//! can still count jobs per user or account; without the key nobody can reverse it or test a
//! guess. Rotating the key breaks that linkage on purpose.
//!
//! What leaves the site goes through a policy: [`Redaction::apply_to`] turns a report, a job or
//! a device state into a [`Redacted`] value, the only way to make one, and whatever sends data
//! off the site (`printfleet_diff::sync::Agent::update` and `record_job`) takes `Redacted<…>`,
//! so that forgetting the policy is a compile error. Sending personal data unchanged is an
//! explicit choice: [`Redaction::keep_all`]. The default policy drops every personal field.
//!
//! ```
//! use printfleet_schema::redact::{FieldPolicy, PersonalField, Redaction, SiteKey};
//! use printfleet_schema::{DeviceReport, PrintJob};
//!
//! let mut report = DeviceReport::default();
//! let mut job = PrintJob::default();
//! job.job.name = Some("salaries-2026.xlsx".into());
//! job.job.submitter.user_name = Some("alice".into());
//! report.events.print_jobs.push(job);
//!
//! // A fixed key for this example only: a site generates its key with a CSPRNG and stores it.
//! let key = SiteKey::from_bytes([0x07; 32]);
//! let policy = Redaction::pseudonymise_all(key).with(PersonalField::JobName, FieldPolicy::Drop)?;
//! let redacted = policy.apply_to(report);
//!
//! let job = &redacted.get().events.print_jobs[0].job;
//! assert_eq!(job.name, None);
//! let user = job.submitter.user_name.as_deref().unwrap_or_default();
//! assert!(user.starts_with("pn1-") && user != "alice");
//! // Applying the policy again changes nothing: pseudonyms are recognised, not hashed again.
//! assert_eq!(policy.apply_to(redacted.clone().into_inner()), redacted);
//! # Ok::<(), printfleet_schema::Error>(())
//! ```
//!
//! # Security
//! Pseudonyms of low-entropy values (user names) are only as secret as the site key: keep it on
//! the site, never in a report. Applying a policy twice gives the same result as applying it once:
//! a value that already is a pseudonym (`pn1-` and exactly 32 lowercase hex digits) is kept as it
//! is. A user who picks such a string as their name therefore travels under that name, which
//! reveals nothing they did not choose to show.

use alloc::string::String;
use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{CopyJob, DeviceReport, Error, Events, Identity, JobHeader, PrintJob, ScanJob};

/// A field that can identify a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
#[non_exhaustive]
pub enum PersonalField {
    /// [`JobHeader::name`] of every job.
    JobName,
    /// [`Submitter::user_name`](crate::Submitter::user_name).
    UserName,
    /// [`Submitter::account_id`](crate::Submitter::account_id).
    AccountId,
    /// [`Submitter::project_id`](crate::Submitter::project_id).
    ProjectId,
    /// [`Submitter::user_defined`](crate::Submitter::user_defined).
    UserDefined,
    /// [`Identity::contact`](crate::Identity::contact) (`sysContact`).
    Contact,
}

impl PersonalField {
    /// Every personal field.
    pub const ALL: [Self; 6] =
        [Self::JobName, Self::UserName, Self::AccountId, Self::ProjectId, Self::UserDefined, Self::Contact];

    /// The field's snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::JobName => "job_name",
            Self::UserName => "user_name",
            Self::AccountId => "account_id",
            Self::ProjectId => "project_id",
            Self::UserDefined => "user_defined",
            Self::Contact => "contact",
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::JobName => 0,
            Self::UserName => 1,
            Self::AccountId => 2,
            Self::ProjectId => 3,
            Self::UserDefined => 4,
            Self::Contact => 5,
        }
    }
}

/// What to do with one personal field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub enum FieldPolicy {
    /// Send it as it is.
    Keep,
    /// Remove it.
    #[default]
    Drop,
    /// Replace it with a keyed pseudonym (needs a [`SiteKey`]).
    Pseudonym,
}

/// The secret key of one site's pseudonyms. Zeroised on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SiteKey([u8; 32]);

impl SiteKey {
    /// Shortest key [`SiteKey::from_slice`] accepts, in bytes.
    pub const MIN_LEN: usize = 16;

    /// A key from 32 bytes (generate them with a CSPRNG and store them on the site).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from at least [`SiteKey::MIN_LEN`] bytes of secret material, condensed with
    /// SHA-256 so that any length works.
    pub fn from_slice(material: &[u8]) -> Result<Self, Error> {
        if material.len() < Self::MIN_LEN {
            return Err(Error::SiteKeyTooShort { len: material.len(), min: Self::MIN_LEN });
        }
        let digest = <Sha256 as sha2::Digest>::digest(material);
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest);
        Ok(Self(key))
    }
}

impl fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SiteKey(<redacted>)")
    }
}

/// A redaction policy: one [`FieldPolicy`] per [`PersonalField`], and the key for pseudonyms.
#[derive(Clone, Debug)]
pub struct Redaction {
    policies: [FieldPolicy; PersonalField::ALL.len()],
    key: Option<SiteKey>,
}

impl Default for Redaction {
    /// [`Redaction::drop_all`]: the safe default.
    fn default() -> Self {
        Self::drop_all()
    }
}

const PSEUDONYM_LABEL: &[u8] = b"printfleet pseudonym v1\0";
const PSEUDONYM_PREFIX: &str = "pn1-";
/// Bytes of the HMAC kept in a pseudonym: 128 bits, collision-free for any fleet.
const PSEUDONYM_BYTES: usize = 16;

impl Redaction {
    /// Sends every personal field as it is: an explicit choice, for sites that have agreed to
    /// let personal data leave the site.
    pub fn keep_all() -> Self {
        Self { policies: [FieldPolicy::Keep; PersonalField::ALL.len()], key: None }
    }

    /// Drops every personal field.
    pub fn drop_all() -> Self {
        Self { policies: [FieldPolicy::Drop; PersonalField::ALL.len()], key: None }
    }

    /// Pseudonymises every personal field under `key`.
    pub fn pseudonymise_all(key: SiteKey) -> Self {
        Self { policies: [FieldPolicy::Pseudonym; PersonalField::ALL.len()], key: Some(key) }
    }

    /// Sets the policy of one field; an error for [`FieldPolicy::Pseudonym`] without a key.
    pub fn with(mut self, field: PersonalField, policy: FieldPolicy) -> Result<Self, Error> {
        if policy == FieldPolicy::Pseudonym && self.key.is_none() {
            return Err(Error::PseudonymWithoutKey { field: field.name() });
        }
        if let Some(slot) = self.policies.get_mut(field.index()) {
            *slot = policy;
        }
        Ok(self)
    }

    /// Sets the key for pseudonyms.
    #[must_use]
    pub fn with_key(mut self, key: SiteKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The policy of one field.
    pub fn policy(&self, field: PersonalField) -> FieldPolicy {
        self.policies.get(field.index()).copied().unwrap_or_default()
    }

    /// The pseudonym of `value` under this policy's key (`None` without a key).
    pub fn pseudonym(&self, value: &str) -> Option<String> {
        let key = self.key.as_ref()?;
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).ok()?;
        mac.update(PSEUDONYM_LABEL);
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = String::with_capacity(PSEUDONYM_PREFIX.len().saturating_add(2 * PSEUDONYM_BYTES));
        out.push_str(PSEUDONYM_PREFIX);
        out.push_str(&hex::encode(tag.get(..PSEUDONYM_BYTES)?));
        Some(out)
    }

    /// Applies the policy to one personal field's value. A value that already is a pseudonym
    /// ([`is_pseudonym`]) stays as it is under [`FieldPolicy::Pseudonym`], so that applying a
    /// policy twice gives the same result as applying it once.
    pub fn redact_field(&self, field: PersonalField, value: &mut Option<String>) {
        match self.policy(field) {
            FieldPolicy::Keep => {}
            FieldPolicy::Drop => *value = None,
            FieldPolicy::Pseudonym if value.as_deref().is_some_and(is_pseudonym) => {}
            // Without a key `with` refuses Pseudonym, so `None` here means drop: never leak.
            FieldPolicy::Pseudonym => *value = value.as_deref().and_then(|v| self.pseudonym(v)),
        }
    }

    /// Applies the policy to every personal field of `report`, in place.
    pub fn apply(&self, report: &mut DeviceReport) {
        report.redact(self);
    }

    /// Applies the policy to every personal field of `value` and marks the result as
    /// [`Redacted`]: the only way to make one.
    pub fn apply_to<T: Redact>(&self, mut value: T) -> Redacted<T> {
        value.redact(self);
        Redacted(value)
    }
}

/// Whether `value` has the form of a pseudonym: `pn1-` followed by exactly 32 lowercase hex
/// digits. [`Redaction`] keeps such a value as it is instead of hashing it again.
pub fn is_pseudonym(value: &str) -> bool {
    value.strip_prefix(PSEUDONYM_PREFIX).is_some_and(|hex| {
        hex.len() == 2 * PSEUDONYM_BYTES && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// A value with personal fields that a [`Redaction`] policy knows how to redact.
///
/// Implemented here for the records that hold personal fields, and by `printfleet-wire` for its
/// `DeviceState`. An implementation must call [`Redact::redact`] (or
/// [`Redaction::redact_field`]) on every part that can hold personal data.
pub trait Redact {
    /// Applies `policy` to every personal field of `self`, in place.
    fn redact(&mut self, policy: &Redaction);
}

impl Redact for JobHeader {
    fn redact(&mut self, policy: &Redaction) {
        policy.redact_field(PersonalField::JobName, &mut self.name);
        policy.redact_field(PersonalField::UserName, &mut self.submitter.user_name);
        policy.redact_field(PersonalField::AccountId, &mut self.submitter.account_id);
        policy.redact_field(PersonalField::ProjectId, &mut self.submitter.project_id);
        policy.redact_field(PersonalField::UserDefined, &mut self.submitter.user_defined);
    }
}

impl Redact for PrintJob {
    fn redact(&mut self, policy: &Redaction) {
        self.job.redact(policy);
    }
}

impl Redact for ScanJob {
    fn redact(&mut self, policy: &Redaction) {
        self.job.redact(policy);
    }
}

impl Redact for CopyJob {
    fn redact(&mut self, policy: &Redaction) {
        self.job.redact(policy);
    }
}

impl Redact for Identity {
    fn redact(&mut self, policy: &Redaction) {
        policy.redact_field(PersonalField::Contact, &mut self.contact);
    }
}

impl Redact for Events {
    fn redact(&mut self, policy: &Redaction) {
        self.print_jobs.iter_mut().for_each(|j| j.redact(policy));
        self.scan_jobs.iter_mut().for_each(|j| j.redact(policy));
        self.copy_jobs.iter_mut().for_each(|j| j.redact(policy));
    }
}

impl Redact for DeviceReport {
    fn redact(&mut self, policy: &Redaction) {
        // The snapshot holds no personal field (see `PersonalField`).
        self.identity.redact(policy);
        self.events.redact(policy);
    }
}

/// A value that a [`Redaction`] policy has been applied to: only [`Redaction::apply_to`] makes
/// one, so a function that takes `Redacted<T>` cannot be given data that skipped the policy.
/// Read it with [`Redacted::get`]; there is no way to change it in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// The redacted value.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// The redacted value, no longer marked (for sending it somewhere that takes plain values).
    pub fn into_inner(self) -> T {
        self.0
    }

    /// The redacted value behind a shared pointer, still marked: its clones are cheap and share
    /// one copy (an agent keeps its latest state and the state the portal acknowledged this way).
    #[cfg(target_has_atomic = "ptr")]
    pub fn into_shared(self) -> Redacted<alloc::sync::Arc<T>> {
        Redacted(alloc::sync::Arc::new(self.0))
    }
}

impl<T> AsRef<T> for Redacted<T> {
    fn as_ref(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CopyJob, ScanJob};
    #[allow(unused_imports)]
    use std::{format, prelude::rust_2024::*, vec};

    fn sample() -> DeviceReport {
        let mut r = DeviceReport::default();
        r.identity.contact = Some("it-admin@example.com".into());
        let h = JobHeader {
            name: Some("plan.dwg".into()),
            submitter: crate::Submitter {
                user_name: Some("alice".into()),
                account_id: Some("acct-7".into()),
                project_id: Some("tower-b".into()),
                user_defined: Some("floor 3".into()),
                application_id: Some("autocad".into()),
                submitted_at: None,
            },
            ..Default::default()
        };
        r.events.print_jobs.push(PrintJob { job: h.clone(), ..Default::default() });
        r.events.scan_jobs.push(ScanJob { job: h.clone(), ..Default::default() });
        r.events.copy_jobs.push(CopyJob { job: h, ..Default::default() });
        r
    }

    #[test]
    fn a_shared_redacted_value_is_one_copy_that_stays_redacted() {
        let shared = Redaction::drop_all().apply_to(sample()).into_shared();
        let twin = shared.clone();
        assert!(alloc::sync::Arc::ptr_eq(shared.get(), twin.get()));
        assert_eq!(shared.get().events.print_jobs[0].job.submitter.user_name, None);
    }

    #[test]
    fn pseudonyms_are_stable_under_one_key_and_differ_under_another() {
        let a = Redaction::pseudonymise_all(SiteKey::from_bytes([1; 32]));
        let b = Redaction::pseudonymise_all(SiteKey::from_bytes([2; 32]));
        let (mut r1, mut r2, mut r3) = (sample(), sample(), sample());
        a.apply(&mut r1);
        a.apply(&mut r2);
        b.apply(&mut r3);
        let user = |r: &DeviceReport| r.events.print_jobs[0].job.submitter.user_name.clone().unwrap();
        assert_eq!(user(&r1), user(&r2));
        assert_ne!(user(&r1), user(&r3));
        assert_eq!(user(&r1).len(), 4 + 32);
        // Same value in another job of the same report: same pseudonym.
        assert_eq!(r1.events.scan_jobs[0].job.submitter.user_name.as_ref(), Some(&user(&r1)));
        // Application id is not personal data.
        assert_eq!(r1.events.print_jobs[0].job.submitter.application_id.as_deref(), Some("autocad"));
    }

    #[test]
    fn pseudonym_matches_the_documented_construction() {
        // HMAC-SHA256(key = 32 x 0x07, "printfleet pseudonym v1\0" || "alice"), first 16 bytes,
        // computed independently with Python's hmac module.
        let r = Redaction::pseudonymise_all(SiteKey::from_bytes([7; 32]));
        assert_eq!(r.pseudonym("alice").unwrap(), PSEUDONYM_FIXTURE);
    }

    const PSEUDONYM_FIXTURE: &str = include_str!("../testdata/pseudonym-alice.txt").trim_ascii();

    #[cfg(feature = "serde")]
    #[test]
    fn dropped_fields_are_gone_from_the_json() {
        let mut r = sample();
        Redaction::drop_all().apply(&mut r);
        let json = serde_json::to_string(&r).unwrap();
        for secret in ["it-admin", "plan.dwg", "alice", "acct-7", "tower-b", "floor 3"] {
            assert!(!json.contains(secret), "{secret} leaked: {json}");
        }
        for key in ["\"name\"", "\"user_name\"", "\"account_id\"", "\"project_id\"", "\"user_defined\"", "\"contact\""]
        {
            assert!(!json.contains(key), "{key} still present: {json}");
        }
        assert!(json.contains("autocad"));
    }

    #[test]
    fn keep_and_mixed_policies() {
        let mut r = sample();
        Redaction::keep_all().apply(&mut r);
        assert_eq!(r, sample());

        let policy = Redaction::keep_all().with(PersonalField::UserName, FieldPolicy::Drop).unwrap();
        let mut r = sample();
        policy.apply(&mut r);
        assert_eq!(r.events.copy_jobs[0].job.submitter.user_name, None);
        assert_eq!(r.events.copy_jobs[0].job.name.as_deref(), Some("plan.dwg"));
    }

    #[test]
    fn applying_a_policy_twice_gives_the_same_result() {
        let policies = [
            Redaction::pseudonymise_all(SiteKey::from_bytes([3; 32])),
            Redaction::drop_all(),
            Redaction::keep_all(),
            Redaction::keep_all()
                .with_key(SiteKey::from_bytes([4; 32]))
                .with(PersonalField::UserName, FieldPolicy::Pseudonym)
                .unwrap(),
        ];
        for policy in policies {
            let once = policy.apply_to(sample());
            let twice = policy.apply_to(once.clone().into_inner());
            assert_eq!(once, twice, "{policy:?}");
        }
        // A pseudonym is recognised and kept.
        let policy = Redaction::pseudonymise_all(SiteKey::from_bytes([3; 32]));
        let once = policy.pseudonym("alice").unwrap();
        assert!(is_pseudonym(&once));
        let mut value = Some(once.clone());
        policy.redact_field(PersonalField::UserName, &mut value);
        assert_eq!(value, Some(once));
    }

    #[test]
    fn names_that_only_look_like_pseudonyms_are_still_pseudonymised() {
        let policy = Redaction::pseudonymise_all(SiteKey::from_bytes([3; 32]));
        let hex32 = "0123456789abcdef0123456789abcdef";
        for lookalike in [
            std::format!("pn1-{}", &hex32[..31]),
            std::format!("pn1-{hex32}0"),
            std::format!("pn1-{}", hex32.to_uppercase()),
            std::format!("pn2-{hex32}"),
            std::format!("PN1-{hex32}"),
            std::format!("pn1-{}g", &hex32[..31]),
            std::format!(" pn1-{hex32}"),
            String::from("pn1-"),
        ] {
            assert!(!is_pseudonym(&lookalike), "{lookalike}");
            let mut value = Some(lookalike.clone());
            policy.redact_field(PersonalField::UserName, &mut value);
            assert_eq!(value, policy.pseudonym(&lookalike), "{lookalike}");
            assert_ne!(value.as_deref(), Some(lookalike.as_str()));
        }
        assert!(is_pseudonym(&std::format!("pn1-{hex32}")));
    }

    #[test]
    fn apply_to_redacts_jobs_and_identities_like_apply() {
        let policy = Redaction::pseudonymise_all(SiteKey::from_bytes([5; 32]))
            .with(PersonalField::JobName, FieldPolicy::Drop)
            .unwrap();
        let mut report = sample();
        policy.apply(&mut report);
        let job = policy.apply_to(sample().events.print_jobs[0].clone());
        assert_eq!(job.get(), &report.events.print_jobs[0]);
        let identity = policy.apply_to(sample().identity);
        assert_eq!(identity.as_ref(), &report.identity);
        assert_ne!(identity.get().contact, sample().identity.contact);
        assert_eq!(policy.apply_to(sample()).into_inner(), report);
    }

    #[test]
    fn pseudonym_without_key_is_refused() {
        assert_eq!(
            Redaction::drop_all().with(PersonalField::Contact, FieldPolicy::Pseudonym).unwrap_err(),
            Error::PseudonymWithoutKey { field: "contact" }
        );
        assert!(
            Redaction::drop_all()
                .with_key(SiteKey::from_bytes([0; 32]))
                .with(PersonalField::Contact, FieldPolicy::Pseudonym)
                .is_ok()
        );
    }

    #[test]
    fn site_keys_are_not_printed_and_short_keys_are_refused() {
        let k = SiteKey::from_bytes([0xab; 32]);
        assert_eq!(std::format!("{k:?}"), "SiteKey(<redacted>)");
        let r = Redaction::pseudonymise_all(k);
        assert!(!std::format!("{r:?}").contains("171"));
        assert_eq!(SiteKey::from_slice(&[1; 15]).unwrap_err(), Error::SiteKeyTooShort { len: 15, min: 16 });
        assert!(SiteKey::from_slice(&[1; 16]).is_ok());
    }
}
