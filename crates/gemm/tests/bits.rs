//! Every kernel, block split and thread count gives the bits of the plain strict-order product,
//! each step one fused multiply-add.

mod common;

use common::{Stream, kernels};
use core::ops::Range;
use gemm::{Parallelism, gemm, gemm_f32_with};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// A matrix stored row- or column-major, optionally with padding between lines.
struct Strided {
    data: Vec<f32>,
    rs: isize,
    cs: isize,
}

fn strided(s: &mut Stream, rows: usize, cols: usize) -> Strided {
    let pad = s.below(3);
    let (rs, cs, len) = if s.below(2) == 0 {
        ((cols + pad) as isize, 1, rows * (cols + pad))
    } else {
        (1, (rows + pad) as isize, cols * (rows + pad))
    };
    Strided {
        data: (0..len.max(1)).map(|_| s.value()).collect(),
        rs,
        cs,
    }
}

fn at(m: &Strided, r: usize, c: usize) -> f32 {
    m.data[(r as isize * m.rs + c as isize * m.cs) as usize]
}

#[allow(clippy::too_many_arguments)]
/// The definition: one left-to-right sum of fused multiply-adds (one rounding each) per element.
fn reference(
    m: usize,
    n: usize,
    k: usize,
    lhs: &Strided,
    rhs: &Strided,
    dst: &mut Strided,
    read: bool,
    alpha: f32,
    beta: f32,
) {
    let lanes = gemm::sums_in_lanes(k, lhs.cs, rhs.rs);
    for r in 0..m {
        for c in 0..n {
            let acc = match lanes {
                // Lane l sums p = l, l + L, … (zero-padded to a multiple of L); then halves,
                // quarters, pairs.
                Some(width) => {
                    let mut lane = vec![0.0f32; width];
                    for p in 0..k.div_ceil(width) * width {
                        let (a, b) = if p < k {
                            (at(lhs, r, p), at(rhs, p, c))
                        } else {
                            (0.0, 0.0)
                        };
                        lane[p % width] = a.mul_add(b, lane[p % width]);
                    }
                    while lane.len() > 1 {
                        let half = lane.len() / 2;
                        lane = (0..half).map(|i| lane[i] + lane[i + half]).collect();
                    }
                    lane[0]
                }
                None => {
                    let mut acc = 0.0f32;
                    for p in 0..k {
                        acc = at(lhs, r, p).mul_add(at(rhs, p, c), acc);
                    }
                    acc
                }
            };
            let v = if beta == 1.0 { acc } else { beta * acc };
            let i = (r as isize * dst.rs + c as isize * dst.cs) as usize;
            dst.data[i] = if !read || alpha == 0.0 {
                v
            } else if alpha == 1.0 {
                dst.data[i] + v
            } else {
                alpha * dst.data[i] + v
            };
        }
    }
}

#[test]
fn every_kernel_and_split_equals_the_strict_order_sum() {
    let mut s = Stream(7);
    for case in 0..300 {
        // Mostly small and ragged shapes (edge tiles), some past the block sizes.
        let big = case % 25 == 0;
        let dim = |s: &mut Stream, max: usize| if big { 150 + s.below(300) } else { s.below(max) };
        let (m, n, k) = (
            dim(&mut s, 40),
            dim(&mut s, 40),
            if big { 2000 + s.below(3000) } else { s.below(70) },
        );
        let lhs = strided(&mut s, m, k);
        let rhs = strided(&mut s, k, n);
        let start = strided(&mut s, m, n);
        let read = s.below(2) == 0;
        let (alpha, beta) = [(1.0, 1.0), (0.5, 1.0), (1.0, -2.0), (0.0, 0.25)][s.below(4)];
        let mut want = Strided {
            data: start.data.clone(),
            rs: start.rs,
            cs: start.cs,
        };
        reference(m, n, k, &lhs, &rhs, &mut want, read, alpha, beta);
        for kernel in kernels() {
            for threads in [1, 2, 3] {
                let mut got = start.data.clone();
                // The finishing hook sees each element once, in its final value.
                let seen: Vec<AtomicU32> = (0..m * n).map(|_| AtomicU32::new(0)).collect();
                let times: Vec<AtomicU32> = (0..m * n).map(|_| AtomicU32::new(0)).collect();
                let dst = got.as_ptr() as usize;
                let (rs, cs) = (start.rs, start.cs);
                let finish = |rows: Range<usize>, cols: Range<usize>| {
                    for r in rows {
                        for c in cols.clone() {
                            let at = (dst as *const f32).wrapping_offset(r as isize * rs + c as isize * cs);
                            seen[r * n + c].store(unsafe { *at }.to_bits(), Relaxed);
                            times[r * n + c].fetch_add(1, Relaxed);
                        }
                    }
                };
                unsafe {
                    gemm_f32_with(
                        kernel,
                        threads,
                        m,
                        n,
                        k,
                        got.as_mut_ptr(),
                        start.cs,
                        start.rs,
                        read,
                        lhs.data.as_ptr(),
                        lhs.cs,
                        lhs.rs,
                        rhs.data.as_ptr(),
                        rhs.cs,
                        rhs.rs,
                        alpha,
                        beta,
                        Some(&finish),
                    )
                };
                for r in 0..m {
                    for c in 0..n {
                        let want = want.data[(r as isize * rs + c as isize * cs) as usize].to_bits();
                        assert_eq!(
                            times[r * n + c].load(Relaxed),
                            1,
                            "case {case}: ({r}, {c}) finished once"
                        );
                        assert_eq!(
                            seen[r * n + c].load(Relaxed),
                            want,
                            "case {case}: ({r}, {c}) final when finished"
                        );
                    }
                }
                let same = got
                    .iter()
                    .zip(&want.data)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "case {case}: {m}x{n}x{k} kernel {kernel:?} threads {threads}"
                );
            }
        }
    }
}

