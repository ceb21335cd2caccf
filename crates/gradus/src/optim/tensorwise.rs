//! The per-tensor engine: runs any [`TensorRule`] over named tensors, one whole
//! tensor (with its shape) at a time.
//!
//! Optimizers such as Muon, Adafactor, LAMB, LARS, SOAP, Shampoo and Prodigy cannot
//! update an element from that element alone: they take norms and reductions over a
//! tensor, multiply matrices, keep buffers whose shape is not the tensor's (Adafactor's
//! row and column moments), or need a statistic summed over every tensor before any is
//! updated (Prodigy's step-size estimate). A [`TensorRule`] states exactly that; the
//! [`PerTensor`] engine supplies everything else with the same state table as the
//! element-wise engine: names, the non-finite policy, the skip counter, checkpoints and
//! the checks of a loaded state.
//!
//! One step:
//! 1. every tensor is checked (lengths, shape, unique names, existing state fits, and
//!    [`TensorRule::slot_shapes`] accepts a new tensor), then the non-finite policy;
//!    an error here changes nothing;
//! 2. if the rule gathers ([`TensorRule::gathered`] > 0), [`TensorRule::gather`] runs
//!    over every tensor and [`TensorRule::conclude`] turns the sums into new globals;
//! 3. [`TensorRule::update`] runs over every tensor.

use super::table::{check_algorithm, check_slot_names, StateTable, NEW};
use super::TensorState;
use super::{NonFinitePolicy, Optimizer, OptimizerKind, OptimizerState, Param, StepOutcome};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::hyper::Hyperparameters;
use crate::spec::Call;
use std::fmt::Debug;

/// One tensor as a [`TensorRule`] sees it during a step.
#[derive(Debug)]
pub struct TensorStep<'a, T> {
    /// The tensor's name.
    pub name: &'a str,
    /// Its axes' lengths, row-major; never empty (`[len]` for a vector).
    pub shape: &'a [usize],
    /// The values, updated in place (row-major).
    pub value: &'a mut [T],
    /// The gradient.
    pub grad: &'a [T],
    /// The number of this update of this tensor, 1 on the first (torch's `state["step"]`).
    pub step: u64,
    /// The buffers named by [`TensorRule::slot_names`], shaped by [`TensorRule::slot_shapes`].
    pub slots: &'a mut [Vec<T>],
    /// The per-tensor scalars ([`TensorRule::scalar_init`]).
    pub scalars: &'a mut [f64],
}

/// A per-tensor optimization algorithm, written once for `f32` and `f64`.
///
/// Like a [`super::Rule`], a tensor rule is its own config, declared with
/// [`hyperparameters!`](crate::hyperparameters).
pub trait TensorRule: Hyperparameters + Debug + PartialEq + Send + Sync + 'static {
    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (validated by the caller).
    fn set_lr(&mut self, lr: f64);

    /// The coefficient a one-cycle schedule cycles, if any.
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets the coefficient [`TensorRule::momentum`] reports.
    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        Err(Error::Unsupported(format!(
            "{} has no momentum or betas[0] to cycle (asked to set {momentum}); \
             use one_cycle(..., cycle_momentum=false)",
            Self::NAME
        )))
    }

    /// Names of the state buffers, as the reference names them.
    fn slot_names(&self) -> &'static [&'static str];

    /// The shape of each buffer (one per [`TensorRule::slot_names`] entry) for the
    /// tensor `name` of shape `shape`, or an error saying why this rule cannot step
    /// such a tensor. Called when a tensor is first seen and to check a loaded state.
    fn slot_shapes(&self, name: &str, shape: &[usize]) -> Result<Vec<Vec<usize>>>;

    /// Initial value of every element of buffer `slot`.
    fn slot_init(&self, _slot: usize) -> f64 {
        0.0
    }

    /// Initial values of the per-tensor scalars.
    fn scalar_init(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Initial values of the optimizer-wide scalars (saved with the state).
    fn global_init(&self) -> Vec<f64> {
        Vec::new()
    }

    /// How many sums the gathering pass collects over all tensors (0: no such pass).
    fn gathered(&self) -> usize {
        0
    }

    /// The gathering pass over one tensor: adds to `sums`; may change the tensor's
    /// state, never its values.
    fn gather<T: Float>(&self, _t: &mut TensorStep<'_, T>, _globals: &[f64], _sums: &mut [f64]) {}

    /// After the gathering pass and before the updates: new globals from the sums.
    fn conclude(&self, _globals: &mut [f64], _sums: &[f64]) {}

    /// Updates one tensor. Everything that can fail has been checked before.
    fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, globals: &[f64]);
}

