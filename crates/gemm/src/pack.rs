//! Panels for the kernels: read in place when the matrix's layout allows, else packed into
//! per-thread scratch (zero-padded, so a partial tile sums the same as a whole one).

use super::*;
use core::any::TypeId;

/// `len` elements of a per-thread scratch area that only grows (8-byte aligned). Every element a
/// kernel reads is written by the packing first, padding included, so old contents never leak.
pub(crate) fn scratch<E: Element>(store: &mut Vec<u64>, len: usize) -> &mut [E] {
    let words = (len * core::mem::size_of::<E>()).div_ceil(8);
    if store.len() < words {
        store.resize(words, 0);
    }
    // Safety: `Element` is only f32 and f64, for which any bits are a value and 8 bytes of
    // alignment suffice; the area holds `len` of them.
    unsafe { core::slice::from_raw_parts_mut(store.as_mut_ptr() as *mut E, len) }
}

/// Whether [`lhs_panels`] reads a left operand in place (row- or column-major, non-negative
/// strides) rather than packing it.
pub(crate) fn lhs_reads_in_place<E>(lhs: &View<E>) -> bool {
    (lhs.cs == 1 && lhs.rs >= 0) || (lhs.rs == 1 && lhs.cs >= 0)
}

/// Whether a right operand is row-major, the layout [`rhs_panels`] can read in place or copy row
/// by row; any other is transposed while packing.
pub(crate) fn rhs_is_row_major<E>(rhs: &View<E>) -> bool {
    rhs.cs == 1 && rhs.rs >= 0
}

/// The left panels of rows `rows`: read in place when the matrix is row- or column-major with
/// non-negative strides and the panel is whole, otherwise packed `[k][mr]` (zero-padded) into
/// `store`.
pub(crate) unsafe fn lhs_panels<E: Element>(
    lhs: View<E>,
    rows: core::ops::Range<usize>,
    k: usize,
    mr: usize,
    store: &mut Vec<u64>,
    panels: &mut Vec<LhsPanel<E>>,
) {
    let in_place = lhs_reads_in_place(&lhs);
    let count = rows.len().div_ceil(mr);
    let whole = |i: usize| rows.start + (i + 1) * mr <= rows.end;
    let packed_count = (0..count).filter(|&i| !in_place || !whole(i)).count();
    let buffer = scratch::<E>(store, packed_count * k * mr);
    let mut slot = 0;
    panels.clear();
    for i in 0..count {
        let first = rows.start + i * mr;
        let height = mr.min(rows.end - first);
        if in_place && whole(i) {
            panels.push(LhsPanel {
                ptr: lhs.ptr.wrapping_offset(first as isize * lhs.rs),
                rs: lhs.rs as usize,
                ps: lhs.cs as usize,
            });
            continue;
        }
        let dst = &mut buffer[slot * k * mr..(slot + 1) * k * mr];
        for p in 0..k {
            let out = &mut dst[p * mr..(p + 1) * mr];
            for (r, cell) in out.iter_mut().enumerate() {
                *cell = if r < height {
                    unsafe { lhs.at(first + r, p) }
                } else {
                    E::ZERO
                };
            }
        }
        slot += 1;
        panels.push(LhsPanel {
            ptr: dst.as_ptr(),
            rs: 1,
            ps: mr,
        });
    }
}

