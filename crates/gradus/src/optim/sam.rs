//! SAM: sharpness-aware minimization, an inner optimizer stepped with the gradient at
//! adversarially perturbed weights (pytorch-optimizer's `SAM`).
//!
//! # Update rule
//! One step (one reference `step(closure)`) takes the gradient `g` at the weights `w`
//! (the gradients in the params, computed by the caller as for every optimizer) and
//! evaluates the closure once more:
//!
//! ```text
//! n   = ‖(g_i·|w_i| if adaptive else g_i)_i‖₂ over all tensors, + perturb_eps
//! e_i = (w_i² if adaptive else 1)·gc(g_i)·rho/n      (gc: centralized when use_gc)
//! g'  = ∇f(w + e)                                     (the closure)
//! w   ← inner.step(w, g')
//! ```
//! `gc` subtracts from a tensor of two or more axes the mean over all axes but the
//! first (gradient centralization); vectors are unchanged.
//!
//! Defaults: `inner=sgd(lr=0.01, momentum=0.9), rho=0.05, adaptive=false,
//! use_gc=false, perturb_eps=1e-12` (`inner` as the issue's spec; the reference
//! requires its `base_optimizer`).
//!
//! # References
//! Foret, Kleiner, Mobahi & Neyshabur, *Sharpness-Aware Minimization for Efficiently
//! Improving Generalization*, ICLR 2021; Kwon et al., *ASAM: Adaptive Sharpness-Aware
//! Minimization*, ICML 2021 (`adaptive`). Checked against pytorch-optimizer 4.1.0.
//!
//! # Where the reference differs from the papers (gradus follows the reference)
//! * The norm `n` is computed in float32 (each tensor's norm rounded to float32, their
//!   squares summed in float32, then `sqrt`, `+ perturb_eps` and `rho/n` in float32),
//!   even for float64 parameters; gradus rounds the same way. torch's float32 `sqrt`
//!   is not always correctly rounded (on the reference machine it differs from the
//!   correctly rounded one by one float32 unit in about one case in six); gradus's is,
//!   so `rho/n` may differ by one float32 unit, which moves float64 parameters by
//!   about `lr·rho·6e-8·‖∇²f‖` (below 1e-9 relative in the fixtures).
//! * The norm uses `|w|` (ASAM's `T_w`), the perturbation `w²` (`T_w²`).
//! * With `use_gc`, the norm is of the uncentralized gradient; only the perturbation
//!   uses the centralized one.
//!
//! # Where gradus differs from the reference
//! * The inner optimizer is a spec, `inner=adam(lr=1e-3)` (the reference's
//!   `base_optimizer` class plus its keyword arguments; `base_optimizer=` is accepted
//!   too). It must step from gradients: lbfgs, newton and sam itself are refused.
//! * The reference's `foreach` (batched kernels on CUDA) is not a key: the CPU path is
//!   the one gradus computes.
//! * A non-finite gradient at `w` follows the non-finite policy before anything is
//!   perturbed; one at `w + e` is the inner optimizer's (the parameters are restored
//!   first, so an error or a skip leaves them unchanged).
//!
//! ```
//! use gradus::optim::{self, FnClosure, Param};
//! // f(x) = x², from 1: the gradient is taken at 1 + rho = 1.05, so x ← 1 − 0.1·2.1
//! let mut opt = optim::build::<f64>("sam(inner=sgd(lr=0.1), rho=0.05)").unwrap();
//! let mut f = FnClosure::new(|x: &[f64], g: &mut [f64]| {
//!     g[0] = 2.0 * x[0];
//!     x[0] * x[0]
//! });
//! let mut x = [1.0];
//! let g = [2.0];
//! opt.step_with(&mut [Param::new("x", &mut x, &g)], &mut f).unwrap();
//! assert!((x[0] - 0.79).abs() < 1e-7);
//! ```

use super::lookahead::{default_call, rename_inner};
use super::{
    Closure, NonFinitePolicy, Optimizer, OptimizerKind, OptimizerState, Param, StepOutcome,
};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::spec::Call;

fn rename_base_optimizer(call: &Call) -> Result<Call> {
    rename_inner(call, "base_optimizer")
}

