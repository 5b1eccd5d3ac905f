//! Dense layers on `f32` slices: `relu?(x · weight + bias)` with the bias and the ReLU applied
//! as each product row is written, and its gradients. burn-flex's own path made a product, a
//! broadcast add and a ReLU (three fresh buffers; each of its matmul outputs is zeroed and then
//! copied once more to re-align it), then as many passes back; in the page that was 6% of an FCN
//! step in allocation alone. The products are the deterministic `gemm`, so the page and the
//! command line still agree bit for bit. An input mostly of one value (MNIST's normalised
//! background, ~81% of a batch's pixels) takes `gemm`'s offset product instead, forward and
//! weight gradient: the first layer's products then skip the background.

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

/// Share of a layer's input (numerator, denominator) that must be one value for the products
/// to take [`gemm::offset_product`]: its cost grows with the other values, the dense product's
/// does not. MNIST's normalised images are ~81% background; an MLP's hidden activations after
/// the ReLU about half zeros, which the dense product handles faster.
const BACKGROUND_SHARE: (usize, usize) = (2, 3);

/// The value most of `x` holds, when it is [`BACKGROUND_SHARE`] of it: the candidate is the
/// first value (an image's corner pixel: its background), compared bit for bit. A finite one
/// only: `base · Σ w` must not stand for sums of NaN or infinity. A layer's forward pass and
/// weight gradient read the same input, so the training step scans it once and hands both
/// [`forward`] and [`weight_grad`] the answer (the backward step keeps it with the input).
pub fn background(x: &[f32]) -> Option<f32> {
    let &base = x.first()?;
    let bits = base.to_bits();
    // Counted in parts on every core (a sum of counts: the same whatever the split), each in
    // 16 lanes of 32 bits, wrapping (no overflow check: a lane counts at most len / 16 values),
    // which vectorizes; a running `usize` count did not.
    let parts = if x.len() >= 1 << 16 {
        gemm::available_threads()
    } else {
        1
    };
    let per = x.len().div_ceil(parts);
    let same = std::sync::atomic::AtomicUsize::new(0);
    gemm::for_each_part(x.len().div_ceil(per), |part| {
        let mine = &x[part * per..((part + 1) * per).min(x.len())];
        let mut lanes = [0u32; 16];
        let groups = mine.chunks_exact(16);
        let rest = groups.remainder().iter().filter(|v| v.to_bits() == bits).count();
        for group in groups {
            for (lane, v) in lanes.iter_mut().zip(group) {
                *lane = lane.wrapping_add(u32::from(v.to_bits() == bits));
            }
        }
        let count = lanes.iter().map(|&l| l as usize).sum::<usize>() + rest;
        same.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
    });
    let (num, den) = BACKGROUND_SHARE;
    (base.is_finite() && same.into_inner() * den >= x.len() * num).then_some(base)
}

/// `[n]`: the rows of row-major `m: [_, n]` summed in order, columns shared out among the
/// threads. A weight's column sums for the offset product, and a dense layer's bias gradient
/// (its output gradient summed over the batch), which the weight gradient's offset product
/// takes as its column sums.
pub fn column_sums(m: &[f32], n: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; n];
    conv::in_parts_weighing(m.len(), &mut sums, n, 1, |columns, block| {
        for row in m.chunks_exact(n.max(1)) {
            for (sum, v) in block.iter_mut().zip(&row[columns.clone()]) {
                *sum += *v;
            }
        }
    });
    sums
}

/// A new `[rows, n]` holding `rows × rhs` ([`gemm::offset_product`]), `sums` being `rhs`'s
/// column sums.
fn offset_product(rows: gemm::Offsets, sums: &[f32], rhs: &[f32], n: usize) -> Vec<f32> {
    let len = rows.rows * n;
    let mut out = Vec::<f32>::with_capacity(len);
    gemm::offset_product(rows, sums, rhs, n, &mut out.spare_capacity_mut()[..len]);
    // Safety: the product writes every element of its output.
    unsafe { out.set_len(len) };
    out
}

