//! `partition`: one optimizer for the weight matrices, another for everything else.
//!
//! Muon (and Adafactor's factored moments) are meant for the 2-D weight matrices of a
//! network; biases, gains and usually the embedding and output layers belong to AdamW.
//! torch users build two optimizers over two parameter lists and step both;
//! `partition` is that set-up as one optimizer (after Optax's `partition`):
//!
//! ```text
//! partition(matrices=muon(lr=0.02), rest=adamw(lr=3e-4), rest_names=[embed, head])
//! ```
//!
//! * a tensor of rank ≥ 2 goes to `matrices` (default `muon`), every other tensor to
//!   `rest` (default `adamw`);
//! * `rest_names` (default none) sends every tensor whose name contains one of the
//!   given words to `rest` whatever its rank (the usual exclusion of embeddings and the
//!   classifier head from Muon);
//! * a tensor keeps the group it was first routed to (saved with the state), and its
//!   shape: a later step with another shape is refused.
//!
//! The learning rate the partition reports is `matrices`'s; setting it (a schedule)
//! scales both groups by the same factor, as a torch schedule scales every parameter
//! group from its own initial rate. Setting the momentum sets it in both groups that
//! have one. The non-finite policy and the skip counter are the partition's: a skipped
//! or refused step changes neither group. The members' states are saved in
//! [`OptimizerState::inner`] (`matrices` first), the routing in the partition's own
//! tensor list.
//!
//! ```
//! use gradus::optim::{self, Param};
//! let mut opt = optim::build::<f64>("partition(matrices=muon(lr=0.02), rest=adamw(lr=0.01))").unwrap();
//! let (mut w, mut b) = (vec![0.5; 6], vec![0.0; 3]);
//! let (gw, gb) = (vec![0.1, -0.2, 0.3, 0.0, 0.1, 0.2], vec![1.0, -1.0, 0.5]);
//! opt.step(&mut [
//!     Param::with_shape("w", &mut w, &gw, &[3, 2]),
//!     Param::new("b", &mut b, &gb),
//! ])
//! .unwrap();
//! let state = opt.state();
//! assert_eq!(state.inner[0].tensors[0].name, "w"); // muon
//! assert_eq!(state.inner[1].tensors[0].name, "b"); // adamw
//! ```

use super::table::{check_algorithm, StateTable};
use super::TensorState;
use super::{NonFinitePolicy, Optimizer, OptimizerKind, OptimizerState, Param, StepOutcome};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::hyper::{HyperValue, Hyperparameters, Range};
use crate::spec::{Args, Call, Value};
use std::collections::HashMap;

/// Words a tensor name is matched against: any name containing one of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamePatterns(pub Vec<String>);

impl NamePatterns {
    /// Whether `name` contains one of the words.
    pub fn matches(&self, name: &str) -> bool {
        self.0.iter().any(|w| name.contains(w.as_str()))
    }
}

