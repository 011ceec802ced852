//! Seal and open throughput for payloads of 256 B, 1 KiB, 16 KiB and 64 KiB, compression off,
//! side by side in one group per size with
//! * `bare`: AES-128-CBC + HMAC-SHA256 over the same bytes with the same reused keyed state —
//!   the floor a frame cannot beat (it adds a header, a replay check and a truncated tag);
//! * `fernet`: the `fernet` crate (RustCrypto backend), which a user might pick instead.
//!
//! `cargo bench -p printfleet-benches --bench frames`; `python3 benches/ratios.py` prints ratios.

// Benchmark set-up on fixed inputs: a failure is a bug to see at once.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use printfleet_schema::Timestamp;
use printfleet_wire::Codec;
use printfleet_wire::frame::{CipherSuite, DeviceChannel, FrameKey, KeyId, Keyring, MessageKind, SenderId};
use sha2::Sha256;

const SIZES: [usize; 4] = [256, 1024, 16 * 1024, 64 * 1024];

/// A seeded CSPRNG: reproducible inputs; IV quality does not change the timings.
#[allow(non_snake_case)]
fn Rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    rand_core::SeedableRng::seed_from_u64(seed)
}

/// The bare primitives with keyed state built once, as a frame's are.
struct Bare {
    aes: aes::Aes128,
    mac: Hmac<Sha256>,
}

impl Bare {
    fn new() -> Self {
        Self { aes: aes::Aes128::new(&[7u8; 16].into()), mac: <Hmac<Sha256> as KeyInit>::new(&[9u8; 64].into()) }
    }

    fn seal(&self, iv: &[u8; 16], payload: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(iv);
        out.extend_from_slice(payload);
        out.resize(16 + payload.len() + 16, 0);
        let ct = cbc::Encryptor::<aes::Aes128>::inner_iv_init(self.aes.clone(), iv.into())
            .encrypt_padded::<Pkcs7>(&mut out[16..], payload.len())
            .unwrap()
            .len();
        out.truncate(16 + ct);
        let mut mac = self.mac.clone();
        mac.update(out);
        out.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    }

    fn open(&self, sealed: &[u8], out: &mut Vec<u8>) {
        let (body, tag) = sealed.split_at(sealed.len() - 16);
        let mut mac = self.mac.clone();
        mac.update(body);
        mac.verify_truncated_left(tag).unwrap();
        out.clear();
        out.extend_from_slice(&body[16..]);
        let iv: [u8; 16] = body[..16].try_into().unwrap();
        let len = cbc::Decryptor::<aes::Aes128>::inner_iv_init(self.aes.clone(), (&iv).into())
            .decrypt_padded::<Pkcs7>(out)
            .unwrap()
            .len();
        out.truncate(len);
    }
}

fn frames(c: &mut Criterion) {
    let now = Timestamp::from_unix_millis(1_793_610_000_000).unwrap();
    let key = FrameKey::new(&[0x42; 32], KeyId(1), CipherSuite::Aes128CbcHmacSha256).unwrap();
    let fernet = fernet::Fernet::new(&fernet::Fernet::generate_key()).unwrap();
    let bare = Bare::new();
    for size in SIZES {
        let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let mut group = c.benchmark_group(format!("frame_{size}"));
        group.throughput(Throughput::Bytes(size as u64));

        let sealer_for = || {
            let mut d = DeviceChannel::new(SenderId(1), &key);
            let r = d.reserve_block(u64::MAX / 2);
            d.reservation_saved(r).unwrap();
            d.set_compression(false);
            d
        };
        let opener_for = || {
            let mut ring = Keyring::new();
            ring.insert(SenderId(1), &key).unwrap();
            ring
        };
        let mut sealer = sealer_for();
        let mut rng = Rng(1);
        let mut frame = Vec::with_capacity(size + 128);
        group.bench_function(BenchmarkId::new("seal", "printfleet"), |b| {
            b.iter(|| {
                frame.clear();
                sealer
                    .seal(MessageKind::Report, Codec::Protobuf, black_box(&payload), now, &mut rng, &mut frame)
                    .unwrap();
            })
        });
        // Open needs a fresh sequence number each time: pre-seal a batch, reopen with a fresh
        // window per batch (the window check is part of what is measured).
        let mut batch = Vec::new();
        let mut s = sealer_for();
        for _ in 0..256 {
            let mut f = Vec::new();
            s.seal(MessageKind::Report, Codec::Protobuf, &payload, now, &mut rng, &mut f).unwrap();
            batch.push(f);
        }
        let mut out = Vec::with_capacity(size + 32);
        let mut opener = opener_for();
        let mut i = 0;
        group.bench_function(BenchmarkId::new("open", "printfleet"), |b| {
            b.iter(|| {
                if i == batch.len() {
                    i = 0;
                    opener = opener_for();
                }
                out.clear();
                opener.open(black_box(&batch[i]), &[MessageKind::Report], now, &mut out).unwrap();
                i += 1;
            })
        });
        group.bench_function(BenchmarkId::new("seal", "bare"), |b| {
            b.iter(|| bare.seal(&[3; 16], black_box(&payload), &mut frame))
        });
        let mut sealed = Vec::new();
        bare.seal(&[3; 16], &payload, &mut sealed);
        group.bench_function(BenchmarkId::new("open", "bare"), |b| b.iter(|| bare.open(black_box(&sealed), &mut out)));
        group.bench_function(BenchmarkId::new("seal", "fernet"), |b| b.iter(|| fernet.encrypt(black_box(&payload))));
        let token = fernet.encrypt(&payload);
        group.bench_function(BenchmarkId::new("open", "fernet"), |b| {
            b.iter(|| fernet.decrypt(black_box(&token)).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, frames);
criterion_main!(benches);
