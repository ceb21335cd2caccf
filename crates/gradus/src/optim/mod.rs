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
mod kronecker;
pub mod preset;
mod registry;
mod table;
pub mod tensorwise;
#[cfg(test)]
mod test_support;
mod validate;

pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod asgd;
pub mod averaging;
pub mod lamb;
pub mod lars;
pub mod lbfgs;
pub mod lion;
pub mod lookahead;
pub mod muon;
pub mod nadam;
pub mod newton;
pub mod partition;
pub mod prodigy;
pub mod radam;
pub mod rmsprop;
pub mod rprop;
pub mod sam;
pub mod schedule_free;
pub mod schedule_free_adamw;
pub mod schedule_free_sgd;
pub mod sgd;
pub mod shampoo;
pub mod soap;
pub mod sparse_adam;
pub mod state_dtype;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adafactor::{Adafactor, AdafactorConfig};
pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use adamax::{Adamax, AdamaxConfig};
pub use asgd::{Asgd, AsgdConfig};
pub use averaging::{Averaging, AveragingRule, EmaConfig, SwaConfig};
pub use engine::{Elementwise, OptimizerState, Rule, TensorState};
pub use lamb::{Lamb, LambConfig};
pub use lars::{Lars, LarsConfig};
pub use lbfgs::{Lbfgs, LbfgsConfig, LineSearch};
pub use lion::{Lion, LionConfig};
pub use lookahead::{Lookahead, LookaheadConfig, PullbackMomentum};
pub use muon::{Muon, MuonConfig};
pub use nadam::{NAdam, NAdamConfig};
pub use newton::{Newton, NewtonConfig, MAX_NEWTON_DIM};
pub use partition::{Partition, PartitionConfig};
pub use prodigy::{Prodigy, ProdigyConfig};
pub use radam::{RAdam, RAdamConfig};
pub use registry::{build, build_from_call, catalog, names, INSTANCES};
pub use rmsprop::{RMSprop, RMSpropConfig};
pub use rprop::{Rprop, RpropConfig};
pub use sam::{Sam, SamConfig};
pub use schedule_free_adamw::{ScheduleFreeAdamW, ScheduleFreeAdamWConfig};
pub use schedule_free_sgd::{ScheduleFreeSgd, ScheduleFreeSgdConfig};
pub use sgd::{Sgd, SgdConfig};
pub use shampoo::{Shampoo, ShampooConfig};
pub use soap::{DataFormat, Soap, SoapConfig};
pub use sparse_adam::{SparseAdam, SparseAdamConfig};
pub use state_dtype::StateDtype;
pub use tensorwise::{PerTensor, TensorRule, TensorStep};
pub(crate) use validate::*;

use crate::error::Result;
use crate::float::Float;

/// One named parameter tensor and its gradient, as handed to [`Optimizer::step`].
///
/// Values are flat, row-major slices with a shape ([`Param::new`] makes a vector;
/// [`Param::with_shape`] gives a matrix or more axes, which per-tensor optimizers
/// such as Muon and Adafactor read). State is kept per name, so the same tensor must
/// keep its name from step to step (the order may change).
#[derive(Debug)]
pub struct Param<'a, T> {
    /// The tensor's name, unique within a step.
    pub name: &'a str,
    /// The parameter values, updated in place.
    pub value: &'a mut [T],
    /// The gradient of the loss with respect to `value`.
    pub grad: &'a [T],
    /// The axes' lengths, row-major; empty means a vector of `value.len()`.
    pub shape: &'a [usize],
}

impl<'a, T> Param<'a, T> {
    /// Pairs a named parameter vector with its gradient.
    pub fn new(name: &'a str, value: &'a mut [T], grad: &'a [T]) -> Self {
        Param {
            name,
            value,
            grad,
            shape: &[],
        }
    }

    /// Pairs a named tensor of the given shape (row-major) with its gradient. The
    /// shape's product must equal the length; a step refuses it otherwise.
    pub fn with_shape(
        name: &'a str,
        value: &'a mut [T],
        grad: &'a [T],
        shape: &'a [usize],
    ) -> Self {
        Param {
            name,
            value,
            grad,
            shape,
        }
    }

    /// The shape: `shape` as given, or `[len]` for a vector.
    pub fn dims(&self) -> Vec<usize> {
        if self.shape.is_empty() {
            vec![self.value.len()]
        } else {
            self.shape.to_vec()
        }
    }

    /// Checks that the shape covers exactly the values.
    pub fn check_shape(&self) -> Result<()> {
        let n: Option<usize> = self.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if self.shape.is_empty() || n == Some(self.value.len()) {
            Ok(())
        } else {
            Err(crate::Error::StateMismatch(format!(
                "tensor '{}' has shape {:?} but {} values",
                self.name,
                self.shape,
                self.value.len()
            )))
        }
    }
}

