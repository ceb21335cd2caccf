//! The JSON API: `/api/catalog`, `/api/run` (and its streaming form) and `/api/surface`.

use super::limits::Deadline;
use super::AppState;
use crate::args::{NonFiniteArg, ProblemArgs, SamplingArg};
use crate::cli_error::CliError;
use crate::history::{num, summary};
use crate::runner::{Halt, Record, RunSpec, Runner};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gradus::{DType, Float};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

/// An error answer: `{"error": "..."}` with `status`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let message: String = message.into();
    (status, Json(json!({ "error": message.replace('\n', " ") }))).into_response()
}

fn bad_request(e: CliError) -> Response {
    error(StatusCode::BAD_REQUEST, e.message)
}

/// `GET /api/catalog`.
pub async fn catalog(State(state): State<Arc<AppState>>) -> Response {
    Json(state.catalog.clone()).into_response()
}

/// One run as `POST /api/run` takes it: the flags of `gradus run`, by their JSON names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    problem: String,
    optimizer: String,
    schedule: Option<String>,
    start: Option<Vec<f64>>,
    steps: Option<u64>,
    noise: Option<f64>,
    seed: Option<u64>,
    dim: Option<usize>,
    batch_size: Option<usize>,
    dtype: Option<String>,
    hidden: Option<usize>,
    clip_norm: Option<f64>,
    clip_value: Option<f64>,
    sampling: Option<String>,
    on_nonfinite: Option<String>,
    /// Keep a record every N steps (and the last), as `gradus compare --every`.
    every: Option<u64>,
    /// Data problems: the test loss and accuracy every N steps.
    eval_every: Option<u64>,
}

/// Several runs in one request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    runs: Vec<RunRequest>,
}

/// A validated run request.
struct Job {
    spec: RunSpec,
    every: u64,
    eval_every: Option<u64>,
}

