//! The worker's data sets: from memory, the Cache API, the page's own origin (the files
//! `data/manifest.json` lists), or a CIFAR-10 archive the person dropped on the page. Decoded
//! once per worker and kept.

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

thread_local! {
    static DECODED: RefCell<HashMap<DatasetKind, Rc<DataSplit>>> = RefCell::new(HashMap::new());
}

fn data_error(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Data(e.to_string())
}

/// Downloads (or reads from the cache) every file of `kind` listed in the manifest; `None` when
/// the page hosts no such data set.
async fn fetch_files(
    kind: DatasetKind,
    data_url: &str,
) -> Result<Option<Vec<(ManifestFile, Vec<u8>)>>, RuntimeError> {
    let manifest_url = format!("{data_url}manifest.json");
    let manifest = match fetch::text(&manifest_url).await {
        Ok(text) => Manifest::from_json(&text)
            .map_err(|e| RuntimeError::Data(format!("{manifest_url} is malformed: {e}")))?,
        Err(_) => return Ok(None),
    };
    let Some(set) = manifest.datasets.get(&kind) else {
        return Ok(None);
    };
    let total: u64 = set.files.iter().map(|f| f.bytes).sum();
    let mut done = 0u64;
    let mut files = Vec::new();
    for file in &set.files {
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
    Ok(Some(files))
}

/// Decodes the files by their roles.
fn decode(kind: DatasetKind, files: &[(ManifestFile, Vec<u8>)]) -> Result<DataSplit, RuntimeError> {
    let find = |role: FileRole| -> Result<(&str, &[u8]), RuntimeError> {
        files
            .iter()
            .find(|(f, _)| f.role == role)
            .map(|(f, b)| (f.name.as_str(), b.as_slice()))
            .ok_or_else(|| RuntimeError::Data(format!("the data manifest lists no {} file", role.name())))
    };
    match kind {
        DatasetKind::Mnist => idx::mnist_split(
            find(FileRole::TrainImages)?,
            find(FileRole::TrainLabels)?,
            find(FileRole::TestImages)?,
            find(FileRole::TestLabels)?,
        )
        .map_err(data_error),
        DatasetKind::Cifar10 => match find(FileRole::Archive) {
            Ok((name, bytes)) => cifar::split_from_archive(name, bytes).map_err(data_error),
            Err(_) => {
                let named: Vec<(String, &[u8])> = files
                    .iter()
                    .map(|(f, b)| (f.name.clone(), b.as_slice()))
                    .collect();
                cifar::split_from_files("cifar10", &named).map_err(data_error)
            }
        },
    }
}

fn keep(kind: DatasetKind, split: DataSplit) -> Rc<DataSplit> {
    let split = Rc::new(split);
    DECODED.with(|d| d.borrow_mut().insert(kind, split.clone()));
    post(&FromWorker::DataReady {
        kind,
        train_examples: split.train.len(),
        test_examples: split.test.len(),
    });
    split
}

/// The decoded data set `kind`.
pub async fn load(kind: DatasetKind, data_url: &str) -> Result<Rc<DataSplit>, RuntimeError> {
    if let Some(data) = DECODED.with(|d| d.borrow().get(&kind).cloned()) {
        return Ok(data);
    }
    let files = match fetch_files(kind, data_url).await? {
        Some(files) => files,
        None => match (kind, fetch::cached_only(DROPPED_CIFAR_URL).await) {
            (DatasetKind::Cifar10, Some(bytes)) => {
                let archive = ManifestFile {
                    name: "cifar-10-binary.tar.gz".into(),
                    bytes: bytes.len() as u64,
                    role: FileRole::Archive,
                };
                vec![(archive, bytes)]
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
                    "MNIST is not hosted with this page ({data_url}manifest.json lists none)"
                )));
            }
        },
    };
    Ok(keep(kind, decode(kind, &files)?))
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
    keep(kind, split);
    Ok(())
}
