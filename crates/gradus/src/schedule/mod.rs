//! Learning-rate schedules, named like torch's `lr_scheduler` classes in snake case
//! without the `LR` suffix, with torch's parameters and defaults, plus the tutorials'
//! forms.
//!
//! A schedule is stepped like a torch scheduler: [`Schedule::lr`] is the learning
//! rate of the next update, and [`Schedule::step`] is called once after each update
//! (with that step's loss, which only `reduce_on_plateau` reads). So the lr of update
//! `k` (`k = 0` first) equals torch's when its scheduler steps after each optimizer
//! step.
//!
//! # Bit-compatibility with torch
//! torch's schedulers (stepped without an epoch argument) mostly update the current
//! learning rate from its previous value (`lr·γ`, a ratio of cosines, ...) rather than
//! evaluating their closed forms. The two agree only to rounding, so gradus follows
//! the recursive form wherever torch does, keeps the current lr in its state, and
//! matches torch's `param_groups[0]['lr']` to the last bit (checked against a committed
//! torch fixture in `tests/schedules_torch.rs`). Each module states the closed form
//! for reference.
//!
//! ```
//! use gradus::schedule;
//! let s = schedule::build("step(step_size=2, gamma=0.5)", 0.1, None).unwrap();
//! assert_eq!(schedule::lrs(s.as_ref(), 5), vec![0.1, 0.1, 0.05, 0.05, 0.025]);
//! ```

use crate::error::{Error, Result};
use crate::spec::Call;

pub mod chained;
pub mod constant;
pub mod cosine_annealing;
pub mod cosine_annealing_warm_restarts;
pub mod cyclic;
pub mod exp_decay;
pub mod exponential;
pub mod inverse_poly;
pub mod lambda_lr;
pub mod linear;
pub mod multi_step;
pub mod multiplicative;
pub mod one_cycle;
pub mod piecewise_constant;
pub mod polynomial;
pub mod reduce_on_plateau;
pub mod sequential;
pub mod step;
pub mod swa_lr;

pub use chained::{Chained, ChainedConfig};
pub use constant::{Constant, ConstantConfig};
pub use cosine_annealing::{CosineAnnealing, CosineAnnealingConfig};
pub use cosine_annealing_warm_restarts::{
    CosineAnnealingWarmRestarts, CosineAnnealingWarmRestartsConfig,
};
pub use cyclic::{Cyclic, CyclicConfig, CyclicMode, ScaleMode};
pub use exp_decay::{ExpDecay, ExpDecayConfig};
pub use exponential::{Exponential, ExponentialConfig};
pub use inverse_poly::{InversePoly, InversePolyConfig};
pub use lambda_lr::{LambdaLr, LrLambda};
pub use linear::{Linear, LinearConfig};
pub use multi_step::{MultiStep, MultiStepConfig};
pub use multiplicative::Multiplicative;
pub use one_cycle::{AnnealStrategy, OneCycle, OneCycleConfig};
pub use piecewise_constant::{PiecewiseConstant, PiecewiseConstantConfig};
pub use polynomial::{Polynomial, PolynomialConfig};
pub use reduce_on_plateau::{PlateauMode, ReduceOnPlateau, ReduceOnPlateauConfig, ThresholdMode};
pub use sequential::Sequential;
pub use step::{Step, StepConfig};
pub use swa_lr::{SwaLr, SwaLrConfig};

/// Schedules that take a Rust closure (torch's `lr_lambda`): listed in the catalog, built
/// with their `new` in Rust, and refused with an error saying so when built from a spec.
pub const LIBRARY_ONLY: &[&str] = &["lambda_lr", "multiplicative"];

/// The saved state of a schedule (for checkpoints).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScheduleState {
    /// The schedule's spec name.
    pub name: String,
    /// The schedule as a spec call.
    pub spec: String,
    /// Updates stepped so far.
    pub last_epoch: u64,
    /// Internal numbers (current lr, counters, ...), schedule-specific. All finite.
    pub values: Vec<f64>,
    /// The states of child schedules (for `sequential`).
    pub children: Vec<ScheduleState>,
}

