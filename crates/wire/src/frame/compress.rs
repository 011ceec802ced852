//! DEFLATE (RFC 1951, raw: no zlib header or checksum; the MAC already protects the bytes) with
//! an optional preset dictionary, through flate2's zlib-rs backend.
//!
//! Decompression is bounded while it runs: output grows in steps and stops with an error the
//! moment it would pass the cap, so a small bomb never makes us allocate more than the cap.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The dictionaries a frame may name (header byte 2). Each is built from encodings of
/// representative reports in one codec (see `dict/README.md`); 0 means none.
pub(crate) fn dictionary(id: u8) -> Option<&'static [u8]> {
    match id {
        1 => Some(include_bytes!("../../dict/protobuf-v1.bin")),
        2 => Some(include_bytes!("../../dict/xml-v1.bin")),
        3 => Some(include_bytes!("../../dict/json-v1.bin")),
        _ => None,
    }
}

/// The dictionary id for a codec's payloads.
pub(crate) fn dictionary_for(codec: crate::Codec) -> u8 {
    match codec {
        crate::Codec::Protobuf => 1,
        crate::Codec::Xml => 2,
        crate::Codec::Json => 3,
    }
}

/// Bytes DEFLATE may add to incompressible input: 5 per 16 KiB stored block plus a little
/// (zlib's `deflateBound`, rounded up).
pub(crate) fn compress_bound(len: usize) -> usize {
    len.saturating_add(len / 1000).saturating_add(64)
}

/// A reusable compressor (zlib keeps ~256 KiB of state; reusing it keeps frames allocation-free).
pub(crate) struct Compressor {
    inner: Compress,
}

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Compressor")
    }
}

impl Compressor {
    pub(crate) fn new() -> Self {
        Self { inner: Compress::new(Compression::default(), false) }
    }

    /// Appends the raw DEFLATE of `input` to `out`, within `out`'s spare capacity (the caller
    /// reserves [`compress_bound`]). Returns false if it did not fit or zlib failed.
    pub(crate) fn compress(&mut self, input: &[u8], dictionary: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
        self.inner.reset();
        if let Some(dict) = dictionary
            && self.inner.set_dictionary(dict).is_err()
        {
            return false;
        }
        matches!(self.inner.compress_vec(input, out, FlushCompress::Finish), Ok(Status::StreamEnd))
    }
}

/// Why decompression failed (local detail; the peer only sees that the frame was rejected).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    Corrupt,
    TooLarge,
}

/// A reusable decompressor.
pub(crate) struct Decompressor {
    inner: Decompress,
}

impl core::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Decompressor")
    }
}

/// How much the output grows per step at least; it also doubles, so large frames take few steps.
const INFLATE_STEP: usize = 16 * 1024;

impl Decompressor {
    pub(crate) fn new() -> Self {
        Self { inner: Decompress::new(false) }
    }