/// The element count of a shape, if it does not overflow.
fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// Runs a [`TensorRule`] over named tensors, keeping per-tensor state by name.
#[derive(Debug, Clone)]
pub struct PerTensor<R: TensorRule, T: Float> {
    rule: R,
    table: StateTable<T>,
    globals: Vec<f64>,
    /// Scratch: state index of each param of the current step.
    resolved: Vec<usize>,
    /// Scratch: the buffer shapes of the current step's new tensors.
    new_shapes: Vec<Option<Vec<Vec<usize>>>>,
}

impl<R: TensorRule, T: Float> PerTensor<R, T> {
    /// An optimizer with the given (validated) config.
    pub fn new(rule: R) -> Result<Self> {
        rule.validate()?;
        Ok(PerTensor {
            globals: rule.global_init(),
            rule,
            table: StateTable::default(),
            resolved: Vec::new(),
            new_shapes: Vec::new(),
        })
    }

    /// The config.
    pub fn config(&self) -> &R {
        &self.rule
    }

    /// The state of the tensor called `name`, if it has been stepped.
    pub fn tensor_state(&self, name: &str) -> Option<&TensorState<T>> {
        self.table.get(name)
    }

    /// The state buffer `slot` of the tensor called `name`, if it exists.
    pub fn slot(&self, name: &str, slot: &str) -> Option<&[T]> {
        let k = self.rule.slot_names().iter().position(|s| *s == slot)?;
        self.tensor_state(name)?.slots.get(k).map(Vec::as_slice)
    }

    /// The optimizer-wide scalars ([`TensorRule::global_init`]).
    pub fn globals(&self) -> &[f64] {
        &self.globals
    }

    /// Checks the step's tensors; afterwards the step cannot fail.
    fn check(&mut self, params: &[Param<'_, T>]) -> Result<()> {
        let rule = &self.rule;
        self.table.resolve(params, &mut self.resolved, |p, t| {
            let want = rule.slot_shapes(p.name, &p.dims())?;
            if t.shapes != want {
                // Name the first buffer that does not fit, with both shapes.
                let names = rule.slot_names();
                let k = (0..want.len())
                    .find(|&k| t.shapes.get(k) != Some(&want[k]))
                    .unwrap_or(0);
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' of shape {:?}: {} buffer '{}' needs shape {:?}, but its \
                     state has {:?} (all buffers: {:?} vs {:?})",
                    p.name,
                    p.dims(),
                    R::NAME,
                    names.get(k).copied().unwrap_or("?"),
                    want.get(k).cloned().unwrap_or_default(),
                    t.shapes.get(k).cloned().unwrap_or_default(),
                    want,
                    t.shapes
                )));
            }
            Ok(())
        })?;
        self.new_shapes.clear();
        for (p, &idx) in params.iter().zip(&self.resolved) {
            self.new_shapes.push(if idx == NEW {
                Some(rule.slot_shapes(p.name, &p.dims())?)
            } else {
                None
            });
        }
        Ok(())
    }
}

