//! Schedule-Free SGD: gradient steps on `z`, their weighted average `x` to evaluate,
//! and gradients taken at the interpolation `y`; no learning-rate schedule.
//!
//! # Update rule (`schedulefree.SGDScheduleFree` 1.4.1)
//! With `g_t` the gradient at the parameters `y`, β = `momentum`, and `lr_t`, `c_t`
//! the warmed-up learning rate and averaging weight of the [shared
//! scheme](super::schedule_free):
//!
//! ```text
//! d_t = g_t + λ·y                                   (weight decay at y)
//! y   ← lerp(y, z, c_t) + lr_t·(β·(1 − c_t) − 1)·d_t
//! z   ← z − lr_t·d_t                                (state z, starts as y)
//! ```
//!
//! The evaluation point is `x = lerp(y, z, 1 − 1/β)`, read with
//! [`Optimizer::eval_params`](super::Optimizer::eval_params).
//!
//! Defaults, as the reference: `lr=1.0, momentum=0.9, weight_decay=0,
//! warmup_steps=0, r=0, weight_lr_power=2`. The reference's `lr=1.0` suits its
//! intended use with large warmups on deep networks; on small problems start near
//! the lr plain SGD with momentum would use.
//!
//! # Reference
//! Defazio et al., *The Road Less Scheduled*, NeurIPS 2024 (arXiv:2405.15682).
//!
//! ```
//! use gradus::optim::{Optimizer, Param, ScheduleFreeSgd, ScheduleFreeSgdConfig};
//! let cfg = ScheduleFreeSgdConfig { lr: 0.1, ..Default::default() };
//! let mut opt = ScheduleFreeSgd::<f64>::new(cfg).unwrap();
//! let mut y = vec![3.0, -2.0];
//! for _ in 0..200 {
//!     let g: Vec<f64> = y.iter().map(|v| 2.0 * v).collect(); // f = |θ|²
//!     opt.step(&mut [Param::new("w", &mut y, &g)]).unwrap();
//! }
//! let mut x = vec![0.0; 2];
//! assert!(opt.eval_params("w", &y, &mut x).unwrap());
//! assert!(x.iter().all(|v| v.abs() < 0.05));
//! ```

use super::engine::{Elementwise, Rule};
use super::schedule_free::{eval_point, Averaging, Interpolation, SCALARS};
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`ScheduleFreeSgd`], with the reference's names and defaults.
    #[derive(Copy)]
    pub struct ScheduleFreeSgdConfig("schedule_free_sgd", "Schedule-Free SGD: interpolation and averaging instead of a schedule (Defazio et al. 2024)") {
        /// Learning rate (the peak, reached after the warmup).
        lr: f64 = 1.0, NONNEG, log;
        /// Interpolation weight β of y between z and the average x (the momentum).
        momentum: f64 = 0.9, OPEN_UNIT;
        /// Weight decay λ, added to the gradient at y.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Steps of linear learning-rate warmup (0: none).
        warmup_steps: u64 = 0, NONNEG;
        /// Power r of the polynomial weighting t^r of the average.
        r: f64 = 0.0, FINITE;
        /// The average weighs step t by lr_max^weight_lr_power (0: no lr weighting).
        weight_lr_power: f64 = 2.0, NONNEG;
    }
}

/// Schedule-Free SGD: see the [module docs](self).
pub type ScheduleFreeSgd<T> = Elementwise<ScheduleFreeSgdConfig, T>;

impl Rule for ScheduleFreeSgdConfig {
    super::table::config_accessors!();

    fn slot_names(&self) -> &'static [&'static str] {
        &["z"]
    }

    fn scalar_init(&self) -> Vec<f64> {
        SCALARS.to_vec()
    }

    type Coeffs<T: Float> = Interpolation<T>;

    fn coeffs<T: Float>(&self, step: u64, scalars: &mut [f64]) -> Interpolation<T> {
        let w = Averaging {
            lr: self.lr,
            warmup_steps: self.warmup_steps,
            r: self.r,
            weight_lr_power: self.weight_lr_power,
        }
        .weights(step, scalars);
        Interpolation::new(w, self.momentum, self.weight_decay, step)
    }

    #[inline(always)]
    fn update<T: Float>(c: &Interpolation<T>, p: &mut T, g: T, s: &mut [T]) {
        if c.first {
            s[0] = *p;
        }
        c.apply(p, &mut s[0], g);
    }

    fn eval_params<T: Float>(&self, value: &[T], slots: &[Vec<T>], out: &mut [T]) -> bool {
        eval_point(value, slots.first().map(Vec::as_slice), self.momentum, out);
        true
    }
}
