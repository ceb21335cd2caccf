//! `gradus schedules`: learning rates of one or more schedules over the steps.

use crate::cli_error::CliError;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `gradus schedules`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchedulesArgs {
    /// Schedule specs (repeat the flag), e.g. `--schedule step(30) --schedule cosine_annealing(t_max=100)`.
    #[arg(long = "schedule", value_name = "SPEC", required = true)]
    pub schedules: Vec<String>,
    /// The optimizer's learning rate the schedules scale.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    pub lr: f64,
    /// The optimizer's momentum (or β1), for `one_cycle`'s momentum cycling.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.9)]
    pub momentum: f64,
    /// Number of updates.
    #[arg(long, allow_negative_numbers = true, default_value_t = 100)]
    pub steps: usize,
    /// Draw the learning rates (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Print the lr of every N-th update (default: about ten rows).
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub every: Option<usize>,
}

/// The learning rates of each schedule, named by its spec as the user wrote it (the
/// expanded spec, with every default, runs to hundreds of characters for `one_cycle`).
pub fn lrs(args: &SchedulesArgs) -> Result<Vec<(String, Vec<f64>)>, CliError> {
    if !(args.lr.is_finite() && args.lr >= 0.0) {
        return Err(CliError::usage(format!(
            "--lr {} is invalid: expected a finite number >= 0",
            args.lr
        )));
    }
    if args.steps == 0 || args.steps > 10_000_000 {
        return Err(CliError::usage(format!(
            "--steps {} is invalid: expected 1 to 10000000",
            args.steps
        )));
    }
    args.schedules
        .iter()
        .map(|spec| {
            let s = gradus::schedule::build(spec, args.lr, Some(args.momentum))?;
            Ok((
                spec.trim().to_string(),
                gradus::schedule::lrs(s.as_ref(), args.steps),
            ))
        })
        .collect()
}

/// Short column headers: each schedule's name (the spec up to its arguments), numbered
/// when two columns would share one.
pub fn column_headers(all: &[(String, Vec<f64>)]) -> Vec<String> {
    let names: Vec<&str> = all
        .iter()
        .map(|(spec, _)| spec.split('(').next().unwrap_or(spec).trim())
        .collect();
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if names.iter().filter(|m| *m == n).count() > 1 {
                let k = names[..=i].iter().filter(|m| *m == n).count();
                format!("{n}#{k}")
            } else {
                n.to_string()
            }
        })
        .collect()
}

/// Entry point of `gradus schedules`.
pub fn main(args: SchedulesArgs) -> Result<(), CliError> {
    let all = lrs(&args)?;
    let every = args.every.unwrap_or((args.steps / 10).max(1)).max(1);
    let headers = column_headers(&all);
    let mut out = std::io::stdout().lock();
    let res = (|| -> std::io::Result<()> {
        // A key from column header to spec, then the table with short headers.
        if headers.iter().zip(&all).any(|(h, (spec, _))| h != spec) {
            for (h, (spec, _)) in headers.iter().zip(&all) {
                writeln!(out, "{h}: {spec}")?;
            }
            writeln!(out)?;
        }
        write!(out, "{:>6}", "step")?;
        let widths: Vec<usize> = headers.iter().map(|h| h.chars().count().max(12)).collect();
        for (h, w) in headers.iter().zip(&widths) {
            write!(out, "  {h:>w$}")?;
        }
        writeln!(out)?;
        for k in (0..args.steps).filter(|k| k % every == 0 || *k + 1 == args.steps) {
            write!(out, "{k:>6}")?;
            for ((_, v), w) in all.iter().zip(&widths) {
                write!(out, "  {:>w$}", format!("{:.6e}", v[k]))?;
            }
            writeln!(out)?;
        }
        Ok(())
    })();
    res.map_err(|e| CliError::io("writing to stdout", e))?;
    if let Some(path) = &args.plot {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_headers_are_schedule_names_numbered_when_repeated() {
        let all = vec![
            ("one_cycle(max_lr=0.1, total_steps=100)".to_string(), vec![]),
            ("step(step_size=30)".to_string(), vec![]),
            ("step(step_size=10)".to_string(), vec![]),
        ];
        assert_eq!(column_headers(&all), vec!["one_cycle", "step#1", "step#2"]);
    }
}
