//! `gradus.Optimizer`: any gradus optimizer, stepping NumPy arrays (and, through
//! `gradus.torch`, CPU torch tensors) in place, with the GIL released during the step.
//!
//! The element type is decided by the arrays: an optimizer is built in `f64` for its
//! hyperparameters and switches to `f32` (same spec, no state yet) when its first step
//! sees float32 arrays. From then on it steps that dtype only, as a Rust
//! `Optimizer<T>` does.

use crate::closure;
use crate::errors;
use crate::values;
use gradus::optim::{
    self, NonFinitePolicy, Optimizer, OptimizerState, Param, StepOutcome, TensorState,
};
use gradus::spec::Call;
use gradus::Float;
use numpy::{
    Element, PyArray1, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::collections::HashMap;
use std::sync::Mutex;

/// A gradus optimizer in one of the two element types.
pub(crate) enum Typed {
    F32(Box<dyn Optimizer<f32>>),
    F64(Box<dyn Optimizer<f64>>),
}

/// Runs `$body` with `$o` bound to the optimizer, whatever its element type.
macro_rules! with_typed {
    ($typed:expr, $o:ident => $body:expr) => {
        match $typed {
            $crate::optimizer::Typed::F32($o) => $body,
            $crate::optimizer::Typed::F64($o) => $body,
        }
    };
}
pub(crate) use with_typed;

pub(crate) struct Inner {
    pub(crate) typed: Typed,
    /// Whether the element type is settled (a step or a loaded state has fixed it).
    dtype_fixed: bool,
    /// The shape each tensor had at its last step, so state arrays come back shaped.
    pub(crate) shapes: HashMap<String, Vec<usize>>,
    /// What the last `gradus.torch` step of this optimizer's group knew of its tensors.
    pub(crate) group: crate::tensors::GroupCache,
}

/// A gradus optimizer over named NumPy arrays (`gradus.build(spec)`, or one of the
/// generated classes such as `gradus.Adam(lr=1e-3)`).
#[pyclass(subclass, module = "gradus._gradus", name = "Optimizer")]
pub struct PyOptimizer {
    pub(crate) inner: Mutex<Inner>,
}

pub(crate) fn dtype_name(dtype: gradus::DType) -> &'static str {
    match dtype {
        gradus::DType::F32 => "float32",
        gradus::DType::F64 => "float64",
    }
}

fn parse_dtype(name: &str) -> PyResult<gradus::DType> {
    match name {
        "float32" | "f32" => Ok(gradus::DType::F32),
        "float64" | "f64" => Ok(gradus::DType::F64),
        other => Err(PyTypeError::new_err(format!(
            "dtype '{other}' is not supported; valid: float32, float64"
        ))),
    }
}

fn build_typed(call: &Call, dtype: gradus::DType, policy: NonFinitePolicy) -> PyResult<Typed> {
    let mut typed = match dtype {
        gradus::DType::F32 => {
            Typed::F32(optim::build_from_call::<f32>(call).map_err(errors::core)?)
        }
        gradus::DType::F64 => {
            Typed::F64(optim::build_from_call::<f64>(call).map_err(errors::core)?)
        }
    };
    with_typed!(&mut typed, o => o.set_nonfinite_policy(policy));
    Ok(typed)
}

impl Inner {
    /// Keeps `shape` as the shape of tensor `name` (state arrays come back in it).
    fn remember_shape(&mut self, name: &str, shape: &[usize]) {
        if self.shapes.get(name).map(Vec::as_slice) != Some(shape) {
            self.shapes.insert(name.to_string(), shape.to_vec());
        }
    }

    pub(crate) fn dtype(&self) -> gradus::DType {
        match self.typed {
            Typed::F32(_) => gradus::DType::F32,
            Typed::F64(_) => gradus::DType::F64,
        }
    }

    fn spec(&self) -> Call {
        with_typed!(&self.typed, o => o.spec())
    }

    fn policy(&self) -> NonFinitePolicy {
        with_typed!(&self.typed, o => o.nonfinite_policy())
    }