/// The right panels of columns `cols`: read in place from a row-major matrix when whole and the
/// caller allows it (`in_place_ok`: few row tiles read each panel), otherwise packed `[k][nr]`
/// (zero-padded) into `store`, where a panel re-read by many row tiles stays contiguous in cache.
/// Column-major matrices are transposed in blocks that stay in L1.
pub(crate) unsafe fn rhs_panels<E: Element>(
    rhs: View<E>,
    cols: core::ops::Range<usize>,
    k: usize,
    nr: usize,
    in_place_ok: bool,
    store: &mut Vec<u64>,
    panels: &mut Vec<RhsPanel<E>>,
) {
    let row_major = rhs_is_row_major(&rhs);
    let in_place = in_place_ok && row_major;
    let count = cols.len().div_ceil(nr);
    let whole = |j: usize| cols.start + (j + 1) * nr <= cols.end;
    let packed_count = (0..count).filter(|&j| !in_place || !whole(j)).count();
    let buffer = scratch::<E>(store, packed_count * k * nr);
    let mut slot = 0;
    panels.clear();
    for j in 0..count {
        let first = cols.start + j * nr;
        let width = nr.min(cols.end - first);
        if in_place && whole(j) {
            panels.push(RhsPanel {
                ptr: rhs.ptr.wrapping_add(first),
                ps: rhs.rs as usize,
            });
            continue;
        }
        let dst = &mut buffer[slot * k * nr..(slot + 1) * k * nr];
        if row_major {
            for p in 0..k {
                let src = rhs.ptr.wrapping_offset(p as isize * rhs.rs + first as isize);
                let out = &mut dst[p * nr..(p + 1) * nr];
                out[..width].copy_from_slice(unsafe { core::slice::from_raw_parts(src, width) });
                out[width..].fill(E::ZERO);
            }
        } else {
            const P_BLOCK: usize = 64;
            // Whole blocks of 4 columns × 4 rows of a column-major f32 matrix (a convolution's
            // weight-gradient operand) go through registers: four loads, a 4×4 transpose and
            // four stores where element by element the scattered stores took about 5% of a VGG step
            // natively.
            let blocks = if rhs.rs == 1 && TypeId::of::<E>() == TypeId::of::<f32>() {
                width / 4 * 4
            } else {
                0
            };
            for p0 in (0..k).step_by(P_BLOCK) {
                let p1 = (p0 + P_BLOCK).min(k);
                let whole = p0 + (p1 - p0) / 4 * 4;
                for c in (0..blocks).step_by(4) {
                    for p in (p0..whole).step_by(4) {
                        let columns: [*const f32; 4] = core::array::from_fn(|i| {
                            rhs.ptr
                                .wrapping_offset((first + c + i) as isize * rhs.cs + p as isize)
                                as *const f32
                        });
                        // Safety: the block's 16 values lie inside the matrix (p + 4 <= k, c + 4
                        // <= width) and inside `dst` (rows p..p + 4 of nr values each).
                        unsafe { transpose_4x4(columns, dst.as_mut_ptr().add(p * nr + c) as *mut f32, nr) };
                    }
                }
                for c in 0..nr {
                    let rows = if c < blocks { whole..p1 } else { p0..p1 };
                    for p in rows {
                        dst[p * nr + c] = if c < width {
                            unsafe { rhs.at(p, first + c) }
                        } else {
                            E::ZERO
                        };
                    }
                }
            }
        }
        slot += 1;
        panels.push(RhsPanel {
            ptr: dst.as_ptr(),
            ps: nr,
        });
    }
}

/// Writes the 4×4 block whose column `i` is the four values at `columns[i]` as four rows of
/// `out` (row `r` at `out + r·stride`): four loads, a transpose in registers, four stores.
///
/// # Safety
/// Each `columns[i]` must address four readable values, and `out` four rows of four writable
/// ones.
#[inline(always)]
unsafe fn transpose_4x4(columns: [*const f32; 4], out: *mut f32, stride: usize) {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        // SSE, part of x86-64 itself.
        use core::arch::x86_64::*;
        let [c0, c1, c2, c3] = columns.map(|column| _mm_loadu_ps(column));
        let low01 = _mm_unpacklo_ps(c0, c1); // c0[0] c1[0] c0[1] c1[1]
        let low23 = _mm_unpacklo_ps(c2, c3);
        let high01 = _mm_unpackhi_ps(c0, c1); // c0[2] c1[2] c0[3] c1[3]
        let high23 = _mm_unpackhi_ps(c2, c3);
        _mm_storeu_ps(out, _mm_movelh_ps(low01, low23));
        _mm_storeu_ps(out.add(stride), _mm_movehl_ps(low23, low01));
        _mm_storeu_ps(out.add(2 * stride), _mm_movelh_ps(high01, high23));
        _mm_storeu_ps(out.add(3 * stride), _mm_movehl_ps(high23, high01));
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    unsafe {
        use core::arch::wasm32::*;
        let [c0, c1, c2, c3] = columns.map(|column| v128_load(column as *const v128));
        let low01 = i32x4_shuffle::<0, 4, 1, 5>(c0, c1);
        let low23 = i32x4_shuffle::<0, 4, 1, 5>(c2, c3);
        let high01 = i32x4_shuffle::<2, 6, 3, 7>(c0, c1);
        let high23 = i32x4_shuffle::<2, 6, 3, 7>(c2, c3);
        v128_store(out as *mut v128, i64x2_shuffle::<0, 2>(low01, low23));
        v128_store(out.add(stride) as *mut v128, i64x2_shuffle::<1, 3>(low01, low23));
        v128_store(
            out.add(2 * stride) as *mut v128,
            i64x2_shuffle::<0, 2>(high01, high23),
        );
        v128_store(
            out.add(3 * stride) as *mut v128,
            i64x2_shuffle::<1, 3>(high01, high23),
        );
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    for (i, column) in columns.into_iter().enumerate() {
        for r in 0..4 {
            unsafe { *out.add(r * stride + i) = *column.add(r) };
        }
    }
}
