//! `linear`: scale the lr by a factor that moves linearly from `start_factor` to
//! `end_factor` over `total_iters` updates, then holds (torch's `LinearLR`; the usual
//! warm-up).
//!
//! # Formula
//! Closed form, for update `k` (0 first) and the optimizer's lr `η`, with
//! `s = start_factor`, `e = end_factor`, `T = total_iters`:
//!
//! ```text
//! lr_k = η·(s + (e − s)·min(k, T) / T)
//! ```
//!
//! gradus follows torch's recursive update for bit-compatibility: `lr_0 = η·s`, and
//! for `1 ≤ k ≤ T`
//!
//! ```text
//! lr_k = lr_{k−1}·(1 + (e − s) / (T·s + (k − 1)·(e − s)))
//! ```
//!
//! Defaults: `start_factor=1/3, end_factor=1.0, total_iters=5`, as torch, with torch's
//! ranges `0 < start_factor <= 1`, `0 <= end_factor <= 1`.
//!
//! # Differences from torch
//! gradus requires `total_iters >= 1` (torch's closed form divides by it).

use super::{Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;

crate::hyperparameters! {
    /// Hyperparameters of [`Linear`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct LinearConfig("linear", "lr scaled by a factor moving linearly from start_factor to end_factor over total_iters updates (torch LinearLR)") {
        /// Factor of the first update's lr.
        start_factor: f64 = 1.0 / 3.0, open_closed(0.0, 1.0);
        /// Factor after `total_iters` updates.
        end_factor: f64 = 1.0, UNIT;
        /// Updates over which the factor moves.
        total_iters: u64 = 5, at_least(1.0);
    }
}

impl LinearConfig {
    /// The closed form at update `k`, for an optimizer lr `base_lr` (torch's
    /// `_get_closed_form_lr`, operation for operation).
    pub fn closed_form(&self, base_lr: f64, k: u64) -> f64 {
        let (s, e) = (self.start_factor, self.end_factor);
        base_lr * (s + (e - s) * k.min(self.total_iters) as f64 / self.total_iters as f64)
    }
}

/// The `linear` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Linear {
    cfg: LinearConfig,
    core: Core,
}

impl Linear {
    /// A linear schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: LinearConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = Linear {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for Linear {
    const NAME: &'static str = "linear";
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
        self.core.lr = lr * self.cfg.start_factor;
    }
    fn advance(&mut self) {
        let k = self.core.epoch.saturating_add(1);
        self.core.epoch = k;
        if k > self.cfg.total_iters {
            return;
        }
        let (s, e) = (self.cfg.start_factor, self.cfg.end_factor);
        // s > 0 and k ≤ T keep the denominator, s·(T − k + 1) + e·(k − 1), positive.
        let den = self.cfg.total_iters as f64 * s + (k - 1) as f64 * (e - s);
        self.core.lr *= 1.0 + (e - s) / den;
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
        // start 0.25, end 1, 3 updates, η = 1: factors 0.25, 0.5, 0.75, 1, 1
        let s = build("linear(0.25, 1.0, 3)", 1.0, None).unwrap();
        assert_close(&lrs(s.as_ref(), 5), &[0.25, 0.5, 0.75, 1.0, 1.0], 1e-15);
        // decay to 0: start 1, end 0, 2 updates: 1, 0.5, 0, 0
        let s = build("linear(1, 0, 2)", 1.0, None).unwrap();
        assert_close(&lrs(s.as_ref(), 4), &[1.0, 0.5, 0.0, 0.0], 1e-15);
    }

    #[test]
    fn matches_closed_form() {
        for (s, e, t) in [
            (1.0 / 3.0, 1.0, 5),
            (0.01, 1.0, 100),
            (1.0, 0.1, 250),
            (0.5, 0.5, 10),
            (0.2, 0.9, 299),
        ] {
            let cfg = LinearConfig {
                start_factor: s,
                end_factor: e,
                total_iters: t,
            };
            let sched = Linear::new(cfg, 0.1).unwrap();
            let want: Vec<f64> = (0..300).map(|k| cfg.closed_form(0.1, k)).collect();
            assert_close(&lrs(&sched, 300), &want, 1e-12);
        }
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("linear(0)", 0.1, None), "start_factor");
        assert_eq!(invalid_param("linear(1.5)", 0.1, None), "start_factor");
        assert_eq!(invalid_param("linear(nan)", 0.1, None), "start_factor");
        assert_eq!(invalid_param("linear(0.5, -0.1)", 0.1, None), "end_factor");
        assert_eq!(invalid_param("linear(0.5, 1.1)", 0.1, None), "end_factor");
        assert_eq!(invalid_param("linear(0.5, 1, 0)", 0.1, None), "total_iters");
        let c = LinearConfig::from_call(
            &crate::spec::parse("linear(start_factor=0.1, total_iters=10)").unwrap(),
        )
        .unwrap();
        assert_eq!(
            c,
            LinearConfig {
                start_factor: 0.1,
                end_factor: 1.0,
                total_iters: 10
            }
        );
        assert_eq!(LinearConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn state_round_trip() {
        round_trip("linear(0.1, 1.0, 80)", 0.1, None, |_| 0.0);
    }
}
