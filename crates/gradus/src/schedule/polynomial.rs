//! `polynomial`: decay the lr polynomially to 0 over `total_iters` updates, then hold
//! it (torch's `PolynomialLR`).
//!
//! # Formula
//! Closed form, for update `k` (0 first) and the optimizer's lr `η`:
//!
//! ```text
//! lr_k = η·(1 − min(k, total_iters) / total_iters)^power
//! ```
//!
//! gradus follows torch's recursive update for bit-compatibility: for
//! `1 ≤ k ≤ total_iters`,
//!
//! ```text
//! lr_k = lr_{k−1}·((1 − k/total_iters) / (1 − (k−1)/total_iters))^power
//! ```
//!
//! and the lr is left alone afterwards.
//!
//! Defaults: `total_iters=5, power=1.0`, as torch. For the second tutorial's
//! `η·(1 + βt)^(−α)`, see [`inverse_poly`](super::inverse_poly).
//!
//! # Differences from torch
//! gradus requires `total_iters >= 1` (torch divides by it) and a finite `power >= 0`
//! (a negative power makes torch divide by zero at `total_iters`).

use super::{Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;

crate::hyperparameters! {
    /// Hyperparameters of [`Polynomial`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct PolynomialConfig("polynomial", "lr·(1 − k/total_iters)^power, then constant (torch PolynomialLR)") {
        /// Updates over which the lr decays to 0.
        total_iters: u64 = 5, at_least(1.0);
        /// Power of the polynomial.
        power: f64 = 1.0, NONNEG;
    }
}

impl PolynomialConfig {
    /// The closed form at update `k`, for an optimizer lr `base_lr`.
    pub fn closed_form(&self, base_lr: f64, k: u64) -> f64 {
        let t = self.total_iters as f64;
        base_lr * (1.0 - k.min(self.total_iters) as f64 / t).powf(self.power)
    }
}

/// The `polynomial` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Polynomial {
    cfg: PolynomialConfig,
    core: Core,
}

impl Polynomial {
    /// A polynomial schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: PolynomialConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = Polynomial {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for Polynomial {
    const NAME: &'static str = "polynomial";
    fn spec(&self) -> Call {
        self.cfg.to_call()
    }
    fn core(&self) -> &Core {
        &self.core
    }
    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }
    fn begin(&mut self, lr: f64) {
        self.core.epoch = 0;
        self.core.lr = lr;
    }
    fn advance(&mut self) {
        let k = self.core.epoch.saturating_add(1);
        self.core.epoch = k;
        if k > self.cfg.total_iters {
            return;
        }
        let t = self.cfg.total_iters as f64;
        let factor = ((1.0 - k as f64 / t) / (1.0 - (k - 1) as f64 / t)).powf(self.cfg.power);
        self.core.lr *= factor;
    }
    fn restart(&mut self) {
        self.core.epoch = 0;
        self.core.lr = self.cfg.closed_form(self.core.base_lr, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};

    #[test]
    fn by_hand() {
        // defaults (5 updates, power 1), η = 1: 1, 0.8, 0.6, 0.4, 0.2, 0, 0
        let s = build("polynomial", 1.0, None).unwrap();
        assert_close(
            &lrs(s.as_ref(), 7),
            &[1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0],
            1e-15,
        );
        // total_iters 2, power 2, η = 1: 1, 0.25, 0, 0
        let s = build("polynomial(2, 2)", 1.0, None).unwrap();
        assert_close(&lrs(s.as_ref(), 4), &[1.0, 0.25, 0.0, 0.0], 1e-15);
        // power 0 holds the lr
        let s = build("polynomial(3, 0)", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 5), vec![1.0; 5]);
    }

    #[test]
    fn matches_closed_form() {
        for (total_iters, power) in [(100, 1.0), (250, 0.5), (37, 2.0), (300, 0.9), (1, 1.0)] {
            let cfg = PolynomialConfig { total_iters, power };
            let s = Polynomial::new(cfg, 0.1).unwrap();
            let got = lrs(&s, 300);
            for (k, g) in got.iter().enumerate() {
                let w = cfg.closed_form(0.1, k as u64);
                // the last steps approach 0, where relative error grows: absolute there
                assert!(
                    rel(*g, w) <= 1e-12 || (g - w).abs() < 1e-15,
                    "{total_iters} {power} k {k}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("polynomial(0)", 0.1, None), "total_iters");
        assert_eq!(invalid_param("polynomial(5, -1)", 0.1, None), "power");
        assert_eq!(invalid_param("polynomial(5, nan)", 0.1, None), "power");
        assert!(matches!(
            build("polynomial(5, foo=1)", 0.1, None),
            Err(crate::Error::UnknownKey { .. })
        ));
        let c = PolynomialConfig::from_call(&crate::spec::parse("polynomial(power=2)").unwrap())
            .unwrap();
        assert_eq!(
            c,
            PolynomialConfig {
                total_iters: 5,
                power: 2.0
            }
        );
        assert_eq!(PolynomialConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn state_round_trip() {
        round_trip("polynomial(80, 1.5)", 0.1, None, |_| 0.0);
    }
}
