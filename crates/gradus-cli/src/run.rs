//! `gradus run`: one optimizer on one problem.

use crate::checkpoint::{self, RunCheckpoint};
use crate::cli_error::{CliError, EXIT_DIVERGED};
use crate::output::{Format, Printer};
use crate::runner::{Halt, RunSpec, Runner};
use gradus::checkpoint::Checkpoint;
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
    /// Required (except with `run --resume`, which takes it from the checkpoint).
    #[arg(long)]
    pub problem: Option<String>,
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
    /// Required (except with --resume, which takes it from the checkpoint).
    #[arg(long, value_name = "SPEC")]
    pub optimizer: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print a text line every N steps (default: about ten lines per run).
    #[arg(long, value_name = "N")]
    pub log_every: Option<u64>,
    #[command(flatten)]
    pub plots: crate::plots::PlotArgs,
    /// After the run, write its complete state (parameters, optimizer, schedule, step,
    /// sampler and noise generators, settings) to FILE, atomically. If the run diverges
    /// (exit code 3), FILE gets the state of the last finite record. Keeping that state
    /// costs one copy of it per step.
    #[arg(long, value_name = "FILE")]
    pub save_state: Option<PathBuf>,
    /// Continue the run saved in FILE by --save-state. Problem, optimizer, schedule,
    /// seed, batch size, sampling, noise, clipping, --on-nonfinite and dtype come from
    /// the checkpoint (if given too, they must match it). --steps N then means N more
    /// steps: the first record printed is the checkpoint's step k (the same values as
    /// the saved run's last record), the last is k + N, so `--steps 120` then
    /// `--resume --steps 180` prints steps 120 to 300, bit for bit as 300 straight.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// The ids of the flags given on the command line (filled in by `main`).
    #[arg(skip)]
    pub explicit: Vec<String>,
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
        })
    }
}

/// The flags that define a run, by clap id, and how they are written.
const RUN_FLAGS: &[(&str, &str)] = &[
    ("problem", "--problem"),
    ("optimizer", "--optimizer"),
    ("dim", "--dim"),
    ("start", "--start"),
    ("schedule", "--schedule"),
    ("dtype", "--dtype"),
    ("seed", "--seed"),
    ("batch_size", "--batch-size"),
    ("sampling", "--sampling"),
    ("noise", "--noise"),
    ("data", "--data"),
    ("target", "--target"),
    ("features", "--features"),
    ("hidden", "--hidden"),
    ("clip_norm", "--clip-norm"),
    ("clip_value", "--clip-value"),
    ("on_nonfinite", "--on-nonfinite"),
];

/// An optimizer spec in canonical form (every argument, torch's order).
fn canonical_optimizer(call: &gradus::spec::Call) -> Result<String, CliError> {
    Ok(if call.name == "newton" {
        gradus::optim::NewtonConfig::from_call(call)?
            .to_call()
            .to_string()
    } else {
        gradus::optim::build_from_call::<f64>(call)?
            .spec()
            .to_string()
    })
}

/// Refuses run-defining flags given with `--resume` that differ from the checkpoint.
fn check_resume_flags(args: &RunArgs, ck: &RunCheckpoint) -> Result<(), CliError> {
    let given: Vec<(&str, &str)> = RUN_FLAGS
        .iter()
        .copied()
        .filter(|(id, _)| args.explicit.iter().any(|e| e == id))
        .collect();
    if given.is_empty() {
        return Ok(());
    }
    let saved = &ck.spec;
    let mut common = args.common.clone();
    common.problem.get_or_insert_with(|| saved.problem.clone());
    let optimizer = args
        .optimizer
        .clone()
        .unwrap_or_else(|| saved.optimizer.to_string());
    let user = common.spec(&common.pick(&optimizer, 0))?;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "(none)".into());
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let list = |v: &Option<Vec<f64>>| {
        v.as_ref().map(|v| {
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(",")
        })
    };
    let schedule = |c: &Option<gradus::spec::Call>| -> Option<String> {
        let c = c.as_ref()?;
        let base = gradus::optim::build_from_call::<f64>(&saved.optimizer).ok();
        let (lr, m) = base.map_or((1.0, Some(0.9)), |o| (o.lr(), o.momentum()));
        Some(
            gradus::schedule::build_from_call(c, lr, m)
                .map(|s| s.spec().to_string())
                .unwrap_or_else(|_| c.to_string()),
        )
    };
    for (id, flag) in given {
        let (was, now) = match id {
            "problem" => (saved.problem.clone(), user.problem.clone()),
            "optimizer" => (
                canonical_optimizer(&saved.optimizer)?,
                canonical_optimizer(&user.optimizer)?,
            ),
            "dim" => (
                opt(saved.problem_options.dim.map(|d| d.to_string())),
                opt(user.problem_options.dim.map(|d| d.to_string())),
            ),
            "start" => (opt(list(&saved.start)), opt(list(&user.start))),
            "schedule" => (
                opt(schedule(&saved.schedule)),
                opt(schedule(&user.schedule)),
            ),
            "dtype" => (saved.dtype.to_string(), user.dtype.to_string()),
            "seed" => (saved.seed.to_string(), user.seed.to_string()),
            "batch_size" => (
                opt(saved.batch_size.map(|b| b.to_string())),
                opt(user.batch_size.map(|b| b.to_string())),
            ),
            "sampling" => (saved.sampling.to_string(), user.sampling.to_string()),
            "noise" => (format!("{:?}", saved.noise), format!("{:?}", user.noise)),
            "data" => (
                opt(path(&saved.problem_options.data)),
                opt(path(&user.problem_options.data)),
            ),
            "target" => (
                opt(saved.problem_options.target.clone()),
                opt(user.problem_options.target.clone()),
            ),
            "features" => (
                opt(saved.problem_options.features.as_ref().map(|f| f.join(","))),
                opt(user.problem_options.features.as_ref().map(|f| f.join(","))),
            ),
            "hidden" => (
                opt(saved.problem_options.hidden.map(|d| d.to_string())),
                opt(user.problem_options.hidden.map(|d| d.to_string())),
            ),
            "clip_norm" => (
                opt(saved.clip_norm.map(|v| format!("{v:?}"))),
                opt(user.clip_norm.map(|v| format!("{v:?}"))),
            ),
            "clip_value" => (
                opt(saved.clip_value.map(|v| format!("{v:?}"))),
                opt(user.clip_value.map(|v| format!("{v:?}"))),
            ),
            "on_nonfinite" => (
                format!("{:?}", saved.nonfinite).to_lowercase(),
                format!("{:?}", user.nonfinite).to_lowercase(),
            ),
            _ => continue,
        };
        if was != now {
            let what = if id == "optimizer" || id == "problem" || id == "schedule" {
                was
            } else {
                format!("{flag} {was}")
            };
            return Err(CliError::usage(format!(
                "--resume {}: checkpoint is for {what} but {flag} is {now} (drop {flag} to \
                 continue the saved run)",
                ck.path
            )));
        }
    }
    Ok(())
}

