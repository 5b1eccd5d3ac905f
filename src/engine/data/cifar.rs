//! The CIFAR-10 binary format: 3,073-byte records (label, then the R, G and B planes of a
//! 32x32 image), in `data_batch_{1..5}.bin` and `test_batch.bin`, as shipped in
//! `cifar-10-binary.tar.gz` (folder `cifar-10-batches-bin/`), optionally gzipped one by one.

use super::gz::Budget;
use super::{DataError, DataSplit, Dataset, DatasetKind, Problem};

pub const RECORD_LEN: usize = 1 + 3 * 32 * 32;
pub const DEFAULT_CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Decoded records of one batch file: pixels (`[n, 3, 32, 32]`) and labels.
pub fn decode_batch(file: &str, bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    decode_batch_within(file, bytes, &Budget::standard())
}

/// [`decode_batch`], decompressing within `budget`.
pub fn decode_batch_within(
    file: &str,
    bytes: &[u8],
    budget: &Budget,
) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let bytes = super::gz::maybe_gunzip_within(file, bytes, budget)?;
    if bytes.is_empty() {
        return Err(DataError::invalid(file, Problem::Empty));
    }
    if bytes.len() % RECORD_LEN != 0 {
        return Err(DataError::invalid(
            file,
            Problem::BadRecordSize {
                size: bytes.len() as u64,
                record: RECORD_LEN as u64,
            },
        ));
    }
    let n = bytes.len() / RECORD_LEN;
    let mut images = Vec::with_capacity(n * (RECORD_LEN - 1));
    let mut labels = Vec::with_capacity(n);
    for (index, record) in bytes.chunks_exact(RECORD_LEN).enumerate() {
        if record[0] > 9 {
            return Err(DataError::invalid(
                file,
                Problem::LabelOutOfRange {
                    index,
                    label: record[0],
                    max: 9,
                },
            ));
        }
        labels.push(record[0]);
        images.extend_from_slice(&record[1..]);
    }
    Ok((images, labels))
}

/// Class names from `batches.meta.txt` (one per line, blank lines ignored).
pub fn parse_class_names(file: &str, bytes: &[u8]) -> Result<Vec<String>, DataError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| DataError::invalid(file, Problem::BadClassNames("not UTF-8 text".into())))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != 10 {
        return Err(DataError::invalid(
            file,
            Problem::BadClassNames(format!("{} names, expected 10", names.len())),
        ));
    }
    Ok(names)
}

/// Concatenates decoded batches into one data set.
pub fn dataset_from_batches(
    batches: &[(&str, &[u8])],
    class_names: Vec<String>,
    budget: &Budget,
) -> Result<Dataset, DataError> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (file, bytes) in batches {
        let (i, l) = decode_batch_within(file, bytes, budget)?;
        images.extend(i);
        labels.extend(l);
    }
    Ok(Dataset {
        kind: DatasetKind::Cifar10,
        images,
        labels,
        class_names,
    })
}

/// The base name of a path inside an archive or a folder.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether a file name is a training batch (`data_batch_N.bin`, optionally `.gz`).
pub fn is_train_batch(name: &str) -> bool {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    name.starts_with("data_batch_") && name.ends_with(".bin")
}

/// Whether a file name is the test batch.
pub fn is_test_batch(name: &str) -> bool {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    name == "test_batch.bin"
}

/// Builds the split from named files (from a folder, an archive or a page drop): every training
/// batch in name order, the test batch, and the class names when present.
pub fn split_from_files(source: &str, files: &[(String, &[u8])]) -> Result<DataSplit, DataError> {
    split_within(source, files, &Budget::standard())
}

fn split_within(source: &str, files: &[(String, &[u8])], budget: &Budget) -> Result<DataSplit, DataError> {
    let mut train: Vec<(&str, &[u8])> = files
        .iter()
        .filter(|(p, _)| is_train_batch(base_name(p)))
        .map(|(p, b)| (p.as_str(), *b))
        .collect();
    train.sort_by(|a, b| base_name(a.0).cmp(base_name(b.0)));
    let test = files
        .iter()
        .find(|(p, _)| is_test_batch(base_name(p)))
        .ok_or_else(|| DataError::invalid(source, Problem::MissingMember("test_batch.bin".into())))?;
    if train.is_empty() {
        return Err(DataError::invalid(
            source,
            Problem::MissingMember("data_batch_*.bin".into()),
        ));
    }
    let class_names = files
        .iter()
        .find(|(p, _)| base_name(p) == "batches.meta.txt")
        .map(|(p, b)| (p.as_str(), *b));
    split_from_chunks_within(&train, &[(test.0.as_str(), test.1)], class_names, budget)
}

/// Builds the split from batch files that each hold consecutive records (the page's data
/// chunks, each a valid batch file), concatenated in the order given.
pub fn split_from_chunks(
    train: &[(&str, &[u8])],
    test: &[(&str, &[u8])],
    class_names: Option<(&str, &[u8])>,
) -> Result<DataSplit, DataError> {
    split_from_chunks_within(train, test, class_names, &Budget::standard())
}

