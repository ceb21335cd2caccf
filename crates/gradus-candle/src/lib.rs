//! # gradus-candle
//!
//! Any [gradus] optimizer, chosen by a spec string such as
//! `"nadam(lr=0.002)"`, driving the [`Var`]s of a [candle](candle_core) model:
//! [`GradusOptimizer`] implements [`candle_nn::Optimizer`], so `backward_step(&loss)`
//! works as with candle's own optimizers, and the update is computed by gradus's
//! kernels (exact to torch.optim) directly on the tensors' CPU memory.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use candle_nn::{Module, Optimizer, VarBuilder, VarMap};
//! use gradus_candle::GradusOptimizer;
//!
//! # fn main() -> candle_core::Result<()> {
//! let varmap = VarMap::new();
//! let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
//! let model = candle_nn::linear(2, 1, vb.pp("fc"))?;
//! let mut opt = GradusOptimizer::from_varmap(&varmap, "adamw(lr=0.05, weight_decay=0)")?
//!     .with_clip_grad_norm(1.0)?;
//!
//! // Fit y = x0 - 2 x1 + 0.5.
//! let x = Tensor::new(&[[1f32, 0.], [0., 1.], [1., 1.], [2., -1.]], &Device::Cpu)?;
//! let y = Tensor::new(&[[1.5f32], [-1.5], [-0.5], [4.5]], &Device::Cpu)?;
//! for _ in 0..500 {
//!     let loss = model.forward(&x)?.sub(&y)?.sqr()?.mean_all()?;
//!     opt.backward_step(&loss)?;
//! }
//! let loss = model.forward(&x)?.sub(&y)?.sqr()?.mean_all()?.to_scalar::<f32>()?;
//! assert!(loss < 1e-3, "loss {loss}");
//!
//! // The optimizer state (per-variable moments keyed by VarMap name, step, schedule).
//! let bytes = opt.to_bytes()?;
//! opt.load_bytes(&bytes)?;
//! # Ok(())
//! # }
//! ```
//!
//! # How the update reaches the tensor memory
//!
//! candle keeps a tensor's storage behind a lock and does not hand out `&mut [f32]`
//! (its `storage_mut` is crate-private). It does offer a safe, public in-place hook:
//! [`Tensor::inplace_op1`] with a user-defined [`InplaceOp1`], whose `cpu_fwd` receives
//! `&mut CpuStorage`. [`GradusOptimizer`] uses it ([`UpdateMode::InPlace`], the
//! default): it write-locks every variable in turn (nested, so that all of them are
//! borrowed at once), read-locks the gradients, and calls gradus's
//! [`Optimizer::step`] once over all the tensors,
//! exactly as the slice API does. No parameter or gradient is copied (gradients are
//! copied only when clipping by value, into buffers reused from step to step, since the
//! [`GradStore`] is borrowed immutably; clipping by norm applies its coefficient inside
//! the update).
//!
//! [`UpdateMode::Copy`] does what one would do without that hook: read every variable
//! into a `Vec` (`to_vec1`), step, and write it back with [`Var::set`] (a new tensor
//! from the `Vec`, then a copy into the variable). Both give bit-identical results.
//! Measured on this crate's `step_cost` example (Adam on a 1,001,000-parameter
//! model, release build, 2 cores): in place costs the same as gradus on plain slices
//! (≈1.5 ms in f32, 3.2 ms in f64), while the copy path takes ≈2.5 ms in f32 and
//! 5.3 ms in f64, i.e. the copy adds 50–75 % to every step. (`candle_nn::AdamW`
//! takes ≈40 ms in f32 on the same model.) The crate README has the table.
//!
//! # What is supported
//! * CPU tensors of `f32` or `f64`, all variables of one optimizer sharing a dtype
//!   (build one optimizer per dtype otherwise). Other dtypes and devices are refused
//!   with an error when the optimizer is built; gradients of the wrong dtype, shape or
//!   device are refused by [`step`](candle_nn::Optimizer::step). Nothing panics on user input.
//! * Variables without a gradient in a step are left alone (as candle's optimizers
//!   do); their state is kept.
//! * Learning-rate schedules ([`GradusOptimizer::with_schedule`]), clipping by global
//!   norm or by value, and checkpoints of the optimizer and schedule state as JSON.

#![warn(missing_docs)]

