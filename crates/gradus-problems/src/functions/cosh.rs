//! The hyperbolic cosine of the second tutorial's Newton's-method experiment.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// f(x) = cosh(c·x) with c = 0.5 (one dimension): f′ = c·sinh(c·x), f″ = c²·cosh(c·x).
///
/// Global minimum f = 1 at x = 0. Default start: x = 10, as in the tutorial, where
/// Newton's method (step 1) reaches 0 in a handful of iterations while gradient
/// descent crawls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosh {
    c: f64,
}

impl Cosh {
    /// The tutorial's scale, c = 0.5.
    pub const TUTORIAL_C: f64 = 0.5;

    /// f(x) = cosh(c·x) for a given scale `c`.
    pub fn new(c: f64) -> Self {
        Cosh { c }
    }
}

impl Default for Cosh {
    fn default() -> Self {
        Cosh::new(Self::TUTORIAL_C)
    }
}

impl<T: Float> Objective<T> for Cosh {
    fn name(&self) -> String {
        "cosh".into()
    }
    fn dim(&self) -> usize {
        1
    }
    fn start(&self) -> Vec<T> {
        vec![c(10.0)]
    }
    fn value(&self, p: &[T]) -> T {
        (c::<T>(self.c) * p[0]).cosh()
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        let k = c::<T>(self.c);
        grad[0] = k * (k * p[0]).sinh();
        (k * p[0]).cosh()
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        Some((vec![vec![0.0]], 1.0))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Cosh {
    fn hessian(&self, p: &[T], h: &mut [T]) {
        let k = c::<T>(self.c);
        h[0] = k * k * (k * p[0]).cosh();
    }
}
