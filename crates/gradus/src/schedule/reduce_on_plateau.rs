//! `reduce_on_plateau`: multiply the lr by `factor` when the loss has not improved for
//! more than `patience` updates (torch's `ReduceLROnPlateau`).
//!
//! # Rule
//! After each update, with the loss `m` passed to [`Schedule::step`]:
//!
//! ```text
//! better(m) = m < best·(1 − threshold)   mode=min, threshold_mode=rel
//!             m < best − threshold       mode=min, threshold_mode=abs
//!             m > best·(1 + threshold)   mode=max, threshold_mode=rel
//!             m > best + threshold       mode=max, threshold_mode=abs
//! ```
//!
//! `best` starts at +∞ (−∞ for `max`). A better `m` becomes `best` and clears the
//! count of bad updates; otherwise the count grows. During a cooldown (the `cooldown`
//! updates after a reduction) the count is held at 0. When the count exceeds
//! `patience`, `lr ← max(lr·factor, min_lr)` (skipped if that changes the lr by no
//! more than `eps`), the cooldown starts and the count is cleared. A NaN loss is never
//! better. This is torch's code, step for step.
//!
//! Defaults: `mode=min, factor=0.1, patience=10, threshold=1e-4, threshold_mode=rel,
//! cooldown=0, min_lr=0, eps=1e-8`, as torch; `mode` and `threshold_mode` are bare
//! words (`mode=max`).
//!
//! # Differences from torch
//! torch only checks `factor < 1`; gradus also requires `factor >= 0`, and finite,
//! non-negative `threshold`, `min_lr` and `eps`. It cannot run inside `sequential`
//! (torch refuses that too).

use super::{check_state, count, Schedule, ScheduleState};
use crate::error::{Error, Result};
use crate::optim::check_nonneg;
use crate::spec::Call;

crate::hyperparameters! {
    /// Hyperparameters of [`ReduceOnPlateau`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct ReduceOnPlateauConfig("reduce_on_plateau", "multiply the lr by factor when the loss stops improving for patience updates (torch ReduceLROnPlateau)") {
        /// Lower (min) or higher (max) is better.
        mode: PlateauMode = PlateauMode::Min, NONE;
        /// Factor of a reduction.
        factor: f64 = 0.1, UNIT_OPEN;
        /// Bad updates tolerated before a reduction.
        patience: u64 = 10, NONNEG;
        /// Size of a significant improvement.
        threshold: f64 = 1e-4, NONNEG, log;
        /// Relative (rel) or absolute (abs) threshold.
        threshold_mode: ThresholdMode = ThresholdMode::Rel, NONE;
        /// Updates after a reduction during which bad updates are not counted.
        cooldown: u64 = 0, NONNEG;
        /// Lower bound of the lr.
        min_lr: f64 = 0.0, NONNEG;
        /// Reductions smaller than this are skipped.
        eps: f64 = 1e-8, NONNEG, log;
    }
}

crate::choice! {
    /// Whether a lower (`min`, a loss) or a higher (`max`, an accuracy) metric is better.
    pub enum PlateauMode { Min = "min", Max = "max" }
}

crate::choice! {
    /// How `threshold` measures a significant improvement: relative to `best` (`rel`)
    /// or in the metric's units (`abs`).
    pub enum ThresholdMode { Rel = "rel", Abs = "abs" }
}

const OWNER: &str = "reduce_on_plateau";

impl ReduceOnPlateauConfig {
    /// torch's `_is_better`.
    fn is_better(&self, a: f64, best: f64) -> bool {
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + self.threshold,
        }
    }
}

/// The `reduce_on_plateau` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ReduceOnPlateau {
    cfg: ReduceOnPlateauConfig,
    lr: f64,
    best: f64,
    num_bad_epochs: u64,
    cooldown_counter: u64,
    last_epoch: u64,
}

impl ReduceOnPlateau {
    /// A plateau schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: ReduceOnPlateauConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        check_nonneg(OWNER, "base_lr (the optimizer's lr)", base_lr)?;
        Ok(ReduceOnPlateau {
            lr: base_lr,
            best: Self::worst(cfg.mode),
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
            cfg,
        })
    }

    fn worst(mode: PlateauMode) -> f64 {
        match mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        }
    }

    /// The best metric so far (±∞ before the first).
    pub fn best(&self) -> f64 {
        self.best
    }
}