/// The README's snippets (candle and ndarray), compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Device, InplaceOp1, Layout, Storage, Tensor, Var};
use candle_nn::VarMap;
use gradus::optim::{Optimizer, OptimizerState, Param, StepOutcome};
use gradus::schedule::{Schedule, ScheduleState};
use std::cell::RefCell;
use std::path::Path;

pub use candle_core::{Error, Result};

/// The format tag written into every checkpoint.
pub const CHECKPOINT_FORMAT: &str = "gradus-candle/1";

fn err(msg: impl std::fmt::Display) -> Error {
    Error::Msg(format!("gradus-candle: {msg}"))
}

fn gerr(e: gradus::Error) -> Error {
    err(e)
}

/// How gradient clipping is applied before each step (as torch's
/// `clip_grad_norm_` / `clip_grad_value_`, via [`gradus::clip`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clip {
    /// Scale all gradients together so that their global `norm_type`-norm is at most
    /// `max_norm` ([`gradus::clip::step_clipped`]: the coefficient is applied inside
    /// the update, the gradients are neither copied nor rewritten).
    Norm {
        /// The largest allowed global norm.
        max_norm: f64,
        /// `p` of the p-norm (2 in torch; `f64::INFINITY` for the max-norm).
        norm_type: f64,
    },
    /// Clamp every gradient element to `[-value, value]`
    /// ([`gradus::clip::clip_grad_value`]).
    Value(f64),
}

/// How the updated values reach the variables' memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateMode {
    /// Update the variables' CPU storage in place through candle's
    /// [`Tensor::inplace_op1`] (no copy).
    #[default]
    InPlace,
    /// Copy each variable to a `Vec`, step, and write it back with [`Var::set`].
    /// Slower; results are identical. Kept for comparison and as a fallback.
    Copy,
}

/// The configuration that [`candle_nn::Optimizer::new`] takes: an optimizer spec
/// and, optionally, a schedule spec and clipping.
///
/// `GradusConfig::from("adam(lr=0.001)")` (or `.into()`) is the usual way to make one.
#[derive(Debug, Clone, PartialEq)]
pub struct GradusConfig {
    /// The optimizer spec, e.g. `adamw(lr=0.001, weight_decay=0.01)`.
    pub spec: String,
    /// A schedule spec for [`gradus::schedule::build`], e.g. `cosine_annealing(t_max=100)`.
    pub schedule: Option<String>,
    /// Gradient clipping before each step.
    pub clip: Option<Clip>,
}

impl From<&str> for GradusConfig {
    fn from(spec: &str) -> Self {
        GradusConfig {
            spec: spec.to_string(),
            schedule: None,
            clip: None,
        }
    }
}

impl From<String> for GradusConfig {
    fn from(spec: String) -> Self {
        GradusConfig {
            spec,
            schedule: None,
            clip: None,
        }
    }
}

/// The optimizer state inside a [`Checkpoint`], by dtype.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DTypeState {
    /// State of an `f32` optimizer.
    F32(OptimizerState<f32>),
    /// State of an `f64` optimizer.
    F64(OptimizerState<f64>),
}

/// Everything [`GradusOptimizer`] needs to continue a run exactly: the gradus
/// optimizer state (hyperparameters, per-variable buffers keyed by variable name),
/// the number of steps taken and the schedule state. Variable values are not
/// included: save those with [`VarMap::save`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// Successful calls of [`step`](candle_nn::Optimizer::step) so far.
    pub step: u64,
    /// The gradus optimizer state.
    pub optimizer: DTypeState,
    /// The schedule state, if a schedule is attached.
    pub schedule: Option<ScheduleState>,
}

/// The dtype-specific part: a gradus optimizer and scratch buffers for value clipping.
struct Core<T: Elem> {
    opt: Box<dyn Optimizer<T>>,
    scratch: Vec<Vec<T>>,
}

enum Inner {
    F32(Core<f32>),
    F64(Core<f64>),
}

macro_rules! with_opt {
    ($inner:expr, $o:ident => $body:expr) => {
        match $inner {
            Inner::F32(c) => {
                let $o = &c.opt;
                $body
            }
            Inner::F64(c) => {
                let $o = &c.opt;
                $body
            }
        }
    };
}

macro_rules! with_opt_mut {
    ($inner:expr, $o:ident => $body:expr) => {
        match $inner {
            Inner::F32(c) => {
                let $o = &mut c.opt;
                $body
            }
            Inner::F64(c) => {
                let $o = &mut c.opt;
                $body
            }
        }
    };
}