    /// Settles the element type for a step over `dtype` arrays.
    pub(crate) fn settle(&mut self, dtype: gradus::DType, culprit: &str) -> PyResult<()> {
        if self.dtype() != dtype {
            if self.dtype_fixed {
                return Err(PyTypeError::new_err(format!(
                    "tensor '{culprit}' is {} but this optimizer steps {} arrays (fixed by its first step or its state); use one optimizer per dtype",
                    dtype_name(dtype),
                    dtype_name(self.dtype())
                )));
            }
            self.typed = build_typed(&self.spec(), dtype, self.policy())?;
        }
        self.dtype_fixed = true;
        Ok(())
    }
}

/// The NumPy dtype of `a`, if it is float32 or float64.
fn float_dtype(a: &Bound<'_, PyUntypedArray>) -> Option<gradus::DType> {
    let py = a.py();
    let d = a.dtype();
    if d.is_equiv_to(&numpy::dtype::<f64>(py)) {
        Some(gradus::DType::F64)
    } else if d.is_equiv_to(&numpy::dtype::<f32>(py)) {
        Some(gradus::DType::F32)
    } else {
        None
    }
}

/// `a` as an ndarray, or a `TypeError` naming the tensor and what it was.
fn as_array<'a, 'py>(
    a: &'a Bound<'py, PyAny>,
    name: &str,
    role: &str,
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    a.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "tensor '{name}': the {role} must be a numpy.ndarray, got {}",
            a.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

/// One `(name, param, grad)` of a step, checked for everything but aliasing.
struct Entry<'py> {
    name: String,
    param: Bound<'py, PyUntypedArray>,
    grad: Bound<'py, PyUntypedArray>,
}

fn entries<'py>(params: &Bound<'py, PyAny>) -> PyResult<Vec<Entry<'py>>> {
    let items: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)> = if let Ok(d) = params.cast::<PyDict>()
    {
        d.iter().collect()
    } else {
        return Err(PyTypeError::new_err(format!(
            "step() takes a dict {{name: (param, grad)}}, got {}",
            params
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        )));
    };
    let mut out = Vec::with_capacity(items.len());
    for (k, v) in items {
        let name: String = k.extract().map_err(|_| {
            PyTypeError::new_err(format!("step(): tensor names must be strings, got {k}"))
        })?;
        let pair = v
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| {
                PyTypeError::new_err(format!(
                    "tensor '{name}': expected a (param, grad) tuple, got {v}"
                ))
            })?;
        let (p, g) = (pair.get_item(0)?, pair.get_item(1)?);
        let param = as_array(&p, &name, "parameter")?.clone();
        let grad = as_array(&g, &name, "gradient")?.clone();
        let (Some(pd), gd) = (float_dtype(&param), float_dtype(&grad)) else {
            return Err(PyTypeError::new_err(format!(
                "tensor '{name}': parameter dtype {} is not supported; valid: float32, float64",
                param.dtype()
            )));
        };
        if gd != Some(pd) {
            return Err(PyTypeError::new_err(format!(
                "tensor '{name}': gradient dtype {} differs from the parameter's {}",
                grad.dtype(),
                dtype_name(pd)
            )));
        }
        if param.shape() != grad.shape() {
            return Err(PyValueError::new_err(format!(
                "tensor '{name}': parameter shape {:?} differs from gradient shape {:?}",
                param.shape(),
                grad.shape()
            )));
        }
        for (role, a) in [("parameter", &param), ("gradient", &grad)] {
            if !a.is_c_contiguous() {
                return Err(PyValueError::new_err(format!(
                    "tensor '{name}': the {role} is not C-contiguous; pass numpy.ascontiguousarray(...) (and write the result back)"
                )));
            }
        }
        out.push(Entry { name, param, grad });
    }
    Ok(out)
}

fn borrow_error(name: &str, role: &str, e: numpy::BorrowError) -> PyErr {
    let why = match e {
        numpy::BorrowError::NotWriteable => "is read-only (flags.writeable is False)".to_string(),
        numpy::BorrowError::AlreadyBorrowed => {
            "shares memory with another array of this step (a parameter must not be its own gradient or another tensor)".to_string()
        }
        other => other.to_string(),
    };
    PyValueError::new_err(format!("tensor '{name}': the {role} {why}"))
}

