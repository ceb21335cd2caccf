//! tanh(x), the second tutorial's example of a vanishing gradient.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// f(x) = tanh(x) (one dimension): f′ = 1 − tanh²(x), f″ = −2·tanh(x)·(1 − tanh²(x)).
///
/// Bounded below by −1 but never reaching it, so there is no minimum. Default start:
/// x = 4, where the gradient has all but vanished: f′(4) ≈ 0.00134.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tanh;

impl<T: Float> Objective<T> for Tanh {
    fn name(&self) -> String {
        "tanh".into()
    }
    fn dim(&self) -> usize {
        1
    }
    fn start(&self) -> Vec<T> {
        vec![c(4.0)]
    }
    fn value(&self, p: &[T]) -> T {
        p[0].tanh()
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        let t = p[0].tanh();
        grad[0] = T::one() - t * t;
        t
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Tanh {
    fn hessian(&self, p: &[T], h: &mut [T]) {
        let t = p[0].tanh();
        h[0] = c::<T>(-2.0) * t * (T::one() - t * t);
    }
}
