//! `gradus sweep`: each optimizer over a log-spaced grid of learning rates on one
//! problem, all runs in parallel: which lr to start with, and how forgiving each
//! optimizer is.

use crate::args::ProblemArgs;
use crate::cli_error::CliError;
use crate::history::{run_history, RunResult};
use crate::output::human;
use gradus::spec::{Call, Value};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `gradus sweep`.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub common: ProblemArgs,
    /// Optimizer specs to sweep (repeat the flag); their own `lr` is replaced by each
    /// learning rate of the grid, e.g. `--optimizer 'sgd(momentum=0.9)' --optimizer adam`.
    #[arg(
        long = "optimizer",
        value_name = "SPEC",
        required_unless_present = "all"
    )]
    pub optimizers: Vec<String>,
    /// Also sweep every other optimizer gradus has, with its defaults (after the
    /// `--optimizer` ones); those that cannot run on the problem are listed with why.
    #[arg(long)]
    pub all: bool,
    /// With `--all`: leave out this optimizer (repeat the flag), e.g. one too slow for
    /// the grid; it is listed with the reason.
    #[arg(long, value_name = "NAME", requires = "all")]
    pub exclude: Vec<String>,
    /// The learning-rate range `LO..HI` (both > 0), swept on a log scale.
    #[arg(long, value_name = "LO..HI", default_value = "1e-4..1")]
    pub lr: String,
    /// Learning rates in the grid (at least 2; LO and HI included).
    #[arg(long, value_name = "N", default_value_t = 9)]
    pub points: usize,
    /// Also report the first step at which the loss gap (loss minus the known minimum
    /// or optimum, or the loss itself) is at most TOL.
    #[arg(long, allow_negative_numbers = true, value_name = "TOL")]
    pub tol: Option<f64>,
    /// Evaluate the loss every N steps only (data problems evaluate it on the whole
    /// training set); steps to TOL are then counted in multiples of N.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub every: u64,
    /// Draw the final loss (test accuracy for classification) against lr, one curve per
    /// optimizer (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// What one optimizer did over the learning-rate grid.
pub struct Curve {
    /// The optimizer spec as given.
    pub optimizer: String,
    /// One run per learning rate of the grid, in grid order.
    pub runs: Vec<SweepRun>,
}

/// One run of a sweep.
pub struct SweepRun {
    /// Its learning rate.
    pub lr: f64,
    /// The run: history, summary, why it stopped.
    pub result: RunResult,
    /// It stopped on a non-finite value, or ended with its loss above ten times where
    /// it started.
    pub diverged: bool,
}

/// What a sweep measures for each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Final training loss minus the known minimum or optimum (the loss itself when
    /// neither is known): lower is better.
    LossGap,
    /// Test accuracy of a classification problem: higher is better.
    TestAccuracy,
}

impl Measure {
    /// The measure's name, as the table and the plot's axis print it.
    pub fn label(self) -> &'static str {
        match self {
            Measure::LossGap => "final loss gap",
            Measure::TestAccuracy => "test accuracy",
        }
    }
}

impl SweepRun {
    /// The run's value of `measure` (NaN when it diverged).
    pub fn value(&self, measure: Measure) -> f64 {
        if self.diverged {
            return f64::NAN;
        }
        let get = |k: &str| {
            self.result
                .summary
                .get(k)
                .and_then(serde_json::Value::as_f64)
        };
        match measure {
            Measure::LossGap => {
                get("loss").map_or(f64::NAN, |l| l - self.result.reference.unwrap_or(0.0))
            }
            Measure::TestAccuracy => get("test_accuracy").unwrap_or(f64::NAN),
        }
    }
}

