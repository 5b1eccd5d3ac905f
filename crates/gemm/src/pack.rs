//! Panels for the kernels: read in place when the matrix's layout allows, else packed into
//! per-thread scratch (zero-padded, so a partial tile sums the same as a whole one).

use super::*;

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
    let in_place = (lhs.cs == 1 && lhs.rs >= 0) || (lhs.rs == 1 && lhs.cs >= 0);
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

/// The right panels of columns `cols`: read in place from a row-major matrix when whole and read
/// by one block of rows only (`once`), otherwise packed `[k][nr]` (zero-padded) into `store`,
/// where a panel re-read by many row blocks stays contiguous in cache. Column-major matrices are
/// transposed in blocks that stay in L1.
pub(crate) unsafe fn rhs_panels<E: Element>(
    rhs: View<E>,
    cols: core::ops::Range<usize>,
    k: usize,
    nr: usize,
    once: bool,
    store: &mut Vec<u64>,
    panels: &mut Vec<RhsPanel<E>>,
) {
    let row_major = rhs.cs == 1 && rhs.rs >= 0;
    let in_place = once && row_major;
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
            for p0 in (0..k).step_by(P_BLOCK) {
                let p1 = (p0 + P_BLOCK).min(k);
                for c in 0..nr {
                    for p in p0..p1 {
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
