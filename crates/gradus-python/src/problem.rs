//! `gradus.problems`: the problems of `gradus-problems` (analytic test functions,
//! Boston housing, digits), and `gradus.run`, which optimizes one and returns the
//! trajectory and losses as NumPy arrays.

use crate::errors;
use crate::optimizer::{PyOptimizer, Typed};
use gradus::optim::{Optimizer, Param};
use gradus::Float;
use gradus_problems::{Objective, ProblemOptions};
use numpy::{Element, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

enum TypedProblem {
    F32(Box<dyn Objective<f32>>),
    F64(Box<dyn Objective<f64>>),
}

macro_rules! with_problem {
    ($p:expr, $o:ident => $body:expr) => {
        match $p {
            TypedProblem::F32($o) => $body,
            TypedProblem::F64($o) => $body,
        }
    };
}

/// A problem from `gradus.problems` (e.g. `gradus.problems.rosenbrock(dim=2)`).
#[pyclass(module = "gradus._gradus", name = "Problem")]
pub struct PyProblem {
    problem: TypedProblem,
}

fn x_of<T: Float + Element>(x: &Bound<'_, PyAny>, dim: usize) -> PyResult<Vec<T>> {
    let a: PyReadonlyArray1<'_, T> = x.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "x must be a 1-D numpy array of {}",
            crate::optimizer::dtype_name(T::DTYPE)
        ))
    })?;
    let v: Vec<T> = a.as_array().iter().copied().collect();
    gradus_problems::check_start(&v, dim).map_err(errors::problem)?;
    Ok(v)
}

#[pymethods]
impl PyProblem {
    /// `Problem(name, *, dim=None, seed=0, hidden=None, test_fraction=0.2,
    /// dtype="float64")`: the problem `name` of `gradus.problems.names()`.
    #[new]
    #[pyo3(signature = (name, *, dim=None, seed=0, hidden=None, test_fraction=0.2, dtype="float64"))]
    fn new(
        name: &str,
        dim: Option<usize>,
        seed: u64,
        hidden: Option<usize>,
        test_fraction: f64,
        dtype: &str,
    ) -> PyResult<Self> {
        let opts = ProblemOptions {
            dim,
            seed,
            hidden,
            test_fraction,
            ..ProblemOptions::default()
        };
        let problem = match dtype {
            "float64" | "f64" => {
                TypedProblem::F64(gradus_problems::build(name, &opts).map_err(errors::problem)?)
            }
            "float32" | "f32" => {
                TypedProblem::F32(gradus_problems::build(name, &opts).map_err(errors::problem)?)
            }
            other => {
                return Err(PyTypeError::new_err(format!(
                    "dtype '{other}' is not supported; valid: float32, float64"
                )))
            }
        };
        Ok(PyProblem { problem })
    }

    /// The problem's name.
    #[getter]
    fn name(&self) -> String {
        with_problem!(&self.problem, p => p.name())
    }

    /// Number of parameters.
    #[getter]
    fn dim(&self) -> usize {
        with_problem!(&self.problem, p => p.dim())
    }

    /// The element type: `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        match self.problem {
            TypedProblem::F32(_) => "float32",
            TypedProblem::F64(_) => "float64",
        }
    }

    /// The named tensors `[(name, length), ...]` the parameter vector is made of.
    fn tensors(&self) -> Vec<(String, usize)> {
        with_problem!(&self.problem, p => p.tensors())
    }

    /// The default starting point.
    fn start<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        with_problem!(&self.problem, p => PyArray1::from_vec(py, p.start()).into_any())
    }

    /// The (training) loss at `x`.
    fn value(&self, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        with_problem!(&self.problem, p => Ok(p.value(&x_of(x, p.dim())?).f64()))
    }

    /// `(loss, gradient)` at `x`.
    fn gradient<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<(f64, Bound<'py, PyAny>)> {
        with_problem!(&self.problem, p => {
            let x = x_of(x, p.dim())?;
            let mut g = vec![Float::of(0.0); p.dim()];
            let loss = py.detach(|| p.gradient(&x, &mut g));
            Ok((loss.f64(), PyArray1::from_vec(py, g).into_any()))
        })
    }

    /// `(minimizers, minimum)` where known, else `None`.
    fn minimum(&self) -> Option<(Vec<Vec<f64>>, f64)> {
        with_problem!(&self.problem, p => p.minimum())
    }

    /// The test-set loss at `x`, for problems fitted to data (else `None`).
    fn test_loss(&self, x: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
        with_problem!(&self.problem, p => match p.as_data() {
            Some(d) => Ok(Some(d.test_loss(&x_of(x, p.dim())?).f64())),
            None => Ok(None),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "gradus.problems.Problem({:?}, dim={})",
            self.name(),
            self.dim()
        )
    }
}

