//! Run checkpoints: `gradus run --save-state FILE` and `--resume FILE`.
//!
//! A run checkpoint is a [`gradus::checkpoint::Checkpoint`] (versioned, CRC-32, named
//! and shape-checked tensors; see that module for the byte format) holding:
//!
//! * tensors `params/<tensor>`: the parameters, one per tensor of the problem;
//! * tensors `optimizer/<tensor>/<slot>` (and `.../#scalars`): the optimizer's state;
//! * `meta.kind = "gradus-run"`, `meta.run`: the settings that define the run (problem
//!   and its options, start, optimizer and schedule specs as given, batch size,
//!   sampling, noise, seed, clipping, non-finite policy, dtype);
//! * `meta.step`, `meta.skipped`: updates applied and skipped so far;
//! * `meta.optimizer` (first-order) or `meta.newton` (`spec`, `steps`);
//! * `meta.schedule`, `meta.sampler`, `meta.noise`: the schedule's state and the
//!   random generators' exact positions (or null).
//! * with `--average`: tensors `average/<tensor>` (the averaged parameters, with their
//!   shapes) and `meta.average` (`spec`, `n_averaged`, `steps`, ...), written by
//!   [`gradus::optim::Averaging::to_checkpoint`]; `meta.run.average` holds the spec.
//!
//! Files are written atomically: to a temporary file in the same directory, synced,
//! then renamed over the target, so a crash never leaves a half-written checkpoint.
//! Temporary files left by a killed writer (`.NAME.tmp-PID` of a process that no longer
//! runs) are removed by the next write to the same target. Only regular files are
//! replaced, and only regular files of at most [`MAX_CHECKPOINT_BYTES`] are read;
//! reading stops after the header if that is not a gradus checkpoint's.
//!
//! linreg checkpoints pin their data: `meta.run.data_fingerprint` is the CSV file's
//! fingerprint, and resuming on a file with another one is refused.

use crate::cli_error::CliError;
use crate::runner::{RunSpec, Runner};
use gradus::checkpoint::{Checkpoint, Tensor};
use gradus::optim::{NonFinitePolicy, OptimizerKind, OptimizerState, TensorState};
use gradus::schedule::ScheduleState;
use gradus::{DType, Float};
use gradus_problems::{BatchSampler, GradientNoise, ProblemOptions, Sampling};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;

/// `meta.kind` of a run checkpoint.
const KIND: &str = "gradus-run";

/// The serialised form of a [`RunSpec`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunSettings {
    problem: String,
    problem_options: ProblemOptions,
    start: Option<Vec<f64>>,
    optimizer: String,
    schedule: Option<String>,
    batch_size: Option<usize>,
    sampling: Sampling,
    noise: f64,
    seed: u64,
    clip_norm: Option<f64>,
    clip_value: Option<f64>,
    nonfinite: NonFinitePolicy,
    dtype: DType,
    /// The `--data` file's fingerprint (absent in checkpoints of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_fingerprint: Option<String>,
    /// `--average` (absent without it, and in checkpoints of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    average: Option<String>,
}

/// The largest checkpoint file `--resume` reads (the decoder's own limits are larger:
/// this is what a run of the largest problems needs, with room to spare).
pub const MAX_CHECKPOINT_BYTES: u64 = 8 << 30;

impl RunSettings {
    fn of(spec: &RunSpec, data_fingerprint: Option<String>) -> Self {
        RunSettings {
            problem: spec.problem.clone(),
            problem_options: spec.problem_options.clone(),
            start: spec.start.clone(),
            optimizer: spec.optimizer.to_string(),
            schedule: spec.schedule.as_ref().map(|s| s.to_string()),
            batch_size: spec.batch_size,
            sampling: spec.sampling,
            noise: spec.noise,
            seed: spec.seed,
            clip_norm: spec.clip_norm,
            clip_value: spec.clip_value,
            nonfinite: spec.nonfinite,
            dtype: spec.dtype,
            data_fingerprint,
            average: spec.average.as_ref().map(|a| a.to_string()),
        }
    }

    fn into_spec(self) -> gradus::Result<RunSpec> {
        Ok(RunSpec {
            problem: self.problem,
            problem_options: self.problem_options,
            start: self.start,
            optimizer: gradus::spec::parse(&self.optimizer)?,
            schedule: self
                .schedule
                .as_deref()
                .map(gradus::spec::parse)
                .transpose()?,
            batch_size: self.batch_size,
            sampling: self.sampling,
            noise: self.noise,
            seed: self.seed,
            clip_norm: self.clip_norm,
            clip_value: self.clip_value,
            nonfinite: self.nonfinite,
            dtype: self.dtype,
            average: self
                .average
                .as_deref()
                .map(gradus::spec::parse)
                .transpose()?,
            // The number of steps to run is not part of a run's state: `--resume` takes
            // it from `--steps`.
            steps: crate::args::DEFAULT_STEPS,
        })
    }
}

