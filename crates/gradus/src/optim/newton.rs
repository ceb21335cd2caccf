//! Newton's method: `θ ← θ − lr·H⁻¹·g`, computed by solving `H·d = g`.
//!
//! # Update rule
//! ```text
//! solve H(θ_t)·d_t = ∇f(θ_t)      (LU factorization with partial pivoting)
//! θ_{t+1} = θ_t − lr·d_t
//! ```
//! Default `lr=1.0` (the pure Newton step; `lr < 1` damps it). The inverse is never
//! formed: the system is solved by LU decomposition with partial pivoting (nalgebra).
//!
//! # Singular and indefinite Hessians
//! * A singular Hessian (a zero pivot, or a solution that is not finite) is an
//!   error, [`crate::Error::Newton`], and the parameters are left unchanged.
//! * An indefinite Hessian is accepted: Newton's method then heads for the stationary
//!   point of the local quadratic model, which may be a saddle or a maximum. On the
//!   saddle `x² − y²` one step from anywhere lands exactly on the saddle point (0, 0),
//!   which is the textbook behaviour the second tutorial warns about.
//!   [`Newton::is_positive_definite`] tells a caller whether the step is a descent
//!   direction (a Cholesky factorization succeeds).
//!
//! Newton's method is not in torch.optim. Its reference is any numerical analysis
//! text, e.g. Nocedal & Wright, *Numerical Optimization*, 2nd ed., ch. 3.
//!
//! ```
//! use gradus::optim::{Newton, NewtonConfig};
//! // One Newton step solves a quadratic bowl f = 50·x² + y²: H = diag(100, 2).
//! let mut newton = Newton::new(NewtonConfig::default()).unwrap();
//! let mut x = [1.5f64, 10.0];
//! let g = [100.0 * x[0], 2.0 * x[1]];
//! newton.step_dense(&mut x, &g, &[100.0, 0.0, 0.0, 2.0]).unwrap();
//! assert_eq!(x, [0.0, 0.0]);
//! ```

use super::{
    check_nonneg, Closure, NonFinitePolicy, Optimizer, OptimizerKind, OptimizerState, Param,
    StepOutcome, TensorState,
};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::spec::Call;
use nalgebra::{DMatrix, DVector};

crate::hyperparameters! {
    /// Hyperparameters of [`Newton`].
    #[derive(Copy)]
    pub struct NewtonConfig("newton", "damped Newton step solving H·d = g (problems with a Hessian only)") {
        /// Step size: 1 is the pure Newton step, below 1 damps it.
        lr: f64 = 1.0, NONNEG;
    }
}

/// Newton's method on one parameter vector with a dense Hessian.
///
/// As an [`Optimizer`] it is a closure optimizer: [`Optimizer::step_with`] takes the
/// gradient from the params and asks the [`Closure`] for the Hessian of all
/// parameters, flattened in order.
#[derive(Debug, Clone)]
pub struct Newton {
    config: NewtonConfig,
    steps: u64,
    policy: NonFinitePolicy,
    skipped: u64,
}

impl Newton {
    /// A Newton optimizer with a validated config.
    pub fn new(config: NewtonConfig) -> Result<Self> {
        config.validate()?;
        Ok(Newton {
            config,
            steps: 0,
            policy: NonFinitePolicy::default(),
            skipped: 0,
        })
    }

    /// The config.
    pub fn config(&self) -> &NewtonConfig {
        &self.config
    }

    /// The step size.
    pub fn lr(&self) -> f64 {
        self.config.lr
    }

    /// Sets the step size (schedules call this).
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        check_nonneg("newton", "lr", lr)?;
        self.config.lr = lr;
        Ok(())
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Sets the step counter (when resuming from a checkpoint).
    pub fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
    }

    /// Whether the symmetric matrix `hessian` (row-major, n×n) is positive definite.
    pub fn is_positive_definite<T: Float>(hessian: &[T], n: usize) -> bool {
        let h = DMatrix::from_fn(n, n, |i, j| hessian[i * n + j].f64());
        h.cholesky().is_some()
    }

    /// One step: solves `hessian · d = grad` and sets `x ← x − lr·d`.
    ///
    /// `hessian` is row-major `n×n` with `n = x.len()`. The solve runs in `f64`.
    pub fn step_dense<T: Float>(&mut self, x: &mut [T], grad: &[T], hessian: &[T]) -> Result<()> {
        let n = x.len();
        if grad.len() != n {
            return Err(Error::LengthMismatch {
                name: "x".into(),
                params: n,
                grads: grad.len(),
            });
        }
        if hessian.len() != n * n {
            return Err(Error::Newton(format!(
                "Hessian has {} entries, expected {n}×{n} = {}",
                hessian.len(),
                n * n
            )));
        }
        let step = self.steps + 1;
        if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
            return Err(Error::NonFiniteGradient {
                name: "x".into(),
                index: i,
                step,
            });
        }
        if hessian.iter().any(|h| !h.is_finite()) {
            return Err(Error::Newton(format!(
                "the Hessian is not finite on step {step}"
            )));
        }
        let h = DMatrix::from_fn(n, n, |i, j| hessian[i * n + j].f64());
        let g = DVector::from_fn(n, |i, _| grad[i].f64());
        let d = h
            .lu()
            .solve(&g)
            .filter(|d| d.iter().all(|v| v.is_finite()))
            .ok_or_else(|| {
                Error::Newton(format!(
                    "the Hessian is singular on step {step}: H·d = g has no unique solution"
                ))
            })?;
        let lr = self.config.lr;
        for (xi, di) in x.iter_mut().zip(d.iter()) {
            *xi = T::of(xi.f64() - lr * di);
        }
        self.steps = step;
        Ok(())
    }
}

