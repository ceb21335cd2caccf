//! `cyclic`: cycle the lr between `base_lr` and `max_lr` in triangles, optionally
//! shrinking them, while cycling momentum the opposite way (torch's `CyclicLR`; Smith
//! 2017, "Cyclical Learning Rates for Training Neural Networks", arXiv:1506.01186).
//!
//! # Formula
//! With `T = step_size_up + step_size_down` (`step_size_down` defaults to
//! `step_size_up`), `r = step_size_up / T` and update `k` (0 first):
//!
//! ```text
//! cycle = ⌊1 + k/T⌋                          (1 for the first cycle)
//! x     = 1 + k/T − cycle                    (position in the cycle, in [0, 1))
//! f     = x/r            if x <= r           (rising: 0 → 1)
//!         (x − 1)/(r − 1) otherwise          (falling: 1 → 0)
//! lr_k  = base_lr + (max_lr − base_lr)·f·s
//! m_k   = max_momentum − (max_momentum − base_momentum)·f·s
//! ```
//!
//! where the amplitude scale `s` is, by `mode`:
//!
//! ```text
//! triangular:   s = 1
//! triangular2:  s = 1 / 2^(cycle − 1)        (halved every cycle)
//! exp_range:    s = gamma^k
//! ```
//!
//! torch evaluates this closed form at every step (no recursion), and so does gradus,
//! in torch's order of operations, so the lr and momentum equal torch's to the bit.
//!
//! # The optimizer's lr and momentum
//! `CyclicLR` overwrites the optimizer's lr with `base_lr` when it is built, and its
//! momentum (SGD's `momentum`, Adam's `β1`) with `max_momentum` when
//! `cycle_momentum` is true; the optimizer's own values are never used. gradus does the
//! same: the lr given to [`build`](super::build) is ignored (except that, as the first
//! child of `sequential` or `chained`, `base_lr` becomes the param group's
//! `initial_lr` that later children start from, and, as a later child of `chained`,
//! the cycle's first lr is the group's `initial_lr`, as in torch), and
//! [`Schedule::momentum`](super::Schedule::momentum) returns the cycled momentum.
//! `cycle_momentum=true` requires an optimizer with momentum or betas (torch raises
//! `ValueError` otherwise; gradus refuses to build).
//!
//! # `scale_mode`
//! torch reads `scale_mode` only for a custom `scale_fn` (a Python function, which the
//! spec language cannot hold): for the built-in modes it forces `cycle` for
//! `triangular` and `triangular2` and `iterations` for `exp_range`, whatever was given.
//! gradus accepts the key with torch's default (`cycle`) and behaves the same way.
//!
//! Defaults: `step_size_up=2000, step_size_down=none (= step_size_up),
//! mode=triangular, gamma=1.0, scale_mode=cycle, cycle_momentum=true,
//! base_momentum=0.8, max_momentum=0.9`, as torch; `base_lr` and `max_lr` are
//! required. gradus also requires `step_size_up >= 1` (torch divides 0 by 0 at the
//! start of every cycle with 0), a whole `step_size_down >= 0`, finite lrs and momenta
//! `>= 0` and a finite `gamma > 0`.

use super::{Core, TorchRule};
use crate::error::{Error, Result};
use crate::spec::{fmt_value, Call};

crate::choice! {
    /// How `cyclic` scales the amplitude of its cycles.
    pub enum CyclicMode { Triangular = "triangular", Triangular2 = "triangular2", ExpRange = "exp_range" }
}

crate::choice! {
    /// Whether a cycle's scale is a function of the cycle number or of the update count.
    pub enum ScaleMode { Cycle = "cycle", Iterations = "iterations" }
}

crate::hyperparameters! {
    /// Hyperparameters of [`Cyclic`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct CyclicConfig("cyclic", "cycle the lr between base_lr and max_lr in triangles, momentum inversely (torch CyclicLR; Smith 2017)") {
        /// Lower end of the cycle (replaces the optimizer's lr, as in torch).
        base_lr: f64 = 0.001, NONNEG, log, required;
        /// Upper end of the cycle (reached only where the scale is 1).
        max_lr: f64 = 0.01, NONNEG, log, required;
        /// Updates in the rising half of a cycle.
        step_size_up: u64 = 2000, at_least(1.0);
        /// Updates in the falling half (none: as step_size_up).
        step_size_down: Option<f64> = None, NONNEG;
        /// Amplitude scaling: triangular (none), triangular2 (halved each cycle), exp_range (gamma^k).
        mode: CyclicMode = CyclicMode::Triangular, NONE;
        /// Base of exp_range's scale gamma^k.
        gamma: f64 = 1.0, POS;
        /// Torch reads it only for a custom scale_fn; fixed by mode otherwise.
        scale_mode: ScaleMode = ScaleMode::Cycle, NONE;
        /// Cycle the optimizer's momentum inversely to the lr.
        cycle_momentum: bool = true, NONE;
        /// Momentum at the lr's peak.
        base_momentum: f64 = 0.8, NONNEG;
        /// Momentum at the start of a cycle.
        max_momentum: f64 = 0.9, NONNEG;
    }
    check = check_step_size_down;
}

