//! The training loop shared by `run`, `compare` and `report`: a problem, an optimizer
//! (or Newton's method), a schedule, minibatches and gradient noise, stepped one update
//! at a time.

use crate::cli_error::CliError;
use gradus::optim::{
    self, Averaging, Closure, NonFinitePolicy, Optimizer, OptimizerKind, Param, StepOutcome,
};
use gradus::schedule::{self, Schedule};
use gradus::spec::Call;
use gradus::{DType, Float};
use gradus_problems::{BatchSampler, GradientNoise, Sampling};
use gradus_problems::{Objective, ProblemOptions};
use std::ops::Range;

/// Everything that defines a run, independent of the element type.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Problem name (`rosenbrock`, `boston`, ...).
    pub problem: String,
    /// Problem settings (dimension, seed, data file, ...).
    pub problem_options: ProblemOptions,
    /// Start point, overriding the problem's default.
    pub start: Option<Vec<f64>>,
    /// The optimizer.
    pub optimizer: Call,
    /// The learning-rate schedule (constant lr when `None`).
    pub schedule: Option<Call>,
    /// Minibatch size (`None`: full batch).
    pub batch_size: Option<usize>,
    /// Updates to run.
    pub steps: u64,
    /// How minibatches are drawn.
    pub sampling: Sampling,
    /// Standard deviation of Gaussian noise added to gradients (0: none).
    pub noise: f64,
    /// Seed of the sampler, the noise and the problem's split and initialisation.
    pub seed: u64,
    /// Clip gradients to this global 2-norm.
    pub clip_norm: Option<f64>,
    /// Clip gradient elements to `[-v, v]`.
    pub clip_value: Option<f64>,
    /// What to do with non-finite gradients.
    pub nonfinite: NonFinitePolicy,
    /// Element type.
    pub dtype: DType,
    /// Weight averaging (`--average swa()` / `ema(decay=0.99)`), whose loss each record
    /// reports beside the live one.
    pub average: Option<Call>,
}

/// One line of the history: the state before update `step`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Record<T> {
    /// Updates applied so far (0: the start).
    pub step: u64,
    /// The (full, training) loss at the evaluation parameters: the parameters
    /// themselves, or the optimizer's evaluation point when it has one
    /// (Schedule-Free's average, see [`Optimizer::eval_params`]).
    pub loss: T,
    /// The learning rate the next update uses.
    pub lr: f64,
    /// The parameters (for problems with at most 100 of them): where the next
    /// gradient is taken (the reference's train mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<T>>,
    /// The evaluation parameters, for optimizers that have them (what the reference's
    /// `eval()` puts in the tensors), for problems with at most 100 parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_params: Option<Vec<T>>,
    /// Whether `loss` is taken at the evaluation parameters rather than `params`.
    #[serde(skip)]
    pub loss_at_eval: bool,
    /// With `--average`: the (full, training) loss at the averaged parameters, `null`
    /// until the average's first update; absent without `--average`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_loss: Option<Option<T>>,
}

/// Params with at most this many entries are printed in every record.
pub const MAX_PRINTED_PARAMS: usize = 100;

/// A run in progress.
pub struct Runner<T: Float> {
    /// The problem.
    pub problem: Box<dyn Objective<T>>,
    /// Current parameters.
    pub x: Vec<T>,
    grad: Vec<T>,
    /// The problem's named tensors and their ranges in `x`.
    pub(crate) tensors: Vec<(String, Range<usize>)>,
    /// Each tensor's shape (per-tensor optimizers such as Muon read it).
    shapes: Vec<Vec<usize>>,
    /// The optimizer (element-wise, per-tensor or closure: all stepped with `step_with`).
    pub stepper: Box<dyn Optimizer<T>>,
    /// The schedule.
    pub schedule: Option<Box<dyn Schedule>>,
    /// The average of the parameters (`--average`), updated after each step.
    pub averaging: Option<Averaging<T>>,
    /// The minibatch sampler (data problems with `--batch-size`).
    pub(crate) sampler: Option<BatchSampler>,
    /// The gradient noise (`--noise`).
    pub(crate) noise: Option<GradientNoise>,
    /// Updates applied so far.
    pub step: u64,
    spec: RunSpec,
    /// The loss at the current parameters, once evaluated.
    current_loss: Option<T>,
    /// The loss at the evaluation parameters, once evaluated (optimizers with
    /// [`Optimizer::eval_params`]).
    current_eval_loss: Option<T>,
    /// The loss at the averaged parameters, once evaluated.
    current_avg_loss: Option<T>,
    /// Steps the optimizer skipped (non-finite gradients under `skip`).
    pub skipped: u64,
    /// Evaluations of the loss (with or without its gradient) and of the Hessian so far,
    /// including those a closure optimizer made: the cost that steps alone hide.
    pub evaluations: u64,
    /// The fingerprint of the `--data` file (linreg), which checkpoints store.
    pub data_fingerprint: Option<String>,
}

