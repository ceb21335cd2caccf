//! ASGD: stochastic gradient descent with a decaying step size and a running average
//! of the iterates.
//!
//! # Update rule (torch.optim.ASGD)
//! With `g_t = ∇f(θ_{t−1})` (negated when `maximize`), plus `λ_wd·θ_{t−1}` when
//! `weight_decay = λ_wd ≠ 0`, and the per-tensor scalars `η_0 = lr`, `μ_0 = 1`:
//!
//! ```text
//! θ ← θ_{t−1}·(1 − λ·η_{t−1})                    decay term (λ = lambd)
//! θ_t = θ − η_{t−1}·g_t
//! ax_t = θ_t                                     while μ_{t−1} = 1
//! ax_t = ax_{t−1} + μ_{t−1}·(θ_t − ax_{t−1})      afterwards
//! η_t = lr / (1 + λ·lr·t)^α                      step size of the next step
//! μ_t = 1 / max(1, t − t0)                       averaging weight of the next step
//! ```
//!
//! `ax` holds the averaged parameters (torch's state key `ax`). The optimizer never
//! reads them back: they are the answer to use after training, read with
//! [`Asgd::averaged`] (or [`Elementwise::slot`]`(name, "ax")`, or
//! [`OptimizerState::slot`](super::OptimizerState::slot) through a
//! `Box<dyn Optimizer>`). `η` and `μ` are per-tensor scalars, torch's `eta` and `mu`:
//! [`TensorState::scalars`](super::TensorState::scalars) is `[eta, mu]`.
//!
//! With an integer `t0`, `ax_t` is the plain mean of `θ_{t0+2}, …, θ_t` (and a copy of
//! `θ_t` before that). The default `t0 = 1e6` means no averaging for the first
//! million steps.
//!
//! Defaults: `lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
//! maximize=false`, as torch.
//!
//! # References
//! Polyak & Juditsky, *Acceleration of Stochastic Approximation by Averaging*, SIAM
//! Journal on Control and Optimization 30(4), 1992 (the averaging).
//! Xu, *Towards Optimal One Pass Large Scale Learning with Averaged Stochastic Gradient
//! Descent*, arXiv:1107.2490, 2011, after Bottou's `sgd` code (the step-size schedule
//! `η_t = η_0/(1 + λη_0t)^α`, the decay term and the start `t0`, which torch follows).
//!
//! # Where torch differs from the paper
//! * Polyak & Juditsky average every iterate from the start, uniformly; torch starts
//!   the uniform average after `t0` steps (Xu's form).
//! * `θ·(1 − λη)` is the regularizer of Xu's objective `λ/2·|θ|²` applied as a decay;
//!   torch also offers `weight_decay`, an L2 term added to the gradient. Both act.
//! * Each step uses the `η` and `μ` computed at the end of the previous step, so step
//!   `t` uses `η_{t−1}`: the first step is a plain gradient step of size `lr`.
//! * torch keeps `eta` and `mu` in `float32` tensors (its scalar dtype, unless the
//!   default dtype is `float64`), even for `float64` parameters: every new value is
//!   computed in double precision (Python floats) and rounded to `float32`, and the
//!   test `μ ≠ 1` is made on the rounded value. gradus does the same, so `float64` runs
//!   match torch to the last bit; the rounding is below 6e-8 relative.
//! * torch counts steps in a `float32` tensor, which stops at 2^24 ≈ 1.7e7; gradus
//!   counts in `u64`, so the two schedules part after 16.7 million steps.
//!
//! ```
//! use gradus::optim::{Asgd, AsgdConfig, Optimizer, Param};
//! // Constant gradient −1, lr 1, no decay, averaging from the start (t0 = 0):
//! // θ = 1, 2, 3, 4 and ax = 1, 2, then the mean of θ_2, …, θ_t: 2.5, 3 (up to the
//! // float32 rounding of μ = 1/3).
//! let cfg = AsgdConfig { lr: 1.0, lambd: 0.0, t0: 0.0, ..Default::default() };
//! let mut opt = Asgd::<f64>::new(cfg).unwrap();
//! let mut x = [0.0];
//! for _ in 0..4 {
//!     opt.step(&mut [Param::new("x", &mut x, &[-1.0])]).unwrap();
//! }
//! assert_eq!(x, [4.0]);
//! assert!((opt.averaged("x").unwrap()[0] - 3.0).abs() < 1e-7);
//! ```

