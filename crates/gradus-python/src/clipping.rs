//! Gradient clipping of NumPy arrays in place, as torch.nn.utils.clip_grad_norm_ and
//! clip_grad_value_.

use crate::errors;
use numpy::{PyArrayDyn, PyArrayMethods, PyReadwriteArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The gradients as writable, contiguous arrays of one dtype.
enum Grads<'py> {
    F32(Vec<PyReadwriteArrayDyn<'py, f32>>),
    F64(Vec<PyReadwriteArrayDyn<'py, f64>>),
}

fn writable<'py>(grads: Vec<Bound<'py, PyAny>>) -> PyResult<Grads<'py>> {
    fn all<'py, T: numpy::Element>(
        grads: &[Bound<'py, PyAny>],
    ) -> PyResult<Option<Vec<PyReadwriteArrayDyn<'py, T>>>> {
        let mut out = Vec::with_capacity(grads.len());
        for (i, g) in grads.iter().enumerate() {
            let Ok(a) = g.cast::<PyArrayDyn<T>>() else {
                return Ok(None);
            };
            if !a.is_contiguous() {
                return Err(PyValueError::new_err(format!(
                    "gradient {i} is not contiguous"
                )));
            }
            out.push(a.try_readwrite().map_err(|e| {
                PyValueError::new_err(format!("gradient {i}: {e} (read-only or given twice)"))
            })?);
        }
        Ok(Some(out))
    }
    if let Some(g) = all::<f64>(&grads)? {
        return Ok(Grads::F64(g));
    }
    if let Some(g) = all::<f32>(&grads)? {
        return Ok(Grads::F32(g));
    }
    Err(PyTypeError::new_err(
        "gradients must be numpy arrays, all float32 or all float64",
    ))
}

macro_rules! slices {
    ($v:expr) => {
        $v.iter_mut()
            .map(|a| a.as_slice_mut())
            .collect::<Result<Vec<_>, _>>()?
    };
}

/// Scales the gradients together, in place, so their global `norm_type`-norm is at
/// most `max_norm`; returns the norm before clipping.
#[pyfunction]
#[pyo3(signature = (grads, max_norm, norm_type=2.0))]
pub fn clip_grad_norm(
    py: Python<'_>,
    grads: Vec<Bound<'_, PyAny>>,
    max_norm: f64,
    norm_type: f64,
) -> PyResult<f64> {
    match writable(grads)? {
        Grads::F32(mut v) => {
            let mut s = slices!(v);
            py.detach(|| gradus::clip::clip_grad_norm(&mut s, max_norm, norm_type))
        }
        Grads::F64(mut v) => {
            let mut s = slices!(v);
            py.detach(|| gradus::clip::clip_grad_norm(&mut s, max_norm, norm_type))
        }
    }
    .map_err(errors::core)
}

/// Clamps every gradient element to `[-clip_value, clip_value]`, in place.
#[pyfunction]
pub fn clip_grad_value(
    py: Python<'_>,
    grads: Vec<Bound<'_, PyAny>>,
    clip_value: f64,
) -> PyResult<()> {
    match writable(grads)? {
        Grads::F32(mut v) => {
            let mut s = slices!(v);
            py.detach(|| gradus::clip::clip_grad_value(&mut s, clip_value))
        }
        Grads::F64(mut v) => {
            let mut s = slices!(v);
            py.detach(|| gradus::clip::clip_grad_value(&mut s, clip_value))
        }
    }
    .map_err(errors::core)
}
