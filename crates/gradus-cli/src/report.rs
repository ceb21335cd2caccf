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

mod claims;
mod figures;

use figures::{FigureRow, FIGURES, SECTIONS};

/// The plot flags whose file argument is written into the report's directory.
const PLOT_FLAGS: &[&str] = &[
    "--plot",
    "--plot-loss",
    "--plot-fit",
    "--plot-evals",
    "--plot-accuracy",
    "--animate",
];

/// Splits a figure's command into arguments as a POSIX shell would (words separated by
/// blanks, single quotes keeping blanks), choosing `{full|quick}` numbers by `quick`.
fn command_words(command: &str, quick: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in command.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
        .into_iter()
        .map(|w| match (w.find('{'), w.find('|'), w.find('}')) {
            (Some(a), Some(b), Some(c)) if a < b && b < c => {
                let pick = if quick { &w[b + 1..c] } else { &w[a + 1..b] };
                format!("{}{pick}{}", &w[..a], &w[c + 1..])
            }
            _ => w,
        })
        .collect()
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
    /// What each image drew (still images and the last frame of animations).
    drawings: Vec<(String, gradus_plot::Drawing)>,
    /// The claims checked: what the runs show, or why a claim is false.
    claims: Vec<Result<String, String>>,
    /// The methods the figure uses.
    methods: Vec<&'static figures::Method>,
    /// A sweep's best learning rate for each of its optimizers, in order (`None`: every
    /// lr diverged); empty for other figures.
    best_lrs: Vec<Option<f64>>,
    /// The optimizer spec of each run, in order (comparisons only).
    optimizers: Vec<String>,
}

fn run_figure(fig: &FigureRow, out: &Path, quick: bool) -> Result<Made, CliError> {
    let words = command_words(fig.command, quick);
    let mut shown = vec!["gradus".to_string()];
    shown.extend(words.iter().cloned());
    let mut real = shown.clone();
    let mut images = Vec::new();
    for i in 1..real.len() {
        if PLOT_FLAGS.contains(&shown[i - 1].as_str()) {
            images.push(shown[i].clone());
            real[i] = out.join(&shown[i]).to_string_lossy().into_owned();
        }
    }
    let command = shown
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let file_name = |p: &Path| {
        p.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let methods = figures::methods_of(&words);
    let made = match words.first().map(String::as_str) {
        Some("schedules") => {
            let parsed = crate::ReportCli::parse_schedules(&real)?;
            let all = crate::schedules::lrs(&parsed)?;
            let mut drawings = Vec::new();
            if let Some(path) = &parsed.plot {
                let series: Vec<(&str, &[f64])> = all
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_slice()))
                    .collect();
                let d = gradus_plot::schedule_chart(
                    path,
                    "Learning-rate schedules",
                    &series,
                    gradus_plot::Size::default(),
                )
                .map_err(|e| CliError::usage(e.to_string()))?;
                drawings.push((file_name(path), d));
            }
            Made {
                command,
                table: schedule_table(&all),
                images,
                drawings,
                claims: Vec::new(),
                methods,
                best_lrs: Vec::new(),
                optimizers: Vec::new(),
            }
        }
        Some("sweep") => {
            let parsed = crate::ReportCli::parse_sweep(&real)?;
            let sweep = crate::sweep::execute(&parsed)?;
            let measure = crate::sweep::measure(&sweep.curves);
            let mut drawings = Vec::new();
            if let Some(path) = &parsed.plot {
                let d = crate::sweep::draw(path, fig.title, &sweep.curves, measure)?;
                drawings.push((file_name(path), d));
            }
            let mut table = html_table(&crate::sweep::best_table(
                &sweep.curves,
                measure,
                parsed.tol,
            ));
            table.push_str(&html_table(&crate::sweep::grid_table(
                &sweep.curves,
                measure,
            )));
            if !sweep.skipped.is_empty() {
                table.push_str("<p>Not applicable here:</p><ul>");
                for (name, why) in &sweep.skipped {
                    let _ = write!(
                        table,
                        "<li><code>{}</code>: {}</li>",
                        html_escape(name),
                        html_escape(why)
                    );
                }
                table.push_str("</ul>");
            }
            let best_lrs = sweep
                .curves
                .iter()
                .map(|c| c.best(measure).map(|b| b.lr))
                .collect();
            Made {
                command,
                table,
                images,
                drawings,
                claims: Vec::new(),
                methods,
                best_lrs,
                optimizers: Vec::new(),
            }
        }
        _ => {
            let parsed: CompareArgs = crate::ReportCli::parse_compare(&real)?;
            let (specs, results) = crate::compare::execute(&parsed)?;
            let drawings = crate::plots::draw(&parsed.plots, &specs, &results)?
                .into_iter()
                .map(|(p, d)| (file_name(&p), d))
                .collect();
            Made {
                optimizers: results.iter().map(|r| r.optimizer.clone()).collect(),
                command,
                table: results_table(&results, parsed.tol),
                images,
                drawings,
                claims: fig
                    .claims
                    .iter()
                    .map(|c| claims::check(c, &results))
                    .collect(),
                methods,
                best_lrs: Vec::new(),
            }
        }
    };
    Ok(made)
}