const OWNER: &str = "cyclic";

/// torch converts `step_size_down` with `float()` but documents an update count.
fn check_step_size_down(c: &CyclicConfig, owner: &str) -> Result<()> {
    match c.step_size_down {
        Some(d) if d.fract() != 0.0 || d > 9.007_199_254_740_992e15 => Err(Error::invalid(
            owner,
            "step_size_down",
            fmt_value(d),
            "a whole number of updates >= 0, or none",
        )),
        _ => Ok(()),
    }
}

impl CyclicConfig {
    /// torch's defaults with the given ends of the cycle.
    pub fn new(base_lr: f64, max_lr: f64) -> Self {
        CyclicConfig {
            base_lr,
            max_lr,
            ..Default::default()
        }
    }

    /// `(lr, momentum)` at update `k` (torch's `get_lr`).
    pub fn at(&self, k: u64) -> (f64, f64) {
        let up = self.step_size_up as f64;
        let total = up + self.step_size_down.unwrap_or(up);
        let ratio = up / total;
        let epoch = k as f64;
        let cycle = (1.0 + epoch / total).floor();
        let x = 1.0 + epoch / total - cycle;
        let factor = if x <= ratio {
            x / ratio
        } else {
            (x - 1.0) / (ratio - 1.0)
        };
        // torch fixes the scale's argument by mode (its scale_mode is for custom fns).
        let scale = match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
            CyclicMode::ExpRange => self.gamma.powf(epoch),
        };
        let lr = self.base_lr + (self.max_lr - self.base_lr) * factor * scale;
        let m = self.max_momentum - (self.max_momentum - self.base_momentum) * factor * scale;
        (lr, m)
    }
}

/// The `cyclic` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Cyclic {
    cfg: CyclicConfig,
    core: Core,
    momentum: f64,
}

impl Cyclic {
    /// A cyclic schedule for an optimizer whose momentum (or β1), if it has one, is
    /// `base_momentum` (only its presence matters: torch overwrites it). The
    /// optimizer's lr is not needed: torch overwrites it with `base_lr`.
    pub fn new(cfg: CyclicConfig, base_momentum: Option<f64>) -> Result<Self> {
        cfg.validate()?;
        if cfg.cycle_momentum && base_momentum.is_none() {
            return Err(Error::invalid(
                OWNER,
                "cycle_momentum",
                "true",
                "false for an optimizer without momentum or betas (torch raises ValueError)",
            ));
        }
        let mut s = Cyclic {
            cfg,
            core: Core::new(cfg.base_lr),
            momentum: cfg.max_momentum,
        };
        TorchRule::begin(&mut s, cfg.base_lr);
        Ok(s)
    }

    fn update(&mut self) {
        let (lr, m) = self.cfg.at(self.core.epoch);
        self.core.lr = lr;
        self.momentum = m;
    }
}

