//! Stepping CPU torch tensors in place through zero-copy views of their memory, for
//! `gradus.torch`. torch is never imported here: a tensor is read through its Python
//! methods (`data_ptr`, `numel`, `is_contiguous`, ...), so `import gradus` needs no
//! torch.

use crate::errors;
use crate::optimizer::{
    item, state_from_python, state_to_python, tensor_state_tuple, with_typed, PyOptimizer, Typed,
};
use gradus::optim::{OptimizerKind, OptimizerState, Param, StepOutcome, TensorState};
use gradus::Float;
use numpy::{Element, PyArrayDyn, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyWeakrefReference};

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
        let (value, grad) = unsafe { slices::<T>(*p, *g) };
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
    let elem = torch_dtype(dtype)?;
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

/// What a step of a parameter group found about parameter `i` of the group, kept
/// for the next step so that a tensor seen before costs two `data_ptr()` calls and a
/// `grad` lookup instead of a dozen attribute reads.
pub(crate) struct CachedTensor {
    /// The parameter (the group holds it anyway).
    param: Py<PyAny>,
    /// The element type the tensor (and its gradient) was checked to hold.
    elem: gradus::DType,
    view: View,
    shape: Vec<usize>,
    /// The gradient last stepped with, weakly: a gradient replaced by `zero_grad()`
    /// is freed as without gradus, and a dead one is never mistaken for a new one.
    grad: Option<Py<PyWeakrefReference>>,
    grad_view: View,
}

/// The parameter group [`step_group`] stepped last: one entry per parameter.
#[derive(Default)]
pub(crate) struct GroupCache {
    tensors: Vec<Option<CachedTensor>>,
    /// `names[i]` is `str(i)`, the name tensor `i`'s state is kept under.
    names: Vec<String>,
    /// The parameters with a gradient at the last step, if their memory was checked
    /// for overlaps and nothing changed since.
    checked: Vec<usize>,
}

/// Steps every parameter of `params` (a torch parameter group's list, all of `dtype`)
/// that has a gradient, in place, as [`step_tensors`] does, reusing what the last
/// step of the group learnt about each tensor while it is the same tensor object at
/// the same address. Returns whether the update was applied.
#[pyfunction]
pub fn step_group(
    py: Python<'_>,
    optimizer: &Bound<'_, PyOptimizer>,
    params: &Bound<'_, PyList>,
    dtype: &Bound<'_, PyAny>,
    strided: &Bound<'_, PyAny>,
) -> PyResult<bool> {
    let elem = torch_dtype(dtype)?;
    let opt = optimizer.borrow();
    let mut guard = opt.lock();
    let inner = &mut *guard;
    let cache = &mut inner.group;
    let (grad_attr, data_ptr) = (intern!(py, "grad"), intern!(py, "data_ptr"));
    let n = params.len();
    cache.tensors.resize_with(n, || None);
    cache.tensors.truncate(n);
    while cache.names.len() < n {
        cache.names.push(cache.names.len().to_string());
    }
    let mut active = Vec::with_capacity(n);
    let mut changed = false;
    for (i, p) in params.iter().enumerate() {
        let g = p.getattr(grad_attr)?;
        if g.is_none() {
            continue;
        }
        active.push(i);
        // A tensor without storage (sparse) has no data_ptr: `view` says what it is.
        let ptr = address(&p, data_ptr);
        let slot = &mut cache.tensors[i];
        let known = slot
            .as_ref()
            .is_some_and(|c| c.param.bind(py).is(&p) && c.elem == elem && Some(c.view.ptr) == ptr);
        if !known {
            changed = true;
            let view = view(&p, dtype, strided, &format!("parameter {i}"))?;
            *slot = Some(CachedTensor {
                param: p.clone().unbind(),
                elem,
                view,
                shape: p.getattr(intern!(py, "shape"))?.extract()?,
                grad: None,
                grad_view: View { ptr: 0, len: 0 },
            });
        }
        let c = slot.as_mut().expect("filled above");
        let same_grad = Some(c.grad_view.ptr) == address(&g, data_ptr)
            && c.grad
                .as_ref()
                .and_then(|w| w.bind(py).upgrade())
                .is_some_and(|old| old.is(&g));
        if !same_grad {
            changed = true;
            let gv = view(
                &g,
                dtype,
                strided,
                &format!("the gradient of parameter {i}"),
            )?;
            if gv.len != c.view.len {
                return Err(PyValueError::new_err(format!(
                    "parameter {i} has {} elements but its gradient has {}",
                    c.view.len, gv.len
                )));
            }
            c.grad = PyWeakrefReference::new(&g).ok().map(Bound::unbind);
            c.grad_view = gv;
        }
    }
    if changed || active != cache.checked {
        cache.checked.clear();
        let pv: Vec<View> = active.iter().map(|&i| cached(cache, i).view).collect();
        let gv: Vec<View> = active.iter().map(|&i| cached(cache, i).grad_view).collect();
        check_disjoint(&pv, &gv, &active)?;
        cache.checked = active.clone();
    }
    let Some(&first) = active.first() else {
        return Ok(true);
    };
    let first = cache.names[first].clone();
    inner.settle(elem, &first)?;
    let cache = &inner.group;
    let views: Vec<(&str, View, View, &[usize])> = active
        .iter()
        .map(|&i| {
            let c = cached(cache, i);
            (
                cache.names[i].as_str(),
                c.view,
                c.grad_view,
                c.shape.as_slice(),
            )
        })
        .collect();
    let outcome = match &mut inner.typed {
        Typed::F32(o) => step_cached(py, o, &views)?,
        Typed::F64(o) => step_cached(py, o, &views)?,
    };
    Ok(outcome == StepOutcome::Applied)
}

