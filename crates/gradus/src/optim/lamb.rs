//! LAMB: Adam's update scaled per tensor by a trust ratio `‖w‖/‖update‖`
//! (pytorch-optimizer's `Lamb`).
//!
//! # Update rule
//! Per tensor `w` with gradient `g` (negated when `maximize`; times the global scale
//! `c` when `pre_norm`), at step `t`:
//!
//! ```text
//! w ← w·(1 − λ·lr)        (weight_decouple; 1 − λ with fixed_decay)
//! m ← β₁·m + β₃·g         β₃ = 1 − β₁ with grad_averaging, else 1
//! v ← β₂·v + (1 − β₂)·g²
//! u = m / (√v + ε)  (+ λ·w without weight_decouple)
//! r = min(‖w‖, 10) / (‖u‖ + ε)   (1 when either norm is 0; 1 with adam=true)
//! w ← w − lr/(1 − β₁ᵗ) · r·u
//! ```
//! With `pre_norm`, `c = min(max_grad_norm / (‖g‖ + ε), 1)` over all tensors (1 when
//! `max_grad_norm = 0`). With `rectify`, the step follows RAdam's rectification: with
//! `ρ∞ = 2/(1 − β₂) − 1` and `ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)`, the step size is
//! `lr·rₜ/(1 − β₁ᵗ)` where `rₜ = √((1 − β₂ᵗ)(ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))`
//! when `ρₜ ≥ n_sma_threshold`, `1` below it with `degenerated_to_sgd` (then `u = m`),
//! and no step at all (only the decay) otherwise; the trust ratio is then
//! `min(‖w‖, 10)/(‖w − step·u‖ + ε)`.
//!
//! Defaults: `lr=1e-3, betas=(0.9, 0.999), weight_decay=0, weight_decouple=true,
//! fixed_decay=false, rectify=false, degenerated_to_sgd=false, n_sma_threshold=5,
//! grad_averaging=true, max_grad_norm=1, adam=false, pre_norm=false, eps=1e-6,
//! maximize=false`, as pytorch-optimizer.
//!
//! # References
//! You et al., *Large Batch Optimization for Deep Learning: Training BERT in 76
//! minutes*, ICLR 2020 (LAMB); Liu et al., *On the Variance of the Adaptive Learning
//! Rate and Beyond*, ICLR 2020 (rectification). Checked against pytorch-optimizer 4.1.0.
//!
//! # Where the reference differs from the paper (gradus follows the reference)
//! * The first moment is bias-corrected through the step size, the second is not.
//! * The weight norm is clamped to 10; ε is added to the update norm too.
//! * The decay is applied to the weights before their norm is taken.
//! * With `rectify`, coupled decay (`weight_decouple=false`) is not applied at all, and
//!   the trust ratio divides by the norm of the updated weights, not of the update.
//! * `pre_norm`'s global norm is computed in float32 (each tensor's norm rounded to
//!   float32, squares summed in float32, `sqrt`, `+ ε`, `max_grad_norm/·`), even for
//!   float64 weights; gradus rounds the same way (torch's float32 `sqrt` is not always
//!   correctly rounded, so the scale may differ by one float32 unit: see `sam`).
//!
//! # Keys not taken
//! `foreach` (batched kernels; gradus computes the reference's default CPU path: the
//! batched one without `rectify`, the per-tensor one with it) and the reference's
//! `**kwargs` extras (`adanorm`, `adanorm_r`, `adam_debias`), which are not constructor
//! arguments.
//!
//! ```
//! use gradus::optim::{self, Param};
//! let mut opt = optim::build::<f64>("lamb(lr=0.1)").unwrap();
//! let mut w = vec![3.0, -4.0];
//! let g = vec![300.0, -400.0]; // the gradient's scale does not matter
//! opt.step(&mut [Param::with_shape("w", &mut w, &g, &[2])]).unwrap();
//! // The first step moves w by lr/(1 − β₁)·‖w‖ = 1.0·5 (the trust ratio's doing).
//! let moved = ((w[0] - 3.0f64).powi(2) + (w[1] + 4.0f64).powi(2)).sqrt();
//! assert!((moved - 5.0).abs() < 1e-5);
//! ```

