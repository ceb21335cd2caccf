//! The state table every engine shares: per-tensor state by name, the checks of a
//! step's tensors against it, the non-finite gate, and the checks of a loaded state.
//!
//! [`super::Elementwise`] and [`super::PerTensor`] both keep their state here, so
//! names, duplicate detection, the non-finite policy, the skip counter and the load
//! checks behave the same for every kind of optimizer.

use super::{NonFinitePolicy, OptimizerState, Param, TensorState};
use crate::error::{Error, Result};
use crate::float::Float;
use std::collections::HashMap;

/// Marks a tensor of the current step that has no state yet.
pub(crate) const NEW: usize = usize::MAX;

/// Per-tensor state by name, in first-seen order, plus the non-finite policy and the
/// skip counter.
#[derive(Debug, Clone, Default)]
pub(crate) struct StateTable<T> {
    pub policy: NonFinitePolicy,
    pub skipped: u64,
    pub tensors: Vec<TensorState<T>>,
    index: HashMap<String, usize>,
}

impl<T: Float> StateTable<T> {
    /// The state of the tensor called `name`, if it has been stepped.
    pub fn get(&self, name: &str) -> Option<&TensorState<T>> {
        self.index.get(name).map(|&i| &self.tensors[i])
    }

    /// Resolves each param to a state index ([`NEW`] for a tensor never seen),
    /// writing them to `out`. Checks each param's shape and gradient length, that
    /// names are unique, and (through `fits`) that existing state fits the tensor.
    /// Mutates nothing but `out`.
    pub fn resolve(
        &self,
        params: &[Param<'_, T>],
        out: &mut Vec<usize>,
        fits: impl Fn(&Param<'_, T>, &TensorState<T>) -> Result<()>,
    ) -> Result<()> {
        out.clear();
        // Fast path: the same tensors in the same order as they were first seen.
        let same_order = params.len() <= self.tensors.len()
            && params
                .iter()
                .zip(&self.tensors)
                .all(|(p, t)| p.name == t.name);
        for (i, p) in params.iter().enumerate() {
            p.check_shape()?;
            if p.value.len() != p.grad.len() {
                return Err(Error::LengthMismatch {
                    name: p.name.to_string(),
                    params: p.value.len(),
                    grads: p.grad.len(),
                });
            }
            let idx = if same_order {
                i
            } else {
                *self.index.get(p.name).unwrap_or(&NEW)
            };
            if idx != NEW {
                fits(p, &self.tensors[idx])?;
            }
            out.push(idx);
        }
        if !same_order {
            // Names must be unique; the fast path guarantees it by construction.
            let mut seen: Vec<&str> = params.iter().map(|p| p.name).collect();
            seen.sort_unstable();
            if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
                return Err(Error::DuplicateName(w[0].to_string()));
            }
        }
        Ok(())
    }

    /// Applies the non-finite policy to a step's gradients: `Ok(true)` to go on,
    /// `Ok(false)` if the step is skipped (counted), an error naming the tensor, the
    /// element and the step under [`NonFinitePolicy::Error`].
    pub fn admit(&mut self, params: &[Param<'_, T>], resolved: &[usize]) -> Result<bool> {
        if self.policy == NonFinitePolicy::Propagate {
            return Ok(true);
        }
        let Some((i, j)) = super::kernel::first_nonfinite_in(params) else {
            return Ok(true);
        };
        if self.policy == NonFinitePolicy::Skip {
            self.skipped += 1;
            return Ok(false);
        }
        let step = match resolved[i] {
            NEW => 1,
            idx => self.tensors[idx].step + 1,
        };
        Err(Error::NonFiniteGradient {
            name: params[i].name.to_string(),
            index: j,
            step,
        })
    }

    /// Adds fresh state for tensor `name` and returns its index.
    pub fn insert(&mut self, state: TensorState<T>) -> usize {
        let i = self.tensors.len();
        self.index.insert(state.name.clone(), i);
        self.tensors.push(state);
        i
    }

    /// Replaces the table with a loaded state's tensors, policy and skip counter,
    /// after checking that the names are unique and that every tensor has
    /// `scalars` per-tensor scalars.
    pub fn load(&mut self, state: &mut OptimizerState<T>, scalars: usize) -> Result<()> {
        let mut index = HashMap::with_capacity(state.tensors.len());
        for (i, t) in state.tensors.iter().enumerate() {
            if index.insert(t.name.clone(), i).is_some() {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' appears twice in the state",
                    t.name
                )));
            }
            if t.scalars.len() != scalars {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' has {} scalar states, expected {}",
                    t.name,
                    t.scalars.len(),
                    scalars
                )));
            }
        }
        self.policy = state.nonfinite;
        self.skipped = state.skipped;
        self.tensors = std::mem::take(&mut state.tensors);
        self.index = index;
        Ok(())
    }
}

