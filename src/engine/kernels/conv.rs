//! Square 2-D convolution with "same"-style padding on `f32` slices, as im2col plus matrix
//! products through `gemm` (the deterministic one in `crates/gemm`): the forward pass and the
//! gradients of the input, the weight and the bias.
//!
//! The batch is cut into chunks of whole images (the count depends only on the shapes, never on
//! the machine), each chunk's patches laid out as one `[patch, images · pixels]` matrix, so even
//! the late layers' 2×2 maps make one wide product instead of a product per image. Every sum has
//! a fixed order, so the page (wasm, one thread) and the command line (all cores) get the same
//! bits.

use core::ops::Range;
use gemm::Parallelism;
use std::sync::Mutex;

/// Floats one chunk's patch matrix may hold (16 MB): the batch is split into as few equal chunks
/// of whole images as keep it under this.
const CHUNK_FLOATS: usize = 1 << 22;

/// The sizes of one convolution: input `[batch, channels, height, width]`, weight
/// `[outputs, channels, kernel, kernel]`, output `[batch, outputs, out_height, out_width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub outputs: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl ConvShape {
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel) / self.stride + 1
    }

    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Output pixels per image and channel.
    pub fn pixels(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Values under one output: `channels · kernel²`, the products' inner dimension.
    pub fn patch(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    pub fn input_len(&self) -> usize {
        self.batch * self.channels * self.height * self.width
    }

    pub fn weight_len(&self) -> usize {
        self.outputs * self.patch()
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.outputs * self.pixels()
    }

    /// Whether the kernels can compute this shape (otherwise the caller uses burn's).
    pub fn supported(&self) -> bool {
        self.kernel > 0
            && self.stride > 0
            && self.height + 2 * self.padding >= self.kernel
            && self.width + 2 * self.padding >= self.kernel
            && self.batch > 0
            && self.outputs > 0
            && self.channels > 0
    }

    /// The batch as chunks `(first image, images)`: as few as keep a chunk's patch matrix under
    /// [`CHUNK_FLOATS`], of equal size but for the last.
    fn chunks(&self) -> impl Iterator<Item = (usize, usize)> {
        let per_image = (self.patch() * self.pixels()).max(1);
        let most = (CHUNK_FLOATS / per_image).clamp(1, self.batch);
        let count = self.batch.div_ceil(most);
        let size = self.batch.div_ceil(count);
        let batch = self.batch;
        (0..count).map(move |i| (i * size, size.min(batch - i * size)))
    }
}

/// Fills `col` (`[patch, images · pixels]`, row `(c, ki, kj)`, column `(image, oy, ox)`) with the
/// input values each output reads, zero where the window hangs over the padding.
fn im2col(shape: &ConvShape, x: &[f32], first: usize, images: usize, col: &mut [f32]) {
    let col = &mut col[..shape.patch() * images * shape.pixels()];
    let (h, w, k, s, p) = (
        shape.height,
        shape.width,
        shape.kernel,
        shape.stride,
        shape.padding,
    );
    let (oh, ow) = (shape.out_height(), shape.out_width());
    let columns = images * oh * ow;
    in_parts(col, shape.channels, k * k * columns, |channels, block| {
        for c in channels.clone() {
            for ki in 0..k {
                for kj in 0..k {
                    let row = &mut block[(((c - channels.start) * k + ki) * k + kj) * columns..][..columns];
                    // Output columns whose input column `ox·s + kj − p` is inside the image.
                    let ox_first = p.saturating_sub(kj).div_ceil(s).min(ow);
                    let ox_end = ((w + p).saturating_sub(kj)).div_ceil(s).clamp(ox_first, ow);
                    for b in 0..images {
                        let plane = &x[((first + b) * shape.channels + c) * h * w..][..h * w];
                        for oy in 0..oh {
                            let out = &mut row[(b * oh + oy) * ow..][..ow];
                            let iy = (oy * s + ki) as isize - p as isize;
                            if iy < 0 || iy >= h as isize {
                                out.fill(0.0);
                                continue;
                            }
                            let line = &plane[iy as usize * w..][..w];
                            out[..ox_first].fill(0.0);
                            out[ox_end..].fill(0.0);
                            if ox_end == ox_first {
                                continue;
                            }
                            let ix_first = ox_first * s + kj - p;
                            if s == 1 {
                                out[ox_first..ox_end]
                                    .copy_from_slice(&line[ix_first..ix_first + ox_end - ox_first]);
                            } else {
                                for (i, v) in out[ox_first..ox_end].iter_mut().enumerate() {
                                    *v = line[ix_first + i * s];
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Adds `col`'s values back onto the input positions they were read from (the adjoint of
/// [`im2col`]), rows in order, so each input gradient sums its taps in a fixed order.
fn col2im(shape: &ConvShape, col: &[f32], first: usize, images: usize, dx: &mut [f32]) {
    let (h, w, k, s, p) = (
        shape.height,
        shape.width,
        shape.kernel,
        shape.stride,
        shape.padding,
    );
    let (oh, ow) = (shape.out_height(), shape.out_width());
    let columns = images * oh * ow;
    let plane_len = h * w;
    let image_len = shape.channels * plane_len;
    let chunk = &mut dx[first * image_len..][..images * image_len];
    // Split by image: each part owns its images' planes, and every input gradient still sums
    // its taps in (c, ki, kj) order.
    in_parts(chunk, images, image_len, |mine, block| {
        for c in 0..shape.channels {
            for ki in 0..k {
                for kj in 0..k {
                    let row = &col[((c * k + ki) * k + kj) * columns..][..columns];
                    let ox_first = p.saturating_sub(kj).div_ceil(s).min(ow);
                    let ox_end = ((w + p).saturating_sub(kj)).div_ceil(s).clamp(ox_first, ow);
                    for b in mine.clone() {
                        let plane =
                            &mut block[((b - mine.start) * shape.channels + c) * plane_len..][..plane_len];
                        for oy in 0..oh {
                            let iy = (oy * s + ki) as isize - p as isize;
                            if iy < 0 || iy >= h as isize || ox_end == ox_first {
                                continue;
                            }
                            let src = &row[(b * oh + oy) * ow..][ox_first..ox_end];
                            let line = &mut plane[iy as usize * w..][..w];
                            let ix_first = ox_first * s + kj - p;
                            for (i, v) in src.iter().enumerate() {
                                line[ix_first + i * s] += *v;
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Runs `work(items, block)` over `data`, `count` items of `item_len` floats, split into one part
/// per thread when it is big enough (natively; one part in wasm). The parts write disjoint
/// blocks in the same order as one part would, so the split changes no bit.
pub(crate) fn in_parts(
    data: &mut [f32],
    count: usize,
    item_len: usize,
    work: impl Fn(Range<usize>, &mut [f32]) + Sync,
) {
    /// Below this many floats a fork costs more than it saves.
    const PARALLEL_MIN_FLOATS: usize = 1 << 16;
    debug_assert_eq!(data.len(), count * item_len);
    let parts = if data.len() >= PARALLEL_MIN_FLOATS {
        gemm::available_threads().min(count)
    } else {
        1
    };
    if parts <= 1 || item_len == 0 {
        work(0..count, data);
        return;
    }
    let per = count.div_ceil(parts);
    let blocks: Vec<Mutex<&mut [f32]>> = data.chunks_mut(per * item_len).map(Mutex::new).collect();
    gemm::for_each_part(blocks.len(), |index| {
        let mut block = blocks[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let first = index * per;
        let items = block.len() / item_len;
        work(first..first + items, &mut block);
    });
}

/// `dst [m, n] (+)= lhs [m, k] × rhs [k, n]`, each given as (pointer, row stride, column stride).
///
/// # Safety
/// The views must address every element the shapes name; `dst` must not alias the operands.
#[allow(clippy::too_many_arguments)]
unsafe fn product(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
) {
    debug_assert!(dst.len() >= m * n);
    unsafe {
        gemm::gemm::<f32>(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.0,
            lhs.2,
            lhs.1,
            rhs.0,
            rhs.2,
            rhs.1,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::Rayon(0),
        )
    }
}

/// The output `[batch, outputs, oh, ow]` of `x` (`[batch, channels, h, w]`) convolved with
/// `weight` (`[outputs, channels, k, k]`), plus `bias` (`[outputs]`) when given.
pub fn forward(shape: &ConvShape, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    assert_eq!(x.len(), shape.input_len());
    assert_eq!(weight.len(), shape.weight_len());
    let (patch, pixels, outputs) = (shape.patch(), shape.pixels(), shape.outputs);
    let mut out = Vec::with_capacity(shape.output_len());
    let mut col = Vec::new();
    let mut product_out = Vec::new();
    for (first, images) in shape.chunks() {
        let columns = images * pixels;
        col.resize(patch * columns, 0.0);
        product_out.resize(outputs * columns, 0.0);
        im2col(shape, x, first, images, &mut col);
        // [outputs, images · pixels] = [outputs, patch] × [patch, images · pixels]
        unsafe {
            product(
                outputs,
                columns,
                patch,
                &mut product_out,
                false,
                (weight.as_ptr(), patch as isize, 1),
                (col.as_ptr(), columns as isize, 1),
            );
        }
        // Appended as [images, outputs, pixels], the bias added on the way.
        debug_assert_eq!(out.len(), first * outputs * pixels);
        for b in 0..images {
            for o in 0..outputs {
                let src = &product_out[o * columns + b * pixels..][..pixels];
                match bias {
                    Some(bias) => out.extend(src.iter().map(|v| *v + bias[o])),
                    None => out.extend_from_slice(src),
                }
            }
        }
    }
    out
}

/// Copies one chunk of the output gradient `[batch, outputs, pixels]` into `[outputs, images ·
/// pixels]`, the layout of the products.
fn gather_grad(shape: &ConvShape, grad: &[f32], first: usize, images: usize, dst: &mut [f32]) {
    let (pixels, outputs) = (shape.pixels(), shape.outputs);
    let columns = images * pixels;
    in_parts(&mut dst[..outputs * columns], outputs, columns, |mine, block| {
        for o in mine.clone() {
            let row = &mut block[(o - mine.start) * columns..][..columns];
            for b in 0..images {
                row[b * pixels..][..pixels]
                    .copy_from_slice(&grad[((first + b) * outputs + o) * pixels..][..pixels]);
            }
        }
    });
}

/// The gradient of the input `[batch, channels, h, w]` given the output's.
pub fn input_grad(shape: &ConvShape, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    assert_eq!(weight.len(), shape.weight_len());
    assert_eq!(grad.len(), shape.output_len());
    let (patch, pixels, outputs) = (shape.patch(), shape.pixels(), shape.outputs);
    let mut dx = vec![0.0f32; shape.input_len()];
    let mut dy = Vec::new();
    let mut dcol = Vec::new();
    for (first, images) in shape.chunks() {
        let columns = images * pixels;
        dy.resize(outputs * columns, 0.0);
        dcol.resize(patch * columns, 0.0);
        gather_grad(shape, grad, first, images, &mut dy);
        // [patch, images · pixels] = [outputs, patch]ᵀ × [outputs, images · pixels]
        unsafe {
            product(
                patch,
                columns,
                outputs,
                &mut dcol,
                false,
                (weight.as_ptr(), 1, patch as isize),
                (dy.as_ptr(), columns as isize, 1),
            );
        }
        col2im(shape, &dcol, first, images, &mut dx);
    }
    dx
}

/// The gradient of the weight `[outputs, channels, k, k]`: the output gradient times the
/// patches, summed over the batch (chunk by chunk, in order).
pub fn weight_grad(shape: &ConvShape, x: &[f32], grad: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), shape.input_len());
    assert_eq!(grad.len(), shape.output_len());
    let (patch, pixels, outputs) = (shape.patch(), shape.pixels(), shape.outputs);
    let mut dw = vec![0.0f32; shape.weight_len()];
    let mut dy = Vec::new();
    let mut col = Vec::new();
    for (index, (first, images)) in shape.chunks().enumerate() {
        let columns = images * pixels;
        dy.resize(outputs * columns, 0.0);
        col.resize(patch * columns, 0.0);
        gather_grad(shape, grad, first, images, &mut dy);
        im2col(shape, x, first, images, &mut col);
        // [outputs, patch] += [outputs, images · pixels] × [patch, images · pixels]ᵀ
        unsafe {
            product(
                outputs,
                patch,
                columns,
                &mut dw,
                index > 0,
                (dy.as_ptr(), columns as isize, 1),
                (col.as_ptr(), 1, columns as isize),
            );
        }
    }
    dw
}

/// The gradient of the bias `[outputs]`: each channel's output gradient summed over images, then
/// pixels, in order.
pub fn bias_grad(shape: &ConvShape, grad: &[f32]) -> Vec<f32> {
    assert_eq!(grad.len(), shape.output_len());
    let (pixels, outputs) = (shape.pixels(), shape.outputs);
    let mut db = vec![0.0f32; outputs];
    for b in 0..shape.batch {
        for (o, sum) in db.iter_mut().enumerate() {
            for v in &grad[(b * outputs + o) * pixels..][..pixels] {
                *sum += *v;
            }
        }
    }
    db
}
