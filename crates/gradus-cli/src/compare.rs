//! `gradus compare`: several optimizers on the same problem, start and seed.

use crate::cli_error::CliError;
use crate::output::human;
use crate::run::ProblemArgs;
use crate::runner::{RunSpec, Runner};
use gradus::{DType, Float};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `gradus compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub common: ProblemArgs,
    /// Optimizer specs to compare (repeat the flag), e.g. `--optimizer sgd(lr=0.01) --optimizer adam`.
    /// `--optimizer`, `--start` and `--schedule` may each be given once (shared by all
    /// runs) or N times (one per run).
    #[arg(long = "optimizer", value_name = "SPEC", required = true)]
    pub optimizers: Vec<String>,
    /// Report the first step at which the loss gap (loss minus the known minimum or
    /// least-squares optimum, or the loss itself when neither is known) is at most TOL.
    #[arg(long, value_name = "TOL")]
    pub tol: Option<f64>,
    /// Write every history to this directory (one file per optimizer).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Keep (and write) a record every N steps only: the loss of data problems is then
    /// evaluated on the training set only every N steps.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub every: u64,
    #[command(flatten)]
    pub plots: crate::plots::PlotArgs,
    /// Format of the history files written with --out.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Csv)]
    pub out_format: HistoryFormat,
}

/// The runs of a comparison: optimizers, starts and schedules broadcast together
/// (each list has one entry or as many as the longest).
pub fn runs(args: &CompareArgs) -> Result<Vec<RunSpec>, CliError> {
    let c = &args.common;
    let lens = [
        ("--optimizer", args.optimizers.len()),
        ("--start", c.start.len()),
        ("--schedule", c.schedule.len()),
        ("--steps", c.steps.len()),
        ("--batch-size", c.batch_size.len()),
    ];
    let n = lens.iter().map(|l| l.1).max().unwrap_or(1).max(1);
    for (flag, len) in lens {
        if len > 1 && len != n {
            return Err(CliError::usage(format!(
                "{flag} was given {len} times but another flag {n} times; give each of \
                 --optimizer, --start, --schedule, --steps and --batch-size once or {n} times"
            )));
        }
    }
    (0..n)
        .map(|i| {
            let o = if args.optimizers.len() == 1 {
                &args.optimizers[0]
            } else {
                &args.optimizers[i]
            };
            c.spec(&c.pick(o, i))
        })
        .collect()
}

/// A short label for run `i` of a comparison: the parts that differ between runs.
pub fn label(specs: &[RunSpec], i: usize) -> String {
    let s = &specs[i];
    let differs = |f: &dyn Fn(&RunSpec) -> String| specs.iter().any(|o| f(o) != f(s));
    let mut parts = Vec::new();
    let opt = |r: &RunSpec| r.optimizer.to_string();
    if differs(&opt) || specs.len() == 1 {
        parts.push(opt(s));
    }
    let start = |r: &RunSpec| format!("{:?}", r.start);
    if differs(&start) {
        if let Some(v) = &s.start {
            let v: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
            parts.push(format!("from ({})", v.join(", ")));
        }
    }
    let sched = |r: &RunSpec| {
        r.schedule
            .as_ref()
            .map_or("constant lr".to_string(), |c| c.to_string())
    };
    if differs(&sched) {
        parts.push(sched(s));
    }
    let batch = |r: &RunSpec| {
        r.batch_size
            .map_or("full batch".to_string(), |b| format!("batch {b}"))
    };
    if differs(&batch) {
        parts.push(batch(s));
    }
    let steps = |r: &RunSpec| format!("{} steps", r.steps);
    if differs(&steps) {
        parts.push(steps(s));
    }
    if parts.is_empty() {
        parts.push(opt(s));
    }
    parts.join(", ")
}

/// File format of `--out` histories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    /// `step,loss,lr,p0,p1,...`
    Csv,
    /// One JSON object per step, as `gradus run --format jsonl`.
    Jsonl,
}

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
    let loss = runner.loss();
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
    if runner.x.len() <= crate::runner::MAX_PRINTED_PARAMS {
        m.insert(
            "params".into(),
            Value::Array(runner.x.iter().map(|&v| num(v)).collect()),
        );
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
        m.insert("test_loss".into(), num(data.test_loss(&runner.x)));
        if let Some(acc) = data.test_accuracy(&runner.x) {
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
    let mut stopped = None;
    loop {
        if runner.step % every != 0 && runner.step != steps {
            if let Err(h) = runner.advance() {
                stopped = Some(h.into_error().message);
                break;
            }
            continue;
        }
        match runner.record() {
            Ok(r) => history.push((
                r.step,
                r.loss.f64(),
                r.lr,
                r.params.map(|p| p.iter().map(|v| v.f64()).collect()),
            )),
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
    let summary = summary(&mut runner, wall);
    Ok(RunResult {
        optimizer: spec.optimizer.to_string(),
        history,
        summary,
        stopped,
        reference,
        label: spec.optimizer.to_string(),
    })
}

/// Entry point of `gradus compare`.
pub fn main(args: CompareArgs) -> Result<(), CliError> {
    let (specs, results) = execute(&args)?;
    print_table(&results, args.tol);
    crate::plots::draw(&args.plots, &specs, &results)
}

/// Runs a comparison and writes its `--out` histories (but neither prints nor plots).
pub fn execute(args: &CompareArgs) -> Result<(Vec<RunSpec>, Vec<RunResult>), CliError> {
    if let Some(t) = args.tol {
        if !t.is_finite() {
            return Err(CliError::usage(format!(
                "--tol {t} is invalid: expected a finite number"
            )));
        }
    }
    let specs = runs(args)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::io(format!("creating {}", dir.display()), e))?;
    }
    let mut results = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let mut r = run_history(spec, args.every)?;
        r.label = label(&specs, i);
        if let Some(dir) = &args.out {
            write_history(dir, i, &r, args.out_format)?;
        }
        results.push(r);
    }
    Ok((specs, results))
}

fn file_stem(i: usize, spec: &str) -> String {
    let name: String = spec
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    format!("{:02}-{name}", i + 1)
}

fn write_history(
    dir: &std::path::Path,
    i: usize,
    r: &RunResult,
    format: HistoryFormat,
) -> Result<(), CliError> {
    let ext = match format {
        HistoryFormat::Csv => "csv",
        HistoryFormat::Jsonl => "jsonl",
    };
    let path = dir.join(format!("{}.{ext}", file_stem(i, &r.optimizer)));
    let mut out = String::new();
    match format {
        HistoryFormat::Csv => {
            let np = r
                .history
                .first()
                .and_then(|h| h.3.as_ref())
                .map_or(0, |p| p.len());
            out.push_str("step,loss,lr");
            for j in 0..np {
                out.push_str(&format!(",p{j}"));
            }
            out.push('\n');
            for (step, loss, lr, params) in &r.history {
                out.push_str(&format!("{step},{loss:?},{lr:?}"));
                for v in params.iter().flatten() {
                    out.push_str(&format!(",{v:?}"));
                }
                out.push('\n');
            }
        }
        HistoryFormat::Jsonl => {
            for (step, loss, lr, params) in &r.history {
                let mut m = Map::new();
                m.insert("step".into(), Value::from(*step));
                m.insert("loss".into(), num(*loss));
                m.insert("lr".into(), num(*lr));
                if let Some(p) = params {
                    m.insert(
                        "params".into(),
                        Value::Array(p.iter().map(|&v| num(v)).collect()),
                    );
                }
                out.push_str(&Value::Object(m).to_string());
                out.push('\n');
            }
            let mut m = Map::new();
            m.insert("summary".into(), Value::Object(r.summary.clone()));
            out.push_str(&Value::Object(m).to_string());
            out.push('\n');
        }
    }
    std::fs::write(&path, out).map_err(|e| CliError::io(format!("writing {}", path.display()), e))
}

/// The comparison as a table: a header row, then one row per run. `final_x` adds the
/// final parameters (for problems with at most two).
pub fn table(results: &[RunResult], tol: Option<f64>, final_x: bool) -> Vec<Vec<String>> {
    let get = |r: &RunResult, k: &str| r.summary.get(k).and_then(Value::as_f64);
    let has_test = results.iter().any(|r| r.summary.contains_key("test_loss"));
    let has_acc = results
        .iter()
        .any(|r| r.summary.contains_key("test_accuracy"));
    let final_x = final_x
        && results.iter().all(|r| {
            r.summary
                .get("params")
                .and_then(Value::as_array)
                .is_some_and(|a| a.len() <= 2)
        });
    let mut header = vec!["run".to_string(), "steps".into(), "final loss".into()];
    if has_test {
        header.push("test loss".into());
    }
    if has_acc {
        header.push("test acc".into());
    }
    if final_x {
        header.push("final x".into());
    }
    if let Some(t) = tol {
        header.push(format!("steps to {}", human(t)));
    }
    header.push("wall s".into());
    let mut rows = vec![header];
    for r in results {
        let mut row = vec![
            r.label.clone(),
            r.history.last().map_or(0, |h| h.0).to_string(),
        ];
        row.push(match &r.stopped {
            Some(_) => "diverged".into(),
            None => get(r, "loss").map_or("-".into(), human),
        });
        if has_test {
            row.push(get(r, "test_loss").map_or("-".into(), human));
        }
        if has_acc {
            row.push(get(r, "test_accuracy").map_or("-".into(), |a| format!("{:.2}%", 100.0 * a)));
        }
        if final_x {
            let x = r
                .summary
                .get("params")
                .and_then(Value::as_array)
                .filter(|_| r.stopped.is_none())
                .map(|a| {
                    let v: Vec<String> = a
                        .iter()
                        .filter_map(Value::as_f64)
                        .map(|x| format!("{x:.4}"))
                        .collect();
                    format!("({})", v.join(", "))
                });
            row.push(x.unwrap_or_else(|| "-".into()));
        }
        if let Some(t) = tol {
            row.push(r.steps_to(t).map_or("never".into(), |s| s.to_string()));
        }
        row.push(get(r, "wall_seconds").map_or("-".into(), |w| format!("{w:.3}")));
        rows.push(row);
    }
    rows
}

fn print_table(results: &[RunResult], tol: Option<f64>) {
    let rows = table(results, tol, false);
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|j| rows.iter().map(|r| r[j].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = std::io::stdout().lock();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(j, c)| {
                if j == 0 {
                    format!("{c:<w$}", w = widths[j])
                } else {
                    format!("{c:>w$}", w = widths[j])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  "));
        if i == 0 {
            let _ = writeln!(
                out,
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
            );
        }
    }
    for r in results {
        if let Some(s) = &r.stopped {
            let _ = writeln!(out, "note: {} stopped: {s}", r.label);
        }
    }
}
