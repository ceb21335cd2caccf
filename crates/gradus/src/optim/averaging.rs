//! Weight averaging: SWA and EMA of the parameters, as torch's
//! `torch.optim.swa_utils.AveragedModel`.
//!
//! An [`Averaging`] keeps, beside the live parameters an optimizer updates, one
//! averaged copy of every named tensor, updated after optimizer steps. The averaged
//! parameters are usually the better answer to evaluate (a wider optimum for SWA, a
//! less noisy one for EMA); they never feed back into the optimization.
//!
//! # Update rule (torch's `AveragedModel.update_parameters`)
//! With `n` the number of updates so far (torch's buffer `n_averaged`), `θ` the live
//! parameters and `θ̄` the average:
//!
//! ```text
//! n = 0:          θ̄ ← θ                                  (a copy, whatever the rule)
//! swa() n > 0:    θ̄ ← θ̄ + (θ − θ̄) / (n + 1)              get_swa_avg_fn
//! ema() n > 0:    θ̄ ← decay·θ̄ + (1 − decay)·θ           get_ema_avg_fn(decay)
//! then n ← n + 1
//! ```
//!
//! So `swa()` is the equal-weight mean of every θ it has seen, and `ema(decay)` an
//! exponential moving average that starts from the first θ (no bias correction).
//! Defaults: `decay = 0.999`, as torch's `get_ema_avg_fn`.
//!
//! Which θ are averaged: after optimizer step `t` (`t = 1, 2, …`) the average is
//! updated when `t > start` and `(t − start)` is a multiple of `every`. The defaults
//! (`start = 0, every = 1`) average after every step; torch leaves this to the loop
//! (`if epoch > swa_start: swa_model.update_parameters(model)`), which
//! `swa(start=swa_start·k, every=k)` reproduces for epochs of `k` steps.
//!
//! # Numerics (bit for bit with torch on CPU)
//! torch's default `AveragedModel(model)` (no `avg_fn`, no `multi_avg_fn`) on CPU uses
//! `get_swa_avg_fn` tensor by tensor (its foreach path, `get_swa_multi_avg_fn`, runs
//! only on devices with foreach kernels: CUDA, XPU). That is what `swa()` computes:
//! `θ − θ̄`, divided by `n + 1` (an exact division, not a multiplication by the
//! reciprocal; `n + 1` is exact in the element type below 2^24 updates for `f32`), then
//! added, each rounded to the element type. `ema(decay)` computes torch's
//! `decay * ema_param + (1 - decay) * current_param` with `decay` and `1 − decay` (a
//! double) each rounded to the element type, two products and a sum, each rounded, no
//! fused multiply-add.
//!
//! torch also offers `multi_avg_fn=get_ema_multi_avg_fn(decay)`, which calls
//! `torch._foreach_lerp_(θ̄, θ, 1 − decay)`; its vectorised kernel uses a fused
//! multiply-add and another grouping, so it differs from `get_ema_avg_fn` in the last
//! bits (on the fixture of `tools/averaging_fixtures.py`: up to 2.3e-13 relative in
//! f64, 1.7e-4 in f32 for averages passing near zero; `tests/averaging_torch.rs`). gradus follows `get_ema_avg_fn`, the function the
//! torch documentation pairs with `AveragedModel(avg_fn=...)`. Buffers
//! (`use_buffers=True`: batch-norm statistics) do not exist here: only the parameters
//! handed to [`Averaging::update`] are averaged.
//!
//! # References
//! Izmailov, Podoprikhin, Garipov, Vetrov & Wilson, *Averaging Weights Leads to Wider
//! Optima and Better Generalization*, UAI 2018, arXiv:1803.05407 (SWA). Polyak &
//! Juditsky 1992 (iterate averaging). The paper averages once per epoch of a cyclic or
//! constant lr (`every`, and the `swa_lr` schedule); EMA of the weights is the
//! "Polyak averaging" of e.g. Tarvainen & Valpola 2017 (mean teacher).
//!
//! ```
//! use gradus::optim::Averaging;
//! let mut avg = Averaging::<f64>::build("swa()").unwrap();
//! for t in 1..=4 {
//!     let w = [t as f64, -(t as f64)];
//!     avg.update(&[("w", &w[..], &[2][..])]).unwrap();
//! }
//! assert_eq!(avg.n_averaged(), 4);
//! assert_eq!(avg.get("w").unwrap(), &[2.5, -2.5]); // the mean of 1, 2, 3, 4
//!
//! let mut ema = Averaging::<f64>::build("ema(decay=0.5)").unwrap();
//! ema.update(&[("w", &[4.0][..], &[][..])]).unwrap(); // the first update copies
//! ema.update(&[("w", &[0.0][..], &[][..])]).unwrap();
//! assert_eq!(ema.get("w").unwrap(), &[2.0]);
//! ```

