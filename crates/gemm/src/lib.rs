//! Deterministic matrix multiply behind the `gemm` 0.19 interface that burn's CPU backend calls.
//!
//! `dst := alpha·dst + beta·(lhs × rhs)`, where every element of `lhs × rhs` is one sum taken
//! strictly in order of `k`, starting from +0, by a fused multiply-add (one rounding) at each
//! step. Vector lanes run across output columns and threads across output blocks, so neither the
//! SIMD width nor the thread count nor the block sizes can change a single bit: the page (wasm,
//! relaxed SIMD's `madd`, which V8 fuses on every CPU with FMA) and the command line (x86-64
//! AVX-512 or AVX + FMA, all cores) produce identical products, which is what makes their
//! training runs identical.
//!
//! [`offset_product`] is a second entry point, for a left operand that is mostly one value (an
//! image's background): that value times the column sums, then the other terms, in an order of
//! its own that is just as fixed (see `offset.rs`).
//!
//! Until 2026-12-05 the step was a separately rounded multiply and add, because wasm had no
//! fused form; relaxed SIMD's `madd` is one where the CPU fuses, and it made the page's products
//! about 30% faster (BENCHMARKS.md). Browsers without relaxed SIMD get a build without the
//! `relaxed-simd` feature: a multiply and an add, which the page says differ in the last bits.

mod dot;
mod kernels;
mod offset;
mod pack;
mod threads;

/// The shortest sum that runs as dot products in lanes (for callers that choose shapes to take
/// them, such as a convolution's weight gradient).
pub use dot::MIN_K as DOT_MIN_K;
pub use kernels::{Kernel, best_f32};
use kernels::{LhsPanel, Micro, RhsPanel, micro_f32, micro_scalar};
pub use offset::{GROUP as OFFSET_GROUP, Offsets, offset_product, offset_product_then, offset_product_with};
use pack::{lhs_panels, lhs_reads_in_place, rhs_is_row_major, rhs_panels};
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use threads::serve_as_helper;
pub use threads::threads_for;
/// The products' thread pool, for the engine's other CPU kernels (im2col, pooling): work split
/// into parts that write disjoint outputs gives the same bits on any number of threads.
pub use threads::{available_threads, for_each_part};

use core::any::TypeId;
use core::ops::{Add, Mul, Range};

/// Work on a finished block of a product's destination, `(rows, columns)` in the caller's
/// coordinates, run by the thread that computed the block, right after it (while the block is
/// in that core's cache): each element of the destination is in exactly one block, and every
/// element of a block holds its final sum. An optimizer step folded into a weight gradient.
pub type Finish<'a> = &'a (dyn Fn(Range<usize>, Range<usize>) + Sync);

pub use half::f16;

/// How much parallelism the caller allows. `Rayon(0)` means all cores, `Rayon(n)` at most `n`;
/// `None` is a request, not a promise, for small products (threads never change results here, so
/// large products use the cores whichever is passed; see [`threads_for`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Parallelism {
    None,
    Rayon(usize),
}

/// Real element types the kernels compute in.
trait Element: Copy + Send + Sync + 'static + Add<Output = Self> + Mul<Output = Self> + PartialEq {
    const ZERO: Self;
    const ONE: Self;
    /// `self + a·b`, rounded once.
    fn madd(self, a: Self, b: Self) -> Self;
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn madd(self, a: Self, b: Self) -> Self {
        a.mul_add(b, self)
    }
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn madd(self, a: Self, b: Self) -> Self {
        a.mul_add(b, self)
    }
}

/// A strided matrix: element `(row, col)` lives at `ptr + row·rs + col·cs`.
#[derive(Clone, Copy)]
struct View<E> {
    ptr: *const E,
    rs: isize,
    cs: isize,
}

// Safety: the views are only read inside `gemm`, whose caller guarantees the memory outlives it.
unsafe impl<E: Sync> Send for View<E> {}
unsafe impl<E: Sync> Sync for View<E> {}