/// Steps `entries` (all of element type `T`) with the GIL released.
fn step_arrays<T: Float + Element>(
    py: Python<'_>,
    opt: &mut Box<dyn Optimizer<T>>,
    entries: &[Entry<'_>],
) -> PyResult<StepOutcome> {
    let mut params = Vec::with_capacity(entries.len());
    let mut grads = Vec::with_capacity(entries.len());
    for e in entries {
        let p = e.param.cast::<PyArrayDyn<T>>()?;
        params.push(
            p.try_readwrite()
                .map_err(|err| borrow_error(&e.name, "parameter", err))?,
        );
    }
    for e in entries {
        let g = e.grad.cast::<PyArrayDyn<T>>()?;
        grads.push(
            g.try_readonly()
                .map_err(|err| borrow_error(&e.name, "gradient", err))?,
        );
    }
    let mut ps: Vec<Param<'_, T>> = Vec::with_capacity(entries.len());
    for ((e, p), g) in entries.iter().zip(params.iter_mut()).zip(grads.iter()) {
        ps.push(Param::with_shape(
            &e.name,
            p.as_slice_mut()?,
            g.as_slice()?,
            e.param.shape(),
        ));
    }
    py.detach(|| opt.step(&mut ps)).map_err(errors::core)
}

/// A state array of `shape` (flat if the shape is unknown or does not fit).
fn state_array<'py, T: Element + Copy>(
    py: Python<'py>,
    data: &[T],
    shape: Option<&Vec<usize>>,
) -> PyResult<Bound<'py, PyAny>> {
    let flat = PyArray1::<T>::from_vec(py, data.to_vec());
    match shape {
        Some(s) if s.iter().product::<usize>() == data.len() => {
            Ok(flat.reshape(s.clone())?.into_any())
        }
        _ => Ok(flat.into_any()),
    }
}

pub(crate) fn state_to_python<'py, T: Float + Element>(
    py: Python<'py>,
    s: &OptimizerState<T>,
    shapes: &HashMap<String, Vec<usize>>,
) -> PyResult<Bound<'py, PyDict>> {
    refuse_bf16_state(s.tensors.iter(), &s.spec)?;
    let d = PyDict::new(py);
    d.set_item("algorithm", &s.algorithm)?;
    d.set_item("spec", &s.spec)?;
    d.set_item("dtype", dtype_name(T::DTYPE))?;
    d.set_item("nonfinite", policy_name(s.nonfinite))?;
    d.set_item("skipped", s.skipped)?;
    d.set_item("slot_names", &s.slot_names)?;
    let tensors = PyDict::new(py);
    for t in &s.tensors {
        let e = PyDict::new(py);
        e.set_item("step", t.step)?;
        for (k, (name, slot)) in s.slot_names.iter().zip(&t.slots).enumerate() {
            // A per-tensor rule's buffer has its own shape; the others the tensor's.
            let shape = t.shapes.get(k).or_else(|| shapes.get(&t.name));
            e.set_item(name, state_array(py, slot, shape)?)?;
        }
        e.set_item("scalars", &t.scalars)?;
        if !t.shapes.is_empty() {
            e.set_item("shapes", &t.shapes)?;
        }
        tensors.set_item(&t.name, e)?;
    }
    d.set_item("state", tensors)?;
    d.set_item("globals", &s.globals)?;
    let inner = PyList::empty(py);
    for i in &s.inner {
        inner.append(state_to_python(py, i, shapes)?)?;
    }
    d.set_item("inner", inner)?;
    Ok(d)
}

pub(crate) fn item<'py>(
    d: &Bound<'py, PyDict>,
    key: &str,
    what: &str,
) -> PyResult<Bound<'py, PyAny>> {
    d.get_item(key)?
        .ok_or_else(|| PyValueError::new_err(format!("{what} has no '{key}'")))
}

/// The flat values of a state array, which must be of element type `T`.
fn flat_values<T: Float + Element>(
    a: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<(Vec<T>, Vec<usize>)> {
    let arr = a.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a numpy.ndarray of {}, got {}",
            dtype_name(T::DTYPE),
            a.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })?;
    let ro = arr
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))?;
    let view = ro.as_array();
    Ok((view.iter().copied().collect(), view.shape().to_vec()))
}