/// Why evaluating or stepping stopped.
#[derive(Debug)]
pub enum Halt {
    /// The loss at step `step` is not finite.
    NonFiniteLoss {
        /// The step.
        step: u64,
    },
    /// The parameters at step `step` are not finite.
    NonFiniteParams {
        /// The step.
        step: u64,
    },
    /// Any other error.
    Error(CliError),
}

impl Halt {
    /// The error to report.
    pub fn into_error(self) -> CliError {
        match self {
            Halt::NonFiniteLoss { step } => CliError::diverged(format!(
                "the loss became non-finite at step {step}; the run diverged (try a smaller lr, \
                 gradient clipping with --clip-norm, or --on-nonfinite skip)"
            )),
            Halt::NonFiniteParams { step } => CliError::diverged(format!(
                "the parameters became non-finite at step {step}; the run diverged"
            )),
            Halt::Error(e) => e,
        }
    }
}

impl From<CliError> for Halt {
    fn from(e: CliError) -> Self {
        Halt::Error(e)
    }
}

impl From<gradus::Error> for Halt {
    fn from(e: gradus::Error) -> Self {
        match e {
            gradus::Error::NonFiniteGradient { name, index, step } => {
                Halt::Error(CliError::diverged(format!(
                    "non-finite gradient (tensor '{name}', element {index}) at step {}; the run \
                     diverged (try a smaller lr, --clip-norm, or --on-nonfinite skip)",
                    step - 1
                )))
            }
            other => Halt::Error(other.into()),
        }
    }
}

