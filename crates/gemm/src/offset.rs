//! Products whose left operand is mostly one value: an image's background. MNIST's normalised
//! pixels are ~81% the one value a zero byte maps to, and an MLP's first layer spends half its
//! multiply-adds on them. Written as `x = base + d`, with `d` zero but for the foreground,
//!
//! `out[r, j] = Σ_k x[r, k]·rhs[k, j] = base·Σ_k rhs[k, j] + Σ_k d[r, k]·rhs[k, j]`,
//!
//! and the second sum needs only the `k` where `d` is not zero. The rows go in groups of
//! [`GROUP`]: a group sums over the `k` where any of its rows differs from `base` (the union
//! of their foregrounds, ~38% of MNIST's pixels for four images against ~19% for one), so that
//! the group's rows share each loaded row of `rhs` in a register tile as a dense product does.
//!
//! The definition, the same on every target, kernel and thread count: each output starts at
//! `base · column_sums[j]` (one rounding), then takes one fused multiply-add
//! `d[r, k]·rhs[k, j]` (`d = x − base`, exactly +0 where `x` is `base`) for each `k` of its
//! group's union, in increasing order. Vector lanes run along `j`. The sums differ from the
//! dense product's by rounding only.

use crate::{Finish, Kernel};
use core::mem::MaybeUninit;

/// Rows per group: the definition's, on every target (the tiles are this many rows high).
pub const GROUP: usize = 4;

/// The left operand: `[rows, depth]` at `ptr + r·rs + k·cs`, mostly `base`.
#[derive(Clone, Copy)]
pub struct Offsets<'a> {
    pub x: &'a [f32],
    pub rows: usize,
    pub depth: usize,
    pub rs: usize,
    pub cs: usize,
    pub base: f32,
}

impl Offsets<'_> {
    #[inline(always)]
    fn at(&self, r: usize, k: usize) -> f32 {
        self.x[r * self.rs + k * self.cs]
    }
}

/// `out [rows, n] := x × rhs` for `rhs: [depth, n]` row-major and `column_sums[j] = Σ_k rhs[k,
/// j]` (the caller's, in its own order), by the definition above: every element written, on
/// every core when the work pays for a fork.
///
/// # Panics
/// If the lengths disagree.
pub fn offset_product(x: Offsets, column_sums: &[f32], rhs: &[f32], n: usize, out: &mut [MaybeUninit<f32>]) {
    offset_product_then(x, column_sums, rhs, n, out, None)
}

/// [`offset_product`], then `finish` on each finished block of rows of `out`, by the thread
/// that computed it (see [`Finish`]).
pub fn offset_product_then(
    x: Offsets,
    column_sums: &[f32],
    rhs: &[f32],
    n: usize,
    out: &mut [MaybeUninit<f32>],
    finish: Option<Finish>,
) {
    // About the dense product's work decides the fork (the union is not known yet).
    let work = x.rows.saturating_mul(x.depth).saturating_mul(n) / 2;
    let threads = if work >= crate::threads::PARALLEL_MIN_MULADDS {
        crate::available_threads()
    } else {
        1
    };
    offset_product_with(crate::best_f32(), x, column_sums, rhs, n, out, threads, finish)
}

/// [`offset_product`] with a chosen kernel, cut for `threads` threads whatever its size (the
/// parts go to whichever threads the pool has): for tests that check every kernel and every
/// split gives the same bits, as `gemm_f32_with` for the dense product.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn offset_product_with(
    kernel: Kernel,
    x: Offsets,
    column_sums: &[f32],
    rhs: &[f32],
    n: usize,
    out: &mut [MaybeUninit<f32>],
    threads: usize,
    finish: Option<Finish>,
) {
    let (rows, depth) = (x.rows, x.depth);
    assert_eq!(out.len(), rows * n);
    assert_eq!(column_sums.len(), n);
    assert_eq!(rhs.len(), depth * n);
    if rows > 0 && depth > 0 {
        assert!(
            (rows - 1) * x.rs + (depth - 1) * x.cs < x.x.len(),
            "x's view outside x"
        );
    }
    let start: Vec<f32> = column_sums.iter().map(|&s| x.base * s).collect();
    let job = Job {
        x,
        start: &start,
        rhs,
        n,
        out: out.as_mut_ptr().cast::<f32>(),
    };
    let groups = rows.div_ceil(GROUP);
    // One part per thread, a run of whole groups. The groups' unions differ in length (a
    // digit's strokes), but halves of 16 or more groups come out near equal, and a thread's half
    // of a weight gradient is then the half of the weights its SGD step updates (which splits
    // every tensor in halves) and a forward pass's half the rows its gather wrote. Eight parts
    // per thread, claimed as threads came free, scattered them over both cores' caches: CLI FCN
    // +4%, page FCN +9% with one (BENCHMARKS.md, issue 11).
    let parts = threads.clamp(1, groups.max(1));
    // Groups `groups` computed: their rows finished.
    let done = |groups: core::ops::Range<usize>| {
        if let Some(finish) = finish {
            finish(groups.start * GROUP..(groups.end * GROUP).min(rows), 0..n);
        }
    };
    if parts <= 1 {
        // Safety: the asserts above; the groups are the whole output.
        unsafe { run(kernel, &job, 0..groups) };
        done(0..groups);
        return;
    }
    let per = groups.div_ceil(parts);
    crate::for_each_part(groups.div_ceil(per), |index| {
        let mine = index * per..((index + 1) * per).min(groups);
        // Safety: as above; the parts are disjoint row ranges of the output.
        unsafe { run(kernel, &job, mine.clone()) };
        done(mine);
    });
}

