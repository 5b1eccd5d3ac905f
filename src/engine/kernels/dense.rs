//! Dense layers on `f32` slices: `relu?(x · weight + bias)` with the bias and the ReLU applied
//! as each product row is written, and its gradients. burn-flex's own path made a product, a
//! broadcast add and a ReLU (three fresh buffers; each of its matmul outputs is zeroed and then
//! copied once more to re-align it), then as many passes back; in the page that was 6% of an FCN
//! step in allocation alone. The products are the deterministic `gemm`, so the page and the
//! command line still agree bit for bit.

use super::conv;
use gemm::Parallelism;

/// Whether burn-flex's ReLU keeps `v` (positive, or NaN as PyTorch keeps it), and so whether
/// its gradient passes there.
#[inline(always)]
fn keeps(v: f32) -> bool {
    v.is_nan() || v > 0.0
}

/// burn-flex's ReLU: the dense and convolution kernels apply it as they store their outputs,
/// with the values of burn's separate pass.
#[inline(always)]
pub(super) fn relu(v: f32) -> f32 {
    if keeps(v) { v } else { 0.0 }
}

/// `dst [m, n] := lhs [m, k] × rhs [k, n]`, `dst` row-major, on every core.
///
/// # Safety
/// As [`conv::product`]'s.
unsafe fn product(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
) {
    unsafe { conv::product(m, n, k, (dst, n as isize, 1), lhs, rhs, Parallelism::Rayon(0)) }
}

/// `x: [batch, inputs]`, `weight: [inputs, outputs]`, `bias: [outputs]` → `[batch, outputs]`.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], batch: usize, with_relu: bool) -> Vec<f32> {
    let outputs = bias.len();
    let inputs = weight.len() / outputs.max(1);
    assert!(x.len() == batch * inputs && weight.len() == inputs * outputs);
    let mut out = vec![0.0f32; batch * outputs];
    // [batch, outputs] = [batch, inputs] × [inputs, outputs]
    unsafe {
        product(
            batch,
            outputs,
            inputs,
            &mut out,
            (x.as_ptr(), inputs as isize, 1),
            (weight.as_ptr(), outputs as isize, 1),
        )
    };
    for row in out.chunks_exact_mut(outputs.max(1)) {
        for (v, b) in row.iter_mut().zip(bias) {
            let biased = *v + *b;
            *v = if with_relu { relu(biased) } else { biased };
        }
    }
    out
}

/// The gradient through the ReLU: `grad` where the output was positive (or NaN), else zero
/// (a select on every element, which vectorizes; a branch on the sign mispredicted often),
/// written over `grad`; a convolution's large maps split over the threads.
pub fn relu_mask(out: &[f32], grad: &mut [f32]) {
    assert_eq!(out.len(), grad.len());
    let len = grad.len();
    conv::in_parts(grad, len, 1, |mine, block| {
        for (g, o) in block.iter_mut().zip(&out[mine]) {
            *g = if keeps(*o) { *g } else { 0.0 };
        }
    });
}

/// The input gradient `[batch, inputs]` = `grad [batch, outputs] × weightᵀ`.
pub fn input_grad(weight: &[f32], grad: &[f32], batch: usize, outputs: usize) -> Vec<f32> {
    let inputs = weight.len() / outputs.max(1);
    assert!(grad.len() == batch * outputs && weight.len() == inputs * outputs);
    let mut dx = vec![0.0f32; batch * inputs];
    unsafe {
        product(
            batch,
            inputs,
            outputs,
            &mut dx,
            (grad.as_ptr(), outputs as isize, 1),
            (weight.as_ptr(), 1, outputs as isize),
        )
    };
    dx
}

/// The weight gradient `[inputs, outputs]` = `xᵀ × grad`.
pub fn weight_grad(x: &[f32], grad: &[f32], batch: usize, outputs: usize) -> Vec<f32> {
    let inputs = x.len() / batch.max(1);
    assert!(x.len() == batch * inputs && grad.len() == batch * outputs);
    let mut dw = vec![0.0f32; inputs * outputs];
    unsafe {
        product(
            inputs,
            outputs,
            batch,
            &mut dw,
            (x.as_ptr(), 1, inputs as isize),
            (grad.as_ptr(), outputs as isize, 1),
        )
    };
    dw
}

/// The bias gradient `[outputs]`: `grad`'s rows summed in order.
pub fn bias_grad(grad: &[f32], outputs: usize) -> Vec<f32> {
    let mut db = vec![0.0f32; outputs];
    for row in grad.chunks_exact(outputs.max(1)) {
        for (d, g) in db.iter_mut().zip(row) {
            *d += *g;
        }
    }
    db
}