use crate::checkpoint::{Checkpoint, Tensor};
use crate::error::{Error, Result};
use crate::float::{DType, Float};
use crate::hyper::{Algorithm, Hyperparameters};
use crate::spec::Call;
use std::collections::HashMap;

crate::hyperparameters! {
    /// Hyperparameters of `swa()`: the equal-weight running mean of the parameters.
    #[derive(Copy)]
    pub struct SwaConfig("swa", "stochastic weight averaging: the equal-weight mean of the parameters (torch AveragedModel with get_swa_avg_fn; Izmailov et al. 2018)") {
        /// Optimizer steps before the first update of the average.
        start: u64 = 0, NONNEG;
        /// Update the average after every `every`-th step from `start` on.
        every: u64 = 1, at_least(1.0);
    }
}

crate::hyperparameters! {
    /// Hyperparameters of `ema()`: an exponential moving average of the parameters.
    #[derive(Copy)]
    pub struct EmaConfig("ema", "exponential moving average of the parameters: avg = decay*avg + (1 - decay)*param (torch AveragedModel with get_ema_avg_fn)") {
        /// Weight of the old average in each update.
        decay: f64 = 0.999, UNIT;
        /// Optimizer steps before the first update of the average.
        start: u64 = 0, NONNEG;
        /// Update the average after every `every`-th step from `start` on.
        every: u64 = 1, at_least(1.0);
    }
}

/// The averaging rule: `swa()` or `ema(decay)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AveragingRule {
    /// Equal-weight running mean (torch's `get_swa_avg_fn`).
    Swa(SwaConfig),
    /// Exponential moving average (torch's `get_ema_avg_fn(decay)`).
    Ema(EmaConfig),
}

impl AveragingRule {
    /// Reads `swa(...)` or `ema(...)`, validated.
    pub fn from_call(call: &Call) -> Result<Self> {
        match call.name.as_str() {
            "swa" => Ok(AveragingRule::Swa(SwaConfig::from_call(call)?)),
            "ema" => Ok(AveragingRule::Ema(EmaConfig::from_call(call)?)),
            other => Err(Error::UnknownName {
                kind: "weight averaging",
                name: other.to_string(),
                valid: vec!["swa".into(), "ema".into()],
            }),
        }
    }

    /// The rule as a spec call that [`AveragingRule::from_call`] reads back.
    pub fn to_call(&self) -> Call {
        match self {
            AveragingRule::Swa(c) => c.to_call(),
            AveragingRule::Ema(c) => c.to_call(),
        }
    }

    /// `(start, every)`.
    fn cadence(&self) -> (u64, u64) {
        match self {
            AveragingRule::Swa(c) => (c.start, c.every),
            AveragingRule::Ema(c) => (c.start, c.every),
        }
    }
}

/// Every averaging rule with its hyperparameter table (kind `averaging`), for
/// `gradus list` and the catalog.
pub fn catalog() -> Vec<Algorithm> {
    vec![
        SwaConfig::algorithm("averaging"),
        EmaConfig::algorithm("averaging"),
    ]
}

/// One averaged tensor.
#[derive(Debug, Clone, PartialEq)]
struct Averaged<T> {
    name: String,
    shape: Vec<usize>,
    values: Vec<T>,
}

/// The averaged copy of a set of named tensors: see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct Averaging<T> {
    rule: AveragingRule,
    /// torch's `n_averaged`: updates of the average so far.
    n_averaged: u64,
    /// Optimizer steps seen by [`Averaging::after_step`] (for `start` and `every`).
    steps: u64,
    tensors: Vec<Averaged<T>>,
    index: HashMap<String, usize>,
}

