//! The experiment configuration: one struct, one set of key names, three spellings.
//!
//! The same keys are the CLI's long flags (`--batch-size 128`), the page's URL fragment
//! (`#batch-size=128`) and the `config` object of the result file, so a result can be rerun
//! from its file, its link or a command line, and nothing has to translate between them.

use crate::engine::data::DatasetKind;
#[cfg(feature = "engine")]
use crate::engine::models::{Architecture, resnet, vgg};
use crate::engine::result::caps;
use serde::{Deserialize, Serialize};

/// Model family and variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Fcn,
    Vgg11,
    Vgg13,
    Vgg16,
    Vgg19,
    Resnet18,
    Resnet34,
}

impl ModelKind {
    pub const ALL: [ModelKind; 7] = [
        ModelKind::Fcn,
        ModelKind::Vgg11,
        ModelKind::Vgg13,
        ModelKind::Vgg16,
        ModelKind::Vgg19,
        ModelKind::Resnet18,
        ModelKind::Resnet34,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Fcn => "fcn",
            ModelKind::Vgg11 => "vgg11",
            ModelKind::Vgg13 => "vgg13",
            ModelKind::Vgg16 => "vgg16",
            ModelKind::Vgg19 => "vgg19",
            ModelKind::Resnet18 => "resnet18",
            ModelKind::Resnet34 => "resnet34",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s.to_ascii_lowercase())
    }

    pub fn is_cnn(self) -> bool {
        self != ModelKind::Fcn
    }

    pub fn is_resnet(self) -> bool {
        matches!(self, ModelKind::Resnet18 | ModelKind::Resnet34)
    }
}

/// Optimizer choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

/// Everything needed to rerun an experiment (data location and output path excepted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExperimentConfig {
    pub model: ModelKind,
    /// FCN: hidden layers.
    pub depth: usize,
    /// FCN: units per hidden layer.
    pub width: usize,
    /// CNNs: channel multiplier on the standard widths (64…512).
    pub width_mult: f64,
    /// CNNs: batch norm after each convolution (VGG) / in each block (ResNet).
    pub batch_norm: bool,
    pub dataset: DatasetKind,
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Factor applied to the learning rate at each milestone epoch.
    pub lr_decay: f64,
    pub lr_milestones: Vec<usize>,
    /// Epochs after which every unit is saved (0 = the initial weights).
    pub checkpoints: Vec<usize>,
    pub seed: u64,
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
    /// Random crop (4-pixel padding) and horizontal flip of training images.
    pub augment: bool,
    /// Sets of units reset together in the sweep.
    pub joint: Vec<Vec<String>>,
    /// Examples per forward pass when evaluating.
    pub eval_batch_size: usize,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            model: ModelKind::Fcn,
            depth: 3,
            width: 256,
            width_mult: 1.0,
            batch_norm: false,
            dataset: DatasetKind::Mnist,
            epochs: 5,
            batch_size: 128,
            optimizer: OptimizerKind::Sgd,
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 0.0,
            lr_decay: 0.2,
            lr_milestones: Vec::new(),
            checkpoints: vec![0, 1, 2, 3, 5],
            seed: 0,
            train_limit: None,
            test_limit: None,
            augment: false,
            joint: Vec::new(),
            eval_batch_size: 1000,
        }
    }
}

