//! The portal's ingest, sans-IO: the counterpart of `printfleet-agent`, in the same style. One
//! [`Ingest`] holds the device registry (provisioning, key epochs, session-mode verifiers,
//! revocation, reseller / customer / contract ownership), every device's replay windows and
//! `printfleet_diff::sync::Receiver`, and turns each received frame into a [`Batch`]: the writes
//! the store must make durable (the device's new state, its job events exactly once, alerts
//! raised and cleared, consumable levels, identity changes, meter observations and job records
//! for `printfleet-meter`, the replay window and the receiver state) and the reply, which is
//! released only by [`Ingest::commit`], after the caller has stored the writes.
//!
//! It reads no clock, socket, file or global RNG: the caller passes `now` and a random
//! generator, and moves the bytes. The network endpoints and the storage backends
//! (`printfleet-store`) are adapters around it.
//!
//! ```
//! use printfleet_agent::{DeviceAgent, Event, Schedule};
//! use printfleet_auth::{FleetMasterKey, KeyEpoch, one_shot};
//! use printfleet_diff::sync::Instance;
//! use printfleet_ingest::{Credential, CustomerId, DeviceRecord, Ingest, Owner, ResellerId};
//! use printfleet_meter::{ContractId, DeviceId};
//! use printfleet_schema::{Redaction, samples};
//! use printfleet_wire::frame::OsRng;
//!
//! let mut rng = OsRng::default();
//! let now = samples::SAMPLE_TIME;
//! let master = FleetMasterKey::random(&mut rng);
//! let secret = master.device_secret("printer-7", KeyEpoch(1));
//!
//! // Provisioning: the device and who owns it (store the record first, then hand it over).
//! let mut ingest = Ingest::new(master);
//! let owner = Owner { reseller: ResellerId(1), customer: CustomerId(2), contract: ContractId(3) };
//! let credentials = vec![Credential { epoch: KeyEpoch(1), revoked: false, verifier: None }];
//! let record =
//!     DeviceRecord { name: "printer-7".into(), owner, meter_device: DeviceId(7), revoked: false, credentials, collector: None };
//! let sender = ingest.provision(record)?;
//!
//! // The device reports.
//! let key = one_shot::frame_key(&secret, "printer-7", KeyEpoch(1));
//! let mut agent = DeviceAgent::new(sender, &key, Redaction::drop_all(), Schedule::direct(), Instance(9));
//! agent.handle_reading(now, samples::office_laser());
//! agent.handle_job(now, samples::large_format(1).events.print_jobs.remove(0));
//! // Saves whenever the agent asks (the closure stores the state durably), then polls.
//! let transmit = agent
//!     .poll_transmit_saving(now, &mut rng, |_state| Ok::<(), printfleet_agent::AgentError>(()))?
//!     .expect("a boot report is due");
//!
//! // The portal: a batch of writes, stored, then the reply.
//! let batch = ingest.receive(&transmit.frame, now)?;
//! assert_eq!(batch.writes().jobs.len(), 1);
//! assert!(batch.writes().state.is_some());
//! // ... write `batch.writes()` to the store in one transaction, then:
//! let reply = ingest.commit(batch, now, &mut rng)?;
//! agent.handle_frame(now, &reply);
//! assert!(std::iter::from_fn(|| agent.poll_event()).any(|e| matches!(e, Event::Acknowledged { .. })));
//!
//! // The same frame again is refused, with one opaque message.
//! let err = ingest.receive(&transmit.frame, now).unwrap_err();
//! assert_eq!(err.to_string(), "frame rejected");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the caller stores, and when
//! * **Before the reply leaves**: every [`Batch`]'s [`Writes`], in one transaction (several
//!   batches may share one). Then [`Ingest::commit`] seals the reply. If the store fails,
//!   [`Ingest::abort`] puts the device back to its last committed state.
//! * **At a restart**: [`Ingest::restore`] with the registry's devices and, per device, the
//!   receiver state, replay windows and current state of the last committed batch, and the
//!   UUIDs of the newest jobs stored ([`SavedDevice`]; without them a job that an agent records
//!   again after losing its state would be taken twice). A batch that was applied but not
//!   committed is then as if it had never arrived: the device, which got no reply, sends again,
//!   and its retransmission is applied exactly once (job events are numbered; the restored
//!   receiver asks for a full snapshot if the retransmission is a delta).
//! * **Registry changes** ([`Ingest::provision`], [`Ingest::revoke`], ...): store them first.
//!
//! One batch per device is in flight at a time: a frame of a device whose batch is not yet
//! committed gets [`IngestError::Busy`] (an adapter queues frames per device).
//!
//! # Refusals
//! A frame from an unknown or revoked device or key epoch, one the frame layer refuses
//! (forged, replayed, stale, malformed) and an authentic one whose payload is not a valid update
//! all get [`IngestError::Rejected`], whose message is the same "frame rejected"; the reason
//! ([`Refusal`]) is for logs and [`Counters::refused`].
//!
//! # Session mode
//! [`Registry`] implements `printfleet_auth::VerifierStore` (verifiers, revocation), so the SCRAM
//! server (`printfleet_auth::server_start`) authenticates devices against it. The established
//! `Session` goes to [`Ingest::open_session`]; its frames to [`Ingest::receive_session`], which
//! checks the registry again for every frame; batches are committed as in one-shot mode. A
//! session's replay window lives as long as the session and is not stored.
//!
//! # Crate features
//! None.

mod batch;
mod error;
mod ingest;
mod registry;
mod usage;

pub use batch::{Batch, Bundle, SavedDevice, Writes};
pub use error::{IngestError, Refusal};
pub use ingest::{
    Counters, Ingest, MAX_SESSIONS, MAX_SESSIONS_PER_DEVICE, METER_HEARTBEAT, SecretAnswer, Secrets, SessionHandle,
};
pub use registry::{
    Credential, CustomerId, DeviceRecord, MAX_DEVICE_NAME_BYTES, MAX_EPOCHS_PER_DEVICE, Owner, Registry, ResellerId,
};
pub use usage::{MAX_USAGE_CATEGORIES, job_record};
