//! A small, portable, seedable random number generator.
//!
//! Every random choice the engine makes (initial weights, re-randomized draws, shuffling,
//! augmentation) comes from here and is made on the host, not on the device. That is what makes
//! a run reproducible bit for bit on any backend: the CLI natively, the page on WebGPU and the
//! page on its CPU backend all start from the same weights and see the batches in the same order.
//! Transcendental functions go through `libm`, whose results do not depend on the platform's
//! C library.

/// xoshiro256** seeded through SplitMix64 (Blackman & Vigna). Fast, tiny, and good enough for
/// initialisation and shuffling; not for cryptography.
#[derive(Clone, Debug)]
pub struct Rng {
    state: [u64; 4],
}

/// One SplitMix64 step: used to expand a seed and to derive independent streams.
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Named purposes of random streams, so two uses of the same seed never share numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// The initial weights (checkpoint 0).
    Init = 1,
    /// The fresh draw used by re-randomization.
    Rerandomize = 2,
    /// The order of training examples in an epoch.
    Shuffle = 3,
    /// Random crops and flips.
    Augment = 4,
    /// Test fixtures and anything else.
    Other = 5,
}

impl Rng {
    /// A generator for `seed`, specialised by a purpose and two indices (e.g. unit and epoch).
    pub fn derive(seed: u64, stream: Stream, a: u64, b: u64) -> Self {
        let mut x = seed;
        let mut mix = splitmix64(&mut x) ^ (stream as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        mix = splitmix64(&mut mix) ^ a.wrapping_mul(0xA076_1D64_78BD_642F);
        mix = splitmix64(&mut mix) ^ b.wrapping_mul(0xE703_7ED1_A0B4_28DB);
        Self::from_seed(mix)
    }

    /// A generator expanded from a single 64-bit seed.
    pub fn from_seed(seed: u64) -> Self {
        let mut x = seed;
        let state = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Self { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n) without modulo bias (Lemire's method with rejection).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        loop {
            let x = self.next_u64();
            let m = (x as u128) * (n as u128);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform in [low, high).
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// Standard normal by the Box-Muller transform (one value per call, for simplicity).
    pub fn normal(&mut self) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::derive(7, Stream::Init, 1, 0);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::derive(7, Stream::Init, 1, 0);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::derive(7, Stream::Rerandomize, 1, 0);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut r = Rng::from_seed(3);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
    }

    #[test]
    fn below_is_in_range_and_shuffle_is_a_permutation() {
        let mut r = Rng::from_seed(11);
        for n in [1u64, 2, 3, 10, 1000] {
            for _ in 0..100 {
                assert!(r.below(n) < n);
            }
        }
        let mut v: Vec<usize> = (0..100).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }
}