/// A learning-rate schedule, stepped once after each optimizer update.
pub trait Schedule: Send + std::fmt::Debug {
    /// The spec name (`cosine_annealing`, ...).
    fn name(&self) -> &'static str;
    /// The schedule as a spec call.
    fn spec(&self) -> Call;
    /// The learning rate of the next update.
    fn lr(&self) -> f64;
    /// The momentum (or β1) of the next update, for schedules that cycle it
    /// (`one_cycle`); `None` leaves the optimizer's own.
    fn momentum(&self) -> Option<f64> {
        None
    }
    /// Advances past one update whose loss was `metric`.
    fn step(&mut self, metric: f64);
    /// Updates stepped so far.
    fn last_epoch(&self) -> u64;
    /// A copy of the complete state.
    fn state(&self) -> ScheduleState;
    /// Restores a state saved by [`Schedule::state`] of the same schedule.
    fn load_state(&mut self, state: &ScheduleState) -> Result<()>;
    /// A boxed copy.
    fn boxed_clone(&self) -> Box<dyn Schedule>;
}

impl Clone for Box<dyn Schedule> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}

/// The learning rates of the first `n` updates, with a constant metric (for plots).
pub fn lrs(schedule: &dyn Schedule, n: usize) -> Vec<f64> {
    let mut s = schedule.boxed_clone();
    (0..n)
        .map(|_| {
            let lr = s.lr();
            s.step(0.0);
            lr
        })
        .collect()
}

/// Every schedule name with a one-line description, from [`catalog`].
pub fn names() -> Vec<(&'static str, &'static str)> {
    catalog().iter().map(|a| (a.name, a.summary)).collect()
}

fn unknown(name: &str) -> Error {
    Error::UnknownName {
        kind: "schedule",
        name: name.to_string(),
        valid: names().iter().map(|(n, _)| n.to_string()).collect(),
    }
}

/// Builds a schedule from a spec call, for an optimizer whose lr is `base_lr` (and
/// momentum, if it has one, `base_momentum`).
pub fn build_from_call(
    call: &Call,
    base_lr: f64,
    base_momentum: Option<f64>,
) -> Result<Box<dyn Schedule>> {
    crate::optim::check_nonneg("schedule", "base_lr (the optimizer's lr)", base_lr)?;
    match call.name.as_str() {
        "sequential" => Ok(Box::new(Sequential::from_call(
            call,
            base_lr,
            base_momentum,
        )?)),
        "chained" => Ok(Box::new(Chained::from_call(call, base_lr, base_momentum)?)),
        "reduce_on_plateau" => Ok(Box::new(ReduceOnPlateau::new(
            ReduceOnPlateauConfig::from_call(call)?,
            base_lr,
        )?)),
        _ => Ok(build_chainable(call, base_lr, base_momentum)?.into_schedule()),
    }
}

/// Builds a schedule from a spec string such as `step(step_size=30, gamma=0.1)`.
pub fn build(spec: &str, base_lr: f64, base_momentum: Option<f64>) -> Result<Box<dyn Schedule>> {
    build_from_call(&crate::spec::parse(spec)?, base_lr, base_momentum)
}

