//! Reading input with a cap: a capture, response or document larger than its limit is refused
//! after at most limit + 1 bytes were read, however large the source.

use std::io::Read;

/// Why bounded input could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The input has more than `limit` bytes (found after reading `limit + 1`).
    #[error("input larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The reader failed.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads all of `reader`, at most `limit` bytes: it reads at most `limit + 1` bytes and refuses
/// the input if the last one exists. A limit above `u64::MAX - 1` is capped there.
///
/// ```
/// use printfleet_sources::read::{ReadError, read_capped};
///
/// assert_eq!(read_capped(&b"abc"[..], 3)?, b"abc");
/// assert!(matches!(read_capped(&b"abcd"[..], 3), Err(ReadError::TooLarge { limit: 3 })));
/// # Ok::<(), ReadError>(())
/// ```
pub fn read_capped(reader: impl Read, limit: usize) -> Result<Vec<u8>, ReadError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    reader.take(cap).read_to_end(&mut out)?;
    if out.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(out)
}

/// The line (counting from 1) at byte `offset` of `bytes`.
pub(crate) fn line_of(bytes: &[u8], offset: usize) -> usize {
    let before = bytes.get(..offset).unwrap_or(bytes);
    before.iter().filter(|b| **b == b'\n').count().saturating_add(1)
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a failed assertion.
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// A reader of endless bytes that counts what it handed out.
    struct Endless {
        given: usize,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            buf.fill(b'x');
            self.given = self.given.saturating_add(buf.len());
            Ok(buf.len())
        }
    }

    #[test]
    fn an_endless_source_is_refused_after_limit_plus_one_bytes() {
        let mut source = Endless { given: 0 };
        let result = read_capped(&mut source, 1000);
        assert!(matches!(result, Err(ReadError::TooLarge { limit: 1000 })));
        assert_eq!(source.given, 1001, "read exactly limit + 1 bytes");
    }

    #[test]
    fn input_at_the_limit_is_read_whole() {
        assert_eq!(read_capped(&[7u8; 64][..], 64).unwrap(), vec![7u8; 64]);
        assert_eq!(read_capped(&[][..], 0).unwrap(), Vec::<u8>::new());
        assert!(read_capped(&[0u8][..], 0).is_err());
    }

    #[test]
    fn lines_count_from_one() {
        let text = b"a\nb\nc";
        assert_eq!((line_of(text, 0), line_of(text, 2), line_of(text, 4)), (1, 2, 3));
    }
}
