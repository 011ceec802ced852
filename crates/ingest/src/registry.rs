//! The device registry: who may send, under which key epochs, who owns each device.

use std::collections::{BTreeMap, HashMap};

use printfleet_auth::{KeyEpoch, Lookup, Verifier, VerifierStore, sender_id_of};
use printfleet_meter::{ContractId, DeviceId};
use printfleet_wire::frame::SenderId;

use crate::IngestError;

/// Longest device name: the longest SCRAM user name a device may present
/// ([`printfleet_auth::MAX_NAME_BYTES`]), so that every provisioned device can also use
/// session mode.
pub const MAX_DEVICE_NAME_BYTES: usize = printfleet_auth::MAX_NAME_BYTES;
/// Key epochs a device may hold at once: the current one and those still in a rotation's
/// overlap. Revoked epochs count until they are removed.
pub const MAX_EPOCHS_PER_DEVICE: usize = 16;

/// A reseller (the partner who sells and services the devices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResellerId(pub u64);

/// A customer of a reseller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerId(pub u64);

/// Who a device belongs to: one reseller, one of its customers, one contract it is billed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The reseller.
    pub reseller: ResellerId,
    /// The customer.
    pub customer: CustomerId,
    /// The contract (`printfleet-meter`'s).
    pub contract: ContractId,
}

/// One key epoch of a device: whether it is revoked, and its SCRAM verifier for session mode
/// (only the verifier is kept: the secret never reaches the registry).
#[derive(Clone, Debug)]
pub struct Credential {
    /// The epoch.
    pub epoch: KeyEpoch,
    /// Revoked: frames and handshakes under it are refused.
    pub revoked: bool,
    /// The session-mode verifier, if the device uses session mode.
    pub verifier: Option<Verifier>,
}

/// A provisioned device.
#[derive(Clone, Debug)]
pub struct DeviceRecord {
    /// Its name (at most [`MAX_DEVICE_NAME_BYTES`]); its sender id is
    /// [`printfleet_auth::sender_id_of`] it.
    pub name: String,
    /// Its owners.
    pub owner: Owner,
    /// The position it is metered under (`printfleet-meter`'s device id).
    pub meter_device: DeviceId,
    /// Revoked: every frame is refused, whatever the epoch.
    pub revoked: bool,
    /// Its key epochs (at most [`MAX_EPOCHS_PER_DEVICE`]).
    pub credentials: Vec<Credential>,
    /// The collector that may report it in bundles (docs/wire-format.md §5.9): the sender id of
    /// another provisioned record, under whose name and credentials the collector opens its own
    /// session. `None`: only the device itself (or a collector holding its secret, frame by
    /// frame) reports it.
    pub collector: Option<SenderId>,
}

impl DeviceRecord {
    /// The sender id its frames carry.
    pub fn sender(&self) -> SenderId {
        sender_id_of(&self.name)
    }

    /// The credential of `epoch`, if the device has one.
    pub fn credential(&self, epoch: KeyEpoch) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.epoch == epoch)
    }

    fn check(&self) -> Result<(), IngestError> {
        if self.name.is_empty() || self.name.len() > MAX_DEVICE_NAME_BYTES {
            return Err(IngestError::BadName { len: self.name.len() });
        }
        if self.credentials.len() > MAX_EPOCHS_PER_DEVICE {
            return Err(IngestError::TooManyEpochs { count: self.credentials.len() });
        }
        let mut epochs: Vec<_> = self.credentials.iter().map(|c| c.epoch).collect();
        epochs.sort_unstable();
        if epochs.windows(2).any(|w| matches!(w, [a, b] if a == b)) {
            return Err(IngestError::DuplicateEpoch);
        }
        Ok(())
    }
}

/// Every provisioned device, by sender id (and by name for session mode).
#[derive(Debug, Default)]
pub struct Registry {
    devices: HashMap<SenderId, DeviceRecord>,
    names: BTreeMap<String, SenderId>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a device. Refused if its name is malformed, a device of that name (or sender id)
    /// exists, or its credentials break the limits.
    pub fn provision(&mut self, record: DeviceRecord) -> Result<SenderId, IngestError> {
        record.check()?;
        let sender = record.sender();
        if self.devices.contains_key(&sender) || self.names.contains_key(&record.name) {
            return Err(IngestError::AlreadyProvisioned(sender));
        }
        self.names.insert(record.name.clone(), sender);
        self.devices.insert(sender, record);
        Ok(sender)
    }

    /// The device behind `sender`.
    pub fn get(&self, sender: SenderId) -> Option<&DeviceRecord> {
        self.devices.get(&sender)
    }

    pub(crate) fn get_mut(&mut self, sender: SenderId) -> Result<&mut DeviceRecord, IngestError> {
        self.devices.get_mut(&sender).ok_or(IngestError::UnknownDevice(sender))
    }

    /// The device called `name`.
    pub fn by_name(&self, name: &str) -> Option<&DeviceRecord> {
        self.names.get(name).and_then(|s| self.devices.get(s))
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether no device is provisioned.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Every device, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &DeviceRecord> {
        self.devices.values()
    }
}

/// Session mode: the registry answers the SCRAM server's look-ups, revocation included.
impl VerifierStore for Registry {
    fn lookup(&self, device: &str, epoch: KeyEpoch) -> Lookup {
        let Some(record) = self.by_name(device) else { return Lookup::Unknown };
        match record.credential(epoch) {
            _ if record.revoked => Lookup::Revoked,
            Some(c) if c.revoked => Lookup::Revoked,
            Some(Credential { verifier: Some(v), .. }) => Lookup::Found(v.clone()),
            _ => Lookup::Unknown,
        }
    }
}
