//! One object to drive: an optimizer with its schedule, gradient clipping and weight
//! averaging, stepped with one call and saved to bytes and back with one call.
//!
//! Driving an [`Optimizer`] by hand is easy to get silently wrong: a schedule is not
//! attached to the optimizer, so the loop must call `set_lr` (and `set_momentum`, for
//! `one_cycle`) before every step and `schedule.step` after it; clipping must happen
//! between the backward pass and the step; an average must be updated after it; and a
//! checkpoint must gather all of their states. A [`Trainer`] does exactly what the
//! `gradus` command's runner does, in that order:
//!
//! 1. set the optimizer's lr (and momentum) from the schedule;
//! 2. clip the gradients by value (into a buffer the trainer reuses: the caller's
//!    gradients are never changed), then by global norm, the norm's coefficient applied
//!    inside the update ([`crate::clip::step_clipped`]: no extra pass);
//! 3. step the optimizer;
//! 4. update the average ([`Averaging::after_step`]);
//! 5. step the schedule, with the step's loss when one is given.
//!
//! On error nothing changes: not the parameters, the optimizer's state, its lr, the
//! schedule, nor the average.
//!
//! A step the optimizer skips (a non-finite gradient under
//! [`NonFinitePolicy::Skip`](crate::optim::NonFinitePolicy::Skip)) still counts as a
//! step, as in the `gradus` runner: the schedule and the average's cadence advance.
//!
//! [`Trainer::to_bytes`] writes all of it (optimizer state, schedule state, clipping,
//! average, step count, and the specs) as one safetensors checkpoint
//! ([`crate::checkpoint`]); [`Trainer::from_bytes`] rebuilds a trainer from those bytes
//! alone, and the resumed trainer continues bit for bit as the original would.
//!
//! ```
//! use gradus::optim::Param;
//! use gradus::Trainer;
//! let mut trainer = Trainer::<f64>::from_specs("sgd(lr=0.1, momentum=0.5)", Some("cosine_annealing(t_max=100)"))
//!     .unwrap()
//!     .with_clip_grad_norm(10.0)
//!     .unwrap()
//!     .with_averaging("ema(decay=0.9)")
//!     .unwrap();
//! let mut w = vec![3.0, -2.0];
//! for _ in 0..50 {
//!     let g: Vec<f64> = w.iter().map(|x| 2.0 * x).collect(); // f(w) = |w|²
//!     trainer.step(&mut [Param::new("w", &mut w, &g)]).unwrap();
//! }
//! let saved = trainer.to_bytes().unwrap();
//! let mut resumed = Trainer::<f64>::from_bytes(&saved).unwrap();
//! let (mut a, mut b) = (w.clone(), w.clone());
//! trainer.step(&mut [Param::new("w", &mut a, &[0.5, 0.5])]).unwrap();
//! resumed.step(&mut [Param::new("w", &mut b, &[0.5, 0.5])]).unwrap();
//! assert_eq!(a, b);
//! assert_eq!(trainer.averaged("w"), resumed.averaged("w"));
//! assert!(w.iter().all(|x| x.abs() < 1e-2));
//! ```

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::float::{DType, Float};
use crate::optim::{self, Averaging, Closure, Optimizer, OptimizerKind, Param, StepOutcome};
use crate::schedule::{self, Schedule, ScheduleState};
use serde::{Deserialize, Serialize};

/// `meta.kind` of a trainer checkpoint.
pub const KIND: &str = "gradus-trainer";

/// Gradient clipping before each step, as torch's `clip_grad_value_` then
/// `clip_grad_norm_`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Clipping {
    /// Clip the global `norm_type`-norm to this (`clip_grad_norm_`'s `max_norm`).
    pub max_norm: Option<f64>,
    /// The norm's order (2 unless set; `f64::INFINITY` for the max norm).
    pub norm_type: f64,
    /// Clamp each element to `[-value, value]` first (`clip_grad_value_`).
    pub value: Option<f64>,
}

