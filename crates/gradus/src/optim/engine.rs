//! The element-wise engine: runs any [`Rule`] over named tensors in one pass.

use super::state_dtype::{self, StateDtype};
use super::table::{check_algorithm, check_slot_names, StateTable, NEW};
use super::{GradScale, NonFinitePolicy, Optimizer, Param, StepOutcome};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::hyper::Hyperparameters;
use crate::spec::Call;
use std::fmt::Debug;

/// An element-wise optimization algorithm, written once for `f32` and `f64`.
///
/// A rule is its own config: a plain struct with torch's hyperparameter names and
/// defaults. Per step and tensor, [`Rule::coeffs`] turns the step number (1 on the
/// first update, as torch counts) into the scalars of that step (bias corrections,
/// step sizes), and [`Rule::update`] updates one element from its parameter, its
/// gradient and its state slots. The engine calls `update` in a single pass over the
/// tensor, so composition never costs an extra sweep over memory.
pub trait Rule: Hyperparameters + Debug + PartialEq + Send + Sync + 'static {
    /// Whether the rule's state may be kept in fewer bits than the parameters
    /// (`state_dtype=bf16`, see [`super::StateDtype`]): true for rules whose buffers
    /// are moments or accumulators that tolerate a relative rounding of 2⁻⁸.
    const LOW_PRECISION_STATE: bool = false;

    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (validated by the caller).
    fn set_lr(&mut self, lr: f64);

    /// The coefficient a one-cycle schedule cycles (`momentum` or `betas[0]`).
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets the coefficient [`Rule::momentum`] reports.
    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        Err(Error::Unsupported(format!(
            "{} has no momentum or betas[0] to cycle (asked to set {momentum}); \
             use one_cycle(..., cycle_momentum=false)",
            Self::NAME
        )))
    }

    /// Names of the per-element state buffers, as torch names them (`exp_avg`, ...).
    fn slot_names(&self) -> &'static [&'static str];

    /// Whether the state buffers may appear after the first step (SGD's momentum
    /// buffer, when a schedule switches momentum on later), so that a saved state
    /// without them is valid.
    fn lazy_slots(&self) -> bool {
        false
    }

    /// Initial value of state slot `slot` (0 for all but a few, e.g. Adagrad's
    /// `initial_accumulator_value`).
    fn slot_init(&self, _slot: usize) -> f64 {
        0.0
    }

    /// Initial values of per-tensor scalar state (e.g. NAdam's `mu_product`).
    fn scalar_init(&self) -> Vec<f64> {
        Vec::new()
    }

    /// The per-step scalars of one tensor, computed once per step.
    type Coeffs<T: Float>: Copy + Send + Sync;

    /// Computes the scalars of update number `step` (1-based) and advances the
    /// tensor's scalar state.
    fn coeffs<T: Float>(&self, step: u64, scalars: &mut [f64]) -> Self::Coeffs<T>;

    /// Updates one element: parameter `p`, gradient `g`, state slots `s`
    /// (`s.len() == slot_names().len()`).
    fn update<T: Float>(c: &Self::Coeffs<T>, p: &mut T, g: T, s: &mut [T]);

    /// Whether `c` is the rule's common configuration (torch's defaults: no
    /// `maximize`, no L2 weight decay, ...), for which [`Rule::update_fast`] may be
    /// used instead of [`Rule::update`].
    fn is_fast<T: Float>(_c: &Self::Coeffs<T>) -> bool {
        false
    }

    /// [`Rule::update`] for coefficients where [`Rule::is_fast`] holds, with the
    /// options of that configuration known at compile time: the kernel's loop then
    /// carries no per-element tests of them. Must compute exactly what `update`
    /// computes (the kernel tests check this bit for bit).
    #[inline(always)]
    fn update_fast<T: Float>(c: &Self::Coeffs<T>, p: &mut T, g: T, s: &mut [T]) {
        Self::update(c, p, g, s)
    }

    /// For a rule whose gradient is taken at another point than the one to evaluate
    /// (Schedule-Free): writes the evaluation point of a tensor with parameters
    /// `value` and state `slots` (empty for a tensor not stepped yet) into `out` (as
    /// long as `value`) and returns `true`. The default, `false`, means the
    /// parameters are the evaluation point. See [`Optimizer::eval_params`].
    fn eval_params<T: Float>(&self, value: &[T], slots: &[Vec<T>], out: &mut [T]) -> bool {
        let _ = (value, slots, out);
        false
    }
}

