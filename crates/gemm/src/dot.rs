//! The dot-product strategy, for f32 products whose operands are both contiguous along `k`
//! (`lhs` row-major, `rhs` column-major) and whose `k` is long ([`MIN_K`]): a first
//! convolution's weight gradient, few outputs over thousands of pixels.
//!
//! The outer-product kernels would have to transpose one operand first, which costs more than the
//! product itself when one side is a handful of pixels. Here each output is a dot product in a
//! fixed number of lanes, [`LANES`], whatever the SIMD width: lane `l` sums the products at
//! `p = l, l + 16, l + 32, …` in order (zero-padded to a multiple of 16), and the lanes are then
//! combined by one fixed tree ([`reduce`]). That order is the definition, so every kernel and
//! target gives the same bits; which products take this path depends only on the call's shape
//! and strides ([`applies`]), the same natively and in wasm.

use crate::{Kernel, Scale, View, ViewMut};

/// Lanes of every dot product, on every target.
pub const LANES: usize = 16;

/// Shortest `k` summed in lanes. Below it the register tiles win even with an operand to
/// transpose first: in wasm 2× (576 × 64 over 448, 576 × 128 over 256); natively they range from
/// 0.95× to 1.14× (128 × 256 over 256 and over 784). At 27 × 16 over 9,216 (a first
/// convolution's weight gradient) the lanes are 3.2× faster natively (BENCHMARKS.md).
pub const MIN_K: usize = 1024;

/// Whether a product is summed in lanes: both operands contiguous along `k`, and `k` long enough
/// that the lanes beat the register tiles ([`MIN_K`]).
pub fn applies(k: usize, lhs_cs: isize, rhs_rs: isize) -> bool {
    lhs_cs == 1 && rhs_rs == 1 && k >= MIN_K
}

/// The fixed tree: halves, then quarters, then pairs.
#[inline]
pub fn reduce(lanes: &[f32; LANES]) -> f32 {
    let mut s8 = [0f32; 8];
    for (i, s) in s8.iter_mut().enumerate() {
        *s = lanes[i] + lanes[i + 8];
    }
    let s4 = [s8[0] + s8[4], s8[1] + s8[5], s8[2] + s8[6], s8[3] + s8[7]];
    let s2 = [s4[0] + s4[2], s4[1] + s4[3]];
    s2[0] + s2[1]
}

/// Start pointers of up to four contiguous runs of `k` values (rows of `lhs` or columns of `rhs`).
type Runs = [*const f32; 4];

/// Lane sums of up to 4×4 dot products.
type LaneSums = [[f32; LANES]; 16];

/// A block kernel: `rows` × `cols` dot products of length `k` (rows of `lhs`, columns of `rhs`,
/// each a contiguous run), written as lane sums to `out[r * cols + c]`.
#[derive(Clone, Copy)]
struct Block {
    rows: usize,
    cols: usize,
    run: unsafe fn(k: usize, a: &Runs, b: &Runs, out: &mut LaneSums),
}

/// Copies the last `k % 16` values of a run into a zero-padded chunk.
#[inline(always)]
unsafe fn tail(run: *const f32, k: usize) -> [f32; LANES] {
    let full = k - k % LANES;
    let mut chunk = [0f32; LANES];
    for (i, v) in chunk.iter_mut().take(k % LANES).enumerate() {
        *v = unsafe { *run.add(full + i) };
    }
    chunk
}

/// The portable kernel and the reference: one lane at a time, zero padding included.
unsafe fn block_scalar(k: usize, a: &Runs, b: &Runs, out: &mut LaneSums) {
    const R: usize = 2;
    const C: usize = 2;
    let mut acc = [[[0f32; LANES]; C]; R];
    let padded = k.div_ceil(LANES) * LANES;
    for p in 0..padded {
        let lane = p % LANES;
        for (r, row) in acc.iter_mut().enumerate() {
            let av = if p < k { unsafe { *a[r].add(p) } } else { 0.0 };
            for (c, cell) in row.iter_mut().enumerate() {
                let bv = if p < k { unsafe { *b[c].add(p) } } else { 0.0 };
                cell[lane] = av.mul_add(bv, cell[lane]);
            }
        }
    }
    for r in 0..R {
        for c in 0..C {
            out[r * C + c] = acc[r][c];
        }
    }
}

