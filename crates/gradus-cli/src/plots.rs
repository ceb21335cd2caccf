//! Drawing runs: `--plot`, `--plot-loss`, `--plot-fit` and `--animate` of `run` and
//! `compare` (and so every figure of `gradus report`).

use crate::cli_error::CliError;
use crate::history::{RunResult, TEST_ACCURACY_CURVE};
use crate::runner::RunSpec;
use gradus_plot::{
    contour_animation, contour_small_multiples, contour_trajectories, function_1d, line_chart,
    scatter_with_lines, Animation, Chart, Drawing, FittedLine, Iterates, Series, Surface, YScale,
};
use gradus_problems::{LinearRegression, Objective};
use std::path::PathBuf;

/// Plot flags shared by `run` and `compare`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PlotArgs {
    /// Draw the runs (.png or .svg): trajectories over contours for 2-D functions, iterates
    /// on the curve for 1-D functions, loss curves for data problems.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Draw the loss curves (.png or .svg), log scale where the losses are positive.
    #[arg(long, value_name = "FILE")]
    pub plot_loss: Option<PathBuf>,
    /// Draw the test points and each run's fitted line (.png or .svg; one-feature
    /// regressions: boston, linreg with one feature).
    #[arg(long, value_name = "FILE")]
    pub plot_fit: Option<PathBuf>,
    /// Draw the loss against evaluations of the loss, gradient and Hessian (.png or
    /// .svg): what a step of L-BFGS (several evaluations) or Newton (a Hessian too) costs.
    /// Full-batch runs only.
    #[arg(long, value_name = "FILE")]
    pub plot_evals: Option<PathBuf>,
    /// Draw the test accuracy against step (.png or .svg; classification problems such
    /// as digits, recorded by `gradus compare` at every record of `--every`).
    #[arg(long, value_name = "FILE")]
    pub plot_accuracy: Option<PathBuf>,
    /// Animate the trajectories over the contours (.gif; 2-D functions).
    #[arg(long, value_name = "FILE.gif")]
    pub animate: Option<PathBuf>,
}

impl PlotArgs {
    /// Whether any plot was asked for.
    pub fn any(&self) -> bool {
        self.plot.is_some()
            || self.plot_loss.is_some()
            || self.plot_fit.is_some()
            || self.plot_evals.is_some()
            || self.plot_accuracy.is_some()
            || self.animate.is_some()
    }
}

/// Checks that `path` (given with `flag`) names a still image (.png or .svg) that can be
/// written.
pub fn check_still(flag: &str, path: &std::path::Path) -> Result<(), CliError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("png" | "svg")) {
        return Err(CliError::usage(format!(
            "{flag} {}: unsupported format; expected a .png or .svg file name",
            path.display()
        )));
    }
    crate::output_paths::check_file(flag, path)
}

impl PlotArgs {
    /// Checks every plot path and format, and that the problem can be drawn that way,
    /// before the run (`dim` parameters; `is_data` for problems fitted to data).
    pub fn check(&self, problem: &str, dim: usize, is_data: bool) -> Result<(), CliError> {
        let still = check_still;
        if let Some(p) = &self.plot {
            still("--plot", p)?;
        }
        if let Some(p) = &self.plot_loss {
            still("--plot-loss", p)?;
        }
        if let Some(p) = &self.plot_evals {
            still("--plot-evals", p)?;
        }
        if let Some(p) = &self.plot_accuracy {
            still("--plot-accuracy", p)?;
            if !is_data {
                return Err(CliError::usage(format!(
                    "--plot-accuracy draws the test accuracy of a classification problem (digits); problem '{problem}' has no test set"
                )));
            }
        }
        if let Some(p) = &self.plot_fit {
            still("--plot-fit", p)?;
            if !matches!(problem, "boston" | "linreg") {
                return Err(CliError::usage(format!(
                    "--plot-fit draws a one-feature regression (boston, or linreg with one --features column); problem '{problem}' is not one"
                )));
            }
            if dim != 2 {
                return Err(CliError::usage(format!(
                    "--plot-fit draws a one-feature regression; this one has {} features (pick one with --features)",
                    dim.saturating_sub(1)
                )));
            }
        }
        if let Some(p) = &self.animate {
            let gif = p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("gif"));
            if !gif {
                return Err(CliError::usage(format!(
                    "--animate {}: unsupported format; expected a .gif file name",
                    p.display()
                )));
            }
            if is_data || dim != 2 {
                return Err(CliError::usage(format!(
                    "--animate draws trajectories over a 2-D function; problem '{problem}' has {dim} parameters"
                )));
            }
            crate::output_paths::check_file("--animate", p)?;
        }
        Ok(())
    }
}

