//! `swa_lr`: anneal the lr from its current value to a fixed `swa_lr` over
//! `anneal_epochs` updates, then hold it (torch's `SWALR`, the schedule of Stochastic
//! Weight Averaging; Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima and
//! Better Generalization", arXiv:1803.05407).
//!
//! # Formula
//! With `A = anneal_epochs`, the lr `η` the schedule starts from, and the anneal
//! function `a(t) = (1 − cos(π·t))/2` (`cos`) or `a(t) = t` (`linear`), update `k`
//! takes
//!
//! ```text
//! lr_k = swa_lr·α_k + η·(1 − α_k),   α_k = a(min(1, k/A))
//! ```
//!
//! (`A = 0` jumps to `swa_lr` at once). torch computes it recursively from the param
//! group's current lr: each step first recovers the lr it started from,
//! `η = (lr − α_{k−1}·swa_lr)/(1 − α_{k−1})` (or `swa_lr` once `α` reaches 1), then
//! applies the formula. gradus does the same, so it matches torch to the bit, and, as
//! in torch, a change of the lr by another schedule (in `chained`) moves the point it
//! anneals from.
//!
//! # Step counter
//! torch's `SWALR` counts its own `step()` calls (`_step_count`), not `last_epoch`.
//! They differ in `sequential`: at its milestone a later child is restarted without a
//! `step()` call, so it starts annealing from the lr the previous child left, at
//! `k = 0`. gradus keeps the same counter.
//!
//! Defaults: `anneal_epochs=10, anneal_strategy=cos`, as torch; `swa_lr` is required
//! (finite, `>= 0`).

use super::{AnnealStrategy, Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;
use std::f64::consts::PI;

crate::hyperparameters! {
    /// Hyperparameters of [`SwaLr`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct SwaLrConfig("swa_lr", "anneal the lr to a constant swa_lr over anneal_epochs, then hold it (torch SWALR; Izmailov et al. 2018)") {
        /// The lr annealed to and held.
        swa_lr: f64 = 0.05, NONNEG, log, required;
        /// Updates the annealing lasts (0: at once).
        anneal_epochs: u64 = 10, NONNEG;
        /// Cosine (cos) or linear annealing.
        anneal_strategy: AnnealStrategy = AnnealStrategy::Cos, NONE;
    }
}

impl SwaLrConfig {
    /// The anneal weight `α` of `swa_lr` after `step` steps (torch clamps `t` to [0, 1]).
    fn alpha(&self, step: f64) -> f64 {
        let t = (step / self.anneal_epochs.max(1) as f64).clamp(0.0, 1.0);
        match self.anneal_strategy {
            AnnealStrategy::Cos => (1.0 - (PI * t).cos()) / 2.0,
            AnnealStrategy::Linear => t,
        }
    }

    /// torch's `get_lr` from the group lr `lr` after `count` steps.
    fn next(&self, lr: f64, count: u64) -> f64 {
        let step = if self.anneal_epochs == 0 {
            count.max(1)
        } else {
            count
        } as f64;
        // Exact below 2^53 steps, like torch's integer step − 1.
        let prev_alpha = self.alpha(step - 1.0);
        let start = if prev_alpha == 1.0 {
            self.swa_lr
        } else {
            (lr - prev_alpha * self.swa_lr) / (1.0 - prev_alpha)
        };
        let alpha = self.alpha(step);
        self.swa_lr * alpha + start * (1.0 - alpha)
    }
}

/// The `swa_lr` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct SwaLr {
    cfg: SwaLrConfig,
    core: Core,
    /// torch's `_step_count − 1`.
    count: u64,
}

impl SwaLr {
    /// An SWA schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: SwaLrConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = SwaLr {
            cfg,
            core: Core::new(base_lr),
            count: 0,
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for SwaLr {
    const NAME: &'static str = "swa_lr";
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
        self.count = 0;
        self.core.lr = self.cfg.next(lr, 0);
    }
    fn advance(&mut self) {
        self.core.epoch = self.core.epoch.saturating_add(1);
        self.count = self.count.saturating_add(1);
        self.core.lr = self.cfg.next(self.core.lr, self.count);
    }
    fn restart(&mut self) {
        // torch's `_update_lr(0)` does not count as a step.
        self.core.epoch = 0;
        self.core.lr = self.cfg.next(self.core.lr, self.count);
    }
    const EXTRA: usize = 1;
    fn extra(&self) -> Vec<f64> {
        vec![self.count as f64]
    }
    fn load_extra(&mut self, values: &[f64]) -> Result<()> {
        self.count = super::count(Self::NAME, values[0])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};

    #[test]
    fn linear_by_hand() {
        // η = 1 → 0.2 over 4 updates: 1, 0.8, 0.6, 0.4, 0.2, 0.2, ...
        let s = build("swa_lr(0.2, 4, linear)", 1.0, None).unwrap();
        assert_close(
            &lrs(s.as_ref(), 7),
            &[1.0, 0.8, 0.6, 0.4, 0.2, 0.2, 0.2],
            1e-15,
        );
    }

    #[test]
    fn cos_by_hand_and_zero_epochs() {
        // η = 1 → 0 over 2 updates by cosine: 1, 0.5, 0
        let s = build("swa_lr(0, 2)", 1.0, None).unwrap();
        assert_close(&lrs(s.as_ref(), 4), &[1.0, 0.5, 0.0, 0.0], 1e-15);
        // anneal_epochs = 0: swa_lr from the start
        let s = build("swa_lr(0.3, 0)", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 3), vec![0.3, 0.3, 0.3]);
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("swa_lr(-1)", 0.1, None), "swa_lr");
        assert_eq!(
            invalid_param("swa_lr(0.1, 1.5)", 0.1, None),
            "anneal_epochs"
        );
        assert_eq!(
            invalid_param("swa_lr(0.1, 3, anneal_strategy=exp)", 0.1, None),
            "anneal_strategy"
        );
        assert!(matches!(
            build("swa_lr", 0.1, None),
            Err(crate::Error::MissingArgument { .. })
        ));
    }

    #[test]
    fn state_round_trip() {
        round_trip("swa_lr(0.01, 80, linear)", 0.1, None, |_| 0.0);
        round_trip(
            "sequential([exponential(0.9), swa_lr(0.05, 70)], [20])",
            0.1,
            None,
            |_| 0.0,
        );
    }
}
