//! `gradus bench`: times optimizer steps on synthetic tensors and compares them with
//! the memory bandwidth of this machine, measured in the same process.
//!
//! The step of an element-wise optimizer reads every parameter, gradient and state
//! element once and writes every parameter and state element once, so on large
//! tensors its speed is bounded by memory bandwidth. The report gives the bytes a step
//! must move, the bandwidth a STREAM-like triad reaches with the same threads, and the
//! fraction of it the step reaches.

use gradus::optim::{NonFinitePolicy, Optimizer, OptimizerKind, Param};
use gradus::Float;
use rayon::prelude::*;
use std::time::Instant;

/// Arguments of `gradus bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// The optimizer, as a spec: `adam`, `sgd(lr=0.01, momentum=0.9)`, ...
    #[arg(long, allow_negative_numbers = true)]
    pub optimizer: String,
    /// Total number of parameters (>= 1). With `--shape` it may be left out: it is then
    /// the number of tensors times the shape's elements.
    #[arg(long, allow_negative_numbers = true)]
    pub size: Option<usize>,
    /// Number of tensors the parameters are split into, of equal length (±1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 1)]
    pub tensors: usize,
    /// Element type: f32 or f64.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Threads of the rayon pool (default: every core).
    #[arg(long, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// Timed steps (the median is reported).
    #[arg(long, allow_negative_numbers = true, default_value_t = 20)]
    pub steps: usize,
    /// Untimed steps before timing.
    #[arg(long, allow_negative_numbers = true, default_value_t = 3)]
    pub warmup: usize,
    /// Output: text (a table) or json (one object on one line).
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Non-finite gradient policy: error (the default), skip or propagate; the same flag
    /// as `run --on-nonfinite` (`--nonfinite` is kept as an alias).
    #[arg(long = "on-nonfinite", alias = "nonfinite", default_value = "error")]
    pub nonfinite: String,
    /// Clip the gradients' global 2-norm to this before each step, as `run
    /// --clip-norm` (torch's `clip_grad_norm_` + `step`): the norm pass is timed with
    /// the step.
    #[arg(long = "clip-norm", allow_negative_numbers = true)]
    pub clip_norm: Option<f64>,
    /// The shape of every tensor, row-major: `R,C` for the matrix optimizers (muon,
    /// adafactor, shampoo, soap), or any number of axes. Each of the `--tensors` tensors
    /// has this shape.
    #[arg(long)]
    pub shape: Option<String>,
}

/// Largest size accepted (memory, not arithmetic, is the limit).
const MAX_SIZE: usize = 1 << 34;

/// Runs `gradus bench`, printing the report on stdout.
pub fn run(args: &BenchArgs) -> Result<(), crate::cli_error::CliError> {
    use std::io::Write;
    let report = measure(args).map_err(crate::cli_error::CliError::usage)?;
    let text = match args.format.as_str() {
        "json" => format!("{}\n", report.to_json()),
        _ => report.to_text(),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| crate::cli_error::CliError::io("writing to stdout", e))
}

/// The measurements of one `gradus bench` run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The optimizer's spec as given.
    pub optimizer: String,
    /// Total parameters.
    pub size: usize,
    /// Tensors.
    pub tensors: usize,
    /// The shape of every tensor, if `--shape` gave one (vectors otherwise).
    pub shape: Option<Vec<usize>>,
    /// How the optimizer takes its gradients: `elementwise`, `tensor` or `closure`.
    pub kind: OptimizerKind,
    /// `f32` or `f64`.
    pub dtype: &'static str,
    /// Threads of the pool.
    pub threads: usize,
    /// Timed steps.
    pub steps: usize,
    /// Per-element state buffers of the algorithm.
    pub state_slots: usize,
    /// Bytes of optimizer state per parameter, counted from the state after the steps
    /// (every buffer, with its own shape and storage type; fractional for factored
    /// state such as Adafactor's).
    pub state_bytes_per_param: f64,
    /// The global-norm clipping limit, if the steps were clipped.
    pub clip_norm: Option<f64>,
    /// Median seconds per step.
    pub median_step_seconds: f64,
    /// Fastest step, seconds.
    pub min_step_seconds: f64,
    /// Bytes a step must read and write (params r+w, grads r, each slot r+w); for an
    /// element-wise optimizer only (a tensor optimizer's matrix products have no such
    /// single-pass bound).
    pub bytes_per_step: Option<u64>,
    /// Triad bandwidth (STREAM's byte count: 2 reads + 1 write per element, write
    /// allocation not counted), GB/s.
    pub memory_bandwidth_gbps: f64,
    /// The non-finite policy.
    pub nonfinite_policy: String,
    /// Median seconds of a bare pass with the step's memory traffic (`x += g` on the
    /// parameters and on as many state-sized buffers as the optimizer has, over the
    /// same tensors, on the same threads): the fastest any single-pass step could be.
    /// Element-wise optimizers only.
    pub roofline_step_seconds: Option<f64>,
}

