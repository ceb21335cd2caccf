//! The Rosenbrock function in n dimensions.

use super::c;
use crate::error::ProblemError;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// The (extended) Rosenbrock function,
/// f(x) = Σᵢ₌₀ⁿ⁻² [100·(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²], for n ≥ 2.
///
/// Global minimum f = 0 at x = (1, …, 1), at the end of a long curved valley.
/// Default start: (−1.5, 2) in 2-D; (−1.2, 1, −1.2, 1, …) otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rosenbrock {
    dim: usize,
}

impl Rosenbrock {
    /// The n-dimensional Rosenbrock function; `dim` must be at least 2.
    pub fn new(dim: usize) -> Result<Self, ProblemError> {
        if dim < 2 {
            return Err(ProblemError::InvalidDim {
                problem: "rosenbrock".into(),
                got: dim,
                expected: "at least 2".into(),
            });
        }
        Ok(Rosenbrock { dim })
    }
}

impl Default for Rosenbrock {
    fn default() -> Self {
        Rosenbrock { dim: 2 }
    }
}

impl<T: Float> Objective<T> for Rosenbrock {
    fn name(&self) -> String {
        "rosenbrock".into()
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn start(&self) -> Vec<T> {
        if self.dim == 2 {
            return vec![c(-1.5), c(2.0)];
        }
        (0..self.dim)
            .map(|i| if i % 2 == 0 { c(-1.2) } else { c(1.0) })
            .collect()
    }
    fn value(&self, x: &[T]) -> T {
        x.windows(2)
            .map(|w| {
                let a = w[1] - w[0] * w[0];
                let b = c::<T>(1.0) - w[0];
                c::<T>(100.0) * a * a + b * b
            })
            .sum()
    }
    fn gradient(&self, x: &[T], grad: &mut [T]) -> T {
        grad.iter_mut().for_each(|g| *g = T::zero());
        let mut f = T::zero();
        for i in 0..self.dim - 1 {
            let a = x[i + 1] - x[i] * x[i];
            let b = c::<T>(1.0) - x[i];
            f = f + c::<T>(100.0) * a * a + b * b;
            grad[i] = grad[i] - c::<T>(400.0) * x[i] * a - c::<T>(2.0) * b;
            grad[i + 1] = grad[i + 1] + c::<T>(200.0) * a;
        }
        f
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        Some((vec![vec![1.0; self.dim]], 0.0))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Rosenbrock {
    fn hessian(&self, x: &[T], h: &mut [T]) {
        let n = self.dim;
        h.iter_mut().for_each(|v| *v = T::zero());
        for i in 0..n - 1 {
            let (xi, xj) = (x[i], x[i + 1]);
            h[i * n + i] =
                h[i * n + i] + c::<T>(1200.0) * xi * xi - c::<T>(400.0) * xj + c::<T>(2.0);
            let off = c::<T>(-400.0) * xi;
            h[i * n + i + 1] = h[i * n + i + 1] + off;
            h[(i + 1) * n + i] = h[(i + 1) * n + i] + off;
            h[(i + 1) * n + i + 1] = h[(i + 1) * n + i + 1] + c::<T>(200.0);
        }
    }
}