/// One call's operands, shared by its parts.
struct Job<'a> {
    x: Offsets<'a>,
    /// `base · column_sums`: every output's first value.
    start: &'a [f32],
    rhs: &'a [f32],
    n: usize,
    out: *mut f32,
}

// Safety: only `out` is written, each part its own rows.
unsafe impl Sync for Job<'_> {}

/// Groups' unions of `k` and their rows' `d` there: group slot `i`'s `lens[i]` entries at
/// `ks[i·depth..]` and `d[i·depth·GROUP..]` (`[len, GROUP]`; a group cut short by the matrix's
/// end repeats its last row, never stored), reused from call to call.
#[derive(Default)]
struct Packed {
    depth: usize,
    lens: Vec<usize>,
    ks: Vec<u32>,
    d: Vec<f32>,
}

impl Packed {
    /// Empty slots for `groups` groups of up to `depth` entries, written by index (no capacity
    /// check per entry).
    fn clear(&mut self, groups: usize, depth: usize) {
        self.depth = depth;
        self.lens.clear();
        self.lens.resize(groups, 0);
        self.ks.resize(groups * depth, 0);
        self.d.resize(groups * depth * GROUP, 0.0);
    }

    /// Slot `i`'s entries.
    fn list(&self, i: usize) -> (&[u32], &[f32]) {
        let len = self.lens[i];
        (
            &self.ks[i * self.depth..][..len],
            &self.d[i * self.depth * GROUP..][..len * GROUP],
        )
    }

    /// Appends `k` with the group's values there to slot `i`.
    #[inline(always)]
    fn push(&mut self, i: usize, k: usize, values: [f32; GROUP], base: f32) {
        let at = i * self.depth + self.lens[i];
        self.ks[at] = k as u32;
        for (d, v) in self.d[at * GROUP..][..GROUP].iter_mut().zip(values) {
            *d = v - base;
        }
        self.lens[i] += 1;
    }

    /// Fills slot 0 for rows `first..first + height` of `x`.
    fn fill(&mut self, x: &Offsets, first: usize, height: usize) {
        self.clear(1, x.depth);
        let base = x.base.to_bits();
        if x.cs == 1 {
            // Rows contiguous along k: masks of 16 comparisons per row (which vectorize), OR-ed
            // over the group, then their set bits.
            let rows: [&[f32]; GROUP] = core::array::from_fn(|i| {
                let r = first + i.min(height - 1);
                &x.x[r * x.rs..][..x.depth]
            });
            let mut k0 = 0;
            while k0 < x.depth {
                let mut mask = 0u32;
                for row in &rows[..height] {
                    mask |= differing(&row[k0..], base);
                }
                while mask != 0 {
                    let k = k0 + mask.trailing_zeros() as usize;
                    self.push(0, k, rows.map(|row| row[k]), x.base);
                    mask &= mask - 1;
                }
                k0 += 16;
            }
        } else {
            for k in 0..x.depth {
                if (0..height).any(|i| x.at(first + i, k).to_bits() != base) {
                    let values = core::array::from_fn(|i| x.at(first + i.min(height - 1), k));
                    self.push(0, k, values, x.base);
                }
            }
        }
    }

