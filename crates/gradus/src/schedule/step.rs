//! `step`: multiply the lr by `gamma` every `step_size` updates (torch's `StepLR`).
//!
//! # Formula
//! Closed form, for update `k` (0 first) and the optimizer's lr `η`:
//!
//! ```text
//! lr_k = η·γ^⌊k / step_size⌋
//! ```
//!
//! gradus follows torch's recursive update for bit-compatibility: after each update
//! the lr is multiplied by `γ` when `k` becomes a multiple of `step_size`
//! (`lr ← lr·γ`), so `γ^n` is never formed.
//!
//! Defaults: `gamma=0.1`; `step_size` is required. As torch. gradus also requires
//! `step_size >= 1` (torch divides by it) and a finite `gamma > 0`.

use super::{Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;

crate::hyperparameters! {
    /// Hyperparameters of [`Step`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct StepConfig("step", "multiply the lr by gamma every step_size updates (torch StepLR)") {
        /// Period of the decay, in updates.
        step_size: u64 = 1, at_least(1.0), required;
        /// Multiplicative factor of the decay.
        gamma: f64 = 0.1, POS;
    }
}

impl StepConfig {
    /// The closed form at update `k`, for an optimizer lr `base_lr`.
    pub fn closed_form(&self, base_lr: f64, k: u64) -> f64 {
        base_lr * self.gamma.powf((k / self.step_size.max(1)) as f64)
    }
}

/// The `step` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Step {
    cfg: StepConfig,
    core: Core,
}

impl Step {
    /// A step schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: StepConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = Step {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for Step {
    const NAME: &'static str = "step";
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
        if self.core.epoch.is_multiple_of(self.cfg.step_size) {
            self.core.lr *= self.cfg.gamma;
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
        // η = 1, step_size 2, γ 0.5: 1, 1, 0.5, 0.5, 0.25, 0.25, 0.125
        let s = build("step(2, 0.5)", 1.0, None).unwrap();
        assert_eq!(
            lrs(s.as_ref(), 7),
            vec![1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
        );
        // default γ 0.1, step_size 1: 0.3, 0.03, 0.003 (to rounding)
        let s = build("step(step_size=1)", 0.3, None).unwrap();
        assert_close(&lrs(s.as_ref(), 3), &[0.3, 0.03, 0.003], 1e-15);
    }

    #[test]
    fn matches_closed_form() {
        for (spec, cfg) in [
            (
                "step(7, 0.9)",
                StepConfig {
                    step_size: 7,
                    gamma: 0.9,
                },
            ),
            (
                "step(30)",
                StepConfig {
                    step_size: 30,
                    gamma: 0.1,
                },
            ),
            (
                "step(1, 0.99)",
                StepConfig {
                    step_size: 1,
                    gamma: 0.99,
                },
            ),
        ] {
            let s = build(spec, 0.05, None).unwrap();
            let want: Vec<f64> = (0..300).map(|k| cfg.closed_form(0.05, k)).collect();
            assert_close(&lrs(s.as_ref(), 300), &want, 1e-12);
        }
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("step(0)", 0.1, None), "step_size");
        assert_eq!(invalid_param("step(2.5)", 0.1, None), "step_size");
        assert_eq!(invalid_param("step(2, 0)", 0.1, None), "gamma");
        assert_eq!(invalid_param("step(2, nan)", 0.1, None), "gamma");
        assert_eq!(invalid_param("step(2, inf)", 0.1, None), "gamma");
        assert!(matches!(
            build("step", 0.1, None),
            Err(crate::Error::MissingArgument { .. })
        ));
        assert!(matches!(
            build("step(2, size=3)", 0.1, None),
            Err(crate::Error::UnknownKey { .. })
        ));
        let c = StepConfig::from_call(&crate::spec::parse("step(3, gamma=0.5)").unwrap()).unwrap();
        assert_eq!(
            c,
            StepConfig {
                step_size: 3,
                gamma: 0.5
            }
        );
        assert_eq!(StepConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn huge_step_counts_do_not_panic() {
        let mut s = Step::new(
            StepConfig {
                step_size: 1,
                gamma: 0.5,
            },
            1.0,
        )
        .unwrap();
        s.core.epoch = u64::MAX - 1;
        for _ in 0..3 {
            crate::schedule::Schedule::step(&mut s, 0.0);
        }
        assert_eq!(crate::schedule::Schedule::last_epoch(&s), u64::MAX);
    }

    #[test]
    fn state_round_trip() {
        round_trip("step(7, 0.9)", 0.1, None, |_| 0.0);
    }
}
