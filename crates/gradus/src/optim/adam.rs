//! Adam and AdamW.
//!
//! # Update rule (torch.optim.Adam / AdamW)
//! With `g_t = ∇f(θ_{t−1})` (negated when `maximize`):
//!
//! ```text
//! θ ← θ·(1 − lr·λ)                      decoupled weight decay (AdamW), or
//! g ← g + λ·θ                           L2 weight decay (Adam)
//! m_t = β1·m_{t−1} + (1 − β1)·g_t       (computed as torch.lerp(m, g, 1 − β1))
//! v_t = β2·v_{t−1} + (1 − β2)·g_t²
//! v̂_t = max(v̂_{t−1}, v_t) if amsgrad else v_t
//! θ_t = θ_{t−1} − lr/(1 − β1ᵗ) · m_t / (√v̂_t / √(1 − β2ᵗ) + ε)
//! ```
//!
//! Adam defaults: `lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
//! amsgrad=false, maximize=false, decoupled_weight_decay=false`.
//! AdamW takes the same arguments (without `decoupled_weight_decay`, which it always
//! uses) with `weight_decay=1e-2`.
//!
//! # References
//! Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015.
//! Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019 (AdamW).
//! Reddi et al., *On the Convergence of Adam and Beyond*, ICLR 2018 (AMSGrad).
//!
//! # Where torch and the tutorials differ
//! * ε is added to `√v̂_t / √(1 − β2ᵗ)`, outside the square root and after bias
//!   correction, as in torch. The paper's Algorithm 1 writes `m̂ / (√v̂ + ε)` with both
//!   moments corrected, which is the same up to where ε sits.
//! * The first tutorial multiplies the corrected first moment by the gradient again
//!   and writes the bias-corrected moments back into the state (so the correction
//!   compounds); the fourth swaps β1 and β2 in the corrections. gradus implements the
//!   paper.
//!
//! ```
//! use gradus::optim::{Adam, AdamConfig, Optimizer, Param};
//! // The third tutorial: x² from 10 with lr 1.05 settles where GD diverges.
//! let mut opt = Adam::<f64>::new(AdamConfig { lr: 1.05, ..Default::default() }).unwrap();
//! let mut x = [10.0];
//! let g = [2.0 * x[0]];
//! opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//! assert!((x[0] - 8.95).abs() < 1e-6); // the first Adam step has length ≈ lr
//! ```

use super::blocks::{addcdiv, bias_correction, ema_sq, grad_in, lerp, lerp_small, maximum};
use super::engine::{Elementwise, Rule};
use super::preset::{Preset, PresetOf};
use crate::error::Result;
use crate::float::Float;

crate::hyperparameters! {
    /// Hyperparameters of [`Adam`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct AdamConfig("adam", "adaptive moments with bias correction (Kingma & Ba 2015), optional AMSGrad") {
        /// Learning rate.
        lr: f64 = 1e-3, NONNEG, log;
        /// Decay rates (β1, β2) of the first and second moments.
        betas: (f64, f64) = (0.9, 0.999), UNIT_OPEN;
        /// Added to the denominator for numerical stability.
        eps: f64 = 1e-8, NONNEG, log;
        /// Weight decay λ: L2, or decoupled when `decoupled_weight_decay`.
        weight_decay: f64 = 0.0, NONNEG, log;
        /// Use the AMSGrad variant (the maximum of past second moments).
        amsgrad: bool = false, NONE;
        /// Maximize the objective instead of minimizing it.
        maximize: bool = false, NONE;
        /// Decay the weights directly, as AdamW.
        decoupled_weight_decay: bool = false, NONE;
    }
}

/// Adam: see the [module docs](self).
pub type Adam<T> = Elementwise<AdamConfig, T>;

/// Per-step scalars of the Adam family.
#[derive(Debug, Clone, Copy)]
pub struct AdamCoeffs<T> {
    decay: T,
    l2: T,
    beta2: T,
    one_minus_beta1: T,
    one_minus_beta2: T,
    bc2_sqrt: T,
    eps: T,
    neg_step_size: T,
    decoupled: bool,
    amsgrad: bool,
    maximize: bool,
}

impl Rule for AdamConfig {
    const LOW_PRECISION_STATE: bool = true;

    super::table::config_accessors!(momentum = betas.0);

