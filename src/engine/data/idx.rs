//! The IDX format of the original MNIST files (big-endian header, then raw bytes).

use super::{DataError, Problem};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks the magic number and the dimension list; returns the dimensions and the data offset.
fn header(file: &str, bytes: &[u8], expected_magic: u32) -> Result<(Vec<u32>, usize), DataError> {
    let rank = (expected_magic & 0xff) as u8;
    if bytes.len() < 4 {
        return Err(DataError::invalid(
            file,
            Problem::Truncated {
                expected: 4,
                found: bytes.len() as u64,
            },
        ));
    }
    let magic = read_u32(bytes, 0);
    if magic >> 16 != 0 {
        return Err(DataError::invalid(
            file,
            Problem::BadMagic {
                found: magic,
                expected: expected_magic,
            },
        ));
    }
    if bytes[2] != 0x08 {
        return Err(DataError::invalid(file, Problem::BadElementType(bytes[2])));
    }
    if bytes[3] != rank {
        return Err(DataError::invalid(
            file,
            Problem::BadRank {
                found: bytes[3],
                expected: rank,
            },
        ));
    }
    let offset = 4 + 4 * rank as usize;
    if bytes.len() < offset {
        return Err(DataError::invalid(
            file,
            Problem::Truncated {
                expected: offset as u64,
                found: bytes.len() as u64,
            },
        ));
    }
    let dims: Vec<u32> = (0..rank as usize).map(|i| read_u32(bytes, 4 + 4 * i)).collect();
    // Checked: four 32-bit dimensions can overflow 64 bits.
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|values| values.checked_add(offset as u64))
        .unwrap_or(u64::MAX);
    let found = bytes.len() as u64;
    if found < expected {
        return Err(DataError::invalid(file, Problem::Truncated { expected, found }));
    }
    if found > expected {
        return Err(DataError::invalid(
            file,
            Problem::TrailingBytes {
                extra: found - expected,
            },
        ));
    }
    if dims[0] == 0 {
        return Err(DataError::invalid(file, Problem::Empty));
    }
    Ok((dims, offset))
}

/// Decodes an `idx3-ubyte` image file of `rows x cols` images; returns the pixels.
pub fn decode_images(file: &str, bytes: &[u8], rows: u32, cols: u32) -> Result<Vec<u8>, DataError> {
    images_within(file, bytes, rows, cols, &super::gz::Budget::standard())
}

fn images_within(
    file: &str,
    bytes: &[u8],
    rows: u32,
    cols: u32,
    budget: &super::gz::Budget,
) -> Result<Vec<u8>, DataError> {
    let bytes = super::gz::maybe_gunzip_within(file, bytes, budget)?;
    let (dims, offset) = header(file, &bytes, IMAGES_MAGIC)?;
    if dims[1] != rows || dims[2] != cols {
        return Err(DataError::invalid(
            file,
            Problem::BadImageSize {
                rows: dims[1],
                cols: dims[2],
                expected_rows: rows,
                expected_cols: cols,
            },
        ));
    }
    Ok(bytes[offset..].to_vec())
}

/// Decodes an `idx1-ubyte` label file; every label must be below `classes`.
pub fn decode_labels(file: &str, bytes: &[u8], classes: u8) -> Result<Vec<u8>, DataError> {
    labels_within(file, bytes, classes, &super::gz::Budget::standard())
}

fn labels_within(
    file: &str,
    bytes: &[u8],
    classes: u8,
    budget: &super::gz::Budget,
) -> Result<Vec<u8>, DataError> {
    let bytes = super::gz::maybe_gunzip_within(file, bytes, budget)?;
    let (_, offset) = header(file, &bytes, LABELS_MAGIC)?;
    let labels = bytes[offset..].to_vec();
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
        return Err(DataError::invalid(
            file,
            Problem::LabelOutOfRange {
                index,
                label,
                max: classes - 1,
            },
        ));
    }
    Ok(labels)
}

/// Builds an MNIST split from the four files' bytes (`[name, bytes]` pairs for messages).
pub fn mnist_split(
    train_images: (&str, &[u8]),
    train_labels: (&str, &[u8]),
    test_images: (&str, &[u8]),
    test_labels: (&str, &[u8]),
) -> Result<super::DataSplit, DataError> {
    mnist_split_chunks(&[train_images], &[train_labels], &[test_images], &[test_labels])
}

