//! The web worker that hosts the engine, so training never blocks the page.
//!
//! It listens for [`ToWorker`] messages, picks the device, loads the data (`runtime::data`),
//! runs the experiment, and streams [`FromWorker`] messages back, each phase change included.
//! Between training steps it yields to its event loop, which is how a Stop message gets in.

use crate::engine::ExperimentConfig;
use crate::engine::train::{Driver, Event, Persist, prepare_kernels, resume_experiment, run_experiment};
use crate::runtime::bridge::{post, receive};
use crate::runtime::data;
use crate::runtime::device::{self, backend_label};
use crate::runtime::error::RuntimeError;
use crate::runtime::js::{self, now_ms, yield_now};
use crate::runtime::protocol::{
    Backend, BackendChoice, DeviceReport, FromWorker, JournalHeader, Phase, ToWorker,
};
use crate::runtime::{journal, stored_run};
use burn::tensor::Device;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

#[derive(Default)]
struct WorkerState {
    running: bool,
    stop: bool,
    /// The phase last sent to the page (while `running`).
    phase: Option<Phase>,
    webgpu: Option<(Device, DeviceReport)>,
}

thread_local! {
    static STATE: RefCell<WorkerState> = RefCell::new(WorkerState::default());
}

/// Sends `phase` to the page, unless it is the current one.
fn enter(phase: Phase) {
    let changed = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let changed = s.phase != Some(phase);
        s.phase = Some(phase);
        changed
    });
    if changed {
        post(&FromWorker::Phase(phase));
    }
}

fn phase() -> Option<Phase> {
    STATE.with(|s| s.borrow().phase)
}

/// Milliseconds between two batches of frequent events (steps, loss points, sweep cells).
const BATCH_MS: f64 = 250.0;

/// Milliseconds of work between two turns of the event loop (where a Stop message gets in).
/// Each turn is a message through the browser's IO threads; every 8 ms (a turn every other
/// FCN step) they took the cores often enough to cost the page's two-thread FCN about 9%
/// (BENCHMARKS.md, issue 11). A Stop still lands within a few tens of milliseconds.
const YIELD_MS: f64 = 25.0;

/// Forwards engine events, sends phase changes, polls the stop flag, yields to the event loop
/// every few milliseconds, and keeps the run journal. The frequent events go out in batches, a
/// few a second (of the steps, only the latest): each message re-renders the page, and at one
/// per loss point and step (twenty to forty a second) the browser's own rendering threads took
/// time from the engine's two (BENCHMARKS.md, issue 11). Any other event first sends what is
/// held, so the page sees every event in order.
struct WorkerDriver {
    /// Frequent events not sent yet, and when the last batch went.
    held: Vec<Event>,
    last_batch: f64,
    last_yield: f64,
    journal: JournalHeader,
    /// The journal failed once (told to the page); later writes are not tried.
    journal_failed: bool,
    /// When the run began, before its data download (beside which its kernels were created).
    started_at: Option<web_time::Instant>,
}

impl WorkerDriver {
    fn new(journal: JournalHeader, started_at: web_time::Instant) -> Self {
        Self {
            held: Vec::new(),
            last_batch: 0.0,
            last_yield: now_ms(),
            journal,
            journal_failed: false,
            started_at: Some(started_at),
        }
    }

    /// Sends the held events, if any, as one message.
    fn send_held(&mut self) {
        if !self.held.is_empty() {
            post(&FromWorker::Events(std::mem::take(&mut self.held)));
        }
        self.last_batch = now_ms();
    }
}

impl Drop for WorkerDriver {
    /// The run's last frequent events reach the page before its result or error.
    fn drop(&mut self) {
        self.send_held();
    }
}

