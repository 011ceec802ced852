//! Entry point for the fuzz target (feature `fuzzing`; not a stable API).

use printfleet_schema::Timestamp;

use crate::secret::{DEFAULT_ITERATIONS, DecoyKey, KeyEpoch, Verifier};
use crate::session::{Lookup, ServerConfig, VerifierStore, server_start};

struct Store(Verifier);

impl VerifierStore for Store {
    fn lookup(&self, device: &str, epoch: KeyEpoch) -> Lookup {
        match (device, epoch) {
            ("fuzz", KeyEpoch(0)) => Lookup::Found(self.0.clone()),
            ("revoked", _) => Lookup::Revoked,
            ("unavailable", _) => Lookup::Unavailable,
            _ => Lookup::Unknown,
        }
    }
}

/// Feeds the server the messages in `data` (separated by NUL bytes), in whatever order and number
/// they come: every message may be tried as a client-first and as a client-final. Must never panic.
pub fn server_messages(data: &[u8]) {
    // Fixed parts rather than a PBKDF2 run per input: the server never runs PBKDF2 itself.
    let Ok(verifier) = Verifier::from_parts(vec![1; 16], DEFAULT_ITERATIONS, [2; 32], [3; 32]) else {
        return;
    };
    let store = Store(verifier);
    let mut rng: rand_chacha::ChaCha20Rng = rand_core::SeedableRng::seed_from_u64(1);
    let config = ServerConfig::new(DecoyKey::from_bytes([9; 32]));
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
