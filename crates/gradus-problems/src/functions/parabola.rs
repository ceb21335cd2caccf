//! The parabola of the third tutorial.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// The parabola f(x) = x² (one dimension).
///
/// Global minimum f = 0 at x = 0. Default start: x = 10, as in the third tutorial
/// (gradient descent with lr 0.1 gives 8, 6.4, 5.12, …; with lr 1.05 it diverges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parabola;

impl<T: Float> Objective<T> for Parabola {
    fn name(&self) -> String {
        "parabola".into()
    }
    fn dim(&self) -> usize {
        1
    }
    fn start(&self) -> Vec<T> {
        vec![c(10.0)]
    }
    fn value(&self, p: &[T]) -> T {
        p[0] * p[0]
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        grad[0] = c::<T>(2.0) * p[0];
        p[0] * p[0]
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        Some((vec![vec![0.0]], 0.0))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Parabola {
    fn hessian(&self, _p: &[T], h: &mut [T]) {
        h[0] = c(2.0);
    }
}