/// What the trainer keeps in `meta.trainer`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainerMeta {
    version: u32,
    dtype: DType,
    steps: u64,
    schedule: Option<SavedSchedule>,
    max_norm: Option<f64>,
    /// As text, since it may be `inf`, which JSON cannot hold.
    norm_type: String,
    clip_value: Option<f64>,
    averaging: bool,
    last_grad_norm: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedSchedule {
    /// The optimizer's lr and momentum the schedule was built from.
    base_lr: f64,
    base_momentum: Option<f64>,
    state: ScheduleState,
}

/// An optimizer with its schedule, clipping and averaging: see the [module docs](self).
pub struct Trainer<T: Float> {
    optimizer: Box<dyn Optimizer<T>>,
    schedule: Option<Box<dyn Schedule>>,
    /// The optimizer's (lr, momentum) when the schedule was attached.
    schedule_base: (f64, Option<f64>),
    clip: Clipping,
    averaging: Option<Averaging<T>>,
    steps: u64,
    last_grad_norm: Option<f64>,
    /// The value-clipped gradients (reused from step to step).
    scratch: Vec<T>,
}

impl<T: Float> std::fmt::Debug for Trainer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("optimizer", &self.optimizer.spec().to_string())
            .field(
                "schedule",
                &self.schedule.as_ref().map(|s| s.spec().to_string()),
            )
            .field("clip", &self.clip)
            .field(
                "averaging",
                &self.averaging.as_ref().map(|a| a.spec().to_string()),
            )
            .field("steps", &self.steps)
            .finish()
    }
}

impl<T: Float> Trainer<T> {
    /// A trainer around `optimizer`, without schedule, clipping or averaging.
    pub fn new(optimizer: Box<dyn Optimizer<T>>) -> Self {
        Trainer {
            optimizer,
            schedule: None,
            schedule_base: (0.0, None),
            clip: Clipping {
                norm_type: 2.0,
                ..Default::default()
            },
            averaging: None,
            steps: 0,
            last_grad_norm: None,
            scratch: Vec::new(),
        }
    }

    /// A trainer from an optimizer spec (`adam(lr=1e-3)`) and optionally a schedule
    /// spec (`cosine_annealing(t_max=100)`), the schedule starting from the
    /// optimizer's lr and momentum.
    pub fn from_specs(optimizer: &str, schedule: Option<&str>) -> Result<Self> {
        let t = Trainer::new(optim::build::<T>(optimizer)?);
        match schedule {
            Some(s) => t.with_schedule_spec(s),
            None => Ok(t),
        }
    }

    /// Attaches the schedule `spec`, built from the optimizer's current lr and momentum.
    pub fn with_schedule_spec(self, spec: &str) -> Result<Self> {
        let s = schedule::build(spec, self.optimizer.lr(), self.optimizer.momentum())?;
        Ok(self.with_schedule(s))
    }

    /// Attaches a schedule (built for this optimizer's lr: [`Trainer::from_bytes`]
    /// rebuilds it from its spec with the optimizer's lr and momentum of now, then
    /// loads its state). A schedule that takes a Rust closure (`lambda_lr`) cannot be
    /// rebuilt from a spec: resume such a trainer with [`Trainer::load_bytes`].
    pub fn with_schedule(mut self, schedule: Box<dyn Schedule>) -> Self {
        self.schedule_base = (self.optimizer.lr(), self.optimizer.momentum());
        self.schedule = Some(schedule);
        self
    }

    /// Clips the global 2-norm of the gradients to `max_norm` before each step.
    pub fn with_clip_grad_norm(self, max_norm: f64) -> Result<Self> {
        self.with_clip_grad_norm_type(max_norm, 2.0)
    }