impl<T: Float> Averaging<T> {
    /// An empty average following `rule`.
    pub fn new(rule: AveragingRule) -> Self {
        Averaging {
            rule,
            n_averaged: 0,
            steps: 0,
            tensors: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// From a spec call, `swa()` or `ema(decay=0.99)`.
    pub fn from_call(call: &Call) -> Result<Self> {
        Ok(Self::new(AveragingRule::from_call(call)?))
    }

    /// From a spec string, `swa()` or `ema(decay=0.99)`.
    pub fn build(spec: &str) -> Result<Self> {
        Self::from_call(&crate::spec::parse(spec)?)
    }

    /// The rule.
    pub fn rule(&self) -> AveragingRule {
        self.rule
    }

    /// The rule as a spec call.
    pub fn spec(&self) -> Call {
        self.rule.to_call()
    }

    /// torch's `n_averaged`: how many times the average was updated.
    pub fn n_averaged(&self) -> u64 {
        self.n_averaged
    }

    /// Optimizer steps counted by [`Averaging::after_step`].
    pub fn steps_seen(&self) -> u64 {
        self.steps
    }

    /// The averaged values of tensor `name` (row-major), once it has been averaged.
    pub fn get(&self, name: &str) -> Option<&[T]> {
        self.index
            .get(name)
            .map(|&i| self.tensors[i].values.as_slice())
    }

    /// The averaged tensors' names, in the order of the first update.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|t| t.name.as_str())
    }

    /// The shape tensor `name` was first averaged with.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.index
            .get(name)
            .map(|&i| self.tensors[i].shape.as_slice())
    }

    /// Counts one optimizer step and, if the cadence (`start`, `every`) says so,
    /// updates the average from `tensors`. Returns whether it updated. On error
    /// nothing changes, not even the step count.
    pub fn after_step(&mut self, tensors: &[(&str, &[T], &[usize])]) -> Result<bool> {
        let t = self.steps + 1;
        let (start, every) = self.rule.cadence();
        let due = t > start && (t - start).is_multiple_of(every);
        if due {
            self.update(tensors)?;
        }
        self.steps = t;
        Ok(due)
    }

    /// torch's `update_parameters`: folds `tensors` (`(name, values, shape)`; an empty
    /// shape means a vector) into the average now, whatever the cadence. The first
    /// update copies them and fixes the set of tensors; later updates must bring the
    /// same names (in any order) with the same lengths. On error nothing changes.
    pub fn update(&mut self, tensors: &[(&str, &[T], &[usize])]) -> Result<()> {
        let slots = self.resolve(tensors)?;
        if self.n_averaged == 0 {
            self.tensors = tensors
                .iter()
                .map(|(name, v, shape)| Averaged {
                    name: name.to_string(),
                    shape: if shape.is_empty() {
                        vec![v.len()]
                    } else {
                        shape.to_vec()
                    },
                    values: v.to_vec(),
                })
                .collect();
            self.index = self
                .tensors
                .iter()
                .enumerate()
                .map(|(i, t)| (t.name.clone(), i))
                .collect();
        } else {
            match self.rule {
                AveragingRule::Swa(_) => {
                    // torch: averaged + (current - averaged) / (n_averaged + 1).
                    let n1 = T::of((self.n_averaged + 1) as f64);
                    for ((_, v, _), &i) in tensors.iter().zip(&slots) {
                        for (a, &p) in self.tensors[i].values.iter_mut().zip(v.iter()) {
                            *a = *a + (p - *a) / n1;
                        }
                    }
                }
                AveragingRule::Ema(c) => {
                    // torch: decay * ema_param + (1 - decay) * current_param.
                    let (d, e) = (T::of(c.decay), T::of(1.0 - c.decay));
                    for ((_, v, _), &i) in tensors.iter().zip(&slots) {
                        for (a, &p) in self.tensors[i].values.iter_mut().zip(v.iter()) {
                            *a = d * *a + e * p;
                        }
                    }
                }
            }
        }
        self.n_averaged += 1;
        Ok(())
    }

    /// Checks that [`Averaging::update`] would accept `tensors`, changing nothing.
    pub fn check(&self, tensors: &[(&str, &[T], &[usize])]) -> Result<()> {
        self.resolve(tensors).map(|_| ())
    }

