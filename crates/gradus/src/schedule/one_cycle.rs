//! `one_cycle`: the 1cycle policy: warm the lr up from `max_lr/div_factor` to `max_lr`,
//! then anneal it far below the start, while cycling momentum the opposite way
//! (torch's `OneCycleLR`; Smith & Topin 2017, "Super-Convergence").
//!
//! # Formula
//! With `T = total_steps`, `p = pct_start`, `η_0 = max_lr / div_factor` and
//! `η_min = η_0 / final_div_factor`, the phases end at update
//!
//! ```text
//! two phases (default):  e_1 = p·T − 1,  e_2 = T − 1
//!                        η_0 → max_lr,  max_lr → η_min
//! three_phase=true:      e_1 = p·T − 1,  e_2 = 2·p·T − 2,  e_3 = T − 1
//!                        η_0 → max_lr,  max_lr → η_0,  η_0 → η_min
//! ```
//!
//! and in the phase from `e_{i−1}` (0 for the first) to `e_i`, update `k` takes
//! `anneal(start, end, (k − e_{i−1}) / (e_i − e_{i−1}))` with
//!
//! ```text
//! cos:    anneal(a, b, x) = b + (a − b)/2·(1 + cos(π·x))
//! linear: anneal(a, b, x) = (b − a)·x + a
//! ```
//!
//! When `cycle_momentum` is true, the momentum (SGD's `momentum` or Adam's `β1`) is
//! annealed the same way between `max_momentum` and `base_momentum`: down while the lr
//! goes up, and back up after (held at `max_momentum` in the third phase); it is what
//! [`Schedule::momentum`](super::Schedule::momentum) returns. torch computes every
//! value from the step number (no recursion), and so does gradus.
//!
//! Like torch, `one_cycle` ignores the optimizer's lr, and requires an optimizer with
//! momentum or betas when `cycle_momentum` is true (it is a build error otherwise).
//! `total_steps` may instead be given as `epochs`·`steps_per_epoch`.
//!
//! Defaults: `pct_start=0.3, anneal_strategy=cos, cycle_momentum=true,
//! base_momentum=0.85, max_momentum=0.95, div_factor=25.0, final_div_factor=1e4,
//! three_phase=false`, as torch; `max_lr` and `total_steps` are required.
//!
//! # Differences from torch
//! * torch raises `ValueError` when stepped more than `total_steps` times; gradus
//!   does not fail: every update after update `total_steps` gets the lr and momentum
//!   of the end of the cycle (update `total_steps − 1`: `η_min` and `max_momentum`).
//!   Update `total_steps` itself, one past the end of the last phase, is torch's:
//!   the last phase's formula extrapolated a step (beyond `η_min`; negative with
//!   `anneal_strategy=linear`). So give `total_steps` at least the number of updates.
//! * `pct_start·total_steps = 1` makes torch divide by zero at construction; gradus
//!   refuses it. Where the last phase is empty (`pct_start=1`, or
//!   `2·pct_start·T = T + 1` with three phases) torch divides by zero at step
//!   `total_steps`; gradus uses the start of that phase (no jump).
//! * gradus requires finite `max_lr > 0`, `div_factor > 0`, `final_div_factor > 0` and
//!   momenta `>= 0` (torch checks none of these).

use super::{Core, TorchRule};
use crate::error::{Error, Result};
use crate::hyper::HyperValue;
use crate::spec::{fmt_value, Call, Value};
use std::f64::consts::PI;

crate::hyperparameters! {
    /// Hyperparameters of [`OneCycle`], with torch's names and defaults.
    #[derive(Copy)]
    pub struct OneCycleConfig("one_cycle", "1cycle: warm up to max_lr, anneal far below, cycling momentum inversely (torch OneCycleLR; Smith & Topin 2017)") {
        /// Peak lr.
        max_lr: f64 = 0.1, POS, log, required;
        /// Length of the cycle in updates (or `epochs` times `steps_per_epoch`).
        total_steps: u64 = 1, at_least(1.0), required;
        /// Fraction of the cycle spent warming up.
        pct_start: f64 = 0.3, UNIT;
        /// Cosine (cos) or linear annealing.
        anneal_strategy: AnnealStrategy = AnnealStrategy::Cos, NONE;
        /// Cycle the optimizer's momentum inversely to the lr.
        cycle_momentum: bool = true, NONE;
        /// Momentum at the lr's peak.
        base_momentum: f64 = 0.85, NONNEG;
        /// Momentum at the start and end.
        max_momentum: f64 = 0.95, NONNEG;
        /// The first lr is `max_lr / div_factor`.
        div_factor: f64 = 25.0, POS;
        /// The last lr is the first divided by `final_div_factor`.
        final_div_factor: f64 = 1e4, POS, log;
        /// Use the paper's three phases instead of fastai's two.
        three_phase: bool = false, NONE;
    }
    check = check_warmup;
    prepare = epochs_to_total_steps;
}