    /// Appends the inflated `input` to `out`. Fails with `TooLarge` as soon as the output would
    /// exceed `cap` bytes: `out`'s allocation never grows past `cap + 1` bytes beyond its length
    /// on entry.
    /// The input must be exactly one complete DEFLATE stream.
    pub(crate) fn decompress(
        &mut self,
        input: &[u8],
        dictionary: Option<&[u8]>,
        cap: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), InflateError> {
        self.inner.reset(false);
        if let Some(dict) = dictionary {
            self.inner.set_dictionary(dict).map_err(|_| InflateError::Corrupt)?;
        }
        let start = out.len();
        let limit = start.saturating_add(cap).saturating_add(1);
        loop {
            let len = out.len();
            let target = limit.min(len.saturating_add(len.saturating_sub(start).max(INFLATE_STEP)));
            // Exact, so that no allocation goes past what the cap allows. Inflated into the
            // spare capacity (no zero-filling of a step per frame); a buffer reused from a
            // larger frame may have more spare capacity than the cap, hence the check after.
            if out.capacity() < target {
                out.reserve_exact(target.saturating_sub(len));
            }
            let (in_before, out_before) = (self.inner.total_in(), self.inner.total_out());
            let consumed = usize::try_from(in_before).map_err(|_| InflateError::Corrupt)?;
            let rest = input.get(consumed..).ok_or(InflateError::Corrupt)?;
            let status = self.inner.decompress_vec(rest, out, FlushDecompress::None);
            if out.len().saturating_sub(start) > cap {
                out.truncate(start);
                return Err(InflateError::TooLarge);
            }
            match status {
                Ok(Status::StreamEnd) => {
                    // Nothing may follow the stream.
                    return if usize::try_from(self.inner.total_in()).ok() == Some(input.len()) {
                        Ok(())
                    } else {
                        Err(InflateError::Corrupt)
                    };
                }
                Ok(_) if (self.inner.total_in(), self.inner.total_out()) == (in_before, out_before) => {
                    // No progress although there was room: the input ends before the stream does.
                    return Err(InflateError::Corrupt);
                }
                Ok(_) => {}
                Err(_) => return Err(InflateError::Corrupt),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflate(data: &[u8], dict: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::with_capacity(compress_bound(data.len()));
        assert!(Compressor::new().compress(data, dict, &mut out));
        out
    }

    #[test]
    fn round_trip_with_and_without_dictionary() {
        let data = include_bytes!("../../testdata/office_laser.xml");
        let dict = dictionary(2);
        for d in [None, dict] {
            let z = deflate(data, d);
            let mut out = b"prefix".to_vec();
            Decompressor::new().decompress(&z, d, data.len(), &mut out).unwrap();
            assert_eq!(&out[6..], &data[..]);
        }
        assert!(deflate(data, dict).len() < deflate(data, None).len(), "the dictionary must pay");
        // Wrong or missing dictionary: not the same bytes (or an error).
        let z = deflate(data, dict);
        let mut out = Vec::new();
        let r = Decompressor::new().decompress(&z, None, 1 << 20, &mut out);
        assert!(r.is_err() || out != data);
    }

    #[test]
    fn cap_is_enforced_while_inflating() {
        let data = vec![b'a'; 100_000];
        let z = deflate(&data, None);
        let mut out = Vec::new();
        assert_eq!(Decompressor::new().decompress(&z, None, 99_999, &mut out), Err(InflateError::TooLarge));
        assert!(out.capacity() <= 100_000 + 1, "grew to {}", out.capacity());
        let mut out = Vec::new();
        Decompressor::new().decompress(&z, None, 100_000, &mut out).unwrap();
        assert_eq!(out.len(), 100_000);
    }

    #[test]
    fn a_gigabyte_bomb_is_refused_in_bounded_memory() {
        // 1 GiB of zeros deflates to about 1 MiB; build it in pieces without holding the gigabyte.
        let mut c = Compress::new(Compression::best(), false);
        let zeros = vec![0u8; 1 << 20];
        let mut bomb = Vec::with_capacity(2 << 20);
        for _ in 0..1024 {
            bomb.reserve(64 << 10);
            c.compress_vec(&zeros, &mut bomb, FlushCompress::None).unwrap();
        }
        bomb.reserve(64 << 10);
        c.compress_vec(&[], &mut bomb, FlushCompress::Finish).unwrap();
        assert!(bomb.len() < 2 << 20, "{}", bomb.len());
        let cap = 4 << 20;
        let mut out = Vec::new();
        assert_eq!(Decompressor::new().decompress(&bomb, None, cap, &mut out), Err(InflateError::TooLarge));
        assert!(out.capacity() <= cap + 1, "allocated {}", out.capacity());
    }

    #[test]
    fn truncated_and_trailing_input_is_corrupt() {
        let z = deflate(b"hello hello hello hello", None);
        let mut out = Vec::new();
        assert_eq!(Decompressor::new().decompress(&z[..z.len() - 1], None, 1000, &mut out), Err(InflateError::Corrupt));
        let mut long = z.clone();
        long.push(0);
        assert_eq!(Decompressor::new().decompress(&long, None, 1000, &mut Vec::new()), Err(InflateError::Corrupt));
        assert_eq!(
            Decompressor::new().decompress(&[0xff; 10], None, 1000, &mut Vec::new()),
            Err(InflateError::Corrupt)
        );
    }
}
