//! Optimizers: the [`Optimizer`] trait, the element-wise engine shared by every
//! first-order algorithm, and one file per algorithm.
//!
//! Every first-order algorithm of torch.optim updates each element of a tensor from
//! that element's parameter, gradient and state alone. Such an algorithm is written
//! once as a [`Rule`]: a typed, validated config (torch's names and defaults) that
//! knows how to turn the step number into per-step coefficients and how to update one
//! element. The [`Elementwise`] engine runs any rule over named tensors in a single
//! pass over memory, vectorized and split across threads, and keeps the per-tensor
//! state by name.
//!
//! ```
//! use gradus::optim::{Adam, AdamConfig, Optimizer, Param};
//! let mut opt = Adam::<f64>::new(AdamConfig { lr: 0.1, ..Default::default() }).unwrap();
//! let mut x = vec![3.0, -2.0];
//! for _ in 0..200 {
//!     let g: Vec<f64> = x.iter().map(|v| 2.0 * v).collect(); // f(x) = |x|²
//!     opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//! }
//! assert!(x.iter().all(|v| v.abs() < 1e-2));
//! ```

mod blocks;
mod engine;
mod kernel;
pub mod preset;
mod registry;
#[cfg(test)]
mod test_support;
mod validate;

pub mod adadelta;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod lion;
pub mod nadam;
pub mod newton;
pub mod radam;
pub mod rmsprop;
pub mod sgd;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use adamax::{Adamax, AdamaxConfig};
pub use engine::{Elementwise, OptimizerState, Rule, TensorState};
pub use lion::{Lion, LionConfig};
pub use nadam::{NAdam, NAdamConfig};
pub use newton::{Newton, NewtonConfig};
pub use radam::{RAdam, RAdamConfig};
pub use registry::{build, build_from_call, catalog, names};
pub use rmsprop::{RMSprop, RMSpropConfig};
pub use sgd::{Sgd, SgdConfig};
pub(crate) use validate::*;

use crate::error::Result;
use crate::float::Float;

/// One named parameter tensor and its gradient, as handed to [`Optimizer::step`].
///
/// Tensors are flat slices; shape is the caller's business. State is kept per name,
/// so the same tensor must keep its name from step to step (the order may change).
#[derive(Debug)]
pub struct Param<'a, T> {
    /// The tensor's name, unique within a step.
    pub name: &'a str,
    /// The parameter values, updated in place.
    pub value: &'a mut [T],
    /// The gradient of the loss with respect to `value`.
    pub grad: &'a [T],
}

impl<'a, T> Param<'a, T> {
    /// Pairs a named parameter tensor with its gradient.
    pub fn new(name: &'a str, value: &'a mut [T], grad: &'a [T]) -> Self {
        Param { name, value, grad }
    }
}

/// What a step does when a gradient holds NaN or ±inf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NonFinitePolicy {
    /// Refuse the step with [`crate::Error::NonFiniteGradient`]; parameters and state are
    /// left exactly as they were.
    #[default]
    Error,
    /// Leave parameters and state exactly as they were and count the step as skipped.
    Skip,
    /// Apply the update anyway, as torch does (NaN spreads into the parameters).
    Propagate,
}

impl NonFinitePolicy {
    /// All policies with their command-line names.
    pub const ALL: [(&'static str, NonFinitePolicy); 3] = [
        ("error", NonFinitePolicy::Error),
        ("skip", NonFinitePolicy::Skip),
        ("propagate", NonFinitePolicy::Propagate),
    ];
}

impl std::str::FromStr for NonFinitePolicy {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, p)| *p)
            .ok_or_else(|| crate::Error::UnknownName {
                kind: "non-finite policy",
                name: s.to_string(),
                valid: Self::ALL.iter().map(|(n, _)| n.to_string()).collect(),
            })
    }
}

/// What a call to [`Optimizer::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The update was applied.
    Applied,
    /// A gradient was non-finite and the policy is [`NonFinitePolicy::Skip`]: nothing changed.
    Skipped,
}

/// A first-order optimizer over named tensors.
///
/// Object safe, so a spec string can be turned into a `Box<dyn Optimizer<T>>` with
/// [`build`].
pub trait Optimizer<T: Float>: Send {
    /// The algorithm's spec name (`adam`, `sgd`, ...).
    fn name(&self) -> &'static str;

    /// The optimizer's configuration as a spec call, e.g. `adam(lr=0.001, ...)`.
    fn spec(&self) -> crate::spec::Call;

    /// Updates every tensor in `params` once from its gradient.
    ///
    /// Tensors seen for the first time get fresh state. Errors (length mismatch,
    /// duplicate names, a non-finite gradient under [`NonFinitePolicy::Error`]) leave
    /// every parameter and all state unchanged.
    fn step(&mut self, params: &mut [Param<'_, T>]) -> Result<StepOutcome>;

    /// The learning rate the next step will use.
    fn lr(&self) -> f64;

    /// Sets the learning rate (schedules call this before each step).
    fn set_lr(&mut self, lr: f64) -> Result<()>;

    /// The momentum-like coefficient a one-cycle schedule cycles: `momentum` for SGD
    /// and RMSprop, `betas[0]` for the Adam family and Lion; `None` if there is none.
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets the coefficient [`Optimizer::momentum`] reports.
    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        Err(crate::Error::Unsupported(format!(
            "{} has no momentum or betas[0] to set (momentum={momentum})",
            self.name()
        )))
    }

    /// The policy for non-finite gradients.
    fn nonfinite_policy(&self) -> NonFinitePolicy;

    /// Sets the policy for non-finite gradients.
    fn set_nonfinite_policy(&mut self, policy: NonFinitePolicy);

    /// How many steps were skipped under [`NonFinitePolicy::Skip`].
    fn skipped_steps(&self) -> u64;

    /// A copy of the complete state (hyperparameters, per-tensor state, counters).
    fn state(&self) -> OptimizerState<T>;

    /// Replaces the state with `state`, after checking that it belongs to this
    /// algorithm and that every tensor's buffers are consistent.
    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()>;
}

impl<T: Float> std::fmt::Debug for dyn Optimizer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.spec())
    }
}
