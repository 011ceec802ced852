//! Provisioning against the store: add a device (its secret derived from the portal's master
//! key, its SCRAM verifier stored), revoke one, list them. A running portal picks the changes up
//! from the store (see [`super::PortalConfig::registry_refresh`]).

use std::path::Path;

use printfleet_auth::{DeviceSecret, KeyEpoch, Verifier};
use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Owner, Registry, ResellerId};
use printfleet_meter::{ContractId, DeviceId};
use printfleet_store::Store;
use printfleet_wire::frame::{OsRng, SenderId};

use super::PortalError;

/// The key epoch a newly provisioned device starts with.
pub const FIRST_EPOCH: KeyEpoch = KeyEpoch(1);

/// A device to provision: its name and who owns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The device's name (its SCRAM user name; its sender id derives from it).
    pub name: String,
    /// The reseller.
    pub reseller: ResellerId,
    /// The reseller's customer.
    pub customer: CustomerId,
    /// The contract it is billed under.
    pub contract: ContractId,
    /// The position it is metered under.
    pub meter_device: DeviceId,
    /// The name of the collector that may report it in bundles (wire format §5.9), provisioned
    /// before it like a device (its own name, secret and owner); `None` if it reports itself.
    pub collector: Option<String>,
}

/// A provisioned device: hand `secret` to the device (it is not stored anywhere: the portal
/// derives it again from its master key, and keeps only its SCRAM verifier).
#[derive(Debug)]
pub struct Provisioned {
    /// The sender id its frames carry.
    pub sender: SenderId,
    /// Its key epoch.
    pub epoch: KeyEpoch,
    /// Its secret for that epoch: one-shot frame keys (`printfleet_auth::one_shot`) and the
    /// SCRAM password for session mode.
    pub secret: DeviceSecret,
}

/// Provisions a device: derives its secret for [`FIRST_EPOCH`] from the master key in
/// `state_dir` (created on first use), and stores the device with a SCRAM verifier of that
/// secret. Refused if a device of that name exists or the name is not acceptable.
pub fn provision(state_dir: &Path, store: &mut dyn Store, spec: DeviceSpec) -> Result<Provisioned, PortalError> {
    provision_many(state_dir, store, vec![spec])?.pop().ok_or(PortalError::NoSuchDevice { name: String::new() })
}

/// [`provision`] of many devices, the store's registry read once (a fleet provisioned at
/// once: `printfleet demo`). Stops at the first refusal; the devices before it are stored.
pub fn provision_many(
    state_dir: &Path,
    store: &mut dyn Store,
    specs: Vec<DeviceSpec>,
) -> Result<Vec<Provisioned>, PortalError> {
    let master = super::state::master_key(state_dir)?;
    // The registry's own checks (name length, epochs), and no device of that name or id.
    let mut registry = Registry::new();
    for existing in store.load_devices()? {
        let _ = registry.provision(existing);
    }
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let secret = master.device_secret(&spec.name, FIRST_EPOCH);
        let verifier = Verifier::new(&secret, &mut OsRng::default());
        let record = DeviceRecord {
            name: spec.name.clone(),
            owner: Owner { reseller: spec.reseller, customer: spec.customer, contract: spec.contract },
            meter_device: spec.meter_device,
            revoked: false,
            credentials: vec![Credential { epoch: FIRST_EPOCH, revoked: false, verifier: Some(verifier) }],
            collector: None,
        };
        if registry.by_name(&spec.name).is_some() || registry.get(record.sender()).is_some() {
            return Err(PortalError::AlreadyProvisioned { name: spec.name });
        }
        let mut record = record;
        if let Some(collector) = &spec.collector {
            let known =
                registry.by_name(collector).ok_or_else(|| PortalError::NoSuchDevice { name: collector.clone() })?;
            record.collector = Some(known.sender());
        }
        let sender = registry.provision(record.clone())?;
        store.put_device(&record)?;
        tracing::info!(device = %spec.name, %sender, "device provisioned");
        out.push(Provisioned { sender, epoch: FIRST_EPOCH, secret });
    }
    Ok(out)
}

