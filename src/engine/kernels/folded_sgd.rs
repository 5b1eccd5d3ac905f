//! SGD steps folded into the dense layers' weight gradients, on the CPU kernels.
//!
//! As a pass of its own after the backward pass, the SGD step read every weight, its gradient
//! and its momentum buffer back from L3 (4 MB for the FCN, touched once a step after ~8 MB of
//! other traffic): a native FCN step without it ran 113k → 139k samples/s (BENCHMARKS.md,
//! issue 11). Folded in, each thread steps the block of weights whose gradient it has just
//! summed, while that block is in its cache, and the gradient itself is never stored: the
//! product's destination becomes the new weights. The rule and its roundings are the SGD pass's
//! (`CpuKernels::sgd_step` on burn-flex), so a run's bits do not change.
//!
//! The optimizer [`arm`]s a step for each weight that has a momentum buffer before the backward
//! pass, keyed by the address of the weight's values; the dense backward step's weight gradient
//! [`claim`]s the one for its weight, and [`disarm`] hands every buffer back after the pass,
//! saying which steps were taken. While a step is folded in, the gradient the backward pass
//! registers for that weight is its new value (the optimizer, which armed it, is the only reader
//! of those gradients). A weight feeding two layers would be stepped from one layer's share of
//! its gradient: none of the engine's models shares a weight, and the optimizer arms only
//! within a training step.

use super::{dense, values, values_mut};
use burn::backend::flex::FlexTensor;
use burn::backend::{
    BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind, TensorMetadata,
};
use burn::tensor::{DType, Tensor};
use std::cell::RefCell;

/// One weight's step, armed.
struct Armed {
    /// The optimizer's index of the weight.
    index: usize,
    /// Where the weight's values start, and how many.
    key: usize,
    len: usize,
    /// Its momentum buffer, the optimizer's (so written in place).
    buffer: FlexTensor,
    /// Momentum, weight decay, learning rate.
    scalars: [f32; 3],
    taken: bool,
}

thread_local! {
    /// The steps armed on this thread (the one that runs the training step and its backward
    /// pass; the products' helper threads only run parts of a claimed step).
    static ARMED: RefCell<Vec<Armed>> = const { RefCell::new(Vec::new()) };
}

/// burn-flex's tensor inside a (non-autodiff) CPU tensor.
fn flex(t: Tensor<1>) -> Option<FlexTensor> {
    match t.into_dispatch().kind {
        DispatchTensorKind::Flex(BackendTensor::Float(t)) => Some(t),
        _ => None,
    }
}

fn from_flex(t: FlexTensor) -> Tensor<1> {
    Tensor::from_dispatch(DispatchTensor {
        kind: DispatchTensorKind::Flex(BackendTensor::Float(t)),
        autodiff: DispatchAutodiffContext::Disabled,
    })
}

/// Arms the SGD step of weight `index`, whose value is `value` (the optimizer's parameter) and
/// momentum buffer `buffer`, with `[momentum, decay, lr]`: the backward pass's weight gradient
/// of `value` will take it. The buffer comes back from [`disarm`], or here, at once, if the
/// step cannot be folded (not a contiguous f32 tensor of burn-flex's, or lengths that differ).
pub(crate) fn arm(
    index: usize,
    value: &Tensor<1>,
    buffer: Tensor<1>,
    scalars: [f32; 3],
) -> Option<Tensor<1>> {
    let value = value.clone().inner();
    let fits = |t: &FlexTensor| t.dtype() == DType::F32 && t.as_slice::<f32>().is_some();
    let (Some(value), Some(buffer)) = (flex(value), flex(buffer.clone())) else {
        return Some(buffer);
    };
    if !fits(&value) || !fits(&buffer) || value.shape().num_elements() != buffer.shape().num_elements() {
        return Some(from_flex(buffer));
    }
    let values = values(&value);
    ARMED.with(|armed| {
        armed.borrow_mut().push(Armed {
            index,
            key: values.as_ptr() as usize,
            len: values.len(),
            buffer,
            scalars,
            taken: false,
        })
    });
    None
}

/// Every armed step's weight index and momentum buffer, and whether the backward pass took the
/// step (then the weight's registered gradient is its new value); nothing stays armed.
pub(crate) fn disarm() -> Vec<(usize, Tensor<1>, bool)> {
    let armed = ARMED.with(|armed| std::mem::take(&mut *armed.borrow_mut()));
    armed
        .into_iter()
        .map(|a| (a.index, from_flex(a.buffer), a.taken))
        .collect()
}

/// The weight gradient of `weight` (`dense::weight_grad`'s operands), or, when a step of
/// `weight` is armed, that step taken: `weight`'s new value, `[inputs, outputs]` like the
/// gradient, its momentum buffer updated in place.
pub(super) fn claim(
    weight: &FlexTensor,
    (x, grad, bias_grad): (&[f32], &[f32], &[f32]),
    sizes: (usize, usize),
    background: Option<f32>,
) -> Option<Vec<f32>> {
    let theta = weight.as_slice::<f32>()?;
    let key = theta.as_ptr() as usize;
    let position = ARMED.with(|armed| {
        armed
            .borrow()
            .iter()
            .position(|a| !a.taken && a.key == key && a.len == theta.len())
    })?;
    // Out of the list while the product runs (its parts may run on other threads).
    let mut step = ARMED.with(|armed| armed.borrow_mut().swap_remove(position));
    let stepped = dense::weight_grad_stepped(
        (x, grad, bias_grad),
        sizes,
        background,
        theta,
        values_mut(&mut step.buffer),
        step.scalars,
    );
    step.taken = true;
    ARMED.with(|armed| armed.borrow_mut().push(step));
    Some(stepped)
}
