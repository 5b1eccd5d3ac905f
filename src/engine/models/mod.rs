//! The model families and their reset units.
//!
//! A model here is a *layout*: a list of named tensors (each with its shape, its initializer and
//! the reset unit it belongs to) plus a forward function over a slice of tensor values. Values
//! live outside the model, in a flat `Vec<Tensor<1>>` indexed like the layout. That makes the
//! paper's core operation, "put unit d back to its value at checkpoint τ", a matter of swapping a
//! few entries of a vector, identical for every architecture, and keeps batch-norm running
//! statistics (buffers) in the same place as weights so a reset restores them together.

pub mod fcn;
mod layers;
pub mod resnet;
pub mod vgg;

pub use layers::*;

use crate::engine::rng::Rng;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How a tensor's initial values are drawn. The same rule draws the re-randomized values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Init {
    /// PyTorch's (and burn's) default for linear and convolution layers, weights and biases
    /// alike: U(-1/√fan_in, 1/√fan_in) (Kaiming-uniform with a = √5).
    DefaultUniform {
        fan_in: usize,
    },
    /// He / Kaiming-normal with the ReLU gain: N(0, 2 / fan).
    HeNormal {
        fan: usize,
    },
    Zeros,
    Ones,
}

impl Init {
    /// Draws `len` values.
    pub fn sample(self, len: usize, rng: &mut Rng) -> Vec<f32> {
        match self {
            Init::DefaultUniform { fan_in } => {
                let bound = 1.0 / (fan_in as f64).sqrt();
                (0..len).map(|_| rng.uniform(-bound, bound) as f32).collect()
            }
            Init::HeNormal { fan } => {
                let std = (2.0 / fan as f64).sqrt();
                (0..len).map(|_| (rng.normal() * std) as f32).collect()
            }
            Init::Zeros => vec![0.0; len],
            Init::Ones => vec![1.0; len],
        }
    }

    /// The distribution's mean and standard deviation (for tests and the docs).
    pub fn moments(self) -> (f64, f64) {
        match self {
            Init::DefaultUniform { fan_in } => (0.0, 1.0 / (3.0 * fan_in as f64).sqrt()),
            Init::HeNormal { fan } => (0.0, (2.0 / fan as f64).sqrt()),
            Init::Zeros => (0.0, 0.0),
            Init::Ones => (1.0, 0.0),
        }
    }
}

/// What a tensor is, which decides whether the optimizer touches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Weight,
    Bias,
    /// Batch-norm scale (γ) and shift (β): trained, but exempt from weight decay.
    Norm,
    /// A learned scalar gain on a residual branch (normalization-free ResNets).
    Gain,
    /// Batch-norm running statistics: not trained, updated by the forward pass.
    RunningMean,
    RunningVar,
}

impl Role {
    pub fn trainable(self) -> bool {
        !matches!(self, Role::RunningMean | Role::RunningVar)
    }

    /// Weight decay applies to weights only (the usual convention).
    pub fn decays(self) -> bool {
        matches!(self, Role::Weight)
    }
}

/// One tensor of a model's layout.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    /// Dotted name, e.g. `stage2.resblk1.conv1.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    pub role: Role,
    /// Index into [`Model::units`].
    pub unit: usize,
}

impl TensorSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A reset unit: what one reset in the paper's sense touches.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitSpec {
    pub name: String,
    /// Indices into [`Model::tensors`].
    pub tensors: Vec<usize>,
}

/// Whether the forward pass trains batch norm (batch statistics) or evaluates it (running ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// Batch statistics a training forward pass computed, to fold into the running statistics.
pub struct BatchStats {
    pub mean_index: usize,
    pub var_index: usize,
    /// `[channels]`, biased (population) variance.
    pub mean: Tensor<1>,
    pub var: Tensor<1>,
    /// Values per channel the statistics were computed over (for the unbiased correction).
    pub count: usize,
}

/// What flows from one unit to the next.
#[derive(Clone, Debug)]
pub enum Activation {
    /// `[batch, features]`
    Flat(Tensor<2>),
    /// `[batch, channels, height, width]`
    Image(Tensor<4>),
}

impl Activation {
    /// The features of a dense layer's input or output.
    pub fn flat(self) -> Tensor<2> {
        match self {
            Activation::Flat(x) => x,
            Activation::Image(_) => unreachable!("a dense unit received an image batch"),
        }
    }

    pub fn image(self) -> Tensor<4> {
        match self {
            Activation::Image(x) => x,
            Activation::Flat(_) => unreachable!("a convolution unit received flat features"),
        }
    }

    /// Floats per example.
    pub fn example_len(&self) -> usize {
        match self {
            Activation::Flat(x) => x.dims()[1],
            Activation::Image(x) => x.dims()[1..].iter().product(),
        }
    }
}

