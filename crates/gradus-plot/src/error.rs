//! The error type of every chart function.

use std::path::PathBuf;

/// Why a chart could not be made. Every variant names the file that was asked for.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The file name does not end in an extension this chart can write.
    #[error("{path}: unsupported image format; expected a file name ending in {expected}")]
    UnsupportedFormat {
        /// The requested output file.
        path: PathBuf,
        /// The accepted extensions, e.g. `.png or .svg`.
        expected: &'static str,
    },
    /// The data or options cannot be drawn (empty data, a zero-width range, a bad size…).
    #[error("{path}: {reason}")]
    InvalidInput {
        /// The requested output file.
        path: PathBuf,
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// The drawing library or an image encoder failed.
    #[error("{path}: cannot render the chart: {reason}")]
    Render {
        /// The requested output file.
        path: PathBuf,
        /// The underlying error message.
        reason: String,
    },
    /// The image could not be written.
    #[error("{path}: cannot write the image: {source}")]
    Io {
        /// The requested output file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
}

impl PlotError {
    pub(crate) fn invalid(path: &std::path::Path, reason: impl Into<String>) -> Self {
        PlotError::InvalidInput {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub(crate) fn render(path: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        PlotError::Render {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}
