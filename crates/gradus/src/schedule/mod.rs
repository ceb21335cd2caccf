//! Learning-rate schedules, named like torch's `lr_scheduler` classes in snake case
//! without the `LR` suffix, with torch's parameters and defaults, plus the tutorials'
//! forms.
//!
//! A schedule is stepped like a torch scheduler: [`Schedule::lr`] is the learning
//! rate of the next update, and [`Schedule::step`] is called once after each update
//! (with that step's loss, which only `reduce_on_plateau` reads). So the lr of update
//! `k` (`k = 0` first) equals torch's when its scheduler steps after each optimizer
//! step.

use crate::error::Result;
use crate::spec::Call;

/// The saved state of a schedule (for checkpoints).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScheduleState {
    /// The schedule's spec name.
    pub name: String,
    /// The schedule as a spec call.
    pub spec: String,
    /// Updates stepped so far.
    pub last_epoch: u64,
    /// Internal numbers (current lr, counters, ...), schedule-specific.
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

/// Every schedule name with a one-line description.
pub const SCHEDULES: &[(&str, &str)] = &[];

/// Builds a schedule from a spec call, for an optimizer whose lr is `base_lr` (and
/// momentum, if it has one, `base_momentum`).
pub fn build_from_call(_call: &Call, _base_lr: f64, _base_momentum: Option<f64>) -> Result<Box<dyn Schedule>> {
    Err(crate::Error::Unsupported("schedules are not built yet".into()))
}

/// Builds a schedule from a spec string such as `step(step_size=30, gamma=0.1)`.
pub fn build(spec: &str, base_lr: f64, base_momentum: Option<f64>) -> Result<Box<dyn Schedule>> {
    build_from_call(&crate::spec::parse(spec)?, base_lr, base_momentum)
}
