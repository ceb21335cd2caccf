//! Ordinary least squares by the normal equations, solved with nalgebra's Cholesky.

use crate::data::Dataset;
use crate::error::ProblemError;
use nalgebra::{DMatrix, DVector};

/// The least-squares fit y ≈ X·w + b over some rows of a [`Dataset`].
#[derive(Debug, Clone, PartialEq)]
pub struct LeastSquaresFit {
    /// The coefficients w, one per feature column.
    pub weights: Vec<f64>,
    /// The intercept b.
    pub intercept: f64,
    /// The mean squared error of the fit over the rows it was fitted to (no ½).
    pub mse: f64,
}

impl LeastSquaresFit {
    /// The fit as a parameter vector `[w…, b]`, the layout of [`crate::LinearRegression`].
    pub fn params(&self) -> Vec<f64> {
        let mut p = self.weights.clone();
        p.push(self.intercept);
        p
    }
}

/// Fits y ≈ X·w + b by ordinary least squares over `rows` of `data` (all rows if
/// `rows` is `None`), solving the normal equations [X 1]ᵀ[X 1]·β = [X 1]ᵀy by Cholesky.
///
/// Refused with [`ProblemError::Singular`] when the normal matrix is not positive
/// definite (collinear or constant features, or fewer rows than parameters).
pub fn least_squares(
    data: &Dataset,
    rows: Option<&[usize]>,
) -> Result<LeastSquaresFit, ProblemError> {
    let all: Vec<usize>;
    let rows = match rows {
        Some(r) => r,
        None => {
            all = (0..data.rows).collect();
            &all
        }
    };
    let p = data.cols;
    let a = DMatrix::from_fn(rows.len(), p + 1, |i, j| {
        if j < p {
            data.x[rows[i] * p + j]
        } else {
            1.0
        }
    });
    let y = DVector::from_iterator(rows.len(), rows.iter().map(|&r| data.y[r]));
    let normal = a.transpose() * &a;
    let rhs = a.transpose() * &y;
    let beta = normal
        .cholesky()
        .ok_or_else(|| {
            ProblemError::Singular(format!(
                "the normal equations of {} rows and {} features ({}) are singular: \
                 drop collinear or constant features",
                rows.len(),
                p,
                data.names.join(", ")
            ))
        })?
        .solve(&rhs);
    let residual = &a * &beta - &y;
    let mse = residual.norm_squared() / rows.len() as f64;
    Ok(LeastSquaresFit {
        weights: beta.iter().take(p).copied().collect(),
        intercept: beta[p],
        mse,
    })
}