/// `t.data_ptr()`, or `None` if torch refuses it.
fn address(t: &Bound<'_, PyAny>, data_ptr: &Bound<'_, pyo3::types::PyString>) -> Option<usize> {
    t.call_method0(data_ptr).ok()?.extract().ok()
}

fn cached(cache: &GroupCache, i: usize) -> &CachedTensor {
    cache.tensors[i]
        .as_ref()
        .expect("every active tensor is cached")
}

/// `torch.float32` / `torch.float64` as a gradus element type.
fn torch_dtype(dtype: &Bound<'_, PyAny>) -> PyResult<gradus::DType> {
    let dtype_text: String = dtype.str()?.extract()?;
    match dtype_text.as_str() {
        "torch.float32" => Ok(gradus::DType::F32),
        "torch.float64" => Ok(gradus::DType::F64),
        other => Err(PyTypeError::new_err(format!(
            "gradus.torch steps float32 and float64 parameters, not {other}"
        ))),
    }
}

/// Steps checked, disjoint views `(name, param, grad, shape)` with the GIL released.
fn step_cached<T: Float>(
    py: Python<'_>,
    opt: &mut Box<dyn gradus::optim::Optimizer<T>>,
    views: &[(&str, View, View, &[usize])],
) -> PyResult<StepOutcome> {
    let mut ps: Vec<Param<'_, T>> = Vec::with_capacity(views.len());
    for &(name, p, g, shape) in views {
        // SAFETY: as in `step_views`: live contiguous CPU tensors of `T` of these
        // lengths (checked when first seen; the same objects at the same addresses
        // since), pairwise disjoint and disjoint from every gradient.
        let (value, grad) = unsafe { slices::<T>(p, g) };
        ps.push(Param::with_shape(name, value, grad, shape));
    }
    py.detach(|| opt.step(&mut ps)).map_err(errors::core)
}

/// The memory of a parameter and its gradient as slices.
///
/// # Safety
/// `p` and `g` must describe live, contiguous memory of `T` that nothing else reads
/// or writes while the slices live, and `p` must not overlap `g`.
unsafe fn slices<'a, T>(p: View, g: View) -> (&'a mut [T], &'a [T]) {
    // An empty tensor may have a null data pointer, hence the dangling one.
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

