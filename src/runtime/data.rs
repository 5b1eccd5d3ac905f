//! The worker's data sets: from memory, the Cache API, the page's own origin (the chunks
//! the data manifest lists: only those holding the examples a run uses), or a CIFAR-10
//! archive the person dropped on the page. Decoded once per worker and kept; a later run that
//! needs more examples fetches the rest.

use crate::engine::ExperimentConfig;
use crate::engine::data::manifest::{FileRole, Manifest, ManifestFile};
use crate::engine::data::{DataSplit, DatasetKind, cifar, idx};
use crate::runtime::bridge::post;
use crate::runtime::error::RuntimeError;
use crate::runtime::fetch;
use crate::runtime::protocol::FromWorker;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Cache key of a data archive the person dropped on the page.
pub const DROPPED_CIFAR_URL: &str = "layerlab-dropped/cifar-10-binary.tar.gz";

/// How many examples of each half a run uses (`None`: all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    pub train: Option<usize>,
    pub test: Option<usize>,
}

impl Need {
    pub fn of(config: &ExperimentConfig) -> Self {
        Self {
            train: config.train_limit,
            test: config.test_limit,
        }
    }
}

/// A decoded data set and what it holds: everything, or the first examples of each half.
struct Decoded {
    split: Rc<DataSplit>,
    complete: bool,
}

impl Decoded {
    fn covers(&self, need: Need) -> bool {
        let enough = |have: usize, need: Option<usize>| need.is_some_and(|n| n <= have);
        self.complete
            || (enough(self.split.train.len(), need.train) && enough(self.split.test.len(), need.test))
    }
}

thread_local! {
    static DECODED: RefCell<HashMap<DatasetKind, Decoded>> = RefCell::new(HashMap::new());
}

fn data_error(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Data(e.to_string())
}

/// The hosted files of `kind` that a run with `need` uses, downloaded (or read from the cache),
/// and whether they are the whole data set; `None` when the page hosts no such data set.
async fn fetch_files(
    kind: DatasetKind,
    manifest_url: &str,
    need: Need,
) -> Result<Option<(Vec<(ManifestFile, Vec<u8>)>, bool)>, RuntimeError> {
    // The files sit beside the manifest.
    let data_url = &manifest_url[..manifest_url.rfind('/').map_or(0, |at| at + 1)];
    let manifest = match fetch::fresh_text(manifest_url).await {
        Ok(text) => Manifest::from_json(&text)
            .map_err(|e| RuntimeError::Data(format!("{manifest_url} is malformed: {e}")))?,
        Err(_) => return Ok(None),
    };
    let Some(set) = manifest.datasets.get(&kind) else {
        return Ok(None);
    };
    let (train, test): (&[FileRole], &[FileRole]) = match kind {
        DatasetKind::Mnist => (
            &[FileRole::TrainImages, FileRole::TrainLabels],
            &[FileRole::TestImages, FileRole::TestLabels],
        ),
        DatasetKind::Cifar10 => (&[FileRole::TrainBatch], &[FileRole::TestBatch]),
    };
    let mut wanted: Vec<&ManifestFile> = Vec::new();
    for (roles, need) in [(train, need.train), (test, need.test)] {
        for &role in roles {
            wanted.extend(set.files_for(role, need));
        }
    }
    wanted.extend(set.files_for(FileRole::ClassNames, None));
    wanted.extend(set.files_for(FileRole::Archive, None));
    let complete = wanted.len() == set.files.len();
    let total: u64 = wanted.iter().map(|f| f.bytes).sum();
    let mut done = 0u64;
    let mut files = Vec::new();
    for file in wanted {
        let url = format!("{data_url}{}/{}", kind.name(), file.name);
        let base = done;
        let bytes = fetch::cached_bytes(&url, file.bytes, &mut |loaded, _, from_cache| {
            post(&FromWorker::Data {
                kind,
                loaded_bytes: base + loaded,
                total_bytes: total,
                from_cache,
            });
        })
        .await?;
        done += file.bytes;
        files.push((file.clone(), bytes));
    }
    Ok(Some((files, complete)))
}

