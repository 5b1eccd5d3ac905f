//! Square 2-D convolution with "same"-style padding on `f32` slices, as im2col plus matrix
//! products through `gemm` (the deterministic one in `crates/gemm`): the forward pass and the
//! gradients of the input, the weight and the bias.
//!
//! The batch is cut into chunks of whole images (the count depends only on the shapes, never on
//! the machine), each chunk's patches laid out as one `[patch, images · pixels]` matrix, so even
//! the late layers' 4×4 maps make one wide product instead of a product per image. The chunks
//! are small enough for a core's L2 cache and spread over the threads, a chunk's copies and
//! product on one thread: the patch matrix is read back from the cache that wrote it, where
//! batch-wide chunks went out to memory and back (im2col was 14% of a VGG step natively). Every
//! sum has a fixed order, so the page (wasm, any number of threads) and the command line get the
//! same bits. Maps that every window covers (a VGG's 2×2 under a 3×3 kernel) skip the patch
//! matrix: the layer is one plain product over the batch ([`whole_map`]). 3×3 "same" layers
//! on even maps of 16+ channels take Winograd's minimal filtering ([`winograd`]): F(4×4, 3×3)
//! on maps whose sides are multiples of 4 from 8 up, 2.25 multiply-adds per output and channel
//! instead of 9, and F(2×2, 3×3) on the others, 4.

mod whole_map;
mod winograd;

use super::dense;
use core::mem::MaybeUninit;
use core::ops::Range;
use gemm::Parallelism;
use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard};

thread_local! {
    /// Two buffers reused by every call on this thread: a chunk's patch matrix and its other
    /// product operand. Each use overwrites what it reads, so reuse changes no value; it saves
    /// the zeroing and page faults of fresh multi-megabyte buffers on every call (6% of a VGG
    /// step natively).
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `work` with this thread's two scratch buffers (fresh ones if they are already in use).
fn with_scratch<R>(work: impl FnOnce(&mut Vec<f32>, &mut Vec<f32>) -> R) -> R {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buffers) => {
            let (first, second) = &mut *buffers;
            work(first, second)
        }
        Err(_) => work(&mut Vec::new(), &mut Vec::new()),
    })
}