/// Checks a [`figures::LR_PICKS`] entry: that the runs of `fig` use the best learning
/// rates of `sweep`, in order. Compares the lrs to three significant digits, as the
/// commands write them.
fn check_lr_picks(runs: &[String], best_lrs: &[Option<f64>]) -> Result<String, String> {
    if runs.len() != best_lrs.len() {
        return Err(format!(
            "{} runs against {} swept optimizers",
            runs.len(),
            best_lrs.len()
        ));
    }
    let mut said = Vec::new();
    let mut ok = true;
    for (spec, best) in runs.iter().zip(best_lrs) {
        let used = gradus::spec::parse(spec)
            .ok()
            .and_then(|c| crate::sweep::lr_of(&c));
        let same = matches!((used, best), (Some(u), Some(b)) if (u - b).abs() <= 5e-3 * b);
        ok &= same;
        said.push(format!(
            "{spec}: lr {} (the sweep's best: {})",
            used.map_or("?".into(), crate::output::human),
            best.map_or("none".into(), crate::output::human)
        ));
    }
    let text = format!(
        "each run uses its optimizer's best lr of the sweep above: {}",
        said.join("; ")
    );
    if ok {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The claims of every figure: its own, and the [`figures::LR_PICKS`] check of the
/// figures whose learning rates come from a sweep.
fn all_claims(made: &[Result<Made, CliError>]) -> Vec<Vec<Result<String, String>>> {
    let mut all: Vec<Vec<Result<String, String>>> = made
        .iter()
        .map(|m| m.as_ref().map(|m| m.claims.clone()).unwrap_or_default())
        .collect();
    let index = |id: &str| FIGURES.iter().position(|f| f.id == id);
    for (fig, sweep) in figures::LR_PICKS {
        let (Some(i), Some(j)) = (index(fig), index(sweep)) else {
            continue;
        };
        if let (Some(Ok(f)), Some(Ok(s))) = (made.get(i), made.get(j)) {
            all[i].push(check_lr_picks(&f.optimizers, &s.best_lrs));
        }
    }
    all
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
    html_table(&crate::compare::table(results, tol, true))
}

/// Rows as an HTML table: the first row the header, the first column code.
fn html_table(rows: &[Vec<String>]) -> String {
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

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#222;line-height:1.45}\
.page{display:grid;grid-template-columns:250px minmax(0,1fr);gap:2em;max-width:1480px;margin:0 auto;padding:0 1em}\
nav.toc{position:sticky;top:0;align-self:start;max-height:100vh;overflow-y:auto;padding:1em 0;font-size:.9em}\
nav.toc ul{list-style:none;padding-left:0;margin:.2em 0}nav.toc ul ul{padding-left:1em;font-size:.95em}nav.toc li{margin:.15em 0}\
nav.toc a{text-decoration:none;color:#0550ae}nav.toc a:hover{text-decoration:underline}\
main{min-width:0;padding-bottom:3em}h1{margin:.8em 0 .2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
.source{color:#555;font-style:italic}figure{margin:1.5em 0 2.5em}\
.fig{display:grid;grid-template-columns:minmax(0,3fr) minmax(210px,1fr);gap:1em;align-items:start}\
.images img{display:block;width:100%;max-width:900px;height:auto;border:1px solid #ddd;margin-bottom:.6em}\
aside.rules{font-size:.86em;background:#f7f7f4;border:1px solid #e2e2dc;padding:.5em .8em}aside.rules h4{margin:.2em 0 .4em}\
aside.rules dt{font-weight:600;margin-top:.5em}aside.rules dd{margin:0}aside.rules .paper{color:#555}\
ul.claims{font-size:.92em;padding-left:1.2em}ul.claims li.bad{color:#b00}\
pre{background:#f5f5f5;padding:.6em;overflow-x:auto;white-space:pre-wrap;overflow-wrap:break-word;word-break:normal}\
table{border-collapse:collapse;margin:.6em 0;font-size:.92em;display:block;overflow-x:auto}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
td:first-child,th:first-child{text-align:left}.err{color:#b00}a.top{font-size:.85em}\
@media (max-width:900px){.page{grid-template-columns:1fr}nav.toc{position:static;max-height:none;border-bottom:1px solid #ccc}nav.toc ul ul{display:none}.fig{grid-template-columns:1fr}}";

/// The update rules and papers of `methods`, as an aside.
fn rules_html(methods: &[&figures::Method]) -> String {
    if methods.is_empty() {
        return String::new();
    }
    let mut h = String::from("<aside class=\"rules\"><h4>Update rules</h4><dl>");
    for m in methods {
        let _ = write!(
            h,
            "<dt>{}</dt><dd>{}</dd><dd class=\"paper\">{}</dd>",
            m.title,
            html_escape(m.rule),
            m.paper
        );
    }
    h.push_str("</dl></aside>");
    h
}

/// Entry point of `gradus report`.
pub fn main(args: ReportArgs) -> Result<(), CliError> {
    let out = &args.out;
    std::fs::create_dir_all(out)
        .map_err(|e| CliError::io(format!("creating {}", out.display()), e))?;
    let started = Instant::now();
    let bar = indicatif::ProgressBar::new(FIGURES.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let made: Vec<Result<Made, CliError>> = FIGURES
        .par_iter()
        .map(|f| {
            let r = run_figure(f, out, args.quick);
            bar.inc(1);
            bar.set_message(f.id);
            r
        })
        .collect();
    bar.finish_and_clear();
    let (html, failures, warnings) = page(&made, args.quick, started.elapsed().as_secs_f64());
    let index = out.join("index.html");
    std::fs::write(&index, html)
        .map_err(|e| CliError::io(format!("writing {}", index.display()), e))?;
    {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        for w in &warnings {
            let _ = writeln!(err, "warning: {}", crate::cli_error::one_line(w));
        }
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
                FIGURES.len()
            ),
        })
    }
}

/// The HTML page for the figures' results (in [`FIGURES`] order), the figures that
/// failed, and warnings: claims the runs contradict and drawing faults.
fn page(
    made: &[Result<Made, CliError>],
    quick: bool,
    seconds: f64,
) -> (String, Vec<String>, Vec<String>) {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>gradus report</title><style>{STYLE}</style></head><body><div class=\"page\">\
         <nav class=\"toc\" aria-label=\"Contents\"><strong>Contents</strong><ul>"
    );
    for sec in SECTIONS {
        let _ = write!(
            html,
            "<li><a href=\"#{}\">{}</a><ul>",
            sec.id,
            html_escape(sec.title)
        );
        for f in FIGURES.iter().filter(|f| f.section == sec.id) {
            let _ = write!(
                html,
                "<li><a href=\"#fig-{}\">{}</a></li>",
                f.id,
                html_escape(f.title)
            );
        }
        html.push_str("</ul></li>");
    }
    html.push_str("<li><a href=\"#sec-next\">Try it yourself</a></li></ul></nav><main>");
    let _ =
        write!(
        html,
        "<h1 id=\"top\">gradus report</h1><p>Every experiment of the four tutorials gradus grew \
         from (named in each section), run with gradus {} ({}). Each figure shows the update \
         rules and papers of the optimizers in it, the table of its runs, and the exact \
         command that reproduces it.{}</p>",
        env!("CARGO_PKG_VERSION"),
        if quick { "quick mode: fewer steps" } else { "full" },
        if quick {
            " The figure texts describe the full runs; the claims they make are checked only \
             in the full report."
        } else {
            " What a figure's text says about its runs is checked against them; the checks \
             are listed under each figure."
        }
    );
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let claims = all_claims(made);
    for sec in SECTIONS {
        let _ = write!(
            html,
            "<section id=\"{}\"><h2>{}</h2><p class=\"source\">{}</p>",
            sec.id,
            html_escape(sec.title),
            sec.source
        );
        for ((f, m), claims) in FIGURES
            .iter()
            .zip(made)
            .zip(&claims)
            .filter(|((f, _), _)| f.section == sec.id)
        {
            let _ = write!(
                html,
                "<figure id=\"fig-{}\"><h3>{}</h3><p>{}</p>",
                f.id,
                html_escape(f.title),
                f.text
            );
            match m {
                Ok(m) => {
                    html.push_str("<div class=\"fig\"><div class=\"images\">");
                    for (k, img) in m.images.iter().enumerate() {
                        let alt = f.alts.get(k).copied().unwrap_or(f.title);
                        // A link to the image itself: on a phone the figure is a third of
                        // its size, and the full image is one tap away.
                        let _ = write!(
                            html,
                            "<a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\" width=\"900\" height=\"600\" loading=\"lazy\"></a>",
                            html_escape(img),
                            html_escape(alt)
                        );
                    }
                    html.push_str("</div>");
                    html.push_str(&rules_html(&m.methods));
                    html.push_str("</div>");
                    if !quick && !claims.is_empty() {
                        html.push_str("<p>Checked against the runs:</p><ul class=\"claims\">");
                        for c in claims {
                            match c {
                                Ok(t) => {
                                    let _ = write!(html, "<li>✓ {}</li>", html_escape(t));
                                }
                                Err(t) => {
                                    warnings.push(format!("{}: claim does not hold: {t}", f.id));
                                    let _ = write!(
                                        html,
                                        "<li class=\"bad\">✗ not so: {}</li>",
                                        html_escape(t)
                                    );
                                }
                            }
                        }
                        html.push_str("</ul>");
                    }
                    for (file, d) in &m.drawings {
                        for fault in d.faults() {
                            warnings.push(format!("{}: {file}: {fault}", f.id));
                        }
                    }
                    let _ = write!(html, "{}<pre>{}</pre>", m.table, html_escape(&m.command));
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
            html.push_str("<a class=\"top\" href=\"#top\">↑ back to the top</a></figure>");
        }
        html.push_str("</section>");
    }
    html.push_str(
        "<section id=\"sec-next\"><h2>Try it yourself</h2><p>Every figure's command runs on \
         its own: change an lr, add an <code>--optimizer</code>, or point \
         <code>--problem linreg --data FILE.csv</code> at your own data. \
         <code>gradus list</code> names every problem, optimizer and schedule, and \
         <code>gradus list adam</code> an optimizer's hyperparameters. For the interactive \
         version of this page, with the settings as sliders and the runs redrawn as you \
         move them, run <code>gradus serve</code>.</p></section>",
    );
    let _ = writeln!(
        html,
        "<p><small>Generated in {seconds:.1} s.</small></p></main></div></body></html>"
    );
    (html, failures, warnings)
}

#[cfg(test)]
mod tests;
