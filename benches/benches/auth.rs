//! Server-side cost of a full session handshake (client-first to server-final) and of a one-shot
//! frame verification, beside the floor of one HMAC-SHA256 over the same transcript.
//!
//! `cargo bench -p printfleet-benches --bench auth`; the reciprocal of the times is per-core
//! throughput (`python3 benches/ratios.py`).

// Benchmark set-up on fixed inputs: a failure is a bug to see at once.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use printfleet_auth::one_shot::{self, Portal, SecretLookup, SecretStore};
use printfleet_auth::{
    ClientHandshake, DecoyKey, DeviceSecret, KeyEpoch, Lookup, ServerConfig, Verifier, VerifierStore, server_start,
};
use printfleet_schema::Timestamp;
use printfleet_wire::Codec;
use printfleet_wire::frame::{MessageKind, SenderId};
use sha2::Sha256;

/// A seeded CSPRNG: reproducible inputs; IV quality does not change the timings.
#[allow(non_snake_case)]
fn Rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    rand_core::SeedableRng::seed_from_u64(seed)
}

struct Store(Verifier);
impl VerifierStore for Store {
    fn lookup(&self, _: &str, _: KeyEpoch) -> Lookup {
        Lookup::Found(self.0.clone())
    }
}

fn auth(c: &mut Criterion) {
    let now = Timestamp::from_unix_millis(1_793_610_000_000).unwrap();
    let secret = DeviceSecret::random(&mut Rng(1));
    let store = Store(Verifier::new(&secret, &mut Rng(2)));
    let config = ServerConfig::new(DecoyKey::generate(&mut Rng(3)));
    // The server's nonce comes from `server_rng`, reset every iteration, so one precomputed
    // client-final stays valid and only the server's work is timed.
    let server_rng = Rng(4);
    let (client, first) = ClientHandshake::start("printer-17", &secret, KeyEpoch(1), &mut Rng(5), now).unwrap();
    let (_, challenge) = server_start(&first, &store, &config, &mut server_rng.clone(), now).unwrap();
    let (_, client_final) = client.handle_server_first(&challenge, now).unwrap();
    let transcript = format!("{first},{challenge},{client_final}");

    let mut group = c.benchmark_group("auth");
    group.bench_function("handshake_server_side", |b| {
        b.iter(|| {
            let (server, _) = server_start(black_box(&first), &store, &config, &mut server_rng.clone(), now).unwrap();
            server.handle_client_final(black_box(&client_final), now).unwrap()
        })
    });
    let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7; 32]).unwrap();
    group.bench_function("hmac_floor", |b| {
        b.iter(|| {
            let mut m = mac.clone();
            m.update(black_box(transcript.as_bytes()));
            m.finalize()
        })
    });

    // One-shot: a typical direct-connection POST carries a compressed office report (~300 bytes).
    let payload = Codec::Protobuf.encode_to_vec(&printfleet_schema::samples::office_laser()).unwrap();
    let mut sealer = one_shot::device_channel(&secret, "printer-17", KeyEpoch(1));
    let reservation = sealer.reserve_block(1 << 20);
    sealer.reservation_saved(reservation).unwrap();
    let frames: Vec<Vec<u8>> = (0..512)
        .map(|_| {
            let mut f = Vec::new();
            sealer.seal(MessageKind::Report, Codec::Protobuf, &payload, now, &mut Rng(6), &mut f).unwrap();
            f
        })
        .collect();
    struct One(DeviceSecret);
    impl SecretStore for One {
        fn lookup(&self, _: SenderId, epoch: KeyEpoch) -> SecretLookup {
            if epoch == KeyEpoch(1) {
                SecretLookup::Found { device: "printer-17".into(), secret: self.0.clone() }
            } else {
                SecretLookup::Unknown
            }
        }
    }
    // The store is asked for every frame (a revocation must take effect at once); the key it
    // derives is cached. A fresh portal per batch: the window check is part of what is measured.
    let mut portal = Portal::new(One(secret.clone()));
    let (mut i, mut out) = (0, Vec::with_capacity(4096));
    group.bench_function("one_shot_verify", |b| {
        b.iter(|| {
            if i == frames.len() {
                i = 0;
                portal = Portal::new(One(secret.clone()));
            }
            out.clear();
            portal.open(black_box(&frames[i]), &[MessageKind::Report], now, &mut out).unwrap();
            i += 1;
        })
    });
    group.finish();
}

criterion_group!(benches, auth);
criterion_main!(benches);
