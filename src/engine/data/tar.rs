//! A minimal reader for (ustar) tar archives, enough for `cifar-10-binary.tar.gz`.
//!
//! Written here rather than pulled in because it is small, has to run in wasm on bytes already
//! in memory, and must answer corrupt input with an error rather than a panic.

use super::{DataError, Problem};

const BLOCK: usize = 512;

/// One regular file of an archive.
#[derive(Debug)]
pub struct Entry<'a> {
    pub path: String,
    pub data: &'a [u8],
}

fn octal(field: &[u8]) -> Option<u64> {
    let text: Vec<u8> = field
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .filter(|&b| b != b' ')
        .collect();
    if text.is_empty() {
        return Some(0);
    }
    let mut value: u64 = 0;
    for b in text {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add((b - b'0') as u64)?;
    }
    Some(value)
}

fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Lists the regular files of an uncompressed tar archive, checking every header's checksum.
pub fn entries<'a>(file: &str, bytes: &'a [u8]) -> Result<Vec<Entry<'a>>, DataError> {
    let bad = |msg: String| DataError::invalid(file, Problem::BadTar(msg));
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        if at.saturating_add(BLOCK) > bytes.len() {
            if out.is_empty() {
                return Err(bad("no complete header".into()));
            }
            // Archives should end with two zero blocks, but a missing end marker after
            // complete members loses nothing.
            return Ok(out);
        }
        let header = &bytes[at..at + BLOCK];
        if header.iter().all(|&b| b == 0) {
            return Ok(out);
        }
        let stored =
            octal(&header[148..156]).ok_or_else(|| bad(format!("bad checksum field at byte {at}")))?;
        let computed: u64 = header
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    b' ' as u64
                } else {
                    b as u64
                }
            })
            .sum();
        if stored != computed {
            return Err(bad(format!("header checksum mismatch at byte {at}")));
        }
        let size = octal(&header[124..136])
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| bad(format!("bad size field at byte {at}")))?;
        let kind = header[156];
        let mut path = text(&header[0..100]);
        if &header[257..262] == b"ustar" {
            let prefix = text(&header[345..500]);
            if !prefix.is_empty() {
                path = format!("{prefix}/{path}");
            }
        }
        let start = at + BLOCK;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad(format!("member {path} is truncated")))?;
        let next = start
            .checked_add(size.div_ceil(BLOCK) * BLOCK)
            .ok_or_else(|| bad(format!("member {path} is too large")))?;
        if kind == b'0' || kind == 0 {
            out.push(Entry {
                path,
                data: &bytes[start..end],
            });
        }
        at = next;
    }
}

/// Writes a tar archive of regular files (used by tests to build archives in the real layout).
pub fn write(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, data) in files {
        let mut header = [0u8; BLOCK];
        header[..path.len()].copy_from_slice(path.as_bytes());
        header[100..107].copy_from_slice(b"0000644");
        header[108..115].copy_from_slice(b"0000000");
        header[116..123].copy_from_slice(b"0000000");
        let size = format!("{:011o}", data.len());
        header[124..135].copy_from_slice(size.as_bytes());
        header[136..147].copy_from_slice(b"00000000000");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u64 = header.iter().map(|&b| b as u64).sum();
        let checksum = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(checksum.as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let a = vec![1u8; 700];
        let archive = write(&[("dir/a.bin", &a), ("dir/b.txt", b"hello")]);
        let list = entries("t", &archive).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].path, "dir/a.bin");
        assert_eq!(list[0].data, &a[..]);
        assert_eq!(list[1].data, b"hello");

        let mut altered = archive.clone();
        altered[10] ^= 1;
        assert!(matches!(
            entries("t", &altered).unwrap_err().problem(),
            Some(Problem::BadTar(_))
        ));
        assert!(entries("t", &archive[..600]).is_err());
        assert!(entries("t", &archive[..100]).is_err());
    }
}