impl<T: Float> Runner<T> {
    /// Builds the problem, optimizer, schedule, sampler and noise of `spec`.
    pub fn new(spec: &RunSpec) -> Result<Self, CliError> {
        let problem = gradus_problems::build::<T>(&spec.problem, &spec.problem_options)?;
        let dim = problem.dim();
        let x: Vec<T> = match &spec.start {
            Some(s) => {
                if s.len() != dim {
                    return Err(CliError::usage(format!(
                        "--start has {} value{} but problem '{}' has {dim} parameter{}",
                        s.len(),
                        if s.len() == 1 { "" } else { "s" },
                        spec.problem,
                        if dim == 1 { "" } else { "s" }
                    )));
                }
                if let Some(v) = s.iter().find(|v| !v.is_finite()) {
                    return Err(CliError::usage(format!(
                        "--start value {v} is not a finite number"
                    )));
                }
                s.iter().map(|&v| T::of(v)).collect()
            }
            None => problem.start(),
        };
        let mut offset = 0;
        let (tensors, shapes): (Vec<_>, Vec<_>) = problem
            .tensor_shapes()
            .into_iter()
            .map(|(name, shape)| {
                let len: usize = shape.iter().product();
                let r = offset..offset + len;
                offset += len;
                ((name, r), shape)
            })
            .unzip();
        let mut stepper = optim::build_from_call::<T>(&spec.optimizer)?;
        stepper.set_nonfinite_policy(spec.nonfinite);
        // A per-tensor optimizer may refuse a tensor's shape (Muon: matrices only).
        // Found now by one trial step of a fresh copy on zero gradients, so the run
        // fails before its first record, with exit code 2, not at step 1.
        if !matches!(
            stepper.kind(),
            OptimizerKind::Elementwise | OptimizerKind::Closure
        ) {
            let mut trial = optim::build_from_call::<T>(&spec.optimizer)?;
            let mut values = x.clone();
            let zeros = vec![T::zero(); values.len()];
            trial
                .step(&mut params(&tensors, &shapes, &mut values, &zeros))
                .map_err(|e| CliError::usage(format!("--optimizer {}: {e}", spec.optimizer)))?;
        }
        if stepper.kind() == OptimizerKind::Closure {
            let name = stepper.name();
            if name == "newton" && problem.as_hessian().is_none() {
                return Err(CliError::usage(format!(
                    "newton needs a Hessian, which problem '{}' does not provide; use a \
                     first-order optimizer or lbfgs, or an analytic problem",
                    spec.problem
                )));
            }
            // Its Hessian has dim² entries: refuse before allocating, not by aborting.
            if name == "newton" && dim > optim::MAX_NEWTON_DIM {
                return Err(CliError::usage(format!(
                    "newton on problem '{}' with {dim} parameters would need a {dim}×{dim} \
                     Hessian; newton takes at most {} parameters (use --dim {} or less, lbfgs, \
                     or a first-order optimizer)",
                    spec.problem,
                    optim::MAX_NEWTON_DIM,
                    optim::MAX_NEWTON_DIM
                )));
            }
            // The closure evaluates the step's minibatch (torch's idiom: a closure over
            // the current inputs), but noise would only reach the first evaluation.
            if spec.noise != 0.0 {
                return Err(CliError::usage(format!(
                    "{name} re-evaluates the loss itself, so its gradients cannot be noised: \
                     drop --noise"
                )));
            }
            if name == "newton" && spec.batch_size.is_some() {
                return Err(CliError::usage(
                    "newton needs the Hessian, which the problems give for the full batch only: \
                     drop --batch-size",
                ));
            }
            if spec.clip_norm.is_some() || spec.clip_value.is_some() {
                return Err(CliError::usage(format!(
                    "{name} re-evaluates the loss itself, so its gradients cannot be clipped: \
                     drop --clip-norm and --clip-value"
                )));
            }
        }
        let schedule = match &spec.schedule {
            Some(call) => {
                let s = schedule::build_from_call(call, stepper.lr(), stepper.momentum())?;
                Some(s)
            }
            None => None,
        };
        let averaging = match &spec.average {
            Some(call) => Some(
                Averaging::<T>::from_call(call)
                    .map_err(|e| CliError::usage(format!("--average {call}: {e}")))?,
            ),
            None => None,
        };
        let sampler = match (spec.batch_size, problem.as_data()) {
            (Some(0), _) => return Err(CliError::usage("--batch-size must be at least 1")),
            (Some(b), Some(data)) if b > data.n_train() => {
                return Err(CliError::usage(format!(
                    "--batch-size {b} is larger than the {} training rows of '{}'; give at \
                     most {} (or leave --batch-size out for full batches)",
                    data.n_train(),
                    spec.problem,
                    data.n_train()
                )))
            }
            (Some(b), Some(data)) => Some(BatchSampler::new(
                data.n_train(),
                Some(b),
                spec.sampling,
                spec.seed,
            )?),
            (Some(_), None) => {
                return Err(CliError::usage(format!(
                    "--batch-size needs a data problem (boston, boston-full, digits, \
                     digits-softmax, linreg); '{}' is an analytic function (use --noise for \
                     stochastic gradients)",
                    spec.problem
                )))
            }
            (None, _) => None,
        };
        let noise = if spec.noise != 0.0 {
            Some(GradientNoise::new(spec.noise, spec.seed)?)
        } else {
            None
        };
        let mut runner = Runner {
            grad: vec![T::zero(); dim],
            problem,
            x,
            tensors,
            shapes,
            stepper: optim::build::<T>("sgd")?,
            schedule,
            averaging,
            sampler,
            noise,
            step: 0,
            spec: spec.clone(),
            current_loss: None,
            current_eval_loss: None,
            current_avg_loss: None,
            skipped: 0,
            evaluations: 0,
            data_fingerprint: match &spec.problem_options.data {
                Some(path) => Some(gradus_problems::data_fingerprint(
                    &gradus_problems::read_data_file(path)?,
                )),
                None => None,
            },
        };
        std::mem::swap(&mut runner.stepper, &mut stepper);
        Ok(runner)
    }

