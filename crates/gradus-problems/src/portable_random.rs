//! Random numbers that are the same bits on every machine: ChaCha8 streams, integer
//! sampling by Lemire's method, Fisher–Yates shuffles, and normal deviates by
//! Marsaglia's polar method with the pure-Rust `libm` logarithm (the platform's `ln`
//! may round differently from one C library to the next).
//!
//! Each use of a seed draws from its own ChaCha stream, so a data split, an
//! initialisation, a batch sampler and a noise source built from the same seed are
//! independent of one another.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Stream of the train/test split.
pub(crate) const SPLIT_STREAM: u64 = 0;
/// Stream of a model's initial weights.
pub(crate) const INIT_STREAM: u64 = 1;
/// Stream of a [`crate::BatchSampler`].
pub(crate) const SAMPLER_STREAM: u64 = 2;
/// Stream of [`crate::GradientNoise`].
pub(crate) const NOISE_STREAM: u64 = 3;

/// The ChaCha8 generator for `seed` on `stream`.
pub(crate) fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A uniform integer in `0..n` (`n ≥ 1`), unbiased (Lemire's multiply-and-reject).
pub(crate) fn uniform_index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = n as u64;
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (m >> 64) as usize
}

/// Shuffles `v` in place (Fisher–Yates, from the back).
pub(crate) fn shuffle(rng: &mut ChaCha8Rng, v: &mut [usize]) {
    for i in (1..v.len()).rev() {
        let j = uniform_index(rng, i + 1);
        v.swap(i, j);
    }
}

/// A uniform `f64` in [0, 1) with 53 random bits.
pub(crate) fn uniform_unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A pair of independent standard normal deviates (Marsaglia's polar method).
pub(crate) fn normal_pair(rng: &mut ChaCha8Rng) -> (f64, f64) {
    loop {
        let u = 2.0 * uniform_unit(rng) - 1.0;
        let v = 2.0 * uniform_unit(rng) - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            let k = (-2.0 * libm::log(s) / s).sqrt();
            return (u * k, v * k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_index_covers_range_evenly() {
        let mut r = rng(7, 0);
        let mut counts = [0usize; 5];
        for _ in 0..50_000 {
            counts[uniform_index(&mut r, 5)] += 1;
        }
        // Each count is Binomial(50000, 0.2): mean 10000, sd ≈ 89.
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut r = rng(1, 0);
        let mut v: Vec<usize> = (0..100).collect();
        shuffle(&mut r, &mut v);
        let mut s = v.clone();
        s.sort_unstable();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        assert_ne!(v, s);
    }

    #[test]
    fn normals_have_unit_variance() {
        let mut r = rng(3, 0);
        let n = 20_000;
        let (mut sum, mut sq) = (0.0, 0.0);
        for _ in 0..n {
            let (a, b) = normal_pair(&mut r);
            sum += a + b;
            sq += a * a + b * b;
        }
        let mean = sum / (2 * n) as f64;
        let var = sq / (2 * n) as f64 - mean * mean;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.03,
            "{mean} {var}"
        );
    }
}