/// Builds a schedule that can run inside `sequential` or `chained` (every one but
/// those two and `reduce_on_plateau`, which torch's SequentialLR and ChainedScheduler
/// refuse too).
pub(crate) fn build_chainable(
    call: &Call,
    base_lr: f64,
    base_momentum: Option<f64>,
) -> Result<Box<dyn Chainable>> {
    Ok(match call.name.as_str() {
        "step" => Box::new(Step::new(StepConfig::from_call(call)?, base_lr)?),
        "multi_step" => Box::new(MultiStep::new(MultiStepConfig::from_call(call)?, base_lr)?),
        "exponential" => Box::new(Exponential::new(
            ExponentialConfig::from_call(call)?,
            base_lr,
        )?),
        "cosine_annealing" => Box::new(CosineAnnealing::new(
            CosineAnnealingConfig::from_call(call)?,
            base_lr,
        )?),
        "cosine_annealing_warm_restarts" => Box::new(CosineAnnealingWarmRestarts::new(
            CosineAnnealingWarmRestartsConfig::from_call(call)?,
            base_lr,
        )?),
        "polynomial" => Box::new(Polynomial::new(
            PolynomialConfig::from_call(call)?,
            base_lr,
        )?),
        "linear" => Box::new(Linear::new(LinearConfig::from_call(call)?, base_lr)?),
        "constant" => Box::new(Constant::new(ConstantConfig::from_call(call)?, base_lr)?),
        "one_cycle" => Box::new(OneCycle::new(
            OneCycleConfig::from_call(call)?,
            base_momentum,
        )?),
        "piecewise_constant" => Box::new(PiecewiseConstant::new(
            PiecewiseConstantConfig::from_call(call)?,
            base_lr,
        )?),
        "exp_decay" => Box::new(ExpDecay::new(ExpDecayConfig::from_call(call)?, base_lr)?),
        "inverse_poly" => Box::new(InversePoly::new(
            InversePolyConfig::from_call(call)?,
            base_lr,
        )?),
        "cyclic" => Box::new(Cyclic::new(CyclicConfig::from_call(call)?, base_momentum)?),
        "swa_lr" => Box::new(SwaLr::new(SwaLrConfig::from_call(call)?, base_lr)?),
        "reduce_on_plateau" => {
            return Err(Error::Unsupported(
                "reduce_on_plateau() cannot be a child of sequential() or chained() (torch's SequentialLR and ChainedScheduler refuse it too: it steps on a metric)".into(),
            ))
        }
        "sequential" | "chained" => {
            return Err(Error::Unsupported(format!(
                "{}() cannot be a child of sequential() or chained() (not supported: torch restarts a child with step(0), which SequentialLR and ChainedScheduler do not take)",
                call.name
            )))
        }
        name @ ("lambda_lr" | "multiplicative") => return Err(lambda_lr::library_only(name)),
        other => return Err(unknown(other)),
    })
}

/// What every torch-style schedule keeps: the lr torch's `param_groups[0]['lr']` would
/// hold, the `initial_lr` its closed form starts from, and torch's `last_epoch`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Core {
    /// torch's `base_lrs[0]` (the group's `initial_lr` when the scheduler was built).
    pub base_lr: f64,
    /// The current lr (torch's `group['lr']`).
    pub lr: f64,
    /// torch's `last_epoch`.
    pub epoch: u64,
}

impl Core {
    pub(crate) fn new(base_lr: f64) -> Self {
        Core {
            base_lr,
            lr: base_lr,
            epoch: 0,
        }
    }
}

/// A schedule written as torch writes its `LRScheduler` subclasses. The blanket
/// [`Schedule`] and [`Chainable`] impls do the bookkeeping.
pub(crate) trait TorchRule: Clone + std::fmt::Debug + Send + 'static {
    /// The spec name.
    const NAME: &'static str;
    /// The schedule as a spec call.
    fn spec(&self) -> Call;
    fn core(&self) -> &Core;
    fn core_mut(&mut self) -> &mut Core;
    /// torch's `_initial_step()`: `last_epoch` becomes 0 and the lr is computed from
    /// the group's current lr `lr` with `_is_initial` set.
    fn begin(&mut self, lr: f64);
    /// The initial step torch takes while building the scheduler, from the group lr
    /// `lr` when the group's `initial_lr` is `initial_lr`: as [`TorchRule::begin`],
    /// except for cyclic, whose `base_lrs` are still the group's `initial_lr` then.
    fn construct(&mut self, lr: f64, _initial_lr: f64) {
        self.begin(lr);
    }
    /// torch's `step()` without an epoch: `last_epoch += 1`, then `get_lr()`.
    fn advance(&mut self);
    /// torch's `_update_lr(0)` (what SequentialLR does at a milestone): `last_epoch = 0`
    /// and `_get_closed_form_lr()` where the class has one, else `get_lr()`.
    fn restart(&mut self);
    /// The momentum this schedule sets (one_cycle).
    fn momentum(&self) -> Option<f64> {
        None
    }
    /// The `initial_lr` this schedule writes into the param group when built.
    fn initial_lr(&self) -> Option<f64> {
        None
    }
    /// The lr this schedule writes into the param group before torch's
    /// `setdefault('initial_lr', lr)` (cyclic's `base_lr`): the group's `initial_lr`
    /// when it is the first schedule built.
    fn preset_lr(&self) -> Option<f64> {
        None
    }
    /// Extra state beyond [`Core`], all finite.
    fn extra(&self) -> Vec<f64> {
        vec![]
    }
    /// Restores [`TorchRule::extra`] (length already checked).
    fn load_extra(&mut self, _values: &[f64]) -> Result<()> {
        Ok(())
    }
    /// Length of [`TorchRule::extra`].
    const EXTRA: usize = 0;
}