    /// The spec this run was built from.
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// A schedule whose lr (or momentum) became inf or NaN: the run diverged.
    fn check_schedule(&self) -> Result<(), Halt> {
        let Some(s) = &self.schedule else {
            return Ok(());
        };
        let (lr, m) = (s.lr(), s.momentum());
        if lr.is_finite() && m.is_none_or(f64::is_finite) {
            return Ok(());
        }
        let (what, v) = if lr.is_finite() {
            ("momentum", m.unwrap_or(f64::NAN))
        } else {
            ("lr", lr)
        };
        Err(Halt::Error(CliError::diverged(format!(
            "the schedule {} made the {what} {v} at step {}; the run diverged (choose \
             schedule parameters that keep the {what} finite)",
            s.spec(),
            self.step
        ))))
    }

    /// Sets the optimizer's lr (and momentum) from the schedule, just before the update
    /// that uses them. (Not after each update: like torch, the lr a schedule computes
    /// after the last step is never used, and one_cycle's may be negative there.)
    fn apply_schedule(&mut self) -> Result<(), Halt> {
        self.check_schedule()?;
        if let Some(s) = &self.schedule {
            let lr = s.lr();
            let m = s.momentum();
            let named = |e: gradus::Error| {
                Halt::Error(CliError::usage(format!(
                    "the schedule {} gives an lr the optimizer refuses at step {}: {e}",
                    s.spec(),
                    self.step
                )))
            };
            self.stepper.set_lr(lr).map_err(named)?;
            if let Some(m) = m {
                self.stepper.set_momentum(m).map_err(named)?;
            }
        }
        Ok(())
    }

    /// Drops the cached loss (after the parameters were replaced).
    pub(crate) fn forget_loss(&mut self) {
        self.current_loss = None;
        self.current_eval_loss = None;
        self.current_avg_loss = None;
    }

    /// The averaged parameters, flattened as `x`, once the average has been updated.
    pub fn averaged_params(&self) -> Option<Vec<T>> {
        let avg = self.averaging.as_ref().filter(|a| a.n_averaged() > 0)?;
        let mut out = vec![T::zero(); self.x.len()];
        for (name, r) in &self.tensors {
            out[r.clone()].copy_from_slice(avg.get(name)?);
        }
        Some(out)
    }

    /// The loss at the averaged parameters (evaluated once per step): `None` without
    /// `--average`, `Some(None)` before the average's first update.
    pub fn avg_loss(&mut self) -> Option<Option<T>> {
        self.averaging.as_ref()?;
        if self.averaging.as_ref().is_some_and(|a| a.n_averaged() == 0) {
            return Some(None);
        }
        if let Some(l) = self.current_avg_loss {
            return Some(Some(l));
        }
        let x = self.averaged_params()?;
        let l = self.problem.value(&x);
        self.current_avg_loss = Some(l);
        Some(Some(l))
    }

    /// The tensors as `(name, values, shape)`, for the average.
    fn named_tensors(&self) -> Vec<(&str, &[T], &[usize])> {
        self.tensors
            .iter()
            .zip(&self.shapes)
            .map(|((n, r), s)| (n.as_str(), &self.x[r.clone()], s.as_slice()))
            .collect()
    }

    /// Whether gradients come from minibatches (so the loss is a separate evaluation).
    pub fn is_minibatch(&self) -> bool {
        self.sampler.is_some()
    }

    /// Whether every parameter is finite.
    pub fn params_finite(&self) -> bool {
        self.x.iter().all(|v| v.is_finite())
    }

    /// The learning rate of the next update (the schedule's, when there is one).
    pub fn lr(&self) -> f64 {
        match &self.schedule {
            Some(s) => s.lr(),
            None => self.stepper.lr(),
        }
    }

