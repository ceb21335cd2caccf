//! Adadelta: RMSprop with the step size set by the RMS of past updates.
//!
//! # Update rule (torch.optim.Adadelta)
//! With `g_t = ∇f(θ_{t−1})` (negated when `maximize`), plus `λ·θ_{t−1}` when
//! `weight_decay = λ ≠ 0`, and `ρ = rho`:
//!
//! ```text
//! v_t = ρ·v_{t−1} + (1 − ρ)·g_t²
//! Δ_t = √(u_{t−1} + ε) / √(v_t + ε) · g_t
//! u_t = ρ·u_{t−1} + (1 − ρ)·Δ_t²
//! θ_t = θ_{t−1} − lr·Δ_t
//! ```
//!
//! Defaults: `lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=false`, as torch.
//! The ratio of the two root mean squares carries the units of θ, so no learning rate
//! is needed: `lr = 1` is the paper's algorithm. Both averages start at zero, so the
//! first step is `√(ε/((1 − ρ)·g² + ε))·g ≈ √(ε/(1 − ρ))`, about 0.003 with the
//! defaults whatever the gradient's size, and the steps grow from there; ε sets the
//! pace of that warm-up.
//!
//! # Reference
//! Zeiler, *ADADELTA: An Adaptive Learning Rate Method*, arXiv:1212.5701, 2012
//! (Algorithm 1).
//!
//! # Where torch and the tutorials differ
//! * Here ε sits inside both square roots, in the paper, in torch and in gradus;
//!   torch's `lr` scales the paper's step.
//! * The fourth tutorial's NumPy version is marked broken; gradus implements Algorithm 1.
//! * With `lr = 1` Adadelta does not always settle: on `x² + 2y²` the ratio
//!   `RMS[Δ]/RMS[g]` drifts to the edge of stability for `y`, which then oscillates
//!   with a slowly growing amplitude (and Rosenbrock is not solved in thousands of
//!   steps). `lr = 0.5` settles there. This is the algorithm, not an error; torch
//!   does the same.
//!
//! ```
//! use gradus::optim::{Adadelta, AdadeltaConfig, Optimizer, Param};
//! // f(x) = x² from 10: the first step is √(ε/(0.1·400 + ε))·20 ≈ 0.00316.
//! let mut opt = Adadelta::<f64>::new(AdadeltaConfig::default()).unwrap();
//! let mut x = [10.0];
//! let g = [2.0 * x[0]];
//! opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//! assert!((x[0] - 9.99684).abs() < 1e-5);
//! ```

