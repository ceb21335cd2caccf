//! `cosine_annealing_warm_restarts`: cosine annealing from the optimizer's lr to
//! `eta_min`, restarted after `t_0` updates, then after `t_0·t_mult`, `t_0·t_mult²`, ...
//! (torch's `CosineAnnealingWarmRestarts`; Loshchilov & Hutter 2017, SGDR).
//!
//! # Formula
//! With `T_cur` the updates since the last restart and `T_i` the current period:
//!
//! ```text
//! lr_k = η_min + (η − η_min)·(1 + cos(π·T_cur / T_i)) / 2
//! ```
//!
//! After each update `T_cur` grows by one; when it reaches `T_i` it returns to 0 and
//! `T_i` is multiplied by `t_mult`. torch evaluates this formula from the counters at
//! every step (it has no recursive form here), and so does gradus; the counters are
//! part of the saved state.
//!
//! Defaults: `t_mult=1, eta_min=0`; `t_0` (torch's `T_0`; `T_0` and `T_mult` are
//! accepted too) is required. As torch: `t_0 >= 1` and integer `t_mult >= 1`. gradus
//! also requires a finite `eta_min >= 0`.

use super::{count, Core, TorchRule};
use crate::error::{Error, Result};
use crate::spec::Call;
use std::f64::consts::PI;

crate::hyperparameters! {
    /// Hyperparameters of [`CosineAnnealingWarmRestarts`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct CosineAnnealingWarmRestartsConfig("cosine_annealing_warm_restarts", "cosine annealing restarted every t_0, t_0·t_mult, ... updates (torch CosineAnnealingWarmRestarts, SGDR)") {
        /// Updates until the first restart (torch's `T_0`, also accepted).
        t_0: u64 = 1, at_least(1.0), required;
        /// Factor by which the period grows after each restart (torch's `T_mult`).
        t_mult: u64 = 1, at_least(1.0);
        /// Lowest lr.
        eta_min: f64 = 0.0, NONNEG;
    }
    prepare = super::torch_aliases;
}

const OWNER: &str = "cosine_annealing_warm_restarts";

impl CosineAnnealingWarmRestartsConfig {
    /// The lr `T_cur` updates into a period of `T_i`, for an optimizer lr `base_lr`.
    pub fn lr_at(&self, base_lr: f64, t_cur: u64, t_i: u64) -> f64 {
        self.eta_min
            + (base_lr - self.eta_min) * (1.0 + (PI * t_cur as f64 / t_i as f64).cos()) / 2.0
    }

    /// `(T_cur, T_i)` at update `k`, found by walking the periods.
    pub fn counters(&self, k: u64) -> (u64, u64) {
        // `max(1)` only matters for a config that skipped validation.
        let (mut start, mut t_i) = (0u64, self.t_0.max(1));
        while k - start >= t_i {
            start += t_i;
            t_i = t_i.saturating_mul(self.t_mult.max(1));
        }
        (k - start, t_i)
    }
}

/// The `cosine_annealing_warm_restarts` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CosineAnnealingWarmRestarts {
    cfg: CosineAnnealingWarmRestartsConfig,
    core: Core,
    t_cur: u64,
    t_i: u64,
}

impl CosineAnnealingWarmRestarts {
    /// A warm-restart schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: CosineAnnealingWarmRestartsConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = CosineAnnealingWarmRestarts {
            cfg,
            core: Core::new(base_lr),
            t_cur: 0,
            t_i: cfg.t_0,
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }

    fn update(&mut self) {
        self.core.lr = self.cfg.lr_at(self.core.base_lr, self.t_cur, self.t_i);
    }
}

