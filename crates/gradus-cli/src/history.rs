//! The history and summary of one run, kept in memory: what `run`, `compare`, `report`
//! and the server read after driving a [`Runner`].

use crate::cli_error::CliError;
use crate::runner::{RunSpec, Runner};
use gradus::{DType, Float};
use serde_json::{Map, Value};
use std::time::Instant;

/// A JSON number with the shortest text that round-trips in `T` (null if not finite).
pub fn num<T: Float>(x: T) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    // `Display` of f32/f64 is the shortest round-trip form in that type.
    format!("{x}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The summary of a finished (or stopped) run.
pub fn summary<T: Float>(runner: &mut Runner<T>, wall_seconds: f64) -> Map<String, Value> {
    let mut m = Map::new();
    let spec = runner.spec().clone();
    // The runner's own tensors always fit the optimizer's state, so the read-out of
    // the evaluation point cannot fail.
    let eval = runner.eval_params().ok().flatten();
    let params_loss = runner.loss();
    let loss = runner.reported_loss().unwrap_or(params_loss);
    let point = eval.clone().unwrap_or_else(|| runner.x.clone());
    m.insert("problem".into(), Value::String(spec.problem.clone()));
    m.insert(
        "optimizer".into(),
        Value::String(spec.optimizer.to_string()),
    );
    if let Some(s) = &runner.schedule {
        m.insert("schedule".into(), Value::String(s.spec().to_string()));
    }
    m.insert("dtype".into(), Value::String(spec.dtype.to_string()));
    m.insert("seed".into(), Value::from(spec.seed));
    m.insert("steps".into(), Value::from(runner.step));
    m.insert("loss".into(), num(loss));
    if eval.is_some() {
        // Schedule-Free and the like: losses, test metrics and the answer are those of
        // the evaluation point; the gradient point's loss is given too.
        m.insert("loss_at".into(), Value::String("eval_params".into()));
        m.insert("params_loss".into(), num(params_loss));
    }
    if runner.x.len() <= crate::runner::MAX_PRINTED_PARAMS {
        m.insert(
            "params".into(),
            Value::Array(runner.x.iter().map(|&v| num(v)).collect()),
        );
        if let Some(e) = &eval {
            m.insert(
                "eval_params".into(),
                Value::Array(e.iter().map(|&v| num(v)).collect()),
            );
        }
    }
    m.insert("lr".into(), num(runner.lr()));
    if runner.skipped > 0 || spec.nonfinite != gradus::optim::NonFinitePolicy::Error {
        m.insert("skipped_steps".into(), Value::from(runner.skipped));
    }
    if let Some(min) = runner.problem.minimum().map(|(_, v)| v) {
        m.insert("minimum".into(), num(min));
    }
    if let Some(data) = runner.problem.as_data() {
        m.insert("train_loss".into(), num(loss));
        m.insert("test_loss".into(), num(data.test_loss(&point)));
        if let Some(acc) = data.test_accuracy(&point) {
            m.insert("test_accuracy".into(), num(acc));
        }
        if let Some(opt) = data.optimum_loss() {
            m.insert("optimum_loss".into(), num(opt));
            let gap = loss.f64() - opt;
            m.insert("optimum_gap".into(), num(gap));
            if opt != 0.0 {
                m.insert("relative_gap".into(), num(gap / opt));
            }
        }
    }
    m.insert("wall_seconds".into(), num(wall_seconds));
    m
}

/// What one optimizer did in a comparison.
pub struct RunResult {
    /// The optimizer spec as given.
    pub optimizer: String,
    /// `(step, loss, lr, params)` for every step reached.
    pub history: Vec<(u64, f64, f64, Option<Vec<f64>>)>,
    /// The runner's evaluations (see `Runner::evaluations`) at each record of `history`,
    /// counting the one that record's loss took (empty where they are not counted).
    pub evaluations: Vec<u64>,
    /// The run summary.
    pub summary: Map<String, Value>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// The loss the tolerance is measured against (known minimum or optimum), if any.
    pub reference: Option<f64>,
    /// How tables and legends name this run.
    pub label: String,
}

impl RunResult {
    /// First step whose loss gap is at most `tol`.
    pub fn steps_to(&self, tol: f64) -> Option<u64> {
        let r = self.reference.unwrap_or(0.0);
        self.history.iter().find(|h| h.1 - r <= tol).map(|h| h.0)
    }
}

/// The summary key of a classification run's test accuracy at every record of its
/// history: `[[step, accuracy], ...]` (runs of [`run_history`] only).
pub const TEST_ACCURACY_CURVE: &str = "test_accuracy_curve";

/// The summary key of the optimizer state's size at the end of a run, in bytes per
/// parameter (runs of [`run_history`] only): 8 for Adam in f32 (two moments), less for
/// Adafactor's factored moments.
pub const STATE_BYTES_PER_PARAM: &str = "state_bytes_per_param";

/// The test accuracy of a classification problem at the runner's evaluation point.
pub(crate) fn test_accuracy<T: Float>(runner: &mut Runner<T>) -> Option<f64> {
    let eval = runner.eval_params().ok().flatten();
    let data = runner.problem.as_data()?;
    data.test_accuracy(eval.as_deref().unwrap_or(&runner.x))
}

/// Runs `spec` for `steps` updates, keeping every record.
/// Records are kept every `every` steps (and at the last).
pub fn run_history(spec: &RunSpec, every: u64) -> Result<RunResult, CliError> {
    match spec.dtype {
        DType::F64 => run_history_typed::<f64>(spec, every),
        DType::F32 => run_history_typed::<f32>(spec, every),
    }
}

fn run_history_typed<T: Float>(spec: &RunSpec, every: u64) -> Result<RunResult, CliError> {
    let steps = spec.steps;
    let every = every.max(1);
    let mut runner = Runner::<T>::new(spec)?;
    let started = Instant::now();
    let mut history = Vec::with_capacity((steps / every) as usize + 2);
    let mut evaluations = Vec::with_capacity(history.capacity());
    let mut stopped = None;
    let mut accuracy = Vec::new();
    loop {
        if runner.step % every != 0 && runner.step != steps {
            if let Err(h) = runner.advance() {
                stopped = Some(h.into_error().message);
                break;
            }
            continue;
        }
        match runner.record() {
            Ok(r) => {
                history.push((
                    r.step,
                    r.loss.f64(),
                    r.lr,
                    r.params.map(|p| p.iter().map(|v| v.f64()).collect()),
                ));
                evaluations.push(runner.evaluations);
                if let Some(acc) = test_accuracy(&mut runner) {
                    accuracy.push(Value::Array(vec![Value::from(r.step), num(acc)]));
                }
            }
            Err(h) => {
                stopped = Some(h.into_error().message);
                break;
            }
        }
        if runner.step == steps {
            break;
        }
        if let Err(h) = runner.advance() {
            stopped = Some(h.into_error().message);
            break;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let reference = runner
        .problem
        .as_data()
        .and_then(|d| d.optimum_loss())
        .or_else(|| runner.problem.minimum().map(|m| m.1));
    let mut summary = summary(&mut runner, wall);
    if !accuracy.is_empty() {
        summary.insert(TEST_ACCURACY_CURVE.into(), Value::Array(accuracy));
    }
    let state = runner.stepper.state().buffer_bytes();
    if !runner.x.is_empty() {
        let bytes = state as f64 / runner.x.len() as f64;
        summary.insert(STATE_BYTES_PER_PARAM.into(), num(bytes));
    }
    Ok(RunResult {
        optimizer: spec.optimizer.to_string(),
        history,
        evaluations,
        summary,
        stopped,
        reference,
        label: spec.optimizer.to_string(),
    })
}
