//! Problems by name: the list the CLI shows and the constructor it calls.

use crate::error::ProblemError;
use crate::functions::*;
use crate::models::{LinearRegression, Mlp, SoftmaxRegression};
use crate::objective::Objective;
use gradus::Float;
use std::path::PathBuf;

/// Every problem [`build`] knows: name and a one-line description with the formula and
/// the minimum.
pub const PROBLEMS: &[(&str, &str)] = &[
    ("rosenbrock", "Rosenbrock, Σ 100(x[i+1] − x[i]²)² + (1 − x[i])², n-D (--dim, default 2, or --shape R,C for one R×C matrix); min 0 at (1, …, 1)"),
    ("sphere", "sphere, Σ x[i]², n-D (--dim, default 2, or --shape R,C); min 0 at 0"),
    ("beale", "Beale, (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)², 2-D; min 0 at (3, 0.5)"),
    ("booth", "Booth, (x + 2y − 7)² + (2x + y − 5)², 2-D; min 0 at (1, 3)"),
    ("himmelblau", "Himmelblau, (x² + y − 11)² + (x + y² − 7)², 2-D; min 0 at (3, 2) and three more"),
    ("rastrigin", "Rastrigin, 10n + Σ x[i]² − 10 cos(2π x[i]), n-D (--dim, default 2, or --shape R,C); min 0 at 0, many local minima"),
    ("quadratic", "ill-conditioned bowl 50·x0² + x1², 2-D, start (1.5, 10); min 0 at (0, 0)"),
    ("bowl", "bowl x1² + 2·x2², 2-D, start (−5, −5) (noisy SGD); min 0 at (0, 0)"),
    ("parabola", "parabola x², 1-D, start 10; min 0 at 0"),
    ("saddle", "saddle x² − y², 2-D, start (1, 0.001); saddle point at (0, 0), unbounded below"),
    ("cosh", "cosh(0.5·x), 1-D, start 10 (Newton's method); min 1 at 0"),
    ("xcos", "x·cos(πx), 1-D, start −0.5; on [−1, 2]: local min −0.1786 at −0.2739, min −1.0467 at 1.0904"),
    ("tanh", "tanh(x), 1-D, start 4 (vanishing gradient, f′(4) ≈ 0.0013); infimum −1, not attained"),
    ("boston", "Boston housing, MEDV ≈ w·LSTAT + b, standardized, MSE; min: least squares"),
    ("boston-full", "Boston housing, MEDV from all 13 features, standardized, MSE; min: least squares"),
    ("linreg", "linear regression on your CSV (--data, --target, --features), standardized, MSE; min: least squares"),
    ("digits", "8×8 digits, MLP 64 → hidden (--hidden, default 64) → 10, ReLU, softmax cross-entropy"),
    ("digits-softmax", "8×8 digits, multinomial logistic regression 64 → 10, softmax cross-entropy (convex)"),
];

/// The options a problem may take; [`build`] refuses those a problem does not use.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ProblemOptions {
    /// Dimension of an n-dimensional function (`rosenbrock`, `sphere`, `rastrigin`;
    /// default 2, at most [`MAX_DIM`]); a fixed-dimension function accepts only its own.
    pub dim: Option<usize>,
    /// The shape of an n-dimensional function's parameter (`--shape R,C`): one R × C
    /// matrix, row-major, whose flattened values the function reads; `dim`, if given
    /// too, must be the product.
    pub shape: Option<Vec<usize>>,
    /// Seed of the train/test split and of a model's initial weights.
    pub seed: u64,
    /// The CSV file of `linreg`.
    pub data: Option<PathBuf>,
    /// The target column of `linreg`.
    pub target: Option<String>,
    /// The feature columns of `linreg` (default: every other numeric column).
    pub features: Option<Vec<String>>,
    /// Hidden units of `digits` (default [`DEFAULT_HIDDEN`], at most [`MAX_HIDDEN`]).
    pub hidden: Option<usize>,
    /// Fraction of rows held out for testing, in (0, 1); default 0.2.
    pub test_fraction: f64,
}

