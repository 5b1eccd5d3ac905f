//! 3×3 convolutions at stride 1 with one pixel of padding, on maps of even sides, by Winograd's
//! minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016): each 2×2 block of outputs ("tile") comes from its 4×4 input window in 16
//! products per (input, output) channel pair instead of 36, so the layer's matrix products do
//! 4 multiply-adds per output and channel where im2col does 9. The products are 16 plain ones,
//! one per position ξ of the 4×4 transformed window:
//!
//! - forward: `M_ξ [outputs, tiles] = U_ξ [outputs, channels] × V_ξ [channels, tiles]`, with
//!   `U = G g Gᵀ` (each 3×3 kernel g), `V = Bᵀ d B` (each 4×4 window d), and each tile's
//!   outputs `Aᵀ M A`;
//! - the input's gradient: the forward pass of the output's gradient with each kernel turned by
//!   180° and the channel axes swapped (a "same" convolution's adjoint is one);
//! - the weight's gradient: `dU_ξ [outputs, channels] = dM_ξ [outputs, tiles] × V_ξᵀ`, with
//!   `dM = A dY Aᵀ` per tile, and `dg = Gᵀ dU G`.
//!
//! The sums differ from the im2col path's by rounding only (tests: within 1e-5 of the values'
//! scale). Every sum has a fixed order that depends on the shape alone (the transforms are
//! plain adds and halvings; the products go through `crates/gemm`), so the page and the
//! command line keep the same bits.

use super::{
    ConvShape, activate, at_least, over_chunks, over_runs, product_maybe_onto, sum_in_order, written_by,
};
use core::mem::MaybeUninit;
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

/// Values of a transformed window (4×4).
const XI: usize = 16;

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

/// Tiles an image: `(height / 2) · (width / 2)`; tile `t = (n · th + ty) · tw + tx` within a
/// chunk whose first image is `n = 0`.
fn tiles_per_image(shape: &ConvShape) -> usize {
    (shape.height / 2) * (shape.width / 2)
}

/// The batch as chunks of whole images whose transformed inputs and outputs (`16 · (channels
/// + outputs)` floats a tile) stay in a core's cache, as the patch matrix's chunks do.
fn chunks(shape: &ConvShape) -> Vec<(usize, usize)> {
    shape.chunks_holding(XI * (shape.channels + shape.outputs) * tiles_per_image(shape))
}

/// Rows `4r .. 4r + 4` of a channel's 16 (window row `r`: one step of `· B` or `· A`).
fn window_row(r: usize) -> [usize; 4] {
    [4 * r, 4 * r + 1, 4 * r + 2, 4 * r + 3]
}

/// Rows `c, 4 + c, 8 + c, 12 + c` of a channel's 16 (window column `c`: one step of `Bᵀ ·` or
/// `Aᵀ ·`).
fn window_column(c: usize) -> [usize; 4] {
    [c, 4 + c, 8 + c, 12 + c]
}

/// Fills `v` (`[channels, 16, tiles]` for the `images` from `first`) with each tile's 4×4
/// input window (zero outside the map) as `Bᵀ d B`. Each channel's windows are first copied
/// out as 16 rows over the tiles (row `4r + c` holds every window's value at `(r, c)`), then
/// transformed in place row by row, so that every step runs along the tiles in lanes.
fn transform_input(shape: &ConvShape, x: &[f32], first: usize, images: usize, v: &mut [f32]) {
    match shape.width / 2 {
        2 => transform_input_at::<2>(shape, x, first, images, v),
        4 => transform_input_at::<4>(shape, x, first, images, v),
        8 => transform_input_at::<8>(shape, x, first, images, v),
        _ => transform_input_at::<0>(shape, x, first, images, v),
    }
}

