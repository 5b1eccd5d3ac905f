//! One resource budget for a config: memory and compute, estimated before anything runs.
//!
//! Config validation refuses what cannot fit (the CLI, the page's form, URL fragments, links and
//! result files all go through it), and the page asks before a link starts a heavy run. The
//! estimate is analytic (no burn here, so the page's UI module can use it); a test checks its
//! parameter count against the models themselves.

use crate::engine::config::{ExperimentConfig, ModelKind, OptimizerKind};
use crate::engine::data::DatasetKind;

/// Memory a run may need at most: a wasm32 page cannot address more than 4 GiB, and a run that
/// needs it would not fit a browser tab.
pub const MEMORY_LIMIT_BYTES: f64 = 4.0 * 1024.0 * 1024.0 * 1024.0;
/// Compute a run may need at most: 10¹⁷ floating-point operations is weeks of a laptop GPU (the
/// paper's ResNet-18 protocol needs about 10¹⁶).
pub const COMPUTE_LIMIT_FLOPS: f64 = 1e17;

/// Output channels of VGG's stages (before the width multiplier).
pub const VGG_WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];
/// ResNet's stage widths (before the width multiplier).
pub const RESNET_WIDTHS: [usize; 4] = [64, 128, 256, 512];

/// Convolutions per stage of a VGG variant.
pub fn vgg_convs_per_stage(model: ModelKind) -> [usize; 5] {
    match model {
        ModelKind::Vgg13 => [2, 2, 2, 2, 2],
        ModelKind::Vgg16 => [2, 2, 3, 3, 3],
        ModelKind::Vgg19 => [2, 2, 4, 4, 4],
        _ => [1, 1, 2, 2, 2],
    }
}

/// Residual blocks per stage of a ResNet variant.
pub fn resnet_blocks_per_stage(model: ModelKind) -> [usize; 4] {
    match model {
        ModelKind::Resnet34 => [3, 4, 6, 3],
        _ => [2, 2, 2, 2],
    }
}

/// Reset units of the model a config describes (`layer1…`, `stage…`, `fc1`, …).
pub fn unit_count(config: &ExperimentConfig) -> usize {
    match config.model {
        ModelKind::Fcn => config.depth + 1,
        m if m.is_resnet() => 2 + resnet_blocks_per_stage(m).iter().sum::<usize>(),
        m => 3 + vgg_convs_per_stage(m).iter().sum::<usize>(),
    }
}

/// Scales a channel count by a width multiplier (at least one channel).
pub fn scaled(channels: usize, mult: f64) -> usize {
    ((channels as f64 * mult).round() as usize).max(1)
}

/// What a config costs, roughly (memory within a small factor, compute within a few percent).
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Trained parameters (exact).
    pub trainable_parameters: f64,
    /// Trained parameters plus batch-norm running statistics.
    pub stored_values: f64,
    /// Multiply-adds of one example's forward pass.
    pub forward_macs: f64,
    /// Activation values of one example's forward pass.
    pub activations_per_example: f64,
    pub train_examples: f64,
    pub test_examples: f64,
    /// Bytes: weights, gradients and optimizer state while training.
    pub training_state_bytes: f64,
    /// Bytes: every checkpoint, the initial weights and the re-randomized draws.
    pub checkpoint_bytes: f64,
    /// Bytes: activations (and their gradients) of one training batch, or what one evaluation
    /// batch holds at once, whichever is larger.
    pub activation_bytes: f64,
    /// Bytes: the test set, uploaded once as floats.
    pub test_set_bytes: f64,
    /// Floating-point operations of training (forward and backward) and of the sweep.
    pub train_flops: f64,
    pub sweep_flops: f64,
}

/// Accumulates a model's cost layer by layer.
#[derive(Default)]
struct Tally {
    trainable: f64,
    buffers: f64,
    macs: f64,
    activations: f64,
    /// The largest single activation (what an evaluation, keeping no graph, holds at once).
    largest: f64,
}

impl Tally {
    fn activation(&mut self, values: usize) {
        self.activations += values as f64;
        self.largest = self.largest.max(values as f64);
    }

    fn dense(&mut self, inputs: usize, outputs: usize, relu: bool) {
        self.trainable += ((inputs + 1) * outputs) as f64;
        self.macs += (inputs * outputs) as f64;
        self.activation(outputs);
        if relu {
            self.activation(outputs);
        }
    }

    /// A square convolution over `size × size` outputs.
    fn conv(&mut self, inputs: usize, outputs: usize, kernel: usize, size: usize, bias: bool) {
        self.trainable += (inputs * outputs * kernel * kernel + if bias { outputs } else { 0 }) as f64;
        self.macs += (inputs * outputs * kernel * kernel * size * size) as f64;
        self.activation(outputs * size * size);
    }

    fn norm(&mut self, channels: usize, size: usize) {
        self.trainable += 2.0 * channels as f64;
        self.buffers += 2.0 * channels as f64;
        self.activation(channels * size * size);
    }

