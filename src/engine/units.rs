//! Snapshot, restore and re-randomize reset units: the paper's core operation.
//!
//! A model's state is a `Weights` vector laid out like [`Model::tensors`]. A checkpoint is a
//! copy of that vector (cheap: tensors are reference-counted and never mutated in place while
//! shared), so a reset is a vector built from the trained weights with one unit's entries taken
//! from another vector. Nothing is re-uploaded and no other unit is touched.

use crate::engine::models::Model;
use crate::engine::rng::{Rng, Stream};
use burn::tensor::{Device, Tensor, TensorData};

/// The value of every tensor of a model, in layout order, without autodiff.
pub type Weights = Vec<Tensor<1>>;

/// Uploads host values as a 1-D tensor.
pub fn upload(values: Vec<f32>, device: &Device) -> Tensor<1> {
    let len = values.len();
    Tensor::from_data(TensorData::new(values, [len]), device)
}

/// The initial weights (checkpoint 0): each tensor drawn from its initializer by its own stream
/// of `seed`, so they are the same on every backend.
pub fn initial_weights(model: &Model, seed: u64, device: &Device) -> Weights {
    model
        .tensors
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut rng = Rng::derive(seed, Stream::Init, i as u64, 0);
            upload(spec.init.sample(spec.len(), &mut rng), device)
        })
        .collect()
}

/// A fresh draw of `unit` from its own initializers, independent of the initial draw (another
/// stream of the same seed). Returns `(tensor index, value)` pairs.
pub fn rerandomized_unit(model: &Model, unit: usize, seed: u64, device: &Device) -> Vec<(usize, Tensor<1>)> {
    model.units[unit]
        .tensors
        .iter()
        .map(|&t| {
            let spec = &model.tensors[t];
            let mut rng = Rng::derive(seed, Stream::Rerandomize, t as u64, 0);
            (t, upload(spec.init.sample(spec.len(), &mut rng), device))
        })
        .collect()
}

/// `unit` moved along the straight line from its initial weights to its trained ones:
/// `(1 − α)·θ⁰ + α·θ` for each of its tensors (exactly θ⁰ at α = 0 and θ at α = 1). Returns
/// `(tensor index, value)` pairs.
pub fn interpolated_unit(
    model: &Model,
    unit: usize,
    initial: &Weights,
    trained: &Weights,
    alpha: f64,
) -> Vec<(usize, Tensor<1>)> {
    model.units[unit]
        .tensors
        .iter()
        .map(|&t| {
            let start = initial[t].clone().mul_scalar(1.0 - alpha);
            (t, start.add(trained[t].clone().mul_scalar(alpha)))
        })
        .collect()
}

/// `base` with the tensors of `units` taken from `source`.
pub fn with_units_from(model: &Model, base: &Weights, units: &[usize], source: &Weights) -> Weights {
    let mut out = base.clone();
    for &u in units {
        for &t in &model.units[u].tensors {
            out[t] = source[t].clone();
        }
    }
    out
}

/// `base` with the given tensors replaced.
pub fn with_replacements(base: &Weights, replacements: &[(usize, Tensor<1>)]) -> Weights {
    let mut out = base.clone();
    for (t, value) in replacements {
        out[*t] = value.clone();
    }
    out
}