/// Every problem name with its one-line description.
#[pyfunction]
pub fn problem_names() -> Vec<(&'static str, &'static str)> {
    gradus_problems::PROBLEMS.to_vec()
}

/// What a run records.
struct Record {
    trajectory: Vec<f64>,
    losses: Vec<f64>,
    lrs: Vec<f64>,
    x: Vec<f64>,
}

/// How [`run`] runs: steps, clipping, whether to keep the trajectory.
#[derive(Clone, Copy)]
struct RunOptions {
    steps: usize,
    clip_norm: Option<f64>,
    clip_value: Option<f64>,
    keep: bool,
}

/// [`run_typed`] from `start` (or the problem's own start), with the GIL released.
fn run_on<T: Float + Element>(
    py: Python<'_>,
    f: &dyn Objective<T>,
    opt: &mut Box<dyn Optimizer<T>>,
    schedule: Option<&mut Box<dyn gradus::schedule::Schedule>>,
    start: Option<&Bound<'_, PyAny>>,
    opts: RunOptions,
) -> PyResult<gradus::Result<Record>> {
    let x = match start {
        Some(s) => x_of(s, f.dim())?,
        None => f.start(),
    };
    Ok(py.detach(|| run_typed(f, opt, schedule, x, opts)))
}

fn run_typed<T: Float>(
    f: &dyn Objective<T>,
    opt: &mut Box<dyn Optimizer<T>>,
    schedule: Option<&mut Box<dyn gradus::schedule::Schedule>>,
    mut x: Vec<T>,
    opts: RunOptions,
) -> gradus::Result<Record> {
    let RunOptions {
        steps,
        clip_norm,
        clip_value,
        keep,
    } = opts;
    let tensors = f.tensors();
    let mut g = vec![T::of(0.0); x.len()];
    let mut rec = Record {
        trajectory: Vec::new(),
        losses: Vec::with_capacity(steps + 1),
        lrs: Vec::with_capacity(steps),
        x: Vec::new(),
    };
    let mut schedule = schedule;
    if keep {
        rec.trajectory.extend(x.iter().map(|v| v.f64()));
    }
    for _ in 0..steps {
        let loss = f.gradient(&x, &mut g).f64();
        rec.losses.push(loss);
        if let Some(max_norm) = clip_norm {
            gradus::clip::clip_grad_norm(&mut [&mut g[..]], max_norm, 2.0)?;
        }
        if let Some(v) = clip_value {
            gradus::clip::clip_grad_value(&mut [&mut g[..]], v)?;
        }
        rec.lrs.push(opt.lr());
        // The flat vector, cut into the problem's named tensors.
        let mut params = Vec::with_capacity(tensors.len());
        let (mut xs, mut gs) = (&mut x[..], &g[..]);
        for (name, len) in &tensors {
            let (xa, xb) = std::mem::take(&mut xs).split_at_mut(*len);
            let (ga, gb) = gs.split_at(*len);
            params.push(Param::new(name.as_str(), xa, ga));
            xs = xb;
            gs = gb;
        }
        opt.step(&mut params)?;
        if let Some(s) = schedule.as_deref_mut() {
            s.step(loss);
            opt.set_lr(s.lr())?;
            if let Some(m) = s.momentum() {
                opt.set_momentum(m)?;
            }
        }
        if keep {
            rec.trajectory.extend(x.iter().map(|v| v.f64()));
        }
    }
    rec.losses.push(f.value(&x).f64());
    rec.x = x.iter().map(|v| v.f64()).collect();
    Ok(rec)
}