impl HyperValue for NamePatterns {
    const KIND: &'static str = "spec_list";
    fn read(args: &Args<'_>, key: &str) -> Result<Option<Self>> {
        let Some(calls) = args.call_list(key)? else {
            return Ok(None);
        };
        calls
            .into_iter()
            .map(|c| {
                if c.positional.is_empty() && c.keywords.is_empty() {
                    Ok(c.name.clone())
                } else {
                    Err(Error::invalid(
                        &args.call().name,
                        key,
                        c.to_string(),
                        "a list of words such as [embed, head]",
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()
            .map(|w| Some(NamePatterns(w)))
    }
    fn to_value(&self) -> Value {
        Value::List(self.0.iter().map(|w| Value::Call(Call::bare(w))).collect())
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.0
                .iter()
                .map(|w| serde_json::Value::String(w.clone()))
                .collect(),
        )
    }
    fn check(&self, _owner: &str, _key: &str, _range: &Range) -> Result<()> {
        Ok(())
    }
}

crate::hyperparameters! {
    /// Hyperparameters of [`Partition`].
    pub struct PartitionConfig("partition", "routes tensors of rank >= 2 to one optimizer (Muon) and the rest to another (AdamW), as Optax's partition") {
        /// The optimizer of tensors of rank ≥ 2.
        matrices: Call = super::MuonConfig::default().to_call(), NONE;
        /// The optimizer of every other tensor.
        rest: Call = super::AdamWConfig::default().to_call(), NONE;
        /// Tensors whose name contains one of these words go to `rest` whatever their rank.
        rest_names: NamePatterns = NamePatterns::default(), NONE;
    }
}

/// Which member steps a tensor (the partition's per-tensor scalar).
const MATRICES: f64 = 0.0;
const REST: f64 = 1.0;

/// Two optimizers over one set of tensors: see the [module docs](self).
pub struct Partition<T: Float> {
    rest_names: NamePatterns,
    matrices: Box<dyn Optimizer<T>>,
    rest: Box<dyn Optimizer<T>>,
    /// The members' learning rates when built: [`Optimizer::set_lr`] keeps their ratio.
    base_lr: (f64, f64),
    /// Each tensor's group (its one scalar), the policy and the skip counter.
    table: StateTable<T>,
    /// Each tensor's shape when it was last stepped (not checkpointed: after a load
    /// the members check their own tensors' shapes).
    shapes: HashMap<String, Vec<usize>>,
    resolved: Vec<usize>,
}

impl<T: Float> Partition<T> {
    /// Builds both members from their specs.
    pub fn new(config: PartitionConfig) -> Result<Self> {
        config.validate()?;
        let member = |call: &Call| -> Result<Box<dyn Optimizer<T>>> {
            let mut opt = super::build_from_call::<T>(call)?;
            if opt.kind() == OptimizerKind::Closure {
                return Err(Error::invalid(
                    PartitionConfig::NAME,
                    "matrices/rest",
                    call.to_string(),
                    "an optimizer that steps from gradients (closure optimizers such as lbfgs \
                     need every tensor)",
                ));
            }
            // The partition applies the policy once, before either member steps.
            opt.set_nonfinite_policy(NonFinitePolicy::Propagate);
            Ok(opt)
        };
        let matrices = member(&config.matrices)?;
        let rest = member(&config.rest)?;
        Ok(Partition {
            rest_names: config.rest_names,
            base_lr: (matrices.lr(), rest.lr()),
            matrices,
            rest,
            table: StateTable::default(),
            shapes: HashMap::new(),
            resolved: Vec::new(),
        })
    }

    /// The group a new tensor goes to.
    fn route(&self, p: &Param<'_, T>) -> f64 {
        if p.shape.len() >= 2 && !self.rest_names.matches(p.name) {
            MATRICES
        } else {
            REST
        }
    }
}

impl<T: Float> std::fmt::Debug for Partition<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.spec())
    }
}

/// A reborrow of `p`, for handing to a member.
fn reborrow<'s, T>(p: &'s mut Param<'_, T>) -> Param<'s, T> {
    Param {
        name: p.name,
        value: &mut *p.value,
        grad: p.grad,
        shape: p.shape,
    }
}

impl<T: Float> Optimizer<T> for Partition<T> {
    fn name(&self) -> &'static str {
        PartitionConfig::NAME
    }

    fn kind(&self) -> OptimizerKind {
        OptimizerKind::Tensor
    }

    fn spec(&self) -> Call {
        PartitionConfig {
            matrices: self.matrices.spec(),
            rest: self.rest.spec(),
            rest_names: self.rest_names.clone(),
        }
        .to_call()
    }