    fn slot_names(&self) -> &'static [&'static str] {
        if self.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }

    type Coeffs<T: Float> = AdamCoeffs<T>;

    fn coeffs<T: Float>(&self, step: u64, _scalars: &mut [f64]) -> AdamCoeffs<T> {
        let (beta1, beta2) = self.betas;
        let bc1 = bias_correction(beta1, step);
        let bc2 = bias_correction(beta2, step);
        let decoupled = self.decoupled_weight_decay && self.weight_decay != 0.0;
        AdamCoeffs {
            decay: T::of(1.0 - self.lr * self.weight_decay),
            l2: if self.decoupled_weight_decay {
                T::zero()
            } else {
                T::of(self.weight_decay)
            },
            beta2: T::of(beta2),
            one_minus_beta1: T::of(1.0 - beta1),
            one_minus_beta2: T::of(1.0 - beta2),
            bc2_sqrt: T::of(bc2.powf(0.5)),
            eps: T::of(self.eps),
            neg_step_size: T::of(-(self.lr / bc1)),
            decoupled,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
        }
    }

    #[inline(always)]
    fn update<T: Float>(c: &AdamCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        adam_update::<T, false, false>(c, p, g, s)
    }

    fn is_fast<T: Float>(c: &AdamCoeffs<T>) -> bool {
        c.is_fast(false)
    }

    #[inline(always)]
    fn update_fast<T: Float>(c: &AdamCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        adam_update::<T, true, false>(c, p, g, s)
    }
}

impl<T: Float> AdamCoeffs<T> {
    /// The common configuration: no `maximize`, no L2 decay, no AMSGrad, β1 > 0.5
    /// (the first form of `lerp`), and decoupled decay on exactly when `decoupled`.
    fn is_fast(&self, decoupled: bool) -> bool {
        !self.maximize
            && self.l2 == T::zero()
            && !self.amsgrad
            && self.one_minus_beta1.abs() < T::of(0.5)
            && self.decoupled == decoupled
    }
}