/// Optimizes `problem` with `optimizer` (a `gradus.Optimizer` or a spec string) for
/// `steps` full-batch steps: gradient, clipping (`clip_norm`: global 2-norm,
/// `clip_value`), step, then the schedule (a spec string) with that step's loss.
/// Returns a dict of NumPy arrays: `trajectory` (`steps + 1` rows, the iterates from
/// `start`; omitted with `trajectory=False`), `losses` (the loss at each iterate),
/// `lrs` (the lr of each step) and `x` (the last iterate), all in float64.
/// The optimizer is stepped in place, so it can be inspected or run on afterwards.
#[pyfunction]
#[pyo3(signature = (problem, optimizer, steps, *, schedule=None, start=None, clip_norm=None, clip_value=None, trajectory=true))]
#[allow(clippy::too_many_arguments)]
pub fn run<'py>(
    py: Python<'py>,
    problem: &Bound<'py, PyProblem>,
    optimizer: &Bound<'py, PyAny>,
    steps: usize,
    schedule: Option<&str>,
    start: Option<&Bound<'py, PyAny>>,
    clip_norm: Option<f64>,
    clip_value: Option<f64>,
    trajectory: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let opt: Bound<'py, PyOptimizer> = if let Ok(s) = optimizer.extract::<String>() {
        let call = gradus::spec::parse(&s).map_err(errors::core)?;
        Bound::new(py, PyOptimizer::from_call(&call, None, "error")?)?
    } else {
        optimizer
            .cast::<PyOptimizer>()
            .map_err(|_| {
                PyTypeError::new_err(
                    "optimizer must be a gradus.Optimizer or a spec string such as 'adam(lr=0.01)'",
                )
            })?
            .clone()
    };
    let problem = problem.borrow();
    let dtype = match problem.problem {
        TypedProblem::F32(_) => gradus::DType::F32,
        TypedProblem::F64(_) => gradus::DType::F64,
    };
    let o = opt.borrow();
    o.settle(dtype, "x")?;
    let mut inner = o.lock();
    let mut sched = match schedule {
        Some(spec) => {
            let (lr, m) = crate::optimizer::with_typed!(&inner.typed, t => (t.lr(), t.momentum()));
            let s = gradus::schedule::build(spec, lr, m).map_err(errors::core)?;
            crate::optimizer::with_typed!(&mut inner.typed, t => t.set_lr(s.lr()))
                .map_err(errors::core)?;
            Some(s)
        }
        None => None,
    };
    let opts = RunOptions {
        steps,
        clip_norm,
        clip_value,
        keep: trajectory,
    };
    let rec = match (&problem.problem, &mut inner.typed) {
        (TypedProblem::F32(f), Typed::F32(t)) => {
            run_on(py, f.as_ref(), t, sched.as_mut(), start, opts)?
        }
        (TypedProblem::F64(f), Typed::F64(t)) => {
            run_on(py, f.as_ref(), t, sched.as_mut(), start, opts)?
        }
        _ => return Err(PyValueError::new_err("optimizer and problem dtypes differ")),
    }
    .map_err(errors::core)?;
    let d = PyDict::new(py);
    let dim = rec.x.len();
    if trajectory {
        let t = PyArray1::from_vec(py, rec.trajectory).reshape([steps + 1, dim])?;
        d.set_item("trajectory", t.cast_into::<PyArray2<f64>>()?)?;
    }
    d.set_item("losses", PyArray1::from_vec(py, rec.losses))?;
    d.set_item("lrs", PyArray1::from_vec(py, rec.lrs))?;
    d.set_item("x", PyArray1::from_vec(py, rec.x))?;
    d.set_item("optimizer", opt)?;
    Ok(d)
}