/// How an optimizer takes its gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Each element from its own parameter, gradient and state, in one fused pass.
    Elementwise,
    /// Each tensor as a whole, with its shape (reductions, matrix products).
    Tensor,
    /// May re-evaluate the loss and gradient (and Hessian) several times per step
    /// through a [`Closure`]; keeps state across tensors.
    Closure,
}

impl OptimizerKind {
    /// The kind's name in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Elementwise => "elementwise",
            OptimizerKind::Tensor => "tensor",
            OptimizerKind::Closure => "closure",
        }
    }
}

/// The loss a closure optimizer may re-evaluate: torch's `closure`, with the
/// parameters passed in explicitly.
pub trait Closure<T: Float> {
    /// The loss at `values` (one slice per tensor, in the step's order), with the
    /// gradient of each tensor written into `grads` (same order and lengths).
    fn evaluate(&mut self, values: &[&[T]], grads: &mut [&mut [T]]) -> Result<f64>;

    /// Writes the Hessian with respect to all parameters, flattened in order, into
    /// `out` (row-major, n × n) and returns `true`; `false` when there is none.
    fn hessian(&mut self, values: &[&[T]], out: &mut [T]) -> Result<bool> {
        let _ = (values, out);
        Ok(false)
    }
}

/// A [`Closure`] from a function of the flattened parameters:
/// `f(x, grad) -> loss` (and optionally a Hessian `h(x, out)`).
pub struct FnClosure<F, H = fn(&[f64], &mut [f64]) -> bool> {
    f: F,
    h: Option<H>,
    x: Vec<f64>,
    g: Vec<f64>,
}

impl<F> FnClosure<F> {
    /// A closure without a Hessian.
    pub fn new(f: F) -> Self {
        FnClosure {
            f,
            h: None,
            x: Vec::new(),
            g: Vec::new(),
        }
    }
}

impl<F, H> FnClosure<F, H> {
    /// A closure with a Hessian `h(x, out)` (row-major), returning `true` when it wrote one.
    pub fn with_hessian(f: F, h: H) -> Self {
        FnClosure {
            f,
            h: Some(h),
            x: Vec::new(),
            g: Vec::new(),
        }
    }
}

