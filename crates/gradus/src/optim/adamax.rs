//! Adamax: Adam with the infinity norm in place of the second moment.
//!
//! # Update rule (torch.optim.Adamax)
//! With `g_t = ∇f(θ_{t−1})` (negated when `maximize`), plus `λ·θ_{t−1}` when
//! `weight_decay = λ ≠ 0`:
//!
//! ```text
//! m_t = β1·m_{t−1} + (1 − β1)·g_t       (computed as torch.lerp(m, g, 1 − β1))
//! u_t = max(β2·u_{t−1}, |g_t| + ε)
//! θ_t = θ_{t−1} − lr/(1 − β1ᵗ) · m_t / u_t
//! ```
//!
//! Defaults: `lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=false`,
//! as torch. `u` needs no bias correction: it is a maximum, not an average started at
//! zero. Steps are at most about `lr` long, whatever the gradient's scale (the
//! paper's bound `|Δ_t| ≤ α`).
//!
//! # Reference
//! Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015, §7.1
//! (Algorithm 2).
//!
//! # Where torch and the tutorials differ
//! * The paper has no ε: `u_t = max(β2·u_{t−1}, |g_t|)`. torch adds ε to `|g_t|`
//!   inside the maximum (not to `u_t` in the division), so ε only matters while the
//!   gradient is about as small as ε; gradus follows torch.
//! * torch computes the maximum with `torch.maximum(u·β2, |g| + ε)` (its default
//!   path; the `differentiable` path uses `amax` over the two, with the same result),
//!   which propagates NaN: a NaN gradient makes `u` NaN for good. gradus does the
//!   same under [`NonFinitePolicy::Propagate`](crate::optim::NonFinitePolicy).
//! * With `eps=0` and a gradient that has been exactly zero from the start, `u = 0`
//!   and the step is `0/0`: NaN, as in torch.
//!
//! ```
//! use gradus::optim::{Adamax, AdamaxConfig, Optimizer, Param};
//! // f(x) = x² from 10 with lr 1: the first step is lr·m̂/u = 1·20/20 = 1.
//! let mut opt = Adamax::<f64>::new(AdamaxConfig { lr: 1.0, ..Default::default() }).unwrap();
//! let mut x = [10.0];
//! for i in 0..500 {
//!     let g = [2.0 * x[0]];
//!     opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//!     if i == 0 {
//!         assert!((x[0] - 9.0).abs() < 1e-8);
//!     }
//! }
//! assert!(x[0].abs() < 1e-6);
//! ```

