//! Messages between the page and the worker that runs the engine.
//!
//! One enum each way, serialised as JSON strings (small, debuggable in the console). Bulk bytes
//! (a dropped data archive) travel beside the JSON as the `File` itself, read in the worker:
//! [`envelope`] names that pairing, written by the page and read by the worker
//! (`runtime::bridge`).
//!
//! The worker owns the run's lifecycle: it sends each [`Phase`] change itself, so the page
//! shows what the worker is doing rather than guessing it from progress events.

use crate::engine::config::ExperimentConfig;
use crate::engine::data::DatasetKind;
use crate::engine::events::Event;
use crate::engine::result::ResultFile;
use serde::{Deserialize, Serialize};

/// Which backend to train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// WebGPU on a hardware adapter, else the CPU backend.
    #[default]
    Auto,
    /// WebGPU, even on a software (fallback) adapter.
    Webgpu,
    /// burn's CPU backend compiled to wasm.
    Cpu,
}

impl BackendChoice {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "webgpu" | "gpu" => Some(Self::Webgpu),
            "cpu" => Some(Self::Cpu),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Webgpu => "webgpu",
            BackendChoice::Cpu => "cpu",
        }
    }
}

/// Which engine worker the page loads: with burn's WebGPU backend, or the CPU-only one (a
/// third of the download).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Webgpu,
    Cpu,
}

/// What the browser's WebGPU offers, as the page sees it before loading an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuAdapter {
    /// No WebGPU, or no adapter at all.
    Missing,
    /// A software renderer (SwiftShader and the like).
    Software,
    Hardware,
}

impl EngineKind {
    /// The engine a backend choice needs, given the browser's adapter. `webgpu` with no adapter
    /// at all trains on the CPU either way, so it gets the CPU engine (at full speed; the WebGPU
    /// engine's own CPU fallback is built for size), which says why.
    pub fn for_choice(choice: BackendChoice, adapter: GpuAdapter) -> Self {
        match (choice, adapter) {
            (BackendChoice::Webgpu, GpuAdapter::Missing) => EngineKind::Cpu,
            (BackendChoice::Webgpu, _) => EngineKind::Webgpu,
            (BackendChoice::Cpu, _) => EngineKind::Cpu,
            (BackendChoice::Auto, GpuAdapter::Hardware) => EngineKind::Webgpu,
            (BackendChoice::Auto, _) => EngineKind::Cpu,
        }
    }

    /// The `<meta>` of `index.html` naming the CPU engine built with WebAssembly threads, and its
    /// files' name (scripts/build-cpu-threads.sh, layerlab-stage); the page loads it in place of
    /// the CPU worker when it is cross-origin isolated.
    pub const THREADED_CPU_WORKER: &'static str = "layerlab-worker-cpu-mt";

    /// The `<meta>` of `index.html` naming the CPU engine for browsers without WebAssembly relaxed
    /// SIMD (web/worker-cpu-compat, one thread), and its files' name. The others need relaxed
    /// SIMD's `madd`, the fused multiply-add that makes the page's products equal the CLI's.
    pub const COMPAT_CPU_WORKER: &'static str = "layerlab-worker-cpu-compat";

    /// The `<meta>` of `index.html` naming its worker's (content-hashed) loader, and the name
    /// of trunk's unhashed one.
    pub fn worker_name(self) -> &'static str {
        match self {
            EngineKind::Webgpu => "layerlab-worker",
            EngineKind::Cpu => "layerlab-worker-cpu",
        }
    }
}

/// What the run journal says about the run it holds (see `runtime::journal`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalHeader {
    pub config: ExperimentConfig,
    /// Epochs of the checkpoints stored so far.
    pub checkpoints: Vec<usize>,
    pub training_ended: bool,
    pub cells_done: usize,
    /// Cells of the sweep, once it started (0 before).
    pub cells_total: usize,
    /// A multi-seed run: seeds finished (their results are stored); the fields above are the
    /// next seed's.
    #[serde(default)]
    pub seeds_done: usize,
}

impl JournalHeader {
    /// One line for the page's offer to finish the run.
    pub fn describe(&self) -> String {
        let stage = if self.cells_total > 0 {
            format!(
                "in the reset sweep ({} of {} cells done)",
                self.cells_done, self.cells_total
            )
        } else if self.training_ended {
            "after training, before the sweep".to_string()
        } else {
            format!(
                "during training ({} checkpoint{} stored)",
                self.checkpoints.len(),
                if self.checkpoints.len() == 1 { "" } else { "s" }
            )
        };
        let seeds_done = if self.config.seeds.is_empty() {
            String::new()
        } else {
            format!(" ({} of {} done)", self.seeds_done, self.config.seeds.len())
        };
        format!(
            "{} · {}{seeds_done}, interrupted {stage}",
            self.config.label(),
            self.config.seed_label()
        )
    }
}

