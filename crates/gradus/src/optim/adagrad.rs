//! Adagrad: per-coordinate steps scaled by the accumulated squared gradients.
//!
//! # Update rule (torch.optim.Adagrad)
//! With `g_t = ∇f(θ_{t−1})` (negated when `maximize`), plus `λ·θ_{t−1}` when
//! `weight_decay = λ ≠ 0`:
//!
//! ```text
//! η_t = lr / (1 + (t − 1)·lr_decay)
//! s_t = s_{t−1} + g_t²                  (s_0 = initial_accumulator_value)
//! θ_t = θ_{t−1} − η_t · g_t / (√s_t + ε)
//! ```
//!
//! Defaults: `lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
//! eps=1e-10, maximize=false`, as torch.
//!
//! Each coordinate's step shrinks with the total squared gradient it has seen, so a
//! steep coordinate and a flat one move by similar amounts: the first step moves every
//! coordinate by almost exactly `lr` (`g/|g|`). That is what the third tutorial's
//! ill-conditioned bowl `50·p0² + p1²` shows; the price is that steps keep shrinking
//! even where the gradient does not.
//!
//! # Reference
//! Duchi, Hazan & Singer, *Adaptive Subgradient Methods for Online Learning and
//! Stochastic Optimization*, JMLR 12, 2011 (the diagonal form, with `δ = ε`).
//!
//! # Where torch and the tutorials differ
//! * The tutorials divide by `√(s + ε)`; torch, and so gradus, by `√s + ε`. For the
//!   usual tiny ε the two differ only while `s` is itself tiny.
//! * `lr_decay` (a `1/t`-like decay of the learning rate) and
//!   `initial_accumulator_value` are torch's additions, not the paper's; both are 0 by
//!   default, which is the paper's algorithm. A positive initial accumulator caps the
//!   first steps at `lr·|g|/√s_0`.
//!
//! ```
//! use gradus::optim::{Adagrad, AdagradConfig, Optimizer, Param};
//! // f(x) = x² from 10 with lr 1.5: the first step has length ≈ lr, then they shrink.
//! let mut opt = Adagrad::<f64>::new(AdagradConfig { lr: 1.5, ..Default::default() }).unwrap();
//! let mut x = [10.0];
//! for _ in 0..200 {
//!     let g = [2.0 * x[0]];
//!     opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//! }
//! assert!(x[0].abs() < 1e-3);
//! ```

