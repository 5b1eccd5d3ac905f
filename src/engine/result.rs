//! The result file: the seam shared by the CLI, the page, saved runs and share links.
//!
//! Versioned JSON. Readers check `format` and `version` and then the shapes (every per-unit
//! list has one entry per unit, every per-checkpoint list one per checkpoint), so a file from
//! elsewhere is either a valid result or a clear error, never a panic further down.

use crate::engine::config::ExperimentConfig;
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "layerlab-result";
pub const VERSION: u32 = 1;

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
    /// From the start of training to the end of the first step (kernel compilation on a GPU).
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

    /// Parses and checks a result document.
    pub fn from_json(text: &str) -> Result<Self, ResultError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ResultError::NotJson(e.to_string()))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => return Err(ResultError::Foreign(other.chars().take(40).collect())),
            None => return Err(ResultError::Foreign("missing".into())),
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v as u32 == VERSION => {}
            Some(v) => return Err(ResultError::Version(v.min(u32::MAX as u64) as u32)),
            None => return Err(ResultError::Shape("missing version".into())),
        }
        let mut result: ResultFile =
            serde_json::from_value(value).map_err(|e| ResultError::Shape(e.to_string()))?;
        result.config = result.config.canonical();
        result.check_shape()?;
        Ok(result)
    }

    /// Every list has the length the units and checkpoints promise, every error is a fraction in
    /// [0, 1] (or NaN: not computed), and nothing is bigger than a page can show (see [`caps`]).
    pub fn check_shape(&self) -> Result<(), ResultError> {
        let units = self.units.len();
        let ckpts = self.checkpoints.len();
        let classes = self.class_names.len();
        let bad = |m: String| Err(ResultError::Shape(m));
        // The same rules as a config typed into the CLI or carried by a link.
        if let Err(e) = self.config.validate() {
            return bad(format!("its config: {e}"));
        }
        if units == 0 || units > caps::UNITS {
            return bad(format!("{units} units (at most {})", caps::UNITS));
        }
        if ckpts == 0 || ckpts > caps::CHECKPOINTS {
            return bad(format!("{ckpts} checkpoints (at most {})", caps::CHECKPOINTS));
        }
        if units.saturating_mul(ckpts + 1) > caps::MAP_CELLS {
            return bad(format!(
                "{units} units × {} columns is more than the {} cells a heat map may show",
                ckpts + 1,
                caps::MAP_CELLS
            ));
        }
        if classes == 0 || classes > caps::CLASSES {
            return bad(format!("{classes} classes (at most {})", caps::CLASSES));
        }
        if units.saturating_mul(ckpts + 2).saturating_mul(classes) > caps::PER_CLASS_VALUES {
            return bad("too many per-class values".into());
        }
        if let Some(long) = self
            .units
            .iter()
            .chain(&self.class_names)
            .find(|n| n.chars().count() > caps::NAME_CHARS)
        {
            return bad(format!(
                "a name of {} characters (at most {})",
                long.chars().count(),
                caps::NAME_CHARS
            ));
        }
        if self.notes.len() > caps::NOTES || self.notes.iter().any(|n| n.chars().count() > caps::NOTE_CHARS) {
            return bad(format!(
                "more than {} notes, or a note over {} characters",
                caps::NOTES,
                caps::NOTE_CHARS
            ));
        }
        if self.timing.backend.chars().count() > caps::NOTE_CHARS {
            return bad("the backend description is too long".into());
        }
        if self.history.len() > caps::EPOCHS || self.loss_curve.len() > caps::CURVE_POINTS {
            return bad(format!(
                "{} epochs of history and {} loss points (at most {} and {})",
                self.history.len(),
                self.loss_curve.len(),
                caps::EPOCHS,
                caps::CURVE_POINTS
            ));
        }
        if !self.checkpoints.windows(2).all(|w| w[0] < w[1]) {
            return bad("checkpoints are not increasing".into());
        }
        let r = &self.robustness;
        let d = &self.distance;
        let grid_ok = |g: &[Vec<f64>]| g.len() == units && g.iter().all(|row| row.len() == ckpts);
        let grid32_ok = |g: &[Vec<f32>]| g.len() == units && g.iter().all(|row| row.len() == ckpts);
        if r.rerandomized.len() != units || !grid_ok(&r.reinitialized) || r.full_model.len() != ckpts {
            return bad("robustness lists do not match units × checkpoints".into());
        }
        if !grid32_ok(&d.l2_relative)
            || !grid32_ok(&d.linf)
            || d.rerandomized_l2_relative.len() != units
            || d.rerandomized_linf.len() != units
        {
            return bad("distance lists do not match units × checkpoints".into());
        }
        if let Some(v) = d
            .l2_relative
            .iter()
            .chain(&d.linf)
            .flatten()
            .chain(&d.rerandomized_l2_relative)
            .chain(&d.rerandomized_linf)
            .find(|v| **v < 0.0)
        {
            return bad(format!("negative distance {v}"));
        }
        let errors = r
            .rerandomized
            .iter()
            .chain(r.reinitialized.iter().flatten())
            .chain(&r.full_model)
            .chain(r.joint.iter().map(|j| &j.test_error))
            .chain(r.joint_rerandomized.iter().map(|j| &j.test_error))
            .chain(self.history.iter().map(|h| &h.test_error))
            .chain(&self.initial_test_error)
            .chain(std::iter::once(&self.final_test_error));
        for e in errors {
            if !is_error_value(*e) {
                return bad(format!("test error {e} outside [0, 1]"));
            }
        }
        let pc = &self.per_class;
        let class_row = |row: &Vec<f64>| row.len() == classes && row.iter().all(|e| is_error_value(*e));
        let per_class_ok = (pc.trained.is_empty() || class_row(&pc.trained))
            && (pc.rerandomized.is_empty()
                || (pc.rerandomized.len() == units && pc.rerandomized.iter().all(class_row)))
            && (pc.reinitialized.is_empty()
                || (pc.reinitialized.len() == units
                    && pc
                        .reinitialized
                        .iter()
                        .all(|u| u.len() == ckpts && u.iter().all(class_row))))
            && (pc.full_model.is_empty()
                || (pc.full_model.len() == ckpts && pc.full_model.iter().all(class_row)));
        if !per_class_ok {
            return bad("per-class lists do not match units × checkpoints × classes".into());
        }
        if !self.class_counts.is_empty() {
            // Checked sum: on wasm32 a crafted file could otherwise wrap it around.
            let sum = self
                .class_counts
                .iter()
                .try_fold(0usize, |acc, &c| acc.checked_add(c));
            if self.class_counts.len() != classes || sum != Some(self.test_examples) {
                return bad("class counts do not match the classes and test examples".into());
            }
        }
        if r.joint_rerandomized.len() > caps::JOINT_SETS
            || r.joint.len() > caps::JOINT_SETS.saturating_mul(ckpts)
            || r.joint
                .iter()
                .map(|j| j.units.len())
                .chain(r.joint_rerandomized.iter().map(|j| j.units.len()))
                .any(|n| n == 0 || n > units)
        {
            return bad("too many joint sets, or a set larger than the model".into());
        }
        for j in &r.joint {
            if !self.checkpoints.contains(&j.checkpoint) {
                return bad(format!("joint entry at unknown checkpoint {}", j.checkpoint));
            }
        }
        for name in r
            .joint
            .iter()
            .flat_map(|j| &j.units)
            .chain(r.joint_rerandomized.iter().flat_map(|j| &j.units))
        {
            if !self.units.contains(name) {
                return bad(format!("joint entry names unknown unit '{name}'"));
            }
        }
        if let Some(done) = self.sweep_cells_done
            && done > crate::engine::events::plan_len(units, ckpts, r.joint_rerandomized.len())
        {
            return bad(format!("{done} sweep cells done, more than the sweep has"));
        }
        if let Some(d) = &self.diverged
            && (d.epoch == 0 || d.epoch > self.config.epochs)
        {
            return bad(format!("diverged in epoch {}, outside the run", d.epoch));
        }
        Ok(())
    }

    /// The error of the trained model: the baseline every reset is compared with.
    pub fn baseline_error(&self) -> f64 {
        self.final_test_error
    }

    /// A unit's verdict at `threshold`: robust when re-initializing it to checkpoint 0 (or the
    /// earliest saved checkpoint) raises test error by at most `threshold`. Unknown when either
    /// error was not computed (non-finite weights).
    pub fn verdict(&self, unit: usize, threshold: f64) -> Verdict {
        let rise = self.robustness.reinitialized[unit][0] - self.baseline_error();
        if rise.is_nan() {
            Verdict::Unknown
        } else if rise <= threshold {
            Verdict::Robust
        } else {
            Verdict::Critical
        }
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
}
