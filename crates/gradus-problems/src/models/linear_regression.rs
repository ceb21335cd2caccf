//! Linear regression with a mean-squared-error loss.

use super::least_squares::{least_squares, LeastSquaresFit};
use crate::data::{self, train_test_split, Dataset, Split, Standardization};
use crate::error::ProblemError;
use crate::objective::{DataObjective, Hessian, Objective};
use gradus::Float;
use std::path::Path;

/// Linear regression y ≈ w·x + b on standardized data, with the loss
/// L(w, b) = (1/m)·Σᵢ (w·xᵢ + b − yᵢ)², the plain mean squared error (no ½), so
/// ∂L/∂w = (2/m)·Σᵢ rᵢ·xᵢ and ∂L/∂b = (2/m)·Σᵢ rᵢ with rᵢ = w·xᵢ + b − yᵢ, and the
/// Hessian is (2/m)·Σᵢ [xᵢ; 1][xᵢ; 1]ᵀ.
///
/// Every feature and the target are standardized with the mean and population standard
/// deviation of all rows, before the seeded train/test split (as the first tutorial
/// does). Parameters: tensors `w` (one per feature) and `b` (1), starting at zero.
#[derive(Debug, Clone)]
pub struct LinearRegression<T> {
    name: String,
    data: Dataset,
    standardization: Standardization,
    split: Split,
    train_x: Vec<T>,
    train_y: Vec<T>,
    test_x: Vec<T>,
    test_y: Vec<T>,
    hessian: Vec<T>,
    train_fit: LeastSquaresFit,
    full_fit: LeastSquaresFit,
}

/// Copies the given rows of the features and target into `T`.
fn gather<T: Float>(data: &Dataset, rows: &[usize]) -> (Vec<T>, Vec<T>) {
    let x = rows
        .iter()
        .flat_map(|&r| data.row(r).iter().map(|&v| T::of(v)))
        .collect();
    let y = rows.iter().map(|&r| T::of(data.y[r])).collect();
    (x, y)
}

impl<T: Float> LinearRegression<T> {
    /// Linear regression named `name` on `data` (unstandardized), with
    /// ⌈rows·test_fraction⌉ test rows drawn from `seed`.
    pub fn new(
        name: &str,
        data: &Dataset,
        test_fraction: f64,
        seed: u64,
    ) -> Result<Self, ProblemError> {
        let standardization = Standardization::fit(data)?;
        let data = standardization.apply(data);
        let split = train_test_split(data.rows, test_fraction, seed)?;
        let train_fit = least_squares(&data, Some(&split.train))?;
        let full_fit = least_squares(&data, None)?;
        let (train_x, train_y) = gather(&data, &split.train);
        let (test_x, test_y) = gather(&data, &split.test);
        let p = data.cols + 1;
        let mut h = vec![0.0f64; p * p];
        let scale = 2.0 / split.train.len() as f64;
        for &r in &split.train {
            let row = data.row(r);
            let at = |j: usize| if j < data.cols { row[j] } else { 1.0 };
            for i in 0..p {
                for j in 0..p {
                    h[i * p + j] += scale * at(i) * at(j);
                }
            }
        }
        Ok(LinearRegression {
            name: name.to_string(),
            hessian: h.into_iter().map(T::of).collect(),
            data,
            standardization,
            split,
            train_x,
            train_y,
            test_x,
            test_y,
            train_fit,
            full_fit,
        })
    }

    /// `boston`: the first tutorial's model, MEDV from LSTAT alone.
    pub fn boston(test_fraction: f64, seed: u64) -> Result<Self, ProblemError> {
        let data = data::boston()?.select(&["LSTAT"])?;
        Self::new("boston", &data, test_fraction, seed)
    }

    /// `boston-full`: MEDV from all 13 Boston features.
    pub fn boston_full(test_fraction: f64, seed: u64) -> Result<Self, ProblemError> {
        Self::new("boston-full", &data::boston()?, test_fraction, seed)
    }

    /// `linreg`: the user's CSV file; see [`crate::load_csv`] for the format.
    pub fn from_csv(
        path: &Path,
        target: &str,
        features: Option<&[String]>,
        test_fraction: f64,
        seed: u64,
    ) -> Result<Self, ProblemError> {
        let data = data::load_csv(path, target, features)?;
        Self::new("linreg", &data, test_fraction, seed)
    }

    /// The standardized data, all rows (index it with [`LinearRegression::split`]).
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// The means and standard deviations the data were standardized with.
    pub fn standardization(&self) -> &Standardization {
        &self.standardization
    }

    /// The train/test split (row indices into [`LinearRegression::data`]).
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// The ordinary-least-squares fit on the training rows: the minimizer of the
    /// training loss.
    pub fn ols(&self) -> &LeastSquaresFit {
        &self.train_fit
    }

    /// The least-squares coefficients on the training rows as parameters `[w…, b]`.
    pub fn ols_coefficients(&self) -> Vec<f64> {
        self.train_fit.params()
    }