/// `buffer[..len]`, growing it (never shrinking) when it is shorter.
fn at_least(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

/// Floats one chunk's patch matrix may hold (1 MB, half a core's L2 here): the batch is split
/// into as few equal chunks of whole images as keep it under this, and at least
/// [`MIN_CHUNKS`].
const CHUNK_FLOATS: usize = 1 << 18;

/// Chunks a batch is cut into at least (when it has the images), so that up to eight threads
/// get near-equal shares even of the late layers' small maps.
const MIN_CHUNKS: usize = 8;

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

    /// Stride 1 and "same" padding (`kernel = 2·padding + 1`): the output plane is the input's
    /// size, which the copying and bordered-plane paths of [`im2col`] and [`col2im`] rely on.
    fn same_padding(&self) -> bool {
        self.stride == 1 && self.kernel == 2 * self.padding + 1
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
    /// [`CHUNK_FLOATS`] (but at least [`MIN_CHUNKS`]), of equal size but for the last. They
    /// depend on the shape alone: the weight gradient sums the chunks' products in this order.
    fn chunks(&self) -> Vec<(usize, usize)> {
        self.chunks_holding(self.patch() * self.pixels())
    }

    /// [`Self::chunks`] for work that keeps `per_image` floats of scratch an image.
    fn chunks_holding(&self, per_image: usize) -> Vec<(usize, usize)> {
        let per_image = per_image.max(1);
        let most = (CHUNK_FLOATS / per_image).clamp(1, self.batch);
        let count = self.batch.div_ceil(most).max(MIN_CHUNKS.min(self.batch));
        let size = self.batch.div_ceil(count);
        let batch = self.batch;
        (0..batch.div_ceil(size))
            .map(|i| (i * size, size.min(batch - i * size)))
            .collect()
    }
}

/// Fills `col` (`[patch, images · pixels]`, row `(c, ki, kj)`, column `(image, oy, ox)`) with the
/// input values each output reads, zero where the window hangs over the padding.
fn im2col(shape: &ConvShape, x: &[f32], first: usize, images: usize, col: &mut [f32]) {
    let col = &mut col[..shape.patch() * images * shape.pixels()];
    if shape.same_padding() {
        im2col_same(shape, x, first, images, col);
    } else {
        im2col_general(shape, x, first, images, col);
    }
}

/// [`im2col`] for any stride and padding, one copy per output line.
fn im2col_general(shape: &ConvShape, x: &[f32], first: usize, images: usize, col: &mut [f32]) {
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

/// [`im2col`] for stride 1 and "same" padding (`k = 2p + 1`, so the output plane is the input's
/// size): row `(c, ki, kj)` of an image is its input plane shifted by `(ki − p, kj − p)`, so the
/// rows inside the image are one contiguous copy, then the columns that wrapped around a line
/// end are zeroed. Same values as the general path, in far fewer (and longer) copies: the 4×4
/// and 8×8 maps of a CNN's late stages made one tiny copy per line.
fn im2col_same(shape: &ConvShape, x: &[f32], first: usize, images: usize, col: &mut [f32]) {
    let (h, w, k, p) = (shape.height, shape.width, shape.kernel, shape.padding);
    if w < SMALL_MAP_WIDTH {
        im2col_small(shape, x, first, images, col);
        return;
    }
    let plane_len = h * w;
    let columns = images * plane_len;
    in_parts(col, shape.channels, k * k * columns, |channels, block| {
        for c in channels.clone() {
            for ki in 0..k {
                for kj in 0..k {
                    let row = &mut block[(((c - channels.start) * k + ki) * k + kj) * columns..][..columns];
                    let (dy, dx) = (ki as isize - p as isize, kj as isize - p as isize);
                    // Output lines whose input line `oy + dy` is inside the image.
                    let oy_first = (-dy).clamp(0, h as isize) as usize;
                    let oy_end = (h as isize - dy).clamp(oy_first as isize, h as isize) as usize;
                    // out[i] = plane[i + shift] for i in the valid lines, where the plane has it.
                    let shift = dy * w as isize + dx;
                    let lo = ((oy_first * w) as isize).max(-shift).min(plane_len as isize) as usize;
                    let hi = ((oy_end * w) as isize)
                        .min(plane_len as isize - shift)
                        .max(lo as isize) as usize;
                    for b in 0..images {
                        let plane = &x[((first + b) * shape.channels + c) * plane_len..][..plane_len];
                        let out = &mut row[b * plane_len..][..plane_len];
                        out[..lo].fill(0.0);
                        out[hi..].fill(0.0);
                        if hi > lo {
                            let from = (lo as isize + shift) as usize;
                            out[lo..hi].copy_from_slice(&plane[from..from + hi - lo]);
                        }
                        // The columns whose input column `ox + dx` is outside the line: one
                        // for a 3×3 kernel, stored as such (a fill is a call in wasm).
                        let edge = dx.unsigned_abs().min(w);
                        for line in out[oy_first * w..oy_end * w].chunks_exact_mut(w) {
                            let zeros = if dx < 0 {
                                &mut line[..edge]
                            } else {
                                &mut line[w - edge..]
                            };
                            match zeros {
                                [] => {}
                                [only] => *only = 0.0,
                                more => more.fill(0.0),
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Maps narrower than this take [`im2col_small`]: their lines are too short for copies.
const SMALL_MAP_WIDTH: usize = 16;

/// [`im2col_same`] for small maps (the 8×8 and 4×4 of a CNN's late stages), where the copies
/// and zero fills of a few floats each cost more as calls (`memory.copy` and `memory.fill` in
/// wasm) than the values they move: each image's plane is copied once into a border of zeros,
/// from which row `(ki, kj)` takes its output lines as fixed-width copies (vector moves on 4-
/// and 8-wide maps). A table of source positions per value, the way before, was 7% of a native
/// VGG-11 ×0.25 step. The same values as the copying path.
fn im2col_small(shape: &ConvShape, x: &[f32], first: usize, images: usize, col: &mut [f32]) {
    match shape.width {
        4 => im2col_padded::<4>(shape, x, first, images, col),
        8 => im2col_padded::<8>(shape, x, first, images, col),
        _ => im2col_padded::<0>(shape, x, first, images, col),
    }
}

/// [`im2col_small`] for maps `W` wide (`W = 0`: the width at run time).
fn im2col_padded<const W: usize>(shape: &ConvShape, x: &[f32], first: usize, images: usize, col: &mut [f32]) {
    let (h, w, k, p) = (shape.height, shape.width, shape.kernel, shape.padding);
    debug_assert!(W == 0 || W == w);
    let (padded_w, plane_len) = (w + 2 * p, h * w);
    let columns = images * plane_len;
    in_parts(col, shape.channels, k * k * columns, |channels, block| {
        // [h + 2p, w + 2p]: a plane inside a border of zeros (the border is never written).
        let mut padded = vec![0.0f32; (h + 2 * p) * padded_w];
        for c in channels.clone() {
            let rows = &mut block[(c - channels.start) * k * k * columns..][..k * k * columns];
            for b in 0..images {
                let plane = &x[((first + b) * shape.channels + c) * plane_len..][..plane_len];
                for (y, line) in plane.chunks_exact(w).enumerate() {
                    copy_line::<W>(&mut padded[(y + p) * padded_w + p..][..w], line);
                }
                for (tap, row) in rows.chunks_exact_mut(columns).enumerate() {
                    let (ki, kj) = (tap / k, tap % k);
                    let out = &mut row[b * plane_len..][..plane_len];
                    for (oy, line) in out.chunks_exact_mut(w).enumerate() {
                        copy_line::<W>(line, &padded[(oy + ki) * padded_w + kj..][..w]);
                    }
                }
            }
        }
    });
}

/// `dst` and `src` cut to `W` floats (`W = 0`: as they are): a length the compiler knows, so a
/// line's moves and adds become fixed vector instructions on 4- and 8-wide maps.
#[inline(always)]
fn fixed<'a, 'b, const W: usize>(dst: &'a mut [f32], src: &'b [f32]) -> (&'a mut [f32], &'b [f32]) {
    if W == 0 {
        (dst, src)
    } else {
        (&mut dst[..W], &src[..W])
    }
}

/// `dst := src` for lines of `W` floats (`W = 0`: any length).
#[inline(always)]
fn copy_line<const W: usize>(dst: &mut [f32], src: &[f32]) {
    let (dst, src) = fixed::<W>(dst, src);
    dst.copy_from_slice(src);
}

/// `dst += src` for lines of `W` floats (`W = 0`: any length).
#[inline(always)]
fn add_line<const W: usize>(dst: &mut [f32], src: &[f32]) {
    let (dst, src) = fixed::<W>(dst, src);
    for (d, s) in dst.iter_mut().zip(src) {
        *d += *s;
    }
}

/// Adds `col`'s values back onto the input positions they were read from (the adjoint of
/// [`im2col`]) in `chunk`, the chunk's images' input gradient, rows in order, so each input
/// gradient sums its taps in a fixed order.
fn col2im(shape: &ConvShape, col: &[f32], images: usize, chunk: &mut [f32]) {
    if shape.same_padding() && shape.width < SMALL_MAP_WIDTH {
        col2im_small(shape, col, images, chunk);
    } else {
        col2im_general(shape, col, images, chunk);
    }
}

/// [`col2im`] for any stride and padding, one run of adds per output line.
fn col2im_general(shape: &ConvShape, col: &[f32], images: usize, chunk: &mut [f32]) {
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
    debug_assert_eq!(chunk.len(), images * image_len);
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
                            if s == 1 {
                                // Contiguous: a loop the compiler vectorizes.
                                let dst = &mut line[ix_first..ix_first + src.len()];
                                for (d, v) in dst.iter_mut().zip(src) {
                                    *d += *v;
                                }
                            } else {
                                for (i, v) in src.iter().enumerate() {
                                    line[ix_first + i * s] += *v;
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

/// [`col2im`] for "same" padding on small maps (the 8×8 and 4×4 of a CNN's late stages), whose
/// output lines are too short for the line-by-line adds: per image and channel, each row
/// `(ki, kj)`'s lines are added into a plane with a border (fixed-width adds on 4- and 8-wide
/// maps), whose inside then goes onto the gradient; the border's sums, over the padding, are
/// dropped. Every input gradient still sums its taps in `(c, ki, kj)` order from +0, so the
/// values are the general path's.
fn col2im_small(shape: &ConvShape, col: &[f32], images: usize, chunk: &mut [f32]) {
    match shape.width {
        4 => col2im_padded::<4>(shape, col, images, chunk),
        8 => col2im_padded::<8>(shape, col, images, chunk),
        _ => col2im_padded::<0>(shape, col, images, chunk),
    }
}

/// [`col2im_small`] for maps `W` wide (`W = 0`: the width at run time).
fn col2im_padded<const W: usize>(shape: &ConvShape, col: &[f32], images: usize, chunk: &mut [f32]) {
    let (h, w, k, p) = (shape.height, shape.width, shape.kernel, shape.padding);
    debug_assert!(W == 0 || W == w);
    let (padded_w, plane_len) = (w + 2 * p, h * w);
    let columns = images * plane_len;
    let image_len = shape.channels * plane_len;
    debug_assert_eq!(chunk.len(), images * image_len);
    in_parts(chunk, images, image_len, |mine, block| {
        // [h + 2p, w + 2p]: one plane's sums, the border's over the padding.
        let mut padded = vec![0.0f32; (h + 2 * p) * padded_w];
        for c in 0..shape.channels {
            let rows = &col[c * k * k * columns..][..k * k * columns];
            for b in mine.clone() {
                padded.fill(0.0);
                for (tap, row) in rows.chunks_exact(columns).enumerate() {
                    let (ki, kj) = (tap / k, tap % k);
                    let values = &row[b * plane_len..][..plane_len];
                    for (oy, line) in values.chunks_exact(w).enumerate() {
                        add_line::<W>(&mut padded[(oy + ki) * padded_w + kj..][..w], line);
                    }
                }
                let plane = &mut block[((b - mine.start) * shape.channels + c) * plane_len..][..plane_len];
                for (y, line) in plane.chunks_exact_mut(w).enumerate() {
                    add_line::<W>(line, &padded[(y + p) * padded_w + p..][..w]);
                }
            }
        }
    });
}

/// `len` zeros for a kernel's output, written by every thread when there are many
/// ([`in_parts`]): the allocator hands large buffers back from its heap, and a plain
/// `vec![0.0; len]` clears them on the calling thread while the other cores wait.
pub(crate) fn zeros(len: usize) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    in_parts(&mut values.spare_capacity_mut()[..len], len, 1, |_, block| {
        block.fill(MaybeUninit::new(0.0))
    });
    // Safety: `in_parts` has run the fill over each of the first `len` values when it returns.
    unsafe { values.set_len(len) };
    values
}

/// A kernel's output of `len` floats, handed to `fill` uninitialised: for outputs every value
/// of which the kernel writes, so that fresh multi-megabyte buffers are not cleared first (the
/// clears were 4% of a VGG-11 ×0.25 step natively).
///
/// # Safety
/// `fill` must write every one of the `len` values.
pub(crate) unsafe fn written_by(len: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    fill(&mut out.spare_capacity_mut()[..len]);
    // Safety: the caller's promise, that `fill` has written each of the first `len` values.
    unsafe { out.set_len(len) };
    out
}

/// Below this many floats a fork costs more than it saves.
const PARALLEL_MIN_FLOATS: usize = 1 << 16;

/// Runs `work(items, block)` over `data`, `count` items of `item_len` floats, split into one part
/// per thread when it is big enough (natively; one part in wasm). The parts write disjoint
/// blocks in the same order as one part would, so the split changes no bit.
pub(crate) fn in_parts<T: Send>(
    data: &mut [T],
    count: usize,
    item_len: usize,
    work: impl Fn(Range<usize>, &mut [T]) + Sync,
) {
    in_parts_weighing(data.len(), data, count, item_len, work);
}

/// [`in_parts`] for work of `floats` floats read or written in all (where that is not
/// `data`'s own size).
pub(crate) fn in_parts_weighing<T: Send>(
    floats: usize,
    data: &mut [T],
    count: usize,
    item_len: usize,
    work: impl Fn(Range<usize>, &mut [T]) + Sync,
) {
    debug_assert_eq!(data.len(), count * item_len);
    let Some(per) = items_per_part(floats, count).filter(|_| item_len > 0) else {
        work(0..count, data);
        return;
    };
    let blocks = blocks(
        data,
        (0..count.div_ceil(per)).map(|i| per.min(count - i * per) * item_len),
    );
    gemm::for_each_part(blocks.len(), |index| {
        let mut block = take(&blocks[index]);
        let first = index * per;
        let items = block.len() / item_len;
        work(first..first + items, &mut block);
    });
}

/// Items in each part when work of `floats` floats read or written over `count` items is worth
/// splitting over the threads (one part per thread), `None` when it stays on this one.
fn items_per_part(floats: usize, count: usize) -> Option<usize> {
    let parts = if floats >= PARALLEL_MIN_FLOATS {
        gemm::available_threads().min(count)
    } else {
        1
    };
    (parts > 1).then(|| count.div_ceil(parts))
}

/// A part's own block: each is taken by one part, once, so never contended, and a poisoned
/// lock (a part that panicked) still hands the block over.
fn take<'a, 'b, T>(block: &'a Mutex<&'b mut [T]>) -> MutexGuard<'a, &'b mut [T]> {
    block.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// [`in_parts`] over two slices of one length cut at the same places (an optimizer's values
/// and its momentum buffer): `work(range, a_block, b_block)`, split when `floats` (the values
/// read or written in all) make it worth a fork.
pub(crate) fn in_parts_pair<T: Send>(
    floats: usize,
    a: &mut [T],
    b: &mut [T],
    work: impl Fn(Range<usize>, &mut [T], &mut [T]) + Sync,
) {
    assert_eq!(a.len(), b.len(), "two slices of one length");
    let len = a.len();
    let Some(per) = items_per_part(floats, len) else {
        work(0..len, a, b);
        return;
    };
    let sizes = || (0..len.div_ceil(per)).map(|i| per.min(len - i * per));
    let (a_blocks, b_blocks) = (blocks(a, sizes()), blocks(b, sizes()));
    gemm::for_each_part(a_blocks.len(), |index| {
        let (mut a, mut b) = (take(&a_blocks[index]), take(&b_blocks[index]));
        let first = index * per;
        work(first..first + a.len(), &mut a, &mut b);
    });
}

/// `dst [m, n] := lhs [m, k] × rhs [k, n]`, each given as (pointer or slice, row stride, column
/// stride).
///
/// # Safety
/// The views must address every element the shapes name; `dst` must not alias the operands.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn product(
    m: usize,
    n: usize,
    k: usize,
    dst: (&mut [f32], isize, isize),
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
    threads: Parallelism,
) {
    unsafe { product_maybe_onto(m, n, k, dst, false, lhs, rhs, threads) }
}

/// [`product`], or `dst += lhs × rhs` when `onto` (each element's new sum made first, then
/// added to what `dst` held).
///
/// # Safety
/// As [`product`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn product_maybe_onto(
    m: usize,
    n: usize,
    k: usize,
    dst: (&mut [f32], isize, isize),
    onto: bool,
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
    threads: Parallelism,
) {
    let (dst, dst_rs, dst_cs) = dst;
    debug_assert!(dst.len() >= m * n);
    unsafe {
        product_to(
            m,
            n,
            k,
            (dst.as_mut_ptr(), dst_rs, dst_cs),
            onto,
            lhs,
            rhs,
            threads,
        )
    }
}

/// [`product_maybe_onto`] into a destination given as (pointer, row stride, column stride), which
/// may still be uninitialised unless `onto`: the product then stores every element and reads none.
///
/// # Safety
/// As [`product`]; the destination must be writable at every element the shape names.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn product_to(
    m: usize,
    n: usize,
    k: usize,
    dst: (*mut f32, isize, isize),
    onto: bool,
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
    threads: Parallelism,
) {
    unsafe {
        gemm::gemm::<f32>(
            m, n, k, dst.0, dst.2, dst.1, onto, lhs.0, lhs.2, lhs.1, rhs.0, rhs.2, rhs.1, 1.0, 1.0, false,
            false, false, threads,
        )
    }
}

/// `data` cut into consecutive blocks of `sizes` values, each behind its own lock, so that chunks
/// running on different threads each write their own block.
fn blocks<T>(mut data: &mut [T], sizes: impl Iterator<Item = usize>) -> Vec<Mutex<&mut [T]>> {
    let mut blocks = Vec::new();
    for size in sizes {
        let (block, rest) = core::mem::take(&mut data).split_at_mut(size);
        blocks.push(Mutex::new(block));
        data = rest;
    }
    blocks
}

/// Runs `work(first image, images, threads, block, scratch, scratch)` for every chunk, the
/// chunks shared out among the threads, each with its own block of `out` (cut by
/// `block_len(images)`): [`over_runs`] with a run per chunk.
fn over_chunks<T: Send>(
    chunks: &[(usize, usize)],
    out: &mut [T],
    block_len: impl Fn(usize) -> usize,
    work: impl Fn(usize, usize, Parallelism, &mut [T], &mut Vec<f32>, &mut Vec<f32>) + Sync,
) {
    let runs: Vec<&[(usize, usize)]> = chunks.chunks(1).collect();
    over_runs(
        &runs,
        out,
        |run| block_len(run[0].1),
        |first, images, _, threads, block, first_buffer, second_buffer| {
            work(first, images, threads, block, first_buffer, second_buffer)
        },
    );
}

/// Runs `work(first image, images, onto, threads, block, scratch, scratch)` for every chunk of
/// every run: the runs shared out among the threads, a run's chunks in order on one thread into
/// the run's own block of `out` (cut by `block_len(run)`), `onto` saying whether an earlier
/// chunk of the run has written it already; each with its thread's two scratch buffers. `threads`
/// says how a chunk's product should use threads: on its own thread when the runs keep every
/// thread busy, on all of them when there are fewer runs than threads.
fn over_runs<T: Send>(
    runs: &[&[(usize, usize)]],
    out: &mut [T],
    block_len: impl Fn(&[(usize, usize)]) -> usize,
    work: impl Fn(usize, usize, bool, Parallelism, &mut [T], &mut Vec<f32>, &mut Vec<f32>) + Sync,
) {
    let threads = if runs.len() >= gemm::available_threads() {
        Parallelism::Rayon(1)
    } else {
        Parallelism::Rayon(0)
    };
    let blocks = blocks(out, runs.iter().map(|run| block_len(run)));
    gemm::for_each_part(runs.len(), |index| {
        let mut block = take(&blocks[index]);
        with_scratch(|first_buffer, second_buffer| {
            for (position, &(first, images)) in runs[index].iter().enumerate() {
                work(
                    first,
                    images,
                    position > 0,
                    threads,
                    &mut block,
                    first_buffer,
                    second_buffer,
                );
            }
        });
    });
}

/// The output `[batch, outputs, oh, ow]` of `x` (`[batch, channels, h, w]`) convolved with
/// `weight` (`[outputs, channels, k, k]`), plus `bias` (`[outputs]`) when given, through the ReLU
/// when `relu` (applied as the output is stored: no pass and no buffer of its own).
pub fn forward(shape: &ConvShape, x: &[f32], weight: &[f32], bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
    assert_eq!(x.len(), shape.input_len());
    assert_eq!(weight.len(), shape.weight_len());
    if whole_map::applies(shape) {
        whole_map::forward(shape, x, weight, bias, relu)
    } else if winograd::applies(shape) {
        winograd::forward(shape, x, weight, bias, relu)
    } else {
        forward_im2col(shape, x, weight, bias, relu)
    }
}

/// [`forward`] through the patch matrix.
fn forward_im2col(
    shape: &ConvShape,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    // Safety: the chunks cover the batch, and each writes every value of its block (below).
    unsafe {
        written_by(shape.output_len(), |out| {
            forward_im2col_into(shape, x, weight, bias, relu, out)
        })
    }
}

/// [`forward_im2col`] into its uninitialised output, every value written.
fn forward_im2col_into(
    shape: &ConvShape,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [MaybeUninit<f32>],
) {
    let (patch, pixels, outputs) = (shape.patch(), shape.pixels(), shape.outputs);
    let image_out = outputs * pixels;
    over_chunks(
        &shape.chunks(),
        out,
        |images| images * image_out,
        |first, images, threads, mine, col, product_out| {
            let columns = images * pixels;
            let col = at_least(col, patch * columns);
            let product_out = at_least(product_out, outputs * columns);
            im2col(shape, x, first, images, col);
            // [outputs, images · pixels] = [outputs, patch] × [patch, images · pixels]
            unsafe {
                product(
                    outputs,
                    columns,
                    patch,
                    (product_out, columns as isize, 1),
                    (weight.as_ptr(), patch as isize, 1),
                    (col.as_ptr(), columns as isize, 1),
                    threads,
                );
            }
            // Stored as [images, outputs, pixels], the bias and the ReLU applied on the way.
            for b in 0..images {
                for o in 0..outputs {
                    let src = &product_out[o * columns + b * pixels..][..pixels];
                    let dst = &mut mine[(b * outputs + o) * pixels..][..pixels];
                    let shift = bias.map(|bias| bias[o]);
                    for (d, v) in dst.iter_mut().zip(src) {
                        d.write(activate(*v, shift, relu));
                    }
                }
            }
        },
    );
}

/// A product's value as the layer outputs it: plus the bias when there is one, through the ReLU
/// when `relu` (as the dense kernel stores its rows).
#[inline(always)]
fn activate(value: f32, bias: Option<f32>, relu: bool) -> f32 {
    let biased = bias.map_or(value, |bias| value + bias);
    if relu { dense::relu(biased) } else { biased }
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

/// Copies one chunk of the output gradient `[batch, outputs, pixels]` into `[images · pixels,
/// outputs]`, the weight gradient's right operand.
fn gather_grad_transposed(shape: &ConvShape, grad: &[f32], first: usize, images: usize, dst: &mut [f32]) {
    let (pixels, outputs) = (shape.pixels(), shape.outputs);
    let dst = &mut dst[..images * pixels * outputs];
    for (b, block) in dst.chunks_exact_mut(pixels * outputs).enumerate() {
        let image = &grad[(first + b) * outputs * pixels..][..outputs * pixels];
        for (o, plane) in image.chunks_exact(pixels).enumerate() {
            for (pixel, v) in plane.iter().enumerate() {
                block[pixel * outputs + o] = *v;
            }
        }
    }
}

/// The gradient of the input `[batch, channels, h, w]` given the output's.
pub fn input_grad(shape: &ConvShape, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    assert_eq!(weight.len(), shape.weight_len());
    assert_eq!(grad.len(), shape.output_len());
    if whole_map::applies(shape) {
        whole_map::input_grad(shape, weight, grad)
    } else if winograd::applies(shape) {
        winograd::input_grad(shape, weight, grad)
    } else {
        input_grad_im2col(shape, weight, grad)
    }
}

/// [`input_grad`] through the patch matrix.
fn input_grad_im2col(shape: &ConvShape, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let (patch, pixels, outputs) = (shape.patch(), shape.pixels(), shape.outputs);
    let image_len = shape.channels * shape.height * shape.width;
    let mut dx = zeros(shape.input_len());
    over_chunks(
        &shape.chunks(),
        &mut dx,
        |images| images * image_len,
        |first, images, threads, mine, dcol, dy| {
            let columns = images * pixels;
            let dy = at_least(dy, outputs * columns);
            let dcol = at_least(dcol, patch * columns);
            gather_grad(shape, grad, first, images, dy);
            // [patch, images · pixels] = [outputs, patch]ᵀ × [outputs, images · pixels]
            unsafe {
                product(
                    patch,
                    columns,
                    outputs,
                    (dcol, columns as isize, 1),
                    (weight.as_ptr(), 1, patch as isize),
                    (dy.as_ptr(), columns as isize, 1),
                    threads,
                );
            }
            col2im(shape, dcol, images, mine);
        },
    );
    dx
}

/// Columns per chunk (images · pixels: the weight gradient's sum) from which that sum runs as dot
/// products in lanes rather than through the register tiles: a first layer's few weights (27 ×
/// 16) over a long sum (9,216 columns) fill a lane kernel but waste half of an AVX-512 tile.
/// Measured on the products alone: natively 3.2× faster there and 1.05–1.2× at 144 × 32 over
/// 1,792 and 288 × 64 over 832, but in wasm even at 27 × 16 and 0.6–0.7× at the others, so only
/// the long sums take it. The path depends on the chunk's shape alone (same bits everywhere).
const DOT_MIN_COLUMNS: usize = 4096;
// The chunks that choose the lanes must be long enough for gemm to take them.
const _: () = assert!(DOT_MIN_COLUMNS >= gemm::DOT_MIN_K);

/// The gradient of the weight `[outputs, channels, k, k]`: the output gradient times the
/// patches, one product per chunk, then the chunks' products summed in order.
pub fn weight_grad(shape: &ConvShape, x: &[f32], grad: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), shape.input_len());
    assert_eq!(grad.len(), shape.output_len());
    if whole_map::applies(shape) {
        whole_map::weight_grad(shape, x, grad)
    } else if winograd::applies(shape) {
        winograd::weight_grad(shape, x, grad)
    } else {
        weight_grad_im2col(shape, x, grad)
    }
}

/// [`weight_grad`] through the patch matrix.
fn weight_grad_im2col(shape: &ConvShape, x: &[f32], grad: &[f32]) -> Vec<f32> {
    let (patch, pixels, outputs) = (shape.patch(), shape.pixels(), shape.outputs);
    let chunks = shape.chunks();
    let len = shape.weight_len();
    let mut partial = vec![0.0f32; chunks.len() * len];
    over_chunks(
        &chunks,
        &mut partial,
        |_| len,
        |first, images, threads, mine, col, dy| {
            let columns = images * pixels;
            let dy = at_least(dy, columns * outputs);
            let col = at_least(col, patch * columns);
            im2col(shape, x, first, images, col);
            // [outputs, patch]ᵀ = [patch, images · pixels] × [images · pixels, outputs]
            let rhs = if columns >= DOT_MIN_COLUMNS {
                // dy as [outputs, images · pixels]: both operands contiguous along the sum,
                // each element a dot product in lanes.
                gather_grad(shape, grad, first, images, dy);
                (dy.as_ptr(), 1, columns as isize)
            } else {
                // dy as [images · pixels, outputs]: both operands row-major, so the
                // register-tile kernels take them as they are.
                gather_grad_transposed(shape, grad, first, images, dy);
                (dy.as_ptr(), outputs as isize, 1)
            };
            unsafe {
                product(
                    patch,
                    outputs,
                    columns,
                    (mine, 1, patch as isize),
                    (col.as_ptr(), columns as isize, 1),
                    rhs,
                    threads,
                );
            }
        },
    );
    sum_in_order(&partial, len)
}

/// The sum of `partial`'s consecutive parts of `len` floats (the chunks' products), added as
/// `((P₀ + P₁) + P₂) + …` whatever the threads: the elements split over them.
fn sum_in_order(partial: &[f32], len: usize) -> Vec<f32> {
    let mut sum = partial[..len].to_vec();
    in_parts(&mut sum, len, 1, |mine, block| {
        for part in partial.chunks_exact(len).skip(1) {
            for (d, p) in block.iter_mut().zip(&part[mine.clone()]) {
                *d += *p;
            }
        }
    });
    sum
}

/// The sum of `values` in [`SUM_LANES`] lanes (lane `i mod SUM_LANES` takes value `i`), the
/// lanes then added left to right, then the values past the last whole block in order: a
/// fixed order that vector registers keep, where one running sum waited on every add (the
/// bias gradient was 2.7% of a VGG step natively).
fn lane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; SUM_LANES];
    let mut blocks = values.chunks_exact(SUM_LANES);
    for block in &mut blocks {
        for (lane, value) in lanes.iter_mut().zip(block) {
            *lane += *value;
        }
    }
    let total = lanes.iter().fold(0.0f32, |total, lane| total + lane);
    blocks
        .remainder()
        .iter()
        .fold(total, |total, value| total + value)
}

/// Lanes of [`lane_sum`].
const SUM_LANES: usize = 16;

/// The gradient of the bias `[outputs]`: each channel's output gradient summed over images in
/// order, each image's pixels in lanes ([`lane_sum`]); the channels split over the threads
/// (each sum stays on one).
pub fn bias_grad(shape: &ConvShape, grad: &[f32]) -> Vec<f32> {
    assert_eq!(grad.len(), shape.output_len());
    let (pixels, outputs) = (shape.pixels(), shape.outputs);
    let mut db = vec![0.0f32; outputs];
    let work = |mine: Range<usize>, sums: &mut [f32]| {
        for b in 0..shape.batch {
            for (o, sum) in mine.clone().zip(sums.iter_mut()) {
                *sum += lane_sum(&grad[(b * outputs + o) * pixels..][..pixels]);
            }
        }
    };
    // Split by the work (the whole gradient), not by the output's few floats.
    in_parts_weighing(grad.len(), &mut db, outputs, 1, work);
    db
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(channels, height, width, kernel)` of small maps, square and oblong, 1×1 to 8×8.
    const SMALL_MAPS: [(usize, usize, usize, usize); 7] = [
        (3, 8, 8, 3),
        (2, 7, 5, 3),
        (2, 2, 2, 3),
        (1, 1, 1, 3),
        (2, 4, 3, 5),
        (3, 5, 5, 1),
        (1, 1, 4, 3),
    ];

    /// Three images of one output channel, stride 1, "same" padding (the whole-map tests' too).
    pub(super) fn same_shape(channels: usize, height: usize, width: usize, kernel: usize) -> ConvShape {
        ConvShape {
            batch: 3,
            channels,
            height,
            width,
            outputs: 1,
            kernel,
            stride: 1,
            padding: kernel / 2,
        }
    }

    fn bits(values: &[f32]) -> Vec<u32> {
        values.iter().map(|f| f.to_bits()).collect()
    }

    /// Asserts that `ours` is `theirs` within 1e-5 of `theirs`' scale (at least 1).
    fn close(ours: &[f32], theirs: &[f32], what: &str) {
        assert_eq!(ours.len(), theirs.len(), "{what}");
        let scale = theirs.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert!((a - b).abs() <= 1e-5 * scale, "{what}[{i}]: {a} against {b}");
        }
    }

    /// The small maps' adjoint adds the general path's values in the same order (bit for bit,
    /// onto a non-zero gradient, with values whose sums round by order) on maps from 1×1 to
    /// 15×15, kernels 1, 3 and 5.
    #[test]
    fn same_padding_col2im_equals_the_general_one() {
        for (channels, height, width, kernel) in SMALL_MAPS.into_iter().chain([(2, 15, 15, 3)]) {
            let shape = same_shape(channels, height, width, kernel);
            // Values whose sums round differently in another order.
            let col: Vec<f32> = (0..shape.patch() * 3 * shape.pixels())
                .map(|i| ((i * 7919) % 1000) as f32 * 1.37e-3 + (i % 3) as f32 * 1e4)
                .collect();
            let image_len = channels * height * width;
            let (mut general, mut small) = (vec![0.5f32; 3 * image_len], vec![0.5f32; 3 * image_len]);
            col2im_general(&shape, &col, 3, &mut general);
            col2im_small(&shape, &col, 3, &mut small);
            assert_eq!(
                bits(&general),
                bits(&small),
                "{channels}×{height}×{width}, kernel {kernel}"
            );
        }
    }

    /// On maps that every window covers, the single product gives the im2col path's outputs
    /// bit for bit (the padding's zero terms left out change no finite sum) and its gradients
    /// up to rounding (the same terms in another order), kernels 1, 3 and 5, square and oblong.
    #[test]
    fn whole_map_products_equal_the_im2col_path() {
        let draw = |len: usize, salt: usize| -> Vec<f32> {
            (0..len)
                .map(|i| (((i * 7919 + salt) % 2001) as f32 - 1000.0) * 1e-3)
                .collect()
        };
        let maps = [
            (3, 2, 2, 3),
            (2, 1, 1, 3),
            (2, 1, 2, 3),
            (2, 2, 1, 3),
            (2, 3, 3, 5),
            (2, 2, 3, 5),
            (3, 1, 1, 1),
        ];
        for (channels, height, width, kernel) in maps {
            let shape = ConvShape {
                batch: 19,
                outputs: 5,
                ..same_shape(channels, height, width, kernel)
            };
            assert!(whole_map::applies(&shape));
            let (x, w) = (draw(shape.input_len(), 1), draw(shape.weight_len(), 2));
            let (grad, bias) = (draw(shape.output_len(), 3), draw(5, 4));
            let what = format!("{channels}×{height}×{width}, kernel {kernel}");
            for (bias, relu) in [(None, false), (Some(&bias[..]), true)] {
                assert_eq!(
                    bits(&forward(&shape, &x, &w, bias, relu)),
                    bits(&forward_im2col(&shape, &x, &w, bias, relu)),
                    "{what}: output"
                );
            }
            let dx = input_grad(&shape, &w, &grad);
            close(
                &dx,
                &input_grad_im2col(&shape, &w, &grad),
                &format!("{what}: input grad"),
            );
            let dw = weight_grad(&shape, &x, &grad);
            close(
                &dw,
                &weight_grad_im2col(&shape, &x, &grad),
                &format!("{what}: weight grad"),
            );
        }
        // A 3×3 map under a 3×3 kernel has windows that miss a corner: the patch matrix's.
        assert!(!whole_map::applies(&same_shape(1, 3, 3, 3)));
    }

    /// `zeros` clears every value, also where the allocator hands back memory a dropped buffer
    /// had filled, on both sides of the size from which the threads share the work.
    #[test]
    fn zeros_are_zeros_on_reused_memory() {
        for len in [
            0,
            1,
            1000,
            2 * PARALLEL_MIN_FLOATS - 1,
            2 * PARALLEL_MIN_FLOATS + 7,
            1 << 21,
        ] {
            drop(vec![f32::NAN; len]);
            let values = zeros(len);
            assert_eq!(values.len(), len);
            assert!(values.iter().all(|v| v.to_bits() == 0), "{len}");
        }
    }

    /// Two slices cut at the same places: every index reaches `work` exactly once, in the
    /// range its two blocks start at, below and above the threshold for a split.
    #[test]
    fn pairs_are_cut_at_the_same_places() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        for len in [0, 1, 7, PARALLEL_MIN_FLOATS / 3, PARALLEL_MIN_FLOATS + 3, 1 << 18] {
            let mut a: Vec<usize> = (0..len).collect();
            let mut b: Vec<usize> = (0..len).map(|i| 2 * i).collect();
            // Checked after the parts: a failed assertion on a helper thread would not reach
            // the test.
            let misplaced = AtomicUsize::new(0);
            in_parts_pair(3 * len, &mut a, &mut b, |range, a, b| {
                let fits = range.len() == a.len() && a.len() == b.len();
                let mut wrong = usize::from(!fits);
                for ((i, a), b) in range.zip(a.iter_mut()).zip(b.iter_mut()) {
                    wrong += usize::from(*a != i || *b != 2 * i);
                    *a += 1;
                    *b += 1;
                }
                misplaced.fetch_add(wrong, Ordering::Relaxed);
            });
            assert_eq!(misplaced.load(Ordering::Relaxed), 0, "{len}");
            assert!(a.iter().enumerate().all(|(i, &v)| v == i + 1), "{len}: a");
            assert!(b.iter().enumerate().all(|(i, &v)| v == 2 * i + 1), "{len}: b");
        }
    }

    /// The lanes' sum is the plain sum on whole numbers (exact in any order), on lengths with
    /// and without a partial last block.
    #[test]
    fn lane_sums_are_sums() {
        for len in [0, 1, SUM_LANES - 1, SUM_LANES, 3 * SUM_LANES + 5, 1024] {
            let values: Vec<f32> = (0..len).map(|i| (i % 7) as f32 - 3.0).collect();
            let plain: f32 = values.iter().sum();
            assert_eq!(lane_sum(&values), plain, "{len}");
        }
    }

    /// Winograd's F(2×2, 3×3) and F(4×4, 3×3) give the im2col path's output and gradients up to
    /// rounding, with and without bias and ReLU, on square and oblong maps of even sides (F(4×4)
    /// where the sides are multiples of 4 from 8 up).
    #[test]
    fn winograd_equals_the_im2col_path() {
        let draw = |len: usize, salt: usize| -> Vec<f32> {
            (0..len)
                .map(|i| (((i * 7919 + salt * 104729) % 2001) as f32 - 1000.0) * 1e-3)
                .collect()
        };
        for (batch, channels, outputs, height, width, f4) in [
            (3, 16, 16, 4, 4, false),
            (2, 17, 20, 8, 6, false),
            (5, 32, 16, 4, 10, false),
            (1, 16, 24, 16, 16, true),
            (2, 16, 16, 8, 8, true),
            (3, 20, 16, 8, 12, true),
            (9, 16, 32, 16, 8, true),
        ] {
            let shape = ConvShape {
                batch,
                channels,
                height,
                width,
                outputs,
                kernel: 3,
                stride: 1,
                padding: 1,
            };
            assert!(winograd::applies(&shape));
            assert_eq!(winograd::takes_f4(&shape), f4);
            let (x, w) = (draw(shape.input_len(), 1), draw(shape.weight_len(), 2));
            let (grad, bias) = (draw(shape.output_len(), 3), draw(outputs, 4));
            let what = format!("{batch}×{channels}×{height}×{width} → {outputs}");
            for (bias, relu) in [(None, false), (Some(&bias[..]), true), (Some(&bias[..]), false)] {
                close(
                    &forward(&shape, &x, &w, bias, relu),
                    &forward_im2col(&shape, &x, &w, bias, relu),
                    &format!("{what}: output"),
                );
            }
            close(
                &input_grad(&shape, &w, &grad),
                &input_grad_im2col(&shape, &w, &grad),
                &format!("{what}: input grad"),
            );
            close(
                &weight_grad(&shape, &x, &grad),
                &weight_grad_im2col(&shape, &x, &grad),
                &format!("{what}: weight grad"),
            );
        }
        // Odd sides, few channels, 2×2 maps and other kernels keep their paths.
        let base = same_shape(16, 8, 8, 3);
        assert!(!winograd::applies(&ConvShape {
            outputs: 16,
            height: 7,
            ..base
        }));
        assert!(!winograd::applies(&ConvShape {
            outputs: 16,
            channels: 3,
            ..base
        }));
        assert!(!winograd::applies(&ConvShape {
            outputs: 16,
            height: 2,
            width: 2,
            ..base
        }));
        assert!(!winograd::applies(&same_shape(16, 8, 8, 5)));
    }

    /// The "same" paths (copies on wide maps, a bordered plane on small ones) write exactly the general
    /// path's values (bit for bit, padding zeros included) on square and oblong maps from 1×1
    /// to 18×20, kernels 1, 3 and 5.
    #[test]
    fn same_padding_im2col_equals_the_general_one() {
        // The wide ones take the copying path.
        let wide = [(2, 16, 16, 3), (2, 9, 17, 3), (1, 18, 20, 5), (2, 16, 16, 1)];
        for (channels, height, width, kernel) in SMALL_MAPS.into_iter().chain(wide) {
            let shape = same_shape(channels, height, width, kernel);
            let x: Vec<f32> = (0..shape.input_len()).map(|i| i as f32 + 1.0).collect();
            let len = shape.patch() * 2 * shape.pixels();
            let (mut general, mut same) = (vec![f32::NAN; len], vec![f32::NAN; len]);
            im2col_general(&shape, &x, 1, 2, &mut general);
            im2col_same(&shape, &x, 1, 2, &mut same);
            assert_eq!(
                bits(&general),
                bits(&same),
                "{channels}×{height}×{width}, kernel {kernel}"
            );
        }
    }
}
