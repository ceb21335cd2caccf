//! The sphere function in n dimensions.

use super::c;
use crate::error::ProblemError;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// The sphere function, f(x) = Σᵢ xᵢ², for n ≥ 1: the best-conditioned bowl.
///
/// Global minimum f = 0 at x = 0. Default start: (1, …, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sphere {
    dim: usize,
}

impl Sphere {
    /// The n-dimensional sphere; `dim` must be at least 1.
    pub fn new(dim: usize) -> Result<Self, ProblemError> {
        if dim == 0 {
            return Err(ProblemError::InvalidDim {
                problem: "sphere".into(),
                got: dim,
                expected: "at least 1".into(),
            });
        }
        Ok(Sphere { dim })
    }
}

impl Default for Sphere {
    fn default() -> Self {
        Sphere { dim: 2 }
    }
}

impl<T: Float> Objective<T> for Sphere {
    fn name(&self) -> String {
        "sphere".into()
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn start(&self) -> Vec<T> {
        vec![T::one(); self.dim]
    }
    fn value(&self, x: &[T]) -> T {
        x.iter().map(|&v| v * v).sum()
    }
    fn gradient(&self, x: &[T], grad: &mut [T]) -> T {
        for (g, &v) in grad.iter_mut().zip(x) {
            *g = c::<T>(2.0) * v;
        }
        self.value(x)
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        Some((vec![vec![0.0; self.dim]], 0.0))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Sphere {
    fn hessian(&self, _x: &[T], h: &mut [T]) {
        let n = self.dim;
        h.iter_mut().for_each(|v| *v = T::zero());
        for i in 0..n {
            h[i * n + i] = c(2.0);
        }
    }
}
