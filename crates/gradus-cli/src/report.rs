//! `gradus report`: every experiment of the tutorials, as an HTML page with plots,
//! animations, tables and the command that reproduces each figure.

use crate::cli_error::CliError;
use crate::compare::CompareArgs;
use crate::history::RunResult;
use rayon::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `gradus report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Directory to write `index.html` and its images into (created if missing).
    #[arg(long, default_value = "gradus-report")]
    pub out: PathBuf,
    /// Fewer steps per experiment, for a quick look (a few seconds).
    #[arg(long)]
    pub quick: bool,
}

/// One figure of the report: a `gradus compare` (or `gradus schedules`) command and
/// what it shows.
struct Figure {
    /// File stem of its images.
    id: &'static str,
    /// Section (tutorial topic) it belongs to.
    section: &'static str,
    /// Heading.
    title: &'static str,
    /// What to look at, in a few sentences (HTML).
    text: &'static str,
    /// `compare` arguments without plot flags (or `schedules` arguments).
    args: Vec<String>,
    /// Plot flags and the file each writes: (`--plot`, `beale.png`).
    plots: Vec<(&'static str, String)>,
    /// The subcommand: `compare` or `schedules`.
    command: &'static str,
    /// `--tol` for the steps-to-tolerance column.
    tol: Option<f64>,
}

fn args(s: &[&str]) -> Vec<String> {
    s.iter().map(|a| a.to_string()).collect()
}

/// Repeats `flag` for each value.
fn each(flag: &str, values: &[&str]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| [flag.to_string(), v.to_string()])
        .collect()
}

const SECTIONS: &[(&str, &str)] = &[
    (
        "boston",
        "Linear regression on Boston housing (first tutorial)",
    ),
    (
        "race",
        "The classic race over Beale's function and off a saddle point",
    ),
    ("challenges", "Optimization challenges (second tutorial)"),
    (
        "noise",
        "Noisy gradients, minibatches and learning-rate schedules (second tutorial)",
    ),
    ("why", "Why each optimizer exists (third tutorial)"),
    ("zoo", "The optimizer zoo (fourth tutorial)"),
    ("digits", "A neural network on handwritten digits"),
    ("functions", "The standard 2-D test functions"),
];

fn figures(quick: bool) -> Vec<Figure> {
    let q = |full: u64, short: u64| if quick { short } else { full }.to_string();
    // Settings tuned so every run is visible on the picture: with lr 0.01 momentum
    // overshoots Beale's steep walls and diverges.
    let beale = [
        "sgd(lr=0.01)",
        "sgd(lr=0.002, momentum=0.9)",
        "sgd(lr=0.002, momentum=0.9, nesterov=true)",
        "adagrad(lr=0.5)",
        "adadelta(lr=5.0)",
        "rmsprop(lr=0.01)",
        "adam(lr=0.05)",
    ];
    let saddle = [
        "sgd(lr=0.01)",
        "sgd(lr=0.01, momentum=0.9)",
        "sgd(lr=0.01, momentum=0.9, nesterov=true)",
        "adagrad(lr=0.5)",
        "adadelta(lr=1.0)",
        "rmsprop(lr=0.01)",
        "adam(lr=0.05)",
    ];
    let zoo = [
        "sgd(lr=0.001, momentum=0.9)",
        "sgd(lr=0.001, momentum=0.9, nesterov=true)",
        "adagrad(lr=0.5)",
        "rmsprop(lr=0.005)",
        "adadelta(lr=1.0)",
        "adam(lr=0.05)",
        "adamw(lr=0.05)",
        "nadam(lr=0.05)",
        "radam(lr=0.003)",
        "adamax(lr=0.1)",
        "lion(lr=0.005)",
    ];
    let digits = [
        "sgd(lr=0.05, momentum=0.9)",
        "adagrad(lr=0.05)",
        "rmsprop(lr=0.001)",
        "adam(lr=0.001)",
        "adamw(lr=0.001)",
        "nadam(lr=0.002)",
        "radam(lr=0.001)",
    ];
    let mut v = vec![
        Figure {
            id: "boston",
            section: "boston",
            title: "Loss of each optimizer, with the tutorial's settings",
            text: "Input LSTAT, target MEDV, both standardized over all 506 rows; an 80/20 split; \
                   y = w·x + b from w = b = 0; loss MSE. Each step draws a minibatch with \
                   replacement, as the tutorial's epochs do. Momentum and Nesterov with lr 1e-4 \
                   are still creeping towards the optimum after 1000 steps; AdaGrad, RMSprop and \
                   Adam reach it. The table's <em>steps to tol</em> counts steps until the \
                   training loss is within 1e-3 of the least-squares optimum.",
            args: [
                args(&["--problem", "boston", "--seed", "0", "--every", "10"]),
                each(
                    "--optimizer",
                    &[
                        "sgd(lr=1e-4, momentum=0.9)",
                        "sgd(lr=1e-4, momentum=0.9, nesterov=true)",
                        "adagrad(lr=0.1, eps=1e-10)",
                        "rmsprop(lr=0.01, alpha=0.9, eps=1e-10)",
                        "adam(lr=1e-3, betas=(0.9, 0.95), eps=1e-8)",
                    ],
                ),
                each("--batch-size", &["128", "128", "128", "128", "32"]),
                each(
                    "--steps",
                    &[
                        &q(1000, 200),
                        &q(1000, 200),
                        &q(1000, 200),
                        &q(2000, 400),
                        &q(2000, 400),
                    ],
                ),
            ]
            .concat(),
            plots: vec![
                ("--plot", "boston.png".into()),
                ("--plot-fit", "boston_fit.png".into()),
            ],
            command: "compare",
            tol: Some(1e-3),
        },
        Figure {
            id: "beale",
            section: "race",
            title: "Racing over Beale's function",
            text: "The first tutorial's closing comparison: SGD, momentum, Nesterov, AdaGrad, \
                   Adadelta, RMSprop and Adam from (1, 1.5) towards the minimum at (3, 0.5). \
                   Momentum (with a smaller lr: at 0.01 it overshoots the steep walls and \
                   diverges) swings through the valley and gets there first; the adaptive methods \
                   rescale each coordinate and turn into the valley; Adadelta needs a large lr \
                   (5) to move at all from this start.",
            args: [
                args(&[
                    "--problem",
                    "beale",
                    "--start",
                    "1,1.5",
                    "--steps",
                    &q(400, 100),
                    "--every",
                    "2",
                ]),
                each("--optimizer", &beale),
            ]
            .concat(),
            plots: vec![
                ("--plot", "beale.png".into()),
                ("--animate", "beale.gif".into()),
            ],
            command: "compare",
            tol: Some(1e-3),
        },
        Figure {
            id: "saddle",
            section: "race",
            title: "Off a saddle point",
            text:
                "f(x, y) = x² − y² from (1, 0.001): the gradient in y is tiny near the saddle, so \
                   plain SGD lingers there while momentum and the adaptive methods, which \
                   rescale the small y-gradient, escape quickly. (There is no minimum: every run \
                   leaves the picture eventually.)",
            args: [
                args(&[
                    "--problem",
                    "saddle",
                    "--start",
                    "1,0.001",
                    "--steps",
                    &q(60, 40),
                ]),
                each("--optimizer", &saddle),
            ]
            .concat(),
            plots: vec![
                ("--plot", "saddle.png".into()),
                ("--animate", "saddle.gif".into()),
            ],
            command: "compare",
            tol: None,
        },
        Figure {
            id: "xcos",
            section: "challenges",
            title: "Local and global minima of x·cos(πx)",
            text:
                "Gradient descent (lr 0.05) goes to the nearest minimum: from −0.5 it settles in \
                 the local minimum at x ≈ −0.274 (f ≈ −0.179), from 1.5 in the global minimum \
                 on [−1, 2] at x ≈ 1.090 (f ≈ −1.047).",
            args: args(&[
                "--problem",
                "xcos",
                "--optimizer",
                "sgd(lr=0.05)",
                "--start=-0.5",
                "--start",
                "1.5",
                "--steps",
                "40",
            ]),
            plots: vec![("--plot", "xcos.png".into())],
            command: "compare",
            tol: None,
        },
        Figure {
            id: "tanh",
            section: "challenges",
            title: "A vanishing gradient: tanh from x = 4",
            text: "f′(4) = 1 − tanh²(4) ≈ 0.0013, so gradient descent hardly moves in 100 steps; \
                   Adam divides by the gradient's own scale and walks down the slope at about lr \
                   per step.",
            args: [
                args(&["--problem", "tanh", "--start", "4", "--steps", "100"]),
                each("--optimizer", &["sgd(lr=0.5)", "adam(lr=0.1)"]),
            ]
            .concat(),
            plots: vec![("--plot", "tanh.png".into())],
            command: "compare",
            tol: None,
        },
        Figure {
            id: "newton",
            section: "challenges",
            title: "Newton's method against gradient descent on cosh(0.5·x)",
            text: "From x = 10, ten iterations. Newton's step x − f′/f″ = x − tanh(0.5·x)/0.5 \
                   takes nearly constant steps of 2 while far away and then converges \
                   quadratically. Gradient descent (lr 0.2) first jumps, since the gradient \
                   0.5·sinh(5) ≈ 37 is large far out, and then creeps: near 0 the curvature is \
                   only 0.25, so each step shrinks x by just 1 − 0.2·0.25 = 0.95. (With lr 1 \
                   it overshoots to −27 and diverges.)",
            args: [
                args(&["--problem", "cosh", "--start", "10", "--steps", "10"]),
                each("--optimizer", &["newton(lr=1.0)", "sgd(lr=0.2)"]),
            ]
            .concat(),
            plots: vec![("--plot", "newton.png".into())],
            command: "compare",
            tol: Some(1e-6),
        },
        Figure {
            id: "schedules",
            section: "noise",
            title: "The learning-rate schedules",
            text:
                "The tutorials' schedules (piecewise constant, η·e^(−0.1·t), η·(1 + 0.1·t)^(−0.5)) \
                   and torch's step, cosine and one-cycle schedules, for lr 0.1 over 100 updates.",
            args: [
                args(&["--lr", "0.1", "--steps", "100"]),
                each(
                    "--schedule",
                    &[
                        "piecewise_constant(boundaries=[30, 60], values=[0.1, 0.05, 0.01])",
                        "exp_decay(lam=0.1)",
                        "inverse_poly(beta=0.1, alpha=0.5)",
                        "step(step_size=30, gamma=0.5)",
                        "cosine_annealing(t_max=100)",
                        "one_cycle(max_lr=0.1, total_steps=100)",
                    ],
                ),
            ]
            .concat(),
            plots: vec![("--plot", "schedules.png".into())],
            command: "schedules",
            tol: None,
        },
        Figure {
            id: "noisy",
            section: "noise",
            title: "SGD with noisy gradients under each schedule",
            text: "The bowl x1² + 2·x2² from (−5, −5), gradient plus N(0, 1) noise, lr 0.1, 100 \
                   steps. With a constant lr the iterates keep jittering around the minimum at a \
                   distance set by lr × noise; decaying schedules shrink the jitter, and decaying \
                   too fast (e^(−0.1·t)) stops short of the minimum.",
            args: [
                args(&[
                    "--problem",
                    "bowl",
                    "--start=-5,-5",
                    "--noise",
                    "1",
                    "--seed",
                    "1",
                    "--steps",
                    "100",
                ]),
                args(&["--optimizer", "sgd(lr=0.1)"]),
                each(
                    "--schedule",
                    &[
                        "none",
                        "piecewise_constant(boundaries=[30, 60], values=[0.1, 0.05, 0.01])",
                        "exp_decay(lam=0.1)",
                        "inverse_poly(beta=0.1, alpha=0.5)",
                    ],
                ),
            ]
            .concat(),
            plots: vec![
                ("--plot", "noisy.png".into()),
                ("--plot-loss", "noisy_loss.png".into()),
            ],
            command: "compare",
            tol: None,
        },
        Figure {
            id: "minibatch",
            section: "noise",
            title: "Minibatch size and gradient variance",
            text:
                "SGD (lr 0.01) on the Boston regression with batches of 1, 8, 32 and 128 rows and \
                   the full batch. Smaller batches give noisier gradients: the loss wanders more \
                   and settles higher.",
            args: [
                args(&[
                    "--problem",
                    "boston",
                    "--optimizer",
                    "sgd(lr=0.01)",
                    "--steps",
                    &q(500, 200),
                    "--every",
                    "5",
                ]),
                each("--batch-size", &["1", "8", "32", "128", "404"]),
            ]
            .concat(),
            plots: vec![("--plot", "minibatch.png".into())],
            command: "compare",
            tol: None,
        },
        Figure {
            id: "ladder",
            section: "noise",
            title: "The optimizer ladder on the bowl",
            text: "Momentum as a leaky average (β·v + (1 − β)·g, i.e. dampening = momentum), \
                   AdaGrad, RMSprop (γ 0.9) and Adam (β1 0.9, β2 0.999) on x1² + 2·x2² from \
                   (−5, −5), next to plain gradient descent.",
            args: [
                args(&["--problem", "bowl", "--start=-5,-5", "--steps", "50"]),
                each(
                    "--optimizer",
                    &[
                        "sgd(lr=0.1)",
                        "sgd(lr=0.1, momentum=0.5, dampening=0.5)",
                        "adagrad(lr=1.5)",
                        "rmsprop(lr=0.3, alpha=0.9)",
                        "adam(lr=0.5)",
                    ],
                ),
            ]
            .concat(),
            plots: vec![("--plot", "ladder.png".into())],
            command: "compare",
            tol: Some(1e-4),
        },
        Figure {
            id: "parabola",
            section: "why",
            title: "Gradient descent on p², and the learning rate that breaks it",
            text: "From p = 10: lr 0.1 gives 8, 6.4, 5.12, 4.10, …; lr 1.05 overshoots further \
                   each step (−11, 12.1, −13.31, …) and diverges; Adam with the same lr 1.05 \
                   takes steps of about lr and settles; momentum 0.5 (velocity = 0.5·velocity + \
                   g) speeds up the lr-0.1 descent.",
            args: [
                args(&["--problem", "parabola", "--start", "10", "--steps", "10"]),
                each(
                    "--optimizer",
                    &[
                        "sgd(lr=0.1)",
                        "sgd(lr=1.05)",
                        "adam(lr=1.05)",
                        "sgd(lr=0.1, momentum=0.5)",
                    ],
                ),
            ]
            .concat(),
            plots: vec![("--plot", "parabola.png".into())],
            command: "compare",
            tol: None,
        },
        Figure {
            id: "illconditioned",
            section: "why",
            title: "An ill-conditioned bowl: one learning rate does not fit both coordinates",
            text: "f(p) = 50·p0² + p1² from (1.5, 10). Gradient descent is stable only for \
                   lr < 0.02 (set by p0's curvature 100), where p1 (curvature 2) crawls; at lr \
                   0.019 p0 oscillates. AdaGrad (lr 1.5) scales each coordinate by its own \
                   gradient history and heads for the minimum.",
            args: [
                args(&[
                    "--problem",
                    "quadratic",
                    "--start",
                    "1.5,10",
                    "--steps",
                    "100",
                ]),
                each(
                    "--optimizer",
                    &["sgd(lr=0.019)", "sgd(lr=0.005)", "adagrad(lr=1.5)"],
                ),
            ]
            .concat(),
            plots: vec![("--plot", "illconditioned.png".into())],
            command: "compare",
            tol: Some(1e-2),
        },
        Figure {
            id: "zoo",
            section: "zoo",
            title: "Every optimizer on the Rosenbrock function",
            text: "From (−1.5, 2) towards (1, 1) along the curved valley. Momentum methods follow \
                   the valley floor; AdaGrad slows as its accumulator grows; Adam, AdamW, NAdam \
                   and Adamax reach the minimum region; RAdam takes plain momentum steps for its \
                   first five updates (its variance estimate is not yet trustworthy), so it needs \
                   a smaller lr here: with lr 0.05 those first steps throw it off the map. Lion \
                   moves by ±lr per coordinate and so ends near, not at, the minimum.",
            args: [
                args(&[
                    "--problem",
                    "rosenbrock",
                    "--start=-1.5,2",
                    "--steps",
                    &q(3000, 500),
                    "--every",
                    "10",
                ]),
                each("--optimizer", &zoo),
            ]
            .concat(),
            plots: vec![
                ("--plot", "zoo.png".into()),
                ("--plot-loss", "zoo_loss.png".into()),
            ],
            command: "compare",
            tol: Some(1e-4),
        },
        Figure {
            id: "digits",
            section: "digits",
            title: "A multilayer perceptron on the digits data",
            text: "64 → 64 → 10 with ReLU and softmax cross-entropy, written from scratch, on the \
                   1797 8×8 digits (80/20 split), minibatches of 64. The legend gives each \
                   optimizer's test accuracy.",
            args: [
                args(&[
                    "--problem",
                    "digits",
                    "--batch-size",
                    "64",
                    "--steps",
                    &q(3000, 300),
                    "--every",
                    "50",
                ]),
                each("--optimizer", &digits),
            ]
            .concat(),
            plots: vec![("--plot", "digits.png".into())],
            command: "compare",
            tol: None,
        },
    ];
    for (id, problem, start, steps, title, text) in [
        (
            "himmelblau",
            "himmelblau",
            "0,0",
            200,
            "Himmelblau's function: four minima",
            "From (0, 0), each optimizer picks one of the four minima (all with f = 0).",
        ),
        (
            "booth",
            "booth",
            "-5,5",
            200,
            "Booth's function",
            "A quadratic bowl with minimum (1, 3), mildly ill-conditioned.",
        ),
        (
            "rastrigin",
            "rastrigin",
            "2.5,2.5",
            200,
            "Rastrigin's function: many local minima",
            "Gradient methods stop in the local minimum nearest their path; only the lucky \
             ones reach the global minimum at the origin.",
        ),
    ] {
        v.push(Figure {
            id,
            section: "functions",
            title,
            text,
            args: [
                args(&[
                    "--problem",
                    problem,
                    &format!("--start={start}"),
                    "--steps",
                    &steps.to_string(),
                ]),
                each(
                    "--optimizer",
                    &[
                        "sgd(lr=0.01)",
                        "sgd(lr=0.01, momentum=0.9)",
                        "rmsprop(lr=0.05)",
                        "adam(lr=0.1)",
                    ],
                ),
            ]
            .concat(),
            plots: vec![("--plot", format!("{id}.png"))],
            command: "compare",
            tol: Some(1e-4),
        });
    }
    v
}

/// Quotes an argument for a POSIX shell when it needs it.
fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,=/:+".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What one figure produced.
struct Made {
    command: String,
    table: String,
    images: Vec<String>,
    seconds: f64,
}

fn run_figure(fig: &Figure, out: &Path) -> Result<Made, CliError> {
    let started = Instant::now();
    let mut shown = vec!["gradus".to_string(), fig.command.to_string()];
    shown.extend(fig.args.iter().cloned());
    let mut real = shown.clone();
    if let Some(t) = fig.tol {
        shown.push("--tol".into());
        shown.push(t.to_string());
        real.push("--tol".into());
        real.push(t.to_string());
    }
    for (flag, file) in &fig.plots {
        shown.push(flag.to_string());
        shown.push(file.clone());
        real.push(flag.to_string());
        real.push(out.join(file).to_string_lossy().into_owned());
    }
    let command = shown
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let table = match fig.command {
        "schedules" => {
            let parsed = crate::ReportCli::parse_schedules(&real)?;
            let all = crate::schedules::lrs(&parsed)?;
            if let Some(path) = &parsed.plot {
                let series: Vec<(&str, &[f64])> = all
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_slice()))
                    .collect();
                gradus_plot::schedule_chart(
                    path,
                    "Learning-rate schedules",
                    &series,
                    gradus_plot::Size::default(),
                )
                .map_err(|e| CliError::usage(e.to_string()))?;
            }
            schedule_table(&all)
        }
        _ => {
            let parsed: CompareArgs = crate::ReportCli::parse_compare(&real)?;
            let (specs, results) = crate::compare::execute(&parsed)?;
            crate::plots::draw(&parsed.plots, &specs, &results)?;
            results_table(&results, fig.tol)
        }
    };
    Ok(Made {
        command,
        table,
        images: fig.plots.iter().map(|(_, f)| f.clone()).collect(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn schedule_table(all: &[(String, Vec<f64>)]) -> String {
    let mut t = String::from("<table><tr><th>schedule</th><th>lr at 0</th><th>at 25</th><th>at 50</th><th>at 99</th></tr>");
    for (name, v) in all {
        let at = |k: usize| v.get(k).map_or("-".to_string(), |x| format!("{x:.5}"));
        let _ = write!(
            t,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(name),
            at(0),
            at(25),
            at(50),
            at(99)
        );
    }
    t.push_str("</table>");
    t
}

fn results_table(results: &[RunResult], tol: Option<f64>) -> String {
    let rows = crate::compare::table(results, tol, true);
    let mut t = String::from("<table>");
    for (i, row) in rows.iter().enumerate() {
        t.push_str("<tr>");
        for (j, cell) in row.iter().enumerate() {
            let cell = html_escape(cell);
            let _ = match (i, j) {
                (0, _) => write!(t, "<th>{cell}</th>"),
                (_, 0) => write!(t, "<td><code>{cell}</code></td>"),
                _ => write!(t, "<td>{cell}</td>"),
            };
        }
        t.push_str("</tr>");
    }
    t.push_str("</table>");
    t
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}\
pre{background:#f5f5f5;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
td:first-child,th:first-child{text-align:left}.err{color:#b00}nav li{margin:.1em 0}";

/// Entry point of `gradus report`.
pub fn main(args: ReportArgs) -> Result<(), CliError> {
    let out = &args.out;
    std::fs::create_dir_all(out)
        .map_err(|e| CliError::io(format!("creating {}", out.display()), e))?;
    let figs = figures(args.quick);
    let started = Instant::now();
    let bar = indicatif::ProgressBar::new(figs.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let made: Vec<Result<Made, CliError>> = figs
        .par_iter()
        .map(|f| {
            let r = run_figure(f, out);
            bar.inc(1);
            bar.set_message(f.id);
            r
        })
        .collect();
    bar.finish_and_clear();

    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>gradus report</title><style>{STYLE}</style></head><body>\
         <h1>gradus report</h1><p>Every experiment of the tutorials gradus grew from, run with gradus {} ({}). \
         Each figure shows the exact command that reproduces it.</p><nav><ul>",
        env!("CARGO_PKG_VERSION"),
        if args.quick { "quick mode: fewer steps" } else { "full" }
    );
    for (id, title) in SECTIONS {
        let _ = write!(
            html,
            "<li><a href=\"#{id}\">{}</a></li>",
            html_escape(title)
        );
    }
    html.push_str("</ul></nav>");
    let mut failures = Vec::new();
    for (sid, stitle) in SECTIONS {
        let _ = write!(html, "<h2 id=\"{sid}\">{}</h2>", html_escape(stitle));
        for (f, m) in figs.iter().zip(&made).filter(|(f, _)| f.section == *sid) {
            let _ = write!(
                html,
                "<figure id=\"{}\"><h3>{}</h3><p>{}</p>",
                f.id,
                html_escape(f.title),
                f.text
            );
            match m {
                Ok(m) => {
                    for img in &m.images {
                        if out.join(img).is_file() {
                            let _ = write!(
                                html,
                                "<img src=\"{0}\" alt=\"{1}\">",
                                html_escape(img),
                                html_escape(f.title)
                            );
                        }
                    }
                    let _ = write!(html, "{}<pre>{}</pre>", m.table, html_escape(&m.command));
                    let _ = m.seconds;
                }
                Err(e) => {
                    failures.push(format!("{}: {}", f.id, e.message));
                    let _ = write!(
                        html,
                        "<p class=\"err\">This figure failed: {}</p>",
                        html_escape(&e.message)
                    );
                }
            }
            html.push_str("</figure>");
        }
    }
    let _ = writeln!(
        html,
        "<p><small>Generated in {:.1} s.</small></p></body></html>",
        started.elapsed().as_secs_f64()
    );
    let index = out.join("index.html");
    std::fs::write(&index, html)
        .map_err(|e| CliError::io(format!("writing {}", index.display()), e))?;
    {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        for f in &failures {
            let _ = writeln!(err, "warning: figure {}", crate::cli_error::one_line(f));
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", index.display())
            .and_then(|_| out.flush())
            .map_err(|e| CliError::io("writing to stdout", e))?;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError {
            code: crate::cli_error::EXIT_IO,
            message: format!(
                "{} of {} figures failed (see above); the report was written anyway",
                failures.len(),
                figs.len()
            ),
        })
    }
}
