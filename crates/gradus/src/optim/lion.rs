//! Lion: the sign of an interpolated momentum ("EvoLved Sign Momentum").
//!
//! # Update rule
//! With `g_t = ∇f(θ_{t−1})` (negated when `maximize`):
//!
//! ```text
//! θ ← θ·(1 − lr·λ)                      decoupled weight decay (λ = weight_decay)
//! c_t = β1·m_{t−1} + (1 − β1)·g_t       interpolation used for the step
//! θ_t = θ − lr·sign(c_t)                (sign(0) = 0)
//! m_t = β2·m_{t−1} + (1 − β2)·g_t       momentum, with its own, slower rate
//! ```
//!
//! Defaults: `lr=1e-4, betas=(0.9, 0.99), weight_decay=0, maximize=false` (the
//! paper's recommended betas). Every coordinate moves by exactly `lr` (or not at
//! all) each step, so Lion wants a learning rate 3–10 times smaller than AdamW's and
//! a correspondingly larger weight decay. It keeps one buffer per element (`exp_avg`),
//! Adam two.
//!
//! # Reference
//! Chen et al., *Symbolic Discovery of Optimization Algorithms*, NeurIPS 2023
//! (Algorithm 2).
//!
//! # Where torch and the tutorials differ
//! Lion is not in torch.optim and none of the tutorials covers it. gradus follows the
//! paper, with torch's conventions: `maximize` as in every torch optimizer, the
//! decay applied before the step (as AdamW), `c_t` and `m_t` computed as
//! `m·β + (1 − β)·g` (a multiply and an add, each rounded), and the sign of NaN NaN.
//!
//! ```
//! use gradus::optim::{Lion, LionConfig, Optimizer, Param};
//! // f(x) = x² from 10 with lr 0.1: every step is exactly lr long until x nears 0.
//! let mut opt = Lion::<f64>::new(LionConfig { lr: 0.1, ..Default::default() }).unwrap();
//! let mut x = [10.0];
//! for _ in 0..50 {
//!     let g = [2.0 * x[0]];
//!     opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//! }
//! assert!((x[0] - 5.0).abs() < 1e-9);
//! ```

