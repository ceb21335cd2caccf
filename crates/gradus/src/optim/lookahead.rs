//! Lookahead: an inner optimizer's fast weights, pulled toward slow weights every `k`
//! steps (pytorch-optimizer's `Lookahead`).
//!
//! # Update rule
//! With slow weights `φ` (the parameters when the tensor was first stepped) and the
//! inner optimizer's fast weights `θ`:
//!
//! ```text
//! θ ← inner.step(θ)                      every step
//! every k-th step:  θ ← θ + (1 − α)·(φ − θ),  φ ← θ
//! ```
//! so `α` is the weight of the fast weights (`α = 1` would keep them, `α = 0` returns
//! to the slow weights). With `pullback_momentum`, the inner optimizer's
//! `momentum_buffer` (SGD, RMSprop with momentum, LARS) is reset to zero (`reset`) or
//! interpolated the same way toward a slow copy of it (`pullback`) at each
//! synchronisation; inner optimizers without a `momentum_buffer` (Adam) are unchanged,
//! as in the reference, where the buffer it creates is never read.
//!
//! Defaults: `inner=adam(lr=0.001), k=5, alpha=0.5, pullback_momentum=none`.
//!
//! # Reference
//! Zhang, Lucas, Hinton & Ba, *Lookahead Optimizer: k steps forward, 1 step back*,
//! NeurIPS 2019. Checked against pytorch-optimizer 4.1.0 (`Lookahead`).
//!
//! # Where gradus differs from the reference
//! * The inner optimizer is a spec, `inner=sgd(lr=0.1, momentum=0.9)` (the reference's
//!   `optimizer` argument; `optimizer=` is accepted too). Without it, `adam(lr=0.001)`.
//! * The reference counts steps per parameter group and synchronises every parameter
//!   of the group; gradus has one group and synchronises the tensors of the step.
//! * A step the inner optimizer skips (a non-finite gradient under
//!   `NonFinitePolicy::Skip`) does not count toward `k`.
//! * The inner optimizer is stepped with the caller's closure, so Lookahead wraps
//!   closure optimizers too (`lookahead(inner=sam(...))`).
//!
//! ```
//! use gradus::optim::{self, Param};
//! let mut opt = optim::build::<f64>("lookahead(inner=sgd(lr=0.1), k=2, alpha=0.5)").unwrap();
//! let mut x = [4.0];
//! for _ in 0..2 {
//!     let g = [2.0 * x[0]]; // f(x) = x²
//!     opt.step(&mut [Param::new("x", &mut x, &g)]).unwrap();
//! }
//! // two SGD steps 4 → 3.2 → 2.56, then halfway back to the slow weight 4
//! assert!((x[0] - 3.28).abs() < 1e-12);
//! ```

use super::{Closure, Optimizer, OptimizerKind, OptimizerState, Param, StepOutcome, TensorState};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::spec::{Call, Value};

crate::choice! {
    /// What [`Lookahead`] does with the inner optimizer's `momentum_buffer` when it
    /// synchronises.
    pub enum PullbackMomentum { None = "none", Reset = "reset", Pullback = "pullback" }
}

/// `adam(lr=0.001)`, the default inner optimizer of the wrappers' docs.
pub(crate) fn default_call(name: &str, keywords: &[(&str, f64)]) -> Call {
    Call {
        name: name.to_string(),
        positional: Vec::new(),
        keywords: keywords
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Number(*v)))
            .collect(),
    }
}

/// The reference's name for the wrapped optimizer (`optimizer`, `base_optimizer`) read as
/// `inner`.
pub(crate) fn rename_inner(call: &Call, alias: &str) -> Result<Call> {
    let mut call = call.clone();
    for (k, _) in &mut call.keywords {
        if k == alias {
            *k = "inner".to_string();
        }
    }
    Ok(call)
}

fn rename_optimizer(call: &Call) -> Result<Call> {
    rename_inner(call, "optimizer")
}

crate::hyperparameters! {
    /// Hyperparameters of [`Lookahead`], with pytorch-optimizer's names and defaults.
    pub struct LookaheadConfig("lookahead", "Lookahead: an inner optimizer's fast weights pulled toward slow weights every k steps (Zhang et al. 2019)") {
        /// The inner (fast) optimizer, as a spec.
        inner: Call = default_call("adam", &[("lr", 1e-3)]), NONE;
        /// Inner steps between synchronisations.
        k: u64 = 5, at_least(1.0);
        /// Weight of the fast weights when synchronising.
        alpha: f64 = 0.5, UNIT_OPEN;
        /// The inner momentum_buffer at a synchronisation: none, reset or pullback.
        pullback_momentum: PullbackMomentum = PullbackMomentum::None, NONE;
    }
    prepare = rename_optimizer;
}

