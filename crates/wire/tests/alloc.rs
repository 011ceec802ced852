//! Sealing and opening allocate nothing per frame in steady state, when the caller reuses its
//! buffers, sealer and opener: shown by counting every allocation of this test binary.
// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::panic, clippy::cast_possible_truncation, clippy::indexing_slicing)]

use printfleet_schema::samples;
use printfleet_wire::Codec;
use printfleet_wire::frame::{CipherSuite, FrameKey, Opener, Sealer};

// dhat's allocator counts every allocation of this test binary.
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

struct Rng(u64);
impl rand_core::TryRng for Rng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Rng {}

#[test]
fn steady_state_sealing_and_opening_do_not_allocate() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let now = samples::SAMPLE_TIME;
    let key = FrameKey::new(&[7; 32]).unwrap();
    for (compress, suite) in [(false, CipherSuite::Aes128CbcHmacSha256), (true, CipherSuite::Aes256CbcHmacSha256)] {
        let payload = Codec::Protobuf.encode_to_vec(&samples::large_format(20)).unwrap();
        let mut sealer = Sealer::new(1, 1, &key, suite).with_compression(compress);
        let mut opener = Opener::new(1, 1, &key, suite);
        let mut rng = Rng(5);
        let (mut frame, mut opened) = (Vec::new(), Vec::new());
        // Warm up: buffers reach their size, the compressor its state.
        for _ in 0..3 {
            frame.clear();
            opened.clear();
            sealer.seal(Codec::Protobuf, &payload, now, &mut rng, &mut frame).unwrap();
            opener.open(&frame, now, &mut opened).unwrap();
        }
        let before = dhat::HeapStats::get().total_blocks;
        for _ in 0..100 {
            frame.clear();
            opened.clear();
            sealer.seal(Codec::Protobuf, &payload, now, &mut rng, &mut frame).unwrap();
            opener.open(&frame, now, &mut opened).unwrap();
        }
        let allocations = dhat::HeapStats::get().total_blocks - before;
        assert_eq!(opened, payload);
        assert_eq!(allocations, 0, "compression {compress}: {allocations} allocations in 100 frames");
    }
}