impl<E> View<E> {
    /// The same memory read as the transposed matrix.
    fn transposed(self) -> Self {
        Self {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

impl<E: Copy> View<E> {
    #[inline(always)]
    unsafe fn at(&self, row: usize, col: usize) -> E {
        unsafe {
            *self
                .ptr
                .wrapping_offset(row as isize * self.rs + col as isize * self.cs)
        }
    }
}

#[derive(Clone, Copy)]
struct ViewMut<E> {
    ptr: *mut E,
    rs: isize,
    cs: isize,
}

// Safety: threads write disjoint blocks of the destination.
unsafe impl<E: Send> Send for ViewMut<E> {}
unsafe impl<E: Send> Sync for ViewMut<E> {}

impl<E> ViewMut<E> {
    /// The same memory written as the transposed matrix.
    fn transposed(self) -> Self {
        Self {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }

    #[inline(always)]
    fn at(&self, row: usize, col: usize) -> *mut E {
        self.ptr
            .wrapping_offset(row as isize * self.rs + col as isize * self.cs)
    }
}

/// Bytes of a packed panel block kept near the core: the left block `[mc][k]` aims at L2, the right
/// block `[k][nc]` at a share of L3.
const LHS_BLOCK_BYTES: usize = 512 * 1024;
const RHS_BLOCK_BYTES: usize = 1024 * 1024;

/// The caller's scaling: `beta·product`, then `+ alpha·dst` when the old value is read.
#[derive(Clone, Copy)]
struct Scale<E> {
    read_dst: bool,
    alpha: E,
    beta: E,
}

impl<E: Element> Scale<E> {
    /// The destination is just the product.
    fn is_plain(&self) -> bool {
        self.beta == E::ONE && (!self.read_dst || self.alpha == E::ZERO)
    }

    #[inline(always)]
    unsafe fn store(&self, dst: *mut E, product: E) {
        let value = if self.beta == E::ONE {
            product
        } else {
            self.beta * product
        };
        unsafe {
            *dst = if !self.read_dst || self.alpha == E::ZERO {
                value
            } else if self.alpha == E::ONE {
                *dst + value
            } else {
                self.alpha * *dst + value
            };
        }
    }
}

/// One thread's share: rows `rows` × columns `cols` of the destination.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_block<E: Element>(
    micro: Micro<E>,
    k: usize,
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    dst: ViewMut<E>,
    lhs: View<E>,
    rhs: View<E>,
    scale: Scale<E>,
) {
    thread_local! {
        /// Packed panels of the left and right operands, and the f32 products' panel lists and
        /// scratch tile, kept between calls. Made afresh, the lists grew by reallocation on
        /// every call: 1.5% of the page's VGG step in wasm's allocator (natively under 0.5%), and
        /// the page's FCN ran 3.9% faster without it (BENCHMARKS.md, issue 11).
        static SCRATCH: core::cell::RefCell<Scratch<f32>> = const { core::cell::RefCell::new(Scratch::new()) };
    }
    let mut own = Scratch::<E>::new();
    SCRATCH.with(|cell| {
        let mut kept = cell.try_borrow_mut();
        // Only if a kernel ever re-entered this thread, or for the other element types: fresh
        // lists.
        let scratch = match kept
            .as_deref_mut()
            .ok()
            .map(|kept| kept as &mut dyn core::any::Any)
        {
            Some(kept) => kept.downcast_mut::<Scratch<E>>().unwrap_or(&mut own),
            None => &mut own,
        };
        unsafe { gemm_panels(micro, k, rows, cols, dst, lhs, rhs, scale, scratch) }
    });
}

/// A thread's buffers for [`gemm_panels`].
struct Scratch<E> {
    /// The left and right operands' packed panels.
    packed: (Vec<u64>, Vec<u64>),
    lhs_list: Vec<LhsPanel<E>>,
    rhs_list: Vec<RhsPanel<E>>,
    /// A register tile's outputs where the destination cannot take them in place.
    tile: Vec<E>,
}

impl<E> Scratch<E> {
    /// Empty buffers (no allocation): the thread-local's start, and a re-entered call's own.
    const fn new() -> Self {
        Self {
            packed: (Vec::new(), Vec::new()),
            lhs_list: Vec::new(),
            rhs_list: Vec::new(),
            tile: Vec::new(),
        }
    }
}

/// [`gemm_block`] with its scratch buffers.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_panels<E: Element>(
    micro: Micro<E>,
    k: usize,
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    dst: ViewMut<E>,
    lhs: View<E>,
    rhs: View<E>,
    scale: Scale<E>,
    scratch: &mut Scratch<E>,
) {
    let Scratch {
        packed: (lhs_buffer, rhs_buffer),
        lhs_list,
        rhs_list,
        tile,
    } = scratch;
    let (mr, nr) = (micro.mr, micro.nr);
    let bytes_per = core::mem::size_of::<E>() * k.max(1);
    let mc = (LHS_BLOCK_BYTES / bytes_per / mr).max(1) * mr;
    let nc = (RHS_BLOCK_BYTES / bytes_per / nr).max(1) * nr;
    tile.resize(mr * nr, E::ZERO);
    let plain_rows = scale.is_plain() && dst.cs == 1;
    let direct = plain_rows && dst.rs > 0;
    let plain_cols = scale.is_plain() && dst.rs == 1 && dst.cs != 1;
    let mut jc = cols.start;
    while jc < cols.end {
        let jend = (jc + nc).min(cols.end);
        unsafe {
            rhs_panels(
                rhs,
                jc..jend,
                k,
                nr,
                rhs_in_place(rows.len(), mc, mr),
                rhs_buffer,
                rhs_list,
            )
        };
        let mut ic = rows.start;
        while ic < rows.end {
            let iend = (ic + mc).min(rows.end);
            unsafe { lhs_panels(lhs, ic..iend, k, mr, lhs_buffer, lhs_list) };
            for (&b, j0) in rhs_list.iter().zip((jc..jend).step_by(nr)) {
                let width = nr.min(jend - j0);
                for (&a, i0) in lhs_list.iter().zip((ic..iend).step_by(mr)) {
                    let height = mr.min(iend - i0);
                    if direct && height == mr && width == nr {
                        // A whole tile of a plain row-major destination: stored in place.
                        unsafe { (micro.run)(k, a, b, dst.at(i0, j0), dst.rs as usize) };
                        continue;
                    }
                    unsafe { (micro.run)(k, a, b, tile.as_mut_ptr(), nr) };
                    if plain_cols {
                        // A column-major destination: each tile column is a contiguous run.
                        for c in 0..width {
                            let out = unsafe { core::slice::from_raw_parts_mut(dst.at(i0, j0 + c), height) };
                            for (r, cell) in out.iter_mut().enumerate() {
                                *cell = tile[r * nr + c];
                            }
                        }
                        continue;
                    }
                    for r in 0..height {
                        let row = &tile[r * nr..r * nr + width];
                        if plain_rows {
                            let out = unsafe { core::slice::from_raw_parts_mut(dst.at(i0 + r, j0), width) };
                            out.copy_from_slice(row);
                        } else {
                            for (c, &v) in row.iter().enumerate() {
                                unsafe { scale.store(dst.at(i0 + r, j0 + c), v) };
                            }
                        }
                    }
                }
            }
            ic = iend;
        }
        jc = jend;
    }
}

/// Whether a row-major right operand is read in place by `rows` rows of the destination rather
/// than packed. A panel read in place has its `k` rows a matrix row apart: 1 KB for a 256-wide
/// layer, which puts them all on a few of L1's sets, so each row tile after the first reads the
/// panel again from L2. Natively that costs more than a copy once a few row tiles read it (the
/// FCN's 256-wide products 10% faster on one thread, the CLI's FCN 2% on two); in the page the
/// copy costs more than the misses (its FCN measured slower packed), so there the panel is
/// packed only when more than one block of rows reads it.
fn rhs_in_place(rows: usize, mc: usize, mr: usize) -> bool {
    const NATIVE_MAX_ROW_TILES: usize = 4;
    rows <= mc && (cfg!(target_arch = "wasm32") || rows.div_ceil(mr) <= NATIVE_MAX_ROW_TILES)
}

/// Splits the destination among threads in whole register tiles: along its longer side, unless
/// the right operand is transposed while packing (column-major) and the left one read in place.
/// Then along the columns, so that each thread transposes only its own columns' share of it,
/// where cut by rows each part transposed all of it again (the MLP's input gradients,
/// `dXᵀ = W·dYᵀ`).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_real<E: Element>(
    micro: Micro<E>,
    m: usize,
    n: usize,
    k: usize,
    dst: ViewMut<E>,
    lhs: View<E>,
    rhs: View<E>,
    scale: Scale<E>,
    threads: usize,
    finish: Option<Finish>,
) {
    if m == 0 || n == 0 {
        return;
    }
    // The kernels want the right operand row-major (lanes along its rows); anything else is
    // transposed while packing. When that costs more than transposing the left operand would,
    // compute dstᵀ = rhsᵀ·lhsᵀ instead: the same products (a·b = b·a exactly) summed in the same
    // order, so the same bits. A convolution's im2col product (few output channels × many
    // pixels, both operands contiguous along k) is the case this is for.
    // Tiny sides matter too: a 128×4 product wastes most of a 32-wide tile one way round and
    // half of an 8-high one the other. The estimate, in multiply-adds: tiles computed (padding
    // included), plus the kernel's `pack_cost` per element a packing transposes.
    let cost = |lhs: &View<E>, rhs: &View<E>, m: usize, n: usize| {
        let rhs_pack = if rhs.cs == 1 { 0 } else { k * n };
        let lhs_pack = if lhs.cs == 1 || lhs.rs == 1 { 0 } else { k * m };
        let tiles = m.div_ceil(micro.mr) * micro.mr * n.div_ceil(micro.nr) * micro.nr * k;
        tiles + micro.pack_cost * (rhs_pack + lhs_pack)
    };
    let transposed = cost(&rhs.transposed(), &lhs.transposed(), n, m) < cost(&lhs, &rhs, m, n);
    let (m, n, lhs, rhs, dst) = if transposed {
        (n, m, rhs.transposed(), lhs.transposed(), dst.transposed())
    } else {
        (m, n, lhs, rhs, dst)
    };
    // A block's rows and columns as the caller named them.
    let finish_block = |rows: Range<usize>, cols: Range<usize>| match finish {
        Some(finish) if transposed => finish(cols, rows),
        Some(finish) => finish(rows, cols),
        None => {}
    };
    if threads <= 1 {
        unsafe { gemm_block(micro, k, 0..m, 0..n, dst, lhs, rhs, scale) };
        finish_block(0..m, 0..n);
        return;
    }
    let rhs_transposed = !rhs_is_row_major(&rhs);
    let split_rows = if rhs_transposed && lhs_reads_in_place(&lhs) && n.div_ceil(micro.nr) >= threads {
        false
    } else {
        m >= n
    };
    let (len, unit) = if split_rows { (m, micro.mr) } else { (n, micro.nr) };
    let per = len.div_ceil(threads * threads::PARTS_PER_THREAD).div_ceil(unit) * unit;
    let part = |index: usize| {
        let range = index * per..((index + 1) * per).min(len);
        let (rows, cols) = if split_rows { (range, 0..n) } else { (0..m, range) };
        // Safety: the parts are disjoint blocks of the destination.
        unsafe { gemm_block(micro, k, rows.clone(), cols.clone(), dst, lhs, rhs, scale) };
        finish_block(rows, cols);
    };
    for_each_part(len.div_ceil(per), part);
}

/// The f32 product by the strategy its shape calls for (the same on every target).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_f32(
    kernel: Kernel,
    m: usize,
    n: usize,
    k: usize,
    dst: ViewMut<f32>,
    lhs: View<f32>,
    rhs: View<f32>,
    scale: Scale<f32>,
    threads: usize,
    finish: Option<Finish>,
) {
    if dot::applies(k, lhs.cs, rhs.rs) {
        // Split the longer side among threads: dstᵀ = rhsᵀ·lhsᵀ is the same dot products.
        if n > m {
            let (lhs, rhs, dst) = (rhs.transposed(), lhs.transposed(), dst.transposed());
            unsafe { dot::gemm(kernel, n, m, k, dst, lhs, rhs, scale, threads) };
        } else {
            unsafe { dot::gemm(kernel, m, n, k, dst, lhs, rhs, scale, threads) };
        }
        // The dot products' parts have no hook: the whole destination, once it is done.
        if let Some(finish) = finish {
            finish(0..m, 0..n);
        }
    } else {
        unsafe { gemm_real(micro_f32(kernel), m, n, k, dst, lhs, rhs, scale, threads, finish) };
    }
}