use super::blocks::{add_scaled, grad_in};
use super::engine::{Elementwise, Rule};
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Asgd`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct AsgdConfig("asgd", "averaged SGD: decaying steps and a running average of the iterates (Polyak & Juditsky 1992; Xu 2011)") {
        /// Learning rate η_0, the first step size.
        lr: f64 = 1e-2, NONNEG, log;
        /// Decay term λ: θ ← θ·(1 − λη) each step, and the rate of the step-size decay.
        lambd: f64 = 1e-4, NONNEG, log;
        /// Power α of the step-size decay η_t = lr/(1 + λ·lr·t)^α.
        alpha: f64 = 0.75, NONNEG;
        /// Step after which averaging starts (a step count).
        t0: f64 = 1e6, NONNEG, log;
        /// L2 penalty added to the gradient.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Maximize the objective instead of minimizing.
        maximize: bool = false, NONE;
    }
}

/// Averaged SGD: see the [module docs](self).
pub type Asgd<T> = Elementwise<AsgdConfig, T>;

impl<T: Float> Elementwise<AsgdConfig, T> {
    /// The averaged parameters (torch's `ax`) of the tensor called `name`, if it has
    /// been stepped.
    pub fn averaged(&self, name: &str) -> Option<&[T]> {
        self.slot(name, "ax")
    }
}

/// Per-step scalars of [`AsgdConfig`].
#[derive(Debug, Clone, Copy)]
pub struct AsgdCoeffs<T> {
    decay: T,
    neg_eta: T,
    mu: T,
    wd: T,
    average: bool,
    maximize: bool,
}

/// Rounds to `float32`, torch's dtype for `eta` and `mu`.
fn scalar_dtype(x: f64) -> f64 {
    x as f32 as f64
}

impl Rule for AsgdConfig {
    super::table::config_accessors!();

    fn slot_names(&self) -> &'static [&'static str] {
        &["ax"]
    }

    /// `[eta, mu]`: the step size and the averaging weight of the next step, as torch
    /// keeps them (rounded to `float32`), starting at `[lr, 1]`.
    fn scalar_init(&self) -> Vec<f64> {
        vec![scalar_dtype(self.lr), 1.0]
    }

    type Coeffs<T: Float> = AsgdCoeffs<T>;

    fn coeffs<T: Float>(&self, step: u64, scalars: &mut [f64]) -> AsgdCoeffs<T> {
        let (eta, mu) = (scalars[0], scalars[1]);
        let c = AsgdCoeffs {
            decay: T::of(1.0 - self.lambd * eta),
            neg_eta: T::of(-eta),
            mu: T::of(mu),
            wd: T::of(self.weight_decay),
            average: mu != 1.0,
            maximize: self.maximize,
        };
        // torch's order and grouping, in Python floats: lr / ((1 + lambd·lr·t) ** alpha)
        // and 1 / max(1, t − t0).
        let t = step as f64;
        scalars[0] = scalar_dtype(self.lr / (1.0 + self.lambd * self.lr * t).powf(self.alpha));
        let since = t - self.t0;
        scalars[1] = scalar_dtype(1.0 / if since > 1.0 { since } else { 1.0 });
        c
    }

    #[inline(always)]
    fn update<T: Float>(c: &AsgdCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        asgd_update::<T, false>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &AsgdCoeffs<T>) -> bool {
        !c.maximize && c.wd == T::zero() && !c.average
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &AsgdCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        asgd_update::<T, true>(c, p, g, s)
    }
}

/// One element of ASGD, in torch's order (`_single_tensor_asgd`). With `FAST`, the
/// coefficients satisfy [`Rule::is_fast`]: no `maximize`, no weight decay, and no
/// averaging yet (`ax` copies the parameter).
#[inline(always)]
fn asgd_update<T: Float, const FAST: bool>(c: &AsgdCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
    let g = if FAST {
        g
    } else {
        grad_in(g, *p, c.maximize, c.wd)
    };
    *p = *p * c.decay;
    *p = add_scaled(*p, c.neg_eta, g);
    s[0] = if !FAST && c.average {
        s[0] + (*p - s[0]) * c.mu
    } else {
        *p
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::run;
    use crate::optim::{Optimizer, Param};

    #[test]
    fn first_steps_by_hand() {
        // f = x² from 10, lr 0.1, λ 1e-4, α 0.75. η_0 = lr rounded to f32 (torch's eta).
        // step 1: x = 10·(1 − λη_0) − η_0·20, ax = x
        // step 2: η_1 = f32(0.1/(1 + 1e-4·0.1·1)^0.75), x = x_1·(1 − λη_1) − η_1·2x_1
        let cfg = AsgdConfig {
            lr: 0.1,
            ..Default::default()
        };
        let mut opt = Asgd::<f64>::new(cfg).unwrap();
        let mut x = [10.0];
        let mut xs = vec![];
        for _ in 0..2 {
            let g = [2.0 * x[0]];
            opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
            xs.push(x[0]);
        }
        let eta0 = 0.1f32 as f64;
        let x1 = (-eta0).mul_add(20.0, 10.0 * (1.0 - 1e-4 * eta0));
        let eta1 = (0.1 / (1.0 + 1e-4 * 0.1 * 1.0f64).powf(0.75)) as f32 as f64;
        let x2 = (-eta1).mul_add(2.0 * x1, x1 * (1.0 - 1e-4 * eta1));
        assert_eq!(xs, vec![x1, x2]);
        assert!((x1 - 7.9999).abs() < 1e-6, "{x1}");
        let eta2 = (0.1 / (1.0 + 1e-4 * 0.1 * 2.0f64).powf(0.75)) as f32 as f64;
        assert_eq!(opt.tensor_state("x").unwrap().scalars, vec![eta2, 1.0]);
        assert_eq!(opt.averaged("x").unwrap(), &[x2]);
    }

    #[test]
    fn ax_is_the_mean_of_the_iterates_after_t0() {
        // Constant gradient −1, lr 1, λ 0 (so η = 1 throughout): θ_t = t.
        // t0 = 2: ax copies θ up to step t0 + 2 = 4, then ax_t = mean(θ_4..θ_t).
        let cfg = AsgdConfig {
            lr: 1.0,
            lambd: 0.0,
            t0: 2.0,
            ..Default::default()
        };
        let mut opt = Asgd::<f64>::new(cfg).unwrap();
        let mut x = [0.0];
        let mut ax = vec![];
        let mut mus = vec![];
        for _ in 0..7 {
            mus.push(opt.tensor_state("x").map_or(1.0, |s| s.scalars[1]));
            opt.step(&mut [Param::new("x", &mut x, &[-1.0])]).unwrap();
            ax.push(opt.averaged("x").unwrap()[0]);
        }
        assert_eq!(x, [7.0]);
        assert_eq!(ax[..5], [1.0, 2.0, 3.0, 4.0, 4.5]);
        // μ = 1/3 is rounded to f32 (as torch keeps it), so the mean is off by ~1e-8.
        assert!(
            (ax[5] - 5.0).abs() < 1e-7 && (ax[6] - 5.5).abs() < 1e-7,
            "{ax:?}"
        );
        assert_eq!(ax[5], 4.5 + 1.5 * (1.0f32 / 3.0) as f64);
        // μ used at step t is 1/max(1, t − 1 − t0).
        assert_eq!(
            mus,
            vec![1.0, 1.0, 1.0, 1.0, 0.5, (1.0f32 / 3.0) as f64, 0.25]
        );
    }

    #[test]
    fn the_step_size_decays_as_lr_over_a_power_of_t() {
        // λ = 1, lr = 1, α = 1: η_t = 1/(1 + t), in f32. Zero gradient, x = 1:
        // x_t = x_{t−1}·(1 − η_{t−1}) with η_0 = 1, so x_1 = 0.
        let cfg = AsgdConfig {
            lr: 1.0,
            lambd: 1.0,
            alpha: 1.0,
            ..Default::default()
        };
        let mut opt = Asgd::<f64>::new(cfg).unwrap();
        let mut x = [1.0];
        let mut etas = vec![];
        for _ in 0..3 {
            opt.step(&mut [Param::new("x", &mut x, &[0.0])]).unwrap();
            etas.push(opt.tensor_state("x").unwrap().scalars[0]);
        }
        assert_eq!(x, [0.0]);
        let f32_of = |v: f64| v as f32 as f64;
        assert_eq!(etas, vec![0.5, f32_of(1.0 / 3.0), 0.25]);
    }

    #[test]
    fn weight_decay_and_maximize_by_hand() {
        // λ 0: x = 10 − η_0·(20 + 0.5·10) = 10 − 0.5·25 = −2.5 (η_0 = 0.5 exactly in f32).
        let cfg = AsgdConfig {
            lr: 0.5,
            lambd: 0.0,
            weight_decay: 0.5,
            ..Default::default()
        };
        assert_eq!(run(cfg, 10.0, |x| 2.0 * x, 1), vec![-2.5]);
        let max = AsgdConfig {
            lr: 0.05,
            maximize: true,
            ..Default::default()
        };
        let min = AsgdConfig {
            lr: 0.05,
            ..Default::default()
        };
        assert_eq!(
            run(max, 10.0, |x| -2.0 * x, 30),
            run(min, 10.0, |x| 2.0 * x, 30)
        );
    }

    #[test]
    fn ax_is_readable_through_the_state_and_survives_a_checkpoint() {
        let cfg = AsgdConfig {
            lr: 0.05,
            t0: 3.0,
            ..Default::default()
        };
        let mut opt = Asgd::<f64>::new(cfg).unwrap();
        let mut x = [1.0, -2.0];
        for _ in 0..10 {
            let g = [2.0 * x[0], 2.0 * x[1]];
            opt.step(&mut [Param::new("w", &mut x, &g)]).unwrap();
        }
        let state = opt.state();
        assert_eq!(state.slot("w", "ax"), opt.averaged("w"));
        assert_ne!(opt.averaged("w").unwrap(), &x[..]);
        assert_eq!(opt.slot("w", "exp_avg"), None);
        assert_eq!(opt.averaged("v"), None);
        let mut other = Asgd::<f64>::new(AsgdConfig::default()).unwrap();
        other.load_state(state).unwrap();
        let (mut a, mut b) = (x, x);
        opt.step(&mut [Param::new("w", &mut a, &[0.5, 0.5])])
            .unwrap();
        other
            .step(&mut [Param::new("w", &mut b, &[0.5, 0.5])])
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(opt.averaged("w"), other.averaged("w"));
    }
}