/// A [`candle_nn::Optimizer`] running any gradus optimizer on candle variables.
///
/// Build it from a [`VarMap`] ([`GradusOptimizer::from_varmap`]; the optimizer state
/// is keyed by the VarMap names, so the order of variables never matters) or from a
/// list of variables ([`GradusOptimizer::from_vars`], named `param.0`, `param.1`, …,
/// or [`candle_nn::Optimizer::new`] with a [`GradusConfig`]).
///
/// Each [`step`](candle_nn::Optimizer::step): the gradients of the variables that have one
/// are checked (CPU, same dtype and shape as the variable), optionally clipped, and
/// the gradus optimizer updates all the variables at once, in place (see the
/// [crate docs](crate) for how). Then the schedule, if any, is stepped and sets the
/// learning rate of the next step.
pub struct GradusOptimizer {
    vars: Vec<(String, Var)>,
    inner: Inner,
    schedule: Option<Box<dyn Schedule>>,
    clip: Option<Clip>,
    mode: UpdateMode,
    step: u64,
    last_norm: Option<f64>,
    pending: Option<String>,
}

impl std::fmt::Debug for GradusOptimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GradusOptimizer")
            .field("spec", &self.spec())
            .field("dtype", &self.dtype())
            .field(
                "vars",
                &self.vars.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("schedule", &self.schedule)
            .field("clip", &self.clip)
            .field("mode", &self.mode)
            .field("step", &self.step)
            .finish()
    }
}

impl GradusOptimizer {
    /// An optimizer over every variable of `varmap`, state keyed by the VarMap names.
    ///
    /// The variables are taken as they are now (as candle's optimizers take
    /// `varmap.all_vars()`): build the model first.
    pub fn from_varmap(varmap: &VarMap, spec: &str) -> Result<Self> {
        let vars = {
            let data = varmap
                .data()
                .lock()
                .map_err(|_| err("the VarMap's lock is poisoned"))?;
            let mut vars: Vec<(String, Var)> =
                data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            vars.sort_by(|a, b| a.0.cmp(&b.0));
            vars
        };
        Self::from_named_vars(vars, spec)
    }