impl Driver for WorkerDriver {
    fn event(&mut self, event: Event) {
        if !matches!(
            event,
            Event::Step { .. } | Event::Loss { .. } | Event::SweepCell { .. }
        ) {
            self.send_held();
            match &event {
                // The next seed of a multi-seed run trains again after the last one's sweep.
                Event::Seed { index, .. } | Event::StudyRun { index, .. } if *index > 0 => {
                    enter(Phase::Training)
                }
                Event::SweepStarted { cells } => {
                    self.journal.cells_total = *cells;
                    enter(Phase::Sweeping);
                }
                _ => {}
            }
            post(&FromWorker::Engine(event));
            return;
        }
        if matches!(event, Event::Step { .. }) {
            if phase() == Some(Phase::Warmup) {
                self.send_held();
                enter(Phase::Training);
            }
            // A step supersedes the one held before it.
            self.held.retain(|held| !matches!(held, Event::Step { .. }));
        }
        self.held.push(event);
        if now_ms() - self.last_batch >= BATCH_MS {
            self.send_held();
        }
    }

    fn take_started_at(&mut self) -> Option<web_time::Instant> {
        self.started_at.take()
    }

    fn stop_requested(&mut self) -> bool {
        // Taken, not read: one Stop click ends one phase (training, then the sweep).
        STATE.with(|s| std::mem::take(&mut s.borrow_mut().stop))
    }

    async fn pause(&mut self) {
        let now = now_ms();
        if now - self.last_yield >= YIELD_MS {
            yield_now().await;
            self.last_yield = now_ms();
        }
    }

    async fn persist(&mut self, point: Persist<'_>) {
        if self.journal_failed {
            return;
        }
        if let Err(e) = stored_run::keep(&mut self.journal, point).await {
            self.journal_failed = true;
            post(&FromWorker::JournalFailed(e.to_string()));
        }
    }
}

/// The device for `backend`, initialising WebGPU at most once per worker.
async fn device_for(backend: BackendChoice) -> (Device, DeviceReport) {
    match backend {
        BackendChoice::Cpu => device::choose(BackendChoice::Cpu).await,
        choice => match STATE.with(|s| s.borrow().webgpu.clone()) {
            Some(known) if known.1.backend == Backend::Webgpu || choice == BackendChoice::Auto => known,
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
    Fresh(ExperimentConfig),
    Resume,
}

async fn run(job: Job, backend: BackendChoice, manifest_url: String) {
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
                    .ok_or_else(|| RuntimeError::Storage("there is no interrupted run to finish".into()))?;
                // Stored data is read as hostile as any file: the config first.
                header.config.validate().map_err(|e| {
                    RuntimeError::Storage(format!("the stored run's config is not valid: {e}"))
                })?;
                (header.config.clone(), Some(header))
            }
        };
        let (device, report) = device_for(backend).await;
        post(&FromWorker::Device(report.clone()));
        enter(Phase::LoadingData);
        // On WebGPU the run's kernels are created while its data downloads: the browser compiles
        // them meanwhile (the warm-up gives the event loop a turn between its phases, where the
        // download's callbacks run). The time to the first step counts from here. A warm-up
        // that fails is left for the run, which warms up again and reports it.
        let started_at = web_time::Instant::now();
        let need = data::Need::of(&config);
        let (data, _) = futures_util::future::join(
            data::load(config.dataset, &manifest_url, need),
            prepare_kernels(&config, &device, async || yield_now().await),
        )
        .await;
        let data = data?;
        enter(match report.backend {
            Backend::Webgpu => Phase::Warmup,
            Backend::Cpu => Phase::Training,
        });
        let label = backend_label(&report);
        let result = match stored_header {
            None => {
                let header = JournalHeader {
                    config: config.clone(),
                    checkpoints: Vec::new(),
                    training_ended: false,
                    cells_done: 0,
                    cells_total: 0,
                    seeds_done: 0,
                };
                let mut driver = WorkerDriver::new(header, started_at);
                run_experiment(&config, &data, &device, &label, &mut driver).await
            }
            Some(header) => {
                let stored = stored_run::read(&header, data.train.num_classes()).await?;
                let mut driver = WorkerDriver::new(header, started_at);
                resume_experiment(&config, &data, &device, &label, stored, &mut driver).await
            }
        }
        .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        // The page saves the result itself; the journal's copy is no longer needed.
        let _ = journal::clear().await;
        Ok::<_, RuntimeError>(result)
    }
    .await;
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.running = false;
        s.stop = false;
        s.phase = None;
    });
    match outcome {
        Ok(result) => post(&FromWorker::Finished(Box::new(result))),
        Err(e) => failed(e),
    }
}