crate::choice! {
    /// How `one_cycle` moves between the ends of a phase: half a cosine (`cos`) or a
    /// straight line (`linear`).
    pub enum AnnealStrategy { Cos = "cos", Linear = "linear" }
}

impl AnnealStrategy {
    /// From `start` to `end` as `pct` goes from 0 to 1 (torch's `_annealing_cos` and
    /// `_annealing_linear`).
    pub fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            AnnealStrategy::Cos => {
                let cos_out = (PI * pct).cos() + 1.0;
                end + (start - end) / 2.0 * cos_out
            }
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

const OWNER: &str = "one_cycle";

/// torch's rule the table cannot state: the warm-up must last a nonzero number of updates.
fn check_warmup(c: &OneCycleConfig, owner: &str) -> Result<()> {
    if c.pct_start * c.total_steps as f64 == 1.0 {
        return Err(Error::invalid(
            owner,
            "pct_start",
            fmt_value(c.pct_start),
            format!(
                "a value with pct_start·total_steps ≠ 1 (the warm-up would last 0 updates; torch divides by zero), e.g. {}",
                fmt_value(2.0 / c.total_steps as f64)
            ),
        ));
    }
    Ok(())
}

/// torch's alternative to `total_steps`: `epochs` and `steps_per_epoch`, whose product
/// becomes `total_steps`.
fn epochs_to_total_steps(call: &Call) -> Result<Call> {
    let take = |key: &str| call.keywords.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let (epochs, per_epoch) = (take("epochs"), take("steps_per_epoch"));
    if epochs.is_none() && per_epoch.is_none() {
        return Ok(call.clone());
    }
    let count = |key: &str, v: Option<&Value>| -> Result<u64> {
        match v {
            None => Err(Error::MissingArgument {
                call: OWNER.into(),
                key: key.into(),
            }),
            Some(Value::Integer(n)) if *n >= 1 => Ok(*n as u64),
            Some(Value::Number(x))
                if x.is_finite()
                    && *x >= 1.0
                    && x.fract() == 0.0
                    && *x <= 9.007_199_254_740_992e15 =>
            {
                Ok(*x as u64)
            }
            Some(v) => Err(Error::invalid(OWNER, key, v.to_string(), "an integer >= 1")),
        }
    };
    let e = count("epochs", epochs)?;
    let s = count("steps_per_epoch", per_epoch)?;
    let total = e.checked_mul(s).ok_or_else(|| {
        Error::invalid(
            OWNER,
            "epochs",
            e,
            "small enough that epochs·steps_per_epoch fits in 64 bits",
        )
    })?;
    let mut out = call.clone();
    out.keywords
        .retain(|(k, _)| k != "epochs" && k != "steps_per_epoch");
    if !out.keywords.iter().any(|(k, _)| k == "total_steps") && out.positional.len() < 2 {
        out.keywords.push(("total_steps".into(), total.to_value()));
    }
    Ok(out)
}

impl OneCycleConfig {
    /// torch's defaults for the given `max_lr` and `total_steps`.
    pub fn new(max_lr: f64, total_steps: u64) -> Self {
        OneCycleConfig {
            max_lr,
            total_steps,
            ..Default::default()
        }
    }

    /// The phases: `(end_step, start_lr, end_lr, start_momentum, end_momentum)`.
    fn phases(&self) -> Vec<(f64, f64, f64, f64, f64)> {
        let t = self.total_steps.max(1); // max(1): only for a config that skipped validation
        let p = self.pct_start;
        let initial = self.max_lr / self.div_factor;
        let min_lr = initial / self.final_div_factor;
        let (max_m, base_m) = (self.max_momentum, self.base_momentum);
        if self.three_phase {
            vec![
                (p * t as f64 - 1.0, initial, self.max_lr, max_m, base_m),
                (
                    2.0 * p * t as f64 - 2.0,
                    self.max_lr,
                    initial,
                    base_m,
                    max_m,
                ),
                ((t - 1) as f64, initial, min_lr, max_m, max_m),
            ]
        } else {
            vec![
                (p * t as f64 - 1.0, initial, self.max_lr, max_m, base_m),
                ((t - 1) as f64, self.max_lr, min_lr, base_m, max_m),
            ]
        }
    }

