//! The fleet: every device, their sites, and the simulated clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use printfleet_schema::Timestamp;

use crate::config::{ConfigError, FleetConfig, Kind};
use crate::device::{Device, Site};
use crate::event::{EventKind, Fault, SimEvent, Truth};
use crate::rng::{STREAM_LAYOUT, SimRng};
use crate::snmp::Template;

/// A site: the printers behind one collector, or one direct device.
#[derive(Clone, Debug)]
struct SiteState {
    members: Vec<usize>,
    /// Network-loss windows, [start, end), in time order.
    losses: Vec<(Timestamp, Timestamp)>,
}

/// A simulated fleet, sans-IO and deterministic: [`Fleet::advance`] moves its clock and appends
/// what happened, in time order (ties in device order). The same configuration gives the same
/// events, byte for byte.
#[derive(Debug)]
pub struct Fleet {
    config: FleetConfig,
    devices: Vec<Device>,
    sites: Vec<SiteState>,
    /// When each device next acts.
    queue: BinaryHeap<Reverse<(Timestamp, usize)>>,
    now: Timestamp,
}

impl Fleet {
    /// A fleet as configured. Devices are laid out in order: the kinds of [`FleetConfig::mix`]
    /// in proportion, then, per kind, printers behind collectors
    /// ([`FleetConfig::collector_share`], [`FleetConfig::large_format_collector_share`], in sites
    /// of [`FleetConfig::site_size`]) or direct.
    pub fn new(config: FleetConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let templates: Vec<(Kind, Option<Template>)> = Kind::ALL.iter().map(|k| (*k, Template::of(*k))).collect();
        let printers = u64::from(config.printers);
        let mut layout = SimRng::new(config.seed, STREAM_LAYOUT);
        let mut devices = Vec::new();
        let mut sites: Vec<SiteState> = Vec::new();
        let mut open_site: Option<(usize, u32)> = None; // (site index, collector id)
        let mut collectors = 0u32;
        for i in 0..printers {
            let index = usize::try_from(i).unwrap_or(usize::MAX);
            let kind = config.mix.kind_of(i, printers);
            let share = match kind {
                Kind::LargeFormat => config.large_format_collector_share,
                _ => config.collector_share,
            };
            let collected = layout.percent(share);
            let (site, site_index, head) = if collected {
                let current = open_site.filter(|(s, _)| {
                    sites.get(*s).is_some_and(|s| s.members.len() < usize::try_from(config.site_size).unwrap_or(1))
                });
                match current {
                    Some((s, id)) => (Site::Collector(id), s, false),
                    None => {
                        collectors = collectors.saturating_add(1);
                        sites.push(SiteState { members: Vec::new(), losses: Vec::new() });
                        let s = sites.len().saturating_sub(1);
                        open_site = Some((s, collectors));
                        (Site::Collector(collectors), s, true)
                    }
                }
            } else {
                sites.push(SiteState { members: Vec::new(), losses: Vec::new() });
                (Site::Direct, sites.len().saturating_sub(1), true)
            };
            if let Some(s) = sites.get_mut(site_index) {
                s.members.push(index);
            }
            let template = templates.iter().find(|(k, _)| *k == kind).and_then(|(_, t)| t.as_ref());
            devices.push(Device::new(index, kind, site, site_index, head, &config, template));
        }
        let queue = devices.iter().filter_map(|d| d.next_at().map(|t| Reverse((t, d.index())))).collect();
        Ok(Self { now: config.start, config, devices, sites, queue })
    }

    /// The configuration.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// Every device, by index (the `device` of [`SimEvent`]).
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// One device.
    pub fn device(&self, device: usize) -> Option<&Device> {
        self.devices.get(device)
    }

    /// How far the simulation has run.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Runs the simulation up to `until` (inclusive), appending every event to `events`, in
    /// time order (ties in device order, then in the order each device did them). Calling it
    /// again continues where it stopped; an `until` in the past does nothing.
    pub fn advance(&mut self, until: Timestamp, events: &mut Vec<SimEvent>) {
        let faults = self.config.faults;
        while let Some(Reverse((at, index))) = self.queue.peek().copied() {
            if at > until {
                break;
            }
            self.queue.pop();
            let Some(device) = self.devices.get_mut(index) else { continue };
            let loss = device.step(&faults, events);
            let site = device.site_index;
            if let Some(t) = device.next_at() {
                self.queue.push(Reverse((t, index)));
            }
            if let Some((start, end)) = loss
                && let Some(s) = self.sites.get_mut(site)
            {
                s.losses.push((start, end));
                let members = s.members.clone();
                for m in members {
                    if let Some(d) = self.devices.get_mut(m) {
                        d.record_fault(start, Fault::NetworkLoss { until: end });
                    }
                    events.push(SimEvent {
                        device: m,
                        at: start,
                        what: EventKind::Fault(Fault::NetworkLoss { until: end }),
                    });
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Whether `device`'s site can reach the portal at `at` (false inside a network-loss
    /// window: a frame sent or received then is lost). Exact for any `at` up to
    /// [`Fleet::now`].
    pub fn network_up(&self, device: usize, at: Timestamp) -> bool {
        let Some(d) = self.devices.get(device) else { return false };
        let Some(site) = self.sites.get(d.site_index) else { return true };
        !site.losses.iter().any(|(s, e)| *s <= at && at < *e)
    }

    /// What really happened to `device` (an empty truth for an index out of range).
    pub fn truth(&self, device: usize) -> &Truth {
        static EMPTY: std::sync::OnceLock<Truth> = std::sync::OnceLock::new();
        match self.devices.get(device) {
            Some(d) => d.truth(),
            None => EMPTY.get_or_init(Truth::default),
        }
    }

    /// `device`'s own clock at the true time `at` (skewed while its clock drifts; `at` for an
    /// index out of range).
    pub fn device_time(&self, device: usize, at: Timestamp) -> Timestamp {
        self.devices.get(device).map_or(at, |d| d.clock(at))
    }
}