/// Whether an f32 product of this shape is summed in lanes (both operands contiguous along `k`)
/// rather than strictly in order, and how many. For tests that restate the definition.
#[doc(hidden)]
pub fn sums_in_lanes(k: usize, lhs_cs: isize, rhs_rs: isize) -> Option<usize> {
    dot::applies(k, lhs_cs, rhs_rs).then_some(dot::LANES)
}

/// `dst := alpha·dst + beta·(lhs × rhs)` with `lhs: [m, k]`, `rhs: [k, n]`, `dst: [m, n]`, all
/// strided (`_cs` column stride, `_rs` row stride, in elements). `alpha` is used only when
/// `read_dst`. The `conj_*` flags are for complex types and have no effect on real ones.
///
/// # Safety
/// The pointers must address every element the shapes and strides name, and `dst` must not alias
/// `lhs` or `rhs`.
///
/// # Panics
/// If `T` is not `f32`, `f64` or `f16`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: 'static>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    lhs: *const T,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const T,
    rhs_cs: isize,
    rhs_rs: isize,
    alpha: T,
    beta: T,
    _conj_dst: bool,
    _conj_lhs: bool,
    _conj_rhs: bool,
    parallelism: Parallelism,
) {
    let threads = threads_for(m, n, k, parallelism);
    let id = TypeId::of::<T>();
    // The call's operands as `$e`, the type the branch has checked `T` is (hence the casts).
    macro_rules! operands {
        ($e:ty) => {
            (
                ViewMut {
                    ptr: dst as *mut $e,
                    rs: dst_rs,
                    cs: dst_cs,
                },
                View {
                    ptr: lhs as *const $e,
                    rs: lhs_rs,
                    cs: lhs_cs,
                },
                View {
                    ptr: rhs as *const $e,
                    rs: rhs_rs,
                    cs: rhs_cs,
                },
                Scale {
                    read_dst,
                    alpha: unsafe { core::mem::transmute_copy::<T, $e>(&alpha) },
                    beta: unsafe { core::mem::transmute_copy::<T, $e>(&beta) },
                },
            )
        };
    }
    if id == TypeId::of::<f32>() {
        let (dst, lhs, rhs, scale) = operands!(f32);
        unsafe { gemm_f32(best_f32(), m, n, k, dst, lhs, rhs, scale, threads, None) }
    } else if id == TypeId::of::<f64>() {
        let (dst, lhs, rhs, scale) = operands!(f64);
        let micro = Micro {
            mr: 4,
            nr: 4,
            pack_cost: 4,
            run: micro_scalar::<f64, 4, 4>,
        };
        unsafe { gemm_real(micro, m, n, k, dst, lhs, rhs, scale, threads, None) }
    } else if id == TypeId::of::<f16>() {
        let (dst, lhs, rhs, scale) = operands!(f16);
        unsafe { gemm_f16(m, n, k, dst, lhs, rhs, scale, threads) }
    } else {
        panic!(
            "gemm: element type {} is not supported",
            core::any::type_name::<T>()
        );
    }
}