impl TorchRule for Cyclic {
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
        self.core.epoch = 0;
        self.update();
    }
    fn construct(&mut self, _lr: f64, initial_lr: f64) {
        // torch assigns its base_lrs only after the initial step, which therefore
        // starts the cycle at the group's initial_lr (its own base_lr, unless an
        // earlier scheduler set initial_lr).
        self.begin(initial_lr);
        self.core.lr = initial_lr;
    }
    fn advance(&mut self) {
        self.core.epoch = self.core.epoch.saturating_add(1);
        self.update();
    }
    fn restart(&mut self) {
        self.core.epoch = 0;
        self.update();
    }
    fn momentum(&self) -> Option<f64> {
        self.cfg.cycle_momentum.then_some(self.momentum)
    }
    fn preset_lr(&self) -> Option<f64> {
        Some(self.cfg.base_lr)
    }
    fn load_extra(&mut self, _values: &[f64]) -> Result<()> {
        // The lr and momentum follow from the step count.
        self.update();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};

    #[test]
    fn triangular_by_hand() {
        // base 0.1, max 0.5, up 2, down 3: rises 0.1, 0.3, 0.5 then falls in thirds of
        // 0.4 (0.3667, 0.2333) back to 0.1 at k = 5, and repeats. The optimizer's lr
        // (7.0) is ignored, as torch overwrites it.
        let s = build(
            "cyclic(0.1, 0.5, step_size_up=2, step_size_down=3)",
            7.0,
            Some(0.9),
        )
        .unwrap();
        let third = 0.4 / 3.0;
        let want = [0.1, 0.3, 0.5, 0.1 + 2.0 * third, 0.1 + third, 0.1, 0.3, 0.5];
        assert_close(&lrs(s.as_ref(), 8), &want, 1e-12);
        // momentum: 0.9 at the start, 0.8 at the peak
        let mut s = s;
        let mut m = vec![];
        for _ in 0..6 {
            m.push(s.momentum().unwrap());
            s.step(0.0);
        }
        assert_close(
            &m,
            &[0.9, 0.85, 0.8, 0.8 + 0.1 / 3.0, 0.9 - 0.1 / 3.0, 0.9],
            1e-12,
        );
    }

    #[test]
    fn triangular2_halves_and_exp_range_decays() {
        let s = build(
            "cyclic(0, 1, 2, mode=triangular2, cycle_momentum=false)",
            0.1,
            None,
        )
        .unwrap();
        // peaks at k = 2, 6, 10: 1, 0.5, 0.25
        let l = lrs(s.as_ref(), 11);
        assert_eq!((l[2], l[6], l[10]), (1.0, 0.5, 0.25));
        assert_eq!(s.momentum(), None);
        let s = build("cyclic(0, 1, 2, mode=exp_range, gamma=0.5)", 0.1, Some(0.9)).unwrap();
        // the scale is gamma^k at every update: k = 1 is halfway up, times 0.5
        let l = lrs(s.as_ref(), 7);
        assert_close(&[l[1], l[2], l[6]], &[0.25, 0.25, 1.0 / 64.0], 1e-15);
    }

    #[test]
    fn scale_mode_is_fixed_by_mode_as_in_torch() {
        for mode in ["triangular", "triangular2", "exp_range"] {
            let a = build(
                &format!("cyclic(0.01, 0.1, 3, mode={mode}, gamma=0.9, scale_mode=cycle)"),
                0.1,
                Some(0.9),
            )
            .unwrap();
            let b = build(
                &format!("cyclic(0.01, 0.1, 3, mode={mode}, gamma=0.9, scale_mode=iterations)"),
                0.1,
                Some(0.9),
            )
            .unwrap();
            assert_eq!(lrs(a.as_ref(), 40), lrs(b.as_ref(), 40), "{mode}");
        }
    }

    #[test]
    fn without_momentum_and_validation() {
        assert_eq!(
            invalid_param("cyclic(0.01, 0.1)", 0.1, None),
            "cycle_momentum"
        );
        for (spec, param) in [
            ("cyclic(-1, 0.1)", "base_lr"),
            ("cyclic(0.01, nan)", "max_lr"),
            ("cyclic(0.01, 0.1, 0)", "step_size_up"),
            ("cyclic(0.01, 0.1, step_size_down=1.5)", "step_size_down"),
            ("cyclic(0.01, 0.1, step_size_down=-1)", "step_size_down"),
            ("cyclic(0.01, 0.1, mode=exp)", "mode"),
            ("cyclic(0.01, 0.1, gamma=0)", "gamma"),
            ("cyclic(0.01, 0.1, scale_mode=epochs)", "scale_mode"),
            ("cyclic(0.01, 0.1, base_momentum=-0.1)", "base_momentum"),
            ("cyclic(0.01, 0.1, max_momentum=inf)", "max_momentum"),
        ] {
            assert_eq!(invalid_param(spec, 0.1, Some(0.9)), param, "{spec}");
        }
        assert!(matches!(
            build("cyclic(0.01)", 0.1, Some(0.9)),
            Err(Error::MissingArgument { .. })
        ));
        // a falling half of 0 updates drops straight back
        let s = build("cyclic(0, 1, 2, 0)", 0.1, Some(0.9)).unwrap();
        assert_close(&lrs(s.as_ref(), 5), &[0.0, 0.5, 0.0, 0.5, 0.0], 1e-15);
    }

    #[test]
    fn state_round_trip() {
        round_trip(
            "cyclic(0.001, 0.01, 7, 4, mode=triangular2)",
            0.1,
            Some(0.9),
            |_| 0.0,
        );
        round_trip(
            "cyclic(0.001, 0.01, 5, mode=exp_range, gamma=0.99)",
            0.1,
            Some(0.9),
            |_| 0.0,
        );
    }
}
