//! The bowl of the second tutorial's noisy-SGD experiments.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// The bowl f(x) = x₁² + 2·x₂² (Hessian diag(2, 4)), on which the second tutorial runs
/// SGD with N(0, 1) gradient noise under learning-rate schedules.
///
/// Global minimum f = 0 at (0, 0). Default start: (−5, −5), as in the tutorial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bowl;

impl<T: Float> Objective<T> for Bowl {
    fn name(&self) -> String {
        "bowl".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn start(&self) -> Vec<T> {
        vec![c(-5.0), c(-5.0)]
    }
    fn value(&self, p: &[T]) -> T {
        p[0] * p[0] + c::<T>(2.0) * p[1] * p[1]
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        grad[0] = c::<T>(2.0) * p[0];
        grad[1] = c::<T>(4.0) * p[1];
        self.value(p)
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        Some((vec![vec![0.0, 0.0]], 0.0))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Bowl {
    fn hessian(&self, _p: &[T], h: &mut [T]) {
        h.copy_from_slice(&[c(2.0), T::zero(), T::zero(), c(4.0)]);
    }
}