/// Half precision computes in f32 (as `gemm` does) and rounds once at the end.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_f16(
    m: usize,
    n: usize,
    k: usize,
    dst: ViewMut<f16>,
    lhs: View<f16>,
    rhs: View<f16>,
    scale: Scale<f16>,
    threads: usize,
) {
    let widen = |view: View<f16>, rows: usize, cols: usize| -> Vec<f32> {
        (0..rows)
            .flat_map(|r| (0..cols).map(move |c| unsafe { view.at(r, c) }.to_f32()))
            .collect()
    };
    let lhs32 = widen(lhs, m, k);
    let rhs32 = widen(rhs, k, n);
    let mut out = vec![0.0f32; m * n];
    unsafe {
        gemm_real(
            micro_f32(best_f32()),
            m,
            n,
            k,
            ViewMut {
                ptr: out.as_mut_ptr(),
                rs: n as isize,
                cs: 1,
            },
            View {
                ptr: lhs32.as_ptr(),
                rs: k as isize,
                cs: 1,
            },
            View {
                ptr: rhs32.as_ptr(),
                rs: n as isize,
                cs: 1,
            },
            Scale {
                read_dst: false,
                alpha: 0.0,
                beta: 1.0,
            },
            threads,
            None,
        );
    }
    let scale = Scale {
        read_dst: scale.read_dst,
        alpha: scale.alpha.to_f32(),
        beta: scale.beta.to_f32(),
    };
    for r in 0..m {
        for c in 0..n {
            let at = dst.at(r, c);
            let mut v = if scale.read_dst {
                unsafe { (*at).to_f32() }
            } else {
                0.0
            };
            unsafe { scale.store(&mut v, out[r * n + c]) };
            unsafe { *at = f16::from_f32(v) };
        }
    }
}

