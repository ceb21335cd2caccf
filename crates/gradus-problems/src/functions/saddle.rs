//! The saddle of the second tutorial.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// The saddle f(x, y) = x² − y², with a saddle point at (0, 0) (Hessian diag(2, −2)).
///
/// Unbounded below (f → −∞ along y), so there is no minimum. Default start:
/// (1, 0.001): just off the ridge y = 0, so gradient descent first slides towards the
/// saddle along x, then the tiny y grows geometrically (by 1 + 2·lr per step) and the
/// iterate escapes. From y = 0 exactly it would converge to the saddle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Saddle;

impl<T: Float> Objective<T> for Saddle {
    fn name(&self) -> String {
        "saddle".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn start(&self) -> Vec<T> {
        vec![c(1.0), c(1e-3)]
    }
    fn value(&self, p: &[T]) -> T {
        p[0] * p[0] - p[1] * p[1]
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        grad[0] = c::<T>(2.0) * p[0];
        grad[1] = c::<T>(-2.0) * p[1];
        self.value(p)
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Saddle {
    fn hessian(&self, _p: &[T], h: &mut [T]) {
        h.copy_from_slice(&[c(2.0), T::zero(), T::zero(), c(-2.0)]);
    }
}