/// The largest number of parameters Newton's method takes: its dense Hessian has n²
/// entries (2048² doubles are 32 MiB) and each step solves it in O(n³).
pub const MAX_NEWTON_DIM: usize = 2048;

impl<T: Float> Optimizer<T> for Newton {
    fn name(&self) -> &'static str {
        "newton"
    }

    fn kind(&self) -> OptimizerKind {
        OptimizerKind::Closure
    }

    fn spec(&self) -> Call {
        self.config.to_call()
    }

    fn step(&mut self, _params: &mut [Param<'_, T>]) -> Result<StepOutcome> {
        Err(Error::Unsupported(
            "newton needs the Hessian: step it with step_with and a Closure that provides one"
                .into(),
        ))
    }

    fn step_with(
        &mut self,
        params: &mut [Param<'_, T>],
        closure: &mut dyn Closure<T>,
    ) -> Result<StepOutcome> {
        let n: usize = params.iter().map(|p| p.value.len()).sum();
        if n > MAX_NEWTON_DIM {
            return Err(Error::Unsupported(format!(
                "newton keeps a dense {n}×{n} Hessian; it takes at most {MAX_NEWTON_DIM} parameters \
                 (use lbfgs for larger problems)"
            )));
        }
        for p in params.iter() {
            p.check_shape()?;
            if p.grad.len() != p.value.len() {
                return Err(Error::LengthMismatch {
                    name: p.name.to_string(),
                    params: p.value.len(),
                    grads: p.grad.len(),
                });
            }
        }
        if self.policy != NonFinitePolicy::Propagate {
            if let Some((p, i)) = params
                .iter()
                .find_map(|p| p.grad.iter().position(|g| !g.is_finite()).map(|i| (p, i)))
            {
                if self.policy == NonFinitePolicy::Skip {
                    self.skipped += 1;
                    return Ok(StepOutcome::Skipped);
                }
                return Err(Error::NonFiniteGradient {
                    name: p.name.to_string(),
                    index: i,
                    step: self.steps + 1,
                });
            }
        }
        let mut hessian = vec![T::zero(); n * n];
        let values: Vec<&[T]> = params.iter().map(|p| &*p.value).collect();
        if !closure.hessian(&values, &mut hessian)? {
            return Err(Error::Unsupported(
                "newton needs second derivatives, which this problem does not provide; use a \
                 first-order optimizer or lbfgs"
                    .into(),
            ));
        }
        let mut x: Vec<T> = values.iter().flat_map(|v| v.iter().copied()).collect();
        let g: Vec<T> = params.iter().flat_map(|p| p.grad.iter().copied()).collect();
        self.step_dense(&mut x, &g, &hessian)?;
        let mut k = 0;
        for p in params.iter_mut() {
            let len = p.value.len();
            p.value.copy_from_slice(&x[k..k + len]);
            k += len;
        }
        Ok(StepOutcome::Applied)
    }

    fn lr(&self) -> f64 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f64) -> Result<()> {
        Newton::set_lr(self, lr)
    }

    fn nonfinite_policy(&self) -> NonFinitePolicy {
        self.policy
    }

    fn set_nonfinite_policy(&mut self, policy: NonFinitePolicy) {
        self.policy = policy;
    }

    fn skipped_steps(&self) -> u64 {
        self.skipped
    }

    /// One entry, `newton`, whose step count is the steps taken (Newton keeps no buffers).
    fn state(&self) -> OptimizerState<T> {
        OptimizerState {
            algorithm: "newton".into(),
            spec: self.config.to_call().to_string(),
            slot_names: Vec::new(),
            nonfinite: self.policy,
            skipped: self.skipped,
            tensors: vec![TensorState {
                name: "newton".into(),
                step: self.steps,
                slots: Vec::new(),
                scalars: Vec::new(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()> {
        if state.algorithm != "newton" {
            return Err(Error::StateMismatch(format!(
                "state is for '{}' but the optimizer is 'newton'",
                state.algorithm
            )));
        }
        let config = NewtonConfig::from_call(&crate::spec::parse(&state.spec)?)?;
        let steps = match state.tensors.as_slice() {
            [] => 0,
            [t] if t.name == "newton" && t.slots.is_empty() => t.step,
            _ => {
                return Err(Error::StateMismatch(
                    "newton state: expected one entry 'newton' with no buffers".into(),
                ))
            }
        };
        self.config = config;
        self.steps = steps;
        self.policy = state.nonfinite;
        self.skipped = state.skipped;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosh_follows_the_closed_form() {
        // f = cosh(x/2): f' = sinh(x/2)/2, f'' = cosh(x/2)/4, so the Newton step is
        // x − 2·tanh(x/2) = x − tanh(0.5·x)/0.5, the second tutorial's iteration.
        let mut newton = Newton::new(NewtonConfig::default()).unwrap();
        let mut x = [10.0f64];
        let mut want = 10.0f64;
        for _ in 0..10 {
            let g = [(0.5 * x[0]).sinh() * 0.5];
            let h = [(0.5 * x[0]).cosh() * 0.25];
            newton.step_dense(&mut x, &g, &h).unwrap();
            want -= (0.5 * want).tanh() / 0.5;
            assert!(
                (x[0] - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{} vs {want}",
                x[0]
            );
        }
        assert!(x[0].abs() < 1e-10);
    }

    #[test]
    fn singular_hessian_is_an_error_and_changes_nothing() {
        let mut newton = Newton::new(NewtonConfig::default()).unwrap();
        let mut x = [1.0f64, 2.0];
        let err = newton
            .step_dense(&mut x, &[1.0, 1.0], &[1.0, 1.0, 1.0, 1.0])
            .unwrap_err();
        assert!(
            matches!(err, Error::Newton(ref m) if m.contains("singular")),
            "{err}"
        );
        assert_eq!(x, [1.0, 2.0]);
        assert_eq!(newton.steps(), 0);
    }

    #[test]
    fn saddle_goes_to_the_stationary_point() {
        // f = x² − y²: H = diag(2, −2) is indefinite; one step lands on (0, 0).
        let h = [2.0f64, 0.0, 0.0, -2.0];
        assert!(!Newton::is_positive_definite(&h, 2));
        let mut newton = Newton::new(NewtonConfig::default()).unwrap();
        let mut x = [0.7f64, -0.3];
        newton.step_dense(&mut x, &[1.4, 0.6], &h).unwrap();
        assert_eq!(x, [0.0, 0.0]);
    }

    #[test]
    fn damped_step_and_validation() {
        let mut newton = Newton::new(NewtonConfig { lr: 0.5 }).unwrap();
        let mut x = [4.0f64];
        newton.step_dense(&mut x, &[8.0], &[2.0]).unwrap(); // x² : d = 4, x = 4 − 2
        assert_eq!(x, [2.0]);
        assert!(Newton::new(NewtonConfig { lr: f64::NAN }).is_err());
        assert!(newton.step_dense(&mut x, &[1.0, 2.0], &[1.0]).is_err());
        assert!(newton.step_dense(&mut x, &[1.0], &[1.0, 2.0]).is_err());
        assert!(newton.step_dense(&mut x, &[f64::NAN], &[1.0]).is_err());
        let c = NewtonConfig::from_call(&crate::spec::parse("newton(lr=0.25)").unwrap()).unwrap();
        assert_eq!(c.lr, 0.25);
        assert!(NewtonConfig::from_call(&crate::spec::parse("newton(foo=1)").unwrap()).is_err());
    }

    #[test]
    fn as_an_optimizer_it_asks_the_closure_for_the_hessian() {
        use crate::optim::{self, FnClosure};
        let mut opt = optim::build::<f64>("newton(lr=1.0)").unwrap();
        assert_eq!(opt.kind(), OptimizerKind::Closure);
        // f = 50·x² + y² over two tensors: one step lands on the minimum.
        let (mut a, mut b) = ([1.5f64], [10.0f64]);
        let (ga, gb) = ([100.0 * a[0]], [2.0 * b[0]]);
        let mut f = FnClosure::with_hessian(
            |_x: &[f64], _g: &mut [f64]| 0.0,
            |_x: &[f64], h: &mut [f64]| {
                h.copy_from_slice(&[100.0, 0.0, 0.0, 2.0]);
                true
            },
        );
        opt.step_with(
            &mut [Param::new("a", &mut a, &ga), Param::new("b", &mut b, &gb)],
            &mut f,
        )
        .unwrap();
        assert_eq!((a, b), ([0.0], [0.0]));
        let saved = opt.state();
        assert_eq!(saved.tensors[0].step, 1);
        let mut again = optim::build::<f64>("newton").unwrap();
        again.load_state(saved).unwrap();
        assert_eq!(again.spec(), opt.spec());
        // Without a Hessian, or without a closure, the step is refused and nothing changes.
        let mut none = FnClosure::new(|_x: &[f64], _g: &mut [f64]| 0.0);
        let mut x = [1.0f64];
        assert!(opt
            .step_with(&mut [Param::new("x", &mut x, &[1.0])], &mut none)
            .is_err());
        assert!(opt.step(&mut [Param::new("x", &mut x, &[1.0])]).is_err());
        assert_eq!(x, [1.0]);
    }
}
