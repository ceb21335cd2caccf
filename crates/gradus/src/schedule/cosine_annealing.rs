//! `cosine_annealing`: a cosine from the optimizer's lr down to `eta_min` over `t_max`
//! updates, then back up, periodically (torch's `CosineAnnealingLR`; Loshchilov &
//! Hutter 2017, SGDR, without the restarts).
//!
//! # Formula
//! Closed form, for update `k` (0 first) and the optimizer's lr `η`:
//!
//! ```text
//! lr_k = η_min + (η − η_min)·(1 + cos(π·k / t_max)) / 2
//! ```
//!
//! Past `t_max` the cosine continues: the lr climbs back to `η` at `k = 2·t_max`, and
//! so on (torch does not clamp either).
//!
//! gradus follows torch's recursive update for bit-compatibility:
//!
//! ```text
//! lr_k = (1 + cos(π·k/t_max)) / (1 + cos(π·(k−1)/t_max))·(lr_{k−1} − η_min) + η_min
//! lr_k = lr_{k−1} + (η − η_min)·(1 − cos(π/t_max)) / 2     when (k − 1 − t_max) mod 2·t_max = 0
//! ```
//!
//! (the second line steps off the bottom of the cosine, where the ratio is 0/0).
//!
//! Defaults: `eta_min=0`; `t_max` (torch's `T_max`, accepted too) is required.
//!
//! # Differences from torch
//! gradus requires `t_max >= 1` (torch divides by it) and a finite `eta_min >= 0`.
//! Where the ratio's denominator rounds to zero (only for `t_max` above about 10⁸,
//! where torch raises `ZeroDivisionError`), gradus uses the closed form.

use super::{Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;
use std::f64::consts::PI;

crate::hyperparameters! {
    /// Hyperparameters of [`CosineAnnealing`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct CosineAnnealingConfig("cosine_annealing", "cosine from the lr down to eta_min over t_max updates, then back up (torch CosineAnnealingLR; Loshchilov & Hutter 2017)") {
        /// Half-period in updates (torch's `T_max`, also accepted).
        t_max: u64 = 1, at_least(1.0), required;
        /// Lowest lr.
        eta_min: f64 = 0.0, NONNEG;
    }
    prepare = super::torch_aliases;
}

impl CosineAnnealingConfig {
    /// The closed form at update `k`, for an optimizer lr `base_lr` (torch's
    /// `_get_closed_form_lr`, operation for operation).
    pub fn closed_form(&self, base_lr: f64, k: u64) -> f64 {
        let t = self.t_max as f64;
        self.eta_min + (base_lr - self.eta_min) * (1.0 + (PI * k as f64 / t).cos()) / 2.0
    }
}

/// The `cosine_annealing` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CosineAnnealing {
    cfg: CosineAnnealingConfig,
    core: Core,
}

impl CosineAnnealing {
    /// A cosine annealing schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: CosineAnnealingConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = CosineAnnealing {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for CosineAnnealing {
    const NAME: &'static str = "cosine_annealing";
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
        let (eta, t_max) = (self.cfg.eta_min, self.cfg.t_max);
        let t = t_max as f64;
        // Python's (k − 1 − T) % 2T, which is never negative.
        let bottom = (k as i128 - 1 - t_max as i128).rem_euclid(2 * t_max as i128) == 0;
        let lr = self.core.lr;
        self.core.lr = if bottom {
            lr + (self.core.base_lr - eta) * (1.0 - (PI / t).cos()) / 2.0
        } else {
            let den = 1.0 + (PI * (k - 1) as f64 / t).cos();
            if den == 0.0 {
                self.cfg.closed_form(self.core.base_lr, k)
            } else {
                (1.0 + (PI * k as f64 / t).cos()) / den * (lr - eta) + eta
            }
        };
    }
    fn restart(&mut self) {
        self.core.epoch = 0;
        self.core.lr = self.cfg.closed_form(self.core.base_lr, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};

    #[test]
    fn by_hand() {
        // η = 1, t_max 2, η_min 0: cos(0)=1 → 1; cos(π/2)=0 → 0.5; cos(π)=−1 → 0;
        // then back up: 0.5, 1, 0.5, 0 (to rounding).
        let s = build("cosine_annealing(2)", 1.0, None).unwrap();
        assert_close(
            &lrs(s.as_ref(), 7),
            &[1.0, 0.5, 0.0, 0.5, 1.0, 0.5, 0.0],
            1e-15,
        );
        // t_max 4, η_min 0.2, η 1: 1, 0.2 + 0.8·(1 + √½)/2 = 0.882843, 0.6, 0.317157, 0.2
        let s = build("cosine_annealing(4, 0.2)", 1.0, None).unwrap();
        let h = 0.8 * (1.0 + 0.5f64.sqrt()) / 2.0;
        assert_close(
            &lrs(s.as_ref(), 5),
            &[1.0, 0.2 + h, 0.6, 1.0 - h, 0.2],
            1e-12,
        );
    }

    #[test]
    fn matches_closed_form_beyond_t_max() {
        for (t_max, eta_min) in [(10, 0.0), (37, 0.001), (1, 0.0), (300, 0.01), (7, 0.05)] {
            let cfg = CosineAnnealingConfig { t_max, eta_min };
            let s = CosineAnnealing::new(cfg, 0.1).unwrap();
            let got = lrs(&s, 300);
            for (k, g) in got.iter().enumerate() {
                let w = cfg.closed_form(0.1, k as u64);
                // near the bottom the lr is eta_min plus rounding: compare absolutely there
                assert!(
                    (g - w).abs() <= 1e-12 * 0.1,
                    "t_max {t_max} k {k}: {g} vs {w}"
                );
                if w > eta_min + 1e-6 {
                    assert!(rel(*g, w) <= 1e-12, "t_max {t_max} k {k}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn huge_t_max_stays_finite() {
        let mut s = CosineAnnealing::new(
            CosineAnnealingConfig {
                t_max: 1 << 40,
                eta_min: 0.0,
            },
            0.1,
        )
        .unwrap();
        s.core.epoch = (1 << 40) - 3;
        for _ in 0..10 {
            TorchRule::advance(&mut s);
            assert!(s.core.lr.is_finite());
        }
    }

    #[test]
    fn validation_and_alias() {
        assert_eq!(invalid_param("cosine_annealing(0)", 0.1, None), "t_max");
        assert_eq!(
            invalid_param("cosine_annealing(10, -1)", 0.1, None),
            "eta_min"
        );
        assert_eq!(
            invalid_param("cosine_annealing(10, inf)", 0.1, None),
            "eta_min"
        );
        assert!(matches!(
            build("cosine_annealing", 0.1, None),
            Err(Error::MissingArgument { .. })
        ));
        assert!(matches!(
            build("cosine_annealing(t_max=3, T_max=3)", 0.1, None),
            Err(Error::Syntax { .. })
        ));
        let a = build("cosine_annealing(T_max=9, eta_min=0.01)", 0.1, None).unwrap();
        let b = build("cosine_annealing(t_max=9, eta_min=0.01)", 0.1, None).unwrap();
        assert_eq!(a.spec(), b.spec());
        assert_eq!(lrs(a.as_ref(), 30), lrs(b.as_ref(), 30));
    }

    #[test]
    fn state_round_trip() {
        round_trip(
            "cosine_annealing(t_max=30, eta_min=0.001)",
            0.1,
            None,
            |_| 0.0,
        );
    }
}