use super::tensorwise::{TensorRule, TensorStep};
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Lamb`], with pytorch-optimizer's names and defaults.
    pub struct LambConfig("lamb", "LAMB: Adam scaled per tensor by the trust ratio ‖w‖/‖update‖, for large batches (You et al. 2020); optional RAdam rectification") {
        /// Learning rate.
        lr: f64 = 1e-3, NONNEG, log;
        /// Decay rates of the first and second moments.
        betas: (f64, f64) = (0.9, 0.999), UNIT_OPEN;
        /// Weight decay λ.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Decay the weights directly (AdamW) instead of adding λ·w to the update.
        weight_decouple: bool = true, NONE;
        /// Decoupled decay not scaled by lr.
        fixed_decay: bool = false, NONE;
        /// RAdam's rectified step.
        rectify: bool = false, NONE;
        /// With rectify, take momentum-SGD steps before the rectification threshold.
        degenerated_to_sgd: bool = false, NONE;
        /// With rectify, the length of the moving average from which Adam steps start.
        n_sma_threshold: u64 = 5, NONNEG;
        /// Scale new gradients by 1 − β₁ in the first moment.
        grad_averaging: bool = true, NONE;
        /// With pre_norm, the global gradient norm gradients are scaled down to (0: none).
        max_grad_norm: f64 = 1.0, NONNEG, log;
        /// Trust ratio 1 for every tensor (plain Adam steps).
        adam: bool = false, NONE;
        /// Scale all gradients by min(max_grad_norm / global norm, 1) first.
        pre_norm: bool = false, NONE;
        /// Added to √v, to the update norm and to the global norm.
        eps: f64 = 1e-6, NONNEG, log;
        /// Maximize the objective instead of minimizing it.
        maximize: bool = false, NONE;
    }
}

/// LAMB: see the [module docs](self).
pub type Lamb<T> = super::tensorwise::PerTensor<LambConfig, T>;

/// The reference's clamp of the weight norm.
const WEIGHT_NORM_CLAMP: f64 = 10.0;

impl LambConfig {
    /// RAdam's step-size factor `rₜ` and `ρₜ` at step `t` (the reference's
    /// `get_rectify_step_size`): `rₜ ≤ 0` means no step.
    fn rectification(&self, t: u64) -> (f64, f64) {
        let beta2 = self.betas.1;
        let n_sma_max = 2.0 / (1.0 - beta2) - 1.0;
        let beta2_t = beta2.powf(t as f64);
        let n_sma = n_sma_max - 2.0 * t as f64 * beta2_t / (1.0 - beta2_t);
        let rt = if n_sma >= self.n_sma_threshold as f64 {
            ((1.0 - beta2_t) * (n_sma - 4.0) / (n_sma_max - 4.0) * (n_sma - 2.0) / n_sma
                * n_sma_max
                / (n_sma_max - 2.0))
                .sqrt()
        } else if self.degenerated_to_sgd {
            1.0
        } else {
            -1.0
        };
        (rt, n_sma)
    }

    /// The gradient as the moments see it: negated under `maximize`, scaled by the
    /// global `pre_norm` factor.
    #[inline(always)]
    fn grad_in<T: Float>(&self, g: T, scale: T) -> T {
        let g = if self.pre_norm { g * scale } else { g };
        if self.maximize {
            -g
        } else {
            g
        }
    }

    /// The decoupled decay factor of the weights, if any.
    fn decay_factor(&self) -> Option<f64> {
        (self.weight_decouple && self.weight_decay != 0.0)
            .then_some(1.0 - self.weight_decay * if self.fixed_decay { 1.0 } else { self.lr })
    }

    fn trust_ratio(&self, weight_norm: f64, update_norm: f64) -> f64 {
        let w = weight_norm.min(WEIGHT_NORM_CLAMP);
        if self.adam || w == 0.0 || update_norm == 0.0 {
            1.0
        } else {
            w / (update_norm + self.eps)
        }
    }

    /// The batched path (no rectification).
    fn update_adam<T: Float>(&self, t: &mut TensorStep<'_, T>, scale: T) {
        let (beta1, beta2) = self.betas;
        let b1 = T::of(beta1);
        let b2 = T::of(beta2);
        let b3 = T::of(if self.grad_averaging {
            1.0 - beta1
        } else {
            1.0
        });
        let one_minus_b2 = T::of(1.0 - beta2);
        let eps = T::of(self.eps);
        let coupled =
            (!self.weight_decouple && self.weight_decay > 0.0).then(|| T::of(self.weight_decay));
        let decay = self.decay_factor().map(T::of);
        let step_size = self.lr / (1.0 - beta1.powf(t.step as f64));
        let (m, rest) = t.slots.split_at_mut(1);
        let (m, v) = (&mut m[0], &mut rest[0]);
        let update = |m: T, v: T, w: T| {
            let u = m * (T::one() / (v.sqrt() + eps));
            match coupled {
                Some(wd) => u + wd * w,
                None => u,
            }
        };
        let (mut wn, mut un) = (0.0, 0.0);
        for (((w, g), m), v) in t
            .value
            .iter_mut()
            .zip(t.grad)
            .zip(m.iter_mut())
            .zip(v.iter_mut())
        {
            let g = self.grad_in(*g, scale);
            if let Some(d) = decay {
                *w = *w * d;
            }
            *m = *m * b1 + b3 * g;
            *v = *v * b2 + one_minus_b2 * g * g;
            let u = update(*m, *v, *w).f64();
            wn += w.f64() * w.f64();
            un += u * u;
        }
        let ratio = T::of(self.trust_ratio(wn.sqrt(), un.sqrt()));
        let neg_step = T::of(-step_size);
        for ((w, m), v) in t.value.iter_mut().zip(m.iter()).zip(v.iter()) {
            let u = update(*m, *v, *w);
            let u = if self.adam { u } else { u * ratio };
            *w = *w + neg_step * u;
        }
    }

    /// The per-tensor path with rectification.
    fn update_rectified<T: Float>(&self, t: &mut TensorStep<'_, T>, scale: T) {
        let (beta1, beta2) = self.betas;
        let b1 = T::of(beta1);
        let b2 = T::of(beta2);
        let b3 = T::of(if self.grad_averaging {
            1.0 - beta1
        } else {
            1.0
        });
        let one_minus_b2 = T::of(1.0 - beta2);
        let eps = T::of(self.eps);
        let decay = self.decay_factor().map(T::of);
        let (rt, n_sma) = self.rectification(t.step);
        let step_size = self.lr * rt / (1.0 - beta1.powf(t.step as f64));
        let (m, rest) = t.slots.split_at_mut(1);
        let (m, v) = (&mut m[0], &mut rest[0]);
        for (((w, g), m), v) in t
            .value
            .iter_mut()
            .zip(t.grad)
            .zip(m.iter_mut())
            .zip(v.iter_mut())
        {
            let g = self.grad_in(*g, scale);
            *m = *m * b1 + b3 * g;
            *v = *v * b2 + one_minus_b2 * g * g;
            if let Some(d) = decay {
                *w = *w * d;
            }
        }
        if step_size <= 0.0 {
            return;
        }
        let adaptive = n_sma >= self.n_sma_threshold as f64;
        let direction = |m: T, v: T| if adaptive { m / (v.sqrt() + eps) } else { m };
        let neg_step = T::of(-step_size);
        let (mut wn, mut un) = (0.0, 0.0);
        for ((w, m), v) in t.value.iter().zip(m.iter()).zip(v.iter()) {
            let moved = (*w + neg_step * direction(*m, *v)).f64();
            wn += w.f64() * w.f64();
            un += moved * moved;
        }
        let ratio = self.trust_ratio(wn.sqrt(), un.sqrt());
        let neg_step = T::of(-step_size * ratio);
        for ((w, m), v) in t.value.iter_mut().zip(m.iter()).zip(v.iter()) {
            *w = *w + neg_step * direction(*m, *v);
        }
    }
}

impl TensorRule for LambConfig {
    super::table::config_accessors!();

    fn momentum(&self) -> Option<f64> {
        Some(self.betas.0)
    }

    fn set_momentum(&mut self, m: f64) -> crate::error::Result<()> {
        self.betas.0 = m;
        Ok(())
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    fn slot_shapes(&self, _name: &str, shape: &[usize]) -> crate::error::Result<Vec<Vec<usize>>> {
        Ok(vec![shape.to_vec(), shape.to_vec()])
    }

    /// The `pre_norm` scale of the last step (1 without `pre_norm`).
    fn global_init(&self) -> Vec<f64> {
        vec![1.0]
    }

    fn gathered(&self) -> usize {
        usize::from(self.pre_norm)
    }

    /// Adds the tensor's gradient norm, rounded to float32, squared and summed in
    /// float32 as the reference's `get_global_gradient_norm`.
    fn gather<T: Float>(&self, t: &mut TensorStep<'_, T>, _globals: &[f64], sums: &mut [f64]) {
        let norm = t.grad.iter().fold(0.0, |s, g| s + g.f64() * g.f64()).sqrt() as f32;
        sums[0] = (sums[0] as f32 + norm * norm) as f64;
    }

    fn conclude(&self, globals: &mut [f64], sums: &[f64]) {
        globals[0] = if !self.pre_norm || self.max_grad_norm == 0.0 {
            1.0
        } else {
            let norm = (sums[0] as f32).sqrt() + self.eps as f32;
            // torch's `max_grad_norm / tensor` is `tensor.reciprocal() * max_grad_norm`.
            ((1.0 / norm) * self.max_grad_norm as f32).min(1.0) as f64
        };
    }

    fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, globals: &[f64]) {
        let scale = T::of(globals[0]);
        if self.rectify {
            self.update_rectified(t, scale)
        } else {
            self.update_adam(t, scale)
        }
    }
}