/// Reads a state dict of the form `state_dict()` writes, tensors given in `T`.
pub(crate) fn state_from_python<T: Float + Element>(
    d: &Bound<'_, PyDict>,
    shapes: &mut HashMap<String, Vec<usize>>,
) -> PyResult<OptimizerState<T>> {
    let slot_names: Vec<String> = item(d, "slot_names", "the state dict")?.extract()?;
    let policy: String = item(d, "nonfinite", "the state dict")?.extract()?;
    let tensors_py = item(d, "state", "the state dict")?;
    let tensors_py = tensors_py.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err("state dict: 'state' must be a dict {name: tensor state}")
    })?;
    let mut tensors = Vec::new();
    for (k, v) in tensors_py.iter() {
        let name: String = k.extract()?;
        let what = format!("state of tensor '{name}'");
        let v = v
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err(format!("{what} must be a dict")))?;
        let own_shapes: Vec<Vec<usize>> = match v.get_item("shapes")? {
            Some(x) => x.extract()?,
            None => Vec::new(),
        };
        let mut slots = Vec::new();
        for slot in &slot_names {
            let (values, shape) =
                flat_values::<T>(&item(v, slot, &what)?, &format!("{what}: '{slot}'"))?;
            if own_shapes.is_empty() {
                shapes.insert(name.clone(), shape);
            }
            slots.push(values);
        }
        tensors.push(TensorState {
            name,
            step: item(v, "step", &what)?.extract()?,
            slots,
            scalars: item(v, "scalars", &what)?.extract()?,
            shapes: own_shapes,
            ..Default::default()
        });
    }
    // Dicts saved before optimizer-wide scalars and wrapped optimizers have neither.
    let globals: Vec<f64> = match d.get_item("globals")? {
        Some(x) => x.extract()?,
        None => Vec::new(),
    };
    let mut inner = Vec::new();
    if let Some(list) = d.get_item("inner")? {
        for (i, x) in list.try_iter()?.enumerate() {
            let x = x?;
            let sub = x.cast::<PyDict>().map_err(|_| {
                PyTypeError::new_err(format!("state dict: 'inner'[{i}] must be a state dict"))
            })?;
            inner.push(state_from_python::<T>(sub, shapes)?);
        }
    }
    Ok(OptimizerState {
        algorithm: item(d, "algorithm", "the state dict")?.extract()?,
        spec: item(d, "spec", "the state dict")?.extract()?,
        slot_names,
        nonfinite: policy.parse().map_err(errors::core)?,
        skipped: item(d, "skipped", "the state dict")?.extract()?,
        tensors,
        globals,
        inner,
    })
}

pub(crate) fn policy_name(p: NonFinitePolicy) -> &'static str {
    NonFinitePolicy::ALL
        .iter()
        .find(|(_, q)| *q == p)
        .map(|(n, _)| *n)
        .unwrap_or("error")
}

/// A closure step's tensor: its name, the parameter array, and its gradient if given.
type ClosureItem<'py> = (String, Bound<'py, PyAny>, Option<Bound<'py, PyAny>>);

