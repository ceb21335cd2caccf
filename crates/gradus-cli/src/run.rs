//! `gradus run`: one optimizer on one problem.

use crate::args::ProblemArgs;
use crate::checkpoint::{self, RunCheckpoint};
use crate::cli_error::{CliError, EXIT_DIVERGED};
use crate::output::{Format, Printer};
use crate::runner::{Halt, RunSpec, Runner};
use gradus::checkpoint::Checkpoint;
use gradus::{DType, Float};
use std::path::PathBuf;
use std::time::Instant;

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
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
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
    /// Keep an average of the parameters and report its loss beside the live one
    /// (text: `Avg loss`; jsonl: `avg_loss`, null until the first update): `swa()`, the
    /// equal-weight mean, or `ema(decay=0.999)`, an exponential moving average, as
    /// torch's AveragedModel (get_swa_avg_fn / get_ema_avg_fn). Both take `start=N`
    /// (first update after step N+1) and `every=K` (then every K-th step); pair `swa()`
    /// with `--schedule swa_lr(...)` for the paper's recipe. Checkpoints carry it. See
    /// `gradus list ema`.
    #[arg(long, value_name = "SPEC")]
    pub average: Option<String>,
    /// The ids of the flags given on the command line (filled in by `main`).
    #[arg(skip)]
    pub explicit: Vec<String>,
}

/// The flags that define a run, by clap id, and how they are written.
const RUN_FLAGS: &[(&str, &str)] = &[
    ("problem", "--problem"),
    ("optimizer", "--optimizer"),
    ("dim", "--dim"),
    ("start", "--start"),
    ("schedule", "--schedule"),
    ("shape", "--shape"),
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
    Ok(gradus::optim::build_from_call::<f64>(call)?
        .spec()
        .to_string())
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
            "shape" => {
                let shape = |s: &Option<Vec<usize>>| {
                    s.as_ref().map(|s| {
                        s.iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                };
                (
                    opt(shape(&saved.problem_options.shape)),
                    opt(shape(&user.problem_options.shape)),
                )
            }
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
            "data" => {
                let (was, now) = (&saved.problem_options.data, &user.problem_options.data);
                if same_data(
                    was.as_deref(),
                    now.as_deref(),
                    ck.data_fingerprint.as_deref(),
                ) {
                    continue;
                }
                (opt(path(was)), opt(path(now)))
            }
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

/// Refuses an `--average` given with `--resume` that is not the checkpoint's.
fn check_resume_average(args: &RunArgs, ck: &RunCheckpoint) -> Result<(), CliError> {
    let Some(given) = &args.average else {
        return Ok(());
    };
    let canonical = |c: &gradus::spec::Call| -> Result<String, CliError> {
        Ok(gradus::optim::Averaging::<f64>::from_call(c)
            .map_err(|e| CliError::usage(format!("--average {c}: {e}")))?
            .spec()
            .to_string())
    };
    let now = canonical(
        &gradus::spec::parse(given)
            .map_err(|e| CliError::usage(format!("--average {given}: {e}")))?,
    )?;
    let was = match &ck.spec.average {
        Some(c) => canonical(c)?,
        None => "(none)".to_string(),
    };
    if was != now {
        return Err(CliError::usage(format!(
            "--resume {}: checkpoint is for --average {was} but --average is {now} (drop \
             --average to continue the saved run)",
            ck.path
        )));
    }
    Ok(())
}

/// Whether `--data` names the file the checkpoint was saved with: the same file by
/// its canonical path (`dir/../data.csv` is `data.csv`), or a file with the saved
/// fingerprint (the same data, moved).
fn same_data(
    saved: Option<&std::path::Path>,
    given: Option<&std::path::Path>,
    fingerprint: Option<&str>,
) -> bool {
    let (Some(saved), Some(given)) = (saved, given) else {
        return saved == given;
    };
    if saved == given {
        return true;
    }
    if let (Ok(a), Ok(b)) = (std::fs::canonicalize(saved), std::fs::canonicalize(given)) {
        if a == b {
            return true;
        }
    }
    fingerprint.is_some_and(|f| {
        gradus_problems::read_data_file(given)
            .is_ok_and(|bytes| gradus_problems::data_fingerprint(&bytes) == f)
    })
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
            check_resume_average(&args, ck)?;
            let saved_optimizer = ck.spec.optimizer.to_string();
            let steps = args.common.single(&saved_optimizer)?.steps;
            // --steps N means N more steps.
            let mut spec = RunSpec {
                steps,
                ..ck.spec.clone()
            };
            // A --data that passed the check above is the same data, perhaps moved.
            if args.explicit.iter().any(|e| e == "data") {
                spec.problem_options.data = args.common.data.clone();
            }
            spec
        }
        None => {
            let optimizer = args.optimizer.as_deref().ok_or_else(|| {
                CliError::usage(
                    "--optimizer is required unless --resume is given (e.g. --optimizer 'adam(lr=0.01)')",
                )
            })?;
            let pick = args.common.single(optimizer)?;
            let mut spec = args.common.spec(&pick)?;
            spec.average = args
                .average
                .as_deref()
                .map(|a| {
                    gradus::spec::parse(a)
                        .map_err(|e| CliError::usage(format!("--average {a}: {e}")))
                })
                .transpose()?;
            spec
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
    let mut runner = Runner::<T>::new(spec).map_err(|mut e| {
        // Settings read from a checkpoint are the file's fault, not a flag's.
        if let Some(ck) = resume {
            e.message = format!(
                "--resume {}: the saved run settings are invalid: {}",
                ck.path, e.message
            );
        }
        e
    })?;
    // Every output is checked before the first step.
    args.plots.check(
        &spec.problem,
        runner.problem.dim(),
        runner.problem.as_data().is_some(),
    )?;
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
    // `--plot-accuracy`: the test accuracy at about 500 records of the run (and its last),
    // since evaluating the test set at every step would cost more than the steps.
    let accuracy_every = args
        .plots
        .plot_accuracy
        .is_some()
        .then(|| (steps / 500).max(1));
    let mut accuracy = Vec::new();
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
        if let Some(k) = accuracy_every {
            if runner.step % k == 0 || runner.step == end {
                if let Some(acc) = crate::history::test_accuracy(&mut runner) {
                    accuracy.push(serde_json::Value::Array(vec![
                        record.step.into(),
                        crate::history::num(acc),
                    ]));
                }
            }
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
    let summary = crate::history::summary(&mut runner, wall);
    printer.summary(&summary)?;
    let mut summary = summary;
    if !accuracy.is_empty() {
        summary.insert(
            crate::history::TEST_ACCURACY_CURVE.into(),
            serde_json::Value::Array(accuracy),
        );
    }
    if args.plots.any() {
        let result = crate::history::RunResult {
            optimizer: spec.optimizer.to_string(),
            label: spec.optimizer.to_string(),
            history,
            evaluations: Vec::new(),
            summary,
            stopped: None,
            reference: None,
        };
        crate::plots::draw(&args.plots, std::slice::from_ref(spec), &[result])?;
    }
    Ok(())
}