    /// The loss at the current parameters (evaluated once per step). Full-batch runs
    /// get the gradient in the same evaluation and keep it for the next update.
    pub fn loss(&mut self) -> T {
        if let Some(l) = self.current_loss {
            return l;
        }
        let l = if self.sampler.is_none() {
            self.problem.gradient(&self.x, &mut self.grad)
        } else {
            self.problem.value(&self.x)
        };
        self.evaluations += 1;
        self.current_loss = Some(l);
        l
    }

    /// The optimizer's evaluation parameters (Schedule-Free's average `x`), or `None`
    /// when the parameters are the evaluation point.
    pub fn eval_params(&self) -> Result<Option<Vec<T>>, Halt> {
        let mut out = vec![T::zero(); self.x.len()];
        for (name, r) in &self.tensors {
            let has = self
                .stepper
                .eval_params(name, &self.x[r.clone()], &mut out[r.clone()])?;
            if !has {
                return Ok(None);
            }
        }
        Ok(Some(out))
    }

    /// The loss to report: at the evaluation parameters when the optimizer has them
    /// (evaluated once per step), else [`Runner::loss`].
    pub fn reported_loss(&mut self) -> Result<T, Halt> {
        if let Some(l) = self.current_eval_loss {
            return Ok(l);
        }
        match self.eval_params()? {
            Some(x) => {
                let l = self.problem.value(&x);
                self.current_eval_loss = Some(l);
                Ok(l)
            }
            None => Ok(self.loss()),
        }
    }

    /// The record of the current state; `Err` if the loss or parameters are not finite.
    pub fn record(&mut self) -> Result<Record<T>, Halt> {
        // The training point's loss comes first: full-batch runs take the next
        // gradient in the same evaluation.
        let train_loss = self.loss();
        let loss = self.reported_loss()?;
        if !loss.is_finite() || !train_loss.is_finite() {
            return Err(Halt::NonFiniteLoss { step: self.step });
        }
        if self.x.iter().any(|v| !v.is_finite()) {
            return Err(Halt::NonFiniteParams { step: self.step });
        }
        self.check_schedule()?;
        self.record_unchecked()
    }

    /// The record of the current state, finite or not.
    pub fn record_unchecked(&mut self) -> Result<Record<T>, Halt> {
        self.loss();
        let loss = self.reported_loss()?;
        let eval_params = self.eval_params()?;
        let printed = self.x.len() <= MAX_PRINTED_PARAMS;
        Ok(Record {
            step: self.step,
            loss,
            lr: self.lr(),
            params: printed.then(|| self.x.clone()),
            loss_at_eval: eval_params.is_some(),
            eval_params: eval_params.filter(|_| printed),
            avg_loss: self.avg_loss(),
        })
    }

    /// Applies one update: gradient (minibatch, noise, clipping), optimizer step,
    /// schedule step.
    pub fn advance(&mut self) -> Result<StepOutcome, Halt> {
        self.apply_schedule()?;
        // The metric a plateau schedule sees: this step's (batch) loss.
        let (metric, rows) = match (&mut self.sampler, self.problem.as_data()) {
            (Some(sampler), Some(data)) => {
                let rows = sampler.next_batch();
                (
                    data.batch_gradient(&self.x, rows, &mut self.grad),
                    Some(rows),
                )
            }
            // Full batch: `loss` evaluates the gradient with the loss (or already did).
            _ => (self.loss(), None),
        };
        if let Some(noise) = &mut self.noise {
            noise.add(&mut self.grad);
        }
        // Closure optimizers re-evaluate their gradients: theirs are clipped in place.
        // The others get clip_grad_norm's coefficient inside the update (one read of
        // the gradients for the norm, which also finds non-finite ones).
        let fused_norm = self
            .spec
            .clip_norm
            .filter(|_| self.stepper.kind() != OptimizerKind::Closure);
        if self.spec.clip_value.is_some() || (self.spec.clip_norm.is_some() && fused_norm.is_none())
        {
            let mut grads = split(&self.tensors, &mut self.grad);
            if let Some(v) = self.spec.clip_value {
                gradus::clip::clip_grad_value(&mut grads, v).map_err(CliError::from)?;
            }
            if let (Some(n), None) = (self.spec.clip_norm, fused_norm) {
                gradus::clip::clip_grad_norm(&mut grads, n, 2.0).map_err(CliError::from)?;
            }
        }
        let mut closure = ProblemClosure {
            problem: &*self.problem,
            rows,
            x: Vec::new(),
            g: Vec::new(),
            calls: 0,
        };
        let mut params = params(&self.tensors, &self.shapes, &mut self.x, &self.grad);
        let outcome = match fused_norm {
            Some(n) => {
                gradus::clip::step_clipped(self.stepper.as_mut(), &mut params, n, 2.0)
                    .map_err(CliError::from)?
                    .0
            }
            None => {
                let outcome = self.stepper.step_with(&mut params, &mut closure);
                self.evaluations += closure.calls;
                outcome?
            }
        };
        if outcome == StepOutcome::Skipped {
            self.skipped += 1;
        }
        if let Some(mut avg) = self.averaging.take() {
            let r = avg.after_step(&self.named_tensors());
            self.averaging = Some(avg);
            r.map_err(CliError::from)?;
        }
        self.step += 1;
        self.forget_loss();
        if let Some(s) = &mut self.schedule {
            s.step(metric.f64());
        }
        Ok(outcome)
    }
}