/// One closure step over `(name, param, grad)` items of element type `T`.
fn closure_step_typed<T: Float + Element>(
    opt: &mut Box<dyn Optimizer<T>>,
    items: &[ClosureItem<'_>],
    closure: Option<Bound<'_, PyAny>>,
    hessian: Option<Bound<'_, PyAny>>,
) -> PyResult<(StepOutcome, Option<Py<PyAny>>)> {
    let targets = items
        .iter()
        .map(|(name, p, _)| closure::check_target::<T>(p, name))
        .collect::<PyResult<Vec<_>>>()?;
    let mut grads = Vec::with_capacity(items.len());
    for ((name, _, g), t) in items.iter().zip(&targets) {
        let Some(g) = g else { break };
        let (values, shape) = flat_values::<T>(g, &format!("tensor '{name}': the gradient"))?;
        if shape != t.array.shape() {
            return Err(PyValueError::new_err(format!(
                "tensor '{name}': parameter shape {:?} differs from gradient shape {shape:?}",
                t.array.shape()
            )));
        }
        grads.push(values);
    }
    let grads = (grads.len() == items.len()).then_some(grads);
    closure::step_closure(opt, &targets, grads, closure, hessian)
}

impl PyOptimizer {
    /// [`PyOptimizer::step`] without a closure.
    fn step_pairs(&self, py: Python<'_>, params: &Bound<'_, PyAny>) -> PyResult<bool> {
        let entries = entries(params)?;
        let mut inner = self.lock();
        let Some(first) = entries.first() else {
            return Ok(true);
        };
        for e in &entries {
            inner.settle(float_dtype(&e.param).expect("checked by entries"), &e.name)?;
        }
        let _ = first;
        let outcome = match &mut inner.typed {
            Typed::F32(o) => step_arrays(py, o, &entries)?,
            Typed::F64(o) => step_arrays(py, o, &entries)?,
        };
        for e in &entries {
            inner.remember_shape(&e.name, e.param.shape());
        }
        Ok(outcome == StepOutcome::Applied)
    }

    /// [`PyOptimizer::step`] with a closure or a Hessian (see there).
    fn step_closure(
        &self,
        py: Python<'_>,
        params: &Bound<'_, PyAny>,
        closure: Option<Bound<'_, PyAny>>,
        hessian: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let d = params.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err("step() takes a dict {name: param} or {name: (param, grad)}")
        })?;
        let mut items = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let name: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!("step(): tensor names must be strings, got {k}"))
            })?;
            let (p, g) = match v.cast::<PyTuple>() {
                Ok(t) if t.len() == 2 => (t.get_item(0)?, Some(t.get_item(1)?)),
                _ => (v, None),
            };
            items.push((name, p, g));
        }
        let Some((first, p0, _)) = items.first() else {
            return Ok(py.None());
        };
        let dtype = float_dtype(as_array(p0, first, "parameter")?).ok_or_else(|| {
            PyTypeError::new_err(format!(
                "tensor '{first}': parameter dtype is not supported; valid: float32, float64"
            ))
        })?;
        let mut inner = self.lock();
        inner.settle(dtype, first)?;
        let (outcome, loss) = match &mut inner.typed {
            Typed::F32(o) => closure_step_typed(o, &items, closure, hessian)?,
            Typed::F64(o) => closure_step_typed(o, &items, closure, hessian)?,
        };
        for (name, p, _) in &items {
            if let Ok(a) = p.cast::<PyUntypedArray>() {
                inner.remember_shape(name, a.shape());
            }
        }
        Ok(match loss {
            Some(l) => l,
            None => pyo3::types::PyBool::new(py, outcome == StepOutcome::Applied)
                .to_owned()
                .into_any()
                .unbind(),
        })
    }

    pub(crate) fn from_call(call: &Call, dtype: Option<&str>, nonfinite: &str) -> PyResult<Self> {
        let policy: NonFinitePolicy = nonfinite.parse().map_err(errors::core)?;
        let dt = dtype.map(parse_dtype).transpose()?;
        Ok(PyOptimizer {
            inner: Mutex::new(Inner {
                typed: build_typed(call, dt.unwrap_or(gradus::DType::F64), policy)?,
                dtype_fixed: dt.is_some(),
                shapes: HashMap::new(),
                group: Default::default(),
            }),
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic cannot happen while the lock is held (the core never panics on
        // user input), so a poisoned lock still holds consistent state.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Settles the dtype for a step over `dtype` tensors (the torch path).
    pub(crate) fn settle(&self, dtype: gradus::DType, culprit: &str) -> PyResult<()> {
        self.lock().settle(dtype, culprit)
    }
}

#[pymethods]
impl PyOptimizer {
    /// `Optimizer(name, kwargs=None, *, dtype=None, nonfinite="error")`: the optimizer
    /// `name` (a spec name such as `"adam"`, or a whole spec such as
    /// `"adam(lr=0.01)"`) with keyword arguments `kwargs` added.
    #[new]
    #[pyo3(signature = (name, kwargs=None, *, dtype=None, nonfinite="error"))]
    fn new(
        name: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
        dtype: Option<&str>,
        nonfinite: &str,
    ) -> PyResult<Self> {
        let mut call = gradus::spec::parse(name).map_err(errors::core)?;
        call.keywords
            .extend(values::call_from_kwargs(&call.name, kwargs)?.keywords);
        Self::from_call(&call, dtype, nonfinite)
    }

    /// Updates every `(param, grad)` of `{name: (param, grad)}` in place. Returns
    /// `True` if the update was applied, `False` if it was skipped (a non-finite
    /// gradient under `nonfinite="skip"`).
    ///
    /// With a `closure` (torch's `step(closure)`), `params` may map names to the
    /// parameters alone: `closure()` reads the arrays (the optimizer writes its trial
    /// points into them) and returns `(loss, grads)`, `grads` a dict `{name: array}`
    /// or a list in `params`' order. Closure optimizers (`lbfgs`) call it as often as
    /// they need; the others call it once for the gradients. `hessian()` returns the
    /// Hessian of all parameters flattened in order (`newton`, which takes the
    /// gradients from `(param, grad)` pairs). A step with a closure returns the
    /// closure's first loss.
    #[pyo3(signature = (params, closure=None, *, hessian=None))]
    fn step(
        &self,
        py: Python<'_>,
        params: &Bound<'_, PyAny>,
        closure: Option<Bound<'_, PyAny>>,
        hessian: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let closure_kind =
            with_typed!(&self.lock().typed, o => o.kind()) == optim::OptimizerKind::Closure;
        if closure.is_some() || hessian.is_some() || closure_kind {
            return self.step_closure(py, params, closure, hessian);
        }
        let applied = self.step_pairs(py, params)?;
        Ok(pyo3::types::PyBool::new(py, applied)
            .to_owned()
            .into_any()
            .unbind())
    }

    /// The spec name (`"adam"`, ...).
    #[getter]
    fn name(&self) -> &'static str {
        with_typed!(&self.lock().typed, o => o.name())
    }

    /// The configuration as a spec string that `gradus.build` reads back exactly.
    #[getter]
    fn spec(&self) -> String {
        self.lock().spec().to_string()
    }

    /// The hyperparameters as a dict of keyword arguments.
    #[getter]
    fn hyperparameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        values::call_to_dict(py, &self.lock().spec())
    }

    /// The element type stepped: `"float64"` or `"float32"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        dtype_name(self.lock().dtype())
    }

    /// The learning rate of the next step.
    #[getter]
    fn get_lr(&self) -> f64 {
        with_typed!(&self.lock().typed, o => o.lr())
    }

    #[setter]
    fn set_lr(&self, lr: f64) -> PyResult<()> {
        with_typed!(&mut self.lock().typed, o => o.set_lr(lr)).map_err(errors::core)
    }

    /// `momentum` (SGD, RMSprop) or `betas[0]` (Adam family, Lion); `None` if none.
    #[getter]
    fn get_momentum(&self) -> Option<f64> {
        with_typed!(&self.lock().typed, o => o.momentum())
    }

    #[setter]
    fn set_momentum(&self, momentum: f64) -> PyResult<()> {
        with_typed!(&mut self.lock().typed, o => o.set_momentum(momentum)).map_err(errors::core)
    }

    /// The policy for non-finite gradients: `"error"`, `"skip"` or `"propagate"`.
    #[getter]
    fn get_nonfinite(&self) -> &'static str {
        policy_name(self.lock().policy())
    }

    #[setter]
    fn set_nonfinite(&self, policy: &str) -> PyResult<()> {
        let p: NonFinitePolicy = policy.parse().map_err(errors::core)?;
        with_typed!(&mut self.lock().typed, o => o.set_nonfinite_policy(p));
        Ok(())
    }

    /// Steps skipped under `nonfinite="skip"`.
    #[getter]
    fn skipped_steps(&self) -> u64 {
        with_typed!(&self.lock().typed, o => o.skipped_steps())
    }

    /// Changes hyperparameters (`reconfigure(weight_decay=0.1)`), keeping all state.
    #[pyo3(signature = (**kwargs))]
    fn reconfigure(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        let mut inner = self.lock();
        let mut call = inner.spec();
        for (k, v) in values::call_from_kwargs(&call.name, kwargs)?.keywords {
            match call.keywords.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => call.keywords.push((k, v)),
            }
        }
        // Validate first, so a bad value leaves the optimizer untouched.
        let policy = inner.policy();
        let mut fresh = build_typed(&call, inner.dtype(), policy)?;
        let spec = with_typed!(&fresh, o => o.spec().to_string());
        match (&inner.typed, &mut fresh) {
            (Typed::F32(old), Typed::F32(new)) => new
                .load_state(OptimizerState {
                    spec,
                    ..old.state()
                })
                .map_err(errors::core)?,
            (Typed::F64(old), Typed::F64(new)) => new
                .load_state(OptimizerState {
                    spec,
                    ..old.state()
                })
                .map_err(errors::core)?,
            _ => unreachable!("built in the same dtype"),
        }
        inner.typed = fresh;
        Ok(())
    }

    /// The complete state: hyperparameters, counters and, per tensor, its step count,
    /// its buffers as NumPy arrays (named as torch names them) and its scalars.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = self.lock();
        with_typed!(&inner.typed, o => state_to_python(py, &o.state(), &inner.shapes))
    }

    /// Restores a state saved by `state_dict()` (of the same algorithm).
    fn load_state_dict(&self, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let dtype = parse_dtype(&item(state, "dtype", "the state dict")?.extract::<String>()?)?;
        let mut inner = self.lock();
        let mut shapes = HashMap::new();
        let spec =
            gradus::spec::parse(&item(state, "spec", "the state dict")?.extract::<String>()?)
                .map_err(errors::core)?;
        let name = with_typed!(&inner.typed, o => o.name());
        if spec.name != name {
            return Err(PyValueError::new_err(format!(
                "state mismatch: state is for '{}' but the optimizer is '{name}'",
                spec.name
            )));
        }
        let mut typed = build_typed(&spec, dtype, inner.policy())?;
        match &mut typed {
            Typed::F32(o) => o.load_state(state_from_python(state, &mut shapes)?),
            Typed::F64(o) => o.load_state(state_from_python(state, &mut shapes)?),
        }
        .map_err(errors::core)?;
        inner.typed = typed;
        inner.dtype_fixed = true;
        inner.shapes = shapes;
        Ok(())
    }

    /// The names of the tensors with state, in first-seen order.
    fn tensor_names(&self) -> Vec<String> {
        with_typed!(&self.lock().typed, o => o.state().tensors.into_iter().map(|t| t.name).collect())
    }

    fn __repr__(&self) -> String {
        format!("gradus.build({:?})", self.lock().spec().to_string())
    }
}