/// 4×4 dot products in sixteen 16-lane registers, fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512(k: usize, a: &Runs, b: &Runs, out: &mut LaneSums) {
    use core::arch::x86_64::*;
    const R: usize = 4;
    const C: usize = 4;
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    let step = |acc: &mut [[__m512; C]; R], av: [__m512; R], bv: [__m512; C]| {
        for (row, &x) in acc.iter_mut().zip(&av) {
            for (cell, &y) in row.iter_mut().zip(&bv) {
                *cell = _mm512_fmadd_ps(x, y, *cell);
            }
        }
    };
    let full = k / LANES;
    for chunk in 0..full {
        let at = chunk * LANES;
        let av: [__m512; R] = core::array::from_fn(|r| unsafe { _mm512_loadu_ps(a[r].add(at)) });
        let bv: [__m512; C] = core::array::from_fn(|c| unsafe { _mm512_loadu_ps(b[c].add(at)) });
        step(&mut acc, av, bv);
    }
    if !k.is_multiple_of(LANES) {
        let ta: [[f32; LANES]; R] = core::array::from_fn(|r| unsafe { tail(a[r], k) });
        let tb: [[f32; LANES]; C] = core::array::from_fn(|c| unsafe { tail(b[c], k) });
        let av: [__m512; R] = core::array::from_fn(|r| unsafe { _mm512_loadu_ps(ta[r].as_ptr()) });
        let bv: [__m512; C] = core::array::from_fn(|c| unsafe { _mm512_loadu_ps(tb[c].as_ptr()) });
        step(&mut acc, av, bv);
    }
    for r in 0..R {
        for c in 0..C {
            unsafe { _mm512_storeu_ps(out[r * C + c].as_mut_ptr(), acc[r][c]) };
        }
    }
}

/// 2×2 dot products, each lane set in two 8-lane registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
unsafe fn block_avx(k: usize, a: &Runs, b: &Runs, out: &mut LaneSums) {
    use core::arch::x86_64::*;
    const R: usize = 2;
    const C: usize = 2;
    let mut acc = [[[_mm256_setzero_ps(); 2]; C]; R];
    let step = |acc: &mut [[[__m256; 2]; C]; R], av: [[__m256; 2]; R], bv: [[__m256; 2]; C]| {
        for (row, x) in acc.iter_mut().zip(&av) {
            for (cell, y) in row.iter_mut().zip(&bv) {
                cell[0] = _mm256_fmadd_ps(x[0], y[0], cell[0]);
                cell[1] = _mm256_fmadd_ps(x[1], y[1], cell[1]);
            }
        }
    };
    let load = |p: *const f32| unsafe { [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))] };
    for chunk in 0..k / LANES {
        let at = chunk * LANES;
        let av: [[__m256; 2]; R] = core::array::from_fn(|r| load(unsafe { a[r].add(at) }));
        let bv: [[__m256; 2]; C] = core::array::from_fn(|c| load(unsafe { b[c].add(at) }));
        step(&mut acc, av, bv);
    }
    if !k.is_multiple_of(LANES) {
        let ta: [[f32; LANES]; R] = core::array::from_fn(|r| unsafe { tail(a[r], k) });
        let tb: [[f32; LANES]; C] = core::array::from_fn(|c| unsafe { tail(b[c], k) });
        let av: [[__m256; 2]; R] = core::array::from_fn(|r| load(ta[r].as_ptr()));
        let bv: [[__m256; 2]; C] = core::array::from_fn(|c| load(tb[c].as_ptr()));
        step(&mut acc, av, bv);
    }
    for r in 0..R {
        for c in 0..C {
            unsafe {
                _mm256_storeu_ps(out[r * C + c].as_mut_ptr(), acc[r][c][0]);
                _mm256_storeu_ps(out[r * C + c].as_mut_ptr().add(8), acc[r][c][1]);
            }
        }
    }
}

