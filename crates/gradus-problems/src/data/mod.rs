//! Data sets: the embedded Boston housing and digits data, the user's own CSV files,
//! standardization and the seeded train/test split.

mod csv_table;
mod embedded;
mod split;
mod standardize;

pub use csv_table::{data_fingerprint, load_csv, parse_csv, read_data_file, MAX_DATA_FILE_BYTES};
pub use embedded::{boston, digits, BOSTON_FILE, DIGITS_FILE};
pub use split::{train_test_split, Split};
pub use standardize::Standardization;

use crate::error::ProblemError;

/// A table of numeric features and one numeric target, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Where the data came from (a file name), for error messages.
    pub source: String,
    /// The feature columns' names, `cols` of them.
    pub names: Vec<String>,
    /// The target column's name.
    pub target: String,
    /// The features, `rows × cols`, row-major.
    pub x: Vec<f64>,
    /// The target, one value per row.
    pub y: Vec<f64>,
    /// Number of rows.
    pub rows: usize,
    /// Number of feature columns.
    pub cols: usize,
}

impl Dataset {
    /// The features of row `i`.
    ///
    /// # Panics
    /// If `i >= self.rows`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.cols..(i + 1) * self.cols]
    }

    /// The same rows with only the named feature columns, in the order given.
    pub fn select(&self, features: &[&str]) -> Result<Dataset, ProblemError> {
        let idx = features
            .iter()
            .map(|f| {
                self.names
                    .iter()
                    .position(|n| n == f)
                    .ok_or_else(|| ProblemError::MissingColumn {
                        file: self.source.clone(),
                        column: f.to_string(),
                        available: self.names.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut x = Vec::with_capacity(self.rows * idx.len());
        for r in 0..self.rows {
            let row = self.row(r);
            x.extend(idx.iter().map(|&j| row[j]));
        }
        Ok(Dataset {
            source: self.source.clone(),
            names: idx.iter().map(|&j| self.names[j].clone()).collect(),
            target: self.target.clone(),
            x,
            y: self.y.clone(),
            rows: self.rows,
            cols: idx.len(),
        })
    }
}
