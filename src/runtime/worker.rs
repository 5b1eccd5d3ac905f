//! The web worker that hosts the engine, so training never blocks the page.
//!
//! It listens for [`ToWorker`] messages, picks the device, fetches and decodes the data (cached
//! between runs and reloads), runs the experiment, and streams [`FromWorker`] messages back.
//! Between training steps it yields to its event loop, which is how a Stop message gets in.

use crate::engine::data::{DataSplit, DatasetKind, cifar, idx};
use crate::engine::metrics::{self, Evaluation};
use crate::engine::models::Model;
use crate::engine::train::{Driver, Event, Persist, StoredRun, resume_experiment, run_experiment};
use crate::engine::units::Weights;
use crate::runtime::device::{self, backend_label};
use crate::runtime::fetch;
use crate::runtime::journal;
use crate::runtime::js::{self, describe, now_ms, yield_now};
use crate::runtime::protocol::{BackendChoice, DeviceReport, FromWorker, JournalHeader, ToWorker};
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

/// Forwards engine events (steps throttled to ten a second), polls the stop flag, yields to
/// the event loop every few milliseconds, and keeps the run journal.
struct WorkerDriver {
    last_step_post: f64,
    last_yield: f64,
    journal: JournalHeader,
    /// The journal failed once (told to the page); later writes are not tried.
    journal_failed: bool,
}

impl WorkerDriver {
    fn new(journal: JournalHeader) -> Self {
        Self {
            last_step_post: 0.0,
            last_yield: now_ms(),
            journal,
            journal_failed: false,
        }
    }

    async fn keep(&mut self, point: Persist<'_>) -> Result<(), String> {
        match point {
            Persist::Checkpoint {
                epoch,
                weights,
                summary,
            } => {
                journal::put_floats(&journal::checkpoint_key(epoch), &host_values(weights).await?).await?;
                journal::put_json("summary", summary).await?;
                self.journal.checkpoints.push(epoch);
            }
            Persist::Trained { weights, summary } => {
                journal::put_floats("trained", &host_values(weights).await?).await?;
                journal::put_json("summary", summary).await?;
                self.journal.training_ended = true;
            }
            Persist::Cell { index, evaluation } => {
                // One small record per cell: the sweep runs in plan order, so the stored cells
                // are always the first `cells_done` of the plan.
                journal::put_json(&journal::cell_key(index), evaluation).await?;
                self.journal.cells_done = index + 1;
            }
        }
        journal::put_header(&self.journal).await
    }
}

/// Every tensor's values, concatenated in layout order.
async fn host_values(weights: &Weights) -> Result<Vec<f32>, String> {
    let mut all = Vec::new();
    for tensor in weights {
        all.extend(metrics::read_floats(tensor.clone()).await?);
    }
    Ok(all)
}

impl Driver for WorkerDriver {
    fn event(&mut self, event: Event) {
        if let Event::SweepStarted { cells } = &event {
            self.journal.cells_total = *cells;
        }
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
        // Taken, not read: one Stop click ends one phase (training, then the sweep).
        STATE.with(|s| std::mem::take(&mut s.borrow_mut().stop))
    }

    async fn pause(&mut self) {
        let now = now_ms();
        if now - self.last_yield >= 8.0 {
            yield_now().await;
            self.last_yield = now_ms();
        }
    }

    async fn persist(&mut self, point: Persist<'_>) {
        if self.journal_failed {
            return;
        }
        if let Err(e) = self.keep(point).await {
            self.journal_failed = true;
            post(&FromWorker::JournalFailed(e));
        }
    }
}

/// The device for `backend`, initialising WebGPU at most once per worker.
async fn device_for(backend: BackendChoice) -> (Device, DeviceReport) {
    match backend {
        BackendChoice::Cpu => device::choose(BackendChoice::Cpu).await,
        choice => match STATE.with(|s| s.borrow().webgpu.clone()) {
            Some(known) if known.1.backend == "webgpu" || choice == BackendChoice::Auto => known,
            _ => {
                let chosen = device::choose(choice).await;
                STATE.with(|s| s.borrow_mut().webgpu = Some(chosen.clone()));
                chosen
            }
        },
    }
}

/// What a run is: a fresh one, or the one the journal holds.
enum Job {
    Fresh(crate::engine::ExperimentConfig),
    Resume,
}