    /// An optimizer over `vars`, named `param.0`, `param.1`, … in order.
    pub fn from_vars(vars: Vec<Var>, spec: &str) -> Result<Self> {
        let vars = vars
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("param.{i}"), v))
            .collect();
        Self::from_named_vars(vars, spec)
    }

    /// An optimizer over named variables (names must be unique; state is keyed by them).
    ///
    /// All variables must be CPU tensors of one dtype, `f32` or `f64`. With no
    /// variables at all the optimizer is an `f32` one that does nothing.
    pub fn from_named_vars(vars: Vec<(String, Var)>, spec: &str) -> Result<Self> {
        let mut names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(err(format!("variable name '{}' appears twice", w[0])));
        }
        let dtype = match vars.first() {
            Some((_, v)) => v.dtype(),
            None => DType::F32,
        };
        for (name, v) in &vars {
            check_device(name, v.device())?;
            if v.dtype() != dtype {
                return Err(err(format!(
                    "variables of different dtypes in one optimizer ('{}' is {:?}, '{}' is {:?}); \
                     build one optimizer per dtype",
                    vars[0].0,
                    dtype,
                    name,
                    v.dtype()
                )));
            }
        }
        let inner = match dtype {
            DType::F32 => Inner::F32(Core {
                opt: gradus::optim::build::<f32>(spec).map_err(gerr)?,
                scratch: Vec::new(),
            }),
            DType::F64 => Inner::F64(Core {
                opt: gradus::optim::build::<f64>(spec).map_err(gerr)?,
                scratch: Vec::new(),
            }),
            other => {
                return Err(err(format!(
                    "unsupported dtype {other:?} (variable '{}'); gradus steps f32 and f64 tensors",
                    vars[0].0
                )))
            }
        };
        Ok(GradusOptimizer {
            vars,
            inner,
            schedule: None,
            clip: None,
            mode: UpdateMode::InPlace,
            step: 0,
            last_norm: None,
            pending: None,
        })
    }

    /// Attaches a learning-rate schedule built by [`gradus::schedule::build`] from
    /// `spec`, with the optimizer's current lr (and momentum, if it has one) as base.
    ///
    /// The learning rate is set to the schedule's first value now, and the schedule is
    /// stepped after each step (with the loss as metric when the step comes from
    /// `backward_step` or [`GradusOptimizer::step_with_metric`], 0 otherwise).
    pub fn with_schedule(self, spec: &str) -> Result<Self> {
        let schedule = gradus::schedule::build(spec, self.learning_rate_now(), self.momentum())
            .map_err(gerr)?;
        self.with_schedule_boxed(schedule)
    }

    /// Attaches an already built schedule (see [`GradusOptimizer::with_schedule`]).
    pub fn with_schedule_boxed(mut self, schedule: Box<dyn Schedule>) -> Result<Self> {
        self.apply_schedule(schedule.as_ref())?;
        self.schedule = Some(schedule);
        Ok(self)
    }

    /// Clips gradients by global 2-norm before each step (torch's
    /// `clip_grad_norm_(params, max_norm)`).
    pub fn with_clip_grad_norm(self, max_norm: f64) -> Result<Self> {
        self.with_clip(Some(Clip::Norm {
            max_norm,
            norm_type: 2.0,
        }))
    }

    /// Clamps gradient elements to `[-value, value]` before each step (torch's
    /// `clip_grad_value_`).
    pub fn with_clip_grad_value(self, value: f64) -> Result<Self> {
        self.with_clip(Some(Clip::Value(value)))
    }

    /// Sets (or, with `None`, removes) gradient clipping, checking its numbers.
    pub fn with_clip(mut self, clip: Option<Clip>) -> Result<Self> {
        self.set_clip(clip)?;
        Ok(self)
    }

    /// Sets (or removes) gradient clipping, checking its numbers.
    pub fn set_clip(&mut self, clip: Option<Clip>) -> Result<()> {
        // Validate by clipping nothing.
        let mut none: [&mut [f64]; 0] = [];
        match clip {
            Some(Clip::Norm {
                max_norm,
                norm_type,
            }) => gradus::clip::clip_grad_norm(&mut none, max_norm, norm_type)
                .map(|_| ())
                .map_err(gerr)?,
            Some(Clip::Value(v)) => gradus::clip::clip_grad_value(&mut none, v).map_err(gerr)?,
            None => {}
        }
        self.clip = clip;
        Ok(())
    }

    /// Chooses how updated values reach the variables (see [`UpdateMode`]).
    pub fn with_update_mode(mut self, mode: UpdateMode) -> Self {
        self.mode = mode;
        self
    }

    /// The optimizer's spec with its current hyperparameters, e.g. `adam(lr=0.001, ...)`.
    pub fn spec(&self) -> String {
        with_opt!(&self.inner, o => o.spec().to_string())
    }

    /// The dtype of the variables (`F32` or `F64`).
    pub fn dtype(&self) -> DType {
        match self.inner {
            Inner::F32(_) => DType::F32,
            Inner::F64(_) => DType::F64,
        }
    }

    /// The variables and their names (the keys of the optimizer state).
    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// Successful steps so far (applied or skipped under the `skip` non-finite policy).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Steps skipped because a gradient was non-finite under the `skip` policy.
    pub fn skipped_steps(&self) -> u64 {
        with_opt!(&self.inner, o => o.skipped_steps())
    }

    /// The global gradient norm before clipping, of the last step that clipped by norm.
    pub fn last_grad_norm(&self) -> Option<f64> {
        self.last_norm
    }

    /// The momentum (or β1) the optimizer reports, if it has one.
    pub fn momentum(&self) -> Option<f64> {
        with_opt!(&self.inner, o => o.momentum())
    }

    /// Sets the non-finite gradient policy of the gradus optimizer.
    pub fn set_nonfinite_policy(&mut self, policy: gradus::optim::NonFinitePolicy) {
        with_opt_mut!(&mut self.inner, o => o.set_nonfinite_policy(policy))
    }

    /// The attached schedule, if any.
    pub fn schedule(&self) -> Option<&dyn Schedule> {
        self.schedule.as_deref()
    }

    /// Sets the learning rate, returning an error for a negative or NaN value (the
    /// [`candle_nn::Optimizer::set_learning_rate`] form cannot return one; it defers it
    /// to the next step). An attached schedule overrides it after the next step.
    pub fn try_set_learning_rate(&mut self, lr: f64) -> Result<()> {
        with_opt_mut!(&mut self.inner, o => o.set_lr(lr)).map_err(gerr)
    }

    fn learning_rate_now(&self) -> f64 {
        with_opt!(&self.inner, o => o.lr())
    }

    fn apply_schedule(&mut self, s: &dyn Schedule) -> Result<()> {
        let lr = s.lr();
        let m = s.momentum();
        with_opt_mut!(&mut self.inner, o => {
            o.set_lr(lr).map_err(gerr)?;
            if let Some(m) = m {
                o.set_momentum(m).map_err(gerr)?;
            }
        });
        Ok(())
    }

    /// One step from the gradients in `grads`, passing `metric` (usually the loss) to
    /// the schedule (only `reduce_on_plateau` reads it).
    ///
    /// On error nothing has changed: no variable, no state, no schedule.
    pub fn step_with_metric(&mut self, grads: &GradStore, metric: f64) -> Result<StepOutcome> {
        if let Some(msg) = self.pending.take() {
            return Err(err(msg));
        }
        let (outcome, norm) = match &mut self.inner {
            Inner::F32(core) => step_typed(core, &self.vars, grads, self.clip, self.mode)?,
            Inner::F64(core) => step_typed(core, &self.vars, grads, self.clip, self.mode)?,
        };
        if norm.is_some() {
            self.last_norm = norm;
        }
        self.step += 1;
        if let Some(mut s) = self.schedule.take() {
            s.step(metric);
            let r = self.apply_schedule(s.as_ref());
            self.schedule = Some(s);
            r?;
        }
        Ok(outcome)
    }

    /// The complete state, for a checkpoint.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            format: CHECKPOINT_FORMAT.to_string(),
            step: self.step,
            optimizer: match &self.inner {
                Inner::F32(c) => DTypeState::F32(c.opt.state()),
                Inner::F64(c) => DTypeState::F64(c.opt.state()),
            },
            schedule: self.schedule.as_ref().map(|s| s.state()),
        }
    }

    /// Restores a state made by [`GradusOptimizer::checkpoint`] (hyperparameters
    /// included). The dtype must match, and a schedule must be attached exactly when
    /// the checkpoint has one. On error nothing changes.
    pub fn restore(&mut self, ck: Checkpoint) -> Result<()> {
        if ck.format != CHECKPOINT_FORMAT {
            return Err(err(format!(
                "checkpoint format '{}' is not '{CHECKPOINT_FORMAT}'",
                ck.format
            )));
        }
        let schedule = match (&self.schedule, &ck.schedule) {
            (None, None) => None,
            (Some(s), Some(st)) => {
                let mut s = s.boxed_clone();
                s.load_state(st).map_err(gerr)?;
                Some(s)
            }
            (None, Some(st)) => {
                return Err(err(format!(
                    "the checkpoint has a schedule ({}) but this optimizer has none; attach it \
                     with with_schedule before loading",
                    st.spec
                )))
            }
            (Some(s), None) => {
                return Err(err(format!(
                    "this optimizer has a schedule ({}) but the checkpoint has none",
                    s.spec()
                )))
            }
        };
        match (&mut self.inner, ck.optimizer) {
            (Inner::F32(c), DTypeState::F32(st)) => c.opt.load_state(st).map_err(gerr)?,
            (Inner::F64(c), DTypeState::F64(st)) => c.opt.load_state(st).map_err(gerr)?,
            (inner, st) => {
                let got = match st {
                    DTypeState::F32(_) => "f32",
                    DTypeState::F64(_) => "f64",
                };
                let want = match inner {
                    Inner::F32(_) => "f32",
                    Inner::F64(_) => "f64",
                };
                return Err(err(format!(
                    "the checkpoint is for {got} variables but this optimizer steps {want}"
                )));
            }
        }
        self.schedule = schedule;
        self.step = ck.step;
        self.pending = None;
        Ok(())
    }

    /// The state as JSON bytes (exact: floats are written so they read back to the bit).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&self.checkpoint()).map_err(err)
    }

    /// Restores a state from [`GradusOptimizer::to_bytes`].
    pub fn load_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let ck: Checkpoint = serde_json::from_slice(bytes)
            .map_err(|e| err(format!("cannot read checkpoint: {e}")))?;
        self.restore(ck)
    }

    /// Writes the state as JSON to `path`.
    pub fn save<P: AsRef<Path>>(&self, path: P) -> Result<()> {
        let bytes = self.to_bytes()?;
        std::fs::write(path.as_ref(), bytes)
            .map_err(|e| err(format!("cannot write {}: {e}", path.as_ref().display())))
    }

    /// Restores the state from a JSON file written by [`GradusOptimizer::save`].
    pub fn load<P: AsRef<Path>>(&mut self, path: P) -> Result<()> {
        let bytes = std::fs::read(path.as_ref())
            .map_err(|e| err(format!("cannot read {}: {e}", path.as_ref().display())))?;
        self.load_bytes(&bytes)
    }
}

