//! The result file: the seam shared by the CLI, the page, saved runs and share links.
//!
//! Versioned JSON. Readers check `format` and `version` and then the shapes (every per-unit
//! list has one entry per unit, every per-checkpoint list one per checkpoint), so a file from
//! elsewhere is either a valid result or a clear error, never a panic further down.

use crate::engine::config::ExperimentConfig;
use serde::{Deserialize, Serialize};

mod check;
mod seeds;
pub mod study;

pub use seeds::{SeedRun, SeedStat, SeedSummary, combine_seeds};
pub use study::{RUN_AXIS, Study, StudyAxis, StudyRun};

pub const FORMAT: &str = "layerlab-result";
/// Version 2 added `interpolation`, `seed_runs`, `seed_summary` and `study`; version 1 files
/// still open.
pub const VERSION: u32 = 2;

/// Default robustness threshold: a reset that raises test error by more than this much (in
/// absolute terms, 0.05 = five percentage points) makes the unit critical. Also the ε of the
/// interpolation's criticality.
pub const DEFAULT_THRESHOLD: f64 = 0.05;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    pub format: String,
    pub version: u32,
    pub config: ExperimentConfig,
    /// Reset units, in model order.
    pub units: Vec<String>,
    /// Checkpoints actually saved (a stopped run may have fewer than configured).
    pub checkpoints: Vec<usize>,
    #[serde(with = "crate::engine::floats")]
    pub final_test_error: f64,
    pub history: Vec<EpochRecord>,
    pub robustness: Robustness,
    pub distance: Distance,
    pub timing: Timing,
    /// Class names of the data set (per-class errors follow this order).
    pub class_names: Vec<String>,
    pub per_class: PerClass,
    /// Epochs trained (fractional when the run was stopped mid-epoch).
    #[serde(with = "crate::engine::floats")]
    pub trained_epochs: f64,
    pub stopped_early: bool,
    pub train_examples: usize,
    pub test_examples: usize,
    pub parameter_count: usize,
    /// Anything the person should know about the run (divergence, a stop).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Test examples per class (so per-class errors are exact fractions, e.g. in share links).
    #[serde(default)]
    pub class_counts: Vec<usize>,
    /// The training-loss curve as read during training: `(epoch progress, mean loss of the
    /// epoch so far)`, at the first step, every few steps and at each epoch's end.
    #[serde(default, with = "crate::engine::floats")]
    pub loss_curve: Vec<(f64, f32)>,
    /// Set when the loss stopped being finite: training stopped there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<Divergence>,
    /// Set when the sweep was stopped: how many cells of [`crate::engine::events::plan`] were
    /// computed. The rest hold NaN and are shown as not computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_cells_done: Option<usize>,
    /// Test error of the initial weights, before any training (the curves' epoch 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_test_error: Option<f64>,
    /// Module criticality: each unit along the line from its initial to its trained weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpolation: Option<Interpolation>,
    /// A multi-seed run: each seed's own result (the maps above are their mean).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seed_runs: Vec<SeedRun>,
    /// A multi-seed run: mean, standard deviation, minimum and maximum of every map value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_summary: Option<SeedSummary>,
    /// An architecture study: every run of its grid (this file's maps are the first run's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<Study>,
}

/// Test error with one unit at `θ_α = (1 − α)·θ⁰ + α·θ` (θ⁰ its initial weights, θ its trained
/// ones) and every other unit trained: the straight path of Chatterji et al. (ICLR 2020).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interpolation {
    /// Increasing, in [0, 1].
    #[serde(with = "crate::engine::floats")]
    pub alphas: Vec<f64>,
    /// `[unit][alpha]`; NaN: not computed.
    #[serde(with = "crate::engine::floats")]
    pub test_error: Vec<Vec<f64>>,
    /// The ε of `criticality`: how far above the trained model's error counts as "within".
    #[serde(with = "crate::engine::floats")]
    pub epsilon: f64,
    /// Per unit: the smallest α of the grid from which on the error stays within ε of the
    /// trained model's (see [`Interpolation::criticality_of`]). NaN: no such α, or not computed.
    #[serde(with = "crate::engine::floats")]
    pub criticality: Vec<f64>,
}

impl Interpolation {
    /// Builds the record, with each unit's criticality at `epsilon` over `baseline`.
    pub fn new(alphas: Vec<f64>, test_error: Vec<Vec<f64>>, baseline: f64, epsilon: f64) -> Self {
        let criticality = test_error
            .iter()
            .map(|row| Self::criticality_of(&alphas, row, baseline, epsilon))
            .collect();
        Self {
            alphas,
            test_error,
            epsilon,
            criticality,
        }
    }

