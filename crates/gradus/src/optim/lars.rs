//! LARS: momentum SGD whose gradient is scaled per matrix by a trust ratio
//! `η·‖w‖/(‖g‖ + λ·‖w‖)` (pytorch-optimizer's `LARS`).
//!
//! # Update rule
//! Per tensor `w` with gradient `g` (negated when `maximize`):
//!
//! ```text
//! if w has two or more axes:
//!     r = η·‖w‖ / (‖g‖ + λ·‖w‖)     (1 when ‖w‖ = 0 or the denominator is 0)
//!     g ← r·(g + λ·w)
//! b ← μ·b + (1 − τ)·g                (momentum μ > 0, dampening τ; b starts at 0)
//! d = g + μ·b  if nesterov  else  b  (d = g when μ = 0)
//! w ← w − lr·d
//! ```
//! Vectors (biases, norms' scales) take plain momentum-SGD steps, without decay or
//! trust ratio, as in the reference.
//!
//! Defaults: `lr=1e-3, weight_decay=0, momentum=0.9, dampening=0,
//! trust_coefficient=1e-3, nesterov=false, maximize=false`, as pytorch-optimizer.
//!
//! # Reference
//! You, Gitman & Ginsburg, *Large Batch Training of Convolutional Networks*, 2017.
//! Checked against pytorch-optimizer 4.1.0.
//!
//! # Where the reference differs from torch's SGD (gradus follows the reference)
//! * The momentum buffer starts at zero, so the first step is `(1 − τ)·g`, not `g`.
//! * Nesterov momentum is allowed with dampening.
//! * A tensor's number of axes decides whether it is scaled: give matrices their shape
//!   ([`Param::with_shape`](crate::optim::Param::with_shape)); a flat `Param::new` is a vector.
//!
//! # Keys not taken
//! `foreach` (batched kernels; gradus computes the reference's default CPU path, the
//! batched one).
//!
//! ```
//! use gradus::optim::{self, Param};
//! let mut opt = optim::build::<f64>("lars(lr=1.0, momentum=0.0, trust_coefficient=0.1)").unwrap();
//! let mut w = vec![3.0, 4.0];
//! let g = vec![6.0, 8.0];
//! opt.step(&mut [Param::with_shape("w", &mut w, &g, &[1, 2])]).unwrap();
//! // ‖w‖ = 5, ‖g‖ = 10: r = 0.05, so w ← w − 0.05·g = 0.9·w
//! assert!((w[0] - 2.7).abs() < 1e-12 && (w[1] - 3.6).abs() < 1e-12);
//! ```

use super::tensorwise::{TensorRule, TensorStep};
use crate::error::Result;
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Lars`], with pytorch-optimizer's names and defaults.
    pub struct LarsConfig("lars", "LARS: momentum SGD with each matrix's gradient scaled by the trust ratio η‖w‖/‖g‖, for large batches (You, Gitman & Ginsburg 2017)") {
        /// Learning rate.
        lr: f64 = 1e-3, NONNEG, log;
        /// Weight decay λ (matrices only).
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Momentum factor μ.
        momentum: f64 = 0.9, UNIT_OPEN;
        /// Dampening τ of the gradient added to the buffer.
        dampening: f64 = 0.0, UNIT_OPEN;
        /// Trust coefficient η.
        trust_coefficient: f64 = 1e-3, NONNEG, log;
        /// Use Nesterov momentum.
        nesterov: bool = false, NONE;
        /// Maximize the objective instead of minimizing it.
        maximize: bool = false, NONE;
    }
}

/// LARS: see the [module docs](self).
pub type Lars<T> = super::tensorwise::PerTensor<LarsConfig, T>;

impl TensorRule for LarsConfig {
    super::table::config_accessors!();

    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }

    fn set_momentum(&mut self, m: f64) -> Result<()> {
        self.momentum = m;
        Ok(())
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum_buffer"]
    }

    fn slot_shapes(&self, _name: &str, shape: &[usize]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![shape.to_vec()])
    }

    fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, _globals: &[f64]) {
        let sign = T::of(if self.maximize { -1.0 } else { 1.0 });
        let wd = T::of(self.weight_decay);
        // The trust ratio of a tensor with two or more axes (None: a vector).
        let ratio = (t.shape.len() > 1).then(|| {
            let (mut wn, mut gn) = (0.0, 0.0);
            for (w, g) in t.value.iter().zip(t.grad) {
                wn += w.f64() * w.f64();
                gn += g.f64() * g.f64();
            }
            let (wn, gn) = (wn.sqrt(), gn.sqrt());
            let denominator = gn + self.weight_decay * wn;
            T::of(if wn > 0.0 && denominator > 0.0 {
                self.trust_coefficient * wn / denominator
            } else {
                1.0
            })
        });
        let mu = T::of(self.momentum);
        let one_minus_dampening = T::of(1.0 - self.dampening);
        let neg_lr = T::of(-self.lr);
        let buf = &mut t.slots[0];
        for ((w, g), b) in t.value.iter_mut().zip(t.grad).zip(buf.iter_mut()) {
            let mut d = *g * sign;
            if let Some(r) = ratio {
                d = (d + wd * *w) * r;
            }
            if self.momentum > 0.0 {
                *b = *b * mu + one_minus_dampening * d;
                d = if self.nesterov { d + mu * *b } else { *b };
            }
            *w = *w + neg_lr * d;
        }
    }
}