impl candle_nn::Optimizer for GradusOptimizer {
    type Config = GradusConfig;

    fn new(vars: Vec<Var>, config: GradusConfig) -> Result<Self> {
        let mut opt = GradusOptimizer::from_vars(vars, &config.spec)?.with_clip(config.clip)?;
        if let Some(s) = &config.schedule {
            opt = opt.with_schedule(s)?;
        }
        Ok(opt)
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step_with_metric(grads, 0.0).map(|_| ())
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate_now()
    }

    /// Sets the learning rate. An invalid value (negative, NaN) leaves it unchanged
    /// and makes the next step return the error; use
    /// [`GradusOptimizer::try_set_learning_rate`] to get it at once.
    fn set_learning_rate(&mut self, lr: f64) {
        if let Err(e) = self.try_set_learning_rate(lr) {
            self.pending = Some(e.to_string());
        }
    }

    /// Backpropagates `loss` and steps, passing the loss value to the schedule.
    fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        let grads = loss.backward()?;
        let metric = loss
            .to_dtype(DType::F64)
            .and_then(|l| l.sum_all())
            .and_then(|l| l.to_scalar::<f64>())
            .unwrap_or(0.0);
        self.step_with_metric(&grads, metric).map(|_| ())
    }
}

// ---------------------------------------------------------------------------------
// The dtype-generic step.

