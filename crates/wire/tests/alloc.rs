//! Sealing and opening allocate nothing per frame in steady state, when the caller reuses its
//! buffers, sealer and opener: shown by counting every allocation of this test binary.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::panic, clippy::cast_possible_truncation, clippy::indexing_slicing)]

use printfleet_schema::samples;
use printfleet_wire::Codec;
use printfleet_wire::frame::{CipherSuite, DeviceChannel, FrameKey, KeyId, Keyring, MessageKind, SenderId};

// dhat's allocator counts every allocation of this test binary.
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[test]
fn steady_state_sealing_and_opening_do_not_allocate() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let now = samples::SAMPLE_TIME;
    for (compress, suite) in [(false, CipherSuite::Aes128CbcHmacSha256), (true, CipherSuite::Aes256CbcHmacSha256)] {
        let key = FrameKey::new(&[7; 32], KeyId(1), suite).unwrap();
        let payload = Codec::Protobuf.encode_to_vec(&samples::large_format(20)).unwrap();
        let mut sealer = DeviceChannel::new(SenderId(1), &key);
        let reservation = sealer.reserve_block(1000);
        sealer.reservation_saved(reservation).unwrap();
        sealer.set_compression(compress);
        let mut opener = Keyring::new();
        opener.insert(SenderId(1), &key).unwrap();
        let report = [MessageKind::Report];
        let mut rng: rand_chacha::ChaCha20Rng = rand_core::SeedableRng::seed_from_u64(5);
        let (mut frame, mut opened) = (Vec::new(), Vec::new());
        // Warm up: buffers reach their size, the compressor its state.
        for _ in 0..3 {
            frame.clear();
            opened.clear();
            sealer.seal(MessageKind::Report, Codec::Protobuf, &payload, now, &mut rng, &mut frame).unwrap();
            opener.open(&frame, &report, now, &mut opened).unwrap();
        }
        let before = dhat::HeapStats::get().total_blocks;
        for _ in 0..100 {
            frame.clear();
            opened.clear();
            sealer.seal(MessageKind::Report, Codec::Protobuf, &payload, now, &mut rng, &mut frame).unwrap();
            opener.open(&frame, &report, now, &mut opened).unwrap();
        }
        let allocations = dhat::HeapStats::get().total_blocks - before;
        assert_eq!(opened, payload);
        assert_eq!(allocations, 0, "compression {compress}: {allocations} allocations in 100 frames");
    }
}