/// One element of Adam/AdamW. With `FAST`, the coefficients are known to satisfy
/// [`AdamCoeffs::is_fast`]`(DECOUPLED)`, so the options are constants.
#[inline(always)]
fn adam_update<T: Float, const FAST: bool, const DECOUPLED: bool>(
    c: &AdamCoeffs<T>,
    p: &mut T,
    g: T,
    s: &mut [T],
) {
    if (FAST && DECOUPLED) || (!FAST && c.decoupled) {
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
    let v = if !FAST && c.amsgrad {
        s[2] = maximum(s[2], s[1]);
        s[2]
    } else {
        s[1]
    };
    let denom = v.sqrt() / c.bc2_sqrt + c.eps;
    *p = addcdiv(*p, c.neg_step_size, s[0], denom);
}

/// AdamW: Adam with decoupled weight decay always on and `weight_decay` defaulting to
/// 1e-2 (torch.optim.AdamW), as a preset of [`AdamConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct AdamWPreset;

impl PresetOf for AdamWPreset {
    type Base = AdamConfig;
    const NAME: &'static str = "adamw";
    const SUMMARY: &'static str = "Adam with decoupled weight decay (Loshchilov & Hutter 2019)";
    const FIXED: usize = 1;
    fn defaults() -> AdamConfig {
        AdamConfig {
            weight_decay: 1e-2,
            decoupled_weight_decay: true,
            ..AdamConfig::default()
        }
    }
    fn is_fast<T: Float>(c: &AdamCoeffs<T>) -> bool {
        c.is_fast(true)
    }
    #[inline(always)]
    fn update_fast<T: Float>(c: &AdamCoeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        adam_update::<T, true, true>(c, p, g, s)
    }
}

/// The config of [`AdamW`]: an [`AdamConfig`] under AdamW's name and defaults.
pub type AdamWConfig = Preset<AdamWPreset>;

/// AdamW (Adam with decoupled weight decay): see the [module docs](self).
pub type AdamW<T> = Elementwise<AdamWConfig, T>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hyper::Hyperparameters;
    use crate::optim::preset::PresetOf;
    use crate::optim::test_support::run;
    use crate::optim::{Optimizer, Param};

    #[test]
    fn first_step_by_hand() {
        // g = 20 at x = 10. m = 0.1·20 = 2, v = 0.001·400 = 0.4.
        // step size = lr/(1 − 0.9) = 10·lr; denom = √0.4/√0.001 + ε = 20 + 1e-8.
        // x = 10 − 10·lr·2/(20 + 1e-8) = 10 − lr·(1 − 5e-10): with lr 1.05, 8.95000000052…
        let xs = run(
            AdamConfig {
                lr: 1.05,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            1,
        );
        let want = 10.0 - 1.05 * 20.0 / (20.0 + 1e-8);
        assert!((xs[0] - want).abs() < 1e-12, "{} vs {want}", xs[0]);
    }

    #[test]
    fn third_tutorial_adam_with_lr_105_settles() {
        // The tutorial prints 8.95, 7.90, 6.87, 5.84, 4.84 (to two decimals).
        let xs = run(
            AdamConfig {
                lr: 1.05,
                ..Default::default()
            },
            10.0,
            |x| 2.0 * x,
            200,
        );
        for (x, w) in xs.iter().zip([8.95, 7.90, 6.87, 5.84, 4.84]) {
            assert!((x - w).abs() < 0.006, "{x} vs {w}");
        }
        assert!(xs[199].abs() < 0.5, "{}", xs[199]);
    }

    #[test]
    fn adamw_with_zero_weight_decay_is_adam() {
        let f = |x: f64| 4.0 * x * x * x - 3.0;
        let a = run(
            AdamConfig {
                lr: 0.01,
                ..Default::default()
            },
            2.0,
            f,
            100,
        );
        let w = run(
            AdamWConfig::new(AdamConfig {
                lr: 0.01,
                weight_decay: 0.0,
                ..AdamWPreset::defaults()
            }),
            2.0,
            f,
            100,
        );
        assert_eq!(a, w);
    }

    #[test]
    fn adamw_decays_weights_before_the_moment_update() {
        // With zero gradient the moments stay 0 and the step is 0/(0 + ε) = 0, so only
        // the decay acts: x ← x·(1 − lr·λ) = 10·(1 − 0.1·0.5) = 9.5.
        let cfg = AdamWConfig::new(AdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..AdamWPreset::defaults()
        });
        let xs = run(cfg.clone(), 10.0, |_| 0.0, 2);
        assert_eq!(
            xs,
            vec![10.0 * (1.0 - 0.05), 10.0 * (1.0 - 0.05) * (1.0 - 0.05)]
        );
        // And adam(decoupled_weight_decay=true) is exactly adamw.
        let a = AdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            decoupled_weight_decay: true,
            ..Default::default()
        };
        assert_eq!(
            run(a, 10.0, |x| 2.0 * x, 20),
            run(cfg, 10.0, |x| 2.0 * x, 20)
        );
    }

    #[test]
    fn amsgrad_keeps_the_maximum() {
        // Gradient 10 then 1: v1 = 0.1, v2 = 0.999·0.1 + 0.001 = 0.1009 > v1, so the
        // maximum is v2; a third gradient 0 gives v3 = 0.999·0.1009 < v2: max stays v2.
        let mut opt = Adam::<f64>::new(AdamConfig {
            amsgrad: true,
            ..Default::default()
        })
        .unwrap();
        let mut x = [0.0];
        for g in [10.0, 1.0, 0.0] {
            opt.step(&mut [Param::new("x", &mut x, &[g])]).unwrap();
        }
        let s = opt.tensor_state("x").unwrap();
        let v2 = 0.999 * (0.001 * 100.0) + 0.001 * 1.0;
        assert!((s.slots[2][0] - v2).abs() < 1e-15);
        assert!(s.slots[1][0] < s.slots[2][0]);
    }

    #[test]
    fn validation() {
        for (spec, param) in [
            ("adam(lr=-1e-3)", "lr"),
            ("adam(betas=(1.0, 0.999))", "betas[0]"),
            ("adam(betas=(0.9, -0.1))", "betas[1]"),
            ("adam(eps=nan)", "eps"),
            ("adamw(weight_decay=-1)", "weight_decay"),
        ] {
            let call = crate::spec::parse(spec).unwrap();
            let r = if call.name == "adam" {
                AdamConfig::from_call(&call).map(|_| ())
            } else {
                AdamWConfig::from_call(&call).map(|_| ())
            };
            match r {
                Err(crate::Error::InvalidHyperparameter { param: p, .. }) => assert_eq!(p, param),
                other => panic!("{spec}: {other:?}"),
            }
        }
        assert!(AdamWConfig::from_call(
            &crate::spec::parse("adamw(decoupled_weight_decay=true)").unwrap()
        )
        .is_err());
    }
}