    /// Fills one slot per group of `groups` when the groups' rows lie side by side at each `k`
    /// (`x.rs == 1`: a row-major matrix read transposed): each `k`'s line of the part's rows is
    /// read once, in order, for all its groups (group by group, each `k` was a fresh cache line).
    fn fill_side_by_side(&mut self, x: &Offsets, groups: core::ops::Range<usize>) {
        debug_assert_eq!(x.rs, 1);
        self.clear(groups.len(), x.depth);
        let base = x.base.to_bits();
        let rows = groups.start * GROUP..(groups.end * GROUP).min(x.rows);
        for k in 0..x.depth {
            let line = &x.x[k * x.cs..][rows.clone()];
            let mut quads = line.chunks_exact(GROUP);
            for (i, quad) in (&mut quads).enumerate() {
                let values: [f32; GROUP] = quad.try_into().expect("a group");
                // Without a branch per value (one compare of the four lanes).
                if values
                    .iter()
                    .fold(0u32, |any, v| any | u32::from(v.to_bits() != base))
                    != 0
                {
                    self.push(i, k, values, x.base);
                }
            }
            let rest = quads.remainder();
            if rest.iter().any(|v| v.to_bits() != base) {
                let values = core::array::from_fn(|i| rest[i.min(rest.len() - 1)]);
                self.push(line.len() / GROUP, k, values, x.base);
            }
        }
    }
}

/// Bit `b` set where `line[b]` (of its first 16) differs from `base`'s bits.
#[inline(always)]
fn differing(line: &[f32], base: u32) -> u32 {
    let mask = |values: &[f32]| {
        values
            .iter()
            .enumerate()
            .fold(0, |mask, (b, v)| mask | u32::from(v.to_bits() != base) << b)
    };
    // A whole 16 as an array, whose fold the compiler unrolls into vector compares.
    match <&[f32; 16]>::try_from(line.get(..16).unwrap_or(&[])) {
        Ok(group) => mask(group),
        Err(_) => mask(line),
    }
}

/// Groups `groups` of the job's output by `kernel`.
///
/// # Safety
/// `job.out` has `rows · n` elements.
unsafe fn run(kernel: Kernel, job: &Job, groups: core::ops::Range<usize>) {
    thread_local! {
        static PACKED: core::cell::RefCell<Packed> = core::cell::RefCell::new(Packed::default());
    }
    PACKED.with(|cell| {
        let mut own = Packed::default();
        let mut kept = cell.try_borrow_mut();
        let packed = kept.as_deref_mut().unwrap_or(&mut own);
        let side_by_side = job.x.rs == 1 && job.x.cs != 1;
        if side_by_side {
            packed.fill_side_by_side(&job.x, groups.clone());
        }
        for (i, g) in groups.enumerate() {
            let first = g * GROUP;
            let height = GROUP.min(job.x.rows - first);
            if !side_by_side {
                packed.fill(&job.x, first, height);
            }
            let (ks, d) = packed.list(if side_by_side { i } else { 0 });
            // Safety: the caller's promise; rows `first..first + height` are this part's.
            unsafe { group(kernel, job, ks, d, first, height) };
        }
    });
}

/// One group's rows of the output: the kernel's tiles across `n`, the last columns scalar.
///
/// # Safety
/// As [`run`].
unsafe fn group(kernel: Kernel, job: &Job, ks: &[u32], d: &[f32], first: usize, height: usize) {
    let width = match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => 64,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx => 16,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Kernel::Simd128 => 8,
        Kernel::Scalar => 0,
    };
    let n = job.n;
    let mut j = 0;
    if width > 0 {
        // Only a group cut short by the matrix's end goes through here (not cleared: the
        // kernel writes all of it before it is read).
        let mut tile = [MaybeUninit::<f32>::uninit(); GROUP * 64];
        while j + width <= n {
            let direct = height == GROUP;
            let (dst, dst_rs) = if direct {
                (unsafe { job.out.add(first * n + j) }, n)
            } else {
                (tile.as_mut_ptr().cast::<f32>(), width)
            };
            let tile_job = Tile {
                ks,
                d: d.as_ptr(),
                rhs: unsafe { job.rhs.as_ptr().add(j) },
                rhs_rs: n,
                start: unsafe { job.start.as_ptr().add(j) },
                out: dst,
                out_rs: dst_rs,
            };
            match kernel {
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512 => unsafe { tile_avx512(&tile_job) },
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx => unsafe { tile_avx(&tile_job) },
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                Kernel::Simd128 => unsafe { tile_simd128(&tile_job) },
                Kernel::Scalar => unreachable!("no tiles"),
            }
            if !direct {
                for r in 0..height {
                    for c in 0..width {
                        // Safety: the kernel wrote the tile's `GROUP × width` values.
                        unsafe { *job.out.add((first + r) * n + j + c) = tile[r * width + c].assume_init() };
                    }
                }
            }
            j += width;
        }
    }
    // The last columns (all of them for the scalar kernel), one output at a time: the same
    // sums; `f32::mul_add` is one rounding on every target.
    for r in 0..height {
        for c in j..n {
            let mut acc = job.start[c];
            for (p, &k) in ks.iter().enumerate() {
                acc = d[p * GROUP + r].mul_add(job.rhs[k as usize * n + c], acc);
            }
            unsafe { *job.out.add((first + r) * n + c) = acc };
        }
    }
}