use super::blocks::{addcdiv, addcmul, grad_in};
use super::engine::{Elementwise, Rule};
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Adagrad`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct AdagradConfig("adagrad", "per-coordinate steps scaled by accumulated squared gradients (Duchi et al. 2011)") {
        /// Learning rate.
        lr: f64 = 1e-2, NONNEG, log;
        /// Learning-rate decay: step `t` uses `lr / (1 + (t − 1)·lr_decay)`.
        lr_decay: f64 = 0.0, NONNEG, log;
        /// L2 penalty λ added to the gradient.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Starting value of the sum of squared gradients.
        initial_accumulator_value: f64 = 0.0, NONNEG;
        /// Added to `√s` for numerical stability.
        eps: f64 = 1e-10, NONNEG, log;
        /// Maximize the objective instead of minimizing.
        maximize: bool = false, NONE;
    }
}

/// Adagrad: see the [module docs](self).
pub type Adagrad<T> = Elementwise<AdagradConfig, T>;

/// Per-step scalars of [`AdagradConfig`].
#[derive(Debug, Clone, Copy)]
pub struct AdagradCoeffs<T> {
    neg_clr: T,
    eps: T,
    wd: T,
    maximize: bool,
}

impl Rule for AdagradConfig {
    const LOW_PRECISION_STATE: bool = true;

    super::table::config_accessors!();

    fn slot_names(&self) -> &'static [&'static str] {
        &["sum"]
    }

    fn slot_init(&self, _slot: usize) -> f64 {
        self.initial_accumulator_value
    }

    type Coeffs<T: Float> = AdagradCoeffs<T>;

    fn coeffs<T: Float>(&self, step: u64, _scalars: &mut [f64]) -> AdagradCoeffs<T> {
        // torch: clr = lr / (1 + (step - 1) * lr_decay), in Python floats.
        let clr = self.lr / (1.0 + (step as f64 - 1.0) * self.lr_decay);
        AdagradCoeffs {
            neg_clr: T::of(-clr),
            eps: T::of(self.eps),
            wd: T::of(self.weight_decay),
            maximize: self.maximize,
        }
    }

    #[inline(always)]
    fn update<T: Float>(c: &AdagradCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        adagrad_update::<T, false>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &AdagradCoeffs<T>) -> bool {
        !c.maximize && c.wd == T::zero()
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &AdagradCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        adagrad_update::<T, true>(c, p, g, s)
    }
}

/// One element of Adagrad. With `FAST`, the coefficients satisfy [`Rule::is_fast`]:
/// no `maximize`, no weight decay.
#[inline(always)]
fn adagrad_update<T: Float, const FAST: bool>(c: &AdagradCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
    let g = if FAST {
        g
    } else {
        grad_in(g, *p, c.maximize, c.wd)
    };
    s[0] = addcmul(s[0], T::one(), g, g);
    let std = s[0].sqrt() + c.eps;
    *p = addcdiv(*p, c.neg_clr, g, std);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{run, run2};
    use crate::optim::{Optimizer, Param};

    #[test]
    fn first_steps_by_hand() {
        // f = x² from 10, lr 0.1, ε 1e-10.
        // step 1: g = 20, s = 400, x = 10 − 0.1·20/(20 + 1e-10) ≈ 9.9
        // step 2: g = 2·x1 ≈ 19.8, s = 400 + 19.8² ≈ 792.04, x = x1 − 0.1·g/(√s + 1e-10) ≈ 9.8296
        let xs = run(
            AdagradConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            2,
        );
        let x1: f64 = 10.0 - 0.1 * 20.0 / (20.0 + 1e-10);
        let g2 = 2.0 * x1;
        let x2 = x1 - 0.1 * g2 / ((400.0 + g2 * g2).sqrt() + 1e-10);
        assert!((xs[0] - x1).abs() < 1e-14, "{} vs {x1}", xs[0]);
        assert!((xs[1] - x2).abs() < 1e-14, "{} vs {x2}", xs[1]);
        assert!((xs[1] - 9.82964).abs() < 1e-5, "{}", xs[1]);
    }

    #[test]
    fn ill_conditioned_bowl_moves_every_coordinate_by_lr_first() {
        // The third tutorial: f = 50·p0² + p1² from (1.5, 10), lr 1.5. Gradients 150 and 20
        // differ 7.5-fold, yet each coordinate first moves by lr·|g|/√(g²) ≈ 1.5.
        let grad = |p: [f64; 2]| [100.0 * p[0], 2.0 * p[1]];
        let xs = run2(
            AdagradConfig {
                lr: 1.5,
                ..Default::default()
            },
            [1.5, 10.0],
            grad,
            500,
        );
        assert!(xs[0][0].abs() < 1e-9, "{:?}", xs[0]);
        assert!((xs[0][1] - 8.5).abs() < 1e-9, "{:?}", xs[0]);
        let last = xs[499];
        assert!(last[0].abs() < 1e-6 && last[1].abs() < 1e-6, "{last:?}");
    }

    #[test]
    fn lr_decay_divides_the_step_by_one_plus_t_minus_one_times_decay() {
        // Constant gradient 1, lr 0.1, lr_decay 1: s_t = t, so step t moves by
        // 0.1/t · 1/√t: x = 0 − 0.1 − 0.05/√2.
        let cfg = AdagradConfig {
            lr: 0.1,
            lr_decay: 1.0,
            eps: 0.0,
            ..Default::default()
        };
        let xs = run(cfg, 0.0, |_| 1.0, 2);
        assert_eq!(xs[0], -0.1);
        assert!(
            (xs[1] - (-0.1 - 0.05 / 2f64.sqrt())).abs() < 1e-15,
            "{}",
            xs[1]
        );
    }

    #[test]
    fn initial_accumulator_value_starts_the_sum() {
        // s_0 = 3, g = 1: s_1 = 4, x = 0 − 0.1·1/2 = −0.05; the state holds 4.
        let cfg = AdagradConfig {
            lr: 0.1,
            initial_accumulator_value: 3.0,
            eps: 0.0,
            ..Default::default()
        };
        let mut opt = Adagrad::<f64>::new(cfg).unwrap();
        let mut x = [0.0];
        opt.step(&mut [Param::new("x", &mut x, &[1.0])]).unwrap();
        assert_eq!(x[0], -0.05);
        assert_eq!(opt.tensor_state("x").unwrap().slots, vec![vec![4.0]]);
    }

    #[test]
    fn weight_decay_and_maximize_by_hand() {
        // g = 2x + 0.5x = 25 at x = 10: the first step is still ≈ lr, but s = 625.
        let cfg = AdagradConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..Default::default()
        };
        let mut opt = Adagrad::<f64>::new(cfg).unwrap();
        let mut x = [10.0];
        opt.step(&mut [Param::new("x", &mut x, &[20.0])]).unwrap();
        assert!((x[0] - (10.0 - 0.1 * 25.0 / (25.0 + 1e-10))).abs() < 1e-15);
        assert_eq!(opt.tensor_state("x").unwrap().slots[0][0], 625.0);
        // maximize −x²: the gradient −2x is negated, so it descends x² exactly as before.
        let a = run(
            AdagradConfig {
                lr: 0.1,
                maximize: true,
                ..Default::default()
            },
            10.0,
            |x| -2.0 * x,
            20,
        );
        let b = run(
            AdagradConfig {
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
            AdagradConfig {
                lr: 1.5,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            200,
        );
        assert!(xs[199].abs() < 1e-3, "{}", xs[199]);
        // Rosenbrock (1 − x)² + 100(y − x²)² from (−1.2, 1), lr 1: the shrinking steps still
        // get within 0.02 of (1, 1) in 5000 steps (torch 2.15: (0.99175, 0.98353)).
        let rosen = |p: [f64; 2]| {
            let (x, y) = (p[0], p[1]);
            [
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ]
        };
        let xs = run2(
            AdagradConfig {
                lr: 1.0,
                ..Default::default()
            },
            [-1.2, 1.0],
            rosen,
            5000,
        );
        let last = xs[4999];
        assert!(
            (last[0] - 1.0).abs() < 0.02 && (last[1] - 1.0).abs() < 0.02,
            "{last:?}"
        );
    }

    /// torch 2.15.0, float64, single-tensor path (`foreach=False`):
    /// ```text
    /// p = torch.tensor([1.5, -0.75], dtype=torch.float64, requires_grad=True)
    /// opt = torch.optim.Adagrad([p], foreach=False, **settings)
    /// for _ in range(5):
    ///     x0, x1 = p.tolist()
    ///     p.grad = torch.tensor([2*x0 - 1, 3*x1*x1*x1 + 0.5], dtype=torch.float64)
    ///     opt.step(); print(p.tolist())
    /// ```
    const TORCH: &[(&str, &[[f64; 2]])] = &[
        (
            "adagrad(lr=0.1)",
            &[[1.400000000005, -0.6500000000130612], [1.3331035268450357, -0.6110404157067213], [1.2804561813568096, -0.5893812136145686], [1.23622313266101, -0.5760889128549977], [1.1977148620543532, -0.567556481170373]],
        ),
        (
            "adagrad(lr=0.1, lr_decay=0.1, weight_decay=0.2, initial_accumulator_value=0.5, eps=1e-3)",
            &[[1.404454969143564, -0.6709222242572128], [1.3448630280763272, -0.632489041480312], [1.3012412906341342, -0.6084165390850625], [1.2669616100670782, -0.5916907804620946], [1.2388792768653827, -0.5793541276258528]],
        ),
        (
            "adagrad(lr=0.1, maximize=true)",
            &[[1.599999999995, -0.8499999999869388], [1.6739940073319537, -0.93686460460666], [1.7359700456357001, -1.01549755646973], [1.7906146902994808, -1.0881099275433783], [1.8401747104697614, -1.1560113581897578]],
        ),
    ];

    #[test]
    fn matches_torch() {
        // torch's AVX2 CPU kernels compute `s + g·g` with an FMA where gradus rounds
        // twice, so an ulp may differ; these cases happen to agree bit for bit.
        let grad = |x: [f64; 2]| [2.0 * x[0] - 1.0, 3.0 * x[1] * x[1] * x[1] + 0.5];
        for (spec, want) in TORCH {
            let cfg = AdagradConfig::from_call(&crate::spec::parse(spec).unwrap()).unwrap();
            let got = run2(cfg, [1.5, -0.75], grad, want.len());
            for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
                assert!((g - w).abs() <= 1e-14 * w.abs(), "{spec}: {g} vs {w}");
            }
        }
    }
}