    /// A ReLU (or pooling) output of `values` per example.
    fn map(&mut self, values: usize) {
        self.activation(values);
    }
}

fn tally(config: &ExperimentConfig) -> Tally {
    let [channels, side, _] = config.dataset.image_shape();
    let classes = 10;
    let mut t = Tally::default();
    let bn = config.batch_norm;
    match config.model {
        ModelKind::Fcn => {
            let mut fan_in = channels * side * side;
            for _ in 0..config.depth {
                t.dense(fan_in, config.width, true);
                fan_in = config.width;
            }
            t.dense(fan_in, classes, false);
        }
        ModelKind::Vgg11 | ModelKind::Vgg13 | ModelKind::Vgg16 | ModelKind::Vgg19 => {
            let (mut ch, mut size) = (channels, side);
            for (convs, width) in vgg_convs_per_stage(config.model).into_iter().zip(VGG_WIDTHS) {
                let out = scaled(width, config.width_mult);
                for _ in 0..convs {
                    t.conv(ch, out, 3, size, !bn);
                    if bn {
                        t.norm(out, size);
                    }
                    t.map(out * size * size);
                    ch = out;
                }
                size /= 2;
                t.map(ch * size * size);
            }
            let hidden = scaled(512, config.width_mult);
            t.dense(ch * size * size, hidden, true);
            t.dense(hidden, hidden, true);
            t.dense(hidden, classes, false);
        }
        ModelKind::Resnet18 | ModelKind::Resnet34 => {
            let mut size = side;
            let mut ch = scaled(64, config.width_mult);
            t.conv(channels, ch, 3, size, !bn);
            for (k, (blocks, width)) in resnet_blocks_per_stage(config.model)
                .into_iter()
                .zip(RESNET_WIDTHS)
                .enumerate()
            {
                let out = scaled(width, config.width_mult);
                for j in 0..blocks {
                    let stride = if k > 0 && j == 0 { 2 } else { 1 };
                    if bn {
                        t.norm(ch, size);
                    }
                    t.map(ch * size * size);
                    let next = size / stride;
                    t.conv(ch, out, 3, next, !bn);
                    if bn {
                        t.norm(out, next);
                    }
                    t.map(out * next * next);
                    t.conv(out, out, 3, next, !bn);
                    if stride != 1 || ch != out {
                        t.conv(ch, out, 1, next, !bn);
                    }
                    if !bn {
                        t.trainable += 1.0; // the branch's gain
                    }
                    t.map(out * next * next);
                    ch = out;
                    size = next;
                }
            }
            if bn {
                t.norm(ch, size);
            }
            t.map(ch * size * size);
            t.dense(ch, classes, false);
        }
    }
    t
}

/// Nominal sizes of the official data sets (a limit larger than the data is capped by the data).
fn nominal_sizes(kind: DatasetKind) -> (usize, usize) {
    match kind {
        DatasetKind::Mnist => (60_000, 10_000),
        DatasetKind::Cifar10 => (50_000, 10_000),
    }
}

/// Bytes as "1.2 GB".
pub fn bytes_text(bytes: f64) -> String {
    if bytes >= 1e9 {
        format!("{:.1} GB", bytes / 1e9)
    } else {
        format!("{:.0} MB", (bytes / 1e6).max(1.0))
    }
}

impl Estimate {
    pub fn of(config: &ExperimentConfig) -> Self {
        let t = tally(config);
        let (train_n, test_n) = nominal_sizes(config.dataset);
        let train_examples = config.train_limit.map_or(train_n, |l| l.min(train_n)) as f64;
        let test_examples = config.test_limit.map_or(test_n, |l| l.min(test_n)) as f64;
        let stored = t.trainable + t.buffers;
        let optimizer_slots = match config.optimizer {
            OptimizerKind::Adam => 2.0,
            OptimizerKind::Sgd if config.momentum > 0.0 => 1.0,
            OptimizerKind::Sgd => 0.0,
        };
        let [c, h, w] = config.dataset.image_shape();
        let example_len = (c * h * w) as f64;
        let batch = (config.batch_size as f64).min(train_examples);
        let eval_batch = (config.eval_batch_size as f64).min(test_examples);
        let units = unit_count(config);
        let checkpoints = config.checkpoints.len();
        let cells = crate::engine::events::plan_len(crate::engine::events::PlanShape {
            units,
            checkpoints,
            joint_sets: config.joint.len(),
            alphas: config.interpolation.len(),
        }) as f64;
        // A multi-seed run trains and sweeps once per seed.
        let runs = config.seeds.len().max(1) as f64;
        Self {
            trainable_parameters: t.trainable,
            stored_values: stored,
            forward_macs: t.macs,
            activations_per_example: t.activations,
            train_examples,
            test_examples,
            // Weights, gradients, the optimizer's slots and the step's new weights.
            training_state_bytes: 4.0 * stored * (3.0 + optimizer_slots),
            // Checkpoints, the initial weights and one re-randomized draw of every unit.
            checkpoint_bytes: 4.0 * stored * (checkpoints as f64 + 2.0),
            // A training batch keeps every activation and its gradient; an evaluation batch holds
            // a few layers' outputs at a time.
            activation_bytes: 4.0 * (2.0 * t.activations * batch).max(3.0 * t.largest * eval_batch)
                + 4.0 * example_len * batch.max(eval_batch),
            test_set_bytes: 4.0 * test_examples * (example_len + 11.0),
            train_flops: runs * 6.0 * t.macs * train_examples * config.epochs as f64,
            sweep_flops: runs * 2.0 * t.macs * test_examples * (cells + config.epochs as f64 + 1.0),
        }
    }