/// The state of one tensor: its step count, buffers and scalars.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct TensorState<T> {
    /// The tensor's name.
    pub name: String,
    /// Updates applied to this tensor so far.
    pub step: u64,
    /// State buffers, named by the optimizer's slot names. An element-wise rule's are
    /// each as long as the tensor; a per-tensor rule's may have shapes of their own
    /// (see `shapes`).
    pub slots: Vec<Vec<T>>,
    /// Per-tensor scalars (see [`Rule::scalar_init`]).
    pub scalars: Vec<f64>,
    /// The shape of each buffer in `slots`, row-major; empty when every buffer is a
    /// flat copy of the tensor's layout (all element-wise rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shapes: Vec<Vec<usize>>,
    /// The state buffers as bfloat16 bits, in place of `slots`, when the optimizer
    /// keeps its state in bfloat16 (see [`super::StateDtype`]); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bf16_slots: Vec<Vec<u16>>,
    /// The state buffers as 8-bit codes, in place of `slots`, when the optimizer keeps
    /// its state quantized (`state_dtype=q8`, see [`super::state_dtype::q8`]); empty
    /// otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub q8_slots: Vec<Vec<u8>>,
    /// The scale (absmax) of each block of [`super::state_dtype::q8::BLOCK`] elements
    /// of each buffer in `q8_slots`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub q8_absmax: Vec<Vec<f32>>,
}

impl<T> TensorState<T> {
    /// Elements per state buffer, whatever their storage (`None` without buffers).
    pub fn buffer_len(&self) -> Option<usize> {
        self.slots
            .first()
            .map(Vec::len)
            .or(self.bf16_slots.first().map(Vec::len))
            .or(self.q8_slots.first().map(Vec::len))
    }

    /// Number of state buffers, whatever their storage.
    pub fn buffer_count(&self) -> usize {
        self.slots
            .len()
            .max(self.bf16_slots.len())
            .max(self.q8_slots.len())
    }
}

/// The complete state of an optimizer, as saved in a checkpoint.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct OptimizerState<T> {
    /// The algorithm's spec name.
    pub algorithm: String,
    /// The hyperparameters, as a spec call.
    pub spec: String,
    /// Names of the state slots, in order.
    pub slot_names: Vec<String>,
    /// The non-finite policy.
    pub nonfinite: NonFinitePolicy,
    /// Steps skipped under [`NonFinitePolicy::Skip`].
    pub skipped: u64,
    /// One entry per tensor seen, in first-seen order.
    pub tensors: Vec<TensorState<T>>,
    /// Optimizer-wide scalars (Prodigy's `d`, ...); empty for most.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub globals: Vec<f64>,
    /// The states of the optimizers a combinator wraps, in order (`partition`'s
    /// members, `lookahead`'s inner optimizer); empty for the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inner: Vec<OptimizerState<T>>,
}

impl<T> OptimizerState<T> {
    /// The state buffer `slot` (named as in [`OptimizerState::slot_names`]) of the
    /// tensor called `name`: how a caller holding a `Box<dyn Optimizer>` reads, say,
    /// ASGD's averaged parameters `ax`. Searches the wrapped optimizers' states too.
    pub fn slot(&self, name: &str, slot: &str) -> Option<&[T]> {
        let own = || {
            let k = self.slot_names.iter().position(|s| s == slot)?;
            let t = self.tensors.iter().find(|t| t.name == name)?;
            t.slots.get(k).map(Vec::as_slice)
        };
        own().or_else(|| self.inner.iter().find_map(|s| s.slot(name, slot)))
    }

