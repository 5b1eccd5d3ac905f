//! The register-tile kernels: `MR × NR` outputs, each summed strictly in `k` order by fused
//! multiply-adds, over panels packed or read in place. One per instruction set (AVX-512,
//! AVX + FMA, SIMD128, scalar), chosen at run time; all give the same bits.

use super::Element;

/// A left panel: `MR` rows of `k` values, element `(r, p)` at `ptr + r·rs + p·ps`. Either packed
/// (`rs = 1, ps = MR`) or read in place from a row- or column-major matrix.
#[derive(Clone, Copy)]
pub(crate) struct LhsPanel<E> {
    pub(crate) ptr: *const E,
    pub(crate) rs: usize,
    pub(crate) ps: usize,
}

/// A right panel: `k` rows of `NR` adjacent values, row `p` at `ptr + p·ps`. Packed (`ps = NR`)
/// or read in place from a row-major matrix.
#[derive(Clone, Copy)]
pub(crate) struct RhsPanel<E> {
    pub(crate) ptr: *const E,
    pub(crate) ps: usize,
}

/// A register-tiled inner kernel: `MR` rows of `NR` outputs := the left panel × the right panel,
/// row `r` stored at `out + r·out_rs` (straight into the destination when a whole tile fits it,
/// into a scratch tile otherwise).
#[derive(Clone, Copy)]
pub(crate) struct Micro<E> {
    pub(crate) mr: usize,
    pub(crate) nr: usize,
    /// Multiply-adds this kernel does in the time packing transposes one element (about two
    /// cycles): what [`gemm_real`] weighs packing against padding with.
    pub(crate) pack_cost: usize,
    pub(crate) run: unsafe fn(k: usize, a: LhsPanel<E>, b: RhsPanel<E>, out: *mut E, out_rs: usize),
}

/// The portable kernel, also the reference the SIMD ones must equal bit for bit.
pub(crate) unsafe fn micro_scalar<E: Element, const MR: usize, const NR: usize>(
    k: usize,
    a: LhsPanel<E>,
    b: RhsPanel<E>,
    out: *mut E,
    out_rs: usize,
) {
    let mut acc = [[E::ZERO; NR]; MR];
    for p in 0..k {
        let bp = unsafe { b.ptr.add(p * b.ps) };
        for (r, row) in acc.iter_mut().enumerate() {
            let av = unsafe { *a.ptr.add(r * a.rs + p * a.ps) };
            for (c, cell) in row.iter_mut().enumerate() {
                *cell = cell.madd(av, unsafe { *bp.add(c) });
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            unsafe { *out.add(r * out_rs + c) = v };
        }
    }
}

/// 6×16 tile in twelve 8-lane registers, one fused multiply-add per register and step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
unsafe fn micro_avx_6x16(k: usize, a: LhsPanel<f32>, b: RhsPanel<f32>, out: *mut f32, out_rs: usize) {
    use core::arch::x86_64::*;
    const MR: usize = 6;
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    for p in 0..k {
        let bp = unsafe { b.ptr.add(p * b.ps) };
        let (b0, b1) = unsafe { (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8))) };
        for (r, row) in acc.iter_mut().enumerate() {
            let av = _mm256_set1_ps(unsafe { *a.ptr.add(r * a.rs + p * a.ps) });
            row[0] = _mm256_fmadd_ps(av, b0, row[0]);
            row[1] = _mm256_fmadd_ps(av, b1, row[1]);
        }
    }
    for (r, row) in acc.iter().enumerate() {
        unsafe {
            _mm256_storeu_ps(out.add(r * out_rs), row[0]);
            _mm256_storeu_ps(out.add(r * out_rs + 8), row[1]);
        }
    }
}

