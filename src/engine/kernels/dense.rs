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

/// A new row-major `[m, n]` holding `lhs [m, k] × rhs [k, n]`, on every core. `gemm` without
/// `read_dst` stores every element of its destination and never reads it, so the buffer is not
/// cleared first: clearing was 4–8% of a native FCN step, all of it on the calling thread.
///
/// # Safety
/// The views must address every element the shapes name.
pub(super) unsafe fn product(
    m: usize,
    n: usize,
    k: usize,
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
) -> Vec<f32> {
    let len = m * n;
    let mut out = Vec::<f32>::with_capacity(len);
    // Safety: the views are the caller's; `out` has room for `len` values, all of which the
    // product writes (`dst := lhs × rhs`) before the length is set.
    unsafe {
        let dst = out.spare_capacity_mut().as_mut_ptr().cast::<f32>();
        conv::product_to(
            m,
            n,
            k,
            (dst, n as isize, 1),
            false,
            lhs,
            rhs,
            Parallelism::Rayon(0),
        );
        out.set_len(len);
    }
    out
}

/// `x: [batch, inputs]`, `weight: [inputs, outputs]`, `bias: [outputs]` → `[batch, outputs]`.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], batch: usize, with_relu: bool) -> Vec<f32> {
    let outputs = bias.len();
    let inputs = weight.len() / outputs.max(1);
    assert!(x.len() == batch * inputs && weight.len() == inputs * outputs);
    // [batch, outputs] = [batch, inputs] × [inputs, outputs]
    let mut out = unsafe {
        product(
            batch,
            outputs,
            inputs,
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
    unsafe {
        product(
            batch,
            inputs,
            outputs,
            (grad.as_ptr(), outputs as isize, 1),
            (weight.as_ptr(), 1, outputs as isize),
        )
    }
}

/// The weight gradient `[inputs, outputs]` = `xᵀ × grad`.
pub fn weight_grad(x: &[f32], grad: &[f32], batch: usize, outputs: usize) -> Vec<f32> {
    let inputs = x.len() / batch.max(1);
    assert!(x.len() == batch * inputs && grad.len() == batch * outputs);
    unsafe {
        product(
            inputs,
            outputs,
            batch,
            (x.as_ptr(), 1, inputs as isize),
            (grad.as_ptr(), outputs as isize, 1),
        )
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The products fill fresh buffers without clearing them: on memory just freed full of NaN
    /// they still equal a plain sum, for shapes through the register tiles, their edges, the
    /// threads and the dot-product path (a weight gradient summed over 1,200 rows).
    #[test]
    fn products_write_every_element_of_reused_memory() {
        let values = |len: usize, salt: usize| -> Vec<f32> {
            (0..len).map(|i| ((i * 31 + salt) % 17) as f32 - 8.0).collect()
        };
        for (batch, inputs, outputs) in [
            (1, 1, 1),
            (3, 5, 7),
            (128, 784, 256),
            (33, 65, 130),
            (1200, 40, 24),
        ] {
            let (x, weight, grad) = (
                values(batch * inputs, 1),
                values(inputs * outputs, 2),
                values(batch * outputs, 3),
            );
            let at = |m: &[f32], cols: usize, r: usize, c: usize| m[r * cols + c];
            // Whole numbers: exact in any order, so a plain sum is the reference.
            let reference = |rows: usize,
                             cols: usize,
                             depth: usize,
                             a: &dyn Fn(usize, usize) -> f32,
                             b: &dyn Fn(usize, usize) -> f32|
             -> Vec<f32> {
                (0..rows * cols)
                    .map(|i| (0..depth).map(|p| a(i / cols, p) * b(p, i % cols)).sum())
                    .collect()
            };
            drop(vec![f32::NAN; batch * outputs]);
            let out = forward(&x, &weight, &vec![0.0; outputs], batch, false);
            let expected = reference(batch, outputs, inputs, &|r, p| at(&x, inputs, r, p), &|p, c| {
                at(&weight, outputs, p, c)
            });
            assert_eq!(out, expected, "forward {batch}×{inputs}×{outputs}");
            drop(vec![f32::NAN; batch * inputs]);
            let dx = input_grad(&weight, &grad, batch, outputs);
            let expected = reference(
                batch,
                inputs,
                outputs,
                &|r, p| at(&grad, outputs, r, p),
                &|p, c| at(&weight, outputs, c, p),
            );
            assert_eq!(dx, expected, "input grad {batch}×{inputs}×{outputs}");
            drop(vec![f32::NAN; inputs * outputs]);
            let dw = weight_grad(&x, &grad, batch, outputs);
            let expected = reference(inputs, outputs, batch, &|r, p| at(&x, inputs, p, r), &|p, c| {
                at(&grad, outputs, p, c)
            });
            assert_eq!(dw, expected, "weight grad {batch}×{inputs}×{outputs}");
        }
    }
}
