//! Himmelblau's function.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// Himmelblau's function, f(x, y) = (x² + y − 11)² + (x + y² − 7)²: four global minima,
/// a local maximum at about (−0.271, −0.923) and four saddles.
///
/// Global minimum f = 0 at (3, 2), (−2.805118, 3.131313), (−3.779310, −3.283186) and
/// (3.584428, −1.848127). Default start: (0, 0), from where gradient descent
/// reaches (3, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Himmelblau;

impl<T: Float> Objective<T> for Himmelblau {
    fn name(&self) -> String {
        "himmelblau".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn start(&self) -> Vec<T> {
        vec![T::zero(), T::zero()]
    }
    fn value(&self, p: &[T]) -> T {
        let (x, y) = (p[0], p[1]);
        let a = x * x + y - c::<T>(11.0);
        let b = x + y * y - c::<T>(7.0);
        a * a + b * b
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        let (x, y) = (p[0], p[1]);
        let a = x * x + y - c::<T>(11.0);
        let b = x + y * y - c::<T>(7.0);
        grad[0] = c::<T>(4.0) * x * a + c::<T>(2.0) * b;
        grad[1] = c::<T>(2.0) * a + c::<T>(4.0) * y * b;
        a * a + b * b
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        // The last three by Newton's method in f64 (their gradients are below 1e-12).
        Some((
            vec![
                vec![3.0, 2.0],
                vec![-2.805118086952745, 3.131312518250573],
                vec![-3.779310253377747, -3.2831859912861696],
                vec![3.5844283403304917, -1.8481265269644036],
            ],
            0.0,
        ))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Himmelblau {
    fn hessian(&self, p: &[T], h: &mut [T]) {
        let (x, y) = (p[0], p[1]);
        let a = x * x + y - c::<T>(11.0);
        let b = x + y * y - c::<T>(7.0);
        let hxy = c::<T>(4.0) * (x + y);
        h[0] = c::<T>(4.0) * a + c::<T>(8.0) * x * x + c::<T>(2.0);
        h[1] = hxy;
        h[2] = hxy;
        h[3] = c::<T>(4.0) * b + c::<T>(8.0) * y * y + c::<T>(2.0);
    }
}