impl RunRequest {
    /// The run settings, validated by the same code as `gradus run`'s flags, within
    /// the server's limits.
    fn job(&self, state: &AppState) -> Result<Job, CliError> {
        let limits = &state.limits;
        if self.problem == "linreg" {
            return Err(CliError::usage(
                "problem 'linreg' reads a CSV file, which the server does not do; use \
                 `gradus run --problem linreg --data FILE` on the command line",
            ));
        }
        let steps = self.steps.unwrap_or(crate::args::DEFAULT_STEPS);
        if steps > limits.steps {
            return Err(CliError::usage(format!(
                "steps {steps} is too many: the server runs at most {} steps per run",
                limits.steps
            )));
        }
        if let Some(d) = self.dim.filter(|&d| d > limits.dim) {
            return Err(CliError::usage(format!(
                "dim {d} is too large: the server takes dim at most {}",
                limits.dim
            )));
        }
        if let Some(h) = self.hidden.filter(|&h| h > limits.hidden) {
            return Err(CliError::usage(format!(
                "hidden {h} is too large: the server takes hidden at most {}",
                limits.hidden
            )));
        }
        let dtype = match self.dtype.as_deref() {
            None => DType::F64,
            Some(d) => d.parse::<DType>()?,
        };
        let sampling = match self.sampling.as_deref() {
            None | Some("replacement") => SamplingArg::Replacement,
            Some("epoch") => SamplingArg::Epoch,
            Some(other) => {
                return Err(CliError::usage(format!(
                    "sampling '{other}' is unknown: expected 'replacement' or 'epoch'"
                )))
            }
        };
        let on_nonfinite = match self.on_nonfinite.as_deref() {
            None | Some("error") => NonFiniteArg::Error,
            Some("skip") => NonFiniteArg::Skip,
            Some("propagate") => NonFiniteArg::Propagate,
            Some(other) => {
                return Err(CliError::usage(format!(
                    "on_nonfinite '{other}' is unknown: expected 'error', 'skip' or 'propagate'"
                )))
            }
        };
        let positive = |name: &str, v: Option<u64>| match v {
            Some(0) => Err(CliError::usage(format!(
                "{name} 0 is invalid: expected at least 1"
            ))),
            v => Ok(v),
        };
        let every = positive("every", self.every)?.unwrap_or(1);
        let eval_every = positive("eval_every", self.eval_every)?;
        let args = ProblemArgs {
            problem: Some(self.problem.clone()),
            dim: self.dim,
            shape: None,
            // `Display` of an f64 reads back as the same f64.
            start: self
                .start
                .iter()
                .map(|s| {
                    s.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect(),
            schedule: self.schedule.iter().cloned().collect(),
            steps: vec![steps],
            dtype,
            seed: self.seed.unwrap_or(0),
            batch_size: self.batch_size.into_iter().collect(),
            sampling,
            noise: self.noise.unwrap_or(0.0),
            data: None,
            target: None,
            features: None,
            hidden: self.hidden,
            clip_norm: self.clip_norm,
            clip_value: self.clip_value,
            on_nonfinite,
        };
        let spec = args.spec(&args.single(&self.optimizer)?)?;
        Ok(Job {
            spec,
            every,
            eval_every,
        })
    }
}

/// How a run ended.
struct Outcome {
    summary: Map<String, Value>,
    /// Why it stopped before its last step (it diverged).
    stopped: Option<String>,
}

/// Drives one run with the runner of `gradus run`, handing every kept record and
/// evaluation to `sink`; `sink` returns false to stop (the client went away).
fn drive<T: Float>(
    job: &Job,
    deadline: &Deadline,
    sink: &mut dyn FnMut(Line<'_, T>) -> bool,
) -> Result<Outcome, CliError> {
    let spec = &job.spec;
    let steps = spec.steps;
    let mut runner = Runner::<T>::new(spec)?;
    let started = Instant::now();
    let mut stopped = None;
    loop {
        let step = runner.step;
        if step % 32 == 0 {
            deadline.check(|| format!("at step {step} of {steps}"))?;
        }
        let last = step == steps;
        if step % job.every == 0 || last {
            match runner.record() {
                Ok(r) => {
                    if !sink(Line::Record(&r)) {
                        break;
                    }
                }
                Err(h) => {
                    stopped = Some(h.into_error().message);
                    break;
                }
            }
        } else if !runner.params_finite() {
            stopped = Some(Halt::NonFiniteParams { step }.into_error().message);
            break;
        }
        if let (Some(k), Some(data)) = (job.eval_every, runner.problem.as_data()) {
            if step % k == 0 || last {
                let test_loss = data.test_loss(&runner.x);
                let accuracy = data.test_accuracy(&runner.x);
                let mut m = Map::new();
                m.insert("step".into(), Value::from(step));
                m.insert("test_loss".into(), num(test_loss));
                if let Some(a) = accuracy {
                    m.insert("test_accuracy".into(), num(a));
                }
                if !sink(Line::Eval(m)) {
                    break;
                }
            }
        }
        if last {
            break;
        }
        if let Err(h) = runner.advance() {
            stopped = Some(h.into_error().message);
            break;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    Ok(Outcome {
        summary: summary(&mut runner, wall),
        stopped,
    })
}

/// What a run hands out as it goes.
enum Line<'a, T> {
    /// A record, as a line of `gradus run --format jsonl`.
    Record(&'a Record<T>),
    /// A data problem's test loss (and accuracy) at a step.
    Eval(Map<String, Value>),
}

/// A run's records as columns: what `POST /api/run` answers.
fn columns<T: Float>(job: &Job, deadline: &Deadline) -> Result<Value, CliError> {
    let mut steps = Vec::new();
    let mut loss = Vec::new();
    let mut lr = Vec::new();
    let mut params = Vec::new();
    let mut evals = Vec::new();
    let outcome = drive::<T>(job, deadline, &mut |line| {
        match line {
            Line::Record(r) => {
                steps.push(Value::from(r.step));
                loss.push(num(r.loss));
                lr.push(num(r.lr));
                if let Some(p) = &r.params {
                    params.push(Value::Array(p.iter().map(|&v| num(v)).collect()));
                }
            }
            Line::Eval(m) => evals.push(Value::Object(m)),
        }
        true
    })?;
    let mut m = Map::new();
    m.insert("steps".into(), Value::Array(steps));
    m.insert("loss".into(), Value::Array(loss));
    m.insert("lr".into(), Value::Array(lr));
    m.insert(
        "params".into(),
        if params.is_empty() {
            Value::Null
        } else {
            Value::Array(params)
        },
    );
    if job.eval_every.is_some() {
        m.insert("eval".into(), Value::Array(evals));
    }
    m.insert("summary".into(), Value::Object(outcome.summary));
    m.insert(
        "stopped".into(),
        outcome.stopped.map_or(Value::Null, Value::String),
    );
    Ok(Value::Object(m))
}

fn run_columns(job: &Job, deadline: &Deadline) -> Result<Value, CliError> {
    match job.spec.dtype {
        DType::F64 => columns::<f64>(job, deadline),
        DType::F32 => columns::<f32>(job, deadline),
    }
}

/// Reads a JSON body; a malformed or oversized one gives the status and message to
/// answer with.
fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, (StatusCode, String)> {
    let body = body.map_err(|e| {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the request body is too large (the server takes at most 1 MiB)".to_string()
        } else {
            format!("could not read the request body: {e}")
        };
        (status, message)
    })?;
    serde_json::from_slice(&body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("the request body is not a valid run request: {e}"),
        )
    })
}

/// `POST /api/run`: one run object, or `{"runs": [...]}` for several (answered as
/// `{"runs": [...]}` in the same order).
pub async fn run(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let value: Value = match parse_body(body) {
        Ok(v) => v,
        Err((status, message)) => return error(status, message),
    };
    let batch = value.get("runs").is_some();
    let requests: Vec<RunRequest> = if batch {
        match serde_json::from_value::<BatchRequest>(value) {
            Ok(b) => b.runs,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid runs: {e}")),
        }
    } else {
        match serde_json::from_value::<RunRequest>(value) {
            Ok(r) => vec![r],
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the request body is not a valid run request: {e}"),
                )
            }
        }
    };
    if requests.is_empty() || requests.len() > state.limits.runs {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "runs has {} entries: the server takes 1 to {} runs per request",
                requests.len(),
                state.limits.runs
            ),
        );
    }
    let mut jobs = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        match r.job(&state) {
            Ok(j) => jobs.push(j),
            Err(e) if batch => return bad_request(CliError::usage(format!("run {i}: {e}"))),
            Err(e) => return bad_request(e),
        }
    }
    let Ok(_permit) = state.runs.acquire().await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        );
    };
    let deadline = Deadline::after(state.limits.time_budget);
    let computed = tokio::task::spawn_blocking(move || {
        jobs.iter()
            .enumerate()
            .map(|(i, j)| {
                run_columns(j, &deadline).map_err(|e| {
                    if batch {
                        CliError::usage(format!("run {i}: {e}"))
                    } else {
                        e
                    }
                })
            })
            .collect::<Result<Vec<Value>, CliError>>()
    })
    .await;
    match computed {
        Ok(Ok(mut runs)) if !batch => Json(runs.remove(0)).into_response(),
        Ok(Ok(runs)) => Json(json!({ "runs": runs })).into_response(),
        Ok(Err(e)) => bad_request(e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: the run failed ({e}); please report this bug"),
        ),
    }
}

