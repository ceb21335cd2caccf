//! The seeded train/test split.

use crate::error::ProblemError;
use crate::portable_random::{rng, shuffle, SPLIT_STREAM};

/// Row indices of a train/test split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training rows, in shuffled order.
    pub train: Vec<usize>,
    /// Test rows, in shuffled order.
    pub test: Vec<usize>,
}

/// Splits `rows` rows at random: ⌈rows·test_fraction⌉ test rows (as scikit-learn's
/// `train_test_split` counts them: 102 of Boston's 506, 360 of the 1797 digits), the
/// rest for training.
///
/// The rows are shuffled by Fisher–Yates with a ChaCha8 generator seeded from `seed`
/// (the same on every machine); the test set is the first ⌈rows·test_fraction⌉ of the
/// permutation. `test_fraction` must lie in (0, 1) and leave both sets non-empty.
pub fn train_test_split(rows: usize, test_fraction: f64, seed: u64) -> Result<Split, ProblemError> {
    let too_few = || ProblemError::TooFewRows {
        rows,
        test_fraction,
    };
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(ProblemError::InvalidSetting {
            param: "test_fraction".into(),
            value: test_fraction.to_string(),
            expected: "a number in (0, 1)".into(),
        });
    }
    let n_test = (rows as f64 * test_fraction).ceil() as usize;
    if n_test == 0 || n_test >= rows {
        return Err(too_few());
    }
    let mut perm: Vec<usize> = (0..rows).collect();
    shuffle(&mut rng(seed, SPLIT_STREAM), &mut perm);
    let train = perm.split_off(n_test);
    Ok(Split { train, test: perm })
}
