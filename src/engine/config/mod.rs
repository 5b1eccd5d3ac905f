//! The experiment configuration: one struct, one set of key names, three spellings.
//!
//! The same keys are the CLI's long flags (`--batch-size 128`), the page's URL fragment
//! (`#batch-size=128`) and the `config` object of the result file, so a result can be rerun
//! from its file, its link or a command line, and nothing has to translate between them.
//!
//! Each key is declared once, in the `experiment_keys!` block below: its field, type, default,
//! help text, the models it applies to, and (through its type's [`Value`] impl) how it parses,
//! prints and renders as a form control. The struct, its `Default`, the [`KEYS`] table that the
//! CLI, the fragment, links, the form and `from_pairs`/`to_pairs` read, all come from it.

mod validate;
mod value;

pub use value::{Control, Family, Key, Value};

use crate::engine::data::DatasetKind;
#[cfg(feature = "engine")]
use crate::engine::models::{Architecture, resnet, vgg};
use serde::{Deserialize, Serialize};

/// An enum whose values are spelled one way everywhere (CLI, fragment, file, form): the enum,
/// its `ALL`/`NAMES` in declaration order, `name`/`parse`, serde, and its [`Value`] impl.
macro_rules! spelled_enum {
    ($(#[doc = $doc:literal])* $name:ident, expected $expected:literal {
        $($variant:ident => $spelling:literal),* $(,)?
    }) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $( #[serde(rename = $spelling)] $variant, )*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            /// Spellings, in the order of [`Self::ALL`] (and of the discriminants).
            pub const NAMES: &'static [&'static str] = &[$($spelling),*];

            pub fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }

            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim().to_ascii_lowercase();
                Self::ALL.iter().copied().find(|v| v.name() == s)
            }
        }

        impl Value for $name {
            const EXPECTED: &'static str = $expected;
            const CONTROL: Control = Control::Choice($name::NAMES);
            fn parse(text: &str) -> Option<Self> {
                $name::parse(text)
            }
            fn format(&self) -> Option<String> {
                Some(self.name().to_string())
            }
        }
    };
}

spelled_enum! {
    /// Model family and variant.
    ModelKind, expected "one of fcn, vgg11, vgg13, vgg16, vgg19, resnet18, resnet34" {
        Fcn => "fcn",
        Vgg11 => "vgg11",
        Vgg13 => "vgg13",
        Vgg16 => "vgg16",
        Vgg19 => "vgg19",
        Resnet18 => "resnet18",
        Resnet34 => "resnet34",
    }
}

spelled_enum! {
    /// Optimizer choice.
    OptimizerKind, expected "sgd or adam" {
        Sgd => "sgd",
        Adam => "adam",
    }
}

impl ModelKind {
    pub fn is_cnn(self) -> bool {
        self != ModelKind::Fcn
    }

    pub fn is_resnet(self) -> bool {
        matches!(self, ModelKind::Resnet18 | ModelKind::Resnet34)
    }

    /// The data set a model is built for.
    pub fn default_dataset(self) -> DatasetKind {
        if self.is_cnn() {
            DatasetKind::Cifar10
        } else {
            DatasetKind::Mnist
        }
    }
}

