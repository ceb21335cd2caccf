//! Schedule-Free AdamW: Adam's second-moment normalization inside the Schedule-Free
//! average, with no learning-rate schedule to tune.
//!
//! # Update rule (`schedulefree.AdamWScheduleFree` 1.4.1)
//! With `g_t` the gradient at the parameters `y`, β1, β2 = `betas`, and `lr_t`, `c_t`
//! the warmed-up learning rate and averaging weight of the [shared
//! scheme](super::schedule_free):
//!
//! ```text
//! v_t = β2·v_{t−1} + (1 − β2)·g_t²                  (state exp_avg_sq)
//! d_t = g_t / (√(v_t / (1 − β2ᵗ)) + ε) + λ·y        normalized gradient, decay at y
//! y   ← lerp(y, z, c_t) + lr_t·(β1·(1 − c_t) − 1)·d_t
//! z   ← z − lr_t·d_t                                (state z, starts as y)
//! ```
//!
//! The evaluation point is `x = lerp(y, z, 1 − 1/β1)`, read with
//! [`Optimizer::eval_params`](super::Optimizer::eval_params): train at the parameters,
//! evaluate (and report) at `x`.
//!
//! Defaults, as the reference: `lr=0.0025, betas=(0.9, 0.999), eps=1e-8,
//! weight_decay=0, warmup_steps=0, r=0, weight_lr_power=2`.
//!
//! # Where the reference and the papers differ
//! * There is no first moment: β1 is the interpolation weight of `y`, which plays
//!   the role of momentum. The second moment is bias-corrected; nothing else is.
//! * Weight decay is added to the normalized direction at `y` (the reference's
//!   "weight decay calculated at y"), so `z` and `x` decay through it.
//! * β1 must be positive here (the evaluation point divides by it); the reference
//!   accepts 0 and then returns NaN from `eval()`.
//!
//! # Reference
//! Defazio et al., *The Road Less Scheduled*, NeurIPS 2024 (arXiv:2405.15682);
//! Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019.
//!
//! ```
//! use gradus::optim::{Optimizer, Param, ScheduleFreeAdamW, ScheduleFreeAdamWConfig};
//! let cfg = ScheduleFreeAdamWConfig { lr: 0.1, ..Default::default() };
//! let mut opt = ScheduleFreeAdamW::<f64>::new(cfg).unwrap();
//! let mut y = vec![3.0, -2.0];
//! for _ in 0..300 {
//!     let g: Vec<f64> = y.iter().map(|v| 2.0 * v).collect(); // f = |θ|²
//!     opt.step(&mut [Param::new("w", &mut y, &g)]).unwrap();
//! }
//! let mut x = vec![0.0; 2];
//! assert!(opt.eval_params("w", &y, &mut x).unwrap()); // x is where to evaluate
//! // From (3, −2), both points are near the minimum at 0 after 300 steps.
//! assert!(x.iter().chain(&y).all(|v| v.abs() < 0.1));
//! ```

use super::blocks::ema_sq;
use super::engine::{Elementwise, Rule};
use super::schedule_free::{eval_point, Averaging, Interpolation, SCALARS};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::spec::fmt_value;

crate::hyperparameters! {
    /// Hyperparameters of [`ScheduleFreeAdamW`], with the reference's names and defaults.
    #[derive(Copy)]
    pub struct ScheduleFreeAdamWConfig("schedule_free_adamw", "Schedule-Free AdamW: interpolation and averaging instead of a schedule (Defazio et al. 2024)") {
        /// Learning rate (the peak, reached after the warmup).
        lr: f64 = 0.0025, NONNEG, log;
        /// (β1, β2): the interpolation weight of y (the momentum) and the decay of the second moment.
        betas: (f64, f64) = (0.9, 0.999), UNIT_OPEN;
        /// Added to the denominator, outside the square root.
        eps: f64 = 1e-8, NONNEG, log;
        /// Weight decay λ, added to the normalized gradient at y.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Steps of linear learning-rate warmup (0: none).
        warmup_steps: u64 = 0, NONNEG;
        /// Power r of the polynomial weighting t^r of the average.
        r: f64 = 0.0, FINITE;
        /// The average weighs step t by lr_max^weight_lr_power (0: no lr weighting).
        weight_lr_power: f64 = 2.0, NONNEG;
    }
    check = check_beta1;
}

/// β1 divides the evaluation point's weight `1 − 1/β1`.
fn check_beta1(c: &ScheduleFreeAdamWConfig, owner: &str) -> Result<()> {
    if c.betas.0 > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            owner,
            "betas[0]",
            fmt_value(c.betas.0),
            "a number in (0, 1) (the evaluation point x = lerp(y, z, 1 - 1/beta1) divides by it)",
        ))
    }
}

/// Schedule-Free AdamW: see the [module docs](self).
pub type ScheduleFreeAdamW<T> = Elementwise<ScheduleFreeAdamWConfig, T>;

/// Per-step scalars of Schedule-Free AdamW.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleFreeAdamWCoeffs<T> {
    step: Interpolation<T>,
    beta2: T,
    one_minus_beta2: T,
    bias_correction2: T,
    eps: T,
}

impl Rule for ScheduleFreeAdamWConfig {
    super::table::config_accessors!();

    fn slot_names(&self) -> &'static [&'static str] {
        &["z", "exp_avg_sq"]
    }

    fn scalar_init(&self) -> Vec<f64> {
        SCALARS.to_vec()
    }

    type Coeffs<T: Float> = ScheduleFreeAdamWCoeffs<T>;

    fn coeffs<T: Float>(&self, step: u64, scalars: &mut [f64]) -> ScheduleFreeAdamWCoeffs<T> {
        let (beta1, beta2) = self.betas;
        let w = Averaging {
            lr: self.lr,
            warmup_steps: self.warmup_steps,
            r: self.r,
            weight_lr_power: self.weight_lr_power,
        }
        .weights(step, scalars);
        ScheduleFreeAdamWCoeffs {
            step: Interpolation::new(w, beta1, self.weight_decay, step),
            beta2: T::of(beta2),
            one_minus_beta2: T::of(1.0 - beta2),
            bias_correction2: T::of(super::blocks::bias_correction(beta2, step)),
            eps: T::of(self.eps),
        }
    }

    #[inline(always)]
    fn update<T: Float>(c: &ScheduleFreeAdamWCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        let (z, v) = s.split_at_mut(1);
        if c.step.first {
            z[0] = *p;
        }
        v[0] = ema_sq(v[0], g, c.beta2, c.one_minus_beta2);
        let denom = (v[0] / c.bias_correction2).sqrt() + c.eps;
        c.step.apply(p, &mut z[0], g / denom);
    }

    fn eval_params<T: Float>(&self, value: &[T], slots: &[Vec<T>], out: &mut [T]) -> bool {
        eval_point(value, slots.first().map(Vec::as_slice), self.betas.0, out);
        true
    }
}