impl<T: Float, F, H> Closure<T> for FnClosure<F, H>
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
    H: FnMut(&[f64], &mut [f64]) -> bool,
{
    fn evaluate(&mut self, values: &[&[T]], grads: &mut [&mut [T]]) -> Result<f64> {
        self.x.clear();
        self.x
            .extend(values.iter().flat_map(|v| v.iter().map(|x| x.f64())));
        self.g.clear();
        self.g.resize(self.x.len(), 0.0);
        let loss = (self.f)(&self.x, &mut self.g);
        let mut k = 0;
        for g in grads.iter_mut() {
            for gi in g.iter_mut() {
                *gi = T::of(self.g[k]);
                k += 1;
            }
        }
        Ok(loss)
    }

    fn hessian(&mut self, values: &[&[T]], out: &mut [T]) -> Result<bool> {
        let Some(h) = &mut self.h else {
            return Ok(false);
        };
        self.x.clear();
        self.x
            .extend(values.iter().flat_map(|v| v.iter().map(|x| x.f64())));
        let mut buf = vec![0.0; out.len()];
        let ok = h(&self.x, &mut buf);
        for (o, b) in out.iter_mut().zip(&buf) {
            *o = T::of(*b);
        }
        Ok(ok)
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

/// A factor the gradients of one step are multiplied by inside the update (the
/// gradients themselves are left as they are), as [`crate::clip::step_clipped`]
/// applies `clip_grad_norm`'s coefficient without a pass that rewrites them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradScale {
    factor: f64,
    verified_finite: bool,
}

impl GradScale {
    /// Gradients as they are.
    pub const ONE: GradScale = GradScale {
        factor: 1.0,
        verified_finite: false,
    };

    /// Gradients multiplied by `factor` (converted to the element type once, so an
    /// `f32` step multiplies by `factor as f32`, as torch multiplies a float32 tensor by
    /// a float32 coefficient). The optimizer still applies its non-finite policy.
    pub fn new(factor: f64) -> GradScale {
        GradScale {
            factor,
            verified_finite: false,
        }
    }

    /// As [`GradScale::new`], for gradients a pass of this crate has already found
    /// finite (their global norm is finite): the optimizer skips its own scan.
    pub(crate) fn verified(factor: f64) -> GradScale {
        GradScale {
            factor,
            verified_finite: true,
        }
    }

    /// The factor.
    pub fn factor(self) -> f64 {
        self.factor
    }

    /// Whether every gradient is known to be finite.
    pub fn verified_finite(self) -> bool {
        self.verified_finite
    }
}

/// A first-order optimizer over named tensors.
///
/// Object safe, so a spec string can be turned into a `Box<dyn Optimizer<T>>` with
/// [`build`].
pub trait Optimizer<T: Float>: Send {
    /// The algorithm's spec name (`adam`, `sgd`, ...).
    fn name(&self) -> &'static str;

    /// How the optimizer takes its gradients: element-wise and per-tensor optimizers
    /// use the gradients in the params; closure optimizers need [`Optimizer::step_with`].
    fn kind(&self) -> OptimizerKind {
        OptimizerKind::Elementwise
    }

    /// One step that may re-evaluate the loss through `closure` (one torch
    /// `step(closure)`). Optimizers that need only the gradients in `params` ignore
    /// the closure, so every caller can step every optimizer this way.
    fn step_with(
        &mut self,
        params: &mut [Param<'_, T>],
        closure: &mut dyn Closure<T>,
    ) -> Result<StepOutcome> {
        let _ = closure;
        self.step(params)
    }

    /// The optimizer's configuration as a spec call, e.g. `adam(lr=0.001, ...)`.
    fn spec(&self) -> crate::spec::Call;

    /// Updates every tensor in `params` once from its gradient.
    ///
    /// Tensors seen for the first time get fresh state. Errors (length mismatch,
    /// duplicate names, a non-finite gradient under [`NonFinitePolicy::Error`]) leave
    /// every parameter and all state unchanged.
    fn step(&mut self, params: &mut [Param<'_, T>]) -> Result<StepOutcome>;

    /// [`Optimizer::step`] on the gradients multiplied by `scale`. The element-wise
    /// engine multiplies in the update kernel (no extra pass over memory, and no scan
    /// for non-finite values when `scale` says they were checked); this default,
    /// for the other optimizers, steps on a scaled copy.
    fn step_scaled(
        &mut self,
        params: &mut [Param<'_, T>],
        scale: GradScale,
    ) -> Result<StepOutcome> {
        if scale.factor() == 1.0 {
            return self.step(params);
        }
        let c = T::of(scale.factor());
        let scaled: Vec<Vec<T>> = params
            .iter()
            .map(|p| p.grad.iter().map(|&g| g * c).collect())
            .collect();
        let mut copies: Vec<Param<'_, T>> = params
            .iter_mut()
            .zip(&scaled)
            .map(|(p, g)| Param {
                name: p.name,
                value: &mut *p.value,
                grad: g,
                shape: p.shape,
            })
            .collect();
        self.step(&mut copies)
    }

    /// The evaluation parameters of tensor `name`, for optimizers that take the
    /// gradient at one point and offer another for evaluation: Schedule-Free's
    /// parameters hold the interpolated point `y` where gradients are taken, and its
    /// evaluation point is the average `x` (what the reference's `eval()` swaps into
    /// the tensors). Writes them into `out` and returns `true`; `false` (the default)
    /// means the parameters themselves are the evaluation point and `out` is left
    /// alone. `value` is the tensor's current parameters (as passed to the last step).
    ///
    /// A read-out, not a mode: nothing changes, so the next step continues from `y`
    /// exactly, and since `x` follows from the parameters and the state, a checkpoint
    /// of both holds it. Errors when `out`, `value` and the tensor's state differ in
    /// length.
    fn eval_params(&self, name: &str, value: &[T], out: &mut [T]) -> Result<bool> {
        let _ = (name, value, out);
        Ok(false)
    }

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

/// The lengths [`Optimizer::eval_params`] needs to agree: the output, the parameters
/// and each state buffer of the tensor.
pub(crate) fn check_eval_lengths<T>(
    name: &str,
    value: &[T],
    out: &[T],
    slots: &[Vec<T>],
) -> Result<()> {
    if out.len() != value.len() {
        return Err(crate::Error::StateMismatch(format!(
            "the evaluation parameters of tensor '{name}' need an output of {} values, got {}",
            value.len(),
            out.len()
        )));
    }
    match slots.iter().find(|s| s.len() != value.len()) {
        None => Ok(()),
        Some(s) => Err(crate::Error::StateShape {
            name: name.to_string(),
            expected: s.len(),
            got: value.len(),
        }),
    }
}

impl<T: Float> std::fmt::Debug for dyn Optimizer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.spec())
    }
}