/// The default hidden width of `digits`.
pub const DEFAULT_HIDDEN: usize = 64;

/// The largest `--dim` of the n-dimensional functions (a larger one would only
/// exhaust memory).
pub const MAX_DIM: usize = 10_000_000;

/// The largest `--hidden` of `digits`.
pub const MAX_HIDDEN: usize = 100_000;

/// The default test fraction.
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;

impl Default for ProblemOptions {
    fn default() -> Self {
        ProblemOptions {
            dim: None,
            shape: None,
            seed: 0,
            data: None,
            target: None,
            features: None,
            hidden: None,
            test_fraction: DEFAULT_TEST_FRACTION,
        }
    }
}

impl ProblemOptions {
    /// The defaults (no dimension, seed 0, test fraction 0.2).
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses every option that is set but not in `takes`.
    fn only(&self, problem: &str, takes: &[&str]) -> Result<(), ProblemError> {
        let given = [
            ("--dim", self.dim.is_some()),
            ("--shape", self.shape.is_some()),
            ("--data", self.data.is_some()),
            ("--target", self.target.is_some()),
            ("--features", self.features.is_some()),
            ("--hidden", self.hidden.is_some()),
        ];
        for (option, set) in given {
            if set && !takes.contains(&option) {
                let mut list: Vec<&str> = takes.to_vec();
                list.push("--seed");
                if problem_has_data(problem) {
                    list.push("--test-fraction");
                }
                return Err(ProblemError::OptionNotApplicable {
                    problem: problem.into(),
                    option: option.into(),
                    takes: list.join(", "),
                });
            }
        }
        Ok(())
    }

    /// The fixed dimension `dim` of `problem`, refusing any other `--dim`.
    fn fixed(&self, problem: &str, dim: usize) -> Result<(), ProblemError> {
        self.only(problem, &["--dim"])?;
        match self.dim {
            Some(got) if got != dim => Err(ProblemError::FixedDim {
                problem: problem.into(),
                dim,
                got,
            }),
            _ => Ok(()),
        }
    }

    /// The dimension of an n-dimensional `problem` (default 2, or the product of
    /// `--shape`).
    fn n_dim(&self, problem: &str) -> Result<usize, ProblemError> {
        self.only(problem, &["--dim", "--shape"])?;
        if let Some(shape) = &self.shape {
            let text = shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            let invalid = |expected: String| ProblemError::InvalidOption {
                problem: problem.into(),
                option: "--shape".into(),
                value: text.clone(),
                expected,
            };
            let n = match n {
                _ if shape.is_empty() || shape.contains(&0) => {
                    return Err(invalid("axis lengths of at least 1, e.g. 4,5".into()))
                }
                Some(n) if (2..=MAX_DIM).contains(&n) => n,
                _ => return Err(invalid(format!("2 to {MAX_DIM} values in all"))),
            };
            if let Some(dim) = self.dim.filter(|&d| d != n) {
                return Err(ProblemError::InvalidOption {
                    problem: problem.into(),
                    option: "--dim".into(),
                    value: dim.to_string(),
                    expected: format!("{n}, the number of values of --shape {text}"),
                });
            }
            return Ok(n);
        }
        match self.dim {
            Some(got) if got > MAX_DIM => Err(ProblemError::InvalidDim {
                problem: problem.into(),
                got,
                expected: format!("at most {MAX_DIM}"),
            }),
            dim => Ok(dim.unwrap_or(2)),
        }
    }
}

/// Whether `problem` is fitted to data.
fn problem_has_data(problem: &str) -> bool {
    matches!(
        problem,
        "boston" | "boston-full" | "linreg" | "digits" | "digits-softmax"
    )
}