/// Page → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Train and sweep. `manifest_url` is the data manifest's address (on the page's own
    /// origin); the data files sit beside it.
    Run {
        /// Boxed: a config is far larger than the other messages.
        config: Box<ExperimentConfig>,
        backend: BackendChoice,
        manifest_url: String,
    },
    /// Finish the current step, then sweep with what was trained (or, during the sweep, end
    /// it keeping the cells done).
    Stop,
    /// Finish the run the journal holds.
    Resume {
        backend: BackendChoice,
        manifest_url: String,
    },
    /// A data archive the person dropped on the page; the `File` itself travels beside the JSON.
    ImportData { kind: DatasetKind, file_name: String },
}

/// The backend a run actually uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Webgpu,
    #[default]
    Cpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Webgpu => "webgpu",
            Backend::Cpu => "cpu",
        }
    }
}

/// Where a run is. The worker sends every change but `Starting` (the page's own, until the
/// worker answers), `Done` and `Failed` (its `Finished` and `Failed` messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    LoadingData,
    /// Kernels are being compiled (the first steps on WebGPU are slow).
    Warmup,
    Training,
    /// A stop was asked for during training: the current step finishes, then the sweep runs.
    Stopping,
    Sweeping,
    /// A stop was asked for during the sweep: the cells done so far are kept.
    StoppingSweep,
    Done,
    Failed,
}

impl Phase {
    pub fn is_active(self) -> bool {
        !matches!(self, Phase::Done | Phase::Failed)
    }

    pub fn is_stopping(self) -> bool {
        matches!(self, Phase::Stopping | Phase::StoppingSweep)
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::LoadingData => "loading data",
            Phase::Warmup => "compiling GPU kernels",
            Phase::Training => "training",
            Phase::Stopping => "stopping",
            Phase::Sweeping => "reset sweep",
            Phase::StoppingSweep => "stopping the sweep",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

/// What the worker learned about the device it will use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct DeviceReport {
    pub backend: Backend,
    /// Adapter description (vendor, architecture, device) when on WebGPU.
    pub adapter: String,
    /// Why the CPU backend is used instead of WebGPU, in words for the page.
    pub fallback_reason: Option<String>,
    /// The CPU backend's threads (0 on WebGPU, and from engines that predate the field).
    #[serde(default)]
    pub threads: usize,
    /// Why the CPU backend has fewer threads than it asked for, if it has.
    #[serde(default)]
    pub threads_note: Option<String>,
}

/// Worker → page. Adjacently tagged: engine events carry their own `type` tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker's wasm is loaded and listening.
    Ready,
    Device(DeviceReport),
    /// Data download (or cache read) progress.
    Data {
        kind: DatasetKind,
        loaded_bytes: u64,
        total_bytes: u64,
        from_cache: bool,
    },
    /// Data decoded and checked.
    DataReady {
        kind: DatasetKind,
        train_examples: usize,
        test_examples: usize,
    },
    /// The run entered a new phase.
    Phase(Phase),
    Engine(Event),
    /// Frequent engine events (steps, loss points, sweep cells) batched, in order, so that
    /// the page re-renders a few times a second rather than at every one.
    Events(Vec<Event>),
    Finished(Box<ResultFile>),
    /// The run cannot be kept for recovery (storage full or unavailable); it goes on.
    JournalFailed(String),
    /// The run failed; the page keeps whatever it already has. `fatal`: the worker cannot
    /// continue (a panic in wasm) and must be replaced.
    Failed {
        message: String,
        fatal: bool,
    },
}

impl ToWorker {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("messages always serialise")
    }
}

/// Field names of the object that carries a message with a file beside it (page → worker).
pub mod envelope {
    pub const JSON: &str = "json";
    pub const FILE: &str = "file";
}

impl FromWorker {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("messages always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let run = ToWorker::Run {
            config: Box::default(),
            backend: BackendChoice::Cpu,
            manifest_url: "data/manifest.json".into(),
        };
        let back: ToWorker = serde_json::from_str(&run.to_json()).unwrap();
        assert_eq!(back, run);
        let progress = FromWorker::Engine(Event::Checkpoint { epoch: 2 });
        let back: FromWorker = serde_json::from_str(&progress.to_json()).unwrap();
        assert_eq!(back, progress);
    }
}
