//! Standardization with the mean and population standard deviation.

use super::Dataset;
use crate::error::ProblemError;

/// The means and population standard deviations used to standardize a [`Dataset`]:
/// z = (v − mean) / std, with std = √(Σ(v − mean)² / n) (numpy's default, `ddof = 0`).
#[derive(Debug, Clone, PartialEq)]
pub struct Standardization {
    /// Mean of each feature column.
    pub feature_mean: Vec<f64>,
    /// Population standard deviation of each feature column.
    pub feature_std: Vec<f64>,
    /// Mean of the target.
    pub target_mean: f64,
    /// Population standard deviation of the target.
    pub target_std: f64,
}

/// Mean and population standard deviation of `values` (two passes, for accuracy).
///
/// The plain formula (numpy's, bit for bit) is used whenever it gives a finite, non-zero
/// result; when sums or squares overflow (values near 1e160 and beyond) or underflow
/// (subnormals), the same quantities are computed with every value scaled by the
/// largest magnitude first, so only a truly constant column has deviation 0.
fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / n;
    let var = values.clone().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let std = var.sqrt();
    if mean.is_finite() && std.is_finite() && std > 0.0 && var.is_normal() {
        return (mean, std);
    }
    let mean = if mean.is_finite() {
        mean
    } else {
        values.clone().map(|v| v / n).sum::<f64>()
    };
    let scale = values
        .clone()
        .map(|v| (v - mean).abs())
        .fold(0.0f64, f64::max);
    if scale == 0.0 || !scale.is_finite() {
        return (mean, if scale == 0.0 { 0.0 } else { f64::INFINITY });
    }
    let var = values
        .map(|v| {
            let z = (v - mean) / scale;
            z * z
        })
        .sum::<f64>()
        / n;
    (mean, scale * var.sqrt())
}

impl Standardization {
    /// Computes the statistics of every feature and the target over all rows of `data`.
    ///
    /// A constant column (standard deviation 0) is refused, naming the column.
    pub fn fit(data: &Dataset) -> Result<Self, ProblemError> {
        let constant = |name: &str, value: f64| ProblemError::ConstantColumn {
            file: data.source.clone(),
            column: name.to_string(),
            value,
        };
        let out_of_range = |name: &str| ProblemError::ColumnOutOfRange {
            file: data.source.clone(),
            column: name.to_string(),
        };
        if data.rows == 0 {
            return Err(ProblemError::EmptyFile {
                file: data.source.clone(),
                message: "no data rows".into(),
            });
        }
        let mut feature_mean = Vec::with_capacity(data.cols);
        let mut feature_std = Vec::with_capacity(data.cols);
        for j in 0..data.cols {
            let column = (0..data.rows).map(|r| data.x[r * data.cols + j]);
            let (m, s) = mean_std(column);
            if !s.is_finite() {
                return Err(out_of_range(&data.names[j]));
            }
            if s == 0.0 {
                return Err(constant(&data.names[j], m));
            }
            feature_mean.push(m);
            feature_std.push(s);
        }
        let (target_mean, target_std) = mean_std(data.y.iter().copied());
        if !target_std.is_finite() {
            return Err(out_of_range(&data.target));
        }
        if target_std == 0.0 {
            return Err(constant(&data.target, target_mean));
        }
        Ok(Standardization {
            feature_mean,
            feature_std,
            target_mean,
            target_std,
        })
    }

    /// `data` with every feature and the target standardized by these statistics.
    pub fn apply(&self, data: &Dataset) -> Dataset {
        let mut out = data.clone();
        for r in 0..data.rows {
            for j in 0..data.cols {
                let v = &mut out.x[r * data.cols + j];
                *v = (*v - self.feature_mean[j]) / self.feature_std[j];
            }
        }
        for v in &mut out.y {
            *v = (*v - self.target_mean) / self.target_std;
        }
        out
    }
}
