//! Closure optimizers (L-BFGS, Newton) from Python: the loss closure and the Hessian
//! are Python callables the Rust optimizer calls back while it steps.
//!
//! The core hands a closure the trial parameters as slices; a Python closure reads
//! the parameters themselves (as a torch closure reads the model), so every call
//! first writes the trial values into the parameters' memory. The optimizer works on
//! copies of the parameters meanwhile (its `&mut` slices must not alias that memory),
//! and the copies are written back once the step ends: the result on success, the
//! starting values when the step fails, so a failed step leaves the arrays unchanged.
//!
//! The GIL stays held: every evaluation runs Python code anyway.

use crate::errors;
use gradus::optim::{Closure, Optimizer, OptimizerKind, Param, StepOutcome};
use gradus::Float;
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// One parameter of a closure step: a writable C-contiguous array of `T`.
pub(crate) struct Target<'py, T: Element> {
    pub(crate) name: String,
    pub(crate) array: Bound<'py, PyArrayDyn<T>>,
}

impl<T: Float + Element> Target<'_, T> {
    fn len(&self) -> usize {
        self.array.len()
    }

    /// Writes `values` into the array's memory.
    fn write(&self, values: &[T]) {
        debug_assert_eq!(values.len(), self.len());
        // SAFETY: `check_target` made sure the array is writable and C-contiguous with
        // `len` elements of `T`; no Rust reference into it is alive (the optimizer
        // steps copies), and the GIL is held, so no Python code runs meanwhile.
        unsafe {
            std::ptr::copy_nonoverlapping(values.as_ptr(), self.array.data(), values.len());
        }
    }

    fn read(&self) -> PyResult<Vec<T>> {
        Ok(self.array.try_readonly()?.as_slice()?.to_vec())
    }
}

/// Checks that `a` can be a closure step's parameter `name` of element type `T`.
pub(crate) fn check_target<'py, T: Float + Element>(
    a: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<Target<'py, T>> {
    let array = a.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "tensor '{name}': the parameter must be a numpy.ndarray of {}, got {}",
            crate::optimizer::dtype_name(T::DTYPE),
            a.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })?;
    if !array.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "tensor '{name}': the parameter is not C-contiguous; pass numpy.ascontiguousarray(...) (and write the result back)"
        )));
    }
    if array.try_readwrite().is_err() {
        return Err(PyValueError::new_err(format!(
            "tensor '{name}': the parameter is read-only (flags.writeable is False)"
        )));
    }
    Ok(Target {
        name: name.to_string(),
        array: array.clone(),
    })
}

/// The flat values of gradient `name` from a closure's result, of element type `T`.
fn read_grad<T: Float + Element>(g: &Bound<'_, PyAny>, name: &str, len: usize) -> PyResult<Vec<T>> {
    let arr = g.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "the closure's gradient of '{name}' must be a numpy.ndarray of {}, got {}",
            crate::optimizer::dtype_name(T::DTYPE),
            g.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })?;
    if arr.len() != len {
        return Err(PyValueError::new_err(format!(
            "the closure's gradient of '{name}' has {} elements, the parameter {len}",
            arr.len()
        )));
    }
    Ok(arr.try_readonly()?.as_array().iter().copied().collect())
}

/// Python callables as a core [`Closure`]: `evaluate()` returns `(loss, grads)` with
/// `grads` a dict `{name: array}`, a list of arrays in the step's order, or (one
/// parameter) an array; `hessian()` returns the `n × n` Hessian of all parameters,
/// flattened in the step's order.
pub(crate) struct PyClosure<'a, 'py, T: Element> {
    pub(crate) targets: &'a [Target<'py, T>],
    pub(crate) evaluate: Option<Bound<'py, PyAny>>,
    pub(crate) hessian: Option<Bound<'py, PyAny>>,
    /// The first Python exception a callback raised (re-raised after the step).
    pub(crate) error: Option<PyErr>,
    /// The loss of the first evaluation (torch's `step(closure)` returns it).
    pub(crate) first_loss: Option<Py<PyAny>>,
}