impl Curve {
    /// The run with the best `measure` among those that did not diverge (the smaller lr
    /// on a tie).
    pub fn best(&self, measure: Measure) -> Option<&SweepRun> {
        let better = |a: f64, b: f64| match measure {
            Measure::LossGap => a < b,
            Measure::TestAccuracy => a > b,
        };
        self.runs
            .iter()
            .filter(|r| r.value(measure).is_finite())
            .fold(None, |best: Option<&SweepRun>, r| match best {
                Some(b) if !better(r.value(measure), b.value(measure)) => Some(b),
                _ => Some(r),
            })
    }
}

/// Parses `--lr LO..HI`.
pub fn parse_range(text: &str) -> Result<(f64, f64), CliError> {
    let bad = || {
        CliError::usage(format!(
            "--lr {text} is invalid: expected LO..HI with 0 < LO < HI, e.g. 1e-4..1"
        ))
    };
    let (lo, hi) = text.split_once("..").ok_or_else(bad)?;
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    if lo.is_finite() && hi.is_finite() && lo > 0.0 && lo < hi {
        Ok((lo, hi))
    } else {
        Err(bad())
    }
}

/// `points` learning rates from `lo` to `hi`, evenly spaced in log scale, both ends
/// exact.
pub fn grid(lo: f64, hi: f64, points: usize) -> Result<Vec<f64>, CliError> {
    if !(2..=200).contains(&points) {
        return Err(CliError::usage(format!(
            "--points {points} is invalid: expected an integer in [2, 200]"
        )));
    }
    let (a, b) = (lo.log10(), hi.log10());
    let last = points - 1;
    Ok((0..points)
        .map(|i| match i {
            0 => lo,
            i if i == last => hi,
            i => 10f64.powf(a + (b - a) * i as f64 / last as f64),
        })
        .collect())
}

/// `spec` with its learning rate set to `lr`: the `lr=` keyword replaced, or the first
/// positional argument when the optimizer's first hyperparameter is `lr`, or `lr=`
/// added. An optimizer without an `lr` of its own that holds another optimizer's spec
/// (`partition`'s `matrices`, a wrapper's `inner`) has that first member's lr set,
/// the other members keeping theirs: `partition(matrices=muon, rest=adamw(lr=1e-3))`
/// sweeps Muon's lr with AdamW's fixed.
pub fn with_lr(spec: &Call, lr: f64) -> Result<Call, CliError> {
    let algorithm = gradus::catalog::optimizer(&spec.name).ok_or_else(|| {
        CliError::usage(format!(
            "unknown optimizer '{}' (see `gradus list`)",
            spec.name
        ))
    })?;
    let at = |kind: &str| {
        algorithm.params.iter().position(|p| {
            if kind == "lr" {
                p.name == "lr"
            } else {
                p.kind == kind
            }
        })
    };
    let (key, value) = match (at("lr"), at("spec")) {
        (Some(i), _) => (i, Value::Number(lr)),
        (None, Some(i)) => {
            let name = algorithm.params[i].name;
            let member = match spec.keywords.iter().find(|(k, _)| k == name) {
                Some((_, Value::Call(c))) => c.clone(),
                _ => match spec.positional.get(i) {
                    Some(Value::Call(c)) => c.clone(),
                    _ => algorithm.params[i]
                        .default
                        .as_str()
                        .and_then(|d| gradus::spec::parse(d).ok())
                        .ok_or_else(|| {
                            CliError::usage(format!(
                                "{}: give {name}=SPEC to sweep its lr",
                                spec.name
                            ))
                        })?,
                },
            };
            (i, Value::Call(with_lr(&member, lr)?))
        }
        (None, None) => {
            return Err(CliError::usage(format!(
                "{} has no lr hyperparameter to sweep",
                spec.name
            )))
        }
    };
    let name = algorithm.params[key].name;
    let mut call = spec.clone();
    if let Some(kw) = call.keywords.iter_mut().find(|(k, _)| k == name) {
        kw.1 = value;
    } else if call.positional.len() > key {
        call.positional[key] = value;
    } else {
        call.keywords.insert(0, (name.to_string(), value));
    }
    Ok(call)
}

