//! Drivers shared by the optimizers' unit tests.

use super::engine::{Elementwise, Rule};
use super::{Optimizer, Param};

/// Steps a one-element tensor `steps` times from `x0` with gradient `grad(x)`;
/// returns the value after each step.
pub(crate) fn run<R: Rule>(cfg: R, x0: f64, grad: impl Fn(f64) -> f64, steps: usize) -> Vec<f64> {
    let mut opt = Elementwise::<R, f64>::new(cfg).unwrap();
    let mut x = [x0];
    (0..steps)
        .map(|_| {
            let g = [grad(x[0])];
            opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
            x[0]
        })
        .collect()
}

/// [`run`] for a two-element tensor.
pub(crate) fn run2<R: Rule>(
    cfg: R,
    x0: [f64; 2],
    grad: impl Fn([f64; 2]) -> [f64; 2],
    steps: usize,
) -> Vec<[f64; 2]> {
    let mut opt = Elementwise::<R, f64>::new(cfg).unwrap();
    let mut x = x0;
    (0..steps)
        .map(|_| {
            let g = grad(x);
            opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
            x
        })
        .collect()
}

/// Deterministic pseudo-random values in (-2, 2), with a few exact zeros.
pub(crate) fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 97 == 3 {
                0.0
            } else {
                (x >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
            }
        })
        .collect()
}