impl<'py, T: Float + Element> PyClosure<'_, 'py, T> {
    fn fail(&mut self, e: PyErr) -> gradus::Error {
        let message = e.to_string();
        self.error.get_or_insert(e);
        gradus::Error::Unsupported(format!("the closure raised {message}"))
    }

    fn place(&self, values: &[&[T]]) -> PyResult<()> {
        if values.len() != self.targets.len() {
            return Err(PyValueError::new_err(format!(
                "closure step: {} tensors, {} parameters",
                values.len(),
                self.targets.len()
            )));
        }
        for (t, v) in self.targets.iter().zip(values) {
            if t.len() != v.len() {
                return Err(PyValueError::new_err(format!(
                    "tensor '{}' has {} elements, the optimizer's state {}",
                    t.name,
                    t.len(),
                    v.len()
                )));
            }
            t.write(v);
        }
        Ok(())
    }

    fn call_evaluate(&mut self, values: &[&[T]], grads: &mut [&mut [T]]) -> PyResult<f64> {
        self.place(values)?;
        let f = self.evaluate.as_ref().ok_or_else(|| {
            PyValueError::new_err("this optimizer re-evaluates the loss: pass a closure")
        })?;
        let out = f.call0()?;
        let pair = out
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| {
                PyTypeError::new_err(format!(
                    "the closure must return (loss, gradients), got {}",
                    out.repr().map(|r| r.to_string()).unwrap_or_default()
                ))
            })?;
        let loss_obj = pair.get_item(0)?;
        let loss: f64 = loss_obj.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "the closure's loss must be a number, got {loss_obj}"
            ))
        })?;
        if self.first_loss.is_none() {
            self.first_loss = Some(loss_obj.unbind());
        }
        let g = pair.get_item(1)?;
        for (i, (t, out)) in self.targets.iter().zip(grads.iter_mut()).enumerate() {
            let gi = if let Ok(d) = g.cast::<PyDict>() {
                d.get_item(&t.name)?.ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "the closure returned no gradient for '{}'",
                        t.name
                    ))
                })?
            } else if let Ok(l) = g.cast::<PyList>() {
                l.get_item(i)?
            } else if let Ok(l) = g.cast::<PyTuple>() {
                l.get_item(i)?
            } else if self.targets.len() == 1 {
                g.clone()
            } else {
                return Err(PyTypeError::new_err(
                    "the closure's gradients must be a dict {name: array} or a list of arrays",
                ));
            };
            out.copy_from_slice(&read_grad::<T>(&gi, &t.name, out.len())?);
        }
        Ok(loss)
    }

    fn call_hessian(&mut self, values: &[&[T]], out: &mut [T]) -> PyResult<bool> {
        let Some(h) = self.hessian.clone() else {
            return Ok(false);
        };
        self.place(values)?;
        let m = h.call0()?;
        let n = values.iter().map(|v| v.len()).sum::<usize>();
        let flat: Vec<T> = if let Ok(a) = m.cast::<PyArrayDyn<T>>() {
            a.try_readonly()?.as_array().iter().copied().collect()
        } else if let Ok(a) = m.cast::<PyArrayDyn<f64>>() {
            a.try_readonly()?
                .as_array()
                .iter()
                .map(|v| T::of(*v))
                .collect()
        } else {
            return Err(PyTypeError::new_err(format!(
                "the Hessian must be a numpy.ndarray, got {}",
                m.repr().map(|r| r.to_string()).unwrap_or_default()
            )));
        };
        if flat.len() != out.len() {
            return Err(PyValueError::new_err(format!(
                "the Hessian has {} entries, expected {n}×{n} = {}",
                flat.len(),
                out.len()
            )));
        }
        out.copy_from_slice(&flat);
        Ok(true)
    }
}

impl<T: Float + Element> Closure<T> for PyClosure<'_, '_, T> {
    fn evaluate(&mut self, values: &[&[T]], grads: &mut [&mut [T]]) -> gradus::Result<f64> {
        self.call_evaluate(values, grads).map_err(|e| self.fail(e))
    }

    fn hessian(&mut self, values: &[&[T]], out: &mut [T]) -> gradus::Result<bool> {
        self.call_hessian(values, out).map_err(|e| self.fail(e))
    }
}

/// One `step(closure)` of `opt` over `targets`, with gradients `grads` (one per
/// target, or `None`: zeros, which closure optimizers that evaluate the loss
/// themselves never read). An optimizer that only needs gradients gets them from one
/// evaluation of the closure first, as torch's optimizers do. Returns the outcome and
/// the first loss the closure returned.
pub(crate) fn step_closure<T: Float + Element>(
    opt: &mut Box<dyn Optimizer<T>>,
    targets: &[Target<'_, T>],
    grads: Option<Vec<Vec<T>>>,
    evaluate: Option<Bound<'_, PyAny>>,
    hessian: Option<Bound<'_, PyAny>>,
) -> PyResult<(StepOutcome, Option<Py<PyAny>>)> {
    let mut values: Vec<Vec<T>> = targets.iter().map(Target::read).collect::<PyResult<_>>()?;
    let mut closure = PyClosure {
        targets,
        evaluate,
        hessian,
        error: None,
        first_loss: None,
    };
    let mut grads = match grads {
        Some(g) => g,
        None => values.iter().map(|v| vec![T::zero(); v.len()]).collect(),
    };
    if opt.kind() != OptimizerKind::Closure && closure.evaluate.is_some() {
        let vs: Vec<&[T]> = values.iter().map(Vec::as_slice).collect();
        let mut gs: Vec<&mut [T]> = grads.iter_mut().map(Vec::as_mut_slice).collect();
        closure.call_evaluate(&vs, &mut gs)?;
    }
    let result = {
        let mut params: Vec<Param<'_, T>> = targets
            .iter()
            .zip(values.iter_mut())
            .zip(&grads)
            .map(|((t, v), g)| Param::with_shape(&t.name, v, g, t.array.shape()))
            .collect();
        opt.step_with(&mut params, &mut closure)
    };
    // The result on success, the starting values (untouched copies) otherwise.
    for (t, v) in targets.iter().zip(&values) {
        t.write(v);
    }
    if let Some(e) = closure.error {
        return Err(e);
    }
    let outcome = result.map_err(errors::core)?;
    Ok((outcome, closure.first_loss))
}