/// A schedule that can run inside `sequential`, sharing the param group's lr with its
/// siblings as torch's SequentialLR does.
pub(crate) trait Chainable: Schedule {
    /// torch's `_initial_step()` from the group lr `lr`.
    fn begin(&mut self, lr: f64);
    /// torch's initial step during construction (see [`TorchRule::construct`]).
    fn construct(&mut self, lr: f64, initial_lr: f64);
    /// torch's `_update_lr(0)` at a milestone.
    fn restart(&mut self);
    /// Overwrites the group lr (a sibling changed it).
    fn set_lr(&mut self, lr: f64);
    /// The `initial_lr` this schedule writes into the param group when built.
    fn initial_lr(&self) -> Option<f64>;
    /// The lr it writes into the group before `initial_lr` is defaulted.
    fn preset_lr(&self) -> Option<f64>;
    /// A boxed copy.
    fn chainable_clone(&self) -> Box<dyn Chainable>;
    /// As a plain schedule.
    fn into_schedule(self: Box<Self>) -> Box<dyn Schedule>;
}

/// Checks a saved state's name, spec and number of values before loading it.
pub(crate) fn check_state(
    state: &ScheduleState,
    name: &str,
    spec: &Call,
    values: usize,
) -> Result<()> {
    if state.name != name {
        return Err(Error::StateMismatch(format!(
            "saved schedule is '{}', this one is '{name}'",
            state.name
        )));
    }
    let spec = spec.to_string();
    if state.spec != spec {
        return Err(Error::StateMismatch(format!(
            "saved schedule is '{}', this one is '{spec}'",
            state.spec
        )));
    }
    if state.values.len() != values {
        return Err(Error::StateMismatch(format!(
            "{name}: saved state has {} values, expected {values}",
            state.values.len()
        )));
    }
    if let Some(x) = state.values.iter().find(|x| !x.is_finite()) {
        return Err(Error::StateMismatch(format!(
            "{name}: saved state holds {x}"
        )));
    }
    Ok(())
}

/// A saved counter, checked to be a non-negative integer.
pub(crate) fn count(name: &str, x: f64) -> Result<u64> {
    if x >= 0.0 && x.fract() == 0.0 && x <= 9.007_199_254_740_992e15 {
        Ok(x as u64)
    } else {
        Err(Error::StateMismatch(format!(
            "{name}: saved counter {x} is not a count"
        )))
    }
}