    pub fn memory_bytes(&self) -> f64 {
        self.training_state_bytes + self.checkpoint_bytes + self.activation_bytes + self.test_set_bytes
    }

    pub fn total_flops(&self) -> f64 {
        self.train_flops + self.sweep_flops
    }

    /// `Err` names what is over which limit.
    pub fn check(&self) -> Result<(), String> {
        let memory = self.memory_bytes();
        if memory > MEMORY_LIMIT_BYTES {
            return Err(format!(
                "this config needs about {} of memory ({:.3} M parameters: {} for training, {} for checkpoints, \
                 {} for activations, {} for the test set), more than the {} limit of a browser tab",
                bytes_text(memory),
                self.trainable_parameters / 1e6,
                bytes_text(self.training_state_bytes),
                bytes_text(self.checkpoint_bytes),
                bytes_text(self.activation_bytes),
                bytes_text(self.test_set_bytes),
                bytes_text(MEMORY_LIMIT_BYTES)
            ));
        }
        let flops = self.total_flops();
        if flops > COMPUTE_LIMIT_FLOPS {
            return Err(format!(
                "this config needs about {:.1e} floating-point operations, more than the limit of {:.0e} \
                 (weeks of a laptop GPU): use fewer epochs, a smaller model or less data",
                flops, COMPUTE_LIMIT_FLOPS
            ));
        }
        Ok(())
    }

    /// Whether this run is heavier than the paper's FCN protocol: the page asks before a link
    /// starts one.
    pub fn heavier_than_paper_fcn(&self) -> bool {
        let paper = crate::engine::presets::preset("paper-fcn")
            .expect("the paper-fcn preset exists")
            .config()
            .expect("the paper-fcn preset is valid");
        self.total_flops() > Estimate::of(&paper).total_flops() * 1.01
    }

    /// "about 2.1e13 operations, 40 MB": for the page's confirmation.
    pub fn summary(&self) -> String {
        format!(
            "{:.2} M parameters, about {:.1e} operations and {} of memory",
            self.trainable_parameters / 1e6,
            self.total_flops(),
            bytes_text(self.memory_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<ExperimentConfig, String> {
        ExperimentConfig::from_pairs(pairs.iter().copied()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_fcn_is_counted_exactly() {
        let e = Estimate::of(&config(&[("depth", "3"), ("width", "256")]).unwrap());
        assert_eq!(
            e.trainable_parameters,
            (785 * 256 + 257 * 256 * 2 + 257 * 10) as f64
        );
        assert!(e.memory_bytes() < 200e6, "{}", e.memory_bytes());
    }

    #[test]
    fn presets_fit_and_absurd_configs_are_refused_by_name() {
        for preset in crate::engine::presets::PRESETS {
            let c = config(preset.pairs).unwrap();
            Estimate::of(&c).check().unwrap();
        }
        let wide = config(&[("depth", "64"), ("width", "16384")]).unwrap_err();
        assert!(wide.contains("memory") && wide.contains("limit"), "{wide}");
        let many: String = (0..=2000).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        let e = config(&[("epochs", "2000"), ("checkpoints", &many)]).unwrap_err();
        assert!(e.contains("checkpoints"), "{e}");
        let deep: String = (0..=200).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        let e = config(&[
            ("depth", "60"),
            ("width", "16"),
            ("epochs", "200"),
            ("checkpoints", &deep),
        ])
        .unwrap_err();
        assert!(e.contains("cells a heat map can show"), "{e}");
        let long = config(&[("model", "resnet34"), ("width-mult", "4"), ("epochs", "10000")]).unwrap_err();
        assert!(long.contains("limit"), "{long}");
    }

    #[test]
    fn heavier_than_the_paper_fcn() {
        let quick = config(crate::engine::presets::preset("quick").unwrap().pairs).unwrap();
        assert!(!Estimate::of(&quick).heavier_than_paper_fcn());
        let vgg = config(crate::engine::presets::preset("paper-vgg").unwrap().pairs).unwrap();
        assert!(Estimate::of(&vgg).heavier_than_paper_fcn());
    }
}