/// A bad key or value, in the words of the flag or fragment key the person typed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown option '{0}'")]
    UnknownKey(String),
    #[error("option '{key}': '{value}' is not {expected}")]
    BadValue {
        key: String,
        value: String,
        expected: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Documentation of every key, in order; the CLI prints it as `--help` and the page uses the
/// same list for its form.
pub const KEYS: &[(&str, &str)] = &[
    (
        "model",
        "fcn | vgg11 | vgg13 | vgg16 | vgg19 | resnet18 | resnet34",
    ),
    ("depth", "FCN hidden layers (default 3)"),
    ("width", "FCN hidden units per layer (default 256)"),
    ("width-mult", "CNN channel multiplier, e.g. 0.25 (default 1)"),
    (
        "batch-norm",
        "CNN batch norm: true | false (default: false for VGG, true for ResNet)",
    ),
    (
        "dataset",
        "mnist | cifar10 (default: mnist for fcn, cifar10 for CNNs)",
    ),
    ("epochs", "training epochs (default 5)"),
    ("batch-size", "examples per step (default 128)"),
    ("optimizer", "sgd | adam (default sgd)"),
    ("lr", "learning rate (default 0.01)"),
    ("momentum", "SGD momentum (default 0.9)"),
    ("weight-decay", "L2 weight decay on weights (default 0)"),
    ("lr-decay", "learning-rate factor at each milestone (default 0.2)"),
    (
        "lr-milestones",
        "epochs where the learning rate decays, e.g. 30,60,90 (default none)",
    ),
    (
        "checkpoints",
        "epochs to save, 0 = initial weights (default 0,1,2,3,<epochs>)",
    ),
    (
        "seed",
        "seed of initialisation, shuffling, re-randomization (default 0)",
    ),
    ("train-limit", "use only the first N training examples"),
    ("test-limit", "use only the first N test examples"),
    ("augment", "random crop + flip of training images: true | false"),
    (
        "joint",
        "units reset together, e.g. layer2,layer3; several sets separated by ';'",
    ),
    ("eval-batch-size", "examples per evaluation pass (default 1000)"),
];

fn parse_num<T: std::str::FromStr>(key: &str, value: &str, expected: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::BadValue {
        key: key.into(),
        value: value.into(),
        expected: expected.into(),
    })
}

fn parse_list(key: &str, value: &str) -> Result<Vec<usize>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|v| parse_num(key, v, "a comma-separated list of whole numbers"))
        .collect()
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::BadValue {
            key: key.into(),
            value: value.into(),
            expected: "true or false".into(),
        }),
    }
}

fn join_list(values: &[usize]) -> String {
    values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")
}