impl Report {
    /// Parameters updated per second, at the median step time.
    pub fn params_per_second(&self) -> f64 {
        self.size as f64 / self.median_step_seconds
    }

    /// Bandwidth the step reaches, GB/s (element-wise optimizers).
    pub fn step_gbps(&self) -> Option<f64> {
        self.bytes_per_step
            .map(|b| b as f64 / self.median_step_seconds / 1e9)
    }

    /// Step bandwidth over triad bandwidth (element-wise optimizers).
    pub fn bandwidth_fraction(&self) -> Option<f64> {
        self.step_gbps().map(|g| g / self.memory_bandwidth_gbps)
    }

    /// The bare pass's time over the step's: 1 means the step runs as fast as a pass
    /// moving the same bytes with no arithmetic (element-wise optimizers).
    pub fn roofline_fraction(&self) -> Option<f64> {
        self.roofline_step_seconds
            .map(|r| r / self.median_step_seconds)
    }

    /// One JSON object.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "optimizer": self.optimizer,
            "size": self.size,
            "tensors": self.tensors,
            "shape": self.shape,
            "kind": self.kind.name(),
            "dtype": self.dtype,
            "threads": self.threads,
            "steps": self.steps,
            "state_slots": self.state_slots,
            "state_bytes_per_param": self.state_bytes_per_param,
            "clip_norm": self.clip_norm,
            "median_step_seconds": self.median_step_seconds,
            "min_step_seconds": self.min_step_seconds,
            "params_per_second": self.params_per_second(),
            "bytes_per_step": self.bytes_per_step,
            "step_gbps": self.step_gbps(),
            "memory_bandwidth_gbps": self.memory_bandwidth_gbps,
            "bandwidth_fraction": self.bandwidth_fraction(),
            "nonfinite_policy": self.nonfinite_policy,
            "roofline_step_seconds": self.roofline_step_seconds,
            "roofline_fraction": self.roofline_fraction(),
        })
        .to_string()
    }

    /// A short human table.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let row = |s: &mut String, k: &str, v: String| s.push_str(&format!("{k:<22} {v}\n"));
        row(&mut s, "optimizer", self.optimizer.clone());
        let shape = match &self.shape {
            Some(d) => {
                let d: Vec<String> = d.iter().map(|x| x.to_string()).collect();
                format!(" of shape {}", d.join("×"))
            }
            None => String::new(),
        };
        row(
            &mut s,
            "params",
            format!(
                "{} in {} tensor(s){shape}, {}",
                self.size, self.tensors, self.dtype
            ),
        );
        row(&mut s, "kind", self.kind.name().to_string());
        row(&mut s, "threads", self.threads.to_string());
        row(&mut s, "non-finite policy", self.nonfinite_policy.clone());
        if let Some(c) = self.clip_norm {
            row(
                &mut s,
                "clip norm",
                format!("{c} (global 2-norm, before each step)"),
            );
        }
        row(
            &mut s,
            "step (median / min)",
            format!(
                "{:.3} ms / {:.3} ms over {} steps",
                self.median_step_seconds * 1e3,
                self.min_step_seconds * 1e3,
                self.steps
            ),
        );
        row(
            &mut s,
            "params per second",
            format!("{:.3e}", self.params_per_second()),
        );
        let state = format!(
            "{} state slots, {} state bytes per parameter",
            self.state_slots,
            gradus::spec::fmt_value(round3(self.state_bytes_per_param))
        );
        let (Some(bytes), Some(gbps), Some(fraction), Some(roof), Some(roof_fraction)) = (
            self.bytes_per_step,
            self.step_gbps(),
            self.bandwidth_fraction(),
            self.roofline_step_seconds,
            self.roofline_fraction(),
        ) else {
            row(&mut s, "state", state);
            row(
                &mut s,
                "triad bandwidth",
                format!("{:.2} GB/s", self.memory_bandwidth_gbps),
            );
            row(
                &mut s,
                "bare pass (roofline)",
                format!(
                    "n/a: a {} optimizer is not one element-wise pass",
                    self.kind.name()
                ),
            );
            return s;
        };
        row(&mut s, "bytes per step", format!("{bytes} ({state})"));
        row(&mut s, "step bandwidth", format!("{gbps:.2} GB/s"));
        row(
            &mut s,
            "triad bandwidth",
            format!("{:.2} GB/s", self.memory_bandwidth_gbps),
        );
        row(
            &mut s,
            "fraction of triad",
            format!("{:.1} %", 100.0 * fraction),
        );
        row(
            &mut s,
            "bare pass (roofline)",
            format!(
                "{:.3} ms: the step runs at {:.1} % of its speed",
                roof * 1e3,
                100.0 * roof_fraction
            ),
        );
        s
    }
}

