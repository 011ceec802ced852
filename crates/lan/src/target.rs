//! Configured targets: single IPv4 addresses, CIDR ranges (`192.168.1.0/24`) and ranges
//! (`192.168.1.10-192.168.1.50`), with exclusions, expanded to the addresses one run asks.
//!
//! Pure: no I/O. Only IPv4 is expanded: an IPv6 subnet cannot be swept (a /64 holds 2^64
//! addresses), and printers on IPv6-only networks are found by name or by their IPv4 twin.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Most addresses one run may expand to (a /16): a typo such as `10.0.0.0/8` is refused before
/// anything is enumerated or sent. The cap applies to the included ranges before exclusions.
pub const MAX_TARGET_ADDRESSES: u64 = 65_536;

/// Most characters of a target spec kept in an error (a spec is user input of any length).
pub const MAX_SPEC_CHARS: usize = 64;

/// An inclusive range of IPv4 addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressRange {
    first: u32,
    last: u32,
}

impl AddressRange {
    /// The range from `first` to `last` inclusive, if it does not run backwards.
    pub fn new(first: Ipv4Addr, last: Ipv4Addr) -> Option<Self> {
        let (first, last) = (u32::from(first), u32::from(last));
        (first <= last).then_some(Self { first, last })
    }

    /// The first address.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.first)
    }

    /// The last address.
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.last)
    }

    /// How many addresses the range holds (up to 2^32, hence `u64`).
    pub fn len(&self) -> u64 {
        u64::from(self.last).saturating_sub(u64::from(self.first)).saturating_add(1)
    }

    /// Never: a range holds at least one address. (For clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `address` is inside the range.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&u32::from(address))
    }
}

/// A target spec that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Not an IPv4 address, a CIDR range or an `a.b.c.d-e.f.g.h` range.
    #[error("{spec:?}: not an IPv4 address, CIDR range (a.b.c.d/n) or range (a.b.c.d-e.f.g.h)")]
    Syntax {
        /// The spec (at most [`MAX_SPEC_CHARS`] characters of it).
        spec: String,
    },
    /// A CIDR prefix above 32.
    #[error("{spec:?}: prefix length {prefix} is above 32")]
    Prefix {
        /// The spec.
        spec: String,
        /// The prefix length given.
        prefix: u32,
    },
    /// A CIDR range whose address has host bits set (`192.168.1.7/24`): probably a typo.
    #[error("{spec:?}: host bits are set; the network is {network}/{prefix}")]
    HostBits {
        /// The spec.
        spec: String,
        /// The network the prefix names.
        network: Ipv4Addr,
        /// The prefix length.
        prefix: u8,
    },
    /// A range whose end is below its start.
    #[error("{spec:?}: the range runs backwards")]
    Backwards {
        /// The spec.
        spec: String,
    },
    /// The included ranges hold more addresses than [`MAX_TARGET_ADDRESSES`].
    #[error("the targets hold {count} addresses, more than the limit of {limit} per run")]
    TooMany {
        /// Addresses in the included ranges.
        count: u64,
        /// [`MAX_TARGET_ADDRESSES`].
        limit: u64,
    },
    /// Nothing included.
    #[error("no target address")]
    Empty,
}

fn short(spec: &str) -> String {
    spec.chars().take(MAX_SPEC_CHARS).collect()
}

impl FromStr for AddressRange {
    type Err = TargetError;

    /// Reads `a.b.c.d`, `a.b.c.d/n` or `a.b.c.d-e.f.g.h`. For a CIDR range of /30 or wider the
    /// network and broadcast addresses are left out (RFC 919 / RFC 3021: /31 and /32 keep every
    /// address); a sweep sends no unicast to a broadcast address.
    fn from_str(spec: &str) -> Result<Self, TargetError> {
        let syntax = || TargetError::Syntax { spec: short(spec) };
        let s = spec.trim();
        if let Some((address, prefix)) = s.split_once('/') {
            let address: Ipv4Addr = address.parse().map_err(|_| syntax())?;
            if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            let prefix: u32 = prefix.parse().map_err(|_| syntax())?;
            let prefix_len = u8::try_from(prefix)
                .ok()
                .filter(|p| *p <= 32)
                .ok_or(TargetError::Prefix { spec: short(spec), prefix })?;
            let mask = u32::MAX.checked_shl(32_u32.saturating_sub(prefix)).unwrap_or(0);
            let network = u32::from(address) & mask;
            if network != u32::from(address) {
                return Err(TargetError::HostBits {
                    spec: short(spec),
                    network: Ipv4Addr::from(network),
                    prefix: prefix_len,
                });
            }
            let broadcast = network | !mask;
            return Ok(if prefix <= 30 {
                Self { first: network.saturating_add(1), last: broadcast.saturating_sub(1) }
            } else {
                Self { first: network, last: broadcast }
            });
        }
        if let Some((first, last)) = s.split_once('-') {
            let first: Ipv4Addr = first.trim().parse().map_err(|_| syntax())?;
            let last: Ipv4Addr = last.trim().parse().map_err(|_| syntax())?;
            return Self::new(first, last).ok_or(TargetError::Backwards { spec: short(spec) });
        }
        let address: Ipv4Addr = s.parse().map_err(|_| syntax())?;
        Ok(Self { first: u32::from(address), last: u32::from(address) })
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first())
        } else {
            write!(f, "{}-{}", self.first(), self.last())
        }
    }
}

