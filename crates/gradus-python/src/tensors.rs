//! Stepping CPU torch tensors in place through zero-copy views of their memory, for
//! `gradus.torch`. torch is never imported here: a tensor is read through its Python
//! methods (`data_ptr`, `numel`, `is_contiguous`, ...), so `import gradus` needs no
//! torch.

use crate::errors;
use crate::optimizer::{tensor_state_tuple, with_typed, PyOptimizer, Typed};
use gradus::optim::{OptimizerState, Param, StepOutcome, TensorState};
use gradus::Float;
use numpy::{Element, PyArrayDyn, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Where one tensor's elements live.
#[derive(Clone, Copy)]
struct View {
    ptr: usize,
    len: usize,
}

/// Checks that `t` is a dense, contiguous CPU tensor of `dtype` (a `torch.dtype`) and
/// returns where its elements are.
fn view(
    t: &Bound<'_, PyAny>,
    dtype: &Bound<'_, PyAny>,
    layout: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<View> {
    if !t.getattr("is_cpu")?.extract::<bool>()? {
        return Err(PyValueError::new_err(format!(
            "{what} is on {}; gradus.torch steps CPU tensors only",
            t.getattr("device")?.str()?
        )));
    }
    if !t.getattr("layout")?.is(layout) {
        return Err(PyValueError::new_err(format!(
            "{what} has layout {}; gradus.torch steps dense (strided) tensors only",
            t.getattr("layout")?.str()?
        )));
    }
    let dt = t.getattr("dtype")?;
    if !dt.is(dtype) {
        return Err(PyTypeError::new_err(format!(
            "{what} is {}, expected {} (the parameter's dtype)",
            dt.str()?,
            dtype.str()?
        )));
    }
    if !t.call_method0("is_contiguous")?.extract::<bool>()? {
        return Err(PyValueError::new_err(format!(
            "{what} is not contiguous; gradus.torch steps contiguous tensors only (use .contiguous())"
        )));
    }
    Ok(View {
        ptr: t.call_method0("data_ptr")?.extract()?,
        len: t.call_method0("numel")?.extract()?,
    })
}

/// Refuses memory that a step would write through two names, or read while writing
/// (a parameter overlapping another parameter or any gradient).
fn check_disjoint(params: &[View], grads: &[View], keys: &[usize]) -> PyResult<()> {
    let span = |v: &View| (v.ptr, v.ptr + v.len);
    let mut order: Vec<usize> = (0..params.len()).filter(|&i| params[i].len > 0).collect();
    order.sort_unstable_by_key(|&i| params[i].ptr);
    for w in order.windows(2) {
        if span(&params[w[0]]).1 > params[w[1]].ptr {
            return Err(PyValueError::new_err(format!(
                "parameters {} and {} share memory; every parameter must have its own storage",
                keys[w[0]], keys[w[1]]
            )));
        }
    }
    for (gi, g) in grads.iter().enumerate().filter(|(_, g)| g.len > 0) {
        let (g0, g1) = span(g);
        // The last parameter starting before the gradient's end is the only candidate.
        let pos = order.partition_point(|&i| params[i].ptr < g1);
        if pos > 0 {
            let i = order[pos - 1];
            if span(&params[i]).1 > g0 {
                return Err(PyValueError::new_err(format!(
                    "the gradient of parameter {} shares memory with parameter {}",
                    keys[gi], keys[i]
                )));
            }
        }
    }
    Ok(())
}

fn step_views<T: Float>(
    py: Python<'_>,
    opt: &mut Box<dyn gradus::optim::Optimizer<T>>,
    names: &[String],
    params: &[View],
    grads: &[View],
) -> PyResult<StepOutcome> {
    let mut ps: Vec<Param<'_, T>> = Vec::with_capacity(params.len());
    for ((name, p), g) in names.iter().zip(params).zip(grads) {
        if p.len != g.len {
            return Err(PyValueError::new_err(format!(
                "parameter {name} has {} elements but its gradient has {}",
                p.len, g.len
            )));
        }
        // SAFETY: each view is a live, contiguous CPU tensor of `T` (checked by `view`;
        // the caller holds the tensors), parameters are pairwise disjoint and disjoint
        // from every gradient (`check_disjoint`), so the mutable slices alias nothing.
        // An empty tensor may have a null data pointer, hence the dangling one.
        let (value, grad) = unsafe {
            let pp = if p.len == 0 {
                std::ptr::NonNull::<T>::dangling().as_ptr()
            } else {
                p.ptr as *mut T
            };
            let gp = if g.len == 0 {
                std::ptr::NonNull::<T>::dangling().as_ptr()
            } else {
                g.ptr as *const T
            };
            (
                std::slice::from_raw_parts_mut(pp, p.len),
                std::slice::from_raw_parts(gp, g.len),
            )
        };
        ps.push(Param::new(name, value, grad));
    }
    py.detach(|| opt.step(&mut ps)).map_err(errors::core)
}

/// Steps CPU torch tensors `params[i]` with `grads[i]`, in place; tensor `i` keeps its
/// state under the name `str(keys[i])`. `dtype` is `torch.float32` or
/// `torch.float64` and `strided` is `torch.strided` (passed in, so this crate never
/// imports torch). Returns whether the update was applied.
#[pyfunction]
pub fn step_tensors(
    py: Python<'_>,
    optimizer: &Bound<'_, PyOptimizer>,
    keys: Vec<usize>,
    params: &Bound<'_, PyList>,
    grads: &Bound<'_, PyList>,
    dtype: &Bound<'_, PyAny>,
    strided: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    if keys.len() != params.len() || keys.len() != grads.len() {
        return Err(PyValueError::new_err(format!(
            "step_tensors: {} keys, {} parameters and {} gradients",
            keys.len(),
            params.len(),
            grads.len()
        )));
    }
    let dtype_text: String = dtype.str()?.extract()?;
    let elem = match dtype_text.as_str() {
        "torch.float32" => gradus::DType::F32,
        "torch.float64" => gradus::DType::F64,
        other => {
            return Err(PyTypeError::new_err(format!(
                "gradus.torch steps float32 and float64 parameters, not {other}"
            )))
        }
    };
    let mut pv = Vec::with_capacity(keys.len());
    let mut gv = Vec::with_capacity(keys.len());
    for ((k, p), g) in keys.iter().zip(params.iter()).zip(grads.iter()) {
        pv.push(view(&p, dtype, strided, &format!("parameter {k}"))?);
        gv.push(view(
            &g,
            dtype,
            strided,
            &format!("the gradient of parameter {k}"),
        )?);
    }
    check_disjoint(&pv, &gv, &keys)?;
    let names: Vec<String> = keys.iter().map(usize::to_string).collect();
    let opt = optimizer.borrow();
    opt.settle(elem, &names.first().cloned().unwrap_or_default())?;
    let mut inner = opt.lock();
    let outcome = match &mut inner.typed {
        Typed::F32(o) => step_views(py, o, &names, &pv, &gv)?,
        Typed::F64(o) => step_views(py, o, &names, &pv, &gv)?,
    };
    Ok(outcome == StepOutcome::Applied)
}

/// The per-tensor state as a list of `(name, step, {slot: flat array}, scalars)`.
#[pyfunction]
pub fn tensor_states<'py>(
    py: Python<'py>,
    optimizer: &Bound<'py, PyOptimizer>,
) -> PyResult<Bound<'py, PyList>> {
    let opt = optimizer.borrow();
    let inner = opt.lock();
    let out = PyList::empty(py);
    with_typed!(&inner.typed, o => {
        let s = o.state();
        for t in &s.tensors {
            out.append(tensor_state_tuple(py, &s.slot_names, t)?)?;
        }
    });
    Ok(out)
}

