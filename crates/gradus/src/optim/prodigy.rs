//! Prodigy: Adam whose step size `d` is estimated on the fly, so the learning rate
//! can stay at 1.
//!
//! # Update rule (`prodigyopt.Prodigy` 1.1.2)
//! One step with gradients `g` (plus `λ·θ` when `weight_decay = λ` is coupled,
//! `decouple=false`), the estimate `d` and its running maximum, the step count `k`,
//! β3 = `beta3` (default `√β2`), and for each tensor its start `θ₀` and the sum `s`,
//! both kept on every `slice_p`-th element only (`θ̃`, `g̃`):
//!
//! ```text
//! dlr = d·lr·(√(1 − β2^{k+1}) / (1 − β1^{k+1}) if use_bias_correction else 1)
//! first pass, every tensor (if lr > 0):
//!   num  += (d/d0)·dlr·⟨g̃, θ̃₀ − θ̃⟩
//!   m     = β1·m + d·(1 − β1)·g                    (state exp_avg, if β1 > 0)
//!   v     = β2·v + d²·(1 − β2)·g²                  (state exp_avg_sq)
//!   s     = β3·s + (d/d0)·(d if safeguard_warmup else dlr)·g̃
//!   den  += Σ|s|
//! r = β3·r + num                                   (d_numerator, optimizer-wide)
//! d̂ = d_coef·r/den; d = max(d, d̂) while d = d0; d_max = max(d_max, d̂);
//! d = min(d_max, d·growth_rate)
//! second pass, every tensor:
//!   θ ← θ − λ·dlr·θ                                (decoupled weight decay)
//!   θ ← θ − dlr·m/(√v + d·ε)     (β1 > 0)    or    θ ← θ − dlr·d·g/(√v + d·ε)
//! ```
//!
//! `d` (the new one in the denominator, the old one in `dlr`), `d_max`, the running
//! numerator and `k` are global across tensors: the first pass sums over all of them
//! before any is updated ([`TensorRule::gather`]). If every gradient is zero the sum
//! `den` is 0 and, as in the reference, the step stops after the first pass (the
//! moments decay, nothing else changes).
//!
//! Defaults, as the reference: `lr=1.0, betas=(0.9, 0.999), beta3=none (√β2),
//! eps=1e-8, weight_decay=0, decouple=true, use_bias_correction=false,
//! safeguard_warmup=false, d0=1e-6, d_coef=1.0, growth_rate=none (the reference's
//! inf: unbounded), slice_p=1`.
//!
//! The optimizer-wide scalars ([`PerTensor::globals`](super::PerTensor::globals),
//! [`OptimizerState::globals`](super::OptimizerState)) are `[d, d_max,
//! d_numerator, k, dlr, stepped]`: the reference's group entries, the `dlr` of the
//! last step, and whether it got past the first pass.
//!
//! # Where gradus and the reference differ
//! * `fsdp_in_use` (sharded parameters summed across processes) is not an argument:
//!   gradus steps all tensors in one process.
//! * `growth_rate=inf` is written `none` (a spec also accepts `inf`), since
//!   hyperparameters are finite numbers.
//! * The reference refuses `lr = 0`; gradus accepts it (schedules reach 0), and, as
//!   the reference's code does with a zero learning rate, then changes nothing.
//! * Sums are accumulated in `f64` also for `f32` tensors (torch sums `f32` tensors in
//!   `f32` before `.item()`), and in another order than torch's BLAS dot product, so
//!   `d` agrees to rounding, not to the bit.
//!
//! # Reference
//! Mishchenko & Defazio, *Prodigy: An Expeditiously Adaptive Parameter-Free Learner*,
//! ICML 2024 (arXiv:2306.06101).
//!
//! ```
//! use gradus::optim::{Optimizer, Param, Prodigy, ProdigyConfig};
//! let mut opt = Prodigy::<f64>::new(ProdigyConfig::default()).unwrap();
//! let mut x = vec![3.0, -2.0];
//! for _ in 0..200 {
//!     let g: Vec<f64> = x.iter().map(|v| 2.0 * v).collect(); // f = |x|²
//!     opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//! }
//! assert!(opt.globals()[0] > 0.1); // d grew from 1e-6 to the scale of the problem
//! assert!(x.iter().all(|v| v.abs() < 0.1));
//! ```

use super::blocks::{add_scaled, addcdiv, bias_correction, ema_sq};
use super::tensorwise::{TensorRule, TensorStep};
use crate::error::Result;
use crate::float::Float;
use crate::spec::{Call, Value};