impl<R: TorchRule> Schedule for R {
    fn name(&self) -> &'static str {
        R::NAME
    }
    fn spec(&self) -> Call {
        TorchRule::spec(self)
    }
    fn lr(&self) -> f64 {
        self.core().lr
    }
    fn momentum(&self) -> Option<f64> {
        TorchRule::momentum(self)
    }
    fn step(&mut self, _metric: f64) {
        self.advance();
    }
    fn last_epoch(&self) -> u64 {
        self.core().epoch
    }
    fn state(&self) -> ScheduleState {
        let c = self.core();
        let mut values = vec![c.base_lr, c.lr];
        values.extend(self.extra());
        ScheduleState {
            name: R::NAME.into(),
            spec: TorchRule::spec(self).to_string(),
            last_epoch: c.epoch,
            values,
            children: vec![],
        }
    }
    fn load_state(&mut self, state: &ScheduleState) -> Result<()> {
        check_state(state, R::NAME, &TorchRule::spec(self), 2 + R::EXTRA)?;
        let mut next = self.clone();
        *next.core_mut() = Core {
            base_lr: state.values[0],
            lr: state.values[1],
            epoch: state.last_epoch,
        };
        next.load_extra(&state.values[2..])?;
        *self = next;
        Ok(())
    }
    fn boxed_clone(&self) -> Box<dyn Schedule> {
        Box::new(self.clone())
    }
}

impl<R: TorchRule> Chainable for R {
    fn begin(&mut self, lr: f64) {
        TorchRule::begin(self, lr);
    }
    fn construct(&mut self, lr: f64, initial_lr: f64) {
        TorchRule::construct(self, lr, initial_lr);
    }
    fn restart(&mut self) {
        TorchRule::restart(self);
    }
    fn set_lr(&mut self, lr: f64) {
        self.core_mut().lr = lr;
    }
    fn initial_lr(&self) -> Option<f64> {
        TorchRule::initial_lr(self)
    }
    fn preset_lr(&self) -> Option<f64> {
        TorchRule::preset_lr(self)
    }
    fn chainable_clone(&self) -> Box<dyn Chainable> {
        Box::new(self.clone())
    }
    fn into_schedule(self: Box<Self>) -> Box<dyn Schedule> {
        self
    }
}

impl Clone for Box<dyn Chainable> {
    fn clone(&self) -> Self {
        self.chainable_clone()
    }
}

/// The children of `sequential` or `chained`, built by [`build_children`].
pub(crate) struct Children {
    /// The schedules, in order.
    pub schedules: Vec<Box<dyn Chainable>>,
    /// The group's `initial_lr` right after each one was built.
    pub initial_lrs: Vec<f64>,
}

/// Builds the children of `sequential` or `chained` (`owner`) in order, as torch's
/// user code builds them on one optimizer, and returns them with the param group's
/// `initial_lr` after each one's construction: the optimizer's lr `base_lr`, unless
/// the first child presets it (cyclic) or a child overwrites it (one_cycle). Each
/// child starts from the `initial_lr` before it.
pub(crate) fn build_children(
    owner: &str,
    calls: &[Call],
    base_lr: f64,
    base_momentum: Option<f64>,
) -> Result<Children> {
    if calls.is_empty() {
        return Err(Error::invalid(
            owner,
            "schedulers",
            "[]",
            "at least one schedule",
        ));
    }
    if calls.iter().filter(|c| c.name == "one_cycle").count() > 1 {
        return Err(Error::Unsupported(format!(
            "{owner}() takes at most one one_cycle child (in torch they share, and overwrite, the param group's one_cycle settings)"
        )));
    }
    let mut initial_lr = None;
    let mut children = Vec::with_capacity(calls.len());
    let mut initial_lrs = Vec::with_capacity(calls.len());
    for c in calls {
        let start = initial_lr.unwrap_or(base_lr);
        let child = build_chainable(c, start, base_momentum)?;
        let after = child
            .initial_lr()
            .or(initial_lr)
            .or(child.preset_lr())
            .unwrap_or(start);
        initial_lr = Some(after);
        initial_lrs.push(after);
        children.push(child);
    }
    Ok(Children {
        schedules: children,
        initial_lrs,
    })
}

/// What the children of `sequential` and `chained` share: torch's param group lr and
/// the momentum the last momentum-cycling child set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Group {
    /// The group's lr.
    pub lr: f64,
    /// The cycled momentum, if a child cycles it.
    pub momentum: Option<f64>,
}

impl Group {
    /// Takes the lr, and the momentum if it sets one, from the child that just acted.
    pub(crate) fn follow(&mut self, child: &dyn Chainable) {
        self.lr = child.lr();
        if let Some(m) = child.momentum() {
            self.momentum = Some(m);
        }
    }

