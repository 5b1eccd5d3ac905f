//! 3×3 convolutions at stride 1 with one pixel of padding, on maps of even sides, by Winograd's
//! minimal filtering F(m×m, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016): each m×m block of outputs ("tile") comes from its (m + 2)² input window in
//! (m + 2)² products per (input, output) channel pair instead of 9m², so the layer's matrix
//! products do 4 multiply-adds per output and channel with F(2×2) and 2.25 with F(4×4), where
//! im2col does 9. The products are plain ones, one per position ξ of the transformed window:
//!
//! - forward: `M_ξ [outputs, tiles] = U_ξ [outputs, channels] × V_ξ [channels, tiles]`, with
//!   `U = G g Gᵀ` (each 3×3 kernel g), `V = Bᵀ d B` (each input window d), and each tile's
//!   outputs `Aᵀ M A`;
//! - the input's gradient: the forward pass of the output's gradient with each kernel turned by
//!   180° and the channel axes swapped (a "same" convolution's adjoint is one);
//! - the weight's gradient: `dU_ξ [outputs, channels] = dM_ξ [outputs, tiles] × V_ξᵀ`, with
//!   `dM = A dY Aᵀ` per tile, and `dg = Gᵀ dU G`.
//!
//! F(4×4) ([`F4`]) takes the maps whose sides are multiples of 4 from 8 up, F(2×2) ([`F2`]) the
//! other even ones (VGG-11's 4×4 maps, where a 4×4 tile would be the whole map). F(4×4) trades
//! product work for transform work (its 6-value steps have factors 2, 4, 5 and 8 where F(2×2)'s
//! 4-value ones only add); it won on VGG-11 ×0.25 natively and in the page (BENCHMARKS.md,
//! issue 11). Two earlier tries lost natively, with transforms that did not vectorise.
//!
//! The sums differ from the im2col path's by rounding only (tests: within 1e-5 of the values'
//! scale). Every sum has a fixed order that depends on the shape alone (the transforms are
//! fixed expressions, the same per value whether computed in a block of lanes or alone; the
//! products go through `crates/gemm`), so the page and the command line keep the same bits.

use super::{
    ConvShape, activate, at_least, in_parts, in_parts_weighing, over_chunks, over_runs, product_maybe_onto,
    sum_in_order, written_by,
};
use core::mem::MaybeUninit;
use core::ops::{Add, Mul, Neg, Sub};
use gemm::Parallelism;

/// Channels (on the side the products sum over) from which a layer takes this path: the
/// transforms cost a few adds per value, which only products deep enough pay back (a first
/// layer's 3 channels keep the patch matrix).
const MIN_CHANNELS: usize = 16;

/// Running sums the weight gradient's chunks are added into, each over a fixed run of
/// consecutive chunks: as many as this machine's and the page's two threads (a chunk's own
/// `[16, outputs, channels]` partial, summed at the end, was 8 MB a 128-channel layer to clear,
/// write and read back). A constant, not the thread count, so every machine sums in the same
/// order.
const DW_SUMS: usize = 2;

/// Values of the largest transformed window (F(4×4)'s 6×6).
const MAX_XI: usize = 36;

/// Whether `shape` takes this path: a 3×3 kernel at stride 1 with padding 1, a map of even
/// sides of at least 4 (smaller ones are a single product, [`super::whole_map`]), and at least
/// [`MIN_CHANNELS`] channels in and out (the input gradient sums over the outputs).
pub(super) fn applies(shape: &ConvShape) -> bool {
    shape.kernel == 3
        && shape.stride == 1
        && shape.padding == 1
        && shape.height >= 4
        && shape.width >= 4
        && shape.height.is_multiple_of(2)
        && shape.width.is_multiple_of(2)
        && shape.channels >= MIN_CHANNELS
        && shape.outputs >= MIN_CHANNELS
}

/// Whether a shape that [`applies`] takes F(4×4): sides that are multiples of 4, from 8 up.
pub(super) fn takes_f4(shape: &ConvShape) -> bool {
    shape.height >= 8 && shape.width >= 8 && shape.height.is_multiple_of(4) && shape.width.is_multiple_of(4)
}

/// What the transforms compute on: one value, or a block of [`BLOCK`] tiles' values at once.
trait Lane:
    Copy + Add<Output = Self> + Sub<Output = Self> + Neg<Output = Self> + Mul<f32, Output = Self>
{
}