/// Decodes the files by their roles, chunks of one role concatenated in manifest order.
fn decode(kind: DatasetKind, files: &[(ManifestFile, Vec<u8>)]) -> Result<DataSplit, RuntimeError> {
    let all = |role: FileRole| -> Vec<(&str, &[u8])> {
        files
            .iter()
            .filter(|(f, _)| f.role == role)
            .map(|(f, b)| (f.name.as_str(), b.as_slice()))
            .collect()
    };
    let some = |role: FileRole| -> Result<Vec<(&str, &[u8])>, RuntimeError> {
        let found = all(role);
        if found.is_empty() {
            return Err(RuntimeError::Data(format!(
                "the data manifest lists no {} file",
                role.name()
            )));
        }
        Ok(found)
    };
    match kind {
        DatasetKind::Mnist => idx::mnist_split_chunks(
            &some(FileRole::TrainImages)?,
            &some(FileRole::TrainLabels)?,
            &some(FileRole::TestImages)?,
            &some(FileRole::TestLabels)?,
        )
        .map_err(data_error),
        DatasetKind::Cifar10 => match all(FileRole::Archive).first() {
            Some((name, bytes)) => cifar::split_from_archive(name, bytes).map_err(data_error),
            None => cifar::split_from_chunks(
                &some(FileRole::TrainBatch)?,
                &some(FileRole::TestBatch)?,
                all(FileRole::ClassNames).first().copied(),
            )
            .map_err(data_error),
        },
    }
}

fn keep(kind: DatasetKind, split: DataSplit, complete: bool) -> Rc<DataSplit> {
    let split = Rc::new(split);
    let decoded = Decoded {
        split: split.clone(),
        complete,
    };
    DECODED.with(|d| d.borrow_mut().insert(kind, decoded));
    post(&FromWorker::DataReady {
        kind,
        train_examples: split.train.len(),
        test_examples: split.test.len(),
    });
    split
}

/// The decoded data set `kind`, holding at least what `need` asks for.
pub async fn load(kind: DatasetKind, manifest_url: &str, need: Need) -> Result<Rc<DataSplit>, RuntimeError> {
    let known = DECODED.with(|d| {
        d.borrow()
            .get(&kind)
            .filter(|d| d.covers(need))
            .map(|d| d.split.clone())
    });
    if let Some(data) = known {
        return Ok(data);
    }
    let (files, complete) = match fetch_files(kind, manifest_url, need).await? {
        Some(found) => found,
        None => match (kind, fetch::cached_only(DROPPED_CIFAR_URL).await) {
            (DatasetKind::Cifar10, Some(bytes)) => {
                let archive = ManifestFile {
                    name: "cifar-10-binary.tar.gz".into(),
                    bytes: bytes.len() as u64,
                    role: FileRole::Archive,
                    examples: None,
                };
                (vec![(archive, bytes)], true)
            }
            (DatasetKind::Cifar10, None) => {
                return Err(RuntimeError::Data(
                    "CIFAR-10 is not hosted with this page: drop the official \
                     cifar-10-binary.tar.gz onto the page to load it"
                        .into(),
                ));
            }
            (DatasetKind::Mnist, _) => {
                return Err(RuntimeError::Data(format!(
                    "MNIST is not hosted with this page ({manifest_url} lists none)"
                )));
            }
        },
    };
    Ok(keep(kind, decode(kind, &files)?, complete))
}

/// Checks a dropped archive, caches it, and keeps it decoded for the next run.
pub async fn import(kind: DatasetKind, file_name: String, bytes: Vec<u8>) -> Result<(), RuntimeError> {
    if kind != DatasetKind::Cifar10 {
        return Err(RuntimeError::Data(
            "only CIFAR-10 archives can be dropped here".into(),
        ));
    }
    let split = cifar::split_from_archive(&file_name, &bytes).map_err(data_error)?;
    fetch::store(DROPPED_CIFAR_URL, &bytes).await?;
    keep(kind, split, true);
    Ok(())
}