/// [`transform_input`] for maps `2·TW` wide (`TW = 0`: any width), so that the copies of a
/// row of windows are fixed moves on the small maps.
fn transform_input_at<const TW: usize>(
    shape: &ConvShape,
    x: &[f32],
    first: usize,
    images: usize,
    v: &mut [f32],
) {
    let (h, w, channels) = (shape.height, shape.width, shape.channels);
    let (th, tw) = (h / 2, w / 2);
    let tiles = images * th * tw;
    // Each row of the map inside a border of one zero, split into its even and odd columns:
    // [h + 2, 2, tw + 1]. The border's entries are never written, so they stay zero.
    let half = tw + 1;
    let mut split = vec![0.0f32; (h + 2) * 2 * half];
    for c in 0..channels {
        let rows = &mut v[c * XI * tiles..][..XI * tiles];
        for n in 0..images {
            let map = &x[((first + n) * channels + c) * h * w..][..h * w];
            for (row, line) in map.chunks_exact(w).enumerate() {
                let (even, odd) = split[(row + 1) * 2 * half..][..2 * half].split_at_mut(half);
                // Padded column 2k is the map's 2k − 1, padded column 2k + 1 the map's 2k.
                for (k, pair) in line.chunks_exact(2).enumerate() {
                    odd[k] = pair[0];
                    even[k + 1] = pair[1];
                }
            }
            for ty in 0..th {
                let t0 = (n * th + ty) * tw;
                for r in 0..4 {
                    let line = &split[(2 * ty + r) * 2 * half..][..2 * half];
                    for col in 0..4 {
                        let src = &line[(col % 2) * half + col / 2..][..tw];
                        super::copy_line::<TW>(&mut rows[(4 * r + col) * tiles + t0..][..tw], src);
                    }
                }
            }
        }
        // Bᵀ's rows: (1, 0, −1, 0), (0, 1, 1, 0), (0, −1, 1, 0), (0, 1, 0, −1); first along
        // each window row (d B), then down the columns (Bᵀ ·).
        let b = |a: [f32; 4]| [a[0] - a[2], a[1] + a[2], a[2] - a[1], a[1] - a[3]];
        for r in 0..4 {
            along_tiles(rows, tiles, window_row(r), b);
        }
        for col in 0..4 {
            along_tiles(rows, tiles, window_column(col), b);
        }
    }
}

/// Rows `at` of `rows` (each `tiles` long) replaced, tile by tile, by `f` of their values.
#[inline(always)]
fn along_tiles(rows: &mut [f32], tiles: usize, at: [usize; 4], f: impl Fn([f32; 4]) -> [f32; 4]) {
    let ranges = at.map(|row| row * tiles..(row + 1) * tiles);
    let Ok([a, b, c, d]) = rows.get_disjoint_mut(ranges) else {
        unreachable!("four distinct rows");
    };
    for (((a, b), c), d) in a.iter_mut().zip(b.iter_mut()).zip(c.iter_mut()).zip(d.iter_mut()) {
        [*a, *b, *c, *d] = f([*a, *b, *c, *d]);
    }
}

/// `U` as `[16, outputs, channels]`: each 3×3 kernel of `weight` (`[outputs, channels, 3, 3]`)
/// as `G g Gᵀ`.
fn transform_weight(outputs: usize, channels: usize, weight: &[f32]) -> Vec<f32> {
    let pairs = outputs * channels;
    let mut u = vec![0.0f32; XI * pairs];
    for (pair, g) in weight.chunks_exact(9).enumerate() {
        // G's rows: (1, 0, 0), (½, ½, ½), (½, −½, ½), (0, 0, 1).
        let rows = |a: [f32; 3]| [a[0], (a[0] + a[1] + a[2]) * 0.5, (a[0] - a[1] + a[2]) * 0.5, a[2]];
        let col = |j: usize| rows([g[j], g[3 + j], g[6 + j]]);
        let s = [col(0), col(1), col(2)]; // s[j][i] = (G g)[i][j]
        for i in 0..4 {
            let r = rows([s[0][i], s[1][i], s[2][i]]);
            for (j, value) in r.into_iter().enumerate() {
                u[(i * 4 + j) * pairs + pair] = value;
            }
        }
    }
    u
}

