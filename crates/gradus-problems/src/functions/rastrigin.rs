//! The Rastrigin function in n dimensions.

use super::c;
use crate::error::ProblemError;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// The Rastrigin function, f(x) = A·n + Σᵢ [xᵢ² − A·cos(2π·xᵢ)] with A = 10, for n ≥ 1:
/// a bowl covered in a regular grid of local minima (near the integers).
///
/// Global minimum f = 0 at x = 0. Default start: (2.5, …, 2.5), on a ridge between the
/// local minima near 2 and 3 in every coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rastrigin {
    dim: usize,
}

/// Rastrigin's amplitude A.
const A: f64 = 10.0;

impl Rastrigin {
    /// The n-dimensional Rastrigin function; `dim` must be at least 1.
    pub fn new(dim: usize) -> Result<Self, ProblemError> {
        if dim == 0 {
            return Err(ProblemError::InvalidDim {
                problem: "rastrigin".into(),
                got: dim,
                expected: "at least 1".into(),
            });
        }
        Ok(Rastrigin { dim })
    }
}

impl Default for Rastrigin {
    fn default() -> Self {
        Rastrigin { dim: 2 }
    }
}

impl<T: Float> Objective<T> for Rastrigin {
    fn name(&self) -> String {
        "rastrigin".into()
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn start(&self) -> Vec<T> {
        vec![c(2.5); self.dim]
    }
    fn value(&self, x: &[T]) -> T {
        let two_pi = c::<T>(2.0) * T::PI();
        c::<T>(A * self.dim as f64)
            + x.iter()
                .map(|&v| v * v - c::<T>(A) * (two_pi * v).cos())
                .sum::<T>()
    }
    fn gradient(&self, x: &[T], grad: &mut [T]) -> T {
        let two_pi = c::<T>(2.0) * T::PI();
        for (g, &v) in grad.iter_mut().zip(x) {
            *g = c::<T>(2.0) * v + two_pi * c::<T>(A) * (two_pi * v).sin();
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

impl<T: Float> Hessian<T> for Rastrigin {
    fn hessian(&self, x: &[T], h: &mut [T]) {
        let n = self.dim;
        let two_pi = c::<T>(2.0) * T::PI();
        h.iter_mut().for_each(|v| *v = T::zero());
        for i in 0..n {
            h[i * n + i] = c::<T>(2.0) + two_pi * two_pi * c::<T>(A) * (two_pi * x[i]).cos();
        }
    }
}