/// Builds an MNIST split from files that each hold consecutive examples (the page's data
/// chunks, each a valid IDX file), concatenated in the order given.
pub fn mnist_split_chunks(
    train_images: &[(&str, &[u8])],
    train_labels: &[(&str, &[u8])],
    test_images: &[(&str, &[u8])],
    test_labels: &[(&str, &[u8])],
) -> Result<super::DataSplit, DataError> {
    // One decompression budget for all the files together.
    let budget = super::gz::Budget::standard();
    let set = |images: &[(&str, &[u8])], labels: &[(&str, &[u8])]| -> Result<super::Dataset, DataError> {
        let mut pixels = Vec::new();
        for (file, bytes) in images {
            pixels.extend(images_within(file, bytes, 28, 28, &budget)?);
        }
        let mut labels_vec = Vec::new();
        for (file, bytes) in labels {
            labels_vec.extend(labels_within(file, bytes, 10, &budget)?);
        }
        let count = pixels.len() / (28 * 28);
        if count != labels_vec.len() {
            return Err(DataError::invalid(
                labels.first().map_or("labels", |l| l.0),
                Problem::CountMismatch {
                    images: count,
                    labels: labels_vec.len(),
                },
            ));
        }
        let kind = super::DatasetKind::Mnist;
        Ok(super::Dataset {
            kind,
            images: pixels,
            labels: labels_vec,
            class_names: kind.default_class_names(),
        })
    };
    Ok(super::DataSplit {
        train: set(train_images, train_labels)?,
        test: set(test_images, test_labels)?,
    })
}

/// Encodes images or labels as IDX (used by tests and by the data preparation step).
pub fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(n: u32) -> Vec<u8> {
        encode(&[n, 28, 28], &vec![7u8; (n * 784) as usize])
    }

    #[test]
    fn decodes_valid_files() {
        assert_eq!(decode_images("i", &images(3), 28, 28).unwrap().len(), 3 * 784);
        let labels = encode(&[3], &[0, 9, 4]);
        assert_eq!(decode_labels("l", &labels, 10).unwrap(), vec![0, 9, 4]);
    }

    #[test]
    fn each_corruption_has_its_own_error() {
        let good = images(2);
        let problem = |bytes: &[u8]| decode_images("f", bytes, 28, 28).unwrap_err().problem().cloned();

        let mut magic = good.clone();
        magic[0] = 0x12;
        assert!(matches!(problem(&magic), Some(Problem::BadMagic { .. })));

        let mut etype = good.clone();
        etype[2] = 0x0d;
        assert_eq!(problem(&etype), Some(Problem::BadElementType(0x0d)));

        let mut rank = good.clone();
        rank[3] = 1;
        assert!(matches!(
            problem(&rank),
            Some(Problem::BadRank {
                found: 1,
                expected: 3
            })
        ));

        assert!(matches!(
            problem(&good[..good.len() - 1]),
            Some(Problem::Truncated { .. })
        ));
        assert!(matches!(problem(&good[..6]), Some(Problem::Truncated { .. })));

        let mut extra = good.clone();
        extra.push(0);
        assert_eq!(problem(&extra), Some(Problem::TrailingBytes { extra: 1 }));

        let wrong_size = encode(&[1, 32, 32], &[0u8; 1024]);
        assert!(matches!(
            problem(&wrong_size),
            Some(Problem::BadImageSize { rows: 32, .. })
        ));

        let empty = encode(&[0, 28, 28], &[]);
        assert_eq!(problem(&empty), Some(Problem::Empty));

        let bad_label = encode(&[2], &[1, 10]);
        assert_eq!(
            decode_labels("l", &bad_label, 10).unwrap_err().problem().cloned(),
            Some(Problem::LabelOutOfRange {
                index: 1,
                label: 10,
                max: 9
            })
        );

        let labels = encode(&[3], &[1, 2, 3]);
        let err = mnist_split(("a", &good), ("b", &labels), ("c", &good), ("d", &labels)).unwrap_err();
        assert!(matches!(
            err.problem(),
            Some(Problem::CountMismatch { images: 2, labels: 3 })
        ));
        assert!(err.to_string().starts_with("b: "), "{err}");
    }
}
