//! SGD with momentum and Adam over the flat weight vector, with PyTorch's update rules.
//!
//! Written out rather than taken from burn-optim because the weights are a plain vector of
//! tensors (see `models`), and because the exact rule matters for matching reference runs:
//! SGD: `b ← μ·b + g` (b = g on the first step), `θ ← θ − lr·b`; weight decay adds `λ·θ` to
//! `g` for weights (not biases or batch-norm parameters).

use crate::engine::config::OptimizerKind;
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
        }
    }

    /// Updates every trainable tensor of `params` (autodiff leaves) from `grads`.
    pub fn step(&mut self, params: &mut [Tensor<1>], specs: &[TensorSpec], grads: &mut Gradients, lr: f64) {
        self.steps += 1;
        for (i, spec) in specs.iter().enumerate() {
            if !spec.role.trainable() {
                continue;
            }
            let Some(mut grad) = params[i].grad_remove(grads) else {
                continue;
            };
            let value = params[i].clone().inner();
            if self.weight_decay > 0.0 && spec.role.decays() {
                grad = grad + value.clone().mul_scalar(self.weight_decay);
            }
            let update = match self.kind {
                OptimizerKind::Sgd => {
                    if self.momentum > 0.0 {
                        let buffer = match std::mem::replace(&mut self.slots[i], Slot::Empty) {
                            Slot::Momentum(b) => b.mul_scalar(self.momentum) + grad,
                            _ => grad,
                        };
                        self.slots[i] = Slot::Momentum(buffer.clone());
                        buffer
                    } else {
                        grad
                    }
                }
                OptimizerKind::Adam => {
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
                    m_hat / v_hat.sqrt().add_scalar(EPS)
                }
            };
            params[i] = (value - update.mul_scalar(lr)).autodiff().require_grad();
        }
    }
}