    /// Bytes the state buffers occupy: every buffer at its own length and storage
    /// (`T`, 2 bytes for bfloat16 state, 1 byte and a 4-byte scale per block for 8-bit
    /// state), the wrapped optimizers' too. Scalars and
    /// names are not counted.
    pub fn buffer_bytes(&self) -> usize {
        let own: usize = self
            .tensors
            .iter()
            .map(|t| {
                t.slots.iter().map(Vec::len).sum::<usize>() * std::mem::size_of::<T>()
                    + t.bf16_slots.iter().map(Vec::len).sum::<usize>() * 2
                    + t.q8_slots.iter().map(Vec::len).sum::<usize>()
                    + t.q8_absmax.iter().map(Vec::len).sum::<usize>() * 4
            })
            .sum();
        own + self.inner.iter().map(Self::buffer_bytes).sum::<usize>()
    }
}

/// Runs a [`Rule`] over named tensors, keeping per-tensor state by name.
#[derive(Debug, Clone)]
pub struct Elementwise<R: Rule, T: Float> {
    rule: R,
    table: StateTable<T>,
    /// Scratch: state index of each param of the current step (reused, no per-step allocation).
    slots_of: Vec<usize>,
    /// Scratch: the kernel's step plan (reused, no per-step allocation).
    scratch: super::kernel::Scratch<R::Coeffs<T>, T>,
    /// How the state buffers are stored.
    state_dtype: StateDtype,
}

impl<R: Rule, T: Float> Elementwise<R, T> {
    /// An optimizer with the given (validated) config, keeping its state in `T`.
    pub fn new(rule: R) -> Result<Self> {
        rule.validate()?;
        Ok(Elementwise {
            rule,
            table: StateTable::default(),
            slots_of: Vec::new(),
            scratch: Default::default(),
            state_dtype: StateDtype::Param,
        })
    }

    /// An optimizer keeping its state as `state_dtype` (an error naming the key if the
    /// rule does not accept low-precision state).
    pub fn with_state_dtype(rule: R, state_dtype: StateDtype) -> Result<Self> {
        if !R::LOW_PRECISION_STATE && !state_dtype.is_param() {
            state_dtype::split(&state_dtype::with_key(rule.to_call(), state_dtype), false)?;
        }
        Ok(Elementwise {
            state_dtype,
            ..Self::new(rule)?
        })
    }

    /// Builds the optimizer from a spec call, `state_dtype` included.
    pub fn from_call(call: &Call) -> Result<Self> {
        let (rest, dtype) = state_dtype::split(call, R::LOW_PRECISION_STATE)?;
        Self::with_state_dtype(R::from_call(&rest)?, dtype)
    }

    /// How the state buffers are stored.
    pub fn state_dtype(&self) -> StateDtype {
        self.state_dtype
    }

    /// The config.
    pub fn config(&self) -> &R {
        &self.rule
    }

    /// The state of the tensor called `name`, if it has been stepped.
    pub fn tensor_state(&self, name: &str) -> Option<&TensorState<T>> {
        self.table.get(name)
    }

    /// The state buffer `slot` (one of [`Rule::slot_names`], torch's state key, e.g.
    /// ASGD's averaged parameters `ax`) of the tensor called `name`, if it has been
    /// stepped and the rule has that buffer. `None` when the state is kept in
    /// bfloat16 (see [`Elementwise::slot_widened`]).
    pub fn slot(&self, name: &str, slot: &str) -> Option<&[T]> {
        let k = self.rule.slot_names().iter().position(|s| *s == slot)?;
        self.tensor_state(name)?.slots.get(k).map(Vec::as_slice)
    }

    /// The state buffer `slot` of the tensor called `name`, widened to `T` whatever
    /// the storage.
    pub fn slot_widened(&self, name: &str, slot: &str) -> Option<Vec<T>> {
        let k = self.rule.slot_names().iter().position(|s| *s == slot)?;
        let t = self.tensor_state(name)?;
        if self.state_dtype.is_param() {
            t.slots.get(k).cloned()
        } else if self.state_dtype.is_q8() {
            let codec = state_dtype::q8::codec_for(slot);
            Some(state_dtype::q8::widen(
                codec,
                t.q8_slots.get(k)?,
                t.q8_absmax.get(k)?,
            ))
        } else {
            let b = t.bf16_slots.get(k)?;
            Some(b.iter().map(|&x| state_dtype::decode(x)).collect())
        }
    }

