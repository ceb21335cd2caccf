//! `exp_decay`: the second tutorial's exponential schedule, `lr_k = η·e^(−λ·k)`.
//!
//! For update `k` (0 first) and the optimizer's lr `η`:
//!
//! ```text
//! lr_k = η·exp(−lam·k)
//! ```
//!
//! The tutorial's `η·e^(−0.1·t)` is `exp_decay(lam=0.1)`. It is torch's
//! `ExponentialLR` with `γ = e^(−λ)`, but evaluated directly from `k` (as torch's
//! `LambdaLR(lambda k: math.exp(-lam * k))` would), so it does not accumulate
//! rounding. `lam` is required, finite and `>= 0`.

use super::{Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;

crate::hyperparameters! {
    /// Hyperparameters of [`ExpDecay`].
    #[derive(Copy)]
    pub struct ExpDecayConfig("exp_decay", "lr·e^(−lam·k) (the second tutorial's exponential schedule)") {
        /// Decay rate λ per update.
        lam: f64 = 0.0, NONNEG, required;
    }
}

impl ExpDecayConfig {
    /// The lr of update `k`, for an optimizer lr `base_lr`.
    pub fn lr_at(&self, base_lr: f64, k: u64) -> f64 {
        base_lr * (-self.lam * k as f64).exp()
    }
}

/// The `exp_decay` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ExpDecay {
    cfg: ExpDecayConfig,
    core: Core,
}

impl ExpDecay {
    /// An exponential-decay schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: ExpDecayConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = ExpDecay {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for ExpDecay {
    const NAME: &'static str = "exp_decay";
    fn spec(&self) -> Call {
        self.cfg.to_call()
    }
    fn core(&self) -> &Core {
        &self.core
    }
    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }
    fn begin(&mut self, _lr: f64) {
        self.restart();
    }
    fn advance(&mut self) {
        self.core.epoch = self.core.epoch.saturating_add(1);
        self.core.lr = self.cfg.lr_at(self.core.base_lr, self.core.epoch);
    }
    fn restart(&mut self) {
        self.core.epoch = 0;
        self.core.lr = self.core.base_lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};

    #[test]
    fn the_tutorials_schedule() {
        // η·e^(−0.1 t) with η = 0.1: 0.1, 0.0904837, 0.0818731, ...
        let s = build("exp_decay(lam=0.1)", 0.1, None).unwrap();
        let want: Vec<f64> = (0..300).map(|t| 0.1 * (-0.1 * t as f64).exp()).collect();
        assert_close(&lrs(s.as_ref(), 300), &want, 1e-15);
        assert!((want[1] - 0.090_483_741_803_596).abs() < 1e-14);
        // λ = 0 is constant; huge k decays to 0 without trouble
        let s = build("exp_decay(0)", 0.1, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 3), vec![0.1; 3]);
        assert_eq!(ExpDecayConfig { lam: 1.0 }.lr_at(0.1, u64::MAX), 0.0);
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("exp_decay(-0.1)", 0.1, None), "lam");
        assert_eq!(invalid_param("exp_decay(nan)", 0.1, None), "lam");
        assert!(matches!(
            build("exp_decay", 0.1, None),
            Err(crate::Error::MissingArgument { .. })
        ));
        let c = ExpDecayConfig::from_call(&crate::spec::parse("exp_decay(0.2)").unwrap()).unwrap();
        assert_eq!(ExpDecayConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn state_round_trip() {
        round_trip("exp_decay(0.01)", 0.1, None, |_| 0.0);
    }
}
