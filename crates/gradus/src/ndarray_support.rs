//! Stepping [`ndarray`] arrays directly (feature `ndarray`).
//!
//! [`Param::from_ndarray`] borrows an `ArrayViewMut<T, D>` parameter and an
//! `ArrayView<T, D>` gradient as the flat slices that [`Optimizer::step`] takes, with
//! no copy. Arrays of any dimensionality can be mixed in one step, since a [`Param`]
//! is flat.
//!
//! Both arrays must have the same shape and be in standard layout (row-major and
//! contiguous, as `Array::zeros` and friends make them), so that element `i` of one
//! slice is element `i` of the other and the per-element optimizer state keeps its
//! meaning from step to step. Anything else (a transposed view, a strided slice, a
//! column-major array) is refused with [`Error::Unsupported`] rather than copied
//! behind your back: make the gradient standard with
//! `g.as_standard_layout()`, or step a standard-layout copy of the parameter and
//! `assign` it back.
//!
//! ```
//! use gradus::optim::{self, Param};
//! use ndarray::{array, Array1, Array2};
//!
//! let mut opt = optim::build::<f64>("adam(lr=0.1)").unwrap();
//! let mut w: Array2<f64> = array![[1.0, -2.0], [0.5, 3.0]];
//! let mut b: Array1<f64> = array![1.0, -1.0];
//! for _ in 0..300 {
//!     // f = |w|² + |b|²
//!     let gw = &w * 2.0;
//!     let gb = &b * 2.0;
//!     opt.step(&mut [
//!         Param::from_ndarray("w", w.view_mut(), gw.view()).unwrap(),
//!         Param::from_ndarray("b", b.view_mut(), gb.view()).unwrap(),
//!     ])
//!     .unwrap();
//! }
//! assert!(w.iter().chain(b.iter()).all(|x| x.abs() < 0.05));
//! ```
//!
//! [`Optimizer::step`]: crate::optim::Optimizer::step

use crate::error::{Error, Result};
use crate::float::Float;
use crate::optim::Param;
use ndarray::{ArrayView, ArrayViewMut, Dimension};

impl<'a, T: Float> Param<'a, T> {
    /// Borrows an ndarray parameter and its gradient as a [`Param`], without copying.
    ///
    /// Errors with [`Error::Unsupported`] if the shapes differ or if either array is
    /// not in standard (row-major, contiguous) layout; see the
    /// [module docs](crate::ndarray_support).
    pub fn from_ndarray<D: Dimension>(
        name: &'a str,
        value: ArrayViewMut<'a, T, D>,
        grad: ArrayView<'a, T, D>,
    ) -> Result<Self> {
        if value.shape() != grad.shape() {
            return Err(Error::Unsupported(format!(
                "tensor '{name}': parameter has shape {:?} but gradient has shape {:?}",
                value.shape(),
                grad.shape()
            )));
        }
        let grad = grad
            .to_slice()
            .ok_or_else(|| not_standard(name, "gradient"))?;
        let value = value
            .into_slice()
            .ok_or_else(|| not_standard(name, "parameter"))?;
        Ok(Param::new(name, value, grad))
    }
}

fn not_standard(name: &str, what: &str) -> Error {
    Error::Unsupported(format!(
        "tensor '{name}': the {what} array is not in standard (row-major, contiguous) layout, \
         so it cannot be stepped in place; use a standard-layout array (e.g. \
         .as_standard_layout() for a gradient, or step a copy and assign it back)"
    ))
}