    /// Clips the global `norm_type`-norm of the gradients to `max_norm` before each step.
    pub fn with_clip_grad_norm_type(mut self, max_norm: f64, norm_type: f64) -> Result<Self> {
        // Validated by clipping nothing.
        crate::clip::clip_grad_norm::<T>(&mut [], max_norm, norm_type)?;
        self.clip.max_norm = Some(max_norm);
        self.clip.norm_type = norm_type;
        Ok(self)
    }

    /// Clamps every gradient element to `[-value, value]` before each step (before
    /// norm clipping, when both are set).
    pub fn with_clip_grad_value(mut self, value: f64) -> Result<Self> {
        crate::clip::clip_grad_value::<T>(&mut [], value)?;
        self.clip.value = Some(value);
        Ok(self)
    }

    /// Keeps an average of the parameters: `swa()`, `ema(decay=0.99)`, ... (see
    /// [`crate::optim::averaging`]).
    pub fn with_averaging(mut self, spec: &str) -> Result<Self> {
        self.averaging = Some(Averaging::build(spec)?);
        Ok(self)
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer<T> {
        self.optimizer.as_ref()
    }

    /// The optimizer, to change (its non-finite policy, say).
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer<T> {
        self.optimizer.as_mut()
    }

    /// The schedule, if one is attached.
    pub fn schedule(&self) -> Option<&dyn Schedule> {
        self.schedule.as_deref()
    }

    /// The clipping.
    pub fn clipping(&self) -> Clipping {
        self.clip
    }

    /// The average, if one is kept.
    pub fn averaging(&self) -> Option<&Averaging<T>> {
        self.averaging.as_ref()
    }

    /// The averaged values of tensor `name`, once averaged.
    pub fn averaged(&self, name: &str) -> Option<&[T]> {
        self.averaging.as_ref().and_then(|a| a.get(name))
    }

    /// Steps taken (applied or skipped).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The lr of the next step (the schedule's, when there is one).
    pub fn lr(&self) -> f64 {
        self.schedule
            .as_ref()
            .map_or_else(|| self.optimizer.lr(), |s| s.lr())
    }

    /// The global gradient norm before clipping, of the last step that clipped by norm.
    pub fn last_grad_norm(&self) -> Option<f64> {
        self.last_grad_norm
    }

    /// One step from the gradients in `params`. With a `reduce_on_plateau` schedule,
    /// use [`Trainer::step_with_loss`]: it needs the loss.
    pub fn step(&mut self, params: &mut [Param<'_, T>]) -> Result<StepOutcome> {
        self.drive(params, None, None)
    }

    /// One step, passing `loss` (this step's loss) to the schedule, which only
    /// `reduce_on_plateau` reads.
    pub fn step_with_loss(
        &mut self,
        params: &mut [Param<'_, T>],
        loss: f64,
    ) -> Result<StepOutcome> {
        self.drive(params, None, Some(loss))
    }

    /// One step that may re-evaluate the loss through `closure` (closure optimizers:
    /// L-BFGS, Newton, SAM; the others ignore it). The schedule gets the closure's
    /// first loss (torch's `step(closure)` return value). Closure optimizers
    /// re-evaluate their own gradients, so clipping is refused with them.
    pub fn step_with(
        &mut self,
        params: &mut [Param<'_, T>],
        closure: &mut dyn Closure<T>,
    ) -> Result<StepOutcome> {
        self.drive(params, Some(closure), None)
    }

    fn drive(
        &mut self,
        params: &mut [Param<'_, T>],
        closure: Option<&mut dyn Closure<T>>,
        loss: Option<f64>,
    ) -> Result<StepOutcome> {
        let closure_kind = self.optimizer.kind() == OptimizerKind::Closure;
        if closure_kind && (self.clip.max_norm.is_some() || self.clip.value.is_some()) {
            return Err(Error::Unsupported(format!(
                "{} re-evaluates the loss itself, so its gradients cannot be clipped: \
                 build the trainer without clipping",
                self.optimizer.name()
            )));
        }
        if closure_kind && closure.is_none() {
            return Err(Error::Unsupported(format!(
                "{} re-evaluates the loss: step it with Trainer::step_with and a closure",
                self.optimizer.name()
            )));
        }
        let plateau = self
            .schedule
            .as_ref()
            .is_some_and(|s| s.name() == "reduce_on_plateau");
        if plateau && loss.is_none() && !(closure_kind && closure.is_some()) {
            return Err(Error::Unsupported(
                "reduce_on_plateau steps on the loss: use Trainer::step_with_loss".into(),
            ));
        }
        if let Some(avg) = &self.averaging {
            avg.check(&averaged_tensors(params))?;
        }
        // Before the update that uses them, as torch's loop; restored on error.
        let before = (self.optimizer.lr(), self.optimizer.momentum());
        if let Some(s) = &self.schedule {
            if let Err(e) = apply(self.optimizer.as_mut(), s.as_ref()) {
                restore(self.optimizer.as_mut(), before);
                return Err(e);
            }
        }
        let mut first_loss = None;
        let result = self.update(params, closure, &mut first_loss);
        let (outcome, norm) = match result {
            Ok(r) => r,
            Err(e) => {
                restore(self.optimizer.as_mut(), before);
                return Err(e);
            }
        };
        if norm.is_some() {
            self.last_grad_norm = norm;
        }
        if let Some(avg) = &mut self.averaging {
            // Checked above, so this cannot fail.
            avg.after_step(&averaged_tensors(params))?;
        }
        if let Some(s) = &mut self.schedule {
            s.step(loss.or(first_loss).unwrap_or(0.0));
        }
        self.steps += 1;
        Ok(outcome)
    }

    /// Clipping and the optimizer step: (outcome, the norm when clipped by norm).
    fn update(
        &mut self,
        params: &mut [Param<'_, T>],
        closure: Option<&mut dyn Closure<T>>,
        first_loss: &mut Option<f64>,
    ) -> Result<(StepOutcome, Option<f64>)> {
        if let Some(closure) = closure {
            let mut watch = FirstLoss {
                inner: closure,
                first: first_loss,
            };
            return Ok((self.optimizer.step_with(params, &mut watch)?, None));
        }
        let Some(value) = self.clip.value else {
            return self.step_maybe_norm(params);
        };
        for p in params.iter() {
            if p.value.len() != p.grad.len() {
                return Err(Error::LengthMismatch {
                    name: p.name.to_string(),
                    params: p.value.len(),
                    grads: p.grad.len(),
                });
            }
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for p in params.iter() {
            scratch.extend_from_slice(p.grad);
        }
        {
            let mut grads: Vec<&mut [T]> = Vec::with_capacity(params.len());
            let mut rest = scratch.as_mut_slice();
            for p in params.iter() {
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(p.grad.len());
                grads.push(head);
                rest = tail;
            }
            crate::clip::clip_grad_value(&mut grads, value)?;
        }
        let result = {
            let mut clipped: Vec<Param<'_, T>> = Vec::with_capacity(params.len());
            let mut rest = scratch.as_slice();
            for p in params.iter_mut() {
                let (head, tail) = rest.split_at(p.grad.len());
                clipped.push(Param::with_shape(p.name, &mut *p.value, head, p.shape));
                rest = tail;
            }
            self.step_maybe_norm(&mut clipped)
        };
        self.scratch = scratch;
        result
    }

    fn step_maybe_norm(
        &mut self,
        params: &mut [Param<'_, T>],
    ) -> Result<(StepOutcome, Option<f64>)> {
        match self.clip.max_norm {
            Some(n) => {
                let (o, norm) = crate::clip::step_clipped(
                    self.optimizer.as_mut(),
                    params,
                    n,
                    self.clip.norm_type,
                )?;
                Ok((o, Some(norm)))
            }
            None => Ok((self.optimizer.step(params)?, None)),
        }
    }

    /// The whole trainer as a checkpoint: the optimizer state under `optimizer/`, the
    /// average under `average/`, and `meta.trainer` (schedule state, clipping, step
    /// count, dtype).
    pub fn to_checkpoint(&self) -> Result<Checkpoint> {
        let meta = TrainerMeta {
            version: 1,
            dtype: T::DTYPE,
            steps: self.steps,
            schedule: self.schedule.as_ref().map(|s| SavedSchedule {
                base_lr: self.schedule_base.0,
                base_momentum: self.schedule_base.1,
                state: s.state(),
            }),
            max_norm: self.clip.max_norm,
            norm_type: self.clip.norm_type.to_string(),
            clip_value: self.clip.value,
            averaging: self.averaging.is_some(),
            last_grad_norm: self.last_grad_norm.filter(|x| x.is_finite()),
        };
        let meta = serde_json::to_value(&meta)
            .map_err(|e| Error::Checkpoint(format!("cannot encode the trainer: {e}")))?;
        let mut c = Checkpoint::new(serde_json::json!({ "kind": KIND, "trainer": meta }));
        self.optimizer.state().to_checkpoint("optimizer", &mut c)?;
        if let Some(avg) = &self.averaging {
            avg.to_checkpoint("average", &mut c)?;
        }
        Ok(c)
    }

    /// The whole trainer as bytes (a safetensors checkpoint, see [`crate::checkpoint`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_checkpoint()?.encode()
    }

    /// A trainer rebuilt from [`Trainer::to_bytes`] alone: the optimizer from its saved
    /// spec and state, the schedule from its spec and state, the clipping and the
    /// average. It continues bit for bit where the saved one was.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_checkpoint(&Checkpoint::decode(bytes)?)
    }

    /// As [`Trainer::from_bytes`], from a decoded checkpoint.
    pub fn from_checkpoint(c: &Checkpoint) -> Result<Self> {
        let meta = read_meta::<T>(c)?;
        let schedule = match &meta.schedule {
            Some(s) => {
                let mut sched = schedule::build(&s.state.spec, s.base_lr, s.base_momentum)?;
                sched.load_state(&s.state)?;
                Some(sched)
            }
            None => None,
        };
        Self::restored(c, meta, schedule)
    }

    /// Loads [`Trainer::to_bytes`] into this trainer, whose schedule (if the saved one
    /// had one) must be the same schedule: the way to resume a schedule built in Rust
    /// from a closure. On error nothing changes.
    pub fn load_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let c = Checkpoint::decode(bytes)?;
        let meta = read_meta::<T>(&c)?;
        let schedule = match (&self.schedule, &meta.schedule) {
            (Some(own), Some(saved)) => {
                let mut s = own.boxed_clone();
                s.load_state(&saved.state)?;
                Some(s)
            }
            (None, None) => None,
            (Some(own), None) => {
                return Err(Error::StateMismatch(format!(
                    "this trainer has schedule {} but the saved one has none",
                    own.spec()
                )))
            }
            (None, Some(saved)) => {
                return Err(Error::StateMismatch(format!(
                    "the saved trainer has schedule {} but this one has none",
                    saved.state.spec
                )))
            }
        };
        *self = Self::restored(&c, meta, schedule)?;
        Ok(())
    }

    /// A trainer from a checkpoint whose meta was read and schedule rebuilt.
    fn restored(
        c: &Checkpoint,
        meta: TrainerMeta,
        schedule: Option<Box<dyn Schedule>>,
    ) -> Result<Self> {
        let state = optim::OptimizerState::<T>::from_checkpoint("optimizer", c)?;
        let mut optimizer = optim::build_from_call::<T>(&crate::spec::parse(&state.spec)?)?;
        let mut used = state.checkpoint_tensor_names("optimizer");
        optimizer.load_state(state)?;
        let averaging = if meta.averaging {
            let a = Averaging::<T>::from_checkpoint("average", c)?;
            used.extend(a.checkpoint_tensor_names("average"));
            Some(a)
        } else {
            None
        };
        if let Some(t) = c.tensors.iter().find(|t| !used.contains(&t.name)) {
            return Err(Error::Checkpoint(format!(
                "tensor '{}' is not part of a trainer's state",
                t.name
            )));
        }
        let norm_type: f64 = meta.norm_type.parse().map_err(|_| {
            Error::Checkpoint(format!(
                "trainer: norm_type '{}' is not a number",
                meta.norm_type
            ))
        })?;
        let mut t = Trainer::new(optimizer);
        if let Some(n) = meta.max_norm {
            t = t.with_clip_grad_norm_type(n, norm_type)?;
        }
        if let Some(v) = meta.clip_value {
            t = t.with_clip_grad_value(v)?;
        }
        t.schedule_base = meta
            .schedule
            .as_ref()
            .map_or((0.0, None), |s| (s.base_lr, s.base_momentum));
        t.schedule = schedule;
        t.averaging = averaging;
        t.steps = meta.steps;
        t.last_grad_norm = meta.last_grad_norm;
        Ok(t)
    }
}

fn read_meta<T: Float>(c: &Checkpoint) -> Result<TrainerMeta> {
    if c.meta.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
        return Err(Error::Checkpoint(format!(
            "not a trainer checkpoint (meta.kind is not '{KIND}')"
        )));
    }
    let meta: TrainerMeta = serde_json::from_value(c.meta["trainer"].clone())
        .map_err(|e| Error::Checkpoint(format!("the trainer's metadata does not parse: {e}")))?;
    if meta.version != 1 {
        return Err(Error::Checkpoint(format!(
            "trainer state version {} is not known to this version of gradus (it reads 1)",
            meta.version
        )));
    }
    if meta.dtype != T::DTYPE {
        return Err(Error::Checkpoint(format!(
            "the trainer was saved in {}, but this one computes in {}",
            meta.dtype,
            T::DTYPE
        )));
    }
    Ok(meta)
}

/// The tensors an average reads from a step's params.
fn averaged_tensors<'a, T>(params: &'a [Param<'_, T>]) -> Vec<(&'a str, &'a [T], &'a [usize])> {
    params
        .iter()
        .map(|p| (p.name, &*p.value, p.shape))
        .collect()
}

/// Sets the optimizer's lr and momentum from the schedule.
fn apply<T: Float>(opt: &mut dyn Optimizer<T>, s: &dyn Schedule) -> Result<()> {
    let (lr, m) = (s.lr(), s.momentum());
    let named = |e: Error| {
        Error::Unsupported(format!(
            "the schedule {} gives a value the optimizer refuses: {e}",
            s.spec()
        ))
    };
    opt.set_lr(lr).map_err(named)?;
    if let Some(m) = m {
        opt.set_momentum(m).map_err(named)?;
    }
    Ok(())
}

/// Puts back the lr and momentum a failed step found.
fn restore<T: Float>(opt: &mut dyn Optimizer<T>, (lr, m): (f64, Option<f64>)) {
    let _ = opt.set_lr(lr);
    if let Some(m) = m {
        let _ = opt.set_momentum(m);
    }
}

/// A closure that remembers the first loss it returned.
struct FirstLoss<'a, 'b, T> {
    inner: &'a mut dyn Closure<T>,
    first: &'b mut Option<f64>,
}

impl<T: Float> Closure<T> for FirstLoss<'_, '_, T> {
    fn evaluate(&mut self, values: &[&[T]], grads: &mut [&mut [T]]) -> Result<f64> {
        let l = self.inner.evaluate(values, grads)?;
        self.first.get_or_insert(l);
        Ok(l)
    }

    fn hessian(&mut self, values: &[&[T]], out: &mut [T]) -> Result<bool> {
        self.inner.hessian(values, out)
    }
}

#[cfg(test)]
mod tests;