    /// Resolves each param to a state index, checking lengths, name uniqueness and
    /// that existing buffers are as long as the tensor. Mutates nothing but the
    /// scratch buffer.
    fn resolve(&mut self, params: &[Param<'_, T>]) -> Result<()> {
        self.table.resolve(params, &mut self.slots_of, |p, t| {
            let len = t.buffer_len().unwrap_or(p.value.len());
            if len != p.value.len() {
                return Err(Error::StateShape {
                    name: p.name.to_string(),
                    expected: len,
                    got: p.value.len(),
                });
            }
            Ok(())
        })
    }
}

impl<R: Rule, T: Float> Optimizer<T> for Elementwise<R, T> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn spec(&self) -> Call {
        state_dtype::with_key(self.rule.to_call(), self.state_dtype)
    }

    fn step(&mut self, params: &mut [Param<'_, T>]) -> Result<StepOutcome> {
        self.step_scaled(params, GradScale::ONE)
    }

    fn step_scaled(
        &mut self,
        params: &mut [Param<'_, T>],
        scale: GradScale,
    ) -> Result<StepOutcome> {
        self.resolve(params)?;
        // Gradients whose global norm is finite are finite: no second scan.
        if !scale.verified_finite() && !self.table.admit(params, &self.slots_of)? {
            return Ok(StepOutcome::Skipped);
        }
        // Everything is checked: from here on the step cannot fail.
        for (i, p) in params.iter().enumerate() {
            if self.slots_of[i] == NEW {
                self.slots_of[i] = self.table.insert(TensorState {
                    name: p.name.to_string(),
                    scalars: self.rule.scalar_init(),
                    ..Default::default()
                });
            }
        }
        // New tensors get their buffers here, as do old ones whose config changed (a
        // one-cycle schedule switching SGD's momentum on): they start at their initial
        // value, as torch creates them lazily.
        let nslots = self.rule.slot_names().len();
        for (p, &idx) in params.iter().zip(&self.slots_of) {
            let t = &mut self.table.tensors[idx];
            let n = p.value.len();
            if self.state_dtype.is_param() {
                while t.slots.len() < nslots {
                    let init = T::of(self.rule.slot_init(t.slots.len()));
                    t.slots.push(vec![init; n]);
                }
            } else if self.state_dtype.is_q8() {
                while t.q8_slots.len() < nslots {
                    let k = t.q8_slots.len();
                    let codec = state_dtype::q8::codec_for(self.rule.slot_names()[k]);
                    let (codes, absmax) =
                        state_dtype::q8::fresh(codec, T::of(self.rule.slot_init(k)), n);
                    t.q8_slots.push(codes);
                    t.q8_absmax.push(absmax);
                }
            } else {
                while t.bf16_slots.len() < nslots {
                    let init = T::of(self.rule.slot_init(t.bf16_slots.len()));
                    t.bf16_slots.push(vec![state_dtype::encode(init); n]);
                }
            }
        }
        let scratch = &mut self.scratch;
        super::kernel::run(
            &self.rule,
            params,
            &self.slots_of,
            &mut self.table.tensors,
            scratch,
            T::of(scale.factor()),
            self.state_dtype,
        );
        Ok(StepOutcome::Applied)
    }

    fn eval_params(&self, name: &str, value: &[T], out: &mut [T]) -> Result<bool> {
        // Rules with an evaluation point (Schedule-Free) keep their state in `T`.
        let slots = self.tensor_state(name).map_or(&[][..], |t| &t.slots[..]);
        super::check_eval_lengths(name, value, out, slots)?;
        Ok(self.rule.eval_params(value, slots, out))
    }

    super::table::rule_and_table_accessors!();

    fn state(&self) -> OptimizerState<T> {
        OptimizerState {
            algorithm: R::NAME.to_string(),
            spec: self.spec().to_string(),
            slot_names: self
                .rule
                .slot_names()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            nonfinite: self.table.policy,
            skipped: self.table.skipped,
            // Only the buffers the rule uses now are state (SGD whose momentum a schedule
            // set to exactly 0 keeps a buffer it no longer reads).
            tensors: self
                .table
                .tensors
                .iter()
                .map(|t| {
                    let used = self.rule.slot_names().len();
                    TensorState {
                        slots: t.slots[..t.slots.len().min(used)].to_vec(),
                        bf16_slots: t.bf16_slots[..t.bf16_slots.len().min(used)].to_vec(),
                        q8_slots: t.q8_slots[..t.q8_slots.len().min(used)].to_vec(),
                        q8_absmax: t.q8_absmax[..t.q8_absmax.len().min(used)].to_vec(),
                        ..t.clone()
                    }
                })
                .collect(),
            ..Default::default()
        }
    }

    fn load_state(&mut self, mut state: OptimizerState<T>) -> Result<()> {
        let call = check_algorithm(&state, R::NAME)?;
        let (rest, dtype) = state_dtype::split(&call, R::LOW_PRECISION_STATE)?;
        let rule = R::from_call(&rest)?;
        let names = rule.slot_names();
        check_slot_names(&state, R::NAME, names)?;
        if !state.globals.is_empty() || !state.inner.is_empty() {
            return Err(Error::StateMismatch(format!(
                "{} keeps no optimizer-wide or nested state, but the state has some",
                R::NAME
            )));
        }
        for t in &state.tensors {
            // The buffers are where the spec's `state_dtype` says, and only there.
            let (count, other, lens): (usize, usize, Vec<usize>) = if dtype.is_param() {
                let lens = t.slots.iter().map(Vec::len).collect();
                (t.slots.len(), t.bf16_slots.len() + t.q8_slots.len(), lens)
            } else if dtype.is_q8() {
                let lens = t.q8_slots.iter().map(Vec::len).collect();
                (t.q8_slots.len(), t.slots.len() + t.bf16_slots.len(), lens)
            } else {
                let lens = t.bf16_slots.iter().map(Vec::len).collect();
                (t.bf16_slots.len(), t.slots.len() + t.q8_slots.len(), lens)
            };
            if other != 0 {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' has {other} state buffers in another type than the \
                     spec's state_dtype={}",
                    t.name,
                    dtype.word()
                )));
            }
            // A rule whose buffers appear lazily (SGD's momentum buffer, created when a
            // schedule switches momentum on) may have none yet.
            let lazy_ok = rule.lazy_slots() && count == 0;
            if count != names.len() && !lazy_ok {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' has {} state buffers, expected {}",
                    t.name,
                    count,
                    names.len()
                )));
            }
            if let Some(l) = lens.iter().find(|&&l| l != lens[0]) {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' has state buffers of different lengths ({} and {})",
                    t.name, lens[0], l
                )));
            }
            // One scale per block of each 8-bit buffer, and none without them.
            let blocks = lens.first().map_or(0, |&n| state_dtype::q8::blocks(n));
            let scales_ok = if dtype.is_q8() {
                t.q8_absmax.len() == t.q8_slots.len()
                    && t.q8_absmax.iter().all(|a| a.len() == blocks)
            } else {
                t.q8_absmax.is_empty()
            };
            if !scales_ok {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}': an 8-bit state buffer of {} elements needs {blocks} \
                     block scales (one per {} elements)",
                    t.name,
                    lens.first().copied().unwrap_or(0),
                    state_dtype::q8::BLOCK
                )));
            }
            if !t.shapes.is_empty() {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}': {}'s buffers are shaped like the tensor, but the state \
                     gives them shapes of their own",
                    t.name,
                    R::NAME
                )));
            }
        }
        self.table.load(&mut state, rule.scalar_init().len())?;
        self.rule = rule;
        self.state_dtype = dtype;
        Ok(())
    }
}