/// The problem as the closure a closure optimizer (L-BFGS, Newton, SAM) re-evaluates:
/// the loss and gradient on the step's minibatch (the full batch without one), and the
/// full-batch Hessian where the problem has one.
struct ProblemClosure<'a, T: Float> {
    problem: &'a dyn Objective<T>,
    /// The step's minibatch rows, when minibatching.
    rows: Option<&'a [usize]>,
    x: Vec<T>,
    g: Vec<T>,
    /// Loss-and-gradient and Hessian evaluations made through this closure.
    calls: u64,
}

impl<T: Float> ProblemClosure<'_, T> {
    fn gather(&mut self, values: &[&[T]]) {
        self.x.clear();
        for v in values {
            self.x.extend_from_slice(v);
        }
    }
}

impl<T: Float> Closure<T> for ProblemClosure<'_, T> {
    fn evaluate(&mut self, values: &[&[T]], grads: &mut [&mut [T]]) -> gradus::Result<f64> {
        self.gather(values);
        self.calls += 1;
        self.g.resize(self.x.len(), T::zero());
        let loss = match (self.rows, self.problem.as_data()) {
            (Some(rows), Some(data)) => data.batch_gradient(&self.x, rows, &mut self.g),
            _ => self.problem.gradient(&self.x, &mut self.g),
        };
        let mut k = 0;
        for g in grads.iter_mut() {
            let n = g.len();
            g.copy_from_slice(&self.g[k..k + n]);
            k += n;
        }
        Ok(loss.f64())
    }

    fn hessian(&mut self, values: &[&[T]], out: &mut [T]) -> gradus::Result<bool> {
        // No minibatch Hessians: a minibatch gradient with a full-batch Hessian would mix two losses.
        let (Some(h), None) = (self.problem.as_hessian(), self.rows) else {
            return Ok(false);
        };
        self.gather(values);
        self.calls += 1;
        h.hessian(&self.x, out);
        Ok(true)
    }
}

/// Splits a flat vector into the problem's named tensors.
fn split<'a, T>(tensors: &[(String, Range<usize>)], mut rest: &'a mut [T]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(tensors.len());
    for (_, r) in tensors {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(r.len());
        out.push(head);
        rest = tail;
    }
    out
}

/// Pairs each named tensor of `x`, with its shape, with its gradient.
fn params<'a, T>(
    tensors: &'a [(String, Range<usize>)],
    shapes: &'a [Vec<usize>],
    x: &'a mut [T],
    grad: &'a [T],
) -> Vec<Param<'a, T>> {
    split(tensors, x)
        .into_iter()
        .zip(tensors.iter().zip(shapes))
        .map(|(v, ((name, r), shape))| Param::with_shape(name, v, &grad[r.clone()], shape))
        .collect()
}
