//! Transparent gzip: the official MNIST and CIFAR-10 files are served gzipped.

use super::{DataError, Problem};
use std::io::Read;

/// Bytes all the decompression of one load may produce together (the largest real input,
/// CIFAR-10's archive, is 185 MB uncompressed): a guard against decompression bombs in dropped
/// files, nested ones included (an archive of gzipped members shares one budget).
pub const MAX_DECOMPRESSED: u64 = 512 * 1024 * 1024;

/// What is left of one load's decompression allowance.
#[derive(Debug)]
pub struct Budget {
    left: std::cell::Cell<u64>,
}

impl Budget {
    pub fn new(bytes: u64) -> Self {
        Self {
            left: std::cell::Cell::new(bytes),
        }
    }

    /// The allowance of one load: [`MAX_DECOMPRESSED`].
    pub fn standard() -> Self {
        Self::new(MAX_DECOMPRESSED)
    }

    pub fn left(&self) -> u64 {
        self.left.get()
    }
}

/// Whether `bytes` start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Returns the bytes themselves, or their decompressed content when they are gzipped, within
/// a fresh [`Budget::standard`].
pub fn maybe_gunzip<'a>(file: &str, bytes: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, DataError> {
    maybe_gunzip_within(file, bytes, &Budget::standard())
}

/// [`maybe_gunzip`], drawing the decompressed bytes from `budget`.
pub fn maybe_gunzip_within<'a>(
    file: &str,
    bytes: &'a [u8],
    budget: &Budget,
) -> Result<std::borrow::Cow<'a, [u8]>, DataError> {
    if !is_gzip(bytes) {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut limited = decoder.take(budget.left().saturating_add(1));
    limited
        .read_to_end(&mut out)
        .map_err(|e| DataError::invalid(file, Problem::BadGzip(e.to_string())))?;
    let produced = out.len() as u64;
    if produced > budget.left() {
        return Err(DataError::invalid(
            file,
            Problem::TooLarge {
                limit: MAX_DECOMPRESSED,
            },
        ));
    }
    budget.left.set(budget.left() - produced);
    Ok(std::borrow::Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn round_trip_and_corruption() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&payload).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(maybe_gunzip("f", &gz).unwrap().as_ref(), &payload[..]);
        assert_eq!(maybe_gunzip("f", &payload).unwrap().as_ref(), &payload[..]);
        let truncated = &gz[..gz.len() / 2];
        let err = maybe_gunzip("f.gz", truncated).unwrap_err();
        assert!(matches!(err.problem(), Some(Problem::BadGzip(_))), "{err}");
        let mut flipped = gz.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0xff;
        assert!(maybe_gunzip("f.gz", &flipped).is_err());
    }

    #[test]
    fn one_budget_covers_every_member() {
        let payload = vec![0u8; 6000];
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&payload).unwrap();
        let gz = enc.finish().unwrap();
        let budget = Budget::new(10_000);
        assert!(maybe_gunzip_within("a", &gz, &budget).is_ok());
        assert_eq!(budget.left(), 4000);
        let err = maybe_gunzip_within("b", &gz, &budget).unwrap_err();
        assert!(matches!(err.problem(), Some(Problem::TooLarge { .. })), "{err}");
    }
}
