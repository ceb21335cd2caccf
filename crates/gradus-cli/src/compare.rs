//! `gradus compare`: several optimizers on the same problem, start and seed.

use crate::args::ProblemArgs;
use crate::cli_error::CliError;
use crate::history::{num, run_history, RunResult};
use crate::output::human;
use crate::runner::RunSpec;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::PathBuf;

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
    #[arg(long, allow_negative_numbers = true, value_name = "TOL")]
    pub tol: Option<f64>,
    /// Write every history to this directory (one file per optimizer).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Keep (and write) a record every N steps only: the loss of data problems is then
    /// evaluated on the training set only every N steps.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "N",
        default_value_t = 1
    )]
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

/// Entry point of `gradus compare`.
pub fn main(args: CompareArgs) -> Result<(), CliError> {
    let (specs, results) = execute(&args)?;
    print_table(&results, args.tol)?;
    crate::plots::draw(&args.plots, &specs, &results)?;
    if !results.is_empty() && results.iter().all(|r| r.stopped.is_some()) {
        return Err(CliError::diverged(format!(
            "every run diverged ({} of {}; see the notes above)",
            results.len(),
            results.len()
        )));
    }
    Ok(())
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
    // Every output is checked before the first run starts.
    if let Some(dir) = &args.out {
        crate::output_paths::check_dir("--out", dir)?;
    }
    if let (true, Some(s)) = (args.plots.any(), specs.first()) {
        let problem = gradus_problems::build::<f64>(&s.problem, &s.problem_options)?;
        args.plots
            .check(&s.problem, problem.dim(), problem.as_data().is_some())?;
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

/// Rows as aligned text: the first row a header underlined with dashes, the first
/// column left-aligned and the others right-aligned; one line per row.
pub fn text_table(rows: &[Vec<String>]) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let widths: Vec<usize> = (0..first.len())
        .map(|j| {
            rows.iter()
                .map(|r| r.get(j).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
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
        text.push_str(&line.join("  "));
        text.push('\n');
        if i == 0 {
            text.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            text.push('\n');
        }
    }
    text
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

fn print_table(results: &[RunResult], tol: Option<f64>) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::io("writing to stdout", e);
    let mut out = std::io::stdout().lock();
    write!(out, "{}", text_table(&table(results, tol, false))).map_err(io)?;
    for r in results {
        if let Some(s) = &r.stopped {
            writeln!(out, "note: {} stopped: {s}", r.label).map_err(io)?;
        }
    }
    out.flush().map_err(io)
}