use super::blocks::{addcdiv, bias_correction, grad_in, lerp, lerp_small, maximum};
use super::engine::{Elementwise, Rule};
use crate::error::Result;
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Adamax`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct AdamaxConfig("adamax", "Adam with the infinity norm in place of the second moment (Kingma & Ba 2015)") {
        /// Learning rate.
        lr: f64 = 2e-3, NONNEG, log;
        /// Decay rates (β1, β2) of the first moment and the infinity norm).
        betas: (f64, f64) = (0.9, 0.999), UNIT_OPEN;
        /// Added to `|g|` inside the maximum.
        eps: f64 = 1e-8, NONNEG, log;
        /// L2 penalty λ added to the gradient.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Maximize the objective.
        maximize: bool = false, NONE;
    }
}

/// Adamax: see the [module docs](self).
pub type Adamax<T> = Elementwise<AdamaxConfig, T>;

/// Per-step scalars of [`AdamaxConfig`].
#[derive(Debug, Clone, Copy)]
pub struct AdamaxCoeffs<T> {
    neg_clr: T,
    beta2: T,
    one_minus_beta1: T,
    eps: T,
    wd: T,
    maximize: bool,
}

impl Rule for AdamaxConfig {
    const LOW_PRECISION_STATE: bool = true;

    super::table::config_accessors!(momentum = betas.0);

    fn slot_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_inf"]
    }

    type Coeffs<T: Float> = AdamaxCoeffs<T>;

    fn coeffs<T: Float>(&self, step: u64, _scalars: &mut [f64]) -> AdamaxCoeffs<T> {
        let (beta1, beta2) = self.betas;
        let clr = self.lr / bias_correction(beta1, step);
        AdamaxCoeffs {
            neg_clr: T::of(-clr),
            beta2: T::of(beta2),
            one_minus_beta1: T::of(1.0 - beta1),
            eps: T::of(self.eps),
            wd: T::of(self.weight_decay),
            maximize: self.maximize,
        }
    }

    #[inline(always)]
    fn update<T: Float>(c: &AdamaxCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        adamax_update::<T, false>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &AdamaxCoeffs<T>) -> bool {
        !c.maximize && c.wd == T::zero() && c.one_minus_beta1.abs() < T::of(0.5)
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &AdamaxCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        adamax_update::<T, true>(c, p, g, s)
    }
}

/// One element of Adamax. With `FAST`, the coefficients satisfy [`Rule::is_fast`]:
/// no `maximize`, no weight decay, β1 > 0.5 (the first form of `lerp`).
#[inline(always)]
fn adamax_update<T: Float, const FAST: bool>(c: &AdamaxCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
    let g = if FAST {
        g
    } else {
        grad_in(g, *p, c.maximize, c.wd)
    };
    s[0] = if FAST {
        lerp_small(s[0], g, c.one_minus_beta1)
    } else {
        lerp(s[0], g, c.one_minus_beta1)
    };
    s[1] = maximum(s[1] * c.beta2, g.abs() + c.eps);
    *p = addcdiv(*p, c.neg_clr, s[0], s[1]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{run, run2};
    use crate::optim::{NonFinitePolicy, Optimizer, Param};

    #[test]
    fn first_steps_by_hand() {
        // f = x² from 10, lr 1.
        // step 1: g = 20, m = 2, u = max(0, 20 + 1e-8), x = 10 − (1/0.1)·2/(20 + 1e-8) ≈ 9
        // step 2: g = 2·x1 ≈ 18, m = 0.9·2 + 0.1·g ≈ 3.6, u = max(0.999·u1, |g| + 1e-8) = 0.999·u1
        //         (the old maximum, decayed, still wins), x = x1 − (1/0.19)·m/u ≈ 8.05168
        let xs = run(
            AdamaxConfig {
                lr: 1.0,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            2,
        );
        let u1 = 20.0 + 1e-8;
        let x1 = 10.0 - 10.0 * 2.0 / u1;
        let g2 = 2.0 * x1;
        let m2 = 0.9 * 2.0 + 0.1 * g2;
        let x2 = x1 - 1.0 / (1.0 - 0.81) * m2 / (0.999 * u1);
        assert!((xs[0] - x1).abs() < 1e-13, "{} vs {x1}", xs[0]);
        assert!((xs[1] - x2).abs() < 1e-13, "{} vs {x2}", xs[1]);
        assert!((xs[1] - 8.05168).abs() < 1e-5, "{}", xs[1]);
    }

    #[test]
    fn the_norm_takes_a_new_larger_gradient_at_once() {
        // Gradients 1 then 10: u1 = 1 + ε, u2 = max(0.999·u1, 10 + ε) = 10 + ε.
        let mut opt = Adamax::<f64>::new(AdamaxConfig::default()).unwrap();
        let mut x = [0.0];
        for g in [1.0, 10.0] {
            opt.step(&mut [Param::new("x", &mut x, &[g])]).unwrap();
        }
        assert_eq!(opt.tensor_state("x").unwrap().slots[1], vec![10.0 + 1e-8]);
    }

    #[test]
    fn zero_lr_leaves_the_parameters_unchanged() {
        // lr 0: the step −0·m/u adds a (signed) zero; the state still moves.
        let mut opt = Adamax::<f64>::new(AdamaxConfig {
            lr: 0.0,
            ..Default::default()
        })
        .unwrap();
        let mut x = [1.5, -2.0];
        for _ in 0..10 {
            let g = [2.0 * x[0], 2.0 * x[1]];
            opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
        }
        assert_eq!(x, [1.5, -2.0]);
        assert!(opt.tensor_state("x").unwrap().slots[1]
            .iter()
            .all(|u| *u > 0.0));
    }

    #[test]
    fn nan_gradient_propagates_into_the_norm_like_torch_maximum() {
        let mut opt = Adamax::<f64>::new(AdamaxConfig::default()).unwrap();
        opt.set_nonfinite_policy(NonFinitePolicy::Propagate);
        let mut x = [1.0, 1.0];
        opt.step(&mut [Param::new("x", &mut x, &[f64::NAN, 1.0])])
            .unwrap();
        opt.step(&mut [Param::new("x", &mut x, &[1.0, 1.0])])
            .unwrap();
        let s = opt.tensor_state("x").unwrap();
        assert!(s.slots[1][0].is_nan() && x[0].is_nan());
        assert!(s.slots[1][1].is_finite() && x[1].is_finite());
        // eps 0 and a gradient that was always zero: u = 0 and the step is 0/0, as in torch.
        let mut opt = Adamax::<f64>::new(AdamaxConfig {
            eps: 0.0,
            ..Default::default()
        })
        .unwrap();
        let mut y = [1.0];
        opt.step(&mut [Param::new("y", &mut y, &[0.0])]).unwrap();
        assert!(y[0].is_nan());
    }

    #[test]
    fn weight_decay_and_maximize_by_hand() {
        // g = 2x + 0.5x = 25 at x = 10, lr 1: m = 2.5, u = 25 + ε, x = 10 − 10·2.5/(25 + ε) ≈ 9
        let cfg = AdamaxConfig {
            lr: 1.0,
            weight_decay: 0.5,
            ..Default::default()
        };
        let xs = run(cfg, 10.0, |x| 2.0 * x, 1);
        assert!(
            (xs[0] - (10.0 - 10.0 * 2.5 / (25.0 + 1e-8))).abs() < 1e-13,
            "{}",
            xs[0]
        );
        // maximize −x² descends x² exactly as minimizing x² does.
        let a = run(
            AdamaxConfig {
                lr: 0.1,
                maximize: true,
                ..Default::default()
            },
            10.0,
            |x| -2.0 * x,
            20,
        );
        let b = run(
            AdamaxConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            20,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn converges_on_the_parabola_and_rosenbrock() {
        let xs = run(
            AdamaxConfig {
                lr: 1.0,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            500,
        );
        assert!(xs[499].abs() < 1e-6, "{}", xs[499]);
        // Rosenbrock from (−1.2, 1), lr 0.03, 5000 steps (torch 2.15: (1.0, 1.0) to 6 places).
        let rosen = |p: [f64; 2]| {
            let (x, y) = (p[0], p[1]);
            [
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ]
        };
        let last = run2(
            AdamaxConfig {
                lr: 0.03,
                ..Default::default()
            },
            [-1.2, 1.0],
            rosen,
            5000,
        )[4999];
        assert!(
            (last[0] - 1.0).abs() < 1e-4 && (last[1] - 1.0).abs() < 1e-4,
            "{last:?}"
        );
    }

    /// torch 2.15.0, float64, single-tensor path (`foreach=False`):
    /// ```text
    /// p = torch.tensor([1.5, -0.75], dtype=torch.float64, requires_grad=True)
    /// opt = torch.optim.Adamax([p], foreach=False, **settings)
    /// for _ in range(5):
    ///     x0, x1 = p.tolist()
    ///     p.grad = torch.tensor([2*x0 - 1, 3*x1*x1*x1 + 0.5], dtype=torch.float64)
    ///     opt.step(); print(p.tolist())
    /// ```
    const TORCH: &[(&str, &[[f64; 2]])] = &[
        (
            "adamax",
            &[
                [1.49800000001, -0.7480000000261224],
                [1.4960001053885155, -0.7460118953744276],
                [1.4940003883291126, -0.7440360642966053],
                [1.492000920804566, -0.7420728749496825],
                [1.4900017744099259, -0.7401226843080295],
            ],
        ),
        (
            "adamax(lr=0.05, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1, maximize=true)",
            &[
                [1.5499729875742843, -0.7999277064883427],
                [1.5988630042470386, -0.8437201098949456],
                [1.6468833118939485, -0.8844851495519862],
                [1.6942061937063215, -0.9234787794404323],
                [1.7409722621776094, -0.9613625722672223],
            ],
        ),
    ];

    #[test]
    fn matches_torch() {
        // torch's AVX2 CPU kernels compute the lerp with an FMA where gradus rounds
        // twice, so an ulp may differ; these cases happen to agree bit for bit.
        let grad = |x: [f64; 2]| [2.0 * x[0] - 1.0, 3.0 * x[1] * x[1] * x[1] + 0.5];
        for (spec, want) in TORCH {
            let cfg = AdamaxConfig::from_call(&crate::spec::parse(spec).unwrap()).unwrap();
            let got = run2(cfg, [1.5, -0.75], grad, want.len());
            for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
                assert!((g - w).abs() <= 1e-14 * w.abs(), "{spec}: {g} vs {w}");
            }
        }
    }
}
