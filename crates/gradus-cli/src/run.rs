//! `gradus run`: one optimizer on one problem.

use crate::cli_error::CliError;
use crate::output::{Format, Printer};
use crate::runner::{RunSpec, Runner};
use gradus::optim::NonFinitePolicy;
use gradus::{DType, Float};
use gradus_problems::ProblemOptions;
use gradus_problems::Sampling;
use std::path::PathBuf;
use std::time::Instant;

/// Problem, optimizer and data flags shared by `run` and `compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProblemArgs {
    /// The problem (see `gradus list`): rosenbrock, beale, boston, digits, linreg, ...
    #[arg(long)]
    pub problem: String,
    /// Dimension of n-dimensional problems (rosenbrock, sphere, rastrigin).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Start point, comma-separated (must match the problem's dimension). `compare`
    /// takes several.
    #[arg(long, allow_hyphen_values = true, value_name = "V1,V2,...")]
    pub start: Vec<String>,
    /// Learning-rate schedule spec, e.g. `cosine_annealing(t_max=100)` (default: constant
    /// lr). `compare` takes several.
    #[arg(long, value_name = "SPEC")]
    pub schedule: Vec<String>,
    /// Number of updates (default 100). `compare` takes several.
    #[arg(long, value_name = "N")]
    pub steps: Vec<u64>,
    /// Element type.
    #[arg(long, default_value = "f64", value_parser = parse_dtype)]
    pub dtype: DType,
    /// Seed of the data split, initialisation, minibatches and noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Minibatch size (data problems; default: full batch). `compare` takes several.
    #[arg(long, value_name = "N")]
    pub batch_size: Vec<usize>,
    /// How minibatches are drawn.
    #[arg(long, value_enum, default_value_t = SamplingArg::Replacement)]
    pub sampling: SamplingArg,
    /// Add N(0, σ²) noise to every gradient.
    #[arg(long, value_name = "SIGMA", default_value_t = 0.0)]
    pub noise: f64,
    /// CSV file for `--problem linreg`.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Target column of `--data`.
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// Feature columns of `--data`, comma-separated (default: all other columns).
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Hidden units of the digits MLP.
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Clip gradients to this global 2-norm before each update.
    #[arg(long, value_name = "MAX_NORM")]
    pub clip_norm: Option<f64>,
    /// Clip gradient elements to [-V, V] before each update.
    #[arg(long, value_name = "V")]
    pub clip_value: Option<f64>,
    /// What a non-finite gradient does: stop with exit code 3, skip the update, or apply it.
    #[arg(long, value_enum, default_value_t = NonFiniteArg::Error)]
    pub on_nonfinite: NonFiniteArg,
}

/// `--sampling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplingArg {
    /// Each step draws N random rows with replacement (the first tutorial).
    Replacement,
    /// Shuffle, then walk the data in batches; reshuffle every epoch.
    Epoch,
}

/// `--on-nonfinite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NonFiniteArg {
    /// Stop the run (exit code 3), printing only finite records.
    Error,
    /// Skip the update, leaving parameters and state unchanged.
    Skip,
    /// Apply the update anyway (NaN spreads).
    Propagate,
}

fn parse_dtype(s: &str) -> Result<DType, String> {
    s.parse::<DType>().map_err(|e| e.to_string())
}

/// Updates per run when `--steps` is not given.
pub const DEFAULT_STEPS: u64 = 100;

/// One run's values of the flags `compare` takes several times.
#[derive(Debug, Clone)]
pub struct RunPick<'a> {
    /// The optimizer spec.
    pub optimizer: &'a str,
    /// `--start`, as given.
    pub start: Option<String>,
    /// `--schedule`, as given.
    pub schedule: Option<String>,
    /// `--steps`.
    pub steps: u64,
    /// `--batch-size`.
    pub batch_size: Option<usize>,
}

/// Arguments of `gradus run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: ProblemArgs,
    /// Optimizer spec, e.g. `adam(lr=0.01, betas=(0.9, 0.99))` or `sgd(lr=0.1, momentum=0.9)`.
    #[arg(long, value_name = "SPEC")]
    pub optimizer: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print a text line every N steps (default: about ten lines per run).
    #[arg(long, value_name = "N")]
    pub log_every: Option<u64>,
    #[command(flatten)]
    pub plots: crate::plots::PlotArgs,
}

/// Parses `--start 1,-2.5,3e-1`.
pub fn parse_start(s: &str) -> Result<Vec<f64>, CliError> {
    s.split(',')
        .map(|v| {
            let t = v.trim();
            t.parse::<f64>().map_err(|_| {
                CliError::usage(format!(
                    "--start value '{t}' is not a number (expected comma-separated numbers like 1.5,-2)"
                ))
            })
        })
        .collect()
}