fn split_from_chunks_within(
    train: &[(&str, &[u8])],
    test: &[(&str, &[u8])],
    class_names: Option<(&str, &[u8])>,
    budget: &Budget,
) -> Result<DataSplit, DataError> {
    let class_names = match class_names {
        Some((file, bytes)) => parse_class_names(file, bytes)?,
        None => DatasetKind::Cifar10.default_class_names(),
    };
    Ok(DataSplit {
        train: dataset_from_batches(train, class_names.clone(), budget)?,
        test: dataset_from_batches(test, class_names, budget)?,
    })
}

/// Reads the official `cifar-10-binary.tar.gz` (or the same archive uncompressed).
///
/// The archive and any gzipped member inside it draw on one decompression budget, so an
/// archive of nested gzip bombs fails as fast as a single one.
pub fn split_from_archive(file: &str, bytes: &[u8]) -> Result<DataSplit, DataError> {
    if bytes.len() as u64 > MAX_ARCHIVE_BYTES {
        return Err(DataError::invalid(
            file,
            Problem::TooLarge {
                limit: MAX_ARCHIVE_BYTES,
            },
        ));
    }
    let budget = Budget::standard();
    let tar = super::gz::maybe_gunzip_within(file, bytes, &budget)?;
    let entries = super::tar::entries(file, &tar)?;
    let files: Vec<(String, &[u8])> = entries.into_iter().map(|e| (e.path, e.data)).collect();
    split_within(file, &files, &budget)
}

/// The largest archive accepted (the official one is 163 MB).
pub const MAX_ARCHIVE_BYTES: u64 = 256 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn records(labels: &[u8]) -> Vec<u8> {
        labels
            .iter()
            .flat_map(|&l| {
                let mut r = vec![l];
                r.extend(std::iter::repeat_n(l.wrapping_mul(20), RECORD_LEN - 1));
                r
            })
            .collect()
    }

    #[test]
    fn decodes_and_rejects() {
        let (images, labels) = decode_batch("b", &records(&[0, 9, 3])).unwrap();
        assert_eq!(labels, vec![0, 9, 3]);
        assert_eq!(images.len(), 3 * 3072);
        assert_eq!(images[3072], 180);

        let short = &records(&[1, 2])[..RECORD_LEN + 5];
        assert!(matches!(
            decode_batch("b", short).unwrap_err().problem(),
            Some(Problem::BadRecordSize { .. })
        ));
        assert!(matches!(
            decode_batch("b", &records(&[1, 12])).unwrap_err().problem(),
            Some(Problem::LabelOutOfRange {
                index: 1,
                label: 12,
                ..
            })
        ));
        assert_eq!(
            decode_batch("b", &[]).unwrap_err().problem(),
            Some(&Problem::Empty)
        );
        assert!(matches!(
            parse_class_names("m", b"a\nb\n").unwrap_err().problem(),
            Some(Problem::BadClassNames(_))
        ));
    }

    #[test]
    fn archive_in_official_layout() {
        let meta = DEFAULT_CLASS_NAMES.join("\n");
        let train1 = records(&[1, 2]);
        let train2 = records(&[3]);
        let test = records(&[4, 5, 6]);
        let tar = crate::engine::data::tar::write(&[
            ("cifar-10-batches-bin/batches.meta.txt", meta.as_bytes()),
            ("cifar-10-batches-bin/data_batch_2.bin", &train2),
            ("cifar-10-batches-bin/data_batch_1.bin", &train1),
            ("cifar-10-batches-bin/test_batch.bin", &test),
        ]);
        let split = split_from_archive("a.tar", &tar).unwrap();
        assert_eq!(split.train.labels, vec![1, 2, 3]);
        assert_eq!(split.test.labels, vec![4, 5, 6]);
        assert_eq!(split.train.class_names[9], "truck");

        // Members that are themselves gzip bombs share the archive's one budget.
        let bomb = {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            // 60,000 well-formed all-zero records (184 MB) per member: each alone is fine, all
            // three together are over the one budget.
            let zeros = vec![0u8; RECORD_LEN * 1000];
            for _ in 0..60 {
                enc.write_all(&zeros).unwrap();
            }
            enc.finish().unwrap()
        };
        let nested = crate::engine::data::tar::write(&[
            ("b/data_batch_1.bin.gz", &bomb),
            ("b/data_batch_2.bin.gz", &bomb),
            ("b/test_batch.bin.gz", &bomb),
        ]);
        assert!(bomb.len() < 400_000, "{}", bomb.len());
        let err = split_from_archive("nested.tar", &nested).unwrap_err();
        assert!(matches!(err.problem(), Some(Problem::TooLarge { .. })), "{err}");

        let no_test = crate::engine::data::tar::write(&[("x/data_batch_1.bin", &train1)]);
        assert!(matches!(
            split_from_archive("a.tar", &no_test).unwrap_err().problem(),
            Some(Problem::MissingMember(_))
        ));
    }
}