    fn step(&mut self, params: &mut [Param<'_, T>]) -> Result<StepOutcome> {
        let shapes = &self.shapes;
        self.table.resolve(params, &mut self.resolved, |p, _| {
            let dims = p.dims();
            match shapes.get(p.name) {
                Some(was) if *was != dims => Err(Error::StateMismatch(format!(
                    "tensor '{}' has shape {dims:?}, but partition routed it with shape {was:?}",
                    p.name
                ))),
                _ => Ok(()),
            }
        })?;
        if !self.table.admit(params, &self.resolved)? {
            return Ok(StepOutcome::Skipped);
        }
        let groups: Vec<f64> = params
            .iter()
            .zip(&self.resolved)
            .map(|(p, &idx)| match self.table.tensors.get(idx) {
                Some(t) => t.scalars[0],
                None => self.route(p),
            })
            .collect();
        let (mut m, mut r) = (Vec::new(), Vec::new());
        for (p, &g) in params.iter_mut().zip(&groups) {
            if g == MATRICES {
                m.push(reborrow(p));
            } else {
                r.push(reborrow(p));
            }
        }
        // `matrices` first: its refusals (Muon's of a 3-D tensor) then change nothing.
        if !m.is_empty() {
            self.matrices.step(&mut m)?;
        }
        if !r.is_empty() {
            self.rest.step(&mut r)?;
        }
        for (i, p) in params.iter().enumerate() {
            let idx = match self.resolved[i] {
                super::table::NEW => self.table.insert(TensorState {
                    name: p.name.to_string(),
                    scalars: vec![groups[i]],
                    ..Default::default()
                }),
                idx => idx,
            };
            self.table.tensors[idx].step += 1;
            if !self.shapes.contains_key(p.name) {
                self.shapes.insert(p.name.to_string(), p.dims());
            }
        }
        Ok(StepOutcome::Applied)
    }

    fn lr(&self) -> f64 {
        self.matrices.lr()
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        super::check_nonneg(PartitionConfig::NAME, "lr", lr)?;
        let (m0, r0) = self.base_lr;
        let rest_lr = if m0 > 0.0 { r0 * (lr / m0) } else { lr };
        self.matrices.set_lr(lr)?;
        self.rest.set_lr(rest_lr)
    }

    fn momentum(&self) -> Option<f64> {
        self.matrices.momentum().or_else(|| self.rest.momentum())
    }

    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        if self.momentum().is_none() {
            return Err(Error::Unsupported(format!(
                "neither {} nor {} has a momentum to set (momentum={momentum})",
                self.matrices.name(),
                self.rest.name()
            )));
        }
        if self.matrices.momentum().is_some() {
            self.matrices.set_momentum(momentum)?;
        }
        if self.rest.momentum().is_some() {
            self.rest.set_momentum(momentum)?;
        }
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

    fn state(&self) -> OptimizerState<T> {
        OptimizerState {
            algorithm: PartitionConfig::NAME.to_string(),
            spec: self.spec().to_string(),
            slot_names: Vec::new(),
            nonfinite: self.table.policy,
            skipped: self.table.skipped,
            tensors: self.table.tensors.clone(),
            globals: Vec::new(),
            inner: vec![self.matrices.state(), self.rest.state()],
        }
    }

    fn load_state(&mut self, mut state: OptimizerState<T>) -> Result<()> {
        let config = PartitionConfig::from_call(&check_algorithm(&state, PartitionConfig::NAME)?)?;
        if state.inner.len() != 2 {
            return Err(Error::StateMismatch(format!(
                "partition keeps the states of its 2 members, but the state has {}",
                state.inner.len()
            )));
        }
        if let Some(t) = state
            .tensors
            .iter()
            .find(|t| !matches!(t.scalars.first(), Some(&g) if g == MATRICES || g == REST))
        {
            return Err(Error::StateMismatch(format!(
                "partition's record of tensor '{}' needs its group (0 or 1)",
                t.name
            )));
        }
        let mut fresh = Partition::<T>::new(config)?;
        let rest = state.inner.pop().expect("two members");
        let matrices = state.inner.pop().expect("two members");
        fresh.matrices.load_state(matrices)?;
        fresh.rest.load_state(rest)?;
        // The members' own policies stay Propagate; the loaded one is the partition's.
        fresh
            .matrices
            .set_nonfinite_policy(NonFinitePolicy::Propagate);
        fresh.rest.set_nonfinite_policy(NonFinitePolicy::Propagate);
        fresh.table.load(&mut state, 1)?;
        *self = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::build;

    fn partition(spec: &str) -> Box<dyn Optimizer<f64>> {
        build::<f64>(spec).unwrap()
    }

    /// Steps `opt` on a 2 × 3 matrix `w`, a vector `b` and a 2 × 2 `embed` once.
    fn step(
        opt: &mut dyn Optimizer<f64>,
        w: &mut [f64],
        b: &mut [f64],
        e: &mut [f64],
    ) -> Result<StepOutcome> {
        let gw = [0.1, -0.2, 0.3, 0.0, 0.1, 0.2];
        let gb = [1.0, -1.0];
        let ge = [0.5, 0.25, -0.5, 1.0];
        opt.step(&mut [
            Param::with_shape("w", w, &gw, &[2, 3]),
            Param::new("b", b, &gb),
            Param::with_shape("embed", e, &ge, &[2, 2]),
        ])
    }

    #[test]
    fn routes_by_rank_and_name_exactly_as_the_members_alone() {
        let mut opt =
            partition("partition(matrices=muon(lr=0.02), rest=adamw(lr=0.01), rest_names=[emb])");
        let (mut w, mut b, mut e) = (vec![1.0; 6], vec![0.0; 2], vec![0.5; 4]);
        for _ in 0..3 {
            step(opt.as_mut(), &mut w, &mut b, &mut e).unwrap();
        }
        // The same steps through the members alone.
        let mut muon = build::<f64>("muon(lr=0.02)").unwrap();
        let mut adamw = build::<f64>("adamw(lr=0.01)").unwrap();
        let (mut w2, mut b2, mut e2) = (vec![1.0; 6], vec![0.0; 2], vec![0.5; 4]);
        for _ in 0..3 {
            let gw = [0.1, -0.2, 0.3, 0.0, 0.1, 0.2];
            muon.step(&mut [Param::with_shape("w", &mut w2, &gw, &[2, 3])])
                .unwrap();
            let (gb, ge) = ([1.0, -1.0], [0.5, 0.25, -0.5, 1.0]);
            adamw
                .step(&mut [
                    Param::new("b", &mut b2, &gb),
                    Param::with_shape("embed", &mut e2, &ge, &[2, 2]),
                ])
                .unwrap();
        }
        assert_eq!((w, b, e), (w2, b2, e2));
        let s = opt.state();
        assert_eq!(s.inner.len(), 2);
        assert_eq!(
            s.inner[0]
                .tensors
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["w"]
        );
        assert_eq!(
            s.inner[1]
                .tensors
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["b", "embed"]
        );
    }

    #[test]
    fn spec_state_and_lr_round_trip() {
        let spec = "partition(matrices=muon(lr=0.02), rest=adamw(lr=0.01), rest_names=[head])";
        let mut opt = partition(spec);
        let again = partition(&opt.spec().to_string());
        assert_eq!(again.spec(), opt.spec());
        // A schedule halves both groups.
        opt.set_lr(0.01).unwrap();
        assert_eq!(opt.lr(), 0.01);
        assert!(
            opt.spec().to_string().contains("adamw(lr=0.005"),
            "{}",
            opt.spec()
        );
        let (mut w, mut b, mut e) = (vec![1.0; 6], vec![0.0; 2], vec![0.5; 4]);
        step(opt.as_mut(), &mut w, &mut b, &mut e).unwrap();
        let mut back = partition(spec);
        back.load_state(opt.state()).unwrap();
        assert_eq!(back.state(), opt.state());
        let (mut w2, mut b2, mut e2) = (w.clone(), b.clone(), e.clone());
        step(opt.as_mut(), &mut w, &mut b, &mut e).unwrap();
        step(back.as_mut(), &mut w2, &mut b2, &mut e2).unwrap();
        assert_eq!((w, b, e), (w2, b2, e2));
        let mut bad = opt.state();
        bad.inner.pop();
        assert!(partition(spec)
            .load_state(bad)
            .unwrap_err()
            .to_string()
            .contains("2 members"));
    }

    #[test]
    fn refusals_and_skips_change_nothing() {
        let mut opt = partition("partition");
        let (mut w, mut b, mut e) = (vec![1.0; 6], vec![0.0; 2], vec![0.5; 4]);
        step(opt.as_mut(), &mut w, &mut b, &mut e).unwrap();
        let before = (opt.state(), w.clone(), b.clone());
        // A NaN in the rest group: refused before the matrices move.
        let gb = [f64::NAN, 0.0];
        let gw = [0.1; 6];
        let err = opt
            .step(&mut [
                Param::with_shape("w", &mut w, &gw, &[2, 3]),
                Param::new("b", &mut b, &gb),
            ])
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonFiniteGradient {
                    index: 0,
                    step: 2,
                    ..
                }
            ),
            "{err}"
        );
        // A 3-D tensor goes to muon, which refuses it.
        let mut t = vec![0.0; 8];
        let err = opt
            .step(&mut [
                Param::with_shape("w", &mut w, &gw, &[2, 3]),
                Param::with_shape("conv", &mut t, &[0.1; 8], &[2, 2, 2]),
            ])
            .unwrap_err();
        assert!(
            err.to_string().contains("'conv' has shape [2, 2, 2]"),
            "{err}"
        );
        // A reshaped tensor.
        let err = opt
            .step(&mut [Param::with_shape("w", &mut w, &gw, &[3, 2])])
            .unwrap_err();
        assert!(
            err.to_string().contains("routed it with shape [2, 3]"),
            "{err}"
        );
        assert_eq!((opt.state(), w.clone(), b.clone()), before);
        opt.set_nonfinite_policy(NonFinitePolicy::Skip);
        let out = opt.step(&mut [
            Param::with_shape("w", &mut w, &gw, &[2, 3]),
            Param::new("b", &mut b, &gb),
        ]);
        assert_eq!(
            (out.unwrap(), opt.skipped_steps()),
            (StepOutcome::Skipped, 1)
        );
        assert!(build::<f64>("partition(rest=lbfgs)")
            .unwrap_err()
            .to_string()
            .contains("closure"));
    }
}
