//! `deserialize_with` helpers that enforce the [`limits`](crate::limits) while deserialising:
//! a list or map over its limit is rejected after at most one element more, so no serde format
//! can make a report allocate past the limits. Maps also reject repeated keys.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

use crate::limits::{MAX_IP_ADDRESSES, MAX_JOBS, MAX_MEDIA_TYPES, MAX_METERS, MAX_NESTED, MAX_RECORDS};

/// Most elements reserved up front, whatever the format's size hint claims.
const MAX_PREALLOCATE: usize = 16;

struct VecVisitor<T, const N: usize>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for VecVisitor<T, N> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of at most {N} items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(N).min(MAX_PREALLOCATE));
        while let Some(item) = seq.next_element()? {
            if out.len() >= N {
                return Err(A::Error::invalid_length(out.len().saturating_add(1), &self));
            }
            out.push(item);
        }
        Ok(out)
    }
}

struct MapVisitor<K, V, const N: usize>(PhantomData<(K, V)>);

impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>, const N: usize> Visitor<'de> for MapVisitor<K, V, N> {
    type Value = BTreeMap<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a map of at most {N} entries with distinct keys")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BTreeMap<K, V>, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((key, value)) = map.next_entry()? {
            if out.len() >= N {
                return Err(A::Error::invalid_length(out.len().saturating_add(1), &self));
            }
            if out.insert(key, value).is_some() {
                return Err(A::Error::custom("repeated key"));
            }
        }
        Ok(out)
    }
}

fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>, const N: usize>(d: D) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(VecVisitor::<T, N>(PhantomData))
}

fn map<'de, D, K, V, const N: usize>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    d.deserialize_map(MapVisitor::<K, V, N>(PhantomData))
}

/// A snapshot list: at most [`MAX_RECORDS`].
pub(crate) fn records<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    vec::<D, T, MAX_RECORDS>(d)
}

/// A job list: at most [`MAX_JOBS`].
pub(crate) fn jobs<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    vec::<D, T, MAX_JOBS>(d)
}

/// A small nested list: at most [`MAX_NESTED`].
pub(crate) fn nested<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    vec::<D, T, MAX_NESTED>(d)
}

/// The media types: at most [`MAX_MEDIA_TYPES`].
pub(crate) fn media_types<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    vec::<D, T, MAX_MEDIA_TYPES>(d)
}

/// The IP addresses: at most [`MAX_IP_ADDRESSES`].
pub(crate) fn ip_addresses<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    vec::<D, T, MAX_IP_ADDRESSES>(d)
}

/// A small map: at most [`MAX_NESTED`] entries.
pub(crate) fn nested_map<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    map::<D, K, V, MAX_NESTED>(d)
}

/// The meters: at most [`MAX_METERS`] entries.
pub(crate) fn meters<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    map::<D, K, V, MAX_METERS>(d)
}
