//! What Schedule-Free SGD and AdamW share: the averaging weights, the interpolated
//! update of `y` and `z`, and the read-out of the evaluation point `x`.
//!
//! # The method (Defazio et al. 2024)
//! Schedule-Free keeps three sequences: `z`, plain (preconditioned) gradient steps;
//! `x`, a weighted average of the `z`s, the point to evaluate; and `y`, the
//! interpolation `y = (1 − β)·z + β·x` where gradients are taken (β is SGD's
//! `momentum` or AdamW's `betas[0]`). Step `t` (1-based) with update direction `d_t`
//! (the gradient, or AdamW's normalized gradient, plus `weight_decay·y`) does
//!
//! ```text
//! lr_t    = lr · min(1, t / warmup_steps)                       linear warmup
//! lr_max  = max(lr_max, lr_t)
//! w_t     = t^r · lr_max^weight_lr_power                        weight of this step
//! c_t     = w_t / Σ_{s≤t} w_s                                   (0 while the sum is 0)
//! z_t     = z_{t−1} − lr_t·d_t
//! x_t     = (1 − c_t)·x_{t−1} + c_t·z_t
//! ```
//!
//! The reference implementation (`schedulefree` 1.4.1, `SGDScheduleFree`,
//! `AdamWScheduleFree`) stores only `y` (in the parameters) and `z` (state key `z`,
//! a copy of the parameters at the first step), and updates `y` in place without
//! forming `x`:
//!
//! ```text
//! y ← lerp(y, z, c_t) + lr_t·(β·(1 − c_t) − 1)·d_t
//! z ← z − lr_t·d_t
//! ```
//!
//! and its `eval()` replaces the parameters by `x = lerp(y, z, 1 − 1/β)` (its
//! `train()` goes back). gradus does the same arithmetic in the same order, and keeps
//! the parameters at `y` for good: [`Optimizer::eval_params`](super::Optimizer::eval_params)
//! reads `x` out without changing anything, so there is no mode to forget to switch
//! and the read-out is always consistent with the state a checkpoint saves.
//!
//! # Where gradus and the reference differ
//! * The reference keeps `k`, `weight_sum` and `lr_max` per parameter group; gradus
//!   keeps them per tensor (the step number and the scalars `[weight_sum, lr_max]`),
//!   which gives the same numbers whenever all tensors step together. A tensor that
//!   first appears late starts its own average.
//! * `lr_max` starts at −1 as in the reference (the first `max` replaces it).
//!
//! # Reference
//! Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, *The Road Less Scheduled*,
//! NeurIPS 2024 (arXiv:2405.15682).

use super::blocks::{add_scaled, lerp};
use crate::float::Float;

/// Initial per-tensor scalars `[weight_sum, lr_max]`, as the reference's group.
pub(crate) const SCALARS: [f64; 2] = [0.0, -1.0];

/// The averaging hyperparameters both optimizers share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Averaging {
    pub lr: f64,
    pub warmup_steps: u64,
    pub r: f64,
    pub weight_lr_power: f64,
}

/// What step `step` uses: the warmed-up learning rate and the averaging weight `c_t`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepWeights {
    pub lr: f64,
    pub ckp1: f64,
}

impl Averaging {
    /// The weights of update number `step` (1-based), advancing `[weight_sum, lr_max]`,
    /// in the reference's order of operations (Python floats).
    pub fn weights(&self, step: u64, scalars: &mut [f64]) -> StepWeights {
        let t = step as f64;
        let sched = if step <= self.warmup_steps {
            t / self.warmup_steps as f64
        } else {
            1.0
        };
        let lr = self.lr * sched;
        let lr_max = if scalars[1] > lr { scalars[1] } else { lr };
        scalars[1] = lr_max;
        let weight = t.powf(self.r) * lr_max.powf(self.weight_lr_power);
        scalars[0] += weight;
        // Python's weight / weight_sum raises on 0 and the reference then takes 0.
        let ckp1 = if scalars[0] == 0.0 {
            0.0
        } else {
            weight / scalars[0]
        };
        StepWeights { lr, ckp1 }
    }
}