/// Checks that a loaded state is for `algorithm` and parses its spec.
pub(crate) fn check_algorithm<T>(
    state: &OptimizerState<T>,
    algorithm: &str,
) -> Result<crate::spec::Call> {
    if state.algorithm != algorithm {
        return Err(Error::StateMismatch(format!(
            "state is for '{}' but the optimizer is '{algorithm}'",
            state.algorithm
        )));
    }
    crate::spec::parse(&state.spec)
}

/// Checks that a loaded state's slot names are `names`, in order.
pub(crate) fn check_slot_names<T>(
    state: &OptimizerState<T>,
    algorithm: &str,
    names: &[&str],
) -> Result<()> {
    if state
        .slot_names
        .iter()
        .map(String::as_str)
        .ne(names.iter().copied())
    {
        return Err(Error::StateMismatch(format!(
            "state slots [{}] do not match {algorithm}'s [{}]",
            state.slot_names.join(", "),
            names.join(", ")
        )));
    }
    Ok(())
}

/// The [`super::Optimizer`] methods an engine answers from its config (`self.rule`, a
/// `Rule` or `TensorRule`, whose `R::NAME` names it) and its [`StateTable`]
/// (`self.table`): the learning rate, the cycled momentum, the non-finite policy and
/// the skip counter. Written once for both engines.
macro_rules! rule_and_table_accessors {
    () => {
        fn lr(&self) -> f64 {
            self.rule.lr()
        }

        fn set_lr(&mut self, lr: f64) -> Result<()> {
            super::check_nonneg(R::NAME, "lr", lr)?;
            self.rule.set_lr(lr);
            Ok(())
        }

        fn momentum(&self) -> Option<f64> {
            self.rule.momentum()
        }

        fn set_momentum(&mut self, momentum: f64) -> Result<()> {
            // Validated on a copy, so a refused value leaves the config as it was.
            let mut r = self.rule.clone();
            r.set_momentum(momentum)?;
            r.validate()?;
            self.rule = r;
            Ok(())
        }

        fn nonfinite_policy(&self) -> NonFinitePolicy {
            self.table.policy
        }

        fn set_nonfinite_policy(&mut self, policy: NonFinitePolicy) {
            self.table.policy = policy;
        }

        fn skipped_steps(&self) -> u64 {
            self.table.skipped
        }
    };
}
pub(crate) use rule_and_table_accessors;

/// A `Rule`'s or `TensorRule`'s `lr` / `set_lr` from its config's field `lr`, and,
/// given the field that is its momentum-like coefficient (`momentum = betas.0`),
/// `momentum` / `set_momentum` from it: the accessors every config answers the same
/// way, written once. (Range checks happen in the engine, which validates a copy.)
macro_rules! config_accessors {
    () => {
        fn lr(&self) -> f64 {
            self.lr
        }

        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
    };
    (momentum = $($field:tt)+) => {
        $crate::optim::table::config_accessors!();

        fn momentum(&self) -> Option<f64> {
            Some(self.$($field)+)
        }

        fn set_momentum(&mut self, momentum: f64) -> Result<()> {
            self.$($field)+ = momentum;
            Ok(())
        }
    };
}
pub(crate) use config_accessors;