/// torch's `lerp(start, end, w)`: `start + w·(end − start)` for `|w| < 0.5`, else
/// `end − (end − start)·(1 − w)`.
fn lerp<T: Float>(start: T, end: T, w: f64) -> T {
    let wt = T::of(w);
    if w.abs() < 0.5 {
        start + wt * (end - start)
    } else {
        end - (end - start) * (T::one() - wt)
    }
}

/// The state that holds a `momentum_buffer` slot: `state` itself, or the first inner
/// state that does (through wrappers such as SAM, whose state is its inner optimizer's).
fn with_momentum_buffer<T>(
    state: &mut OptimizerState<T>,
) -> Option<(&mut OptimizerState<T>, usize)> {
    if let Some(k) = state.slot_names.iter().position(|s| s == "momentum_buffer") {
        return Some((state, k));
    }
    state.inner.iter_mut().find_map(with_momentum_buffer)
}

/// The [`Optimizer`] methods a wrapper hands to its `inner` optimizer unchanged: the
/// lr and momentum a schedule sets, and the non-finite policy.
macro_rules! delegate_to_inner {
    () => {
        fn lr(&self) -> f64 {
            self.inner.lr()
        }

        fn set_lr(&mut self, lr: f64) -> crate::error::Result<()> {
            self.inner.set_lr(lr)
        }

        fn momentum(&self) -> Option<f64> {
            self.inner.momentum()
        }

        fn set_momentum(&mut self, momentum: f64) -> crate::error::Result<()> {
            self.inner.set_momentum(momentum)
        }

        fn nonfinite_policy(&self) -> super::NonFinitePolicy {
            self.inner.nonfinite_policy()
        }

        fn set_nonfinite_policy(&mut self, policy: super::NonFinitePolicy) {
            self.inner.set_nonfinite_policy(policy);
        }
    };
}
pub(crate) use delegate_to_inner;

/// Lookahead: see the [module docs](self).
#[derive(Debug)]
pub struct Lookahead<T: Float> {
    config: LookaheadConfig,
    inner: Box<dyn Optimizer<T>>,
    /// Inner steps since the last synchronisation (the reference's `counter`).
    counter: u64,
    /// Per tensor: slow weights, and the slow momentum with `pullback`.
    tensors: Vec<TensorState<T>>,
}

impl<T: Float> Lookahead<T> {
    /// A Lookahead over the inner optimizer `config.inner`, built with
    /// [`super::build_from_call`].
    pub fn new(config: LookaheadConfig) -> Result<Self> {
        config.validate()?;
        let inner = super::build_from_call(&config.inner)?;
        Ok(Lookahead {
            config,
            inner,
            counter: 0,
            tensors: Vec::new(),
        })
    }

    /// The config (its `inner` as given; [`Optimizer::spec`] prints the inner
    /// optimizer's current spec).
    pub fn config(&self) -> &LookaheadConfig {
        &self.config
    }

    /// The inner optimizer.
    pub fn inner(&self) -> &dyn Optimizer<T> {
        &*self.inner
    }

