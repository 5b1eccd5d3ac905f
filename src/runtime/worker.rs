//! The web worker that hosts the engine, so training never blocks the page.
//!
//! It listens for [`ToWorker`] messages, picks the device, fetches and decodes the data (cached
//! between runs and reloads), runs the experiment, and streams [`FromWorker`] messages back.
//! Between training steps it yields to its event loop, which is how a Stop message gets in.

use crate::engine::data::{DataSplit, DatasetKind, cifar, idx};
use crate::engine::train::{Driver, Event, run_experiment};
use crate::runtime::device::{self, backend_label};
use crate::runtime::fetch;
use crate::runtime::js::{self, describe, now_ms, yield_now};
use crate::runtime::protocol::{BackendChoice, DeviceReport, FromWorker, ToWorker};
use burn::tensor::Device;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Cache key of a data archive the person dropped on the page.
pub const DROPPED_CIFAR_URL: &str = "layerlab-dropped/cifar-10-binary.tar.gz";

#[derive(Default)]
struct WorkerState {
    running: bool,
    stop: bool,
    webgpu: Option<(Device, DeviceReport)>,
    data: HashMap<DatasetKind, Rc<DataSplit>>,
}

thread_local! {
    static STATE: RefCell<WorkerState> = RefCell::new(WorkerState::default());
}

fn post(message: &FromWorker) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let _ = scope.post_message(&JsValue::from_str(&message.to_json()));
}

#[derive(Deserialize)]
struct Manifest {
    datasets: HashMap<String, ManifestSet>,
}

#[derive(Deserialize)]
struct ManifestSet {
    files: Vec<ManifestFile>,
}

#[derive(Deserialize)]
struct ManifestFile {
    name: String,
    bytes: u64,
}

/// Downloads (or reads from the cache) every file of `kind` listed in the manifest.
async fn fetch_files(kind: DatasetKind, data_url: &str) -> Result<Option<Vec<(String, Vec<u8>)>>, String> {
    let manifest_url = format!("{data_url}manifest.json");
    let manifest: Manifest = match fetch::text(&manifest_url).await {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{manifest_url} is malformed: {e}"))?,
        Err(_) => return Ok(None),
    };
    let Some(set) = manifest.datasets.get(kind.name()) else {
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
        files.push((file.name.clone(), bytes));
    }
    Ok(Some(files))
}

fn decode(kind: DatasetKind, files: &[(String, Vec<u8>)]) -> Result<DataSplit, String> {
    let find = |stem: &str| -> Result<(&str, &[u8]), String> {
        files
            .iter()
            .find(|(n, _)| n.starts_with(stem))
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .ok_or_else(|| format!("the data manifest lists no {stem} file"))
    };
    match kind {
        DatasetKind::Mnist => idx::mnist_split(
            find("train-images")?,
            find("train-labels")?,
            find("t10k-images")?,
            find("t10k-labels")?,
        )
        .map_err(|e| e.to_string()),
        DatasetKind::Cifar10 => {
            let named: Vec<(String, &[u8])> = files.iter().map(|(n, b)| (n.clone(), b.as_slice())).collect();
            if named.len() == 1 && (named[0].0.ends_with(".tar.gz") || named[0].0.ends_with(".tar")) {
                cifar::split_from_archive(&named[0].0, named[0].1).map_err(|e| e.to_string())
            } else {
                cifar::split_from_files("cifar10", &named).map_err(|e| e.to_string())
            }
        }
    }
}

/// The decoded data set: from memory, the cache, the page's origin, or a dropped archive.
async fn load_data(kind: DatasetKind, data_url: &str) -> Result<Rc<DataSplit>, String> {
    if let Some(data) = STATE.with(|s| s.borrow().data.get(&kind).cloned()) {
        return Ok(data);
    }
    let files = match fetch_files(kind, data_url).await? {
        Some(files) => files,
        None => match (kind, fetch::cached_only(DROPPED_CIFAR_URL).await) {
            (DatasetKind::Cifar10, Some(bytes)) => vec![("cifar-10-binary.tar.gz".to_string(), bytes)],
            (DatasetKind::Cifar10, None) => {
                return Err("CIFAR-10 is not hosted with this page: drop the official \
                            cifar-10-binary.tar.gz onto the page to load it"
                    .into());
            }
            (DatasetKind::Mnist, _) => {
                return Err(format!(
                    "MNIST is not hosted with this page ({data_url}manifest.json lists none)"
                ));
            }
        },
    };
    let split = Rc::new(decode(kind, &files)?);
    STATE.with(|s| s.borrow_mut().data.insert(kind, split.clone()));
    post(&FromWorker::DataReady {
        kind,
        train_examples: split.train.len(),
        test_examples: split.test.len(),
    });
    Ok(split)
}

