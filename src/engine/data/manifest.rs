//! The data manifest: which files of which data set the page hosts (`data/manifest.json`), with
//! each file's size, role and example count. Written at build time by `layerlab-stage`
//! (src/bin), read by the worker; both use these types, so neither side guesses at the other's
//! spelling. The data sets are hosted in chunks, each a valid file of its format, so a run
//! downloads only the examples it uses.

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
}

/// One hosted file, relative to its data set's folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    pub name: String,
    pub bytes: u64,
    pub role: FileRole,
    /// Examples in the file, for a chunk of images, labels or records: a run that needs the
    /// first `n` examples fetches only the chunks that hold them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<usize>,
}

/// One data set's files; chunks of one role are listed in data order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSet {
    pub files: Vec<ManifestFile>,
}

impl ManifestSet {
    /// The files of `role` that hold the first `need` examples (all of them when `need` is
    /// `None`, or when a file does not say how many it holds).
    pub fn files_for(&self, role: FileRole, need: Option<usize>) -> Vec<&ManifestFile> {
        let mut picked = Vec::new();
        let mut held = 0usize;
        for file in self.files.iter().filter(|f| f.role == role) {
            if let (Some(need), Some(_)) = (need, file.examples)
                && held >= need
            {
                break;
            }
            held = held.saturating_add(file.examples.unwrap_or(usize::MAX));
            picked.push(file);
        }
        picked
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(name: &str, role: FileRole, examples: usize) -> ManifestFile {
        ManifestFile {
            name: name.into(),
            bytes: 10,
            role,
            examples: Some(examples),
        }
    }

    #[test]
    fn a_run_fetches_only_the_chunks_it_needs() {
        let set = ManifestSet {
            files: vec![
                chunk("train.00", FileRole::TrainImages, 5000),
                chunk("test.00", FileRole::TestImages, 5000),
                chunk("train.01", FileRole::TrainImages, 5000),
                chunk("train.02", FileRole::TrainImages, 5000),
                chunk("test.01", FileRole::TestImages, 5000),
            ],
        };
        let names = |files: Vec<&ManifestFile>| files.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(set.files_for(FileRole::TrainImages, Some(10_000))),
            ["train.00", "train.01"]
        );
        assert_eq!(names(set.files_for(FileRole::TrainImages, Some(10_001))).len(), 3);
        assert_eq!(names(set.files_for(FileRole::TestImages, Some(1))), ["test.00"]);
        assert_eq!(names(set.files_for(FileRole::TestImages, None)).len(), 2);
        assert_eq!(
            names(set.files_for(FileRole::TrainImages, Some(1_000_000))).len(),
            3
        );
        let whole = ManifestSet {
            files: vec![ManifestFile {
                examples: None,
                ..chunk("all", FileRole::TrainImages, 0)
            }],
        };
        assert_eq!(whole.files_for(FileRole::TrainImages, Some(5)).len(), 1);
    }

    #[test]
    fn manifests_round_trip_and_refuse_strangers() {
        let mut manifest = Manifest::default();
        manifest.datasets.insert(
            DatasetKind::Mnist,
            ManifestSet {
                files: vec![chunk("t", FileRole::TestLabels, 3)],
            },
        );
        let json = manifest.to_json();
        assert!(json.contains(r#""role": "test-labels""#), "{json}");
        assert_eq!(Manifest::from_json(&json).unwrap(), manifest);
        assert!(Manifest::from_json(r#"{"datasets":{"mnist":{"files":[{"name":"x","bytes":1}]}}}"#).is_err());
        assert!(Manifest::from_json(r#"{"datasets":{"svhn":{"files":[]}}}"#).is_err());
    }
}