/// Adds key epoch `epoch` to the device called `name` (its board, or its secret, was replaced):
/// derives the secret for that epoch from the master key in `state_dir` and stores its SCRAM
/// verifier beside the existing credentials. A running portal knows it at its next registry
/// reload ([`super::RunningPortal::reload_registry`] for at once). Refused if the device does
/// not exist or already has that epoch.
pub fn add_epoch(
    state_dir: &Path,
    store: &mut dyn Store,
    name: &str,
    epoch: KeyEpoch,
) -> Result<Provisioned, PortalError> {
    new_epoch(state_dir, store, name, Some(epoch), false)
}

/// Gives the device called `name` the key epoch after its highest (`printfleet device rekey`:
/// a collector that lost its state, a board replaced), as [`add_epoch`] does, and with
/// `revoke_previous` revokes every earlier epoch in the same write (their secrets may be in
/// someone else's hands: a collector lost with its machine). Refused if the device does not
/// exist, is revoked (a secret for it would be refused everywhere), or its highest epoch is the
/// last there is.
pub fn rekey(
    state_dir: &Path,
    store: &mut dyn Store,
    name: &str,
    revoke_previous: bool,
) -> Result<Provisioned, PortalError> {
    new_epoch(state_dir, store, name, None, revoke_previous)
}

/// [`add_epoch`] (`epoch`) or [`rekey`] (`None`: the next one).
fn new_epoch(
    state_dir: &Path,
    store: &mut dyn Store,
    name: &str,
    epoch: Option<KeyEpoch>,
    revoke_previous: bool,
) -> Result<Provisioned, PortalError> {
    let master = super::state::master_key(state_dir)?;
    let mut record = store
        .load_devices()?
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| PortalError::NoSuchDevice { name: name.to_owned() })?;
    let epoch = match epoch {
        Some(epoch) => epoch,
        None if record.revoked => return Err(PortalError::Revoked { name: name.to_owned() }),
        None => {
            let highest = record.credentials.iter().map(|c| c.epoch.0).max().unwrap_or(0);
            let next = highest.checked_add(1);
            next.map(KeyEpoch).ok_or(PortalError::EpochExists { name: name.to_owned(), epoch: highest })?
        }
    };
    if record.credentials.iter().any(|c| c.epoch == epoch) {
        return Err(PortalError::EpochExists { name: name.to_owned(), epoch: epoch.0 });
    }
    if revoke_previous {
        for c in &mut record.credentials {
            c.revoked = true;
        }
    }
    let secret = master.device_secret(name, epoch);
    let verifier = Verifier::new(&secret, &mut OsRng::default());
    record.credentials.push(Credential { epoch, revoked: false, verifier: Some(verifier) });
    // The registry's own checks on the new credential list.
    Registry::new().provision(record.clone())?;
    store.put_device(&record)?;
    tracing::info!(device = %name, epoch = epoch.0, revoke_previous, "key epoch added");
    Ok(Provisioned { sender: record.sender(), epoch, secret })
}

/// Revokes the device called `name`: every frame and handshake of it is refused from the moment
/// the portal reloads its registry.
pub fn revoke(store: &mut dyn Store, name: &str) -> Result<SenderId, PortalError> {
    let mut record = store
        .load_devices()?
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| PortalError::NoSuchDevice { name: name.to_owned() })?;
    record.revoked = true;
    store.put_device(&record)?;
    tracing::info!(device = %name, "device revoked");
    Ok(record.sender())
}

/// Names `collector` (a provisioned name; `None`: no collector) as the one that may report the
/// device `name` in bundles: a printer moved to another site, a Data Collector replaced. A
/// running portal applies it at its next registry reload; bundles of the old collector that
/// carry the device are then refused for it. Returns the device's sender id.
pub fn set_collector(store: &mut dyn Store, name: &str, collector: Option<&str>) -> Result<SenderId, PortalError> {
    let devices = store.load_devices()?;
    let collector = match collector {
        Some(c) => Some(
            devices
                .iter()
                .find(|d| d.name == c)
                .map(DeviceRecord::sender)
                .ok_or_else(|| PortalError::NoSuchDevice { name: c.to_owned() })?,
        ),
        None => None,
    };
    let mut record = devices
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| PortalError::NoSuchDevice { name: name.to_owned() })?;
    record.collector = collector;
    store.put_device(&record)?;
    tracing::info!(device = %name, ?collector, "collector set");
    Ok(record.sender())
}

