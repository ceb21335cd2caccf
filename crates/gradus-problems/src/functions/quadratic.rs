//! The ill-conditioned quadratic of the third tutorial.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// The ill-conditioned bowl f(p) = 50·p₀² + p₁² (Hessian diag(100, 2), condition
/// number 50): one global learning rate is either too large for p₀ or too small for
/// p₁, which per-coordinate methods such as AdaGrad fix.
///
/// Global minimum f = 0 at (0, 0). Default start: (1.5, 10), as in the third tutorial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quadratic;

impl<T: Float> Objective<T> for Quadratic {
    fn name(&self) -> String {
        "quadratic".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn start(&self) -> Vec<T> {
        vec![c(1.5), c(10.0)]
    }
    fn value(&self, p: &[T]) -> T {
        c::<T>(50.0) * p[0] * p[0] + p[1] * p[1]
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        grad[0] = c::<T>(100.0) * p[0];
        grad[1] = c::<T>(2.0) * p[1];
        self.value(p)
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        Some((vec![vec![0.0, 0.0]], 0.0))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Quadratic {
    fn hessian(&self, _p: &[T], h: &mut [T]) {
        h.copy_from_slice(&[c(100.0), T::zero(), T::zero(), c(2.0)]);
    }
}