/// `[16, rows, columns]`: `lhs_ξ [rows, depth] × rhs_ξ [depth, columns]` for each ξ (added
/// onto `out`'s values when `onto`), the operands given as (pointer, ξ stride, row stride,
/// column stride), the output row-major per ξ at `out_strides` (ξ stride, row stride).
///
/// # Safety
/// The views must address every element the shapes name.
unsafe fn products(
    (out, onto): (&mut [f32], bool),
    out_strides: (usize, usize),
    (rows, columns, depth): (usize, usize, usize),
    lhs: (*const f32, usize, isize, isize),
    rhs: (*const f32, usize, isize, isize),
    threads: Parallelism,
) {
    for xi in 0..XI {
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
    let u = transform_weight(shape.outputs, shape.channels, weight); // [16, outputs, channels]
    // Safety: the chunks cover the batch, and `transform_output` writes every value of a
    // chunk's block.
    unsafe {
        written_by(shape.output_len(), |out| {
            forward_into(shape, x, &u, bias, relu, out)
        })
    }
}

/// [`forward`] into its uninitialised output, `u` the transformed kernels.
fn forward_into(
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
        &chunks(shape),
        out,
        |images| images * image_out,
        |first, images, threads, mine, v, m| {
            let tiles = images * tiles_per_image(shape);
            let v = at_least(v, channels * XI * tiles); // [channels, 16, tiles]
            let m = at_least(m, outputs * XI * tiles); // [outputs, 16, tiles]
            transform_input(shape, x, first, images, v);
            // M_ξ [outputs, tiles] = U_ξ [outputs, channels] × V_ξ [channels, tiles]
            // Safety: u holds 16 · outputs · channels, v and m the lengths above.
            unsafe {
                products(
                    (m, false),
                    (tiles, XI * tiles),
                    (outputs, tiles, channels),
                    (u.as_ptr(), outputs * channels, channels as isize, 1),
                    (v.as_ptr(), tiles, (XI * tiles) as isize, 1),
                    threads,
                );
            }
            transform_output(shape, m, images, bias, relu, mine);
        },
    );
}