/// Every provisioned device (verifiers included, never secrets: the store has none).
pub fn devices(store: &mut dyn Store) -> Result<Vec<DeviceRecord>, PortalError> {
    Ok(store.load_devices()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use printfleet_store::SqliteStore;

    fn spec(name: &str) -> DeviceSpec {
        DeviceSpec {
            name: name.into(),
            reseller: ResellerId(1),
            customer: CustomerId(2),
            contract: ContractId(3),
            meter_device: DeviceId(4),
            collector: None,
        }
    }

    #[test]
    fn a_device_is_provisioned_once_with_a_verifier_and_revoked_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("p.db")).unwrap();
        let p = provision(dir.path(), &mut store, spec("printer-1")).unwrap();
        assert_eq!(p.sender, printfleet_auth::sender_id_of("printer-1"));
        let again = provision(dir.path(), &mut store, spec("printer-1"));
        assert!(matches!(again, Err(PortalError::AlreadyProvisioned { .. })));
        // The secret is the master key's derivation: the same on every call.
        let master = crate::portal::state::master_key(dir.path()).unwrap();
        assert_eq!(*master.device_secret("printer-1", FIRST_EPOCH).to_bytes(), *p.secret.to_bytes());
        let list = devices(&mut store).unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].credentials[0].verifier.is_some());
        assert_eq!(revoke(&mut store, "printer-1").unwrap(), p.sender);
        assert!(devices(&mut store).unwrap()[0].revoked);
        assert!(matches!(revoke(&mut store, "nope"), Err(PortalError::NoSuchDevice { .. })));
        assert!(matches!(provision(dir.path(), &mut store, spec("")), Err(PortalError::Device(_))));
    }

    #[test]
    fn many_devices_at_once_and_a_new_key_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("p.db")).unwrap();
        let all = provision_many(dir.path(), &mut store, vec![spec("a"), spec("b")]).unwrap();
        assert_eq!(all.len(), 2);
        assert!(matches!(
            provision_many(dir.path(), &mut store, vec![spec("b")]),
            Err(PortalError::AlreadyProvisioned { .. })
        ));
        let next = add_epoch(dir.path(), &mut store, "b", KeyEpoch(2)).unwrap();
        assert_eq!(next.epoch, KeyEpoch(2));
        let master = crate::portal::state::master_key(dir.path()).unwrap();
        assert_eq!(*master.device_secret("b", KeyEpoch(2)).to_bytes(), *next.secret.to_bytes());
        let b = devices(&mut store).unwrap().into_iter().find(|d| d.name == "b").unwrap();
        assert_eq!(b.credentials.iter().map(|c| c.epoch).collect::<Vec<_>>(), vec![KeyEpoch(1), KeyEpoch(2)]);
        assert!(b.credentials.iter().all(|c| c.verifier.is_some()));
        assert!(matches!(add_epoch(dir.path(), &mut store, "b", KeyEpoch(2)), Err(PortalError::EpochExists { .. })));
        assert!(matches!(add_epoch(dir.path(), &mut store, "c", KeyEpoch(2)), Err(PortalError::NoSuchDevice { .. })));
        assert!(matches!(rekey(dir.path(), &mut store, "c", false), Err(PortalError::NoSuchDevice { .. })));
        assert_eq!(rekey(dir.path(), &mut store, "b", false).unwrap().epoch, KeyEpoch(3));
        let fourth = rekey(dir.path(), &mut store, "b", true).unwrap();
        assert_eq!(*master.device_secret("b", KeyEpoch(4)).to_bytes(), *fourth.secret.to_bytes());
        let b = devices(&mut store).unwrap().into_iter().find(|d| d.name == "b").unwrap();
        let epochs: Vec<(u32, bool)> = b.credentials.iter().map(|c| (c.epoch.0, c.revoked)).collect();
        assert_eq!(epochs, [(1, true), (2, true), (3, true), (4, false)]);
        revoke(&mut store, "b").unwrap();
        assert!(matches!(rekey(dir.path(), &mut store, "b", false), Err(PortalError::Revoked { .. })));
    }
}
