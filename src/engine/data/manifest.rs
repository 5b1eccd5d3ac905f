//! The data manifest: which files of which data set the page hosts (`data/manifest.json`), with
//! each file's size and role. Written at build time by `layerlab-manifest` (src/bin), read by the
//! worker; both use these types, so neither side guesses at the other's spelling.

use crate::engine::data::DatasetKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileRole {
    /// MNIST IDX files (gzipped or not).
    TrainImages,
    TrainLabels,
    TestImages,
    TestLabels,
    /// A CIFAR-10 binary batch of training or test records.
    TrainBatch,
    TestBatch,
    /// CIFAR-10's `batches.meta.txt`.
    ClassNames,
    /// The whole official archive (`cifar-10-binary.tar.gz`).
    Archive,
}

impl FileRole {
    /// The role as the manifest spells it.
    pub fn name(self) -> &'static str {
        match self {
            FileRole::TrainImages => "train-images",
            FileRole::TrainLabels => "train-labels",
            FileRole::TestImages => "test-images",
            FileRole::TestLabels => "test-labels",
            FileRole::TrainBatch => "train-batch",
            FileRole::TestBatch => "test-batch",
            FileRole::ClassNames => "class-names",
            FileRole::Archive => "archive",
        }
    }

    /// The role of a file by its name in the official distributions, if it has one.
    pub fn of_file_name(kind: DatasetKind, name: &str) -> Option<Self> {
        let stem = name.strip_suffix(".gz").unwrap_or(name);
        match kind {
            DatasetKind::Mnist => match stem {
                "train-images-idx3-ubyte" => Some(FileRole::TrainImages),
                "train-labels-idx1-ubyte" => Some(FileRole::TrainLabels),
                "t10k-images-idx3-ubyte" => Some(FileRole::TestImages),
                "t10k-labels-idx1-ubyte" => Some(FileRole::TestLabels),
                _ => None,
            },
            DatasetKind::Cifar10 => {
                if stem == "batches.meta.txt" {
                    Some(FileRole::ClassNames)
                } else if stem == "test_batch.bin" {
                    Some(FileRole::TestBatch)
                } else if stem.starts_with("data_batch_") && stem.ends_with(".bin") {
                    Some(FileRole::TrainBatch)
                } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".tar") {
                    Some(FileRole::Archive)
                } else {
                    None
                }
            }
        }
    }
}

/// One hosted file, relative to its data set's folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    pub name: String,
    pub bytes: u64,
    pub role: FileRole,
}

/// One data set's files.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSet {
    pub files: Vec<ManifestFile>,
}

impl ManifestSet {
    /// The first file with `role`.
    pub fn file(&self, role: FileRole) -> Option<&ManifestFile> {
        self.files.iter().find(|f| f.role == role)
    }
}

/// `data/manifest.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub datasets: BTreeMap<DatasetKind, ManifestSet>,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest always serialises")
    }

    /// Reads a manifest; a malformed one is an error in words.
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// The manifest of the data under `root` (`root/mnist/…`, `root/cifar10/…`): every file
    /// whose name has a role, in name order.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn of_folder(root: &std::path::Path) -> std::io::Result<Self> {
        let mut manifest = Manifest::default();
        for kind in [DatasetKind::Mnist, DatasetKind::Cifar10] {
            let dir = root.join(kind.name());
            if !dir.is_dir() {
                continue;
            }
            let mut files = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(role) = FileRole::of_file_name(kind, &name) {
                    files.push(ManifestFile {
                        name,
                        bytes: entry.metadata()?.len(),
                        role,
                    });
                }
            }
            files.sort_by(|a, b| a.name.cmp(&b.name));
            if !files.is_empty() {
                manifest.datasets.insert(kind, ManifestSet { files });
            }
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_folder_round_trips_with_roles() {
        let root = std::env::temp_dir().join(format!("layerlab-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("mnist")).unwrap();
        std::fs::create_dir_all(root.join("cifar10")).unwrap();
        for (dir, name, len) in [
            ("mnist", "t10k-images-idx3-ubyte.gz", 7),
            ("mnist", "train-labels-idx1-ubyte.gz", 3),
            ("mnist", "README", 1),
            ("cifar10", "data_batch_1.bin.gz", 5),
            ("cifar10", "test_batch.bin", 4),
            ("cifar10", "batches.meta.txt", 2),
        ] {
            std::fs::write(root.join(dir).join(name), vec![0u8; len]).unwrap();
        }
        let manifest = Manifest::of_folder(&root).unwrap();
        let mnist = &manifest.datasets[&DatasetKind::Mnist];
        assert_eq!(mnist.files.len(), 2, "README has no role");
        assert_eq!(mnist.file(FileRole::TestImages).unwrap().bytes, 7);
        let cifar = &manifest.datasets[&DatasetKind::Cifar10];
        assert_eq!(
            cifar.file(FileRole::TrainBatch).unwrap().name,
            "data_batch_1.bin.gz"
        );
        assert_eq!(cifar.file(FileRole::ClassNames).unwrap().bytes, 2);
        assert_eq!(Manifest::from_json(&manifest.to_json()).unwrap(), manifest);
        let json = manifest.to_json();
        assert!(json.contains(r#""role": "class-names""#), "{json}");
        assert!(Manifest::from_json(r#"{"datasets":{"mnist":{"files":[{"name":"x","bytes":1}]}}}"#).is_err());
        let _ = std::fs::remove_dir_all(&root);
    }
}