crate::hyperparameters! {
    /// Hyperparameters of Prodigy, with the reference's names and defaults.
    pub struct ProdigyConfig("prodigy", "Adam with a learning rate estimated from the distance travelled (Mishchenko & Defazio 2024)") {
        /// Multiplies the estimated step size d (leave at 1 unless unstable).
        lr: f64 = 1.0, NONNEG, log;
        /// Decay rates (β1, β2) of the first and second moments.
        betas: (f64, f64) = (0.9, 0.999), UNIT_OPEN;
        /// Decay of the running sums of the d estimate (none: √β2).
        beta3: Option<f64> = None, UNIT_OPEN;
        /// Added to the denominator (times d), outside the square root.
        eps: f64 = 1e-8, POS, log;
        /// Weight decay λ: decoupled (AdamW-style) or added to the gradient.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Decay the weights directly (AdamW) instead of adding λ·θ to the gradient.
        decouple: bool = true, NONE;
        /// Apply Adam's bias correction to the step size.
        use_bias_correction: bool = false, NONE;
        /// Leave lr out of the d estimate's denominator (steadier during warmup).
        safeguard_warmup: bool = false, NONE;
        /// Initial estimate of d.
        d0: f64 = 1e-6, POS, log;
        /// Multiplies the d estimate (the preferred knob to tune).
        d_coef: f64 = 1.0, POS, log;
        /// Largest factor d may grow by per step (none: unbounded, the reference's inf).
        growth_rate: Option<f64> = None, POS;
        /// Estimate d from every slice_p-th element of each tensor only (1: all).
        slice_p: u64 = 1, at_least(1.0);
    }
    prepare = infinite_growth_is_none;
}

/// Prodigy: see the [module docs](self).
pub type Prodigy<T> = super::PerTensor<ProdigyConfig, T>;

/// `growth_rate=inf` (the reference's default, `float('inf')`) means unbounded: none.
fn infinite_growth_is_none(call: &Call) -> Result<Call> {
    let mut call = call.clone();
    let unbounded = |v: &Value| matches!(v, Value::Number(x) if *x == f64::INFINITY);
    let none = || Value::Call(Call::bare("none"));
    for (k, v) in call.keywords.iter_mut() {
        if k == "growth_rate" && unbounded(v) {
            *v = none();
        }
    }
    let at = ProdigyConfig::KEYS.iter().position(|k| *k == "growth_rate");
    if let Some(v) = at.and_then(|i| call.positional.get_mut(i)) {
        if unbounded(v) {
            *v = none();
        }
    }
    Ok(call)
}

/// Indices of the optimizer-wide scalars.
const D: usize = 0;
const D_MAX: usize = 1;
const D_NUMERATOR: usize = 2;
const K: usize = 3;
const DLR: usize = 4;
const STEPPED: usize = 5;

/// Indices of the sums of the first pass.
const NUMERATOR: usize = 0;
const DENOMINATOR: usize = 1;

impl ProdigyConfig {
    fn beta3(&self) -> f64 {
        self.beta3.unwrap_or_else(|| self.betas.1.sqrt())
    }

    fn has_exp_avg(&self) -> bool {
        self.betas.0 > 0.0
    }

    /// `dlr = d·lr·bias_correction` of the coming step.
    fn dlr(&self, globals: &[f64]) -> f64 {
        let (beta1, beta2) = self.betas;
        let k = globals[K] as u64;
        let bc = if self.use_bias_correction {
            bias_correction(beta2, k + 1).powf(0.5) / bias_correction(beta1, k + 1)
        } else {
            1.0
        };
        globals[D] * self.lr * bc
    }

    /// The gradient the reference works with: plus `λ·θ` for coupled decay.
    #[inline(always)]
    fn grad<T: Float>(&self, g: T, p: T) -> T {
        if self.weight_decay != 0.0 && !self.decouple {
            add_scaled(g, T::of(self.weight_decay), p)
        } else {
            g
        }
    }

    /// Index of `exp_avg_sq` among the slots (after `s`, `p0` and maybe `exp_avg`).
    fn v_slot(&self) -> usize {
        if self.has_exp_avg() {
            3
        } else {
            2
        }
    }
}

impl TensorRule for ProdigyConfig {
    super::table::config_accessors!();

