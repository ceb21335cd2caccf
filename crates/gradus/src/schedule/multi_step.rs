//! `multi_step`: multiply the lr by `gamma` at each milestone (torch's `MultiStepLR`).
//!
//! # Formula
//! Closed form, for update `k` (0 first) and the optimizer's lr `η`:
//!
//! ```text
//! lr_k = η·γ^(number of milestones ≤ k)
//! ```
//!
//! gradus follows torch's recursive update for bit-compatibility: when the update
//! count reaches a milestone the current lr is multiplied by `γ` (by `γ^n` if the
//! milestone is listed `n` times, as torch counts repeats).
//!
//! Defaults: `gamma=0.1`; `milestones` is required. As torch.
//!
//! # Differences from torch
//! torch asks for increasing milestones but does not check; gradus refuses a list
//! that decreases (repeats are allowed and counted, as in torch). A milestone `0`
//! applies at construction, as in torch.

use super::{Core, TorchRule};
use crate::error::{Error, Result};
use crate::spec::Call;

crate::hyperparameters! {
    /// Hyperparameters of [`MultiStep`], with torch's names and defaults.
    pub struct MultiStepConfig("multi_step", "multiply the lr by gamma at each milestone (torch MultiStepLR)") {
        /// Update counts at which the lr decays, non-decreasing.
        milestones: Vec<u64> = Vec::new(), NONNEG, required;
        /// Multiplicative factor of the decay.
        gamma: f64 = 0.1, POS;
    }
    check = check_milestones;
}

/// Milestones must not decrease (torch counts a repeated one twice).
fn check_milestones(c: &MultiStepConfig, owner: &str) -> Result<()> {
    if let Some(w) = c.milestones.windows(2).find(|w| w[1] < w[0]) {
        return Err(Error::invalid(
            owner,
            "milestones",
            format!("{:?}", c.milestones),
            format!(
                "a non-decreasing list of update counts ({} comes after {})",
                w[1], w[0]
            ),
        ));
    }
    Ok(())
}

impl MultiStepConfig {
    /// How many times `k` is listed.
    fn hits(&self, k: u64) -> usize {
        self.milestones.iter().filter(|&&m| m == k).count()
    }

    /// The closed form at update `k`, for an optimizer lr `base_lr`.
    pub fn closed_form(&self, base_lr: f64, k: u64) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= k);
        base_lr * self.gamma.powf(passed as f64)
    }
}

/// The `multi_step` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct MultiStep {
    cfg: MultiStepConfig,
    core: Core,
}

impl MultiStep {
    /// A multi-step schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: MultiStepConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = MultiStep {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }

    fn apply(&mut self) {
        let n = self.cfg.hits(self.core.epoch);
        if n > 0 {
            self.core.lr *= self.cfg.gamma.powf(n as f64);
        }
    }
}

impl TorchRule for MultiStep {
    const NAME: &'static str = "multi_step";
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
        // torch's get_lr does not skip the initial step: a milestone 0 applies at once.
        self.core.epoch = 0;
        self.core.lr = lr;
        self.apply();
    }
    fn advance(&mut self) {
        self.core.epoch = self.core.epoch.saturating_add(1);
        self.apply();
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
        // η = 1, milestones [2, 5], γ 0.5: 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25
        let s = build("multi_step([2, 5], 0.5)", 1.0, None).unwrap();
        assert_eq!(
            lrs(s.as_ref(), 7),
            vec![1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
        );
        // a repeated milestone decays twice; milestone 0 applies from the start
        let s = build("multi_step([0, 3, 3], 0.5)", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 5), vec![0.5, 0.5, 0.5, 0.125, 0.125]);
        // milestones past the run never fire
        let s = build("multi_step([1000000000000])", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 3), vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn matches_closed_form() {
        let cfg = MultiStepConfig {
            milestones: vec![10, 50, 50, 120, 299],
            gamma: 0.3,
        };
        let s = MultiStep::new(cfg.clone(), 0.07).unwrap();
        let want: Vec<f64> = (0..300).map(|k| cfg.closed_form(0.07, k)).collect();
        assert_close(&lrs(&s, 300), &want, 1e-12);
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("multi_step([5, 3])", 0.1, None), "milestones");
        assert_eq!(invalid_param("multi_step([-1])", 0.1, None), "milestones");
        assert_eq!(invalid_param("multi_step([1.5])", 0.1, None), "milestones");
        assert_eq!(invalid_param("multi_step([2], -0.1)", 0.1, None), "gamma");
        assert!(matches!(
            build("multi_step", 0.1, None),
            Err(Error::MissingArgument { .. })
        ));
        assert!(matches!(
            build("multi_step(gamma=0.5)", 0.1, None),
            Err(Error::MissingArgument { .. })
        ));
        let c = MultiStepConfig::from_call(
            &crate::spec::parse("multi_step(milestones=[3, 9])").unwrap(),
        )
        .unwrap();
        assert_eq!(
            c,
            MultiStepConfig {
                milestones: vec![3, 9],
                gamma: 0.1
            }
        );
        assert_eq!(MultiStepConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn state_round_trip() {
        round_trip("multi_step([10, 49, 50, 51, 80], 0.5)", 0.1, None, |_| 0.0);
    }
}
