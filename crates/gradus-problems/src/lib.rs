//! Problems to run gradus optimizers on: the classic analytic test functions (with
//! gradients and Hessians), linear regression and neural networks on real data, and
//! the minibatch samplers and gradient noise of the tutorials' experiments.
//!
//! Problems are traits in the spirit of argmin: [`Objective`] gives a value and a
//! gradient; [`Hessian`] adds second derivatives (so only such problems can be given
//! to Newton's method); [`DataObjective`] adds minibatch gradients and a test set.
//!
//! * [`functions`]: Rosenbrock, sphere, Beale, Booth, Himmelblau, Rastrigin and the
//!   tutorials' one- and two-dimensional examples.
//! * [`models`]: linear regression (Boston housing, your CSV) and digit classifiers,
//!   with gradients written out by hand; [`least_squares`] for the closed-form optimum.
//! * [`data`]: the embedded data sets, CSV loading, standardization, the seeded split.
//! * [`BatchSampler`] and [`GradientNoise`]: seeded, portable, checkpointable.
//! * [`build`] and [`PROBLEMS`]: problems by name, as the `gradus` command names them.
//!
//! ```
//! use gradus_problems::{build, ProblemOptions};
//! let f = build::<f64>("rosenbrock", &ProblemOptions::default()).unwrap();
//! let x = f.start();
//! let mut g = vec![0.0; f.dim()];
//! let value = f.gradient(&x, &mut g);
//! assert_eq!(x, [-1.5, 2.0]);
//! // 100·(2 − 1.5²)² + (1 + 1.5)² = 6.25 + 6.25
//! assert!((value - 12.5).abs() < 1e-12);
//! ```

#![warn(missing_docs)]

pub mod data;
mod error;
pub mod functions;
pub mod models;
mod objective;
mod portable_random;
mod registry;
mod sampling;

pub use data::{boston, data_fingerprint, digits, load_csv, read_data_file, Dataset};
pub use error::ProblemError;
pub use models::{least_squares, LeastSquaresFit, LinearRegression, Mlp, SoftmaxRegression};
pub use objective::{DataObjective, Hessian, Objective};
pub use registry::{
    build, check_start, ProblemOptions, DEFAULT_HIDDEN, DEFAULT_TEST_FRACTION, MAX_DIM, MAX_HIDDEN,
    PROBLEMS,
};
pub use sampling::{BatchSampler, GradientNoise, Sampling};