/// The per-step coefficients of the `y`/`z` update (Schedule-Free SGD's whole
/// coefficients; part of AdamW's).
#[derive(Debug, Clone, Copy)]
pub struct Interpolation<T> {
    /// `c_t`, the weight of `z` in the new average.
    ckp1: T,
    /// `lr_t·(β·(1 − c_t) − 1)`, the step of `y` along the direction.
    y_step: T,
    /// `−lr_t`, the step of `z`.
    neg_lr: T,
    /// Weight decay (0: none), added to the direction at `y`.
    weight_decay: T,
    /// Whether this is the tensor's first update (`z` starts as a copy of `y`).
    pub(crate) first: bool,
}

impl<T: Float> Interpolation<T> {
    /// The coefficients for step weights `w`, momentum β and weight decay.
    pub(crate) fn new(w: StepWeights, beta: f64, weight_decay: f64, step: u64) -> Self {
        Interpolation {
            ckp1: T::of(w.ckp1),
            y_step: T::of(w.lr * (beta * (1.0 - w.ckp1) - 1.0)),
            neg_lr: T::of(-w.lr),
            weight_decay: T::of(weight_decay),
            first: step == 1,
        }
    }

    /// Moves one element of `y` (the parameter) and `z` along direction `d`, adding
    /// the weight decay at `y` first (`d.add_(y, alpha=weight_decay)`).
    #[inline(always)]
    pub(crate) fn apply(&self, y: &mut T, z: &mut T, d: T) {
        let d = if self.weight_decay != T::zero() {
            add_scaled(d, self.weight_decay, *y)
        } else {
            d
        };
        *y = add_scaled(lerp(*y, *z, self.ckp1), self.y_step, d);
        *z = add_scaled(*z, self.neg_lr, d);
    }
}

/// The evaluation point `x = lerp(y, z, 1 − 1/β)` (the reference's `eval()`), or
/// `y` itself before the first step (no `z` yet).
pub(crate) fn eval_point<T: Float>(y: &[T], z: Option<&[T]>, beta: f64, out: &mut [T]) {
    match z {
        None => out.copy_from_slice(y),
        Some(z) => {
            let w = T::of(1.0 - 1.0 / beta);
            for ((o, &y), &z) in out.iter_mut().zip(y).zip(z) {
                *o = lerp(y, z, w);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_ramps_the_lr_and_weights_follow_lr_max() {
        let a = Averaging {
            lr: 0.1,
            warmup_steps: 4,
            r: 0.0,
            weight_lr_power: 2.0,
        };
        let mut s = SCALARS;
        let w1 = a.weights(1, &mut s);
        assert_eq!(w1.lr, 0.1 * 0.25);
        assert_eq!(w1.ckp1, 1.0); // the first weight is the whole sum
        let w2 = a.weights(2, &mut s);
        assert_eq!(w2.lr, 0.1 * 0.5);
        assert_eq!(s[1], 0.05);
        // weights lr_max²: 0.025² then 0.05², so c_2 = 4/5 up to rounding.
        assert!((w2.ckp1 - 0.8).abs() < 1e-15);
        for t in 3..=6 {
            a.weights(t, &mut s);
        }
        assert_eq!(s[1], 0.1);
    }

    #[test]
    fn a_zero_weight_sum_gives_a_zero_average_weight() {
        let a = Averaging {
            lr: 0.0,
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: 2.0,
        };
        let mut s = SCALARS;
        assert_eq!(a.weights(1, &mut s).ckp1, 0.0);
    }

    #[test]
    fn the_evaluation_point_undoes_the_interpolation() {
        // y = (1 − β)·z + β·x, so x = lerp(y, z, 1 − 1/β).
        let (beta, x, z) = (0.9, 2.0, -1.0);
        let y = (1.0 - beta) * z + beta * x;
        let mut out = [0.0];
        eval_point(&[y], Some(&[z]), beta, &mut out);
        assert!((out[0] - x).abs() < 1e-15);
        eval_point(&[y], None, beta, &mut out);
        assert_eq!(out[0], y);
    }
}