/// `f32` and `f64`: the element types both gradus and candle's CPU storage know.
trait Elem: gradus::Float + candle_core::WithDType {
    fn vec_mut(s: &mut CpuStorage) -> Option<&mut Vec<Self>>;
    fn vec(s: &CpuStorage) -> Option<&Vec<Self>>;
}

impl Elem for f32 {
    fn vec_mut(s: &mut CpuStorage) -> Option<&mut Vec<Self>> {
        match s {
            CpuStorage::F32(v) => Some(v),
            _ => None,
        }
    }
    fn vec(s: &CpuStorage) -> Option<&Vec<Self>> {
        match s {
            CpuStorage::F32(v) => Some(v),
            _ => None,
        }
    }
}

impl Elem for f64 {
    fn vec_mut(s: &mut CpuStorage) -> Option<&mut Vec<Self>> {
        match s {
            CpuStorage::F64(v) => Some(v),
            _ => None,
        }
    }
    fn vec(s: &CpuStorage) -> Option<&Vec<Self>> {
        match s {
            CpuStorage::F64(v) => Some(v),
            _ => None,
        }
    }
}

fn check_device(name: &str, d: &Device) -> Result<()> {
    if d.is_cpu() {
        Ok(())
    } else {
        Err(err(format!(
            "variable '{name}' is on {:?}; gradus-candle steps CPU tensors only",
            d.location()
        )))
    }
}

/// Identity of a tensor's storage (equal for tensors sharing an allocation).
fn storage_id(t: &Tensor) -> usize {
    let (s, _) = t.storage_and_layout();
    std::ptr::from_ref::<Storage>(&*s) as usize
}

/// The contiguous range of `layout` in a storage of `len` elements.
fn range(layout: &Layout, len: usize, what: &str) -> Result<std::ops::Range<usize>> {
    match layout.contiguous_offsets() {
        Some((a, b)) if b <= len => Ok(a..b),
        Some(_) => Err(err(format!("{what}: layout exceeds its storage"))),
        None => Err(err(format!("{what} is not contiguous"))),
    }
}