impl Lane for f32 {}

/// Tiles a transform step takes at once: one 128-bit vector, in the page (SIMD128) and natively
/// (the engine's own code is built for baseline x86-64, SSE2). Blocks of 16 spilled natively
/// (four registers a value: a 4-value step on 16 lanes held all 16 of SSE's), and made the CLI's
/// VGG 10% slower than the loops the compiler vectorised before.
const BLOCK: usize = 4;

/// [`BLOCK`] tiles' values, one per lane: each operation is the one on a single value, lane by
/// lane, so a block rounds exactly as the values one by one.
#[derive(Clone, Copy)]
struct Block([f32; BLOCK]);

macro_rules! lanewise {
    ($trait:ident, $method:ident, $op:tt) => {
        impl $trait for Block {
            type Output = Self;
            #[inline(always)]
            fn $method(self, other: Self) -> Self {
                Block(core::array::from_fn(|i| self.0[i] $op other.0[i]))
            }
        }
    };
}
lanewise!(Add, add, +);
lanewise!(Sub, sub, -);

impl Neg for Block {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Block(self.0.map(|v| -v))
    }
}

impl Mul<f32> for Block {
    type Output = Self;
    #[inline(always)]
    fn mul(self, factor: f32) -> Self {
        Block(self.0.map(|v| v * factor))
    }
}

impl Lane for Block {}

/// One algorithm F(m×m, 3×3), `W = m + 2` the window's side: its 1-D steps, each applied along
/// the window's rows and then its columns (or the reverse, as each pass says).
trait Minimal<const W: usize> {
    /// Outputs per tile side, `W − 2`.
    const M: usize;
    /// `Bᵀ d`.
    fn input<T: Lane>(d: [T; W]) -> [T; W];
    /// `Aᵀ m` in the first `M` values (the others as they were).
    fn output<T: Lane>(m: [T; W]) -> [T; W];
    /// `A v` of the first `M` values of `v` (the others are not read).
    fn output_grad<T: Lane>(v: [T; W]) -> [T; W];
    /// `G g` of a kernel's row or column.
    fn kernel(g: [f32; 3]) -> [f32; W];
    /// `Gᵀ u`.
    fn kernel_grad(u: [f32; W]) -> [f32; 3];
}

/// F(2×2, 3×3): 16 products per 4 outputs and channel pair.
struct F2;

