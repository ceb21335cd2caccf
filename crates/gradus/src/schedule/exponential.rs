//! `exponential`: multiply the lr by `gamma` after every update (torch's
//! `ExponentialLR`).
//!
//! # Formula
//! Closed form, for update `k` (0 first) and the optimizer's lr `η`:
//!
//! ```text
//! lr_k = η·γ^k
//! ```
//!
//! gradus follows torch's recursive update for bit-compatibility: `lr ← lr·γ` after
//! each update.
//!
//! `gamma` is required, as in torch; gradus requires it finite and `> 0`. For the
//! second tutorial's `η·e^(−λt)`, see [`exp_decay`](super::exp_decay).

use super::{Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;

crate::hyperparameters! {
    /// Hyperparameters of [`Exponential`], with torch's names.
    #[derive(Copy)]
    pub struct ExponentialConfig("exponential", "multiply the lr by gamma after every update (torch ExponentialLR)") {
        /// Multiplicative factor per update.
        gamma: f64 = 1.0, POS, required;
    }
}

impl ExponentialConfig {
    /// The closed form at update `k`, for an optimizer lr `base_lr`.
    pub fn closed_form(&self, base_lr: f64, k: u64) -> f64 {
        base_lr * self.gamma.powf(k as f64)
    }
}

/// The `exponential` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Exponential {
    cfg: ExponentialConfig,
    core: Core,
}

impl Exponential {
    /// An exponential schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: ExponentialConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = Exponential {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for Exponential {
    const NAME: &'static str = "exponential";
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
        self.core.epoch = self.core.epoch.saturating_add(1);
        self.core.lr *= self.cfg.gamma;
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
        // η = 1, γ 0.5: 1, 0.5, 0.25, 0.125
        let s = build("exponential(0.5)", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 4), vec![1.0, 0.5, 0.25, 0.125]);
    }

    #[test]
    fn matches_closed_form() {
        for gamma in [0.9, 0.99, 0.5, 1.01] {
            let cfg = ExponentialConfig { gamma };
            let s = Exponential::new(cfg, 0.1).unwrap();
            let want: Vec<f64> = (0..300).map(|k| cfg.closed_form(0.1, k)).collect();
            assert_close(&lrs(&s, 300), &want, 1e-12);
        }
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("exponential(0)", 0.1, None), "gamma");
        assert_eq!(invalid_param("exponential(-0.5)", 0.1, None), "gamma");
        assert_eq!(invalid_param("exponential(nan)", 0.1, None), "gamma");
        assert!(matches!(
            build("exponential", 0.1, None),
            Err(crate::Error::MissingArgument { .. })
        ));
        let c =
            ExponentialConfig::from_call(&crate::spec::parse("exponential(gamma=0.9)").unwrap())
                .unwrap();
        assert_eq!(ExponentialConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn state_round_trip() {
        round_trip("exponential(0.97)", 0.1, None, |_| 0.0);
    }
}
