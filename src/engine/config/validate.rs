//! Range and consistency checks of a config: what `from_pairs` and every decoder of a stored
//! config (result files, links, the run journal) run before anything is built from it.

use super::{ConfigError, ExperimentConfig, ModelKind};
use crate::engine::data::DatasetKind;
use crate::engine::result::caps;

impl ExperimentConfig {
    /// Checks ranges and consistency; joint unit names are checked against the model later.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.model == ModelKind::Fcn && !(1..=64).contains(&self.depth) {
            return invalid(format!("depth must be between 1 and 64, not {}", self.depth));
        }
        if self.model == ModelKind::Fcn && !(1..=16384).contains(&self.width) {
            return invalid(format!("width must be between 1 and 16384, not {}", self.width));
        }
        if !(self.width_mult > 0.0 && self.width_mult <= 4.0) {
            return invalid(format!("width-mult must be in (0, 4], not {}", self.width_mult));
        }
        if self.model.is_cnn() && self.dataset != DatasetKind::Cifar10 {
            return invalid(format!(
                "{} is built for 32x32 colour images: use dataset cifar10",
                self.model.name()
            ));
        }
        if self.epochs > 10_000 {
            return invalid(format!("epochs must be at most 10000, not {}", self.epochs));
        }
        if self.batch_size == 0 || self.batch_size > 65_536 {
            return invalid(format!(
                "batch-size must be between 1 and 65536, not {}",
                self.batch_size
            ));
        }
        if self.eval_batch_size == 0 || self.eval_batch_size > 65_536 {
            return invalid(format!(
                "eval-batch-size must be between 1 and 65536, not {}",
                self.eval_batch_size
            ));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return invalid(format!("lr must be a positive number, not {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return invalid(format!("momentum must be in [0, 1), not {}", self.momentum));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return invalid(format!("weight-decay must be ≥ 0, not {}", self.weight_decay));
        }
        if !(self.lr_decay > 0.0 && self.lr_decay.is_finite()) {
            return invalid(format!(
                "lr-decay must be a positive number, not {}",
                self.lr_decay
            ));
        }
        if let Some(&e) = self.checkpoints.iter().find(|&&e| e > self.epochs) {
            return invalid(format!(
                "checkpoint {e} is after the last epoch ({})",
                self.epochs
            ));
        }
        if self.checkpoints.is_empty() {
            return invalid("at least one checkpoint is needed (0 = the initial weights)".into());
        }
        if self.train_limit == Some(0) || self.test_limit == Some(0) {
            return invalid("train-limit and test-limit must be at least 1".into());
        }
        if self.checkpoints.len() > caps::CHECKPOINTS {
            return invalid(format!(
                "{} checkpoints is more than the {} a heat map can show",
                self.checkpoints.len(),
                caps::CHECKPOINTS
            ));
        }
        let units = crate::engine::budget::unit_count(self);
        if units.saturating_mul(self.checkpoints.len() + 1) > caps::MAP_CELLS {
            return invalid(format!(
                "{units} units × {} checkpoints (plus ReRnd) is more than the {} cells a heat map can show",
                self.checkpoints.len(),
                caps::MAP_CELLS
            ));
        }
        if self.joint.len() > caps::JOINT_SETS {
            return invalid(format!(
                "{} joint sets is more than the limit of {}",
                self.joint.len(),
                caps::JOINT_SETS
            ));
        }
        if self.interpolation.len() > caps::ALPHAS {
            return invalid(format!(
                "{} interpolation values is more than the limit of {}",
                self.interpolation.len(),
                caps::ALPHAS
            ));
        }
        if let Some(a) = self.interpolation.iter().find(|a| !(0.0..=1.0).contains(*a)) {
            return invalid(format!("interpolation: α must be between 0 and 1, not {a}"));
        }
        if units.saturating_mul(self.interpolation.len()) > caps::MAP_CELLS {
            return invalid(format!(
                "{units} units × {} α values is more than the {} cells a heat map can show",
                self.interpolation.len(),
                caps::MAP_CELLS
            ));
        }
        if self.seeds.len() > caps::SEEDS {
            return invalid(format!(
                "{} seeds is more than the limit of {}",
                self.seeds.len(),
                caps::SEEDS
            ));
        }
        // A config read from a file must be one that `from_pairs` could have built, so that it
        // travels through links and fragments unchanged.
        if !self.checkpoints.windows(2).all(|w| w[0] < w[1])
            || !self.lr_milestones.windows(2).all(|w| w[0] < w[1])
            || !self.interpolation.windows(2).all(|w| w[0] < w[1])
            || !self.seeds.windows(2).all(|w| w[0] < w[1])
        {
            return invalid("checkpoints, lr-milestones, interpolation and seeds must be increasing".into());
        }
        for set in &self.joint {
            if set.iter().any(|u| u.is_empty()) {
                return invalid("joint: empty unit name".into());
            }
            if set
                .iter()
                .flat_map(|u| u.chars())
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            {
                return invalid("joint: unit names are letters, digits, '_', '.' and '-'".into());
            }
            if set.len() > caps::UNITS || set.iter().any(|u| u.chars().count() > caps::NAME_CHARS) {
                return invalid("joint: a set names more units than a model has".into());
            }
        }
        if self.batch_norm && self.model.is_cnn() && self.batch_size < 2 {
            return invalid(
                "batch norm needs at least 2 examples per step: use batch-size 2 or more, or batch-norm false"
                    .into(),
            );
        }
        crate::engine::budget::Estimate::of(self)
            .check()
            .map_err(ConfigError::Invalid)
    }
}
