//! `gradus.Schedule`: a learning-rate schedule driving a `gradus.Optimizer`, stepped
//! after each update as torch's schedulers are.

use crate::errors;
use crate::optimizer::{with_typed, PyOptimizer};
use crate::values;
use gradus::schedule::{self, Schedule};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A schedule bound to an optimizer: on construction and after each `step()` it sets
/// the optimizer's lr (and, for `one_cycle`, its momentum) to the schedule's.
#[pyclass(subclass, module = "gradus._gradus", name = "Schedule")]
pub struct PySchedule {
    schedule: std::sync::Mutex<Box<dyn Schedule>>,
    optimizer: Py<PyOptimizer>,
}

fn apply(s: &dyn Schedule, opt: &PyOptimizer) -> PyResult<()> {
    let mut inner = opt.lock();
    with_typed!(&mut inner.typed, o => {
        o.set_lr(s.lr()).map_err(errors::core)?;
        if let Some(m) = s.momentum() {
            o.set_momentum(m).map_err(errors::core)?;
        }
    });
    Ok(())
}

impl PySchedule {
    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn Schedule>> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PySchedule {
    /// `Schedule(name, optimizer, kwargs=None)`: the schedule `name` (or a whole spec
    /// such as `"step(step_size=10)"`) for `optimizer`, starting from its lr.
    #[new]
    #[pyo3(signature = (name, optimizer, kwargs=None))]
    fn new(
        name: &str,
        optimizer: &Bound<'_, PyOptimizer>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut call = gradus::spec::parse(name).map_err(errors::core)?;
        call.keywords
            .extend(values::call_from_kwargs(&call.name, kwargs)?.keywords);
        let opt = optimizer.borrow();
        let (lr, momentum) = {
            let inner = opt.lock();
            with_typed!(&inner.typed, o => (o.lr(), o.momentum()))
        };
        let s = schedule::build_from_call(&call, lr, momentum).map_err(errors::core)?;
        apply(s.as_ref(), &opt)?;
        Ok(PySchedule {
            schedule: std::sync::Mutex::new(s),
            optimizer: optimizer.clone().unbind(),
        })
    }

    /// Advances past one update whose loss was `metric` (required by
    /// `reduce_on_plateau`, ignored by the others) and sets the optimizer's lr.
    #[pyo3(signature = (metric=None))]
    fn step(&self, py: Python<'_>, metric: Option<f64>) -> PyResult<()> {
        let mut s = self.lock();
        if metric.is_none() && s.name() == "reduce_on_plateau" {
            return Err(PyValueError::new_err(
                "reduce_on_plateau.step() needs the metric: step(loss)",
            ));
        }
        s.step(metric.unwrap_or(0.0));
        apply(s.as_ref(), &self.optimizer.borrow(py))
    }

    /// The lr of the next update.
    #[getter]
    fn lr(&self) -> f64 {
        self.lock().lr()
    }

    /// torch's `get_last_lr()`: the lr of the next update, as a one-element list.
    fn get_last_lr(&self) -> Vec<f64> {
        vec![self.lock().lr()]
    }

    /// Updates stepped so far (torch's `last_epoch`).
    #[getter]
    fn last_epoch(&self) -> u64 {
        self.lock().last_epoch()
    }

    /// The schedule as a spec string.
    #[getter]
    fn spec(&self) -> String {
        self.lock().spec().to_string()
    }

    /// The spec name.
    #[getter]
    fn name(&self) -> &'static str {
        self.lock().name()
    }

    /// The optimizer this schedule drives.
    #[getter]
    fn optimizer(&self, py: Python<'_>) -> Py<PyOptimizer> {
        self.optimizer.clone_ref(py)
    }

    /// The complete state as a dict (`name`, `spec`, `last_epoch`, `values`, `children`).
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        state_to_dict(py, &self.lock().state())
    }

    /// Restores a state saved by `state_dict()`.
    fn load_state_dict(&self, py: Python<'_>, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let st = state_from_dict(state)?;
        let mut s = self.lock();
        s.load_state(&st).map_err(errors::core)?;
        apply(s.as_ref(), &self.optimizer.borrow(py))
    }

    fn __repr__(&self) -> String {
        format!("gradus.Schedule({:?})", self.lock().spec().to_string())
    }
}

fn state_to_dict<'py>(
    py: Python<'py>,
    s: &schedule::ScheduleState,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &s.name)?;
    d.set_item("spec", &s.spec)?;
    d.set_item("last_epoch", s.last_epoch)?;
    d.set_item("values", &s.values)?;
    let children = s
        .children
        .iter()
        .map(|c| state_to_dict(py, c))
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("children", children)?;
    Ok(d)
}

fn state_from_dict(d: &Bound<'_, PyDict>) -> PyResult<schedule::ScheduleState> {
    let get = |k: &str| {
        d.get_item(k)?
            .ok_or_else(|| PyValueError::new_err(format!("schedule state dict has no '{k}'")))
    };
    let children: Vec<Bound<'_, PyDict>> = get("children")?.extract()?;
    Ok(schedule::ScheduleState {
        name: get("name")?.extract()?,
        spec: get("spec")?.extract()?,
        last_epoch: get("last_epoch")?.extract()?,
        values: get("values")?.extract()?,
        children: children
            .iter()
            .map(state_from_dict)
            .collect::<PyResult<_>>()?,
    })
}