/// The state torch's per-parameter layout has no place for: `{"skipped": n,
/// "globals": [...], "inner": [state dict, ...]}` (Prodigy's `d`, Lookahead's counter,
/// the states of the optimizers a combinator wraps, in `Optimizer.state_dict()`'s
/// form), or `None` when the optimizer has none.
#[pyfunction]
pub fn optimizer_extras<'py>(
    py: Python<'py>,
    optimizer: &Bound<'py, PyOptimizer>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let opt = optimizer.borrow();
    let inner = opt.lock();
    with_typed!(&inner.typed, o => {
        let s = o.state();
        if s.skipped == 0 && s.globals.is_empty() && s.inner.is_empty() {
            return Ok(None);
        }
        let d = PyDict::new(py);
        d.set_item("skipped", s.skipped)?;
        d.set_item("globals", &s.globals)?;
        let list = PyList::empty(py);
        for i in &s.inner {
            list.append(state_to_python(py, i, &inner.shapes)?)?;
        }
        d.set_item("inner", list)?;
        Ok(Some(d))
    })
}

fn merge_states<T: Float + Element>(
    opt: &mut Box<dyn gradus::optim::Optimizer<T>>,
    states: &Bound<'_, PyList>,
    replace: bool,
    extras: Option<&Bound<'_, PyDict>>,
) -> PyResult<()> {
    let mut s: OptimizerState<T> = opt.state();
    if replace {
        s.tensors.clear();
    }
    for entry in states.iter() {
        let (name, step, slots, scalars): (String, u64, Bound<'_, PyDict>, Vec<f64>) =
            entry.extract()?;
        let mut buffers = Vec::with_capacity(s.slot_names.len());
        let mut shapes = Vec::with_capacity(s.slot_names.len());
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
            let ro = arr.readonly();
            shapes.push(ro.as_array().shape().to_vec());
            buffers.push(ro.as_array().iter().copied().collect());
        }
        // Only a per-tensor rule's buffers have shapes of their own.
        if opt.kind() != OptimizerKind::Tensor {
            shapes.clear();
        }
        let fresh = TensorState {
            name: name.clone(),
            step,
            slots: buffers,
            scalars,
            shapes,
            ..Default::default()
        };
        match s.tensors.iter_mut().find(|t| t.name == name) {
            Some(t) => *t = fresh,
            None => s.tensors.push(fresh),
        }
    }
    if let Some(x) = extras {
        let what = "the optimizer-wide state ('gradus' in a param group)";
        s.skipped = item(x, "skipped", what)?.extract()?;
        s.globals = item(x, "globals", what)?.extract()?;
        let mut shapes = std::collections::HashMap::new();
        s.inner = Vec::new();
        for (i, sub) in item(x, "inner", what)?.try_iter()?.enumerate() {
            let sub = sub?;
            let sub = sub.cast::<PyDict>().map_err(|_| {
                PyTypeError::new_err(format!("{what}: 'inner'[{i}] must be a state dict"))
            })?;
            s.inner.push(state_from_python::<T>(sub, &mut shapes)?);
        }
    }
    opt.load_state(s).map_err(errors::core)
}

/// Replaces (or adds) the state of the tensors in `states`, a list of
/// `(name, step, {slot: array}, scalars)`, keeping every other tensor's, or, with
/// `replace=True` (a closure optimizer's global state), none of them. `extras`, as
/// [`optimizer_extras`] returns it, replaces the optimizer-wide state.
#[pyfunction]
#[pyo3(signature = (optimizer, dtype, states, *, replace=false, extras=None))]
pub fn load_tensor_states(
    optimizer: &Bound<'_, PyOptimizer>,
    dtype: &str,
    states: &Bound<'_, PyList>,
    replace: bool,
    extras: Option<&Bound<'_, PyDict>>,
) -> PyResult<()> {
    let elem = match dtype {
        "float32" => gradus::DType::F32,
        _ => gradus::DType::F64,
    };
    let opt = optimizer.borrow();
    opt.settle(elem, "state")?;
    let mut inner = opt.lock();
    match &mut inner.typed {
        Typed::F32(o) => merge_states(o, states, replace, extras),
        Typed::F64(o) => merge_states(o, states, replace, extras),
    }
}