fn step_typed<T: Elem>(
    core: &mut Core<T>,
    vars: &[(String, Var)],
    grads: &GradStore,
    clip: Option<Clip>,
    mode: UpdateMode,
) -> Result<(StepOutcome, Option<f64>)> {
    // 1. The variables with a gradient, checked.
    let mut names: Vec<&str> = Vec::with_capacity(vars.len());
    let mut targets: Vec<&Var> = Vec::with_capacity(vars.len());
    let mut gts: Vec<Tensor> = Vec::with_capacity(vars.len());
    for (name, var) in vars {
        let Some(g) = grads.get(var.as_tensor()) else {
            continue;
        };
        check_device(name, var.device())?;
        if !g.device().is_cpu() {
            return Err(err(format!("the gradient of '{name}' is not on the CPU")));
        }
        if var.dtype() != <T as candle_core::WithDType>::DTYPE
            || g.dtype() != <T as candle_core::WithDType>::DTYPE
        {
            return Err(err(format!(
                "variable '{name}' is {:?} with a {:?} gradient; this optimizer steps {:?}",
                var.dtype(),
                g.dtype(),
                <T as candle_core::WithDType>::DTYPE
            )));
        }
        if g.shape() != var.shape() {
            return Err(err(format!(
                "the gradient of '{name}' has shape {:?} but the variable has {:?}",
                g.shape(),
                var.shape()
            )));
        }
        if !var.is_contiguous() && mode == UpdateMode::InPlace {
            return Err(err(format!("variable '{name}' is not contiguous")));
        }
        names.push(name);
        targets.push(var);
        gts.push(g.clone());
    }
    // 2. Locks must never be taken twice on one storage: variables must not share
    //    storage, and a gradient that shares storage with a variable (or that is not
    //    contiguous) is copied first.
    let var_ids: Vec<usize> = targets.iter().map(|t| storage_id(t)).collect();
    let mut sorted: Vec<(usize, usize)> = var_ids.iter().copied().zip(0..).collect();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(err(format!(
            "variables '{}' and '{}' share storage",
            names[w[0].1], names[w[1].1]
        )));
    }
    for g in gts.iter_mut() {
        if !g.is_contiguous() || sorted.binary_search_by_key(&storage_id(g), |p| p.0).is_ok() {
            *g = g.contiguous()?.copy()?;
        }
    }
    // 3. Read-lock the gradients (zero copy), or copy them for clipping.
    let guards: Vec<_> = gts.iter().map(|g| g.storage_and_layout()).collect();
    let mut gslices: Vec<&[T]> = Vec::with_capacity(guards.len());
    for ((s, l), name) in guards.iter().zip(&names) {
        let Storage::Cpu(cpu) = &**s else {
            return Err(err(format!("the gradient of '{name}' is not on the CPU")));
        };
        let v = T::vec(cpu)
            .ok_or_else(|| err(format!("the gradient of '{name}' has the wrong dtype")))?;
        let r = range(l, v.len(), &format!("the gradient of '{name}'"))?;
        gslices.push(&v[r]);
    }
    let Core { opt, scratch } = core;
    // Norm clipping reads the gradients once (the norm, which also finds non-finite
    // ones) and applies its coefficient inside the update: no copy, no rewrite.
    let norm_clip = match clip {
        Some(Clip::Norm {
            max_norm,
            norm_type,
        }) => Some((max_norm, norm_type)),
        _ => None,
    };
    if let Some(Clip::Value(v)) = clip {
        scratch.resize_with(gslices.len(), Vec::new);
        for (buf, g) in scratch.iter_mut().zip(&gslices) {
            buf.clear();
            buf.extend_from_slice(g);
        }
        let mut bufs: Vec<&mut [T]> = scratch[..gslices.len()]
            .iter_mut()
            .map(|b| &mut b[..])
            .collect();
        gradus::clip::clip_grad_value(&mut bufs, v).map_err(gerr)?;
        gslices.clear();
        gslices.extend(scratch[..guards.len()].iter().map(|b| &b[..]));
    }
    // 4. Step, with each variable's shape (per-tensor optimizers such as Muon read it).
    let shapes: Vec<Vec<usize>> = targets.iter().map(|t| t.dims().to_vec()).collect();
    let (outcome, norm) = match mode {
        UpdateMode::InPlace => {
            step_in_place(opt.as_mut(), &names, &shapes, &targets, &gslices, norm_clip)?
        }
        UpdateMode::Copy => {
            let mut values: Vec<Vec<T>> = targets
                .iter()
                .map(|t| t.flatten_all().and_then(|f| f.to_vec1::<T>()))
                .collect::<Result<_>>()?;
            let mut params: Vec<Param<'_, T>> = names
                .iter()
                .zip(values.iter_mut())
                .zip(gslices.iter().zip(&shapes))
                .map(|((n, v), (g, s))| Param::with_shape(n, v, g, s))
                .collect();
            let (outcome, norm) =
                step_maybe_clipped(opt.as_mut(), &mut params, norm_clip).map_err(gerr)?;
            drop(params);
            if outcome == StepOutcome::Applied {
                for (var, v) in targets.iter().zip(values) {
                    var.set(&Tensor::from_vec(v, var.shape(), var.device())?)?;
                }
            }
            (outcome, norm)
        }
    };
    drop(guards);
    Ok((outcome, norm))
}

