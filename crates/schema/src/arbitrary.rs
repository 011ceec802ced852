//! proptest strategies for every type (feature `proptest`).
//!
//! Every exported type implements [`proptest::arbitrary::Arbitrary`], so `any::<T>()` works for
//! all of them; [`any::<DeviceReport>()`](proptest::arbitrary::any) always yields a report that
//! passes [`DeviceReport::validate`](crate::DeviceReport::validate). The helpers here are the
//! building blocks, public so that other crates' strategies stay consistent with these.
//!
//! ```
//! use printfleet_schema::DeviceReport;
//! use proptest::prelude::*;
//! use proptest::strategy::ValueTree;
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::deterministic();
//! let report = any::<DeviceReport>().new_tree(&mut runner).unwrap().current();
//! assert_eq!(report.validate(), Ok(()));
//! ```

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use proptest::prelude::*;

use crate::{Capacity, Consumable, JobHeader, Level, RecordId};

/// Non-blank text of up to a few dozen bytes: printable ASCII (markup characters included) or
/// any printable Unicode.
pub fn text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => "[A-Za-z0-9][ -~]{0,24}",
        1 => "\\PC{1,12}",
    ]
    .prop_filter("non-blank", |s: &String| !s.trim().is_empty())
}

/// `None` or [`text`].
pub fn opt_text() -> impl Strategy<Value = Option<String>> + Clone {
    proptest::option::of(text())
}

/// A short list (0 to 3 items).
pub fn small_vec<S: Strategy>(item: S) -> impl Strategy<Value = Vec<S::Value>> {
    proptest::collection::vec(item, 0..4)
}

/// A short text-to-text map (0 to 3 entries).
pub fn small_map() -> impl Strategy<Value = BTreeMap<String, String>> + Clone {
    proptest::collection::btree_map(text(), text(), 0..4)
}

/// Any UUID.
pub fn uuid() -> impl Strategy<Value = uuid::Uuid> + Clone {
    any::<u128>().prop_map(uuid::Uuid::from_u128)
}

/// A list of 0 to 5 records whose record ids are unique (later duplicates are dropped).
pub fn records<S, T>(item: S, set_id: fn(&mut T, RecordId)) -> impl Strategy<Value = Vec<T>>
where
    S: Strategy<Value = T>,
    T: core::fmt::Debug,
{
    proptest::collection::vec((any::<u64>(), item), 0..6).prop_map(move |items| {
        let mut seen = BTreeSet::new();
        items
            .into_iter()
            .filter(|(id, _)| seen.insert(*id))
            .map(|(id, mut t)| {
                set_id(&mut t, RecordId(id));
                t
            })
            .collect()
    })
}

/// A list of 0 to 3 jobs whose UUIDs are unique (later duplicates are dropped).
pub fn jobs<S, T>(item: S, header: fn(&mut T) -> &mut JobHeader) -> impl Strategy<Value = Vec<T>>
where
    S: Strategy<Value = T>,
    T: core::fmt::Debug,
{
    proptest::collection::vec(item, 0..4).prop_map(move |mut items| {
        let mut seen = BTreeSet::new();
        items.retain_mut(|j| seen.insert(header(j).uuid));
        items
    })
}

/// A consumable whose level is within its capacity (as [`validate`](crate::DeviceReport::validate)
/// requires). The derived `any::<Consumable>()` draws level and capacity independently.
pub fn consumable() -> impl Strategy<Value = Consumable> {
    any::<Consumable>().prop_map(|mut c| {
        if let (Level::Amount(level), Capacity::Amount(capacity)) = (c.level, c.capacity)
            && level > capacity
        {
            c.level = Level::Amount(capacity);
            c.capacity = Capacity::Amount(level);
        }
        c
    })
}