    /// The smallest α of the grid such that the error at it and at every larger α is at most
    /// `baseline + epsilon`: how far along the path a unit must travel before the network is
    /// good again. NaN when even the largest α is not within ε, or a value needed was not
    /// computed.
    pub fn criticality_of(alphas: &[f64], errors: &[f64], baseline: f64, epsilon: f64) -> f64 {
        let mut smallest = f64::NAN;
        for (&alpha, &error) in alphas.iter().zip(errors).rev() {
            if error.is_nan() || baseline.is_nan() {
                return f64::NAN;
            }
            if error - baseline > epsilon {
                break;
            }
            smallest = alpha;
        }
        smallest
    }
}

/// What training leaves for the sweep and the result file: what a host keeps so an interrupted
/// run can be finished later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    pub history: Vec<EpochRecord>,
    #[serde(with = "crate::engine::floats")]
    pub loss_curve: Vec<(f64, f32)>,
    pub notes: Vec<String>,
    #[serde(with = "crate::engine::floats")]
    pub trained_epochs: f64,
    /// Ended before its last epoch (stopped, or diverged).
    pub stopped: bool,
    pub diverged: Option<Divergence>,
    pub train_examples: usize,
    /// Test error of the initial weights (the curve's epoch 0).
    pub initial_test_error: Option<f64>,
    #[serde(with = "crate::engine::floats")]
    pub train_seconds: f64,
    #[serde(with = "crate::engine::floats")]
    pub samples_per_second: f64,
    /// As [`Timing::first_step_seconds`].
    #[serde(with = "crate::engine::floats")]
    pub first_step_seconds: f64,
    #[serde(with = "crate::engine::floats")]
    pub steady_samples_per_second: f64,
}

impl TrainingSummary {
    /// Training as it stands at a checkpoint.
    pub fn so_far(
        history: &[EpochRecord],
        loss_curve: &[(f64, f32)],
        notes: &[String],
        trained_epochs: f64,
        train_examples: usize,
        train_seconds: f64,
        initial_test_error: f64,
    ) -> Self {
        Self {
            history: history.to_vec(),
            loss_curve: loss_curve.to_vec(),
            notes: notes.to_vec(),
            trained_epochs,
            stopped: false,
            diverged: None,
            train_examples,
            initial_test_error: Some(initial_test_error),
            train_seconds,
            samples_per_second: 0.0,
            first_step_seconds: 0.0,
            steady_samples_per_second: 0.0,
        }
    }
}