/// What one run asks: included ranges less excluded ones.
///
/// ```
/// use printfleet_lan::target::Targets;
///
/// let mut targets = Targets::default();
/// targets.include("192.168.1.0/29")?.include("10.0.0.5")?.exclude("192.168.1.2-192.168.1.3")?;
/// let addresses: Vec<String> = targets.expand()?.iter().map(ToString::to_string).collect();
/// assert_eq!(addresses, ["10.0.0.5", "192.168.1.1", "192.168.1.4", "192.168.1.5", "192.168.1.6"]);
/// # Ok::<(), printfleet_lan::target::TargetError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    include: Vec<AddressRange>,
    exclude: Vec<AddressRange>,
}

impl Targets {
    /// Adds the addresses of `spec`.
    pub fn include(&mut self, spec: &str) -> Result<&mut Self, TargetError> {
        self.include.push(spec.parse()?);
        Ok(self)
    }

    /// Leaves out the addresses of `spec`, wherever they were included.
    pub fn exclude(&mut self, spec: &str) -> Result<&mut Self, TargetError> {
        self.exclude.push(spec.parse()?);
        Ok(self)
    }

    /// How many addresses the included ranges hold, before exclusions and duplicates.
    pub fn included_len(&self) -> u64 {
        self.include.iter().fold(0_u64, |n, r| n.saturating_add(r.len()))
    }

    /// Every address to ask, ascending, each once.
    ///
    /// # Errors
    /// [`TargetError::TooMany`] when the included ranges hold more than
    /// [`MAX_TARGET_ADDRESSES`] (checked before anything is enumerated);
    /// [`TargetError::Empty`] when nothing is left.
    pub fn expand(&self) -> Result<Vec<Ipv4Addr>, TargetError> {
        let count = self.included_len();
        if count > MAX_TARGET_ADDRESSES {
            return Err(TargetError::TooMany { count, limit: MAX_TARGET_ADDRESSES });
        }
        let mut out = BTreeSet::new();
        for range in &self.include {
            for a in range.first..=range.last {
                let address = Ipv4Addr::from(a);
                if !self.exclude.iter().any(|x| x.contains(address)) {
                    out.insert(address);
                }
            }
        }
        if out.is_empty() {
            return Err(TargetError::Empty);
        }
        Ok(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(include: &[&str], exclude: &[&str]) -> Result<Vec<String>, TargetError> {
        let mut t = Targets::default();
        for s in include {
            t.include(s)?;
        }
        for s in exclude {
            t.exclude(s)?;
        }
        Ok(t.expand()?.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn single_addresses_cidr_and_dash_ranges_expand_sorted_and_once() {
        assert_eq!(expand(&["10.0.0.9", "10.0.0.9"], &[]).unwrap(), ["10.0.0.9"]);
        assert_eq!(expand(&["10.0.0.0/30"], &[]).unwrap(), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(expand(&["10.0.0.0/31"], &[]).unwrap(), ["10.0.0.0", "10.0.0.1"]);
        assert_eq!(expand(&["10.0.0.7/32"], &[]).unwrap(), ["10.0.0.7"]);
        assert_eq!(
            expand(&["10.0.0.254-10.0.1.1"], &[]).unwrap(),
            ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]
        );
        assert_eq!(expand(&["127.0.0.0/26"], &[]).unwrap().len(), 62);
    }

    #[test]
    fn exclusions_remove_addresses_wherever_they_were_included() {
        assert_eq!(
            expand(&["10.0.0.0/29", "10.0.0.3"], &["10.0.0.2-10.0.0.4", "10.0.0.6"]).unwrap(),
            ["10.0.0.1", "10.0.0.5"]
        );
        assert_eq!(expand(&["10.0.0.1"], &["10.0.0.0/24"]), Err(TargetError::Empty));
    }

    #[test]
    fn malformed_specs_are_typed_errors() {
        for bad in
            ["", "10.0.0", "10.0.0.256", "10.0.0.0/", "10.0.0.0/a", "10.0.0.0/+1", "host.example", "1-2", "10.0.0.1-"]
        {
            assert!(matches!(bad.parse::<AddressRange>(), Err(TargetError::Syntax { .. })), "{bad:?}");
        }
        assert_eq!(
            "10.0.0.0/33".parse::<AddressRange>(),
            Err(TargetError::Prefix { spec: "10.0.0.0/33".into(), prefix: 33 })
        );
        assert_eq!(
            "192.168.1.7/24".parse::<AddressRange>(),
            Err(TargetError::HostBits {
                spec: "192.168.1.7/24".into(),
                network: Ipv4Addr::new(192, 168, 1, 0),
                prefix: 24
            })
        );
        assert!(matches!("10.0.0.9-10.0.0.1".parse::<AddressRange>(), Err(TargetError::Backwards { .. })));
        let long = "x".repeat(10_000);
        match long.parse::<AddressRange>() {
            Err(TargetError::Syntax { spec }) => assert_eq!(spec.len(), MAX_SPEC_CHARS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_run_expanding_past_the_cap_is_refused_before_enumeration() {
        assert_eq!(
            expand(&["10.0.0.0/8"], &[]),
            Err(TargetError::TooMany { count: 16_777_214, limit: MAX_TARGET_ADDRESSES })
        );
        assert_eq!(
            expand(&["0.0.0.0/0"], &[]),
            Err(TargetError::TooMany { count: 4_294_967_294, limit: MAX_TARGET_ADDRESSES })
        );
        // A /16 is exactly allowed (less network and broadcast).
        assert_eq!(expand(&["10.1.0.0/16"], &[]).unwrap().len(), 65_534);
        assert!(matches!(expand(&["10.1.0.0/16", "10.2.0.0/16"], &[]), Err(TargetError::TooMany { .. })));
    }
}