/// A response body fed line by line from the thread computing the run.
struct LineBody(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for LineBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// `POST /api/run/stream`: one run as `application/x-ndjson`, sent as it is computed:
/// the lines of `gradus run --format jsonl` (records, then `{"summary": ...}`), with
/// `{"eval": ...}` lines for `eval_every`, a `{"stopped": "..."}` line before the
/// summary if the run diverged, and `{"error": "..."}` as the last line if the run
/// fails part way (past its time budget).
pub async fn run_stream(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: RunRequest = match parse_body(body) {
        Ok(r) => r,
        Err((status, message)) => return error(status, message),
    };
    let job = match request.job(&state) {
        Ok(j) => j,
        Err(e) => return bad_request(e),
    };
    let Ok(permit) = state.runs.clone().acquire_owned().await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        );
    };
    let deadline = Deadline::after(state.limits.stream_budget());
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let send = |v: String| tx.blocking_send(Bytes::from(v + "\n")).is_ok();
        let result = match job.spec.dtype {
            DType::F64 => stream_lines::<f64>(&job, &deadline, &send),
            DType::F32 => stream_lines::<f32>(&job, &deadline, &send),
        };
        match result {
            Ok(outcome) => {
                if let Some(s) = outcome.stopped {
                    send(json!({ "stopped": s }).to_string());
                }
                send(json!({ "summary": outcome.summary }).to_string());
            }
            Err(e) => {
                send(json!({ "error": e.message }).to_string());
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::new(LineBody(rx)),
    )
        .into_response()
}

