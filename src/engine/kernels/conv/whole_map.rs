//! Convolution on maps so small that every output's window covers the whole map (a 3×3 kernel
//! with "same" padding on a 2×2 or 1×1 map: a VGG's last stage) as one plain matrix product.
//!
//! There the layer is a dense map from the input's `channels · pixels` values to the output's
//! `outputs · pixels`, whose matrix holds each weight tap where it meets an (input, output)
//! pixel pair: `[batch, outputs · pixels] = [batch, channels · pixels] × full`. No patch matrix
//! is built and nothing is multiplied by padding: a 2×2 map's outputs read 4 of their 9 taps,
//! so the im2col products spent 56% of their multiply-adds on zeros, on chunks of a dozen
//! images. The forward pass sums each output's terms in the im2col order (input pixels in
//! order are taps in order), the padding's `w·0` terms left out, which changes no finite value
//! (a sum that starts at +0 never becomes −0). The gradients sum the same terms in another
//! fixed order. Everything depends on the shape alone, so the page and the command line still
//! agree bit for bit.

use super::super::dense::product as dense_product;
use super::{ConvShape, activate, in_parts};

/// Whether `shape` is one: stride 1, "same" padding, the map no wider or taller than the
/// padding plus one.
pub(super) fn applies(shape: &ConvShape) -> bool {
    shape.same_padding() && shape.height <= shape.padding + 1 && shape.width <= shape.padding + 1
}

/// `[pixels, pixels]`: the tap `ki·k + kj` that input pixel `from` meets at output pixel `to`
/// (the window of output `(ty, tx)` reads input `(ty + ki − p, tx + kj − p)`).
fn taps(shape: &ConvShape) -> Vec<usize> {
    let (w, k, p) = (shape.width, shape.kernel, shape.padding);
    let pixels = shape.pixels();
    (0..pixels * pixels)
        .map(|at| {
            let (from, to) = (at / pixels, at % pixels);
            (from / w + p - to / w) * k + (from % w + p - to % w)
        })
        .collect()
}

/// The layer's matrix `[channels · pixels, outputs · pixels]`, or its transpose when
/// `transposed`: each entry gathered from its kernel's tap, the rows split over the threads.
fn full_weight(shape: &ConvShape, weight: &[f32], transposed: bool) -> Vec<f32> {
    let (pixels, taps) = (shape.pixels(), taps(shape));
    let (channels, patch) = (shape.channels, shape.kernel * shape.kernel);
    let (rows, columns) = (channels * pixels, shape.outputs * pixels);
    let (lines, line_len) = if transposed {
        (columns, rows)
    } else {
        (rows, columns)
    };
    let mut full = vec![0.0f32; rows * columns];
    // Row `c · pixels + from`, column `o · pixels + to` holds kernel `(o, c)`'s tap where input
    // pixel `from` meets output pixel `to`. Lines and their entries are walked as (channel,
    // pixel) pairs, with no division per entry.
    in_parts(&mut full, lines, line_len, |mine, block| {
        for (line, values) in mine.zip(block.chunks_exact_mut(line_len)) {
            let (outer, pixel) = (line / pixels, line % pixels);
            for (inner, run) in values.chunks_exact_mut(pixels).enumerate() {
                for (other, value) in run.iter_mut().enumerate() {
                    // Not transposed: the line is (c, from) and the entry (o, to).
                    let ((c, from), (o, to)) = if transposed {
                        ((inner, other), (outer, pixel))
                    } else {
                        ((outer, pixel), (inner, other))
                    };
                    *value = weight[(o * channels + c) * patch + taps[from * pixels + to]];
                }
            }
        }
    });
    full
}

/// `[rows, n] = lhs [rows, k] × full [k, n]`, all row-major, on every thread.
fn times_full(rows: usize, lhs: &[f32], full: &[f32], k: usize, n: usize) -> Vec<f32> {
    assert!(lhs.len() >= rows * k && full.len() >= k * n);
    // Safety: the operands hold `rows·k` and `k·n` values (checked); the product fills a fresh
    // buffer without clearing it first.
    unsafe {
        dense_product(
            rows,
            n,
            k,
            (lhs.as_ptr(), k as isize, 1),
            (full.as_ptr(), n as isize, 1),
        )
    }
}

/// [`super::forward`] as one product.
pub(super) fn forward(
    shape: &ConvShape,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    let pixels = shape.pixels();
    let (inputs, outputs) = (shape.channels * pixels, shape.outputs * pixels);
    // [batch, outputs · pixels] = [batch, channels · pixels] × [channels · pixels, outputs · pixels]
    let mut out = times_full(
        shape.batch,
        x,
        &full_weight(shape, weight, false),
        inputs,
        outputs,
    );
    if bias.is_some() || relu {
        for image in out.chunks_exact_mut(outputs) {
            for (o, plane) in image.chunks_exact_mut(pixels).enumerate() {
                let shift = bias.map(|bias| bias[o]);
                for value in plane {
                    *value = activate(*value, shift, relu);
                }
            }
        }
    }
    out
}

/// [`super::input_grad`] as one product: `[batch, channels · pixels] = grad × fullᵀ`.
pub(super) fn input_grad(shape: &ConvShape, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let pixels = shape.pixels();
    let (inputs, outputs) = (shape.channels * pixels, shape.outputs * pixels);
    times_full(
        shape.batch,
        grad,
        &full_weight(shape, weight, true),
        outputs,
        inputs,
    )
}

/// [`super::weight_grad`]: the gradient of the layer's matrix, `xᵀ × grad`, each entry then
/// added onto the tap it holds (input pixels in order, then output pixels).
pub(super) fn weight_grad(shape: &ConvShape, x: &[f32], grad: &[f32]) -> Vec<f32> {
    let pixels = shape.pixels();
    let (inputs, outputs) = (shape.channels * pixels, shape.outputs * pixels);
    // [channels · pixels, outputs · pixels] = [batch, channels · pixels]ᵀ × [batch, outputs · pixels]
    // Safety: x holds batch · inputs values and grad batch · outputs (the layer's shapes).
    let full_grad = unsafe {
        dense_product(
            inputs,
            outputs,
            shape.batch,
            (x.as_ptr(), 1, inputs as isize),
            (grad.as_ptr(), outputs as isize, 1),
        )
    };
    let taps = taps(shape);
    let patch = shape.kernel * shape.kernel;
    let mut dw = vec![0.0f32; shape.weight_len()];
    // Each kernel's taps summed from its own entries, the kernels split over the threads.
    in_parts(&mut dw, shape.outputs * shape.channels, patch, |mine, block| {
        for (index, kernel) in mine.zip(block.chunks_exact_mut(patch)) {
            let (o, c) = (index / shape.channels, index % shape.channels);
            for (from, row_taps) in taps.chunks_exact(pixels).enumerate() {
                let row = &full_grad[(c * pixels + from) * outputs + o * pixels..][..pixels];
                for (&tap, entry) in row_taps.iter().zip(row) {
                    kernel[tap] += *entry;
                }
            }
        }
    });
    dw
}