    /// `(lr, momentum)` at update `k` (torch's `get_lr`); past `total_steps`, the
    /// values at the end of the cycle (update `total_steps − 1`).
    pub fn at(&self, k: u64) -> (f64, f64) {
        let step = if k > self.total_steps {
            self.total_steps.saturating_sub(1)
        } else {
            k
        } as f64;
        let phases = self.phases();
        let last = phases.len() - 1;
        // The first phase with step <= its end, else the last (torch's loop).
        let i = phases.iter().position(|ph| step <= ph.0).unwrap_or(last);
        let start = if i == 0 { 0.0 } else { phases[i - 1].0 };
        let (end, lr0, lr1, m0, m1) = phases[i];
        let len = end - start;
        // Only an empty last phase can be reached with len 0 (torch: ZeroDivisionError).
        let pct = if len == 0.0 {
            0.0
        } else {
            (step - start) / len
        };
        let a = self.anneal_strategy;
        (a.anneal(lr0, lr1, pct), a.anneal(m0, m1, pct))
    }
}

/// The `one_cycle` schedule: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct OneCycle {
    cfg: OneCycleConfig,
    core: Core,
    momentum: f64,
}

impl OneCycle {
    /// A 1cycle schedule for an optimizer whose momentum (or β1), if it has one, is
    /// `base_momentum` (only its presence matters: torch overwrites it).
    pub fn new(cfg: OneCycleConfig, base_momentum: Option<f64>) -> Result<Self> {
        cfg.validate()?;
        if cfg.cycle_momentum && base_momentum.is_none() {
            return Err(Error::invalid(
                OWNER,
                "cycle_momentum",
                "true",
                "false for an optimizer without momentum or betas (torch raises ValueError)",
            ));
        }
        let initial = cfg.max_lr / cfg.div_factor;
        let mut s = OneCycle {
            cfg,
            core: Core::new(initial),
            momentum: cfg.max_momentum,
        };
        TorchRule::begin(&mut s, initial);
        Ok(s)
    }

    fn update(&mut self) {
        let (lr, m) = self.cfg.at(self.core.epoch);
        self.core.lr = lr;
        self.momentum = m;
    }
}

