//! What the product tests share: a seeded stream of values and the kernels this machine runs.

use gemm::Kernel;

/// SplitMix64: a seeded stream of test values without a dependency.
pub struct Stream(pub u64);

impl Stream {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Values of mixed magnitude and sign, so rounding differences would show.
    pub fn value(&mut self) -> f32 {
        let unit = (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        unit * [1.0, 1e-3, 37.0][self.below(3)]
    }
}

/// Every kernel this machine can run.
pub fn kernels() -> Vec<Kernel> {
    let mut all = vec![Kernel::Scalar];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx") && std::is_x86_feature_detected!("fma") {
            all.push(Kernel::Avx);
        }
        if std::is_x86_feature_detected!("avx512f") {
            all.push(Kernel::Avx512);
        }
    }
    // Built for the page (SIMD128, as scripts/test-wasm-kernels.sh builds these tests): the
    // page's own kernels, which the scalar one alone would leave untested.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    all.push(Kernel::Simd128);
    all
}