/// Where training diverged (the first non-finite loss it read).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// 1-based epoch in progress.
    pub epoch: usize,
    /// Training steps done when the non-finite loss was read (counted over the whole run).
    pub step: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    #[serde(with = "crate::engine::floats")]
    pub train_loss: f32,
    #[serde(with = "crate::engine::floats")]
    pub test_error: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Robustness {
    /// Test error with each unit re-randomized, `[unit]`. NaN: not computed (the weights were
    /// not finite, or the sweep was stopped first).
    #[serde(with = "crate::engine::floats")]
    pub rerandomized: Vec<f64>,
    /// Test error with each unit re-initialized to each checkpoint, `[unit][checkpoint]`.
    #[serde(with = "crate::engine::floats")]
    pub reinitialized: Vec<Vec<f64>>,
    /// Test error of the whole model at each checkpoint, `[checkpoint]`.
    #[serde(with = "crate::engine::floats")]
    pub full_model: Vec<f64>,
    /// Joint re-initializations, one entry per set and checkpoint.
    pub joint: Vec<JointRecord>,
    /// Joint re-randomizations, one entry per set.
    #[serde(default)]
    pub joint_rerandomized: Vec<JointRerandomized>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointRecord {
    pub units: Vec<String>,
    pub checkpoint: usize,
    #[serde(with = "crate::engine::floats")]
    pub test_error: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointRerandomized {
    pub units: Vec<String>,
    #[serde(with = "crate::engine::floats")]
    pub test_error: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distance {
    /// ‖θ_d^τ − θ_d^0‖₂ / ‖θ_d^0‖₂, `[unit][checkpoint]`.
    #[serde(with = "crate::engine::floats")]
    pub l2_relative: Vec<Vec<f32>>,
    /// max |θ_d^τ − θ_d^0|, `[unit][checkpoint]`.
    #[serde(with = "crate::engine::floats")]
    pub linf: Vec<Vec<f32>>,
    /// The same for the re-randomized draw, `[unit]`.
    #[serde(with = "crate::engine::floats")]
    pub rerandomized_l2_relative: Vec<f32>,
    #[serde(with = "crate::engine::floats")]
    pub rerandomized_linf: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    #[serde(with = "crate::engine::floats")]
    pub train_seconds: f64,
    #[serde(with = "crate::engine::floats")]
    pub sweep_seconds: f64,
    #[serde(with = "crate::engine::floats")]
    pub samples_per_second: f64,
    /// Where it ran, e.g. "cpu (flex)" or "webgpu (NVIDIA …)".
    pub backend: String,
    /// From the start of the device's work (checkpoint 0's evaluation included) to the end of the
    /// first training step: on a GPU, the compilation of every kernel a step takes.
    #[serde(default, with = "crate::engine::floats")]
    pub first_step_seconds: f64,
    /// Training throughput after the first step.
    #[serde(default, with = "crate::engine::floats")]
    pub steady_samples_per_second: f64,
}

/// Per-class test errors, `[…][class]`, for the page's detail panel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct PerClass {
    #[serde(with = "crate::engine::floats")]
    pub trained: Vec<f64>,
    #[serde(with = "crate::engine::floats")]
    pub rerandomized: Vec<Vec<f64>>,
    #[serde(with = "crate::engine::floats")]
    pub reinitialized: Vec<Vec<Vec<f64>>>,
    #[serde(with = "crate::engine::floats")]
    pub full_model: Vec<Vec<f64>>,
}

/// Why a document is not a result this version can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResultError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a LayerLab result (format is '{0}')")]
    Foreign(String),
    #[error("result version {0} is newer than this LayerLab understands ({VERSION})")]
    Version(u32),
    #[error("malformed result: {0}")]
    Shape(String),
}

impl ResultFile {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a result always serialises")
    }

    /// The error of the trained model: the baseline every reset is compared with.
    pub fn baseline_error(&self) -> f64 {
        self.final_test_error
    }

    /// A unit's verdict at `threshold`: robust when re-initializing it to checkpoint 0 (or the
    /// earliest saved checkpoint) raises test error by at most `threshold`. Unknown when either
    /// error was not computed (non-finite weights).
    pub fn verdict(&self, unit: usize, threshold: f64) -> Verdict {
        Verdict::of(
            self.robustness.reinitialized[unit][0],
            self.baseline_error(),
            threshold,
        )
    }

    /// Whether the run was stopped by its host (in training or in the sweep), rather than ending
    /// or diverging: a multi-seed run or a study does not go on after it.
    pub fn was_stopped(&self) -> bool {
        (self.stopped_early && self.diverged.is_none()) || self.sweep_cells_done.is_some()
    }
}

/// Whether a value may stand for a test error: a fraction, or NaN for "not computed".
pub fn is_error_value(e: f64) -> bool {
    e.is_nan() || (0.0..=1.0).contains(&e)
}

/// A unit's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Robust,
    Critical,
    /// Not computable: the weights of the trained model or the reset were not finite.
    Unknown,
}

impl Verdict {
    /// The verdict on a reset whose error is `reset` against the trained model's `baseline`:
    /// robust when it rises by at most `threshold`, unknown when either was not computed.
    pub fn of(reset: f64, baseline: f64, threshold: f64) -> Self {
        let rise = reset - baseline;
        if rise.is_nan() {
            Verdict::Unknown
        } else if rise <= threshold {
            Verdict::Robust
        } else {
            Verdict::Critical
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Robust => "robust",
            Verdict::Critical => "critical",
            Verdict::Unknown => "unknown",
        }
    }
}

/// What a result (from a run, a file or a link) may hold at most: every size a page has to draw
/// or keep is bounded here, so a hostile file or link cannot freeze the tab.
pub mod caps {
    pub const UNITS: usize = 512;
    pub const CHECKPOINTS: usize = 256;
    /// Cells of one heat map (units × (checkpoints + 1)).
    pub const MAP_CELLS: usize = 8192;
    pub const CLASSES: usize = 1000;
    pub const PER_CLASS_VALUES: usize = 250_000;
    pub const NAME_CHARS: usize = 100;
    pub const NOTES: usize = 64;
    pub const NOTE_CHARS: usize = 1000;
    /// Epochs of history (the config allows 10,000 epochs).
    pub const EPOCHS: usize = 10_000;
    pub const CURVE_POINTS: usize = 20_000;
    pub const JOINT_SETS: usize = 64;
    /// α values of an interpolation (0, 0.01, …, 1 fits).
    pub const ALPHAS: usize = 101;
    /// Seeds of a multi-seed run.
    pub const SEEDS: usize = 32;
    /// Runs and axes of an architecture study.
    pub const STUDY_RUNS: usize = 32;
    pub const STUDY_AXES: usize = 4;
}
