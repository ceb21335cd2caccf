//! NAdam: Adam with Nesterov momentum and a momentum-decay schedule.
//!
//! # Update rule (torch.optim.NAdam)
//! With `g_t = ∇f(θ_{t−1})` (negated when `maximize`) and `ψ = momentum_decay`:
//!
//! ```text
//! θ ← θ·(1 − lr·λ)                      decoupled weight decay (NAdamW), or
//! g ← g + λ·θ                           L2 weight decay (the default)
//! μ_t = β1·(1 − ½·0.96^(t·ψ))           momentum schedule
//! π_t = μ_1·μ_2·…·μ_t                   (torch's mu_product)
//! m_t = β1·m_{t−1} + (1 − β1)·g_t       (computed as torch.lerp(m, g, 1 − β1))
//! v_t = β2·v_{t−1} + (1 − β2)·g_t²
//! d_t = √(v_t / (1 − β2ᵗ)) + ε
//! θ_t = θ_{t−1} − lr·(1 − μ_t)/(1 − π_t) · g_t/d_t
//!               − lr·μ_{t+1}/(1 − π_t·μ_{t+1}) · m_t/d_t
//! ```
//!
//! The two terms are the Nesterov look-ahead: the current gradient with the weight
//! of this step's momentum, plus the first moment with the weight of the next step's,
//! each bias-corrected by the product of the momenta used so far.
//!
//! Defaults: `lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
//! momentum_decay=4e-3, decoupled_weight_decay=false, maximize=false`, as torch.
//!
//! # Reference
//! Dozat, *Incorporating Nesterov Momentum into Adam*, ICLR 2016 workshop (Algorithm 2,
//! with the schedule `μ_t = β1·(1 − ½·0.96^(t/250))`, that is `ψ = 0.004`).
//! Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019 (the
//! decoupled decay).
//!
//! # Where torch and the tutorials differ
//! * The momentum schedule makes μ_t start near β1/2 (0.45) and rise towards β1 over
//!   thousands of steps, so early NAdam steps weigh the raw gradient far more than
//!   Adam does; with `momentum_decay=0` μ stays at β1/2, not β1.
//! * torch keeps the product π_t in a `float32` tensor (its scalar dtype unless the
//!   default dtype is `float64`) and rounds it to `float32` after every multiply, even
//!   for `float64` parameters; gradus does the same so that `float64` runs match torch
//!   to the last bits. The rounding is below 1e-7 relative.
//! * The fourth tutorial's Nadam divides by the first moment instead of the second
//!   moment; gradus implements Dozat's (and torch's) form.
//! * ε is added to `√(v/(1 − β2ᵗ))`, outside the square root, as in torch; the tutorials
//!   put it inside.
//!
//! ```
//! use gradus::optim::{NAdam, NAdamConfig, Optimizer, Param};
//! // f(x) = x² from 10 with lr 0.1: the first step has length ≈ lr.
//! let mut opt = NAdam::<f64>::new(NAdamConfig { lr: 0.1, ..Default::default() }).unwrap();
//! let mut x = [10.0];
//! for _ in 0..500 {
//!     let g = [2.0 * x[0]];
//!     opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//! }
//! assert!(x[0].abs() < 1e-4);
//! ```

use super::blocks::{addcdiv, bias_correction, ema_sq, grad_in, lerp, lerp_small};
use super::engine::{Elementwise, Rule};
use crate::error::Result;
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`NAdam`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct NAdamConfig("nadam", "Adam with Nesterov momentum and momentum decay (Dozat 2016)") {
        /// Learning rate.
        lr: f64 = 2e-3, NONNEG, log;
        /// Decay rates (β1, β2) of the first and second moments).
        betas: (f64, f64) = (0.9, 0.999), UNIT_OPEN;
        /// Added to the denominator for numerical stability.
        eps: f64 = 1e-8, NONNEG, log;
        /// Weight decay λ: L2, or decoupled when `decoupled_weight_decay`.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// ψ of the momentum schedule `μ_t = β1·(1 − ½·0.96^(t·ψ))`.
        momentum_decay: f64 = 4e-3, NONNEG;
        /// Decay the weights directly, as AdamW.
        decoupled_weight_decay: bool = false, NONE;
        /// Maximize the objective.
        maximize: bool = false, NONE;
    }
}