/// The learning rate [`with_lr`] sets in `spec`: its `lr`, or its first member's (as
/// given, else the default). `None` if it has none or `spec` does not parse.
pub fn lr_of(spec: &Call) -> Option<f64> {
    let algorithm = gradus::catalog::optimizer(&spec.name)?;
    let at = |i: usize, name: &str| {
        spec.keywords
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| spec.positional.get(i).cloned())
    };
    let number = |v: &Value| match v {
        Value::Number(x) => Some(*x),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    };
    if let Some(i) = algorithm.params.iter().position(|p| p.name == "lr") {
        return match at(i, "lr") {
            Some(v) => number(&v),
            None => algorithm.params[i].default.as_f64(),
        };
    }
    let i = algorithm.params.iter().position(|p| p.kind == "spec")?;
    let member = match at(i, algorithm.params[i].name) {
        Some(Value::Call(c)) => c,
        _ => gradus::spec::parse(algorithm.params[i].default.as_str()?).ok()?,
    };
    lr_of(&member)
}

/// A finished sweep.
pub struct Sweep {
    /// One curve per optimizer that ran, in the order given (`--all` ones last).
    pub curves: Vec<Curve>,
    /// Optimizers of `--all` that cannot run on the problem, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// The optimizers `--all` adds: every catalog optimizer not already given by name.
/// Wrappers (kind "combinator") are listed as skipped: their inner optimizer is what
/// has a learning rate.
fn all_optimizers(given: &[String], exclude: &[String]) -> (Vec<String>, Vec<(String, String)>) {
    let named: Vec<String> = given
        .iter()
        .filter_map(|g| gradus::spec::parse(g).ok().map(|c| c.name))
        .collect();
    let mut run = Vec::new();
    let mut skipped = Vec::new();
    for a in gradus::catalog::optimizers() {
        if named.iter().any(|n| n == a.name) {
            continue;
        }
        if exclude.iter().any(|n| n == a.name) {
            skipped.push((a.name.to_string(), "left out with --exclude".to_string()));
        } else if a.kind == "combinator" {
            skipped.push((
                a.name.to_string(),
                "a wrapper: sweep the optimizer it wraps".to_string(),
            ));
        } else if a.params.iter().any(|p| p.required) {
            skipped.push((
                a.name.to_string(),
                "has required hyperparameters without defaults".to_string(),
            ));
        } else {
            run.push(a.name.to_string());
        }
    }
    (run, skipped)
}

/// Runs every optimizer of `args` at every learning rate of the grid, in parallel.
/// An `--optimizer` that cannot run on the problem is an error; one that `--all` added
/// is skipped with the reason (a closure optimizer on minibatches, Muon without
/// matrices, ...). Deterministic for a seed: every run has its own seeded sampler and
/// noise, whatever the threads.
pub fn execute(args: &SweepArgs) -> Result<Sweep, CliError> {
    let (lo, hi) = parse_range(&args.lr)?;
    let lrs = grid(lo, hi, args.points)?;
    args.common.once("sweep")?;
    if let Some(t) = args.tol {
        if !t.is_finite() {
            return Err(CliError::usage(format!(
                "--tol {t} is invalid: expected a finite number"
            )));
        }
    }
    let mut names: Vec<(String, bool)> =
        args.optimizers.iter().map(|o| (o.clone(), true)).collect();
    let mut skipped = Vec::new();
    if args.all {
        for name in &args.exclude {
            if gradus::catalog::optimizer(name).is_none() {
                return Err(CliError::usage(format!(
                    "--exclude {name}: unknown optimizer (see `gradus list`)"
                )));
            }
        }
        let (more, skip) = all_optimizers(&args.optimizers, &args.exclude);
        names.extend(more.into_iter().map(|o| (o, false)));
        skipped = skip;
    }
    let mut base = Vec::new();
    for (o, given) in &names {
        let spec = args.common.spec(&args.common.pick(o, 0)).and_then(|spec| {
            // Every given spec is checked before the first run.
            gradus::optim::build::<f64>(&spec.optimizer.to_string())?;
            with_lr(&spec.optimizer, lo)?;
            Ok(spec)
        });
        match spec {
            Ok(spec) => base.push((o.clone(), *given, spec)),
            Err(e) if *given => return Err(e),
            Err(e) => skipped.push((o.clone(), e.message)),
        }
    }
    let jobs: Vec<(usize, f64)> = (0..base.len())
        .flat_map(|i| lrs.iter().map(move |&lr| (i, lr)))
        .collect();
    let every = args.every.max(1);
    let done: Vec<Result<SweepRun, CliError>> = jobs
        .par_iter()
        .map(|&(i, lr)| {
            let mut spec = base[i].2.clone();
            spec.optimizer = with_lr(&spec.optimizer, lr)?;
            let result = run_history(&spec, every)?;
            let start = result.history.first().map_or(f64::NAN, |h| h.1);
            let end = result.history.last().map_or(f64::NAN, |h| h.1);
            let diverged = result.stopped.is_some()
                || !end.is_finite()
                || (start.is_finite() && end > 10.0 * start.abs());
            Ok(SweepRun {
                lr,
                result,
                diverged,
            })
        })
        .collect();
    let mut done = done.into_iter();
    let mut curves = Vec::new();
    for (o, given, _) in &base {
        // Take the whole chunk first: collecting into a Result stops at the first error.
        let chunk: Vec<Result<SweepRun, CliError>> = done.by_ref().take(lrs.len()).collect();
        let runs: Result<Vec<SweepRun>, CliError> = chunk.into_iter().collect();
        match runs {
            Ok(runs) => curves.push(Curve {
                optimizer: o.clone(),
                runs,
            }),
            Err(e) if *given => return Err(e),
            Err(e) => skipped.push((o.clone(), e.message)),
        }
    }
    Ok(Sweep { curves, skipped })
}

/// The measure of a sweep's problem: test accuracy if its runs report one.
pub fn measure(curves: &[Curve]) -> Measure {
    let classifies = curves
        .iter()
        .flat_map(|c| c.runs.iter())
        .any(|r| r.result.summary.contains_key("test_accuracy"));
    if classifies {
        Measure::TestAccuracy
    } else {
        Measure::LossGap
    }
}

/// A measured value as the tables print it.
pub fn show(measure: Measure, v: f64) -> String {
    match (v.is_finite(), measure) {
        (false, _) => "diverged".to_string(),
        (true, Measure::TestAccuracy) => format!("{:.2}%", 100.0 * v),
        (true, Measure::LossGap) => human(v),
    }
}

/// The grid as a table: a header of learning rates, one row per optimizer.
pub fn grid_table(curves: &[Curve], measure: Measure) -> Vec<Vec<String>> {
    let mut header = vec![format!("{} at lr", measure.label())];
    if let Some(c) = curves.first() {
        header.extend(c.runs.iter().map(|r| human(r.lr)));
    }
    let mut rows = vec![header];
    for c in curves {
        let mut row = vec![c.optimizer.clone()];
        row.extend(c.runs.iter().map(|r| show(measure, r.value(measure))));
        rows.push(row);
    }
    rows
}

/// Each optimizer's best learning rate: its lr, value, steps to `tol` and final loss.
pub fn best_table(curves: &[Curve], measure: Measure, tol: Option<f64>) -> Vec<Vec<String>> {
    let mut header = vec![
        "optimizer".to_string(),
        "best lr".into(),
        measure.label().into(),
    ];
    if let Some(t) = tol {
        header.push(format!("steps to {}", human(t)));
    }
    header.push("final loss".into());
    header.push("diverged at".into());
    let mut rows = vec![header];
    for c in curves {
        let mut row = vec![c.optimizer.clone()];
        match c.best(measure) {
            Some(b) => {
                row.push(human(b.lr));
                row.push(show(measure, b.value(measure)));
                if let Some(t) = tol {
                    row.push(
                        b.result
                            .steps_to(t)
                            .map_or("never".into(), |s| s.to_string()),
                    );
                }
                let loss = b
                    .result
                    .summary
                    .get("loss")
                    .and_then(serde_json::Value::as_f64);
                row.push(loss.map_or("-".into(), human));
            }
            None => {
                row.push("-".into());
                row.push("every lr diverged".into());
                if tol.is_some() {
                    row.push("-".into());
                }
                row.push("-".into());
            }
        }
        let diverged: Vec<String> = c
            .runs
            .iter()
            .filter(|r| r.diverged)
            .map(|r| human(r.lr))
            .collect();
        // The usual pattern, every lr from some point on, reads as one bound.
        let first = c.runs.iter().position(|r| r.diverged);
        let from_first = first.is_some_and(|f| c.runs[f..].iter().all(|r| r.diverged));
        row.push(match (first, diverged.len()) {
            (None, _) => "none".to_string(),
            (_, n) if n == c.runs.len() => "every lr".to_string(),
            (Some(f), _) if from_first => format!("lr >= {}", human(c.runs[f].lr)),
            _ => diverged.join(", "),
        });
        rows.push(row);
    }
    rows
}

/// Draws the sweep: `measure` against lr, one curve per optimizer, diverged runs marked.
pub fn draw(
    path: &Path,
    title: &str,
    curves: &[Curve],
    measure: Measure,
) -> Result<gradus_plot::Drawing, CliError> {
    let series: Vec<gradus_plot::Series> = curves
        .iter()
        .map(|c| {
            gradus_plot::Series::new(
                c.optimizer.clone(),
                c.runs.iter().map(|r| (r.lr, r.value(measure))).collect(),
            )
        })
        .collect();
    let (y_label, scale) = match measure {
        Measure::LossGap => ("final loss gap (log scale)", gradus_plot::YScale::Log),
        Measure::TestAccuracy => ("test accuracy", gradus_plot::YScale::Linear),
    };
    let chart = gradus_plot::Chart::new(title, "learning rate (log scale)", y_label);
    gradus_plot::lr_sweep_chart(path, &chart, &series, scale)
        .map_err(|e| CliError::usage(e.to_string()))
}

/// Entry point of `gradus sweep`.
pub fn main(args: SweepArgs) -> Result<(), CliError> {
    if let Some(p) = &args.plot {
        crate::plots::check_still("--plot", p)?;
    }
    let Sweep { curves, skipped } = execute(&args)?;
    let measure = measure(&curves);
    let io = |e: std::io::Error| CliError::io("writing to stdout", e);
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{}\n{}",
        crate::compare::text_table(&grid_table(&curves, measure)),
        crate::compare::text_table(&best_table(&curves, measure, args.tol))
    )
    .map_err(io)?;
    for (name, why) in &skipped {
        writeln!(out, "skipped {name}: {}", crate::cli_error::one_line(why)).map_err(io)?;
    }
    out.flush().map_err(io)?;
    if let Some(p) = &args.plot {
        let problem = args.common.problem.as_deref().unwrap_or("the problem");
        draw(
            p,
            &format!("Learning-rate sensitivity on {problem}"),
            &curves,
            measure,
        )?;
    }
    if curves.iter().all(|c| c.runs.iter().all(|r| r.diverged)) {
        return Err(CliError::diverged("every run of the sweep diverged"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_log_spaced_with_exact_ends() {
        let g = grid(1e-4, 1.0, 5).unwrap();
        assert_eq!(g.len(), 5);
        assert_eq!(g[0], 1e-4);
        assert_eq!(g[4], 1.0);
        for (x, want) in g.iter().zip([1e-4, 1e-3, 1e-2, 1e-1, 1.0]) {
            assert!((x / want - 1.0).abs() < 1e-12, "{x} vs {want}");
        }
        assert!(grid(1e-4, 1.0, 1).is_err());
        assert!(grid(1e-4, 1.0, 201).is_err());
    }

    #[test]
    fn the_lr_of_a_combinator_is_its_first_members() {
        let set = |spec: &str, lr: f64| {
            with_lr(&gradus::spec::parse(spec).unwrap(), lr)
                .unwrap()
                .to_string()
        };
        assert_eq!(set("adam(lr=0.1)", 0.5), "adam(lr=0.5)");
        assert_eq!(set("sgd", 0.5), "sgd(lr=0.5)");
        // The matrices' Muon gets the lr; the biases' AdamW keeps its own.
        assert_eq!(
            set("partition(matrices=muon, rest=adamw(lr=0.001))", 0.02),
            "partition(matrices=muon(lr=0.02), rest=adamw(lr=0.001))"
        );
        let p = set("partition(rest=adamw(lr=0.001))", 0.02);
        let call = gradus::spec::parse(&p).unwrap();
        assert_eq!(lr_of(&call), Some(0.02), "{p}");
        // Built, it is the partition's lr (its matrices').
        let opt = gradus::optim::build::<f64>(&p).unwrap();
        assert_eq!(opt.lr(), 0.02);
        let default = gradus::spec::parse("partition").unwrap();
        assert_eq!(
            lr_of(&default),
            Some(gradus::optim::build::<f64>("partition").unwrap().lr())
        );
        assert_eq!(lr_of(&gradus::spec::parse("adam").unwrap()), Some(1e-3));
    }

    #[test]
    fn lr_range_is_checked() {
        assert_eq!(parse_range("1e-4..1").unwrap(), (1e-4, 1.0));
        for bad in [
            "1..1e-4",
            "0..1",
            "-1..1",
            "1e-4",
            "a..b",
            "1e-4..inf",
            "1..1",
        ] {
            let e = parse_range(bad).unwrap_err();
            assert!(e.message.contains("--lr"), "{bad}: {}", e.message);
        }
    }

    fn sweep_args(words: &[&str]) -> SweepArgs {
        let mut argv = vec!["gradus".to_string(), "sweep".to_string()];
        argv.extend(words.iter().map(|w| w.to_string()));
        crate::ReportCli::parse_sweep(&argv).unwrap()
    }

    /// Every number of every run, bit for bit.
    fn fingerprint(s: &Sweep) -> Vec<(String, u64, Vec<u64>)> {
        s.curves
            .iter()
            .flat_map(|c| {
                c.runs.iter().map(|r| {
                    let bits = r.result.history.iter().map(|h| h.1.to_bits()).collect();
                    (c.optimizer.clone(), r.lr.to_bits(), bits)
                })
            })
            .collect()
    }

    #[test]
    fn a_sweep_is_deterministic_for_a_seed() {
        // Minibatches and gradient noise: everything random is seeded per run.
        let words = |seed: &'static str| {
            sweep_args(&[
                "--problem",
                "boston",
                "--batch-size",
                "16",
                "--noise",
                "0.1",
                "--seed",
                seed,
                "--optimizer",
                "sgd(momentum=0.9)",
                "--optimizer",
                "adam",
                "--lr",
                "1e-3..1",
                "--points",
                "4",
                "--steps",
                "60",
            ])
        };
        let a = execute(&words("5")).unwrap();
        let b = execute(&words("5")).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let m = measure(&a.curves);
        assert_eq!(m, Measure::LossGap);
        assert_eq!(grid_table(&a.curves, m), grid_table(&b.curves, m));
        assert_eq!(
            best_table(&a.curves, m, Some(1e-3)),
            best_table(&b.curves, m, Some(1e-3))
        );
        // The seed matters: another one draws other minibatches.
        let c = execute(&words("6")).unwrap();
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(a.curves.len(), 2);
        assert!(a.curves.iter().all(|c| c.runs.len() == 4));
    }

    #[test]
    fn all_adds_every_optimizer_and_says_why_one_does_not_apply() {
        let s = execute(&sweep_args(&[
            "--problem",
            "boston",
            "--batch-size",
            "32",
            "--all",
            "--points",
            "2",
            "--steps",
            "5",
        ]))
        .unwrap();
        let ran: Vec<&str> = s.curves.iter().map(|c| c.optimizer.as_str()).collect();
        let skipped: Vec<&str> = s.skipped.iter().map(|(n, _)| n.as_str()).collect();
        for a in gradus::catalog::optimizers() {
            assert!(
                ran.contains(&a.name) ^ skipped.contains(&a.name),
                "{} neither ran nor was skipped (or both)",
                a.name
            );
        }
        // Newton needs the full batch (its Hessian): skipped, with the reason.
        let (_, why) = s.skipped.iter().find(|(n, _)| n == "newton").unwrap();
        assert!(
            why.contains("newton") && why.contains("--batch-size"),
            "{why}"
        );
        assert!(ran.contains(&"sgd") && ran.contains(&"adam"));
        // A given optimizer that cannot run is an error, not a skip.
        let e = execute(&sweep_args(&[
            "--problem",
            "boston",
            "--batch-size",
            "32",
            "--optimizer",
            "newton",
            "--steps",
            "5",
        ]))
        .err()
        .unwrap();
        assert!(e.message.contains("--batch-size"), "{}", e.message);
    }

    #[test]
    fn the_plot_has_one_curve_per_optimizer_and_marks_diverged_runs() {
        let s = execute(&sweep_args(&[
            "--problem",
            "rosenbrock",
            "--optimizer",
            "sgd",
            "--optimizer",
            "adam",
            "--optimizer",
            "lbfgs",
            "--lr",
            "1e-4..1",
            "--points",
            "5",
            "--steps",
            "200",
        ]))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.png");
        let m = measure(&s.curves);
        let d = draw(&path, "sweep", &s.curves, m).unwrap();
        assert_eq!((d.width, d.height), (900, 600));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!((w, h), (900, 600));
        // One curve per optimizer, named by its spec, each drawn.
        let names: Vec<&str> = d.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["sgd", "adam", "lbfgs"]);
        assert!(d.series.iter().all(|s| !s.lines.is_empty()));
        // sgd diverges at the large lrs (Rosenbrock's walls): one cross per diverged run.
        let diverged = s
            .curves
            .iter()
            .flat_map(|c| &c.runs)
            .filter(|r| r.diverged)
            .count();
        assert!(diverged > 0 && s.curves[0].runs.last().unwrap().diverged);
        let crosses = d
            .edge_markers
            .iter()
            .filter(|e| e.label == "diverged")
            .count();
        assert_eq!(crosses, diverged);
        assert!(d.faults().is_empty(), "{:?}", d.faults());
    }

    #[test]
    fn lr_is_replaced_wherever_it_is_written() {
        let set = |s: &str| {
            with_lr(&gradus::spec::parse(s).unwrap(), 0.5)
                .unwrap()
                .to_string()
        };
        assert_eq!(set("adam"), "adam(lr=0.5)");
        assert_eq!(
            set("adam(lr=0.1, amsgrad=true)"),
            "adam(lr=0.5, amsgrad=true)"
        );
        assert_eq!(set("sgd(0.1, 0.9)"), "sgd(0.5, 0.9)");
        assert_eq!(set("sgd(momentum=0.9)"), "sgd(lr=0.5, momentum=0.9)");
        let e = with_lr(&gradus::spec::parse("nosuch").unwrap(), 0.5).unwrap_err();
        assert!(e.message.contains("nosuch"), "{}", e.message);
    }
}
