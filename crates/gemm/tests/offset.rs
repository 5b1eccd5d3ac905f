//! The offset product (a left operand that is mostly one value) gives, on every kernel and
//! split, the bits of its definition: `base · column sum`, then a fused multiply-add for each
//! `k` of the row's group's union, in order; and it is the dense product up to rounding.

mod common;

use common::{Stream, kernels};
use core::mem::MaybeUninit;
use core::ops::Range;
use gemm::{Kernel, OFFSET_GROUP, Offsets, offset_product, offset_product_with};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// `len` values, about `share` percent of them `base`.
fn mostly(s: &mut Stream, len: usize, base: f32, share: usize) -> Vec<f32> {
    (0..len)
        .map(|_| if s.below(100) < share { base } else { s.value() })
        .collect()
}

fn product(kernel: Kernel, x: Offsets, sums: &[f32], rhs: &[f32], n: usize, threads: usize) -> Vec<u32> {
    // Filled with NaN first: every element must be written.
    let mut out = vec![MaybeUninit::new(f32::NAN); x.rows * n];
    // The finishing hook sees each element once, in its final value.
    let seen: Vec<AtomicU32> = (0..x.rows * n).map(|_| AtomicU32::new(0)).collect();
    let times: Vec<AtomicU32> = (0..x.rows * n).map(|_| AtomicU32::new(0)).collect();
    let dst = out.as_ptr() as usize;
    let finish = |rows: Range<usize>, cols: Range<usize>| {
        for r in rows {
            for c in cols.clone() {
                let v = unsafe { *(dst as *const f32).add(r * n + c) };
                seen[r * n + c].store(v.to_bits(), Relaxed);
                times[r * n + c].fetch_add(1, Relaxed);
            }
        }
    };
    offset_product_with(kernel, x, sums, rhs, n, &mut out, threads, Some(&finish));
    let out: Vec<u32> = out.iter().map(|v| unsafe { v.assume_init() }.to_bits()).collect();
    assert!(
        times.iter().all(|t| t.load(Relaxed) == 1),
        "every element finished once"
    );
    assert!(
        seen.iter().zip(&out).all(|(s, o)| s.load(Relaxed) == *o),
        "final when finished"
    );
    out
}

/// The definition, element by element.
fn definition(x: Offsets, sums: &[f32], rhs: &[f32], n: usize) -> Vec<u32> {
    let at = |r: usize, k: usize| x.x[r * x.rs + k * x.cs];
    let mut out = Vec::new();
    for r in 0..x.rows {
        let group = (r / OFFSET_GROUP * OFFSET_GROUP)..((r / OFFSET_GROUP + 1) * OFFSET_GROUP).min(x.rows);
        let union: Vec<usize> = (0..x.depth)
            .filter(|&k| group.clone().any(|g| at(g, k).to_bits() != x.base.to_bits()))
            .collect();
        for j in 0..n {
            let mut acc = x.base * sums[j];
            for &k in &union {
                acc = (at(r, k) - x.base).mul_add(rhs[k * n + j], acc);
            }
            out.push(acc.to_bits());
        }
    }
    out
}

/// How a test's left operand lies in memory.
#[derive(Clone, Copy)]
enum Layout {
    /// Row-major: rows contiguous along `k` (a forward pass).
    Rows,
    /// A row-major matrix read transposed (a weight gradient).
    Columns,
    /// Neither stride 1.
    Strided,
}

#[test]
fn every_kernel_and_split_equals_the_definition() {
    let mut s = Stream(11);
    // Shapes through whole and partial tiles and groups, scalar columns, and the MLP's first
    // layer (forward: rows contiguous; weight gradient: the transposed view); and a view
    // strided both ways (every other value of a transposed matrix), for the general lists.
    let shapes = [
        (1, 1, 1, Layout::Rows),
        (3, 5, 7, Layout::Rows),
        (9, 40, 129, Layout::Columns),
        (17, 33, 200, Layout::Rows),
        (128, 784, 256, Layout::Rows),
        (784, 128, 256, Layout::Columns),
        (6, 300, 12, Layout::Columns),
        (10, 37, 70, Layout::Strided),
    ];
    for (case, &(rows, depth, n, layout)) in shapes.iter().enumerate() {
        let base = -0.4242;
        let (rs, cs) = match layout {
            Layout::Rows => (depth, 1),
            Layout::Columns => (1, rows),
            Layout::Strided => (2, 2 * rows),
        };
        let data = mostly(&mut s, (rows - 1) * rs + (depth - 1) * cs + 1, base, 80);
        let x = Offsets {
            x: &data,
            rows,
            depth,
            rs,
            cs,
            base,
        };
        let rhs: Vec<f32> = (0..depth * n).map(|_| s.value()).collect();
        let sums: Vec<f32> = (0..n).map(|j| (0..depth).map(|k| rhs[k * n + j]).sum()).collect();
        let expected = definition(x, &sums, &rhs, n);
        for kernel in kernels() {
            for threads in [1, 2, 3] {
                assert_eq!(
                    product(kernel, x, &sums, &rhs, n, threads),
                    expected,
                    "case {case}: {kernel:?}, threads {threads}"
                );
            }
        }
        // The dense product, up to rounding (relative to the terms' magnitude).
        let mut out = vec![MaybeUninit::new(f32::NAN); rows * n];
        offset_product(x, &sums, &rhs, n, &mut out);
        for r in 0..rows {
            for j in 0..n {
                let terms = (0..depth).map(|k| (data[r * rs + k * cs] as f64, rhs[k * n + j] as f64));
                let exact: f64 = terms.clone().map(|(a, b)| a * b).sum();
                let scale: f64 = terms.map(|(a, b)| (a * b).abs()).sum::<f64>() + 1e-30;
                let ours = unsafe { out[r * n + j].assume_init() } as f64;
                assert!(
                    (ours - exact).abs() <= 1e-5 * scale + 1e-5 * (base as f64 * sums[j] as f64).abs(),
                    "case {case} ({r}, {j}): {ours} against {exact}"
                );
            }
        }
    }
}

/// A group whose rows are all `base` sums nothing past the start; NaN and infinity in the
/// foreground reach the outputs of their group alone.
#[test]
fn a_background_group_is_its_start_and_the_foreground_alone_spreads() {
    let (rows, depth, n) = (8, 5, 3);
    let base = 2.0;
    let mut data = vec![base; rows * depth];
    data[5 * depth + 2] = f32::NAN; // row 5: group 1
    let x = Offsets {
        x: &data,
        rows,
        depth,
        rs: depth,
        cs: 1,
        base,
    };
    let rhs = vec![1.0f32; depth * n];
    let sums = [5.0f32, 5.0, 5.0];
    for kernel in kernels() {
        let out = product(kernel, x, &sums, &rhs, n, 1);
        let value = |r: usize, j: usize| f32::from_bits(out[r * n + j]);
        for j in 0..n {
            for r in 0..4 {
                assert_eq!(value(r, j), 10.0, "{kernel:?}");
            }
            assert!(value(5, j).is_nan());
            // Row 4 shares row 5's union: its own offset there is +0, so 10 + 0·1.
            assert_eq!(value(4, j), 10.0);
        }
    }
}