fn merge_states<T: Float + Element>(
    opt: &mut Box<dyn gradus::optim::Optimizer<T>>,
    states: &Bound<'_, PyList>,
) -> PyResult<()> {
    let mut s: OptimizerState<T> = opt.state();
    for entry in states.iter() {
        let (name, step, slots, scalars): (String, u64, Bound<'_, PyDict>, Vec<f64>) =
            entry.extract()?;
        let mut buffers = Vec::with_capacity(s.slot_names.len());
        for slot in &s.slot_names {
            let a = slots.get_item(slot)?.ok_or_else(|| {
                PyValueError::new_err(format!("the state of parameter {name} has no '{slot}'"))
            })?;
            let arr = a.cast::<PyArrayDyn<T>>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "the state '{slot}' of parameter {name} must be a {} array",
                    crate::optimizer::dtype_name(T::DTYPE)
                ))
            })?;
            buffers.push(arr.readonly().as_array().iter().copied().collect());
        }
        let fresh = TensorState {
            name: name.clone(),
            step,
            slots: buffers,
            scalars,
            ..Default::default()
        };
        match s.tensors.iter_mut().find(|t| t.name == name) {
            Some(t) => *t = fresh,
            None => s.tensors.push(fresh),
        }
    }
    opt.load_state(s).map_err(errors::core)
}

/// Replaces (or adds) the state of the tensors in `states`, a list of
/// `(name, step, {slot: array}, scalars)`, keeping every other tensor's.
#[pyfunction]
pub fn load_tensor_states(
    optimizer: &Bound<'_, PyOptimizer>,
    dtype: &str,
    states: &Bound<'_, PyList>,
) -> PyResult<()> {
    let elem = match dtype {
        "float32" => gradus::DType::F32,
        _ => gradus::DType::F64,
    };
    let opt = optimizer.borrow();
    opt.settle(elem, "state")?;
    let mut inner = opt.lock();
    match &mut inner.typed {
        Typed::F32(o) => merge_states(o, states),
        Typed::F64(o) => merge_states(o, states),
    }
}