crate::hyperparameters! {
    /// Hyperparameters of [`Sam`], with pytorch-optimizer's names and defaults.
    pub struct SamConfig("sam", "sharpness-aware minimization: the inner optimizer steps with the gradient at weights perturbed by rho along the normalized gradient (Foret et al. 2021; ASAM, Kwon et al. 2021)") {
        /// The inner optimizer, as a spec; it steps with the perturbed gradient.
        inner: Call = default_call("sgd", &[("lr", 0.01), ("momentum", 0.9)]), NONE;
        /// Radius of the perturbation.
        rho: f64 = 0.05, NONNEG;
        /// Scale the perturbation by the weights (ASAM).
        adaptive: bool = false, NONE;
        /// Centralize the gradients of tensors with two or more axes before perturbing.
        use_gc: bool = false, NONE;
        /// Added to the gradient norm.
        perturb_eps: f64 = 1e-12, NONNEG, log;
    }
    prepare = rename_base_optimizer;
}

/// SAM: see the [module docs](self).
#[derive(Debug)]
pub struct Sam<T: Float> {
    config: SamConfig,
    inner: Box<dyn Optimizer<T>>,
    /// Steps skipped for a non-finite gradient at the unperturbed weights.
    skipped: u64,
    /// Scratch: the unperturbed weights, and the gradient at the perturbed ones (flat).
    saved: Vec<T>,
    perturbed_grad: Vec<T>,
}

/// The scale `rho / (‖v‖₂ + perturb_eps)` of the perturbation, in float32 as the
/// reference computes it, from each tensor's norm (computed in f64).
fn perturbation_scale(norms: &[f64], rho: f64, perturb_eps: f64) -> f32 {
    let sum = norms.iter().fold(0.0f32, |s, &n| {
        let n = n as f32;
        s + n * n
    });
    let norm = sum.sqrt() + perturb_eps as f32;
    // torch's `rho / tensor` is `tensor.reciprocal() * rho`.
    (1.0 / norm) * rho as f32
}

/// The gradient centralized as the reference's `centralize_gradient`: for two or more
/// axes, each slice along the first axis minus its mean; vectors unchanged.
fn centralize<T: Float>(g: &[T], shape: &[usize], out: &mut Vec<T>) {
    out.clear();
    out.extend_from_slice(g);
    if shape.len() < 2 || shape[0] == 0 {
        return;
    }
    let row = g.len() / shape[0];
    if row == 0 {
        return;
    }
    for r in out.chunks_mut(row) {
        let mean = r.iter().fold(T::zero(), |s, v| s + *v) / T::of(row as f64);
        r.iter_mut().for_each(|v| *v = *v + (-mean));
    }
}

/// The step number of tensor `name` in an optimizer's state (searching wrapped
/// states), for error messages.
fn step_of<T>(state: &OptimizerState<T>, name: &str) -> Option<u64> {
    state
        .tensors
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.step)
        .or_else(|| state.inner.iter().find_map(|s| step_of(s, name)))
}

impl<T: Float> Sam<T> {
    /// A SAM over the inner optimizer `config.inner`, built with
    /// [`super::build_from_call`]; refuses closure optimizers as the inner one.
    pub fn new(config: SamConfig) -> Result<Self> {
        config.validate()?;
        let inner = super::build_from_call::<T>(&config.inner)?;
        if inner.kind() == OptimizerKind::Closure {
            return Err(Error::invalid(
                "sam",
                "inner",
                &config.inner,
                "an optimizer that steps from gradients (lbfgs, newton and sam re-evaluate \
                 the loss themselves)",
            ));
        }
        Ok(Sam {
            config,
            inner,
            skipped: 0,
            saved: Vec::new(),
            perturbed_grad: Vec::new(),
        })
    }

    /// The config (its `inner` as given; [`Optimizer::spec`] prints the inner
    /// optimizer's current spec).
    pub fn config(&self) -> &SamConfig {
        &self.config
    }

    /// The inner optimizer.
    pub fn inner(&self) -> &dyn Optimizer<T> {
        &*self.inner
    }
}

