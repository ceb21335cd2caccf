//! The core's catalog of optimizers and schedules (names, summaries, hyperparameter
//! tables), from which the Python package generates one class per algorithm, so an
//! algorithm new to the core appears in Python without a line of Python.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The catalog as JSON: `{"optimizers": [...], "schedules": [...]}`, each algorithm
/// with `name`, `summary`, `kind` and `params` (the hyperparameter table: `name`,
/// `kind`, `default`, `required`, range, `doc`, ...) in positional order.
#[pyfunction]
pub fn catalog_json() -> PyResult<String> {
    let all = serde_json::json!({
        "optimizers": gradus::catalog::optimizers(),
        "schedules": gradus::catalog::schedules(),
    });
    serde_json::to_string(&all).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// The kinds of optimizer that get a Python class: all of them (closure optimizers
/// are stepped with a Python closure, see [`crate::closure`]).
pub const STEPPABLE_KINDS: &[&str] = &["elementwise", "tensor", "closure", "combinator"];

/// [`STEPPABLE_KINDS`], for the Python package.
#[pyfunction]
pub fn steppable_kinds() -> Vec<&'static str> {
    STEPPABLE_KINDS.to_vec()
}