/// `x: [batch, inputs]`, `weight: [inputs, outputs]`, `bias: [outputs]` → `[batch, outputs]`;
/// `background` is [`background`]`(x)`: the offset product when it is some value.
pub fn forward(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    batch: usize,
    with_relu: bool,
    background: Option<f32>,
) -> Vec<f32> {
    let outputs = bias.len();
    let inputs = weight.len() / outputs.max(1);
    assert!(x.len() == batch * inputs && weight.len() == inputs * outputs);
    // [batch, outputs] = [batch, inputs] × [inputs, outputs]
    let mut out = match background {
        Some(base) => {
            let rows = gemm::Offsets {
                x,
                rows: batch,
                depth: inputs,
                rs: inputs,
                cs: 1,
                base,
            };
            offset_product(rows, &column_sums(weight, outputs), weight, outputs)
        }
        None => unsafe {
            product(
                batch,
                outputs,
                inputs,
                (x.as_ptr(), inputs as isize, 1),
                (weight.as_ptr(), outputs as isize, 1),
            )
        },
    };
    // The bias and ReLU in a pass of their own: applied to each block by the thread that
    // computed it instead, they gained nothing (the next layer reads the rows across the cores
    // either way; BENCHMARKS.md, issue 11).
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

/// The weight gradient `[inputs, outputs]` = `xᵀ × grad`. `bias_grad` is `grad`'s
/// [`column_sums`] (the layer's bias gradient, already made): the offset product's column
/// sums when `background`, the forward pass's [`background`]`(x)`, is some value.
pub fn weight_grad(
    x: &[f32],
    grad: &[f32],
    bias_grad: &[f32],
    sizes: (usize, usize),
    background: Option<f32>,
) -> Vec<f32> {
    weight_grad_then((x, grad, bias_grad), sizes, background, |_| {
        None::<fn(std::ops::Range<usize>, std::ops::Range<usize>)>
    })
}

/// [`weight_grad`] with an SGD step of the weights `theta` folded in, `buffer` their momentum:
/// each block of the gradient, as the thread that summed it finishes it, becomes
/// `b ← momentum·b + (g + decay·θ)` (no decay term when `decay` is 0), `θ − lr·b`, with the
/// roundings of the SGD pass (`CpuKernels::sgd_step`). Returns the new weights, `[inputs,
/// outputs]`; `buffer` is updated in place.
pub fn weight_grad_stepped(
    operands: (&[f32], &[f32], &[f32]),
    sizes: (usize, usize),
    background: Option<f32>,
    theta: &[f32],
    buffer: &mut [f32],
    scalars: [f32; 3],
) -> Vec<f32> {
    let outputs = sizes.1;
    assert!(theta.len() == buffer.len() && theta.len() == outputs * (operands.0.len() / sizes.0.max(1)));
    // A raw address for the finishing closure, which runs on every thread: each block touches
    // only its own elements of the buffer (and of the output).
    let buffer_at = buffer.as_mut_ptr() as usize;
    weight_grad_then(operands, sizes, background, |out_at| {
        Some(
            move |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>| {
                for row in rows {
                    let span = row * outputs + cols.start..row * outputs + cols.end;
                    // Safety: the product has written this block of the output (its final sums),
                    // and no other block shares an element with it.
                    let (g, b) = unsafe {
                        (
                            std::slice::from_raw_parts_mut((out_at as *mut f32).add(span.start), span.len()),
                            std::slice::from_raw_parts_mut(
                                (buffer_at as *mut f32).add(span.start),
                                span.len(),
                            ),
                        )
                    };
                    let lanes = g.iter_mut().zip(b.iter_mut()).zip(&theta[span]);
                    super::sgd_lanes(lanes.map(|((g, b), t)| (*t, *g, b, g)), scalars);
                }
            },
        )
    })
}

/// The weight gradient into a new buffer, then the finish `finish(its address)` makes (if
/// any) on each finished block ([`gemm::Finish`]).
fn weight_grad_then<F: Fn(std::ops::Range<usize>, std::ops::Range<usize>) + Sync>(
    (x, grad, bias_grad): (&[f32], &[f32], &[f32]),
    (batch, outputs): (usize, usize),
    background: Option<f32>,
    finish: impl FnOnce(usize) -> Option<F>,
) -> Vec<f32> {
    let inputs = x.len() / batch.max(1);
    let len = inputs * outputs;
    assert!(x.len() == batch * inputs && grad.len() == batch * outputs && bias_grad.len() == outputs);
    let mut out = Vec::<f32>::with_capacity(len);
    let finish = finish(out.as_mut_ptr() as usize);
    let finish = finish.as_ref().map(|f| f as gemm::Finish);
    match background {
        Some(base) => {
            // xᵀ: each input down the batch.
            let rows = gemm::Offsets {
                x,
                rows: inputs,
                depth: batch,
                rs: 1,
                cs: inputs,
                base,
            };
            let out = &mut out.spare_capacity_mut()[..len];
            gemm::offset_product_then(rows, bias_grad, grad, outputs, out, finish);
        }
        // Safety: the views address `[inputs, batch]` and `[batch, outputs]`; `out` has room for
        // all `len` values.
        None => unsafe {
            gemm::gemm_f32_then(
                inputs,
                outputs,
                batch,
                (out.as_mut_ptr(), outputs as isize, 1),
                (x.as_ptr(), 1, inputs as isize),
                (grad.as_ptr(), outputs as isize, 1),
                Parallelism::Rayon(0),
                finish,
            )
        },
    }
    // Safety: the product wrote every element (and a finish then changed each once at most).
    unsafe { out.set_len(len) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weight gradient as a training step makes it: the bias gradient as its column sums,
    /// the input's background scanned (in training, by the forward pass).
    fn step_weight_grad(x: &[f32], grad: &[f32], batch: usize, outputs: usize) -> Vec<f32> {
        weight_grad(
            x,
            grad,
            &column_sums(grad, outputs),
            (batch, outputs),
            background(x),
        )
    }

    /// An input mostly of one value (MNIST's normalised background) takes the offset products:
    /// the forward pass and the weight gradient still equal the plain sums up to rounding, on
    /// shapes through the threads, a group cut short and scalar columns; an input of mixed
    /// values, or whose first value is not finite, keeps the dense products.
    #[test]
    fn a_background_input_takes_the_offset_products_and_keeps_the_sums() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let base = (0.0 - 0.1307f32) / 0.3081;
        for (batch, inputs, outputs) in [(128, 784, 256), (7, 50, 13), (130, 784, 10)] {
            let x: Vec<f32> = (0..batch * inputs)
                .map(|_| {
                    if next() % 100 < 80 {
                        base
                    } else {
                        (next() % 256) as f32 / 255.0
                    }
                })
                .collect();
            assert_eq!(background(&x), Some(base));
            let unit = |v: u64| (v >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let weight: Vec<f32> = (0..inputs * outputs).map(|_| unit(next())).collect();
            let grad: Vec<f32> = (0..batch * outputs).map(|_| unit(next())).collect();
            let bias = vec![0.0; outputs];
            let close = |ours: f32, terms: &mut dyn Iterator<Item = (f32, f32)>, what: &str| {
                let (mut exact, mut scale) = (0.0f64, 0.0f64);
                for (a, b) in terms {
                    exact += a as f64 * b as f64;
                    scale += (a as f64 * b as f64).abs();
                }
                assert!(
                    (ours as f64 - exact).abs() <= 1e-5 * scale,
                    "{what}: {ours} against {exact}"
                );
            };
            let out = forward(&x, &weight, &bias, batch, false, background(&x));
            for r in 0..batch {
                for j in 0..outputs {
                    let mut terms = (0..inputs).map(|k| (x[r * inputs + k], weight[k * outputs + j]));
                    close(out[r * outputs + j], &mut terms, "forward");
                }
            }
            let dw = step_weight_grad(&x, &grad, batch, outputs);
            for k in 0..inputs {
                for j in 0..outputs {
                    let mut terms = (0..batch).map(|r| (x[r * inputs + k], grad[r * outputs + j]));
                    close(dw[k * outputs + j], &mut terms, "weight grad");
                }
            }
        }
        let mixed: Vec<f32> = (0..1000)
            .map(|i| if i % 2 == 0 { 1.0 } else { i as f32 })
            .collect();
        assert_eq!(background(&mixed), None);
        assert_eq!(background(&[f32::NAN; 100]), None);
        assert_eq!(background(&[]), None);
    }

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
            let out = forward(&x, &weight, &vec![0.0; outputs], batch, false, background(&x));
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
            let dw = step_weight_grad(&x, &grad, batch, outputs);
            let expected = reference(inputs, outputs, batch, &|r, p| at(&x, inputs, p, r), &|p, c| {
                at(&grad, outputs, p, c)
            });
            assert_eq!(dw, expected, "weight grad {batch}×{inputs}×{outputs}");
        }
    }
}