/// `dst := lhs × rhs` in f32 (every element stored, none read: the destination may be
/// uninitialised), each operand given as (pointer, row stride, column stride), then `finish` on
/// each finished block of the destination by the thread that computed it ([`Finish`]).
///
/// # Safety
/// As [`gemm`]; `finish` must touch only its block of the destination.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_f32_then(
    m: usize,
    n: usize,
    k: usize,
    dst: (*mut f32, isize, isize),
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
    parallelism: Parallelism,
    finish: Option<Finish>,
) {
    let view = |(ptr, rs, cs): (*const f32, isize, isize)| View { ptr, rs, cs };
    let dst = ViewMut {
        ptr: dst.0,
        rs: dst.1,
        cs: dst.2,
    };
    let scale = Scale {
        read_dst: false,
        alpha: 0.0,
        beta: 1.0,
    };
    let threads = threads_for(m, n, k, parallelism);
    unsafe {
        gemm_f32(
            best_f32(),
            m,
            n,
            k,
            dst,
            view(lhs),
            view(rhs),
            scale,
            threads,
            finish,
        )
    }
}

/// Runs the f32 product with a chosen kernel and thread count: for tests that check every kernel
/// and every split gives the same bits.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_f32_with(
    kernel: Kernel,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    lhs: *const f32,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const f32,
    rhs_cs: isize,
    rhs_rs: isize,
    alpha: f32,
    beta: f32,
    finish: Option<Finish>,
) {
    unsafe {
        gemm_f32(
            kernel,
            m,
            n,
            k,
            ViewMut {
                ptr: dst,
                rs: dst_rs,
                cs: dst_cs,
            },
            View {
                ptr: lhs,
                rs: lhs_rs,
                cs: lhs_cs,
            },
            View {
                ptr: rhs,
                rs: rhs_rs,
                cs: rhs_cs,
            },
            Scale {
                read_dst,
                alpha,
                beta,
            },
            threads,
            finish,
        )
    }
}