/// The journal's run, as the engine takes it back.
async fn stored_run(header: &JournalHeader, classes: usize) -> Result<StoredRun, String> {
    let model = Model::new(
        header.config.architecture(),
        header.config.dataset.image_shape(),
        classes,
    );
    let split = |values: Vec<f32>| -> Result<Vec<Vec<f32>>, String> {
        let lengths: Vec<usize> = model.tensors.iter().map(|t| t.len()).collect();
        if values.len() != lengths.iter().sum::<usize>() {
            return Err("the stored weights do not fit the model".into());
        }
        let mut at = 0;
        Ok(lengths
            .into_iter()
            .map(|n| {
                at += n;
                values[at - n..at].to_vec()
            })
            .collect())
    };
    let mut checkpoints = Vec::new();
    for &epoch in &header.checkpoints {
        let values = journal::get_floats(&journal::checkpoint_key(epoch))
            .await?
            .ok_or_else(|| format!("checkpoint {epoch} is missing from the stored run"))?;
        checkpoints.push((epoch, split(values)?));
    }
    let trained = if header.training_ended {
        let values = journal::get_floats("trained")
            .await?
            .ok_or("the trained weights are missing from the stored run")?;
        Some(split(values)?)
    } else {
        None
    };
    Ok(StoredRun {
        checkpoints,
        trained,
        summary: journal::get_json("summary")
            .await?
            .ok_or("the stored run has no training summary")?,
        cells: {
            // A damaged count stops at the first missing cell (no allocation up front).
            let mut cells: Vec<(usize, Evaluation)> = Vec::new();
            for index in 0..header.cells_done {
                let evaluation = journal::get_json(&journal::cell_key(index))
                    .await?
                    .ok_or_else(|| format!("sweep cell {index} is missing from the stored run"))?;
                cells.push((index, evaluation));
            }
            cells
        },
    })
}

async fn run(job: Job, backend: BackendChoice, data_url: String) {
    let outcome = async {
        let (config, stored_header) = match job {
            Job::Fresh(config) => {
                // One journal slot: a new run replaces whatever was kept before.
                let _ = journal::clear().await;
                (config, None)
            }
            Job::Resume => {
                let header = journal::header()
                    .await?
                    .ok_or("there is no interrupted run to finish")?;
                // Stored data is read as hostile as any file: the config first.
                header
                    .config
                    .validate()
                    .map_err(|e| format!("the stored run's config is not valid: {e}"))?;
                (header.config.clone(), Some(header))
            }
        };
        let (device, report) = device_for(backend).await;
        post(&FromWorker::Device(report.clone()));
        let data = load_data(config.dataset, &data_url).await?;
        if report.backend == "webgpu" {
            post(&FromWorker::Warmup);
        }
        let label = backend_label(&report);
        let result = match stored_header {
            None => {
                let header = JournalHeader {
                    config: config.clone(),
                    checkpoints: Vec::new(),
                    training_ended: false,
                    cells_done: 0,
                    cells_total: 0,
                };
                let mut driver = WorkerDriver::new(header);
                run_experiment(&config, &data, &device, &label, &mut driver).await
            }
            Some(header) => {
                let stored = stored_run(&header, data.train.num_classes()).await?;
                let mut driver = WorkerDriver::new(header);
                resume_experiment(&config, &data, &device, &label, stored, &mut driver).await
            }
        }
        .map_err(|e| e.to_string())?;
        // The page saves the result itself; the journal's copy is no longer needed.
        let _ = journal::clear().await;
        Ok::<_, String>(result)
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

/// Marks the worker busy; `false` (and a message to the page) when a run is already going.
fn claim() -> bool {
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
    }
    !busy
}

fn on_message(event: web_sys::MessageEvent) {
    let data = event.data();
    let (text, file) = if let Some(text) = data.as_string() {
        (text, None)
    } else {
        (
            js::get_string(&data, "json").unwrap_or_default(),
            js::get(&data, "file").dyn_into::<web_sys::Blob>().ok(),
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
            if claim() {
                wasm_bindgen_futures::spawn_local(run(Job::Fresh(config), backend, data_url));
            }
        }
        ToWorker::Resume { backend, data_url } => {
            if claim() {
                wasm_bindgen_futures::spawn_local(run(Job::Resume, backend, data_url));
            }
        }
        ToWorker::ImportData { kind, file_name } => {
            wasm_bindgen_futures::spawn_local(async move {
                let bytes = match file {
                    Some(file) => js::await_promise(file.array_buffer().into())
                        .await
                        .map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec())
                        .map_err(|e| format!("{file_name} cannot be read: {}", describe(&e))),
                    None => Err(format!("{file_name} did not reach the engine")),
                };
                if let Err(message) = async { import_data(kind, file_name, bytes?).await }.await {
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
}