fn plot_error(e: gradus_plot::PlotError) -> CliError {
    CliError::usage(e.to_string())
}

/// Draws what `args` asks for. `specs[i]` made `results[i]`; all share one problem.
/// Returns each file written with what was drawn in it.
pub fn draw(
    args: &PlotArgs,
    specs: &[RunSpec],
    results: &[RunResult],
) -> Result<Vec<(PathBuf, Drawing)>, CliError> {
    let mut drawn = Vec::new();
    if !args.any() || specs.is_empty() {
        return Ok(drawn);
    }
    let spec = &specs[0];
    let problem = gradus_problems::build::<f64>(&spec.problem, &spec.problem_options)?;
    let is_data = problem.as_data().is_some();
    let dim = problem.dim();
    if let Some(path) = &args.plot {
        let d = if is_data || dim > 2 {
            loss_chart(path, spec, problem.as_ref(), results)?
        } else if dim == 2 {
            contour(path, problem.as_ref(), results, None)?
        } else {
            curve(path, problem.as_ref(), results)?
        };
        drawn.push((path.clone(), d));
    }
    if let Some(path) = &args.plot_loss {
        drawn.push((
            path.clone(),
            loss_chart(path, spec, problem.as_ref(), results)?,
        ));
    }
    if let Some(path) = &args.plot_evals {
        if specs.iter().any(|s| s.batch_size.is_some()) {
            return Err(CliError::usage(
                "--plot-evals counts full-batch evaluations: drop --batch-size",
            ));
        }
        drawn.push((
            path.clone(),
            loss_chart_by(path, problem.as_ref(), results, XOf::Evaluations)?,
        ));
    }
    if let Some(path) = &args.plot_accuracy {
        drawn.push((
            path.clone(),
            accuracy_chart(path, problem.as_ref(), results)?,
        ));
    }
    if let Some(path) = &args.animate {
        if is_data || dim != 2 {
            return Err(CliError::usage(format!(
                "--animate draws trajectories over a 2-D function; problem '{}' has {dim} parameters",
                spec.problem
            )));
        }
        // Histories kept every N steps: the step counter counts steps, not points.
        let steps_per_point = results
            .first()
            .and_then(|r| Some(r.history.get(1)?.0 - r.history.first()?.0))
            .unwrap_or(1)
            .max(1);
        let d = contour(
            path,
            problem.as_ref(),
            results,
            Some(Animation {
                frames: 60,
                delay_ms: 80,
                final_pause_ms: 1500,
                steps_per_point,
            }),
        )?;
        drawn.push((path.clone(), d));
    }
    if let Some(path) = &args.plot_fit {
        drawn.push((path.clone(), fit_chart(path, spec, results)?));
    }
    Ok(drawn)
}

fn legend(r: &RunResult) -> String {
    let mut name = r.label.clone();
    if let Some(acc) = r.summary.get("test_accuracy").and_then(|v| v.as_f64()) {
        name.push_str(&format!(" (test acc {:.1}%)", 100.0 * acc));
    }
    if r.stopped.is_some() {
        name.push_str(" (diverged)");
    }
    name
}