/// Entry point of `gradus run`.
pub fn main(args: RunArgs) -> Result<(), CliError> {
    if let Some(path) = &args.save_state {
        checkpoint::check_target(path)?;
    }
    let resume = args.resume.as_deref().map(checkpoint::read).transpose()?;
    let spec = match &resume {
        Some(ck) => {
            check_resume_flags(&args, ck)?;
            let saved_optimizer = ck.spec.optimizer.to_string();
            let steps = args.common.single(&saved_optimizer)?.steps;
            // --steps N means N more steps.
            RunSpec {
                steps,
                ..ck.spec.clone()
            }
        }
        None => {
            let optimizer = args.optimizer.as_deref().ok_or_else(|| {
                CliError::usage(
                    "--optimizer is required unless --resume is given (e.g. --optimizer 'adam(lr=0.01)')",
                )
            })?;
            let pick = args.common.single(optimizer)?;
            args.common.spec(&pick)?
        }
    };
    match spec.dtype {
        DType::F64 => run_typed::<f64>(&spec, &args, resume.as_ref()),
        DType::F32 => run_typed::<f32>(&spec, &args, resume.as_ref()),
    }
}

fn run_typed<T: Float>(
    spec: &RunSpec,
    args: &RunArgs,
    resume: Option<&RunCheckpoint>,
) -> Result<(), CliError> {
    let mut runner = Runner::<T>::new(spec)?;
    if let Some(ck) = resume {
        ck.restore(&mut runner)?;
    }
    let steps = spec.steps;
    let end = runner.step.checked_add(steps).ok_or_else(|| {
        CliError::usage(format!(
            "--steps {steps} is invalid: resuming at step {} it would pass {} steps",
            runner.step,
            u64::MAX
        ))
    })?;
    let mut printer = Printer::new(args.format, args.log_every, steps);
    let started = Instant::now();
    // With --save-state, the state of the last finite record (saved if the run diverges).
    let mut last_good: Option<(u64, Checkpoint)> = None;
    let mut history = Vec::new();
    // Evaluating the full training loss is the expensive part of a minibatch step, so
    // text output evaluates it only for the lines it prints.
    let every_step = args.save_state.is_some() || args.plots.any() || !runner.is_minibatch();
    let halt = loop {
        if !every_step && !printer.prints(runner.step, runner.step == end) {
            if !runner.params_finite() {
                break Some(Halt::NonFiniteParams { step: runner.step });
            }
            if let Err(h) = runner.advance() {
                break Some(h);
            }
            continue;
        }
        let record = match runner.record() {
            Ok(r) => r,
            Err(h) => break Some(h),
        };
        if args.save_state.is_some() {
            last_good = Some((runner.step, checkpoint::capture(&runner)?));
        }
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
        let mut e = h.into_error();
        if let (Some(path), Some((step, c)), true) =
            (&args.save_state, &last_good, e.code == EXIT_DIVERGED)
        {
            checkpoint::write(path, c)?;
            e.message.push_str(&format!(
                "; saved the state of step {step} to {}",
                path.display()
            ));
        }
        return Err(e);
    }
    if let (Some(path), Some((_, c))) = (&args.save_state, &last_good) {
        checkpoint::write(path, c)?;
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