/// Builds the problem called `name` (see [`PROBLEMS`]) in element type `T`.
///
/// Errors name the bad input and the valid choices: an unknown name, a `--dim` that the
/// problem cannot take (`beale is 2-D`), an option it does not use, `linreg` without
/// `--data` or `--target`, unreadable or malformed CSV, a test fraction outside (0, 1).
pub fn build<T: Float>(
    name: &str,
    opts: &ProblemOptions,
) -> Result<Box<dyn Objective<T>>, ProblemError> {
    let fixed = |dim: usize| opts.fixed(name, dim);
    let shaped = |f: Box<dyn Objective<T>>| match &opts.shape {
        Some(shape) => Box::new(Shaped::new(f, shape.clone())) as Box<dyn Objective<T>>,
        None => f,
    };
    Ok(match name {
        "rosenbrock" => shaped(Box::new(Rosenbrock::new(opts.n_dim(name)?)?)),
        "sphere" => shaped(Box::new(Sphere::new(opts.n_dim(name)?)?)),
        "rastrigin" => shaped(Box::new(Rastrigin::new(opts.n_dim(name)?)?)),
        "beale" => fixed(2).map(|_| Box::new(Beale) as Box<dyn Objective<T>>)?,
        "booth" => fixed(2).map(|_| Box::new(Booth) as _)?,
        "himmelblau" => fixed(2).map(|_| Box::new(Himmelblau) as _)?,
        "quadratic" => fixed(2).map(|_| Box::new(Quadratic) as _)?,
        "bowl" => fixed(2).map(|_| Box::new(Bowl) as _)?,
        "saddle" => fixed(2).map(|_| Box::new(Saddle) as _)?,
        "parabola" => fixed(1).map(|_| Box::new(Parabola) as _)?,
        "cosh" => fixed(1).map(|_| Box::new(Cosh::default()) as _)?,
        "xcos" => fixed(1).map(|_| Box::new(XCos) as _)?,
        "tanh" => fixed(1).map(|_| Box::new(Tanh) as _)?,
        "boston" => {
            opts.only(name, &[])?;
            Box::new(LinearRegression::<T>::boston(
                opts.test_fraction,
                opts.seed,
            )?)
        }
        "boston-full" => {
            opts.only(name, &[])?;
            Box::new(LinearRegression::<T>::boston_full(
                opts.test_fraction,
                opts.seed,
            )?)
        }
        "linreg" => {
            opts.only(name, &["--data", "--target", "--features"])?;
            let missing = |option: &str, hint: &str| ProblemError::MissingOption {
                problem: name.into(),
                option: option.into(),
                hint: hint.into(),
            };
            let path = opts
                .data
                .as_ref()
                .ok_or_else(|| missing("--data", "the CSV file to fit (with a header row)"))?;
            let target = opts
                .target
                .as_ref()
                .ok_or_else(|| missing("--target", "the name of the column to predict"))?;
            Box::new(LinearRegression::<T>::from_csv(
                path,
                target,
                opts.features.as_deref(),
                opts.test_fraction,
                opts.seed,
            )?)
        }
        "digits" => {
            opts.only(name, &["--hidden"])?;
            let hidden = opts.hidden.unwrap_or(DEFAULT_HIDDEN);
            // Refuse a bad width before the data are read.
            if hidden == 0 || hidden > MAX_HIDDEN {
                return Err(ProblemError::InvalidOption {
                    problem: name.into(),
                    option: "--hidden".into(),
                    value: hidden.to_string(),
                    expected: format!("1 to {MAX_HIDDEN} hidden units"),
                });
            }
            Box::new(Mlp::<T>::digits(hidden, opts.test_fraction, opts.seed)?)
        }
        "digits-softmax" => {
            opts.only(name, &[])?;
            Box::new(SoftmaxRegression::<T>::digits(
                opts.test_fraction,
                opts.seed,
            )?)
        }
        _ => {
            return Err(ProblemError::UnknownProblem {
                name: name.into(),
                valid: PROBLEMS.iter().map(|(n, _)| n.to_string()).collect(),
            })
        }
    })
}

/// Checks that a starting point has one value per parameter of a problem of dimension
/// `dim`.
pub fn check_start<T>(x: &[T], dim: usize) -> Result<(), ProblemError> {
    if x.len() == dim {
        Ok(())
    } else {
        Err(ProblemError::StartLength {
            expected: dim,
            got: x.len(),
        })
    }
}