fn title(problem: &dyn Objective<f64>) -> String {
    let name = problem.name();
    let about = gradus_problems::PROBLEMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
        .unwrap_or("");
    // The description's formula: before the ';' and before the start point, dimension
    // or preprocessing notes, which a figure's own runs may contradict.
    let mut short = about.split(';').next().unwrap_or("");
    for cut in [", start", ", 1-D", ", 2-D", ", n-D", ", standardized"] {
        if let Some(i) = short.find(cut) {
            short = &short[..i];
        }
    }
    let short = short.trim();
    if short.is_empty() || short.chars().count() > 60 {
        name
    } else if short.to_lowercase().contains(&name.to_lowercase()) {
        short.to_string()
    } else {
        format!("{name}: {short}")
    }
}

fn loss_chart(
    path: &PathBuf,
    spec: &RunSpec,
    problem: &dyn Objective<f64>,
    results: &[RunResult],
) -> Result<Drawing, CliError> {
    let _ = spec;
    loss_chart_by(path, problem, results, XOf::Steps)
}

/// What a loss chart's x axis counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum XOf {
    Steps,
    /// Evaluations of the loss, gradient and Hessian ([`RunResult::evaluations`]).
    Evaluations,
}

fn loss_chart_by(
    path: &PathBuf,
    problem: &dyn Objective<f64>,
    results: &[RunResult],
    x_of: XOf,
) -> Result<Drawing, CliError> {
    let all: Vec<f64> = results
        .iter()
        .flat_map(|r| r.history.iter().map(|h| h.1))
        .filter(|v| v.is_finite())
        .collect();
    // A loss that reaches exactly 0 (Newton on a quadratic) still reads on a log axis:
    // it drops to the axis' floor.
    let log = all.iter().all(|&v| v >= 0.0) && all.iter().any(|&v| v > 0.0);
    let series: Vec<Series> = results
        .iter()
        .map(|r| {
            let points = match x_of {
                XOf::Steps => r.history.iter().map(|h| (h.0 as f64, h.1)).collect(),
                XOf::Evaluations => r
                    .history
                    .iter()
                    .zip(&r.evaluations)
                    .map(|(h, &e)| (e as f64, h.1))
                    .collect(),
            };
            Series::new(legend(r), points).with_diverged(r.stopped.is_some())
        })
        .collect();
    let y = if problem.as_data().is_some() {
        "training loss"
    } else {
        "loss f(x)"
    };
    let y = if log {
        format!("{y} (log scale)")
    } else {
        y.to_string()
    };
    let x = match x_of {
        XOf::Steps => "step",
        XOf::Evaluations => "evaluations of loss and gradient (a Hessian counts one)",
    };
    let chart = Chart::new(title(problem), x, y);
    line_chart(
        path,
        &chart,
        &series,
        if log { YScale::Log } else { YScale::Linear },
    )
    .map_err(plot_error)
}

/// Test accuracy against step, from each run's [`TEST_ACCURACY_CURVE`].
fn accuracy_chart(
    path: &PathBuf,
    problem: &dyn Objective<f64>,
    results: &[RunResult],
) -> Result<Drawing, CliError> {
    let series: Vec<Series> = results
        .iter()
        .map(|r| {
            let points: Vec<(f64, f64)> = accuracy_curve(r)
                .into_iter()
                .map(|(step, acc)| (step as f64, 100.0 * acc))
                .collect();
            Series::new(legend(r), points).with_diverged(r.stopped.is_some())
        })
        .collect();
    if series.iter().all(|s| s.points.is_empty()) {
        return Err(CliError::usage(format!(
            "--plot-accuracy: these runs recorded no test accuracy ('{}' is not a classification problem)",
            problem.name()
        )));
    }
    let chart = Chart::new(
        format!("{}: test accuracy", title(problem)),
        "step",
        "test accuracy (%)",
    );
    line_chart(path, &chart, &series, YScale::Linear).map_err(plot_error)
}

