//! The data sets compiled into the binary: Boston housing and the 8×8 digits.

use super::csv_table::{parse_csv, read_lines};
use super::Dataset;
use crate::error::ProblemError;
use flate2::read::GzDecoder;
use std::io::Read;

/// The name errors give for the embedded Boston file.
pub const BOSTON_FILE: &str = "boston_house_prices.csv";
/// The name errors give for the embedded digits file.
pub const DIGITS_FILE: &str = "digits.csv.gz";

const BOSTON_CSV: &[u8] = include_bytes!("../../../../data/boston_house_prices.csv");
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../../../data/digits.csv.gz");

/// The Boston housing data (Harrison & Rubinfeld, 1978; see `data/boston_house_prices.rst`):
/// 506 rows, the 13 features CRIM … LSTAT and the target MEDV (median home value in
/// $1000s), unstandardized.
pub fn boston() -> Result<Dataset, ProblemError> {
    parse_csv(BOSTON_CSV, BOSTON_FILE, "MEDV", None)
}

/// The 8×8 handwritten digits (UCI, as shipped with scikit-learn; see `data/digits.rst`):
/// 1797 rows of 64 pixel intensities 0–16, named `pixel_R_C` (row, column), and the
/// target `digit` (the class, 0–9, as a number).
pub fn digits() -> Result<Dataset, ProblemError> {
    let mut text = Vec::new();
    GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_end(&mut text)
        .map_err(|e| ProblemError::Malformed {
            file: DIGITS_FILE.into(),
            line: 0,
            message: format!("cannot decompress: {e}"),
        })?;
    let lines = read_lines(&text, DIGITS_FILE)?;
    let cols = 64;
    let mut x = Vec::with_capacity(lines.len() * cols);
    let mut y = Vec::with_capacity(lines.len());
    let bad = |line: u64, message: String| ProblemError::Malformed {
        file: DIGITS_FILE.into(),
        line,
        message,
    };
    for (number, fields) in &lines {
        if fields.len() != cols + 1 {
            return Err(ProblemError::RaggedRow {
                file: DIGITS_FILE.into(),
                line: *number,
                expected: cols + 1,
                got: fields.len(),
            });
        }
        for f in fields {
            let v: f64 = f
                .parse()
                .map_err(|_| bad(*number, format!("'{f}' is not a number")))?;
            x.push(v);
        }
        // The label was pushed last; move it to y.
        y.extend(x.pop());
    }
    Ok(Dataset {
        source: DIGITS_FILE.into(),
        names: (0..cols)
            .map(|j| format!("pixel_{}_{}", j / 8, j % 8))
            .collect(),
        target: "digit".into(),
        x,
        y,
        rows: lines.len(),
        cols,
    })
}