    fn slot_names(&self) -> &'static [&'static str] {
        if self.has_exp_avg() {
            &["s", "p0", "exp_avg", "exp_avg_sq"]
        } else {
            &["s", "p0", "exp_avg_sq"]
        }
    }

    fn slot_shapes(&self, _name: &str, shape: &[usize]) -> Result<Vec<Vec<usize>>> {
        let n: usize = shape.iter().product();
        let sliced = vec![n.div_ceil(self.slice_p as usize)];
        let mut shapes = vec![sliced.clone(), sliced];
        shapes.extend(std::iter::repeat_n(shape.to_vec(), self.v_slot() - 1));
        Ok(shapes)
    }

    fn global_init(&self) -> Vec<f64> {
        // d, d_max, d_numerator, k, dlr, stepped
        vec![self.d0, self.d0, 0.0, 0.0, 0.0, 0.0]
    }

    fn gathered(&self) -> usize {
        2
    }

    fn gather<T: Float>(&self, t: &mut TensorStep<'_, T>, globals: &[f64], sums: &mut [f64]) {
        let stride = self.slice_p as usize;
        let (sliced, moments) = t.slots.split_at_mut(2);
        let (s, p0) = sliced.split_at_mut(1);
        let (s, p0) = (&mut s[0], &mut p0[0]);
        if t.step == 1 {
            for (o, &p) in p0.iter_mut().zip(t.value.iter().step_by(stride)) {
                *o = p;
            }
        }
        if self.lr <= 0.0 {
            return;
        }
        let (beta1, beta2) = self.betas;
        let beta3 = self.beta3();
        let d = globals[D];
        let dlr = self.dlr(globals);
        let sliced = t.value.iter().zip(t.grad).step_by(stride);
        let dot: f64 = sliced
            .zip(p0.iter())
            .map(|((&p, &g), &p0)| self.grad(g, p).f64() * (p0 - p).f64())
            .sum();
        sums[NUMERATOR] += (d / self.d0) * dlr * dot;
        let (m, v) = if self.has_exp_avg() {
            let (m, v) = moments.split_at_mut(1);
            (Some(&mut m[0]), &mut v[0])
        } else {
            (None, &mut moments[0])
        };
        let v_weight = T::of(d * d * (1.0 - beta2));
        let beta2 = T::of(beta2);
        for (i, (&p, &g)) in t.value.iter().zip(t.grad).enumerate() {
            let g = self.grad(g, p);
            v[i] = ema_sq(v[i], g, beta2, v_weight);
        }
        if let Some(m) = m {
            let m_weight = T::of(d * (1.0 - beta1));
            let beta1 = T::of(beta1);
            for ((m, &p), &g) in m.iter_mut().zip(t.value.iter()).zip(t.grad) {
                *m = add_scaled(*m * beta1, m_weight, self.grad(g, p));
            }
        }
        let s_weight = T::of((d / self.d0) * if self.safeguard_warmup { d } else { dlr });
        let beta3 = T::of(beta3);
        let sliced = t.value.iter().zip(t.grad).step_by(stride);
        for (s, (&p, &g)) in s.iter_mut().zip(sliced) {
            *s = add_scaled(*s * beta3, s_weight, self.grad(g, p));
        }
        sums[DENOMINATOR] += s.iter().map(|x| x.f64().abs()).sum::<f64>();
    }

    fn conclude(&self, globals: &mut [f64], sums: &[f64]) {
        // All gradients zero: the reference returns after the first pass.
        if sums[DENOMINATOR] == 0.0 {
            globals[STEPPED] = 0.0;
            return;
        }
        let numerator = globals[D_NUMERATOR] * self.beta3() + sums[NUMERATOR];
        let d_hat = self.d_coef * numerator / sums[DENOMINATOR];
        let mut d = globals[D];
        if d == self.d0 && d_hat > d {
            d = d_hat;
        }
        let d_max = if d_hat > globals[D_MAX] {
            d_hat
        } else {
            globals[D_MAX]
        };
        let grown = d * self.growth_rate.unwrap_or(f64::INFINITY);
        globals[DLR] = self.dlr(globals);
        globals[D] = if grown < d_max { grown } else { d_max };
        globals[D_MAX] = d_max;
        globals[D_NUMERATOR] = numerator;
        globals[K] += 1.0;
        globals[STEPPED] = 1.0;
    }

    fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, globals: &[f64]) {
        if globals[STEPPED] == 0.0 {
            return;
        }
        let d = globals[D];
        let dlr = globals[DLR];
        let d_eps = T::of(d * self.eps);
        let decay =
            (self.weight_decay != 0.0 && self.decouple).then(|| T::of(-self.weight_decay * dlr));
        let v = &t.slots[self.v_slot()];
        if self.has_exp_avg() {
            let m = &t.slots[2];
            let step = T::of(-dlr);
            for ((p, &m), &v) in t.value.iter_mut().zip(m).zip(v) {
                if let Some(decay) = decay {
                    *p = add_scaled(*p, decay, *p);
                }
                *p = addcdiv(*p, step, m, v.sqrt() + d_eps);
            }
        } else {
            let step = T::of(-dlr * d);
            for ((p, &g), &v) in t.value.iter_mut().zip(t.grad).zip(v) {
                let g = self.grad(g, *p);
                if let Some(decay) = decay {
                    *p = add_scaled(*p, decay, *p);
                }
                *p = addcdiv(*p, step, g, v.sqrt() + d_eps);
            }
        }
    }
}