/// A run's test accuracy at each record, `(step, accuracy in [0, 1])` (empty if it
/// recorded none).
pub fn accuracy_curve(r: &RunResult) -> Vec<(u64, f64)> {
    r.summary
        .get(TEST_ACCURACY_CURVE)
        .and_then(|v| v.as_array())
        .map(|points| {
            points
                .iter()
                .filter_map(|p| Some((p.get(0)?.as_u64()?, p.get(1)?.as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Points of each run's trajectory (2-D problems).
fn trajectories(results: &[RunResult]) -> Vec<Vec<(f64, f64)>> {
    results
        .iter()
        .map(|r| {
            r.history
                .iter()
                .filter_map(|h| h.3.as_ref())
                .filter(|p| p.len() >= 2)
                .map(|p| (p[0], p[1]))
                .collect()
        })
        .collect()
}

/// A box around the starts and minima, grown to take in the trajectories as long as
/// they stay within a few box sizes (a diverging run does not shrink everything else).
/// `reach` is how many box sizes a trajectory may stray and still widen the box.
fn view_box(
    paths: &[Vec<(f64, f64)>],
    minima: &[(f64, f64)],
    reach: f64,
) -> ((f64, f64), (f64, f64)) {
    let mut pts: Vec<(f64, f64)> = paths.iter().filter_map(|p| p.first().copied()).collect();
    pts.extend(minima.iter().copied());
    let bbox = |pts: &[(f64, f64)]| {
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for &(x, y) in pts {
            if x.is_finite() && y.is_finite() {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
        (x0, x1, y0, y1)
    };
    let (x0, x1, y0, y1) = bbox(&pts);
    let size = (x1 - x0).max(y1 - y0).max(1.0);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let reach = reach * size;
    let inside: Vec<(f64, f64)> = paths
        .iter()
        .flatten()
        .copied()
        .filter(|&(x, y)| (x - cx).abs() <= reach && (y - cy).abs() <= reach)
        .chain(pts.iter().copied())
        .collect();
    let (x0, x1, y0, y1) = bbox(&inside);
    let pad = 0.12 * (x1 - x0).max(y1 - y0).max(0.5);
    ((x0 - pad, x1 + pad), (y0 - pad, y1 + pad))
}

/// A contour plot of more trajectories than this is drawn as small multiples.
const SMALL_MULTIPLES_ABOVE: usize = 8;

fn contour(
    path: &PathBuf,
    problem: &dyn Objective<f64>,
    results: &[RunResult],
    animation: Option<Animation>,
) -> Result<Drawing, CliError> {
    let minima: Vec<(f64, f64)> = problem
        .minimum()
        .map(|(xs, _)| {
            xs.iter()
                .filter(|m| m.len() >= 2)
                .map(|m| (m[0], m[1]))
                .collect()
        })
        .unwrap_or_default();
    let paths = trajectories(results);
    let (mut xr, mut yr) = view_box(&paths, &minima, 2.0);
    if problem.name() == "saddle" {
        // x² − y² is symmetric about its saddle point: a square view centred on (0, 0)
        // shows it as a saddle.
        let half = xr.0.abs().max(xr.1.abs()).max(yr.0.abs()).max(yr.1.abs());
        xr = (-half, half);
        yr = (-half, half);
    }
    let f = |x: f64, y: f64| problem.value(&[x, y]);
    let surface = Surface::new(&f, xr, yr).with_minima(&minima);
    let series: Vec<Series> = results
        .iter()
        .zip(paths)
        .map(|(r, p)| Series::new(legend(r), p).with_diverged(r.stopped.is_some()))
        .collect();
    let chart = Chart::new(title(problem), "x", "y");
    match animation {
        Some(a) => contour_animation(path, &chart, &surface, &series, &a),
        // More paths than one map can keep apart: one panel each, the rest faint.
        None if series.len() > SMALL_MULTIPLES_ABOVE => {
            contour_small_multiples(path, &chart.with_size(1200, 900), &surface, &series, 4)
        }
        None => contour_trajectories(path, &chart, &surface, &series),
    }
    .map_err(plot_error)
}

fn curve(
    path: &PathBuf,
    problem: &dyn Objective<f64>,
    results: &[RunResult],
) -> Result<Drawing, CliError> {
    let iterates: Vec<Iterates> = results
        .iter()
        .map(|r| {
            Iterates::new(
                legend(r),
                r.history
                    .iter()
                    .filter_map(|h| h.3.as_ref())
                    .map(|p| p[0])
                    .collect(),
            )
        })
        .collect();
    let minima: Vec<(f64, f64)> = problem
        .minimum()
        .map(|(xs, _)| xs.iter().map(|m| (m[0], 0.0)).collect())
        .unwrap_or_default();
    // The frame takes in every run that ends no farther from the nearest minimum than it
    // started (all of them when no minimum is known); a run that moves away, like
    // gradient descent with too large a step, leaves it with an edge marker.
    let distance = |x: f64| {
        minima
            .iter()
            .map(|m| (x - m.0).abs())
            .fold(f64::INFINITY, f64::min)
    };
    let paths: Vec<Vec<(f64, f64)>> = iterates
        .iter()
        .filter(|it| match (it.xs.first(), it.xs.last()) {
            (Some(&a), Some(&b)) => minima.is_empty() || distance(b) <= distance(a),
            _ => false,
        })
        .map(|it| it.xs.iter().map(|&x| (x, 0.0)).collect())
        .collect();
    let starts: Vec<(f64, f64)> = iterates
        .iter()
        .filter_map(|it| it.xs.first().map(|&x| (x, 0.0)))
        .collect();
    let (mut xr, _) = view_box(&[paths, vec![starts]].concat(), &minima, f64::INFINITY);
    if problem.name() == "xcos" {
        // The second tutorial's window: the local and the global minimum on [−1, 2].
        xr = (xr.0.min(-1.0), xr.1.max(2.0));
    }
    let f = |x: f64| problem.value(&[x]);
    let chart = Chart::new(title(problem), "x", "f(x)");
    function_1d(path, &chart, &f, xr, &iterates).map_err(plot_error)
}

fn fit_chart(path: &PathBuf, spec: &RunSpec, results: &[RunResult]) -> Result<Drawing, CliError> {
    let o = &spec.problem_options;
    let model = match spec.problem.as_str() {
        "boston" => LinearRegression::<f64>::boston(o.test_fraction, o.seed)?,
        "linreg" => {
            let data = o.data.as_ref().ok_or_else(|| CliError::usage("--problem linreg needs --data FILE"))?;
            let target = o.target.as_deref().ok_or_else(|| CliError::usage("--problem linreg needs --target COLUMN"))?;
            LinearRegression::<f64>::from_csv(data, target, o.features.as_deref(), o.test_fraction, o.seed)?
        }
        other => {
            return Err(CliError::usage(format!(
                "--plot-fit draws a one-feature regression (boston, or linreg with one --features column); problem '{other}' is not one"
            )))
        }
    };
    let data = model.data();
    if data.cols != 1 {
        return Err(CliError::usage(format!(
            "--plot-fit draws a one-feature regression; this one has {} features (pick one with --features)",
            data.cols
        )));
    }
    let points: Vec<(f64, f64)> = model
        .split()
        .test
        .iter()
        .map(|&i| (data.row(i)[0], data.y[i]))
        .collect();
    let mut lines: Vec<FittedLine> = results
        .iter()
        .filter_map(|r| {
            let p = r.history.last()?.3.as_ref()?;
            Some(FittedLine::new(legend(r), p[0], p[1]))
        })
        .collect();
    let ols = model.ols_coefficients();
    lines.push(FittedLine::new("least squares", ols[0], ols[1]));
    let feature = data.names.first().cloned().unwrap_or_else(|| "x".into());
    let chart = Chart::new(
        format!(
            "{}: {} vs {} (standardized), test points",
            spec.problem, data.target, feature
        ),
        format!("{feature} (standardized)"),
        format!("{} (standardized)", data.target),
    );
    scatter_with_lines(path, &chart, &points, "test data", &lines).map_err(plot_error)
}