/// A checkpoint read from a file, with its run settings.
pub struct RunCheckpoint {
    /// The file it came from (for messages).
    pub path: String,
    /// The run settings.
    pub spec: RunSpec,
    /// The step it was saved at.
    pub step: u64,
    /// The fingerprint of the data file the run was saved with (linreg).
    pub data_fingerprint: Option<String>,
    checkpoint: Checkpoint,
}

fn to_json<S: Serialize>(what: &str, x: &S) -> Result<Value, CliError> {
    serde_json::to_value(x).map_err(|e| CliError::usage(format!("cannot save the {what}: {e}")))
}

/// The complete state of `runner` as a checkpoint.
pub fn capture<T: Float>(runner: &Runner<T>) -> Result<Checkpoint, CliError> {
    let mut meta = serde_json::Map::new();
    meta.insert("kind".into(), json!(KIND));
    meta.insert(
        "run".into(),
        to_json(
            "run settings",
            &RunSettings::of(runner.spec(), runner.data_fingerprint.clone()),
        )?,
    );
    meta.insert("step".into(), json!(runner.step));
    meta.insert("skipped".into(), json!(runner.skipped));
    let schedule = runner.schedule.as_ref().map(|s| s.state());
    meta.insert("schedule".into(), to_json("schedule state", &schedule)?);
    meta.insert("sampler".into(), to_json("batch sampler", &runner.sampler)?);
    meta.insert("noise".into(), to_json("gradient noise", &runner.noise)?);
    let mut c = Checkpoint::new(Value::Object(meta));
    for (name, r) in &runner.tensors {
        c.push(Tensor::from_slice(
            &format!("params/{name}"),
            &[r.len()],
            &runner.x[r.clone()],
        )?)?;
    }
    runner.stepper.state().to_checkpoint("optimizer", &mut c)?;
    if let Some(avg) = &runner.averaging {
        avg.to_checkpoint("average", &mut c)?;
    }
    Ok(c)
}