    /// The slow weights of the tensor called `name`, once it has been stepped.
    pub fn slow_params(&self, name: &str) -> Option<&[T]> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.slots[0].as_slice())
    }

    fn slot_names(&self) -> &'static [&'static str] {
        match self.config.pullback_momentum {
            PullbackMomentum::Pullback => &["slow_params", "slow_momentum"],
            _ => &["slow_params"],
        }
    }

    /// One inner step (with the closure when there is one), then the bookkeeping.
    fn advance(
        &mut self,
        params: &mut [Param<'_, T>],
        closure: Option<&mut dyn Closure<T>>,
    ) -> Result<StepOutcome> {
        // The slow weights of new tensors are their values before this first step;
        // kept aside until the inner step succeeds, so an error changes nothing.
        let mut fresh: Vec<TensorState<T>> = Vec::new();
        for p in params.iter() {
            if let Some(t) = self.tensors.iter().find(|t| t.name == p.name) {
                if t.slots[0].len() != p.value.len() {
                    return Err(Error::StateShape {
                        name: p.name.to_string(),
                        expected: t.slots[0].len(),
                        got: p.value.len(),
                    });
                }
            } else if !fresh.iter().any(|t| t.name == p.name) {
                let mut slots = vec![p.value.to_vec()];
                if self.config.pullback_momentum == PullbackMomentum::Pullback {
                    slots.push(vec![T::zero(); p.value.len()]);
                }
                fresh.push(TensorState {
                    name: p.name.to_string(),
                    step: 0,
                    slots,
                    scalars: Vec::new(),
                    ..Default::default()
                });
            }
        }
        let outcome = match closure {
            Some(c) => self.inner.step_with(params, c)?,
            None => self.inner.step(params)?,
        };
        if outcome == StepOutcome::Skipped {
            return Ok(outcome);
        }
        self.tensors.extend(fresh);
        for p in params.iter() {
            if let Some(t) = self.tensors.iter_mut().find(|t| t.name == p.name) {
                t.step += 1;
            }
        }
        self.counter += 1;
        if self.counter >= self.config.k {
            self.counter = 0;
            self.synchronise(params)?;
        }
        Ok(outcome)
    }

    /// Pulls the fast weights (and, with `pullback_momentum`, the inner momentum
    /// buffers) of the step's tensors toward the slow ones.
    fn synchronise(&mut self, params: &mut [Param<'_, T>]) -> Result<()> {
        let w = 1.0 - self.config.alpha;
        for p in params.iter_mut() {
            let t = self
                .tensors
                .iter_mut()
                .find(|t| t.name == p.name)
                .expect("every stepped tensor has slow weights");
            for (x, s) in p.value.iter_mut().zip(t.slots[0].iter_mut()) {
                *x = lerp(*x, *s, w);
                *s = *x;
            }
        }
        let mode = self.config.pullback_momentum;
        if mode == PullbackMomentum::None {
            return Ok(());
        }
        let mut state = self.inner.state();
        let Some((holder, k)) = with_momentum_buffer(&mut state) else {
            return Ok(());
        };
        for p in params.iter() {
            let Some(buffers) = holder.tensors.iter_mut().find(|t| t.name == p.name) else {
                continue;
            };
            let Some(buf) = buffers.slots.get_mut(k) else {
                continue;
            };
            if mode == PullbackMomentum::Reset {
                buf.iter_mut().for_each(|b| *b = T::zero());
            } else {
                let t = self
                    .tensors
                    .iter_mut()
                    .find(|t| t.name == p.name)
                    .expect("every stepped tensor has slow weights");
                for (b, s) in buf.iter_mut().zip(t.slots[1].iter_mut()) {
                    *b = lerp(*b, *s, w);
                    *s = *b;
                }
            }
        }
        self.inner.load_state(state)
    }
}

impl<T: Float> Optimizer<T> for Lookahead<T> {
    fn name(&self) -> &'static str {
        "lookahead"
    }

    fn kind(&self) -> OptimizerKind {
        self.inner.kind()
    }

    fn spec(&self) -> Call {
        let mut c = self.config.clone();
        c.inner = self.inner.spec();
        c.to_call()
    }

    fn step(&mut self, params: &mut [Param<'_, T>]) -> Result<StepOutcome> {
        self.advance(params, None)
    }

    fn step_with(
        &mut self,
        params: &mut [Param<'_, T>],
        closure: &mut dyn Closure<T>,
    ) -> Result<StepOutcome> {
        self.advance(params, Some(closure))
    }
    super::lookahead::delegate_to_inner!();

    fn skipped_steps(&self) -> u64 {
        self.inner.skipped_steps()
    }

    fn state(&self) -> OptimizerState<T> {
        let inner = self.inner.state();
        OptimizerState {
            algorithm: "lookahead".to_string(),
            spec: self.spec().to_string(),
            slot_names: self.slot_names().iter().map(|s| s.to_string()).collect(),
            nonfinite: inner.nonfinite,
            skipped: inner.skipped,
            tensors: self.tensors.clone(),
            globals: vec![self.counter as f64],
            inner: vec![inner],
        }
    }

    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()> {
        if state.algorithm != "lookahead" {
            return Err(Error::StateMismatch(format!(
                "state is for '{}' but the optimizer is 'lookahead'",
                state.algorithm
            )));
        }
        let config = LookaheadConfig::from_call(&crate::spec::parse(&state.spec)?)?;
        let mut fresh = Lookahead::<T>::new(config)?;
        let names = fresh.slot_names();
        if state
            .slot_names
            .iter()
            .map(String::as_str)
            .ne(names.iter().copied())
        {
            return Err(Error::StateMismatch(format!(
                "state slots [{}] do not match lookahead's [{}]",
                state.slot_names.join(", "),
                names.join(", ")
            )));
        }
        let counter = match state.globals.as_slice() {
            [c] if *c >= 0.0 && c.fract() == 0.0 && (*c as u64) < fresh.config.k => *c as u64,
            other => {
                return Err(Error::StateMismatch(format!(
                    "lookahead keeps one step counter below k = {}, the state has {other:?}",
                    fresh.config.k
                )))
            }
        };
        for (i, t) in state.tensors.iter().enumerate() {
            if state.tensors[..i].iter().any(|u| u.name == t.name) {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' appears twice in the state",
                    t.name
                )));
            }
            if t.slots.len() != names.len() || t.slots.iter().any(|s| s.len() != t.slots[0].len()) {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' needs {} buffers of one length ({})",
                    t.name,
                    names.len(),
                    names.join(", ")
                )));
            }
        }
        let [inner] = <[OptimizerState<T>; 1]>::try_from(state.inner).map_err(|v| {
            Error::StateMismatch(format!(
                "lookahead keeps the state of one inner optimizer, the state has {}",
                v.len()
            ))
        })?;
        fresh.inner.load_state(inner)?;
        fresh.counter = counter;
        fresh.tensors = state.tensors;
        *self = fresh;
        Ok(())
    }
}
