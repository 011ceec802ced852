//! Entry point for the fuzz target (feature `fuzzing`; not a stable API).

use printfleet_schema::Timestamp;

use crate::secret::{DeviceSecret, Verifier};
use crate::session::{Lookup, ServerConfig, VerifierStore, server_start};

struct Store(Verifier);

impl VerifierStore for Store {
    fn lookup(&self, device: &str, epoch: u32) -> Lookup {
        match (device, epoch) {
            ("fuzz", 0) => Lookup::Found(self.0.clone()),
            ("revoked", _) => Lookup::Revoked,
            _ => Lookup::Unknown,
        }
    }
}

/// Feeds the server the messages in `data` (separated by NUL bytes), in whatever order and number
/// they come: every message may be tried as a client-first and as a client-final. Must never panic.
pub fn server_messages(data: &[u8]) {
    let secret = DeviceSecret(zeroize::Zeroizing::new(vec![7u8; 32]));
    let store = Store(Verifier::with_salt(&secret, vec![1; 16], 2));
    let mut rng: rand_chacha::ChaCha20Rng = rand_core::SeedableRng::seed_from_u64(1);
    let config = ServerConfig::new(&mut rng);
    let now = Timestamp::UNIX_EPOCH;
    let messages: Vec<String> =
        data.split(|b| *b == 0).take(8).map(|m| String::from_utf8_lossy(m).into_owned()).collect();
    let mut pending = None;
    for message in &messages {
        if let Some(server) = pending.take() {
            let _ = crate::session::ServerAwaitingClientFinal::handle_client_final(server, message, now);
        }
        if let Ok((server, _)) = server_start(message, &store, &config, &mut rng, now) {
            pending = Some(server);
        }
    }
}
