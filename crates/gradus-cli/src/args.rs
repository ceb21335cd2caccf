//! Flags shared by `run` and `compare` (and the server's run requests): the problem, its
//! data, the start, the schedule, noise and clipping, and how they become a [`RunSpec`].

use crate::cli_error::CliError;
use crate::runner::RunSpec;
use gradus::optim::NonFinitePolicy;
use gradus::DType;
use gradus_problems::{ProblemOptions, Sampling};
use std::path::PathBuf;

/// Problem, optimizer and data flags shared by `run` and `compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProblemArgs {
    /// The problem (see `gradus list`): rosenbrock, beale, boston, digits, linreg, ...
    /// Required (except with `run --resume`, which takes it from the checkpoint).
    #[arg(long)]
    pub problem: Option<String>,
    /// Dimension of n-dimensional problems (rosenbrock, sphere, rastrigin).
    #[arg(long, allow_negative_numbers = true)]
    pub dim: Option<usize>,
    /// Shape of the parameter of n-dimensional problems, e.g. `4,5`: one 4×5 matrix
    /// (row-major) instead of a vector of 20, for optimizers that read shapes (muon).
    /// `--dim`, if given too, must be the product.
    #[arg(long, value_name = "R,C", value_delimiter = ',')]
    pub shape: Option<Vec<usize>>,
    /// Start point, comma-separated (must match the problem's dimension). `compare`
    /// takes several.
    #[arg(long, allow_hyphen_values = true, value_name = "V1,V2,...")]
    pub start: Vec<String>,
    /// Learning-rate schedule spec, e.g. `cosine_annealing(t_max=100)` (default: constant
    /// lr). `compare` takes several.
    #[arg(long, value_name = "SPEC")]
    pub schedule: Vec<String>,
    /// Number of updates (default 100). `compare` takes several.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub steps: Vec<u64>,
    /// Element type.
    #[arg(long, default_value = "f64", value_parser = parse_dtype)]
    pub dtype: DType,
    /// Seed of the data split, initialisation, minibatches and noise.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    pub seed: u64,
    /// Minibatch size (data problems; default: full batch). `compare` takes several.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub batch_size: Vec<usize>,
    /// How minibatches are drawn.
    #[arg(long, value_enum, default_value_t = SamplingArg::Replacement)]
    pub sampling: SamplingArg,
    /// Add N(0, σ²) noise to every gradient.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "SIGMA",
        default_value_t = 0.0
    )]
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
    #[arg(long, allow_negative_numbers = true)]
    pub hidden: Option<usize>,
    /// Clip gradients to this global 2-norm before each update.
    #[arg(long, allow_negative_numbers = true, value_name = "MAX_NORM")]
    pub clip_norm: Option<f64>,
    /// Clip gradient elements to [-V, V] before each update.
    #[arg(long, allow_negative_numbers = true, value_name = "V")]
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
        self.once("run")?;
        Ok(self.pick(optimizer, 0))
    }

    /// Checks that `--start`, `--schedule`, `--steps` and `--batch-size` were given at
    /// most once, as `gradus COMMAND` takes them.
    pub fn once(&self, command: &str) -> Result<(), CliError> {
        let counts = [
            ("--start", self.start.len()),
            ("--schedule", self.schedule.len()),
            ("--steps", self.steps.len()),
            ("--batch-size", self.batch_size.len()),
        ];
        for (flag, n) in counts {
            if n > 1 {
                return Err(CliError::usage(format!(
                    "{flag} was given {n} times; `gradus {command}` takes one (use `gradus compare` for several)"
                )));
            }
        }
        Ok(())
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
        let problem = self.problem.clone().ok_or_else(|| {
            CliError::usage("--problem is required (see `gradus list` for the problems)")
        })?;
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
            shape: self.shape.clone(),
            seed: self.seed,
            data: self.data.clone(),
            target: self.target.clone(),
            features: self.features.clone(),
            hidden: self.hidden,
            ..ProblemOptions::default()
        };
        Ok(RunSpec {
            problem,
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
            average: None,
        })
    }
}
