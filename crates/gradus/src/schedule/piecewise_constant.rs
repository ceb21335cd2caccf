//! `piecewise_constant`: absolute learning rates between boundaries (the second
//! tutorial's piecewise-constant schedule).
//!
//! For update `k` (0 first):
//!
//! ```text
//! lr_k = values[0]   for k < boundaries[0]
//!        values[i]   for boundaries[i−1] <= k < boundaries[i]
//!        values[n]   for k >= boundaries[n−1]
//! ```
//!
//! The values are learning rates, not factors: the optimizer's lr is not used. There
//! must be one more value than boundaries, the boundaries strictly increasing update
//! counts, the values finite and `>= 0`. Both are required. torch's nearest relative
//! is `MultiStepLR`, which multiplies by one `gamma` at each milestone.

use super::{Core, TorchRule};
use crate::error::{Error, Result};
use crate::spec::{fmt_value, Call};

crate::hyperparameters! {
    /// Hyperparameters of [`PiecewiseConstant`].
    pub struct PiecewiseConstantConfig("piecewise_constant", "absolute lr values[i] between boundaries (the second tutorial)") {
        /// Update counts where the lr changes, strictly increasing.
        boundaries: Vec<u64> = Vec::new(), NONNEG, required;
        /// The learning rates, one more than the boundaries.
        values: Vec<f64> = Vec::new(), NONNEG, required;
    }
    check = check_boundaries;
}

/// Boundaries strictly increasing, one more value than boundaries.
fn check_boundaries(c: &PiecewiseConstantConfig, owner: &str) -> Result<()> {
    if let Some(w) = c.boundaries.windows(2).find(|w| w[1] <= w[0]) {
        return Err(Error::invalid(
            owner,
            "boundaries",
            format!("{:?}", c.boundaries),
            format!(
                "a strictly increasing list of update counts ({} comes after {})",
                w[1], w[0]
            ),
        ));
    }
    if c.values.len() != c.boundaries.len() + 1 {
        return Err(Error::invalid(
            owner,
            "values",
            format!("a list of {}", c.values.len()),
            format!(
                "{} values: one more than the {} boundaries",
                c.boundaries.len() + 1,
                c.boundaries.len()
            ),
        ));
    }
    for (i, &v) in c.values.iter().enumerate() {
        if !(v.is_finite() && v >= 0.0) {
            return Err(Error::invalid(
                owner,
                format!("values[{i}]"),
                fmt_value(v),
                "a finite number >= 0",
            ));
        }
    }
    Ok(())
}

const OWNER: &str = "piecewise_constant";

impl PiecewiseConstantConfig {
    /// The lr of update `k`.
    pub fn lr_at(&self, k: u64) -> f64 {
        // `get` and the fallback only matter for a config that skipped validation.
        let i = self.boundaries.partition_point(|&b| b <= k);
        self.values
            .get(i)
            .or(self.values.last())
            .copied()
            .unwrap_or(0.0)
    }
}

/// The `piecewise_constant` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct PiecewiseConstant {
    cfg: PiecewiseConstantConfig,
    core: Core,
}

impl PiecewiseConstant {
    /// A piecewise-constant schedule (`base_lr`, the optimizer's lr, is not used).
    pub fn new(cfg: PiecewiseConstantConfig, base_lr: f64) -> Result<Self> {
        cfg.validate()?;
        let mut s = PiecewiseConstant {
            cfg,
            core: Core::new(base_lr),
        };
        TorchRule::begin(&mut s, base_lr);
        Ok(s)
    }
}

impl TorchRule for PiecewiseConstant {
    const NAME: &'static str = OWNER;
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
        self.core.lr = self.cfg.lr_at(self.core.epoch);
    }
    fn restart(&mut self) {
        self.core.epoch = 0;
        self.core.lr = self.cfg.lr_at(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};

    #[test]
    fn by_hand() {
        // boundaries [2, 4], values [0.1, 0.05, 0.01]: 0.1 0.1 0.05 0.05 0.01 0.01
        let s = build("piecewise_constant([2, 4], [0.1, 0.05, 0.01])", 123.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 6), vec![0.1, 0.1, 0.05, 0.05, 0.01, 0.01]);
        // no boundaries: one value forever; a boundary at 0 skips values[0]
        let s = build("piecewise_constant([], [0.3])", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 3), vec![0.3; 3]);
        let s = build("piecewise_constant([0], [0.3, 0.2])", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 2), vec![0.2; 2]);
    }

    #[test]
    fn validation() {
        assert_eq!(
            invalid_param("piecewise_constant([3, 3], [1, 2, 3])", 0.1, None),
            "boundaries"
        );
        assert_eq!(
            invalid_param("piecewise_constant([3, 1], [1, 2, 3])", 0.1, None),
            "boundaries"
        );
        assert_eq!(
            invalid_param("piecewise_constant([3], [1, 2, 3])", 0.1, None),
            "values"
        );
        assert_eq!(
            invalid_param("piecewise_constant([3], [1])", 0.1, None),
            "values"
        );
        assert_eq!(
            invalid_param("piecewise_constant([3], [1, nan])", 0.1, None),
            "values[1]"
        );
        assert_eq!(
            invalid_param("piecewise_constant([3], [-1, 1])", 0.1, None),
            "values[0]"
        );
        assert!(matches!(
            build("piecewise_constant([3])", 0.1, None),
            Err(Error::MissingArgument { .. })
        ));
        let c = PiecewiseConstantConfig::from_call(
            &crate::spec::parse("piecewise_constant([5], [0.1, 0.01])").unwrap(),
        )
        .unwrap();
        assert_eq!(PiecewiseConstantConfig::from_call(&c.to_call()).unwrap(), c);
    }

    #[test]
    fn state_round_trip() {
        round_trip(
            "piecewise_constant([20, 60, 90], [0.1, 0.05, 0.01, 0.001])",
            0.1,
            None,
            |_| 0.0,
        );
    }
}