#[test]
fn the_public_entry_point_matches_for_f32_and_f64_and_f16() {
    let mut s = Stream(11);
    let (m, n, k) = (33, 19, 300);
    let lhs = Strided {
        data: (0..m * k).map(|_| s.value()).collect(),
        rs: k as isize,
        cs: 1,
    };
    let rhs = Strided {
        data: (0..k * n).map(|_| s.value()).collect(),
        rs: n as isize,
        cs: 1,
    };
    let mut want = Strided {
        data: vec![0.0; m * n],
        rs: n as isize,
        cs: 1,
    };
    reference(m, n, k, &lhs, &rhs, &mut want, false, 0.0, 1.0);
    let mut got = vec![f32::NAN; m * n];
    unsafe {
        gemm(
            m,
            n,
            k,
            got.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.data.as_ptr(),
            1,
            k as isize,
            rhs.data.as_ptr(),
            1,
            n as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            Parallelism::Rayon(0),
        )
    };
    assert!(
        got.iter()
            .zip(&want.data)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );

    let lhs64: Vec<f64> = lhs.data.iter().map(|&v| v as f64).collect();
    let rhs64: Vec<f64> = rhs.data.iter().map(|&v| v as f64).collect();
    let mut got64 = vec![0.0f64; m * n];
    unsafe {
        gemm(
            m,
            n,
            k,
            got64.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs64.as_ptr(),
            1,
            k as isize,
            rhs64.as_ptr(),
            1,
            n as isize,
            0.0f64,
            1.0f64,
            false,
            false,
            false,
            Parallelism::None,
        )
    };
    // f32 rounding error is bounded by k·eps·Σ|a·b| per element.
    for (i, (a, b)) in got64.iter().zip(&want.data).enumerate() {
        let (r, c) = (i / n, i % n);
        let magnitude: f64 = (0..k).map(|p| (lhs64[r * k + p] * rhs64[p * n + c]).abs()).sum();
        assert!((a - *b as f64).abs() <= k as f64 * 6e-8 * magnitude, "{a} vs {b}");
    }

    let lhs16: Vec<gemm::f16> = lhs.data.iter().map(|&v| gemm::f16::from_f32(v)).collect();
    let rhs16: Vec<gemm::f16> = rhs.data.iter().map(|&v| gemm::f16::from_f32(v)).collect();
    let mut got16 = vec![gemm::f16::ZERO; m * n];
    unsafe {
        gemm(
            m,
            n,
            k,
            got16.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs16.as_ptr(),
            1,
            k as isize,
            rhs16.as_ptr(),
            1,
            n as isize,
            gemm::f16::ZERO,
            gemm::f16::ONE,
            false,
            false,
            false,
            Parallelism::None,
        )
    };
    for (a, b) in got16.iter().zip(&want.data) {
        assert!((a.to_f32() - b).abs() <= 0.05 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn empty_products_write_the_scaled_destination() {
    // k = 0: the product is zero, so dst becomes alpha·dst when read and 0 otherwise.
    let mut dst = vec![3.0f32; 6];
    unsafe {
        gemm(
            2,
            3,
            0,
            dst.as_mut_ptr(),
            1,
            3,
            true,
            [].as_ptr(),
            1,
            0,
            [].as_ptr(),
            1,
            3,
            0.5f32,
            1.0f32,
            false,
            false,
            false,
            Parallelism::None,
        )
    };
    assert_eq!(dst, vec![1.5; 6]);
}

/// The definition is the fused one: on these values a separately rounded multiply and add gives
/// other bits, so the kernels' equality with [`reference`] could not hold by accident.
#[test]
fn the_reference_differs_from_a_multiply_then_add() {
    let mut s = Stream(11);
    let (m, n, k) = (16, 16, 300);
    let lhs = strided(&mut s, m, k);
    let rhs = strided(&mut s, k, n);
    let mut fused = Strided {
        data: vec![0.0; m * n],
        rs: n as isize,
        cs: 1,
    };
    reference(m, n, k, &lhs, &rhs, &mut fused, false, 0.0, 1.0);
    let differing = (0..m * n)
        .filter(|&i| {
            let (r, c) = (i / n, i % n);
            let mut acc = 0.0f32;
            for p in 0..k {
                acc += std::hint::black_box(at(&lhs, r, p) * at(&rhs, p, c));
            }
            acc.to_bits() != fused.data[i].to_bits()
        })
        .count();
    assert!(differing > m * n / 4, "only {differing} of {} sums differ", m * n);
}
