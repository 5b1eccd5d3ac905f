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
    pub final_test_error: f64,
    pub history: Vec<EpochRecord>,
    pub robustness: Robustness,
    pub distance: Distance,
    pub timing: Timing,
    /// Class names of the data set (per-class errors follow this order).
    pub class_names: Vec<String>,
    pub per_class: PerClass,
    /// Epochs trained (fractional when the run was stopped mid-epoch).
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
    #[serde(default)]
    pub loss_curve: Vec<(f64, f32)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f32,
    pub test_error: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Robustness {
    /// Test error with each unit re-randomized, `[unit]`.
    pub rerandomized: Vec<f64>,
    /// Test error with each unit re-initialized to each checkpoint, `[unit][checkpoint]`.
    pub reinitialized: Vec<Vec<f64>>,
    /// Test error of the whole model at each checkpoint, `[checkpoint]`.
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
    pub test_error: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointRerandomized {
    pub units: Vec<String>,
    pub test_error: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distance {
    /// ‖θ_d^τ − θ_d^0‖₂ / ‖θ_d^0‖₂, `[unit][checkpoint]`.
    pub l2_relative: Vec<Vec<f32>>,
    /// max |θ_d^τ − θ_d^0|, `[unit][checkpoint]`.
    pub linf: Vec<Vec<f32>>,
    /// The same for the re-randomized draw, `[unit]`.
    pub rerandomized_l2_relative: Vec<f32>,
    pub rerandomized_linf: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub train_seconds: f64,
    pub sweep_seconds: f64,
    pub samples_per_second: f64,
    /// Where it ran, e.g. "cpu (flex)" or "webgpu (NVIDIA …)".
    pub backend: String,
    /// From the start of training to the end of the first step (kernel compilation on a GPU).
    #[serde(default)]
    pub first_step_seconds: f64,
    /// Training throughput after the first step.
    #[serde(default)]
    pub steady_samples_per_second: f64,
}

/// Per-class test errors, `[…][class]`, for the page's detail panel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct PerClass {
    pub trained: Vec<f64>,
    pub rerandomized: Vec<Vec<f64>>,
    pub reinitialized: Vec<Vec<Vec<f64>>>,
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
        let result: ResultFile =
            serde_json::from_value(value).map_err(|e| ResultError::Shape(e.to_string()))?;
        result.check_shape()?;
        Ok(result)
    }

    /// Every list has the length the units and checkpoints promise; every error is in [0, 1].
    pub fn check_shape(&self) -> Result<(), ResultError> {
        let units = self.units.len();
        let ckpts = self.checkpoints.len();
        let classes = self.class_names.len();
        let bad = |m: String| Err(ResultError::Shape(m));
        if units == 0 || units > 4096 {
            return bad(format!("{units} units"));
        }
        if ckpts == 0 || ckpts > 4096 {
            return bad(format!("{ckpts} checkpoints"));
        }
        if classes == 0 || classes > 1000 {
            return bad(format!("{classes} classes"));
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
        let errors = r
            .rerandomized
            .iter()
            .chain(r.reinitialized.iter().flatten())
            .chain(&r.full_model)
            .chain(r.joint.iter().map(|j| &j.test_error))
            .chain(r.joint_rerandomized.iter().map(|j| &j.test_error))
            .chain(self.history.iter().map(|h| &h.test_error))
            .chain(std::iter::once(&self.final_test_error));
        for e in errors {
            if !(0.0..=1.0).contains(e) {
                return bad(format!("test error {e} outside [0, 1]"));
            }
        }
        let pc = &self.per_class;
        let class_row = |row: &Vec<f64>| row.len() == classes && row.iter().all(|e| (0.0..=1.0).contains(e));
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
        if !self.class_counts.is_empty()
            && (self.class_counts.len() != classes
                || self.class_counts.iter().sum::<usize>() != self.test_examples)
        {
            return bad("class counts do not match the classes and test examples".into());
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
        Ok(())
    }

    /// Index of the unit called `name`.
    pub fn unit_index(&self, name: &str) -> Option<usize> {
        self.units.iter().position(|u| u == name)
    }

    /// The error of the trained model: the baseline every reset is compared with.
    pub fn baseline_error(&self) -> f64 {
        self.final_test_error
    }

    /// Whether a unit is robust at `threshold`: re-initializing it to checkpoint 0 (or the earliest
    /// saved checkpoint) raises test error by at most `threshold`.
    pub fn is_robust(&self, unit: usize, threshold: f64) -> bool {
        let earliest = self.robustness.reinitialized[unit][0];
        earliest - self.baseline_error() <= threshold
    }
}
