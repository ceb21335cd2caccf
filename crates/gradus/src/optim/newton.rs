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
//! newton.step(&mut x, &g, &[100.0, 0.0, 0.0, 2.0]).unwrap();
//! assert_eq!(x, [0.0, 0.0]);
//! ```

use super::check_nonneg;
use crate::error::{Error, Result};
use crate::float::Float;
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
#[derive(Debug, Clone)]
pub struct Newton {
    config: NewtonConfig,
    steps: u64,
}

impl Newton {
    /// A Newton optimizer with a validated config.
    pub fn new(config: NewtonConfig) -> Result<Self> {
        config.validate()?;
        Ok(Newton { config, steps: 0 })
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
    pub fn step<T: Float>(&mut self, x: &mut [T], grad: &[T], hessian: &[T]) -> Result<()> {
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
            newton.step(&mut x, &g, &h).unwrap();
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
            .step(&mut x, &[1.0, 1.0], &[1.0, 1.0, 1.0, 1.0])
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
        newton.step(&mut x, &[1.4, 0.6], &h).unwrap();
        assert_eq!(x, [0.0, 0.0]);
    }

    #[test]
    fn damped_step_and_validation() {
        let mut newton = Newton::new(NewtonConfig { lr: 0.5 }).unwrap();
        let mut x = [4.0f64];
        newton.step(&mut x, &[8.0], &[2.0]).unwrap(); // x² : d = 4, x = 4 − 2
        assert_eq!(x, [2.0]);
        assert!(Newton::new(NewtonConfig { lr: f64::NAN }).is_err());
        assert!(newton.step(&mut x, &[1.0, 2.0], &[1.0]).is_err());
        assert!(newton.step(&mut x, &[1.0], &[1.0, 2.0]).is_err());
        assert!(newton.step(&mut x, &[f64::NAN], &[1.0]).is_err());
        let c = NewtonConfig::from_call(&crate::spec::parse("newton(lr=0.25)").unwrap()).unwrap();
        assert_eq!(c.lr, 0.25);
        assert!(NewtonConfig::from_call(&crate::spec::parse("newton(foo=1)").unwrap()).is_err());
    }
}
