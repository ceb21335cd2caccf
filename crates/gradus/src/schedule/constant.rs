//! `constant`: scale the lr by `factor` for the first `total_iters` updates (torch's
//! `ConstantLR`).
//!
//! # Formula
//! Closed form, for update `k` (0 first) and the optimizer's lr `η`:
//!
//! ```text
//! lr_k = η·factor   for k < total_iters,   η   afterwards
//! ```
//!
//! gradus follows torch's recursive update for bit-compatibility: `lr_0 = η·factor`,
//! and at `k = total_iters` the lr is multiplied by `1/factor` (which need not give
//! back `η` exactly).
//!
//! Defaults: `factor=1/3, total_iters=5`, as torch, with torch's range
//! `0 <= factor <= 1`.
//!
//! # Differences from torch
//! gradus requires `total_iters >= 1` (with 0, torch keeps the factor forever while
//! its closed form says it never applies). With `factor=0`, torch divides by zero at
//! `total_iters`; gradus returns to `η` there.

use super::{Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;

crate::hyperparameters! {
    /// Hyperparameters of [`Constant`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct ConstantConfig("constant", "lr scaled by factor for the first total_iters updates (torch ConstantLR)") {
        /// Factor applied to the lr.
        factor: f64 = 1.0 / 3.0, UNIT;
        /// Updates during which it applies.
        total_iters: u64 = 5, at_least(1.0);
    }
}

impl ConstantConfig {
    /// The closed form at update `k`, for an optimizer lr `base_lr` (torch's
    /// `_get_closed_form_lr`, operation for operation).
    pub fn closed_form(&self, base_lr: f64, k: u64) -> f64 {
        let after = if k >= self.total_iters { 1.0 } else { 0.0 };
        base_lr * (self.factor + after * (1.0 - self.factor))
    }
}

/// The `constant` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Constant {
    cfg: ConstantConfig,
    core: Core,
}

impl Constant {
    /// A constant-factor schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: ConstantConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = Constant {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for Constant {
    const NAME: &'static str = "constant";
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
        self.core.lr = lr * self.cfg.factor;
    }
    fn advance(&mut self) {
        let k = self.core.epoch.saturating_add(1);
        self.core.epoch = k;
        if k == self.cfg.total_iters {
            self.core.lr = if self.cfg.factor == 0.0 {
                self.core.base_lr
            } else {
                self.core.lr * (1.0 / self.cfg.factor)
            };
        }
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
        // factor 0.5, 2 updates, η = 1: 0.5, 0.5, 1, 1
        let s = build("constant(0.5, 2)", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 4), vec![0.5, 0.5, 1.0, 1.0]);
        // factor 0: 0, 0, then η
        let s = build("constant(0, 2)", 0.1, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 4), vec![0.0, 0.0, 0.1, 0.1]);
    }

    #[test]
    fn matches_closed_form() {
        for (factor, t) in [(1.0 / 3.0, 5), (0.1, 100), (0.7, 299), (1.0, 3)] {
            let cfg = ConstantConfig {
                factor,
                total_iters: t,
            };
            let s = Constant::new(cfg, 0.1).unwrap();
            let want: Vec<f64> = (0..300).map(|k| cfg.closed_form(0.1, k)).collect();
            assert_close(&lrs(&s, 300), &want, 1e-12);
        }
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("constant(-0.1)", 0.1, None), "factor");
        assert_eq!(invalid_param("constant(1.5)", 0.1, None), "factor");
        assert_eq!(invalid_param("constant(0.5, 0)", 0.1, None), "total_iters");
        let c = ConstantConfig::from_call(&crate::spec::parse("constant(total_iters=4)").unwrap())
            .unwrap();
        assert_eq!(
            c,
            ConstantConfig {
                factor: 1.0 / 3.0,
                total_iters: 4
            }
        );
        assert_eq!(ConstantConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn state_round_trip() {
        round_trip("constant(0.25, 70)", 0.1, None, |_| 0.0);
    }
}