/// `x` to 3 significant digits, for the text table.
fn round3(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(2 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// `--shape R,C`: positive axis lengths.
fn parse_shape(text: &str) -> Result<Vec<usize>, String> {
    let bad = || {
        format!(
            "--shape {text}: must be positive axis lengths separated by commas, such as 512,256"
        )
    };
    let dims: Vec<usize> = text
        .split(',')
        .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    if dims.is_empty() || dims.len() > 8 {
        return Err(bad());
    }
    Ok(dims)
}

/// The parameters' total count: `--size`, or the shape's elements times `--tensors`;
/// both given, they must agree.
fn total_size(args: &BenchArgs, shape: Option<&[usize]>) -> Result<usize, String> {
    if args.tensors == 0 {
        return Err(format!("--tensors {}: must be at least 1", args.tensors));
    }
    let from_shape = match shape {
        Some(d) => Some(
            d.iter()
                .try_fold(args.tensors, |a, &x| a.checked_mul(x))
                .filter(|&n| n <= MAX_SIZE)
                .ok_or_else(|| {
                    format!(
                        "--shape {}: {} tensors of it exceed {MAX_SIZE} parameters",
                        args.shape.as_deref().unwrap_or_default(),
                        args.tensors
                    )
                })?,
        ),
        None => None,
    };
    let size = match (args.size, from_shape) {
        (Some(n), Some(m)) if n != m => {
            return Err(format!(
            "--size {n}: {} tensors of shape {} hold {m} parameters; give that or leave --size out",
            args.tensors,
            args.shape.as_deref().unwrap_or_default()
        ))
        }
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => return Err("--size is required (or --shape, which implies it)".into()),
    };
    if size == 0 || size > MAX_SIZE {
        return Err(format!("--size {size}: must be between 1 and {MAX_SIZE}"));
    }
    if args.tensors > size {
        return Err(format!(
            "--tensors {}: must be between 1 and --size ({size})",
            args.tensors
        ));
    }
    Ok(size)
}

/// Checks the arguments and runs the measurement.
pub fn measure(args: &BenchArgs) -> Result<Report, String> {
    let shape = args.shape.as_deref().map(parse_shape).transpose()?;
    let size = total_size(args, shape.as_deref())?;
    if args.steps == 0 || args.steps > 1_000_000 {
        return Err(format!(
            "--steps {}: must be between 1 and 1000000",
            args.steps
        ));
    }
    if args.warmup > 1_000_000 {
        return Err(format!(
            "--warmup {}: must be between 0 and 1000000",
            args.warmup
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cores);
    if threads == 0 || threads > 1024 {
        return Err(format!("--threads {threads}: must be between 1 and 1024"));
    }
    if !matches!(args.format.as_str(), "text" | "json") {
        return Err(format!(
            "--format {}: must be one of text, json",
            args.format
        ));
    }
    let policy: NonFinitePolicy = args.nonfinite.parse().map_err(|_| {
        format!(
            "--on-nonfinite {}: must be one of error, skip, propagate",
            args.nonfinite
        )
    })?;
    if let Some(c) = args.clip_norm {
        if !(c.is_finite() && c >= 0.0) {
            return Err(format!("--clip-norm {c}: must be a finite number >= 0"));
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("--threads {threads}: cannot start the thread pool: {e}"))?;
    let layout = Layout { size, shape };
    pool.install(|| match args.dtype.as_str() {
        "f32" => measure_typed::<f32>(args, &layout, threads, policy),
        "f64" => measure_typed::<f64>(args, &layout, threads, policy),
        other => Err(format!("--dtype {other}: must be one of f32, f64")),
    })
}

/// Deterministic pseudo-random values in [-1, 1) (xorshift64).
fn fill<T: Float>(v: &mut [T], seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for e in v {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *e = T::of((x >> 11) as f64 / (1u64 << 52) as f64 - 1.0);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The checked sizes of a run: total parameters and every tensor's shape.
struct Layout {
    size: usize,
    shape: Option<Vec<usize>>,
}

fn measure_typed<T: Float>(
    args: &BenchArgs,
    layout: &Layout,
    threads: usize,
    policy: NonFinitePolicy,
) -> Result<Report, String> {
    let mut opt: Box<dyn Optimizer<T>> = gradus::optim::build::<T>(&args.optimizer)
        .map_err(|e| format!("--optimizer {}: {e}", args.optimizer))?;
    opt.set_nonfinite_policy(policy);
    let kind = opt.kind();
    if kind == OptimizerKind::Closure {
        return Err(format!(
            "--optimizer {}: a closure optimizer re-evaluates the loss, which synthetic \
             tensors do not have; time it with `gradus run` on a problem",
            args.optimizer
        ));
    }
    let (n, k) = (layout.size, args.tensors);
    let dims: &[usize] = layout.shape.as_deref().unwrap_or(&[]);
    let names: Vec<String> = (0..k).map(|t| format!("t{t}")).collect();
    let len = |t: usize| n / k + usize::from(t < n % k);
    let mut values: Vec<Vec<T>> = Vec::with_capacity(k);
    let mut grads: Vec<Vec<T>> = Vec::with_capacity(k);
    for t in 0..k {
        let mut v = vec![T::zero(); len(t)];
        fill(&mut v, 2 * t as u64 + 1);
        let mut g = vec![T::zero(); len(t)];
        fill(&mut g, 2 * t as u64 + 2);
        values.push(v);
        grads.push(g);
    }
    let mut params: Vec<Param<'_, T>> = values
        .iter_mut()
        .zip(&grads)
        .zip(&names)
        .map(|((v, g), name)| Param::with_shape(name, v, g, dims))
        .collect();
    let clip_norm = args.clip_norm;
    let mut step = |params: &mut [Param<'_, T>]| -> Result<f64, String> {
        let t0 = Instant::now();
        match clip_norm {
            Some(c) => gradus::clip::step_clipped(opt.as_mut(), params, c, 2.0).map(|_| ()),
            None => opt.step(params).map(|_| ()),
        }
        .map_err(|e| format!("step failed: {e}"))?;
        Ok(t0.elapsed().as_secs_f64())
    };
    for _ in 0..args.warmup.max(1) {
        step(&mut params)?;
    }
    let mut times = Vec::with_capacity(args.steps);
    for _ in 0..args.steps {
        times.push(step(&mut params)?);
    }
    drop(params);
    let state = opt.state();
    let state_slots = state.slot_names.len();
    // bfloat16 state (`state_dtype=bf16`) is 2 bytes per element, whatever `T` is;
    // 8-bit state (`q8`) 1 byte, plus an f32 scale per block.
    let bf16 = state.tensors.iter().any(|t| !t.bf16_slots.is_empty());
    let q8 = state.tensors.iter().any(|t| !t.q8_slots.is_empty());
    let q8_scale_bytes: u64 = state
        .tensors
        .iter()
        .flat_map(|t| &t.q8_absmax)
        .map(|a| 4 * a.len() as u64)
        .sum();
    let state_bytes_per_param = state.buffer_bytes() as f64 / n as f64;
    drop(state);
    let min_step_seconds = times.iter().copied().fold(f64::INFINITY, f64::min);
    let median_step_seconds = median(&mut times);
    let elem = std::mem::size_of::<T>() as u64;
    let state_elem = if q8 {
        1
    } else if bf16 {
        2
    } else {
        elem
    };
    let elementwise = kind == OptimizerKind::Elementwise;
    // params read + written, grads read, each state slot read + written (with 8-bit
    // state, its block scales too).
    let bytes_per_step = elementwise
        .then(|| n as u64 * (3 * elem + 2 * state_elem * state_slots as u64) + 2 * q8_scale_bytes);
    drop(opt);
    let roofline_step_seconds = if !elementwise {
        None
    } else if q8 {
        // The scales (1.6 % of the state's bytes) are left out of the bare pass.
        Some(match state_slots {
            0 => roofline_seconds::<T, Bits8, 0>(&mut values, &grads, args.steps),
            1 => roofline_seconds::<T, Bits8, 1>(&mut values, &grads, args.steps),
            2 => roofline_seconds::<T, Bits8, 2>(&mut values, &grads, args.steps),
            3 => roofline_seconds::<T, Bits8, 3>(&mut values, &grads, args.steps),
            _ => roofline_seconds::<T, Bits8, 4>(&mut values, &grads, args.steps),
        })
    } else if bf16 {
        Some(match state_slots {
            0 => roofline_seconds::<T, Bits16, 0>(&mut values, &grads, args.steps),
            1 => roofline_seconds::<T, Bits16, 1>(&mut values, &grads, args.steps),
            2 => roofline_seconds::<T, Bits16, 2>(&mut values, &grads, args.steps),
            3 => roofline_seconds::<T, Bits16, 3>(&mut values, &grads, args.steps),
            _ => roofline_seconds::<T, Bits16, 4>(&mut values, &grads, args.steps),
        })
    } else {
        Some(match state_slots {
            0 => roofline_seconds::<T, T, 0>(&mut values, &grads, args.steps),
            1 => roofline_seconds::<T, T, 1>(&mut values, &grads, args.steps),
            2 => roofline_seconds::<T, T, 2>(&mut values, &grads, args.steps),
            3 => roofline_seconds::<T, T, 3>(&mut values, &grads, args.steps),
            _ => roofline_seconds::<T, T, 4>(&mut values, &grads, args.steps),
        })
    };
    drop(values);
    drop(grads);
    let memory_bandwidth_gbps = triad_bandwidth_gbps();
    Ok(Report {
        optimizer: args.optimizer.clone(),
        size: n,
        tensors: k,
        shape: layout.shape.clone(),
        kind,
        dtype: T::DTYPE.as_str(),
        threads,
        steps: args.steps,
        state_slots,
        state_bytes_per_param,
        clip_norm,
        median_step_seconds,
        min_step_seconds,
        bytes_per_step,
        memory_bandwidth_gbps,
        nonfinite_policy: args.nonfinite.clone(),
        roofline_step_seconds,
    })
}

/// Elements per parallel work item of the bare pass (as the kernel's items).
const PASS_CHUNK: usize = 1 << 16;

/// One work item of the bare pass: a chunk of a parameter, of its gradient and of
/// `N` state-sized buffers of `S`.
type PassItem<'a, T, S, const N: usize> = (&'a mut [T], &'a [T], [&'a mut [S]; N]);

/// An element of the bare pass's state buffers: `T` itself, or [`Bits16`] (the size
/// of bfloat16 state).
trait PassElem<T>: Copy + Default + Send + Sync {
    /// The bare pass's "update": one cheap operation with the gradient.
    fn bump(self, g: T) -> Self;
}

impl<T: Float> PassElem<T> for T {
    #[inline(always)]
    fn bump(self, g: T) -> Self {
        self + g
    }
}

/// A 2-byte state element of the bare pass (the size of bfloat16 state).
#[derive(Clone, Copy, Default)]
struct Bits16(u16);

impl<T: Float> PassElem<T> for Bits16 {
    #[inline(always)]
    fn bump(self, g: T) -> Self {
        Bits16(self.0.wrapping_add(u16::from(g > T::zero())))
    }
}

/// A byte: the size of 8-bit state's codes.
#[derive(Clone, Copy, Default)]
struct Bits8(u8);

impl<T: Float> PassElem<T> for Bits8 {
    #[inline(always)]
    fn bump(self, g: T) -> Self {
        Bits8(self.0.wrapping_add(u8::from(g > T::zero())))
    }
}

/// Median seconds, over `steps` passes after one untimed pass, of `x += g` applied to
/// the parameters and to `N` fresh buffers of `S` shaped like them: the step's reads
/// and writes (parameters r+w, gradients r, `N` slots r+w) in one pass, with no
/// arithmetic to speak of. A lower bound for any single-pass step on this machine.
fn roofline_seconds<T: Float, S: PassElem<T>, const N: usize>(
    values: &mut [Vec<T>],
    grads: &[Vec<T>],
    steps: usize,
) -> f64 {
    let mut slots: Vec<[Vec<S>; N]> = values
        .iter()
        .map(|v| std::array::from_fn(|_| vec![S::default(); v.len()]))
        .collect();
    let mut times = Vec::with_capacity(steps);
    for rep in 0..=steps {
        let mut items: Vec<PassItem<'_, T, S, N>> = Vec::new();
        for ((v, g), st) in values.iter_mut().zip(grads).zip(slots.iter_mut()) {
            let mut chunks = st.each_mut().map(|s| s.chunks_mut(PASS_CHUNK));
            for (pc, gc) in v.chunks_mut(PASS_CHUNK).zip(g.chunks(PASS_CHUNK)) {
                let sc = std::array::from_fn(|k| chunks[k].next().expect("same length"));
                items.push((pc, gc, sc));
            }
        }
        let t0 = Instant::now();
        items.par_iter_mut().for_each(|(p, g, s)| {
            let n = p.len();
            let g = &g[..n];
            let mut s =
                std::mem::replace(s, std::array::from_fn(|_| &mut [][..])).map(|x| &mut x[..n]);
            for i in 0..n {
                let gi = g[i];
                p[i] = p[i] + gi;
                for sk in s.iter_mut() {
                    sk[i] = sk[i].bump(gi);
                }
            }
        });
        if rep > 0 {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    median(&mut times)
}

/// Elements per array of the triad: 3 × 128 MiB of f64, far beyond any cache.
const TRIAD_LEN: usize = 1 << 24;
/// Elements per parallel chunk of the triad.
const TRIAD_CHUNK: usize = 1 << 16;

/// Median bandwidth, in GB/s, of `a[i] = b[i] + s·c[i]` over f64 arrays much larger
/// than the caches, on the current rayon pool. Bytes are counted as STREAM counts
/// them: 24 per element (two reads and one write; the read of `a`'s lines that the
/// write allocation causes is not counted).
pub fn triad_bandwidth_gbps() -> f64 {
    let n = TRIAD_LEN;
    let mut a = vec![0.0f64; n];
    let mut b = vec![0.0f64; n];
    let mut c = vec![0.0f64; n];
    // Touch the pages from the pool's threads.
    b.par_chunks_mut(TRIAD_CHUNK)
        .zip(c.par_chunks_mut(TRIAD_CHUNK))
        .zip(a.par_chunks_mut(TRIAD_CHUNK))
        .for_each(|((b, c), a)| {
            b.fill(1.0);
            c.fill(2.0);
            a.fill(0.0);
        });
    let s = std::hint::black_box(3.0f64);
    let mut times = Vec::new();
    for _ in 0..9 {
        let t0 = Instant::now();
        a.par_chunks_mut(TRIAD_CHUNK)
            .zip(b.par_chunks(TRIAD_CHUNK))
            .zip(c.par_chunks(TRIAD_CHUNK))
            .for_each(|((a, b), c)| {
                for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                    *a = b + s * c;
                }
            });
        times.push(t0.elapsed().as_secs_f64());
        std::hint::black_box(&a);
    }
    (24 * n) as f64 / median(&mut times) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn args(optimizer: &str, size: usize, tensors: usize) -> BenchArgs {
        BenchArgs {
            optimizer: optimizer.into(),
            size: Some(size),
            tensors,
            dtype: "f32".into(),
            threads: Some(1),
            steps: 2,
            warmup: 1,
            format: "json".into(),
            nonfinite: "error".into(),
            clip_norm: None,
            shape: None,
        }
    }

    #[test]
    fn bad_flags_are_named() {
        let e = measure(&args("adam", 0, 1)).unwrap_err();
        assert!(e.starts_with("--size 0"), "{e}");
        let e = measure(&args("adam", 10, 11)).unwrap_err();
        assert!(e.starts_with("--tensors 11"), "{e}");
        let e = measure(&BenchArgs {
            dtype: "f16".into(),
            ..args("adam", 10, 1)
        })
        .unwrap_err();
        assert!(e.starts_with("--dtype f16"), "{e}");
        let e = measure(&BenchArgs {
            nonfinite: "x".into(),
            ..args("adam", 10, 1)
        })
        .unwrap_err();
        assert!(e.starts_with("--on-nonfinite x"), "{e}");
        let e = measure(&args("nope", 10, 1)).unwrap_err();
        assert!(e.starts_with("--optimizer nope"), "{e}");
        let e = measure(&BenchArgs {
            clip_norm: Some(-1.0),
            ..args("adam", 10, 1)
        })
        .unwrap_err();
        assert!(e.starts_with("--clip-norm -1"), "{e}");
    }

    #[test]
    fn the_bare_pass_moves_every_element() {
        // 3 tensors, one of them longer than a work item: every element gets
        // `x += g` once per pass (steps + 1 passes, the first untimed).
        let mut values = vec![vec![1.0f64; 5], vec![2.0; PASS_CHUNK + 3], vec![0.0; 1]];
        let grads = vec![vec![0.5f64; 5], vec![1.0; PASS_CHUNK + 3], vec![2.0; 1]];
        let t = roofline_seconds::<f64, f64, 2>(&mut values, &grads, 3);
        assert!(t > 0.0 && t.is_finite());
        assert!(values[0].iter().all(|&x| x == 3.0));
        assert!(values[1].iter().all(|&x| x == 6.0));
        assert_eq!(values[2], [8.0]);
    }

    #[test]
    fn counts_the_state_slots() {
        // Steps on tiny tensors; the triad is what takes the time here.
        let r = measure(&args("sgd(momentum=0.9)", 10, 3)).unwrap();
        assert_eq!(r.state_slots, 1);
        assert_eq!(r.bytes_per_step, Some(10 * 4 * 5));
        let r = measure(&args("adam", 10, 1)).unwrap();
        assert_eq!(r.bytes_per_step, Some(10 * 4 * 7));
        assert_eq!(r.state_bytes_per_param, 8.0);
        // bfloat16 state: 2 bytes per state element, whatever the parameters' type.
        let half = measure(&args("adam(state_dtype=bf16)", 10, 1)).unwrap();
        assert_eq!(half.state_bytes_per_param, 4.0);
        assert_eq!(half.bytes_per_step, Some(10 * (3 * 4 + 2 * 2 * 2)));
        let clipped = measure(&BenchArgs {
            clip_norm: Some(0.1),
            ..args("adam", 10, 2)
        })
        .unwrap();
        assert_eq!(clipped.clip_norm, Some(0.1));
        assert!(clipped.to_text().contains("clip norm"));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        for key in [
            "optimizer",
            "size",
            "tensors",
            "dtype",
            "threads",
            "steps",
            "median_step_seconds",
            "state_bytes_per_param",
            "params_per_second",
            "bytes_per_step",
            "memory_bandwidth_gbps",
            "bandwidth_fraction",
            "nonfinite_policy",
            "roofline_step_seconds",
            "roofline_fraction",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    fn shaped(optimizer: &str, shape: &str, tensors: usize) -> BenchArgs {
        BenchArgs {
            size: None,
            shape: Some(shape.into()),
            ..super::tests::args(optimizer, 1, tensors)
        }
    }

    #[test]
    fn a_shape_sets_the_size_and_reaches_the_matrix_optimizers() {
        let r = measure(&shaped("muon", "6,4", 2)).unwrap();
        assert_eq!((r.size, r.tensors), (48, 2));
        assert_eq!(r.shape.as_deref(), Some(&[6, 4][..]));
        assert_eq!(r.kind, OptimizerKind::Tensor);
        // Muon keeps one momentum buffer per matrix, 4 bytes per parameter in f32.
        assert_eq!(r.state_bytes_per_param, 4.0);
        // No single-pass bound for a tensor optimizer: neither bytes nor a bare pass.
        assert_eq!((r.bytes_per_step, r.roofline_step_seconds), (None, None));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["shape"], serde_json::json!([6, 4]));
        assert_eq!(v["kind"], "tensor");
        assert!(v["roofline_step_seconds"].is_null());
        let text = r.to_text();
        assert!(text.contains("48 in 2 tensor(s) of shape 6×4"), "{text}");
        assert!(text.contains("n/a: a tensor optimizer"), "{text}");
        // Adafactor's factored second moment: one row and one column vector per
        // 6×4 matrix (plus its step), far less than a full moment.
        let f = measure(&shaped("adafactor", "6,4", 1)).unwrap();
        assert!(f.state_bytes_per_param < 4.0, "{}", f.state_bytes_per_param);
        assert!(f.state_bytes_per_param > 0.0);
        // An element-wise optimizer on shaped tensors is measured as before.
        let a = measure(&shaped("adam", "6,4", 1)).unwrap();
        assert_eq!(a.bytes_per_step, Some(24 * 4 * 7));
        assert!(a.roofline_step_seconds.is_some());
    }

    #[test]
    fn bad_shapes_are_named() {
        for bad in ["", "0,4", "a,b", "4,,2", "-1,3"] {
            let e = measure(&shaped("muon", bad, 1)).unwrap_err();
            assert!(e.starts_with(&format!("--shape {bad}:")), "{bad}: {e}");
        }
        let e = measure(&BenchArgs {
            size: Some(10),
            ..shaped("muon", "6,4", 1)
        })
        .unwrap_err();
        assert!(
            e.starts_with("--size 10: 1 tensors of shape 6,4 hold 24"),
            "{e}"
        );
        let e = measure(&BenchArgs {
            shape: None,
            ..shaped("adam", "1", 1)
        })
        .unwrap_err();
        assert!(e.contains("--size is required"), "{e}");
        // Muon refuses a vector, naming the tensor.
        let e = measure(&BenchArgs {
            shape: None,
            size: Some(24),
            ..shaped("muon", "1", 1)
        })
        .unwrap_err();
        assert!(e.starts_with("step failed"), "{e}");
        let e = measure(&shaped("lbfgs", "6,4", 1)).unwrap_err();
        assert!(e.contains("closure optimizer"), "{e}");
    }
}