impl ProblemArgs {
    /// The one run of `gradus run`: `--start`, `--schedule`, `--steps` and
    /// `--batch-size` may be given at most once.
    pub fn single<'a>(&'a self, optimizer: &'a str) -> Result<RunPick<'a>, CliError> {
        let counts = [
            ("--start", self.start.len()),
            ("--schedule", self.schedule.len()),
            ("--steps", self.steps.len()),
            ("--batch-size", self.batch_size.len()),
        ];
        for (flag, n) in counts {
            if n > 1 {
                return Err(CliError::usage(format!(
                    "{flag} was given {n} times; `gradus run` takes one (use `gradus compare` for several)"
                )));
            }
        }
        Ok(self.pick(optimizer, 0))
    }

    /// Run `i`'s share of the repeatable flags: a flag given once applies to every run.
    pub fn pick<'a>(&'a self, optimizer: &'a str, i: usize) -> RunPick<'a> {
        fn at<T: Clone>(v: &[T], i: usize) -> Option<T> {
            match v.len() {
                0 => None,
                1 => Some(v[0].clone()),
                _ => v.get(i).cloned(),
            }
        }
        RunPick {
            optimizer,
            start: at(&self.start, i),
            schedule: at(&self.schedule, i),
            steps: at(&self.steps, i).unwrap_or(DEFAULT_STEPS),
            batch_size: at(&self.batch_size, i),
        }
    }

    /// The run settings for one pick of the repeatable flags, validated.
    pub fn spec(&self, pick: &RunPick<'_>) -> Result<RunSpec, CliError> {
        let optimizer = pick.optimizer;
        let start = pick.start.as_deref();
        // `none` (or `constant_lr`) in a list of schedules means a constant lr.
        let schedule = pick
            .schedule
            .as_deref()
            .filter(|s| !matches!(s.trim(), "none" | "constant_lr"));
        let optimizer = gradus::spec::parse(optimizer)?;
        let schedule = schedule.map(gradus::spec::parse).transpose()?;
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(CliError::usage(format!(
                "--noise {} is invalid: expected a finite standard deviation >= 0",
                self.noise
            )));
        }
        for (flag, v) in [
            ("--clip-norm", self.clip_norm),
            ("--clip-value", self.clip_value),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(CliError::usage(format!(
                        "{flag} {v} is invalid: expected a finite number >= 0"
                    )));
                }
            }
        }
        let start = start.map(parse_start).transpose()?;
        let opts = ProblemOptions {
            dim: self.dim,
            seed: self.seed,
            data: self.data.clone(),
            target: self.target.clone(),
            features: self.features.clone(),
            hidden: self.hidden,
            ..ProblemOptions::default()
        };
        Ok(RunSpec {
            problem: self.problem.clone(),
            problem_options: opts,
            start,
            optimizer,
            schedule,
            batch_size: pick.batch_size,
            steps: pick.steps,
            sampling: match self.sampling {
                SamplingArg::Replacement => Sampling::Replacement,
                SamplingArg::Epoch => Sampling::Epoch,
            },
            noise: self.noise,
            seed: self.seed,
            clip_norm: self.clip_norm,
            clip_value: self.clip_value,
            nonfinite: match self.on_nonfinite {
                NonFiniteArg::Error => NonFinitePolicy::Error,
                NonFiniteArg::Skip => NonFinitePolicy::Skip,
                NonFiniteArg::Propagate => NonFinitePolicy::Propagate,
            },
            dtype: self.dtype,
        })
    }
}

/// Entry point of `gradus run`.
pub fn main(args: RunArgs) -> Result<(), CliError> {
    let pick = args.common.single(&args.optimizer)?;
    let spec = args.common.spec(&pick)?;
    match spec.dtype {
        DType::F64 => run_typed::<f64>(&spec, &args),
        DType::F32 => run_typed::<f32>(&spec, &args),
    }
}

fn run_typed<T: Float>(spec: &RunSpec, args: &RunArgs) -> Result<(), CliError> {
    let mut runner = Runner::<T>::new(spec)?;
    let steps = spec.steps;
    let mut printer = Printer::new(args.format, args.log_every, steps);
    let started = Instant::now();
    let end = runner.step + steps;
    let mut history = Vec::new();
    let halt = loop {
        let record = match runner.record() {
            Ok(r) => r,
            Err(h) => break Some(h),
        };
        printer.record(&record, runner.step == end)?;
        if args.plots.any() {
            history.push((
                record.step,
                record.loss.f64(),
                record.lr,
                record
                    .params
                    .as_ref()
                    .map(|p| p.iter().map(|v| v.f64()).collect()),
            ));
        }
        if runner.step == end {
            break None;
        }
        if let Err(h) = runner.advance() {
            break Some(h);
        }
    };
    let wall = started.elapsed().as_secs_f64();
    if let Some(h) = halt {
        printer.flush();
        return Err(h.into_error());
    }
    let summary = crate::compare::summary(&mut runner, wall);
    printer.summary(&summary)?;
    if args.plots.any() {
        let result = crate::compare::RunResult {
            optimizer: spec.optimizer.to_string(),
            label: spec.optimizer.to_string(),
            history,
            summary,
            stopped: None,
            reference: None,
        };
        crate::plots::draw(&args.plots, std::slice::from_ref(spec), &[result])?;
    }
    Ok(())
}
