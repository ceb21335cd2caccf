//! The Booth function.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// The Booth function, f(x, y) = (x + 2y − 7)² + (2x + y − 5)²: a quadratic with
/// Hessian [[10, 8], [8, 10]] (condition number 9).
///
/// Global minimum f = 0 at (1, 3). Default start: (0, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Booth;

impl<T: Float> Objective<T> for Booth {
    fn name(&self) -> String {
        "booth".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn start(&self) -> Vec<T> {
        vec![T::zero(), T::zero()]
    }
    fn value(&self, p: &[T]) -> T {
        let a = p[0] + c::<T>(2.0) * p[1] - c::<T>(7.0);
        let b = c::<T>(2.0) * p[0] + p[1] - c::<T>(5.0);
        a * a + b * b
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        let a = p[0] + c::<T>(2.0) * p[1] - c::<T>(7.0);
        let b = c::<T>(2.0) * p[0] + p[1] - c::<T>(5.0);
        grad[0] = c::<T>(2.0) * a + c::<T>(4.0) * b;
        grad[1] = c::<T>(4.0) * a + c::<T>(2.0) * b;
        a * a + b * b
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        Some((vec![vec![1.0, 3.0]], 0.0))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Booth {
    fn hessian(&self, _p: &[T], h: &mut [T]) {
        h.copy_from_slice(&[c(10.0), c(8.0), c(8.0), c(10.0)]);
    }
}