/// NAdam: see the [module docs](self).
pub type NAdam<T> = Elementwise<NAdamConfig, T>;

/// Per-step scalars of [`NAdamConfig`].
#[derive(Debug, Clone, Copy)]
pub struct NAdamCoeffs<T> {
    decay: T,
    l2: T,
    beta2: T,
    one_minus_beta1: T,
    one_minus_beta2: T,
    bc2: T,
    eps: T,
    grad_step: T,
    avg_step: T,
    decoupled: bool,
    maximize: bool,
}

impl Rule for NAdamConfig {
    const LOW_PRECISION_STATE: bool = true;

    super::table::config_accessors!(momentum = betas.0);

    fn slot_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    /// `mu_product`, the running product π of the momenta, starting at 1.
    fn scalar_init(&self) -> Vec<f64> {
        vec![1.0]
    }

    type Coeffs<T: Float> = NAdamCoeffs<T>;

    fn coeffs<T: Float>(&self, step: u64, scalars: &mut [f64]) -> NAdamCoeffs<T> {
        let (beta1, beta2) = self.betas;
        let t = step as f64;
        let lr = self.lr;
        let mu = beta1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = beta1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        // torch: `mu_product *= mu` on a float32 tensor, i.e. both factors rounded to
        // float32 and the product rounded to float32 (exact in f64, then rounded).
        let prev = scalars.first().copied().unwrap_or(1.0);
        let mu_product = ((prev as f32) * (mu as f32)) as f64;
        if let Some(s) = scalars.first_mut() {
            *s = mu_product;
        }
        let mu_product_next = mu_product * mu_next;
        NAdamCoeffs {
            decay: T::of(1.0 - lr * self.weight_decay),
            l2: if self.decoupled_weight_decay {
                T::zero()
            } else {
                T::of(self.weight_decay)
            },
            beta2: T::of(beta2),
            one_minus_beta1: T::of(1.0 - beta1),
            one_minus_beta2: T::of(1.0 - beta2),
            bc2: T::of(bias_correction(beta2, step)),
            eps: T::of(self.eps),
            grad_step: T::of(-lr * (1.0 - mu) / (1.0 - mu_product)),
            avg_step: T::of(-lr * mu_next / (1.0 - mu_product_next)),
            decoupled: self.decoupled_weight_decay && self.weight_decay != 0.0,
            maximize: self.maximize,
        }
    }

    #[inline(always)]
    fn update<T: Float>(c: &NAdamCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        nadam_update::<T, false>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &NAdamCoeffs<T>) -> bool {
        !c.maximize && c.l2 == T::zero() && !c.decoupled && c.one_minus_beta1.abs() < T::of(0.5)
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &NAdamCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        nadam_update::<T, true>(c, p, g, s)
    }
}