impl<R: TensorRule, T: Float> Optimizer<T> for PerTensor<R, T> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn kind(&self) -> OptimizerKind {
        OptimizerKind::Tensor
    }

    fn spec(&self) -> Call {
        self.rule.to_call()
    }

    fn step(&mut self, params: &mut [Param<'_, T>]) -> Result<StepOutcome> {
        self.check(params)?;
        if !self.table.admit(params, &self.resolved)? {
            return Ok(StepOutcome::Skipped);
        }
        for (i, p) in params.iter().enumerate() {
            if let Some(shapes) = self.new_shapes[i].take() {
                let slots = shapes
                    .iter()
                    .enumerate()
                    .map(|(k, s)| vec![T::of(self.rule.slot_init(k)); numel(s).unwrap_or(0)])
                    .collect();
                self.resolved[i] = self.table.insert(TensorState {
                    name: p.name.to_string(),
                    slots,
                    scalars: self.rule.scalar_init(),
                    shapes,
                    ..Default::default()
                });
            }
        }
        let rule = &self.rule;
        let visit = |params: &mut [Param<'_, T>],
                     table: &mut StateTable<T>,
                     f: &mut dyn FnMut(&mut TensorStep<'_, T>)| {
            for (p, &idx) in params.iter_mut().zip(&self.resolved) {
                let dims = p.dims();
                let t = &mut table.tensors[idx];
                let mut view = TensorStep {
                    name: p.name,
                    shape: &dims,
                    value: p.value,
                    grad: p.grad,
                    step: t.step + 1,
                    slots: &mut t.slots,
                    scalars: &mut t.scalars,
                };
                f(&mut view);
            }
        };
        if rule.gathered() > 0 {
            let mut sums = vec![0.0; rule.gathered()];
            let globals = &self.globals;
            visit(params, &mut self.table, &mut |t| {
                rule.gather(t, globals, &mut sums)
            });
            rule.conclude(&mut self.globals, &sums);
        }
        let globals = &self.globals;
        visit(params, &mut self.table, &mut |t| rule.update(t, globals));
        for &idx in &self.resolved {
            self.table.tensors[idx].step += 1;
        }
        Ok(StepOutcome::Applied)
    }

    super::table::rule_and_table_accessors!();

    fn state(&self) -> OptimizerState<T> {
        OptimizerState {
            algorithm: R::NAME.to_string(),
            spec: self.rule.to_call().to_string(),
            slot_names: self
                .rule
                .slot_names()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            nonfinite: self.table.policy,
            skipped: self.table.skipped,
            tensors: self.table.tensors.clone(),
            globals: self.globals.clone(),
            inner: Vec::new(),
        }
    }

    fn load_state(&mut self, mut state: OptimizerState<T>) -> Result<()> {
        let rule = R::from_call(&check_algorithm(&state, R::NAME)?)?;
        let names = rule.slot_names();
        check_slot_names(&state, R::NAME, names)?;
        let globals = rule.global_init().len();
        if state.globals.len() != globals {
            return Err(Error::StateMismatch(format!(
                "{} keeps {globals} optimizer-wide scalars, but the state has {}",
                R::NAME,
                state.globals.len()
            )));
        }
        if !state.inner.is_empty() {
            return Err(Error::StateMismatch(format!(
                "{} wraps no other optimizer, but the state has nested states",
                R::NAME
            )));
        }
        for t in &state.tensors {
            if t.slots.len() != names.len() || t.shapes.len() != names.len() {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' has {} state buffers and {} shapes, expected {} of each",
                    t.name,
                    t.slots.len(),
                    t.shapes.len(),
                    names.len()
                )));
            }
            for ((slot, shape), name) in t.slots.iter().zip(&t.shapes).zip(names) {
                if numel(shape) != Some(slot.len()) {
                    return Err(Error::StateMismatch(format!(
                        "tensor '{}': buffer '{name}' has {} values but shape {shape:?}",
                        t.name,
                        slot.len()
                    )));
                }
            }
        }
        let globals = std::mem::take(&mut state.globals);
        self.table.load(&mut state, rule.scalar_init().len())?;
        self.globals = globals;
        self.rule = rule;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::hyperparameters! {
        /// A test rule exercising every engine feature: normalized gradient descent,
        /// `p ← p − lr·g/‖g‖_total`, with a per-row buffer of gradient sums (shape
        /// `[rows]` for a matrix; matrices only) and the global norm gathered first.
        pub struct RowNormConfig("row_norm", "test rule") {
            /// Learning rate.
            lr: f64 = 0.1, NONNEG, log;
        }
    }

    impl TensorRule for RowNormConfig {
        fn lr(&self) -> f64 {
            self.lr
        }
        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
        fn slot_names(&self) -> &'static [&'static str] {
            &["row_sum"]
        }
        fn slot_shapes(&self, name: &str, shape: &[usize]) -> Result<Vec<Vec<usize>>> {
            match shape {
                [r, _] => Ok(vec![vec![*r]]),
                _ => Err(Error::Unsupported(format!(
                    "row_norm needs 2-D tensors; '{name}' has shape {shape:?}"
                ))),
            }
        }
        fn global_init(&self) -> Vec<f64> {
            vec![0.0]
        }
        fn gathered(&self) -> usize {
            1
        }
        fn gather<T: Float>(&self, t: &mut TensorStep<'_, T>, _: &[f64], sums: &mut [f64]) {
            sums[0] += t.grad.iter().map(|g| g.f64() * g.f64()).sum::<f64>();
        }
        fn conclude(&self, globals: &mut [f64], sums: &[f64]) {
            globals[0] = sums[0].sqrt();
        }
        fn update<T: Float>(&self, t: &mut TensorStep<'_, T>, globals: &[f64]) {
            let cols = t.shape[1];
            for (i, (p, g)) in t.value.iter_mut().zip(t.grad).enumerate() {
                *p = T::of(p.f64() - self.lr * g.f64() / globals[0]);
                t.slots[0][i / cols] = T::of(t.slots[0][i / cols].f64() + g.f64());
            }
        }
    }

    fn opt() -> PerTensor<RowNormConfig, f64> {
        PerTensor::new(RowNormConfig::default()).unwrap()
    }

    #[test]
    fn gathers_over_all_tensors_then_updates_each_with_its_own_shapes() {
        let mut o = opt();
        let (mut a, mut b) = (vec![1.0; 6], vec![0.0; 2]);
        let (ga, gb) = ([1.0, 2.0, 3.0, 0.0, 0.0, 0.0], [0.0, 4.0]);
        o.step(&mut [
            Param::with_shape("a", &mut a, &ga, &[2, 3]),
            Param::with_shape("b", &mut b, &gb, &[1, 2]),
        ])
        .unwrap();
        // ‖g‖ over both tensors = √(1+4+9+16) = √30.
        let n = 30f64.sqrt();
        assert_eq!(o.globals(), &[n]);
        assert_eq!(a[1], 1.0 - 0.1 * 2.0 / n);
        assert_eq!(b[1], -0.1 * 4.0 / n);
        assert_eq!(o.slot("a", "row_sum").unwrap(), &[6.0, 0.0]);
        let s = o.tensor_state("a").unwrap();
        assert_eq!((s.step, s.shapes.clone()), (1, vec![vec![2]]));
    }

    #[test]
    fn a_refused_shape_or_bad_gradient_changes_nothing() {
        let mut o = opt();
        let (mut a, mut v) = (vec![1.0; 4], vec![1.0; 3]);
        let err = o
            .step(&mut [
                Param::with_shape("a", &mut a, &[1.0; 4], &[2, 2]),
                Param::new("v", &mut v, &[1.0; 3]),
            ])
            .unwrap_err();
        assert!(err.to_string().contains("'v' has shape [3]"), "{err}");
        assert_eq!((a, o.state().tensors.len()), (vec![1.0; 4], 0));

        let mut a = vec![1.0; 4];
        let g = [1.0, f64::NAN, 0.0, 0.0];
        let err = o
            .step(&mut [Param::with_shape("a", &mut a, &g, &[2, 2])])
            .unwrap_err();
        assert!(matches!(err, Error::NonFiniteGradient { index: 1, .. }));
        o.set_nonfinite_policy(NonFinitePolicy::Skip);
        let out = o.step(&mut [Param::with_shape("a", &mut a, &g, &[2, 2])]);
        assert_eq!((out.unwrap(), o.skipped_steps()), (StepOutcome::Skipped, 1));
        assert_eq!(a, vec![1.0; 4]);
    }

    #[test]
    fn state_round_trips_and_a_reshaped_tensor_is_refused() {
        let mut o = opt();
        let mut a = vec![1.0; 6];
        let g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        o.step(&mut [Param::with_shape("a", &mut a, &g, &[2, 3])])
            .unwrap();
        let mut back = opt();
        back.load_state(o.state()).unwrap();
        assert_eq!(back.state(), o.state());
        let err = back
            .step(&mut [Param::with_shape("a", &mut a, &g, &[3, 2])])
            .unwrap_err();
        assert!(err.to_string().contains("all buffers: [[3]]"), "{err}");

        let mut bad = o.state();
        bad.tensors[0].shapes[0] = vec![5];
        assert!(opt().load_state(bad).is_err());
        let mut bad = o.state();
        bad.globals.clear();
        assert!(opt()
            .load_state(bad)
            .unwrap_err()
            .to_string()
            .contains("1 optimizer-wide"));
    }
}