    /// The ordinary-least-squares fit on all rows (training and test).
    pub fn full_ols(&self) -> &LeastSquaresFit {
        &self.full_fit
    }

    /// The mean squared error of parameters `x` over all rows (training and test), in f64.
    pub fn full_loss(&self, x: &[T]) -> f64 {
        let p = self.data.cols;
        let b = x[p].f64();
        let sum: f64 = (0..self.data.rows)
            .map(|r| {
                let pred = b + self
                    .data
                    .row(r)
                    .iter()
                    .zip(x)
                    .map(|(&v, w)| v * w.f64())
                    .sum::<f64>();
                let e = pred - self.data.y[r];
                e * e
            })
            .sum();
        sum / self.data.rows as f64
    }

    /// The smallest mean squared error over all rows (the least-squares fit on all rows).
    pub fn full_optimum_loss(&self) -> f64 {
        self.full_fit.mse
    }

    /// The prediction w·features + b for one (standardized) row of features.
    pub fn predict(&self, x: &[T], features: &[T]) -> T {
        let p = self.data.cols;
        features
            .iter()
            .zip(&x[..p])
            .fold(x[p], |acc, (&v, &w)| acc + w * v)
    }

    /// Mean squared error over `rows` of a row-major table, and optionally its gradient.
    fn mse(
        &self,
        x: &[T],
        xs: &[T],
        ys: &[T],
        rows: impl Iterator<Item = usize>,
        grad: Option<&mut [T]>,
    ) -> T {
        let p = self.data.cols;
        let (w, b) = (&x[..p], x[p]);
        let mut loss = T::zero();
        let mut count = 0usize;
        match grad {
            None => {
                for r in rows {
                    let e = dot(w, &xs[r * p..(r + 1) * p]) + b - ys[r];
                    loss = loss + e * e;
                    count += 1;
                }
            }
            Some(grad) => {
                grad.iter_mut().for_each(|g| *g = T::zero());
                for r in rows {
                    let row = &xs[r * p..(r + 1) * p];
                    let e = dot(w, row) + b - ys[r];
                    loss = loss + e * e;
                    for (g, &v) in grad[..p].iter_mut().zip(row) {
                        *g = *g + e * v;
                    }
                    grad[p] = grad[p] + e;
                    count += 1;
                }
                if count > 0 {
                    let scale = T::of(2.0) / T::of(count as f64);
                    grad.iter_mut().for_each(|g| *g = *g * scale);
                }
            }
        }
        if count == 0 {
            return T::zero();
        }
        loss / T::of(count as f64)
    }
}

/// w·v.
fn dot<T: Float>(w: &[T], v: &[T]) -> T {
    w.iter().zip(v).fold(T::zero(), |acc, (&a, &b)| acc + a * b)
}

impl<T: Float> Objective<T> for LinearRegression<T> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn dim(&self) -> usize {
        self.data.cols + 1
    }
    /// As torch's `nn.Linear(cols, 1)` stores them: `w` is 1 × cols, `b` has one value.
    fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        vec![("w".into(), vec![1, self.data.cols]), ("b".into(), vec![1])]
    }
    fn start(&self) -> Vec<T> {
        vec![T::zero(); self.data.cols + 1]
    }
    fn value(&self, x: &[T]) -> T {
        self.mse(x, &self.train_x, &self.train_y, 0..self.train_y.len(), None)
    }
    fn gradient(&self, x: &[T], grad: &mut [T]) -> T {
        self.mse(
            x,
            &self.train_x,
            &self.train_y,
            0..self.train_y.len(),
            Some(grad),
        )
    }
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        Some((vec![self.train_fit.params()], self.train_fit.mse))
    }
    fn as_hessian(&self) -> Option<&dyn Hessian<T>> {
        Some(self)
    }
    fn as_data(&self) -> Option<&dyn DataObjective<T>> {
        Some(self)
    }
}

impl<T: Float> Hessian<T> for LinearRegression<T> {
    /// The constant Hessian of the training loss, (2/m)·Σᵢ [xᵢ; 1][xᵢ; 1]ᵀ.
    fn hessian(&self, _x: &[T], h: &mut [T]) {
        h.copy_from_slice(&self.hessian);
    }
}

impl<T: Float> DataObjective<T> for LinearRegression<T> {
    fn n_train(&self) -> usize {
        self.train_y.len()
    }
    /// The mean squared error over `rows` (0 with a zero gradient if `rows` is empty).
    ///
    /// # Panics
    /// If a row index is not below [`DataObjective::n_train`].
    fn batch_gradient(&self, x: &[T], rows: &[usize], grad: &mut [T]) -> T {
        self.mse(
            x,
            &self.train_x,
            &self.train_y,
            rows.iter().copied(),
            Some(grad),
        )
    }
    fn test_loss(&self, x: &[T]) -> T {
        self.mse(x, &self.test_x, &self.test_y, 0..self.test_y.len(), None)
    }
    fn optimum_loss(&self) -> Option<f64> {
        Some(self.train_fit.mse)
    }
}