/// Writes `checkpoint` to `path` atomically (temporary file in the same directory,
/// then rename), after removing temporary files of earlier, killed writes.
pub fn write(path: &Path, checkpoint: &Checkpoint) -> Result<(), CliError> {
    let bytes = checkpoint.encode()?;
    let name = path.file_name().ok_or_else(|| {
        CliError::usage(format!("--save-state {}: not a file name", path.display()))
    })?;
    // Checked again: the path may have been replaced during the run.
    crate::output_paths::check_replaceable("--save-state", path)?;
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    remove_stale_temporaries(path, &prefix);
    let tmp = path.with_file_name(format!("{prefix}{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::io(format!("--save-state {}", path.display()), e));
    }
    Ok(())
}

/// Whether process `pid` is running (on systems without `/proc`, assumed so, and
/// nothing is removed).
fn process_alive(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes `<prefix><pid>` regular files next to `path` whose process is gone: what a
/// writer killed between creating and renaming its temporary file leaves behind.
fn remove_stale_temporaries(path: &Path, prefix: &str) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if regular && pid != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Checks before a run that `--save-state` can be written there: a file name in an
/// existing, writable directory, naming nothing or a regular file.
pub fn check_target(path: &Path) -> Result<(), CliError> {
    crate::output_paths::check_file("--save-state", path)
}

/// The bytes of the checkpoint file at `path`: a regular file, whose header gives its
/// exact size, at most [`MAX_CHECKPOINT_BYTES`]. Nothing past the header is read
/// unless all of that holds.
fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let regular = |m: &std::fs::Metadata| -> Result<(), String> {
        if !m.is_file() {
            return Err(
                "not a regular file (a directory, FIFO, socket or device); expected a \
                 checkpoint written by --save-state"
                    .into(),
            );
        }
        Ok(())
    };
    // Checked before opening: opening a FIFO blocks until it has a writer.
    regular(&std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?)?;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    regular(&meta)?;
    let mut head = Vec::new();
    let mut file = file;
    (&mut file)
        .take(gradus::checkpoint::MAX_FIRST_LINE as u64)
        .read_to_end(&mut head)
        .map_err(|e| format!("cannot read it: {e}"))?;
    // The header (version 2) or first line (version 1) says how large the file is.
    use gradus::checkpoint::Preamble;
    let need = Preamble::prefix_bytes(&head).map_err(|e| e.to_string())?;
    if need > head.len() {
        (&mut file)
            .take((need - head.len()) as u64)
            .read_to_end(&mut head)
            .map_err(|e| format!("cannot read it: {e}"))?;
    }
    let pre = Preamble::parse(&head).map_err(|e| e.to_string())?;
    let size = pre.file_bytes() as u64;
    if size > MAX_CHECKPOINT_BYTES {
        return Err(format!(
            "its header announces {size} bytes; at most {MAX_CHECKPOINT_BYTES} (8 GiB) are read"
        ));
    }
    if meta.len() != size {
        return Err(format!(
            "the file has {} bytes but its header announces {size}: it is {}",
            meta.len(),
            if meta.len() < size {
                "truncated"
            } else {
                "longer than written"
            }
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    bytes.extend_from_slice(&head);
    file.take(size + 1 - head.len() as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    Ok(bytes)
}

/// Reads and checks the checkpoint in `path` (format, version, checksum, run settings).
pub fn read(path: &Path) -> Result<RunCheckpoint, CliError> {
    let shown = path.display().to_string();
    let err = |m: String| CliError::usage(format!("--resume {shown}: {m}"));
    let bytes = read_bytes(path).map_err(err)?;
    let checkpoint = Checkpoint::decode(&bytes).map_err(|e| err(e.to_string()))?;
    if checkpoint.meta.get("kind").and_then(Value::as_str) != Some(KIND) {
        return Err(err(format!(
            "not a run checkpoint (meta.kind is not '{KIND}')"
        )));
    }
    let settings: RunSettings = field(&checkpoint, "run").map_err(err)?;
    let data_fingerprint = settings.data_fingerprint.clone();
    let spec = settings
        .into_spec()
        .map_err(|e| err(format!("the saved run settings are invalid: {e}")))?;
    let step: u64 = field(&checkpoint, "step").map_err(err)?;
    Ok(RunCheckpoint {
        path: shown,
        spec,
        step,
        data_fingerprint,
        checkpoint,
    })
}

fn field<D: for<'de> Deserialize<'de>>(c: &Checkpoint, key: &str) -> Result<D, String> {
    let v = c
        .meta
        .get(key)
        .ok_or_else(|| format!("the checkpoint has no '{key}'"))?;
    serde_json::from_value(v.clone())
        .map_err(|e| format!("the checkpoint's '{key}' does not parse: {e}"))
}

impl RunCheckpoint {
    /// Loads the saved state into `runner`, freshly built from [`RunCheckpoint::spec`].
    /// Every tensor is checked by name, dtype and shape against the problem's tensors.
    pub fn restore<T: Float>(&self, runner: &mut Runner<T>) -> Result<(), CliError> {
        let err = |m: String| CliError::usage(format!("--resume {}: {m}", self.path));
        let c = &self.checkpoint;
        if let (Some(saved), Some(now)) = (&self.data_fingerprint, &runner.data_fingerprint) {
            if saved != now {
                let data = runner
                    .spec()
                    .problem_options
                    .data
                    .as_ref()
                    .map_or("the data".into(), |p| p.display().to_string());
                return Err(err(format!(
                    "the run was saved on data with fingerprint {saved}, but {data} now has \
                     fingerprint {now}: the data changed, so the run cannot continue on it"
                )));
            }
        }
        let scheduled = runner.schedule.is_some();
        let unknown = c.tensors.iter().find(|t| {
            t.name.starts_with("params/")
                && !runner
                    .tensors
                    .iter()
                    .any(|(n, _)| t.name == format!("params/{n}"))
        });
        if let Some(extra) = unknown {
            return Err(err(format!(
                "tensor '{}' is not a parameter of problem '{}'",
                extra.name,
                runner.spec().problem
            )));
        }
        let mut x = runner.x.clone();
        for (name, r) in &runner.tensors {
            let v: Vec<T> = c
                .tensor(&format!("params/{name}"), &[r.len()])
                .map_err(|e| err(e.to_string()))?;
            x[r.clone()].copy_from_slice(&v);
        }
        let skipped: u64 = field(c, "skipped").map_err(err)?;
        let schedule: Option<ScheduleState> = field(c, "schedule").map_err(err)?;
        let sampler: Option<BatchSampler> = field(c, "sampler").map_err(err)?;
        let noise: Option<GradientNoise> = field(c, "noise").map_err(err)?;
        match (&mut runner.schedule, schedule) {
            (Some(s), Some(state)) => s
                .load_state(&state)
                .map_err(|e| err(format!("schedule: {e}")))?,
            (None, None) => {}
            _ => {
                return Err(err(
                    "the schedule state does not match the run's schedule".into()
                ))
            }
        }
        match (&runner.sampler, &sampler) {
            (Some(a), Some(b))
                if (a.n(), a.batch_size(), a.sampling())
                    == (b.n(), b.batch_size(), b.sampling()) => {}
            (None, None) => {}
            _ => {
                return Err(err(
                    "the batch sampler state does not match the problem's data and --batch-size"
                        .into(),
                ))
            }
        }
        if runner.noise.as_ref().map(|n| n.sigma()) != noise.as_ref().map(|n| n.sigma()) {
            return Err(err("the gradient noise state does not match --noise".into()));
        }
        // Every tensor in the file must be one this run reads.
        let mut used: Vec<String> = runner
            .tensors
            .iter()
            .map(|(n, _)| format!("params/{n}"))
            .collect();
        let state = if c.meta.get("optimizer").is_none() && c.meta.get("newton").is_some() {
            // Checkpoints of gradus 0.1 kept Newton's state apart from the optimizers'.
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct NewtonState {
                spec: String,
                steps: u64,
            }
            let s: NewtonState = field(c, "newton").map_err(err)?;
            OptimizerState::<T> {
                algorithm: "newton".into(),
                spec: s.spec,
                slot_names: Vec::new(),
                nonfinite: runner.stepper.nonfinite_policy(),
                skipped: 0,
                tensors: vec![TensorState {
                    name: "newton".into(),
                    step: s.steps,
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            OptimizerState::<T>::from_checkpoint("optimizer", c).map_err(|e| err(e.to_string()))?
        };
        // Element-wise and per-tensor state is per tensor; closure optimizers keep
        // global state of their own layout, which their load_state checks.
        if runner.stepper.kind() != OptimizerKind::Closure {
            let names: Vec<(&str, usize)> = runner
                .tensors
                .iter()
                .map(|(n, r)| (n.as_str(), r.len()))
                .collect();
            state
                .check_tensors(&names)
                .map_err(|e| err(e.to_string()))?;
        }
        used.extend(state.checkpoint_tensor_names("optimizer"));
        let averaging = match &runner.averaging {
            Some(own) => {
                let saved = gradus::optim::Averaging::<T>::from_checkpoint("average", c)
                    .map_err(|e| err(e.to_string()))?;
                if saved.spec() != own.spec() {
                    return Err(err(format!(
                        "the run settings say --average {} but the saved average is {}: the \
                         file is inconsistent",
                        own.spec(),
                        saved.spec()
                    )));
                }
                if saved.n_averaged() > 0 {
                    let tensors: Vec<(&str, &[T], &[usize])> = runner
                        .tensors
                        .iter()
                        .map(|(n, r)| (n.as_str(), &x[r.clone()], &[][..]))
                        .collect();
                    saved
                        .check(&tensors)
                        .map_err(|e| err(format!("average: {e}")))?;
                }
                used.extend(saved.checkpoint_tensor_names("average"));
                Some(saved)
            }
            None => None,
        };
        let (run_spec, saved_spec) = (runner.stepper.spec(), state.spec.clone());
        runner
            .stepper
            .load_state(state)
            .map_err(|e| err(e.to_string()))?;
        // After loading, whose own checks name a different algorithm first.
        check_same_optimizer(&run_spec, &saved_spec, scheduled).map_err(err)?;
        let used: std::collections::HashSet<&str> = used.iter().map(String::as_str).collect();
        if let Some(t) = c.tensors.iter().find(|t| !used.contains(t.name.as_str())) {
            return Err(err(format!(
                "tensor '{}' is not part of this run's state",
                t.name
            )));
        }
        runner.x = x;
        if averaging.is_some() {
            runner.averaging = averaging;
        }
        runner.sampler = sampler;
        runner.noise = noise;
        runner.step = self.step;
        runner.skipped = skipped;
        runner.forget_loss();
        Ok(())
    }
}

/// Refuses a checkpoint whose run settings name other hyperparameters than its saved
/// optimizer state (which the run would silently use). With a schedule, lr and
/// momentum (betas) are the schedule's and are not compared.
fn check_same_optimizer(
    run: &gradus::spec::Call,
    saved: &str,
    scheduled: bool,
) -> Result<(), String> {
    let state = gradus::spec::parse(saved)
        .map_err(|e| format!("the saved optimizer state's spec does not parse: {e}"))?;
    let differs = |key: &str| {
        format!(
            "the run settings say optimizer {run} but the saved optimizer state is {state} \
         ({key} differs): the file is inconsistent"
        )
    };
    if run.name != state.name {
        return Err(differs("the algorithm"));
    }
    let skip = |k: &str| scheduled && matches!(k, "lr" | "momentum" | "betas");
    for (k, v) in &run.keywords {
        if skip(k) {
            continue;
        }
        let saved = state.keywords.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        if saved != Some(v) {
            return Err(differs(k));
        }
    }
    if let Some((k, _)) = state
        .keywords
        .iter()
        .find(|(k, _)| !skip(k) && !run.keywords.iter().any(|(n, _)| n == k))
    {
        return Err(differs(k));
    }
    Ok(())
}