/// Fills `out` (`[images, outputs, h, w]`, every value written) from `m` (`[outputs, 16,
/// tiles]`, overwritten): each tile's `Aᵀ M A`, plus the bias, through the ReLU. `Aᵀ` is
/// applied in place along the tiles (down the columns, then along the rows), leaving each
/// tile's 2×2 outputs in rows 0, 1, 4 and 5.
fn transform_output(
    shape: &ConvShape,
    m: &mut [f32],
    images: usize,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [MaybeUninit<f32>],
) {
    let (h, w, outputs) = (shape.height, shape.width, shape.outputs);
    let (th, tw) = (h / 2, w / 2);
    let tiles = images * th * tw;
    // Aᵀ's rows: (1, 1, 1, 0), (0, 1, −1, −1).
    let a = |v: [f32; 4]| [v[0] + v[1] + v[2], v[1] - v[2] - v[3], v[2], v[3]];
    for o in 0..outputs {
        let rows = &mut m[o * XI * tiles..][..XI * tiles];
        for col in 0..4 {
            along_tiles(rows, tiles, window_column(col), a);
        }
        for r in 0..2 {
            along_tiles(rows, tiles, window_row(r), a);
        }
        let shift = bias.map(|bias| bias[o]);
        for n in 0..images {
            let map = &mut out[(n * outputs + o) * h * w..][..h * w];
            for ty in 0..th {
                let t0 = (n * th + ty) * tw;
                for i in 0..2 {
                    let left = &rows[4 * i * tiles + t0..][..tw];
                    let right = &rows[(4 * i + 1) * tiles + t0..][..tw];
                    let line = &mut map[(2 * ty + i) * w..][..w];
                    for ((pair, l), r) in line.chunks_exact_mut(2).zip(left).zip(right) {
                        pair[0].write(activate(*l, shift, relu));
                        pair[1].write(activate(*r, shift, relu));
                    }
                }
            }
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
    let (channels, outputs) = (shape.channels, shape.outputs);
    let pairs = outputs * channels;
    let chunks = chunks(shape);
    let runs: Vec<&[(usize, usize)]> = chunks.chunks(chunks.len().div_ceil(DW_SUMS)).collect();
    let len = XI * pairs;
    let mut partial = vec![0.0f32; runs.len() * len]; // per run [16, outputs, channels]
    over_runs(
        &runs,
        &mut partial,
        |_| len,
        |first, images, onto, threads, sum, v, dm| {
            let tiles = images * tiles_per_image(shape);
            let v = at_least(v, channels * XI * tiles); // [channels, 16, tiles]
            let dm = at_least(dm, outputs * XI * tiles); // [outputs, 16, tiles]
            transform_input(shape, x, first, images, v);
            transform_output_grad(shape, grad, first, images, dm);
            // dU_ξ [outputs, channels] (+)= dM_ξ [outputs, tiles] × V_ξᵀ [tiles, channels]
            // Safety: v and dm hold the lengths above, the sum 16 · outputs · channels.
            unsafe {
                products(
                    (sum, onto),
                    (pairs, channels),
                    (outputs, channels, tiles),
                    (dm.as_ptr(), tiles, (XI * tiles) as isize, 1),
                    (v.as_ptr(), tiles, 1, (XI * tiles) as isize),
                    threads,
                );
            }
        },
    );
    let du = sum_in_order(&partial, len);
    let mut dw = vec![0.0f32; shape.weight_len()];
    for (pair, kernel) in dw.chunks_exact_mut(9).enumerate() {
        let tile: [f32; XI] = core::array::from_fn(|xi| du[xi * pairs + pair]);
        kernel.copy_from_slice(&kernel_grad(&tile));
    }
    dw
}

/// Fills `dm` (`[outputs, 16, tiles]` for the `images` from `first`) with each tile's 2×2
/// output gradient as `A dY Aᵀ`: the 2×2 values copied out into rows 0, 1, 4 and 5, then `A`
/// applied in place along the tiles (along the rows, then down the columns).
fn transform_output_grad(shape: &ConvShape, grad: &[f32], first: usize, images: usize, dm: &mut [f32]) {
    let (h, w, outputs) = (shape.height, shape.width, shape.outputs);
    let (th, tw) = (h / 2, w / 2);
    let tiles = images * th * tw;
    // A's rows: (1, 0), (1, 1), (1, −1), (0, −1), of the first two values.
    let a = |v: [f32; 4]| [v[0], v[0] + v[1], v[0] - v[1], -v[1]];
    for o in 0..outputs {
        let rows = &mut dm[o * XI * tiles..][..XI * tiles];
        for n in 0..images {
            let map = &grad[((first + n) * outputs + o) * h * w..][..h * w];
            for ty in 0..th {
                let t0 = (n * th + ty) * tw;
                for i in 0..2 {
                    let line = &map[(2 * ty + i) * w..][..w];
                    for j in 0..2 {
                        let dst = &mut rows[(4 * i + j) * tiles + t0..][..tw];
                        for (d, pair) in dst.iter_mut().zip(line.chunks_exact(2)) {
                            *d = pair[j];
                        }
                    }
                }
            }
        }
        for r in 0..2 {
            along_tiles(rows, tiles, window_row(r), a);
        }
        for col in 0..4 {
            along_tiles(rows, tiles, window_column(col), a);
        }
    }
}

/// `Gᵀ dU G` for a transformed kernel's gradient, as 3×3 row-major.
#[inline(always)]
fn kernel_grad(du: &[f32; XI]) -> [f32; 9] {
    // Gᵀ's rows: (1, ½, ½, 0), (0, ½, −½, 0), (0, ½, ½, 1).
    let rows = |a: [f32; 4]| {
        [
            a[0] + (a[1] + a[2]) * 0.5,
            (a[1] - a[2]) * 0.5,
            (a[1] + a[2]) * 0.5 + a[3],
        ]
    };
    let col = |j: usize| rows([du[j], du[4 + j], du[8 + j], du[12 + j]]);
    let p = [col(0), col(1), col(2), col(3)]; // p[j][i] = (Gᵀ dU)[i][j]
    let mut dg = [0.0f32; 9];
    for i in 0..3 {
        dg[i * 3..][..3].copy_from_slice(&rows([p[0][i], p[1][i], p[2][i], p[3][i]]));
    }
    dg
}
