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
use super::{ConvShape, activate, in_parts, written_by};
use core::mem::MaybeUninit;

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
/// `transposed`: each entry copied from its kernel's tap, every entry written (no clear first).
/// Kernel by kernel: one kernel `(o, c)` fills a `pixels × pixels` block, its taps read from one
/// cache line; gathered entry by entry along a matrix line, each entry read a kernel of its own
/// (a line's consecutive kernels are `channels · k²` floats apart), and the page spent 2% of a
/// VGG-11 ×0.25 step on the gathers (BENCHMARKS.md, issue 11).
fn full_weight(shape: &ConvShape, weight: &[f32], transposed: bool) -> Vec<f32> {
    let (pixels, taps) = (shape.pixels(), taps(shape));
    let (channels, outputs, patch) = (shape.channels, shape.outputs, shape.kernel * shape.kernel);
    let (rows, columns) = (channels * pixels, outputs * pixels);
    // Each block of `pixels` lines shares its outer index: (c, ·) not transposed, (o, ·)
    // transposed; its inner index runs along the lines in runs of `pixels` entries.
    let (outers, inners, line_len) = if transposed {
        (outputs, channels, rows)
    } else {
        (channels, outputs, columns)
    };
    let fill = |full: &mut [MaybeUninit<f32>]| {
        in_parts(full, outers, pixels * line_len, |mine, blocks| {
            for (outer, block) in mine.zip(blocks.chunks_exact_mut(pixels * line_len)) {
                for inner in 0..inners {
                    let (o, c) = if transposed {
                        (outer, inner)
                    } else {
                        (inner, outer)
                    };
                    let kernel = &weight[(o * channels + c) * patch..][..patch];
                    for pixel in 0..pixels {
                        let run = &mut block[pixel * line_len + inner * pixels..][..pixels];
                        for (other, value) in run.iter_mut().enumerate() {
                            // Row `c · pixels + from`, column `o · pixels + to`: the tap where
                            // input pixel `from` meets output pixel `to`.
                            let (from, to) = if transposed {
                                (other, pixel)
                            } else {
                                (pixel, other)
                            };
                            value.write(kernel[taps[from * pixels + to]]);
                        }
                    }
                }
            }
        });
    };
    // Safety: the blocks cover the matrix, and each block's `pixels` lines are written whole
    // (`inners` runs of `pixels` entries each: `line_len` entries a line).
    unsafe { written_by(rows * columns, fill) }
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

#[cfg(test)]
mod tests {
    use super::super::tests::same_shape;
    use super::*;

    /// The layer's matrix holds, at row `(c, from)` and column `(o, to)`, kernel `(o, c)`'s tap
    /// where input pixel `from` meets output pixel `to` (worked out here from the pixels'
    /// coordinates), and its transposed form is its transpose, on maps through the threads'
    /// split (a 128-channel 2×2 layer's matrix is 262,144 values).
    #[test]
    fn the_full_matrix_holds_each_kernels_taps() {
        for (channels, height, width, kernel, outputs) in [
            (3, 2, 2, 3, 5),
            (2, 1, 2, 3, 4),
            (2, 3, 3, 5, 3),
            (128, 2, 2, 3, 128),
        ] {
            let shape = ConvShape {
                outputs,
                ..same_shape(channels, height, width, kernel)
            };
            assert!(applies(&shape));
            let weight: Vec<f32> = (0..shape.weight_len()).map(|i| i as f32).collect();
            let (full, transposed) = (
                full_weight(&shape, &weight, false),
                full_weight(&shape, &weight, true),
            );
            let pixels = height * width;
            let (rows, columns) = (channels * pixels, outputs * pixels);
            for row in 0..rows {
                for column in 0..columns {
                    let ((c, from), (o, to)) =
                        ((row / pixels, row % pixels), (column / pixels, column % pixels));
                    // Output (ty, tx) reads input (ty + ki − p, tx + kj − p).
                    let ki = from / width + shape.padding - to / width;
                    let kj = from % width + shape.padding - to % width;
                    let tap = weight[((o * channels + c) * kernel + ki) * kernel + kj];
                    assert_eq!(full[row * columns + column], tap, "{channels}×{height}×{width}");
                    assert_eq!(
                        transposed[column * rows + row],
                        tap,
                        "{channels}×{height}×{width}"
                    );
                }
            }
        }
    }
}