/// Declares the config: each entry is one key (doc, field, type, default, CLI/fragment name,
/// the models it applies to, help, and optionally a default derived from other keys).
macro_rules! experiment_keys {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $ty:ty = $default:expr;
            key $name:literal, $family:ident, $help:literal $(, derived $derive:expr)?;
    )*) => {
        /// Everything needed to rerun an experiment (data location and output path excepted).
        /// A key missing from a stored config (a file written before the key existed) takes
        /// its default, so adding a key keeps old result files readable.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
        pub struct ExperimentConfig {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Default for ExperimentConfig {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        /// Every key, in the order help texts, forms and fragments list them.
        pub const KEYS: &[Key] = &[$(
            Key {
                name: $name,
                help: $help,
                family: Family::$family,
                control: <$ty as Value>::CONTROL,
                flag: <$ty as Value>::FLAG,
                expected: <$ty as Value>::EXPECTED,
                set: |c, text| {
                    c.$field = <$ty as Value>::parse(text)?;
                    Some(())
                },
                get: |c| Value::format(&c.$field),
                reset: |c| c.$field = $default,
                derive: experiment_keys!(@derive $($derive)?),
            },
        )*];
    };
    (@derive) => { None };
    (@derive $derive:expr) => { Some($derive) };
}

experiment_keys! {
    model: ModelKind = ModelKind::Fcn;
        key "model", All, "fcn | vgg11 | vgg13 | vgg16 | vgg19 | resnet18 | resnet34";
    /// FCN: hidden layers.
    depth: usize = 3;
        key "depth", Fcn, "FCN hidden layers (default 3)";
    /// FCN: units per hidden layer.
    width: usize = 256;
        key "width", Fcn, "FCN hidden units per layer (default 256)";
    /// CNNs: channel multiplier on the standard widths (64…512).
    width_mult: f64 = 1.0;
        key "width-mult", Cnn, "CNN channel multiplier, e.g. 0.25 (default 1)";
    /// CNNs: batch norm after each convolution (VGG) / in each block (ResNet).
    batch_norm: bool = false;
        key "batch-norm", Cnn, "CNN batch norm: true | false (default: false for VGG, true for ResNet)",
        derived |c| c.batch_norm = c.model.is_resnet();
    dataset: DatasetKind = DatasetKind::Mnist;
        key "dataset", All, "mnist | cifar10 (default: mnist for fcn, cifar10 for CNNs)",
        derived |c| c.dataset = c.model.default_dataset();
    epochs: usize = 5;
        key "epochs", All, "training epochs (default 5)";
    batch_size: usize = 128;
        key "batch-size", All, "examples per step (default 128)";
    optimizer: OptimizerKind = OptimizerKind::Sgd;
        key "optimizer", All, "sgd | adam (default sgd)";
    lr: f64 = 0.01;
        key "lr", All, "learning rate (default 0.01)";
    momentum: f64 = 0.9;
        key "momentum", All, "SGD momentum (default 0.9)";
    weight_decay: f64 = 0.0;
        key "weight-decay", All, "L2 weight decay on weights (default 0)";
    /// Factor applied to the learning rate at each milestone epoch.
    lr_decay: f64 = 0.2;
        key "lr-decay", All, "learning-rate factor at each milestone (default 0.2)";
    lr_milestones: Vec<usize> = Vec::new();
        key "lr-milestones", All, "epochs where the learning rate decays, e.g. 30,60,90 (default none)";
    /// Epochs after which every unit is saved (0 = the initial weights).
    checkpoints: Vec<usize> = vec![0, 1, 2, 3, 5];
        key "checkpoints", All, "epochs to save, 0 = initial weights (default 0,1,2,3,<epochs>)",
        derived |c| c.checkpoints = [0, 1, 2, 3, c.epochs].into_iter().filter(|&e| e <= c.epochs).collect();
    seed: u64 = 0;
        key "seed", All, "seed of initialisation, shuffling, re-randomization (default 0)";
    train_limit: Option<usize> = None;
        key "train-limit", All, "use only the first N training examples";
    test_limit: Option<usize> = None;
        key "test-limit", All, "use only the first N test examples";
    /// Random crop (4-pixel padding) and horizontal flip of training images.
    augment: bool = false;
        key "augment", All, "random crop + flip of training images: true | false";
    /// Sets of units reset together in the sweep.
    joint: Vec<Vec<String>> = Vec::new();
        key "joint", All, "units reset together, e.g. layer2,layer3; several sets separated by ';'";
    /// Module criticality (Chatterji et al.): each unit moved along the line from its initial to
    /// its trained weights, `(1 − α)·θ⁰ + α·θ`, at each of these α.
    interpolation: Vec<f64> = Vec::new();
        key "interpolation", All, "α values for module criticality, unit set to (1-α)·initial + α·trained, e.g. 0,0.25,0.5,0.75,1 (default none)";
    /// Several seeds, each trained and swept as its own run; maps show their mean.
    seeds: Vec<u64> = Vec::new();
        key "seeds", All, "train and sweep several seeds, maps show the mean, e.g. 0-4 or 0,3,7 (default: only seed)";
    /// Examples per forward pass when evaluating.
    eval_batch_size: usize = 1000;
        key "eval-batch-size", All, "examples per evaluation pass (default 1000)";
}

/// The declaration of key `name`.
pub fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
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
    #[error("unknown preset '{0}'")]
    UnknownPreset(String),
}

impl ExperimentConfig {
    /// Builds a config from `key=value` pairs on top of the defaults. Keys with a derived
    /// default (`dataset`, `batch-norm`, `checkpoints`) get it when absent. The result is
    /// validated.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let mut given = [false; KEYS.len()];
        for (name, value) in pairs {
            let at = KEYS
                .iter()
                .position(|k| k.name == name)
                .ok_or_else(|| ConfigError::UnknownKey(name.to_string()))?;
            let key = &KEYS[at];
            (key.set)(&mut c, value).ok_or_else(|| ConfigError::BadValue {
                key: name.into(),
                value: value.into(),
                expected: key.expected.into(),
            })?;
            given[at] = true;
        }
        for (key, given) in KEYS.iter().zip(given) {
            if let (false, Some(derive)) = (given, key.derive) {
                derive(&mut c);
            }
        }
        c.checkpoints.sort_unstable();
        c.checkpoints.dedup();
        c.lr_milestones.sort_unstable();
        c.lr_milestones.dedup();
        // -0 is 0 (the same α, printed without its sign).
        c.interpolation.iter_mut().for_each(|a| *a += 0.0);
        c.interpolation.sort_unstable_by(f64::total_cmp);
        c.interpolation.dedup();
        c.seeds.sort_unstable();
        c.seeds.dedup();
        c.validate()?;
        Ok(c)
    }

    /// The config as `key=value` pairs (the inverse of `from_pairs`): every key its model uses,
    /// unset optional ones left out.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        KEYS.iter()
            .filter(|k| k.family.includes(self.model))
            .filter_map(|k| Some((k.name, (k.get)(self)?)))
            .collect()
    }

    /// `key=value&key=value`: the pairs as one query-like text, each value passed through
    /// `escape` (percent-encoding for a URL fragment; none inside a link's binary record).
    pub fn to_query(&self, escape: impl Fn(&str) -> String) -> String {
        self.to_pairs()
            .into_iter()
            .map(|(k, v)| format!("{k}={}", escape(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The same config with the keys its model ignores at their defaults (an FCN has no width
    /// multiplier, a CNN no depth): what `to_pairs` and links carry, so two configs that run the
    /// same experiment are equal.
    pub fn canonical(mut self) -> Self {
        let model = self.model;
        for key in KEYS.iter().filter(|k| !k.family.includes(model)) {
            (key.reset)(&mut self);
        }
        self
    }

    /// The single-seed run of seed `seed` within this (multi-seed) config.
    pub fn for_seed(&self, seed: u64) -> Self {
        Self {
            seed,
            seeds: Vec::new(),
            ..self.clone()
        }
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

    /// "seed 3", or "seeds 0-4" for a multi-seed run.
    pub fn seed_label(&self) -> String {
        match Value::format(&self.seeds) {
            Some(seeds) => format!("seeds {seeds}"),
            None => format!("seed {}", self.seed),
        }
    }
}

#[cfg(test)]
mod tests;
