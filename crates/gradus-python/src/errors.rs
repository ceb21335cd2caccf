//! gradus errors as Python exceptions: a wrong type is a `TypeError`, everything
//! else (a bad value, an unknown name or key, state that does not fit) a `ValueError`.
//! The message is the library's own, which names the culprit and its valid range.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::PyErr;

/// Converts a core error into the Python exception a Python user expects.
pub fn core(e: gradus::Error) -> PyErr {
    match e {
        gradus::Error::WrongType { .. } => PyTypeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Converts a problem error (unknown problem, bad option) into a `ValueError`.
pub fn problem(e: gradus_problems::ProblemError) -> PyErr {
    PyValueError::new_err(e.to_string())
}