    /// Checks `tensors` against the averaged set (names unique, shapes filling the
    /// values, and after the first update the same names and lengths); returns each
    /// one's index. Mutates nothing.
    fn resolve(&self, tensors: &[(&str, &[T], &[usize])]) -> Result<Vec<usize>> {
        let mut seen: Vec<&str> = tensors.iter().map(|t| t.0).collect();
        seen.sort_unstable();
        if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::DuplicateName(w[0].to_string()));
        }
        for (name, v, shape) in tensors {
            let n: Option<usize> = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            if !shape.is_empty() && n != Some(v.len()) {
                return Err(Error::StateMismatch(format!(
                    "averaged tensor '{name}' has shape {shape:?} but {} values",
                    v.len()
                )));
            }
        }
        if self.n_averaged == 0 {
            return Ok((0..tensors.len()).collect());
        }
        if tensors.len() != self.tensors.len() {
            let names: Vec<&str> = self.names().collect();
            return Err(Error::StateMismatch(format!(
                "the average holds tensors [{}] but {} tensors were given",
                names.join(", "),
                tensors.len()
            )));
        }
        tensors
            .iter()
            .map(|(name, v, _)| {
                let &i = self.index.get(*name).ok_or_else(|| {
                    Error::StateMismatch(format!(
                        "tensor '{name}' is not among the averaged tensors [{}]",
                        self.names().collect::<Vec<_>>().join(", ")
                    ))
                })?;
                if self.tensors[i].values.len() != v.len() {
                    return Err(Error::StateShape {
                        name: name.to_string(),
                        expected: self.tensors[i].values.len(),
                        got: v.len(),
                    });
                }
                Ok(i)
            })
            .collect()
    }

    /// Adds the average to `checkpoint`: each tensor as `<prefix>/<name>` with its
    /// shape, and `meta[prefix]` = `{spec, dtype, n_averaged, steps, order}`. `meta`
    /// must be a JSON object or null.
    pub fn to_checkpoint(&self, prefix: &str, checkpoint: &mut Checkpoint) -> Result<()> {
        for t in &self.tensors {
            checkpoint.push(Tensor::from_slice(
                &format!("{prefix}/{}", t.name),
                &t.shape,
                &t.values,
            )?)?;
        }
        let meta = serde_json::json!({
            "spec": self.spec().to_string(),
            "dtype": T::DTYPE,
            "n_averaged": self.n_averaged,
            "steps": self.steps,
            "order": self.tensors.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        });
        insert_meta(checkpoint, prefix, meta)
    }

    /// The names of the checkpoint tensors [`Averaging::to_checkpoint`] writes.
    pub fn checkpoint_tensor_names(&self, prefix: &str) -> Vec<String> {
        self.names().map(|n| format!("{prefix}/{n}")).collect()
    }

    /// Reads an average stored by [`Averaging::to_checkpoint`] under `prefix`: the
    /// spec (validated again), the counters and every tensor with its dtype and shape.
    pub fn from_checkpoint(prefix: &str, checkpoint: &Checkpoint) -> Result<Self> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Meta {
            spec: String,
            dtype: DType,
            n_averaged: u64,
            steps: u64,
            order: Vec<String>,
        }
        let bad = |m: String| Error::Checkpoint(format!("averaging state '{prefix}': {m}"));
        let value = checkpoint
            .meta
            .get(prefix)
            .ok_or_else(|| bad("missing".into()))?;
        let meta: Meta = serde_json::from_value(value.clone()).map_err(|e| bad(format!("{e}")))?;
        if meta.dtype != T::DTYPE {
            return Err(bad(format!(
                "saved in {}, but this run computes in {}",
                meta.dtype,
                T::DTYPE
            )));
        }
        if (meta.n_averaged == 0) != meta.order.is_empty() {
            return Err(bad(format!(
                "n_averaged is {} but {} tensors are stored",
                meta.n_averaged,
                meta.order.len()
            )));
        }
        let mut avg = Self::build(&meta.spec)?;
        avg.n_averaged = meta.n_averaged;
        avg.steps = meta.steps;
        for name in meta.order {
            let key = format!("{prefix}/{name}");
            let t = checkpoint
                .tensors
                .iter()
                .find(|t| t.name == key)
                .ok_or_else(|| bad(format!("tensor '{key}' is missing")))?;
            let values = t.to_vec::<T>(&t.shape)?;
            if avg.index.insert(name.clone(), avg.tensors.len()).is_some() {
                return Err(bad(format!("tensor '{name}' appears twice")));
            }
            avg.tensors.push(Averaged {
                name,
                shape: t.shape.clone(),
                values,
            });
        }
        Ok(avg)
    }
}

/// Sets `meta[key] = value` in a checkpoint whose meta is an object or null.
pub(crate) fn insert_meta(
    checkpoint: &mut Checkpoint,
    key: &str,
    value: serde_json::Value,
) -> Result<()> {
    match &mut checkpoint.meta {
        serde_json::Value::Null => {
            checkpoint.meta = serde_json::json!({ key: value });
            Ok(())
        }
        serde_json::Value::Object(m) => {
            m.insert(key.to_string(), value);
            Ok(())
        }
        _ => Err(Error::Checkpoint(
            "checkpoint meta must be a JSON object".into(),
        )),
    }
}

#[cfg(test)]
mod tests;
