//! The Beale function.

use super::c;
use crate::objective::{Hessian, Objective};
use gradus::Float;

/// The Beale function, f(x, y) = (1.5 − x + x·y)² + (2.25 − x + x·y²)² + (2.625 − x + x·y³)².
///
/// Global minimum f = 0 at (3, 0.5), in a flat valley with steep walls. Default start:
/// (1, 1.5), up the ridge from the minimum; the first tutorial's animations start
/// elsewhere, give `--start` to match a particular figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Beale;

/// The constants 1.5, 2.25, 2.625 of the three terms (term k has y^k).
const TERMS: [f64; 3] = [1.5, 2.25, 2.625];

impl<T: Float> Objective<T> for Beale {
    fn name(&self) -> String {
        "beale".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn start(&self) -> Vec<T> {
        vec![c(1.0), c(1.5)]
    }
    fn value(&self, p: &[T]) -> T {
        let (x, y) = (p[0], p[1]);
        let mut yk = T::one();
        let mut f = T::zero();
        for t in TERMS {
            yk = yk * y;
            let a = c::<T>(t) - x + x * yk;
            f = f + a * a;
        }
        f
    }
    fn gradient(&self, p: &[T], grad: &mut [T]) -> T {
        let (x, y) = (p[0], p[1]);
        let (mut gx, mut gy, mut f) = (T::zero(), T::zero(), T::zero());
        // ykm1 = y^(k−1), yk = y^k for k = 1, 2, 3.
        let mut ykm1 = T::one();
        for (k, t) in TERMS.into_iter().enumerate() {
            let k = c::<T>((k + 1) as f64);
            let yk = ykm1 * y;
            let a = c::<T>(t) - x + x * yk;
            f = f + a * a;
            gx = gx + c::<T>(2.0) * a * (yk - T::one());
            gy = gy + c::<T>(2.0) * a * k * x * ykm1;
            ykm1 = yk;
        }
        grad[0] = gx;
        grad[1] = gy;
        f
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        Some((vec![vec![3.0, 0.5]], 0.0))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for Beale {
    fn hessian(&self, p: &[T], h: &mut [T]) {
        let (x, y) = (p[0], p[1]);
        let two = c::<T>(2.0);
        let (mut hxx, mut hxy, mut hyy) = (T::zero(), T::zero(), T::zero());
        // ykm2 = y^(k−2) (unused for k = 1, where its coefficient k(k−1) is 0).
        let mut ykm1 = T::one();
        let mut ykm2 = T::zero();
        for (k, t) in TERMS.into_iter().enumerate() {
            let kf = c::<T>((k + 1) as f64);
            let yk = ykm1 * y;
            let a = c::<T>(t) - x + x * yk;
            let ax = yk - T::one(); // ∂a/∂x
            let ay = kf * x * ykm1; // ∂a/∂y
            hxx = hxx + two * ax * ax;
            hxy = hxy + two * (ay * ax + a * kf * ykm1);
            hyy = hyy + two * (ay * ay + a * kf * (kf - T::one()) * x * ykm2);
            ykm2 = ykm1;
            ykm1 = yk;
        }
        h[0] = hxx;
        h[1] = hxy;
        h[2] = hxy;
        h[3] = hyy;
    }
}
