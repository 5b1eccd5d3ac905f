//! Step 1 of the staging: the data sets in chunks, each a valid file of its format, cached
//! between builds.

use crate::assets::content_hash;
use layerlab::engine::data::manifest::{FileRole, ManifestFile, ManifestSet};
use layerlab::engine::data::{DatasetKind, cifar, idx};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Examples per MNIST chunk (the quick preset's 20k/5k are four and one chunks).
const MNIST_CHUNK: usize = 5000;
/// Records per CIFAR-10 chunk (2.9 MB gzipped).
const CIFAR_CHUNK: usize = 1000;
pub(crate) const MNIST_FILES: [(&str, FileRole); 4] = [
    ("train-images-idx3-ubyte", FileRole::TrainImages),
    ("train-labels-idx1-ubyte", FileRole::TrainLabels),
    ("t10k-images-idx3-ubyte", FileRole::TestImages),
    ("t10k-labels-idx1-ubyte", FileRole::TestLabels),
];

pub(crate) fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    // No file name or time in the header: the same input gives the same bytes, so hashes and
    // caches stay stable from build to build.
    let mut encoder = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// Sizes and times of the sources: a cache made from other sources is made again.
fn stamp(sources: &[PathBuf]) -> io::Result<String> {
    let mut out = format!("chunks v2 {MNIST_CHUNK} {CIFAR_CHUNK}\n");
    for path in sources {
        let meta = fs::metadata(path)?;
        let modified = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        out.push_str(&format!("{} {} {modified}\n", path.display(), meta.len()));
    }
    Ok(out)
}

/// A data set's chunk files (name, bytes) and their manifest entries.
pub(crate) struct Staged {
    files: Vec<(String, Vec<u8>)>,
    set: ManifestSet,
}

impl Staged {
    /// Adds a file the page fetches: `stem` + a hash of `bytes` + `extension`.
    fn add(
        &mut self,
        stem: String,
        extension: &str,
        bytes: Vec<u8>,
        role: FileRole,
        examples: Option<usize>,
    ) {
        let name = format!("{stem}-{}{extension}", content_hash(&[&bytes]));
        self.set.files.push(ManifestFile {
            name: name.clone(),
            bytes: bytes.len() as u64,
            role,
            examples,
        });
        self.files.push((name, bytes));
    }
}

pub(crate) fn mnist_chunks(dir: &Path) -> io::Result<Staged> {
    let mut staged = Staged {
        files: Vec::new(),
        set: ManifestSet::default(),
    };
    let mut downloads = Vec::new();
    for (stem, role) in MNIST_FILES {
        let path = dir.join(stem);
        let raw = fs::read(&path)?;
        let name = path.display().to_string();
        let is_images = matches!(role, FileRole::TrainImages | FileRole::TestImages);
        let (values, dims, per_example): (Vec<u8>, &[u32], usize) = if is_images {
            let pixels = idx::decode_images(&name, &raw, 28, 28).map_err(|e| invalid(e.to_string()))?;
            (pixels, &[28, 28], 784)
        } else {
            let labels = idx::decode_labels(&name, &raw, 10).map_err(|e| invalid(e.to_string()))?;
            (labels, &[], 1)
        };
        for (i, chunk) in values.chunks(MNIST_CHUNK * per_example).enumerate() {
            let count = chunk.len() / per_example;
            let shape: Vec<u32> = std::iter::once(count as u32)
                .chain(dims.iter().copied())
                .collect();
            let file = gzip(&idx::encode(&shape, chunk))?;
            staged.add(format!("{stem}.{i:02}"), ".gz", file, role, Some(count));
        }
        downloads.push((format!("{stem}.gz"), gzip(&raw)?));
    }
    // The official files, for download; not in the manifest (runs fetch the chunks).
    staged.files.extend(downloads);
    Ok(staged)
}

pub(crate) fn cifar_chunks(dir: &Path) -> io::Result<Staged> {
    let mut staged = Staged {
        files: Vec::new(),
        set: ManifestSet::default(),
    };
    let mut names: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(cifar::is_train_batch)
        })
        .collect();
    names.sort();
    let test = ["test_batch.bin.gz", "test_batch.bin"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .ok_or_else(|| invalid(format!("{}: no test_batch.bin", dir.display())))?;
    for (paths, prefix, role) in [
        (names, "data_batch", FileRole::TrainBatch),
        (vec![test], "test_batch", FileRole::TestBatch),
    ] {
        let mut records = Vec::new();
        for path in &paths {
            let (images, labels) = cifar::decode_batch(&path.display().to_string(), &fs::read(path)?)
                .map_err(|e| invalid(e.to_string()))?;
            for (label, image) in labels.iter().zip(images.chunks_exact(cifar::RECORD_LEN - 1)) {
                records.push(*label);
                records.extend_from_slice(image);
            }
        }
        for (i, chunk) in records.chunks(CIFAR_CHUNK * cifar::RECORD_LEN).enumerate() {
            let count = chunk.len() / cifar::RECORD_LEN;
            staged.add(
                format!("{prefix}.{i:02}"),
                ".bin.gz",
                gzip(chunk)?,
                role,
                Some(count),
            );
        }
    }
    let meta = dir.join("batches.meta.txt");
    if meta.exists() {
        staged.add(
            "batches.meta".into(),
            ".txt",
            fs::read(meta)?,
            FileRole::ClassNames,
            None,
        );
    }
    Ok(staged)
}

/// Stages one data set into `dest`, from the cache when its sources are unchanged.
pub(crate) fn stage_set(
    kind: DatasetKind,
    sources: Vec<PathBuf>,
    make: impl FnOnce() -> io::Result<Staged>,
    cache: &Path,
    dest: &Path,
) -> io::Result<ManifestSet> {
    let cached = cache.join(format!("chunks-{}", kind.name()));
    let stamp_now = stamp(&sources)?;
    let set_file = cached.join("set.json");
    let fresh = fs::read_to_string(cached.join("stamp")).ok().as_deref() == Some(stamp_now.as_str());
    if !fresh || !set_file.exists() {
        let staged = make()?;
        let _ = fs::remove_dir_all(&cached);
        fs::create_dir_all(&cached)?;
        for (name, bytes) in &staged.files {
            fs::write(cached.join(name), bytes)?;
        }
        fs::write(
            &set_file,
            serde_json::to_string(&staged.set).map_err(io::Error::other)?,
        )?;
        fs::write(cached.join("stamp"), &stamp_now)?;
    }
    let set: ManifestSet =
        serde_json::from_str(&fs::read_to_string(&set_file)?).map_err(|e| invalid(e.to_string()))?;
    let out = dest.join(kind.name());
    fs::create_dir_all(&out)?;
    for entry in fs::read_dir(&cached)? {
        let entry = entry?;
        let name = entry.file_name();
        if name != "stamp" && name != "set.json" {
            fs::copy(entry.path(), out.join(name))?;
        }
    }
    Ok(set)
}