/// The output of a forward pass.
pub struct Forward {
    /// `[batch, classes]`
    pub logits: Tensor<2>,
    pub batch_stats: Vec<BatchStats>,
}

/// Which architecture, with its size parameters (built from the config; not serialised itself).
#[derive(Clone, Debug, PartialEq)]
pub enum Architecture {
    Fcn {
        depth: usize,
        width: usize,
    },
    Vgg {
        variant: vgg::Variant,
        width_mult: f64,
        batch_norm: bool,
    },
    ResNet {
        variant: resnet::Variant,
        width_mult: f64,
        batch_norm: bool,
    },
}

enum Layout {
    Fcn(fcn::Fcn),
    Vgg(vgg::Vgg),
    ResNet(resnet::ResNet),
}

/// A laid-out model: tensors, units and the forward pass.
pub struct Model {
    pub architecture: Architecture,
    pub tensors: Vec<TensorSpec>,
    pub units: Vec<UnitSpec>,
    /// `[channels, height, width]` of one input.
    pub input_shape: [usize; 3],
    pub classes: usize,
    layout: Layout,
}

pub use crate::engine::budget::scaled;

impl Model {
    pub fn new(architecture: Architecture, input_shape: [usize; 3], classes: usize) -> Self {
        let mut builder = Builder::default();
        let layout = match &architecture {
            Architecture::Fcn { depth, width } => {
                let inputs = input_shape.iter().product();
                Layout::Fcn(fcn::Fcn::build(&mut builder, inputs, *depth, *width, classes))
            }
            Architecture::Vgg {
                variant,
                width_mult,
                batch_norm,
            } => Layout::Vgg(vgg::Vgg::build(
                &mut builder,
                *variant,
                input_shape,
                *width_mult,
                *batch_norm,
                classes,
            )),
            Architecture::ResNet {
                variant,
                width_mult,
                batch_norm,
            } => Layout::ResNet(resnet::ResNet::build(
                &mut builder,
                *variant,
                input_shape,
                *width_mult,
                *batch_norm,
                classes,
            )),
        };
        let (tensors, units) = builder.finish();
        Self {
            architecture,
            tensors,
            units,
            input_shape,
            classes,
            layout,
        }
    }

    /// `x: [batch, c*h*w]` (flattened images) to logits `[batch, classes]`: every unit in order.
    pub fn forward(&self, values: &[Tensor<1>], x: Tensor<2>, mode: Mode) -> Forward {
        let mut batch_stats = Vec::new();
        let logits = self
            .forward_units(values, self.input(x), 0..self.units.len(), mode, &mut batch_stats)
            .flat();
        Forward { logits, batch_stats }
    }

    /// What the first unit takes: `x: [batch, c*h*w]` as features (FCN) or images (CNNs).
    pub fn input(&self, x: Tensor<2>) -> Activation {
        match self.layout {
            Layout::Fcn(_) => Activation::Flat(x),
            Layout::Vgg(_) | Layout::ResNet(_) => {
                let [c, h, w] = self.input_shape;
                let batch = x.dims()[0];
                Activation::Image(x.reshape([batch, c, h, w]))
            }
        }
    }

    /// Runs `units` (a range of unit indices, in order) on `x`, the input of the range's first
    /// unit. The whole range is [`Model::forward`]; the reset sweep starts at the reset unit from
    /// the trained model's activations there, which gives the same values as running it all.
    pub fn forward_units(
        &self,
        values: &[Tensor<1>],
        x: Activation,
        units: core::ops::Range<usize>,
        mode: Mode,
        stats: &mut Vec<BatchStats>,
    ) -> Activation {
        units.fold(x, |x, unit| match &self.layout {
            Layout::Fcn(m) => Activation::Flat(m.unit(values, unit, x.flat())),
            Layout::Vgg(m) => m.unit(values, unit, x, mode, stats),
            Layout::ResNet(m) => m.unit(values, unit, x, mode, stats),
        })
    }

    pub fn unit_names(&self) -> Vec<String> {
        self.units.iter().map(|u| u.name.clone()).collect()
    }

    pub fn unit_index(&self, name: &str) -> Option<usize> {
        self.units.iter().position(|u| u.name == name)
    }

    /// Trainable parameter count.
    pub fn parameter_count(&self) -> usize {
        self.tensors
            .iter()
            .filter(|t| t.role.trainable())
            .map(TensorSpec::len)
            .sum()
    }

    /// Draws every tensor of `unit` from its initializer with `rng`.
    pub fn sample_unit(&self, unit: usize, rng: &mut Rng) -> Vec<(usize, Vec<f32>)> {
        self.units[unit]
            .tensors
            .iter()
            .map(|&t| (t, self.tensors[t].init.sample(self.tensors[t].len(), rng)))
            .collect()
    }
}
