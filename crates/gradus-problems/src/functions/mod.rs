//! The classic analytic test functions, each with an analytic gradient and Hessian.
//!
//! Every function is generic over the element type and evaluates in it; the formulas
//! are written straightforwardly, so `f32` and `f64` runs differ only by rounding.
//! Two-dimensional functions read the point as `x = (x, y)`.

mod beale;
mod booth;
mod bowl;
mod cosh;
mod himmelblau;
mod parabola;
mod quadratic;
mod rastrigin;
mod rosenbrock;
mod saddle;
mod shaped;
mod sphere;
mod tanh;
mod xcos;

pub use beale::Beale;
pub use booth::Booth;
pub use bowl::Bowl;
pub use cosh::Cosh;
pub use himmelblau::Himmelblau;
pub use parabola::Parabola;
pub use quadratic::Quadratic;
pub use rastrigin::Rastrigin;
pub use rosenbrock::Rosenbrock;
pub use saddle::Saddle;
pub use shaped::Shaped;
pub use sphere::Sphere;
pub use tanh::Tanh;
pub use xcos::XCos;

use gradus::Float;

/// `T::of` for short: a constant in the element type.
#[inline(always)]
pub(crate) fn c<T: Float>(v: f64) -> T {
    T::of(v)
}
