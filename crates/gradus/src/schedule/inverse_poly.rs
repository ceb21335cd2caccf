//! `inverse_poly`: the second tutorial's polynomial schedule,
//! `lr_k = η·(1 + β·k)^(−α)`.
//!
//! For update `k` (0 first) and the optimizer's lr `η`:
//!
//! ```text
//! lr_k = η·(1 + beta·k)^(−alpha)
//! ```
//!
//! The tutorial's `η·(1 + 0.1·t)^(−0.5)` is `inverse_poly(beta=0.1, alpha=0.5)`.
//! torch has no such class (its `PolynomialLR` decays to 0 in finite time); this is
//! what `LambdaLR(lambda k: (1 + beta * k) ** -alpha)` computes. `beta` and `alpha` are
//! required, finite and `>= 0`.

use super::{Core, TorchRule};
use crate::error::Result;
use crate::spec::Call;

crate::hyperparameters! {
    /// Hyperparameters of [`InversePoly`].
    #[derive(Copy)]
    pub struct InversePolyConfig("inverse_poly", "lr·(1 + beta·k)^(−alpha) (the second tutorial's polynomial schedule)") {
        /// Time scale β.
        beta: f64 = 0.0, NONNEG, required;
        /// Power α.
        alpha: f64 = 0.0, NONNEG, required;
    }
}

impl InversePolyConfig {
    /// The lr of update `k`, for an optimizer lr `base_lr`.
    pub fn lr_at(&self, base_lr: f64, k: u64) -> f64 {
        base_lr * (1.0 + self.beta * k as f64).powf(-self.alpha)
    }
}

/// The `inverse_poly` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct InversePoly {
    cfg: InversePolyConfig,
    core: Core,
}

impl InversePoly {
    /// An inverse-polynomial schedule for an optimizer whose lr is `base_lr`.
    pub fn new(cfg: InversePolyConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = InversePoly {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for InversePoly {
    const NAME: &'static str = "inverse_poly";
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
        self.core.lr = self.cfg.lr_at(self.core.base_lr, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};

    #[test]
    fn the_tutorials_schedule() {
        // η·(1 + 0.1 t)^(−0.5), η = 0.1: t = 0 → 0.1; t = 10 → 0.1/√2; t = 30 → 0.05
        let s = build("inverse_poly(beta=0.1, alpha=0.5)", 0.1, None).unwrap();
        let l = lrs(s.as_ref(), 300);
        assert_eq!(l[0], 0.1);
        assert!((l[10] - 0.1 / 2f64.sqrt()).abs() < 1e-15);
        assert!((l[30] - 0.05).abs() < 1e-15);
        let want: Vec<f64> = (0..300)
            .map(|t| 0.1 / (1.0 + 0.1 * t as f64).sqrt())
            .collect();
        assert_close(&l, &want, 1e-14);
    }

    #[test]
    fn validation() {
        assert_eq!(invalid_param("inverse_poly(-0.1, 0.5)", 0.1, None), "beta");
        assert_eq!(invalid_param("inverse_poly(0.1, -0.5)", 0.1, None), "alpha");
        assert_eq!(invalid_param("inverse_poly(0.1, inf)", 0.1, None), "alpha");
        assert!(matches!(
            build("inverse_poly(0.1)", 0.1, None),
            Err(crate::Error::MissingArgument { .. })
        ));
        let c = InversePolyConfig::from_call(
            &crate::spec::parse("inverse_poly(alpha=1, beta=2)").unwrap(),
        )
        .unwrap();
        assert_eq!(
            c,
            InversePolyConfig {
                beta: 2.0,
                alpha: 1.0
            }
        );
        assert_eq!(InversePolyConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn state_round_trip() {
        round_trip("inverse_poly(0.1, 0.5)", 0.1, None, |_| 0.0);
    }
}