impl Schedule for ReduceOnPlateau {
    fn name(&self) -> &'static str {
        OWNER
    }
    fn spec(&self) -> Call {
        self.cfg.to_call()
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn step(&mut self, metric: f64) {
        self.last_epoch = self.last_epoch.saturating_add(1);
        if self.cfg.is_better(metric, self.best) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs = self.num_bad_epochs.saturating_add(1);
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.cfg.patience {
            let old = self.lr;
            let new = (old * self.cfg.factor).max(self.cfg.min_lr);
            if old - new > self.cfg.eps {
                self.lr = new;
            }
            self.cooldown_counter = self.cfg.cooldown;
            self.num_bad_epochs = 0;
        }
    }
    fn last_epoch(&self) -> u64 {
        self.last_epoch
    }
    fn state(&self) -> ScheduleState {
        // `best` is ±∞ until the first improvement: saved as a sign and 0 to keep the
        // values finite (JSON has no infinity).
        let (best, inf) = if self.best.is_finite() {
            (self.best, 0.0)
        } else {
            (0.0, self.best.signum())
        };
        ScheduleState {
            name: OWNER.into(),
            spec: self.cfg.to_call().to_string(),
            last_epoch: self.last_epoch,
            values: vec![
                self.lr,
                best,
                inf,
                self.num_bad_epochs as f64,
                self.cooldown_counter as f64,
            ],
            children: vec![],
        }
    }
    fn load_state(&mut self, state: &ScheduleState) -> Result<()> {
        check_state(state, OWNER, &self.cfg.to_call(), 5)?;
        let v = &state.values;
        let best = match v[2] {
            0.0 => v[1],
            1.0 => f64::INFINITY,
            -1.0 => f64::NEG_INFINITY,
            x => {
                return Err(Error::StateMismatch(format!(
                    "{OWNER}: saved infinity flag {x}"
                )))
            }
        };
        let (bad, cool) = (count(OWNER, v[3])?, count(OWNER, v[4])?);
        self.lr = v[0];
        self.best = best;
        self.num_bad_epochs = bad;
        self.cooldown_counter = cool;
        self.last_epoch = state.last_epoch;
        Ok(())
    }
    fn boxed_clone(&self) -> Box<dyn Schedule> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::build;
    use crate::schedule::testing::*;

    fn run(spec: &str, lr: f64, metrics: &[f64]) -> Vec<f64> {
        let mut s = build(spec, lr, None).unwrap();
        metrics
            .iter()
            .map(|&m| {
                let lr = s.lr();
                s.step(m);
                lr
            })
            .collect()
    }

    #[test]
    fn patience_by_hand() {
        // patience 2, factor 0.5, η = 1, losses 5, 4, 4, 4, 4, 3, 3, 3, 3:
        // 5 (best), 4 (best), 4 bad 1, 4 bad 2, 4 bad 3 > 2 → lr 0.5 after update 4,
        // 3 best, 3 bad 1, 3 bad 2, 3 bad 3 → 0.25 after update 8.
        let got = run(
            "reduce_on_plateau(factor=0.5, patience=2)",
            1.0,
            &[5., 4., 4., 4., 4., 3., 3., 3., 3., 3.],
        );
        assert_eq!(got, vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]);
    }

    #[test]
    fn cooldown_min_lr_and_eps() {
        // patience 0, cooldown 2: every non-improving update reduces, except during the
        // two updates of cooldown after each reduction.
        let got = run(
            "reduce_on_plateau(factor=0.5, patience=0, cooldown=2)",
            1.0,
            &[1.0; 8],
        );
        // 1: best. 2: bad → 0.5, cooldown 2. 3, 4: cooldown. 5: bad → 0.25. ...
        assert_eq!(got, vec![1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]);
        // min_lr floors it; eps stops tiny reductions
        let got = run(
            "reduce_on_plateau(factor=0.1, patience=0, min_lr=0.05)",
            1.0,
            &[1.0; 5],
        );
        assert_eq!(got, vec![1.0, 1.0, 0.1, 0.05, 0.05]);
        let got = run(
            "reduce_on_plateau(factor=0.5, patience=0, eps=0.3)",
            1.0,
            &[1.0; 5],
        );
        assert_eq!(got, vec![1.0, 1.0, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn modes_and_thresholds() {
        // max mode: an accuracy rising then flat
        let got = run(
            "reduce_on_plateau(mode=max, patience=1, factor=0.5)",
            1.0,
            &[0.5, 0.6, 0.6, 0.6, 0.7],
        );
        assert_eq!(got, vec![1.0, 1.0, 1.0, 1.0, 0.5]);
        // abs threshold 0.5: a gain of 0.4 is not an improvement
        let got = run(
            "reduce_on_plateau(patience=0, factor=0.5, threshold=0.5, threshold_mode=abs)",
            1.0,
            &[10.0, 9.6, 9.0],
        );
        assert_eq!(got, vec![1.0, 1.0, 0.5]);
        // NaN is never better
        let got = run(
            "reduce_on_plateau(patience=0, factor=0.5)",
            1.0,
            &[1.0, f64::NAN, 0.5],
        );
        assert_eq!(got, vec![1.0, 1.0, 0.5]);
    }

    #[test]
    fn validation() {
        for (spec, param) in [
            ("reduce_on_plateau(factor=1)", "factor"),
            ("reduce_on_plateau(factor=-0.1)", "factor"),
            ("reduce_on_plateau(factor=nan)", "factor"),
            ("reduce_on_plateau(patience=-1)", "patience"),
            ("reduce_on_plateau(threshold=-1)", "threshold"),
            ("reduce_on_plateau(cooldown=1.5)", "cooldown"),
            ("reduce_on_plateau(min_lr=inf)", "min_lr"),
            ("reduce_on_plateau(eps=nan)", "eps"),
            ("reduce_on_plateau(mode=median)", "mode"),
            ("reduce_on_plateau(threshold_mode=pct)", "threshold_mode"),
        ] {
            assert_eq!(invalid_param(spec, 0.1, None), param, "{spec}");
        }
        let c = ReduceOnPlateauConfig::from_call(
            &crate::spec::parse("reduce_on_plateau(max, 0.5, 3)").unwrap(),
        )
        .unwrap();
        assert_eq!(
            c,
            ReduceOnPlateauConfig {
                mode: PlateauMode::Max,
                factor: 0.5,
                patience: 3,
                ..Default::default()
            }
        );
        assert_eq!(ReduceOnPlateauConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn state_round_trip() {
        // a loss that plateaus in stretches
        round_trip(
            "reduce_on_plateau(factor=0.5, patience=3, cooldown=2)",
            0.1,
            None,
            |k| 1.0 / (1 + k / 7) as f64,
        );
        // saved before any improvement: best is +inf
        let s = build("reduce_on_plateau", 0.1, None).unwrap();
        let mut t = build("reduce_on_plateau", 0.1, None).unwrap();
        t.step(1.0);
        t.load_state(&s.state()).unwrap();
        assert_eq!(t.state(), s.state());
        assert!(serde_json::to_string(&s.state()).is_ok());
    }
}