impl TorchRule for OneCycle {
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
    fn initial_lr(&self) -> Option<f64> {
        Some(self.cfg.max_lr / self.cfg.div_factor)
    }
    fn load_extra(&mut self, _values: &[f64]) -> Result<()> {
        // The momentum follows from the step count.
        self.momentum = self.cfg.at(self.core.epoch).1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::testing::*;
    use crate::schedule::{build, lrs};

    #[test]
    fn linear_phases_by_hand() {
        // max_lr 1, div 4 → η_0 0.25, final_div 5 → η_min 0.05; T = 10, p = 0.3:
        // phase 1 ends at 2: 0.25, 0.625, 1; phase 2 from 2 to 9 (7 steps of 0.95/7):
        // 1 − 0.95·j/7 for k = 2 + j; step 10 (one past) extrapolates to −0.0857...;
        // momentum: 0.95 → 0.85 over phase 1, back to 0.95 over phase 2.
        let s = build(
            "one_cycle(max_lr=1, total_steps=10, anneal_strategy=linear, div_factor=4, final_div_factor=5)",
            0.1,
            Some(0.9),
        )
        .unwrap();
        let mut want = vec![0.25, 0.625];
        want.extend((0..9).map(|j| 1.0 - 0.95 * j as f64 / 7.0));
        assert_close(&lrs(s.as_ref(), 11), &want, 1e-12);
        let mut s = s;
        let mut moms = vec![];
        for _ in 0..12 {
            moms.push(s.momentum().unwrap());
            s.step(0.0);
        }
        assert_close(&moms[..3], &[0.95, 0.9, 0.85], 1e-12);
        assert!((moms[9] - 0.95).abs() < 1e-12);
        // torch's value at total_steps, then the end of the cycle
        assert_eq!(s.lr(), want[9]);
        assert_eq!(moms[11], moms[9]);
    }

    #[test]
    fn cos_three_phase_by_hand() {
        // max_lr 1, div 10 → η_0 0.1, final_div 10 → η_min 0.01, T = 20, p = 0.25:
        // ends at 4, 8, 19. k=2: halfway up: 0.1 + 0.9/2 = 0.55; k=4: 1; k=6: 0.55;
        // k=8: 0.1; k=19: 0.01. Momentum: 0.95 → 0.85 (k=4) → 0.95 (k=8), then 0.95.
        let mut s = build(
            "one_cycle(1, 20, pct_start=0.25, div_factor=10, final_div_factor=10, three_phase=true)",
            0.1,
            Some(0.9),
        )
        .unwrap();
        let mut got = vec![];
        for _ in 0..20 {
            got.push((s.lr(), s.momentum().unwrap()));
            s.step(0.0);
        }
        for (k, lr, m) in [
            (0, 0.1, 0.95),
            (2, 0.55, 0.9),
            (4, 1.0, 0.85),
            (6, 0.55, 0.9),
            (8, 0.1, 0.95),
            (19, 0.01, 0.95),
        ] {
            assert!((got[k].0 - lr).abs() < 1e-12, "k {k}: {:?}", got[k]);
            assert!((got[k].1 - m).abs() < 1e-12, "k {k}: {:?}", got[k]);
        }
        assert!(got[12].1 == 0.95);
    }

    #[test]
    fn ignores_base_lr_and_epochs_form() {
        let a = build("one_cycle(0.5, 100)", 0.1, Some(0.9)).unwrap();
        let b = build(
            "one_cycle(0.5, epochs=10, steps_per_epoch=10)",
            3.0,
            Some(0.0),
        )
        .unwrap();
        assert_eq!(lrs(a.as_ref(), 120), lrs(b.as_ref(), 120));
        assert_eq!(a.spec(), b.spec());
        // anneal(0.02, 0.5, 0) = 0.5 + (0.02 − 0.5)/2·2, which rounds (as in torch)
        assert!((lrs(a.as_ref(), 1)[0] - 0.02).abs() < 1e-16);
    }

    #[test]
    fn without_momentum() {
        // cycle_momentum needs an optimizer with momentum, as torch.
        assert_eq!(
            invalid_param("one_cycle(0.5, 100)", 0.1, None),
            "cycle_momentum"
        );
        let s = build("one_cycle(0.5, 100, cycle_momentum=false)", 0.1, None).unwrap();
        assert_eq!(s.momentum(), None);
    }

    #[test]
    fn empty_last_phase_does_not_divide_by_zero() {
        let s = build("one_cycle(1, 10, pct_start=1)", 0.1, Some(0.9)).unwrap();
        let l = lrs(s.as_ref(), 15);
        assert!(l.iter().all(|x| x.is_finite()));
        assert!((l[9] - 1.0).abs() < 1e-12);
        assert_eq!(l[10], l[9]);
        assert_eq!(l[14], l[9]);
    }

    #[test]
    fn validation() {
        for (spec, param) in [
            ("one_cycle(0, 10)", "max_lr"),
            ("one_cycle(nan, 10)", "max_lr"),
            ("one_cycle(1, 0)", "total_steps"),
            ("one_cycle(1, 10, pct_start=1.5)", "pct_start"),
            ("one_cycle(1, 10, pct_start=0.1)", "pct_start"),
            ("one_cycle(1, 10, anneal_strategy=exp)", "anneal_strategy"),
            ("one_cycle(1, 10, base_momentum=-1)", "base_momentum"),
            ("one_cycle(1, 10, max_momentum=inf)", "max_momentum"),
            ("one_cycle(1, 10, div_factor=0)", "div_factor"),
            ("one_cycle(1, 10, final_div_factor=-1)", "final_div_factor"),
            ("one_cycle(1, epochs=0, steps_per_epoch=3)", "epochs"),
            (
                "one_cycle(1, epochs=3, steps_per_epoch=0)",
                "steps_per_epoch",
            ),
            (
                "one_cycle(1, epochs=4294967296, steps_per_epoch=4294967296)",
                "epochs",
            ),
        ] {
            assert_eq!(invalid_param(spec, 0.1, Some(0.9)), param, "{spec}");
        }
        for spec in [
            "one_cycle(1)",
            "one_cycle(total_steps=3)",
            "one_cycle(1, epochs=3)",
            "one_cycle(1, steps_per_epoch=3)",
        ] {
            assert!(
                matches!(
                    build(spec, 0.1, Some(0.9)),
                    Err(Error::MissingArgument { .. })
                ),
                "{spec}"
            );
        }
        assert!(matches!(
            build("one_cycle(1, 10, anneal_strategy=1)", 0.1, Some(0.9)),
            Err(Error::WrongType { .. })
        ));
    }

    #[test]
    fn state_round_trip() {
        round_trip(
            "one_cycle(0.5, 120, three_phase=true)",
            0.1,
            Some(0.9),
            |_| 0.0,
        );
        round_trip("one_cycle(0.5, 60)", 0.1, Some(0.9), |_| 0.0);
    }
}