    /// The state of a parent schedule over `children`.
    pub(crate) fn state(
        &self,
        name: &str,
        spec: &Call,
        last_epoch: u64,
        children: &[Box<dyn Chainable>],
    ) -> ScheduleState {
        ScheduleState {
            name: name.into(),
            spec: spec.to_string(),
            last_epoch,
            values: vec![
                self.lr,
                self.momentum.unwrap_or(0.0),
                if self.momentum.is_some() { 1.0 } else { 0.0 },
            ],
            children: children.iter().map(|c| c.state()).collect(),
        }
    }

    /// Checks `state` (saved by [`Group::state`] of the parent `name` with `spec`),
    /// loads the children's states into `children` and returns the group.
    pub(crate) fn load(
        name: &str,
        state: &ScheduleState,
        spec: &Call,
        children: &mut [Box<dyn Chainable>],
    ) -> Result<Group> {
        check_state(state, name, spec, 3)?;
        if state.children.len() != children.len() {
            return Err(Error::StateMismatch(format!(
                "{name}: saved {} children, this one has {}",
                state.children.len(),
                children.len()
            )));
        }
        for (c, s) in children.iter_mut().zip(&state.children) {
            c.load_state(s)?;
        }
        let momentum = match state.values[2] {
            0.0 => None,
            1.0 => Some(state.values[1]),
            x => {
                return Err(Error::StateMismatch(format!(
                    "{name}: saved momentum flag {x}"
                )))
            }
        };
        Ok(Group {
            lr: state.values[0],
            momentum,
        })
    }
}