/// One step, clipped by global norm (`(max_norm, norm_type)`) if asked: returns the
/// outcome and the norm before clipping.
fn step_maybe_clipped<T: Elem>(
    opt: &mut dyn Optimizer<T>,
    params: &mut [Param<'_, T>],
    norm_clip: Option<(f64, f64)>,
) -> gradus::Result<(StepOutcome, Option<f64>)> {
    match norm_clip {
        Some((max_norm, norm_type)) => gradus::clip::step_clipped(opt, params, max_norm, norm_type)
            .map(|(outcome, norm)| (outcome, Some(norm))),
        None => opt.step(params).map(|outcome| (outcome, None)),
    }
}

/// Variables above this count are stepped on a helper thread with a stack sized for
/// the nested locks (one level of nesting per variable).
const NEST_ON_CALLER: usize = 48;
/// Stack bytes reserved per nesting level on the helper thread: measured use is about
/// 0.7 KB per level in the dev profile (less in release), so this leaves a wide margin.
const STACK_PER_LEVEL: usize = 8 << 10;

type Finish<'f, T> = dyn FnMut(&mut [&mut [T]]) + 'f;

/// Write-locks `rest` one by one (each lock nested in the previous one's
/// `InplaceOp1::cpu_fwd`), then calls `finish` with all the variables' memory.
struct Chain<'c, 'p, T: Elem> {
    names: &'c [&'c str],
    rest: &'c [&'c Var],
    held: RefCell<Vec<&'p mut [T]>>,
    finish: RefCell<Option<&'c mut Finish<'c, T>>>,
}

impl<T: Elem> InplaceOp1 for Chain<'_, '_, T> {
    fn name(&self) -> &'static str {
        "gradus-step"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let name = self.names[self.names.len() - self.rest.len() - 1];
        let v = T::vec_mut(storage)
            .ok_or_else(|| err(format!("variable '{name}' has the wrong dtype")))?;
        let r = range(layout, v.len(), &format!("variable '{name}'"))?;
        let mut held: Vec<&mut [T]> = self.held.take();
        held.push(&mut v[r]);
        let finish = self
            .finish
            .borrow_mut()
            .take()
            .ok_or_else(|| err("internal: step already run"))?;
        lock_rest(self.names, self.rest, held, finish)
    }
}

fn lock_rest<'c, T: Elem>(
    names: &'c [&'c str],
    rest: &'c [&'c Var],
    mut held: Vec<&mut [T]>,
    finish: &'c mut Finish<'c, T>,
) -> Result<()> {
    match rest.split_first() {
        None => {
            finish(&mut held);
            Ok(())
        }
        Some((first, rest)) => {
            let chain = Chain {
                names,
                rest,
                held: RefCell::new(held),
                finish: RefCell::new(Some(finish)),
            };
            first.inplace_op1(&chain)
        }
    }
}

fn step_in_place<T: Elem>(
    opt: &mut dyn Optimizer<T>,
    names: &[&str],
    shapes: &[Vec<usize>],
    targets: &[&Var],
    grads: &[&[T]],
    norm_clip: Option<(f64, f64)>,
) -> Result<(StepOutcome, Option<f64>)> {
    let mut result: Option<gradus::Result<(StepOutcome, Option<f64>)>> = None;
    let mut finish = |values: &mut [&mut [T]]| {
        let mut params: Vec<Param<'_, T>> = names
            .iter()
            .zip(values.iter_mut())
            .zip(grads.iter().zip(shapes))
            .map(|((n, v), (g, s))| Param::with_shape(n, v, g, s))
            .collect();
        result = Some(step_maybe_clipped(opt, &mut params, norm_clip));
    };
    let run = |finish: &mut Finish<'_, T>| -> Result<()> {
        lock_rest(names, targets, Vec::with_capacity(targets.len()), finish)
    };
    if targets.len() <= NEST_ON_CALLER {
        run(&mut finish)?;
    } else {
        let stack = (1 << 20) + targets.len().saturating_mul(STACK_PER_LEVEL);
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("gradus-candle-step".into())
                .stack_size(stack)
                .spawn_scoped(s, || run(&mut finish))
                .map_err(|e| err(format!("cannot start the step thread: {e}")))?
                .join()
                .map_err(|_| err("the step thread panicked"))?
        })?;
    }
    result
        .ok_or_else(|| err("internal: the step did not run"))?
        .map_err(gerr)
}