/// One element of NAdam. With `FAST`, the coefficients satisfy [`Rule::is_fast`]:
/// no `maximize`, no weight decay of either kind, β1 > 0.5 (the first form of
/// `lerp`).
#[inline(always)]
fn nadam_update<T: Float, const FAST: bool>(c: &NAdamCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
    if !FAST && c.decoupled {
        *p = *p * c.decay;
    }
    let g = if FAST {
        g
    } else {
        grad_in(g, *p, c.maximize, c.l2)
    };
    s[0] = if FAST {
        lerp_small(s[0], g, c.one_minus_beta1)
    } else {
        lerp(s[0], g, c.one_minus_beta1)
    };
    s[1] = ema_sq(s[1], g, c.beta2, c.one_minus_beta2);
    let denom = (s[1] / c.bc2).sqrt() + c.eps;
    *p = addcdiv(*p, c.grad_step, g, denom);
    *p = addcdiv(*p, c.avg_step, s[0], denom);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::{run, run2};
    use crate::optim::{AdamConfig, Optimizer, Param};

    /// μ_t of the default schedule, and π rounded through f32 as torch keeps it.
    fn mu(t: f64) -> f64 {
        0.9 * (1.0 - 0.5 * 0.96f64.powf(t * 4e-3))
    }

    #[test]
    fn first_step_by_hand() {
        // f = x² from 10, lr 0.1. g = 20, m = 0.1·20 = 2, v = 0.001·400 = 0.4,
        // d = √(0.4/0.001) + ε = 20 + 1e-8.
        // μ1 = 0.9·(1 − ½·0.96^0.004) ≈ 0.450073, π1 = μ1 (in f32), μ2 ≈ 0.450147.
        // x = 10 − 0.1·(1 − μ1)/(1 − π1)·20/d − 0.1·μ2/(1 − π1·μ2)·2/d
        //   ≈ 10 − 0.1·1.0000·1 − 0.1·0.5656·0.1 ≈ 9.89435
        let xs = run(
            NAdamConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            1,
        );
        let (mu1, mu2) = (mu(1.0), mu(2.0));
        let pi1 = mu1 as f32 as f64;
        let d = 20.0 + 1e-8;
        let want = 10.0
            - 0.1 * (1.0 - mu1) / (1.0 - pi1) * 20.0 / d
            - 0.1 * mu2 / (1.0 - pi1 * mu2) * 2.0 / d;
        assert!((xs[0] - want).abs() < 1e-14, "{} vs {want}", xs[0]);
        assert!((xs[0] - 9.89435).abs() < 1e-5, "{}", xs[0]);
    }

    #[test]
    fn mu_product_is_kept_in_f32_like_torch() {
        let mut opt = NAdam::<f64>::new(NAdamConfig::default()).unwrap();
        let mut x = [1.0];
        for _ in 0..3 {
            opt.step(&mut [Param::new("x", &mut x, &[0.5])]).unwrap();
        }
        let mut pi = 1.0f32;
        for t in 1..=3 {
            pi *= mu(t as f64) as f32;
        }
        assert_eq!(opt.tensor_state("x").unwrap().scalars, vec![pi as f64]);
        // The state round-trips through a checkpoint and the run continues identically.
        let mut other = NAdam::<f64>::new(NAdamConfig::default()).unwrap();
        other.load_state(opt.state()).unwrap();
        let (mut a, mut b) = (x, x);
        opt.step(&mut [Param::new("x", &mut a, &[0.25])]).unwrap();
        other.step(&mut [Param::new("x", &mut b, &[0.25])]).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn decoupled_weight_decay_with_zero_decay_equals_plain() {
        let f = |x: f64| 4.0 * x * x * x - 3.0;
        let a = run(
            NAdamConfig {
                lr: 0.01,
                ..Default::default()
            },
            2.0,
            f,
            100,
        );
        let b = run(
            NAdamConfig {
                lr: 0.01,
                decoupled_weight_decay: true,
                ..Default::default()
            },
            2.0,
            f,
            100,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn weight_decay_l2_and_decoupled_by_hand() {
        // Zero gradient: the moments only see the L2 term.
        // L2, λ 0.5, at x = 10: g = 5, so the step is ≈ lr like a gradient of 5.
        // Decoupled: g = 0, so the moments stay 0 and only x·(1 − lr·λ) acts: 9.95.
        let l2 = run(
            NAdamConfig {
                lr: 0.1,
                weight_decay: 0.5,
                ..Default::default()
            },
            10.0,
            |_| 0.0,
            1,
        );
        let plain = run(
            NAdamConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |_| 5.0,
            1,
        );
        assert_eq!(l2, plain);
        let cfg = NAdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            decoupled_weight_decay: true,
            ..Default::default()
        };
        assert_eq!(run(cfg, 10.0, |_| 0.0, 1), vec![10.0 * (1.0 - 0.05)]);
    }

    #[test]
    fn maximize_negates_the_gradient() {
        let a = run(
            NAdamConfig {
                lr: 0.1,
                maximize: true,
                ..Default::default()
            },
            10.0,
            |x| -2.0 * x,
            20,
        );
        let b = run(
            NAdamConfig {
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
    fn momentum_decay_changes_the_schedule() {
        // With ψ = 0 every μ_t = β1·(1 − ½) = 0.45 and the run differs from the default.
        let a = run(
            NAdamConfig {
                lr: 0.1,
                momentum_decay: 0.0,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            3,
        );
        let b = run(
            NAdamConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            3,
        );
        assert_ne!(a, b);
        // Steps of 0.1 from 10 in both cases, to within the schedule's effect.
        assert!((a[0] - b[0]).abs() < 1e-4 && (a[0] - b[0]).abs() > 0.0);
    }

    #[test]
    fn first_step_is_close_to_adams() {
        // Both move by ≈ lr on the first step (bias correction makes |m̂/√v̂| = 1);
        // NAdam's look-ahead does not change that.
        let n = run(
            NAdamConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            1,
        )[0];
        let a = run(
            AdamConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            1,
        )[0];
        assert!((n - a).abs() < 0.01, "{n} vs {a}");
    }

    #[test]
    fn converges_on_the_parabola_and_rosenbrock() {
        let xs = run(
            NAdamConfig {
                lr: 0.1,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            500,
        );
        assert!(xs[499].abs() < 1e-4, "{}", xs[499]);
        // Rosenbrock from (−1.2, 1), lr 0.01, 5000 steps (torch 2.15: (0.99857, 0.99713)).
        let rosen = |p: [f64; 2]| {
            let (x, y) = (p[0], p[1]);
            [
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ]
        };
        let last = run2(
            NAdamConfig {
                lr: 0.01,
                ..Default::default()
            },
            [-1.2, 1.0],
            rosen,
            5000,
        )[4999];
        assert!(
            (last[0] - 1.0).abs() < 0.01 && (last[1] - 1.0).abs() < 0.01,
            "{last:?}"
        );
    }

    /// torch 2.15.0, float64 parameters, default dtype float32 (so `mu_product` is a
    /// float32 tensor), single-tensor path (`foreach=False`):
    /// ```text
    /// p = torch.tensor([1.5, -0.75], dtype=torch.float64, requires_grad=True)
    /// opt = torch.optim.NAdam([p], foreach=False, **settings)
    /// for _ in range(5):
    ///     x0, x1 = p.tolist()
    ///     p.grad = torch.tensor([2*x0 - 1, 3*x1*x1*x1 + 0.5], dtype=torch.float64)
    ///     opt.step(); print(p.tolist())
    /// ```
    const TORCH: &[(&str, &[[f64; 2]])] = &[
        (
            "nadam",
            &[
                [1.4978870964278947, -0.7478870964449276],
                [1.4963211967503882, -0.7463295041999033],
                [1.494858914486896, -0.7448793891953827],
                [1.4933996490561523, -0.7434361774695386],
                [1.491911249114925, -0.7419681693639167],
            ],
        ),
        (
            "nadam(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, momentum_decay=0.01)",
            &[
                [1.4890466193312035, -0.7390466194105582],
                [1.480402381837028, -0.7306058350730393],
                [1.472046466968195, -0.7225638191511229],
                [1.463581329880094, -0.7145284893879775],
                [1.4549201073039244, -0.7064262253252799],
            ],
        ),
        (
            "nadam(lr=0.01, weight_decay=0.1, decoupled_weight_decay=true, maximize=true)",
            &[
                [1.5090645178605253, -0.7598145177753624],
                [1.5154235340654783, -0.7671083901151234],
                [1.521274349097116, -0.7739754960053615],
                [1.5271204693096518, -0.7809181237193364],
                [1.53312471402187, -0.788107645500834],
            ],
        ),
    ];

    #[test]
    fn matches_torch() {
        // torch's AVX2 CPU kernels compute the lerp and `v·β2 + ((1 − β2)·g)·g` with
        // FMAs where gradus rounds twice, so an ulp may differ; these cases happen to
        // agree bit for bit (given the float32 mu_product).
        let grad = |x: [f64; 2]| [2.0 * x[0] - 1.0, 3.0 * x[1] * x[1] * x[1] + 0.5];
        for (spec, want) in TORCH {
            let cfg = NAdamConfig::from_call(&crate::spec::parse(spec).unwrap()).unwrap();
            let got = run2(cfg, [1.5, -0.75], grad, want.len());
            for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
                assert!((g - w).abs() <= 1e-14 * w.abs(), "{spec}: {g} vs {w}");
            }
        }
    }
}
