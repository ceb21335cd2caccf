//! Inputs and class labels split into training and test sets, for the classifiers.

use crate::data::{train_test_split, Dataset, Split};
use crate::error::ProblemError;
use gradus::Float;

/// A classification data set in the element type `T`: scaled inputs, labels and the split.
#[derive(Debug, Clone)]
pub struct ClassificationData<T> {
    /// Number of inputs per row.
    pub inputs: usize,
    /// Number of classes; labels lie in `0..classes`.
    pub classes: usize,
    /// Training inputs, row-major, `n_train × inputs`.
    pub train_x: Vec<T>,
    /// Training labels.
    pub train_labels: Vec<usize>,
    /// Test inputs, row-major.
    pub test_x: Vec<T>,
    /// Test labels.
    pub test_labels: Vec<usize>,
    /// The split (row indices into the original data set).
    pub split: Split,
}

impl<T: Float> ClassificationData<T> {
    /// Builds the training and test sets from `data`, multiplying every input by
    /// `scale`; the target must hold whole numbers in `0..classes` (`classes ≥ 2`).
    pub fn new(
        data: &Dataset,
        classes: usize,
        scale: f64,
        test_fraction: f64,
        seed: u64,
    ) -> Result<Self, ProblemError> {
        if classes < 2 {
            return Err(ProblemError::InvalidSetting {
                param: "classes".into(),
                value: classes.to_string(),
                expected: "at least 2".into(),
            });
        }
        let labels = data
            .y
            .iter()
            .enumerate()
            .map(|(r, &v)| {
                if v >= 0.0 && v < classes as f64 && v.fract() == 0.0 {
                    Ok(v as usize)
                } else {
                    Err(ProblemError::InvalidSetting {
                        param: format!("{} of {} row {}", data.target, data.source, r + 1),
                        value: v.to_string(),
                        expected: format!("a class label 0..{}", classes - 1),
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let split = train_test_split(data.rows, test_fraction, seed)?;
        let gather_x = |rows: &[usize]| -> Vec<T> {
            rows.iter()
                .flat_map(|&r| data.row(r).iter().map(|&v| T::of(v * scale)))
                .collect()
        };
        Ok(ClassificationData {
            inputs: data.cols,
            classes,
            train_x: gather_x(&split.train),
            train_labels: split.train.iter().map(|&r| labels[r]).collect(),
            test_x: gather_x(&split.test),
            test_labels: split.test.iter().map(|&r| labels[r]).collect(),
            split,
        })
    }

    /// Inputs of training row `r`.
    #[inline]
    pub fn train_row(&self, r: usize) -> &[T] {
        &self.train_x[r * self.inputs..(r + 1) * self.inputs]
    }

    /// Inputs of test row `r`.
    #[inline]
    pub fn test_row(&self, r: usize) -> &[T] {
        &self.test_x[r * self.inputs..(r + 1) * self.inputs]
    }
}