/// 1×2 dot products, each lane set in four 4-lane registers.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
unsafe fn block_simd128(k: usize, a: &Runs, b: &Runs, out: &mut LaneSums) {
    use core::arch::wasm32::*;
    const C: usize = 2;
    let mut acc = [[f32x4_splat(0.0); 4]; C];
    let load = |p: *const f32| -> [v128; 4] {
        core::array::from_fn(|q| unsafe { v128_load(p.add(4 * q) as *const v128) })
    };
    let step = |acc: &mut [[v128; 4]; C], x: [v128; 4], bv: [[v128; 4]; C]| {
        for (cell, y) in acc.iter_mut().zip(&bv) {
            for q in 0..4 {
                cell[q] = crate::kernels::madd4!(cell[q], x[q], y[q]);
            }
        }
    };
    for chunk in 0..k / LANES {
        let at = chunk * LANES;
        let x = load(unsafe { a[0].add(at) });
        let bv: [[v128; 4]; C] = core::array::from_fn(|c| load(unsafe { b[c].add(at) }));
        step(&mut acc, x, bv);
    }
    if !k.is_multiple_of(LANES) {
        let ta = unsafe { tail(a[0], k) };
        let tb: [[f32; LANES]; C] = core::array::from_fn(|c| unsafe { tail(b[c], k) });
        let bv: [[v128; 4]; C] = core::array::from_fn(|c| load(tb[c].as_ptr()));
        step(&mut acc, load(ta.as_ptr()), bv);
    }
    for (c, cell) in acc.iter().enumerate() {
        for (q, &v) in cell.iter().enumerate() {
            unsafe { v128_store(out[c].as_mut_ptr().add(4 * q) as *mut v128, v) };
        }
    }
}

fn block(kernel: Kernel) -> Block {
    match kernel {
        Kernel::Scalar => Block {
            rows: 2,
            cols: 2,
            run: block_scalar,
        },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx => Block {
            rows: 2,
            cols: 2,
            run: block_avx,
        },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => Block {
            rows: 4,
            cols: 4,
            run: block_avx512,
        },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Kernel::Simd128 => Block {
            rows: 1,
            cols: 2,
            run: block_simd128,
        },
    }
}

/// Bytes of `rhs` columns kept hot while every row block passes over them.
const COLUMN_BLOCK_BYTES: usize = 256 * 1024;

/// Rows `rows` × all `n` columns of the destination.
#[allow(clippy::too_many_arguments)]
unsafe fn rows_block(
    block: Block,
    rows: core::ops::Range<usize>,
    n: usize,
    k: usize,
    dst: ViewMut<f32>,
    lhs: View<f32>,
    rhs: View<f32>,
    scale: Scale<f32>,
) {
    let mut out: LaneSums = [[0f32; LANES]; 16];
    let columns_per_block = (COLUMN_BLOCK_BYTES / (4 * k)).max(block.cols);
    for j_start in (0..n).step_by(columns_per_block) {
        let j_end = (j_start + columns_per_block).min(n);
        for i0 in rows.clone().step_by(block.rows) {
            // Edge blocks repeat the last row or column and drop the repeats.
            let a: Runs = core::array::from_fn(|r| {
                let row = (i0 + r).min(rows.end - 1);
                lhs.ptr.wrapping_offset(row as isize * lhs.rs)
            });
            for j0 in (j_start..j_end).step_by(block.cols) {
                let b: Runs = core::array::from_fn(|c| {
                    let col = (j0 + c).min(j_end - 1);
                    rhs.ptr.wrapping_offset(col as isize * rhs.cs)
                });
                unsafe { (block.run)(k, &a, &b, &mut out) };
                for r in 0..block.rows.min(rows.end - i0) {
                    for c in 0..block.cols.min(j_end - j0) {
                        let value = reduce(&out[r * block.cols + c]);
                        unsafe { scale.store(dst.at(i0 + r, j0 + c), value) };
                    }
                }
            }
        }
    }
}

/// `dst := alpha·dst + beta·(lhs × rhs)` by lane-summed dot products (see the module docs).
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm(
    kernel: Kernel,
    m: usize,
    n: usize,
    k: usize,
    dst: ViewMut<f32>,
    lhs: View<f32>,
    rhs: View<f32>,
    scale: Scale<f32>,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let block = block(kernel);
    let parts = if threads > 1 {
        threads * crate::threads::PARTS_PER_THREAD
    } else {
        1
    };
    let per = m.div_ceil(parts).div_ceil(block.rows) * block.rows;
    let parts = m.div_ceil(per);
    let part = |index: usize| {
        let rows = index * per..((index + 1) * per).min(m);
        // Safety: the parts are disjoint rows of the destination.
        unsafe { rows_block(block, rows, n, k, dst, lhs, rhs, scale) };
    };
    crate::for_each_part(parts, part);
}