/// Checks a dropped archive, caches it, and keeps it decoded for the next run.
async fn import_data(kind: DatasetKind, file_name: String, bytes: Vec<u8>) -> Result<(), String> {
    if kind != DatasetKind::Cifar10 {
        return Err("only CIFAR-10 archives can be dropped here".into());
    }
    let split = cifar::split_from_archive(&file_name, &bytes).map_err(|e| e.to_string())?;
    fetch::store(DROPPED_CIFAR_URL, &bytes).await?;
    post(&FromWorker::DataReady {
        kind,
        train_examples: split.train.len(),
        test_examples: split.test.len(),
    });
    STATE.with(|s| s.borrow_mut().data.insert(kind, Rc::new(split)));
    Ok(())
}

/// Forwards engine events (steps throttled to ten a second), polls the stop flag, and yields
/// to the event loop every few milliseconds.
struct WorkerDriver {
    last_step_post: f64,
    last_yield: f64,
}

impl Driver for WorkerDriver {
    fn event(&mut self, event: Event) {
        if let Event::Step {
            done_steps,
            total_steps,
            ..
        } = &event
        {
            let now = now_ms();
            if now - self.last_step_post < 100.0 && done_steps < total_steps {
                return;
            }
            self.last_step_post = now;
        }
        post(&FromWorker::Engine(event));
    }

    fn stop_requested(&mut self) -> bool {
        STATE.with(|s| s.borrow().stop)
    }

    async fn pause(&mut self) {
        let now = now_ms();
        if now - self.last_yield >= 8.0 {
            yield_now().await;
            self.last_yield = now_ms();
        }
    }

    fn loss_interval(&self) -> usize {
        20
    }
}

async fn run(config: crate::engine::ExperimentConfig, backend: BackendChoice, data_url: String) {
    let (device, report) = match backend {
        BackendChoice::Cpu => device::choose(BackendChoice::Cpu).await,
        choice => match STATE.with(|s| s.borrow().webgpu.clone()) {
            Some(known) if known.1.backend == "webgpu" || choice == BackendChoice::Auto => known,
            _ => {
                let chosen = device::choose(choice).await;
                STATE.with(|s| s.borrow_mut().webgpu = Some(chosen.clone()));
                chosen
            }
        },
    };
    post(&FromWorker::Device(report.clone()));
    let outcome = async {
        let data = load_data(config.dataset, &data_url).await?;
        if report.backend == "webgpu" {
            post(&FromWorker::Warmup);
        }
        let mut driver = WorkerDriver {
            last_step_post: 0.0,
            last_yield: now_ms(),
        };
        run_experiment(&config, &data, &device, &backend_label(&report), &mut driver)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.running = false;
        s.stop = false;
    });
    match outcome {
        Ok(result) => post(&FromWorker::Finished(Box::new(result))),
        Err(message) => post(&FromWorker::Failed {
            message,
            fatal: false,
        }),
    }
}

fn on_message(event: web_sys::MessageEvent) {
    let data = event.data();
    let (text, buffer) = if let Some(text) = data.as_string() {
        (text, None)
    } else {
        (
            js::get_string(&data, "json").unwrap_or_default(),
            Some(js::get(&data, "buffer")),
        )
    };
    let message: ToWorker = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => {
            post(&FromWorker::Failed {
                message: format!("the worker got a malformed message: {e}"),
                fatal: false,
            });
            return;
        }
    };
    match message {
        ToWorker::Stop => {
            let was_running = STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.stop = s.running;
                s.running
            });
            if was_running {
                post(&FromWorker::Stopping);
            }
        }
        ToWorker::Run {
            config,
            backend,
            data_url,
        } => {
            let busy = STATE.with(|s| {
                let mut s = s.borrow_mut();
                let busy = s.running;
                if !busy {
                    s.running = true;
                    s.stop = false;
                }
                busy
            });
            if busy {
                post(&FromWorker::Failed {
                    message: "a run is already in progress".into(),
                    fatal: false,
                });
                return;
            }
            wasm_bindgen_futures::spawn_local(run(config, backend, data_url));
        }
        ToWorker::ImportData { kind, file_name } => {
            let bytes = buffer
                .filter(|b| !b.is_undefined())
                .map(|b| js_sys::Uint8Array::new(&b).to_vec())
                .unwrap_or_default();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(message) = import_data(kind, file_name, bytes).await {
                    post(&FromWorker::Failed {
                        message,
                        fatal: false,
                    });
                }
            });
        }
    }
}

/// Entry point of the worker binary.
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        post(&FromWorker::Failed {
            message: format!("internal error in the engine: {info}"),
            fatal: true,
        });
    }));
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let handler = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(on_message);
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    post(&FromWorker::Ready);
    let _ = describe;
}