/// A clear error for state kept in bfloat16 or 8 bits (`state_dtype=bf16`, `q8`): the
/// Python state dicts carry NumPy arrays of the parameters' dtype only, so such state
/// would be lost.
fn refuse_bf16_state<'a, T: 'a>(
    mut tensors: impl Iterator<Item = &'a TensorState<T>>,
    spec: &str,
) -> PyResult<()> {
    match tensors.find(|t| !t.bf16_slots.is_empty() || !t.q8_slots.is_empty()) {
        Some(t) => {
            let how = if t.q8_slots.is_empty() {
                "in bfloat16 (state_dtype=bf16)"
            } else {
                "in 8 bits (state_dtype=q8)"
            };
            Err(PyValueError::new_err(format!(
                "state_dict: {spec} keeps tensor '{}' {how}, which gradus' Python state \
                 dicts do not carry yet; use state_dtype=param to save state",
                t.name
            )))
        }
        None => Ok(()),
    }
}

/// Appends the state of tensor `name` to a Python list as `(name, step, {slot: array}, scalars)`.
pub(crate) fn tensor_state_tuple<'py, T: Float + Element>(
    py: Python<'py>,
    slot_names: &[String],
    t: &TensorState<T>,
) -> PyResult<Bound<'py, PyTuple>> {
    refuse_bf16_state(std::iter::once(t), "this optimizer")?;
    let slots = PyDict::new(py);
    for (k, (n, s)) in slot_names.iter().zip(&t.slots).enumerate() {
        // A per-tensor rule's buffer comes in its own shape, the others flat.
        slots.set_item(n, state_array(py, s, t.shapes.get(k))?)?;
    }
    PyTuple::new(
        py,
        [
            t.name.clone().into_pyobject(py)?.into_any(),
            t.step.into_pyobject(py)?.into_any(),
            slots.into_any(),
            PyList::new(py, &t.scalars)?.into_any(),
        ],
    )
}