impl ExperimentConfig {
    /// Builds a config from `key=value` pairs on top of the defaults. Keys that only the model
    /// decides (`dataset`, `batch-norm`, `checkpoints`) get model-dependent defaults when absent.
    /// The result is validated.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut dataset_set = false;
        let mut batch_norm_set = false;
        let mut checkpoints_set = false;
        for (key, value) in pairs {
            match key {
                "model" => {
                    c.model = ModelKind::parse(value).ok_or_else(|| ConfigError::BadValue {
                        key: key.into(),
                        value: value.into(),
                        expected: "one of fcn, vgg11, vgg13, vgg16, vgg19, resnet18, resnet34".into(),
                    })?
                }
                "depth" => c.depth = parse_num(key, value, "a whole number")?,
                "width" => c.width = parse_num(key, value, "a whole number")?,
                "width-mult" => c.width_mult = parse_num(key, value, "a number")?,
                "batch-norm" => {
                    c.batch_norm = parse_bool(key, value)?;
                    batch_norm_set = true;
                }
                "dataset" => {
                    c.dataset = DatasetKind::parse(value).ok_or_else(|| ConfigError::BadValue {
                        key: key.into(),
                        value: value.into(),
                        expected: "mnist or cifar10".into(),
                    })?;
                    dataset_set = true;
                }
                "epochs" => c.epochs = parse_num(key, value, "a whole number")?,
                "batch-size" => c.batch_size = parse_num(key, value, "a whole number")?,
                "optimizer" => {
                    c.optimizer = match value.to_ascii_lowercase().as_str() {
                        "sgd" => OptimizerKind::Sgd,
                        "adam" => OptimizerKind::Adam,
                        _ => {
                            return Err(ConfigError::BadValue {
                                key: key.into(),
                                value: value.into(),
                                expected: "sgd or adam".into(),
                            });
                        }
                    }
                }
                "lr" => c.lr = parse_num(key, value, "a number")?,
                "momentum" => c.momentum = parse_num(key, value, "a number")?,
                "weight-decay" => c.weight_decay = parse_num(key, value, "a number")?,
                "lr-decay" => c.lr_decay = parse_num(key, value, "a number")?,
                "lr-milestones" => c.lr_milestones = parse_list(key, value)?,
                "checkpoints" => {
                    c.checkpoints = parse_list(key, value)?;
                    checkpoints_set = true;
                }
                "seed" => c.seed = parse_num(key, value, "a whole number")?,
                "train-limit" => c.train_limit = Some(parse_num(key, value, "a whole number")?),
                "test-limit" => c.test_limit = Some(parse_num(key, value, "a whole number")?),
                "augment" => c.augment = parse_bool(key, value)?,
                "joint" => {
                    for set in value.split(';').filter(|s| !s.trim().is_empty()) {
                        c.joint
                            .push(set.split(',').map(|u| u.trim().to_string()).collect());
                    }
                }
                "eval-batch-size" => c.eval_batch_size = parse_num(key, value, "a whole number")?,
                other => return Err(ConfigError::UnknownKey(other.to_string())),
            }
        }
        if !dataset_set {
            c.dataset = if c.model.is_cnn() {
                DatasetKind::Cifar10
            } else {
                DatasetKind::Mnist
            };
        }
        if !batch_norm_set {
            c.batch_norm = c.model.is_resnet();
        }
        if !checkpoints_set {
            c.checkpoints = [0, 1, 2, 3, c.epochs]
                .into_iter()
                .filter(|&e| e <= c.epochs)
                .collect();
        }
        c.checkpoints.sort_unstable();
        c.checkpoints.dedup();
        c.lr_milestones.sort_unstable();
        c.lr_milestones.dedup();
        c.validate()?;
        Ok(c)
    }

    /// The config as `key=value` pairs, every key spelled out (the inverse of `from_pairs`).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("model", self.model.name().to_string())];
        if self.model.is_cnn() {
            pairs.push(("width-mult", self.width_mult.to_string()));
            pairs.push(("batch-norm", self.batch_norm.to_string()));
        } else {
            pairs.push(("depth", self.depth.to_string()));
            pairs.push(("width", self.width.to_string()));
        }
        pairs.extend([
            ("dataset", self.dataset.name().to_string()),
            ("epochs", self.epochs.to_string()),
            ("batch-size", self.batch_size.to_string()),
            (
                "optimizer",
                match self.optimizer {
                    OptimizerKind::Sgd => "sgd",
                    OptimizerKind::Adam => "adam",
                }
                .to_string(),
            ),
            ("lr", self.lr.to_string()),
            ("momentum", self.momentum.to_string()),
            ("weight-decay", self.weight_decay.to_string()),
            ("lr-decay", self.lr_decay.to_string()),
            ("lr-milestones", join_list(&self.lr_milestones)),
            ("checkpoints", join_list(&self.checkpoints)),
            ("seed", self.seed.to_string()),
        ]);
        if let Some(n) = self.train_limit {
            pairs.push(("train-limit", n.to_string()));
        }
        if let Some(n) = self.test_limit {
            pairs.push(("test-limit", n.to_string()));
        }
        pairs.push(("augment", self.augment.to_string()));
        if !self.joint.is_empty() {
            let sets: Vec<String> = self.joint.iter().map(|s| s.join(",")).collect();
            pairs.push(("joint", sets.join(";")));
        }
        pairs.push(("eval-batch-size", self.eval_batch_size.to_string()));
        pairs
    }

    /// The same config with the keys its model ignores at their defaults (an FCN has no width
    /// multiplier, a CNN no depth): what `to_pairs` and links carry, so two configs that run the
    /// same experiment are equal.
    pub fn canonical(mut self) -> Self {
        let defaults = Self::default();
        if self.model.is_cnn() {
            self.depth = defaults.depth;
            self.width = defaults.width;
        } else {
            self.width_mult = defaults.width_mult;
            self.batch_norm = false;
        }
        self
    }

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
        // A config read from a file must be one that `from_pairs` could have built, so that it
        // travels through links and fragments unchanged.
        if !self.checkpoints.windows(2).all(|w| w[0] < w[1])
            || !self.lr_milestones.windows(2).all(|w| w[0] < w[1])
        {
            return invalid("checkpoints and lr-milestones must be increasing".into());
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

    /// The architecture this config describes.
    #[cfg(feature = "engine")]
    pub fn architecture(&self) -> Architecture {
        match self.model {
            ModelKind::Fcn => Architecture::Fcn {
                depth: self.depth,
                width: self.width,
            },
            ModelKind::Vgg11 | ModelKind::Vgg13 | ModelKind::Vgg16 | ModelKind::Vgg19 => Architecture::Vgg {
                variant: match self.model {
                    ModelKind::Vgg11 => vgg::Variant::Vgg11,
                    ModelKind::Vgg13 => vgg::Variant::Vgg13,
                    ModelKind::Vgg16 => vgg::Variant::Vgg16,
                    _ => vgg::Variant::Vgg19,
                },
                width_mult: self.width_mult,
                batch_norm: self.batch_norm,
            },
            ModelKind::Resnet18 | ModelKind::Resnet34 => Architecture::ResNet {
                variant: if self.model == ModelKind::Resnet18 {
                    resnet::Variant::ResNet18
                } else {
                    resnet::Variant::ResNet34
                },
                width_mult: self.width_mult,
                batch_norm: self.batch_norm,
            },
        }
    }

    /// Learning rate during epoch `epoch` (0-based): decayed once per milestone already reached,
    /// like PyTorch's `MultiStepLR` stepped once per epoch.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        let decays = self.lr_milestones.iter().filter(|&&m| m <= epoch).count();
        self.lr * self.lr_decay.powi(decays as i32)
    }

    /// A short human label, e.g. "fcn 3x256 · mnist · 5 epochs".
    pub fn label(&self) -> String {
        let model = if self.model.is_cnn() {
            format!(
                "{} x{}{}",
                self.model.name(),
                self.width_mult,
                if self.batch_norm { " bn" } else { "" }
            )
        } else {
            format!("fcn {}x{}", self.depth, self.width)
        };
        format!("{model} · {} · {} epochs", self.dataset.name(), self.epochs)
    }
}