/// 8×32 tile in sixteen 16-lane registers, fused multiply-adds: twice the AVX kernel's lanes per
/// instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn micro_avx512_8x32(k: usize, a: LhsPanel<f32>, b: RhsPanel<f32>, out: *mut f32, out_rs: usize) {
    use core::arch::x86_64::*;
    const MR: usize = 8;
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for p in 0..k {
        let bp = unsafe { b.ptr.add(p * b.ps) };
        let (b0, b1) = unsafe { (_mm512_loadu_ps(bp), _mm512_loadu_ps(bp.add(16))) };
        for (r, row) in acc.iter_mut().enumerate() {
            let av = _mm512_set1_ps(unsafe { *a.ptr.add(r * a.rs + p * a.ps) });
            row[0] = _mm512_fmadd_ps(av, b0, row[0]);
            row[1] = _mm512_fmadd_ps(av, b1, row[1]);
        }
    }
    for (r, row) in acc.iter().enumerate() {
        unsafe {
            _mm512_storeu_ps(out.add(r * out_rs), row[0]);
            _mm512_storeu_ps(out.add(r * out_rs + 16), row[1]);
        }
    }
}

/// 4×8 tile in eight 4-lane registers (V8 maps wasm SIMD onto sixteen 128-bit registers). See
/// [`madd4`] for which multiply-add it does.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
unsafe fn micro_simd128_4x8(k: usize, a: LhsPanel<f32>, b: RhsPanel<f32>, out: *mut f32, out_rs: usize) {
    use core::arch::wasm32::*;
    const MR: usize = 4;
    let mut acc = [[f32x4_splat(0.0); 2]; MR];
    for p in 0..k {
        let bp = unsafe { b.ptr.add(p * b.ps) };
        let (b0, b1) = unsafe { (v128_load(bp as *const v128), v128_load(bp.add(4) as *const v128)) };
        for (r, row) in acc.iter_mut().enumerate() {
            let av = f32x4_splat(unsafe { *a.ptr.add(r * a.rs + p * a.ps) });
            row[0] = madd4!(row[0], av, b0);
            row[1] = madd4!(row[1], av, b1);
        }
    }
    for (r, row) in acc.iter().enumerate() {
        unsafe {
            v128_store(out.add(r * out_rs) as *mut v128, row[0]);
            v128_store(out.add(r * out_rs + 4) as *mut v128, row[1]);
        }
    }
}

/// `acc + a·b` on four lanes. With the `relaxed-simd` feature it is relaxed SIMD's `madd`, which
/// V8 compiles to the CPU's fused multiply-add wherever the CPU has one (every x86-64 CPU since
/// 2013, every ARM64 one): the same bits as the native kernels, and about 30% faster than a
/// separate multiply and add (two instructions). Without the feature (the page's build for
/// browsers without relaxed SIMD) it is that multiply and add: correct, but rounded twice, so
/// its sums differ from the native ones in the last bits.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
macro_rules! madd4 {
    ($acc:expr, $a:expr, $b:expr) => {{
        #[cfg(feature = "relaxed-simd")]
        let sum = f32x4_relaxed_madd($a, $b, $acc);
        #[cfg(not(feature = "relaxed-simd"))]
        let sum = f32x4_add($acc, f32x4_mul($a, $b));
        sum
    }};
}
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) use madd4;

/// Which f32 kernels exist on this target; [`best_f32`] picks the fastest one the CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Scalar,
    /// AVX with FMA (an AVX CPU without FMA takes [`Kernel::Scalar`]).
    #[cfg(target_arch = "x86_64")]
    Avx,
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    Simd128,
}

pub(crate) fn micro_f32(kernel: Kernel) -> Micro<f32> {
    match kernel {
        Kernel::Scalar => Micro {
            mr: 4,
            nr: 8,
            pack_cost: 4,
            run: micro_scalar::<f32, 4, 8>,
        },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx => Micro {
            mr: 6,
            nr: 16,
            pack_cost: 16,
            run: micro_avx_6x16,
        },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => Micro {
            mr: 8,
            nr: 32,
            pack_cost: 32,
            run: micro_avx512_8x32,
        },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Kernel::Simd128 => Micro {
            mr: 4,
            nr: 8,
            pack_cost: 8,
            run: micro_simd128_4x8,
        },
    }
}

/// The fastest f32 kernel this machine runs (all of them give the same bits).
pub fn best_f32() -> Kernel {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        return Kernel::Avx512;
    }
    // Without FMA (x86-64 CPUs before 2013) the scalar kernel's `mul_add` is a library call:
    // slow, but the same bits.
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") && std::is_x86_feature_detected!("fma") {
        return Kernel::Avx;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return Kernel::Simd128;
    #[allow(unreachable_code)]
    Kernel::Scalar
}