use super::blocks::add_scaled;
use super::engine::{Elementwise, Rule};
use crate::error::Result;
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Lion`], with the paper's names and defaults.
    #[derive(Copy)]
    pub struct LionConfig("lion", "sign of an interpolated momentum, evolved by program search (Chen et al. 2023)") {
        /// Learning rate: the length of every step.
        lr: f64 = 1e-4, NONNEG, log;
        /// Rates (β1, β2) of the step's interpolation and of the momentum).
        betas: (f64, f64) = (0.9, 0.99), UNIT_OPEN;
        /// Decoupled weight decay λ: θ ← θ·(1 − lr·λ) each step.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Maximize the objective.
        maximize: bool = false, NONE;
    }
}

/// Lion: see the [module docs](self).
pub type Lion<T> = Elementwise<LionConfig, T>;

/// Per-step scalars of [`LionConfig`].
#[derive(Debug, Clone, Copy)]
pub struct LionCoeffs<T> {
    neg_lr: T,
    decay: T,
    beta1: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    decoupled: bool,
    maximize: bool,
}

/// `torch.sign`: −1, 0 or 1, keeping the sign of a zero and NaN for NaN
/// (`f64::signum` would give ±1 for ±0).
#[inline(always)]
fn sign<T: Float>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        x
    }
}

impl Rule for LionConfig {
    const LOW_PRECISION_STATE: bool = true;

    super::table::config_accessors!(momentum = betas.0);

    fn slot_names(&self) -> &'static [&'static str] {
        &["exp_avg"]
    }

    type Coeffs<T: Float> = LionCoeffs<T>;

    fn coeffs<T: Float>(&self, _step: u64, _scalars: &mut [f64]) -> LionCoeffs<T> {
        let (beta1, beta2) = self.betas;
        LionCoeffs {
            neg_lr: T::of(-self.lr),
            decay: T::of(1.0 - self.lr * self.weight_decay),
            beta1: T::of(beta1),
            one_minus_beta1: T::of(1.0 - beta1),
            beta2: T::of(beta2),
            one_minus_beta2: T::of(1.0 - beta2),
            decoupled: self.weight_decay != 0.0,
            maximize: self.maximize,
        }
    }

    #[inline(always)]
    fn update<T: Float>(c: &LionCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        lion_update::<T, false>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &LionCoeffs<T>) -> bool {
        !c.maximize && !c.decoupled
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &LionCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        lion_update::<T, true>(c, p, g, s)
    }
}

/// One element of Lion. With `FAST`, the coefficients satisfy [`Rule::is_fast`]:
/// no `maximize`, no weight decay.
#[inline(always)]
fn lion_update<T: Float, const FAST: bool>(c: &LionCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
    if !FAST && c.decoupled {
        *p = *p * c.decay;
    }
    let g = if !FAST && c.maximize { -g } else { g };
    let interp = s[0] * c.beta1 + c.one_minus_beta1 * g;
    *p = add_scaled(*p, c.neg_lr, sign(interp));
    s[0] = s[0] * c.beta2 + c.one_minus_beta2 * g;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{run, run2};
    use crate::optim::{NonFinitePolicy, Optimizer, Param};

    #[test]
    fn first_steps_by_hand() {
        // Gradients 1, −3, −3 from 0, lr 0.1, betas (0.9, 0.99):
        // step 1: c = 0.1·1 > 0, x = −0.1, m = 0.01
        // step 2: c = 0.9·0.01 + 0.1·(−3) = −0.291 < 0, x = 0, m = 0.99·0.01 − 0.03 = −0.0201
        // step 3: c < 0, x = 0.1
        let mut opt = Lion::<f64>::new(LionConfig {
            lr: 0.1,
            ..Default::default()
        })
        .unwrap();
        let mut x = [0.0];
        let mut xs = vec![];
        for g in [1.0, -3.0, -3.0] {
            opt.step(&mut [Param::new("x", &mut x, &[g])]).unwrap();
            xs.push(x[0]);
        }
        assert_eq!(xs, vec![-0.1, 0.0, 0.1]);
        let m = opt.tensor_state("x").unwrap().slots[0][0];
        let want = (0.99 * 0.01 + 0.01 * -3.0) * 0.99 + 0.01 * -3.0;
        assert!((m - want).abs() < 1e-16, "{m} vs {want}");
    }

    #[test]
    fn the_step_uses_beta1_and_the_momentum_beta2() {
        // Gradient 1 then −0.1 from 0, lr 0.1: after step 1, x = −0.1 and m = 0.01.
        // β1 0.9:  c = 0.9·0.01 + 0.1·(−0.1) = −0.001 < 0, so x rises back to 0.
        // β1 0.95: c = 0.95·0.01 + 0.05·(−0.1) = 0.0045 > 0, so x falls to −0.2.
        // Either way m = 0.99·0.01 + 0.01·(−0.1) = 0.0089 stays positive.
        for (beta1, want) in [(0.9, 0.0), (0.95, -0.2)] {
            let mut opt = Lion::<f64>::new(LionConfig {
                lr: 0.1,
                betas: (beta1, 0.99),
                ..Default::default()
            })
            .unwrap();
            let mut x = [0.0];
            for g in [1.0, -0.1] {
                opt.step(&mut [Param::new("x", &mut x, &[g])]).unwrap();
            }
            assert!((x[0] - want).abs() < 1e-15, "β1 {beta1}: {}", x[0]);
            assert!((opt.tensor_state("x").unwrap().slots[0][0] - 0.0089).abs() < 1e-15);
        }
    }

    #[test]
    fn zero_interpolation_does_not_move() {
        // sign(0) = 0: a zero gradient on fresh state leaves x unchanged.
        let xs = run(
            LionConfig {
                lr: 0.1,
                ..Default::default()
            },
            3.0,
            |_| 0.0,
            3,
        );
        assert_eq!(xs, vec![3.0; 3]);
        // NaN propagates, as torch.sign(nan) is nan.
        let mut opt = Lion::<f64>::new(LionConfig::default()).unwrap();
        opt.set_nonfinite_policy(NonFinitePolicy::Propagate);
        let mut x = [1.0, 1.0];
        opt.step(&mut [Param::new("x", &mut x, &[f64::NAN, 1.0])])
            .unwrap();
        assert!(x[0].is_nan() && x[1] == 1.0 - 1e-4);
    }

    #[test]
    fn weight_decay_is_decoupled_and_maximize_negates() {
        // Zero gradient, lr 0.1, λ 0.5: only the decay acts, x ← x·0.95.
        let xs = run(
            LionConfig {
                lr: 0.1,
                weight_decay: 0.5,
                ..Default::default()
            },
            10.0,
            |_| 0.0,
            2,
        );
        assert_eq!(xs, vec![9.5, 9.5 * 0.95]);
        // With a gradient: decay first, then the signed step: 10·0.95 − 0.1 = 9.4.
        let xs = run(
            LionConfig {
                lr: 0.1,
                weight_decay: 0.5,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            1,
        );
        assert_eq!(xs, vec![9.5 - 0.1]);
        let a = run(
            LionConfig {
                lr: 0.1,
                maximize: true,
                ..Default::default()
            },
            10.0,
            |x| -2.0 * x,
            20,
        );
        let b = run(
            LionConfig {
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
        // From 10 with lr 0.1, steps of exactly 0.1 reach 0 after 100 steps; the slow
        // momentum (β2 0.99) carries x a few units past 0, then the oscillation dies
        // down to ±lr (sign steps cannot settle closer).
        let xs = run(
            LionConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            600,
        );
        assert!((xs[49] - 5.0).abs() < 1e-9, "{}", xs[49]);
        assert!(xs[500..].iter().all(|x| x.abs() <= 0.2), "{:?}", &xs[500..]);
        // Rosenbrock from (−1.2, 1), lr 1e-3, 5000 steps: (1, 1) to within a step.
        let rosen = |p: [f64; 2]| {
            let (x, y) = (p[0], p[1]);
            [
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ]
        };
        let last = run2(
            LionConfig {
                lr: 1e-3,
                ..Default::default()
            },
            [-1.2, 1.0],
            rosen,
            5000,
        )[4999];
        assert!(
            (last[0] - 1.0).abs() < 3e-3 && (last[1] - 1.0).abs() < 3e-3,
            "{last:?}"
        );
    }

    /// Lion is not in torch.optim: these numbers come from the update rule above
    /// written with torch 2.15.0 tensor ops in float64:
    /// ```text
    /// p = torch.tensor([1.5, -0.75], dtype=torch.float64); m = torch.zeros(2, dtype=torch.float64)
    /// for _ in range(5):
    ///     x0, x1 = p.tolist()
    ///     g = torch.tensor([2*x0 - 1, 3*x1*x1*x1 + 0.5], dtype=torch.float64)
    ///     if maximize: g = -g
    ///     if weight_decay != 0: p.mul_(1 - lr * weight_decay)
    ///     c = m * betas[0] + (1 - betas[0]) * g
    ///     p.add_(torch.sign(c), alpha=-lr)
    ///     m.mul_(betas[1]).add_((1 - betas[1]) * g)
    ///     print(p.tolist())
    /// ```
    const TORCH: &[(&str, &[[f64; 2]])] = &[
        (
            "lion(lr=0.01)",
            &[
                [1.49, -0.74],
                [1.48, -0.73],
                [1.47, -0.72],
                [1.46, -0.71],
                [1.45, -0.7],
            ],
        ),
        (
            "lion(lr=0.01, betas=(0.5, 0.9), weight_decay=0.5, maximize=true)",
            &[
                [1.5025, -0.75625],
                [1.5049875, -0.76246875],
                [1.5074625625, -0.76865640625],
                [1.5099252496875, -0.77481312421875],
                [1.5123756234390624, -0.7809390585976563],
            ],
        ),
    ];

    #[test]
    fn matches_torch_ops() {
        // No fused operation is involved (the signed step is exact), so these agree bit
        // for bit.
        let grad = |x: [f64; 2]| [2.0 * x[0] - 1.0, 3.0 * x[1] * x[1] * x[1] + 0.5];
        for (spec, want) in TORCH {
            let cfg = LionConfig::from_call(&crate::spec::parse(spec).unwrap()).unwrap();
            assert_eq!(&run2(cfg, [1.5, -0.75], grad, want.len()), want, "{spec}");
        }
    }
}
