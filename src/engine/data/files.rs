//! Finding data files on disk (CLI and tests). The page feeds the same decoders with bytes it
//! fetched or the user dropped.

use super::{DataError, DataSplit, DatasetKind, cifar, idx};
use std::path::{Path, PathBuf};

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::Io {
        file: path.display().to_string(),
        message: e.to_string(),
    })
}

/// The first existing file among `names` (each tried raw and gzipped) in `dir`.
fn find(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names
        .iter()
        .flat_map(|n| [n.to_string(), format!("{n}.gz")])
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// MNIST's four IDX files, under their official names (or the `.idx3-ubyte` spelling), raw or
/// gzipped, in `dir`.
pub fn load_mnist(dir: &Path) -> Result<DataSplit, DataError> {
    let locate = |stem: &str, ext: &str| -> Result<PathBuf, DataError> {
        let official = format!("{stem}-{ext}");
        let dotted = format!("{stem}.{ext}");
        find(dir, &[&official, &dotted]).ok_or_else(|| DataError::Missing {
            dir: dir.display().to_string(),
            what: format!("MNIST file {official}"),
            looked_for: format!("{official}, {official}.gz, {dotted}, {dotted}.gz"),
        })
    };
    let paths = [
        locate("train-images", "idx3-ubyte")?,
        locate("train-labels", "idx1-ubyte")?,
        locate("t10k-images", "idx3-ubyte")?,
        locate("t10k-labels", "idx1-ubyte")?,
    ];
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let bytes = paths.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
    idx::mnist_split(
        (&names[0], &bytes[0]),
        (&names[1], &bytes[1]),
        (&names[2], &bytes[2]),
        (&names[3], &bytes[3]),
    )
}

/// CIFAR-10 from the official archive (a file, or `cifar-10-binary.tar.gz` inside `path`), or
/// from a folder of batch files (`path` or its `cifar-10-batches-bin/`), raw or gzipped.
pub fn load_cifar10(path: &Path) -> Result<DataSplit, DataError> {
    if path.is_file() {
        let name = path.display().to_string();
        return cifar::split_from_archive(&name, &read(path)?);
    }
    let nested = path.join("cifar-10-batches-bin");
    let dir = if nested.is_dir() {
        nested
    } else {
        path.to_path_buf()
    };
    let listing = std::fs::read_dir(&dir).map_err(|e| DataError::Io {
        file: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut files = Vec::new();
    for entry in listing.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if cifar::is_train_batch(&name) || cifar::is_test_batch(&name) || name == "batches.meta.txt" {
            files.push((entry.path().display().to_string(), read(&entry.path())?));
        }
    }
    if files
        .iter()
        .any(|(p, _)| p.ends_with(".bin") || p.ends_with(".bin.gz"))
    {
        let borrowed: Vec<(String, &[u8])> = files.iter().map(|(p, b)| (p.clone(), b.as_slice())).collect();
        return cifar::split_from_files(&dir.display().to_string(), &borrowed);
    }
    for archive in ["cifar-10-binary.tar.gz", "cifar-10-binary.tar"] {
        let candidate = path.join(archive);
        if candidate.is_file() {
            return cifar::split_from_archive(&candidate.display().to_string(), &read(&candidate)?);
        }
    }
    Err(DataError::Missing {
        dir: path.display().to_string(),
        what: "CIFAR-10 data".into(),
        looked_for:
            "data_batch_*.bin[.gz] and test_batch.bin[.gz], cifar-10-batches-bin/, cifar-10-binary.tar.gz"
                .into(),
    })
}

/// Loads the split of `kind` from `path`.
pub fn load(kind: DatasetKind, path: &Path) -> Result<DataSplit, DataError> {
    match kind {
        DatasetKind::Mnist => load_mnist(path),
        DatasetKind::Cifar10 => load_cifar10(path),
    }
}
