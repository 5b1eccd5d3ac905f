//! SGD with momentum and Adam over the flat weight vector, with PyTorch's update rules.
//!
//! Written out rather than taken from burn-optim because the weights are a plain vector of
//! tensors (see `models`), and because the exact rule matters for matching reference runs:
//! SGD: `b ← μ·b + g` (b = g on the first step), `θ ← θ − lr·b`; weight decay adds `λ·θ` to
//! `g` for weights (not biases or batch-norm parameters).
//!
//! SGD on WebGPU runs over flat buffers of all the tensors at once ([`flat`]).

#[cfg(feature = "webgpu")]
mod flat;

use crate::engine::config::OptimizerKind;
use crate::engine::kernels;
use crate::engine::models::TensorSpec;
use burn::tensor::{Gradients, Tensor};

/// Optimizer state of one tensor (one per tensor, so the variants' sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum Slot {
    Empty,
    Momentum(Tensor<1>),
    Adam { m: Tensor<1>, v: Tensor<1> },
}

pub struct Optimizer {
    kind: OptimizerKind,
    momentum: f64,
    weight_decay: f64,
    slots: Vec<Slot>,
    steps: i32,
    /// SGD on WebGPU: one pass over flat buffers ([`flat`]); the slots stay empty.
    #[cfg(feature = "webgpu")]
    flat: Option<flat::FlatSgd>,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Optimizer {
    pub fn new(kind: OptimizerKind, momentum: f64, weight_decay: f64, tensors: usize) -> Self {
        Self {
            kind,
            momentum,
            weight_decay,
            slots: (0..tensors).map(|_| Slot::Empty).collect(),
            steps: 0,
            #[cfg(feature = "webgpu")]
            flat: None,
        }
    }

    /// The backward pass from `objective` (the training step's loss, on the autodiff graph over
    /// `params`), then [`Self::step`]. On the CPU, SGD with momentum has each dense weight's
    /// step taken inside the backward pass, as its gradient is summed
    /// (`kernels::folded_sgd`): the same rule and roundings, without a pass over the weights,
    /// their gradients and momentum buffers after it.
    /// Returns how many steps the backward pass took.
    pub fn backward_step(
        &mut self,
        objective: Tensor<1>,
        params: &mut [Tensor<1>],
        specs: &[TensorSpec],
        lr: f64,
    ) -> usize {
        let folding = self.kind == OptimizerKind::Sgd
            && self.momentum > 0.0
            && params.first().is_some_and(|p| kernels::on_cpu(&p.device()));
        // Nothing stays armed from a backward pass that never finished (a panic unwound it).
        drop(kernels::folded_sgd::disarm());
        if folding {
            for (i, spec) in specs.iter().enumerate() {
                let Slot::Momentum(buffer) = std::mem::replace(&mut self.slots[i], Slot::Empty) else {
                    continue;
                };
                let decay = if spec.role.decays() {
                    self.weight_decay
                } else {
                    0.0
                };
                // As `sgd_update` rounds them.
                let scalars = [self.momentum as f32, decay as f32, lr as f32];
                if let Some(buffer) = kernels::folded_sgd::arm(i, &params[i], buffer, scalars) {
                    self.slots[i] = Slot::Momentum(buffer);
                }
            }
        }
        let mut grads = objective.backward();
        let mut folded = 0;
        for (i, buffer, taken) in kernels::folded_sgd::disarm() {
            self.slots[i] = Slot::Momentum(buffer);
            if taken {
                folded += 1;
                // The weight's registered gradient is its new value.
                if let Some(value) = params[i].grad_remove(&mut grads) {
                    params[i] = value.autodiff().require_grad();
                }
            }
        }
        self.step(params, specs, &mut grads, lr);
        folded
    }

    /// Updates every trainable tensor of `params` (autodiff leaves) from `grads`.
    pub fn step(&mut self, params: &mut [Tensor<1>], specs: &[TensorSpec], grads: &mut Gradients, lr: f64) {
        self.steps += 1;
        let mut grads: Vec<Option<Tensor<1>>> = params
            .iter()
            .zip(specs)
            .map(|(p, spec)| spec.role.trainable().then(|| p.grad_remove(grads)).flatten())
            .collect();
        #[cfg(feature = "webgpu")]
        if self.kind == OptimizerKind::Sgd {
            // The path is chosen once, at the first step.
            if self.steps == 1 && flat::applies(params) {
                self.flat = Some(flat::FlatSgd::new(specs));
            }
            let complete = specs
                .iter()
                .zip(&grads)
                .all(|(spec, g)| !spec.role.trainable() || g.is_some());
            if let Some(flat) = &mut self.flat {
                if complete {
                    let scalars = [self.momentum as f32, self.weight_decay as f32, lr as f32];
                    flat.step(params, grads, scalars);
                    return;
                }
                // A tensor without a gradient keeps its value and momentum, as per tensor: the
                // flat update cannot skip it, so the run goes on per tensor from here.
                for (slot, buffer) in self.slots.iter_mut().zip(flat.buffers()) {
                    if let Some(buffer) = buffer {
                        *slot = Slot::Momentum(buffer);
                    }
                }
                self.flat = None;
            }
        }
        for (i, spec) in specs.iter().enumerate() {
            let Some(mut grad) = grads[i].take() else {
                continue;
            };
            let value = take_value(&mut params[i]);
            let decay = if spec.role.decays() {
                self.weight_decay
            } else {
                0.0
            };
            if self.kind == OptimizerKind::Sgd {
                let previous = match std::mem::replace(&mut self.slots[i], Slot::Empty) {
                    Slot::Momentum(b) => Some(b),
                    _ => None,
                };
                let (value, buffer) = sgd_update(value, grad, previous, self.momentum, decay, lr);
                if let Some(buffer) = buffer {
                    self.slots[i] = Slot::Momentum(buffer);
                }
                params[i] = value.autodiff().require_grad();
                continue;
            }
            if decay > 0.0 {
                grad = grad + value.clone().mul_scalar(decay);
            }
            // Adam.
            let (m, v) = match std::mem::replace(&mut self.slots[i], Slot::Empty) {
                Slot::Adam { m, v } => (
                    m.mul_scalar(BETA1) + grad.clone().mul_scalar(1.0 - BETA1),
                    v.mul_scalar(BETA2) + grad.square().mul_scalar(1.0 - BETA2),
                ),
                _ => (
                    grad.clone().mul_scalar(1.0 - BETA1),
                    grad.square().mul_scalar(1.0 - BETA2),
                ),
            };
            let m_hat = m.clone().div_scalar(1.0 - BETA1.powi(self.steps));
            let v_hat = v.clone().div_scalar(1.0 - BETA2.powi(self.steps));
            self.slots[i] = Slot::Adam { m, v };
            let update = m_hat / v_hat.sqrt().add_scalar(EPS);
            params[i] = (value - update.mul_scalar(lr)).autodiff().require_grad();
        }
    }
}

/// `param`'s value without its graph, for the step that replaces it (every path of
/// [`Optimizer::step`] refills the slot). On the CPU backend it is taken out, not cloned, so the
/// value's storage is the step's alone and its kernel updates it in place instead of copying it.
fn take_value(param: &mut Tensor<1>) -> Tensor<1> {
    let device = param.device();
    if kernels::on_cpu(&device) {
        std::mem::replace(param, Tensor::empty([0], &device)).inner()
    } else {
        param.clone().inner()
    }
}

/// One SGD step of one tensor: the new value and the momentum buffer to keep (none without
/// momentum), by [`kernels::sgd_step`] (one pass where the device has a kernel, burn's
/// operations elsewhere; the same rule and roundings everywhere).
pub fn sgd_update(
    value: Tensor<1>,
    grad: Tensor<1>,
    buffer: Option<Tensor<1>>,
    momentum: f64,
    decay: f64,
    lr: f64,
) -> (Tensor<1>, Option<Tensor<1>>) {
    let keep = momentum > 0.0;
    // Without momentum the update is the gradient itself: a first step every time.
    let buffer = buffer.filter(|_| keep);
    // Scalars round to f32 as burn's `mul_scalar` rounds them.
    let scalars = [momentum as f32, decay as f32, lr as f32];
    let (value, buffer) = kernels::sgd_step(value, grad, buffer, scalars);
    (value, keep.then_some(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kernels::cross_entropy;
    use crate::engine::models::{Architecture, Mode, Model};
    use crate::engine::rng::Rng;
    use crate::engine::units::initial_weights;
    use burn::tensor::{Device, TensorData};

    /// Every tensor's bits after four SGD steps on the CPU, each step's weight updates taken
    /// inside the backward pass (`backward_step`) or in a pass after it (`step`), and how many
    /// updates the backward passes took.
    fn trained(
        model: &Model,
        batch: usize,
        pixels: &[f32],
        decay: f64,
        folded: bool,
    ) -> (Vec<Vec<u32>>, usize) {
        let device = Device::flex();
        let mut params: Vec<Tensor<1>> = initial_weights(model, 3, &device)
            .into_iter()
            .map(|t| t.autodiff().require_grad())
            .collect();
        let mut optimizer = Optimizer::new(OptimizerKind::Sgd, 0.9, decay, params.len());
        let features = pixels.len() / batch;
        let x = Tensor::<2>::from_data(TensorData::new(pixels.to_vec(), [batch, features]), &device);
        let labels: Vec<i64> = (0..batch).map(|i| (i % model.classes) as i64).collect();
        let mut taken = 0;
        for _ in 0..4 {
            let logits = model.forward(&params, x.clone(), Mode::Train).logits; // [batch, classes]
            let objective = cross_entropy(logits, &labels);
            if folded {
                taken += optimizer.backward_step(objective, &mut params, &model.tensors, 0.05);
            } else {
                let mut grads = objective.backward();
                optimizer.step(&mut params, &model.tensors, &mut grads, 0.05);
            }
        }
        let bits = params
            .into_iter()
            .map(|p| {
                p.inner()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            })
            .collect();
        (bits, taken)
    }

    /// The steps taken inside the backward pass are the separate pass's, bit for bit: with and
    /// without weight decay, on the MLP's first layer of mostly-background images (the offset
    /// product, cut among the threads), its dense products, and a small model on one thread.
    #[test]
    fn steps_folded_into_the_backward_pass_are_the_same_bits() {
        let mut rng = Rng::from_seed(5);
        let background = (0.0 - 0.1307f32) / 0.3081;
        // Each image's corner is background, as MNIST's are (where the scan looks).
        let mnist_like: Vec<f32> = (0..128 * 784)
            .map(|i| {
                if i % 784 == 0 || rng.below(100) < 80 {
                    background
                } else {
                    rng.uniform(-0.4, 2.8) as f32
                }
            })
            .collect();
        let small: Vec<f32> = (0..6 * 15).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
        let cases = [
            (
                Model::new(Architecture::Fcn { depth: 3, width: 256 }, [1, 28, 28], 10),
                128,
                mnist_like,
            ),
            (
                Model::new(Architecture::Fcn { depth: 2, width: 13 }, [1, 3, 5], 4),
                6,
                small,
            ),
        ];
        for (model, batch, pixels) in &cases {
            let weights = model.tensors.iter().filter(|t| t.role.decays()).count();
            for decay in [0.0, 5e-4] {
                let (separate, none) = trained(model, *batch, pixels, decay, false);
                let (folded, taken) = trained(model, *batch, pixels, decay, true);
                assert_eq!(none, 0);
                // Every weight from the second step on (the first has no momentum buffer).
                assert_eq!(taken, 3 * weights, "steps folded");
                assert!(
                    separate == folded,
                    "decay {decay}: the folded steps changed a bit"
                );
            }
        }
    }
}
