//! Drawing runs: `--plot`, `--plot-loss`, `--plot-fit` and `--animate` of `run` and
//! `compare` (and so every figure of `gradus report`).

use crate::cli_error::CliError;
use crate::history::RunResult;
use crate::runner::RunSpec;
use gradus_plot::{
    contour_animation, contour_trajectories, function_1d, line_chart, scatter_with_lines,
    Animation, Chart, FittedLine, Iterates, Series, Surface, YScale,
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
            || self.animate.is_some()
    }
}

impl PlotArgs {
    /// Checks every plot path and format, and that the problem can be drawn that way,
    /// before the run (`dim` parameters; `is_data` for problems fitted to data).
    pub fn check(&self, problem: &str, dim: usize, is_data: bool) -> Result<(), CliError> {
        let still = |flag: &str, path: &std::path::Path| -> Result<(), CliError> {
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
        };
        if let Some(p) = &self.plot {
            still("--plot", p)?;
        }
        if let Some(p) = &self.plot_loss {
            still("--plot-loss", p)?;
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
pub fn draw(args: &PlotArgs, specs: &[RunSpec], results: &[RunResult]) -> Result<(), CliError> {
    if !args.any() || specs.is_empty() {
        return Ok(());
    }
    let spec = &specs[0];
    let problem = gradus_problems::build::<f64>(&spec.problem, &spec.problem_options)?;
    let is_data = problem.as_data().is_some();
    let dim = problem.dim();
    if let Some(path) = &args.plot {
        if is_data || dim > 2 {
            loss_chart(path, spec, problem.as_ref(), results)?;
        } else if dim == 2 {
            contour(path, problem.as_ref(), results, None)?;
        } else {
            curve(path, problem.as_ref(), results)?;
        }
    }
    if let Some(path) = &args.plot_loss {
        loss_chart(path, spec, problem.as_ref(), results)?;
    }
    if let Some(path) = &args.animate {
        if is_data || dim != 2 {
            return Err(CliError::usage(format!(
                "--animate draws trajectories over a 2-D function; problem '{}' has {dim} parameters",
                spec.problem
            )));
        }
        contour(
            path,
            problem.as_ref(),
            results,
            Some(Animation {
                frames: 60,
                delay_ms: 80,
                final_pause_ms: 1500,
            }),
        )?;
    }
    if let Some(path) = &args.plot_fit {
        fit_chart(path, spec, results)?;
    }
    Ok(())
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
    // The description's first clause (before a ';') keeps titles short.
    let short = about.split(';').next().unwrap_or("").trim();
    if short.is_empty() || short.len() > 60 {
        name
    } else {
        format!("{name}: {short}")
    }
}

fn loss_chart(
    path: &PathBuf,
    spec: &RunSpec,
    problem: &dyn Objective<f64>,
    results: &[RunResult],
) -> Result<(), CliError> {
    let all: Vec<f64> = results
        .iter()
        .flat_map(|r| r.history.iter().map(|h| h.1))
        .filter(|v| v.is_finite())
        .collect();
    let log = !all.is_empty() && all.iter().all(|&v| v > 0.0);
    let series: Vec<Series> = results
        .iter()
        .map(|r| {
            Series::new(
                legend(r),
                r.history.iter().map(|h| (h.0 as f64, h.1)).collect(),
            )
        })
        .collect();
    let y = if problem.as_data().is_some() {
        "training loss"
    } else {
        "loss f(x)"
    };
    let _ = spec;
    let chart = Chart::new(title(problem), "step", y);
    line_chart(
        path,
        &chart,
        &series,
        if log { YScale::Log } else { YScale::Linear },
    )
    .map_err(plot_error)
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
fn view_box(paths: &[Vec<(f64, f64)>], minima: &[(f64, f64)]) -> ((f64, f64), (f64, f64)) {
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
    let reach = 2.0 * size;
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

fn contour(
    path: &PathBuf,
    problem: &dyn Objective<f64>,
    results: &[RunResult],
    animation: Option<Animation>,
) -> Result<(), CliError> {
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
    let (xr, yr) = view_box(&paths, &minima);
    let f = |x: f64, y: f64| problem.value(&[x, y]);
    let surface = Surface::new(&f, xr, yr).with_minima(&minima);
    let series: Vec<Series> = results
        .iter()
        .zip(paths)
        .map(|(r, p)| Series::new(legend(r), p))
        .collect();
    let chart = Chart::new(title(problem), "x", "y");
    match animation {
        Some(a) => contour_animation(path, &chart, &surface, &series, &a),
        None => contour_trajectories(path, &chart, &surface, &series),
    }
    .map_err(plot_error)
}

fn curve(
    path: &PathBuf,
    problem: &dyn Objective<f64>,
    results: &[RunResult],
) -> Result<(), CliError> {
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
    let paths: Vec<Vec<(f64, f64)>> = iterates
        .iter()
        .map(|it| it.xs.iter().map(|&x| (x, 0.0)).collect())
        .collect();
    let minima: Vec<(f64, f64)> = problem
        .minimum()
        .map(|(xs, _)| xs.iter().map(|m| (m[0], 0.0)).collect())
        .unwrap_or_default();
    let (mut xr, _) = view_box(&paths, &minima);
    if problem.name() == "xcos" {
        // The second tutorial's window: the local and the global minimum on [−1, 2].
        xr = (xr.0.min(-1.0), xr.1.max(2.0));
    }
    let f = |x: f64| problem.value(&[x]);
    let chart = Chart::new(title(problem), "x", "f(x)");
    function_1d(path, &chart, &f, xr, &iterates).map_err(plot_error)
}

fn fit_chart(path: &PathBuf, spec: &RunSpec, results: &[RunResult]) -> Result<(), CliError> {
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
