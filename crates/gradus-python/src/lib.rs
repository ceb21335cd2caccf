//! Python bindings of gradus, the native module `gradus._gradus` under the Python
//! package `gradus` (see `python/gradus`).
//!
//! * [`optimizer`]: `gradus.Optimizer`, stepping named NumPy arrays in place.
//! * [`tensors`]: the zero-copy torch tensor step behind `gradus.torch`.
//! * [`schedule`]: `gradus.Schedule`, driving an optimizer's lr.
//! * [`problem`]: `gradus.problems` and `gradus.run`.
//! * [`clipping`]: `gradus.clip_grad_norm` and `gradus.clip_grad_value`.
//! * [`algorithms`]: the core's catalog, which the Python classes are made from.
//!
//! Every step releases the GIL. Errors are Python exceptions carrying the core's
//! message, which names the bad input ([`errors`]).

pub mod algorithms;
pub mod clipping;
pub mod closure;
pub mod errors;
pub mod optimizer;
pub mod problem;
pub mod schedule;
pub mod tensors;
pub mod values;

use pyo3::prelude::*;

/// `gradus.build(spec, *, dtype=None, nonfinite="error")`: an optimizer from a spec
/// string such as `"adam(lr=1e-3, betas=(0.9, 0.99))"`.
#[pyfunction]
#[pyo3(signature = (spec, *, dtype=None, nonfinite="error"))]
fn build(spec: &str, dtype: Option<&str>, nonfinite: &str) -> PyResult<optimizer::PyOptimizer> {
    let call = gradus::spec::parse(spec).map_err(errors::core)?;
    optimizer::PyOptimizer::from_call(&call, dtype, nonfinite)
}

/// The native module.
#[pymodule]
fn _gradus(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<optimizer::PyOptimizer>()?;
    m.add_class::<schedule::PySchedule>()?;
    m.add_class::<problem::PyProblem>()?;
    m.add_function(wrap_pyfunction!(build, m)?)?;
    m.add_function(wrap_pyfunction!(problem::run, m)?)?;
    m.add_function(wrap_pyfunction!(problem::problem_names, m)?)?;
    m.add_function(wrap_pyfunction!(clipping::clip_grad_norm, m)?)?;
    m.add_function(wrap_pyfunction!(clipping::clip_grad_value, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::catalog_json, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::steppable_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(tensors::step_tensors, m)?)?;
    m.add_function(wrap_pyfunction!(tensors::step_group, m)?)?;
    m.add_function(wrap_pyfunction!(tensors::tensor_states, m)?)?;
    m.add_function(wrap_pyfunction!(tensors::load_tensor_states, m)?)?;
    m.add_function(wrap_pyfunction!(tensors::optimizer_extras, m)?)?;
    Ok(())
}