fn failed(error: RuntimeError) {
    post(&FromWorker::Failed {
        message: error.to_string(),
        fatal: false,
    });
}

/// Marks the worker busy; `false` (and a message to the page) when a run is already going.
fn claim() -> bool {
    let busy = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let busy = s.running;
        if !busy {
            s.running = true;
            s.stop = false;
            s.phase = None;
        }
        busy
    });
    if busy {
        failed(RuntimeError::Engine("a run is already in progress".into()));
    }
    !busy
}

fn on_message(event: web_sys::MessageEvent) {
    let (message, file) = match receive(&event) {
        Ok(received) => received,
        Err(e) => return failed(e),
    };
    match message {
        ToWorker::Stop => {
            let running = STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.stop = s.running;
                s.running
            });
            if running {
                enter(match phase() {
                    Some(Phase::Sweeping | Phase::StoppingSweep) => Phase::StoppingSweep,
                    _ => Phase::Stopping,
                });
            }
        }
        ToWorker::Run {
            config,
            backend,
            manifest_url,
        } => {
            if claim() {
                wasm_bindgen_futures::spawn_local(run(Job::Fresh(*config), backend, manifest_url));
            }
        }
        ToWorker::Resume {
            backend,
            manifest_url,
        } => {
            if claim() {
                wasm_bindgen_futures::spawn_local(run(Job::Resume, backend, manifest_url));
            }
        }
        ToWorker::ImportData { kind, file_name } => {
            wasm_bindgen_futures::spawn_local(async move {
                let imported = async {
                    let file = file
                        .ok_or_else(|| RuntimeError::Data(format!("{file_name} did not reach the engine")))?;
                    let buffer = js::await_promise(file.array_buffer().into())
                        .await
                        .map_err(|e| RuntimeError::from(e).context(&format!("{file_name} cannot be read")))?;
                    data::import(kind, file_name, js_sys::Uint8Array::new(&buffer).to_vec()).await
                };
                if let Err(e) = imported.await {
                    failed(e);
                }
            });
        }
    }
}

/// Entry point of the worker binary. In the engine built with threads, the helper threads'
/// instances start here too and return at once (`runtime::threads`); the engine itself says
/// it is ready once its helpers have joined.
pub fn start() {
    #[cfg(target_feature = "atomics")]
    if crate::runtime::threads::is_helper() {
        return;
    }
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
    #[cfg(target_feature = "atomics")]
    wasm_bindgen_futures::spawn_local(async {
        crate::runtime::threads::start_helpers().await;
        post(&FromWorker::Ready);
    });
    #[cfg(not(target_feature = "atomics"))]
    post(&FromWorker::Ready);
}

/// The device's kernels against the CPU backend on small shapes (`engine::kernels::check`), as
/// JSON rows, on this worker's WebGPU device (initialised here if no run has yet). The WebGPU
/// worker exports it for the page's end-to-end tests.
pub async fn kernel_check() -> Result<String, String> {
    let (device, report) = device_for(BackendChoice::Webgpu).await;
    if report.backend != Backend::Webgpu {
        return Err(report
            .fallback_reason
            .unwrap_or_else(|| "no WebGPU device".into()));
    }
    let rows = crate::engine::kernels::check::against_cpu(&device).await?;
    serde_json::to_string(&rows).map_err(|e| e.to_string())
}

/// Where an FCN training step's time goes on this worker's device (`engine::train::profile`),
/// as JSON: WebGPU in the WebGPU worker, the CPU in the CPU one. For bench/run.mjs.
pub async fn profile_fcn_step(steps: usize) -> Result<String, String> {
    let choice = if cfg!(feature = "webgpu") {
        BackendChoice::Webgpu
    } else {
        BackendChoice::Cpu
    };
    let (device, _) = device_for(choice).await;
    let profile = crate::engine::train::profile::fcn_step_profile(&device, steps.max(1))
        .await
        .map_err(|e| e.to_string())?;
    serde_json::to_string(&profile).map_err(|e| e.to_string())
}