/// Named configurations for the CLI's `--preset` and the page's preset buttons.
pub fn preset(name: &str) -> Option<Vec<(&'static str, &'static str)>> {
    let pairs: Vec<(&str, &str)> = match name {
        // A classroom demo: seconds on a laptop's CPU. Learning rate 0.05 (the paper's 0.01
        // needs more epochs) trains far enough in 2 epochs that only layer1 is critical, for
        // every seed (BENCHMARKS.md, seed study).
        "quick" => vec![
            ("model", "fcn"),
            ("depth", "3"),
            ("width", "256"),
            ("epochs", "2"),
            ("lr", "0.05"),
            ("checkpoints", "0,1,2"),
            ("train-limit", "20000"),
            ("test-limit", "5000"),
        ],
        // The paper's Figure 1 protocol.
        "paper-fcn" => vec![
            ("model", "fcn"),
            ("depth", "3"),
            ("width", "256"),
            ("epochs", "100"),
            ("lr", "0.01"),
            ("momentum", "0.9"),
            ("lr-decay", "0.2"),
            ("lr-milestones", "30,60,90"),
            ("checkpoints", "0,1,2,3,8,40,90,100"),
        ],
        // A VGG a browser trains in minutes that shows the paper's CNN pattern: stages 1-4
        // critical, stage 5 and the dense layers robust, as the 10-epoch VGG-11 x0.25 map does
        // (lr 0.02 for 5 epochs left only stage1 critical; BENCHMARKS.md, seed study).
        "vgg-small" => vec![
            ("model", "vgg11"),
            ("width-mult", "0.25"),
            ("epochs", "6"),
            ("lr", "0.05"),
            ("checkpoints", "0,1,2,6"),
            ("train-limit", "10000"),
            ("test-limit", "2000"),
        ],
        "paper-vgg" => vec![
            ("model", "vgg11"),
            ("width-mult", "1"),
            ("epochs", "100"),
            ("lr", "0.02"),
            ("weight-decay", "0.0005"),
            ("lr-milestones", "30,60,90"),
            ("augment", "true"),
            ("checkpoints", "0,1,2,3,10,40,90,100"),
        ],
        "resnet-small" => vec![
            ("model", "resnet18"),
            ("width-mult", "0.25"),
            ("epochs", "5"),
            ("lr", "0.05"),
            ("checkpoints", "0,1,2,5"),
            ("train-limit", "10000"),
            ("test-limit", "2000"),
        ],
        "paper-resnet" => vec![
            ("model", "resnet18"),
            ("width-mult", "1"),
            ("epochs", "100"),
            ("lr", "0.1"),
            ("weight-decay", "0.0005"),
            ("lr-milestones", "30,60,90"),
            ("augment", "true"),
            ("checkpoints", "0,1,2,3,10,40,90,100"),
        ],
        _ => return None,
    };
    Some(pairs)
}