/// A register tile's operands: `GROUP` rows × the kernel's width of columns.
struct Tile<'a> {
    ks: &'a [u32],
    /// `[ks.len(), GROUP]`.
    d: *const f32,
    /// The tile's first column of `rhs`'s row 0; row `k` at `rhs + k·rhs_rs`.
    rhs: *const f32,
    rhs_rs: usize,
    start: *const f32,
    out: *mut f32,
    out_rs: usize,
}

/// Steps ahead a tile asks for its row of `rhs`: the rows are scattered (the union's `k`), so
/// the hardware's prefetcher cannot guess them, and they come from L2.
const PREFETCH_STEPS: usize = 4;

/// The tiles' shared shape: `$vectors` registers of `$lanes` lanes per row, all `GROUP` rows
/// summed in registers over the union. `$splat`, `$load`, `$store` and `$madd(acc, a, b)` are
/// the target's operations.
macro_rules! offset_tile {
    ($tile:expr, $lanes:expr, $vectors:expr, $splat:expr, $load:expr, $store:expr, $madd:expr, $prefetch:expr) => {{
        let t: &Tile = $tile;
        let start: [_; $vectors] = core::array::from_fn(|v| $load(unsafe { t.start.add($lanes * v) }));
        let mut acc = [start; GROUP];
        for (p, &k) in t.ks.iter().enumerate() {
            if let Some(&ahead) = t.ks.get(p + PREFETCH_STEPS) {
                $prefetch(unsafe { t.rhs.add(ahead as usize * t.rhs_rs) });
            }
            let line = unsafe { t.rhs.add(k as usize * t.rhs_rs) };
            let b: [_; $vectors] = core::array::from_fn(|v| $load(unsafe { line.add($lanes * v) }));
            for (r, row) in acc.iter_mut().enumerate() {
                let a = $splat(unsafe { *t.d.add(p * GROUP + r) });
                for (sum, b) in row.iter_mut().zip(b) {
                    *sum = $madd(*sum, a, b);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, sum) in row.iter().enumerate() {
                $store(unsafe { t.out.add(r * t.out_rs + $lanes * v) }, *sum);
            }
        }
    }};
}

/// 4 rows × 64 columns in sixteen 16-lane registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512(tile: &Tile) {
    use core::arch::x86_64::*;
    offset_tile!(
        tile,
        16,
        4,
        |v: f32| _mm512_set1_ps(v),
        |p: *const f32| unsafe { _mm512_loadu_ps(p) },
        |p: *mut f32, v: __m512| unsafe { _mm512_storeu_ps(p, v) },
        |acc: __m512, a: __m512, b: __m512| _mm512_fmadd_ps(a, b, acc),
        |p: *const f32| for line in 0..4 {
            _mm_prefetch::<_MM_HINT_T0>(unsafe { p.add(16 * line) }.cast());
        }
    )
}

/// 4 rows × 16 columns in eight 8-lane registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
unsafe fn tile_avx(tile: &Tile) {
    use core::arch::x86_64::*;
    offset_tile!(
        tile,
        8,
        2,
        |v: f32| _mm256_set1_ps(v),
        |p: *const f32| unsafe { _mm256_loadu_ps(p) },
        |p: *mut f32, v: __m256| unsafe { _mm256_storeu_ps(p, v) },
        |acc: __m256, a: __m256, b: __m256| _mm256_fmadd_ps(a, b, acc),
        |p: *const f32| _mm_prefetch::<_MM_HINT_T0>(p.cast())
    )
}

/// 4 rows × 8 columns in eight 4-lane registers, as the dense SIMD128 tile. The multiply-add
/// is [`crate::kernels::madd4`]'s.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
unsafe fn tile_simd128(tile: &Tile) {
    use crate::kernels::madd4;
    use core::arch::wasm32::*;
    offset_tile!(
        tile,
        4,
        2,
        |v: f32| f32x4_splat(v),
        |p: *const f32| unsafe { v128_load(p as *const v128) },
        |p: *mut f32, v: v128| unsafe { v128_store(p as *mut v128, v) },
        |acc: v128, a: v128, b: v128| madd4!(acc, a, b),
        |_: *const f32| ()
    )
}
