//! Errors of the problems crate: every variant names the offending input and what
//! would have been valid.

use std::path::PathBuf;

/// Everything that can go wrong when building a problem or reading its data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemError {
    /// A problem name that is not in [`crate::PROBLEMS`].
    #[error("unknown problem '{name}'{}; valid: {}", gradus::error::did_you_mean(.name, .valid), .valid.join(", "))]
    UnknownProblem {
        /// The name given.
        name: String,
        /// Every valid problem name.
        valid: Vec<String>,
    },
    /// `--dim` given for a problem whose dimension is fixed.
    #[error("{problem} is {dim}-D; --dim {got} is not valid (leave --dim out)")]
    FixedDim {
        /// The problem.
        problem: String,
        /// Its fixed dimension.
        dim: usize,
        /// The dimension asked for.
        got: usize,
    },
    /// `--dim` out of range for an n-dimensional problem.
    #[error("--dim {got} is not valid for {problem}: expected {expected}")]
    InvalidDim {
        /// The problem.
        problem: String,
        /// The dimension asked for.
        got: usize,
        /// The valid range.
        expected: String,
    },
    /// An option the problem does not take (e.g. `--data` for `rosenbrock`).
    #[error("{problem} does not take {option}; it takes: {takes}")]
    OptionNotApplicable {
        /// The problem.
        problem: String,
        /// The option given (`--data`, `--hidden`, ...).
        option: String,
        /// The options it does take.
        takes: String,
    },
    /// An option value out of range (`--hidden 0`, `--test-fraction 1.5`, ...).
    #[error("invalid {option} = {value} for {problem}: expected {expected}")]
    InvalidOption {
        /// The problem.
        problem: String,
        /// The option.
        option: String,
        /// The rejected value.
        value: String,
        /// The valid range.
        expected: String,
    },
    /// A required option is missing (`--data` or `--target` for `linreg`).
    #[error("{problem} needs {option}: {hint}")]
    MissingOption {
        /// The problem.
        problem: String,
        /// The missing option.
        option: String,
        /// What to give.
        hint: String,
    },
    /// A starting point of the wrong length.
    #[error("the start point has {got} values but the problem has {expected} parameters")]
    StartLength {
        /// The problem's dimension.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A file could not be read.
    #[error("cannot read {}: {message}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A CSV file has no rows at all, or a header but no data rows.
    #[error("{file}: {message}")]
    EmptyFile {
        /// The file.
        file: String,
        /// What is missing.
        message: String,
    },
    /// A CSV file has no header row (its first lines are all numbers).
    #[error("{file}: no header row: line {line} holds only numbers; the first line (or the second, after a count line) must name the columns")]
    MissingHeader {
        /// The file.
        file: String,
        /// The line that should have been the header.
        line: u64,
    },
    /// A requested column is not in the header.
    #[error("{file}: no column '{column}' in the header; columns: {}", .available.join(", "))]
    MissingColumn {
        /// The file.
        file: String,
        /// The column asked for.
        column: String,
        /// The header's (or data set's) columns.
        available: Vec<String>,
    },
    /// A row with a different number of fields than the header.
    #[error("{file}: line {line} has {got} fields but the header has {expected}")]
    RaggedRow {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Number of header fields.
        expected: usize,
        /// Number of fields on this line.
        got: usize,
    },
    /// A cell that is not a finite number.
    #[error("{file}: line {line}, column {column} ('{name}'): '{value}' is not a finite number")]
    NonNumeric {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// 1-based column number.
        column: usize,
        /// The column's name.
        name: String,
        /// The cell's text.
        value: String,
    },
    /// A file the CSV reader could not tokenise (e.g. invalid UTF-8).
    #[error("{file}: line {line}: {message}")]
    Malformed {
        /// The file.
        file: String,
        /// 1-based line number (0 if unknown).
        line: u64,
        /// The reader's message.
        message: String,
    },
    /// Two columns of a header have the same name.
    #[error("{file}: column name '{column}' appears twice in the header (columns {first} and {second}); names must be unique")]
    DuplicateColumn {
        /// The file.
        file: String,
        /// The name.
        column: String,
        /// 1-based position of its first appearance.
        first: usize,
        /// 1-based position of its second appearance.
        second: usize,
    },
    /// A column whose spread is beyond f64 (values differing by more than ~1.8e308).
    #[error("{file}: column '{column}' spans more than f64 can hold (its standard deviation overflows); rescale it or leave it out with --features")]
    ColumnOutOfRange {
        /// The file or data set.
        file: String,
        /// The column.
        column: String,
    },
    /// A column whose values are all equal cannot be standardized.
    #[error("{file}: column '{column}' is constant ({value}); it cannot be standardized: leave it out with --features")]
    ConstantColumn {
        /// The file or data set.
        file: String,
        /// The column.
        column: String,
        /// Its only value.
        value: f64,
    },
    /// No feature columns are left to fit.
    #[error("{file}: no numeric feature columns besides the target '{target}'")]
    NoFeatures {
        /// The file.
        file: String,
        /// The target column.
        target: String,
    },
    /// Too few rows to split into non-empty training and test sets.
    #[error("{rows} rows cannot be split with test fraction {test_fraction}: both the training and the test set need at least one row")]
    TooFewRows {
        /// Number of rows.
        rows: usize,
        /// The test fraction.
        test_fraction: f64,
    },
    /// The least-squares normal equations are singular (collinear features).
    #[error("least squares: {0}")]
    Singular(String),
    /// An invalid sampler or noise setting.
    #[error("invalid {param} = {value}: expected {expected}")]
    InvalidSetting {
        /// The setting (`batch_size`, `sigma`, ...).
        param: String,
        /// The rejected value.
        value: String,
        /// The valid range.
        expected: String,
    },
}