impl Minimal<4> for F2 {
    const M: usize = 2;
    #[inline(always)]
    fn input<T: Lane>([d0, d1, d2, d3]: [T; 4]) -> [T; 4] {
        // Bᵀ's rows: (1, 0, −1, 0), (0, 1, 1, 0), (0, −1, 1, 0), (0, 1, 0, −1).
        [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
    }
    #[inline(always)]
    fn output<T: Lane>([m0, m1, m2, m3]: [T; 4]) -> [T; 4] {
        // Aᵀ's rows: (1, 1, 1, 0), (0, 1, −1, −1).
        [m0 + m1 + m2, m1 - m2 - m3, m2, m3]
    }
    #[inline(always)]
    fn output_grad<T: Lane>([v0, v1, _, _]: [T; 4]) -> [T; 4] {
        // A's rows: (1, 0), (1, 1), (1, −1), (0, −1).
        [v0, v0 + v1, v0 - v1, -v1]
    }
    #[inline(always)]
    fn kernel([g0, g1, g2]: [f32; 3]) -> [f32; 4] {
        // G's rows: (1, 0, 0), (½, ½, ½), (½, −½, ½), (0, 0, 1).
        [g0, (g0 + g1 + g2) * 0.5, (g0 - g1 + g2) * 0.5, g2]
    }
    #[inline(always)]
    fn kernel_grad([u0, u1, u2, u3]: [f32; 4]) -> [f32; 3] {
        // Gᵀ's rows: (1, ½, ½, 0), (0, ½, −½, 0), (0, ½, ½, 1).
        [u0 + (u1 + u2) * 0.5, (u1 - u2) * 0.5, (u1 + u2) * 0.5 + u3]
    }
}

/// F(4×4, 3×3) at the points 0, ±1, ±2 (Lavin & Gray's matrices): 36 products per 16 outputs
/// and channel pair.
struct F4;

impl Minimal<6> for F4 {
    const M: usize = 4;
    #[inline(always)]
    fn input<T: Lane>([d0, d1, d2, d3, d4, d5]: [T; 6]) -> [T; 6] {
        // Bᵀ's rows: (4, 0, −5, 0, 1, 0), (0, −4, −4, 1, 1, 0), (0, 4, −4, −1, 1, 0),
        // (0, −2, −1, 2, 1, 0), (0, 2, −1, −2, 1, 0), (0, 4, 0, −5, 0, 1).
        let (odd, even) = (d3 - d1, d4 - d2);
        [
            (d0 - d2) * 4.0 + (d4 - d2),
            (d3 + d4) - (d1 + d2) * 4.0,
            (d4 - d3) + (d1 - d2) * 4.0,
            even + odd * 2.0,
            even - odd * 2.0,
            (d1 - d3) * 4.0 + (d5 - d3),
        ]
    }
    #[inline(always)]
    fn output<T: Lane>([m0, m1, m2, m3, m4, m5]: [T; 6]) -> [T; 6] {
        // Aᵀ's rows: (1, 1, 1, 1, 1, 0), (0, 1, −1, 2, −2, 0), (0, 1, 1, 4, 4, 0),
        // (0, 1, −1, 8, −8, 1).
        let (sum1, dif1) = (m1 + m2, m1 - m2);
        let (sum2, dif2) = (m3 + m4, m3 - m4);
        [
            m0 + sum1 + sum2,
            dif1 + dif2 * 2.0,
            sum1 + sum2 * 4.0,
            dif1 + dif2 * 8.0 + m5,
            m4,
            m5,
        ]
    }
    #[inline(always)]
    fn output_grad<T: Lane>([v0, v1, v2, v3, _, _]: [T; 6]) -> [T; 6] {
        // A's rows: (1, 0, 0, 0), (1, 1, 1, 1), (1, −1, 1, −1), (1, 2, 4, 8), (1, −2, 4, −8),
        // (0, 0, 0, 1).
        let (even1, odd1) = (v0 + v2, v1 + v3);
        let (even2, odd2) = (v0 + v2 * 4.0, v1 * 2.0 + v3 * 8.0);
        [v0, even1 + odd1, even1 - odd1, even2 + odd2, even2 - odd2, v3]
    }
    #[inline(always)]
    fn kernel([g0, g1, g2]: [f32; 3]) -> [f32; 6] {
        // G's rows: (¼, 0, 0), (−⅙, −⅙, −⅙), (−⅙, ⅙, −⅙), (1/24, 1/12, ⅙), (1/24, −1/12, ⅙),
        // (0, 0, 1).
        let outer = g0 + g2;
        let quarter = g0 * 0.25 + g2;
        [
            g0 * 0.25,
            -(outer + g1) * SIXTH,
            -(outer - g1) * SIXTH,
            (quarter + g1 * 0.5) * SIXTH,
            (quarter - g1 * 0.5) * SIXTH,
            g2,
        ]
    }
    #[inline(always)]
    fn kernel_grad([u0, u1, u2, u3, u4, u5]: [f32; 6]) -> [f32; 3] {
        // Gᵀ's rows: (¼, −⅙, −⅙, 1/24, 1/24, 0), (0, −⅙, ⅙, 1/12, −1/12, 0),
        // (0, −⅙, −⅙, ⅙, ⅙, 1).
        let (sum1, dif1) = (u1 + u2, u1 - u2);
        let (sum2, dif2) = (u3 + u4, u3 - u4);
        [
            u0 * 0.25 + (sum2 * 0.25 - sum1) * SIXTH,
            (dif2 * 0.5 - dif1) * SIXTH,
            (sum2 - sum1) * SIXTH + u5,
        ]
    }
}

/// ⅙, rounded once: F(4×4)'s kernel transforms multiply by it (a division by 6 costs several
/// multiplications).
const SIXTH: f32 = 1.0 / 6.0;

/// Which of an algorithm's 1-D steps [`along_tiles`] applies (a `const` parameter, so that each
/// use compiles to its own loop).
const INPUT: u8 = 0;
const OUTPUT: u8 = 1;
const OUTPUT_GRAD: u8 = 2;

/// The step `WHICH` of `F` on one window line's values.
#[inline(always)]
fn step<const W: usize, F: Minimal<W>, const WHICH: u8, T: Lane>(values: [T; W]) -> [T; W] {
    match WHICH {
        INPUT => F::input(values),
        OUTPUT => F::output(values),
        _ => F::output_grad(values),
    }
}

/// The tiles over one map: `(th, tw) = (height / m, width / m)` rows and columns of them; tile
/// `t = (n · th + ty) · tw + tx` within a chunk whose first image is `n = 0`.
fn tile_grid<const W: usize, F: Minimal<W>>(shape: &ConvShape) -> (usize, usize) {
    (shape.height / F::M, shape.width / F::M)
}

/// Tiles an image: `th · tw` ([`tile_grid`]).
fn tiles_per_image<const W: usize, F: Minimal<W>>(shape: &ConvShape) -> usize {
    let (th, tw) = tile_grid::<W, F>(shape);
    th * tw
}

/// The batch as chunks of whole images whose transformed inputs and outputs (`W² · (channels
/// + outputs)` floats a tile) stay in a core's cache, as the patch matrix's chunks do.
fn chunks<const W: usize, F: Minimal<W>>(shape: &ConvShape) -> Vec<(usize, usize)> {
    shape.chunks_holding(W * W * (shape.channels + shape.outputs) * tiles_per_image::<W, F>(shape))
}

/// One line of a transformed window: the `W` rows of a channel's `W²` that one 1-D step takes.
#[derive(Clone, Copy)]
enum Line {
    /// Window row `r`: rows `W·r .. W·r + W` (one step of `· B` or `· A`).
    Row(usize),
    /// Window column `c`: rows `c, W + c, 2W + c, …` (one step of `Bᵀ ·` or `Aᵀ ·`).
    Column(usize),
}

impl Line {
    /// Its `W` rows, distinct by construction.
    fn rows<const W: usize>(self) -> [usize; W] {
        match self {
            Line::Row(r) => core::array::from_fn(|c| W * r + c),
            Line::Column(c) => core::array::from_fn(|r| W * r + c),
        }
    }
}

/// The rows of the `window` line in `rows` (each `tiles` long) replaced, tile by tile, by the step `WHICH`
/// of their values: [`BLOCK`] tiles at a time, the rest one by one.
#[inline(always)]
fn along_tiles<const W: usize, F: Minimal<W>, const WHICH: u8>(rows: &mut [f32], tiles: usize, window: Line) {
    // Slices over raw parts rather than `get_disjoint_mut`, whose pairwise checks were a few
    // percent of a step on the small maps' short rows. Sound because a line's rows are distinct
    // (`Line::rows`) and each lies within `rows` (checked here), so no two slices overlap.
    let at = window.rows::<W>();
    assert!(at.iter().all(|&row| (row + 1) * tiles <= rows.len()));
    let base = rows.as_mut_ptr();
    let mut lines: [&mut [f32]; W] =
        at.map(|row| unsafe { core::slice::from_raw_parts_mut(base.add(row * tiles), tiles) });
    let blocked = tiles / BLOCK * BLOCK;
    for t in (0..blocked).step_by(BLOCK) {
        let values = core::array::from_fn(|i| {
            let mut block = [0.0f32; BLOCK];
            block.copy_from_slice(&lines[i][t..t + BLOCK]);
            Block(block)
        });
        for (line, block) in lines.iter_mut().zip(step::<W, F, WHICH, Block>(values)) {
            line[t..t + BLOCK].copy_from_slice(&block.0);
        }
    }
    for t in blocked..tiles {
        let values = core::array::from_fn(|i| lines[i][t]);
        for (line, value) in lines.iter_mut().zip(step::<W, F, WHICH, f32>(values)) {
            line[t] = value;
        }
    }
}

/// Fills `v` (`[channels, W², tiles]` for the `images` from `first`) with each tile's input
/// window (zero outside the map) as `Bᵀ d B`. Each channel's windows are first copied out as
/// `W²` rows over the tiles (row `W·r + c` holds every window's value at `(r, c)`), then
/// transformed in place row by row, so that every step runs along the tiles in lanes.
fn transform_input<const W: usize, F: Minimal<W>>(
    shape: &ConvShape,
    x: &[f32],
    first: usize,
    images: usize,
    v: &mut [f32],
) {
    match shape.width / F::M {
        2 => transform_input_at::<W, F, 2>(shape, x, first, images, v),
        4 => transform_input_at::<W, F, 4>(shape, x, first, images, v),
        8 => transform_input_at::<W, F, 8>(shape, x, first, images, v),
        _ => transform_input_at::<W, F, 0>(shape, x, first, images, v),
    }
}

/// [`transform_input`] for maps `m·TW` wide (`TW = 0`: any width), so that the copies of a
/// row of windows are fixed moves on the small maps.
fn transform_input_at<const W: usize, F: Minimal<W>, const TW: usize>(
    shape: &ConvShape,
    x: &[f32],
    first: usize,
    images: usize,
    v: &mut [f32],
) {
    let m = F::M;
    let (h, w, channels) = (shape.height, shape.width, shape.channels);
    let (th, tw) = tile_grid::<W, F>(shape);
    let tiles = images * th * tw;
    // Each row of the map inside a border of one zero, dealt into its m phases (phase q holds
    // the padded columns q, q + m, q + 2m, …): [h + 2, m, tw + 1]. The border's entries are
    // never written, so they stay zero.
    let phase = tw + 1;
    let mut split = vec![0.0f32; (h + 2) * m * phase];
    for c in 0..channels {
        let rows = &mut v[c * W * W * tiles..][..W * W * tiles];
        for n in 0..images {
            let map = &x[((first + n) * channels + c) * h * w..][..h * w];
            for (row, line) in map.chunks_exact(w).enumerate() {
                let phases = &mut split[(row + 1) * m * phase..][..m * phase];
                // The map's column m·k + j is padded column m·k + j + 1: phase j + 1 at k, but
                // the last one's phase 0 at k + 1.
                let (first, rest) = phases.split_at_mut(phase);
                let mut later = rest.chunks_exact_mut(phase).map(|phase| &mut phase[..tw]);
                let mut next = || later.next().expect("m phases");
                match m {
                    2 => deinterleave(line, [next(), &mut first[1..]]),
                    _ => deinterleave(line, [next(), next(), next(), &mut first[1..]]),
                }
            }
            for ty in 0..th {
                let t0 = (n * th + ty) * tw;
                for r in 0..W {
                    let line = &split[(m * ty + r) * m * phase..][..m * phase];
                    for col in 0..W {
                        let src = &line[(col % m) * phase + col / m..][..tw];
                        super::copy_line::<TW>(&mut rows[(W * r + col) * tiles + t0..][..tw], src);
                    }
                }
            }
        }
        // First along each window row (d B), then down the columns (Bᵀ ·).
        for r in 0..W {
            along_tiles::<W, F, INPUT>(rows, tiles, Line::Row(r));
        }
        for col in 0..W {
            along_tiles::<W, F, INPUT>(rows, tiles, Line::Column(col));
        }
    }
}

/// `U` as `[W², outputs, channels]`: each 3×3 kernel of `weight` (`[outputs, channels, 3, 3]`)
/// as `G g Gᵀ`, on every thread: first kernel by kernel into `[pairs, W²]`, then laid out by ξ.
fn transform_weight<const W: usize, F: Minimal<W>>(
    outputs: usize,
    channels: usize,
    weight: &[f32],
) -> Vec<f32> {
    let pairs = outputs * channels;
    let by_kernel = |by_pair: &mut [MaybeUninit<f32>]| {
        in_parts(by_pair, pairs, W * W, |range, block| {
            for (g, u) in weight[range.start * 9..range.end * 9]
                .chunks_exact(9)
                .zip(block.chunks_exact_mut(W * W))
            {
                // s[j][i] = (G g)[i][j]
                let s: [[f32; W]; 3] = core::array::from_fn(|j| F::kernel([g[j], g[3 + j], g[6 + j]]));
                for (i, row) in u.chunks_exact_mut(W).enumerate() {
                    for (cell, value) in row.iter_mut().zip(F::kernel([s[0][i], s[1][i], s[2][i]])) {
                        cell.write(value);
                    }
                }
            }
        })
    };
    // Safety (both): each part writes every value of its block, and the blocks cover the buffer.
    let by_pair = unsafe { written_by(W * W * pairs, by_kernel) }; // [pairs, W²]
    let by_xi = |u: &mut [MaybeUninit<f32>]| {
        in_parts(u, W * W, pairs, |range, block| {
            for (xi, row) in range.zip(block.chunks_exact_mut(pairs)) {
                for (cell, kernel) in row.iter_mut().zip(by_pair.chunks_exact(W * W)) {
                    cell.write(kernel[xi]);
                }
            }
        })
    };
    unsafe { written_by(W * W * pairs, by_xi) }
}

/// `[ξ, rows, columns]`: `lhs_ξ [rows, depth] × rhs_ξ [depth, columns]` for each of the
/// `windows` positions ξ (added onto `out`'s values when `onto`), the operands given as
/// (pointer, ξ stride, row stride, column stride), the output row-major per ξ at `out_strides`
/// (ξ stride, row stride).
///
/// # Safety
/// The views must address every element the shapes name.
#[allow(clippy::too_many_arguments)]
unsafe fn products(
    windows: usize,
    (out, onto): (&mut [f32], bool),
    out_strides: (usize, usize),
    (rows, columns, depth): (usize, usize, usize),
    lhs: (*const f32, usize, isize, isize),
    rhs: (*const f32, usize, isize, isize),
    threads: Parallelism,
) {
    for xi in 0..windows {
        let dst = &mut out[xi * out_strides.0..];
        unsafe {
            product_maybe_onto(
                rows,
                columns,
                depth,
                (dst, out_strides.1 as isize, 1),
                onto,
                (lhs.0.add(xi * lhs.1), lhs.2, lhs.3),
                (rhs.0.add(xi * rhs.1), rhs.2, rhs.3),
                threads,
            );
        }
    }
}

/// [`super::forward`] through the transforms, chunk by chunk.
pub(super) fn forward(
    shape: &ConvShape,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    if takes_f4(shape) {
        forward_with::<6, F4>(shape, x, weight, bias, relu)
    } else {
        forward_with::<4, F2>(shape, x, weight, bias, relu)
    }
}

/// [`forward`] by the algorithm `F`.
fn forward_with<const W: usize, F: Minimal<W>>(
    shape: &ConvShape,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    let u = transform_weight::<W, F>(shape.outputs, shape.channels, weight); // [W², outputs, channels]
    // Safety: the chunks cover the batch, and `transform_output` writes every value of a
    // chunk's block.
    unsafe {
        written_by(shape.output_len(), |out| {
            forward_into::<W, F>(shape, x, &u, bias, relu, out)
        })
    }
}

/// [`forward_with`] into its uninitialised output, `u` the transformed kernels.
fn forward_into<const W: usize, F: Minimal<W>>(
    shape: &ConvShape,
    x: &[f32],
    u: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [MaybeUninit<f32>],
) {
    let (channels, outputs) = (shape.channels, shape.outputs);
    let image_out = outputs * shape.height * shape.width;
    over_chunks(
        &chunks::<W, F>(shape),
        out,
        |images| images * image_out,
        |first, images, threads, mine, v, m| {
            let tiles = images * tiles_per_image::<W, F>(shape);
            let v = at_least(v, channels * W * W * tiles); // [channels, W², tiles]
            let m = at_least(m, outputs * W * W * tiles); // [outputs, W², tiles]
            transform_input::<W, F>(shape, x, first, images, v);
            // M_ξ [outputs, tiles] = U_ξ [outputs, channels] × V_ξ [channels, tiles]
            // Safety: u holds W² · outputs · channels, v and m the lengths above.
            unsafe {
                products(
                    W * W,
                    (m, false),
                    (tiles, W * W * tiles),
                    (outputs, tiles, channels),
                    (u.as_ptr(), outputs * channels, channels as isize, 1),
                    (v.as_ptr(), tiles, (W * W * tiles) as isize, 1),
                    threads,
                );
            }
            transform_output::<W, F>(shape, m, images, bias, relu, mine);
        },
    );
}

/// Fills `out` (`[images, outputs, h, w]`, every value written) from `m` (`[outputs, W²,
/// tiles]`, overwritten): each tile's `Aᵀ M A`, plus the bias, through the ReLU. `Aᵀ` is
/// applied in place along the tiles (down the columns, then along the rows), leaving each
/// tile's m×m outputs in rows `W·i + j`, `i, j < m`.
fn transform_output<const W: usize, F: Minimal<W>>(
    shape: &ConvShape,
    m: &mut [f32],
    images: usize,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [MaybeUninit<f32>],
) {
    let side = F::M;
    let (h, w, outputs) = (shape.height, shape.width, shape.outputs);
    let (th, tw) = tile_grid::<W, F>(shape);
    let tiles = images * th * tw;
    for o in 0..outputs {
        let rows = &mut m[o * W * W * tiles..][..W * W * tiles];
        for col in 0..W {
            along_tiles::<W, F, OUTPUT>(rows, tiles, Line::Column(col));
        }
        for r in 0..side {
            along_tiles::<W, F, OUTPUT>(rows, tiles, Line::Row(r));
        }
        // The bias and the ReLU along the tiles, on the rows that hold outputs.
        let shift = bias.map(|bias| bias[o]);
        if shift.is_some() || relu {
            for i in 0..side {
                for value in &mut rows[W * i * tiles..][..side * tiles] {
                    *value = activate(*value, shift, relu);
                }
            }
        }
        for n in 0..images {
            let map = &mut out[(n * outputs + o) * h * w..][..h * w];
            for ty in 0..th {
                let t0 = (n * th + ty) * tw;
                for i in 0..side {
                    let line = &mut map[(side * ty + i) * w..][..w];
                    let values = |j: usize| &rows[(W * i + j) * tiles + t0..][..tw];
                    match side {
                        2 => interleave(line, [values(0), values(1)]),
                        _ => interleave(line, [values(0), values(1), values(2), values(3)]),
                    }
                }
            }
        }
    }
}

/// `dst[j][t] := line[M·t + j]`: a line of the map dealt out to its tiles, tile by tile.
#[inline(always)]
fn deinterleave<const M: usize>(line: &[f32], dst: [&mut [f32]; M]) {
    let tiles = line.len() / M;
    let mut dst = dst.map(|row| &mut row[..tiles]);
    for (t, group) in line.chunks_exact(M).enumerate() {
        for (row, value) in dst.iter_mut().zip(group) {
            row[t] = *value;
        }
    }
}

/// `line[M·t + j] := values[j][t]`: a row of tiles' outputs, tile by tile.
#[inline(always)]
fn interleave<const M: usize>(line: &mut [MaybeUninit<f32>], values: [&[f32]; M]) {
    for (t, group) in line.chunks_exact_mut(M).enumerate() {
        for (cell, row) in group.iter_mut().zip(values) {
            cell.write(row[t]);
        }
    }
}

/// [`super::input_grad`]: the forward pass of the output's gradient through each kernel turned
/// by 180°, the channel axes swapped.
pub(super) fn input_grad(shape: &ConvShape, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let (channels, outputs) = (shape.channels, shape.outputs);
    // [channels, outputs, 3, 3]: w'[c, o, i, j] = w[o, c, 2 − i, 2 − j]
    let mut turned = vec![0.0f32; weight.len()];
    for (pair, kernel) in weight.chunks_exact(9).enumerate() {
        let (o, c) = (pair / channels, pair % channels);
        let dst = &mut turned[(c * outputs + o) * 9..][..9];
        for (d, s) in dst.iter_mut().zip(kernel.iter().rev()) {
            *d = *s;
        }
    }
    let adjoint = ConvShape {
        channels: outputs,
        outputs: channels,
        ..*shape
    };
    forward(&adjoint, grad, &turned, None, false)
}

/// [`super::weight_grad`]: each chunk's `dU_ξ = dM_ξ × V_ξᵀ`, added up in [`DW_SUMS`] running
/// sums over consecutive runs of chunks (each run in order on one thread), the sums added in
/// order, then each pair's `Gᵀ dU G`.
pub(super) fn weight_grad(shape: &ConvShape, x: &[f32], grad: &[f32]) -> Vec<f32> {
    if takes_f4(shape) {
        weight_grad_with::<6, F4>(shape, x, grad)
    } else {
        weight_grad_with::<4, F2>(shape, x, grad)
    }
}

/// [`weight_grad`] by the algorithm `F`.
fn weight_grad_with<const W: usize, F: Minimal<W>>(shape: &ConvShape, x: &[f32], grad: &[f32]) -> Vec<f32> {
    let (channels, outputs) = (shape.channels, shape.outputs);
    let pairs = outputs * channels;
    let chunks = chunks::<W, F>(shape);
    let runs: Vec<&[(usize, usize)]> = chunks.chunks(chunks.len().div_ceil(DW_SUMS)).collect();
    let len = W * W * pairs;
    let mut partial = vec![0.0f32; runs.len() * len]; // per run [W², outputs, channels]
    over_runs(
        &runs,
        &mut partial,
        |_| len,
        |first, images, onto, threads, sum, v, dm| {
            let tiles = images * tiles_per_image::<W, F>(shape);
            let v = at_least(v, channels * W * W * tiles); // [channels, W², tiles]
            let dm = at_least(dm, outputs * W * W * tiles); // [outputs, W², tiles]
            transform_input::<W, F>(shape, x, first, images, v);
            transform_output_grad::<W, F>(shape, grad, first, images, dm);
            // dU_ξ [outputs, channels] (+)= dM_ξ [outputs, tiles] × V_ξᵀ [tiles, channels]
            // Safety: v and dm hold the lengths above, the sum W² · outputs · channels.
            unsafe {
                products(
                    W * W,
                    (sum, onto),
                    (pairs, channels),
                    (outputs, channels, tiles),
                    (dm.as_ptr(), tiles, (W * W * tiles) as isize, 1),
                    (v.as_ptr(), tiles, 1, (W * W * tiles) as isize),
                    threads,
                );
            }
        },
    );
    let du = sum_in_order(&partial, len);
    let each_kernel = |dw: &mut [MaybeUninit<f32>]| {
        in_parts_weighing(du.len(), dw, pairs, 9, |range, block| {
            let mut tile = [0.0f32; MAX_XI];
            for (pair, kernel) in range.zip(block.chunks_exact_mut(9)) {
                for (xi, value) in tile[..W * W].iter_mut().enumerate() {
                    *value = du[xi * pairs + pair];
                }
                for (cell, value) in kernel.iter_mut().zip(kernel_grad::<W, F>(&tile)) {
                    cell.write(value);
                }
            }
        })
    };
    // Safety: each part writes all 9 values of each of its kernels, and the parts cover them.
    unsafe { written_by(shape.weight_len(), each_kernel) }
}

/// Fills `dm` (`[outputs, W², tiles]` for the `images` from `first`) with each tile's m×m
/// output gradient as `A dY Aᵀ`: the values copied out into rows `W·i + j`, `i, j < m`, then
/// `A` applied in place along the tiles (along the rows, then down the columns).
fn transform_output_grad<const W: usize, F: Minimal<W>>(
    shape: &ConvShape,
    grad: &[f32],
    first: usize,
    images: usize,
    dm: &mut [f32],
) {
    let side = F::M;
    let (h, w, outputs) = (shape.height, shape.width, shape.outputs);
    let (th, tw) = tile_grid::<W, F>(shape);
    let tiles = images * th * tw;
    for o in 0..outputs {
        let rows = &mut dm[o * W * W * tiles..][..W * W * tiles];
        for n in 0..images {
            let map = &grad[((first + n) * outputs + o) * h * w..][..h * w];
            for ty in 0..th {
                let t0 = (n * th + ty) * tw;
                for i in 0..side {
                    let line = &map[(side * ty + i) * w..][..w];
                    let mut dst = rows[W * i * tiles..][..side * tiles]
                        .chunks_exact_mut(tiles)
                        .map(|row| &mut row[t0..t0 + tw]);
                    let mut next = || dst.next().expect("m rows");
                    match side {
                        2 => deinterleave(line, [next(), next()]),
                        _ => deinterleave(line, [next(), next(), next(), next()]),
                    }
                }
            }
        }
        for r in 0..side {
            along_tiles::<W, F, OUTPUT_GRAD>(rows, tiles, Line::Row(r));
        }
        for col in 0..W {
            along_tiles::<W, F, OUTPUT_GRAD>(rows, tiles, Line::Column(col));
        }
    }
}

/// `Gᵀ dU G` for a transformed kernel's gradient (`dU` in the first `W²` values of `du`), as
/// 3×3 row-major.
#[inline(always)]
fn kernel_grad<const W: usize, F: Minimal<W>>(du: &[f32; MAX_XI]) -> [f32; 9] {
    // p[j][i] = (Gᵀ dU)[i][j]
    let p: [[f32; 3]; W] = core::array::from_fn(|j| F::kernel_grad(core::array::from_fn(|i| du[W * i + j])));
    let mut dg = [0.0f32; 9];
    for i in 0..3 {
        dg[i * 3..][..3].copy_from_slice(&F::kernel_grad(core::array::from_fn(|j| p[j][i])));
    }
    dg
}