/// Preset names with one-line descriptions.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "quick",
        "classroom demo: FCN 3x256 on 20k MNIST examples, 2 epochs at lr 0.05",
    ),
    ("paper-fcn", "paper Figure 1: FCN 3x256 on MNIST, 100 epochs"),
    (
        "vgg-small",
        "VGG-11 x0.25 on 10k CIFAR-10 examples, 6 epochs at lr 0.05",
    ),
    ("paper-vgg", "paper-sized VGG-11 on CIFAR-10, 100 epochs"),
    (
        "resnet-small",
        "ResNet-18 x0.25 on 10k CIFAR-10 examples, 5 epochs",
    ),
    ("paper-resnet", "paper-sized ResNet-18 on CIFAR-10, 100 epochs"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip() {
        let c = ExperimentConfig::from_pairs([
            ("model", "fcn"),
            ("epochs", "7"),
            ("checkpoints", "0,7,2"),
            ("joint", "layer2,layer3;layer1,layer4"),
            ("train-limit", "100"),
        ])
        .unwrap();
        assert_eq!(c.checkpoints, vec![0, 2, 7]);
        assert_eq!(c.joint.len(), 2);
        let pairs = c.to_pairs();
        let again = ExperimentConfig::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn model_dependent_defaults() {
        let r = ExperimentConfig::from_pairs([("model", "resnet18")]).unwrap();
        assert!(r.batch_norm);
        assert_eq!(r.dataset, DatasetKind::Cifar10);
        let v = ExperimentConfig::from_pairs([("model", "vgg11"), ("epochs", "10")]).unwrap();
        assert!(!v.batch_norm);
        assert_eq!(v.checkpoints, vec![0, 1, 2, 3, 10]);
    }

    #[test]
    fn bad_values_are_named() {
        let e = ExperimentConfig::from_pairs([("lr", "fast")]).unwrap_err();
        assert_eq!(e.to_string(), "option 'lr': 'fast' is not a number");
        let e = ExperimentConfig::from_pairs([("epochs", "2"), ("checkpoints", "0,3")]).unwrap_err();
        assert!(e.to_string().contains("checkpoint 3"), "{e}");
        assert!(matches!(
            ExperimentConfig::from_pairs([("colour", "red")]),
            Err(ConfigError::UnknownKey(_))
        ));
        assert!(ExperimentConfig::from_pairs([("model", "vgg11"), ("dataset", "mnist")]).is_err());
    }

    #[test]
    fn schedule_matches_multistep() {
        let c = ExperimentConfig::from_pairs([("epochs", "100"), ("lr-milestones", "30,60,90")]).unwrap();
        assert_eq!(c.lr_at(0), 0.01);
        assert_eq!(c.lr_at(29), 0.01);
        assert!((c.lr_at(30) - 0.002).abs() < 1e-12);
        assert!((c.lr_at(95) - 0.01 * 0.2f64.powi(3)).abs() < 1e-12);
    }

    #[test]
    fn presets_parse() {
        for (name, _) in PRESETS {
            let pairs = preset(name).unwrap();
            ExperimentConfig::from_pairs(pairs).unwrap();
        }
    }
}
