//! Problems to run gradus optimizers on: the classic analytic test functions (with
//! gradients and Hessians), linear regression and neural networks on real data, and
//! the minibatch samplers and gradient noise of the tutorials' experiments.
//!
//! Problems are traits in the spirit of argmin: [`Objective`] gives a value and a
//! gradient; [`Hessian`] adds second derivatives (so only such problems can be given
//! to Newton's method); [`DataObjective`] adds minibatch gradients and a test set.

#![warn(missing_docs)]

mod objective;

pub use objective::{DataObjective, Hessian, Objective};