impl TorchRule for CosineAnnealingWarmRestarts {
    const NAME: &'static str = OWNER;
    const EXTRA: usize = 2;
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
        // torch's step() from last_epoch −1 takes the `epoch = 0` branch.
        self.core.epoch = 0;
        self.t_cur = 0;
        self.t_i = self.cfg.t_0;
        self.update();
    }
    fn advance(&mut self) {
        self.core.epoch = self.core.epoch.saturating_add(1);
        self.t_cur += 1;
        if self.t_cur >= self.t_i {
            self.t_cur %= self.t_i;
            self.t_i = self.t_i.saturating_mul(self.cfg.t_mult);
        }
        self.update();
    }
    fn restart(&mut self) {
        // torch has no closed form here: `_update_lr(0)` calls get_lr() with the
        // counters as they are.
        self.core.epoch = 0;
        self.update();
    }
    fn extra(&self) -> Vec<f64> {
        vec![self.t_cur as f64, self.t_i as f64]
    }
    fn load_extra(&mut self, values: &[f64]) -> Result<()> {
        let (t_cur, t_i) = (count(OWNER, values[0])?, count(OWNER, values[1])?);
        if t_i == 0 || t_cur >= t_i {
            return Err(Error::StateMismatch(format!(
                "{OWNER}: saved T_cur {t_cur} with T_i {t_i}"
            )));
        }
        self.t_cur = t_cur;
        self.t_i = t_i;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};

    #[test]
    fn by_hand_with_t_mult_2() {
        // η = 1, t_0 2, t_mult 2: periods of 2, 4, 8 updates.
        // k:     0  1    2  3      4    5      6  7 ...
        // T_cur: 0  1    0  1      2    3      0  1
        // T_i:   2  2    4  4      4    4      8  8
        // lr:    1  0.5  1  0.854  0.5  0.146  1  0.962
        let s = build("cosine_annealing_warm_restarts(2, 2)", 1.0, None).unwrap();
        let c = |x: f64| (1.0 + x.cos()) / 2.0;
        let want = [
            1.0,
            0.5,
            1.0,
            c(PI / 4.0),
            0.5,
            c(3.0 * PI / 4.0),
            1.0,
            c(PI / 8.0),
        ];
        assert_close(&lrs(s.as_ref(), 8), &want, 1e-15);
    }

    #[test]
    fn matches_closed_form() {
        for (t_0, t_mult, eta_min) in [(10, 1, 0.0), (3, 2, 0.001), (1, 3, 0.0), (7, 1, 0.01)] {
            let cfg = CosineAnnealingWarmRestartsConfig {
                t_0,
                t_mult,
                eta_min,
            };
            let s = CosineAnnealingWarmRestarts::new(cfg, 0.1).unwrap();
            let want: Vec<f64> = (0..300)
                .map(|k| {
                    let (t_cur, t_i) = cfg.counters(k);
                    cfg.lr_at(0.1, t_cur, t_i)
                })
                .collect();
            assert_close(&lrs(&s, 300), &want, 1e-12);
        }
    }

    #[test]
    fn periods_saturate_instead_of_overflowing() {
        let mut s = CosineAnnealingWarmRestarts::new(
            CosineAnnealingWarmRestartsConfig {
                t_0: 1,
                t_mult: 1 << 40,
                eta_min: 0.0,
            },
            0.1,
        )
        .unwrap();
        for _ in 0..5 {
            s.t_cur = s.t_i - 1;
            TorchRule::advance(&mut s);
        }
        assert_eq!(s.t_i, u64::MAX);
        assert!(s.core.lr.is_finite());
    }

    #[test]
    fn validation_and_aliases() {
        assert_eq!(
            invalid_param("cosine_annealing_warm_restarts(0)", 0.1, None),
            "t_0"
        );
        assert_eq!(
            invalid_param("cosine_annealing_warm_restarts(5, 0)", 0.1, None),
            "t_mult"
        );
        assert_eq!(
            invalid_param("cosine_annealing_warm_restarts(5, 1.5)", 0.1, None),
            "t_mult"
        );
        assert_eq!(
            invalid_param("cosine_annealing_warm_restarts(5, 1, -0.1)", 0.1, None),
            "eta_min"
        );
        assert!(matches!(
            build("cosine_annealing_warm_restarts(t_mult=2)", 0.1, None),
            Err(Error::MissingArgument { .. })
        ));
        assert!(matches!(
            build("cosine_annealing_warm_restarts(t_0=2, T_0=2)", 0.1, None),
            Err(Error::Syntax { .. })
        ));
        let a = build("cosine_annealing_warm_restarts(T_0=3, T_mult=2)", 0.1, None).unwrap();
        let b = build("cosine_annealing_warm_restarts(t_0=3, t_mult=2)", 0.1, None).unwrap();
        assert_eq!(a.spec(), b.spec());
    }

    #[test]
    fn state_round_trip() {
        round_trip(
            "cosine_annealing_warm_restarts(t_0=3, t_mult=2, eta_min=0.001)",
            0.1,
            None,
            |_| 0.0,
        );
    }
}
