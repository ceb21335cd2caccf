//! x·cos(πx), the second tutorial's example of a local minimum.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// f(x) = x·cos(πx) (one dimension): f′ = cos(πx) − πx·sin(πx),
/// f″ = −2π·sin(πx) − π²x·cos(πx).
///
/// Unbounded below on the whole line; the tutorial looks at it on [−1, 2], where it has
/// a local minimum f ≈ −0.178603 at x ≈ −0.273853 and the interval's global minimum
/// f ≈ −1.046721 at x ≈ 1.090408. [`Objective::minimum`] reports the latter.
/// Default start: x = −0.5, from where gradient descent falls into the local minimum
/// (start at 1.5 to reach the global one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XCos;

impl XCos {
    /// The local minimizer on [−1, 2] and its value (Newton's method in f64).
    pub const LOCAL_MINIMUM: (f64, f64) = (-0.2738526868008509, -0.1786025115477333);
    /// The minimizer on [−1, 2] and its value (Newton's method in f64).
    pub const INTERVAL_MINIMUM: (f64, f64) = (1.0904082219467213, -1.0467211246605712);
}

impl<T: Float> Objective<T> for XCos {
    fn name(&self) -> String {
        "xcos".into()
    }
    fn dim(&self) -> usize {
        1
    }
    fn start(&self) -> Vec<T> {
        vec![c(-0.5)]
    }
    fn value(&self, p: &[T]) -> T {
        p[0] * (T::PI() * p[0]).cos()
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        let x = p[0];
        let (s, co) = (T::PI() * x).sin_cos();
        grad[0] = co - T::PI() * x * s;
        x * co
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        let (x, f) = Self::INTERVAL_MINIMUM;
        Some((vec![vec![x]], f))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for XCos {
    fn hessian(&self, p: &[T], h: &mut [T]) {
        let x = p[0];
        let (s, co) = (T::PI() * x).sin_cos();
        h[0] = c::<T>(-2.0) * T::PI() * s - T::PI() * T::PI() * x * co;
    }
}