use super::blocks::{add_scaled, ema_sq, grad_in};
use super::engine::{Elementwise, Rule};
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Adadelta`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct AdadeltaConfig("adadelta", "RMSprop with the step size set by past updates, no learning rate needed (Zeiler 2012)") {
        /// Scale of the step.
        lr: f64 = 1.0, NONNEG, log;
        /// Decay rate ρ of both moving averages.
        rho: f64 = 0.9, UNIT;
        /// Added inside both square roots.
        eps: f64 = 1e-6, NONNEG, log;
        /// L2 penalty λ added to the gradient.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Maximize the objective instead of minimizing.
        maximize: bool = false, NONE;
    }
}

/// Adadelta: see the [module docs](self).
pub type Adadelta<T> = Elementwise<AdadeltaConfig, T>;

/// Per-step scalars of [`AdadeltaConfig`].
#[derive(Debug, Clone, Copy)]
pub struct AdadeltaCoeffs<T> {
    neg_lr: T,
    rho: T,
    one_minus_rho: T,
    eps: T,
    wd: T,
    maximize: bool,
}

impl Rule for AdadeltaConfig {
    super::table::config_accessors!();

    fn slot_names(&self) -> &'static [&'static str] {
        &["square_avg", "acc_delta"]
    }

    type Coeffs<T: Float> = AdadeltaCoeffs<T>;

    fn coeffs<T: Float>(&self, _step: u64, _scalars: &mut [f64]) -> AdadeltaCoeffs<T> {
        AdadeltaCoeffs {
            neg_lr: T::of(-self.lr),
            rho: T::of(self.rho),
            one_minus_rho: T::of(1.0 - self.rho),
            eps: T::of(self.eps),
            wd: T::of(self.weight_decay),
            maximize: self.maximize,
        }
    }

    #[inline(always)]
    fn update<T: Float>(c: &AdadeltaCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        adadelta_update::<T, false>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &AdadeltaCoeffs<T>) -> bool {
        !c.maximize && c.wd == T::zero()
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &AdadeltaCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        adadelta_update::<T, true>(c, p, g, s)
    }
}

/// One element of Adadelta. With `FAST`, the coefficients satisfy [`Rule::is_fast`]:
/// no `maximize`, no weight decay.
#[inline(always)]
fn adadelta_update<T: Float, const FAST: bool>(
    c: &AdadeltaCoeffs<T>,
    p: &mut T,
    g: T,
    s: &mut [T],
) {
    let g = if FAST {
        g
    } else {
        grad_in(g, *p, c.maximize, c.wd)
    };
    s[0] = ema_sq(s[0], g, c.rho, c.one_minus_rho);
    let std = (s[0] + c.eps).sqrt();
    // torch: delta = (u + ε).sqrt(); delta.div_(std).mul_(g), two roundings.
    let delta = (s[1] + c.eps).sqrt() / std * g;
    s[1] = ema_sq(s[1], delta, c.rho, c.one_minus_rho);
    *p = add_scaled(*p, c.neg_lr, delta);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{run, run2};
    use crate::optim::{Optimizer, Param};

    #[test]
    fn first_steps_by_hand() {
        // f = x² from 10, defaults (lr 1, ρ 0.9, ε 1e-6).
        // step 1: g = 20, v = 0.1·400 = 40, Δ = √1e-6/√(40 + 1e-6)·20 ≈ 0.0031623,
        //         u = 0.1·Δ² ≈ 1e-6, x ≈ 9.9968377
        // step 2: g = 2·x1, v = 0.9·40 + 0.1·g², Δ = √(u + 1e-6)/√(v + 1e-6)·g ≈ 0.0032439
        let mut opt = Adadelta::<f64>::new(AdadeltaConfig::default()).unwrap();
        let mut x = [10.0];
        let g1 = [20.0];
        opt.step(&mut [Param::new("x", &mut x, &g1)]).unwrap();
        let d1 = 1e-6f64.sqrt() / (40.0f64 + 1e-6).sqrt() * 20.0;
        let u1 = 0.1 * d1 * d1;
        assert!((x[0] - (10.0 - d1)).abs() < 1e-14, "{}", x[0]);
        let s = opt.tensor_state("x").unwrap();
        assert!((s.slots[0][0] - 40.0).abs() < 1e-13 && (s.slots[1][0] - u1).abs() < 1e-20);
        let x1 = x[0];
        let g2 = [2.0 * x1];
        opt.step(&mut [Param::new("x", &mut x, &g2)]).unwrap();
        let v2 = 0.9 * 40.0 + 0.1 * g2[0] * g2[0];
        let d2 = (u1 + 1e-6).sqrt() / (v2 + 1e-6).sqrt() * g2[0];
        assert!((x[0] - (x1 - d2)).abs() < 1e-14, "{}", x[0]);
        assert!((d2 - 0.0032439).abs() < 1e-7, "{d2}");
    }

    #[test]
    fn lr_scales_the_step_and_rho_one_freezes_the_averages() {
        // lr only scales Δ: after one step from 10, lr 0.5 moves half as far.
        let a = run(AdadeltaConfig::default(), 10.0, |x| 2.0 * x, 1)[0];
        let b = run(
            AdadeltaConfig {
                lr: 0.5,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            1,
        )[0];
        assert!(((10.0 - b) - 0.5 * (10.0 - a)).abs() < 1e-15);
        // ρ = 1 (allowed, as in torch) keeps v = u = 0: every step is √ε/√ε·g = g.
        let xs = run(
            AdadeltaConfig {
                rho: 1.0,
                lr: 0.25,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            2,
        );
        assert_eq!(xs, vec![5.0, 2.5]);
    }

    #[test]
    fn weight_decay_and_maximize_by_hand() {
        // g = 2x + 0.5x = 25 at x = 10: Δ = √1e-6/√(62.5 + 1e-6)·25
        let cfg = AdadeltaConfig {
            weight_decay: 0.5,
            ..Default::default()
        };
        let xs = run(cfg, 10.0, |x| 2.0 * x, 1);
        let d = 1e-6f64.sqrt() / (62.5f64 + 1e-6).sqrt() * 25.0;
        assert!((xs[0] - (10.0 - d)).abs() < 1e-14, "{}", xs[0]);
        // maximize −x² descends x² exactly as minimizing x² does.
        let a = run(
            AdadeltaConfig {
                maximize: true,
                ..Default::default()
            },
            10.0,
            |x| -2.0 * x,
            20,
        );
        let b = run(AdadeltaConfig::default(), 10.0, |x| 2.0 * x, 20);
        assert_eq!(a, b);
    }

    #[test]
    fn converges_on_the_parabola() {
        // With ε 1e-2 the warm-up is short: torch 2.15 reaches ~3e-28 in 500 steps.
        // (Rosenbrock is left out on purpose: see the module docs.)
        let xs = run(
            AdadeltaConfig {
                eps: 1e-2,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            500,
        );
        assert!(xs[499].abs() < 1e-9, "{}", xs[499]);
        // The defaults warm up slowly but make steady progress.
        let xs = run(AdadeltaConfig::default(), 10.0, |x| 2.0 * x, 1000);
        assert!(
            xs.windows(2).all(|w| w[1] < w[0]) && xs[999] < 5.0,
            "{}",
            xs[999]
        );
    }

    #[test]
    fn lr_one_oscillates_on_a_steeper_bowl_where_lr_half_settles() {
        // x² + 2y² from (−5, −5), 2000 steps (torch 2.15: y ≈ 0.0118 with lr 1, 1e-30
        // with lr 0.5). x, of curvature 2, converges either way.
        let grad = |p: [f64; 2]| [2.0 * p[0], 4.0 * p[1]];
        let one = run2(AdadeltaConfig::default(), [-5.0, -5.0], grad, 2000);
        let half = run2(
            AdadeltaConfig {
                lr: 0.5,
                ..Default::default()
            },
            [-5.0, -5.0],
            grad,
            2000,
        );
        assert!(
            one[1999][0].abs() < 1e-20 && one[1999][1].abs() > 1e-3,
            "{:?}",
            one[1999]
        );
        assert!((one[1998][1] + one[1999][1]).abs() < 1e-3 * one[1999][1].abs());
        assert!(
            half[1999][0].abs() < 1e-20 && half[1999][1].abs() < 1e-20,
            "{:?}",
            half[1999]
        );
    }

    /// torch 2.15.0, float64, single-tensor path (`foreach=False`):
    /// ```text
    /// p = torch.tensor([1.5, -0.75], dtype=torch.float64, requires_grad=True)
    /// opt = torch.optim.Adadelta([p], foreach=False, **settings)
    /// for _ in range(5):
    ///     x0, x1 = p.tolist()
    ///     p.grad = torch.tensor([2*x0 - 1, 3*x1*x1*x1 + 0.5], dtype=torch.float64)
    ///     opt.step(); print(p.tolist())
    /// ```
    const TORCH: &[(&str, &[[f64; 2]])] = &[
        (
            "adadelta",
            &[
                [1.4968377262926713, -0.7468377493130169],
                [1.4935981740783058, -0.7436258805818647],
                [1.490309045658058, -0.7404028012777696],
                [1.486984042427535, -0.7371876892168457],
                [1.483631323953412, -0.7339918080922145],
            ],
        ),
        (
            "adadelta(lr=0.5, rho=0.8, eps=1e-3, weight_decay=0.1, maximize=true)",
            &[
                [1.535329541654171, -0.785171468502528],
                [1.5731520027173458, -0.8258026520624249],
                [1.6131628374681162, -0.8729314660245946],
                [1.6552547672878863, -0.9276298445337745],
                [1.699392123108616, -0.9911225905499907],
            ],
        ),
    ];

    #[test]
    fn matches_torch() {
        // torch's AVX2 CPU kernels compute the two moving averages and `p − lr·Δ` with
        // FMAs where gradus rounds twice, so an ulp may differ; these cases happen to
        // agree bit for bit.
        let grad = |x: [f64; 2]| [2.0 * x[0] - 1.0, 3.0 * x[1] * x[1] * x[1] + 0.5];
        for (spec, want) in TORCH {
            let cfg = AdadeltaConfig::from_call(&crate::spec::parse(spec).unwrap()).unwrap();
            let got = run2(cfg, [1.5, -0.75], grad, want.len());
            for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
                assert!((g - w).abs() <= 1e-14 * w.abs(), "{spec}: {g} vs {w}");
            }
        }
    }
}