/// Shared test helpers.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Relative difference, exact zero allowed.
    pub fn rel(a: f64, b: f64) -> f64 {
        if a == b {
            0.0
        } else {
            (a - b).abs() / a.abs().max(b.abs())
        }
    }

    /// Asserts two lr sequences agree to `tol` relative.
    pub fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(rel(*g, *w) <= tol, "update {k}: {g} vs {w}");
        }
    }

    /// The param name of an `InvalidHyperparameter` error from building `spec`.
    pub fn invalid_param(spec: &str, base_lr: f64, momentum: Option<f64>) -> String {
        match build(spec, base_lr, momentum) {
            Err(Error::InvalidHyperparameter { param, .. }) => param,
            other => panic!("{spec}: expected InvalidHyperparameter, got {other:?}"),
        }
    }

    /// Steps 50 times, saves, loads into a freshly built copy, and checks that both
    /// continue identically for 100 more.
    pub fn round_trip(
        spec: &str,
        base_lr: f64,
        momentum: Option<f64>,
        metric: impl Fn(usize) -> f64,
    ) {
        let mut a = build(spec, base_lr, momentum).unwrap();
        for k in 0..50 {
            a.step(metric(k));
        }
        let saved = a.state();
        // The state serializes (the values are finite). serde_json without its
        // `float_roundtrip` feature may change the last bit of a float when parsing, so
        // the exactness check below loads the state itself.
        let json = serde_json::to_string(&saved).unwrap();
        let parsed: ScheduleState = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.values.len(), saved.values.len());
        let mut b = build(spec, base_lr, momentum).unwrap();
        b.load_state(&saved).unwrap();
        assert_eq!(b.state(), a.state());
        for k in 50..150 {
            assert_eq!(a.lr().to_bits(), b.lr().to_bits(), "{spec} at {k}");
            assert_eq!(a.momentum(), b.momentum());
            assert_eq!(a.last_epoch(), b.last_epoch());
            a.step(metric(k));
            b.step(metric(k));
        }
        // A state of another schedule is refused.
        let other = build("exp_decay(lam=0.5)", base_lr, None).unwrap().state();
        assert!(matches!(b.load_state(&other), Err(Error::StateMismatch(_))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_builds_and_unknown_names_list_them() {
        for (name, _) in names() {
            if LIBRARY_ONLY.contains(&name) {
                assert!(matches!(build(name, 0.1, None), Err(Error::Unsupported(_))));
                continue;
            }
            let spec = match name {
                "cyclic" => "cyclic(0.01, 0.1, 5)",
                "chained" => "chained([step(3), exponential(0.9)])",
                "swa_lr" => "swa_lr(0.05)",
                "step" => "step(3)",
                "multi_step" => "multi_step([2, 4])",
                "exponential" => "exponential(0.9)",
                "cosine_annealing" => "cosine_annealing(10)",
                "cosine_annealing_warm_restarts" => "cosine_annealing_warm_restarts(5)",
                "one_cycle" => "one_cycle(max_lr=0.1, total_steps=20)",
                "sequential" => "sequential([linear, exponential(0.9)], [5])",
                "piecewise_constant" => "piecewise_constant([5], [0.1, 0.01])",
                "exp_decay" => "exp_decay(0.1)",
                "inverse_poly" => "inverse_poly(0.1, 0.5)",
                other => other,
            };
            let s = build(spec, 0.1, Some(0.9)).unwrap();
            assert_eq!(s.name(), name);
            // The spec round-trips through text.
            let again = build(&s.spec().to_string(), 0.1, Some(0.9)).unwrap();
            assert_eq!(lrs(s.as_ref(), 30), lrs(again.as_ref(), 30), "{spec}");
        }
        match build("cosine", 0.1, None) {
            Err(Error::UnknownName { valid, .. }) => assert_eq!(valid.len(), names().len()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            build("step(3)", f64::NAN, None),
            Err(Error::InvalidHyperparameter { .. })
        ));
    }

    #[test]
    fn lrs_does_not_step_the_original() {
        let s = build("exponential(0.5)", 1.0, None).unwrap();
        assert_eq!(lrs(s.as_ref(), 3), vec![1.0, 0.5, 0.25]);
        assert_eq!(s.last_epoch(), 0);
        assert_eq!(s.lr(), 1.0);
    }
}

/// torch's capitalized names (`T_max`, `T_0`, `T_mult`), accepted for the lower-case
/// spec keys.
pub(crate) fn torch_aliases(call: &Call) -> Result<Call> {
    let mut out = call.clone();
    for (k, _) in &mut out.keywords {
        if let Some(lower) = ["T_max", "T_0", "T_mult"].iter().find(|a| *a == k) {
            *k = lower.to_lowercase();
        }
    }
    Ok(out)
}

/// Every schedule with its hyperparameter table, in the order `gradus list` shows.
pub fn catalog() -> Vec<crate::hyper::Algorithm> {
    use crate::hyper::Hyperparameters;
    vec![
        StepConfig::algorithm("schedule"),
        MultiStepConfig::algorithm("schedule"),
        ExponentialConfig::algorithm("schedule"),
        CosineAnnealingConfig::algorithm("schedule"),
        CosineAnnealingWarmRestartsConfig::algorithm("schedule"),
        PolynomialConfig::algorithm("schedule"),
        LinearConfig::algorithm("schedule"),
        ConstantConfig::algorithm("schedule"),
        OneCycleConfig::algorithm("schedule"),
        sequential::SequentialConfig::algorithm("schedule"),
        ReduceOnPlateauConfig::algorithm("schedule"),
        PiecewiseConstantConfig::algorithm("schedule"),
        ExpDecayConfig::algorithm("schedule"),
        InversePolyConfig::algorithm("schedule"),
        CyclicConfig::algorithm("schedule"),
        ChainedConfig::algorithm("schedule"),
        SwaLrConfig::algorithm("schedule"),
        lambda_lr::algorithm(
            "lambda_lr",
            "library only: takes a Rust closure (gradus::schedule::LambdaLr); the lr times lr_lambda(k) (torch LambdaLR)",
        ),
        lambda_lr::algorithm(
            "multiplicative",
            "library only: takes a Rust closure (gradus::schedule::Multiplicative); multiply the lr by lr_lambda(k) after every update (torch MultiplicativeLR)",
        ),
    ]
}