impl<T: Float> Optimizer<T> for Sam<T> {
    fn name(&self) -> &'static str {
        "sam"
    }

    fn kind(&self) -> OptimizerKind {
        OptimizerKind::Closure
    }

    fn spec(&self) -> Call {
        let mut c = self.config.clone();
        c.inner = self.inner.spec();
        c.to_call()
    }

    fn step(&mut self, _params: &mut [Param<'_, T>]) -> Result<StepOutcome> {
        Err(Error::Unsupported(
            "sam evaluates the gradient again at perturbed weights: step it with step_with \
             and a Closure"
                .into(),
        ))
    }

    fn step_with(
        &mut self,
        params: &mut [Param<'_, T>],
        closure: &mut dyn Closure<T>,
    ) -> Result<StepOutcome> {
        for p in params.iter() {
            p.check_shape()?;
            if p.value.len() != p.grad.len() {
                return Err(Error::LengthMismatch {
                    name: p.name.to_string(),
                    params: p.value.len(),
                    grads: p.grad.len(),
                });
            }
        }
        let policy = self.inner.nonfinite_policy();
        if policy != NonFinitePolicy::Propagate {
            let bad = params.iter().find_map(|p| {
                p.grad
                    .iter()
                    .position(|g| !g.is_finite())
                    .map(|j| (p.name, j))
            });
            if let Some((name, index)) = bad {
                if policy == NonFinitePolicy::Skip {
                    self.skipped += 1;
                    return Ok(StepOutcome::Skipped);
                }
                let step = step_of(&self.inner.state(), name).unwrap_or(0) + 1;
                return Err(Error::NonFiniteGradient {
                    name: name.to_string(),
                    index,
                    step,
                });
            }
        }
        let c = &self.config;
        let norms: Vec<f64> = params
            .iter()
            .map(|p| {
                let sq = if c.adaptive {
                    p.grad.iter().zip(p.value.iter()).fold(0.0, |s, (g, w)| {
                        let v = (*g * w.abs()).f64();
                        s + v * v
                    })
                } else {
                    p.grad.iter().fold(0.0, |s, g| s + g.f64() * g.f64())
                };
                sq.sqrt()
            })
            .collect();
        let scale = T::of(perturbation_scale(&norms, c.rho, c.perturb_eps) as f64);
        self.saved.clear();
        let mut centred = Vec::new();
        for p in params.iter_mut() {
            self.saved.extend_from_slice(p.value);
            let g: &[T] = if c.use_gc {
                centralize(p.grad, &p.dims(), &mut centred);
                &centred
            } else {
                p.grad
            };
            for (w, g) in p.value.iter_mut().zip(g) {
                let e = if c.adaptive {
                    *w * *w * *g * scale
                } else {
                    *g * scale
                };
                *w = *w + e;
            }
        }
        let n = self.saved.len();
        self.perturbed_grad.clear();
        self.perturbed_grad.resize(n, T::zero());
        let evaluated = {
            let values: Vec<&[T]> = params.iter().map(|p| &*p.value).collect();
            let mut grads = Vec::with_capacity(params.len());
            let mut rest = self.perturbed_grad.as_mut_slice();
            for p in params.iter() {
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(p.value.len());
                grads.push(head);
                rest = tail;
            }
            closure.evaluate(&values, &mut grads)
        };
        // Back to the unperturbed weights, whatever the closure did.
        let mut offset = 0;
        for p in params.iter_mut() {
            let len = p.value.len();
            p.value.copy_from_slice(&self.saved[offset..offset + len]);
            offset += len;
        }
        evaluated?;
        let mut offset = 0;
        let mut inner_params: Vec<Param<'_, T>> = params
            .iter_mut()
            .map(|p| {
                let len = p.value.len();
                let g = &self.perturbed_grad[offset..offset + len];
                offset += len;
                Param::with_shape(p.name, &mut *p.value, g, p.shape)
            })
            .collect();
        self.inner.step(&mut inner_params)
    }

    super::lookahead::delegate_to_inner!();

    fn skipped_steps(&self) -> u64 {
        self.skipped + self.inner.skipped_steps()
    }

    fn state(&self) -> OptimizerState<T> {
        let inner = self.inner.state();
        OptimizerState {
            algorithm: "sam".to_string(),
            spec: self.spec().to_string(),
            slot_names: Vec::new(),
            nonfinite: inner.nonfinite,
            skipped: self.skipped,
            tensors: Vec::new(),
            globals: Vec::new(),
            inner: vec![inner],
        }
    }

    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()> {
        if state.algorithm != "sam" {
            return Err(Error::StateMismatch(format!(
                "state is for '{}' but the optimizer is 'sam'",
                state.algorithm
            )));
        }
        if !state.tensors.is_empty() || !state.slot_names.is_empty() || !state.globals.is_empty() {
            return Err(Error::StateMismatch(
                "sam keeps no state of its own besides its inner optimizer's".into(),
            ));
        }
        let config = SamConfig::from_call(&crate::spec::parse(&state.spec)?)?;
        let mut fresh = Sam::<T>::new(config)?;
        let [inner] = <[OptimizerState<T>; 1]>::try_from(state.inner).map_err(|v| {
            Error::StateMismatch(format!(
                "sam keeps the state of one inner optimizer, the state has {}",
                v.len()
            ))
        })?;
        fresh.inner.load_state(inner)?;
        fresh.skipped = state.skipped;
        *self = fresh;
        Ok(())
    }
}