fn stream_lines<T: Float>(
    job: &Job,
    deadline: &Deadline,
    send: &dyn Fn(String) -> bool,
) -> Result<Outcome, CliError> {
    drive::<T>(job, deadline, &mut |line| match line {
        // The same serializer and struct as `gradus run --format jsonl`.
        Line::Record(r) => serde_json::to_string(r).is_ok_and(send),
        Line::Eval(m) => send(json!({ "eval": m }).to_string()),
    })
}

/// `GET /api/surface` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurfaceQuery {
    problem: String,
    xmin: f64,
    xmax: f64,
    ymin: Option<f64>,
    ymax: Option<f64>,
    n: Option<usize>,
    dim: Option<usize>,
    seed: Option<u64>,
}

/// `GET /api/surface`: the loss on an n × n grid over [xmin, xmax] × [ymin, ymax]
/// (`values[j][i]` at `x[i]`, `y[j]`), or on n points of [xmin, xmax] for a 1-D problem.
pub async fn surface(
    State(state): State<Arc<AppState>>,
    query: Result<Query<SurfaceQuery>, QueryRejection>,
) -> Response {
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid surface query: {}", e.body_text()),
            )
        }
    };
    let n = q.n.unwrap_or(100);
    if !(2..=state.limits.grid).contains(&n) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "n {n} is invalid: the grid takes 2 to {} points per side",
                state.limits.grid
            ),
        );
    }
    if q.problem == "linreg" {
        return error(
            StatusCode::BAD_REQUEST,
            "problem 'linreg' reads a CSV file, which the server does not do",
        );
    }
    let _permit = state.runs.acquire().await;
    let deadline = Deadline::after(state.limits.time_budget);
    let computed = tokio::task::spawn_blocking(move || grid(&q, n, &deadline)).await;
    match computed {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => bad_request(e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: the surface failed ({e}); please report this bug"),
        ),
    }
}

fn grid(q: &SurfaceQuery, n: usize, deadline: &Deadline) -> Result<Value, CliError> {
    let opts = gradus_problems::ProblemOptions {
        dim: q.dim,
        seed: q.seed.unwrap_or(0),
        ..Default::default()
    };
    let problem = gradus_problems::build::<f64>(&q.problem, &opts)?;
    let dim = problem.dim();
    let axis = |lo: f64, hi: f64, name: &str| -> Result<Vec<f64>, CliError> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(CliError::usage(format!(
                "{name}min {lo} and {name}max {hi} are invalid: expected finite numbers with \
                 {name}min < {name}max"
            )));
        }
        Ok((0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect())
    };
    let xs = axis(q.xmin, q.xmax, "x")?;
    match dim {
        1 => {
            let values: Vec<Value> = xs.iter().map(|&x| num(problem.value(&[x]))).collect();
            Ok(json!({ "problem": q.problem, "x": xs, "values": values }))
        }
        2 => {
            let (Some(ymin), Some(ymax)) = (q.ymin, q.ymax) else {
                return Err(CliError::usage(format!(
                    "problem '{}' is 2-D: give ymin and ymax too",
                    q.problem
                )));
            };
            let ys = axis(ymin, ymax, "y")?;
            let mut rows = Vec::with_capacity(n);
            for (j, &y) in ys.iter().enumerate() {
                deadline.check(|| format!("at grid row {j} of {n}"))?;
                rows.push(Value::Array(
                    xs.iter().map(|&x| num(problem.value(&[x, y]))).collect(),
                ));
            }
            Ok(json!({ "problem": q.problem, "x": xs, "y": ys, "values": rows }))
        }
        d => Err(CliError::usage(format!(
            "problem '{}' has {d} parameters; a surface is drawn for 1- and 2-parameter \
             problems only",
            q.problem
        ))),
    }
}
